/**
 * The node's one metric registry, rendered in the Prometheus text format
 * (version 0.0.4) at `/metrics`, and the core layer's series.
 *
 * Every series is declared once, as a {@link MetricSpec} constant in the
 * metrics module of the layer that owns it (this file for the core,
 * `federation/metrics.ts`, `plugins/runtime/metrics.ts`,
 * `core/node/process_metrics.ts`); call sites pass the constant, so a typo
 * is a compile error and HELP/TYPE can never be missing. A family is
 * rendered with `# HELP` and `# TYPE` even before its first sample.
 *
 * Label values are bounded: each label is declared with a closed set of
 * values (anything else is counted as `other`) or as an open label with a
 * cap on distinct values (values past the cap become `other`). No caller
 * can turn a free-form string (an error `detail`, an address) into a new
 * series.
 *
 * Why hand-written and not `prom-client` (docs/OPERATOR.md "Metrics"):
 * measured with `bench/metrics.ts` on a registry shaped like a busy relay
 * (58 families, 1,472 samples, the histograms included), a scrape renders
 * 10-14x faster than with prom-client 15.1.3 (0.5-0.6 ms against 6.4-7.1
 * ms on the 2-core test machine) because each series' label text is
 * rendered once, when the series appears; a labelled increment costs about
 * the same in both; the price is heap (509 KiB held against 332 KiB). It
 * is also synchronous (prom-client's `metrics()` is a Promise), needs no
 * Node compatibility layer and no dependency (the edge relay runs without
 * either), and enforces closed label sets, which prom-client does not (it
 * only checks label names). The exposition format is small and fixed; `promtool check
 * metrics` on a live scrape (tests/core/metrics_promtool_test.ts) is the
 * check that it stays correct.
 *
 * Longer than ~500 lines on purpose: the registry, its text renderer, histograms and the core's
 * own series table belong together (names declared once, rendered in one place); each layer's
 * series live in that layer.
 *
 * @module
 */

import { ErrorCode } from "../errors.ts";
import type { DropReason } from "../session/session.ts";

/** A label set given by a call site, e.g. `{ reason: "mac" }`. */
export type Labels = Readonly<Record<string, string>>;

/**
 * How a label's values are bounded: a closed list of values (anything else
 * becomes `other`) or `{ open: n }` for values that come from the node's own
 * configuration (plugin names, route names): the first `n` distinct values
 * are kept, later ones become `other`.
 */
export type LabelRule = readonly string[] | { readonly open: number };

/** The kind of a metric family. */
export type MetricType = "counter" | "gauge" | "histogram";

/** One metric family, declared once in its layer's metrics module. */
export interface MetricSpec {
  /** Full name (`myclerk_` prefix; counters end in `_total`, units in base units). */
  readonly name: string;
  /** The HELP text. */
  readonly help: string;
  /** Counter, gauge or histogram. */
  readonly type: MetricType;
  /** Label names (in output order) and how their values are bounded. */
  readonly labels: Readonly<Record<string, LabelRule>>;
  /** Histogram bucket upper bounds (ascending, without +Inf). */
  readonly buckets?: readonly number[];
}

/** The value every label takes when the given one is outside its rule. */
export const OTHER = "other";

/** Declares a counter family. */
export function counter(
  name: string,
  help: string,
  labels: Readonly<Record<string, LabelRule>> = {},
): MetricSpec {
  return { name, help, type: "counter", labels };
}

/** Declares a gauge family. */
export function gauge(
  name: string,
  help: string,
  labels: Readonly<Record<string, LabelRule>> = {},
): MetricSpec {
  return { name, help, type: "gauge", labels };
}

/** Declares a histogram family (`buckets` in the metric's unit, usually seconds). */
export function histogram(
  name: string,
  help: string,
  buckets: readonly number[],
  labels: Readonly<Record<string, LabelRule>> = {},
): MetricSpec {
  return { name, help, type: "histogram", labels, buckets };
}

/** Latency buckets in seconds: 0.5 ms to 10 s. */
export const LATENCY_BUCKETS: readonly number[] = [
  0.0005,
  0.001,
  0.0025,
  0.005,
  0.01,
  0.025,
  0.05,
  0.1,
  0.25,
  0.5,
  1,
  2.5,
  5,
  10,
];

