import { assert, assertEquals } from "./_assert.ts";
import { openSqliteRelayStore } from "../../federation/store/mod.ts";
import { DatabaseSync } from "node:sqlite";

const CHILD = new URL("./_enqueue_child.ts", import.meta.url).pathname;
const TO = "0123456789abcdef0123456789abcdef";

async function killMidRun(batch: number, killAfter: number): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "fedkill-" });
  const db = `${dir}/federation.db`;
  try {
    const child = new Deno.Command(Deno.execPath(), {
      args: ["run", "--allow-all", CHILD, db, "1000000", String(batch)],
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const printed: number[] = [];
    const dec = new TextDecoder();
    let buf = "";
    let killed = false;
    for await (const chunk of child.stdout) {
      buf += dec.decode(chunk, { stream: true });
      const lines = buf.split("\n");
      buf = lines.pop()!;
      for (const l of lines) printed.push(Number(l));
      if (!killed && printed.length >= killAfter) {
        child.kill("SIGKILL"); // mid-run: the child is inside its enqueue loop
        killed = true;
      }
    }
    const status = await child.status;
    await child.stderr.cancel();
    assert(killed, "child finished before the kill");
    assertEquals(status.signal, "SIGKILL");
    assert(printed.length >= killAfter);
    // Every acknowledged (printed) id is there exactly once.
    const store = openSqliteRelayStore({ path: db });
    try {
      assertEquals(store.integrityCheck(), "ok");
      const rows = (await store.fetchWindow(TO, 0, 2_000_000, Infinity)).rows;
      const count = new Map<number, number>();
      for (const r of rows) {
        const id = new DataView(r.mid.buffer, r.mid.byteOffset).getUint32(12);
        count.set(id, (count.get(id) ?? 0) + 1);
      }
      for (const id of printed) assertEquals(count.get(id), 1, `id ${id}`);
      // Nothing beyond what was committed, and store order = enqueue order.
      const ids = rows.map((r) => new DataView(r.mid.buffer, r.mid.byteOffset).getUint32(12));
      assertEquals(ids, [...ids].sort((a, b) => a - b));
      assertEquals((await store.usage(TO)).messages, rows.length);
    } finally {
      await store.close();
    }
    // An independent check with a fresh connection.
    const raw = new DatabaseSync(db);
    try {
      assertEquals(
        (raw.prepare("PRAGMA integrity_check").get() as { integrity_check: string })
          .integrity_check,
        "ok",
      );
    } finally {
      raw.close();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("durability: kill -9 mid-run, every printed (committed) id is present exactly once", async () => {
  await killMidRun(1, 400);
});

Deno.test("durability: kill -9 mid-run with group commit (batches of 32)", async () => {
  await killMidRun(32, 2000);
});
