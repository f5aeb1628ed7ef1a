/**
 * Child process of the kill -9 test in sqlite_conformance_test.ts: opens the
 * relay store as the relay does (synchronous NORMAL, durability by group WAL
 * sync), enqueues groups in a loop with several in flight, and prints a
 * group's message numbers only after its `durable` resolved. Usage:
 * `deno run -A _durable_child.ts DB_PATH MAX BATCH`.
 *
 * @module
 */

import { openSqliteRelayStore } from "../../../federation/store/mod.ts";

const [path, maxArg, batchArg] = Deno.args;
const max = Number(maxArg);
const batch = Number(batchArg);
const store = openSqliteRelayStore({
  path,
  synchronous: "NORMAL",
  defaultQuota: { messages: 1e9, bytes: 1e12 },
});
const to = "0123456789abcdef0123456789abcdef";
const from = "fedcba9876543210fedcba9876543210";
const enc = new TextEncoder();
const item = (i: number) => {
  const mid = new Uint8Array(16);
  new DataView(mid.buffer).setUint32(12, i);
  return {
    lane: { kind: "mailbox" as const },
    message: {
      to,
      from,
      fromKey: new Uint8Array(32),
      mid,
      ttl: 3600,
      hops: 0,
      sealed: new Uint8Array(512).fill(i & 0xff),
    },
  };
};
Deno.stdout.writeSync(enc.encode("ready\n"));
const inflight = new Set<Promise<void>>();
for (let i = 0; i < max; i += batch) {
  const ids = Array.from({ length: batch }, (_, k) => i + k);
  const b = await store.enqueueBatch(ids.map(item), Math.floor(Date.now() / 1000));
  const p = b.durable.then(() => {
    Deno.stdout.writeSync(enc.encode(ids.join("\n") + "\n"));
  });
  inflight.add(p);
  p.finally(() => inflight.delete(p));
  // Up to four groups share syncs, as concurrent hub sessions do.
  if (inflight.size >= 4) await Promise.race(inflight);
}
await Promise.all(inflight);
await store.close();
