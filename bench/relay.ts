/**
 * Relay bench, black-box: a real `main.ts serve --role relay` child process
 * next to a real nats-server (Debian package) started here on random
 * loopback ports, every ratio against the peer measured in the same run.
 * Sealed 1 KiB messages hub -> relay -> hub; nats carries the same bytes on
 * the wire (1 KiB + 98) in plaintext.
 *
 * Cases (`--only a,b`; default all):
 * - `1to1`: two hubs; throughput (window of 1024 unacked "stored"), p50/p99
 *   of sends paced at half of each path's own peak (the median of three
 *   paced rounds) vs nats core pub/sub 1 -> 1; durable ingest (time to the last FED_ACK "stored") from a third
 *   hub to a fourth whose session never fetches, so every message is stored
 *   and fsynced first, vs JetStream acked publishes (file store, same window);
 *   then 1 -> 1 through the store (not a target): a sender window 8x larger,
 *   more than the relay pushes to one hub unacked, so most messages are
 *   stored, pushed from the store and deleted at "delivered" (the path of a
 *   burst a hub cannot drain at once; its share stored and CPU are printed).
 * - `64to64`: 128 hubs joined concurrently (`joinRelay`, 16 at a time), 64
 *   senders each to its own recipient, all at once, vs 64 nats publishers
 *   and 64 subscribers on distinct subjects: one untimed round, then three
 *   timed rounds, relay then nats in each, judged on the median round.
 * - `memory`: a fresh relay (no traffic before) and a fresh nats-server, each
 *   given 10,000 idle connections (relay: handshake + FED_HELLO; nats:
 *   CONNECT + PING/PONG); RSS delta / connections once the RSS settled (two
 *   readings 500 ms apart within 1 %, at most 20 s).
 * - `memory-ws`: `memory` over WebSocket (not a target): the relay's
 *   `ws://…/myclerk` on its HTTP port vs nats-server's plain websocket
 *   listener (CONNECT + PING/PONG in frames).
 * - `busy`: two busy-loop child processes (`deno eval`, bounded loop, killed
 *   in finally) beside the relay and nats; 1 -> 1 throughput and p99 again.
 * - `floor`: socat as a plain TCP forwarder (not a target).
 *
 * The hubs are driven in this process at the protocol level (one Client
 * session each: FED_DELIVER / FED_FETCH / FED_ACK), so the numbers are the
 * relay's, not the admin HTTP's; envelopes are sealed before any clock
 * starts (seal/open cost printed apart). Invites are written into the relay
 * store before the child starts, as `family invite` does.
 *
 * Open files: the `memory` case holds 10,000 connections in this process and
 * in each server at once, so it needs an open-file limit >= 11,024 per
 * process (2,000 + 1,024 with --quick). Deno (and Go's nats-server) raise
 * their soft limit to the hard limit at start, and the bench checks with
 * getrlimit and raises it (setrlimit) before any child starts (children
 * inherit it); if the hard limit is lower it stops with a message saying what
 * to run (`ulimit -n 11024` in the shell, which needs root or the container's
 * `--ulimit nofile=11024`).
 *
 * Run: `deno run -A bench/relay.ts [--quick] [--only 1to1,64to64,memory,memory-ws,busy,floor]
 * [--json out.json] [--handoff-ms N]`. Full: ~3-8 min on 2 cores; --quick: under ~2 min.
 * `--handoff-ms 0` runs the relay storing every message first (docs/FEDERATION.md §6.5).
 *
 * Longer than ~500 lines on purpose: the cases, the printed table and the
 * targets stay in one file, so that what is measured and what is printed
 * as a ratio cannot drift apart (the drivers are in `_relay_*.ts`).
 *
 * @module
 */

import {
  type BenchHub,
  hubCost,
  idleRelayConns,
  Inbox,
  joinHubs,
  oneToOneCount,
  type OneToOneOpts,
  type OneToOneResult,
  Outbox,
  type Pair,
  relayFanout,
  relayIngest,
  relayOneToOne,
  type RelayProc,
  relayThroughStore,
  sealMany,
  startRelay,
  type ThroughStoreResult,
} from "./_relay_ours.ts";
import {
  idleNatsConns,
  idleNatsWsConns,
  natsFanout,
  natsJetStream,
  type NatsOneToOne,
  natsOneToOne,
  type NatsProc,
  socatFloor,
  startNats,
} from "./_relay_peer.ts";
import type { Client } from "../core/node/client.ts";
import { busyLoops, ensureFdLimit, now, type Rss, settledRss, stopAll } from "./_relay_sys.ts";

