/**
 * Runs the plugin host inside `serve`: starts it on the node's data
 * directory, routes every plugin-served opcode to it, forwards plugin events
 * to their sessions, and mounts the admin routes at `/plugins`.
 *
 * @module
 */

import { Hono } from "hono";
import type { Node } from "../core/node/node.ts";
import type { ServeExtension } from "../core/cli/mod.ts";
import { PluginHost } from "./runtime/host.ts";
import type { Metrics } from "../core/node/metrics.ts";
import { type MetricsSnapshot, PLUGIN_METRICS } from "./runtime/metrics.ts";
import { pluginRoutes } from "./http.ts";
// Registers the resource and hardware opcode names and the `plugins` config section with the core.
import "./opcodes.ts";
import "./config.ts";

function isLoopback(host: string | undefined): boolean {
  return host === "127.0.0.1" || host === "::1" || host === "::ffff:127.0.0.1";
}

/**
 * Registers every plugin's series on the node's registry: requests, errors
 * by code, latency histogram, restarts, state, the host's protection
 * counters (declared in plugins/runtime/metrics.ts, read from each plugin's
 * counters at scrape time).
 */
export function registerPluginMetrics(metrics: Metrics, host: PluginHost): void {
  const P = PLUGIN_METRICS;
  metrics.register(P);
  const each = <T>(f: (p: ReturnType<PluginHost["list"]>[number]) => Iterable<T>) =>
    function* (): Iterable<T> {
      for (const p of host.list()) yield* f(p);
    };
  const one = (read: (m: MetricsSnapshot) => number) =>
    each((p) => [{ labels: { plugin: p.name }, value: read(p.metrics) }]);
  const byReason = (key: "errors" | "invalid" | "eventsDropped", label: string) =>
    each((p) =>
      Object.entries(p.metrics[key]).map(([v, n]) => ({
        labels: { plugin: p.name, [label]: v },
        value: n,
      }))
    );
  metrics.collect(P.requests, one((m) => m.requests));
  metrics.collect(P.restarts, one((m) => m.restarts));
  metrics.collect(P.events, one((m) => m.events));
  metrics.collect(P.inFlight, one((m) => m.inFlight));
  metrics.collect(P.truncated, one((m) => m.outputTruncated));
  metrics.collect(P.droppedBytes, one((m) => m.outputDroppedBytes));
  metrics.collect(P.errors, byReason("errors", "code"));
  metrics.collect(P.invalid, byReason("invalid", "reason"));
  metrics.collect(P.eventsDropped, byReason("eventsDropped", "reason"));
  metrics.collect(
    P.seconds,
    each((p) => [{ labels: { plugin: p.name }, histogram: p.metrics.latencySeconds }]),
  );
  metrics.collect(
    P.up,
    each((p) => [{
      labels: { plugin: p.name, state: p.state },
      value: p.state === "running" ? 1 : 0,
    }]),
  );
}

/** Starts the plugin host for `node`; returns it and its shutdown. */
export async function startPlugins(
  node: Node,
): Promise<{ host: PluginHost; stop: () => Promise<void> }> {
  const cfg = node.config;
  const pluginsDir = cfg.plugins.dir ?? `${cfg.data}/plugins`;
  let policyFile = cfg.plugins.policy;
  if (!policyFile) {
    try {
      await Deno.stat(`${cfg.data}/policy.json`);
      policyFile = `${cfg.data}/policy.json`;
    } catch { /* no policy: plugins get nothing beyond their own code */ }
  }
  const host = await PluginHost.start({
    pluginsDir,
    policyFile,
    busRoot: cfg.plugins.busRoot,
    dataDir: cfg.data,
    // Plugin events reach a session only while the node's gate lets it use the opcode.
    authorize: (sessionId, opcode) => node.authorize(sessionId, opcode),
    log: (rec) => {
      const { event, ...rest } = rec as { event?: string } & Record<string, unknown>;
      node.log.info(String(event ?? "plugin"), rest);
    },
  });
  // Everything outside the core and federation ranges goes to the host; it
  // answers UNSUPPORTED / NOT_FOUND / FORBIDDEN itself (profile §9, §13).
  for (const [first, last] of [[0x0100, 0x02ff], [0x0400, 0xfffe]]) {
    node.addRoute({ name: "plugins", first, last, dispatch: (req) => host.dispatch(req) });
  }
  const off = host.onEvent((ev) => {
    if (ev.sessionId !== undefined) node.session(ev.sessionId)?.push(ev.opcode, ev.payload);
  });
  // Session end releases what the session held in plugins (devices, CAN sockets).
  const sessionOf = new WeakMap<object, number>();
  node.hooks.onEstablished.push((c) => sessionOf.set(c, c.peer.sessionId));
  node.hooks.onClosed.push((c) => {
    const id = sessionOf.get(c);
    if (id !== undefined && id !== 0) host.sessionClosed(id);
  });
  const app = new Hono();
  app.use("/plugins/*", async (c, next) => {
    const remote = (c.env as { remoteAddr?: Deno.NetAddr } | undefined)?.remoteAddr?.hostname;
    if (c.req.method !== "GET" && !isLoopback(remote)) {
      return c.json({ error: "admin routes accept loopback callers only" }, 403);
    }
    await next();
  });
  app.route("/plugins", pluginRoutes(host));
  node.mount("/plugins", app);
  registerPluginMetrics(node.metrics, host);
  node.addHealth(() => ({
    buses: host.buses(),
    plugins: host.list().map((p) => ({ name: p.name, version: p.version, state: p.state })),
  }));
  const running = host.list().filter((p) => p.state === "running").length;
  node.log.info("plugins started", {
    dir: pluginsDir,
    policy: policyFile ?? "(none)",
    plugins: host.list().length,
    running,
  });
  return {
    host,
    stop: async () => {
      off();
      await host.close();
    },
  };
}

/** `serve` extension: the plugin host. */
export const pluginExtension: ServeExtension = async (node: Node): Promise<() => Promise<void>> => {
  const { stop } = await startPlugins(node);
  return stop;
};
