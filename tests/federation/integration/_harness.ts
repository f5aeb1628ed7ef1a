/**
 * Real-process harness for the federation integration suite: starts
 * `deno run -A main.ts serve ...` children on 127.0.0.1 with random ports
 * (parsed from the "node listening" JSON log line), keeps their logs in
 * files next to their data directories (the no-plaintext check reads them),
 * runs CLI commands, and talks to hub admin HTTP.
 *
 * @module
 */

import { openSqliteHubStore } from "../../../federation/store/mod.ts";
import { paths } from "../../../federation/files.ts";
import { toHex } from "../../../federation/bytes.ts";

const MAIN = new URL("../../../main.ts", import.meta.url).pathname;
const DENO = Deno.execPath();

/** A decoded JSON log line. */
export type LogLine = Readonly<Record<string, unknown>>;

/** One running node process. */
export class Proc {
  readonly name: string;
  readonly data: string;
  readonly logPath: string;
  readonly child: Deno.ChildProcess;
  readonly logs: LogLine[] = [];
  tcp = "";
  http = "";
  #done: Promise<Deno.CommandStatus>;
  #reader: Promise<void>;
  exited = false;

  private constructor(name: string, data: string, logPath: string, child: Deno.ChildProcess) {
    this.name = name;
    this.data = data;
    this.logPath = logPath;
    this.child = child;
    this.#done = child.status.then((s) => {
      this.exited = true;
      return s;
    });
    this.#reader = this.#read();
  }

  async #read(): Promise<void> {
    const dec = new TextDecoder();
    const file = await Deno.open(this.logPath, { append: true, create: true });
    let buf = "";
    try {
      for await (const chunk of this.child.stderr) {
        await file.write(chunk);
        buf += dec.decode(chunk, { stream: true });
        let i;
        while ((i = buf.indexOf("\n")) >= 0) {
          const line = buf.slice(0, i);
          buf = buf.slice(i + 1);
          try {
            this.logs.push(JSON.parse(line));
          } catch {
            this.logs.push({ msg: "raw", line });
          }
        }
      }
    } finally {
      file.close();
    }
  }

  /** Starts `serve` with `args` (role, peers, config...) on random loopback ports unless given. */
  static async serve(
    name: string,
    data: string,
    args: readonly string[],
    logDir: string,
  ): Promise<Proc> {
    const hasTcp = args.includes("--tcp");
    const cmd = new Deno.Command(DENO, {
      args: [
        "run",
        "-A",
        MAIN,
        "serve",
        "--data",
        data,
        "--log",
        "json",
        ...(hasTcp ? [] : ["--tcp", "127.0.0.1:0"]),
        "--http",
        "127.0.0.1:0",
        ...args,
      ],
      stdout: "null",
      stderr: "piped",
      stdin: "null",
    });
    const p = new Proc(name, data, `${logDir}/${name}.log`, cmd.spawn());
    const l = await p.waitLog((j) => j.msg === "node listening", 20_000);
    p.tcp = String(l.tcp);
    p.http = String(l.http);
    return p;
  }

  /** Resolves with the first log line (from `from` on) matching `pred`. */
  async waitLog(pred: (j: LogLine) => boolean, timeoutMs = 10_000, from = 0): Promise<LogLine> {
    const deadline = Date.now() + timeoutMs;
    let i = from;
    while (Date.now() < deadline) {
      for (; i < this.logs.length; i++) if (pred(this.logs[i])) return this.logs[i];
      if (this.exited) break;
      await sleep(25);
    }
    throw new Error(
      `${this.name}: no matching log line within ${timeoutMs} ms (exited=${this.exited})`,
    );
  }

  /** SIGTERM (graceful) or SIGKILL, then waits for exit. */
  async stop(signal: Deno.Signal = "SIGTERM"): Promise<void> {
    if (!this.exited) {
      try {
        this.child.kill(signal);
      } catch { /* already gone */ }
    }
    await this.#done;
    await this.#reader;
  }

  /** Pauses / resumes the process (a stalled hub). */
  signal(sig: Deno.Signal): void {
    this.child.kill(sig);
  }

  /** GET admin JSON. */
  async get(path: string): Promise<Record<string, unknown>> {
    const r = await fetch(`http://${this.http}${path}`);
    return await r.json();
  }

  /** /metrics text. */
  async metrics(): Promise<string> {
    return await (await fetch(`http://${this.http}/metrics`)).text();
  }

  /** POST /federation/send (hub). */
  async send(
    to: string,
    body: Uint8Array | string,
    o: { wait?: number; ttl?: number } = {},
  ): Promise<{ status: number; json: Record<string, unknown> }> {
    const q = new URLSearchParams({ to });
    if (o.wait !== undefined) q.set("wait", String(o.wait));
    if (o.ttl !== undefined) q.set("ttl", String(o.ttl));
    const r = await fetch(`http://${this.http}/federation/send?${q}`, {
      method: "POST",
      body: (typeof body === "string" ? new TextEncoder().encode(body) : body) as Uint8Array<
        ArrayBuffer
      >,
    });
    return { status: r.status, json: await r.json() };
  }
}

