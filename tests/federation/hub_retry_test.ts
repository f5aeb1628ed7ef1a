/**
 * The hub's outbox against a relay whose storage is full (federation/hub/
 * outbox.ts): a real hub (Hub.start on a real node, SQLite hub.db) dials a
 * stand-in relay (a real node on loopback whose federation route greets,
 * answers FED_LOOKUP, and refuses chosen messages with SERVICE_UNAVAILABLE
 * `storage-full`). Only the refused messages are resent, with growing
 * gaps; once the relay takes them again they are stored.
 */
import { assert, assertEquals } from "./_assert.ts";
import { Node } from "../../core/node/node.ts";
import type { RawConnection } from "../../core/node/dispatch.ts";
import { validateConfig } from "../../core/node/config.ts";
import { createLogger } from "../../core/node/log.ts";
import { ErrorCode, MyClerkError } from "../../core/errors.ts";
import { backend as pickBackend } from "../../core/crypto/mod.ts";
import { createFamilyKey, writeHubState } from "../../federation/files.ts";
import { createFamilyRecord, familyId } from "../../federation/family.ts";
import { DirOp, encodeFedError, encodeRecords, ERROR_OP } from "../../federation/directory.ts";
import { decodeFed, encodeFed, FedOp } from "../../federation/messages.ts";
import { fedHello } from "../../federation/link.ts";
import { toHex } from "../../federation/bytes.ts";
import { Hub } from "../../federation/hub/mod.ts";
import { openSqliteHubStore } from "../../federation/store/mod.ts";
import { paths } from "../../federation/files.ts";

const be = pickBackend();
const quiet = () => createLogger({ sink: () => {} });

async function until(what: string, f: () => boolean | Promise<boolean>, ms = 15_000) {
  const deadline = Date.now() + ms;
  while (!(await f())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

Deno.test("hub outbox: storage-full resends only the refused messages, backing off", async () => {
  const dirs = await Promise.all(
    [0, 1, 2].map(() => Deno.makeTempDir({ prefix: "myclerk-hubretry-" })),
  );
  const [relayDir, hubDir, bobDir] = dirs;
  const relay = await Node.start(
    validateConfig({ data: relayDir, listen: { tcp: "127.0.0.1:0", http: "127.0.0.1:0" } }),
    { log: quiet() },
  );
  // The recipient family (its hub never runs: the relay only needs its record).
  const bobKey = await createFamilyKey(be, bobDir);
  const bob = createFamilyRecord(be, {
    name: "bob",
    key: bobKey.publicKey,
    home: relay.identity.keyId,
    created: Math.floor(Date.now() / 1000),
  });
  let full = false;
  const accepted = new Set<string>();
  const arrivals = new Map<string, number[]>();
  relay.addRoute({
    name: "stand-in-relay",
    first: 0x0300,
    last: 0x03ff,
    raw: (c: RawConnection, op, bytes) => {
      if (op === DirOp.FED_LOOKUP) return void c.send(DirOp.FED_RECORDS, encodeRecords([bob]));
      const m = decodeFed(be, op, bytes);
      if (m.op === FedOp.FED_HELLO) {
        c.send(op, encodeFed(fedHello("relay", relay.identity.keyId, [], 8 << 20)));
      } else if (m.op === FedOp.FED_DELIVER) {
        const k = toHex(m.mid);
        arrivals.set(k, [...(arrivals.get(k) ?? []), Date.now()]);
        if (full && !accepted.has(k)) {
          const err = new MyClerkError(ErrorCode.SERVICE_UNAVAILABLE, "storage-full", {
            mid: m.mid,
          });
          c.send(ERROR_OP, encodeFedError(err, FedOp.FED_DELIVER), true);
        } else {
          accepted.add(k);
          c.send(
            FedOp.FED_ACK,
            encodeFed({
              op: FedOp.FED_ACK,
              kind: "stored",
              relay: relay.identity.keyId,
              mids: [m.mid],
            }),
          );
        }
      }
    },
  });
  const fam = await createFamilyKey(be, hubDir);
  await writeHubState(hubDir, {
    name: "alice",
    id: familyId(be, fam.publicKey),
    created: Math.floor(Date.now() / 1000),
  });
  const hubNode = await Node.start(
    validateConfig({
      data: hubDir,
      role: "hub",
      listen: { tcp: "127.0.0.1:0", http: "127.0.0.1:0" },
      federation: { relays: [`127.0.0.1:${relay.addresses.tcp.port}`] },
    }),
    { log: quiet() },
  );
  const hub = await Hub.start(hubNode, { store: openSqliteHubStore(paths(hubDir).hubDb) });
  try {
    await until("hub connected", () => hub.connected);
    const first = await hub.send(bob.id, new TextEncoder().encode("ok"), { waitMs: 5000 });
    assertEquals(first.state, "stored");

    // The relay's disk is "full" from now on: new messages are refused, stay pending, say why.
    full = true;
    const stuck = ["full-1", "full-2"].map((body) =>
      hub.send(bob.id, new TextEncoder().encode(body), { waitMs: 5000 })
    );
    for (const s of stuck) {
      const r = await s;
      assertEquals(r.state, "pending");
      assertEquals(r.error, "SERVICE_UNAVAILABLE storage-full");
    }
    const refused = [...arrivals.keys()].filter((k) => !accepted.has(k));
    assertEquals(refused.length, 2);
    // Each refused message is resent on its own, with growing gaps (0.25-0.5 s, 0.5-1 s, 1-2 s).
    await until("three resends of each", () => refused.every((k) => arrivals.get(k)!.length >= 4));
    for (const k of refused) {
      const t = arrivals.get(k)!;
      const gaps = t.slice(1).map((x, i) => x - t[i]);
      assert(gaps[0] >= 200, `first resend after ${gaps[0]} ms`);
      // A fixed period (the old once-a-second resend of the whole outbox) gives a ratio near 1.
      assert(gaps[2] > 1.5 * gaps[0], `gaps grow: ${gaps.join(", ")}`);
    }
    // Messages the relay stored are never resent.
    for (const [k, t] of arrivals) if (!refused.includes(k)) assertEquals(t.length, 1, k);
    const st = await hub.status();
    assertEquals((st.outbox as Record<string, number>).pending, 2);

    // Space is back: the next resend is stored and the outbox drains by itself.
    full = false;
    await until("outbox drained", async () => {
      const s = await hub.status();
      return (s.outbox as Record<string, number>).pending === 0;
    });
    for (const k of refused) assert(arrivals.get(k)!.length >= 5, "stored on a resend");
  } finally {
    await hub.stop();
    await hubNode.close();
    await relay.close();
    for (const d of dirs) await Deno.remove(d, { recursive: true });
  }
});
