/**
 * Writes docs/vectors/*.json from the fixed inputs in `build.ts`. Run once
 * (`deno run -A tests/core/vectors/gen_vectors.ts`) when the profile
 * changes; tests only read the files.
 *
 * @module
 */
import { backend } from "../../../core/crypto/mod.ts";
import {
  buildCounters,
  buildFragments,
  buildHandshake,
  buildKeyId,
  buildTiers,
  buildTrailers,
} from "./build.ts";

const b = backend("noble");
const dir = new URL("../../../docs/vectors/", import.meta.url);
await Deno.mkdir(dir, { recursive: true });
const write = (name: string, v: unknown) =>
  Deno.writeTextFile(new URL(name, dir), JSON.stringify(v, null, 2) + "\n");
await write("tiers.json", {
  profile: "mcp0",
  description: "One message per tier, with and without encryption (profile §1, §2, §4, §6)",
  cases: buildTiers(b),
});
await write("trailers.json", {
  profile: "mcp0",
  description: "CRC-16 check value and HMAC-SHA256 truncations (profile §2)",
  ...buildTrailers(b),
});
await write("handshake.json", {
  profile: "mcp0",
  description:
    "Full Tier 5 handshake, first data messages, ticket, rotation, error reply, resumption (profile §5-§10)",
  ...buildHandshake(b),
});
await write("fragments.json", {
  profile: "mcp0",
  description: "A fragmented payload (profile §12)",
  ...buildFragments(b),
});
await write("counters.json", {
  profile: "mcp0",
  description: "Counter rebuild from the low 24 bits (profile §4)",
  cases: buildCounters(),
  keyId: buildKeyId(b),
});
console.log("wrote docs/vectors/{tiers,trailers,handshake,fragments,counters}.json");
