/**
 * End-to-end sealed messages between families (docs/FEDERATION.md §4).
 *
 * A message from family A to family B is a Tier 5-form MyClerk message whose
 * header key id is B's family key id and whose ECDH field is the HPKE `enc`.
 * The content is sealed with RFC 9180 HPKE mode_auth (A's family private key
 * authenticates the sender) to B's family key. A relay sees only the
 * {@link EnvelopeRouting} fields and the sealed bytes; it holds no key that
 * opens them.
 *
 * @module
 */

import { ErrorCode, MyClerkError } from "../core/errors.ts";
import type { CryptoBackend, KeyPair } from "../core/crypto/types.ts";
import {
  HEADER_LENGTH,
  HeaderField,
  makeFlags,
  Offset,
  peekOpcode,
  TRAILER_LENGTH,
} from "../core/wire/header.ts";
import { writeHeader } from "../core/wire/message.ts";
import { bytesEqual, concat, i2osp, utf8 } from "./bytes.ts";
import { binField, decodeFedMap, encodeMsgpack, FedMap, textField, uintField } from "./codec.ts";
import {
  FAMILY_ID_RE,
  type FamilyId,
  familyId,
  familyIdBytes,
  familyKeyFacts,
  familyKeyId,
} from "./family.ts";
import { publicKeyOf, setupAuthR, setupAuthS } from "./hpke.ts";
import { FedOp } from "./ops.ts";

/** HPKE `info` of every envelope. */
export const E2E_INFO: Uint8Array = utf8("myclerk-e2e-v0");
/** HPKE exporter context of the envelope's HMAC-256 trailer key. */
export const E2E_TRAILER_CONTEXT: Uint8Array = utf8("myclerk-e2e-trailer-v0");

/** Flags byte of an envelope: version 0, Tier 5, E=1, C=0, F=0 (0x29). */
export const ENVELOPE_FLAGS: number = makeFlags(5, { encrypted: true });
/** Tier 5 header length (64; the layout is core/wire/header.ts). */
export const ENVELOPE_HEADER: number = HEADER_LENGTH[5];
/** HMAC-256 trailer length (32). */
export const ENVELOPE_TRAILER: number = TRAILER_LENGTH[5];
/** Smallest valid envelope (empty ciphertext is impossible, but the bound is header + trailer). */
export const ENVELOPE_MIN: number = ENVELOPE_HEADER + ENVELOPE_TRAILER;
/** Message id length in bytes. */
export const MID_LENGTH = 16;
/** Default and maximum TTL: 30 days. */
export const DEFAULT_TTL = 30 * 24 * 3600;

/** The fields a relay sees and needs: routing, dedupe, expiry. Never the body. */
export interface EnvelopeRouting {
  /** Recipient family id. */
  readonly to: FamilyId;
  /** Sender family id (= familyId(fromKey)). */
  readonly from: FamilyId;
  /** Sender family public key: the recipient needs it to open HPKE auth mode. */
  readonly fromKey: Uint8Array;
  /** Message id, 16 random bytes chosen by the sender; the dedupe key. */
  readonly mid: Uint8Array;
  /** Lifetime in seconds from the header timestamp. */
  readonly ttl: number;
}

/** A sealed envelope: its routing fields and the Tier 5-form bytes. */
export interface SealedEnvelope {
  /** The fields a relay sees, sent next to the sealed bytes. */
  readonly routing: EnvelopeRouting;
  /** Tier 5-form message: header (64) || ciphertext || HMAC-256 trailer (32). */
  readonly sealed: Uint8Array;
}

/** What the recipient gets after {@link openEnvelope}. */
export interface OpenedMessage {
  /** Message id, 16 bytes (the recipient's dedupe key). */
  readonly mid: Uint8Array;
  /** Sender family id, authenticated by HPKE auth mode. */
  readonly from: FamilyId;
  /** Recipient family id (this family). */
  readonly to: FamilyId;
  /** Sender's creation time, Unix seconds. */
  readonly ts: number;
  /** Lifetime in seconds from `ts`. */
  readonly ttl: number;
  /** The application bytes. */
  readonly body: Uint8Array;
}

/** Inputs of {@link sealEnvelope}. */
export interface SealInput {
  /** Sender family's private key. */
  readonly senderSecret: Uint8Array;
  /** Recipient family's public key. */
  readonly recipientKey: Uint8Array;
  /** The application bytes to seal. */
  readonly body: Uint8Array;
  /** Lifetime in seconds (1..2^32-1). */
  readonly ttl: number;
  /** Creation time in Unix seconds (default: now). */
  readonly ts?: number;
  /** Message id (default: 16 random bytes). */
  readonly mid?: Uint8Array;
  /** Fixed HPKE ephemeral key pair: vectors only. */
  readonly ephemeral?: KeyPair;
}

