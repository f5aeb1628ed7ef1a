/**
 * Handoff (docs/FEDERATION.md §6.5), on a real relay (in this process, a
 * SQLite file store, real TCP sessions) with two protocol-level hubs joined
 * by the CLI's join code:
 *
 * 1. A caught-up recipient that acks: every message reaches it in send
 *    order, the sender gets "stored" for each, and the relay writes none of
 *    them (no queue row, `stored_total` 0, `handed_off_total`).
 * 2. A recipient that stops acking: after `handoffMs` the messages are
 *    stored (even past the family's quota: they were already pushed), the
 *    sender gets "stored", the recipient is not sent them twice, and its
 *    late "delivered" deletes the rows.
 * 3. A resend of a message still held is not pushed twice, nor stored later.
 * 4. A recipient that keeps acking other messages: a late one stays held (the
 *    relay's own backlog delays acks in a burst), stored only at 10 x
 *    `handoffMs`.
 * 5. A recipient session that ends with messages handed off: they go to the
 *    store at once (the sender hears "stored" long before `handoffMs`), and
 *    the recipient's next session gets them from the store.
 * 6. `handoffMs: 0`: every message is stored first.
 * 7. A caught-up recipient that tops up its credit with FED_FETCH stays
 *    caught up: its messages keep going by handoff while a store read would
 *    be slow (reads held at a gate here, as on a store across a network).
 * 8. Messages that queued behind one that had to be stored (no credit) go
 *    by handoff once its commit is back (commits held at a gate), not
 *    through the store, still in send order.
 * 9. A commit that comes back during a store read the read did not see is
 *    read again (the session is not marked caught up past it).
 * 10. A recipient that lets handoffs time out is paused 2 x `handoffMs`,
 *    then 4 x, ...; a message it acks in time ends the escalation.
 * 11. A recipient that stops reading (a child process under SIGSTOP): what
 *    was handed off waits in the relay's send queue, and is not timed out
 *    as the recipient's stall (only the 10 x hold limit applies).
 */

import { assert, assertEquals } from "../_assert.ts";
import { backend } from "../../../core/crypto/mod.ts";
import { Client } from "../../../core/node/client.ts";
import { validateConfig } from "../../../core/node/config.ts";
import { loadOrCreateKeyFile } from "../../../core/node/keys.ts";
import { createLogger } from "../../../core/node/log.ts";
import { Node } from "../../../core/node/node.ts";
import { toHex } from "../../../federation/bytes.ts";
import { createInvite } from "../../../federation/invite.ts";
import { decodeFed, encodeFed, FedOp } from "../../../federation/messages.ts";
import { FED } from "../../../federation/metrics.ts";
import { CORE } from "../../../core/node/metrics.ts";
import { type HubKeyStore, Relay } from "../../../federation/relay/mod.ts";
import { openSqliteRelayStore } from "../../../federation/store/mod.ts";
import type { RelayStore } from "../../../federation/store/types.ts";
import {
  type BenchHub,
  hello,
  joinHubs,
  metricsCounter,
  type RelayProc,
  sealMany,
} from "../../../bench/_relay_ours.ts";
import { until } from "./_harness.ts";

const be = backend();

interface Setup {
  readonly dir: string;
  readonly node: Node;
  readonly relay: Relay;
  readonly store: RelayStore;
  readonly a: BenchHub;
  readonly b: BenchHub;
  close(): Promise<void>;
}

/**
 * A promise gate in front of some store calls: while closed, the calls are
 * made on the real store at once (their snapshot is taken then) and their
 * results wait for {@link Gate.open}, the way a store across a network
 * answers late.
 */
