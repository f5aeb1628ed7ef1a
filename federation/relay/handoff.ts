/**
 * Handoff (docs/FEDERATION.md §6.5): a mailbox message whose recipient has
 * one online session that is caught up and has room goes to that session at
 * once, before anything is written. When the recipient's FED_ACK
 * "delivered" comes back in time (below; `federation.handoffMs`), the sender
 * gets its FED_ACK "stored" then, and the relay never writes the message: the
 * recipient hub holds it durably (its fsync precedes "delivered"). When no
 * ack comes in time, or the session ends, or the relay stops, the message
 * goes to the group commit like any other and "stored" follows its fsync.
 * Either way "stored" is sent only once the message is durable somewhere
 * other than the sender: never weaker than storing first.
 *
 * A message times out when its session has acked nothing for `handoffMs`
 * and the relay's send queue to it is empty (the recipient has everything
 * and stalls), or after {@link MAX_HOLD_FACTOR} x `handoffMs` in any case;
 * while the session keeps acking, a late ack is the relay's own backlog (a
 * burst from many senders), and while bytes for it still wait in the
 * relay's send queue, the recipient may not have the message yet. A
 * recipient that lets a handed-off message time out gets no handoff for a
 * while, so that its senders hear "stored" at the store's pace instead of
 * waiting out the timeout for every message: {@link PAUSE_FIRST} x `handoffMs` after a first
 * timeout, doubling with each timeout that follows a pause, up to
 * {@link PAUSE_FACTOR} x; a message it acks in time ends the escalation. (A
 * fixed 20 x pause turned one hiccup, a GC pause or a burst of joins, into
 * store-first for the rest of a 64 -> 64 run: a third of the messages
 * written, half the throughput.)
 *
 * Per-sender order holds: a message is handed off only while nothing for
 * the same recipient waits in an uncommitted group, and everything after a
 * message that could not be handed off goes through the store too.
 *
 * @module
 */

import type { FamilyId } from "../family.ts";
import { sendFed } from "../link.ts";
import { FedOp, MAX_MIDS } from "../messages.ts";
import { FED } from "../metrics.ts";
import type { Lane, QueueInput } from "../store/types.ts";
import type { RelayContext } from "./context.ts";
import { midKey, type RelayLink } from "./links.ts";
import type { Push } from "./push.ts";

/** After a first timeout a session gets no handoff for this many times `handoffMs`. */
export const PAUSE_FIRST = 2;
/** The longest pause, in times `handoffMs` (a session that keeps timing out). */
export const PAUSE_FACTOR = 20;
/** A handed-off message is stored after this many times `handoffMs` even while its session acks. */
export const MAX_HOLD_FACTOR = 10;

/** One accepted FED_DELIVER: the session it came from and its store item. */
export interface Accepted {
  /** The sender's session (hub or peer relay): it gets the "stored" ack. */
  readonly l: RelayLink;
  /** What goes to the store, if it must. */
  readonly item: {
    readonly lane: Lane;
    readonly message: QueueInput;
    readonly inFlight?: boolean;
  };
  /** Set when the message was handed off first (the store then only backs it up). */
  readonly held?: Held;
}

/** A message handed off and not yet acked by the recipient. */
export interface Held {
  /** How it arrived (a resend while held takes over: its session gets the "stored"). */
  from: Accepted;
  /** The recipient's session it went to. */
  readonly to: RelayLink;
  /** performance.now() when it went. */
  readonly at: number;
  /** `held` until an outcome; `stored` once given to the group commit; `done` when acked. */
  state: "held" | "stored" | "done";
  /** Acked "delivered" while its group commit was not yet made: delete it after. */
  ackedEarly: boolean;
}

/** Sends FED_ACK "stored" for `acks` (sender session -> mids), at most {@link MAX_MIDS} per message. */
export function sendStoredAcks(ctx: RelayContext, acks: Map<RelayLink, Uint8Array[]>): void {
  const relay = ctx.node.identity.keyId;
  for (const [l, mids] of acks) {
    if (l.closed) continue;
    for (let i = 0; i < mids.length; i += MAX_MIDS) {
      sendFed(
        l.link,
        { op: FedOp.FED_ACK, kind: "stored", relay, mids: mids.slice(i, i + MAX_MIDS) },
        false,
        false,
      );
    }
  }
}

