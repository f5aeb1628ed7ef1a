/**
 * MessagePack payloads (profile §11): round trip, empty = `{}`, bounded
 * decoding, and "decoders throw only MyClerkError" on random bytes.
 *
 * @module
 */

import fc from "fast-check";
import { ErrorCode, isMyClerkError } from "../../../core/errors.ts";
import {
  decodeMap,
  decodePayload,
  encodePayload,
  optBin,
  optText,
  optUintArray,
  reqBin,
  reqUint,
} from "../../../core/wire/payload.ts";
import { expectMyClerk } from "../session/_util.ts";

function assert(cond: unknown, msg = "assertion failed"): asserts cond {
  if (!cond) throw new Error(msg);
}

/** Values MessagePack carries without extension types. */
const valueArb = fc.letrec((tie) => ({
  v: fc.oneof(
    { depthSize: "small" },
    fc.integer(),
    fc.nat(),
    fc.double({ noNaN: true }),
    fc.string(),
    fc.boolean(),
    fc.constant(null),
    fc.uint8Array({ maxLength: 40 }),
    fc.array(tie("v"), { maxLength: 5 }),
    fc.dictionary(fc.string({ maxLength: 8 }), tie("v"), { maxKeys: 5 }),
  ),
})).v;

Deno.test("payload: encode/decode round trip of any MessagePack value", () => {
  fc.assert(
    fc.property(valueArb, (v) => {
      const back = decodePayload(encodePayload(v));
      // compare through a second encoding: shortest forms make it canonical enough
      const a = encodePayload(back);
      const b = encodePayload(v);
      assert(a.length === b.length && a.every((x, i) => x === b[i]), JSON.stringify(v));
    }),
    { numRuns: 300 },
  );
});

Deno.test("payload: zero bytes are {}, non-maps and trailing bytes are refused", () => {
  const empty = decodeMap(new Uint8Array(0));
  assert(Object.keys(empty).length === 0, "empty map");
  expectMyClerk(() => decodeMap(encodePayload([1, 2])), ErrorCode.BAD_REQUEST, "payload-not-map");
  expectMyClerk(
    () => decodeMap(encodePayload(new Uint8Array(3))),
    ErrorCode.BAD_REQUEST,
    "payload-not-map",
  );
  expectMyClerk(() => decodeMap(encodePayload(null)), ErrorCode.BAD_REQUEST, "payload-not-map");
  expectMyClerk(() => decodeMap(encodePayload(7)), ErrorCode.BAD_REQUEST, "payload-not-map");
  const extra = Uint8Array.of(...encodePayload({ a: 1 }), 0x00);
  expectMyClerk(() => decodePayload(extra), ErrorCode.BAD_REQUEST, "msgpack");
  expectMyClerk(() => decodePayload(Uint8Array.of(0xc1)), ErrorCode.BAD_REQUEST, "msgpack");
  // a str32 claiming 4 GiB: refused by the length bound, not allocated
  expectMyClerk(
    () => decodePayload(Uint8Array.of(0xdb, 0xff, 0xff, 0xff, 0xff)),
    ErrorCode.BAD_REQUEST,
    "msgpack",
  );
  expectMyClerk(
    () => decodePayload(Uint8Array.of(0xdf, 0xff, 0xff, 0xff, 0xff)),
    ErrorCode.BAD_REQUEST,
    "msgpack",
  );
  // deep nesting: 100k fixarray(1) headers
  const deep = new Uint8Array(100_001).fill(0x91);
  deep[100_000] = 0x00;
  try {
    decodePayload(deep);
  } catch (e) {
    assert(isMyClerkError(e), String(e));
  }
});

Deno.test("payload: field readers name the field and enforce type and bounds", () => {
  const m = decodeMap(
    encodePayload({
      u: 5,
      big: 2 ** 40,
      neg: -1,
      f: 1.5,
      s: "x",
      b: new Uint8Array(4),
      a: [1, 2, 70000],
    }),
  );
  assert(reqUint(m, "u", 5) === 5);
  expectMyClerk(() => reqUint(m, "u", 4), ErrorCode.BAD_REQUEST, "field:u");
  expectMyClerk(() => reqUint(m, "big"), ErrorCode.BAD_REQUEST, "field:big");
  expectMyClerk(() => reqUint(m, "neg"), ErrorCode.BAD_REQUEST, "field:neg");
  expectMyClerk(() => reqUint(m, "f"), ErrorCode.BAD_REQUEST, "field:f");
  expectMyClerk(() => reqUint(m, "s"), ErrorCode.BAD_REQUEST, "field:s");
  expectMyClerk(() => reqUint(m, "missing"), ErrorCode.BAD_REQUEST, "field:missing");
  assert(reqBin(m, "b", 4).length === 4 && optBin(m, "nope") === undefined);
  expectMyClerk(() => reqBin(m, "b", 5), ErrorCode.BAD_REQUEST, "field:b");
  expectMyClerk(() => reqBin(m, "s"), ErrorCode.BAD_REQUEST, "field:s");
  expectMyClerk(() => optText(m, "u"), ErrorCode.BAD_REQUEST, "field:u");
  expectMyClerk(() => optUintArray(m, "a"), ErrorCode.BAD_REQUEST, "field:a");
});

Deno.test("decodePayload / decodeMap throw only MyClerkError on random bytes", () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 200 }), (b) => {
      for (const f of [decodePayload, decodeMap]) {
        try {
          f(b);
        } catch (e) {
          assert(isMyClerkError(e) && e.code === ErrorCode.BAD_REQUEST, String(e));
        }
      }
    }),
    { numRuns: 3000 },
  );
});