class Gate {
  #closed = false;
  #waiting: (() => void)[] = [];
  /** Calls that passed through (made on the store), by method. */
  readonly calls = new Map<string, number>();
  close(): void {
    this.#closed = true;
  }
  open(): void {
    this.#closed = false;
    for (const w of this.#waiting.splice(0)) w();
  }
  /** `store` with the results of `methods` held while the gate is closed. */
  wrap(store: RelayStore, methods: readonly (keyof RelayStore)[]): RelayStore {
    return new Proxy(store, {
      get: (t, k) => {
        const v = Reflect.get(t, k, t);
        if (typeof v !== "function") return v;
        if (!methods.includes(k as keyof RelayStore)) return v.bind(t);
        return async (...args: unknown[]) => {
          const r = await v.apply(t, args);
          this.calls.set(String(k), (this.calls.get(String(k)) ?? 0) + 1);
          if (this.#closed) await new Promise<void>((res) => this.#waiting.push(res));
          return r;
        };
      },
    });
  }
}

/** A relay with `federation` settings and hubs a (sender) and b (recipient) on sessions. */
async function setup(
  federation: Record<string, unknown>,
  wrap: (s: RelayStore) => RelayStore = (s) => s,
): Promise<Setup> {
  const dir = await Deno.makeTempDir({ prefix: "myclerk-handoff-" });
  await Deno.mkdir(`${dir}/relay`);
  const node = await Node.start(
    validateConfig({
      data: `${dir}/relay`,
      role: "relay",
      listen: { tcp: "127.0.0.1:0", http: "127.0.0.1:0" },
      federation: { rate: 1e6, burst: 100_000, ...federation },
    }),
    { log: createLogger({ sink: () => {} }) },
  );
  const store = wrap(
    openSqliteRelayStore({ path: `${dir}/relay/federation.db`, synchronous: "NORMAL" }),
  );
  const hubKeys: HubKeyStore = {
    load: () => Promise.resolve(new Map()),
    save: () => Promise.resolve(),
  };
  const tokenKey = be.randomBytes(32);
  const relay = await Relay.start(node, { peers: [], tokenKey, store, hubKeys });
  const t = Math.floor(Date.now() / 1000);
  const tokens: string[] = [];
  for (let i = 0; i < 2; i++) {
    const inv = createInvite(be, tokenKey, { relayKeyId: node.identity.keyId, expires: t + 600 });
    await store.addInvite(inv.invite, t);
    tokens.push(inv.token);
  }
  const proc: RelayProc = {
    addr: `127.0.0.1:${node.addresses.tcp.port}`,
    ws: `ws://127.0.0.1:${node.addresses.http.port}/myclerk`,
    pid: Deno.pid,
    tokens,
    logTail: () => Promise.resolve(""),
    counter: (name) => metricsCounter(node.addresses.http.port, name),
    stop: () => Promise.resolve(),
  };
  const [a, b] = await joinHubs(proc, dir, ["a", "b"], 1);
  return {
    dir,
    node,
    relay,
    store,
    a,
    b,
    close: async () => {
      a.c.close();
      b.c.close();
      await relay.stop();
      await node.close();
      await Deno.remove(dir, { recursive: true });
    },
  };
}

/**
 * A handoff test on a relay whose store holds the results of `methods` at
 * a gate (handoffMs 5000: nothing times out meanwhile); the gate is opened
 * and the relay closed afterwards.
 */
function gatedTest(
  name: string,
  methods: readonly (keyof RelayStore)[],
  fn: (s: Setup, gate: Gate) => Promise<void>,
): void {
  Deno.test({
    name,
    sanitizeOps: false,
    sanitizeResources: false,
    fn: async () => {
      const gate = new Gate();
      const s = await setup({ handoffMs: 5000 }, (st) => gate.wrap(st, methods));
      try {
        await fn(s, gate);
      } finally {
        gate.open();
        await s.close();
      }
    },
  });
}

/** What a sender session heard: "stored" mids (hex), errors. */
function senderLog(h: BenchHub): { stored: string[]; errors: number } {
  const log = { stored: [] as string[], errors: 0 };
  h.c.onRaw((op, bytes) => {
    if (op === FedOp.FED_ACK) {
      const m = decodeFed(be, op, bytes);
      if (m.op === FedOp.FED_ACK && m.kind === "stored") {
        for (const mid of m.mids) log.stored.push(toHex(mid));
      }
    } else if (op === 0x0001) log.errors++;
  });
  return log;
}

/** Recipient session: records FED_DELIVER mids in order; acks them while `ack.on`. */
function recipient(h: BenchHub, c: Client = h.c): { got: string[]; ack: { on: boolean } } {
  const r = { got: [] as string[], ack: { on: true } };
  c.onRaw((op, bytes) => {
    if (op !== FedOp.FED_DELIVER) return;
    const m = decodeFed(be, op, bytes);
    if (m.op !== FedOp.FED_DELIVER) return;
    r.got.push(toHex(m.mid));
    if (r.ack.on) deliveredAck(h, [m.mid], c);
  });
  c.send(FedOp.FED_FETCH, encodeFed({ op: FedOp.FED_FETCH, family: h.id, credit: 1000 }));
  return r;
}

function deliveredAck(h: BenchHub, mids: Uint8Array[], c: Client = h.c): void {
  c.send(
    FedOp.FED_ACK,
    encodeFed({ op: FedOp.FED_ACK, kind: "delivered", family: h.id, mids }),
  );
  c.send(FedOp.FED_FETCH, encodeFed({ op: FedOp.FED_FETCH, family: h.id, credit: mids.length }));
}

const fromHex = (s: string) => Uint8Array.from(s.match(/../g)!.map((x) => parseInt(x, 16)));

/** Recipient session that records FED_DELIVER mids and acks and adds credit only when told. */
function manualRecipient(h: BenchHub): {
  got: string[];
  credit(n: number): void;
  ack(mids: readonly string[]): void;
} {
  const got: string[] = [];
  h.c.onRaw((op, bytes) => {
    if (op !== FedOp.FED_DELIVER) return;
    const m = decodeFed(be, op, bytes);
    if (m.op === FedOp.FED_DELIVER) got.push(toHex(m.mid));
  });
  return {
    got,
    credit: (credit) =>
      h.c.send(FedOp.FED_FETCH, encodeFed({ op: FedOp.FED_FETCH, family: h.id, credit })),
    ack: (mids) =>
      h.c.send(
        FedOp.FED_ACK,
        encodeFed({ op: FedOp.FED_ACK, kind: "delivered", family: h.id, mids: mids.map(fromHex) }),
      ),
  };
}

/**
 * Sends one small message and waits for its "stored" (and, with `rx`, its
 * arrival): b's session is caught up once its first store read came back.
 */
async function warmUp(
  s: Setup,
  sent: { stored: string[] },
  rx?: { got: string[] },
): Promise<void> {
  const [first] = sealMany(s.a, s.b, 1, 64);
  s.a.c.send(FedOp.FED_DELIVER, first.bytes);
  if (rx) await until(() => rx.got.includes(first.mid) || undefined, 10_000, "first message");
  await until(() => sent.stored.includes(first.mid) || undefined, 10_000, "first stored");
}

/** Messages in b's mailbox at the relay. */
async function depth(s: Setup): Promise<number> {
  return (await s.store.queueStatus({ kind: "mailbox" }, s.b.id)).depth;
}

/** Waits until b's mailbox at the relay is empty. */
function drained(s: Setup, what: string): Promise<true> {
  return until(async () => (await depth(s)) === 0 || undefined, 10_000, what);
}

Deno.test({
  name: "handoff: an acking recipient gets every message in order; the relay stores none",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const s = await setup({ handoffMs: 2000, quotaMessages: 2 });
    try {
      const sent = senderLog(s.a);
      const rx = recipient(s.b);
      await warmUp(s, sent, rx);
      const storedBefore = s.node.metrics.get(FED.stored, { lane: "mailbox" });
      const msgs = sealMany(s.a, s.b, 50, 1024);
      for (const m of msgs) s.a.c.send(FedOp.FED_DELIVER, m.bytes);
      await until(() => sent.stored.length >= 51 || undefined, 10_000, "50 acked stored");
      assertEquals(rx.got.slice(1), msgs.map((m) => m.mid), "in send order, each once");
      assertEquals(sent.errors, 0, "no quota refusal: nothing was stored");
      assertEquals(s.node.metrics.get(FED.stored, { lane: "mailbox" }), storedBefore);
      assertEquals(s.node.metrics.get(FED.handedOff), 50);
      assertEquals(s.node.metrics.get(FED.handoffStored), 0);
      assertEquals(await depth(s), 0);
    } finally {
      await s.close();
    }
  },
});

Deno.test({
  name: "handoff: no ack in time -> stored past the quota, acked stored, not pushed twice",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const s = await setup({ handoffMs: 150, quotaMessages: 2 });
    try {
      const sent = senderLog(s.a);
      const rx = recipient(s.b);
      await warmUp(s, sent);
      rx.ack.on = false;
      const msgs = sealMany(s.a, s.b, 5, 1024);
      const t0 = performance.now();
      for (const m of msgs) s.a.c.send(FedOp.FED_DELIVER, m.bytes);
      await until(() => rx.got.length >= 6 || undefined, 10_000, "pushed to b");
      await until(() => sent.stored.length >= 6 || undefined, 10_000, "stored after the timeout");
      assert(performance.now() - t0 >= 150, "not before handoffMs");
      assertEquals(sent.errors, 0, "already pushed: never refused for the quota");
      assertEquals(s.node.metrics.get(FED.handoffStored), 5);
      assertEquals(await depth(s), 5);
      // b acks late: the rows go; b was never sent them a second time.
      deliveredAck(s.b, msgs.map((m) => fromHex(m.mid)));
      await drained(s, "late delivered deletes the rows");
      rx.ack.on = true;
      const [marker] = sealMany(s.a, s.b, 1, 64);
      s.a.c.send(FedOp.FED_DELIVER, marker.bytes);
      await until(() => rx.got.includes(marker.mid) || undefined, 10_000, "marker");
      assertEquals(rx.got.length, 7, "each message once");
    } finally {
      await s.close();
    }
  },
});

