/**
 * A running node: TCP listener (port 5657), HTTP listener (Hono) with the
 * WebSocket endpoint `/myclerk`, `/healthz` and `/metrics`, the connection
 * table, session ids, keepalive and idle sweeps, and graceful shutdown.
 *
 * Longer than ~500 lines on purpose: the node's lifecycle (start, listeners, HTTP, reload, sweeps,
 * close) over one set of private fields; connection handling, gate, metrics and config are their
 * own modules.
 *
 * @module
 */

import { Hono } from "hono";
import type { CryptoBackend } from "../crypto/types.ts";
import { frameShimState } from "../crypto/frame_shim.ts";
import { backend as pickBackend } from "../crypto/mod.ts";
import type { Identity } from "../session/handshake.ts";
import { TicketIssuer } from "../session/ticket.ts";
import { TcpConn } from "../transport/tcp.ts";
import { WsConn } from "../transport/ws.ts";
import type { Conn } from "../transport/conn.ts";
import { PROFILE, VERSION } from "../version.ts";
import { type NodeConfig, restartOnlySections, splitHostPort } from "./config.ts";
import { type Acl, loadAcl } from "./acl.ts";
import { Gate, type GatePolicy } from "./gate.ts";
import { NodeConnection, type NodeContext } from "./connection.ts";
import type { Route } from "./dispatch.ts";
import { createLogger, type Logger } from "./log.ts";
import { CORE, Metrics } from "./metrics.ts";
import { registerProcessMetrics } from "./process_metrics.ts";
import { keyIdHex, loadOrCreateKeyFile } from "./keys.ts";

/** Options of {@link Node.start} beyond the config. */
export interface NodeOptions {
  /** Crypto back end; default: `backend()` of `core/crypto/mod.ts`. */
  readonly backend?: CryptoBackend;
  /** Static key pair; default: loaded from (or created in) the configured key file. */
  readonly identity?: Identity;
  /** Logger; default: one built from `config.log`. */
  readonly log?: Logger;
  /** Dispatch routes for opcodes outside the core range. */
  readonly routes?: readonly Route[];
  // deno-doc-ignore private-type-ref -- Hono is hono's own exported class (npm)
  /** Mounts extra HTTP routes before the server starts (Hono compiles its router on first use). */
  readonly http?: (app: Hono) => void;
  /** Extra fields for `/healthz` (buses, plugins, relay state). */
  readonly health?: () => Record<string, unknown>;
  /** Access grants; default: read from `<data>/acl.json` (core/node/acl.ts). */
  readonly acl?: Acl;
  /**
   * `false`: bind nothing (no TCP listener, no HTTP server): the caller
   * serves {@link Node.handleHttp} itself (the edge relay's `Deno.serve`),
   * so WebSocket is the only transport. With `identity` and `acl` given too,
   * `start` touches no file system. Default true.
   */
  readonly serve?: boolean;
  /**
   * Holds requests outside the core range (up to 30 s) until {@link Node.markReady}: `serve`
   * listens before its layers attach their routes, and a hub that connects in between must not
   * be answered NOT_FOUND `no-handler`. Default false (routes given at start are ready).
   */
  readonly holdUntilReady?: boolean;
}

/**
 * A layer's reload hook (`Node#onReload`). Called on `serve`'s SIGHUP after
 * the new config was validated and the core applied its part (limits,
 * tiers, admit, revoked keys, public opcodes, ACL); `config` is the new
 * config, `previous` the one it replaced. A hook applies its own part
 * (quotas, peers, plugin policy) and may throw or reject to report that it
 * could not: the node logs `reload hook failed` with the hook's name and the
 * error, and the other hooks still run (the core's part stays applied).
 */
export type ReloadHook = (config: NodeConfig, previous: NodeConfig) => void | Promise<void>;

/** What {@link Node.reload} did. */
export type ReloadResult =
  | {
    readonly ok: true;
    readonly changed: readonly string[];
    readonly hookErrors: readonly string[];
  }
  | { readonly ok: false; readonly problems: readonly string[] };

/**
 * Core config keys that need a restart: a reload that changes them is refused
 * (a layer's section says so itself: `registerConfigSection` `restartOnly`).
 */
