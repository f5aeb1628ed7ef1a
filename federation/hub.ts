/**
 * The hub role (docs/FEDERATION.md §8): a family's home node. Keeps a
 * session to its relay with jittered-backoff reconnect (within ~1 s of the
 * relay coming back), keeps FED_FETCH credit topped up, opens envelopes with
 * the family key, hands each message to the application exactly once (the
 * inbox in hub.db, deduped in the same transaction), acks "delivered" after
 * that commit, and resends its outbox until a relay acks "stored".
 *
 * Also `hub join`: admission with an invite token and a proof of possession
 * bound to the session transcript.
 *
 * @module
 */

import { ErrorCode, errorName, isMyClerkError, MyClerkError } from "../core/errors.ts";
import type { CryptoBackend } from "../core/crypto/types.ts";
import type { Identity } from "../core/session/handshake.ts";
import type { Node } from "../core/node/node.ts";
import type { NodeConfig } from "../core/node/config.ts";
import { Client } from "../core/node/client.ts";
import { dialError, logFailure } from "../core/cli/oserror.ts";
import { keyIdHex } from "../core/node/keys.ts";
import { Backoff } from "./backoff.ts";
import { FED } from "./metrics.ts";
import { fromBase64Url, toHex } from "./bytes.ts";
import { decodeFedError, decodeRecords, DirOp, encodeLookup, ERROR_OP } from "./directory.ts";
import { openEnvelope, sealEnvelope } from "./envelope.ts";
import { createFamilyRecord, type FamilyId, type FamilyRecord, isFamilyId } from "./family.ts";
import {
  type HubRelay,
  type HubState,
  paths,
  readFamilyKey,
  readHubState,
  writeHubState,
} from "./files.ts";
import { HubStore } from "./hubstore.ts";
import { admissionProof, TOKEN_ID_LENGTH } from "./invite.ts";
import { outboundLink, sendFed } from "./link.ts";
import { decodeFed, encodeFed, FED_VERSION, type FedDeliver, FedOp, MAX_MIDS } from "./messages.ts";

type FedConfig = NodeConfig["federation"];

const nowSec = () => Math.floor(Date.now() / 1000);

/** Result of {@link joinRelay}. */
export interface JoinResult {
  /** The family record as admitted (`home` = the relay's key id). */
  readonly record: FamilyRecord;
  /** The relay joined: address and pinned static key, as written to hub.json. */
  readonly relay: HubRelay;
  /** The relay's quota for the family: most messages queued at once. */
  readonly quotaMessages: number;
  /** The relay's quota for the family: most sealed bytes queued at once. */
  readonly quotaBytes: number;
  /** Largest sealed envelope the relay accepts, bytes. */
  readonly maxMessage: number;
}

/**
 * `hub join RELAY TOKEN`: dials the relay with the node key, proves
 * possession of the family key bound to this session's transcript hash, and
 * on FED_ADMITTED records the relay (address and pinned key) in hub.json.
 */
