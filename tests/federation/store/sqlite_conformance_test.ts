/**
 * The RelayStore conformance suite on the SQLite store, in both
 * synchronous modes (FULL: the CLI; NORMAL + group WAL sync: the relay),
 * plus what only SQLite can show: coalesced delivered-acks are one
 * transaction (seen from a second connection), concurrent groups share
 * durability rounds, the hub store's durable calls, and kill -9 after
 * `durable` loses nothing (a real child process).
 *
 * @module
 */

import { DatabaseSync } from "node:sqlite";
import { assert, assertEquals, assertRejects } from "../_assert.ts";
import { ErrorCode, MyClerkError } from "../../../core/errors.ts";
import { fam, msg, NOW, relayStoreConformance } from "./conformance.ts";
import {
  openSqliteHubStore,
  openSqliteRelayStore,
  type SqliteRelayStore,
  WorkerRelayStore,
} from "../../../federation/store/mod.ts";
import { readManifest } from "../../../federation/manifest.ts";
import { sealEnvelope } from "../../../federation/envelope.ts";
import { be } from "../_backends.ts";

const MB = { kind: "mailbox" } as const;

for (const synchronous of ["FULL", "NORMAL"] as const) {
  relayStoreConformance(
    `sqlite ${synchronous}`,
    (dir, o) => openSqliteRelayStore({ path: `${dir}/federation.db`, synchronous, ...o }),
  );
}
relayStoreConformance(
  "sqlite in a worker",
  (dir, o) => WorkerRelayStore.open({ path: `${dir}/federation.db`, synchronous: "NORMAL", ...o }),
);

async function withStore(
  f: (s: SqliteRelayStore, path: string) => Promise<void>,
  synchronous: "FULL" | "NORMAL" = "NORMAL",
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "sqlite-store-" });
  const path = `${dir}/federation.db`;
  const s = openSqliteRelayStore({ path, synchronous });
  try {
    await f(s, path);
  } finally {
    await s.close();
    await Deno.remove(dir, { recursive: true });
  }
}

function depth(raw: DatabaseSync, family: string): number {
  return Number(
    (raw.prepare("SELECT count(*) AS n FROM queue WHERE recipient = ?").get(family) as {
      n: number;
    }).n,
  );
}

for (const synchronous of ["FULL", "NORMAL"] as const) {
  Deno.test(`sqlite store (${synchronous}): the delivered-acks of one turn are one transaction`, async () => {
    await withStore(async (s, path) => {
      const bob = fam(2);
      const ms = Array.from({ length: 60 }, (_, i) => msg(bob, fam(1), i));
      await (await s.enqueueBatch(ms.map((message) => ({ lane: MB, message })), NOW)).durable;
      const raw = new DatabaseSync(path);
      try {
        const c0 = s.commits;
        const h0 = s.hwm;
        const acks = ms.slice(0, 50).map((m) => s.ack(MB, bob, [m.mid], { durable: false }));
        // Nothing written yet: another connection still sees every row.
        assertEquals(depth(raw, bob), 60);
        assertEquals((await Promise.all(acks)).reduce((a, b) => a + b, 0), 50);
        assertEquals(s.commits - c0, 1, "one transaction for 50 acks");
        assertEquals(s.hwm, h0, "relaxed: no commit counter bump");
        assertEquals(depth(raw, bob), 10);
        // Acks in different turns are different transactions (the count above can fail).
        await s.ack(MB, bob, [ms[50].mid], { durable: false });
        await s.ack(MB, bob, [ms[51].mid], { durable: false });
        assertEquals(s.commits - c0, 3);
        // Any other write runs the pending acks first, in one transaction of their own.
        const pa = s.ack(MB, bob, [ms[52].mid], { durable: false });
        await s.clearNotices(fam(1), []);
        assertEquals(depth(raw, bob), 7);
        assertEquals(await pa, 1);
        assertEquals(s.commits - c0, 5);
      } finally {
        raw.close();
      }
    }, synchronous);
  });

  Deno.test(`sqlite store (${synchronous}): concurrent groups share durability rounds; the manifest follows`, async () => {
    await withStore(async (s, path) => {
      const r0 = s.rounds;
      const groups = await Promise.all(
        Array.from(
          { length: 40 },
          (_, g) => s.enqueueBatch([{ lane: MB, message: msg(fam(2), fam(1), g) }], NOW),
        ),
      );
      await Promise.all(groups.map((b) => b.durable));
      const rounds = s.rounds - r0;
      // One round may already be in flight when the others queue: at most two for 40 commits.
      assert(rounds >= 1 && rounds <= 2, `rounds ${rounds}`);
      assertEquals(readManifest(path)?.hwm, s.hwm);
      // One group at a time: one round each.
      for (let g = 0; g < 3; g++) {
        await (await s.enqueueBatch([{ lane: MB, message: msg(fam(3), fam(1), g) }], NOW))
          .durable;
      }
      assertEquals(s.rounds - r0 - rounds, 3);
      assertEquals(readManifest(path)?.hwm, s.hwm);
    }, synchronous);
  });
}

