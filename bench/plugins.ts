/**
 * Plugin dispatch speed: round trip (1 in flight) and throughput (64 in
 * flight) through PluginHost.dispatch to a Worker plugin, a process plugin
 * and an in-process plugin, next to a raw Worker postMessage echo of the
 * same payload, all in this run.
 *
 * Target (issue #5): Worker plugin RTT <= 1.3x the raw Worker round trip.
 *
 * Run: deno run --allow-all bench/plugins.ts [--quick]
 * (Worker isolation needs `"unstable": ["worker-options"]` in deno.json or
 * --unstable-worker-options.)
 *
 * @module
 */
import { PluginHost } from "../plugins/runtime/host.ts";

const QUICK = Deno.args.includes("--quick");
const RTT_N = QUICK ? 2_000 : 10_000;
const TPUT_N = QUICK ? 20_000 : 100_000;
const PAYLOAD = { id: 1, data: new Uint8Array(64).fill(7), text: "hello plugin" };
const PEER = { sessionId: 1, keyId: 1, tier: 3, remote: "bench" };

interface Row {
  readonly name: string;
  readonly rttUs: number;
  readonly p99Us: number;
  readonly tput1: number;
  readonly tput64: number;
}

async function measure(name: string, call: () => Promise<unknown>): Promise<Row> {
  for (let i = 0; i < 500; i++) await call(); // warm up JIT on both sides
  const lat = new Float64Array(RTT_N);
  const t0 = performance.now();
  for (let i = 0; i < RTT_N; i++) {
    const s = performance.now();
    await call();
    lat[i] = performance.now() - s;
  }
  const t1 = performance.now();
  const sorted = Array.from(lat).sort((a, b) => a - b);
  let next = 0;
  const t2 = performance.now();
  await Promise.all(Array.from({ length: 64 }, async () => {
    while (next++ < TPUT_N) await call();
  }));
  const t3 = performance.now();
  return {
    name,
    rttUs: sorted[Math.floor(RTT_N / 2)] * 1000,
    p99Us: sorted[Math.floor(RTT_N * 0.99)] * 1000,
    tput1: RTT_N / ((t1 - t0) / 1000),
    tput64: TPUT_N / ((t3 - t2) / 1000),
  };
}

/** Median RTTs in us of two paths, called alternately one call at a time. */
async function rttPairP50(
  a: () => Promise<unknown>,
  b: () => Promise<unknown>,
): Promise<[number, number]> {
  const n = QUICK ? 300 : 1000;
  const la = new Float64Array(n);
  const lb = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let s = performance.now();
    await a();
    la[i] = performance.now() - s;
    s = performance.now();
    await b();
    lb[i] = performance.now() - s;
  }
  const med = (x: Float64Array) => Array.from(x).sort((p, q) => p - q)[n >> 1] * 1000;
  return [med(la), med(lb)];
}

async function rawWorker(
  permissioned = false,
): Promise<{ row: Row; call: () => Promise<unknown>; stop: () => void }> {
  const src = `self.onmessage = (e) => self.postMessage(e.data);`;
  const url = URL.createObjectURL(new Blob([src], { type: "application/javascript" }));
  const w = new Worker(
    url,
    (permissioned
      ? { type: "module", deno: { permissions: "none" } }
      : { type: "module" }) as WorkerOptions,
  );
  // Same bookkeeping a host needs at minimum: an id -> resolver map.
  const pending = new Map<number, (v: unknown) => void>();
  let id = 0;
  w.onmessage = (e: MessageEvent<{ id: number; payload: unknown }>) => {
    const r = pending.get(e.data.id);
    pending.delete(e.data.id);
    r?.(e.data.payload);
  };
  const call = () =>
    new Promise((res) => {
      const i = ++id;
      pending.set(i, res);
      w.postMessage({ id: i, payload: PAYLOAD });
    });
  const row = permissioned
    ? { name: "control", rttUs: 0, p99Us: 0, tput1: 0, tput64: 0 }
    : await measure("raw Worker postMessage echo", call);
  return { row, call, stop: () => w.terminate() };
}

const PLUGIN_SRC = `export default { handlers: { [0xF100]: (p) => p } };`;

