/**
 * MessagePack payloads (profile §11): encoding, bounded decoding, and typed
 * field readers that turn a decoded map into readonly data or a
 * BAD_REQUEST naming the field.
 *
 * @module
 */

import { Decoder, Encoder } from "@msgpack/msgpack";
import { badRequest, isMyClerkError } from "../errors.ts";

const encoder = new Encoder({ ignoreUndefined: true });
const decoder = new Decoder({
  maxStrLength: 1 << 20,
  maxBinLength: 16 << 20,
  maxArrayLength: 1 << 16,
  maxMapLength: 1 << 12,
});

/** A decoded MessagePack map with string keys. */
export type PayloadMap = Readonly<Record<string, unknown>>;

/**
 * Encodes a value as MessagePack (shortest forms, `undefined` fields left out).
 *
 * @example encodePayload({ "tier": 4 }) // 81 a4 74 69 65 72 04
 */
export function encodePayload(value: unknown): Uint8Array {
  return encoder.encode(value);
}

/**
 * Decodes one MessagePack value that must fill the input exactly. Zero
 * bytes decode to the empty map (profile §11). Throws BAD_REQUEST `msgpack`.
 */
export function decodePayload(bytes: Uint8Array): unknown {
  if (bytes.length === 0) return {};
  try {
    return decoder.decode(bytes);
  } catch (e) {
    if (isMyClerkError(e)) throw e;
    throw badRequest("msgpack", { why: e instanceof Error ? e.message : String(e) });
  }
}

/** Decodes a payload that must be a map (BAD_REQUEST `payload-not-map`). */
export function decodeMap(bytes: Uint8Array): PayloadMap {
  const v = decodePayload(bytes);
  if (typeof v !== "object" || v === null || Array.isArray(v) || v instanceof Uint8Array) {
    throw badRequest("payload-not-map");
  }
  return v as PayloadMap;
}

/** Required unsigned integer field at most `max` (BAD_REQUEST `field:<key>`). */
export function reqUint(m: PayloadMap, key: string, max = 0xffffffff): number {
  const v = m[key];
  if (typeof v !== "number" || !Number.isInteger(v) || v < 0 || v > max) {
    throw badRequest(`field:${key}`, { expected: `uint <= ${max}` });
  }
  return v;
}

/** Optional unsigned integer field. */
export function optUint(m: PayloadMap, key: string, max = 0xffffffff): number | undefined {
  return m[key] === undefined ? undefined : reqUint(m, key, max);
}

/** Required binary field, of exactly `len` bytes when given. */
export function reqBin(m: PayloadMap, key: string, len?: number): Uint8Array {
  const v = m[key];
  if (!(v instanceof Uint8Array) || (len !== undefined && v.length !== len)) {
    throw badRequest(`field:${key}`, { expected: len === undefined ? "bin" : `bin(${len})` });
  }
  return v;
}

/** Optional binary field. */
export function optBin(m: PayloadMap, key: string, len?: number): Uint8Array | undefined {
  return m[key] === undefined ? undefined : reqBin(m, key, len);
}

/** Optional text field (at most `max` characters). */
export function optText(m: PayloadMap, key: string, max = 1024): string | undefined {
  const v = m[key];
  if (v === undefined) return undefined;
  if (typeof v !== "string" || v.length > max) {
    throw badRequest(`field:${key}`, { expected: "text" });
  }
  return v;
}

/** Optional boolean field. */
export function optBool(m: PayloadMap, key: string): boolean | undefined {
  const v = m[key];
  if (v === undefined) return undefined;
  if (typeof v !== "boolean") throw badRequest(`field:${key}`, { expected: "bool" });
  return v;
}

/** Optional array of unsigned integers (capabilities). */
export function optUintArray(
  m: PayloadMap,
  key: string,
  maxLen = 64,
): readonly number[] | undefined {
  const v = m[key];
  if (v === undefined) return undefined;
  if (
    !Array.isArray(v) || v.length > maxLen ||
    !v.every((x) => typeof x === "number" && Number.isInteger(x) && x >= 0 && x <= 0xffff)
  ) {
    throw badRequest(`field:${key}`, { expected: "[* uint]" });
  }
  return v as number[];
}
