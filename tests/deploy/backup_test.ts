/**
 * `myclerk backup` while a relay carries traffic, then a restore: 30
 * messages for an offline hub are acknowledged "stored", a backup runs while
 * more keep arriving, the relay is stopped and its data directory replaced by
 * the backup, the relay starts from it (the store checks accept the pair:
 * manifest copied before its store) and the offline hub, coming online,
 * receives every message that was acknowledged before the backup began.
 */

import { DatabaseSync } from "node:sqlite";
import { assert, assertEquals } from "../federation/_assert.ts";
import {
  cli,
  cliOk,
  Cluster,
  freePort,
  readInbox,
  until,
} from "../federation/integration/_harness.ts";

Deno.test({
  name: "deploy: online backup under traffic, restore, every acknowledged message delivered",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const c = await Cluster.create();
    try {
      const tcp = `127.0.0.1:${freePort()}`;
      const relayArgs = ["--role", "relay", "--tcp", tcp];
      const relay = await c.serve("relay", relayArgs);
      await c.joinedHub("alice", "relay", relay.tcp);
      const bob = await c.joinedHub("bob", "relay", relay.tcp);
      const a = await c.serve("alice", ["--role", "hub"]);
      await a.waitLog((j) => j.msg === "relay session up");

      const before: string[] = [];
      for (let i = 0; i < 30; i++) {
        const body = `before backup ${i}`;
        const r = await a.send(bob, body, { wait: 5000 });
        assertEquals(r.json.state, "stored", JSON.stringify(r.json));
        before.push(body);
      }
      // traffic keeps flowing while the backup runs (bounded: at most 500 sends)
      let sending = true;
      let during = 0;
      const loop = (async () => {
        for (let i = 0; sending && i < 500; i++) {
          const r = await a.send(bob, `during backup ${i}`, { wait: 5000 });
          if (r.json.state === "stored") during++;
        }
      })();
      await until(() => during >= 5, 10_000, "traffic during the backup");
      const out = `${c.dir}/backup-1`;
      const b = await cliOk(["backup", out, "--data", c.data("relay")]);
      assert(/1 store\(s\) \(federation\.db\)/.test(b), b);
      sending = false;
      await loop;

      // the backup is a private, consistent data directory
      assertEquals((await Deno.stat(out)).mode! & 0o777, 0o700);
      const names = [...Deno.readDirSync(out)].map((e) => e.name).sort();
      for (const f of ["federation.db", "federation.db.manifest", "node.key", "invite.key"]) {
        assert(names.includes(f), `backup lacks ${f}: ${names}`);
      }
      for (const f of names) {
        assertEquals((await Deno.stat(`${out}/${f}`)).mode! & 0o777, 0o600, f);
        assert(!/serve\.lock|admin\.json|-wal$|-shm$/.test(f), `${f} must not be backed up`);
      }
      const db = new DatabaseSync(`${out}/federation.db`, { readOnly: true });
      try {
        const ok = db.prepare("PRAGMA integrity_check").get() as { integrity_check: string };
        assertEquals(ok.integrity_check, "ok");
      } finally {
        db.close();
      }
      const again = await cli(["backup", out, "--data", c.data("relay")]);
      assert(again.code !== 0 && /target-not-empty/.test(again.stderr), again.stderr);

      // restore: stop, put the backup in place, start on the same address
      await relay.stop();
      await Deno.rename(c.data("relay"), `${c.dir}/relay-lost`);
      await Deno.mkdir(c.data("relay"));
      for (const f of names) await Deno.copyFile(`${out}/${f}`, `${c.data("relay")}/${f}`);
      const restored = await c.serve("relay", relayArgs);
      await restored.waitLog((j) => j.msg === "relay started", 10_000);
      const bh = await c.serve("bob", ["--role", "hub"]);
      await bh.waitLog((j) => j.msg === "relay session up");
      await until(
        () => {
          const box = readInbox(c.data("bob"));
          const got = new Set(box.bodies.values());
          return before.every((m) => got.has(m)) ? box : false;
        },
        20_000,
        "bob receives every message stored before the backup",
      );
      const box = readInbox(c.data("bob"));
      console.log(
        `backup under traffic: ${during} sent during it; bob got ${box.total} (30 required)`,
      );
      assert([...box.mids.values()].every((n) => n === 1), "no duplicates");
    } finally {
      await c.close();
    }
  },
});
