/**
 * Small byte helpers shared by the federation modules (hex, concatenation,
 * big-endian integers, constant-time comparison).
 *
 * @module
 */

import { badRequest } from "../core/errors.ts";

const ENC = new TextEncoder();

/** UTF-8 bytes of a string. */
export function utf8(s: string): Uint8Array {
  return ENC.encode(s);
}

/** Hex and concatenation have one home in the core. */
export { concat, fromHex, toHex } from "../core/bytes.ts";

/** `n` as a big-endian unsigned integer of `width` bytes (I2OSP of RFC 8017). */
export function i2osp(n: number, width: number): Uint8Array {
  const out = new Uint8Array(width);
  let v = n;
  for (let i = width - 1; i >= 0 && v > 0; i--) {
    out[i] = v % 256;
    v = Math.floor(v / 256);
  }
  return out;
}

/** Big-endian u32 at `b[o..o+4)`. */
export function readU32(b: Uint8Array, o = 0): number {
  return ((b[o] << 24) | (b[o + 1] << 16) | (b[o + 2] << 8) | b[o + 3]) >>> 0;
}

/**
 * Constant-time equality of two byte arrays (length is not secret). One
 * home: core/crypto/ct.ts `timingSafeEqual`; this is its federation name.
 */
export { timingSafeEqual as bytesEqual } from "../core/crypto/ct.ts";

/** base64url without padding (RFC 4648 §5). */
export function toBase64Url(b: Uint8Array): string {
  let s = "";
  for (const x of b) s += String.fromCharCode(x);
  return btoa(s).replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");
}

/** Decodes unpadded base64url; throws BAD_REQUEST `base64url` when malformed. */
export function fromBase64Url(s: string): Uint8Array {
  if (!/^[A-Za-z0-9_-]*$/.test(s) || s.length % 4 === 1) throw badRequest("base64url");
  const b64 = s.replaceAll("-", "+").replaceAll("_", "/") + "===".slice((s.length + 3) % 4);
  const bin = atob(b64);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}
