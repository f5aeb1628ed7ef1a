/**
 * Worker entry of {@link WorkerRelayStore} (worker_relay.ts): owns the
 * SQLite connection of the relay store on its own thread, so SQL, COMMITs
 * and checkpoint fsyncs never run on the relay's event loop. Not imported
 * by anything: `new Worker(new URL("./sqlite_worker.ts", ...))` loads it.
 *
 * Protocol (structured clone, both directions batched per turn):
 * main → worker `{open}` once, then `{calls: [{id, m, a}]}` run in order;
 * worker → main `{replies: [...]}`: `{id, ok: true, v}`, `{id, ok: false,
 * e}`, `{id, durable: true}` / `{id, durable: false, e}` for the `durable`
 * promise of an enqueueBatch, and `{sync: error | null}` for `onSync`.
 *
 * @module
 */

/// <reference lib="deno.worker" />

import { setImmediate } from "node:timers";
import { backend } from "../../core/crypto/mod.ts";
import { type ErrorCodeValue, MyClerkError } from "../../core/errors.ts";
import { SqliteRelayStore } from "./sqlite_relay.ts";
import type { SqliteRelayOptions } from "./sqlite_relay.ts";
import type { EnqueueBatch } from "./types.ts";

/** An error as it crosses the thread boundary. */
export interface WireError {
  /** MyClerkError code, when it is one. */
  readonly code?: ErrorCodeValue;
  /** MyClerkError detail. */
  readonly detail?: string;
  /** MyClerkError extras (cloneable). */
  readonly extra?: Record<string, unknown>;
  /** `String(error)` for anything else. */
  readonly message: string;
}

/** One reply of the worker. */
export type WireReply =
  | { readonly id: number; readonly ok: true; readonly v: unknown }
  | { readonly id: number; readonly ok: false; readonly e: WireError }
  | { readonly id: number; readonly durable: true }
  | { readonly id: number; readonly durable: false; readonly e: WireError }
  | { readonly sync: WireError | null };

/** One call to the worker. */
export interface WireCall {
  /** Reply id. */
  readonly id: number;
  /** Method of RelayStore. */
  readonly m: string;
  /** Arguments (the CryptoBackend argument is left out: the worker has its own). */
  readonly a: readonly unknown[];
}

/** Converts an error for the other thread. */
export function toWire(e: unknown): WireError {
  if (e instanceof MyClerkError) {
    let extra: Record<string, unknown> = e.extra;
    try {
      structuredClone(extra);
    } catch {
      extra = JSON.parse(JSON.stringify(extra)) as Record<string, unknown>;
    }
    return { code: e.code, detail: e.detail, extra, message: e.message };
  }
  return { message: String(e) };
}

/** Rebuilds an error from the other thread. */
export function fromWire(w: WireError): Error {
  if (w.code !== undefined && w.detail !== undefined) {
    return new MyClerkError(w.code, w.detail, w.extra ?? {});
  }
  return new Error(w.message);
}

const isWorker = typeof (globalThis as { WorkerGlobalScope?: unknown }).WorkerGlobalScope !==
  "undefined";

if (isWorker) {
  const be = backend();
  let store: SqliteRelayStore | undefined;
  let out: WireReply[] = [];
  let flushing = false;
  const reply = (r: WireReply) => {
    out.push(r);
    if (!flushing) {
      flushing = true;
      setImmediate(() => {
        flushing = false;
        const rs = out;
        out = [];
        self.postMessage({ replies: rs });
      });
    }
  };
  const settle = (id: number, p: Promise<unknown>) =>
    p.then((v) => reply({ id, ok: true, v }), (e) => reply({ id, ok: false, e: toWire(e) }));

  self.onmessage = (ev: MessageEvent) => {
    const msg = ev.data as { open?: SqliteRelayOptions; calls?: readonly WireCall[] };
    if (msg.open !== undefined) {
      try {
        store = SqliteRelayStore.open({
          ...msg.open,
          onSync: (e) => reply({ sync: e === undefined ? null : toWire(e) }),
        });
        reply({ id: 0, ok: true, v: store.opened });
      } catch (e) {
        reply({ id: 0, ok: false, e: toWire(e) });
      }
      return;
    }
    for (const c of msg.calls ?? []) run(c);
  };

  const run = (c: WireCall) => {
    const s = store;
    if (s === undefined) {
      reply({ id: c.id, ok: false, e: { message: "store not open" } });
      return;
    }
    const a = c.a as never[];
    switch (c.m) {
      case "enqueueBatch":
        settle(
          c.id,
          s.enqueueBatch(a[0], a[1]).then((b: EnqueueBatch) => {
            b.durable.then(
              () => reply({ id: c.id, durable: true }),
              (e) => reply({ id: c.id, durable: false, e: toWire(e) }),
            );
            return b.results.map((r) => r instanceof MyClerkError ? { error: toWire(r) } : r);
          }),
        );
        return;
      case "getFamily":
        settle(c.id, s.getFamily(be, a[0]));
        return;
      case "listFamilies":
        settle(c.id, s.listFamilies(be));
        return;
      case "setDefaultQuota":
        s.setDefaultQuota(a[0]);
        return;
      case "setMaxTtl":
        s.setMaxTtl(a[0]);
        return;
      case "close":
        settle(c.id, s.close());
        return;
      case "putFamily":
      case "addInvite":
      case "redeemInvite":
      case "fetchWindow":
      case "fetchPeer":
      case "ack":
      case "ackPeer":
      case "queueStatus":
      case "usage":
      case "sweep":
      case "pendingNotices":
      case "noticeSenders":
      case "addNotices":
      case "clearNotices":
      case "stats": {
        const f = (s as unknown as Record<string, (...x: unknown[]) => Promise<unknown>>)[c.m];
        settle(c.id, f.apply(s, a));
        return;
      }
      default:
        reply({ id: c.id, ok: false, e: { message: `unknown call ${c.m}` } });
    }
  };
}
