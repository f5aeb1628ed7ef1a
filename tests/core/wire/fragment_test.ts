/**
 * Fragmentation (profile §12): split/reassemble in any order, duplicates
 * ignored, inconsistent counts dropped, and the count, byte and time limits
 * (with an injected clock).
 *
 * @module
 */

import fc from "fast-check";
import { ErrorCode, isMyClerkError } from "../../../core/errors.ts";
import {
  FRAGMENT_HEADER,
  type FragmentDrop,
  parseFragment,
  Reassembler,
  splitFragments,
} from "../../../core/wire/fragment.ts";
import { expectMyClerk, same } from "../session/_util.ts";

function assert(cond: unknown, msg = "assertion failed"): asserts cond {
  if (!cond) throw new Error(msg);
}

/** Getter reads through calls, so TypeScript does not narrow them between `add`s. */
const pc = (r: Reassembler): number => r.partialCount;
const bb = (r: Reassembler): number => r.bufferedBytes;

const limits = { maxPartial: 16, maxBytes: 1 << 20, timeoutMs: 30_000 };

Deno.test("fragments: split then reassemble in a random order with duplicates gives the payload", () => {
  fc.assert(
    fc.property(
      fc.uint8Array({ maxLength: 3000 }),
      fc.integer({ min: 1, max: 400 }),
      fc.integer({ min: 0, max: 0xffff }),
      fc.array(fc.nat(), { maxLength: 20 }),
      fc.integer({ min: 0, max: 1 << 30 }),
      (payload, chunk, id, dups, seed) => {
        fc.pre(Math.ceil(payload.length / chunk) <= 255);
        const frags = splitFragments(payload, id, chunk);
        assert(frags.length === Math.max(1, Math.ceil(payload.length / chunk)), "count");
        for (const [i, f] of frags.entries()) {
          const p = parseFragment(f);
          assert(p.id === id && p.index === i && p.count === frags.length, "prefix");
          assert(p.data.length <= chunk && f.length === p.data.length + FRAGMENT_HEADER, "size");
        }
        // deterministic shuffle from seed, then duplicates inserted before the end
        const order = frags.map((_, i) => i);
        let s = seed;
        for (let i = order.length - 1; i > 0; i--) {
          s = (s * 1103515245 + 12345) & 0x7fffffff;
          const j = s % (i + 1);
          [order[i], order[j]] = [order[j], order[i]];
        }
        const last = order.pop()!;
        const seq = [
          ...order,
          ...dups.filter(() => order.length > 0).map((d) => order[d % order.length]),
          last,
        ];
        const r = new Reassembler(limits, () => 0);
        const drops: FragmentDrop[] = [];
        r.onDrop = (d) => drops.push(d);
        let whole: Uint8Array | undefined;
        for (const [k, i] of seq.entries()) {
          const out = r.add(frags[i]);
          if (k < seq.length - 1) assert(out === undefined, "early completion");
          else whole = out;
        }
        assert(whole !== undefined && same(whole, payload), "reassembled");
        assert(drops.length === 0 && pc(r) === 0 && bb(r) === 0, "clean");
      },
    ),
    { numRuns: 300 },
  );
});

Deno.test("fragments: interleaved messages reassemble independently", () => {
  const a = new Uint8Array(1000).map((_, i) => i);
  const b = new Uint8Array(777).map((_, i) => 255 - (i & 0xff));
  const fa = splitFragments(a, 1, 100);
  const fb = splitFragments(b, 2, 100);
  const r = new Reassembler(limits, () => 0);
  const got: Uint8Array[] = [];
  for (let i = 0; i < Math.max(fa.length, fb.length); i++) {
    for (const f of [fa[i], fb[i]]) {
      if (!f) continue;
      const out = r.add(f);
      if (out) got.push(out);
    }
  }
  assert(got.length === 2 && same(got[0], b) && same(got[1], a), "both complete");
});

