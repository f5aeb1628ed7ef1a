/**
 * Counters and gauges rendered in the Prometheus text format for
 * `/metrics`. Every drop is a counter with a `reason` label.
 *
 * @module
 */

/** A label set, e.g. `{ reason: "mac" }`. */
export type Labels = Readonly<Record<string, string>>;

function key(name: string, labels?: Labels): string {
  if (!labels) return name;
  const parts = Object.keys(labels).sort().map((k) =>
    `${k}="${labels[k].replace(/["\\\n]/g, "_")}"`
  );
  return `${name}{${parts.join(",")}}`;
}

/**
 * The metric registry of one node.
 *
 * @example m.inc("myclerk_drops_total", { reason: "replay" })
 */
export class Metrics {
  readonly #counters = new Map<string, number>();
  readonly #help = new Map<string, string>();
  readonly #gauges = new Map<string, () => number>();
  readonly #collectors: (() => string)[] = [];

  /**
   * Adds a collector: a function returning complete Prometheus text lines
   * (with their `# TYPE` lines) for metrics whose label sets change at run
   * time, e.g. one series per installed plugin. A collector that throws is
   * skipped.
   */
  addCollector(render: () => string): void {
    this.#collectors.push(render);
  }

  /** Adds a HELP line for a metric family. */
  describe(name: string, help: string): void {
    this.#help.set(name, help);
  }

  /** Increments a counter. */
  inc(name: string, labels?: Labels, by = 1): void {
    const k = key(name, labels);
    this.#counters.set(k, (this.#counters.get(k) ?? 0) + by);
  }

  /** Current value of a counter (0 when never incremented). */
  get(name: string, labels?: Labels): number {
    return this.#counters.get(key(name, labels)) ?? 0;
  }

  /** Registers a gauge read at render time. */
  gauge(name: string, read: () => number, labels?: Labels): void {
    this.#gauges.set(key(name, labels), read);
  }

  /** Prometheus text exposition format. */
  render(): string {
    const lines: string[] = [];
    const seen = new Set<string>();
    const family = (k: string) => k.split("{")[0];
    const head = (k: string, type: string) => {
      const f = family(k);
      if (seen.has(f)) return;
      seen.add(f);
      if (this.#help.has(f)) lines.push(`# HELP ${f} ${this.#help.get(f)}`);
      lines.push(`# TYPE ${f} ${type}`);
    };
    for (const k of [...this.#counters.keys()].sort()) {
      head(k, "counter");
      lines.push(`${k} ${this.#counters.get(k)}`);
    }
    for (const k of [...this.#gauges.keys()].sort()) {
      head(k, "gauge");
      let v = NaN;
      try {
        v = this.#gauges.get(k)!();
      } catch { /* a gauge that fails reads NaN */ }
      lines.push(`${k} ${v}`);
    }
    for (const c of this.#collectors) {
      try {
        const t = c().trimEnd();
        if (t) lines.push(t);
      } catch { /* a failing collector must not break /metrics */ }
    }
    return lines.join("\n") + "\n";
  }
}