/** `fed_*` names and their `myclerk_federation_*` successors (federation/metrics.ts). */
const RENAMED: Readonly<Record<string, string>> = {
  fed_drop_total: "myclerk_federation_drops_total",
  fed_duplicate_total: "myclerk_federation_duplicates_total",
  fed_expired_notices_in_total: "myclerk_federation_expired_notices_received_total",
  fed_sync_failures_total: "myclerk_federation_wal_sync_failures_total",
  fed_rate_delay_ms_total: "myclerk_federation_rate_delay_seconds_total",
};

/**
 * Value of a metric line (sum over label sets matching `labels` substring).
 * A `fed_*` name that the node does not render is looked up under its
 * `myclerk_federation_*` name, so tests follow the metric rename.
 */
export function metric(text: string, name: string, labels = ""): number {
  if (name.startsWith("fed_") && !hasFamily(text, name)) {
    const next = RENAMED[name] ?? `myclerk_federation_${name.slice(4)}`;
    if (hasFamily(text, next)) return sumMetric(text, next, labels);
  }
  return sumMetric(text, name, labels);
}

function hasFamily(text: string, name: string): boolean {
  return text.split("\n").some((l) =>
    l === `# TYPE ${name}` || l.startsWith(`# TYPE ${name} `) || l.startsWith(`${name} `) ||
    l.startsWith(`${name}{`)
  );
}

function sumMetric(text: string, name: string, labels: string): number {
  let n = 0;
  for (const l of text.split("\n")) {
    if (!l.startsWith(name)) continue;
    const [k, v] = [l.slice(0, l.lastIndexOf(" ")), l.slice(l.lastIndexOf(" ") + 1)];
    if (k.split("{")[0] !== name) continue;
    if (labels && !k.includes(labels)) continue;
    n += Number(v);
  }
  return n;
}

