/**
 * Ingest: FED_DELIVER from a hub or a peer relay is checked (role, sender,
 * hops, size, route, envelope routing, expiry), batched, and stored by
 * group commit: everything received in one event-loop turn (or 512
 * messages) goes to the store in one `enqueueBatch`. On its results the
 * new messages go to online caught-up recipients at once; FED_ACK "stored"
 * leaves only after the batch's `durable` (FEDERATION.md §6.2 "Acks").
 * Per-family rate limits delay the hub's next read (TCP backpressure).
 *
 * @module
 */

import { clearImmediate, setImmediate } from "node:timers";
import { ErrorCode, isMyClerkError, MyClerkError } from "../../core/errors.ts";
import { checkRouting, readEnvelopeHeader } from "../envelope.ts";
import type { FamilyId } from "../family.ts";
import { sendFedError } from "../link.ts";
import { type FedDeliver, FedOp, MAX_HOPS } from "../messages.ts";
import { FED } from "../metrics.ts";
import { RateLimiter } from "../ratelimit.ts";
import type { EnqueueBatch, StoredFamily } from "../store/types.ts";
import { asStoreError, type FedConfig, nowSec, type RelayContext } from "./context.ts";
import { type Accepted, ackedEarly, Handoff, sendStoredAcks } from "./handoff.ts";
import type { RelayLink } from "./links.ts";
import type { Push } from "./push.ts";
import type { LaneChoice, Routes } from "./routes.ts";

/** Messages in one group commit, at most (more flush at once). */
const FLUSH_AT = 512;
/** Longest read delay of one rate-limited FED_DELIVER, ms. */
const MAX_RATE_WAIT_MS = 10_000;

/**
 * The envelope's own expiry: header timestamp (bytes 6..10, the sender's
 * creation time) + `ttl`, capped at 2^32 - 1 (FEDERATION.md §4.2, §5).
 * Throws BAD_REQUEST `envelope-*` for a sealed envelope too short to have
 * a header (federation/envelope.ts readEnvelopeHeader).
 */
export function envelopeExpiry(sealed: Uint8Array, ttl: number): number {
  return expiryAt(readEnvelopeHeader(sealed).timestamp, ttl);
}

function expiryAt(ts: number, ttl: number): number {
  return Math.min(ts + ttl, 0xffffffff);
}

/** The relay's ingest. */
export class Ingest {
  readonly #ctx: RelayContext;
  readonly #routes: Routes;
  readonly #push: Push;
  #limiter: RateLimiter;
  #batch: Accepted[] = [];
  #flushTimer?: ReturnType<typeof setImmediate>;
  /** The batch being committed (one at a time: results arrive in commit order). */
  #committing?: Promise<void>;
  /** The flush queued behind {@link #committing}. */
  #next?: Promise<void>;
  /** "stored" acks waiting for their batch's `durable`. */
  readonly #acking = new Set<Promise<void>>();
  /** Recipients with messages in an uncommitted group, and how many (no handoff past them). */
  readonly #queued = new Map<FamilyId, number>();
  /** Messages handed straight to online recipients. */
  readonly #handoff: Handoff;

  /** Ingest over `ctx`. */
  constructor(ctx: RelayContext, routes: Routes, push: Push) {
    this.#ctx = ctx;
    this.#routes = routes;
    this.#push = push;
    this.#limiter = new RateLimiter({ rate: ctx.cfg.rate, burst: ctx.cfg.burst });
    this.#handoff = new Handoff(ctx, push, (a) => this.#add(a));
    push.claim = (l, mids) => this.#handoff.delivered(l, mids);
  }

  /** A reloaded config: new rate limits start from a full bucket. */
  applyConfig(prev: FedConfig, next: FedConfig): void {
    if (prev.rate !== next.rate || prev.burst !== next.burst) {
      this.#limiter = new RateLimiter({ rate: next.rate, burst: next.burst });
    }
  }

