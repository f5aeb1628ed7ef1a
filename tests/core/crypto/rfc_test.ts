/**
 * Known-answer tests from the RFCs (ChaCha20-Poly1305 RFC 8439 §2.8.2,
 * X25519 RFC 7748 §5.2/§6.1, HKDF RFC 5869 A.1-A.3, CRC-16 check value) for
 * every back end (libcrypto too when `libcrypto.so.3` loads; required with
 * MYCLERK_REQUIRE_REAL=1), plus cross-backend property tests, the optional
 * `chachaSealInto` contract and the error contract.
 */

import { deepStrictEqual, strictEqual } from "node:assert/strict";
import fc from "fast-check";
import { crc16 } from "../../../core/crypto/crc16.ts";
import { timingSafeEqual, zeroize } from "../../../core/crypto/ct.ts";
import {
  backend,
  libcryptoWorks,
  nobleBackend,
  nodeBackend,
  nodeChachaWorks,
} from "../../../core/crypto/mod.ts";
import { isAllZero } from "../../../core/crypto/validate.ts";
import { MyClerkError } from "../../../core/errors.ts";
import { REQUIRE_REAL } from "../../_support/real.ts";
import { BACKENDS, ErrorCode, expectError, hex, LIBCRYPTO, readJson, unhex } from "./_util.ts";

interface RfcVectors {
  readonly rfc8439_aead: {
    readonly key: string;
    readonly nonce: string;
    readonly aad: string;
    readonly plaintext: string;
    readonly ciphertext: string;
    readonly tag: string;
  };
  readonly rfc7748_scalarmult: ReadonlyArray<{ scalar: string; u: string; out: string }>;
  readonly rfc7748_iterated: { start: string; after1: string; after1000: string };
  readonly rfc7748_dh: {
    alicePrivate: string;
    alicePublic: string;
    bobPrivate: string;
    bobPublic: string;
    shared: string;
  };
  readonly rfc5869: ReadonlyArray<{
    name: string;
    ikm: string;
    salt: string;
    info: string;
    length: number;
    prk: string;
    okm: string;
  }>;
  readonly crc16: { input: string; check: number };
}

const V = readJson<RfcVectors>("./vectors/rfc.json");

