/**
 * The one outbound-session path of the federation (docs/FEDERATION.md §7):
 * a hub dialing its relay and a relay dialing its peer relays both go
 * through {@link dialLoop}. It dials (TCP or `ws://`, core/node/client.ts),
 * hands each session to its owner as an {@link OutboundLink}, and when the
 * session ends waits `restart-after` (the peer's FED_RESTART) plus a
 * jittered backoff (federation/backoff.ts) before dialing again; failed
 * dials are logged once per doubling of the failure count, with the next
 * delay.
 *
 * A dialed link treats what arrives the way an inbound `NodeConnection`
 * does: silent drops are counted in `myclerk_drops_total` by reason, a
 * message below its opcode's minimum tier is answered ERROR FORBIDDEN `tier`
 * (with `requiredTier`) and not handed on, session errors are answered, and
 * `send(op, payload, true)` (errors, FED_RESTART) takes the transport's
 * priority lane ahead of queued data.
 *
 * @example
 * ```ts
 * const d = dialLoop({
 *   kind: "peer",
 *   targets: [{ addr: "127.0.0.1:5657", keyId: 0x1234abcd }],
 *   backend, identity, backoff: DEFAULT_BACKOFF, maxMessage: 1 << 20,
 *   log: node.log, metrics: node.metrics,
 *   onLink: (link) => {
 *     link.onMessage((op, bytes) => handle(link, op, bytes));
 *     sendFed(link, fedHello("relay", identity.keyId, families, 1 << 20));
 *   },
 *   onDown: (link, reason) => forget(link, reason),
 * });
 * // later
 * d.stop();
 * await d.done;
 * ```
 *
 * @module
 */

import { ErrorCode, errorName, MyClerkError } from "../core/errors.ts";
import { minimumTier } from "../core/opcodes.ts";
import type { CryptoBackend } from "../core/crypto/types.ts";
import type { Identity } from "../core/session/handshake.ts";
import type { Inbound } from "../core/session/session.ts";
import { encodeError } from "../core/session/payloads.ts";
import { decodePayload } from "../core/wire/payload.ts";
import { Client } from "../core/node/client.ts";
import { CORE, type Metrics } from "../core/node/metrics.ts";
import type { Logger } from "../core/node/log.ts";
import { dialError, logFailure } from "../core/cli/oserror.ts";
import { Backoff, type BackoffConfig } from "./backoff.ts";
import { ERROR_OP } from "./directory.ts";
import { decodeFed, FedOp } from "./messages.ts";
import type { Link } from "./link.ts";

/** Where to dial, and whom to expect there. */
export interface DialTarget {
  /** `host:port`, `tcp://…` or `ws://…` (core/node/client.ts `parseAddress`). */
  readonly addr: string;
  /** Expected static key id of the peer (u32), when known. */
  readonly keyId?: number;
  /** Pinned 32-byte static public key of the peer, when known. */
  readonly key?: Uint8Array;
}

/**
 * Who dials, for the log lines: `relay` = a hub dialing its relay
 * ("relay dial failed", field `relay`), `peer` = a relay dialing a peer
 * relay ("peer dial failed", field `peer`).
 */
export type DialKind = "relay" | "peer";

/** Options of {@link dialLoop}. */
export interface DialLoopOptions {
  /** Who dials (log wording). */
  readonly kind: DialKind;
  /** Targets, tried in turn (a hub with fallback relays); at least one. */
  readonly targets: readonly DialTarget[];
  /** Crypto back end. */
  readonly backend: CryptoBackend;
  /** This node's static identity (the key the peer admits). */
  readonly identity: Identity;
  /** Reconnect backoff. */
  readonly backoff: BackoffConfig;
  /** Largest accepted message, bytes (the node's `limits.maxMessage`). */
  readonly maxMessage: number;
  /** Handshake timeout, ms (default 5000). */
  readonly timeoutMs?: number;
  /**
   * Raises an opcode's minimum tier above the profile's (the node's route
   * `minTier`, as inbound connections apply it); never lowers it.
   */
  readonly minTier?: (opcode: number) => number | undefined;
  /** The node's `tiers.min` (applies to every opcode outside the core range). */
  readonly tiersMin?: number;
  /** Structured logger. */
  readonly log: Logger;
  /** Node counters (drops, errors sent). */
  readonly metrics: Metrics;
  /** Jitter source in [0, 1), for tests (default Math.random). */
  readonly random?: () => number;
  /**
   * A session is up: register the message handler and send FED_HELLO here.
   * Runs before any message of the session is handed on. A throw closes it.
   */
  readonly onLink: (link: OutboundLink) => void;
  /** The session ended (`reason` from the transport); awaited before the next dial. */
  readonly onDown?: (link: OutboundLink, reason: string) => void | Promise<void>;
}