Deno.test({
  name: "handoff: a resend of a message still held is not pushed again and not stored",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const s = await setup({ handoffMs: 8000 });
    try {
      const sent = senderLog(s.a);
      const rx = recipient(s.b);
      await warmUp(s, sent);
      rx.ack.on = false;
      const [x, y] = sealMany(s.a, s.b, 2, 1024);
      s.a.c.send(FedOp.FED_DELIVER, x.bytes);
      s.a.c.send(FedOp.FED_DELIVER, x.bytes); // the sender resends before any ack
      s.a.c.send(FedOp.FED_DELIVER, y.bytes); // behind both: once y is there, so is any repeat
      await until(() => rx.got.includes(y.mid) || undefined, 10_000, "y handed off");
      assertEquals(rx.got.filter((m) => m === x.mid).length, 1, "x pushed once");
      deliveredAck(s.b, [fromHex(x.mid), fromHex(y.mid)]);
      await until(
        () => (sent.stored.includes(x.mid) && sent.stored.includes(y.mid)) || undefined,
        10_000,
        "x and y acked stored",
      );
      assertEquals(s.node.metrics.get(FED.handoffStored), 0, "nothing left to time out");
      assertEquals(await depth(s), 0);
    } finally {
      await s.close();
    }
  },
});

Deno.test({
  name: "handoff: a session that keeps acking keeps its late message held, up to 10 x handoffMs",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const T = 1000;
    const s = await setup({ handoffMs: T });
    try {
      const sent = senderLog(s.a);
      const rx = recipient(s.b);
      await warmUp(s, sent);
      // X is pushed and never acked; b acks everything else, one message every 50 ms.
      const [x] = sealMany(s.a, s.b, 1, 1024);
      rx.ack.on = false;
      const t0 = performance.now();
      s.a.c.send(FedOp.FED_DELIVER, x.bytes);
      await until(() => rx.got.includes(x.mid) || undefined, 10_000, "X handed off");
      rx.ack.on = true;
      const stream = sealMany(s.a, s.b, 400, 64);
      let k = 0;
      const tick = setInterval(() => {
        if (k < stream.length) s.a.c.send(FedOp.FED_DELIVER, stream[k++].bytes);
      }, 50);
      try {
        await until(
          () => s.node.metrics.get(FED.handoffStored) >= 1 || undefined,
          20_000,
          "X stored in the end",
        );
      } finally {
        clearInterval(tick);
      }
      const held = performance.now() - t0;
      assert(held >= 10 * T, `X held ${held.toFixed(0)} ms while b kept acking (>= ${10 * T})`);
      assertEquals(s.node.metrics.get(FED.handoffStored), 1, "only X");
      await until(() => sent.stored.includes(x.mid) || undefined, 10_000, "X stored, acked");
      assert(s.node.metrics.get(FED.handedOff) >= 10, "the stream was handed off meanwhile");
    } finally {
      await s.close();
    }
  },
});

