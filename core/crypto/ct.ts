/**
 * Constant-time helpers: byte comparison for MACs and tags (the profile
 * requires receivers to compare trailers in constant time, §2) and zeroing
 * of secrets once they are no longer needed.
 *
 * @module
 */

/**
 * True when the first `len` bytes of `a` and `b` are equal. The time depends
 * only on `len` (and, when a length check fails, on nothing secret): used for
 * truncated HMAC trailers (4/8/32 bytes, profile §2). Without `len` the whole
 * arrays are compared and must have the same length. A `len` larger than
 * either array, or negative, is `false`.
 *
 * @example timingSafeEqual(received, computed, 8)
 */
export function timingSafeEqual(a: Uint8Array, b: Uint8Array, len?: number): boolean {
  let n: number;
  if (len === undefined) {
    if (a.length !== b.length) return false;
    n = a.length;
  } else {
    if (!Number.isInteger(len) || len < 0 || len > a.length || len > b.length) return false;
    n = len;
  }
  let diff = 0;
  for (let i = 0; i < n; i++) diff |= a[i] ^ b[i];
  return diff === 0;
}

/**
 * Overwrites every given array with zeros (keys, shared secrets, PRKs).
 * `undefined` entries are skipped so callers can pass optional buffers.
 *
 * @example zeroize(sharedSecret, prk)
 */
export function zeroize(...arrays: ReadonlyArray<Uint8Array | undefined>): void {
  for (const a of arrays) a?.fill(0);
}
