import { assert, assertEquals, assertThrows } from "./_assert.ts";
import { be } from "./_backends.ts";
import { FedStore, type QueueInput } from "../../federation/store.ts";
import { createFamilyRecord, familyId } from "../../federation/family.ts";
import { createInvite } from "../../federation/invite.ts";
import { sealEnvelope } from "../../federation/envelope.ts";
import { ErrorCode, MyClerkError } from "../../core/errors.ts";

const NOW = 1_700_000_000;
const MB = { kind: "mailbox" } as const;

async function withStore(
  f: (
    dir: string,
    open: (o?: Partial<Parameters<typeof FedStore.open>[0]>) => FedStore,
  ) => void | Promise<void>,
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "fedstore-" });
  const opened: FedStore[] = [];
  try {
    await f(dir, (o = {}) => {
      const s = FedStore.open({ path: `${dir}/federation.db`, ...o });
      opened.push(s);
      return s;
    });
  } finally {
    for (const s of opened) s.close();
    await Deno.remove(dir, { recursive: true });
  }
}

const fam = (n: number) => familyId(be, new Uint8Array(32).fill(n));
function msg(to: string, from: string, i: number, size = 100, ttl = 3600): QueueInput {
  const mid = new Uint8Array(16);
  new DataView(mid.buffer).setUint32(12, i);
  mid[0] = from.charCodeAt(0);
  return {
    to,
    from,
    fromKey: new Uint8Array(32),
    mid,
    ttl,
    hops: 0,
    sealed: new Uint8Array(size).fill(i & 0xff),
  };
}

