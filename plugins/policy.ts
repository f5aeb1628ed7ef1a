/**
 * The node's plugin policy (what may be granted) and the grant computation:
 * a plugin gets the intersection of what it requests and what the policy
 * allows; everything refused is reported so the host can log it.
 *
 * Pure except {@link readPolicy} and {@link resolveLibrary}.
 *
 * @module
 */
import { z } from "zod";
import { ErrorCode, MyClerkError } from "../core/errors.ts";
import {
  BUS_KINDS,
  type BusKind,
  type IsolationMode,
  type Manifest,
  type ManifestRange,
  parseCallRange,
} from "./manifest.ts";

/** What the policy allows one plugin (or every plugin, as `default`). */
export interface PolicyEntry {
  /** `host` or `host:port` entries that may be granted. */
  readonly net: readonly string[];
  /** Paths that may be granted for reading (`$PLUGIN`, `$DATA` expand). */
  readonly read: readonly string[];
  /** Paths that may be granted for writing (`$PLUGIN`, `$DATA` expand). */
  readonly write: readonly string[];
  /** Names, or a prefix ending in `*`. */
  readonly env: readonly string[];
  /** FFI libraries (short name or absolute path) that may be granted. */
  readonly ffi: readonly string[];
  /** Bus kinds that may be granted. */
  readonly buses: readonly BusKind[];
  /** Isolation modes allowed; the first is used when the requested one is refused. */
  readonly isolation: readonly IsolationMode[];
  /** Trusted (first-party) plugins may claim resource and hardware ranges. */
  readonly trusted: boolean;
  /** Opcode ranges of other plugins it may call and subscribe to. */
  readonly calls: readonly ManifestRange[];
  /** Tier its calls present to the node's gate (default 1). */
  readonly callTier: number;
}

/** The policy file. */
export interface Policy {
  /** Applies to plugins without their own entry. */
  readonly default: PolicyEntry;
  /** Per-plugin entries, by plugin name. */
  readonly plugins: ReadonlyMap<string, PolicyEntry>;
  /**
   * Start FFI plugins even where the kernel has no Landlock (then they run
   * with Deno's permissions only, which FFI can bypass). Default false: refused.
   */
  readonly allowUnconfinedFfi?: boolean;
  /**
   * Publisher keys pinned per opcode range (plugins/signing.ts): a package is
   * installed only when signed by a key pinned for every range it claims.
   */
  readonly publishers?: readonly { first: number; last: number; keys: readonly string[] }[];
  /**
   * Local development builds: unsigned folders may be installed even though
   * `publishers` pins keys. Default false. (Without any pin every folder is a
   * development build; a signed package is still checked against the pins.)
   */
  readonly allowUnsigned?: boolean;
}

const list = z.array(z.string().min(1)).default([]);
const entrySchema = z.object({
  net: list,
  read: list,
  write: list,
  env: list,
  ffi: list,
  buses: z.array(z.enum(BUS_KINDS)).default([]),
  isolation: z.array(z.enum(["process", "worker", "inproc"])).min(1).default(["process"]),
  trusted: z.boolean().default(false),
  calls: z.array(z.string().regex(/^0x[0-9a-fA-F]{1,4}(?:-0x[0-9a-fA-F]{1,4})?$/)).default([])
    .transform((l) => l.map((x) => parseCallRange(x))),
  callTier: z.number().int().min(0).max(5).default(1),
}).strict();
const policySchema = z.object({
  version: z.literal(1),
  default: entrySchema.optional(),
  plugins: z.record(z.string(), entrySchema).default({}),
  allowUnconfinedFfi: z.boolean().default(false),
  publishers: z.array(
    z.object({
      range: z.string().regex(/^0x[0-9a-fA-F]{1,4}(?:-0x[0-9a-fA-F]{1,4})?$/),
      keys: z.array(z.string().regex(/^[0-9a-f]{64}$/)).min(1),
    }).strict(),
  ).default([]),
  allowUnsigned: z.boolean().default(false),
}).strict();

/** The policy used when no policy file is given: nothing beyond the plugin's own folder, process isolation. */
export const DENY_ALL: Policy = {
  default: {
    net: [],
    read: [],
    write: [],
    env: [],
    ffi: [],
    buses: [],
    isolation: ["process"],
    trusted: false,
    calls: [],
    callTier: 1,
  },
  plugins: new Map(),
};

