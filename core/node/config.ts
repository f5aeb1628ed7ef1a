/**
 * Node configuration: embedded defaults, an optional JSON config file
 * validated with a schema whose errors name the key and the fix, and
 * command-line overrides.
 *
 * The core schema covers the core's keys only. A layer adds its own
 * top-level section with {@link registerConfigSection} when its config
 * module loads (federation/config.ts: `federation`, plugins/config.ts:
 * `plugins`), and types it by merging into {@link ConfigSections}; the
 * config file's shape and every message stay as if one schema held them.
 *
 * @module
 */

import { z } from "zod";
import { ErrorCode, MyClerkError } from "../errors.ts";

const hostPort = z.string().regex(/^(\[[0-9a-fA-F:]+\]|[A-Za-z0-9.\-]+|[0-9a-fA-F:]+):\d{1,5}$/, {
  message: 'must be "HOST:PORT", e.g. "0.0.0.0:5657" or "[::1]:5657"',
});
const tier = z.number().int().min(0).max(5);
const keyIdHex = z.string().regex(/^[0-9a-f]{8}$/, {
  message: "must be 8 lowercase hex digits (a key id)",
});

// deno-doc-ignore private-type-ref -- zod's schema types (npm:zod), not ours to document
/** The core's key-id pattern (8 lowercase hex digits), for layers' sections too. */
export const keyIdHexSchema: z.ZodString = keyIdHex;

// deno-doc-ignore missing-explicit-type -- the zod schema's type is inferred; NodeConfig documents the result
/** The core's keys of the config file (every key optional: defaults fill the rest). */
export const CoreConfigSchema = z.object({
  role: z.enum(["node", "relay", "hub", "both"]).default("node"),
  data: z.string().min(1).default("./data"),
  key: z.string().min(1).optional(),
  listen: z.object({
    tcp: hostPort.default("0.0.0.0:5657"),
    http: hostPort.default("0.0.0.0:8080"),
  }).strict().prefault({}),
  tiers: z.object({ min: tier.default(0), max: tier.default(5) }).strict().prefault({}),
  limits: z.object({
    maxConnections: z.number().int().min(1).max(1_000_000).default(10_000),
    /** Unauthenticated connections (no session yet) per source address; the oldest is evicted. */
    maxUnauthPerAddress: z.number().int().min(1, {
      message: "must be a whole number of connections, at least 1 (default 64; keep it above 16)",
    }).max(1_000_000, { message: "must be at most 1000000" }).default(64),
    /** Share of `maxConnections` kept for established sessions (0 to 0.9). */
    reservedShare: z.number().min(0, {
      message: "must be a share from 0 to 0.9 (0.1 keeps 10 % of maxConnections for sessions)",
    }).max(0.9, {
      message: "must be a share from 0 to 0.9 (0.1 keeps 10 % of maxConnections for sessions)",
    }).default(0.1),
    maxMessage: z.number().int().min(65_536).max(64 * 1_048_576).default(1_048_576),
    maxQueueBytes: z.number().int().min(65_536).default(8 * 1_048_576),
    handshakeTimeoutMs: z.number().int().min(100).default(10_000),
    idleTimeoutMs: z.number().int().min(1_000).default(120_000),
    keepaliveMs: z.number().int().min(100).default(30_000),
    maxSkewSeconds: z.number().int().min(1).default(300),
    replayWindow: z.number().int().min(32).max(65_536).refine((n) => (n & (n - 1)) === 0, {
      message: "must be a power of two",
    }).default(1024),
  }).strict().prefault({}),
  admit: z.array(keyIdHex).optional(),
  gate: z.object({
    /** Opcode ranges anyone may call, even without a session ("0xF100-0xF10F" or "0xF100"). */
    public: z.array(
      z.string().regex(/^0x[0-9a-fA-F]{1,4}(-0x[0-9a-fA-F]{1,4})?$/, {
        message: 'must be an opcode range "0xFIRST-0xLAST" or one opcode "0xNNNN"',
      }),
    ).default([]),
  }).strict().prefault({}),
  revokedKeys: z.array(keyIdHex).default([]),
  log: z.object({
    format: z.enum(["text", "json"]).default("text"),
    level: z.enum(["debug", "info", "warn", "error"]).default("info"),
  }).strict().prefault({}),
}).strict();

