/**
 * Deterministic input generation for the fuzz suite: a small seeded PRNG
 * and byte-level mutators (bit flips, byte edits, insert/delete,
 * truncation, length-field edits, splicing).
 *
 * @module
 */

/** A seeded sfc32 PRNG (fast, reproducible, good statistics, not cryptographic). */
export class Rng {
  #a: number;
  #b: number;
  #c: number;
  #d: number;

  /** Same seed, same sequence. */
  constructor(seed: number) {
    this.#a = 0x9e3779b9;
    this.#b = 0x243f6a88;
    this.#c = 0xb7e15162;
    this.#d = seed >>> 0;
    for (let i = 0; i < 15; i++) this.u32();
  }

  /** Next unsigned 32-bit value. */
  u32(): number {
    const t = (((this.#a + this.#b) | 0) + this.#d) | 0;
    this.#d = (this.#d + 1) | 0;
    this.#a = this.#b ^ (this.#b >>> 9);
    this.#b = (this.#c + (this.#c << 3)) | 0;
    this.#c = (this.#c << 21) | (this.#c >>> 11);
    this.#c = (this.#c + t) | 0;
    return t >>> 0;
  }

  /** Integer in `[0, n)` (n >= 1). */
  int(n: number): number {
    return n <= 1 ? 0 : this.u32() % n;
  }

  /** True with probability `p`. */
  chance(p: number): boolean {
    return this.u32() / 0x100000000 < p;
  }

  /** A random element. */
  pick<T>(xs: readonly T[]): T {
    return xs[this.int(xs.length)];
  }

  /** `n` random bytes. */
  bytes(n: number): Uint8Array {
    const out = new Uint8Array(n);
    for (let i = 0; i < n; i++) out[i] = this.u32() & 0xff;
    return out;
  }
}

/** Byte values that often hit edge cases. */
const INTERESTING_8 = [
  0x00,
  0x01,
  0x7f,
  0x80,
  0xff,
  0xfe,
  0x20,
  0x40,
  0xc0,
  0x08,
  0x10,
  0x18,
  0x21,
  0x29,
];
/** 32-bit values for length fields. */
const INTERESTING_32 = [
  0,
  1,
  3,
  4,
  0xff,
  0x100,
  0xffff,
  0x10000,
  0x100000,
  0x100001,
  0x7fffffff,
  0xffffffff,
];

function cat(...xs: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(xs.reduce((n, x) => n + x.length, 0));
  let o = 0;
  for (const x of xs) {
    out.set(x, o);
    o += x.length;
  }
  return out;
}

/** Names of the mutators (for reports). */
export type Mutation =
  | "bitflip"
  | "byte"
  | "interesting"
  | "insert"
  | "delete"
  | "truncate"
  | "extend"
  | "length"
  | "splice"
  | "duplicate";

/** Applies one mutation of kind `m` to `x` (never modifies `x`). */
export function mutateOnce(rng: Rng, x: Uint8Array, m: Mutation, other: Uint8Array): Uint8Array {
  const n = x.length;
  switch (m) {
    case "bitflip": {
      if (n === 0) return Uint8Array.of(1 << rng.int(8));
      const y = x.slice();
      y[rng.int(n)] ^= 1 << rng.int(8);
      return y;
    }
    case "byte": {
      if (n === 0) return rng.bytes(1);
      const y = x.slice();
      y[rng.int(n)] = rng.u32() & 0xff;
      return y;
    }
    case "interesting": {
      if (n === 0) return Uint8Array.of(rng.pick(INTERESTING_8));
      const y = x.slice();
      // bias toward the header: the first 64 bytes hold every fixed field
      y[rng.chance(0.6) ? rng.int(Math.min(n, 64)) : rng.int(n)] = rng.pick(INTERESTING_8);
      return y;
    }
    case "insert": {
      const at = rng.int(n + 1);
      return cat(
        x.subarray(0, at),
        rng.bytes(1 + rng.int(rng.chance(0.8) ? 4 : 64)),
        x.subarray(at),
      );
    }
    case "delete": {
      if (n === 0) return x;
      const at = rng.int(n);
      const len = 1 + rng.int(Math.min(n - at, rng.chance(0.8) ? 4 : 64));
      return cat(x.subarray(0, at), x.subarray(at + len));
    }
    case "truncate":
      return x.slice(0, rng.int(n + 1));
    case "extend":
      return cat(x, rng.chance(0.5) ? new Uint8Array(1 + rng.int(64)) : rng.bytes(1 + rng.int(64)));
    case "length": {
      // overwrite a u32/u16/u8 big-endian field (frame lengths, msgpack lengths, header fields)
      const y = x.length >= 4 ? x.slice() : cat(x, new Uint8Array(4 - x.length));
      const at = rng.chance(0.5) ? 0 : rng.int(y.length - 3);
      const v = rng.chance(0.7) ? rng.pick(INTERESTING_32) : rng.u32();
      const w = rng.pick([4, 2, 1]);
      for (let i = 0; i < w; i++) y[at + i] = (v >>> (8 * (w - 1 - i))) & 0xff;
      return y;
    }
    case "splice": {
      const a = rng.int(n + 1);
      const b = rng.int(other.length + 1);
      return cat(x.subarray(0, a), other.subarray(b));
    }
    case "duplicate": {
      if (n === 0) return x;
      const at = rng.int(n);
      const len = 1 + rng.int(Math.min(n - at, 32));
      return cat(x.subarray(0, at + len), x.subarray(at, at + len), x.subarray(at + len));
    }
  }
}

const ALL: readonly Mutation[] = [
  "bitflip",
  "bitflip",
  "byte",
  "interesting",
  "insert",
  "delete",
  "truncate",
  "extend",
  "length",
  "splice",
  "duplicate",
];

/**
 * One fuzz input: random bytes (about 15%), an unmodified seed (5%), or a
 * seed with 1-4 stacked mutations.
 */
export function nextInput(
  rng: Rng,
  seeds: readonly Uint8Array[],
): { input: Uint8Array; how: string } {
  const r = rng.u32() % 100;
  if (seeds.length === 0 || r < 15) {
    return { input: rng.bytes(rng.int(rng.chance(0.9) ? 128 : 2048)), how: "random" };
  }
  let x = rng.pick(seeds);
  if (r < 20) return { input: x, how: "seed" };
  const k = 1 + rng.int(4);
  const hows: string[] = [];
  for (let i = 0; i < k; i++) {
    const m = rng.pick(ALL);
    x = mutateOnce(rng, x, m, rng.pick(seeds));
    hows.push(m);
  }
  return { input: x, how: hows.join("+") };
}
