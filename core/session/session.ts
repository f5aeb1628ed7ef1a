/**
 * An established session (profile §4, §6, §7): sealing outgoing messages
 * with the counter, opening incoming ones in the profile's receive order,
 * the replay window, clock skew, rotation, re-key, revocation, tickets,
 * fragmentation and compression. Pure apart from the clock: bytes out go
 * to the `send` sink given at construction.
 *
 * Longer than ~500 lines on purpose: one session's state machine (seal, open, replay, re-key,
 * resume) over one set of keys; the handshake, key schedule, replay window and tickets are their
 * own modules.
 *
 * @module
 */

import { ErrorCode, isMyClerkError, MyClerkError } from "../errors.ts";
import { Op } from "../opcodes.ts";
import type { CryptoBackend, FrameKeys } from "../crypto/types.ts";
import { zeroize } from "../crypto/ct.ts";
import {
  decodeMessage,
  encodePlain,
  type Message,
  type ProtectedMessage,
} from "../wire/message.ts";
import {
  type DirectionKeys,
  openPayload,
  sealMessage,
  verifyAndOpen,
  verifyTrailer,
} from "../wire/protect.ts";
import { compress, decompress, DEFAULT_MAX_PAYLOAD } from "../wire/compress.ts";
import { Reassembler, splitFragments } from "../wire/fragment.ts";
import { SHARED_SLAB } from "../slab.ts";
import { DEFAULT_MAX_MESSAGE, encodeFrame } from "../wire/frame.ts";
import { peekOpcode } from "../wire/header.ts";
import type { EstablishedState } from "./handshake.ts";
import { rebuildCounter, ReplayWindow } from "./replay.ts";
import { deriveRekey, rotateDirection } from "./schedule.ts";
import {
  decodeRekey,
  decodeRotate,
  decodeTicket,
  encodeRekey,
  encodeRotate,
  type TicketPayload,
} from "./payloads.ts";

/** Why an incoming message was dropped silently (counted in metrics as `drop_<reason>`). */
export type DropReason =
  | "crc"
  | "mac"
  | "aead"
  | "replay"
  | "stale"
  | "key"
  | "tier"
  | "tier0"
  | "fragment"
  | "session-id"
  | "header";

/** What {@link Session.receive} made of one message. */
export type Inbound =
  | {
    readonly kind: "message";
    readonly opcode: number;
    readonly payload: Uint8Array;
    readonly tier: number;
  }
  | { readonly kind: "tunnel"; readonly data: Uint8Array }
  | { readonly kind: "drop"; readonly reason: DropReason }
  | { readonly kind: "partial" }
  | { readonly kind: "control"; readonly opcode: number }
  | { readonly kind: "revoked" }
  | { readonly kind: "error"; readonly error: MyClerkError; readonly opcode: number };

/** Session tuning (profile defaults). */
export interface SessionOptions {
  /** Crypto primitives. */
  readonly backend: CryptoBackend;
  /** Where sealed (and, with `framed`, length-prefixed) messages go. */
  readonly send: (bytes: Uint8Array) => void;
  /** Prefix each message with the u32 length (TCP). */
  readonly framed?: boolean;
  /** Unix seconds. */
  readonly now?: () => number;
  /** Allowed clock skew in seconds (default 300). */
  readonly maxSkew?: number;
  /** Replay window size in counters (default 1024). */
  readonly window?: number;
  /** Rotate a send direction after this many messages (default 2^32 - 1). */
  readonly rotateAfterMessages?: number;
  /** Rotate a send direction after this many seconds (default 24 h). */
  readonly rotateAfterSeconds?: number;
  /** Largest message on the wire (fragment above it). */
  readonly maxMessage?: number;
  /** Largest reassembled / decompressed payload. */
  readonly maxPayload?: number;
  /** Encrypt Tier 3/4 payloads (default true; Tier 5 always). */
  readonly encrypt?: boolean;
  /**
   * The caller hands every message given to {@link Session.receive} over
   * (it keeps no reference): the payload may then be decrypted over its
   * ciphertext in those bytes instead of into a new buffer. Both transports
   * do (`tcp.ts` copies each message out of its read buffer, `ws.ts` gets a
   * fresh buffer per message). Default false: the bytes are left as given.
   */
  readonly inPlace?: boolean;
}

