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
import { Libc, type LineConfig } from "./termios.ts";

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
} as const;

const MAX_PORTS = 32;
const MAX_IO = 65_536;

let libc: Libc | undefined;
let ctxRef: PluginContext | undefined;
const ports = new Map<number, { readonly fd: number; readonly path: string }>();
let nextHandle = 1;

function lib(): Libc {
  if (libc === undefined) fail(ErrorCode.SERVICE_UNAVAILABLE, "libc-not-loaded");
  return libc;
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

function port(
  m: Readonly<Record<string, unknown>>,
): { readonly fd: number; readonly path: string } {
  const p = ports.get(field(m, "handle", "number"));
  if (p === undefined) fail(ErrorCode.NOT_FOUND, "no-such-handle");
  return p;
}

/** The serial plugin: its handlers and the libc it opens at `init`. */
export default definePlugin({
  init(ctx) {
    ctxRef = ctx;
    const path = ctx.grant.ffi.libc;
    if (path === undefined) fail(ErrorCode.SERVICE_UNAVAILABLE, "ffi-libc-not-granted");
    libc = new Libc(path);
  },
  close() {
    for (const p of ports.values()) {
      try {
        libc?.close(p.fd);
      } catch { /* closing anyway */ }
    }
    ports.clear();
    libc?.unload();
    libc = undefined;
  },
  handlers: {
    [SerialOp.LIST]: (_p, ctx) => ({
      ports: ctx.grant.devices.filter((d) => /^\/dev\/tty/.test(d)).map((path) => ({ path })),
    }),
    [SerialOp.OPEN]: (payload) => {
      const m = asMap(payload);
      const path = field(m, "path", "string");
      if (!granted(path)) fail(ErrorCode.FORBIDDEN, "device-not-granted", { path });
      if (ports.size >= MAX_PORTS) fail(ErrorCode.SERVICE_UNAVAILABLE, "too-many-ports");
      const cfg = config(m, DEFAULT);
      const fd = lib().openPort(path);
      try {
        const applied = lib().configure(fd, cfg);
        const handle = nextHandle++;
        ports.set(handle, { fd, path });
        return { handle, config: applied };
      } catch (e) {
        lib().close(fd);
        throw e;
      }
    },
    [SerialOp.CLOSE]: (payload) => {
      const m = asMap(payload);
      const p = port(m);
      ports.delete(m.handle as number);
      lib().close(p.fd);
      return {};
    },
    [SerialOp.CONFIGURE]: (payload) => {
      const m = asMap(payload);
      const p = port(m);
      return { config: lib().configure(p.fd, config(m, lib().current(p.fd))) };
    },
    [SerialOp.WRITE]: async (payload) => {
      const m = asMap(payload);
      const p = port(m);
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
    [SerialOp.READ]: async (payload) => {
      const m = asMap(payload);
      const p = port(m);
      const max = m.max === undefined
        ? 4096
        : Math.min(MAX_IO, Math.max(1, field(m, "max", "number")));
      const timeoutMs = m.timeoutMs === undefined
        ? 100
        : Math.min(5000, Math.max(0, field(m, "timeoutMs", "number")));
      const end = performance.now() + timeoutMs;
      for (;;) {
        const d = lib().read(p.fd, max);
        if (d.length > 0 || performance.now() >= end) return { data: d };
        await new Promise((r) => setTimeout(r, 2));
      }
    },
    [SerialOp.CONTROL_SET]: (payload) => {
      const m = asMap(payload);
      const p = port(m);
      const set: { dtr?: boolean; rts?: boolean } = {};
      if (m.dtr !== undefined) set.dtr = field(m, "dtr", "boolean");
      if (m.rts !== undefined) set.rts = field(m, "rts", "boolean");
      return { lines: lib().modemSet(p.fd, set) };
    },
    [SerialOp.CONTROL_GET]: (payload) => ({ lines: lib().modemGet(port(asMap(payload)).fd) }),
    [SerialOp.BREAK]: (payload) => {
      const m = asMap(payload);
      const p = port(m);
      lib().sendBreak(p.fd, m.duration === undefined ? 0 : field(m, "duration", "number"));
      return {};
    },
  },
}) as PluginDefinition;
