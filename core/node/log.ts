/**
 * Structured logging to stderr: readable text by default, one JSON object
 * per line with `--log json`.
 *
 * @module
 */

/** Log levels in increasing severity. */
export type LogLevel = "debug" | "info" | "warn" | "error";

const ORDER: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

/** A logger: `log.info("msg", { field })`. */
export interface Logger {
  /** Logs at `debug` level. */
  debug(msg: string, fields?: Readonly<Record<string, unknown>>): void;
  /** Logs at `info` level. */
  info(msg: string, fields?: Readonly<Record<string, unknown>>): void;
  /** Logs at `warn` level. */
  warn(msg: string, fields?: Readonly<Record<string, unknown>>): void;
  /** Logs at `error` level. */
  error(msg: string, fields?: Readonly<Record<string, unknown>>): void;
}

function fmt(v: unknown): string {
  if (typeof v === "string") return /[\s="]/.test(v) ? JSON.stringify(v) : v;
  if (v instanceof Uint8Array) {
    return Array.from(v, (b) => b.toString(16).padStart(2, "0")).join("");
  }
  return JSON.stringify(v);
}

/**
 * Creates a logger writing to `sink` (stderr by default).
 *
 * @example createLogger({ format: "json" }).info("listening", { port: 5657 })
 */
export function createLogger(
  o: {
    readonly format?: "text" | "json";
    readonly level?: LogLevel;
    readonly sink?: (line: string) => void;
  } = {},
): Logger {
  const min = ORDER[o.level ?? "info"];
  const enc = new TextEncoder();
  const sink = o.sink ?? ((line: string) => Deno.stderr.writeSync(enc.encode(line + "\n")));
  const emit = (level: LogLevel, msg: string, fields: Readonly<Record<string, unknown>> = {}) => {
    if (ORDER[level] < min) return;
    const ts = new Date().toISOString();
    if (o.format === "json") {
      sink(
        JSON.stringify(
          { ts, level, msg, ...fields },
          (_k, v) => v instanceof Uint8Array ? fmt(v) : v,
        ),
      );
    } else {
      const kv = Object.entries(fields).map(([k, v]) => `${k}=${fmt(v)}`).join(" ");
      sink(`${ts} ${level.toUpperCase().padEnd(5)} ${msg}${kv ? " " + kv : ""}`);
    }
  };
  return {
    debug: (m, f) => emit("debug", m, f),
    info: (m, f) => emit("info", m, f),
    warn: (m, f) => emit("warn", m, f),
    error: (m, f) => emit("error", m, f),
  };
}