/** Runs a CLI command; returns exit code and output. */
export async function cli(
  args: readonly string[],
  stdin?: Uint8Array,
): Promise<{ code: number; stdout: string; stderr: string }> {
  const cmd = new Deno.Command(DENO, {
    args: ["run", "-A", MAIN, ...args],
    stdout: "piped",
    stderr: "piped",
    stdin: stdin ? "piped" : "null",
  });
  const child = cmd.spawn();
  if (stdin) {
    const w = child.stdin.getWriter();
    await w.write(stdin);
    await w.close();
  }
  const out = await child.output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

/** Runs a CLI command that must succeed; returns stdout. */
export async function cliOk(args: readonly string[], stdin?: Uint8Array): Promise<string> {
  const r = await cli(args, stdin);
  if (r.code !== 0) throw new Error(`cli ${args.join(" ")} failed (${r.code}): ${r.stderr}`);
  return r.stdout;
}

/** Sleeps. */
export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Polls `f` until it returns a truthy value or the timeout passes. */
export async function until<T>(
  f: () => T | undefined | false | Promise<T | undefined | false>,
  timeoutMs: number,
  what: string,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await f();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timeout waiting for ${what}`);
    await sleep(50);
  }
}

/** Reads a hub's inbox from its hub.db (mid hex -> count, bodies) without consuming it. */
export function readInbox(
  data: string,
): { mids: Map<string, number>; bodies: Map<string, string>; total: number } {
  const s = openSqliteHubStore(paths(data).hubDb);
  try {
    const mids = new Map<string, number>();
    const bodies = new Map<string, string>();
    let after = 0;
    let total = 0;
    for (;;) {
      const rows = s.inbox(after, 1000);
      if (rows.length === 0) break;
      for (const r of rows) {
        const k = toHex(r.mid);
        mids.set(k, (mids.get(k) ?? 0) + 1);
        bodies.set(k, new TextDecoder().decode(r.body));
        after = r.seq;
        total++;
      }
    }
    return { mids, bodies, total };
  } finally {
    s.closeSync();
  }
}

/** A set of nodes under one temp dir, cleaned up by {@link Cluster.close}. */
export class Cluster {
  readonly dir: string;
  readonly procs: Proc[] = [];

  private constructor(dir: string) {
    this.dir = dir;
  }

  /** A fresh cluster directory. */
  static async create(): Promise<Cluster> {
    return new Cluster(await Deno.makeTempDir({ prefix: "myclerk-fed-" }));
  }

  /** Data directory of node `name`. */
  data(name: string): string {
    return `${this.dir}/${name}`;
  }

  /** Starts a node (registers it for cleanup). */
  async serve(name: string, args: readonly string[]): Promise<Proc> {
    await Deno.mkdir(this.data(name), { recursive: true });
    const p = await Proc.serve(name, this.data(name), args, this.dir);
    this.procs.push(p);
    return p;
  }

  /** `family create NAME` on hub `name`; returns the family id. */
  async createFamily(name: string): Promise<string> {
    const out = await cliOk(["family", "create", name, "--data", this.data(name)]);
    const m = /id:\s+([0-9a-f]{32})/.exec(out);
    if (!m) throw new Error(`no family id in: ${out}`);
    return m[1];
  }

  /** `family invite` on relay `relay` (its data dir); returns the token. */
  async invite(relay: string, family?: string): Promise<string> {
    const out = await cliOk([
      "family",
      "invite",
      "--data",
      this.data(relay),
      ...(family ? ["--family", family] : []),
    ]);
    return out.trim();
  }

  /** create + invite + join: a hub ready to `serve --role hub`. */
  async joinedHub(name: string, relay: string, relayAddr: string): Promise<string> {
    const id = await this.createFamily(name);
    const token = await this.invite(relay);
    await cliOk(["hub", "join", relayAddr, token, "--data", this.data(name)]);
    return id;
  }

  /** Stops every process still running and removes the directory. */
  async close(): Promise<void> {
    for (const p of this.procs) await p.stop("SIGKILL").catch(() => {});
    if (Deno.env.get("MYCLERK_KEEP_TMP") !== "1") {
      await Deno.remove(this.dir, { recursive: true }).catch(() => {});
    }
  }

  /** Every file under the cluster dir whose name matches `re`. */
  async files(re: RegExp): Promise<string[]> {
    const out: string[] = [];
    const walk = async (d: string) => {
      for await (const e of Deno.readDir(d)) {
        const p = `${d}/${e.name}`;
        if (e.isDirectory) await walk(p);
        else if (re.test(p)) out.push(p);
      }
    };
    await walk(this.dir);
    return out;
  }
}

/** A loopback TCP port that was free a moment ago (for a relay that must keep its address). */
export function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const p = (l.addr as Deno.NetAddr).port;
  l.close();
  return p;
}

/** Creates `name`'s node key in its data dir before it starts; returns the key id. */
export async function keyId(c: Cluster, name: string): Promise<string> {
  await Deno.mkdir(c.data(name), { recursive: true });
  const out = await cliOk(["keys", "generate", "--out", `${c.data(name)}/node.key`]);
  return /key id: ([0-9a-f]{8})/.exec(out)![1];
}

/**
 * Two relays peered with pinned keys (`--peer ADDR@KEYID` both ways) and
 * fast peer backoff; `federation` adds keys to both relays' config. Waits
 * until both see the peering up.
 */
export async function peeredRelays(
  c: Cluster,
  federation: Record<string, unknown> = {},
): Promise<
  { r1: Proc; r2: Proc; p1: string; p2: string; k1: string; k2: string; r2Args: string[] }
> {
  const k1 = await keyId(c, "r1");
  const k2 = await keyId(c, "r2");
  const p1 = `127.0.0.1:${freePort()}`;
  const p2 = `127.0.0.1:${freePort()}`;
  await Deno.writeTextFile(
    `${c.dir}/peered.json`,
    JSON.stringify({
      federation: { peerBackoffBaseMs: 100, peerBackoffCapMs: 1000, ...federation },
    }),
  );
  const cfg = ["--config", `${c.dir}/peered.json`];
  const r1 = await c.serve("r1", ["--role", "relay", "--tcp", p1, "--peer", `${p2}@${k2}`, ...cfg]);
  const r2Args = ["--role", "relay", "--tcp", p2, "--peer", `${p1}@${k1}`, ...cfg];
  const r2 = await c.serve("r2", r2Args);
  await r1.waitLog((j) => j.msg === "peer relay up");
  await r2.waitLog((j) => j.msg === "peer relay up");
  return { r1, r2, p1, p2, k1, k2, r2Args };
}
