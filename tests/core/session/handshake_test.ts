/**
 * Handshake (profile §5, §9): M1/M2/M3 for every tier on both back ends
 * (and across them), tier negotiation, downgrade by a man in the middle,
 * pinned keys, expected key ids, revocation, admission, clock skew and
 * corrupted messages.
 *
 * @module
 */

import fc from "fast-check";
import { ErrorCode, isMyClerkError } from "../../../core/errors.ts";
import { Op } from "../../../core/opcodes.ts";
import type { CryptoBackend } from "../../../core/crypto/types.ts";
import { type Identity, Initiator, Responder } from "../../../core/session/handshake.ts";
import {
  decodeSessionInit,
  encodeError,
  encodeSessionAck,
  encodeSessionInit,
} from "../../../core/session/payloads.ts";
import { concat, deriveK2, keyIdOf, transcript, ZERO_KEY } from "../../../core/session/schedule.ts";
import type { Tier } from "../../../core/wire/header.ts";
import { decodeMessage, encodePlain, type Tier4Message } from "../../../core/wire/message.ts";
import { sealMessage } from "../../../core/wire/protect.ts";
import { BACKENDS, Clock, expectMyClerk, handshake, identity, same, T0 } from "./_util.ts";

function assert(cond: unknown, msg = "assertion failed"): asserts cond {
  if (!cond) throw new Error(msg);
}

const ZK = { key: ZERO_KEY, mac: ZERO_KEY, iv: ZERO_KEY };

/** Re-encodes M1 with `edit` applied to its payload and a fresh zero-key trailer (a MITM can do this). */
function editM1(
  b: CryptoBackend,
  m1: Uint8Array,
  edit: (p: ReturnType<typeof decodeSessionInit>) => object,
): Uint8Array {
  const m = decodeMessage(m1) as Tier4Message;
  const p = decodeSessionInit(m.payload);
  return sealMessage(
    b,
    {
      tier: 4,
      opcode: m.opcode,
      sessionId: m.sessionId,
      keyId: m.keyId,
      ecdh: m.ecdh,
      timestamp: m.timestamp,
      encrypted: false,
    },
    0,
    ZK,
    encodeSessionInit({ ...p, ...edit(p) }),
  );
}

/**
 * A responder that builds M2 by hand (a real key holder that ignores the
 * rules), so initiator-side checks can be reached.
 */
function rogueM2(
  b: CryptoBackend,
  m1bytes: Uint8Array,
  id: Identity,
  o: { selectedTier: number; sessionId?: number; headerSessionId?: number; headerKeyId?: number },
): Uint8Array {
  const m1 = decodeMessage(m1bytes) as Tier4Message;
  const init = decodeSessionInit(m1.payload);
  const e = b.x25519Generate();
  const nonce = new Uint8Array(8).fill(9);
  const dh1 = b.x25519(e.privateKey, m1.ecdh);
  const dh2 = b.x25519(id.privateKey, m1.ecdh);
  const k2 = deriveK2(b, dh1, dh2, concat(init.nonce, nonce), transcript(b, undefined, m1bytes));
  const sid = o.sessionId ?? 9;
  return sealMessage(
    b,
    {
      tier: 4,
      opcode: Op.SESSION_ACK,
      sessionId: o.headerSessionId ?? sid,
      keyId: o.headerKeyId ?? id.keyId,
      ecdh: e.publicKey,
      timestamp: T0,
      encrypted: false,
    },
    0,
    { key: k2, mac: k2, iv: ZERO_KEY },
    encodeSessionAck({
      sessionId: sid,
      nonce,
      selectedTier: o.selectedTier,
      selectedCapabilities: [],
      static: id.publicKey,
    }),
  );
}

