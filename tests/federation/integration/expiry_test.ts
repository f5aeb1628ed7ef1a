/**
 * TTL: a message for an offline family expires at the relay; the sender's
 * hub gets FED_EXPIRED (its outbox row turns "expired"), the recipient never
 * gets it after coming back, and the relay counts it.
 */

import { assertEquals } from "../_assert.ts";
import { Cluster, metric, peeredRelays, readInbox, sleep, until } from "./_harness.ts";

Deno.test({
  name: "TTL expiry at the relay: notice to the sender, never delivered",
  sanitizeOps: false, // child processes are awaited in Cluster.close
  sanitizeResources: false,
  fn: async () => {
    const c = await Cluster.create();
    try {
      await Deno.writeTextFile(
        `${c.dir}/sweep.json`,
        JSON.stringify({ federation: { sweepMs: 200 } }),
      );
      const relay = await c.serve("relay", ["--role", "relay", "--config", `${c.dir}/sweep.json`]);
      await c.joinedHub("alice", "relay", relay.tcp);
      const b = await c.joinedHub("bob", "relay", relay.tcp);
      const ha = await c.serve("alice", ["--role", "hub"]);
      await ha.waitLog((j) => j.msg === "relay session up");
      const short = await ha.send(b, "short-lived", { wait: 5000, ttl: 1 });
      assertEquals(short.json.state, "stored");
      const long = await ha.send(b, "long-lived", { wait: 5000 });
      assertEquals(long.json.state, "stored");
      await ha.waitLog((j) => j.msg === "messages expired undelivered", 10_000);
      const q = await until(
        async () => {
          const s = await ha.get("/federation/status");
          const o = (s.hub as { outbox: { expired: number } }).outbox;
          return o.expired === 1 ? o : undefined;
        },
        5000,
        "outbox row expired",
      );
      assertEquals(q.expired, 1);
      assertEquals(metric(await relay.metrics(), "myclerk_federation_expired_total"), 1);
      const hb = await c.serve("bob", ["--role", "hub"]);
      await hb.waitLog((j) => j.msg === "relay session up");
      await until(() => readInbox(c.data("bob")).total === 1, 5000, "bob got the long-lived one");
      await sleep(300);
      const inbox = readInbox(c.data("bob"));
      assertEquals(inbox.total, 1);
      assertEquals(inbox.bodies.get(String(long.json.mid)), "long-lived");
    } finally {
      await c.close();
    }
  },
});

Deno.test({
  name: "TTL expiry at a peer relay: the notice crosses back to the sender's home relay",
  sanitizeOps: false, // child processes are awaited in Cluster.close
  sanitizeResources: false,
  fn: async () => {
    const c = await Cluster.create();
    try {
      const { r1, r2, p1, p2 } = await peeredRelays(c, { sweepMs: 200 });
      await c.joinedHub("alice", "r1", p1);
      const carol = await c.joinedHub("carol", "r2", p2);
      const ha = await c.serve("alice", ["--role", "hub"]);
      await ha.waitLog((j) => j.msg === "relay session up");
      // carol's hub never runs: the message waits in carol's mailbox at r2 and expires there.
      const short = await ha.send(carol, "short-lived", { wait: 10_000, ttl: 1 });
      assertEquals(short.json.state, "stored", JSON.stringify(short.json));
      await until(
        async () =>
          metric(await r2.metrics(), "myclerk_federation_expired_total") === 1 ? true : undefined,
        10_000,
        "expired at r2",
      );
      await until(
        async () => {
          const s = await ha.get("/federation/status");
          const o = (s.hub as { outbox: { expired: number } }).outbox;
          return o.expired === 1 ? o : undefined;
        },
        10_000,
        "alice's outbox row expired (notice r2 -> r1 -> alice)",
      );
      assertEquals(
        metric(await r1.metrics(), "myclerk_federation_expired_notices_received_total"),
        1,
      );
    } finally {
      await c.close();
    }
  },
});
