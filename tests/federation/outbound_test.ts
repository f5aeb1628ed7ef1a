/**
 * federation/outbound.ts over real sockets: a real node listens on loopback
 * (core/node/node.ts, with a raw route in the federation range standing in
 * for the relay's), and `dialLoop` dials it. Covers backoff on refused
 * dials, reconnect after the server restarts (waiting the FED_RESTART
 * `after`), the priority lane on a dialed link, drop counting and the
 * minimum-tier check.
 */
import { assert, assertEquals } from "./_assert.ts";
import { Node } from "../../core/node/node.ts";
import type { NodeConnection } from "../../core/node/connection.ts";
import type { RawConnection } from "../../core/node/dispatch.ts";
import { validateConfig } from "../../core/node/config.ts";
import { createLogger } from "../../core/node/log.ts";
import { CORE, Metrics } from "../../core/node/metrics.ts";
import { backend as pickBackend } from "../../core/crypto/mod.ts";
import { identityFrom } from "../../core/session/handshake.ts";
import { dialLoop, type DialLoopOptions, type OutboundLink } from "../../federation/outbound.ts";
import { encodeFed, FedOp } from "../../federation/messages.ts";

const be = pickBackend();
const ECHO = 0x03f0; // server answers with ECHO_REPLY, same bytes
const ECHO_REPLY = 0x03f1;
const DATA = 0x03f2; // server records arrival only
const MARK = 0x03f3;

/** A node on loopback whose route in 0x03f0-0x03ff records and echoes. */
async function server(port = 0) {
  const dir = await Deno.makeTempDir({ prefix: "myclerk-outbound-" });
  const arrivals: number[] = [];
  const conns: RawConnection[] = [];
  const node = await Node.start(
    validateConfig({ data: dir, listen: { tcp: `127.0.0.1:${port}`, http: "127.0.0.1:0" } }),
    { log: createLogger({ sink: () => {} }) },
  );
  node.addRoute({
    name: "outbound-test",
    first: 0x03f0,
    last: 0x03ff,
    raw: (c, op, bytes) => {
      if (!conns.includes(c)) conns.push(c);
      arrivals.push(op);
      if (op === ECHO) c.send(ECHO_REPLY, bytes);
    },
  });
  return {
    node,
    port: node.addresses.tcp.port,
    arrivals,
    conns,
    stop: async () => {
      await node.close();
      await Deno.remove(dir, { recursive: true });
    },
  };
}

