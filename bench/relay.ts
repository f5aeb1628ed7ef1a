/**
 * Relay bench: two hubs exchanging sealed 1 KiB messages through one relay
 * (a real `serve --role relay` child process) on loopback, next to
 * nats-server (Debian package, started here on a random port) carrying the
 * same payload size between two clients of the same runtime, and socat as a
 * plain TCP forwarder (the floor). Also durable ingest (FED_ACK "stored",
 * fsynced by group commit) next to JetStream acked publishes, and memory per
 * idle connection (relay RSS vs nats-server RSS).
 *
 * The hubs are driven in this process at the protocol level (FED_DELIVER /
 * FED_FETCH / FED_ACK on real sessions) so the numbers are the relay's, not
 * the admin HTTP's; envelopes are sealed before the clock starts (sealing
 * and opening cost are printed on their own line: nats carries plaintext).
 *
 * nats client: `npm:nats@2.29.3`, pinned: the last nats.js v2 release, the
 * API every nats.js example uses (v3 split into @nats-io/* packages), and
 * it speaks to the Debian nats-server 2.9 including JetStream.
 *
 * Run: `deno run --allow-all bench/relay.ts [--quick]`.
 *
 * @module
 */

import { connect as natsConnect, type NatsConnection, StorageType } from "npm:nats@2.29.3";
import { backend } from "../core/crypto/mod.ts";
import { Client } from "../core/node/client.ts";
import { generateKeyFile } from "../core/node/keys.ts";
import { identityFrom } from "../core/session/handshake.ts";
import { toHex } from "../federation/bytes.ts";
import { openEnvelope, sealEnvelope } from "../federation/envelope.ts";
import { createFamilyKey, writeHubState } from "../federation/files.ts";
import { familyId } from "../federation/family.ts";
import { joinRelay } from "../federation/hub/mod.ts";
import { decodeFed, encodeFed, FedOp } from "../federation/messages.ts";

const QUICK = Deno.args.includes("--quick");
const N = QUICK ? 3000 : 20_000;
const LAT_N = QUICK ? 600 : 4000;
const IDLE = QUICK ? 300 : 2000;
/** Untimed messages first, on every path alike, so no one is measured while its JIT warms up. */
const WARM = QUICK ? 1000 : 3000;
const SIZE = 1024;
const WINDOW = 1024;
const be = backend();
const MAIN = new URL("../main.ts", import.meta.url).pathname;

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const now = () => performance.now();

function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const p = (l.addr as Deno.NetAddr).port;
  l.close();
  return p;
}

function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
}

function rssKiB(pid: number): number {
  const t = Deno.readTextFileSync(`/proc/${pid}/status`);
  return Number(/VmRSS:\s+(\d+)/.exec(t)![1]);
}

async function waitPort(port: number): Promise<void> {
  for (let i = 0; i < 200; i++) {
    try {
      (await Deno.connect({ hostname: "127.0.0.1", port })).close();
      return;
    } catch {
      await sleep(25);
    }
  }
  throw new Error(`port ${port} never opened`);
}

interface Row {
  readonly name: string;
  readonly perSec: number;
  readonly p50?: number;
  readonly p99?: number;
}

/** Paced sending at `rate` msgs/s for `n` messages; `send(i)` sends message i. */
async function paced(rate: number, n: number, send: (i: number) => void): Promise<void> {
  const t0 = now();
  let i = 0;
  while (i < n) {
    const due = Math.min(n, Math.floor(((now() - t0) / 1000) * rate) + 1);
    while (i < due) send(i++);
    await sleep(2);
  }
}

// ---- ours ----------------------------------------------------------------

async function ours(
  dir: string,
): Promise<
  { thr: Row; ingest: Row; lat: Row; memPerConn: number; sealUs: number; openUs: number }