Deno.test("sqlite hub store: outbox, exactly-once inbox, states, marks, reopen", async () => {
  const dir = await Deno.makeTempDir({ prefix: "sqlite-hub-" });
  const path = `${dir}/hub.db`;
  try {
    let h = openSqliteHubStore(path);
    const mid = (i: number) => new Uint8Array(16).fill(i);
    const seqs = await Promise.all(
      [1, 2, 3].map((i) => h.addOutbox(mid(i), fam(2), new Uint8Array(8).fill(i), 8, NOW)),
    );
    assert(seqs[0] < seqs[1] && seqs[1] < seqs[2], `seqs ${seqs}`);
    assertEquals(readManifest(path)?.hwm, h.hwm);
    assertEquals((await h.pending(0, 10)).map((r) => r.mid[0]), [1, 2, 3]);
    assertEquals((await h.pending(seqs[0], 1)).map((r) => r.mid[0]), [2]);
    await h.noteRetry(mid(1), "relay-down", NOW);
    assertEquals(h.outbox(mid(1))?.detail, "relay-down");
    const h0 = h.hwm;
    assertEquals(await h.setState([mid(1), mid(2)], "stored", NOW), 2);
    assertEquals(h.hwm, h0, "stored: a relaxed commit (no counter bump, no fsync of its own)");
    assertEquals(await h.setState([mid(1)], "refused", NOW, "x"), 0); // stored -> refused: no
    assertEquals(await h.setState([mid(1)], "expired", NOW, `to ${fam(2)}`), 1);
    assert(h.hwm > h0, "expired: a synced commit");
    assertEquals(await h.outboxCounts(), { pending: 1, stored: 1, expired: 1, refused: 0 });
    assertEquals(await h.pruneStored(NOW + 1), 1);
    const m = (i: number) => ({ mid: mid(i), from: fam(1), ts: NOW, body: new Uint8Array([i]) });
    assertEquals(
      await h.deliverBatch(
        [{ msg: m(7), expires: NOW + 10 }, { msg: m(8), expires: NOW + 10 }],
        NOW,
      ),
      [true, true],
    );
    assertEquals(await h.deliverBatch([{ msg: m(7), expires: NOW + 10 }], NOW), [false]);
    assertEquals(readManifest(path)?.hwm, h.hwm);
    assertEquals(await h.inboxCount(), 2);
    assertEquals(h.inbox().map((r) => r.body[0]), [7, 8]);
    await h.close();
    h = openSqliteHubStore(path);
    assertEquals(h.consume(h.inbox()[0].seq), 1);
    assertEquals(await h.inboxCount(), 1);
    assertEquals(await h.deliver(m(8), NOW + 10, NOW), false); // still within the window
    assertEquals(await h.sweepSeen(NOW + 10), 2);
    assertEquals(await h.deliver(m(8), NOW + 20, NOW + 11), true);
    assertEquals((await h.pending(0, 10)).map((r) => r.mid[0]), [3]);
    await h.close();
    await h.close();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

const CHILD = new URL("./_durable_child.ts", import.meta.url).pathname;
const TO = "0123456789abcdef0123456789abcdef";

Deno.test("sqlite store: kill -9 after durable loses nothing (real child process, NORMAL + group sync)", async () => {
  const dir = await Deno.makeTempDir({ prefix: "sqlite-kill-" });
  const db = `${dir}/federation.db`;
  try {
    const child = new Deno.Command(Deno.execPath(), {
      args: ["run", "--allow-all", CHILD, db, "1000000", "16"],
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const printed: number[] = [];
    const dec = new TextDecoder();
    let buf = "";
    let killed = false;
    const deadline = Date.now() + 60_000;
    for await (const chunk of child.stdout) {
      buf += dec.decode(chunk, { stream: true });
      const lines = buf.split("\n");
      buf = lines.pop()!;
      for (const l of lines) if (/^\d+$/.test(l)) printed.push(Number(l));
      if (!killed && (printed.length >= 3000 || Date.now() > deadline)) {
        child.kill("SIGKILL"); // mid-run: groups are in flight
        killed = true;
      }
    }
    const status = await child.status;
    const err = new TextDecoder().decode(
      await new Response(child.stderr).arrayBuffer(),
    );
    assert(killed, `child finished before the kill: ${err}`);
    assertEquals(status.signal, "SIGKILL");
    assert(printed.length >= 3000, `printed ${printed.length}: ${err}`);
    // Reopen passes every store check (manifest not ahead of the store) and holds every
    // printed id exactly once, in enqueue order.
    const s = openSqliteRelayStore({ path: db, synchronous: "NORMAL" });
    try {
      assertEquals(s.integrityCheck(), "ok");
      const rows = [];
      let after = 0;
      for (;;) {
        const w = await s.fetchWindow(TO, after, 10_000, Infinity);
        rows.push(...w.rows);
        if (w.rows.length < 10_000) break;
        after = w.rows[w.rows.length - 1].seq;
      }
      const count = new Map<number, number>();
      const ids = rows.map((r) => new DataView(r.mid.buffer, r.mid.byteOffset).getUint32(12));
      for (const id of ids) count.set(id, (count.get(id) ?? 0) + 1);
      for (const id of printed) assertEquals(count.get(id), 1, `id ${id}`);
      assertEquals(ids, [...ids].sort((a, b) => a - b));
      assertEquals((await s.usage(TO)).messages, rows.length);
    } finally {
      await s.close();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("sqlite store: the database files hold no plaintext of sealed messages", async () => {
  await withStore(async (s, path) => {
    const alice = be.x25519Generate();
    const bob = be.x25519Generate();
    const secret = "PLAINTEXT-MARKER-4242-never-on-disk";
    const env = sealEnvelope(be, {
      senderSecret: alice.privateKey,
      recipientKey: bob.publicKey,
      body: new TextEncoder().encode(secret),
      ttl: 60,
    });
    const b = await s.enqueueBatch([{
      lane: MB,
      message: { ...env.routing, hops: 0, sealed: env.sealed },
    }], NOW);
    await b.durable;
    assertEquals(b.results.map((r) => "status" in r && r.status), ["stored"]);
    const dir = path.slice(0, path.lastIndexOf("/"));
    let all = "";
    for await (const e of Deno.readDir(dir)) {
      all += new TextDecoder("latin1").decode(await Deno.readFile(`${dir}/${e.name}`));
    }
    assert(all.length > 0);
    assert(!all.includes(secret));
    assert(!all.includes("PLAINTEXT-MARKER"));
  });
});

Deno.test("sqlite store in a worker: an uncloneable argument fails its call, typed; the store goes on", async () => {
  const dir = await Deno.makeTempDir({ prefix: "sqlite-worker-" });
  const s = await WorkerRelayStore.open({ path: `${dir}/federation.db`, synchronous: "NORMAL" });
  try {
    const bad = { ...msg(fam(2), fam(1), 1), hops: (() => 0) as unknown as number };
    const e = await assertRejects(
      () => s.enqueueBatch([{ lane: MB, message: bad }], NOW),
      MyClerkError,
    );
    assertEquals([e.code, e.detail], [ErrorCode.INTERNAL_ERROR, "store"]);
    const b = await s.enqueueBatch([{ lane: MB, message: msg(fam(2), fam(1), 2) }], NOW);
    await b.durable;
    assertEquals((await s.queueStatus(MB, fam(2))).depth, 1);
  } finally {
    await s.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("sqlite store in a worker: a refused open rejects with the store's error", async () => {
  const dir = await Deno.makeTempDir({ prefix: "sqlite-worker-" });
  try {
    await Deno.writeFile(`${dir}/federation.db`, new Uint8Array(1000).fill(7));
    const e = await assertRejects(
      () => WorkerRelayStore.open({ path: `${dir}/federation.db` }),
      MyClerkError,
    );
    assertEquals([e.code, e.detail], [ErrorCode.SERVICE_UNAVAILABLE, "store-damaged"]);
    assertEquals(e.extra.path, `${dir}/federation.db`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

/** Depths from a scan of the queue, as the counters must give them. */
function scanned(raw: DatabaseSync) {
  const q = (sql: string) => raw.prepare(sql).all() as Record<string, number | string>[];
  return {
    mailboxes: q(
      `SELECT recipient AS family, count(*) AS depth, sum(size) AS bytes, min(received) AS oldest
       FROM queue WHERE lane = -1 GROUP BY recipient ORDER BY recipient`,
    ).map((r) => ({ ...r })),
    peers: q(
      `SELECT lane AS peer, count(*) AS depth, sum(size) AS bytes, min(received) AS oldest
       FROM queue WHERE lane <> -1 GROUP BY lane ORDER BY lane`,
    ).map((r) => ({ ...r })),
  };
}

Deno.test("sqlite store: lane counters match a scan after every kind of change, and are migrated from schema 1", async () => {
  await withStore(async (s, path) => {
    const peer = { kind: "peer", peer: 9 } as const;
    const ms = Array.from({ length: 30 }, (_, i) => msg(fam(2 + (i % 3)), fam(1), i, 50 + i, 60));
    await (await s.enqueueBatch(
      ms.map((m, i) => ({ lane: i % 4 === 0 ? peer : MB, message: m })),
      NOW,
    )).durable;
    await (await s.enqueueBatch(
      [{ lane: MB, message: msg(fam(5), fam(1), 99, 10, 5000) }],
      NOW + 10,
    )).durable;
    await s.ack(MB, fam(2), [ms[3].mid, ms[6].mid], { durable: false });
    await s.ackPeer(9, [{ to: ms[0].to, mid: ms[0].mid }]);
    await s.ack(MB, fam(3), [ms[1].mid]);
    const raw = new DatabaseSync(path);
    try {
      const check = async () => {
        const st = await s.stats();
        const want = scanned(raw);
        assertEquals(st.mailboxes.map((m) => ({ ...m })), want.mailboxes);
        assertEquals(st.peers.map((p) => ({ ...p })), want.peers);
        assertEquals(
          st.queuedMessages,
          want.mailboxes.concat(want.peers).reduce((a, r) => a + Number(r.depth), 0),
        );
        for (const m of want.mailboxes) {
          const q = await s.queueStatus(MB, String(m.family));
          assertEquals([q.depth, q.bytes, q.oldest], [m.depth, m.bytes, m.oldest]);
        }
        const p = await s.queueStatus(peer);
        const wp = want.peers[0] ?? { depth: 0, bytes: 0, oldest: 0 };
        assertEquals([p.depth, p.bytes, p.oldest], [wp.depth, wp.bytes, wp.oldest]);
      };
      await check();
      assertEquals((await s.sweep(NOW + 60)).length, 26); // all but fam(5)'s long one
      await check();
      assertEquals((await s.stats()).mailboxes.map((m) => m.family), [fam(5)]);
      assertEquals(
        Number((raw.prepare("SELECT count(*) AS n FROM lanes").get() as { n: number }).n),
        1,
      );
    } finally {
      raw.close();
    }
  });
  // A schema-1 store (no lanes table) is migrated: counters filled from the queue.
  const dir = await Deno.makeTempDir({ prefix: "sqlite-migrate-" });
  const path = `${dir}/federation.db`;
  try {
    let s = openSqliteRelayStore({ path });
    await (await s.enqueueBatch([
      { lane: MB, message: msg(fam(2), fam(1), 1) },
      { lane: MB, message: msg(fam(2), fam(1), 2) },
      { lane: { kind: "peer", peer: 4 }, message: msg(fam(3), fam(1), 3) },
    ], NOW)).durable;
    await s.close();
    const raw = new DatabaseSync(path);
    raw.exec("DROP TABLE lanes; UPDATE meta SET v = '1' WHERE k = 'schema'");
    raw.close();
    s = openSqliteRelayStore({ path });
    try {
      assertEquals(s.opened.migratedFrom, 1);
      const st = await s.stats();
      assertEquals(st.mailboxes.map((m) => [m.family, m.depth, m.bytes]), [[fam(2), 2, 200]]);
      assertEquals(st.peers.map((p) => [p.peer, p.depth]), [[4, 1]]);
    } finally {
      await s.close();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
