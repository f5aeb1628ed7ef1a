/**
 * Online backup of a data directory (docs/OPERATOR.md "Backup and restore"),
 * safe while `serve` runs on it: store manifests first, then every other
 * file (keys, invites, hub and ACL files, the status token, plugin folders),
 * then each SQLite store through `VACUUM INTO` (a consistent snapshot that
 * includes what is still in the `-wal`). Copying the manifest before its
 * store keeps the pair openable: the snapshot's commit counter is at least
 * the manifest's high-water mark, so the restored store is not refused as
 * rolled back. The result is itself a data directory (mode 0700, files
 * 0600): restoring is copying it into place with the node stopped.
 *
 * @module
 */

import { DatabaseSync } from "node:sqlite";
import { ErrorCode, MyClerkError } from "../core/errors.ts";

/** What a backup wrote. */
export interface BackupReport {
  /** Stores snapshotted with VACUUM INTO (paths relative to the data directory). */
  readonly stores: readonly string[];
  /** Other files copied, manifests first. */
  readonly files: readonly string[];
  /** Bytes written. */
  readonly bytes: number;
}

/** Files that belong to one running process, never to a backup. */
const SKIP = /(^|\/)(serve\.lock|admin\.json)$|-(wal|shm|journal)$/;
const STORE = /\.db$/;
const MANIFEST = /\.manifest$/;
/** Bound on entries walked (a data directory is small; a loop is a mistake). */
const MAX_ENTRIES = 100_000;

function walk(root: string): string[] {
  const out: string[] = [];
  const rec = (rel: string) => {
    for (const e of Deno.readDirSync(rel ? `${root}/${rel}` : root)) {
      if (out.length >= MAX_ENTRIES) {
        throw new MyClerkError(ErrorCode.BAD_REQUEST, "too-many-files", { root, max: MAX_ENTRIES });
      }
      const p = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory) rec(p);
      else if (e.isFile) out.push(p);
    }
  };
  rec("");
  return out.sort();
}

function sqlString(s: string): string {
  return `'${s.replaceAll("'", "''")}'`;
}

/**
 * Backs up `data` into `out` (which must not exist, or be an empty folder).
 * Throws BAD_REQUEST with a fix for a missing source or a non-empty target.
 */
export async function backupDataDir(data: string, out: string): Promise<BackupReport> {
  try {
    if (!(await Deno.stat(data)).isDirectory) throw new Error("not a directory");
  } catch (e) {
    throw new MyClerkError(ErrorCode.BAD_REQUEST, "no-data-dir", {
      path: data,
      fix: "give the node's data directory with --data",
    }, e);
  }
  try {
    if ([...Deno.readDirSync(out)].length > 0) {
      throw new MyClerkError(ErrorCode.BAD_REQUEST, "target-not-empty", {
        path: out,
        fix: "back up into a new folder (e.g. one per date)",
      });
    }
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
  await Deno.mkdir(out, { recursive: true, mode: 0o700 });
  await Deno.chmod(out, 0o700);
  const all = walk(data).filter((f) => !SKIP.test(f));
  const manifests = all.filter((f) => MANIFEST.test(f));
  const stores = all.filter((f) => STORE.test(f));
  const rest = all.filter((f) => !MANIFEST.test(f) && !STORE.test(f));
  let bytes = 0;
  const files: string[] = [];
  for (const f of [...manifests, ...rest]) {
    const dir = f.includes("/") ? `${out}/${f.slice(0, f.lastIndexOf("/"))}` : out;
    await Deno.mkdir(dir, { recursive: true, mode: 0o700 });
    await Deno.copyFile(`${data}/${f}`, `${out}/${f}`);
    await Deno.chmod(`${out}/${f}`, 0o600);
    bytes += (await Deno.stat(`${out}/${f}`)).size;
    files.push(f);
  }
  for (const f of stores) {
    const dir = f.includes("/") ? `${out}/${f.slice(0, f.lastIndexOf("/"))}` : out;
    await Deno.mkdir(dir, { recursive: true, mode: 0o700 });
    const db = new DatabaseSync(`${data}/${f}`, { readOnly: true });
    try {
      // a running node may hold a write lock for a moment: wait instead of failing
      db.exec("PRAGMA busy_timeout = 5000");
      db.exec(`VACUUM INTO ${sqlString(`${out}/${f}`)}`);
    } catch (e) {
      throw new MyClerkError(ErrorCode.INTERNAL_ERROR, "snapshot-failed", {
        path: `${data}/${f}`,
        fix: "check free space at the target and that the store opens (`queue list`)",
      }, e);
    } finally {
      db.close();
    }
    await Deno.chmod(`${out}/${f}`, 0o600);
    bytes += (await Deno.stat(`${out}/${f}`)).size;
  }
  return { stores, files, bytes };
}