for (const b of BACKENDS) {
  Deno.test(`handshake (${b.name}): M1/M2/M3 for tiers 1-5 give matching keys and transcripts; Tier 0 refused`, () => {
    // a session needs opcodes: Tier 0 is only carried inside one (profile §14)
    const e = expectMyClerk(() => handshake(b, { tier: 0 }), ErrorCode.FORBIDDEN, "tier");
    assert(e.extra.requiredTier === 1, `required ${e.extra.requiredTier}`);
    for (const tier of [1, 2, 3, 4, 5] as Tier[]) {
      const hs = handshake(b, { tier, capabilities: [1, 4, 7, 99] }, { capabilities: [1, 2, 4] });
      const i = hs.initiator;
      const r = hs.responder;
      assert(i.tier === tier && r.tier === tier, `tier ${tier}`);
      assert(i.sessionId === 77 && r.sessionId === 77);
      assert(i.role === "initiator" && r.role === "responder");
      for (const d of ["i2r", "r2i"] as const) {
        assert(
          same(i.keys[d].key, r.keys[d].key) && same(i.keys[d].mac, r.keys[d].mac) &&
            same(i.keys[d].iv, r.keys[d].iv),
          d,
        );
      }
      assert(!same(i.keys.i2r.key, i.keys.r2i.key), "directions differ");
      assert(same(i.keys.resume, r.keys.resume) && same(i.transcriptHash, r.transcriptHash));
      assert(same(i.myEphemeral, r.peerEphemeral) && same(r.myEphemeral, i.peerEphemeral));
      assert(
        same(i.peerStatic, identity(b, 2).publicKey) &&
          same(r.peerStatic, identity(b, 1).publicKey),
      );
      assert(i.peerKeyId === identity(b, 2).keyId && r.peerKeyId === identity(b, 1).keyId);
      assert(
        i.capabilities.join() === "1,4" && r.capabilities.join() === "1,4",
        i.capabilities.join(),
      );
      // all three messages are Tier 4, E=0, with sequence/nonce 0
      for (const [k, m] of [hs.m1, hs.m2, hs.m3].entries()) {
        const d = decodeMessage(m) as Tier4Message;
        assert(
          d.tier === 4 && !d.encrypted && !d.compressed && !d.fragment && d.sequence === 0 &&
            d.nonce === 0,
          `M${k + 1}`,
        );
      }
    }
  });

  Deno.test(`handshake (${b.name}): MITM editing M1's tier makes the initiator fail with handshake-mac`, () => {
    for (const [want, forged] of [[5, 2], [4, 1], [3, 1], [5, 3]] as const) {
      const clock = new Clock();
      const ini = new Initiator({
        backend: b,
        identity: identity(b, 1),
        now: clock.now,
        tier: want,
      });
      const res = new Responder({
        backend: b,
        identity: identity(b, 2),
        now: clock.now,
        sessionId: 5,
      });
      const m1 = editM1(b, ini.start(), () => ({ tier: forged }));
      const m2 = res.accept(m1); // the responder cannot tell: M1 only has a zero-key trailer
      expectMyClerk(() => ini.finish(m2), ErrorCode.UNAUTHORIZED, "handshake-mac");
    }
    // editing min-tier is caught the same way
    const ini = new Initiator({
      backend: b,
      identity: identity(b, 1),
      now: () => T0,
      tier: 5,
      minTier: 4,
    });
    const res = new Responder({
      backend: b,
      identity: identity(b, 2),
      now: () => T0,
      sessionId: 5,
    });
    const m2 = res.accept(editM1(b, ini.start(), () => ({ minTier: 0 })));
    expectMyClerk(() => ini.finish(m2), ErrorCode.UNAUTHORIZED, "handshake-mac");
  });

  Deno.test(`handshake (${b.name}): any single bit flip in M2 or M3 fails the handshake`, () => {
    const base = handshake(b);
    fc.assert(
      fc.property(fc.nat(), fc.integer({ min: 0, max: 7 }), fc.boolean(), (at, bit, inM2) => {
        const clock = new Clock();
        const ini = new Initiator({ backend: b, identity: identity(b, 1), now: clock.now });
        const res = new Responder({
          backend: b,
          identity: identity(b, 2),
          now: clock.now,
          sessionId: 77,
        });
        const m2 = res.accept(ini.start());
        if (inM2) {
          const bad = m2.slice();
          bad[at % bad.length] ^= 1 << bit;
          const e = expectMyClerk(() => ini.finish(bad));
          assert(e.code !== ErrorCode.OK, e.message);
          return;
        }
        const { m3 } = ini.finish(m2);
        const bad = m3.slice();
        bad[at % bad.length] ^= 1 << bit;
        expectMyClerk(() => res.complete(bad));
      }),
      { numRuns: 60 },
    );
    assert(base.responder.tier === 5);
  });
}

