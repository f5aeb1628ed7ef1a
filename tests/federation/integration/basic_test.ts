/**
 * One relay, three families' hubs as real processes: admission through the
 * CLI, a message A -> B, a message sent while the recipient hub is offline,
 * a reply, lookups of unknown families, CLI `status`/`queue list`/`recv`,
 * graceful relay restart with FED_RESTART (hubs back within ~1 s), and the
 * relay's store files and logs holding no plaintext.
 */

import { assert, assertEquals } from "../_assert.ts";
import { cli, cliOk, Cluster, metric, readInbox, until } from "./_harness.ts";

Deno.test({
  name: "relay + hubs: admit, deliver, offline recipient, restart, no plaintext at the relay",
  sanitizeOps: false, // child processes and their pipes are awaited in Cluster.close
  sanitizeResources: false,
  fn: async () => {
    const c = await Cluster.create();
    try {
      const relay = await c.serve("relay", ["--role", "relay"]);
      const a = await c.joinedHub("alice", "relay", relay.tcp);
      const b = await c.joinedHub("bob", "relay", relay.tcp);
      const carol = await c.joinedHub("carol", "relay", relay.tcp);

      // A used token cannot be redeemed again (replayed admission).
      const tok = await c.invite("relay");
      await c.createFamily("mallory");
      await cliOk(["hub", "join", relay.tcp, tok, "--data", c.data("mallory")]);
      const again = await cli(["hub", "join", relay.tcp, tok, "--data", c.data("mallory")]);
      assert(
        again.code !== 0 && /token-used/.test(again.stderr),
        `replayed token: ${again.stderr}`,
      );

      const ha = await c.serve("alice", ["--role", "hub"]);
      const hb = await c.serve("bob", ["--role", "hub"]);
      await ha.waitLog((j) => j.msg === "relay session up");
      await hb.waitLog((j) => j.msg === "relay session up");

      // A -> B, through the CLI, acked "stored" before the command returns.
      const secret1 = "first-secret-PLAINTEXT-7f3a";
      const out = await cliOk(
        ["send", "--to", b, "-", "--data", c.data("alice"), "--json"],
        new TextEncoder().encode(secret1),
      );
      const sent = JSON.parse(out);
      assertEquals(sent.state, "stored");
      const inbox1 = await until(
        () => {
          const i = readInbox(c.data("bob"));
          return i.total >= 1 ? i : undefined;
        },
        10_000,
        "bob inbox",
      );
      assertEquals(inbox1.bodies.get(sent.mid), secret1);

      // Carol is offline (never started): the message waits at the relay.
      const secret2 = "offline-secret-PLAINTEXT-91cc";
      const r2 = await ha.send(carol, secret2, { wait: 10_000 });
      assertEquals(r2.json.state, "stored");
      const st = await relay.get("/federation/status");
      const mailboxes = (st.relay as { mailboxes: { family: string; depth: number }[] }).mailboxes;
      assertEquals(mailboxes.find((m) => m.family === carol)?.depth, 1);
      const hc = await c.serve("carol", ["--role", "hub"]);
      const inboxC = await until(
        () => {
          const i = readInbox(c.data("carol"));
          return i.total >= 1 ? i : undefined;
        },
        10_000,
        "carol inbox",
      );
      assertEquals(inboxC.bodies.get(String(r2.json.mid)), secret2);
      assertEquals(inboxC.total, 1);
      // Acked "delivered" -> deleted at the relay.
      await until(
        async () => {
          const s = await relay.get("/federation/status");
          return (s.relay as { queuedMessages: number }).queuedMessages === 0;
        },
        5000,
        "relay queue empty",
      );

      // Reply B -> A, and recv prints it.
      const r3 = await hb.send(a, "reply-to-alice", { wait: 10_000 });
      assertEquals(r3.json.state, "stored");
      await until(() => readInbox(c.data("alice")).total === 1, 10_000, "alice inbox");
      const recv = await cliOk(["recv", "--data", c.data("alice"), "--json"]);
      const lines = recv.trim().split("\n").map((l) => JSON.parse(l));
      assertEquals(lines.length, 1);
      assertEquals(lines[0].from, b);
      assertEquals(
        new TextDecoder().decode(
          Uint8Array.from(
            atob(lines[0].body.replaceAll("-", "+").replaceAll("_", "/")),
            (x) => x.charCodeAt(0),
          ),
        ),
        "reply-to-alice",
      );
      assertEquals(readInbox(c.data("alice")).total, 0, "recv consumed the inbox");

      // Unknown family: a clear error naming it.
      const unknown = await ha.send("0123456789abcdef0123456789abcdef", "x", { wait: 2000 });
      assertEquals(unknown.status, 404);
      assertEquals(unknown.json.error, "FED_UNKNOWN_FAMILY");

      // status / queue list / family list from the CLI.
      const status = JSON.parse(await cliOk(["status", "--data", c.data("relay"), "--json"]));
      assertEquals(status.relay.hubs.length, 3);
      assert(Array.isArray(status.node.buses.buses), "status shows the buses found (issue #5)");
      const ql = JSON.parse(await cliOk(["queue", "list", "--data", c.data("alice"), "--json"]));
      assertEquals(ql.hub.outbox.pending, 0);
      const fl = JSON.parse(await cliOk(["family", "list", "--data", c.data("relay"), "--json"]));
      assertEquals(fl.relay.filter((f: { local: boolean }) => f.local).length, 4);

      // Graceful restart: FED_RESTART, then hubs are back within ~1 s of the relay.
      const nA = ha.logs.length;
      await relay.stop("SIGTERM");
      await ha.waitLog((j) => j.msg === "relay announced restart", 5000, nA);
      const relay2 = await c.serve("relay", ["--role", "relay", "--tcp", relay.tcp]);
      const t0 = Date.parse(String((await relay2.waitLog((j) => j.msg === "relay started")).ts));
      const up = await ha.waitLog((j) => j.msg === "relay session up", 10_000, nA);
      const dt = Date.parse(String(up.ts)) - t0;
      assert(dt < 1500, `hub reconnected ${dt} ms after the relay was back`);
      const r4 = await ha.send(b, "after-restart", { wait: 10_000 });
      assertEquals(r4.json.state, "stored");
      await until(
        () => readInbox(c.data("bob")).bodies.get(String(r4.json.mid)) === "after-restart",
        10_000,
        "after restart",
      );

      const m = await relay2.metrics();
      // Bob was online: the relay stored the message or handed it off (FEDERATION.md §6.5).
      assert(
        metric(m, "myclerk_federation_stored_total") +
            metric(m, "myclerk_federation_handed_off_total") >= 1,
        "myclerk_federation_stored_total or handed_off_total counted",
      );
      assert(
        metric(await hb.metrics(), "myclerk_federation_app_delivered_total") >= 2,
        "hub counts deliveries",
      );

      // The relay's files and logs never contain a plaintext.
      await relay2.stop("SIGTERM");
      await hc.stop("SIGTERM");
      const files = [
        ...(await c.files(/\/relay\//)),
        `${c.dir}/relay.log`,
      ];
      for (const f of files) {
        const bytes = await Deno.readFile(f);
        const text = new TextDecoder("latin1").decode(bytes);
        for (const s of [secret1, secret2, "reply-to-alice", "after-restart"]) {
          assert(!text.includes(s), `plaintext "${s}" found in ${f}`);
        }
      }
      // The hub does hold it (the check can fail).
      const hubText =
        new TextDecoder("latin1").decode(await Deno.readFile(`${c.data("bob")}/hub.db`)) +
        new TextDecoder("latin1").decode(
          await Deno.readFile(`${c.data("bob")}/hub.db-wal`).catch(() => new Uint8Array()),
        );
      assert(hubText.includes(secret1), "control: the recipient hub's inbox holds the plaintext");
    } finally {
      await c.close();
    }
  },
});
