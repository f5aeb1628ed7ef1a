import { assert, assertEquals, assertThrows } from "./_assert.ts";
import { backends, toHex } from "./_backends.ts";
import {
  createFamilyRecord,
  decodeFamily,
  encodeFamily,
  familyId,
  familyKeyFacts,
  familyKeyId,
  familyToMap,
} from "../../federation/family.ts";
import { encodeMsgpack } from "../../federation/codec.ts";
import { ErrorCode, MyClerkError } from "../../core/errors.ts";

for (const be of backends) {
  Deno.test(`family[${be.name}]: id and key id are the SHA-256 prefixes of the key`, () => {
    const key = new Uint8Array(32).map((_, i) => i);
    const h = be.sha256(key);
    assertEquals(familyId(be, key), toHex(h.subarray(0, 16)));
    assertEquals(familyKeyId(be, key), new DataView(h.buffer, h.byteOffset).getUint32(0, false));
    assert(/^[0-9a-f]{32}$/.test(familyId(be, key)));
  });

  Deno.test(`family[${be.name}]: record round trip, and forged id/key id are rejected`, () => {
    const kp = be.x25519Generate();
    const rec = createFamilyRecord(be, {
      name: "Müller",
      key: kp.publicKey,
      home: 0xdeadbeef,
      homeAddr: "relay.example:5657",
      created: 1_700_000_000,
    });
    assertEquals(decodeFamily(be, encodeFamily(rec)), rec);
    const other = be.x25519Generate().publicKey;
    const bad = (m: Record<string, unknown>, detail: string) => {
      const e = assertThrows(() => decodeFamily(be, encodeMsgpack(m)), MyClerkError);
      assertEquals(e.code, ErrorCode.BAD_REQUEST);
      assertEquals(e.detail, detail);
    };
    // Someone else's key under this family's id: the id no longer matches.
    bad({ ...familyToMap(rec), key: other }, "family-id-mismatch");
    bad({ ...familyToMap(rec), "key-id": (rec.keyId + 1) >>> 0 }, "family-key-id-mismatch");
    bad({ ...familyToMap(rec), id: "ABC" }, "field:id");
    bad({ ...familyToMap(rec), name: "" }, "field:name");
    bad({ ...familyToMap(rec), key: new Uint8Array(31) }, "field:key");
    bad({ ...familyToMap(rec), home: -1 }, "field:home");
    const e = assertThrows(() => decodeFamily(be, new Uint8Array([0xc1])), MyClerkError);
    assertEquals(e.code, ErrorCode.BAD_REQUEST);
  });
}

Deno.test("familyKeyFacts: memoised per key array, recomputed when the key changes in place", () => {
  const be = backends[0];
  const key = new Uint8Array(32).map((_, i) => 3 * i);
  const a = familyKeyFacts(be, key);
  assertEquals(a.id, familyId(be, key));
  assertEquals(a.keyId, familyKeyId(be, key));
  assert(familyKeyFacts(be, key) === a, "second call served from the cache");
  key[5] ^= 1;
  const b = familyKeyFacts(be, key);
  assertEquals(b.id, familyId(be, key));
  assertEquals(b.keyId, familyKeyId(be, key));
  assert(b.id !== a.id);
  assertThrows(() => familyKeyFacts(be, new Uint8Array(31)), MyClerkError);
});