Deno.test({
  name: "handoff: a session that ends sends its held messages to the store; the next gets them",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const s = await setup({ handoffMs: 8000 });
    try {
      const sent = senderLog(s.a);
      const rx = recipient(s.b);
      await warmUp(s, sent);
      rx.ack.on = false;
      const msgs = sealMany(s.a, s.b, 4, 1024);
      for (const m of msgs) s.a.c.send(FedOp.FED_DELIVER, m.bytes);
      await until(() => rx.got.length >= 5 || undefined, 10_000, "handed off to b");
      assertEquals(sent.stored.length, 1, "no ack yet: held");
      const t0 = performance.now();
      s.b.c.close();
      await until(() => sent.stored.length >= 5 || undefined, 5_000, "stored once b left");
      assert(performance.now() - t0 < 8000, "well before handoffMs");
      assertEquals(await depth(s), 4);
      // b comes back: the store has them.
      const key = await loadOrCreateKeyFile(be, `${s.dir}/b/node.key`);
      const c = await Client.connect(`127.0.0.1:${s.node.addresses.tcp.port}`, {
        backend: be,
        identity: key.identity,
        tier: 5,
        minTier: 4,
      });
      try {
        c.send(FedOp.FED_HELLO, hello(key.identity, [s.b.id]));
        const rx2 = recipient(s.b, c);
        await until(() => rx2.got.length >= 4 || undefined, 10_000, "redelivered from the store");
        assertEquals(rx2.got, msgs.map((m) => m.mid), "in order");
        await drained(s, "acked and deleted");
      } finally {
        c.close();
      }
    } finally {
      await s.close();
    }
  },
});

