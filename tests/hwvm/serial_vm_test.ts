/**
 * The serial plugin on a real serial line of a real kernel (Debian 6.1 in the
 * hwvm VM, `tests/hwvm/run.sh`): a USB gadget with the CDC-ACM function on
 * dummy_hcd. The plugin runs in its own process under PluginHost, granted the
 * devices that `detectBuses("/")` finds, and drives `/dev/ttyACM0` (host side,
 * cdc_acm); the test holds the other end `/dev/ttyGS0` (gadget side, u_serial)
 * through its own libc FFI, raw via `stty`.
 *
 * Proves: open with baud/parity/stop bits/flow control and what cdc_acm
 * keeps; the settings leave as a CDC SET_LINE_CODING request on the USB wire
 * (usbmon); bytes both ways, small and 16 KiB; DTR/RTS set through the plugin
 * read back by TIOCMGET and leave as SET_CONTROL_LINE_STATE; DSR/DCD seen by
 * the host side follow the gadget side being open or closed (f_acm's
 * SERIAL_STATE notification); CTS always reads set (cdc_acm hard-codes it);
 * u_serial has no TIOCMGET/TIOCMSET (ENOTTY), which the plugin reports as
 * UNSUPPORTED; a break to a device without USB_CDC_CAP_BRK "succeeds" and
 * sends nothing. Runs only inside the VM (`HWVM=1`); ignored elsewhere.
 */
import { ErrorCode } from "../../core/errors.ts";
import { resolveLibrary } from "../../plugins/policy.ts";
import type { PluginHost } from "../../plugins/runtime/host.ts";
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
} from "../plugins/_helpers.ts";
import { acmRequests, openTty, startUsbMon, stty, type Tty, type UsbMon } from "./_tty.ts";

const IN_VM = Deno.env.get("HWVM") === "1";
const ACM = "/dev/ttyACM0";
const GS = "/dev/ttyGS0";
const ENOTTY = 25;
const SEND_BREAK = 0x23;
const SET_LINE_CODING = 0x20;
const SET_CONTROL_LINE_STATE = 0x22;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Reads `tty` until `n` bytes arrived or `ms` passed. */
async function collect(tty: Tty, n: number, ms: number): Promise<Uint8Array> {
  const out = new Uint8Array(n);
  let got = 0;
  const end = performance.now() + ms;
  while (got < n && performance.now() < end) {
    const d = tty.read(n - got);
    out.set(d, got);
    got += d.length;
    if (d.length === 0) await sleep(2);
  }
  return out.subarray(0, got);
}

/** Writes all of `data` to `tty`, waiting while the kernel buffer is full (at most `ms`). */
async function writeAll(tty: Tty, data: Uint8Array, ms: number): Promise<number> {
  let off = 0;
  const end = performance.now() + ms;
  while (off < data.length && performance.now() < end) {
    const n = tty.write(data.subarray(off));
    off += n;
    if (n === 0) await sleep(2);
  }
  return off;
}

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}

