/**
 * Operation codes, ranges and minimum tiers (profile §9, §13), and the
 * registry through which a layer (federation, plugins) declares its opcodes
 * instead of the core knowing them (docs/PROTOCOL.md §13.1).
 *
 * The core holds only what the profile itself fixes: the core opcodes, the
 * range table (§13) and the per-range minimum tiers of §9, which hold on
 * every node, also one without the layer that serves the range. Opcode
 * names and any stricter minimum tier come from {@link registerOpcodes}.
 *
 * @module
 */

import { ErrorCode, MyClerkError } from "./errors.ts";

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
 * First and last opcode of a range of the table, e.g. the federation range
 * 0x0300-0x03FF: the one home of those literals (layers and tests use it).
 *
 * @example rangeBounds("federation").first // 0x0300
 */
export function rangeBounds(kind: RangeKind): OpcodeBounds {
  const r = RANGES.find((x) => x.kind === kind);
  if (!r) throw new MyClerkError(ErrorCode.BAD_REQUEST, "range-kind", { kind });
  return { first: r.first, last: r.last };
}

/** An inclusive opcode interval. */
export interface OpcodeBounds {
  /** First opcode (u16). */
  readonly first: number;
  /** Last opcode (u16), inclusive. */
  readonly last: number;
}

/** True when `op` lies in `b`. */
export function inBounds(b: OpcodeBounds, op: number): boolean {
  return op >= b.first && op <= b.last;
}

/** One row of the profile's minimum-tier table (§9). */
export interface TierFloor extends OpcodeBounds {
  /** Lowest tier a message to these opcodes may arrive at. */
  readonly minTier: number;
}

/**
 * The minimum tiers of profile §9, row for row. They hold on every node
 * whether or not the layer serving the range is loaded (a core-only node
 * still answers FORBIDDEN `tier` to 0x0300 at Tier 3); everything not
 * listed needs Tier 1. Layers may raise them ({@link registerOpcodes}),
 * never lower them.
 */
export const PROFILE_MIN_TIERS: readonly TierFloor[] = [
  { first: 0x0000, last: 0x000f, minTier: 0 },
  { first: 0x0010, last: 0x0012, minTier: 4 },
  { first: 0x0016, last: 0x0017, minTier: 3 },
  { first: 0x0204, last: 0x0205, minTier: 3 },
  { ...rangeBounds("federation"), minTier: 4 },
  { first: 0xf370, last: 0xf37f, minTier: 3 },
];

/** What a layer declares about its opcodes ({@link registerOpcodes}). */
export interface OpcodeRegistration extends OpcodeBounds {
  /** Who registers, e.g. `"federation"` (named in the overlap error). */
  readonly layer: string;
  /** Opcode names (for `inspect`, logs and error details); each inside the range. */
  readonly names?: Readonly<Record<string, number>>;
  /**
   * Minimum tiers above the profile's: one for the whole range, or rows
   * inside it. The effective minimum is the highest that applies.
   */
  readonly minTier?: number | readonly TierFloor[];
  /**
   * How the node's gate treats the range when the layer's route does not say
   * (core/node/gate.ts `RouteAccess`): `"self"` when the layer admits callers
   * itself (federation: invites and pinned peers). Default `"gate"`.
   */
  readonly access?: "gate" | "self";
}

interface Registered {
  readonly reg: OpcodeRegistration;
  readonly floors: readonly TierFloor[];
}

const registry: Registered[] = [];
const names = new Map<number, string>();

/** Every registered opcode name, by opcode (a live view of the registry). */
export const OPCODE_NAMES: ReadonlyMap<number, string> = names;

function refuse(detail: string, extra: Record<string, unknown>): never {
  throw new MyClerkError(ErrorCode.BAD_REQUEST, detail, extra);
}

function hex(op: number): string {
  return `0x${op.toString(16).padStart(4, "0").toUpperCase()}`;
}

function checkTier(t: number, layer: string): void {
  if (!Number.isInteger(t) || t < 0 || t > 5) {
    refuse("opcode-registration", { layer, why: `minimum tier ${t} is not 0-5` });
  }
}

/**
 * Registers a layer's opcode range, names and minimum tiers. Ranges of two
 * layers never overlap: an overlap is refused with BAD_REQUEST
 * `opcode-range-overlap` naming both layers and both ranges. Registering
 * the same layer again replaces its entry (a module re-evaluated in a
 * test). Returns a function that removes the registration.
 *
 * @example registerOpcodes({ layer: "acme", first: 0xf100, last: 0xf10f, names: { ACME_PING: 0xf100 } })
 */