const CASES = ["1to1", "64to64", "memory", "memory-ws", "busy", "floor"] as const;
type Case = typeof CASES[number];

function argValue(name: string): string | undefined {
  const i = Deno.args.findIndex((a) => a === name || a.startsWith(`${name}=`));
  if (i < 0) return undefined;
  const a = Deno.args[i];
  if (a.includes("=")) return a.slice(a.indexOf("=") + 1);
  const v = Deno.args[i + 1];
  if (v === undefined || v.startsWith("--")) throw new Error(`${name} needs a value`);
  return v;
}

const USAGE =
  `usage: deno run -A bench/relay.ts [--quick] [--only CASES] [--json FILE] [--handoff-ms N]

  --quick          shorter runs (under ~2 min; full: ~3-8 min on 2 cores)
  --only CASES     comma-separated, default all: ${CASES.join(",")}
  --json FILE      also write every number to FILE
  --handoff-ms N   the relay's federation.handoffMs (0: store every message first)

Every figure is printed as a ratio against a real nats-server (Debian package nats-server)
measured in the same run; each goal gets one "target:" line with PASS or FAIL.
BENCH_RELAY_DENO_ARGS adds deno flags to the relay child (e.g. --cpu-prof with
BENCH_RELAY_STOP=SIGTERM); BENCH_RELAY_STDOUT=1 shows the child's stdout (V8 traces);
BENCH_RELAY_METRICS=1 prints the relay's federation counters before it stops.
See docs/FEDERATION.md §10.5.`;

if (Deno.args.includes("--help") || Deno.args.includes("-h")) {
  console.log(USAGE);
  Deno.exit(0);
}
{
  // a typo must not start a multi-minute run of everything
  const flags = new Set(["--quick"]);
  const valued = new Set(["--only", "--json", "--handoff-ms"]);
  for (let i = 0; i < Deno.args.length; i++) {
    const a = Deno.args[i];
    const name = a.includes("=") ? a.slice(0, a.indexOf("=")) : a;
    if (flags.has(a)) continue;
    if (valued.has(name)) {
      if (!a.includes("=")) i++;
      continue;
    }
    console.error(`bench/relay: unknown argument ${a}\n\n${USAGE}`);
    Deno.exit(2);
  }
}

const QUICK = Deno.args.includes("--quick");
/** `--handoff-ms N`: the relay's `federation.handoffMs` (0 = store every message first). */
const HANDOFF_MS = argValue("--handoff-ms");
const RELAY_FED = HANDOFF_MS === undefined ? {} : { handoffMs: Number(HANDOFF_MS) };
const SIZE = 1024;
const WINDOW = 1024;
const ONE: OneToOneOpts = {
  warm: QUICK ? 1000 : 3000,
  n: QUICK ? 3000 : 20_000,
  latN: QUICK ? 600 : 4000,
  // one paced round is ~0.2-0.5 s: a single stall of either process decided p99 (9.9-32x in
  // single runs against 0.2-1.5x in the rest); the median of three rounds does not hinge on one
  latRounds: 3,
  window: WINDOW,
  phaseMs: QUICK ? 90_000 : 180_000,
};
/**
 * 1 -> 1 through the store: a sender window 8x the 1 -> 1 one, more than the
 * relay's push window to one hub (FEDERATION.md §6.5), so most messages wait
 * in the store for the recipient.
 */
const STORE = { warm: QUICK ? 500 : 1000, n: QUICK ? 3000 : 12_000, window: 8 * WINDOW };
const PAIRS = 64;
const FAN_PER = QUICK ? 150 : 400;
/**
 * Untimed messages per pair before the first 64 -> 64 round, on each side:
 * one round's worth. With 50 the relay's first round ran at 19-30k msgs/s
 * and its later ones at 41-55k (a fresh relay's V8 heap and code warming to
 * 128 sessions), so the first round measured start-up, not the relay.
 */
