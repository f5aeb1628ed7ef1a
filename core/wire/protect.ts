/**
 * Protected messages, Tiers 3-5 (profile §4, §6): counter-derived header
 * fields, the 96-bit nonce, AEAD placement (payload or Tier 5 header tag) and
 * the HMAC trailer.
 *
 * Sealing writes the whole message, optionally behind a 4-byte TCP length
 * prefix, into one buffer, so the send path makes one allocation plus what
 * the cipher itself returns.
 *
 * @module
 */

import { ErrorCode, MyClerkError } from "../errors.ts";
import type { CryptoBackend, FrameKeys, FrameLayout } from "../crypto/types.ts";
import { timingSafeEqual } from "../crypto/ct.ts";
import { HEADER_LENGTH, Offset, TRAILER_LENGTH } from "./header.ts";
import { type HeaderFields, type ProtectedMessage, writeHeader } from "./message.ts";
import type { Slab } from "../slab.ts";

/** AEAD tag length (ChaCha20-Poly1305). */
export const TAG_LENGTH = 16;

/** One direction's keys (profile §5.4). `key`/`iv` are unused when `E=0`. */
export interface DirectionKeys {
  /** 32-byte AEAD key. */
  readonly key: Uint8Array;
  /** 32-byte HMAC key. */
  readonly mac: Uint8Array;
  /** 4-byte nonce component. */
  readonly iv: Uint8Array;
}

/** Header fields of a protected message; `sequence` and `nonce` come from the counter. */
export type ProtectedHeader = Omit<HeaderFields, "sequence" | "nonce" | "tag"> & {
  readonly tier: 3 | 4 | 5;
  readonly timestamp: number;
};

/**
 * The 96-bit AEAD nonce: `timestamp || iv || counter` (profile §4).
 *
 * @example nonce96(1700000000, iv, 7).length // 12
 */
export function nonce96(
  timestamp: number,
  iv: Uint8Array,
  counter: number,
  out = new Uint8Array(12),
): Uint8Array {
  // Byte writes, not a DataView: this runs for every protected message.
  out[0] = timestamp >>> 24;
  out[1] = (timestamp >>> 16) & 0xff;
  out[2] = (timestamp >>> 8) & 0xff;
  out[3] = timestamp & 0xff;
  out[4] = iv[0];
  out[5] = iv[1];
  out[6] = iv[2];
  out[7] = iv[3];
  out[8] = counter >>> 24;
  out[9] = (counter >>> 16) & 0xff;
  out[10] = (counter >>> 8) & 0xff;
  out[11] = counter & 0xff;
  return out;
}

/** Header `sequence` and `nonce` fields carrying a counter's low 24 bits. */
export function counterFields(counter: number): { sequence: number; nonce: number } {
  return { sequence: counter & 0xff, nonce: (counter >>> 8) & 0xffff };
}

/**
 * Seals a Tier 3-5 message: header, payload (AEAD when `encrypted`), HMAC
 * trailer. With `framed`, the result starts with the u32 length (§3). With
 * `slab`, the message is cut from it instead of allocated on its own. With
 * `fk` (the back end's {@link FrameKeys} for `keys`), AEAD and trailer are
 * one call on the message buffer: same bytes, no temporary views.
 *
 * @example sealMessage(nodeBackend, { tier: 4, opcode: 1, timestamp, encrypted: true }, 0, keys, pt)
 */
