/**
 * The `libcrypto` back end: ChaCha20-Poly1305, AES-256-GCM, HMAC-SHA256,
 * HKDF-SHA256, SHA-256 and X25519 agreement straight from the system
 * OpenSSL 3 (`libcrypto.so.3`) through Deno FFI. Random bytes, X25519 key
 * generation and X25519 public keys are delegated to `node.ts`: OpenSSL 3
 * computes a public key with generic fixed-base code (~39 µs, or ~38 µs as
 * an agreement with the base point), slower than `node:crypto` (~27 µs).
 * Every native part is optional: a missing symbol falls back to `node.ts`.
 *
 * Why: Deno's `node:crypto` AEADs build a cipher object and several native
 * buffers per message and reach only ~0.3x `openssl speed`; here one
 * `EVP_CIPHER_CTX` per cipher and direction lives as long as the back end
 * and each message only re-keys it (`EVP_*Init_ex(ctx, NULL, NULL, key,
 * iv)`), so a seal is 4-5 synchronous FFI calls and one output allocation.
 *
 * Safety rules (a native fault kills the whole process, so nothing here may
 * reach OpenSSL with a size it did not check):
 * - every length passed to C is validated in JS first (key 32, nonce 12,
 *   GCM IV 8..128, tag 16, lengths < 2^31 per call), and every output
 *   buffer is allocated or checked by us to hold what OpenSSL writes;
 * - buffers are passed as `buffer` arguments for the duration of one
 *   synchronous call only; no pointer is ever cached, so a caller detaching
 *   or resizing an `ArrayBuffer` later cannot make us write to freed memory;
 * - lengths are `i32` (not `usize`): V8 fast calls take `i32` as is, a
 *   `usize` number falls back to a ~5x slower path.
 *
 * Symbols are synchronous (`nonblocking: false`): the interface is
 * synchronous, and a nonblocking symbol returns a Promise and hops to
 * another thread, which costs more than the whole seal of a small message.
 *
 * {@link libcryptoBackend} never throws: it returns `undefined` when FFI is
 * not permitted, not available, or `libcrypto.so.3` cannot be opened.
 *
 * Longer than ~500 lines on purpose: one FFI binding of libcrypto: the symbol table and the back
 * end's methods share the bound functions and buffers; the frame shim is its own module.
 *
 * @module
 */

import { SHARED_SLAB } from "../slab.ts";
import { gcm as nobleGcm } from "@noble/ciphers/aes.js";
import type { CryptoBackend } from "./types.ts";
import type { MyClerkError } from "../errors.ts";
import { nodeBackend } from "./node.ts";
import { zeroize } from "./ct.ts";
import { frameShim } from "./frame_shim.ts";
import {
  aeadFailure,
  badKey,
  checkChachaNonce,
  checkGcmIv,
  checkHkdfLength,
  checkKey,
  checkOut,
  checkSealed,
  checkTag,
  checkX25519Key,
  internal,
  isAllZero,
  TAG_SIZE,
} from "./validate.ts";

/** The shared object opened (Debian: package `libssl3`). */
export const LIBCRYPTO_SONAME = "libcrypto.so.3";

/** `EVP_CTRL_AEAD_SET_IVLEN` (openssl/evp.h). */
const CTRL_SET_IVLEN = 0x9;
/** `EVP_CTRL_AEAD_GET_TAG`. */
const CTRL_GET_TAG = 0x10;
/** `EVP_CTRL_AEAD_SET_TAG`. */
const CTRL_SET_TAG = 0x11;
/**
 * Largest GCM IV OpenSSL 3 accepts (`GCM_IV_MAX_SIZE`, 1024 bits); longer
 * IVs (valid GCM, never used by the protocol) go to `@noble/ciphers`.
 */
const GCM_MAX_FFI_IV = 128;
/** Largest length handed to one `i32` update call; longer inputs are chunked. */
const MAX_CHUNK = 0x4000_0000;

