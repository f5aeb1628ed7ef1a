/**
 * The serial plugin in its own process, driven through PluginHost.dispatch
 * against a real pseudo-terminal (posix_openpt via FFI in the test; the
 * plugin opens the slave side like any tty). Also: not started without its
 * bus, and what a PTY cannot show (modem lines) answers UNSUPPORTED.
 */
import { ErrorCode } from "../../core/errors.ts";
import { resolveLibrary } from "../../plugins/policy.ts";
import type { PluginHost } from "../../plugins/runtime/host.ts";
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
  type World,
  writePolicy,
} from "./_helpers.ts";

const LIBC = resolveLibrary("libc");

async function fakeSerialBus(w: World): Promise<string> {
  const root = `${w.root}/sysroot`;
  await Deno.mkdir(`${root}/sys/class/tty/ttyUSB0/device`, { recursive: true });
  return root;
}

async function install(w: World, extraDev: boolean): Promise<void> {
  await copyDir(`${PLUGINS_SRC}/serial`, `${w.pluginsDir}/serial`);
  if (extraDev) {
    // The operator lets this node's serial plugin use PTYs (as a test line).
    const p = `${w.pluginsDir}/serial/plugin.json`;
    const m = JSON.parse(await Deno.readTextFile(p));
    m.permissions.read = ["/dev/pts"];
    m.permissions.write = ["/dev/pts"];
    await Deno.writeTextFile(p, JSON.stringify(m));
  }
}

const POLICY = {
  plugins: {
    serial: {
      trusted: true,
      ffi: ["libc"],
      buses: ["serial"],
      read: ["/dev/pts"],
      write: ["/dev/pts"],
    },
  },
};