for (const c of BACKENDS) {
  Deno.test(`[${c.name}] RFC 8439 §2.8.2 AEAD seal/open, attached and detached`, () => {
    const v = V.rfc8439_aead;
    const [key, nonce, aad, pt] = [unhex(v.key), unhex(v.nonce), unhex(v.aad), unhex(v.plaintext)];
    const sealed = c.chachaSeal(key, nonce, aad, pt);
    strictEqual(hex(sealed), v.ciphertext + v.tag);
    strictEqual(hex(c.chachaOpen(key, nonce, aad, sealed)), v.plaintext);
    const d = c.chachaSealDetached(key, nonce, aad, pt);
    strictEqual(hex(d.ciphertext), v.ciphertext);
    strictEqual(hex(d.tag), v.tag);
    strictEqual(hex(c.chachaOpenDetached(key, nonce, aad, d.ciphertext, d.tag)), v.plaintext);
    // every single-bit flip in tag, ciphertext or AAD must fail authentication
    for (const i of [0, sealed.length - 1, sealed.length - 16, 5]) {
      const bad = sealed.slice();
      bad[i] ^= 1;
      expectError(
        () => c.chachaOpen(key, nonce, aad, bad),
        ErrorCode.UNAUTHORIZED,
        "aead",
        `flip ${i}`,
      );
    }
    const badAad = aad.slice();
    badAad[0] ^= 0x80;
    expectError(() => c.chachaOpen(key, nonce, badAad, sealed), ErrorCode.UNAUTHORIZED, "aead");
    const badTag = d.tag.slice();
    badTag[15] ^= 1;
    expectError(
      () => c.chachaOpenDetached(key, nonce, aad, d.ciphertext, badTag),
      ErrorCode.UNAUTHORIZED,
      "aead",
    );
  });

  Deno.test(`[${c.name}] inputs may be views at odd offsets of a larger buffer`, () => {
    const v = V.rfc8439_aead;
    // lay every input out inside one frame-like buffer, at odd offsets
    const parts = [v.key, v.nonce, v.aad, v.plaintext, v.ciphertext + v.tag].map(unhex);
    const frame = new Uint8Array(3 + parts.reduce((n, p) => n + p.length + 1, 0));
    let off = 3;
    const views = parts.map((p) => {
      frame.set(p, off);
      const view = frame.subarray(off, off + p.length);
      off += p.length + 1;
      return view;
    });
    const [key, nonce, aad, pt, sealed] = views;
    strictEqual(hex(c.chachaSeal(key, nonce, aad, pt)), v.ciphertext + v.tag);
    strictEqual(hex(c.chachaOpen(key, nonce, aad, sealed)), v.plaintext);
    const ct = sealed.subarray(0, sealed.length - 16), tag = sealed.subarray(sealed.length - 16);
    strictEqual(hex(c.chachaOpenDetached(key, nonce, aad, ct, tag)), v.plaintext);
    const before = hex(frame);
    c.aesGcmOpen(key, nonce, aad, c.aesGcmSeal(key, nonce, aad, pt));
    strictEqual(hex(frame), before, "inputs are never written to");
  });

  Deno.test(`[${c.name}] RFC 7748 §5.2 scalar multiplication vectors`, () => {
    for (const v of V.rfc7748_scalarmult) {
      strictEqual(hex(c.x25519(unhex(v.scalar), unhex(v.u))), v.out);
    }
  });

  Deno.test(`[${c.name}] RFC 7748 §5.2 iterated: 1 and 1000 iterations`, () => {
    let k: Uint8Array = unhex(V.rfc7748_iterated.start);
    let u: Uint8Array = k.slice();
    for (let i = 1; i <= 1000; i++) {
      const r = c.x25519(k, u);
      u = k;
      k = r;
      if (i === 1) strictEqual(hex(k), V.rfc7748_iterated.after1);
    }
    strictEqual(hex(k), V.rfc7748_iterated.after1000);
  });

  Deno.test(`[${c.name}] RFC 7748 §6.1 Diffie-Hellman`, () => {
    const v = V.rfc7748_dh;
    strictEqual(hex(c.x25519Public(unhex(v.alicePrivate))), v.alicePublic);
    strictEqual(hex(c.x25519Public(unhex(v.bobPrivate))), v.bobPublic);
    strictEqual(hex(c.x25519(unhex(v.alicePrivate), unhex(v.bobPublic))), v.shared);
    strictEqual(hex(c.x25519(unhex(v.bobPrivate), unhex(v.alicePublic))), v.shared);
  });

  Deno.test(`[${c.name}] RFC 5869 A.1-A.3 HKDF-SHA256 (PRK through HMAC)`, () => {
    for (const v of V.rfc5869) {
      const [ikm, salt, info] = [unhex(v.ikm), unhex(v.salt), unhex(v.info)];
      strictEqual(hex(c.hkdf(ikm, salt, info, v.length)), v.okm, v.name);
      // PRK = HMAC(salt, IKM); an absent salt is HashLen zeros (RFC 5869 §2.2)
      const key = salt.length > 0 ? salt : new Uint8Array(32);
      strictEqual(hex(c.hmacSha256(key, ikm)), v.prk, `${v.name} prk`);
      strictEqual(hex(c.hmacSha256(salt, ikm)), v.prk, `${v.name} prk (raw salt)`);
    }
    strictEqual(c.hkdf(new Uint8Array(3), new Uint8Array(0), new Uint8Array(0), 0).length, 0);
  });

  Deno.test(`[${c.name}] SHA-256 known answers`, () => {
    strictEqual(
      hex(c.sha256(new Uint8Array(0))),
      "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    );
    strictEqual(
      hex(c.sha256(new TextEncoder().encode("abc"))),
      "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
    );
  });

  Deno.test(`[${c.name}] sizes are validated: BAD_REQUEST, never another error type`, () => {
    const k = new Uint8Array(32), n = new Uint8Array(12), e = new Uint8Array(0);
    const B = ErrorCode.BAD_REQUEST;
    expectError(() => c.chachaSeal(new Uint8Array(31), n, e, e), B, "key-size");
    expectError(() => c.chachaSeal(k, new Uint8Array(8), e, e), B, "nonce-size");
    expectError(() => c.chachaOpen(k, new Uint8Array(24), e, new Uint8Array(16)), B, "nonce-size");
    expectError(() => c.chachaOpenDetached(k, n, e, e, new Uint8Array(12)), B, "tag-size");
    expectError(() => c.aesGcmSeal(new Uint8Array(16), n, e, e), B, "key-size");
    expectError(() => c.aesGcmSeal(k, new Uint8Array(7), e, e), B, "iv-size");
    expectError(() => c.aesGcmOpen(k, new Uint8Array(0), e, new Uint8Array(16)), B, "iv-size");
    expectError(() => c.x25519(new Uint8Array(31), k), B, "x25519-key-size");
    expectError(() => c.x25519(k, new Uint8Array(33)), B, "x25519-key-size");
    expectError(() => c.x25519Public(new Uint8Array(0)), B, "x25519-key-size");
    expectError(() => c.hkdf(k, k, k, 8161), B, "hkdf-length");
    expectError(() => c.hkdf(k, k, k, -1), B, "hkdf-length");
    expectError(() => c.hkdf(k, k, k, 1.5), B, "hkdf-length");
    expectError(() => c.randomBytes(-1), B, "random-length");
    // a box shorter than a tag cannot authenticate: UNAUTHORIZED, like a forgery
    expectError(() => c.chachaOpen(k, n, e, new Uint8Array(15)), ErrorCode.UNAUTHORIZED, "aead");
    expectError(() => c.aesGcmOpen(k, n, e, new Uint8Array(0)), ErrorCode.UNAUTHORIZED, "aead");
  });

  Deno.test(`[${c.name}] X25519 low-order peer gives UNAUTHORIZED bad-key`, () => {
    const priv = c.x25519Generate().privateKey;
    const zero = new Uint8Array(32);
    const one = new Uint8Array(32);
    one[0] = 1;
    for (const pub of [zero, one]) {
      expectError(() => c.x25519(priv, pub), ErrorCode.UNAUTHORIZED, "bad-key", hex(pub));
    }
  });

  Deno.test(`[${c.name}] randomBytes: sizes, beyond the 64 KiB getRandomValues quota`, () => {
    strictEqual(c.randomBytes(0).length, 0);
    const big = c.randomBytes(70_000);
    strictEqual(big.length, 70_000);
    // 70 000 random bytes all zero in the tail chunk would mean a chunk was skipped
    strictEqual(big.subarray(65_536).some((x) => x !== 0), true);
    const a = c.randomBytes(32), b = c.randomBytes(32);
    strictEqual(timingSafeEqual(a, b), false);
  });

  Deno.test(`[${c.name}] results are plain Uint8Arrays (no Buffer leaks out)`, () => {
    const k = c.randomBytes(32), n = c.randomBytes(12), e = new Uint8Array(0);
    const kp = c.x25519Generate();
    const outs = [
      c.sha256(e),
      c.hmacSha256(k, e),
      c.hkdf(k, e, e, 32),
      c.chachaSeal(k, n, e, k),
      c.chachaOpen(k, n, e, c.chachaSeal(k, n, e, k)),
      c.aesGcmSeal(k, n, e, k),
      kp.privateKey,
      kp.publicKey,
      c.x25519(kp.privateKey, c.x25519Generate().publicKey),
    ];
    for (const o of outs) strictEqual(Object.getPrototypeOf(o), Uint8Array.prototype);
    strictEqual(hex(c.x25519Public(kp.privateKey)), hex(kp.publicKey));
  });

  Deno.test(`[${c.name}] chachaSealInto: offsets, exact room, in place, refusals`, () => {
    const into = c.chachaSealInto?.bind(c);
    if (into === undefined) throw new Error(`${c.name} lacks chachaSealInto`);
    const key = c.randomBytes(32), nonce = c.randomBytes(12), aad = c.randomBytes(13);
    for (const n of [0, 1, 64, 1000]) {
      const pt = c.randomBytes(n);
      const ref = nobleBackend.chachaSeal(key, nonce, aad, pt);
      for (const off of [0, 3]) {
        const out = new Uint8Array(off + n + 16 + 5).fill(0xee);
        strictEqual(into(key, nonce, aad, pt, out, off), n + 16, `n ${n} off ${off}`);
        strictEqual(hex(out.subarray(off, off + n + 16)), hex(ref), `n ${n} off ${off}`);
        // bytes around the box are untouched
        strictEqual(out.subarray(0, off).every((x) => x === 0xee), true);
        strictEqual(out.subarray(off + n + 16).every((x) => x === 0xee), true);
      }
      // exactly enough room, and in place (plaintext at the start of out)
      const frame = new Uint8Array(n + 16);
      frame.set(pt);
      strictEqual(into(key, nonce, aad, frame.subarray(0, n), frame, 0), n + 16);
      strictEqual(hex(frame), hex(ref), `in place ${n}`);
    }
    // partially overlapping input and output: still the right box
    const buf = c.randomBytes(200), pt = buf.slice(0, 100);
    const ref = nobleBackend.chachaSeal(key, nonce, aad, pt);
    buf.set(pt, 10);
    strictEqual(into(key, nonce, aad, buf.subarray(10, 110), buf, 0), 116);
    strictEqual(hex(buf.subarray(0, 116)), hex(ref), "overlap");
    // no room / bad offsets: BAD_REQUEST before a single byte is written
    const pt8 = c.randomBytes(8), small = new Uint8Array(30);
    const B = ErrorCode.BAD_REQUEST;
    expectError(() => into(key, nonce, aad, pt8, small, 7), B, "out-size");
    expectError(() => into(key, nonce, aad, pt8, new Uint8Array(23), 0), B, "out-size");
    expectError(() => into(key, nonce, aad, pt8, small, -1), B, "out-offset");
    expectError(() => into(key, nonce, aad, pt8, small, 31), B, "out-offset");
    expectError(() => into(key, nonce, aad, pt8, small, 1.5), B, "out-offset");
    expectError(() => into(new Uint8Array(16), nonce, aad, pt8, small, 0), B, "key-size");
    expectError(() => into(key, new Uint8Array(24), aad, pt8, small, 0), B, "nonce-size");
    strictEqual(small.every((x) => x === 0), true, "nothing written on refusal");
  });

  Deno.test(`[${c.name}] state does not leak between messages`, () => {
    // a forgery, then a good box on the same contexts; GCM IV lengths that
    // change from call to call; HMAC with an empty key after a non-empty one
    const key = c.randomBytes(32), aad = c.randomBytes(5), pt = c.randomBytes(77);
    const n12 = c.randomBytes(12);
    const good = c.chachaSeal(key, n12, aad, pt);
    const bad = good.slice();
    bad[3] ^= 4;
    for (let i = 0; i < 3; i++) {
      expectError(() => c.chachaOpen(key, n12, aad, bad), ErrorCode.UNAUTHORIZED, "aead");
      strictEqual(hex(c.chachaOpen(key, n12, aad, good)), hex(pt));
    }
    for (const ivLen of [12, 8, 16, 128, 129, 12, 60, 12]) {
      const iv = c.randomBytes(ivLen);
      const g = c.aesGcmSeal(key, iv, aad, pt);
      strictEqual(hex(g), hex(nobleBackend.aesGcmSeal(key, iv, aad, pt)), `gcm iv ${ivLen}`);
      strictEqual(hex(c.aesGcmOpen(key, iv, aad, g)), hex(pt), `gcm open iv ${ivLen}`);
      const g2 = g.slice();
      g2[g2.length - 1] ^= 1;
      expectError(() => c.aesGcmOpen(key, iv, aad, g2), ErrorCode.UNAUTHORIZED, "aead");
    }
    const e = new Uint8Array(0);
    for (const k of [key, e, c.randomBytes(100), e]) {
      strictEqual(
        hex(c.hmacSha256(k, pt)),
        hex(nobleBackend.hmacSha256(k, pt)),
        `hmac ${k.length}`,
      );
      strictEqual(
        hex(c.hmacSha256(k, e)),
        hex(nobleBackend.hmacSha256(k, e)),
        `hmac ${k.length}/0`,
      );
    }
  });
}

Deno.test("CRC-16/IBM-3740 check value and bounds", () => {
  const input = unhex(V.crc16.input);
  strictEqual(crc16(input), V.crc16.check);
  strictEqual(crc16(input), 0x29b1);
  strictEqual(crc16(new Uint8Array(0)), 0xffff); // init, no xorout
  const framed = new Uint8Array([0xaa, ...input, 0xbb, 0xcc]);
  strictEqual(crc16(framed, 1, 1 + input.length), 0x29b1);
  strictEqual(crc16(framed, 1, 1000), crc16(framed.subarray(1)));
  // appending the CRC big-endian gives residue 0 for this unreflected, xorout-0 CRC
  const withCrc = new Uint8Array([...input, 0x29, 0xb1]);
  strictEqual(crc16(withCrc), 0);
  // bitwise reference implementation agrees on random inputs
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 300 }), (d) => {
      let crc = 0xffff;
      for (const b of d) {
        crc ^= b << 8;
        for (let i = 0; i < 8; i++) {
          crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
        }
      }
      return crc16(d) === crc;
    }),
    { numRuns: 300 },
  );
});

