/**
 * I2C plugin (0x0630-0x0637, draft §6.3.4), in its own process with FFI to
 * libc only, through the i2c-dev binding (`@myclerk/hardware/i2c.ts`).
 * Payload tables: docs/PLUGINS.md, "I2C".
 *
 * Buses are shared on purpose: every request is one atomic kernel
 * transaction (I2C_RDWR or I2C_SMBUS, the adapter lock held throughout), so
 * no session holds a bus between requests. A bus must be one of the granted
 * device nodes (`/dev/i2c-N`), else FORBIDDEN `device-not-granted`.
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
  type RequestContext,
} from "@myclerk/plugin-sdk";
import { Libc } from "@myclerk/hardware/libc.ts";
import {
  funcNames,
  I2C,
  I2cBus,
  type I2cMessage,
  SMBUS_SIZE,
  type SmbusKind,
  type SmbusRequest,
} from "@myclerk/hardware/i2c.ts";

/** I2C opcodes. */
export const I2cOp = {
  BUS_LIST: 0x0630,
  BUS_SCAN: 0x0631,
  TRANSFER: 0x0632,
  WRITE_BYTE: 0x0633,
  READ_BYTE: 0x0634,
  WRITE_BLOCK: 0x0635,
  READ_BLOCK: 0x0636,
  SMBUS_COMMAND: 0x0637,
} as const;

let libc: Libc | undefined;
let ctxRef: PluginContext | undefined;
const open = new Map<number, I2cBus>();

type Req = Readonly<Record<string, unknown>>;

function lib(): Libc {
  if (libc === undefined) fail(ErrorCode.SERVICE_UNAVAILABLE, "libc-not-loaded");
  return libc;
}

function busNumbers(): number[] {
  return (ctxRef?.grant.devices ?? []).flatMap((d) => {
    const m = /^\/dev\/i2c-(\d+)$/.exec(d);
    return m ? [Number(m[1])] : [];
  }).sort((a, b) => a - b);
}

function busOf(m: Req): I2cBus {
  const n = field(m, "bus", "number");
  if (!busNumbers().includes(n)) fail(ErrorCode.FORBIDDEN, "device-not-granted", { bus: n });
  let b = open.get(n);
  if (b === undefined) {
    b = new I2cBus(lib(), `/dev/i2c-${n}`);
    open.set(n, b);
  }
  return b;
}

function u8(m: Req, k: string, lo = 0, hi = 0xff): number {
  const v = field(m, k, "number");
  if (!Number.isInteger(v) || v < lo || v > hi) fail(ErrorCode.BAD_REQUEST, `field:${k}`);
  return v;
}

function addrOf(m: Req): number {
  return u8(m, "addr", 0x00, 0x7f);
}

/** Selects the address; `force` (a kernel driver owns it) needs tier 3. */
function select(b: I2cBus, m: Req, ctx: RequestContext): void {
  const force = m.force === true;
  if (force && ctx.tier < 3) fail(ErrorCode.FORBIDDEN, "force-needs-tier-3", { requiredTier: 3 });
  b.select(addrOf(m), force);
}

function blockData(m: Req): Uint8Array {
  const d = bytesField(m, "data");
  if (d.length < 1 || d.length > I2C.SMBUS_BLOCK_MAX) {
    fail(ErrorCode.BAD_REQUEST, "field:data", { min: 1, max: I2C.SMBUS_BLOCK_MAX });
  }
  return d;
}

