/**
 * Fragmentation and reassembly (profile §12). Each fragment's (decrypted)
 * payload starts with `fragment id (u16) || index (u8) || count (u8)`.
 * Reassembly is bounded in count, bytes and time.
 *
 * @module
 */

import { badRequest, ErrorCode, MyClerkError } from "../errors.ts";
import { DEFAULT_MAX_PAYLOAD } from "./compress.ts";

/** Size of the fragment prefix. */
export const FRAGMENT_HEADER = 4;

/** Limits of one {@link Reassembler} (profile §12 defaults). */
export interface ReassemblyLimits {
  /** Incomplete messages held at once (16). */
  readonly maxPartial: number;
  /** Sum of buffered bytes (16 MiB). */
  readonly maxBytes: number;
  /** Milliseconds from the first fragment (30 s). */
  readonly timeoutMs: number;
}

/** Profile defaults for {@link ReassemblyLimits}. */
export const DEFAULT_REASSEMBLY: ReassemblyLimits = {
  maxPartial: 16,
  maxBytes: DEFAULT_MAX_PAYLOAD,
  timeoutMs: 30_000,
};

/**
 * Splits `payload` into fragment payloads of at most `chunk` data bytes
 * each (plus the 4-byte prefix). At most 255 fragments (TOO_LARGE beyond).
 *
 * @example splitFragments(big, 7, 60_000).length
 */
export function splitFragments(
  payload: Uint8Array,
  fragmentId: number,
  chunk: number,
): Uint8Array[] {
  if (chunk < 1) throw badRequest("fragment-chunk");
  const count = Math.max(1, Math.ceil(payload.length / chunk));
  if (count > 255) throw new MyClerkError(ErrorCode.TOO_LARGE, "too-many-fragments", { count });
  const out: Uint8Array[] = [];
  for (let i = 0; i < count; i++) {
    const part = payload.subarray(i * chunk, Math.min(payload.length, (i + 1) * chunk));
    const f = new Uint8Array(FRAGMENT_HEADER + part.length);
    f[0] = (fragmentId >>> 8) & 0xff;
    f[1] = fragmentId & 0xff;
    f[2] = i;
    f[3] = count;
    f.set(part, FRAGMENT_HEADER);
    out.push(f);
  }
  return out;
}

/** A parsed fragment prefix. */
export interface FragmentInfo {
  /** Fragment id, u16: the same for all fragments of one message. */
  readonly id: number;
  /** Position of this fragment, u8, 0-based. */
  readonly index: number;
  /** Number of fragments of the message, u8, 1-255. */
  readonly count: number;
  /** This fragment's slice of the message payload. */
  readonly data: Uint8Array;
}

/** Parses a fragment payload; BAD_REQUEST `fragment` when malformed. */
export function parseFragment(p: Uint8Array): FragmentInfo {
  if (p.length < FRAGMENT_HEADER) throw badRequest("fragment", { why: "short" });
  const count = p[3];
  const index = p[2];
  if (count === 0 || index >= count) throw badRequest("fragment", { why: "index", index, count });
  return { id: (p[0] << 8) | p[1], index, count, data: p.subarray(FRAGMENT_HEADER) };
}

interface Partial {
  readonly count: number;
  readonly parts: (Uint8Array | undefined)[];
  received: number;
  bytes: number;
  readonly started: number;
}

/** Why a partial message was dropped (counted as `drop_fragment`). */
export type FragmentDrop = "limit-partial" | "limit-bytes" | "timeout" | "inconsistent";

/**
 * Reassembles fragments of one session direction. `add` returns the whole
 * payload when the last missing fragment arrives, otherwise undefined.
 * Duplicate fragments are ignored; inconsistent ones drop the message.
 */
export class Reassembler {
  readonly #partial = new Map<number, Partial>();
  #bytes = 0;
  readonly #limits: ReassemblyLimits;
  readonly #now: () => number;
  /** Called for every dropped partial message. */
  onDrop: (reason: FragmentDrop) => void = () => {};

  /** `now` is injectable for tests (milliseconds). */
  constructor(limits: ReassemblyLimits = DEFAULT_REASSEMBLY, now: () => number = Date.now) {
    this.#limits = limits;
    this.#now = now;
  }

  /** Number of incomplete messages held. */
  get partialCount(): number {
    return this.#partial.size;
  }

  /** Bytes held in incomplete messages. */
  get bufferedBytes(): number {
    return this.#bytes;
  }

  #drop(id: number, reason: FragmentDrop): void {
    const p = this.#partial.get(id);
    if (p) {
      this.#bytes -= p.bytes;
      this.#partial.delete(id);
    }
    this.onDrop(reason);
  }

  /** Drops partial messages older than the timeout. */
  expire(): void {
    const now = this.#now();
    for (const [id, p] of this.#partial) {
      if (now - p.started > this.#limits.timeoutMs) this.#drop(id, "timeout");
    }
  }

  /** Adds one fragment payload (prefix included). */
  add(payload: Uint8Array): Uint8Array | undefined {
    this.expire();
    const f = parseFragment(payload);
    if (f.count === 1) return f.data.slice();
    let p = this.#partial.get(f.id);
    if (!p) {
      if (this.#partial.size >= this.#limits.maxPartial) {
        this.onDrop("limit-partial");
        return undefined;
      }
      p = {
        count: f.count,
        parts: new Array(f.count),
        received: 0,
        bytes: 0,
        started: this.#now(),
      };
      this.#partial.set(f.id, p);
    }
    if (p.count !== f.count) {
      this.#drop(f.id, "inconsistent");
      return undefined;
    }
    if (p.parts[f.index] !== undefined) return undefined;
    if (this.#bytes + f.data.length > this.#limits.maxBytes) {
      this.#drop(f.id, "limit-bytes");
      return undefined;
    }
    p.parts[f.index] = f.data.slice();
    p.received++;
    p.bytes += f.data.length;
    this.#bytes += f.data.length;
    if (p.received < p.count) return undefined;
    this.#partial.delete(f.id);
    this.#bytes -= p.bytes;
    const out = new Uint8Array(p.bytes);
    let off = 0;
    for (const part of p.parts) {
      out.set(part!, off);
      off += part!.length;
    }
    return out;
  }
}
