/**
 * GSM modem plugin (0x0670-0x067F, draft §6.3.8), in its own process with
 * FFI to libc only. Payloads, events, dialects and error mapping:
 * docs/PLUGINS.md §14. The modem logic is in modem.ts; this file checks
 * payloads, keeps the event subscribers and fans events out.
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
  type RequestContext,
} from "@myclerk/plugin-sdk";
import type { DialectName } from "./dialects.ts";
import { GsmOp, Modem, type ModemConfig } from "./modem.ts";

export { GsmOp };

/** Most sessions that get events; the oldest subscription is dropped beyond this. */
const MAX_SUBSCRIBERS = 64;

let modem: Modem | undefined;
let ctxRef: PluginContext | undefined;
const subscribers = new Set<number>();

function emit(op: number, payload: Record<string, unknown>): void {
  const ctx = ctxRef;
  if (ctx === undefined) return;
  // Unaddressed copy: host listeners (and plugins subscribed through the host) see it.
  ctx.emit(op, payload);
  for (const s of subscribers) ctx.emit(op, payload, s);
}

function subscribe(ctx: RequestContext, on: boolean): void {
  const id = ctx.peer.sessionId;
  if (!on) {
    subscribers.delete(id);
    return;
  }
  subscribers.delete(id);
  subscribers.add(id);
  while (subscribers.size > MAX_SUBSCRIBERS) {
    subscribers.delete(subscribers.values().next().value!);
  }
}

function m(): Modem {
  if (modem === undefined) fail(ErrorCode.SERVICE_UNAVAILABLE, "libc-not-loaded");
  return modem;
}

function opt<T extends "string" | "number" | "boolean">(
  map: Readonly<Record<string, unknown>>,
  name: string,
  type: T,
): (T extends "string" ? string : T extends "number" ? number : boolean) | undefined {
  return map[name] === undefined ? undefined : field(map, name, type);
}

function oneOf<T extends string>(
  map: Readonly<Record<string, unknown>>,
  name: string,
  allowed: readonly T[],
): T | undefined {
  const v = map[name];
  if (v === undefined) return undefined;
  if (!allowed.includes(v as T)) fail(ErrorCode.BAD_REQUEST, `field:${name}`, { allowed });
  return v as T;
}

function granted(path: string, ctx: PluginContext): boolean {
  const g = ctx.grant;
  const ok = (p: string) => {
    if (p.split("/").includes("..")) return false;
    if (g.devices.includes(p)) return true;
    const under = (list: readonly string[]) => list.some((d) => p === d || p.startsWith(d + "/"));
    return under(g.read) && under(g.write);
  };
  if (!ok(path)) return false;
  try {
    return ok(Deno.realPathSync(path));
  } catch {
    return true; // not there (yet): opening it fails, or the reconnect loop finds it later
  }
}

async function fileConfig(ctx: PluginContext): Promise<Record<string, unknown>> {
  try {
    const v = JSON.parse(await Deno.readTextFile(`${ctx.grant.dataDir}/config.json`));
    return v !== null && typeof v === "object" && !Array.isArray(v) ? v : {};
  } catch {
    return {};
  }
}

function defaultPort(ctx: PluginContext): string | undefined {
  const ttys = ctx.grant.devices.filter((d) => /^\/dev\/tty/.test(d));
  return ttys.find((d) => /USB2$/.test(d)) ?? ttys[0];
}

async function config(payload: unknown, ctx: RequestContext): Promise<ModemConfig> {
  const req = asMap(payload);
  const file = await fileConfig(ctx);
  const mm: Record<string, unknown> = { ...file, ...req };
  const port = opt(mm, "port", "string") ?? defaultPort(ctx);
  if (port === undefined) fail(ErrorCode.NOT_FOUND, "no-modem-port");
  if (!granted(port, ctx)) fail(ErrorCode.FORBIDDEN, "device-not-granted", { path: port });
  const pin = opt(mm, "pin", "string");
  if (pin !== undefined && !/^\d{4,8}$/.test(pin)) fail(ErrorCode.BAD_REQUEST, "field:pin");
  const baud = opt(mm, "baud", "number") ?? 115200;
  const ms = (k: string, d: number, max: number) => {
    const v = opt(mm, k, "number") ?? d;
    if (!Number.isFinite(v) || v < 10 || v > max) fail(ErrorCode.BAD_REQUEST, `field:${k}`);
    return v;
  };
  return {
    port,
    baud,
    ...(pin !== undefined ? { pin } : {}),
    mode: oneOf(mm, "mode", ["pdu", "text"] as const) ?? "pdu",
    ...(mm.dialect !== undefined
      ? { dialect: oneOf(mm, "dialect", ["sim7600", "sim800", "ec25"] as const) as DialectName }
      : {}),
    multipartTimeoutMs: ms("multipartTimeoutMs", 60_000, 3_600_000),
    commandTimeoutMs: ms("commandTimeoutMs", 5_000, 120_000),
    deleteOnReceive: opt(mm, "deleteOnReceive", "boolean") ?? false,
  };
}

