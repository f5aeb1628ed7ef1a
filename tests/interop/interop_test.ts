/**
 * Interoperability with an independent implementation of profile mcp0.
 *
 * `tests/interop/*.mjs` is a second implementation written from
 * docs/PROTOCOL.md and docs/vectors/ alone (plain Node.js, no shared code).
 * These tests prove that (1) it reproduces every byte of the core vectors and
 * (2) it completes a real handshake, KEEPALIVE round trip, ERROR decoding and
 * SESSION_CLOSE with a real node at Tiers 3, 4 and 5.
 *
 * @module
 */

import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { requireBinary } from "../_support/real.ts";
import { startServe } from "../_support/proc.ts";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));

/** Runs a command to completion and returns its exit code and output. */
async function run(
  cmd: string,
  args: readonly string[],
): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = await new Deno.Command(cmd, {
    args: [...args],
    cwd: ROOT,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

Deno.test({
  name: "interop: independent implementation reproduces the core vectors",
  ...requireBinary("node"),
  async fn() {
    const r = await run("node", ["tests/interop/check_vectors.mjs"]);
    assert.deepEqual(r.code, 0, `check_vectors failed:\n${r.stdout}${r.stderr}`);
    assert.ok(/all \d+ checks passed/.test(r.stdout), r.stdout);
  },
});

Deno.test({
  name: "interop: vector checker detects a corrupted vector",
  ...requireBinary("node"),
  async fn() {
    // The checker must be able to fail: flip one byte of m2 in a copy of the vectors.
    const dir = await Deno.makeTempDir({ prefix: "mcp0-vectors-" });
    try {
      for (const f of ["tiers", "trailers", "handshake", "fragments", "counters"]) {
        await Deno.copyFile(`${ROOT}docs/vectors/${f}.json`, `${dir}/${f}.json`);
      }
      const hs = JSON.parse(await Deno.readTextFile(`${dir}/handshake.json`));
      const m2: string = hs.m2;
      const last = (parseInt(m2.slice(-2), 16) ^ 1).toString(16).padStart(2, "0");
      hs.m2 = m2.slice(0, -2) + last;
      await Deno.writeTextFile(`${dir}/handshake.json`, JSON.stringify(hs));
      const r = await run("node", ["tests/interop/check_vectors.mjs", dir]);
      assert.deepEqual(r.code, 1, r.stdout + r.stderr);
      assert.ok(r.stderr.includes("MISMATCH handshake.m2"), r.stderr);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "interop: independent client against a real node at Tiers 3, 4, 5",
  ...requireBinary("node"),
  async fn() {
    const data = await Deno.makeTempDir({ prefix: "mcp0-interop-" });
    const node = await startServe(["--data", data], 30_000);
    try {
      const addr = `127.0.0.1:${node.tcpPort}`;
      for (const tier of [3, 4, 5]) {
        const r = await run("node", ["tests/interop/client.mjs", addr, String(tier)]);
        assert.deepEqual(r.code, 0, `tier ${tier}: ${r.stdout}${r.stderr}`);
        const res = JSON.parse(r.stdout.trim());
        assert.deepEqual(res.tier, tier);
        assert.ok(typeof res.rttMs === "number" && res.rttMs >= 0, r.stdout);
        // 0x0700 is unassigned: UNSUPPORTED (0x14), §13
        assert.deepEqual(res.error.code, 0x14, r.stdout);
        assert.deepEqual(res.dropped, [], `tier ${tier}: our receiver dropped node messages`);
      }
    } finally {
      await node.stop();
      await Deno.remove(data, { recursive: true });
    }
  },
});
