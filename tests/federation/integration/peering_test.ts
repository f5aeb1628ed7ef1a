/**
 * Two relays peered over mutually authenticated sessions (keys pinned with
 * `--peer ADDR@KEYID`), three families: alice and bob homed at relay 1,
 * carol at relay 2. Cross-relay delivery both ways; a message for carol
 * sent while relay 2 is down waits in relay 1's peer queue and goes when
 * relay 2 is back; a relay whose key is not allowed is refused. Every
 * message accounted for at the end.
 */

import { assert, assertEquals } from "../_assert.ts";
import { Cluster, keyId, metric, peeredRelays, readInbox, until } from "./_harness.ts";

Deno.test({
  name: "two peered relays: cross-relay delivery, peer down then back, unknown peer refused",
  sanitizeOps: false, // child processes are awaited in Cluster.close
  sanitizeResources: false,
  fn: async () => {
    const c = await Cluster.create();
    try {
      const peered = await peeredRelays(c);
      const { r1, p1, p2, k1, k2, r2Args } = peered;
      let r2 = peered.r2;

      const a = await c.joinedHub("alice", "r1", p1);
      const b = await c.joinedHub("bob", "r1", p1);
      const carol = await c.joinedHub("carol", "r2", p2);
      const ha = await c.serve("alice", ["--role", "hub"]);
      const hb = await c.serve("bob", ["--role", "hub"]);
      const hc = await c.serve("carol", ["--role", "hub"]);
      for (const h of [ha, hb, hc]) await h.waitLog((j) => j.msg === "relay session up");

      // alice -> carol crosses r1 -> r2; carol -> alice and carol -> bob cross back.
      const sent = new Map<string, string>(); // mid -> recipient
      const s1 = await ha.send(carol, "a-to-c", { wait: 10_000 });
      assertEquals(s1.json.state, "stored", JSON.stringify(s1.json));
      sent.set(String(s1.json.mid), carol);
      const s2 = await hc.send(a, "c-to-a", { wait: 10_000 });
      assertEquals(s2.json.state, "stored", JSON.stringify(s2.json));
      sent.set(String(s2.json.mid), a);
      const s3 = await hc.send(b, "c-to-b", { wait: 10_000 });
      sent.set(String(s3.json.mid), b);
      await until(() => readInbox(c.data("carol")).total === 1, 10_000, "carol got a-to-c");
      await until(() => readInbox(c.data("alice")).total === 1, 10_000, "alice got c-to-a");
      await until(() => readInbox(c.data("bob")).total === 1, 10_000, "bob got c-to-b");
      assertEquals(readInbox(c.data("carol")).bodies.get(String(s1.json.mid)), "a-to-c");

      // r2 down: messages for carol wait in r1's peer queue ("stored" at r1).
      await r2.stop("SIGKILL");
      await r1.waitLog((j) => j.msg === "peer relay down");
      for (let i = 0; i < 20; i++) {
        const r = await ha.send(carol, `while-down-${i}`, { wait: 10_000 });
        assertEquals(r.json.state, "stored");
        sent.set(String(r.json.mid), carol);
      }
      const st = await r1.get("/federation/status");
      const peers =
        (st.relay as { peers: { keyId: string; depth: number; connected: boolean }[] }).peers;
      const q = peers.find((p) => p.keyId === k2);
      assert(
        q !== undefined && q.depth === 20 && !q.connected,
        `peer queue at r1: ${JSON.stringify(peers)}`,
      );

      const nUp = r1.logs.length;
      r2 = await c.serve("r2", r2Args);
      await r1.waitLog((j) => j.msg === "peer relay up", 10_000, nUp);
      await until(
        () => readInbox(c.data("carol")).total === 21,
        15_000,
        "carol got the backlog via r2",
      );
      const inboxC = readInbox(c.data("carol"));
      for (let i = 0; i < 20; i++) {
        assert(
          [...inboxC.bodies.values()].includes(`while-down-${i}`),
          `while-down-${i} delivered`,
        );
      }
      await until(
        async () => {
          const s = await r1.get("/federation/status");
          return (s.relay as { queuedMessages: number }).queuedMessages === 0;
        },
        10_000,
        "r1 peer queue drained",
      );

      // A relay with a key no one allowed is refused as a peer.
      const k3 = await keyId(c, "r3");
      const r3 = await c.serve("r3", ["--role", "relay", "--peer", `${p1}@${k1}`]);
      await r1.waitLog((j) => j.msg === "relay peer refused" && j.peer === k3, 10_000);
      assert(
        metric(await r1.metrics(), "myclerk_federation_drops_total", 'reason="peer-not-allowed"') >=
          1,
        "counted",
      );
      await r3.stop();

      // Every message accounted for: each delivered once to its recipient.
      const byHub = new Map([[a, readInbox(c.data("alice"))], [b, readInbox(c.data("bob"))], [
        carol,
        inboxC,
      ]]);
      for (const [mid, to] of sent) {
        assertEquals(byHub.get(to)!.mids.get(mid), 1, `mid ${mid} once at ${to}`);
      }
      const total = [...byHub.values()].reduce((n, i) => n + i.total, 0);
      assertEquals(total, sent.size);
    } finally {
      await c.close();
    }
  },
});
