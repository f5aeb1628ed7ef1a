/**
 * The relay's sessions: {@link RelayLink} is the state of one federation
 * session (a hub, or a peer relay, either direction) with the few
 * operations that change it, and {@link LinkRegistry} finds sessions by
 * connection, by family and by peer relay.
 *
 * @module
 */

import type { RawConnection } from "../../core/node/dispatch.ts";
import { toHex } from "../bytes.ts";
import type { FamilyId } from "../family.ts";
import type { Link } from "../link.ts";

/**
 * Byte window of a hub session that never sent FED_FETCH `max-bytes`
 * (FEDERATION.md §5 "Delivery credit"): 4 MiB of unacked sealed bytes.
 */
export const DEFAULT_WINDOW_BYTES = 4 * 1_048_576;

/**
 * Most message credit `C` a hub session accumulates (FEDERATION.md §5): one
 * FED_FETCH adds at most 65,535 (the field's bound), the sum is capped here
 * at 2^20; credit past the cap is discarded, not an error.
 */
export const MAX_SESSION_CREDIT = 1 << 20;

/**
 * The key of message id `mid` in the in-flight maps: 16 bytes as one
 * 8-character string (one call, a flat string: half the cost of hex per
 * push and per ack); any other length as hex, so keys never collide.
 */
export function midKey(mid: Uint8Array): string {
  if (mid.length !== 16) return `h${toHex(mid)}`;
  const m = mid;
  return String.fromCharCode(
    m[0] | m[1] << 8,
    m[2] | m[3] << 8,
    m[4] | m[5] << 8,
    m[6] | m[7] << 8,
    m[8] | m[9] << 8,
    m[10] | m[11] << 8,
    m[12] | m[13] << 8,
    m[14] | m[15] << 8,
  );
}

/** The state of one federation session at the relay. */
export class RelayLink {
  /** The session underneath. */
  readonly link: Link;
  /** Set by FED_HELLO (or FED_ADMIT): what the other end is. */
  role?: "hub" | "relay";
  /** Hub: the admitted family this session serves. */
  family?: FamilyId;
  /** Relay: the peer's key id. */
  peer?: number;
  /** Message credit `C` (FEDERATION.md §5). */
  credit = 0;
  /** Mailbox cursor: the store seq of the last message pushed (or skipped as expired). */
  cursor = 0;
  /**
   * True when the store holds nothing for this session past `cursor`: a
   * message committed now may be pushed from memory (no store read).
   * Cleared whenever one is left in the store (no credit, full send queue,
   * byte cap), set again when a store fetch comes back short.
   */
  caughtUp = false;
  /** Byte window `W`: FED_FETCH `max-bytes`, else {@link DEFAULT_WINDOW_BYTES}. */
  window: number = DEFAULT_WINDOW_BYTES;
  /** Messages pushed on this session so far (logs). */
  pushed = 0;
  /** Peer lane cursor (relay sessions). */
  peerCursor = 0;
  /** Forwarded to the peer and not yet acked "stored": {@link midKey} -> recipient (made on first use). */
  get peerInflight(): Map<string, FamilyId> {
    return this.#peerInflight ??= new Map();
  }
  // Both maps are made on first use: an empty Map costs ~250 B of RSS more
  // than a field (measured), and most links are idle hubs that never fill them.
  #peerInflight?: Map<string, FamilyId>;
  /** Highest FED_ROUTE seq taken from this peer (-1: none yet). */
  routeSeq: number = -1;
  /** True once the session is gone. */
  closed = false;
  /** Last sender key seen in a FED_DELIVER and its family id. */
  fromCache?: { readonly key: Uint8Array; readonly id: FamilyId };
  /** A store read of a push is in flight (one at a time per session). */
  pumping = false;
  /** Another push was asked for while one was in flight: run again after it. */
  pumpAgain = false;
  /**
   * Highest store seq of this family's messages whose commit came back
   * while a push read was in flight (0: none): the read may or may not
   * have seen them, and its own rows tell (see Push.committed).
   */
  committedSeq = 0;
  /** performance.now() until which this session gets no handoff (it let one time out). */
  handoffPausedUntil = 0;
  /** Handoff pauses since this session last acked a handed-off message in time (handoff.ts). */
  handoffStrikes = 0;
  /** performance.now() of this session's last FED_ACK "delivered" (0: none yet). */
  lastDeliveredAt = 0;
  #inflight?: Map<string, number>;
  #inflightBytes = 0;
  #timer?: ReturnType<typeof setTimeout>;
  #serial?: Promise<void>;

