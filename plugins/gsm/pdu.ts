/**
 * SMS TPDU codec (3GPP TS 23.040 / 23.038), pure code: SMS-SUBMIT encode and
 * decode, SMS-DELIVER and SMS-STATUS-REPORT decode (and SMS-DELIVER encode,
 * for round trips), GSM 7-bit default alphabet with the extension table,
 * UCS-2, 8-bit data, user data headers with 8- and 16-bit concatenation IEs,
 * relative/absolute/enhanced TP-VP, semi-octet addresses and alphanumeric
 * senders. PDUs are the hex strings AT+CMGS/+CMGR/+CMGL/+CMT/+CDS carry
 * (with the SMSC address in front, as 27.005 PDU mode does).
 *
 * Every malformed input throws `MyClerkError(BAD_REQUEST, "pdu:<what>")`;
 * nothing else escapes (fuzzed by tests/gsm/fuzz_test.ts).
 *
 * Longer than ~500 lines on purpose: the GSM 03.40/03.38 PDU codec follows the specification's
 * field tables in order; splitting it would separate encoder from decoder of the same fields.
 *
 * @module
 */
import { ErrorCode, MyClerkError } from "@myclerk/plugin-sdk";

/** GSM 7-bit default alphabet (23.038 §6.2.1), index = septet. 0x1B is the escape. */
export const GSM7_BASIC: readonly string[] = [
  ..."@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞ\x1bÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?",
  ..."¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà",
];

/** GSM 7-bit extension table (23.038 §6.2.1.1): septet after 0x1B -> character. */
export const GSM7_EXT: ReadonlyMap<number, string> = new Map([
  [0x0a, "\f"],
  [0x14, "^"],
  [0x28, "{"],
  [0x29, "}"],
  [0x2f, "\\"],
  [0x3c, "["],
  [0x3d, "~"],
  [0x3e, "]"],
  [0x40, "|"],
  [0x65, "€"],
]);

const BASIC_INDEX = new Map<string, number>(GSM7_BASIC.map((c, i) => [c, i]));
BASIC_INDEX.delete("\x1b");
const EXT_INDEX = new Map<string, number>([...GSM7_EXT].map(([k, v]) => [v, k]));

/** Text encodings of TP-DCS. */
export type Encoding = "gsm7" | "8bit" | "ucs2";

/** A concatenation information element (IEI 0x00 or 0x08). */
export interface Concat {
  /** Reference shared by all parts. */
  readonly ref: number;
  /** Number of parts. */
  readonly total: number;
  /** This part's number, 1-based. */
  readonly seq: number;
  /** Reference width: IEI 0x00 (8) or 0x08 (16). */
  readonly bits: 8 | 16;
}

/** One user data header information element. */
export interface InfoElement {
  /** IE identifier. */
  readonly iei: number;
  /** IE data. */
  readonly data: Uint8Array;
}

/** Fields every decoded TPDU has. */
export interface Common {
  /** SMSC address from the PDU's prefix, `undefined` when the prefix was `00`. */
  readonly smsc?: string;
  /** The first octet (flags), for diagnostics. */
  readonly firstOctet: number;
}

/** Decoded user data. */
export interface UserData {
  /** TP-PID. */
  readonly pid: number;
  /** TP-DCS. */
  readonly dcs: number;
  /** Alphabet from TP-DCS. */
  readonly encoding: Encoding;
  /** Message class from TP-DCS (0 = flash), when the DCS gives one. */
  readonly msgClass?: 0 | 1 | 2 | 3;
  /** Text (8-bit data: each octet as one Latin-1 character). */
  readonly text: string;
  /** Raw user data after the header (8-bit messages). */
  readonly data: Uint8Array;
  /** Header IEs, empty without TP-UDHI. */
  readonly ies: readonly InfoElement[];
  /** Concatenation IE, when present. */
  readonly concat?: Concat;
}

/** SMS-DELIVER (network -> phone). */
export interface SmsDeliver extends Common, UserData {
  /** Discriminator. */
  readonly type: "deliver";
  /** Originating address. */
  readonly from: string;
  /** Service centre time stamp, ISO 8601 with offset. */
  readonly timestamp: string;
  /** TP-MMS inverted: more messages are waiting. */
  readonly moreMessages: boolean;
  /** TP-SRI: the sender asked for a status report. */
  readonly statusReportIndication: boolean;
}