  /** FED_DELIVER: checks it and adds it to the group commit; a promise delays the next read. */
  onDeliver(l: RelayLink, msg: FedDeliver): void | Promise<void> {
    const ctx = this.#ctx;
    if (l.role === "hub") {
      if (l.family === undefined) throw new MyClerkError(ErrorCode.FORBIDDEN, "not-admitted");
      if (msg.from !== l.family) {
        throw new MyClerkError(ErrorCode.FORBIDDEN, "from-other-family", {
          family: msg.from,
          mid: msg.mid,
        });
      }
      if (msg.hops !== 0) {
        throw new MyClerkError(ErrorCode.BAD_REQUEST, "hops", { hops: msg.hops, mid: msg.mid });
      }
    } else if (l.role !== "relay") {
      throw new MyClerkError(ErrorCode.FORBIDDEN, "no-hello");
    } else if (msg.hops >= MAX_HOPS) {
      ctx.drop("hops");
      return;
    }
    if (msg.sealed.length > ctx.cfg.maxMessage) {
      throw new MyClerkError(ErrorCode.TOO_LARGE, "too-large", {
        limit: ctx.cfg.maxMessage,
        mid: msg.mid,
      });
    }
    const f = this.#routes.cached(msg.to);
    if (f === undefined) {
      // A recipient not in the cache: read its record, then go on (this session's next
      // message waits for it, so per-sender order holds).
      return this.#routes.load(msg.to).then((rec) => this.#accept(l, msg, rec));
    }
    return this.#accept(l, msg, f ?? undefined);
  }

