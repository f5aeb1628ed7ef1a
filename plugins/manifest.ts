/**
 * Plugin manifest (`plugin.json`): schema, parsing and validation.
 *
 * Every validation error names the field and says how to fix it, because the
 * reader is a vendor who has never seen this code.
 *
 * @module
 */
import { z } from "zod";
import { ErrorCode, MyClerkError } from "../core/errors.ts";
import { BUS_KINDS, type BusKind } from "../hardware/bus.ts";

/** The host-plugin interface version this host implements (semver major.minor). */
export const HOST_API_VERSION = "1.0";

/** Isolation modes a plugin can run in (see docs/PLUGINS.md, "Isolation"). */
export type IsolationMode = "worker" | "process" | "inproc";

/** What a plugin asks to be allowed to do. */
export interface Permissions {
  /** `host` or `host:port` it may connect to. */
  readonly net: readonly string[];
  /** Paths it may read (`$DATA` = its private data directory, `$PLUGIN` = its folder). */
  readonly read: readonly string[];
  /** Paths it may write. */
  readonly write: readonly string[];
  /** Environment variable names it may read. */
  readonly env: readonly string[];
  /** FFI libraries by short name (`libc`, `libusb`, `libgpiod`) or absolute path. */
  readonly ffi: readonly string[];
  /** Buses it needs; the plugin is not started when one is absent. */
  readonly buses: readonly BusKind[];
}

// The bus vocabulary lives in hardware/bus.ts; re-exported so existing imports keep working.
export { BUS_KINDS, type BusKind } from "../hardware/bus.ts";

/** An inclusive opcode range. */
export interface ManifestRange {
  /** First opcode of the range (u16). */
  readonly first: number;
  /** Last opcode of the range (u16), inclusive, >= `first`. */
  readonly last: number;
}

/** Resource limits of one plugin instance. */
export interface Limits {
  /** Requests waiting or running at once; more get SERVICE_UNAVAILABLE. */
  readonly queue: number;
  /** Per-request deadline in ms; later answers are dropped and TIMEOUT is returned. */
  readonly timeoutMs: number;
  /** Heap ceiling in MiB (process mode: V8 flag; worker mode: watchdog sample). */
  readonly memoryMb: number;
  /** Watchdog: a plugin that does not answer a ping within this many ms is killed. */
  readonly heartbeatMs: number;
}

/** What the host does when the plugin dies. */
export type FailurePolicy = "restart" | "fail-closed";

/** A validated manifest. */
export interface Manifest {
  /** Plugin name: 2-41 of `a-z`, `0-9`, `-`, starting with a letter. */
  readonly name: string;
  /** Plugin version (semver). */
  readonly version: string;
  /** Host API range the plugin works with, e.g. `^1` or `^1.0`. */
  readonly hostApi: string;
  /** Entry module, relative to the plugin folder. */
  readonly entry: string;
  /** One-line description, at most 200 characters. */
  readonly description: string;
  /** Requested isolation mode (default `process`). */
  readonly isolation: IsolationMode;
  /** Opcode ranges the plugin claims. */
  readonly ranges: readonly ManifestRange[];
  /** Per-opcode minimum tier (may only raise the profile's minimum). */
  readonly minTier: ReadonlyMap<number, number>;
  /** What the plugin asks to be allowed to do. */
  readonly permissions: Permissions;
  /** Resource limits ({@link DEFAULT_LIMITS} fill absent fields). */
  readonly limits: Limits;
  /** What the host does when the plugin dies (default `restart`). */
  readonly failure: FailurePolicy;
  /** Opcode ranges of other plugins this plugin calls and subscribes to (`ctx.call`, `ctx.subscribe`). */
  readonly calls: readonly ManifestRange[];
  /**
   * Event opcodes the plugin may push (inside its ranges). Any other event,
   * and every event of a manifest without `events`, is dropped, counted and
   * logged (`undeclared`).
   */
  readonly events?: readonly number[];
}

/** Defaults applied to absent `limits` fields. */
export const DEFAULT_LIMITS: Limits = {
  queue: 256,
  timeoutMs: 5_000,
  memoryMb: 128,
  heartbeatMs: 2_000,
};

const opcode = z.union([
  z.number().int().min(0).max(0xffff),
  z.string().regex(/^0x[0-9a-fA-F]{1,4}$/),
]);

function toOpcode(v: number | string): number {
  return typeof v === "number" ? v : parseInt(v.slice(2), 16);
}

/** `"0x0670-0x067F"` or a single `"0x0670"`. */
const CALL_RANGE = /^0x[0-9a-fA-F]{1,4}(?:-0x[0-9a-fA-F]{1,4})?$/;