/** Validity period of an SMS-SUBMIT. */
export type Validity =
  | { readonly kind: "none" }
  | { readonly kind: "relative"; readonly minutes: number }
  | { readonly kind: "absolute"; readonly time: string }
  | { readonly kind: "enhanced"; readonly raw: Uint8Array };

/** SMS-SUBMIT (phone -> network). */
export interface SmsSubmit extends Common, UserData {
  /** Discriminator. */
  readonly type: "submit";
  /** TP-MR. */
  readonly mr: number;
  /** Destination address. */
  readonly to: string;
  /** TP-VP. */
  readonly validity: Validity;
  /** TP-SRR. */
  readonly statusReportRequest: boolean;
  /** TP-RD. */
  readonly rejectDuplicates: boolean;
}

/** SMS-STATUS-REPORT (network -> phone, about a submitted message). */
export interface SmsStatusReport extends Common {
  /** Discriminator. */
  readonly type: "status-report";
  /** TP-MR of the message this reports on. */
  readonly mr: number;
  /** Recipient address. */
  readonly recipient: string;
  /** When the SMSC received the message. */
  readonly timestamp: string;
  /** When it was delivered (or the status was set). */
  readonly discharge: string;
  /** TP-ST. */
  readonly status: number;
}

/** Any decoded TPDU. */
export type Sms = SmsDeliver | SmsSubmit | SmsStatusReport;

function bad(what: string, extra: Record<string, unknown> = {}): never {
  throw new MyClerkError(ErrorCode.BAD_REQUEST, `pdu:${what}`, extra);
}

/** Hex string -> bytes; BAD_REQUEST `pdu:hex` for odd length or non-hex. */
export function fromHex(hex: string): Uint8Array {
  const s = hex.trim();
  if (s.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(s)) bad("hex");
  const out = new Uint8Array(s.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(s.slice(2 * i, 2 * i + 2), 16);
  return out;
}

/** Bytes -> upper-case hex (the form modems print and accept). */
export function toHex(b: Uint8Array): string {
  let s = "";
  for (const x of b) s += x.toString(16).padStart(2, "0");
  return s.toUpperCase();
}

// ---------------------------------------------------------------- GSM 7-bit

/** Septet count of `text` in GSM 7-bit, or `undefined` when a character is not in the alphabet. */
export function gsm7Length(text: string): number | undefined {
  let n = 0;
  for (const ch of text) {
    if (BASIC_INDEX.has(ch)) n += 1;
    else if (EXT_INDEX.has(ch)) n += 2;
    else return undefined;
  }
  return n;
}

/** Text -> septets (extension characters as 0x1B + code); BAD_REQUEST `pdu:not-gsm7`. */
export function toSeptets(text: string): number[] {
  const out: number[] = [];
  for (const ch of text) {
    const b = BASIC_INDEX.get(ch);
    if (b !== undefined) {
      out.push(b);
      continue;
    }
    const e = EXT_INDEX.get(ch);
    if (e === undefined) bad("not-gsm7", { char: ch });
    out.push(0x1b, e);
  }
  return out;
}

/**
 * Septets -> text. An escape followed by a code the extension table lacks
 * shows the basic character (23.038: "display the default alphabet"); a
 * trailing lone escape is dropped.
 */
export function fromSeptets(septets: ArrayLike<number>): string {
  let s = "";
  for (let i = 0; i < septets.length; i++) {
    const c = septets[i] & 0x7f;
    if (c === 0x1b) {
      if (i + 1 >= septets.length) break;
      const n = septets[++i] & 0x7f;
      s += GSM7_EXT.get(n) ?? (n === 0x1b ? " " : GSM7_BASIC[n]);
    } else s += GSM7_BASIC[c];
  }
  return s;
}

/** Packs septets into octets, after `fillBits` zero bits (the UDH padding). */
export function packSeptets(septets: readonly number[], fillBits = 0): Uint8Array {
  const totalBits = fillBits + septets.length * 7;
  const out = new Uint8Array(Math.ceil(totalBits / 8));
  let bit = fillBits;
  for (const s of septets) {
    for (let k = 0; k < 7; k++, bit++) {
      if ((s >> k) & 1) out[bit >> 3] |= 1 << (bit & 7);
    }
  }
  return out;
}

/** Unpacks `count` septets from `octets` starting after `fillBits`. */
export function unpackSeptets(octets: Uint8Array, count: number, fillBits = 0): number[] {
  const out: number[] = [];
  let bit = fillBits;
  for (let i = 0; i < count; i++) {
    let v = 0;
    for (let k = 0; k < 7; k++, bit++) {
      const byte = bit >> 3;
      if (byte >= octets.length) bad("user-data-short");
      if ((octets[byte] >> (bit & 7)) & 1) v |= 1 << k;
    }
    out.push(v);
  }
  return out;
}

// ---------------------------------------------------------------- UCS-2

/** Text -> UCS-2 big-endian (UTF-16 units; astral characters become surrogate pairs). */
export function toUcs2(text: string): Uint8Array {
  const out = new Uint8Array(text.length * 2);
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    out[2 * i] = c >> 8;
    out[2 * i + 1] = c & 0xff;
  }
  return out;
}

