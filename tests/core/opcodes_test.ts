import { minimumTier, opcodeName, rangeOf } from "../../core/opcodes.ts";
import { ErrorCode, errorName, MyClerkError } from "../../core/errors.ts";

Deno.test("opcode ranges and minimum tiers follow profile §9/§13", () => {
  if (rangeOf(0xf350).kind !== "vendor") throw new Error("vendor range");
  if (rangeOf(0x0100).served) throw new Error("standard range is reserved");
  if (minimumTier(0x0300) !== 4) throw new Error("federation needs tier 4");
  if (minimumTier(0x0016) !== 3) throw new Error("rotate needs tier 3");
  if (opcodeName(0x0003) !== "SESSION_INIT") throw new Error("name");
});

Deno.test("MyClerkError carries code and detail", () => {
  const e = new MyClerkError(ErrorCode.FORBIDDEN, "tier", { requiredTier: 4 });
  if (e.code !== 0x12 || e.extra.requiredTier !== 4 || errorName(0x12) !== "FORBIDDEN") {
    throw new Error("error fields");
  }
});
