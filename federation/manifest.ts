/**
 * The store manifest (docs/OPERATOR.md "Store manifest"): a small file next
 * to each SQLite store (`federation.db.manifest`, `hub.db.manifest`) that
 * lets a node tell a **new** store from a **lost** one. It is written when
 * the store is created and holds the store's identity (a random id also
 * kept inside the database) and a high-water mark: the store's commit
 * counter at the last commit the node acknowledged to anyone (a FED_ACK
 * "stored", FED_ADMITTED, an inbox write acked "delivered"). The mark is
 * made durable before that acknowledgement leaves, so a database that is
 * missing, empty, truncated, swapped for another, or rolled back (its
 * `-wal` file lost) is found at open instead of starting empty.
 *
 * Layout: two 256-byte slots; each is a JSON object padded with spaces and
 * ending in a newline, with a checksum over the rest. Writes alternate
 * between the slots (overwrite in place + fdatasync), so a torn write
 * leaves the other slot valid; the valid slot with the highest `hwm` wins
 * (so two processes writing one manifest, the relay and the CLI, need no
 * coordination: the mark only moves forward).
 *
 * @module
 */

import { ErrorCode, MyClerkError } from "../core/errors.ts";

/** Slot size, bytes (one slot never crosses a 512-byte sector). */
const SLOT = 256;
const VERSION = 1;

/** What a manifest records. */
export interface ManifestState {
  /** Which store: `federation` (relay) or `hub`. */
  readonly kind: string;
  /** The store's identity, 32 hex digits, also in the database's `meta` table. */
  readonly id: string;
  /** Creation time, Unix seconds. */
  readonly created: number;
  /** Highest commit counter acknowledged to anyone. */
  readonly hwm: number;
}

/** FNV-1a 32-bit over the UTF-16 code units: enough to reject a torn slot. */
function check(s: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h.toString(16).padStart(8, "0");
}

function encodeSlot(st: ManifestState): Uint8Array {
  const body = JSON.stringify({
    v: VERSION,
    kind: st.kind,
    id: st.id,
    created: st.created,
    hwm: st.hwm,
  });
  const line = `{"c":"${check(body)}","m":${body}}`;
  if (line.length > SLOT - 1) throw new Error("manifest slot overflow");
  return new TextEncoder().encode(line.padEnd(SLOT - 1, " ") + "\n");
}

function decodeSlot(b: Uint8Array): ManifestState | undefined {
  try {
    const j = JSON.parse(new TextDecoder().decode(b).trim()) as { c?: unknown; m?: unknown };
    const m = j.m as Record<string, unknown> | undefined;
    if (m === undefined || typeof j.c !== "string" || check(JSON.stringify(m)) !== j.c) {
      return undefined;
    }
    if (
      m.v !== VERSION || typeof m.kind !== "string" || typeof m.id !== "string" ||
      !Number.isSafeInteger(m.created) || !Number.isSafeInteger(m.hwm)
    ) return undefined;
    return {
      kind: m.kind,
      id: m.id,
      created: m.created as number,
      hwm: m.hwm as number,
    };
  } catch {
    return undefined;
  }
}

/**
 * Decodes a whole manifest file: the valid slot with the highest `hwm`, or
 * undefined when neither slot is valid.
 */
export function decodeManifest(bytes: Uint8Array): ManifestState | undefined {
  let best: ManifestState | undefined;
  for (let o = 0; o + SLOT <= bytes.length; o += SLOT) {
    const s = decodeSlot(bytes.subarray(o, o + SLOT));
    if (s !== undefined && (best === undefined || s.hwm > best.hwm)) best = s;
  }
  return best;
}

/** Path of the manifest of database `dbPath`. */
export function manifestPath(dbPath: string): string {
  return `${dbPath}.manifest`;
}

/**
 * Reads the manifest of `dbPath`: undefined when there is none; throws
 * SERVICE_UNAVAILABLE `store-manifest-damaged` when the file exists but no
 * slot is valid.
 */
