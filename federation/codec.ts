/**
 * MessagePack helpers for the federation payloads: one bounded encoder and
 * decoder, and typed field readers that turn a decoded map into readonly
 * data or a BAD_REQUEST naming the field (`field:<key>`).
 *
 * Kept separate from the core payload helpers so the federation codecs
 * have exactly the checks they document (family ids, mids, string lists).
 *
 * @module
 */

import { Decoder, Encoder } from "@msgpack/msgpack";
import { badRequest, isMyClerkError } from "../core/errors.ts";

/** A decoded MessagePack map with string keys. */
export type FedMap = Readonly<Record<string, unknown>>;

const encoder = new Encoder({ ignoreUndefined: true });
const decoder = new Decoder({
  maxStrLength: 1 << 16,
  maxBinLength: 16 << 20,
  maxArrayLength: 1 << 16,
  maxMapLength: 64,
});

/** Encodes a value as MessagePack (shortest forms, `undefined` fields left out). */
export function encodeMsgpack(value: unknown): Uint8Array {
  return encoder.encode(value);
}

/** Decodes exactly one MessagePack value filling `bytes`; BAD_REQUEST `msgpack` otherwise. */
export function decodeMsgpack(bytes: Uint8Array): unknown {
  try {
    return decoder.decode(bytes);
  } catch (e) {
    if (isMyClerkError(e)) throw e;
    throw badRequest("msgpack", { why: e instanceof Error ? e.message : String(e) });
  }
}

/** True for a decoded MessagePack map (not an array, bin, or null). */
export function isMap(v: unknown): v is FedMap {
  return typeof v === "object" && v !== null && !Array.isArray(v) && !(v instanceof Uint8Array);
}

/** Decodes bytes that must hold a map (BAD_REQUEST `payload-not-map`). Zero bytes = `{}`. */
export function decodeFedMap(bytes: Uint8Array): FedMap {
  if (bytes.length === 0) return {};
  const v = decodeMsgpack(bytes);
  if (!isMap(v)) throw badRequest("payload-not-map");
  return v;
}

function field(m: FedMap, key: string): unknown {
  return Object.hasOwn(m, key) ? m[key] : undefined;
}

/** Required unsigned integer at most `max` (default u32). */
export function uintField(m: FedMap, key: string, max = 0xffffffff): number {
  const v = field(m, key);
  if (typeof v !== "number" || !Number.isSafeInteger(v) || v < 0 || v > max) {
    throw badRequest(`field:${key}`, { expected: `uint <= ${max}` });
  }
  return v;
}

/** Optional unsigned integer. */
export function optUintField(m: FedMap, key: string, max = 0xffffffff): number | undefined {
  return field(m, key) === undefined ? undefined : uintField(m, key, max);
}

/** Required bin, exactly `len` bytes when given, else at most `max`. */
export function binField(m: FedMap, key: string, len?: number, max = 16 << 20): Uint8Array {
  const v = field(m, key);
  if (
    !(v instanceof Uint8Array) || (len !== undefined && v.length !== len) ||
    (len === undefined && v.length > max)
  ) {
    throw badRequest(`field:${key}`, { expected: len === undefined ? "bin" : `bin(${len})` });
  }
  return v;
}

/** Required text of 1..`max` characters matching `re` when given. */
export function textField(m: FedMap, key: string, max = 1024, re?: RegExp): string {
  const v = field(m, key);
  if (typeof v !== "string" || v.length === 0 || v.length > max || (re && !re.test(v))) {
    throw badRequest(`field:${key}`, { expected: "text" });
  }
  return v;
}

/** Optional text. */
export function optTextField(m: FedMap, key: string, max = 1024): string | undefined {
  return field(m, key) === undefined ? undefined : textField(m, key, max);
}

/** Required text that is one of `values`. */
export function enumField<T extends string>(m: FedMap, key: string, values: readonly T[]): T {
  const v = field(m, key);
  if (typeof v !== "string" || !(values as readonly string[]).includes(v)) {
    throw badRequest(`field:${key}`, { expected: values.join("|") });
  }
  return v as T;
}

/** Required array (at most `maxLen` items) whose items pass `item`. */
export function arrayField<T>(
  m: FedMap,
  key: string,
  maxLen: number,
  item: (v: unknown) => T | undefined,
): readonly T[] {
  const v = field(m, key);
  if (!Array.isArray(v) || v.length > maxLen) {
    throw badRequest(`field:${key}`, { expected: `array <= ${maxLen}` });
  }
  const out: T[] = [];
  for (const x of v) {
    const t = item(x);
    if (t === undefined) throw badRequest(`field:${key}`, { expected: "valid items" });
    out.push(t);
  }
  return out;
}

/** Required nested map. */
export function mapField(m: FedMap, key: string): FedMap {
  const v = field(m, key);
  if (!isMap(v)) throw badRequest(`field:${key}`, { expected: "map" });
  return v;
}
