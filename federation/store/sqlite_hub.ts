/**
 * The hub's own store on `node:sqlite` (`<data>/hub.db`, WAL, synchronous
 * FULL), behind the {@link HubStore} seam: the outbox (sealed FED_DELIVERs
 * kept until a relay acks them "stored"), the inbox (the application's
 * side: opened messages waiting for `recv`), the recipient dedupe table,
 * and a cache of family records learned by FED_LOOKUP.
 *
 * Exactly once to the application: {@link SqliteHubStore.deliverBatch}
 * inserts the inbox row and the dedupe row in one transaction, so a crash
 * either keeps both (the relay's resend is then a counted replay) or
 * neither (the resend is delivered).
 *
 * Every COMMIT is synced by SQLite (FULL) except an outbox row's move to
 * "stored" (see {@link SqliteHubStore.setState}); calls whose result the hub
 * acknowledges to someone (`addOutbox`: "pending" to the application,
 * `deliverBatch`: FED_ACK "delivered") resolve only after the manifest
 * mark too, one mark per group of such calls (sqlite_open.ts).
 *
 * @module
 */

import type { StatementSync } from "node:sqlite";
import { ErrorCode, MyClerkError } from "../../core/errors.ts";
import type { CryptoBackend } from "../../core/crypto/types.ts";
import { decodeFamily, encodeFamily, type FamilyId, type FamilyRecord } from "../family.ts";
import { num, settle, SqliteDb } from "./sqlite_open.ts";
import type {
  HubStore,
  InboxInput,
  InboxRow,
  OutboxCounts,
  OutboxRow,
  OutboxState,
} from "./types.ts";

/** Schema version of `hub.db` this code writes (meta `schema`). */
export const HUB_SCHEMA_VERSION = 1;

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

/** The hub store on SQLite. One writer process (the hub); the CLI reads and consumes the inbox. */
export class SqliteHubStore implements HubStore {
  readonly #d: SqliteDb;
  readonly #st: Record<string, StatementSync>;

