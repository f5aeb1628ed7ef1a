/**
 * The peers of `bench/relay.ts`, measured in the same run: nats-server
 * (Debian package, started here on a random port) with `npm:nats@2.29.3`
 * clients in this process for core pub/sub (1 -> 1 and 64 -> 64 on distinct
 * subjects) and JetStream acked publishes; raw NATS protocol clients for the
 * idle connections (CONNECT + PING/PONG, then nothing, as an idle nats.js
 * client looks to the server, without 10,000 client objects here); socat as
 * a plain TCP forwarder (the floor).
 *
 * nats client: `npm:nats@2.29.3`, pinned: the last nats.js v2 release, the
 * API every nats.js example uses (v3 split into @nats-io/* packages), and it
 * speaks to the Debian nats-server 2.9 including JetStream.
 *
 * @module
 */

import { connect as natsConnect, type NatsConnection, StorageType } from "npm:nats@2.29.3";
import {
  cpuMs,
  deadline,
  freePort,
  now,
  openInBatches,
  paced,
  roundLatency,
  sleep,
  waitPort,
} from "./_relay_sys.ts";

/** A running nats-server child. */
export interface NatsProc {
  readonly server: string;
  readonly port: number;
  /** Its WebSocket port, when started with a WebSocket listener. */
  readonly wsPort?: number;
  readonly pid: number;
  stop(): Promise<void>;
}

/**
 * Starts nats-server on a free loopback port (JetStream in `jsDir` when
 * given; a plain WebSocket listener too, its config written into
 * `wsConfigDir`, when that is given).
 */
