/**
 * The initiator side over a real transport: dial TCP or WebSocket, run the
 * handshake (or resume with a ticket), then ping, send requests and receive
 * pushes. Used by `ping`, by hubs, and by the tests.
 *
 * @module
 */

import { ErrorCode, type ErrorCodeValue, MyClerkError } from "../errors.ts";
import { Op } from "../opcodes.ts";
import type { CryptoBackend } from "../crypto/types.ts";
import { backend as pickBackend } from "../crypto/mod.ts";
import {
  type EstablishedState,
  type Identity,
  identityFrom,
  Initiator,
} from "../session/handshake.ts";
import { type Inbound, Session } from "../session/session.ts";
import { ResumeInitiator, type ResumeMaterial } from "../session/ticket.ts";
import { decodeError, decodeKeepalive, encodeKeepalive } from "../session/payloads.ts";
import { decodePayload, encodePayload } from "../wire/payload.ts";
import { makeFlags, type Tier } from "../wire/header.ts";
import { decodeMessage, type Message } from "../wire/message.ts";
import { type Conn, sendMessage } from "../transport/conn.ts";
import { dialTcp } from "../transport/tcp.ts";
import { dialWs } from "../transport/ws.ts";

/** A parsed node address. */
export type Address =
  | { readonly kind: "tcp"; readonly hostname: string; readonly port: number }
  | { readonly kind: "ws"; readonly url: string };

/**
 * Parses `HOST:PORT`, `tcp://HOST:PORT` (port 5657 by default) or
 * `ws://HOST:PORT[/myclerk]` / `wss://…`.
 *
 * @example parseAddress("ws://127.0.0.1:8080") // { kind: "ws", url: "ws://127.0.0.1:8080/myclerk" }
 */
export function parseAddress(addr: string): Address {
  if (/^wss?:\/\//.test(addr)) {
    const u = new URL(addr);
    if (u.pathname === "/" || u.pathname === "") u.pathname = "/myclerk";
    return { kind: "ws", url: u.toString() };
  }
  const s = addr.replace(/^tcp:\/\//, "");
  const m = /^\[?([^\]]*?)\]?(?::(\d+))?$/.exec(s);
  if (!m || !m[1]) throw new MyClerkError(ErrorCode.BAD_REQUEST, "address", { addr });
  const port = m[2] ? Number(m[2]) : 5657;
  if (port < 1 || port > 65535) throw new MyClerkError(ErrorCode.BAD_REQUEST, "address", { addr });
  return { kind: "tcp", hostname: m[1], port };
}

/** Options for {@link Client.connect}. */
export interface ClientOptions {
  /** Crypto back end (default: `backend()` of `core/crypto/mod.ts`). */
  readonly backend?: CryptoBackend;
  /** Static identity (a fresh one when omitted). */
  readonly identity?: Identity;
  /** Highest tier wanted (default 5). */
  readonly tier?: Tier;
  /** Lowest tier accepted (default 0). */
  readonly minTier?: Tier;
  /** Expected node key id, u32 (0 or absent = any). */
  readonly expectKeyId?: number;
  /** Pinned 32-byte static public key of the node. */
  readonly pinnedKey?: Uint8Array;
  /** Resume with a ticket instead of a full handshake. */
  readonly resume?: ResumeMaterial;
  /** Handshake timeout in ms (default 10 000). */
  readonly timeoutMs?: number;
  /** Largest accepted message in bytes (default 1 MiB). */
  readonly maxMessage?: number;
}

interface Pending {
  readonly resolve: (v: unknown) => void;
  readonly reject: (e: MyClerkError) => void;
  readonly timer: ReturnType<typeof setTimeout>;
}

/**
 * A client session to a node.
 *
 * @example const c = await Client.connect("127.0.0.1:5657", { tier: 5 }); console.log(await c.ping()); c.close();
 */
export class Client {
  /** The transport connection. */
  readonly conn: Conn;
  /** The established session. */
  readonly session: Session;
  /** Crypto back end in use. */
  readonly backend: CryptoBackend;
  /** Milliseconds the handshake took. */
  readonly handshakeMs: number;
  readonly #pending = new Map<number, Pending>();
  readonly #pings = new Map<number, (t: number) => void>();
  #nextId = 1;
  #closed = false;
  readonly #push: ((opcode: number, payload: unknown) => void)[] = [];
  readonly #raw: ((opcode: number, payload: Uint8Array) => void)[] = [];
  readonly #other: ((r: Exclude<Inbound, { kind: "message" }>) => void)[] = [];
  readonly #closeWaiters: ((reason: string) => void)[] = [];
  /** Why the connection closed, once it has. */
  closeReason?: string;

  private constructor(conn: Conn, session: Session, backend: CryptoBackend, ms: number) {
    this.conn = conn;
    this.session = session;
    this.backend = backend;
    this.handshakeMs = ms;
  }