async function until(what: string, f: () => boolean, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!f()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

interface Harness {
  readonly links: OutboundLink[];
  readonly got: { link: OutboundLink; op: number; bytes: Uint8Array }[];
  readonly downs: { at: number; reason: string }[];
  readonly logs: Record<string, unknown>[];
  readonly metrics: Metrics;
  readonly loop: ReturnType<typeof dialLoop>;
}

function dial(port: number, extra: Partial<DialLoopOptions> = {}): Harness {
  const links: OutboundLink[] = [];
  const got: Harness["got"] = [];
  const downs: Harness["downs"] = [];
  const logs: Record<string, unknown>[] = [];
  const metrics = new Metrics();
  metrics.register(CORE);
  const loop = dialLoop({
    kind: "peer",
    targets: [{ addr: `127.0.0.1:${port}` }],
    backend: be,
    identity: identityFrom(be, be.x25519Generate().privateKey),
    backoff: { baseMs: 40, capMs: 2000 },
    maxMessage: 1 << 20,
    log: createLogger({ format: "json", sink: (l) => logs.push(JSON.parse(l)) }),
    metrics,
    onLink: (link) => {
      links.push(link);
      link.onMessage((op, bytes) => got.push({ link, op, bytes }));
      link.markUp();
    },
    onDown: (_l, reason) => {
      downs.push({ at: Date.now(), reason });
    },
    ...extra,
  });
  return { links, got, downs, logs, metrics, loop };
}

async function echo(h: Harness, link: OutboundLink, tag: number): Promise<void> {
  const bytes = new Uint8Array([0x81, 0xa1, 0x74, tag]); // {"t": tag}
  const before = h.got.length;
  assert(link.send(ECHO, bytes), "send on a live link");
  await until(
    `echo ${tag}`,
    () => h.got.slice(before).some((g) => g.op === ECHO_REPLY && g.bytes[3] === tag),
  );
}

Deno.test("outbound: refused dials back off (logged once per doubling, growing delay)", async () => {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close(); // nothing listens here now: every dial is refused
  const h = dial(port);
  try {
    await until("four refused dials", () => h.loop.failures >= 4);
    const lines = h.logs.filter((j) => j.msg === "peer dial failed");
    assertEquals(lines.map((j) => j.failures), [1, 2, 4]);
    const delays = lines.map((j) => Number(j.retryInMs));
    // Jitter keeps each delay in [ceil/2, ceil] with ceil = 40, 80, 320 ms: the ranges do not overlap.
    assert(delays[0] >= 20 && delays[0] <= 40, `first delay ${delays[0]}`);
    assert(delays[2] >= 160 && delays[2] <= 320, `fourth delay ${delays[2]}`);
    assert(String(lines[0].error).includes(`127.0.0.1:${port}`), String(lines[0].error));
    assertEquals(h.links.length, 0);
  } finally {
    h.loop.stop();
    await h.loop.done;
  }
});

Deno.test("outbound: reconnects after the server restarts, waiting its FED_RESTART after", async () => {
  let s = await server();
  const port = s.port;
  const h = dial(port);
  try {
    await until("first session", () => h.links.length === 1);
    await echo(h, h.links[0], 1);
    await until("server sees the session", () => s.conns.length === 1);
    // The server announces a restart in 400 ms (priority lane), then goes away.
    s.conns[0].send(FedOp.FED_RESTART, encodeFed({ op: FedOp.FED_RESTART, after: 400 }), true);
    await until("FED_RESTART handed on", () => h.got.some((g) => g.op === FedOp.FED_RESTART));
    assertEquals(h.links[0].restartAfterMs, 400);
    await s.stop();
    await until("session down", () => h.downs.length === 1);
    s = await server(port);
    await until("second session", () => h.links.length === 2);
    const waited = Date.now() - h.downs[0].at;
    assert(waited >= 400, `redialed after ${waited} ms, before the announced 400`);
    await echo(h, h.links[1], 2);
    assert(h.links[0].closed, "the old link is closed");
  } finally {
    h.loop.stop();
    await h.loop.done;
    await s.stop();
  }
});

Deno.test("outbound: dials ws:// as well (the node's HTTP port, /myclerk)", async () => {
  const s = await server();
  const h = dial(0, {
    targets: [{
      addr: `ws://127.0.0.1:${s.node.addresses.http.port}`,
      keyId: s.node.identity.keyId,
    }],
  });
  try {
    await until("session", () => h.links.length === 1);
    assertEquals(h.links[0].client.conn.kind, "ws");
    assertEquals(h.links[0].keyId, s.node.identity.keyId);
    await echo(h, h.links[0], 7);
    // The priority lane exists on WebSocket links too.
    assert(h.links[0].send(MARK, new Uint8Array([0x80]), true));
    await until("MARK", () => s.arrivals.includes(MARK));
  } finally {
    h.loop.stop();
    await h.loop.done;
    await s.stop();
  }
});

Deno.test("outbound: targets are tried in turn; stop ends a backoff wait at once", async () => {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const dead = (l.addr as Deno.NetAddr).port;
  l.close();
  const s = await server();
  const h = dial(0, {
    targets: [{ addr: `127.0.0.1:${dead}` }, { addr: `127.0.0.1:${s.port}` }],
    backoff: { baseMs: 20, capMs: 20 },
  });
  try {
    await until("session on the second target", () => h.links.length === 1);
    assertEquals(h.links[0].remote, `127.0.0.1:${s.port}`);
    assert(h.logs.some((j) => j.msg === "peer dial failed" && j.peer === `127.0.0.1:${dead}`));
  } finally {
    h.loop.stop();
    await h.loop.done;
    await s.stop();
  }
  // Waiting 60 s between dials: stop() does not wait for it.
  const slow = dial(dead, { backoff: { baseMs: 60_000, capMs: 60_000 } });
  await until("first refused dial", () => slow.loop.failures === 1);
  const t0 = Date.now();
  slow.loop.stop();
  await slow.loop.done;
  assert(Date.now() - t0 < 5000, `stop took ${Date.now() - t0} ms`);
});

Deno.test("outbound: a priority send overtakes data queued on a dialed link", async () => {
  const s = await server();
  const h = dial(s.port);
  try {
    await until("session", () => h.links.length === 1);
    const link = h.links[0];
    await echo(h, link, 1);
    const data = new Uint8Array(32 * 1024 + 3);
    data.set([0xc6, 0, 0, 0x80, 0]); // bin32 of 32768 bytes (valid MessagePack)
    for (const prio of [false, true]) {
      s.arrivals.length = 0;
      // All in one turn: the frames wait in the transport's queue behind the first.
      for (let i = 0; i < 200; i++) link.send(DATA, data);
      link.send(MARK, new Uint8Array([0x80]), prio);
      await until("all 201 frames", () => s.arrivals.length === 201);
      const at = s.arrivals.indexOf(MARK);
      if (prio) assert(at < 50, `priority frame arrived at position ${at} of 201`);
      else assertEquals(at, 200, "without priority the frame comes after the data");
    }
  } finally {
    h.loop.stop();
    await h.loop.done;
    await s.stop();
  }
});

Deno.test("outbound: a replayed frame on a dialed link is dropped and counted", async () => {
  const s = await server();
  const h = dial(s.port);
  try {
    await until("session", () => h.links.length === 1);
    const link = h.links[0];
    await echo(h, link, 1);
    const nc = s.conns[0] as NodeConnection;
    const wire = nc.session!.seal(ECHO_REPLY, new Uint8Array([0x81, 0xa1, 0x74, 9]));
    nc.conn.write(wire);
    nc.conn.write(wire); // the same sequence again: a replay
    await echo(h, link, 2); // in order behind both copies
    assertEquals(h.got.filter((g) => g.op === ECHO_REPLY && g.bytes[3] === 9).length, 1);
    assertEquals(link.dropped, 1);
    assertEquals(h.metrics.get(CORE.drops, { reason: "replay" }), 1);
  } finally {
    h.loop.stop();
    await h.loop.done;
    await s.stop();
  }
});

Deno.test("outbound: a message below its minimum tier is answered FORBIDDEN and not handed on", async () => {
  const s = await server();
  // The route raises ECHO_REPLY above what any session has (tier 5).
  const h = dial(s.port, { minTier: (op) => (op === ECHO_REPLY ? 6 : undefined) });
  try {
    await until("session", () => h.links.length === 1);
    const link = h.links[0];
    link.send(ECHO, new Uint8Array([0x81, 0xa1, 0x74, 1]));
    await until("ERROR sent", () => h.metrics.get(CORE.errorsSent, { code: "FORBIDDEN" }) === 1);
    assertEquals(h.got.filter((g) => g.op === ECHO_REPLY).length, 0);
    // The rest of the range still passes: DATA is not raised.
    s.conns[0].send(DATA, new Uint8Array([0x80]));
    await until("DATA handed on", () => h.got.some((g) => g.op === DATA));
    assertEquals(h.got.filter((g) => g.op === ECHO_REPLY).length, 0);
  } finally {
    h.loop.stop();
    await h.loop.done;
    await s.stop();
  }
});
