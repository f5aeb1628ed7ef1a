/**
 * Length-prefixed framing for byte streams (profile §3): `u32 length ||
 * message`. Length 0 is a keepalive filler. A length over the limit is
 * fatal: the stream cannot be resynchronised.
 *
 * @module
 */

import { badRequest, type MyClerkError } from "../errors.ts";
import { SHARED_SLAB } from "../slab.ts";

/** Default maximum message size on streams (profile §3). */
export const DEFAULT_MAX_MESSAGE = 1_048_576;

/** Smallest maximum a node may configure (profile §3). */
export const MIN_MAX_MESSAGE = 65_536;

/**
 * Prefixes one message with its u32 length.
 *
 * @example encodeFrame(new Uint8Array([8, 0, 1, 0])) // 00000004 08000100
 */
export function encodeFrame(message: Uint8Array): Uint8Array {
  const out = new Uint8Array(4 + message.length);
  new DataView(out.buffer).setUint32(0, message.length);
  out.set(message, 4);
  return out;
}

const EMPTY = new Uint8Array(0);

/**
 * Incremental frame reader. Feed it chunks as they arrive; it yields whole
 * messages. Memory is bounded by one maximum-size message: the length is
 * checked before any body byte is buffered.
 *
 * @example
 * const r = new FrameReader(); for (const m of r.push(chunk)) handle(m);
 */
export class FrameReader {
  // The assembly buffer exists only while a frame straddles reads: an idle
  // connection (most of a relay's) holds none (EMPTY is never written to).
  #buf: Uint8Array = EMPTY;
  #len = 0;
  readonly #max: number;
  #failed?: MyClerkError;
  readonly #slab = SHARED_SLAB;

  /** `max` is the largest accepted message length. */
  constructor(max = DEFAULT_MAX_MESSAGE) {
    this.#max = max;
  }

  /** True when a bad length is pending: the next `push` throws it. */
  get failed(): boolean {
    return this.#failed !== undefined;
  }

  /** Bytes buffered but not yet returned as a message. */
  get pending(): number {
    return this.#len;
  }

  /**
   * Appends a chunk and returns the complete messages it finishes (views
   * valid until the next `push`... each message is copied out only when it
   * straddles chunks). Throws BAD_REQUEST `frame-too-large` on a length over
   * the limit; the caller closes the connection.
   */
  push(chunk: Uint8Array): Uint8Array[] {
    if (this.#failed) throw this.#failed;
    const out: Uint8Array[] = [];
    let data: Uint8Array;
    if (this.#len === 0) {
      data = chunk;
    } else {
      const need = this.#len + chunk.length;
      if (this.#buf.length < need) {
        const nb = new Uint8Array(Math.max(need, this.#buf.length * 2));
        nb.set(this.#buf.subarray(0, this.#len));
        this.#buf = nb;
      }
      this.#buf.set(chunk, this.#len);
      this.#len = need;
      data = this.#buf.subarray(0, need);
    }
    let off = 0;
    while (data.length - off >= 4) {
      const len =
        ((data[off] << 24) | (data[off + 1] << 16) | (data[off + 2] << 8) | data[off + 3]) >>> 0;
      if (len > this.#max) {
        const err = badRequest("frame-too-large", { length: len, max: this.#max });
        // Hand out the complete messages before the bad length first; the
        // error is raised by the next push (call `push(new Uint8Array())`).
        if (out.length === 0) throw err;
        this.#failed = err;
        this.#len = 0;
        return out;
      }
      if (data.length - off - 4 < len) break;
      if (len > 0) {
        // Copied out (the caller reuses its read buffer), into a slab region.
        const m = this.#slab.take(len);
        // a view by constructor: `subarray` costs ~2.5x as much per call
        m.set(new Uint8Array(data.buffer, data.byteOffset + off + 4, len));
        out.push(m);
      }
      off += 4 + len;
    }
    const rest = data.length - off;
    if (rest === 0) {
      this.#len = 0;
      this.#buf = EMPTY;
    } else if (data === chunk) {
      if (this.#buf.length < rest) this.#buf = new Uint8Array(Math.max(rest, 4096));
      this.#buf.set(chunk.subarray(off), 0);
      this.#len = rest;
    } else {
      this.#buf.copyWithin(0, off, off + rest);
      this.#len = rest;
    }
    return out;
  }
}
