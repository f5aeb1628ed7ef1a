/**
 * The relay role (docs/FEDERATION.md §8): admission of hubs, routing by
 * family id, durable ingest with group commit before FED_ACK "stored",
 * backlog delivery with credit-based flow control, ack -> delete, TTL
 * expiry notices, quotas, per-family rate limits by delaying reads, bounded
 * per-connection pushing (a stalled hub never holds up others: the store
 * holds what its queue cannot), relay<->relay peering with route
 * announcements, records, forwarding through peer queues in the store, and
 * a graceful-restart notice on shutdown.
 *
 * The relay never holds a family private key: it reads only the routing
 * fields of FED_DELIVER and the envelope header (checkRouting).
 *
 * @module
 */

import { ErrorCode, errorName, isMyClerkError, MyClerkError } from "../core/errors.ts";
import type { Node } from "../core/node/node.ts";
import type { NodeConfig } from "../core/node/config.ts";
import type { RawConnection, Route } from "../core/node/dispatch.ts";
import { Client } from "../core/node/client.ts";
import { dialError, logFailure } from "../core/cli/oserror.ts";
import { keyIdHex } from "../core/node/keys.ts";
import { Backoff } from "./backoff.ts";
import { FED } from "./metrics.ts";
import { toHex } from "./bytes.ts";
import { decodeFedMap } from "./codec.ts";
import {
  decodeFedError,
  decodeLookup,
  decodeRecords,
  DirOp,
  encodeRecords,
  ERROR_OP,
} from "./directory.ts";
import { checkRouting, type KnownFamilyKey } from "./envelope.ts";
import { type FamilyId, familyId, familyKeyId } from "./family.ts";
import { paths, readHubKeys, writeHubKeys } from "./files.ts";
import { checkAdmission } from "./invite.ts";
import { inboundLink, type Link, outboundLink, sendFed, sendFedError } from "./link.ts";
import {
  decodeFed,
  FED_VERSION,
  type FedDeliver,
  type FedMessage,
  FedOp,
  MAX_HOPS,
  MAX_MIDS,
} from "./messages.ts";
import { RateLimiter } from "./ratelimit.ts";
import {
  type EnqueueResult,
  FedStore,
  type Lane,
  type QueueInput,
  type StoredFamily,
  storeError,
} from "./store.ts";

/** The `federation` section of the node config (docs/OPERATOR.md, config keys). */
export type FedConfig = NodeConfig["federation"];

/** A configured peer relay: address and pinned identity. */
export interface PeerSpec {
  /** Address to dial (`host:port`). */
  readonly addr: string;
  /** Pinned key id (u32) of the peer's static key (`HOST:PORT@KEYID`). */
  readonly keyId?: number;
  /** Pinned static public key of the peer, 32 bytes (`HOST:PORT@PUBKEY`). */
  readonly key?: Uint8Array;
}

/**
 * Parses `--peer` values: `HOST:PORT@KEYID` (8 hex digits) or
 * `HOST:PORT@PUBKEY` (64 hex digits). A peer without a pinned key is
 * refused: relay peering is mutually authenticated (BAD_REQUEST `peer`).
 */
export function parsePeer(s: string): PeerSpec {
  const m = /^(.+)@([0-9a-f]{8}|[0-9a-f]{64})$/.exec(s);
  if (!m) {
    throw new MyClerkError(ErrorCode.BAD_REQUEST, "peer", {
      value: s,
      fix: "write HOST:PORT@KEYID (the peer's key id from `keys show`) or HOST:PORT@PUBLICKEY",
    });
  }
  if (m[2].length === 8) return { addr: m[1], keyId: parseInt(m[2], 16) };
  const key = new Uint8Array(32);
  for (let i = 0; i < 32; i++) key[i] = parseInt(m[2].slice(2 * i, 2 * i + 2), 16);
  return { addr: m[1], key };
}

/** Per-session state. */
interface LinkState {
  readonly link: Link;
  role?: "hub" | "relay";
  /** Hub: the admitted family this session serves. */
  family?: FamilyId;
  /** Relay: the peer's key id. */
  peer?: number;
  // mailbox push (hub sessions)
  credit: number;
  cursor: number;
  /**
   * True when the store holds nothing for this session past `cursor`: a
   * message committed now may be pushed from memory (no SQLite read).
   * Cleared whenever one is left in the store (no credit, full send queue,
   * byte cap), set again when a store fetch comes back short.
   */
  caughtUp: boolean;
  /** Byte window (FED_FETCH `max-bytes`, else {@link DEFAULT_WINDOW_BYTES}): most unacked sealed bytes. */
  window: number;
  readonly inflight: Map<string, number>;
  inflightBytes: number;
  pushed: number;
  // peer lane push (relay sessions)
  peerCursor: number;
  readonly peerInflight: Map<string, FamilyId>;
  routeSeq: number;
  restartAfter?: number;
  timer?: ReturnType<typeof setTimeout>;
  closed: boolean;
  /** Last sender key seen in a FED_DELIVER and its family id. */
  fromCache?: { readonly key: Uint8Array; readonly id: FamilyId };
}

interface Pending {
  readonly ls: LinkState;
  readonly lane: Lane;
  readonly msg: QueueInput;
}

/** Options of {@link Relay.start}. */
export interface RelayOptions {
  /** Peer relays to dial (from config and `--peer`). */
  readonly peers: readonly PeerSpec[];
  /** Invite token key. */
  readonly tokenKey: Uint8Array;
  /** The store (opened by the caller; closed by {@link Relay.stop}). */
  readonly store: FedStore;
}

const nowSec = () => Math.floor(Date.now() / 1000);
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const PUSH_BATCH = 64;
/**
 * Byte window of a hub session that never sent FED_FETCH `max-bytes`
 * (FEDERATION.md §5 "Delivery credit"): 4 MiB of unacked sealed bytes.
 */
export const DEFAULT_WINDOW_BYTES = 4 * 1_048_576;
/**
 * Upper bound of the bytes one FED_DELIVER of `sealed` bytes adds to a send
 * queue: the map around the envelope, plus the header and trailer of every
 * wire fragment (at most one per 64 KiB even with the smallest allowed wire limit).
 */
export function deliverWireBytes(sealed: number): number {
  return sealed + 1024 + Math.ceil(sealed / 65_536) * 128;
}
const PEER_WINDOW = 1024;
const FLUSH_AT = 512;

