/**
 * Large payloads (issue #4: "message size at least 256 KiB, larger payloads
 * fragment"): a 3 MB body is sealed into one envelope, carried hub -> relay
 * -> hub as wire fragments (over the 1 MiB wire limit, profile §12),
 * stored whole at the relay while the recipient is offline, and arrives
 * byte for byte.
 */

import { assertEquals } from "../_assert.ts";
import { Cluster, readInbox, until } from "./_harness.ts";

function body(seed: number, n: number): string {
  const a = "abcdefghijklmnopqrstuvwxyz0123456789";
  let s = "";
  let x = seed;
  while (s.length < n) {
    x = (x * 1103515245 + 12345) & 0x7fffffff;
    s += a[x % a.length];
  }
  return s;
}

Deno.test({
  name: "a 3 MB message crosses the relay in wire fragments, online and offline",
  sanitizeOps: false, // child processes are awaited in Cluster.close
  sanitizeResources: false,
  fn: async () => {
    const c = await Cluster.create();
    try {
      const relay = await c.serve("relay", ["--role", "relay"]);
      await c.joinedHub("alice", "relay", relay.tcp);
      const b = await c.joinedHub("bob", "relay", relay.tcp);
      const ha = await c.serve("alice", ["--role", "hub"]);
      await ha.waitLog((j) => j.msg === "relay session up");
      // bob offline: stored whole at the relay.
      const offline = body(1, 3_000_000);
      const s1 = await ha.send(b, offline, { wait: 20_000 });
      assertEquals(s1.json.state, "stored", JSON.stringify(s1.json));
      const hb = await c.serve("bob", ["--role", "hub"]);
      await hb.waitLog((j) => j.msg === "relay session up");
      // bob online: pushed as soon as it is stored.
      const online = body(2, 3_000_000);
      const s2 = await ha.send(b, online, { wait: 20_000 });
      assertEquals(s2.json.state, "stored", JSON.stringify(s2.json));
      const inbox = await until(
        () => {
          const i = readInbox(c.data("bob"));
          return i.total >= 2 ? i : undefined;
        },
        30_000,
        "bob got both large messages",
      );
      assertEquals(inbox.total, 2);
      assertEquals(inbox.bodies.get(String(s1.json.mid)) === offline, true, "offline body intact");
      assertEquals(inbox.bodies.get(String(s2.json.mid)) === online, true, "online body intact");
    } finally {
      await c.close();
    }
  },
});