Deno.test({
  name: "handoff: handoffMs 0 stores every message first",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const s = await setup({ handoffMs: 0 });
    try {
      const sent = senderLog(s.a);
      const rx = recipient(s.b);
      const msgs = sealMany(s.a, s.b, 20, 1024);
      for (const m of msgs) s.a.c.send(FedOp.FED_DELIVER, m.bytes);
      await until(() => sent.stored.length >= 20 || undefined, 10_000, "stored");
      await until(() => rx.got.length >= 20 || undefined, 10_000, "delivered");
      assertEquals(rx.got, msgs.map((m) => m.mid));
      assertEquals(s.node.metrics.get(FED.stored, { lane: "mailbox" }), 20);
      assertEquals(s.node.metrics.get(FED.handedOff), 0);
    } finally {
      await s.close();
    }
  },
});

gatedTest("handoff: a caught-up recipient topping up its credit stays caught up (no store read)", [
  "fetchWindow",
], async (s, gate) => {
  const sent = senderLog(s.a);
  const rx = recipient(s.b); // acks each message with FED_ACK + FED_FETCH (credit 1)
  await warmUp(s, sent, rx);
  await drained(s, "warm-up message gone");
  const storedBefore = s.node.metrics.get(FED.stored, { lane: "mailbox" });
  const handedBefore = s.node.metrics.get(FED.handedOff);
  // From here a store read would not come back: every message must go from memory.
  gate.close();
  const reads = gate.calls.get("fetchWindow") ?? 0;
  const msgs = sealMany(s.a, s.b, 20, 1024);
  for (const m of msgs) {
    s.a.c.send(FedOp.FED_DELIVER, m.bytes);
    await until(() => rx.got.includes(m.mid) || undefined, 10_000, `message ${m.mid} at b`);
  }
  await until(() => sent.stored.length >= 21 || undefined, 10_000, "20 acked stored");
  assertEquals(rx.got.slice(1), msgs.map((m) => m.mid), "in send order, each once");
  assertEquals(gate.calls.get("fetchWindow") ?? 0, reads, "no store read");
  assertEquals(s.node.metrics.get(FED.stored, { lane: "mailbox" }), storedBefore);
  assertEquals(s.node.metrics.get(FED.handedOff), handedBefore + 20);
});

