/**
 * Counter rebuild and the sliding replay window (profile §4).
 *
 * @module
 */

const TWO24 = 0x1000000;
const TWO32 = 0x100000000;

/**
 * Rebuilds a 32-bit message counter from its low 24 bits (`nonce << 8 |
 * sequence`) given the highest counter accepted so far (`-1` before the
 * first): the candidate nearest to `highest + 1` (profile §4).
 *
 * @example rebuildCounter(0x00ffffff, 0x000000) // 0x01000000
 */
export function rebuildCounter(highest: number, low24: number): number {
  const base = highest < 0 ? 0 : Math.floor(highest / TWO24) * TWO24;
  const target = highest + 1;
  let best = -1;
  let bestDist = Infinity;
  for (let k = -1; k <= 1; k++) {
    const c = base + low24 + k * TWO24;
    if (c < 0 || c >= TWO32) continue;
    const d = Math.abs(c - target);
    if (d < bestDist) {
      best = c;
      bestDist = d;
    }
  }
  return best;
}

/**
 * Sliding window over message counters: accepts any counter above the
 * highest, and unseen counters within `size` below it; rejects the rest.
 * `check` does not change state; `accept` is called only after the message
 * authenticated, so forged counters cannot move the window.
 *
 * @example const w = new ReplayWindow(); if (w.check(c)) { open(); w.accept(c); }
 */
export class ReplayWindow {
  readonly #size: number;
  readonly #bits: Uint32Array;
  #highest = -1;

  /** `size` is a power of two, 32..65536 (default 1024). */
  constructor(size = 1024) {
    if (size < 32 || size > 65536 || (size & (size - 1)) !== 0) {
      throw new RangeError("replay window size must be a power of two in 32..65536");
    }
    this.#size = size;
    this.#bits = new Uint32Array(size / 32);
  }

  /** Highest accepted counter, -1 before the first. */
  get highest(): number {
    return this.#highest;
  }

  /** Window size. */
  get size(): number {
    return this.#size;
  }

  #bit(c: number): boolean {
    const i = c % this.#size;
    return (this.#bits[i >>> 5] & (1 << (i & 31))) !== 0;
  }

  /** True when `c` would be accepted. */
  check(c: number): boolean {
    if (c > this.#highest) return true;
    if (c <= this.#highest - this.#size) return false;
    return !this.#bit(c);
  }

  /** Records `c` as seen (call only after authentication succeeded). */
  accept(c: number): void {
    if (c > this.#highest) {
      const gap = c - this.#highest;
      if (gap >= this.#size) {
        this.#bits.fill(0);
      } else {
        for (let x = this.#highest + 1; x <= c; x++) {
          const i = x % this.#size;
          this.#bits[i >>> 5] &= ~(1 << (i & 31));
        }
      }
      this.#highest = c;
    }
    const i = c % this.#size;
    this.#bits[i >>> 5] |= 1 << (i & 31);
  }
}
