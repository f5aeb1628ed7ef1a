/**
 * Blue/green reload under traffic: a steady stream of requests to a plugin
 * while its code is replaced and reloaded. Every request is answered OK by
 * the old or the new version, the switch is one step (no v1 after the first
 * v2 answer is observed... except requests already in flight on v1), and an
 * unrelated plugin sees nothing. A reload to a broken version keeps the old
 * one serving.
 */
import type { DispatchResult } from "../../plugins/runtime/host.ts";
import {
  assert,
  assertEq,
  dropWorld,
  makeWorld,
  PEER,
  startHost,
  until,
  writePlugin,
  writePolicy,
} from "./_helpers.ts";

const version = (v: number) =>
  `export default { handlers: { [0xF600]: () => new Promise((r) => setTimeout(() => r({ v: ${v} }), 15)) } };`;
const OTHER = `export default { handlers: { [0xF700]: (p) => p } };`;

for (const isolation of ["worker", "process"] as const) {
  Deno.test(`reload under traffic, blue/green (${isolation})`, async () => {
    const w = await makeWorld();
    const manifest = (v: string) => ({
      name: "ver",
      version: v,
      hostApi: "^1",
      isolation,
      ranges: [{ first: "0xF600", last: "0xF60F" }],
    });
    await writePlugin(w, manifest("1.0.0"), version(1));
    await writePlugin(w, {
      name: "other",
      version: "1.0.0",
      hostApi: "^1",
      isolation,
      ranges: [{ first: "0xF700", last: "0xF70F" }],
    }, OTHER);
    // Worker mode is for trusted plugins only (no per-Worker heap cap).
    await writePolicy(w, { default: { isolation: ["worker", "process"], trusted: true } });
    const host = await startHost(w);
    try {
      const results: DispatchResult[] = [];
      const vOf = (r: DispatchResult) => r.ok ? (r.payload as { v?: number }).v : undefined;
      let stop = false;
      let sawV2 = false;
      // Answers other than v2 to requests issued after a v2 answer was seen (the switch is one step).
      const lateV1: unknown[] = [];
      // 8 clients in a loop: always something in flight during the switch.
      const clients = Array.from({ length: 8 }, async () => {
        while (!stop) {
          const afterSwitch = sawV2;
          const r = await host.dispatch({ opcode: 0xf600, tier: 1, payload: {}, peer: PEER });
          results.push(r);
          if (vOf(r) === 2) sawV2 = true;
          else if (afterSwitch) lateV1.push(r);
        }
      });
      const otherBefore = host.list().find((s) => s.name === "other")!.metrics;
      const count = (v: number) => results.filter((r) => vOf(r) === v).length;
      // Traffic on v1 first, then the reload, then traffic on v2: by counts, not by sleeps.
      await until(() => count(1) >= 16, 10_000, "v1 answers before the reload");
      await writePlugin(w, manifest("2.0.0"), version(2));
      await host.reload("ver");
      const atReload = results.length;
      await until(() => count(2) >= 16 && results.length >= atReload + 16, 10_000, "v2 answers");
      stop = true;
      await Promise.all(clients);

      const bad = results.filter((r) => !r.ok);
      assertEq(bad.length, 0, `errors during reload: ${JSON.stringify(bad.slice(0, 3))}`);
      const vs = results.map((r) => (r as { payload: { v: number } }).payload.v);
      assert(vs.includes(1) && vs.includes(2), "both versions answered");
      assertEq(
        lateV1.length,
        0,
        `answers not from v2 after v2 was seen: ${JSON.stringify(lateV1)}`,
      );
      // Requests issued after reload() returned are all v2.
      const after = await Promise.all(
        Array.from(
          { length: 10 },
          () => host.dispatch({ opcode: 0xf600, tier: 1, payload: {}, peer: PEER }),
        ),
      );
      assertEq(after.map((r) => (r as { payload: { v: number } }).payload.v), Array(10).fill(2));
      const st = host.list().find((s) => s.name === "ver")!;
      assertEq([st.version, st.state, st.metrics.restarts], ["2.0.0", "running", 0]);
      const other = host.list().find((s) => s.name === "other")!;
      assertEq([other.state, other.metrics.restarts, other.metrics.requests], [
        "running",
        0,
        otherBefore.requests,
      ]);

      // A broken new version: reload fails, the old one keeps serving.
      await Deno.writeTextFile(`${w.pluginsDir}/ver/mod.js`, "throw new Error('broken build');");
      let threw = false;
      try {
        await host.reload("ver");
      } catch {
        threw = true;
      }
      assert(threw, "broken reload refused");
      const still = await host.dispatch({ opcode: 0xf600, tier: 1, payload: {}, peer: PEER });
      assertEq(still, { ok: true, payload: { v: 2 } }, "old version still serving");
    } finally {
      await host.close();
      await dropWorld(w);
    }
  });
}
