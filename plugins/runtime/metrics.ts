/**
 * Per-plugin counters: requests, errors by reason, latency, restarts, and
 * the declarations of the plugin layer's `/metrics` series
 * ({@link PLUGIN_METRICS}; rendered by the node's one registry,
 * core/node/metrics.ts). The counters live here, per plugin, because they
 * outlive restarts and blue/green reloads of the plugin's process.
 *
 * @module
 */
import { errorName } from "../../core/errors.ts";
import type { EventDropReason } from "./host.ts";
import {
  counter,
  ERROR_CODES,
  gauge,
  histogram,
  HistogramData,
  LATENCY_BUCKETS,
} from "../../core/node/metrics.ts";

// Every EventDropReason, checked by the compiler: a new reason must be added here.
const EVENT_DROPS: Record<EventDropReason, true> = {
  "outside-range": true,
  "undeclared": true,
  "not-subscribed": true,
  "unauthorized": true,
};

/** How many distinct plugin names become label values (more plugins share `other`). */
const MAX_PLUGINS = 64;
const PLUGIN = { plugin: { open: MAX_PLUGINS } } as const;

/** Reasons a plugin's message is refused by the host's decoder (plugins/runtime/validate.ts, instance.ts). */
export const INVALID_REASONS: readonly string[] = [
  "bad-frame",
  "not-a-map",
  "threw",
  "unknown-kind",
  ...[
    "code",
    "detail",
    "extra",
    "heapUsed",
    "id",
    "line",
    "ok",
    "op",
    "opcodes",
    "ops",
    "parent",
    "payload",
    "sessionId",
    "t",
    "timeoutMs",
  ].map((f) => `field:${f}`),
];

/** The plugin layer's series (docs/PLUGINS.md "Operating plugins"). */
export const PLUGIN_METRICS = {
  requests: counter("myclerk_plugin_requests_total", "Requests dispatched to a plugin", PLUGIN),
  errors: counter(
    "myclerk_plugin_errors_total",
    "Plugin requests answered with an error, by code",
    { ...PLUGIN, code: ERROR_CODES },
  ),
  restarts: counter("myclerk_plugin_restarts_total", "Plugin restarts after a crash", PLUGIN),
  events: counter(
    "myclerk_plugin_events_total",
    "Events a plugin pushed inside its ranges",
    PLUGIN,
  ),
  inFlight: gauge("myclerk_plugin_in_flight", "Plugin requests waiting or running now", PLUGIN),
  seconds: histogram(
    "myclerk_plugin_request_duration_seconds",
    "Time a plugin took to answer a request (timeouts count at the limit), seconds",
    LATENCY_BUCKETS,
    PLUGIN,
  ),
  eventsDropped: counter(
    "myclerk_plugin_events_dropped_total",
    "Plugin events not delivered, by reason",
    { ...PLUGIN, reason: Object.keys(EVENT_DROPS) },
  ),
  invalid: counter(
    "myclerk_plugin_invalid_messages_total",
    "Plugin messages refused by the host, by reason",
    { ...PLUGIN, reason: INVALID_REASONS },
  ),
  truncated: counter(
    "myclerk_plugin_output_truncated_total",
    "Plugin output lines cut at 4 KiB",
    PLUGIN,
  ),
  droppedBytes: counter(
    "myclerk_plugin_output_dropped_bytes_total",
    "Plugin output bytes dropped over the rate bound",
    PLUGIN,
  ),
  up: gauge("myclerk_plugin_up", "1 while the plugin runs, else 0; state is its current state", {
    ...PLUGIN,
    state: [
      "running",
      "starting",
      "restarting",
      "failed",
      "not-started",
      "invalid",
      "stopped",
      "not running",
    ],
  }),
} as const;

/** A snapshot for `plugin list`, `/plugins` and `status`. */
export interface MetricsSnapshot {
  /** Requests dispatched to the plugin. */
  readonly requests: number;
  /** Requests answered without error. */
  readonly ok: number;
  /** Error name (`TIMEOUT`, `SERVICE_UNAVAILABLE`, ...) -> count. */
  readonly errors: Readonly<Record<string, number>>;
  /** Events the plugin pushed (inside its ranges). */
  readonly events: number;
  /** Restarts after crashes. */
  readonly restarts: number;
  /** Requests waiting or running at snapshot time. */
  readonly inFlight: number;
  /** Latency of answered requests in microseconds, over the last 1024. */
  readonly latencyUs: { readonly p50: number; readonly p99: number; readonly max: number };
  /** Latency of every answered request: counts per bucket of `LATENCY_BUCKETS` (+Inf last), seconds. */
  readonly latencySeconds: {
    readonly counts: readonly number[];
    readonly sum: number;
    readonly count: number;
  };
  /** Messages from the plugin refused by the host's decoder, by reason (`not-a-map`, `field:id`...). */
  readonly invalid: Readonly<Record<string, number>>;
  /** Events dropped by the host, by reason (`outside-range`, `not-subscribed`, `unauthorized`). */
  readonly eventsDropped: Readonly<Record<string, number>>;
  /** Output lines cut at the line bound. */
  readonly outputTruncated: number;
  /** Output bytes dropped over the rate bound. */
  readonly outputDroppedBytes: number;
}

