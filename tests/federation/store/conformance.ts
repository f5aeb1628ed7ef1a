/**
 * The RelayStore conformance suite: what every store behind the seam
 * (`federation/store/types.ts`) must do, written against the interface
 * only. Each implementation's test file calls {@link relayStoreConformance}
 * with a factory; the suite registers one `Deno.test` per behaviour, on
 * real files in a fresh temp directory per test.
 *
 * ```ts
 * relayStoreConformance("sqlite", (dir, o) => openSqliteRelayStore({ path: `${dir}/f.db`, ...o }));
 * ```
 *
 * @module
 */

import { assert, assertEquals, assertRejects } from "../_assert.ts";
import { be } from "../_backends.ts";
import type {
  EnqueueItem,
  EnqueueResult,
  QueueInput,
  RelayStore,
} from "../../../federation/store/types.ts";
import { createFamilyRecord, familyId } from "../../../federation/family.ts";
import { createInvite } from "../../../federation/invite.ts";
import { ErrorCode, MyClerkError } from "../../../core/errors.ts";

/** Options the suite asks a factory for (an implementation honours them or the test fails). */
export interface ConformanceOptions {
  /** Dedupe window, seconds. */
  readonly dedupeWindow?: number;
}

/**
 * Opens the store under test in `dir`: called again with the same `dir`
 * after `close()`, it must reopen the same data.
 */
export type StoreFactory = (
  dir: string,
  o: ConformanceOptions,
) => RelayStore | Promise<RelayStore>;

/** A fixed clock (Unix seconds). */
export const NOW = 1_700_000_000;
const MB = { kind: "mailbox" } as const;

/** A family id made from one byte. */
export const fam = (n: number): string => familyId(be, new Uint8Array(32).fill(n));

/** Message number `i` from `from` to `to` (`size` sealed bytes filled with `i`). */
export function msg(to: string, from: string, i: number, size = 100, ttl = 3600): QueueInput {
  const mid = new Uint8Array(16);
  new DataView(mid.buffer).setUint32(12, i);
  mid[0] = from.charCodeAt(0);
  mid[1] = to.charCodeAt(0);
  return {
    to,
    from,
    fromKey: new Uint8Array(32).fill(7),
    mid,
    ttl,
    hops: 1,
    sealed: new Uint8Array(size).fill(i & 0xff),
  };
}

const item = (message: QueueInput, lane: EnqueueItem["lane"] = MB): EnqueueItem => ({
  lane,
  message,
});

/** Enqueues `ms` in one group and waits until durable; the results. */
async function put(
  s: RelayStore,
  ms: readonly QueueInput[],
  now = NOW,
  lane: EnqueueItem["lane"] = MB,
): Promise<readonly (EnqueueResult | MyClerkError)[]> {
  const b = await s.enqueueBatch(ms.map((m) => item(m, lane)), now);
  await b.durable;
  return b.results;
}

function status(r: EnqueueResult | MyClerkError): string {
  return r instanceof MyClerkError ? `error:${r.detail}` : r.status;
}

