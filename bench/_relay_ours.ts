/**
 * The relay side of `bench/relay.ts`: a real `main.ts serve --role relay`
 * child process, hubs joined to it with `joinRelay` (the `hub join` path)
 * and then driven in this process at the protocol level, one Client session
 * per hub (FED_HELLO, FED_DELIVER with a window of unacked "stored",
 * FED_FETCH credit, FED_ACK "delivered" in batches), and idle connections
 * (handshake + FED_HELLO, then nothing).
 *
 * Invites are written into the relay's store before the child starts, the
 * way `family invite` does it (token key + single-use row), so that joining
 * 128 hubs does not cost 128 CLI processes.
 *
 * Longer than ~500 lines on purpose: the relay side of every case (child,
 * invites, hubs, outbox/inbox drivers, each phase) in one place, mirroring
 * `_relay_peer.ts` for the peers.
 *
 * @module
 */

import { backend } from "../core/crypto/mod.ts";
import { Client } from "../core/node/client.ts";
import { generateKeyFile, loadOrCreateKeyFile } from "../core/node/keys.ts";
import { type Identity, identityFrom } from "../core/session/handshake.ts";
import { toHex } from "../federation/bytes.ts";
import { openEnvelope, sealEnvelope } from "../federation/envelope.ts";
import { familyId } from "../federation/family.ts";
import {
  createFamilyKey,
  loadOrCreateTokenKey,
  paths,
  writeHubState,
} from "../federation/files.ts";
import { joinRelay } from "../federation/hub/mod.ts";
import { createInvite } from "../federation/invite.ts";
import { decodeFed, encodeFed, FedOp } from "../federation/messages.ts";
import { openSqliteRelayStore } from "../federation/store/mod.ts";
import { metric } from "../tests/federation/integration/_harness.ts";
import {
  cpuMs,
  deadline,
  freePort,
  now,
  openInBatches,
  paced,
  roundLatency,
  waitPort,
} from "./_relay_sys.ts";

const be = backend();
const MAIN = new URL("../main.ts", import.meta.url).pathname;

/** A running relay child. */
export interface RelayProc {
  /** `127.0.0.1:PORT` of its TCP listener. */
  readonly addr: string;
  /** `ws://127.0.0.1:PORT/myclerk`: the same node over WebSocket (its HTTP listener). */
  readonly ws: string;
  /** The child's pid (for RSS). */
  readonly pid: number;
  /** Unused invite tokens made for it before it started. */
  readonly tokens: string[];
  /** Last lines of its stderr (log level warn). */
  logTail(): Promise<string>;
  /** Sum of every series of counter `name` on its /metrics (0 when absent). */
  counter(name: string): Promise<number>;
  /** SIGKILLs it and waits for the exit. */
  stop(): Promise<void>;
}

/** Sum of every series of counter `name` on the node's /metrics at `httpPort` (0 when absent). */
export async function metricsCounter(httpPort: number, name: string): Promise<number> {
  return metric(await (await fetch(`http://127.0.0.1:${httpPort}/metrics`)).text(), name);
}

/**
 * Starts a relay child with its data in `dir/name` and `invites` tokens ready;
 * `federation` adds keys to its config's federation section (`--handoff-ms`).
 */
