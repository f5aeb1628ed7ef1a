/**
 * The hub role (docs/FEDERATION.md §8): a family's home node. Keeps a
 * session to its relay (hub/session.ts, on federation/outbound.ts), keeps
 * FED_FETCH credit topped up, opens envelopes with the family key, hands
 * each message to the application exactly once (hub/inbox.ts: the store's
 * inbox, deduped in the same transaction), acks "delivered" after that
 * commit, and resends its outbox until a relay acks "stored"
 * (hub/outbox.ts). Family records: hub/records.ts. `hub join`: hub/join.ts.
 *
 * The store is whatever {@link HubStore} the caller passes (service.ts opens
 * the SQLite one); the hub closes it on {@link Hub.stop}.
 *
 * @module
 */

import { ErrorCode, MyClerkError } from "../../core/errors.ts";
import type { Identity } from "../../core/session/handshake.ts";
import type { Node } from "../../core/node/node.ts";
import { FED } from "../metrics.ts";
import type { FamilyId, FamilyRecord } from "../family.ts";
import { readFamilyKey, readHubState } from "../files.ts";
import type { HubStore, OutboxCounts } from "../store/types.ts";
import type { DialTarget } from "../outbound.ts";
import { type FedConfig, type HubContext, nowSec } from "./context.ts";
import { Inbox } from "./inbox.ts";
import { Outbox, type SendResult } from "./outbox.ts";
import { Records } from "./records.ts";
import { HubSession } from "./session.ts";

export { joinRelay, type JoinResult } from "./join.ts";
export type { SendResult } from "./outbox.ts";

/** Options of {@link Hub.start}. */
export interface HubOptions {
  /**
   * The hub's store, or a function opening it (called once the family
   * files were found, so a data directory without a family gets no store).
   */
  readonly store: HubStore | (() => HubStore | Promise<HubStore>);
  /** Relays to dial besides the one `hub join` recorded (`--relay`). */
  readonly relays?: readonly string[];
}

/** The hub of one node. */
export class Hub {
  /** The node this hub runs in (its sessions, metrics and config). */
  readonly node: Node;
  /** The hub's store: outbox, inbox, dedupe, record cache. */
  readonly store: HubStore;
  /** The family key pair (`<data>/family.key`): seals outgoing and opens incoming messages. */
  readonly family: Identity;
  /** This hub's family id. */
  readonly familyId: FamilyId;
  /** Called each time a relay session becomes ready (hello exchanged, first FED_FETCH sent); push a callback to hear of (re)connects. */
  readonly connectedListeners: (() => void)[] = [];
  readonly #cfg: FedConfig;
  readonly #relays: readonly DialTarget[];
  readonly #session: HubSession;
  readonly #outbox: Outbox;
  readonly #inbox: Inbox;
  readonly #records: Records;
  #stopping = false;
  #sweepTimer?: ReturnType<typeof setInterval>;
  #counts: OutboxCounts = { pending: 0, stored: 0, expired: 0, refused: 0 };
  #inboxCount = 0;
  #refreshTimer?: ReturnType<typeof setTimeout>;

