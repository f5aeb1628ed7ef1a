/**
 * Supervision with real Workers and processes: crash (INTERNAL_ERROR to what
 * was in flight, restart with backoff), deadline (TIMEOUT), bounded queue
 * (SERVICE_UNAVAILABLE), endless loop and unbounded memory stopped by the
 * watchdog, fail-closed policy, while another plugin keeps serving.
 */
import { ErrorCode } from "../../core/errors.ts";
import type { PluginHost } from "../../plugins/runtime/host.ts";
import {
  assert,
  assertEq,
  dropWorld,
  makeWorld,
  PEER,
  startHost,
  until,
  type World,
  writePlugin,
  writePolicy,
} from "./_helpers.ts";

const BAD_SRC = `
const leak = [];
export default { handlers: {
  [0xF400]: (p) => ({ pong: p }),
  [0xF401]: (p) => new Promise((r) => setTimeout(() => r({ slow: true }), p.ms)),
  [0xF402]: () => { setTimeout(() => { throw new Error("boom"); }, 5); return new Promise(() => {}); },
  [0xF403]: () => new Promise(() => {}),
  [0xF404]: () => { for (;;) { /* spin */ } },
  [0xF405]: () => { for (;;) leak.push(new Array(1 << 20).fill(Math.random())); },
  [0xF406]: async () => { for (;;) { leak.push(new Array(1 << 18).fill(1.5)); await new Promise((r) => setTimeout(r, 1)); } },
} };
`;
const GOOD_SRC = `export default { handlers: { [0xF500]: (p) => ({ ok: p }) } };`;

interface Opts {
  readonly isolation: "worker" | "process";
  readonly limits?: Record<string, number>;
  readonly failure?: string;
}

async function withHost(o: Opts, fn: (h: PluginHost, w: World) => Promise<void>): Promise<void> {
  const w = await makeWorld();
  await writePlugin(w, {
    name: "bad",
    version: "1.0.0",
    hostApi: "^1",
    isolation: o.isolation,
    ranges: [{ first: "0xF400", last: "0xF40F" }],
    limits: { timeoutMs: 5000, heartbeatMs: 400, memoryMb: 64, queue: 8, ...o.limits },
    failure: o.failure ?? "restart",
  }, BAD_SRC);
  await writePlugin(w, {
    name: "good",
    version: "1.0.0",
    hostApi: "^1",
    isolation: "worker",
    ranges: [{ first: "0xF500", last: "0xF50F" }],
  }, GOOD_SRC);
  // Worker mode is for trusted plugins only (no per-Worker heap cap).
  await writePolicy(w, { default: { isolation: ["worker", "process"], trusted: true } });
  const host = await startHost(w);
  try {
    for (const s of host.list()) assertEq(s.state, "running", `${s.name} (${s.reason})`);
    await fn(host, w);
  } finally {
    await host.close();
    await dropWorld(w);
  }
}

const call = (h: PluginHost, opcode: number, payload: unknown = {}) =>
  h.dispatch({ opcode, tier: 1, payload, peer: PEER });
const status = (h: PluginHost, name: string) => h.list().find((s) => s.name === name)!;

async function goodStillServes(h: PluginHost): Promise<void> {
  assertEq(await call(h, 0xf500, 1), { ok: true, payload: { ok: 1 } }, "good plugin serves");
}

