/**
 * Every Wycheproof case of the five files we ship (vectors/wycheproof/,
 * Apache-2.0, see the LICENSE there) against every back end that loads here
 * (libcrypto, node, noble; see _util.ts). Valid cases
 * must produce the expected bytes; invalid ones must be refused with a
 * MyClerkError (BAD_REQUEST for sizes, UNAUTHORIZED for authentication).
 * Each test counts the cases it ran and skipped (with the reason) and
 * asserts the run count equals the number expected, so a vector file that
 * shrinks, or a filter that grows, fails the suite.
 *
 * X25519 "acceptable" cases (twist points, non-canonical u, low-order
 * points): we accept every one whose shared secret is non-zero (and must
 * then get the expected value; RFC 7748 needs no point validation) and
 * refuse every all-zero one with UNAUTHORIZED `bad-key` (RFC 7748 §6.1).
 */

import { strictEqual } from "node:assert/strict";
import { timingSafeEqual } from "../../../core/crypto/ct.ts";
import { GCM_MIN_IV_SIZE } from "../../../core/crypto/validate.ts";
import type { CryptoBackend } from "../../../core/crypto/types.ts";
import { MyClerkError } from "../../../core/errors.ts";
import { BACKENDS, ErrorCode, expectError, hex, readJson, unhex } from "./_util.ts";

interface Case {
  readonly tcId: number;
  readonly flags: readonly string[];
  readonly result: "valid" | "invalid" | "acceptable";
  readonly [field: string]: unknown;
}
interface Group {
  readonly keySize?: number;
  readonly ivSize?: number;
  readonly tagSize?: number;
  readonly tests: readonly Case[];
}
interface VectorFile {
  readonly algorithm: string;
  readonly numberOfTests: number;
  readonly testGroups: readonly Group[];
}

/** Cases each file must run per back end (AES-GCM: only AES-256). */
const EXPECTED_RUN = {
  chacha: 325,
  gcm: 97,
  hkdf: 86,
  hmac: 174,
  x25519: 518,
} as const;

class Tally {
  ran = 0;
  readonly skipped = new Map<string, number>();
  readonly notes = new Map<string, number>();
  skip(reason: string): void {
    this.skipped.set(reason, (this.skipped.get(reason) ?? 0) + 1);
  }
  note(what: string): void {
    this.notes.set(what, (this.notes.get(what) ?? 0) + 1);
  }
  report(label: string, file: VectorFile, expected: number): void {
    const sk = [...this.skipped].map(([r, n]) => `${n} skipped (${r})`).join(", ");
    const nt = [...this.notes].map(([r, n]) => `${r}: ${n}`).join(", ");
    console.log(
      `  ${label}: ${this.ran} ran${sk ? `, ${sk}` : ""} of ${file.numberOfTests}${
        nt ? ` [${nt}]` : ""
      }`,
    );
    strictEqual(this.ran > 0, true, `${label}: nothing ran`);
    strictEqual(this.ran, expected, `${label}: ran count`);
    let skippedTotal = 0;
    for (const n of this.skipped.values()) skippedTotal += n;
    strictEqual(this.ran + skippedTotal, file.numberOfTests, `${label}: every case accounted for`);
  }
}

const file = (name: string) => readJson<VectorFile>(`./vectors/wycheproof/${name}`);
const s = (c: Case, k: string) => unhex(c[k] as string);

/** Runs `f`; a valid case must not throw, an invalid one must throw a MyClerkError. */
function expectRefused(f: () => unknown, label: string): MyClerkError {
  try {
    f();
  } catch (e) {
    if (e instanceof MyClerkError) return e;
    throw new Error(`${label}: non-MyClerkError ${String(e)}`);
  }
  throw new Error(`${label}: invalid case accepted`);
}

type Aead = "chacha" | "gcm";

function aeadCase(b: CryptoBackend, kind: Aead, c: Case, label: string): void {
  const [key, iv, aad, msg, ct, tag] = ["key", "iv", "aad", "msg", "ct", "tag"].map((k) => s(c, k));
  const sealed = new Uint8Array(ct.length + tag.length);
  sealed.set(ct);
  sealed.set(tag, ct.length);
  const seal = kind === "chacha" ? b.chachaSeal : b.aesGcmSeal;
  const open = kind === "chacha" ? b.chachaOpen : b.aesGcmOpen;
  if (c.result === "valid") {
    strictEqual(hex(seal(key, iv, aad, msg)), hex(sealed), `${label} seal`);
    strictEqual(hex(open(key, iv, aad, sealed)), hex(msg), `${label} open`);
    if (kind === "chacha") {
      const d = b.chachaSealDetached(key, iv, aad, msg);
      strictEqual(hex(d.ciphertext) + hex(d.tag), hex(sealed), `${label} detached seal`);
      strictEqual(hex(b.chachaOpenDetached(key, iv, aad, ct, tag)), hex(msg), `${label} detached`);
    }
    return;
  }
  const sizeCase = c.flags.includes("InvalidNonceSize") || c.flags.includes("ZeroLengthIv");
  const e = expectRefused(() => open(key, iv, aad, sealed), label);
  if (sizeCase) {
    strictEqual(e.code, ErrorCode.BAD_REQUEST, `${label} code`);
    // a bad nonce must be refused on the seal side too
    expectError(() => seal(key, iv, aad, msg), ErrorCode.BAD_REQUEST, undefined, label);
  } else {
    strictEqual(`${e.code}/${e.detail}`, `${ErrorCode.UNAUTHORIZED}/aead`, `${label} code`);
    if (kind === "chacha") {
      expectError(
        () => b.chachaOpenDetached(key, iv, aad, ct, tag),
        ErrorCode.UNAUTHORIZED,
        "aead",
        `${label} detached`,
      );
    }
  }
}

