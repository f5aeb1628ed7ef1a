/**
 * The relay's embedded store (docs/FEDERATION.md §6): `node:sqlite` in the
 * node's data directory. Families, single-use invites, per-family mailboxes
 * (per-sender order kept by one global insertion sequence), peer outbound
 * queues, a dedupe table of message ids, TTL expiry with notices for the
 * senders, per-family quotas and stats.
 *
 * Every mutating call is one SQLite transaction and returns only after
 * COMMIT, so "returned" means "durable" (WAL + `synchronous=FULL` by
 * default: see FEDERATION.md §6.3 for the measurement behind that choice).
 * The store holds only relay-visible fields and sealed bytes: nothing in it
 * opens a message.
 *
 * @module
 */

import type { DatabaseSync, StatementSync } from "node:sqlite";
import { ErrorCode, MyClerkError } from "../core/errors.ts";
import type { CryptoBackend } from "../core/crypto/types.ts";
import { toHex } from "./bytes.ts";
import { DEFAULT_TTL } from "./envelope.ts";
import { decodeFamily, encodeFamily, type FamilyId, type FamilyRecord } from "./family.ts";
import type { Invite } from "./invite.ts";
import type { Manifest } from "./manifest.ts";
import { openStore, readHwm } from "./storeopen.ts";

/** A per-family quota on queued messages and bytes. */
export interface Quota {
  /** Most messages queued for the family at once (mailbox and peer lanes). */
  readonly messages: number;
  /** Most sealed bytes queued for the family at once (mailbox and peer lanes). */
  readonly bytes: number;
}

/** Default quota of a trusted family: 100,000 messages, 1 GiB. */
export const DEFAULT_QUOTA: Quota = { messages: 100_000, bytes: 1 << 30 };

/** Options of {@link FedStore.open}. */
export interface StoreOptions {
  /** Database file (e.g. `<data>/federation.db`), or `:memory:` for tests. */
  readonly path: string;
  /**
   * SQLite `synchronous` level; FULL (default) survives power loss, NORMAL only process crashes —
   * unless the caller makes each commit durable itself with {@link FedStore.syncWal} before it
   * relies on it (the relay does: "async-wal" below).
   */
  readonly synchronous?: "FULL" | "NORMAL";
  /** Quota for families without their own. */
  readonly defaultQuota?: Quota;
  /** Dedupe window in seconds (default = default TTL, 30 days). */
  readonly dedupeWindow?: number;
  /** Longest TTL honoured, seconds (default 30 days); longer ones are cut. */
  readonly maxTtl?: number;
  /**
   * Set when other files prove the store held data (see storeopen.ts
   * `StoreSpec.evidence`): an empty store without a manifest is refused.
   */
  readonly evidence?: string;
}

/** Schema version of `federation.db` this code writes (meta `schema`). */
export const FED_SCHEMA_VERSION = 1;

/** What a relay enqueues: the FED_DELIVER fields. */
export interface QueueInput {
  /** Recipient family id. */
  readonly to: FamilyId;
  /** Sender family id. */
  readonly from: FamilyId;
  /** Sender family public key, 32 bytes. */
  readonly fromKey: Uint8Array;
  /** Message id, 16 bytes; dedupe key with `to`. */
  readonly mid: Uint8Array;
  /** Lifetime in seconds (the store cuts it to its max TTL). */
  readonly ttl: number;
  /** Relays crossed so far (0..8). */
  readonly hops: number;
  /** The Tier 5-form envelope; its length is the message size for quotas. */
  readonly sealed: Uint8Array;
  /**
   * Latest expiry, Unix seconds (the envelope's own `ts + ttl` plus the
   * clock-skew grace, FEDERATION.md §6.2): the stored expiry is the earlier
   * of this and `received + min(ttl, max-ttl)`.
   */
  readonly expiresBy?: number;
}

/** A queued message as fetched. */
export interface QueuedMessage extends QueueInput {
  /** Store sequence: fetch cursors move past it. */
  readonly seq: number;
  /** Receive time at this relay, Unix seconds. */
  readonly received: number;
  /** Expiry, Unix seconds. */
  readonly expires: number;
}

