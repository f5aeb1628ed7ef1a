/**
 * CAN plugin (0x0650-0x0657, draft §6.3.6), in its own process with FFI to
 * libc only, through the SocketCAN binding (`@myclerk/hardware/can.ts`).
 * Payload tables: docs/PLUGINS.md, "CAN".
 *
 * An interface is held by the session that opened it (others get
 * SERVICE_UNAVAILABLE `device-busy`) unless every holder opened it with
 * `shared: true`. Received frames are pushed as CAN_FRAME_RECEIVE (0x0655)
 * events to the opening session, in batches, under a credit window: at
 * most `window` frames are pushed before the session acknowledges them
 * (0x0655 request `{ handle, ack }`); frames beyond that wait in a bounded
 * queue (`queue` frames) and the oldest are dropped and counted when it is
 * full. A session that ends releases its handles.
 *
 * @module
 */
import {
  asMap,
  bytesField,
  definePlugin,
  ErrorCode,
  fail,
  field,
  type PluginContext,
  type PluginDefinition,
} from "@myclerk/plugin-sdk";
import { Libc } from "@myclerk/hardware/libc.ts";
import { HoldTable } from "@myclerk/hardware/holds.ts";
import { Turns } from "./turn.ts";
import {
  CAN,
  type CanFilter,
  type CanFrame,
  CanNetlink,
  CanSocket,
  decodeFrame,
  encodeFrameInto,
  frameProblem,
} from "@myclerk/hardware/can.ts";

/** CAN opcodes. */
export const CanOp = {
  INTERFACE_LIST: 0x0650,
  INTERFACE_OPEN: 0x0651,
  INTERFACE_CLOSE: 0x0652,
  CONFIGURE: 0x0653,
  FRAME_SEND: 0x0654,
  FRAME_RECEIVE: 0x0655,
  FILTER_SET: 0x0656,
  ERROR_STATUS: 0x0657,
} as const;

/** Most frames in one pushed event or one pull answer. */
const BATCH = 256;
/** Most frames in one CAN_FRAME_SEND request. */
const MAX_SEND = 1024;

type Req = Readonly<Record<string, unknown>>;

/** Yields of the receive loops and of long sends (a timer turn costs 2-3 ms here). */
const turns = new Turns();

/** One open interface. */
class Channel {
  readonly queue: CanFrame[] = [];
  dropped = 0;
  received = 0;
  sent = 0;
  errorFrames = 0;
  credit: number;
  closed = false;
  private loop: Promise<void> | undefined;
  private wake: (() => void) | undefined;
  /** Pull-mode FRAME_RECEIVEs waiting for frames: woken by {@link Channel.drain}, not a timer loop. */
  private readonly queuedWaiters = new Set<() => void>();

  constructor(
    readonly sock: CanSocket,
    readonly session: number,
    readonly handle: () => number,
    readonly push: boolean,
    readonly raw: boolean,
    readonly window: number,
    readonly queueMax: number,
    private readonly emit: (payload: unknown) => void,
  ) {
    this.credit = window;
  }

  start(): void {
    this.loop = this.run();
  }

  /** Reads the socket into the bounded queue; pushes what the credit allows. */
  private async run(): Promise<void> {
    while (!this.closed) {
      let got = this.drain();
      if (got === 0) {
        // Waiting for credit: do not spin, but keep draining the socket into the queue.
        if (this.push && this.credit === 0 && this.queue.length > 0) {
          await Promise.race([
            new Promise<void>((r) => (this.wake = r)),
            this.sock.readable(50),
          ]);
        } else await this.sock.readable(100);
        if (this.closed) break;
        got = this.drain();
      }
      if (this.push) this.flush();
      // Let requests (acks, sends) run between bursts.
      if (got > 0) await turns.next();
    }
  }

  /** Moves waiting frames from the socket into the queue; returns how many were read. */
  drain(): number {
    let n = 0;
    for (let round = 0; round < 16; round++) {
      const fs = this.sock.receive(BATCH);
      n += fs.length;
      for (const f of fs) {
        if (f.err) this.errorFrames++;
        this.received++;
        if (this.queue.length >= this.queueMax) {
          this.queue.shift();
          this.dropped++;
        }
        this.queue.push(f);
      }
      if (fs.length < BATCH) break;
    }
    if (n > 0) { for (const w of this.queuedWaiters) w(); }
    return n;
  }

