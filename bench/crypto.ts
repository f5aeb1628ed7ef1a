/**
 * ChaCha20-Poly1305 throughput of both crypto back ends next to OpenSSL,
 * measured in the same run:
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
 * A probe row calls the system libcrypto directly through Deno FFI (not a
 * back end, just a measurement of what an FFI back end could reach), with a
 * fresh output buffer per seal and with a reused one.
 *
 * @module
 */

import { nobleBackend } from "../core/crypto/noble.ts";
import { nodeBackend } from "../core/crypto/node.ts";
import type { CryptoBackend } from "../core/crypto/types.ts";

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
/** The target: our node seal at 16 KiB vs `openssl speed -evp`. */
const TARGET = { size: 16384, ratio: 0.8 } as const;
const AAD_LEN = 13; // as openssl speed -aead

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

/** A direct libcrypto seal through FFI, or undefined when libcrypto cannot be loaded. */
function ffiSeal(reuse: boolean): { seal: Seal; close: () => void } | undefined {
  let lib;
  try {
    lib = Deno.dlopen("libcrypto.so.3", {
      EVP_CIPHER_CTX_new: { parameters: [], result: "pointer" },
      EVP_CIPHER_CTX_free: { parameters: ["pointer"], result: "void" },
      EVP_chacha20_poly1305: { parameters: [], result: "pointer" },
      EVP_EncryptInit_ex: {
        parameters: ["pointer", "pointer", "pointer", "buffer", "buffer"],
        result: "i32",
      },
      EVP_EncryptUpdate: {
        parameters: ["pointer", "buffer", "buffer", "buffer", "i32"],
        result: "i32",
      },
      EVP_EncryptFinal_ex: { parameters: ["pointer", "buffer", "buffer"], result: "i32" },
      EVP_CIPHER_CTX_ctrl: { parameters: ["pointer", "i32", "i32", "buffer"], result: "i32" },
    });
  } catch {
    return undefined;
  }
  const s = lib.symbols;
  const ctx = s.EVP_CIPHER_CTX_new();
  const cipher = s.EVP_chacha20_poly1305();
  const outl = new Uint8Array(4);
  const EVP_CTRL_AEAD_GET_TAG = 0x10;
  let scratch = new Uint8Array(0);
  const seal: Seal = (key, nonce, aad, pt) => {
    if (!reuse || scratch.length !== pt.length + 16) scratch = new Uint8Array(pt.length + 16);
    const out = scratch;
    const tag = out.subarray(pt.length);
    let ok = s.EVP_EncryptInit_ex(ctx, cipher, null, key, nonce);
    if (aad.length > 0) ok &= s.EVP_EncryptUpdate(ctx, null, outl, aad, aad.length);
    ok &= s.EVP_EncryptUpdate(ctx, out, outl, pt, pt.length);
    ok &= s.EVP_EncryptFinal_ex(ctx, tag, outl);
    ok &= s.EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG, 16, tag);
    if (ok !== 1) throw new Error("libcrypto seal failed");
    return out;
  };
  return {
    seal,
    close: () => {
      s.EVP_CIPHER_CTX_free(ctx);
      lib.close();
    },
  };
}

/** Runs `openssl speed` for one size; bytes/s from its `-mr` `+F` line, in MB/s. */
async function openssl(size: number, seconds: number, aead: boolean): Promise<number> {
  const args = ["speed", "-mr", "-elapsed", "-seconds", String(seconds), "-bytes", String(size)];
  if (aead) args.push("-aead");
  args.push("-evp", "chacha20-poly1305");
  const out = await new Deno.Command("openssl", { args, stdout: "piped", stderr: "piped" })
    .output();
  const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
  const m = text.match(/^\+F:\d+:[^:]+:([0-9.]+)/m);
  if (!out.success || !m) {
    throw new Error(`openssl ${args.join(" ")} failed:\n${text.slice(0, 2000)}`);
  }
  return Number(m[1]) / 1e6;
}

function haveOpenssl(): boolean {
  try {
    return new Deno.Command("openssl", { args: ["version"], stdout: "null", stderr: "null" })
      .outputSync().success;
  } catch {
    return false;
  }
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
  const ffiRows: BenchLine[] = [];
  for (const reuse of [false, true]) {
    const f = ffiSeal(reuse);
    const label = `probe: libcrypto FFI seal${reuse ? ", reused out" : ""}`;
    if (!f) {
      ffiRows.push({ label: `${label} (libcrypto.so.3 not loadable)`, mbps: SIZES.map(() => NaN) });
      continue;
    }
    try {
      ffiRows.push({ label, mbps: each((n) => sealRate(f.seal, n, ms, rounds)) });
    } finally {
      f.close();
    }
  }
  const evp: number[] = [];
  const aead: number[] = [];
  for (const n of SIZES) {
    evp.push(await openssl(n, seconds, false));
    aead.push(opts.quick ? NaN : await openssl(n, seconds, true));
  }

  const lines: BenchLine[] = [
    { label: "node seal", mbps: nodeSeal },
    { label: "node seal+open", mbps: nodeSO },
    { label: "noble seal", mbps: nobleSeal },
    { label: "noble seal+open", mbps: nobleSO },
    ...ffiRows,
    { label: "openssl speed -evp (encrypt)", mbps: evp },
    { label: "openssl speed -aead (encrypt)", mbps: aead },
  ];
  const ratios: BenchLine[] = [
    { label: "node seal / openssl -evp", mbps: ratio(nodeSeal, evp) },
    { label: "node seal / openssl -aead", mbps: ratio(nodeSeal, aead) },
    { label: "node seal / noble seal", mbps: ratio(nodeSeal, nobleSeal) },
    ...ffiRows.map((r) => ({
      label: `${r.label.slice(7)} / openssl -evp`,
      mbps: ratio(r.mbps, evp),
    })),
  ];

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
  const i = SIZES.indexOf(TARGET.size);
  const r = nodeSeal[i] / evp[i];
  console.log(
    `target: node:crypto seal at 16 KiB >= ${TARGET.ratio}x openssl: ${r.toFixed(2)}x ${
      r >= TARGET.ratio ? "PASS" : "FAIL"
    }`,
  );
  return [...lines, ...ratios];
}

if (import.meta.main) {
  await runCryptoBench({ quick: Deno.args.includes("--quick") });
}
