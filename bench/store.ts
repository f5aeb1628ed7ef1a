/**
 * Durable ingest of the federation store: `node:sqlite` (WAL, synchronous
 * FULL and NORMAL, one transaction per message and group commit of 32)
 * against Deno KV (`Deno.openKv` on a local file, one atomic per message
 * and 32 per atomic), each doing the same work per message: dedupe check,
 * quota counter, queue insert, and durable before the call returns.
 *
 * Run: `deno run --allow-all bench/store.ts [--quick]`. Deno KV needs
 * `--unstable-kv`, so its part runs in a child process started here.
 *
 * @module
 */

import { FedStore, type QueueInput } from "../federation/store.ts";

const QUICK = Deno.args.includes("--quick");
const SECONDS = QUICK ? 0.8 : 3;
const SIZE = 1024;
const TO = "0123456789abcdef0123456789abcdef";
const FROM = "fedcba9876543210fedcba9876543210";

function item(i: number): QueueInput {
  const mid = new Uint8Array(16);
  new DataView(mid.buffer).setUint32(12, i);
  mid[0] = 0xaa;
  return {
    to: TO,
    from: FROM,
    fromKey: new Uint8Array(32),
    mid,
    ttl: 3600,
    hops: 0,
    sealed: new Uint8Array(SIZE),
  };
}

interface Result {
  readonly name: string;
  readonly perSec: number;
}

async function timed(
  name: string,
  batch: number,
  step: (i: number) => void | Promise<void>,
): Promise<Result> {
  const end = performance.now() + SECONDS * 1000;
  let i = 0;
  const t0 = performance.now();
  while (performance.now() < end) {
    await step(i);
    i += batch;
  }
  return { name, perSec: i / ((performance.now() - t0) / 1000) };
}

async function sqlite(sync: "FULL" | "NORMAL", batch: number): Promise<Result> {
  const dir = await Deno.makeTempDir({ prefix: "bench-store-" });
  const s = FedStore.open({
    path: `${dir}/f.db`,
    synchronous: sync,
    defaultQuota: { messages: 1e9, bytes: 1e13 },
  });
  try {
    const now = Math.floor(Date.now() / 1000);
    return await timed(`sqlite ${sync} batch=${batch}`, batch, (i) => {
      if (batch === 1) s.enqueue({ kind: "mailbox" }, item(i), now);
      else {
        s.enqueueBatch(
          Array.from(
            { length: batch },
            (_, k) => ({ lane: { kind: "mailbox" as const }, message: item(i + k) }),
          ),
          now,
        );
      }
    });
  } finally {
    s.close();
    await Deno.remove(dir, { recursive: true });
  }
}

/** Runs inside the `--unstable-kv` child: the same work on Deno KV. */
async function kvChild(batch: number): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "bench-kv-" });
  // deno-lint-ignore no-explicit-any
  const openKv = (Deno as any).openKv as (p: string) => Promise<any>;
  const kv = await openKv(`${dir}/kv.sqlite3`);
  try {
    let seq = 0;
    const r = await timed(`deno-kv batch=${batch}`, batch, async (i) => {
      const op = kv.atomic();
      for (let k = 0; k < batch; k++) {
        const m = item(i + k);
        const seenKey = ["seen", m.to, m.mid];
        op.check({ key: seenKey, versionstamp: null });
        op.set(seenKey, 1);
        op.set(["q", m.to, ++seq], { from: m.from, mid: m.mid, sealed: m.sealed, ttl: m.ttl });
        op.sum(["usage", m.to, "n"], 1n);
        op.sum(["usage", m.to, "b"], BigInt(SIZE));
      }
      const res = await op.commit();
      if (!res.ok) throw new Error("kv commit failed");
    });
    console.log(JSON.stringify(r));
  } finally {
    kv.close();
    await Deno.remove(dir, { recursive: true });
  }
}

async function kv(batch: number): Promise<Result | undefined> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-all",
      "--unstable-kv",
      new URL(import.meta.url).pathname,
      "--kv-child",
      String(batch),
      ...(QUICK ? ["--quick"] : []),
    ],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const line = new TextDecoder().decode(out.stdout).trim().split("\n").pop() ?? "";
  try {
    return JSON.parse(line) as Result;
  } catch {
    console.log(
      `deno-kv batch=${batch}: unavailable (${
        new TextDecoder().decode(out.stderr).trim().slice(0, 200)
      })`,
    );
    return undefined;
  }
}

const childAt = Deno.args.indexOf("--kv-child");
if (childAt >= 0) {
  await kvChild(Number(Deno.args[childAt + 1]));
} else {
  const rows: Result[] = [];
  const full1 = await sqlite("FULL", 1);
  const normal1 = await sqlite("NORMAL", 1);
  const full32 = await sqlite("FULL", 32);
  const normal32 = await sqlite("NORMAL", 32);
  const kv1 = await kv(1);
  const kv32 = await kv(32);
  rows.push(full1, normal1, full32, normal32);
  if (kv1) rows.push(kv1);
  if (kv32) rows.push(kv32);
  console.log(`durable ingest, ${SIZE}-byte sealed messages, ${SECONDS}s per row`);
  console.log("| store | msgs/s |");
  console.log("|---|---:|");
  for (const r of rows) console.log(`| ${r.name} | ${Math.round(r.perSec)} |`);
  const ratio = (a: Result, b: Result | undefined, label: string, target: number) => {
    if (!b) {
      return console.log(`target: ${label} >= ${target}x deno-kv: n/a (Deno KV unavailable) SKIP`);
    }
    const x = a.perSec / b.perSec;
    console.log(
      `target: ${label} >= ${target}x deno-kv: ${x.toFixed(2)}x ${x >= target ? "PASS" : "FAIL"}`,
    );
  };
  ratio(full1, kv1, "sqlite FULL per-message", 1.0);
  ratio(full32, kv32, "sqlite FULL group-commit(32)", 1.0);
  console.log(
    `info: sqlite NORMAL/FULL per-message: ${(normal1.perSec / full1.perSec).toFixed(2)}x`,
  );
  console.log(
    `info: sqlite FULL group-commit(32)/per-message: ${(full32.perSec / full1.perSec).toFixed(2)}x`,
  );
}
