/**
 * USB plugin (0x0600-0x060B, draft §6.3.1), in its own process with FFI to
 * libusb-1.0 only. Payloads are MessagePack maps; the tables are in
 * docs/PLUGINS.md ("USB"). A device is held by one session at a time: the
 * session that attached it; a session that ends (or the plugin closing)
 * releases its interfaces and gives detached interfaces back to their
 * kernel drivers.
 *
 * Transfers never block the plugin's event loop: libusb's blocking calls are
 * bound `nonblocking` (hardware/usb.ts), so heartbeats and other sessions'
 * requests keep being answered while a bulk IN waits.
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
import { Libusb, UsbCallError, UsbError, type UsbHandle } from "@myclerk/hardware/usb.ts";
import { HoldTable } from "@myclerk/hardware/holds.ts";

/** USB opcodes. */
export const UsbOp = {
  DEVICE_LIST: 0x0600,
  DEVICE_ATTACH: 0x0601,
  DEVICE_DETACH: 0x0602,
  CONTROL_TRANSFER: 0x0603,
  BULK_TRANSFER: 0x0604,
  INTERRUPT_TRANSFER: 0x0605,
  ISOCHRONOUS_TRANSFER: 0x0606,
  GET_DESCRIPTOR: 0x0607,
  SET_CONFIGURATION: 0x0608,
  SET_INTERFACE: 0x0609,
  CLEAR_HALT: 0x060a,
  RESET: 0x060b,
} as const;

/** Largest bulk/interrupt/control/isochronous payload one request moves. */
export const MAX_TRANSFER = 1 << 18;
/** Longest transfer timeout a request may ask for (below the plugin's request deadline). */
export const MAX_TIMEOUT_MS = 8000;
const MAX_HANDLES = 32;
const MAX_ISO_PACKETS = 128;

interface Held {
  readonly h: UsbHandle;
  readonly claimed: Set<number>;
  readonly detached: Set<number>;
}

let usb: Libusb | undefined;
let ctxRef: PluginContext | undefined;
/**
 * Attached devices by handle, keyed by `BUS-ADDRESS`. One handle per device:
 * it claims the device's interfaces, which a second handle could not.
 */
const handles = new HoldTable<Held>(MAX_HANDLES, { oneHandlePerKey: true });

function lib(): Libusb {
  if (usb === undefined) fail(ErrorCode.SERVICE_UNAVAILABLE, "libusb-not-loaded");
  return usb;
}

/** The usbfs node of a `BUS-ADDRESS` id. */
function nodeOf(id: string): string {
  const [b, a] = id.split("-").map(Number);
  return `/dev/bus/usb/${String(b).padStart(3, "0")}/${String(a).padStart(3, "0")}`;
}

function granted(id: string): boolean {
  const path = nodeOf(id);
  return (ctxRef?.grant.devices ?? []).some((d) => path === d || path.startsWith(d + "/"));
}

/** Maps a libusb failure to a protocol error (the libusb name stays in `usb`). */
function usbFail(e: unknown): never {
  if (!(e instanceof UsbCallError)) throw e;
  const extra = { usb: e.errName, fn: e.fn };
  switch (e.rc) {
    case UsbError.NO_DEVICE:
    case UsbError.NOT_FOUND:
      fail(ErrorCode.NOT_FOUND, "usb-not-found", extra);
      break;
    case UsbError.BUSY:
      fail(ErrorCode.SERVICE_UNAVAILABLE, "usb-busy", extra);
      break;
    case UsbError.ACCESS:
      fail(ErrorCode.FORBIDDEN, "usb-access", extra);
      break;
    case UsbError.INVALID_PARAM:
      fail(ErrorCode.BAD_REQUEST, "usb-invalid-param", extra);
      break;
    case UsbError.NOT_SUPPORTED:
      fail(ErrorCode.UNSUPPORTED, "usb-not-supported", extra);
      break;
    case UsbError.TIMEOUT:
      fail(ErrorCode.TIMEOUT, "usb-timeout", extra);
      break;
    default:
      fail(ErrorCode.INTERNAL_ERROR, "usb-error", extra);
  }
}

async function guard<T>(f: () => T | Promise<T>): Promise<T> {
  try {
    return await f();
  } catch (e) {
    usbFail(e);
  }
}

