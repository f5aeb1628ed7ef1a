/**
 * The hub's receive side (docs/FEDERATION.md §8): opens each FED_DELIVER
 * with the family key, hands what arrived in one event-loop turn to the
 * store's inbox in one transaction (deduped there: exactly once), acks
 * "delivered" only after that commit, and keeps FED_FETCH credit topped up.
 *
 * An envelope that can never be opened (wrong recipient key, forged, past
 * its lifetime) is counted in `myclerk_federation_drops_total` and acked
 * anyway, so the relay drops it instead of redelivering it forever.
 *
 * @module
 */

import { ErrorCode, isMyClerkError, MyClerkError } from "../../core/errors.ts";
import { FED } from "../metrics.ts";
import { openEnvelope } from "../envelope.ts";
import type { FamilyId } from "../family.ts";
import { encodeFed, type FedDeliver, FedOp, MAX_MIDS } from "../messages.ts";
import { type HubContext, nowSec } from "./context.ts";

interface PendingDelivery {
  readonly mid: Uint8Array;
  readonly from: FamilyId;
  readonly ts: number;
  readonly ttl: number;
  readonly body: Uint8Array;
}

/** Receives, stores and acks messages for the hub of a {@link HubContext}. */
export class Inbox {
  readonly #ctx: HubContext;
  #deliveries: PendingDelivery[] = [];
  #flushTimer?: ReturnType<typeof setTimeout>;
  #flushing: Promise<void> = Promise.resolve();
  #creditUsed = 0;

  /** Serves the hub of `ctx`. */
  constructor(ctx: HubContext) {
    this.#ctx = ctx;
  }

  /** A relay session became ready: grant the configured credit (FED_FETCH). */
  onReady(): void {
    const ctx = this.#ctx;
    this.#creditUsed = 0;
    ctx.send(
      FedOp.FED_FETCH,
      encodeFed({ op: FedOp.FED_FETCH, family: ctx.familyId, credit: ctx.cfg.credit }),
    );
  }

  /** One FED_DELIVER from the relay: opened now, stored with the rest of this turn. */
  onDeliver(m: FedDeliver): void {
    const ctx = this.#ctx;
    const node = ctx.node;
    if (m.to !== ctx.familyId) {
      node.metrics.inc(FED.drops, { reason: "not-for-us" });
      return;
    }
    try {
      const opened = openEnvelope(node.backend, m, m.sealed, ctx.family.privateKey);
      if (opened.ts + opened.ttl + node.config.limits.maxSkewSeconds <= nowSec()) {
        // Past its lifetime (a relay that kept it too long): never handed to the application.
        throw new MyClerkError(ErrorCode.FED_EXPIRED, "expired");
      }
      this.#deliveries.push({
        mid: m.mid,
        from: opened.from,
        ts: opened.ts,
        ttl: opened.ttl,
        body: opened.body,
      });
    } catch (e) {
      // It can never be opened: count it, and ack it so the relay drops it.
      node.metrics.inc(FED.drops, { reason: isMyClerkError(e) ? e.detail : "open" });
      node.log.warn("envelope refused", { error: isMyClerkError(e) ? e.detail : String(e) });
      this.#deliveries.push({ mid: m.mid, from: m.from, ts: 0, ttl: 0, body: new Uint8Array() });
    }
    if (this.#flushTimer === undefined) {
      this.#flushTimer = setTimeout(() => void this.flush(), 0);
    }
  }

  /**
   * Stores what arrived (one transaction), then acks and tops up credit.
   * Flushes run one after another, in arrival order.
   */
  flush(): Promise<void> {
    clearTimeout(this.#flushTimer);
    this.#flushTimer = undefined;
    const items = this.#deliveries;
    this.#deliveries = [];
    if (items.length === 0) return this.#flushing;
    this.#flushing = this.#flushing.then(() => this.#flush(items));
    return this.#flushing;
  }

  async #flush(items: readonly PendingDelivery[]): Promise<void> {
    const ctx = this.#ctx;
    const node = ctx.node;
    const gen = ctx.generation;
    try {
      const results = await ctx.store.deliverBatch(
        items.filter((d) => d.ttl > 0).map((d) => ({ msg: d, expires: d.ts + d.ttl })),
        nowSec(),
      );
      let fresh = 0;
      for (const r of results) if (r) fresh++;
      node.metrics.inc(FED.appDelivered, undefined, fresh);
      const replays = results.length - fresh;
      if (replays > 0) node.metrics.inc(FED.drops, { reason: "replay" }, replays);
      ctx.changed();
    } catch (e) {
      // Not durable: no ack; the relay resends after the next reconnect.
      node.log.error("inbox write failed", { error: String(e) });
      ctx.closeSession();
      return;
    }
    // The relay resends unacked messages on a new session: acks still go (they only delete),
    // credit only belongs to the session it was granted on.
    for (let i = 0; i < items.length; i += MAX_MIDS) {
      ctx.send(
        FedOp.FED_ACK,
        encodeFed({
          op: FedOp.FED_ACK,
          kind: "delivered",
          family: ctx.familyId,
          mids: items.slice(i, i + MAX_MIDS).map((d) => d.mid),
        }),
      );
    }
    if (gen !== ctx.generation) return;
    this.#creditUsed += items.length;
    if (this.#creditUsed * 2 >= ctx.cfg.credit) {
      const credit = Math.min(this.#creditUsed, 0xffff);
      this.#creditUsed -= credit;
      ctx.send(FedOp.FED_FETCH, encodeFed({ op: FedOp.FED_FETCH, family: ctx.familyId, credit }));
    }
  }
}
