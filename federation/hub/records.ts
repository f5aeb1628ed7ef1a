/**
 * The hub's family records (docs/FEDERATION.md §5.1): the record of a
 * recipient comes from the hub's store, else from the relay (FED_LOOKUP,
 * answered by FED_RECORDS or ERROR FED_UNKNOWN_FAMILY); learned records are
 * kept in the store.
 *
 * @module
 */

import { ErrorCode, MyClerkError } from "../../core/errors.ts";
import { decodeRecords, DirOp, encodeLookup } from "../directory.ts";
import { type FamilyId, type FamilyRecord, isFamilyId } from "../family.ts";
import { type HubContext, nowSec } from "./context.ts";

/** Lookups of family records, cached in the store. */
export class Records {
  readonly #ctx: HubContext;
  readonly #lookups = new Map<FamilyId, ((r: FamilyRecord | MyClerkError) => void)[]>();

  /** Serves lookups for the hub of `ctx`. */
  constructor(ctx: HubContext) {
    this.#ctx = ctx;
  }

  /** The record of family `to`: from the store, else asked of the relay (FED_LOOKUP). */
  async lookup(to: FamilyId, timeoutMs = 5000): Promise<FamilyRecord> {
    if (!isFamilyId(to)) throw new MyClerkError(ErrorCode.BAD_REQUEST, "family-id", { value: to });
    const ctx = this.#ctx;
    const have = await ctx.store.getRecord(ctx.node.backend, to);
    if (have) return have;
    if (!ctx.ready) {
      throw new MyClerkError(ErrorCode.SERVICE_UNAVAILABLE, "relay-not-connected", { family: to });
    }
    const r = await new Promise<FamilyRecord | MyClerkError>((resolve) => {
      const timer = setTimeout(
        () => resolve(new MyClerkError(ErrorCode.TIMEOUT, "lookup", { family: to })),
        timeoutMs,
      );
      const list = this.#lookups.get(to) ?? [];
      list.push((x) => {
        clearTimeout(timer);
        resolve(x);
      });
      this.#lookups.set(to, list);
      ctx.send(DirOp.FED_LOOKUP, encodeLookup(to));
    });
    if (r instanceof MyClerkError) throw r;
    return r;
  }

  /** FED_RECORDS from the relay: verified records are stored and answer waiting lookups. */
  async onRecords(bytes: Uint8Array): Promise<void> {
    const ctx = this.#ctx;
    const now = nowSec();
    for (const rec of decodeRecords(ctx.node.backend, bytes)) {
      // Answer first: the record is verified; storing it only saves the next lookup.
      for (const f of this.#lookups.get(rec.id) ?? []) f(rec);
      this.#lookups.delete(rec.id);
      await ctx.store.putRecord(rec, now);
    }
  }

  /** ERROR answering a FED_LOOKUP (`extra.family` names the family asked for). */
  onLookupError(error: MyClerkError): void {
    const fam = error.extra.family;
    if (typeof fam !== "string") return;
    for (const f of this.#lookups.get(fam) ?? []) f(error);
    this.#lookups.delete(fam);
  }
}
