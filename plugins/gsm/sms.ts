/**
 * Received-SMS handling: turning decoded PDUs (or text-mode lines) into the
 * GSM_SMS_RECEIVE event payloads, and reassembling concatenated messages,
 * with a timeout after which what arrived is delivered marked incomplete.
 *
 * @module
 */
import type { SmsDeliver, SmsStatusReport } from "./pdu.ts";

/** The `sms` event of GSM_SMS_RECEIVE (docs/PLUGINS.md §14.2). */
export interface SmsEvent {
  /** Discriminator. */
  readonly kind: "sms";
  /** Sender. */
  readonly from: string;
  /** Whole text (parts joined in order). */
  readonly text: string;
  /** Alphabet of the (first) part. */
  readonly encoding: string;
  /** SMSC time stamp of the first part. */
  readonly timestamp: string;
  /** SMSC that delivered it. */
  readonly smsc?: string;
  /** Number of parts. */
  readonly parts: number;
  /** Concatenation reference. */
  readonly concatRef?: number;
  /** True when parts were still missing at the timeout. */
  readonly incomplete?: boolean;
  /** Missing part numbers (1-based). */
  readonly missing?: readonly number[];
  /** Storage indexes the parts came from (+CMTI), when known. */
  readonly indexes?: readonly number[];
  /** Message class (0 = flash). */
  readonly class?: number;
}

/** The `status-report` event of GSM_SMS_RECEIVE. */
export interface StatusEvent {
  /** Discriminator. */
  readonly kind: "status-report";
  /** TP-MR of the submitted part. */
  readonly ref: number;
  /** Recipient. */
  readonly to: string;
  /** TP-ST. */
  readonly status: number;
  /** Name of the TP-ST range. */
  readonly statusName: string;
  /** Reached the recipient. */
  readonly delivered: boolean;
  /** No further report follows for this message. */
  readonly final: boolean;
  /** SMSC time stamp. */
  readonly timestamp: string;
  /** Discharge time. */
  readonly discharge: string;
}

/** TP-ST (23.040 §9.2.3.15) -> our summary. */
export function statusEvent(r: SmsStatusReport): StatusEvent {
  const st = r.status;
  const delivered = st <= 0x02;
  const temporary = st >= 0x20 && st <= 0x3f;
  const statusName = st === 0x00
    ? "delivered"
    : st <= 0x1f
    ? "delivered-unconfirmed"
    : temporary
    ? "pending"
    : st <= 0x5f
    ? "failed"
    : "failed-temporary-exhausted";
  return {
    kind: "status-report",
    ref: r.mr,
    to: r.recipient,
    status: st,
    statusName: st === 0x01 || st === 0x02 ? "delivered-unconfirmed" : statusName,
    delivered,
    final: !temporary,
    timestamp: r.timestamp,
    discharge: r.discharge,
  };
}

/** One received part (from a PDU, or a text-mode message that has no UDH). */
export interface Part {
  /** Decoded deliver. */
  readonly sms: Pick<
    SmsDeliver,
    "from" | "text" | "encoding" | "timestamp" | "smsc" | "concat" | "msgClass"
  >;
  /** Storage index, when read from storage. */
  readonly index?: number;
}

interface Group {
  readonly parts: Map<number, Part>;
  readonly total: number;
  readonly timer: ReturnType<typeof setTimeout>;
}

/** Most multipart messages held at once; the oldest is flushed beyond this. */
const MAX_GROUPS = 64;

/** Joins concatenated parts; single messages pass straight through. */
export class Reassembler {
  private readonly groups = new Map<string, Group>();

  /** Delivers through `deliver`; incomplete groups go out after `timeoutMs`. */
  constructor(
    private readonly deliver: (e: SmsEvent) => void,
    private readonly timeoutMs = 60_000,
  ) {}

  /** Groups waiting for parts. */
  get pending(): number {
    return this.groups.size;
  }

  /** Adds a part. */
  add(p: Part): void {
    const c = p.sms.concat;
    if (c === undefined || c.total <= 1) {
      this.deliver(this.event([p], 1, undefined));
      return;
    }
    const key = `${p.sms.from}\u0000${c.bits}\u0000${c.ref}\u0000${c.total}`;
    let g = this.groups.get(key);
    if (g === undefined) {
      if (this.groups.size >= MAX_GROUPS) this.flush(this.groups.keys().next().value!);
      g = {
        parts: new Map(),
        total: c.total,
        timer: setTimeout(() => this.flush(key), this.timeoutMs),
      };
      this.groups.set(key, g);
    }
    g.parts.set(c.seq, p); // a repeated part replaces the earlier copy
    if (g.parts.size === g.total) this.flush(key);
  }

  /** Delivers every waiting group now (plugin closing). */
  flushAll(): void {
    for (const k of [...this.groups.keys()]) this.flush(k);
  }

  /** Delivers a group (complete, timed out or evicted) and forgets it. */
  private flush(key: string): void {
    const g = this.groups.get(key);
    if (g === undefined) return;
    clearTimeout(g.timer);
    this.groups.delete(key);
    const ordered = [...g.parts.entries()].sort((a, b) => a[0] - b[0]).map(([, p]) => p);
    this.deliver(this.event(ordered, g.total, ordered[0].sms.concat?.ref, g));
  }

  /** The `sms` event of parts in order, with what is missing. */
  private event(ps: readonly Part[], total: number, ref?: number, g?: Group): SmsEvent {
    const first = ps[0].sms;
    const missing: number[] = [];
    if (g !== undefined) { for (let i = 1; i <= total; i++) if (!g.parts.has(i)) missing.push(i); }
    const indexes = ps.map((p) => p.index).filter((i): i is number => i !== undefined);
    return {
      kind: "sms",
      from: first.from,
      text: ps.map((p) => p.sms.text).join(""),
      encoding: first.encoding,
      timestamp: first.timestamp,
      ...(first.smsc !== undefined ? { smsc: first.smsc } : {}),
      parts: total,
      ...(ref !== undefined ? { concatRef: ref } : {}),
      ...(missing.length > 0 ? { incomplete: true, missing } : {}),
      ...(indexes.length > 0 ? { indexes } : {}),
      ...(first.msgClass !== undefined ? { class: first.msgClass } : {}),
    };
  }
}
