/**
 * Resumption tickets and SESSION_RESUME / SESSION_RESUMED (profile §8).
 *
 * A ticket is 92 bytes: `iv (12) || AES-256-GCM(ticket_key, iv,
 * "myclerk-ticket-v0", pt (64)) || tag (16)` with
 * `pt = resume (32) || H(S_i)[0..16] || issued-at u32 || expires-at u32 || ticket-nonce (8)`.
 * Each ticket nonce is accepted once.
 *
 * @module
 */

import { ErrorCode, MyClerkError } from "../errors.ts";
import { Op } from "../opcodes.ts";
import type { CryptoBackend, KeyPair } from "../crypto/types.ts";
import { decodeMessage } from "../wire/message.ts";
import { sealMessage, verifyTrailer } from "../wire/protect.ts";
import type { Tier } from "../wire/header.ts";
import type { EstablishedState } from "./handshake.ts";
import {
  decodeResume,
  decodeResumed,
  encodeResume,
  encodeResumed,
  HANDSHAKE_NONCE,
  TICKET_LENGTH,
} from "./payloads.ts";
import { concat, deriveResumed, Label, resumeBinderKey, transcript, ZERO_KEY } from "./schedule.ts";

/** Decoded ticket plaintext. */
export interface TicketContents {
  /** 32-byte resumption secret. */
  readonly resume: Uint8Array;
  /** First 16 bytes of SHA-256 of the initiator's static key. */
  readonly peerHash: Uint8Array;
  /** Issue time, Unix seconds. */
  readonly issuedAt: number;
  /** Expiry time, Unix seconds. */
  readonly expiresAt: number;
  /** 8 random bytes; a ticket is accepted once per nonce. */
  readonly ticketNonce: Uint8Array;
}

/** Default ticket lifetime: 24 h (max 7 days). */
export const DEFAULT_TICKET_LIFETIME = 86_400;

/**
 * Issues and redeems tickets on the responder. Keeps the used nonces until
 * their tickets expire (single use).
 */
export class TicketIssuer {
  readonly #b: CryptoBackend;
  #key: Uint8Array;
  #oldKey?: Uint8Array;
  readonly #used = new Map<string, number>();
  /** Lifetime of issued tickets in seconds. */
  readonly lifetime: number;

  /** `key` is 32 random bytes (generated when omitted). */
  constructor(backend: CryptoBackend, key?: Uint8Array, lifetime = DEFAULT_TICKET_LIFETIME) {
    this.#b = backend;
    this.#key = key ?? backend.randomBytes(32);
    this.lifetime = Math.min(lifetime, 7 * 86_400);
  }

  /** Replaces the ticket key, keeping the old one for tickets still valid. */
  rotateKey(): void {
    this.#oldKey = this.#key;
    this.#key = this.#b.randomBytes(32);
  }

