/**
 * Option parsers shared by every subcommand (commander `argParser`s): whole
 * numbers in a range, tiers, ports, durations. A bad value stops the command
 * before it does anything, with commander's usage error (exit code 2, see
 * main.ts) naming the option and what it takes:
 * `-n must be a whole number from 1 to 100000, got "abc"`.
 *
 * @module
 */
import { InvalidArgumentError } from "commander";

/**
 * A parser for a whole number from `min` to `max`, named `name` in its error
 * (the short or long option, e.g. `-n` or `--ttl`); `unit` follows "number"
 * ("of seconds").
 */
export function intArg(
  name: string,
  min: number,
  max: number,
  unit = "",
): (value: string) => number {
  return (value: string) => {
    const v = value.trim();
    const n = /^[+]?\d+$/.test(v) ? Number(v) : NaN;
    if (!Number.isSafeInteger(n) || n < min || n > max) {
      throw new InvalidArgumentError(
        `${name} must be a whole number${
          unit ? ` ${unit}` : ""
        } from ${min} to ${max}, got "${value}"`,
      );
    }
    return n;
  };
}

/** A tier 0-5 (profile §1.3). */
export function tierArg(name: string): (value: string) => number {
  return intArg(name, 0, 5);
}

/** A TCP port 1-65535 (0, "any free port", only where `allowZero`). */
export function portArg(name: string, allowZero = false): (value: string) => number {
  return intArg(name, allowZero ? 0 : 1, 65_535);
}

/** A `HOST:PORT` whose port is 0-65535 (IPv6 in brackets); returned unchanged. */
export function hostPortArg(name: string): (value: string) => string {
  return (value: string) => {
    const m = /^(\[[0-9a-fA-F:]+\]|[A-Za-z0-9.\-]+|[0-9a-fA-F:]+):(\d{1,5})$/.exec(value);
    if (!m || Number(m[2]) > 65_535) {
      throw new InvalidArgumentError(
        `${name} must be HOST:PORT with a port from 0 to 65535 (e.g. 0.0.0.0:5657 or [::1]:5657), got "${value}"`,
      );
    }
    return value;
  };
}

/** The largest TTL any command accepts, seconds (10 years; the relay caps it by its maxTtl). */
export const MAX_TTL_SECONDS = 10 * 365 * 86_400;
