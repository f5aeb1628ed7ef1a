/**
 * JSON form of values with bytes for the federation vectors: a Uint8Array is
 * written as `{"$bin": "<hex>"}`.
 *
 * @module
 */

import { fromHex, toHex } from "../../federation/bytes.ts";

/** Replaces every Uint8Array by `{"$bin": hex}` (deeply). */
export function toJsonValue(v: unknown): unknown {
  if (v instanceof Uint8Array) return { $bin: toHex(v) };
  if (Array.isArray(v)) return v.map(toJsonValue);
  if (typeof v === "object" && v !== null) {
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, toJsonValue(x)]));
  }
  return v;
}

/** Inverse of {@link toJsonValue}. */
export function fromJsonValue(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(fromJsonValue);
  if (typeof v === "object" && v !== null) {
    const o = v as Record<string, unknown>;
    if (typeof o.$bin === "string" && Object.keys(o).length === 1) return fromHex(o.$bin);
    return Object.fromEntries(Object.entries(o).map(([k, x]) => [k, fromJsonValue(x)]));
  }
  return v;
}

/** Reads a vectors file of docs/vectors/. */
export async function readVectors(name: string): Promise<Record<string, unknown>> {
  const url = new URL(`../../docs/vectors/${name}`, import.meta.url);
  return fromJsonValue(JSON.parse(await Deno.readTextFile(url))) as Record<string, unknown>;
}
