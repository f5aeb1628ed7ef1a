/**
 * The node's hand-written registry (core/node/metrics.ts) against
 * prom-client 15 (the most used Prometheus client on npm), on the same
 * registry shaped like a busy relay: the real core, federation and plugin
 * declarations, 10 routes, 12 plugins, every drop reason and error code
 * seen, 4 histograms per route / plugin. Measures scrape render time, the
 * hot-path increment, and the heap the registry holds. Prints ratios
 * against prom-client measured in the same run (docs/OPERATOR.md
 * "Metrics" quotes them).
 *
 *   deno run -A --no-lock --v8-flags=--expose-gc bench/metrics.ts [--quick]
 *
 * `--no-lock`: prom-client is only a measuring peer, not a dependency.
 *
 * @module
 */

import { CORE, ERROR_CODES, Metrics, type MetricSpec } from "../core/node/metrics.ts";
import { FED } from "../federation/metrics.ts";
import { PLUGIN_METRICS } from "../plugins/runtime/metrics.ts";

const QUICK = Deno.args.includes("--quick");
const RENDERS = QUICK ? 30 : 500;
const INCS = QUICK ? 50_000 : 2_000_000;

const ROUTES = ["core", "federation", "plugins", "status", "acl", "ping", "keys", "x", "y", "z"];
const PLUGINS = Array.from({ length: 12 }, (_, i) => `plugin-${i}`);
const specs: MetricSpec[] = [CORE, FED, PLUGIN_METRICS].flatMap((o) => Object.values(o));

/** The same samples for both registries: [spec, labels, value or observations]. */
type Op = { spec: MetricSpec; labels: Record<string, string>; n: number };
function workload(): Op[] {
  const ops: Op[] = [];
  for (const spec of specs) {
    const names = Object.keys(spec.labels);
    // every closed value of the first label, crossed with routes / plugins for the open one
    const values = (l: string): string[] => {
      const r = spec.labels[l];
      if (Array.isArray(r)) return r.slice(0, 16);
      return l === "plugin" ? PLUGINS : ROUTES;
    };
    let sets: Record<string, string>[] = [{}];
    for (const l of names) {
      const next: Record<string, string>[] = [];
      const vs = values(l);
      for (const s of sets) {
        // cross only the first two labels fully; later ones take 3 values (a realistic spread)
        for (
          const v of next.length > 400 ? vs.slice(0, 1) : vs.slice(0, names.indexOf(l) < 2 ? 16 : 3)
        ) {
          next.push({ ...s, [l]: v });
        }
      }
      sets = next;
    }
    for (const labels of sets.slice(0, 200)) ops.push({ spec, labels, n: 1 + ops.length % 17 });
  }
  return ops;
}

// deno-lint-ignore no-explicit-any
type PromClient = any;

function buildMine(ops: readonly Op[]): Metrics {
  const m = new Metrics();
  for (const s of specs) m.register(s);
  for (const o of ops) {
    if (o.spec.type === "counter") m.inc(o.spec, o.labels, o.n);
    else if (o.spec.type === "gauge") m.gauge(o.spec, () => o.n, o.labels);
    else for (let i = 0; i < o.n; i++) m.observe(o.spec, 0.0003 * i * i, o.labels);
  }
  return m;
}

function buildTheirs(pc: PromClient, ops: readonly Op[]): PromClient {
  const reg = new pc.Registry();
  const made = new Map<string, PromClient>();
  for (const s of specs) {
    const base = {
      name: s.name,
      help: s.help,
      labelNames: Object.keys(s.labels),
      registers: [reg],
    };
    made.set(
      s.name,
      s.type === "counter"
        ? new pc.Counter(base)
        : s.type === "gauge"
        ? new pc.Gauge(base)
        : new pc.Histogram({ ...base, buckets: [...(s.buckets ?? [])] }),
    );
  }
  for (const o of ops) {
    const x = made.get(o.spec.name);
    if (o.spec.type === "counter") x.inc(o.labels, o.n);
    else if (o.spec.type === "gauge") x.set(o.labels, o.n);
    else for (let i = 0; i < o.n; i++) x.observe(o.labels, 0.0003 * i * i);
  }
  return { reg, made };
}

function heap(): number {
  (globalThis as { gc?: () => void }).gc?.();
  return Deno.memoryUsage().heapUsed;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

const pc = await import("npm:prom-client@15.1.3");
const ops = workload();

const h0 = heap();
const mine = buildMine(ops);
const h1 = heap();
const theirs = buildTheirs(pc, ops);
const h2 = heap();

const text = mine.render();
const theirText: string = await theirs.reg.metrics();
const series = text.split("\n").filter((l) => l && !l.startsWith("#")).length;
const theirSeries = theirText.split("\n").filter((l) => l && !l.startsWith("#")).length;

const tMine: number[] = [];
const tTheirs: number[] = [];
for (let i = 0; i < RENDERS; i++) {
  // alternate, so load on the machine hits both alike
  let t = performance.now();
  mine.render();
  tMine.push(performance.now() - t);
  t = performance.now();
  await theirs.reg.metrics();
  tTheirs.push(performance.now() - t);
}

const route = { route: "ping", result: "ok" };
let t = performance.now();
for (let i = 0; i < INCS; i++) mine.inc(CORE.requests, route);
const incMine = (performance.now() - t) / INCS * 1e6;
const c = theirs.made.get(CORE.requests.name);
t = performance.now();
for (let i = 0; i < INCS; i++) c.inc(route);
const incTheirs = (performance.now() - t) / INCS * 1e6;

const gc = (globalThis as { gc?: () => void }).gc
  ? ""
  : " (no --expose-gc: heap figures are noisy)";
console.log(
  `registry: ${specs.length} families, ${series} samples here, ${theirSeries} in prom-client`,
);
console.log(
  `target: render median ${median(tMine).toFixed(2)} ms (prom-client ${
    median(tTheirs).toFixed(2)
  } ms): ratio ${(median(tTheirs) / median(tMine)).toFixed(2)}x faster`,
);
console.log(
  `target: labelled inc ${incMine.toFixed(0)} ns (prom-client ${incTheirs.toFixed(0)} ns): ratio ${
    (incTheirs / incMine).toFixed(2)
  }x`,
);
console.log(
  `target: heap held ${((h1 - h0) / 1024).toFixed(0)} KiB (prom-client ${
    ((h2 - h1) / 1024).toFixed(0)
  } KiB)${gc}`,
);
console.log(`error codes in the closed set: ${ERROR_CODES.length}`);