const SYMBOLS = {
  EVP_CIPHER_CTX_new: { parameters: [], result: "pointer" },
  EVP_chacha20_poly1305: { parameters: [], result: "pointer" },
  EVP_aes_256_gcm: { parameters: [], result: "pointer" },
  EVP_EncryptInit_ex: {
    parameters: ["pointer", "pointer", "pointer", "buffer", "buffer"],
    result: "i32",
  },
  EVP_DecryptInit_ex: {
    parameters: ["pointer", "pointer", "pointer", "buffer", "buffer"],
    result: "i32",
  },
  EVP_EncryptUpdate: {
    parameters: ["pointer", "buffer", "buffer", "buffer", "i32"],
    result: "i32",
  },
  EVP_DecryptUpdate: {
    parameters: ["pointer", "buffer", "buffer", "buffer", "i32"],
    result: "i32",
  },
  EVP_EncryptFinal_ex: { parameters: ["pointer", "buffer", "buffer"], result: "i32" },
  EVP_DecryptFinal_ex: { parameters: ["pointer", "buffer", "buffer"], result: "i32" },
  EVP_CIPHER_CTX_ctrl: { parameters: ["pointer", "i32", "i32", "buffer"], result: "i32" },
  ERR_clear_error: { parameters: [], result: "void" },
  // HMAC_CTX is deprecated in OpenSSL 3 but exported by every default build;
  // optional so a `no-deprecated` build still loads (HMAC then goes to node).
  EVP_sha256: { parameters: [], result: "pointer", optional: true },
  HMAC_CTX_new: { parameters: [], result: "pointer", optional: true },
  HMAC_Init_ex: {
    parameters: ["pointer", "buffer", "i32", "pointer", "pointer"],
    result: "i32",
    optional: true,
  },
  // size_t length: a bigint keeps the V8 fast call (a number would not)
  HMAC_Update: { parameters: ["pointer", "buffer", "usize"], result: "i32", optional: true },
  HMAC_Final: { parameters: ["pointer", "buffer", "buffer"], result: "i32", optional: true },
  // X25519 through the EVP_PKEY API (all in OpenSSL 3.0); optional so a
  // library without them still loads (X25519 then goes to node)
  EVP_PKEY_CTX_new_from_name: {
    parameters: ["pointer", "buffer", "pointer"],
    result: "pointer",
    optional: true,
  },
  EVP_PKEY_fromdata_init: { parameters: ["pointer"], result: "i32", optional: true },
  EVP_PKEY_fromdata: {
    parameters: ["pointer", "buffer", "i32", "buffer"],
    result: "i32",
    optional: true,
  },
  EVP_PKEY_new_raw_public_key: {
    parameters: ["i32", "pointer", "buffer", "usize"],
    result: "pointer",
    optional: true,
  },
  EVP_PKEY_free: { parameters: ["pointer"], result: "void", optional: true },
  EVP_PKEY_CTX_new: { parameters: ["pointer", "pointer"], result: "pointer", optional: true },
  EVP_PKEY_CTX_free: { parameters: ["pointer"], result: "void", optional: true },
  EVP_PKEY_derive_init: { parameters: ["pointer"], result: "i32", optional: true },
  EVP_PKEY_derive_set_peer_ex: {
    parameters: ["pointer", "pointer", "i32"],
    result: "i32",
    optional: true,
  },
  EVP_PKEY_derive: { parameters: ["pointer", "buffer", "buffer"], result: "i32", optional: true },
  // one-shot SHA-256 (not deprecated in 3.0; no provider fetch, no context)
  SHA256: { parameters: ["buffer", "usize", "buffer"], result: "pointer", optional: true },
} as const satisfies Deno.ForeignLibraryInterface;

type Lib = Deno.DynamicLibrary<typeof SYMBOLS>;
type Symbols = Lib["symbols"];
type Ptr = Deno.PointerValue;

/** One cipher: a context per direction, and the IV length each is set to. */
interface Aead {
  readonly enc: Ptr;
  readonly dec: Ptr;
  /** IV length currently configured on `enc` / `dec` (GCM only changes it). */
  encIv: number;
  decIv: number;
}

/** Scratch memory reused by every call (JS is single-threaded per isolate). */
interface Scratch {
  /** 16-byte tag in/out. */
  readonly tag: Uint8Array;
  /** `int *outl` for update/final. */
  readonly outl: Uint8Array;
  /** The same 4 bytes as a number. */
  readonly outlI32: Int32Array;
  /** HMAC output. */
  readonly md: Uint8Array;
  /** A non-NULL pointer for an empty HMAC key (NULL would mean "keep the old key"). */
  readonly emptyKey: Uint8Array;
}

/** Opens libcrypto, or undefined (never throws, never prompts). */
function openLib(): Lib | undefined {
  try {
    if (typeof Deno?.dlopen !== "function") return undefined;
    // query first: dlopen without --allow-ffi would prompt on a TTY
    if (Deno.permissions.querySync({ name: "ffi" }).state !== "granted") return undefined;
    return Deno.dlopen(LIBCRYPTO_SONAME, SYMBOLS);
  } catch {
    return undefined; // not installed, wrong ABI, sandboxed: no libcrypto back end
  }
}

