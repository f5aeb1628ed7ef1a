/**
 * The interface between the node and whatever serves an opcode range
 * (plugins, the federation layer): typed requests and results that never
 * throw.
 *
 * @module
 */

import type { MyClerkError } from "../errors.ts";

/** Who sent a request. */
export interface PeerInfo {
  readonly sessionId: number;
  /** The peer's static key id (0 for session-less Tier 1). */
  readonly keyId: number;
  readonly tier: number;
  readonly remote: string;
}

/** One request for a handler. */
export interface DispatchRequest {
  readonly opcode: number;
  readonly tier: number;
  /** The decoded MessagePack payload. */
  readonly payload: unknown;
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
  readonly name: string;
  readonly first: number;
  readonly last: number;
  readonly dispatch: Dispatch;
  /** Raises an opcode's minimum tier above the profile's (never lowers it). */
  readonly minTier?: (opcode: number) => number | undefined;
}
