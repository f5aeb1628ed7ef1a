/**
 * Operation codes, ranges and minimum tiers (profile §9, §13).
 *
 * @module
 */

/** Core opcodes (0x0000-0x00FF) including the profile's additions. */
export const Op = {
  NOP: 0x0000,
  KEEPALIVE: 0x0001,
  KEEPALIVE_ACK: 0x0002,
  SESSION_INIT: 0x0003,
  SESSION_ACK: 0x0004,
  SESSION_CLOSE: 0x0005,
  SESSION_CLOSE_ACK: 0x0006,
  SESSION_RESUME: 0x0007,
  SESSION_RESUMED: 0x0008,
  /** Profile addition: responder hands the initiator a resumption ticket. */
  SESSION_TICKET: 0x0009,
  /** Profile addition: carries every error reply (§10). */
  ERROR: 0x000f,
  KEY_EXCHANGE_INIT: 0x0010,
  KEY_EXCHANGE_RESPONSE: 0x0011,
  KEY_EXCHANGE_COMPLETE: 0x0012,
  SESSION_ROTATE: 0x0016,
  SESSION_REVOKE: 0x0017,
} as const;

/** Names of every opcode the draft and this profile assign (for `inspect` and logs). */
export const OPCODE_NAMES: ReadonlyMap<number, string> = new Map<number, string>([
  ...Object.entries(Op).map(([k, v]) => [v, k] as [number, string]),
  ...([
    [0x0200, "DEVICE_LIST"],
    [0x0201, "DEVICE_INFO"],
    [0x0202, "DEVICE_SUBSCRIBE"],
    [0x0203, "DEVICE_UNSUBSCRIBE"],
    [0x0204, "DEVICE_LOCK"],
    [0x0205, "DEVICE_UNLOCK"],
    [0x0206, "DEVICE_CONFIGURE"],
    [0x0207, "DEVICE_CAPABILITIES"],
    [0x020b, "DEVICE_DISCOVER"],
    [0x0210, "STREAM_START"],
    [0x0211, "STREAM_STOP"],
    [0x0212, "STREAM_DATA"],
    [0x0213, "STREAM_CONFIGURE"],
    [0x0214, "STREAM_QUALITY"],
    [0x0215, "STREAM_PAUSE"],
    [0x0216, "STREAM_RESUME"],
    [0x0300, "FED_HELLO"],
    [0x0301, "FED_ADMIT"],
    [0x0302, "FED_ADMITTED"],
    [0x0303, "FED_ROUTE"],
    [0x0304, "FED_DELIVER"],
    [0x0305, "FED_ACK"],
    [0x0306, "FED_QUEUE_STATUS"],
    [0x0307, "FED_FETCH"],
    [0x0308, "FED_EXPIRED"],
    [0x0309, "FED_RESTART"],
    [0x030a, "FED_LOOKUP"],
    [0x030b, "FED_RECORDS"],
    [0x0310, "FED_SEALED"],
    [0x0610, "SERIAL_PORT_LIST"],
    [0x0611, "SERIAL_PORT_OPEN"],
    [0x0612, "SERIAL_PORT_CLOSE"],
    [0x0613, "SERIAL_PORT_CONFIGURE"],
    [0x0614, "SERIAL_DATA_WRITE"],
    [0x0615, "SERIAL_DATA_READ"],
    [0x0616, "SERIAL_CONTROL_SET"],
    [0x0617, "SERIAL_CONTROL_GET"],
    [0x0618, "SERIAL_BREAK"],
  ] as [number, string][]),
]);

/**
 * Name of an opcode, or `0xNNNN` when unassigned.
 *
 * @example opcodeName(0x0003) // "SESSION_INIT"
 */
export function opcodeName(op: number): string {
  return OPCODE_NAMES.get(op) ?? `0x${op.toString(16).padStart(4, "0")}`;
}

/** Who owns an opcode range and whether it has opcodes (profile §13). */
export type RangeKind =
  | "core"
  | "standard"
  | "resource"
  | "federation"
  | "billing"
  | "vfs"
  | "hardware"
  | "vendor"
  | "reserved"
  | "unassigned";

/** One row of the range table. */
export interface OpcodeRange {
  /** First opcode of the range (u16). */
  readonly first: number;
  /** Last opcode of the range (u16), inclusive. */
  readonly last: number;
  /** What the range is for (§13). */
  readonly kind: RangeKind;
  /** False for ranges the profile reserves (answered UNSUPPORTED). */
  readonly served: boolean;
}

/** The range table of profile §13, in ascending order. */
export const RANGES: readonly OpcodeRange[] = [
  { first: 0x0000, last: 0x00ff, kind: "core", served: true },
  { first: 0x0100, last: 0x01ff, kind: "standard", served: false },
  { first: 0x0200, last: 0x02ff, kind: "resource", served: true },
  { first: 0x0300, last: 0x03ff, kind: "federation", served: true },
  { first: 0x0400, last: 0x04ff, kind: "billing", served: false },
  { first: 0x0500, last: 0x05ff, kind: "vfs", served: false },
  { first: 0x0600, last: 0x06ff, kind: "hardware", served: true },
  { first: 0xf000, last: 0xfffe, kind: "vendor", served: true },
  { first: 0xffff, last: 0xffff, kind: "reserved", served: false },
];

/**
 * The range an opcode falls in.
 *
 * @example rangeOf(0xf350).kind // "vendor"
 */
export function rangeOf(op: number): OpcodeRange {
  for (const r of RANGES) if (op >= r.first && op <= r.last) return r;
  return { first: op, last: op, kind: "unassigned", served: false };
}

/**
 * Minimum tier an opcode requires (profile §9). Plugins may raise it, never lower it.
 *
 * @example minimumTier(0x0300) // 4
 */
export function minimumTier(op: number): number {
  if (op <= 0x000f) return 0;
  if (op >= 0x0010 && op <= 0x0012) return 4;
  if (op === 0x0016 || op === 0x0017) return 3;
  if (op === 0x0204 || op === 0x0205) return 3;
  if (op >= 0x0300 && op <= 0x03ff) return 4;
  if (op >= 0xf370 && op <= 0xf37f) return 3;
  return 1;
}

/** Capability values of draft §7.1 (7 is reserved: never sent, ignored). */
export const Capability = {
  COMPRESSION_LZ4: 0,
  COMPRESSION_ZSTD: 1,
  ENCRYPTION_CHACHA20: 2,
  ENCRYPTION_AES256GCM: 3,
  FRAGMENTATION: 4,
  STREAMING: 5,
  FEDERATION: 6,
  VFS: 8,
} as const;
