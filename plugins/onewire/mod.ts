/**
 * 1-Wire plugin (0x0660-0x0667, draft §6.3.7): owserver (the owfs network
 * protocol, `MYCLERK_OWSERVER=host:port[,host:port...]`) and the kernel's w1
 * sysfs where it is loaded. No FFI. Payloads and the mapping of the draft's
 * bus-level operations onto owserver's device-level protocol are in
 * docs/PLUGINS.md ("1-Wire").
 *
 * A bus is shared on purpose (owserver multiplexes its clients and does each
 * transaction's reset/ROM select itself); what a session holds is its
 * selection (MATCH_ROM / SKIP_ROM), dropped when the session ends.
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
import {
  crc8,
  fullRom,
  OwClient,
  OwError,
  romBytes,
  w1Masters,
  w1ToOwId,
} from "@myclerk/hardware/onewire.ts";
import { ERRNO, errnoCode, errnoName } from "@myclerk/hardware/errno.ts";

/** 1-Wire opcodes. */
export const OneWireOp = {
  BUS_LIST: 0x0660,
  SEARCH: 0x0661,
  RESET: 0x0662,
  READ_ROM: 0x0663,
  MATCH_ROM: 0x0664,
  SKIP_ROM: 0x0665,
  READ: 0x0666,
  WRITE: 0x0667,
} as const;

const W1_ROOT = "/sys/bus/w1/devices";
const MAX_DEVICES = 64;
const MAX_IO = 8192;
const ID = /^[0-9A-F]{2}\.[0-9A-F]{12}$/;
const PROPERTY = /^[A-Za-z0-9_][A-Za-z0-9_.-]*(\/[A-Za-z0-9_][A-Za-z0-9_.-]*)*$/;

type Bus =
  | {
    readonly kind: "owserver";
    readonly id: string;
    readonly client: OwClient;
    readonly path: string;
  }
  | { readonly kind: "w1"; readonly id: string; readonly master: string };

let servers: OwClient[] = [];
let ctxRef: PluginContext | undefined;
/** What each session selected: a device id, or `*` after SKIP_ROM. */
const selection = new Map<number, { readonly bus: string; readonly device: string }>();

function parseServers(v: string | undefined): OwClient[] {
  if (v === undefined || v.trim() === "") return [];
  return v.split(",").map((s) => s.trim()).filter((s) => s !== "").map((s) => {
    const m = /^(.+):(\d{1,5})$/.exec(s);
    if (m === null) fail(ErrorCode.BAD_REQUEST, `MYCLERK_OWSERVER entry not host:port: ${s}`);
    return new OwClient({ host: m[1].replace(/^\[|\]$/g, ""), port: Number(m[2]) });
  });
}

/**
 * An owserver answer as a protocol error (docs/PLUGINS.md §9.4). owserver's
 * negative `ret` is not a kernel errno on a file: owserver 3.2 answers -1 for
 * a path it does not know (measured with `owserver --fake`: unknown property,
 * unknown device, unknown directory all give -1) and -95 for a write to a
 * read-only property, so those two are owserver's vocabulary, mapped here;
 * every other value goes through errnoCode like a kernel errno.
 */
function owFail(e: unknown): never {
  if (!(e instanceof OwError)) throw e;
  const extra = { errno: e.errno, errnoName: errnoName(e.errno), path: e.path };
  if (e.errno === 0) {
    fail(ErrorCode.SERVICE_UNAVAILABLE, "owserver-unreachable", {
      path: e.path,
      why: e.message,
    });
  }
  if (e.errno === ERRNO.EPERM || e.errno === ERRNO.ENOENT) {
    fail(ErrorCode.NOT_FOUND, "onewire-no-such-path", extra);
  }
  if (
    e.errno === ERRNO.EOPNOTSUPP || e.errno === ERRNO.EACCES || e.errno === ERRNO.EROFS
  ) {
    fail(ErrorCode.FORBIDDEN, "onewire-read-only", extra);
  }
  const code = errnoCode(e.errno);
  if (code === ErrorCode.BAD_REQUEST) fail(code, "onewire-invalid-value", extra);
  fail(code, "onewire-error", extra);
}

async function guard<T>(f: () => Promise<T>): Promise<T> {
  try {
    return await f();
  } catch (e) {
    owFail(e);
  }
}

/** Every bus: owserver's `bus.N` directories and the kernel's w1 masters. */
async function buses(): Promise<Bus[]> {
  const out: Bus[] = [];
  for (const c of servers) {
    const entries = await guard(() => c.dir("/"));
    for (const e of entries) {
      if (/^\/bus\.\d+$/.test(e)) {
        out.push({
          kind: "owserver",
          id: `${c.server.host}:${c.server.port}${e}`,
          client: c,
          path: e,
        });
      }
    }
  }
  for (const m of w1Masters(W1_ROOT)) out.push({ kind: "w1", id: m.name, master: m.name });
  return out;
}