Deno.test("timingSafeEqual with and without a prefix length; zeroize", () => {
  const a = Uint8Array.from([1, 2, 3, 4, 5]), b = Uint8Array.from([1, 2, 3, 4, 9]);
  strictEqual(timingSafeEqual(a, b), false);
  strictEqual(timingSafeEqual(a, b, 4), true);
  strictEqual(timingSafeEqual(a, b, 5), false);
  strictEqual(timingSafeEqual(a, b.subarray(0, 4)), false); // length differs
  strictEqual(timingSafeEqual(a, b, 6), false); // longer than either
  strictEqual(timingSafeEqual(a, b, -1), false);
  strictEqual(timingSafeEqual(a, a.slice()), true);
  strictEqual(timingSafeEqual(new Uint8Array(0), new Uint8Array(0)), true);
  const s = Uint8Array.from([9, 9]), t = Uint8Array.from([7]);
  zeroize(s, undefined, t);
  deepStrictEqual([...s, ...t], [0, 0, 0]);
});

Deno.test("cross-backend: seal with one back end, open with another (fast-check)", () => {
  const bytes = (n: number) => fc.uint8Array({ minLength: n, maxLength: n });
  fc.assert(
    fc.property(
      bytes(32),
      bytes(12),
      fc.uint8Array({ maxLength: 64 }),
      fc.uint8Array({ maxLength: 2048, size: "large" }),
      fc.nat(BACKENDS.length - 1),
      fc.nat(BACKENDS.length - 1),
      (key, nonce, aad, pt, si, oi) => {
        const [s, o] = [BACKENDS[si], BACKENDS[oi]];
        const sealed = s.chachaSeal(key, nonce, aad, pt);
        deepStrictEqual(o.chachaOpen(key, nonce, aad, sealed), pt);
        const d = s.chachaSealDetached(key, nonce, aad, pt);
        deepStrictEqual(o.chachaOpenDetached(key, nonce, aad, d.ciphertext, d.tag), pt);
        const g = s.aesGcmSeal(key, nonce, aad, pt);
        deepStrictEqual(hex(g), hex(o.aesGcmSeal(key, nonce, aad, pt)));
        deepStrictEqual(o.aesGcmOpen(key, nonce, aad, g), pt);
      },
    ),
    { numRuns: 200 },
  );
});