/** Validates a parsed policy value; BAD_REQUEST names the field on error. */
export function parsePolicy(raw: unknown): Policy {
  const r = policySchema.safeParse(raw);
  if (!r.success) {
    const problems = r.error.issues.map((i) =>
      `policy field ${i.path.map(String).join(".") || "(top level)"}: ${i.message}`
    );
    throw new MyClerkError(ErrorCode.BAD_REQUEST, `invalid-policy: ${problems.join(" | ")}`, {
      problems,
    });
  }
  return {
    default: r.data.default ?? DENY_ALL.default,
    plugins: new Map(Object.entries(r.data.plugins)),
    allowUnconfinedFfi: r.data.allowUnconfinedFfi,
    publishers: r.data.publishers.map((p) => ({ ...parseCallRange(p.range), keys: p.keys })),
    allowUnsigned: r.data.allowUnsigned,
  };
}

/** Reads a policy file (JSON); no path means {@link DENY_ALL}. */
export async function readPolicy(path?: string): Promise<Policy> {
  if (path === undefined) return DENY_ALL;
  let raw: unknown;
  try {
    raw = JSON.parse(await Deno.readTextFile(path));
  } catch (e) {
    throw new MyClerkError(ErrorCode.BAD_REQUEST, `invalid-policy: cannot read ${path}`, {}, e);
  }
  return parsePolicy(raw);
}

/** One thing a plugin asked for and did not get. */
export interface Refusal {
  /** Which permission the refused item belongs to. */
  readonly kind:
    | "net"
    | "read"
    | "write"
    | "env"
    | "ffi"
    | "buses"
    | "isolation"
    | "library"
    | "calls";
  /** The requested item (host, path, name, mode...). */
  readonly value: string;
  /** Why it was refused (human-readable). */
  readonly reason: string;
}

/** A granted FFI library: short name and the one file the plugin may open. */
export interface FfiGrant {
  /** Short name as requested (`libc`) or the path itself. */
  readonly name: string;
  /** Absolute path of the library file. */
  readonly path: string;
}

/** What a plugin actually gets. */
export interface Grant {
  /** Granted `host` / `host:port` entries. */
  readonly net: readonly string[];
  /** Granted readable paths, placeholders expanded. */
  readonly read: readonly string[];
  /** Granted writable paths, placeholders expanded. */
  readonly write: readonly string[];
  /** Granted environment variable names. */
  readonly env: readonly string[];
  /** Granted FFI libraries. */
  readonly ffi: readonly FfiGrant[];
  /** Granted bus kinds. */
  readonly buses: readonly BusKind[];
  /** Isolation mode the plugin runs in. */
  readonly isolation: IsolationMode;
  /** Whether the plugin may claim resource and hardware ranges. */
  readonly trusted: boolean;
  /** Ranges of other plugins it may call/subscribe to (each inside a requested and a policy range). */
  readonly calls: readonly ManifestRange[];
  /** Tier its calls present to the node's gate. */
  readonly callTier: number;
  /** Everything requested and not granted. */
  readonly refused: readonly Refusal[];
}

/** Directories a plugin's path placeholders expand to. */
export interface PathVars {
  /** The plugin's folder (`$PLUGIN`). */
  readonly plugin: string;
  /** The plugin's private data directory (`$DATA`). */
  readonly data: string;
}

function expand(p: string, v: PathVars): string {
  const out = p.replace(/^\$PLUGIN(?=\/|$)/, v.plugin).replace(/^\$DATA(?=\/|$)/, v.data);
  return out.length > 1 ? out.replace(/\/+$/, "") : out;
}

/** True when `path` equals `root` or lies below it (no `..` tricks: both are normalised). */
export function pathWithin(path: string, root: string): boolean {
  if (path.split("/").includes("..") || root.split("/").includes("..")) return false;
  if (root === "/") return path.startsWith("/");
  return path === root || path.startsWith(root + "/");
}

function netAllowed(req: string, allow: readonly string[]): boolean {
  const host = req.replace(/:\d+$/, "");
  return allow.some((a) => a === "*" || a === req || a === host);
}

function envAllowed(name: string, allow: readonly string[]): boolean {
  return allow.some((a) =>
    a === "*" || a === name || (a.endsWith("*") && name.startsWith(a.slice(0, -1)))
  );
}

/**
 * The grant for `m` under `policy`: each requested item is kept only when
 * the policy allows it. `libraries` resolves an FFI short name to a file
 * (undefined = not installed). Pure.
 */
