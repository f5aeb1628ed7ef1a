/**
 * ChaCha20-Poly1305 throughput of the three crypto back ends next to
 * OpenSSL, measured in the same run, plus HMAC-SHA256 of 1 KiB per back end:
 *
 *   deno run --allow-all bench/crypto.ts [--quick]
 *
 * Peer: `openssl speed -elapsed -evp chacha20-poly1305 -bytes N` (streaming
 * EVP updates on one context, encrypt only, no per-message init or tag: an
 * upper bound) and, in full runs, `openssl speed -elapsed -aead -evp ...`
 * (TLS-like: per message a fresh nonce, 13-byte AAD, encrypt, tag). Both
 * measure encryption only, so the target compares our **seal** (new cipher,
 * 13-byte AAD, encrypt, tag, fresh ciphertext||tag buffer) with
 * `openssl -evp`; seal+open is shown for information. `-elapsed` makes
 * OpenSSL divide by wall-clock time as we do. MB = 10^6 bytes.
 *
 * `sealInto` rows use the optional `chachaSealInto` with one reused output
 * buffer (what a sender with a frame buffer does): a fresh 16 KiB
 * allocation per message costs about as much as encrypting it. The target
 * line takes the fastest native seal variant at 16 KiB and names it.
 *
 * A last table gives µs per operation of X25519 agreement, X25519 public
 * key, HKDF-SHA256 (32-byte IKM and salt, 24-byte info, 64 bytes out: a
 * handshake / HPKE key schedule step) and SHA-256 of 32 bytes, per back
 * end, next to `openssl speed ecdhx25519` (one derive on a prepared
 * context: a lower bound for an agreement from raw bytes).
 *
 * @module
 */

import { nobleBackend } from "../core/crypto/noble.ts";
import { nodeBackend } from "../core/crypto/node.ts";
import { libcryptoBackend } from "../core/crypto/libcrypto.ts";
import type { CryptoBackend } from "../core/crypto/types.ts";
import { haveOpenssl, opensslSpeed } from "./_openssl.ts";

/** Options of one bench run. */
export interface CryptoBenchOptions {
  /** Shorter timings (CI-ish): < 15 s in all. */
  readonly quick: boolean;
}

/** One measured line: a label and MB/s per size (NaN: not measured). */
export interface BenchLine {
  readonly label: string;
  readonly mbps: readonly number[];
}

const SIZES = [64, 1024, 16384] as const;
/** The target: our fastest native seal at 16 KiB vs `openssl speed -evp`. */
const TARGET = { size: 16384, ratio: 0.8 } as const;
const AAD_LEN = 13; // as openssl speed -aead
/** HMAC-SHA256 message size of the HMAC table (a typical frame). */
const HMAC_SIZE = 1024;

type Seal = (key: Uint8Array, nonce: Uint8Array, aad: Uint8Array, pt: Uint8Array) => Uint8Array;

/** Bytes per second of `op` on `size`-byte messages, best of `rounds` windows of `ms`. */
function measure(size: number, ms: number, rounds: number, op: () => void): number {
  for (let i = 0; i < 300; i++) op(); // warm up the JIT and the native path
  let best = 0;
  for (let r = 0; r < rounds; r++) {
    let n = 0;
    const t0 = performance.now();
    let t = t0;
    // read the clock every `batch` ops so timing costs nothing measurable
    const batch = size >= 16384 ? 8 : 128;
    while (t - t0 < ms) {
      for (let i = 0; i < batch; i++) op();
      n += batch;
      t = performance.now();
    }
    best = Math.max(best, (n * size) / ((t - t0) / 1000));
  }
  return best / 1e6;
}

interface Inputs {
  readonly key: Uint8Array;
  readonly nonce: Uint8Array;
  readonly aad: Uint8Array;
  readonly pt: Uint8Array;
}

function inputs(size: number): Inputs {
  return {
    key: nodeBackend.randomBytes(32),
    nonce: nodeBackend.randomBytes(12), // reused: fine for timing only
    aad: nodeBackend.randomBytes(AAD_LEN),
    pt: nodeBackend.randomBytes(size),
  };
}