const RESTART_KEYS = ["role", "data", "key", "listen"] as const;

/** Bound addresses of a started node. */
export interface NodeAddresses {
  /** Address the TCP listener is bound to. */
  readonly tcp: { readonly hostname: string; readonly port: number };
  /** Address the HTTP / WebSocket listener is bound to. */
  readonly http: { readonly hostname: string; readonly port: number };
}

/**
 * A MyClerk node.
 *
 * @example const node = await Node.start(defaultConfig()); ...; await node.close();
 */
export class Node {
  #config: NodeConfig;
  /** Crypto back end in use. */
  readonly backend: CryptoBackend;
  /** The node's static key pair. */
  readonly identity: Identity;
  /** Structured logger. */
  readonly log: Logger;
  /** Node-wide counters, served at `/metrics`. */
  readonly metrics = new Metrics();
  /** The HTTP app; other layers mount their routes here before traffic starts. */
  readonly http = new Hono();
  /** Open connections (handshaking or established). */
  readonly connections = new Set<NodeConnection>();
  /** Connections without a session yet, oldest first (eviction order). */
  readonly #unauth = new Set<NodeConnection>();
  readonly #unauthByAddr = new Map<string, Set<NodeConnection>>();
  readonly #addrOf = new WeakMap<NodeConnection, string>();
  /** The gate in front of every range outside the core (core/node/gate.ts). */
  readonly gate: Gate;
  readonly #reloadHooks = new Map<string, ReloadHook>();
  readonly #sessions = new Map<number, NodeConnection>();
  #nextSession = 1;
  #routes: Route[] = [];
  #starting?: Promise<void>;
  #ready?: () => void;
  /** Issues and opens resumption tickets (§8). */
  readonly tickets: TicketIssuer;
  #tcp?: Deno.TcpListener;
  #httpServer?: Deno.HttpServer<Deno.NetAddr>;
  #sweep?: ReturnType<typeof setInterval>;
  #closing = false;
  #addresses?: NodeAddresses;
  readonly #ctx: NodeContext;
  #health?: () => Record<string, unknown>;
  readonly #mount?: (app: Hono) => void;
  /** Milliseconds (epoch) when the node was created. */
  readonly started: number = Date.now();
  /** Hooks for layers above (relay): called on session establishment / close. */
  readonly hooks: {
    onEstablished: ((c: NodeConnection) => void)[];
    onClosed: ((c: NodeConnection) => void)[];
  } = { onEstablished: [], onClosed: [] };

