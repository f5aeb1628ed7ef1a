/**
 * The edge relay's configuration, from environment variables only (an edge
 * host has no config file):
 * - `MYCLERK_EDGE_CONFIG`: the node config as JSON text (the same schema as
 *   `--config` files, docs/OPERATOR.md; e.g. `{"federation":{"quotaMessages":1000}}`);
 *   `role` is always `relay`, `data` is unused.
 * - `MYCLERK_EDGE_LISTEN` (`HOST:PORT`, default `0.0.0.0:8000`) or `PORT`
 *   (the port alone, as edge hosts set it): where `Deno.serve` listens.
 * - `MYCLERK_EDGE_PREFIX`: a namespace for every KV key (several relays, or
 *   tests, in one database); default none.
 * - `MYCLERK_EDGE_KV`: argument of `Deno.openKv` (a `https://` KV Connect
 *   URL; unset: the host's default database).
 * - `MYCLERK_EDGE_ACL`: the access grants as JSON text in the `acl.json`
 *   format (`{"version":1,"grants":[...]}`, docs/OPERATOR.md §8); unset: none
 *   (the relay's own opcodes need no grant).
 *
 * @module
 */

import { ErrorCode, MyClerkError } from "../../core/errors.ts";
import { type Acl, parseAcl } from "../../core/node/acl.ts";
import { type NodeConfig, validateConfig } from "../../core/node/config.ts";
// Registers the `federation` config section before validation.
import "../ops.ts";

/** The parsed edge settings. */
export interface EdgeSettings {
  /** The validated node config (role relay). */
  readonly config: NodeConfig;
  /** Listen host for `Deno.serve`. */
  readonly hostname: string;
  /** Listen port (0: any free port). */
  readonly port: number;
  /** KV key prefix. */
  readonly prefix: readonly Deno.KvKeyPart[];
  /** `Deno.openKv` argument. */
  readonly kvPath?: string;
  /** Access grants. */
  readonly acl: Acl;
}

/** Reads the settings from `env` (a getter, `Deno.env.get` by default). */
export function edgeSettings(
  env: (k: string) => string | undefined = (k) => Deno.env.get(k),
): EdgeSettings {
  let raw: Record<string, unknown> = {};
  const text = env("MYCLERK_EDGE_CONFIG");
  if (text !== undefined && text.trim() !== "") {
    try {
      raw = JSON.parse(text);
    } catch (e) {
      throw new MyClerkError(ErrorCode.BAD_REQUEST, "config", {
        problems: [`MYCLERK_EDGE_CONFIG: not valid JSON (${(e as Error).message})`],
      });
    }
    if (typeof raw !== "object" || raw === null || Array.isArray(raw)) {
      throw new MyClerkError(ErrorCode.BAD_REQUEST, "config", {
        problems: ["MYCLERK_EDGE_CONFIG: must be a JSON object"],
      });
    }
  }
  const listen = env("MYCLERK_EDGE_LISTEN") ??
    (env("PORT") !== undefined ? `0.0.0.0:${env("PORT")}` : "0.0.0.0:8000");
  const m = /^(\[[^\]]+\]|[^:]+):(\d{1,5})$/.exec(listen);
  const port = m ? Number(m[2]) : NaN;
  if (!m || port > 65535) {
    throw new MyClerkError(ErrorCode.BAD_REQUEST, "config", {
      problems: [`MYCLERK_EDGE_LISTEN/PORT: "${listen}" is not HOST:PORT (port 0-65535)`],
    });
  }
  const hostname = m[1].replace(/^\[|\]$/g, "");
  const config = validateConfig({
    ...raw,
    role: "relay",
    listen: { ...(raw.listen as Record<string, unknown> ?? {}), http: listen },
  }, "MYCLERK_EDGE_CONFIG");
  const p = env("MYCLERK_EDGE_PREFIX");
  const aclText = env("MYCLERK_EDGE_ACL");
  let acl: Acl = { grants: [] };
  if (aclText !== undefined && aclText.trim() !== "") {
    let rawAcl: unknown;
    try {
      rawAcl = JSON.parse(aclText);
    } catch (e) {
      throw new MyClerkError(ErrorCode.BAD_REQUEST, "config", {
        problems: [`MYCLERK_EDGE_ACL: not valid JSON (${(e as Error).message})`],
      });
    }
    acl = parseAcl(rawAcl, "MYCLERK_EDGE_ACL");
  }
  return {
    config,
    hostname,
    port,
    prefix: p ? ["myclerk", p] : [],
    kvPath: env("MYCLERK_EDGE_KV") || undefined,
    acl,
  };
}