const FAN_WARM = FAN_PER;
/**
 * 64 -> 64 runs this many rounds, relay then nats each, and the target takes
 * the median round's ratio: one round is under a second, and on a shared
 * 2-core machine a single one moved 0.25-0.43x between runs.
 */
const FAN_ROUNDS = QUICK ? 2 : 3;
const IDLE = QUICK ? 2000 : 10_000;
const IDLE_BATCH = 50;
const BUSY_LOOPS = 2;
const FD_NEED = IDLE + 1024;
/** Bound on opening all idle connections of one server. */
const IDLE_MS = QUICK ? 120_000 : 300_000;

interface Results {
  hubCost?: { sealUs: number; openUs: number };
  oneToOne?: {
    relay: OneToOneResult;
    nats: NatsOneToOne;
    jetstream: number;
    /** Durable ingest to a recipient that does not fetch (every message stored, fsynced). */
    ingest: { perSec: number; cpuUs?: { main: number; all: number } };
    /** A recipient that fetches but falls behind: stored, then pushed from the store. */
    throughStore: ThroughStoreResult;
  };
  fanout?: {
    pairs: number;
    perPair: number;
    /** One per round, in order: relay then nats, one after the other. */
    rounds: FanRound[];
  };
  memory?: {
    connections: number;
    relay: IdleMemory & { closed: number };
    nats: IdleMemory;
    fd: { soft: number; hard: number; raised: boolean };
  };
  /** The same over WebSocket (not a target): the relay's HTTP listener, nats-server's websocket. */
  memoryWs?: { connections: number; relay: IdleMemory & { closed: number }; nats: IdleMemory };
  busy?: { loops: number; relay: OneToOneResult; nats: NatsOneToOne };
  floor?: NatsOneToOne;
}

/** One 64 -> 64 round: msgs/s of each side, and how busy the processes were (relay's). */
interface FanRound {
  relay: number;
  nats: number;
  /** Cores busy during the timed phase: the relay's event-loop thread, this process. */
  relayBusy?: number;
  benchBusy?: number;
}

/** The round with the median relay/nats ratio (the lower middle one of an even count). */
function medianRound(rounds: readonly FanRound[]): FanRound {
  const s = [...rounds].sort((a, b) => a.relay / a.nats - b.relay / b.nats);
  return s[(s.length - 1) >> 1];
}

interface Target {
  readonly name: string;
  readonly cmp: string;
  readonly ratio: number;
  readonly pass: boolean;
  readonly detail: string;
}

function selectedCases(): Set<Case> {
  const only = argValue("--only");
  if (only === undefined) return new Set(CASES);
  const out = new Set<Case>();
  for (const c of only.split(",").map((s) => s.trim()).filter(Boolean)) {
    if (!(CASES as readonly string[]).includes(c)) {
      throw new Error(`--only: unknown case "${c}" (cases: ${CASES.join(", ")})`);
    }
    out.add(c as Case);
  }
  return out;
}

const fmt = (x: number | undefined, d = 0) =>
  x === undefined || !Number.isFinite(x) ? "-" : x.toFixed(d);

/** RSS per connection: all of them over the fresh baseline, and the marginal after the first 10 %. */
interface IdleMemory {
  readonly bytesPerConn: number;
  readonly marginalBytesPerConn: number;
  readonly before: Rss;
  readonly first: Rss;
  readonly after: Rss;
}

/**
 * Baseline RSS of a fresh `pid`, then IDLE/10 connections, RSS, the rest,
 * RSS (each reading settled); `hold` keeps the connections for the caller.
 */
async function idleMemory<C>(
  pid: number,
  hold: C[],
  open: (k: number) => Promise<C[]>,
): Promise<IdleMemory> {
  const before = await settledRss(pid);
  const k = Math.floor(IDLE / 10);
  hold.push(...await open(k));
  const first = await settledRss(pid);
  hold.push(...await open(IDLE - k));
  const after = await settledRss(pid);
  return {
    bytesPerConn: ((after.kib - before.kib) * 1024) / IDLE,
    marginalBytesPerConn: ((after.kib - first.kib) * 1024) / (IDLE - k),
    before,
    first,
    after,
  };
}

