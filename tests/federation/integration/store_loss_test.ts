/**
 * No silent loss (issue 9 case 9): a relay store that is empty (0 bytes),
 * truncated, damaged (a garbage page) or missing its `-wal` file after
 * acknowledged messages (kill -9 first, so the WAL holds them) makes
 * `serve` refuse to start with an error naming the file and the fix; the
 * same for a hub's hub.db. Putting the backup back (the fix) starts the
 * node with every acknowledged message still there. Before the store
 * manifest, a 0-byte federation.db started as a brand-new empty relay and a
 * deleted -wal silently lost acknowledged messages.
 */

import { assert, assertEquals } from "../_assert.ts";
import { Cluster, freePort, metric, type Proc, until } from "./_harness.ts";

const MAIN = new URL("../../../main.ts", import.meta.url).pathname;

/** Runs `serve` expecting it to fail; returns its stderr (kills it after `ms` if it does not exit). */
async function serveFails(data: string, role: string, ms = 30_000): Promise<string> {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      MAIN,
      "serve",
      "--data",
      data,
      "--role",
      role,
      "--tcp",
      "127.0.0.1:0",
      "--http",
      "127.0.0.1:0",
    ],
    stdout: "null",
    stderr: "piped",
    stdin: "null",
  }).spawn();
  const timer = setTimeout(() => child.kill("SIGKILL"), ms);
  const out = await child.output();
  clearTimeout(timer);
  const err = new TextDecoder().decode(out.stderr);
  assert(!out.success, `serve was expected to refuse to start, it ran (stderr: ${err})`);
  return err;
}

async function copy(from: string, to: string): Promise<void> {
  await Deno.copyFile(from, to);
}

async function exists(p: string): Promise<boolean> {
  try {
    await Deno.stat(p);
    return true;
  } catch {
    return false;
  }
}

/** Removes the store's WAL and shared-memory files (a lost -wal). */
async function dropWal(db: string): Promise<void> {
  for (const s of ["-wal", "-shm"]) await Deno.remove(db + s).catch(() => {});
}

function assertRefusal(stderr: string, detail: string, file: string): void {
  assert(stderr.includes(detail), `expected ${detail} in: ${stderr}`);
  assert(stderr.includes(file), `the error names ${file}: ${stderr}`);
  assert(stderr.includes("fix="), `the error says how to fix it: ${stderr}`);
}

async function queued(relay: Proc): Promise<number> {
  return metric(await relay.metrics(), "myclerk_federation_queue_messages");
}

