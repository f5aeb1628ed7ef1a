/**
 * Crypto entry point: the two back ends, the helpers, and {@link backend},
 * which picks `node` (OpenSSL, fast) unless `MYCLERK_CRYPTO=noble` asks for
 * the portable one or `node:crypto` cannot do ChaCha20-Poly1305 here.
 *
 * @module
 */

import type { CryptoBackend } from "./types.ts";
import { nobleBackend } from "./noble.ts";
import { nodeBackend } from "./node.ts";

export type { CryptoBackend, KeyPair } from "./types.ts";
export { nodeBackend } from "./node.ts";
export { nobleBackend } from "./noble.ts";
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
export type BackendName = "node" | "noble";

let nodeWorks: boolean | undefined;

/**
 * True when `node:crypto` seals and opens RFC 8439 §2.8.2 correctly here
 * (checked once: some runtimes or OpenSSL builds lack the cipher).
 */
export function nodeChachaWorks(): boolean {
  if (nodeWorks !== undefined) return nodeWorks;
  try {
    const key = new Uint8Array(32).map((_, i) => 0x80 + i);
    const nonce = Uint8Array.from([7, 0, 0, 0, 0x40, 0x41, 0x42, 0x43, 0x44, 0x45, 0x46, 0x47]);
    const aad = Uint8Array.from([0x50, 0x51, 0x52, 0x53, 0xc0, 0xc1, 0xc2, 0xc3]);
    const pt = new TextEncoder().encode("MyClerk");
    const a = nodeBackend.chachaSeal(key, nonce, aad, pt);
    const b = nobleBackend.chachaSeal(key, nonce, aad, pt);
    const back = nodeBackend.chachaOpen(key, nonce, aad, b);
    nodeWorks = a.length === b.length && a.every((x, i) => x === b[i]) &&
      back.every((x, i) => x === pt[i]) && back.length === pt.length;
  } catch {
    nodeWorks = false; // any failure means: use noble
  }
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
 * The back end to use. An explicit `name` wins; otherwise the environment
 * variable `MYCLERK_CRYPTO=noble` forces noble, and the default is `node`
 * when its ChaCha20-Poly1305 works, else `noble`.
 *
 * @example const c = backend(); c.chachaSeal(key, nonce, aad, data)
 */
export function backend(name?: BackendName): CryptoBackend {
  if (name === "node") return nodeBackend;
  if (name === "noble") return nobleBackend;
  if (envChoice() === "noble") return nobleBackend;
  return nodeChachaWorks() ? nodeBackend : nobleBackend;
}
