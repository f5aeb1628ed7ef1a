/**
 * Delivery credit in bytes (issue 9 case 7): a backlog of large envelopes
 * drains. 60 messages of 200 KB waiting for an offline hub, and a mix of
 * sizes up to the largest envelope the relay accepts (8 MiB, wire
 * fragmented), are each delivered exactly once, and the relay never closes
 * its own link with `send-queue-full` (before the byte window it pushed 64
 * messages per credit window, overflowed its 8 MiB send queue and re-pushed
 * forever).
 */

import { assert, assertEquals } from "../_assert.ts";
import { Cluster, metric, readInbox, until } from "./_harness.ts";

const MAX_ENVELOPE = 8 * 1_048_576;

function body(seed: number, n: number): Uint8Array {
  const b = new Uint8Array(n);
  let x = seed >>> 0;
  for (let i = 0; i < n; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    b[i] = 97 + ((x >>> 16) % 26);
  }
  return b;
}

async function closedSendQueueFull(relayMetrics: () => Promise<string>): Promise<number> {
  return metric(
    await relayMetrics(),
    "myclerk_connections_closed_total",
    'reason="send-queue-full"',
  );
}

async function backlog(sizes: readonly number[], timeoutMs: number): Promise<void> {
  const c = await Cluster.create();
  try {
    const relay = await c.serve("relay", ["--role", "relay"]);
    await c.joinedHub("alice", "relay", relay.tcp);
    const bob = await c.joinedHub("bob", "relay", relay.tcp);
    const ha = await c.serve("alice", ["--role", "hub"]);
    await ha.waitLog((j) => j.msg === "relay session up");
    // Bob is offline: everything waits in the relay's store.
    const want = new Map<string, number>();
    for (let i = 0; i < sizes.length; i++) {
      const r = await ha.send(bob, body(i + 1, sizes[i]), { wait: 60_000 });
      assertEquals(r.status, 200, JSON.stringify(r.json));
      assertEquals(r.json.state, "stored", JSON.stringify(r.json));
      want.set(String(r.json.mid), sizes[i]);
    }
    const hb = await c.serve("bob", ["--role", "hub"]);
    await hb.waitLog((j) => j.msg === "relay session up");
    const inbox = await until(
      () => {
        const i = readInbox(c.data("bob"));
        return i.total >= sizes.length ? i : undefined;
      },
      timeoutMs,
      `bob got all ${sizes.length} messages`,
    );
    assertEquals(inbox.total, sizes.length, "each exactly once");
    for (const [mid, size] of want) {
      assertEquals(inbox.mids.get(mid), 1, `mid ${mid} once`);
      assertEquals(inbox.bodies.get(mid)?.length, size, `mid ${mid} intact`);
    }
    // The relay's mailbox empties (acks delete), and it never dropped its own link.
    await until(
      async () => metric(await relay.metrics(), "myclerk_federation_queue_messages") === 0,
      20_000,
      "relay mailbox empty",
    );
    assertEquals(await closedSendQueueFull(() => relay.metrics()), 0, "no send-queue-full close");
    assertEquals(await closedSendQueueFull(() => hb.metrics()), 0, "hub side: none either");
    const reconnects = hb.logs.filter((j) => j.msg === "relay session up").length;
    assertEquals(reconnects, 1, "bob's session was never dropped");
  } finally {
    await c.close();
  }
}

Deno.test({
  name: "credit: 60 x 200 KB backlog drains exactly once, no send-queue-full",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: () => backlog(Array.from({ length: 60 }, () => 200_000), 60_000),
});

Deno.test({
  name: "credit: mixed sizes up to the largest envelope (8 MiB) drain exactly once",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: () => {
    // The body that seals to exactly the 8 MiB maximum: envelope = body + 64-byte header
    // + 32-byte trailer + 16-byte tag + the inner map (mid, from, ts, ttl, bin32 body header).
    const overhead = 185;
    const sizes = [
      MAX_ENVELOPE - overhead,
      200_000,
      1_000,
      3_000_000,
      MAX_ENVELOPE - overhead,
      ...Array.from({ length: 20 }, (_, i) => 50_000 + i * 17_000),
      5_500_000,
      10,
    ];
    assert(sizes.every((s) => s > 0));
    return backlog(sizes, 180_000);
  },
});
