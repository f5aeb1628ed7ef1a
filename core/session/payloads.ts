/**
 * Typed payloads of the core range (profile §5, §7, §8, §10), with their
 * exact MessagePack maps. `decode*` turn bytes into readonly data or a
 * BAD_REQUEST naming the field; `encode*` write the shortest form.
 *
 * @module
 */

import {
  decodeMap,
  encodePayload,
  optBin,
  optBool,
  optText,
  optUint,
  optUintArray,
  reqBin,
  reqUint,
} from "../wire/payload.ts";

/** M1 `session-init` (§5.1). */
export interface SessionInit {
  /** `nonce_i`: 8 random bytes. */
  readonly nonce: Uint8Array;
  /** Unix seconds; must equal the header timestamp. */
  readonly timestamp: number;
  /** Highest tier the initiator wants (0-5). */
  readonly tier: number;
  /** Lowest tier the initiator accepts (0-5, default 0). */
  readonly minTier: number;
  /** Capability numbers the initiator supports (§13). */
  readonly capabilities: readonly number[];
  /** Optional 16-byte device id. */
  readonly deviceId?: Uint8Array;
}

/** M2 `session-ack` (§5.1). */
export interface SessionAck {
  /** Assigned session id, 1-65535; must equal the header session id. */
  readonly sessionId: number;
  /** `nonce_r`: 8 random bytes. */
  readonly nonce: Uint8Array;
  /** Tier the responder selected (§9). */
  readonly selectedTier: number;
  /** Capabilities both sides will use. */
  readonly selectedCapabilities: readonly number[];
  /** `S_r`: the responder's 32-byte static X25519 public key. */
  readonly static: Uint8Array;
}

/** M3 `key-exchange-complete` (§5.1). */
export interface KeyExchangeComplete {
  /** The initiator repeats `selected-tier` (downgrade check). */
  readonly tier: number;
}

/** The ERROR (0x000F) payload (§10). */
export interface ErrorPayload {
  /** Error code (an `ErrorCode`, §10). */
  readonly code: number;
  /** Opcode of the message that failed (0 if unknown). */
  readonly opcode: number;
  /** The failed request's `id`, when it had one. */
  readonly re?: number;
  /** Machine-friendly reason, e.g. `frame-too-large`. */
  readonly detail?: string;
  /** FORBIDDEN only: the minimum tier for that opcode. */
  readonly requiredTier?: number;
  /** `clock-skew` only: the receiver's clock, Unix seconds. */
  readonly time?: number;
  /** Handler-specific fields (a plugin's `fail(code, detail, extra)`), a map; §10. */
  readonly extra?: Readonly<Record<string, unknown>>;
}

/** SESSION_TICKET payload (§8). */
export interface TicketPayload {
  /** The opaque 92-byte ticket. */
  readonly ticket: Uint8Array;
  /** Seconds the ticket stays valid. */
  readonly lifetime: number;
}

/** SESSION_RESUME payload (§8). */
export interface ResumePayload {
  /** Id of the session the ticket came from. */
  readonly oldSessionId: number;
  /** The 92-byte ticket from SESSION_TICKET. */
  readonly ticket: Uint8Array;
  /** `nonce_i`: 8 random bytes. */
  readonly nonce: Uint8Array;
  /** Tier requested for the resumed session. */
  readonly tier: number;
}

/** SESSION_RESUMED payload (§8). */
export interface ResumedPayload {
  /** New session id; must equal the header session id. */
  readonly sessionId: number;
  /** `nonce_r`: 8 random bytes. */
  readonly nonce: Uint8Array;
  /** Tier of the resumed session. */
  readonly selectedTier: number;
}

/** SESSION_ROTATE payload (§7.1). */
export interface RotatePayload {
  /** New epoch of the sender's direction (old epoch + 1). */
  readonly epoch: number;
  /** Asks the peer to rotate its own direction too. */
  readonly request?: boolean;
}

/** KEY_EXCHANGE_INIT / RESPONSE payload (§7.2). */
export interface RekeyPayload {
  /** New epoch `n` = max(send epoch, receive epoch) + 1. */
  readonly epoch: number;
}

/** SESSION_CLOSE / SESSION_REVOKE payload (§7.3, §7.4). */
export interface ReasonPayload {
  /** Optional human-readable reason. */
  readonly reason?: string;
}

/** KEEPALIVE / KEEPALIVE_ACK payload: an optional id echoed as `re`. */
export interface KeepalivePayload {
  /** Request id, echoed by the answer as `re`. */
  readonly id?: number;
  /** The `id` of the KEEPALIVE this answers. */
  readonly re?: number;
}

/** Length of the handshake nonces. */
export const HANDSHAKE_NONCE = 8;
/** Length of a resumption ticket (§8). */
export const TICKET_LENGTH = 92;

/** Encodes M1. */
export function encodeSessionInit(p: SessionInit): Uint8Array {
  return encodePayload({
    "nonce": p.nonce,
    "timestamp": p.timestamp,
    "tier": p.tier,
    "min-tier": p.minTier === 0 ? undefined : p.minTier,
    "capabilities": p.capabilities.length ? p.capabilities : undefined,
    "device-id": p.deviceId,
  });
}

/** Decodes M1. */
export function decodeSessionInit(b: Uint8Array): SessionInit {
  const m = decodeMap(b);
  return {
    nonce: reqBin(m, "nonce", HANDSHAKE_NONCE),
    timestamp: reqUint(m, "timestamp"),
    tier: reqUint(m, "tier", 5),
    minTier: optUint(m, "min-tier", 5) ?? 0,
    capabilities: (optUintArray(m, "capabilities") ?? []).filter((c) => c !== 7),
    deviceId: optBin(m, "device-id", 16),
  };
}

