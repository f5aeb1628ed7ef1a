/**
 * A fixed-size ring of chart samples (the status page's last hour). Pure.
 *
 * @module
 */

/** One sample of the status charts. */
export interface Sample {
  /** Epoch milliseconds. */
  readonly t: number;
  /** Messages per second since the previous sample. */
  readonly rate: number;
  /** Messages waiting (relay queues + hub outbox) at sample time. */
  readonly depth: number;
  /** Drops counted since the previous sample. */
  readonly drops: number;
}

/** Chart series, oldest first, in columns (compact JSON). */
export interface Series {
  /** Sample times, epoch milliseconds. */
  readonly t: readonly number[];
  /** Messages per second. */
  readonly rate: readonly number[];
  /** Messages waiting. */
  readonly depth: readonly number[];
  /** Drops per sample interval. */
  readonly drops: readonly number[];
}

/**
 * Keeps the last `capacity` samples.
 *
 * @example const r = new Ring(720); r.push(s); r.series();
 */
export class Ring {
  readonly #buf: Sample[] = [];
  #head = 0;
  /** Maximum number of samples kept. */
  readonly capacity: number;

  /** A ring of `capacity` (≥ 1) samples. */
  constructor(capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError("capacity must be ≥ 1");
    this.capacity = capacity;
  }

  /** Adds a sample, evicting the oldest when full. */
  push(s: Sample): void {
    if (this.#buf.length < this.capacity) this.#buf.push(s);
    else {
      this.#buf[this.#head] = s;
      this.#head = (this.#head + 1) % this.capacity;
    }
  }

  /** Number of samples held. */
  get size(): number {
    return this.#buf.length;
  }

  /** Samples oldest first. */
  samples(): Sample[] {
    return [...this.#buf.slice(this.#head), ...this.#buf.slice(0, this.#head)];
  }

  /** Samples as columns, oldest first. */
  series(): Series {
    const s = this.samples();
    return {
      t: s.map((x) => x.t),
      rate: s.map((x) => x.rate),
      depth: s.map((x) => x.depth),
      drops: s.map((x) => x.drops),
    };
  }
}

/**
 * Turns successive counter readings into samples: rate from the message
 * counter's delta, drops from the drop counter's delta (a counter that went
 * backwards, e.g. after a restart of its source, counts from zero).
 */
export class Sampler {
  #last?: { t: number; messages: number; drops: number };

  /** The sample for readings taken at `t`. */
  next(t: number, messages: number, drops: number, depth: number): Sample {
    const prev = this.#last;
    this.#last = { t, messages, drops };
    if (!prev) return { t, rate: 0, depth, drops: 0 };
    const dt = Math.max(1, t - prev.t) / 1000;
    const dm = messages >= prev.messages ? messages - prev.messages : messages;
    const dd = drops >= prev.drops ? drops - prev.drops : drops;
    return { t, rate: Math.round((dm / dt) * 100) / 100, depth, drops: dd };
  }
}
