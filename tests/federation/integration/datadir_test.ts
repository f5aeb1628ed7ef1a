/**
 * Data directory rules (issue 9 case 12), on real `serve` processes:
 * - a second `serve` on a data dir in use is refused, naming the other pid,
 *   and leaves the running node's admin.json alone; after `kill -9` of the
 *   holder the lock it left is no obstacle;
 * - modes: the data dir 0700, node.key, stores and their -wal/-shm,
 *   invite.key, admin.json, family.key 0600; too-open modes are fixed on
 *   start with a log line;
 * - a store without a schema version is migrated; one newer than the code
 *   is refused;
 * - SIGHUP reloads quotas without killing the relay or dropping sessions,
 *   and `family quota ID` changes an admitted family's quota live.
 */

import { assert, assertEquals } from "../_assert.ts";
import { DatabaseSync } from "node:sqlite";
import { cli, cliOk, Cluster, freePort, metric, until } from "./_harness.ts";
import { FED_SCHEMA_VERSION } from "../../../federation/store/mod.ts";

const MAIN = new URL("../../../main.ts", import.meta.url).pathname;

async function serveOutput(args: readonly string[], ms = 30_000) {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", MAIN, "serve", "--tcp", "127.0.0.1:0", "--http", "127.0.0.1:0", ...args],
    stdout: "null",
    stderr: "piped",
    stdin: "null",
  }).spawn();
  const timer = setTimeout(() => child.kill("SIGKILL"), ms);
  const out = await child.output();
  clearTimeout(timer);
  return { success: out.success, stderr: new TextDecoder().decode(out.stderr) };
}

function modeOf(p: string): number {
  return Deno.statSync(p).mode! & 0o777;
}

Deno.test({
  name: "data dir: a second serve is refused naming the pid; a kill -9 lock is taken over",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const c = await Cluster.create();
    try {
      const a = await c.serve("relay", ["--role", "relay"]);
      await a.waitLog((j) => j.msg === "node ready");
      const adminBefore = await Deno.readTextFile(`${c.data("relay")}/admin.json`);
      const second = await serveOutput(["--data", c.data("relay"), "--role", "relay"]);
      assertEquals(second.success, false, "second serve refused");
      assert(second.stderr.includes("data-dir-locked"), second.stderr);
      assert(
        second.stderr.includes(`pid=${a.child.pid}`),
        `names pid ${a.child.pid}: ${second.stderr}`,
      );
      assert(second.stderr.includes("serve.lock"), second.stderr);
      assertEquals(
        await Deno.readTextFile(`${c.data("relay")}/admin.json`),
        adminBefore,
        "the running node's admin.json is untouched",
      );
      assertEquals((await a.get("/federation/status")).role, "relay", "the first one still serves");
      await a.stop("SIGKILL");
      const b = await c.serve("relay-2", ["--data", c.data("relay"), "--role", "relay"]);
      await b.waitLog((j) => j.msg === "node ready");
      const st = await b.get("/federation/status");
      assertEquals(st.role, "relay", "started after the holder was killed");
      const lock = JSON.parse(await Deno.readTextFile(`${c.data("relay")}/serve.lock`));
      assertEquals(lock.pid, b.child.pid, "the lock file names the new holder");
    } finally {
      await c.close();
    }
  },
});

Deno.test({
  name: "data dir: 0700 dirs and 0600 files, too-open modes fixed on start with a log line",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const c = await Cluster.create();
    try {
      const relayData = c.data("relay");
      await Deno.mkdir(relayData, { recursive: true });
      await cliOk(["keys", "generate", "--out", `${relayData}/node.key`]);
      await Deno.chmod(relayData, 0o755);
      await Deno.chmod(`${relayData}/node.key`, 0o644);
      const relay = await c.serve("relay", ["--role", "relay"]);
      const fixed = await relay.waitLog((j) => j.msg === "data dir modes fixed");
      assert(JSON.stringify(fixed).includes("node.key"), JSON.stringify(fixed));
      await c.joinedHub("alice", "relay", relay.tcp);
      const ha = await c.serve("alice", ["--role", "hub"]);
      await ha.waitLog((j) => j.msg === "relay session up");
      for (const d of [relayData, c.data("alice")]) assertEquals(modeOf(d), 0o700, d);
      const files = [
        "relay/node.key",
        "relay/federation.db",
        "relay/federation.db-wal",
        "relay/federation.db-shm",
        "relay/federation.db.manifest",
        "relay/invite.key",
        "relay/admin.json",
        "relay/federation-hubs.json",
        "relay/serve.lock",
        "alice/node.key",
        "alice/family.key",
        "alice/hub.json",
        "alice/hub.db",
        "alice/hub.db-wal",
        "alice/hub.db-shm",
        "alice/hub.db.manifest",
        "alice/admin.json",
      ];
      for (const f of files) assertEquals(modeOf(`${c.dir}/${f}`).toString(8), "600", f);
    } finally {
      await c.close();
    }
  },
});

