/**
 * The SQLite relay store on its own thread: {@link WorkerRelayStore}
 * implements {@link RelayStore} by sending every call to a Worker
 * (sqlite_worker.ts) that owns a {@link SqliteRelayStore}. SQL, COMMITs and
 * checkpoint fsyncs then run beside the relay's event loop instead of on
 * it, so both cores work and the loop never waits on the disk.
 *
 * Same semantics as the SQLite store (the conformance suite runs on both):
 * calls are sent in call order, batched per event-loop iteration into one
 * message, and run in that order by the worker (delivered-acks of one batch
 * coalesce there as in {@link SqliteRelayStore}); `durable` of an
 * enqueueBatch is a second reply after the worker's group sync and mark.
 * Costs: each call is a structured-clone round trip (a batch of sealed
 * envelopes is copied to the worker, fetched rows are copied back).
 *
 * @module
 */

import { setImmediate } from "node:timers";
import { ErrorCode, MyClerkError } from "../../core/errors.ts";
import type { CryptoBackend } from "../../core/crypto/types.ts";
import type { FamilyId, FamilyRecord } from "../family.ts";
import type { Invite } from "../invite.ts";
import type { SqliteRelayOptions } from "./sqlite_relay.ts";
import type { OpenInfo } from "./sqlite_open.ts";
import { fromWire, type WireCall, type WireError, type WireReply } from "./sqlite_worker.ts";
import type {
  EnqueueBatch,
  EnqueueItem,
  EnqueueResult,
  ExpiredMessage,
  FetchWindow,
  Lane,
  QueuedMessage,
  QueueStatus,
  Quota,
  RelayStore,
  StoredFamily,
  StoreStats,
  Usage,
} from "./types.ts";

interface Pending {
  readonly resolve: (v: unknown) => void;
  readonly reject: (e: unknown) => void;
}

/** The relay store in a Worker. Open with {@link WorkerRelayStore.open}. */
export class WorkerRelayStore implements RelayStore {
  /** Short name for logs and `status`. */
  readonly kind = "sqlite-worker";
  /** How the worker's open went. */
  readonly opened: OpenInfo;
  readonly #w: Worker;
  readonly #pending = new Map<number, Pending>();
  readonly #durable = new Map<number, Pending>();
  readonly #onSync?: (error?: unknown) => void;
  #id = 1;
  #out: WireCall[] = [];
  #flushing = false;
  #closed?: Promise<void>;
  #dead?: Error;

  private constructor(w: Worker, opened: OpenInfo, onSync?: (error?: unknown) => void) {
    this.#w = w;
    this.opened = opened;
    this.#onSync = onSync;
    w.onmessage = (ev: MessageEvent) => this.#receive(ev.data as { replies: WireReply[] });
    w.onerror = (ev: ErrorEvent) => {
      ev.preventDefault();
      this.#die(new MyClerkError(ErrorCode.INTERNAL_ERROR, "store", { error: ev.message }));
    };
  }

  /**
   * Starts the worker and opens the store there with `o` (every check of
   * sqlite_open.ts; a refusal rejects with the same SERVICE_UNAVAILABLE
   * `store-*` error). `o.onSync` is called on this thread.
   */
  static open(o: SqliteRelayOptions): Promise<WorkerRelayStore> {
    const w = new Worker(new URL("./sqlite_worker.ts", import.meta.url), {
      type: "module",
      // The worker opens the data directory's files: the same permissions as the relay.
      deno: { permissions: "inherit" },
    } as WorkerOptions);
    const { onSync, ...rest } = o;
    return new Promise((resolve, reject) => {
      w.onerror = (ev: ErrorEvent) => {
        ev.preventDefault();
        w.terminate();
        reject(new MyClerkError(ErrorCode.INTERNAL_ERROR, "store", { error: ev.message }));
      };
      w.onmessage = (ev: MessageEvent) => {
        const r = (ev.data as { replies: WireReply[] }).replies[0];
        if ("ok" in r && r.ok) resolve(new WorkerRelayStore(w, r.v as OpenInfo, onSync));
        else {
          w.terminate();
          reject(fromWire((r as { e: WireError }).e));
        }
      };
      w.postMessage({ open: rest });
    });
  }

  #die(e: Error): void {
    this.#dead ??= e;
    for (const p of this.#pending.values()) p.reject(e);
    for (const p of this.#durable.values()) p.reject(e);
    this.#pending.clear();
    this.#durable.clear();
  }

  #receive(msg: { replies: WireReply[] }): void {
    for (const r of msg.replies) {
      if ("sync" in r) {
        this.#onSync?.(r.sync === null ? undefined : fromWire(r.sync));
      } else if ("durable" in r) {
        const p = this.#durable.get(r.id);
        this.#durable.delete(r.id);
        if (r.durable) p?.resolve(undefined);
        else p?.reject(fromWire(r.e));
      } else {
        const p = this.#pending.get(r.id);
        this.#pending.delete(r.id);
        if (r.ok) p?.resolve(r.v);
        else p?.reject(fromWire(r.e));
      }
    }
  }