/** A running {@link dialLoop}. */
export interface DialLoop {
  /** Stops dialing and closes the current session (SESSION_CLOSE). */
  stop(): void;
  /** Resolves once the loop has ended after {@link DialLoop.stop}. */
  readonly done: Promise<void>;
  /** The current session, while one is up. */
  readonly link: OutboundLink | undefined;
  /** Failed dials in a row (0 after a successful one). */
  readonly failures: number;
}

const LABELS: Readonly<Record<DialKind, { msg: string; key: string; what: string }>> = {
  relay: { msg: "relay dial failed", key: "relay", what: "relay" },
  peer: { msg: "peer dial failed", key: "peer", what: "peer relay" },
};

/** What an {@link OutboundLink} needs from its loop. */
interface LinkContext {
  readonly backend: CryptoBackend;
  readonly metrics: Metrics;
  readonly log: Logger;
  readonly minTier?: (opcode: number) => number | undefined;
  readonly tiersMin?: number;
  readonly onUp: () => void;
}

/**
 * A session this node dialed, as a federation {@link Link}
 * (`direction: "out"`), with the inbound checks of a node connection.
 */
export class OutboundLink implements Link {
  /** Always `out`: this node dialed. */
  readonly direction = "out" as const;
  /** The client session underneath. */
  readonly client: Client;
  /** The target dialed. */
  readonly target: DialTarget;
  /** Messages of this session dropped silently (also counted node-wide by reason). */
  dropped = 0;
  readonly #ctx: LinkContext;
  #handler?: (opcode: number, payload: Uint8Array) => void;
  #restartAfter = 0;

  /** Wraps an established client session (done by {@link dialLoop}). */
  constructor(client: Client, target: DialTarget, ctx: LinkContext) {
    this.client = client;
    this.target = target;
    this.#ctx = ctx;
    client.onInbound((r) => this.#onOther(r));
    client.onRaw((op, bytes) => this.#onRaw(op, bytes));
  }

  /** The peer's static key id (from the handshake). */
  get keyId(): number {
    return this.client.session.state.peerKeyId;
  }

  /** The peer's static public key (from the handshake). */
  get peerStatic(): Uint8Array {
    return this.client.session.state.peerStatic;
  }

  /** The session transcript hash. */
  get transcriptHash(): Uint8Array {
    return this.client.session.state.transcriptHash;
  }

  /** The address dialed. */
  get remote(): string {
    return this.target.addr;
  }

  /** Negotiated tier. */
  get tier(): number {
    return this.client.tier;
  }

  /** Bytes waiting in the transport's send queue. */
  get queuedBytes(): number {
    return this.client.conn.queuedBytes;
  }

  /** True once the session is gone. */
  get closed(): boolean {
    return this.client.closed;
  }

  /** The peer's last FED_RESTART `after`, ms (0 when none): added to the next dial's delay. */
  get restartAfterMs(): number {
    return this.#restartAfter;
  }

  /**
   * Sends raw payload bytes; `priority` seals one message into the
   * transport's priority lane (ahead of queued data). False when the
   * session is gone.
   */
  send(opcode: number, payload: Uint8Array, priority = false): boolean {
    if (this.client.closed) return false;
    try {
      this.client.send(opcode, payload, priority);
      return !this.client.closed;
    } catch {
      return false;
    }
  }

  /** Closes the session (SESSION_CLOSE first). */
  close(_reason?: string): void {
    this.client.close();
  }

  /**
   * Sets the handler for every message outside the core range (federation
   * opcodes and ERROR) that passed the tier check. One handler per link.
   */
  onMessage(handler: (opcode: number, payload: Uint8Array) => void): void {
    this.#handler = handler;
  }

  /** The peer greeted and was accepted: the next drop starts from the short backoff again. */
  markUp(): void {
    this.#ctx.onUp();
  }

  /** Resolves with the close reason once the session ends. */
  waitClosed(): Promise<string> {
    return this.client.waitClosed();
  }

  #drop(reason: string): void {
    this.dropped++;
    this.#ctx.metrics.inc(CORE.drops, { reason });
  }

  #sendError(err: MyClerkError, opcode: number, re?: number): void {
    const extra = err.extra;
    this.#ctx.metrics.inc(CORE.errorsSent, { code: errorName(err.code) });
    this.send(
      ERROR_OP,
      encodeError({
        code: err.code,
        opcode,
        re,
        detail: err.detail,
        requiredTier: typeof extra.requiredTier === "number" ? extra.requiredTier : undefined,
      }),
      true,
    );
  }

