/**
 * `plugin install DIR | list | logs NAME | reload NAME` for the node's CLI.
 *
 * `install` and offline `list` work on the data directory; `list` asks a
 * running node first (`--admin`), `logs` and `reload` need one.
 *
 * @module
 */
import type { Command } from "commander";
import { ErrorCode, MyClerkError } from "../core/errors.ts";
import { readManifest } from "./manifest.ts";
import { computeGrant, readPolicy, resolveLibrary } from "./policy.ts";
import { checkClaim, RangeTable } from "./ranges.ts";
import { offlineStatus, type PluginStatus } from "./runtime/host.ts";
import { materialize, registerVendorCommands } from "./vendor_cli.ts";
import { stageVersion } from "./install.ts";
import { formatCount, table } from "../core/cli/table.ts";
import { intArg } from "../core/cli/args.ts";

/** What the CLI commands print to and fetch with (tests replace them). */
export interface PluginCliContext {
  /** Prints one line of output (default `console.log`). */
  readonly out?: (line: string) => void;
  /** Fetch used to reach a running node's admin routes (default global `fetch`). */
  readonly fetch?: typeof fetch;
}

const DEFAULT_ADMIN = "http://127.0.0.1:8080";
/** Most log lines `plugin logs` asks for: what GET /plugins/NAME/logs answers at most (plugins/http.ts). */
const LOG_LINES = 1000;

/**
 * Validates `src` (a folder, or a signed `.mcp` package) and stages it as
 * `DATA/plugins/NAME/versions/X.Y.Z` with `next` pointing at it (a running
 * node switches on `plugin reload`; plugins/install.ts). Checks the
 * signature against the policy's pinned publishers, the manifest, the range
 * rules under the policy, and conflicts with installed plugins. Returns the
 * version folder.
 */
export async function installPlugin(
  source: string,
  dataDir: string,
  policyFile?: string,
  force = false,
  allowDowngrade = false,
  allowUnsigned = false,
): Promise<{ readonly path: string; readonly status: PluginStatus }> {
  const src = await materialize(source, dataDir, await readPolicy(policyFile), { allowUnsigned });
  try {
    return await installStaged(src, dataDir, policyFile, force, allowDowngrade);
  } finally {
    await Deno.remove(src, { recursive: true }).catch(() => {});
  }
}

async function installStaged(
  src: string,
  dataDir: string,
  policyFile: string | undefined,
  force: boolean,
  allowDowngrade: boolean,
): Promise<{ readonly path: string; readonly status: PluginStatus }> {
  const m = await readManifest(src);
  try {
    await Deno.stat(`${src}/${m.entry}`);
  } catch {
    throw new MyClerkError(
      ErrorCode.BAD_REQUEST,
      `invalid-manifest: manifest field entry: ${m.entry} does not exist in ${src}; fix: point entry at the module`,
    );
  }
  const policy = await readPolicy(policyFile);
  const pluginsDir = `${dataDir}/plugins`;
  const dest = `${pluginsDir}/${m.name}`;
  const grant = computeGrant(
    m,
    policy,
    { plugin: `${dest}/versions/${m.version}`, data: `${dataDir}/plugin-data/${m.name}` },
    (n) => resolveLibrary(n),
  );
  checkClaim(m.name, m.ranges, grant.trusted);
  let table = RangeTable.empty().with(m.name, m.ranges);
  for (const other of await offlineStatus(pluginsDir, policyFile, dataDir)) {
    if (other.name === m.name || other.state === "invalid") continue;
    const ranges = other.ranges.map((r) => {
      const [a, b] = r.split("-");
      return { first: parseInt(a, 16), last: parseInt(b, 16) };
    });
    table = table.with(other.name, ranges);
  }
  const path = await stageVersion(dest, src, m.version, { force, allowDowngrade });
  const status = (await offlineStatus(pluginsDir, policyFile, dataDir)).find((s) =>
    s.name === m.name
  )!;
  return { path, status };
}

/** Microseconds as `850 µs`, `1.2 ms`, `3 s` (plugin latency cells). */
function micros(us: number): string {
  if (!Number.isFinite(us)) return "-";
  if (us < 1000) return `${Math.round(us)} µs`;
  if (us < 1_000_000) return `${(us / 1000).toFixed(us < 10_000 ? 1 : 0)} ms`;
  return `${(us / 1_000_000).toFixed(1)} s`;
}

/**
 * Human-readable `plugin list`: one aligned row per plugin (state, ranges,
 * traffic), then per plugin what the policy granted and refused.
 */
