/**
 * The three-message handshake (profile §5): SESSION_INIT (M1), SESSION_ACK
 * (M2), KEY_EXCHANGE_COMPLETE (M3), with tier negotiation (§9). Pure state
 * machines: they take and return message bytes; the clock and randomness
 * come from the options so tests and vectors are deterministic.
 *
 * @module
 */

import { ErrorCode, MyClerkError } from "../errors.ts";
import { Op, opcodeName } from "../opcodes.ts";
import type { CryptoBackend, KeyPair } from "../crypto/types.ts";
import { decodeMessage, type Message, type Tier4Message } from "../wire/message.ts";
import { sealMessage, verifyTrailer } from "../wire/protect.ts";
import type { Tier } from "../wire/header.ts";
import {
  decodeError,
  decodeKeyExchangeComplete,
  decodeSessionAck,
  decodeSessionInit,
  encodeKeyExchangeComplete,
  encodeSessionAck,
  encodeSessionInit,
  HANDSHAKE_NONCE,
  type SessionInit,
} from "./payloads.ts";
import {
  concat,
  deriveK2,
  deriveK3,
  deriveSession,
  keyIdOf,
  type SessionKeys,
  transcript,
  ZERO_KEY,
} from "./schedule.ts";

/** A node's static identity. */
export interface Identity {
  /** 32-byte X25519 private key. */
  readonly privateKey: Uint8Array;
  /** 32-byte X25519 public key. */
  readonly publicKey: Uint8Array;
  /** Key id: `u32(H(publicKey)[0..4])` (§5). */
  readonly keyId: number;
}

/** Builds an {@link Identity} from a private key. */
export function identityFrom(backend: CryptoBackend, privateKey: Uint8Array): Identity {
  const publicKey = backend.x25519Public(privateKey);
  return { privateKey, publicKey, keyId: keyIdOf(backend, publicKey) };
}

/** Everything both sides hold once the handshake is done. */
export interface EstablishedState {
  /** Which side of the handshake this end was. */
  readonly role: "initiator" | "responder";
  /** Session id assigned by the responder, 1-65535. */
  readonly sessionId: number;
  /** Negotiated tier. */
  readonly tier: Tier;
  /** Per-direction keys and the resumption secret (§5.4). */
  readonly keys: SessionKeys;
  /** My ephemeral public key: the ECDH field of my Tier 4/5 messages. */
  readonly myEphemeral: Uint8Array;
  /** The peer's ephemeral public key: expected in its Tier 4/5 messages. */
  readonly peerEphemeral: Uint8Array;
  /** The peer's 32-byte static public key. */
  readonly peerStatic: Uint8Array;
  /** Key id of the peer's static key. */
  readonly peerKeyId: number;
  /** Negotiated capabilities (§13). */
  readonly capabilities: readonly number[];
  /** Final transcript hash h3 (binds everything; federation admission signs it). */
  readonly transcriptHash: Uint8Array;
}

/** Options shared by both roles. */
export interface HandshakeCommon {
  /** Crypto primitives. */
  readonly backend: CryptoBackend;
  /** This side's static key pair. */
  readonly identity: Identity;
  /** Unix seconds (default: the system clock). */
  readonly now?: () => number;
  /** Allowed clock skew in seconds (default 300). */
  readonly maxSkew?: number;
  /** Fixed ephemeral key (vectors only). */
  readonly ephemeral?: KeyPair;
  /** Fixed 8-byte nonce (vectors only). */
  readonly nonce?: Uint8Array;
}

/** Unix seconds now. */
export function unixNow(): number {
  return Math.floor(Date.now() / 1000);
}

function handshakeHeader(
  opcode: number,
  sessionId: number,
  keyId: number,
  ecdh: Uint8Array,
  timestamp: number,
) {
  return { tier: 4 as const, opcode, sessionId, keyId, ecdh, timestamp, encrypted: false };
}

function expectHandshake(bytes: Uint8Array, opcode: number): Tier4Message {
  const m: Message = decodeMessage(bytes);
  if (m.tier === 1 && m.opcode === Op.ERROR) {
    const e = decodeError(m.payload);
    throw new MyClerkError(
      e.code as ErrorCode_,
      `peer: ${e.detail ?? "error"}`,
      { requiredTier: e.requiredTier, time: e.time, remote: true },
    );
  }
  if (m.tier !== 4 || m.encrypted || m.opcode !== opcode) {
    throw new MyClerkError(ErrorCode.BAD_REQUEST, "unexpected-message", {
      expected: opcodeName(opcode),
      got: "opcode" in m ? opcodeName(m.opcode) : `tier ${m.tier}`,
    });
  }
  return m;
}

