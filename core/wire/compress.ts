/**
 * Payload compression (profile §12): zstd through `node:zlib`, with the
 * decompressed size bounded so a small bomb cannot exhaust memory.
 *
 * @module
 */

import { zstdCompressSync, zstdDecompressSync } from "node:zlib";
import { ErrorCode, MyClerkError } from "../errors.ts";

/** Default bound on a decompressed / reassembled payload (profile §12). */
export const DEFAULT_MAX_PAYLOAD = 16 * 1024 * 1024;

/** zstd-compresses a payload into one frame that declares its content size. */
export function compress(data: Uint8Array): Uint8Array {
  // `pledgedSrcSize` (Node's zstd option, honoured by Deno) makes the frame
  // header carry Frame_Content_Size; Deno's typings do not list it yet.
  const opts = { pledgedSrcSize: data.length, params: {} };
  const b = zstdCompressSync(data, opts);
  return new Uint8Array(b.buffer, b.byteOffset, b.length);
}

/**
 * The `Frame_Content_Size` a zstd frame header declares (RFC 8878 §3.1.1.1),
 * or undefined when the frame does not declare it or is not a zstd frame.
 */
export function zstdContentSize(data: Uint8Array): number | undefined {
  if (
    data.length < 6 || data[0] !== 0x28 || data[1] !== 0xb5 || data[2] !== 0x2f || data[3] !== 0xfd
  ) {
    return undefined;
  }
  const fhd = data[4];
  const fcsFlag = fhd >>> 6;
  const single = (fhd & 0x20) !== 0;
  const dictFlag = fhd & 0x03;
  const fcsLen = [single ? 1 : 0, 2, 4, 8][fcsFlag];
  if (fcsLen === 0) return undefined;
  const off = 5 + (single ? 0 : 1) + [0, 1, 2, 4][dictFlag];
  if (data.length < off + fcsLen) return undefined;
  let v = 0;
  for (let i = fcsLen - 1; i >= 0; i--) v = v * 256 + data[off + i];
  return fcsLen === 2 ? v + 256 : v;
}

/**
 * Decompresses a zstd payload: one frame that declares its content size
 * (profile §12). Refuses a declared or actual size over `max` (TOO_LARGE),
 * and corrupt, truncated or size-less input (BAD_REQUEST `zstd`): Deno's
 * zlib returns a short result for a truncated frame instead of failing, so
 * the declared size is what proves the payload complete.
 */
export function decompress(data: Uint8Array, max = DEFAULT_MAX_PAYLOAD): Uint8Array {
  const declared = zstdContentSize(data);
  if (declared === undefined) {
    throw new MyClerkError(ErrorCode.BAD_REQUEST, "zstd", { why: "no frame content size" });
  }
  if (declared > max) {
    throw new MyClerkError(ErrorCode.TOO_LARGE, "decompressed-too-large", { max, declared });
  }
  if (declared === 0) return new Uint8Array(0);
  try {
    const b = zstdDecompressSync(data, { maxOutputLength: Math.max(1, max) });
    if (b.length !== declared) {
      throw new MyClerkError(ErrorCode.BAD_REQUEST, "zstd", {
        why: "truncated",
        declared,
        got: b.length,
      });
    }
    return new Uint8Array(b.buffer, b.byteOffset, b.length);
  } catch (e) {
    if (e instanceof MyClerkError) throw e;
    const code = (e as { code?: string }).code;
    if (code === "ERR_BUFFER_TOO_LARGE" || code === "ERR_OUT_OF_RANGE") {
      throw new MyClerkError(ErrorCode.TOO_LARGE, "decompressed-too-large", { max }, e);
    }
    throw new MyClerkError(ErrorCode.BAD_REQUEST, "zstd", {}, e);
  }
}
