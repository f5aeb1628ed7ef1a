import fc from "fast-check";
import { assertEquals, assertThrows } from "./_assert.ts";
import { be } from "./_backends.ts";
import {
  decodeFed,
  decodeFedGeneric,
  encodeDeliverTransient,
  encodeFed,
  FedMessage,
  FedOp,
} from "../../federation/messages.ts";
import { createFamilyRecord } from "../../federation/family.ts";
import { encodeMsgpack } from "../../federation/codec.ts";
import { ErrorCode, MyClerkError } from "../../core/errors.ts";

const fam = fc.uint8Array({ minLength: 16, maxLength: 16 }).map((b) =>
  Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("")
);
const mid = fc.uint8Array({ minLength: 16, maxLength: 16 });
const u32 = fc.integer({ min: 0, max: 0xffffffff });
const key = fc.uint8Array({ minLength: 32, maxLength: 32 });
const family = fc.record({
  name: fc.string({ minLength: 1, maxLength: 64 }),
  key,
  home: u32,
  created: u32,
})
  .map((f) => createFamilyRecord(be, f));

const message: fc.Arbitrary<FedMessage> = fc.oneof(
  fc.record({
    op: fc.constant(FedOp.FED_HELLO),
    role: fc.constantFrom("relay" as const, "hub" as const),
    keyId: u32,
    families: fc.array(fam, { maxLength: 5 }),
    version: fc.integer({ min: 0, max: 255 }),
    maxMessage: u32,
  }),
  fc.record({
    op: fc.constant(FedOp.FED_ADMIT),
    token: fc.stringMatching(/^[A-Za-z0-9_-]{1,100}$/),
    family,
    proof: key,
  }),
  fc.record({
    op: fc.constant(FedOp.FED_ADMITTED),
    family: fam,
    relay: u32,
    quotaMessages: fc.nat(),
    quotaBytes: fc.maxSafeNat(),
    maxMessage: u32,
    maxTtl: u32,
  }),
  fc.record({
    op: fc.constant(FedOp.FED_ROUTE),
    seq: fc.maxSafeNat(),
    families: fc.array(fam, { maxLength: 5 }),
  }),
  fc.record({
    op: fc.constant(FedOp.FED_DELIVER),
    to: fam,
    from: fam,
    fromKey: key,
    mid,
    ttl: fc.integer({ min: 1, max: 0xffffffff }),
    hops: fc.integer({ min: 0, max: 8 }),
    sealed: fc.uint8Array({ maxLength: 300 }),
  }),
  fc.record({
    op: fc.constant(FedOp.FED_ACK),
    kind: fc.constant("stored" as const),
    relay: u32,
    mids: fc.array(mid, { maxLength: 4 }),
  }),
  fc.record({
    op: fc.constant(FedOp.FED_ACK),
    kind: fc.constant("delivered" as const),
    family: fam,
    mids: fc.array(mid, { maxLength: 4 }),
  }),
  fc.record({
    op: fc.constant(FedOp.FED_QUEUE_STATUS),
    family: fam,
    depth: fc.nat(),
    bytes: fc.maxSafeNat(),
    oldest: u32,
  }),
  fc.record({
    op: fc.constant(FedOp.FED_FETCH),
    family: fam,
    credit: fc.integer({ min: 0, max: 0xffff }),
  }),
  fc.record({
    op: fc.constant(FedOp.FED_FETCH),
    family: fam,
    credit: fc.integer({ min: 0, max: 0xffff }),
    maxBytes: fc.nat(),
  }),
  fc.record({
    op: fc.constant(FedOp.FED_EXPIRED),
    family: fam,
    to: fam,
    mids: fc.array(mid, { maxLength: 4 }),
  }),
  fc.record({ op: fc.constant(FedOp.FED_RESTART), after: fc.integer({ min: 0, max: 3_600_000 }) }),
  fc.record({
    op: fc.constant(FedOp.FED_RESTART),
    after: fc.integer({ min: 0, max: 3_600_000 }),
    reason: fc.string({ minLength: 1, maxLength: 50 }),
  }),
);

Deno.test("messages: every kind round-trips (fast-check)", () => {
  fc.assert(
    fc.property(message, (msg) => {
      // structuredClone: fast-check builds null-prototype records.
      assertEquals(structuredClone(decodeFed(be, msg.op, encodeFed(msg))), structuredClone(msg));
    }),
    { numRuns: 600 },
  );
});

Deno.test("messages: random bytes decode to a value or BAD_REQUEST, never anything else", () => {
  const ops = [...Object.values(FedOp)].filter((o) => o !== FedOp.FED_SEALED);
  fc.assert(
    fc.property(fc.constantFrom(...ops), fc.uint8Array({ maxLength: 64 }), (op, bytes) => {
      try {
        decodeFed(be, op, bytes);
      } catch (e) {
        if (!(e instanceof MyClerkError) || e.code !== ErrorCode.BAD_REQUEST) throw e;
      }
    }),
    { numRuns: 2000 },
  );
});