async function bus(m: Readonly<Record<string, unknown>>): Promise<Bus> {
  const id = field(m, "bus", "string");
  const b = (await buses()).find((x) => x.id === id);
  if (b === undefined) fail(ErrorCode.NOT_FOUND, "no-such-bus", { bus: id });
  return b;
}

/** A fresh search of `b` (owserver: `/uncached/bus.N[/alarm]`; w1: the kernel's slave list). */
async function search(b: Bus, alarm = false): Promise<string[]> {
  if (b.kind === "w1") {
    if (alarm) fail(ErrorCode.UNSUPPORTED, "w1-sysfs-no-alarm-search");
    const m = w1Masters(W1_ROOT).find((x) => x.name === b.master);
    return (m?.slaves ?? []).map(w1ToOwId).slice(0, MAX_DEVICES);
  }
  const entries = await guard(() => b.client.dir(`/uncached${b.path}${alarm ? "/alarm" : ""}`));
  return entries.map((e) => e.split("/").pop()!).filter((n) => ID.test(n)).slice(0, MAX_DEVICES);
}

async function typeOf(b: Bus, id: string): Promise<string | null> {
  if (b.kind === "w1") return null;
  try {
    return new TextDecoder().decode(await b.client.read(`${b.path}/${id}/type`, 64)).trim();
  } catch {
    return null;
  }
}

/** A ROM given as an owfs id or 16 hex digits with CRC (checked). */
function romField(m: Readonly<Record<string, unknown>>): string {
  const v = field(m, "rom", "string").toUpperCase();
  if (ID.test(v)) return v;
  if (/^[0-9A-F]{16}$/.test(v)) {
    const id = `${v.slice(0, 2)}.${v.slice(2, 14)}`;
    if (crc8(romBytes(id)) !== parseInt(v.slice(14), 16)) fail(ErrorCode.BAD_REQUEST, "rom-crc");
    return id;
  }
  fail(ErrorCode.BAD_REQUEST, "field:rom", { expected: "FF.IIIIIIIIIIII or 16 hex digits" });
}

function property(m: Readonly<Record<string, unknown>>): string {
  const p = field(m, "property", "string");
  if (!PROPERTY.test(p) || p.split("/").includes("..") || p.length > 128) {
    fail(ErrorCode.BAD_REQUEST, "field:property");
  }
  return p;
}

function offsetOf(m: Readonly<Record<string, unknown>>): number {
  if (m.offset === undefined) return 0;
  const o = field(m, "offset", "number");
  if (!Number.isInteger(o) || o < 0 || o > 0xffff) fail(ErrorCode.BAD_REQUEST, "field:offset");
  return o;
}

/** The device a READ/WRITE addresses: `rom` if given, else the session's selection. */
async function target(
  m: Readonly<Record<string, unknown>>,
  session: number,
): Promise<{ readonly b: Bus; readonly device: string }> {
  if (m.rom !== undefined) return { b: await bus(m), device: romField(m) };
  const sel = selection.get(session);
  if (sel === undefined) fail(ErrorCode.BAD_REQUEST, "no-device-selected");
  const b = (await buses()).find((x) => x.id === sel.bus);
  if (b === undefined) fail(ErrorCode.NOT_FOUND, "no-such-bus", { bus: sel.bus });
  return { b, device: sel.device };
}

function text(d: Uint8Array): string | undefined {
  if (!d.every((c) => c === 9 || c === 10 || c === 13 || (c >= 32 && c < 127))) return undefined;
  return new TextDecoder().decode(d).trim();
}

