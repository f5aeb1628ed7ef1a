/**
 * The native X25519, HKDF and SHA-256 of the libcrypto back end (FFI on
 * `libcrypto.so.3`): results equal `node` and `noble` on random inputs
 * (including any 32 bytes as a peer key, low-order and non-canonical ones,
 * with the same errors), and repeated calls neither leak native memory nor
 * leave entries in the OpenSSL error queue. Skipped when libcrypto does not
 * load here (required with MYCLERK_REQUIRE_REAL=1, see rfc_test.ts).
 */

import { deepStrictEqual, ok, strictEqual } from "node:assert/strict";
import fc from "fast-check";
import { nobleBackend } from "../../../core/crypto/noble.ts";
import { nodeBackend } from "../../../core/crypto/node.ts";
import { LIBCRYPTO_SONAME } from "../../../core/crypto/libcrypto.ts";
import { MyClerkError } from "../../../core/errors.ts";
import { ErrorCode, expectError, hex, LIBCRYPTO } from "./_util.ts";

const skip = LIBCRYPTO === undefined;

/** The outcome of a call: hex of the result or `code/detail` of the MyClerkError. */
function outcome(f: () => Uint8Array): string {
  try {
    return hex(f());
  } catch (e) {
    if (e instanceof MyClerkError) return `${e.code}/${e.detail}`;
    throw e;
  }
}

/** Peer keys worth hitting on purpose: low order, u >= p, top bit set. */
const SPECIAL_PEERS: readonly string[] = [
  "00".repeat(32), // u = 0
  "01" + "00".repeat(31), // u = 1
  "e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800", // order 8
  "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f", // p - 1
  "edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f", // p (= 0)
  "eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f", // p + 1 (= 1)
  "ff".repeat(32), // top bit set, u >= p
];

Deno.test({
  name: "[libcrypto] X25519 equals node and noble on any key bytes, same errors (fast-check)",
  ignore: skip,
  fn() {
    const L = LIBCRYPTO!;
    const peer = fc.oneof(
      fc.uint8Array({ minLength: 32, maxLength: 32 }),
      fc.constantFrom(...SPECIAL_PEERS).map((h) =>
        Uint8Array.from(h.match(/../g)!, (b) => parseInt(b, 16))
      ),
    );
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 32, maxLength: 32 }), peer, (priv, pub) => {
        const want = outcome(() => nobleBackend.x25519(priv, pub));
        strictEqual(outcome(() => L.x25519(priv, pub)), want, "libcrypto vs noble");
        strictEqual(outcome(() => nodeBackend.x25519(priv, pub)), want, "node vs noble");
        // the inputs are read, never written
        strictEqual(outcome(() => L.x25519(priv, pub)), want, "repeatable");
      }),
      { numRuns: 300 },
    );
  },
});

Deno.test({
  name: "[libcrypto] X25519 agreement across back ends with generated keys",
  ignore: skip,
  fn() {
    const L = LIBCRYPTO!;
    for (let i = 0; i < 50; i++) {
      const a = L.x25519Generate(),
        b = nobleBackend.x25519Generate(),
        c = nodeBackend.x25519Generate();
      deepStrictEqual(L.x25519Public(b.privateKey), b.publicKey);
      deepStrictEqual(nobleBackend.x25519Public(a.privateKey), a.publicKey);
      const ab = L.x25519(a.privateKey, b.publicKey);
      deepStrictEqual(nobleBackend.x25519(b.privateKey, a.publicKey), ab);
      deepStrictEqual(L.x25519(b.privateKey, a.publicKey), ab);
      deepStrictEqual(
        L.x25519(c.privateKey, a.publicKey),
        nodeBackend.x25519(a.privateKey, c.publicKey),
      );
      strictEqual(Object.getPrototypeOf(ab), Uint8Array.prototype, "a plain Uint8Array");
    }
  },
});

Deno.test({
  name: "[libcrypto] HKDF and SHA-256 equal noble on random inputs (fast-check)",
  ignore: skip,
  fn() {
    const L = LIBCRYPTO!;
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 100 }),
        fc.uint8Array({ maxLength: 200 }), // salt longer than the 64-byte HMAC block too
        fc.uint8Array({ maxLength: 2000, size: "large" }), // across node's 1024-byte info cap
        fc.integer({ min: 0, max: 8160 }),
        (ikm, salt, info, len) => {
          deepStrictEqual(L.hkdf(ikm, salt, info, len), nobleBackend.hkdf(ikm, salt, info, len));
          deepStrictEqual(L.sha256(info), nobleBackend.sha256(info));
        },
      ),
      { numRuns: 200 },
    );
    // HKDF after HMAC with other keys (the contexts are separate) and back
    const k = new Uint8Array(32).fill(7);
    const h1 = L.hmacSha256(k, k);
    L.hkdf(k, new Uint8Array(0), k, 100);
    deepStrictEqual(L.hmacSha256(k, k), h1);
    expectError(() => L.hkdf(k, k, k, 8161), ErrorCode.BAD_REQUEST, "hkdf-length");
  },
});

/** `ERR_peek_error` of the same (already loaded) library: the per-thread queue. */
function errorQueue(): { peek(): bigint; close(): void } {
  const lib = Deno.dlopen(LIBCRYPTO_SONAME, {
    ERR_peek_error: { parameters: [], result: "u64" },
  });
  return { peek: () => BigInt(lib.symbols.ERR_peek_error()), close: () => lib.close() };
}

Deno.test({
  name: "[libcrypto] refused X25519 clears the OpenSSL error queue",
  ignore: skip,
  fn() {
    const L = LIBCRYPTO!;
    const q = errorQueue();
    try {
      const priv = L.x25519Generate().privateKey;
      strictEqual(q.peek(), 0n, "queue empty before");
      for (const h of SPECIAL_PEERS.slice(0, 3)) {
        const pub = Uint8Array.from(h.match(/../g)!, (b) => parseInt(b, 16));
        expectError(() => L.x25519(priv, pub), ErrorCode.UNAUTHORIZED, "bad-key", h);
        strictEqual(q.peek(), 0n, `queue empty after refusing ${h}`);
      }
    } finally {
      q.close();
    }
  },
});

/** Resident set size now, bytes. */
function rss(): number {
  return Deno.memoryUsage().rss;
}

Deno.test({
  name: "[libcrypto] 30k X25519 (+ refusals) and 60k HKDF/SHA-256 calls leave RSS flat",
  ignore: skip,
  fn() {
    const L = LIBCRYPTO!;
    const a = L.x25519Generate(), b = L.x25519Generate();
    const low = new Uint8Array(32); // u = 0: derive refused, error path frees too
    const info = new Uint8Array(40), salt = new Uint8Array(32);
    const round = (n: number) => {
      for (let i = 0; i < n; i++) {
        L.x25519(a.privateKey, b.publicKey);
        if (i % 4 === 0) {
          try {
            L.x25519(a.privateKey, low);
          } catch { /* bad-key, checked elsewhere */ }
        }
        L.hkdf(a.publicKey, salt, info, 64);
        L.sha256(info);
      }
    };
    round(3_000); // warm up: JIT, allocator arenas, OpenSSL's method caches
    const before = rss();
    round(30_000);
    const grown = rss() - before;
    // A leaked EVP_PKEY pair + EVP_PKEY_CTX is ~1 KiB per call: 30k calls
    // would grow by ~30 MiB; allow allocator noise well below that.
    ok(grown < 8 * 1024 * 1024, `RSS grew ${(grown / 1048576).toFixed(1)} MiB over 30k calls`);
  },
});
