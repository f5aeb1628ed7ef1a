/**
 * The hub's own store (`<data>/hub.db`, `node:sqlite`, WAL, synchronous
 * FULL): the outbox (sealed FED_DELIVERs kept until a relay acks them
 * "stored"), the inbox (the application's side: opened messages waiting for
 * `recv`), the recipient dedupe table, and a cache of family records learned
 * by FED_LOOKUP.
 *
 * Exactly once to the application: {@link HubStore.deliver} inserts the inbox
 * row and the dedupe row in one transaction, so a crash either keeps both
 * (the relay's resend is then a counted replay) or neither (the resend is
 * delivered). FedStore.markSeen alone could not give this, because the
 * inbox write would be a second, separate commit.
 *
 * @module
 */

import type { DatabaseSync, StatementSync } from "node:sqlite";
import { ErrorCode, MyClerkError } from "../core/errors.ts";
import type { CryptoBackend } from "../core/crypto/types.ts";
import { decodeFamily, encodeFamily, type FamilyId, type FamilyRecord } from "./family.ts";
import type { Manifest } from "./manifest.ts";
import { openStore, readHwm } from "./storeopen.ts";
import { storeError } from "./store.ts";

/** Schema version of `hub.db` this code writes (meta `schema`). */
export const HUB_SCHEMA_VERSION = 1;

/** Outbox states: waiting for "stored", stored, expired undelivered, refused by a relay. */
export type OutboxState = "pending" | "stored" | "expired" | "refused";

/** One outbox row. */
export interface OutboxRow {
  /** Outbox sequence (send order). */
  readonly seq: number;
  /** Message id, 16 bytes. */
  readonly mid: Uint8Array;
  /** Recipient family id. */
  readonly to: FamilyId;
  /** The encoded FED_DELIVER payload, resent as is. */
  readonly deliver: Uint8Array;
  /** Size of the sealed envelope, bytes. */
  readonly size: number;
  /** When it was queued, Unix seconds. */
  readonly created: number;
  /** Where the message stands. */
  readonly state: OutboxState;
  /** Refused: the relay's error; expired: `to <recipient family id>`. */
  readonly detail?: string;
}

