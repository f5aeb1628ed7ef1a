/**
 * Invite tokens and proof of possession for hub admission
 * (docs/FEDERATION.md §3).
 *
 * The relay operator creates a token (`family invite`); the hub redeems it
 * in FED_ADMIT with its family record and a proof that it holds the family
 * private key, bound to the hop session's transcript hash `h` so a recorded
 * admission cannot be replayed on another session. Single use is enforced by
 * the store (`RelayStore.redeemInvite`, federation/store/sqlite_relay.ts).
 *
 * @module
 */

import { ErrorCode, MyClerkError } from "../core/errors.ts";
import type { CryptoBackend } from "../core/crypto/types.ts";
import {
  bytesEqual,
  concat,
  fromBase64Url,
  i2osp,
  readU32,
  toBase64Url,
  toHex,
  utf8,
} from "./bytes.ts";
import { type FamilyId, familyIdBytes, type FamilyRecord } from "./family.ts";

/** Token format version (first byte). */
export const INVITE_VERSION = 1;
/** Token id length. */
export const TOKEN_ID_LENGTH = 16;
const MAC_LABEL = utf8("myclerk-invite-v0");
const ADMIT_INFO = utf8("myclerk-admit-v0");
const PROOF_LABEL = utf8("myclerk-admit-proof-v0");

/** The contents of an invite token. */
export interface Invite {
  /** 16 random bytes; the single-use key in the store. */
  readonly tokenId: Uint8Array;
  /** Key id of the relay's static key the token is valid at. */
  readonly relayKeyId: number;
  /** Expiry, Unix seconds. */
  readonly expires: number;
  /** When set, only this family may redeem the token. */
  readonly family?: FamilyId;
}

function denied(detail: string, extra: Record<string, unknown> = {}): MyClerkError {
  return new MyClerkError(ErrorCode.FED_ADMISSION_DENIED, detail, extra);
}

function body(inv: Invite): Uint8Array {
  return concat(
    Uint8Array.of(INVITE_VERSION),
    inv.tokenId,
    i2osp(inv.relayKeyId, 4),
    i2osp(inv.expires, 4),
    inv.family === undefined
      ? Uint8Array.of(0)
      : concat(Uint8Array.of(1), familyIdBytes(inv.family)),
  );
}

/** Inputs of {@link createInvite}. */
export interface NewInvite {
  /** Key id (u32) of the relay's static key; only that relay accepts the token. */
  readonly relayKeyId: number;
  /** Expiry time, Unix seconds (u32); the token is refused from then on. */
  readonly expires: number;
  /** Restrict the token to this family id; absent: any family may redeem it. */
  readonly family?: FamilyId;
  /** Fixed token id: vectors only (default: 16 random bytes). */
  readonly tokenId?: Uint8Array;
}

/**
 * Creates an invite token: `base64url(body || HMAC(tokenKey, "myclerk-invite-v0" || body))`
 * with `body = 0x01 || token-id(16) || u32(relay-key-id) || u32(expires) ||
 * (0x00 | 0x01 || family-id(16))`.
 */
export function createInvite(
  be: CryptoBackend,
  tokenKey: Uint8Array,
  n: NewInvite,
): { readonly token: string; readonly invite: Invite } {
  const tokenId = n.tokenId ?? be.randomBytes(TOKEN_ID_LENGTH);
  if (tokenId.length !== TOKEN_ID_LENGTH) throw new MyClerkError(ErrorCode.BAD_REQUEST, "token-id");
  for (const [k, v] of [["relayKeyId", n.relayKeyId], ["expires", n.expires]] as const) {
    if (!Number.isInteger(v) || v < 0 || v > 0xffffffff) {
      throw new MyClerkError(ErrorCode.BAD_REQUEST, `field:${k}`);
    }
  }
  const invite: Invite = {
    tokenId,
    relayKeyId: n.relayKeyId,
    expires: n.expires,
    ...(n.family === undefined ? {} : { family: n.family }),
  };
  const b = body(invite);
  const mac = be.hmacSha256(tokenKey, concat(MAC_LABEL, b));
  return { token: toBase64Url(concat(b, mac)), invite };
}

/**
 * Parses a token and checks its MAC, relay and expiry. Throws
 * FED_ADMISSION_DENIED with detail `token-malformed`, `token-forged`,
 * `token-other-relay` or `token-expired`. Does not check single use.
 */