  #accept(
    l: RelayLink,
    msg: FedDeliver,
    rec: StoredFamily | undefined,
  ): void | Promise<void> {
    const ctx = this.#ctx;
    // Inline try/catch, not a closure per check: this runs once per message.
    let route: LaneChoice;
    let ts: number;
    try {
      route = this.#routes.laneFor(msg.to, rec);
      // A peer forwards to us only what is homed here: no relaying on for it.
      if (l.role === "relay" && route.lane.kind === "peer") {
        throw new MyClerkError(ErrorCode.FED_NO_ROUTE, "not-homed-here", { family: msg.to });
      }
      ts = checkRouting(ctx.node.backend, msg, msg.sealed, route.key, (k) =>
        this.#routes.fromId(l, k))
        .timestamp;
    } catch (e) {
      throw withMid(msg.mid, e);
    }
    // Expired already (its own creation time + lifetime, with the clock-skew grace): refused,
    // never stored or delivered (FEDERATION.md §6.2 "Expiry at ingest").
    const skew = ctx.node.config.limits.maxSkewSeconds;
    const expiresBy = expiryAt(ts, msg.ttl) + skew;
    if (expiresBy <= nowSec()) {
      // Counted myclerk_federation_drops_total{reason="expired-at-ingest"} by dispatch, like every refusal.
      throw new MyClerkError(ErrorCode.FED_EXPIRED, "expired-at-ingest", {
        mid: msg.mid,
        expired: expiresBy - skew,
      });
    }
    const a: Accepted = {
      l,
      item: {
        lane: route.lane,
        message: {
          to: msg.to,
          from: msg.from,
          fromKey: msg.fromKey,
          mid: msg.mid,
          ttl: msg.ttl,
          hops: msg.hops,
          sealed: msg.sealed,
          expiresBy,
        },
      },
    };
    if (!this.#handoff.offer(a, this.#queued.has(msg.to))) {
      this.#queued.set(msg.to, (this.#queued.get(msg.to) ?? 0) + 1);
      this.#add(a);
    }
    if (l.role === "hub" && l.family !== undefined) {
      const wait = this.#limiter.take(l.family, Date.now());
      if (wait > 0) {
        ctx.node.metrics.inc(FED.rateDelay, undefined, wait / 1000);
        // Delaying the next read is the rate limit: TCP backpressure, nothing dropped.
        const ms = Math.min(wait, MAX_RATE_WAIT_MS);
        return new Promise<void>((r) => setTimeout(r, ms));
      }
    }
  }

  /** Session `l` ended: what was handed off to it and not acked goes to the store. */
  released(l: RelayLink): void {
    this.#handoff.release(l);
  }

  /** Adds one message to the next group commit. */
  #add(a: Accepted): void {
    this.#batch.push(a);
    if (this.#batch.length >= FLUSH_AT) void this.#flushLogged();
    else if (this.#flushTimer === undefined) {
      // The end of this event-loop iteration (after every read callback of this wake-up, with
      // no timer's delay): everything that arrived together is one group commit.
      this.#flushTimer = setImmediate(() => void this.#flushLogged());
    }
  }

  /** The group of `items` is through (pushed from memory or left in the store): handoff may go on. */
  #unqueue(items: readonly Accepted[]): void {
    for (const p of items) {
      if (p.held === undefined) this.#dequeue(p.item.message.to);
    }
  }

  /** One message for `to` left the uncommitted groups (stored, refused or handed off). */
  #dequeue(to: FamilyId): void {
    const n = (this.#queued.get(to) ?? 1) - 1;
    if (n <= 0) this.#queued.delete(to);
    else this.#queued.set(to, n);
  }

  /**
   * Group commit: stores everything received since the last flush in one
   * `enqueueBatch` (after the batch before it committed), pushes to
   * caught-up recipients on its results, acks "stored" after `durable`.
   */
  flush(): Promise<void> {
    if (this.#flushTimer !== undefined) clearImmediate(this.#flushTimer);
    this.#flushTimer = undefined;
    if (this.#committing !== undefined) {
      // The batch grows until the commit in flight is done; then it goes as one.
      this.#next ??= this.#committing.then(() => {
        this.#next = undefined;
        return this.flush();
      });
      return this.#next;
    }
    if (this.#batch.length === 0) return Promise.resolve();
    const items = this.#batch;
    this.#batch = [];
    const p = this.#commit(items).finally(() => {
      if (this.#committing === p) this.#committing = undefined;
    });
    this.#committing = p;
    return p;
  }

  #flushLogged(): Promise<void> {
    return this.flush().catch((e) => {
      this.#ctx.node.log.error("group commit failed", { error: String(e) });
    });
  }

  /**
   * Resolves once every batch so far is committed and its "stored" acks are
   * out (or withheld); messages still handed off go to the store first.
   */
  async drain(): Promise<void> {
    this.#handoff.releaseAll();
    while (this.#batch.length > 0 || this.#committing !== undefined) await this.flush();
    while (this.#acking.size > 0) await Promise.all([...this.#acking]);
  }

  /**
   * After a commit: messages waiting for the next group (not yet given to
   * the store) go by handoff instead where the rule now allows, each
   * recipient's in arrival order up to its first that cannot. Without this,
   * one message that had to be stored (a full window, say) sends everything
   * after it for that recipient through the store for as long as the sender
   * keeps ahead of the commits: a chain that a store with a slower round
   * trip never breaks.
   */
  #handOffWaiting(): void {
    if (this.#batch.length === 0) return;
    let blocked: Set<FamilyId> | undefined;
    let kept: Accepted[] | undefined;
    const batch = this.#batch;
    for (let i = 0; i < batch.length; i++) {
      const a = batch[i];
      const to = a.item.message.to;
      // Every queued message of `to` is in this batch now (the commit before it is through).
      if (a.held === undefined && !blocked?.has(to) && this.#handoff.offer(a, false)) {
        kept ??= batch.slice(0, i);
        this.#dequeue(to);
        continue;
      }
      if (a.held === undefined) (blocked ??= new Set()).add(to);
      kept?.push(a);
    }
    if (kept !== undefined) this.#batch = kept;
  }

  async #commit(items: Accepted[]): Promise<void> {
    const ctx = this.#ctx;
    let batch: EnqueueBatch;
    try {
      batch = await ctx.store.enqueueBatch(items.map((p) => p.item), nowSec());
    } catch (e) {
      this.#unqueue(items);
      // Nothing of the batch is stored (one transaction): every sender hears why, and keeps
      // the message in its outbox to resend (SERVICE_UNAVAILABLE and INTERNAL_ERROR are transient).
      const err = asStoreError(e);
      if (err.detail === "storage-full") {
        ctx.node.log.error("storage full: messages refused", {
          path: err.extra.path,
          messages: items.length,
          fix: err.extra.fix,
        });
        ctx.drop("storage-full");
      } else {
        ctx.node.log.error("store write failed", { error: String(e), messages: items.length });
      }
      for (const p of items) {
        sendFedError(
          p.l.link,
          new MyClerkError(err.code, err.detail, { mid: p.item.message.mid }),
          FedOp.FED_DELIVER,
        );
      }
      return;
    }
    ctx.node.metrics.inc(FED.groupCommits);
    const results = batch.results;
    const acks = new Map<RelayLink, Uint8Array[]>();
    /** Recipient -> highest seq stored for it in this commit. */
    const hubsToPump = new Map<FamilyId, number>();
    const peersToPump = new Set<number>();
    const direct: { p: Accepted; seq: number }[] = [];
    let storedMailbox = 0;
    let storedPeer = 0;
    items.forEach((p, i) => {
      const r = results[i];
      if (r instanceof MyClerkError) {
        ctx.drop("quota");
        sendFedError(
          p.l.link,
          new MyClerkError(r.code, r.detail, { ...r.extra, mid: p.item.message.mid }),
          FedOp.FED_DELIVER,
        );
        return;
      }
      if (r.status === "duplicate") ctx.node.metrics.inc(FED.duplicates);
      else if (p.item.lane.kind === "mailbox") {
        storedMailbox++;
        hubsToPump.set(p.item.message.to, r.seq);
        direct.push({ p, seq: r.seq });
      } else {
        storedPeer++;
        peersToPump.add(p.item.lane.peer);
      }
      let a = acks.get(p.l);
      if (a === undefined) acks.set(p.l, a = []);
      a.push(p.item.message.mid);
    });
    // "stored" acks wait until the batch is durable (the store syncs off the event loop;
    // delivery below may go first: recipients dedupe, and a sender without its ack resends).
    const acked = batch.durable.then(
      () => sendStoredAcks(ctx, acks),
      (e) => {
        // Without a durable commit nothing may be acked: senders keep the messages in their
        // outbox and resend after reconnecting (the store counts the failed sync).
        ctx.node.log.error("store sync failed: acks withheld", { error: String(e) });
      },
    );
    this.#acking.add(acked);
    acked.catch((e) => {
      ctx.node.log.error("stored acks failed", { error: String(e) });
    }).finally(() => this.#acking.delete(acked));
    if (storedMailbox > 0) ctx.node.metrics.inc(FED.stored, { lane: "mailbox" }, storedMailbox);
    if (storedPeer > 0) ctx.node.metrics.inc(FED.stored, { lane: "peer" }, storedPeer);
    // Online recipients that are caught up get the new messages from memory, in
    // commit (seq) order; anyone else reads them from the store. A handed-off message
    // does not go again to the session that has it.
    for (const { p, seq } of direct) {
      for (const l of ctx.links.hubs(p.item.message.to)) {
        if (p.held?.to === l) continue;
        if (l.caughtUp && !this.#push.pushOne(l, p.item.message, seq)) l.caughtUp = false;
      }
    }
    this.#unqueue(items);
    this.#handOffWaiting();
    // Handed off, then acked "delivered" before this commit was made: the ack's delete
    // ran before the insert, so delete now.
    const early = ackedEarly(items);
    if (early !== undefined) { for (const [f, mids] of early) this.#push.deleteDelivered(f, mids); }
    for (const [f, seq] of hubsToPump) {
      for (const l of ctx.links.hubs(f)) this.#push.committed(l, seq);
    }
    for (const p of peersToPump) this.#push.pumpPeer(p);
  }
}

/** A typed error gets the message id in its extras (the sender matches on it); others as they are. */
function withMid(mid: Uint8Array, e: unknown): unknown {
  return isMyClerkError(e) ? new MyClerkError(e.code, e.detail, { ...e.extra, mid }) : e;
}