export function formatList(rows: readonly PluginStatus[]): string[] {
  if (rows.length === 0) return ["no plugins installed"];
  const live = (s: PluginStatus) => s.state !== "not running" && s.state !== "invalid";
  const out = table(rows, [
    { header: "NAME", cell: (s) => s.name },
    { header: "VERSION", cell: (s) => s.version || "-" },
    { header: "STATE", cell: (s) => s.state },
    { header: "ISOLATION", cell: (s) => s.isolation || "-" },
    { header: "RANGES", cell: (s) => s.ranges.join(", ") || "-" },
    {
      header: "REQUESTS",
      cell: (s) => (live(s) ? formatCount(s.metrics.requests) : "-"),
      align: "right",
    },
    {
      header: "ERRORS",
      cell: (s) =>
        live(s) ? formatCount(Object.values(s.metrics.errors).reduce((a, b) => a + b, 0)) : "-",
      align: "right",
    },
    {
      header: "RESTARTS",
      cell: (s) => (live(s) ? String(s.metrics.restarts) : "-"),
      align: "right",
    },
    {
      header: "P50",
      cell: (s) => (live(s) ? micros(s.metrics.latencyUs.p50) : "-"),
      align: "right",
    },
    {
      header: "P99",
      cell: (s) => (live(s) ? micros(s.metrics.latencyUs.p99) : "-"),
      align: "right",
    },
  ]);
  for (const s of rows) {
    out.push("", `${s.name}:`);
    if (s.reason) out.push(`  reason: ${s.reason}`);
    const d = s.onDisk;
    if (d !== undefined && d.installed.length > 0) {
      out.push(
        `  on disk: ${d.installed.join(", ")}; current ${d.current ?? "-"}, next ${
          d.next ?? "-"
        }, previous ${d.previous ?? "-"}; running ${s.state === "running" ? s.version : "-"}`,
      );
    }
    const g = s.granted;
    const granted = [
      ...g.net.map((x) => `net ${x}`),
      ...g.read.map((x) => `read ${x}`),
      ...g.write.map((x) => `write ${x}`),
      ...g.env.map((x) => `env ${x}`),
      ...g.ffi.map((x) => `ffi ${x}`),
      ...g.buses.map((x) => `bus ${x}`),
    ];
    out.push(`  granted: ${granted.length ? granted.join("; ") : "(nothing)"}`);
    out.push(`  confinement: ${s.confinement}`);
    if (s.refused.length) {
      out.push(
        `  refused: ${s.refused.map((r) => `${r.kind} ${r.value} (${r.reason})`).join("; ")}`,
      );
    }
    const errs = Object.entries(s.metrics.errors);
    if (live(s) && errs.length) {
      out.push(`  errors: ${errs.map(([code, n]) => `${code} ${n}`).join(", ")}`);
    }
  }
  return out;
}

async function admin(
  ctx: PluginCliContext,
  base: string,
  path: string,
  method = "GET",
): Promise<unknown> {
  const f = ctx.fetch ?? fetch;
  const res = await f(`${base.replace(/\/$/, "")}/plugins${path}`, {
    method,
    signal: AbortSignal.timeout(30_000),
  });
  const body = await res.json();
  if (!res.ok) {
    throw new MyClerkError(
      ErrorCode.SERVICE_UNAVAILABLE,
      `admin: ${(body as { error?: string }).error ?? res.status}`,
    );
  }
  return body;
}

// deno-doc-ignore private-type-ref -- Command is commander's own exported class (npm)
/** Adds `plugin ...` to `program`. */
export function registerPluginCommands(program: Command, ctx: PluginCliContext = {}): void {
  const out = ctx.out ?? ((l: string) => console.log(l));
  const plugin = program.command("plugin").description(
    "create, pack, install, list, reload and roll back plugins (docs/PLUGINS.md)",
  );
  registerVendorCommands(plugin, out);
  plugin
    .command("install <dir>")
    .description(
      "validate a plugin folder or signed .mcp package and stage it as DATA/plugins/NAME/versions/X.Y.Z",
    )
    .option("-d, --data <dir>", "node data directory", "./data")
    .option("--policy <file>", "plugin policy file (to show the grant)")
    .option("--force", "replace an installed, not running version of the same number")
    .option("--allow-downgrade", "install a version older than the running one")
    .option(
      "--allow-unsigned",
      "allow an unsigned folder or package (a local development build; plugins shipped in this node's plugins/ need no flag)",
    )
    .action(async (
      dir: string,
      o: {
        data: string;
        policy?: string;
        force?: boolean;
        allowDowngrade?: boolean;
        allowUnsigned?: boolean;
      },
    ) => {
      const r = await installPlugin(
        dir,
        o.data,
        o.policy,
        o.force === true,
        o.allowDowngrade === true,
        o.allowUnsigned === true,
      );
      out(`installed ${r.status.name} ${r.status.version} to ${r.path}`);
      for (const l of formatList([r.status]).slice(1)) out(l);
      out(`run "plugin reload ${r.status.name}" on a running node to start it`);
    });
  plugin
    .command("list")
    .description("ranges, permissions granted and refused, state and metrics")
    .option("-d, --data <dir>", "node data directory", "./data")
    .option("--admin <url>", "admin URL of a running node", DEFAULT_ADMIN)
    .option("--policy <file>", "plugin policy file (offline listing)")
    .option("--json", "print JSON")
    .action(async (o: { data: string; admin: string; policy?: string; json?: boolean }) => {
      let rows: readonly PluginStatus[];
      try {
        rows = await admin(ctx, o.admin, "") as PluginStatus[];
      } catch {
        rows = await offlineStatus(`${o.data}/plugins`, o.policy, o.data);
      }
      if (o.json) out(JSON.stringify(rows, null, 2));
      else for (const l of formatList(rows)) out(l);
    });
  plugin
    .command("logs <name>")
    .description("last log lines of a plugin on a running node")
    .option("--admin <url>", "admin URL of a running node", DEFAULT_ADMIN)
    // The node keeps the last LOG_LINES lines per plugin (plugins/runtime/metrics.ts LogRing).
    .option("-n, --lines <n>", `number of lines (1-${LOG_LINES})`, intArg("-n", 1, LOG_LINES), 100)
    .action(async (name: string, o: { admin: string; lines: number }) => {
      const lines = await admin(
        ctx,
        o.admin,
        `/${encodeURIComponent(name)}/logs?lines=${o.lines}`,
      ) as string[];
      for (const l of lines) out(l);
    });
  plugin
    .command("reload <name>")
    .description("blue/green reload of a plugin on a running node")
    .option("--admin <url>", "admin URL of a running node", DEFAULT_ADMIN)
    .action(async (name: string, o: { admin: string }) => {
      const r = await admin(ctx, o.admin, `/${encodeURIComponent(name)}/reload`, "POST") as {
        status?: PluginStatus;
      };
      out(`reloaded ${name}${r.status ? ` (${r.status.version}, ${r.status.state})` : ""}`);
    });
}