/** Bucket counts, sum and count of one histogram series (also kept by plugins across restarts). */
export class HistogramData {
  /** Observations per bucket (not cumulative); the last slot is `+Inf`. */
  readonly counts: Float64Array;
  /** Sum of observed values. */
  sum = 0;
  /** Number of observations. */
  count = 0;
  /** Creates an empty histogram over `buckets`. */
  constructor(readonly buckets: readonly number[]) {
    this.counts = new Float64Array(buckets.length + 1);
  }
  /** Records one value. */
  observe(v: number): void {
    if (!Number.isFinite(v)) return;
    let i = 0;
    while (i < this.buckets.length && v > this.buckets[i]) i++;
    this.counts[i]++;
    this.sum += v;
    this.count++;
  }
}

/** Histogram state as a collector hands it over (bucket bounds come from the spec). */
export interface HistogramValue {
  /** Observations per bucket (not cumulative), one more than the spec's bounds (`+Inf`). */
  readonly counts: ArrayLike<number>;
  /** Sum of observed values. */
  readonly sum: number;
  /** Number of observations. */
  readonly count: number;
}

/** One sample produced at render time by a collector. */
export type Sample =
  | { readonly labels?: Labels; readonly value: number }
  | { readonly labels?: Labels; readonly histogram: HistogramValue };

/** Every error code name (closed set for `code` labels), plus `OK`. */
export const ERROR_CODES: readonly string[] = Object.keys(ErrorCode);

// Every session DropReason, checked by the compiler: a new reason must be added here.
const SESSION_DROPS: Record<DropReason, true> = {
  crc: true,
  mac: true,
  aead: true,
  replay: true,
  stale: true,
  key: true,
  tier: true,
  tier0: true,
  fragment: true,
  "session-id": true,
  header: true,
};

/** Silent-drop reasons of the core (profile §10; `core/session` DropReason and the connection's own). */
export const DROP_REASONS: readonly string[] = [
  ...Object.keys(SESSION_DROPS),
  "frame",
  "error-payload",
  "sessionless-error",
];

/** Why a handshake was refused (the `detail` values of the handshake's errors). */
export const HANDSHAKE_REASONS: readonly string[] = [
  "aead",
  "bad-ticket",
  "binder",
  "clock-skew",
  "downgrade",
  "field:session-id",
  "field:timestamp",
  "handshake",
  "handshake-in-progress",
  "handshake-mac",
  "key-id",
  "no-session-ids",
  "not-admitted",
  "pinned-key",
  "rekey-epoch",
  "resume-refused",
  "revoked",
  "ticket-expired",
  "ticket-reused",
  "tier",
  "unexpected-message",
  "unknown-key",
];