Deno.test({
  name: "serial plugin on a PTY: open/configure/write/read/break/close; modem lines UNSUPPORTED",
  // libc is always there on Linux; CI must never skip this suite.
  ignore: LIBC === undefined && !REQUIRE_REAL,
  fn: async () => {
    const w = await makeWorld();
    const pty = openPty(LIBC!);
    let host: PluginHost | undefined;
    try {
      await install(w, true);
      await writePolicy(w, POLICY);
      host = await startHost(w, { busRoot: await fakeSerialBus(w) });
      const h = host;
      const st = h.list().find((s) => s.name === "serial")!;
      assertEq([st.state, st.isolation], ["running", "process"], `serial (${st.reason})`);
      assertEq(st.granted.ffi, [`libc=${LIBC}`]);
      const d = async (opcode: number, payload: unknown, tier = 3) =>
        await h.dispatch({ opcode, tier, payload, peer: PEER });
      const ok = async (opcode: number, payload: unknown) => {
        const r = await d(opcode, payload);
        if (!r.ok) throw new Error(`0x${opcode.toString(16)}: ${r.error.message}`);
        return r.payload as Record<string, unknown>;
      };

      const list = await ok(0x0610, {});
      assertEq(list.ports, [{ path: "/dev/ttyUSB0" }]);

      const opened = await ok(0x0611, { path: pty.slave, baud: 9600, stopBits: 2, flow: "rtscts" });
      const handle = opened.handle as number;
      // Kept by the PTY driver: speed, stop bits, flow control. (A PTY forces CS8 and no parity.)
      const c1 = opened.config as Record<string, unknown>;
      assertEq([c1.baud, c1.stopBits, c1.flow, c1.dataBits], [9600, 2, "rtscts", 8]);
      const c2 = (await ok(0x0613, { handle, baud: 115200, stopBits: 1, flow: "none" }))
        .config as Record<string, unknown>;
      assertEq([c2.baud, c2.stopBits, c2.flow], [115200, 1, "none"]);
      const badBaud = await d(0x0613, { handle, baud: 12345 });
      assert(
        !badBaud.ok && badBaud.error.code === ErrorCode.BAD_REQUEST &&
          badBaud.error.detail === "baud",
        "bad baud",
      );

      // Plugin -> line: bytes appear on the PTY master.
      const out = new TextEncoder().encode("AT\r\n");
      assertEq(await ok(0x0614, { handle, data: out }), { written: 4 });
      let seen = new Uint8Array(0);
      for (let i = 0; i < 100 && seen.length < 4; i++) {
        const chunk = pty.read(64);
        seen = new Uint8Array([...seen, ...chunk]);
        if (seen.length < 4) await new Promise((r) => setTimeout(r, 10));
      }
      assertEq(new TextDecoder().decode(seen), "AT\r\n");

      // Line -> plugin.
      pty.write(new TextEncoder().encode("OK\r\n"));
      const got = await ok(0x0615, { handle, max: 64, timeoutMs: 1000 });
      assertEq(new TextDecoder().decode(got.data as Uint8Array), "OK\r\n");
      const empty = await ok(0x0615, { handle, timeoutMs: 30 });
      assertEq((empty.data as Uint8Array).length, 0, "read times out empty");

      // What a PTY cannot show: modem lines (TIOCMGET/TIOCMSET give ENOTTY).

      for (const [op, p] of [[0x0617, { handle }], [0x0616, { handle, dtr: true }]] as const) {
        const r = await d(op, p);
        assert(
          !r.ok && r.error.code === ErrorCode.UNSUPPORTED &&
            r.error.detail === "modem-lines-failed",
          JSON.stringify(r),
        );
        assertEq(r.error.extra.errno, 25, "ENOTTY");
      }
      // Break is accepted by the PTY driver (it cannot be observed on the master).
      assertEq(await ok(0x0618, { handle }), {});
      const lowTier = await d(0x0618, { handle }, 2);
      assert(
        !lowTier.ok && lowTier.error.code === ErrorCode.FORBIDDEN &&
          lowTier.error.extra.requiredTier === 3,
        "tier",
      );

      // Devices outside the grant, bad handles, bad payloads.
      const forb = await d(0x0611, { path: "/etc/passwd" });
      assert(
        !forb.ok && forb.error.code === ErrorCode.FORBIDDEN &&
          forb.error.detail === "device-not-granted",
        "forbidden",
      );
      const trav = await d(0x0611, { path: "/dev/pts/../../etc/passwd" });
      assert(!trav.ok && trav.error.code === ErrorCode.FORBIDDEN, "no traversal");
      const absent = await d(0x0611, { path: "/dev/ttyUSB0" });
      assert(
        !absent.ok && absent.error.code === ErrorCode.NOT_FOUND &&
          absent.error.detail === "open-failed",
        "absent device",
      );
      const parity = await d(0x0611, { path: pty.slave, parity: "mark" });
      assert(!parity.ok && parity.error.detail === "field:parity", "bad parity");

      assertEq(await ok(0x0612, { handle }), {});
      const closed = await d(0x0614, { handle, data: out });
      assert(!closed.ok && closed.error.code === ErrorCode.NOT_FOUND, "closed handle");
    } finally {
      await host?.close();
      pty.close();
      await dropWorld(w);
    }
  },
});

Deno.test("serial plugin is not started without its bus, or without the FFI grant", async () => {
  const w = await makeWorld();
  try {
    await install(w, false);
    await writePolicy(w, POLICY);
    let host = await startHost(w); // busRoot: an empty dir
    let st = host.list().find((s) => s.name === "serial")!;
    assertEq(st.state, "not-started");
    assert(st.reason!.includes("bus-absent: serial"), st.reason);
    await host.close();

    await writePolicy(w, { plugins: { serial: { trusted: true, buses: ["serial"] } } });
    host = await startHost(w, { busRoot: await fakeSerialBus(w) });
    st = host.list().find((s) => s.name === "serial")!;
    assertEq(st.state, "not-started");
    assert(st.reason!.includes("ffi-unavailable: libc"), st.reason);
    assertEq(st.refused.map((r) => `${r.kind}:${r.value}`), ["ffi:libc"]);
    await host.close();
  } finally {
    await dropWorld(w);
  }
});
