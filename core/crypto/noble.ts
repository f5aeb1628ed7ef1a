/**
 * The `@noble/*` back end: pure TypeScript, audited, portable (no OpenSSL).
 * Slower than `node.ts` but runs anywhere a `crypto.getRandomValues` exists,
 * and serves as the independent second implementation the tests cross-check
 * the fast path against.
 *
 * @module
 */

import { gcm } from "@noble/ciphers/aes.js";
import { chacha20poly1305 } from "@noble/ciphers/chacha.js";
import { x25519 as curve } from "@noble/curves/ed25519.js";
import { hkdf as nobleHkdf } from "@noble/hashes/hkdf.js";
import { hmac } from "@noble/hashes/hmac.js";
import { sha256 } from "@noble/hashes/sha2.js";
import type { CryptoBackend, KeyPair } from "./types.ts";
import { MyClerkError } from "../errors.ts";
import {
  aeadFailure,
  badKey,
  checkChachaNonce,
  checkGcmIv,
  checkHkdfLength,
  checkKey,
  checkRandomLength,
  checkSealed,
  checkTag,
  checkX25519Key,
  internal,
  isAllZero,
  sealIntoVia,
  TAG_SIZE,
} from "./validate.ts";

/** `getRandomValues` quota per call (Web Crypto §10.1.1). */
const RANDOM_CHUNK = 65536;

/** Runs `f`, turning anything but a MyClerkError into INTERNAL_ERROR `detail`. */
function guard<T>(detail: string, f: () => T): T {
  try {
    return f();
  } catch (e) {
    if (e instanceof MyClerkError) throw e;
    throw internal(detail, e);
  }
}

/** Decrypts, mapping noble's tag-mismatch Error to UNAUTHORIZED `aead`. */
function open(f: () => Uint8Array): Uint8Array {
  try {
    return f();
  } catch (e) {
    throw aeadFailure(e);
  }
}

function fillRandom(out: Uint8Array): Uint8Array {
  for (let off = 0; off < out.length; off += RANDOM_CHUNK) {
    crypto.getRandomValues(out.subarray(off, Math.min(out.length, off + RANDOM_CHUNK)));
  }
  return out;
}

function chachaSeal(
  key: Uint8Array,
  nonce: Uint8Array,
  aad: Uint8Array,
  plaintext: Uint8Array,
): Uint8Array {
  checkKey(key);
  checkChachaNonce(nonce);
  return guard("chacha", () => chacha20poly1305(key, nonce, aad).encrypt(plaintext));
}

function chachaOpen(
  key: Uint8Array,
  nonce: Uint8Array,
  aad: Uint8Array,
  sealed: Uint8Array,
): Uint8Array {
  checkKey(key);
  checkChachaNonce(nonce);
  checkSealed(sealed);
  return open(() => chacha20poly1305(key, nonce, aad).decrypt(sealed));
}

/** The `@noble/*` back end. */
export const nobleBackend: CryptoBackend = {
  name: "noble",

  randomBytes(n: number): Uint8Array {
    checkRandomLength(n);
    return guard("random", () => fillRandom(new Uint8Array(n)));
  },

  sha256(data: Uint8Array): Uint8Array {
    return guard("sha256", () => sha256(data));
  },

  hmacSha256(key: Uint8Array, data: Uint8Array): Uint8Array {
    return guard("hmac", () => hmac(sha256, key, data));
  },

  hkdf(ikm: Uint8Array, salt: Uint8Array, info: Uint8Array, length: number): Uint8Array {
    checkHkdfLength(length);
    // noble zeroes its PRK and HMAC state itself.
    return guard("hkdf", () => nobleHkdf(sha256, ikm, salt, info, length));
  },

  x25519Generate(): KeyPair {
    return guard("x25519", () => {
      const privateKey = fillRandom(new Uint8Array(32));
      return { privateKey, publicKey: curve.getPublicKey(privateKey) };
    });
  },

  x25519Public(privateKey: Uint8Array): Uint8Array {
    checkX25519Key(privateKey);
    return guard("x25519", () => curve.getPublicKey(privateKey));
  },

  x25519(privateKey: Uint8Array, publicKey: Uint8Array): Uint8Array {
    checkX25519Key(privateKey);
    checkX25519Key(publicKey);
    let shared: Uint8Array;
    try {
      shared = curve.getSharedSecret(privateKey, publicKey);
    } catch (e) {
      // noble rejects the five low-order u values before running the ladder;
      // sizes are validated, so that is the only way it throws here.
      throw badKey(e);
    }
    if (isAllZero(shared)) throw badKey();
    return shared;
  },

  chachaSeal,
  chachaOpen,

  chachaSealDetached(key: Uint8Array, nonce: Uint8Array, aad: Uint8Array, plaintext: Uint8Array) {
    const sealed = chachaSeal(key, nonce, aad, plaintext);
    const split = sealed.length - TAG_SIZE;
    return { ciphertext: sealed.subarray(0, split), tag: sealed.subarray(split) };
  },

  chachaOpenDetached(
    key: Uint8Array,
    nonce: Uint8Array,
    aad: Uint8Array,
    ciphertext: Uint8Array,
    tag: Uint8Array,
  ): Uint8Array {
    checkTag(tag);
    // noble wants ciphertext || tag in one buffer; both parts are public.
    const sealed = new Uint8Array(ciphertext.length + TAG_SIZE);
    sealed.set(ciphertext);
    sealed.set(tag, ciphertext.length);
    return chachaOpen(key, nonce, aad, sealed);
  },

  chachaSealInto(
    key: Uint8Array,
    nonce: Uint8Array,
    aad: Uint8Array,
    plaintext: Uint8Array,
    out: Uint8Array,
    outOffset: number,
  ): number {
    return sealIntoVia(nobleBackend.chachaSeal, key, nonce, aad, plaintext, out, outOffset);
  },

  aesGcmSeal(key: Uint8Array, iv: Uint8Array, aad: Uint8Array, plaintext: Uint8Array): Uint8Array {
    checkKey(key);
    checkGcmIv(iv);
    return guard("gcm", () => gcm(key, iv, aad).encrypt(plaintext));
  },

  aesGcmOpen(key: Uint8Array, iv: Uint8Array, aad: Uint8Array, sealed: Uint8Array): Uint8Array {
    checkKey(key);
    checkGcmIv(iv);
    checkSealed(sealed);
    return open(() => gcm(key, iv, aad).decrypt(sealed));
  },
};