/** The relay of one node. */
export class Relay {
  /** The node this relay runs in (its sessions, metrics and config). */
  readonly node: Node;
  /** The relay's store (`<data>/federation.db`). */
  readonly store: FedStore;
  #cfg: FedConfig;
  readonly #data: string;
  readonly #tokenKey: Uint8Array;
  /** Peers from `--peer` (fixed for the process). */
  readonly #cliPeers: readonly PeerSpec[];
  /** Every peer dialed: `--peer` and config `federation.peers` (replaced on reload). */
  #peers: readonly PeerSpec[];
  readonly #links = new Map<RawConnection, LinkState>();
  readonly #outLinks = new Set<LinkState>();
  readonly #hubs = new Map<FamilyId, Set<LinkState>>();
  readonly #peerLinks = new Map<number, Set<LinkState>>();
  /** Families each peer announced (FED_ROUTE), by peer key id. */
  readonly #routes = new Map<number, ReadonlySet<FamilyId>>();
  #hubKeys = new Map<string, FamilyId>();
  /** Decoded family records (decoding verifies two hashes: too slow per message). */
  readonly #families = new Map<FamilyId, StoredFamily | null>();
  #limiter: RateLimiter;
  #batch: Pending[] = [];
  #flushTimer?: ReturnType<typeof setTimeout>;
  #sweepTimer?: ReturnType<typeof setInterval>;
  #routeSeq = 0;
  #stopping = false;
  readonly #dialers = new Map<string, { stop: () => void; done: Promise<void> }>();
  #unhookReload?: () => void;
  #hubKeysWrite: Promise<void> = Promise.resolve();

  private constructor(node: Node, o: RelayOptions) {
    this.node = node;
    this.store = o.store;
    this.#cfg = node.config.federation;
    this.#data = node.config.data;
    this.#tokenKey = o.tokenKey;
    this.#cliPeers = o.peers;
    this.#peers = mergePeers(o.peers, this.#cfg);
    this.#limiter = new RateLimiter({ rate: this.#cfg.rate, burst: this.#cfg.burst });
  }