function sealRate(seal: Seal, size: number, ms: number, rounds: number): number {
  const { key, nonce, aad, pt } = inputs(size);
  // self-check against the reference before timing anything
  const ref = nobleBackend.chachaSeal(key, nonce, aad, pt);
  const got = seal(key, nonce, aad, pt);
  if (got.length !== ref.length || got.some((v, i) => v !== ref[i])) {
    throw new Error(`bench self-check failed at ${size} B`);
  }
  return measure(size, ms, rounds, () => seal(key, nonce, aad, pt));
}

function sealOpenRate(b: CryptoBackend, size: number, ms: number, rounds: number): number {
  const { key, nonce, aad, pt } = inputs(size);
  return measure(size, ms, rounds, () => {
    b.chachaOpen(key, nonce, aad, b.chachaSeal(key, nonce, aad, pt));
  });
}

/** Seal rate through `chachaSealInto` into one reused output buffer. */
function sealIntoRate(b: CryptoBackend, size: number, ms: number, rounds: number): number {
  const into = b.chachaSealInto?.bind(b);
  if (into === undefined) return NaN;
  const { key, nonce, aad, pt } = inputs(size);
  const out = new Uint8Array(size + 16);
  const ref = nobleBackend.chachaSeal(key, nonce, aad, pt);
  into(key, nonce, aad, pt, out, 0);
  if (out.some((v, i) => v !== ref[i])) throw new Error(`bench self-check failed at ${size} B`);
  return measure(size, ms, rounds, () => into(key, nonce, aad, pt, out, 0));
}

/** HMAC-SHA256 rate (MB/s) of 1 KiB messages, checked against noble first. */
function hmacRate(b: CryptoBackend, ms: number, rounds: number): number {
  const key = nodeBackend.randomBytes(32), data = nodeBackend.randomBytes(HMAC_SIZE);
  const ref = nobleBackend.hmacSha256(key, data), got = b.hmacSha256(key, data);
  if (got.some((v, i) => v !== ref[i])) throw new Error(`bench hmac self-check failed`);
  return measure(HMAC_SIZE, ms, rounds, () => b.hmacSha256(key, data));
}

/** Microseconds per call of `op`, best of `rounds` windows of `ms`. */
function usPerOp(ms: number, rounds: number, op: () => void): number {
  for (let i = 0; i < 50; i++) op();
  let best = Infinity;
  for (let r = 0; r < rounds; r++) {
    let n = 0;
    const t0 = performance.now();
    let t = t0;
    while (t - t0 < ms) {
      for (let i = 0; i < 8; i++) op();
      n += 8;
      t = performance.now();
    }
    best = Math.min(best, ((t - t0) * 1000) / n);
  }
  return best;
}

/** The small-operation row of one back end: µs per X25519, public key, HKDF, SHA-256. */
function opsRow(b: CryptoBackend, ms: number, rounds: number): BenchLine {
  const a = nobleBackend.x25519Generate(), p = nobleBackend.x25519Generate();
  const salt = nodeBackend.randomBytes(32), info = nodeBackend.randomBytes(24);
  // self-check against noble before timing
  const same = (x: Uint8Array, y: Uint8Array) =>
    x.length === y.length && x.every((v, i) => v === y[i]);
  if (
    !same(b.x25519(a.privateKey, p.publicKey), nobleBackend.x25519(a.privateKey, p.publicKey)) ||
    !same(b.hkdf(a.publicKey, salt, info, 64), nobleBackend.hkdf(a.publicKey, salt, info, 64))
  ) {
    throw new Error(`bench self-check failed (${b.name} x25519/hkdf)`);
  }
  return {
    label: b.name,
    mbps: [
      usPerOp(ms, rounds, () => b.x25519(a.privateKey, p.publicKey)),
      usPerOp(ms, rounds, () => b.x25519Public(a.privateKey)),
      usPerOp(ms, rounds, () => b.hkdf(a.publicKey, salt, info, 64)),
      usPerOp(ms, rounds, () => b.sha256(info.subarray(0, 32))),
    ],
  };
}