  /** Dials, handshakes (or resumes) and returns an established client. */
  static async connect(addr: string, o: ClientOptions = {}): Promise<Client> {
    const b = o.backend ?? pickBackend();
    const a = parseAddress(addr);
    const limits = { maxMessage: o.maxMessage ?? 1_048_576, maxQueue: 64 * 1_048_576 };
    const t0 = performance.now();
    const conn: Conn = a.kind === "tcp"
      ? await dialTcp(a.hostname, a.port, limits)
      : await dialWs(a.url, limits);
    const timeout = o.timeoutMs ?? 10_000;
    const inbox: Uint8Array[] = [];
    let wake: (() => void) | undefined;
    let closedWhy: string | undefined;
    const ref: { client?: Client } = {};
    conn.start({
      onMessage: (m) => {
        if (ref.client) return ref.client.#onMessage(m);
        inbox.push(m);
        wake?.();
      },
      onClose: (r) => {
        closedWhy = r;
        if (ref.client) ref.client.#onClose(r);
        wake?.();
      },
    });
    const next = async (): Promise<Uint8Array> => {
      const deadline = Date.now() + timeout;
      while (inbox.length === 0) {
        if (closedWhy) {
          throw new MyClerkError(ErrorCode.SERVICE_UNAVAILABLE, "closed", { reason: closedWhy });
        }
        const left = deadline - Date.now();
        if (left <= 0) throw new MyClerkError(ErrorCode.TIMEOUT, "handshake-timeout");
        await new Promise<void>((r) => {
          wake = r;
          setTimeout(r, Math.min(left, 50));
        });
      }
      return inbox.shift()!;
    };
    let state: EstablishedState;
    try {
      if (o.resume) {
        const ri = new ResumeInitiator(b, o.resume, o.tier ?? 5);
        sendMessage(conn, ri.start(Math.floor(Date.now() / 1000)));
        const reply = await next();
        throwIfError(reply);
        state = ri.finish(reply);
      } else {
        const identity = o.identity ?? identityFrom(b, b.x25519Generate().privateKey);
        const hs = new Initiator({
          backend: b,
          identity,
          tier: o.tier ?? 5,
          minTier: o.minTier ?? 0,
          expectKeyId: o.expectKeyId,
          pinnedKey: o.pinnedKey,
          capabilities: [1, 2, 4],
        });
        sendMessage(conn, hs.start());
        const { m3, state: st } = hs.finish(await next());
        sendMessage(conn, m3);
        state = st;
      }
    } catch (e) {
      conn.close("handshake-failed");
      throw e;
    }
    const session = new Session(state, {
      backend: b,
      send: (x) => conn.write(x),
      framed: conn.framed,
      // transports hand each message over (core/transport/conn.ts): open in place
      inPlace: true,
    });
    const client = new Client(conn, session, b, performance.now() - t0);
    ref.client = client;
    for (const m of inbox.splice(0)) await client.#onMessage(m);
    if (closedWhy) client.#onClose(closedWhy);
    return client;
  }

  /** Negotiated tier. */
  get tier(): number {
    return this.session.tier;
  }

  /** True once the connection closed. */
  get closed(): boolean {
    return this.#closed;
  }

  /** Material to resume this session later (after a ticket arrived). */
  resumeMaterial(): ResumeMaterial | undefined {
    const t = this.session.ticket;
    if (!t) return undefined;
    return {
      ticket: t.ticket,
      resume: (this.session.ticketSecret ?? this.session.resumeSecret).slice(),
      oldSessionId: this.session.state.sessionId,
      peerStatic: this.session.state.peerStatic,
      peerKeyId: this.session.state.peerKeyId,
    };
  }

  /** Registers a listener for every application message as raw payload bytes (before `onPush`). */
  onRaw(cb: (opcode: number, payload: Uint8Array) => void): void {
    this.#raw.push(cb);
  }

  /**
   * Registers a listener for what the session did not turn into a message:
   * silent drops (`drop`, `tunnel`), session errors, revocation. The
   * federation's dialed links count and answer these as an inbound
   * connection does (federation/outbound.ts).
   */
  onInbound(cb: (r: Exclude<Inbound, { kind: "message" }>) => void): void {
    this.#other.push(cb);
  }

  /** Registers a listener for server-pushed messages. */
  onPush(cb: (opcode: number, payload: unknown) => void): void {
    this.#push.push(cb);
  }

