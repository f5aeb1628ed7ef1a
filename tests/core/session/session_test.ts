/**
 * Established sessions (profile §4, §6, §7, §8, §14): data both ways for
 * tiers 1-5, replay / stale / tier / Tier 0 handling, reordering, rotation
 * (explicit, by count, by time, on request), re-key, revocation, tickets
 * and resumption. Everything runs on both crypto back ends.
 *
 * @module
 */

import fc from "fast-check";
import { ErrorCode } from "../../../core/errors.ts";
import { Op } from "../../../core/opcodes.ts";
import { type Inbound, Session } from "../../../core/session/session.ts";
import { acceptResume, ResumeInitiator, TicketIssuer } from "../../../core/session/ticket.ts";
import { encodeReason, encodeTicket } from "../../../core/session/payloads.ts";
import type { Tier } from "../../../core/wire/header.ts";
import { decodeMessage, encodePlain } from "../../../core/wire/message.ts";
import { BACKENDS, deliver, expectMyClerk, type Pair, pair, same, T0 } from "./_util.ts";

function assert(cond: unknown, msg = "assertion failed"): asserts cond {
  if (!cond) throw new Error(msg);
}

const APP = 0x0200;
const te = new TextEncoder();

/** Getter reads through calls, so TypeScript does not narrow them between operations. */
const sendEpoch = (s: Session): number => s.sendEpoch;
const recvEpoch = (s: Session): number => s.recvEpoch;

function msg(r: Inbound): { opcode: number; payload: Uint8Array } {
  if (r.kind !== "message") throw new Error(`expected message, got ${JSON.stringify(r)}`);
  return r;
}

function kind(r: Inbound): string {
  return r.kind === "drop"
    ? `drop:${r.reason}`
    : r.kind === "error"
    ? `error:${r.error.detail}`
    : r.kind;
}

/** Sends `n` app messages a -> b and checks they arrive. */
function exchange(p: Pair, n = 3, tag = ""): void {
  for (let i = 0; i < n; i++) {
    const pl = te.encode(`a->b ${tag} ${i}`);
    p.a.send(APP, pl);
    const got = deliver(p.outA, p.b);
    assert(got.length === 1 && same(msg(got[0]).payload, pl), `a->b ${tag} ${i}: ${got.map(kind)}`);
    const back = te.encode(`b->a ${tag} ${i}`);
    p.b.send(APP + 1, back);
    const got2 = deliver(p.outB, p.a);
    assert(
      got2.length === 1 && msg(got2[0]).opcode === APP + 1 && same(msg(got2[0]).payload, back),
      `b->a ${tag} ${i}`,
    );
  }
}