  /** Starts the relay on a running node: route, hooks, metrics, sweeps, peer dialers. */
  static async start(node: Node, o: RelayOptions): Promise<Relay> {
    const r = new Relay(node, o);
    r.#hubKeys = await readHubKeys(node.config.data);
    node.addRoute(r.route());
    node.hooks.onClosed.push((c) => r.#onClosed(c));
    r.#describe();
    r.#sweepTimer = setInterval(() => r.sweep(), r.#cfg.sweepMs);
    for (const p of r.#peers) r.#dialers.set(peerKey(p), r.#dial(p));
    r.#unhookReload = node.onReload("federation", (cfg) => {
      r.applyConfig(cfg.federation);
    });
    node.log.info("relay started", {
      store: paths(node.config.data).relayDb,
      families: r.store.stats().localFamilies,
      peers: o.peers.map((p) => p.addr),
    });
    return r;
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
    if (prev.rate !== next.rate || prev.burst !== next.burst) {
      this.#limiter = new RateLimiter({ rate: next.rate, burst: next.burst });
    }
    this.store.setDefaultQuota({ messages: next.quotaMessages, bytes: next.quotaBytes });
    this.store.setMaxTtl(next.maxTtl);
    if (prev.sweepMs !== next.sweepMs && !this.#stopping) {
      clearInterval(this.#sweepTimer);
      this.#sweepTimer = setInterval(() => this.sweep(), next.sweepMs);
    }
    const wanted = mergePeers(this.#cliPeers, next);
    const keys = new Set(wanted.map(peerKey));
    for (const [k, d] of this.#dialers) {
      if (keys.has(k)) continue;
      d.stop();
      this.#dialers.delete(k);
    }
    this.#peers = wanted;
    if (!this.#stopping) {
      for (const p of wanted) {
        const k = peerKey(p);
        if (!this.#dialers.has(k)) this.#dialers.set(k, this.#dial(p));
      }
    }
    // Inbound peer sessions no longer allowed end; hubs get pushes under the new limits.
    for (const ls of this.#links.values()) {
      if (ls.role === "relay" && !this.#peerAllowed(ls.link)) ls.link.close("peer-removed");
    }
    for (const set of this.#hubs.values()) for (const ls of set) this.#pumpHub(ls);
    this.node.log.info("federation config applied", {
      changed,
      peers: wanted.map((p) => p.addr),
    });
    return changed;
  }

  /** The raw route for 0x0300-0x03FF. */
  route(): Route {
    return {
      name: "federation",
      first: 0x0300,
      last: 0x03ff,
      raw: (conn, op, payload) => {
        let ls = this.#links.get(conn);
        if (ls === undefined) {
          ls = this.#newState(inboundLink(conn));
          this.#links.set(conn, ls);
        }
        return this.#handle(ls, op, payload);
      },
    };
  }

  #newState(link: Link): LinkState {
    return {
      link,
      credit: 0,
      cursor: 0,
      caughtUp: false,
      window: DEFAULT_WINDOW_BYTES,
      inflight: new Map(),
      inflightBytes: 0,
      pushed: 0,
      peerCursor: 0,
      peerInflight: new Map(),
      routeSeq: -1,
      closed: false,
    };
  }

  #describe(): void {
    const m = this.node.metrics;
    m.register(FED);
    m.gauge(FED.hubsConnected, () => [...this.#hubs.values()].reduce((n, s) => n + s.size, 0));
    m.gauge(FED.peersConnected, () => this.#peerLinks.size);
    m.gauge(FED.queueMessages, () => this.store.stats().queuedMessages);
    m.gauge(FED.queueBytes, () => this.store.stats().queuedBytes);
    m.gauge(FED.familiesLocal, () => this.store.stats().localFamilies);
    const age = (qs: readonly { readonly oldest: number }[]) => {
      const o = Math.min(...qs.map((q) => q.oldest).filter((x) => x > 0));
      return Number.isFinite(o) ? Math.max(0, Date.now() / 1000 - (o > 1e12 ? o / 1000 : o)) : 0;
    };
    m.gauge(FED.queueAge, () => age(this.store.stats().mailboxes), { lane: "mailbox" });
    m.gauge(FED.queueAge, () => age(this.store.stats().peers), { lane: "peer" });
  }

  #drop(reason: string): void {
    this.node.metrics.inc(FED.drops, { reason });
  }

  #onClosed(c: RawConnection): void {
    const ls = this.#links.get(c);
    if (ls === undefined) return;
    this.#links.delete(c);
    this.#detach(ls);
  }

  #detach(ls: LinkState): void {
    ls.closed = true;
    clearTimeout(ls.timer);
    if (ls.family !== undefined) {
      const s = this.#hubs.get(ls.family);
      s?.delete(ls);
      if (s?.size === 0) this.#hubs.delete(ls.family);
      this.node.log.info("hub disconnected", { family: ls.family, pushed: ls.pushed });
    }
    if (ls.peer !== undefined) {
      const s = this.#peerLinks.get(ls.peer);
      s?.delete(ls);
      if (s?.size === 0) {
        this.#peerLinks.delete(ls.peer);
        this.node.log.info("peer relay down", { peer: keyIdHex(ls.peer) });
      } else {
        // Another session to the same peer takes over the peer queue from its start.
        this.#pumpPeer(ls.peer);
      }
    }
  }

  // ---- dispatch -------------------------------------------------------------

  #handle(ls: LinkState, op: number, payload: Uint8Array): void | Promise<void> {
    if (this.#stopping || ls.closed) return;
    if (op === ERROR_OP) {
      try {
        const e = decodeFedError(payload);
        this.node.log.warn("peer sent ERROR", {
          peer: keyIdHex(ls.link.keyId),
          code: errorName(e.error.code),
          detail: e.error.detail,
        });
      } catch { /* malformed ERROR from a peer: nothing to do */ }
      return;
    }
    if (op === FedOp.FED_SEALED) {
      // Only ever the opcode inside an envelope's header (FEDERATION.md §4.2).
      this.#drop("fed-sealed-on-session");
      sendFedError(
        ls.link,
        new MyClerkError(ErrorCode.UNSUPPORTED, "fed-sealed-on-session"),
        op,
        requestIdOf(payload),
      );
      return;
    }
    if (!KNOWN_FED_OPS.has(op)) {
      sendFedError(
        ls.link,
        new MyClerkError(ErrorCode.NOT_FOUND, "no-handler"),
        op,
        requestIdOf(payload),
      );
      return;
    }
    try {
      if (op === DirOp.FED_LOOKUP) return this.#onLookup(ls, decodeLookup(payload));
      if (op === DirOp.FED_RECORDS) return this.#onRecords(ls, payload);
      const msg = decodeFed(this.node.backend, op, payload);
      return this.#onMessage(ls, msg);
    } catch (e) {
      const err = isMyClerkError(e)
        ? e
        : new MyClerkError(ErrorCode.INTERNAL_ERROR, "relay", {}, e);
      if (err.code === ErrorCode.INTERNAL_ERROR) {
        this.node.log.error("relay handler failed", { op, error: String(e) });
      }
      this.#drop(err.detail.startsWith("field:") ? "bad-request" : err.detail);
      sendFedError(ls.link, err, op, requestIdOf(payload));
    }
  }

  #onMessage(ls: LinkState, msg: FedMessage): void | Promise<void> {
    switch (msg.op) {
      case FedOp.FED_HELLO:
        return this.#onHello(ls, msg.role, msg.keyId);
      case FedOp.FED_ADMIT:
        return this.#onAdmit(ls, msg);
      case FedOp.FED_DELIVER:
        return this.#onDeliver(ls, msg);
      case FedOp.FED_ACK:
        if (msg.kind === "delivered") {
          if (ls.family === undefined || ls.family !== msg.family) {
            throw new MyClerkError(ErrorCode.FORBIDDEN, "ack-other-family", { family: msg.family });
          }
          // The window reopens whatever the store does next: the hub has these messages.
          for (const mid of msg.mids) {
            const k = toHex(mid);
            ls.inflightBytes -= ls.inflight.get(k) ?? 0;
            ls.inflight.delete(k);
          }
          try {
            // Not fsynced on its own: a lost delete only re-delivers, and the recipient dedupes.
            const n = this.store.ack({ kind: "mailbox" }, msg.family, msg.mids, { durable: false });
            this.node.metrics.inc(FED.acked, { kind: "delivered" }, n);
          } catch (e) {
            // A delete needs WAL space too (disk full): the rows stay, and come again on the
            // hub's next session, where its dedupe drops them. Nothing to tell the hub.
            const err = storeError(e, paths(this.#data).relayDb);
            this.#drop(`ack-${err.detail}`);
            this.node.log.error("ack delete failed", { detail: err.detail, error: String(e) });
          }
          this.#pumpHub(ls);
          return;
        }
        if (ls.peer === undefined) throw new MyClerkError(ErrorCode.FORBIDDEN, "not-a-peer");
        this.#onPeerStored(ls, msg.mids);
        return;
      case FedOp.FED_FETCH:
        if (ls.family === undefined || ls.family !== msg.family) {
          throw new MyClerkError(ErrorCode.FORBIDDEN, "fetch-other-family", { family: msg.family });
        }
        ls.credit = Math.min(ls.credit + msg.credit, 1 << 20);
        if (msg.maxBytes !== undefined) ls.window = msg.maxBytes;
        this.#pumpHub(ls);
        return;
      case FedOp.FED_ROUTE:
        if (ls.peer === undefined) throw new MyClerkError(ErrorCode.FORBIDDEN, "not-a-peer");
        if (ls.routeSeq < 0 || msg.seq > ls.routeSeq) {
          ls.routeSeq = msg.seq;
          this.#routes.set(ls.peer, new Set(msg.families));
        }
        return;
      case FedOp.FED_RESTART:
        ls.restartAfter = msg.after;
        this.node.log.info("peer announced restart", {
          peer: keyIdHex(ls.link.keyId),
          after: msg.after,
        });
        return;
      case FedOp.FED_EXPIRED:
        return this.#onPeerExpired(ls, msg);
      case FedOp.FED_QUEUE_STATUS:
      case FedOp.FED_ADMITTED:
        return;
    }
  }

  #peerAllowed(link: Link): boolean {
    for (const p of this.#peers) {
      if (p.key !== undefined) {
        if (link.peerStatic && toHex(link.peerStatic) === toHex(p.key)) return true;
      } else if (p.keyId === link.keyId) return true;
    }
    return this.#cfg.allowPeers.some((k) => parseInt(k, 16) === link.keyId);
  }

  #localFamilies(): FamilyId[] {
    return this.store.listFamilies(this.node.backend).filter((f) => f.local).map((f) =>
      f.record.id
    );
  }

  #sendHello(ls: LinkState, hubFamily?: FamilyId): void {
    // Peer relays learn every family homed here; a hub only its own (an
    // unadmitted key learns nothing: family ids are not for strangers).
    const families = ls.role === "relay"
      ? this.#localFamilies().slice(0, 4096)
      : hubFamily === undefined
      ? []
      : [hubFamily];
    sendFed(ls.link, {
      op: FedOp.FED_HELLO,
      role: "relay",
      keyId: this.node.identity.keyId,
      families,
      version: FED_VERSION,
      maxMessage: this.#cfg.maxMessage,
    });
  }

  #onHello(ls: LinkState, role: "relay" | "hub", keyId: number): void {
    if (keyId !== ls.link.keyId) {
      this.#drop("hello-key-id");
      ls.link.close("hello-key-id");
      return;
    }
    if (ls.role !== undefined) return;
    if (role === "relay") {
      if (!this.#peerAllowed(ls.link)) {
        this.#drop("peer-not-allowed");
        this.node.log.warn("relay peer refused", { peer: keyIdHex(keyId), remote: ls.link.remote });
        sendFedError(
          ls.link,
          new MyClerkError(ErrorCode.FORBIDDEN, "peer-not-allowed"),
          FedOp.FED_HELLO,
        );
        ls.link.close("peer-not-allowed");
        return;
      }
      ls.role = "relay";
      if (ls.link.direction === "in") this.#sendHello(ls);
      ls.peer = keyId;
      let set = this.#peerLinks.get(keyId);
      if (set === undefined) {
        set = new Set();
        this.#peerLinks.set(keyId, set);
        this.node.log.info("peer relay up", { peer: keyIdHex(keyId), remote: ls.link.remote });
      }
      set.add(ls);
      this.#announceTo(ls);
      this.#pumpPeer(keyId);
      // Expiry notices for families homed at this peer waited for it.
      for (const sender of this.store.noticeSenders()) this.#routeNotices(sender);
      return;
    }
    ls.role = "hub";
    const fam = ls.link.peerStatic ? this.#hubKeys.get(toHex(ls.link.peerStatic)) : undefined;
    if (ls.link.direction === "in") this.#sendHello(ls, fam);
    if (fam !== undefined) this.#attachHub(ls, fam);
  }

