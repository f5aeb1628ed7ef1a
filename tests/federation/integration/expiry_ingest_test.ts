/**
 * Expiry on ingest (issue 9 case 11): an envelope created 2 hours ago with a
 * 60 s lifetime is refused by the relay (`ERROR` FED_EXPIRED
 * `expired-at-ingest` with its `mid`), never stored and never delivered;
 * and a recipient hub refuses to hand an expired message to the
 * application even when a relay (here one with a huge clock-skew grace)
 * pushes it: counted `myclerk_federation_drops_total{reason="expired"}`, acked so the relay
 * deletes it. Before, such an envelope was "stored" and delivered.
 */

import { assert, assertEquals } from "../_assert.ts";
import { backend } from "../../../core/crypto/mod.ts";
import { Client } from "../../../core/node/client.ts";
import { ErrorCode, type MyClerkError } from "../../../core/errors.ts";
import { readKeyFile } from "../../../core/node/keys.ts";
import { decodeFedError, ERROR_OP } from "../../../federation/directory.ts";
import { sealEnvelope } from "../../../federation/envelope.ts";
import { readFamilyKey } from "../../../federation/files.ts";
import { toHex } from "../../../federation/bytes.ts";
import { decodeFed, encodeFed, FedOp } from "../../../federation/messages.ts";
import { Cluster, metric, readInbox, until } from "./_harness.ts";

const be = backend();

async function rawAlice(addr: string, data: string, family: string) {
  const identity = await readKeyFile(be, `${data}/node.key`);
  const c = await Client.connect(addr, { backend: be, identity, tier: 5, minTier: 4 });
  const errors: { error: MyClerkError; opcode: number }[] = [];
  const stored = new Set<string>();
  c.onRaw((op, bytes) => {
    if (op === ERROR_OP) errors.push(decodeFedError(bytes));
    else if (op === FedOp.FED_ACK) {
      const m = decodeFed(be, op, bytes);
      if (m.op === FedOp.FED_ACK) { for (const mid of m.mids) stored.add(toHex(mid)); }
    }
  });
  c.send(
    FedOp.FED_HELLO,
    encodeFed({
      op: FedOp.FED_HELLO,
      role: "hub",
      keyId: identity.keyId,
      families: [family],
      version: 0,
    }),
  );
  return { c, errors, stored };
}

async function scenario(relayCfg: Record<string, unknown>) {
  const c = await Cluster.create();
  await Deno.writeTextFile(`${c.dir}/relay.json`, JSON.stringify(relayCfg));
  const relay = await c.serve("relay", ["--role", "relay", "--config", `${c.dir}/relay.json`]);
  const alice = await c.joinedHub("alice", "relay", relay.tcp);
  const bob = await c.joinedHub("bob", "relay", relay.tcp);
  const hb = await c.serve("bob", ["--role", "hub"]);
  await hb.waitLog((j) => j.msg === "relay session up");
  const ka = await readFamilyKey(be, c.data("alice"));
  const kb = await readFamilyKey(be, c.data("bob"));
  const a = await rawAlice(relay.tcp, c.data("alice"), alice);
  const send = (body: string, ts: number, ttl: number) => {
    const env = sealEnvelope(be, {
      senderSecret: ka.privateKey,
      recipientKey: kb.publicKey,
      body: new TextEncoder().encode(body),
      ttl,
      ts,
    });
    a.c.send(
      FedOp.FED_DELIVER,
      encodeFed({ op: FedOp.FED_DELIVER, ...env.routing, hops: 0, sealed: env.sealed }),
    );
    return toHex(env.routing.mid);
  };
  return { c, relay, hb, a, send, bob };
}

Deno.test({
  name: "expiry: an envelope 2 h old with a 60 s lifetime is refused at ingest, never delivered",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const s = await scenario({});
    try {
      const now = Math.floor(Date.now() / 1000);
      const old = s.send("stale", now - 7200, 60);
      await until(() => s.a.errors.length > 0, 10_000, "refusal");
      const e = s.a.errors[0];
      assertEquals(e.error.code, ErrorCode.FED_EXPIRED);
      assertEquals(e.error.detail, "expired-at-ingest");
      assertEquals(e.opcode, FedOp.FED_DELIVER);
      assertEquals(toHex(e.error.extra.mid as Uint8Array), old);
      assertEquals(e.error.extra.expired, now - 7200 + 60);
      assertEquals(s.a.stored.has(old), false, "not acked stored");
      // A fresh one right behind it is delivered: the path works, the stale one never comes.
      const fresh = s.send("fresh", now, 3600);
      await until(() => s.a.stored.has(fresh), 10_000, "fresh stored");
      const inbox = await until(
        () => {
          const i = readInbox(s.c.data("bob"));
          return i.total >= 1 ? i : undefined;
        },
        10_000,
        "bob got the fresh one",
      );
      assertEquals(inbox.mids.has(old), false, "the stale one was never delivered");
      assertEquals(inbox.mids.get(fresh), 1);
      const m = await s.relay.metrics();
      assertEquals(metric(m, "myclerk_federation_drops_total", 'reason="expired-at-ingest"'), 1);
      // Stored, or handed off to bob and acked by him (FEDERATION.md §6.5): once, either way.
      assertEquals(
        metric(m, "myclerk_federation_stored_total") +
          metric(m, "myclerk_federation_handed_off_total"),
        1,
        "only the fresh one was accepted",
      );
    } finally {
      s.a.c.close();
      await s.c.close();
    }
  },
});

Deno.test({
  name: "expiry: the recipient hub refuses an expired message a relay pushes anyway",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    // A relay with a day of clock-skew grace lets it through; bob (default 300 s) does not.
    const s = await scenario({ limits: { maxSkewSeconds: 86_400 } });
    try {
      const now = Math.floor(Date.now() / 1000);
      const old = s.send("stale", now - 7200, 60);
      await until(() => s.a.stored.has(old), 10_000, "the lenient relay stored it");
      await until(
        async () =>
          metric(await s.hb.metrics(), "myclerk_federation_drops_total", 'reason="expired"') === 1,
        10_000,
        "bob dropped it as expired",
      );
      const fresh = s.send("fresh", now, 3600);
      await until(() => readInbox(s.c.data("bob")).mids.has(fresh), 10_000, "fresh delivered");
      assertEquals(readInbox(s.c.data("bob")).mids.has(old), false, "never to the application");
      assertEquals(readInbox(s.c.data("bob")).total, 1);
      // Acked: the relay deleted it.
      await until(
        async () => metric(await s.relay.metrics(), "myclerk_federation_queue_messages") === 0,
        10_000,
        "relay mailbox empty",
      );
      assert(s.a.errors.length === 0, JSON.stringify(s.a.errors));
    } finally {
      s.a.c.close();
      await s.c.close();
    }
  },
});
