/**
 * SPI plugin (0x0640-0x0646, draft §6.3.5), in its own process with FFI to
 * libc only, through the spidev binding (`@myclerk/hardware/spi.ts`).
 * Payload tables: docs/PLUGINS.md, "SPI".
 *
 * A device is held by the session that opened it (others get
 * SERVICE_UNAVAILABLE `device-busy`) unless every holder opened it with
 * `shared: true`; a session that ends releases its handles.
 *
 * @module
 */
import {
  asMap,
  bytesField,
  definePlugin,
  ErrorCode,
  fail,
  field,
  type PluginContext,
  type PluginDefinition,
} from "@myclerk/plugin-sdk";
import { Libc } from "@myclerk/hardware/libc.ts";
import { HoldTable } from "@myclerk/hardware/holds.ts";
import { SPI, type SpiConfig, SpiDevice, type SpiSegment } from "@myclerk/hardware/spi.ts";

/** SPI opcodes. */
export const SpiOp = {
  BUS_LIST: 0x0640,
  DEVICE_OPEN: 0x0641,
  DEVICE_CLOSE: 0x0642,
  CONFIGURE: 0x0643,
  TRANSFER: 0x0644,
  WRITE: 0x0645,
  READ: 0x0646,
} as const;

let libc: Libc | undefined;
let ctxRef: PluginContext | undefined;
const holds = new HoldTable<SpiDevice>(32);

type Req = Readonly<Record<string, unknown>>;

function lib(): Libc {
  if (libc === undefined) fail(ErrorCode.SERVICE_UNAVAILABLE, "libc-not-loaded");
  return libc;
}

function devices(): string[] {
  return (ctxRef?.grant.devices ?? []).filter((d) => /^\/dev\/spidev\d+\.\d+$/.test(d)).sort();
}

function num(m: Req, k: string, lo: number, hi: number): number {
  const v = field(m, k, "number");
  if (!Number.isInteger(v) || v < lo || v > hi) fail(ErrorCode.BAD_REQUEST, `field:${k}`);
  return v;
}

/** Settings from a request: `mode` 0-3 or raw mode bits, `bitsPerWord`, `speedHz`. */
function settings(m: Req): Partial<SpiConfig> {
  const out: { mode?: number; bitsPerWord?: number; maxSpeedHz?: number } = {};
  if (m.mode !== undefined) out.mode = num(m, "mode", 0, 0xffff);
  if (m.bitsPerWord !== undefined) out.bitsPerWord = num(m, "bitsPerWord", 1, 32);
  if (m.speedHz !== undefined) out.maxSpeedHz = num(m, "speedHz", 1, 200_000_000);
  return out;
}

function view(c: SpiConfig) {
  return {
    mode: c.mode & 3,
    modeBits: c.mode,
    bitsPerWord: c.bitsPerWord,
    speedHz: c.maxSpeedHz,
    csHigh: (c.mode & SPI.CS_HIGH) !== 0,
    lsbFirst: (c.mode & SPI.LSB_FIRST) !== 0,
  };
}

function segOpts(m: Req): Omit<SpiSegment, "length" | "read" | "tx"> {
  return {
    ...(m.speedHz !== undefined ? { speedHz: num(m, "speedHz", 1, 200_000_000) } : {}),
    ...(m.bitsPerWord !== undefined ? { bitsPerWord: num(m, "bitsPerWord", 1, 32) } : {}),
    ...(m.delayUsecs !== undefined ? { delayUsecs: num(m, "delayUsecs", 0, 0xffff) } : {}),
    ...(m.csChange !== undefined ? { csChange: m.csChange === true } : {}),
  };
}

