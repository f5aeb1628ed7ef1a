/**
 * The one SQLite helper both stores use (sqlite_relay.ts, sqlite_hub.ts):
 * opening safely, the pragmas, transactions with the commit counter, and
 * durability (WAL fdatasync + manifest mark, one per durable group).
 *
 * Opening (docs/OPERATOR.md "Store checks at start"): the SQLite file is
 * checked against its manifest (manifest.ts) before anything is written to
 * it, its schema is versioned and migrated forward, and a store that is
 * missing, empty, truncated, damaged, swapped, rolled back (a lost `-wal`)
 * or newer than this code is refused with an error that names the file and
 * the fix, instead of starting empty. Every refusal is SERVICE_UNAVAILABLE
 * with `extra.path` and `extra.fix`; the details are `store-missing`,
 * `store-empty`, `store-truncated`, `store-damaged`, `store-other`,
 * `store-behind`, `store-newer` and `store-manifest-damaged`.
 *
 * Transactions ({@link SqliteDb.tx}): one `BEGIN IMMEDIATE ... COMMIT`; a
 * durable one bumps the commit counter (meta `hwm`). Durability
 * ({@link SqliteDb.whenDurable}): with `synchronous = NORMAL` one WAL
 * fdatasync at a time on Deno's blocking-I/O threads covers every commit
 * made before it started (commits made while it runs share the next one);
 * then the manifest records the counter, marks chained in order. With FULL
 * every COMMIT is already synced by SQLite and only the mark is written,
 * also once per group: never once per commit.
 *
 * Longer than ~500 lines because it is the one place both stores get a
 * connection from: the open checks hand their manifest and commit counter
 * straight to the transaction and durability code that must keep them.
 *
 * @module
 */

import { DatabaseSync, type StatementSync } from "node:sqlite";
import { ErrorCode, MyClerkError } from "../../core/errors.ts";
import { toHex } from "../bytes.ts";
import { Manifest, manifestPath, readManifest } from "../manifest.ts";
import { securePrivateFile } from "../../core/node/datadir.ts";

/** What {@link openStore} needs to know about one store kind. */
export interface StoreSpec {
  /** `federation` (relay, federation.db) or `hub` (hub.db). */
  readonly kind: string;
  /** Schema version this code writes. */
  readonly version: number;
  /** Creates the tables of the current version (idempotent `CREATE ... IF NOT EXISTS`). */
  readonly schema: string;
  /**
   * Forward migrations: `migrations[v]` turns a version-`v` store into
   * version `v + 1` (version 0 = a store from before versioning).
   */
  readonly migrations: readonly ((db: DatabaseSync) => void)[];
  /** `synchronous` level (FULL or NORMAL). */
  readonly synchronous: "FULL" | "NORMAL";
  /**
   * Set when other files prove this store held data before (the relay's
   * `federation-hubs.json` lists admitted hubs): an empty store without a
   * manifest is then refused as lost instead of created.
   */
  readonly evidence?: string;
  /** Stores at rest (no `-wal`) up to this size get `PRAGMA quick_check` at open (default 256 MiB). */
  readonly quickCheckMax?: number;
}

/** An opened, checked store. */
export interface OpenedStore {
  /** The database, schema current. */
  readonly db: DatabaseSync;
  /** Its manifest (undefined for `:memory:`). */
  readonly manifest?: Manifest;
  /** The store's identity (meta `store-id`). */
  readonly id: string;
  /** Set when the store was created now. */
  readonly created: boolean;
  /** Set when the schema was migrated: from which version. */
  readonly migratedFrom?: number;
}

/** An INTEGER column's value as a number (`node:sqlite` gives bigint past 2^53 or when asked). */
export function num(v: unknown): number {
  return typeof v === "bigint" ? Number(v) : (v as number);
}

/**
 * Runs a synchronous store call now (so calls apply in call order) and hands its result or its
 * throw over as a promise: how the SQLite stores meet the asynchronous store interfaces.
 */
export function settle<T>(f: () => T): Promise<T> {
  try {
    return Promise.resolve(f());
  } catch (e) {
    return Promise.reject(e);
  }
}

/** The meta row keys every versioned store has. */
export const META = { schema: "schema", id: "store-id", hwm: "hwm" } as const;