Deno.test("cross-backend: block-boundary and large messages (up to 1 MiB)", () => {
  const key = nodeBackend.randomBytes(32), nonce = nodeBackend.randomBytes(12);
  const aad = nodeBackend.randomBytes(13);
  for (const n of [0, 1, 15, 16, 17, 63, 64, 65, 16384, 65537, 1 << 20]) {
    const pt = nodeBackend.randomBytes(n);
    const a = nodeBackend.chachaSeal(key, nonce, aad, pt);
    strictEqual(hex(nobleBackend.chachaSeal(key, nonce, aad, pt)), hex(a), `chacha ${n}`);
    strictEqual(hex(nobleBackend.chachaOpen(key, nonce, aad, a)), hex(pt), `chacha open ${n}`);
    const g = nodeBackend.aesGcmSeal(key, nonce, aad, pt);
    strictEqual(hex(nobleBackend.aesGcmSeal(key, nonce, aad, pt)), hex(g), `gcm ${n}`);
    strictEqual(hex(nodeBackend.aesGcmOpen(key, nonce, aad, g)), hex(pt), `gcm open ${n}`);
    if (LIBCRYPTO) {
      const L = LIBCRYPTO;
      strictEqual(hex(L.chachaSeal(key, nonce, aad, pt)), hex(a), `libcrypto chacha ${n}`);
      strictEqual(hex(L.chachaOpen(key, nonce, aad, a)), hex(pt), `libcrypto open ${n}`);
      const d = L.chachaSealDetached(key, nonce, aad, pt);
      strictEqual(hex(d.ciphertext) + hex(d.tag), hex(a), `libcrypto detached ${n}`);
      strictEqual(hex(L.aesGcmSeal(key, nonce, aad, pt)), hex(g), `libcrypto gcm ${n}`);
      strictEqual(hex(L.aesGcmOpen(key, nonce, aad, g)), hex(pt), `libcrypto gcm open ${n}`);
    }
  }
});

