/**
 * The frame shim keeps one cipher context per thread and operation, shared
 * by every direction and re-keyed when another direction used it last
 * (core/crypto/native/frame.c `ctx_for`): an idle connection then holds no
 * OpenSSL cipher state. What must hold:
 *
 * - many sessions sealing and opening in any interleaving each use their
 *   own keys: every session over the shim talks to a peer on the
 *   per-primitive path (which holds no shared state), so a message sealed
 *   or opened with another session's key fails there;
 * - a session destroyed while its key is in the shared context, and new
 *   sessions made after it (whose keyed state may reuse the same address),
 *   never seal or open with the old key;
 * - one session sealing many messages in a row (the context kept) gives
 *   the same bytes as the per-primitive path.
 *
 * Skipped only when the shim is not in use (no libcrypto, no compiler);
 * with MYCLERK_REQUIRE_REAL=1 that fails instead.
 */

import { ok, strictEqual } from "node:assert/strict";
import fc from "fast-check";
import { REQUIRE_REAL } from "../../_support/real.ts";

const native = new URL("../../../core/crypto/native/", import.meta.url);
{
  new Deno.Command("bash", { args: [new URL("build.sh", native).pathname], stderr: "inherit" })
    .outputSync();
}

const { libcryptoBackend } = await import("../../../core/crypto/libcrypto.ts");
const { frameShimState } = await import("../../../core/crypto/frame_shim.ts");
const sessionUtil = await import("../session/_util.ts");
const { Session } = await import("../../../core/session/session.ts");
type CryptoBackend = import("../../../core/crypto/types.ts").CryptoBackend;
type Pair = import("../session/_util.ts").Pair;

const LIB = libcryptoBackend();
const ready = LIB !== undefined && LIB.frameKeys !== undefined;
if (!ready) {
  const why = `frame shim not in use (state ${frameShimState()}, libcrypto ${LIB !== undefined})`;
  if (REQUIRE_REAL) throw new Error(`frame shim suite cannot run: ${why}`);
  console.error(`[skip] ${why}`);
}
const ignore = !ready;
const lib = LIB as CryptoBackend;

/** The same back end without the shim: the per-primitive FFI path. */
function withoutShim(b: CryptoBackend): CryptoBackend {
  const { frameKeys: _drop, ...rest } = b;
  return rest as CryptoBackend;
}

/** A session over the shim (`a`) and its peer on the per-primitive path (`b`). */
function mixedPair(tier: 4 | 5): Pair {
  const hs = sessionUtil.handshake(lib, { tier, minTier: tier });
  const outA: Uint8Array[] = [];
  const outB: Uint8Array[] = [];
  const now = () => sessionUtil.T0;
  const a = new Session(hs.initiator, { backend: lib, send: (x) => outA.push(x), now });
  const b = new Session(hs.responder, {
    backend: withoutShim(lib),
    send: (x) => outB.push(x),
    now,
  });
  return { a, b, outA, outB, clock: new sessionUtil.Clock(), hs };
}

/** Sends one message a -> b (or b -> a) and checks it opens there with its payload. */
function roundTrip(p: Pair, forward: boolean, fill: number, len: number): void {
  const [from, to, out] = forward ? [p.a, p.b, p.outA] : [p.b, p.a, p.outB];
  from.send(0x0200, new Uint8Array(len).fill(fill));
  const msgs = out.splice(0);
  strictEqual(msgs.length, 1);
  const r = to.receive(msgs[0]);
  ok(r.kind === "message", `opened at its peer (got ${r.kind})`);
  ok(r.payload.length === len && r.payload.every((x) => x === fill), "payload intact");
}

Deno.test({
  name: "frame shim (shared context): interleaved sessions each seal and open with their own keys",
  ignore,
  fn() {
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            i: fc.nat(7),
            forward: fc.boolean(),
            fill: fc.integer({ min: 0, max: 255 }),
            len: fc.integer({ min: 0, max: 300 }),
          }),
          { minLength: 1, maxLength: 60 },
        ),
        (steps) => {
          const pairs = Array.from({ length: 8 }, (_, k) => mixedPair(k % 2 ? 4 : 5));
          for (const s of steps) roundTrip(pairs[s.i], s.forward, s.fill, s.len);
          // a message sealed by pair 0 is refused by pair 1 (another key), never opened
          pairs[0].a.send(0x0200, new Uint8Array(10));
          const stray = pairs[0].outA.splice(0)[0];
          strictEqual(pairs[1].b.receive(stray).kind, "drop");
          for (const p of pairs) {
            p.a.destroy();
            p.b.destroy();
          }
        },
      ),
      { numRuns: 40 },
    );
  },
});

Deno.test({
  name:
    "frame shim (shared context): destroying the session whose key is loaded, then new sessions, never reuses that key",
  ignore,
  fn() {
    const live = mixedPair(5);
    for (let round = 0; round < 200; round++) {
      const p = mixedPair(round % 2 ? 4 : 5);
      roundTrip(p, true, round & 0xff, 64); // p's keys are now the loaded ones
      roundTrip(p, false, 1, 64);
      p.a.destroy();
      p.b.destroy();
      // the next session (often at the freed state's address) and a long-lived one still work
      roundTrip(live, round % 2 === 0, 7, 40);
    }
  },
});

Deno.test({
  name:
    "frame shim (shared context): a run of messages of one session is byte for byte the per-primitive path",
  ignore,
  fn() {
    const hs = sessionUtil.handshake(lib, { tier: 5, minTier: 5 });
    const outShim: Uint8Array[] = [];
    const outRef: Uint8Array[] = [];
    const now = () => sessionUtil.T0;
    const s1 = new Session(hs.initiator, { backend: lib, send: (x) => outShim.push(x), now });
    for (let k = 0; k < 20; k++) s1.send(0x0200, new Uint8Array(100 + k).fill(k));
    // A second session from the same state (keys copied first: destroy wipes them).
    const s2 = new Session(copyState(hs.initiator), {
      backend: withoutShim(lib),
      send: (x) => outRef.push(x),
      now,
    });
    s1.destroy();
    for (let k = 0; k < 20; k++) s2.send(0x0200, new Uint8Array(100 + k).fill(k));
    strictEqual(outShim.length, 20);
    for (let k = 0; k < 20; k++) ok(sessionUtil.same(outShim[k], outRef[k]), `message ${k}`);
  },
});

type State = import("../../../core/session/handshake.ts").EstablishedState;

/** A deep copy of the key material, so destroying one session leaves the other's keys. */
function copyState(s: State): State {
  const d = (k: State["keys"]["i2r"]) => ({
    key: k.key.slice(),
    mac: k.mac.slice(),
    iv: k.iv.slice(),
  });
  return {
    ...s,
    keys: { i2r: d(s.keys.i2r), r2i: d(s.keys.r2i), resume: s.keys.resume.slice() },
  };
}