/**
 * Parses one `calls` entry (`"0xAAAA-0xBBBB"`, `"0xAAAA"` or `{ first, last }`).
 *
 * @example parseCallRange("0x0670-0x067F") // { first: 0x0670, last: 0x067f }
 */
export function parseCallRange(
  v: string | { first: number | string; last: number | string },
): ManifestRange {
  if (typeof v === "string") {
    const [a, b] = v.split("-");
    return { first: toOpcode(a), last: toOpcode(b ?? a) };
  }
  return { first: toOpcode(v.first), last: toOpcode(v.last) };
}

const strList = z.array(z.string().min(1)).default([]);

const schema = z.object({
  name: z.string().regex(/^[a-z][a-z0-9-]{1,40}$/),
  version: z.string().regex(/^\d+\.\d+\.\d+(?:[-+][0-9A-Za-z.-]+)?$/),
  hostApi: z.string().regex(/^\^?\d+(?:\.\d+)?$/),
  entry: z.string().regex(/^(?!\/)(?!.*\.\.)[\w./-]+\.(?:ts|js|mjs)$/).default("mod.ts"),
  description: z.string().max(200).default(""),
  isolation: z.enum(["worker", "process"]).default("process"),
  ranges: z.array(z.object({ first: opcode, last: opcode }).strict()).min(1),
  minTier: z.record(z.string().regex(/^0x[0-9a-fA-F]{1,4}$/), z.number().int().min(0).max(5))
    .default({}),
  permissions: z.object({
    net: strList,
    read: strList,
    write: strList,
    env: z.array(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/)).default([]),
    ffi: strList,
    buses: z.array(z.enum(BUS_KINDS)).default([]),
  }).strict().default({ net: [], read: [], write: [], env: [], ffi: [], buses: [] }),
  limits: z.object({
    queue: z.number().int().min(1).max(65_536).optional(),
    timeoutMs: z.number().int().min(10).max(600_000).optional(),
    memoryMb: z.number().int().min(16).max(16_384).optional(),
    heartbeatMs: z.number().int().min(50).max(60_000).optional(),
  }).strict().default({}),
  failure: z.enum(["restart", "fail-closed"]).default("restart"),
  calls: z.array(z.union([
    z.string().regex(CALL_RANGE),
    z.object({ first: opcode, last: opcode }).strict(),
  ])).default([]),
  events: z.array(opcode).optional(),
}).strict();

/** How to fix a bad value, per top-level field (the part of the message a vendor acts on). */
const FIXES: Readonly<Record<string, string>> = {
  name: 'use 2-41 characters: lower-case letters, digits and "-", starting with a letter',
  version: 'use semantic versioning, e.g. "1.0.0"',
  hostApi: 'state the host API major version you built against, e.g. "^1"',
  entry: 'give a .ts/.js file inside the plugin folder, e.g. "mod.ts" (no "..", no absolute path)',
  description: "keep it under 200 characters",
  isolation: 'use "process" (default, required for FFI) or "worker"',
  ranges: 'list ranges as { "first": "0xF100", "last": "0xF10F" } with opcodes 0x0000-0xFFFF',
  minTier: 'map "0xNNNN" opcodes to a tier 0-5, e.g. { "0xF101": 3 }',
  permissions:
    "allowed keys: net (host[:port]), read, write (paths), env (variable names), ffi (libc, libusb, libgpiod or an absolute path), buses (" +
    BUS_KINDS.join(", ") + ")",
  limits:
    "allowed keys: queue (1-65536), timeoutMs (10-600000), memoryMb (16-16384), heartbeatMs (50-60000)",
  failure: 'use "restart" (restart with backoff) or "fail-closed" (stay down until reload)',
  calls: 'list the ranges of other plugins it calls, e.g. ["0x0670-0x067F"]',
  events: 'list the event opcodes it pushes, inside its ranges, e.g. ["0xF802"]',
};

function fieldPath(path: readonly PropertyKey[]): string {
  let out = "";
  for (const p of path) {
    out += typeof p === "number" ? `[${p}]` : out === "" ? String(p) : `.${String(p)}`;
  }
  return out === "" ? "(top level)" : out;
}

/**
 * Validates a parsed `plugin.json` value. Throws BAD_REQUEST whose detail
 * lists every problem as `field: problem; fix: ...`.
 *
 * @example parseManifest(JSON.parse(await Deno.readTextFile("plugin.json")))
 */