> {
  await Deno.writeTextFile(
    `${dir}/relay.json`,
    JSON.stringify({
      federation: { rate: 1e9, burst: 1_000_000, quotaMessages: 10_000_000 },
      limits: { maxConnections: 100_000 },
    }),
  );
  const port = freePort();
  const relay = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      MAIN,
      "serve",
      "--role",
      "relay",
      "--data",
      `${dir}/relay`,
      "--tcp",
      `127.0.0.1:${port}`,
      "--http",
      "127.0.0.1:0",
      "--config",
      `${dir}/relay.json`,
      "--log-level",
      "warn",
    ],
    stdout: "null",
    stderr: "null",
  }).spawn();
  try {
    await waitPort(port);
    const addr = `127.0.0.1:${port}`;
    const hub = async (name: string) => {
      const data = `${dir}/${name}`;
      await Deno.mkdir(data, { recursive: true });
      const fam = await createFamilyKey(be, data);
      await writeHubState(data, { name, id: familyId(be, fam.publicKey), created: 1 });
      const node = await generateKeyFile(be, `${data}/node.key`);
      const tok = new TextDecoder().decode(
        (await new Deno.Command(Deno.execPath(), {
          args: ["run", "-A", MAIN, "family", "invite", "--data", `${dir}/relay`],
          stdout: "piped",
        }).output()).stdout,
      ).trim();
      await joinRelay(be, node, data, addr, tok);
      const c = await Client.connect(addr, { backend: be, identity: node, tier: 5, minTier: 4 });
      const id = familyId(be, fam.publicKey);
      c.send(
        FedOp.FED_HELLO,
        encodeFed({
          op: FedOp.FED_HELLO,
          role: "hub",
          keyId: node.keyId,
          families: [id],
          version: 0,
        }),
      );
      return { c, fam, id };
    };
    const a = await hub("a");
    const b = await hub("b");

    // B: receive, ack "delivered" in batches, keep credit topped up.
    const recvAt = new Map<string, number>();
    let received = 0;
    let acks: Uint8Array[] = [];
    let ackTimer: ReturnType<typeof setTimeout> | undefined;
    const onRecv: ((n: number) => void)[] = [];
    b.c.onRaw((op, bytes) => {
      if (op !== FedOp.FED_DELIVER) return;
      const m = decodeFed(be, op, bytes);
      if (m.op !== FedOp.FED_DELIVER) return;
      recvAt.set(toHex(m.mid), now());
      received++;
      acks.push(m.mid);
      if (ackTimer === undefined) {
        ackTimer = setTimeout(() => {
          ackTimer = undefined;
          const mids = acks;
          acks = [];
          for (let i = 0; i < mids.length; i += 1024) {
            b.c.send(
              FedOp.FED_ACK,
              encodeFed({
                op: FedOp.FED_ACK,
                kind: "delivered",
                family: b.id,
                mids: mids.slice(i, i + 1024),
              }),
            );
          }
          b.c.send(
            FedOp.FED_FETCH,
            encodeFed({ op: FedOp.FED_FETCH, family: b.id, credit: Math.min(mids.length, 65535) }),
          );
        }, 0);
      }
      for (const f of onRecv) f(received);
    });
    b.c.send(FedOp.FED_FETCH, encodeFed({ op: FedOp.FED_FETCH, family: b.id, credit: 8192 }));

    // A: pre-seal, then send with a window of unacked "stored".
    const body = new Uint8Array(SIZE).fill(7);
    const total = WARM + N + LAT_N + 10;
    let t = now();
    const msgs = Array.from({ length: total }, () => {
      const env = sealEnvelope(be, {
        senderSecret: a.fam.privateKey,
        recipientKey: b.fam.publicKey,
        body,
        ttl: 3600,
      });
      return {
        mid: toHex(env.routing.mid),
        bytes: encodeFed({ op: FedOp.FED_DELIVER, ...env.routing, hops: 0, sealed: env.sealed }),
        env,
      };
    });
    const sealUs = ((now() - t) * 1000) / total;
    t = now();
    for (let i = 0; i < 200; i++) {
      openEnvelope(be, msgs[i].env.routing, msgs[i].env.sealed, b.fam.privateKey);
    }
    const openUs = ((now() - t) * 1000) / 200;

    let stored = 0;
    let lastStored = 0;
    const storedWaiters: (() => void)[] = [];
    a.c.onRaw((op, bytes) => {
      if (op !== FedOp.FED_ACK) return;
      const m = decodeFed(be, op, bytes);
      if (m.op === FedOp.FED_ACK && m.kind === "stored") {
        stored += m.mids.length;
        lastStored = now();
        for (const f of storedWaiters.splice(0)) f();
      }
    });
    const untilRecv = (n: number) =>
      new Promise<void>((r) => {
        if (received >= n) return r();
        onRecv.push((k) => k >= n && r());
      });

    // Sends msgs[from, to) keeping at most WINDOW unacked by "stored"; resolves when all arrived at B.
    let sent = 0;
    const burst = async (to: number) => {
      while (sent < to) {
        while (sent < to && sent - stored < WINDOW) a.c.send(FedOp.FED_DELIVER, msgs[sent++].bytes);
        if (sent < to) await new Promise<void>((r) => storedWaiters.push(r));
      }
      await untilRecv(to);
      while (stored < to) await new Promise<void>((r) => storedWaiters.push(r));
    };
    await burst(WARM);

    // Throughput (and durable ingest = time to the last "stored").
    const t0 = now();
    let recvDone = 0;
    untilRecv(WARM + N).then(() => recvDone = now());
    await burst(WARM + N);
    const thrSec = (recvDone - t0) / 1000;
    const ingestSec = (lastStored - t0) / 1000;
    const peak = N / thrSec;

    // Latency at half of peak.
    const sentAt = new Map<string, number>();
    const base = received;
    await paced(peak / 2, LAT_N, (i) => {
      const m = msgs[WARM + N + i];
      sentAt.set(m.mid, now());
      a.c.send(FedOp.FED_DELIVER, m.bytes);
    });
    await untilRecv(base + LAT_N);
    const lats = [...sentAt].map(([mid, s]) => recvAt.get(mid)! - s);

    // Idle connections: handshake + FED_HELLO, then sit.
    const pid = relay.pid;
    await sleep(300);
    const before = rssKiB(pid);
    const idle: Client[] = [];
    for (let i = 0; i < IDLE; i += 50) {
      const batch = await Promise.all(
        Array.from({ length: Math.min(50, IDLE - i) }, async () => {
          const id = identityFrom(be, be.x25519Generate().privateKey);
          const c = await Client.connect(addr, { backend: be, identity: id, tier: 5, minTier: 4 });
          c.send(
            FedOp.FED_HELLO,
            encodeFed({
              op: FedOp.FED_HELLO,
              role: "hub",
              keyId: id.keyId,
              families: [],
              version: 0,
            }),
          );
          return c;
        }),
      );
      idle.push(...batch);
    }
    await sleep(1000);
    const after = rssKiB(pid);
    for (const c of idle) c.close();
    a.c.close();
    b.c.close();
    return {
      thr: {
        name: "relay (2 hubs, sealed 1 KiB)",
        perSec: peak,
        p50: pct(lats, 50),
        p99: pct(lats, 99),
      },
      ingest: { name: "relay durable ingest (FED_ACK stored, fsync)", perSec: N / ingestSec },
      lat: { name: "relay", perSec: peak / 2, p50: pct(lats, 50), p99: pct(lats, 99) },
      memPerConn: ((after - before) * 1024) / IDLE,
      sealUs,
      openUs,
    };
  } finally {
    relay.kill("SIGKILL");
    await relay.status;
  }
}

