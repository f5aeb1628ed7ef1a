/**
 * Peer relays: the `--peer` / config specs, the index the allow-list and
 * the route fallback read, and the dialing of every configured peer
 * through the one outbound-session path (federation/outbound.ts).
 *
 * @module
 */

import { ErrorCode, MyClerkError } from "../../core/errors.ts";
import type { CryptoBackend } from "../../core/crypto/types.ts";
import type { Node } from "../../core/node/node.ts";
import { bytesEqual, fromHex, toHex } from "../bytes.ts";
import { familyKeyId } from "../family.ts";
import type { Link } from "../link.ts";
import { type DialLoop, dialLoop, type OutboundLink } from "../outbound.ts";
import type { FedConfig } from "./context.ts";

/** A configured peer relay: address and pinned identity. */
export interface PeerSpec {
  /** Address to dial (`host:port`). */
  readonly addr: string;
  /** Pinned key id (u32) of the peer's static key (`HOST:PORT@KEYID`). */
  readonly keyId?: number;
  /** Pinned static public key of the peer, 32 bytes (`HOST:PORT@PUBKEY`). */
  readonly key?: Uint8Array;
}

/**
 * Parses `--peer` values: `HOST:PORT@KEYID` (8 hex digits) or
 * `HOST:PORT@PUBKEY` (64 hex digits). A peer without a pinned key is
 * refused: relay peering is mutually authenticated (BAD_REQUEST `peer`).
 */
export function parsePeer(s: string): PeerSpec {
  const m = /^(.+)@([0-9a-f]{8}|[0-9a-f]{64})$/.exec(s);
  if (!m) {
    throw new MyClerkError(ErrorCode.BAD_REQUEST, "peer", {
      value: s,
      fix: "write HOST:PORT@KEYID (the peer's key id from `keys show`) or HOST:PORT@PUBLICKEY",
    });
  }
  if (m[2].length === 8) return { addr: m[1], keyId: parseInt(m[2], 16) };
  return { addr: m[1], key: fromHex(m[2]) };
}

/** `--peer` specs plus the config's `federation.peers`, without duplicates. */
export function mergePeers(cli: readonly PeerSpec[], cfg: FedConfig): PeerSpec[] {
  const out: PeerSpec[] = [...cli];
  const seen = new Set(out.map(peerKey));
  for (const p of cfg.peers) {
    const spec: PeerSpec = {
      addr: p.addr,
      ...(p.keyId === undefined ? {} : { keyId: parseInt(p.keyId, 16) }),
      ...(p.key === undefined ? {} : { key: fromHex(p.key) }),
    };
    const k = peerKey(spec);
    if (seen.has(k)) continue;
    seen.add(k);
    out.push(spec);
  }
  return out;
}

/** Identity of a peer spec (address and pin) for reload diffs. */
export function peerKey(p: PeerSpec): string {
  return `${p.addr}@${p.key ? toHex(p.key) : p.keyId ?? ""}`;
}

/**
 * The peers in force, indexed once per config (not per FED_HELLO or per
 * message): pinned keys, pinned key ids, `allowPeers`, and the key ids of
 * every configured peer (a node key id is u32(H(pub)[0..4]), the rule of a
 * family key id).
 */
export class PeerIndex {
  /** The specs dialed. */
  readonly specs: readonly PeerSpec[];
  readonly #keys: readonly Uint8Array[];
  readonly #allowIds: ReadonlySet<number>;
  readonly #configuredIds: ReadonlySet<number>;

  /** Indexes `specs` and the config's `allowPeers` / `peers`. */
  constructor(be: CryptoBackend, specs: readonly PeerSpec[], cfg: FedConfig) {
    this.specs = specs;
    this.#keys = specs.flatMap((p) => p.key === undefined ? [] : [p.key]);
    const pinnedIds = specs.flatMap((p) =>
      p.key === undefined && p.keyId !== undefined ? [p.keyId] : []
    );
    this.#allowIds = new Set([...pinnedIds, ...cfg.allowPeers.map((k) => parseInt(k, 16))]);
    this.#configuredIds = new Set([
      ...specs.flatMap((p) => p.keyId === undefined ? [] : [p.keyId]),
      ...specs.flatMap((p) => p.key === undefined ? [] : [familyKeyId(be, p.key)]),
      ...cfg.peers.flatMap((p) => p.keyId === undefined ? [] : [parseInt(p.keyId, 16)]),
    ]);
  }

  /**
   * May this session be a peer relay? Its static key is pinned by a spec,
   * or its key id is pinned by a spec without a key, or listed in `allowPeers`.
   */
  allows(link: Link): boolean {
    const st = link.peerStatic;
    if (st !== undefined) {
      for (const k of this.#keys) if (bytesEqual(k, st)) return true;
    }
    return this.#allowIds.has(link.keyId);
  }

  /** True when `keyId` is a configured peer relay (the route fallback to a family's home). */
  configured(keyId: number): boolean {
    return this.#configuredIds.has(keyId);
  }
}

/** What the dialer hands to the relay. */
export interface DialerHandlers {
  /** A dialed session is up: register its handler, send FED_HELLO. */
  onLink(link: OutboundLink): void;
  /** A dialed session ended. */
  onDown(link: OutboundLink): void;
}

/** One dial loop per configured peer, replaced on reload. */
export class PeerDialer {
  readonly #node: Node;
  readonly #h: DialerHandlers;
  readonly #loops = new Map<string, DialLoop>();

  /** A dialer for `node` (nothing dialed until {@link apply}). */
  constructor(node: Node, h: DialerHandlers) {
    this.#node = node;
    this.#h = h;
  }

  /** Dials the peers in `specs` not dialed yet and stops the loops of peers no longer there. */
  apply(specs: readonly PeerSpec[], cfg: FedConfig): void {
    const keys = new Set(specs.map(peerKey));
    for (const [k, d] of this.#loops) {
      if (keys.has(k)) continue;
      d.stop();
      this.#loops.delete(k);
    }
    for (const p of specs) {
      const k = peerKey(p);
      if (!this.#loops.has(k)) this.#loops.set(k, this.#dial(p, cfg));
    }
  }

  /** Stops every loop and waits for them to end. */
  async stop(): Promise<void> {
    const loops = [...this.#loops.values()];
    this.#loops.clear();
    for (const d of loops) d.stop();
    await Promise.all(loops.map((d) => d.done));
  }

  #dial(p: PeerSpec, cfg: FedConfig): DialLoop {
    const node = this.#node;
    return dialLoop({
      kind: "peer",
      targets: [p],
      backend: node.backend,
      identity: node.identity,
      backoff: { baseMs: cfg.peerBackoffBaseMs, capMs: cfg.peerBackoffCapMs },
      maxMessage: node.config.limits.maxMessage,
      tiersMin: node.config.tiers.min,
      log: node.log,
      metrics: node.metrics,
      onLink: (link) => this.#h.onLink(link),
      onDown: (link) => this.#h.onDown(link),
    });
  }
}