Deno.test("store: per-sender order per recipient, fetch with cursor, limit and byte cap", async () => {
  await withStore((_dir, open) => {
    const s = open();
    const bob = fam(2);
    const a = fam(1);
    const c = fam(3);
    for (let i = 0; i < 10; i++) {
      assertEquals(s.enqueue(MB, msg(bob, a, i), NOW).status, "stored");
      assertEquals(s.enqueue(MB, msg(bob, c, i), NOW).status, "stored");
    }
    s.enqueue(MB, msg(fam(9), a, 99), NOW);
    const all = s.fetch(bob, 0, 100);
    assertEquals(all.length, 20);
    for (const sender of [a, c]) {
      const ids = all.filter((m) => m.from === sender).map((m) => m.sealed[0]);
      assertEquals(ids, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    }
    const first = s.fetch(bob, 0, 3);
    assertEquals(first.length, 3);
    const next = s.fetch(bob, first[2].seq, 3);
    assertEquals(next.map((m) => m.seq), all.slice(3, 6).map((m) => m.seq));
    assertEquals(s.fetch(bob, 0, 100, 250).length, 2); // 100-byte messages, 250-byte cap
    assertEquals(s.fetch(bob, 0, 100, 10).length, 1); // never zero when something waits
    assertEquals(s.queueStatus(MB, bob), { depth: 20, bytes: 2000, oldest: NOW });
  });
});

Deno.test("store: ack deletes, acks are idempotent, dedupe survives the ack", async () => {
  await withStore((_dir, open) => {
    const s = open();
    const bob = fam(2);
    const m0 = msg(bob, fam(1), 0);
    const m1 = msg(bob, fam(1), 1);
    s.enqueue(MB, m0, NOW);
    s.enqueue(MB, m1, NOW);
    assertEquals(s.enqueue(MB, m0, NOW + 5).status, "duplicate"); // sender retry before ack
    assertEquals(s.ack(MB, bob, [m0.mid]), 1);
    assertEquals(s.ack(MB, bob, [m0.mid]), 0);
    assertEquals(s.fetch(bob, 0, 10).map((m) => m.mid), [m1.mid]);
    assertEquals(s.enqueue(MB, m0, NOW + 10).status, "duplicate"); // replay after delivery
    assertEquals(s.usage(bob).messages, 1);
    // Same mid to another recipient is a different message.
    assertEquals(s.enqueue(MB, { ...m0, to: fam(5) }, NOW).status, "stored");
    // Recipient-side dedupe.
    assert(s.markSeen(bob, m0.mid, NOW + 100));
    assert(!s.markSeen(bob, m0.mid, NOW + 100));
  });
});

Deno.test("store: TTL expiry sweep returns expired, records notices, dedupe window ends", async () => {
  await withStore((_dir, open) => {
    const s = open({ dedupeWindow: 1000 });
    const bob = fam(2);
    const alice = fam(1);
    const short = msg(bob, alice, 1, 10, 60);
    const long = msg(bob, alice, 2, 10, 5000);
    s.enqueue(MB, short, NOW);
    s.enqueue(MB, long, NOW);
    assertEquals(s.sweep(NOW + 59).length, 0);
    const ex = s.sweep(NOW + 60);
    assertEquals(ex.map((e) => [e.to, e.from, e.mid, e.expired]), [[
      bob,
      alice,
      short.mid,
      NOW + 60,
    ]]);
    assertEquals(s.fetch(bob, 0, 10).map((m) => m.mid), [long.mid]);
    assertEquals(s.pendingNotices(alice).map((n) => n.mid), [short.mid]);
    s.clearNotices(alice, [short.mid]);
    assertEquals(s.pendingNotices(alice).length, 0);
    assertEquals(s.usage(bob).messages, 1);
    // Inside the window the expired mid is still a duplicate; after it, accepted again.
    assertEquals(s.enqueue(MB, short, NOW + 500).status, "duplicate");
    s.sweep(NOW + 1001);
    assertEquals(s.enqueue(MB, short, NOW + 1002).status, "stored");
    // TTL above the max is cut.
    const s2 = open({ path: ":memory:", maxTtl: 100 });
    s2.enqueue(MB, msg(bob, alice, 3, 10, 999_999), NOW);
    assertEquals(s2.fetch(bob, 0, 1)[0].expires, NOW + 100);
  });
});

Deno.test("store: quotas in messages and bytes give FED_QUOTA_EXCEEDED with which/used/limit", async () => {
  await withStore((_dir, open) => {
    const s = open({ defaultQuota: { messages: 3, bytes: 1_000_000 } });
    const bob = fam(2);
    for (let i = 0; i < 3; i++) s.enqueue(MB, msg(bob, fam(1), i), NOW);
    const e = assertThrows(() => s.enqueue(MB, msg(bob, fam(1), 3), NOW), MyClerkError);
    assertEquals(e.code, ErrorCode.FED_QUOTA_EXCEEDED);
    assertEquals(e.extra, { quota: "messages", used: 3, limit: 3, family: bob });
    s.ack(MB, bob, [msg(bob, fam(1), 0).mid]);
    assertEquals(s.enqueue(MB, msg(bob, fam(1), 3), NOW).status, "stored");
    // Per-family bytes quota.
    const carol = createFamilyRecord(be, {
      name: "c",
      key: new Uint8Array(32).fill(7),
      home: 1,
      created: NOW,
    });
    s.putFamily(carol, true, NOW, { messages: 100, bytes: 250 });
    s.enqueue(MB, msg(carol.id, fam(1), 0, 200), NOW);
    const e2 = assertThrows(() => s.enqueue(MB, msg(carol.id, fam(1), 1, 100), NOW), MyClerkError);
    assertEquals(e2.extra, { quota: "bytes", used: 200, limit: 250, family: carol.id });
    // Batch: the quota error is per item and does not roll back the others.
    const r = s.enqueueBatch([
      { lane: MB, message: msg(carol.id, fam(1), 2, 40) },
      { lane: MB, message: msg(carol.id, fam(1), 3, 40) },
    ], NOW);
    assertEquals((r[0] as { status: string }).status, "stored");
    assert(r[1] instanceof MyClerkError);
    assertEquals(s.usage(carol.id).bytes, 240);
  });
});

Deno.test("store: families, single-use invites, peer queues, stats, reopen after close", async () => {
  await withStore((dir, open) => {
    let s = open();
    const rec = createFamilyRecord(be, {
      name: "Ito",
      key: new Uint8Array(32).fill(4),
      home: 77,
      created: NOW,
    });
    s.putFamily(rec, true, NOW);
    const { invite } = createInvite(be, new Uint8Array(32), { relayKeyId: 77, expires: NOW + 60 });
    s.addInvite(invite, NOW);
    const deny = (f: () => unknown, d: string) => {
      const e = assertThrows(f, MyClerkError);
      assertEquals([e.code, e.detail], [ErrorCode.FED_ADMISSION_DENIED, d]);
    };
    deny(() => s.redeemInvite(new Uint8Array(16), rec.id, NOW), "token-unknown");
    s.redeemInvite(invite.tokenId, rec.id, NOW);
    deny(() => s.redeemInvite(invite.tokenId, rec.id, NOW), "token-used");
    const late = createInvite(be, new Uint8Array(32), { relayKeyId: 77, expires: NOW + 1 }).invite;
    s.addInvite(late, NOW);
    deny(() => s.redeemInvite(late.tokenId, rec.id, NOW + 1), "token-expired");
    const peer = { kind: "peer", peer: 0xabcdef } as const;
    s.enqueue(peer, msg(fam(8), fam(1), 1), NOW);
    s.enqueue(peer, msg(fam(9), fam(1), 2), NOW);
    s.enqueue(MB, msg(rec.id, fam(1), 3), NOW);
    const st = s.stats();
    assertEquals([st.families, st.localFamilies, st.queuedMessages, st.invitesOpen], [1, 1, 3, 1]);
    assertEquals(st.peers, [{ peer: 0xabcdef, depth: 2, bytes: 200, oldest: NOW }]);
    assertEquals(st.mailboxes.map((m) => m.family), [rec.id]);
    s.close();
    s = open();
    assertEquals(s.getFamily(be, rec.id)?.record, rec);
    assertEquals(s.fetchPeer(0xabcdef, 0, 10).map((m) => m.to), [fam(8), fam(9)]);
    assertEquals(s.ackPeer(0xabcdef, [{ to: fam(8), mid: msg(fam(8), fam(1), 1).mid }]), 1);
    assertEquals(s.queueStatus(peer).depth, 1);
    deny(() => s.redeemInvite(invite.tokenId, rec.id, NOW), "token-used");
    assertEquals(s.integrityCheck(), "ok");
    assert(Deno.statSync(`${dir}/federation.db`).isFile);
  });
});

Deno.test("store: the database file holds no plaintext of sealed messages", async () => {
  await withStore(async (dir, open) => {
    const s = open();
    const alice = be.x25519Generate();
    const bob = be.x25519Generate();
    const secret = "PLAINTEXT-MARKER-4242-never-on-disk";
    const env = sealEnvelope(be, {
      senderSecret: alice.privateKey,
      recipientKey: bob.publicKey,
      body: new TextEncoder().encode(secret),
      ttl: 60,
    });
    s.enqueue(MB, { ...env.routing, hops: 0, sealed: env.sealed }, NOW);
    s.close();
    let all = "";
    for await (const e of Deno.readDir(dir)) {
      all += new TextDecoder("latin1").decode(await Deno.readFile(`${dir}/${e.name}`));
    }
    assert(all.length > 0);
    assert(!all.includes(secret));
    assert(!all.includes("PLAINTEXT-MARKER"));
  });
});