Deno.test("handshake: node initiator with noble responder and the reverse agree", () => {
  const [n, nb] = BACKENDS;
  for (const [bi, br] of [[n, nb], [nb, n]]) {
    const ini = new Initiator({ backend: bi, identity: identity(bi, 1), now: () => T0 });
    const res = new Responder({
      backend: br,
      identity: identity(br, 2),
      now: () => T0,
      sessionId: 3,
    });
    const { m3, state } = ini.finish(res.accept(ini.start()));
    const r = res.complete(m3);
    assert(
      same(state.keys.i2r.key, r.keys.i2r.key) && same(state.transcriptHash, r.transcriptHash),
    );
  }
});

Deno.test("handshake: tier negotiation for every combination of both sides' min and max", () => {
  const b = BACKENDS[0];
  const t = fc.integer({ min: 0, max: 5 }) as fc.Arbitrary<Tier>;
  fc.assert(
    fc.property(t, t, t, t, (iMax, iMin, rMax, rMin) => {
      const ini = new Initiator({
        backend: b,
        identity: identity(b, 1),
        now: () => T0,
        tier: iMax,
        minTier: iMin,
      });
      const res = new Responder({
        backend: b,
        identity: identity(b, 2),
        now: () => T0,
        sessionId: 1,
        maxTier: rMax,
        minTier: rMin,
      });
      const m1 = ini.start();
      const sel = Math.min(rMax, iMax);
      const floor = Math.max(rMin, 1); // Tier 0 sessions are refused (profile §14)
      if (sel < floor || sel < iMin) {
        const e = expectMyClerk(() => res.accept(m1), ErrorCode.FORBIDDEN, "tier");
        assert(
          e.extra.requiredTier === (sel < floor ? floor : iMin),
          `required ${e.extra.requiredTier}`,
        );
        return;
      }
      const { m3, state } = ini.finish(res.accept(m1));
      assert(
        state.tier === sel && res.complete(m3).tier === sel,
        `selected ${state.tier}, want ${sel}`,
      );
    }),
    { numRuns: 400 },
  );
});

Deno.test("handshake: initiator refuses a rogue responder's tier, key id and session id", () => {
  const b = BACKENDS[0];
  const rogue = identity(b, 2);
  const start = (o: object = {}) => {
    const ini = new Initiator({
      backend: b,
      identity: identity(b, 1),
      now: () => T0,
      tier: 3,
      minTier: 2,
      ...o,
    });
    return { ini, m1: ini.start() };
  };
  let s = start();
  const e = expectMyClerk(
    () => s.ini.finish(rogueM2(b, s.m1, rogue, { selectedTier: 4 })),
    ErrorCode.FORBIDDEN,
    "tier",
  );
  assert(e.extra.requiredTier === 2);
  s = start();
  expectMyClerk(
    () => s.ini.finish(rogueM2(b, s.m1, rogue, { selectedTier: 1 })),
    ErrorCode.FORBIDDEN,
    "tier",
  );
  s = start();
  assert(
    s.ini.finish(rogueM2(b, s.m1, rogue, { selectedTier: 3 })).state.tier === 3,
    "honest M2 works",
  );
  // expectKeyId: the honest responder refuses M1; a rogue one that ignores it is caught by the initiator
  const other = identity(b, 3);
  s = start({ expectKeyId: other.keyId });
  const honest = new Responder({ backend: b, identity: rogue, now: () => T0, sessionId: 4 });
  expectMyClerk(() => honest.accept(s.m1), ErrorCode.UNAUTHORIZED, "unknown-key");
  expectMyClerk(
    () => s.ini.finish(rogueM2(b, s.m1, rogue, { selectedTier: 3 })),
    ErrorCode.UNAUTHORIZED,
    "key-id",
  );
  s = start();
  expectMyClerk(
    () => s.ini.finish(rogueM2(b, s.m1, rogue, { selectedTier: 3, headerKeyId: other.keyId })),
    ErrorCode.UNAUTHORIZED,
    "key-id",
  );
  s = start();
  expectMyClerk(
    () => s.ini.finish(rogueM2(b, s.m1, rogue, { selectedTier: 3, sessionId: 0 })),
    ErrorCode.BAD_REQUEST,
    "field:session-id",
  );
  s = start();
  expectMyClerk(
    () => s.ini.finish(rogueM2(b, s.m1, rogue, { selectedTier: 3, headerSessionId: 8 })),
    ErrorCode.BAD_REQUEST,
    "field:session-id",
  );
});

