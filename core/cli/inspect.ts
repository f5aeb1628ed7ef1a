/**
 * `inspect`: turns any message (hex, raw or TCP-framed) into readable lines,
 * or says exactly what is wrong with it. Pure: returns text.
 *
 * @module
 */

import { errorName, isMyClerkError, type MyClerkError } from "../errors.ts";
import { Op, opcodeName, rangeOf } from "../opcodes.ts";
import { HEADER_LENGTH, minimumLength, TRAILER_LENGTH } from "../wire/header.ts";
import { decodeMessage, isProtected, type Message } from "../wire/message.ts";
import { decodePayload } from "../wire/payload.ts";
import { verifyTrailer } from "../wire/protect.ts";
import { ZERO_KEY } from "../session/schedule.ts";
import type { CryptoBackend } from "../crypto/types.ts";
import { toHex } from "../node/keys.ts";

const TRAILER_NAME = ["none", "none", "CRC-16/IBM-3740", "HMAC-32", "HMAC-64", "HMAC-256"];

/** Explains a decode error in words, with the numbers that matter. */
export function explainError(e: MyClerkError, bytes: Uint8Array): string {
  const x = e.extra as Record<string, unknown>;
  switch (e.detail) {
    case "empty":
      return "the input is empty";
    case "version":
      return `flags byte 0x${
        bytes[0].toString(16).padStart(2, "0")
      }: version ${x.version} (bits 7-6), only 0 exists`;
    case "tier":
      return `flags byte 0x${
        bytes[0].toString(16).padStart(2, "0")
      }: tier ${x.tier} (bits 5-3); tiers are 0-5`;
    case "tier0-encrypted":
    case "tier1-encrypted":
    case "tier2-encrypted":
      return `the E flag (bit 0) is set on a Tier ${
        e.detail[4]
      } message; only Tiers 3-5 can be encrypted (profile §1.3)`;
    case "tier5-plain":
      return "a Tier 5 message must have the E flag (bit 0) set (profile §1.3)";
    case "truncated":
      return `Tier ${x.tier} needs at least ${x.minimum} bytes (header ${
        HEADER_LENGTH[x.tier as number]
      } + trailer ${TRAILER_LENGTH[x.tier as number]}), got ${x.length}`;
    case "crc":
      return "Tier 2 CRC-16 mismatch: the message was corrupted (a receiver drops it silently)";
    default:
      return `${errorName(e.code)} ${e.detail}`;
  }
}

function payloadLines(m: Message): string[] {
  if (m.encrypted) return [`payload: ${m.payload.length} bytes encrypted (needs the session keys)`];
  if (m.compressed || m.fragment) {
    return [
      `payload: ${m.payload.length} bytes ${m.fragment ? "fragment" : ""}${
        m.compressed ? " zstd" : ""
      }: ${toHex(m.payload.subarray(0, 64))}`,
    ];
  }
  if (m.tier === 0) return [`payload: ${m.payload.length} bytes opaque tunnel data`];
  try {
    const v = decodePayload(m.payload);
    return [
      `payload (MessagePack): ${
        JSON.stringify(v, (_k, val) => val instanceof Uint8Array ? `bin:${toHex(val)}` : val)
      }`,
    ];
  } catch (e) {
    return [
      `payload: ${m.payload.length} bytes, NOT valid MessagePack (${
        isMyClerkError(e) ? String(e.extra.why ?? e.detail) : e
      })`,
    ];
  }
}

/**
 * Describes one message. Accepts a TCP frame too (a u32 length equal to the
 * rest). Returns `{ ok, lines }`: `ok` false when the message is invalid.
 */
export function inspectBytes(
  input: Uint8Array,
  backend?: CryptoBackend,
): { ok: boolean; lines: string[] } {
  const lines: string[] = [];
  let bytes = input;
  if (bytes.length >= 4) {
    const len = ((bytes[0] << 24) | (bytes[1] << 16) | (bytes[2] << 8) | bytes[3]) >>> 0;
    if (len === bytes.length - 4 && len > 0) {
      lines.push(`frame: u32 length ${len} (TCP framing, profile §3)`);
      bytes = bytes.subarray(4);
    }
  }
  let m: Message;
  try {
    m = decodeMessage(bytes);
  } catch (e) {
    lines.push(`INVALID: ${isMyClerkError(e) ? explainError(e, bytes) : String(e)}`);
    return { ok: false, lines };
  }
  const hl = HEADER_LENGTH[m.tier];
  const tl = TRAILER_LENGTH[m.tier];
  lines.push(
    `message: ${bytes.length} bytes, Tier ${m.tier} (header ${hl}, payload ${m.payload.length}, trailer ${
      TRAILER_NAME[m.tier]
    }${tl ? ` ${tl}` : ""})`,
    `flags: 0x${m.flags.toString(16).padStart(2, "0")} version=0 tier=${m.tier} C=${+m
      .compressed} F=${+m.fragment} E=${+m.encrypted}`,
  );
  if (m.tier !== 0) {
    const r = rangeOf(m.opcode);
    lines.push(
      `opcode: 0x${m.opcode.toString(16).padStart(4, "0")} ${
        opcodeName(m.opcode)
      } (range ${r.kind}${r.served ? "" : ", not served"})`,
    );
    lines.push(`sequence: ${m.sequence}`);
  }
  if (m.tier !== 0 && m.tier !== 1) lines.push(`session id: ${m.sessionId}`);
  if (m.tier === 2) lines.push("trailer: CRC-16 ok");
  if (isProtected(m)) {
    lines.push(`timestamp: ${m.timestamp} (${new Date(m.timestamp * 1000).toISOString()})`);
    lines.push(`nonce: ${m.nonce} (counter low 24 bits = ${(m.nonce << 8) | m.sequence})`);
  }
  if (m.tier === 4 || m.tier === 5) {
    lines.push(`key id: 0x${m.keyId.toString(16).padStart(8, "0")}`);
    lines.push(`ecdh: ${toHex(m.ecdh)}`);
  }
  if (m.tier === 5) lines.push(`poly1305 tag: ${toHex(m.tag)}`);
  lines.push(...payloadLines(m));
  if (isProtected(m)) {
    let note = "not verified (needs the session's MAC key)";
    if (backend && m.tier === 4 && m.opcode === Op.SESSION_INIT) {
      note = verifyTrailer(backend, m, ZERO_KEY)
        ? "ok (SESSION_INIT uses the all-zero key)"
        : "MISMATCH (SESSION_INIT uses the all-zero key)";
    }
    lines.push(`trailer: ${toHex(m.trailer)} ${note}`);
  }
  return { ok: !lines.some((l) => l.includes("MISMATCH")), lines };
}

/** Minimum length helper re-exported for CLI messages. */
export { minimumLength };