interface SendDir {
  epoch: number;
  keys: DirectionKeys;
  counter: number;
  since: number;
  ephemeral: Uint8Array;
  /** `keys` bound by the back end (one call per message); null: it has none. */
  fk?: FrameKeys | null;
}

interface RecvDir {
  epoch: number;
  keys: DirectionKeys;
  window: ReplayWindow;
  peerEphemeral: Uint8Array;
  until: number;
  /** As {@link SendDir.fk}. */
  fk?: FrameKeys | null;
}

/**
 * The back end's bound keys of a direction, made on first use. Every place
 * that retires a direction's keys disposes them ({@link dropKeys}), so the
 * native copy never outlives the zeroized JS one.
 */
function frameKeysOf(b: CryptoBackend, d: SendDir | RecvDir): FrameKeys | null {
  if (d.fk === undefined) d.fk = b.frameKeys?.(d.keys.key, d.keys.mac) ?? null;
  return d.fk;
}

/** Disposes a direction's bound keys and zeroizes its JS keys. */
function dropKeys(d: SendDir | RecvDir): void {
  d.fk?.dispose();
  d.fk = null;
  zeroize(d.keys.key, d.keys.mac);
}

const MAX_COUNTER = 0xffffffff;

/**
 * The state with its public byte fields as views on one buffer and an
 * exact-length capability list: a session lives as long as its connection,
 * and each small buffer of its own costs ~300 B more than a view (measured
 * per idle relay connection). Keys stay where they are (one okm copy).
 */
function packState(s: EstablishedState): EstablishedState {
  const parts = [s.myEphemeral, s.peerEphemeral, s.peerStatic, s.transcriptHash];
  const all = new Uint8Array(parts.reduce((n, x) => n + x.length, 0));
  let o = 0;
  const [myEphemeral, peerEphemeral, peerStatic, transcriptHash] = parts.map((x) => {
    all.set(x, o);
    return all.subarray(o, o += x.length);
  });
  return {
    ...s,
    myEphemeral,
    peerEphemeral,
    peerStatic,
    transcriptHash,
    capabilities: s.capabilities.slice(),
  };
}

/** The default clock: Unix seconds. */
const unixNow = (): number => Math.floor(Date.now() / 1000);

/**
 * One established session over one connection.
 *
 * @example const s = new Session(state, { backend, send: (b) => conn.write(b), framed: true });
 */
export class Session {
  /** Keys and peer facts from the handshake (or resumption). */
  readonly state: EstablishedState;
  readonly #o: SessionOptions;
  readonly #b: CryptoBackend;
  /** Bound once: a closure per call showed in the per-message profile. */
  readonly #clock: () => number;
  #send: SendDir;
  #recv: RecvDir;
  #prev?: RecvDir;
  #resume: Uint8Array;
  #pendingRekey?: { readonly priv: Uint8Array; readonly pub: Uint8Array; readonly epoch: number };
  /** Made on the first fragment: most sessions never see one (a Map and limits per idle session). */
  #reasm?: Reassembler;
  // Outgoing messages are cut from the shared slab: one allocation per ~60 messages.
  readonly #slab = SHARED_SLAB;
  #fragId = 0;
  #closed = false;
  /** The last ticket received from the responder (initiator side). */
  ticket?: TicketPayload;
  #ticketResume?: Uint8Array;
  /** Drop counters by reason. */
  readonly drops: Record<DropReason, number> = {
    crc: 0,
    mac: 0,
    aead: 0,
    replay: 0,
    stale: 0,
    key: 0,
    tier: 0,
    tier0: 0,
    fragment: 0,
    "session-id": 0,
    header: 0,
  };