function unauthorized(detail: string): MyClerkError {
  return new MyClerkError(ErrorCode.UNAUTHORIZED, detail);
}

function bad(detail: string, extra: Record<string, unknown> = {}): MyClerkError {
  return new MyClerkError(ErrorCode.BAD_REQUEST, detail, extra);
}

/**
 * The HPKE associated data: the envelope header without its tag field,
 * then every routing field, so a relay that edits any of them makes the
 * envelope fail to open.
 */
export function envelopeAad(header48: Uint8Array, r: EnvelopeRouting): Uint8Array {
  return concat(
    header48,
    familyIdBytes(r.to),
    familyIdBytes(r.from),
    r.mid,
    i2osp(r.ttl, 4),
  );
}

function checkTtl(ttl: number): void {
  if (!Number.isInteger(ttl) || ttl < 1 || ttl > 0xffffffff) throw bad("field:ttl");
}

/**
 * Seals `body` from the family holding `senderSecret` to the family with
 * public key `recipientKey`.
 */
export function sealEnvelope(be: CryptoBackend, input: SealInput): SealedEnvelope {
  checkTtl(input.ttl);
  const ts = input.ts ?? Math.floor(Date.now() / 1000);
  if (!Number.isInteger(ts) || ts < 0 || ts > 0xffffffff) throw bad("field:ts");
  const mid = input.mid ?? be.randomBytes(MID_LENGTH);
  if (mid.length !== MID_LENGTH) throw bad("field:mid");
  const fromKey = publicKeyOf(be, input.senderSecret);
  const to = familyKeyFacts(be, input.recipientKey);
  const routing: EnvelopeRouting = {
    to: to.id,
    from: familyKeyFacts(be, fromKey).id,
    fromKey,
    mid,
    ttl: input.ttl,
  };
  const { enc, context } = setupAuthS(
    be,
    input.recipientKey,
    input.senderSecret,
    E2E_INFO,
    input.ephemeral,
  );
  const inner = encodeMsgpack({
    mid,
    from: routing.from,
    ts,
    ttl: input.ttl,
    body: input.body,
  });
  const out = new Uint8Array(ENVELOPE_HEADER + inner.length + ENVELOPE_TRAILER);
  // Sequence, session id and nonce stay 0: no hop session. The tag is written below.
  writeHeader(out, 0, {
    tier: 5,
    encrypted: true,
    opcode: FedOp.FED_SEALED,
    timestamp: ts,
    keyId: to.keyId,
    ecdh: enc,
  });
  const aad = envelopeAad(out.subarray(0, Offset.TAG), routing);
  const sealed = context.seal(aad, inner, 0);
  out.set(sealed.subarray(sealed.length - 16), Offset.TAG);
  out.set(sealed.subarray(0, inner.length), ENVELOPE_HEADER);
  const macEnd = out.length - ENVELOPE_TRAILER;
  const macKey = context.export(E2E_TRAILER_CONTEXT, 32);
  out.set(be.hmacSha256(macKey, out.subarray(0, macEnd)), macEnd);
  return { routing, sealed: out };
}

/** The header fields of an envelope a relay may read (no key needed). */
export interface EnvelopeHeader {
  /** Recipient family key id. */
  readonly keyId: number;
  /** HPKE `enc`. */
  readonly enc: Uint8Array;
  /** Sender's creation time. */
  readonly timestamp: number;
  /** Total size in bytes. */
  readonly size: number;
}

/**
 * Parses the relay-readable header of an envelope and checks its form
 * (BAD_REQUEST `envelope-*`). Does not authenticate anything.
 */
export function readEnvelopeHeader(sealed: Uint8Array): EnvelopeHeader {
  if (sealed.length < ENVELOPE_MIN + 16) throw bad("envelope-truncated", { length: sealed.length });
  // The exact flags byte (Tier 5, E=1, C=F=0) and the length are checked: the fields can be read.
  if (sealed[Offset.FLAGS] !== ENVELOPE_FLAGS) throw bad("envelope-flags", { flags: sealed[0] });
  if (peekOpcode(sealed) !== FedOp.FED_SEALED) throw bad("envelope-opcode");
  return {
    keyId: HeaderField.keyId(sealed),
    enc: HeaderField.ecdh(sealed),
    timestamp: HeaderField.timestamp(sealed),
    size: sealed.length,
  };
}

