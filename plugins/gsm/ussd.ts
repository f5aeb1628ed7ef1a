/**
 * USSD (27.007 §7.15 +CUSD): the answer line, and the text in whatever form
 * the modem gives it (plain in the TE character set, or hex UCS-2 / packed
 * GSM 7-bit when the modem passes the network's coding through).
 *
 * @module
 */
import { params } from "./at/parse.ts";
import { fromHex, fromSeptets, fromUcs2, parseDcs, unpackSeptets } from "./pdu.ts";

/** `<m>` names. */
export const USSD_STATUS: readonly string[] = [
  "done",
  "further-action",
  "terminated",
  "other-client",
  "unsupported",
  "timeout",
];

/** A USSD answer (docs/PLUGINS.md §14.1 `Ussd`). */
export interface Ussd {
  /** 27.007 `<m>`. */
  readonly status: number;
  /** Its name. */
  readonly statusName: string;
  /** Decoded text ("" when none). */
  readonly text: string;
  /** Cell broadcast data coding scheme as given (15 = GSM 7-bit, 72 = UCS-2). */
  readonly dcs: number;
  /** The network waits for an answer (USSD_RESPONSE). */
  readonly sessionOpen: boolean;
}

/** Decodes `+CUSD: <m>[,<str>[,<dcs>]]`; `undefined` when malformed. */
export function parseCusd(line: string): Ussd | undefined {
  const p = params(line, "+CUSD:");
  if (p === undefined || typeof p[0] !== "number") return undefined;
  const status = p[0];
  const raw = typeof p[1] === "string" ? p[1] : p[1] === undefined ? "" : String(p[1]);
  const dcs = typeof p[2] === "number" ? p[2] : 15;
  return {
    status,
    statusName: USSD_STATUS[status] ?? "unknown",
    text: decodeUssdText(raw, dcs),
    dcs,
    sessionOpen: status === 1,
  };
}

/**
 * The text of a +CUSD: hex UCS-2 when the DCS says UCS-2 and the string is
 * hex, packed 7-bit hex when it is GSM 7-bit and hex-only with an even length
 * that is not plausible text, else as is.
 */
export function decodeUssdText(raw: string, dcs: number): string {
  const hex = raw.length > 0 && raw.length % 2 === 0 && /^[0-9A-F]+$/i.test(raw);
  // Cell broadcast DCS (23.038 §5): 0x48 / group 0100 bit 3 = UCS-2.
  const ucs2 = dcs === 72 || (dcs >> 4 === 4 && (dcs & 0x0c) === 0x08) || dcs === 0x11;
  if (hex && ucs2) return fromUcs2(fromHex(raw));
  if (hex && parseDcs(dcs & 0x0f).encoding === "gsm7" && raw.length >= 8 && /[A-F]/i.test(raw)) {
    const b = fromHex(raw);
    return fromSeptets(unpackSeptets(b, Math.floor(b.length * 8 / 7))).replace(/\r$/, "");
  }
  return raw;
}

/** The AT command for a USSD string (`AT+CUSD=1,"*100#",15`); quotes in it are refused upstream. */
export function cusdCommand(code: string): string {
  return `AT+CUSD=1,"${code}",15`;
}