// deno-doc-ignore private-type-ref -- zod's inferred output type; the keys are documented in README "Configuration" and docs/OPERATOR.md
/** The core's part of a validated configuration. */
export type CoreConfig = z.infer<typeof CoreConfigSchema>;

/**
 * The sections layers add, by name. Empty here: a layer's config module
 * declares its section into it (`declare module ".../core/node/config.ts" {
 * interface ConfigSections { federation: FedConfig } }`).
 */
// deno-lint-ignore no-empty-interface -- filled by declaration merging in each layer
export interface ConfigSections {}

/** A validated configuration with every default filled in: the core's keys and every registered section. */
export type NodeConfig = CoreConfig & { [K in keyof ConfigSections]: ConfigSections[K] };

/** Options of {@link registerConfigSection}. */
export interface ConfigSectionOptions {
  /**
   * Runs after the whole config validated (core checks first), in
   * registration order: cross-section adjustments such as the relay's
   * queue floor. May throw MyClerkError BAD_REQUEST `config`.
   */
  readonly finalize?: (cfg: NodeConfig, source: string) => void;
  /** True when the section cannot change on reload (`serve` must restart to apply it). */
  readonly restartOnly?: boolean;
  /**
   * The roles that read the section's keys (core/cli/roles.ts refuses a
   * key the node's role would silently ignore): `all` for every key,
   * `keys` for the ones only some roles read.
   */
  readonly roles?: SectionRoles;
}

/** A node role (config `role`, `--role`). */
export type NodeRole = CoreConfig["role"];

/** Which roles read a section's keys ({@link ConfigSectionOptions.roles}). */
export interface SectionRoles {
  /** Roles that read every key not in `keys`. */
  readonly all: readonly NodeRole[];
  /** Keys read by fewer roles. */
  readonly keys?: Readonly<Record<string, readonly NodeRole[]>>;
}

interface Section {
  readonly name: string;
  readonly schema: z.ZodType;
  readonly options: ConfigSectionOptions;
}

const sections: Section[] = [];
let schemaCache: z.ZodType | undefined;

// deno-doc-ignore private-type-ref -- zod's schema types (npm:zod), not ours to document
/**
 * Adds a layer's top-level config section. `schema` validates the section
 * (a strict object whose keys have defaults: an absent section is `{}`,
 * so its defaults fill it). A name the core uses or another layer
 * registered is refused (BAD_REQUEST `config-section`, naming the key).
 * Returns a function that removes the section.
 *
 * @example registerConfigSection("acme", z.object({ port: z.number().default(1) }).strict())
 */
export function registerConfigSection(
  name: string,
  schema: z.ZodType,
  options: ConfigSectionOptions = {},
): () => void {
  if (!/^[a-z][A-Za-z0-9]*$/.test(name)) {
    throw new MyClerkError(ErrorCode.BAD_REQUEST, "config-section", {
      name,
      why: `section name "${name}" must be a camelCase word`,
    });
  }
  if (Object.hasOwn(CoreConfigSchema.shape, name)) {
    throw new MyClerkError(ErrorCode.BAD_REQUEST, "config-section", {
      name,
      why: `"${name}" is a core config key`,
    });
  }
  if (sections.some((x) => x.name === name)) {
    throw new MyClerkError(ErrorCode.BAD_REQUEST, "config-section", {
      name,
      why: `config section "${name}" is already registered`,
    });
  }
  const entry: Section = { name, schema: schema.prefault({}), options };
  sections.push(entry);
  schemaCache = undefined;
  return () => {
    const i = sections.indexOf(entry);
    if (i >= 0) sections.splice(i, 1);
    schemaCache = undefined;
  };
}