  private constructor(
    config: NodeConfig,
    backend: CryptoBackend,
    identity: Identity,
    o: NodeOptions,
  ) {
    this.#config = config;
    this.backend = backend;
    this.identity = identity;
    this.log = o.log ?? createLogger({ format: config.log.format, level: config.log.level });
    this.#routes = [...(o.routes ?? [])];
    if (o.holdUntilReady) {
      this.#starting = new Promise<void>((resolve) => {
        // Bounded: a layer that never reports ready must not hold requests forever.
        const t = setTimeout(() => this.markReady(), 30_000);
        Deno.unrefTimer(t);
        this.#ready = () => {
          clearTimeout(t);
          resolve();
        };
      });
    }
    this.#health = o.health;
    this.#mount = o.http;
    this.tickets = new TicketIssuer(backend);
    this.gate = new Gate(identity.keyId, policyOf(config, o.acl ?? { grants: [] }));
    // deno-lint-ignore no-this-alias -- the context's getters read the config in force (reload)
    const node = this;
    this.#ctx = {
      backend,
      identity,
      get config() {
        return node.#config;
      },
      metrics: this.metrics,
      log: this.log,
      tickets: this.tickets,
      routes: () => this.#routes,
      starting: () => this.#starting,
      get revoked() {
        return node.gate.policy.revoked;
      },
      get admit() {
        return node.gate.policy.admit;
      },
      gate: this.gate,
      allocSession: (c) => this.#alloc(c),
      releaseSession: (id) => this.#sessions.delete(id),
      onEstablished: (c) => {
        this.#forgetUnauth(c);
        this.hooks.onEstablished.forEach((f) => f(c));
      },
      onClosed: (c) => {
        this.connections.delete(c);
        this.#forgetUnauth(c);
        this.hooks.onClosed.forEach((f) => f(c));
      },
    };
    this.#describe();
  }

  /**
   * Starts a node: loads or creates the key file, binds TCP and HTTP, and
   * begins the sweeps.
   */
  static async start(config: NodeConfig, o: NodeOptions = {}): Promise<Node> {
    const backend = o.backend ?? pickBackend();
    let identity = o.identity;
    const log = o.log ?? createLogger({ format: config.log.format, level: config.log.level });
    if (!identity) {
      await Deno.mkdir(config.data, { recursive: true });
      const path = config.key ?? `${config.data}/node.key`;
      const r = await loadOrCreateKeyFile(backend, path);
      identity = r.identity;
      if (r.created) log.info("generated node key", { path, keyId: keyIdHex(identity.keyId) });
    }
    const acl = o.acl ?? await loadAcl(config.data);
    const node = new Node(config, backend, identity, { ...o, log, acl });
    await node.#listen(o.serve ?? true);
    return node;
  }

  readonly #mounts = new Map<string, Hono>();

  // deno-doc-ignore private-type-ref -- NodeConfig lives in config.ts (zod-inferred, outside doc lint)
  /** The configuration in force (the start config, replaced by {@link Node.reload}). */
  get config(): NodeConfig {
    return this.#config;
  }

  /**
   * True when `sessionId` names an established session that may call
   * `opcode` now, by the gate with the policy in force (tiers.min, admit,
   * revoked keys, ACL, public opcodes, deciders). Layers use it before
   * pushing to a session (plugin events go only to authorized sessions).
   */
  authorize(sessionId: number, opcode: number): boolean {
    const c = this.#sessions.get(sessionId);
    return c !== undefined && c.authorize(opcode);
  }

  /**
   * Registers (or replaces) the reload hook `name`; see {@link ReloadHook}.
   * Returns a function that removes it.
   */
  onReload(name: string, hook: ReloadHook): () => void {
    this.#reloadHooks.set(name, hook);
    return () => {
      if (this.#reloadHooks.get(name) === hook) this.#reloadHooks.delete(name);
    };
  }

  /**
   * Applies a new, already validated config without dropping sessions:
   * re-reads `<data>/acl.json`, then replaces limits, tiers, admit, revoked
   * keys and public opcodes (new handshakes and every later request see
   * them; sessions of keys now revoked are closed), then runs the reload
   * hooks. Refused, with the old config kept, when a key that needs a
   * restart changed or the ACL file is invalid.
   */
  async reload(next: NodeConfig): Promise<ReloadResult> {
    const prev = this.#config;
    const problems: string[] = [];
    const p = prev as Readonly<Record<string, unknown>>;
    const n = next as Readonly<Record<string, unknown>>;
    for (const k of [...RESTART_KEYS, ...restartOnlySections()]) {
      if (JSON.stringify(p[k]) !== JSON.stringify(n[k])) {
        problems.push(`"${k}" cannot change on reload: restart serve to apply it, or put it back`);
      }
    }
    let acl: Acl | undefined;
    try {
      acl = await loadAcl(next.data);
    } catch (e) {
      const extra = (e as { extra?: { problems?: unknown } }).extra;
      if (Array.isArray(extra?.problems)) problems.push(...extra.problems.map(String));
      else problems.push(String(e));
    }
    if (problems.length || !acl) return { ok: false, problems };
    const changed = Object.keys(next).filter((k) =>
      JSON.stringify((prev as Record<string, unknown>)[k]) !==
        JSON.stringify((next as Record<string, unknown>)[k])
    );
    if (JSON.stringify(acl) !== JSON.stringify(this.gate.policy.acl)) changed.push("acl");
    this.#config = next;
    this.gate.setPolicy(policyOf(next, acl));
    for (const c of this.connections) {
      const kid = c.established?.peerKeyId;
      if (kid !== undefined && this.gate.policy.revoked.has(kid)) {
        this.metrics.inc(CORE.revoked);
        c.close("revoked");
      }
    }
    const hookErrors: string[] = [];
    for (const [name, hook] of this.#reloadHooks) {
      try {
        await hook(next, prev);
      } catch (e) {
        hookErrors.push(`${name}: ${e instanceof Error ? e.message : String(e)}`);
        this.log.error("reload hook failed", {
          hook: name,
          error: e instanceof Error ? e.message : String(e),
        });
      }
    }
    this.metrics.inc(CORE.reloads, { result: "ok" });
    return { ok: true, changed, hookErrors };
  }

  // deno-doc-ignore private-type-ref -- Hono is hono's own exported class (npm)
  /**
   * Serves `app` for every path under `prefix` (e.g. `/federation`), at any
   * time after start. `app` registers its routes with the full path.
   * `mount("/", app)` serves the root page `/` only.
   */
  mount(prefix: string, app: Hono): void {
    this.#mounts.set(prefix.replace(/\/+$/, ""), app);
  }

  /**
   * Answers an HTTP request as the listener does (mounts first, then the
   * node's own routes); `remoteAddr` is what loopback checks see. Layers use
   * it to read other layers' JSON in-process (the status page).
   */
  handleHttp(req: Request, remoteAddr: Deno.NetAddr): Response | Promise<Response> {
    const env = { remoteAddr };
    if (this.#mounts.size) {
      const path = new URL(req.url).pathname;
      for (const [p, sub] of this.#mounts) {
        // prefix "" (mount("/")) is the root page only, never a catch-all
        if (p === "" ? path === "/" : path === p || path.startsWith(p + "/")) {
          return sub.fetch(req, env);
        }
      }
    }
    return this.http.fetch(req, env);
  }

  /** Adds fields to `/healthz` (merged with any given at start). */
  addHealth(f: () => Record<string, unknown>): void {
    const prev = this.#health;
    this.#health = () => ({ ...(prev?.() ?? {}), ...f() });
  }

  /** Releases requests held by {@link NodeOptions.holdUntilReady}. Idempotent. */
  markReady(): void {
    const r = this.#ready;
    this.#starting = undefined;
    this.#ready = undefined;
    r?.();
  }

  /** Adds a route (plugins, federation). */
  addRoute(r: Route): void {
    this.#routes.push(r);
  }

  /** Removes the routes with this name. */
  removeRoute(name: string): void {
    this.#routes = this.#routes.filter((r) => r.name !== name);
  }

  /** The bound addresses. */
  get addresses(): NodeAddresses {
    if (!this.#addresses) throw new Error("node not started");
    return this.#addresses;
  }

  /** The connection holding an established session id. */
  session(id: number): NodeConnection | undefined {
    return this.#sessions.get(id);
  }

  #alloc(c: NodeConnection): number {
    if (this.#sessions.size >= 65535) return 0;
    for (let i = 0; i < 65535; i++) {
      const id = this.#nextSession;
      this.#nextSession = this.#nextSession >= 65535 ? 1 : this.#nextSession + 1;
      if (!this.#sessions.has(id)) {
        this.#sessions.set(id, c);
        return id;
      }
    }
    return 0;
  }

  #describe(): void {
    const m = this.metrics;
    m.register(CORE);
    registerProcessMetrics(m);
    m.gauge(CORE.open, () => this.connections.size);
    m.gauge(CORE.unauth, () => this.#unauth.size);
    m.gauge(CORE.sessions, () => this.#sessions.size);
    m.gauge(CORE.uptime, () => Math.floor((Date.now() - this.started) / 1000));
  }

  /**
   * Admits a new connection fairly (docs/OPERATOR.md "Connection limits"):
   * a full table evicts the oldest connection without a session (refuses
   * only when every slot holds a session); connections without a session
   * may fill at most `maxConnections * (1 - reservedShare)` slots and at
   * most `maxUnauthPerAddress` per source address, the oldest being evicted
   * beyond that. Returns true when it had to evict or refuse (the node is
   * under pressure).
   */
  #accept(conn: Conn): boolean {
    const l = this.#config.limits;
    const refuse = (reason: string) => {
      this.metrics.inc(CORE.rejected, { reason });
      conn.start({ onMessage: () => {}, onClose: () => {} });
      conn.close("connection-limit");
    };
    if (this.#closing) {
      refuse("closing");
      return false;
    }
    let evicted = false;
    if (this.connections.size >= l.maxConnections) {
      if (!this.#evictOldest(this.#unauth, "table-full")) {
        refuse("limit");
        return true;
      }
      evicted = true;
    }
    const addr = hostOf(conn.remote);
    const mine = this.#unauthByAddr.get(addr);
    if (mine && mine.size >= l.maxUnauthPerAddress) {
      evicted = this.#evictOldest(mine, "per-address") || evicted;
    }
    const unauthCap = Math.max(1, Math.floor(l.maxConnections * (1 - l.reservedShare)));
    if (this.#unauth.size >= unauthCap) {
      evicted = this.#evictOldest(this.#unauth, "unauthenticated-full") || evicted;
    }
    this.metrics.inc(CORE.connections, { transport: conn.kind });
    const nc = new NodeConnection(conn, this.#ctx);
    this.connections.add(nc);
    this.#unauth.add(nc);
    this.#addrOf.set(nc, addr);
    // Looked up again: an eviction above may have emptied this address's set and dropped it
    // from the map, and a connection added to the dropped set would escape the per-address cap.
    let set = this.#unauthByAddr.get(addr);
    if (set === undefined) this.#unauthByAddr.set(addr, set = new Set<NodeConnection>());
    set.add(nc);
    if (conn instanceof TcpConn) conn.onFramingError = (d) => nc.framingError(d);
    return evicted;
  }

  /** Closes the oldest connection of `pool` that has no session, preferring those that sent nothing. */
  #evictOldest(pool: ReadonlySet<NodeConnection>, reason: string): boolean {
    let victim: NodeConnection | undefined;
    for (const c of pool) {
      if (c.state === "new") {
        victim = c;
        break;
      }
      victim ??= c;
    }
    if (!victim) return false;
    this.metrics.inc(CORE.evicted, { reason });
    this.#forgetUnauth(victim);
    // Leave the table now: the transport finishes closing asynchronously.
    this.connections.delete(victim);
    victim.conn.close(`evicted: ${reason}`);
    return true;
  }

  #forgetUnauth(c: NodeConnection): void {
    if (!this.#unauth.delete(c)) return;
    const addr = this.#addrOf.get(c);
    if (addr === undefined) return;
    const set = this.#unauthByAddr.get(addr);
    set?.delete(c);
    if (set && set.size === 0) this.#unauthByAddr.delete(addr);
  }

  async #listen(serve: boolean): Promise<void> {
    // Read per connection: a reload's limits apply to connections accepted after it.
    const limits = () => ({
      maxMessage: this.config.limits.maxMessage,
      maxQueue: this.config.limits.maxQueueBytes,
    });
    const t = splitHostPort(this.config.listen.tcp);
    if (serve) this.#tcp = Deno.listen({ hostname: t.hostname, port: t.port, transport: "tcp" });
    if (this.#tcp) {
      (async () => {
        let pressed = 0;
        for await (const c of this.#tcp!) {
          // Under a flood (evictions) give the event loop a turn every 16 accepts, so connections
          // already accepted get their first bytes read: a client whose M1 waits in the socket is
          // then handshaking, and no longer among the next to evict (16 < maxUnauthPerAddress).
          if (this.#accept(new TcpConn(c, limits())) && ++pressed % 16 === 0) {
            await new Promise((r) => setTimeout(r, 0));
          }
        }
      })().catch(() => {/* listener closed */});
    }

    const app = this.http;
    app.get("/healthz", (c) =>
      c.json({
        status: this.#closing ? "closing" : "ok",
        version: VERSION,
        profile: PROFILE,
        keyId: keyIdHex(this.identity.keyId),
        role: this.config.role,
        uptimeSeconds: Math.floor((Date.now() - this.started) / 1000),
        connections: this.connections.size,
        sessions: this.#sessions.size,
        listen: this.#addresses,
        ...(this.#health?.() ?? {}),
      }, this.#closing ? 503 : 200));
    app.get(
      "/metrics",
      (c) => c.text(this.metrics.render(), 200, { "content-type": "text/plain; version=0.0.4" }),
    );
    app.get("/myclerk", (c) => {
      if (c.req.header("upgrade")?.toLowerCase() !== "websocket") {
        return c.text("WebSocket endpoint: connect with a WebSocket client (profile §3)\n", 426);
      }
      const { socket, response } = Deno.upgradeWebSocket(c.req.raw, { idleTimeout: 0 });
      const info = (c.env as { remoteAddr?: Deno.NetAddr } | undefined)?.remoteAddr;
      const remote = info ? `${info.hostname}:${info.port}` : "ws";
      socket.onopen = () => this.#accept(new WsConn(socket, remote, limits()));
      return response;
    });
    this.#mount?.(app);
    const h = splitHostPort(this.config.listen.http);
    if (!serve) {
      // The caller serves handleHttp on the configured address (its own Deno.serve).
      this.#addresses = { tcp: { hostname: "", port: 0 }, http: h };
      this.#sweep = setInterval(() => this.#sweepOnce(), 1000);
      this.log.info("node ready (no listeners: serve handleHttp)", {
        http: this.config.listen.http,
        keyId: keyIdHex(this.identity.keyId),
        role: this.config.role,
        crypto: this.backend.name,
        frameShim: frameShimState() ?? "unused", // "loaded": one FFI call per message
        version: VERSION,
      });
      return;
    }
    await new Promise<void>((resolve) => {
      this.#httpServer = Deno.serve({
        hostname: h.hostname,
        port: h.port,
        onListen: () => resolve(),
      }, (req, info) => this.handleHttp(req, info.remoteAddr));
    });
    const ta = this.#tcp!.addr as Deno.NetAddr;
    const ha = this.#httpServer!.addr;
    this.#addresses = {
      tcp: { hostname: ta.hostname, port: ta.port },
      http: { hostname: ha.hostname, port: ha.port },
    };
    this.#sweep = setInterval(() => this.#sweepOnce(), 1000);
    this.log.info("node listening", {
      tcp: `${ta.hostname}:${ta.port}`,
      http: `${ha.hostname}:${ha.port}`,
      keyId: keyIdHex(this.identity.keyId),
      role: this.config.role,
      crypto: this.backend.name,
      frameShim: frameShimState() ?? "unused", // "loaded": one FFI call per message
      version: VERSION,
    });
  }

  #sweepOnce(): void {
    const now = Date.now();
    const l = this.config.limits;
    for (const c of this.connections) {
      if (c.state !== "established" && now - c.opened > l.handshakeTimeoutMs) {
        this.metrics.inc(CORE.timeouts, { phase: "handshake" });
        c.conn.close("handshake-timeout");
      } else if (now - c.lastRecv > l.idleTimeoutMs) {
        this.metrics.inc(CORE.timeouts, { phase: "idle" });
        c.close("idle-timeout");
      } else if (c.state === "established" && now - c.lastSend > l.keepaliveMs) {
        c.keepalive();
      }
    }
  }

  /** Stops listening, closes every connection (SESSION_CLOSE first) and the HTTP server. */
  async close(): Promise<void> {
    if (this.#closing) return;
    this.#closing = true;
    clearInterval(this.#sweep);
    try {
      this.#tcp?.close();
    } catch { /* closed */ }
    for (const c of this.connections) c.close("shutdown");
    const deadline = Date.now() + 2000;
    while (this.connections.size > 0 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 20));
    }
    await this.#httpServer?.shutdown();
    this.log.info("node stopped");
  }
}

/** The source host of a transport's `remote` ("HOST:PORT", "[V6]:PORT"). */
function hostOf(remote: string): string {
  const m = /^\[?([^\]]*?)\]?:\d+$/.exec(remote);
  return m ? m[1] : remote;
}

/** The gate policy a config and an ACL make. */
function policyOf(cfg: NodeConfig, acl: Acl): GatePolicy {
  return {
    minTier: cfg.tiers.min,
    admit: cfg.admit ? new Set(cfg.admit.map((h) => parseInt(h, 16))) : undefined,
    revoked: new Set(cfg.revokedKeys.map((h) => parseInt(h, 16))),
    public: cfg.gate.public.map((g) => {
      const [a, b = a] = g.split("-").map((x) => parseInt(x, 16));
      return { first: a, last: b };
    }),
    acl,
  };
}