/** UCS-2 big-endian -> text (an odd trailing octet is ignored, as handsets do). */
export function fromUcs2(b: Uint8Array): string {
  let s = "";
  for (let i = 0; i + 1 < b.length; i += 2) s += String.fromCharCode((b[i] << 8) | b[i + 1]);
  return s;
}

// ---------------------------------------------------------------- addresses

const SEMI = "0123456789*#abc";

function semiOctets(digits: string): Uint8Array {
  const out = new Uint8Array(Math.ceil(digits.length / 2)).fill(0xff);
  for (let i = 0; i < digits.length; i++) {
    const v = SEMI.indexOf(digits[i].toLowerCase());
    if (v < 0) bad("address-digit", { digit: digits[i] });
    const o = i >> 1;
    out[o] = i % 2 === 0 ? (out[o] & 0xf0) | v : (out[o] & 0x0f) | (v << 4);
  }
  return out;
}

function readSemi(b: Uint8Array, digits: number): string {
  let s = "";
  for (let i = 0; i < digits; i++) {
    const o = b[i >> 1];
    const v = i % 2 === 0 ? o & 0x0f : o >> 4;
    if (v === 0x0f) break;
    s += SEMI[v] ?? "?";
  }
  return s;
}

/** Encodes a TP address (DA/OA): `+` means international (TOA 0x91), else unknown (0x81). */
export function encodeAddress(number: string): Uint8Array {
  const intl = number.startsWith("+");
  const digits = intl ? number.slice(1) : number;
  if (digits.length === 0 || digits.length > 20) bad("address-length");
  if (!/^[0-9*#]+$/.test(digits)) {
    // Alphanumeric (TON 101): GSM 7-bit packed, length in semi-octets.
    const sept = toSeptets(number);
    if (sept.length > 11) bad("address-length");
    const packed = packSeptets(sept);
    return new Uint8Array([Math.ceil(sept.length * 7 / 4), 0xd0, ...packed]);
  }
  return new Uint8Array([digits.length, intl ? 0x91 : 0x81, ...semiOctets(digits)]);
}

/** Encodes the SMSC prefix (`00` = the modem's configured SMSC). */
export function encodeSmsc(number?: string): Uint8Array {
  if (number === undefined || number === "") return new Uint8Array([0]);
  const a = encodeAddress(number);
  if (a[1] === 0xd0) bad("smsc-alphanumeric");
  return new Uint8Array([a.length - 1, ...a.subarray(1)]);
}

class Reader {
  pos = 0;
  constructor(readonly b: Uint8Array) {}
  u8(what: string): number {
    if (this.pos >= this.b.length) bad(`short:${what}`);
    return this.b[this.pos++];
  }
  take(n: number, what: string): Uint8Array {
    if (n < 0 || this.pos + n > this.b.length) bad(`short:${what}`);
    const s = this.b.subarray(this.pos, this.pos + n);
    this.pos += n;
    return s;
  }
  address(what: string): string {
    const len = this.u8(what);
    const toa = this.u8(what);
    if (len > 20) bad(`${what}-length`);
    const body = this.take(Math.ceil(len / 2), what);
    if (((toa >> 4) & 0x07) === 5) {
      // Alphanumeric: `len` semi-octets of packed septets.
      return fromSeptets(unpackSeptets(body, Math.floor(len * 4 / 7)));
    }
    const digits = readSemi(body, len);
    return ((toa >> 4) & 0x07) === 1 ? `+${digits}` : digits;
  }
  smsc(): string | undefined {
    const len = this.u8("smsc");
    if (len === 0) return undefined;
    if (len > 11) bad("smsc-length");
    const toa = this.u8("smsc");
    const digits = readSemi(this.take(len - 1, "smsc"), (len - 1) * 2);
    return ((toa >> 4) & 0x07) === 1 ? `+${digits}` : digits;
  }
}

// ---------------------------------------------------------------- time

function bcd(o: number): number {
  return (o & 0x0f) * 10 + (o >> 4);
}

/** Decodes a 7-octet TP-SCTS/TP-DT/absolute TP-VP to ISO 8601 with its offset. */
export function decodeTimestamp(b: Uint8Array): string {
  if (b.length !== 7) bad("timestamp");
  const [y, mo, d, h, mi, s] = [...b.subarray(0, 6)].map(bcd);
  const tzo = b[6];
  const quarters = (tzo & 0x07) * 10 + (tzo >> 4);
  const neg = (tzo & 0x08) !== 0;
  const p = (n: number) => String(Math.min(n, 99)).padStart(2, "0");
  const off = quarters * 15;
  // Two-digit years: 70-99 are 19xx (no SMS predates 1992), the rest 20xx.
  return `${y >= 70 ? 19 : 20}${p(y)}-${p(mo)}-${p(d)}T${p(h)}:${p(mi)}:${p(s)}${neg ? "-" : "+"}${
    p(Math.floor(off / 60))
  }:${p(off % 60)}`;
}

/** Encodes an ISO 8601 time with offset (`2013-07-10T13:39:00+02:00`) as 7 semi-octet pairs. */
export function encodeTimestamp(iso: string): Uint8Array {
  const m = /^(\d{2})(\d{2})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})([+-])(\d{2}):(\d{2})$/.exec(
    iso,
  );
  if (m === null) bad("timestamp");
  const sw = (n: number) => ((n % 10) << 4) | Math.floor(n / 10);
  const vals = [m[2], m[3], m[4], m[5], m[6], m[7]].map(Number).map(sw);
  const q = (Number(m[9]) * 60 + Number(m[10])) / 15;
  const tz = sw(q) | (m[8] === "-" ? 0x08 : 0);
  return new Uint8Array([...vals, tz]);
}

