/**
 * Durable ingest of the federation store: the SQLite RelayStore
 * (`federation/store/sqlite_relay.ts`: WAL, synchronous FULL and NORMAL +
 * group WAL sync, one message per group and groups of 32, one group in
 * flight or four sharing durability rounds as concurrent sessions do)
 * against Deno KV (`Deno.openKv` on a local file, one atomic per message
 * and 32 per atomic), each doing the same work per message: dedupe check,
 * quota counter, queue insert, and durable (`await durable`) before the
 * next. Also delivered-acks: one transaction per ack against the acks of
 * one turn coalesced into one transaction; and the relay's hot path (64
 * families: group commit, fetch, delivered-ack) with the store on the
 * event loop against the store in a Worker (`WorkerRelayStore`), with the
 * main thread's own CPU time per message (from /proc/self/task).
 *
 * Run: `deno run --allow-all bench/store.ts [--quick]`. Deno KV needs
 * `--unstable-kv`, so its part runs in a child process started here.
 *
 * @module
 */

import {
  openSqliteRelayStore,
  type QueueInput,
  type RelayStore,
  type SqliteRelayStore,
  WorkerRelayStore,
} from "../federation/store/mod.ts";

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

async function withStore<T>(
  sync: "FULL" | "NORMAL",
  f: (s: SqliteRelayStore) => Promise<T>,
): Promise<T> {
  const dir = await Deno.makeTempDir({ prefix: "bench-store-" });
  const s = openSqliteRelayStore({
    path: `${dir}/f.db`,
    synchronous: sync,
    defaultQuota: { messages: 1e9, bytes: 1e13 },
  });
  try {
    return await f(s);
  } finally {
    await s.close();
    await Deno.remove(dir, { recursive: true });
  }
}

const group = (i: number, batch: number) =>
  Array.from({ length: batch }, (_, k) => ({
    lane: { kind: "mailbox" as const },
    message: item(i + k),
  }));

/** `inflight` groups of `batch` at a time, each awaited until durable. */
function sqlite(sync: "FULL" | "NORMAL", batch: number, inflight = 1): Promise<Result> {
  return withStore(sync, (s) => {
    const now = Math.floor(Date.now() / 1000);
    const name = `sqlite ${sync} batch=${batch}${inflight > 1 ? ` inflight=${inflight}` : ""}`;
    return timed(name, batch * inflight, async (i) => {
      const bs = await Promise.all(
        Array.from(
          { length: inflight },
          (_, g) => s.enqueueBatch(group(i + g * batch, batch), now),
        ),
      );
      await Promise.all(bs.map((b) => b.durable));
    });
  });
}

/** Delivered-acks of 64 messages per turn: coalesced (one transaction) or one transaction each. */
function acks(coalesced: boolean): Promise<Result> {
  return withStore("NORMAL", async (s) => {
    const now = Math.floor(Date.now() / 1000);
    const n = QUICK ? 40_000 : 150_000;
    for (let i = 0; i < n; i += 1000) await (await s.enqueueBatch(group(i, 1000), now)).durable;
    let done = 0;
    const r = await timed(
      `acks ${coalesced ? "coalesced per turn" : "one transaction each"}`,
      64,
      async (i) => {
        if (i + 64 > n) return;
        const mids = Array.from({ length: 64 }, (_, k) => item(i + k).mid);
        if (coalesced) {
          const ns = await Promise.all(
            mids.map((m) => s.ack({ kind: "mailbox" }, TO, [m], { durable: false })),
          );
          done += ns.reduce((a, b) => a + b, 0);
        } else {
          for (const m of mids) {
            done += await s.ack({ kind: "mailbox" }, TO, [m], { durable: false });
          }
        }
      },
    );
    if (done === 0) throw new Error("no acks ran");
    return r;
  });
}

/** CPU seconds of this process's main thread (Linux /proc; undefined elsewhere). */
function mainThreadCpu(): number | undefined {
  try {
    const f = Deno.readTextFileSync(`/proc/self/task/${Deno.pid}/stat`);
    const rest = f.slice(f.lastIndexOf(")") + 2).split(" ");
    return (Number(rest[11]) + Number(rest[12])) / 100; // utime + stime, clock ticks of 10 ms
  } catch {
    return undefined;
  }
}

