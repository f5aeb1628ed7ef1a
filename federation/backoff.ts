/**
 * Jittered exponential backoff with reset (docs/FEDERATION.md §7), for hub
 * reconnects and peer-relay retries. "Full jitter": the delay is uniform in
 * `[min(cap, base * 2^n) / 2, min(cap, base * 2^n)]`, so many hubs that lost
 * the same relay do not reconnect in lockstep, yet the first retry comes
 * quickly (hubs reconnect within a second when the relay is back).
 *
 * @module
 */

/** Backoff parameters. */
export interface BackoffConfig {
  /** First delay ceiling, ms (default 250). */
  readonly baseMs: number;
  /** Largest delay, ms (default 30,000). */
  readonly capMs: number;
}

/** Defaults: 250 ms first ceiling, 30 s cap. */
export const DEFAULT_BACKOFF: BackoffConfig = { baseMs: 250, capMs: 30_000 };

/** One backoff sequence; `reset()` when the peer is seen up. */
export class Backoff {
  readonly #cfg: BackoffConfig;
  readonly #random: () => number;
  #attempt = 0;

  /** `random` in [0, 1) is injectable for tests. */
  constructor(cfg: BackoffConfig = DEFAULT_BACKOFF, random: () => number = Math.random) {
    if (!(cfg.baseMs > 0) || !(cfg.capMs >= cfg.baseMs)) throw new RangeError("0 < base <= cap");
    this.#cfg = cfg;
    this.#random = random;
  }

  /** The delay before the next attempt, ms; advances the sequence. */
  next(): number {
    const ceil = Math.min(this.#cfg.capMs, this.#cfg.baseMs * 2 ** Math.min(this.#attempt, 30));
    this.#attempt++;
    return Math.round(ceil / 2 + this.#random() * (ceil / 2));
  }

  /** Attempts made since the last reset. */
  get attempts(): number {
    return this.#attempt;
  }

  /** Back to the first, short delay (call when the connection is up). */
  reset(): void {
    this.#attempt = 0;
  }
}
