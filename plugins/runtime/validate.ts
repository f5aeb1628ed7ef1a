/**
 * The one decoder of what a plugin sends the host. Every message from a
 * plugin instance (Worker structured clone, process frame, in-process call)
 * passes {@link validatePluginMsg} before the host acts on it: a plugin that
 * posts `null`, a number, a wrong field type or an unknown kind gets an
 * {@link Invalid} (the instance is then stopped and the plugin's failure
 * policy applies), never an exception in the node.
 *
 * Pure: no I/O, no clock.
 *
 * @module
 */
import type { PluginMsg } from "./protocol.ts";

/** Longest log line kept (characters); longer lines are cut and counted. */
export const MAX_LOG_LINE = 4096;
/** Longest error `detail` / `init-error` detail kept (characters). */
export const MAX_DETAIL = 1024;
/** Most opcodes a `ready` or `sub` message may list. */
export const MAX_OPCODE_LIST = 4096;
/** Deepest nesting of a payload (Worker messages, checked by {@link isWireValue}). */
export const MAX_DEPTH = 64;
/** Most values (array elements, map entries) in one Worker payload. */
export const MAX_VALUES = 1_000_000;

/** A message the host can act on; `truncated` when a string field was cut to its bound. */
export interface Valid {
  /** Discriminant. */
  readonly ok: true;
  /** The checked message (strings cut to their bounds). */
  readonly msg: PluginMsg;
  /** True when a log line or detail was longer than its bound and was cut. */
  readonly truncated: boolean;
}

/** A message the host refuses; `reason` is a short stable label for metrics and logs. */
export interface Invalid {
  /** Discriminant. */
  readonly ok: false;
  /** Why, e.g. `not-a-map`, `unknown-kind`, `field:id`. */
  readonly reason: string;
}

/** Result of {@link validatePluginMsg}. */
export type Validation = Valid | Invalid;

/** Options of {@link validatePluginMsg}. */
export interface ValidateOptions {
  /**
   * Also check that payloads hold only MessagePack-encodable values (plain
   * maps, arrays, strings, numbers, booleans, null, Uint8Array), at most
   * {@link MAX_DEPTH} deep and {@link MAX_VALUES} values. Needed for Worker
   * messages (structured clone can carry Map, Date, BigInt, cycles...);
   * frames decoded from MessagePack already satisfy it.
   */
  readonly checkValues?: boolean;
}

const bad = (reason: string): Invalid => ({ ok: false, reason });

function isMap(v: unknown): v is Record<string, unknown> {
  if (v === null || typeof v !== "object" || Array.isArray(v) || v instanceof Uint8Array) {
    return false;
  }
  const proto = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}

function isU16(v: unknown): v is number {
  return typeof v === "number" && Number.isInteger(v) && v >= 0 && v <= 0xffff;
}

function isId(v: unknown): v is number {
  return typeof v === "number" && Number.isSafeInteger(v) && v >= 0;
}

function opcodeList(v: unknown): number[] | undefined {
  if (!Array.isArray(v) || v.length > MAX_OPCODE_LIST) return undefined;
  for (const x of v) if (!isU16(x)) return undefined;
  return [...v];
}

/**
 * True when `v` is a value the node can encode as MessagePack: null,
 * boolean, finite or non-finite number, string, Uint8Array, array or plain
 * map of such values, no cycles, at most `MAX_DEPTH` deep and `MAX_VALUES`
 * values in all. Never throws.
 */
export function isWireValue(v: unknown): boolean {
  let budget = MAX_VALUES;
  const seen = new Set<object>();
  const walk = (x: unknown, depth: number): boolean => {
    if (--budget < 0) return false;
    if (x === null || x === undefined) return true;
    switch (typeof x) {
      case "boolean":
      case "number":
      case "string":
        return true;
      case "object":
        break;
      default:
        return false; // bigint, symbol, function
    }
    if (x instanceof Uint8Array) return true;
    if (depth >= MAX_DEPTH) return false;
    const o = x as object;
    if (seen.has(o)) return false;
    seen.add(o);
    let ok = true;
    if (Array.isArray(o)) {
      for (const e of o) {
        if (!walk(e, depth + 1)) {
          ok = false;
          break;
        }
      }
    } else if (isMap(o)) {
      for (const k in o) {
        if (!Object.hasOwn(o, k)) continue;
        if (!walk((o as Record<string, unknown>)[k], depth + 1)) {
          ok = false;
          break;
        }
      }
    } else ok = false;
    seen.delete(o);
    return ok;
  };
  try {
    return walk(v, 0);
  } catch {
    return false; // a getter threw or the stack ran out: not a value we take
  }
}