Deno.test("handshake: pinned key and expected key id", () => {
  for (const b of BACKENDS) {
    const r = identity(b, 2);
    expectMyClerk(
      () => handshake(b, { pinnedKey: identity(b, 3).publicKey }),
      ErrorCode.UNAUTHORIZED,
      "pinned-key",
    );
    assert(handshake(b, { pinnedKey: r.publicKey }).initiator.tier === 5, "pinned match");
    assert(
      handshake(b, { expectKeyId: r.keyId }).initiator.peerKeyId === r.keyId,
      "expected key id",
    );
    expectMyClerk(
      () => handshake(b, { expectKeyId: identity(b, 3).keyId }),
      ErrorCode.UNAUTHORIZED,
      "unknown-key",
    );
    assert(keyIdOf(b, r.publicKey) === r.keyId);
  }
});

Deno.test("handshake: revoked initiator key and the admission policy", () => {
  for (const b of BACKENDS) {
    const i = identity(b, 1);
    expectMyClerk(
      () => handshake(b, {}, { revoked: new Set([i.keyId]) }),
      ErrorCode.UNAUTHORIZED,
      "revoked",
    );
    assert(
      handshake(b, {}, { revoked: new Set([i.keyId ^ 1]) }).responder.tier === 5,
      "other key revoked",
    );
    const seen: [number, Uint8Array][] = [];
    const hs = handshake(b, {}, { admit: (kid, pub) => (seen.push([kid, pub]), kid === i.keyId) });
    assert(
      hs.responder.peerKeyId === i.keyId && seen.length === 1 && same(seen[0][1], i.publicKey),
      "admitted",
    );
    expectMyClerk(
      () => handshake(b, {}, { admit: () => false }),
      ErrorCode.UNAUTHORIZED,
      "not-admitted",
    );
  }
});

Deno.test("handshake: clock skew is UNAUTHORIZED clock-skew with the responder's time", () => {
  const b = BACKENDS[0];
  for (
    const [skew, ok] of [[300, true], [-300, true], [301, false], [-301, false], [
      100_000,
      false,
    ]] as const
  ) {
    const ini = new Initiator({ backend: b, identity: identity(b, 1), now: () => T0 });
    const now = T0 + skew;
    const res = new Responder({
      backend: b,
      identity: identity(b, 2),
      now: () => now,
      sessionId: 1,
    });
    const m1 = ini.start();
    if (ok) {
      res.accept(m1);
      continue;
    }
    const e = expectMyClerk(() => res.accept(m1), ErrorCode.UNAUTHORIZED, "clock-skew");
    assert(e.extra.time === now, `time ${e.extra.time}`);
  }
  const res = new Responder({
    backend: b,
    identity: identity(b, 2),
    now: () => T0,
    sessionId: 1,
    maxSkew: 10,
  });
  const ini = new Initiator({ backend: b, identity: identity(b, 1), now: () => T0 - 11 });
  expectMyClerk(() => res.accept(ini.start()), ErrorCode.UNAUTHORIZED, "clock-skew");
});