/** TP-VP relative (23.040 §9.2.3.12.1) -> minutes. */
export function vpToMinutes(vp: number): number {
  if (vp <= 143) return (vp + 1) * 5;
  if (vp <= 167) return 720 + (vp - 143) * 30;
  if (vp <= 196) return (vp - 166) * 1440;
  return (vp - 192) * 10080;
}

/** Minutes -> the smallest relative TP-VP that lasts at least that long (max 63 weeks). */
export function minutesToVp(minutes: number): number {
  if (!Number.isFinite(minutes) || minutes < 5) return 0;
  if (minutes <= 720) return Math.ceil(minutes / 5) - 1;
  if (minutes <= 1440) return 143 + Math.ceil((minutes - 720) / 30);
  if (minutes <= 30 * 1440) return 166 + Math.ceil(minutes / 1440);
  return Math.min(255, 192 + Math.ceil(minutes / 10080));
}

// ---------------------------------------------------------------- DCS / UD

/** Alphabet and class of a TP-DCS octet (23.038 §4). */
export function parseDcs(dcs: number): { encoding: Encoding; msgClass?: 0 | 1 | 2 | 3 } {
  const group = dcs >> 4;
  if (group <= 0x7) {
    // General data coding (00xx) and automatic deletion (01xx).
    if ((dcs & 0x20) !== 0) return { encoding: "8bit" }; // compressed: not decodable as text
    const alpha = (dcs >> 2) & 0x03;
    const encoding: Encoding = alpha === 1 ? "8bit" : alpha === 2 ? "ucs2" : "gsm7";
    return (dcs & 0x10) !== 0
      ? { encoding, msgClass: (dcs & 0x03) as 0 | 1 | 2 | 3 }
      : { encoding };
  }
  if (group === 0xc || group === 0xd) return { encoding: "gsm7" };
  if (group === 0xe) return { encoding: "ucs2" };
  if (group === 0xf) {
    return { encoding: (dcs & 0x04) !== 0 ? "8bit" : "gsm7", msgClass: (dcs & 0x03) as 0 };
  }
  return { encoding: "gsm7" }; // reserved groups: 23.038 says treat as GSM 7-bit
}