/** The relay's handoff of messages to online recipients. */
export class Handoff {
  readonly #ctx: RelayContext;
  readonly #push: Push;
  readonly #store: (a: Accepted) => void;
  /** Every held entry, oldest first (entries that found an outcome are skipped). */
  #fifo: Held[] = [];
  /** Per recipient session: handed off to it and not yet acked or stored, by {@link midKey}. */
  readonly #bySession = new WeakMap<RelayLink, Map<string, Held>>();
  #head = 0;
  #timer?: ReturnType<typeof setTimeout>;

  /** Handoff over `ctx`; `store` gives a message to the group commit. */
  constructor(ctx: RelayContext, push: Push, store: (a: Accepted) => void) {
    this.#ctx = ctx;
    this.#push = push;
    this.#store = store;
  }

  /**
   * Hands `a` to its recipient's session when the rule allows (see the
   * module doc); false when it must go to the store. `queued` tells whether
   * a message for the same recipient waits in an uncommitted group.
   */
  offer(a: Accepted, queued: boolean): boolean {
    const ctx = this.#ctx;
    const ms = ctx.cfg.handoffMs;
    if (ms === 0 || queued || ctx.stopping || a.item.lane.kind !== "mailbox") return false;
    const m = a.item.message;
    let to: RelayLink | undefined;
    for (const l of ctx.links.hubs(m.to)) {
      if (to !== undefined) return false; // two sessions of one family: the store decides
      to = l;
    }
    if (to === undefined || !to.caughtUp) return false;
    let held = this.#bySession.get(to);
    const k = midKey(m.mid);
    const prev = held?.get(k);
    if (prev?.state === "held") {
      // A resend of a message still in flight to the recipient: not pushed twice, and not
      // left behind to time out into the store; its "stored" goes to the latest sender session.
      prev.from = a;
      return true;
    }
    const now = performance.now();
    if (to.handoffPausedUntil > now || !this.#push.canPush(to, m.sealed.length)) return false;
    this.#push.sendHandoff(to, m);
    const h: Held = { from: a, to, at: now, state: "held", ackedEarly: false };
    if (held === undefined) this.#bySession.set(to, held = new Map());
    held.set(k, h);
    this.#fifo.push(h);
    this.#arm(ms);
    return true;
  }

  /**
   * FED_ACK "delivered" from session `l`: held messages among `mids` are
   * done (their senders get "stored" now); returns the mids the store must
   * still delete (not handed off, or already given to the store).
   */
  delivered(l: RelayLink, mids: readonly Uint8Array[]): readonly Uint8Array[] {
    const held = this.#bySession.get(l);
    if (held === undefined || held.size === 0) return mids;
    let rest: Uint8Array[] | undefined;
    let acks: Map<RelayLink, Uint8Array[]> | undefined;
    let n = 0;
    for (let i = 0; i < mids.length; i++) {
      const mid = mids[i];
      const k = midKey(mid);
      const h = held.get(k); // held or stored: an entry leaves the map when it is done
      if (h === undefined) {
        rest?.push(mid);
        continue;
      }
      held.delete(k);
      if (h.state === "stored") {
        // Its group commit may not be made yet: then the store deletes it after (ingest).
        h.ackedEarly = true;
        h.state = "done";
        rest?.push(mid);
        continue;
      }
      h.state = "done";
      h.to.handoffStrikes = 0; // acked in time: the next timeout pauses it briefly again
      n++;
      rest ??= mids.slice(0, i);
      acks ??= new Map();
      let a = acks.get(h.from.l);
      if (a === undefined) acks.set(h.from.l, a = []);
      a.push(mid);
    }
    if (acks === undefined) return mids;
    this.#ctx.node.metrics.inc(FED.handedOff, undefined, n);
    sendStoredAcks(this.#ctx, acks);
    return rest ?? [];
  }

  /** Session `l` ended: what it held goes to the store (its senders have no ack yet). */
  release(l: RelayLink): void {
    const held = this.#bySession.get(l);
    if (held === undefined) return;
    this.#bySession.delete(l);
    for (const h of held.values()) if (h.state === "held") this.#toStore(h);
  }

  /** Stopping: everything held goes to the store (the caller then drains the group commit). */
  releaseAll(): void {
    for (let i = this.#head; i < this.#fifo.length; i++) {
      const h = this.#fifo[i];
      if (h.state === "held") this.#toStore(h);
    }
    this.#fifo = [];
    this.#head = 0;
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #toStore(h: Held): void {
    h.state = "stored";
    this.#ctx.node.metrics.inc(FED.handoffStored);
    this.#store({ l: h.from.l, item: { ...h.from.item, inFlight: true }, held: h });
  }

  #arm(ms: number): void {
    if (this.#timer !== undefined) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#expire(ms);
    }, ms);
  }

