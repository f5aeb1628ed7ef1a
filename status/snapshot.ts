/**
 * Builds the status page's JSON from what the node's layers already serve:
 * `/healthz`, `/federation/status`, `/plugins`, `/plugins/buses` and
 * `/metrics`, asked in-process (`Node.handleHttp`, as a loopback caller), plus
 * the relay's admitted-hub file for families that are offline. A layer that
 * is absent (a plain node has no `/federation`) leaves its section empty.
 *
 * @module
 */

import type { Node } from "../core/node/node.ts";
import { readHubKeys } from "../federation/files.ts";
import { DROP_COUNTERS, MESSAGE_COUNTERS, sumFamilies, sumMatching } from "./prom.ts";

/** A JSON object as another layer served it. */
export type J = Record<string, unknown>;

/** One family known to this node. */
export interface FamilyRow {
  /** Family id (32 hex digits). */
  readonly id: string;
  /** `home` (admitted at this relay), `own` (this hub's family) or `queued` (messages wait for it). */
  readonly kind: "home" | "own" | "queued";
  /** A hub session of the family is up (relay), or this hub is connected to its relay. */
  readonly online: boolean;
  /** Open hub sessions of the family at this relay. */
  readonly sessions: number;
  /** Messages waiting for it here. */
  readonly queued: number;
  /** Sealed bytes waiting for it here. */
  readonly bytes: number;
  /** Age of its oldest waiting message in seconds (null when none). */
  readonly oldestAgeSec: number | null;
}

/** One queue (relay mailbox, relay-to-peer queue, hub outbox). */
export interface QueueRow {
  /** Which queue. */
  readonly kind: "mailbox" | "peer" | "outbox" | "inbox";
  /** Family id, peer key id, or this hub's family id. */
  readonly id: string;
  /** Messages in it. */
  readonly depth: number;
  /** Bytes in it (null when not known). */
  readonly bytes: number | null;
  /** Age of the oldest message in seconds (null when not known or empty). */
  readonly ageSec: number | null;
}

/** Everything the page shows except the chart series. */
export interface Snapshot {
  /** Epoch milliseconds. */
  readonly now: number;
  /** `/healthz` minus the layer sections. */
  readonly node: J;
  /** Families homed here, this hub's own, and those with messages waiting. */
  readonly families: readonly FamilyRow[];
  /** Non-empty relay queues, and the hub's outbox and inbox. */
  readonly queues: readonly QueueRow[];
  /** Relay peers (`/federation/status` relay.peers) plus configured addresses. */
  readonly peers: readonly J[];
  /** Peer addresses from the config and `--peer`. */
  readonly configuredPeers: readonly string[];
  /** Hub role section (`/federation/status` hub), when the node is a hub. */
  readonly hub: J | null;
  /** `/plugins` rows: name, version, state, reason, isolation, granted, refused. */
  readonly plugins: readonly J[];
  /** `/plugins/buses` (or `/healthz` buses). */
  readonly buses: unknown;
  /** Totals for the chart sampler. */
  readonly totals: {
    /** Message counters summed (see `MESSAGE_COUNTERS`). */
    readonly messages: number;
    /** Drop counters summed (see `DROP_COUNTERS`). */
    readonly drops: number;
    /** Messages waiting: relay queues + hub outbox pending. */
    readonly depth: number;
    /** Sealed bytes waiting at the relay. */
    readonly queuedBytes: number;
  };
}

const LOOPBACK: Deno.NetAddr = { transport: "tcp", hostname: "127.0.0.1", port: 0 };

async function get(node: Node, path: string): Promise<{ status: number; body: string }> {
  try {
    const r = await node.handleHttp(new Request(`http://status.local${path}`), LOOPBACK);
    return { status: r.status, body: await r.text() };
  } catch {
    return { status: 500, body: "" };
  }
}

async function getJson(node: Node, path: string): Promise<unknown> {
  const r = await get(node, path);
  if (r.status !== 200) return undefined;
  try {
    return JSON.parse(r.body);
  } catch {
    return undefined;
  }
}

const num = (v: unknown): number => (typeof v === "number" && Number.isFinite(v) ? v : 0);
const arr = (
  v: unknown,
): J[] => (Array.isArray(v) ? v.filter((x) => x && typeof x === "object") : []);
const obj = (v: unknown): J => (v && typeof v === "object" && !Array.isArray(v) ? v as J : {});