export async function startRelay(
  dir: string,
  name: string,
  invites: number,
  federation: Readonly<Record<string, unknown>> = {},
): Promise<RelayProc> {
  const data = `${dir}/${name}`;
  await Deno.mkdir(data, { recursive: true });
  const cfgPath = `${dir}/${name}.json`;
  await Deno.writeTextFile(
    cfgPath,
    JSON.stringify({
      federation: { rate: 1e9, burst: 1_000_000, quotaMessages: 10_000_000, ...federation },
      // idle connections must outlive a slow 10,000-connection setup (default idle limit 120 s)
      limits: { maxConnections: 100_000, idleTimeoutMs: 900_000 },
    }),
  );
  const tokens: string[] = [];
  if (invites > 0) {
    // what `family invite` does, once per token (federation/cli.ts)
    const { identity } = await loadOrCreateKeyFile(be, `${data}/node.key`);
    const tokenKey = await loadOrCreateTokenKey(be, data);
    const store = openSqliteRelayStore({ path: paths(data).relayDb });
    try {
      const t = Math.floor(Date.now() / 1000);
      for (let i = 0; i < invites; i++) {
        const inv = createInvite(be, tokenKey, { relayKeyId: identity.keyId, expires: t + 86_400 });
        await store.addInvite(inv.invite, t);
        tokens.push(inv.token);
      }
    } finally {
      await store.close();
    }
  }
  const port = freePort();
  const httpPort = freePort();
  const logPath = `${dir}/${name}.log`;
  const log = await Deno.open(logPath, { write: true, create: true, truncate: true });
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      // Profiling knob: e.g. BENCH_RELAY_DENO_ARGS="--v8-flags=--perf-basic-prof" for `perf record -p`.
      ...(Deno.env.get("BENCH_RELAY_DENO_ARGS")?.split(" ").filter((a) => a !== "") ?? []),
      MAIN,
      "serve",
      "--role",
      "relay",
      "--data",
      data,
      "--tcp",
      `127.0.0.1:${port}`,
      "--http",
      `127.0.0.1:${httpPort}`,
      "--config",
      cfgPath,
      "--log-level",
      "warn",
    ],
    stdin: "null",
    // BENCH_RELAY_STDOUT=1: the child's stdout on this one (V8 traces such as --trace-gc go there)
    stdout: Deno.env.get("BENCH_RELAY_STDOUT") === "1" ? "inherit" : "null",
    stderr: "piped",
  }).spawn();
  const logDone = child.stderr.pipeTo(log.writable).catch(() => {});
  const stop = async () => {
    // BENCH_RELAY_METRICS=1: the relay's federation counters before it stops (which path the
    // messages took: handed off, stored, group commits).
    if (Deno.env.get("BENCH_RELAY_METRICS") === "1") {
      const text = await fetch(`http://127.0.0.1:${httpPort}/metrics`).then(
        (r) => r.text(),
        String,
      );
      const keep =
        /^myclerk_federation_(stored|handed_off|handoff_stored|group_commits|acked|drops)/;
      console.log(`${name} metrics:\n${text.split("\n").filter((l) => keep.test(l)).join("\n")}`);
    }
    try {
      // BENCH_RELAY_STOP=SIGTERM: a graceful stop, so `--cpu-prof` in BENCH_RELAY_DENO_ARGS
      // gets to write its profile (SIGKILL, the default, is quicker).
      child.kill((Deno.env.get("BENCH_RELAY_STOP") ?? "SIGKILL") as Deno.Signal);
    } catch { /* exited */ }
    await child.status;
    await logDone;
  };
  try {
    await waitPort(port, child);
    // The TCP port opens before the relay's handlers are in (node first, then the federation
    // roles): admin.json, written last, says the relay serves.
    for (let i = 0;; i++) {
      if (await Deno.stat(paths(data).admin).then(() => true, () => false)) break;
      if (i >= 400) throw new Error("relay never wrote admin.json");
      await new Promise((r) => setTimeout(r, 25));
    }
  } catch (e) {
    await stop();
    throw e;
  }
  return {
    addr: `127.0.0.1:${port}`,
    ws: `ws://127.0.0.1:${httpPort}/myclerk`,
    pid: child.pid,
    tokens,
    counter: (metric) => metricsCounter(httpPort, metric),
    logTail: async () =>
      (await Deno.readTextFile(logPath).catch(() => "")).split("\n").slice(-15).join("\n"),
    stop,
  };
}

/** The FED_HELLO a hub session opens with (tests reconnect a bench hub with it). */
export function hello(id: Identity, families: string[]): Uint8Array {
  return encodeFed({ op: FedOp.FED_HELLO, role: "hub", keyId: id.keyId, families, version: 0 });
}

/** A hub joined to the relay: its session, family key and id. */
export interface BenchHub {
  readonly name: string;
  readonly c: Client;
  readonly fam: Identity;
  readonly id: string;
}

/**
 * Creates hubs `names` (family key, hub.json, node key), joins each with
 * `joinRelay` and opens its session (FED_HELLO), `concurrency` at a time.
 */
