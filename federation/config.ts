/**
 * The `federation` section of the node's config file (docs/OPERATOR.md
 * "Configuration"), registered with the core when this module loads
 * (core/node/config.ts `registerConfigSection`): federation/ops.ts imports
 * it, so anything that speaks the federation protocol has its config.
 *
 * @module
 */

import { z } from "zod";
import { keyIdHexSchema, type NodeConfig, registerConfigSection } from "../core/node/config.ts";

// deno-doc-ignore missing-explicit-type -- the zod schema's type is inferred; FedConfig documents the result
/** The `federation` section (every key optional: defaults fill the rest). */
export const FedConfigSchema = z.object({
  /** Relay: peer relays to dial, `HOST:PORT` with the peer's key id or public key pinned. */
  peers: z.array(
    z.object({
      addr: z.string().min(1),
      keyId: keyIdHexSchema.optional(),
      key: z.string().regex(/^[0-9a-f]{64}$/, {
        message: "must be 64 lowercase hex digits (an X25519 public key)",
      }).optional(),
    }).strict(),
  ).default([]),
  /** Relay: key ids of peer relays allowed to connect to us (besides those in `peers`). */
  allowPeers: z.array(keyIdHexSchema).default([]),
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
  /**
   * Relay: a message handed straight to its online recipient is stored when the recipient
   * has acked nothing for this long, or after 10x this in any case (docs/FEDERATION.md §6.5
   * "Handoff"); 0 stores every message first.
   */
  handoffMs: z.number().int().min(0).max(10_000).default(500),
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
}).strict();

// deno-doc-ignore private-type-ref -- zod's inferred output type; the keys are documented in docs/OPERATOR.md
/** The validated `federation` section. */
export type FedConfig = z.infer<typeof FedConfigSchema>;

declare module "../core/node/config.ts" {
  /** The federation layer's section. */
  interface ConfigSections {
    /** Relay and hub settings (this module). */
    federation: FedConfig;
  }
}

/**
 * A relay's send queue must hold one FED_DELIVER of the largest envelope it
 * accepts (wire-fragmented) next to 1 MiB of other traffic, or that message
 * could never be pushed (federation/relay/push.ts deliverWireBytes;
 * docs/OPERATOR.md "Data directory and store"): `limits.maxQueueBytes` is
 * raised to that floor.
 */
function relayQueueFloor(cfg: NodeConfig): void {
  if (cfg.role !== "relay" && cfg.role !== "both") return;
  const need = cfg.federation.maxMessage + 2 * 1_048_576;
  if (cfg.limits.maxQueueBytes < need) cfg.limits.maxQueueBytes = need;
}

const RELAY = ["relay", "both"] as const;
const HUB = ["hub", "both"] as const;

/**
 * Which roles read which keys: `serve` refuses a key the node's role would
 * silently ignore (core/cli/roles.ts). The tuning keys of one side
 * (backoffs, quotas) are listed too: a relay's config that sets the hub's
 * backoff does nothing, which is what the operator must hear.
 */
const ROLES = {
  all: ["relay", "hub", "both"],
  keys: {
    peers: RELAY,
    allowPeers: RELAY,
    quotaMessages: RELAY,
    quotaBytes: RELAY,
    sendQueueHighBytes: RELAY,
    sweepMs: RELAY,
    handoffMs: RELAY,
    restartAfterMs: RELAY,
    peerBackoffBaseMs: RELAY,
    peerBackoffCapMs: RELAY,
    relays: HUB,
    credit: HUB,
    ttl: HUB,
    hubBackoffBaseMs: HUB,
    hubBackoffCapMs: HUB,
  },
} as const;

registerConfigSection("federation", FedConfigSchema, {
  finalize: relayQueueFloor,
  roles: ROLES,
});
