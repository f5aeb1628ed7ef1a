/**
 * The interface between the node and whatever serves an opcode range
 * (plugins, the federation layer): typed requests and results that never
 * throw.
 *
 * @module
 */

import type { MyClerkError } from "../errors.ts";
import type { RouteAccess } from "./gate.ts";

export type { RouteAccess } from "./gate.ts";

/** Who sent a request. */
export interface PeerInfo {
  /** Session id, u16 (0 for session-less Tier 1). */
  readonly sessionId: number;
  /** The peer's static key id (0 for session-less Tier 1). */
  readonly keyId: number;
  /** Tier of the session the request came on (0-5). */
  readonly tier: number;
  /** Peer transport address, for logs. */
  readonly remote: string;
}

/** One request for a handler. */
export interface DispatchRequest {
  /** Request opcode, u16. */
  readonly opcode: number;
  /** Tier the request arrived at. */
  readonly tier: number;
  /** The decoded MessagePack payload. */
  readonly payload: unknown;
  /** Who sent it. */
  readonly peer: PeerInfo;
}

/** A handler's answer: a payload to send back, or an error (answered with ERROR). */
export type DispatchResult =
  | { readonly ok: true; readonly payload: unknown }
  | { readonly ok: false; readonly error: MyClerkError };

/** Serves requests; must not throw (an exception is answered INTERNAL_ERROR). */
export type Dispatch = (req: DispatchRequest) => Promise<DispatchResult>;

/** An opcode range served by one handler. */
export interface Route {
  /** Route name, for logs and metrics. */
  readonly name: string;
  /** First opcode served (u16). */
  readonly first: number;
  /** Last opcode served (u16), inclusive. */
  readonly last: number;
  /** Request/response handler (omit for `raw` routes). */
  readonly dispatch?: Dispatch;
  /**
   * Low-level handler instead of `dispatch`: gets the connection and the raw
   * payload bytes and answers with whatever messages it likes (through
   * `conn.send`). A returned promise delays the connection's next read
   * (backpressure). Used by the federation layer, whose replies use other
   * opcodes than the request.
   */
  readonly raw?: (conn: RawConnection, opcode: number, payload: Uint8Array) => void | Promise<void>;
  /** Raises an opcode's minimum tier above the profile's (never lowers it). */
  readonly minTier?: (opcode: number) => number | undefined;
  /**
   * How the node gates this range before the handler runs (core/node/gate.ts):
   * `"gate"` = the node's policy (own family, ACL grants, public opcodes,
   * deciders); `"self"` = the layer admits callers itself (the federation
   * range: invites and pinned peers). Tier, `tiers.min`, `revokedKeys` and
   * `admit` apply either way. Default: the `access` the layer registered
   * for the range (core/opcodes.ts `registerOpcodes`: the federation range
   * says `"self"`), else `"gate"`.
   */
  readonly access?: RouteAccess;
}

/** What a raw route sees of a connection. */
export interface RawConnection {
  /** The established session's peer. */
  readonly peer: PeerInfo;
  /** The final handshake transcript hash (binds admission proofs to this session). */
  readonly transcriptHash: Uint8Array | undefined;
  /** The peer's static public key (empty for resumed sessions). */
  readonly peerStatic: Uint8Array | undefined;
  /** Sends a message on the session (encodes nothing: `payload` is the MessagePack bytes). */
  send(opcode: number, payload: Uint8Array, priority?: boolean): boolean;
  /** Bytes queued for this connection (for flow control). */
  readonly queuedBytes: number;
  /** Closes the connection. */
  close(reason: string): void;
}
