/**
 * The store seam and its SQLite implementation in one import: the data
 * types and interfaces of `types.ts`, and factories for the default stores
 * (`node:sqlite` in the node's data directory).
 *
 * ```ts
 * const relayStore = openSqliteRelayStore({ path: paths(data).relayDb, synchronous: "NORMAL" });
 * const hubStore = openSqliteHubStore(paths(data).hubDb);
 * ```
 *
 * Both open synchronously and throw SERVICE_UNAVAILABLE `store-*` (with
 * `extra.path` and `extra.fix`) for a store that is missing, empty,
 * truncated, damaged, swapped, rolled back or newer (sqlite_open.ts).
 *
 * @module
 */

import { SqliteHubStore } from "./sqlite_hub.ts";
import { type SqliteRelayOptions, SqliteRelayStore } from "./sqlite_relay.ts";

export * from "./types.ts";
export { FED_SCHEMA_VERSION, type InviteListing, SqliteRelayStore } from "./sqlite_relay.ts";
export type { SqliteRelayOptions } from "./sqlite_relay.ts";
export { HUB_SCHEMA_VERSION, SqliteHubStore } from "./sqlite_hub.ts";
export { isDiskFull, type OpenInfo, storeError, type SyncHook } from "./sqlite_open.ts";
export { WorkerRelayStore } from "./worker_relay.ts";

/**
 * Opens the relay's SQLite store (`federation.db`). The relay passes
 * `synchronous: "NORMAL"` and acks "stored" after `durable` of each
 * `enqueueBatch` (group WAL fdatasync + manifest mark); FULL (default)
 * suits the CLI's short writes.
 */
export function openSqliteRelayStore(opts: SqliteRelayOptions): SqliteRelayStore {
  return SqliteRelayStore.open(opts);
}

/** Opens the hub's SQLite store (`hub.db`, synchronous FULL). */
export function openSqliteHubStore(path: string): SqliteHubStore {
  return SqliteHubStore.open(path);
}