export async function joinRelay(
  be: CryptoBackend,
  nodeIdentity: Identity,
  data: string,
  addr: string,
  token: string,
  timeoutMs = 10_000,
): Promise<JoinResult> {
  const fam = await readFamilyKey(be, data);
  const state = await readHubState(be, data);
  let tokenId: Uint8Array;
  try {
    tokenId = fromBase64Url(token).subarray(1, 1 + TOKEN_ID_LENGTH);
  } catch {
    throw new MyClerkError(ErrorCode.FED_ADMISSION_DENIED, "token-malformed");
  }
  if (tokenId.length !== TOKEN_ID_LENGTH) {
    throw new MyClerkError(ErrorCode.FED_ADMISSION_DENIED, "token-malformed");
  }
  const c = await Client.connect(addr, {
    backend: be,
    identity: nodeIdentity,
    tier: 5,
    minTier: 4,
    timeoutMs,
  });
  try {
    const st = c.session.state;
    const record = createFamilyRecord(be, {
      name: state?.name ?? "family",
      key: fam.publicKey,
      home: st.peerKeyId,
      homeAddr: addr.length <= 255 ? addr : undefined,
      created: state?.created ?? nowSec(),
    });
    const proof = admissionProof(be, fam.privateKey, st.peerStatic, tokenId, st.transcriptHash);
    const reply = new Promise<JoinResult>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new MyClerkError(ErrorCode.TIMEOUT, "join")),
        timeoutMs,
      );
      c.onRaw((op, bytes) => {
        if (op === ERROR_OP) {
          clearTimeout(timer);
          try {
            reject(decodeFedError(bytes).error);
          } catch (e) {
            reject(e);
          }
        } else if (op === FedOp.FED_ADMITTED) {
          clearTimeout(timer);
          try {
            const m = decodeFed(be, op, bytes);
            if (m.op !== FedOp.FED_ADMITTED) throw new Error("unreachable");
            resolve({
              record,
              relay: { addr, key: st.peerStatic.slice(), keyId: st.peerKeyId },
              quotaMessages: m.quotaMessages,
              quotaBytes: m.quotaBytes,
              maxMessage: m.maxMessage,
            });
          } catch (e) {
            reject(e);
          }
        }
      });
      c.waitClosed().then((r) => {
        clearTimeout(timer);
        reject(new MyClerkError(ErrorCode.SERVICE_UNAVAILABLE, "closed", { reason: r }));
      });
    });
    c.send(FedOp.FED_ADMIT, encodeFed({ op: FedOp.FED_ADMIT, token, family: record, proof }));
    const r = await reply;
    await writeHubState(data, {
      name: record.name,
      id: record.id,
      created: record.created,
      record,
      relay: r.relay,
    });
    return r;
  } finally {
    c.close();
    await c.waitClosed();
  }
}

interface Waiter {
  readonly resolve: (r: { state: string; error?: string }) => void;
  readonly timer: ReturnType<typeof setTimeout>;
}

interface PendingDelivery {
  readonly mid: Uint8Array;
  readonly from: FamilyId;
  readonly ts: number;
  readonly ttl: number;
  readonly body: Uint8Array;
}

/** What {@link Hub.send} returns. */
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

/** The hub of one node. */
export class Hub {
  /** The node this hub runs in (its sessions, metrics and config). */
  readonly node: Node;
  /** The hub's own store (`<data>/hub.db`): outbox, inbox, dedupe, record cache. */
  readonly store: HubStore;
  /** The family key pair (`<data>/family.key`): seals outgoing and opens incoming messages. */
  readonly family: Identity;
  /** This hub's family id. */
  readonly familyId: FamilyId;
  readonly #cfg: FedConfig;
  readonly #relays: readonly { readonly addr: string; readonly key?: Uint8Array }[];
  #client?: Client;
  #ready = false;
  #stopping = false;
  readonly #backoff: Backoff;
  #wake?: () => void;
  #loop?: Promise<void>;
  #restartAfter = 0;
  #outCursor = 0;
  readonly #outInflight = new Set<string>();
  #pumpTimer?: ReturnType<typeof setTimeout>;
  #deliveries: PendingDelivery[] = [];
  #flushTimer?: ReturnType<typeof setTimeout>;
  #creditUsed = 0;
  readonly #waiters = new Map<string, Waiter[]>();
  readonly #lookups = new Map<FamilyId, ((r: FamilyRecord | MyClerkError) => void)[]>();
  #connects = 0;
  #sweepTimer?: ReturnType<typeof setInterval>;
  /** Called each time a relay session becomes ready (hello exchanged, first FED_FETCH sent); push a callback to hear of (re)connects. */
  readonly connectedListeners: (() => void)[] = [];

