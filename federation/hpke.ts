/**
 * RFC 9180 HPKE for one suite: DHKEM(X25519, HKDF-SHA256) (0x0020),
 * HKDF-SHA256 (0x0001), ChaCha20Poly1305 (0x0003); modes `base` (0x00) and
 * `auth` (0x02). Pure: every primitive comes from the {@link CryptoBackend}
 * passed in, so the node and noble back ends give identical bytes.
 *
 * Federation seals family-to-family messages with the single-shot auth
 * mode ({@link sealAuth} / {@link openAuth}): the recipient learns that the
 * sender holds the private key of its family key, and nobody else (relays
 * included) can open the content.
 *
 * @module
 */

import { badRequest } from "../core/errors.ts";
import type { CryptoBackend, KeyPair } from "../core/crypto/types.ts";
import { concat, i2osp, utf8 } from "./bytes.ts";
import { timingSafeEqual } from "../core/crypto/ct.ts";

/** HPKE mode identifiers (RFC 9180 §5). */
export const HpkeMode = { BASE: 0x00, AUTH: 0x02 } as const;

/** A supported HPKE mode. */
export type HpkeModeValue = typeof HpkeMode[keyof typeof HpkeMode];

/** KEM / KDF / AEAD ids of the one suite we implement. */
export const HPKE_SUITE = { kem: 0x0020, kdf: 0x0001, aead: 0x0003 } as const;

const N_SECRET = 32;
const N_ENC = 32;
const N_PK = 32;
const N_K = 32;
const N_N = 12;
const N_H = 32;

const VERSION_LABEL = utf8("HPKE-v1");
const KEM_SUITE_ID = concat(utf8("KEM"), i2osp(HPKE_SUITE.kem, 2));
const HPKE_SUITE_ID = concat(
  utf8("HPKE"),
  i2osp(HPKE_SUITE.kem, 2),
  i2osp(HPKE_SUITE.kdf, 2),
  i2osp(HPKE_SUITE.aead, 2),
);
const EMPTY = new Uint8Array(0);

function extract(be: CryptoBackend, salt: Uint8Array, ikm: Uint8Array): Uint8Array {
  // RFC 5869: an empty salt is HashLen zero bytes; HMAC pads the key the same way.
  return be.hmacSha256(salt.length === 0 ? new Uint8Array(N_H) : salt, ikm);
}

function expand(be: CryptoBackend, prk: Uint8Array, info: Uint8Array, length: number): Uint8Array {
  if (length > 255 * N_H) throw badRequest("hpke-length");
  const out = new Uint8Array(length);
  let t: Uint8Array = EMPTY;
  for (let i = 1, o = 0; o < length; i++) {
    t = be.hmacSha256(prk, concat(t, info, Uint8Array.of(i)));
    out.set(t.subarray(0, Math.min(N_H, length - o)), o);
    o += N_H;
  }
  return out;
}

/**
 * `VERSION_LABEL || suiteId || label`, and for expand the 2-byte length
 * before it, built once per (suite, label, length): the labels are a fixed
 * handful, and rebuilding them (UTF-8 encoding and two concatenations) was
 * a measurable part of every seal and open.
 */
const LABELS = new Map<Uint8Array, Map<string, Uint8Array>>();

function labelPrefix(suiteId: Uint8Array, label: string, length?: number): Uint8Array {
  let bySuite = LABELS.get(suiteId);
  if (bySuite === undefined) LABELS.set(suiteId, bySuite = new Map());
  const key = length === undefined ? label : `${length}\0${label}`;
  let p = bySuite.get(key);
  if (p === undefined) {
    const l = concat(VERSION_LABEL, suiteId, utf8(label));
    p = length === undefined ? l : concat(i2osp(length, 2), l);
    bySuite.set(key, p);
  }
  return p;
}

function labeledExtract(
  be: CryptoBackend,
  suiteId: Uint8Array,
  salt: Uint8Array,
  label: string,
  ikm: Uint8Array,
): Uint8Array {
  return extract(be, salt, concat(labelPrefix(suiteId, label), ikm));
}