  /** Resolves when frames are queued, the channel closes, or `ms` pass (pull-mode receive). */
  async waitQueued(ms: number): Promise<void> {
    if (this.queue.length > 0 || this.closed || ms <= 0) return;
    let timer: ReturnType<typeof setTimeout> | undefined;
    let done!: () => void;
    const woken = new Promise<void>((r) => (done = r));
    this.queuedWaiters.add(done);
    try {
      await Promise.race([woken, new Promise<void>((r) => (timer = setTimeout(r, ms)))]);
    } finally {
      clearTimeout(timer);
      this.queuedWaiters.delete(done);
    }
  }

  /** Pushes queued frames while credit lasts. */
  flush(): void {
    while (this.credit > 0 && this.queue.length > 0 && !this.closed) {
      const n = Math.min(this.credit, BATCH, this.queue.length);
      const frames = this.queue.splice(0, n);
      this.credit -= n;
      this.emit(
        this.raw
          ? {
            handle: this.handle(),
            raw: packRaw(frames, this.sock.fdFrames),
            dropped: this.dropped,
          }
          : { handle: this.handle(), frames: frames.map(wireFrame), dropped: this.dropped },
      );
    }
  }

  /** The session acknowledged `n` pushed frames. */
  ack(n: number): void {
    this.credit = Math.min(this.window, this.credit + n);
    this.flush();
    this.wake?.();
  }

  async stop(): Promise<void> {
    this.closed = true;
    this.wake?.();
    for (const w of this.queuedWaiters) w();
    await this.loop;
    this.sock.close();
  }
}

let libc: Libc | undefined;
let netlink: CanNetlink | undefined;
let ctxRef: PluginContext | undefined;
const holds = new HoldTable<Channel>(64);

/** Moves waiting frames of every open handle into its queue and pushes what credit allows. */
function drainAll(): void {
  for (const h of holds.values()) {
    if (h.value.closed) continue;
    h.value.drain();
    if (h.value.push) h.value.flush();
  }
}

function lib(): Libc {
  if (libc === undefined) fail(ErrorCode.SERVICE_UNAVAILABLE, "libc-not-loaded");
  return libc;
}

function nl(): CanNetlink {
  if (netlink === undefined) fail(ErrorCode.SERVICE_UNAVAILABLE, "libc-not-loaded");
  return netlink;
}

function wireFrame(f: CanFrame): Record<string, unknown> {
  const out: Record<string, unknown> = { id: f.id, data: f.data };
  if (f.ext) out.ext = true;
  if (f.rtr) out.rtr = true;
  if (f.err) out.err = true;
  if (f.fd) out.fd = true;
  if (f.brs) out.brs = true;
  if (f.esi) out.esi = true;
  return out;
}

/**
 * Packs frames as kernel records, for `raw` handles: `can_frame` (16 bytes)
 * each, or `canfd_frame` (72 bytes) each on an FD handle, where a classic
 * frame has flags 0 and an FD frame flag 0x04 (CANFD_FDF). Pure.
 */
function packRaw(frames: readonly CanFrame[], fd: boolean): Uint8Array {
  const size = fd ? CAN.FD_MTU : CAN.MTU;
  const out = new Uint8Array(frames.length * size);
  frames.forEach((f, i) => {
    encodeFrameInto({ ...f, fd }, out, i * size);
    if (fd && f.fd) out[i * size + 5] |= 0x04;
    if (f.err) new DataView(out.buffer).setUint32(i * size, (f.id | CAN.ERR_FLAG) >>> 0, true);
  });
  return out;
}

