/**
 * One client connection on a node: handshake or resumption as responder,
 * then the established session: minimum tiers, core opcodes, dispatch to
 * routes, errors and silent drops exactly as the profile says (§9, §10).
 *
 * Longer than ~500 lines on purpose: the responder's receive order (PROTOCOL.md §6.1) is one state
 * machine over one connection; splitting its steps would hide the order the profile fixes.
 *
 * @module
 */

import {
  ErrorCode,
  type ErrorCodeValue,
  errorName,
  isMyClerkError,
  MyClerkError,
} from "../errors.ts";
import {
  CORE_DEFINED,
  minimumTier,
  Op,
  opcodeName,
  rangeOf,
  registeredAccess,
} from "../opcodes.ts";
import type { CryptoBackend } from "../crypto/types.ts";
import { decodeMessage, encodePlain, type Message } from "../wire/message.ts";
import { decodePayload, encodePayload } from "../wire/payload.ts";
import { encodeFrame } from "../wire/frame.ts";
import { type Conn, sendMessage } from "../transport/conn.ts";
import { type EstablishedState, type Identity, Responder } from "../session/handshake.ts";
import { type Inbound, Session } from "../session/session.ts";
import { acceptResume, type TicketIssuer } from "../session/ticket.ts";
import {
  decodeError,
  decodeKeepalive,
  decodeReason,
  encodeError,
  encodeKeepalive,
  encodeTicket,
  type ErrorPayload,
} from "../session/payloads.ts";
import { decodeMap } from "../wire/payload.ts";
import { peekOpcode, type Tier } from "../wire/header.ts";
import type { NodeConfig } from "./config.ts";
import { CORE, type Metrics } from "./metrics.ts";
import type { Logger } from "./log.ts";
import type { PeerInfo, RawConnection, Route, RouteAccess } from "./dispatch.ts";
import type { Gate, GateResult } from "./gate.ts";
import { keyIdHex } from "./keys.ts";

/** What a connection needs from its node. */
export interface NodeContext {
  /** Crypto primitives for handshakes and sessions. */
  readonly backend: CryptoBackend;
  /** The node's static key pair. */
  readonly identity: Identity;
  // deno-doc-ignore private-type-ref -- NodeConfig lives in config.ts (zod-inferred, outside doc lint)
  /** Validated node configuration. */
  readonly config: NodeConfig;
  /** Node-wide counters. */
  readonly metrics: Metrics;
  /** Structured logger. */
  readonly log: Logger;
  /** Issues and opens resumption tickets (§8). */
  readonly tickets: TicketIssuer;
  /** Current dispatch routes (read per request: layers add routes at run time). */
  readonly routes: () => readonly Route[];
  /**
   * While the node's layers are still starting (`serve` listens before its extensions attach
   * their routes), a promise that settles when they are attached; undefined once ready.
   */
  readonly starting?: () => Promise<void> | undefined;
  /** Revoked static key ids (config `revoked-keys`; read per handshake: reload replaces it). */
  readonly revoked: ReadonlySet<number>;
  /** Allow-list of peer static key ids; absent = admit any key (read per handshake). */
  readonly admit?: ReadonlySet<number>;
  /** The node's gate, checked before every request outside the core range. */
  readonly gate: Gate;
  /** Allocates a free session id (1-65535), or 0 when none is left. */
  allocSession(c: NodeConnection): number;
  /** Frees a session id from {@link NodeContext.allocSession}. */
  releaseSession(id: number): void;
  /** Called when a session is established (relay hooks). */
  onEstablished?(c: NodeConnection): void;
  /** Called when the connection closes (relay hooks). */
  onClosed?(c: NodeConnection): void;
}

/** Lifecycle of a {@link NodeConnection}: before M1, handshaking, session up, closed. */
export type State = "new" | "handshake" | "established" | "closed";

const nowSec = () => Math.floor(Date.now() / 1000);

/** A connection accepted by the node. */
export class NodeConnection implements RawConnection {
  /** The transport this connection runs on. */
  readonly conn: Conn;
  readonly #ctx: NodeContext;
  #state: State = "new";
  #responder?: Responder;
  #sessionId = 0;
  /** The established session, once the handshake or resumption completed. */
  session?: Session;
  /** Milliseconds (epoch) of the last received frame (for idle and keepalive). */
  lastRecv: number = Date.now();
  /** Milliseconds (epoch) of the last sent frame. */
  lastSend: number = Date.now();
  /** Milliseconds (epoch) when the connection was accepted. */
  readonly opened: number = Date.now();
  #kaId = 0;