/** One inbox row (an opened message for the application). */
export interface InboxRow {
  /** Inbox sequence (arrival order). */
  readonly seq: number;
  /** Message id, 16 bytes. */
  readonly mid: Uint8Array;
  /** Sender family id (authenticated by the envelope). */
  readonly from: FamilyId;
  /** Sender's creation time, Unix seconds. */
  readonly ts: number;
  /** When this hub stored it, Unix seconds. */
  readonly received: number;
  /** The application bytes. */
  readonly body: Uint8Array;
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS meta (k TEXT PRIMARY KEY, v TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS records (id TEXT PRIMARY KEY, record BLOB NOT NULL, learned INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS outbox (
  seq INTEGER PRIMARY KEY AUTOINCREMENT, mid BLOB NOT NULL UNIQUE, recipient TEXT NOT NULL,
  deliver BLOB NOT NULL, size INTEGER NOT NULL, created INTEGER NOT NULL,
  state TEXT NOT NULL, detail TEXT, updated INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS outbox_state ON outbox (state, seq);
CREATE TABLE IF NOT EXISTS inbox (
  seq INTEGER PRIMARY KEY AUTOINCREMENT, mid BLOB NOT NULL, sender TEXT NOT NULL,
  ts INTEGER NOT NULL, received INTEGER NOT NULL, body BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS seen (mid BLOB PRIMARY KEY, expires INTEGER NOT NULL) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS seen_expires ON seen (expires);
`;

type Row = Record<string, unknown>;
const num = (v: unknown): number => (typeof v === "bigint" ? Number(v) : (v as number));

function outboxRow(r: Row): OutboxRow {
  return {
    seq: num(r.seq),
    mid: r.mid as Uint8Array,
    to: r.recipient as string,
    deliver: r.deliver as Uint8Array,
    size: num(r.size),
    created: num(r.created),
    state: r.state as OutboxState,
    ...(r.detail == null ? {} : { detail: r.detail as string }),
  };
}

/** The hub store. One writer process (the hub); the CLI reads and consumes the inbox. */
export class HubStore {
  readonly #db: DatabaseSync;
  readonly #st: Record<string, StatementSync>;
  readonly #manifest?: Manifest;
  readonly #path: string;
  #hwm: number;
  #closed = false;
  /** Whether {@link HubStore.open} created the store, and the schema version it migrated from. */
  readonly opened: {
    readonly created: boolean;
    readonly migratedFrom?: number;
    readonly id: string;
  };

  private constructor(
    db: DatabaseSync,
    path: string,
    manifest: Manifest | undefined,
    opened: HubStore["opened"],
  ) {
    this.#db = db;
    this.#path = path;
    this.#manifest = manifest;
    this.opened = opened;
    this.#hwm = readHwm(db);
    const p = (sql: string) => db.prepare(sql);
    this.#st = {
      hwmBump: p("UPDATE meta SET v = CAST(v AS INTEGER) + 1 WHERE k = 'hwm' RETURNING v"),
      outRetry: p("UPDATE outbox SET detail = ?, updated = ? WHERE mid = ? AND state = 'pending'"),
      seenPut: p("INSERT OR IGNORE INTO seen (mid, expires) VALUES (?, ?)"),
      inboxPut: p("INSERT INTO inbox (mid, sender, ts, received, body) VALUES (?, ?, ?, ?, ?)"),
      outPut: p(
        `INSERT INTO outbox (mid, recipient, deliver, size, created, state, updated)
         VALUES (?, ?, ?, ?, ?, 'pending', ?)`,
      ),
      // pending -> anything; stored -> expired (the relay stored it, then its TTL ran out).
      outState: p(
        `UPDATE outbox SET state = ?1, detail = ?2, updated = ?3 WHERE mid = ?4
         AND (state = 'pending' OR (state = 'stored' AND ?1 = 'expired'))`,
      ),
      outPending: p(
        "SELECT * FROM outbox WHERE state = 'pending' AND seq > ? ORDER BY seq LIMIT ?",
      ),
    };
  }

  /**
   * Opens (creating when new) `path`, checked against its manifest and
   * migrated to {@link HUB_SCHEMA_VERSION} (storeopen.ts): SERVICE_UNAVAILABLE
   * `store-*` with `path` and `fix` for a store that is missing, empty,
   * truncated, damaged, rolled back or newer.
   */
  static open(path: string): HubStore {
    let r;
    try {
      r = openStore(path, {
        kind: "hub",
        version: HUB_SCHEMA_VERSION,
        schema: SCHEMA,
        // 0 -> 1: the meta table and rows (schema, store-id, hwm), added by openStore.
        migrations: [() => {}],
        synchronous: "FULL",
      });
    } catch (e) {
      if (e instanceof MyClerkError) throw e;
      throw new MyClerkError(ErrorCode.INTERNAL_ERROR, "hub-store-open", { path }, e);
    }
    return new HubStore(r.db, path, r.manifest, {
      created: r.created,
      id: r.id,
      ...(r.migratedFrom === undefined ? {} : { migratedFrom: r.migratedFrom }),
    });
  }

  /** The store's commit counter: bumped by every durable transaction. */
  get hwm(): number {
    return this.#hwm;
  }

  /** Closes the database. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#manifest?.closeSync();
    this.#db.close();
  }

  /**
   * One transaction, durable on return (FULL), its commit counter recorded
   * in the manifest before returning: whatever the caller acknowledges
   * next (an ack "delivered", "pending" to the application) is accounted for.
   */
  #tx<T>(f: () => T): T {
    this.#db.exec("BEGIN IMMEDIATE");
    try {
      const r = f();
      this.#hwm = Number((this.#st.hwmBump.get() as Row).v);
      this.#db.exec("COMMIT");
      this.#manifest?.recordSync(this.#hwm);
      return r;
    } catch (e) {
      // A failed COMMIT (disk full, I/O error) may already have rolled back: keep the real error.
      try {
        this.#db.exec("ROLLBACK");
      } catch { /* no transaction left */ }
      throw storeError(e, this.#path);
    }
  }

  // ---- records -------------------------------------------------------------

  /** Caches a (verified) family record. */
  putRecord(rec: FamilyRecord, now: number): void {
    this.#db.prepare(
      "INSERT INTO records (id, record, learned) VALUES (?, ?, ?) ON CONFLICT (id) DO UPDATE SET record = excluded.record",
    ).run(rec.id, encodeFamily(rec), now);
  }

  /** A cached record, or undefined. */
  getRecord(be: CryptoBackend, id: FamilyId): FamilyRecord | undefined {
    const r = this.#db.prepare("SELECT record FROM records WHERE id = ?").get(id) as
      | Row
      | undefined;
    return r === undefined ? undefined : decodeFamily(be, r.record as Uint8Array);
  }

  /** Every cached record. */
  listRecords(be: CryptoBackend): readonly FamilyRecord[] {
    return (this.#db.prepare("SELECT record FROM records ORDER BY id").all() as Row[])
      .map((r) => decodeFamily(be, r.record as Uint8Array));
  }

  // ---- outbox --------------------------------------------------------------

  /** Durably adds a sealed message to the outbox (state pending). */
  addOutbox(mid: Uint8Array, to: FamilyId, deliver: Uint8Array, size: number, now: number): number {
    return this.#tx(() =>
      num(this.#st.outPut.run(mid, to, deliver, size, now, now).lastInsertRowid)
    );
  }

  /** Notes on a pending row why the last attempt failed (it stays pending and is resent). */
  noteRetry(mid: Uint8Array, detail: string, now: number): void {
    this.#st.outRetry.run(detail, now, mid);
  }

  /** Pending rows after `afterSeq`, in send order. */
  pending(afterSeq: number, limit: number): readonly OutboxRow[] {
    return (this.#st.outPending.all(afterSeq, limit) as Row[]).map(outboxRow);
  }

  /** Moves pending rows to `state` (one transaction); returns how many changed. */
  setState(mids: readonly Uint8Array[], state: OutboxState, now: number, detail?: string): number {
    return this.#tx(() => {
      let n = 0;
      for (const m of mids) n += num(this.#st.outState.run(state, detail ?? null, now, m).changes);
      return n;
    });
  }

  /** One outbox row by mid. */
  outbox(mid: Uint8Array): OutboxRow | undefined {
    const r = this.#db.prepare("SELECT * FROM outbox WHERE mid = ?").get(mid) as Row | undefined;
    return r === undefined ? undefined : outboxRow(r);
  }

  /** Outbox rows (newest last), optionally in one state. */
  listOutbox(state?: OutboxState, limit = 1000): readonly OutboxRow[] {
    const rows = state === undefined
      ? this.#db.prepare("SELECT * FROM outbox ORDER BY seq LIMIT ?").all(limit)
      : this.#db.prepare("SELECT * FROM outbox WHERE state = ? ORDER BY seq LIMIT ?").all(
        state,
        limit,
      );
    return (rows as Row[]).map(outboxRow);
  }

  /** Outbox counts by state. */
  outboxCounts(): Readonly<Record<OutboxState, number>> {
    const out: Record<OutboxState, number> = { pending: 0, stored: 0, expired: 0, refused: 0 };
    for (
      const r of this.#db.prepare("SELECT state, count(*) AS n FROM outbox GROUP BY state")
        .all() as Row[]
    ) {
      out[r.state as OutboxState] = num(r.n);
    }
    return out;
  }

  /** Forgets stored rows older than `before` (Unix seconds). */
  pruneStored(before: number): number {
    return num(
      this.#db.prepare("DELETE FROM outbox WHERE state = 'stored' AND updated < ?").run(before)
        .changes,
    );
  }

  // ---- inbox and dedupe ----------------------------------------------------

  /**
   * Hands an opened message to the application exactly once: records the
   * mid until `expires` and inserts the inbox row in one transaction. False
   * (and nothing written) for a replay within the window.
   */
  deliver(
    m: {
      readonly mid: Uint8Array;
      readonly from: FamilyId;
      readonly ts: number;
      readonly body: Uint8Array;
    },
    expires: number,
    now: number,
  ): boolean {
    return this.#tx(() => {
      if (num(this.#st.seenPut.run(m.mid, expires).changes) !== 1) return false;
      this.#st.inboxPut.run(m.mid, m.from, m.ts, now, m.body);
      return true;
    });
  }

  /**
   * {@link deliver} for many messages in one transaction (one fsync): the
   * hub's group commit. Per-item true (delivered) / false (replay).
   */
  deliverBatch(
    items: readonly {
      readonly msg: {
        readonly mid: Uint8Array;
        readonly from: FamilyId;
        readonly ts: number;
        readonly body: Uint8Array;
      };
      readonly expires: number;
    }[],
    now: number,
  ): readonly boolean[] {
    return this.#tx(() =>
      items.map(({ msg, expires }) => {
        if (num(this.#st.seenPut.run(msg.mid, expires).changes) !== 1) return false;
        this.#st.inboxPut.run(msg.mid, msg.from, msg.ts, now, msg.body);
        return true;
      })
    );
  }

  /** Inbox rows after `afterSeq`, oldest first. */
  inbox(afterSeq = 0, limit = 1000): readonly InboxRow[] {
    return (this.#db.prepare("SELECT * FROM inbox WHERE seq > ? ORDER BY seq LIMIT ?").all(
      afterSeq,
      limit,
    ) as Row[]).map((r) => ({
      seq: num(r.seq),
      mid: r.mid as Uint8Array,
      from: r.sender as string,
      ts: num(r.ts),
      received: num(r.received),
      body: r.body as Uint8Array,
    }));
  }

  /** Removes consumed inbox rows up to and including `seq`. */
  consume(uptoSeq: number): number {
    return num(this.#db.prepare("DELETE FROM inbox WHERE seq <= ?").run(uptoSeq).changes);
  }

  /** Inbox depth. */
  inboxCount(): number {
    return num((this.#db.prepare("SELECT count(*) AS n FROM inbox").get() as Row).n);
  }

  /** Drops dedupe rows past their window. */
  sweepSeen(now: number): number {
    return num(this.#db.prepare("DELETE FROM seen WHERE expires <= ?").run(now).changes);
  }
}