  /** Seals a ticket for a session's resumption secret. */
  issue(
    resume: Uint8Array,
    peerStatic: Uint8Array,
    now: number,
    iv?: Uint8Array,
    ticketNonce?: Uint8Array,
  ): Uint8Array {
    const pt = new Uint8Array(64);
    const dv = new DataView(pt.buffer);
    pt.set(resume, 0);
    pt.set(this.#b.sha256(peerStatic).subarray(0, 16), 32);
    dv.setUint32(48, now);
    dv.setUint32(52, now + this.lifetime);
    pt.set(ticketNonce ?? this.#b.randomBytes(8), 56);
    const i = iv ?? this.#b.randomBytes(12);
    const out = concat(i, this.#b.aesGcmSeal(this.#key, i, Label.TICKET_AAD, pt));
    pt.fill(0);
    return out;
  }

  /**
   * Opens a ticket: UNAUTHORIZED `bad-ticket`, `ticket-expired` or
   * `ticket-reused`. Runs `check` (the binder) before marking the nonce used,
   * so a forged request cannot burn someone's ticket.
   */
  redeem(ticket: Uint8Array, now: number, check?: (c: TicketContents) => void): TicketContents {
    if (ticket.length !== TICKET_LENGTH) {
      throw new MyClerkError(ErrorCode.UNAUTHORIZED, "bad-ticket");
    }
    const iv = ticket.subarray(0, 12);
    let pt: Uint8Array | undefined;
    for (const k of [this.#key, this.#oldKey]) {
      if (!k) continue;
      try {
        pt = this.#b.aesGcmOpen(k, iv, Label.TICKET_AAD, ticket.subarray(12));
        break;
      } catch { /* try the previous key */ }
    }
    if (!pt) throw new MyClerkError(ErrorCode.UNAUTHORIZED, "bad-ticket");
    const dv = new DataView(pt.buffer, pt.byteOffset, 64);
    const c: TicketContents = {
      resume: pt.slice(0, 32),
      peerHash: pt.slice(32, 48),
      issuedAt: dv.getUint32(48),
      expiresAt: dv.getUint32(52),
      ticketNonce: pt.slice(56, 64),
    };
    if (now > c.expiresAt) throw new MyClerkError(ErrorCode.UNAUTHORIZED, "ticket-expired");
    for (const [n, exp] of this.#used) if (exp < now) this.#used.delete(n);
    const id = Array.from(c.ticketNonce).join(",");
    if (this.#used.has(id)) throw new MyClerkError(ErrorCode.UNAUTHORIZED, "ticket-reused");
    check?.(c);
    this.#used.set(id, c.expiresAt);
    return c;
  }
}

/** What the initiator keeps from a session to resume it later. */
export interface ResumeMaterial {
  /** The 92-byte ticket from SESSION_TICKET. */
  readonly ticket: Uint8Array;
  /** 32-byte resumption secret of the old session. */
  readonly resume: Uint8Array;
  /** Id of the session the ticket came from. */
  readonly oldSessionId: number;
  /** The node's 32-byte static public key (carried into the resumed session). */
  readonly peerStatic: Uint8Array;
  /** Key id of the node's static key. */
  readonly peerKeyId: number;
}

/** Initiator side of resumption: `start()` gives SESSION_RESUME, `finish()` the session. */
export class ResumeInitiator {
  readonly #b: CryptoBackend;
  readonly #m: ResumeMaterial;
  readonly #e: KeyPair;
  readonly #nonce: Uint8Array;
  readonly #tier: Tier;
  #sent?: Uint8Array;

  /** Prepares an ephemeral key and nonce. */
  constructor(
    backend: CryptoBackend,
    material: ResumeMaterial,
    tier: Tier,
    ephemeral?: KeyPair,
    nonce?: Uint8Array,
  ) {
    this.#b = backend;
    this.#m = material;
    this.#tier = tier;
    this.#e = ephemeral ?? backend.x25519Generate();
    this.#nonce = nonce ?? backend.randomBytes(HANDSHAKE_NONCE);
  }

  /** Builds SESSION_RESUME with the binder trailer. */
  start(now: number): Uint8Array {
    const kb = resumeBinderKey(this.#b, this.#m.resume);
    this.#sent = sealMessage(
      this.#b,
      {
        tier: 4,
        opcode: Op.SESSION_RESUME,
        sessionId: 0,
        keyId: 0,
        ecdh: this.#e.publicKey,
        timestamp: now,
        encrypted: false,
      },
      0,
      { key: ZERO_KEY, mac: kb, iv: ZERO_KEY },
      encodeResume({
        oldSessionId: this.#m.oldSessionId,
        ticket: this.#m.ticket,
        nonce: this.#nonce,
        tier: this.#tier,
      }),
    );
    return this.#sent;
  }

  /** Checks SESSION_RESUMED and returns the resumed session. */
  finish(bytes: Uint8Array): EstablishedState {
    if (!this.#sent) throw new MyClerkError(ErrorCode.BAD_REQUEST, "not-started");
    const m = decodeMessage(bytes);
    if (m.tier !== 4 || m.opcode !== Op.SESSION_RESUMED) {
      throw new MyClerkError(ErrorCode.UNAUTHORIZED, "resume-refused");
    }
    const p = decodeResumed(m.payload);
    if (p.sessionId !== m.sessionId || p.sessionId === 0) {
      throw new MyClerkError(ErrorCode.BAD_REQUEST, "field:session-id");
    }
    const dh = this.#b.x25519(this.#e.privateKey, m.ecdh);
    const keys = deriveResumed(
      this.#b,
      this.#m.resume,
      dh,
      concat(this.#nonce, p.nonce),
      transcript(this.#b, undefined, this.#sent),
    );
    if (!verifyTrailer(this.#b, m, keys.r2i.mac)) {
      throw new MyClerkError(ErrorCode.UNAUTHORIZED, "handshake-mac");
    }
    if (p.selectedTier > this.#tier) throw new MyClerkError(ErrorCode.UNAUTHORIZED, "downgrade");
    dh.fill(0);
    return {
      role: "initiator",
      sessionId: p.sessionId,
      tier: p.selectedTier as Tier,
      keys,
      myEphemeral: this.#e.publicKey,
      peerEphemeral: m.ecdh.slice(),
      peerStatic: this.#m.peerStatic,
      peerKeyId: this.#m.peerKeyId,
      capabilities: [],
      transcriptHash: transcript(this.#b, undefined, bytes),
    };
  }
}

/**
 * Responder side: checks a SESSION_RESUME (ticket, single use, binder) and
 * returns the SESSION_RESUMED reply and the session. Throws UNAUTHORIZED.
 */
export function acceptResume(
  backend: CryptoBackend,
  issuer: TicketIssuer,
  bytes: Uint8Array,
  o: {
    readonly sessionId: number;
    readonly now: number;
    readonly maxTier: Tier;
    readonly minTier: Tier;
    /** Allowed clock skew in seconds (default 300). */
    readonly maxSkew?: number;
    readonly ephemeral?: KeyPair;
    readonly nonce?: Uint8Array;
  },
): { readonly reply: Uint8Array; readonly state: EstablishedState } {
  const m = decodeMessage(bytes);
  if (m.tier !== 4 || m.opcode !== Op.SESSION_RESUME || m.encrypted) {
    throw new MyClerkError(ErrorCode.BAD_REQUEST, "unexpected-message");
  }
  if (Math.abs(m.timestamp - o.now) > (o.maxSkew ?? 300)) {
    throw new MyClerkError(ErrorCode.UNAUTHORIZED, "clock-skew", { time: o.now });
  }
  const req = decodeResume(m.payload);
  const t = issuer.redeem(req.ticket, o.now, (c) => {
    if (!verifyTrailer(backend, m, resumeBinderKey(backend, c.resume))) {
      throw new MyClerkError(ErrorCode.UNAUTHORIZED, "binder");
    }
  });
  const sel = Math.min(o.maxTier, req.tier);
  if (sel < o.minTier) {
    throw new MyClerkError(ErrorCode.FORBIDDEN, "tier", { requiredTier: o.minTier });
  }
  const e = o.ephemeral ?? backend.x25519Generate();
  const nonce = o.nonce ?? backend.randomBytes(HANDSHAKE_NONCE);
  const dh = backend.x25519(e.privateKey, m.ecdh);
  const keys = deriveResumed(
    backend,
    t.resume,
    dh,
    concat(req.nonce, nonce),
    transcript(backend, undefined, bytes),
  );
  const reply = sealMessage(
    backend,
    {
      tier: 4,
      opcode: Op.SESSION_RESUMED,
      sessionId: o.sessionId,
      keyId: 0,
      ecdh: e.publicKey,
      timestamp: o.now,
      encrypted: false,
    },
    0,
    { key: ZERO_KEY, mac: keys.r2i.mac, iv: ZERO_KEY },
    encodeResumed({
      sessionId: o.sessionId,
      nonce,
      selectedTier: sel,
    }),
  );
  dh.fill(0);
  const ph = t.peerHash;
  return {
    reply,
    state: {
      role: "responder",
      sessionId: o.sessionId,
      tier: sel as Tier,
      keys,
      myEphemeral: e.publicKey,
      peerEphemeral: m.ecdh.slice(),
      peerStatic: new Uint8Array(0),
      peerKeyId: ((ph[0] << 24) | (ph[1] << 16) | (ph[2] << 8) | ph[3]) >>> 0,
      capabilities: [],
      transcriptHash: transcript(backend, undefined, reply),
    },
  };
}
