/**
 * Wires the federation roles into `serve` (a ServeExtension): `--role relay`
 * starts the relay, `--role hub` the hub, `--role both` both; mounts the
 * admin HTTP routes under `/federation` and writes `<data>/admin.json` so
 * the CLI finds the running node.
 *
 * Admin routes (docs/OPERATOR.md), all for loopback callers only:
 * `GET /federation/status` (JSON), `POST /federation/send`,
 * `GET /federation/lookup`.
 *
 * @module
 */

import { Hono } from "hono";
import { ErrorCode, errorName, isMyClerkError, MyClerkError } from "../core/errors.ts";
import type { Node } from "../core/node/node.ts";
import { keyIdHex } from "../core/node/keys.ts";
import { familyToMap } from "./family.ts";
import { loadOrCreateTokenKey, paths, readHubKeys, writeAdmin } from "./files.ts";
import { Hub } from "./hub/mod.ts";
import { openSqliteHubStore, openSqliteRelayStore } from "./store/mod.ts";
import { parsePeer, type PeerSpec, Relay, syncCounter } from "./relay/mod.ts";
import { toHex } from "./bytes.ts";
// Registers the federation opcodes and the `federation` config section with the core.
import "./ops.ts";

/** The running federation roles of a node. */
export interface Federation {
  /** The relay role, when `--role` is relay or both. */
  readonly relay?: Relay;
  /** The hub role, when `--role` is hub or both. */
  readonly hub?: Hub;
  /** Stops the relay, then the hub. */
  stop(): Promise<void>;
}

type Env = { Bindings: { remoteAddr?: Deno.NetAddr } };

/** True for 127.0.0.0/8 and ::1 (the callers allowed to mutate). */
export function isLoopback(host: string | undefined): boolean {
  if (host === undefined) return false;
  return host === "::1" || host.startsWith("127.") || host === "::ffff:127.0.0.1";
}

function errorJson(
  e: unknown,
): { body: Record<string, unknown>; status: 400 | 403 | 404 | 413 | 500 | 503 } {
  if (!isMyClerkError(e)) {
    return { body: { error: "INTERNAL_ERROR", detail: String(e) }, status: 500 };
  }
  const extra: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(e.extra)) extra[k] = v instanceof Uint8Array ? toHex(v) : v;
  const status = e.code === ErrorCode.FED_UNKNOWN_FAMILY
    ? 404
    : e.code === ErrorCode.TOO_LARGE
    ? 413
    : e.code === ErrorCode.SERVICE_UNAVAILABLE || e.code === ErrorCode.TIMEOUT
    ? 503
    : e.code === ErrorCode.FORBIDDEN
    ? 403
    : 400;
  return { body: { error: errorName(e.code), detail: e.detail, ...extra }, status };
}

// deno-doc-ignore private-type-ref -- Hono is hono's own exported class (npm); Env is its bindings type for Deno.serve (remoteAddr)
/** Builds the `/federation` admin app. */
export function adminApp(node: Node, fed: () => Federation): Hono<Env> {
  const app = new Hono<Env>();
  const loopbackOnly = (host: string | undefined) => {
    if (!isLoopback(host)) {
      throw new MyClerkError(ErrorCode.FORBIDDEN, "loopback-only", {
        fix: "run the CLI on the node's machine",
      });
    }
  };
  app.get("/federation/status", async (c) => {
    // Family ids, queue depths and peers are not for whoever reaches the port.
    if (!isLoopback(c.env?.remoteAddr?.hostname)) {
      return c.json({
        error: "FORBIDDEN",
        detail: "loopback-only",
        fix: "run `status` on the node's machine",
      }, 403);
    }
    const f = fed();
    return c.json({
      role: node.config.role,
      keyId: keyIdHex(node.identity.keyId),
      ...(f.relay ? { relay: await f.relay.status() } : {}),
      ...(f.hub ? { hub: await f.hub.status() } : {}),
    });
  });
  app.post("/federation/send", async (c) => {
    try {
      loopbackOnly(c.env?.remoteAddr?.hostname);
      const hub = fed().hub;
      if (!hub) {
        throw new MyClerkError(ErrorCode.BAD_REQUEST, "not-a-hub", { fix: "serve --role hub" });
      }
      const to = c.req.query("to") ?? "";
      const ttl = c.req.query("ttl");
      const wait = c.req.query("wait");
      const body = new Uint8Array(await c.req.arrayBuffer());
      const r = await hub.send(to, body, {
        ttl: ttl ? Number(ttl) : undefined,
        waitMs: wait ? Number(wait) : undefined,
      });
      return c.json(r);
    } catch (e) {
      const { body, status } = errorJson(e);
      return c.json(body, status);
    }
  });
  app.get("/federation/lookup", async (c) => {
    try {
      loopbackOnly(c.env?.remoteAddr?.hostname);
      const hub = fed().hub;
      if (!hub) throw new MyClerkError(ErrorCode.BAD_REQUEST, "not-a-hub");
      const rec = await hub.lookup(c.req.query("family") ?? "");
      const m = familyToMap(rec);
      return c.json({ ...m, key: toHex(rec.key) });
    } catch (e) {
      const { body, status } = errorJson(e);
      return c.json(body, status);
    }
  });
  return app;
}

