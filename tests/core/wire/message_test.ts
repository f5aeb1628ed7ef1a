/**
 * Message codec (profile §1-§2, §6): round trips of every tier and flag
 * combination, the flag rules, truncation, and single-bit corruption of
 * plain and protected messages. Crypto properties run on both back ends.
 *
 * @module
 */

import fc from "fast-check";
import { ErrorCode, isMyClerkError } from "../../../core/errors.ts";
import {
  HEADER_LENGTH,
  makeFlags,
  minimumLength,
  parseFlags,
  type Tier,
  TRAILER_LENGTH,
} from "../../../core/wire/header.ts";
import {
  decodeMessage,
  encodePlain,
  isProtected,
  type Message,
} from "../../../core/wire/message.ts";
import {
  counterFields,
  type DirectionKeys,
  openPayload,
  sealMessage,
  TAG_LENGTH,
  verifyTrailer,
} from "../../../core/wire/protect.ts";
import { BACKENDS, expectMyClerk, same } from "../session/_util.ts";

function assert(cond: unknown, msg = "assertion failed"): asserts cond {
  if (!cond) throw new Error(msg);
}

const u16 = fc.integer({ min: 0, max: 0xffff });
const u32 = fc.integer({ min: 0, max: 0xffffffff });
const bytes = (n: number) => fc.uint8Array({ minLength: n, maxLength: n });
const payloadArb = fc.uint8Array({ maxLength: 300 });

const plainArb = fc.record({
  tier: fc.constantFrom<0 | 1 | 2>(0, 1, 2),
  compressed: fc.boolean(),
  fragment: fc.boolean(),
  opcode: u16,
  sequence: fc.integer({ min: 0, max: 0xff }),
  sessionId: u16,
});

/** Protected header, counter (below 2^24 so the header carries all of it), keys, payload. */
const protectedArb = fc.record({
  tier: fc.constantFrom<3 | 4 | 5>(3, 4, 5),
  encrypted: fc.boolean(),
  compressed: fc.boolean(),
  fragment: fc.boolean(),
  opcode: u16,
  sessionId: u16,
  timestamp: u32,
  keyId: u32,
  ecdh: bytes(32),
  counter: fc.integer({ min: 0, max: 0xffffff }),
  keys: fc.record({ key: bytes(32), mac: bytes(32), iv: bytes(4) }),
  payload: payloadArb,
}).map((r) => ({ ...r, encrypted: r.tier === 5 ? true : r.encrypted }));

type ProtectedCase = typeof protectedArb extends fc.Arbitrary<infer T> ? T : never;

function seal(b: (typeof BACKENDS)[number], r: ProtectedCase, framed = false): Uint8Array {
  const { counter, keys, payload, ...h } = r;
  return sealMessage(b, h, counter, keys as DirectionKeys, payload, framed);
}

Deno.test("plain tiers 0-2: encode/decode round trip with every C/F combination", () => {
  fc.assert(
    fc.property(plainArb, payloadArb, (h, payload) => {
      const bytes = encodePlain(h, payload);
      assert(bytes.length === HEADER_LENGTH[h.tier] + payload.length + TRAILER_LENGTH[h.tier]);
      const m = decodeMessage(bytes);
      assert(m.tier === h.tier && m.compressed === h.compressed && m.fragment === h.fragment);
      assert(!m.encrypted && m.flags === makeFlags(h.tier, h));
      assert(same(m.payload, payload), "payload");
      if (m.tier !== 0) {
        assert(m.opcode === h.opcode && m.sequence === h.sequence, "opcode/sequence");
      }
      if (m.tier === 2) assert(m.sessionId === h.sessionId, "session id");
    }),
    { numRuns: 400 },
  );
});

