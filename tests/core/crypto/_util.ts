/**
 * Small helpers shared by the crypto tests: hex codec, the back ends under
 * test (libcrypto too when `libcrypto.so.3` loads), and an assertion that a
 * call throws a given MyClerkError.
 *
 * @module
 */

import { ErrorCode, type ErrorCodeValue, MyClerkError } from "../../../core/errors.ts";
import { nobleBackend } from "../../../core/crypto/noble.ts";
import { nodeBackend } from "../../../core/crypto/node.ts";
import { libcryptoBackend } from "../../../core/crypto/libcrypto.ts";
import type { CryptoBackend } from "../../../core/crypto/types.ts";

/** The libcrypto back end, or undefined when it cannot load here. */
export const LIBCRYPTO: CryptoBackend | undefined = libcryptoBackend();

/** Every back end that loads here; each test runs against every one. */
export const BACKENDS: readonly CryptoBackend[] = [
  ...(LIBCRYPTO ? [LIBCRYPTO] : []),
  nodeBackend,
  nobleBackend,
];

/** Hex string to bytes (throws on odd length or bad digits). */
export function unhex(s: string): Uint8Array {
  if (s.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(s)) throw new Error(`bad hex: ${s}`);
  const out = new Uint8Array(s.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(s.slice(2 * i, 2 * i + 2), 16);
  return out;
}

/** Bytes to lower-case hex. */
export function hex(b: Uint8Array): string {
  let s = "";
  for (const x of b) s += x.toString(16).padStart(2, "0");
  return s;
}

/** Asserts `f` throws a MyClerkError with `code` (and `detail` when given); returns it. */
export function expectError(
  f: () => unknown,
  code: ErrorCodeValue,
  detail?: string,
  label = "",
): MyClerkError {
  try {
    f();
  } catch (e) {
    if (!(e instanceof MyClerkError)) {
      throw new Error(`${label}: expected MyClerkError, got ${String(e)}`);
    }
    if (e.code !== code || (detail !== undefined && e.detail !== detail)) {
      throw new Error(`${label}: expected ${code}/${detail}, got ${e.code}/${e.detail}`);
    }
    return e;
  }
  throw new Error(`${label}: expected a MyClerkError ${code}/${detail}, nothing thrown`);
}

export { ErrorCode };

/** Reads a JSON file next to this module. */
export function readJson<T>(rel: string): T {
  return JSON.parse(Deno.readTextFileSync(new URL(rel, import.meta.url))) as T;
}