/** Reads SEND's `raw` records (16 bytes, or 72 on an FD handle); each is checked like a map frame. */
function unpackRaw(b: Uint8Array, fd: boolean): CanFrame[] {
  const size = fd ? CAN.FD_MTU : CAN.MTU;
  if (b.length === 0 || b.length % size !== 0) {
    fail(ErrorCode.BAD_REQUEST, "field:raw", { recordSize: size });
  }
  if (b.length / size > MAX_SEND) fail(ErrorCode.TOO_LARGE, "frames", { max: MAX_SEND });
  const out: CanFrame[] = [];
  for (let o = 0; o < b.length; o += size) {
    const d = decodeFrame(b, size, o);
    // In a 72-byte record, CANFD_FDF (0x04) says FD; without it the record is a classic frame.
    const f: CanFrame = fd && (b[o + 5] & 0x04) === 0
      ? { ...d, fd: false, brs: false, esi: false }
      : d;
    const p = f.err ? "err" : frameProblem(f);
    if (p !== undefined) fail(ErrorCode.BAD_REQUEST, `frame:${p}`, { index: out.length });
    out.push(f);
  }
  return out;
}

function frameOf(x: unknown): CanFrame {
  const m = asMap(x);
  const f: CanFrame = {
    id: field(m, "id", "number"),
    ext: m.ext === true,
    rtr: m.rtr === true,
    err: false,
    fd: m.fd === true,
    brs: m.brs === true,
    esi: m.esi === true,
    data: m.data === undefined ? new Uint8Array(0) : bytesField(m, "data"),
  };
  const p = frameProblem(f);
  if (p !== undefined) fail(ErrorCode.BAD_REQUEST, `frame:${p}`);
  return f;
}

function filtersOf(x: unknown): CanFilter[] {
  if (!Array.isArray(x)) fail(ErrorCode.BAD_REQUEST, "field:filters");
  if (x.length > CAN.MAX_FILTERS) fail(ErrorCode.TOO_LARGE, "filters", { max: CAN.MAX_FILTERS });
  return x.map((e) => {
    const m = asMap(e);
    const ext = m.ext === true;
    let id = field(m, "id", "number") >>> 0;
    let mask = field(m, "mask", "number") >>> 0;
    // `ext` and `rtr` match the frame format too (CAN_EFF_FLAG / CAN_RTR_FLAG in id and mask).
    if (m.ext !== undefined) {
      mask |= CAN.EFF_FLAG;
      if (ext) id |= CAN.EFF_FLAG;
    }
    if (m.rtr !== undefined) {
      mask |= CAN.RTR_FLAG;
      if (m.rtr === true) id |= CAN.RTR_FLAG;
    }
    return { id: id >>> 0, mask: mask >>> 0, invert: m.invert === true };
  });
}

function num(m: Req, k: string, lo: number, hi: number): number {
  const v = field(m, k, "number");
  if (!Number.isInteger(v) || v < lo || v > hi) fail(ErrorCode.BAD_REQUEST, `field:${k}`);
  return v;
}

/** Socket-level options shared by OPEN and CONFIGURE. */
function applySocketOptions(sock: CanSocket, m: Req): void {
  if (m.fd !== undefined) sock.setFdFrames(m.fd === true);
  if (m.loopback !== undefined) sock.setLoopback(m.loopback === true);
  if (m.recvOwn !== undefined) sock.setRecvOwn(m.recvOwn === true);
  if (m.errorMask !== undefined) sock.setErrorMask(num(m, "errorMask", 0, CAN.ERR_MASK));
  if (m.filters !== undefined) sock.setFilters(filtersOf(m.filters));
}

function status(ch: Channel | undefined, name: string) {
  const l = nl().link(name);
  return {
    interface: l.name,
    kind: l.kind,
    // Only a real controller (kind "can") has a state and error counters; vcan has neither.
    controller: l.kind === "can",
    up: l.up,
    mtu: l.mtu,
    ...(l.state !== undefined ? { state: l.state } : {}),
    ...(l.berr !== undefined ? { txErrors: l.berr.tx, rxErrors: l.berr.rx } : {}),
    ...(l.bitrate !== undefined ? { bitrate: l.bitrate } : {}),
    ...(l.dataBitrate !== undefined ? { dataBitrate: l.dataBitrate } : {}),
    ...(l.ctrlmode !== undefined ? { ctrlmode: l.ctrlmode } : {}),
    ...(l.restartMs !== undefined ? { restartMs: l.restartMs } : {}),
    stats: l.stats,
    ...(ch !== undefined
      ? {
        handle: {
          received: ch.received,
          sent: ch.sent,
          dropped: ch.dropped,
          queued: ch.queue.length,
          errorFrames: ch.errorFrames,
          credit: ch.credit,
        },
      }
      : {}),
  };
}

