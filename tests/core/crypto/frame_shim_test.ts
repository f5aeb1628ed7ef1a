/**
 * The libcrypto back end's frame shim (core/crypto/native/frame.c through
 * core/crypto/frame_shim.ts): one FFI call per protected message.
 *
 * - sealing through it gives byte for byte what the per-primitive path and
 *   noble give, for Tiers 3-5, E=0 and E=1, framed or not, payloads 0..70000;
 *   noble opens what it seals and it opens what noble seals;
 * - any single bit flip of a sealed message is refused (trailer or tag),
 *   never opened;
 * - every range outside its buffer, an overflowing range, a bad trailer
 *   length and an overlapping output are refused before any byte changes;
 * - a session disposes the bound keys of every direction it retires
 *   (rotation, re-key, destroy);
 * - with `MYCLERK_FRAME_SHIM=off` (and equally when the shim is not built)
 *   the back end has no `frameKeys`, and a session seals the same bytes.
 *
 * The shim is built here first (core/crypto/native/build.sh, as the test
 * command's install step does). Skipped only when libcrypto does not
 * load or there is no C compiler / OpenSSL headers; with
 * MYCLERK_REQUIRE_REAL=1 that fails instead.
 */

import { deepStrictEqual, ok, strictEqual } from "node:assert/strict";
import fc from "fast-check";
import { REQUIRE_REAL } from "../../_support/real.ts";
import { ErrorCode, expectError, hex } from "./_util.ts";

const native = new URL("../../../core/crypto/native/", import.meta.url);
// Always (re)built: quick, and a build older than frame.c would not load ("stale").
{
  new Deno.Command("bash", { args: [new URL("build.sh", native).pathname], stderr: "inherit" })
    .outputSync();
}

// Imported after the build: the back end tries the shim once, on first load.
const { libcryptoBackend } = await import("../../../core/crypto/libcrypto.ts");
const { frameShimState } = await import("../../../core/crypto/frame_shim.ts");
const { nobleBackend } = await import("../../../core/crypto/noble.ts");
const protect = await import("../../../core/wire/protect.ts");
const { decodeMessage } = await import("../../../core/wire/message.ts");
const { Slab } = await import("../../../core/slab.ts");
const sessionUtil = await import("../session/_util.ts");
type CryptoBackend = import("../../../core/crypto/types.ts").CryptoBackend;
type FrameKeys = import("../../../core/crypto/types.ts").FrameKeys;
type FrameLayout = import("../../../core/crypto/types.ts").FrameLayout;
type ProtectedMessage = import("../../../core/wire/message.ts").ProtectedMessage;

const LIB = libcryptoBackend();
const ready = LIB !== undefined && LIB.frameKeys !== undefined;
if (!ready) {
  const why = `frame shim not in use (state ${frameShimState()}, libcrypto ${LIB !== undefined})`;
  if (REQUIRE_REAL) throw new Error(`frame shim suite cannot run: ${why}`);
  console.error(`[skip] ${why}`);
}
const ignore = !ready;
const lib = LIB as CryptoBackend;

const keyArb = fc.uint8Array({ minLength: 32, maxLength: 32 });
const caseArb = fc.record({
  tier: fc.constantFrom(3 as const, 4 as const, 5 as const),
  encrypted: fc.boolean(),
  framed: fc.boolean(),
  counter: fc.nat(0xffffffff),
  timestamp: fc.nat(0xffffffff),
  opcode: fc.nat(0xffff),
  sessionId: fc.nat(0xffff),
  keyId: fc.nat(0xffffffff),
  ecdh: keyArb,
  key: keyArb,
  mac: keyArb,
  iv: fc.uint8Array({ minLength: 4, maxLength: 4 }),
  payload: fc.oneof(
    fc.uint8Array({ maxLength: 40 }),
    fc.uint8Array({ minLength: 1000, maxLength: 1100 }),
  ),
});
type Case = typeof caseArb extends fc.Arbitrary<infer T> ? T : never;

function header(c: Case) {
  // Tier 5 is always encrypted (profile §4)
  const encrypted = c.tier === 5 ? true : c.encrypted;
  return {
    tier: c.tier,
    opcode: c.opcode,
    sessionId: c.sessionId,
    timestamp: c.timestamp,
    keyId: c.keyId,
    ecdh: c.ecdh,
    encrypted,
  };
}

