/**
 * Counter rebuild and replay window (profile §4), checked against the
 * profile's formula and a Set-based reference model.
 *
 * @module
 */

import fc from "fast-check";
import { rebuildCounter, ReplayWindow } from "../../../core/session/replay.ts";

function assert(cond: unknown, msg = "assertion failed"): asserts cond {
  if (!cond) throw new Error(msg);
}

const TWO23 = 2 ** 23;
const TWO32 = 2 ** 32;

Deno.test("rebuildCounter: rebuild(h, c & 0xFFFFFF) === c whenever |c - (h+1)| < 2^23", () => {
  const hc = fc.tuple(
    fc.integer({ min: -1, max: TWO32 - 2 }),
    fc.integer({ min: -(TWO23 - 1), max: TWO23 - 1 }),
  )
    .map(([h, d]) => [h, h + 1 + d] as const)
    .filter(([, c]) => c >= 0 && c < TWO32);
  // also bias toward the 2^24 boundaries where the candidate choice matters
  const edge = fc.tuple(
    fc.integer({ min: 0, max: 255 }),
    fc.integer({ min: -3000, max: 3000 }),
    fc.integer({ min: -3000, max: 3000 }),
  )
    .map(([k, dh, dc]) => [k * 2 ** 24 + dh - 1, k * 2 ** 24 + dh + dc] as const)
    .filter(([h, c]) => h >= -1 && h < TWO32 - 1 && c >= 0 && c < TWO32);
  fc.assert(
    fc.property(fc.oneof(hc, edge), ([h, c]) => {
      const got = rebuildCounter(h, c % 2 ** 24);
      assert(got === c, `h=${h} c=${c} got ${got}`);
    }),
    { numRuns: 20_000 },
  );
});

Deno.test("rebuildCounter: examples from the profile and the ends of the range", () => {
  assert(rebuildCounter(-1, 0) === 0);
  assert(rebuildCounter(-1, 5) === 5);
  assert(rebuildCounter(0x00ffffff, 0) === 0x01000000);
  assert(rebuildCounter(0x01000002, 0xfffffe) === 0x00fffffe, "reordered across the boundary");
  assert(rebuildCounter(TWO32 - 2, 0xffffff) === TWO32 - 1, "last counter");
  assert(rebuildCounter(TWO32 - 2, 0) < TWO32, "never beyond 2^32");
});

/** Reference model of the profile's window rule. */
class Model {
  readonly seen = new Set<number>();
  h = -1;
  constructor(readonly w: number) {}
  check(c: number): boolean {
    return c > this.h || (c > this.h - this.w && !this.seen.has(c));
  }
  accept(c: number): void {
    this.seen.add(c);
    if (c > this.h) this.h = c;
  }
}

Deno.test("ReplayWindow agrees with a Set-based model on random counter streams", () => {
  const step = fc.oneof(
    {
      weight: 5,
      arbitrary: fc.integer({ min: -40, max: 5 }).map((d) => ({ kind: "rel" as const, d })),
    },
    {
      weight: 1,
      arbitrary: fc.integer({ min: 1, max: 3000 }).map((d) => ({ kind: "jump" as const, d })),
    },
    {
      weight: 1,
      arbitrary: fc.integer({ min: -2100, max: -1 }).map((d) => ({ kind: "old" as const, d })),
    },
  );
  fc.assert(
    fc.property(
      fc.constantFrom(32, 64, 1024),
      fc.array(fc.tuple(step, fc.boolean()), { minLength: 50, maxLength: 300 }),
      (w, steps) => {
        const win = new ReplayWindow(w);
        const model = new Model(w);
        for (const [s, authentic] of steps) {
          const c = Math.max(0, model.h + s.d);
          const want = model.check(c);
          assert(
            win.check(c) === want,
            `w=${w} h=${model.h} c=${c}: window ${!want}, model ${want}`,
          );
          // forged messages (authentic=false) are checked but never accepted: the window must not move
          if (want && authentic) {
            win.accept(c);
            model.accept(c);
          }
          assert(win.highest === model.h, "highest");
          assert(!win.check(c) || !(want && authentic), "accepted counter is now a duplicate");
        }
      },
    ),
    { numRuns: 400 },
  );
});

Deno.test("ReplayWindow: reordering within the window accepted once, older rejected", () => {
  const w = new ReplayWindow(64);
  for (const c of [10, 5, 7, 9, 6, 8]) {
    assert(w.check(c), `${c} first time`);
    w.accept(c);
    assert(!w.check(c), `${c} duplicate`);
  }
  w.accept(100);
  assert(!w.check(36), "100 - 64 is outside");
  assert(w.check(37), "100 - 63 inside and unseen");
  assert(!w.check(10) && !w.check(0), "old");
  w.accept(100_000);
  assert(!w.check(100) && w.check(99_990), "a big jump clears the window");
});

Deno.test("ReplayWindow: size must be a power of two in 32..65536", () => {
  for (const bad of [0, 16, 31, 100, 131072]) {
    let threw = false;
    try {
      new ReplayWindow(bad);
    } catch (e) {
      threw = e instanceof RangeError;
    }
    assert(threw, `${bad}`);
  }
  assert(new ReplayWindow(65536).size === 65536);
});