function parseUdh(h: Uint8Array): { ies: InfoElement[]; concat?: Concat } {
  const ies: InfoElement[] = [];
  let concat: Concat | undefined;
  let i = 0;
  while (i < h.length) {
    if (i + 2 > h.length) bad("udh-ie");
    const iei = h[i];
    const len = h[i + 1];
    if (i + 2 + len > h.length) bad("udh-ie-length");
    const data = h.slice(i + 2, i + 2 + len);
    ies.push({ iei, data });
    if (iei === 0x00 && len === 3 && data[1] > 0 && data[2] > 0 && data[2] <= data[1]) {
      concat = { ref: data[0], total: data[1], seq: data[2], bits: 8 };
    } else if (iei === 0x08 && len === 4 && data[2] > 0 && data[3] > 0 && data[3] <= data[2]) {
      concat = { ref: (data[0] << 8) | data[1], total: data[2], seq: data[3], bits: 16 };
    }
    i += 2 + len;
  }
  return concat === undefined ? { ies } : { ies, concat };
}

function readUserData(r: Reader, udhi: boolean, pid: number, dcs: number): UserData {
  const { encoding, msgClass } = parseDcs(dcs);
  const udl = r.u8("udl");
  const rest = r.b.subarray(r.pos);
  let headerOctets = 0;
  let ies: InfoElement[] = [];
  let concat: Concat | undefined;
  if (udhi) {
    if (rest.length < 1) bad("short:udh");
    const udhl = rest[0];
    if (1 + udhl > rest.length) bad("short:udh");
    const parsed = parseUdh(rest.subarray(1, 1 + udhl));
    ies = parsed.ies;
    concat = parsed.concat;
    headerOctets = 1 + udhl;
  }
  let text: string;
  let data: Uint8Array;
  if (encoding === "gsm7") {
    if (udl > 160) bad("udl");
    const headerSeptets = Math.ceil(headerOctets * 8 / 7);
    const count = udl - headerSeptets;
    if (count < 0) bad("udl");
    const fill = headerSeptets * 7 - headerOctets * 8;
    const sept = unpackSeptets(rest.subarray(headerOctets), count, fill);
    r.pos += Math.ceil(udl * 7 / 8);
    text = fromSeptets(sept);
    data = new Uint8Array(sept);
  } else {
    if (udl < headerOctets) bad("udl");
    // Some modems report a UDL longer than the data (python-gsmmodem vector): take what is there.
    data = rest.slice(headerOctets, Math.min(udl, rest.length));
    r.pos += Math.min(udl, rest.length);
    text = encoding === "ucs2" ? fromUcs2(data) : String.fromCharCode(...data);
  }
  const ud = { pid, dcs, encoding, text, data, ies };
  return {
    ...ud,
    ...(msgClass !== undefined ? { msgClass } : {}),
    ...(concat !== undefined ? { concat } : {}),
  };
}

/**
 * Decodes a PDU as a modem shows it (SMSC prefix unless `withSmsc` is false).
 * TP-MTI 00 = SMS-DELIVER, 01 = SMS-SUBMIT, 10 = SMS-STATUS-REPORT (the
 * phone-side view: stored messages are received DELIVERs or sent SUBMITs).
 */
