/**
 * ChaCha20-Poly1305 throughput of both crypto back ends next to OpenSSL,
 * measured in the same run:
 *
 *   deno run --allow-all bench/crypto.ts [--quick]
 *
 * Peer: `openssl speed -elapsed -evp chacha20-poly1305 -bytes N` (streaming
 * EVP updates on one context, encrypt only, no per-message tag: an upper
 * bound) and `openssl speed -elapsed -aead -evp chacha20-poly1305 -bytes N`
 * (TLS-like: per message a fresh nonce, 13-byte AAD, encrypt, tag). Both
 * measure encryption only, so the target compares our **seal** (new cipher,
 * 13-byte AAD, encrypt, tag, ciphertext||tag in one buffer) with
 * `openssl -evp`; seal+open is shown for information. `-elapsed` makes
 * OpenSSL divide by wall-clock time like we do. MB = 10^6 bytes.
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

/** One row of results, MB/s. */
interface Row {
  readonly size: number;
  readonly nodeSeal: number;
  readonly nodeSealOpen: number;
  readonly nobleSeal: number;
  readonly nobleSealOpen: number;
  readonly opensslEvp: number;
  readonly opensslAead: number;
}

const SIZES = [64, 1024, 16384] as const;
/** The target: our node seal at 16 KiB vs `openssl speed -evp`. */
const TARGET = { size: 16384, ratio: 0.8 } as const;

/** Bytes per second of `op` on `size`-byte messages, best of `rounds` windows of `ms`. */
function measure(size: number, ms: number, rounds: number, op: () => void): number {
  for (let i = 0; i < 200; i++) op(); // warm up the JIT and the native path
  let best = 0;
  for (let r = 0; r < rounds; r++) {
    let n = 0;
    const t0 = performance.now();
    let t = t0;
    // check the clock every `batch` ops so timing costs nothing measurable
    const batch = size >= 16384 ? 8 : 256;
    while (t - t0 < ms) {
      for (let i = 0; i < batch; i++) op();
      n += batch;
      t = performance.now();
    }
    best = Math.max(best, (n * size) / ((t - t0) / 1000));
  }
  return best;
}

function ours(b: CryptoBackend, size: number, ms: number, rounds: number) {
  const key = nodeBackend.randomBytes(32);
  const nonce = nodeBackend.randomBytes(12); // reused: fine for timing only
  const aad = nodeBackend.randomBytes(13); // same AAD length as openssl -aead
  const pt = nodeBackend.randomBytes(size);
  const sealed = b.chachaSeal(key, nonce, aad, pt);
  const seal = measure(size, ms, rounds, () => b.chachaSeal(key, nonce, aad, pt));
  const sealOpen = measure(size, ms, rounds, () => {
    b.chachaOpen(key, nonce, aad, b.chachaSeal(key, nonce, aad, pt));
  });
  if (b.chachaOpen(key, nonce, aad, sealed).length !== size) throw new Error("bench self-check");
  return { seal, sealOpen };
}

/** Runs `openssl speed` for one size; bytes/s from its `-mr` `+F` line. */
async function openssl(size: number, seconds: number, aead: boolean): Promise<number> {
  const args = ["speed", "-mr", "-elapsed", "-seconds", String(seconds), "-bytes", String(size)];
  if (aead) args.push("-aead");
  args.push("-evp", "chacha20-poly1305");
  const out = await new Deno.Command("openssl", { args, stdout: "piped", stderr: "piped" })
    .output();
  const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
  const m = text.match(/^\+F:\d+:[^:]+:([0-9.]+)/m);
  if (!out.success || !m) {
    throw new Error(`openssl speed ${args.join(" ")} failed:\n${text.slice(0, 2000)}`);
  }
  return Number(m[1]);
}

function haveOpenssl(): boolean {
  try {
    return new Deno.Command("openssl", { args: ["version"], stdout: "null", stderr: "null" })
      .outputSync().success;
  } catch {
    return false;
  }
}

const mb = (bps: number) => (bps / 1e6).toFixed(1);
const x = (a: number, b: number) => `${(a / b).toFixed(2)}x`;

/** Runs the bench, prints the table and the target line; returns the rows. */
export async function runCryptoBench(opts: CryptoBenchOptions): Promise<readonly Row[]> {
  if (!haveOpenssl()) {
    console.error("bench/crypto: openssl not found on PATH (apt-get install openssl); cannot compare");
    Deno.exit(1);
  }
  const ms = opts.quick ? 150 : 400;
  const rounds = opts.quick ? 2 : 3;
  const oSeconds = opts.quick ? 1 : 2;
  const rows: Row[] = [];
  for (const size of SIZES) {
    const n = ours(nodeBackend, size, ms, rounds);
    const o = ours(nobleBackend, size, ms, rounds);
    const opensslEvp = await openssl(size, oSeconds, false);
    const opensslAead = opts.quick ? NaN : await openssl(size, oSeconds, true);
    rows.push({
      size,
      nodeSeal: n.seal,
      nodeSealOpen: n.sealOpen,
      nobleSeal: o.seal,
      nobleSealOpen: o.sealOpen,
      opensslEvp,
      opensslAead,
    });
  }

  console.log(`ChaCha20-Poly1305, MB/s (10^6 B/s), ${opts.quick ? "quick" : "full"} run, 13-byte AAD`);
  console.log(
    "size    | node seal | node seal+open | noble seal | noble seal+open | openssl -evp | openssl -aead | node seal/ossl-evp | node seal/ossl-aead | node/noble seal",
  );
  for (const r of rows) {
    console.log(
      [
        String(r.size).padEnd(7),
        mb(r.nodeSeal).padStart(9),
        mb(r.nodeSealOpen).padStart(14),
        mb(r.nobleSeal).padStart(10),
        mb(r.nobleSealOpen).padStart(15),
        mb(r.opensslEvp).padStart(12),
        (Number.isNaN(r.opensslAead) ? "-" : mb(r.opensslAead)).padStart(13),
        x(r.nodeSeal, r.opensslEvp).padStart(18),
        (Number.isNaN(r.opensslAead) ? "-" : x(r.nodeSeal, r.opensslAead)).padStart(19),
        x(r.nodeSeal, r.nobleSeal).padStart(15),
      ].join(" | "),
    );
  }
  const t = rows.find((r) => r.size === TARGET.size);
  if (t) {
    const ratio = t.nodeSeal / t.opensslEvp;
    console.log(
      `target: node:crypto seal at 16 KiB >= ${TARGET.ratio}x openssl: ${ratio.toFixed(2)}x ${
        ratio >= TARGET.ratio ? "PASS" : "FAIL"
      }`,
    );
  }
  return rows;
}

if (import.meta.main) {
  await runCryptoBench({ quick: Deno.args.includes("--quick") });
}