function labeledExpand(
  be: CryptoBackend,
  suiteId: Uint8Array,
  prk: Uint8Array,
  label: string,
  info: Uint8Array,
  length: number,
): Uint8Array {
  return expand(be, prk, concat(labelPrefix(suiteId, label, length), info), length);
}

function checkKey(k: Uint8Array, what: string): void {
  if (k.length !== N_PK) throw badRequest(`hpke-${what}-length`, { length: k.length });
}

/**
 * DeriveKeyPair of DHKEM(X25519) (RFC 9180 §7.1.3): a deterministic key
 * pair from `ikm` (at least 32 bytes). Used for vectors and tests.
 */
export function deriveKeyPair(be: CryptoBackend, ikm: Uint8Array): KeyPair {
  const prk = labeledExtract(be, KEM_SUITE_ID, EMPTY, "dkp_prk", ikm);
  const privateKey = labeledExpand(be, KEM_SUITE_ID, prk, "sk", EMPTY, 32);
  return { privateKey, publicKey: be.x25519Public(privateKey) };
}

function extractAndExpand(be: CryptoBackend, dh: Uint8Array, kemContext: Uint8Array): Uint8Array {
  const prk = labeledExtract(be, KEM_SUITE_ID, EMPTY, "eae_prk", dh);
  return labeledExpand(be, KEM_SUITE_ID, prk, "shared_secret", kemContext, N_SECRET);
}

/**
 * X25519 public key of a long-lived secret (a family key), memoised per
 * secret array: sealing and opening need it two or three times per message
 * and deriving it costs a scalar multiplication (~27 µs). The cache is
 * checked against the secret's current bytes, so a secret changed or zeroed
 * in place is derived again.
 */
export function publicKeyOf(be: CryptoBackend, secret: Uint8Array): Uint8Array {
  const hit = PUBLIC_CACHE.get(secret);
  if (hit !== undefined && timingSafeEqual(hit.secret, secret)) return hit.pub;
  const pub = be.x25519Public(secret);
  PUBLIC_CACHE.set(secret, { secret: secret.slice(), pub });
  return pub;
}

const PUBLIC_CACHE = new WeakMap<Uint8Array, { secret: Uint8Array; pub: Uint8Array }>();

/** Result of an encapsulation: the KEM output `enc` and the shared secret. */
interface Encapsulated {
  readonly enc: Uint8Array;
  readonly sharedSecret: Uint8Array;
}

function encap(
  be: CryptoBackend,
  pkR: Uint8Array,
  skS: Uint8Array | undefined,
  eph: KeyPair,
): Encapsulated {
  checkKey(pkR, "pkR");
  const enc = eph.publicKey;
  if (skS === undefined) {
    const dh = be.x25519(eph.privateKey, pkR);
    return { enc, sharedSecret: extractAndExpand(be, dh, concat(enc, pkR)) };
  }
  checkKey(skS, "skS");
  const dh = concat(be.x25519(eph.privateKey, pkR), be.x25519(skS, pkR));
  const pkS = publicKeyOf(be, skS);
  return { enc, sharedSecret: extractAndExpand(be, dh, concat(enc, pkR, pkS)) };
}

function decap(
  be: CryptoBackend,
  enc: Uint8Array,
  skR: Uint8Array,
  pkS: Uint8Array | undefined,
): Uint8Array {
  checkKey(enc, "enc");
  checkKey(skR, "skR");
  const pkR = publicKeyOf(be, skR);
  if (pkS === undefined) return extractAndExpand(be, be.x25519(skR, enc), concat(enc, pkR));
  checkKey(pkS, "pkS");
  const dh = concat(be.x25519(skR, enc), be.x25519(skR, pkS));
  return extractAndExpand(be, dh, concat(enc, pkR, pkS));
}

/**
 * An HPKE encryption context (RFC 9180 §5.2) with explicit sequence numbers,
 * so tests can check every encryption of the RFC vectors. Federation uses
 * only sequence 0 (single-shot).
 */
