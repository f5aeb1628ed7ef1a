/**
 * Disk full (issue 9 case 10) on a real small file system: the relay's data
 * directory is a tmpfs mounted with `size=` by this test (unmounted after).
 * Filled up, the relay refuses FED_DELIVERs with `ERROR SERVICE_UNAVAILABLE
 * storage-full` (the sending hub reports it on `send`, keeps the message
 * pending and resends), logs "storage full" (not "cannot rollback - no
 * transaction is active"), never acks what it could not store; once space is
 * freed, sending and delivery resume and every message arrives exactly once.
 */

import { assert, assertEquals } from "../_assert.ts";
import { REQUIRE_REAL } from "../../_support/real.ts";
import { Cluster, metric, readInbox, until } from "./_harness.ts";

function canMount(): { ignore: boolean } {
  if (Deno.uid() === 0) return { ignore: false };
  const why = "needs root to mount a size-limited tmpfs";
  if (REQUIRE_REAL) throw new Error(`disk-full suite cannot run: ${why}`);
  console.error(`[skip] ${why}`);
  return { ignore: true };
}

async function run(cmd: string, ...args: string[]): Promise<void> {
  const out = await new Deno.Command(cmd, { args, stdout: "piped", stderr: "piped" }).output();
  if (!out.success) {
    throw new Error(`${cmd} ${args.join(" ")}: ${new TextDecoder().decode(out.stderr)}`);
  }
}

/** Writes zeros to `path` until the file system is full; returns the bytes written. */
async function fill(path: string): Promise<number> {
  const f = await Deno.open(path, { write: true, create: true });
  const chunk = new Uint8Array(64 * 1024);
  let n = 0;
  try {
    for (let i = 0; i < 100_000; i++) n += await f.write(chunk);
  } catch (e) {
    if (!String(e).includes("No space left")) throw e;
  } finally {
    f.close();
  }
  return n;
}

Deno.test({
  name: "disk full: storage-full to the sender and in the log, resumes when space is freed",
  ...canMount(),
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const c = await Cluster.create();
    const mnt = c.data("relay");
    await Deno.mkdir(mnt, { recursive: true });
    await run("mount", "-t", "tmpfs", "-o", "size=12m,mode=0700", "tmpfs", mnt);
    try {
      const relay = await c.serve("relay", ["--role", "relay"]);
      await c.joinedHub("alice", "relay", relay.tcp);
      const bob = await c.joinedHub("bob", "relay", relay.tcp);
      const ha = await c.serve("alice", ["--role", "hub"]);
      await ha.waitLog((j) => j.msg === "relay session up");
      const stored: string[] = [];
      for (let i = 0; i < 5; i++) {
        const r = await ha.send(bob, `before ${i} ` + "x".repeat(20_000), { wait: 10_000 });
        assertEquals(r.json.state, "stored");
        stored.push(String(r.json.mid));
      }
      // Fill the relay's file system, then send: refused with storage-full, kept pending.
      const filler = `${mnt}/filler`;
      const filled = await fill(filler);
      assert(filled > 0, "filler written");
      const pending: string[] = [];
      let sawFull = false;
      for (let i = 0; i < 40 && !sawFull; i++) {
        const r = await ha.send(bob, `during ${i} ` + "y".repeat(100_000), { wait: 5_000 });
        const mid = String(r.json.mid);
        if (r.json.state === "stored") stored.push(mid);
        else {
          pending.push(mid);
          if (String(r.json.error ?? "").includes("SERVICE_UNAVAILABLE storage-full")) {
            sawFull = true;
          }
        }
      }
      assert(sawFull, "the sender was told SERVICE_UNAVAILABLE storage-full");
      await relay.waitLog((j) => j.msg === "storage full: messages refused");
      assertEquals(
        relay.logs.filter((j) => JSON.stringify(j).includes("cannot rollback")).length,
        0,
        "no 'cannot rollback' hiding ENOSPC",
      );
      const m = await relay.metrics();
      assert(metric(m, "myclerk_federation_drops_total", 'reason="storage-full"') >= 1, "counted");
      const outbox = (await ha.get("/federation/status")).hub as Record<string, unknown>;
      assert(
        ((outbox.outbox as Record<string, number>).pending ?? 0) >= 1,
        JSON.stringify(outbox),
      );

      // Free the space: the hub resends by itself, and delivery resumes.
      await Deno.remove(filler);
      for (const mid of pending) {
        await until(
          async () => {
            const st = await ha.get("/federation/status");
            const ob = (st.hub as Record<string, Record<string, number>>).outbox;
            return ob.pending === 0;
          },
          30_000,
          `pending ${mid} resent and stored`,
        );
      }
      const after = await ha.send(bob, "after", { wait: 10_000 });
      assertEquals(after.json.state, "stored", "sending resumes");
      const all = [...stored, ...pending, String(after.json.mid)];
      const hb = await c.serve("bob", ["--role", "hub"]);
      await hb.waitLog((j) => j.msg === "relay session up");
      const inbox = await until(
        () => {
          const i = readInbox(c.data("bob"));
          return i.total >= all.length ? i : undefined;
        },
        30_000,
        `bob got all ${all.length}`,
      );
      assertEquals(inbox.total, all.length, "nothing lost, nothing twice");
      for (const mid of all) assertEquals(inbox.mids.get(mid), 1, mid);
      assertEquals(relay.exited, false, "the relay stayed up");
    } finally {
      await c.close();
      await run("umount", "-l", mnt).catch((e) => console.error(String(e)));
      await Deno.remove(c.dir, { recursive: true }).catch(() => {});
    }
  },
});