/** Registers the suite for implementation `name`. */
export function relayStoreConformance(name: string, open: StoreFactory): void {
  const t = (
    what: string,
    f: (s: RelayStore, reopen: () => Promise<RelayStore>) => Promise<void>,
  ) =>
    Deno.test(`relay store conformance (${name}): ${what}`, async () => {
      const dir = await Deno.makeTempDir({ prefix: `store-conf-${name}-` });
      const opened: RelayStore[] = [];
      const o: ConformanceOptions = { dedupeWindow: 1000 };
      try {
        const s = await open(dir, o);
        opened.push(s);
        await f(s, async () => {
          for (const x of opened) await x.close();
          const n = await open(dir, o);
          opened.push(n);
          return n;
        });
      } finally {
        for (const x of opened) await x.close();
        await Deno.remove(dir, { recursive: true });
      }
    });

  t("enqueue stores with increasing seqs, dedupes by recipient and mid", async (s) => {
    const bob = fam(2);
    const r = await put(s, [msg(bob, fam(1), 0), msg(bob, fam(1), 1), msg(bob, fam(1), 0)]);
    assertEquals(r.map(status), ["stored", "stored", "duplicate"]);
    const seqs = r.slice(0, 2).map((x) => (x as { seq: number }).seq);
    assert(seqs[1] > seqs[0], `seqs increase: ${seqs}`);
    // Same mid for another recipient is another message.
    const other = { ...msg(bob, fam(1), 0), to: fam(3) };
    assertEquals((await put(s, [other])).map(status), ["stored"]);
    // A later group still sees the dedupe entry.
    assertEquals((await put(s, [msg(bob, fam(1), 1)])).map(status), ["duplicate"]);
    assertEquals((await s.queueStatus(MB, bob)).depth, 2);
  });

  t(
    "fetchWindow keeps per-sender order, moves by cursor, honours limit, budget and cut",
    async (s) => {
      const bob = fam(2);
      const a = fam(1);
      const c = fam(3);
      const ms: QueueInput[] = [];
      for (let i = 0; i < 10; i++) ms.push(msg(bob, a, i), msg(bob, c, i));
      ms.push(msg(fam(9), a, 99));
      await put(s, ms);
      const all = await s.fetchWindow(bob, 0, 100, Infinity);
      assertEquals([all.rows.length, all.cut], [20, false]);
      for (const sender of [a, c]) {
        const ids = all.rows.filter((m) => m.from === sender).map((m) => m.sealed[0]);
        assertEquals(ids, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
      }
      const r0 = all.rows[0];
      assertEquals([r0.to, r0.from, r0.ttl, r0.hops, r0.received], [bob, a, 3600, 1, NOW]);
      assertEquals(r0.fromKey, new Uint8Array(32).fill(7));
      assertEquals(r0.expires, NOW + 3600);
      const first = await s.fetchWindow(bob, 0, 3, Infinity);
      assertEquals([first.rows.length, first.cut], [3, false]);
      const next = await s.fetchWindow(bob, first.rows[2].seq, 3, Infinity);
      assertEquals(next.rows.map((m) => m.seq), all.rows.slice(3, 6).map((m) => m.seq));
      // 100-byte messages, 250-byte budget: two rows, and the budget cut it.
      const b = await s.fetchWindow(bob, 0, 100, 250);
      assertEquals([b.rows.length, b.cut], [2, true]);
      // Never zero rows when something waits.
      const one = await s.fetchWindow(bob, 0, 100, 10);
      assertEquals([one.rows.length, one.cut], [1, true]);
      // The tail: fewer than limit and no cut means nothing more.
      const tail = await s.fetchWindow(bob, all.rows[17].seq, 100, 1000);
      assertEquals([tail.rows.length, tail.cut], [2, false]);
      // Budget exactly met at the limit is no cut.
      const exact = await s.fetchWindow(bob, 0, 4, 400);
      assertEquals([exact.rows.length, exact.cut], [4, false]);
      const empty = await s.fetchWindow(fam(5), 0, 10, Infinity);
      assertEquals([empty.rows.length, empty.cut], [0, false]);
    },
  );

  t("quota errors are per item and roll back nothing else", async (s) => {
    const bob = fam(2);
    s.setDefaultQuota({ messages: 3, bytes: 1 << 20 });
    const r = await put(s, [0, 1, 2, 3, 4].map((i) => msg(bob, fam(1), i)));
    assertEquals(r.map(status), ["stored", "stored", "stored", "error:quota", "error:quota"]);
    const e = r[3] as MyClerkError;
    assertEquals(e.code, ErrorCode.FED_QUOTA_EXCEEDED);
    assertEquals(
      [e.extra.quota, e.extra.used, e.extra.limit, e.extra.family],
      ["messages", 3, 3, bob],
    );
    // Another family in the same group is not held back.
    const mixed = await put(s, [msg(fam(3), fam(1), 7), msg(bob, fam(1), 8)]);
    assertEquals(mixed.map(status), ["stored", "error:quota"]);
    // A message already stored is a duplicate, not a quota error, even when full.
    assertEquals((await put(s, [msg(bob, fam(1), 1)])).map(status), ["duplicate"]);
    const u = await s.usage(bob);
    assertEquals([u.messages, u.bytes, u.quota.messages], [3, 300, 3]);
    // Bytes quota.
    s.setDefaultQuota({ messages: 100, bytes: 350 });
    const rb = await put(s, [msg(fam(4), fam(1), 1, 200), msg(fam(4), fam(1), 2, 200)]);
    assertEquals(rb.map(status), ["stored", "error:quota"]);
    const eb = rb[1] as MyClerkError;
    assertEquals([eb.extra.quota, eb.extra.used, eb.extra.limit], ["bytes", 200, 350]);
    // Acks free the quota.
    await s.ack(MB, bob, [msg(bob, fam(1), 0).mid]);
    s.setDefaultQuota({ messages: 3, bytes: 1 << 20 });
    assertEquals((await put(s, [msg(bob, fam(1), 9)])).map(status), ["stored"]);
  });

  t("ack deletes, counts, is idempotent, frees usage; dedupe outlives the ack", async (s) => {
    const bob = fam(2);
    const ms = [0, 1, 2].map((i) => msg(bob, fam(1), i));
    await put(s, ms);
    assertEquals(await s.ack(MB, bob, [ms[0].mid, ms[1].mid], { durable: false }), 2);
    assertEquals(await s.ack(MB, bob, [ms[0].mid], { durable: false }), 0);
    assertEquals(await s.ack(MB, fam(3), [ms[2].mid]), 0); // another family's mid
    assertEquals(await s.ack(MB, bob, [ms[2].mid]), 1);
    assertEquals((await s.usage(bob)).messages, 0);
    assertEquals(await s.queueStatus(MB, bob), { depth: 0, bytes: 0, oldest: 0 });
    assertEquals((await put(s, [ms[1]])).map(status), ["duplicate"]);
  });

  t(
    "dedupe after the message left: delivered, forwarded, reopened; the window counts from arrival",
    async (s, reopen) => {
      const bob = fam(2);
      const peer = { kind: "peer", peer: 0x1234 } as const;
      const m0 = msg(bob, fam(1), 0, 100, 60); // window: max(ttl 60, 1000) = 1000 s
      const m1 = msg(bob, fam(1), 1);
      const fwd = msg(fam(9), fam(1), 2);
      await put(s, [m0, m1]);
      await put(s, [fwd], NOW, peer);
      // A queued mid is a duplicate in a later group.
      assertEquals((await put(s, [m0])).map(status), ["duplicate"]);
      assertEquals(await s.ack(MB, bob, [m0.mid], { durable: false }), 1);
      assertEquals(await s.ackPeer(0x1234, [{ to: fam(9), mid: fwd.mid }]), 1);
      assertEquals((await put(s, [m0, m1])).map(status), ["duplicate", "duplicate"]);
      assertEquals((await put(s, [fwd], NOW, peer)).map(status), ["duplicate"]);
      const s2 = await reopen();
      assertEquals((await put(s2, [m0], NOW + 10)).map(status), ["duplicate"]);
      assertEquals((await put(s2, [fwd], NOW + 10, peer)).map(status), ["duplicate"]);
      // The window (1000 s) started when m0 arrived, not when it was acked.
      await s2.sweep(NOW + 1001);
      assertEquals((await put(s2, [m0], NOW + 1002)).map(status), ["stored"]);
      assertEquals((await s2.queueStatus(MB, bob)).depth, 2);
    },
  );

  t("acks keep call order with the writes and reads around them", async (s) => {
    const bob = fam(2);
    const m0 = msg(bob, fam(1), 0);
    const m1 = msg(bob, fam(1), 1);
    // Enqueue, then (same turn, nothing awaited) ack it: the ack sees the message.
    const pb = s.enqueueBatch([item(m0)], NOW);
    const pa = s.ack(MB, bob, [m0.mid], { durable: false });
    const [b, n] = await Promise.all([pb, pa]);
    await b.durable;
    assertEquals(n, 1);
    // Ack before the enqueue of the same mid: the ack finds nothing, the message stays.
    const pa2 = s.ack(MB, bob, [m1.mid], { durable: false });
    const pb2 = s.enqueueBatch([item(m1)], NOW);
    assertEquals(await pa2, 0);
    await (await pb2).durable;
    assertEquals((await s.queueStatus(MB, bob)).depth, 1);
    // Reads made after an ack (not awaited) see it applied.
    await put(s, [2, 3, 4].map((i) => msg(bob, fam(1), i)));
    const acked = s.ack(MB, bob, [m1.mid, msg(bob, fam(1), 2).mid], { durable: false });
    const w = await s.fetchWindow(bob, 0, 2, Infinity);
    assertEquals(w.rows.map((r) => r.sealed[0]), [3, 4]);
    assertEquals((await s.queueStatus(MB, bob)).depth, 2);
    assertEquals(await acked, 2);
    const st = await s.stats();
    assertEquals(st.queuedMessages, 2);
  });

  t(
    "a fetch past pending acks fills its limit and byte budget from the rows after them",
    async (s) => {
      const bob = fam(2);
      await put(s, [10, 11, 12, 13, 14, 15].map((i) => msg(bob, fam(1), i)));
      // Three acks pending (same turn, not awaited): a fetch reads past them, in more than one
      // chunk when they fill the first, and still gives `limit` rows, or the byte budget's worth.
      const mids = [10, 11, 12].map((i) => msg(bob, fam(1), i).mid);
      const acked = s.ack(MB, bob, mids, { durable: false });
      const byLimit = await s.fetchWindow(bob, 0, 2, Infinity);
      assertEquals(byLimit.rows.map((r) => r.sealed[0]), [13, 14]);
      const byBytes = await s.fetchWindow(bob, 0, 10, 250);
      assertEquals(byBytes.rows.map((r) => r.sealed[0]), [13, 14]);
      assertEquals(byBytes.cut, true);
      // From a cursor behind the acked rows, as a session that pushed them reads next.
      const after = await s.fetchWindow(bob, byLimit.rows[0].seq, 10, Infinity);
      assertEquals(after.rows.map((r) => r.sealed[0]), [14, 15]);
      assertEquals(after.cut, false);
      assertEquals(await acked, 3);
      assertEquals((await s.queueStatus(MB, bob)).depth, 3);
    },
  );

  t("peer lanes: fetchPeer across recipients, budget, ackPeer", async (s) => {
    const peer = { kind: "peer", peer: 0xabcdef } as const;
    await put(
      s,
      [msg(fam(8), fam(1), 1), msg(fam(9), fam(1), 2), msg(fam(8), fam(1), 3)],
      NOW,
      peer,
    );
    await put(s, [msg(fam(8), fam(1), 4)], NOW, { kind: "peer", peer: 5 });
    await put(s, [msg(fam(8), fam(1), 5)]);
    const rows = await s.fetchPeer(0xabcdef, 0, 10, Infinity);
    assertEquals(rows.map((m) => [m.to, m.sealed[0]]), [[fam(8), 1], [fam(9), 2], [fam(8), 3]]);
    assertEquals((await s.fetchPeer(0xabcdef, 0, 10, 150)).length, 1);
    assertEquals((await s.fetchPeer(0xabcdef, rows[0].seq, 1, Infinity)).map((m) => m.to), [
      fam(9),
    ]);
    // A peer ack names recipient and mid; the mailbox copy of another message is untouched.
    assertEquals(await s.ackPeer(0xabcdef, [{ to: fam(8), mid: rows[0].mid }]), 1);
    assertEquals(await s.ackPeer(0xabcdef, [{ to: fam(8), mid: rows[0].mid }]), 0);
    assertEquals((await s.queueStatus(peer)).depth, 2);
    assertEquals((await s.queueStatus({ kind: "peer", peer: 5 })).depth, 1);
    assertEquals((await s.queueStatus(MB, fam(8))).depth, 1);
    const st = await s.stats();
    assertEquals(st.peers.map((p) => [p.peer, p.depth, p.bytes, p.oldest]), [
      [5, 1, 100, NOW],
      [0xabcdef, 2, 200, NOW],
    ]);
    // A peer ack not yet awaited is already applied for the next fetch (call order).
    const pp = s.ackPeer(0xabcdef, [{ to: fam(9), mid: rows[1].mid }]);
    assertEquals((await s.fetchPeer(0xabcdef, 0, 10, Infinity)).map((m) => m.sealed[0]), [3]);
    assertEquals(await pp, 1);
    assertEquals((await s.queueStatus(peer)).depth, 1);
  });

  t("sweep removes expired messages, records notices; dedupe window ends", async (s) => {
    const bob = fam(2);
    const alice = fam(1);
    const short = msg(bob, alice, 1, 10, 60);
    const long = msg(bob, alice, 2, 10, 5000);
    const capped = { ...msg(bob, alice, 3, 10, 5000), expiresBy: NOW + 30 };
    await put(s, [short, long, capped]);
    assertEquals((await s.sweep(NOW + 29)).length, 0);
    const ex = await s.sweep(NOW + 60);
    assertEquals(
      ex.map((e) => [e.to, e.from, e.mid, e.size, e.expired]).sort((x, y) =>
        (x[4] as number) - (y[4] as number)
      ),
      [[bob, alice, capped.mid, 10, NOW + 30], [bob, alice, short.mid, 10, NOW + 60]],
    );
    assertEquals((await s.fetchWindow(bob, 0, 10, Infinity)).rows.map((m) => m.mid), [long.mid]);
    assertEquals((await s.pendingNotices(alice)).map((n) => n.mid).length, 2);
    assertEquals(await s.noticeSenders(), [alice]);
    await s.clearNotices(alice, [short.mid, capped.mid]);
    assertEquals((await s.pendingNotices(alice)).length, 0);
    assertEquals(await s.noticeSenders(), []);
    assertEquals((await s.usage(bob)).messages, 1);
    // Forwarded notices for a family homed here.
    await s.addNotices(fam(6), fam(7), [short.mid], NOW);
    assertEquals((await s.pendingNotices(fam(6))).map((n) => [n.to, n.mid]), [[fam(7), short.mid]]);
    assertEquals((await s.stats()).pendingNotices, 1);
    // Inside the dedupe window (1000 s) an expired mid is still a duplicate; after it, new again.
    assertEquals((await put(s, [short], NOW + 500)).map(status), ["duplicate"]);
    await s.sweep(NOW + 1001);
    assertEquals((await put(s, [short], NOW + 1002)).map(status), ["stored"]);
    // A TTL above the max is cut.
    s.setMaxTtl(100);
    await put(s, [msg(fam(4), alice, 9, 10, 999_999)]);
    assertEquals((await s.fetchWindow(fam(4), 0, 1, Infinity)).rows[0].expires, NOW + 100);
  });

  t("families, invites, stats; durable data survives close and reopen", async (s, reopen) => {
    const rec = createFamilyRecord(be, {
      name: "Ito",
      key: new Uint8Array(32).fill(4),
      home: 77,
      created: NOW,
    });
    await s.putFamily(rec, true, NOW);
    const learned = createFamilyRecord(be, {
      name: "Abe",
      key: new Uint8Array(32).fill(5),
      home: 78,
      created: NOW,
    });
    await s.putFamily(learned, false, NOW, { messages: 5, bytes: 500 });
    const { invite } = createInvite(be, new Uint8Array(32), { relayKeyId: 77, expires: NOW + 60 });
    await s.addInvite(invite, NOW);
    const deny = async (f: () => Promise<unknown>, d: string) => {
      const e = await assertRejects(f, MyClerkError);
      assertEquals([e.code, e.detail], [ErrorCode.FED_ADMISSION_DENIED, d]);
    };
    await deny(() => s.redeemInvite(new Uint8Array(16), rec.id, NOW), "token-unknown");
    await s.redeemInvite(invite.tokenId, rec.id, NOW);
    await deny(() => s.redeemInvite(invite.tokenId, rec.id, NOW), "token-used");
    const late = createInvite(be, new Uint8Array(32), { relayKeyId: 77, expires: NOW + 1 }).invite;
    await s.addInvite(late, NOW);
    await deny(() => s.redeemInvite(late.tokenId, rec.id, NOW + 1), "token-expired");
    await put(s, [msg(rec.id, fam(1), 3), msg(rec.id, fam(1), 4, 50)]);
    const st = await s.stats();
    assertEquals(
      [st.families, st.localFamilies, st.queuedMessages, st.queuedBytes, st.invitesOpen],
      [2, 1, 2, 150, 1],
    );
    assertEquals(st.mailboxes.map((m) => [m.family, m.depth, m.bytes]), [[rec.id, 2, 150]]);
    assert(st.dedupeEntries >= 2, `dedupe entries ${st.dedupeEntries}`);
    const s2 = await reopen();
    const got = await s2.getFamily(be, rec.id);
    assertEquals([got?.record, got?.local, got?.admitted], [rec, true, NOW]);
    assertEquals((await s2.getFamily(be, learned.id))?.quota, { messages: 5, bytes: 500 });
    assertEquals(await s2.getFamily(be, fam(9)), undefined);
    assertEquals(
      (await s2.listFamilies(be)).map((f) => f.record.id).sort(),
      [rec.id, learned.id].sort(),
    );
    // Its own quota applies to enqueues.
    const over = await put(s2, [0, 1, 2, 3, 4, 5].map((i) => msg(learned.id, fam(1), i)));
    assertEquals(over.map(status).filter((x) => x === "stored").length, 5);
    assertEquals((await s2.fetchWindow(rec.id, 0, 10, Infinity)).rows.length, 2);
    await deny(() => s2.redeemInvite(invite.tokenId, rec.id, NOW), "token-used");
  });

  t(
    "durable resolves for every group; acked deletes and stored rows persist",
    async (s, reopen) => {
      const bob = fam(2);
      // Many groups in flight at once: every durable resolves (shared syncs), in any order.
      const groups = await Promise.all(
        Array.from({ length: 20 }, (_, g) =>
          s.enqueueBatch(
            [0, 1, 2, 3, 4].map((i) => item(msg(bob, fam(1), g * 10 + i))),
            NOW,
          )),
      );
      await Promise.all(groups.map((b) => b.durable));
      assertEquals(
        groups.flatMap((b) => b.results).filter((r) => status(r) === "stored").length,
        100,
      );
      const rows = (await s.fetchWindow(bob, 0, 10, Infinity)).rows;
      assertEquals(await s.ack(MB, bob, rows.map((r) => r.mid), { durable: false }), 10);
      // A durable write after the relaxed ack makes the ack durable too.
      await put(s, [msg(fam(3), fam(1), 1)]);
      const s2 = await reopen();
      assertEquals((await s2.queueStatus(MB, bob)).depth, 90);
      assertEquals((await s2.queueStatus(MB, fam(3))).depth, 1);
    },
  );

  t("close flushes pending acks, is idempotent, and later calls fail", async (s, reopen) => {
    const bob = fam(2);
    const ms = [0, 1].map((i) => msg(bob, fam(1), i));
    await put(s, ms);
    const pa = s.ack(MB, bob, [ms[0].mid], { durable: false });
    await s.close();
    assertEquals(await pa, 1);
    await s.close();
    await assertRejects(() => s.enqueueBatch([item(msg(bob, fam(1), 5))], NOW), Error);
    const s2 = await reopen();
    assertEquals((await s2.queueStatus(MB, bob)).depth, 1);
  });
}
