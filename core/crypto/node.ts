/**
 * The `node:crypto` back end: the fast path. Under Deno, `node:crypto` is
 * Deno's native (Rust) implementation, not OpenSSL. AEADs use one cipher
 * object per call and copy the ciphertext once into the output; X25519
 * builds KeyObjects from raw bytes through fixed DER prefixes. Results are
 * plain `Uint8Array` views of the native `Buffer`s (no copy), so callers
 * never see `Buffer` semantics.
 *
 * One exception: AES-GCM with an IV that is not 12 bytes goes to
 * `@noble/ciphers`. Deno 2.9.6's `node:crypto` derives a wrong keystream for
 * such IVs when the 32-bit block counter of J0 wraps (Wycheproof
 * aes_gcm_test tc241, "CounterWrap"); the protocol only uses 12-byte IVs,
 * for which the counter cannot wrap below 64 GiB.
 *
 * @module
 */

import { gcm as nobleGcm } from "@noble/ciphers/aes.js";
import {
  type CipherChaCha20Poly1305,
  type CipherGCM,
  createCipheriv,
  createDecipheriv,
  createHash,
  createHmac,
  createPrivateKey,
  createPublicKey,
  type DecipherChaCha20Poly1305,
  type DecipherGCM,
  diffieHellman,
  generateKeyPairSync,
  hkdfSync,
  type KeyObject,
  randomFillSync,
} from "node:crypto";
import type { CryptoBackend, KeyPair } from "./types.ts";
import { zeroize } from "./ct.ts";
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
import { MyClerkError } from "../errors.ts";

/** Bytes of a hex constant (module-level constants only). */
function fromHex(h: string): Uint8Array {
  return Uint8Array.from(h.match(/../g) ?? [], (b) => parseInt(b, 16));
}

/** PKCS#8 DER prefix of an X25519 private key (RFC 8410), followed by 32 raw bytes. */
const PKCS8_X25519 = fromHex("302e020100300506032b656e04220420");
/** SPKI DER prefix of an X25519 public key (RFC 8410), followed by 32 raw bytes. */
const SPKI_X25519 = fromHex("302a300506032b656e032100");
/** The only IV length Deno's native AES-GCM gets right in every case. */
const GCM_NATIVE_IV = 12;
/** Node refuses HKDF `info` longer than this; beyond it we expand by hand. */
const NODE_HKDF_INFO_MAX = 1024;

/** A plain Uint8Array over the same memory as a Buffer (or any view). */
function view(b: Uint8Array): Uint8Array {
  return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
}

/** Runs `f`, turning anything but a MyClerkError into INTERNAL_ERROR `detail`. */
function guard<T>(detail: string, f: () => T): T {
  try {
    return f();
  } catch (e) {
    if (e instanceof MyClerkError) throw e;
    throw internal(detail, e);
  }
}

function privateKeyObject(raw: Uint8Array): KeyObject {
  const der = new Uint8Array(PKCS8_X25519.length + 32);
  der.set(PKCS8_X25519);
  der.set(raw, PKCS8_X25519.length);
  try {
    return createPrivateKey({ key: der as Buffer, format: "der", type: "pkcs8" });
  } finally {
    zeroize(der); // the DER copy holds the private scalar
  }
}

function publicKeyObject(raw: Uint8Array): KeyObject {
  const der = new Uint8Array(SPKI_X25519.length + 32);
  der.set(SPKI_X25519);
  der.set(raw, SPKI_X25519.length);
  return createPublicKey({ key: der as Buffer, format: "der", type: "spki" });
}

function rawPublic(key: KeyObject): Uint8Array {
  const der = key.export({ format: "der", type: "spki" });
  return view(der.subarray(der.length - 32));
}

function hmac(key: Uint8Array, data: Uint8Array): Uint8Array {
  return view(createHmac("sha256", key).update(data).digest());
}