Deno.test("handshake: malformed M1, wrong messages, peer ERROR, low-order keys, order of calls", () => {
  const b = BACKENDS[0];
  const ini = new Initiator({ backend: b, identity: identity(b, 1), now: () => T0 });
  expectMyClerk(() => ini.finish(new Uint8Array(60)), ErrorCode.BAD_REQUEST, "not-started");
  const res = new Responder({ backend: b, identity: identity(b, 2), now: () => T0, sessionId: 1 });
  expectMyClerk(() => res.complete(new Uint8Array(60)), ErrorCode.BAD_REQUEST, "not-started");
  const m1 = ini.start();
  // bad zero-key trailer
  const bad = m1.slice();
  bad[bad.length - 1] ^= 1;
  expectMyClerk(() => res.accept(bad), ErrorCode.BAD_REQUEST, "trailer");
  // M1 timestamp field disagreeing with the header
  expectMyClerk(
    () => res.accept(editM1(b, m1, () => ({ timestamp: T0 + 1 }))),
    ErrorCode.BAD_REQUEST,
    "field:timestamp",
  );
  // a low-order (all-zero) ephemeral: X25519 result all zero
  const m = decodeMessage(m1) as Tier4Message;
  const zeroEph = sealMessage(
    b,
    {
      tier: 4,
      opcode: Op.SESSION_INIT,
      sessionId: 0,
      keyId: 0,
      ecdh: new Uint8Array(32),
      timestamp: T0,
      encrypted: false,
    },
    0,
    ZK,
    m.payload,
  );
  expectMyClerk(() => res.accept(zeroEph), ErrorCode.UNAUTHORIZED, "bad-key");
  // wrong message in place of M1 / M2
  const m2 = res.accept(m1);
  expectMyClerk(() => res.accept(m2), ErrorCode.BAD_REQUEST, "unexpected-message");
  expectMyClerk(() => ini.finish(m1), ErrorCode.BAD_REQUEST, "unexpected-message");
  // a Tier 1 ERROR answer surfaces as the peer's error
  const err = encodePlain(
    { tier: 1, opcode: Op.ERROR },
    encodeError({
      code: ErrorCode.FORBIDDEN,
      opcode: Op.SESSION_INIT,
      detail: "tier",
      requiredTier: 4,
    }),
  );
  const e = expectMyClerk(() => ini.finish(err), ErrorCode.FORBIDDEN, "peer: tier");
  assert(e.extra.requiredTier === 4 && e.extra.remote === true);
  // the genuine M2 still works after all that
  const { m3 } = ini.finish(m2);
  // M3 for another session id
  const r2 = new Responder({ backend: b, identity: identity(b, 2), now: () => T0, sessionId: 2 });
  r2.accept(m1);
  expectMyClerk(() => r2.complete(m3), ErrorCode.INVALID_SESSION, "session-id");
  assert(res.complete(m3).sessionId === 1);
});

Deno.test("handshake: Responder.accept/complete and Initiator.finish throw only MyClerkError on random input", () => {
  const b = BACKENDS[0];
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 200 }), (x) => {
      const ini = new Initiator({ backend: b, identity: identity(b, 1), now: () => T0 });
      const res = new Responder({
        backend: b,
        identity: identity(b, 2),
        now: () => T0,
        sessionId: 1,
      });
      const m1 = ini.start();
      for (
        const f of [
          () => res.accept(x),
          () => ini.finish(x),
          () => (res.accept(m1), res.complete(x)),
        ]
      ) {
        try {
          f();
        } catch (e) {
          assert(isMyClerkError(e), String(e));
        }
      }
    }),
    { numRuns: 300 },
  );
});
