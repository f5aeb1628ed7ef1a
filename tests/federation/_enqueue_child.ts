/**
 * Child process of the kill -9 durability test: enqueues messages in a loop
 * and prints each message number only after its group commit resolved (=
 * after COMMIT; the store is FULL, so COMMIT is synced). Usage:
 * `deno run -A _enqueue_child.ts DB_PATH MAX [batch]`.
 *
 * @module
 */

import { openSqliteRelayStore } from "../../federation/store/mod.ts";

const [path, maxArg, batchArg] = Deno.args;
const max = Number(maxArg);
const batch = Number(batchArg ?? "1");
const store = openSqliteRelayStore({ path, defaultQuota: { messages: 1e9, bytes: 1e12 } });
const to = "0123456789abcdef0123456789abcdef";
const from = "fedcba9876543210fedcba9876543210";
const enc = new TextEncoder();
const item = (i: number) => {
  const mid = new Uint8Array(16);
  new DataView(mid.buffer).setUint32(12, i);
  return {
    to,
    from,
    fromKey: new Uint8Array(32),
    mid,
    ttl: 3600,
    hops: 0,
    sealed: new Uint8Array(512).fill(i & 0xff),
  };
};
for (let i = 0; i < max; i += batch) {
  const now = Math.floor(Date.now() / 1000);
  const ids = Array.from({ length: batch }, (_, k) => i + k);
  await store.enqueueBatch(
    ids.map((k) => ({ lane: { kind: "mailbox" as const }, message: item(k) })),
    now,
  );
  Deno.stdout.writeSync(enc.encode(ids.join("\n") + "\n"));
}
await store.close();