/** RFC 5869 by hand over HMAC, for `info` longer than node's 1024-byte cap. */
function hkdfByHand(
  ikm: Uint8Array,
  salt: Uint8Array,
  info: Uint8Array,
  length: number,
): Uint8Array {
  const prk = hmac(salt, ikm);
  const out = new Uint8Array(length);
  let prev: Uint8Array = new Uint8Array(0);
  const counter = new Uint8Array(1);
  try {
    for (let i = 0, off = 0; off < length; i++) {
      counter[0] = i + 1;
      const t = view(createHmac("sha256", prk).update(prev).update(info).update(counter).digest());
      out.set(t.subarray(0, Math.min(32, length - off)), off);
      zeroize(prev);
      prev = t;
      off += 32;
    }
  } finally {
    zeroize(prk, prev);
  }
  return out;
}

function chachaCipher(
  key: Uint8Array,
  nonce: Uint8Array,
  aad: Uint8Array,
  plaintextLength: number,
): CipherChaCha20Poly1305 {
  checkKey(key);
  checkChachaNonce(nonce);
  return guard("chacha", () => {
    const c = createCipheriv("chacha20-poly1305", key, nonce, { authTagLength: TAG_SIZE });
    // plaintextLength only matters to CCM; the typings demand it for ChaCha.
    if (aad.length > 0) c.setAAD(aad, { plaintextLength });
    return c;
  });
}

function chachaDecipher(
  key: Uint8Array,
  nonce: Uint8Array,
  aad: Uint8Array,
  tag: Uint8Array,
  plaintextLength: number,
): DecipherChaCha20Poly1305 {
  return guard("chacha", () => {
    const d = createDecipheriv("chacha20-poly1305", key, nonce, { authTagLength: TAG_SIZE });
    d.setAuthTag(tag);
    if (aad.length > 0) d.setAAD(aad, { plaintextLength });
    return d;
  });
}

/** Runs a prepared decipher; plaintext is released only after the tag verified. */
function finish(d: DecipherChaCha20Poly1305 | DecipherGCM, ciphertext: Uint8Array): Uint8Array {
  const pt = d.update(ciphertext);
  try {
    d.final();
  } catch (e) {
    zeroize(pt); // unauthenticated plaintext never leaves
    throw aeadFailure(e);
  }
  return view(pt);
}

/** Ciphertext || tag in one allocation (the only copy on the seal path). */
function joinTag(c: CipherChaCha20Poly1305 | CipherGCM, plaintext: Uint8Array): Uint8Array {
  const ct = c.update(plaintext);
  c.final();
  const out = new Uint8Array(ct.length + TAG_SIZE);
  out.set(ct);
  out.set(c.getAuthTag(), ct.length);
  return out;
}

function gcmCipher(key: Uint8Array, iv: Uint8Array, aad: Uint8Array): CipherGCM {
  checkKey(key);
  checkGcmIv(iv);
  return guard("gcm", () => {
    const c = createCipheriv("aes-256-gcm", key, iv, { authTagLength: TAG_SIZE });
    if (aad.length > 0) c.setAAD(aad);
    return c;
  });
}

