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

/** zstd-compresses a payload. */
export function compress(data: Uint8Array): Uint8Array {
  const b = zstdCompressSync(data);
  return new Uint8Array(b.buffer, b.byteOffset, b.length);
}

/**
 * Decompresses a zstd payload, refusing output over `max` bytes (TOO_LARGE)
 * and corrupt input (BAD_REQUEST `zstd`).
 */
export function decompress(data: Uint8Array, max = DEFAULT_MAX_PAYLOAD): Uint8Array {
  try {
    const b = zstdDecompressSync(data, { maxOutputLength: max });
    return new Uint8Array(b.buffer, b.byteOffset, b.length);
  } catch (e) {
    const code = (e as { code?: string }).code;
    if (code === "ERR_BUFFER_TOO_LARGE" || code === "ERR_OUT_OF_RANGE") {
      throw new MyClerkError(ErrorCode.TOO_LARGE, "decompressed-too-large", { max }, e);
    }
    throw new MyClerkError(ErrorCode.BAD_REQUEST, "zstd", {}, e);
  }
}