  /** Wraps an established handshake state. */
  constructor(state: EstablishedState, o: SessionOptions) {
    this.state = packState(state);
    this.#o = o;
    this.#b = o.backend;
    this.#clock = o.now ?? unixNow;
    const mine = state.role === "initiator" ? state.keys.i2r : state.keys.r2i;
    const theirs = state.role === "initiator" ? state.keys.r2i : state.keys.i2r;
    this.#send = {
      epoch: 0,
      keys: mine,
      counter: 0,
      since: this.#now(),
      ephemeral: this.state.myEphemeral,
      fk: undefined, // declared here: a field added later costs the object a property array
    };
    this.#recv = {
      epoch: 0,
      keys: theirs,
      window: new ReplayWindow(o.window ?? 1024),
      peerEphemeral: this.state.peerEphemeral,
      until: Infinity,
      fk: undefined,
    };
    this.#resume = state.keys.resume;
  }

  #reassembler(): Reassembler {
    if (this.#reasm === undefined) {
      this.#reasm = new Reassembler({
        maxPartial: 16,
        maxBytes: this.#o.maxPayload ?? DEFAULT_MAX_PAYLOAD,
        timeoutMs: 30_000,
      });
      this.#reasm.onDrop = () => this.drops.fragment++;
    }
    return this.#reasm;
  }

  #now(): number {
    return this.#clock();
  }

  /** Negotiated tier. */
  get tier(): number {
    return this.state.tier;
  }

  /** Current send epoch (key id of outgoing Tier 4/5 messages). */
  get sendEpoch(): number {
    return this.#send.epoch;
  }

  /** Current receive epoch. */
  get recvEpoch(): number {
    return this.#recv.epoch;
  }

  /** Messages sent in the current send epoch. */
  get sendCounter(): number {
    return this.#send.counter;
  }

  /** The current resumption secret (replaced by a re-key). */
  get resumeSecret(): Uint8Array {
    return this.#resume;
  }

  /**
   * The resumption secret that keys the binder for {@link Session.ticket}:
   * the one current when that ticket arrived (the ticket seals it, §8).
   */
  get ticketSecret(): Uint8Array | undefined {
    return this.#ticketResume;
  }

  /** True once revoked or closed: nothing more is sent or accepted. */
  get closed(): boolean {
    return this.#closed;
  }

  /** Seals one message (no rotation, compression or fragmentation): the hot path. */
  seal(opcode: number, payload: Uint8Array, fragment = false, compressed = false): Uint8Array {
    if (this.#closed) throw new MyClerkError(ErrorCode.INVALID_SESSION, "closed");
    const tier = this.state.tier;
    const framed = this.#o.framed === true;
    if (tier < 3) {
      const m = encodePlain({
        tier: tier as 0 | 1 | 2,
        opcode,
        sequence: this.#send.counter++ & 0xff,
        sessionId: this.state.sessionId,
        fragment,
        compressed,
      }, payload);
      return framed ? encodeFrame(m) : m;
    }
    const s = this.#send;
    return sealMessage(
      this.#b,
      {
        tier: tier as 3 | 4 | 5,
        opcode,
        sessionId: this.state.sessionId,
        timestamp: this.#now(),
        keyId: s.epoch,
        ecdh: s.ephemeral,
        encrypted: tier === 5 || this.#o.encrypt !== false,
        compressed,
        fragment,
      },
      s.counter++,
      s.keys,
      payload,
      framed,
      this.#slab,
      frameKeysOf(this.#b, s) ?? undefined,
    );
  }

  /**
   * Sends an application message: rotates first when due, compresses when
   * asked, fragments when larger than one message may be.
   */
  send(opcode: number, payload: Uint8Array, opts: { readonly compress?: boolean } = {}): void {
    if (this.state.tier >= 3 && this.#rotationDue()) this.rotate(false);
    let body = payload;
    const c = opts.compress === true;
    if (c) body = compress(payload);
    const chunk = (this.#o.maxMessage ?? DEFAULT_MAX_MESSAGE) - 128;
    if (body.length <= chunk) {
      this.#o.send(this.seal(opcode, body, false, c));
      return;
    }
    this.#fragId = (this.#fragId + 1) & 0xffff;
    for (const f of splitFragments(body, this.#fragId, chunk - 4)) {
      if (this.state.tier >= 3 && this.#rotationDue()) this.rotate(false);
      this.#o.send(this.seal(opcode, f, true, c));
    }
  }

  #rotationDue(): boolean {
    const s = this.#send;
    return s.counter >= (this.#o.rotateAfterMessages ?? MAX_COUNTER) ||
      this.#now() - s.since >= (this.#o.rotateAfterSeconds ?? 86_400);
  }

  /** SESSION_ROTATE of my send direction (§7.1); `request` asks the peer to rotate too. */
  rotate(request = false): void {
    if (this.state.tier < 3) return;
    const s = this.#send;
    const epoch = s.epoch + 1;
    this.#o.send(this.seal(Op.SESSION_ROTATE, encodeRotate({ epoch, request })));
    this.#send = {
      ...s,
      epoch,
      keys: rotateDirection(this.#b, s.keys, epoch),
      counter: 0,
      since: this.#now(),
      fk: undefined,
    };
    dropKeys(s);
  }

  /** Starts a KEY_EXCHANGE re-key with a fresh ephemeral (§7.2, Tier 4/5). */
  rekey(): void {
    if (this.state.tier < 4) {
      throw new MyClerkError(ErrorCode.FORBIDDEN, "tier", { requiredTier: 4 });
    }
    const e = this.#b.x25519Generate();
    const epoch = Math.max(this.#send.epoch, this.#recv.epoch) + 1;
    this.#pendingRekey = { priv: e.privateKey, pub: e.publicKey, epoch };
    const saved = this.#send.ephemeral;
    this.#send.ephemeral = e.publicKey;
    try {
      this.#o.send(this.seal(Op.KEY_EXCHANGE_INIT, encodeRekey({ epoch })));
    } finally {
      this.#send.ephemeral = saved;
    }
  }

  /** Erases every key (revocation or close). */
  destroy(): void {
    this.#closed = true;
    dropKeys(this.#send);
    dropKeys(this.#recv);
    zeroize(this.#resume);
    if (this.#prev) dropKeys(this.#prev);
  }

  /** Processes one incoming message (without its frame length). Never throws. */
  receive(bytes: Uint8Array): Inbound {
    if (this.#closed) return { kind: "drop", reason: "key" };
    let m: Message;
    try {
      m = decodeMessage(bytes);
    } catch (e) {
      const err = e as MyClerkError;
      if (err.detail === "crc") return this.#drop("crc");
      // On a protected session nothing unauthenticated is answered (§6 receive order).
      if (this.state.tier >= 3) return this.#drop("header");
      return {
        kind: "error",
        error: err,
        opcode: peekOpcode(bytes),
      };
    }
    if (m.tier === 0) {
      return this.state.tier >= 3 ? { kind: "tunnel", data: m.payload } : this.#drop("tier0");
    }
    if (m.tier !== this.state.tier) return this.#drop("tier");
    if (m.tier < 3) {
      if (m.tier === 2 && m.sessionId !== this.state.sessionId) return this.#drop("session-id");
      return this.#deliver(m.opcode, m.payload, m.fragment, m.compressed);
    }
    const pm = m as ProtectedMessage;
    // Not this session's id: nothing to verify it with, so never answered (§6 step 4).
    if (pm.sessionId !== this.state.sessionId) return this.#drop("session-id");
    const dir = this.#pick(pm);
    if (!dir) return this.#drop(pm.tier === 3 ? "mac" : "key");
    // With bound keys the trailer check and the AEAD open are one call here;
    // an AEAD failure is still reported where the receive order puts it,
    // after the key, skew and replay checks, and a plaintext opened for a
    // message dropped by those is wiped.
    const fk = pm.tier >= 4 ? frameKeysOf(this.#b, dir) : null;
    const c = rebuildCounter(dir.window.highest, (pm.nonce << 8) | pm.sequence);
    let opened: Uint8Array | "aead" | undefined;
    if (fk !== null) {
      const r = verifyAndOpen(fk, pm, dir.keys, c, this.#slab, this.#o.inPlace === true);
      if (r === "mac") return this.#drop("mac");
      opened = r;
    } else if (pm.tier >= 4 && !this.#verify(pm, dir)) return this.#drop("mac");
    if (
      pm.tier >= 4 && pm.opcode !== Op.KEY_EXCHANGE_INIT && pm.opcode !== Op.KEY_EXCHANGE_RESPONSE
    ) {
      const ecdh = (pm as { ecdh: Uint8Array }).ecdh;
      const want = dir.peerEphemeral;
      let diff = 0;
      for (let i = 0; i < 32; i++) diff |= ecdh[i] ^ want[i];
      if (diff !== 0) return this.#dropOpened("key", opened, pm);
    }
    if (Math.abs(pm.timestamp - this.#now()) > (this.#o.maxSkew ?? 300)) {
      return this.#dropOpened("stale", opened, pm);
    }
    if (!dir.window.check(c)) return this.#dropOpened("replay", opened, pm);
    let plain: Uint8Array;
    if (opened === "aead") return this.#drop("aead");
    if (opened !== undefined) {
      plain = opened;
    } else {
      try {
        plain = openPayload(this.#b, pm, dir.keys, c);
      } catch (e) {
        if (isMyClerkError(e) && e.code === ErrorCode.UNAUTHORIZED) return this.#drop("aead");
        return { kind: "error", error: e as MyClerkError, opcode: pm.opcode };
      }
    }
    dir.window.accept(c);
    try {
      switch (pm.opcode) {
        case Op.SESSION_ROTATE:
          return this.#onRotate(plain, dir);
        case Op.KEY_EXCHANGE_INIT:
          return this.#onRekeyInit(plain, (pm as { ecdh: Uint8Array }).ecdh);
        case Op.KEY_EXCHANGE_RESPONSE:
          return this.#onRekeyResponse(plain, (pm as { ecdh: Uint8Array }).ecdh);
        case Op.SESSION_TICKET:
          this.ticket = decodeTicket(plain);
          this.#ticketResume = this.#resume.slice();
          return { kind: "control", opcode: pm.opcode };
        case Op.SESSION_REVOKE:
          this.destroy();
          return { kind: "revoked" };
      }
    } catch (e) {
      if (isMyClerkError(e)) return { kind: "error", error: e, opcode: pm.opcode };
      throw e;
    }
    return this.#deliver(pm.opcode, plain, pm.fragment, pm.compressed);
  }

  #drop(reason: DropReason): Inbound {
    this.drops[reason]++;
    return { kind: "drop", reason };
  }

  /** {@link #drop}, wiping a plaintext already opened for the dropped message. */
  #dropOpened(reason: DropReason, opened: Uint8Array | "aead" | undefined, pm: Message): Inbound {
    // E=1: the opened plaintext (a new region, or in place over the ciphertext) is wiped
    if (opened !== undefined && opened !== "aead" && pm.encrypted) zeroize(opened);
    return this.#drop(reason);
  }

  #verify(pm: ProtectedMessage, dir: RecvDir): boolean {
    return verifyTrailer(this.#b, pm, dir.keys.mac);
  }

  /** Chooses the receive epoch: by key id (Tier 4/5) or by trying the HMAC (Tier 3). */
  #pick(pm: ProtectedMessage): RecvDir | undefined {
    if (pm.tier >= 4) {
      // the current epoch first: no clock read on the hot path
      const kid = (pm as { keyId: number }).keyId;
      if (kid === this.#recv.epoch) return this.#recv;
      const p = this.#prev;
      return p && kid === p.epoch && p.until >= this.#now() ? p : undefined;
    }
    const prev = this.#prev && this.#prev.until >= this.#now() ? this.#prev : undefined;
    if (this.#verify(pm, this.#recv)) return this.#recv;
    if (prev && this.#verify(pm, prev)) return prev;
    return undefined;
  }

  #retire(): void {
    if (this.#prev) dropKeys(this.#prev);
    this.#prev = { ...this.#recv, until: this.#now() + 60 };
  }

  #onRotate(plain: Uint8Array, dir: RecvDir): Inbound {
    const r = decodeRotate(plain);
    if (dir !== this.#recv || r.epoch !== this.#recv.epoch + 1) {
      throw new MyClerkError(ErrorCode.BAD_REQUEST, "rotate-epoch", {
        expected: this.#recv.epoch + 1,
      });
    }
    const cur = this.#recv;
    this.#retire();
    this.#recv = {
      epoch: r.epoch,
      keys: rotateDirection(this.#b, cur.keys, r.epoch),
      window: new ReplayWindow(this.#o.window ?? 1024),
      peerEphemeral: cur.peerEphemeral,
      until: Infinity,
    };
    if (r.request) this.rotate(false);
    return { kind: "control", opcode: Op.SESSION_ROTATE };
  }

  #onRekeyInit(plain: Uint8Array, peerEph: Uint8Array): Inbound {
    if (this.state.tier < 4) {
      throw new MyClerkError(ErrorCode.FORBIDDEN, "tier", { requiredTier: 4 });
    }
    const { epoch } = decodeRekey(plain);
    if (epoch <= Math.max(this.#send.epoch, this.#recv.epoch)) {
      throw new MyClerkError(ErrorCode.BAD_REQUEST, "rekey-epoch");
    }
    const e = this.#b.x25519Generate();
    const dh = this.#b.x25519(e.privateKey, peerEph);
    const keys = deriveRekey(this.#b, dh, this.#resume, epoch);
    const saved = this.#send.ephemeral;
    this.#send.ephemeral = e.publicKey;
    try {
      this.#o.send(this.seal(Op.KEY_EXCHANGE_RESPONSE, encodeRekey({ epoch })));
    } finally {
      this.#send.ephemeral = saved;
    }
    this.#install(keys.r2i, keys.i2r, epoch, e.publicKey, peerEph.slice(), keys.resume);
    zeroize(dh, e.privateKey);
    return { kind: "control", opcode: Op.KEY_EXCHANGE_INIT };
  }

  #onRekeyResponse(plain: Uint8Array, peerEph: Uint8Array): Inbound {
    const p = this.#pendingRekey;
    const { epoch } = decodeRekey(plain);
    if (!p || epoch !== p.epoch) throw new MyClerkError(ErrorCode.BAD_REQUEST, "rekey-epoch");
    const dh = this.#b.x25519(p.priv, peerEph);
    const keys = deriveRekey(this.#b, dh, this.#resume, epoch);
    this.#install(keys.i2r, keys.r2i, epoch, p.pub, peerEph.slice(), keys.resume);
    zeroize(dh, p.priv);
    this.#pendingRekey = undefined;
    return { kind: "control", opcode: Op.KEY_EXCHANGE_RESPONSE };
  }

  #install(
    send: DirectionKeys,
    recv: DirectionKeys,
    epoch: number,
    myEph: Uint8Array,
    peerEph: Uint8Array,
    resume: Uint8Array,
  ): void {
    const old = this.#send;
    this.#send = { epoch, keys: send, counter: 0, since: this.#now(), ephemeral: myEph };
    dropKeys(old);
    this.#retire();
    this.#recv = {
      epoch,
      keys: recv,
      window: new ReplayWindow(this.#o.window ?? 1024),
      peerEphemeral: peerEph,
      until: Infinity,
    };
    zeroize(this.#resume);
    this.#resume = resume;
  }

  #deliver(opcode: number, payload: Uint8Array, fragment: boolean, compressed: boolean): Inbound {
    let body = payload;
    if (fragment) {
      let whole: Uint8Array | undefined;
      try {
        whole = this.#reassembler().add(payload);
      } catch (e) {
        this.drops.fragment++;
        return { kind: "error", error: e as MyClerkError, opcode };
      }
      if (!whole) return { kind: "partial" };
      body = whole;
    }
    if (compressed) {
      try {
        body = decompress(body, this.#o.maxPayload ?? DEFAULT_MAX_PAYLOAD);
      } catch (e) {
        return { kind: "error", error: e as MyClerkError, opcode };
      }
    }
    return { kind: "message", opcode, payload: body, tier: this.state.tier };
  }
}
