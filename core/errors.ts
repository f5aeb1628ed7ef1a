/**
 * The one error type of the node: a protocol error code (profile §10) plus a
 * machine-friendly detail, with an optional `cause`.
 *
 * @module
 */

/** Error codes of the profile (docs/PROTOCOL.md §10). */
export const ErrorCode = {
  OK: 0x00,
  BAD_REQUEST: 0x10,
  UNAUTHORIZED: 0x11,
  FORBIDDEN: 0x12,
  NOT_FOUND: 0x13,
  UNSUPPORTED: 0x14,
  TOO_LARGE: 0x15,
  RATE_LIMITED: 0x16,
  INVALID_SESSION: 0x17,
  INTERNAL_ERROR: 0x20,
  SERVICE_UNAVAILABLE: 0x21,
  TIMEOUT: 0x22,
  /** Federation: the recipient family is not known to this relay. */
  FED_UNKNOWN_FAMILY: 0x30,
  /** Federation: a per-family quota (messages or bytes) is exhausted. */
  FED_QUOTA_EXCEEDED: 0x31,
  /** Federation: the message's TTL expired before delivery. */
  FED_EXPIRED: 0x32,
  /** Federation: no route to the relay that homes the family. */
  FED_NO_ROUTE: 0x33,
  /** Federation: admission token invalid, used or bound to another key. */
  FED_ADMISSION_DENIED: 0x34,
} as const;

/** A numeric error code from {@link ErrorCode}. */
export type ErrorCodeValue = typeof ErrorCode[keyof typeof ErrorCode];

const NAMES: ReadonlyMap<number, string> = new Map(
  Object.entries(ErrorCode).map(([k, v]) => [v, k]),
);

/**
 * Name of an error code, or `0xNN` when unknown.
 *
 * @example errorName(0x12) // "FORBIDDEN"
 */
export function errorName(code: number): string {
  return NAMES.get(code) ?? `0x${code.toString(16).padStart(2, "0")}`;
}

/** Extra, code-specific fields carried by an error (profile §10). */
export interface ErrorExtra {
  /** FORBIDDEN: the minimum tier the operation requires. */
  readonly requiredTier?: number;
  /** Clock skew: the receiver's clock in Unix seconds. */
  readonly time?: number;
  /** Anything else a caller wants to attach for logs. */
  readonly [key: string]: unknown;
}

/**
 * The typed error every decoder and handler throws or returns.
 *
 * @example throw new MyClerkError(ErrorCode.BAD_REQUEST, "truncated")
 */
export class MyClerkError extends Error {
  /**
   * One brand for this class and the plugin SDK's copy (plugins/sdk/errors.ts,
   * which may not import core): `instanceof` holds for either.
   */
  static override [Symbol.hasInstance](x: unknown): boolean {
    return typeof x === "object" && x !== null &&
      (x as Record<symbol, unknown>)[Symbol.for("myclerk.error")] === true;
  }
  /** Protocol error code (profile §10). */
  readonly code: ErrorCodeValue;
  /** Short machine-friendly reason, e.g. `frame-too-large`. */
  readonly detail: string;
  /** Code-specific extra fields. */
  readonly extra: ErrorExtra;

  /** Creates an error with a code, a detail and optional extras / cause. */
  constructor(code: ErrorCodeValue, detail: string, extra: ErrorExtra = {}, cause?: unknown) {
    super(`${errorName(code)}: ${detail}`, cause === undefined ? undefined : { cause });
    this.name = "MyClerkError";
    Object.defineProperty(this, Symbol.for("myclerk.error"), { value: true });
    this.code = code;
    this.detail = detail;
    this.extra = extra;
  }
}

/** Shorthand for `new MyClerkError(ErrorCode.BAD_REQUEST, detail)`. */
export function badRequest(detail: string, extra: ErrorExtra = {}): MyClerkError {
  return new MyClerkError(ErrorCode.BAD_REQUEST, detail, extra);
}

/** True when `e` is a {@link MyClerkError}. */
export function isMyClerkError(e: unknown): e is MyClerkError {
  return e instanceof MyClerkError;
}