  /** Resolves when the connection closes. */
  waitClosed(): Promise<string> {
    if (this.#closed) return Promise.resolve(this.closeReason ?? "closed");
    return new Promise((r) => this.#closeWaiters.push(r));
  }

  /** KEEPALIVE round trip in milliseconds. */
  ping(timeoutMs = 5000): Promise<number> {
    const id = this.#nextId++;
    const t0 = performance.now();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pings.delete(id);
        reject(new MyClerkError(ErrorCode.TIMEOUT, "ping"));
      }, timeoutMs);
      this.#pings.set(id, () => {
        clearTimeout(timer);
        resolve(performance.now() - t0);
      });
      this.conn.write(this.session.seal(Op.KEEPALIVE, encodeKeepalive({ id })), true);
    });
  }

  /**
   * Sends a request map with a fresh `id` and resolves with the response
   * map (`re` matched), or rejects with the ERROR as a MyClerkError.
   */
  request(
    opcode: number,
    payload: Readonly<Record<string, unknown>> = {},
    timeoutMs = 10_000,
  ): Promise<unknown> {
    const id = this.#nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(id);
        reject(new MyClerkError(ErrorCode.TIMEOUT, "request", { opcode }));
      }, timeoutMs);
      this.#pending.set(id, { resolve, reject, timer });
      this.session.send(opcode, encodePayload({ ...payload, "id": id }));
    });
  }

  /**
   * Sends raw payload bytes on the session (no id, no reply tracking).
   * `priority` (errors, restart notices) seals one unfragmented message and
   * queues it ahead of data already waiting, as the node's connections do.
   */
  send(opcode: number, payload: Uint8Array, priority = false): void {
    if (priority) this.conn.write(this.session.seal(opcode, payload), true);
    else this.session.send(opcode, payload);
  }

  #onMessage(bytes: Uint8Array): void {
    const r = this.session.receive(bytes);
    if (r.kind !== "message") {
      for (const f of this.#other) f(r);
      if (r.kind === "revoked") this.conn.close("revoked");
      return;
    }
    if (r.opcode === Op.KEEPALIVE_ACK) {
      const ka = decodeKeepalive(r.payload);
      if (ka.re !== undefined) this.#pings.get(ka.re)?.(performance.now());
      this.#pings.delete(ka.re ?? -1);
      return;
    }
    if (r.opcode === Op.KEEPALIVE) {
      const ka = decodeKeepalive(r.payload);
      this.conn.write(this.session.seal(Op.KEEPALIVE_ACK, encodeKeepalive({ re: ka.id })), true);
      return;
    }
    if (r.opcode === Op.SESSION_CLOSE) {
      this.conn.write(this.session.seal(Op.SESSION_CLOSE_ACK, encodePayload({})), true);
      this.conn.close("peer-close");
      return;
    }
    if (r.opcode === Op.ERROR) {
      // Raw listeners get the ERROR bytes too: extension codes carry extra keys (federation quotas).
      for (const f of this.#raw) f(r.opcode, r.payload);
      const e = decodeError(r.payload);
      const err = new MyClerkError(e.code as ErrorCodeValue, e.detail ?? "error", {
        requiredTier: e.requiredTier,
        time: e.time,
        opcode: e.opcode,
        ...(e.extra !== undefined ? { wire: e.extra } : {}),
      });
      const p = e.re !== undefined ? this.#pending.get(e.re) : undefined;
      if (p) {
        clearTimeout(p.timer);
        this.#pending.delete(e.re!);
        p.reject(err);
      } else {
        for (const f of this.#push) f(Op.ERROR, e);
      }
      return;
    }
    if (this.#raw.length) {
      for (const f of this.#raw) f(r.opcode, r.payload);
      if (this.#push.length === 0 && this.#pending.size === 0) return;
    }
    let v: unknown;
    try {
      v = decodePayload(r.payload);
    } catch {
      return;
    }
    const re = v && typeof v === "object" ? (v as Record<string, unknown>)["re"] : undefined;
    if (typeof re === "number" && this.#pending.has(re)) {
      const p = this.#pending.get(re)!;
      clearTimeout(p.timer);
      this.#pending.delete(re);
      p.resolve(v);
      return;
    }
    for (const f of this.#push) f(r.opcode, v);
  }

  #onClose(reason: string): void {
    if (this.#closed) return;
    this.#closed = true;
    this.closeReason = reason;
    for (const [, p] of this.#pending) {
      clearTimeout(p.timer);
      p.reject(new MyClerkError(ErrorCode.SERVICE_UNAVAILABLE, "closed", { reason }));
    }
    this.#pending.clear();
    for (const f of this.#closeWaiters.splice(0)) f(reason);
  }

  /** Sends SESSION_CLOSE and closes. */
  close(): void {
    if (this.#closed) return;
    try {
      this.conn.write(this.session.seal(Op.SESSION_CLOSE, encodePayload({})), true);
    } catch { /* closing anyway */ }
    this.conn.close("client-close");
  }
}

/** A session-less ERROR (Tier 1, no flags: profile §10) answering the handshake. */
function throwIfError(bytes: Uint8Array): void {
  let m: Message;
  try {
    m = decodeMessage(bytes);
  } catch {
    return; // not a message: the handshake step reports it
  }
  if (
    m.tier === 1 && m.flags === makeFlags(1) && m.opcode === Op.ERROR && m.payload.length > 0
  ) {
    const e = decodeError(m.payload);
    throw new MyClerkError(e.code as ErrorCodeValue, `peer: ${e.detail ?? "error"}`, {
      requiredTier: e.requiredTier,
    });
  }
}