  /** Starts serving `conn`. */
  constructor(conn: Conn, ctx: NodeContext) {
    this.conn = conn;
    this.#ctx = ctx;
    conn.start({
      onMessage: (m) => this.#onMessage(m),
      onClose: (reason) => this.#onClose(reason),
    });
  }

  /** Current state. */
  get state(): State {
    return this.#state;
  }

  /** The established session's peer, for routes. */
  get peer(): PeerInfo {
    const s = this.session?.state;
    return {
      sessionId: s?.sessionId ?? 0,
      keyId: s?.peerKeyId ?? 0,
      tier: s?.tier ?? 1,
      remote: this.conn.remote,
    };
  }

  /** The established handshake state, if any. */
  get established(): EstablishedState | undefined {
    return this.session?.state;
  }

  #write(wire: Uint8Array, priority = false): void {
    this.lastSend = Date.now();
    this.conn.write(wire, priority);
  }

  /** See {@link RawConnection.transcriptHash}. */
  get transcriptHash(): Uint8Array | undefined {
    return this.session?.state.transcriptHash;
  }

  /** See {@link RawConnection.peerStatic}. */
  get peerStatic(): Uint8Array | undefined {
    return this.session?.state.peerStatic;
  }

  /** Bytes queued on the transport. */
  get queuedBytes(): number {
    return this.conn.queuedBytes;
  }

  /** Sends raw payload bytes on the established session (fragments when large). */
  send(opcode: number, payload: Uint8Array, priority = false): boolean {
    if (!this.session || this.#state !== "established" || this.session.closed) return false;
    this.lastSend = Date.now();
    if (priority) {
      this.#write(this.session.seal(opcode, payload), true);
    } else {
      this.session.send(opcode, payload);
    }
    return !this.conn.isClosed;
  }

  /** Sends a server-pushed message on the established session. */
  push(opcode: number, payload: unknown): boolean {
    if (!this.session || this.#state !== "established") return false;
    this.lastSend = Date.now();
    this.session.send(opcode, encodePayload(payload));
    return true;
  }

  /** Sends KEEPALIVE (priority lane); called by the node's sweep. */
  keepalive(): void {
    if (!this.session || this.#state !== "established") return;
    this.#write(this.session.seal(Op.KEEPALIVE, encodeKeepalive({ id: ++this.#kaId })), true);
  }

  /** Closes the connection, gracefully with SESSION_CLOSE when established. */
  close(reason: string): void {
    if (this.session && this.#state === "established" && !this.session.closed) {
      try {
        this.#write(this.session.seal(Op.SESSION_CLOSE, encodePayload({ "reason": reason })), true);
      } catch { /* closing anyway */ }
    }
    this.conn.close(reason);
  }

  #drop(reason: string): void {
    this.#ctx.metrics.inc(CORE.drops, { reason });
  }

  /** Sends ERROR: sealed on the session when there is one, else Tier 1 with sequence 0. */
  sendError(err: MyClerkError, opcode: number, re?: number): void {
    const extra = err.extra;
    const p: ErrorPayload = {
      code: err.code,
      opcode,
      re,
      detail: err.detail,
      requiredTier: typeof extra.requiredTier === "number" ? extra.requiredTier : undefined,
      time: typeof extra.time === "number" ? extra.time : undefined,
      // Only a handler's own extras go on the wire (plugins' fail()), never internal ones.
      extra: extra.wire !== null && typeof extra.wire === "object" && !Array.isArray(extra.wire)
        ? extra.wire as Record<string, unknown>
        : undefined,
    };
    this.#ctx.metrics.inc(CORE.errorsSent, { code: errorName(err.code) });
    const body = encodeError(p);
    if (this.session && this.#state === "established" && !this.session.closed) {
      this.#write(this.session.seal(Op.ERROR, body), true);
    } else {
      const m = encodePlain({ tier: 1, opcode: Op.ERROR, sequence: 0 }, body);
      this.lastSend = Date.now();
      sendMessage(this.conn, m, true);
    }
  }

  /** Answers a framing error (frame too large) before the transport closes. */
  framingError(detail: string): void {
    this.#drop("frame");
    if (this.#state === "established") {
      this.sendError(new MyClerkError(ErrorCode.BAD_REQUEST, detail), 0);
    }
  }

  #onClose(reason: string): void {
    const was = this.#state;
    this.#state = "closed";
    if (this.#sessionId) this.#ctx.releaseSession(this.#sessionId);
    this.session?.destroy();
    this.#ctx.metrics.inc(CORE.closed, {
      reason: reason.split(" ")[0].split(":")[0],
    });
    this.#ctx.log.debug("connection closed", { remote: this.conn.remote, reason, state: was });
    this.#ctx.onClosed?.(this);
  }

  /**
   * One message from the transport. Synchronous unless its handler returns
   * a promise: a read's messages are then handled in one task, so what
   * they send is written together (one send per read, not one per
   * message: an `async` chain here made every message a task of its own,
   * measured as 0.8 sendto per relayed message).
   */
  #onMessage(bytes: Uint8Array): void | Promise<void> {
    this.lastRecv = Date.now();
    this.#ctx.metrics.inc(CORE.received);
    if (this.#state === "established" && this.session) {
      return this.#onSession(this.session.receive(bytes));
    }
    return this.#onUnestablished(bytes);
  }

  async #onUnestablished(bytes: Uint8Array): Promise<void> {
    let m: Message;
    try {
      m = decodeMessage(bytes);
    } catch (e) {
      const err = e as MyClerkError;
      if (err.detail === "crc") return this.#drop("crc");
      this.sendError(err, peekOpcode(bytes));
      return;
    }
    try {
      await this.#preSession(m, bytes);
    } catch (e) {
      const err = isMyClerkError(e)
        ? e
        : new MyClerkError(ErrorCode.INTERNAL_ERROR, "handshake", {}, e);
      // the detail is matched against a closed set: it never becomes a label value of its own
      this.#ctx.metrics.inc(CORE.handshakesFailed, {
        code: errorName(err.code),
        reason: err.detail,
      });
      this.#ctx.log.info("handshake refused", {
        remote: this.conn.remote,
        code: errorName(err.code),
        detail: err.detail,
      });
      this.sendError(err, "opcode" in m ? m.opcode : 0);
      this.conn.close(`handshake: ${err.detail}`);
    }
  }

  async #preSession(m: Message, bytes: Uint8Array): Promise<void> {
    const cfg = this.#ctx.config;
    if (m.tier === 0) return this.#drop("tier0");
    const op = m.opcode;
    if (m.tier === 4 && op === Op.SESSION_INIT && this.#state === "new") {
      const sid = this.#ctx.allocSession(this);
      if (sid === 0) throw new MyClerkError(ErrorCode.SERVICE_UNAVAILABLE, "no-session-ids");
      this.#sessionId = sid;
      this.#responder = new Responder({
        backend: this.#ctx.backend,
        identity: this.#ctx.identity,
        sessionId: sid,
        maxTier: cfg.tiers.max as Tier,
        minTier: cfg.tiers.min as Tier,
        maxSkew: cfg.limits.maxSkewSeconds,
        capabilities: [1, 2, 4],
        revoked: this.#ctx.revoked,
        admit: this.#ctx.admit ? (kid) => this.#ctx.admit!.has(kid) : undefined,
      });
      this.#write(
        this.conn.framed
          ? encodeFrame(this.#responder.accept(bytes))
          : this.#responder.accept(bytes),
      );
      this.#state = "handshake";
      return;
    }
    if (
      m.tier === 4 && op === Op.KEY_EXCHANGE_COMPLETE && this.#state === "handshake" &&
      this.#responder
    ) {
      const st = this.#responder.complete(bytes);
      this.#responder = undefined;
      this.#establish(st);
      return;
    }
    if (m.tier === 4 && op === Op.SESSION_RESUME && this.#state === "new") {
      const sid = this.#ctx.allocSession(this);
      if (sid === 0) throw new MyClerkError(ErrorCode.SERVICE_UNAVAILABLE, "no-session-ids");
      this.#sessionId = sid;
      const { reply, state } = acceptResume(this.#ctx.backend, this.#ctx.tickets, bytes, {
        sessionId: sid,
        now: nowSec(),
        maxTier: cfg.tiers.max as Tier,
        minTier: cfg.tiers.min as Tier,
      });
      if (this.#ctx.revoked.has(state.peerKeyId)) {
        throw new MyClerkError(ErrorCode.UNAUTHORIZED, "revoked");
      }
      if (this.#ctx.admit && !this.#ctx.admit.has(state.peerKeyId)) {
        throw new MyClerkError(ErrorCode.UNAUTHORIZED, "not-admitted");
      }
      this.#write(this.conn.framed ? encodeFrame(reply) : reply);
      this.#establish(state);
      this.#ctx.metrics.inc(CORE.resumed);
      return;
    }
    if (m.tier === 1) return await this.#sessionless(m.opcode, m.payload);
    if (m.tier === 4 && (op === Op.SESSION_INIT || op === Op.SESSION_RESUME)) {
      throw new MyClerkError(ErrorCode.BAD_REQUEST, "handshake-in-progress");
    }
    this.sendError(new MyClerkError(ErrorCode.INVALID_SESSION, "no-session"), op);
  }

  /**
   * A Tier 1 message without a session (profile §10 "Without a session"):
   * KEEPALIVE is answered, an ERROR is dropped (never answer an error with
   * one), other core opcodes get INVALID_SESSION, everything else passes
   * the gate (tier, admit, public opcodes) first. Replies go back on this
   * connection at Tier 1 with sequence 0: the connection is the only thing
   * that ties them to the request.
   */
  async #sessionless(op: number, payload: Uint8Array): Promise<void> {
    if (op === Op.KEEPALIVE) {
      let id: number | undefined;
      try {
        id = decodeKeepalive(payload).id;
      } catch (e) {
        this.sendError(asError(e), op);
        return;
      }
      sendMessage(
        this.conn,
        encodePlain({ tier: 1, opcode: Op.KEEPALIVE_ACK }, encodeKeepalive({ re: id })),
        true,
      );
      return;
    }
    if (op === Op.ERROR) return this.#drop("sessionless-error");
    if (op <= 0x00ff) {
      this.sendError(new MyClerkError(ErrorCode.INVALID_SESSION, "no-session"), op);
      return;
    }
    await this.#request(
      op,
      payload,
      1,
      (reply) => sendMessage(this.conn, encodePlain({ tier: 1, opcode: op }, reply)),
    );
  }

  #establish(st: EstablishedState): void {
    const cfg = this.#ctx.config;
    this.session = new Session(st, {
      backend: this.#ctx.backend,
      send: (b) => this.#write(b),
      framed: this.conn.framed,
      // transports hand each message over (core/transport/conn.ts): open in place
      inPlace: true,
      maxSkew: cfg.limits.maxSkewSeconds,
      window: cfg.limits.replayWindow,
      maxMessage: cfg.limits.maxMessage,
    });
    this.#state = "established";
    this.#ctx.metrics.inc(CORE.established, { tier: String(st.tier) });
    this.#ctx.metrics.observe(CORE.handshakeSeconds, (Date.now() - this.opened) / 1000);
    this.#ctx.log.info("session established", {
      remote: this.conn.remote,
      transport: this.conn.kind,
      session: st.sessionId,
      tier: st.tier,
      peer: keyIdHex(st.peerKeyId),
    });
    this.#issueTicket();
    this.#ctx.onEstablished?.(this);
  }

  /**
   * Sends SESSION_TICKET sealing the session's current resumption secret
   * (after the handshake, and again after each re-key: §8).
   */
  #issueTicket(): void {
    const s = this.session;
    if (!s || s.closed || s.tier < 3 || s.state.peerStatic.length !== 32) return;
    const ticket = this.#ctx.tickets.issue(s.resumeSecret, s.state.peerStatic, nowSec());
    s.send(Op.SESSION_TICKET, encodeTicket({ ticket, lifetime: this.#ctx.tickets.lifetime }));
  }

  #minTier(op: number): number {
    let need = minimumTier(op);
    for (const r of this.#ctx.routes()) {
      if (op >= r.first && op <= r.last) {
        const t = r.minTier?.(op);
        if (t !== undefined && t > need) need = t;
      }
    }
    return need;
  }

  /** How `op`'s route is gated (core/node/gate.ts). */
  #access(op: number): RouteAccess {
    const r = this.#ctx.routes().find((x) => op >= x.first && op <= x.last);
    return r?.access ?? registeredAccess(op);
  }

  /** The gate's verdict for `op` from this connection (session or not). */
  #gate(op: number, tier: number): GateResult {
    const s = this.session?.state;
    const established = this.#state === "established" && s !== undefined;
    return this.#ctx.gate.check(
      {
        opcode: op,
        keyId: established ? s.peerKeyId : 0,
        sessionId: established ? s.sessionId : 0,
        tier,
      },
      this.#access(op),
      this.#minTier(op),
    );
  }

  /**
   * True when this connection's session is established and may call `op`
   * now (the gate with the policy in force: reloads and ACL changes apply).
   */
  authorize(op: number): boolean {
    const s = this.session;
    if (!s || this.#state !== "established" || s.closed) return false;
    if (op <= 0x00ff) return true;
    return this.#gate(op, s.tier).ok;
  }

  #onSession(r: Inbound): void | Promise<void> {
    const s = this.session!;
    switch (r.kind) {
      case "drop":
        return this.#drop(r.reason);
      case "partial":
        return;
      case "control":
        // A re-key replaced the resumption secret: hand out a ticket sealing the new one (§8).
        if (r.opcode === Op.KEY_EXCHANGE_INIT || r.opcode === Op.KEY_EXCHANGE_RESPONSE) {
          this.#issueTicket();
        }
        return;
      case "tunnel":
        return this.#drop("tier0");
      case "revoked":
        this.#ctx.metrics.inc(CORE.revoked);
        this.conn.close("revoked");
        return;
      case "error":
        this.sendError(r.error, r.opcode);
        return;
      case "message":
        break;
    }
    const op = r.opcode;
    if (op <= 0x00ff) return this.#core(s, op, r.payload);
    return this.#request(op, r.payload, s.tier, (reply) => s.send(op, reply));
  }

  /** A core opcode on an established session (profile §10, "Core opcodes"). */
  #core(s: Session, op: number, payload: Uint8Array): void {
    const need = minimumTier(op);
    if (s.tier < need) {
      this.sendError(new MyClerkError(ErrorCode.FORBIDDEN, "tier", { requiredTier: need }), op);
      return;
    }
    try {
      switch (op) {
        case Op.NOP:
        case Op.SESSION_CLOSE_ACK:
          decodeMap(payload);
          return;
        case Op.KEEPALIVE_ACK:
          decodeKeepalive(payload);
          return;
        case Op.KEEPALIVE: {
          const ka = decodeKeepalive(payload);
          this.#write(s.seal(Op.KEEPALIVE_ACK, encodeKeepalive({ re: ka.id })), true);
          return;
        }
        case Op.SESSION_CLOSE:
          decodeReason(payload);
          this.#write(s.seal(Op.SESSION_CLOSE_ACK, encodePayload({})), true);
          this.conn.close("peer-close");
          return;
        case Op.ERROR:
          try {
            decodeError(payload);
          } catch {
            // Never answer an ERROR with an ERROR: two peers could bounce them forever.
            return this.#drop("error-payload");
          }
          this.#ctx.log.debug("peer sent ERROR", { remote: this.conn.remote });
          return;
      }
    } catch (e) {
      this.sendError(asError(e), op);
      return;
    }
    if (CORE_DEFINED.has(op)) {
      this.sendError(
        new MyClerkError(ErrorCode.BAD_REQUEST, "unexpected-core-opcode", {
          opcode: opcodeName(op),
        }),
        op,
      );
      return;
    }
    this.sendError(new MyClerkError(ErrorCode.UNSUPPORTED, "core-unassigned"), op);
  }

  /**
   * A request outside the core range, in the profile's order (§6 step 10):
   * tier, range, gate, handler, payload.
   */
  #request(
    op: number,
    raw: Uint8Array,
    tier: number,
    reply: (b: Uint8Array) => void,
  ): void | Promise<void> {
    const need = Math.max(this.#minTier(op), this.#ctx.config.tiers.min, 1);
    if (tier < need) {
      this.sendError(
        new MyClerkError(ErrorCode.FORBIDDEN, "tier", { requiredTier: need }),
        op,
        requestId(raw),
      );
      return;
    }
    const range = rangeOf(op);
    if (!range.served) {
      this.sendError(
        new MyClerkError(ErrorCode.UNSUPPORTED, `range-${range.kind}`),
        op,
        requestId(raw),
      );
      return;
    }
    const g = this.#gate(op, tier);
    if (!g.ok) {
      this.#ctx.metrics.inc(CORE.gateDenied, { reason: g.error.detail });
      this.sendError(g.error, op, requestId(raw));
      return;
    }
    // A request that arrives while the layers attach waits for them instead of NOT_FOUND.
    const starting = this.#ctx.starting?.();
    if (starting !== undefined) return starting.then(() => this.#route(op, raw, tier, reply));
    return this.#route(op, raw, tier, reply);
  }

  /** {@link #request} past its checks: the raw route (synchronous when it is) or dispatch. */
  #route(
    op: number,
    raw: Uint8Array,
    tier: number,
    reply: (b: Uint8Array) => void,
  ): void | Promise<void> {
    const rawRoute = this.#ctx.routes().find((x) => op >= x.first && op <= x.last && x.raw);
    if (rawRoute?.raw) {
      if (this.#state !== "established") {
        this.sendError(new MyClerkError(ErrorCode.UNAUTHORIZED, "session-required"), op);
        return;
      }
      let r: void | Promise<void>;
      try {
        r = rawRoute.raw(this, op, raw);
      } catch (e) {
        return this.#rawFailed(e, op, raw);
      }
      // any thenable a handler returns holds the next message, as an awaited one did
      if (r !== undefined) {
        return Promise.resolve(r).then(undefined, (e) => this.#rawFailed(e, op, raw));
      }
      return;
    }
    return this.#dispatch(op, raw, tier, reply);
  }

  #rawFailed(e: unknown, op: number, raw: Uint8Array): void {
    const err = isMyClerkError(e)
      ? e
      : new MyClerkError(ErrorCode.INTERNAL_ERROR, "handler-threw", {}, e);
    this.sendError(err, op, requestId(raw));
  }

  /** A request for a dispatch route: decoded, handled, answered with its `re` id. */
  async #dispatch(
    op: number,
    raw: Uint8Array,
    tier: number,
    reply: (b: Uint8Array) => void,
  ): Promise<void> {
    const route = this.#ctx.routes().find((r) => op >= r.first && op <= r.last && r.dispatch);
    if (!route?.dispatch) {
      this.sendError(
        new MyClerkError(ErrorCode.NOT_FOUND, "no-handler", { opcode: opcodeName(op) }),
        op,
        requestId(raw),
      );
      return;
    }
    let payload: unknown;
    try {
      payload = decodePayload(raw);
    } catch (e) {
      this.sendError(e as MyClerkError, op);
      return;
    }
    const id = idOf(payload);
    const peer = { ...this.peer, tier };
    let res;
    const t0 = performance.now();
    try {
      res = await route.dispatch({ opcode: op, tier, payload, peer });
    } catch (e) {
      res = {
        ok: false as const,
        error: new MyClerkError(ErrorCode.INTERNAL_ERROR, "handler-threw", {}, e),
      };
    }
    this.#ctx.metrics.observe(CORE.requestSeconds, (performance.now() - t0) / 1000, {
      route: route.name,
    });
    this.#ctx.metrics.inc(CORE.requests, {
      route: route.name,
      result: res.ok ? "ok" : errorName(res.error.code),
    });
    if (this.#state === "closed") return;
    if (!res.ok) {
      this.sendError(res.error, op, id);
      return;
    }
    let out = res.payload;
    if (
      id !== undefined && out && typeof out === "object" && !Array.isArray(out) &&
      !(out instanceof Uint8Array)
    ) {
      out = { ...(out as Record<string, unknown>), "re": id };
    }
    reply(encodePayload(out ?? {}));
  }
}

function asError(e: unknown): MyClerkError {
  return isMyClerkError(e) ? e : new MyClerkError(ErrorCode.BAD_REQUEST, "payload", {}, e);
}

/** The `id` of a request payload, when it is a map with one. */
function requestId(raw: Uint8Array): number | undefined {
  return idOf(safe(() => decodePayload(raw)));
}

/** The `id` of a decoded request map, if it has one. */
function idOf(v: unknown): number | undefined {
  if (!v || typeof v !== "object" || Array.isArray(v)) return undefined;
  const id = (v as Record<string, unknown>)["id"];
  return typeof id === "number" ? id : undefined;
}

function safe<T>(f: () => T): T | undefined {
  try {
    return f();
  } catch {
    return undefined;
  }
}

/** Error code value helper for callers building errors from numbers. */
export function asErrorCode(n: number): ErrorCodeValue {
  return n as ErrorCodeValue;
}
