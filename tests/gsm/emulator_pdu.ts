/**
 * The emulator's own SMS PDU code, written separately from the plugin's
 * (plugins/gsm/pdu.ts) the way a modem's firmware is: it builds SMS-DELIVER
 * and SMS-STATUS-REPORT PDUs and reads SMS-SUBMIT PDUs. Septets are packed
 * through a bit string here (the plugin shifts bits), so a shared mistake is
 * unlikely. Source: 3GPP TS 23.040 §9.2 and TS 23.038 §6.2.
 *
 * @module
 */

const BASIC =
  "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞ\u001bÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà";
const EXT: Record<string, number> = {
  "\f": 10,
  "^": 20,
  "{": 40,
  "}": 41,
  "\\": 47,
  "[": 60,
  "~": 61,
  "]": 62,
  "|": 64,
  "€": 101,
};
const EXT_REV: Record<number, string> = Object.fromEntries(
  Object.entries(EXT).map(([k, v]) => [v, k]),
);

/** True when every character is in the GSM default alphabet or its extension. */
export function isGsm(text: string): boolean {
  return [...text].every((c) => (BASIC.indexOf(c) >= 0 && c !== "\u001b") || c in EXT);
}

/** Text -> septet values. */
export function septetsOf(text: string): number[] {
  const out: number[] = [];
  for (const c of text) {
    if (c in EXT) out.push(27, EXT[c]);
    else {
      const i = BASIC.indexOf(c);
      if (i < 0 || c === "\u001b") throw new Error(`emulator: ${c} not in GSM alphabet`);
      out.push(i);
    }
  }
  return out;
}

function textOf(septets: number[]): string {
  let s = "";
  for (let i = 0; i < septets.length; i++) {
    if (septets[i] === 27 && i + 1 < septets.length) s += EXT_REV[septets[++i]] ?? " ";
    else s += BASIC[septets[i]];
  }
  return s;
}

/** Packs septets LSB-first after `skip` padding bits, via a bit string. */
function pack(septets: number[], skip: number): number[] {
  // Bits in transmission order: each septet contributes bit0..bit6.
  let bits = "0".repeat(skip);
  for (const s of septets) for (let k = 0; k < 7; k++) bits += (s >> k) & 1 ? "1" : "0";
  while (bits.length % 8 !== 0) bits += "0";
  const out: number[] = [];
  for (let i = 0; i < bits.length; i += 8) {
    let v = 0;
    for (let k = 0; k < 8; k++) if (bits[i + k] === "1") v |= 1 << k;
    out.push(v);
  }
  return out;
}

function unpack(octets: number[], count: number, skip: number): number[] {
  let bits = "";
  for (const o of octets) for (let k = 0; k < 8; k++) bits += (o >> k) & 1 ? "1" : "0";
  const out: number[] = [];
  for (let i = 0; i < count; i++) {
    let v = 0;
    for (let k = 0; k < 7; k++) if (bits[skip + i * 7 + k] === "1") v |= 1 << k;
    out.push(v);
  }
  return out;
}

const hex = (a: number[]) => a.map((x) => x.toString(16).padStart(2, "0")).join("").toUpperCase();

function bcdNumber(num: string): number[] {
  const d = num.replace(/^\+/, "");
  const out: number[] = [d.length, num.startsWith("+") ? 0x91 : 0x81];
  for (let i = 0; i < d.length; i += 2) {
    const lo = Number(d[i]);
    const hi = i + 1 < d.length ? Number(d[i + 1]) : 15;
    out.push((hi << 4) | lo);
  }
  return out;
}

function alnum(name: string): number[] {
  const s = septetsOf(name);
  const body = pack(s, 0);
  return [Math.ceil((s.length * 7) / 4), 0xd0, ...body];
}

function scts(d: Date, tzQuarters: number): number[] {
  const sw = (n: number) => ((n % 10) << 4) | Math.floor(n / 10);
  const local = new Date(d.getTime() + tzQuarters * 15 * 60_000);
  const tz = sw(Math.abs(tzQuarters)) | (tzQuarters < 0 ? 0x08 : 0);
  return [
    sw(local.getUTCFullYear() % 100),
    sw(local.getUTCMonth() + 1),
    sw(local.getUTCDate()),
    sw(local.getUTCHours()),
    sw(local.getUTCMinutes()),
    sw(local.getUTCSeconds()),
    tz,
  ];
}