function sealWith(b: CryptoBackend, c: Case, fk?: FrameKeys): Uint8Array {
  const keys = { key: c.key, mac: c.mac, iv: c.iv };
  return protect.sealMessage(b, header(c), c.counter, keys, c.payload, c.framed, new Slab(), fk)
    .slice();
}

function openWith(fk: FrameKeys, c: Case, bytes: Uint8Array): Uint8Array | "mac" | "aead" {
  const m = decodeMessage(c.framed ? bytes.subarray(4) : bytes) as ProtectedMessage;
  const r = protect.verifyAndOpen(
    fk,
    m,
    { key: c.key, mac: c.mac, iv: c.iv },
    c.counter,
    new Slab(),
  );
  return typeof r === "string" ? r : r.slice();
}

function openNoble(c: Case, bytes: Uint8Array): Uint8Array | "mac" {
  const m = decodeMessage(c.framed ? bytes.subarray(4) : bytes) as ProtectedMessage;
  const keys = { key: c.key, mac: c.mac, iv: c.iv };
  if (!protect.verifyTrailer(nobleBackend, m, c.mac)) return "mac";
  return protect.openPayload(nobleBackend, m, keys, c.counter).slice();
}

Deno.test({
  name: "frame shim: loaded here, and seals exactly like the per-call path and noble",
  ignore,
  fn() {
    strictEqual(frameShimState(), "loaded");
    fc.assert(
      fc.property(caseArb, (c) => {
        const fk = lib.frameKeys!(c.key, c.mac)!;
        try {
          const fast = sealWith(lib, c, fk);
          strictEqual(hex(fast), hex(sealWith(lib, c)));
          strictEqual(hex(fast), hex(sealWith(nobleBackend, c)));
          deepStrictEqual(openNoble(c, fast), c.payload);
          deepStrictEqual(openWith(fk, c, sealWith(nobleBackend, c)), c.payload);
        } finally {
          fk.dispose();
        }
      }),
      { numRuns: 300 },
    );
  },
});

Deno.test({
  name: "frame shim: a 70,000-byte payload and an empty one round-trip (Tier 4 and 5)",
  ignore,
  fn() {
    for (const tier of [4, 5] as const) {
      for (const n of [0, 16, 70_000]) {
        const c: Case = {
          tier,
          encrypted: true,
          framed: true,
          counter: 0x01020304,
          timestamp: 1_700_000_000,
          opcode: 0x0200,
          sessionId: 7,
          keyId: 3,
          ecdh: new Uint8Array(32).fill(9),
          key: new Uint8Array(32).fill(1),
          mac: new Uint8Array(32).fill(2),
          iv: Uint8Array.of(1, 2, 3, 4),
          payload: new Uint8Array(n).map((_, i) => i),
        };
        const fk = lib.frameKeys!(c.key, c.mac)!;
        const fast = sealWith(lib, c, fk);
        strictEqual(hex(fast), hex(sealWith(nobleBackend, c)));
        deepStrictEqual(openWith(fk, c, fast), c.payload);
        fk.dispose();
      }
    }
  },
});

Deno.test({
  name: "frame shim: every single bit flip of a Tier 4/5 message is refused, never opened",
  ignore,
  fn() {
    for (const tier of [4, 5] as const) {
      const c: Case = {
        tier,
        encrypted: true,
        framed: false,
        counter: 77,
        timestamp: 1_700_000_000,
        opcode: 0x0201,
        sessionId: 1,
        keyId: 0,
        ecdh: new Uint8Array(32).fill(3),
        key: new Uint8Array(32).fill(4),
        mac: new Uint8Array(32).fill(5),
        iv: Uint8Array.of(9, 9, 9, 9),
        payload: new Uint8Array(24).fill(0x5a),
      };
      const fk = lib.frameKeys!(c.key, c.mac)!;
      const good = sealWith(lib, c, fk);
      const seen = { mac: 0, aead: 0 };
      for (let bit = 0; bit < good.length * 8; bit++) {
        const bad = good.slice();
        bad[bit >>> 3] ^= 1 << (bit & 7);
        let r: Uint8Array | "mac" | "aead";
        try {
          r = openWith(fk, c, bad);
        } catch {
          continue; // the flags byte now says another tier / bad flags: refused by the decoder
        }
        ok(r === "mac" || r === "aead", `bit ${bit} opened`);
        seen[r]++;
      }
      // Tier 5's trailer covers only the header (with the tag): ciphertext
      // flips reach the AEAD, which must refuse them too
      ok(seen.mac > 0 && (tier === 4 || seen.aead > 0), JSON.stringify(seen));
      fk.dispose();
    }
  },
});

