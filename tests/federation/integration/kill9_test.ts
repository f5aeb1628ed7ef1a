/**
 * Kill -9 of the relay in the middle of a load (real processes): after the
 * restart, every message the relay acked "stored" to the sender is
 * delivered, none twice to the application. The recipient hub is killed -9
 * too while it receives (its inbox + dedupe commit is one transaction).
 * The recipient is online, so the relay hands messages off before writing
 * them (FEDERATION.md §6.5): the kill may land while some are held in memory
 * only. At the end every message sent is accounted for, and the relay's database
 * passes `PRAGMA integrity_check`.
 */

import { assert, assertEquals } from "../_assert.ts";
import { openSqliteRelayStore } from "../../../federation/store/mod.ts";
import { paths } from "../../../federation/files.ts";
import { Cluster, metric, readInbox, sleep, until } from "./_harness.ts";

const N = 400;
const CONCURRENCY = 24;

Deno.test({
  name: "kill -9 of the relay (and of the recipient hub) mid-load: acked => delivered exactly once",
  sanitizeOps: false, // child processes are awaited in Cluster.close
  sanitizeResources: false,
  fn: async () => {
    const c = await Cluster.create();
    try {
      let relay = await c.serve("relay", ["--role", "relay"]);
      const relayAddr = relay.tcp;
      await c.joinedHub("alice", "relay", relayAddr);
      const b = await c.joinedHub("bob", "relay", relayAddr);
      const ha = await c.serve("alice", ["--role", "hub"]);
      let hb = await c.serve("bob", ["--role", "hub"]);
      await ha.waitLog((j) => j.msg === "relay session up");
      await hb.waitLog((j) => j.msg === "relay session up");
      // Warm the recipient record cache so sends keep sealing while the relay is down.
      assertEquals((await ha.send(b, "warm-up", { wait: 10_000 })).json.state, "stored");

      const acked = new Set<string>();
      const all = new Set<string>(); // every mid the hub accepted into its outbox
      let next = 0;
      let killedRelay = false;
      let killedHub = false;
      let handedOff = 0;
      const worker = async () => {
        while (next < N) {
          const i = next++;
          const r = await ha.send(b, `load-${i}`, { wait: 4000 }).catch(() => undefined);
          if (r === undefined || r.status !== 200) continue;
          all.add(String(r.json.mid));
          if (r.json.state === "stored") acked.add(String(r.json.mid));
          if (!killedRelay && acked.size >= N / 3) {
            killedRelay = true;
            // Bob is online: the relay hands messages off before writing them (FEDERATION.md
            // §6.5), so the kill may land while some are held in memory only.
            handedOff = metric(await relay.metrics(), "myclerk_federation_handed_off_total");
            await relay.stop("SIGKILL");
            await sleep(200);
            relay = await c.serve("relay", ["--role", "relay", "--tcp", relayAddr]);
          }
          if (!killedHub && acked.size >= (2 * N) / 3) {
            killedHub = true;
            await hb.stop("SIGKILL");
            hb = await c.serve("bob", ["--role", "hub"]);
          }
        }
      };
      await Promise.all(Array.from({ length: CONCURRENCY }, worker));
      assert(killedRelay && killedHub, "both kills happened mid-load");
      assert(handedOff > 0, "the load went through the handoff path before the kill");
      assert(acked.size >= N / 2, `enough acked: ${acked.size}`);

      // Everything in the outbox reaches "stored" after reconnects, then bob gets all of it.
      await until(
        async () => {
          const s = await ha.get("/federation/status");
          const o = (s.hub as { outbox: { pending: number } }).outbox;
          return o.pending === 0;
        },
        60_000,
        "alice outbox drained",
      );
      const inbox = await until(
        () => {
          const i = readInbox(c.data("bob"));
          return i.mids.size >= all.size + 1 ? i : undefined;
        },
        60_000,
        "bob received everything",
      );

      for (const mid of acked) assert(inbox.mids.has(mid), `acked mid ${mid} delivered`);
      for (const mid of all) assert(inbox.mids.has(mid), `sent mid ${mid} delivered`);
      for (const [mid, n] of inbox.mids) assertEquals(n, 1, `mid ${mid} delivered once`);
      assertEquals(inbox.total, all.size + 1, "no extra deliveries");
      const bodies = new Set(inbox.bodies.values());
      assertEquals(bodies.size, inbox.total, "distinct bodies");

      await until(
        async () => {
          const s = await relay.get("/federation/status");
          return (s.relay as { queuedMessages: number }).queuedMessages === 0;
        },
        20_000,
        "relay queue drained after delivered acks",
      );

      await relay.stop("SIGTERM");
      const st = openSqliteRelayStore({ path: paths(c.data("relay")).relayDb });
      try {
        assertEquals(st.integrityCheck(), "ok");
      } finally {
        await st.close();
      }
    } finally {
      await c.close();
    }
  },
});
