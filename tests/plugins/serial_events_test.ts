/**
 * Serial events on a real pseudo-terminal: with `events: true` the serial
 * plugin (own process, FFI to libc) pushes what the line receives to the
 * session that opened the port (DATA_EVENT 0x0619), in order and complete;
 * above `maxBytesPerSec` it stops reading, so the writer on the far side is
 * held back by the kernel (its non-blocking write reports a full buffer)
 * instead of anything piling up or being dropped; a port belongs to the
 * session that opened it and goes when that session ends; a hangup on the
 * far side is pushed once. (A PTY has no modem lines: LINES_EVENT is shown on
 * cdc_acm in tests/hwvm/serial_events_vm_test.ts.)
 */
import { ErrorCode } from "../../core/errors.ts";
import { resolveLibrary } from "../../plugins/policy.ts";
import type { PluginEvent, PluginHost } from "../../plugins/runtime/host.ts";
import { openPty, type Pty } from "./_pty.ts";
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
  until,
  writePolicy,
} from "./_helpers.ts";

const LIBC = resolveLibrary("libc");
const OTHER = { ...PEER, sessionId: 13 };

type DataEv = { handle: number; seq: number; data: Uint8Array; total: number; hangup?: boolean };

Deno.test({
  name:
    "serial events on a PTY: pushed in order to the opener, back-pressure at maxBytesPerSec, session end closes",
  ignore: LIBC === undefined && !REQUIRE_REAL,
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async (t) => {
    const w = await makeWorld();
    const ptys: Pty[] = [];
    let host: PluginHost | undefined;
    const events: PluginEvent[] = [];
    try {
      await copyDir(`${PLUGINS_SRC}/serial`, `${w.pluginsDir}/serial`);
      const root = `${w.root}/sysroot`;
      await Deno.mkdir(`${root}/sys/class/tty/ttyUSB0/device`, { recursive: true });
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
      const mf = `${w.pluginsDir}/serial/plugin.json`;
      const m = JSON.parse(await Deno.readTextFile(mf));
      m.permissions.read = ["/dev/pts"];
      m.permissions.write = ["/dev/pts"];
      await Deno.writeTextFile(mf, JSON.stringify(m));
      host = await startHost(w, { busRoot: root });
      const h = host;
      h.onEvent((ev) => {
        if (ev.plugin === "serial") events.push(ev);
      });
      const ok = async (opcode: number, payload: unknown, peer = PEER) => {
        const r = await h.dispatch({ opcode, tier: 3, payload, peer });
        if (!r.ok) throw new Error(`0x${opcode.toString(16)}: ${r.error.code} ${r.error.detail}`);
        return r.payload as Record<string, unknown>;
      };
      const code = async (opcode: number, payload: unknown, peer = PEER) => {
        const r = await h.dispatch({ opcode, tier: 3, payload, peer });
        return r.ok ? "ok" : `${r.error.code}:${r.error.detail}`;
      };
      const of = (handle: number) =>
        events.filter((e) => e.opcode === 0x0619 && (e.payload as DataEv).handle === handle)
          .map((e) => e.payload as DataEv);
      const bytes = (handle: number) => {
        const parts = of(handle).map((e) => e.data);
        const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
        let o = 0;
        for (const p of parts) {
          out.set(p, o);
          o += p.length;
        }
        return out;
      };

      await t.step("pushed in order, complete, to the opening session only", async () => {
        const pty = openPty(LIBC!);
        ptys.push(pty);
        const o = await ok(0x0611, { path: pty.slave, events: true });
        const handle = o.handle as number;
        assertEq([o.events, o.maxBytesPerSec], [true, 1 << 20]);
        pty.write(new TextEncoder().encode("hello"));
        await until(() => bytes(handle).length >= 5, 5000, "hello");
        assertEq(new TextDecoder().decode(bytes(handle)), "hello");
        // 48 KiB of random bytes, written as fast as the PTY takes them.
        const data = new Uint8Array(48 * 1024);
        crypto.getRandomValues(data);
        let off = 0;
        const end = performance.now() + 10_000;
        while (off < data.length && performance.now() < end) {
          const n = pty.write(data.subarray(off, off + 4096));
          if (n > 0) off += n;
          else await new Promise((r) => setTimeout(r, 2));
        }
        assertEq(off, data.length, "wrote it all");
        await until(() => bytes(handle).length >= 5 + data.length, 10_000, "all bytes pushed");
        const got = bytes(handle).subarray(5);
        assert(got.every((v, i) => v === data[i]), "same bytes, same order");
        const evs = of(handle);
        assertEq(evs.map((e) => e.seq), evs.map((_, i) => i + 1), "seq has no gaps");
        assertEq(evs[evs.length - 1].total, 5 + data.length);
        assert(events.every((e) => e.sessionId === PEER.sessionId), "every event to session 7");
        assertEq(await code(0x0615, { handle }), `${ErrorCode.BAD_REQUEST}:events-on`);
        assertEq(await code(0x0612, { handle }, OTHER), `${ErrorCode.NOT_FOUND}:no-such-handle`);
        assertEq(
          await code(0x0611, { path: pty.slave }, OTHER),
          `${ErrorCode.SERVICE_UNAVAILABLE}:device-busy`,
        );
        await ok(0x0612, { handle });
      });

      await t.step(
        "back-pressure: at 4 KiB/s the far side's writes stall, nothing is lost",
        async () => {
          const pty = openPty(LIBC!);
          ptys.push(pty);
          const rate = 4096;
          const o = await ok(0x0611, { path: pty.slave, events: true, maxBytesPerSec: rate });
          const handle = o.handle as number;
          const data = new Uint8Array(256 * 1024);
          crypto.getRandomValues(data.subarray(0, 65536));
          for (let i = 65536; i < data.length; i++) data[i] = i & 0xff;
          const t0 = performance.now();
          let off = 0;
          let stalledAt = -1;
          while (performance.now() - t0 < 3000) {
            const n = pty.write(data.subarray(off, off + 4096));
            if (n > 0) off += n;
            else {
              if (stalledAt < 0) stalledAt = off;
              await new Promise((r) => setTimeout(r, 20));
            }
          }
          const secs = (performance.now() - t0) / 1000;
          const received = bytes(handle).length;
          assert(
            stalledAt > 0 && off < data.length,
            `writer held back (stalled at ${stalledAt}, wrote ${off})`,
          );
          assert(
            received <= 4096 + rate * secs + 4096,
            `${received} bytes in ${secs.toFixed(1)} s at ${rate} B/s`,
          );
          assert(received > 0, "some data flows");
          const got = bytes(handle);
          assert(got.every((v, i) => v === data[i]), "a prefix of what was written, in order");
          const before = received;
          await until(
            () => bytes(handle).length > before + 2048,
            5000,
            "keeps flowing at the rate",
          );
          await ok(0x0612, { handle });
        },
      );

      await t.step("a session that ends closes its port; a hangup is pushed once", async () => {
        const pty = openPty(LIBC!);
        ptys.push(pty);
        const o = await ok(0x0611, { path: pty.slave, events: true }, OTHER);
        h.sessionClosed(OTHER.sessionId);
        let c = "";
        for (let i = 0; i < 100; i++) {
          c = await code(0x0611, { path: pty.slave, events: true });
          if (c === "ok" || !c.endsWith("device-busy")) break;
          await new Promise((r) => setTimeout(r, 20));
        }
        assertEq(c, "ok", "the port was freed by the session's end");
        assertEq(
          await code(0x0612, { handle: o.handle }, OTHER),
          `${ErrorCode.NOT_FOUND}:no-such-handle`,
        );
        pty.close();
        ptys.pop();
        await until(
          () => events.some((e) => (e.payload as DataEv).hangup === true),
          5000,
          "hangup event",
        );
        const hang = events.filter((e) => (e.payload as DataEv).hangup === true);
        assertEq(hang.length, 1);
      });
    } finally {
      await host?.close();
      for (const p of ptys) p.close();
      await dropWorld(w);
    }
  },
});