/** Encodes M2. */
export function encodeSessionAck(p: SessionAck): Uint8Array {
  return encodePayload({
    "session-id": p.sessionId,
    "nonce": p.nonce,
    "selected-tier": p.selectedTier,
    "selected-capabilities": p.selectedCapabilities.length ? p.selectedCapabilities : undefined,
    "static": p.static,
  });
}

/** Decodes M2. */
export function decodeSessionAck(b: Uint8Array): SessionAck {
  const m = decodeMap(b);
  return {
    sessionId: reqUint(m, "session-id", 0xffff),
    nonce: reqBin(m, "nonce", HANDSHAKE_NONCE),
    selectedTier: reqUint(m, "selected-tier", 5),
    selectedCapabilities: optUintArray(m, "selected-capabilities") ?? [],
    static: reqBin(m, "static", 32),
  };
}

/** Encodes M3. */
export function encodeKeyExchangeComplete(p: KeyExchangeComplete): Uint8Array {
  return encodePayload({ "tier": p.tier });
}

/** Decodes M3. */
export function decodeKeyExchangeComplete(b: Uint8Array): KeyExchangeComplete {
  return { tier: reqUint(decodeMap(b), "tier", 5) };
}

/** Encodes an ERROR payload. */
export function encodeError(p: ErrorPayload): Uint8Array {
  return encodePayload({
    "code": p.code,
    "opcode": p.opcode,
    "re": p.re,
    "detail": p.detail,
    "required-tier": p.requiredTier,
    "time": p.time,
    "extra": p.extra,
  });
}

/** Decodes an ERROR payload. */
export function decodeError(b: Uint8Array): ErrorPayload {
  const m = decodeMap(b);
  return {
    code: reqUint(m, "code", 0xff),
    opcode: reqUint(m, "opcode", 0xffff),
    re: optUint(m, "re"),
    detail: optText(m, "detail"),
    requiredTier: optUint(m, "required-tier", 5),
    time: optUint(m, "time"),
    ...(isPlainMap(m["extra"]) ? { extra: m["extra"] as Record<string, unknown> } : {}),
  };
}

function isPlainMap(v: unknown): boolean {
  return v !== null && typeof v === "object" && !Array.isArray(v) && !(v instanceof Uint8Array);
}

/** Encodes SESSION_TICKET. */
export function encodeTicket(p: TicketPayload): Uint8Array {
  return encodePayload({ "ticket": p.ticket, "lifetime": p.lifetime });
}

/** Decodes SESSION_TICKET. */
export function decodeTicket(b: Uint8Array): TicketPayload {
  const m = decodeMap(b);
  return { ticket: reqBin(m, "ticket", TICKET_LENGTH), lifetime: reqUint(m, "lifetime") };
}

/** Encodes SESSION_RESUME. */
export function encodeResume(p: ResumePayload): Uint8Array {
  return encodePayload({
    "old-session-id": p.oldSessionId,
    "ticket": p.ticket,
    "nonce": p.nonce,
    "tier": p.tier,
  });
}

/** Decodes SESSION_RESUME. */
export function decodeResume(b: Uint8Array): ResumePayload {
  const m = decodeMap(b);
  return {
    oldSessionId: reqUint(m, "old-session-id", 0xffff),
    ticket: reqBin(m, "ticket", TICKET_LENGTH),
    nonce: reqBin(m, "nonce", HANDSHAKE_NONCE),
    tier: reqUint(m, "tier", 5),
  };
}

/** Encodes SESSION_RESUMED. */
export function encodeResumed(p: ResumedPayload): Uint8Array {
  return encodePayload({
    "session-id": p.sessionId,
    "nonce": p.nonce,
    "selected-tier": p.selectedTier,
  });
}

/** Decodes SESSION_RESUMED. */
export function decodeResumed(b: Uint8Array): ResumedPayload {
  const m = decodeMap(b);
  return {
    sessionId: reqUint(m, "session-id", 0xffff),
    nonce: reqBin(m, "nonce", HANDSHAKE_NONCE),
    selectedTier: reqUint(m, "selected-tier", 5),
  };
}

/** Encodes SESSION_ROTATE. */
export function encodeRotate(p: RotatePayload): Uint8Array {
  return encodePayload({ "epoch": p.epoch, "request": p.request ? true : undefined });
}

/** Decodes SESSION_ROTATE. */
export function decodeRotate(b: Uint8Array): RotatePayload {
  const m = decodeMap(b);
  return { epoch: reqUint(m, "epoch"), request: optBool(m, "request") };
}

/** Encodes KEY_EXCHANGE_INIT / RESPONSE. */
export function encodeRekey(p: RekeyPayload): Uint8Array {
  return encodePayload({ "epoch": p.epoch });
}

/** Decodes KEY_EXCHANGE_INIT / RESPONSE. */
export function decodeRekey(b: Uint8Array): RekeyPayload {
  return { epoch: reqUint(decodeMap(b), "epoch") };
}

/** Encodes SESSION_CLOSE / SESSION_REVOKE. */
export function encodeReason(p: ReasonPayload): Uint8Array {
  return encodePayload({ "reason": p.reason });
}

/** Decodes SESSION_CLOSE / SESSION_REVOKE. */
export function decodeReason(b: Uint8Array): ReasonPayload {
  return { reason: optText(decodeMap(b), "reason") };
}

/** Encodes KEEPALIVE / KEEPALIVE_ACK. */
export function encodeKeepalive(p: KeepalivePayload): Uint8Array {
  return encodePayload({ "id": p.id, "re": p.re });
}

/** Decodes KEEPALIVE / KEEPALIVE_ACK. */
export function decodeKeepalive(b: Uint8Array): KeepalivePayload {
  const m = decodeMap(b);
  return { id: optUint(m, "id"), re: optUint(m, "re") };
}