export function decodePdu(hex: string, withSmsc = true): Sms {
  const r = new Reader(fromHex(hex));
  const smsc = withSmsc ? r.smsc() : undefined;
  const fo = r.u8("first-octet");
  const mti = fo & 0x03;
  const udhi = (fo & 0x40) !== 0;
  const base = smsc === undefined ? { firstOctet: fo } : { smsc, firstOctet: fo };
  if (mti === 0) {
    const from = r.address("oa");
    const pid = r.u8("pid");
    const dcs = r.u8("dcs");
    const timestamp = decodeTimestamp(r.take(7, "scts"));
    const ud = readUserData(r, udhi, pid, dcs);
    return {
      ...base,
      type: "deliver",
      from,
      timestamp,
      moreMessages: (fo & 0x04) === 0,
      statusReportIndication: (fo & 0x20) !== 0,
      ...ud,
    };
  }
  if (mti === 1) {
    const mr = r.u8("mr");
    const to = r.address("da");
    const pid = r.u8("pid");
    const dcs = r.u8("dcs");
    const vpf = (fo >> 3) & 0x03;
    let validity: Validity = { kind: "none" };
    if (vpf === 2) validity = { kind: "relative", minutes: vpToMinutes(r.u8("vp")) };
    else if (vpf === 3) validity = { kind: "absolute", time: decodeTimestamp(r.take(7, "vp")) };
    else if (vpf === 1) validity = { kind: "enhanced", raw: r.take(7, "vp").slice() };
    const ud = readUserData(r, udhi, pid, dcs);
    return {
      ...base,
      type: "submit",
      mr,
      to,
      validity,
      statusReportRequest: (fo & 0x20) !== 0,
      rejectDuplicates: (fo & 0x04) !== 0,
      ...ud,
    };
  }
  if (mti === 2) {
    const mr = r.u8("mr");
    const recipient = r.address("ra");
    const timestamp = decodeTimestamp(r.take(7, "scts"));
    const discharge = decodeTimestamp(r.take(7, "dt"));
    const status = r.u8("st");
    return { ...base, type: "status-report", mr, recipient, timestamp, discharge, status };
  }
  return bad("mti-reserved");
}

// ---------------------------------------------------------------- encode

/** Options of {@link encodeSubmit}. */
export interface SubmitOptions {
  /** Destination (`+49…` international, else as dialled, or alphanumeric). */
  readonly to: string;
  /** Message text. */
  readonly text: string;
  /** Alphabet; `auto` = GSM 7-bit when every character is in it, else UCS-2. */
  readonly encoding?: "auto" | "gsm7" | "ucs2";
  /** TP-SRR: ask for a status report. */
  readonly statusReport?: boolean;
  /** Relative validity in minutes (`undefined` = no TP-VP field). */
  readonly validityMinutes?: number;
  /** Class 0 (flash) message. */
  readonly flash?: boolean;
  /** TP-MR written in the PDU (modems replace it with their own counter). */
  readonly mr?: number;
  /** Concatenation reference (8-bit unless `refBits` is 16). */
  readonly concatRef?: number;
  /** Width of the concatenation reference. */
  readonly refBits?: 8 | 16;
  /** SMSC to use (`undefined` = the one stored in the SIM). */
  readonly smsc?: string;
  /** Most parts allowed (default 10). */
  readonly maxParts?: number;
}

/** One PDU ready for `AT+CMGS=<tpduLength>`. */
export interface SubmitPdu {
  /** SMSC prefix + TPDU, hex. */
  readonly hex: string;
  /** TPDU length in octets (without the SMSC prefix), the AT+CMGS argument. */
  readonly tpduLength: number;
}

/** Result of {@link encodeSubmit}. */
export interface Submit {
  /** The alphabet used. */
  readonly encoding: "gsm7" | "ucs2";
  /** One PDU per part. */
  readonly pdus: readonly SubmitPdu[];
}