function logOpened(
  node: Node,
  path: string,
  o: { readonly created: boolean; readonly migratedFrom?: number; readonly id: string },
): void {
  if (o.created) node.log.info("store created", { path, store: o.id });
  if (o.migratedFrom !== undefined) {
    node.log.info("store migrated", { path, store: o.id, from: o.migratedFrom });
  }
}

/** Starts the roles the node's config asks for. */
export async function startFederation(
  node: Node,
  o: { readonly peers?: readonly string[]; readonly relays?: readonly string[] } = {},
): Promise<Federation> {
  const role = node.config.role;
  const data = node.config.data;
  await Deno.mkdir(data, { recursive: true });
  let relay: Relay | undefined;
  let hub: Hub | undefined;
  if (role === "relay" || role === "both") {
    // `--peer` only: the relay adds config `federation.peers` itself (they change on reload).
    const peers: PeerSpec[] = (o.peers ?? []).map(parsePeer);
    const hubs = await readHubKeys(data);
    // The relay codes against the RelayStore interface: the SQLite one is chosen here.
    const store = openSqliteRelayStore({
      path: paths(data).relayDb,
      // Admitted hubs are on record: an empty store now means a lost one, not a new relay.
      evidence: hubs.size > 0 ? `${paths(data).hubs} lists ${hubs.size} admitted hubs` : undefined,
      // Commits are made durable in groups off the event loop (`durable` of enqueueBatch: WAL
      // fdatasync + manifest mark) before any "stored" ack; checkpoints stay synced by SQLite.
      synchronous: "NORMAL",
      onSync: syncCounter(node.metrics),
      defaultQuota: {
        messages: node.config.federation.quotaMessages,
        bytes: node.config.federation.quotaBytes,
      },
      maxTtl: node.config.federation.maxTtl,
    });
    logOpened(node, paths(data).relayDb, store.opened);
    relay = await Relay.start(node, {
      peers,
      tokenKey: await loadOrCreateTokenKey(node.backend, data),
      store,
    });
  }
  if (role === "hub" || role === "both") {
    // The hub codes against the HubStore interface: the SQLite one is chosen here (opened
    // once the hub found its family, so a node without one creates no hub.db).
    hub = await Hub.start(node, {
      relays: o.relays ?? [],
      store: () => {
        const s = openSqliteHubStore(paths(data).hubDb);
        logOpened(node, paths(data).hubDb, s.opened);
        return s;
      },
    });
  }
  const fed: Federation = {
    relay,
    hub,
    stop: async () => {
      await relay?.stop();
      await hub?.stop();
    },
  };
  if (relay || hub) {
    node.mount("/federation", adminApp(node, () => fed) as unknown as Hono);
    node.addHealth(() => ({
      federation: {
        ...(relay ? { relay: { families: relay.localFamilies } } : {}),
        ...(hub ? { hub: { family: hub.familyId, connected: hub.connected } } : {}),
      },
    }));
    const a = node.addresses.http;
    const host = a.hostname === "0.0.0.0"
      ? "127.0.0.1"
      : a.hostname === "::"
      ? "[::1]"
      : a.hostname;
    await writeAdmin(data, { http: `${host}:${a.port}`, pid: Deno.pid, role });
  }
  return fed;
}
