/**
 * Directory and routes: which lane a recipient's messages take (its
 * mailbox here, or the queue to the peer relay that homes it), the family
 * records cache, route announcements to peers (FED_ROUTE + FED_RECORDS),
 * and the directory requests (FED_LOOKUP, FED_RECORDS from a peer).
 *
 * @module
 */

import { ErrorCode, MyClerkError } from "../../core/errors.ts";
import { bytesEqual } from "../bytes.ts";
import { decodeRecords, DirOp, encodeRecords } from "../directory.ts";
import type { KnownFamilyKey } from "../envelope.ts";
import { type FamilyId, familyId } from "../family.ts";
import { sendFed } from "../link.ts";
import { FedOp } from "../messages.ts";
import type { Lane, StoredFamily } from "../store/types.ts";
import { nowSec, type RelayContext } from "./context.ts";
import type { RelayLink } from "./links.ts";
import type { PeerIndex } from "./peers.ts";

/** Most family ids in one FED_ROUTE / FED_HELLO, and records per FED_RECORDS. */
const ROUTE_MAX = 4096;
const RECORDS_PER_MESSAGE = 256;
/** Decoded records kept in memory before the cache starts over. */
const CACHE_MAX = 100_000;

/** A recipient's lane, and its verified key when the relay has its record. */
export interface LaneChoice {
  /** Mailbox here, or the queue to a peer relay. */
  readonly lane: Lane;
  /** The stored record's id and key id (verified when decoded). */
  readonly key?: KnownFamilyKey;
}

/** Routes and records of one relay. */
export class Routes {
  readonly #ctx: RelayContext;
  readonly #peers: () => PeerIndex;
  /** Decoded family records (decoding verifies two hashes: too slow per message); null = unknown. */
  readonly #families = new Map<FamilyId, StoredFamily | null>();
  /** Families each peer announced (FED_ROUTE), by peer key id. */
  readonly #routes = new Map<number, ReadonlySet<FamilyId>>();
  #routeSeq = 0;

  /** Routes over `ctx`; `peers` gives the peer index in force. */
  constructor(ctx: RelayContext, peers: () => PeerIndex) {
    this.#ctx = ctx;
    this.#peers = peers;
  }

  /** The cached record of `id`: a record, null (known unknown), or undefined (not cached). */
  cached(id: FamilyId): StoredFamily | null | undefined {
    return this.#families.get(id);
  }