export function sealMessage(
  backend: CryptoBackend,
  h: ProtectedHeader,
  counter: number,
  keys: DirectionKeys,
  plaintext: Uint8Array,
  framed = false,
  slab?: Slab,
  fk?: FrameKeys,
): Uint8Array {
  const tier = h.tier;
  const hl = HEADER_LENGTH[tier];
  const tl = TRAILER_LENGTH[tier];
  const enc = h.encrypted === true;
  const bodyLen = plaintext.length + (enc && tier !== 5 ? TAG_LENGTH : 0);
  const pre = framed ? 4 : 0;
  const total = hl + bodyLen + tl;
  const buf = slab ? slab.take(pre + total) : new Uint8Array(pre + total);
  if (framed) {
    buf[0] = total >>> 24;
    buf[1] = (total >>> 16) & 0xff;
    buf[2] = (total >>> 8) & 0xff;
    buf[3] = total & 0xff;
  }
  if (fk !== undefined) {
    writeHeader(buf, pre, h, counter & 0xff, (counter >>> 8) & 0xffff);
    if (enc) nonce96(h.timestamp, keys.iv, counter, nonceScratch);
    // the payload goes from the caller's buffer straight into place (no JS copy)
    fk.seal(buf, nonceScratch, layout(pre, tier, enc, plaintext.length), plaintext);
    return buf;
  }
  const msg = buf.subarray(pre);
  writeHeader(msg, 0, h, counter & 0xff, (counter >>> 8) & 0xffff);
  if (!enc) {
    msg.set(plaintext, hl);
  } else {
    const nonce = nonce96(h.timestamp, keys.iv, counter, nonceScratch);
    if (backend.chachaSealInto) {
      // Seal straight into the message buffer: ct || tag at the payload
      // offset (Tier 5 needs the room for the tag once, then moves it into
      // the header). Avoids a temporary ciphertext per message.
      const aad = msg.subarray(0, tier === 5 ? Offset.TAG : hl);
      if (tier === 5) {
        // ct || tag lands at offset 48; keep the tag, shift ct to 64, put the tag at 48.
        const n = plaintext.length;
        backend.chachaSealInto(keys.key, nonce, aad, plaintext, msg, Offset.TAG);
        tagScratch.set(msg.subarray(Offset.TAG + n, Offset.TAG + n + TAG_LENGTH));
        msg.copyWithin(hl, Offset.TAG, Offset.TAG + n);
        msg.set(tagScratch, Offset.TAG);
      } else {
        backend.chachaSealInto(keys.key, nonce, aad, plaintext, msg, hl);
      }
    } else if (tier === 5) {
      const { ciphertext, tag } = backend.chachaSealDetached(
        keys.key,
        nonce,
        msg.subarray(0, Offset.TAG),
        plaintext,
      );
      msg.set(tag, Offset.TAG);
      msg.set(ciphertext, hl);
    } else {
      msg.set(backend.chachaSeal(keys.key, nonce, msg.subarray(0, hl), plaintext), hl);
    }
  }
  const macEnd = hl + bodyLen;
  const mac = backend.hmacSha256(keys.mac, macInput(msg, tier, enc, macEnd));
  msg.set(mac.subarray(0, tl), macEnd);
  return buf;
}

/** {@link FrameLayout} with writable fields: one scratch object for every call. */
type MutableLayout = { -readonly [K in keyof FrameLayout]: FrameLayout[K] };
const layoutScratch: MutableLayout = {
  aead: false,
  aadOffset: 0,
  aadLength: 0,
  payloadOffset: 0,
  payloadLength: 0,
  tagOffset: 0,
  mac1Offset: 0,
  mac1Length: 0,
  mac2Offset: 0,
  mac2Length: 0,
  trailerOffset: 0,
  trailerLength: 0,
};

/**
 * The byte ranges of a Tier 3-5 message of `n` payload bytes (without tag)
 * starting at `at` (profile §2, §4): AAD is the header (Tier 5: the header
 * up to the tag field); the tag follows the ciphertext (Tier 5: sits in the
 * header); the HMAC covers what {@link macInput} says.
 */
function layout(at: number, tier: number, enc: boolean, n: number): FrameLayout {
  const l = layoutScratch;
  const hl = HEADER_LENGTH[tier];
  const t5 = tier === 5;
  const body = n + (enc && !t5 ? TAG_LENGTH : 0);
  l.aead = enc;
  l.aadOffset = at;
  l.aadLength = t5 ? Offset.TAG : hl;
  l.payloadOffset = at + hl;
  l.payloadLength = n;
  l.tagOffset = at + (t5 ? Offset.TAG : hl + n);
  l.mac1Offset = at;
  l.mac1Length = enc ? hl : hl + body;
  l.mac2Offset = at + hl + n;
  l.mac2Length = enc && !t5 ? TAG_LENGTH : 0;
  l.trailerOffset = at + hl + body;
  l.trailerLength = TRAILER_LENGTH[tier];
  return l;
}

// Scratch for the AEAD nonce; sealing is synchronous, so it is never shared.
const nonceScratch = new Uint8Array(12);
const tagScratch = new Uint8Array(TAG_LENGTH);