/** µs per X25519 derive from `openssl speed ecdhx25519`, or NaN. */
async function opensslX25519(seconds: number): Promise<number> {
  const r = await new Deno.Command("openssl", {
    args: ["speed", "-seconds", String(seconds), "ecdhx25519"],
    stdout: "piped",
    stderr: "null",
  }).output();
  // last line: " 253 bits ecdh (X25519)   0.0000s  33167.8"
  const m = new TextDecoder().decode(r.stdout).match(/X25519\)\s+\S+\s+([\d.]+)\s*$/m);
  return m ? 1e6 / Number(m[1]) : NaN;
}

/** `openssl speed -evp chacha20-poly1305` for one size, in MB/s (see `_openssl.ts`). */
async function openssl(size: number, seconds: number, aead: boolean): Promise<number> {
  return (await opensslSpeed(size, seconds, aead)) / 1e6;
}

const fmt = (v: number) => (Number.isNaN(v) ? "-" : v.toFixed(1)).padStart(10);
const ratio = (a: readonly number[], b: readonly number[]) => a.map((v, i) => v / b[i]);

/** Runs the bench, prints the table and the target line; returns the lines. */
export async function runCryptoBench(opts: CryptoBenchOptions): Promise<readonly BenchLine[]> {
  if (!haveOpenssl()) {
    console.error(
      "bench/crypto: openssl not found on PATH (apt-get install openssl); nothing to compare with",
    );
    Deno.exit(1);
  }
  const ms = opts.quick ? 120 : 400;
  const rounds = opts.quick ? 2 : 3;
  const seconds = opts.quick ? 1 : 2;
  const each = (f: (size: number) => number) => SIZES.map(f);

  const nodeSeal = each((n) => sealRate(nodeBackend.chachaSeal, n, ms, rounds));
  const nodeSO = each((n) => sealOpenRate(nodeBackend, n, ms, rounds));
  const nobleSeal = each((n) => sealRate(nobleBackend.chachaSeal, n, ms, rounds));
  const nobleSO = each((n) => sealOpenRate(nobleBackend, n, ms, rounds));
  const lib = libcryptoBackend();
  const none = SIZES.map(() => NaN);
  const libSeal = lib ? each((n) => sealRate(lib.chachaSeal, n, ms, rounds)) : none;
  const libInto = lib ? each((n) => sealIntoRate(lib, n, ms, rounds)) : none;
  const libSO = lib ? each((n) => sealOpenRate(lib, n, ms, rounds)) : none;
  const nodeInto = each((n) => sealIntoRate(nodeBackend, n, ms, rounds));
  const libNote = lib ? "" : " (libcrypto.so.3 not loadable)";
  const evp: number[] = [];
  const aead: number[] = [];
  for (const n of SIZES) {
    evp.push(await openssl(n, seconds, false));
    aead.push(opts.quick ? NaN : await openssl(n, seconds, true));
  }

  const lines: BenchLine[] = [
    { label: `libcrypto seal${libNote}`, mbps: libSeal },
    { label: `libcrypto sealInto, reused out${libNote}`, mbps: libInto },
    { label: `libcrypto seal+open${libNote}`, mbps: libSO },
    { label: "node seal", mbps: nodeSeal },
    { label: "node sealInto, reused out", mbps: nodeInto },
    { label: "node seal+open", mbps: nodeSO },
    { label: "noble seal", mbps: nobleSeal },
    { label: "noble seal+open", mbps: nobleSO },
    { label: "openssl speed -evp (encrypt)", mbps: evp },
    { label: "openssl speed -aead (encrypt)", mbps: aead },
  ];
  const ratios: BenchLine[] = [
    { label: "libcrypto seal / openssl -evp", mbps: ratio(libSeal, evp) },
    { label: "libcrypto sealInto / openssl -evp", mbps: ratio(libInto, evp) },
    { label: "libcrypto sealInto / openssl -aead", mbps: ratio(libInto, aead) },
    { label: "node seal / openssl -evp", mbps: ratio(nodeSeal, evp) },
    { label: "node seal / openssl -aead", mbps: ratio(nodeSeal, aead) },
    { label: "node seal / noble seal", mbps: ratio(nodeSeal, nobleSeal) },
  ];
  // HMAC-SHA256 of 1 KiB: on the hot path of every message
  const hmacs = [
    ...(lib ? [lib] : []),
    nodeBackend,
    nobleBackend,
  ].map((b) => ({ label: `${b.name} hmacSha256 ${HMAC_SIZE} B`, mbps: [hmacRate(b, ms, rounds)] }));

  const lib2 = lib ? [lib] : [];
  const ops = [...lib2, nodeBackend, nobleBackend].map((b) => opsRow(b, ms / 2, rounds));
  const osslX = await opensslX25519(seconds);

  const w = 48;
  console.log(
    `ChaCha20-Poly1305 throughput, MB/s (10^6 B/s), ${
      opts.quick ? "quick" : "full"
    } run, ${AAD_LEN}-byte AAD, best of ${rounds}`,
  );
  console.log(`${"".padEnd(w)}${SIZES.map((s) => `${s} B`.padStart(10)).join("")}`);
  for (const l of lines) console.log(`${l.label.padEnd(w)}${l.mbps.map(fmt).join("")}`);
  console.log("ratios");
  for (const l of ratios) {
    console.log(
      `${l.label.padEnd(w)}${
        l.mbps.map((v) => (Number.isNaN(v) ? "-" : `${v.toFixed(2)}x`).padStart(10)).join("")
      }`,
    );
  }
  console.log(`HMAC-SHA256, MB/s and ns per ${HMAC_SIZE}-byte message`);
  for (const l of hmacs) {
    const v = l.mbps[0];
    console.log(
      `${l.label.padEnd(w)}${fmt(v)}${`${(HMAC_SIZE / v * 1000).toFixed(0)} ns`.padStart(10)}`,
    );
  }
  const OPS = ["x25519", "x25519Pub", "hkdf 64B", "sha256 32B"];
  console.log(`small operations, µs per call (best of ${rounds})`);
  console.log(`${"".padEnd(w)}${OPS.map((o) => o.padStart(12)).join("")}`);
  const us = (v: number) => (Number.isNaN(v) ? "-" : v.toFixed(2)).padStart(12);
  for (const l of ops) console.log(`${l.label.padEnd(w)}${l.mbps.map(us).join("")}`);
  console.log(`${"openssl speed ecdhx25519 (derive only)".padEnd(w)}${us(osslX)}`);
  const nodeOps = ops.find((l) => l.label === "node");
  const libOps = ops.find((l) => l.label === "libcrypto");
  if (nodeOps && libOps) {
    console.log(
      `${"node / libcrypto (speed-up)".padEnd(w)}${
        nodeOps.mbps.map((v, i) => `${(v / libOps.mbps[i]).toFixed(2)}x`.padStart(12)).join("")
      }`,
    );
  }
  // the target is met by whichever native seal is fastest at 16 KiB
  const i = SIZES.indexOf(TARGET.size);
  const candidates: ReadonlyArray<readonly [string, number]> = [
    ["libcrypto chachaSealInto (reused out)", libInto[i]],
    ["libcrypto chachaSeal", libSeal[i]],
    ["node:crypto chachaSealInto (reused out)", nodeInto[i]],
    ["node:crypto chachaSeal", nodeSeal[i]],
  ];
  const [who, best] = candidates.filter(([, v]) => !Number.isNaN(v))
    .reduce((a, b) => (b[1] > a[1] ? b : a));
  const r = best / evp[i];
  console.log(
    `target: fastest native seal at 16 KiB (${who}) >= ${TARGET.ratio}x openssl -evp: ${
      r.toFixed(2)
    }x ${r >= TARGET.ratio ? "PASS" : "FAIL"}`,
  );
  return [...lines, ...ratios, ...hmacs, ...ops];
}

if (import.meta.main) {
  await runCryptoBench({ quick: Deno.args.includes("--quick") });
}