function int(m: Readonly<Record<string, unknown>>, k: string, lo: number, hi: number): number {
  const v = field(m, k, "number");
  if (!Number.isInteger(v) || v < lo || v > hi) {
    fail(ErrorCode.BAD_REQUEST, `field:${k}`, { min: lo, max: hi });
  }
  return v;
}

function optInt(
  m: Readonly<Record<string, unknown>>,
  k: string,
  lo: number,
  hi: number,
  dflt: number,
): number {
  return m[k] === undefined ? dflt : int(m, k, lo, hi);
}

/** The caller's own handle; another session's handle is NOT_FOUND (ids are not secrets, but not shared). */
function held(m: Readonly<Record<string, unknown>>, session: number): Held {
  return handles.get(session, field(m, "handle", "number")).value;
}

/** Releases what `x` holds and gives detached interfaces back to their kernel drivers. */
function release(x: Held): number[] {
  const l = lib();
  const reattached: number[] = [];
  for (const i of x.claimed) {
    try {
      l.release(x.h, i);
    } catch { /* device gone: nothing to release */ }
  }
  x.claimed.clear();
  for (const i of x.detached) {
    try {
      l.attachKernelDriver(x.h, i);
      reattached.push(i);
    } catch (e) {
      ctxRef?.log(`usb: re-attach of interface ${i} on ${x.h.id} failed:`, String(e));
    }
  }
  x.detached.clear();
  l.close(x.h);
  return reattached;
}

/** Releases every handle `session` holds (session closed). */
export function releaseSession(session: number): void {
  for (const x of handles.takeSession(session)) release(x.value);
}

/** OUT data (`data: bin`) or an IN length (`length`), by the endpoint's direction bit. */
function direction(
  m: Readonly<Record<string, unknown>>,
  isIn: boolean,
  maxLen = MAX_TRANSFER,
): Uint8Array {
  if (isIn) return new Uint8Array(int(m, "length", 0, maxLen));
  // A control OUT may carry no data stage (SET_FEATURE, SET_ADDRESS...).
  if (maxLen === 0xffff && m.data === undefined) return new Uint8Array(0);
  const d = m.data;
  if (!(d instanceof Uint8Array)) fail(ErrorCode.BAD_REQUEST, "field:data", { expected: "bin" });
  if (d.length > maxLen) fail(ErrorCode.TOO_LARGE, "data", { max: maxLen });
  return d;
}

async function bulkOrInterrupt(
  kind: "bulk" | "interrupt",
  payload: unknown,
  session: number,
): Promise<Record<string, unknown>> {
  const m = asMap(payload);
  const x = held(m, session);
  const ep = int(m, "endpoint", 0x01, 0xff);
  const isIn = (ep & 0x80) !== 0;
  const buf = direction(m, isIn);
  const timeoutMs = optInt(m, "timeoutMs", 0, MAX_TIMEOUT_MS, 1000);
  try {
    const r = await lib().transfer(kind, x.h, ep, buf, timeoutMs === 0 ? 1 : timeoutMs);
    const status = r.timedOut ? "timed-out" : "completed";
    return isIn ? { status, data: buf.slice(0, r.length) } : { status, written: r.length };
  } catch (e) {
    if (e instanceof UsbCallError && e.rc === UsbError.PIPE) return { status: "stall" };
    if (e instanceof UsbCallError && e.rc === UsbError.OVERFLOW) return { status: "overflow" };
    usbFail(e);
  }
}