Deno.test("fragments: malformed prefixes and too many fragments", () => {
  expectMyClerk(() => parseFragment(Uint8Array.of(0, 1, 0)), ErrorCode.BAD_REQUEST, "fragment");
  expectMyClerk(() => parseFragment(Uint8Array.of(0, 1, 0, 0)), ErrorCode.BAD_REQUEST, "fragment");
  expectMyClerk(() => parseFragment(Uint8Array.of(0, 1, 3, 3)), ErrorCode.BAD_REQUEST, "fragment");
  expectMyClerk(
    () => splitFragments(new Uint8Array(256), 1, 1),
    ErrorCode.TOO_LARGE,
    "too-many-fragments",
  );
  expectMyClerk(
    () => splitFragments(new Uint8Array(3), 1, 0),
    ErrorCode.BAD_REQUEST,
    "fragment-chunk",
  );
  assert(splitFragments(new Uint8Array(255), 1, 1).length === 255, "255 fragments allowed");
  const r = new Reassembler(limits, () => 0);
  expectMyClerk(() => r.add(Uint8Array.of(0, 1, 9, 2)), ErrorCode.BAD_REQUEST, "fragment");
});

Deno.test("fragments: inconsistent count drops the partial message", () => {
  const r = new Reassembler(limits, () => 0);
  const drops: FragmentDrop[] = [];
  r.onDrop = (d) => drops.push(d);
  assert(r.add(Uint8Array.of(0, 5, 0, 3, 1)) === undefined);
  assert(r.add(Uint8Array.of(0, 5, 1, 4, 2)) === undefined);
  assert(drops.join() === "inconsistent" && pc(r) === 0 && bb(r) === 0, drops.join());
});

Deno.test("fragments: at most maxPartial incomplete messages", () => {
  const r = new Reassembler({ ...limits, maxPartial: 4 }, () => 0);
  const drops: FragmentDrop[] = [];
  r.onDrop = (d) => drops.push(d);
  for (let id = 0; id < 10; id++) r.add(Uint8Array.of(0, id, 0, 2, id));
  assert(
    pc(r) === 4 && drops.length === 6 && drops.every((d) => d === "limit-partial"),
    drops.join(),
  );
  // an existing partial can still complete
  const done = r.add(Uint8Array.of(0, 2, 1, 2, 99));
  assert(done !== undefined && same(done, Uint8Array.of(2, 99)) && pc(r) === 3, "completes");
});

Deno.test("fragments: the byte limit drops the message that would exceed it", () => {
  const r = new Reassembler({ ...limits, maxBytes: 1000 }, () => 0);
  const drops: FragmentDrop[] = [];
  r.onDrop = (d) => drops.push(d);
  const part = (id: number, i: number, n: number) => {
    const f = new Uint8Array(4 + n);
    f.set([0, id, i, 3]);
    return f;
  };
  r.add(part(1, 0, 600));
  r.add(part(2, 0, 300));
  assert(bb(r) === 900, `${bb(r)}`);
  r.add(part(2, 1, 200)); // 1100 > 1000: message 2 dropped
  assert(drops.join() === "limit-bytes" && bb(r) === 600 && pc(r) === 1, drops.join());
  assert(r.add(part(1, 1, 300)) === undefined && bb(r) === 900, "message 1 continues");
});

Deno.test("fragments: a partial message expires after the timeout (injected clock)", () => {
  let now = 1_000;
  const r = new Reassembler({ ...limits, timeoutMs: 30_000 }, () => now);
  const drops: FragmentDrop[] = [];
  r.onDrop = (d) => drops.push(d);
  r.add(Uint8Array.of(0, 1, 0, 2, 7));
  now += 30_000;
  r.expire();
  assert(pc(r) === 1 && drops.length === 0, "exactly at the timeout: kept");
  now += 1;
  // the late second half starts a new partial after the old one is dropped
  assert(r.add(Uint8Array.of(0, 1, 1, 2, 8)) === undefined, "late fragment does not complete");
  assert(drops.join() === "timeout" && pc(r) === 1, drops.join());
});

Deno.test("Reassembler.add never throws anything but MyClerkError on random input", () => {
  fc.assert(
    fc.property(fc.array(fc.uint8Array({ maxLength: 12 }), { maxLength: 40 }), (fs) => {
      const r = new Reassembler({ maxPartial: 4, maxBytes: 64, timeoutMs: 10 }, () => 0);
      for (const f of fs) {
        try {
          r.add(f);
        } catch (e) {
          assert(isMyClerkError(e) && e.detail === "fragment", String(e));
        }
        assert(bb(r) >= 0 && bb(r) <= 64 && pc(r) <= 4, "limits hold");
      }
    }),
    { numRuns: 500 },
  );
});
