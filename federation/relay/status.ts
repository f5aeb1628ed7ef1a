/**
 * What the relay shows: the `/metrics` gauges and the `status` document.
 * The store's numbers come from `stats()`, which is asynchronous (and
 * scans the queue: ~1 s for 100,000 queued messages on the 2-core test
 * machine): the gauges read a cached snapshot, refreshed when a scrape
 * finds it older than {@link STATS_REFRESH_MS} (or than ten times the last
 * read took, so reading stays under a tenth of the event loop) and when the
 * relay changes what it counts (an admission); that scrape shows the
 * previous numbers. No timer reads it while nobody scrapes. `status()`
 * reads the store afresh.
 *
 * @module
 */

import { keyIdHex } from "../../core/node/keys.ts";
import type { Metrics } from "../../core/node/metrics.ts";
import { FED } from "../metrics.ts";
import type { StoreStats } from "../store/types.ts";
import type { RelayContext } from "./context.ts";
import type { PeerIndex } from "./peers.ts";
import type { Routes } from "./routes.ts";

/** Age at which a scrape refreshes the gauges' store snapshot, ms (at least). */
export const STATS_REFRESH_MS = 1000;

const EMPTY: StoreStats = {
  families: 0,
  localFamilies: 0,
  queuedMessages: 0,
  queuedBytes: 0,
  mailboxes: [],
  peers: [],
  invitesOpen: 0,
  dedupeEntries: 0,
  pendingNotices: 0,
};

/**
 * The store's sync hook for the relay's counters
 * (`myclerk_federation_wal_syncs_total`, `..._wal_sync_failures_total`):
 * pass it to a store that reports its group syncs (SQLite `onSync`).
 */
export function syncCounter(metrics: Metrics): (error?: unknown) => void {
  metrics.register(FED);
  return (error) => metrics.inc(error === undefined ? FED.walSyncs : FED.syncFailures);
}

/** Age in seconds of the oldest of `qs` (0 when empty); `oldest` in seconds or ms. */
function oldestAge(qs: readonly { readonly oldest: number }[]): number {
  const o = Math.min(...qs.map((q) => q.oldest).filter((x) => x > 0));
  return Number.isFinite(o) ? Math.max(0, Date.now() / 1000 - (o > 1e12 ? o / 1000 : o)) : 0;
}

/** The relay's gauges and status. */
export class RelayStatus {
  readonly #ctx: RelayContext;
  readonly #routes: Routes;
  readonly #peers: () => PeerIndex;
  #snap: StoreStats = EMPTY;
  #at = 0;
  #refreshing?: Promise<void>;
  #queued?: Promise<void>;
  /** How long the last read took, ms. */
  #cost = 0;

  /** Status over `ctx`. */
  constructor(ctx: RelayContext, routes: Routes, peers: () => PeerIndex) {
    this.#ctx = ctx;
    this.#routes = routes;
    this.#peers = peers;
  }

  /** The store snapshot the gauges show. */
  get snapshot(): StoreStats {
    return this.#snap;
  }

  /** Registers the gauges and reads the first snapshot. */
  async start(): Promise<void> {
    const ctx = this.#ctx;
    const m = ctx.node.metrics;
    m.register(FED);
    const snap = () => {
      if (Date.now() - this.#at > Math.max(STATS_REFRESH_MS, 10 * this.#cost)) {
        void this.refresh();
      }
      return this.#snap;
    };
    m.gauge(FED.hubsConnected, () => ctx.links.hubCount);
    m.gauge(FED.peersConnected, () => ctx.links.peerCount);
    m.gauge(FED.queueMessages, () => snap().queuedMessages);
    m.gauge(FED.queueBytes, () => snap().queuedBytes);
    m.gauge(FED.familiesLocal, () => snap().localFamilies);
    m.gauge(FED.queueAge, () => oldestAge(snap().mailboxes), { lane: "mailbox" });
    m.gauge(FED.queueAge, () => oldestAge(snap().peers), { lane: "peer" });
    await this.refresh();
  }

  /**
   * Reads a new snapshot; resolves once one that started after this call
   * is in (calls during a read share the next one).
   */
  refresh(): Promise<void> {
    if (this.#refreshing === undefined) {
      this.#refreshing = this.#read().finally(() => this.#refreshing = undefined);
      return this.#refreshing;
    }
    this.#queued ??= this.#refreshing.then(() => {
      this.#queued = undefined;
      return this.refresh();
    });
    return this.#queued;
  }

  async #read(): Promise<void> {
    const t0 = Date.now();
    try {
      this.#snap = await this.#ctx.store.stats();
      this.#at = Date.now();
      this.#cost = this.#at - t0;
    } catch (e) {
      // A closed or failing store keeps the last numbers; the log says why.
      if (!this.#ctx.stopping) {
        this.#ctx.node.log.warn("store stats failed", { error: String(e) });
      }
    }
  }

  /** What `status` shows for the relay role (read from the store now). */
  async status(): Promise<Record<string, unknown>> {
    const ctx = this.#ctx;
    const st = await ctx.store.stats();
    this.#snap = st;
    this.#at = Date.now();
    const peerIds = [...new Set([...ctx.links.peerIds(), ...st.peers.map((p) => p.peer)])];
    const peers = await Promise.all(peerIds.map(async (peer) => ({
      keyId: keyIdHex(peer),
      connected: ctx.links.peerUp(peer),
      routes: this.#routes.routeCount(peer),
      ...await ctx.store.queueStatus({ kind: "peer", peer }),
    })));
    return {
      keyId: keyIdHex(ctx.node.identity.keyId),
      hubs: [...ctx.links.hubFamilies()].map(([family, set]) => ({
        family,
        sessions: set.size,
        credit: [...set].reduce((n, l) => n + l.credit, 0),
        inflight: [...set].reduce((n, l) => n + l.inflightCount, 0),
      })),
      peers,
      configuredPeers: this.#peers().specs.map((p) => p.addr),
      families: st.families,
      localFamilies: st.localFamilies,
      queuedMessages: st.queuedMessages,
      queuedBytes: st.queuedBytes,
      mailboxes: st.mailboxes,
      invitesOpen: st.invitesOpen,
      pendingNotices: st.pendingNotices,
    };
  }
}