type ErrorCode_ = typeof ErrorCode[keyof typeof ErrorCode];

function checkSkew(ts: number, now: number, maxSkew: number): void {
  if (Math.abs(ts - now) > maxSkew) {
    throw new MyClerkError(ErrorCode.UNAUTHORIZED, "clock-skew", { time: now });
  }
}

/** Initiator options. */
export interface InitiatorOptions extends HandshakeCommon {
  /** Highest tier wanted (default 5). */
  readonly tier?: Tier;
  /** Lowest tier accepted (default 0). */
  readonly minTier?: Tier;
  /** Capabilities to offer (§13). */
  readonly capabilities?: readonly number[];
  /** Expected responder key id (0 = any). */
  readonly expectKeyId?: number;
  /** Pinned responder static key. */
  readonly pinnedKey?: Uint8Array;
}

/**
 * Initiator side: `start()` gives M1, `finish(M2)` gives M3 and the session.
 *
 * @example const hs = new Initiator({ backend, identity }); send(hs.start()); const { m3, state } = hs.finish(m2);
 */
export class Initiator {
  readonly #o: InitiatorOptions;
  readonly #e: KeyPair;
  readonly #nonce: Uint8Array;
  #m1?: Uint8Array;
  #init?: SessionInit;

  /** Prepares an ephemeral key and nonce. */
  constructor(o: InitiatorOptions) {
    this.#o = o;
    this.#e = o.ephemeral ?? o.backend.x25519Generate();
    this.#nonce = o.nonce ?? o.backend.randomBytes(HANDSHAKE_NONCE);
  }

