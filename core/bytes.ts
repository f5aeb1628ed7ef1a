/**
 * Byte helpers used across the node: hex, concatenation. One copy for the
 * core, the federation layer and the CLI.
 *
 * @module
 */

import { badRequest } from "./errors.ts";

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, "0"));

/**
 * Lower-case hex of `b` (table lookup: the relay hexes mids per message).
 *
 * @example toHex(Uint8Array.of(1, 255)) // "01ff"
 */
export function toHex(b: Uint8Array): string {
  let s = "";
  for (let i = 0; i < b.length; i++) s += HEX[b[i]];
  return s;
}

/**
 * Bytes of a hex string (whitespace and a leading `0x` ignored); throws
 * BAD_REQUEST `hex` when malformed.
 */
export function fromHex(s: string): Uint8Array {
  const t = s.replace(/\s+/g, "").replace(/^0x/i, "");
  if (t.length % 2 !== 0 || /[^0-9a-f]/i.test(t)) throw badRequest("hex");
  const out = new Uint8Array(t.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(t.slice(2 * i, 2 * i + 2), 16);
  return out;
}

/** Concatenation of byte arrays into a new array. */
export function concat(...parts: readonly Uint8Array[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}
