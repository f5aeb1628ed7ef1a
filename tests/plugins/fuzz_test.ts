/**
 * CI fuzz of the plugin host's decoders (issue #9): 100,000 inputs to each
 * of the host's decoder of plugin frames, of plugin messages as a Worker's
 * structured clone delivers them, the manifest parser and the policy
 * parser, with a fixed seed so a failure replays. Zero crashes (any
 * exception other than MyClerkError, any exception at all from the
 * never-throwing message validator) and zero hangs. `deno task fuzz` runs
 * 10^6 per target with a fresh seed.
 *
 * @module
 */
import { replay, runFuzz } from "../fuzz/run.ts";
import { buildTargets } from "../fuzz/targets.ts";
import { FrameDecoder } from "../../plugins/runtime/frames.ts";
import { isMyClerkError } from "../../core/errors.ts";

function assert(cond: unknown, msg = "assertion failed"): asserts cond {
  if (!cond) throw new Error(msg);
}

const PER_TARGET = 100_000;
const SEED = 20_261_201;
const NAMES = ["plugin frames", "plugin messages (clone)", "plugin manifest", "plugin policy"];

Deno.test("plugin fuzz: the four targets are registered in the suite", () => {
  const names = buildTargets("node").map((t) => t.name);
  for (const n of NAMES) assert(names.includes(n), `missing target ${n}`);
});

Deno.test("plugin fuzz: 100k inputs per target, zero crashes, zero hangs", () => {
  const r = runFuzz({
    inputs: 0,
    perTarget: PER_TARGET,
    only: "plugin ",
    seed: SEED,
    perInputMs: 1000,
    budgetMs: 170_000,
    crashDir: new URL("../fuzz/crashes", import.meta.url).pathname,
    print: true,
  });
  assert(r.complete, `stopped by the time budget after ${r.inputs} inputs`);
  assert(r.targets.length === NAMES.length, `${r.targets.length} targets ran`);
  const crashes = r.findings.filter((f) => f.kind === "crash");
  const hangs = r.findings.filter((f) => f.kind === "hang");
  assert(
    crashes.length === 0,
    `${crashes.length} crashes, first: ${crashes[0]?.target} ${crashes[0]?.error}`,
  );
  assert(
    hangs.length === 0,
    `${hangs.length} hangs, first: ${hangs[0]?.target} ${hangs[0]?.error}`,
  );
  for (const t of r.targets) {
    assert(t.inputs === PER_TARGET, `${t.name}: ${t.inputs} inputs`);
    // The seeds reach past the first checks: some inputs are accepted, some refused.
    const valid = [...t.outcomes.keys()].some((k) => k.startsWith("valid"));
    assert(valid, `${t.name}: no input was accepted, the seeds are broken`);
    assert(t.outcomes.size > 3, `${t.name}: only ${t.outcomes.size} distinct outcomes`);
  }
});

Deno.test("plugin fuzz: saved inputs replay without a crash; a declared 30M-element array is cheap", () => {
  const dir = new URL("../fuzz/crashes/", import.meta.url);
  for (const e of Deno.readDirSync(dir)) {
    if (!e.name.startsWith("plugin_")) continue;
    assert(replay(new URL(e.name, dir).pathname), `${e.name} crashes again`);
  }
  // Found by the fuzz suite: 31 bytes declaring an array32 of 0x01CDF102 elements made the
  // MessagePack decoder allocate 240 MB and take 0.5-1 s before failing.
  const hex = "82a174a57265616479a76f70636f64657393cdb100cdf1669fa0dd01cdf102";
  const body = new Uint8Array(hex.length / 2).map((_, i) =>
    parseInt(hex.slice(2 * i, 2 * i + 2), 16)
  );
  const frame = new Uint8Array(4 + body.length);
  new DataView(frame.buffer).setUint32(0, body.length);
  frame.set(body, 4);
  let best = Infinity;
  for (let i = 0; i < 5; i++) {
    const t0 = performance.now();
    try {
      new FrameDecoder().push(frame);
      throw new Error("decoded a truncated array");
    } catch (e) {
      assert(isMyClerkError(e), `typed error, got ${e}`);
    }
    best = Math.min(best, performance.now() - t0);
  }
  assert(best < 50, `best of 5: ${best.toFixed(1)} ms`);
});
