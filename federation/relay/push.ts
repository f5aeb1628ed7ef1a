/**
 * Pushing: mailbox messages to hub sessions under the delivery credit rule
 * (FEDERATION.md §5: message credit, byte window, send-queue room), peer
 * lanes to peer relays (a window of unacked forwards), and the acks that
 * move both on (FED_ACK "delivered" from a hub, "stored" from a peer).
 *
 * A session reads the store for one window at a time (one read in flight
 * per session); a session that is caught up takes new messages straight
 * from the group commit ({@link Push.pushOne}) without a store read.
 *
 * @module
 */

import { ErrorCode, MyClerkError } from "../../core/errors.ts";
import type { FamilyId } from "../family.ts";
import { type Link, sendDeliver } from "../link.ts";
import { type FedDeliver, FedOp, MAX_HOPS } from "../messages.ts";
import { FED } from "../metrics.ts";
import type { QueueInput } from "../store/types.ts";
import { asStoreError, type RelayContext } from "./context.ts";
import { midKey, type RelayLink } from "./links.ts";

/** Rows per store read of a push. */
const PUSH_BATCH = 64;
/** Forwards to a peer relay not yet acked "stored", at most. */
const PEER_WINDOW = 1024;
/** Delay before retrying a push paused by a full send queue, ms. */
const RETRY_MS = 20;

/**
 * Upper bound of the bytes one FED_DELIVER of `sealed` bytes adds to a send
 * queue: the map around the envelope, plus the header and trailer of every
 * wire fragment (at most one per 64 KiB even with the smallest allowed wire limit).
 */
export function deliverWireBytes(sealed: number): number {
  return sealed + 1024 + Math.ceil(sealed / 65_536) * 128;
}

/** The FED_DELIVER a relay sends on for a stored message: one more hop (capped at 8). */
export function forwarded(m: QueueInput): FedDeliver {
  return {
    op: FedOp.FED_DELIVER,
    to: m.to,
    from: m.from,
    fromKey: m.fromKey,
    mid: m.mid,
    ttl: m.ttl,
    hops: Math.min(m.hops + 1, MAX_HOPS),
    sealed: m.sealed,
  };
}

/** Pushes to hubs and peer relays. */
export class Push {
  readonly #ctx: RelayContext;
  readonly #live = () => !this.#ctx.stopping;

  /** Pushing over `ctx`. */
  constructor(ctx: RelayContext) {
    this.#ctx = ctx;
  }

  // ---- hubs ------------------------------------------------------------------

  /**
   * FED_FETCH: more credit (and the byte window), then push what fits. A
   * caught-up session stays caught up: credit changes nothing in the store
   * past its cursor. (Clearing it here sent every message through a store
   * read for as long as a hub kept topping up its credit while it read.)
   */
  onFetch(l: RelayLink, family: FamilyId, credit: number, maxBytes?: number): void {
    if (l.family === undefined || l.family !== family) {
      throw new MyClerkError(ErrorCode.FORBIDDEN, "fetch-other-family", { family });
    }
    l.fetch(credit, maxBytes);
    this.pumpHub(l);
  }

  /**
   * FED_ACK "delivered": the window reopens at once (the hub has these
   * messages); the delete is not awaited (a lost delete only re-delivers,
   * and the recipient dedupes), so acks of one turn share one transaction.
   */
  onDelivered(l: RelayLink, family: FamilyId, mids: readonly Uint8Array[]): void {
    if (l.family === undefined || l.family !== family) {
      throw new MyClerkError(ErrorCode.FORBIDDEN, "ack-other-family", { family });
    }
    l.delivered(mids);
    const rest = this.claim(l, mids);
    if (rest.length > 0) this.deleteDelivered(family, rest);
    this.pumpHub(l);
  }

  /**
   * Takes the mids of a FED_ACK "delivered" that were handed off (the
   * relay's handoff sets it); returns those the store must delete.
   */
  claim: (l: RelayLink, mids: readonly Uint8Array[]) => readonly Uint8Array[] = (_l, mids) => mids;

  /**
   * Deletes delivered messages from the mailbox, not awaited (see
   * {@link onDelivered}); also for handed-off messages acked before their
   * group commit was made (ingest, after it).
   */
  deleteDelivered(family: FamilyId, mids: readonly Uint8Array[]): void {
    const ctx = this.#ctx;
    ctx.store.ack({ kind: "mailbox" }, family, mids, { durable: false }).then(
      (n) => ctx.node.metrics.inc(FED.acked, { kind: "delivered" }, n),
      (e) => {
        // A delete needs WAL space too (disk full): the rows stay, and come again on the
        // hub's next session, where its dedupe drops them. Nothing to tell the hub.
        const err = asStoreError(e);
        ctx.drop(`ack-${err.detail}`);
        ctx.node.log.error("ack delete failed", { detail: err.detail, error: String(e) });
      },
    );
  }