Deno.test("cross-backend: X25519 agreement, HKDF and HMAC agree (fast-check)", () => {
  fc.assert(
    fc.property(
      fc.uint8Array({ minLength: 32, maxLength: 32 }),
      fc.uint8Array({ maxLength: 200 }),
      fc.uint8Array({ maxLength: 2000, size: "large" }), // may cross the 1024-byte info cap
      fc.integer({ min: 0, max: 600 }),
      (seed, salt, info, len) => {
        const a = nodeBackend.x25519Generate();
        const b = nobleBackend.x25519Generate();
        deepStrictEqual(nobleBackend.x25519Public(a.privateKey), a.publicKey);
        deepStrictEqual(nodeBackend.x25519Public(b.privateKey), b.publicKey);
        const ab = nodeBackend.x25519(a.privateKey, b.publicKey);
        deepStrictEqual(nobleBackend.x25519(b.privateKey, a.publicKey), ab);
        deepStrictEqual(
          nodeBackend.x25519(seed, b.publicKey),
          nobleBackend.x25519(seed, b.publicKey),
        );
        deepStrictEqual(
          nodeBackend.hkdf(ab, salt, info, len),
          nobleBackend.hkdf(ab, salt, info, len),
        );
        deepStrictEqual(nodeBackend.hmacSha256(salt, info), nobleBackend.hmacSha256(salt, info));
        if (LIBCRYPTO) {
          deepStrictEqual(LIBCRYPTO.hmacSha256(salt, info), nobleBackend.hmacSha256(salt, info));
        }
        deepStrictEqual(nodeBackend.sha256(info), nobleBackend.sha256(info));
      },
    ),
    { numRuns: 40 },
  );
});

