/**
 * Crypto entry point: the three back ends, the helpers, and {@link backend},
 * which picks the fastest one that works here: `libcrypto` (system OpenSSL
 * through FFI) when it loads and passes a one-message self-test, else `node`
 * when its ChaCha20-Poly1305 works, else `noble`. `MYCLERK_CRYPTO` forces one.
 *
 * @module
 */

import type { CryptoBackend } from "./types.ts";
import { nobleBackend } from "./noble.ts";
import { nodeBackend } from "./node.ts";
import { libcryptoBackend } from "./libcrypto.ts";
import { ErrorCode, MyClerkError } from "../errors.ts";

export type { CryptoBackend, KeyPair } from "./types.ts";
export { nodeBackend } from "./node.ts";
export { nobleBackend } from "./noble.ts";
export { libcryptoBackend } from "./libcrypto.ts";
export { crc16 } from "./crc16.ts";
export { timingSafeEqual, zeroize } from "./ct.ts";
export {
  CHACHA_NONCE_SIZE,
  GCM_MIN_IV_SIZE,
  HKDF_MAX_LENGTH,
  KEY_SIZE,
  TAG_SIZE,
  X25519_KEY_SIZE,
} from "./validate.ts";

/** Names accepted by {@link backend}. */
export type BackendName = "libcrypto" | "node" | "noble";

/** Every {@link BackendName}, fastest first (the default preference order). */
export const BACKEND_NAMES: readonly BackendName[] = ["libcrypto", "node", "noble"];

/** RFC 8439 §2.8.2 inputs, shortened: enough to catch a wrong cipher or tag. */
function selfTestInputs(): readonly [Uint8Array, Uint8Array, Uint8Array, Uint8Array] {
  const key = new Uint8Array(32).map((_, i) => 0x80 + i);
  const nonce = Uint8Array.from([7, 0, 0, 0, 0x40, 0x41, 0x42, 0x43, 0x44, 0x45, 0x46, 0x47]);
  const aad = Uint8Array.from([0x50, 0x51, 0x52, 0x53, 0xc0, 0xc1, 0xc2, 0xc3]);
  return [key, nonce, aad, new TextEncoder().encode("MyClerk")];
}

const same = (a: Uint8Array, b: Uint8Array) =>
  a.length === b.length && a.every((x, i) => x === b[i]);

/**
 * True when `b` seals like noble (the independent reference) and opens
 * noble's box back, for ChaCha20-Poly1305 and AES-256-GCM; never throws.
 */
function agreesWithNoble(b: CryptoBackend): boolean {
  try {
    const [key, nonce, aad, pt] = selfTestInputs();
    const a = b.chachaSeal(key, nonce, aad, pt);
    const r = nobleBackend.chachaSeal(key, nonce, aad, pt);
    const g = b.aesGcmSeal(key, nonce, aad, pt);
    const h = nobleBackend.aesGcmSeal(key, nonce, aad, pt);
    return same(a, r) && same(b.chachaOpen(key, nonce, aad, r), pt) && same(g, h) &&
      same(b.aesGcmOpen(key, nonce, aad, h), pt);
  } catch {
    return false; // any failure means: do not use this back end
  }
}

let libcryptoState: CryptoBackend | null | undefined;

/**
 * The libcrypto back end when `libcrypto.so.3` loads (FFI permitted) and it
 * passes the self-test, else `undefined`. Checked once.
 */
export function libcryptoWorks(): CryptoBackend | undefined {
  if (libcryptoState === undefined) {
    const b = libcryptoBackend();
    libcryptoState = b !== undefined && agreesWithNoble(b) ? b : null;
  }
  return libcryptoState ?? undefined;
}

let nodeWorks: boolean | undefined;

/**
 * True when `node:crypto` seals and opens like noble here (checked once:
 * some runtimes lack ChaCha20-Poly1305).
 */
export function nodeChachaWorks(): boolean {
  if (nodeWorks === undefined) nodeWorks = agreesWithNoble(nodeBackend);
  return nodeWorks;
}

function envChoice(): string | undefined {
  try {
    // query first: reading an unpermitted variable would prompt on a TTY
    const st = Deno.permissions.querySync({ name: "env", variable: "MYCLERK_CRYPTO" }).state;
    return st === "granted" ? Deno.env.get("MYCLERK_CRYPTO") : undefined;
  } catch {
    return undefined; // no --allow-env: fall back to the default choice
  }
}

/**
 * The back end to use. An explicit `name` wins; otherwise
 * `MYCLERK_CRYPTO=libcrypto|node|noble` forces one; the default is the
 * first that works of libcrypto, node, noble. Forcing a back end that does
 * not work here (libcrypto not loadable, or node's ChaCha broken) or naming
 * an unknown one throws INTERNAL_ERROR `crypto-backend`: a misconfiguration
 * must be loud, not silently slower.
 *
 * @example const c = backend(); c.chachaSeal(key, nonce, aad, data)
 */
export function backend(name?: BackendName): CryptoBackend {
  const forced = name ?? envChoice();
  if (forced === undefined || forced === "") {
    return libcryptoWorks() ?? (nodeChachaWorks() ? nodeBackend : nobleBackend);
  }
  if (forced === "noble") return nobleBackend;
  if (forced === "node") return nodeBackend;
  if (forced === "libcrypto") {
    const b = libcryptoWorks();
    if (b !== undefined) return b;
  }
  throw new MyClerkError(ErrorCode.INTERNAL_ERROR, "crypto-backend", {
    asked: forced,
    available: BACKEND_NAMES.filter((n) =>
      n === "noble" || (n === "node" ? nodeChachaWorks() : libcryptoWorks() !== undefined)
    ).join(","),
  });
}