/** The 1-Wire plugin. */
export default definePlugin({
  init(ctx) {
    ctxRef = ctx;
    servers = parseServers(Deno.env.get("MYCLERK_OWSERVER"));
    if (servers.length === 0 && w1Masters(W1_ROOT).length === 0) {
      fail(
        ErrorCode.SERVICE_UNAVAILABLE,
        "no-onewire: MYCLERK_OWSERVER unset and no /sys/bus/w1 master",
      );
    }
    ctxRef.log(
      `owserver: ${servers.map((c) => `${c.server.host}:${c.server.port}`).join(", ") || "none"}`,
    );
  },
  sessionClosed(sessionId) {
    selection.delete(sessionId);
  },
  handlers: {
    [OneWireOp.BUS_LIST]: async () => ({
      buses: (await buses()).map((b) => ({ bus: b.id, kind: b.kind })),
      w1Sysfs: w1Masters(W1_ROOT).length > 0,
    }),
    [OneWireOp.SEARCH]: async (payload) => {
      const m = asMap(payload);
      const b = await bus(m);
      const alarm = m.alarm === undefined ? false : field(m, "alarm", "boolean");
      const ids = await search(b, alarm);
      const devices = [];
      for (const id of ids) {
        devices.push({ id, rom: fullRom(id), family: id.slice(0, 2), type: await typeOf(b, id) });
      }
      return { devices };
    },
    [OneWireOp.RESET]: async (payload) => {
      const b = await bus(asMap(payload));
      const n = (await search(b)).length;
      return { presence: n > 0, devices: n };
    },
    [OneWireOp.READ_ROM]: async (payload) => {
      const b = await bus(asMap(payload));
      const ids = await search(b);
      if (ids.length === 0) fail(ErrorCode.NOT_FOUND, "no-presence");
      // READ ROM (0x33) with several slaves answering is a wired-AND collision.
      if (ids.length > 1) fail(ErrorCode.BAD_REQUEST, "multiple-devices", { devices: ids.length });
      return { id: ids[0], rom: fullRom(ids[0]), family: ids[0].slice(0, 2) };
    },
    [OneWireOp.MATCH_ROM]: async (payload, ctx) => {
      const m = asMap(payload);
      const b = await bus(m);
      const id = romField(m);
      if (!(await search(b)).includes(id)) fail(ErrorCode.NOT_FOUND, "no-such-device", { id });
      selection.set(ctx.peer.sessionId, { bus: b.id, device: id });
      return { selected: id, rom: fullRom(id) };
    },
    [OneWireOp.SKIP_ROM]: async (payload, ctx) => {
      const b = await bus(asMap(payload));
      const n = (await search(b)).length;
      if (n === 0) fail(ErrorCode.NOT_FOUND, "no-presence");
      selection.set(ctx.peer.sessionId, { bus: b.id, device: "*" });
      return { selected: "*", devices: n };
    },
    [OneWireOp.READ]: async (payload, ctx) => {
      const m = asMap(payload);
      const prop = property(m);
      let { b, device } = await target(m, ctx.peer.sessionId);
      if (device === "*") {
        // SKIP ROM then a read: only one slave may answer.
        const ids = await search(b);
        if (ids.length !== 1) {
          fail(ErrorCode.BAD_REQUEST, "skip-rom-read-collides", { devices: ids.length });
        }
        device = ids[0];
      }
      const length = m.length === undefined ? MAX_IO : field(m, "length", "number");
      if (!Number.isInteger(length) || length < 1 || length > MAX_IO) {
        fail(ErrorCode.BAD_REQUEST, "field:length", { max: MAX_IO });
      }
      const offset = offsetOf(m);
      let data: Uint8Array;
      if (b.kind === "w1") {
        const slave = `${device.slice(0, 2).toLowerCase()}-${device.slice(3).toLowerCase()}`;
        try {
          data = (await Deno.readFile(`${W1_ROOT}/${slave}/${prop}`)).subarray(
            offset,
            offset + length,
          );
        } catch {
          fail(ErrorCode.NOT_FOUND, "onewire-no-such-path", { path: `${slave}/${prop}` });
        }
      } else {
        const c = b.client;
        data = await guard(() => c.read(`/uncached/${device}/${prop}`, length, offset));
      }
      const t = text(data);
      return t === undefined ? { device, data } : { device, data, text: t };
    },
    [OneWireOp.WRITE]: async (payload, ctx) => {
      const m = asMap(payload);
      const prop = property(m);
      const data = m.data;
      if (!(data instanceof Uint8Array)) {
        fail(ErrorCode.BAD_REQUEST, "field:data", { expected: "bin" });
      }
      if (data.length > MAX_IO) fail(ErrorCode.TOO_LARGE, "data", { max: MAX_IO });
      const offset = offsetOf(m);
      const { b, device } = await target(m, ctx.peer.sessionId);
      if (b.kind === "w1") {
        if (device === "*") fail(ErrorCode.UNSUPPORTED, "w1-sysfs-no-broadcast");
        const slave = `${device.slice(0, 2).toLowerCase()}-${device.slice(3).toLowerCase()}`;
        try {
          await Deno.writeFile(`${W1_ROOT}/${slave}/${prop}`, data);
        } catch {
          fail(ErrorCode.FORBIDDEN, "onewire-read-only", { path: `${slave}/${prop}` });
        }
        return { device, written: data.length };
      }
      const c = b.client;
      // After SKIP ROM a write is a broadcast: owfs does those through `simultaneous/`.
      const path = device === "*"
        ? `${b.path}/simultaneous/${prop}`
        : `/uncached/${device}/${prop}`;
      await guard(() => c.write(path, data, offset));
      return { device, written: data.length };
    },
  },
}) as PluginDefinition;
