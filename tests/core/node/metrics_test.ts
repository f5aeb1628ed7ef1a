/**
 * The metric registry alone (core/node/metrics.ts): HELP/TYPE on every
 * family, closed and capped label sets, histogram buckets, escaping,
 * collectors, the `/proc` parsers, and the real registries of the core,
 * federation and plugin layers passing `promtool check metrics` when
 * promtool is installed.
 */

import { assert, assertEquals, assertThrows } from "../_assert.ts";
import { requireBinary } from "../../_support/real.ts";
import {
  CORE,
  counter,
  gauge,
  histogram,
  HistogramData,
  Metrics,
  OTHER,
} from "../../../core/node/metrics.ts";
import {
  parseBootTime,
  parseMaxFds,
  parseStat,
  registerProcessMetrics,
} from "../../../core/node/process_metrics.ts";
import { FED } from "../../../federation/metrics.ts";
import { PLUGIN_METRICS } from "../../../plugins/runtime/metrics.ts";

/** Sample lines (not comments) of a rendering. */
function samples(text: string): string[] {
  return text.split("\n").filter((l) => l !== "" && !l.startsWith("#"));
}

Deno.test("registry: every family has HELP and TYPE, even before its first sample", () => {
  const m = new Metrics();
  m.register(CORE);
  const text = m.render();
  for (const s of Object.values(CORE)) {
    assert(text.includes(`# HELP ${s.name} `), `HELP for ${s.name}`);
    assert(text.includes(`# TYPE ${s.name} ${s.type}\n`), `TYPE for ${s.name}`);
  }
  // an unlabelled counter renders 0; a labelled one nothing until counted
  assert(samples(text).includes("myclerk_messages_received_total 0"));
  assert(!text.includes("myclerk_drops_total{"));
});

Deno.test("registry: closed label sets map unknown values to other; open ones are capped", () => {
  const m = new Metrics();
  m.inc(CORE.drops, { reason: "mac" });
  m.inc(CORE.drops, { reason: "mac" });
  const detail = `a "long" detail\nwith a newline and ${"x".repeat(500)}`;
  m.inc(CORE.drops, { reason: detail });
  m.inc(CORE.drops, { reason: "replay\u0000" });
  assertEquals(m.get(CORE.drops, { reason: "mac" }), 2);
  assertEquals(m.get(CORE.drops, { reason: OTHER }), 2);
  assertEquals(
    m.get("myclerk_drops_total", { reason: detail }),
    2,
    "looked up through the rule too",
  );
  const text = m.render();
  assert(!text.includes("long"), "the detail never reaches the output");
  assert(samples(text).includes('myclerk_drops_total{reason="other"} 2'));

  const open = counter("t_open_total", "open label", { name: { open: 3 } });
  for (const n of ["a", "b", "c", "d", "e", "a"]) m.inc(open, { name: n });
  const got = samples(m.render()).filter((l) => l.startsWith("t_open_total"));
  assertEquals(got, [
    't_open_total{name="a"} 2',
    't_open_total{name="b"} 1',
    't_open_total{name="c"} 1',
    't_open_total{name="other"} 2',
  ]);
  // an undeclared label is ignored, a missing one left out
  m.inc(CORE.requests, { route: "ping", result: "ok", extra: "x" });
  m.inc(CORE.requests, { route: "ping" });
  const req = samples(m.render()).filter((l) => l.startsWith("myclerk_requests_total"));
  assertEquals(req, [
    'myclerk_requests_total{route="ping"} 1',
    'myclerk_requests_total{route="ping",result="ok"} 1',
  ]);
});

Deno.test("registry: names are declared once; bad names and kinds are refused", () => {
  const m = new Metrics();
  m.register(CORE);
  m.register(CORE); // the same specs again: no-op
  throwsWith(() => m.register(counter("myclerk_drops_total", "again")), "declared twice");
  throwsWith(() => m.register(counter("t_no_suffix", "x")), "_total");
  throwsWith(() => m.register(gauge("t-bad", "x")), "bad metric name");
  throwsWith(() => m.register(gauge("t_g", "x", { le: ["1"] })), "bad label");
  throwsWith(() => m.observe(CORE.drops, 1), "not a histogram");
  // a string name nobody declared is counted, not rendered
  m.inc("fed_drop_total", { reason: "x" });
  assertEquals(m.get(CORE.undeclared), 1);
  assert(!m.render().includes("fed_drop_total"));
  // layers' declarations do not collide
  m.register(FED);
  m.register(PLUGIN_METRICS);
  const names = m.names();
  assertEquals(new Set(names).size, names.length);
  for (const n of names) assert(n.startsWith("myclerk_"), `${n} has the prefix`);
});

Deno.test("registry: histograms are cumulative, in seconds, with +Inf, sum and count", () => {
  const m = new Metrics();
  const h = histogram("t_seconds", "latency", [0.01, 0.1, 1], { route: ["a"] });
  for (const v of [0.005, 0.01, 0.05, 0.5, 3, NaN]) m.observe(h, v, { route: "a" });
  const got = samples(m.render());
  assertEquals(got, [
    't_seconds_bucket{route="a",le="0.01"} 2',
    't_seconds_bucket{route="a",le="0.1"} 3',
    't_seconds_bucket{route="a",le="1"} 4',
    't_seconds_bucket{route="a",le="+Inf"} 5',
    `t_seconds_sum{route="a"} ${0.005 + 0.01 + 0.05 + 0.5 + 3}`,
    't_seconds_count{route="a"} 5',
  ]);
  // a collector's histogram state for the same series is merged, not repeated
  const d = new HistogramData([0.01, 0.1, 1]);
  d.observe(0.2);
  m.collect(h, () => [{ labels: { route: "a" }, histogram: d }]);
  const merged = samples(m.render());
  assert(merged.includes('t_seconds_bucket{route="a",le="1"} 5'), merged.join("\n"));
  assert(merged.includes('t_seconds_count{route="a"} 6'));
});

