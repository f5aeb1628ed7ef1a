/**
 * Size checks shared by both crypto back ends, in one place so `node` and
 * `noble` reject exactly the same inputs with exactly the same error.
 * Malformed sizes are caller bugs or malformed frames: `BAD_REQUEST`. A sealed
 * box too short to hold a tag is an authentication failure (`UNAUTHORIZED
 * aead`), like any other box that does not open: a receiver must not learn
 * more from a truncated box than from a forged one.
 *
 * @module
 */

import { ErrorCode, MyClerkError } from "../errors.ts";

/** Symmetric key size (ChaCha20-Poly1305, AES-256-GCM), bytes. */
export const KEY_SIZE = 32;
/** ChaCha20-Poly1305 nonce size (RFC 8439), bytes. */
export const CHACHA_NONCE_SIZE = 12;
/** AEAD tag size for both AEADs, bytes. */
export const TAG_SIZE = 16;
/**
 * Smallest AES-GCM IV accepted. SP 800-38D lets an implementation narrow the
 * IV lengths it supports; `@noble/ciphers` refuses IVs under 8 bytes while
 * OpenSSL takes 1, so both back ends are held to 8 to behave the same. The
 * protocol itself only ever uses 12.
 */
export const GCM_MIN_IV_SIZE = 8;
/** X25519 private and public key size, bytes. */
export const X25519_KEY_SIZE = 32;
/** Largest HKDF-SHA256 output, 255 * HashLen (RFC 5869 §2.3). */
export const HKDF_MAX_LENGTH = 255 * 32;
/** Largest single `randomBytes` request (a frame is far smaller). */
export const RANDOM_MAX = 1 << 24;

function bad(detail: string, expected: number | string, got: number): MyClerkError {
  return new MyClerkError(ErrorCode.BAD_REQUEST, detail, { expected, got });
}

/** Throws BAD_REQUEST `key-size` unless `key` is 32 bytes. */
export function checkKey(key: Uint8Array): void {
  if (key.length !== KEY_SIZE) throw bad("key-size", KEY_SIZE, key.length);
}

/** Throws BAD_REQUEST `nonce-size` unless `nonce` is 12 bytes. */
export function checkChachaNonce(nonce: Uint8Array): void {
  if (nonce.length !== CHACHA_NONCE_SIZE) throw bad("nonce-size", CHACHA_NONCE_SIZE, nonce.length);
}

/** Throws BAD_REQUEST `iv-size` when `iv` is shorter than {@link GCM_MIN_IV_SIZE}. */
export function checkGcmIv(iv: Uint8Array): void {
  if (iv.length < GCM_MIN_IV_SIZE) throw bad("iv-size", `>=${GCM_MIN_IV_SIZE}`, iv.length);
}

/** Throws BAD_REQUEST `tag-size` unless a detached `tag` is 16 bytes. */
export function checkTag(tag: Uint8Array): void {
  if (tag.length !== TAG_SIZE) throw bad("tag-size", TAG_SIZE, tag.length);
}

/**
 * Throws BAD_REQUEST `out-size` unless `outOffset` is an integer in
 * `0..out.length` and `out` has room for `need` bytes from there (the
 * `*Into` methods write there; a native back end must never overrun it).
 */
export function checkOut(out: Uint8Array, outOffset: number, need: number): void {
  if (!Number.isInteger(outOffset) || outOffset < 0 || outOffset > out.length) {
    throw bad("out-offset", `0..${out.length}`, outOffset);
  }
  if (out.length - outOffset < need) throw bad("out-size", need, out.length - outOffset);
}

/** Throws UNAUTHORIZED `aead` when `sealed` cannot even hold a tag. */
export function checkSealed(sealed: Uint8Array): void {
  if (sealed.length < TAG_SIZE) {
    throw new MyClerkError(ErrorCode.UNAUTHORIZED, "aead", { reason: "short" });
  }
}

/** Throws BAD_REQUEST `x25519-key-size` unless `key` is 32 bytes. */
export function checkX25519Key(key: Uint8Array): void {
  if (key.length !== X25519_KEY_SIZE) throw bad("x25519-key-size", X25519_KEY_SIZE, key.length);
}

/** Throws BAD_REQUEST `hkdf-length` unless 0 <= `length` <= 8160 (an integer). */
export function checkHkdfLength(length: number): void {
  if (!Number.isInteger(length) || length < 0 || length > HKDF_MAX_LENGTH) {
    throw bad("hkdf-length", `0..${HKDF_MAX_LENGTH}`, length);
  }
}

/** Throws BAD_REQUEST `random-length` unless 0 <= `n` <= {@link RANDOM_MAX}. */
export function checkRandomLength(n: number): void {
  if (!Number.isInteger(n) || n < 0 || n > RANDOM_MAX) {
    throw bad("random-length", `0..${RANDOM_MAX}`, n);
  }
}

/** UNAUTHORIZED `aead`, wrapping the native failure as `cause`. */
export function aeadFailure(cause?: unknown): MyClerkError {
  return new MyClerkError(ErrorCode.UNAUTHORIZED, "aead", {}, cause);
}

/** UNAUTHORIZED `bad-key` (X25519 low-order point / all-zero secret, RFC 7748 §6.1). */
export function badKey(cause?: unknown): MyClerkError {
  return new MyClerkError(ErrorCode.UNAUTHORIZED, "bad-key", {}, cause);
}

/** INTERNAL_ERROR wrapping an unexpected native failure (never a bare Error). */
export function internal(detail: string, cause: unknown): MyClerkError {
  return new MyClerkError(ErrorCode.INTERNAL_ERROR, detail, {}, cause);
}

/** True when every byte of `b` is zero, without an early exit. */
export function isAllZero(b: Uint8Array): boolean {
  let acc = 0;
  for (let i = 0; i < b.length; i++) acc |= b[i];
  return acc === 0;
}

/**
 * The generic `chachaSealInto` of back ends without a native in-place seal:
 * the same checks and contract as libcrypto's (nothing written on a refused
 * size), via `seal` plus one copy.
 */
export function sealIntoVia(
  seal: (key: Uint8Array, nonce: Uint8Array, aad: Uint8Array, plaintext: Uint8Array) => Uint8Array,
  key: Uint8Array,
  nonce: Uint8Array,
  aad: Uint8Array,
  plaintext: Uint8Array,
  out: Uint8Array,
  outOffset: number,
): number {
  checkKey(key);
  checkChachaNonce(nonce);
  checkOut(out, outOffset, plaintext.length + 16);
  const sealed = seal(key, nonce, aad, plaintext);
  out.set(sealed, outOffset);
  return sealed.length;
}
