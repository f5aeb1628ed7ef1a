/**
 * The gateway's pure parts and its store on real files: journal + fsync +
 * snapshot survive a reopen (and a torn last line), routing rules, TAN
 * first-claim-wins and expiry, hysteresis without flapping, SMS command
 * parsing, number normalisation, and the classifier's targets on the corpus.
 */
import { assert, assertEquals } from "../core/_assert.ts";
import { Store } from "../../plugins/sms-gateway/store.ts";
import { matches, parseRule, route } from "../../plugins/sms-gateway/routing.ts";
import type { Member } from "../../plugins/sms-gateway/routing.ts";
import { maskCode, TanBoard, type TanNotice } from "../../plugins/sms-gateway/tan.ts";
import {
  Hysteresis,
  normalizeNumber,
  parseCommand,
  probeTcp,
} from "../../plugins/sms-gateway/emergency.ts";
import { parseConfig } from "../../plugins/sms-gateway/config.ts";
import { CLASSES, evaluate, loadCorpus } from "./_eval.ts";

const M = (id: string, tan = true): Member => ({
  id,
  keyIds: [],
  numbers: [],
  tan,
  emergency: false,
});

Deno.test("store: every commit is durable, reopen replays, torn line skipped, compaction keeps state", async () => {
  const dir = await Deno.makeTempDir({ prefix: "sms-store-" });
  try {
    const s = await Store.open(dir);
    const id = s.nextId("o");
    const out = {
      id,
      to: "+491511",
      text: "hi",
      report: true,
      status: "queued" as const,
      owner: 7,
      purpose: "client",
      created: 1,
      attempts: 0,
      refs: [],
      reports: {},
      updated: 1,
    };
    await s.commit({ t: "out", m: out });
    await s.commit({ t: "out", m: { ...out, status: "sent", refs: [4] } });
    const rid = s.nextId("r");
    await s.commit({ t: "route+", r: parseRule(rid, { match: { cls: "tan" }, to: ["alice"] }) });
    await s.close();
    // A crash in the middle of the next write leaves half a line.
    await Deno.writeTextFile(`${dir}/journal.log`, '{"t":"out","m":{"id":"o-9', { append: true });
    const s2 = await Store.open(dir);
    assertEquals(s2.skipped, 1);
    assertEquals(s2.outbox.get(id)?.status, "sent");
    assertEquals(s2.outbox.get(id)?.refs, [4]);
    assertEquals([...s2.routes.keys()], [rid]);
    const next = s2.nextId("o");
    assert(next !== id && next !== rid, `ids keep counting after reopen: ${next}`);
    await s2.compact();
    assertEquals(await Deno.readTextFile(`${dir}/journal.log`), "");
    await s2.commit({ t: "del", id });
    await s2.close();
    const s3 = await Store.open(dir);
    assertEquals([s3.outbox.size, s3.routes.size, s3.skipped], [0, 1, 0]);
    await s3.close();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("routing: rules by sender/keyword/class, priority and stop, spam held, TANs only to allowed members", () => {
  const members = [M("alice"), M("bob"), M("kid", false)];
  const r1 = parseRule("r-1", {
    match: { sender: "*bank*", cls: "tan" },
    to: ["alice"],
    priority: 10,
    stop: true,
  });
  const r2 = parseRule("r-2", { match: { keyword: "paket" }, to: ["bob", "kid"] });
  const r3 = parseRule("r-3", { match: { cls: "tan" }, to: ["*"] });
  assert(matches(r1, { from: "Sparkasse-Bank", text: "x", cls: "tan" }));
  assert(!matches(r1, { from: "PayPal", text: "x", cls: "tan" }));
  assertEquals(route({ from: "DKB-Bank", text: "TAN", cls: "tan" }, [r3, r2, r1], members).to, [
    "alice",
  ]);
  assertEquals(route({ from: "PayPal", text: "code", cls: "tan" }, [r1, r2, r3], members).to, [
    "alice",
    "bob",
  ]);
  assertEquals(
    route({ from: "DHL", text: "Ihr Paket", cls: "delivery" }, [r1, r2, r3], members).to,
    ["bob", "kid"],
  );
  assertEquals(route({ from: "Mum", text: "hi", cls: "personal" }, [r1, r2, r3], members).to, [
    "alice",
    "bob",
    "kid",
  ]);
  const spam = route({ from: "+4915", text: "gewonnen", cls: "spam" }, [r1], members);
  assertEquals([spam.to, spam.held], [[], true]);
  for (
    const bad of [{ to: [] }, { to: ["a"], match: { cls: "nope" } }, { to: ["a"], priority: -1 }]
  ) {
    let threw = "";
    try {
      parseRule("r-9", bad);
    } catch (e) {
      threw = String(e);
    }
    assert(threw !== "", `rejected ${JSON.stringify(bad)}`);
  }
});

Deno.test("tan: announce masked, first claim wins, others told, expiry on time, no claim after", () => {
  let now = 1_000_000;
  const notes: TanNotice[] = [];
  const b = new TanBoard((n) => notes.push(n), {
    defaultTtlSec: 300,
    maxTtlSec: 900,
    minTtlSec: 30,
  }, () => now);
  const t = b.announce({
    inboxId: "i-1",
    code: "123456",
    from: "Bank",
    text: "Ihre TAN 123-456.",
    validitySec: 120,
  }, [
    "alice",
    "bob",
  ]);
  assertEquals(t.masked, "Ihre TAN ••••••.");
  assertEquals(maskCode("G-123456 ist dein Code", "123456"), "G-•••••• ist dein Code");
  assertEquals(t.expiresAt - now, 120_000);
  assertEquals(notes.map((n) => [n.kind, n.to]), [["announce", ["alice", "bob"]]]);
  assertEquals(b.claim(t.id, "eve"), { ok: false, error: "not-allowed" });
  const c1 = b.claim(t.id, "bob");
  assert(c1.ok && c1.tan.code === "123456");
  const c2 = b.claim(t.id, "alice");
  assert(!c2.ok && c2.error === "already-claimed" && c2.tan?.claimedBy === "bob");
  assertEquals(notes[1].kind, "claimed");
  assertEquals(notes[1].to, ["alice"]);
  const t2 = b.announce(
    { inboxId: "i-2", code: "999", from: "X", text: "999", validitySec: null },
    ["alice"],
  );
  now += 299_000;
  assertEquals(b.sweep(), 0);
  now += 1_000;
  assertEquals(b.sweep(), 1);
  assertEquals(notes.at(-1)?.kind, "expired");
  assert(!b.claim(t2.id, "alice").ok, "expired TAN cannot be claimed");
  const t3 = b.announce({ inboxId: "i-3", code: "1", from: "X", text: "1", validitySec: 99_999 }, [
    "alice",
  ]);
  assertEquals(t3.expiresAt - now, 900_000, "capped at maxTtlSec");
  // Re-announce after a restart: the TTL runs from the receive time; an old one is not announced.
  const before = notes.length;
  const t4 = b.announce({
    inboxId: "i-4",
    code: "4",
    from: "X",
    text: "4",
    validitySec: 60,
    receivedAt: now - 30_000,
  }, [
    "alice",
  ]);
  assertEquals([t4.state, t4.expiresAt - now, notes.length], ["open", 30_000, before + 1]);
  const t5 = b.announce({
    inboxId: "i-5",
    code: "5",
    from: "X",
    text: "5",
    validitySec: 60,
    receivedAt: now - 90_000,
  }, [
    "alice",
  ]);
  assertEquals([t5.state, notes.length], ["expired", before + 1]);
});

Deno.test("emergency: hysteresis needs N rounds, holds minHoldMs, flapping link changes at most once per hold", () => {
  const h = new Hysteresis({ downAfter: 3, upAfter: 2, minHoldMs: 1000 });
  let t = 0;
  const step = (ok: boolean) => h.observe(ok, t += 100);
  assertEquals([step(true), step(true)], [undefined, "up"]);
  assertEquals([step(false), step(false)], [undefined, undefined]);
  assertEquals(step(false), undefined, "held: only 300 ms since up");
  for (let i = 0; i < 7; i++) step(false); // t = 1200: 1000 ms after the "up"
  assertEquals(h.state, "down");
  const changesAtDown = h.changes;
  // A link that flaps every round: never N in a row, so no change at all.
  for (let i = 0; i < 50; i++) step(i % 2 === 0);
  assertEquals(h.changes, changesAtDown);
  assertEquals([step(true), step(true)], [undefined, "up"]);
});

Deno.test("emergency: probes are real TCP connects; commands and numbers", async () => {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  const accepting = (async () => {
    for await (const c of l) c.close();
  })();
  assertEquals((await probeTcp(`127.0.0.1:${port}`, 1000)).ok, true);
  l.close();
  await accepting.catch(() => {});
  const down = await probeTcp(`127.0.0.1:${port}`, 1000);
  assertEquals([down.ok, down.error], [false, "ConnectionRefused"]);
  assertEquals(parseCommand(" status "), "status");
  assertEquals(parseCommand("STANDORT?"), "location");
  assertEquals(parseCommand("Health"), "health");
  assertEquals(parseCommand("status please"), undefined);
  assertEquals(parseCommand("1234 STATUS", "1234"), "status");
  assertEquals(parseCommand("STATUS", "1234"), undefined);
  assertEquals(normalizeNumber("0151 234-567"), "+49151234567");
  assertEquals(normalizeNumber("0044 7700 900123"), "+447700900123");
  assertEquals(normalizeNumber("+49 151 234567"), "+49151234567");
  const bad = (raw: unknown) => {
    try {
      parseConfig(raw);
      return "";
    } catch (e) {
      return (e as Error).message;
    }
  };
  assert(bad({ members: [{ id: "a b" }] }).includes("members[0].id"));
  assert(bad({ emergency: { probes: ["nohost"] } }).includes("probes"));
  assert(bad({ emergency: { downAfter: 0 } }).includes("downAfter"));
  assertEquals(parseConfig({}).emergency.downAfter, 3);
});

Deno.test("classifier: targets on the held-out split and on all (TAN recall >= 0.99, precision >= 0.97, others F1 >= 0.9)", async () => {
  const corpus = await loadCorpus();
  assert(corpus.length >= 500, `corpus has ${corpus.length} messages`);
  const langs = new Set(corpus.map((e) => e.lang));
  assert(langs.has("de") && langs.has("en"));
  for (const part of [corpus.filter((e) => e.split === "heldout"), corpus]) {
    const r = evaluate(part);
    assert(r.classes.tan.r >= 0.99 && r.classes.tan.p >= 0.97, JSON.stringify(r.classes.tan));
    for (const k of CLASSES) {
      if (k !== "tan") assert(r.classes[k].f1 >= 0.9, `${k}: ${JSON.stringify(r.classes[k])}`);
    }
    for (const [k, v] of Object.entries(r.fields)) {
      assert(v.ok / v.n >= 0.95, `${k}: ${v.ok}/${v.n}`);
    }
  }
  // The blind set (written after the rules were frozen, never tuned on) is reported by bench/sms.ts;
  // only the TAN class, the one that must not miss, has a bound here.
  const blind = evaluate(corpus.filter((e) => e.split === "blind"));
  assert(blind.n >= 50, `blind set has ${blind.n}`);
  assert(
    blind.classes.tan.r >= 0.95 && blind.classes.tan.p >= 0.97,
    JSON.stringify(blind.classes.tan),
  );
});
