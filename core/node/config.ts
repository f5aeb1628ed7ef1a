/**
 * Node configuration: embedded defaults, an optional JSON config file
 * validated with a schema whose errors name the key and the fix, and
 * command-line overrides.
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

// deno-doc-ignore missing-explicit-type -- the zod schema's type is inferred; NodeConfig documents the result
/** The config file schema (every key optional: defaults fill the rest). */
export const ConfigSchema = z.object({
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
  federation: z.object({
    /** Relay: peer relays to dial, `HOST:PORT` with the peer's key id or public key pinned. */
    peers: z.array(
      z.object({
        addr: z.string().min(1),
        keyId: keyIdHex.optional(),
        key: z.string().regex(/^[0-9a-f]{64}$/, {
          message: "must be 64 lowercase hex digits (an X25519 public key)",
        }).optional(),
      }).strict(),
    ).default([]),
    /** Relay: key ids of peer relays allowed to connect to us (besides those in `peers`). */
    allowPeers: z.array(keyIdHex).default([]),
    /** Hub: relays to keep a session to (besides the one recorded by `hub join`). */
    relays: z.array(z.string().min(1)).default([]),
    /** Per-family quota at a relay (messages and bytes queued). */
    quotaMessages: z.number().int().min(1).default(100_000),
    quotaBytes: z.number().int().min(1024).default(1 << 30),
    /**
     * Largest sealed envelope accepted, bytes (>= 256 KiB for trusted families). Envelopes larger
     * than the wire's `limits.maxMessage` travel as wire fragments (profile §12), which sessions
     * reassemble up to 16 MiB: hence the 15 MiB ceiling.
     */
    maxMessage: z.number().int().min(262_144).max(15 * 1_048_576).default(8 * 1_048_576),
    /** Longest TTL honoured, seconds (default 30 days). */
    maxTtl: z.number().int().min(1).default(30 * 24 * 3600),
    /** Default TTL of messages sent by a hub, seconds. */
    ttl: z.number().int().min(1).default(30 * 24 * 3600),
    /** Per-family token bucket: sustained messages/s and burst. */
    rate: z.number().min(0.001).default(200),
    burst: z.number().int().min(1).default(1000),
    /** Relay: stop pushing to a connection whose send queue holds more than this (the store holds the rest). */
    sendQueueHighBytes: z.number().int().min(16_384).default(1_048_576),
    /** Hub: FED_FETCH credit kept outstanding. */
    credit: z.number().int().min(1).max(65_535).default(256),
    /** Relay: expiry sweep period. */
    sweepMs: z.number().int().min(100).default(60_000),
    /** Relay: the `after` of the FED_RESTART sent on shutdown. */
    restartAfterMs: z.number().int().min(0).max(3_600_000).default(300),
    /** Hub reconnect backoff (jittered exponential); a small cap keeps reconnects within ~1 s. */
    hubBackoffBaseMs: z.number().int().min(10).default(100),
    hubBackoffCapMs: z.number().int().min(10).default(1000),
    /** Relay-to-relay retry backoff; reset when the peer is seen up. */
    peerBackoffBaseMs: z.number().int().min(10).default(250),
    peerBackoffCapMs: z.number().int().min(10).default(30_000),
  }).strict().prefault({}),
  plugins: z.object({
    dir: z.string().optional(),
    policy: z.string().optional(),
    busRoot: z.string().default("/"),
  }).strict().prefault({}),
}).strict();

// deno-doc-ignore private-type-ref -- zod's inferred output type; the keys are documented in README "Configuration" and docs/OPERATOR.md
/** A validated configuration with every default filled in. */
export type NodeConfig = z.infer<typeof ConfigSchema>;

/** The embedded defaults (what `serve` uses with no config file). */
export function defaultConfig(): NodeConfig {
  return ConfigSchema.parse({});
}

/**
 * Validates a parsed config object. Errors name each key and what to put
 * there (BAD_REQUEST `config`, `extra.problems`).
 */
export function validateConfig(raw: unknown, source = "config"): NodeConfig {
  const r = ConfigSchema.safeParse(raw);
  if (r.success) {
    for (const [i, g] of r.data.gate.public.entries()) {
      const [a, b = a] = g.split("-").map((x) => parseInt(x, 16));
      if (b < a || a <= 0xff) {
        throw new MyClerkError(ErrorCode.BAD_REQUEST, "config", {
          problems: [
            `${source}: "gate.public.${i}" (${g}) must be ascending and above the core range 0x0000-0x00FF: core opcodes are never gated`,
          ],
        });
      }
    }
    if (r.data.tiers.min > r.data.tiers.max) {
      throw new MyClerkError(ErrorCode.BAD_REQUEST, "config", {
        problems: [
          `${source}: tiers.min (${r.data.tiers.min}) is above tiers.max (${r.data.tiers.max}): lower tiers.min or raise tiers.max`,
        ],
      });
    }
    if (r.data.role === "relay" || r.data.role === "both") {
      // A relay's send queue must hold one FED_DELIVER of the largest envelope it accepts
      // (wire-fragmented) next to 1 MiB of other traffic, or that message could never be pushed
      // (federation/relay/push.ts deliverWireBytes; docs/OPERATOR.md "Data directory and store").
      const need = r.data.federation.maxMessage + 2 * 1_048_576;
      if (r.data.limits.maxQueueBytes < need) r.data.limits.maxQueueBytes = need;
    }
    return r.data;
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
