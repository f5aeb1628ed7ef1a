/**
 * Files the federation layer keeps in the node's data directory
 * (docs/OPERATOR.md "Data directory"): the family key (hub), the hub state
 * (family record, home relay and its pinned key), the relay's invite token
 * key and its table of admitted hub keys, and the admin address file the CLI
 * uses to find a running node. Small JSON files written atomically
 * (temporary file + rename) with mode 0600: they change rarely (admission,
 * start-up), so a database would add nothing.
 *
 * @module
 */

import { ErrorCode, MyClerkError } from "../core/errors.ts";
import type { CryptoBackend } from "../core/crypto/types.ts";
import type { Identity } from "../core/session/handshake.ts";
import { generateKeyFile, readKeyFile } from "../core/node/keys.ts";
import { fromBase64Url, fromHex, toBase64Url, toHex } from "./bytes.ts";
import { decodeFamily, encodeFamily, type FamilyId, type FamilyRecord } from "./family.ts";
import { syncDir } from "./manifest.ts";

/** Paths inside a data directory. */
export function paths(data: string): {
  readonly familyKey: string;
  readonly hubState: string;
  readonly hubDb: string;
  readonly relayDb: string;
  readonly tokenKey: string;
  readonly hubs: string;
  readonly admin: string;
} {
  return {
    familyKey: `${data}/family.key`,
    hubState: `${data}/hub.json`,
    hubDb: `${data}/hub.db`,
    relayDb: `${data}/federation.db`,
    tokenKey: `${data}/invite.key`,
    hubs: `${data}/federation-hubs.json`,
    admin: `${data}/admin.json`,
  };
}

let tmpSeq = 0;

/**
 * Writes `text` to `path` atomically with mode 0600, durable on return
 * (file fsynced before the rename, directory after). Each call has its own
 * temporary file, so concurrent writers never share one; callers that need
 * the last write to win must serialise (the relay does for
 * federation-hubs.json).
 */
export async function writeAtomic(path: string, text: string): Promise<void> {
  const tmp = `${path}.tmp-${Deno.pid}-${++tmpSeq}`;
  const f = await Deno.open(tmp, { write: true, create: true, truncate: true, mode: 0o600 });
  try {
    const b = new TextEncoder().encode(text);
    let off = 0;
    while (off < b.length) off += await f.write(b.subarray(off));
    await f.sync();
  } finally {
    f.close();
  }
  await Deno.chmod(tmp, 0o600);
  await Deno.rename(tmp, path);
  syncDir(path);
}

async function readJson(path: string): Promise<unknown | undefined> {
  try {
    return JSON.parse(await Deno.readTextFile(path));
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return undefined;
    throw new MyClerkError(ErrorCode.BAD_REQUEST, "state-file", { path }, e);
  }
}

// ---- family key (hub) -----------------------------------------------------

/** Creates the family key file (0600; refuses to overwrite: BAD_REQUEST `exists`). */
export function createFamilyKey(be: CryptoBackend, data: string): Promise<Identity> {
  return generateKeyFile(be, paths(data).familyKey);
}

/** Reads the family key (BAD_REQUEST `no-family` when `family create` was never run). */
export async function readFamilyKey(be: CryptoBackend, data: string): Promise<Identity> {
  const p = paths(data).familyKey;
  try {
    await Deno.stat(p);
  } catch {
    throw new MyClerkError(ErrorCode.BAD_REQUEST, "no-family", {
      path: p,
      fix: "run `family create NAME --data DIR` on this hub first",
    });
  }
  return readKeyFile(be, p);
}

/** A relay the hub was admitted to. */
export interface HubRelay {
  /** Address the hub dials (`host:port` or `ws://host:port`). */
  readonly addr: string;
  /** The relay's static public key, pinned for every later session. */
  readonly key: Uint8Array;
  /** Key id (u32) of the relay's static key (= the family record's `home`). */
  readonly keyId: number;
}

/** What a hub keeps about itself (hub.json). */
export interface HubState {
  /** The family's display name (1..64 characters). */
  readonly name: string;
  /** This hub's family id. */
  readonly id: FamilyId;
  /** Family creation time, Unix seconds. */
  readonly created: number;
  /** The record as admitted (home = the relay's key id), once joined. */
  readonly record?: FamilyRecord;
  /** The relay the hub was admitted to, once joined. */
  readonly relay?: HubRelay;
}