export function parseManifest(raw: unknown): Manifest {
  const r = schema.safeParse(raw);
  if (!r.success) {
    const problems = r.error.issues.map((i) => {
      const top = i.path.length > 0 ? String(i.path[0]) : "";
      const field = i.code === "unrecognized_keys"
        ? `${fieldPath(i.path)}${i.path.length ? "." : ""}${i.keys.join(",")}`
        : fieldPath(i.path);
      const fix = i.code === "unrecognized_keys" && top === ""
        ? "remove it; known fields: " + Object.keys(FIXES).join(", ")
        : FIXES[top] ?? "see docs/PLUGINS.md";
      return `manifest field ${field}: ${i.message}; fix: ${fix}`;
    });
    throw new MyClerkError(ErrorCode.BAD_REQUEST, `invalid-manifest: ${problems.join(" | ")}`, {
      problems,
    });
  }
  const m = r.data;
  // Every problem at once (a vendor fixes them in one go), each with its fix.
  const problems: string[] = [];
  const ranges = m.ranges.map((x, i) => {
    const first = toOpcode(x.first);
    const last = toOpcode(x.last);
    if (first > last) {
      problems.push(
        `manifest field ranges[${i}]: first 0x${first.toString(16)} is above last 0x${
          last.toString(16)
        }; fix: swap them`,
      );
    }
    return { first, last };
  });
  const within = (op: number) => ranges.some((x) => op >= x.first && op <= x.last);
  const minTier = new Map<number, number>();
  for (const [k, v] of Object.entries(m.minTier)) {
    const op = toOpcode(k);
    if (!within(op)) {
      problems.push(
        `manifest field minTier.${k}: opcode is outside the plugin's ranges; fix: add it to ranges or remove it`,
      );
    }
    minTier.set(op, v);
  }
  for (const [i, e] of (m.events ?? []).entries()) {
    if (!within(toOpcode(e))) {
      problems.push(
        `manifest field events[${i}]: ${e} is outside the plugin's ranges; fix: push only your own opcodes`,
      );
    }
  }
  if (m.permissions.ffi.length > 0 && m.isolation === "worker") {
    problems.push(
      'manifest field isolation: a plugin that uses FFI must run in its own process; fix: set "isolation": "process"',
    );
  }
  const calls = m.calls.map((x, i) => {
    const r = parseCallRange(x);
    if (r.first > r.last) {
      problems.push(`manifest field calls[${i}]: first is above last; fix: swap them`);
    }
    return r;
  });
  if (problems.length > 0) {
    throw new MyClerkError(ErrorCode.BAD_REQUEST, `invalid-manifest: ${problems.join(" | ")}`, {
      problems,
    });
  }
  return {
    name: m.name,
    version: m.version,
    hostApi: m.hostApi,
    entry: m.entry,
    description: m.description,
    isolation: m.isolation,
    ranges,
    minTier,
    permissions: m.permissions,
    limits: { ...DEFAULT_LIMITS, ...m.limits },
    failure: m.failure,
    calls,
    ...(m.events !== undefined ? { events: m.events.map(toOpcode) } : {}),
  };
}

/**
 * True when a plugin's `hostApi` range accepts `host` (`major.minor`):
 * `^M` and `^M.m` accept the same major with minor >= m; a bare `M` or
 * `M.m` means exactly that major (and at least that minor).
 *
 * @example hostApiCompatible("^1", "1.0") // true
 */
export function hostApiCompatible(range: string, host: string = HOST_API_VERSION): boolean {
  const [hMaj, hMin] = host.split(".").map(Number);
  const [maj, min] = range.replace(/^\^/, "").split(".").map(Number);
  return maj === hMaj && (min === undefined || Number.isNaN(min) || hMin >= min);
}

/**
 * Reads and validates `DIR/plugin.json`. Throws NOT_FOUND when absent,
 * BAD_REQUEST when it is not JSON or not valid.
 */
export async function readManifest(dir: string): Promise<Manifest> {
  let text: string;
  try {
    text = await Deno.readTextFile(`${dir}/plugin.json`);
  } catch (e) {
    throw new MyClerkError(
      ErrorCode.NOT_FOUND,
      `no-manifest: ${dir}/plugin.json cannot be read; fix: put a plugin.json in the plugin folder`,
      {},
      e,
    );
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new MyClerkError(
      ErrorCode.BAD_REQUEST,
      `invalid-manifest: ${dir}/plugin.json is not JSON (${
        (e as Error).message
      }); fix: check commas and quotes`,
      {},
      e,
    );
  }
  return parseManifest(raw);
}

/** Formats an opcode as `0xNNNN`. */
export function hex4(op: number): string {
  return `0x${op.toString(16).toUpperCase().padStart(4, "0")}`;
}