// One scratch buffer for the non-contiguous Tier 3/4 MAC input (header || tag);
// sealing and opening are synchronous, so it is never shared across calls.
const scratch = new Uint8Array(HEADER_LENGTH[4] + TAG_LENGTH);

/**
 * The bytes the HMAC trailer covers (profile §2): with `E=0` everything
 * before the trailer; with `E=1` the header and the AEAD tag only (Tier 5:
 * the header, which holds the tag; Tier 3/4: header || last 16 payload
 * bytes), since the tag already authenticates the ciphertext.
 */
export function macInput(
  msg: Uint8Array,
  tier: number,
  encrypted: boolean,
  macEnd: number,
): Uint8Array {
  if (!encrypted) return msg.subarray(0, macEnd);
  const hl = HEADER_LENGTH[tier];
  if (tier === 5) return msg.subarray(0, hl);
  scratch.set(msg.subarray(0, hl), 0);
  scratch.set(msg.subarray(macEnd - TAG_LENGTH, macEnd), hl);
  return scratch.subarray(0, hl + TAG_LENGTH);
}

/**
 * Checks a protected message's HMAC trailer in constant time (§2). Returns
 * false on mismatch: the caller drops the message and counts `drop_mac`.
 */
export function verifyTrailer(
  backend: CryptoBackend,
  m: ProtectedMessage,
  macKey: Uint8Array,
): boolean {
  if (m.encrypted && m.tier !== 5 && m.payload.length < TAG_LENGTH) return false;
  const mac = backend.hmacSha256(macKey, macInput(m.bytes, m.tier, m.encrypted, m.macEnd));
  return timingSafeEqual(mac, m.trailer, m.trailer.length);
}

/**
 * Returns the plaintext payload of a protected message whose trailer has
 * been verified: the payload itself when `E=0`, else the AEAD opening with
 * the rebuilt `counter`. Throws UNAUTHORIZED `aead` when the tag is wrong.
 */
export function openPayload(
  backend: CryptoBackend,
  m: ProtectedMessage,
  keys: DirectionKeys,
  counter: number,
): Uint8Array {
  if (!m.encrypted) return m.payload;
  const nonce = nonce96(m.timestamp, keys.iv, counter, nonceScratch);
  if (m.tier === 5) {
    return backend.chachaOpenDetached(
      keys.key,
      nonce,
      m.bytes.subarray(0, Offset.TAG),
      m.payload,
      m.tag,
    );
  }
  if (m.payload.length < TAG_LENGTH) {
    throw new MyClerkError(ErrorCode.BAD_REQUEST, "truncated", { what: "aead-tag" });
  }
  return backend.chachaOpen(keys.key, nonce, m.bytes.subarray(0, HEADER_LENGTH[m.tier]), m.payload);
}

/**
 * {@link verifyTrailer} and {@link openPayload} in one call through the
 * back end's {@link FrameKeys} for `keys`: returns the plaintext (cut from
 * `slab`; the payload itself when `E=0`), or `"mac"` when the trailer does
 * not verify (nothing decrypted), or `"aead"` when the tag does not (nothing
 * returned). The caller reports the two failures where the profile's
 * receive order puts them (§6): `"aead"` only after its own later checks.
 * With `inPlace` (the caller owns `m.bytes`) the plaintext replaces the
 * ciphertext in `m.bytes` instead of going to a new slab region; a failed
 * tag then leaves that region wiped.
 */
export function verifyAndOpen(
  fk: FrameKeys,
  m: ProtectedMessage,
  keys: DirectionKeys,
  counter: number,
  slab: Slab,
  inPlace = false,
): Uint8Array | "mac" | "aead" {
  const enc = m.encrypted;
  const tier = m.tier;
  const p = m.payload;
  const n = p.length - (enc && tier !== 5 ? TAG_LENGTH : 0);
  if (n < 0) return "mac";
  if (enc) nonce96(m.timestamp, keys.iv, counter, nonceScratch);
  const out = !enc
    ? p
    : !inPlace
    ? slab.take(n)
    : n === p.length
    ? p
    : new Uint8Array(p.buffer, p.byteOffset, n);
  const r = fk.open(m.bytes, nonceScratch, layout(0, tier, enc, n), out);
  if (r === 0) return enc ? out : m.payload;
  return r === 1 ? "mac" : "aead";
}