Deno.test("messages: wrong types and ranges are BAD_REQUEST naming the field", () => {
  const bad = (op: number, m: unknown, detail: string) => {
    const e = assertThrows(() => decodeFed(be, op, encodeMsgpack(m)), MyClerkError);
    assertEquals([e.code, e.detail], [ErrorCode.BAD_REQUEST, detail]);
  };
  const f = "00112233445566778899aabbccddeeff";
  bad(FedOp.FED_HELLO, { role: "king", "key-id": 1, families: [], version: 0 }, "field:role");
  bad(
    FedOp.FED_HELLO,
    { role: "hub", "key-id": 1, families: ["XYZ"], version: 0 },
    "field:families",
  );
  bad(FedOp.FED_DELIVER, {
    to: f,
    from: f,
    "from-key": new Uint8Array(32),
    mid: new Uint8Array(15),
    ttl: 1,
    hops: 0,
    sealed: new Uint8Array(1),
  }, "field:mid");
  bad(FedOp.FED_DELIVER, {
    to: f,
    from: f,
    "from-key": new Uint8Array(32),
    mid: new Uint8Array(16),
    ttl: 0,
    hops: 0,
    sealed: new Uint8Array(1),
  }, "field:ttl");
  bad(FedOp.FED_DELIVER, {
    to: f,
    from: f,
    "from-key": new Uint8Array(32),
    mid: new Uint8Array(16),
    ttl: 5,
    hops: 9,
    sealed: new Uint8Array(1),
  }, "field:hops");
  bad(FedOp.FED_ACK, { kind: "stored", relay: -1, mids: [] }, "field:relay");
  bad(FedOp.FED_FETCH, { family: f, credit: 70000 }, "field:credit");
  bad(FedOp.FED_RESTART, [1, 2], "payload-not-map");
  const e = assertThrows(() => decodeFed(be, 0x03fe, new Uint8Array(0)), MyClerkError);
  assertEquals([e.code, e.detail], [ErrorCode.BAD_REQUEST, "opcode"]);
  // FED_ADMIT with a family record whose id does not match its key.
  const rec = createFamilyRecord(be, {
    name: "a",
    key: new Uint8Array(32).fill(9),
    home: 1,
    created: 1,
  });
  bad(FedOp.FED_ADMIT, {
    token: "abc",
    family: { id: f, name: rec.name, key: rec.key, "key-id": rec.keyId, home: 1, created: 1 },
    proof: new Uint8Array(32),
  }, "family-id-mismatch");
});

/** FED_DELIVER with small and large ttl and sealed sizes (every length form of bin and uint). */
const deliver = fc.record({
  op: fc.constant(FedOp.FED_DELIVER),
  to: fam,
  from: fam,
  fromKey: key,
  mid,
  ttl: fc.oneof(fc.integer({ min: 1, max: 300 }), fc.integer({ min: 1, max: 0xffffffff })),
  hops: fc.integer({ min: 0, max: 8 }),
  sealed: fc.oneof(
    fc.uint8Array({ maxLength: 300 }),
    fc.integer({ min: 0x100, max: 0x10100 }).map((n) => new Uint8Array(n).fill(n & 0xff)),
  ),
});

Deno.test("messages: the unchecked FED_DELIVER encoder writes the same bytes as the checked one", () => {
  fc.assert(
    fc.property(deliver, (m) => {
      const fast = encodeFed(m, false);
      assertEquals(fast, encodeFed(m));
      // the relay's push path: the same bytes, written into the reused buffer
      assertEquals(encodeDeliverTransient(m).slice(), fast);
      assertEquals(decodeFed(be, m.op, fast), { ...m });
    }),
    { numRuns: 300 },
  );
});

/** decodeFed's outcome: the message, or the error's code and detail. */
function outcome(f: () => FedMessage): unknown {
  try {
    return structuredClone(f());
  } catch (e) {
    if (!(e instanceof MyClerkError)) throw e;
    return [e.code, e.detail];
  }
}

Deno.test("messages: the canonical FED_DELIVER reader agrees with the generic decoder on every input", () => {
  let canonical = 0;
  fc.assert(
    fc.property(
      deliver,
      fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 3 }),
      fc.integer({ min: -3, max: 3 }),
      (m, flips, resize) => {
        const good = encodeFed(m);
        if (flips.length === 0 && resize === 0) {
          canonical++;
          assertEquals(decodeFed(be, m.op, good), { ...m });
        }
        // one to three bytes set to any value, the end cut or extended: same outcome both ways
        const b = new Uint8Array(Math.max(0, good.length + resize));
        b.set(good.subarray(0, Math.min(good.length, b.length)));
        for (const [at, v] of flips) if (b.length > 0) b[at % b.length] = v;
        assertEquals(
          outcome(() => decodeFed(be, FedOp.FED_DELIVER, b)),
          outcome(() => decodeFedGeneric(be, FedOp.FED_DELIVER, b)),
        );
      },
    ),
    { numRuns: 3000 },
  );
  assertEquals(canonical > 0, true, "some inputs were the canonical bytes themselves");
  // the same fields in another key order: not canonical, decoded the generic way, same message
  const f = "00112233445566778899aabbccddeeff";
  const reordered = encodeMsgpack({
    sealed: new Uint8Array(3),
    hops: 1,
    ttl: 60,
    mid: new Uint8Array(16),
    "from-key": new Uint8Array(32),
    from: f,
    to: f,
  });
  assertEquals(decodeFed(be, FedOp.FED_DELIVER, reordered), {
    op: FedOp.FED_DELIVER,
    to: f,
    from: f,
    fromKey: new Uint8Array(32),
    mid: new Uint8Array(16),
    ttl: 60,
    hops: 1,
    sealed: new Uint8Array(3),
  });
});