/** Reads hub.json, or undefined. */
export async function readHubState(be: CryptoBackend, data: string): Promise<HubState | undefined> {
  const j = await readJson(paths(data).hubState) as Record<string, unknown> | undefined;
  if (j === undefined) return undefined;
  const r = j.relay as Record<string, unknown> | undefined;
  return {
    name: String(j.name),
    id: String(j.id),
    created: Number(j.created),
    ...(typeof j.record === "string" ? { record: decodeFamily(be, fromBase64Url(j.record)) } : {}),
    ...(r
      ? { relay: { addr: String(r.addr), key: fromHex(String(r.key)), keyId: Number(r.keyId) } }
      : {}),
  };
}

/** Writes hub.json. */
export function writeHubState(data: string, s: HubState): Promise<void> {
  return writeAtomic(
    paths(data).hubState,
    JSON.stringify(
      {
        name: s.name,
        id: s.id,
        created: s.created,
        ...(s.record ? { record: toBase64Url(encodeFamily(s.record)) } : {}),
        ...(s.relay
          ? { relay: { addr: s.relay.addr, key: toHex(s.relay.key), keyId: s.relay.keyId } }
          : {}),
      },
      null,
      2,
    ) + "\n",
  );
}

// ---- relay ----------------------------------------------------------------

/** Loads the invite token key, creating 32 random bytes (0600) the first time. */
export async function loadOrCreateTokenKey(be: CryptoBackend, data: string): Promise<Uint8Array> {
  const p = paths(data).tokenKey;
  try {
    const k = fromHex((await Deno.readTextFile(p)).trim());
    if (k.length !== 32) throw new Error("length");
    return k;
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) {
      throw new MyClerkError(ErrorCode.BAD_REQUEST, "token-key-file", { path: p }, e);
    }
  }
  await Deno.mkdir(data, { recursive: true });
  const k = be.randomBytes(32);
  try {
    // createNew: two processes racing (relay and `family invite`) keep the first key.
    await Deno.writeTextFile(p, toHex(k) + "\n", { createNew: true, mode: 0o600 });
  } catch (e) {
    if (e instanceof Deno.errors.AlreadyExists) return loadOrCreateTokenKey(be, data);
    throw e;
  }
  return k;
}

/** The relay's admitted hub node keys: public key hex -> family id. */
export type HubKeys = ReadonlyMap<string, FamilyId>;

/** Reads federation-hubs.json. */
export async function readHubKeys(data: string): Promise<Map<string, FamilyId>> {
  const j = await readJson(paths(data).hubs) as { hubs?: Record<string, string> } | undefined;
  return new Map(Object.entries(j?.hubs ?? {}));
}

/** Writes federation-hubs.json. */
export function writeHubKeys(data: string, m: HubKeys): Promise<void> {
  return writeAtomic(
    paths(data).hubs,
    JSON.stringify({ hubs: Object.fromEntries(m) }, null, 2) + "\n",
  );
}

/** Where a running node's admin HTTP listens (written at start, for the CLI). */
export interface AdminInfo {
  /** Loopback `host:port` of the admin HTTP (a wildcard bind becomes 127.0.0.1 / [::1]). */
  readonly http: string;
  /** Process id of the running node. */
  readonly pid: number;
  /** The node's `--role` (`relay`, `hub` or `both`). */
  readonly role: string;
}

/** Writes admin.json. */
export function writeAdmin(data: string, a: AdminInfo): Promise<void> {
  return writeAtomic(paths(data).admin, JSON.stringify(a) + "\n");
}

/** Reads admin.json (BAD_REQUEST `not-running` with a fix when absent). */
export async function readAdmin(data: string): Promise<AdminInfo> {
  const j = await readJson(paths(data).admin) as AdminInfo | undefined;
  if (j === undefined) {
    throw new MyClerkError(ErrorCode.SERVICE_UNAVAILABLE, "not-running", {
      fix: `start the node first: serve --data ${data}`,
    });
  }
  return j;
}