  /** Builds M1 (SESSION_INIT). */
  start(): Uint8Array {
    const ts = (this.#o.now ?? unixNow)();
    this.#init = {
      nonce: this.#nonce,
      timestamp: ts,
      tier: this.#o.tier ?? 5,
      minTier: this.#o.minTier ?? 0,
      capabilities: this.#o.capabilities ?? [],
    };
    this.#m1 = sealMessage(
      this.#o.backend,
      handshakeHeader(Op.SESSION_INIT, 0, this.#o.expectKeyId ?? 0, this.#e.publicKey, ts),
      0,
      { key: ZERO_KEY, mac: ZERO_KEY, iv: ZERO_KEY },
      encodeSessionInit(this.#init),
    );
    return this.#m1;
  }

  /**
   * Checks M2 and builds M3. Throws UNAUTHORIZED (`handshake-mac`,
   * `pinned-key`, `bad-key`), FORBIDDEN (tier), or the peer's ERROR.
   */
  finish(m2bytes: Uint8Array): { readonly m3: Uint8Array; readonly state: EstablishedState } {
    if (!this.#m1 || !this.#init) throw new MyClerkError(ErrorCode.BAD_REQUEST, "not-started");
    const b = this.#o.backend;
    const m2 = expectHandshake(m2bytes, Op.SESSION_ACK);
    checkSkew(m2.timestamp, (this.#o.now ?? unixNow)(), this.#o.maxSkew ?? 300);
    const ack = decodeSessionAck(m2.payload);
    if (ack.sessionId !== m2.sessionId || ack.sessionId === 0) {
      throw new MyClerkError(ErrorCode.BAD_REQUEST, "field:session-id");
    }
    if (m2.keyId !== keyIdOf(b, ack.static)) {
      throw new MyClerkError(ErrorCode.UNAUTHORIZED, "key-id");
    }
    const dh1 = b.x25519(this.#e.privateKey, m2.ecdh);
    const dh2 = b.x25519(this.#e.privateKey, ack.static);
    const salt = concat(this.#init.nonce, ack.nonce);
    const h1 = transcript(b, undefined, this.#m1);
    const k2 = deriveK2(b, dh1, dh2, salt, h1);
    if (!verifyTrailer(b, m2, k2)) throw new MyClerkError(ErrorCode.UNAUTHORIZED, "handshake-mac");
    const pinned = this.#o.pinnedKey;
    if (pinned && !pinned.every((x, i) => x === ack.static[i])) {
      throw new MyClerkError(ErrorCode.UNAUTHORIZED, "pinned-key");
    }
    if (this.#o.expectKeyId && this.#o.expectKeyId !== m2.keyId) {
      throw new MyClerkError(ErrorCode.UNAUTHORIZED, "key-id");
    }
    const sel = ack.selectedTier;
    if (sel > this.#init.tier || sel < this.#init.minTier) {
      throw new MyClerkError(ErrorCode.FORBIDDEN, "tier", { requiredTier: this.#init.minTier });
    }
    const dh3 = b.x25519(this.#o.identity.privateKey, m2.ecdh);
    const ikm = concat(dh1, dh2, dh3);
    const h2 = transcript(b, h1, m2bytes);
    const k3 = deriveK3(b, ikm, salt, h2);
    const ts = (this.#o.now ?? unixNow)();
    const m3 = sealMessage(
      b,
      handshakeHeader(
        Op.KEY_EXCHANGE_COMPLETE,
        ack.sessionId,
        this.#o.identity.keyId,
        this.#o.identity.publicKey,
        ts,
      ),
      0,
      { key: k3, mac: k3, iv: ZERO_KEY },
      encodeKeyExchangeComplete({ tier: sel }),
    );
    const h3 = transcript(b, h2, m3);
    const keys = deriveSession(b, ikm, salt, h3);
    for (const x of [dh1, dh2, dh3, ikm, k2, k3]) x.fill(0);
    return {
      m3,
      state: {
        role: "initiator",
        sessionId: ack.sessionId,
        tier: sel as Tier,
        keys,
        myEphemeral: this.#e.publicKey,
        peerEphemeral: m2.ecdh.slice(),
        peerStatic: ack.static.slice(),
        peerKeyId: m2.keyId,
        capabilities: ack.selectedCapabilities,
        transcriptHash: h3,
      },
    };
  }
}

/** Responder options. */
export interface ResponderOptions extends HandshakeCommon {
  /** Session id to assign (1-65535). */
  readonly sessionId: number;
  /** Highest tier served (default 5). */
  readonly maxTier?: Tier;
  /** Lowest tier served (default 0). */
  readonly minTier?: Tier;
  /** Capabilities this node supports. */
  readonly capabilities?: readonly number[];
  /** Admission policy for the initiator's static key (default: any). */
  readonly admit?: (keyId: number, publicKey: Uint8Array) => boolean;
  /** Revoked static key ids (§7.3). */
  readonly revoked?: ReadonlySet<number>;
}

/**
 * Responder side: `accept(M1)` gives M2, `complete(M3)` gives the session.
 * Errors are MyClerkError; the caller answers them with ERROR (Tier 1) and closes.
 */
export class Responder {
  readonly #o: ResponderOptions;
  readonly #e: KeyPair;
  readonly #nonce: Uint8Array;
  #st?: {
    readonly ei: Uint8Array;
    readonly ikm12: Uint8Array;
    readonly salt: Uint8Array;
    readonly h2: Uint8Array;
    readonly tier: Tier;
    readonly caps: readonly number[];
  };

  /** Prepares an ephemeral key and nonce. */
  constructor(o: ResponderOptions) {
    if (!Number.isInteger(o.sessionId) || o.sessionId < 1 || o.sessionId > 0xffff) {
      throw new RangeError("sessionId must be 1..65535");
    }
    this.#o = o;
    this.#e = o.ephemeral ?? o.backend.x25519Generate();
    this.#nonce = o.nonce ?? o.backend.randomBytes(HANDSHAKE_NONCE);
  }

  /** Checks M1 and builds M2. */
  accept(m1bytes: Uint8Array): Uint8Array {
    const o = this.#o;
    const b = o.backend;
    const m1 = expectHandshake(m1bytes, Op.SESSION_INIT);
    if (!verifyTrailer(b, m1, ZERO_KEY)) throw new MyClerkError(ErrorCode.BAD_REQUEST, "trailer");
    if (m1.sessionId !== 0) throw new MyClerkError(ErrorCode.BAD_REQUEST, "field:session-id");
    const now = (o.now ?? unixNow)();
    checkSkew(m1.timestamp, now, o.maxSkew ?? 300);
    const init = decodeSessionInit(m1.payload);
    if (init.timestamp !== m1.timestamp) {
      throw new MyClerkError(ErrorCode.BAD_REQUEST, "field:timestamp");
    }
    if (m1.keyId !== 0 && m1.keyId !== o.identity.keyId) {
      throw new MyClerkError(ErrorCode.UNAUTHORIZED, "unknown-key");
    }
    const maxTier = o.maxTier ?? 5;
    const ownMin = o.minTier ?? 0;
    const sel = Math.min(maxTier, init.tier);
    // A session needs opcodes: Tier 0 (no opcode) can only ride inside one (§14).
    const floor = Math.max(ownMin, 1);
    if (sel < floor) throw new MyClerkError(ErrorCode.FORBIDDEN, "tier", { requiredTier: floor });
    if (sel < init.minTier) {
      throw new MyClerkError(ErrorCode.FORBIDDEN, "tier", { requiredTier: init.minTier });
    }
    const supported = new Set(o.capabilities ?? []);
    const caps = init.capabilities.filter((c) => supported.has(c));
    const dh1 = b.x25519(this.#e.privateKey, m1.ecdh);
    const dh2 = b.x25519(o.identity.privateKey, m1.ecdh);
    const salt = concat(init.nonce, this.#nonce);
    const h1 = transcript(b, undefined, m1bytes);
    const k2 = deriveK2(b, dh1, dh2, salt, h1);
    const m2 = sealMessage(
      b,
      handshakeHeader(Op.SESSION_ACK, o.sessionId, o.identity.keyId, this.#e.publicKey, now),
      0,
      { key: k2, mac: k2, iv: ZERO_KEY },
      encodeSessionAck({
        sessionId: o.sessionId,
        nonce: this.#nonce,
        selectedTier: sel,
        selectedCapabilities: caps,
        static: o.identity.publicKey,
      }),
    );
    this.#st = {
      ei: m1.ecdh.slice(),
      ikm12: concat(dh1, dh2),
      salt,
      h2: transcript(b, h1, m2),
      tier: sel as Tier,
      caps,
    };
    dh1.fill(0);
    dh2.fill(0);
    k2.fill(0);
    return m2;
  }

  /** Checks M3 and returns the established session. */
  complete(m3bytes: Uint8Array): EstablishedState {
    const st = this.#st;
    if (!st) throw new MyClerkError(ErrorCode.BAD_REQUEST, "not-started");
    const o = this.#o;
    const b = o.backend;
    const m3 = expectHandshake(m3bytes, Op.KEY_EXCHANGE_COMPLETE);
    if (m3.sessionId !== o.sessionId) {
      throw new MyClerkError(ErrorCode.INVALID_SESSION, "session-id");
    }
    const si = m3.ecdh.slice();
    const dh3 = b.x25519(this.#e.privateKey, si);
    const ikm = concat(st.ikm12, dh3);
    const k3 = deriveK3(b, ikm, st.salt, st.h2);
    if (!verifyTrailer(b, m3, k3)) throw new MyClerkError(ErrorCode.UNAUTHORIZED, "handshake-mac");
    const kid = keyIdOf(b, si);
    if (m3.keyId !== kid) throw new MyClerkError(ErrorCode.UNAUTHORIZED, "key-id");
    const done = decodeKeyExchangeComplete(m3.payload);
    if (done.tier !== st.tier) throw new MyClerkError(ErrorCode.UNAUTHORIZED, "downgrade");
    if (o.revoked?.has(kid)) throw new MyClerkError(ErrorCode.UNAUTHORIZED, "revoked");
    if (o.admit && !o.admit(kid, si)) {
      throw new MyClerkError(ErrorCode.UNAUTHORIZED, "not-admitted");
    }
    const h3 = transcript(b, st.h2, m3bytes);
    const keys = deriveSession(b, ikm, st.salt, h3);
    for (const x of [dh3, ikm, k3, st.ikm12]) x.fill(0);
    return {
      role: "responder",
      sessionId: o.sessionId,
      tier: st.tier,
      keys,
      myEphemeral: this.#e.publicKey,
      peerEphemeral: st.ei,
      peerStatic: si,
      peerKeyId: kid,
      capabilities: st.caps,
      transcriptHash: h3,
    };
  }
}