  /** Pushes one just-committed message to a caught-up hub session; false when it must wait in the store. */
  pushOne(l: RelayLink, m: QueueInput, seq: number): boolean {
    // A store whose commit lands before a concurrent read returns (not SQLite's) may have had
    // the read push it already: once is enough.
    if (seq <= l.cursor) return true;
    if (!this.canPush(l, m.sealed.length)) return false;
    this.#sendDeliver(l, m, seq);
    return true;
  }

  /**
   * Pushes from the store what the credit rule allows. One store read at a
   * time per session; a call during one makes it read again afterwards. A
   * caught-up session has nothing in the store past its cursor: no read.
   */
  pumpHub(l: RelayLink): void {
    if (l.family === undefined || l.closed || this.#ctx.stopping) return;
    if (l.pumping) {
      l.pumpAgain = true;
      return;
    }
    if (l.caughtUp) return;
    l.pumping = true;
    this.#hubLoop(l).catch((e) => {
      l.caughtUp = false;
      this.#ctx.node.log.error("push to hub failed", { family: l.family, error: String(e) });
    }).finally(() => {
      l.pumping = false;
      if (l.pumpAgain) {
        l.pumpAgain = false;
        this.pumpHub(l);
      }
    });
  }

  /**
   * A commit stored messages for `l`'s family, up to store seq `seq`, that
   * `l` did not take from memory: a session not caught up reads them. While
   * its read is in flight the seq is noted instead of asking for another
   * read: a store whose reads see every commit made before them (SQLite,
   * the worker store) returns these rows in that read, and a store that
   * does not is read again because the read's rows end below `seq`.
   * Without this, a sender that commits faster than a read's round trip
   * keeps the session reading the store for good.
   */
  committed(l: RelayLink, seq: number): void {
    if (l.caughtUp) return;
    if (l.pumping) {
      if (seq > l.committedSeq) l.committedSeq = seq;
      return;
    }
    this.pumpHub(l);
  }

  /** Every hub session (limits changed on reload). */
  pumpAllHubs(): void {
    for (const l of this.#ctx.links.hubSessions()) {
      l.caughtUp = false;
      this.pumpHub(l);
    }
  }

  async #hubLoop(l: RelayLink): Promise<void> {
    const ctx = this.#ctx;
    const family = l.family!;
    while (l.credit > 0) {
      l.caughtUp = false;
      if (l.inflightBytes > 0 && l.inflightBytes >= l.window) return; // acks reopen the window
      if (!this.#queueRoom(l.link, 0)) {
        // A slow hub: stop here, its messages stay in the store; others are not held up.
        ctx.node.metrics.inc(FED.pushPaused, { to: "hub" });
        l.later(() => this.pumpHub(l), RETRY_MS, this.#live);
        return;
      }
      const limit = Math.min(l.credit, PUSH_BATCH);
      const budget = Math.min(
        l.windowRoom,
        ctx.node.config.limits.maxQueueBytes - l.link.queuedBytes,
      );
      l.pumpAgain = false;
      l.committedSeq = 0;
      const { rows, cut } = await ctx.store.fetchWindow(family, l.cursor, limit, budget);
      if (l.closed || ctx.stopping) return;
      let sent = 0;
      const now = Math.floor(Date.now() / 1000);
      for (const m of rows) {
        if (m.seq <= l.cursor) {
          sent++; // pushed from memory while the read was in flight
          continue;
        }
        if (m.expires <= now) {
          // Past its expiry: never pushed; the next sweep deletes it and tells the sender.
          l.cursor = m.seq;
          sent++;
          continue;
        }
        if (!this.#mayPush(l, m.sealed.length)) break;
        this.#sendDeliver(l, m, m.seq);
        sent++;
      }
      if (sent < rows.length) {
        // The window or the send queue is full: acks or the drain timer resume.
        if (!this.#queueRoom(l.link, rows[sent].sealed.length) && l.credit > 0) {
          ctx.node.metrics.inc(FED.pushPaused, { to: "hub" });
          l.later(() => this.pumpHub(l), RETRY_MS, this.#live);
        }
        return;
      }
      // A short read that was not cut by the byte budget: nothing more past the cursor,
      // unless something asked for another read while this one was in flight, or a commit
      // that came back meanwhile stored rows past what the read returned (see committed()).
      if (rows.length < limit && !cut && !l.pumpAgain && l.committedSeq <= l.cursor) {
        l.caughtUp = true;
        return;
      }
    }
    l.caughtUp = false;
  }

  /**
   * True when a hub session may take a message of `size` sealed bytes from
   * memory now: open, the relay not stopping, and the credit rule below.
   */
  canPush(l: RelayLink, size: number): boolean {
    return !l.closed && !this.#ctx.stopping && this.#mayPush(l, size);
  }

  /** Sends a handed-off message (not in the store: no seq, the session's cursor stays). */
  sendHandoff(l: RelayLink, m: QueueInput): void {
    this.#sendDeliver(l, m);
  }

  /**
   * The delivery credit rule (FEDERATION.md §5 "Delivery credit"): one
   * message of credit, and the sealed bytes fit the session's byte window
   * (or nothing is unacked, so a message larger than the window still
   * goes, alone); and the relay's own send queue has room for it.
   */
  #mayPush(l: RelayLink, size: number): boolean {
    return l.fits(size) && this.#queueRoom(l.link, size);
  }

  /** True when the link's send queue can take a FED_DELIVER of `size` sealed bytes now. */
  #queueRoom(link: Link, size: number): boolean {
    const q = link.queuedBytes;
    if (q === 0) return true;
    return q < this.#ctx.cfg.sendQueueHighBytes &&
      q + deliverWireBytes(size) <= this.#ctx.node.config.limits.maxQueueBytes;
  }

  #sendDeliver(l: RelayLink, m: QueueInput, seq?: number): void {
    const ctx = this.#ctx;
    l.sent(m.mid, m.sealed.length, seq);
    sendDeliver(l.link, forwarded(m));
    ctx.node.metrics.inc(FED.pushed, { to: "hub" });
    if (l.pushed % 1000 === 0) {
      const family = l.family!;
      const pushed = l.pushed;
      ctx.store.queueStatus({ kind: "mailbox" }, family).then((st) => {
        ctx.node.log.info("backlog progress", {
          family,
          pushed,
          waiting: st.depth,
          waitingBytes: st.bytes,
        });
      }, () => {/* a log line only */});
    }
  }

  // ---- peers -----------------------------------------------------------------

  /** Forwards the peer lane of `peer` on its active session, within the peer window. */
  pumpPeer(peer: number): void {
    const l = this.#ctx.links.activePeer(peer);
    if (l === undefined || this.#ctx.stopping) return;
    if (l.pumping) {
      l.pumpAgain = true;
      return;
    }
    l.pumping = true;
    this.#peerLoop(l, peer).catch((e) => {
      this.#ctx.node.log.error("push to peer failed", { peer, error: String(e) });
    }).finally(() => {
      l.pumping = false;
      if (l.pumpAgain) {
        l.pumpAgain = false;
        this.pumpPeer(peer);
      }
    });
  }

  async #peerLoop(l: RelayLink, peer: number): Promise<void> {
    const ctx = this.#ctx;
    const high = ctx.cfg.sendQueueHighBytes;
    while (l.peerInflight.size < PEER_WINDOW) {
      if (l.link.queuedBytes >= high) {
        ctx.node.metrics.inc(FED.pushPaused, { to: "peer" });
        l.later(() => this.pumpPeer(peer), RETRY_MS, this.#live);
        return;
      }
      l.pumpAgain = false;
      const rows = await ctx.store.fetchPeer(
        peer,
        l.peerCursor,
        PUSH_BATCH,
        ctx.node.config.limits.maxQueueBytes - l.link.queuedBytes,
      );
      if (l.closed || ctx.stopping) return;
      if (rows.length === 0 && !l.pumpAgain) return;
      for (const m of rows) {
        if (m.seq <= l.peerCursor) continue;
        if (!this.#queueRoom(l.link, m.sealed.length)) {
          // Never overfill our own send queue (it would close the link): resume when it drains.
          ctx.node.metrics.inc(FED.pushPaused, { to: "peer" });
          l.later(() => this.pumpPeer(peer), RETRY_MS, this.#live);
          return;
        }
        l.peerCursor = m.seq;
        l.peerInflight.set(midKey(m.mid), m.to);
        sendDeliver(l.link, forwarded(m));
        ctx.node.metrics.inc(FED.pushed, { to: "peer" });
      }
    }
  }

  /** FED_ACK "stored" from a peer relay: its copies are durable there, ours go. */
  async onPeerStored(l: RelayLink, mids: readonly Uint8Array[]): Promise<void> {
    if (l.peer === undefined) throw new MyClerkError(ErrorCode.FORBIDDEN, "not-a-peer");
    const peer = l.peer;
    const items: { to: FamilyId; mid: Uint8Array }[] = [];
    for (const mid of mids) {
      const k = midKey(mid);
      const to = l.peerInflight.get(k);
      if (to === undefined) continue;
      l.peerInflight.delete(k);
      items.push({ to, mid });
    }
    if (items.length === 0) return;
    const done = this.#ctx.store.ackPeer(peer, items);
    // The window reopened: forwarding goes on while the delete commits.
    this.pumpPeer(peer);
    const n = await done;
    this.#ctx.node.metrics.inc(FED.acked, { kind: "stored" }, n);
  }
}