gatedTest("handoff: messages queued behind a stored one go by handoff once its commit is back", [
  "enqueueBatch",
], async (s, gate) => {
  const sent = senderLog(s.a);
  // b takes one message of credit at a time and acks by hand.
  const { got, credit: addCredit, ack } = manualRecipient(s.b);
  addCredit(1);
  await warmUp(s, sent, { got });
  ack([got[0]]);
  addCredit(1);
  await drained(s, "warm-up message gone");
  const [m1, m2, m3, m4] = sealMany(s.a, s.b, 4, 1024);
  const handed0 = s.node.metrics.get(FED.handedOff);
  // m1 by handoff (b caught up: its only credit); b does not ack it yet.
  s.a.c.send(FedOp.FED_DELIVER, m1.bytes);
  await until(() => got.includes(m1.mid) || undefined, 10_000, "m1 at b");
  const stored0 = s.node.metrics.get(FED.stored, { lane: "mailbox" });
  const commits = gate.calls.get("enqueueBatch") ?? 0;
  gate.close();
  // m2: no credit, so to the store (its commit held at the gate); m3 and m4 queue behind it.
  const received = s.node.metrics.get(CORE.received);
  s.a.c.send(FedOp.FED_DELIVER, m2.bytes);
  await until(
    () => gate.calls.get("enqueueBatch") === commits + 1 || undefined,
    10_000,
    "m2 commit",
  );
  s.a.c.send(FedOp.FED_DELIVER, m3.bytes);
  s.a.c.send(FedOp.FED_DELIVER, m4.bytes);
  await until(
    () => s.node.metrics.get(CORE.received) >= received + 3 || undefined,
    10_000,
    "m3, m4 in",
  );
  // b acks m1 and takes three more.
  ack([m1.mid]);
  addCredit(3);
  await until(
    () => sent.stored.includes(m1.mid) || undefined,
    10_000,
    "m1 stored (handed off)",
  );
  assertEquals(got.length, 2, "nothing pushed while m2's commit is out");
  gate.open();
  await until(() => got.length >= 5 || undefined, 10_000, "m2..m4 at b");
  assertEquals(got.slice(1), [m1.mid, m2.mid, m3.mid, m4.mid], "in send order, each once");
  ack([m2.mid, m3.mid, m4.mid]);
  await until(() => sent.stored.length >= 5 || undefined, 10_000, "all acked stored");
  await drained(s, "m2 deleted on its ack");
  assertEquals(
    s.node.metrics.get(FED.stored, { lane: "mailbox" }),
    stored0 + 1,
    "only m2 written",
  );
  assertEquals(s.node.metrics.get(FED.handedOff), handed0 + 3, "m1, m3, m4 handed off");
  assertEquals(gate.calls.get("enqueueBatch"), commits + 1, "one commit: m2's");
  assertEquals(sent.errors, 0);
});

gatedTest("handoff: a commit that comes back during a store read the read missed is read again", [
  "fetchWindow",
], async (s, gate) => {
  const sent = senderLog(s.a);
  const b = manualRecipient(s.b);
  const got = b.got;
  const msgs = sealMany(s.a, s.b, 5, 1024);
  // b has no credit yet: m1..m3 wait in the store.
  for (const m of msgs.slice(0, 3)) s.a.c.send(FedOp.FED_DELIVER, m.bytes);
  await until(() => sent.stored.length >= 3 || undefined, 10_000, "m1..m3 stored");
  assertEquals(await depth(s), 3);
  // Credit: the push reads m1..m3; the read's answer is held at the gate.
  gate.close();
  const reads = gate.calls.get("fetchWindow") ?? 0;
  b.credit(100);
  await until(() => (gate.calls.get("fetchWindow") ?? 0) > reads || undefined, 10_000, "read");
  // m4 commits while that read is out: the read cannot have it.
  s.a.c.send(FedOp.FED_DELIVER, msgs[3].bytes);
  await until(() => sent.stored.includes(msgs[3].mid) || undefined, 10_000, "m4 stored");
  gate.open();
  await until(() => got.length >= 4 || undefined, 10_000, "m1..m4 at b");
  assertEquals(got, msgs.slice(0, 4).map((m) => m.mid), "in send order, each once");
  // Then caught up: m5 goes by handoff.
  const handed = s.node.metrics.get(FED.handedOff);
  b.ack(got);
  await drained(s, "m1..m4 deleted");
  s.a.c.send(FedOp.FED_DELIVER, msgs[4].bytes);
  await until(() => got.length >= 5 || undefined, 10_000, "m5 at b");
  b.ack([got[4]]);
  await until(() => sent.stored.length >= 5 || undefined, 10_000, "m5 acked stored");
  assertEquals(got[4], msgs[4].mid);
  assertEquals(s.node.metrics.get(FED.handedOff), handed + 1, "m5 handed off");
  assertEquals(sent.errors, 0);
});