Deno.test({
  name: "libcrypto back end loads here (required with MYCLERK_REQUIRE_REAL=1)",
  ignore: LIBCRYPTO === undefined && !REQUIRE_REAL,
  fn() {
    if (LIBCRYPTO === undefined) {
      throw new Error("libcrypto.so.3 did not load (Debian: apt-get install libssl3)");
    }
    strictEqual(LIBCRYPTO.name, "libcrypto");
    strictEqual(libcryptoWorks(), LIBCRYPTO, "passes the self-test");
  },
});
if (LIBCRYPTO === undefined) {
  console.error("[skip] libcrypto back end: libcrypto.so.3 not loadable");
}

Deno.test("backend(): explicit name, default order, MYCLERK_CRYPTO forces one", () => {
  strictEqual(backend("noble"), nobleBackend);
  strictEqual(backend("node"), nodeBackend);
  strictEqual(nodeChachaWorks(), true);
  const best = LIBCRYPTO ? "libcrypto" : "node";
  const old = Deno.env.get("MYCLERK_CRYPTO");
  try {
    Deno.env.delete("MYCLERK_CRYPTO");
    strictEqual(backend().name, best, "default: fastest that works");
    Deno.env.set("MYCLERK_CRYPTO", "noble");
    strictEqual(backend().name, "noble");
    strictEqual(backend("node").name, "node"); // an explicit name wins
    Deno.env.set("MYCLERK_CRYPTO", "node");
    strictEqual(backend().name, "node");
    Deno.env.set("MYCLERK_CRYPTO", "libcrypto");
    if (LIBCRYPTO) {
      strictEqual(backend(), LIBCRYPTO);
      strictEqual(backend("libcrypto"), LIBCRYPTO);
    } else {
      expectError(() => backend(), ErrorCode.INTERNAL_ERROR, "crypto-backend");
    }
    Deno.env.set("MYCLERK_CRYPTO", "openssl"); // a typo is loud, not silently slower
    const e = expectError(() => backend(), ErrorCode.INTERNAL_ERROR, "crypto-backend");
    strictEqual(e instanceof MyClerkError && e.extra.asked, "openssl");
  } finally {
    if (old === undefined) Deno.env.delete("MYCLERK_CRYPTO");
    else Deno.env.set("MYCLERK_CRYPTO", old);
  }
});