function newAead(s: Symbols, cipher: Ptr): Aead | undefined {
  if (cipher === null) return undefined;
  const enc = s.EVP_CIPHER_CTX_new(), dec = s.EVP_CIPHER_CTX_new();
  if (enc === null || dec === null) return undefined;
  // bind the cipher once; each message later re-inits only key and IV
  if (s.EVP_EncryptInit_ex(enc, cipher, null, null, null) !== 1) return undefined;
  if (s.EVP_DecryptInit_ex(dec, cipher, null, null, null) !== 1) return undefined;
  return { enc, dec, encIv: 12, decIv: 12 };
}

/** Feeds `data` to an update call in `i32`-sized chunks; output goes to `out` from 0. */
function update(
  s: Symbols,
  f: Symbols["EVP_EncryptUpdate"],
  ctx: Ptr,
  out: Uint8Array | null,
  data: Uint8Array,
  len: number,
  sc: Scratch,
): boolean {
  if (len <= MAX_CHUNK) {
    if (f(ctx, out, sc.outl, data, len) !== 1) return false;
    // stream ciphers emit exactly what they take; anything else is a bug
    return out === null || sc.outlI32[0] === len;
  }
  for (let off = 0; off < len; off += MAX_CHUNK) {
    const n = Math.min(MAX_CHUNK, len - off);
    const o = out === null ? null : out.subarray(off, off + n);
    if (!update(s, f, ctx, o, data.subarray(off, off + n), n, sc)) return false;
  }
  return true;
}

/**
 * HMAC-SHA256 through one reused `HMAC_CTX` (3 FFI calls), or undefined when
 * the library lacks the symbols. Measured ~2.5x faster than `node:crypto`
 * at 1 KiB (bench/crypto.ts), and HMAC runs on every message.
 */
function hmacOver(
  s: Symbols,
  sc: Scratch,
): ((key: Uint8Array, data: Uint8Array) => Uint8Array) | undefined {
  const { EVP_sha256, HMAC_CTX_new, HMAC_Init_ex, HMAC_Update, HMAC_Final } = s;
  if (!EVP_sha256 || !HMAC_CTX_new || !HMAC_Init_ex || !HMAC_Update || !HMAC_Final) {
    return undefined;
  }
  const md = EVP_sha256(), ctx = HMAC_CTX_new();
  if (md === null || ctx === null) return undefined;
  // The context keeps the last key's padded inner/outer state; when the same
  // key comes again (every message of a session direction does) a NULL key
  // re-initialises from that state and skips hashing the key pads: measured
  // ~2x faster for the 64-80 byte trailer inputs. Compared by content, never
  // by identity, so a key zeroed in place is never mistaken for the old one.
  const last = new Uint8Array(64);
  let lastLen = -1;
  const same = (key: Uint8Array): boolean => {
    if (key.length !== lastLen) return false;
    let d = 0;
    for (let i = 0; i < key.length; i++) d |= key[i] ^ last[i];
    return d === 0;
  };
  return (key, data) => {
    let ok: boolean;
    if (key.length > 0 && key.length <= 64 && same(key)) {
      ok = HMAC_Init_ex(ctx, null, 0, null, null) === 1;
    } else {
      // an empty Uint8Array may reach C as NULL, which HMAC_Init_ex reads as
      // "reuse the previous key": give it a real (zero-length) buffer instead
      const k = key.length === 0 ? sc.emptyKey : key;
      ok = HMAC_Init_ex(ctx, k, k.length, md, null) === 1;
      if (ok && key.length > 0 && key.length <= 64) {
        last.set(key);
        lastLen = key.length;
      } else {
        lastLen = -1;
      }
    }
    if (ok && data.length > 0) ok = HMAC_Update(ctx, data, BigInt(data.length)) === 1;
    ok = ok && HMAC_Final(ctx, sc.md, sc.outl) === 1;
    if (!ok) {
      lastLen = -1;
      s.ERR_clear_error();
      throw internal("hmac", new Error("libcrypto HMAC failed"));
    }
    const out = sc.md.slice(); // a plain on-heap copy: cheaper than handing C a fresh array
    sc.md.fill(0); // may be a PRK
    return out;
  };
}