for (const b of BACKENDS) {
  Deno.test(`protected tiers 3-5 (${b.name}): seal, decode, verify, open round trip`, () => {
    fc.assert(
      fc.property(protectedArb, fc.boolean(), (r, framed) => {
        const out = seal(b, r, framed);
        const bytes = framed ? out.subarray(4) : out;
        if (framed) assert(new DataView(out.buffer).getUint32(0) === bytes.length, "frame length");
        const extra = r.encrypted && r.tier !== 5 ? TAG_LENGTH : 0;
        assert(bytes.length === minimumLength(r.tier) + r.payload.length + extra, "length");
        const m = decodeMessage(bytes);
        assert(isProtected(m) && m.tier === r.tier, "tier");
        assert(
          m.encrypted === r.encrypted && m.compressed === r.compressed && m.fragment === r.fragment,
        );
        assert(m.opcode === r.opcode && m.sessionId === r.sessionId && m.timestamp === r.timestamp);
        const cf = counterFields(r.counter);
        assert(m.sequence === cf.sequence && m.nonce === cf.nonce, "counter fields");
        assert(((m.nonce << 8) | m.sequence) === r.counter, "low 24 bits");
        if (m.tier >= 4) {
          const m4 = m as Message & { keyId: number; ecdh: Uint8Array };
          assert(m4.keyId === r.keyId && same(m4.ecdh, r.ecdh), "key id / ecdh");
        }
        assert(m.trailer.length === TRAILER_LENGTH[r.tier], "trailer length");
        assert(verifyTrailer(b, m, r.keys.mac), "trailer verifies");
        const wrongMac = r.keys.mac.map((x) => x ^ 1);
        assert(!verifyTrailer(b, m, wrongMac), "other MAC key fails");
        const pt = openPayload(b, m, r.keys, r.counter);
        assert(same(pt, r.payload), "plaintext");
        if (r.encrypted && r.payload.length >= 8) {
          assert(
            !same(m.payload.subarray(0, r.payload.length), r.payload),
            "payload is not in clear",
          );
        }
      }),
      { numRuns: 200 },
    );
  });
}

Deno.test("flags byte: every one of the 256 values is accepted or rejected per §1.3", () => {
  for (let byte = 0; byte < 256; byte++) {
    const version = byte >> 6;
    const tier = (byte >> 3) & 7;
    const e = byte & 1;
    let expected: string | undefined;
    if (version !== 0) expected = "version";
    else if (tier > 5) expected = "tier";
    else if (e && tier <= 2) expected = `tier${tier}-encrypted`;
    else if (!e && tier === 5) expected = "tier5-plain";
    const msg = new Uint8Array(200);
    msg[0] = byte;
    if (expected === undefined) {
      const f = parseFlags(byte);
      assert(f.tier === tier && f.encrypted === (e === 1), `flags 0x${byte.toString(16)}`);
      assert(f.compressed === ((byte & 4) !== 0) && f.fragment === ((byte & 2) !== 0));
      if (tier !== 2) assert(decodeMessage(msg).tier === tier); // Tier 2 zeros fail the CRC
    } else {
      expectMyClerk(() => parseFlags(byte), ErrorCode.BAD_REQUEST, expected);
      expectMyClerk(() => decodeMessage(msg), ErrorCode.BAD_REQUEST, expected);
    }
  }
  expectMyClerk(() => decodeMessage(new Uint8Array(0)), ErrorCode.BAD_REQUEST, "empty");
});

