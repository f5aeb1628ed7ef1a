/**
 * Protocol error codes and the error type a plugin throws (docs/PROTOCOL.md
 * §10). The SDK's own copy, so a plugin needs nothing outside `plugins/sdk/`;
 * the codes equal the node's (checked by tests/vendor/sdk_test.ts) and the
 * host recognises any error with a numeric `code` and a string `detail`.
 *
 * @module
 */

/**
 * Error codes of the profile (docs/PROTOCOL.md §10).
 *
 * @example fail(ErrorCode.NOT_FOUND, "no-such-item")
 */
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

/**
 * A numeric error code from {@link ErrorCode}.
 *
 * @example const c: ErrorCodeValue = ErrorCode.BAD_REQUEST
 */
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

/**
 * The error a handler throws (or {@link fail} throws for it); the host
 * answers it as ERROR with this code, detail and extras.
 *
 * @example throw new MyClerkError(ErrorCode.BAD_REQUEST, "field:text", { expected: "string" })
 */
export class MyClerkError extends Error {
  /**
   * One brand for this class and the node's own (core/errors.ts): `instanceof`
   * holds for either, so a plugin may mix them.
   */
  static override [Symbol.hasInstance](x: unknown): boolean {
    return typeof x === "object" && x !== null &&
      (x as Record<symbol, unknown>)[Symbol.for("myclerk.error")] === true;
  }
  /** Protocol error code. */
  readonly code: ErrorCodeValue;
  /** Short machine-friendly reason. */
  readonly detail: string;
  /** Extra fields; they reach the client in the ERROR's `extra` map. */
  readonly extra: Readonly<Record<string, unknown>>;

  /** Creates an error with a code, a detail and optional extras / cause. */
  constructor(
    code: ErrorCodeValue,
    detail: string,
    extra: Readonly<Record<string, unknown>> = {},
    cause?: unknown,
  ) {
    super(`${errorName(code)}: ${detail}`, cause === undefined ? undefined : { cause });
    this.name = "MyClerkError";
    Object.defineProperty(this, Symbol.for("myclerk.error"), { value: true });
    this.code = code;
    this.detail = detail;
    this.extra = extra;
  }
}

/**
 * True for any protocol error: this SDK's {@link MyClerkError}, the node's
 * own, or any Error with a numeric `code` and a string `detail`.
 *
 * @example if (isProtocolError(e)) console.log(e.code, e.detail)
 */
export function isProtocolError(
  e: unknown,
): e is Error & {
  readonly code: number;
  readonly detail: string;
  readonly extra?: Readonly<Record<string, unknown>>;
} {
  if (!(e instanceof Error)) return false;
  const x = e as unknown as Record<string, unknown>;
  return typeof x.code === "number" && typeof x.detail === "string";
}

/**
 * Throws a protocol error from a handler (the host answers it as an ERROR;
 * `extra` reaches the client as the ERROR's `extra` map).
 *
 * @example if (!ok) fail(ErrorCode.NOT_FOUND, "no-such-port", { port: 3 })
 */
export function fail(
  code: ErrorCodeValue,
  detail: string,
  extra: Record<string, unknown> = {},
): never {
  throw new MyClerkError(code, detail, extra);
}