/** A valid layout over 200 bytes: AAD 0..20, payload 20..60, tag 60..76, trailer 76..84. */
function goodLayout(): FrameLayout {
  return {
    aead: true,
    aadOffset: 0,
    aadLength: 20,
    payloadOffset: 20,
    payloadLength: 40,
    tagOffset: 60,
    mac1Offset: 0,
    mac1Length: 20,
    mac2Offset: 60,
    mac2Length: 16,
    trailerOffset: 76,
    trailerLength: 8,
  };
}

Deno.test({
  name:
    "frame shim: ranges outside the buffer, overflow, bad trailer length, overlap: refused, nothing written",
  ignore,
  fn() {
    const fk = lib.frameKeys!(new Uint8Array(32).fill(1), new Uint8Array(32).fill(2))!;
    const nonce = new Uint8Array(12);
    const pl = new Uint8Array(40).map((_, i) => i + 1);
    const bads: Partial<Record<Exclude<keyof FrameLayout, "aead">, number>>[] = [
      { aadOffset: -1 },
      { aadLength: 201 },
      { aadOffset: 190, aadLength: 11 },
      { payloadOffset: 161 },
      { payloadLength: -40 },
      { payloadOffset: 0x7fff_fff0, payloadLength: 0x20 },
      { tagOffset: 185 },
      { tagOffset: -16 },
      { mac1Length: 201 },
      { mac2Offset: 0x7fff_ffff, mac2Length: 1 },
      { trailerOffset: 193 },
      { trailerLength: 0 },
      { trailerLength: 33 },
      { aadOffset: 2 ** 32 + 1 }, // `| 0` makes it 1: in range, so this one must pass
    ];
    for (const b of bads) {
      const l = { ...goodLayout(), ...b };
      const buf = new Uint8Array(200).fill(0xee);
      const before = hex(buf);
      if (b.aadOffset === 2 ** 32 + 1) {
        fk.seal(buf, nonce, l, pl);
        continue;
      }
      expectError(() => fk.seal(buf, nonce, l, pl), ErrorCode.BAD_REQUEST, "frame-layout");
      strictEqual(hex(buf), before, JSON.stringify(b));
      const out = new Uint8Array(40).fill(0x11);
      expectError(() => fk.open(buf, nonce, l, out), ErrorCode.BAD_REQUEST, "frame-layout");
      strictEqual(hex(buf), before);
      ok(out.every((x) => x === 0x11));
    }
    // a short buffer view: the length passed is the view's own
    const whole = new Uint8Array(200);
    expectError(
      () => fk.seal(whole.subarray(0, 80), nonce, goodLayout(), pl),
      ErrorCode.BAD_REQUEST,
      "frame-layout",
    );
    ok(whole.every((x) => x === 0));
    // output too short, and output partially overlapping the ciphertext
    const buf = new Uint8Array(200);
    // the payload must be exactly payloadLength bytes, and not partly overlap its place
    expectError(
      () => fk.seal(buf, nonce, goodLayout(), new Uint8Array(39)),
      ErrorCode.BAD_REQUEST,
      "frame-layout",
    );
    expectError(
      () => fk.seal(buf, nonce, goodLayout(), buf.subarray(25, 65)),
      ErrorCode.BAD_REQUEST,
      "frame-layout",
    );
    ok(buf.every((x) => x === 0));
    // exactly in place is fine, and equals sealing from a separate buffer
    const other = new Uint8Array(200);
    other.set(pl, 20);
    fk.seal(other, nonce, goodLayout(), other.subarray(20, 60));
    fk.seal(buf, nonce, goodLayout(), pl);
    strictEqual(hex(buf), hex(other));
    expectError(
      () => fk.open(buf, nonce, goodLayout(), new Uint8Array(39)),
      ErrorCode.BAD_REQUEST,
      "frame-layout",
    );
    expectError(
      () => fk.open(buf, nonce, goodLayout(), buf.subarray(30, 70)),
      ErrorCode.BAD_REQUEST,
      "frame-layout",
    );
    // exactly in place is allowed
    strictEqual(fk.open(buf, nonce, goodLayout(), buf.subarray(20, 60)), 0);
    expectError(() => fk.seal(buf, new Uint8Array(11), goodLayout(), pl), ErrorCode.BAD_REQUEST);
    expectError(
      () => lib.frameKeys!(new Uint8Array(31), new Uint8Array(32)),
      ErrorCode.BAD_REQUEST,
      "key-size",
    );
    fk.dispose();
    fk.dispose(); // idempotent
    expectError(() => fk.seal(buf, nonce, goodLayout(), pl), ErrorCode.INTERNAL_ERROR);
  },
});

