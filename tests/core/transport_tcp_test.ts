/**
 * core/transport/tcp.ts over real loopback sockets: the read loop (a chain
 * of callbacks whose buffer starts at 2 KiB, grows on full reads up to
 * 256 KiB and drops to 128 B on a small read at a frame boundary) hands the
 * handler every message whole and in order, however the bytes are cut;
 * waits for a handler's promise before the next message; and closes with
 * the right reason on a bad length, a throwing handler and end of stream.
 */

import { deepStrictEqual, ok, strictEqual } from "node:assert/strict";
import { TcpConn } from "../../core/transport/tcp.ts";
import type { ConnHandler } from "../../core/transport/conn.ts";
import { encodeFrame } from "../../core/wire/frame.ts";

interface Harness {
  readonly server: TcpConn;
  readonly raw: Deno.TcpConn;
  readonly got: Uint8Array[];
  readonly closed: Promise<string>;
  readonly framing: string[];
  stop(): void;
}

/** A TcpConn on an accepted loopback socket, a raw client socket feeding it. */
async function harness(
  onMessage?: (m: Uint8Array, got: Uint8Array[]) => void | Promise<void>,
  maxMessage = 1_048_576,
): Promise<Harness> {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  const [accepted, raw] = await Promise.all([
    l.accept(),
    Deno.connect({ hostname: "127.0.0.1", port }),
  ]);
  l.close();
  const server = new TcpConn(accepted, { maxMessage, maxQueue: 8 * 1_048_576 });
  const got: Uint8Array[] = [];
  const framing: string[] = [];
  server.onFramingError = (d) => framing.push(d);
  let done!: (r: string) => void;
  const closed = new Promise<string>((r) => (done = r));
  const h: ConnHandler = {
    onMessage: (m) => {
      const copy = m.slice();
      return onMessage ? onMessage(copy, got) : void got.push(copy);
    },
    onClose: (r) => done(r),
  };
  server.start(h);
  return {
    server,
    raw,
    got,
    closed,
    framing,
    stop() {
      try {
        raw.close();
      } catch { /* closed */ }
      server.close();
    },
  };
}

async function writeAll(c: Deno.Conn, b: Uint8Array): Promise<void> {
  for (let o = 0; o < b.length;) o += await c.write(b.subarray(o));
}

/** Polls `cond` every 5 ms for at most `ms`. */
async function until(cond: () => boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error("condition not reached in time");
    await new Promise((r) => setTimeout(r, 5));
  }
}

function message(i: number, len: number): Uint8Array {
  const m = new Uint8Array(len);
  for (let k = 0; k < len; k++) m[k] = (i * 31 + k) & 0xff;
  return m;
}

Deno.test("tcp transport: messages of 1 B..300 KiB in one burst arrive whole and in order", async () => {
  const h = await harness();
  try {
    const sizes = [1, 5, 123, 124, 125, 511, 512, 513, 2047, 2048, 2049, 8000, 65_536, 300_000, 3];
    for (let i = 0; i < 400; i++) sizes.push(1 + ((i * 7919) % 3000));
    const msgs = sizes.map((n, i) => message(i, n));
    const all = new Uint8Array(msgs.reduce((n, m) => n + 4 + m.length, 0));
    let o = 0;
    for (const m of msgs) {
      all.set(encodeFrame(m), o);
      o += 4 + m.length;
    }
    await writeAll(h.raw, all);
    await until(() => h.got.length === msgs.length);
    for (let i = 0; i < msgs.length; i++) deepStrictEqual(h.got[i], msgs[i], `message ${i}`);
    strictEqual(h.server.isClosed, false);
  } finally {
    h.stop();
  }
});

Deno.test("tcp transport: a frame cut at every byte (idle-sized reads) still arrives whole", async () => {
  const h = await harness();
  try {
    const msgs = [message(1, 700), message(2, 3), message(3, 1500)];
    for (const m of msgs) {
      const f = encodeFrame(m);
      for (let k = 0; k < f.length; k += 97) {
        await writeAll(h.raw, f.subarray(k, k + 97));
        // let the read loop take each piece on its own (cut reads, not one coalesced read)
        if (k % 388 === 0) await new Promise((r) => setTimeout(r, 1));
      }
    }
    await until(() => h.got.length === msgs.length);
    for (let i = 0; i < msgs.length; i++) deepStrictEqual(h.got[i], msgs[i]);
  } finally {
    h.stop();
  }
});

Deno.test("tcp transport: the next message waits for the handler's promise", async () => {
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  let active = 0;
  let maxActive = 0;
  const h = await harness(async (m, got) => {
    active++;
    maxActive = Math.max(maxActive, active);
    got.push(m);
    if (m[0] === 0) await gate; // the first message holds the line
    active--;
  });
  try {
    const frames = [0, 1, 2, 3].map((i) => encodeFrame(new Uint8Array([i, 9, 9])));
    await writeAll(h.raw, new Uint8Array(frames.flatMap((f) => [...f])));
    await until(() => h.got.length === 1);
    // the bytes of 1..3 are read already; none is handed over while 0 is pending
    await new Promise((r) => setTimeout(r, 50));
    strictEqual(h.got.length, 1);
    release();
    await until(() => h.got.length === 4);
    deepStrictEqual(h.got.map((m) => m[0]), [0, 1, 2, 3]);
    strictEqual(maxActive, 1);
  } finally {
    h.stop();
  }
});

Deno.test("tcp transport: a length over the limit is a framing error and closes", async () => {
  const h = await harness(undefined, 1000);
  try {
    const ok1 = encodeFrame(message(1, 10));
    const big = new Uint8Array([0, 0, 0x10, 0]); // 4096 > 1000
    await writeAll(h.raw, new Uint8Array([...ok1, ...big]));
    const reason = await h.closed;
    strictEqual(reason, "frame-too-large");
    deepStrictEqual(h.framing, ["frame-too-large"]);
    strictEqual(h.got.length, 1, "the whole message before the bad length was delivered");
  } finally {
    h.stop();
  }
});

Deno.test("tcp transport: a throwing handler closes with read-error; end of stream closes with eof", async () => {
  const h = await harness(() => {
    throw new TypeError("boom");
  });
  try {
    await writeAll(h.raw, encodeFrame(message(1, 10)));
    strictEqual(await h.closed, "read-error: TypeError");
  } finally {
    h.stop();
  }
  const e = await harness();
  try {
    await writeAll(e.raw, encodeFrame(message(2, 10)));
    await until(() => e.got.length === 1);
    e.raw.close();
    strictEqual(await e.closed, "eof");
    ok(e.server.isClosed);
  } finally {
    e.stop();
  }
});