const NUMBER = /^\+?[0-9*#]{1,32}$/;

/** The GSM plugin. */
export default definePlugin({
  events: [
    GsmOp.STATUS,
    GsmOp.NETWORK_REG,
    GsmOp.SMS_RECEIVE,
    GsmOp.USSD_RESPONSE,
    GsmOp.VOICE_ANSWER,
  ],
  init(ctx) {
    ctxRef = ctx;
    const path = ctx.grant.ffi.libc;
    if (path === undefined) fail(ErrorCode.SERVICE_UNAVAILABLE, "ffi-libc-not-granted");
    modem = new Modem(path, emit, (...p) => ctx.log(...p));
  },
  async close() {
    await modem?.close();
    modem = undefined;
    subscribers.clear();
  },
  sessionClosed(sessionId) {
    subscribers.delete(sessionId);
  },
  handlers: {
    [GsmOp.INIT]: async (payload, ctx) => {
      const cfg = await config(payload, ctx);
      if (asMap(payload).subscribe !== false) subscribe(ctx, true);
      return await m().init(cfg);
    },
    [GsmOp.STATUS]: (payload, ctx) => {
      const s = opt(asMap(payload ?? {}), "subscribe", "boolean");
      if (s !== undefined) subscribe(ctx, s);
      return { ...m().status(), subscribers: subscribers.size };
    },
    [GsmOp.NETWORK_REG]: () => m().networkReg(),
    [GsmOp.SIGNAL_QUALITY]: () => m().signal(),
    [GsmOp.SMS_SEND]: async (payload) => {
      const p = asMap(payload);
      const to = field(p, "to", "string");
      if (!/^\+?[0-9]{1,20}$/.test(to)) fail(ErrorCode.BAD_REQUEST, "field:to");
      const text = field(p, "text", "string");
      if (text.length === 0) fail(ErrorCode.BAD_REQUEST, "field:text");
      if (text.length > 1600) fail(ErrorCode.TOO_LARGE, "text-too-long", { maxParts: 10 });
      const validityMinutes = opt(p, "validityMinutes", "number") ?? 4320;
      if (!(validityMinutes >= 5 && validityMinutes <= 635040)) {
        fail(ErrorCode.BAD_REQUEST, "field:validityMinutes");
      }
      return await m().smsSend({
        to,
        text,
        encoding: oneOf(p, "encoding", ["auto", "gsm7", "ucs2"] as const) ?? "auto",
        report: opt(p, "report", "boolean") ?? false,
        validityMinutes,
        flash: opt(p, "flash", "boolean") ?? false,
      });
    },
    [GsmOp.SMS_RECEIVE]: (payload, ctx) => {
      const s = opt(asMap(payload ?? {}), "subscribe", "boolean") ?? true;
      subscribe(ctx, s);
      return { subscribed: s };
    },
    [GsmOp.SMS_LIST]: (payload) => {
      const st = oneOf(
        asMap(payload ?? {}),
        "status",
        [
          "unread",
          "read",
          "unsent",
          "sent",
          "all",
        ] as const,
      ) ?? "all";
      return m().smsList(["unread", "read", "unsent", "sent", "all"].indexOf(st));
    },
    [GsmOp.SMS_DELETE]: (payload) => {
      const p = asMap(payload);
      if (p.all === true) return m().smsDelete("all");
      const index = field(p, "index", "number");
      if (!Number.isInteger(index) || index < 0 || index > 65535) {
        fail(ErrorCode.BAD_REQUEST, "field:index");
      }
      return m().smsDelete(index);
    },
    [GsmOp.USSD_SEND]: async (payload) => {
      const p = asMap(payload);
      const code = field(p, "code", "string");
      if (!/^[0-9*#+]{1,64}$/.test(code)) fail(ErrorCode.BAD_REQUEST, "field:code");
      const t = opt(p, "timeoutMs", "number") ?? 20_000;
      return { ...(await m().ussd(code, Math.min(Math.max(t, 100), 120_000), false)) };
    },
    [GsmOp.USSD_RESPONSE]: async (payload) => {
      const p = asMap(payload);
      if (p.cancel === true) return await m().ussdCancel();
      const text = field(p, "text", "string");
      if (!/^[0-9A-Za-z*#+ ]{1,160}$/.test(text)) fail(ErrorCode.BAD_REQUEST, "field:text");
      const t = opt(p, "timeoutMs", "number") ?? 20_000;
      return { ...(await m().ussd(text, Math.min(Math.max(t, 100), 120_000), true)) };
    },
    [GsmOp.GNSS_ENABLE]: (payload) => m().gnssEnable(field(asMap(payload), "enable", "boolean")),
    [GsmOp.GNSS_POSITION]: async () => ({ ...(await m().gnssPosition()) }),
    [GsmOp.GNSS_CONFIG]: (payload) => {
      const p = asMap(payload);
      const mode = oneOf(p, "mode", ["standalone", "ue-based", "ue-assisted"] as const);
      return m().gnssConfig(
        mode === undefined
          ? undefined
          : ["standalone", "ue-based", "ue-assisted"].indexOf(mode) + 1,
        opt(p, "nmea", "boolean"),
      );
    },
    [GsmOp.VOICE_DIAL]: (payload) => {
      const number = field(asMap(payload), "number", "string");
      if (!NUMBER.test(number)) fail(ErrorCode.BAD_REQUEST, "field:number");
      return m().dial(number);
    },
    [GsmOp.VOICE_HANGUP]: () => m().hangup(),
    [GsmOp.VOICE_ANSWER]: () => m().answer(),
  },
}) as PluginDefinition;
