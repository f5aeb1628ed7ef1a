/**
 * Bounds what a plugin can make the host hold of its output: its stderr
 * (process mode) and its `log` messages (every mode) go through one
 * {@link OutputLimiter} per instance, which cuts lines at
 * {@link OutputBounds.maxLineBytes} and drops whatever exceeds a byte rate
 * (token bucket). The host's memory for one plugin's output is then at most
 * one partial line plus the log ring, however much the plugin writes.
 *
 * Pure apart from the clock value passed in.
 *
 * @module
 */

/** Limits of one instance's output. */
export interface OutputBounds {
  /** Longest line kept, in bytes; the rest of a longer line is dropped. */
  readonly maxLineBytes: number;
  /** Sustained bytes per second accepted. */
  readonly bytesPerSecond: number;
  /** Bucket size: bytes accepted in a burst. */
  readonly burstBytes: number;
}

/** Default bounds: 4 KiB lines, 256 KiB/s, bursts of 512 KiB. */
export const DEFAULT_OUTPUT_BOUNDS: OutputBounds = {
  maxLineBytes: 4096,
  bytesPerSecond: 256 * 1024,
  burstBytes: 512 * 1024,
};

/** What a limiter reports: a line to keep, or a count of what it cut. */
export interface OutputSink {
  /** A complete (possibly cut) line, without its newline. */
  line(text: string): void;
  /** `truncated`: one line was cut (n = bytes cut); `dropped`: n bytes over the rate were dropped. */
  limited(kind: "truncated" | "dropped", n: number): void;
}

/** Splits a byte stream into bounded lines under a byte-rate budget. */
export class OutputLimiter {
  private readonly partial: Uint8Array;
  private fill = 0;
  /** Bytes of the current line beyond `maxLineBytes` (dropped). */
  private over = 0;
  private tokens: number;
  private last: number | undefined;
  private readonly dec = new TextDecoder();
  /** Dropped bytes not yet noted in the log. */
  private unnoted = 0;
  private notedAt = -Infinity;

  /** A limiter reporting to `sink`. */
  constructor(private readonly sink: OutputSink, private readonly b = DEFAULT_OUTPUT_BOUNDS) {
    this.partial = new Uint8Array(b.maxLineBytes);
    this.tokens = b.burstBytes;
  }

  /** Takes `n` bytes from the bucket (all or nothing when `whole`); returns how many were granted. */
  private take(n: number, now: number, whole = false): number {
    if (this.last !== undefined) {
      this.tokens = Math.min(
        this.b.burstBytes,
        this.tokens + ((now - this.last) / 1000) * this.b.bytesPerSecond,
      );
    }
    this.last = now;
    let got = Math.max(0, Math.min(n, Math.floor(this.tokens)));
    if (whole && got < n) got = 0;
    this.tokens -= got;
    if (got < n) this.dropped(n - got, now);
    return got;
  }

  /** Counts dropped bytes and leaves at most one note per second in the log. */
  private dropped(n: number, now: number): void {
    this.sink.limited("dropped", n);
    this.unnoted += n;
    if (now - this.notedAt >= 1000) {
      this.notedAt = now;
      this.sink.line(
        `[host: output over ${this.b.bytesPerSecond} B/s, ${this.unnoted} bytes dropped]`,
      );
      this.unnoted = 0;
    }
  }

  /** Emits the buffered line (noting what was cut) and starts a new one. */
  private flush(): void {
    const text = this.dec.decode(this.partial.subarray(0, this.fill));
    if (this.over > 0) {
      this.sink.limited("truncated", this.over);
      this.sink.line(`${text} [host: line cut, ${this.over} more bytes dropped]`);
    } else if (text !== "") this.sink.line(text);
    this.fill = 0;
    this.over = 0;
  }

  /** Feeds raw output bytes (stderr) received at `now` (ms). */
  push(chunk: Uint8Array, now: number): void {
    const n = this.take(chunk.length, now);
    const data = n === chunk.length ? chunk : chunk.subarray(0, n);
    let start = 0;
    while (start <= data.length) {
      const nl = data.indexOf(10, start);
      const end = nl < 0 ? data.length : nl;
      const room = this.partial.length - this.fill;
      const len = end - start;
      if (len <= room) {
        this.partial.set(data.subarray(start, end), this.fill);
        this.fill += len;
      } else {
        this.partial.set(data.subarray(start, start + room), this.fill);
        this.fill += room;
        this.over += len - room;
      }
      if (nl < 0) break;
      this.flush();
      start = nl + 1;
    }
  }

  /** Feeds one already-split line (a `log` message) received at `now` (ms). */
  line(text: string, now: number): void {
    // Charged by UTF-16 length: close enough to bytes for a budget, and O(1).
    if (this.take(text.length + 1, now, true) === 0) return;
    this.sink.line(text);
  }

  /** End of stream: a pending partial line is emitted. */
  end(): void {
    if (this.fill > 0 || this.over > 0) this.flush();
  }
}