Deno.test("registry: gauges and collectors; failures render NaN or nothing, never throw", () => {
  const m = new Metrics();
  const g = gauge("t_g", "g", { k: ["x", "y"] });
  m.gauge(g, () => 7, { k: "x" });
  m.gauge(g, () => {
    throw new Error("boom");
  }, { k: "y" });
  const c = counter("t_c_total", "c", { k: ["x"] });
  m.collect(c, () => {
    throw new Error("boom");
  });
  m.collect(c, () => [{ labels: { k: "x" }, value: 3 }, { labels: { k: "zz" }, value: 1 }]);
  const got = samples(m.render());
  assert(got.includes('t_g{k="x"} 7'));
  assert(got.includes('t_g{k="y"} NaN'));
  assert(got.includes('t_c_total{k="x"} 3'));
  assert(got.includes('t_c_total{k="other"} 1'));
});

Deno.test("registry: HELP and label values are escaped per the exposition format", () => {
  const m = new Metrics();
  const c = counter("t_esc_total", 'back\\slash and\nnewline "q"', { v: { open: 4 } });
  m.inc(c, { v: 'a"b\\c\nd' });
  const text = m.render();
  assert(text.includes('# HELP t_esc_total back\\\\slash and\\nnewline "q"\n'), text);
  assert(text.includes('t_esc_total{v="a\\"b\\\\c\\nd"} 1'), text);
});

Deno.test("process metrics: /proc parsers and the live series", () => {
  const stat = "1234 (my (odd) name) S 1 1234 1234 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 " +
    "5 0 987654 123456789 4321 18446744073709551615";
  const s = parseStat(stat)!;
  assertEquals(s.cpuTicks, 300);
  assertEquals(s.startTicks, 987654);
  assertEquals(s.vsize, 123456789);
  assertEquals(parseStat("garbage"), undefined);
  assertEquals(parseBootTime("cpu 1 2 3\nbtime 1700000000\nprocesses 5\n"), 1700000000);
  assertEquals(parseMaxFds("Max open files            1024                 4096  files\n"), 1024);

  const m = new Metrics();
  registerProcessMetrics(m);
  const text = m.render();
  const val = (n: string) =>
    Number(samples(text).find((l) => l.startsWith(`${n} `))?.split(" ")[1]);
  const rss = val("process_resident_memory_bytes");
  assert(rss > 1e6 && rss < 1e11, `rss ${rss}`);
  const start = val("process_start_time_seconds");
  // The process started before this module's isolate (deno test runs each module in its own
  // runtime, so performance.timeOrigin can be minutes after the process start) and after boot.
  const now = Date.now() / 1000;
  assert(start <= performance.timeOrigin / 1000 + 1, `start ${start} after this isolate began`);
  assert(start > now - 6 * 3600 && start <= now, `start ${start}, now ${now}`);
  assert(val("process_open_fds") >= 3);
  assert(val("process_cpu_seconds_total") > 0);
  const bi = samples(text).find((l) => l.startsWith("myclerk_build_info{"))!;
  assert(new RegExp(`deno="${Deno.version.deno.replace(/\./g, "\\.")}"`).test(bi), bi);
  assert(/commit="([0-9a-f]{7}|unknown)"/.test(bi), bi);
  assert(bi.endsWith(" 1"));
});

Deno.test({
  name: "registry: every layer's declarations pass promtool check metrics",
  ...requireBinary("promtool"),
  fn: async () => {
    const m = new Metrics();
    m.register(CORE);
    m.register(FED);
    m.register(PLUGIN_METRICS);
    registerProcessMetrics(m);
    m.inc(CORE.drops, { reason: "mac" });
    m.observe(CORE.requestSeconds, 0.003, { route: "ping" });
    m.inc(FED.drops, { reason: "a detail that is not a reason" });
    const r = await promtoolCheck(m.render());
    assertEquals(r.out.trim(), "", r.out);
    assertEquals(r.code, 0);
    // the check has teeth: the old formatter's kind of output is refused
    const old = await promtoolCheck(
      "# TYPE fed_queue_messages gauge\nfed_queue_messages 0\n" +
        '# TYPE myclerk_plugin_latency_us gauge\nmyclerk_plugin_latency_us{quantile="p50"} 12\n',
    );
    assert(old.code !== 0 && /no help text/.test(old.out), old.out);
  },
});

async function promtoolCheck(text: string): Promise<{ code: number; out: string }> {
  const p = new Deno.Command("promtool", {
    args: ["check", "metrics"],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const w = p.stdin.getWriter();
  await w.write(new TextEncoder().encode(text));
  await w.close();
  const r = await p.output();
  return {
    code: r.code,
    out: new TextDecoder().decode(r.stdout) + new TextDecoder().decode(r.stderr),
  };
}

/** Asserts `f` throws an error whose message contains `text`. */
function throwsWith(f: () => unknown, text: string): void {
  const e = assertThrows(f);
  assert(String((e as Error).message).includes(text), `${(e as Error).message} has ${text}`);
}
