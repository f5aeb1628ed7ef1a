/**
 * The edge relay's static key: from `MYCLERK_NODE_KEY`, else from Deno KV
 * (generated and stored there on the first start). No file is read.
 *
 * `MYCLERK_NODE_KEY` takes the node.key JSON text (`keys generate` output,
 * `{"type":"myclerk-x25519",...,"private":"<base64>"}`), or the bare 32-byte
 * X25519 private key as 64 hex digits or as base64 / base64url.
 *
 * @module
 */

import type { CryptoBackend } from "../../core/crypto/types.ts";
import { ErrorCode, MyClerkError } from "../../core/errors.ts";
import { type Identity, identityFrom } from "../../core/session/handshake.ts";
import { fromHex } from "../bytes.ts";

/** Where the KV-held key lives (under the edge prefix). */
export const KEY_KEY = ["edge", "node-key"] as const;

function b64(s: string): Uint8Array {
  const t = s.replace(/-/g, "+").replace(/_/g, "/");
  return Uint8Array.from(atob(t + "=".repeat((4 - (t.length % 4)) % 4)), (c) => c.charCodeAt(0));
}

/**
 * Parses `MYCLERK_NODE_KEY` (see the module doc); BAD_REQUEST `node-key`
 * with `why` and `fix` when it is none of the accepted forms.
 */
export function parseNodeKey(be: CryptoBackend, text: string): Identity {
  const s = text.trim();
  const bad = (why: string) =>
    new MyClerkError(ErrorCode.BAD_REQUEST, "node-key", {
      why,
      fix: "MYCLERK_NODE_KEY: node.key JSON, or the 32-byte private key as 64 hex digits or base64",
    });
  let priv: Uint8Array;
  if (s.startsWith("{")) {
    let j: { type?: unknown; private?: unknown };
    try {
      j = JSON.parse(s);
    } catch {
      throw bad("not JSON");
    }
    if (j.type !== "myclerk-x25519" || typeof j.private !== "string") {
      throw bad("type must be myclerk-x25519 with a private key");
    }
    priv = b64(j.private);
  } else if (/^[0-9a-fA-F]{64}$/.test(s)) {
    priv = fromHex(s.toLowerCase());
  } else if (/^[A-Za-z0-9+/_-]{43}=?$/.test(s)) {
    priv = b64(s);
  } else {
    throw bad("neither JSON, 64 hex digits nor base64 of 32 bytes");
  }
  if (priv.length !== 32) throw bad("private key must be 32 bytes");
  return identityFrom(be, priv);
}

/**
 * The edge identity: `MYCLERK_NODE_KEY` when set, else the key stored in
 * `kv` at `[...prefix, ...KEY_KEY]`, created once (an atomic check that the
 * key is absent: two isolates starting at once keep the first one).
 */
export async function edgeIdentity(
  be: CryptoBackend,
  kv: Deno.Kv,
  prefix: readonly Deno.KvKeyPart[],
  env: string | undefined,
): Promise<{ readonly identity: Identity; readonly source: "env" | "kv" | "generated" }> {
  if (env !== undefined && env.trim() !== "") {
    return { identity: parseNodeKey(be, env), source: "env" };
  }
  const key = [...prefix, ...KEY_KEY];
  for (let i = 0; i < 3; i++) {
    const e = await kv.get<Uint8Array>(key);
    if (e.value !== null) return { identity: identityFrom(be, e.value), source: "kv" };
    const priv = be.x25519Generate().privateKey;
    const r = await kv.atomic().check({ key, versionstamp: null }).set(key, priv).commit();
    if (r.ok) return { identity: identityFrom(be, priv), source: "generated" };
  }
  throw new MyClerkError(ErrorCode.INTERNAL_ERROR, "node-key", { why: "kv key race" });
}
