/**
 * What the hub's parts share (federation/hub/): the node, the store, the
 * family key, and the one relay session they all send on. Kept apart so the
 * outbox, inbox and records modules see an interface, not each other.
 *
 * @module
 */

import type { Identity } from "../../core/session/handshake.ts";
import type { Node } from "../../core/node/node.ts";
import type { FedConfig } from "../config.ts";
import type { FamilyId } from "../family.ts";
import type { HubStore } from "../store/types.ts";

/** The node's `federation` config section (its schema: federation/config.ts). */
export type { FedConfig };

/** The hub's shared state, as its parts see it. */
export interface HubContext {
  /** The node the hub runs in (log, metrics, backend, config). */
  readonly node: Node;
  /** The hub's store (outbox, inbox, dedupe, learned records). */
  readonly store: HubStore;
  /** The family key pair: seals outgoing and opens incoming messages. */
  readonly family: Identity;
  /** This hub's family id. */
  readonly familyId: FamilyId;
  /** The `federation` config section in force. */
  readonly cfg: FedConfig;
  /** True while the relay session is up and greeted (FED_HELLO received). */
  readonly ready: boolean;
  /** Counts up each time a relay session becomes ready (tells sessions apart). */
  readonly generation: number;
  /** Bytes queued on the relay session (flow control), 0 when none. */
  readonly queuedBytes: number;
  /** True once the hub is stopping (no new timers). */
  readonly stopping: boolean;
  /** Sends on the current relay session; false when there is none. */
  send(opcode: number, payload: Uint8Array, priority?: boolean): boolean;
  /** Closes the current relay session (the dial loop reconnects). */
  closeSession(): void;
  /** The store's counts changed: refresh the cached gauges. */
  changed(): void;
}

/** Unix seconds now. */
export const nowSec = (): number => Math.floor(Date.now() / 1000);
