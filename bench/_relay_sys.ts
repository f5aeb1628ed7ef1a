/**
 * Process-level helpers of `bench/relay.ts`: ports, RSS readings that wait
 * for the number to settle, the open-file limit (read and raised with
 * getrlimit/setrlimit through FFI, since Deno has no API for it), busy-loop
 * child processes, paced sending and deadlines on every wait.
 *
 * @module
 */

/** Resolves after `ms` milliseconds. */
export const sleep = (ms: number): Promise<void> => new Promise<void>((r) => setTimeout(r, ms));
/** Monotonic milliseconds. */
export const now = (): number => performance.now();

/** A free loopback TCP port (bound, read, released). */
export function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const p = (l.addr as Deno.NetAddr).port;
  l.close();
  return p;
}

/** The p-th percentile (0-100) of `xs` (nearest rank). */
export function pct(xs: readonly number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
}

/** Latency of paced rounds: the median over rounds of each round's p50 and p99, and every p99. */
export interface RoundLatency {
  readonly p50: number;
  readonly p99: number;
  readonly p99Rounds: readonly number[];
}

/**
 * Latency over `rounds` (one array of latencies per paced round): the median
 * round's p50 and p99 (the lower middle of an even count). A paced round
 * lasts a fraction of a second, so one stall of either process (a major GC,
 * a descheduling) can cover more than 1 % of it; the median of rounds keeps
 * a single stall from deciding a p99 target.
 */
export function roundLatency(rounds: readonly (readonly number[])[]): RoundLatency {
  if (rounds.length === 0) throw new Error("roundLatency: no rounds");
  const mid = (xs: number[]) => xs.sort((a, b) => a - b)[(xs.length - 1) >> 1];
  const p99Rounds = rounds.map((r) => pct(r, 99));
  return { p50: mid(rounds.map((r) => pct(r, 50))), p99: mid([...p99Rounds]), p99Rounds };
}

/** Resident set size of `pid` in KiB (`/proc/PID/status` VmRSS). */
export function rssKiB(pid: number): number {
  const t = Deno.readTextFileSync(`/proc/${pid}/status`);
  const m = /VmRSS:\s+(\d+)/.exec(t);
  if (!m) throw new Error(`no VmRSS for pid ${pid}`);
  return Number(m[1]);
}

/** An RSS reading and whether it settled (two readings 500 ms apart within 1 %). */
export interface Rss {
  readonly kib: number;
  readonly settled: boolean;
}

/**
 * Polls the RSS of `pid` every 500 ms until two consecutive readings differ
 * by less than 1 %, at most `maxMs`; returns the last reading either way.
 */
export async function settledRss(pid: number, maxMs = 20_000): Promise<Rss> {
  let prev = rssKiB(pid);
  const end = now() + maxMs;
  while (now() < end) {
    await sleep(500);
    const cur = rssKiB(pid);
    if (Math.abs(cur - prev) < 0.01 * prev) return { kib: cur, settled: true };
    prev = cur;
  }
  return { kib: prev, settled: false };
}

/** Waits until `port` on 127.0.0.1 accepts a connection (at most ~10 s). */
export async function waitPort(port: number, child?: Deno.ChildProcess): Promise<void> {
  let exited = false;
  child?.status.then(() => exited = true);
  for (let i = 0; i < 400 && !exited; i++) {
    try {
      (await Deno.connect({ hostname: "127.0.0.1", port })).close();
      return;
    } catch {
      await sleep(25);
    }
  }
  throw new Error(`port ${port} never opened${exited ? " (the process exited)" : ""}`);
}

/** Rejects with `timeout: what` if `p` has not settled within `ms`. */
export function deadline<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const t = new Promise<never>((_, rej) => {
    timer = setTimeout(() => rej(new Error(`timeout after ${ms} ms: ${what}`)), ms);
  });
  return Promise.race([p, t]).finally(() => clearTimeout(timer));
}

/**
 * Paced sending at `rate` msgs/s for `n` messages; `send(i)` sends message i.
 * Bounded: gives up (throws) once it runs `slack` times longer than planned.
 */
export async function paced(
  rate: number,
  n: number,
  send: (i: number) => void,
  slack = 4,
): Promise<void> {
  const t0 = now();
  const limit = t0 + Math.max(5_000, (n / rate) * 1000 * slack);
  let i = 0;
  while (i < n) {
    if (now() > limit) throw new Error(`paced sending overran: ${i} of ${n} sent`);
    const due = Math.min(n, Math.floor(((now() - t0) / 1000) * rate) + 1);
    while (i < due) send(i++);
    await sleep(2);
  }
}

const RLIMIT_NOFILE = 7; // Linux, every architecture Deno ships for

