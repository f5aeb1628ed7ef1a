/**
 * `myclerk --version`: `myclerk-relay 0.1.0 (commit abc1234, deno 2.9.6)`.
 * The commit comes from git when the app runs from a checkout (and may run
 * it), else from the `COMMIT` file `deploy/install.sh` writes next to
 * main.ts, else `unknown`.
 *
 * @module
 */
import { VERSION } from "../version.ts";

/** The app's root directory (where main.ts and an installed `COMMIT` live). */
const APP_ROOT = new URL("../../", import.meta.url);

function fromGit(): string | undefined {
  try {
    const r = new Deno.Command("git", {
      args: ["-C", APP_ROOT.pathname, "rev-parse", "--short=7", "HEAD"],
      stdout: "piped",
      stderr: "null",
      stdin: "null",
    }).outputSync();
    const s = new TextDecoder().decode(r.stdout).trim();
    return r.success && /^[0-9a-f]{7,40}$/.test(s) ? s : undefined;
  } catch {
    return undefined; // no git, or no --allow-run (the systemd unit grants none)
  }
}

function fromFile(): string | undefined {
  try {
    const s = Deno.readTextFileSync(new URL("COMMIT", APP_ROOT)).trim();
    return /^[0-9a-f]{7,40}$/.test(s) ? s.slice(0, 7) : undefined;
  } catch {
    return undefined;
  }
}

/** The short commit this app was built from, or `unknown`. */
export function commit(): string {
  return fromGit() ?? fromFile() ?? "unknown";
}

/** The one line `--version` prints. */
export function versionLine(): string {
  return `myclerk-relay ${VERSION} (commit ${commit()}, deno ${Deno.version.deno})`;
}