export interface HpkeContext {
  /** AEAD key (32 bytes). */
  readonly key: Uint8Array;
  /** Base nonce (12 bytes). */
  readonly baseNonce: Uint8Array;
  /** Exporter secret (32 bytes). */
  readonly exporterSecret: Uint8Array;
  /** Seals `pt` with sequence number `seq` (ciphertext || 16-byte tag). */
  seal(aad: Uint8Array, pt: Uint8Array, seq: number): Uint8Array;
  /** Opens `ct` with sequence number `seq`; throws UNAUTHORIZED `aead`. */
  open(aad: Uint8Array, ct: Uint8Array, seq: number): Uint8Array;
  /** Secret export (RFC 9180 §5.3). */
  export(exporterContext: Uint8Array, length: number): Uint8Array;
}

/**
 * The two hashes of the key schedule that depend on no secret: psk_id_hash
 * (no PSK in modes base and auth: psk = psk_id = "", a constant) and
 * info_hash of `info` (federation passes the same info for every message).
 * Kept per back end, for the latest info (compared by content, so an info
 * array changed in place is hashed again): two HMACs fewer per seal and per
 * open.
 */
const CONTEXT_HASHES = new WeakMap<
  CryptoBackend,
  { pskIdHash: Uint8Array; info: Uint8Array; infoHash: Uint8Array }
>();

function contextHashes(
  be: CryptoBackend,
  info: Uint8Array,
): { pskIdHash: Uint8Array; infoHash: Uint8Array } {
  let c = CONTEXT_HASHES.get(be);
  if (c === undefined) {
    const pskIdHash = labeledExtract(be, HPKE_SUITE_ID, EMPTY, "psk_id_hash", EMPTY);
    c = { pskIdHash, info: info.slice(), infoHash: infoHashOf(be, info) };
    CONTEXT_HASHES.set(be, c);
  } else if (!timingSafeEqual(c.info, info)) {
    c.info = info.slice();
    c.infoHash = infoHashOf(be, info);
  }
  return c;
}

const infoHashOf = (be: CryptoBackend, info: Uint8Array): Uint8Array =>
  labeledExtract(be, HPKE_SUITE_ID, EMPTY, "info_hash", info);

function keySchedule(
  be: CryptoBackend,
  mode: HpkeModeValue,
  sharedSecret: Uint8Array,
  info: Uint8Array,
): HpkeContext {
  const { pskIdHash, infoHash } = contextHashes(be, info);
  const ctx = concat(Uint8Array.of(mode), pskIdHash, infoHash);
  const secret = labeledExtract(be, HPKE_SUITE_ID, sharedSecret, "secret", EMPTY);
  const key = labeledExpand(be, HPKE_SUITE_ID, secret, "key", ctx, N_K);
  const baseNonce = labeledExpand(be, HPKE_SUITE_ID, secret, "base_nonce", ctx, N_N);
  const exporterSecret = labeledExpand(be, HPKE_SUITE_ID, secret, "exp", ctx, N_H);
  const nonce = (seq: number): Uint8Array => {
    if (!Number.isSafeInteger(seq) || seq < 0) throw badRequest("hpke-seq");
    const s = i2osp(seq, N_N);
    const n = new Uint8Array(N_N);
    for (let i = 0; i < N_N; i++) n[i] = baseNonce[i] ^ s[i];
    return n;
  };
  return {
    key,
    baseNonce,
    exporterSecret,
    seal: (aad, pt, seq) => be.chachaSeal(key, nonce(seq), aad, pt),
    open: (aad, ct, seq) => be.chachaOpen(key, nonce(seq), aad, ct),
    export: (exporterContext, length) =>
      labeledExpand(be, HPKE_SUITE_ID, exporterSecret, "sec", exporterContext, length),
  };
}

/** Sender side of a setup: the encapsulated key and the context. */
export interface SenderSetup {
  /** KEM output `enc` (the ephemeral public key, 32 bytes). */
  readonly enc: Uint8Array;
  /** The sender's encryption context. */
  readonly context: HpkeContext;
}

/**
 * SetupBaseS (RFC 9180 §5.1.1). `ephemeral` fixes the ephemeral key pair
 * (vectors only; omit it in production).
 */
