/**
 * The store manifest and the checked open (federation/manifest.ts,
 * storeopen.ts) on real files: a new store gets a manifest; the mark only
 * moves forward and survives a torn slot; a store swapped for another, one
 * rolled back behind the mark, a newer schema and a damaged manifest are
 * refused with the path and a fix; a store from before manifests is adopted.
 */

import { assert, assertEquals, assertThrows } from "./_assert.ts";
import { MyClerkError } from "../../core/errors.ts";
import { decodeManifest, manifestPath, readManifest } from "../../federation/manifest.ts";
import { FED_SCHEMA_VERSION, FedStore } from "../../federation/store.ts";
import { DatabaseSync } from "node:sqlite";

async function withDir(f: (dir: string) => Promise<void> | void): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "myclerk-manifest-" });
  try {
    await f(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

function refused(f: () => unknown, detail: string, path: string): MyClerkError {
  const e = assertThrows(f, MyClerkError);
  assertEquals(e.detail, detail, e.message);
  assertEquals(e.extra.path, path);
  assert(typeof e.extra.fix === "string" && e.extra.fix.length > 10, "a fix");
  return e;
}

Deno.test("manifest: created with the store, mark moves forward, a torn slot falls back", async () => {
  await withDir(async (dir) => {
    const path = `${dir}/federation.db`;
    const s = FedStore.open({ path });
    assertEquals(s.opened.created, true);
    const m0 = readManifest(path)!;
    assertEquals(m0.kind, "federation");
    assertEquals(m0.id, s.opened.id);
    s.setQuota("0".repeat(32), { messages: 1 }); // a durable commit: counter +1
    const h = s.hwm;
    assert(h >= 1);
    await s.recordAcked(h);
    await s.recordAcked(h - 1); // never backwards
    assertEquals(readManifest(path)!.hwm, h);
    s.close();
    // Tear the slot that holds the newest mark: the other one still decodes.
    const bytes = await Deno.readFile(manifestPath(path));
    const newest = decodeManifest(bytes.subarray(0, 256))?.hwm === h ? 0 : 256;
    bytes[newest + 40] ^= 0xff;
    const m = decodeManifest(bytes);
    assert(m !== undefined, "the other slot survives");
    assert(m.hwm <= h);
    bytes[(256 - newest) + 40] ^= 0xff;
    assertEquals(decodeManifest(bytes), undefined, "both torn: invalid");
    await Deno.writeFile(manifestPath(path), bytes);
    refused(() => FedStore.open({ path }), "store-manifest-damaged", manifestPath(path));
  });
});

Deno.test("manifest: another store copied in, a rolled-back store, a newer schema are refused", async () => {
  await withDir(async (dir) => {
    const a = `${dir}/a/federation.db`;
    const b = `${dir}/b/federation.db`;
    await Deno.mkdir(`${dir}/a`);
    await Deno.mkdir(`${dir}/b`);
    FedStore.open({ path: a }).close();
    FedStore.open({ path: b }).close();
    // b's database under a's manifest.
    await Deno.copyFile(b, a);
    refused(() => FedStore.open({ path: a }), "store-other", a);
    await Deno.remove(a);
    await Deno.remove(manifestPath(a));
    // A store behind its acknowledged mark.
    const s = FedStore.open({ path: a });
    const before = `${dir}/before.db`;
    s.close();
    await Deno.copyFile(a, before);
    const s2 = FedStore.open({ path: a });
    s2.setQuota("0".repeat(32), { messages: 1 });
    await s2.recordAcked(s2.hwm);
    s2.close();
    await Deno.copyFile(before, a);
    const e = refused(() => FedStore.open({ path: a }), "store-behind", a);
    assert(Number(e.extra.acknowledged) > Number(e.extra.commits), JSON.stringify(e.extra));
    // Newer schema.
    const d = new DatabaseSync(b);
    d.exec(`UPDATE meta SET v = '${FED_SCHEMA_VERSION + 1}' WHERE k = 'schema'`);
    d.close();
    const n = refused(() => FedStore.open({ path: b }), "store-newer", b);
    assertEquals(n.extra.version, FED_SCHEMA_VERSION + 1);
  });
});

Deno.test("manifest: a store from before versioning is adopted and migrated", async () => {
  await withDir((dir) => {
    const path = `${dir}/federation.db`;
    FedStore.open({ path }).close();
    const d = new DatabaseSync(path);
    d.exec("DELETE FROM meta");
    d.close();
    Deno.removeSync(manifestPath(path));
    const s = FedStore.open({ path });
    assertEquals(s.opened.created, false);
    assertEquals(s.opened.migratedFrom, 0);
    s.close();
    assertEquals(readManifest(path)?.id, s.opened.id);
    // Evidence of earlier use and an empty store: refused, not created.
    Deno.removeSync(path);
    Deno.removeSync(manifestPath(path));
    refused(
      () => FedStore.open({ path, evidence: "federation-hubs.json lists 2 admitted hubs" }),
      "store-empty",
      path,
    );
  });
});
