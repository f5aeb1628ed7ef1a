/**
 * The CAN plugin on the VM's real SocketCAN stack (Debian 6.1, `vcan0`),
 * with can-utils as the independent side: frames the plugin sends are seen
 * by `candump`, frames `cansend`/`cangen` put on the bus arrive as pushed
 * CAN_FRAME_RECEIVE events at the session that opened the interface.
 *
 * Covers every opcode 0x0650-0x0657: interface list (kind from rtnetlink,
 * checked against sysfs), open (exclusive per session unless shared),
 * close, configure (socket options; bitrate is UNSUPPORTED on vcan, which
 * has no controller), send (classic, extended, CAN FD), receive (push with
 * a credit window, counted drops; pull mode), filters, error status
 * (statistics cross-checked with sysfs), release on session end, and bad
 * input. Runs only inside the VM (`HWVM=1`).
 */
import { assert, assertEq, ErrorCode, hex, IN_VM, sh, startBusPlugin, until } from "./_bushost.ts";

const IF = Deno.env.get("HWVM_CAN_IF") || "vcan0";
const Op = {
  LIST: 0x0650,
  OPEN: 0x0651,
  CLOSE: 0x0652,
  CONFIGURE: 0x0653,
  SEND: 0x0654,
  RECEIVE: 0x0655,
  FILTER: 0x0656,
  STATUS: 0x0657,
} as const;

interface WireFrame {
  id: number;
  data: Uint8Array;
  ext?: boolean;
  fd?: boolean;
  brs?: boolean;
}
interface RxEvent {
  handle: number;
  frames: WireFrame[];
  dropped: number;
}

/** candump -L running in the background; `lines` grows as it prints. */
function candump(): { lines: string[]; stop: () => Promise<void> } {
  // candump's stdout is block-buffered into a pipe: stdbuf makes it print each frame at once.
  const child = new Deno.Command("stdbuf", {
    args: ["-oL", "candump", "-L", IF],
    stdout: "piped",
    stderr: "null",
  }).spawn();
  const lines: string[] = [];
  const done = (async () => {
    const dec = new TextDecoder();
    let rest = "";
    for await (const c of child.stdout) {
      const parts = (rest + dec.decode(c, { stream: true })).split("\n");
      rest = parts.pop() ?? "";
      lines.push(...parts.filter((l) => l !== ""));
    }
  })();
  return {
    lines,
    stop: async () => {
      try {
        child.kill("SIGTERM");
      } catch { /* gone */ }
      await child.status;
      await done;
    },
  };
}

function sysStat(name: string): number {
  return Number(Deno.readTextFileSync(`/sys/class/net/${IF}/statistics/${name}`).trim());
}

