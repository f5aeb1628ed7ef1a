/**
 * TCP framing (profile §3): any chunking of a frame stream yields the same
 * messages as one push, keepalive fillers vanish, and an over-limit length
 * is refused before its body is buffered.
 *
 * @module
 */

import fc from "fast-check";
import { ErrorCode, isMyClerkError } from "../../../core/errors.ts";
import { encodeFrame, FrameReader, MIN_MAX_MESSAGE } from "../../../core/wire/frame.ts";
import { expectMyClerk, same } from "../session/_util.ts";

function assert(cond: unknown, msg = "assertion failed"): asserts cond {
  if (!cond) throw new Error(msg);
}

/** Concatenates frames (a 0 entry is a keepalive filler). */
function stream(msgs: readonly Uint8Array[]): Uint8Array {
  const frames = msgs.map(encodeFrame);
  const out = new Uint8Array(frames.reduce((n, f) => n + f.length, 0));
  let o = 0;
  for (const f of frames) {
    out.set(f, o);
    o += f.length;
  }
  return out;
}

/** Splits `s` at the given cut points (sorted, deduplicated, in range). */
function chunks(s: Uint8Array, cuts: readonly number[]): Uint8Array[] {
  const pts = [...new Set(cuts.map((c) => c % (s.length + 1)))].sort((a, b) => a - b);
  const out: Uint8Array[] = [];
  let prev = 0;
  for (const p of [...pts, s.length]) {
    out.push(s.slice(prev, p)); // empty chunks included on purpose
    prev = p;
  }
  return out;
}

const msgsArb = fc.array(fc.uint8Array({ minLength: 0, maxLength: 600 }), { maxLength: 20 });

Deno.test("FrameReader: random chunking yields exactly the messages of one push, fillers dropped", () => {
  fc.assert(
    fc.property(msgsArb, fc.array(fc.nat(), { maxLength: 40 }), (msgs, cuts) => {
      const s = stream(msgs);
      const want = msgs.filter((m) => m.length > 0);
      const one = new FrameReader().push(s);
      assert(one.length === want.length && one.every((m, i) => same(m, want[i])), "one push");
      const r = new FrameReader();
      const got: Uint8Array[] = [];
      for (const c of chunks(s, cuts)) {
        // copy each batch: views may be reused by later pushes
        for (const m of r.push(c)) got.push(m.slice());
      }
      assert(got.length === want.length && got.every((m, i) => same(m, want[i])), "chunked");
      assert(r.pending === 0, "nothing left");
    }),
    { numRuns: 400 },
  );
});

Deno.test("FrameReader: byte-by-byte delivery and mutating the chunk afterwards", () => {
  const msgs = [
    Uint8Array.of(1, 2, 3),
    new Uint8Array(0),
    new Uint8Array(70_000).fill(7),
    Uint8Array.of(9),
  ];
  const s = stream(msgs);
  const r = new FrameReader();
  const got: Uint8Array[] = [];
  for (let i = 0; i < s.length; i++) {
    const c = s.slice(i, i + 1);
    got.push(...r.push(c));
    c[0] ^= 0xff; // the reader must have copied what it keeps
  }
  assert(
    got.length === 3 && same(got[0], msgs[0]) && same(got[1], msgs[2]) && same(got[2], msgs[3]),
  );
  // a chunk reused by the caller after push: returned messages stay intact
  const buf = stream([Uint8Array.of(5, 5)]);
  const out = new FrameReader().push(buf);
  buf.fill(0);
  assert(same(out[0], Uint8Array.of(5, 5)), "returned message is a copy");
});

/** Reads `pending` through a call so TypeScript does not narrow the getter between pushes. */
const pending = (r: FrameReader): number => r.pending;

Deno.test("FrameReader: zero-length frames only are fillers, partial length waits", () => {
  const r = new FrameReader();
  assert(r.push(new Uint8Array(4 * 50)).length === 0 && pending(r) === 0, "50 fillers");
  assert(r.push(Uint8Array.of(0, 0)).length === 0 && pending(r) === 2, "half a length");
  assert(r.push(Uint8Array.of(0, 1)).length === 0 && pending(r) === 4, "length complete, no body");
  const m = r.push(Uint8Array.of(42, 0, 0, 0, 0, 0, 0, 0));
  assert(
    m.length === 1 && m[0][0] === 42 && pending(r) === 3,
    "body, a filler, then 3 bytes of a length",
  );
});

Deno.test("FrameReader: over-limit length is fatal before any body byte is buffered", () => {
  const max = MIN_MAX_MESSAGE;
  for (const len of [max + 1, 0x7fffffff, 0xffffffff]) {
    const r = new FrameReader(max);
    const head = new Uint8Array(4);
    new DataView(head.buffer).setUint32(0, len);
    const e = expectMyClerk(() => r.push(head), ErrorCode.BAD_REQUEST, "frame-too-large");
    assert(e.extra.length === len && e.extra.max === max, "extras");
    // split length: the check fires as soon as the 4th byte arrives
    const r2 = new FrameReader(max);
    r2.push(head.subarray(0, 3));
    assert(pending(r2) === 3, "3 bytes pending");
    expectMyClerk(() => r2.push(head.subarray(3)), ErrorCode.BAD_REQUEST, "frame-too-large");
    assert(pending(r2) <= 4, `buffered ${r2.pending} bytes`);
  }
  // exactly max is fine; a later frame over the limit still throws after valid ones
  const r = new FrameReader(max);
  const ok = r.push(encodeFrame(new Uint8Array(max)));
  assert(ok.length === 1 && ok[0].length === max, "max accepted");
  const bad = new Uint8Array(8);
  new DataView(bad.buffer).setUint32(4, max + 1);
  try {
    r.push(bad);
    throw new Error("no error");
  } catch (e) {
    assert(isMyClerkError(e) && e.detail === "frame-too-large", String(e));
  }
});

Deno.test("FrameReader: memory stays bounded while a max-size body trickles in", () => {
  const max = MIN_MAX_MESSAGE;
  const r = new FrameReader(max);
  const s = encodeFrame(new Uint8Array(max).fill(3));
  let peak = 0;
  for (let i = 0; i < s.length; i += 1000) {
    const out = r.push(s.subarray(i, i + 1000));
    peak = Math.max(peak, r.pending);
    if (out.length) assert(out[0].length === max && r.pending === 0, "one message");
  }
  assert(peak <= max + 4, `pending peaked at ${peak}`);
});

Deno.test("FrameReader.push never throws anything but MyClerkError on random bytes", () => {
  fc.assert(
    fc.property(fc.array(fc.uint8Array({ maxLength: 64 }), { maxLength: 10 }), (cs) => {
      const r = new FrameReader(MIN_MAX_MESSAGE);
      for (const c of cs) {
        try {
          r.push(c);
        } catch (e) {
          assert(isMyClerkError(e) && e.detail === "frame-too-large", String(e));
          return;
        }
      }
    }),
    { numRuns: 500 },
  );
});
