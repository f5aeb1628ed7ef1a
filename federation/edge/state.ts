/**
 * What the file-backed relay keeps in its data directory, kept in Deno KV
 * for the edge relay: the invite token key (`token.key`) and the admitted
 * hub keys (`federation-hubs.json`, as a {@link HubKeyStore}).
 *
 * @module
 */

import type { CryptoBackend } from "../../core/crypto/types.ts";
import type { FamilyId } from "../family.ts";
import type { HubKeyStore } from "../relay/mod.ts";

/** The invite token key, 32 random bytes created once (first writer wins). */
export async function kvTokenKey(
  be: CryptoBackend,
  kv: Deno.Kv,
  prefix: readonly Deno.KvKeyPart[],
): Promise<Uint8Array> {
  const key = [...prefix, "edge", "token-key"];
  for (;;) {
    const e = await kv.get<Uint8Array>(key);
    if (e.value !== null) return e.value;
    const k = be.randomBytes(32);
    if ((await kv.atomic().check({ key, versionstamp: null }).set(key, k).commit()).ok) return k;
  }
}

/**
 * Admitted hub keys in KV, one entry per key (`["edge","hub",keyHex]` ->
 * family id), so the record never meets the 64 KiB value limit; `save`
 * writes the keys not yet stored (the relay only adds keys).
 */
export function kvHubKeys(kv: Deno.Kv, prefix: readonly Deno.KvKeyPart[]): HubKeyStore {
  const base = [...prefix, "edge", "hub"];
  const stored = new Map<string, FamilyId>();
  return {
    async load() {
      for await (const e of kv.list<string>({ prefix: base })) {
        stored.set(e.key[e.key.length - 1] as string, e.value);
      }
      return new Map(stored);
    },
    async save(keys) {
      let op = kv.atomic();
      let n = 0;
      for (const [k, fam] of keys) {
        if (stored.get(k) === fam) continue;
        op.set([...base, k], fam);
        stored.set(k, fam);
        if (++n === 500) {
          await op.commit();
          op = kv.atomic();
          n = 0;
        }
      }
      if (n > 0) await op.commit();
    },
  };
}
