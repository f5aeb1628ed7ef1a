/**
 * The relay's store on `node:sqlite` (docs/FEDERATION.md §6), behind the
 * {@link RelayStore} seam: families, single-use invites, per-family
 * mailboxes (per-sender order kept by one global insertion sequence), peer
 * outbound queues, a dedupe table of message ids, TTL expiry with notices
 * for the senders, per-family quotas and stats. The store holds only
 * relay-visible fields and sealed bytes: nothing in it opens a message.
 *
 * Every call runs its SQL at once, when it is made (node:sqlite is
 * synchronous), so calls apply in call order; the promise only carries the
 * result. Two exceptions keep that order visible:
 * - {@link SqliteRelayStore.enqueueBatch} resolves at COMMIT; its `durable`
 *   promise resolves after the group WAL fdatasync and the manifest mark
 *   (sqlite_open.ts {@link SqliteDb.whenDurable}): one sync in flight,
 *   commits made during it share the next, marks chained in order.
 * - `ack(..., {durable: false})` and `ackPeer` calls of one event-loop turn
 *   are coalesced into ONE relaxed transaction, run at the end of the turn or before any
 *   other call that reads or writes what they touch (every write, stats,
 *   status, usage, sweep); a mailbox or peer fetch leaves them pending but
 *   skips the rows they delete, so it returns what it would after them.
 *
 * Longer than ~500 lines on purpose: one class over one connection, whose
 * methods share the prepared statements, the pending-ack queue and the rule
 * that pending acks run before any other write; split over files, that
 * ordering rule would be in every file.
 *
 * @module
 */

import type { DatabaseSync, StatementSync } from "node:sqlite";
import { clearImmediate, setImmediate } from "node:timers";
import { ErrorCode, MyClerkError } from "../../core/errors.ts";
import type { CryptoBackend } from "../../core/crypto/types.ts";
import { toHex } from "../bytes.ts";
import { DEFAULT_TTL } from "../envelope.ts";
import { decodeFamily, encodeFamily, type FamilyId, type FamilyRecord } from "../family.ts";
import type { Invite } from "../invite.ts";
import { num, settle, SqliteDb, type SyncHook } from "./sqlite_open.ts";
import { dedupeUntil, laneValue, MAILBOX, quotaError, storedExpiry } from "./rules.ts";
import {
  DEFAULT_QUOTA,
  type EnqueueBatch,
  type EnqueueItem,
  type EnqueueResult,
  type ExpiredMessage,
  type FetchWindow,
  type Lane,
  type QueuedMessage,
  type QueueInput,
  type QueueStatus,
  type Quota,
  type RelayStore,
  type StoredFamily,
  type StoreStats,
  type Usage,
} from "./types.ts";

/** Options of {@link SqliteRelayStore.open}. */
export interface SqliteRelayOptions {
  /** Database file (e.g. `<data>/federation.db`), or `:memory:` for tests. */
  readonly path: string;
  /**
   * SQLite `synchronous` level. FULL (default: the CLI, tests) syncs every
   * COMMIT itself; NORMAL (the relay) leaves commits unsynced and makes them
   * durable in groups (`durable` of {@link SqliteRelayStore.enqueueBatch}:
   * one WAL fdatasync for every commit before it). Both survive power loss
   * for everything the relay acknowledges.
   */
  readonly synchronous?: "FULL" | "NORMAL";
  /** Quota for families without their own. */
  readonly defaultQuota?: Quota;
  /** Dedupe window in seconds (default = default TTL, 30 days). */
  readonly dedupeWindow?: number;
  /** Longest TTL honoured, seconds (default 30 days); longer ones are cut. */
  readonly maxTtl?: number;
  /**
   * Set when other files prove the store held data (sqlite_open.ts
   * `StoreSpec.evidence`): an empty store without a manifest is refused.
   */
  readonly evidence?: string;
  /** Called after each group sync (`error` set when it failed): the relay's metrics. */
  readonly onSync?: SyncHook;
}

/** Schema version of `federation.db` this code writes (meta `schema`). */
export const FED_SCHEMA_VERSION = 2;

const SCHEMA = `
CREATE TABLE IF NOT EXISTS meta (k TEXT PRIMARY KEY, v TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS families (
  id TEXT PRIMARY KEY, record BLOB NOT NULL, local INTEGER NOT NULL,
  quota_messages INTEGER, quota_bytes INTEGER, admitted INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS invites (
  token_id BLOB PRIMARY KEY, expires INTEGER NOT NULL, family TEXT,
  created INTEGER NOT NULL, redeemed_at INTEGER, redeemed_by TEXT);
CREATE TABLE IF NOT EXISTS queue (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  lane INTEGER NOT NULL,            -- -1 = mailbox, else peer relay key id
  recipient TEXT NOT NULL, sender TEXT NOT NULL, sender_key BLOB NOT NULL,
  mid BLOB NOT NULL, ttl INTEGER NOT NULL, hops INTEGER NOT NULL,
  sealed BLOB NOT NULL, size INTEGER NOT NULL,
  received INTEGER NOT NULL, expires INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS queue_lane ON queue (lane, recipient, seq);
DROP INDEX IF EXISTS queue_peer;
CREATE INDEX IF NOT EXISTS queue_peer_lanes ON queue (lane, seq) WHERE lane <> -1;
CREATE INDEX IF NOT EXISTS queue_expires ON queue (expires);
CREATE UNIQUE INDEX IF NOT EXISTS queue_mid ON queue (recipient, mid);
CREATE TABLE IF NOT EXISTS seen (
  family TEXT NOT NULL, mid BLOB NOT NULL, expires INTEGER NOT NULL,
  PRIMARY KEY (family, mid)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS seen_expires ON seen (expires);
CREATE TABLE IF NOT EXISTS app_seen (
  family TEXT NOT NULL, mid BLOB NOT NULL, expires INTEGER NOT NULL,
  PRIMARY KEY (family, mid)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS app_seen_expires ON app_seen (expires);
CREATE TABLE IF NOT EXISTS usage (
  family TEXT PRIMARY KEY, messages INTEGER NOT NULL, bytes INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS lanes (
  lane INTEGER NOT NULL, recipient TEXT NOT NULL, messages INTEGER NOT NULL,
  bytes INTEGER NOT NULL, PRIMARY KEY (lane, recipient)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS notices (
  seq INTEGER PRIMARY KEY AUTOINCREMENT, sender TEXT NOT NULL, recipient TEXT NOT NULL,
  mid BLOB NOT NULL, size INTEGER NOT NULL, expired INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS notices_sender ON notices (sender, seq);
`;