Deno.test({
  name:
    "hwvm can: plugin on vcan0 against candump/cansend: list, open, send, receive, filters, status",
  ignore: !IN_VM,
  fn: async () => {
    const rig = await startBusPlugin("can", "can");
    const dump = candump();
    try {
      const { call, callErr } = rig;
      const evs = (s: number) =>
        (rig.events.get(s) ?? []).filter((e) => e.opcode === Op.RECEIVE).map((e) =>
          e.payload as RxEvent
        );
      const framesOf = (s: number, h: number) =>
        evs(s).filter((e) => e.handle === h).flatMap((e) => e.frames);

      // 0x0650 list: vcan0 with its kind from rtnetlink; sysfs says the same interface is CAN.
      const list = await call(Op.LIST, {}) as {
        interfaces: { name: string; kind: string; fd: boolean; held: boolean }[];
      };
      const me = list.interfaces.find((i) => i.name === IF);
      assert(me !== undefined, `list has ${IF}: ${JSON.stringify(list)}`);
      assertEq(me.kind, "vcan", "kind");
      assertEq(Deno.readTextFileSync(`/sys/class/net/${IF}/type`).trim(), "280", "sysfs type");
      const sysMtu = Number(Deno.readTextFileSync(`/sys/class/net/${IF}/mtu`).trim());
      assertEq(me.fd, sysMtu === 72, "fd capability follows the MTU");
      assertEq(me.held, false, "not held yet");

      // 0x0651 open: exclusive for session 7; session 8 is refused; unknown interface NOT_FOUND.
      const o = await call(Op.OPEN, { interface: IF, fd: true }) as { handle: number; fd: boolean };
      assertEq(o.fd, true, "fd frames on");
      await callErr(Op.OPEN, { interface: IF }, ErrorCode.SERVICE_UNAVAILABLE, "device-busy", 8);
      await callErr(Op.OPEN, { interface: "nosuchcan0" }, ErrorCode.NOT_FOUND);
      await callErr(Op.OPEN, { interface: "../x" }, ErrorCode.BAD_REQUEST, "field:interface");
      // Someone else's handle does not exist for session 8.
      await callErr(Op.STATUS, { handle: o.handle }, ErrorCode.NOT_FOUND, "no-such-handle", 8);

      // Wait until candump is listening (it prints a marker cansend puts on the bus).
      await until(
        async () => {
          await sh("cansend", IF, "7FF#");
          return dump.lines.some((l) => l.endsWith(`${IF} 7FF#`));
        },
        10_000,
        "candump ready",
      );

      // 0x0654 send: classic, extended and CAN FD (with BRS) frames; candump prints them.
      const sent = await call(Op.SEND, {
        handle: o.handle,
        frames: [
          { id: 0x123, data: new Uint8Array([0x11, 0x22]) },
          { id: 0x1abcde0f, ext: true, data: new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8]) },
          { id: 0x321, fd: true, brs: true, data: new Uint8Array(12).map((_, i) => 0xa0 + i) },
        ],
      }) as { sent: number };
      assertEq(sent.sent, 3, "sent");
      await until(
        () => dump.lines.some((l) => / 321##/.test(l)),
        10_000,
        `candump sees FD: ${dump.lines.slice(-5).join(" | ")}`,
      );
      const seen = dump.lines.map((l) => l.split(" ").slice(1).join(" "));
      assert(seen.includes(`${IF} 123#1122`), `classic frame: ${seen.join(" | ")}`);
      assert(seen.includes(`${IF} 1ABCDE0F#0102030405060708`), `extended frame: ${seen}`);
      // After "##" candump prints the FD flags nibble: BRS (1) | FDF (4, set by 6.x kernels).
      const fdLine = seen.find((l) => l.startsWith(`${IF} 321##`)) ?? "";
      const fdFlags = parseInt(fdLine.slice(`${IF} 321##`.length, `${IF} 321##`.length + 1), 16);
      assert((fdFlags & 1) === 1, `FD frame has BRS: ${fdLine}`);
      assertEq(fdLine.slice(-24), "A0A1A2A3A4A5A6A7A8A9AAAB", "FD frame data");

      // 0x0655 receive (push): cansend's frames arrive as events at session 7 only.
      await sh("cansend", IF, "456#DEADBEEF");
      await sh("cansend", IF, "12345678#CAFE");
      await until(() => framesOf(7, o.handle).some((f) => f.id === 0x12345678), 10_000, "rx");
      const rx = framesOf(7, o.handle);
      const a = rx.find((f) => f.id === 0x456)!;
      assert(a !== undefined && hex(a.data) === "deadbeef" && !a.ext, "std frame pushed");
      const b = rx.find((f) => f.id === 0x12345678)!;
      assert(b.ext === true && hex(b.data) === "cafe", "ext frame pushed");
      assertEq(evs(8).length, 0, "session 8 gets nothing");
      // Own frames are not looped back to the sender by default.
      assert(!rx.some((f) => f.id === 0x123), "own frame not received");

      // 0x0653 configure: recvOwn on -> own frames come back; bitrate UNSUPPORTED on vcan.
      await call(Op.CONFIGURE, { handle: o.handle, recvOwn: true });
      await call(Op.SEND, { handle: o.handle, frame: { id: 0x124, data: new Uint8Array([9]) } });
      await until(() => framesOf(7, o.handle).some((f) => f.id === 0x124), 10_000, "own frame");
      await callErr(
        Op.CONFIGURE,
        { handle: o.handle, bitrate: 500_000 },
        ErrorCode.UNSUPPORTED,
        "no-bit-timing",
      );
      await call(Op.CONFIGURE, { handle: o.handle, recvOwn: false });

      // 0x0656 filters: only 0x100-0x1FF pass.
      assertEq(
        await call(Op.FILTER, { handle: o.handle, filters: [{ id: 0x100, mask: 0x700 }] }),
        { filters: 1 },
        "filter set",
      );
      await sh("cansend", IF, "200#01");
      await sh("cansend", IF, "150#02");
      await until(() => framesOf(7, o.handle).some((f) => f.id === 0x150), 10_000, "filtered");
      assert(!framesOf(7, o.handle).some((f) => f.id === 0x200), "0x200 filtered out");
      await call(Op.FILTER, { handle: o.handle, filters: [{ id: 0, mask: 0 }] });

      // 0x0657 status: vcan has no controller state; statistics match sysfs.
      const st = await call(Op.STATUS, { handle: o.handle }) as {
        kind: string;
        controller: boolean;
        state?: string;
        stats: { txPackets: number; rxPackets: number };
        handle: { sent: number; received: number };
      };
      assertEq([st.kind, st.controller, st.state], ["vcan", false, undefined], "no controller");
      assertEq(st.stats.txPackets, sysStat("tx_packets"), "tx_packets = sysfs");
      assertEq(st.handle.sent, 4, "handle sent counter");
      const byName = await call(Op.STATUS, { interface: IF }) as { interface: string };
      assertEq(byName.interface, IF, "status by interface name");

      // Bad input: BAD_REQUEST, never a crash.
      await callErr(Op.SEND, { handle: o.handle, frame: { id: 0x800 } }, ErrorCode.BAD_REQUEST);
      await callErr(
        Op.SEND,
        { handle: o.handle, frame: { id: 1, data: new Uint8Array(9) } },
        ErrorCode.BAD_REQUEST,
        "frame:data",
      );
      await callErr(Op.SEND, { handle: o.handle, frames: [] }, ErrorCode.BAD_REQUEST);
      await callErr(Op.FILTER, { handle: o.handle, filters: "x" }, ErrorCode.BAD_REQUEST);
      await callErr(Op.SEND, "nope", ErrorCode.BAD_REQUEST, "payload-not-map");

      // Backpressure: a second handle of session 7 (same session may reopen) with window 10,
      // queue 20, never acknowledging: 10 pushed, 20 queued, the rest dropped and counted.
      const bp = await call(Op.OPEN, {
        interface: IF,
        window: 10,
        queue: 20,
        filters: [{ id: 0x555, mask: 0x7ff }],
      }) as { handle: number };
      await sh("cangen", IF, "-n", "100", "-g", "1", "-I", "555", "-L", "1", "-D", "i");
      await until(
        async () => {
          const s = await call(Op.STATUS, { handle: bp.handle }) as {
            handle: { received: number };
          };
          return s.handle.received === 100;
        },
        20_000,
        "100 frames received",
      );
      await until(() => framesOf(7, bp.handle).length === 10, 5_000, "10 pushed");
      let s = await call(Op.RECEIVE, { handle: bp.handle }) as {
        queued: number;
        dropped: number;
        credit: number;
      };
      assertEq([s.queued, s.dropped, s.credit], [20, 70, 0], "queued/dropped/credit");
      const last = evs(7).filter((e) => e.handle === bp.handle).at(-1)!;
      assert(last.dropped >= 0, "events carry the drop count");
      // Ack 10: ten more pushed (the oldest kept), credit used up again.
      s = await call(Op.RECEIVE, { handle: bp.handle, ack: 10 }) as typeof s;
      await until(() => framesOf(7, bp.handle).length === 20, 5_000, "10 more pushed");
      s = await call(Op.RECEIVE, { handle: bp.handle }) as typeof s;
      assertEq([s.queued, s.dropped], [10, 70], "after ack");
      const c = await call(Op.CLOSE, { handle: bp.handle }) as {
        received: number;
        dropped: number;
      };
      assertEq([c.received, c.dropped], [100, 70], "close counters");
      await callErr(Op.RECEIVE, { handle: bp.handle }, ErrorCode.NOT_FOUND, "no-such-handle");

      // Pull mode: frames wait for a 0x0655 request.
      const pl = await call(Op.OPEN, { interface: IF, push: false }) as { handle: number };
      await sh("cansend", IF, "0AB#0102");
      const got = await call(Op.RECEIVE, { handle: pl.handle, timeoutMs: 3000 }) as {
        frames: WireFrame[];
      };
      assertEq(got.frames.map((f) => [f.id, hex(f.data)]), [[0xab, "0102"]], "pulled");
      assert(!framesOf(7, pl.handle).length, "pull handle pushes nothing");

      // Raw mode: kernel can_frame records in one bin, both ways.
      const rw = await call(Op.OPEN, { interface: IF, raw: true }) as { handle: number };
      await sh("cansend", IF, "0CD#A1A2");
      await until(
        () => evs(7).some((e) => e.handle === rw.handle),
        10_000,
        "raw event",
      );
      const rawEv = evs(7).find((e) => e.handle === rw.handle) as unknown as { raw: Uint8Array };
      assertEq(rawEv.raw.length % 16, 0, "16-byte records");
      const rec = new DataView(rawEv.raw.buffer, rawEv.raw.byteOffset, 16);
      assertEq([rec.getUint32(0, true), rec.getUint8(4), hex(rawEv.raw.subarray(8, 10))], [
        0xcd,
        2,
        "a1a2",
      ], "raw record = can_frame");
      const out = new Uint8Array(16);
      new DataView(out.buffer).setUint32(0, 0x3ee, true);
      out[4] = 1;
      out[8] = 0x77;
      assertEq(await call(Op.SEND, { handle: rw.handle, raw: out }), { sent: 1 }, "raw send");
      await until(() => dump.lines.some((l) => l.endsWith(`${IF} 3EE#77`)), 10_000, "raw sent");
      await callErr(
        Op.SEND,
        { handle: rw.handle, raw: new Uint8Array(15) },
        ErrorCode.BAD_REQUEST,
        "field:raw",
      );

      // 0x0652 close, then session end releases the rest: session 8 may open afterwards.
      await call(Op.CLOSE, { handle: o.handle });
      await callErr(Op.OPEN, { interface: IF }, ErrorCode.SERVICE_UNAVAILABLE, "device-busy", 8);
      rig.host.sessionClosed(7);
      await until(
        async () => {
          const l = await call(Op.LIST, {}, 8) as { interfaces: { name: string; held: boolean }[] };
          return l.interfaces.find((i) => i.name === IF)?.held === false;
        },
        5_000,
        "released on session end",
      );
      const o8 = await call(Op.OPEN, { interface: IF, shared: true }, 8) as { handle: number };
      // Shared on purpose: a second session opening shared is let in.
      const o9 = await call(Op.OPEN, { interface: IF, shared: true }, 9) as { handle: number };
      assert(o8.handle !== o9.handle, "distinct handles");
    } finally {
      await dump.stop();
      await rig.stop();
    }
  },
});