  /** Queues a call for this iteration's message; resolves with the worker's reply. */
  #call<T>(m: string, a: readonly unknown[], reply = true): Promise<T> {
    if (this.#dead) return Promise.reject(this.#dead);
    if (this.#closed && m !== "close") {
      return Promise.reject(new MyClerkError(ErrorCode.SERVICE_UNAVAILABLE, "store-closed", {}));
    }
    const id = this.#id++;
    this.#out.push({ id, m, a });
    if (!this.#flushing) {
      this.#flushing = true;
      // One message per event-loop iteration: every call of this wake-up, in call order.
      setImmediate(() => this.#send());
    }
    if (!reply) return Promise.resolve(undefined as T);
    return new Promise<T>((resolve, reject) => {
      this.#pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
    });
  }

  #send(): void {
    this.#flushing = false;
    const calls = this.#out;
    this.#out = [];
    if (calls.length === 0) return;
    try {
      this.#w.postMessage({ calls });
    } catch (e) {
      // An argument that cannot be cloned fails its batch, typed, instead of the process.
      const err = new MyClerkError(ErrorCode.INTERNAL_ERROR, "store", { error: String(e) }, e);
      for (const c of calls) {
        this.#pending.get(c.id)?.reject(err);
        this.#pending.delete(c.id);
        this.#durable.get(c.id)?.reject(err);
        this.#durable.delete(c.id);
      }
    }
  }

  putFamily(rec: FamilyRecord, local: boolean, now: number, quota?: Quota): Promise<void> {
    return this.#call("putFamily", [rec, local, now, quota]);
  }

  getFamily(_be: CryptoBackend, id: FamilyId): Promise<StoredFamily | undefined> {
    return this.#call("getFamily", [id]);
  }

  listFamilies(_be: CryptoBackend): Promise<readonly StoredFamily[]> {
    return this.#call("listFamilies", []);
  }

  addInvite(inv: Invite, now: number): Promise<void> {
    return this.#call("addInvite", [inv, now]);
  }

  redeemInvite(tokenId: Uint8Array, family: FamilyId, now: number): Promise<void> {
    return this.#call("redeemInvite", [tokenId, family, now]);
  }

  /** Quota of families without their own (applies from the worker's next call). */
  setDefaultQuota(q: Quota): void {
    this.#call("setDefaultQuota", [q], false);
  }

  /** Longest TTL honoured, seconds (applies from the worker's next call). */
  setMaxTtl(seconds: number): void {
    this.#call("setMaxTtl", [seconds], false);
  }

  async enqueueBatch(items: readonly EnqueueItem[], now: number): Promise<EnqueueBatch> {
    const p = this.#call<readonly (EnqueueResult | { error: WireError })[]>(
      "enqueueBatch",
      [items, now],
    );
    const id = this.#id - 1;
    const durable = new Promise<void>((resolve, reject) => {
      this.#durable.set(id, { resolve: resolve as (v: unknown) => void, reject });
    });
    // A caller that drops `durable` (after a failed call, say) does not crash the process.
    durable.catch(() => {});
    let raw: readonly (EnqueueResult | { error: WireError })[];
    try {
      raw = await p;
    } catch (e) {
      this.#durable.delete(id);
      throw e;
    }
    const results = raw.map((r) =>
      "error" in r ? fromWire(r.error) as MyClerkError : r as EnqueueResult
    );
    return { results, durable };
  }

  fetchWindow(
    family: FamilyId,
    after: number,
    limit: number,
    maxBytes: number,
  ): Promise<FetchWindow> {
    return this.#call("fetchWindow", [family, after, limit, maxBytes]);
  }

  fetchPeer(
    peer: number,
    after: number,
    limit: number,
    maxBytes: number,
  ): Promise<readonly QueuedMessage[]> {
    return this.#call("fetchPeer", [peer, after, limit, maxBytes]);
  }

  ack(
    lane: Lane,
    family: FamilyId,
    mids: readonly Uint8Array[],
    o?: { readonly durable?: boolean },
  ): Promise<number> {
    return this.#call("ack", [lane, family, mids, o ?? {}]);
  }

  ackPeer(
    peer: number,
    items: readonly { readonly to: FamilyId; readonly mid: Uint8Array }[],
  ): Promise<number> {
    return this.#call("ackPeer", [peer, items]);
  }

  queueStatus(lane: Lane, family?: FamilyId): Promise<QueueStatus> {
    return this.#call("queueStatus", [lane, family]);
  }

  usage(family: FamilyId): Promise<Usage> {
    return this.#call("usage", [family]);
  }

  sweep(now: number, limit?: number): Promise<readonly ExpiredMessage[]> {
    return this.#call("sweep", [now, limit]);
  }

  pendingNotices(sender: FamilyId, limit?: number): Promise<readonly ExpiredMessage[]> {
    return this.#call("pendingNotices", [sender, limit]);
  }

  noticeSenders(limit?: number): Promise<readonly FamilyId[]> {
    return this.#call("noticeSenders", [limit]);
  }

  addNotices(
    sender: FamilyId,
    to: FamilyId,
    mids: readonly Uint8Array[],
    now: number,
  ): Promise<void> {
    return this.#call("addNotices", [sender, to, mids, now]);
  }

  clearNotices(sender: FamilyId, mids: readonly Uint8Array[]): Promise<void> {
    return this.#call("clearNotices", [sender, mids]);
  }

  stats(): Promise<StoreStats> {
    return this.#call("stats", []);
  }

  /** Flushes pending work in the worker, closes the store there, ends the worker. Idempotent. */
  close(): Promise<void> {
    this.#closed ??= (async () => {
      try {
        if (!this.#dead) await this.#call("close", []);
      } finally {
        this.#w.terminate();
        this.#die(new MyClerkError(ErrorCode.SERVICE_UNAVAILABLE, "store-closed", {}));
      }
    })();
    return this.#closed;
  }
}