Deno.test({
  name: "store loss: empty, truncated, garbage page, lost -wal are refused; the backup starts",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const c = await Cluster.create();
    try {
      const relayArgs = ["--role", "relay", "--tcp", `127.0.0.1:${freePort()}`];
      let relay = await c.serve("relay", relayArgs);
      await c.joinedHub("alice", "relay", relay.tcp);
      const bob = await c.joinedHub("bob", "relay", relay.tcp);
      const ha = await c.serve("alice", ["--role", "hub"]);
      await ha.waitLog((j) => j.msg === "relay session up");
      for (let i = 0; i < 10; i++) {
        const r = await ha.send(bob, `before ${i}`, { wait: 10_000 });
        assertEquals(r.json.state, "stored");
      }
      await relay.stop("SIGTERM");
      const db = `${c.data("relay")}/federation.db`;
      assertEquals(await exists(`${db}.manifest`), true, "manifest written at creation");
      // A clean copy (after a graceful stop the WAL is checkpointed into the file).
      const backup = `${c.dir}/federation.db.backup`;
      await copy(db, backup);
      const size = (await Deno.stat(db)).size;

      // 0 bytes.
      await Deno.truncate(db, 0);
      assertRefusal(await serveFails(c.data("relay"), "relay"), "store-empty", db);
      assertEquals((await Deno.stat(db)).size, 0, "the refused store was not touched");
      // Truncated.
      await copy(backup, db);
      await Deno.truncate(db, Math.floor(size / 2) + 100);
      assertRefusal(await serveFails(c.data("relay"), "relay"), "store-truncated", db);
      // A garbage page in the middle.
      await copy(backup, db);
      {
        const f = await Deno.open(db, { write: true });
        await f.seek(4096 * 2, Deno.SeekMode.Start);
        await f.write(crypto.getRandomValues(new Uint8Array(4096)));
        f.close();
      }
      assertRefusal(await serveFails(c.data("relay"), "relay"), "store-damaged", db);
      // Gone altogether (the manifest remembers it).
      await Deno.remove(db);
      assertRefusal(await serveFails(c.data("relay"), "relay"), "store-missing", db);

      // The fix: the backup back in place; the relay starts with the 10 messages.
      await copy(backup, db);
      relay = await c.serve("relay-2", ["--data", c.data("relay"), ...relayArgs]);
      await until(async () => (await queued(relay)) === 10, 10_000, "10 queued after restore");

      // Lost -wal after kill -9: acknowledged messages live only in the WAL.
      await until(
        async () => metric(await ha.metrics(), "myclerk_federation_hub_connected") === 1,
        10_000,
        "alice back",
      );
      for (let i = 0; i < 20; i++) {
        const r = await ha.send(bob, `acked ${i}`, { wait: 10_000 });
        assertEquals(r.json.state, "stored");
      }
      await relay.stop("SIGKILL");
      const wal = await Deno.stat(`${db}-wal`);
      assert(wal.size > 0, "the WAL holds the acknowledged messages");
      await copy(`${db}-wal`, `${c.dir}/wal.backup`);
      await dropWal(db);
      const err = await serveFails(c.data("relay"), "relay");
      assert(
        err.includes("store-behind") || err.includes("store-empty"),
        `lost WAL refused: ${err}`,
      );
      assert(err.includes(db), err);
      // Putting the WAL back is the fix: all 30 acknowledged messages are there.
      await copy(`${c.dir}/wal.backup`, `${db}-wal`);
      relay = await c.serve("relay-3", ["--data", c.data("relay"), ...relayArgs]);
      await until(async () => (await queued(relay)) === 30, 10_000, "30 queued after WAL restore");
    } finally {
      await c.close();
    }
  },
});

Deno.test({
  name: "store loss: a 0-byte or truncated hub.db is refused, hub.db from backup starts",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const c = await Cluster.create();
    try {
      const relay = await c.serve("relay", ["--role", "relay"]);
      const alice = await c.joinedHub("alice", "relay", relay.tcp);
      const bob = await c.joinedHub("bob", "relay", relay.tcp);
      const ha = await c.serve("alice", ["--role", "hub"]);
      let hb = await c.serve("bob", ["--role", "hub"]);
      await ha.waitLog((j) => j.msg === "relay session up");
      await hb.waitLog((j) => j.msg === "relay session up");
      for (let i = 0; i < 5; i++) {
        assertEquals((await ha.send(bob, `m${i}`, { wait: 10_000 })).json.state, "stored");
      }
      await until(
        async () => metric(await hb.metrics(), "myclerk_federation_inbox_messages") === 5,
        10_000,
        "bob has 5 in his inbox",
      );
      await hb.stop("SIGTERM");
      const db = `${c.data("bob")}/hub.db`;
      const backup = `${c.dir}/hub.db.backup`;
      await copy(db, backup);
      await Deno.truncate(db, 0);
      assertRefusal(await serveFails(c.data("bob"), "hub"), "store-empty", db);
      await copy(backup, db);
      await Deno.truncate(db, 4096 + 10);
      assertRefusal(await serveFails(c.data("bob"), "hub"), "store-truncated", db);
      await copy(backup, db);
      hb = await c.serve("bob-2", ["--data", c.data("bob"), "--role", "hub"]);
      await until(
        async () => metric(await hb.metrics(), "myclerk_federation_inbox_messages") === 5,
        10_000,
        "the inbox is back",
      );
      assert(alice.length === 32);
    } finally {
      await c.close();
    }
  },
});