/** `EVP_PKEY_X25519` (= `NID_X25519`, openssl/obj_mac.h). */
const EVP_PKEY_X25519 = 1034;
/** X25519 key length as a `size_t` argument (a bigint keeps the fast call). */
const X25519_LEN = 32n;
/** `EVP_PKEY_KEYPAIR` selection (openssl/evp.h: all parameters | public | private). */
const EVP_PKEY_KEYPAIR = 0x87;
/** `OSSL_PARAM_OCTET_STRING` (openssl/core.h). */
const OSSL_PARAM_OCTET_STRING = 5;
/** `sizeof(OSSL_PARAM)` on LP64: key, data_type (+pad), data, data_size, return_size. */
const PARAM_SIZE = 40;
/** RFC 7748 §5.2 base point u = 9. */
const BASE_POINT = new Uint8Array(32);
BASE_POINT[0] = 9;

/** The three X25519 methods of a back end. */
type X25519Ops = Pick<CryptoBackend, "x25519Generate" | "x25519Public" | "x25519">;

/**
 * The private-key import area: an `OSSL_PARAM[3]` array (`priv`, `pub`,
 * end marker) whose pointers point into the same `ArrayBuffer`, the two
 * key names, the two 32-byte key slots and the `EVP_PKEY **` out slot.
 * The buffer lives as long as the back end and is never transferred, so
 * the pointers written into it stay valid: the one exception to "no
 * pointer is ever cached", and it only ever points at our own memory.
 */
interface ImportArea {
  readonly params: Uint8Array;
  readonly priv: Uint8Array;
  readonly slot: Uint8Array;
  readonly slot64: BigUint64Array;
}

function importArea(): ImportArea | undefined {
  // "priv\0pub\0" is 9 bytes at 120..128: the key slots start at 136, so a
  // key byte can never overwrite the terminating NUL of a name
  const NAMES = 3 * PARAM_SIZE, PRIV = 136, PUB = 168, SLOT = 200;
  const mem = new ArrayBuffer(208);
  const base = Deno.UnsafePointer.value(Deno.UnsafePointer.of(mem));
  if (typeof base !== "bigint" || base === 0n) return undefined;
  const u8 = new Uint8Array(mem), u32 = new Uint32Array(mem), u64 = new BigUint64Array(mem);
  u8.set(new TextEncoder().encode("priv\0pub\0"), NAMES);
  const param = (i: number, name: number, data: number): void => {
    const o = (i * PARAM_SIZE) / 8;
    u64[o] = base + BigInt(name); // const char *key
    u32[o * 2 + 2] = OSSL_PARAM_OCTET_STRING; // unsigned int data_type
    u64[o + 2] = base + BigInt(data); // void *data
    u64[o + 3] = X25519_LEN; // size_t data_size
    u64[o + 4] = 0xffff_ffff_ffff_ffffn; // return_size = OSSL_PARAM_UNMODIFIED
  };
  param(0, NAMES, PRIV);
  param(1, NAMES + 5, PUB); // the third entry stays all zero: the end marker
  return {
    params: new Uint8Array(mem, 0, 3 * PARAM_SIZE),
    priv: new Uint8Array(mem, PRIV, 32),
    slot: new Uint8Array(mem, SLOT, 8),
    slot64: new BigUint64Array(mem, SLOT, 1),
  };
}

/**
 * X25519 through `EVP_PKEY_derive`, or undefined when the library lacks
 * the symbols or fails the known-answer self-test below.
 *
 * Why not `EVP_PKEY_new_raw_private_key`: OpenSSL 3 computes the public key
 * of every imported private key, with its generic (slow) fixed-base code:
 * measured ~39 µs, more than the ~31 µs of the scalar multiplication we
 * want. `EVP_PKEY_fromdata` skips that when a public key is supplied too,
 * so the private key is imported with an all-zero placeholder public key:
 * X25519 derivation reads only the private scalar and the peer key, and
 * the placeholder never leaves this function (the `EVP_PKEY` is freed before
 * it returns). Import then costs ~1.5 µs and one agreement ~38 µs, against
 * ~71 µs through `node:crypto`, which builds DER KeyObjects per call.
 *
 * Every call creates and frees its own `EVP_PKEY`s and `EVP_PKEY_CTX`
 * (nothing keyed is cached: OpenSSL wipes the scalar on free). Every
 * failure clears the OpenSSL error queue, which is per thread and would
 * otherwise only grow.
 */