/** The USB plugin. */
export default definePlugin({
  init(ctx) {
    ctxRef = ctx;
    const path = ctx.grant.ffi.libusb;
    if (path === undefined) fail(ErrorCode.SERVICE_UNAVAILABLE, "ffi-libusb-not-granted");
    usb = new Libusb(path);
  },
  close() {
    for (const x of handles.takeAll()) {
      try {
        release(x.value);
      } catch { /* closing anyway */ }
    }
    usb?.unload();
    usb = undefined;
  },
  sessionClosed(sessionId) {
    releaseSession(sessionId);
  },
  handlers: {
    [UsbOp.DEVICE_LIST]: () =>
      guard(() => ({
        devices: lib().list().filter((d) => granted(d.id)).map((d) => ({
          ...d,
          heldBy: handles.holders(d.id).length > 0 ? "session" : null,
        })),
      })),
    [UsbOp.DEVICE_ATTACH]: async (payload, ctx) => {
      const m = asMap(payload);
      const id = field(m, "device", "string");
      if (!/^\d{1,3}-\d{1,3}$/.test(id)) fail(ErrorCode.BAD_REQUEST, "field:device");
      if (!granted(id)) fail(ErrorCode.FORBIDDEN, "device-not-granted", { device: id });
      const session = ctx.peer.sessionId;
      handles.check(session, id, false);
      const detachKernel = m.detachKernel === undefined
        ? true
        : field(m, "detachKernel", "boolean");
      const want = m.interfaces;
      if (
        want !== undefined &&
        (!Array.isArray(want) || !want.every((i) => Number.isInteger(i) && i >= 0 && i < 32))
      ) {
        fail(ErrorCode.BAD_REQUEST, "field:interfaces");
      }
      const h = await guard(() => lib().open(id));
      const x: Held = { h, claimed: new Set(), detached: new Set() };
      try {
        const ifaces = (want as number[] | undefined) ??
          [
            ...new Set(
              lib().list().find((d) => d.id === id)?.config?.interfaces.map((i) => i.interface) ??
                [],
            ),
          ];
        for (const i of ifaces) {
          if (lib().kernelDriverActive(h, i)) {
            if (!detachKernel) {
              throw new UsbCallError("libusb_claim_interface", UsbError.BUSY, "LIBUSB_ERROR_BUSY");
            }
            lib().detachKernelDriver(h, i);
            x.detached.add(i);
          }
          lib().claim(h, i);
          x.claimed.add(i);
        }
      } catch (e) {
        release(x);
        usbFail(e);
      }
      const n = handles.add(session, id, false, x).handle;
      return { handle: n, claimed: [...x.claimed], detached: [...x.detached] };
    },
    [UsbOp.DEVICE_DETACH]: (payload, ctx) => {
      const m = asMap(payload);
      return {
        reattached: release(handles.take(ctx.peer.sessionId, field(m, "handle", "number")).value),
      };
    },
    [UsbOp.CONTROL_TRANSFER]: async (payload, ctx) => {
      const m = asMap(payload);
      const x = held(m, ctx.peer.sessionId);
      const requestType = int(m, "requestType", 0, 0xff);
      const isIn = (requestType & 0x80) !== 0;
      const buf = direction(m, isIn, 0xffff);
      const args = [
        requestType,
        int(m, "request", 0, 0xff),
        optInt(m, "value", 0, 0xffff, 0),
        optInt(m, "index", 0, 0xffff, 0),
      ] as const;
      const timeoutMs = optInt(m, "timeoutMs", 1, MAX_TIMEOUT_MS, 1000);
      try {
        const n = await lib().control(x.h, ...args, buf, timeoutMs);
        return isIn
          ? { status: "completed", data: buf.slice(0, n) }
          : { status: "completed", written: n };
      } catch (e) {
        if (e instanceof UsbCallError && e.rc === UsbError.PIPE) return { status: "stall" };
        if (e instanceof UsbCallError && e.rc === UsbError.TIMEOUT) return { status: "timed-out" };
        usbFail(e);
      }
    },
    [UsbOp.BULK_TRANSFER]: (p, ctx) => bulkOrInterrupt("bulk", p, ctx.peer.sessionId),
    [UsbOp.INTERRUPT_TRANSFER]: (p, ctx) => bulkOrInterrupt("interrupt", p, ctx.peer.sessionId),
    [UsbOp.ISOCHRONOUS_TRANSFER]: async (payload, ctx) => {
      const m = asMap(payload);
      const x = held(m, ctx.peer.sessionId);
      const ep = int(m, "endpoint", 0x01, 0xff);
      const packets = int(m, "packets", 1, MAX_ISO_PACKETS);
      const packetSize = int(m, "packetSize", 1, 3 * 1024);
      if (packets * packetSize > MAX_TRANSFER) {
        fail(ErrorCode.TOO_LARGE, "packets", { max: MAX_TRANSFER });
      }
      const isIn = (ep & 0x80) !== 0;
      let out: Uint8Array | undefined;
      if (!isIn) {
        const d = m.data;
        if (!(d instanceof Uint8Array)) {
          fail(ErrorCode.BAD_REQUEST, "field:data", { expected: "bin" });
        }
        out = d;
      }
      const timeoutMs = optInt(m, "timeoutMs", 1, MAX_TIMEOUT_MS, 1000);
      const r = await guard(() => lib().iso(x.h, ep, packets, packetSize, out, timeoutMs));
      return {
        status: r.status,
        packets: r.packets,
        ...(isIn ? { data: r.data } : {}),
      };
    },
    [UsbOp.GET_DESCRIPTOR]: async (payload, ctx) => {
      const m = asMap(payload);
      const x = held(m, ctx.peer.sessionId);
      const type = int(m, "type", 1, 0xff);
      const index = optInt(m, "index", 0, 0xff, 0);
      const langId = optInt(m, "langId", 0, 0xffff, type === 3 && index !== 0 ? 0x0409 : 0);
      const buf = new Uint8Array(optInt(m, "length", 2, 0xffff, 4096));
      try {
        const n = await lib().control(x.h, 0x80, 6, (type << 8) | index, langId, buf, 1000);
        const data = buf.slice(0, n);
        if (type === 3 && index !== 0 && n >= 2) {
          const chars = new Uint16Array(data.slice(2, n - (n % 2)).buffer);
          return { data, text: String.fromCharCode(...chars) };
        }
        return { data };
      } catch (e) {
        if (e instanceof UsbCallError && e.rc === UsbError.PIPE) {
          fail(ErrorCode.NOT_FOUND, "no-such-descriptor", { type, index });
        }
        usbFail(e);
      }
    },
    [UsbOp.SET_CONFIGURATION]: async (payload, ctx) => {
      const m = asMap(payload);
      const x = held(m, ctx.peer.sessionId);
      const value = int(m, "configuration", -1, 0xff);
      // The kernel refuses SET_CONFIGURATION while any interface is claimed:
      // let go of ours, set it, take back the ones the new configuration has.
      const had = [...x.claimed];
      for (const i of had) {
        try {
          lib().release(x.h, i);
        } catch { /* re-claimed below */ }
      }
      x.claimed.clear();
      try {
        await lib().setConfiguration(x.h, value);
      } catch (e) {
        for (const i of had) {
          try {
            lib().claim(x.h, i);
            x.claimed.add(i);
          } catch { /* gone with the configuration */ }
        }
        usbFail(e);
      }
      for (const i of had) {
        try {
          lib().claim(x.h, i);
          x.claimed.add(i);
        } catch { /* the new configuration has no such interface */ }
      }
      return {
        configuration: await guard(() => lib().getConfiguration(x.h)),
        claimed: [...x.claimed],
      };
    },
    [UsbOp.SET_INTERFACE]: async (payload, ctx) => {
      const m = asMap(payload);
      const x = held(m, ctx.peer.sessionId);
      const iface = int(m, "interface", 0, 31);
      if (!x.claimed.has(iface)) {
        fail(ErrorCode.BAD_REQUEST, "interface-not-claimed", { interface: iface });
      }
      const alt = int(m, "altSetting", 0, 0xff);
      await guard(() => lib().setAltSetting(x.h, iface, alt));
      return { interface: iface, altSetting: alt };
    },
    [UsbOp.CLEAR_HALT]: async (payload, ctx) => {
      const m = asMap(payload);
      const x = held(m, ctx.peer.sessionId);
      const ep = int(m, "endpoint", 0x01, 0xff);
      await guard(() => lib().clearHalt(x.h, ep));
      return {};
    },
    [UsbOp.RESET]: async (payload, ctx) => {
      const m = asMap(payload);
      const x = held(m, ctx.peer.sessionId);
      try {
        await lib().reset(x.h);
        return { reenumerated: false };
      } catch (e) {
        // NOT_FOUND: the device came back with other descriptors; this handle is dead.
        if (e instanceof UsbCallError && e.rc === UsbError.NOT_FOUND) {
          release(handles.take(ctx.peer.sessionId, m.handle).value);
          return { reenumerated: true };
        }
        usbFail(e);
      }
    },
  },
}) as PluginDefinition;