Deno.test({
  name: "frame shim: a session disposes the bound keys of every direction it retires",
  ignore,
  fn() {
    const live = new Set<FrameKeys>();
    let made = 0;
    const counting: CryptoBackend = {
      ...lib,
      frameKeys(key, mac) {
        const inner = lib.frameKeys!(key, mac)!;
        made++;
        const w: FrameKeys = {
          seal: (b, n, l, p) => inner.seal(b, n, l, p),
          open: (b, n, l, o) => inner.open(b, n, l, o),
          dispose() {
            live.delete(w);
            inner.dispose();
          },
        };
        live.add(w);
        return w;
      },
    };
    const { a, b, outA, outB } = sessionUtil.pair(counting, 5);
    const pump = () => {
      for (const m of outA.splice(0)) b.receive(m);
      for (const m of outB.splice(0)) a.receive(m);
    };
    a.send(0x0200, new Uint8Array(10));
    b.send(0x0200, new Uint8Array(10));
    pump();
    strictEqual(live.size, 4); // two directions, each side
    a.rotate(false);
    pump();
    a.send(0x0200, new Uint8Array(10));
    pump();
    // a's old send keys are gone; b keeps its previous receive direction (grace period)
    strictEqual(live.size, 5);
    a.rekey();
    pump();
    a.send(0x0200, new Uint8Array(10));
    b.send(0x0200, new Uint8Array(10));
    pump();
    a.destroy();
    b.destroy();
    strictEqual(live.size, 0, `made ${made}, still live ${live.size}`);
  },
});

Deno.test({
  name: "frame shim: MYCLERK_FRAME_SHIM=off falls back to per-call FFI with the same bytes",
  ignore,
  async fn() {
    const script = `
      import { libcryptoBackend } from "${new URL(
      "../../../core/crypto/libcrypto.ts",
      import.meta.url,
    )}";
      import { frameShimState } from "${new URL(
      "../../../core/crypto/frame_shim.ts",
      import.meta.url,
    )}";
      import { sealMessage } from "${new URL("../../../core/wire/protect.ts", import.meta.url)}";
      const b = libcryptoBackend();
      const keys = { key: new Uint8Array(32).fill(1), mac: new Uint8Array(32).fill(2), iv: new Uint8Array(4).fill(3) };
      const h = { tier: 5, opcode: 0x200, sessionId: 9, timestamp: 1700000000, keyId: 1, ecdh: new Uint8Array(32).fill(4), encrypted: true };
      const m = sealMessage(b, h, 12345, keys, new Uint8Array(100).fill(5), true);
      console.log(JSON.stringify({ state: frameShimState(), fast: typeof b.frameKeys, hex: Array.from(m, (x) => x.toString(16).padStart(2, "0")).join("") }));
    `;
    const run = async (env: Record<string, string>) => {
      const out = await new Deno.Command(Deno.execPath(), {
        args: ["eval", "--config", new URL("../../../deno.json", import.meta.url).pathname, script],
        env,
        stdout: "piped",
        stderr: "piped",
      }).output();
      ok(out.success, new TextDecoder().decode(out.stderr));
      return JSON.parse(new TextDecoder().decode(out.stdout).trim());
    };
    const off = await run({ MYCLERK_FRAME_SHIM: "off" });
    const on = await run({});
    strictEqual(off.state, "disabled");
    strictEqual(off.fast, "undefined");
    strictEqual(on.state, "loaded");
    strictEqual(on.fast, "function");
    // sealed without frameKeys in both; now the in-process shim must agree
    strictEqual(off.hex, on.hex);
    const keys = {
      key: new Uint8Array(32).fill(1),
      mac: new Uint8Array(32).fill(2),
      iv: new Uint8Array(4).fill(3),
    };
    const fk = lib.frameKeys!(keys.key, keys.mac)!;
    const m = protect.sealMessage(
      lib,
      {
        tier: 5,
        opcode: 0x200,
        sessionId: 9,
        timestamp: 1700000000,
        keyId: 1,
        ecdh: new Uint8Array(32).fill(4),
        encrypted: true,
      },
      12345,
      keys,
      new Uint8Array(100).fill(5),
      true,
      undefined,
      fk,
    );
    fk.dispose();
    strictEqual(hex(m), off.hex);
  },
});

