/**
 * The relay role (docs/FEDERATION.md §8, §10.3): admission of hubs, routing
 * by family id, durable ingest with group commit before FED_ACK "stored",
 * backlog delivery with credit-based flow control, ack -> delete, TTL
 * expiry notices, quotas, per-family rate limits by delaying reads, bounded
 * per-connection pushing, relay<->relay peering with route announcements,
 * records and forwarding through peer queues in the store, and a
 * graceful-restart notice on shutdown.
 *
 * This module is the facade (start, stop, config reload, the node route);
 * each job is one module of this folder: `links.ts` (sessions),
 * `dispatch.ts`, `hello.ts`, `admission.ts`, `routes.ts`, `ingest.ts`,
 * `handoff.ts`, `push.ts`, `expiry.ts`, `status.ts`, `peers.ts`. The store is any
 * {@link RelayStore} the caller opens (SQLite in `service.ts`, Deno KV at
 * the edge): nothing here imports a store implementation.
 *
 * The relay never holds a family private key: it reads only the routing
 * fields of FED_DELIVER and the envelope header (checkRouting).
 *
 * @module
 */

import type { Node } from "../../core/node/node.ts";
import type { RawConnection, Route } from "../../core/node/dispatch.ts";
import { keyIdHex } from "../../core/node/keys.ts";
import { inboundLink, sendFed } from "../link.ts";
import { FedOp } from "../messages.ts";
import { FED } from "../metrics.ts";
import { FED_RANGE, isFedOpcode } from "../ops.ts";
import { ERROR_OP } from "../directory.ts";
import type { OutboundLink } from "../outbound.ts";
import type { RelayStore } from "../store/types.ts";
import { Admission, hubKeyFile, HubKeys, type HubKeyStore } from "./admission.ts";
import type { FedConfig, RelayContext } from "./context.ts";
import { Dispatch } from "./dispatch.ts";
import { Expiry } from "./expiry.ts";
import { Hello } from "./hello.ts";
import { Ingest } from "./ingest.ts";
import { LinkRegistry, RelayLink } from "./links.ts";
import { mergePeers, PeerDialer, PeerIndex, type PeerSpec } from "./peers.ts";
import { Push } from "./push.ts";
import { Routes } from "./routes.ts";
import { RelayStatus } from "./status.ts";

export type { FedConfig } from "./context.ts";
export { hubKeyFile, type HubKeyStore } from "./admission.ts";
export { DEFAULT_WINDOW_BYTES, MAX_SESSION_CREDIT } from "./links.ts";
export { mergePeers, parsePeer, type PeerSpec } from "./peers.ts";
export { deliverWireBytes } from "./push.ts";
export { envelopeExpiry } from "./ingest.ts";
export { syncCounter } from "./status.ts";

/** Options of {@link Relay.start}. */
export interface RelayOptions {
  /** Peer relays to dial from `--peer` (config `federation.peers` are added, and reloaded). */
  readonly peers: readonly PeerSpec[];
  /** Invite token key. */
  readonly tokenKey: Uint8Array;
  /** The store (opened by the caller; closed by {@link Relay.stop}). */
  readonly store: RelayStore;
  /** Where admitted hub keys are recorded (default: `federation-hubs.json` in the data directory). */
  readonly hubKeys?: HubKeyStore;
}

/** Time given to the FED_RESTART notices to leave at shutdown, ms. */
const RESTART_DRAIN_MS = 50;
/** The node route's name. */
const ROUTE_NAME = "federation";

/** The relay of one node. */
export class Relay {
  /** The node this relay runs in (its sessions, metrics and config). */
  readonly node: Node;
  /** The relay's store. */
  readonly store: RelayStore;
  #cfg: FedConfig;
  #stopping = false;
  readonly #cliPeers: readonly PeerSpec[];
  #peers: PeerIndex;
  readonly #links = new LinkRegistry();
  readonly #ctx: RelayContext;
  readonly #routes: Routes;
  readonly #push: Push;
  readonly #expiry: Expiry;
  readonly #ingest: Ingest;
  readonly #hello: Hello;
  readonly #status: RelayStatus;
  readonly #dispatch: Dispatch;
  readonly #dialer: PeerDialer;
  #unhookReload?: () => void;