/**
 * The `memory` cases: a fresh relay, then a fresh nats-server, each given
 * IDLE idle connections (relay hubs dialed at `addr(relay)`), each stopped
 * with its connections before the next starts.
 */
async function idlePair<N extends { close(): void }>(
  dir: string,
  name: string,
  addr: (r: RelayProc) => string,
  nats: () => Promise<NatsProc>,
  open: (n: NatsProc, k: number) => Promise<N[]>,
): Promise<{ relay: IdleMemory & { closed: number }; nats: IdleMemory }> {
  const r = await startRelay(dir, name, 0);
  const rc: Client[] = [];
  let relay: IdleMemory & { closed: number };
  try {
    const rm = await idleMemory(r.pid, rc, (k) => idleRelayConns(addr(r), k, IDLE_BATCH, IDLE_MS));
    relay = { ...rm, closed: rc.filter((c) => c.closeReason !== undefined).length };
  } finally {
    rc.forEach((c) => c.close());
    await r.stop();
  }
  const n = await nats();
  const nc: N[] = [];
  try {
    return { relay, nats: await idleMemory(n.pid, nc, (k) => open(n, k)) };
  } finally {
    nc.forEach((c) => c.close());
    await n.stop();
  }
}

async function run(cases: Set<Case>, dir: string): Promise<Results> {
  const res: Results = {};
  // before any child starts: children inherit the limit
  const fd = cases.has("memory") || cases.has("memory-ws")
    ? ensureFdLimit(FD_NEED, QUICK ? "" : ", or use --quick (2,000 connections)")
    : undefined;
  const cleanup: (() => Promise<void> | void)[] = [];
  let relay: RelayProc | undefined;
  try {
    const wantMain = cases.has("1to1") || cases.has("64to64") || cases.has("busy");
    if (wantMain) {
      const invites = (cases.has("1to1") || cases.has("busy") ? 4 : 0) +
        (cases.has("64to64") ? 2 * PAIRS : 0);
      relay = await startRelay(dir, "relay", invites, RELAY_FED);
      cleanup.push(relay.stop);
      const nats: NatsProc = await startNats(`${dir}/js`);
      cleanup.push(nats.stop);
      let pair: Pair | undefined;
      if (cases.has("1to1") || cases.has("busy")) {
        // c has a session but never fetches: what d sends it is stored (durable ingest)
        const [a, b, c, d] = await joinHubs(relay, dir, ["a", "b", "c", "d"]);
        cleanup.push(() => [a, b, c, d].forEach((h) => h.c.close()));
        pair = { out: new Outbox(a), inbox: new Inbox(b) };
        res.hubCost = hubCost(a, b, SIZE);
        if (cases.has("1to1")) {
          pair.out.add(sealMany(a, b, oneToOneCount(ONE), SIZE));
          const r = await relayOneToOne(pair, ONE, relay.pid);
          const toStore = new Outbox(d);
          toStore.add(sealMany(d, c, ONE.warm + ONE.n, SIZE));
          const ingest = await relayIngest(
            toStore,
            ONE.warm,
            ONE.n,
            ONE.window,
            ONE.phaseMs,
            relay.pid,
          );
          pair.out.add(sealMany(a, b, STORE.warm + STORE.n, SIZE));
          const throughStore = await relayThroughStore(
            pair,
            STORE.warm,
            STORE.n,
            STORE.window,
            ONE.phaseMs,
            relay,
          );
          const n = await natsOneToOne(nats.server, { ...ONE, size: SIZE }, nats.pid);
          const js = await natsJetStream(nats.server, { ...ONE, size: SIZE });
          res.oneToOne = { relay: r, nats: n, jetstream: js, ingest, throughStore };
        }
      }
      if (cases.has("64to64")) {
        const names = Array.from({ length: PAIRS }, (_, i) => [`s${i}`, `r${i}`]).flat();
        const t = now();
        const hubs: BenchHub[] = await joinHubs(relay, dir, names, 16);
        cleanup.push(() => hubs.forEach((h) => h.c.close()));
        const joinS = (now() - t) / 1000;
        const pairs: Pair[] = [];
        for (let i = 0; i < PAIRS; i++) {
          const s = hubs[2 * i];
          const r = hubs[2 * i + 1];
          const out = new Outbox(s);
          out.add(sealMany(s, r, FAN_WARM + FAN_ROUNDS * FAN_PER, SIZE));
          pairs.push({ out, inbox: new Inbox(r, 4096) });
        }
        const rounds: FanRound[] = [];
        for (let k = 0; k < FAN_ROUNDS; k++) {
          // the relay's sessions stay up between rounds: only the first warms them
          const fan = await relayFanout(
            pairs,
            k === 0 ? FAN_WARM : 0,
            FAN_PER,
            WINDOW,
            ONE.phaseMs,
            relay.pid,
          );
          const nf = await natsFanout(nats.server, {
            pairs: PAIRS,
            warm: FAN_WARM,
            perPair: FAN_PER,
            size: SIZE,
            phaseMs: ONE.phaseMs,
          });
          rounds.push({
            relay: fan.perSec,
            nats: nf,
            relayBusy: fan.relayBusy,
            benchBusy: fan.benchBusy,
          });
        }
        res.fanout = { pairs: PAIRS, perPair: FAN_PER, rounds };
        console.error(`(64 -> 64: ${2 * PAIRS} hubs joined in ${joinS.toFixed(1)} s)`);
        for (const h of hubs) h.c.close();
      }
      if (cases.has("busy") && pair) {
        const [a, b] = [pair.out.hub, pair.inbox.hub];
        pair.out.add(sealMany(a, b, oneToOneCount(ONE), SIZE)); // sealed before the loops start
        const loops = busyLoops(BUSY_LOOPS, 4 * ONE.phaseMs);
        try {
          const r = await relayOneToOne(pair, ONE, relay.pid);
          const n = await natsOneToOne(nats.server, { ...ONE, size: SIZE }, nats.pid);
          res.busy = { loops: BUSY_LOOPS, relay: r, nats: n };
        } finally {
          await stopAll(loops);
        }
      }
      for (const f of cleanup.splice(0).reverse()) await f();
      relay = undefined;
    }
    if (cases.has("memory")) {
      const m = await idlePair(
        dir,
        "relay-idle",
        (r) => r.addr,
        () => startNats(),
        (n, k) => idleNatsConns(n.port, k, IDLE_BATCH, IDLE_MS),
      );
      res.memory = { connections: IDLE, ...m, fd: fd! };
    }
    if (cases.has("memory-ws")) {
      const m = await idlePair(
        dir,
        "relay-idle-ws",
        (r) => r.ws,
        () => startNats(undefined, dir),
        (n, k) => idleNatsWsConns(n.wsPort!, k, IDLE_BATCH, IDLE_MS),
      );
      res.memoryWs = { connections: IDLE, ...m };
    }
    if (cases.has("floor")) res.floor = await socatFloor({ ...ONE, size: SIZE });
    return res;
  } catch (e) {
    if (relay) console.error(`relay log (tail):\n${await relay.logTail()}`);
    throw e;
  } finally {
    for (const f of cleanup.reverse()) {
      try {
        await f();
      } catch { /* best effort */ }
    }
  }
}

