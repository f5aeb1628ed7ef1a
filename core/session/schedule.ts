/**
 * The key schedule (profile §5.2, §5.4, §7, §8): handshake keys bound to
 * the transcript, the 168-byte session split, rotation, re-key and resume.
 * Pure functions over a {@link CryptoBackend}.
 *
 * @module
 */

import type { CryptoBackend } from "../crypto/types.ts";
import { concat } from "../bytes.ts";
import type { DirectionKeys } from "../wire/protect.ts";

const te = new TextEncoder();

/** Concatenates byte arrays (re-exported from `core/bytes.ts`). */
export { concat } from "../bytes.ts";

/** Big-endian u32 as 4 bytes. */
export function u32be(n: number): Uint8Array {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, n >>> 0);
  return b;
}

/** Info labels of the profile, as bytes. */
export const Label = {
  HS2: te.encode("myclerk-hs2-v0"),
  HS3: te.encode("myclerk-hs3-v0"),
  SESSION: te.encode("myclerk-session-v0"),
  REKEY: te.encode("myclerk-rekey-v0"),
  ROTATE_SALT: te.encode("rotate"),
  TICKET_AAD: te.encode("myclerk-ticket-v0"),
  RESUME_BINDER: te.encode("myclerk-resume-binder-v0"),
  RESUME: te.encode("myclerk-resume-v0"),
} as const;

/** 32 zero bytes: the SESSION_INIT trailer key (profile §5.1). */
export const ZERO_KEY: Uint8Array = new Uint8Array(32);

/**
 * Key id of a static public key: the first four bytes of its SHA-256, as a
 * big-endian u32 (profile §5).
 */
export function keyIdOf(backend: CryptoBackend, publicKey: Uint8Array): number {
  const h = backend.sha256(publicKey);
  return ((h[0] << 24) | (h[1] << 16) | (h[2] << 8) | h[3]) >>> 0;
}

/** Both directions' keys and the resumption secret of a session. */
export interface SessionKeys {
  /** Keys of the initiator-to-responder direction. */
  readonly i2r: DirectionKeys;
  /** Keys of the responder-to-initiator direction. */
  readonly r2i: DirectionKeys;
  /** 32-byte resumption secret (§8), also the re-key salt (§7.2). */
  readonly resume: Uint8Array;
}

/**
 * Splits the 168-byte okm in the order of profile §5.4: views on one copy
 * of it, not seven buffers (a separate small buffer costs ~300 B more than
 * a view, measured: ~2 KB per idle session). Zeroizing a view wipes its part.
 */
export function splitOkm(okm: Uint8Array): SessionKeys {
  if (okm.length !== 168) throw new RangeError("okm must be 168 bytes");
  const k = okm.slice();
  return {
    i2r: { key: k.subarray(0, 32), mac: k.subarray(64, 96), iv: k.subarray(128, 132) },
    r2i: { key: k.subarray(32, 64), mac: k.subarray(96, 128), iv: k.subarray(132, 136) },
    resume: k.subarray(136, 168),
  };
}

/** `k2 = HKDF(dh1 || dh2, salt, "myclerk-hs2-v0" || h1, 32)`. */
export function deriveK2(
  b: CryptoBackend,
  dh1: Uint8Array,
  dh2: Uint8Array,
  salt: Uint8Array,
  h1: Uint8Array,
): Uint8Array {
  return b.hkdf(concat(dh1, dh2), salt, concat(Label.HS2, h1), 32);
}

/** `k3 = HKDF(dh1 || dh2 || dh3, salt, "myclerk-hs3-v0" || h2, 32)`. */
export function deriveK3(
  b: CryptoBackend,
  ikm: Uint8Array,
  salt: Uint8Array,
  h2: Uint8Array,
): Uint8Array {
  return b.hkdf(ikm, salt, concat(Label.HS3, h2), 32);
}

/** Session keys after the handshake: `HKDF(dh1||dh2||dh3, salt, "myclerk-session-v0" || h3, 168)`. */
export function deriveSession(
  b: CryptoBackend,
  ikm: Uint8Array,
  salt: Uint8Array,
  h3: Uint8Array,
): SessionKeys {
  return splitOkm(b.hkdf(ikm, salt, concat(Label.SESSION, h3), 168));
}

/** Transcript hash step: `H(prev || message)` (or `H(message)` for the first). */
export function transcript(
  b: CryptoBackend,
  prev: Uint8Array | undefined,
  message: Uint8Array,
): Uint8Array {
  return b.sha256(prev ? concat(prev, message) : message);
}

/**
 * SESSION_ROTATE (§7.1): the next epoch's keys of one direction,
 * `HKDF(old, "rotate", u32(epoch), 32)` for the AEAD and MAC keys; iv kept.
 */
export function rotateDirection(b: CryptoBackend, k: DirectionKeys, epoch: number): DirectionKeys {
  const info = u32be(epoch);
  return {
    key: b.hkdf(k.key, Label.ROTATE_SALT, info, 32),
    mac: b.hkdf(k.mac, Label.ROTATE_SALT, info, 32),
    iv: k.iv,
  };
}

/**
 * KEY_EXCHANGE re-key (§7.2): `HKDF(X25519(e'_a, e'_b), resume,
 * "myclerk-rekey-v0" || u32(epoch), 168)`; the INIT side takes the i2r role.
 */
export function deriveRekey(
  b: CryptoBackend,
  dh: Uint8Array,
  resume: Uint8Array,
  epoch: number,
): SessionKeys {
  return splitOkm(b.hkdf(dh, resume, concat(Label.REKEY, u32be(epoch)), 168));
}

/** Resume binder key `HKDF(resume, "", "myclerk-resume-binder-v0", 32)` (§8). */
export function resumeBinderKey(b: CryptoBackend, resume: Uint8Array): Uint8Array {
  return b.hkdf(resume, new Uint8Array(0), Label.RESUME_BINDER, 32);
}

/** Resumed session keys: `HKDF(resume || dh, nonce_i || nonce_r, "myclerk-resume-v0" || hr, 168)` (§8). */
export function deriveResumed(
  b: CryptoBackend,
  resume: Uint8Array,
  dh: Uint8Array,
  salt: Uint8Array,
  hr: Uint8Array,
): SessionKeys {
  return splitOkm(b.hkdf(concat(resume, dh), salt, concat(Label.RESUME, hr), 168));
}