  private constructor(node: Node, o: RelayOptions, hubKeys: HubKeys) {
    this.node = node;
    this.store = o.store;
    this.#cfg = node.config.federation;
    this.#cliPeers = o.peers;
    this.#peers = new PeerIndex(node.backend, mergePeers(o.peers, this.#cfg), this.#cfg);
    const cfg = () => this.#cfg;
    const stopping = () => this.#stopping;
    this.#ctx = {
      node,
      store: o.store,
      links: this.#links,
      get cfg() {
        return cfg();
      },
      get stopping() {
        return stopping();
      },
      drop: (reason) => node.metrics.inc(FED.drops, { reason }),
    };
    const peers = () => this.#peers;
    const ctx = this.#ctx;
    this.#routes = new Routes(ctx, peers);
    this.#push = new Push(ctx);
    this.#expiry = new Expiry(ctx, this.#routes);
    this.#ingest = new Ingest(ctx, this.#routes, this.#push);
    this.#status = new RelayStatus(ctx, this.#routes, peers);
    this.#hello = new Hello(ctx, {
      routes: this.#routes,
      push: this.#push,
      expiry: this.#expiry,
      peers,
      hubKeys: hubKeys.map,
    });
    const admission = new Admission(ctx, {
      tokenKey: o.tokenKey,
      hubKeys,
      hello: this.#hello,
      routes: this.#routes,
      changed: () => this.#status.refresh(),
    });
    this.#dispatch = new Dispatch(ctx, {
      hello: this.#hello,
      admission,
      ingest: this.#ingest,
      push: this.#push,
      routes: this.#routes,
      expiry: this.#expiry,
    });
    this.#dialer = new PeerDialer(node, {
      onLink: (link) => this.#onDialed(link),
      onDown: (link) => this.#onDialedDown(link),
    });
  }

  /** Starts the relay on a running node: route, hooks, metrics, sweeps, peer dialers. */
  static async start(node: Node, o: RelayOptions): Promise<Relay> {
    const keys = await HubKeys.load(o.hubKeys ?? hubKeyFile(node.config.data));
    const r = new Relay(node, o, keys);
    r.store.setDefaultQuota({ messages: r.#cfg.quotaMessages, bytes: r.#cfg.quotaBytes });
    r.store.setMaxTtl(r.#cfg.maxTtl);
    node.addRoute(r.route());
    node.hooks.onClosed.push((c) => r.#onClosed(c));
    await r.#status.start();
    r.#expiry.start(r.#cfg.sweepMs);
    r.#dialer.apply(r.#peers.specs, r.#cfg);
    r.#unhookReload = node.onReload("federation", (cfg) => {
      r.applyConfig(cfg.federation);
    });
    node.log.info("relay started", {
      store: r.store.kind,
      families: r.#status.snapshot.localFamilies,
      peers: o.peers.map((p) => p.addr),
    });
    return r;
  }

  /** Families homed here, from the cached store snapshot (health checks). */
  get localFamilies(): number {
    return this.#status.snapshot.localFamilies;
  }

  /**
   * Applies a reloaded `federation` config (SIGHUP, `Node#onReload`) without
   * dropping sessions: rate limits, default quota and max TTL, limits
   * (max message, send queue mark, credit rules see it at the next push),
   * the sweep period, and peers (new ones dialed, removed ones stopped and
   * their sessions closed; allow-lists checked at the next FED_HELLO).
   * Families' own quotas (`family quota`) are in the store and apply at
   * once without a reload. Returns what changed.
   */
  applyConfig(next: FedConfig): string[] {
    const prev = this.#cfg;
    const changed = Object.keys(next).filter((k) =>
      JSON.stringify((prev as Record<string, unknown>)[k]) !==
        JSON.stringify((next as Record<string, unknown>)[k])
    );
    this.#cfg = next;
    this.#ingest.applyConfig(prev, next);
    this.store.setDefaultQuota({ messages: next.quotaMessages, bytes: next.quotaBytes });
    this.store.setMaxTtl(next.maxTtl);
    if (prev.sweepMs !== next.sweepMs && !this.#stopping) this.#expiry.start(next.sweepMs);
    this.#peers = new PeerIndex(this.node.backend, mergePeers(this.#cliPeers, next), next);
    if (!this.#stopping) this.#dialer.apply(this.#peers.specs, next);
    // Inbound peer sessions no longer allowed end; hubs get pushes under the new limits.
    for (const l of this.#links.inboundLinks()) {
      if (l.role === "relay" && !this.#hello.peerAllowed(l)) l.link.close("peer-removed");
    }
    this.#push.pumpAllHubs();
    this.node.log.info("federation config applied", {
      changed,
      peers: this.#peers.specs.map((p) => p.addr),
    });
    return changed;
  }

  /** The raw route for the federation range (0x0300-0x03FF, federation/ops.ts). */
  route(): Route {
    return {
      name: ROUTE_NAME,
      first: FED_RANGE.first,
      last: FED_RANGE.last,
      raw: (conn, op, payload) => {
        const l = this.#links.inbound(conn, () => inboundLink(conn));
        return this.#dispatch.handle(l, op, payload);
      },
    };
  }

  /** Group commit now: stores what is batched; resolves once it is committed. */
  flush(): Promise<void> {
    return this.#ingest.flush();
  }

  /** One expiry sweep: deletes expired messages, tells the senders' hubs. */
  sweep(): Promise<void> {
    return this.#expiry.sweep();
  }

  /** What `status` shows for the relay role. */
  status(): Promise<Record<string, unknown>> {
    return this.#status.status();
  }

  #onDialed(link: OutboundLink): void {
    const l = new RelayLink(link);
    this.#links.addOutbound(l);
    link.onMessage((op, bytes) => {
      // As on inbound sessions, only the federation range (and ERROR) is the relay's.
      if (!isFedOpcode(op) && op !== ERROR_OP) return;
      l.serial(() => {
        const wasUp = l.role === "relay";
        const r = this.#dispatch.handle(l, op, bytes);
        const up = () => {
          if (!wasUp && l.role === "relay") link.markUp();
        };
        if (r instanceof Promise) return r.then(up);
        up();
      });
    });
    this.#hello.helloFor("relay").then((hello) => {
      if (!l.closed) sendFed(link, hello);
    }, (e) => {
      this.node.log.error("peer hello failed", { peer: link.remote, error: String(e) });
      link.close();
    });
  }

  #onDialedDown(link: OutboundLink): void {
    for (const l of this.#links.all()) {
      if (l.link !== link) continue;
      this.#links.removeOutbound(l);
      this.#detach(l);
    }
  }

  #onClosed(c: RawConnection): void {
    const l = this.#links.closedConn(c);
    if (l !== undefined) this.#detach(l);
  }

  #detach(l: RelayLink): void {
    const d = this.#links.detach(l);
    // What was handed off to it and not acked goes to the store (its senders have no ack yet).
    this.#ingest.released(l);
    if (l.family !== undefined) {
      this.node.log.info("hub disconnected", { family: l.family, pushed: l.pushed });
    }
    if (d.peerDown !== undefined) {
      this.node.log.info("peer relay down", { peer: keyIdHex(d.peerDown) });
    }
    // Another session to the same peer takes over the peer queue from its start.
    if (d.peerStillUp !== undefined) this.#push.pumpPeer(d.peerStillUp);
  }

  /**
   * Graceful stop: stores what is batched and sends its "stored" acks,
   * sends FED_RESTART to every session (priority lane), stops dialing,
   * closes the store. The node closes the connections afterwards.
   */
  async stop(reason = "shutdown"): Promise<void> {
    if (this.#stopping) return;
    await this.#ingest.drain();
    this.#stopping = true;
    this.#unhookReload?.();
    this.#expiry.stop();
    const after = this.#cfg.restartAfterMs;
    const all = this.#links.all();
    for (const l of all) {
      l.cancelTimer();
      sendFed(l.link, { op: FedOp.FED_RESTART, after, reason }, true);
    }
    this.node.log.info("relay stopping", { sessions: all.length, restartAfterMs: after });
    await this.#dialer.stop();
    // Give the restart notices a moment to leave before the node closes sessions.
    await new Promise((r) => setTimeout(r, RESTART_DRAIN_MS));
    this.node.removeRoute(ROUTE_NAME);
    await this.store.close();
  }
}
