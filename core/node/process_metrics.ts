/**
 * The standard `process_*` series (as every Prometheus client library
 * exports them, so stock dashboards and alerts work) read from
 * `/proc/self`, and `myclerk_build_info{version,commit,deno}`.
 *
 * Where `/proc` cannot be read (another OS, or a sandbox without read
 * permission) the series fall back to what the runtime itself knows (RSS
 * from `Deno.memoryUsage`, start time from `performance.timeOrigin`) or are
 * left out; a scrape never fails because of them.
 *
 * @module
 */

import { gauge, type Metrics, type MetricSpec } from "./metrics.ts";
import { VERSION } from "../version.ts";

/** Clock ticks per second of `/proc/<pid>/stat` times (USER_HZ: 100 on every Linux ABI). */
const USER_HZ = 100;

/** The process series (names fixed by the Prometheus client conventions). */
export const PROCESS = {
  cpu: {
    name: "process_cpu_seconds_total",
    help: "Total user and system CPU time spent in seconds",
    type: "counter",
    labels: {},
  } as MetricSpec,
  rss: gauge("process_resident_memory_bytes", "Resident memory size in bytes"),
  vsize: gauge("process_virtual_memory_bytes", "Virtual memory size in bytes"),
  start: gauge(
    "process_start_time_seconds",
    "Start time of the process since unix epoch in seconds",
  ),
  fds: gauge("process_open_fds", "Number of open file descriptors"),
  maxFds: gauge("process_max_fds", "Maximum number of open file descriptors"),
  heap: gauge("myclerk_js_heap_used_bytes", "V8 heap in use, bytes"),
  build: gauge(
    "myclerk_build_info",
    "Build of this node: always 1, the labels carry version, git commit and Deno version",
    { version: { open: 1 }, commit: { open: 1 }, deno: { open: 1 } },
  ),
} as const;

/** Fields of `/proc/self/stat` the series need. Pure. */
export interface ProcStat {
  /** utime + stime, in clock ticks. */
  readonly cpuTicks: number;
  /** Start time after boot, in clock ticks. */
  readonly startTicks: number;
  /** Virtual memory size, bytes. */
  readonly vsize: number;
}

/** Parses `/proc/<pid>/stat` (the command name may contain spaces and parentheses). Pure. */
export function parseStat(text: string): ProcStat | undefined {
  const close = text.lastIndexOf(")");
  if (close < 0) return undefined;
  // fields after the comm: state is field 3, so index i here is field i + 3
  const f = text.slice(close + 2).trim().split(/\s+/);
  const n = (field: number) => Number(f[field - 3]);
  const s = {
    cpuTicks: n(14) + n(15),
    startTicks: n(22),
    vsize: n(23),
  };
  return Object.values(s).every(Number.isFinite) ? s : undefined;
}

/** Boot time in Unix seconds from `/proc/stat` (`btime`). Pure. */
export function parseBootTime(text: string): number | undefined {
  const m = /^btime\s+(\d+)$/m.exec(text);
  return m ? Number(m[1]) : undefined;
}

/** The soft "Max open files" limit from `/proc/<pid>/limits`. Pure. */
export function parseMaxFds(text: string): number | undefined {
  const m = /^Max open files\s+(\d+|unlimited)/m.exec(text);
  if (!m) return undefined;
  return m[1] === "unlimited" ? Infinity : Number(m[1]);
}

function read(path: string): string | undefined {
  try {
    return Deno.readTextFileSync(path);
  } catch {
    return undefined;
  }
}

/**
 * The short git commit this code was built from (the same one `--version`
 * prints): `MYCLERK_COMMIT` when set, else `HEAD` of the checkout the module
 * sits in (read from `.git`, no subprocess: the unit grants no
 * `--allow-run`), else the `COMMIT` file `deploy/install.sh` writes next to
 * main.ts, else `unknown`.
 */
export function buildCommit(): string {
  const c = fromGit();
  if (c !== "unknown") return c;
  const f = read(new URL("../../COMMIT", import.meta.url).pathname)?.trim() ?? "";
  return /^[0-9a-f]{7,40}$/.test(f) ? f.slice(0, 7) : "unknown";
}

function fromGit(): string {
  const env = (() => {
    try {
      return Deno.env.get("MYCLERK_COMMIT");
    } catch {
      return undefined;
    }
  })();
  if (env && /^[0-9a-f]{7,40}$/i.test(env)) return env.toLowerCase().slice(0, 7);
  const git = new URL("../../.git/", import.meta.url);
  if (git.protocol !== "file:") return "unknown";
  const head = read(new URL("HEAD", git).pathname)?.trim();
  if (!head) return "unknown";
  if (/^[0-9a-f]{40}$/.test(head)) return head.slice(0, 7);
  const ref = /^ref: (refs\/[A-Za-z0-9._\/-]+)$/.exec(head)?.[1];
  if (!ref) return "unknown";
  const loose = read(new URL(ref, git).pathname)?.trim();
  if (loose && /^[0-9a-f]{40}$/.test(loose)) return loose.slice(0, 7);
  const packed = read(new URL("packed-refs", git).pathname) ?? "";
  const m = new RegExp(`^([0-9a-f]{40}) ${ref.replace(/[.]/g, "\\.")}$`, "m").exec(packed);
  return m ? m[1].slice(0, 7) : "unknown";
}

/** Registers the process series and build info on `m`. */
export function registerProcessMetrics(m: Metrics): void {
  m.register(PROCESS);
  const stat = () => {
    const t = read("/proc/self/stat");
    return t === undefined ? undefined : parseStat(t);
  };
  m.collect(PROCESS.cpu, function* () {
    const s = stat();
    if (s) yield { value: s.cpuTicks / USER_HZ };
  });
  m.collect(PROCESS.vsize, function* () {
    const s = stat();
    if (s) yield { value: s.vsize };
  });
  m.collect(PROCESS.rss, function* () {
    // VmRSS is in kB whatever the page size
    const kb = /^VmRSS:\s+(\d+) kB$/m.exec(read("/proc/self/status") ?? "")?.[1];
    yield { value: kb !== undefined ? Number(kb) * 1024 : Deno.memoryUsage().rss };
  });
  const bootTime = parseBootTime(read("/proc/stat") ?? "");
  const st = stat();
  const start = bootTime !== undefined && st
    ? bootTime + st.startTicks / USER_HZ
    : Math.floor(performance.timeOrigin) / 1000;
  m.gauge(PROCESS.start, () => start);
  m.collect(PROCESS.fds, function* () {
    let n = 0;
    try {
      for (const _ of Deno.readDirSync("/proc/self/fd")) n++;
    } catch {
      return;
    }
    // the directory handle itself was one of them
    yield { value: Math.max(0, n - 1) };
  });
  m.collect(PROCESS.maxFds, function* () {
    const v = parseMaxFds(read("/proc/self/limits") ?? "");
    if (v !== undefined) yield { value: v };
  });
  m.gauge(PROCESS.heap, () => Deno.memoryUsage().heapUsed);
  m.gauge(PROCESS.build, () => 1, {
    version: VERSION,
    commit: buildCommit(),
    deno: Deno.version.deno,
  });
}