  private constructor(
    node: Node,
    family: Identity,
    familyId: FamilyId,
    relays: readonly DialTarget[],
    store: HubStore,
  ) {
    this.node = node;
    this.family = family;
    this.familyId = familyId;
    this.store = store;
    this.#cfg = node.config.federation;
    this.#relays = relays;
    // deno-lint-ignore no-this-alias -- the context's getters read the hub's live state
    const hub = this;
    const ctx: HubContext = {
      node,
      store,
      family,
      familyId,
      get cfg() {
        return hub.#cfg;
      },
      get ready() {
        return hub.#session.ready;
      },
      get generation() {
        return hub.#session.generation;
      },
      get queuedBytes() {
        return hub.#session.queuedBytes;
      },
      get stopping() {
        return hub.#stopping;
      },
      send: (op, p, prio) => this.#session.send(op, p, prio),
      closeSession: () => this.#session.close(),
      changed: () => this.#refresh(),
    };
    this.#outbox = new Outbox(ctx);
    this.#inbox = new Inbox(ctx);
    this.#records = new Records(ctx);
    this.#session = new HubSession(node, this.#cfg, familyId, relays, {
      onReady: () => {
        this.#inbox.onReady();
        this.#outbox.onReady();
        for (const f of this.connectedListeners) f();
      },
      onDown: () => this.#outbox.onDown(),
      onDeliver: (m) => this.#inbox.onDeliver(m),
      onStored: (mids) => this.#outbox.onStored(mids),
      onExpired: (m) => this.#outbox.onExpired(m),
      onRefused: (e, mid) => this.#outbox.onRefused(e, mid),
      onRecords: (b) => this.#records.onRecords(b),
      onLookupError: (e) => this.#records.onLookupError(e),
    });
  }

  /**
   * Starts the hub role: needs `family create` (family.key); `relays` adds
   * to the relay recorded by `hub join`.
   */
  static async start(node: Node, o: HubOptions): Promise<Hub> {
    const be = node.backend;
    const family = await readFamilyKey(be, node.config.data);
    const state = await readHubState(be, node.config.data);
    if (state === undefined) {
      throw new MyClerkError(ErrorCode.BAD_REQUEST, "no-family", {
        fix: "run `family create NAME --data DIR` on this hub first",
      });
    }
    const list: { addr: string; key?: Uint8Array }[] = [];
    if (state.relay) list.push({ addr: state.relay.addr, key: state.relay.key });
    for (const a of [...(o.relays ?? []), ...node.config.federation.relays]) {
      if (!list.some((r) => r.addr === a)) list.push({ addr: a });
    }
    const store = typeof o.store === "function" ? await o.store() : o.store;
    const hub = new Hub(node, family, state.id, list, store);
    if (state.record) await store.putRecord(state.record, nowSec());
    hub.#describe();
    await hub.#readCounts();
    hub.#sweepTimer = setInterval(() => {
      const now = nowSec();
      Promise.all([store.sweepSeen(now), store.pruneStored(now - 24 * 3600)])
        .then(() => hub.#refresh())
        .catch((e) => node.log.error("hub sweep failed", { error: String(e) }));
    }, 60_000);
    if (list.length === 0) {
      node.log.warn("hub has no relay: run `hub join RELAY TOKEN` or pass --relay", {
        family: state.id,
      });
    } else {
      hub.#session.start();
    }
    node.log.info("hub started", {
      family: state.id,
      name: state.name,
      relays: list.map((r) => r.addr),
      joined: state.relay !== undefined,
    });
    return hub;
  }

  #describe(): void {
    const m = this.node.metrics;
    m.register(FED);
    // Gauges are read synchronously: they show the counts read at most 0.5 s after a change.
    m.gauge(FED.outboxPending, () => this.#counts.pending);
    m.gauge(FED.inboxMessages, () => this.#inboxCount);
    m.gauge(FED.hubConnected, () => (this.#session.ready ? 1 : 0));
  }

  /**
   * The store changed: re-read the counts behind the gauges, at most every
   * 500 ms (a COUNT per received batch would cost the hot path).
   */
  #refresh(): void {
    if (this.#refreshTimer !== undefined || this.#stopping) return;
    this.#refreshTimer = setTimeout(() => {
      this.#refreshTimer = undefined;
      void this.#readCounts();
    }, 500);
  }

  async #readCounts(): Promise<void> {
    try {
      this.#counts = await this.store.outboxCounts();
      this.#inboxCount = await this.store.inboxCount();
    } catch (e) {
      if (!this.#stopping) this.node.log.warn("hub counts failed", { error: String(e) });
    }
  }

  /** True while a session to the relay is up and greeted. */
  get connected(): boolean {
    return this.#session.ready;
  }

  /** The record of family `to`: cached, else asked of the relay (FED_LOOKUP). */
  lookup(to: FamilyId, timeoutMs = 5000): Promise<FamilyRecord> {
    return this.#records.lookup(to, timeoutMs);
  }

  /**
   * Seals `body` to family `to`, stores it in the outbox (durable), sends it
   * when connected. With `waitMs`, resolves with the state after the relay's
   * answer ("stored", "refused: …") or "pending" on timeout.
   */
  async send(
    to: FamilyId,
    body: Uint8Array,
    o: { ttl?: number; waitMs?: number } = {},
  ): Promise<SendResult> {
    const rec = await this.lookup(to);
    return await this.#outbox.send(rec, body, o);
  }

  /** What `status` shows for the hub role (counts read from the store now). */
  async status(): Promise<Record<string, unknown>> {
    return {
      family: this.familyId,
      connected: this.#session.ready,
      relays: this.#relays.map((r) => r.addr),
      connects: this.#session.connects,
      outbox: await this.store.outboxCounts(),
      inflight: this.#outbox.inflight,
      inbox: await this.store.inboxCount(),
    };
  }

  /** Stops reconnecting, stores what arrived, closes the session and the store. */
  async stop(): Promise<void> {
    if (this.#stopping) return;
    this.#stopping = true;
    clearInterval(this.#sweepTimer);
    clearTimeout(this.#refreshTimer);
    this.#outbox.stop();
    await this.#inbox.flush();
    await this.#session.stop();
    this.#outbox.stop();
    await this.store.close();
  }
}
