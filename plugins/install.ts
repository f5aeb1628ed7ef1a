/**
 * Staged, versioned plugin installs on disk:
 *
 * ```
 * DATA/plugins/NAME/versions/X.Y.Z/   one folder per installed version (never rewritten)
 * DATA/plugins/NAME/current            the version that last started and passed init
 * DATA/plugins/NAME/next               a version waiting for `plugin reload` (or `rollback`)
 * DATA/plugins/NAME/previous           the version `current` replaced (what rollback returns to)
 * ```
 *
 * A folder `DATA/plugins/NAME/` holding `plugin.json` directly (older
 * installs, hand-made folders) is one unversioned version. The host starts
 * `current` (or `next` when nothing ran yet), reload tries `next`, and a
 * restart after a crash re-runs the folder that was running.
 *
 * @module
 */
import { ErrorCode, MyClerkError } from "../core/errors.ts";

/** Semver of `a` minus `b` in sign (-1, 0, 1), ignoring build metadata. */
export function compareVersions(a: string, b: string): number {
  const parse = (v: string) => {
    const [core, pre] = v.split("+")[0].split("-", 2);
    return { n: core.split(".").map(Number), pre };
  };
  const x = parse(a), y = parse(b);
  for (let i = 0; i < 3; i++) {
    if ((x.n[i] ?? 0) !== (y.n[i] ?? 0)) return (x.n[i] ?? 0) < (y.n[i] ?? 0) ? -1 : 1;
  }
  if (x.pre === y.pre) return 0;
  if (x.pre === undefined) return 1;
  if (y.pre === undefined) return -1;
  return x.pre < y.pre ? -1 : 1;
}

function readPointer(dir: string, which: "current" | "next" | "previous"): string | undefined {
  try {
    const v = Deno.readTextFileSync(`${dir}/${which}`).trim();
    return /^\d+\.\d+\.\d+(?:[-+][0-9A-Za-z.-]+)?$/.test(v) ? v : undefined;
  } catch {
    return undefined;
  }
}

function isLegacy(dir: string): boolean {
  try {
    Deno.statSync(`${dir}/plugin.json`);
    return true;
  } catch {
    return false;
  }
}

/** What is on disk for one plugin folder. */
export interface VersionState {
  /** Installed versions, ascending. */
  readonly versions: readonly string[];
  /** Version that last started and passed init. */
  readonly current?: string;
  /** Version waiting for a reload. */
  readonly next?: string;
  /** Version `current` replaced. */
  readonly previous?: string;
}

/** Reads a plugin folder's versions and pointers. */
export function versionState(dir: string): VersionState {
  let versions: string[] = [];
  try {
    versions = [...Deno.readDirSync(`${dir}/versions`)].filter((e) => e.isDirectory)
      .map((e) => e.name).sort(compareVersions);
  } catch { /* unversioned */ }
  return {
    versions,
    current: readPointer(dir, "current"),
    next: readPointer(dir, "next"),
    previous: readPointer(dir, "previous"),
  };
}

/**
 * The folder to run for plugin folder `dir`: on start, `current` (else
 * `next`); for a reload, `next` (else `current`). An unversioned folder is
 * itself. Returns the folder and its version pointer (undefined: unversioned).
 */
export function resolveRunDir(
  dir: string,
  purpose: "start" | "reload",
): { readonly dir: string; readonly version?: string } {
  if (isLegacy(dir)) return { dir };
  const st = versionState(dir);
  const v = purpose === "start" ? st.current ?? st.next : st.next ?? st.current;
  if (v === undefined) return { dir };
  return { dir: `${dir}/versions/${v}`, version: v };
}

async function writePointer(dir: string, which: string, v: string): Promise<void> {
  const tmp = `${dir}/.${which}.tmp`;
  await Deno.writeTextFile(tmp, v + "\n");
  await Deno.rename(tmp, `${dir}/${which}`);
}

/** After a switch to `version` passed init: it becomes `current`, the old one `previous`. */
export async function commitVersion(dir: string, version: string): Promise<void> {
  const st = versionState(dir);
  if (st.current !== undefined && st.current !== version) {
    await writePointer(dir, "previous", st.current);
  }
  await writePointer(dir, "current", version);
  if (st.next !== undefined) await Deno.remove(`${dir}/next`).catch(() => {});
}

/** Drops a staged `next` that failed (the running version stays `current`). */
export async function dropNext(dir: string, version: string): Promise<void> {
  if (readPointer(dir, "next") === version) await Deno.remove(`${dir}/next`).catch(() => {});
}

/**
 * Stages a validated folder (`staged`, e.g. under DATA/.plugin-staging) as
 * version `version` of `dir`. Refused: the same version already installed
 * (unless `force` and it is not `current`), an older version than `current`
 * without `allowDowngrade`. Returns the version folder.
 */
export async function stageVersion(
  dir: string,
  staged: string,
  version: string,
  o: { readonly force?: boolean; readonly allowDowngrade?: boolean } = {},
): Promise<string> {
  await Deno.mkdir(`${dir}/versions`, { recursive: true });
  if (isLegacy(dir)) {
    throw new MyClerkError(
      ErrorCode.BAD_REQUEST,
      `already-installed: ${dir} is an unversioned install; fix: remove it (rm -r ${dir}) and install again`,
    );
  }
  const st = versionState(dir);
  const dest = `${dir}/versions/${version}`;
  if (st.versions.includes(version)) {
    if (!o.force || st.current === version) {
      throw new MyClerkError(
        ErrorCode.BAD_REQUEST,
        `already-installed: version ${version} is in ${dest}${
          st.current === version ? " and running" : ""
        }; fix: bump "version" in plugin.json (a running version is never rewritten)`,
      );
    }
  }
  // Checked before anything is removed: a refused install leaves the disk as it was.
  const top = st.current ?? st.versions.at(-1);
  if (top !== undefined && compareVersions(version, top) < 0 && !o.allowDowngrade) {
    throw new MyClerkError(
      ErrorCode.BAD_REQUEST,
      `downgrade: ${version} is older than ${top}; fix: pass --allow-downgrade (or use "plugin rollback")`,
    );
  }
  if (st.versions.includes(version)) await Deno.remove(dest, { recursive: true });
  await Deno.rename(staged, dest);
  await writePointer(dir, "next", version);
  return dest;
}

/**
 * Marks the version to roll back to as `next` (default `previous`, else the
 * newest below `current`); a reload then switches to it. Returns it.
 */
export async function stageRollback(dir: string, to?: string): Promise<string> {
  const st = versionState(dir);
  const below = st.versions.filter((v) =>
    st.current === undefined || compareVersions(v, st.current) < 0
  );
  const target = to ?? st.previous ?? below.at(-1);
  if (target === undefined || !st.versions.includes(target) || target === st.current) {
    throw new MyClerkError(
      ErrorCode.NOT_FOUND,
      `no-rollback-target: installed ${st.versions.join(", ") || "(none)"}, current ${
        st.current ?? "(none)"
      }; fix: name one with --to`,
    );
  }
  await writePointer(dir, "next", target);
  return target;
}
