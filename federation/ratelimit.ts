/**
 * Per-family token buckets (docs/FEDERATION.md §7). `take` never drops: it
 * returns how long the caller must wait before the cost is covered, so the
 * connection layer can pause reading from that hub (TCP backpressure)
 * instead of discarding its messages. Pure: time is passed in.
 *
 * @module
 */

/** Bucket parameters. */
export interface BucketConfig {
  /** Tokens added per second (sustained rate, e.g. messages/s). */
  readonly rate: number;
  /** Bucket size (largest burst). */
  readonly burst: number;
}

/** Default for trusted families: 200 messages/s sustained, bursts of 1000. */
export const DEFAULT_FAMILY_RATE: BucketConfig = { rate: 200, burst: 1000 };

interface Bucket {
  tokens: number;
  last: number;
}

/** Token buckets keyed by family id (or any string). */
export class RateLimiter {
  readonly #cfg: BucketConfig;
  readonly #buckets = new Map<string, Bucket>();
  readonly #max: number;

  /** `maxKeys` bounds memory: the fullest (idle) buckets are forgotten first. */
  constructor(cfg: BucketConfig = DEFAULT_FAMILY_RATE, maxKeys = 100_000) {
    if (!(cfg.rate > 0) || !(cfg.burst >= 1)) throw new RangeError("rate > 0 and burst >= 1");
    this.#cfg = cfg;
    this.#max = maxKeys;
  }

  #refill(key: string, nowMs: number): Bucket {
    let b = this.#buckets.get(key);
    if (b === undefined) {
      if (this.#buckets.size >= this.#max) this.#evict(nowMs);
      b = { tokens: this.#cfg.burst, last: nowMs };
      this.#buckets.set(key, b);
    }
    const dt = Math.max(0, nowMs - b.last) / 1000;
    b.tokens = Math.min(this.#cfg.burst, b.tokens + dt * this.#cfg.rate);
    b.last = nowMs;
    return b;
  }

  #evict(nowMs: number): void {
    // A bucket that refilled to full carries no state: forgetting it changes nothing.
    for (const [k, b] of this.#buckets) {
      if (b.tokens + ((nowMs - b.last) / 1000) * this.#cfg.rate >= this.#cfg.burst) {
        this.#buckets.delete(k);
      }
    }
    if (this.#buckets.size >= this.#max) {
      const first = this.#buckets.keys().next();
      if (!first.done) this.#buckets.delete(first.value);
    }
  }

  /**
   * Takes `cost` tokens for `key` at time `nowMs` (may go negative: the debt
   * is the wait). Returns the milliseconds to wait before the next read; 0
   * when within the rate.
   */
  take(key: string, nowMs: number, cost = 1): number {
    const b = this.#refill(key, nowMs);
    b.tokens -= cost;
    return b.tokens >= 0 ? 0 : Math.ceil((-b.tokens / this.#cfg.rate) * 1000);
  }

  /** Milliseconds until `cost` tokens are available for `key`, without taking them. */
  peek(key: string, nowMs: number, cost = 1): number {
    const b = this.#refill(key, nowMs);
    const short = cost - b.tokens;
    return short <= 0 ? 0 : Math.ceil((short / this.#cfg.rate) * 1000);
  }

  /** Number of tracked keys. */
  get size(): number {
    return this.#buckets.size;
  }
}
