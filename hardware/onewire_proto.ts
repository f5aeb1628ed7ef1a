/**
 * The owserver network protocol (owfs 3.x, `module/owlib/src/include/ow_message.h`),
 * pure encode/decode. A request is a 24-byte header of six big-endian int32
 * (version, payload length, message type, control flags, size, offset) then
 * the payload: a NUL-terminated path, for WRITE followed by the data. A
 * response header is the same six words with `ret` (0 or a byte count, or
 * -errno) in place of the type; a payload length of -1 is a keep-alive
 * ("ping") that carries nothing and is skipped.
 *
 * @module
 */

/** Message types (word 3 of a request). */
export const OwMsg = {
  ERROR: 0,
  NOP: 1,
  READ: 2,
  WRITE: 3,
  DIR: 4,
  SIZE: 5,
  PRESENCE: 6,
  DIRALL: 7,
  GET: 8,
  DIRALLSLASH: 9,
  GETSLASH: 10,
} as const;

/** Control flags used here: owserver lists `bus.N` entries, the client is an ownet-style client. */
export const OW_FLAGS = {
  BUS_RET: 0x2,
  PERSISTENCE: 0x4,
  OWNET: 0x100,
} as const;

/** The fixed header length, both directions. */
export const OW_HEADER = 24;

/** One request to owserver. */
export interface OwRequest {
  /** Message type ({@link OwMsg}). */
  readonly type: number;
  /** owfs path, e.g. `/28.67C6697351FF/temperature`. */
  readonly path: string;
  /** WRITE data. */
  readonly data?: Uint8Array;
  /** Largest answer expected (READ) or the data length (WRITE). */
  readonly size: number;
  /** Byte offset for READ/WRITE. */
  readonly offset?: number;
  /** Control flags (default BUS_RET | OWNET). */
  readonly flags?: number;
}

/** A decoded response header. */
export interface OwHeader {
  /** Protocol version word. */
  readonly version: number;
  /** Payload length; -1 means keep-alive. */
  readonly payload: number;
  /** 0 / byte count on success, -errno on failure. */
  readonly ret: number;
  /** Control flags echoed by the server. */
  readonly flags: number;
  /** Size of the data element. */
  readonly size: number;
  /** Offset of the data element. */
  readonly offset: number;
}

/** Encodes a request (header + payload). */
export function encodeOwRequest(r: OwRequest): Uint8Array {
  const path = new TextEncoder().encode(r.path);
  const data = r.data ?? new Uint8Array(0);
  const payload = path.length + 1 + data.length;
  const out = new Uint8Array(OW_HEADER + payload);
  const v = new DataView(out.buffer);
  v.setInt32(0, 0);
  v.setInt32(4, payload);
  v.setInt32(8, r.type);
  v.setInt32(12, r.flags ?? (OW_FLAGS.BUS_RET | OW_FLAGS.OWNET));
  v.setInt32(16, r.size);
  v.setInt32(20, r.offset ?? 0);
  out.set(path, OW_HEADER);
  out[OW_HEADER + path.length] = 0;
  out.set(data, OW_HEADER + path.length + 1);
  return out;
}

/** Decodes a 24-byte response header. */
export function decodeOwHeader(b: Uint8Array): OwHeader {
  if (b.length < OW_HEADER) throw new RangeError("owserver header: short");
  const v = new DataView(b.buffer, b.byteOffset, OW_HEADER);
  return {
    version: v.getInt32(0),
    payload: v.getInt32(4),
    ret: v.getInt32(8),
    flags: v.getInt32(12),
    size: v.getInt32(16),
    offset: v.getInt32(20),
  };
}

/** Splits a DIRALL answer (comma-separated paths, maybe NUL-terminated). */
export function parseDirAll(payload: Uint8Array): string[] {
  const s = new TextDecoder().decode(payload).replace(/\0+$/, "");
  return s === "" ? [] : s.split(",");
}