  /** Reads `id` into the cache. */
  async load(id: FamilyId): Promise<StoredFamily | undefined> {
    const f = await this.#ctx.store.getFamily(this.#ctx.node.backend, id) ?? null;
    if (this.#families.size > CACHE_MAX) this.#families.clear();
    this.#families.set(id, f);
    return f ?? undefined;
  }

  /** The record of `id` from the cache, else the store. */
  family(id: FamilyId): StoredFamily | undefined | Promise<StoredFamily | undefined> {
    const f = this.#families.get(id);
    return f === undefined ? this.load(id) : f ?? undefined;
  }

  /** Drops `id` from the cache (it was admitted or learned). */
  forget(id: FamilyId): void {
    this.#families.delete(id);
  }

  /**
   * The lane for recipient `to` from its cached record (the caller loads
   * it first), or FED_NO_ROUTE / FED_UNKNOWN_FAMILY saying why there is none.
   */
  laneFor(to: FamilyId, f: StoredFamily | undefined): LaneChoice {
    // The stored record's id and key id were verified against its key when decoded.
    if (f?.local) return { lane: { kind: "mailbox" }, key: f.record };
    for (const [peer, fams] of this.#routes) {
      if (fams.has(to)) return { lane: { kind: "peer", peer }, key: f?.record };
    }
    if (f !== undefined) {
      const home = f.record.home;
      if (this.peerConfigured(home)) return { lane: { kind: "peer", peer: home }, key: f.record };
      throw new MyClerkError(ErrorCode.FED_NO_ROUTE, "no-route", { family: to });
    }
    throw new MyClerkError(ErrorCode.FED_UNKNOWN_FAMILY, "unknown-family", { family: to });
  }

  /** The peer relay to send `sender`'s notices to: one that announced it, else its home. */
  peerFor(f: StoredFamily | undefined, id: FamilyId): number | undefined {
    let peer: number | undefined;
    for (const [p, fams] of this.#routes) if (fams.has(id)) peer = p;
    if (peer === undefined && f !== undefined && this.peerConfigured(f.record.home)) {
      peer = f.record.home;
    }
    return peer;
  }

  /** True when `keyId` is a peer relay we have a session with or have configured. */
  peerConfigured(keyId: number): boolean {
    return this.#ctx.links.peerUp(keyId) || this.#peers().configured(keyId);
  }

  /** Family id of a sender key, remembered per session (a hub always sends from one key). */
  fromId(l: RelayLink, key: Uint8Array): FamilyId {
    const c = l.fromCache;
    if (c !== undefined && bytesEqual(c.key, key)) return c.id;
    const id = familyId(this.#ctx.node.backend, key);
    l.fromCache = { key: key.slice(), id };
    return id;
  }

  /** Families homed here. */
  async localFamilies(): Promise<StoredFamily[]> {
    const all = await this.#ctx.store.listFamilies(this.#ctx.node.backend);
    return all.filter((f) => f.local);
  }

  /** FED_ROUTE from a peer: the newest announcement replaces the last one. */
  onRoute(l: RelayLink, seq: number, families: readonly FamilyId[]): void {
    if (l.peer === undefined) throw new MyClerkError(ErrorCode.FORBIDDEN, "not-a-peer");
    if (l.routeSeq < 0 || seq > l.routeSeq) {
      l.routeSeq = seq;
      this.#routes.set(l.peer, new Set(families));
    }
  }

  /** Families peer `peer` announced, how many. */
  routeCount(peer: number): number {
    return this.#routes.get(peer)?.size ?? 0;
  }

  /** Tells a peer relay every family homed here (FED_ROUTE) and their records. */
  async announceTo(l: RelayLink): Promise<void> {
    // The seq is taken in call order, so the peer keeps the newest view however replies interleave.
    const seq = ++this.#routeSeq;
    const local = await this.localFamilies();
    if (l.closed) return;
    sendFed(l.link, {
      op: FedOp.FED_ROUTE,
      seq,
      families: local.map((f) => f.record.id).slice(0, ROUTE_MAX),
    });
    for (let i = 0; i < local.length; i += RECORDS_PER_MESSAGE) {
      l.link.send(
        DirOp.FED_RECORDS,
        encodeRecords(local.slice(i, i + RECORDS_PER_MESSAGE).map((f) => f.record)),
      );
    }
  }

  /** Announces to every peer relay session (a family was admitted). */
  async announceAll(): Promise<void> {
    await Promise.all([...this.#ctx.links.peerSessions()].map((p) => this.announceTo(p)));
  }

  /** FED_LOOKUP from an admitted hub or a peer: the record, or FED_UNKNOWN_FAMILY. */
  async onLookup(l: RelayLink, family: FamilyId): Promise<void> {
    if (l.family === undefined && l.peer === undefined) {
      throw new MyClerkError(ErrorCode.FORBIDDEN, "not-admitted");
    }
    const f = await this.#ctx.store.getFamily(this.#ctx.node.backend, family);
    if (f === undefined) {
      throw new MyClerkError(ErrorCode.FED_UNKNOWN_FAMILY, "unknown-family", { family });
    }
    l.link.send(DirOp.FED_RECORDS, encodeRecords([f.record]));
  }

  /** FED_RECORDS from a peer: learns records of families it homes (never overriding ours). */
  async onRecords(l: RelayLink, payload: Uint8Array): Promise<void> {
    if (l.peer === undefined) return;
    const now = nowSec();
    const store = this.#ctx.store;
    // A peer may only speak for families it homes.
    const recs = decodeRecords(this.#ctx.node.backend, payload).filter((r) => r.home === l.peer);
    const have = await Promise.all(recs.map((r) => store.getFamily(this.#ctx.node.backend, r.id)));
    // Never overriding ours; the writes are issued together so their syncs are one group.
    await Promise.all(
      recs.filter((_, i) => !have[i]?.local).map(async (rec) => {
        // Forgotten at the call (a store that commits at once) and again once it is committed.
        const put = store.putFamily(rec, false, now);
        this.forget(rec.id);
        await put;
        this.forget(rec.id);
      }),
    );
  }
}