export function computeGrant(
  m: Manifest,
  policy: Policy,
  vars: PathVars,
  libraries: (name: string) => string | undefined,
): Grant {
  const p = policy.plugins.get(m.name) ?? policy.default;
  const refused: Refusal[] = [];
  const keep = <T extends string>(
    kind: Refusal["kind"],
    req: readonly T[],
    ok: (v: T) => boolean,
  ): T[] => {
    const out: T[] = [];
    for (const v of req) {
      if (ok(v)) out.push(v);
      else refused.push({ kind, value: v, reason: "not in policy" });
    }
    return out;
  };
  const pRead = p.read.map((x) => expand(x, vars));
  const pWrite = p.write.map((x) => expand(x, vars));
  const read = keep(
    "read",
    m.permissions.read.map((x) => expand(x, vars)),
    (x) => pRead.some((r) => pathWithin(x, r)),
  );
  const write = keep(
    "write",
    m.permissions.write.map((x) => expand(x, vars)),
    (x) => pWrite.some((r) => pathWithin(x, r)),
  );
  const net = keep("net", m.permissions.net, (x) => netAllowed(x, p.net));
  const env = keep("env", m.permissions.env, (x) => envAllowed(x, p.env));
  const buses = keep("buses", m.permissions.buses, (x) => p.buses.includes(x));
  const ffi: FfiGrant[] = [];
  for (const name of keep("ffi", m.permissions.ffi, (x) => p.ffi.includes(x))) {
    const path = libraries(name);
    if (path === undefined) {
      refused.push({ kind: "library", value: name, reason: "library not installed" });
    } else ffi.push({ name, path });
  }
  // The plugin always reads its own code; nothing else is implicit.
  if (!read.some((r) => pathWithin(vars.plugin, r))) read.unshift(vars.plugin);
  let isolation: IsolationMode = m.isolation;
  if (!p.isolation.includes(isolation)) {
    refused.push({
      kind: "isolation",
      value: isolation,
      reason: `policy allows ${p.isolation.join(", ")}`,
    });
    isolation = p.isolation[0];
  }
  // Only a child process confines memory: a Worker's heap cannot be capped on Deno 2.9.6 (one that
  // runs out aborts the whole node) and in-process code shares the node's isolate. Both are for
  // code the operator marked trusted.
  if (isolation !== "process" && !p.trusted) {
    refused.push({
      kind: "isolation",
      value: isolation,
      reason:
        `${isolation} isolation needs "trusted": true in the policy (no heap cap outside a process)`,
    });
    isolation = "process";
  }
  // FFI code can crash the process that holds it: never next to the node.
  if (ffi.length > 0 && isolation !== "process") {
    refused.push({
      kind: "isolation",
      value: isolation,
      reason: "FFI plugins run in their own process",
    });
    isolation = "process";
  }
  const calls: ManifestRange[] = [];
  for (const r of m.calls) {
    // A requested range is granted only where it lies inside a policy range (no partial grants).
    if (p.calls.some((a) => r.first >= a.first && r.last <= a.last)) calls.push(r);
    else refused.push({ kind: "calls", value: rangeText(r), reason: "not in policy" });
  }
  return {
    net,
    read,
    write,
    env,
    ffi,
    buses,
    isolation,
    trusted: p.trusted,
    calls,
    callTier: p.callTier,
    refused,
  };
}

function rangeText(r: ManifestRange): string {
  const h = (n: number) => `0x${n.toString(16).toUpperCase().padStart(4, "0")}`;
  return `${h(r.first)}-${h(r.last)}`;
}

/** Sonames of the libraries plugins may name by short name. */
export const KNOWN_LIBRARIES: Readonly<Record<string, readonly string[]>> = {
  libc: ["libc.so.6"],
  libusb: ["libusb-1.0.so.0"],
  // v1 first: the GPIO plugin speaks v1 and refuses v2 (a different API) by name.
  libgpiod: ["libgpiod.so.2", "libgpiod.so.3"],
};

/** Library directories searched, in order (Debian multiarch first). */
export const LIBRARY_DIRS: readonly string[] = [
  "/lib/x86_64-linux-gnu",
  "/usr/lib/x86_64-linux-gnu",
  "/lib/aarch64-linux-gnu",
  "/usr/lib/aarch64-linux-gnu",
  "/lib64",
  "/usr/lib64",
  "/lib",
  "/usr/lib",
];

/**
 * Resolves a short library name (or an absolute path) to an existing file,
 * real path (so the FFI grant names the file the loader really opens).
 */
export function resolveLibrary(
  name: string,
  dirs: readonly string[] = LIBRARY_DIRS,
): string | undefined {
  const candidates = name.startsWith("/")
    ? [name]
    : (KNOWN_LIBRARIES[name] ?? []).flatMap((so) => dirs.map((d) => `${d}/${so}`));
  for (const c of candidates) {
    try {
      return Deno.realPathSync(c);
    } catch { /* try the next one */ }
  }
  return undefined;
}