  #attachHub(ls: LinkState, family: FamilyId): void {
    if (ls.family === family) return;
    ls.role = "hub";
    ls.family = family;
    let set = this.#hubs.get(family);
    if (set === undefined) this.#hubs.set(family, set = new Set());
    set.add(ls);
    const st = this.store.queueStatus({ kind: "mailbox" }, family);
    this.node.log.info("hub connected", {
      family,
      depth: st.depth,
      bytes: st.bytes,
      remote: ls.link.remote,
    });
    sendFed(ls.link, { op: FedOp.FED_QUEUE_STATUS, family, ...st });
    this.#sendNotices(ls);
  }

  /**
   * Sends the expiry notices waiting for `sender` toward its hub: directly
   * when the family is homed here, else to the peer relay that homes it (one
   * hop, FED_EXPIRED relay → relay); they stay stored until someone takes
   * them.
   */
  #routeNotices(sender: FamilyId): void {
    const f = this.#family(sender);
    if (f?.local) {
      for (const ls of this.#hubs.get(sender) ?? []) this.#sendNotices(ls);
      return;
    }
    let peer: number | undefined;
    for (const [p, fams] of this.#routes) if (fams.has(sender)) peer = p;
    if (peer === undefined && f !== undefined && this.#peerConfigured(f.record.home)) {
      peer = f.record.home;
    }
    const link = peer === undefined ? undefined : this.#activePeerLink(peer);
    if (link === undefined) return;
    this.#sendNoticesTo(link, sender);
  }

  /** A peer relay forwards expiry notices for a family homed here. */
  #onPeerExpired(ls: LinkState, msg: Extract<FedMessage, { op: 0x0308 }>): void {
    if (ls.role !== "relay") throw new MyClerkError(ErrorCode.FORBIDDEN, "not-a-peer");
    if (!this.#family(msg.family)?.local) {
      this.#drop("expired-not-homed-here");
      return;
    }
    this.store.addNotices(msg.family, msg.to, msg.mids, nowSec());
    this.node.metrics.inc(FED.expiredNotices, undefined, msg.mids.length);
    this.#routeNotices(msg.family);
  }

  #sendNotices(ls: LinkState): void {
    if (ls.family === undefined) return;
    this.#sendNoticesTo(ls, ls.family);
  }

  /** Sends `sender`'s waiting notices on `ls` (its hub, or the peer that homes it) and clears them. */
  #sendNoticesTo(ls: LinkState, sender: FamilyId): void {
    const notices = this.store.pendingNotices(sender);
    if (notices.length === 0) return;
    const byTo = new Map<FamilyId, Uint8Array[]>();
    for (const n of notices) {
      let a = byTo.get(n.to);
      if (a === undefined) byTo.set(n.to, a = []);
      a.push(n.mid);
    }
    for (const [to, mids] of byTo) {
      for (let i = 0; i < mids.length; i += MAX_MIDS) {
        sendFed(ls.link, {
          op: FedOp.FED_EXPIRED,
          family: sender,
          to,
          mids: mids.slice(i, i + MAX_MIDS),
        });
      }
    }
    this.store.clearNotices(sender, notices.map((n) => n.mid));
  }

  // ---- admission ------------------------------------------------------------

  async #onAdmit(ls: LinkState, msg: Extract<FedMessage, { op: 0x0301 }>): Promise<void> {
    const h = ls.link.transcriptHash;
    const peerStatic = ls.link.peerStatic;
    const deny = (d: string) => new MyClerkError(ErrorCode.FED_ADMISSION_DENIED, d);
    try {
      if (!h || !peerStatic || peerStatic.length !== 32) throw deny("no-static-key");
      if (ls.role === "relay") throw deny("peer-is-relay");
      const now = nowSec();
      const inv = checkAdmission(this.node.backend, {
        tokenKey: this.#tokenKey,
        relayStaticSecret: this.node.identity.privateKey,
        relayKeyId: this.node.identity.keyId,
        now,
        token: msg.token,
        family: msg.family,
        proof: msg.proof,
        h,
      });
      this.store.redeemInvite(inv.tokenId, msg.family.id, now);
      this.#families.delete(msg.family.id);
      // No own quota: the family follows the configured default (reloadable); `family quota`
      // gives it its own. A re-admission keeps an own quota set before.
      this.store.putFamily(msg.family, true, now);
      this.#hubKeys.set(toHex(peerStatic), msg.family.id);
      // FED_ADMITTED promises the admission survives a crash: the commit and the hub key file
      // are durable first. Writes of the key file are serialised (the last one has every key).
      await this.store.syncWal();
      await this.store.recordAcked(this.store.hwm);
      const write = this.#hubKeysWrite.then(() => writeHubKeys(this.#data, this.#hubKeys));
      this.#hubKeysWrite = write.catch(() => {});
      await write;
    } catch (e) {
      const err = isMyClerkError(e)
        ? e
        : new MyClerkError(ErrorCode.INTERNAL_ERROR, "admit", {}, e);
      this.node.metrics.inc(FED.admissions, { result: err.detail });
      this.node.log.warn("admission denied", {
        detail: err.detail,
        remote: ls.link.remote,
        ...(err.code === ErrorCode.INTERNAL_ERROR ? { error: String(e) } : {}),
      });
      sendFedError(ls.link, err, FedOp.FED_ADMIT);
      return;
    }
    this.node.metrics.inc(FED.admissions, { result: "ok" });
    this.node.log.info("family admitted", {
      family: msg.family.id,
      name: msg.family.name,
      hub: keyIdHex(ls.link.keyId),
    });
    const quota = this.store.usage(msg.family.id).quota;
    sendFed(ls.link, {
      op: FedOp.FED_ADMITTED,
      family: msg.family.id,
      relay: this.node.identity.keyId,
      quotaMessages: quota.messages,
      quotaBytes: quota.bytes,
      maxMessage: this.#cfg.maxMessage,
      maxTtl: this.#cfg.maxTtl,
    });
    this.#attachHub(ls, msg.family.id);
    for (const set of this.#peerLinks.values()) for (const p of set) this.#announceTo(p);
  }

  // ---- directory and routes -------------------------------------------------

  #announceTo(ls: LinkState): void {
    const local = this.store.listFamilies(this.node.backend).filter((f) => f.local);
    sendFed(ls.link, {
      op: FedOp.FED_ROUTE,
      seq: ++this.#routeSeq,
      families: local.map((f) => f.record.id).slice(0, 4096),
    });
    for (let i = 0; i < local.length; i += 256) {
      ls.link.send(DirOp.FED_RECORDS, encodeRecords(local.slice(i, i + 256).map((f) => f.record)));
    }
  }

  #onLookup(ls: LinkState, family: FamilyId): void {
    if (ls.family === undefined && ls.peer === undefined) {
      throw new MyClerkError(ErrorCode.FORBIDDEN, "not-admitted");
    }
    const f = this.store.getFamily(this.node.backend, family);
    if (f === undefined) {
      throw new MyClerkError(ErrorCode.FED_UNKNOWN_FAMILY, "unknown-family", { family });
    }
    ls.link.send(DirOp.FED_RECORDS, encodeRecords([f.record]));
  }

  #onRecords(ls: LinkState, payload: Uint8Array): void {
    if (ls.peer === undefined) return;
    const now = nowSec();
    for (const rec of decodeRecords(this.node.backend, payload)) {
      // A peer may only speak for families it homes, and never overrides ours.
      if (rec.home !== ls.peer) continue;
      const have = this.store.getFamily(this.node.backend, rec.id);
      if (have?.local) continue;
      this.store.putFamily(rec, false, now);
      this.#families.delete(rec.id);
    }
  }

  /** The lane for recipient `to`, or an error saying why there is none. */
  #family(id: FamilyId): StoredFamily | undefined {
    let f = this.#families.get(id);
    if (f === undefined) {
      if (this.#families.size > 100_000) this.#families.clear();
      f = this.store.getFamily(this.node.backend, id) ?? null;
      this.#families.set(id, f);
    }
    return f ?? undefined;
  }

  #laneFor(to: FamilyId): { lane: Lane; key?: KnownFamilyKey } {
    const f = this.#family(to);
    // The stored record's id and key id were verified against its key when decoded.
    if (f?.local) return { lane: { kind: "mailbox" }, key: f.record };
    for (const [peer, fams] of this.#routes) {
      if (fams.has(to)) return { lane: { kind: "peer", peer }, key: f?.record };
    }
    if (f !== undefined) {
      const home = f.record.home;
      if (this.#peerConfigured(home)) {
        return { lane: { kind: "peer", peer: home }, key: f.record };
      }
      throw new MyClerkError(ErrorCode.FED_NO_ROUTE, "no-route", { family: to });
    }
    throw new MyClerkError(ErrorCode.FED_UNKNOWN_FAMILY, "unknown-family", { family: to });
  }

  /** Family id of a sender key, remembered per session (a hub always sends from one key). */
  #fromId(ls: LinkState, key: Uint8Array): FamilyId {
    const c = ls.fromCache;
    if (c !== undefined && c.key.length === key.length) {
      let d = 0;
      for (let i = 0; i < key.length; i++) d |= c.key[i] ^ key[i];
      if (d === 0) return c.id;
    }
    const id = familyId(this.node.backend, key);
    ls.fromCache = { key: key.slice(), id };
    return id;
  }

  #peerConfigured(keyId: number): boolean {
    if (this.#peerLinks.has(keyId)) return true;
    const be = this.node.backend;
    for (const p of this.#peers) {
      if (p.keyId === keyId) return true;
      // A node key id is u32(H(pub)[0..4]), the same rule as a family key id.
      if (p.key && familyKeyId(be, p.key) === keyId) return true;
    }
    return this.#cfg.peers.some((p) => p.keyId !== undefined && parseInt(p.keyId, 16) === keyId);
  }

  // ---- ingest ---------------------------------------------------------------

  #onDeliver(ls: LinkState, msg: FedDeliver): void | Promise<void> {
    if (ls.role === "hub") {
      if (ls.family === undefined) throw new MyClerkError(ErrorCode.FORBIDDEN, "not-admitted");
      if (msg.from !== ls.family) {
        throw new MyClerkError(ErrorCode.FORBIDDEN, "from-other-family", {
          family: msg.from,
          mid: msg.mid,
        });
      }
      if (msg.hops !== 0) {
        throw new MyClerkError(ErrorCode.BAD_REQUEST, "hops", { hops: msg.hops, mid: msg.mid });
      }
    } else if (ls.role !== "relay") {
      throw new MyClerkError(ErrorCode.FORBIDDEN, "no-hello");
    } else if (msg.hops >= MAX_HOPS) {
      this.#drop("hops");
      return;
    }
    if (msg.sealed.length > this.#cfg.maxMessage) {
      throw new MyClerkError(ErrorCode.TOO_LARGE, "too-large", {
        limit: this.#cfg.maxMessage,
        mid: msg.mid,
      });
    }
    let route;
    try {
      route = this.#laneFor(msg.to);
      // A peer forwards to us only what is homed here: no relaying on for it.
      if (ls.role === "relay" && route.lane.kind === "peer") {
        throw new MyClerkError(ErrorCode.FED_NO_ROUTE, "not-homed-here", { family: msg.to });
      }
    } catch (e) {
      if (isMyClerkError(e)) throw new MyClerkError(e.code, e.detail, { ...e.extra, mid: msg.mid });
      throw e;
    }
    try {
      checkRouting(this.node.backend, msg, msg.sealed, route.key, (k) => this.#fromId(ls, k));
    } catch (e) {
      if (isMyClerkError(e)) throw new MyClerkError(e.code, e.detail, { ...e.extra, mid: msg.mid });
      throw e;
    }
    // Expired already (its own creation time + lifetime, with the clock-skew grace): refused,
    // never stored or delivered (FEDERATION.md §6.2 "Expiry at ingest").
    const expiresBy = envelopeExpiry(msg.sealed, msg.ttl) + this.node.config.limits.maxSkewSeconds;
    if (expiresBy <= nowSec()) {
      // Counted myclerk_federation_drops_total{reason="expired-at-ingest"} by #handle, like every refusal.
      throw new MyClerkError(ErrorCode.FED_EXPIRED, "expired-at-ingest", {
        mid: msg.mid,
        expired: expiresBy - this.node.config.limits.maxSkewSeconds,
      });
    }
    this.#batch.push({
      ls,
      lane: route.lane,
      msg: {
        to: msg.to,
        from: msg.from,
        fromKey: msg.fromKey,
        mid: msg.mid,
        ttl: msg.ttl,
        hops: msg.hops,
        sealed: msg.sealed,
        expiresBy,
      },
    });
    if (this.#batch.length >= FLUSH_AT) this.flush();
    else if (this.#flushTimer === undefined) this.#flushTimer = setTimeout(() => this.flush(), 0);
    if (ls.role === "hub" && ls.family !== undefined) {
      const wait = this.#limiter.take(ls.family, Date.now());
      if (wait > 0) {
        this.node.metrics.inc(FED.rateDelay, undefined, wait / 1000);
        // Delaying the next read is the rate limit: TCP backpressure, nothing dropped.
        return sleep(Math.min(wait, 10_000));
      }
    }
  }

  /** Group commit: stores everything received since the last flush in one transaction, then acks. */
  flush(): void {
    clearTimeout(this.#flushTimer);
    this.#flushTimer = undefined;
    if (this.#batch.length === 0) return;
    const items = this.#batch;
    this.#batch = [];
    let results: readonly (EnqueueResult | MyClerkError)[];
    try {
      results = this.store.enqueueBatch(
        items.map((p) => ({ lane: p.lane, message: p.msg })),
        nowSec(),
      );
    } catch (e) {
      // Nothing of the batch is stored (one transaction): every sender hears why, and keeps
      // the message in its outbox to resend (SERVICE_UNAVAILABLE and INTERNAL_ERROR are transient).
      const err = storeError(e, paths(this.#data).relayDb);
      if (err.detail === "storage-full") {
        this.node.log.error("storage full: messages refused", {
          path: err.extra.path,
          messages: items.length,
          fix: err.extra.fix,
        });
        this.#drop("storage-full");
      } else {
        this.node.log.error("store write failed", { error: String(e), messages: items.length });
      }
      for (const p of items) {
        sendFedError(
          p.ls.link,
          new MyClerkError(err.code, err.detail, { mid: p.msg.mid }),
          FedOp.FED_DELIVER,
        );
      }
      return;
    }
    this.node.metrics.inc(FED.groupCommits);
    const acks = new Map<LinkState, Uint8Array[]>();
    const hubsToPump = new Set<FamilyId>();
    const peersToPump = new Set<number>();
    const direct: { p: Pending; seq: number }[] = [];
    let storedMailbox = 0;
    let storedPeer = 0;
    items.forEach((p, i) => {
      const r = results[i];
      if (r instanceof MyClerkError) {
        this.#drop("quota");
        sendFedError(
          p.ls.link,
          new MyClerkError(r.code, r.detail, { ...r.extra, mid: p.msg.mid }),
          FedOp.FED_DELIVER,
        );
        return;
      }
      if (r.status === "duplicate") this.node.metrics.inc(FED.duplicates);
      else {
        if (p.lane.kind === "mailbox") storedMailbox++;
        else storedPeer++;
        if (p.lane.kind === "mailbox") {
          hubsToPump.add(p.msg.to);
          direct.push({ p, seq: r.seq });
        } else peersToPump.add(p.lane.peer);
      }
      let a = acks.get(p.ls);
      if (a === undefined) acks.set(p.ls, a = []);
      a.push(p.msg.mid);
    });
    // "stored" acks wait until the commit is durable (the WAL sync runs off the
    // event loop; delivery below may go first: recipients dedupe, and a sender
    // without its ack resends).
    this.#afterDurable(() => {
      for (const [ls, mids] of acks) {
        if (ls.closed) continue;
        for (let i = 0; i < mids.length; i += MAX_MIDS) {
          sendFed(
            ls.link,
            {
              op: FedOp.FED_ACK,
              kind: "stored",
              relay: this.node.identity.keyId,
              mids: mids.slice(i, i + MAX_MIDS),
            },
            false,
            false,
          );
        }
      }
    });
    if (storedMailbox > 0) {
      this.node.metrics.inc(FED.stored, { lane: "mailbox" }, storedMailbox);
    }
    if (storedPeer > 0) this.node.metrics.inc(FED.stored, { lane: "peer" }, storedPeer);
    // Online recipients that are caught up get the new messages from memory, in
    // commit (seq) order; anyone else reads them from the store as before.
    for (const { p, seq } of direct) {
      for (const ls of this.#hubs.get(p.msg.to) ?? []) {
        if (ls.caughtUp && !this.#pushOne(ls, p.msg, seq)) ls.caughtUp = false;
      }
    }
    for (const f of hubsToPump) {
      for (const ls of this.#hubs.get(f) ?? []) if (!ls.caughtUp) this.#pumpHub(ls);
    }
    for (const p of peersToPump) this.#pumpPeer(p);
  }

  #durableWaiters: (() => void)[] = [];
  #syncing?: Promise<void>;

  /**
   * Runs `f` once everything committed so far is durable. One WAL sync at a
   * time; callbacks queued while it runs share the next one (group commit of
   * the syncs themselves).
   */
  #afterDurable(f: () => void): void {
    this.#durableWaiters.push(f);
    if (!this.#syncing) this.#syncing = this.#runSyncs();
  }

  async #runSyncs(): Promise<void> {
    try {
      while (this.#durableWaiters.length > 0) {
        const batch = this.#durableWaiters.splice(0);
        // Commits up to here are covered by the sync below: the manifest mark follows it.
        const hwm = this.store.hwm;
        try {
          await this.store.syncWal();
        } catch (e) {
          // Without a durable commit nothing may be acked: senders keep the
          // messages in their outbox and resend after reconnecting.
          this.node.log.error("store sync failed: acks withheld", { error: String(e) });
          this.node.metrics.inc(FED.syncFailures);
          continue;
        }
        this.node.metrics.inc(FED.walSyncs);
        // The mark's own fdatasync overlaps the next WAL sync; acks leave in order once both
        // their WAL sync and their mark are durable (marks are written one after another).
        this.#marking = this.store.recordAcked(hwm).then(
          () => {
            for (const f of batch) f();
          },
          (e) => {
            this.node.log.error("store manifest write failed: acks withheld", { error: String(e) });
            this.node.metrics.inc(FED.syncFailures);
          },
        );
      }
    } finally {
      this.#syncing = undefined;
    }
  }

  #marking: Promise<void> = Promise.resolve();

  /** Waits until every queued "stored" ack has gone out (shutdown). */
  async #drainSyncs(): Promise<void> {
    while (this.#syncing) await this.#syncing;
    await this.#marking;
  }

  /** Pushes one just-committed message to a caught-up hub session; false when it must wait in the store. */
  #pushOne(ls: LinkState, m: QueueInput, seq: number): boolean {
    if (ls.closed || this.#stopping || !this.#mayPush(ls, m.sealed.length)) return false;
    this.#sendDeliver(ls, m, seq);
    return true;
  }

  /**
   * The delivery credit rule (FEDERATION.md §5 "Delivery credit"): one
   * message of credit, and the sealed bytes fit the session's byte window
   * (or nothing is unacked, so a message larger than the window still
   * goes, alone); and the relay's own send queue has room for it.
   */
  #mayPush(ls: LinkState, size: number): boolean {
    if (ls.credit <= 0) return false;
    if (ls.inflightBytes > 0 && ls.inflightBytes + size > ls.window) return false;
    return this.#queueRoom(ls.link, size);
  }

  /** True when the link's send queue can take a FED_DELIVER of `size` sealed bytes now. */
  #queueRoom(link: Link, size: number): boolean {
    const q = link.queuedBytes;
    if (q === 0) return true;
    return q < this.#cfg.sendQueueHighBytes &&
      q + deliverWireBytes(size) <= this.node.config.limits.maxQueueBytes;
  }

  #sendDeliver(ls: LinkState, m: QueueInput, seq: number): void {
    ls.cursor = seq;
    ls.credit--;
    ls.inflight.set(toHex(m.mid), m.sealed.length);
    ls.inflightBytes += m.sealed.length;
    sendFed(ls.link, forwarded(m), false, false);
    ls.pushed++;
    this.node.metrics.inc(FED.pushed, { to: "hub" });
    if (ls.pushed % 1000 === 0) {
      const st = this.store.queueStatus({ kind: "mailbox" }, ls.family);
      this.node.log.info("backlog progress", {
        family: ls.family,
        pushed: ls.pushed,
        waiting: st.depth,
        waitingBytes: st.bytes,
      });
    }
  }

  // ---- push to hubs ---------------------------------------------------------

  #later(ls: LinkState, f: () => void, ms: number): void {
    if (ls.timer !== undefined || ls.closed) return;
    ls.timer = setTimeout(() => {
      ls.timer = undefined;
      if (!ls.closed && !this.#stopping) f();
    }, ms);
  }

  #pumpHub(ls: LinkState): void {
    const family = ls.family;
    if (family === undefined || ls.closed || this.#stopping) return;
    while (ls.credit > 0) {
      ls.caughtUp = false;
      if (ls.inflightBytes > 0 && ls.inflightBytes >= ls.window) return; // acks reopen the window
      if (!this.#queueRoom(ls.link, 0)) {
        // A slow hub: stop here, its messages stay in the store; others are not held up.
        this.node.metrics.inc(FED.pushPaused, { to: "hub" });
        this.#later(ls, () => this.#pumpHub(ls), 20);
        return;
      }
      const limit = Math.min(ls.credit, PUSH_BATCH);
      const budget = Math.min(
        ls.inflightBytes === 0 ? Infinity : ls.window - ls.inflightBytes,
        this.node.config.limits.maxQueueBytes - ls.link.queuedBytes,
      );
      const { rows, cut } = this.store.fetchWindow(family, ls.cursor, limit, budget);
      let sent = 0;
      const now = nowSec();
      for (const m of rows) {
        if (m.expires <= now) {
          // Past its expiry: never pushed; the next sweep deletes it and tells the sender.
          ls.cursor = m.seq;
          sent++;
          continue;
        }
        if (!this.#mayPush(ls, m.sealed.length)) break;
        this.#sendDeliver(ls, m, m.seq);
        sent++;
      }
      if (sent < rows.length) {
        // The window or the send queue is full: acks or the drain timer resume.
        if (!this.#queueRoom(ls.link, rows[sent].sealed.length) && ls.credit > 0) {
          this.node.metrics.inc(FED.pushPaused, { to: "hub" });
          this.#later(ls, () => this.#pumpHub(ls), 20);
        }
        return;
      }
      // A short read that was not cut by the byte budget: nothing more past the cursor.
      if (rows.length < limit && !cut) {
        ls.caughtUp = true;
        return;
      }
    }
    ls.caughtUp = false;
  }

  // ---- push to peers --------------------------------------------------------

  #activePeerLink(peer: number): LinkState | undefined {
    const set = this.#peerLinks.get(peer);
    if (set === undefined) return undefined;
    // Prefer our own dial (stable choice on both ends is not needed: the peer dedupes).
    let pick: LinkState | undefined;
    for (const ls of set) {
      if (!ls.closed && (pick === undefined || ls.link.direction === "out")) pick = ls;
    }
    return pick;
  }

  #pumpPeer(peer: number): void {
    const ls = this.#activePeerLink(peer);
    if (ls === undefined || this.#stopping) return;
    const high = this.#cfg.sendQueueHighBytes;
    while (ls.peerInflight.size < PEER_WINDOW) {
      if (ls.link.queuedBytes >= high) {
        this.node.metrics.inc(FED.pushPaused, { to: "peer" });
        this.#later(ls, () => this.#pumpPeer(peer), 20);
        return;
      }
      const rows = this.store.fetchPeer(
        peer,
        ls.peerCursor,
        PUSH_BATCH,
        this.node.config.limits.maxQueueBytes - ls.link.queuedBytes,
      );
      if (rows.length === 0) return;
      for (const m of rows) {
        if (!this.#queueRoom(ls.link, m.sealed.length)) {
          // Never overfill our own send queue (it would close the link): resume when it drains.
          this.node.metrics.inc(FED.pushPaused, { to: "peer" });
          this.#later(ls, () => this.#pumpPeer(peer), 20);
          return;
        }
        ls.peerCursor = m.seq;
        ls.peerInflight.set(toHex(m.mid), m.to);
        sendFed(ls.link, forwarded(m), false, false);
        this.node.metrics.inc(FED.pushed, { to: "peer" });
      }
    }
  }

  #onPeerStored(ls: LinkState, mids: readonly Uint8Array[]): void {
    const items: { to: FamilyId; mid: Uint8Array }[] = [];
    for (const mid of mids) {
      const k = toHex(mid);
      const to = ls.peerInflight.get(k);
      if (to === undefined) continue;
      ls.peerInflight.delete(k);
      items.push({ to, mid });
    }
    if (items.length === 0) return;
    const n = this.store.ackPeer(ls.peer!, items);
    this.node.metrics.inc(FED.acked, { kind: "stored" }, n);
    this.#pumpPeer(ls.peer!);
  }

  // ---- peer dialing ---------------------------------------------------------

  #dial(p: PeerSpec): { stop: () => void; done: Promise<void> } {
    const cfg = this.#cfg;
    const backoff = new Backoff({ baseMs: cfg.peerBackoffBaseMs, capMs: cfg.peerBackoffCapMs });
    let stopped = false;
    let current: Client | undefined;
    let wakeSleep: (() => void) | undefined;
    let failed: unknown;
    let failures = 0;
    const done = (async () => {
      while (!stopped) {
        let restartAfter = 0;
        try {
          const c = await Client.connect(p.addr, {
            backend: this.node.backend,
            identity: this.node.identity,
            tier: 5,
            minTier: 4,
            expectKeyId: p.keyId,
            pinnedKey: p.key,
            timeoutMs: 5000,
            maxMessage: this.node.config.limits.maxMessage,
          });
          current = c;
          if (stopped) {
            c.close();
            break;
          }
          const ls = this.#newState(outboundLink(c, p.addr));
          this.#outLinks.add(ls);
          c.onRaw((op, bytes) => {
            if (op >= 0x0300 && op <= 0x03ff || op === ERROR_OP) {
              const wasUp = ls.role === "relay";
              void this.#handle(ls, op, bytes);
              if (!wasUp && ls.role === "relay") backoff.reset();
            }
          });
          sendFed(ls.link, {
            op: FedOp.FED_HELLO,
            role: "relay",
            keyId: this.node.identity.keyId,
            families: this.#localFamilies().slice(0, 4096),
            version: FED_VERSION,
            maxMessage: cfg.maxMessage,
          });
          await c.waitClosed();
          this.#outLinks.delete(ls);
          this.#detach(ls);
          restartAfter = ls.restartAfter ?? 0;
        } catch (e) {
          failed = e;
        }
        current = undefined;
        if (stopped) break;
        const delay = restartAfter + backoff.next();
        if (failed === undefined) failures = 0;
        else if (logFailure(++failures)) {
          // One line per doubling of the failure count: a peer down for hours is still
          // reported, with the target, the error and when the next try is.
          this.node.log.warn("peer dial failed", {
            peer: p.addr,
            error: dialError(failed, p.addr, "peer relay"),
            failures,
            retryInMs: delay,
          });
        }
        failed = undefined;
        await new Promise<void>((r) => {
          wakeSleep = r;
          setTimeout(r, delay);
        });
      }
    })();
    return {
      stop: () => {
        stopped = true;
        current?.close();
        wakeSleep?.();
      },
      done,
    };
  }

  // ---- expiry ---------------------------------------------------------------

  /** One expiry sweep: deletes expired messages, tells connected senders. */
  sweep(): void {
    if (this.#stopping) return;
    try {
      const expired = this.store.sweep(nowSec());
      if (expired.length === 0) return;
      this.node.metrics.inc(FED.expired, undefined, expired.length);
      this.node.log.info("messages expired", { count: expired.length });
      const senders = new Set(expired.map((e) => e.from));
      for (const s of senders) this.#routeNotices(s);
    } catch (e) {
      this.node.log.error("expiry sweep failed", { error: String(e) });
    }
  }

  // ---- status and shutdown --------------------------------------------------

  /** What `status` shows for the relay role. */
  status(): Record<string, unknown> {
    const st = this.store.stats();
    return {
      keyId: keyIdHex(this.node.identity.keyId),
      hubs: [...this.#hubs.entries()].map(([family, set]) => ({
        family,
        sessions: set.size,
        credit: [...set].reduce((n, l) => n + l.credit, 0),
        inflight: [...set].reduce((n, l) => n + l.inflight.size, 0),
      })),
      peers: [
        ...new Set([
          ...this.#peerLinks.keys(),
          ...st.peers.map((p) => p.peer),
        ]),
      ].map((peer) => ({
        keyId: keyIdHex(peer),
        connected: this.#peerLinks.has(peer),
        routes: this.#routes.get(peer)?.size ?? 0,
        ...this.store.queueStatus({ kind: "peer", peer }),
      })),
      configuredPeers: this.#peers.map((p) => p.addr),
      families: st.families,
      localFamilies: st.localFamilies,
      queuedMessages: st.queuedMessages,
      queuedBytes: st.queuedBytes,
      mailboxes: st.mailboxes,
      invitesOpen: st.invitesOpen,
      pendingNotices: st.pendingNotices,
    };
  }

  /**
   * Graceful stop: stores what is batched, sends FED_RESTART to every
   * session (priority lane), stops dialing, closes the store. The node
   * closes the connections afterwards.
   */
  async stop(reason = "shutdown"): Promise<void> {
    if (this.#stopping) return;
    this.flush();
    await this.#drainSyncs();
    this.#stopping = true;
    this.#unhookReload?.();
    clearInterval(this.#sweepTimer);
    const after = this.#cfg.restartAfterMs;
    const all = [...this.#links.values(), ...this.#outLinks];
    for (const ls of all) {
      clearTimeout(ls.timer);
      sendFed(ls.link, { op: FedOp.FED_RESTART, after, reason }, true);
    }
    this.node.log.info("relay stopping", { sessions: all.length, restartAfterMs: after });
    for (const d of this.#dialers.values()) d.stop();
    await Promise.all([...this.#dialers.values()].map((d) => d.done));
    // Give the restart notices a moment to leave before the node closes sessions.
    await sleep(50);
    this.node.removeRoute("federation");
    this.store.close();
  }
}

/** `--peer` specs plus the config's `federation.peers`, without duplicates. */
export function mergePeers(cli: readonly PeerSpec[], cfg: FedConfig): PeerSpec[] {
  const out: PeerSpec[] = [...cli];
  for (const p of cfg.peers) {
    const spec: PeerSpec = {
      addr: p.addr,
      ...(p.keyId === undefined ? {} : { keyId: parseInt(p.keyId, 16) }),
      ...(p.key === undefined
        ? {}
        : { key: Uint8Array.from(p.key.match(/../g)!.map((h) => parseInt(h, 16))) }),
    };
    if (!out.some((q) => peerKey(q) === peerKey(spec))) out.push(spec);
  }
  return out;
}

/** Identity of a peer spec (address and pin) for reload diffs. */
function peerKey(p: PeerSpec): string {
  return `${p.addr}@${p.key ? toHex(p.key) : p.keyId ?? ""}`;
}

/** Every opcode of the range this relay serves (others answer NOT_FOUND). */
const KNOWN_FED_OPS: ReadonlySet<number> = new Set<number>([
  ...Object.values(FedOp).filter((op) => op !== FedOp.FED_SEALED),
  ...Object.values(DirOp),
]);

/** The request's `"id"` (echoed as `"re"` in an ERROR), when the payload is a map with one. */
function requestIdOf(payload: Uint8Array): number | undefined {
  try {
    const m = decodeFedMap(payload);
    const id = m["id"];
    return typeof id === "number" && Number.isInteger(id) && id >= 0 ? id : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The envelope's own expiry: header timestamp (bytes 6..10, the sender's
 * creation time) + `ttl`, capped at 2^32 - 1 (FEDERATION.md §4.2, §5).
 */
export function envelopeExpiry(sealed: Uint8Array, ttl: number): number {
  const ts = ((sealed[6] << 24) | (sealed[7] << 16) | (sealed[8] << 8) | sealed[9]) >>> 0;
  return Math.min(ts + ttl, 0xffffffff);
}

/** The FED_DELIVER a relay sends on for a stored message: one more hop (capped at 8). */
function forwarded(m: QueueInput): FedMessage {
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