/** The CAN plugin: its handlers and the libc it opens at `init`. */
export default definePlugin({
  events: [CanOp.FRAME_RECEIVE],
  init(ctx) {
    ctxRef = ctx;
    const path = ctx.grant.ffi.libc;
    if (path === undefined) fail(ErrorCode.SERVICE_UNAVAILABLE, "ffi-libc-not-granted");
    libc = new Libc(path);
    netlink = new CanNetlink(libc);
  },
  async close() {
    await Promise.all(holds.takeAll().map((h) => h.value.stop()));
    turns.close();
    libc?.unload();
    libc = undefined;
  },
  async sessionClosed(sessionId) {
    await Promise.all(holds.takeSession(sessionId).map((h) => h.value.stop()));
  },
  handlers: {
    [CanOp.INTERFACE_LIST]: (_p, ctx) => ({
      interfaces: nl().list().map((l) => {
        const holders = holds.holders(l.name);
        return {
          name: l.name,
          index: l.index,
          kind: l.kind,
          up: l.up,
          fd: l.mtu === CAN.FD_MTU,
          ...(l.bitrate !== undefined ? { bitrate: l.bitrate } : {}),
          ...(l.state !== undefined ? { state: l.state } : {}),
          held: holders.length > 0,
          heldByYou: holders.includes(ctx.peer.sessionId),
        };
      }),
    }),
    [CanOp.INTERFACE_OPEN]: (payload, ctx) => {
      const m = asMap(payload);
      const name = field(m, "interface", "string");
      if (!/^[A-Za-z0-9_.-]{1,15}$/.test(name)) fail(ErrorCode.BAD_REQUEST, "field:interface");
      const l = nl().list().find((x) => x.name === name);
      if (l === undefined) fail(ErrorCode.NOT_FOUND, "no-such-interface", { interface: name });
      const shared = m.shared === true;
      const session = ctx.peer.sessionId;
      holds.check(session, name, shared);
      const push = m.push !== false;
      const raw = m.raw === true;
      const window = m.window === undefined ? 1024 : num(m, "window", 1, 65536);
      const queueMax = m.queue === undefined ? 4096 : num(m, "queue", 1, 65536);
      const sock = new CanSocket(lib(), name);
      try {
        applySocketOptions(sock, m);
      } catch (e) {
        sock.close();
        throw e;
      }
      let handle = 0;
      const ch = new Channel(
        sock,
        session,
        () => handle,
        push,
        raw,
        window,
        queueMax,
        (p) => ctxRef?.emit(CanOp.FRAME_RECEIVE, p, session),
      );
      handle = holds.add(session, name, shared, ch).handle;
      ch.start();
      return { handle, fd: sock.fdFrames, push, raw, window, queue: queueMax };
    },
    [CanOp.INTERFACE_CLOSE]: async (payload, ctx) => {
      const h = holds.take(ctx.peer.sessionId, asMap(payload).handle);
      await h.value.stop();
      const c = h.value;
      return { received: c.received, sent: c.sent, dropped: c.dropped };
    },
    [CanOp.CONFIGURE]: (payload, ctx) => {
      const m = asMap(payload);
      const h = holds.get(ctx.peer.sessionId, m.handle);
      applySocketOptions(h.value.sock, m);
      if (m.bitrate !== undefined) {
        // The link is shared by every socket on it: changing it needs the interface unshared.
        if (holds.holders(h.key).some((s) => s !== ctx.peer.sessionId)) {
          fail(ErrorCode.SERVICE_UNAVAILABLE, "device-busy", { device: h.key });
        }
        const ctrl = m.ctrlmode === undefined ? undefined : asMap(m.ctrlmode);
        nl().setBitrate(h.key, {
          bitrate: num(m, "bitrate", 1, 8_000_000),
          ...(m.samplePoint !== undefined ? { samplePoint: num(m, "samplePoint", 1, 999) } : {}),
          ...(m.dataBitrate !== undefined
            ? { dataBitrate: num(m, "dataBitrate", 1, 16_000_000) }
            : {}),
          ...(ctrl !== undefined
            ? {
              ctrlmode: Object.fromEntries(
                Object.entries(ctrl).map(([k, v]) => [k, v === true]),
              ),
            }
            : {}),
          ...(m.restartMs !== undefined ? { restartMs: num(m, "restartMs", 0, 60_000) } : {}),
        });
      } else if (m.dataBitrate !== undefined || m.ctrlmode !== undefined) {
        fail(ErrorCode.BAD_REQUEST, "field:bitrate", { why: "give bitrate with them" });
      }
      return { fd: h.value.sock.fdFrames, status: status(h.value, h.key) };
    },
    [CanOp.FRAME_SEND]: async (payload, ctx) => {
      const m = asMap(payload);
      const ch = holds.get(ctx.peer.sessionId, m.handle).value;
      const frames = m.raw !== undefined
        ? unpackRaw(bytesField(m, "raw"), ch.sock.fdFrames)
        : (() => {
          const list = m.frames !== undefined ? m.frames : [m.frame];
          if (!Array.isArray(list) || list.length < 1) fail(ErrorCode.BAD_REQUEST, "field:frames");
          if (list.length > MAX_SEND) fail(ErrorCode.TOO_LARGE, "frames", { max: MAX_SEND });
          return list.map(frameOf);
        })();
      let sent = 0;
      // A full interface queue (ENOBUFS) is waited out a bounded number of times.
      for (let waits = 0; sent < frames.length && waits < 100 && !ch.closed;) {
        if (ch.sock.send(frames[sent])) {
          sent++;
          ch.sent++;
          // A long batch must neither let this process's own receiving sockets overflow in
          // the kernel (their loops share this thread) nor starve the heartbeat: every 64
          // frames, drain them and yield to the event loop.
          if ((sent & 63) === 0) {
            drainAll();
            await turns.next();
          }
        } else {
          waits++;
          await new Promise((r) => setTimeout(r, 1));
        }
      }
      return { sent };
    },
    [CanOp.FRAME_RECEIVE]: async (payload, ctx) => {
      const m = asMap(payload);
      const ch = holds.get(ctx.peer.sessionId, m.handle).value;
      if (ch.push) {
        if (m.ack !== undefined) ch.ack(num(m, "ack", 0, 1 << 30));
        return { queued: ch.queue.length, dropped: ch.dropped, credit: ch.credit };
      }
      const max = m.max === undefined ? BATCH : num(m, "max", 1, BATCH);
      const timeoutMs = m.timeoutMs === undefined ? 0 : num(m, "timeoutMs", 0, 5000);
      // The channel's receive loop wakes this wait when it queues frames (no 2 ms poll).
      const end = performance.now() + timeoutMs;
      for (let left = timeoutMs; ch.queue.length === 0 && left > 0 && !ch.closed;) {
        await ch.waitQueued(left);
        left = end - performance.now();
      }
      const frames = ch.queue.splice(0, max);
      return { frames: frames.map(wireFrame), dropped: ch.dropped };
    },
    [CanOp.FILTER_SET]: (payload, ctx) => {
      const m = asMap(payload);
      const ch = holds.get(ctx.peer.sessionId, m.handle).value;
      const fs = filtersOf(m.filters);
      ch.sock.setFilters(fs);
      if (m.errorMask !== undefined) ch.sock.setErrorMask(num(m, "errorMask", 0, CAN.ERR_MASK));
      return { filters: fs.length };
    },
    [CanOp.ERROR_STATUS]: (payload, ctx) => {
      const m = asMap(payload);
      if (m.handle !== undefined) {
        const h = holds.get(ctx.peer.sessionId, m.handle);
        return status(h.value, h.key);
      }
      const name = field(m, "interface", "string");
      return status(undefined, name);
    },
  },
}) as PluginDefinition;
