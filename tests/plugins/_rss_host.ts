/**
 * A fresh node-side process for memory measurements (run by
 * hostile_test.ts): starts a PluginHost on the given folders, takes a
 * baseline RSS after a full GC, sends one request, samples RSS every 10 ms
 * until the request is answered and `settle` (a status check) holds, and
 * prints one JSON line: `{ baseline, peak, result, status }`.
 *
 * Usage: deno run -A --v8-flags=--expose-gc _rss_host.ts '{"pluginsDir":...,"opcode":...}'
 *
 * @module
 */
import { PluginHost } from "../../plugins/runtime/host.ts";

interface Args {
  readonly pluginsDir: string;
  readonly policyFile: string;
  readonly dataDir: string;
  readonly plugin: string;
  readonly opcode: number;
  /** Wait after the answer until the plugin has restarted this many times (0: no wait). */
  readonly restarts: number;
  /** Wait after the answer until this many output bytes were dropped (0: no wait). */
  readonly droppedBytes: number;
  readonly timeoutMs: number;
}

const a = JSON.parse(Deno.args[0]) as Args;
const gc = (globalThis as { gc?: () => void }).gc;
const host = await PluginHost.start({
  pluginsDir: a.pluginsDir,
  policyFile: a.policyFile,
  dataDir: a.dataDir,
  busRoot: `${a.dataDir}/no-buses`,
  restartBaseMs: 50,
});
const row = () => host.list().find((s) => s.name === a.plugin)!;
// Warm the path once so the baseline includes what a normal request costs.
gc?.();
await new Promise((r) => setTimeout(r, 100));
gc?.();
const baseline = Deno.memoryUsage().rss;
let peak = baseline;
const sampler = setInterval(() => {
  peak = Math.max(peak, Deno.memoryUsage().rss);
}, 10);
const peer = { sessionId: 1, keyId: 1, tier: 3, remote: "rss" };
const result = await host.dispatch({ opcode: a.opcode, tier: 3, payload: {}, peer });
const end = performance.now() + a.timeoutMs;
while (performance.now() < end) {
  const r = row();
  const restarted = r.metrics.restarts >= a.restarts && (a.restarts === 0 || r.state === "running");
  if (restarted && r.metrics.outputDroppedBytes >= a.droppedBytes) break;
  await new Promise((r) => setTimeout(r, 20));
}
peak = Math.max(peak, Deno.memoryUsage().rss);
clearInterval(sampler);
const status = row();
// A second request shows the plugin serves again after whatever happened.
const after = await host.dispatch({ opcode: a.opcode + 1, tier: 3, payload: {}, peer });
await host.close();
console.log(JSON.stringify({
  baseline,
  peak,
  result: result.ok
    ? { ok: true }
    : { ok: false, code: result.error.code, detail: result.error.detail },
  after: after.ok ? after.payload : { code: after.error.code, detail: after.error.detail },
  status: { state: status.state, isolation: status.isolation, metrics: status.metrics },
  logs: host.logs(a.plugin, 20),
}));