// ---- nats ----------------------------------------------------------------

async function nats(dir: string): Promise<{ thr: Row; js: Row; memPerConn: number }> {
  const port = freePort();
  const srv = new Deno.Command("nats-server", {
    args: ["-a", "127.0.0.1", "-p", String(port), "-js", "-sd", `${dir}/js`],
    stdout: "null",
    stderr: "null",
  }).spawn();
  try {
    await waitPort(port);
    const server = `127.0.0.1:${port}`;
    const pub = await natsConnect({ servers: server });
    const sub = await natsConnect({ servers: server });
    const recvAt = new Float64Array(WARM + N + LAT_N);
    let received = 0;
    const waiters: ((n: number) => void)[] = [];
    const s = sub.subscribe("bench");
    (async () => {
      for await (const m of s) {
        const i = new DataView(m.data.buffer, m.data.byteOffset).getUint32(0);
        recvAt[i] = now();
        received++;
        for (const f of waiters) f(received);
      }
    })();
    await sub.flush();
    const untilRecv = (n: number) =>
      new Promise<void>((r) => (received >= n ? r() : waiters.push((k) => k >= n && r())));
    const payload = (i: number) => {
      const p = new Uint8Array(SIZE + 98); // same bytes on the wire as a sealed 1 KiB body: header + trailer
      new DataView(p.buffer).setUint32(0, i);
      return p;
    };
    const burst = async (from: number, to: number) => {
      for (let i = from; i < to; i++) {
        pub.publish("bench", payload(i));
        if (i % 1000 === 999) await pub.flush();
      }
      await pub.flush();
      await untilRecv(to);
    };
    await burst(0, WARM);
    const t0 = now();
    await burst(WARM, WARM + N);
    const peak = N / ((now() - t0) / 1000);
    const sentAt = new Float64Array(WARM + N + LAT_N);
    await paced(peak / 2, LAT_N, (k) => {
      const i = WARM + N + k;
      sentAt[i] = now();
      pub.publish("bench", payload(i));
    });
    await untilRecv(WARM + N + LAT_N);
    const lats = Array.from(
      { length: LAT_N },
      (_, k) => recvAt[WARM + N + k] - sentAt[WARM + N + k],
    );

    // JetStream acked publishes with the same window.
    const jsm = await pub.jetstreamManager();
    await jsm.streams.add({ name: "BENCH", subjects: ["js.>"], storage: StorageType.File });
    const js = pub.jetstream();
    const jsBurst = async (n: number) => {
      let inflight: Promise<unknown>[] = [];
      for (let i = 0; i < n; i++) {
        inflight.push(js.publish("js.bench", payload(i)));
        if (inflight.length >= WINDOW) {
          await Promise.all(inflight);
          inflight = [];
        }
      }
      await Promise.all(inflight);
    };
    await jsBurst(WARM);
    const jt0 = now();
    await jsBurst(N);
    const jsRate = N / ((now() - jt0) / 1000);

    // Idle connections.
    await sleep(300);
    const before = rssKiB(srv.pid);
    const idle: NatsConnection[] = [];
    for (let i = 0; i < IDLE; i += 50) {
      idle.push(
        ...await Promise.all(
          Array.from({ length: Math.min(50, IDLE - i) }, () => natsConnect({ servers: server })),
        ),
      );
    }
    await sleep(1000);
    const after = rssKiB(srv.pid);
    await Promise.all(idle.map((c) => c.close()));
    s.unsubscribe();
    await pub.close();
    await sub.close();
    return {
      thr: {
        name: "nats-server core pub/sub",
        perSec: peak,
        p50: pct(lats, 50),
        p99: pct(lats, 99),
      },
      js: { name: "nats JetStream acked publish (file)", perSec: jsRate },
      memPerConn: ((after - before) * 1024) / IDLE,
    };
  } finally {
    srv.kill("SIGKILL");
    await srv.status;
  }
}

