/**
 * Admin HTTP routes for plugins, mounted by the node under `/plugins`:
 *
 * - `GET /plugins` — list (JSON array of PluginStatus)
 * - `GET /plugins/buses` — detected buses
 * - `GET /plugins/:name/logs?lines=N` — last log lines (JSON array of strings)
 * - `POST /plugins/:name/reload` — blue/green reload
 *
 * @module
 */
import { Hono } from "hono";
import { ErrorCode, isMyClerkError } from "../core/errors.ts";
import type { PluginHost } from "./runtime/host.ts";

function statusOf(e: unknown): 400 | 404 | 500 | 503 {
  if (!isMyClerkError(e)) return 500;
  if (e.code === ErrorCode.NOT_FOUND) return 404;
  if (e.code === ErrorCode.BAD_REQUEST) return 400;
  if (e.code === ErrorCode.SERVICE_UNAVAILABLE) return 503;
  return 500;
}

// deno-doc-ignore private-type-ref -- Hono is hono's own exported class (npm)
/** The plugin admin routes over `host` (paths relative to the mount point). */
export function pluginRoutes(host: PluginHost): Hono {
  const app = new Hono();
  app.get("/", (c) => c.json(host.list()));
  app.get("/buses", (c) => c.json(host.buses()));
  app.get("/:name/logs", (c) => {
    const n = Number(c.req.query("lines") ?? "100");
    try {
      return c.json(
        host.logs(c.req.param("name"), Number.isInteger(n) && n > 0 ? Math.min(n, 1000) : 100),
      );
    } catch (e) {
      return c.json({ error: e instanceof Error ? e.message : String(e) }, statusOf(e));
    }
  });
  app.post("/:name/reload", async (c) => {
    const name = c.req.param("name");
    try {
      await host.reload(name);
      return c.json({ reloaded: name, status: host.list().find((s) => s.name === name) });
    } catch (e) {
      return c.json({ error: e instanceof Error ? e.message : String(e) }, statusOf(e));
    }
  });
  return app;
}
