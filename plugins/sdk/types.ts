/**
 * The types a plugin sees: who called (`PeerInfo`) and what it was granted
 * (`GrantInfo`). Owned by the SDK; the host runtime imports them from here.
 *
 * @module
 */

/**
 * Who sent a request (the node's view of the session).
 *
 * Session-less callers (Tier 1 without a handshake) and other plugins'
 * `ctx.call` have no node session: `sessionId` is 0 for the former and a
 * value above 0xFFFF for the latter; events to either are not pushed.
 *
 * @example const who = ctx.peer.keyId.toString(16)
 */
export interface PeerInfo {
  /** Session id (u16) of the request's session; 0 for a session-less caller. */
  readonly sessionId: number;
  /** Key id (u32) of the peer's static key. */
  readonly keyId: number;
  /** Tier of the session (0-5). */
  readonly tier: number;
  /** Peer transport address, for logs. */
  readonly remote: string;
}

/**
 * What the plugin is told about its grant at start (read-only; the host
 * enforces it with Deno permissions, this is for information).
 *
 * @example await Deno.writeTextFile(`${ctx.grant.dataDir}/state.json`, "{}")
 */
export interface GrantInfo {
  /** Granted `host` / `host:port` entries. */
  readonly net: readonly string[];
  /** Granted readable paths. */
  readonly read: readonly string[];
  /** Granted writable paths. */
  readonly write: readonly string[];
  /** Granted environment variable names. */
  readonly env: readonly string[];
  /** Short name -> the one file FFI may open. */
  readonly ffi: Readonly<Record<string, string>>;
  /** Granted bus kinds. */
  readonly buses: readonly string[];
  /** Device nodes of granted buses and granted paths under /dev. */
  readonly devices: readonly string[];
  /**
   * The plugin's private data directory, `DATA/plugin-data/NAME` on the node
   * (also the process's working directory); `$DATA` in the manifest. It is
   * kept across versions, reloads and rollbacks. Readable/writable only when
   * the manifest asks for `$DATA` and the policy allows it.
   */
  readonly dataDir: string;
}
