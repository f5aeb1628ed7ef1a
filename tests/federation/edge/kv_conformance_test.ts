/**
 * The RelayStore conformance suite on the Deno KV store (the edge relay's),
 * on a real KV database file per test, plus what only KV shows: envelopes
 * larger than a KV value are chunked and come back whole, and a group
 * larger than one atomic commit's limits is stored in full.
 *
 * @module
 */

import { assert, assertEquals } from "../_assert.ts";
import { fam, msg, NOW, relayStoreConformance } from "../store/conformance.ts";
import { INLINE_MAX, KvRelayStore } from "../../../federation/store/kv_relay.ts";

const MB = { kind: "mailbox" } as const;

relayStoreConformance(
  "kv",
  (dir, o) => KvRelayStore.open({ path: `${dir}/relay.kv`, ...o }),
);

async function withKv(f: (s: KvRelayStore, path: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "kv-store-" });
  const path = `${dir}/relay.kv`;
  const s = await KvRelayStore.open({ path });
  try {
    await f(s, path);
  } finally {
    await s.close();
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("kv store: envelopes past the 64 KiB value limit are chunked and read back whole", async () => {
  await withKv(async (s, path) => {
    const bob = fam(2);
    const sizes = [INLINE_MAX, INLINE_MAX + 1, 1 << 20, 3 * 1024 * 1024 + 17];
    const ms = sizes.map((n, i) => {
      const m = msg(bob, fam(1), i, n);
      const sealed = new Uint8Array(n);
      for (let j = 0; j < n; j++) sealed[j] = (j * 31 + i) & 0xff;
      return { ...m, sealed };
    });
    const b = await s.enqueueBatch(ms.map((message) => ({ lane: MB, message })), NOW);
    await b.durable;
    assertEquals(
      b.results.map((r): string | false => "status" in r && r.status),
      sizes.map((): string | false => "stored"),
    );
    const w = await s.fetchWindow(bob, 0, 10, Infinity);
    assertEquals(w.rows.length, 4);
    for (let i = 0; i < 4; i++) assertEquals(w.rows[i].sealed, ms[i].sealed, `message ${i}`);
    assertEquals((await s.usage(bob)).bytes, sizes.reduce((a, b) => a + b, 0));
    // The chunks are real KV entries, and the ack removes them with the row.
    const raw = await Deno.openKv(path);
    try {
      let blobs = 0;
      for await (const _ of raw.list({ prefix: ["blob"] })) blobs++;
      assert(blobs >= 3 * 16 + 17, `blob chunks ${blobs}`);
      assertEquals(await s.ack(MB, bob, ms.map((m) => m.mid)), 4);
      blobs = 0;
      for await (const _ of raw.list({ prefix: ["blob"] })) blobs++;
      assertEquals(blobs, 0);
    } finally {
      raw.close();
    }
    assertEquals(await s.queueStatus(MB, bob), { depth: 0, bytes: 0, oldest: 0 });
  });
});

Deno.test("kv store: one group past an atomic commit's limits (1000 mutations, 800 KiB) stores every item", async () => {
  await withKv(async (s) => {
    const bob = fam(2);
    // 600 messages of 4 KiB: 2.4 MiB and ~3000 mutations, far past one KV commit.
    const ms = Array.from({ length: 600 }, (_, i) => msg(bob, fam(1 + (i % 3)), i, 4096));
    const b = await s.enqueueBatch(ms.map((message) => ({ lane: MB, message })), NOW);
    const seqs = b.results.map((r) => ("seq" in r ? r.seq : -1));
    assertEquals(seqs.filter((x) => x > 0).length, 600);
    assert(seqs.every((x, i) => i === 0 || x > seqs[i - 1]), "seqs increase in item order");
    const st = await s.stats();
    assertEquals([st.queuedMessages, st.queuedBytes, st.dedupeEntries], [600, 600 * 4096, 600]);
    let after = 0;
    let n = 0;
    for (;;) {
      const w = await s.fetchWindow(bob, after, 128, Infinity);
      if (w.rows.length === 0) break;
      n += w.rows.length;
      after = w.rows[w.rows.length - 1].seq;
    }
    assertEquals(n, 600);
    // 600 acks in one turn: one coalesced group, itself cut into several commits.
    const counts = await Promise.all(
      ms.map((m) => s.ack(MB, bob, [m.mid], { durable: false })),
    );
    assertEquals(counts.reduce((a, b) => a + b, 0), 600);
    assertEquals((await s.stats()).queuedMessages, 0);
  });
});