  private constructor(node: Node, family: Identity, state: HubState, relays: readonly string[]) {
    this.node = node;
    this.family = family;
    this.familyId = state.id;
    this.#cfg = node.config.federation;
    this.store = HubStore.open(paths(node.config.data).hubDb);
    const list: { addr: string; key?: Uint8Array }[] = [];
    if (state.relay) list.push({ addr: state.relay.addr, key: state.relay.key });
    for (const a of [...relays, ...this.#cfg.relays]) {
      if (!list.some((r) => r.addr === a)) list.push({ addr: a });
    }
    this.#relays = list;
    this.#backoff = new Backoff({
      baseMs: this.#cfg.hubBackoffBaseMs,
      capMs: this.#cfg.hubBackoffCapMs,
    });
    if (state.record) this.store.putRecord(state.record, nowSec());
  }

  /**
   * Starts the hub role: needs `family create` (family.key); `relays` adds
   * to the relay recorded by `hub join`.
   */
  static async start(node: Node, relays: readonly string[]): Promise<Hub> {
    const be = node.backend;
    const family = await readFamilyKey(be, node.config.data);
    const state = await readHubState(be, node.config.data);
    if (state === undefined) {
      throw new MyClerkError(ErrorCode.BAD_REQUEST, "no-family", {
        fix: "run `family create NAME --data DIR` on this hub first",
      });
    }
    const hub = new Hub(node, family, state, relays);
    hub.#describe();
    hub.#sweepTimer = setInterval(() => {
      try {
        hub.store.sweepSeen(nowSec());
        hub.store.pruneStored(nowSec() - 24 * 3600);
      } catch (e) {
        node.log.error("hub sweep failed", { error: String(e) });
      }
    }, 60_000);
    if (hub.#relays.length === 0) {
      node.log.warn("hub has no relay: run `hub join RELAY TOKEN` or pass --relay", {
        family: state.id,
      });
    } else {
      hub.#loop = hub.#run();
    }
    node.log.info("hub started", {
      family: state.id,
      name: state.name,
      relays: hub.#relays.map((r) => r.addr),
      joined: state.relay !== undefined,
    });
    return hub;
  }

  #describe(): void {
    const m = this.node.metrics;
    m.register(FED);
    m.gauge(FED.outboxPending, () => this.store.outboxCounts().pending);
    m.gauge(FED.inboxMessages, () => this.store.inboxCount());
    m.gauge(FED.hubConnected, () => (this.#ready ? 1 : 0));
  }

  /** True while a session to the relay is up and greeted. */
  get connected(): boolean {
    return this.#ready;
  }

  // ---- connection loop ------------------------------------------------------

  async #run(): Promise<void> {
    let i = 0;
    let failed: unknown;
    let failures = 0;
    while (!this.#stopping) {
      const r = this.#relays[i % this.#relays.length];
      i++;
      try {
        const c = await Client.connect(r.addr, {
          backend: this.node.backend,
          identity: this.node.identity,
          tier: 5,
          minTier: 4,
          pinnedKey: r.key,
          timeoutMs: 5000,
          maxMessage: this.node.config.limits.maxMessage,
        });
        if (this.#stopping) {
          c.close();
          break;
        }
        this.#session(c, r.addr);
        await c.waitClosed();
        this.#ready = false;
        this.#client = undefined;
        this.#outInflight.clear();
        clearTimeout(this.#pumpTimer);
        this.#pumpTimer = undefined;
        this.node.log.info("relay session closed", { relay: r.addr, reason: c.closeReason });
      } catch (e) {
        failed = e;
      }
      if (this.#stopping) break;
      const delay = this.#restartAfter + this.#backoff.next();
      if (failed === undefined) failures = 0;
      else if (logFailure(++failures)) {
        // One line per doubling of the failure count (1, 2, 4, ... failed dials in a row).
        this.node.log.warn("relay dial failed", {
          relay: r.addr,
          error: dialError(failed, r.addr, "relay"),
          failures,
          retryInMs: delay,
        });
      }
      failed = undefined;
      this.#restartAfter = 0;
      await new Promise<void>((res) => {
        this.#wake = res;
        setTimeout(res, delay);
      });
    }
  }

  #session(c: Client, addr: string): void {
    this.#client = c;
    const link = outboundLink(c, addr);
    c.onRaw((op, bytes) => {
      try {
        this.#onRaw(op, bytes);
      } catch (e) {
        this.node.log.warn("bad message from relay", {
          op,
          error: isMyClerkError(e) ? e.detail : String(e),
        });
      }
    });
    sendFed(link, {
      op: FedOp.FED_HELLO,
      role: "hub",
      keyId: this.node.identity.keyId,
      families: [this.familyId],
      version: FED_VERSION,
      maxMessage: this.#cfg.maxMessage,
    });
  }

  #send(op: number, payload: Uint8Array): boolean {
    const c = this.#client;
    if (c === undefined || c.closed) return false;
    try {
      c.send(op, payload);
      return true;
    } catch {
      return false;
    }
  }

  #onRaw(op: number, bytes: Uint8Array): void {
    if (op === ERROR_OP) return this.#onError(bytes);
    if (op === DirOp.FED_RECORDS) {
      const now = nowSec();
      for (const rec of decodeRecords(this.node.backend, bytes)) {
        this.store.putRecord(rec, now);
        for (const f of this.#lookups.get(rec.id) ?? []) f(rec);
        this.#lookups.delete(rec.id);
      }
      return;
    }
    if (op < 0x0300 || op > 0x03ff) return;
    const m = decodeFed(this.node.backend, op, bytes);
    switch (m.op) {
      case FedOp.FED_HELLO:
        if (!this.#ready) {
          this.#ready = true;
          this.#connects++;
          this.#backoff.reset();
          this.node.metrics.inc(FED.hubConnects);
          this.node.log.info("relay session up", {
            relay: keyIdHex(m.keyId),
            family: this.familyId,
          });
          this.#creditUsed = 0;
          this.#send(
            FedOp.FED_FETCH,
            encodeFed({ op: FedOp.FED_FETCH, family: this.familyId, credit: this.#cfg.credit }),
          );
          this.#outCursor = 0;
          this.#pumpOutbox();
          for (const f of this.connectedListeners) f();
        }
        return;
      case FedOp.FED_DELIVER:
        return this.#onDeliver(m);
      case FedOp.FED_ACK:
        if (m.kind === "stored") {
          const n = this.store.setState(m.mids, "stored", nowSec());
          this.node.metrics.inc(FED.outboxStored, undefined, n);
          for (const mid of m.mids) {
            const k = toHex(mid);
            this.#outInflight.delete(k);
            this.#resolve(k, "stored");
          }
          this.#pumpOutbox();
        }
        return;
      case FedOp.FED_EXPIRED:
        this.store.setState(m.mids, "expired", nowSec(), `to ${m.to}`);
        for (const mid of m.mids) this.#resolve(toHex(mid), "expired");
        this.node.log.warn("messages expired undelivered", { to: m.to, count: m.mids.length });
        return;
      case FedOp.FED_RESTART:
        this.#restartAfter = m.after;
        this.node.log.info("relay announced restart", { after: m.after, reason: m.reason });
        return;
      case FedOp.FED_QUEUE_STATUS:
        this.node.log.info("relay mailbox", { family: m.family, depth: m.depth, bytes: m.bytes });
        return;
      default:
        return;
    }
  }

  #onError(bytes: Uint8Array): void {
    const { error, opcode } = decodeFedError(bytes);
    const mid = error.extra.mid;
    this.node.log.warn("relay refused", {
      opcode,
      code: errorName(error.code),
      detail: error.detail,
      ...error.extra,
    });
    if (opcode === FedOp.FED_DELIVER && mid instanceof Uint8Array) {
      // The relay could not take it now (its store failed or its disk is full): keep it
      // pending and resend; the sender hears why.
      const transient = error.code === ErrorCode.INTERNAL_ERROR ||
        error.code === ErrorCode.SERVICE_UNAVAILABLE;
      const k = toHex(mid);
      this.#outInflight.delete(k);
      if (error.code === ErrorCode.FED_EXPIRED) {
        this.store.setState([mid], "expired", nowSec(), `${errorName(error.code)} ${error.detail}`);
        this.#resolve(k, `expired: ${errorName(error.code)} ${error.detail}`);
      } else if (transient) {
        const why = `${errorName(error.code)} ${error.detail}`;
        this.store.noteRetry(mid, why, nowSec());
        this.#resolve(k, "pending", why);
        this.#scheduleRetry();
      } else {
        const why = `${errorName(error.code)} ${error.detail}` +
          (error.extra.quota
            ? ` quota=${error.extra.quota} used=${error.extra.used} limit=${error.extra.limit}`
            : "");
        this.store.setState([mid], "refused", nowSec(), why);
        this.#resolve(k, `refused: ${why}`);
      }
    }
    if (opcode === DirOp.FED_LOOKUP) {
      const fam = error.extra.family;
      if (typeof fam === "string") {
        for (const f of this.#lookups.get(fam) ?? []) f(error);
        this.#lookups.delete(fam);
      }
    }
  }

  // ---- receiving ------------------------------------------------------------

  #onDeliver(m: FedDeliver): void {
    if (m.to !== this.familyId) {
      this.node.metrics.inc(FED.drops, { reason: "not-for-us" });
      return;
    }
    try {
      const opened = openEnvelope(this.node.backend, m, m.sealed, this.family.privateKey);
      if (opened.ts + opened.ttl + this.node.config.limits.maxSkewSeconds <= nowSec()) {
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
      this.node.metrics.inc(FED.drops, { reason: isMyClerkError(e) ? e.detail : "open" });
      this.node.log.warn("envelope refused", { error: isMyClerkError(e) ? e.detail : String(e) });
      this.#deliveries.push({ mid: m.mid, from: m.from, ts: 0, ttl: 0, body: new Uint8Array() });
    }
    if (this.#flushTimer === undefined) {
      this.#flushTimer = setTimeout(() => this.#flushDeliveries(), 0);
    }
  }

  /** One transaction for everything received in this turn, then acks and more credit. */
  #flushDeliveries(): void {
    this.#flushTimer = undefined;
    const items = this.#deliveries;
    this.#deliveries = [];
    if (items.length === 0) return;
    const now = nowSec();
    const mids: Uint8Array[] = [];
    try {
      const results = this.store.deliverBatch(
        items.filter((d) => d.ttl > 0).map((d) => ({ msg: d, expires: d.ts + d.ttl })),
        now,
      );
      let fresh = 0;
      for (const r of results) if (r) fresh++;
      this.node.metrics.inc(FED.appDelivered, undefined, fresh);
      const replays = results.length - fresh;
      if (replays > 0) this.node.metrics.inc(FED.drops, { reason: "replay" }, replays);
      for (const d of items) mids.push(d.mid);
    } catch (e) {
      // Not durable: no ack; the relay resends after the next reconnect.
      this.node.log.error("inbox write failed", { error: String(e) });
      this.#client?.close();
      return;
    }
    for (let i = 0; i < mids.length; i += MAX_MIDS) {
      this.#send(
        FedOp.FED_ACK,
        encodeFed({
          op: FedOp.FED_ACK,
          kind: "delivered",
          family: this.familyId,
          mids: mids.slice(i, i + MAX_MIDS),
        }),
      );
    }
    this.#creditUsed += items.length;
    if (this.#creditUsed * 2 >= this.#cfg.credit) {
      const credit = Math.min(this.#creditUsed, 0xffff);
      this.#creditUsed -= credit;
      this.#send(
        FedOp.FED_FETCH,
        encodeFed({ op: FedOp.FED_FETCH, family: this.familyId, credit }),
      );
    }
  }

  // ---- sending --------------------------------------------------------------

  /** The record of family `to`: cached, else asked of the relay (FED_LOOKUP). */
  async lookup(to: FamilyId, timeoutMs = 5000): Promise<FamilyRecord> {
    if (!isFamilyId(to)) throw new MyClerkError(ErrorCode.BAD_REQUEST, "family-id", { value: to });
    const have = this.store.getRecord(this.node.backend, to);
    if (have) return have;
    if (!this.#ready) {
      throw new MyClerkError(ErrorCode.SERVICE_UNAVAILABLE, "relay-not-connected", { family: to });
    }
    const r = await new Promise<FamilyRecord | MyClerkError>((resolve) => {
      const timer = setTimeout(
        () => resolve(new MyClerkError(ErrorCode.TIMEOUT, "lookup", { family: to })),
        timeoutMs,
      );
      const list = this.#lookups.get(to) ?? [];
      list.push((x) => {
        clearTimeout(timer);
        resolve(x);
      });
      this.#lookups.set(to, list);
      this.#send(DirOp.FED_LOOKUP, encodeLookup(to));
    });
    if (r instanceof MyClerkError) throw r;
    return r;
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
    const ttl = o.ttl ?? this.#cfg.ttl;
    const env = sealEnvelope(this.node.backend, {
      senderSecret: this.family.privateKey,
      recipientKey: rec.key,
      body,
      ttl,
    });
    if (env.sealed.length > this.#cfg.maxMessage) {
      throw new MyClerkError(ErrorCode.TOO_LARGE, "too-large", {
        limit: this.#cfg.maxMessage,
        size: env.sealed.length,
      });
    }
    const deliver = encodeFed({
      op: FedOp.FED_DELIVER,
      ...env.routing,
      hops: 0,
      sealed: env.sealed,
    });
    this.store.addOutbox(env.routing.mid, to, deliver, env.sealed.length, nowSec());
    const mid = toHex(env.routing.mid);
    const waited = o.waitMs ? this.#wait(mid, o.waitMs) : undefined;
    this.#pumpOutbox();
    const r = waited ? await waited : { state: "pending" };
    return { mid, ...r, size: env.sealed.length };
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

  #retryTimer?: ReturnType<typeof setTimeout>;

  /** Resends the pending outbox from its start after a transient refusal (once per second at most). */
  #scheduleRetry(): void {
    if (this.#retryTimer !== undefined || this.#stopping) return;
    this.#retryTimer = setTimeout(() => {
      this.#retryTimer = undefined;
      this.#outCursor = 0;
      this.#pumpOutbox();
    }, 1000);
  }

  /** Sends pending outbox rows in order, bounded by the in-flight window and the send queue. */
  #pumpOutbox(): void {
    const c = this.#client;
    if (!this.#ready || c === undefined || c.closed) return;
    const window = 1024;
    while (this.#outInflight.size < window) {
      if (c.conn.queuedBytes >= this.#cfg.sendQueueHighBytes) {
        if (this.#pumpTimer === undefined) {
          this.#pumpTimer = setTimeout(() => {
            this.#pumpTimer = undefined;
            this.#pumpOutbox();
          }, 10);
        }
        return;
      }
      const rows = this.store.pending(this.#outCursor, 64);
      if (rows.length === 0) return;
      for (const r of rows) {
        this.#outCursor = r.seq;
        const k = toHex(r.mid);
        if (this.#outInflight.has(k)) continue;
        this.#outInflight.add(k);
        if (!this.#send(FedOp.FED_DELIVER, r.deliver)) return;
      }
    }
  }

  /** What `status` shows for the hub role. */
  status(): Record<string, unknown> {
    return {
      family: this.familyId,
      connected: this.#ready,
      relays: this.#relays.map((r) => r.addr),
      connects: this.#connects,
      outbox: this.store.outboxCounts(),
      inflight: this.#outInflight.size,
      inbox: this.store.inboxCount(),
    };
  }

  /** Stops reconnecting, closes the session and the store. */
  async stop(): Promise<void> {
    if (this.#stopping) return;
    this.#stopping = true;
    clearInterval(this.#sweepTimer);
    clearTimeout(this.#pumpTimer);
    clearTimeout(this.#retryTimer);
    if (this.#flushTimer !== undefined) {
      clearTimeout(this.#flushTimer);
      this.#flushDeliveries();
    }
    this.#client?.close();
    this.#wake?.();
    await this.#loop;
    for (const [k] of this.#waiters) this.#resolve(k, "pending");
    this.store.close();
  }
}
