/**
 * Flags byte, tier header layouts and trailer sizes (profile §1, §2).
 *
 * All multi-byte fields are big-endian. Offsets are fixed across tiers: a
 * higher tier only appends fields, so one reader serves every tier.
 *
 * @module
 */

import { badRequest } from "../errors.ts";

/** A security tier, 0 (bare tunnel data) to 5 (full security). */
export type Tier = 0 | 1 | 2 | 3 | 4 | 5;

/** Protocol version carried in the flags byte (profile §1.1). */
export const PROTOCOL_VERSION = 0;

/** Header length in bytes per tier (profile §1.2). */
export const HEADER_LENGTH: readonly number[] = [1, 4, 6, 12, 48, 64];

/** Trailer length in bytes per tier: none, none, CRC-16, HMAC-32, HMAC-64, HMAC-256 (profile §2). */
export const TRAILER_LENGTH: readonly number[] = [0, 0, 2, 4, 8, 32];

/** Byte offsets of every header field (profile §1.2). */
export const Offset = {
  FLAGS: 0,
  OPCODE: 1,
  SEQUENCE: 3,
  SESSION_ID: 4,
  TIMESTAMP: 6,
  NONCE: 10,
  KEY_ID: 12,
  ECDH: 16,
  TAG: 48,
} as const;

/** Flag bits of the low three bits of the flags byte. */
export const Flag = {
  ENCRYPTED: 0x01,
  FRAGMENT: 0x02,
  COMPRESSED: 0x04,
} as const;

/** The decoded flags byte. */
export interface Flags {
  /** Protocol version (top two bits); always {@link PROTOCOL_VERSION} once parsed. */
  readonly version: number;
  /** Security tier (bits 3-5). */
  readonly tier: Tier;
  /** C bit: the payload is a zstd frame. */
  readonly compressed: boolean;
  /** F bit: the payload is one fragment of a larger message. */
  readonly fragment: boolean;
  /** E bit: the payload is ChaCha20-Poly1305 ciphertext. */
  readonly encrypted: boolean;
}

/**
 * Builds the flags byte.
 *
 * @example makeFlags(4, { encrypted: true }) // 0x21
 */
export function makeFlags(
  tier: Tier,
  bits: {
    readonly compressed?: boolean;
    readonly fragment?: boolean;
    readonly encrypted?: boolean;
  } = {},
): number {
  return (PROTOCOL_VERSION << 6) | (tier << 3) | (bits.compressed ? Flag.COMPRESSED : 0) |
    (bits.fragment ? Flag.FRAGMENT : 0) | (bits.encrypted ? Flag.ENCRYPTED : 0);
}

/**
 * Decodes and validates a flags byte: version 0, tier 0-5, and the tier/E
 * rules of profile §1.3. Throws BAD_REQUEST with detail `version`, `tier`,
 * `tier0-encrypted`, `tier1-encrypted`, `tier2-encrypted` or `tier5-plain`.
 *
 * @example parseFlags(0x21).tier // 4
 */
export function parseFlags(byte: number): Flags {
  const version = byte >>> 6;
  if (version !== PROTOCOL_VERSION) throw badRequest("version", { version });
  const tier = (byte >>> 3) & 0x07;
  if (tier > 5) throw badRequest("tier", { tier });
  const encrypted = (byte & Flag.ENCRYPTED) !== 0;
  if (encrypted && tier <= 2) throw badRequest(`tier${tier}-encrypted`);
  if (!encrypted && tier === 5) throw badRequest("tier5-plain");
  return {
    version,
    tier: tier as Tier,
    compressed: (byte & Flag.COMPRESSED) !== 0,
    fragment: (byte & Flag.FRAGMENT) !== 0,
    encrypted,
  };
}

/** Smallest valid message length of a tier (header + trailer, empty payload). */
export function minimumLength(tier: Tier): number {
  return HEADER_LENGTH[tier] + TRAILER_LENGTH[tier];
}

/**
 * The opcode field of a message that may not decode (for the `opcode` of an
 * ERROR answering it): bytes 1-2, or 0 when the message is shorter than that.
 *
 * @example peekOpcode(new Uint8Array([0x08, 0x03, 0x00, 0x00])) // 0x0300
 */
export function peekOpcode(bytes: Uint8Array): number {
  return bytes.length >= Offset.OPCODE + 2
    ? (bytes[Offset.OPCODE] << 8) | bytes[Offset.OPCODE + 1]
    : 0;
}

function u32At(b: Uint8Array, o: number): number {
  return ((b[o] << 24) | (b[o + 1] << 16) | (b[o + 2] << 8) | b[o + 3]) >>> 0;
}

/**
 * Field readers of a Tier 3-5 header whose flags and length the caller has
 * checked (no object per message: the relay reads an envelope's header for
 * every message it routes). Tier 3+: timestamp; Tier 4+: key id, ECDH key.
 */
export const HeaderField = {
  /** Timestamp (Unix seconds), u32 at offset 6. */
  timestamp: (b: Uint8Array): number => u32At(b, Offset.TIMESTAMP),
  /** Key id, u32 at offset 12. */
  keyId: (b: Uint8Array): number => u32At(b, Offset.KEY_ID),
  /** The 32-byte X25519 key at offset 16 (a view). */
  ecdh: (b: Uint8Array): Uint8Array => b.subarray(Offset.ECDH, Offset.ECDH + 32),
  /** The 16-byte Poly1305 tag of Tier 5 at offset 48 (a view). */
  tag: (b: Uint8Array): Uint8Array => b.subarray(Offset.TAG, Offset.TAG + 16),
} as const;