/** The I2C plugin: its handlers and the libc it opens at `init`. */
export default definePlugin({
  init(ctx) {
    ctxRef = ctx;
    const path = ctx.grant.ffi.libc;
    if (path === undefined) fail(ErrorCode.SERVICE_UNAVAILABLE, "ffi-libc-not-granted");
    libc = new Libc(path);
  },
  close() {
    for (const b of open.values()) b.close();
    open.clear();
    libc?.unload();
    libc = undefined;
  },
  handlers: {
    [I2cOp.BUS_LIST]: () => ({
      buses: busNumbers().map((n) => {
        try {
          const funcs = busOf({ bus: n }).funcs();
          return { bus: n, path: `/dev/i2c-${n}`, funcs: funcNames(funcs), funcBits: funcs };
        } catch (e) {
          return { bus: n, path: `/dev/i2c-${n}`, error: (e as Error).message };
        }
      }),
    }),
    [I2cOp.BUS_SCAN]: (payload) => {
      const m = asMap(payload);
      const b = busOf(m);
      const first = m.first === undefined ? 0x03 : u8(m, "first", 0, 0x7f);
      const last = m.last === undefined ? 0x77 : u8(m, "last", 0, 0x7f);
      if (first > last) fail(ErrorCode.BAD_REQUEST, "field:first");
      const found: number[] = [];
      for (let a = first; a <= last; a++) if (b.probe(a)) found.push(a);
      return { addresses: found };
    },
    [I2cOp.TRANSFER]: (payload) => {
      const m = asMap(payload);
      const b = busOf(m);
      const raw = m.messages;
      if (!Array.isArray(raw) || raw.length < 1 || raw.length > I2C.RDWR_MAX_MSGS) {
        fail(ErrorCode.BAD_REQUEST, "field:messages", { max: I2C.RDWR_MAX_MSGS });
      }
      let total = 0;
      const msgs: I2cMessage[] = raw.map((x) => {
        const e = asMap(x);
        const addr = u8(e, "addr", 0, 0x7f);
        if (e.write !== undefined) {
          const data = bytesField(e, "write");
          total += data.length;
          return { addr, read: false, data };
        }
        const length = field(e, "read", "number");
        if (!Number.isInteger(length) || length < 1 || length > 8192) {
          fail(ErrorCode.BAD_REQUEST, "field:read", { max: 8192 });
        }
        total += length;
        return { addr, read: true, length };
      });
      if (total > 65536) fail(ErrorCode.TOO_LARGE, "messages", { max: 65536 });
      return { reads: b.transfer(msgs) };
    },
    [I2cOp.WRITE_BYTE]: (payload, ctx) => {
      const m = asMap(payload);
      const b = busOf(m);
      select(b, m, ctx);
      const value = u8(m, "value");
      if (m.reg === undefined) b.smbus({ kind: "byte", read: false, command: 0, value });
      else b.smbus({ kind: "byte-data", read: false, command: u8(m, "reg"), value });
      return {};
    },
    [I2cOp.READ_BYTE]: (payload, ctx) => {
      const m = asMap(payload);
      const b = busOf(m);
      select(b, m, ctx);
      const r = m.reg === undefined
        ? b.smbus({ kind: "byte", read: true, command: 0 })
        : b.smbus({ kind: "byte-data", read: true, command: u8(m, "reg") });
      return { value: r.value };
    },
    [I2cOp.WRITE_BLOCK]: (payload, ctx) => {
      const m = asMap(payload);
      const b = busOf(m);
      select(b, m, ctx);
      const data = blockData(m);
      b.smbus({
        kind: m.smbus === true ? "block-data" : "i2c-block",
        read: false,
        command: u8(m, "reg"),
        data,
      });
      return { written: data.length };
    },
    [I2cOp.READ_BLOCK]: (payload, ctx) => {
      const m = asMap(payload);
      const b = busOf(m);
      select(b, m, ctx);
      if (m.smbus === true) {
        return { data: b.smbus({ kind: "block-data", read: true, command: u8(m, "reg") }).data };
      }
      const length = m.length === undefined ? I2C.SMBUS_BLOCK_MAX : u8(m, "length", 1, 32);
      return {
        data: b.smbus({ kind: "i2c-block", read: true, command: u8(m, "reg"), length }).data,
      };
    },
    [I2cOp.SMBUS_COMMAND]: (payload, ctx) => {
      const m = asMap(payload);
      const b = busOf(m);
      const kind = field(m, "kind", "string");
      if (!(kind in SMBUS_SIZE)) {
        fail(ErrorCode.BAD_REQUEST, "field:kind", { allowed: Object.keys(SMBUS_SIZE) });
      }
      select(b, m, ctx);
      const r: SmbusRequest = {
        kind: kind as SmbusKind,
        read: m.read === true,
        command: m.command === undefined ? 0 : u8(m, "command"),
        ...(m.value !== undefined ? { value: u8(m, "value", 0, 0xffff) } : {}),
        ...(m.data !== undefined ? { data: blockData(m) } : {}),
        ...(m.length !== undefined ? { length: u8(m, "length", 1, 32) } : {}),
      };
      return b.smbus(r);
    },
  },
}) as PluginDefinition;