export async function startNats(jsDir?: string, wsConfigDir?: string): Promise<NatsProc> {
  const port = freePort();
  const args = ["-a", "127.0.0.1", "-p", String(port)];
  if (jsDir) args.push("-js", "-sd", jsDir);
  // WebSocket clients (plain ws on loopback: nats-server refuses it without no_tls)
  const wsPort = wsConfigDir === undefined ? undefined : freePort();
  if (wsConfigDir !== undefined) {
    const conf = `${wsConfigDir}/nats-ws.conf`;
    await Deno.writeTextFile(
      conf,
      `websocket {\n  listen: "127.0.0.1:${wsPort}"\n  no_tls: true\n}\n`,
    );
    args.push("-c", conf);
  }
  const child = new Deno.Command("nats-server", {
    args,
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).spawn();
  const stop = async () => {
    try {
      child.kill("SIGKILL");
    } catch { /* exited */ }
    await child.status;
  };
  try {
    await waitPort(port, child);
  } catch (e) {
    await stop();
    throw e;
  }
  return { server: `127.0.0.1:${port}`, port, wsPort, pid: child.pid, stop };
}

/** Payload with the same bytes on the wire as a sealed 1 KiB body (header + trailer), index first. */
function payload(size: number, i: number): Uint8Array {
  const p = new Uint8Array(size + 98);
  new DataView(p.buffer).setUint32(0, i);
  return p;
}

/** Core pub/sub 1 -> 1 throughput and p99 at half of that peak. */
export interface NatsOneToOne {
  readonly perSec: number;
  /** Median over the paced rounds of each round's p50 and p99, ms. */
  readonly p50: number;
  readonly p99: number;
  /** Each paced round's p99, ms. */
  readonly p99Rounds: readonly number[];
  /**
   * CPU per message of the throughput phase, µs (all threads, /proc): the
   * nats-server process and this bench process (the nats.js clients).
   */
  readonly cpuUs?: { readonly server: number; readonly bench: number };
}

let runNo = 0;

/**
 * One publisher and one subscriber connection on a fresh subject: `warm`
 * untimed, `n` timed (flush every 1000), `latRounds` rounds of `latN` paced
 * at half that peak (latency: see `roundLatency`).
 */
export async function natsOneToOne(
  server: string,
  o: { warm: number; n: number; latN: number; latRounds?: number; size: number; phaseMs: number },
  serverPid?: number,
): Promise<NatsOneToOne> {
  const latRounds = o.latRounds ?? 1;
  const pub = await natsConnect({ servers: server });
  const sub = await natsConnect({ servers: server });
  try {
    const subject = `bench.${runNo++}`;
    const total = o.warm + o.n + latRounds * o.latN;
    const recvAt = new Float64Array(total);
    let received = 0;
    let waiters: { n: number; r: () => void }[] = [];
    const s = sub.subscribe(subject);
    (async () => {
      for await (const m of s) {
        const i = new DataView(m.data.buffer, m.data.byteOffset).getUint32(0);
        recvAt[i] = now();
        received++;
        if (waiters.length > 0) waiters = waiters.filter((w) => received < w.n || (w.r(), false));
      }
    })();
    await sub.flush();
    const until = (n: number) =>
      new Promise<void>((r) => (received >= n ? r() : waiters.push({ n, r })));
    const burst = async (from: number, to: number) => {
      for (let i = from; i < to; i++) {
        pub.publish(subject, payload(o.size, i));
        if (i % 1000 === 999) await pub.flush();
      }
      await pub.flush();
      await until(to);
    };
    await deadline(burst(0, o.warm), o.phaseMs, "nats 1 -> 1 warm-up");
    const s0 = serverPid === undefined ? undefined : cpuMs(serverPid), b0 = cpuMs(Deno.pid);
    const t0 = now();
    await deadline(burst(o.warm, o.warm + o.n), o.phaseMs, "nats 1 -> 1 throughput");
    const peak = o.n / ((now() - t0) / 1000);
    const s1 = serverPid === undefined ? undefined : cpuMs(serverPid), b1 = cpuMs(Deno.pid);
    const cpuUs = s0 === undefined || s1 === undefined || b0 === undefined || b1 === undefined
      ? undefined
      : { server: (s1 - s0) * 1000 / o.n, bench: (b1 - b0) * 1000 / o.n };
    const sentAt = new Float64Array(total);
    const rounds: number[][] = [];
    for (let r = 0; r < latRounds; r++) {
      const base = o.warm + o.n + r * o.latN;
      await paced(peak / 2, o.latN, (k) => {
        sentAt[base + k] = now();
        pub.publish(subject, payload(o.size, base + k));
      });
      await deadline(until(base + o.latN), o.phaseMs, "nats 1 -> 1 paced");
      rounds.push(Array.from({ length: o.latN }, (_, k) => recvAt[base + k] - sentAt[base + k]));
    }
    s.unsubscribe();
    return { perSec: peak, ...roundLatency(rounds), cpuUs };
  } finally {
    await pub.close();
    await sub.close();
  }
}

/**
 * `pairs` publisher connections each publishing to its own subject with its
 * own subscriber connection: `warm` each untimed, then `perPair` each (flush
 * every 1000 per publisher, as 1 -> 1); all messages over the time until the
 * last arrived.
 */
export async function natsFanout(
  server: string,
  o: { pairs: number; warm: number; perPair: number; size: number; phaseMs: number },
): Promise<number> {
  const conns: NatsConnection[] = [];
  try {
    const open = async () => {
      const c = await natsConnect({ servers: server });
      conns.push(c);
      return c;
    };
    const run = runNo++;
    const ends: { pub: NatsConnection; subject: string; received: number; lastAt: number }[] = [];
    let waiters: { k: number; n: number; r: () => void }[] = [];
    for (let k = 0; k < o.pairs; k++) {
      const pub = await open();
      const sub = await open();
      const subject = `fan.${run}.${k}`;
      const e = { pub, subject, received: 0, lastAt: 0 };
      ends.push(e);
      const s = sub.subscribe(subject);
      (async () => {
        for await (const _ of s) {
          e.lastAt = now();
          e.received++;
          if (waiters.length > 0) {
            waiters = waiters.filter((w) => w.k !== k || e.received < w.n || (w.r(), false));
          }
        }
      })();
      await sub.flush();
    }
    const until = (k: number, n: number) =>
      new Promise<void>((r) => (ends[k].received >= n ? r() : waiters.push({ k, n, r })));
    const all = (n: number) =>
      Promise.all(ends.map(async (e, k) => {
        const want = e.received + n;
        for (let i = 0; i < n; i++) {
          e.pub.publish(e.subject, payload(o.size, i));
          if (i % 1000 === 999) await e.pub.flush();
        }
        await e.pub.flush();
        await until(k, want);
      }));
    await deadline(all(o.warm), o.phaseMs, "nats fan-out warm-up");
    const t0 = now();
    await deadline(all(o.perPair), o.phaseMs, "nats fan-out");
    const last = Math.max(...ends.map((e) => e.lastAt));
    return (o.pairs * o.perPair) / ((last - t0) / 1000);
  } finally {
    await Promise.all(conns.map((c) => c.close().catch(() => {})));
  }
}

/** JetStream acked publishes to a file stream, at most `window` unacked. */
export async function natsJetStream(
  server: string,
  o: { warm: number; n: number; window: number; size: number; phaseMs: number },
): Promise<number> {
  const pub = await natsConnect({ servers: server });
  try {
    const jsm = await pub.jetstreamManager();
    await jsm.streams.add({ name: "BENCH", subjects: ["js.>"], storage: StorageType.File });
    const js = pub.jetstream();
    const burst = async (n: number) => {
      let inflight: Promise<unknown>[] = [];
      for (let i = 0; i < n; i++) {
        inflight.push(js.publish("js.bench", payload(o.size, i)));
        if (inflight.length >= o.window) {
          await Promise.all(inflight);
          inflight = [];
        }
      }
      await Promise.all(inflight);
    };
    await deadline(burst(o.warm), o.phaseMs, "JetStream warm-up");
    const t0 = now();
    await deadline(burst(o.n), o.phaseMs, "JetStream acked publish");
    return o.n / ((now() - t0) / 1000);
  } finally {
    await pub.close();
  }
}

const enc = new TextEncoder();
const dec = new TextDecoder();

/** One raw idle NATS client: reads INFO, sends CONNECT + PING, waits for PONG. */
async function natsIdleOne(port: number, timeoutMs: number): Promise<Deno.TcpConn> {
  const c = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    const buf = new Uint8Array(8192);
    let text = "";
    const readUntil = async (needle: string) => {
      const end = now() + timeoutMs;
      while (!text.includes(needle)) {
        if (now() > end || text.length > 64 * 1024) throw new Error(`nats idle: no ${needle}`);
        const n = await deadline(c.read(buf), timeoutMs, "nats idle read");
        if (n === null) throw new Error("nats idle: closed");
        text += dec.decode(buf.subarray(0, n));
      }
    };
    await readUntil("\r\n"); // INFO {...}
    await c.write(enc.encode(
      'CONNECT {"verbose":false,"pedantic":false,"lang":"deno","version":"bench","protocol":1,' +
        '"headers":true,"no_responders":true}\r\nPING\r\n',
    ));
    await readUntil("PONG\r\n");
    return c;
  } catch (e) {
    c.close();
    throw e;
  }
}

