/**
 * Runs the fuzz suite (tests/fuzz/run.ts) in-process with 100,000 inputs
 * split across every target, and asserts zero crashes (any exception other
 * than MyClerkError, or any exception from a never-throwing API) and zero
 * hangs (each input under 1 s, the whole run under 85 s).
 *
 * @module
 */

import { runFuzz } from "../fuzz/run.ts";
import { buildTargets, PAYLOAD_DECODER_NAMES } from "../fuzz/targets.ts";
import * as P from "../../core/session/payloads.ts";

function assert(cond: unknown, msg = "assertion failed"): asserts cond {
  if (!cond) throw new Error(msg);
}

const INPUTS = 100_000;
/** Fixed so a CI failure replays; `deno task fuzz` uses a time-based seed for new ground. */
const SEED = 20_260_301;

Deno.test("fuzz: every payload decoder of session/payloads.ts is a target", () => {
  const exported = Object.keys(P).filter((k) => k.startsWith("decode"));
  for (const name of exported) {
    assert(PAYLOAD_DECODER_NAMES.includes(name), `${name} is not fuzzed`);
  }
  const names = buildTargets("node").map((t) => t.name);
  for (
    const want of [
      "decodeMessage",
      "FrameReader",
      "payload decoders",
      "Reassembler",
      "decompress",
      "Session.receive t3",
      "Session.receive t4",
      "Session.receive t5",
      "Responder.accept",
      "Responder.complete",
      "Initiator.finish",
      "acceptResume",
      "inspectBytes",
    ]
  ) assert(names.includes(want), `missing target ${want}`);
});

Deno.test("fuzz: 100k inputs, zero crashes, zero hangs", () => {
  const r = runFuzz({
    inputs: INPUTS,
    seed: SEED,
    backend: "node",
    perInputMs: 1000,
    budgetMs: 85_000,
    crashDir: new URL("../fuzz/crashes", import.meta.url).pathname,
    print: true,
  });
  assert(r.complete, `stopped by the time budget after ${r.inputs} inputs`);
  assert(r.inputs >= INPUTS, `${r.inputs} inputs`);
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
  // every target really ran, and the seeds reached past the first checks somewhere
  for (const t of r.targets) assert(t.inputs > 0, `${t.name} ran no input`);
  const ok = (name: string) => r.targets.find((t) => t.name === name)?.ok ?? 0;
  for (
    const name of [
      "decodeMessage",
      "Responder.accept",
      "Responder.complete",
      "Initiator.finish",
      "acceptResume",
    ]
  ) {
    assert(ok(name) > 0, `${name}: no input got through, the seeds are broken`);
  }
  const sealed = r.targets.find((t) => t.name === "Session.sealed t5")!;
  assert((sealed.outcomes.get("message") ?? 0) > 0, "sealed inputs never reached delivery");
});