Deno.test({
  name:
    "handoff: a recipient that times out is paused 2x handoffMs, doubling; an in-time ack resets",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const T = 200;
    const s = await setup({ handoffMs: T });
    try {
      const sent = senderLog(s.a);
      const rx = recipient(s.b);
      await warmUp(s, sent, rx);
      const msgs = sealMany(s.a, s.b, 400, 64);
      let next = 0;
      /** Sends one message, waits for its "stored": true when it went by handoff. */
      const handedOff = async (): Promise<{ handed: boolean; sentAt: number }> => {
        const m = msgs[next++];
        const timedOut = s.node.metrics.get(FED.handoffStored);
        const inTime = s.node.metrics.get(FED.handedOff);
        const sentAt = performance.now();
        s.a.c.send(FedOp.FED_DELIVER, m.bytes);
        for (const deadline = sentAt + 10_000; !sent.stored.includes(m.mid);) {
          if (performance.now() > deadline) throw new Error(`no "stored" for ${m.mid}`);
          await new Promise((r) => setTimeout(r, 5));
        }
        const handed = s.node.metrics.get(FED.handoffStored) > timedOut ||
          s.node.metrics.get(FED.handedOff) > inTime;
        return { handed, sentAt };
      };
      const sleep = (ms: number) => new Promise((res) => setTimeout(res, ms));
      /**
       * With b not acking, a message that goes by handoff times out (its
       * "stored" comes then) and a pause starts; messages every few ms go to
       * the store until one is handed off again. Returns the `n` pauses seen,
       * each from the timeout to the first message handed off after it (which
       * times out in turn and starts the next).
       */
      const pauses = async (n: number): Promise<number[]> => {
        const first = await handedOff();
        assert(first.handed, "handed off, then timed out");
        let timedOutAt = performance.now();
        const out: number[] = [];
        while (out.length < n) {
          const r = await handedOff();
          if (r.handed) {
            out.push(r.sentAt - timedOutAt);
            timedOutAt = performance.now();
          } else await sleep(10);
        }
        return out;
      };
      rx.ack.on = false;
      const [p1, p2] = await pauses(2); // 2 x T, then 4 x T
      assert(p1 >= 2 * T - 150 && p1 < 7 * T, `first pause ${p1.toFixed(0)} ms, about ${2 * T}`);
      assert(p2 >= p1 + T, `second pause ${p2.toFixed(0)} ms doubles the first ${p1.toFixed(0)}`);
      // The message that ended p2 timed out too (8 x T now). b acks again: the first message
      // handed off after that pause is acked in time, and the escalation starts over.
      rx.ack.on = true;
      const inTime = s.node.metrics.get(FED.handedOff);
      while (s.node.metrics.get(FED.handedOff) === inTime) {
        await handedOff();
        await sleep(10);
      }
      rx.ack.on = false;
      const [p3] = await pauses(1);
      assert(p3 < 7 * T, `after an in-time ack the pause is short again: ${p3.toFixed(0)} ms`);
    } finally {
      await s.close();
    }
  },
});

Deno.test({
  name:
    "handoff: a recipient that stops reading keeps its messages held while they wait in the relay's send queue",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const T = 300;
    const s = await setup({ handoffMs: T });
    // b's session moves to a child process that the test can stop.
    s.b.c.close();
    const child = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        new URL("./_recipient_child.ts", import.meta.url).pathname,
        `127.0.0.1:${s.node.addresses.tcp.port}`,
        `${s.dir}/b/node.key`,
        s.b.id,
      ],
      stdout: "piped",
      stderr: "inherit",
    }).spawn();
    const out = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
    try {
      const first = await out.read();
      assert(first.value?.includes("ready"), `child: ${first.value}`);
      const sent = senderLog(s.a);
      await warmUp(s, sent);
      await drained(s, "warm-up delivered by the child");
      // b stalls (stops reading); a sends 12 MiB: the kernel's socket buffers fill, then the
      // relay's send queue to b, then the rest goes to the store.
      child.kill("SIGSTOP");
      const msgs = sealMany(s.a, s.b, 48, 256 * 1024);
      for (const m of msgs) s.a.c.send(FedOp.FED_DELIVER, m.bytes);
      await until(async () => (await depth(s)) > 0 || undefined, 10_000, "b's send queue full");
      // Stalled for three times handoffMs (under the 10 x hold limit): what was handed off
      // still waits in the relay's own send queue, so it is not b's stall yet.
      await new Promise((r) => setTimeout(r, 3 * T));
      const timedOut = s.node.metrics.get(FED.handoffStored);
      child.kill("SIGCONT");
      await until(() => sent.stored.length >= 49 || undefined, 20_000, "all acked stored");
      await drained(s, "stored ones delivered");
      assertEquals(timedOut, 0, "no handoff timed out while b's bytes waited at the relay");
      assert(s.node.metrics.get(FED.handedOff) >= 1, "some were handed off");
      assertEquals(s.node.metrics.get(FED.handoffStored), 0);
    } finally {
      try {
        child.kill("SIGCONT");
        child.kill("SIGKILL");
      } catch { /* exited */ }
      await child.status;
      await out.cancel().catch(() => {});
      await s.close();
    }
  },
});