/**
 * A recipient family key the caller has already verified (e.g. a stored
 * family record, whose id and key id were checked against its key when it
 * was decoded): lets {@link checkRouting} skip two SHA-256 per message.
 */
export interface KnownFamilyKey {
  /** The family id. */
  readonly id: FamilyId;
  /** The family key id (u32), as in the envelope header. */
  readonly keyId: number;
}

/**
 * Checks that routing fields and envelope agree as far as a relay can tell
 * without keys: `from` is the id of `fromKey`, the header key id is the
 * one of a `to` family whose key the caller knows (pass `toKey` when known,
 * as raw key bytes or as an already verified {@link KnownFamilyKey}).
 * `fromId` computes a family id from a key; a relay passes a cached one
 * (a hub sends from one family key, so hashing it per message is waste).
 */
export function checkRouting(
  be: CryptoBackend,
  r: EnvelopeRouting,
  sealed: Uint8Array,
  toKey?: Uint8Array | KnownFamilyKey,
  fromId: (key: Uint8Array) => FamilyId = (k) => familyId(be, k),
): EnvelopeHeader {
  const h = readEnvelopeHeader(sealed);
  if (!FAMILY_ID_RE.test(r.to) || !FAMILY_ID_RE.test(r.from)) throw bad("routing-family-id");
  if (fromId(r.fromKey) !== r.from) throw bad("routing-from-key");
  if (r.mid.length !== MID_LENGTH) throw bad("field:mid");
  checkTtl(r.ttl);
  if (toKey instanceof Uint8Array) {
    if (familyId(be, toKey) !== r.to) throw bad("routing-to-key");
    if (familyKeyId(be, toKey) !== h.keyId) throw bad("routing-key-id");
  } else if (toKey !== undefined) {
    if (toKey.id !== r.to) throw bad("routing-to-key");
    if (toKey.keyId !== h.keyId) throw bad("routing-key-id");
  }
  return h;
}

function innerFromMap(
  m: FedMap,
): { mid: Uint8Array; from: string; ts: number; ttl: number; body: Uint8Array } {
  return {
    mid: binField(m, "mid", MID_LENGTH),
    from: textField(m, "from", 32, FAMILY_ID_RE),
    ts: uintField(m, "ts"),
    ttl: uintField(m, "ttl"),
    body: binField(m, "body"),
  };
}

/**
 * Opens an envelope addressed to the family whose private key is
 * `recipientSecret`. Verifies the routing fields, the trailer, the AEAD, and
 * that the inner copies of mid/from/ts/ttl match. Throws UNAUTHORIZED
 * (`envelope-key-id`, `envelope-trailer`, `aead`, `envelope-mismatch`) or
 * BAD_REQUEST (malformed input).
 */
export function openEnvelope(
  be: CryptoBackend,
  routing: EnvelopeRouting,
  sealed: Uint8Array,
  recipientSecret: Uint8Array,
): OpenedMessage {
  const recipientKey = publicKeyOf(be, recipientSecret);
  const h = checkRouting(be, routing, sealed);
  const own = familyKeyFacts(be, recipientKey);
  if (own.id !== routing.to) throw unauthorized("envelope-not-for-us");
  if (own.keyId !== h.keyId) throw unauthorized("envelope-key-id");
  const context = setupAuthR(be, h.enc, recipientSecret, routing.fromKey, E2E_INFO);
  const macEnd = sealed.length - ENVELOPE_TRAILER;
  const mac = be.hmacSha256(context.export(E2E_TRAILER_CONTEXT, 32), sealed.subarray(0, macEnd));
  if (!bytesEqual(mac, sealed.subarray(macEnd))) throw unauthorized("envelope-trailer");
  const aad = envelopeAad(sealed.subarray(0, Offset.TAG), routing);
  const ct = concat(sealed.subarray(ENVELOPE_HEADER, macEnd), HeaderField.tag(sealed));
  const pt = context.open(aad, ct, 0);
  let inner;
  try {
    inner = innerFromMap(decodeFedMap(pt));
  } catch (e) {
    // Authenticated but malformed: the sender is buggy, not an attacker.
    throw new MyClerkError(ErrorCode.BAD_REQUEST, "envelope-inner", {}, e);
  }
  if (
    !bytesEqual(inner.mid, routing.mid) || inner.from !== routing.from ||
    inner.ts !== h.timestamp ||
    inner.ttl !== routing.ttl
  ) {
    throw unauthorized("envelope-mismatch");
  }
  return {
    mid: inner.mid,
    from: inner.from,
    to: routing.to,
    ts: inner.ts,
    ttl: inner.ttl,
    body: inner.body,
  };
}