function refuse(detail: string, path: string, fix: string, extra: Record<string, unknown> = {}) {
  return new MyClerkError(ErrorCode.SERVICE_UNAVAILABLE, detail, { path, ...extra, fix });
}

function statSize(path: string): number | undefined {
  try {
    return Deno.statSync(path).size;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return undefined;
    throw e;
  }
}

/**
 * Checks the SQLite header against the file size: a file cut short (or
 * not a database at all) is refused before SQLite sees it.
 */
function checkHeader(path: string, size: number, fix: string): void {
  const f = Deno.openSync(path, { read: true });
  const h = new Uint8Array(100);
  let n = 0;
  try {
    while (n < 100) {
      const r = f.readSync(h.subarray(n));
      if (r === null || r === 0) break;
      n += r;
    }
  } finally {
    f.close();
  }
  if (n < 100) throw refuse("store-truncated", path, fix, { size });
  const magic = new TextDecoder().decode(h.subarray(0, 16));
  if (magic !== "SQLite format 3\0") throw refuse("store-damaged", path, fix, { why: "header" });
  const dv = new DataView(h.buffer);
  const ps = dv.getUint16(16);
  const pageSize = ps === 1 ? 65_536 : ps;
  if (pageSize < 512 || (pageSize & (pageSize - 1)) !== 0) {
    throw refuse("store-damaged", path, fix, { why: "page-size" });
  }
  const pages = dv.getUint32(28);
  const validFor = dv.getUint32(92);
  const changes = dv.getUint32(24);
  if (size % pageSize !== 0 || (validFor === changes && size < pages * pageSize)) {
    throw refuse("store-truncated", path, fix, { size, expected: pages * pageSize });
  }
}

function metaGet(db: DatabaseSync, k: string): string | undefined {
  const r = db.prepare("SELECT v FROM meta WHERE k = ?").get(k) as { v: string } | undefined;
  return r?.v;
}

/** Reads the store's commit counter (meta `hwm`). */
export function readHwm(db: DatabaseSync): number {
  return Number(metaGet(db, META.hwm) ?? 0);
}

/**
 * Opens `path` for `spec` with every check of the module doc. `:memory:`
 * skips the file checks and the manifest.
 */
export function openStore(path: string, spec: StoreSpec): OpenedStore {
  const restore = `restore ${path} (with its -wal file, if any) and ${
    manifestPath(path)
  } together from a backup`;
  const startOver = `or, to give up its contents and start empty, move ${path}* aside`;
  const memory = path === ":memory:";
  const manifest = memory ? undefined : readManifest(path);
  const size = memory ? undefined : statSize(path);
  if (manifest !== undefined && size === undefined) {
    throw refuse("store-missing", path, `${restore}, ${startOver}`, { store: manifest.id });
  }
  // The size check only holds for a file at rest: with a live -wal another process may be in the
  // middle of a checkpoint (header already says N pages, file not yet extended). Then SQLite
  // itself and quick_check below judge the file.
  const walAtOpen = memory ? undefined : statSize(`${path}-wal`);
  if (size !== undefined && size > 0 && !walAtOpen) {
    checkHeader(path, size, `${restore}, ${startOver}`);
  }
  let db: DatabaseSync;
  try {
    db = new DatabaseSync(path);
  } catch (e) {
    throw refuse("store-damaged", path, restore, { why: String(e) });
  }
  try {
    return setUp(db, path, spec, manifest, size, restore, startOver, walAtOpen);
  } catch (e) {
    try {
      db.close();
    } catch { /* closing anyway */ }
    throw e;
  }
}

