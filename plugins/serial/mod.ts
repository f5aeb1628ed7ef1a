/**
 * Serial plugin (0x0610-0x061F, draft §6.3.2), in its own process with FFI
 * to libc only. Payloads (MessagePack maps; the draft defines none):
 *
 * | opcode | request | response |
 * |---|---|---|
 * | 0x0610 LIST | `{}` | `{ ports: [{ path }] }` (granted devices) |
 * | 0x0611 OPEN | `{ path, baud?, dataBits?, parity?, stopBits?, flow? }` | `{ handle, config }` |
 * | 0x0612 CLOSE | `{ handle }` | `{}` |
 * | 0x0613 CONFIGURE | `{ handle, baud?, ... }` | `{ config }` as the kernel holds it |
 * | 0x0614 WRITE | `{ handle, data: bin }` | `{ written }` |
 * | 0x0615 READ | `{ handle, max?, timeoutMs? }` | `{ data: bin }` (empty on timeout) |
 * | 0x0616 CONTROL_SET | `{ handle, dtr?, rts? }` | `{ lines }` (tier 3) |
 * | 0x0617 CONTROL_GET | `{ handle }` | `{ lines: { dtr, rts, cts, dsr, dcd, ri } }` |
 * | 0x0618 BREAK | `{ handle, duration? }` | `{}` (tier 3) |
 * | 0x0619 DATA_EVENT (push) | - | `{ handle, seq, data: bin, total }` |
 * | 0x061A LINES_EVENT (push) | - | `{ handle, seq, lines, changed: [name] }` |
 * | (push on hangup) 0x0619 | - | `{ handle, seq, data: bin(0), total, hangup: true }` |
 *
 * OPEN with `events: true` pushes received data (and modem-line changes,
 * where the driver has TIOCMGET) to the session that opened the port
 * instead of waiting for READ (READ is then BAD_REQUEST `events-on`). The
 * stream is bounded by back-pressure: at most `maxBytesPerSec` (default
 * 1 MiB/s) are read from the kernel; above it the plugin stops reading, the
 * kernel's tty buffer fills and the line's flow control (RTS/CTS or
 * XON/XOFF when configured) holds the sender. Nothing is dropped by the
 * plugin. A port is held by the session that opened it; that session ending
 * closes it.
 *
 * Defaults: 115200 8N1, no flow control. A path must be one of the granted
 * devices (detected serial bus devices, or granted read+write paths under
 * /dev) else FORBIDDEN `device-not-granted`.
 *
 * @module
 */
import {
  asMap,
  definePlugin,
  ErrorCode,
  fail,
  field,
  type PluginContext,
  type PluginDefinition,
} from "@myclerk/plugin-sdk";
import { type LineConfig, type ModemLines, Termios } from "@myclerk/hardware/termios.ts";
import { Libc, SYS } from "@myclerk/hardware/libc.ts";
import { HoldTable } from "@myclerk/hardware/holds.ts";

/** Serial opcodes. */
export const SerialOp = {
  LIST: 0x0610,
  OPEN: 0x0611,
  CLOSE: 0x0612,
  CONFIGURE: 0x0613,
  WRITE: 0x0614,
  READ: 0x0615,
  CONTROL_SET: 0x0616,
  CONTROL_GET: 0x0617,
  BREAK: 0x0618,
  DATA_EVENT: 0x0619,
  LINES_EVENT: 0x061a,
} as const;

/** Default and largest event stream rate of one port (bytes per second). */
export const STREAM_RATE = { default: 1 << 20, max: 16 << 20 } as const;
/** Largest data chunk of one DATA_EVENT. */
const EVENT_CHUNK = 4096;
/** How long one poll blocks a pool thread before the loop looks at its stop flag and the modem lines. */
const POLL_MS = 50;

interface Stream {
  stopped: boolean;
  done: Promise<void>;
  seq: number;
  total: number;
  readonly rate: number;
  tokens: number;
  last: number;
}

interface Port {
  readonly fd: number;
  stream?: Stream;
}

const MAX_PORTS = 32;
const MAX_IO = 65_536;

/** The one libc binding of this plugin (termios calls and pollAsync both go through it). */
let libc: Libc | undefined;
let tty: Termios | undefined;
let ctxRef: PluginContext | undefined;
/**
 * Open ports by handle. One handle per path: two fds on one tty would split
 * its input between them, so even the same session cannot open a held path.
 */
const ports = new HoldTable<Port>(MAX_PORTS, { oneHandlePerKey: true });

function lib(): Termios {
  if (tty === undefined) fail(ErrorCode.SERVICE_UNAVAILABLE, "libc-not-loaded");
  return tty;
}

function granted(path: string): boolean {
  if (path.split("/").includes("..")) return false;
  return (ctxRef?.grant.devices ?? []).some((d) => path === d || path.startsWith(d + "/"));
}

