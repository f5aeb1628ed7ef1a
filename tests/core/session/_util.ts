/**
 * Shared helpers of the session tests and the fuzz suite: both crypto back
 * ends, a typed "expect MyClerkError" assertion, a full real handshake that
 * yields two established {@link Session}s wired to outboxes, and a manual
 * clock.
 *
 * @module
 */

import { type ErrorCodeValue, isMyClerkError, type MyClerkError } from "../../../core/errors.ts";
import { backend, libcryptoWorks } from "../../../core/crypto/mod.ts";
import type { CryptoBackend } from "../../../core/crypto/types.ts";
import {
  type EstablishedState,
  type Identity,
  identityFrom,
  Initiator,
  type InitiatorOptions,
  Responder,
  type ResponderOptions,
} from "../../../core/session/handshake.ts";
import { Session, type SessionOptions } from "../../../core/session/session.ts";
import type { Tier } from "../../../core/wire/header.ts";

/**
 * Every back end that works here: each crypto-using property runs against
 * each. libcrypto comes with its frame shim when built (one call per
 * message: core/crypto/frame_shim.ts), so the session's fast path is held
 * to the same properties as node and noble.
 */
export const BACKENDS: readonly CryptoBackend[] = [
  ...(libcryptoWorks() ? [backend("libcrypto")] : []),
  backend("node"),
  backend("noble"),
];

/** A fixed "now" (Unix seconds) so timestamps are reproducible. */
export const T0 = 1_700_000_000;

/** A settable clock in Unix seconds. */
export class Clock {
  /** Current time in seconds. */
  t: number;
  /** Starts at `t` (default {@link T0}). */
  constructor(t = T0) {
    this.t = t;
  }
  /** The clock function to inject. */
  readonly now = (): number => this.t;
}

/**
 * Runs `fn` and returns the MyClerkError it throws; fails when it returns
 * normally or throws anything else. Checks `code` and `detail` when given.
 */
export function expectMyClerk(
  fn: () => unknown,
  code?: ErrorCodeValue,
  detail?: string,
): MyClerkError {
  let thrown: unknown;
  try {
    fn();
  } catch (e) {
    thrown = e;
  }
  if (thrown === undefined) {
    throw new Error(`expected MyClerkError ${code ?? ""} ${detail ?? ""}, got no error`);
  }
  if (!isMyClerkError(thrown)) throw new Error(`expected MyClerkError, got ${String(thrown)}`);
  if (code !== undefined && thrown.code !== code) {
    throw new Error(`expected code 0x${code.toString(16)}, got ${thrown.message}`);
  }
  if (detail !== undefined && thrown.detail !== detail) {
    throw new Error(`expected detail ${detail}, got ${thrown.message}`);
  }
  return thrown;
}

/** Deterministic identity from a seed byte (private key = 32 bytes of `seed`). */
export function identity(b: CryptoBackend, seed: number): Identity {
  return identityFrom(b, new Uint8Array(32).fill(seed & 0xff));
}

/** Result of {@link handshake}. */
export interface HandshakeResult {
  readonly m1: Uint8Array;
  readonly m2: Uint8Array;
  readonly m3: Uint8Array;
  readonly initiator: EstablishedState;
  readonly responder: EstablishedState;
}

/** Runs M1/M2/M3 between a fresh initiator and responder. */
export function handshake(
  b: CryptoBackend,
  io: Partial<InitiatorOptions> = {},
  ro: Partial<ResponderOptions> = {},
): HandshakeResult {
  const clock = new Clock();
  const ini = new Initiator({ backend: b, identity: identity(b, 1), now: clock.now, ...io });
  const res = new Responder({
    backend: b,
    identity: identity(b, 2),
    now: clock.now,
    sessionId: 77,
    ...ro,
  });
  const m1 = ini.start();
  const m2 = res.accept(m1);
  const { m3, state } = ini.finish(m2);
  const responder = res.complete(m3);
  return { m1, m2, m3, initiator: state, responder };
}

/** Two sessions of one handshake, each with an outbox of sealed messages. */
export interface Pair {
  readonly a: Session;
  readonly b: Session;
  /** Messages `a` sent (not yet delivered). */
  readonly outA: Uint8Array[];
  /** Messages `b` sent (not yet delivered). */
  readonly outB: Uint8Array[];
  readonly clock: Clock;
  readonly hs: HandshakeResult;
}

/**
 * Establishes a session pair at `tier` (initiator `a`, responder `b`), both
 * using one manual clock. Extra session options apply to both sides.
 */
export function pair(
  bk: CryptoBackend,
  tier: Tier,
  extra: Partial<Omit<SessionOptions, "backend" | "send" | "now">> = {},
): Pair {
  const hs = handshake(bk, { tier, minTier: tier });
  const clock = new Clock();
  const outA: Uint8Array[] = [];
  const outB: Uint8Array[] = [];
  const a = new Session(hs.initiator, {
    backend: bk,
    send: (x) => outA.push(x),
    now: clock.now,
    ...extra,
  });
  const b = new Session(hs.responder, {
    backend: bk,
    send: (x) => outB.push(x),
    now: clock.now,
    ...extra,
  });
  return { a, b, outA, outB, clock, hs };
}

/** Moves every queued message from `out` into `to.receive` and returns the results. */
export function deliver(out: Uint8Array[], to: Session): ReturnType<Session["receive"]>[] {
  const r = out.splice(0).map((m) => to.receive(m));
  return r;
}

/** True when two byte arrays are equal. */
export function same(x: Uint8Array, y: Uint8Array): boolean {
  return x.length === y.length && x.every((v, i) => v === y[i]);
}
