/**
 * Minimal assertions for the federation tests (deno std is not reachable).
 *
 * @module
 */

import { isDeepStrictEqual } from "node:util";

/** Throws when `a` and `b` are not deeply equal (Uint8Arrays compared by content). */
export function assertEquals<T>(a: T, b: T, msg?: string): void {
  if (!isDeepStrictEqual(a, b)) {
    throw new Error(`${msg ?? "not equal"}:\n  actual:   ${show(a)}\n  expected: ${show(b)}`);
  }
}

/** Throws unless `v` is truthy. */
export function assert(v: unknown, msg = "assertion failed"): asserts v {
  if (!v) throw new Error(msg);
}

function show(v: unknown): string {
  return Deno.inspect(v, { depth: 6, colors: false, strAbbreviateSize: 200 });
}

/** Runs `f`, requires it to throw an instance of `cls`, returns the error. */
export function assertThrows<E extends Error>(
  f: () => unknown,
  cls: new (...args: never[]) => E,
  msg?: string,
): E {
  try {
    f();
  } catch (e) {
    if (e instanceof cls) return e;
    throw new Error(`${msg ?? "wrong error type"}: ${String(e)}`);
  }
  throw new Error(msg ?? "expected a throw");
}

/** Async variant of {@link assertThrows}. */
export async function assertRejects<E extends Error>(
  f: () => Promise<unknown>,
  cls: new (...args: never[]) => E,
  msg?: string,
): Promise<E> {
  try {
    await f();
  } catch (e) {
    if (e instanceof cls) return e;
    throw new Error(`${msg ?? "wrong error type"}: ${String(e)}`);
  }
  throw new Error(msg ?? "expected a rejection");
}