// ---- socat floor -----------------------------------------------------------

async function socat(): Promise<Row> {
  const sinkPort = freePort();
  const fwdPort = freePort();
  const sink = Deno.listen({ hostname: "127.0.0.1", port: sinkPort });
  const FRAME = SIZE + 98;
  const recvAt = new Float64Array(N + LAT_N);
  let received = 0;
  const waiters: ((n: number) => void)[] = [];
  const sinkDone = (async () => {
    const conn = await sink.accept();
    let buf = new Uint8Array(0);
    for await (const chunk of conn.readable) {
      const b = new Uint8Array(buf.length + chunk.length);
      b.set(buf);
      b.set(chunk, buf.length);
      let o = 0;
      while (b.length - o >= FRAME) {
        const i = new DataView(b.buffer, o).getUint32(0);
        recvAt[i] = now();
        received++;
        o += FRAME;
      }
      buf = b.slice(o);
      for (const f of waiters) f(received);
    }
  })();
  const proc = new Deno.Command("socat", {
    args: [`TCP-LISTEN:${fwdPort},bind=127.0.0.1,reuseaddr`, `TCP:127.0.0.1:${sinkPort}`],
    stdout: "null",
    stderr: "null",
  }).spawn();
  try {
    await sleep(200);
    let conn: Deno.TcpConn | undefined;
    for (let i = 0; i < 100 && !conn; i++) {
      conn = await Deno.connect({ hostname: "127.0.0.1", port: fwdPort }).catch(
        async () => (await sleep(20), undefined),
      );
    }
    const w = conn!.writable.getWriter();
    const untilRecv = (n: number) =>
      new Promise<void>((r) => (received >= n ? r() : waiters.push((k) => k >= n && r())));
    const frame = (i: number) => {
      const p = new Uint8Array(FRAME);
      new DataView(p.buffer).setUint32(0, i);
      return p;
    };
    const t0 = now();
    for (let i = 0; i < N; i += 64) {
      const batch = new Uint8Array(FRAME * Math.min(64, N - i));
      for (let k = 0; k < batch.length / FRAME; k++) batch.set(frame(i + k), k * FRAME);
      await w.write(batch);
    }
    await untilRecv(N);
    const peak = N / ((now() - t0) / 1000);
    const sentAt = new Float64Array(N + LAT_N);
    const writes: Promise<void>[] = [];
    await paced(peak / 2, LAT_N, (k) => {
      sentAt[N + k] = now();
      writes.push(w.write(frame(N + k)));
    });
    await Promise.all(writes);
    await untilRecv(N + LAT_N);
    const lats = Array.from({ length: LAT_N }, (_, k) => recvAt[N + k] - sentAt[N + k]);
    await w.close().catch(() => {});
    return {
      name: "socat TCP forwarder (floor)",
      perSec: peak,
      p50: pct(lats, 50),
      p99: pct(lats, 99),
    };
  } finally {
    proc.kill("SIGKILL");
    await proc.status;
    sink.close();
    await sinkDone.catch(() => {});
  }
}