/** The core's series (docs/OPERATOR.md "Metrics"). */
export const CORE = {
  drops: counter(
    "myclerk_drops_total",
    "Messages dropped silently, by reason (profile section 10)",
    { reason: DROP_REASONS },
  ),
  errorsSent: counter("myclerk_errors_sent_total", "ERROR replies sent, by code", {
    code: ERROR_CODES,
  }),
  connections: counter("myclerk_connections_total", "Connections accepted, by transport", {
    transport: ["tcp", "ws"],
  }),
  rejected: counter("myclerk_connections_rejected_total", "Connections refused, by reason", {
    reason: ["limit", "closing"],
  }),
  evicted: counter(
    "myclerk_connections_evicted_total",
    "Unauthenticated connections closed to make room, by reason",
    { reason: ["per-address", "unauthenticated-full", "table-full"] },
  ),
  timeouts: counter("myclerk_connections_timeout_total", "Connections timed out, by phase", {
    phase: ["handshake", "idle"],
  }),
  closed: counter("myclerk_connections_closed_total", "Connections closed, by reason", {
    reason: [
      "client-close",
      "connection-limit",
      "evicted",
      "frame-too-large",
      "handler-error",
      "handshake",
      "handshake-failed",
      "handshake-timeout",
      "idle-timeout",
      "peer-close",
      "revoked",
      "send-queue-full",
      "shutdown",
      "text-frame",
    ],
  }),
  gateDenied: counter("myclerk_gate_denied_total", "Requests refused by the gate, by reason", {
    reason: ["tier", "revoked", "not-admitted", "session-required", "not-granted"],
  }),
  reloads: counter("myclerk_config_reloads_total", "Config reloads (SIGHUP), by result", {
    result: ["ok", "refused"],
  }),
  established: counter("myclerk_sessions_established_total", "Sessions established, by tier", {
    tier: ["1", "2", "3", "4", "5"],
  }),
  resumed: counter("myclerk_sessions_resumed_total", "Sessions resumed from a ticket"),
  revoked: counter(
    "myclerk_sessions_revoked_total",
    "Sessions closed because their key was revoked",
  ),
  handshakesFailed: counter(
    "myclerk_handshakes_failed_total",
    "Handshakes refused, by error code and reason",
    { code: ERROR_CODES, reason: HANDSHAKE_REASONS },
  ),
  handshakeSeconds: histogram(
    "myclerk_handshake_duration_seconds",
    "Time from a connection's accept to its established session, seconds",
    LATENCY_BUCKETS,
  ),
  received: counter("myclerk_messages_received_total", "Messages received"),
  requests: counter("myclerk_requests_total", "Requests dispatched, by route and result", {
    route: { open: 32 },
    result: ["ok", ...ERROR_CODES],
  }),
  requestSeconds: histogram(
    "myclerk_request_duration_seconds",
    "Time a route took to answer a request, seconds",
    LATENCY_BUCKETS,
    { route: { open: 32 } },
  ),
  open: gauge("myclerk_connections", "Connections open now"),
  unauth: gauge("myclerk_connections_unauthenticated", "Connections without a session now"),
  sessions: gauge("myclerk_sessions", "Established sessions now"),
  uptime: gauge("myclerk_uptime_seconds", "Seconds since the node started"),
  undeclared: counter(
    "myclerk_metrics_undeclared_total",
    "Increments of a metric name no layer declared (a bug: the sample is not rendered)",
  ),
} as const;

type Rule =
  | { readonly closed: ReadonlySet<string> }
  | { readonly open: number; readonly seen: Set<string> };

/** One series: its label key, pre-rendered label strings, and its value source. */
interface Series {
  readonly key: string;
  /** `{a="x",b="y"}` or "" (rendered once, when the series appears). */
  readonly ls: string;
  /** `a="x",b="y"` (histogram buckets append `le`). */
  readonly inner: string;
  value: number;
  read?: () => number;
  hist?: HistogramData;
}

interface Family {
  readonly spec: MetricSpec;
  readonly labelNames: readonly string[];
  readonly rules: readonly Rule[];
  readonly series: Map<string, Series>;
  /** `series` sorted by key; rebuilt only after a series was added. */
  sorted: Series[] | undefined;
  /** Label strings of collector-produced keys (collectors run at every scrape). */
  readonly labelCache: Map<string, { ls: string; inner: string }>;
  /** Bucket line prefixes per label key (histograms). */
  readonly bucketCache: Map<string, readonly string[]>;
  readonly collectors: (() => Iterable<Sample>)[];
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const SEP = "\u0000";

function escLabel(v: string): string {
  return v.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");
}

function escHelp(v: string): string {
  return v.replace(/\\/g, "\\\\").replace(/\n/g, "\\n");
}

function num(v: number): string {
  if (Number.isNaN(v)) return "NaN";
  if (v === Infinity) return "+Inf";
  if (v === -Infinity) return "-Inf";
  return String(v);
}

/**
 * The metric registry of one node.
 *
 * @example
 * ```ts
 * const m = new Metrics();
 * m.register(CORE);
 * m.inc(CORE.drops, { reason: "replay" });
 * m.observe(CORE.requestSeconds, 0.002, { route: "ping" });
 * ```
 */
export class Metrics {
  readonly #families = new Map<string, Family>();
  #names: string[] | undefined;

  /**
   * Declares families (a spec, a list, or an object of specs such as
   * {@link CORE}). Registering the same spec object again is a no-op; a
   * different spec under a registered name throws (names are declared once).
   */
  register(specs: MetricSpec | readonly MetricSpec[] | Readonly<Record<string, MetricSpec>>): void {
    const list = "name" in specs && typeof specs.name === "string"
      ? [specs as MetricSpec]
      : Array.isArray(specs)
      ? specs as readonly MetricSpec[]
      : Object.values(specs as Record<string, MetricSpec>);
    for (const s of list) this.#family(s);
  }

