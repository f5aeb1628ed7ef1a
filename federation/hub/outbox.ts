/**
 * The hub's send side (docs/FEDERATION.md §8): seals a message to the
 * recipient family, makes it durable in the outbox, and sends pending rows
 * in order within an in-flight window until a relay acks "stored" (or
 * answers expired / refused).
 *
 * A transient refusal (SERVICE_UNAVAILABLE `storage-full`, INTERNAL_ERROR)
 * keeps the row pending and resends only the refused messages, after a
 * jittered backoff (0.5 s doubling to 10 s; back to short when the relay
 * acks "stored" again): a relay whose disk is full is not flooded with the
 * whole outbox every second.
 *
 * @module
 */

import { ErrorCode, errorName, MyClerkError } from "../../core/errors.ts";
import { Backoff, type BackoffConfig } from "../backoff.ts";
import { FED } from "../metrics.ts";
import { toHex } from "../bytes.ts";
import { sealEnvelope } from "../envelope.ts";
import type { FamilyRecord } from "../family.ts";
import { encodeFed, type FedExpired, FedOp } from "../messages.ts";
import { type HubContext, nowSec } from "./context.ts";

/** What {@link Outbox.send} returns. */
export interface SendResult {
  /** Message id, 32 lower-case hex characters. */
  readonly mid: string;
  /** `pending` (queued in the outbox), or the final state when waited for. */
  readonly state: string;
  /**
   * While still `pending`: why the relay could not take it yet, e.g.
   * `SERVICE_UNAVAILABLE storage-full` (the hub resends it by itself).
   */
  readonly error?: string;
  /** Size of the sealed envelope, bytes. */
  readonly size: number;
}

/** Resend delays after a transient refusal. */
export const RETRY_BACKOFF: BackoffConfig = { baseMs: 500, capMs: 10_000 };

/** Most FED_DELIVER in flight (sent, not yet answered) on one session. */
const WINDOW = 1024;

interface Waiter {
  readonly resolve: (r: { state: string; error?: string }) => void;
  readonly timer: ReturnType<typeof setTimeout>;
}

/** The outbox of the hub of a {@link HubContext}. */
export class Outbox {
  readonly #ctx: HubContext;
  #cursor = 0;
  readonly #inflight = new Map<string, number>();
  readonly #waiters = new Map<string, Waiter[]>();
  /** Refused for now, waiting for the retry timer: mid hex -> outbox seq. */
  readonly #retry = new Map<string, number>();
  readonly #retryBackoff: Backoff;
  #retryTimer?: ReturnType<typeof setTimeout>;
  #pumpTimer?: ReturnType<typeof setTimeout>;
  #pumping = false;
  #again = false;

  /** Serves the hub of `ctx`; `retry` sets the resend backoff (tests). */
  constructor(ctx: HubContext, retry: BackoffConfig = RETRY_BACKOFF) {
    this.#ctx = ctx;
    this.#retryBackoff = new Backoff(retry);
  }

  /** Messages sent on this session and not yet answered. */
  get inflight(): number {
    return this.#inflight.size;
  }

  /** Messages refused for now and waiting to be resent. */
  get retrying(): number {
    return this.#retry.size;
  }

  /**
   * Seals `body` to `rec`, stores it in the outbox (durable), sends it when
   * connected. With `waitMs`, resolves with the state after the relay's
   * answer ("stored", "refused: …") or "pending" on timeout.
   */
  async send(
    rec: FamilyRecord,
    body: Uint8Array,
    o: { readonly ttl?: number; readonly waitMs?: number } = {},
  ): Promise<SendResult> {
    const ctx = this.#ctx;
    const ttl = o.ttl ?? ctx.cfg.ttl;
    const env = sealEnvelope(ctx.node.backend, {
      senderSecret: ctx.family.privateKey,
      recipientKey: rec.key,
      body,
      ttl,
    });
    if (env.sealed.length > ctx.cfg.maxMessage) {
      throw new MyClerkError(ErrorCode.TOO_LARGE, "too-large", {
        limit: ctx.cfg.maxMessage,
        size: env.sealed.length,
      });
    }
    const deliver = encodeFed({
      op: FedOp.FED_DELIVER,
      ...env.routing,
      hops: 0,
      sealed: env.sealed,
    });
    await ctx.store.addOutbox(env.routing.mid, rec.id, deliver, env.sealed.length, nowSec());
    ctx.changed();
    const mid = toHex(env.routing.mid);
    const waited = o.waitMs ? this.#wait(mid, o.waitMs) : undefined;
    this.pump();
    const r = waited ? await waited : { state: "pending" };
    return { mid, ...r, size: env.sealed.length };
  }