function x25519Over(s: Symbols): X25519Ops | undefined {
  const {
    EVP_PKEY_CTX_new_from_name: ctxFromName,
    EVP_PKEY_fromdata_init: fromdataInit,
    EVP_PKEY_fromdata: fromdata,
    EVP_PKEY_new_raw_public_key: newPub,
    EVP_PKEY_free: freeKey,
    EVP_PKEY_CTX_new: newCtx,
    EVP_PKEY_CTX_free: freeCtx,
    EVP_PKEY_derive_init: deriveInit,
    EVP_PKEY_derive_set_peer_ex: setPeer,
    EVP_PKEY_derive: derive,
  } = s;
  if (
    !ctxFromName || !fromdataInit || !fromdata || !newPub || !freeKey || !newCtx || !freeCtx ||
    !deriveInit || !setPeer || !derive
  ) {
    return undefined;
  }
  const maybeArea = importArea();
  if (maybeArea === undefined) return undefined;
  const area: ImportArea = maybeArea;
  // the import context holds no key: built once, reused by every import
  const importer = ctxFromName(null, new TextEncoder().encode("X25519\0"), null);
  if (importer === null) return undefined;
  if (fromdataInit(importer) !== 1) {
    freeCtx(importer);
    return undefined;
  }
  // off-heap scratch: the 32-byte output and a size_t in/out length
  const mem = new ArrayBuffer(48);
  const out = new Uint8Array(mem, 0, 32);
  const lenArg = new Uint8Array(mem, 32, 8);
  const len = new BigUint64Array(mem, 32, 1);

  const fail = (what: string): MyClerkError => {
    s.ERR_clear_error();
    return internal("x25519", new Error(`libcrypto X25519 ${what} failed`));
  };

  /** Imports a private key (checked size) as a new `EVP_PKEY`; the caller frees it. */
  const importPrivate = (privateKey: Uint8Array): NonNullable<Ptr> => {
    area.priv.set(privateKey);
    area.slot64[0] = 0n; // EVP_PKEY_fromdata fills an existing key when non-NULL
    const ok = fromdata(importer, area.slot, EVP_PKEY_KEYPAIR, area.params) === 1;
    area.priv.fill(0);
    const pk = Deno.UnsafePointer.create(area.slot64[0]);
    area.slot64[0] = 0n;
    if (!ok || pk === null) {
      if (pk !== null) freeKey(pk);
      throw fail("private key import");
    }
    return pk;
  };

  /** X25519(privateKey, publicKey), both 32 bytes (checked by the caller). */
  const agree = (privateKey: Uint8Array, publicKey: Uint8Array): Uint8Array => {
    const pk = importPrivate(privateKey);
    let peer: Ptr = null, ctx: Ptr = null;
    try {
      // any 32 bytes import (the top bit is masked, non-canonical u accepted)
      peer = newPub(EVP_PKEY_X25519, null, publicKey, X25519_LEN);
      if (peer === null) throw fail("public key import");
      ctx = newCtx(pk, null);
      if (ctx === null || deriveInit(ctx) !== 1) throw fail("derive init");
      // validate_peer 0: OpenSSL's X25519 public check only tests that a
      // public key is present, and validating builds one more context
      if (setPeer(ctx, peer, 0) !== 1) throw fail("set peer");
      len[0] = X25519_LEN;
      if (derive(ctx, out, lenArg) !== 1) {
        // OpenSSL refuses an all-zero result (low-order peer, RFC 7748
        // §6.1); the sizes were checked, so that is the only refusal here
        out.fill(0);
        s.ERR_clear_error();
        throw badKey(new Error("libcrypto X25519 derive refused the peer key"));
      }
      if (len[0] !== X25519_LEN) {
        out.fill(0);
        throw fail("derive length");
      }
      const shared = out.slice(); // a plain on-heap copy
      out.fill(0);
      if (isAllZero(shared)) throw badKey();
      return shared;
    } finally {
      if (ctx !== null) freeCtx(ctx);
      if (peer !== null) freeKey(peer);
      freeKey(pk);
    }
  };

  // Known answer (RFC 7748 §6.1, Alice's public key = X25519(a, 9)): if a
  // future OpenSSL ever derived from the placeholder public key, or read the
  // params differently, this back end falls back to node for X25519.
  const a = "77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a";
  const aPub = "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a";
  try {
    const kat = agree(Uint8Array.from(a.match(/../g)!, (h) => parseInt(h, 16)), BASE_POINT);
    if (Array.from(kat, (b) => b.toString(16).padStart(2, "0")).join("") !== aPub) {
      return undefined;
    }
  } catch {
    return undefined;
  }

  return {
    x25519Generate: nodeBackend.x25519Generate,
    x25519Public: nodeBackend.x25519Public,
    x25519(privateKey: Uint8Array, publicKey: Uint8Array): Uint8Array {
      checkX25519Key(privateKey);
      checkX25519Key(publicKey);
      return agree(privateKey, publicKey);
    },
  };
}

