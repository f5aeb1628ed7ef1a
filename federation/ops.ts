/**
 * Every opcode of the federation range (docs/FEDERATION.md §5), declared
 * once, and registered with the core at import (core/opcodes.ts
 * `registerOpcodes`): the core knows the range's bounds and its Tier 4 floor
 * from the profile (PROTOCOL.md §9, §13), the names come from here.
 *
 * @module
 */

import { inBounds, rangeBounds, registerOpcodes } from "../core/opcodes.ts";
// The layer's config section registers with the core too (config.ts).
import "./config.ts";

/** The federation range, 0x0300-0x03FF: its one home is the core's range table. */
export const FED_RANGE: { readonly first: number; readonly last: number } = rangeBounds(
  "federation",
);

/** True when `op` lies in the federation range. */
export function isFedOpcode(op: number): boolean {
  return inBounds(FED_RANGE, op);
}

/** Federation opcodes. */
export const FedOp = {
  /** After the hop handshake: role, node key id, families homed, version. */
  FED_HELLO: 0x0300,
  /** Hub -> relay: join with an invite token, the family record and a proof of possession. */
  FED_ADMIT: 0x0301,
  /** Relay -> hub: admission accepted, with the limits that apply. */
  FED_ADMITTED: 0x0302,
  /** Route announcement: the full set of families reachable via the sender, with a sequence number. */
  FED_ROUTE: 0x0303,
  /** One sealed message with its relay-visible routing fields. */
  FED_DELIVER: 0x0304,
  /** "stored" (relay -> sender) or "delivered" (recipient -> relay) acknowledgements. */
  FED_ACK: 0x0305,
  /** Queue depth of a family's mailbox. */
  FED_QUEUE_STATUS: 0x0306,
  /** Hub -> relay: send backlog, with a credit window. */
  FED_FETCH: 0x0307,
  /** Relay -> sender: messages that expired undelivered. */
  FED_EXPIRED: 0x0308,
  /** Relay -> everyone: graceful restart, reconnect after N ms. */
  FED_RESTART: 0x0309,
  /**
   * Opcode inside the end-to-end sealed envelope's Tier 5 header. Never sent
   * as a hop message: a session that receives it answers UNSUPPORTED.
   */
  FED_SEALED: 0x0310,
} as const;

/**
 * Opcodes added by the live relay layer (directory.ts codecs, §5.1). Kept
 * apart from {@link FedOp}, whose members are exactly the messages
 * messages.ts decodes.
 */
export const DirOp = {
  /** Hub -> relay: `{ "family": id }`; answered by FED_RECORDS or ERROR FED_UNKNOWN_FAMILY. */
  FED_LOOKUP: 0x030a,
  /** Relay -> hub (lookup answer) and relay -> peer relay (families homed at the sender). */
  FED_RECORDS: 0x030b,
} as const;

/** A federation opcode value. */
export type FedOpValue = typeof FedOp[keyof typeof FedOp];

/** Name of a federation opcode (for logs). */
export function fedOpName(op: number): string {
  for (const [k, v] of Object.entries(FED_NAMES)) if (v === op) return k;
  return `0x${op.toString(16).padStart(4, "0")}`;
}

const FED_NAMES: Readonly<Record<string, number>> = { ...FedOp, ...DirOp };

// "self": the relay admits callers itself (invites, pinned peers), after the tier, revocation and
// admit checks every request gets (PROTOCOL.md §10.2).
registerOpcodes({ layer: "federation", ...FED_RANGE, names: FED_NAMES, access: "self" });
