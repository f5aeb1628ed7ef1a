/**
 * The status page layer (`serve` extension): mounts `/` (the page) and
 * `/status/api` (its JSON: snapshot + the last hour of chart samples) on the
 * node's HTTP port, and samples the node every few seconds into a ring.
 *
 * Access: a loopback caller whose request carries no proxy header
 * (`Forwarded`, `X-Forwarded-For`, `X-Real-IP`) is let in; anyone else needs
 * the token of `DATA/status.token` (0600, printed by `myclerk status-page`),
 * as `Authorization: Bearer TOKEN`, the `myclerk_status` cookie, or once as
 * `/?token=TOKEN` (which sets the cookie and redirects to `/`).
 *
 * @module
 */

import { Hono } from "hono";
import type { Context } from "hono";
import type { Node } from "../core/node/node.ts";
import type { ServeExtension } from "../core/cli/mod.ts";
import { Ring, Sampler } from "./ring.ts";
import { snapshot } from "./snapshot.ts";
import { loadOrCreateToken, sameToken } from "./token.ts";
import { PAGE } from "./page.ts";

type Env = { Bindings: { remoteAddr?: Deno.NetAddr } };

/** Default sampling period of the charts (ms); the ring holds one hour of them. */
export const DEFAULT_SAMPLE_MS = 5000;

const COOKIE = "myclerk_status";

function isLoopback(host: string | undefined): boolean {
  return host !== undefined &&
    (host === "::1" || host.startsWith("127.") || host === "::ffff:127.0.0.1");
}

function cookieToken(header: string | undefined): string | undefined {
  for (const part of (header ?? "").split(";")) {
    const [k, v] = part.trim().split("=");
    if (k === COOKIE && v) return v;
  }
  return undefined;
}

/** True when the request may see the page (see module doc). */
function allowed(c: Context<Env>, token: string): boolean {
  const proxied = c.req.header("forwarded") !== undefined ||
    c.req.header("x-forwarded-for") !== undefined || c.req.header("x-real-ip") !== undefined;
  if (!proxied && isLoopback(c.env?.remoteAddr?.hostname)) return true;
  const bearer = /^Bearer\s+(\S+)$/i.exec(c.req.header("authorization") ?? "")?.[1];
  const given = bearer ?? cookieToken(c.req.header("cookie"));
  return given !== undefined && sameToken(given, token);
}

const SECURITY_HEADERS = {
  // everything is inline: nothing may load from elsewhere (the page works offline)
  "content-security-policy":
    "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; img-src data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
  "cache-control": "no-store",
};

const DENIED = `status page: access denied.
Open it from the node's machine (http://127.0.0.1:PORT/), or with the token:
  myclerk status-page --data DATA     # prints the URL with ?token=...
`;

/** The running status layer. */
export interface StatusLayer {
  /** The chart ring. */
  readonly ring: Ring;
  /** Stops sampling. */
  stop(): void;
}

// deno-doc-ignore private-type-ref -- Node is core/node/node.ts (documented there)
/** Starts sampling `node` and mounts the page. */
export async function startStatus(
  node: Node,
  o: { readonly sampleMs?: number } = {},
): Promise<StatusLayer> {
  const envMs = Number(Deno.env.get("MYCLERK_STATUS_SAMPLE_MS") ?? "");
  const sampleMs = o.sampleMs ??
    (Number.isInteger(envMs) && envMs >= 100 ? envMs : DEFAULT_SAMPLE_MS);
  const ring = new Ring(Math.ceil(3_600_000 / sampleMs));
  const sampler = new Sampler();
  const token = await loadOrCreateToken(node.config.data);

  let busy = false;
  const tick = async () => {
    if (busy) return;
    busy = true;
    try {
      const s = await snapshot(node);
      ring.push(sampler.next(s.now, s.totals.messages, s.totals.drops, s.totals.depth));
    } catch (e) {
      node.log.debug("status sample failed", { error: String(e) });
    } finally {
      busy = false;
    }
  };
  await tick();
  const timer = setInterval(tick, sampleMs);

  const app = new Hono<Env>();
  app.use("*", async (c, next) => {
    const q = c.req.query("token");
    if (q !== undefined && c.req.path === "/" && sameToken(q, token)) {
      // the token leaves the URL (history, logs) and lives in a cookie for this path
      return c.body(null, 303, {
        location: "/",
        "set-cookie": `${COOKIE}=${token}; Path=/; HttpOnly; SameSite=Strict; Max-Age=2592000`,
        ...SECURITY_HEADERS,
      });
    }
    if (!allowed(c, token)) return c.text(DENIED, 401, SECURITY_HEADERS);
    await next();
  });
  app.get("/", (c) => c.html(PAGE, 200, SECURITY_HEADERS));
  app.get("/status/api", async (c) => {
    const s = await snapshot(node);
    const { totals: _t, ...rest } = s;
    return c.json(
      { ...rest, totals: s.totals, sampleMs, series: ring.series() },
      200,
      SECURITY_HEADERS,
    );
  });
  const mounted = app as unknown as Hono;
  node.mount("/", mounted);
  node.mount("/status", mounted);
  node.log.info("status page", {
    url: `http://${node.addresses.http.hostname}:${node.addresses.http.port}/`,
    access: "loopback, or the token in status.token",
    sampleMs,
  });
  return { ring, stop: () => clearInterval(timer) };
}

// deno-doc-ignore private-type-ref -- ServeExtension is core/cli/mod.ts (documented there)
/** `serve` extension: the status page (every role). */
export const statusExtension: ServeExtension = async (node): Promise<() => Promise<void>> => {
  const s = await startStatus(node);
  return () => {
    s.stop();
    return Promise.resolve();
  };
};
