/**
 * Core payloads (profile §5, §7, §8, §10): every `encode*`/`decode*` pair
 * round-trips, and every `decode*` throws only MyClerkError BAD_REQUEST on
 * random bytes and on maps with the right keys but wrong values.
 *
 * @module
 */

import fc from "fast-check";
import { ErrorCode, isMyClerkError } from "../../../core/errors.ts";
import * as P from "../../../core/session/payloads.ts";
import { encodePayload } from "../../../core/wire/payload.ts";
import { same } from "./_util.ts";

function assert(cond: unknown, msg = "assertion failed"): asserts cond {
  if (!cond) throw new Error(msg);
}

/** Every decoder of payloads.ts, by name (checked against the module's exports below). */
const DECODERS: Readonly<Record<string, (b: Uint8Array) => unknown>> = {
  decodeSessionInit: P.decodeSessionInit,
  decodeSessionAck: P.decodeSessionAck,
  decodeKeyExchangeComplete: P.decodeKeyExchangeComplete,
  decodeError: P.decodeError,
  decodeTicket: P.decodeTicket,
  decodeResume: P.decodeResume,
  decodeResumed: P.decodeResumed,
  decodeRotate: P.decodeRotate,
  decodeRekey: P.decodeRekey,
  decodeReason: P.decodeReason,
  decodeKeepalive: P.decodeKeepalive,
};

const KEYS = [
  "nonce",
  "timestamp",
  "tier",
  "min-tier",
  "capabilities",
  "device-id",
  "session-id",
  "selected-tier",
  "selected-capabilities",
  "static",
  "code",
  "opcode",
  "re",
  "detail",
  "required-tier",
  "time",
  "ticket",
  "lifetime",
  "old-session-id",
  "epoch",
  "request",
  "reason",
  "id",
];

const fieldValue = fc.oneof(
  fc.integer({ min: -5, max: 10 }),
  fc.nat(),
  fc.double(),
  fc.string({ maxLength: 20 }),
  fc.boolean(),
  fc.constant(null),
  fc.uint8Array({ maxLength: 100 }),
  fc.constantFrom(new Uint8Array(8), new Uint8Array(16), new Uint8Array(32), new Uint8Array(92)),
  fc.array(fc.integer({ min: -1, max: 70000 }), { maxLength: 5 }),
);

Deno.test("payloads: DECODERS lists every decode* export", () => {
  const exported = Object.keys(P).filter((k) => k.startsWith("decode")).sort();
  assert(exported.join() === Object.keys(DECODERS).sort().join(), exported.join());
});

Deno.test("payloads: encode/decode round trips", () => {
  const n8 = fc.uint8Array({ minLength: 8, maxLength: 8 });
  const tier = fc.integer({ min: 0, max: 5 });
  const caps = fc.array(fc.integer({ min: 0, max: 0xffff }).filter((c) => c !== 7), {
    maxLength: 8,
  });
  fc.assert(fc.property(n8, fc.nat(), tier, tier, caps, (nonce, ts, t, mt, c) => {
    const p = P.decodeSessionInit(
      P.encodeSessionInit({ nonce, timestamp: ts, tier: t, minTier: mt, capabilities: c }),
    );
    assert(same(p.nonce, nonce) && p.timestamp === ts && p.tier === t && p.minTier === mt);
    assert(p.capabilities.join() === c.join() && p.deviceId === undefined);
  }));
  fc.assert(
    fc.property(
      fc.integer({ min: 0, max: 0xffff }),
      n8,
      tier,
      caps,
      fc.uint8Array({ minLength: 32, maxLength: 32 }),
      (sid, nonce, t, c, st) => {
        const p = P.decodeSessionAck(
          P.encodeSessionAck({
            sessionId: sid,
            nonce,
            selectedTier: t,
            selectedCapabilities: c,
            static: st,
          }),
        );
        assert(
          p.sessionId === sid && same(p.nonce, nonce) && p.selectedTier === t && same(p.static, st),
        );
        assert(p.selectedCapabilities.join() === c.join());
      },
    ),
  );
  const err = { code: 0x12, opcode: 0x204, re: 9, detail: "tier", requiredTier: 3, time: 12345 };
  const e = P.decodeError(P.encodeError(err));
  assert(JSON.stringify(e) === JSON.stringify(err), JSON.stringify(e));
  const ticket = new Uint8Array(92).fill(4);
  assert(same(P.decodeTicket(P.encodeTicket({ ticket, lifetime: 60 })).ticket, ticket));
  const r = P.decodeResume(
    P.encodeResume({ oldSessionId: 5, ticket, nonce: new Uint8Array(8), tier: 4 }),
  );
  assert(r.oldSessionId === 5 && r.tier === 4);
  assert(
    P.decodeResumed(P.encodeResumed({ sessionId: 6, nonce: new Uint8Array(8), selectedTier: 3 }))
      .selectedTier === 3,
  );
  const rot = P.decodeRotate(P.encodeRotate({ epoch: 2, request: true }));
  assert(rot.epoch === 2 && rot.request === true);
  assert(P.decodeRotate(P.encodeRotate({ epoch: 3 })).request === undefined);
  assert(P.decodeRekey(P.encodeRekey({ epoch: 9 })).epoch === 9);
  assert(P.decodeReason(P.encodeReason({ reason: "bye" })).reason === "bye");
  assert(P.decodeReason(new Uint8Array(0)).reason === undefined, "empty payload = {}");
  assert(P.decodeKeepalive(P.encodeKeepalive({ id: 1 })).id === 1);
  assert(P.decodeKeyExchangeComplete(P.encodeKeyExchangeComplete({ tier: 5 })).tier === 5);
  // capability 7 is reserved: ignored on receive
  const seven = P.decodeSessionInit(
    P.encodeSessionInit({
      nonce: new Uint8Array(8),
      timestamp: 1,
      tier: 5,
      minTier: 0,
      capabilities: [1, 7, 2],
    }),
  );
  assert(seven.capabilities.join() === "1,2", seven.capabilities.join());
});

Deno.test("payloads: every decoder throws only MyClerkError BAD_REQUEST on random and ill-typed input", () => {
  const check = (b: Uint8Array) => {
    for (const [name, d] of Object.entries(DECODERS)) {
      try {
        d(b);
      } catch (e) {
        if (!isMyClerkError(e) || e.code !== ErrorCode.BAD_REQUEST) {
          throw new Error(`${name}: ${String(e)}`);
        }
      }
    }
  };
  fc.assert(fc.property(fc.uint8Array({ maxLength: 150 }), check), { numRuns: 1500 });
  fc.assert(
    fc.property(
      fc.dictionary(fc.constantFrom(...KEYS), fieldValue, { maxKeys: 8 }),
      (m) => check(encodePayload(m)),
    ),
    { numRuns: 1500 },
  );
});