for (const bk of BACKENDS) {
  const T = (name: string, fn: () => void) => Deno.test(`session (${bk.name}): ${name}`, fn);

  T("data both ways for tiers 1-5, plain, compressed, fragmented, framed", () => {
    for (const tier of [1, 2, 3, 4, 5] as Tier[]) {
      const p = pair(bk, tier, { maxMessage: 1000 });
      exchange(p, 3, `t${tier}`);
      // compressed
      const big = te.encode("compress me ".repeat(500));
      p.a.send(APP, big, { compress: true });
      assert(p.outA.length === 1, "compressed fits in one message");
      assert(decodeMessage(p.outA[0]).compressed, "C flag");
      assert(same(msg(deliver(p.outA, p.b)[0]).payload, big), "decompressed");
      // fragmented (random bytes do not compress)
      const rnd = bk.randomBytes(5000);
      p.b.send(APP, rnd);
      assert(p.outB.length === 6, `fragments: ${p.outB.length}`);
      const parts = deliver(p.outB, p.a);
      assert(parts.slice(0, -1).every((r) => r.kind === "partial"), parts.map(kind).join());
      assert(same(msg(parts[5]).payload, rnd), "reassembled");
      // fragmented + compressed, delivered in reverse order
      const both = new Uint8Array(bk.randomBytes(3000).length * 2);
      both.set(bk.randomBytes(3000));
      p.a.send(APP, both, { compress: true });
      const rev = p.outA.splice(0).reverse();
      const res = rev.map((m) => p.b.receive(m));
      const last = res[res.length - 1];
      assert(rev.length > 1 && same(msg(last).payload, both), res.map(kind).join());
    }
    // framed: every sent buffer is u32 length || message
    const f = pair(bk, 4, { framed: true });
    f.a.send(APP, Uint8Array.of(1, 2, 3));
    const framed = f.outA.splice(0)[0];
    assert(
      new DataView(framed.buffer, framed.byteOffset).getUint32(0) === framed.length - 4,
      "length prefix",
    );
    assert(same(msg(f.b.receive(framed.subarray(4))).payload, Uint8Array.of(1, 2, 3)));
  });

  T(
    "replayed message is dropped as replay (tiers 3-5); tiers 1-2 have no replay protection",
    () => {
      for (const tier of [1, 2, 3, 4, 5] as Tier[]) {
        const p = pair(bk, tier);
        p.a.send(APP, Uint8Array.of(7));
        const m = p.outA.splice(0)[0];
        assert(p.b.receive(m).kind === "message");
        const again = p.b.receive(m);
        if (tier >= 3) {
          assert(kind(again) === "drop:replay" && p.b.drops.replay === 1, kind(again));
        } else {
          assert(again.kind === "message", `tier ${tier}: ${kind(again)}`);
        }
      }
    },
  );

  T("stale timestamp (receiver clock moved) is dropped as stale", () => {
    for (const tier of [3, 4, 5] as Tier[]) {
      const p = pair(bk, tier);
      p.a.send(APP, Uint8Array.of(1));
      p.a.send(APP, Uint8Array.of(2));
      const [m1, m2] = p.outA.splice(0);
      p.clock.t += 300;
      assert(p.b.receive(m1).kind === "message", "exactly at the skew");
      p.clock.t += 1;
      assert(kind(p.b.receive(m2)) === "drop:stale" && p.b.drops.stale === 1, "stale");
      p.clock.t -= 301;
      assert(p.b.receive(m2).kind === "message", "stale did not burn the counter");
    }
  });

  T("wrong tier is dropped; Tier 0 is tunnel data on Tier >= 3 and dropped below", () => {
    for (const tier of [1, 2, 3, 4, 5] as Tier[]) {
      const p = pair(bk, tier);
      const other = tier === 1 ? 2 : 1;
      const wrong = encodePlain(
        { tier: other, opcode: APP, sessionId: p.a.state.sessionId },
        Uint8Array.of(1),
      );
      assert(kind(p.b.receive(wrong)) === "drop:tier", `tier ${tier}`);
      const t0 = encodePlain({ tier: 0 }, Uint8Array.of(0xde, 0xad));
      const r = p.b.receive(t0);
      if (tier >= 3) {
        assert(r.kind === "tunnel" && same(r.data, Uint8Array.of(0xde, 0xad)), kind(r));
      } else {
        assert(kind(r) === "drop:tier0" && p.b.drops.tier0 === 1, kind(r));
      }
    }
    // a Tier 4 message on a Tier 5 session (sealed by a Tier 4 session with other keys)
    const p4 = pair(bk, 4);
    p4.a.send(APP, Uint8Array.of(1));
    const p5 = pair(bk, 5);
    assert(kind(p5.b.receive(p4.outA[0])) === "drop:tier");
  });

  T(
    "fragment ids start at 1 per direction; fragments interleave with each other and other messages (§12)",
    () => {
      for (const tier of [2, 5] as Tier[]) {
        const p = pair(bk, tier, { maxMessage: 1000 });
        const x = bk.randomBytes(2500);
        const y = bk.randomBytes(2600);
        p.a.send(APP, x);
        const fx = p.outA.splice(0);
        p.a.send(APP + 1, y);
        const fy = p.outA.splice(0);
        p.a.send(APP + 2, Uint8Array.of(7));
        const other = p.outA.splice(0);
        const order = [fx[0], fy[0], other[0], fy[1], fx[1], fy[2], fx[2]];
        const res = order.map((m) => p.b.receive(m));
        const done = res.filter((r) => r.kind === "message").map(msg);
        assert(done.length === 3, `${tier}: ${res.map(kind).join()}`);
        assert(done[0].opcode === APP + 2 && same(done[0].payload, Uint8Array.of(7)), "plain one");
        const byOp = new Map(done.map((d) => [d.opcode, d.payload]));
        assert(same(byOp.get(APP)!, x) && same(byOp.get(APP + 1)!, y), `${tier}: both reassembled`);
      }
      // ids: read from the plaintext prefix of Tier 2 fragments (no encryption there)
      const t2 = pair(bk, 2, { maxMessage: 1000 });
      t2.a.send(APP, bk.randomBytes(2500));
      t2.a.send(APP, bk.randomBytes(2500));
      const ids = t2.outA.map((m) => {
        const d = decodeMessage(m);
        assert(d.tier === 2 && d.fragment, "fragment");
        return (d.payload[0] << 8) | d.payload[1];
      });
      assert(ids.every((id, i) => id === (i < 3 ? 1 : 2)), `ids ${ids}`);
      // Tier 1/2 sequence (§4): 0 for the first message a side sends, +1 per message
      const seqs = t2.outA.map((m) => decodeMessage(m)).map((
        d,
      ) => (d.tier === 2 ? d.sequence : -1));
      assert(seqs.every((q, i) => q === i), `sequences ${seqs}`);
    },
  );

  T("wrong session id is a silent drop (session-id); wrong keys are dropped as mac/key", () => {
    const p = pair(bk, 4);
    const q = pair(bk, 4);
    q.a.send(APP, Uint8Array.of(1));
    const r = p.b.receive(q.outA[0]);
    // same session id (77) but other keys: the trailer fails
    assert(kind(r) === "drop:mac", kind(r));
    const t2 = pair(bk, 2);
    const bad = encodePlain({ tier: 2, opcode: APP, sessionId: 5 }, new Uint8Array());
    const e = t2.b.receive(bad);
    assert(kind(e) === "drop:session-id", kind(e));
    // Tier 3-5: another session id with a bad trailer, or random bytes after it: never answered
    for (const tier of [3, 4, 5] as Tier[]) {
      const t = pair(bk, tier);
      t.a.send(APP, Uint8Array.of(9));
      const m = t.outA.splice(0)[0].slice();
      m[4] ^= 0xff; // session id
      m[m.length - 1] ^= 1; // trailer
      assert(kind(t.b.receive(m)) === "drop:session-id", `tier ${tier}: ${kind(t.b.receive(m))}`);
      const rnd = new Uint8Array(80);
      rnd.set(m.subarray(0, 6));
      rnd.set(bk.randomBytes(74), 6);
      rnd[4] ^= 0xff;
      assert(
        kind(t.b.receive(rnd)).startsWith("drop:"),
        `tier ${tier} random: ${kind(t.b.receive(rnd))}`,
      );
      assert(t.b.drops["session-id"] >= 2, "counted");
    }
  });

  T("reordering within the window is accepted once; older than the window is dropped", () => {
    for (const tier of [3, 4, 5] as Tier[]) {
      const p = pair(bk, tier, { window: 32 });
      for (let i = 0; i < 40; i++) p.a.send(APP, Uint8Array.of(i));
      const ms = p.outA.splice(0);
      fc.assert(
        fc.property(
          fc.shuffledSubarray(ms.slice(10, 40), { minLength: 30, maxLength: 30 }),
          (order) => {
            // a fresh receiver over the same handshake state for each order
            const b = new Session(p.hs.responder, {
              backend: bk,
              send: () => {},
              now: p.clock.now,
              window: 32,
            });
            const seen = new Set<number>();
            for (const m of order) {
              const r = b.receive(m);
              const v = msg(r).payload[0];
              assert(!seen.has(v), "delivered twice");
              seen.add(v);
            }
            assert(seen.size === 30, `${seen.size}`);
            for (const m of order.slice(0, 5)) assert(kind(b.receive(m)) === "drop:replay");
            // counters 0..7 are more than 32 below the highest (39)
            for (const m of ms.slice(0, 7)) {
              assert(kind(b.receive(m)) === "drop:replay", "older than the window");
            }
          },
        ),
        { numRuns: 10 },
      );
    }
  });

  T("explicit rotation, late messages of the previous epoch for 60 s, rotate request", () => {
    for (const tier of [3, 4, 5] as Tier[]) {
      const p = pair(bk, tier);
      exchange(p, 1, "before");
      p.a.send(APP, Uint8Array.of(0xaa));
      const late = p.outA.splice(0)[0];
      p.a.rotate();
      assert(sendEpoch(p.a) === 1 && p.a.sendCounter === 0, "sender epoch");
      const r = deliver(p.outA, p.b);
      assert(
        r.length === 1 && r[0].kind === "control" && r[0].opcode === Op.SESSION_ROTATE,
        r.map(kind).join(),
      );
      assert(recvEpoch(p.b) === 1, "receiver epoch");
      exchange(p, 2, "after");
      if (tier >= 4) {
        p.a.send(APP, Uint8Array.of(1));
        const sent = decodeMessage(p.outA.splice(0)[0]) as { keyId: number };
        assert(sent.keyId === 1, `key id ${sent.keyId} = epoch 1`);
      }
      assert(same(msg(p.b.receive(late)).payload, Uint8Array.of(0xaa)), "late message of epoch 0");
      // a second late one after 60 s is refused
      const p2 = pair(bk, tier);
      p2.a.send(APP, Uint8Array.of(1));
      const late2 = p2.outA.splice(0)[0];
      p2.a.rotate();
      deliver(p2.outA, p2.b);
      p2.clock.t += 61;
      p2.a.send(APP, Uint8Array.of(2)); // keeps the clock check of the new epoch happy
      deliver(p2.outA, p2.b);
      const k = kind(p2.b.receive(late2));
      assert(
        k === (tier === 3 ? "drop:mac" : "drop:key") || k === "drop:stale",
        `after 60 s: ${k}`,
      );
      // rotate request: the peer rotates its own direction too
      const p3 = pair(bk, tier);
      p3.a.rotate(true);
      deliver(p3.outA, p3.b);
      assert(sendEpoch(p3.b) === 1 && p3.outB.length === 1, "peer rotated on request");
      const rr = deliver(p3.outB, p3.a);
      assert(rr[0].kind === "control" && recvEpoch(p3.a) === 1);
      exchange(p3, 2, "both rotated");
    }
  });

  T("rotation after N messages and after T seconds (injected clock)", () => {
    for (const tier of [3, 4, 5] as Tier[]) {
      const p = pair(bk, tier, { rotateAfterMessages: 4 });
      for (let i = 0; i < 13; i++) p.a.send(APP, Uint8Array.of(i));
      const res = deliver(p.outA, p.b);
      const data = res.filter((r) => r.kind === "message").map((r) => msg(r).payload[0]);
      const rot = res.filter((r) => r.kind === "control").length;
      assert(data.join() === [...Array(13).keys()].join(), data.join());
      assert(
        rot === 3 && sendEpoch(p.a) === 3 && recvEpoch(p.b) === 3,
        `rotations ${rot}, epoch ${sendEpoch(p.a)}`,
      );
      const q = pair(bk, tier, { rotateAfterSeconds: 100 });
      q.a.send(APP, Uint8Array.of(1));
      q.clock.t += 99;
      q.a.send(APP, Uint8Array.of(2));
      assert(sendEpoch(q.a) === 0, "not yet");
      q.clock.t += 1;
      q.a.send(APP, Uint8Array.of(3));
      assert(
        sendEpoch(q.a) === 1 && q.outA.length === 4,
        `epoch ${sendEpoch(q.a)}, ${q.outA.length} sent`,
      );
      q.clock.t += 5; // within skew
      const r = deliver(q.outA, q.b).map(kind);
      assert(r.join() === "message,message,control,message", r.join());
    }
  });

  T("re-key with KEY_EXCHANGE_INIT/RESPONSE (Tier 4/5); refused on Tier 3", () => {
    for (const tier of [4, 5] as Tier[]) {
      const p = pair(bk, tier);
      p.a.rotate(); // epochs differ before the re-key: n = max + 1
      deliver(p.outA, p.b);
      const oldResume = p.a.resumeSecret.slice();
      p.a.rekey();
      p.a.send(APP, Uint8Array.of(0x55)); // sent under the old keys while the re-key is in flight
      const init = deliver(p.outA, p.b);
      assert(
        init[0].kind === "control" && init[0].opcode === Op.KEY_EXCHANGE_INIT,
        init.map(kind).join(),
      );
      assert(same(msg(init[1]).payload, Uint8Array.of(0x55)), "in-flight message accepted");
      const resp = deliver(p.outB, p.a);
      assert(
        resp.length === 1 && resp[0].kind === "control" &&
          resp[0].opcode === Op.KEY_EXCHANGE_RESPONSE,
      );
      for (const s of [p.a, p.b]) {
        assert(sendEpoch(s) === 2 && recvEpoch(s) === 2, `${sendEpoch(s)}/${recvEpoch(s)}`);
      }
      assert(
        same(p.a.resumeSecret, p.b.resumeSecret) && !same(p.a.resumeSecret, oldResume),
        "resume replaced",
      );
      exchange(p, 3, "rekeyed");
      // the ECDH field now carries the new ephemerals
      p.b.send(APP, new Uint8Array());
      const ecdh = (decodeMessage(p.outB[0]) as { ecdh: Uint8Array }).ecdh;
      assert(!same(ecdh, p.b.state.myEphemeral), "new ephemeral in header");
      deliver(p.outB, p.a);
    }
    expectMyClerk(() => pair(bk, 3).a.rekey(), ErrorCode.FORBIDDEN, "tier");
  });

  T("revoke erases the session; later messages are dropped and sending is refused", () => {
    for (const tier of [3, 4, 5] as Tier[]) {
      const p = pair(bk, tier);
      p.a.send(APP, Uint8Array.of(1));
      const pending = p.outA.splice(0)[0];
      p.a.send(Op.SESSION_REVOKE, encodeReason({ reason: "stolen" }));
      const r = deliver(p.outA, p.b);
      assert(r[0].kind === "revoked" && p.b.closed, kind(r[0]));
      assert(kind(p.b.receive(pending)) === "drop:key", "nothing accepted after revoke");
      expectMyClerk(() => p.b.seal(APP, new Uint8Array()), ErrorCode.INVALID_SESSION, "closed");
    }
  });

  T("tickets: issue, deliver, redeem once; reuse, expiry, forgery, key rotation", () => {
    const p = pair(bk, 4);
    const issuer = new TicketIssuer(bk, undefined, 3600);
    const ticket = issuer.issue(p.b.resumeSecret, p.b.state.peerStatic, T0);
    assert(ticket.length === 92, `${ticket.length}`);
    p.b.send(Op.SESSION_TICKET, encodeTicket({ ticket, lifetime: 3600 }));
    const r = deliver(p.outB, p.a);
    assert(
      r[0].kind === "control" && p.a.ticket !== undefined && same(p.a.ticket.ticket, ticket),
      kind(r[0]),
    );
    const c = issuer.redeem(ticket, T0 + 10);
    assert(same(c.resume, p.b.resumeSecret) && c.expiresAt === T0 + 3600 && c.issuedAt === T0);
    assert(same(c.peerHash, bk.sha256(p.b.state.peerStatic).subarray(0, 16)), "peer hash");
    expectMyClerk(() => issuer.redeem(ticket, T0 + 11), ErrorCode.UNAUTHORIZED, "ticket-reused");
    const t2 = issuer.issue(p.b.resumeSecret, p.b.state.peerStatic, T0);
    expectMyClerk(() => issuer.redeem(t2, T0 + 3601), ErrorCode.UNAUTHORIZED, "ticket-expired");
    issuer.redeem(t2, T0 + 3600); // exactly at expiry: still valid
    for (let i = 0; i < 92; i += 7) {
      const f = issuer.issue(p.b.resumeSecret, p.b.state.peerStatic, T0).slice();
      f[i] ^= 0x10;
      expectMyClerk(() => issuer.redeem(f, T0), ErrorCode.UNAUTHORIZED, "bad-ticket");
    }
    expectMyClerk(
      () => issuer.redeem(new Uint8Array(91), T0),
      ErrorCode.UNAUTHORIZED,
      "bad-ticket",
    );
    expectMyClerk(
      () =>
        new TicketIssuer(bk).redeem(issuer.issue(p.b.resumeSecret, p.b.state.peerStatic, T0), T0),
      ErrorCode.UNAUTHORIZED,
      "bad-ticket",
    );
    const before = issuer.issue(p.b.resumeSecret, p.b.state.peerStatic, T0);
    issuer.rotateKey();
    issuer.redeem(before, T0); // old key kept
    issuer.redeem(issuer.issue(p.b.resumeSecret, p.b.state.peerStatic, T0), T0);
    issuer.rotateKey();
    expectMyClerk(() => issuer.redeem(before, T0), ErrorCode.UNAUTHORIZED, "bad-ticket");
  });

  T(
    "resume: ResumeInitiator + acceptResume give working sessions; wrong binder and reuse refused",
    () => {
      for (const tier of [3, 4, 5] as Tier[]) {
        const p = pair(bk, tier);
        const issuer = new TicketIssuer(bk);
        const material = () => ({
          ticket: issuer.issue(p.b.resumeSecret, p.b.state.peerStatic, T0),
          resume: p.a.resumeSecret,
          oldSessionId: p.a.state.sessionId,
          peerStatic: p.a.state.peerStatic,
          peerKeyId: p.a.state.peerKeyId,
        });
        const m = material();
        const ri = new ResumeInitiator(bk, m, tier);
        const req = ri.start(T0);
        const opts = { sessionId: 900, now: T0, maxTier: 5 as Tier, minTier: 0 as Tier };
        const { reply, state: rs } = acceptResume(bk, issuer, req, opts);
        const is = ri.finish(reply);
        assert(is.tier === tier && rs.tier === tier && is.sessionId === 900, `${is.tier}`);
        assert(
          same(is.keys.i2r.key, rs.keys.i2r.key) && same(is.keys.r2i.mac, rs.keys.r2i.mac),
          "keys agree",
        );
        assert(rs.peerKeyId === p.b.state.peerKeyId, "peer key id from the ticket");
        const outA: Uint8Array[] = [];
        const outB: Uint8Array[] = [];
        const a = new Session(is, { backend: bk, send: (x) => outA.push(x), now: () => T0 });
        const b = new Session(rs, { backend: bk, send: (x) => outB.push(x), now: () => T0 });
        a.send(APP, Uint8Array.of(9));
        assert(same(msg(deliver(outA, b)[0]).payload, Uint8Array.of(9)));
        b.send(APP, Uint8Array.of(8));
        assert(same(msg(deliver(outB, a)[0]).payload, Uint8Array.of(8)));
        // the same SESSION_RESUME again: ticket-reused
        expectMyClerk(
          () => acceptResume(bk, issuer, req, { ...opts, sessionId: 901 }),
          ErrorCode.UNAUTHORIZED,
          "ticket-reused",
        );
        // wrong resumption secret: binder fails
        const wrong = new ResumeInitiator(bk, { ...material(), resume: bk.randomBytes(32) }, tier);
        expectMyClerk(
          () => acceptResume(bk, issuer, wrong.start(T0), opts),
          ErrorCode.UNAUTHORIZED,
          "binder",
        );
        // a tampered SESSION_RESUMED fails at the initiator
        const ri2 = new ResumeInitiator(bk, material(), tier);
        const { reply: reply2 } = acceptResume(bk, issuer, ri2.start(T0), opts);
        const bad = reply2.slice();
        bad[20] ^= 1;
        expectMyClerk(() => ri2.finish(bad), ErrorCode.UNAUTHORIZED);
        // minimum tier of the responder
        const ri3 = new ResumeInitiator(bk, material(), 1);
        expectMyClerk(
          () => acceptResume(bk, issuer, ri3.start(T0), { ...opts, minTier: 3 }),
          ErrorCode.FORBIDDEN,
          "tier",
        );
      }
    },
  );
}