/** The registered sections that cannot change on reload (core/node/node.ts `reload`). */
export function restartOnlySections(): readonly string[] {
  return sections.filter((x) => x.options.restartOnly).map((x) => x.name);
}

/** The registered sections that declared which roles read them, in registration order. */
export function sectionRoles(): readonly { readonly name: string; readonly roles: SectionRoles }[] {
  return sections.flatMap((x) => x.options.roles ? [{ name: x.name, roles: x.options.roles }] : []);
}

/** The names of the registered sections, in registration order. */
export function configSections(): readonly string[] {
  return sections.map((x) => x.name);
}

// deno-doc-ignore private-type-ref -- zod's schema types (npm:zod), not ours to document
/** The whole config file schema: the core's keys, then every registered section. */
export function configSchema(): z.ZodType {
  schemaCache ??= CoreConfigSchema.extend(
    Object.fromEntries(sections.map((x) => [x.name, x.schema])),
  ).strict();
  return schemaCache;
}

/** The embedded defaults (what `serve` uses with no config file). */
export function defaultConfig(): NodeConfig {
  return configSchema().parse({}) as NodeConfig;
}

/**
 * Validates a parsed config object. Errors name each key and what to put
 * there (BAD_REQUEST `config`, `extra.problems`).
 */
export function validateConfig(raw: unknown, source = "config"): NodeConfig {
  const r = configSchema().safeParse(raw);
  if (r.success) {
    const cfg = r.data as NodeConfig;
    for (const [i, g] of cfg.gate.public.entries()) {
      const [a, b = a] = g.split("-").map((x) => parseInt(x, 16));
      if (b < a || a <= 0xff) {
        throw new MyClerkError(ErrorCode.BAD_REQUEST, "config", {
          problems: [
            `${source}: "gate.public.${i}" (${g}) must be ascending and above the core range 0x0000-0x00FF: core opcodes are never gated`,
          ],
        });
      }
    }
    if (cfg.tiers.min > cfg.tiers.max) {
      throw new MyClerkError(ErrorCode.BAD_REQUEST, "config", {
        problems: [
          `${source}: tiers.min (${cfg.tiers.min}) is above tiers.max (${cfg.tiers.max}): lower tiers.min or raise tiers.max`,
        ],
      });
    }
    for (const x of sections) x.options.finalize?.(cfg, source);
    return cfg;
  }
  const problems = r.error.issues.map((i) => {
    const path = i.path.join(".") || "(top level)";
    if (i.code === "unrecognized_keys") {
      return `${source}: unknown key ${
        i.keys.map((k) => `"${[...i.path, k].join(".")}"`).join(", ")
      }: remove it or check its spelling`;
    }
    return `${source}: "${path}" ${i.message}`;
  });
  throw new MyClerkError(ErrorCode.BAD_REQUEST, "config", { problems });
}

/** Reads and validates a JSON config file. */
export async function loadConfigFile(path: string): Promise<NodeConfig> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (e) {
    throw new MyClerkError(ErrorCode.BAD_REQUEST, "config", {
      problems: [`${path}: cannot read (${(e as Error).message})`],
    }, e);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new MyClerkError(ErrorCode.BAD_REQUEST, "config", {
      problems: [`${path}: not valid JSON (${(e as Error).message})`],
    }, e);
  }
  return validateConfig(raw, path);
}

/** Splits `HOST:PORT` (IPv6 in brackets). */
export function splitHostPort(s: string): { hostname: string; port: number } {
  const m = /^\[?([^\]]+?)\]?:(\d+)$/.exec(s);
  if (!m) throw new MyClerkError(ErrorCode.BAD_REQUEST, "host-port", { value: s });
  const port = Number(m[2]);
  if (port > 65535) throw new MyClerkError(ErrorCode.BAD_REQUEST, "host-port", { value: s });
  return { hostname: m[1], port };
}