/** One idle NATS client over WebSocket: INFO, CONNECT, PING, PONG, as {@link natsIdleOne}. */
function natsIdleOneWs(port: number, timeoutMs: number): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}`);
    ws.binaryType = "arraybuffer";
    let text = "";
    let sent = false;
    const timer = setTimeout(() => {
      ws.close();
      reject(new Error("nats ws idle: no PONG"));
    }, timeoutMs);
    ws.onmessage = (e) => {
      text += typeof e.data === "string" ? e.data : dec.decode(new Uint8Array(e.data));
      if (!sent && text.includes("\r\n")) {
        sent = true;
        ws.send(enc.encode(
          'CONNECT {"verbose":false,"pedantic":false,"lang":"deno","version":"bench","protocol":1,' +
            '"headers":true,"no_responders":true}\r\nPING\r\n',
        ));
      }
      if (text.includes("PONG\r\n")) {
        clearTimeout(timer);
        ws.onmessage = null; // idle from here on
        resolve(ws);
      }
    };
    ws.onerror = () => {
      clearTimeout(timer);
      reject(new Error("nats ws idle: connection failed"));
    };
  });
}

/** Opens `n` idle NATS connections over WebSocket, `batch` at a time. */
export function idleNatsWsConns(
  port: number,
  n: number,
  batch: number,
  phaseMs: number,
): Promise<WebSocket[]> {
  return openInBatches("idle nats ws", n, batch, phaseMs, () => natsIdleOneWs(port, 10_000));
}

/** Opens `n` idle NATS connections, `batch` at a time. */
export function idleNatsConns(
  port: number,
  n: number,
  batch: number,
  phaseMs: number,
): Promise<Deno.TcpConn[]> {
  return openInBatches("idle nats", n, batch, phaseMs, () => natsIdleOne(port, 10_000));
}

/** socat as a plain TCP forwarder: throughput and p50/p99 at half its peak (the floor). */
export async function socatFloor(
  o: { n: number; latN: number; size: number; phaseMs: number },
): Promise<NatsOneToOne> {
  const sinkPort = freePort();
  const fwdPort = freePort();
  const sink = Deno.listen({ hostname: "127.0.0.1", port: sinkPort });
  const FRAME = o.size + 98;
  const recvAt = new Float64Array(o.n + o.latN);
  let received = 0;
  let waiters: { n: number; r: () => void }[] = [];
  let conn: Deno.TcpConn | undefined;
  const sinkDone = (async () => {
    const c = await sink.accept();
    let buf = new Uint8Array(0);
    for await (const chunk of c.readable) {
      const b = new Uint8Array(buf.length + chunk.length);
      b.set(buf);
      b.set(chunk, buf.length);
      let off = 0;
      while (b.length - off >= FRAME) {
        const i = new DataView(b.buffer, off).getUint32(0);
        recvAt[i] = now();
        received++;
        off += FRAME;
      }
      buf = b.slice(off);
      if (waiters.length > 0) waiters = waiters.filter((w) => received < w.n || (w.r(), false));
    }
  })();
  const proc = new Deno.Command("socat", {
    args: [`TCP-LISTEN:${fwdPort},bind=127.0.0.1,reuseaddr`, `TCP:127.0.0.1:${sinkPort}`],
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).spawn();
  try {
    for (let i = 0; i < 200 && !conn; i++) {
      conn = await Deno.connect({ hostname: "127.0.0.1", port: fwdPort }).catch(
        async () => (await sleep(20), undefined),
      );
    }
    if (!conn) throw new Error("socat never listened");
    const w = conn.writable.getWriter();
    const until = (n: number) =>
      new Promise<void>((r) => (received >= n ? r() : waiters.push({ n, r })));
    const frame = (i: number) => {
      const p = new Uint8Array(FRAME);
      new DataView(p.buffer).setUint32(0, i);
      return p;
    };
    const t0 = now();
    for (let i = 0; i < o.n; i += 64) {
      const batch = new Uint8Array(FRAME * Math.min(64, o.n - i));
      for (let k = 0; k < batch.length / FRAME; k++) batch.set(frame(i + k), k * FRAME);
      await w.write(batch);
    }
    await deadline(until(o.n), o.phaseMs, "socat throughput");
    const peak = o.n / ((now() - t0) / 1000);
    const sentAt = new Float64Array(o.n + o.latN);
    const writes: Promise<void>[] = [];
    await paced(peak / 2, o.latN, (k) => {
      sentAt[o.n + k] = now();
      writes.push(w.write(frame(o.n + k)));
    });
    await Promise.all(writes);
    await deadline(until(o.n + o.latN), o.phaseMs, "socat paced");
    const lats = Array.from({ length: o.latN }, (_, k) => recvAt[o.n + k] - sentAt[o.n + k]);
    await w.close().catch(() => {});
    return { perSec: peak, ...roundLatency([lats]) };
  } finally {
    try {
      proc.kill("SIGKILL");
    } catch { /* exited */ }
    await proc.status;
    try {
      conn?.close();
    } catch { /* closed with its writer */ }
    sink.close();
    await sinkDone.catch(() => {});
  }
}
