/**
 * Data directory rules (docs/OPERATOR.md "Data directory"): one `serve`
 * per data directory, enforced by an exclusive `flock` on `<data>/serve.lock`
 * held for the life of the process (the kernel drops it when the process
 * dies, so a lock left by `kill -9` or a crash never blocks the next start;
 * the file only tells the pid of the holder); and private modes: the
 * directory and its subdirectories 0700, its files 0600 (keys, stores and
 * their `-wal`/`-shm`, invites, admin address). Modes that are too open
 * are fixed on start and reported.
 *
 * @module
 */

import { ErrorCode, MyClerkError } from "../errors.ts";

/** Lock file name inside the data directory. */
export const LOCK_FILE = "serve.lock";

/** Most directory entries looked at when fixing modes (a bound on start-up work). */
const MAX_ENTRIES = 10_000;

/** A held data directory lock. */
export interface DataDirLock {
  /** The lock file. */
  readonly path: string;
  /** Paths whose mode was too open and was fixed: `path: 0644 -> 0600`. */
  readonly fixed: readonly string[];
  /** Releases the lock (also released when the process ends, however it ends). */
  release(): void;
}

function mode(m: number | null): string {
  return (m ?? 0).toString(8).padStart(4, "0").slice(-4);
}

/**
 * Sets `path` to `want` when its permission bits differ; returns the change
 * for the report, or undefined. Symbolic links are left alone.
 */
function fix(path: string, want: number): string | undefined {
  let st: Deno.FileInfo;
  try {
    st = Deno.lstatSync(path);
  } catch {
    return undefined;
  }
  if (st.isSymlink || st.mode === null) return undefined;
  const have = st.mode & 0o777;
  if (have === want) return undefined;
  Deno.chmodSync(path, want);
  return `${path}: ${mode(have)} -> ${mode(want)}`;
}

/**
 * Makes `dir` private: 0700 for it and every directory below, 0600 for
 * every regular file (at most {@link MAX_ENTRIES} entries). Returns what
 * changed.
 */
export function securePaths(dir: string): string[] {
  const out: string[] = [];
  let seen = 0;
  const walk = (d: string) => {
    const c = fix(d, 0o700);
    if (c) out.push(c);
    let entries: Deno.DirEntry[];
    try {
      entries = [...Deno.readDirSync(d)];
    } catch {
      return;
    }
    for (const e of entries) {
      if (++seen > MAX_ENTRIES) return;
      const p = `${d}/${e.name}`;
      if (e.isDirectory) walk(p);
      else if (e.isFile) {
        const f = fix(p, 0o600);
        if (f) out.push(f);
      }
    }
  };
  walk(dir);
  return out;
}

/** Sets one file to 0600 when it exists (a store and its `-wal`/`-shm` just created). */
export function securePrivateFile(path: string): void {
  try {
    fix(path, 0o600);
  } catch { /* gone or not ours: the start-up walk reports it */ }
}

function readHolder(path: string): { pid?: number; since?: string } {
  try {
    const j = JSON.parse(Deno.readTextFileSync(path)) as { pid?: unknown; since?: unknown };
    return {
      ...(typeof j.pid === "number" ? { pid: j.pid } : {}),
      ...(typeof j.since === "string" ? { since: j.since } : {}),
    };
  } catch {
    return {};
  }
}

/**
 * Takes the data directory for this process: creates it (0700) when
 * missing, takes the exclusive lock, records our pid in the lock file and
 * fixes modes. A directory locked by a live process is refused:
 * SERVICE_UNAVAILABLE `data-dir-locked` with the holder's `pid`, the lock
 * file and a fix.
 */
export function lockDataDir(dir: string): DataDirLock {
  Deno.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const path = `${dir}/${LOCK_FILE}`;
  const f = Deno.openSync(path, { read: true, write: true, create: true, mode: 0o600 });
  let ok: boolean;
  try {
    ok = f.tryLockSync(true);
  } catch (e) {
    f.close();
    throw new MyClerkError(ErrorCode.SERVICE_UNAVAILABLE, "data-dir-lock", {
      path,
      error: String(e),
      fix: "put the data directory on a local file system that supports flock",
    }, e);
  }
  if (!ok) {
    f.close();
    const h = readHolder(path);
    throw new MyClerkError(ErrorCode.SERVICE_UNAVAILABLE, "data-dir-locked", {
      path,
      pid: h.pid ?? "unknown",
      ...(h.since ? { since: h.since } : {}),
      fix: `another serve (pid ${
        h.pid ?? "unknown"
      }) uses ${dir}: stop it first, or give this one its own --data directory`,
    });
  }
  // Ours now (a holder killed with -9 left only its pid behind: the kernel dropped its lock).
  const text = new TextEncoder().encode(
    JSON.stringify({ pid: Deno.pid, since: new Date().toISOString() }) + "\n",
  );
  f.truncateSync(0);
  f.seekSync(0, Deno.SeekMode.Start);
  let off = 0;
  while (off < text.length) off += f.writeSync(text.subarray(off));
  const fixed = securePaths(dir);
  let released = false;
  return {
    path,
    fixed,
    release: () => {
      if (released) return;
      released = true;
      try {
        f.unlockSync();
        f.close();
      } catch { /* closed */ }
    },
  };
}