/** Splits septets into parts of `size`, never cutting an escape pair. */
function splitSeptets(s: readonly number[], size: number): number[][] {
  const parts: number[][] = [];
  let i = 0;
  while (i < s.length) {
    let end = Math.min(s.length, i + size);
    if (end < s.length && s[end - 1] === 0x1b) end--;
    parts.push(s.slice(i, end));
    i = end;
  }
  return parts;
}

/** Splits UTF-16 text into parts of `units` code units, never cutting a surrogate pair. */
function splitUcs2(text: string, units: number): string[] {
  const parts: string[] = [];
  let i = 0;
  while (i < text.length) {
    let end = Math.min(text.length, i + units);
    const c = text.charCodeAt(end - 1);
    if (end < text.length && c >= 0xd800 && c <= 0xdbff) end--;
    parts.push(text.slice(i, end));
    i = end;
  }
  return parts;
}

/**
 * Encodes an SMS-SUBMIT, split into concatenated parts with a UDH when it
 * does not fit one message (153 septets / 67 UCS-2 units per part with the
 * 8-bit reference IE, 152 / 66 with the 16-bit one).
 */
export function encodeSubmit(o: SubmitOptions): Submit {
  const enc = o.encoding ?? "auto";
  const gsmLen = gsm7Length(o.text);
  if (enc === "gsm7" && gsmLen === undefined) bad("not-gsm7");
  const encoding: "gsm7" | "ucs2" = enc === "ucs2" || gsmLen === undefined ? "ucs2" : "gsm7";
  const refBits = o.refBits ?? 8;
  const udhLen = refBits === 8 ? 6 : 7;
  const maxParts = o.maxParts ?? 10;
  let bodies: (number[] | string)[];
  if (encoding === "gsm7") {
    const sept = toSeptets(o.text);
    bodies = sept.length <= 160 ? [sept] : splitSeptets(sept, Math.floor((140 - udhLen) * 8 / 7));
  } else {
    bodies = o.text.length <= 70 ? [o.text] : splitUcs2(o.text, Math.floor((140 - udhLen) / 2));
  }
  if (bodies.length > maxParts) bad("too-many-parts", { parts: bodies.length, max: maxParts });
  if (bodies.length > 255) bad("too-many-parts");
  const multi = bodies.length > 1;
  const ref = (o.concatRef ?? 0) & (refBits === 8 ? 0xff : 0xffff);
  const da = encodeAddress(o.to);
  const smsc = encodeSmsc(o.smsc);
  const vp = o.validityMinutes === undefined ? undefined : minutesToVp(o.validityMinutes);
  let dcs = encoding === "gsm7" ? 0x00 : 0x08;
  if (o.flash) dcs |= 0x10; // class 0
  const pdus = bodies.map((body, idx) => {
    let fo = 0x01; // SMS-SUBMIT
    if (vp !== undefined) fo |= 0x10; // TP-VPF relative
    if (o.statusReport) fo |= 0x20;
    if (multi) fo |= 0x40;
    const udh = !multi
      ? new Uint8Array(0)
      : refBits === 8
      ? new Uint8Array([5, 0x00, 3, ref, bodies.length, idx + 1])
      : new Uint8Array([6, 0x08, 4, ref >> 8, ref & 0xff, bodies.length, idx + 1]);
    let udl: number;
    let ud: Uint8Array;
    if (encoding === "gsm7") {
      const sept = body as number[];
      const headerSeptets = Math.ceil(udh.length * 8 / 7);
      const fill = headerSeptets * 7 - udh.length * 8;
      const packed = packSeptets(sept, fill + udh.length * 8);
      packed.set(udh, 0);
      udl = headerSeptets + sept.length;
      ud = packed;
    } else {
      const u = toUcs2(body as string);
      ud = new Uint8Array([...udh, ...u]);
      udl = ud.length;
    }
    const tpdu = new Uint8Array([
      fo,
      (o.mr ?? 0) & 0xff,
      ...da,
      0x00,
      dcs,
      ...(vp === undefined ? [] : [vp]),
      udl,
      ...ud,
    ]);
    return { hex: toHex(new Uint8Array([...smsc, ...tpdu])), tpduLength: tpdu.length };
  });
  return { encoding, pdus };
}