export function verifyInvite(
  be: CryptoBackend,
  tokenKey: Uint8Array,
  token: string,
  relayKeyId: number,
  now: number,
): Invite {
  let raw: Uint8Array;
  try {
    raw = fromBase64Url(token);
  } catch {
    throw denied("token-malformed");
  }
  if (raw.length !== 58 && raw.length !== 74) throw denied("token-malformed");
  if (raw[0] !== INVITE_VERSION) throw denied("token-malformed", { version: raw[0] });
  const flag = raw[25];
  if ((flag === 0 && raw.length !== 58) || (flag === 1 && raw.length !== 74) || flag > 1) {
    throw denied("token-malformed");
  }
  const b = raw.subarray(0, raw.length - 32);
  if (!bytesEqual(be.hmacSha256(tokenKey, concat(MAC_LABEL, b)), raw.subarray(raw.length - 32))) {
    throw denied("token-forged");
  }
  const invite: Invite = {
    tokenId: raw.slice(1, 17),
    relayKeyId: readU32(raw, 17),
    expires: readU32(raw, 21),
    ...(flag === 1 ? { family: toHex(raw.subarray(26, 42)) } : {}),
  };
  if (invite.relayKeyId !== relayKeyId) throw denied("token-other-relay");
  if (now >= invite.expires) throw denied("token-expired", { expires: invite.expires });
  return invite;
}

function proofKey(
  be: CryptoBackend,
  shared: Uint8Array,
  familyKey: Uint8Array,
  relayKey: Uint8Array,
  tokenId: Uint8Array,
): Uint8Array {
  return be.hkdf(shared, tokenId, concat(ADMIT_INFO, familyKey, relayKey), 32);
}

function checkH(h: Uint8Array): void {
  if (h.length !== 32) throw new MyClerkError(ErrorCode.BAD_REQUEST, "transcript-length");
}

/**
 * Proof of possession of the family private key, computed by the hub:
 *
 * ```
 * k     = HKDF(X25519(family_sk, relay_pk), salt = token-id,
 *              info = "myclerk-admit-v0" || family_pk || relay_pk, 32)
 * proof = HMAC(k, "myclerk-admit-proof-v0" || token-id || family-id(16) || h)
 * ```
 *
 * `h` is the hop session's transcript hash (32 bytes, PROTOCOL.md §5.2 `h3`).
 */
export function admissionProof(
  be: CryptoBackend,
  familySecret: Uint8Array,
  relayStaticKey: Uint8Array,
  tokenId: Uint8Array,
  h: Uint8Array,
): Uint8Array {
  checkH(h);
  const familyKey = be.x25519Public(familySecret);
  const k = proofKey(
    be,
    be.x25519(familySecret, relayStaticKey),
    familyKey,
    relayStaticKey,
    tokenId,
  );
  const fid = be.sha256(familyKey).subarray(0, 16);
  return be.hmacSha256(k, concat(PROOF_LABEL, tokenId, fid, h));
}

/** Relay side of {@link admissionProof}; throws FED_ADMISSION_DENIED `proof`. */
export function verifyAdmissionProof(
  be: CryptoBackend,
  relayStaticSecret: Uint8Array,
  familyKey: Uint8Array,
  tokenId: Uint8Array,
  h: Uint8Array,
  proof: Uint8Array,
): void {
  checkH(h);
  const relayKey = be.x25519Public(relayStaticSecret);
  let shared: Uint8Array;
  try {
    shared = be.x25519(relayStaticSecret, familyKey);
  } catch {
    throw denied("proof");
  }
  const k = proofKey(be, shared, familyKey, relayKey, tokenId);
  const fid = be.sha256(familyKey).subarray(0, 16);
  const want = be.hmacSha256(k, concat(PROOF_LABEL, tokenId, fid, h));
  if (proof.length !== 32 || !bytesEqual(want, proof)) throw denied("proof");
}

/** Everything the relay checks on FED_ADMIT except single use (the store's job). */
export interface AdmissionCheck {
  /** The relay's 32-byte invite MAC key (`token_key`). */
  readonly tokenKey: Uint8Array;
  /** The relay's static X25519 private key (for the proof's shared secret). */
  readonly relayStaticSecret: Uint8Array;
  /** Key id (u32) of this relay's static key. */
  readonly relayKeyId: number;
  /** Current time, Unix seconds (checked against the token's expiry). */
  readonly now: number;
  /** The invite token from FED_ADMIT (base64url). */
  readonly token: string;
  /** Already decoded and self-verified (familyFromMap). */
  readonly family: FamilyRecord;
  /** The 32-byte proof of possession from FED_ADMIT (§3.2). */
  readonly proof: Uint8Array;
  /** This session's transcript hash. */
  readonly h: Uint8Array;
}

/**
 * Verifies a FED_ADMIT: token MAC/relay/expiry, family restriction
 * (`token-other-family`), home relay (`family-other-home`), and the proof of
 * possession. Returns the invite; the caller then redeems it in the store.
 */
export function checkAdmission(be: CryptoBackend, a: AdmissionCheck): Invite {
  const inv = verifyInvite(be, a.tokenKey, a.token, a.relayKeyId, a.now);
  if (inv.family !== undefined && inv.family !== a.family.id) throw denied("token-other-family");
  if (a.family.home !== a.relayKeyId) throw denied("family-other-home");
  verifyAdmissionProof(be, a.relayStaticSecret, a.family.key, inv.tokenId, a.h, a.proof);
  return inv;
}
