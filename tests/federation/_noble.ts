/**
 * Test-only crypto back end for the federation suites: prefers the project's
 * `core/crypto/mod.ts` when it exists (loaded dynamically so this folder
 * compiles before it lands), else a small adapter over `@noble/*`.
 *
 * @module
 */

import { x25519 } from "@noble/curves/ed25519.js";
import { sha256 } from "@noble/hashes/sha2.js";
import { hmac } from "@noble/hashes/hmac.js";
import { hkdf } from "@noble/hashes/hkdf.js";
import { chacha20poly1305 } from "@noble/ciphers/chacha.js";
import { gcm } from "@noble/ciphers/aes.js";
import { ErrorCode, MyClerkError } from "../../core/errors.ts";
import type { CryptoBackend } from "../../core/crypto/types.ts";

function aead<T>(f: () => T): T {
  try {
    return f();
  } catch (e) {
    throw new MyClerkError(ErrorCode.UNAUTHORIZED, "aead", {}, e);
  }
}

/** A minimal `CryptoBackend` over `@noble/*`. */
export const nobleAdapter: CryptoBackend = {
  name: "noble-test",
  randomBytes: (n) => crypto.getRandomValues(new Uint8Array(n)),
  sha256: (d) => sha256(d),
  hmacSha256: (k, d) => hmac(sha256, k, d),
  hkdf: (ikm, salt, info, length) => hkdf(sha256, ikm, salt, info, length),
  x25519Generate() {
    const privateKey = x25519.utils.randomSecretKey();
    return { privateKey, publicKey: x25519.getPublicKey(privateKey) };
  },
  x25519Public: (sk) => x25519.getPublicKey(sk),
  x25519(sk, pk) {
    if (sk.length !== 32 || pk.length !== 32) {
      throw new MyClerkError(ErrorCode.BAD_REQUEST, "key-length");
    }
    let out: Uint8Array;
    try {
      out = x25519.getSharedSecret(sk, pk);
    } catch (e) {
      throw new MyClerkError(ErrorCode.UNAUTHORIZED, "bad-key", {}, e);
    }
    if (out.every((b) => b === 0)) throw new MyClerkError(ErrorCode.UNAUTHORIZED, "bad-key");
    return out;
  },
  chachaSeal: (k, n, a, p) => chacha20poly1305(k, n, a).encrypt(p),
  chachaOpen: (k, n, a, s) => aead(() => chacha20poly1305(k, n, a).decrypt(s)),
  chachaSealDetached(k, n, a, p) {
    const s = chacha20poly1305(k, n, a).encrypt(p);
    return { ciphertext: s.subarray(0, s.length - 16), tag: s.subarray(s.length - 16) };
  },
  chachaOpenDetached(k, n, a, c, t) {
    const s = new Uint8Array(c.length + t.length);
    s.set(c);
    s.set(t, c.length);
    return aead(() => chacha20poly1305(k, n, a).decrypt(s));
  },
  aesGcmSeal: (k, iv, a, p) => gcm(k, iv, a).encrypt(p),
  aesGcmOpen: (k, iv, a, s) => aead(() => gcm(k, iv, a).decrypt(s)),
};

async function loadProjectBackends(): Promise<readonly CryptoBackend[]> {
  try {
    // Variable specifier: `deno check` must not require the file to exist yet.
    const path = "../../core/crypto/mod.ts";
    const mod = await import(path);
    if (typeof mod.backend === "function") {
      const out: CryptoBackend[] = [];
      for (const n of ["node", "noble"]) {
        try {
          out.push(mod.backend(n) as CryptoBackend);
        } catch { /* that back end is not available */ }
      }
      if (out.length > 0) return out;
    }
  } catch { /* core/crypto/mod.ts not there yet */ }
  return [nobleAdapter];
}

/** Every back end the federation tests run against (project ones once they exist). */
export const backends: readonly CryptoBackend[] = await loadProjectBackends();

/** The first back end (the fast one when available). */
export const be: CryptoBackend = backends[0];

/** Lower-case hex of bytes. */
export function toHex(b: Uint8Array): string {
  return Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
}

/** Bytes of a hex string. */
export function fromHex(h: string): Uint8Array {
  const out = new Uint8Array(h.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(h.slice(2 * i, 2 * i + 2), 16);
  return out;
}