Deno.test("libcryptoBackend() without --allow-ffi: undefined, no throw, no prompt", async () => {
  // a real child Deno without FFI permission imports the module and calls it
  const dir = await Deno.makeTempDir();
  try {
    const mod = new URL("../../../core/crypto/mod.ts", import.meta.url).href;
    const script = `${dir}/probe.ts`;
    await Deno.writeTextFile(
      script,
      `import { backend, libcryptoBackend } from "${mod}";\n` +
        `console.log(JSON.stringify([libcryptoBackend() === undefined, backend().name]));\n`,
    );
    const config = new URL("../../../deno.json", import.meta.url).pathname;
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "--no-prompt", "--allow-read", "--config", config, script],
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
      env: { NO_COLOR: "1" },
    }).output();
    const text = new TextDecoder().decode(out.stdout).trim();
    strictEqual(out.success, true, new TextDecoder().decode(out.stderr));
    deepStrictEqual(JSON.parse(text), [true, "node"]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("isAllZero: the defence-in-depth check behind bad-key", () => {
  // both back ends refuse low-order points before this check is reached, so
  // it is tested directly: it must see a single set bit anywhere
  strictEqual(isAllZero(new Uint8Array(32)), true);
  for (const i of [0, 17, 31]) {
    const b = new Uint8Array(32);
    b[i] = 0x80;
    strictEqual(isAllZero(b), false, `byte ${i}`);
  }
});

Deno.test("cross-backend: HKDF with info beyond node's 1024-byte cap (hand-expanded path)", () => {
  const ikm = nodeBackend.randomBytes(32), salt = nodeBackend.randomBytes(32);
  for (const infoLen of [1024, 1025, 5000]) {
    const info = nodeBackend.randomBytes(infoLen);
    for (const len of [0, 1, 32, 33, 168, 8160]) {
      strictEqual(
        hex(nodeBackend.hkdf(ikm, salt, info, len)),
        hex(nobleBackend.hkdf(ikm, salt, info, len)),
        `info ${infoLen}, L ${len}`,
      );
    }
  }
});