Deno.test("encoders refuse invalid flag combinations and out-of-range fields", () => {
  for (const tier of [0, 1, 2] as const) {
    expectMyClerk(
      () => encodePlain({ tier, encrypted: true } as never, new Uint8Array()),
      ErrorCode.BAD_REQUEST,
      `tier${tier}-encrypted`,
    );
  }
  const keys = { key: new Uint8Array(32), mac: new Uint8Array(32), iv: new Uint8Array(4) };
  for (const b of BACKENDS) {
    expectMyClerk(
      () => sealMessage(b, { tier: 5, timestamp: 1, encrypted: false }, 0, keys, new Uint8Array()),
      ErrorCode.BAD_REQUEST,
      "tier5-plain",
    );
    expectMyClerk(
      () =>
        sealMessage(
          b,
          { tier: 4, timestamp: 1, ecdh: new Uint8Array(31) },
          0,
          keys,
          new Uint8Array(),
        ),
      ErrorCode.BAD_REQUEST,
      "field-range:ecdh",
    );
    expectMyClerk(
      () => sealMessage(b, { tier: 3, timestamp: 2 ** 32 }, 0, keys, new Uint8Array()),
      ErrorCode.BAD_REQUEST,
      "field-range:timestamp",
    );
  }
  expectMyClerk(
    () => encodePlain({ tier: 1, opcode: 0x10000 }, new Uint8Array()),
    ErrorCode.BAD_REQUEST,
    "field-range:opcode",
  );
  expectMyClerk(
    () => encodePlain({ tier: 1, sequence: 256 }, new Uint8Array()),
    ErrorCode.BAD_REQUEST,
    "field-range:sequence",
  );
  expectMyClerk(
    () => encodePlain({ tier: 2, sessionId: -1 }, new Uint8Array()),
    ErrorCode.BAD_REQUEST,
    "field-range:sessionId",
  );
  expectMyClerk(
    () => encodePlain({ tier: 1, opcode: 1.5 }, new Uint8Array()),
    ErrorCode.BAD_REQUEST,
    "field-range:opcode",
  );
});

Deno.test("truncation below header + trailer gives `truncated` for every tier and length", () => {
  const keys = {
    key: new Uint8Array(32).fill(1),
    mac: new Uint8Array(32).fill(2),
    iv: new Uint8Array(4),
  };
  const b = BACKENDS[0];
  for (const tier of [0, 1, 2, 3, 4, 5] as Tier[]) {
    for (const E of tier >= 3 ? (tier === 5 ? [true] : [false, true]) : [false]) {
      const full = tier < 3
        ? encodePlain({ tier: tier as 0 | 1 | 2, opcode: 9 }, new Uint8Array(5))
        : sealMessage(
          b,
          { tier: tier as 3 | 4 | 5, timestamp: 5, encrypted: E },
          3,
          keys,
          new Uint8Array(5),
        );
      for (let n = 1; n < minimumLength(tier); n++) {
        const e = expectMyClerk(
          () => decodeMessage(full.subarray(0, n)),
          ErrorCode.BAD_REQUEST,
          "truncated",
        );
        assert(e.extra.minimum === minimumLength(tier) && e.extra.length === n, "truncated extras");
      }
      // Longer truncations still decode (the payload is shorter) but can no longer authenticate.
      for (let n = minimumLength(tier); n < full.length; n++) {
        const part = full.subarray(0, n);
        if (tier === 2) {
          expectMyClerk(() => decodeMessage(part), ErrorCode.BAD_REQUEST, "crc");
          continue;
        }
        const m = decodeMessage(part);
        if (isProtected(m)) {
          assert(!verifyTrailer(b, m, keys.mac), `tier ${tier} n=${n} still verifies`);
        }
      }
    }
  }
  // A Tier 3/4 E=1 message whose payload is shorter than the AEAD tag.
  const m = decodeMessage(
    sealMessage(b, { tier: 3, timestamp: 1, encrypted: false }, 0, keys, new Uint8Array(3)),
  );
  const forged = decodeMessage(
    Uint8Array.from([...m.bytes.subarray(0, 1)].map((x) => x | 1).concat([...m.bytes.subarray(1)])),
  );
  assert(isProtected(forged));
  expectMyClerk(() => openPayload(b, forged, keys, 0), ErrorCode.BAD_REQUEST, "truncated");
});