/** The emulator's SMSC. */
export const EMU_SMSC = "+491710760000";

function smscField(): number[] {
  const a = bcdNumber(EMU_SMSC);
  return [a.length - 1, ...a.slice(1)];
}

/** One SMS-DELIVER part to inject. */
export interface DeliverPart {
  /** Full PDU (with SMSC). */
  readonly pdu: string;
  /** TPDU length (the +CMT/+CMGR length field). */
  readonly length: number;
  /** Text of this part (for text mode). */
  readonly text: string;
}

/** Options of {@link buildDeliver}. */
export interface DeliverOptions {
  /** Sender: digits with optional `+`, or a name (alphanumeric). */
  readonly from: string;
  /** Text. */
  readonly text: string;
  /** Force UCS-2. */
  readonly ucs2?: boolean;
  /** Concatenation reference width when it needs several parts. */
  readonly refBits?: 8 | 16;
  /** Reference. */
  readonly ref?: number;
  /** Time stamp. */
  readonly time?: Date;
  /** Time zone in quarter hours (default +4 = UTC+1). */
  readonly tzQuarters?: number;
  /** Class 0. */
  readonly flash?: boolean;
}

/** Builds the SMS-DELIVER PDU(s) for a message, split with concat IEs when long. */
export function buildDeliver(o: DeliverOptions): DeliverPart[] {
  const ucs2 = o.ucs2 === true || !isGsm(o.text);
  const bits = o.refBits ?? 8;
  const udhBytes = bits === 8 ? 6 : 7;
  const chunks: string[] = [];
  const units = ucs2 ? o.text.length : septetsOf(o.text).length;
  const single = ucs2 ? 70 : 160;
  if (units <= single) chunks.push(o.text);
  else {
    const per = ucs2 ? Math.floor((140 - udhBytes) / 2) : Math.floor(((140 - udhBytes) * 8) / 7);
    let cur = "";
    let n = 0;
    for (const c of o.text) {
      const w = ucs2 ? c.length : c in EXT ? 2 : 1;
      if (n + w > per) {
        chunks.push(cur);
        cur = "";
        n = 0;
      }
      cur += c;
      n += w;
    }
    if (cur !== "") chunks.push(cur);
  }
  const addr = /^\+?\d+$/.test(o.from) ? bcdNumber(o.from) : alnum(o.from);
  const ref = o.ref ?? 0x42;
  const time = scts(o.time ?? new Date(Date.UTC(2026, 0, 15, 9, 30, 0)), o.tzQuarters ?? 4);
  return chunks.map((chunk, i) => {
    const multi = chunks.length > 1;
    const udh = !multi
      ? []
      : bits === 8
      ? [5, 0, 3, ref & 0xff, chunks.length, i + 1]
      : [6, 8, 4, (ref >> 8) & 0xff, ref & 0xff, chunks.length, i + 1];
    let dcs = ucs2 ? 0x08 : 0x00;
    if (o.flash) dcs |= 0x10;
    let ud: number[];
    let udl: number;
    if (ucs2) {
      const body: number[] = [];
      for (let k = 0; k < chunk.length; k++) {
        body.push(chunk.charCodeAt(k) >> 8, chunk.charCodeAt(k) & 0xff);
      }
      ud = [...udh, ...body];
      udl = ud.length;
    } else {
      const s = septetsOf(chunk);
      const headerSeptets = Math.ceil((udh.length * 8) / 7);
      const skip = headerSeptets * 7 - udh.length * 8;
      ud = [...udh, ...pack(s, skip)];
      udl = headerSeptets + s.length;
    }
    const fo = 0x04 | (multi ? 0x40 : 0); // SMS-DELIVER, no more messages
    const tpdu = [fo, ...addr, 0x00, dcs, ...time, udl, ...ud];
    return { pdu: hex([...smscField(), ...tpdu]), length: tpdu.length, text: chunk };
  });
}