export function readManifest(dbPath: string): ManifestState | undefined {
  const p = manifestPath(dbPath);
  let bytes: Uint8Array;
  try {
    bytes = Deno.readFileSync(p);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return undefined;
    throw e;
  }
  const m = decodeManifest(bytes);
  if (m === undefined) {
    throw new MyClerkError(ErrorCode.SERVICE_UNAVAILABLE, "store-manifest-damaged", {
      path: p,
      fix: `restore ${p} and ${dbPath} together from a backup`,
    });
  }
  return m;
}

/** A manifest open for updates (one per store handle). */
export class Manifest {
  readonly #path: string;
  #state: ManifestState;
  #n = 0;
  #file?: Deno.FsFile;
  #writing: Promise<void> = Promise.resolve();
  #closed = false;

  private constructor(path: string, state: ManifestState) {
    this.#path = path;
    this.#state = state;
  }

  /** The state last written. */
  get state(): ManifestState {
    return this.#state;
  }

  /** Creates the manifest of a new store (both slots), durable (file and directory) on return. */
  static create(dbPath: string, state: ManifestState): Manifest {
    const p = manifestPath(dbPath);
    const tmp = `${p}.tmp-${Deno.pid}`;
    const bytes = new Uint8Array(2 * SLOT);
    bytes.set(encodeSlot(state), 0);
    bytes.set(encodeSlot(state), SLOT);
    const f = Deno.openSync(tmp, { write: true, create: true, truncate: true, mode: 0o600 });
    try {
      f.writeSync(bytes);
      f.syncSync();
    } finally {
      f.close();
    }
    Deno.renameSync(tmp, p);
    syncDir(p);
    return new Manifest(p, state);
  }

  /** Opens an existing manifest for updates. */
  static open(dbPath: string, state: ManifestState): Manifest {
    return new Manifest(manifestPath(dbPath), state);
  }

  /**
   * Records `hwm` durably (no-op when not higher than the last one written).
   * Writes are serialised; resolves once this one has reached the disk.
   */
  record(hwm: number): Promise<void> {
    const next = this.#writing.then(async () => {
      if (this.#closed || hwm <= this.#state.hwm) return;
      this.#state = { ...this.#state, hwm };
      const n = ++this.#n;
      // Seek and write go to the page cache (microseconds): synchronous, so the mark costs one
      // trip to the blocking-I/O threads (the fdatasync), not three. On a busy relay each trip
      // also waits for the event loop's current task, and "stored" acks wait for the mark.
      const f = this.#file ??= Deno.openSync(this.#path, { read: true, write: true });
      f.seekSync((n % 2) * SLOT, Deno.SeekMode.Start);
      const b = encodeSlot(this.#state);
      let off = 0;
      while (off < b.length) off += f.writeSync(b.subarray(off));
      await f.syncData();
    });
    this.#writing = next.catch(() => {});
    return next;
  }

  /** Synchronous {@link record} (the CLI and the hub's synchronous commits). */
  recordSync(hwm: number): void {
    if (this.#closed || hwm <= this.#state.hwm) return;
    this.#state = { ...this.#state, hwm };
    const n = ++this.#n;
    const f = Deno.openSync(this.#path, { read: true, write: true });
    try {
      f.seekSync((n % 2) * SLOT, Deno.SeekMode.Start);
      const b = encodeSlot(this.#state);
      let off = 0;
      while (off < b.length) off += f.writeSync(b.subarray(off));
      f.syncDataSync();
    } finally {
      f.close();
    }
  }

  /** Waits for pending writes, then closes the file. */
  async close(): Promise<void> {
    await this.#writing;
    this.#closed = true;
    try {
      this.#file?.close();
    } catch { /* closed */ }
  }

  /** Closes without waiting (pending writes finish or fail on their own). */
  closeSync(): void {
    this.#closed = true;
    const f = this.#file;
    this.#file = undefined;
    this.#writing.then(() => {
      try {
        f?.close();
      } catch { /* closed */ }
    });
  }
}

/** fsyncs the directory holding `path`, so a rename or a new file survives a power cut. */
export function syncDir(path: string): void {
  const dir = path.includes("/") ? path.slice(0, path.lastIndexOf("/")) || "/" : ".";
  try {
    const d = Deno.openSync(dir, { read: true });
    try {
      d.syncSync();
    } finally {
      d.close();
    }
  } catch { /* some file systems cannot fsync a directory: best effort */ }
}