function config(m: Readonly<Record<string, unknown>>, base: LineConfig): LineConfig {
  const pick = <T>(k: string, ok: readonly T[], dflt: T): T => {
    const v = m[k];
    if (v === undefined) return dflt;
    if (!ok.includes(v as T)) {
      fail(ErrorCode.BAD_REQUEST, `field:${k}`, { allowed: ok as unknown[] });
    }
    return v as T;
  };
  const baud = m.baud === undefined ? base.baud : field(m, "baud", "number");
  return {
    baud,
    dataBits: pick("dataBits", [5, 6, 7, 8] as const, base.dataBits),
    parity: pick("parity", ["none", "even", "odd"] as const, base.parity),
    stopBits: pick("stopBits", [1, 2] as const, base.stopBits),
    flow: pick("flow", ["none", "rtscts", "xonxoff"] as const, base.flow),
  };
}

const DEFAULT: LineConfig = {
  baud: 115200,
  dataBits: 8,
  parity: "none",
  stopBits: 1,
  flow: "none",
};

/** The caller's port; another session's handle is NOT_FOUND. */
function port(m: Readonly<Record<string, unknown>>, session: number): Port {
  return ports.get(session, field(m, "handle", "number")).value;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function sameLines(a: ModemLines, b: ModemLines): boolean {
  return (Object.keys(a) as (keyof ModemLines)[]).every((k) => a[k] === b[k]);
}

/** Pushes what the line receives (and modem-line changes) to the port's session, rate-bounded. */
async function streamLoop(handle: number, session: number, p: Port, st: Stream): Promise<void> {
  const emit = (op: number, payload: Record<string, unknown>) =>
    ctxRef?.emit(op, { handle, seq: ++st.seq, ...payload }, session);
  let lines: ModemLines | undefined;
  let linesOk = true;
  try {
    lines = lib().modemGet(p.fd);
  } catch {
    linesOk = false; // a PTY (or u_serial) has no modem lines
  }
  while (!st.stopped) {
    const now = performance.now();
    st.tokens = Math.min(st.rate, st.tokens + ((now - st.last) / 1000) * st.rate);
    st.last = now;
    if (st.tokens < 1) {
      // Back-pressure: leave the bytes in the kernel until the budget refills.
      await sleep(Math.max(1, Math.ceil((1 - st.tokens) * 1000 / st.rate)));
      continue;
    }
    const rev = await libc!.pollAsync(p.fd, SYS.POLLIN, POLL_MS);
    if (st.stopped) return;
    if (rev > 0) {
      let d = new Uint8Array(0);
      let failed = false;
      if ((rev & SYS.POLLIN) !== 0) {
        try {
          d = lib().read(p.fd, Math.max(1, Math.min(EVENT_CHUNK, Math.floor(st.tokens))));
        } catch {
          failed = true; // EIO: the other side hung up
        }
      }
      if (d.length > 0) {
        st.tokens -= d.length;
        st.total += d.length;
        emit(SerialOp.DATA_EVENT, { data: d, total: st.total });
      } else if (failed || (rev & (SYS.POLLHUP | SYS.POLLERR | SYS.POLLNVAL)) !== 0) {
        emit(SerialOp.DATA_EVENT, { data: new Uint8Array(0), total: st.total, hangup: true });
        return;
      }
    }
    if (linesOk) {
      try {
        const now2 = lib().modemGet(p.fd);
        if (lines !== undefined && !sameLines(lines, now2)) {
          const changed = (Object.keys(now2) as (keyof ModemLines)[]).filter((k) =>
            lines![k] !== now2[k]
          );
          emit(SerialOp.LINES_EVENT, { lines: now2, changed });
        }
        lines = now2;
      } catch {
        linesOk = false;
      }
    }
  }
}

/** Stops the port's stream (waits for its pool-thread poll), closes the fd (already taken from the table). */
async function closePort(p: Port): Promise<void> {
  if (p.stream !== undefined) {
    p.stream.stopped = true;
    await p.stream.done;
  }
  lib().close(p.fd);
}

/** The serial plugin: its handlers and the libc it opens at `init`. */
export default definePlugin({
  init(ctx) {
    ctxRef = ctx;
    const path = ctx.grant.ffi.libc;
    if (path === undefined) fail(ErrorCode.SERVICE_UNAVAILABLE, "ffi-libc-not-granted");
    libc = new Libc(path);
    tty = new Termios(libc);
  },
  async close() {
    for (const h of ports.takeAll()) {
      try {
        await closePort(h.value);
      } catch { /* closing anyway */ }
    }
    libc?.unload();
    libc = undefined;
    tty = undefined;
  },
  async sessionClosed(sessionId) {
    for (const h of ports.takeSession(sessionId)) await closePort(h.value);
  },
  events: [SerialOp.DATA_EVENT, SerialOp.LINES_EVENT],
  handlers: {
    [SerialOp.LIST]: (_p, ctx) => ({
      ports: ctx.grant.devices.filter((d) => /^\/dev\/tty/.test(d)).map((path) => ({ path })),
    }),
    [SerialOp.OPEN]: (payload, ctx) => {
      const m = asMap(payload);
      const path = field(m, "path", "string");
      if (!granted(path)) fail(ErrorCode.FORBIDDEN, "device-not-granted", { path });
      const cfg = config(m, DEFAULT);
      const events = m.events === undefined ? false : field(m, "events", "boolean");
      const rate = m.maxBytesPerSec === undefined
        ? STREAM_RATE.default
        : field(m, "maxBytesPerSec", "number");
      if (!Number.isInteger(rate) || rate < 1 || rate > STREAM_RATE.max) {
        fail(ErrorCode.BAD_REQUEST, "field:maxBytesPerSec", { max: STREAM_RATE.max });
      }
      const session = ctx.peer.sessionId;
      ports.check(session, path, false, { path });
      const fd = lib().openPort(path);
      try {
        const applied = lib().configure(fd, cfg);
        const p: Port = { fd };
        const handle = ports.add(session, path, false, p).handle;
        if (events) {
          // Start with a full second's budget, capped at one chunk's worth of burst per poll.
          const st: Stream = {
            stopped: false,
            done: Promise.resolve(),
            seq: 0,
            total: 0,
            rate,
            tokens: Math.min(rate, EVENT_CHUNK),
            last: performance.now(),
          };
          p.stream = st;
          st.done = streamLoop(handle, session, p, st);
        }
        return { handle, config: applied, events, ...(events ? { maxBytesPerSec: rate } : {}) };
      } catch (e) {
        lib().close(fd);
        throw e;
      }
    },
    [SerialOp.CLOSE]: async (payload, ctx) => {
      await closePort(
        ports.take(ctx.peer.sessionId, field(asMap(payload), "handle", "number")).value,
      );
      return {};
    },
    [SerialOp.CONFIGURE]: (payload, ctx) => {
      const m = asMap(payload);
      const p = port(m, ctx.peer.sessionId);
      return { config: lib().configure(p.fd, config(m, lib().current(p.fd))) };
    },
    [SerialOp.WRITE]: async (payload, ctx) => {
      const m = asMap(payload);
      const p = port(m, ctx.peer.sessionId);
      const data = m.data;
      if (!(data instanceof Uint8Array)) fail(ErrorCode.BAD_REQUEST, "field:data");
      if (data.length > MAX_IO) fail(ErrorCode.TOO_LARGE, "data", { max: MAX_IO });
      let off = 0;
      // The fd is non-blocking: retry a full kernel buffer a bounded number of times.
      for (let tries = 0; off < data.length && tries < 200; tries++) {
        const n = lib().write(p.fd, data.subarray(off));
        off += n;
        if (n === 0) await new Promise((r) => setTimeout(r, 5));
      }
      return { written: off };
    },
    [SerialOp.READ]: async (payload, ctx) => {
      const m = asMap(payload);
      const p = port(m, ctx.peer.sessionId);
      if (p.stream !== undefined) fail(ErrorCode.BAD_REQUEST, "events-on");
      const max = m.max === undefined
        ? 4096
        : Math.min(MAX_IO, Math.max(1, field(m, "max", "number")));
      const timeoutMs = m.timeoutMs === undefined
        ? 100
        : Math.min(5000, Math.max(0, field(m, "timeoutMs", "number")));
      const handle = field(m, "handle", "number");
      const end = performance.now() + timeoutMs;
      let hungUp = false;
      for (;;) {
        const d = lib().read(p.fd, max);
        const left = end - performance.now();
        if (d.length > 0 || left <= 0 || hungUp) return { data: d };
        // Wait for the bytes in the kernel (poll on a pool thread), not on a timer: a timer
        // costs 1-3 ms per turn whatever its delay, which was most of a READ's latency. In
        // slices, so a CLOSE meanwhile is noticed before the fd is touched again.
        const rev = await libc!.pollAsync(p.fd, SYS.POLLIN, Math.min(POLL_MS, Math.ceil(left)));
        if (ports.find(handle)?.value !== p) fail(ErrorCode.NOT_FOUND, "no-such-handle");
        if (rev < 0) await sleep(2); // the poll itself failed: never spin on it
        // A hung-up line polls ready forever: read what is left once more, then answer.
        hungUp = rev > 0 && (rev & (SYS.POLLHUP | SYS.POLLERR | SYS.POLLNVAL)) !== 0;
      }
    },
    [SerialOp.CONTROL_SET]: (payload, ctx) => {
      const m = asMap(payload);
      const p = port(m, ctx.peer.sessionId);
      const set: { dtr?: boolean; rts?: boolean } = {};
      if (m.dtr !== undefined) set.dtr = field(m, "dtr", "boolean");
      if (m.rts !== undefined) set.rts = field(m, "rts", "boolean");
      return { lines: lib().modemSet(p.fd, set) };
    },
    [SerialOp.CONTROL_GET]: (payload, ctx) => ({
      lines: lib().modemGet(port(asMap(payload), ctx.peer.sessionId).fd),
    }),
    [SerialOp.BREAK]: (payload, ctx) => {
      const m = asMap(payload);
      const p = port(m, ctx.peer.sessionId);
      lib().sendBreak(p.fd, m.duration === undefined ? 0 : field(m, "duration", "number"));
      return {};
    },
  },
}) as PluginDefinition;