function targets(r: Results): Target[] {
  const t: Target[] = [];
  const add = (name: string, cmp: string, ratio: number, pass: boolean, detail: string) =>
    t.push({ name, cmp, ratio, pass, detail });
  const oneToOne = (
    prefix: string,
    rel: OneToOneResult,
    nats: NatsOneToOne,
  ) => {
    const thr = rel.perSec / nats.perSec;
    add(
      `${prefix}throughput 1 -> 1`,
      ">= 1.0x nats core pub/sub",
      thr,
      thr >= 1.0,
      `${fmt(rel.perSec)} vs ${fmt(nats.perSec)} msgs/s`,
    );
    const p99 = rel.p99 / nats.p99;
    add(
      `${prefix}p99 at half load`,
      "<= 1.5x nats core pub/sub",
      p99,
      p99 <= 1.5,
      `${fmt(rel.p99, 2)} vs ${fmt(nats.p99, 2)} ms; p50 ${fmt(rel.p50, 2)} vs ${
        fmt(nats.p50, 2)
      } ms; median of ${rel.p99Rounds.length} paced rounds, p99 per round ${
        rel.p99Rounds.map((x) => fmt(x, 2)).join("/")
      } vs ${nats.p99Rounds.map((x) => fmt(x, 2)).join("/")} ms`,
    );
  };
  if (r.oneToOne) {
    oneToOne("", r.oneToOne.relay, r.oneToOne.nats);
  }
  if (r.fanout) {
    const f = r.fanout;
    const m = medianRound(f.rounds);
    const x = m.relay / m.nats;
    const ratios = f.rounds.map((k) => k.relay / k.nats);
    add(
      `throughput ${f.pairs} -> ${f.pairs}`,
      ">= 0.7x nats core pub/sub",
      x,
      x >= 0.7,
      `median of ${f.rounds.length} rounds, best ${fmt(Math.max(...ratios), 2)}x, range ${
        fmt(Math.min(...ratios), 2)
      }-${fmt(Math.max(...ratios), 2)}x; median round ${fmt(m.relay)} vs ${fmt(m.nats)} msgs/s`,
    );
  }
  if (r.oneToOne) {
    const x = r.oneToOne.ingest.perSec / r.oneToOne.jetstream;
    add(
      "durable ingest",
      ">= 1.0x JetStream acked publish",
      x,
      x >= 1.0,
      `${fmt(r.oneToOne.ingest.perSec)} vs ${
        fmt(r.oneToOne.jetstream)
      } acked msgs/s, recipient not fetching: every message stored and fsynced before "stored"`,
    );
  }
  if (r.memory) {
    const m = r.memory;
    const x = m.relay.bytesPerConn / m.nats.bytesPerConn;
    const unsettled = [
      m.relay.before.settled && m.relay.first.settled && m.relay.after.settled
        ? ""
        : "relay RSS did not settle",
      m.nats.before.settled && m.nats.first.settled && m.nats.after.settled
        ? ""
        : "nats RSS did not settle",
      m.relay.closed > 0 ? `${m.relay.closed} relay connections closed` : "",
    ].filter(Boolean);
    add(
      `memory per idle connection at ${m.connections}`,
      "<= 1.0x nats-server",
      x,
      x <= 1.0 && unsettled.length === 0,
      `${fmt(m.relay.bytesPerConn)} vs ${fmt(m.nats.bytesPerConn)} B, fresh processes${
        unsettled.length ? "; " + unsettled.join(", ") : ""
      }`,
    );
  }
  if (r.busy) oneToOne(`under load (${r.busy.loops} busy loops): `, r.busy.relay, r.busy.nats);
  return t;
}