/** Result of an enqueue: stored now, or already known (same recipient and mid within the window). */
export type EnqueueResult =
  | { readonly status: "stored"; readonly seq: number }
  | { readonly status: "duplicate" };

/** Where a message waits: a family's mailbox here, or the outbound queue to a peer relay. */
export type Lane =
  | { readonly kind: "mailbox" }
  | { readonly kind: "peer"; readonly peer: number };

/** An expired message (for FED_EXPIRED to its sender). */
export interface ExpiredMessage {
  /** Recipient family id. */
  readonly to: FamilyId;
  /** Sender family id (the family to notify). */
  readonly from: FamilyId;
  /** Message id, 16 bytes. */
  readonly mid: Uint8Array;
  /** Size of the sealed envelope, bytes. */
  readonly size: number;
  /** When it expired (its expiry time). */
  readonly expired: number;
}

/** Queue depth of one mailbox or peer queue. */
export interface QueueStatus {
  /** Messages waiting. */
  readonly depth: number;
  /** Bytes waiting (sum of sealed sizes). */
  readonly bytes: number;
  /** Receive time of the oldest message, 0 when empty. */
  readonly oldest: number;
}

/** A family as stored. */
export interface StoredFamily {
  /** The verified family record. */
  readonly record: FamilyRecord;
  /** True when homed at this relay (its hub was admitted here). */
  readonly local: boolean;
  /** The family's quota (its own, or the default). */
  readonly quota: Quota;
  /** Admission time, Unix seconds. */
  readonly admitted: number;
}