  /** A relay session became ready: resend every pending row from the start. */
  onReady(): void {
    this.#cursor = 0;
    this.#retry.clear();
    clearTimeout(this.#retryTimer);
    this.#retryTimer = undefined;
    this.pump();
  }

  /** The relay session ended: nothing is in flight any more. */
  onDown(): void {
    this.#inflight.clear();
    clearTimeout(this.#pumpTimer);
    this.#pumpTimer = undefined;
  }

  /** FED_ACK "stored": those rows are done; the relay takes messages again. */
  async onStored(mids: readonly Uint8Array[]): Promise<void> {
    const ctx = this.#ctx;
    const n = await ctx.store.setState(mids, "stored", nowSec());
    ctx.changed();
    ctx.node.metrics.inc(FED.outboxStored, undefined, n);
    for (const mid of mids) {
      const k = toHex(mid);
      this.#inflight.delete(k);
      this.#retry.delete(k);
      this.#resolve(k, "stored");
    }
    this.#retryBackoff.reset();
    if (this.#retry.size > 0) {
      // The relay stores again: the refused ones go soon, not after the long delay.
      clearTimeout(this.#retryTimer);
      this.#retryTimer = undefined;
      this.#scheduleRetry();
    }
    this.pump();
  }

  /** FED_EXPIRED: those messages were not delivered within their lifetime. */
  async onExpired(m: FedExpired): Promise<void> {
    const ctx = this.#ctx;
    await ctx.store.setState(m.mids, "expired", nowSec(), `to ${m.to}`);
    ctx.changed();
    for (const mid of m.mids) this.#resolve(toHex(mid), "expired");
    ctx.node.log.warn("messages expired undelivered", { to: m.to, count: m.mids.length });
  }

  /** ERROR answering one FED_DELIVER (`extra.mid`): expired, refused for good, or for now. */
  async onRefused(error: MyClerkError, mid: Uint8Array): Promise<void> {
    const ctx = this.#ctx;
    const k = toHex(mid);
    const seq = this.#inflight.get(k);
    this.#inflight.delete(k);
    // The relay could not take it now (its store failed or its disk is full): keep it
    // pending and resend it; the sender hears why.
    const transient = error.code === ErrorCode.INTERNAL_ERROR ||
      error.code === ErrorCode.SERVICE_UNAVAILABLE;
    if (error.code === ErrorCode.FED_EXPIRED) {
      await ctx.store.setState(
        [mid],
        "expired",
        nowSec(),
        `${errorName(error.code)} ${error.detail}`,
      );
      ctx.changed();
      this.#resolve(k, `expired: ${errorName(error.code)} ${error.detail}`);
    } else if (transient) {
      const why = `${errorName(error.code)} ${error.detail}`;
      await ctx.store.noteRetry(mid, why, nowSec());
      this.#resolve(k, "pending", why);
      if (seq !== undefined) {
        this.#retry.set(k, seq);
        this.#scheduleRetry();
      }
    } else {
      const why = `${errorName(error.code)} ${error.detail}` +
        (error.extra.quota
          ? ` quota=${error.extra.quota} used=${error.extra.used} limit=${error.extra.limit}`
          : "");
      await ctx.store.setState([mid], "refused", nowSec(), why);
      ctx.changed();
      this.#resolve(k, `refused: ${why}`);
    }
  }

  /** Stops the timers and answers every waiter "pending". */
  stop(): void {
    clearTimeout(this.#pumpTimer);
    clearTimeout(this.#retryTimer);
    this.#pumpTimer = undefined;
    this.#retryTimer = undefined;
    for (const [k] of this.#waiters) this.#resolve(k, "pending");
  }

  #wait(mid: string, ms: number): Promise<{ state: string; error?: string }> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        const l = this.#waiters.get(mid)?.filter((w) => w.timer !== timer) ?? [];
        if (l.length) this.#waiters.set(mid, l);
        else this.#waiters.delete(mid);
        resolve({ state: "pending" });
      }, ms);
      const list = this.#waiters.get(mid) ?? [];
      list.push({ resolve, timer });
      this.#waiters.set(mid, list);
    });
  }

  #resolve(mid: string, state: string, error?: string): void {
    for (const w of this.#waiters.get(mid) ?? []) {
      clearTimeout(w.timer);
      w.resolve(error === undefined ? { state } : { state, error });
    }
    this.#waiters.delete(mid);
  }

