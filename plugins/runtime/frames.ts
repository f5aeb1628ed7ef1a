/**
 * Length-prefixed MessagePack frames (u32 big-endian length, then the
 * encoded value), used on a process plugin's stdin/stdout.
 *
 * @module
 */
import { Decoder, encode } from "@msgpack/msgpack";
import { ErrorCode, MyClerkError } from "../../core/errors.ts";

/** Largest frame accepted (a plugin must not make the host buffer without bound). */
export const MAX_FRAME = 32 * 1024 * 1024;

/**
 * Decoders whose length limits fit the body: MessagePack's decoder allocates
 * an array of the declared length before reading its elements, so a 31-byte
 * body declaring a 30-million-element array would cost 240 MB and most of a
 * second (found by the fuzz suite: tests/fuzz/crashes/plugin_frame-array32-prealloc.hex).
 * An array, map, string or binary can never hold more elements or bytes
 * than the body has bytes, so the limits are the body length rounded up to a
 * power of two (one shared decoder per power, at least 4 KiB).
 */
const decoders = new Map<number, Decoder>();

function decoderFor(bodyLength: number): Decoder {
  const bits = Math.max(12, Math.ceil(Math.log2(Math.max(1, bodyLength))));
  let d = decoders.get(bits);
  if (d === undefined) {
    const n = 2 ** bits;
    d = new Decoder({
      maxStrLength: n,
      maxBinLength: n,
      maxArrayLength: n,
      maxMapLength: n,
      maxExtLength: n,
    });
    decoders.set(bits, d);
  }
  return d;
}

/**
 * Decodes one frame body: exactly one MessagePack value, with every length
 * bounded by the body's size. Throws BAD_REQUEST `plugin-frame-msgpack`.
 */
export function decodeBody(body: Uint8Array): unknown {
  try {
    return decoderFor(body.length).decode(body);
  } catch (e) {
    throw new MyClerkError(ErrorCode.BAD_REQUEST, "plugin-frame-msgpack", {}, e);
  }
}

/** Encodes one value as a frame. */
export function encodeFrame(value: unknown): Uint8Array {
  const body = encode(value, { ignoreUndefined: true });
  const out = new Uint8Array(4 + body.length);
  new DataView(out.buffer).setUint32(0, body.length);
  out.set(body, 4);
  return out;
}

/**
 * Incremental decoder: push chunks, get whole decoded values back. Holds at
 * most one frame (`MAX_FRAME`) plus one chunk, and copies each byte at most
 * once (a large frame arriving in small chunks is not re-concatenated per
 * chunk). Throws only {@link MyClerkError}: TOO_LARGE for a frame over
 * `MAX_FRAME`, BAD_REQUEST `plugin-frame-msgpack` for a body that is not
 * exactly one MessagePack value; the stream cannot be resynchronised after
 * either.
 */
export class FrameDecoder {
  private chunks: Uint8Array[] = [];
  private size = 0;
  /** Body length of the frame being read; -1 while its header is incomplete. */
  private need = -1;

  /** Appends `chunk` and returns every complete value. */
  push(chunk: Uint8Array): unknown[] {
    if (chunk.length > 0) {
      this.chunks.push(chunk);
      this.size += chunk.length;
    }
    const out: unknown[] = [];
    for (;;) {
      if (this.need < 0) {
        if (this.size < 4) break;
        const h = this.take(4);
        const len = new DataView(h.buffer, h.byteOffset, 4).getUint32(0);
        if (len > MAX_FRAME) throw new MyClerkError(ErrorCode.TOO_LARGE, "plugin-frame-too-large");
        this.need = len;
      }
      if (this.size < this.need) break;
      const body = this.take(this.need);
      this.need = -1;
      out.push(decodeBody(body));
    }
    return out;
  }

  /** Bytes buffered and not yet returned as values. */
  get buffered(): number {
    return this.size;
  }

  /** Removes and returns the next `n` bytes (n <= size). */
  private take(n: number): Uint8Array {
    const first = this.chunks[0];
    if (n === 0) return new Uint8Array(0);
    if (first.length >= n) {
      if (first.length === n) this.chunks.shift();
      else this.chunks[0] = first.subarray(n);
      this.size -= n;
      return first.subarray(0, n);
    }
    const out = new Uint8Array(n);
    let off = 0;
    while (off < n) {
      const c = this.chunks[0];
      const k = Math.min(c.length, n - off);
      out.set(c.subarray(0, k), off);
      off += k;
      if (k === c.length) this.chunks.shift();
      else this.chunks[0] = c.subarray(k);
    }
    this.size -= n;
    return out;
  }
}
