/**
 * The edge relay (docs/OPERATOR.md "Edge relay"): the relay role on Deno KV
 * with WebSocket as the only transport, runnable with the permissions an
 * edge isolate gives (`--allow-net --allow-env --unstable-kv`): no TCP
 * listener, no file system, no FFI (crypto: the `node:crypto` back end), no
 * Workers, no subprocesses, no plugins, no `node:sqlite`.
 *
 * Parts: `config.ts` (env), `identity.ts` (node key from env or KV),
 * `state.ts` (token key and admitted hub keys in KV), `admin.ts` (the
 * bearer-protected `/edge` routes), the store `../store/kv_relay.ts`.
 *
 * @module
 */

import { nodeBackend } from "../../core/crypto/node.ts";
import { keyIdHex } from "../../core/node/keys.ts";
import { createLogger } from "../../core/node/log.ts";
import { Node } from "../../core/node/node.ts";
import { Relay } from "../relay/mod.ts";
import { KvRelayStore } from "../store/kv_relay.ts";
import { edgeAdminApp } from "./admin.ts";
import { edgeSettings } from "./config.ts";
import { edgeIdentity } from "./identity.ts";
import { kvHubKeys, kvTokenKey } from "./state.ts";

/** A running edge relay. */
export interface EdgeRelay {
  /** The node (its metrics, log, identity). */
  readonly node: Node;
  /** The relay role. */
  readonly relay: Relay;
  /** Where `Deno.serve` listens. */
  readonly addr: Deno.NetAddr;
  /** Stops the relay, the node, the HTTP server and closes KV. */
  stop(): Promise<void>;
}

/** Starts an edge relay from `env` (see config.ts for the variables). */
export async function startEdge(
  env: (k: string) => string | undefined = (k) => Deno.env.get(k),
): Promise<EdgeRelay> {
  const s = edgeSettings(env);
  const log = createLogger({ format: s.config.log.format, level: s.config.log.level });
  const be = nodeBackend;
  const kv = await Deno.openKv(s.kvPath);
  const id = await edgeIdentity(be, kv, s.prefix, env("MYCLERK_NODE_KEY"));
  if (id.source === "generated") {
    log.info("generated node key (stored in KV)", { keyId: keyIdHex(id.identity.keyId) });
  }
  const node = await Node.start(s.config, {
    backend: be,
    identity: id.identity,
    acl: s.acl,
    serve: false,
    log,
  });
  const store = await KvRelayStore.open({
    kv,
    prefix: s.prefix,
    defaultQuota: {
      messages: s.config.federation.quotaMessages,
      bytes: s.config.federation.quotaBytes,
    },
    maxTtl: s.config.federation.maxTtl,
  });
  const tokenKey = await kvTokenKey(be, kv, s.prefix);
  const relay = await Relay.start(node, {
    peers: [],
    tokenKey,
    store,
    hubKeys: kvHubKeys(kv, s.prefix),
  });
  node.mount(
    "/edge",
    edgeAdminApp({
      backend: be,
      relay,
      store,
      tokenKey,
      adminToken: env("MYCLERK_EDGE_ADMIN_TOKEN"),
    }),
  );
  let server!: Deno.HttpServer<Deno.NetAddr>;
  const addr = await new Promise<Deno.NetAddr>((resolve) => {
    server = Deno.serve(
      { hostname: s.hostname, port: s.port, onListen: resolve },
      (req, info) => node.handleHttp(req, info.remoteAddr),
    );
  });
  log.info("edge relay listening", {
    http: `${addr.hostname}:${addr.port}`,
    ws: `ws://${addr.hostname}:${addr.port}/myclerk`,
    keyId: keyIdHex(node.identity.keyId),
    store: store.kind,
    admin: env("MYCLERK_EDGE_ADMIN_TOKEN") !== undefined,
  });
  let stopped = false;
  return {
    node,
    relay,
    addr,
    async stop() {
      if (stopped) return;
      stopped = true;
      await relay.stop();
      await node.close();
      await server.shutdown();
      kv.close();
    },
  };
}
