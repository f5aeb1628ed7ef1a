/**
 * Fuzz suite of the protocol core (issue #3). Feeds random and mutated
 * inputs to every decoder and state machine that faces the network, and
 * counts typed errors (MyClerkError), crashes (anything else) and hangs
 * (an input over the per-input time bound).
 *
 * Usage:
 *   deno run --allow-all tests/fuzz/run.ts --inputs 100000 [--seed S] [--backend node|noble]
 *   deno run --allow-all tests/fuzz/run.ts --replay tests/fuzz/crashes/<file>.hex
 *
 * Exit code 1 when there was a crash or a hang. Crashing inputs are printed
 * in hex and saved under `tests/fuzz/crashes/` for `--replay`.
 *
 * @module
 */

import { errorName, isMyClerkError } from "../../core/errors.ts";
import type { BackendName } from "../../core/crypto/mod.ts";
import { nextInput, Rng } from "./mutate.ts";
import { buildTargets, type Target } from "./targets.ts";

/** Options of {@link runFuzz}. */
export interface FuzzOptions {
  /** Total inputs, split evenly across targets. */
  readonly inputs: number;
  /** Inputs per target instead (overrides the split of `inputs`). */
  readonly perTarget?: number;
  readonly seed?: number;
  readonly backend?: BackendName;
  /** An input slower than this is a hang (ms). */
  readonly perInputMs?: number;
  /** Stop starting new inputs after this many ms (the run is then incomplete). */
  readonly budgetMs?: number;
  /** Where crashing inputs are saved (undefined: not saved). */
  readonly crashDir?: string;
  /** Print the table and crashes. */
  readonly print?: boolean;
  /** Only targets whose name contains this. */
  readonly only?: string;
}

/** A crash or hang, with the input that caused it. */
export interface Finding {
  readonly target: string;
  readonly kind: "crash" | "hang";
  readonly error: string;
  readonly hex: string;
  readonly how: string;
  readonly file?: string;
}

/** Per-target counts. */
export interface TargetReport {
  readonly name: string;
  inputs: number;
  ok: number;
  typed: number;
  crashes: number;
  hangs: number;
  maxMs: number;
  /** Typed errors by `CODE/detail`, and outcomes of non-throwing targets. */
  readonly outcomes: Map<string, number>;
}

/** The whole run. */
export interface FuzzReport {
  readonly targets: readonly TargetReport[];
  readonly findings: readonly Finding[];
  readonly inputs: number;
  readonly elapsedMs: number;
  /** False when the time budget stopped the run early. */
  readonly complete: boolean;
  readonly seed: number;
}

function toHex(b: Uint8Array): string {
  let s = "";
  for (const x of b) s += x.toString(16).padStart(2, "0");
  return s;
}