/** The SPI plugin: its handlers and the libc it opens at `init`. */
export default definePlugin({
  init(ctx) {
    ctxRef = ctx;
    const path = ctx.grant.ffi.libc;
    if (path === undefined) fail(ErrorCode.SERVICE_UNAVAILABLE, "ffi-libc-not-granted");
    libc = new Libc(path);
  },
  close() {
    for (const h of holds.takeAll()) h.value.close();
    libc?.unload();
    libc = undefined;
  },
  sessionClosed(sessionId) {
    for (const h of holds.takeSession(sessionId)) h.value.close();
  },
  handlers: {
    [SpiOp.BUS_LIST]: (_p, ctx) => ({
      devices: devices().map((path) => {
        const [, bus, cs] = /spidev(\d+)\.(\d+)$/.exec(path)!;
        const holders = holds.holders(path);
        return {
          path,
          bus: Number(bus),
          cs: Number(cs),
          held: holders.length > 0,
          heldByYou: holders.includes(ctx.peer.sessionId),
        };
      }),
    }),
    [SpiOp.DEVICE_OPEN]: (payload, ctx) => {
      const m = asMap(payload);
      const path = field(m, "path", "string");
      if (!devices().includes(path)) fail(ErrorCode.FORBIDDEN, "device-not-granted", { path });
      const shared = m.shared === true;
      holds.check(ctx.peer.sessionId, path, shared);
      const cfg = settings(m);
      const dev = new SpiDevice(lib(), path);
      try {
        const config = Object.keys(cfg).length > 0 ? dev.configure(cfg) : dev.config();
        const h = holds.add(ctx.peer.sessionId, path, shared, dev);
        return { handle: h.handle, config: view(config) };
      } catch (e) {
        dev.close();
        throw e;
      }
    },
    [SpiOp.DEVICE_CLOSE]: (payload, ctx) => {
      holds.take(ctx.peer.sessionId, asMap(payload).handle).value.close();
      return {};
    },
    [SpiOp.CONFIGURE]: (payload, ctx) => {
      const m = asMap(payload);
      const dev = holds.get(ctx.peer.sessionId, m.handle).value;
      return { config: view(dev.configure(settings(m))) };
    },
    [SpiOp.TRANSFER]: (payload, ctx) => {
      const m = asMap(payload);
      const dev = holds.get(ctx.peer.sessionId, m.handle).value;
      if (m.segments !== undefined) {
        if (!Array.isArray(m.segments) || m.segments.length < 1 || m.segments.length > 64) {
          fail(ErrorCode.BAD_REQUEST, "field:segments", { max: 64 });
        }
        const segs: SpiSegment[] = m.segments.map((x) => {
          const s = asMap(x);
          const tx = s.tx === undefined ? undefined : bytesField(s, "tx");
          const length = tx?.length ?? num(s, "length", 1, SPI.MAX_MESSAGE);
          return { ...segOpts(s), tx, length, read: s.read !== false };
        });
        return { segments: dev.transfer(segs) };
      }
      const tx = bytesField(m, "data");
      if (tx.length < 1) fail(ErrorCode.BAD_REQUEST, "field:data");
      return { data: dev.transfer([{ ...segOpts(m), tx, length: tx.length, read: true }])[0] };
    },
    [SpiOp.WRITE]: (payload, ctx) => {
      const m = asMap(payload);
      const dev = holds.get(ctx.peer.sessionId, m.handle).value;
      const tx = bytesField(m, "data");
      if (tx.length < 1) fail(ErrorCode.BAD_REQUEST, "field:data");
      dev.transfer([{ ...segOpts(m), tx, length: tx.length, read: false }]);
      return { written: tx.length };
    },
    [SpiOp.READ]: (payload, ctx) => {
      const m = asMap(payload);
      const dev = holds.get(ctx.peer.sessionId, m.handle).value;
      const length = num(m, "length", 1, SPI.MAX_MESSAGE);
      // Clocks out `fill` (default 0x00) while reading, as a read-only SPI transaction does.
      const fill = m.fill === undefined ? 0 : num(m, "fill", 0, 0xff);
      const tx = fill === 0 ? undefined : new Uint8Array(length).fill(fill);
      return { data: dev.transfer([{ ...segOpts(m), tx, length, read: true }])[0] };
    },
  },
}) as PluginDefinition;