  private constructor(d: SqliteDb) {
    this.#d = d;
    const p = (sql: string) => d.db.prepare(sql);
    this.#st = {
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
   * migrated to {@link HUB_SCHEMA_VERSION} (sqlite_open.ts):
   * SERVICE_UNAVAILABLE `store-*` with `path` and `fix` for a store that is
   * missing, empty, truncated, damaged, rolled back or newer.
   */
  static open(path: string): SqliteHubStore {
    let d: SqliteDb;
    try {
      d = new SqliteDb(path, {
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
    return new SqliteHubStore(d);
  }

  /** Whether the open created the store, the schema version it migrated from, its id. */
  get opened(): SqliteDb["opened"] {
    return this.#d.opened;
  }

  /** The store's commit counter: bumped by every durable transaction. */
  get hwm(): number {
    return this.#d.hwm;
  }

  /** Waits for marks in flight, then closes. Idempotent. */
  close(): Promise<void> {
    return this.#d.close();
  }

  /** Closes at once (the CLI's short-lived handles). Idempotent. */
  closeSync(): void {
    this.#d.closeSync();
  }

  // ---- records -------------------------------------------------------------

  /** Caches a (verified) family record. */
  putRecord(rec: FamilyRecord, now: number): Promise<void> {
    return settle(() => {
      this.#d.db.prepare(
        "INSERT INTO records (id, record, learned) VALUES (?, ?, ?) ON CONFLICT (id) DO UPDATE SET record = excluded.record",
      ).run(rec.id, encodeFamily(rec), now);
    });
  }

  /** A cached record, or undefined. */
  getRecord(be: CryptoBackend, id: FamilyId): Promise<FamilyRecord | undefined> {
    return settle(() => {
      const r = this.#d.db.prepare("SELECT record FROM records WHERE id = ?").get(id) as
        | Row
        | undefined;
      return r === undefined ? undefined : decodeFamily(be, r.record as Uint8Array);
    });
  }

  /** Every cached record. */
  listRecords(be: CryptoBackend): readonly FamilyRecord[] {
    return (this.#d.db.prepare("SELECT record FROM records ORDER BY id").all() as Row[])
      .map((r) => decodeFamily(be, r.record as Uint8Array));
  }

  // ---- outbox --------------------------------------------------------------

  /** Durably adds a sealed message to the outbox (state pending); its seq. Durable and marked on return. */
  async addOutbox(
    mid: Uint8Array,
    to: FamilyId,
    deliver: Uint8Array,
    size: number,
    now: number,
  ): Promise<number> {
    const seq = this.#d.tx(() =>
      num(this.#st.outPut.run(mid, to, deliver, size, now, now).lastInsertRowid)
    );
    await this.#d.whenDurable();
    return seq;
  }

  /** Notes on a pending row why the last attempt failed (it stays pending and is resent). */
  noteRetry(mid: Uint8Array, detail: string, now: number): Promise<void> {
    return settle(() => {
      this.#st.outRetry.run(detail, now, mid);
    });
  }

  /** Pending rows after `afterSeq`, in send order. */
  pending(afterSeq: number, limit: number): Promise<readonly OutboxRow[]> {
    return settle(() => (this.#st.outPending.all(afterSeq, limit) as Row[]).map(outboxRow));
  }

  /**
   * Moves pending rows to `state` (one transaction); resolves with how many
   * changed. Not waiting for a manifest mark: the hub acknowledges nothing
   * on it. "stored" (once per FED_ACK from the relay) is a relaxed commit:
   * no fsync of its own on the hub's event loop; the next synced commit
   * takes it to disk, and if a power cut loses it the row is pending again,
   * is resent, and the relay answers it as a duplicate ("stored"). Expired
   * and refused are synced at COMMIT (a lost refusal could let a resend
   * succeed after the application was told "refused").
   */
  setState(
    mids: readonly Uint8Array[],
    state: OutboxState,
    now: number,
    detail?: string,
  ): Promise<number> {
    return settle(() =>
      this.#d.tx(() => {
        let n = 0;
        for (const m of mids) {
          n += num(this.#st.outState.run(state, detail ?? null, now, m).changes);
        }
        return n;
      }, state === "stored" ? "relaxed" : "durable")
    );
  }

  /** One outbox row by mid. */
  outbox(mid: Uint8Array): OutboxRow | undefined {
    const r = this.#d.db.prepare("SELECT * FROM outbox WHERE mid = ?").get(mid) as
      | Row
      | undefined;
    return r === undefined ? undefined : outboxRow(r);
  }

  /** Outbox rows (newest last), optionally in one state. */
  listOutbox(state?: OutboxState, limit = 1000): readonly OutboxRow[] {
    const db = this.#d.db;
    const rows = state === undefined
      ? db.prepare("SELECT * FROM outbox ORDER BY seq LIMIT ?").all(limit)
      : db.prepare("SELECT * FROM outbox WHERE state = ? ORDER BY seq LIMIT ?").all(state, limit);
    return (rows as Row[]).map(outboxRow);
  }

  /** Outbox counts by state (synchronous: the CLI's `status`). */
  outboxCountsSync(): OutboxCounts {
    const out: Record<OutboxState, number> = { pending: 0, stored: 0, expired: 0, refused: 0 };
    for (
      const r of this.#d.db.prepare("SELECT state, count(*) AS n FROM outbox GROUP BY state")
        .all() as Row[]
    ) {
      out[r.state as OutboxState] = num(r.n);
    }
    return out;
  }

  /** Outbox counts by state. */
  outboxCounts(): Promise<OutboxCounts> {
    return settle(() => this.outboxCountsSync());
  }

  /** Forgets stored rows older than `before` (Unix seconds). */
  pruneStored(before: number): Promise<number> {
    return settle(() =>
      num(
        this.#d.db.prepare("DELETE FROM outbox WHERE state = 'stored' AND updated < ?").run(before)
          .changes,
      )
    );
  }

  // ---- inbox and dedupe ----------------------------------------------------

  /**
   * Hands opened messages to the application exactly once, one transaction
   * (the hub's group commit): per item, records the mid until `expires` and
   * inserts the inbox row; true (delivered) or false (a replay within the
   * window: nothing written). Resolves once durable and marked.
   */
  async deliverBatch(
    items: readonly { readonly msg: InboxInput; readonly expires: number }[],
    now: number,
  ): Promise<readonly boolean[]> {
    const out = this.#d.tx(() =>
      items.map(({ msg, expires }) => {
        if (num(this.#st.seenPut.run(msg.mid, expires).changes) !== 1) return false;
        this.#st.inboxPut.run(msg.mid, msg.from, msg.ts, now, msg.body);
        return true;
      })
    );
    await this.#d.whenDurable();
    return out;
  }

  /** {@link deliverBatch} of one message. */
  async deliver(m: InboxInput, expires: number, now: number): Promise<boolean> {
    return (await this.deliverBatch([{ msg: m, expires }], now))[0];
  }

  /** Inbox rows after `afterSeq`, oldest first. */
  inbox(afterSeq = 0, limit = 1000): readonly InboxRow[] {
    return (this.#d.db.prepare("SELECT * FROM inbox WHERE seq > ? ORDER BY seq LIMIT ?").all(
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
    return num(this.#d.db.prepare("DELETE FROM inbox WHERE seq <= ?").run(uptoSeq).changes);
  }

  /** Inbox depth (synchronous: the CLI's `status`). */
  inboxCountSync(): number {
    return num((this.#d.db.prepare("SELECT count(*) AS n FROM inbox").get() as Row).n);
  }

  /** Inbox depth. */
  inboxCount(): Promise<number> {
    return settle(() => this.inboxCountSync());
  }

  /** Drops dedupe rows past their window. */
  sweepSeen(now: number): Promise<number> {
    return settle(() =>
      num(this.#d.db.prepare("DELETE FROM seen WHERE expires <= ?").run(now).changes)
    );
  }
}