  /** Wraps a session. */
  constructor(link: Link) {
    this.link = link;
  }

  /** Unacked bytes `U` (FEDERATION.md §5). */
  get inflightBytes(): number {
    return this.#inflightBytes;
  }

  /** Messages pushed and not yet acked "delivered". */
  get inflightCount(): number {
    return this.#inflight?.size ?? 0;
  }

  /** FED_FETCH: adds credit (capped at {@link MAX_SESSION_CREDIT}), sets the byte window. */
  fetch(credit: number, maxBytes?: number): void {
    this.credit = Math.min(this.credit + credit, MAX_SESSION_CREDIT);
    if (maxBytes !== undefined) this.window = maxBytes;
  }

  /** The credit and window part of the delivery rule for a message of `size` sealed bytes. */
  fits(size: number): boolean {
    if (this.credit <= 0) return false;
    return this.#inflightBytes === 0 || this.#inflightBytes + size <= this.window;
  }

  /** Bytes the window still takes (Infinity while nothing is unacked: one message always goes). */
  get windowRoom(): number {
    return this.#inflightBytes === 0 ? Infinity : this.window - this.#inflightBytes;
  }

  /**
   * A FED_DELIVER of mailbox message `seq` went out on this session (no `seq`: a
   * handoff, not in the store, so the cursor stays). A mid already unacked here
   * (a handed-off message pushed again from the store) is counted in the window once.
   */
  sent(mid: Uint8Array, size: number, seq?: number): void {
    if (seq !== undefined) this.cursor = seq;
    this.credit--;
    const inflight = this.#inflight ??= new Map();
    const k = midKey(mid);
    if (!inflight.has(k)) {
      inflight.set(k, size);
      this.#inflightBytes += size;
    }
    this.pushed++;
  }

  /** FED_ACK "delivered": the window reopens by each known mid's size (unknown mids change nothing). */
  delivered(mids: readonly Uint8Array[]): void {
    this.lastDeliveredAt = performance.now();
    const inflight = this.#inflight;
    if (inflight === undefined) return;
    for (const mid of mids) {
      const k = midKey(mid);
      const n = inflight.get(k);
      if (n === undefined) continue;
      this.#inflightBytes -= n;
      inflight.delete(k);
    }
  }

  /** Runs `f` in `ms` unless a timer is pending, the session closed or `live()` turned false. */
  later(f: () => void, ms: number, live: () => boolean): void {
    if (this.#timer !== undefined || this.closed) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      if (!this.closed && live()) f();
    }, ms);
  }

  /** Cancels a pending {@link later}. */
  cancelTimer(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  /**
   * Runs the handlers of this session's messages one after another, as a
   * node connection does for inbound sessions (a dialed session hands
   * messages over without waiting): synchronous while nothing is pending.
   */
  serial(f: () => void | Promise<void>): void {
    if (this.#serial !== undefined) {
      const p: Promise<void> = this.#serial.then(f).finally(() => {
        if (this.#serial === p) this.#serial = undefined;
      });
      this.#serial = p;
      return;
    }
    const r = f();
    if (r instanceof Promise) {
      const p: Promise<void> = r.finally(() => {
        if (this.#serial === p) this.#serial = undefined;
      });
      this.#serial = p;
    }
  }
}

/** What {@link LinkRegistry.detach} changed. */
export interface Detached {
  /** The peer relay whose last session this was (its routes are stale now). */
  readonly peerDown?: number;
  /** The peer relay that still has another session (it takes over the peer queue). */
  readonly peerStillUp?: number;
}

/** Every session of the relay: by connection, by family (hubs), by key id (peer relays). */
export class LinkRegistry {
  readonly #byConn = new Map<RawConnection, RelayLink>();
  readonly #out = new Set<RelayLink>();
  readonly #hubs = new Map<FamilyId, Set<RelayLink>>();
  readonly #peers = new Map<number, Set<RelayLink>>();