const WINDOW = 1024;

/** Mutable counters of one plugin (kept across restarts and reloads). */
export class Metrics {
  /** Requests dispatched to the plugin. */
  requests = 0;
  /** Requests answered without error. */
  ok = 0;
  /** Events the plugin pushed (inside its ranges). */
  events = 0;
  /** Restarts after crashes. */
  restarts = 0;
  /** Requests waiting or running now. */
  inFlight = 0;
  /** Output lines cut at the line bound. */
  outputTruncated = 0;
  /** Output bytes dropped over the rate bound. */
  outputDroppedBytes = 0;
  private readonly errors = new Map<string, number>();
  private readonly invalid = new Map<string, number>();
  private readonly eventsDropped = new Map<string, number>();

  /** Counts one refused message (`invalid`) or dropped event (`eventsDropped`) by reason. */
  count(what: "invalid" | "eventsDropped", reason: string): void {
    const m = what === "invalid" ? this.invalid : this.eventsDropped;
    m.set(reason, (m.get(reason) ?? 0) + 1);
  }

  /** Counts one cut line (`truncated`) or `n` bytes dropped over the rate (`dropped`). */
  output(kind: "truncated" | "dropped", n: number): void {
    if (kind === "truncated") this.outputTruncated++;
    else this.outputDroppedBytes += n;
  }
  private readonly lat = new Float64Array(WINDOW);
  private n = 0;
  /** Latency of answered requests (every one, not a window), seconds. */
  readonly seconds: HistogramData = new HistogramData(LATENCY_BUCKETS);

  /** Records one answered request. */
  record(code: number | undefined, ms: number): void {
    if (code === undefined) this.ok++;
    else {
      const k = errorName(code);
      this.errors.set(k, (this.errors.get(k) ?? 0) + 1);
    }
    this.lat[this.n++ % WINDOW] = ms;
    this.seconds.observe(ms / 1000);
  }

  /** A copy for reporting. */
  snapshot(): MetricsSnapshot {
    const k = Math.min(this.n, WINDOW);
    const s = Array.from(this.lat.subarray(0, k)).sort((a, b) => a - b);
    const q = (p: number) => k === 0 ? 0 : Math.round(s[Math.min(k - 1, Math.floor(p * k))] * 1000);
    return {
      requests: this.requests,
      ok: this.ok,
      errors: Object.fromEntries(this.errors),
      events: this.events,
      restarts: this.restarts,
      inFlight: this.inFlight,
      latencyUs: { p50: q(0.5), p99: q(0.99), max: k === 0 ? 0 : Math.round(s[k - 1] * 1000) },
      latencySeconds: {
        counts: Array.from(this.seconds.counts),
        sum: this.seconds.sum,
        count: this.seconds.count,
      },
      invalid: Object.fromEntries(this.invalid),
      eventsDropped: Object.fromEntries(this.eventsDropped),
      outputTruncated: this.outputTruncated,
      outputDroppedBytes: this.outputDroppedBytes,
    };
  }
}

/** A bounded ring of log lines (O(1) per line: a flood of lines costs no shifting). */
export class LogRing {
  private readonly lines: string[] = [];
  private next = 0;
  /** Creates a ring keeping the last `cap` lines. */
  constructor(private readonly cap = 1000) {}
  /** Appends a line with an ISO timestamp. */
  push(line: string): void {
    const l = `${new Date().toISOString()} ${line}`;
    if (this.lines.length < this.cap) this.lines.push(l);
    else this.lines[this.next] = l;
    this.next = (this.next + 1) % this.cap;
  }
  /** The last `n` lines, oldest first. */
  tail(n = 100): readonly string[] {
    const ordered = this.lines.length < this.cap
      ? this.lines
      : [...this.lines.slice(this.next), ...this.lines.slice(0, this.next)];
    return ordered.slice(-n);
  }
}