/**
 * RFC 5869 HKDF-SHA256 over its own reused `HMAC_CTX` (3-4 FFI calls per
 * 32-byte block), or undefined when HMAC is not available. The caller has
 * checked `length`. Extract is HMAC(salt, ikm); an empty salt is an empty
 * HMAC key, which HMAC pads to the same block as RFC 5869's HashLen zeros.
 */
function hkdfOver(
  s: Symbols,
):
  | ((ikm: Uint8Array, salt: Uint8Array, info: Uint8Array, length: number) => Uint8Array)
  | undefined {
  const { EVP_sha256, HMAC_CTX_new, HMAC_Init_ex, HMAC_Update, HMAC_Final } = s;
  if (!EVP_sha256 || !HMAC_CTX_new || !HMAC_Init_ex || !HMAC_Update || !HMAC_Final) {
    return undefined;
  }
  const md = EVP_sha256(), ctx = HMAC_CTX_new();
  if (md === null || ctx === null) return undefined;
  const mem = new ArrayBuffer(80);
  const prk = new Uint8Array(mem, 0, 32);
  const block = new Uint8Array(mem, 32, 32);
  const counter = new Uint8Array(mem, 64, 1);
  const outl = new Uint8Array(mem, 68, 4);
  // a real zero-length buffer: an empty array may reach C as NULL, which
  // HMAC_Init_ex reads as "keep the previous key"
  const emptyKey = new Uint8Array(mem, 72, 1).subarray(0, 0);
  return (ikm, salt, info, length) => {
    const okm = new Uint8Array(length);
    if (length === 0) return okm;
    const k = salt.length === 0 ? emptyKey : salt;
    let ok = HMAC_Init_ex(ctx, k, k.length, md, null) === 1 &&
      (ikm.length === 0 || HMAC_Update(ctx, ikm, BigInt(ikm.length)) === 1) &&
      HMAC_Final(ctx, prk, outl) === 1;
    const infoLen = BigInt(info.length);
    for (let i = 1, off = 0; ok && off < length; i++, off += 32) {
      counter[0] = i;
      // T(i) = HMAC(PRK, T(i-1) | info | i); after the first block a NULL
      // key re-initialises from the PRK pads already in the context
      ok = (i === 1
        ? HMAC_Init_ex(ctx, prk, 32, md, null) === 1
        : HMAC_Init_ex(ctx, null, 0, null, null) === 1 && HMAC_Update(ctx, block, 32n) === 1) &&
        (info.length === 0 || HMAC_Update(ctx, info, infoLen) === 1) &&
        HMAC_Update(ctx, counter, 1n) === 1 &&
        HMAC_Final(ctx, block, outl) === 1;
      if (ok) {
        okm.set(length - off >= 32 ? block : block.subarray(0, length - off), off);
      }
    }
    prk.fill(0);
    block.fill(0);
    if (!ok) {
      s.ERR_clear_error();
      zeroize(okm);
      throw internal("hkdf", new Error("libcrypto HKDF failed"));
    }
    return okm;
  };
}

/** One-shot `SHA256()` into a reused scratch, or undefined when absent. */
function sha256Over(s: Symbols): ((data: Uint8Array) => Uint8Array) | undefined {
  const f = s.SHA256;
  if (!f) return undefined;
  const md = new Uint8Array(new ArrayBuffer(32));
  return (data) => {
    if (f(data, BigInt(data.length), md) === null) {
      s.ERR_clear_error();
      throw internal("sha256", new Error("libcrypto SHA256 failed"));
    }
    return md.slice();
  };
}

/**
 * Builds the back end over an opened library. Every exported method checks
 * sizes first (validate.ts), exactly like `node.ts` and `noble.ts`.
 */
