/**
 * What the relay's parts share (federation/relay/): the node, the store,
 * the link registry and the config in force. Kept apart so each part sees
 * an interface, not the facade.
 *
 * @module
 */

import { ErrorCode, isMyClerkError, MyClerkError } from "../../core/errors.ts";
import type { Node } from "../../core/node/node.ts";
import type { FedConfig } from "../config.ts";
import type { RelayStore } from "../store/types.ts";
import type { LinkRegistry } from "./links.ts";

/** The `federation` section of the node config (its schema: federation/config.ts). */
export type { FedConfig };

/** The relay's shared state, as its parts see it. */
export interface RelayContext {
  /** The node the relay runs in (log, metrics, backend, identity, limits). */
  readonly node: Node;
  /** The relay's store (any {@link RelayStore}: SQLite, Deno KV). */
  readonly store: RelayStore;
  /** Every session of the relay, by role. */
  readonly links: LinkRegistry;
  /** The `federation` config in force (replaced on reload). */
  readonly cfg: FedConfig;
  /** True once {@link RelayContext} stopping began: no new pushes or timers. */
  readonly stopping: boolean;
  /** Counts a dropped or refused message (`myclerk_federation_drops_total{reason}`). */
  drop(reason: string): void;
}

/** Unix seconds now. */
export const nowSec = (): number => Math.floor(Date.now() / 1000);

/**
 * A store failure as a typed error: stores reject with MyClerkError
 * (SERVICE_UNAVAILABLE `storage-full`, INTERNAL_ERROR `store`, ...);
 * anything else becomes INTERNAL_ERROR `store`.
 */
export function asStoreError(e: unknown): MyClerkError {
  return isMyClerkError(e)
    ? e
    : new MyClerkError(ErrorCode.INTERNAL_ERROR, "store", { error: String(e) }, e);
}