async function main(): Promise<void> {
  const root = await Deno.makeTempDir({ prefix: "myclerk-bench-" });
  const rows: Row[] = [];
  const starts: string[] = [];
  const rttRounds: number[] = [];
  const controlRounds: number[] = [];
  let host: PluginHost | undefined;
  try {
    const pluginsDir = `${root}/data/plugins`;
    for (
      const [name, isolation, first] of [["w", "worker", 0xf100], ["p", "process", 0xf200], [
        "i",
        "process",
        0xf300,
      ]] as const
    ) {
      await Deno.mkdir(`${pluginsDir}/bench-${name}`, { recursive: true });
      await Deno.writeTextFile(
        `${pluginsDir}/bench-${name}/plugin.json`,
        JSON.stringify({
          name: `bench-${name}`,
          version: "1.0.0",
          hostApi: "^1",
          entry: "mod.js",
          isolation,
          ranges: [{ first, last: first + 15 }],
          limits: { queue: 1024 },
        }),
      );
      await Deno.writeTextFile(
        `${pluginsDir}/bench-${name}/mod.js`,
        PLUGIN_SRC.replace("0xF100", `0x${first.toString(16)}`),
      );
    }
    await Deno.writeTextFile(
      `${root}/policy.json`,
      JSON.stringify({
        version: 1,
        default: { isolation: ["worker", "process"], trusted: true },
        plugins: { "bench-i": { isolation: ["inproc"], trusted: true } },
      }),
    );
    host = await PluginHost.start({
      pluginsDir,
      policyFile: `${root}/policy.json`,
      dataDir: `${root}/data`,
      busRoot: root,
    });
    for (const s of host.list()) {
      if (s.state !== "running") throw new Error(`${s.name}: ${s.state} ${s.reason ?? ""}`);
    }
    const h = host;
    const raw = await rawWorker();
    rows.push(raw.row);
    const viaHost = () => h.dispatch({ opcode: 0xf100, tier: 1, payload: PAYLOAD, peer: PEER });
    rows.push(await measure("host -> Worker plugin", viaHost));
    // Thread wake-ups on 2 cores make single-path runs bimodal (~20 or ~80 us
    // depending on where the scheduler puts the threads), so each round
    // alternates the two paths call by call: both see the same scheduler state.
    // Control: a second bare Worker (with `deno.permissions`, like a plugin's)
    // against the same raw echo, in the same kind of rounds. Any ratio it
    // shows is scheduler noise, not plugin code.
    const control = await rawWorker(true);
    for (let i = 0; i < 7; i++) {
      const [a, b] = await rttPairP50(viaHost, raw.call);
      const [c2, d2] = await rttPairP50(control.call, raw.call);
      if (Deno.env.get("BENCH_DEBUG")) {
        console.error(
          `round ${i}: plugin ${a.toFixed(1)} us, raw ${b.toFixed(1)} us; control ${
            c2.toFixed(1)
          } vs ${d2.toFixed(1)} us`,
        );
      }
      rttRounds.push(a / b);
      controlRounds.push(c2 / d2);
    }
    control.stop();
    raw.stop();
    rows.push(
      await measure(
        "host -> process plugin",
        () => h.dispatch({ opcode: 0xf200, tier: 1, payload: PAYLOAD, peer: PEER }),
      ),
    );
    rows.push(
      await measure(
        "host -> in-process plugin",
        () => h.dispatch({ opcode: 0xf300, tier: 1, payload: PAYLOAD, peer: PEER }),
      ),
    );
    // Start cost: a blue/green reload = start a new instance, wait for ready, health-check, switch, drain.
    for (const [name, label] of [["bench-w", "Worker"], ["bench-p", "process"]] as const) {
      const t: number[] = [];
      for (let i = 0; i < (QUICK ? 3 : 7); i++) {
        const s = performance.now();
        await h.reload(name);
        t.push(performance.now() - s);
      }
      t.sort((a, b) => a - b);
      starts.push(
        `${label} plugin start (reload: start + ready + health check + drain 50 ms), median of ${t.length}: ${
          t[t.length >> 1].toFixed(1)
        } ms`,
      );
    }
  } finally {
    await host?.close();
    await Deno.remove(root, { recursive: true }).catch(() => {});
  }
  const base = rows[0];
  console.log(
    `plugin dispatch, payload { id, 64-byte bin, 12-char text }, ${QUICK ? "quick" : "full"} run`,
  );
  console.log(
    "| path | RTT p50 us | RTT p99 us | RTT vs raw | req/s 1 in flight | req/s 64 in flight | 64-in-flight vs raw |",
  );
  console.log("|---|---:|---:|---:|---:|---:|---:|");
  for (const r of rows) {
    console.log(
      `| ${r.name} | ${r.rttUs.toFixed(1)} | ${r.p99Us.toFixed(1)} | ${
        (r.rttUs / base.rttUs).toFixed(2)
      }x | ${Math.round(r.tput1)} | ${Math.round(r.tput64)} | ${
        (r.tput64 / base.tput64).toFixed(2)
      }x |`,
    );
  }
  for (const l of starts) console.log(l);
  // RTT on 2 cores is dominated by thread wake-ups and drifts between runs:
  // the target uses rounds that alternate raw and plugin call by call, and
  // the median of the rounds' ratios.
  const ratio = rttRounds.sort((x, y) => x - y)[rttRounds.length >> 1];
  console.log(`RTT ratio per alternating round: ${rttRounds.map((r) => r.toFixed(2)).join(" ")}`);
  console.log(
    `control (bare permissioned Worker vs bare Worker, same rounds): ${
      controlRounds.sort((x, y) => x - y).map((r) => r.toFixed(2)).join(" ")
    } — ratios well above 1 here are thread-scheduling noise on this machine, not plugin overhead`,
  );
  console.log(
    `target: Worker plugin RTT <= 1.3x raw Worker echo: ${ratio.toFixed(2)}x ${
      ratio <= 1.3 ? "PASS" : "FAIL"
    }`,
  );
}

await main();
