/**
 * TTL: a message for an offline family expires at the relay; the sender's
 * hub gets FED_EXPIRED (its outbox row turns "expired"), the recipient never
 * gets it after coming back, and the relay counts it.
 */

import { assertEquals } from "../_assert.ts";
import { Cluster, metric, readInbox, sleep, until } from "./_harness.ts";

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
      assertEquals(metric(await relay.metrics(), "fed_expired_total"), 1);
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
