/**
 * The serial plugin's READ while it waits (the plugin polls the fd on a pool
 * thread, no timer loop): bytes that arrive during the wait are answered,
 * a CLOSE of the port meanwhile answers NOT_FOUND `no-such-handle` (the
 * closed fd is never read again), and a far side that hangs up ends the
 * wait long before its time-out. Real PTY, real plugin process.
 */
import { resolveLibrary } from "../../plugins/policy.ts";
import { openPty } from "./_pty.ts";
import { REQUIRE_REAL } from "../_support/real.ts";
import {
  assert,
  assertEq,
  copyDir,
  dropWorld,
  makeWorld,
  PEER,
  PLUGINS_SRC,
  startHost,
  writePolicy,
} from "./_helpers.ts";

const LIBC = resolveLibrary("libc");

Deno.test({
  name: "serial READ: data during the wait, CLOSE during the wait, hang-up during the wait",
  ignore: LIBC === undefined && !REQUIRE_REAL,
  fn: async () => {
    const w = await makeWorld();
    const pty = openPty(LIBC!);
    let far: ReturnType<typeof openPty> | undefined;
    const host = await (async () => {
      await copyDir(`${PLUGINS_SRC}/serial`, `${w.pluginsDir}/serial`);
      const p = `${w.pluginsDir}/serial/plugin.json`;
      const m = JSON.parse(await Deno.readTextFile(p));
      m.permissions.read = ["/dev/pts"];
      m.permissions.write = ["/dev/pts"];
      await Deno.writeTextFile(p, JSON.stringify(m));
      await writePolicy(w, {
        plugins: {
          serial: {
            trusted: true,
            ffi: ["libc"],
            buses: ["serial"],
            read: ["/dev/pts"],
            write: ["/dev/pts"],
          },
        },
      });
      const root = `${w.root}/sysroot`;
      await Deno.mkdir(`${root}/sys/class/tty/ttyUSB0/device`, { recursive: true });
      return await startHost(w, { busRoot: root });
    })();
    try {
      const st = host.list().find((s) => s.name === "serial")!;
      assertEq(st.state, "running", `serial (${st.reason})`);
      const d = (opcode: number, payload: unknown) =>
        host.dispatch({ opcode, tier: 3, payload, peer: PEER });
      const open = async (path: string) => {
        const r = await d(0x0611, { path });
        if (!r.ok) throw new Error(`open: ${r.error.message}`);
        return (r.payload as { handle: number }).handle;
      };

      // Bytes written while the READ waits are what it answers.
      let handle = await open(pty.slave);
      const read = d(0x0615, { handle, max: 64, timeoutMs: 3000 });
      await new Promise((r) => setTimeout(r, 100));
      assertEq(pty.write(new TextEncoder().encode("late")), 4);
      const got = await read;
      assert(got.ok, "read ok");
      assertEq(new TextDecoder().decode((got.payload as { data: Uint8Array }).data), "late");

      // CLOSE while a READ waits: the READ ends as no-such-handle, not as a read of a closed fd.
      const pending = d(0x0615, { handle, max: 64, timeoutMs: 3000 });
      await new Promise((r) => setTimeout(r, 100));
      const closed = await d(0x0612, { handle });
      assert(closed.ok, "close ok");
      const t0 = performance.now();
      const r2 = await pending;
      assert(
        !r2.ok && r2.error.detail === "no-such-handle",
        `read after close: ${JSON.stringify(r2)}`,
      );
      assert(performance.now() - t0 < 2000, "the waiting READ ended soon after the CLOSE");

      // The far side hangs up during the wait: the READ answers long before its 4 s time-out.
      // (A PTY opened before the host started is inherited by the plugin process, whose copy
      // of the master would keep the line up: this one is opened after.)
      far = openPty(LIBC!);
      handle = await open(far.slave);
      const hung = d(0x0615, { handle, max: 64, timeoutMs: 4000 });
      await new Promise((r) => setTimeout(r, 100));
      const t1 = performance.now();
      far.close();
      far = undefined;
      const r3 = await hung;
      const waited = performance.now() - t1;
      assert(waited < 2000, `a hang-up ends the READ (${waited.toFixed(0)} ms)`);
      // Either nothing (EOF) or the line's EIO as an error: never data that was not sent.
      if (r3.ok) assertEq((r3.payload as { data: Uint8Array }).data.length, 0);
      else assertEq(r3.error.detail, "read-failed");
      await d(0x0612, { handle });
    } finally {
      await host.close();
      pty.close();
      far?.close();
      await dropWorld(w);
    }
  },
});