/**
 * Schema 1 -> 2: per-lane counters (`lanes`: depth and bytes of each
 * mailbox and of each recipient's share of a peer queue), filled from the
 * queue once, kept in the same transactions as the rows since: `stats` and
 * `queueStatus` read them instead of scanning the queue (a scan read ~1 s
 * per 100,000 queued 1 KiB messages here).
 */
function migrateLanes(db: DatabaseSync): void {
  db.exec(`CREATE TABLE IF NOT EXISTS lanes (
    lane INTEGER NOT NULL, recipient TEXT NOT NULL, messages INTEGER NOT NULL,
    bytes INTEGER NOT NULL, PRIMARY KEY (lane, recipient)) WITHOUT ROWID`);
  db.exec(`INSERT OR REPLACE INTO lanes (lane, recipient, messages, bytes)
    SELECT lane, recipient, count(*), sum(size) FROM queue GROUP BY lane, recipient`);
}

/** Counter changes of one transaction, per lane and recipient. */
type LaneDeltas = Map<string, { lane: number; family: FamilyId; n: number; bytes: number }>;

function addDelta(d: LaneDeltas, lane: number, family: FamilyId, n: number, bytes: number): void {
  const k = `${lane}/${family}`;
  const e = d.get(k);
  if (e === undefined) d.set(k, { lane, family, n, bytes });
  else {
    e.n += n;
    e.bytes += bytes;
  }
}

type Row = Record<string, unknown>;

/** Quota use of one recipient during one transaction. */
interface BatchUsage {
  readonly messages: number;
  readonly bytes: number;
  readonly quota: Quota;
  addMessages: number;
  addBytes: number;
}

/** One coalesced delivered-ack waiting for the end of the turn. */
interface PendingAck {
  readonly lane: number;
  /** Recipient and mid of each message to delete. */
  readonly items: readonly { readonly to: FamilyId; readonly mid: Uint8Array }[];
  readonly resolve: (n: number) => void;
  readonly reject: (e: unknown) => void;
}

function ackKey(lane: number, family: string, mid: Uint8Array): string {
  return `${lane}/${family}/${toHex(mid)}`;
}

function rowToQueued(r: Row): QueuedMessage {
  return {
    seq: num(r.seq),
    to: r.recipient as string,
    from: r.sender as string,
    fromKey: r.sender_key as Uint8Array,
    mid: r.mid as Uint8Array,
    ttl: num(r.ttl),
    hops: num(r.hops),
    sealed: r.sealed as Uint8Array,
    received: num(r.received),
    expires: num(r.expires),
  };
}

/** An invite as listed by {@link SqliteRelayStore.listInvites}. */
export interface InviteListing {
  /** Token id, hex. */
  readonly tokenId: string;
  /** Expiry, Unix seconds. */
  readonly expires: number;
  /** The family it is bound to, when bound. */
  readonly family?: FamilyId;
  /** The family that redeemed it, when redeemed. */
  readonly redeemedBy?: FamilyId;
}

/** The relay store on SQLite. One writer process (the relay); the CLI opens its own handle. */
export class SqliteRelayStore implements RelayStore {
  /** Short name for logs and `status`. */
  readonly kind = "sqlite";
  readonly #d: SqliteDb;
  #defaultQuota: Quota;
  readonly #dedupeWindow: number;
  #maxTtl: number;
  readonly #st: Record<string, StatementSync>;
  #acks: PendingAck[] = [];
  /** Keys (lane/family/mid) of the pending acks: fetches skip these rows. */
  #ackKeys = new Set<string>();
  #ackTimer?: ReturnType<typeof setImmediate>;
  /** Running mean of row sizes fetched: sizes the chunks of a byte-bounded fetch. */
  #rowEstimate = 2048;