// ---- main --------------------------------------------------------------------

if (import.meta.main) {
  const dir = await Deno.makeTempDir({ prefix: "bench-relay-" });
  try {
    const started = now();
    const o = await ours(dir);
    const n = await nats(dir);
    const f = await socat();
    const fmt = (x: number | undefined, d = 0) => (x === undefined ? "-" : x.toFixed(d));
    console.log(
      `relay bench (${
        QUICK ? "quick" : "full"
      }): ${WARM} untimed warm-up msgs each, ${N} msgs throughput, ${LAT_N} paced at half of each one's own peak, ${IDLE} idle connections`,
    );
    console.log("| path | msgs/s | p50 ms (half load) | p99 ms (half load) |");
    console.log("| --- | ---: | ---: | ---: |");
    for (const r of [o.thr, n.thr, f, o.ingest, n.js]) {
      console.log(`| ${r.name} | ${fmt(r.perSec)} | ${fmt(r.p50, 3)} | ${fmt(r.p99, 3)} |`);
    }
    console.log(
      `| memory per idle connection: relay | ${fmt(o.memPerConn)} B | nats-server | ${
        fmt(n.memPerConn)
      } B |`,
    );
    console.log(
      `hub cost (not in the relay numbers): seal ${o.sealUs.toFixed(1)} us, open ${
        o.openUs.toFixed(1)
      } us per 1 KiB message`,
    );
    console.log(
      `note: nats-server ${"2.9"} JetStream syncs to disk every 2 min by default (no fsync per ack); the relay acks stored only after each group commit's WAL fdatasync and manifest mark`,
    );
    const line = (what: string, ratio: number, ok: boolean, cmp: string, detail: string) =>
      console.log(
        `target: ${what} ${cmp}: ${ratio.toFixed(2)}x ${ok ? "PASS" : "FAIL"} (${detail})`,
      );
    const thr = o.thr.perSec / n.thr.perSec;
    line(
      "throughput",
      thr,
      thr >= 1.0,
      ">= 1.0x nats-server",
      `${fmt(o.thr.perSec)} vs ${fmt(n.thr.perSec)} msgs/s`,
    );
    const p99 = o.lat.p99! / n.thr.p99!;
    line(
      "p99 at half load",
      p99,
      p99 <= 1.5,
      "<= 1.5x nats-server",
      `${fmt(o.lat.p99, 2)} vs ${fmt(n.thr.p99, 2)} ms; p50 ${fmt(o.lat.p50, 2)} vs ${
        fmt(n.thr.p50, 2)
      } ms`,
    );
    const ing = o.ingest.perSec / n.js.perSec;
    line(
      "durable ingest",
      ing,
      ing >= 1.0,
      ">= 1.0x JetStream acked publish",
      `${fmt(o.ingest.perSec)} vs ${fmt(n.js.perSec)} acked msgs/s`,
    );
    const mem = o.memPerConn / n.memPerConn;
    line(
      "memory per idle connection",
      mem,
      mem <= 1.0,
      "<= 1.0x nats-server",
      `${fmt(o.memPerConn)} vs ${fmt(n.memPerConn)} B`,
    );
    console.log(
      `floor: relay throughput is ${(o.thr.perSec / f.perSec).toFixed(2)}x socat; took ${
        ((now() - started) / 1000).toFixed(1)
      } s`,
    );
  } finally {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}