function report(r: Results, cases: Set<Case>, tookS: number): Target[] {
  console.log(
    `relay bench (${QUICK ? "quick" : "full"}; cases ${
      [...cases].join(",")
    }): 1 -> 1: ${ONE.warm} ` +
      `untimed warm-up msgs, ${ONE.n} timed, ${ONE.latRounds} rounds of ${ONE.latN} paced at half of each one's own peak; ` +
      `${PAIRS} -> ${PAIRS}: ${FAN_WARM} + ${FAN_ROUNDS} rounds of ${FAN_PER} per pair; ${IDLE} idle connections`,
  );
  let header = false;
  const row = (c: string, name: string, perSec: number, p50?: number, p99?: number) => {
    if (!header) {
      console.log("| case | path | msgs/s | p50 ms (half load) | p99 ms (half load) |");
      console.log("| --- | --- | ---: | ---: | ---: |");
      header = true;
    }
    console.log(`| ${c} | ${name} | ${fmt(perSec)} | ${fmt(p50, 3)} | ${fmt(p99, 3)} |`);
  };
  if (r.oneToOne) {
    const o = r.oneToOne;
    row("1 -> 1", "relay (2 hubs, sealed 1 KiB)", o.relay.perSec, o.relay.p50, o.relay.p99);
    row("1 -> 1", "nats-server core pub/sub", o.nats.perSec, o.nats.p50, o.nats.p99);
    row(
      "1 -> 1",
      'relay "stored" acks (handed off: after the recipient\'s "delivered")',
      o.relay.ingestPerSec,
    );
    const share = o.throughStore.storedShare;
    row(
      "1 -> 1",
      `relay through the store (window ${STORE.window}: recipient behind${
        share === undefined ? "" : `, ${fmt(100 * share)} % stored`
      })`,
      o.throughStore.perSec,
    );
    row("ingest", "relay durable ingest (recipient offline: stored, fsync)", o.ingest.perSec);
    row("ingest", "nats JetStream acked publish (file)", o.jetstream);
  }
  if (r.fanout) {
    const f = r.fanout;
    const m = medianRound(f.rounds);
    row(`${f.pairs} -> ${f.pairs}`, `relay (${2 * f.pairs} hubs; median round)`, m.relay);
    row(
      `${f.pairs} -> ${f.pairs}`,
      `nats-server (${f.pairs} pub, ${f.pairs} sub; same round)`,
      m.nats,
    );
  }
  if (r.busy) {
    const b = r.busy;
    row(`busy x${b.loops}`, "relay 1 -> 1", b.relay.perSec, b.relay.p50, b.relay.p99);
    row(`busy x${b.loops}`, "nats-server core pub/sub", b.nats.perSec, b.nats.p50, b.nats.p99);
  }
  if (r.floor) {
    row("1 -> 1", "socat TCP forwarder (floor)", r.floor.perSec, r.floor.p50, r.floor.p99);
  }
  if (r.memory) {
    const m = r.memory;
    console.log(
      `memory per idle connection (${m.connections}, fresh processes): relay ${
        fmt(m.relay.bytesPerConn)
      } B (RSS ${m.relay.before.kib} -> ${m.relay.after.kib} KiB; after the first 10 %: ${
        fmt(m.relay.marginalBytesPerConn)
      } B), nats-server ${
        fmt(m.nats.bytesPerConn)
      } B (RSS ${m.nats.before.kib} -> ${m.nats.after.kib} KiB; after the first 10 %: ${
        fmt(m.nats.marginalBytesPerConn)
      } B); open-file limit ${m.fd.soft}${m.fd.raised ? " (raised by the bench)" : ""}`,
    );
  }
  if (r.memoryWs) {
    const m = r.memoryWs;
    console.log(
      `memory per idle WebSocket connection (${m.connections}, fresh processes, not a target): relay ${
        fmt(m.relay.bytesPerConn)
      } B (RSS ${m.relay.before.kib} -> ${m.relay.after.kib} KiB; after the first 10 %: ${
        fmt(m.relay.marginalBytesPerConn)
      } B), nats-server websocket ${fmt(m.nats.bytesPerConn)} B (after the first 10 %: ${
        fmt(m.nats.marginalBytesPerConn)
      } B): ${(m.relay.bytesPerConn / m.nats.bytesPerConn).toFixed(2)}x${
        m.relay.closed > 0 ? `; ${m.relay.closed} relay sessions closed meanwhile` : ""
      }`,
    );
  }
  if (r.hubCost) {
    console.log(
      `hub cost (not in the relay numbers): seal ${r.hubCost.sealUs.toFixed(1)} us, open ${
        r.hubCost.openUs.toFixed(1)
      } us per 1 KiB message`,
    );
  }
  if (r.oneToOne?.relay.cpuUs) {
    const c = r.oneToOne.relay.cpuUs;
    console.log(
      `relay CPU per message (1 -> 1 throughput phase, /proc): main thread ${
        c.main.toFixed(1)
      } us, ` +
        `all threads ${c.all.toFixed(1)} us`,
    );
  }
  const rc = r.oneToOne?.relay.cpuUs, nc = r.oneToOne?.nats.cpuUs;
  if (rc && nc) {
    // Both sides whole: on a saturated 2-core machine throughput is about 2 cores / this sum.
    const ours = rc.all + rc.bench, theirs = nc.server + nc.bench;
    console.log(
      `CPU per message at 1 -> 1 (all threads): relay ${rc.all.toFixed(1)} + hub sessions ${
        rc.bench.toFixed(1)
      } = ${ours.toFixed(1)} us; nats-server ${nc.server.toFixed(1)} + nats.js clients ${
        nc.bench.toFixed(1)
      } = ${theirs.toFixed(1)} us (${(ours / theirs).toFixed(2)}x)`,
    );
  }
  if (r.fanout) {
    const f = r.fanout;
    const each = f.rounds.map((k) =>
      `${fmt(k.relay)} vs ${fmt(k.nats)} (${fmt(k.relay / k.nats, 2)}x${
        k.relayBusy === undefined || k.benchBusy === undefined
          ? ""
          : `; relay event-loop thread ${k.relayBusy.toFixed(2)} cores busy, this bench process (${
            2 * f.pairs
          } hub sessions) ${k.benchBusy.toFixed(2)}`
      })`
    );
    console.log(`${f.pairs} -> ${f.pairs} per round, msgs/s relay vs nats: ${each.join("; ")}`);
  }

  if (r.oneToOne?.throughStore.cpuUs) {
    const c = r.oneToOne.throughStore.cpuUs;
    console.log(
      `relay CPU per message (1 -> 1 through the store, /proc): main thread ${
        c.main.toFixed(1)
      } us, all threads ${c.all.toFixed(1)} us; ${
        fmt(r.oneToOne.throughStore.perSec / r.oneToOne.relay.perSec, 2)
      }x the handed-off 1 -> 1 rate`,
    );
  }
  if (r.oneToOne?.ingest.cpuUs) {
    const c = r.oneToOne.ingest.cpuUs;
    console.log(
      `relay CPU per message (durable ingest phase, /proc): main thread ${c.main.toFixed(1)} us, ` +
        `all threads ${c.all.toFixed(1)} us`,
    );
  }
  if (r.oneToOne) {
    console.log(
      `note: nats-server 2.9 JetStream syncs to disk every 2 min by default (no fsync per ack); ` +
        `the relay acks stored only after each group commit's WAL fdatasync and manifest mark`,
    );
  }
  if (r.busy && r.oneToOne) {
    const pctOf = (a: number, b: number) => `${fmt((100 * a) / b)} %`;
    console.log(
      `busy: relay kept ${pctOf(r.busy.relay.perSec, r.oneToOne.relay.perSec)} of its quiet ` +
        `1 -> 1 throughput, nats ${pctOf(r.busy.nats.perSec, r.oneToOne.nats.perSec)}`,
    );
  }
  if (r.floor && r.oneToOne) {
    console.log(
      `floor: relay 1 -> 1 throughput is ${
        fmt(r.oneToOne.relay.perSec / r.floor.perSec, 2)
      }x socat`,
    );
  }
  const ts = targets(r);
  for (const t of ts) {
    console.log(
      `target: ${t.name} ${t.cmp}: ${t.ratio.toFixed(2)}x ${
        t.pass ? "PASS" : "FAIL"
      } (${t.detail})`,
    );
  }
  console.log(`took ${tookS.toFixed(1)} s`);
  return ts;
}

async function main(): Promise<void> {
  const cases = selectedCases();
  const jsonPath = argValue("--json");
  const dir = await Deno.makeTempDir({ prefix: "bench-relay-" });
  try {
    const started = now();
    const r = await run(cases, dir);
    const tookS = (now() - started) / 1000;
    const ts = report(r, cases, tookS);
    if (jsonPath) {
      const sizes = {
        ...ONE,
        size: SIZE,
        pairs: PAIRS,
        fanWarm: FAN_WARM,
        fanPer: FAN_PER,
        fanRounds: FAN_ROUNDS,
        idle: IDLE,
      };
      const out = {
        bench: "relay",
        mode: QUICK ? "quick" : "full",
        at: new Date().toISOString(),
        cases: [...cases],
        sizes,
        tookS,
        results: r,
        targets: ts,
      };
      await Deno.writeTextFile(jsonPath, JSON.stringify(out, null, 2) + "\n");
      console.log(`wrote ${jsonPath}`);
    }
  } finally {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

if (import.meta.main) {
  try {
    await main();
  } catch (e) {
    console.error(`bench/relay.ts: ${e instanceof Error ? e.message : e}`);
    Deno.exit(1);
  }
}
