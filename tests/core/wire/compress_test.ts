/**
 * zstd payload compression (profile §12): round trip, corrupt input, and a
 * decompression bomb refused quickly with TOO_LARGE.
 *
 * @module
 */

import fc from "fast-check";
import { ErrorCode, isMyClerkError } from "../../../core/errors.ts";
import { compress, decompress } from "../../../core/wire/compress.ts";
import { expectMyClerk, same } from "../session/_util.ts";

function assert(cond: unknown, msg = "assertion failed"): asserts cond {
  if (!cond) throw new Error(msg);
}

Deno.test("compress: round trip of random and repetitive payloads", () => {
  fc.assert(
    fc.property(
      fc.oneof(
        fc.uint8Array({ maxLength: 5000 }),
        fc.tuple(fc.integer({ min: 0, max: 255 }), fc.nat({ max: 100_000 })).map(([v, n]) =>
          new Uint8Array(n).fill(v)
        ),
      ),
      (data) => {
        const c = compress(data);
        assert(same(decompress(c), data), "round trip");
        // node:zlib refuses maxOutputLength 0, hence the max(1, ...)
        assert(same(decompress(c, Math.max(1, data.length)), data), "exact bound is enough");
      },
    ),
    { numRuns: 150 },
  );
});

Deno.test("compress: bomb (100 MB of zeros) with a 1 MiB limit is TOO_LARGE, quickly", () => {
  const bomb = compress(new Uint8Array(100 * 1024 * 1024));
  assert(bomb.length < 100_000, `bomb is ${bomb.length} bytes`);
  const t = performance.now();
  const e = expectMyClerk(
    () => decompress(bomb, 1 << 20),
    ErrorCode.TOO_LARGE,
    "decompressed-too-large",
  );
  const ms = performance.now() - t;
  assert(e.extra.max === 1 << 20, "max in extras");
  // Not a timing assertion on the happy path: only a guard that the bound, not the
  // full 100 MB, was produced (a full inflate is > 10x this on any machine).
  assert(ms < 2_000, `took ${ms} ms`);
  expectMyClerk(() => decompress(compress(new Uint8Array(1001)), 1000), ErrorCode.TOO_LARGE);
});

Deno.test("decompress: corrupt and random input gives MyClerkError only", () => {
  expectMyClerk(() => decompress(Uint8Array.of(1, 2, 3)), ErrorCode.BAD_REQUEST, "zstd");
  // No frame at all is not a compressed payload (profile §12: one frame with its content size).
  expectMyClerk(() => decompress(new Uint8Array(0)), ErrorCode.BAD_REQUEST, "zstd");
  const good = compress(new TextEncoder().encode("hello hello hello hello".repeat(20)));
  fc.assert(
    fc.property(
      fc.uint8Array({ maxLength: 200 }),
      fc.nat(),
      fc.integer({ min: 0, max: 7 }),
      (rnd, at, bit) => {
        for (
          const input of [
            rnd,
            (() => {
              const x = good.slice();
              x[at % x.length] ^= 1 << bit;
              return x;
            })(),
          ]
        ) {
          try {
            decompress(input, 1 << 16);
          } catch (e) {
            assert(isMyClerkError(e), String(e));
          }
        }
      },
    ),
    { numRuns: 500 },
  );
});

// KNOWN BUG (reported): Deno's node:zlib zstdDecompressSync returns the bytes decoded so
// far (often none) for a truncated frame instead of failing, so a cut compressed payload is
// delivered as an empty or shorter payload. Profile §12 expects corrupt input to be refused.
Deno.test("decompress: a truncated zstd frame is BAD_REQUEST zstd, not a shorter payload", () => {
  const data = new TextEncoder().encode("hello hello hello hello".repeat(20));
  const good = compress(data);
  for (const n of [1, 5, good.length >> 1, good.length - 3, good.length - 1]) {
    expectMyClerk(() => decompress(good.subarray(0, n)), ErrorCode.BAD_REQUEST, "zstd");
  }
});
