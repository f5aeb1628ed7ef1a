/**
 * The store manifest and the checked open (federation/manifest.ts,
 * federation/store/sqlite_open.ts) on real files: a new store gets a manifest; the mark only
 * moves forward and survives a torn slot; a store swapped for another, one
 * rolled back behind the mark, a newer schema and a damaged manifest are
 * refused with the path and a fix; a store from before manifests is adopted.
 */

import { assert, assertEquals, assertThrows } from "./_assert.ts";
import { MyClerkError } from "../../core/errors.ts";
import { decodeManifest, manifestPath, readManifest } from "../../federation/manifest.ts";
import { FED_SCHEMA_VERSION, SqliteRelayStore } from "../../federation/store/mod.ts";
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
    const s = SqliteRelayStore.open({ path });
    assertEquals(s.opened.created, true);
    const m0 = readManifest(path)!;
    assertEquals(m0.kind, "federation");
    assertEquals(m0.id, s.opened.id);
    const h0 = m0.hwm;
    // A durable commit: counter +1, marked in the manifest before the call resolves.
    await s.setQuota("0".repeat(32), { messages: 1 });
    const h = s.hwm;
    assertEquals(h, h0 + 1);
    assertEquals(readManifest(path)!.hwm, h);
    await s.whenDurable(); // nothing new: the mark stays
    assertEquals(readManifest(path)!.hwm, h);
    await s.close();
    // A later handle never moves the mark backwards.
    await SqliteRelayStore.open({ path }).close();
    assertEquals(readManifest(path)!.hwm, h);
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
    refused(() => SqliteRelayStore.open({ path }), "store-manifest-damaged", manifestPath(path));
  });
});

Deno.test("manifest: another store copied in, a rolled-back store, a newer schema are refused", async () => {
  await withDir(async (dir) => {
    const a = `${dir}/a/federation.db`;
    const b = `${dir}/b/federation.db`;
    await Deno.mkdir(`${dir}/a`);
    await Deno.mkdir(`${dir}/b`);
    SqliteRelayStore.open({ path: a }).closeSync();
    SqliteRelayStore.open({ path: b }).closeSync();
    // b's database under a's manifest.
    await Deno.copyFile(b, a);
    refused(() => SqliteRelayStore.open({ path: a }), "store-other", a);
    await Deno.remove(a);
    await Deno.remove(manifestPath(a));
    // A store behind its acknowledged mark.
    const s = SqliteRelayStore.open({ path: a });
    const before = `${dir}/before.db`;
    await s.close();
    await Deno.copyFile(a, before);
    const s2 = SqliteRelayStore.open({ path: a });
    await s2.setQuota("0".repeat(32), { messages: 1 }); // durable and marked on return
    await s2.close();
    await Deno.copyFile(before, a);
    const e = refused(() => SqliteRelayStore.open({ path: a }), "store-behind", a);
    assert(Number(e.extra.acknowledged) > Number(e.extra.commits), JSON.stringify(e.extra));
    // Newer schema.
    const d = new DatabaseSync(b);
    d.exec(`UPDATE meta SET v = '${FED_SCHEMA_VERSION + 1}' WHERE k = 'schema'`);
    d.close();
    const n = refused(() => SqliteRelayStore.open({ path: b }), "store-newer", b);
    assertEquals(n.extra.version, FED_SCHEMA_VERSION + 1);
  });
});

Deno.test("manifest: a store from before versioning is adopted and migrated", async () => {
  await withDir((dir) => {
    const path = `${dir}/federation.db`;
    SqliteRelayStore.open({ path }).closeSync();
    const d = new DatabaseSync(path);
    d.exec("DELETE FROM meta");
    d.close();
    Deno.removeSync(manifestPath(path));
    const s = SqliteRelayStore.open({ path });
    assertEquals(s.opened.created, false);
    assertEquals(s.opened.migratedFrom, 0);
    s.closeSync();
    assertEquals(readManifest(path)?.id, s.opened.id);
    // Evidence of earlier use and an empty store: refused, not created.
    Deno.removeSync(path);
    Deno.removeSync(manifestPath(path));
    refused(
      () => SqliteRelayStore.open({ path, evidence: "federation-hubs.json lists 2 admitted hubs" }),
      "store-empty",
      path,
    );
  });
});