Deno.test("Tier 2: every single bit flip is caught (crc; in the flags byte: a flags error or another tier)", () => {
  fc.assert(
    fc.property(
      plainArb,
      payloadArb,
      fc.nat(),
      fc.integer({ min: 0, max: 7 }),
      (h, payload, at, bit) => {
        const msg = encodePlain({ ...h, tier: 2 }, payload);
        const i = at % msg.length;
        const bad = msg.slice();
        bad[i] ^= 1 << bit;
        if (i > 0) {
          expectMyClerk(() => decodeMessage(bad), ErrorCode.BAD_REQUEST, "crc");
          return;
        }
        // A flip in the flags byte either breaks the flag rules or names another tier,
        // which then parses a different layout: it can never pass as the same Tier 2 message.
        try {
          assert(decodeMessage(bad).tier !== 2, "flags flip still decodes as Tier 2");
        } catch (e) {
          assert(isMyClerkError(e) && e.code === ErrorCode.BAD_REQUEST, String(e));
        }
      },
    ),
    { numRuns: 500 },
  );
});

for (const b of BACKENDS) {
  Deno.test(`protected (${b.name}): any single bit flip fails the trailer or the AEAD`, () => {
    // Profile §2: with E=1 the trailer covers header and AEAD tag, the tag covers the
    // ciphertext; with E=0 the trailer covers everything. Either way a flip is caught.
    fc.assert(
      fc.property(protectedArb, fc.nat(), fc.integer({ min: 0, max: 7 }), (r, at, bit) => {
        const msg = seal(b, r);
        const bad = msg.slice();
        const i = at % bad.length;
        bad[i] ^= 1 << bit;
        let m: Message;
        try {
          m = decodeMessage(bad);
        } catch (e) {
          assert(isMyClerkError(e) && e.code === ErrorCode.BAD_REQUEST, String(e));
          return;
        }
        // A flags flip can name a lower, unprotected tier: that is a different
        // message, which a receiver on a protected session drops (drop_tier).
        if (!isProtected(m)) {
          assert(i === 0 && m.tier < r.tier, `unprotected only through a flags flip (byte ${i})`);
          return;
        }
        if (!verifyTrailer(b, m, r.keys.mac)) return;
        assert(m.encrypted, `E=0: flip at ${i} passes the trailer`);
        const hl = HEADER_LENGTH[m.tier];
        const ctEnd = m.tier === 5 ? m.macEnd : m.macEnd - TAG_LENGTH;
        assert(i >= hl && i < ctEnd, `flip at ${i} outside the ciphertext passes the trailer`);
        expectMyClerk(() => openPayload(b, m as never, r.keys, r.counter), ErrorCode.UNAUTHORIZED);
      }),
      { numRuns: 300 },
    );
  });

  Deno.test(`protected (${b.name}): with the trailer ignored, AEAD alone rejects any flip of header or payload`, () => {
    const enc = protectedArb.filter((r) => r.encrypted);
    fc.assert(
      fc.property(enc, fc.nat(), fc.integer({ min: 0, max: 7 }), (r, at, bit) => {
        const msg = seal(b, r);
        const covered = msg.length - TRAILER_LENGTH[r.tier];
        const i = at % covered;
        if (i === 0 && bit === 0) return; // clearing E turns it into a plain message: the HMAC's job
        const bad = msg.slice();
        bad[i] ^= 1 << bit;
        let m: Message;
        try {
          m = decodeMessage(bad);
        } catch (e) {
          assert(isMyClerkError(e) && e.code === ErrorCode.BAD_REQUEST, String(e));
          return;
        }
        if (!isProtected(m) || !m.encrypted || m.tier !== r.tier) return; // flags changed tier or E
        const counter = (m.nonce << 8) | m.sequence;
        const e = expectMyClerk(() => openPayload(b, m as never, r.keys, counter));
        assert(
          e.code === ErrorCode.UNAUTHORIZED ||
            (e.code === ErrorCode.BAD_REQUEST && e.detail === "truncated"),
          e.message,
        );
      }),
      { numRuns: 300 },
    );
  });
}