Deno.test({
  name: "data dir: a store without schema version is migrated, a newer one refused",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const c = await Cluster.create();
    try {
      let relay = await c.serve("relay", ["--role", "relay"]);
      await relay.waitLog((j) => j.msg === "node ready");
      await relay.stop("SIGTERM");
      const db = `${c.data("relay")}/federation.db`;
      // What a store from before versioning looks like: the same tables, no meta rows, no manifest.
      {
        const d = new DatabaseSync(db);
        d.exec("DELETE FROM meta");
        d.close();
      }
      await Deno.remove(`${db}.manifest`);
      relay = await c.serve("relay-2", ["--data", c.data("relay"), "--role", "relay"]);
      const m = await relay.waitLog((j) => j.msg === "store migrated");
      assertEquals(m.from, 0);
      await relay.stop("SIGTERM");
      {
        const d = new DatabaseSync(db, { readOnly: true });
        const v = d.prepare("SELECT v FROM meta WHERE k = 'schema'").get() as { v: string };
        d.close();
        assertEquals(v.v, String(FED_SCHEMA_VERSION));
      }
      // A store written by a newer version.
      {
        const d = new DatabaseSync(db);
        d.exec("UPDATE meta SET v = '99' WHERE k = 'schema'");
        d.close();
      }
      const r = await serveOutput(["--data", c.data("relay"), "--role", "relay"]);
      assertEquals(r.success, false);
      assert(r.stderr.includes("store-newer") && r.stderr.includes(db), r.stderr);
      assert(r.stderr.includes("version=99"), r.stderr);
    } finally {
      await c.close();
    }
  },
});

Deno.test({
  name: "data dir: SIGHUP reloads quotas (no FED_RESTART, sessions kept); family quota is live",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const c = await Cluster.create();
    try {
      const cfgPath = `${c.dir}/relay.json`;
      await Deno.writeTextFile(cfgPath, JSON.stringify({ federation: { quotaMessages: 100 } }));
      const relay = await c.serve("relay", [
        "--role",
        "relay",
        "--config",
        cfgPath,
        "--tcp",
        `127.0.0.1:${freePort()}`,
      ]);
      await c.joinedHub("alice", "relay", relay.tcp);
      const bob = await c.joinedHub("bob", "relay", relay.tcp);
      const ha = await c.serve("alice", ["--role", "hub"]);
      await ha.waitLog((j) => j.msg === "relay session up");
      const send = async (i: number) => (await ha.send(bob, `m${i}`, { wait: 10_000 })).json;
      for (let i = 0; i < 3; i++) assertEquals((await send(i)).state, "stored");

      // Reload: the default quota drops to 4 (bob follows the default).
      await Deno.writeTextFile(cfgPath, JSON.stringify({ federation: { quotaMessages: 4 } }));
      relay.signal("SIGHUP");
      await relay.waitLog((j) => j.msg === "federation config applied");
      assertEquals((await send(3)).state, "stored");
      const refused = await send(4);
      assert(String(refused.state).includes("FED_QUOTA_EXCEEDED"), JSON.stringify(refused));
      assert(String(refused.state).includes("limit=4"), JSON.stringify(refused));
      assertEquals(relay.exited, false, "SIGHUP did not kill the relay");
      assertEquals(
        ha.logs.filter((j) => j.msg === "relay announced restart").length,
        0,
        "no FED_RESTART",
      );
      assertEquals(
        metric(await ha.metrics(), "myclerk_federation_hub_connects_total"),
        1,
        "session kept",
      );

      // `family quota` on the running relay's data dir: live, no reload.
      const out = await cliOk([
        "family",
        "quota",
        bob,
        "--max-messages",
        "6",
        "--data",
        c.data("relay"),
        "--config",
        cfgPath,
      ]);
      assert(out.includes("quota 6 messages"), out);
      assertEquals((await send(5)).state, "stored");
      assertEquals((await send(6)).state, "stored");
      const again = await send(7);
      assert(String(again.state).includes("limit=6"), JSON.stringify(again));
      // Unknown family and bad values are refused with a reason.
      const bad = await cli([
        "family",
        "quota",
        "0".repeat(32),
        "--max-messages",
        "5",
        "--data",
        c.data("relay"),
      ]);
      assertEquals(bad.code, 1);
      assert(bad.stderr.includes("unknown-family"), bad.stderr);
      const neg = await cli([
        "family",
        "quota",
        bob,
        "--max-bytes",
        "-1",
        "--data",
        c.data("relay"),
      ]);
      // a usage error (docs/OPERATOR.md "Output formats and exit codes"): exit 2
      assert(neg.code === 2 && neg.stderr.includes("max-bytes"), neg.stderr);
      await until(
        async () => metric(await relay.metrics(), "myclerk_federation_queue_messages") === 6,
        5000,
        "6 queued",
      );
    } finally {
      await c.close();
    }
  },
});
