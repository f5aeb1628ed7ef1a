/**
 * Minimal assertions (deno std is not reachable): deep equality through
 * node:assert, with Deno-std-like names.
 *
 * @module
 */
import { deepStrictEqual, ok, rejects, throws } from "node:assert";

/** Asserts deep strict equality. */
export function assertEquals<T>(actual: T, expected: T, msg?: string): void {
  deepStrictEqual(actual, expected, msg);
}

/** Asserts a truthy value. */
export function assert(v: unknown, msg?: string): asserts v {
  ok(v, msg);
}

/** Asserts that `f` throws; returns the error. */
export function assertThrows(f: () => unknown, msg?: string): unknown {
  let caught: unknown;
  throws(() => {
    try {
      f();
    } catch (e) {
      caught = e;
      throw e;
    }
  }, msg);
  return caught;
}

/** Asserts that a promise rejects; returns the error. */
export async function assertRejects(p: Promise<unknown>, msg?: string): Promise<unknown> {
  let caught: unknown;
  await rejects(
    p.catch((e) => {
      caught = e;
      throw e;
    }),
    msg,
  );
  return caught;
}
