/**
 * Result codes of 3GPP TS 27.007 / 27.005 as data: which lines end a
 * command, and how `+CME ERROR` / `+CMS ERROR` numbers map to our error
 * codes (docs/PLUGINS.md §14.5).
 *
 * @module
 */
import { ErrorCode, type ErrorCodeValue, MyClerkError } from "@myclerk/plugin-sdk";

export { ErrorCode, MyClerkError };
export type { ErrorCodeValue };

/** Final result codes that end a command successfully. */
export const FINAL_OK: ReadonlySet<string> = new Set(["OK", "CONNECT"]);

/** Final result codes that end a command with a failure (V.250 plus call progress). */
export const FINAL_FAIL: ReadonlySet<string> = new Set([
  "ERROR",
  "NO CARRIER",
  "BUSY",
  "NO ANSWER",
  "NO DIALTONE",
]);

/** +CMS ERROR number -> error code (27.005 §3.2.5, 23.040 RP/TP causes). */
const CMS: ReadonlyArray<readonly [ErrorCodeValue, readonly number[]]> = [
  [ErrorCode.NOT_FOUND, [1, 28, 30, 321]],
  [ErrorCode.FORBIDDEN, [8, 10, 29, 50, 301, 302]],
  [
    ErrorCode.SERVICE_UNAVAILABLE,
    [21, 27, 38, 41, 42, 47, 300, 310, 311, 312, 313, 314, 315, 316, 320, 322, 330, 331],
  ],
  [ErrorCode.UNSUPPORTED, [69, 303]],
  [ErrorCode.BAD_REQUEST, [95, 96, 97, 111, 304, 305, 340]],
  [ErrorCode.TIMEOUT, [332]],
];

/** +CME ERROR number -> error code (27.007 §9.2). */
const CME: ReadonlyArray<readonly [ErrorCodeValue, readonly number[]]> = [
  [ErrorCode.FORBIDDEN, [3]],
  [ErrorCode.UNSUPPORTED, [4]],
  [ErrorCode.UNAUTHORIZED, [16]],
  [ErrorCode.NOT_FOUND, [21, 22]],
  [ErrorCode.SERVICE_UNAVAILABLE, [10, 11, 12, 13, 14, 15, 17, 18, 20, 30, 505]],
  [ErrorCode.TIMEOUT, [31]],
  [ErrorCode.BAD_REQUEST, [24, 25, 26, 27, 50]],
];

/** Verbose +CME ERROR texts (27.007 §9.2.1) -> numbers, for modems that ignore AT+CMEE=1. */
export const CME_TEXT: ReadonlyMap<string, number> = new Map([
  ["phone failure", 0],
  ["operation not allowed", 3],
  ["operation not supported", 4],
  ["sim not inserted", 10],
  ["sim pin required", 11],
  ["sim puk required", 12],
  ["sim failure", 13],
  ["sim busy", 14],
  ["sim wrong", 15],
  ["incorrect password", 16],
  ["sim pin2 required", 17],
  ["sim puk2 required", 18],
  ["memory full", 20],
  ["invalid index", 21],
  ["not found", 22],
  ["text string too long", 24],
  ["invalid characters in text string", 25],
  ["dial string too long", 26],
  ["invalid characters in dial string", 27],
  ["no network service", 30],
  ["network timeout", 31],
  ["incorrect parameters", 50],
  ["unknown", 100],
]);

function lookup(
  table: ReadonlyArray<readonly [ErrorCodeValue, readonly number[]]>,
  n: number,
): ErrorCodeValue {
  for (const [code, nums] of table) if (nums.includes(n)) return code;
  return ErrorCode.INTERNAL_ERROR;
}

/** Error code for a +CMS ERROR number. */
export function cmsCode(n: number): ErrorCodeValue {
  return lookup(CMS, n);
}

/** Error code for a +CME ERROR number. */
export function cmeCode(n: number): ErrorCodeValue {
  return lookup(CME, n);
}

/**
 * The error a failing final line stands for (`command` goes into `extra`).
 * `+CME ERROR: SIM not inserted` is mapped through {@link CME_TEXT}.
 */
export function finalError(line: string, command: string): MyClerkError {
  const m = /^\+(CME|CMS) ERROR:\s*(.*)$/.exec(line);
  if (m !== null) {
    const raw = m[2].trim();
    const n = /^\d+$/.test(raw) ? Number(raw) : CME_TEXT.get(raw.toLowerCase()) ?? -1;
    if (m[1] === "CMS") {
      return new MyClerkError(cmsCode(n), `cms-error:${n}`, { cms: n, text: raw, command });
    }
    return new MyClerkError(cmeCode(n), `cme-error:${n}`, { cme: n, text: raw, command });
  }
  if (line === "ERROR") {
    return new MyClerkError(ErrorCode.SERVICE_UNAVAILABLE, "at-error", { command });
  }
  return new MyClerkError(ErrorCode.SERVICE_UNAVAILABLE, line.toLowerCase().replace(/ /g, "-"), {
    command,
  });
}

/** True when `line` ends a command (OK, ERROR, +CME/+CMS ERROR, call progress). */
export function isFinal(line: string): boolean {
  return FINAL_OK.has(line) || FINAL_FAIL.has(line) || /^\+(CME|CMS) ERROR:/.test(line);
}