/** The `node:crypto` back end. */
export const nodeBackend: CryptoBackend = {
  name: "node",

  randomBytes(n: number): Uint8Array {
    checkRandomLength(n);
    // randomFillSync has no 64 KiB quota, unlike getRandomValues.
    return guard("random", () => randomFillSync(new Uint8Array(n)));
  },

  sha256(data: Uint8Array): Uint8Array {
    return guard("sha256", () => view(createHash("sha256").update(data).digest()));
  },

  hmacSha256(key: Uint8Array, data: Uint8Array): Uint8Array {
    return guard("hmac", () => hmac(key, data));
  },

  hkdf(ikm: Uint8Array, salt: Uint8Array, info: Uint8Array, length: number): Uint8Array {
    checkHkdfLength(length);
    return guard(
      "hkdf",
      () =>
        info.length <= NODE_HKDF_INFO_MAX
          ? new Uint8Array(hkdfSync("sha256", ikm, salt, info, length))
          : hkdfByHand(ikm, salt, info, length),
    );
  },

  x25519Generate(): KeyPair {
    return guard("x25519", () => {
      const { privateKey, publicKey } = generateKeyPairSync("x25519", {
        privateKeyEncoding: { format: "der", type: "pkcs8" },
        publicKeyEncoding: { format: "der", type: "spki" },
      });
      // copy out (Buffer#slice would alias), then wipe the DER holding the scalar
      const priv = new Uint8Array(privateKey.subarray(privateKey.length - 32));
      zeroize(privateKey);
      return { privateKey: priv, publicKey: view(publicKey.subarray(publicKey.length - 32)) };
    });
  },

  x25519Public(privateKey: Uint8Array): Uint8Array {
    checkX25519Key(privateKey);
    return guard("x25519", () => rawPublic(createPublicKey(privateKeyObject(privateKey))));
  },

  x25519(privateKey: Uint8Array, publicKey: Uint8Array): Uint8Array {
    checkX25519Key(privateKey);
    checkX25519Key(publicKey);
    const [priv, pub] = guard(
      "x25519",
      () => [privateKeyObject(privateKey), publicKeyObject(publicKey)],
    );
    let shared: Uint8Array;
    try {
      shared = view(diffieHellman({ privateKey: priv, publicKey: pub }));
    } catch (e) {
      // OpenSSL itself refuses an all-zero result ("failed during derivation");
      // the sizes are validated, so that is the only way derivation fails here.
      throw badKey(e);
    }
    if (isAllZero(shared)) throw badKey();
    return shared;
  },

  chachaSeal(
    key: Uint8Array,
    nonce: Uint8Array,
    aad: Uint8Array,
    plaintext: Uint8Array,
  ): Uint8Array {
    const c = chachaCipher(key, nonce, aad, plaintext.length);
    return guard("chacha", () => joinTag(c, plaintext));
  },

  chachaOpen(key: Uint8Array, nonce: Uint8Array, aad: Uint8Array, sealed: Uint8Array): Uint8Array {
    checkKey(key);
    checkChachaNonce(nonce);
    checkSealed(sealed);
    const split = sealed.length - TAG_SIZE;
    const d = chachaDecipher(key, nonce, aad, sealed.subarray(split), split);
    return finish(d, sealed.subarray(0, split));
  },

  chachaSealDetached(key: Uint8Array, nonce: Uint8Array, aad: Uint8Array, plaintext: Uint8Array) {
    const c = chachaCipher(key, nonce, aad, plaintext.length);
    return guard("chacha", () => {
      const ciphertext = view(c.update(plaintext));
      c.final();
      return { ciphertext, tag: view(c.getAuthTag()) };
    });
  },

  chachaOpenDetached(
    key: Uint8Array,
    nonce: Uint8Array,
    aad: Uint8Array,
    ciphertext: Uint8Array,
    tag: Uint8Array,
  ): Uint8Array {
    checkKey(key);
    checkChachaNonce(nonce);
    checkTag(tag);
    return finish(chachaDecipher(key, nonce, aad, tag, ciphertext.length), ciphertext);
  },

  chachaSealInto(
    key: Uint8Array,
    nonce: Uint8Array,
    aad: Uint8Array,
    plaintext: Uint8Array,
    out: Uint8Array,
    outOffset: number,
  ): number {
    return sealIntoVia(nodeBackend.chachaSeal, key, nonce, aad, plaintext, out, outOffset);
  },

  aesGcmSeal(key: Uint8Array, iv: Uint8Array, aad: Uint8Array, plaintext: Uint8Array): Uint8Array {
    if (iv.length !== GCM_NATIVE_IV) {
      checkKey(key);
      checkGcmIv(iv);
      return guard("gcm", () => nobleGcm(key, iv, aad).encrypt(plaintext));
    }
    const c = gcmCipher(key, iv, aad);
    return guard("gcm", () => joinTag(c, plaintext));
  },

  aesGcmOpen(key: Uint8Array, iv: Uint8Array, aad: Uint8Array, sealed: Uint8Array): Uint8Array {
    checkKey(key);
    checkGcmIv(iv);
    checkSealed(sealed);
    if (iv.length !== GCM_NATIVE_IV) {
      try {
        return nobleGcm(key, iv, aad).decrypt(sealed);
      } catch (e) {
        throw aeadFailure(e);
      }
    }
    const split = sealed.length - TAG_SIZE;
    const d = guard("gcm", () => {
      const d = createDecipheriv("aes-256-gcm", key, iv, { authTagLength: TAG_SIZE });
      d.setAuthTag(sealed.subarray(split));
      if (aad.length > 0) d.setAAD(aad);
      return d;
    });
    return finish(d, sealed.subarray(0, split));
  },
};
