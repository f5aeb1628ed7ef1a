/**
 * Parsing of AT response lines: the comma-separated parameter list after a
 * `+NAME:` prefix (quoted strings, empty fields), and the 27.007 answers
 * every dialect shares (+CREG/+CEREG, +CSQ, +CPIN, +CMGL/+CMGR headers).
 * Pure; malformed lines give `undefined`, never an exception.
 *
 * @module
 */

/** One parameter: a string when it was quoted, a number when numeric, `""` when empty. */
export type Param = string | number;

/**
 * Splits the parameters of `line` after `prefix` (`+CREG:`). Quoted fields
 * stay strings (quotes removed), bare decimal fields become numbers.
 *
 * @example params('+CREG: 2,1,"1A2B"', "+CREG:") // [2, 1, "1A2B"]
 */
export function params(line: string, prefix: string): Param[] | undefined {
  if (!line.startsWith(prefix)) return undefined;
  const s = line.slice(prefix.length).trim();
  const out: Param[] = [];
  let i = 0;
  while (i <= s.length) {
    if (s[i] === '"') {
      const end = s.indexOf('"', i + 1);
      if (end < 0) return undefined;
      out.push(s.slice(i + 1, end));
      i = end + 1;
      while (i < s.length && s[i] === " ") i++;
      if (i < s.length && s[i] !== ",") return undefined;
      i++;
    } else {
      let end = s.indexOf(",", i);
      if (end < 0) end = s.length;
      const raw = s.slice(i, end).trim();
      out.push(/^-?\d+(\.\d+)?$/.test(raw) ? Number(raw) : raw);
      i = end + 1;
    }
    if (i > s.length) break;
  }
  return out;
}

/** Registration status names of `<stat>` (27.007 §7.2). */
export const REG_STATUS: readonly string[] = [
  "not-registered",
  "registered-home",
  "searching",
  "denied",
  "unknown",
  "registered-roaming",
];

/** A registration state. */
export interface Reg {
  /** 27.007 `<stat>`. */
  readonly stat: number;
  /** Its name. */
  readonly status: string;
  /** Location (or tracking) area code, hex. */
  readonly lac?: string;
  /** Cell id, hex. */
  readonly ci?: string;
  /** Access technology. */
  readonly act?: number;
}

/**
 * Parses +CREG/+CEREG/+CGREG: the answer to `AT+CREG?` (`<n>,<stat>[,…]`,
 * `solicited`) or the URC (`<stat>[,…]`).
 */
export function parseReg(line: string, solicited: boolean): Reg | undefined {
  const m = /^\+(C|CE|CG)REG:/.exec(line);
  if (m === null) return undefined;
  const p = params(line, m[0]);
  if (p === undefined) return undefined;
  const f = solicited ? p.slice(1) : p;
  const stat = f[0];
  if (typeof stat !== "number" || !Number.isInteger(stat) || stat < 0 || stat > 10) {
    return undefined;
  }
  const str = (v: Param | undefined) => (typeof v === "string" && v !== "" ? v : undefined);
  const lac = str(f[1]);
  const ci = str(f[2]);
  const act = typeof f[3] === "number" ? f[3] : undefined;
  return {
    stat,
    status: REG_STATUS[stat] ?? "unknown",
    ...(lac !== undefined ? { lac } : {}),
    ...(ci !== undefined ? { ci } : {}),
    ...(act !== undefined ? { act } : {}),
  };
}

/** Parses `+CSQ: <rssi>,<ber>`. */
export function parseCsq(
  line: string,
): { rssi: number; ber: number; dbm: number | null } | undefined {
  const p = params(line, "+CSQ:");
  if (p === undefined || typeof p[0] !== "number" || typeof p[1] !== "number") return undefined;
  const rssi = p[0];
  return { rssi, ber: p[1], dbm: rssi >= 0 && rssi <= 31 ? -113 + 2 * rssi : null };
}

/** Parses `+CPIN: <code>` (READY, SIM PIN, SIM PUK, …). */
export function parseCpin(line: string): string | undefined {
  const m = /^\+CPIN:\s*(.+)$/.exec(line);
  return m === null ? undefined : m[1].trim().replace(/^"|"$/g, "");
}

/** Text-mode and PDU-mode message status names of +CMGL/+CMGR. */
export const MSG_STATUS: readonly string[] = ["unread", "read", "unsent", "sent", "all"];

/** 27.005 text-mode status strings. */
export const TEXT_STATUS: readonly string[] = [
  "REC UNREAD",
  "REC READ",
  "STO UNSENT",
  "STO SENT",
  "ALL",
];