/** Numbers for `/metrics`, `queue list` and `status`. */
export interface StoreStats {
  /** Family records stored (homed here or learned). */
  readonly families: number;
  /** Families homed at this relay. */
  readonly localFamilies: number;
  /** Messages queued, all lanes. */
  readonly queuedMessages: number;
  /** Sealed bytes queued, all lanes. */
  readonly queuedBytes: number;
  /** Per-recipient mailbox status (non-empty mailboxes only), by family id. */
  readonly mailboxes: readonly ({ readonly family: FamilyId } & QueueStatus)[];
  /** Per-peer outbound queue status (non-empty only), by peer relay key id. */
  readonly peers: readonly ({ readonly peer: number } & QueueStatus)[];
  /** Invite tokens created and not yet redeemed (expired ones included). */
  readonly invitesOpen: number;
  /** Rows in the relay dedupe table (`seen`). */
  readonly dedupeEntries: number;
  /** Expiry notices waiting for the sender's hub. */
  readonly pendingNotices: number;
}

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
CREATE TABLE IF NOT EXISTS notices (
  seq INTEGER PRIMARY KEY AUTOINCREMENT, sender TEXT NOT NULL, recipient TEXT NOT NULL,
  mid BLOB NOT NULL, size INTEGER NOT NULL, expired INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS notices_sender ON notices (sender, seq);
`;

const MAILBOX = -1;

type Row = Record<string, unknown>;

/** Quota use of one recipient during one transaction. */
interface Usage {
  readonly messages: number;
  readonly bytes: number;
  readonly quota: Quota;
  addMessages: number;
  addBytes: number;
}

function num(v: unknown): number {
  return typeof v === "bigint" ? Number(v) : (v as number);
}

function laneValue(l: Lane): number {
  return l.kind === "mailbox" ? MAILBOX : l.peer;
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

/** True when `e` (a SQLite or file system error) says the disk is full. */
export function isDiskFull(e: unknown): boolean {
  if (e instanceof MyClerkError) return e.detail === "storage-full";
  const m = e instanceof Error ? `${e.message} ${(e as { code?: unknown }).code ?? ""}` : String(e);
  return /SQLITE_FULL|database or disk is full|ENOSPC|No space left|os error 28/i.test(m);
}

/**
 * Maps a store failure to a typed error: disk full is SERVICE_UNAVAILABLE
 * `storage-full` (FEDERATION.md §5, errors), typed errors pass, anything
 * else is INTERNAL_ERROR `store` with the cause.
 */
export function storeError(e: unknown, path: string): MyClerkError {
  if (e instanceof MyClerkError) return e;
  if (isDiskFull(e)) {
    return new MyClerkError(ErrorCode.SERVICE_UNAVAILABLE, "storage-full", {
      path,
      fix: "free space on the file system of the data directory",
    }, e);
  }
  return new MyClerkError(ErrorCode.INTERNAL_ERROR, "store", { path, error: String(e) }, e);
}

/** The federation store. One instance per process; not safe for two writers without busy waits. */
export class FedStore {
  readonly #db: DatabaseSync;
  #defaultQuota: Quota;
  readonly #dedupeWindow: number;
  #maxTtl: number;
  readonly #st: Record<string, StatementSync>;
  readonly #sync: "FULL" | "NORMAL";
  readonly #path: string;
  readonly #manifest?: Manifest;
  #hwm: number;
  #closed = false;
  /** Set when {@link FedStore.open} created the store, or the schema version it migrated from. */
  readonly opened: {
    readonly created: boolean;
    readonly migratedFrom?: number;
    readonly id: string;
  };

  private constructor(
    db: DatabaseSync,
    o: StoreOptions,
    manifest: Manifest | undefined,
    opened: FedStore["opened"],
  ) {
    this.#db = db;
    this.#manifest = manifest;
    this.opened = opened;
    this.#hwm = readHwm(db);
    this.#defaultQuota = o.defaultQuota ?? DEFAULT_QUOTA;
    this.#dedupeWindow = o.dedupeWindow ?? DEFAULT_TTL;
    this.#maxTtl = o.maxTtl ?? DEFAULT_TTL;
    this.#sync = o.synchronous ?? "FULL";
    this.#path = o.path;
    const p = (sql: string) => db.prepare(sql);
    this.#st = {
      syncNormal: p("PRAGMA synchronous = NORMAL"),
      hwmBump: p("UPDATE meta SET v = CAST(v AS INTEGER) + 1 WHERE k = 'hwm' RETURNING v"),
      syncFull: p("PRAGMA synchronous = FULL"),
      seenGet: p("SELECT 1 FROM seen WHERE family = ? AND mid = ?"),
      seenPut: p("INSERT OR IGNORE INTO seen (family, mid, expires) VALUES (?, ?, ?)"),
      usageGet: p("SELECT messages, bytes FROM usage WHERE family = ?"),
      usageAdd: p(
        `INSERT INTO usage (family, messages, bytes) VALUES (?, ?, ?)
         ON CONFLICT (family) DO UPDATE SET messages = messages + excluded.messages,
         bytes = bytes + excluded.bytes`,
      ),
      quotaGet: p("SELECT quota_messages, quota_bytes FROM families WHERE id = ?"),
      insert: p(
        `INSERT INTO queue (lane, recipient, sender, sender_key, mid, ttl, hops, sealed, size,
         received, expires) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      ),
      fetchMailbox: p(
        "SELECT * FROM queue WHERE lane = -1 AND recipient = ? AND seq > ? ORDER BY seq LIMIT ?",
      ),
      fetchSizes: p(
        "SELECT size FROM queue WHERE lane = -1 AND recipient = ? AND seq > ? ORDER BY seq LIMIT ?",
      ),
      // "lane <> -1" lets SQLite use the partial index (mailbox rows never touch it).
      fetchPeer: p(
        "SELECT * FROM queue WHERE lane = ? AND lane <> -1 AND seq > ? ORDER BY seq LIMIT ?",
      ),
      fetchPeerSizes: p(
        "SELECT size FROM queue WHERE lane = ? AND lane <> -1 AND seq > ? ORDER BY seq LIMIT ?",
      ),
      delMid: p("DELETE FROM queue WHERE recipient = ? AND mid = ? AND lane = ? RETURNING size"),
      expiredSel: p(
        "SELECT seq, recipient, sender, mid, size, expires FROM queue WHERE expires <= ? ORDER BY expires, seq LIMIT ?",
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
    };
  }

  /**
   * Opens (creating when new) the store at `o.path`, checked against its
   * manifest and migrated to {@link FED_SCHEMA_VERSION} (storeopen.ts):
   * throws SERVICE_UNAVAILABLE `store-*` with `path` and `fix` for a store
   * that is missing, empty, truncated, damaged, rolled back or newer.
   */
  static open(o: StoreOptions): FedStore {
    const r = openStore(o.path, {
      kind: "federation",
      version: FED_SCHEMA_VERSION,
      schema: SCHEMA,
      // 0 -> 1: the meta rows (schema, store-id, hwm), added by openStore.
      migrations: [() => {}],
      synchronous: o.synchronous ?? "FULL",
      evidence: o.evidence,
    });
    return new FedStore(r.db, o, r.manifest, {
      created: r.created,
      id: r.id,
      ...(r.migratedFrom === undefined ? {} : { migratedFrom: r.migratedFrom }),
    });
  }

  /** The store's commit counter: bumped by every durable transaction. */
  get hwm(): number {
    return this.#hwm;
  }

  /**
   * Records in the manifest that everything up to commit `hwm` is durable
   * and about to be acknowledged (call after {@link FedStore.syncWal}, before
   * the acks leave): a store later found behind this mark is refused at open.
   */
  recordAcked(hwm: number): Promise<void> {
    return this.#manifest?.record(hwm) ?? Promise.resolve();
  }

  #wal?: Deno.FsFile;

  /**
   * Makes every transaction committed so far durable: `fdatasync` of the
   * WAL file, on Deno's blocking-I/O threads, so the event loop keeps
   * serving while the disk syncs. With `synchronous = NORMAL` (WAL mode:
   * commits are not synced, checkpoints are), a commit followed by this call
   * is as durable as a FULL commit; the relay sends "stored" acks only after
   * it resolves. Commits made while it runs are covered by the next call.
   */
  async syncWal(): Promise<void> {
    if (this.#closed) return;
    if (!this.#wal) {
      try {
        this.#wal = await Deno.open(`${this.#path}-wal`, { read: true });
      } catch (e) {
        if (e instanceof Deno.errors.NotFound) return; // nothing written since open: nothing to sync
        throw e;
      }
    }
    await this.#wal.syncData();
  }

  /** Closes the database. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    try {
      this.#wal?.close();
    } catch { /* closed */ }
    this.#manifest?.closeSync();
    this.#db.close();
  }

  /**
   * Runs `f` in one IMMEDIATE transaction; COMMIT before returning. With
   * `durable` false (and the store opened FULL) that one COMMIT skips the
   * fsync: see {@link FedStore.ack}.
   */
  #tx<T>(f: () => T, durable = true): T {
    const relax = !durable && this.#sync === "FULL";
    if (relax) this.#st.syncNormal.run();
    try {
      this.#db.exec("BEGIN IMMEDIATE");
      try {
        const r = f();
        if (durable) this.#hwm = Number((this.#st.hwmBump.get() as Row).v);
        this.#db.exec("COMMIT");
        // A store that makes each commit durable itself (FULL) records it at once.
        if (durable && this.#sync === "FULL") this.#manifest?.recordSync(this.#hwm);
        return r;
      } catch (e) {
        // A failed COMMIT (disk full, I/O error) may already have rolled back: keep the real error.
        try {
          this.#db.exec("ROLLBACK");
        } catch { /* no transaction left to roll back */ }
        throw storeError(e, this.#path);
      }
    } finally {
      if (relax) this.#st.syncFull.run();
    }
  }

  // ---- families ---------------------------------------------------------

  /** Adds or replaces a family record; `local` marks a family homed here. */
  putFamily(rec: FamilyRecord, local: boolean, now: number, quota?: Quota): void {
    this.#db.prepare(
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
    );
  }

  /**
   * Sets a family's own quota: a number sets that limit, `null` makes it
   * follow the default again (config `federation.quotaMessages/quotaBytes`),
   * an absent field stays as it is. Applies to the next enqueue (the relay
   * reads quotas per group commit), also from another process. False when
   * the family is not stored here.
   */
  setQuota(
    id: FamilyId,
    quota: { readonly messages?: number | null; readonly bytes?: number | null },
  ): boolean {
    return this.#tx(() => {
      const r = this.#db.prepare("SELECT 1 FROM families WHERE id = ?").get(id);
      if (r === undefined) return false;
      if (quota.messages !== undefined) {
        this.#db.prepare("UPDATE families SET quota_messages = ? WHERE id = ?").run(
          quota.messages,
          id,
        );
      }
      if (quota.bytes !== undefined) {
        this.#db.prepare("UPDATE families SET quota_bytes = ? WHERE id = ?").run(quota.bytes, id);
      }
      return true;
    });
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
  getFamily(be: CryptoBackend, id: FamilyId): StoredFamily | undefined {
    const r = this.#db.prepare("SELECT * FROM families WHERE id = ?").get(id) as Row | undefined;
    return r === undefined ? undefined : this.#family(be, r);
  }

  /** Every stored family, ordered by id. */
  listFamilies(be: CryptoBackend): readonly StoredFamily[] {
    return (this.#db.prepare("SELECT * FROM families ORDER BY id").all() as Row[])
      .map((r) => this.#family(be, r));
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

  // ---- invites ----------------------------------------------------------

  /** Records an invite the operator created (needed for single use). */
  addInvite(inv: Invite, now: number): void {
    this.#db.prepare(
      "INSERT INTO invites (token_id, expires, family, created) VALUES (?, ?, ?, ?)",
    ).run(inv.tokenId, inv.expires, inv.family ?? null, now);
  }

  /**
   * Marks an invite used by `family`, atomically. Throws
   * FED_ADMISSION_DENIED `token-unknown` (never issued here, or deleted),
   * `token-used` (already redeemed: replay) or `token-expired`.
   */
  redeemInvite(tokenId: Uint8Array, family: FamilyId, now: number): void {
    this.#tx(() => {
      const r = this.#db.prepare("SELECT * FROM invites WHERE token_id = ?").get(tokenId) as
        | Row
        | undefined;
      const deny = (d: string) => new MyClerkError(ErrorCode.FED_ADMISSION_DENIED, d);
      if (r === undefined) throw deny("token-unknown");
      if (r.redeemed_at != null) throw deny("token-used");
      if (now >= num(r.expires)) throw deny("token-expired");
      this.#db.prepare("UPDATE invites SET redeemed_at = ?, redeemed_by = ? WHERE token_id = ?")
        .run(now, family, tokenId);
    });
  }

  /** Invites with their state, newest first (for `family invite --list`). */
  listInvites(): readonly {
    readonly tokenId: string;
    readonly expires: number;
    readonly family?: FamilyId;
    readonly redeemedBy?: FamilyId;
  }[] {
    return (this.#db.prepare("SELECT * FROM invites ORDER BY created DESC").all() as Row[]).map((
      r,
    ) => ({
      tokenId: toHex(r.token_id as Uint8Array),
      expires: num(r.expires),
      ...(r.family == null ? {} : { family: r.family as string }),
      ...(r.redeemed_by == null ? {} : { redeemedBy: r.redeemed_by as string }),
    }));
  }

  // ---- queues -----------------------------------------------------------

  /**
   * One message inside an open transaction. `usage` caches each recipient's
   * quota use and limit for the whole batch (read once, written once in
   * {@link FedStore.#flushUsage}): a group commit of hundreds of messages
   * for one family costs two statements per message (dedupe + insert)
   * instead of six.
   */
  #enqueueOne(lane: number, m: QueueInput, now: number, usage: Map<string, Usage>): EnqueueResult {
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
    const over = usedMessages + 1 > u.quota.messages
      ? { quota: "messages", used: usedMessages, limit: u.quota.messages }
      : usedBytes + size > u.quota.bytes
      ? { quota: "bytes", used: usedBytes, limit: u.quota.bytes }
      : undefined;
    if (over !== undefined) {
      // A message already stored is acked as such even when the quota is full now.
      if (st.seenGet.get(m.to, m.mid) !== undefined) return { status: "duplicate" };
      throw new MyClerkError(ErrorCode.FED_QUOTA_EXCEEDED, "quota", { ...over, family: m.to });
    }
    const ttl = Math.min(m.ttl, this.#maxTtl);
    const expires = Math.min(now + ttl, m.expiresBy ?? Infinity);
    // The dedupe insert is the duplicate check: one statement instead of a read and a write.
    const fresh = st.seenPut.run(m.to, m.mid, now + Math.max(ttl, this.#dedupeWindow));
    if (num(fresh.changes) === 0) return { status: "duplicate" };
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
    u.addMessages++;
    u.addBytes += size;
    return { status: "stored", seq: num(r.lastInsertRowid) };
  }

  #flushUsage(usage: Map<string, Usage>): void {
    for (const [family, u] of usage) {
      if (u.addMessages !== 0) this.#st.usageAdd.run(family, u.addMessages, u.addBytes);
    }
  }

  /**
   * Durably enqueues one message for `lane`. Returns after COMMIT. A mid
   * already seen for the same recipient within the dedupe window gives
   * `duplicate` (ack it as stored: it is). Throws FED_QUOTA_EXCEEDED with
   * `extra = {quota: "messages"|"bytes", used, limit, family}`.
   */
  enqueue(lane: Lane, m: QueueInput, now: number): EnqueueResult {
    return this.#tx(() => {
      const usage = new Map<string, Usage>();
      const r = this.#enqueueOne(laneValue(lane), m, now, usage);
      this.#flushUsage(usage);
      return r;
    });
  }

  /**
   * Group commit: enqueues many messages in one transaction (one fsync).
   * Per-item results; a quota error is returned for its item, not thrown,
   * and does not roll back the others.
   */
  enqueueBatch(
    items: readonly { readonly lane: Lane; readonly message: QueueInput }[],
    now: number,
  ): readonly (EnqueueResult | MyClerkError)[] {
    return this.#tx(() => {
      const usage = new Map<string, Usage>();
      const out = items.map((it) => {
        try {
          return this.#enqueueOne(laneValue(it.lane), it.message, now, usage);
        } catch (e) {
          if (e instanceof MyClerkError && e.code === ErrorCode.FED_QUOTA_EXCEEDED) return e;
          throw e;
        }
      });
      this.#flushUsage(usage);
      return out;
    });
  }

  /**
   * Messages of a family's mailbox after cursor `after` (a seq; 0 = from the
   * start), in order, at most `limit` and at most `maxBytes` of sealed bytes
   * (always at least one message when any is waiting, so a large message
   * cannot block the queue).
   */
  fetch(
    family: FamilyId,
    after: number,
    limit: number,
    maxBytes = Infinity,
  ): readonly QueuedMessage[] {
    return this.#bounded(this.#st.fetchMailbox.all(family, after, limit) as Row[], maxBytes);
  }

  /**
   * Like {@link fetch}, and says whether the byte budget cut the read
   * short (`cut`): a read with fewer than `limit` rows and no cut means the
   * mailbox holds nothing more past the last row.
   */
  fetchWindow(
    family: FamilyId,
    after: number,
    limit: number,
    maxBytes: number,
  ): { readonly rows: readonly QueuedMessage[]; readonly cut: boolean } {
    // Sizes first: rows past the budget are never loaded (64 envelopes of 8 MiB would be 512 MiB).
    const sizes = this.#st.fetchSizes.all(family, after, limit) as Row[];
    let n = 0;
    let bytes = 0;
    for (const r of sizes) {
      const size = num(r.size);
      if (n > 0 && bytes + size > maxBytes) break;
      bytes += size;
      n++;
    }
    const rows = n === 0 ? [] : (this.#st.fetchMailbox.all(family, after, n) as Row[]).map(
      rowToQueued,
    );
    return { rows, cut: n < sizes.length };
  }

  /**
   * Like {@link fetch} for the outbound queue to peer relay `peer` (all
   * recipients); rows past `maxBytes` are never loaded.
   */
  fetchPeer(
    peer: number,
    after: number,
    limit: number,
    maxBytes = Infinity,
  ): readonly QueuedMessage[] {
    if (maxBytes !== Infinity) {
      const sizes = this.#st.fetchPeerSizes.all(peer, after, limit) as Row[];
      let n = 0;
      let bytes = 0;
      for (const r of sizes) {
        const size = num(r.size);
        if (n > 0 && bytes + size > maxBytes) break;
        bytes += size;
        n++;
      }
      limit = n;
      if (n === 0) return [];
    }
    return this.#bounded(this.#st.fetchPeer.all(peer, after, limit) as Row[], maxBytes);
  }

  #bounded(rows: Row[], maxBytes: number): QueuedMessage[] {
    const out: QueuedMessage[] = [];
    let bytes = 0;
    for (const r of rows) {
      const size = num(r.size);
      if (out.length > 0 && bytes + size > maxBytes) break;
      bytes += size;
      out.push(rowToQueued(r));
    }
    return out;
  }

  /**
   * Deletes acknowledged messages (recipient `family`, ids `mids`) from
   * `lane`; returns how many were deleted. Unknown mids are ignored (acks
   * are idempotent). The dedupe entries stay until their window ends.
   *
   * `durable: false` commits without waiting for fsync (WAL,
   * `synchronous=NORMAL` for this one transaction): a delete lost to a power
   * cut only makes the message come again, and the recipient drops it
   * (exactly once to the application is the recipient's dedupe). The next
   * durable commit fsyncs the WAL and with it this delete. Never used for
   * anything acked as "stored".
   */
  ack(
    lane: Lane,
    family: FamilyId,
    mids: readonly Uint8Array[],
    o: { readonly durable?: boolean } = {},
  ): number {
    return this.#tx(() => this.#ackIn(laneValue(lane), family, mids), o.durable ?? true);
  }

  #ackIn(lane: number, family: FamilyId, mids: readonly Uint8Array[]): number {
    let n = 0;
    let bytes = 0;
    for (const mid of mids) {
      const r = this.#st.delMid.get(family, mid, lane) as Row | undefined;
      if (r !== undefined) {
        n++;
        bytes += num(r.size);
      }
    }
    if (n > 0) this.#st.usageAdd.run(family, -n, -bytes);
    return n;
  }

  /**
   * Peer ack: deletes messages from the outbound queue to `peer` after the
   * peer answered FED_ACK "stored". `items` pairs recipient and mid.
   */
  ackPeer(
    peer: number,
    items: readonly { readonly to: FamilyId; readonly mid: Uint8Array }[],
  ): number {
    return this.#tx(() => {
      let n = 0;
      for (const it of items) n += this.#ackIn(peer, it.to, [it.mid]);
      return n;
    });
  }

  /**
   * Recipient-side dedupe (exactly once to the application): records `mid`
   * for `family` until `expires`; true the first time, false for a replay
   * within the window. Durable on return. Kept apart from the relay's
   * dedupe table so a `--role both` node can use one store for both.
   */
  markSeen(family: FamilyId, mid: Uint8Array, expires: number): boolean {
    return this.#tx(() => num(this.#st.appSeenPut.run(family, mid, expires).changes) === 1);
  }

  /**
   * Expiry sweep: removes at most `limit` messages whose expiry is at or
   * before `now`, records a notice for each sender (see
   * {@link pendingNotices}), drops dedupe entries past their window, and
   * returns what expired.
   */
  sweep(now: number, limit = 1000): readonly ExpiredMessage[] {
    return this.#tx(() => {
      const rows = this.#st.expiredSel.all(now, limit) as Row[];
      const out: ExpiredMessage[] = [];
      for (const r of rows) {
        this.#st.delSeq.run(r.seq as number);
        const to = r.recipient as string;
        const size = num(r.size);
        this.#st.usageAdd.run(to, -1, -size);
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
      this.#st.seenSweep.run(now, limit * 4);
      this.#st.appSeenSweep.run(now, limit * 4);
      return out;
    });
  }

  /** Expiry notices waiting for sender family `sender` (FED_EXPIRED), oldest first. */
  pendingNotices(sender: FamilyId, limit = 1024): readonly ExpiredMessage[] {
    return (this.#st.noticesGet.all(sender, limit) as Row[]).map((r) => ({
      to: r.recipient as string,
      from: r.sender as string,
      mid: r.mid as Uint8Array,
      size: num(r.size),
      expired: num(r.expired),
    }));
  }

  /** Sender families with expiry notices waiting (to route them to their home relay). */
  noticeSenders(limit = 4096): readonly FamilyId[] {
    return (this.#db.prepare("SELECT DISTINCT sender FROM notices LIMIT ?").all(limit) as Row[])
      .map((r) => r.sender as string);
  }

  /**
   * Records expiry notices that a peer relay forwarded for a family homed
   * here (FED_EXPIRED relay → relay), to go to its hub like local ones.
   */
  addNotices(sender: FamilyId, to: FamilyId, mids: readonly Uint8Array[], now: number): void {
    this.#tx(() => {
      for (const m of mids) this.#st.noticePut.run(sender, to, m, 0, now);
    });
  }

  /** Drops notices once the sender's hub got them. */
  clearNotices(sender: FamilyId, mids: readonly Uint8Array[]): void {
    this.#tx(() => {
      for (const m of mids) this.#st.noticeDel.run(sender, m);
    });
  }

  /** Depth of a family's mailbox (FED_QUEUE_STATUS) or of a peer queue. */
  queueStatus(lane: Lane, family?: FamilyId): QueueStatus {
    const f = lane.kind === "mailbox" ? family ?? null : null;
    const r = this.#st.status.get(laneValue(lane), f, f) as Row;
    return { depth: num(r.n), bytes: num(r.b), oldest: num(r.o) };
  }

  /** Quota usage of a family (all lanes). */
  usage(
    family: FamilyId,
  ): { readonly messages: number; readonly bytes: number; readonly quota: Quota } {
    const u = this.#st.usageGet.get(family) as Row | undefined;
    return {
      messages: u === undefined ? 0 : num(u.messages),
      bytes: u === undefined ? 0 : num(u.bytes),
      quota: this.#quotaOf(this.#st.quotaGet.get(family) as Row | undefined),
    };
  }

  /** Everything `/metrics`, `queue list` and `status` show. */
  stats(): StoreStats {
    const one = (sql: string) => num((this.#db.prepare(sql).get() as Row).n);
    const groups = (sql: string) => this.#db.prepare(sql).all() as Row[];
    const mailboxes = groups(
      `SELECT recipient AS k, count(*) AS n, sum(size) AS b, min(received) AS o FROM queue
       WHERE lane = -1 GROUP BY recipient ORDER BY recipient`,
    ).map((r) => ({ family: r.k as string, depth: num(r.n), bytes: num(r.b), oldest: num(r.o) }));
    const peers = groups(
      `SELECT lane AS k, count(*) AS n, sum(size) AS b, min(received) AS o FROM queue
       WHERE lane <> -1 GROUP BY lane ORDER BY lane`,
    ).map((r) => ({ peer: num(r.k), depth: num(r.n), bytes: num(r.b), oldest: num(r.o) }));
    const tot = this.#db.prepare(
      "SELECT count(*) AS n, coalesce(sum(size), 0) AS b FROM queue",
    ).get() as Row;
    return {
      families: one("SELECT count(*) AS n FROM families"),
      localFamilies: one("SELECT count(*) AS n FROM families WHERE local = 1"),
      queuedMessages: num(tot.n),
      queuedBytes: num(tot.b),
      mailboxes,
      peers,
      invitesOpen: one("SELECT count(*) AS n FROM invites WHERE redeemed_at IS NULL"),
      dedupeEntries: one("SELECT count(*) AS n FROM seen"),
      pendingNotices: one("SELECT count(*) AS n FROM notices"),
    };
  }

  /** `PRAGMA integrity_check` result ("ok" when healthy). */
  integrityCheck(): string {
    return String((this.#db.prepare("PRAGMA integrity_check").get() as Row).integrity_check);
  }
}