  #onOther(r: Exclude<Inbound, { kind: "message" }>): void {
    switch (r.kind) {
      case "drop":
        return this.#drop(r.reason);
      case "tunnel":
        return this.#drop("tier0");
      case "error":
        return this.#sendError(r.error, r.opcode);
      case "revoked":
        this.#ctx.metrics.inc(CORE.revoked);
        return;
      case "partial":
      case "control":
        return;
    }
  }

  #onRaw(op: number, bytes: Uint8Array): void {
    if (op !== ERROR_OP) {
      const need = Math.max(
        minimumTier(op),
        this.#ctx.minTier?.(op) ?? 0,
        this.#ctx.tiersMin ?? 0,
        1,
      );
      if (this.client.tier < need) {
        this.#sendError(
          new MyClerkError(ErrorCode.FORBIDDEN, "tier", { requiredTier: need }),
          op,
          requestId(bytes),
        );
        return;
      }
      if (op === FedOp.FED_RESTART) {
        try {
          const m = decodeFed(this.#ctx.backend, op, bytes);
          if (m.op === FedOp.FED_RESTART) this.#restartAfter = m.after;
        } catch { /* the owner's handler answers the malformed message */ }
      }
    }
    this.#handler?.(op, bytes);
  }
}

/** The `id` of a request payload, when it is a map with one. */
function requestId(raw: Uint8Array): number | undefined {
  try {
    const v = decodePayload(raw);
    if (!v || typeof v !== "object" || Array.isArray(v)) return undefined;
    const id = (v as Record<string, unknown>)["id"];
    return typeof id === "number" ? id : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Dials `targets` in turn until stopped: one session at a time, handed to
 * `onLink`; after it ends (or a dial fails) waits the peer's
 * `restart-after` plus the next backoff delay. The backoff resets when the
 * owner calls {@link OutboundLink.markUp} (the peer's FED_HELLO accepted).
 */
export function dialLoop(o: DialLoopOptions): DialLoop {
  if (o.targets.length === 0) throw new RangeError("dialLoop: no targets");
  const backoff = new Backoff(o.backoff, o.random);
  const label = LABELS[o.kind];
  let stopped = false;
  let current: OutboundLink | undefined;
  let wake: (() => void) | undefined;
  let failures = 0;
  const ctx: LinkContext = {
    backend: o.backend,
    metrics: o.metrics,
    log: o.log,
    minTier: o.minTier,
    tiersMin: o.tiersMin,
    onUp: () => backoff.reset(),
  };
  const done = (async () => {
    let i = 0;
    while (!stopped) {
      const t = o.targets[i++ % o.targets.length];
      let failed: unknown;
      let restartAfter = 0;
      try {
        const c = await Client.connect(t.addr, {
          backend: o.backend,
          identity: o.identity,
          tier: 5,
          minTier: 4,
          expectKeyId: t.keyId,
          pinnedKey: t.key,
          timeoutMs: o.timeoutMs ?? 5000,
          maxMessage: o.maxMessage,
        });
        if (stopped) {
          c.close();
          break;
        }
        const link = new OutboundLink(c, t, ctx);
        current = link;
        try {
          o.onLink(link);
        } catch (e) {
          o.log.error("outbound session setup failed", { target: t.addr, error: String(e) });
          link.close();
        }
        const reason = await c.waitClosed();
        current = undefined;
        restartAfter = link.restartAfterMs;
        try {
          await o.onDown?.(link, reason);
        } catch (e) {
          o.log.error("outbound session teardown failed", { target: t.addr, error: String(e) });
        }
      } catch (e) {
        failed = e;
      }
      current = undefined;
      if (stopped) break;
      const delay = restartAfter + backoff.next();
      if (failed === undefined) failures = 0;
      else if (logFailure(++failures)) {
        // One line per doubling of the failure count (1, 2, 4, ... in a row): a peer down for
        // hours is still reported, with the target, the error and when the next try is.
        o.log.warn(label.msg, {
          [label.key]: t.addr,
          error: dialError(failed, t.addr, label.what),
          failures,
          retryInMs: delay,
        });
      }
      await new Promise<void>((res) => {
        const timer = setTimeout(res, delay);
        wake = () => {
          clearTimeout(timer);
          res();
        };
      });
      wake = undefined;
    }
  })();
  return {
    stop: () => {
      stopped = true;
      current?.close();
      wake?.();
    },
    done,
    get link() {
      return current;
    },
    get failures() {
      return failures;
    },
  };
}