Deno.test({
  name: "hwvm serial: plugin on ttyACM0 <-> ttyGS0 (cdc_acm / u_serial): config, data, modem lines",
  ignore: !IN_VM,
  fn: async () => {
    const libc = resolveLibrary("libc");
    assert(libc !== undefined, "libc not found");
    const w = await makeWorld();
    let host: PluginHost | undefined;
    let gs: Tty | undefined;
    let mon: UsbMon | undefined;
    try {
      await copyDir(`${PLUGINS_SRC}/serial`, `${w.pluginsDir}/serial`);
      // No /dev paths in the policy: the devices come from detecting the real kernel.
      await writePolicy(w, {
        plugins: { serial: { trusted: true, ffi: ["libc"], buses: ["serial"] } },
      });
      mon = startUsbMon();
      host = await startHost(w, { busRoot: "/" });
      const h = host;
      const st = h.list().find((s) => s.name === "serial")!;
      assertEq([st.state, st.isolation], ["running", "process"], `serial (${st.reason})`);
      const d = async (opcode: number, payload: unknown) =>
        await h.dispatch({ opcode, tier: 3, payload, peer: PEER });
      const ok = async (opcode: number, payload: unknown) => {
        const r = await d(opcode, payload);
        if (!r.ok) throw new Error(`0x${opcode.toString(16)}: ${JSON.stringify(r.error)}`);
        return r.payload as Record<string, unknown>;
      };
      type Lines = Record<"dtr" | "rts" | "cts" | "dsr" | "dcd" | "ri", boolean>;
      const lines = async (handle: number) => (await ok(0x0617, { handle })).lines as Lines;
      /** Polls CONTROL_GET until `want` holds (the notification is asynchronous). */
      const linesUntil = async (handle: number, want: (l: Lines) => boolean, what: string) => {
        let l = await lines(handle);
        for (let i = 0; i < 150 && !want(l); i++) {
          await sleep(20);
          l = await lines(handle);
        }
        assert(want(l), `${what}: ${JSON.stringify(l)}`);
        return l;
      };

      const ports = ((await ok(0x0610, {})).ports as { path: string }[]).map((p) => p.path);
      assert(ports.includes(ACM) && ports.includes(GS), `LIST: ${ports}`);

      // Open 9600 7E2 with RTS/CTS. cdc_acm keeps all of it in termios.
      const opened = await ok(0x0611, {
        path: ACM,
        baud: 9600,
        dataBits: 7,
        parity: "even",
        stopBits: 2,
        flow: "rtscts",
      });
      const handle = opened.handle as number;
      assertEq(
        opened.config,
        { baud: 9600, dataBits: 7, parity: "even", stopBits: 2, flow: "rtscts" },
        "config kept by cdc_acm",
      );

      // Gadget side closed: f_acm reports no DSR/DCD. Opening the port raised DTR/RTS.
      // CTS is hard-coded on in cdc_acm's tiocmget.
      const l0 = await lines(handle);
      console.log(`ttyACM0 lines, ttyGS0 closed: ${JSON.stringify(l0)}`);
      assertEq(
        [l0.dtr, l0.rts, l0.cts, l0.dsr, l0.dcd, l0.ri],
        [true, true, true, false, false, false],
        "lines with the gadget side closed",
      );

      // The gadget side opens: f_acm's connect sends SERIAL_STATE with DSR|DCD.
      gs = openTty(libc, GS);
      await stty(GS, "raw", "-echo", "-ixon", "9600");
      const l1 = await linesUntil(handle, (l) => l.dsr && l.dcd, "DSR+DCD after ttyGS0 open");
      console.log(`ttyACM0 lines, ttyGS0 open: ${JSON.stringify(l1)}`);

      // DTR/RTS through the plugin: TIOCMSET, then TIOCMGET reads them back.
      const set = async (p: { dtr?: boolean; rts?: boolean }) =>
        (await ok(0x0616, { handle, ...p })).lines as Lines;
      const s1 = await set({ dtr: false, rts: false });
      assertEq([s1.dtr, s1.rts, s1.cts, s1.dsr, s1.dcd], [false, false, true, true, true], "off");
      const s2 = await set({ dtr: true });
      assertEq([s2.dtr, s2.rts], [true, false], "dtr only");
      const s3 = await set({ dtr: false, rts: true });
      assertEq([s3.dtr, s3.rts], [false, true], "rts only");
      const s4 = await set({ dtr: true, rts: true });
      assertEq([s4.dtr, s4.rts], [true, true], "both");

      // The gadget side cannot read them: u_serial implements no tiocmget (6.1).
      const gsBits = gs.modemBits();
      assertEq(gsBits, { ok: false, errno: ENOTTY }, "TIOCMGET on ttyGS0");
      // ... and the plugin says so for ttyGS0 like for a PTY.
      const gsHandle = (await ok(0x0611, { path: GS })).handle as number;
      const gsLines = await d(0x0617, { handle: gsHandle });
      assert(
        !gsLines.ok && gsLines.error.code === ErrorCode.UNSUPPORTED &&
          gsLines.error.extra.errno === ENOTTY,
        `CONTROL_GET on ttyGS0: ${JSON.stringify(gsLines)}`,
      );
      assertEq(await ok(0x0612, { handle: gsHandle }), {});

      // Break: the ACM function does not advertise USB_CDC_CAP_BRK (0x04) in its
      // bmCapabilities, so cdc_acm's break_ctl answers EOPNOTSUPP, which the tty layer
      // turns into success: tcsendbreak returns 0 and no SEND_BREAK leaves (checked below).
      const caps = parseInt(
        Deno.readTextFileSync("/sys/class/tty/ttyACM0/device/bmCapabilities").trim(),
        16,
      );
      console.log(`ttyACM0 bmCapabilities: 0x${caps.toString(16)}`);
      assertEq(caps & 0x04, 0, "USB_CDC_CAP_BRK advertised");
      assertEq(await ok(0x0618, { handle }), {}, "BREAK on ttyACM0");

      // Bytes both ways at 7E2 (USB carries whole bytes: no bits are dropped).
      const hello = new TextEncoder().encode("AT+HWVM?\r\n");
      const [w1, r1] = await Promise.all([
        ok(0x0614, { handle, data: hello }),
        collect(gs, hello.length, 5000),
      ]);
      assertEq(w1, { written: hello.length });
      assert(equalBytes(r1, hello), `ttyGS0 got ${JSON.stringify(new TextDecoder().decode(r1))}`);
      const reply = new TextEncoder().encode("+HWVM: 1\r\nOK\r\n");
      assertEq(await writeAll(gs, reply, 2000), reply.length, "gadget write");
      const r2 = await ok(0x0615, { handle, max: 64, timeoutMs: 2000 });
      assertEq(new TextDecoder().decode(r2.data as Uint8Array), "+HWVM: 1\r\nOK\r\n", "reply");

      // Reconfigure to 115200 8N1, no flow control; 16 KiB of every byte value each way.
      const c2 = (await ok(0x0613, {
        handle,
        baud: 115200,
        dataBits: 8,
        parity: "none",
        stopBits: 1,
        flow: "none",
      })).config;
      assertEq(c2, { baud: 115200, dataBits: 8, parity: "none", stopBits: 1, flow: "none" }, "8N1");
      const big = new Uint8Array(16384).map((_, i) => (i * 7 + (i >> 8)) & 0xff);
      const [w3, r3] = await Promise.all([
        ok(0x0614, { handle, data: big }),
        collect(gs, big.length, 10_000),
      ]);
      assertEq(w3, { written: big.length });
      assert(equalBytes(r3, big), `ACM->GS 16 KiB: got ${r3.length} bytes, or different`);
      const back = big.map((v) => v ^ 0x5a);
      const readAll = async () => {
        const parts: Uint8Array[] = [];
        let n = 0;
        for (let i = 0; i < 50 && n < back.length; i++) {
          const r = await ok(0x0615, { handle, max: 65536, timeoutMs: 500 });
          parts.push(r.data as Uint8Array);
          n += (r.data as Uint8Array).length;
        }
        const all = new Uint8Array(n);
        let o = 0;
        for (const p of parts) all.set(p, (o += p.length) - p.length);
        return all;
      };
      const [wn, r4] = await Promise.all([writeAll(gs, back, 10_000), readAll()]);
      assertEq(wn, back.length, "gadget wrote 16 KiB");
      assert(equalBytes(r4, back), `GS->ACM 16 KiB: got ${r4.length} bytes, or different`);

      // The gadget side closes: f_acm's disconnect clears DSR|DCD, the host side sees it.
      gs.close();
      gs = undefined;
      const l5 = await linesUntil(handle, (l) => !l.dsr && !l.dcd, "DSR/DCD after ttyGS0 close");
      console.log(`ttyACM0 lines, ttyGS0 closed again: ${JSON.stringify(l5)}`);
      assertEq(await ok(0x0612, { handle }), {});

      // On the USB wire (usbmon): the line settings and DTR/RTS as CDC class requests.
      await sleep(100);
      await mon.stop();
      const reqs = acmRequests(mon.lines());
      mon = undefined;
      console.log(`CDC-ACM requests on the wire: ${JSON.stringify(reqs)}`);
      const codings = reqs.filter((r) => r.req === SET_LINE_CODING).map((r) => r.data.join(","));
      // 9600 = 0x2580 LE, bCharFormat 2 (2 stop bits), bParityType 2 (even), 7 data bits.
      assert(codings.includes("128,37,0,0,2,2,7"), `no SET_LINE_CODING 9600 7E2: ${codings}`);
      // 115200 = 0x1c200 LE, 1 stop bit, no parity, 8 data bits.
      assert(codings.includes("0,194,1,0,0,0,8"), `no SET_LINE_CODING 115200 8N1: ${codings}`);
      const states = reqs.filter((r) => r.req === SET_CONTROL_LINE_STATE).map((r) => r.wValue);
      // Our four CONTROL_SETs, in order (bit 0 DTR, bit 1 RTS), then the close dropping both.
      const at = states.indexOf(0);
      assert(
        at >= 0 && JSON.stringify(states.slice(at, at + 4)) === "[0,1,2,3]",
        `SET_CONTROL_LINE_STATE sequence: ${states}`,
      );
      assertEq(states[states.length - 1], 0, "close (HUPCL) drops DTR/RTS");
      const breaks = reqs.filter((r) => r.req === SEND_BREAK).map((r) => r.wValue);
      assertEq(breaks, [], "SEND_BREAK without USB_CDC_CAP_BRK");
    } finally {
      gs?.close();
      await host?.close();
      await mon?.stop();
      await dropWorld(w);
    }
  },
});
