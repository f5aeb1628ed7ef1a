/**
 * Length-prefixed MessagePack frames (u32 big-endian length, then the
 * encoded value), used on a process plugin's stdin/stdout.
 *
 * @module
 */
import { decode, encode } from "@msgpack/msgpack";
import { ErrorCode, MyClerkError } from "../../core/errors.ts";

/** Largest frame accepted (a plugin must not make the host buffer without bound). */
export const MAX_FRAME = 32 * 1024 * 1024;

/** Encodes one value as a frame. */
export function encodeFrame(value: unknown): Uint8Array {
  const body = encode(value, { ignoreUndefined: true });
  const out = new Uint8Array(4 + body.length);
  new DataView(out.buffer).setUint32(0, body.length);
  out.set(body, 4);
  return out;
}

/** Incremental decoder: push chunks, get whole decoded values back. */
export class FrameDecoder {
  private buf: Uint8Array = new Uint8Array(0);

  /** Appends `chunk` and returns every complete value. Throws TOO_LARGE on an oversized frame. */
  push(chunk: Uint8Array): unknown[] {
    if (this.buf.length === 0) this.buf = chunk;
    else {
      const b = new Uint8Array(this.buf.length + chunk.length);
      b.set(this.buf);
      b.set(chunk, this.buf.length);
      this.buf = b;
    }
    const out: unknown[] = [];
    let off = 0;
    while (this.buf.length - off >= 4) {
      const dv = new DataView(this.buf.buffer, this.buf.byteOffset + off, 4);
      const len = dv.getUint32(0);
      if (len > MAX_FRAME) throw new MyClerkError(ErrorCode.TOO_LARGE, "plugin-frame-too-large");
      if (this.buf.length - off - 4 < len) break;
      out.push(decode(this.buf.subarray(off + 4, off + 4 + len)));
      off += 4 + len;
    }
    this.buf = off === this.buf.length ? new Uint8Array(0) : this.buf.slice(off);
    return out;
  }
}
