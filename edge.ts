/**
 * The edge relay entry (docs/OPERATOR.md "Edge relay"):
 *
 * ```sh
 * deno run --unstable-kv --allow-net --allow-env edge.ts
 * ```
 *
 * A relay on Deno KV behind `Deno.serve` (WebSocket `/myclerk`, `/healthz`,
 * `/metrics`, bearer-protected `/edge/invite` and `/edge/status`); stops
 * gracefully on SIGINT/SIGTERM where the host delivers signals.
 *
 * @module
 */

import { startEdge } from "./federation/edge/mod.ts";
import { errorName, isMyClerkError } from "./core/errors.ts";

if (import.meta.main) {
  let edge;
  try {
    edge = await startEdge();
  } catch (e) {
    const detail = isMyClerkError(e)
      ? { error: errorName(e.code), detail: e.detail, ...e.extra }
      : { error: String(e) };
    console.error(JSON.stringify({ level: "error", msg: "edge relay failed to start", ...detail }));
    Deno.exit(1);
  }
  const stop = async () => {
    await edge.stop().catch(() => {});
    Deno.exit(0);
  };
  for (const sig of ["SIGINT", "SIGTERM"] as const) {
    try {
      Deno.addSignalListener(sig, stop);
    } catch { /* an isolate without signals: the host stops it */ }
  }
}