interface HotResult extends Result {
  /** Main-thread CPU µs per message. */
  readonly cpuUs?: number;
}

/** The relay's hot path on 64 families: one group of 64, then fetch and ack per family. */
async function hotPath(name: string, s: RelayStore): Promise<HotResult> {
  const fams = Array.from({ length: 64 }, (_, i) => i.toString(16).padStart(32, "0"));
  const now = Math.floor(Date.now() / 1000);
  const cursors = new Map<string, number>();
  let n = 0;
  const c0 = mainThreadCpu();
  const r = await timed(name, 64, async () => {
    const b = await s.enqueueBatch(
      fams.map((to) => ({ lane: { kind: "mailbox" as const }, message: { ...item(n++), to } })),
      now,
    );
    const acks = await Promise.all(fams.map(async (f) => {
      const w = await s.fetchWindow(f, cursors.get(f) ?? 0, 64, 1 << 20);
      if (w.rows.length === 0) throw new Error("nothing fetched");
      cursors.set(f, w.rows[w.rows.length - 1].seq);
      return s.ack({ kind: "mailbox" }, f, w.rows.map((x) => x.mid), { durable: false });
    }));
    await Promise.all([b.durable, ...acks]);
  });
  const c1 = mainThreadCpu();
  await s.close();
  const total = r.perSec * SECONDS;
  return c0 === undefined || c1 === undefined ? r : { ...r, cpuUs: (c1 - c0) * 1e6 / total };
}

async function hot(worker: boolean): Promise<HotResult> {
  const dir = await Deno.makeTempDir({ prefix: "bench-hot-" });
  const o = {
    path: `${dir}/f.db`,
    synchronous: "NORMAL" as const,
    defaultQuota: { messages: 1e9, bytes: 1e13 },
  };
  try {
    return worker
      ? await hotPath("hot path 64 families, store in a worker", await WorkerRelayStore.open(o))
      : await hotPath("hot path 64 families, store on the event loop", openSqliteRelayStore(o));
  } finally {
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
  const full32x4 = await sqlite("FULL", 32, 4);
  const normal32x4 = await sqlite("NORMAL", 32, 4);
  const ackEach = await acks(false);
  const ackTurn = await acks(true);
  const hotLoop = await hot(false);
  const hotWorker = await hot(true);
  const kv1 = await kv(1);
  const kv32 = await kv(32);
  rows.push(full1, normal1, full32, normal32, full32x4, normal32x4);
  if (kv1) rows.push(kv1);
  if (kv32) rows.push(kv32);
  rows.push(ackEach, ackTurn, hotLoop, hotWorker);
  console.log(`durable ingest and acks, ${SIZE}-byte sealed messages, ${SECONDS}s per row`);
  console.log("| store | msgs/s |");
  console.log("|---|---:|");
  for (const r of rows) {
    const cpu = (r as HotResult).cpuUs;
    console.log(
      `| ${r.name} | ${Math.round(r.perSec)} |${
        cpu === undefined ? "" : ` main thread ${cpu.toFixed(1)} µs/msg |`
      }`,
    );
  }
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
  ratio(normal32x4, kv32, "sqlite NORMAL group-commit(32) x4 in flight", 1.0);
  console.log(
    `info: sqlite FULL group-commit(32)/per-message: ${(full32.perSec / full1.perSec).toFixed(2)}x`,
  );
  console.log(
    `info: sqlite NORMAL 4 groups in flight / 1: ${
      (normal32x4.perSec / normal32.perSec).toFixed(2)
    }x`,
  );
  console.log(
    `info: hot path, store in a worker / on the event loop: ${
      (hotWorker.perSec / hotLoop.perSec).toFixed(2)
    }x msgs/s${
      hotWorker.cpuUs && hotLoop.cpuUs
        ? `, main-thread CPU per message ${(hotWorker.cpuUs / hotLoop.cpuUs).toFixed(2)}x`
        : ""
    }`,
  );
  console.log(
    `info: delivered-acks coalesced per turn / one transaction each: ${
      (ackTurn.perSec / ackEach.perSec).toFixed(2)
    }x`,
  );
}
