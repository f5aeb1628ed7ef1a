/**
 * Family records (docs/FEDERATION.md §2): a family is named by its X25519
 * public key. Its id is `hex(SHA-256(key)[0..16])` and its key id is
 * `u32(SHA-256(key)[0..4])` (the profile's key id rule, PROTOCOL.md §5), so
 * both are self-certifying: a record whose id or key id does not match its
 * key is rejected, and nobody can claim another family's id without its key.
 *
 * @module
 */

import { badRequest } from "../core/errors.ts";
import type { CryptoBackend } from "../core/crypto/types.ts";
import { bytesEqual, fromHex, readU32, toHex } from "./bytes.ts";
import {
  binField,
  decodeFedMap,
  encodeMsgpack,
  type FedMap,
  optTextField,
  textField,
  uintField,
} from "./codec.ts";

/** A family id: 32 lower-case hex characters (16 bytes). */
export type FamilyId = string;

/** Pattern of a {@link FamilyId}. */
export const FAMILY_ID_RE = /^[0-9a-f]{32}$/;

/** Longest family name in characters. */
export const MAX_FAMILY_NAME = 64;

/** A family record, as published and as stored by the relay that homes it. */
export interface FamilyRecord {
  /** `hex(SHA-256(key)[0..16])`. */
  readonly id: FamilyId;
  /** Human-readable name (1..64 characters); not unique, never trusted for routing. */
  readonly name: string;
  /** The family's X25519 public key (32 bytes). */
  readonly key: Uint8Array;
  /** `u32(SHA-256(key)[0..4])`, the Tier 4/5 header key id of messages sealed to the family. */
  readonly keyId: number;
  /** Key id of the home relay's static key (the relay that queues the family's mail). */
  readonly home: number;
  /** Optional address of the home relay (`host:port` or a URL), a hint only. */
  readonly homeAddr?: string;
  /** Creation time, Unix seconds. */
  readonly created: number;
}

/** True when `s` is a syntactically valid family id. */
export function isFamilyId(s: unknown): s is FamilyId {
  return typeof s === "string" && FAMILY_ID_RE.test(s);
}

const KEY_FACTS = new WeakMap<
  Uint8Array,
  { readonly key: Uint8Array; readonly id: FamilyId; readonly keyId: number }
>();

/**
 * Id and key id of a long-lived family key array (a hub's own key, a peer
 * key it seals to), memoised per array and checked against its bytes, so an
 * array changed in place is hashed again. A sealing hub needs both for its
 * own and its peer's key on every message: one SHA-256 and one hex string
 * each time otherwise. Keys decoded from the wire are fresh arrays each
 * time: use {@link familyId} for those (this would only add a cache entry).
 *
 * @example const { id, keyId } = familyKeyFacts(be, recipientKey);
 */
export function familyKeyFacts(
  be: CryptoBackend,
  key: Uint8Array,
): { readonly id: FamilyId; readonly keyId: number } {
  checkKey(key);
  const hit = KEY_FACTS.get(key);
  if (hit !== undefined && bytesEqual(hit.key, key)) return hit;
  const d = be.sha256(key);
  const facts = { key: key.slice(), id: toHex(d.subarray(0, 16)), keyId: readU32(d, 0) };
  KEY_FACTS.set(key, facts);
  return facts;
}

/** Family id of a family public key. */
export function familyId(be: CryptoBackend, key: Uint8Array): FamilyId {
  checkKey(key);
  return toHex(be.sha256(key).subarray(0, 16));
}

/** Key id (u32) of a family public key: the first 4 bytes of SHA-256(key), big-endian. */
export function familyKeyId(be: CryptoBackend, key: Uint8Array): number {
  checkKey(key);
  return readU32(be.sha256(key), 0);
}

/** The 16 raw bytes of a family id (used in AEAD associated data and proofs). */
export function familyIdBytes(id: FamilyId): Uint8Array {
  if (!isFamilyId(id)) throw badRequest("family-id", { id });
  return fromHex(id);
}

function checkKey(key: Uint8Array): void {
  if (key.length !== 32) throw badRequest("family-key-length", { length: key.length });
}

/** Inputs of {@link createFamilyRecord}. */
export interface NewFamily {
  /** Human-readable name (1..64 characters). */
  readonly name: string;
  /** The family's X25519 public key (32 bytes); id and key id derive from it. */
  readonly key: Uint8Array;
  /** Key id (u32) of the home relay's static key. */
  readonly home: number;
  /** Optional address of the home relay (`host:port` or a URL, at most 255 characters), a hint only. */
  readonly homeAddr?: string;
  /** Creation time, Unix seconds (u32). */
  readonly created: number;
}

/** Builds a record, deriving id and key id from the key; validates every field. */
export function createFamilyRecord(be: CryptoBackend, f: NewFamily): FamilyRecord {
  const rec: FamilyRecord = {
    id: familyId(be, f.key),
    name: f.name,
    key: f.key,
    keyId: familyKeyId(be, f.key),
    home: f.home,
    ...(f.homeAddr === undefined ? {} : { homeAddr: f.homeAddr }),
    created: f.created,
  };
  validate(be, rec);
  return rec;
}

function validate(be: CryptoBackend, r: FamilyRecord): void {
  if (r.name.length === 0 || r.name.length > MAX_FAMILY_NAME) throw badRequest("field:name");
  if (!Number.isInteger(r.home) || r.home < 0 || r.home > 0xffffffff) {
    throw badRequest("field:home");
  }
  if (!Number.isInteger(r.created) || r.created < 0 || r.created > 0xffffffff) {
    throw badRequest("field:created");
  }
  if (familyId(be, r.key) !== r.id) throw badRequest("family-id-mismatch", { id: r.id });
  if (familyKeyId(be, r.key) !== r.keyId) throw badRequest("family-key-id-mismatch");
}

/**
 * The record as a MessagePack-ready map (keys in this order: id, name, key,
 * key-id, home, home-addr?, created).
 */
export function familyToMap(r: FamilyRecord): Record<string, unknown> {
  return {
    id: r.id,
    name: r.name,
    key: r.key,
    "key-id": r.keyId,
    home: r.home,
    "home-addr": r.homeAddr,
    created: r.created,
  };
}

/** Encodes a record as MessagePack. */
export function encodeFamily(r: FamilyRecord): Uint8Array {
  return encodeMsgpack(familyToMap(r));
}

/**
 * Reads a record from a decoded map and checks that id and key id are the
 * ones its key gives (BAD_REQUEST `family-id-mismatch` /
 * `family-key-id-mismatch` otherwise).
 */
export function familyFromMap(be: CryptoBackend, m: FedMap): FamilyRecord {
  const homeAddr = optTextField(m, "home-addr", 255);
  const rec: FamilyRecord = {
    id: textField(m, "id", 32, FAMILY_ID_RE),
    name: textField(m, "name", MAX_FAMILY_NAME),
    key: binField(m, "key", 32),
    keyId: uintField(m, "key-id"),
    home: uintField(m, "home"),
    ...(homeAddr === undefined ? {} : { homeAddr }),
    created: uintField(m, "created"),
  };
  validate(be, rec);
  return rec;
}

/** Decodes and verifies a MessagePack family record. */
export function decodeFamily(be: CryptoBackend, bytes: Uint8Array): FamilyRecord {
  return familyFromMap(be, decodeFedMap(bytes));
}