function build(lib: Lib): CryptoBackend | undefined {
  const s = lib.symbols;
  const chacha = newAead(s, s.EVP_chacha20_poly1305());
  const gcm = newAead(s, s.EVP_aes_256_gcm());
  if (chacha === undefined || gcm === undefined) return undefined;
  // one ArrayBuffer (always off-heap): views into it never move
  const mem = new ArrayBuffer(128);
  const sc: Scratch = {
    tag: new Uint8Array(mem, 0, TAG_SIZE),
    outl: new Uint8Array(mem, 16, 4),
    outlI32: new Int32Array(mem, 16, 1),
    md: new Uint8Array(mem, 32, 32),
    emptyKey: new Uint8Array(mem, 64, 1).subarray(0, 0),
  };
  const hmacSha256 = hmacOver(s, sc) ?? nodeBackend.hmacSha256;
  const x = x25519Over(s) ?? nodeBackend;
  const hkdfNative = hkdfOver(s);
  const sha256 = sha256Over(s) ?? nodeBackend.sha256;

  /** Re-keys `ctx` for one message; sets the IV length first when it changed (GCM). */
  function init(a: Aead, encrypt: boolean, key: Uint8Array, iv: Uint8Array): boolean {
    const ctx = encrypt ? a.enc : a.dec;
    if ((encrypt ? a.encIv : a.decIv) !== iv.length) {
      if (s.EVP_CIPHER_CTX_ctrl(ctx, CTRL_SET_IVLEN, iv.length, null) !== 1) return false;
      if (encrypt) a.encIv = iv.length;
      else a.decIv = iv.length;
    }
    const f = encrypt ? s.EVP_EncryptInit_ex : s.EVP_DecryptInit_ex;
    return f(ctx, null, null, key, iv) === 1;
  }

  /**
   * Encrypts `pt` into `out` (from index 0) and leaves the tag in `sc.tag`.
   * Sizes were checked by the caller; `out` holds at least `pt.length`.
   */
  function seal(
    a: Aead,
    detail: string,
    key: Uint8Array,
    iv: Uint8Array,
    aad: Uint8Array,
    pt: Uint8Array,
    out: Uint8Array,
  ): void {
    const ctx = a.enc;
    let ok = init(a, true, key, iv);
    if (ok && aad.length > 0) ok = update(s, s.EVP_EncryptUpdate, ctx, null, aad, aad.length, sc);
    if (ok && pt.length > 0) ok = update(s, s.EVP_EncryptUpdate, ctx, out, pt, pt.length, sc);
    // final writes nothing for these stream AEADs; it only computes the tag
    ok = ok && s.EVP_EncryptFinal_ex(ctx, sc.tag, sc.outl) === 1 &&
      s.EVP_CIPHER_CTX_ctrl(ctx, CTRL_GET_TAG, TAG_SIZE, sc.tag) === 1;
    if (!ok) {
      s.ERR_clear_error(); // the error queue is per thread and would only grow
      throw internal(detail, new Error(`libcrypto ${detail} seal failed`));
    }
  }

  /**
   * Decrypts `ctLen` bytes of `ct` into `out` against the tag already in
   * `sc.tag`; wipes `out` and throws UNAUTHORIZED `aead` when it does not verify.
   */
  function open(
    a: Aead,
    detail: string,
    key: Uint8Array,
    iv: Uint8Array,
    aad: Uint8Array,
    ct: Uint8Array,
    ctLen: number,
    out: Uint8Array,
  ): void {
    const ctx = a.dec;
    if (
      !init(a, false, key, iv) ||
      s.EVP_CIPHER_CTX_ctrl(ctx, CTRL_SET_TAG, TAG_SIZE, sc.tag) !== 1 ||
      (aad.length > 0 && !update(s, s.EVP_DecryptUpdate, ctx, null, aad, aad.length, sc)) ||
      (ctLen > 0 && !update(s, s.EVP_DecryptUpdate, ctx, out, ct, ctLen, sc))
    ) {
      s.ERR_clear_error();
      zeroize(out);
      throw internal(detail, new Error(`libcrypto ${detail} open failed`));
    }
    if (s.EVP_DecryptFinal_ex(ctx, sc.tag, sc.outl) !== 1) {
      s.ERR_clear_error();
      zeroize(out); // unauthenticated plaintext never leaves
      throw aeadFailure();
    }
  }

  /** Copies the last 16 bytes of `sealed` into the tag scratch (no view allocated). */
  function loadTag(src: Uint8Array, at: number): void {
    const t = sc.tag;
    for (let i = 0; i < TAG_SIZE; i++) t[i] = src[at + i];
  }

  function sealAttached(
    a: Aead,
    detail: string,
    key: Uint8Array,
    iv: Uint8Array,
    aad: Uint8Array,
    pt: Uint8Array,
  ): Uint8Array {
    const out = new Uint8Array(pt.length + TAG_SIZE);
    seal(a, detail, key, iv, aad, pt, out);
    out.set(sc.tag, pt.length);
    return out;
  }

  // Plaintexts of opened messages are cut from slabs (core/slab.ts): a
  // separate ~1 KiB allocation per message costs more than the decryption.
  const plainSlab = SHARED_SLAB;

  function openAttached(
    a: Aead,
    detail: string,
    key: Uint8Array,
    iv: Uint8Array,
    aad: Uint8Array,
    sealed: Uint8Array,
  ): Uint8Array {
    const split = sealed.length - TAG_SIZE;
    loadTag(sealed, split);
    const out = plainSlab.take(split);
    // `sealed` is passed whole with length `split`: no subarray per message
    open(a, detail, key, iv, aad, sealed, split, out);
    return out;
  }

  const chachaSeal = (key: Uint8Array, nonce: Uint8Array, aad: Uint8Array, pt: Uint8Array) => {
    checkKey(key);
    checkChachaNonce(nonce);
    return sealAttached(chacha, "chacha", key, nonce, aad, pt);
  };
  // one FFI call per protected message when native/frame.c is built (frame_shim.ts)
  const frameKeys = frameShim({ chachaSeal, hmacSha256 });

  return {
    name: "libcrypto",
    ...(frameKeys === undefined ? {} : { frameKeys }),
    randomBytes: nodeBackend.randomBytes,
    sha256,
    hmacSha256,
    hkdf: hkdfNative === undefined ? nodeBackend.hkdf : (ikm, salt, info, length) => {
      checkHkdfLength(length);
      return hkdfNative(ikm, salt, info, length);
    },
    x25519Generate: x.x25519Generate,
    x25519Public: x.x25519Public,
    x25519: x.x25519,

    chachaSeal,

    chachaOpen(key, nonce, aad, sealed) {
      checkKey(key);
      checkChachaNonce(nonce);
      checkSealed(sealed);
      return openAttached(chacha, "chacha", key, nonce, aad, sealed);
    },

    chachaSealDetached(key, nonce, aad, plaintext) {
      checkKey(key);
      checkChachaNonce(nonce);
      const ciphertext = new Uint8Array(plaintext.length);
      seal(chacha, "chacha", key, nonce, aad, plaintext, ciphertext);
      return { ciphertext, tag: sc.tag.slice() };
    },

    chachaOpenDetached(key, nonce, aad, ciphertext, tag) {
      checkKey(key);
      checkChachaNonce(nonce);
      checkTag(tag);
      loadTag(tag, 0);
      const out = plainSlab.take(ciphertext.length);
      open(chacha, "chacha", key, nonce, aad, ciphertext, ciphertext.length, out);
      return out;
    },

    chachaSealInto(key, nonce, aad, plaintext, out, outOffset) {
      checkKey(key);
      checkChachaNonce(nonce);
      const n = plaintext.length;
      checkOut(out, outOffset, n + TAG_SIZE);
      const dst = outOffset === 0 ? out : out.subarray(outOffset);
      const ps = plaintext.byteOffset, ds = dst.byteOffset;
      if (
        dst.buffer === plaintext.buffer && ps !== ds && ps < ds + n + TAG_SIZE && ds < ps + n
      ) {
        // partial overlap is undefined behaviour in OpenSSL; exact in-place is fine
        const sealed = sealAttached(chacha, "chacha", key, nonce, aad, plaintext);
        out.set(sealed, outOffset);
        return sealed.length;
      }
      seal(chacha, "chacha", key, nonce, aad, plaintext, dst);
      out.set(sc.tag, outOffset + n);
      return n + TAG_SIZE;
    },

    aesGcmSeal(key, iv, aad, plaintext) {
      checkKey(key);
      checkGcmIv(iv);
      if (iv.length > GCM_MAX_FFI_IV) {
        try {
          return nobleGcm(key, iv, aad).encrypt(plaintext);
        } catch (e) {
          throw internal("gcm", e);
        }
      }
      return sealAttached(gcm, "gcm", key, iv, aad, plaintext);
    },

    aesGcmOpen(key, iv, aad, sealed) {
      checkKey(key);
      checkGcmIv(iv);
      checkSealed(sealed);
      if (iv.length > GCM_MAX_FFI_IV) {
        try {
          return nobleGcm(key, iv, aad).decrypt(sealed);
        } catch (e) {
          throw aeadFailure(e);
        }
      }
      return openAttached(gcm, "gcm", key, iv, aad, sealed);
    },
  };
}

let cached: CryptoBackend | null | undefined;

/**
 * The libcrypto back end (one instance per isolate, built on first call), or
 * `undefined` when `libcrypto.so.3` cannot be opened, FFI is not permitted
 * (`--allow-ffi`), or the ciphers are missing. Never throws.
 *
 * @example const c = libcryptoBackend() ?? nodeBackend
 */
export function libcryptoBackend(): CryptoBackend | undefined {
  if (cached === undefined) {
    const lib = openLib();
    let b: CryptoBackend | undefined;
    try {
      b = lib === undefined ? undefined : build(lib);
    } catch {
      b = undefined;
    }
    if (b === undefined) lib?.close();
    cached = b ?? null;
  }
  return cached ?? undefined;
}
