/**
 * Opcode range rules for plugins (profile §13): who may claim what, and the
 * table that maps an opcode to the one plugin serving it.
 *
 * @module
 */
import { ErrorCode, MyClerkError } from "../core/errors.ts";
import { rangeOf } from "../core/opcodes.ts";
import { hex4, type ManifestRange } from "./manifest.ts";

/** The vendor range: the only one an untrusted (vendor) plugin may claim. */
export const VENDOR_FIRST = 0xf000;
/** Last opcode of the vendor range (0xFFFF is reserved). */
export const VENDOR_LAST = 0xfffe;

/** Range kinds a trusted (first-party) plugin may serve; the rest are the node's or reserved. */
const PLUGIN_KINDS = new Set(["resource", "hardware", "vendor"]);

/**
 * Checks that `plugin` may claim `ranges`. Throws BAD_REQUEST naming the
 * range and the fix.
 *
 * - core (0x0000-0x00FF) and federation belong to the node;
 * - reserved and unassigned ranges cannot be served by anyone;
 * - an untrusted (vendor) plugin may claim only 0xF000-0xFFFE.
 */
export function checkClaim(
  plugin: string,
  ranges: readonly ManifestRange[],
  trusted: boolean,
): void {
  for (const r of ranges) {
    const span = `${hex4(r.first)}-${hex4(r.last)}`;
    if (!trusted && (r.first < VENDOR_FIRST || r.last > VENDOR_LAST)) {
      throw new MyClerkError(
        ErrorCode.BAD_REQUEST,
        `range-forbidden: plugin ${plugin} claims ${span} but a vendor plugin may claim only 0xF000-0xFFFE; fix: move its opcodes into the vendor range`,
        { plugin },
      );
    }
    // Every opcode of the claimed span must sit in a kind plugins may serve.
    for (let op = r.first; op <= r.last;) {
      const k = rangeOf(op);
      if (!PLUGIN_KINDS.has(k.kind)) {
        const owner = k.kind === "core" || k.kind === "federation"
          ? "belongs to the node"
          : `is ${k.kind}`;
        throw new MyClerkError(
          ErrorCode.BAD_REQUEST,
          `range-forbidden: plugin ${plugin} claims ${span}, which overlaps ${hex4(k.first)}-${
            hex4(k.last)
          } (${k.kind}) that ${owner}; fix: claim only resource (0x0200-0x02FF), hardware (0x0600-0x06FF) or vendor (0xF000-0xFFFE) opcodes`,
          { plugin },
        );
      }
      op = k.last + 1;
    }
  }
}

/** One row of the routing table. */
interface Row {
  readonly first: number;
  readonly last: number;
  readonly plugin: string;
}

/**
 * Maps opcodes to plugins; refuses overlaps, naming both plugins.
 * Immutable: `with`/`without` return new tables, so a reload can swap the
 * whole table in one assignment.
 */
export class RangeTable {
  private constructor(private readonly rows: readonly Row[]) {}

  /** An empty table. */
  static empty(): RangeTable {
    return new RangeTable([]);
  }

  /**
   * Adds `plugin`'s ranges. Throws BAD_REQUEST `range-conflict` naming both
   * plugins when one opcode would be claimed twice (also within one plugin).
   */
  with(plugin: string, ranges: readonly ManifestRange[]): RangeTable {
    const rows = [...this.rows];
    for (const r of ranges) {
      for (const o of rows) {
        if (r.first <= o.last && o.first <= r.last) {
          const op = Math.max(r.first, o.first);
          throw new MyClerkError(
            ErrorCode.BAD_REQUEST,
            `range-conflict: plugins ${o.plugin} and ${plugin} both claim ${hex4(op)} (${
              hex4(o.first)
            }-${hex4(o.last)} vs ${hex4(r.first)}-${
              hex4(r.last)
            }); fix: give one of them other opcodes or remove it`,
            { plugins: [o.plugin, plugin], opcode: op },
          );
        }
      }
      rows.push({ first: r.first, last: r.last, plugin });
    }
    rows.sort((a, b) => a.first - b.first);
    return new RangeTable(rows);
  }

  /** The table without `plugin`. */
  without(plugin: string): RangeTable {
    return new RangeTable(this.rows.filter((r) => r.plugin !== plugin));
  }

  /** The plugin serving `op`, or undefined. Binary search: the table is sorted and disjoint. */
  lookup(op: number): string | undefined {
    let lo = 0;
    let hi = this.rows.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const r = this.rows[mid];
      if (op < r.first) hi = mid - 1;
      else if (op > r.last) lo = mid + 1;
      else return r.plugin;
    }
    return undefined;
  }
}
