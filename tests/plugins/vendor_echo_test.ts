/**
 * The example vendor plugin installed into a temp node and exercised
 * end to end through PluginHost.dispatch, in process and worker isolation.
 */
import { ErrorCode } from "../../core/errors.ts";
import type { PluginEvent } from "../../plugins/runtime/host.ts";
import {
  assert,
  assertEq,
  copyDir,
  dropWorld,
  makeWorld,
  PEER,
  PLUGINS_SRC,
  startHost,
  until,
  writePolicy,
} from "./_helpers.ts";

for (const mode of ["process", "worker"] as const) {
  Deno.test(`vendor-echo end to end (${mode})`, async () => {
    const w = await makeWorld();
    await copyDir(`${PLUGINS_SRC}/examples/vendor-echo`, `${w.pluginsDir}/vendor-echo`);
    await writePolicy(w, {
      plugins: {
        "vendor-echo": {
          read: ["$DATA"],
          write: ["$DATA"],
          isolation: mode === "worker" ? ["worker", "process"] : ["process"],
          // Worker mode is for plugins the operator trusts (a Worker's heap has no cap).
          trusted: mode === "worker",
        },
      },
    });
    if (mode === "worker") {
      // The manifest asks for the default (process); a vendor may opt in to worker.
      const p = `${w.pluginsDir}/vendor-echo/plugin.json`;
      const m = JSON.parse(await Deno.readTextFile(p));
      await Deno.writeTextFile(p, JSON.stringify({ ...m, isolation: "worker" }));
    }
    const host = await startHost(w);
    try {
      const st = host.list().find((s) => s.name === "vendor-echo");
      assert(st !== undefined, "listed");
      assertEq(st.state, "running", `state (${st.reason})`);
      assertEq(st.isolation, mode);
      assertEq(st.ranges, ["0xF100-0xF10F"]);

      const bin = new Uint8Array([1, 2, 3]);
      const echo = await host.dispatch({
        opcode: 0xf100,
        tier: 3,
        payload: { a: 1, b: bin },
        peer: PEER,
      });
      assert(echo.ok, "echo ok");
      const ep = echo.payload as { echo: { a: number; b: Uint8Array }; session: number };
      assertEq(ep.echo.a, 1);
      assert(ep.echo.b instanceof Uint8Array && ep.echo.b[2] === 3, "binary survives");
      assertEq(ep.session, 7);

      const up = await host.dispatch({
        opcode: 0xf101,
        tier: 1,
        payload: { text: "abc" },
        peer: PEER,
      });
      assertEq(up, { ok: true, payload: { text: "ABC" } });

      const bad = await host.dispatch({
        opcode: 0xf101,
        tier: 1,
        payload: { text: 5 },
        peer: PEER,
      });
      assert(
        !bad.ok && bad.error.code === ErrorCode.BAD_REQUEST && bad.error.detail === "field:text",
        "field error",
      );

      const no = await host.dispatch({ opcode: 0xf106, tier: 1, payload: {}, peer: PEER });
      assert(!no.ok && no.error.detail === "vendor-says-no", "plugin error passes through");

      // Tier floor from the manifest: checked before the plugin sees it.
      const low = await host.dispatch({ opcode: 0xf105, tier: 2, payload: {}, peer: PEER });
      assert(
        !low.ok && low.error.code === ErrorCode.FORBIDDEN && low.error.extra.requiredTier === 3,
        "forbidden",
      );
      const hi = await host.dispatch({ opcode: 0xf105, tier: 3, payload: {}, peer: PEER });
      assertEq(hi, { ok: true, payload: { admin: true } });

      // In range, no handler: NOT_FOUND from the plugin.
      const nf = await host.dispatch({ opcode: 0xf10e, tier: 1, payload: {}, peer: PEER });
      assert(!nf.ok && nf.error.code === ErrorCode.NOT_FOUND, "not found");

      // Granted data dir is writable.
      const note = await host.dispatch({
        opcode: 0xf104,
        tier: 1,
        payload: { text: "hi" },
        peer: PEER,
      });
      assertEq(note, { ok: true, payload: { bytes: 3 } });
      assertEq(await Deno.readTextFile(`${w.dataDir}/plugin-data/vendor-echo/notes.txt`), "hi\n");

      // Server-pushed events.
      const got: PluginEvent[] = [];
      const off = host.onEvent((e) => got.push(e));
      const tick = await host.dispatch({
        opcode: 0xf102,
        tier: 1,
        payload: { count: 3 },
        peer: PEER,
      });
      assertEq(tick, { ok: true, payload: { started: 3 } });
      await until(() => got.length === 3, 5000, "3 events");
      off();
      assertEq(got.map((e) => [e.plugin, e.opcode, (e.payload as { n: number }).n, e.sessionId]), [
        ["vendor-echo", 0xf103, 0, 7],
        ["vendor-echo", 0xf103, 1, 7],
        ["vendor-echo", 0xf103, 2, 7],
      ]);

      const m = host.list()[0].metrics;
      assertEq([m.requests, m.ok], [8, 5], "requests, ok");
      assertEq(m.errors.FORBIDDEN, undefined, "tier refusals never reach the plugin");
      assertEq(m.errors.NOT_FOUND, 1);
      assertEq(m.events, 3);
    } finally {
      await host.close();
      await dropWorld(w);
    }
  });
}