  #family(spec: MetricSpec): Family {
    const f = this.#families.get(spec.name);
    if (f) {
      if (f.spec !== spec) throw new Error(`metric ${spec.name} declared twice`);
      return f;
    }
    if (!NAME.test(spec.name)) throw new Error(`bad metric name ${spec.name}`);
    if (spec.type === "counter" && !spec.name.endsWith("_total")) {
      throw new Error(`counter ${spec.name} must end in _total`);
    }
    const labelNames = Object.keys(spec.labels);
    for (const l of labelNames) {
      if (!LABEL.test(l) || l === "le" || l.startsWith("__")) {
        throw new Error(`bad label ${l} on ${spec.name}`);
      }
    }
    const nf: Family = {
      spec,
      labelNames,
      rules: labelNames.map((l) => {
        const r = spec.labels[l];
        return Array.isArray(r)
          ? { closed: new Set(r as readonly string[]) }
          : { open: (r as { open: number }).open, seen: new Set<string>() };
      }),
      series: new Map(),
      sorted: undefined,
      labelCache: new Map(),
      bucketCache: new Map(),
      collectors: [],
    };
    this.#families.set(spec.name, nf);
    this.#names = undefined;
    return nf;
  }

  #lookup(spec: MetricSpec | string): Family | undefined {
    if (typeof spec !== "string") return this.#family(spec);
    return this.#families.get(spec);
  }

  /** The series key: label values in declared order, each mapped into its rule. */
  #key(f: Family, labels: Labels | undefined, admit = true): string {
    const names = f.labelNames;
    if (names.length === 0) return "";
    let k = "";
    for (let i = 0; i < names.length; i++) {
      const v = labels?.[names[i]];
      let out = "";
      if (v !== undefined) {
        const r = f.rules[i];
        if ("closed" in r) out = r.closed.has(v) ? v : OTHER;
        else if (r.seen.has(v)) out = v;
        else if (r.seen.size < r.open && v.length <= 64) {
          // a lookup (get) does not use up a slot of the cap
          if (admit) r.seen.add(v);
          out = v;
        } else out = OTHER;
      }
      k = i === 0 ? out : k + SEP + out;
    }
    return k;
  }

  #strings(f: Family, key: string): { ls: string; inner: string } {
    const c = f.labelCache.get(key);
    if (c) return c;
    const vs = f.labelNames.length ? key.split(SEP) : [];
    const parts: string[] = [];
    f.labelNames.forEach((l, i) => {
      if (vs[i] !== "") parts.push(`${l}="${escLabel(vs[i])}"`);
    });
    const inner = parts.join(",");
    const out = { ls: inner ? `{${inner}}` : "", inner };
    f.labelCache.set(key, out);
    return out;
  }

  #series(f: Family, labels: Labels | undefined): Series {
    const key = this.#key(f, labels);
    let s = f.series.get(key);
    if (!s) {
      s = { key, ...this.#strings(f, key), value: 0 };
      f.series.set(key, s);
      f.sorted = undefined;
    }
    return s;
  }

  /** Adds `by` to a counter. A string name must be declared; otherwise the increment is counted as undeclared. */
  inc(spec: MetricSpec | string, labels?: Labels, by = 1): void {
    const f = this.#lookup(spec);
    if (!f || f.spec.type !== "counter") {
      if (spec !== CORE.undeclared) this.inc(CORE.undeclared);
      return;
    }
    this.#series(f, labels).value += by;
  }

  /** Current value of a counter series (0 when never incremented). */
  get(spec: MetricSpec | string, labels?: Labels): number {
    const f = this.#families.get(typeof spec === "string" ? spec : spec.name);
    if (!f) return 0;
    return f.series.get(this.#key(f, labels, false))?.value ?? 0;
  }

  /** Registers a gauge series read at render time (a read that throws renders NaN). */
  gauge(spec: MetricSpec, read: () => number, labels?: Labels): void {
    const f = this.#family(spec);
    if (f.spec.type !== "gauge") throw new Error(`${f.spec.name} is not a gauge`);
    this.#series(f, labels).read = read;
  }

  /** Records one observation (seconds, for the latency histograms). */
  observe(spec: MetricSpec, value: number, labels?: Labels): void {
    const f = this.#family(spec);
    if (f.spec.type !== "histogram") throw new Error(`${spec.name} is not a histogram`);
    const s = this.#series(f, labels);
    (s.hist ??= new HistogramData(f.spec.buckets ?? [])).observe(value);
  }

  /**
   * Adds a collector for `spec`: called at render time, it yields samples
   * whose label sets change at run time (one series per installed plugin).
   * Its labels go through the family's rules like any other; a collector
   * that throws contributes nothing.
   */
  collect(spec: MetricSpec, fn: () => Iterable<Sample>): void {
    this.#family(spec).collectors.push(fn);
  }

  /** Declared family names (for tests and the docs' list). */
  names(): string[] {
    return [...(this.#names ??= [...this.#families.keys()].sort())];
  }

  /** Prometheus text exposition format. */
  render(): string {
    const out: string[] = [];
    this.#names ??= [...this.#families.keys()].sort();
    for (const name of this.#names) this.#renderFamily(this.#families.get(name)!, out);
    return out.join("\n") + "\n";
  }

  #renderFamily(f: Family, out: string[]): void {
    const { name, help, type } = f.spec;
    out.push(`# HELP ${name} ${escHelp(help)}`, `# TYPE ${name} ${type}`);
    const own = f.sorted ??= [...f.series.values()].sort(byKey);
    if (type !== "histogram") {
      const value = (s: Series) => {
        if (!s.read) return s.value;
        try {
          return s.read();
        } catch {
          return NaN; // a gauge that fails reads NaN
        }
      };
      if (f.collectors.length === 0) {
        for (const s of own) out.push(`${name}${s.ls} ${num(value(s))}`);
        if (own.length === 0 && f.labelNames.length === 0 && type === "counter") {
          out.push(`${name} 0`);
        }
        return;
      }
      // Collector samples may share a label set with a direct series: merge, never repeat.
      const merged = new Map<string, number>();
      for (const s of own) merged.set(s.key, value(s));
      for (const c of f.collectors) {
        try {
          for (const x of c()) {
            if ("histogram" in x) continue;
            const k = this.#key(f, x.labels);
            merged.set(k, (merged.get(k) ?? 0) + x.value);
          }
        } catch { /* a failing collector must not break /metrics */ }
      }
      for (const k of [...merged.keys()].sort()) {
        out.push(`${name}${this.#strings(f, k).ls} ${num(merged.get(k)!)}`);
      }
      return;
    }
    let hists: [string, HistogramValue[]][];
    if (f.collectors.length === 0) {
      hists = own.filter((s) => s.hist).map((s) => [s.key, [s.hist!]]);
    } else {
      const m = new Map<string, HistogramValue[]>();
      for (const s of own) if (s.hist) m.set(s.key, [s.hist]);
      for (const c of f.collectors) {
        try {
          for (const x of c()) {
            if (!("histogram" in x)) continue;
            const k = this.#key(f, x.labels);
            const p = m.get(k);
            if (p) p.push(x.histogram);
            else m.set(k, [x.histogram]);
          }
        } catch { /* a failing collector must not break /metrics */ }
      }
      hists = [...m.entries()].sort((a, b) => a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0);
    }
    const bounds = f.spec.buckets ?? [];
    for (const [k, hs] of hists) {
      const { ls, inner } = this.#strings(f, k);
      let prefixes = f.bucketCache.get(k);
      if (!prefixes) {
        const sep = inner ? `${inner},` : "";
        prefixes = [...bounds.map(String), "+Inf"].map((le) => `${name}_bucket{${sep}le="${le}"} `);
        f.bucketCache.set(k, prefixes);
      }
      let cum = 0;
      for (let i = 0; i <= bounds.length; i++) {
        for (const d of hs) cum += d.counts[i] ?? 0;
        out.push(prefixes[i] + cum);
      }
      let sum = 0, count = 0;
      for (const d of hs) {
        sum += d.sum;
        count += d.count;
      }
      out.push(`${name}_sum${ls} ${num(sum)}`, `${name}_count${ls} ${count}`);
    }
  }
}

function byKey(a: Series, b: Series): number {
  return a.key < b.key ? -1 : a.key > b.key ? 1 : 0;
}
