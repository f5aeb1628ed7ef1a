/**
 * Container HEALTHCHECK: exits 0 when the node's `/healthz` answers
 * `status: ok` within 3 s, 1 otherwise. Address: MYCLERK_HEALTH_URL, default
 * http://127.0.0.1:8080/healthz.
 *
 * @module
 */
const url = Deno.env.get("MYCLERK_HEALTH_URL") ?? "http://127.0.0.1:8080/healthz";
try {
  const r = await fetch(url, { signal: AbortSignal.timeout(3000) });
  const j = await r.json() as { status?: string };
  if (r.status === 200 && j.status === "ok") Deno.exit(0);
  console.error(`unhealthy: HTTP ${r.status}, status ${j.status}`);
} catch (e) {
  console.error(`unhealthy: ${e instanceof Error ? e.message : e}`);
}
Deno.exit(1);