  private constructor(d: SqliteDb, o: SqliteRelayOptions) {
    this.#d = d;
    this.#defaultQuota = o.defaultQuota ?? DEFAULT_QUOTA;
    this.#dedupeWindow = o.dedupeWindow ?? DEFAULT_TTL;
    this.#maxTtl = o.maxTtl ?? DEFAULT_TTL;
    const p = (sql: string) => d.db.prepare(sql);
    this.#st = {
      seenGet: p("SELECT 1 FROM seen WHERE family = ? AND mid = ?"),
      queuedGet: p("SELECT 1 FROM queue WHERE recipient = ? AND mid = ?"),
      seenPut: p("INSERT OR IGNORE INTO seen (family, mid, expires) VALUES (?, ?, ?)"),
      usageGet: p("SELECT messages, bytes FROM usage WHERE family = ?"),
      usageAdd: p(
        `INSERT INTO usage (family, messages, bytes) VALUES (?, ?, ?)
         ON CONFLICT (family) DO UPDATE SET messages = messages + excluded.messages,
         bytes = bytes + excluded.bytes`,
      ),
      quotaGet: p("SELECT quota_messages, quota_bytes FROM families WHERE id = ?"),
      // A (recipient, mid) still queued is the duplicate check (queue_mid): no row, no change.
      // Only that conflict: any other constraint still fails the transaction (never a silent
      // "duplicate" for a row that was not stored).
      insert: p(
        `INSERT INTO queue (lane, recipient, sender, sender_key, mid, ttl, hops, sealed, size,
         received, expires) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (recipient, mid) DO NOTHING`,
      ),
      fetchMailbox: p(
        "SELECT * FROM queue WHERE lane = -1 AND recipient = ? AND seq > ? ORDER BY seq LIMIT ?",
      ),
      // "lane <> -1" lets SQLite use the partial index (mailbox rows never touch it).
      fetchPeer: p(
        "SELECT * FROM queue WHERE lane = ? AND lane <> -1 AND seq > ? ORDER BY seq LIMIT ?",
      ),
      delMid: p(
        "DELETE FROM queue WHERE recipient = ? AND mid = ? AND lane = ? RETURNING size, ttl, received",
      ),
      expiredSel: p(
        "SELECT seq, lane, recipient, sender, mid, size, ttl, received, expires FROM queue WHERE expires <= ? ORDER BY expires, seq LIMIT ?",
      ),
      delSeq: p("DELETE FROM queue WHERE seq = ?"),
      seenSweep: p(
        `DELETE FROM seen WHERE (family, mid) IN
         (SELECT family, mid FROM seen WHERE expires <= ? LIMIT ?)`,
      ),
      appSeenPut: p("INSERT OR IGNORE INTO app_seen (family, mid, expires) VALUES (?, ?, ?)"),
      appSeenSweep: p(
        `DELETE FROM app_seen WHERE (family, mid) IN
         (SELECT family, mid FROM app_seen WHERE expires <= ? LIMIT ?)`,
      ),
      noticePut: p(
        "INSERT INTO notices (sender, recipient, mid, size, expired) VALUES (?, ?, ?, ?, ?)",
      ),
      noticesGet: p("SELECT * FROM notices WHERE sender = ? ORDER BY seq LIMIT ?"),
      noticeDel: p("DELETE FROM notices WHERE sender = ? AND mid = ?"),
      status: p(
        "SELECT count(*) AS n, coalesce(sum(size), 0) AS b, coalesce(min(received), 0) AS o FROM queue WHERE lane = ? AND (? IS NULL OR recipient = ?)",
      ),
      laneAdd: p(
        `INSERT INTO lanes (lane, recipient, messages, bytes) VALUES (?, ?, ?, ?)
         ON CONFLICT (lane, recipient) DO UPDATE SET messages = messages + excluded.messages,
         bytes = bytes + excluded.bytes RETURNING messages`,
      ),
      laneDel: p("DELETE FROM lanes WHERE lane = ? AND recipient = ? AND messages <= 0"),
      laneGet: p("SELECT messages, bytes FROM lanes WHERE lane = ? AND recipient = ?"),
      peerGet: p(
        "SELECT coalesce(sum(messages), 0) AS n, coalesce(sum(bytes), 0) AS b FROM lanes WHERE lane = ?",
      ),
      // The oldest message of a lane is its first by seq (index order, no scan).
      oldestMailbox: p(
        "SELECT received FROM queue WHERE lane = -1 AND recipient = ? ORDER BY seq LIMIT 1",
      ),
      oldestPeer: p(
        "SELECT received FROM queue WHERE lane = ? AND lane <> -1 ORDER BY seq LIMIT 1",
      ),
    };
  }

  /**
   * Opens (creating when new) the store at `o.path`, checked against its
   * manifest and migrated to {@link FED_SCHEMA_VERSION} (sqlite_open.ts):
   * throws SERVICE_UNAVAILABLE `store-*` with `path` and `fix` for a store
   * that is missing, empty, truncated, damaged, rolled back or newer.
   */
  static open(o: SqliteRelayOptions): SqliteRelayStore {
    const d = new SqliteDb(o.path, {
      kind: "federation",
      version: FED_SCHEMA_VERSION,
      schema: SCHEMA,
      // 0 -> 1: the meta rows (schema, store-id, hwm), added by openStore; 1 -> 2: lanes.
      migrations: [() => {}, migrateLanes],
      synchronous: o.synchronous ?? "FULL",
      evidence: o.evidence,
    }, o.onSync);
    return new SqliteRelayStore(d, o);
  }

  /** Whether the open created the store, the schema version it migrated from, its id. */
  get opened(): SqliteDb["opened"] {
    return this.#d.opened;
  }

  /** The store's commit counter: bumped by every durable transaction. */
  get hwm(): number {
    return this.#d.hwm;
  }

  /** Transactions committed by this handle (a coalesced group of acks counts once). */
  get commits(): number {
    return this.#d.commits;
  }

  /** Durability rounds completed (WAL sync + manifest mark), each covering many commits. */
  get rounds(): number {
    return this.#d.rounds;
  }

  /**
   * Resolves once everything committed so far is durable and marked in the
   * manifest (what `durable` of {@link enqueueBatch} waits for).
   */
  whenDurable(): Promise<void> {
    this.#flushAcks();
    return this.#d.whenDurable();
  }

  /** Flushes pending acks, waits for syncs in flight, closes. Idempotent. */
  async close(): Promise<void> {
    this.#flushAcks();
    await this.#d.close();
  }

  /** Closes without waiting for syncs in flight (the CLI's short-lived handles). Idempotent. */
  closeSync(): void {
    this.#flushAcks();
    this.#d.closeSync();
  }

  // ---- coalesced acks ------------------------------------------------------

  /** Runs the acks of this turn in one relaxed transaction (before any other call touches them). */
  #flushAcks(): void {
    if (this.#ackTimer !== undefined) {
      clearImmediate(this.#ackTimer);
      this.#ackTimer = undefined;
    }
    if (this.#acks.length === 0) return;
    const acks = this.#acks;
    this.#acks = [];
    this.#ackKeys = new Set();
    let counts: number[];
    try {
      counts = this.#d.tx(() => {
        // Counters: one update per family and lane for the whole group, not one per ack.
        const freed: LaneDeltas = new Map();
        const out = acks.map((a) => {
          let n = 0;
          for (const it of a.items) {
            const r = this.#st.delMid.get(it.to, it.mid, a.lane) as Row | undefined;
            if (r === undefined) continue;
            this.#remember(it.to, it.mid, r);
            n++;
            addDelta(freed, a.lane, it.to, -1, -num(r.size));
          }
          return n;
        });
        this.#applyDeltas(freed);
        return out;
      }, "relaxed");
    } catch (e) {
      for (const a of acks) a.reject(e);
      return;
    }
    acks.forEach((a, i) => a.resolve(counts[i]));
  }

  #ackIn(lane: number, family: FamilyId, mids: readonly Uint8Array[]): number {
    const freed: LaneDeltas = new Map();
    let n = 0;
    for (const mid of mids) {
      const r = this.#st.delMid.get(family, mid, lane) as Row | undefined;
      if (r !== undefined) {
        this.#remember(family, mid, r);
        n++;
        addDelta(freed, lane, family, -1, -num(r.size));
      }
    }
    this.#applyDeltas(freed);
    return n;
  }

  /**
   * A queued message leaves the queue (delivered, forwarded, expired): its
   * dedupe row is written now, until the end of the window counted from its
   * arrival, as it would have been at ingest. While a message is queued its
   * queue row is its dedupe record (the unique `queue_mid`), so ingest
   * writes one random-keyed B-tree entry per message instead of two. `r` is
   * the deleted row (ttl, received); `now` skips rows whose window is over.
   */
  #remember(to: FamilyId, mid: Uint8Array, r: Row, now = 0): void {
    const until = dedupeUntil(
      { ttl: num(r.ttl) },
      num(r.received),
      this.#maxTtl,
      this.#dedupeWindow,
    );
    if (until > now) this.#st.seenPut.run(to, mid, until);
  }

  /**
   * Writes counter changes: the family's quota use (all lanes) and the
   * lane's depth, one statement each per family and lane; an emptied lane
   * row goes.
   */
  #applyDeltas(d: LaneDeltas, usage = true): void {
    const fam = new Map<FamilyId, { n: number; bytes: number }>();
    for (const e of d.values()) {
      if (e.n === 0 && e.bytes === 0) continue;
      const left = num((this.#st.laneAdd.get(e.lane, e.family, e.n, e.bytes) as Row).messages);
      if (left <= 0) this.#st.laneDel.run(e.lane, e.family);
      if (!usage) continue;
      const f = fam.get(e.family);
      if (f === undefined) fam.set(e.family, { n: e.n, bytes: e.bytes });
      else {
        f.n += e.n;
        f.bytes += e.bytes;
      }
    }
    for (const [family, f] of fam) this.#st.usageAdd.run(family, f.n, f.bytes);
  }

  /** A write: pending acks go first (call order), then `f` in one durable transaction. */
  #write<T>(f: () => T): T {
    this.#flushAcks();
    return this.#d.tx(f);
  }

  // ---- families ------------------------------------------------------------

  /** Adds or replaces a family record; `local` marks a family homed here. Durable on return. */
  async putFamily(rec: FamilyRecord, local: boolean, now: number, quota?: Quota): Promise<void> {
    this.#write(() =>
      this.#d.db.prepare(
        `INSERT INTO families (id, record, local, quota_messages, quota_bytes, admitted)
         VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET record = excluded.record,
         local = excluded.local, quota_messages = coalesce(excluded.quota_messages, quota_messages),
         quota_bytes = coalesce(excluded.quota_bytes, quota_bytes)`,
      ).run(
        rec.id,
        encodeFamily(rec),
        local ? 1 : 0,
        quota?.messages ?? null,
        quota?.bytes ?? null,
        now,
      )
    );
    // FED_ADMITTED follows: the admission (and the invite redeemed before it) survives a crash.
    await this.#d.whenDurable();
  }

  /**
   * Sets a family's own quota: a number sets that limit, `null` makes it
   * follow the default again (config `federation.quotaMessages/quotaBytes`),
   * an absent field stays as it is. Applies to the next enqueue (the relay
   * reads quotas per group commit), also from another process. False when
   * the family is not stored here. Durable on return.
   */
  async setQuota(
    id: FamilyId,
    quota: { readonly messages?: number | null; readonly bytes?: number | null },
  ): Promise<boolean> {
    const db = this.#d.db;
    const found = this.#write(() => {
      if (db.prepare("SELECT 1 FROM families WHERE id = ?").get(id) === undefined) return false;
      if (quota.messages !== undefined) {
        db.prepare("UPDATE families SET quota_messages = ? WHERE id = ?").run(quota.messages, id);
      }
      if (quota.bytes !== undefined) {
        db.prepare("UPDATE families SET quota_bytes = ? WHERE id = ?").run(quota.bytes, id);
      }
      return true;
    });
    await this.#d.whenDurable();
    return found;
  }

  /** Replaces the quota of families without their own (a config reload). */
  setDefaultQuota(q: Quota): void {
    this.#defaultQuota = q;
  }

  /** Replaces the longest TTL honoured (a config reload); applies to messages stored from now. */
  setMaxTtl(seconds: number): void {
    this.#maxTtl = seconds;
  }

  /** A stored family, or undefined. */
  getFamily(be: CryptoBackend, id: FamilyId): Promise<StoredFamily | undefined> {
    return settle(() => {
      const r = this.#d.db.prepare("SELECT * FROM families WHERE id = ?").get(id) as
        | Row
        | undefined;
      return r === undefined ? undefined : this.#family(be, r);
    });
  }

  /** Every stored family, ordered by id. */
  listFamilies(be: CryptoBackend): Promise<readonly StoredFamily[]> {
    return settle(() => {
      return (this.#d.db.prepare("SELECT * FROM families ORDER BY id").all() as Row[])
        .map((r) => this.#family(be, r));
    });
  }

  #family(be: CryptoBackend, r: Row): StoredFamily {
    return {
      record: decodeFamily(be, r.record as Uint8Array),
      local: num(r.local) === 1,
      quota: this.#quotaOf(r),
      admitted: num(r.admitted),
    };
  }

  #quotaOf(r: Row | undefined): Quota {
    return {
      messages: r?.quota_messages == null ? this.#defaultQuota.messages : num(r.quota_messages),
      bytes: r?.quota_bytes == null ? this.#defaultQuota.bytes : num(r.quota_bytes),
    };
  }

  // ---- invites -------------------------------------------------------------

  /** Records an invite the operator created (needed for single use). Durable on return. */
  async addInvite(inv: Invite, now: number): Promise<void> {
    this.#write(() =>
      this.#d.db.prepare(
        "INSERT INTO invites (token_id, expires, family, created) VALUES (?, ?, ?, ?)",
      ).run(inv.tokenId, inv.expires, inv.family ?? null, now)
    );
    await this.#d.whenDurable();
  }

  /**
   * Marks an invite used by `family`, atomically. Rejects with
   * FED_ADMISSION_DENIED `token-unknown` (never issued here, or deleted),
   * `token-used` (already redeemed: replay) or `token-expired`. Committed on
   * return; durable with the {@link putFamily} that follows it.
   */
  redeemInvite(tokenId: Uint8Array, family: FamilyId, now: number): Promise<void> {
    return settle(() => {
      const db = this.#d.db;
      this.#write(() => {
        const r = db.prepare("SELECT * FROM invites WHERE token_id = ?").get(tokenId) as
          | Row
          | undefined;
        const deny = (d: string) => new MyClerkError(ErrorCode.FED_ADMISSION_DENIED, d);
        if (r === undefined) throw deny("token-unknown");
        if (r.redeemed_at != null) throw deny("token-used");
        if (now >= num(r.expires)) throw deny("token-expired");
        db.prepare("UPDATE invites SET redeemed_at = ?, redeemed_by = ? WHERE token_id = ?")
          .run(now, family, tokenId);
      });
    });
  }

  /** Invites with their state, newest first (for `family invite --list`). */
  listInvites(): readonly InviteListing[] {
    return (this.#d.db.prepare("SELECT * FROM invites ORDER BY created DESC").all() as Row[])
      .map((r) => ({
        tokenId: toHex(r.token_id as Uint8Array),
        expires: num(r.expires),
        ...(r.family == null ? {} : { family: r.family as string }),
        ...(r.redeemed_by == null ? {} : { redeemedBy: r.redeemed_by as string }),
      }));
  }

  // ---- queues --------------------------------------------------------------

  /**
   * One message inside an open transaction. `usage` caches each recipient's
   * quota use and limit for the whole batch (read once, written once in
   * {@link SqliteRelayStore.#flushUsage}): a group commit of hundreds of
   * messages for one family costs two statements per message (dedupe +
   * insert) instead of six.
   */
  #enqueueOne(
    lane: number,
    m: QueueInput,
    now: number,
    usage: Map<string, BatchUsage>,
    lanes: LaneDeltas,
    inFlight = false,
  ): EnqueueResult {
    const st = this.#st;
    const size = m.sealed.length;
    let u = usage.get(m.to);
    if (u === undefined) {
      const used = st.usageGet.get(m.to) as Row | undefined;
      u = {
        messages: used === undefined ? 0 : num(used.messages),
        bytes: used === undefined ? 0 : num(used.bytes),
        quota: this.#quotaOf(st.quotaGet.get(m.to) as Row | undefined),
        addMessages: 0,
        addBytes: 0,
      };
      usage.set(m.to, u);
    }
    const usedMessages = u.messages + u.addMessages;
    const usedBytes = u.bytes + u.addBytes;
    const over = inFlight ? undefined : quotaError(m.to, usedMessages, usedBytes, u.quota, size);
    if (over !== undefined) {
      // A message already stored is acked as such even when the quota is full now.
      if (st.queuedGet.get(m.to, m.mid) !== undefined) return { status: "duplicate" };
      if (st.seenGet.get(m.to, m.mid) !== undefined) return { status: "duplicate" };
      throw over;
    }
    // Dedupe: a mid that left the queue within the window is in `seen` (a read); one still
    // queued makes the insert below a no-op (its unique index): no dedupe row written here.
    if (st.seenGet.get(m.to, m.mid) !== undefined) return { status: "duplicate" };
    const expires = storedExpiry(m, now, this.#maxTtl);
    const r = st.insert.run(
      lane,
      m.to,
      m.from,
      m.fromKey,
      m.mid,
      m.ttl,
      m.hops,
      m.sealed,
      size,
      now,
      expires,
    );
    if (num(r.changes) === 0) return { status: "duplicate" };
    u.addMessages++;
    u.addBytes += size;
    addDelta(lanes, lane, m.to, 1, size);
    return { status: "stored", seq: num(r.lastInsertRowid) };
  }

  #flushUsage(usage: Map<string, BatchUsage>): void {
    for (const [family, u] of usage) {
      if (u.addMessages !== 0) this.#st.usageAdd.run(family, u.addMessages, u.addBytes);
    }
  }

  /**
   * Group commit: enqueues many messages in one transaction. Resolves at
   * COMMIT with per-item results (a quota error is its item's value,
   * FED_QUOTA_EXCEEDED with `extra = {quota: "messages"|"bytes", used,
   * limit, family}`, and does not roll back the others; a mid already seen
   * for the same recipient within the dedupe window is `duplicate`: ack it
   * as stored, it is). `durable` resolves after the group WAL sync and the
   * manifest mark; rejects (typed, {@link storeError}) when either fails.
   * A failed transaction rejects the call itself (nothing stored).
   */
  enqueueBatch(items: readonly EnqueueItem[], now: number): Promise<EnqueueBatch> {
    return settle(() => {
      const results = this.#write(() => {
        const usage = new Map<string, BatchUsage>();
        const lanes: LaneDeltas = new Map();
        const out = items.map((it) => {
          try {
            return this.#enqueueOne(laneValue(it.lane), it.message, now, usage, lanes, it.inFlight);
          } catch (e) {
            if (e instanceof MyClerkError && e.code === ErrorCode.FED_QUOTA_EXCEEDED) return e;
            throw e;
          }
        });
        this.#flushUsage(usage);
        this.#applyDeltas(lanes, false);
        return out;
      });
      return { results, durable: this.#d.whenDurable() };
    });
  }

  /**
   * A family's mailbox after cursor `after` (a seq; 0 = from the start), in
   * order, at most `limit` rows and `maxBytes` sealed bytes (always one row
   * when any waits, so a large message cannot block the queue); `cut` says
   * the byte budget stopped it while more rows waited (a read with fewer
   * than `limit` rows and no cut means nothing more past the last row).
   */
  fetchWindow(
    family: FamilyId,
    after: number,
    limit: number,
    maxBytes: number,
  ): Promise<FetchWindow> {
    return settle(() => {
      return this.#window(this.#st.fetchMailbox, family, MAILBOX, after, limit, maxBytes);
    });
  }

  /** The outbound queue to peer relay `peer` (all recipients) after `after`, bounded like {@link fetchWindow}. */
  fetchPeer(
    peer: number,
    after: number,
    limit: number,
    maxBytes: number,
  ): Promise<readonly QueuedMessage[]> {
    return settle(() => {
      return this.#window(this.#st.fetchPeer, peer, peer, after, limit, maxBytes).rows;
    });
  }

  /**
   * The one size-budget loop of both fetches, on one statement: rows come
   * in chunks sized from the running mean row size, so rows far past the
   * budget are never loaded (64 envelopes of 8 MiB would be 512 MiB) while
   * an unbounded or roomy read is a single query. Rows a pending coalesced
   * ack deletes are skipped, as if the ack had run, and the next chunk makes
   * up for them (wider by twice as many as it skipped, at most the number
   * pending). Chunks are not widened up front by the number pending: those
   * are nearly always of rows behind the cursor (pushed, now delivered), and
   * widening made every fetch of a hub that fell behind read up to one
   * ack batch of extra rows, sealed bytes included (measured: 69 -> 57 µs of
   * relay CPU per message through the store, bench/relay.ts).
   */
  #window(
    st: StatementSync,
    key: string | number,
    lane: number,
    after: number,
    limit: number,
    maxBytes: number,
  ): FetchWindow {
    const rows: QueuedMessage[] = [];
    let bytes = 0;
    let cursor = after;
    const skip = this.#ackKeys.size;
    let extra = 0; // twice the rows the last chunk skipped: a run of them takes few chunks
    while (rows.length < limit) {
      const want = limit - rows.length;
      const room = maxBytes - bytes;
      const n = extra + (room === Infinity ? want : Math.min(
        want,
        Math.max(1, Math.ceil(room / Math.max(1, this.#rowEstimate)) + 1),
      ));
      const got = st.all(key, cursor, n) as Row[];
      let skipped = 0;
      for (const r of got) {
        cursor = num(r.seq);
        if (
          skip > 0 && this.#ackKeys.has(ackKey(lane, r.recipient as string, r.mid as Uint8Array))
        ) {
          skipped++;
          continue;
        }
        const size = num(r.size);
        this.#rowEstimate += (size - this.#rowEstimate) / 16;
        if (rows.length > 0 && bytes + size > maxBytes) return { rows, cut: true };
        bytes += size;
        rows.push(rowToQueued(r));
        if (rows.length === limit) return { rows, cut: false };
      }
      if (got.length < n) break; // the end of the queue
      extra = Math.min(2 * skipped, skip);
    }
    return { rows, cut: false };
  }

  /**
   * Deletes delivered messages (recipient `family`, ids `mids`) from `lane`;
   * resolves with how many were deleted. Unknown mids are ignored (acks are
   * idempotent). The dedupe entries stay until their window ends.
   *
   * `durable: false`: coalesced with every other such ack of this
   * event-loop turn into one relaxed transaction (no commit counter, no
   * fsync of its own; see the module doc for ordering). A delete lost to a
   * power cut only makes the message come again, and the recipient drops
   * it (exactly once to the application is the recipient's dedupe); the
   * next synced commit takes it to disk. Never used for anything acked as
   * "stored". Default (durable): its own transaction, resolved once durable.
   */
  async ack(
    lane: Lane,
    family: FamilyId,
    mids: readonly Uint8Array[],
    o: { readonly durable?: boolean } = {},
  ): Promise<number> {
    const lv = laneValue(lane);
    if (o.durable ?? true) {
      const n = this.#write(() => this.#ackIn(lv, family, mids));
      await this.#d.whenDurable();
      return n;
    }
    return await this.#coalesce(lv, mids.map((mid) => ({ to: family, mid })));
  }

  /** Queues deletes for the end of this turn (see {@link ack}); resolves with the count. */
  #coalesce(
    lane: number,
    items: readonly { readonly to: FamilyId; readonly mid: Uint8Array }[],
  ): Promise<number> {
    if (this.#d.closed) {
      return Promise.reject(
        new MyClerkError(ErrorCode.SERVICE_UNAVAILABLE, "store-closed", { path: this.#d.path }),
      );
    }
    return new Promise<number>((resolve, reject) => {
      this.#acks.push({ lane, items, resolve, reject });
      for (const it of items) this.#ackKeys.add(ackKey(lane, it.to, it.mid));
      // The end of this turn (after every I/O callback of this event-loop iteration, without a
      // timer's delay): every ack that arrives with the same wake-up shares one transaction.
      this.#ackTimer ??= setImmediate(() => {
        this.#ackTimer = undefined;
        this.#flushAcks();
      });
    });
  }

  /**
   * Peer ack: deletes messages from the outbound queue to `peer` after the
   * peer answered FED_ACK "stored". `items` pairs recipient and mid.
   * Coalesced like a delivered-ack (`durable: false`): a lost delete only
   * forwards the message again, and the peer answers it as a duplicate.
   */
  ackPeer(
    peer: number,
    items: readonly { readonly to: FamilyId; readonly mid: Uint8Array }[],
  ): Promise<number> {
    return this.#coalesce(peer, items);
  }

  /**
   * Recipient-side dedupe (exactly once to the application): records `mid`
   * for `family` until `expires`; true the first time, false for a replay
   * within the window. Durable on return. Kept apart from the relay's
   * dedupe table so a `--role both` node can use one store for both.
   */
  async markSeen(family: FamilyId, mid: Uint8Array, expires: number): Promise<boolean> {
    const fresh = this.#write(() =>
      num(this.#st.appSeenPut.run(family, mid, expires).changes) === 1
    );
    await this.#d.whenDurable();
    return fresh;
  }

  /**
   * Expiry sweep: removes at most `limit` messages whose expiry is at or
   * before `now` (deleted by seq), records a notice for each sender (see
   * {@link pendingNotices}), drops dedupe entries past their window, and
   * returns what expired.
   */
  sweep(now: number, limit = 1000): Promise<readonly ExpiredMessage[]> {
    return settle(() => {
      return this.#write(() => {
        const rows = this.#st.expiredSel.all(now, limit) as Row[];
        const out: ExpiredMessage[] = [];
        const freed: LaneDeltas = new Map();
        for (const r of rows) {
          this.#st.delSeq.run(r.seq as number);
          const to = r.recipient as string;
          this.#remember(to, r.mid as Uint8Array, r, now);
          const size = num(r.size);
          addDelta(freed, num(r.lane), to, -1, -size);
          const e = {
            to,
            from: r.sender as string,
            mid: r.mid as Uint8Array,
            size,
            expired: num(r.expires),
          };
          this.#st.noticePut.run(e.from, e.to, e.mid, e.size, e.expired);
          out.push(e);
        }
        this.#applyDeltas(freed);
        this.#st.seenSweep.run(now, limit * 4);
        this.#st.appSeenSweep.run(now, limit * 4);
        return out;
      });
    });
  }

  /** Expiry notices waiting for sender family `sender` (FED_EXPIRED), oldest first. */
  pendingNotices(sender: FamilyId, limit = 1024): Promise<readonly ExpiredMessage[]> {
    return settle(() => {
      return (this.#st.noticesGet.all(sender, limit) as Row[]).map((r) => ({
        to: r.recipient as string,
        from: r.sender as string,
        mid: r.mid as Uint8Array,
        size: num(r.size),
        expired: num(r.expired),
      }));
    });
  }

  /** Sender families with expiry notices waiting (to route them to their home relay). */
  noticeSenders(limit = 4096): Promise<readonly FamilyId[]> {
    return settle(() => {
      return (this.#d.db.prepare("SELECT DISTINCT sender FROM notices LIMIT ?").all(limit) as Row[])
        .map((r) => r.sender as string);
    });
  }

  /**
   * Records expiry notices that a peer relay forwarded for a family homed
   * here (FED_EXPIRED relay → relay), to go to its hub like local ones.
   */
  addNotices(
    sender: FamilyId,
    to: FamilyId,
    mids: readonly Uint8Array[],
    now: number,
  ): Promise<void> {
    return settle(() => {
      this.#write(() => {
        for (const m of mids) this.#st.noticePut.run(sender, to, m, 0, now);
      });
    });
  }

  /** Drops notices once the sender's hub got them. */
  clearNotices(sender: FamilyId, mids: readonly Uint8Array[]): Promise<void> {
    return settle(() => {
      this.#write(() => {
        for (const m of mids) this.#st.noticeDel.run(sender, m);
      });
    });
  }

  /** Depth of a family's mailbox (FED_QUEUE_STATUS) or of a peer queue. */
  queueStatus(lane: Lane, family?: FamilyId): Promise<QueueStatus> {
    return settle(() => {
      this.#flushAcks();
      const st = this.#st;
      if (lane.kind === "peer") {
        const r = st.peerGet.get(lane.peer) as Row;
        const o = st.oldestPeer.get(lane.peer) as Row | undefined;
        return { depth: num(r.n), bytes: num(r.b), oldest: o === undefined ? 0 : num(o.received) };
      }
      if (family === undefined) {
        // Every mailbox at once (no caller needs it often): the scan.
        const r = st.status.get(MAILBOX, null, null) as Row;
        return { depth: num(r.n), bytes: num(r.b), oldest: num(r.o) };
      }
      const r = st.laneGet.get(MAILBOX, family) as Row | undefined;
      if (r === undefined) return { depth: 0, bytes: 0, oldest: 0 };
      const o = st.oldestMailbox.get(family) as Row | undefined;
      return {
        depth: num(r.messages),
        bytes: num(r.bytes),
        oldest: o === undefined ? 0 : num(o.received),
      };
    });
  }

  /** Quota usage of a family (all lanes). */
  usage(family: FamilyId): Promise<Usage> {
    return settle(() => {
      this.#flushAcks();
      const u = this.#st.usageGet.get(family) as Row | undefined;
      return {
        messages: u === undefined ? 0 : num(u.messages),
        bytes: u === undefined ? 0 : num(u.bytes),
        quota: this.#quotaOf(this.#st.quotaGet.get(family) as Row | undefined),
      };
    });
  }

  /** Everything `/metrics`, `queue list` and `status` show. */
  stats(): Promise<StoreStats> {
    return settle(() => {
      this.#flushAcks();
      const db = this.#d.db;
      const one = (sql: string) => num((db.prepare(sql).get() as Row).n);
      const groups = (sql: string) => db.prepare(sql).all() as Row[];
      // From the counters (O(lanes)); the oldest of each lane is one index lookup.
      const oldest = (o: Row | undefined) => (o === undefined ? 0 : num(o.received));
      const mailboxes = groups(
        `SELECT recipient AS k, messages AS n, bytes AS b FROM lanes
         WHERE lane = -1 AND messages > 0 ORDER BY recipient`,
      ).map((r) => ({
        family: r.k as string,
        depth: num(r.n),
        bytes: num(r.b),
        oldest: oldest(this.#st.oldestMailbox.get(r.k as string) as Row | undefined),
      }));
      const peers = groups(
        `SELECT lane AS k, sum(messages) AS n, sum(bytes) AS b FROM lanes
         WHERE lane <> -1 GROUP BY lane HAVING sum(messages) > 0 ORDER BY lane`,
      ).map((r) => ({
        peer: num(r.k),
        depth: num(r.n),
        bytes: num(r.b),
        oldest: oldest(this.#st.oldestPeer.get(num(r.k)) as Row | undefined),
      }));
      const tot = db.prepare(
        "SELECT coalesce(sum(messages), 0) AS n, coalesce(sum(bytes), 0) AS b FROM lanes",
      ).get() as Row;
      return {
        families: one("SELECT count(*) AS n FROM families"),
        localFamilies: one("SELECT count(*) AS n FROM families WHERE local = 1"),
        queuedMessages: num(tot.n),
        queuedBytes: num(tot.b),
        mailboxes,
        peers,
        invitesOpen: one("SELECT count(*) AS n FROM invites WHERE redeemed_at IS NULL"),
        // Queued messages are their own dedupe records (see #remember).
        dedupeEntries: one("SELECT count(*) AS n FROM seen") + num(tot.n),
        pendingNotices: one("SELECT count(*) AS n FROM notices"),
      };
    });
  }

  /** `PRAGMA integrity_check` result ("ok" when healthy). */
  integrityCheck(): string {
    this.#flushAcks();
    return String((this.#d.db.prepare("PRAGMA integrity_check").get() as Row).integrity_check);
  }
}