export function setupBaseS(
  be: CryptoBackend,
  pkR: Uint8Array,
  info: Uint8Array,
  ephemeral?: KeyPair,
): SenderSetup {
  const { enc, sharedSecret } = encap(be, pkR, undefined, ephemeral ?? be.x25519Generate());
  return { enc, context: keySchedule(be, HpkeMode.BASE, sharedSecret, info) };
}

/** SetupBaseR (RFC 9180 §5.1.1). */
export function setupBaseR(
  be: CryptoBackend,
  enc: Uint8Array,
  skR: Uint8Array,
  info: Uint8Array,
): HpkeContext {
  return keySchedule(be, HpkeMode.BASE, decap(be, enc, skR, undefined), info);
}

/**
 * SetupAuthS (RFC 9180 §5.1.3): sender authenticated by its static key
 * `skS`. `ephemeral` fixes the ephemeral key pair (vectors only).
 */
export function setupAuthS(
  be: CryptoBackend,
  pkR: Uint8Array,
  skS: Uint8Array,
  info: Uint8Array,
  ephemeral?: KeyPair,
): SenderSetup {
  const { enc, sharedSecret } = encap(be, pkR, skS, ephemeral ?? be.x25519Generate());
  return { enc, context: keySchedule(be, HpkeMode.AUTH, sharedSecret, info) };
}

/** SetupAuthR (RFC 9180 §5.1.3): the recipient names the sender's public key `pkS`. */
export function setupAuthR(
  be: CryptoBackend,
  enc: Uint8Array,
  skR: Uint8Array,
  pkS: Uint8Array,
  info: Uint8Array,
): HpkeContext {
  return keySchedule(be, HpkeMode.AUTH, decap(be, enc, skR, pkS), info);
}

/** A single-shot HPKE ciphertext. */
export interface Sealed {
  /** Encapsulated key (32 bytes). */
  readonly enc: Uint8Array;
  /** AEAD ciphertext || 16-byte tag. */
  readonly ct: Uint8Array;
}

/**
 * Single-shot SealAuth (RFC 9180 §6.1): sequence number 0.
 *
 * @example const { enc, ct } = sealAuth(be, bobPub, aliceSk, info, aad, pt)
 */
export function sealAuth(
  be: CryptoBackend,
  pkR: Uint8Array,
  skS: Uint8Array,
  info: Uint8Array,
  aad: Uint8Array,
  pt: Uint8Array,
  ephemeral?: KeyPair,
): Sealed {
  const { enc, context } = setupAuthS(be, pkR, skS, info, ephemeral);
  return { enc, ct: context.seal(aad, pt, 0) };
}

/**
 * Single-shot OpenAuth (RFC 9180 §6.1). Throws UNAUTHORIZED (`aead`, or
 * `bad-key` for a low-order `enc`/`pkS`) and BAD_REQUEST for wrong sizes.
 */
export function openAuth(
  be: CryptoBackend,
  enc: Uint8Array,
  skR: Uint8Array,
  pkS: Uint8Array,
  info: Uint8Array,
  aad: Uint8Array,
  ct: Uint8Array,
): Uint8Array {
  return setupAuthR(be, enc, skR, pkS, info).open(aad, ct, 0);
}

/** Single-shot SealBase (RFC 9180 §6.1). */
export function sealBase(
  be: CryptoBackend,
  pkR: Uint8Array,
  info: Uint8Array,
  aad: Uint8Array,
  pt: Uint8Array,
  ephemeral?: KeyPair,
): Sealed {
  const { enc, context } = setupBaseS(be, pkR, info, ephemeral);
  return { enc, ct: context.seal(aad, pt, 0) };
}

/** Single-shot OpenBase (RFC 9180 §6.1). */
export function openBase(
  be: CryptoBackend,
  enc: Uint8Array,
  skR: Uint8Array,
  info: Uint8Array,
  aad: Uint8Array,
  ct: Uint8Array,
): Uint8Array {
  return setupBaseR(be, enc, skR, info).open(aad, ct, 0);
}

/** Length of `enc` in bytes (the Tier 4/5 header's ECDH field). */
export const HPKE_ENC_LENGTH: number = N_ENC;
/** AEAD tag length in bytes. */
export const HPKE_TAG_LENGTH = 16;