  /**
   * Gives the store every entry older than `ms` whose session has acked
   * nothing for `ms` with nothing left in its send queue (it stalls), and every entry older than
   * {@link MAX_HOLD_FACTOR} x `ms` (it is too far behind); an older entry of
   * a session that keeps acking stays (the relay's own backlog, not the
   * recipient, delays its ack). Re-arms for what is left.
   */
  #expire(ms: number): void {
    const now = performance.now();
    const fifo = this.#fifo;
    let i = this.#head;
    let kept = -1;
    for (; i < fifo.length; i++) {
      const h = fifo[i];
      if (h.state !== "held") continue;
      const age = now - h.at;
      if (age < ms) break;
      // Still queued at this relay (the recipient reads slowly, or we write slowly): not the
      // recipient's stall yet, it may not have the message; only the hold limit applies.
      const waiting = h.to.link.queuedBytes > 0 || now - h.to.lastDeliveredAt < ms;
      if (age < MAX_HOLD_FACTOR * ms && waiting) {
        if (kept < 0) kept = i;
        continue;
      }
      pause(h.to, now, ms);
      this.#toStore(h);
    }
    if (kept < 0 && i === fifo.length) {
      this.#fifo = [];
      this.#head = 0;
      return;
    }
    const head = kept >= 0 ? kept : i;
    this.#head = head;
    if (head > 1024 && head * 2 > fifo.length) {
      this.#fifo = fifo.slice(head);
      this.#head = 0;
    }
    const wait = kept >= 0 || i === fifo.length ? ms : ms - (now - fifo[i].at);
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#expire(this.#ctx.cfg.handoffMs || ms);
    }, Math.max(1, wait));
  }
}

/**
 * Session `l` let a handoff time out at `now`: no handoff for
 * {@link PAUSE_FIRST} x `ms`, doubled for each further pause before the
 * session next acks a handed-off message in time, at most
 * {@link PAUSE_FACTOR} x. Entries that time out during a pause (pushed
 * before it) do not lengthen it.
 */
function pause(l: RelayLink, now: number, ms: number): void {
  if (l.handoffPausedUntil > now) return;
  const factor = Math.min(PAUSE_FIRST * 2 ** l.handoffStrikes, PAUSE_FACTOR);
  l.handoffStrikes++;
  l.handoffPausedUntil = now + factor * ms;
}

/** Mids of `held` entries acked while their group commit was still to be made, by recipient. */
export function ackedEarly(items: readonly Accepted[]): Map<FamilyId, Uint8Array[]> | undefined {
  let out: Map<FamilyId, Uint8Array[]> | undefined;
  for (const a of items) {
    if (a.held?.ackedEarly !== true) continue;
    out ??= new Map();
    const m = a.item.message;
    let list = out.get(m.to);
    if (list === undefined) out.set(m.to, list = []);
    list.push(m.mid);
  }
  return out;
}