export async function joinHubs(
  relay: RelayProc,
  dir: string,
  names: readonly string[],
  concurrency = 16,
): Promise<BenchHub[]> {
  if (relay.tokens.length < names.length) {
    throw new Error(`${names.length} hubs but ${relay.tokens.length} invites left`);
  }
  const one = async (name: string, token: string): Promise<BenchHub> => {
    const data = `${dir}/${name}`;
    await Deno.mkdir(data, { recursive: true });
    const fam = await createFamilyKey(be, data);
    const id = familyId(be, fam.publicKey);
    await writeHubState(data, { name, id, created: 1 });
    const node = await generateKeyFile(be, `${data}/node.key`);
    try {
      await joinRelay(be, node, data, relay.addr, token);
    } catch (e) {
      throw new Error(`hub ${name} could not join: ${e instanceof Error ? e.message : e}`);
    }
    const c = await Client.connect(relay.addr, {
      backend: be,
      identity: node,
      tier: 5,
      minTier: 4,
    });
    c.send(FedOp.FED_HELLO, hello(node, [id]));
    return { name, c, fam, id };
  };
  const out: BenchHub[] = [];
  try {
    for (let i = 0; i < names.length; i += concurrency) {
      const batch = names.slice(i, i + concurrency);
      const tokens = relay.tokens.splice(0, batch.length);
      const res = await Promise.allSettled(batch.map((n, k) => one(n, tokens[k])));
      for (const r of res) if (r.status === "fulfilled") out.push(r.value);
      const bad = res.find((r): r is PromiseRejectedResult => r.status === "rejected");
      if (bad) throw bad.reason;
    }
  } catch (e) {
    for (const h of out) h.c.close();
    throw e;
  }
  return out;
}

/** A pre-sealed FED_DELIVER: its mid (hex) and wire payload. */
export interface Sealed {
  readonly mid: string;
  readonly bytes: Uint8Array;
}

/** Seals `n` 1 KiB-body envelopes from `from` to `to` (before any clock starts). */
export function sealMany(from: BenchHub, to: BenchHub, n: number, size: number): Sealed[] {
  const body = new Uint8Array(size).fill(7);
  return Array.from({ length: n }, () => {
    const env = sealEnvelope(be, {
      senderSecret: from.fam.privateKey,
      recipientKey: to.fam.publicKey,
      body,
      ttl: 3600,
    });
    return {
      mid: toHex(env.routing.mid),
      bytes: encodeFed({ op: FedOp.FED_DELIVER, ...env.routing, hops: 0, sealed: env.sealed }),
    };
  });
}

/** Hub-side cost of sealing and opening one envelope, µs (printed apart: nats carries plaintext). */
export function hubCost(from: BenchHub, to: BenchHub, size: number, n = 1000): {
  sealUs: number;
  openUs: number;
} {
  const body = new Uint8Array(size).fill(7);
  const seal = (k: number) =>
    Array.from({ length: k }, () =>
      sealEnvelope(be, {
        senderSecret: from.fam.privateKey,
        recipientKey: to.fam.publicKey,
        body,
        ttl: 3600,
      }));
  // untimed first: 200 cold calls measured V8 compiling them as much as the crypto
  for (const e of seal(200)) openEnvelope(be, e.routing, e.sealed, to.fam.privateKey);
  let t = now();
  const envs = seal(n);
  const sealUs = ((now() - t) * 1000) / n;
  t = now();
  for (const e of envs) openEnvelope(be, e.routing, e.sealed, to.fam.privateKey);
  return { sealUs, openUs: ((now() - t) * 1000) / n };
}

/** Sender side of a hub: a queue of pre-sealed messages sent with a window of unacked "stored". */
export class Outbox {
  sent = 0;
  stored = 0;
  /** performance.now() of the latest FED_ACK "stored". */
  lastStored = 0;
  readonly #queue: Sealed[] = [];
  #pumps: (() => boolean)[] = [];

