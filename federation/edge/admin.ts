/**
 * The edge relay's operator routes, under `/edge` on the same HTTP port as
 * the WebSocket endpoint. There is no CLI on an edge host (no data
 * directory to open), so these replace `family invite` and `status`.
 *
 * Every route needs `Authorization: Bearer <MYCLERK_EDGE_ADMIN_TOKEN>`
 * (compared in constant time); without that variable set the routes answer
 * 404 (admin disabled), a wrong or missing token 401.
 * - `POST /edge/invite[?ttl=SECONDS][&family=ID]` -> `{"token", "expires"}`:
 *   a single-use invite (default 7 days, 1..31536000 s), stored in KV before
 *   the answer; redeem with `hub join ws://HOST/myclerk TOKEN`.
 * - `GET /edge/status` -> the relay's `status` JSON (families, queues, peers)
 *   and `sandbox` (see {@link sandbox}).
 *
 * @module
 */

import { Hono } from "hono";
import { timingSafeEqual } from "../../core/crypto/ct.ts";
import type { CryptoBackend } from "../../core/crypto/types.ts";
import { keyIdHex } from "../../core/node/keys.ts";
import { createInvite } from "../invite.ts";
import type { Relay } from "../relay/mod.ts";
import type { RelayStore } from "../store/types.ts";

/** Longest invite validity the route accepts, seconds (one year). */
export const MAX_INVITE_TTL = 31_536_000;

/** What the admin routes act on. */
export interface EdgeAdmin {
  /** Crypto back end (token MAC). */
  readonly backend: CryptoBackend;
  /** The relay (its key id and status). */
  readonly relay: Relay;
  /** Where invites are recorded. */
  readonly store: RelayStore;
  /** Invite token key. */
  readonly tokenKey: Uint8Array;
  /** The bearer token (`MYCLERK_EDGE_ADMIN_TOKEN`); undefined: routes disabled. */
  readonly adminToken?: string;
}

/**
 * What this process may do beyond the edge permissions, seen from inside:
 * each permission's state, and the outcome of a real file read (an edge
 * relay must answer "refused"). Shown by `GET /edge/status`.
 */
export function sandbox(): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of ["read", "write", "run", "ffi", "sys"] as const) {
    out[name] = Deno.permissions.querySync({ name }).state;
  }
  try {
    Deno.readTextFileSync("/etc/hostname");
    out.fileRead = "allowed";
  } catch (e) {
    out.fileRead = e instanceof Deno.errors.NotCapable || e instanceof Deno.errors.PermissionDenied
      ? "refused"
      : `error: ${(e as Error).name}`;
  }
  return out;
}

// deno-doc-ignore private-type-ref -- Hono is hono's own exported class (npm)
/** The `/edge` routes (see the module doc). */
export function edgeAdminApp(a: EdgeAdmin): Hono {
  const app = new Hono();
  const want = a.adminToken === undefined ? undefined : new TextEncoder().encode(a.adminToken);
  const denied = (auth: string | undefined): Response | undefined => {
    if (want === undefined) {
      return Response.json({
        error: "NOT_FOUND",
        detail: "admin-disabled",
        fix: "set MYCLERK_EDGE_ADMIN_TOKEN to enable /edge routes",
      }, { status: 404 });
    }
    const got = new TextEncoder().encode(/^Bearer (.+)$/.exec(auth ?? "")?.[1] ?? "");
    if (got.length !== want.length || !timingSafeEqual(got, want)) {
      return Response.json({ error: "UNAUTHORIZED", detail: "bearer-token" }, {
        status: 401,
        headers: { "www-authenticate": "Bearer" },
      });
    }
    return undefined;
  };
  app.post("/edge/invite", async (c) => {
    const no = denied(c.req.header("authorization"));
    if (no) return no;
    const ttlText = c.req.query("ttl") ?? "604800";
    const ttl = Number(ttlText);
    if (!/^\d+$/.test(ttlText) || ttl < 1 || ttl > MAX_INVITE_TTL) {
      return c.json({
        error: "BAD_REQUEST",
        detail: "ttl",
        fix: `ttl must be whole seconds from 1 to ${MAX_INVITE_TTL}`,
      }, 400);
    }
    const family = c.req.query("family");
    if (family !== undefined && !/^[0-9a-f]{32}$/.test(family)) {
      return c.json(
        { error: "BAD_REQUEST", detail: "family", fix: "32 lowercase hex digits" },
        400,
      );
    }
    const now = Math.floor(Date.now() / 1000);
    const inv = createInvite(a.backend, a.tokenKey, {
      relayKeyId: a.relay.node.identity.keyId,
      expires: now + ttl,
      family,
    });
    await a.store.addInvite(inv.invite, now);
    return c.json({ token: inv.token, expires: inv.invite.expires });
  });
  app.get("/edge/status", async (c) => {
    const no = denied(c.req.header("authorization"));
    if (no) return no;
    return c.json({
      role: "relay",
      edge: true,
      sandbox: sandbox(),
      store: a.store.kind,
      keyId: keyIdHex(a.relay.node.identity.keyId),
      relay: await a.relay.status(),
    });
  });
  return app;
}