function fromHex(s: string): Uint8Array {
  const t = s.trim();
  const out = new Uint8Array(t.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(t.slice(2 * i, 2 * i + 2), 16);
  return out;
}

function describe(e: unknown): string {
  if (e instanceof Error) return `${e.name}: ${e.message}\n${e.stack ?? ""}`;
  return String(e);
}

/** Runs one input through one target; returns the outcome key or a finding-kind. */
function runOne(t: Target, input: Uint8Array, rng: Rng): { key: string; crash?: unknown } {
  try {
    return { key: t.run(input, rng) };
  } catch (e) {
    if (t.noThrow || !isMyClerkError(e)) return { key: "crash", crash: e };
    // keep the detail's stable part: peer errors carry free text after "peer: "
    const detail = e.detail.startsWith("peer: ") ? "peer" : e.detail;
    return { key: `${errorName(e.code)}/${detail}` };
  }
}

function save(
  dir: string | undefined,
  f: Omit<Finding, "file">,
  index: number,
): string | undefined {
  if (!dir) return undefined;
  try {
    Deno.mkdirSync(dir, { recursive: true });
    const name = `${f.target.replace(/[^A-Za-z0-9]+/g, "_")}-${f.kind}-${index}.hex`;
    const path = `${dir}/${name}`;
    Deno.writeTextFileSync(path, `${f.target}\n${f.hex}\n`);
    return path;
  } catch {
    return undefined; // read-only tree: the hex is printed anyway
  }
}

/** Runs the fuzz suite and returns the report (prints it when `print`). */
export function runFuzz(o: FuzzOptions): FuzzReport {
  const seed = o.seed ?? 1;
  const perInputMs = o.perInputMs ?? 1000;
  const start = performance.now();
  const deadline = start + (o.budgetMs ?? Infinity);
  const targets = buildTargets(o.backend ?? "node").filter((t) =>
    !o.only || t.name.includes(o.only)
  );
  const per = o.perTarget ?? Math.ceil(o.inputs / Math.max(1, targets.length));
  const findings: Finding[] = [];
  const reports: TargetReport[] = [];
  let complete = true;
  let total = 0;
  for (const [ti, t] of targets.entries()) {
    const rep: TargetReport = {
      name: t.name,
      inputs: 0,
      ok: 0,
      typed: 0,
      crashes: 0,
      hangs: 0,
      maxMs: 0,
      outcomes: new Map(),
    };
    reports.push(rep);
    const rng = new Rng((seed * 1_000_003 + ti * 7919) >>> 0);
    for (let i = 0; i < per; i++) {
      if ((i & 63) === 0 && performance.now() > deadline) {
        complete = false;
        break;
      }
      const { input, how } = nextInput(rng, t.seeds);
      const t0 = performance.now();
      const r = runOne(t, input, rng);
      const ms = performance.now() - t0;
      rep.inputs++;
      total++;
      rep.maxMs = Math.max(rep.maxMs, ms);
      if (r.key === "crash") {
        rep.crashes++;
        const f = {
          target: t.name,
          kind: "crash" as const,
          error: describe(r.crash),
          hex: toHex(input),
          how,
        };
        findings.push({ ...f, file: save(o.crashDir, f, findings.length) });
        continue;
      }
      if (ms > perInputMs) {
        rep.hangs++;
        const f = {
          target: t.name,
          kind: "hang" as const,
          error: `${ms.toFixed(0)} ms > ${perInputMs} ms`,
          hex: toHex(input),
          how,
        };
        findings.push({ ...f, file: save(o.crashDir, f, findings.length) });
      }
      if (r.key.includes("/")) rep.typed++;
      else rep.ok++;
      rep.outcomes.set(r.key, (rep.outcomes.get(r.key) ?? 0) + 1);
    }
  }
  const report: FuzzReport = {
    targets: reports,
    findings,
    inputs: total,
    elapsedMs: performance.now() - start,
    complete,
    seed,
  };
  if (o.print) printReport(report);
  return report;
}

/** Prints the per-target table, the findings and a summary line. */
export function printReport(r: FuzzReport): void {
  const rows = [["target", "inputs", "ok", "typed", "crashes", "hangs", "max ms", "top outcomes"]];
  for (const t of r.targets) {
    const top = [...t.outcomes].sort((a, b) => b[1] - a[1]).slice(0, 4).map(([k, n]) => `${k}:${n}`)
      .join(" ");
    rows.push([
      t.name,
      `${t.inputs}`,
      `${t.ok}`,
      `${t.typed}`,
      `${t.crashes}`,
      `${t.hangs}`,
      t.maxMs.toFixed(1),
      top,
    ]);
  }
  const w = rows[0].map((_, c) => Math.max(...rows.map((row) => row[c].length)));
  for (const row of rows) {
    console.log(
      row.map((v, c) => (c === 0 || c === 7 ? v.padEnd(w[c]) : v.padStart(w[c]))).join("  "),
    );
  }
  for (const f of r.findings.slice(0, 20)) {
    console.log(
      `\n${f.kind.toUpperCase()} in ${f.target} (${f.how})${
        f.file ? ` saved to ${f.file}` : ""
      }\n  input: ${f.hex}\n  ${f.error.split("\n").slice(0, 6).join("\n  ")}`,
    );
  }
  const crashes = r.findings.filter((f) => f.kind === "crash").length;
  const hangs = r.findings.length - crashes;
  console.log(
    `\nfuzz: ${r.inputs} inputs, ${r.targets.length} targets, seed ${r.seed}, ${
      (r.elapsedMs / 1000).toFixed(1)
    } s` +
      `${r.complete ? "" : " (stopped by the time budget)"}: ${crashes} crashes, ${hangs} hangs ${
        crashes + hangs === 0 ? "PASS" : "FAIL"
      }`,
  );
}

/** Replays a saved crash file (`target\nhex`) and prints what happens. */
export function replay(path: string, backend: BackendName = "node"): boolean {
  const [name, hex] = Deno.readTextFileSync(path).split("\n");
  const t = buildTargets(backend).find((x) => x.name === name);
  if (!t) throw new Error(`no target named ${name}`);
  const r = runOne(t, fromHex(hex ?? ""), new Rng(1));
  console.log(r.key === "crash" ? `CRASH: ${describe(r.crash)}` : `outcome: ${r.key}`);
  return r.key !== "crash";
}

function arg(args: readonly string[], name: string): string | undefined {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
}

if (import.meta.main) {
  const args = Deno.args;
  const backend = (arg(args, "--backend") ?? "node") as BackendName;
  const rp = arg(args, "--replay");
  if (rp) Deno.exit(replay(rp, backend) ? 0 : 1);
  const r = runFuzz({
    inputs: Number(arg(args, "--inputs") ?? 100_000),
    perTarget: arg(args, "--per-target") === undefined
      ? undefined
      : Number(arg(args, "--per-target")),
    seed: Number(arg(args, "--seed") ?? Date.now() % 1_000_000),
    backend,
    only: arg(args, "--only"),
    perInputMs: Number(arg(args, "--per-input-ms") ?? 1000),
    crashDir: new URL("./crashes", import.meta.url).pathname,
    print: true,
  });
  Deno.exit(r.findings.length === 0 ? 0 : 1);
}
