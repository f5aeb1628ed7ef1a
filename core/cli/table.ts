/**
 * Human output for the operator commands (`status`, `queue list`,
 * `family list`, `plugin list`): aligned text tables and the units a person
 * reads (ages as `3m12s`, sizes as `1.2 MiB`). Pure: returns lines; the
 * `--json` paths print the machine shape instead and never use this.
 *
 * @module
 */

/** One column: a header, how to get the cell text from a row, and its alignment. */
export interface Column<T> {
  /** Header text (printed upper-case as given). */
  readonly header: string;
  /** Cell text for one row. */
  readonly cell: (row: T) => string;
  /** Right-aligned columns are for numbers, sizes and ages. */
  readonly align?: "left" | "right";
}

/**
 * Lays out `rows` under `columns`: a header line, then one line per row,
 * columns padded to the widest cell and two spaces apart, trailing spaces
 * trimmed. With no rows, returns `[empty]` (a sentence saying so) instead of
 * a lonely header.
 */
export function table<T>(
  rows: readonly T[],
  columns: readonly Column<T>[],
  empty = "(none)",
): string[] {
  if (rows.length === 0) return [empty];
  const cells = rows.map((r) => columns.map((c) => oneLine(c.cell(r))));
  const widths = columns.map((c, i) =>
    Math.max(c.header.length, ...cells.map((row) => row[i].length))
  );
  const line = (vals: readonly string[]) =>
    vals.map((v, i) => columns[i].align === "right" ? v.padStart(widths[i]) : v.padEnd(widths[i]))
      .join("  ").trimEnd();
  return [line(columns.map((c) => c.header)), ...cells.map(line)];
}

/** `key: value` lines with the values aligned (for one-object summaries). */
export function keyValues(pairs: readonly (readonly [string, string])[]): string[] {
  const w = Math.max(0, ...pairs.map(([k]) => k.length));
  return pairs.map(([k, v]) => `${`${k}:`.padEnd(w + 1)}  ${v}`.trimEnd());
}

function oneLine(s: string): string {
  // A cell with a newline would break every column after it.
  return s.replace(/\s*\n\s*/g, " ");
}

/**
 * A duration in seconds as `45s`, `3m12s`, `5h03m`, `2d04h`: the two largest
 * units, so a column of ages stays short; `-` for a negative or non-finite value.
 */
export function formatAge(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return "-";
  const s = Math.floor(seconds);
  if (s < 60) return `${s}s`;
  const two = (n: number) => String(n).padStart(2, "0");
  if (s < 3600) return `${Math.floor(s / 60)}m${two(s % 60)}s`;
  if (s < 86_400) return `${Math.floor(s / 3600)}h${two(Math.floor((s % 3600) / 60))}m`;
  return `${Math.floor(s / 86_400)}d${two(Math.floor((s % 86_400) / 3600))}h`;
}

/** The age of a unix timestamp (seconds) at `nowSeconds`; see {@link formatAge}. */
export function ageOf(unixSeconds: number, nowSeconds = Date.now() / 1000): string {
  return formatAge(nowSeconds - unixSeconds);
}

const UNITS = ["KiB", "MiB", "GiB", "TiB", "PiB"];

/** A byte count as `512 B`, `1.2 MiB`, `30 GiB` (binary units, 2-3 significant digits). */
export function formatBytes(n: number): string {
  if (!Number.isFinite(n) || n < 0) return "-";
  if (n < 1024) return `${Math.round(n)} B`;
  let v = n;
  let u = -1;
  while (v >= 1024 && u < UNITS.length - 1) {
    v /= 1024;
    u++;
  }
  return `${v < 10 ? v.toFixed(1).replace(/\.0$/, "") : Math.round(v)} ${UNITS[u]}`;
}

/** A count with thousands separators (`100,000`), so quotas read at a glance. */
export function formatCount(n: number): string {
  return Number.isFinite(n) ? Math.round(n).toLocaleString("en-US") : "-";
}

/** `yes` / `no` for a boolean cell. */
export function yesNo(b: boolean | undefined): string {
  return b === undefined ? "-" : b ? "yes" : "no";
}
