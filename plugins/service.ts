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
import { pluginRoutes } from "./http.ts";

function isLoopback(host: string | undefined): boolean {
  return host === "127.0.0.1" || host === "::1" || host === "::ffff:127.0.0.1";
}

/** Prometheus text for every plugin: requests, errors by reason, latency, restarts, state. */
export function pluginMetricsText(host: PluginHost): string {
  const esc = (v: string) => v.replace(/["\\\n]/g, "_");
  const out: string[] = [
    "# HELP myclerk_plugin_requests_total Requests dispatched to a plugin",
    "# TYPE myclerk_plugin_requests_total counter",
  ];
  const rows = host.list();
  for (const p of rows) {
    out.push(`myclerk_plugin_requests_total{plugin="${esc(p.name)}"} ${p.metrics.requests}`);
  }
  out.push("# HELP myclerk_plugin_errors_total Plugin requests answered with an error, by code");
  out.push("# TYPE myclerk_plugin_errors_total counter");
  for (const p of rows) {
    for (const [code, n] of Object.entries(p.metrics.errors)) {
      out.push(`myclerk_plugin_errors_total{plugin="${esc(p.name)}",code="${esc(code)}"} ${n}`);
    }
  }
  out.push("# TYPE myclerk_plugin_restarts_total counter");
  for (const p of rows) {
    out.push(`myclerk_plugin_restarts_total{plugin="${esc(p.name)}"} ${p.metrics.restarts}`);
  }
  out.push("# TYPE myclerk_plugin_in_flight gauge");
  for (const p of rows) {
    out.push(`myclerk_plugin_in_flight{plugin="${esc(p.name)}"} ${p.metrics.inFlight}`);
  }
  out.push(
    "# HELP myclerk_plugin_latency_us Latency of answered requests over the last 1024, microseconds",
  );
  out.push("# TYPE myclerk_plugin_latency_us gauge");
  for (const p of rows) {
    for (const q of ["p50", "p99"] as const) {
      out.push(
        `myclerk_plugin_latency_us{plugin="${esc(p.name)}",quantile="${q}"} ${
          p.metrics.latencyUs[q]
        }`,
      );
    }
  }
  out.push("# HELP myclerk_plugin_events_dropped_total Plugin events not delivered, by reason");
  out.push("# TYPE myclerk_plugin_events_dropped_total counter");
  for (const p of rows) {
    for (const [reason, n] of Object.entries(p.metrics.eventsDropped)) {
      out.push(
        `myclerk_plugin_events_dropped_total{plugin="${esc(p.name)}",reason="${esc(reason)}"} ${n}`,
      );
    }
  }
  out.push("# HELP myclerk_plugin_invalid_messages_total Plugin messages refused by the host");
  out.push("# TYPE myclerk_plugin_invalid_messages_total counter");
  for (const p of rows) {
    for (const [reason, n] of Object.entries(p.metrics.invalid)) {
      out.push(
        `myclerk_plugin_invalid_messages_total{plugin="${esc(p.name)}",reason="${
          esc(reason)
        }"} ${n}`,
      );
    }
  }
  out.push("# HELP myclerk_plugin_output_truncated_total Plugin output lines cut at 4 KiB");
  out.push("# TYPE myclerk_plugin_output_truncated_total counter");
  out.push("# HELP myclerk_plugin_output_dropped_bytes_total Plugin output bytes over the rate");
  out.push("# TYPE myclerk_plugin_output_dropped_bytes_total counter");
  for (const p of rows) {
    const l = `{plugin="${esc(p.name)}"}`;
    out.push(`myclerk_plugin_output_truncated_total${l} ${p.metrics.outputTruncated}`);
    out.push(`myclerk_plugin_output_dropped_bytes_total${l} ${p.metrics.outputDroppedBytes}`);
  }
  out.push("# TYPE myclerk_plugin_up gauge");
  for (const p of rows) {
    out.push(
      `myclerk_plugin_up{plugin="${esc(p.name)}",state="${esc(p.state)}"} ${
        p.state === "running" ? 1 : 0
      }`,
    );
  }
  return out.join("\n");
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
  node.metrics.addCollector(() => pluginMetricsText(host));
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