  /** One timer for every refused message; each round waits the next backoff delay. */
  #scheduleRetry(): void {
    if (this.#retryTimer !== undefined || this.#ctx.stopping) return;
    this.#retryTimer = setTimeout(() => {
      this.#retryTimer = undefined;
      void this.#resend().catch((e) =>
        this.#ctx.node.log.error("outbox resend failed", { error: String(e) })
      );
    }, this.#retryBackoff.next());
  }

  /** Resends the refused messages (only those), in outbox order, if still pending. */
  async #resend(): Promise<void> {
    const ctx = this.#ctx;
    if (!ctx.ready) return;
    const gen = ctx.generation;
    const due = [...this.#retry.entries()].sort((a, b) => a[1] - b[1]);
    this.#retry.clear();
    for (const [k, seq] of due) {
      const [row] = await ctx.store.pending(seq - 1, 1);
      if (gen !== ctx.generation || !ctx.ready) return;
      if (row === undefined || row.seq !== seq || this.#inflight.has(k)) continue;
      this.#inflight.set(k, seq);
      if (!ctx.send(FedOp.FED_DELIVER, row.deliver)) return;
    }
  }

  /**
   * Sends pending rows in order, bounded by the in-flight window and the
   * session's send queue. One pass at a time; a call during a pass runs
   * another after it.
   */
  pump(): void {
    if (this.#pumping) {
      this.#again = true;
      return;
    }
    this.#pumping = true;
    void (async () => {
      try {
        do {
          this.#again = false;
          await this.#pumpOnce();
        } while (this.#again);
      } catch (e) {
        this.#ctx.node.log.error("outbox read failed", { error: String(e) });
      } finally {
        this.#pumping = false;
      }
    })();
  }

  async #pumpOnce(): Promise<void> {
    const ctx = this.#ctx;
    if (!ctx.ready) return;
    const gen = ctx.generation;
    while (this.#inflight.size < WINDOW) {
      if (ctx.queuedBytes >= ctx.cfg.sendQueueHighBytes) {
        if (this.#pumpTimer === undefined) {
          this.#pumpTimer = setTimeout(() => {
            this.#pumpTimer = undefined;
            this.pump();
          }, 10);
        }
        return;
      }
      const rows = await ctx.store.pending(this.#cursor, 64);
      // A new session restarted the cursor meanwhile: its own pass sends from the start.
      if (gen !== ctx.generation || !ctx.ready) return;
      if (rows.length === 0) return;
      for (const r of rows) {
        this.#cursor = r.seq;
        const k = toHex(r.mid);
        if (this.#inflight.has(k) || this.#retry.has(k)) continue;
        this.#inflight.set(k, r.seq);
        if (!ctx.send(FedOp.FED_DELIVER, r.deliver)) return;
      }
    }
  }
}
