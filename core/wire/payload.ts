/**
 * MessagePack payloads (profile §11): encoding, bounded decoding, and typed
 * field readers that turn a decoded map into readonly data or a
 * BAD_REQUEST naming the field (`field:<key>`).
 *
 * The one home of these readers for the node: the federation codecs
 * (federation/codec.ts) re-export them under their names and only set
 * their own decoder limits. The plugin SDK (plugins/sdk) keeps its own
 * small copy on purpose: it is the public vendor API and imports nothing
 * of the node.
 *
 * @module
 */

import { Decoder, Encoder } from "@msgpack/msgpack";
import { badRequest, isMyClerkError } from "../errors.ts";

/** Bounds a decoder enforces before allocating (a hostile length never allocates). */
export interface DecoderLimits {
  /** Longest text, bytes. */
  readonly maxStrLength: number;
  /** Longest bin, bytes. */
  readonly maxBinLength: number;
  /** Most array items. */
  readonly maxArrayLength: number;
  /** Most map entries. */
  readonly maxMapLength: number;
}

/** The core payload limits (profile §11). */
export const PAYLOAD_LIMITS: DecoderLimits = {
  maxStrLength: 1 << 20,
  maxBinLength: 16 << 20,
  maxArrayLength: 1 << 16,
  maxMapLength: 1 << 12,
};

const encoder = new Encoder({ ignoreUndefined: true });

/**
 * A decoder of exactly one MessagePack value filling its input, with the
 * given limits; anything else is BAD_REQUEST `msgpack` (zero bytes too).
 */
export function payloadDecoder(limits: DecoderLimits): (bytes: Uint8Array) => unknown {
  const d = new Decoder({ ...limits });
  return (bytes) => {
    try {
      return d.decode(bytes);
    } catch (e) {
      if (isMyClerkError(e)) throw e;
      throw badRequest("msgpack", { why: e instanceof Error ? e.message : String(e) });
    }
  };
}

const decodeValue = payloadDecoder(PAYLOAD_LIMITS);

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
  return decodeValue(bytes);
}

/** True for a decoded MessagePack map (not an array, bin, or null). */
export function isMap(v: unknown): v is PayloadMap {
  return typeof v === "object" && v !== null && !Array.isArray(v) && !(v instanceof Uint8Array);
}

/** Decodes a payload that must be a map (BAD_REQUEST `payload-not-map`). */
export function decodeMap(bytes: Uint8Array): PayloadMap {
  const v = decodePayload(bytes);
  if (!isMap(v)) throw badRequest("payload-not-map");
  return v;
}

/** Own keys only: a key such as `constructor` is absent, never the prototype's. */
function field(m: PayloadMap, key: string): unknown {
  return Object.hasOwn(m, key) ? m[key] : undefined;
}

/** Required unsigned integer at most `max` (default u32; BAD_REQUEST `field:<key>`). */
export function uintField(m: PayloadMap, key: string, max = 0xffffffff): number {
  const v = field(m, key);
  if (typeof v !== "number" || !Number.isSafeInteger(v) || v < 0 || v > max) {
    throw badRequest(`field:${key}`, { expected: `uint <= ${max}` });
  }
  return v;
}

/** Optional unsigned integer. */
export function optUintField(m: PayloadMap, key: string, max = 0xffffffff): number | undefined {
  return field(m, key) === undefined ? undefined : uintField(m, key, max);
}

/** Required bin, exactly `len` bytes when given, else at most `max`. */
export function binField(m: PayloadMap, key: string, len?: number, max = 16 << 20): Uint8Array {
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
export function textField(m: PayloadMap, key: string, max = 1024, re?: RegExp): string {
  const v = field(m, key);
  if (typeof v !== "string" || v.length === 0 || v.length > max || (re && !re.test(v))) {
    throw badRequest(`field:${key}`, { expected: "text" });
  }
  return v;
}

/** Optional text (non-empty when present). */
export function optTextField(m: PayloadMap, key: string, max = 1024): string | undefined {
  return field(m, key) === undefined ? undefined : textField(m, key, max);
}

/** Required text that is one of `values`. */
export function enumField<T extends string>(m: PayloadMap, key: string, values: readonly T[]): T {
  const v = field(m, key);
  if (typeof v !== "string" || !(values as readonly string[]).includes(v)) {
    throw badRequest(`field:${key}`, { expected: values.join("|") });
  }
  return v as T;
}

/** Required array (at most `maxLen` items) whose items pass `item`. */
export function arrayField<T>(
  m: PayloadMap,
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
export function mapField(m: PayloadMap, key: string): PayloadMap {
  const v = field(m, key);
  if (!isMap(v)) throw badRequest(`field:${key}`, { expected: "map" });
  return v;
}

/** Required unsigned integer field at most `max` (the core codecs' name of {@link uintField}). */
export function reqUint(m: PayloadMap, key: string, max = 0xffffffff): number {
  return uintField(m, key, max);
}

/** Optional unsigned integer field. */
export function optUint(m: PayloadMap, key: string, max = 0xffffffff): number | undefined {
  return optUintField(m, key, max);
}

/** Required binary field, of exactly `len` bytes when given (the core name of {@link binField}). */
export function reqBin(m: PayloadMap, key: string, len?: number): Uint8Array {
  return binField(m, key, len);
}

/** Optional binary field. */
export function optBin(m: PayloadMap, key: string, len?: number): Uint8Array | undefined {
  return field(m, key) === undefined ? undefined : binField(m, key, len);
}

/** Optional text field (at most `max` characters; empty allowed, unlike {@link optTextField}). */
export function optText(m: PayloadMap, key: string, max = 1024): string | undefined {
  const v = field(m, key);
  if (v === undefined) return undefined;
  if (typeof v !== "string" || v.length > max) {
    throw badRequest(`field:${key}`, { expected: "text" });
  }
  return v;
}

/** Optional boolean field. */
export function optBool(m: PayloadMap, key: string): boolean | undefined {
  const v = field(m, key);
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
  const v = field(m, key);
  if (v === undefined) return undefined;
  if (
    !Array.isArray(v) || v.length > maxLen ||
    !v.every((x) => typeof x === "number" && Number.isInteger(x) && x >= 0 && x <= 0xffff)
  ) {
    throw badRequest(`field:${key}`, { expected: "[* uint]" });
  }
  return v as number[];
}