function setUp(
  db: DatabaseSync,
  path: string,
  spec: StoreSpec,
  manifest: ReturnType<typeof readManifest>,
  size: number | undefined,
  restore: string,
  startOver: string,
  walAtOpen: number | undefined,
): OpenedStore {
  let tables: number;
  try {
    // First, so later statements (journal_mode too) wait for a busy writer instead of failing.
    db.exec("PRAGMA busy_timeout = 5000");
    // Read before anything writes (journal_mode = WAL writes a header into an empty file).
    tables = Number(
      (db.prepare("SELECT count(*) AS n FROM sqlite_master WHERE type = 'table'").get() as {
        n: number;
      }).n,
    );
  } catch (e) {
    throw refuse("store-damaged", path, restore, { why: String(e) });
  }
  const wal = path === ":memory:" ? undefined : statSize(`${path}-wal`);
  if (tables === 0 && manifest !== undefined) {
    throw refuse("store-empty", path, `${restore}, ${startOver}`, {
      store: manifest.id,
      acknowledged: manifest.hwm,
      size: size ?? 0,
      wal: wal ?? "missing",
    });
  }
  if (tables === 0 && spec.evidence !== undefined) {
    throw refuse("store-empty", path, `${restore}, ${startOver}`, { evidence: spec.evidence });
  }
  const created = tables === 0;
  let version = 0;
  try {
    db.exec("PRAGMA journal_mode = WAL");
    db.exec(`PRAGMA synchronous = ${spec.synchronous}`);
    db.exec("CREATE TABLE IF NOT EXISTS meta (k TEXT PRIMARY KEY, v TEXT NOT NULL)");
    const v = metaGet(db, META.schema);
    version = created ? spec.version : v === undefined ? 0 : Number(v);
  } catch (e) {
    throw refuse("store-damaged", path, restore, { why: String(e) });
  }
  if (!Number.isInteger(version) || version > spec.version) {
    throw refuse("store-newer", path, "run the newer version of myclerk-relay that wrote it", {
      version,
      supported: spec.version,
    });
  }
  const from = version;
  // Up to date (the usual open, also by readers such as `recv`): no write transaction at all.
  const current = !created && version === spec.version &&
    metaGet(db, META.id) !== undefined && metaGet(db, META.hwm) !== undefined;
  if (!current) {
    try {
      db.exec("BEGIN IMMEDIATE");
      try {
        if (!created) { for (; version < spec.version; version++) spec.migrations[version](db); }
        db.exec(spec.schema);
        const put = db.prepare("INSERT OR IGNORE INTO meta (k, v) VALUES (?, ?)");
        put.run(META.id, toHex(crypto.getRandomValues(new Uint8Array(16))));
        put.run(META.hwm, "0");
        db.prepare("INSERT OR REPLACE INTO meta (k, v) VALUES (?, ?)").run(
          META.schema,
          String(spec.version),
        );
        db.exec("COMMIT");
      } catch (e) {
        db.exec("ROLLBACK");
        throw e;
      }
    } catch (e) {
      if (e instanceof MyClerkError) throw e;
      throw refuse("store-damaged", path, restore, { why: String(e) });
    }
  } else {
    try {
      db.exec(spec.schema);
    } catch (e) {
      throw refuse("store-damaged", path, restore, { why: String(e) });
    }
  }
  const id = metaGet(db, META.id)!;
  const hwm = readHwm(db);
  if (manifest !== undefined) {
    if (manifest.id !== id || manifest.kind !== spec.kind) {
      throw refuse("store-other", path, `${restore}, ${startOver}`, {
        store: id,
        manifest: manifest.id,
      });
    }
    if (hwm < manifest.hwm) {
      throw refuse("store-behind", path, `${restore}, ${startOver}`, {
        store: id,
        commits: hwm,
        acknowledged: manifest.hwm,
        wal: wal === undefined ? "missing" : wal,
      });
    }
  }
  // At rest only (no -wal at open): a store another process is writing (a reader such as `recv`
  // next to the running hub) is that process's to check, and a full scan per open would be heavy.
  if (size !== undefined && !walAtOpen && size <= (spec.quickCheckMax ?? 256 * 1_048_576)) {
    let r: string;
    try {
      r = String(
        (db.prepare("PRAGMA quick_check").get() as Record<string, unknown>).quick_check,
      );
    } catch (e) {
      r = String(e);
    }
    if (r !== "ok") throw refuse("store-damaged", path, restore, { why: r.slice(0, 200) });
  }
  if (path === ":memory:") return { db, id, created };
  // SQLite creates the file (and its -wal/-shm, with the file's mode) under the umask.
  for (const f of [path, `${path}-wal`, `${path}-shm`]) securePrivateFile(f);
  const state = { kind: spec.kind, id, created: Math.floor(Date.now() / 1000), hwm };
  const m = manifest === undefined
    ? Manifest.create(path, state)
    : Manifest.open(path, { ...manifest, hwm: Math.max(manifest.hwm, hwm) });
  return {
    db,
    manifest: m,
    id,
    created,
    ...(from < spec.version && !created ? { migratedFrom: from } : {}),
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

/** What {@link OpenedStore} reports about the open, for the start log. */
export interface OpenInfo {
  /** Set when the store was created now. */
  readonly created: boolean;
  /** Set when the schema was migrated: from which version. */
  readonly migratedFrom?: number;
  /** The store's identity (meta `store-id`). */
  readonly id: string;
}

/** One WAL sync (or, with FULL, one mark) finished: `error` set when it failed. */
export type SyncHook = (error?: unknown) => void;

interface Waiter {
  readonly resolve: () => void;
  readonly reject: (e: unknown) => void;
}

/**
 * An open store: the connection, its manifest, transactions and the
 * durability pump. One per process and file (the CLI may open a second
 * handle in another process: the manifest mark only moves forward).
 */
export class SqliteDb {
  /** The connection (prepare statements on it; write only inside {@link tx}). */
  readonly db: DatabaseSync;
  /** The database file (or `:memory:`). */
  readonly path: string;
  /** `synchronous` level the store was opened with. */
  readonly synchronous: "FULL" | "NORMAL";
  /** How the open went. */
  readonly opened: OpenInfo;
  readonly #manifest?: Manifest;
  readonly #hwmBump: StatementSync;
  readonly #relaxOn: StatementSync;
  readonly #relaxOff: StatementSync;
  readonly #onSync?: SyncHook;
  #hwm: number;
  #commits = 0;
  #rounds = 0;
  #closed = false;
  #wal?: Deno.FsFile;
  #waiters: Waiter[] = [];
  #pumping?: Promise<void>;
  #marking: Promise<void> = Promise.resolve();

  /** Opens `path` for `spec` (every check of {@link openStore}). */
  constructor(path: string, spec: StoreSpec, onSync?: SyncHook) {
    const r = openStore(path, spec);
    this.db = r.db;
    this.path = path;
    this.synchronous = spec.synchronous;
    this.#manifest = r.manifest;
    this.#onSync = onSync;
    this.opened = {
      created: r.created,
      id: r.id,
      ...(r.migratedFrom === undefined ? {} : { migratedFrom: r.migratedFrom }),
    };
    this.#hwm = readHwm(r.db);
    this.#hwmBump = r.db.prepare(
      "UPDATE meta SET v = CAST(v AS INTEGER) + 1 WHERE k = 'hwm' RETURNING v",
    );
    this.#relaxOn = r.db.prepare("PRAGMA synchronous = NORMAL");
    this.#relaxOff = r.db.prepare(`PRAGMA synchronous = ${spec.synchronous}`);
  }

  /** The commit counter: bumped by every durable transaction. */
  get hwm(): number {
    return this.#hwm;
  }

  /** Transactions this handle committed (durable and relaxed): for tests and benches. */
  get commits(): number {
    return this.#commits;
  }

  /**
   * Durability rounds completed (one WAL sync, with NORMAL, plus one
   * manifest mark each), however many callers each one covered.
   */
  get rounds(): number {
    return this.#rounds;
  }

  /** True once {@link close} was called. */
  get closed(): boolean {
    return this.#closed;
  }

  /**
   * Runs `f` in one IMMEDIATE transaction, COMMIT before returning; any
   * failure rolls back and is thrown as {@link storeError}. `durable`
   * (default) bumps the commit counter, so {@link whenDurable} and the
   * manifest account for it. `relaxed` neither bumps the counter nor (on a
   * FULL store) waits for the fsync of this COMMIT: for writes whose loss
   * is harmless (a delivered-ack delete only re-delivers); the next synced
   * commit takes it to disk anyway.
   */
  tx<T>(f: () => T, mode: "durable" | "relaxed" = "durable"): T {
    if (this.#closed) {
      throw new MyClerkError(ErrorCode.SERVICE_UNAVAILABLE, "store-closed", { path: this.path });
    }
    const durable = mode === "durable";
    const relax = !durable && this.synchronous === "FULL";
    if (relax) this.#relaxOn.run();
    try {
      this.db.exec("BEGIN IMMEDIATE");
      try {
        const r = f();
        let hwm = this.#hwm;
        if (durable) hwm = Number((this.#hwmBump.get() as { v: string }).v);
        this.db.exec("COMMIT");
        this.#hwm = hwm;
        this.#commits++;
        return r;
      } catch (e) {
        // A failed COMMIT (disk full, I/O error) may already have rolled back: keep the real error.
        try {
          this.db.exec("ROLLBACK");
        } catch { /* no transaction left to roll back */ }
        throw storeError(e, this.path);
      }
    } finally {
      if (relax) this.#relaxOff.run();
    }
  }

  /**
   * Resolves once every transaction committed before this call survives
   * power loss and the manifest records it (acknowledge only after this);
   * rejects when the WAL sync or the mark fails (then nothing may be
   * acknowledged: senders keep the messages and resend). Callers waiting
   * together share one sync and one mark.
   */
  whenDurable(): Promise<void> {
    if (this.#closed) {
      return Promise.reject(
        new MyClerkError(ErrorCode.SERVICE_UNAVAILABLE, "store-closed", { path: this.path }),
      );
    }
    const p = new Promise<void>((resolve, reject) => this.#waiters.push({ resolve, reject }));
    // The caller's await still sees a rejection; a caller that drops the promise does not crash.
    p.catch(() => {});
    this.#pumping ??= this.#pump();
    return p;
  }

  async #pump(): Promise<void> {
    try {
      while (this.#waiters.length > 0) {
        // FULL: commits are synced already; wait for the mark in flight so the next one covers
        // every commit made meanwhile (one mark per group, not per commit).
        if (this.synchronous === "FULL") await this.#marking;
        const batch = this.#waiters.splice(0);
        // Commits up to here are covered by the sync below: the mark follows it.
        const hwm = this.#hwm;
        if (this.synchronous === "NORMAL") {
          try {
            await this.syncWal();
            this.#onSync?.();
          } catch (e) {
            this.#onSync?.(e);
            const err = storeError(e, this.path);
            for (const w of batch) w.reject(err);
            continue;
          }
        }
        // NORMAL: the mark's own fdatasync overlaps the next WAL sync; marks are chained, so
        // groups resolve in commit order.
        const m = this.#manifest;
        this.#marking = this.#marking.then(() => m?.record(hwm)).then(
          () => {
            this.#rounds++;
            for (const w of batch) w.resolve();
          },
          (e) => {
            if (this.synchronous === "FULL") this.#onSync?.(e);
            const err = storeError(e, this.path);
            for (const w of batch) w.reject(err);
          },
        );
      }
    } finally {
      this.#pumping = undefined;
    }
  }

  /**
   * `fdatasync` of the WAL file, on Deno's blocking-I/O threads: every
   * commit made before the call is then durable (with NORMAL, commits are
   * not synced by SQLite; checkpoints are). Prefer {@link whenDurable},
   * which also marks the manifest and shares syncs between callers.
   */
  async syncWal(): Promise<void> {
    if (this.#closed) return;
    if (!this.#wal) {
      try {
        this.#wal = await Deno.open(`${this.path}-wal`, { read: true });
      } catch (e) {
        if (e instanceof Deno.errors.NotFound) return; // nothing written since open: nothing to sync
        throw e;
      }
    }
    await this.#wal.syncData();
  }

  /** Waits for syncs and marks in flight, then closes the database and the manifest. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    while (this.#pumping) await this.#pumping;
    await this.#marking;
    this.#closed = true;
    try {
      this.#wal?.close();
    } catch { /* closed */ }
    await this.#manifest?.close();
    this.db.close();
  }

  /**
   * Closes at once (the CLI's short-lived handles): syncs in flight finish
   * or fail on their own. Idempotent.
   */
  closeSync(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const w of this.#waiters.splice(0)) {
      w.reject(
        new MyClerkError(ErrorCode.SERVICE_UNAVAILABLE, "store-closed", { path: this.path }),
      );
    }
    try {
      this.#wal?.close();
    } catch { /* closed */ }
    this.#manifest?.closeSync();
    this.db.close();
  }
}