export function registerOpcodes(reg: OpcodeRegistration): () => void {
  const { layer, first, last } = reg;
  if (
    typeof layer !== "string" || layer === "" || !Number.isInteger(first) ||
    !Number.isInteger(last) || first < 0 || last > 0xffff || first > last
  ) {
    refuse("opcode-registration", {
      layer,
      why: `range ${hex(first)}-${hex(last)} is not an ascending u16 range`,
    });
  }
  for (const r of registry) {
    if (r.reg.layer === layer) continue;
    if (first <= r.reg.last && last >= r.reg.first) {
      refuse("opcode-range-overlap", {
        layer,
        range: `${hex(first)}-${hex(last)}`,
        other: r.reg.layer,
        otherRange: `${hex(r.reg.first)}-${hex(r.reg.last)}`,
        why: `layer "${layer}" claims ${hex(first)}-${hex(last)}, which overlaps ${
          hex(r.reg.first)
        }-${hex(r.reg.last)} of layer "${r.reg.layer}"`,
      });
    }
  }
  for (const [name, op] of Object.entries(reg.names ?? {})) {
    if (!Number.isInteger(op) || op < first || op > last) {
      refuse("opcode-registration", {
        layer,
        why: `${name} (${hex(op)}) is outside ${hex(first)}-${hex(last)}`,
      });
    }
  }
  const floors: TierFloor[] = [];
  if (typeof reg.minTier === "number") {
    checkTier(reg.minTier, layer);
    floors.push({ first, last, minTier: reg.minTier });
  } else {
    for (const f of reg.minTier ?? []) {
      checkTier(f.minTier, layer);
      if (f.first < first || f.last > last || f.first > f.last) {
        refuse("opcode-registration", {
          layer,
          why: `tier row ${hex(f.first)}-${hex(f.last)} is outside ${hex(first)}-${hex(last)}`,
        });
      }
      floors.push(f);
    }
  }
  unregister(layer);
  const entry: Registered = { reg, floors };
  registry.push(entry);
  for (const [name, op] of Object.entries(reg.names ?? {})) names.set(op, name);
  return () => {
    if (registry.includes(entry)) unregister(layer);
  };
}

function unregister(layer: string): void {
  const i = registry.findIndex((r) => r.reg.layer === layer);
  if (i < 0) return;
  const [old] = registry.splice(i, 1);
  for (const op of Object.values(old.reg.names ?? {})) names.delete(op);
}

/** The layers registered now, in registration order (for `inspect` and tests). */
export function registeredLayers(): readonly OpcodeRegistration[] {
  return registry.map((r) => r.reg);
}

/** The layer that registered `op`'s range, if any. */
export function layerOf(op: number): string | undefined {
  return registry.find((r) => inBounds(r.reg, op))?.reg.layer;
}

/** How the gate treats `op` by default: the registering layer's `access`, else `"gate"`. */
export function registeredAccess(op: number): "gate" | "self" {
  return registry.find((r) => inBounds(r.reg, op))?.reg.access ?? "gate";
}

/**
 * Name of an opcode, or `0xNNNN` when no layer named it.
 *
 * @example opcodeName(0x0003) // "SESSION_INIT"
 */
export function opcodeName(op: number): string {
  return names.get(op) ?? `0x${op.toString(16).padStart(4, "0")}`;
}

/**
 * Minimum tier an opcode requires: the profile's (§9), raised by the layer
 * that registered the opcode. Plugins may raise it further, never lower it.
 *
 * @example minimumTier(0x0300) // 4
 */
export function minimumTier(op: number): number {
  let need = 1;
  for (const f of PROFILE_MIN_TIERS) {
    if (op >= f.first && op <= f.last) {
      need = f.minTier;
      break;
    }
  }
  for (const r of registry) {
    if (!inBounds(r.reg, op)) continue;
    for (const f of r.floors) if (inBounds(f, op) && f.minTier > need) need = f.minTier;
  }
  return need;
}

/** The opcodes the profile defines in the core range (§10.1); the rest of 0x0000-0x00FF is unassigned. */
export const CORE_DEFINED: ReadonlySet<number> = new Set<number>(Object.values(Op));

registerOpcodes({ layer: "core", ...rangeBounds("core"), names: Op });

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