/** Age in seconds of a Unix-seconds (or milliseconds) timestamp. */
function ageOf(oldest: unknown, nowMs: number): number | null {
  const o = num(oldest);
  if (o <= 0) return null;
  const ms = o > 1e12 ? o : o * 1000;
  return Math.max(0, Math.round((nowMs - ms) / 1000));
}

// deno-doc-ignore private-type-ref -- Node is core/node/node.ts (documented there)
/** Collects one snapshot of `node`. */
export async function snapshot(node: Node): Promise<Snapshot> {
  const now = Date.now();
  const [health, fed, plugins, buses, metrics] = await Promise.all([
    getJson(node, "/healthz"),
    getJson(node, "/federation/status"),
    getJson(node, "/plugins"),
    getJson(node, "/plugins/buses"),
    get(node, "/metrics"),
  ]);
  const h = obj(health);
  const relay = obj(obj(fed).relay);
  const hub = obj(fed).hub ? obj(obj(fed).hub) : null;

  const families = new Map<string, FamilyRow>();
  const put = (id: string, f: Partial<FamilyRow>) => {
    const prev = families.get(id) ??
      { id, kind: "queued", online: false, sessions: 0, queued: 0, bytes: 0, oldestAgeSec: null };
    families.set(id, { ...prev, ...f });
  };
  if (obj(fed).relay) {
    try {
      for (const id of new Set((await readHubKeys(node.config.data)).values())) {
        put(String(id), { kind: "home" });
      }
    } catch { /* no admitted hubs yet */ }
    for (const x of arr(relay.hubs)) {
      put(String(x.family), {
        kind: "home",
        online: num(x.sessions) > 0,
        sessions: num(x.sessions),
      });
    }
  }
  const queues: QueueRow[] = [];
  for (const m of arr(relay.mailboxes)) {
    const id = String(m.family);
    const age = ageOf(m.oldest, now);
    put(id, { queued: num(m.depth), bytes: num(m.bytes), oldestAgeSec: age });
    queues.push({ kind: "mailbox", id, depth: num(m.depth), bytes: num(m.bytes), ageSec: age });
  }
  const peers = arr(relay.peers);
  for (const p of peers) {
    if (num(p.depth) > 0) {
      queues.push({
        kind: "peer",
        id: String(p.keyId),
        depth: num(p.depth),
        bytes: num(p.bytes),
        ageSec: ageOf(p.oldest, now),
      });
    }
  }
  let hubPending = 0;
  if (hub) {
    put(String(hub.family), { kind: "own", online: hub.connected === true });
    hubPending = num(obj(hub.outbox).pending);
    queues.push({
      kind: "outbox",
      id: String(hub.family),
      depth: hubPending,
      bytes: null,
      ageSec: null,
    });
    queues.push({
      kind: "inbox",
      id: String(hub.family),
      depth: num(hub.inbox),
      bytes: null,
      ageSec: null,
    });
  }

  const sums = sumFamilies(metrics.status === 200 ? metrics.body : "");
  const { federation: _f, plugins: _p, buses: hb, ...nodeInfo } = h;
  const order = { own: 0, home: 1, queued: 2 } as const;
  return {
    now,
    node: nodeInfo,
    families: [...families.values()].sort((a, b) =>
      order[a.kind] - order[b.kind] || Number(b.online) - Number(a.online) ||
      a.id.localeCompare(b.id)
    ),
    queues,
    peers,
    configuredPeers: Array.isArray(relay.configuredPeers) ? relay.configuredPeers.map(String) : [],
    hub,
    plugins: arr(plugins).map((p) => ({
      name: p.name,
      version: p.version,
      state: p.state,
      reason: p.reason,
      isolation: p.isolation,
      ranges: p.ranges,
      granted: p.granted,
      refused: p.refused,
    })),
    buses: buses ?? hb ?? null,
    totals: {
      messages: sumMatching(sums, MESSAGE_COUNTERS),
      drops: sumMatching(sums, DROP_COUNTERS),
      depth: num(relay.queuedMessages) + hubPending,
      queuedBytes: num(relay.queuedBytes),
    },
  };
}