for (const b of BACKENDS) {
  Deno.test(`[${b.name}] Wycheproof chacha20_poly1305_test.json`, () => {
    const f = file("chacha20_poly1305_test.json");
    const t = new Tally();
    for (const g of f.testGroups) {
      for (const c of g.tests) {
        aeadCase(b, "chacha", c, `chacha tc${c.tcId}`);
        t.ran++;
        t.note(c.result);
      }
    }
    t.report(`${b.name} chacha20_poly1305`, f, EXPECTED_RUN.chacha);
  });

  Deno.test(`[${b.name}] Wycheproof aes_gcm_test.json (AES-256)`, () => {
    const f = file("aes_gcm_test.json");
    const t = new Tally();
    for (const g of f.testGroups) {
      for (const c of g.tests) {
        if (g.keySize !== 256) {
          t.skip(`AES-${g.keySize}: the interface is AES-256 only`);
          continue;
        }
        const iv = s(c, "iv");
        if (iv.length > 0 && iv.length < GCM_MIN_IV_SIZE) {
          // valid GCM, refused by our policy (validate.ts): check the refusal
          const [key, aad, msg] = [s(c, "key"), s(c, "aad"), s(c, "msg")];
          expectError(() => b.aesGcmSeal(key, iv, aad, msg), ErrorCode.BAD_REQUEST, "iv-size");
          t.skip(
            `IV of ${iv.length} B < ${GCM_MIN_IV_SIZE} B: refused by policy, BAD_REQUEST checked`,
          );
          continue;
        }
        aeadCase(b, "gcm", c, `gcm tc${c.tcId}`);
        t.ran++;
        t.note(c.result);
      }
    }
    t.report(`${b.name} aes_gcm`, f, EXPECTED_RUN.gcm);
  });

  Deno.test(`[${b.name}] Wycheproof hkdf_sha256_test.json`, () => {
    const f = file("hkdf_sha256_test.json");
    const t = new Tally();
    for (const g of f.testGroups) {
      for (const c of g.tests) {
        const label = `hkdf tc${c.tcId}`;
        const size = c.size as number;
        const run = () => b.hkdf(s(c, "ikm"), s(c, "salt"), s(c, "info"), size);
        if (c.result === "valid") strictEqual(hex(run()), c.okm, label);
        else expectError(run, ErrorCode.BAD_REQUEST, "hkdf-length", label);
        t.ran++;
        t.note(c.result);
      }
    }
    t.report(`${b.name} hkdf_sha256`, f, EXPECTED_RUN.hkdf);
  });

  Deno.test(`[${b.name}] Wycheproof hmac_sha256_test.json (truncated tags: prefix)`, () => {
    const f = file("hmac_sha256_test.json");
    const t = new Tally();
    for (const g of f.testGroups) {
      const len = (g.tagSize as number) / 8;
      for (const c of g.tests) {
        const label = `hmac tc${c.tcId}`;
        const tag = s(c, "tag");
        strictEqual(tag.length, len, `${label} tag size`);
        const ok = timingSafeEqual(b.hmacSha256(s(c, "key"), s(c, "msg")), tag, len);
        strictEqual(ok, c.result === "valid", label);
        t.ran++;
        t.note(`${c.result}/${g.tagSize}`);
      }
    }
    t.report(`${b.name} hmac_sha256`, f, EXPECTED_RUN.hmac);
  });

  Deno.test(`[${b.name}] Wycheproof x25519_test.json`, () => {
    const f = file("x25519_test.json");
    const t = new Tally();
    for (const g of f.testGroups) {
      for (const c of g.tests) {
        const label = `x25519 tc${c.tcId} ${c.flags.join(",")}`;
        const run = () => b.x25519(s(c, "private"), s(c, "public"));
        if (c.result === "invalid") {
          expectRefused(run, label);
          t.note("invalid refused");
        } else if (/^(00)+$/.test(c.shared as string)) {
          expectError(run, ErrorCode.UNAUTHORIZED, "bad-key", label);
          t.note(`${c.result} zero-shared refused`);
        } else {
          strictEqual(hex(run()), c.shared, label);
          t.note(`${c.result} accepted`);
        }
        t.ran++;
      }
    }
    t.report(`${b.name} x25519`, f, EXPECTED_RUN.x25519);
  });
}