/**
 * Opens `n` connections with `one`, `batch` at a time, all within `phaseMs`;
 * on any failure closes what it opened and throws, naming `what`. Every
 * idle-connection phase of the relay bench uses it.
 *
 * @example const cs = await openInBatches("idle nats", 1000, 50, 60_000, () => dial());
 */
export async function openInBatches<C extends { close(): void }>(
  what: string,
  n: number,
  batch: number,
  phaseMs: number,
  one: () => Promise<C>,
): Promise<C[]> {
  const out: C[] = [];
  const end = now() + phaseMs;
  try {
    for (let i = 0; i < n; i += batch) {
      if (now() > end) throw new Error(`${what} connections: ${out.length} of ${n} in time`);
      const res = await Promise.allSettled(Array.from({ length: Math.min(batch, n - i) }, one));
      for (const r of res) if (r.status === "fulfilled") out.push(r.value);
      const bad = res.find((r): r is PromiseRejectedResult => r.status === "rejected");
      if (bad) throw new Error(`${what} connection ${out.length + 1} failed: ${bad.reason}`);
    }
  } catch (e) {
    for (const c of out) c.close();
    throw e;
  }
  return out;
}

/** Open-file limits of this process (children inherit them). */
export interface FdLimit {
  readonly soft: number;
  readonly hard: number;
  /** True when this call raised the soft (or, as root, the hard) limit. */
  readonly raised: boolean;
}

/**
 * Makes sure this process (and so the relay and nats-server children it
 * spawns afterwards) may open `need` files: raises the soft limit up to the
 * hard one (as root, the hard one too), and throws a message saying what to
 * run when it cannot.
 */
export function ensureFdLimit(need: number, hint = ""): FdLimit {
  let lib;
  try {
    lib = Deno.dlopen("libc.so.6", {
      getrlimit: { parameters: ["i32", "buffer"], result: "i32" },
      setrlimit: { parameters: ["i32", "buffer"], result: "i32" },
    });
  } catch (e) {
    throw new Error(`cannot load libc.so.6 to read the open-file limit: ${e}`);
  }
  try {
    const r = new BigUint64Array(2);
    if (lib.symbols.getrlimit(RLIMIT_NOFILE, r) !== 0) throw new Error("getrlimit failed");
    const soft0 = Number(r[0]);
    const hard0 = Number(r[1]);
    if (soft0 >= need) return { soft: soft0, hard: hard0, raised: false };
    const target = BigInt(need);
    const w = new BigUint64Array([target, r[1] >= target ? r[1] : target]);
    if (lib.symbols.setrlimit(RLIMIT_NOFILE, w) === 0) {
      return { soft: need, hard: Number(w[1]), raised: true };
    }
    throw new Error(
      `the bench needs ${need} open files per process (idle connections + margin) but the ` +
        `limit is ${soft0} (hard ${hard0}) and could not be raised: run \`ulimit -n ${need}\` ` +
        `in the shell first (raising the hard limit needs root or the container's ` +
        `--ulimit nofile=${need})${hint}`,
    );
  } finally {
    lib.close();
  }
}

/**
 * Starts `n` busy-loop child processes (`deno eval`), each spinning until
 * `ms` have passed; the caller kills them (`stopAll`) in a finally.
 */
export function busyLoops(n: number, ms: number): Deno.ChildProcess[] {
  const code = `const end = Date.now() + ${Math.floor(ms)}; let x = 0; ` +
    `while (Date.now() < end) x++; if (x < 0) console.log(x);`;
  return Array.from({ length: n }, () =>
    new Deno.Command(Deno.execPath(), {
      args: ["eval", code],
      stdin: "null",
      stdout: "null",
      stderr: "null",
    }).spawn());
}

/** SIGKILLs each child that still runs and waits for all to exit. */
export async function stopAll(children: readonly Deno.ChildProcess[]): Promise<void> {
  for (const c of children) {
    try {
      c.kill("SIGKILL");
    } catch { /* already exited */ }
  }
  await Promise.all(children.map((c) => c.status));
}

/** CPU time (user + system) of process `pid`, or of its thread `tid`, ms; undefined without /proc. */
export function cpuMs(pid: number, tid?: number): number | undefined {
  try {
    const stat = Deno.readTextFileSync(
      tid === undefined ? `/proc/${pid}/stat` : `/proc/${pid}/task/${tid}/stat`,
    );
    // Fields after the command (which may hold spaces): state is field 3, utime 14, stime 15.
    const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    const hz = 100; // USER_HZ: 100 on every Linux ABI Deno ships for
    return (Number(f[11]) + Number(f[12])) * 1000 / hz;
  } catch {
    return undefined;
  }
}