for (const isolation of ["worker", "process"] as const) {
  Deno.test(`crash: in-flight get INTERNAL_ERROR, restart with backoff (${isolation})`, async () => {
    await withHost({ isolation }, async (h) => {
      const slow = call(h, 0xf401, { ms: 3000 });
      const crash = await call(h, 0xf402);
      assert(
        !crash.ok && crash.error.code === ErrorCode.INTERNAL_ERROR,
        `crash answer ${JSON.stringify(crash)}`,
      );
      const s = await slow;
      assert(
        !s.ok && s.error.code === ErrorCode.INTERNAL_ERROR && s.error.detail === "plugin-crashed",
        "in-flight",
      );
      const down = await call(h, 0xf400, 1);
      assert(
        !down.ok && down.error.code === ErrorCode.SERVICE_UNAVAILABLE,
        "unavailable while restarting",
      );
      await goodStillServes(h);
      await until(() => status(h, "bad").state === "running", 10_000, "restart");
      assertEq(await call(h, 0xf400, 2), { ok: true, payload: { pong: 2 } });
      const st = status(h, "bad");
      assertEq(st.metrics.restarts, 1);
      assert(h.logs("bad").some((l) => l.includes("restart in")), "restart logged");
    });
  });

  Deno.test(`deadline: TIMEOUT, plugin keeps serving (${isolation})`, async () => {
    await withHost({ isolation, limits: { timeoutMs: 300 } }, async (h) => {
      const t0 = performance.now();
      const r = await call(h, 0xf403);
      assert(!r.ok && r.error.code === ErrorCode.TIMEOUT, "timeout");
      assert(performance.now() - t0 < 3000, "answered near the deadline");
      assertEq(await call(h, 0xf400, 3), { ok: true, payload: { pong: 3 } });
      assertEq(status(h, "bad").metrics.errors.TIMEOUT, 1);
      assertEq(status(h, "bad").metrics.restarts, 0);
    });
  });

  Deno.test(`overload: bounded queue answers SERVICE_UNAVAILABLE (${isolation})`, async () => {
    await withHost({ isolation, limits: { queue: 4 } }, async (h) => {
      const rs = await Promise.all(Array.from({ length: 10 }, () => call(h, 0xf401, { ms: 200 })));
      const ok = rs.filter((r) => r.ok).length;
      const full = rs.filter((r) =>
        !r.ok && r.error.code === ErrorCode.SERVICE_UNAVAILABLE && r.error.detail === "queue-full"
      );
      assertEq([ok, full.length], [4, 6], "4 served, 6 refused");
      assertEq(
        await call(h, 0xf400, 4),
        { ok: true, payload: { pong: 4 } },
        "serves after the burst",
      );
    });
  });

  Deno.test(`runaway loop: watchdog kills and restarts, node unharmed (${isolation})`, async () => {
    await withHost({ isolation, limits: { heartbeatMs: 300, timeoutMs: 20_000 } }, async (h) => {
      const t0 = performance.now();
      const spin = call(h, 0xf404);
      // While it spins, the node and the other plugin answer.
      await goodStillServes(h);
      const r = await spin;
      assert(
        !r.ok && r.error.code === ErrorCode.INTERNAL_ERROR && r.error.detail === "plugin-killed",
        JSON.stringify(r),
      );
      assert(performance.now() - t0 < 5000, "killed by the watchdog, not the deadline");
      assert(h.logs("bad").some((l) => l.includes("no heartbeat")), "watchdog logged");
      await until(() => status(h, "bad").state === "running", 10_000, "restart");
      assertEq(await call(h, 0xf400, 5), { ok: true, payload: { pong: 5 } });
    });
  });
}

Deno.test("runaway memory (tight loop) in a process plugin: child dies at its heap ceiling, node unharmed", async () => {
  await withHost(
    { isolation: "process", limits: { memoryMb: 64, timeoutMs: 20_000 } },
    async (h) => {
      const r = await call(h, 0xf405);
      assert(!r.ok && r.error.code === ErrorCode.INTERNAL_ERROR, JSON.stringify(r));
      await goodStillServes(h);
      await until(() => status(h, "bad").state === "running", 10_000, "restart");
      assertEq(await call(h, 0xf400, 6), { ok: true, payload: { pong: 6 } });
      assert(
        Deno.memoryUsage().heapUsed < 512 * 1024 * 1024,
        "the node's heap did not take the hit",
      );
    },
  );
});

Deno.test("runaway memory (yielding leak) in a worker plugin: heap watchdog kills it", async () => {
  await withHost({
    isolation: "worker",
    limits: { memoryMb: 64, heartbeatMs: 200, timeoutMs: 20_000 },
  }, async (h) => {
    const r = await call(h, 0xf406);
    assert(
      !r.ok && r.error.code === ErrorCode.INTERNAL_ERROR && r.error.detail === "plugin-killed",
      JSON.stringify(r),
    );
    assert(h.logs("bad").some((l) => l.includes("over limit")), "heap watchdog logged");
    await goodStillServes(h);
    await until(() => status(h, "bad").state === "running", 10_000, "restart");
  });
});

Deno.test("fail-closed: a crashed plugin stays down until reload", async () => {
  await withHost({ isolation: "process", failure: "fail-closed" }, async (h) => {
    await call(h, 0xf402);
    await until(() => status(h, "bad").state === "failed", 5000, "failed");
    // No window to wait out: the host decides at the crash, and a restart would be scheduled
    // (and logged "restart in N ms") right there.
    const logs = h.logs("bad");
    assert(logs.some((l) => l.includes("fail-closed: stays down until reload")), logs.join("\n"));
    assert(!logs.some((l) => l.includes("restart in")), `no restart scheduled: ${logs.join("\n")}`);
    assertEq([status(h, "bad").state, status(h, "bad").metrics.restarts], ["failed", 0]);
    const r = await call(h, 0xf400, 1);
    assert(
      !r.ok && r.error.code === ErrorCode.SERVICE_UNAVAILABLE && r.error.detail === "plugin-failed",
      "refused",
    );
    await h.reload("bad");
    assertEq(await call(h, 0xf400, 7), { ok: true, payload: { pong: 7 } });
  });
});