/** Cuts `s` to `max` characters; reports whether it did. */
function cut(s: string, max: number): [string, boolean] {
  return s.length > max ? [s.slice(0, max), true] : [s, false];
}

/**
 * Checks one message from a plugin. Returns the message to act on (with
 * over-long strings cut) or why it is refused. Never throws, whatever `v` is.
 */
export function validatePluginMsg(v: unknown, o: ValidateOptions = {}): Validation {
  try {
    return check(v, o.checkValues === true);
  } catch {
    // A getter on a structured-clone result cannot run (no accessors survive
    // cloning), but a direct in-process call could: never let it escape.
    return bad("threw");
  }
}

function check(v: unknown, values: boolean): Validation {
  if (!isMap(v)) return bad("not-a-map");
  const t = v.t;
  if (typeof t !== "string") return bad("field:t");
  const payloadOk = (p: unknown) => !values || isWireValue(p);
  switch (t) {
    case "ready": {
      const opcodes = opcodeList(v.opcodes);
      if (opcodes === undefined) return bad("field:opcodes");
      return { ok: true, msg: { t, opcodes }, truncated: false };
    }
    case "init-error": {
      if (!isU16(v.code)) return bad("field:code");
      if (typeof v.detail !== "string") return bad("field:detail");
      const [detail, truncated] = cut(v.detail, MAX_DETAIL);
      return { ok: true, msg: { t, code: v.code, detail }, truncated };
    }
    case "res": {
      if (!isId(v.id)) return bad("field:id");
      if (v.ok === true) {
        if (!payloadOk(v.payload)) return bad("field:payload");
        return {
          ok: true,
          msg: { t, id: v.id, ok: true, payload: v.payload ?? null },
          truncated: false,
        };
      }
      if (v.ok !== false) return bad("field:ok");
      if (!isU16(v.code)) return bad("field:code");
      if (typeof v.detail !== "string") return bad("field:detail");
      const extra = v.extra ?? {};
      if (!isMap(extra) || !payloadOk(extra)) return bad("field:extra");
      const [detail, truncated] = cut(v.detail, MAX_DETAIL);
      return { ok: true, msg: { t, id: v.id, ok: false, code: v.code, detail, extra }, truncated };
    }
    case "event": {
      if (!isU16(v.op)) return bad("field:op");
      // Not only u16: plugin peers of plugin-to-plugin calls have ids above 0xFFFF (calls.ts).
      if (v.sessionId !== undefined && v.sessionId !== null && !isId(v.sessionId)) {
        return bad("field:sessionId");
      }
      if (!payloadOk(v.payload)) return bad("field:payload");
      const msg: PluginMsg = v.sessionId === undefined || v.sessionId === null
        ? { t, op: v.op, payload: v.payload ?? null }
        : { t, op: v.op, payload: v.payload ?? null, sessionId: v.sessionId };
      return { ok: true, msg, truncated: false };
    }
    case "pong": {
      if (!isId(v.id)) return bad("field:id");
      const h = v.heapUsed;
      if (typeof h !== "number" || !Number.isFinite(h) || h < 0) return bad("field:heapUsed");
      return { ok: true, msg: { t, id: v.id, heapUsed: h }, truncated: false };
    }
    case "log": {
      if (typeof v.line !== "string") return bad("field:line");
      const [line, truncated] = cut(v.line, MAX_LOG_LINE);
      return { ok: true, msg: { t, line }, truncated };
    }
    case "closed":
      return { ok: true, msg: { t }, truncated: false };
    case "call": {
      if (!isId(v.id)) return bad("field:id");
      if (!isU16(v.op)) return bad("field:op");
      const ms = v.timeoutMs;
      if (typeof ms !== "number" || !Number.isFinite(ms) || ms < 0) return bad("field:timeoutMs");
      if (!isId(v.parent)) return bad("field:parent");
      if (!payloadOk(v.payload)) return bad("field:payload");
      return {
        ok: true,
        msg: { t, id: v.id, op: v.op, payload: v.payload ?? null, timeoutMs: ms, parent: v.parent },
        truncated: false,
      } as Valid;
    }
    case "sub": {
      if (!isId(v.id)) return bad("field:id");
      const ops = opcodeList(v.ops);
      if (ops === undefined) return bad("field:ops");
      return { ok: true, msg: { t, id: v.id, ops }, truncated: false } as Valid;
    }
    default:
      return bad("unknown-kind");
  }
}