Deno.test({
  name:
    "frame shim: a session over it drops in the profile's receive order (key, stale, replay before aead)",
  ignore,
  fn() {
    const { a, b, outA, clock } = sessionUtil.pair(lib, 5);
    a.send(0x0200, new Uint8Array(50).fill(1));
    const good = outA.splice(0)[0];
    const r1 = b.receive(good);
    strictEqual(r1.kind, "message");
    // replayed: trailer and tag are fine, the window refuses it
    strictEqual(b.receive(good).kind, "drop");
    strictEqual(b.drops.replay, 1);
    // ciphertext flipped (outside Tier 5's trailer input): an AEAD failure
    a.send(0x0200, new Uint8Array(50).fill(2));
    const m2 = outA.splice(0)[0].slice();
    m2[64 + 3] ^= 1;
    strictEqual(b.receive(m2).kind, "drop");
    strictEqual(b.drops.aead, 1);
    // flipped ciphertext AND out of the skew window: stale comes first
    a.send(0x0200, new Uint8Array(50).fill(3));
    const m3 = outA.splice(0)[0].slice();
    m3[64 + 3] ^= 1;
    clock.t += 10_000;
    strictEqual(b.receive(m3).kind, "drop");
    strictEqual(b.drops.stale, 1);
    strictEqual(b.drops.aead, 1);
    clock.t -= 10_000;
    a.send(0x0200, new Uint8Array(50).fill(4));
    const r4 = b.receive(outA.splice(0)[0]);
    ok(r4.kind === "message" && r4.payload.every((x) => x === 4));
    strictEqual(b.drops.mac, 0);
  },
});

Deno.test({
  name:
    "frame shim: inPlace sessions open over the ciphertext; a dropped message's plaintext is wiped",
  ignore,
  fn() {
    for (const tier of [4, 5] as const) {
      const { a, b, outA, clock } = sessionUtil.pair(lib, tier, { inPlace: true });
      const body = new Uint8Array(300).map((_, i) => (i * 13 + 1) & 0xff);
      a.send(0x0200, body);
      const m = outA.splice(0)[0];
      const copy = m.slice();
      const r = b.receive(m);
      ok(r.kind === "message");
      deepStrictEqual(r.payload, body);
      // the payload is a view of the bytes handed over (no new buffer)
      strictEqual(r.payload.buffer, m.buffer);
      // a replay of the original bytes is still refused by the window
      strictEqual(b.receive(copy).kind, "drop");
      strictEqual(b.drops.replay, 1);
      // stale after a successful trailer check and open: the plaintext is wiped
      a.send(0x0200, body);
      const s = outA.splice(0)[0];
      clock.t += 10_000;
      strictEqual(b.receive(s).kind, "drop");
      strictEqual(b.drops.stale, 1);
      const hl = tier === 5 ? 64 : 48;
      ok(s.subarray(hl, hl + body.length).every((x) => x === 0), "plaintext left behind");
      clock.t -= 10_000;
      // a bad tag wipes the region and opens nothing
      a.send(0x0200, body);
      const t = outA.splice(0)[0];
      t[hl + 5] ^= 1;
      // (the trailer covers header || tag, not the ciphertext: the AEAD refuses it)
      strictEqual(b.receive(t).kind, "drop");
      strictEqual(b.drops.aead, 1);
      ok(t.subarray(hl, hl + body.length).every((x) => x === 0), "unauthenticated bytes left");
      a.send(0x0200, body);
      const last = b.receive(outA.splice(0)[0]);
      ok(last.kind === "message");
      deepStrictEqual(last.payload, body);
    }
  },
});