/** Builds an SMS-STATUS-REPORT for message reference `mr` to `recipient`. */
export function buildStatusReport(mr: number, recipient: string, status: number): {
  pdu: string;
  length: number;
} {
  const t = scts(new Date(Date.UTC(2026, 0, 15, 9, 31, 0)), 4);
  const d = scts(new Date(Date.UTC(2026, 0, 15, 9, 31, 5)), 4);
  const tpdu = [0x06, mr & 0xff, ...bcdNumber(recipient), ...t, ...d, status];
  return { pdu: hex([...smscField(), ...tpdu]), length: tpdu.length };
}

/** What the emulator understood of a submitted PDU. */
export interface Submitted {
  /** Destination. */
  readonly to: string;
  /** Text of this part. */
  readonly text: string;
  /** `gsm7`, `ucs2` or `8bit`. */
  readonly alphabet: string;
  /** TP-SRR. */
  readonly srr: boolean;
  /** TP-VP octet when relative. */
  readonly vp?: number;
  /** Concatenation (ref, total, seq, bits). */
  readonly concat?: { ref: number; total: number; seq: number; bits: number };
  /** TP-DCS. */
  readonly dcs: number;
  /** TPDU length counted by the emulator. */
  readonly tpduLength: number;
}

/** Reads an SMS-SUBMIT PDU (SMSC prefix first); throws on anything malformed. */
export function readSubmit(pduHex: string): Submitted {
  const b: number[] = [];
  for (let i = 0; i < pduHex.length; i += 2) {
    const v = parseInt(pduHex.slice(i, i + 2), 16);
    if (Number.isNaN(v)) throw new Error("emulator: bad hex");
    b.push(v);
  }
  let p = 0;
  const need = (n: number) => {
    if (p + n > b.length) throw new Error("emulator: short PDU");
  };
  need(1);
  p += 1 + b[0]; // SMSC
  const tpduStart = p;
  need(2);
  const fo = b[p++];
  if ((fo & 3) !== 1) throw new Error("emulator: not an SMS-SUBMIT");
  p++; // MR
  need(2);
  const dlen = b[p++];
  const toa = b[p++];
  const nOct = Math.ceil(dlen / 2);
  need(nOct);
  let to = "";
  for (let i = 0; i < dlen; i++) {
    const o = b[p + (i >> 1)];
    to += String((i & 1) === 0 ? o & 15 : o >> 4);
  }
  if (toa === 0x91) to = "+" + to;
  p += nOct;
  need(2);
  p++; // PID
  const dcs = b[p++];
  const vpf = (fo >> 3) & 3;
  let vp: number | undefined;
  if (vpf === 2) {
    need(1);
    vp = b[p++];
  } else if (vpf === 1 || vpf === 3) p += 7;
  need(1);
  const udl = b[p++];
  const ud = b.slice(p);
  const alphabet = (dcs & 0x0c) === 0x08 ? "ucs2" : (dcs & 0x0c) === 0x04 ? "8bit" : "gsm7";
  let hdr = 0;
  let concat: Submitted["concat"];
  if (fo & 0x40) {
    hdr = ud[0] + 1;
    let k = 1;
    while (k < hdr) {
      const iei = ud[k], len = ud[k + 1];
      if (iei === 0 && len === 3) {
        concat = { ref: ud[k + 2], total: ud[k + 3], seq: ud[k + 4], bits: 8 };
      }
      if (iei === 8 && len === 4) {
        concat = { ref: ud[k + 2] * 256 + ud[k + 3], total: ud[k + 4], seq: ud[k + 5], bits: 16 };
      }
      k += 2 + len;
    }
  }
  let text = "";
  if (alphabet === "gsm7") {
    const hs = Math.ceil((hdr * 8) / 7);
    text = textOf(unpack(ud.slice(hdr), udl - hs, hs * 7 - hdr * 8));
    if (ud.length !== Math.ceil((udl * 7) / 8)) throw new Error("emulator: UDL mismatch");
  } else {
    if (ud.length !== udl) throw new Error("emulator: UDL mismatch");
    for (let k = hdr; k + 1 < ud.length; k += 2) {
      text += String.fromCharCode(ud[k] * 256 + ud[k + 1]);
    }
  }
  return {
    to,
    text,
    alphabet,
    srr: (fo & 0x20) !== 0,
    ...(vp !== undefined ? { vp } : {}),
    ...(concat !== undefined ? { concat } : {}),
    dcs,
    tpduLength: b.length - tpduStart,
  };
}