  /** The state of an inbound connection, made on its first federation message. */
  inbound(conn: RawConnection, make: () => Link): RelayLink {
    let l = this.#byConn.get(conn);
    if (l === undefined) {
      l = new RelayLink(make());
      this.#byConn.set(conn, l);
    }
    return l;
  }

  /** Forgets a closed inbound connection; its state, when it had one. */
  closedConn(conn: RawConnection): RelayLink | undefined {
    const l = this.#byConn.get(conn);
    if (l !== undefined) this.#byConn.delete(conn);
    return l;
  }

  /** Adds a session this relay dialed. */
  addOutbound(l: RelayLink): void {
    this.#out.add(l);
  }

  /** Removes a dialed session that ended. */
  removeOutbound(l: RelayLink): void {
    this.#out.delete(l);
  }

  /** Attaches a hub session to its family; false when it already serves it. */
  attachHub(l: RelayLink, family: FamilyId): boolean {
    if (l.family === family) return false;
    l.role = "hub";
    l.family = family;
    let set = this.#hubs.get(family);
    if (set === undefined) this.#hubs.set(family, set = new Set());
    set.add(l);
    return true;
  }

  /** Attaches a peer relay session; true when it is the first session to that peer. */
  attachPeer(l: RelayLink, keyId: number): boolean {
    l.role = "relay";
    l.peer = keyId;
    let set = this.#peers.get(keyId);
    const first = set === undefined;
    if (set === undefined) this.#peers.set(keyId, set = new Set());
    set.add(l);
    return first;
  }

  /** Marks a session gone and takes it out of the family and peer sets. */
  detach(l: RelayLink): Detached {
    l.closed = true;
    l.cancelTimer();
    if (l.family !== undefined) {
      const s = this.#hubs.get(l.family);
      s?.delete(l);
      if (s?.size === 0) this.#hubs.delete(l.family);
    }
    if (l.peer === undefined) return {};
    const s = this.#peers.get(l.peer);
    s?.delete(l);
    if (s?.size === 0) {
      this.#peers.delete(l.peer);
      return { peerDown: l.peer };
    }
    return { peerStillUp: l.peer };
  }

  /** Hub sessions of `family`. */
  hubs(family: FamilyId): Iterable<RelayLink> {
    return this.#hubs.get(family) ?? [];
  }

  /** Families with a hub session, and their sessions. */
  hubFamilies(): Iterable<[FamilyId, ReadonlySet<RelayLink>]> {
    return this.#hubs.entries();
  }

  /** Every hub session. */
  *hubSessions(): Iterable<RelayLink> {
    for (const s of this.#hubs.values()) yield* s;
  }

  /** Hub sessions attached now. */
  get hubCount(): number {
    let n = 0;
    for (const s of this.#hubs.values()) n += s.size;
    return n;
  }

  /** Peer relays with a session now. */
  get peerCount(): number {
    return this.#peers.size;
  }

  /** Key ids of the peer relays with a session now. */
  peerIds(): Iterable<number> {
    return this.#peers.keys();
  }

  /** True while peer relay `peer` has a session. */
  peerUp(peer: number): boolean {
    return this.#peers.has(peer);
  }

  /** Every peer relay session. */
  *peerSessions(): Iterable<RelayLink> {
    for (const s of this.#peers.values()) yield* s;
  }

  /**
   * The session that carries the peer queue to `peer`: our own dial when
   * there is one (a stable choice on both ends is not needed: the peer dedupes).
   */
  activePeer(peer: number): RelayLink | undefined {
    let pick: RelayLink | undefined;
    for (const l of this.#peers.get(peer) ?? []) {
      if (!l.closed && (pick === undefined || l.link.direction === "out")) pick = l;
    }
    return pick;
  }

  /** Inbound sessions that spoke federation, then dialed ones. */
  all(): RelayLink[] {
    return [...this.#byConn.values(), ...this.#out];
  }

  /** Inbound sessions that spoke federation. */
  inboundLinks(): Iterable<RelayLink> {
    return this.#byConn.values();
  }
}
