/**
 * The two federation messages the live relay layer adds to the range
 * (docs/FEDERATION.md §5.1): FED_LOOKUP (a hub asks its relay for a family's
 * record, so it can seal to that family's key) and FED_RECORDS (the answer,
 * and what relays push to their peers so they can route by family and
 * answer lookups for families homed elsewhere). Also the ERROR payload with
 * federation extras (quota, used, limit, family, mid), which the core ERROR
 * codec does not carry.
 *
 * Records are self-certifying (family.ts), so a record learned from a peer
 * cannot claim another family's id; it can only claim a home relay, which
 * matters for routing only, never for confidentiality.
 *
 * @module
 */

import { type ErrorCodeValue, MyClerkError } from "../core/errors.ts";
import { Op } from "../core/opcodes.ts";
import type { CryptoBackend } from "../core/crypto/types.ts";
import { arrayField, decodeFedMap, encodeMsgpack, isMap, textField, uintField } from "./codec.ts";
import {
  FAMILY_ID_RE,
  familyFromMap,
  type FamilyId,
  type FamilyRecord,
  familyToMap,
} from "./family.ts";

/** Opcodes added by the relay layer (declared in ops.ts, their one home). */
export { DirOp } from "./ops.ts";

/** Most records in one FED_RECORDS. */
export const MAX_RECORDS = 1024;

/** Encodes FED_LOOKUP. */
export function encodeLookup(family: FamilyId): Uint8Array {
  return encodeMsgpack({ family });
}

/** Decodes FED_LOOKUP (BAD_REQUEST `field:family`). */
export function decodeLookup(payload: Uint8Array): FamilyId {
  return textField(decodeFedMap(payload), "family", 32, FAMILY_ID_RE);
}

/** Encodes FED_RECORDS. */
export function encodeRecords(records: readonly FamilyRecord[]): Uint8Array {
  return encodeMsgpack({ records: records.slice(0, MAX_RECORDS).map(familyToMap) });
}

/**
 * Decodes FED_RECORDS; every record is verified (id and key id match its
 * key), an unverifiable one fails the whole message (BAD_REQUEST).
 */
export function decodeRecords(be: CryptoBackend, payload: Uint8Array): readonly FamilyRecord[] {
  const m = decodeFedMap(payload);
  const maps = arrayField(m, "records", MAX_RECORDS, (v) => (isMap(v) ? v : undefined));
  return maps.map((x) => familyFromMap(be, x));
}

/**
 * ERROR (0x000F) payload with the federation extras of FEDERATION.md §5
 * as extra keys. Only JSON-like extras are copied (numbers, strings,
 * bytes); `requiredTier`/`time` keep their core names.
 */
export function encodeFedError(err: MyClerkError, opcode: number, re?: number): Uint8Array {
  const out: Record<string, unknown> = { code: err.code, opcode };
  if (re !== undefined) out["re"] = re;
  out["detail"] = err.detail;
  for (const [k, v] of Object.entries(err.extra)) {
    if (k === "requiredTier") out["required-tier"] = v;
    else if (typeof v === "number" || typeof v === "string" || v instanceof Uint8Array) out[k] = v;
  }
  return encodeMsgpack(out);
}

/** A decoded ERROR with its extras. */
export interface FedErrorPayload {
  /** The error (code, detail, extras). */
  readonly error: MyClerkError;
  /** The opcode of the request it answers. */
  readonly opcode: number;
}

/** Decodes an ERROR payload keeping every extra key. */
export function decodeFedError(payload: Uint8Array): FedErrorPayload {
  const m = decodeFedMap(payload);
  const code = uintField(m, "code", 0xff) as ErrorCodeValue;
  const opcode = uintField(m, "opcode", 0xffff);
  const detail = typeof m.detail === "string" ? m.detail : "error";
  const extra: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(m)) {
    if (k !== "code" && k !== "opcode" && k !== "detail") extra[k] = v;
  }
  return { error: new MyClerkError(code, detail, extra), opcode };
}

/** The ERROR opcode (re-exported so callers need only this module). */
export const ERROR_OP: typeof Op.ERROR = Op.ERROR;