  constructor(readonly hub: BenchHub) {
    hub.c.onRaw((op, bytes) => {
      if (op !== FedOp.FED_ACK) return;
      const m = decodeFed(be, op, bytes);
      if (m.op !== FedOp.FED_ACK || m.kind !== "stored") return;
      this.stored += m.mids.length;
      this.lastStored = now();
      if (this.#pumps.length > 0) this.#pumps = this.#pumps.filter((p) => !p());
    });
  }

  /** Appends pre-sealed messages to the queue. */
  add(msgs: readonly Sealed[]): void {
    for (const m of msgs) this.#queue.push(m);
  }

  /** Sends the next queued message at once (paced sending); returns it. */
  sendNext(): Sealed {
    const m = this.#queue[this.sent++];
    if (!m) throw new Error("outbox: queue exhausted");
    this.hub.c.send(FedOp.FED_DELIVER, m.bytes);
    return m;
  }

  /** Sends the next `n` keeping at most `window` unacked; resolves once all sent are "stored". */
  burst(n: number, window: number): Promise<void> {
    const to = this.sent + n;
    if (to > this.#queue.length) throw new Error("outbox: not enough sealed messages");
    return new Promise<void>((resolve) => {
      const pump = () => {
        while (this.sent < to && this.sent - this.stored < window) {
          this.hub.c.send(FedOp.FED_DELIVER, this.#queue[this.sent++].bytes);
        }
        if (this.stored >= this.sent && this.sent >= to) {
          resolve();
          return true;
        }
        return false;
      };
      if (!pump()) this.#pumps.push(pump);
    });
  }
}

/** Receiver side of a hub: counts FED_DELIVER, acks "delivered" in batches, keeps credit up. */
export class Inbox {
  received = 0;
  /** performance.now() of the latest FED_DELIVER. */
  lastAt = 0;
  /** When set, the arrival time of each mid (latency phase only: it costs bench CPU). */
  track: Map<string, number> | undefined;
  #waiters: { n: number; r: () => void }[] = [];

  constructor(readonly hub: BenchHub, credit = 8192) {
    let acks: Uint8Array[] = [];
    let ackTimer: ReturnType<typeof setTimeout> | undefined;
    const c = hub.c;
    c.onRaw((op, bytes) => {
      if (op !== FedOp.FED_DELIVER) return;
      const m = decodeFed(be, op, bytes);
      if (m.op !== FedOp.FED_DELIVER) return;
      this.lastAt = now();
      this.track?.set(toHex(m.mid), this.lastAt);
      this.received++;
      acks.push(m.mid);
      if (ackTimer === undefined) {
        ackTimer = setTimeout(() => {
          ackTimer = undefined;
          const mids = acks;
          acks = [];
          for (let i = 0; i < mids.length; i += 1024) {
            c.send(
              FedOp.FED_ACK,
              encodeFed({
                op: FedOp.FED_ACK,
                kind: "delivered",
                family: hub.id,
                mids: mids.slice(i, i + 1024),
              }),
            );
          }
          c.send(
            FedOp.FED_FETCH,
            encodeFed({
              op: FedOp.FED_FETCH,
              family: hub.id,
              credit: Math.min(mids.length, 65535),
            }),
          );
        }, 0);
      }
      if (this.#waiters.length > 0) {
        this.#waiters = this.#waiters.filter((w) => this.received < w.n || (w.r(), false));
      }
    });
    c.send(FedOp.FED_FETCH, encodeFed({ op: FedOp.FED_FETCH, family: hub.id, credit }));
  }

  /** Resolves once `n` messages have arrived in total. */
  until(n: number): Promise<void> {
    return new Promise<void>((r) => this.received >= n ? r() : this.#waiters.push({ n, r }));
  }
}

/** One sender and one recipient. */
export interface Pair {
  readonly out: Outbox;
  readonly inbox: Inbox;
}

/** Sizes of a 1 -> 1 run. */
export interface OneToOneOpts {
  readonly warm: number;
  readonly n: number;
  /** Messages per paced round. */
  readonly latN: number;
  /** Paced rounds (latency is their median round's; default 1). */
  readonly latRounds?: number;
  readonly window: number;
  /** Bound on each phase, ms. */
  readonly phaseMs: number;
}

/** Result of a 1 -> 1 run: throughput, durable ingest and latency at half of that peak. */
export interface OneToOneResult {
  readonly perSec: number;
  readonly ingestPerSec: number;
  /** Median over the paced rounds of each round's p50 and p99, ms. */
  readonly p50: number;
  readonly p99: number;
  /** Each paced round's p99, ms. */
  readonly p99Rounds: readonly number[];
  /**
   * The relay process's CPU per message of the throughput phase, µs: its
   * main (event-loop) thread and all its threads; undefined off Linux.
   */
  readonly cpuUs?: CpuPerMsg;
}

/**
 * Durable ingest: `warm` untimed, then `n` messages as fast as the window
 * allows to a recipient whose session never fetches (offline in effect), so
 * every message is stored and fsynced before its "stored" ack (no handoff,
 * FEDERATION.md §6.5); acked messages per second.
 */
export async function relayIngest(
  out: Outbox,
  warm: number,
  n: number,
  window: number,
  phaseMs: number,
  relayPid?: number,
): Promise<{ perSec: number; cpuUs?: CpuPerMsg }> {
  await deadline(out.burst(warm, window), phaseMs, "relay ingest warm-up");
  const cpu = cpuMeter(relayPid);
  const t0 = now();
  await deadline(out.burst(n, window), phaseMs, "relay ingest");
  return { perSec: n / ((out.lastStored - t0) / 1000), cpuUs: cpu(n) };
}

/** Sends `n` more of `p`'s queue (window `window`) and waits until they are "stored" and arrived. */
function burstAndArrive(p: Pair, n: number, window: number, phaseMs: number, what: string) {
  const want = p.inbox.received + n;
  return deadline(Promise.all([p.out.burst(n, window), p.inbox.until(want)]), phaseMs, what);
}

/** {@link relayThroughStore}'s result. */
export interface ThroughStoreResult {
  /** Messages per second until the last one arrived. */
  readonly perSec: number;
  /** Share of the timed messages the relay stored (the rest it handed off), 0..1. */
  readonly storedShare?: number;
  /** CPU per timed message (relay and this process), when /proc tells. */
  readonly cpuUs?: CpuPerMsg;
}

/**
 * A recipient that fetches but cannot take everything at once: `warm`, then
 * `n` messages sent with a window of `window` unacked "stored", more than
 * the relay's push window to one hub holds, so most messages find the
 * recipient's window full, are stored (fsync before "stored") and are
 * pushed from the store, and each delivered-ack deletes a stored row
 * (FEDERATION.md §6.5): the path of any burst a hub cannot drain at once.
 * Messages per second until the last arrives.
 */
export async function relayThroughStore(
  p: Pair,
  warm: number,
  n: number,
  window: number,
  phaseMs: number,
  relay?: RelayProc,
): Promise<ThroughStoreResult> {
  await burstAndArrive(p, warm, window, phaseMs, "relay 1 -> 1 through the store, warm-up");
  const stored0 = await relay?.counter("myclerk_federation_stored_total");
  const cpu = cpuMeter(relay?.pid);
  const t0 = now();
  await burstAndArrive(p, n, window, phaseMs, "relay 1 -> 1 through the store");
  const cpuUs = cpu(n);
  const stored1 = await relay?.counter("myclerk_federation_stored_total");
  return {
    perSec: n / ((p.inbox.lastAt - t0) / 1000),
    storedShare: stored0 === undefined || stored1 === undefined
      ? undefined
      : (stored1 - stored0) / n,
    cpuUs,
  };
}

/**
 * CPU per message of a relay process, µs: its event-loop thread and all its
 * threads; and of this bench process (the hub sessions, all threads).
 */
export interface CpuPerMsg {
  readonly main: number;
  readonly all: number;
  readonly bench: number;
}

/**
 * Starts measuring the relay's CPU (`/proc`); the returned function gives
 * the CPU per message for `n` messages since, or undefined without `/proc`
 * or without a pid.
 */
function cpuMeter(relayPid?: number): (n: number) => CpuPerMsg | undefined {
  if (relayPid === undefined) return () => undefined;
  const m0 = cpuMs(relayPid, relayPid), a0 = cpuMs(relayPid), b0 = cpuMs(Deno.pid);
  return (n) => {
    const m = cpuMs(relayPid, relayPid), a = cpuMs(relayPid), b = cpuMs(Deno.pid);
    if (
      m0 === undefined || a0 === undefined || b0 === undefined || m === undefined ||
      a === undefined || b === undefined
    ) {
      return undefined;
    }
    return { main: (m - m0) * 1000 / n, all: (a - a0) * 1000 / n, bench: (b - b0) * 1000 / n };
  };
}

/** Messages a 1 -> 1 run uses (seal that many into `out` first). */
export const oneToOneCount = (o: OneToOneOpts): number =>
  o.warm + o.n + (o.latRounds ?? 1) * o.latN;

/**
 * Warm-up, then `n` messages as fast as the window allows (throughput = until
 * the last arrives; `ingestPerSec` = until the last "stored", which with the
 * relay's handoff follows the recipient's "delivered": see {@link relayIngest}
 * for the store's own rate), then `latRounds` rounds of `latN` paced at half
 * of that peak (latency = send to arrival; see {@link roundLatency}).
 */
export async function relayOneToOne(
  p: Pair,
  o: OneToOneOpts,
  relayPid?: number,
): Promise<OneToOneResult> {
  const base = p.inbox.received;
  await burstAndArrive(p, o.warm, o.window, o.phaseMs, "relay 1 -> 1 warm-up");
  const cpu = cpuMeter(relayPid);
  const t0 = now();
  await burstAndArrive(p, o.n, o.window, o.phaseMs, "relay 1 -> 1 throughput");
  // burst() resolved on the last "stored" ack: the relay's work for these n is done (bar the
  // delivered-ack deletes of the last turn).
  const cpuUs = cpu(o.n);
  const sec = (p.inbox.lastAt - t0) / 1000;
  const ingestSec = (p.out.lastStored - t0) / 1000;
  const peak = o.n / sec;
  const rounds: number[][] = [];
  for (let k = 1; k <= (o.latRounds ?? 1); k++) {
    const sentAt = new Map<string, number>();
    const recvAt = new Map<string, number>();
    p.inbox.track = recvAt;
    try {
      await paced(peak / 2, o.latN, () => {
        const m = p.out.sendNext();
        sentAt.set(m.mid, now());
      });
      await deadline(
        Promise.all([p.inbox.until(base + o.warm + o.n + k * o.latN), p.out.burst(0, o.window)]),
        o.phaseMs,
        "relay 1 -> 1 paced",
      );
    } finally {
      p.inbox.track = undefined;
    }
    rounds.push([...sentAt].map(([mid, s]) => recvAt.get(mid)! - s));
  }
  return {
    perSec: peak,
    ingestPerSec: o.n / ingestSec,
    ...roundLatency(rounds),
    cpuUs,
  };
}

/**
 * Every pair at once: `warm` each untimed, then `perPair` each; the rate is
 * all messages over the time until the last of them arrived.
 */
/**
 * A fan-out run: messages/s, and how busy the relay's event-loop thread and
 * this (driving) process were meanwhile, in cores (CPU time / wall time):
 * near 1.0 says which side set the pace.
 */
export interface FanoutResult {
  readonly perSec: number;
  readonly relayBusy?: number;
  readonly benchBusy?: number;
}

export async function relayFanout(
  pairs: readonly Pair[],
  warm: number,
  perPair: number,
  window: number,
  phaseMs: number,
  relayPid?: number,
): Promise<FanoutResult> {
  const all = (n: number) =>
    Promise.all(pairs.map((p) => {
      const want = p.inbox.received + n;
      return Promise.all([p.out.burst(n, window), p.inbox.until(want)]);
    }));
  await deadline(all(warm), phaseMs, "relay fan-out warm-up");
  const relay0 = relayPid === undefined ? undefined : cpuMs(relayPid, relayPid);
  const self0 = cpuMs(Deno.pid);
  const t0 = now();
  await deadline(all(perPair), phaseMs, "relay fan-out");
  const last = Math.max(...pairs.map((p) => p.inbox.lastAt));
  const wall = last - t0;
  const relay1 = relayPid === undefined ? undefined : cpuMs(relayPid, relayPid);
  const self1 = cpuMs(Deno.pid);
  const busy = (a?: number, b?: number) =>
    a === undefined || b === undefined ? undefined : (b - a) / (now() - t0);
  return {
    perSec: (pairs.length * perPair) / (wall / 1000),
    relayBusy: busy(relay0, relay1),
    benchBusy: busy(self0, self1),
  };
}

/** Opens `n` idle hub connections (handshake + FED_HELLO with no family), `batch` at a time. */
export function idleRelayConns(
  addr: string,
  n: number,
  batch: number,
  phaseMs: number,
): Promise<Client[]> {
  return openInBatches("idle relay", n, batch, phaseMs, async () => {
    const id = identityFrom(be, be.x25519Generate().privateKey);
    const c = await Client.connect(addr, { backend: be, identity: id, tier: 5, minTier: 4 });
    c.send(FedOp.FED_HELLO, hello(id, []));
    return c;
  });
}
