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
import { runFuzz } from "../fuzz/run.ts";
import { buildTargets } from "../fuzz/targets.ts";

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
