/**
 * TCP transport: u32 length framing (profile §3) over `Deno.TcpConn`, with
 * a two-lane send queue (priority before data) and a bounded queue size.
 *
 * @module
 */

import { FrameReader } from "../wire/frame.ts";
import { isMyClerkError } from "../errors.ts";
import { type Conn, type ConnHandler, type ConnLimits, DEFAULT_CONN_LIMITS } from "./conn.ts";

/** First read buffer (handshake messages fit whole), and the first size a full idle read grows to. */
const READ_START = 2048;
/** Read buffer of an idle connection, bytes: a framed Tier 5 keepalive (100 B) fits. */
const READ_MIN = 128;
/** A read at a frame boundary of at most this many bytes drops the buffer to READ_MIN. */
const SHRINK_AT = 512;
/** Largest read buffer (a connection that keeps filling its buffer grows to it). */
const READ_MAX = 262_144;

/** A framed TCP connection. */
export class TcpConn implements Conn {
  readonly kind = "tcp" as const;
  readonly framed = true;
  readonly remote: string;
  readonly #c: Deno.Conn;
  readonly #limits: ConnLimits;
  readonly #prio: Uint8Array[] = [];
  readonly #data: Uint8Array[] = [];
  #queued = 0;
  #pumping = false;
  #closed = false;
  #handler?: ConnHandler;
  /** Called with a framing error before the connection closes (the node answers it). */
  onFramingError?: (detail: string) => void;

  /** Wraps an accepted or dialled connection. */
  constructor(c: Deno.Conn, limits: ConnLimits = DEFAULT_CONN_LIMITS) {
    this.#c = c;
    this.#limits = limits;
    const a = c.remoteAddr as Deno.NetAddr;
    this.remote = a.hostname.includes(":")
      ? `[${a.hostname}]:${a.port}`
      : `${a.hostname}:${a.port}`;
    try {
      (c as Deno.TcpConn).setNoDelay(true);
    } catch { /* not a TCP conn (tests may pass a Unix socket) */ }
  }

  /** Bytes waiting to be written. */
  get queuedBytes(): number {
    return this.#queued;
  }

  /** True once closed. */
  get isClosed(): boolean {
    return this.#closed;
  }

  /** See {@link Conn.write}. */
  write(wire: Uint8Array, priority = false): boolean {
    if (this.#closed) return false;
    if (this.#queued + wire.length > this.#limits.maxQueue && !priority) {
      this.close("send-queue-full");
      return false;
    }
    (priority ? this.#prio : this.#data).push(wire);
    this.#queued += wire.length;
    if (!this.#pumping) this.#pump();
    return true;
  }

  async #pump(): Promise<void> {
    this.#pumping = true;
    try {
      while (!this.#closed || this.#prio.length || this.#data.length) {
        let chunk = this.#prio.shift() ?? this.#data.shift();
        if (!chunk) break;
        // Coalesce small queued data writes into one syscall.
        if (chunk.length < 16384 && this.#prio.length === 0 && this.#data.length > 0) {
          let total = chunk.length;
          let n = 0;
          while (n < this.#data.length && total + this.#data[n].length <= 65536) {
            total += this.#data[n++].length;
          }
          if (n > 0) {
            const buf = new Uint8Array(total);
            buf.set(chunk, 0);
            let o = chunk.length;
            for (const part of this.#data.splice(0, n)) {
              buf.set(part, o);
              o += part.length;
            }
            chunk = buf;
          }
        }
        this.#queued -= chunk.length;
        let off = 0;
        while (off < chunk.length) off += await this.#c.write(chunk.subarray(off));
      }
    } catch {
      this.#finish("write-error");
    } finally {
      this.#pumping = false;
    }
  }

  /** See {@link Conn.start}. */
  start(handler: ConnHandler): void {
    this.#handler = handler;
    this.#reader = new FrameReader(this.#limits.maxMessage);
    this.#buf = new Uint8Array(READ_START);
    this.#read();
  }

  // The read loop is a chain of callbacks, not an `async` function: an idle
  // connection then holds one pending read and these two closures (made once
  // per connection) instead of a suspended generator with its register file
  // and promise reactions (~0.5 KB each, measured in a heap snapshot).
  #reader?: FrameReader;
  #buf: Uint8Array | null = null;

  #read(): void {
    if (this.#closed) return;
    this.#c.read(this.#buf!).then(this.#onRead, this.#onReadError);
  }

  readonly #onReadError = (e: unknown): void => {
    this.close(this.#closed ? "closed" : `read-error: ${(e as Error).name}`);
  };

  readonly #onRead = (n: number | null): void => {
    if (n === null) return this.close("eof");
    const buf = this.#buf;
    if (buf === null) return; // finished meanwhile
    let msgs: Uint8Array[];
    try {
      // FrameReader copies messages out, so the buffer is free again as soon as push() returns.
      msgs = this.#reader!.push(buf.subarray(0, n));
    } catch (e) {
      const reason = isMyClerkError(e) ? e.detail : "framing";
      this.onFramingError?.(reason);
      return this.close(reason);
    }
    this.#deliver(msgs, 0, n);
  };

  /** Hands `msgs[i..]` to the handler, waiting for each returned promise, then reads on. */
  #deliver(msgs: Uint8Array[], i: number, n: number): void {
    try {
      while (i < msgs.length) {
        const r = this.#handler!.onMessage(msgs[i++]);
        if (r) {
          r.then(() => {
            if (!this.#closed) this.#deliver(msgs, i, n);
          }, this.#onReadError);
          return;
        }
        if (this.#closed) return;
      }
    } catch (e) {
      return this.#onReadError(e);
    }
    if (this.#reader!.failed) {
      this.onFramingError?.("frame-too-large");
      return this.close("frame-too-large");
    }
    this.#resize(n);
    this.#read();
  }

  /**
   * The read buffer follows the traffic: a read that fills it makes it
   * larger (READ_START from the idle size, then 4x up to READ_MAX), so one
   * read (and the relay's group commit behind it) takes what piled up; a
   * small read at a frame boundary, which is what an idle connection sees
   * (keepalives, a hello), drops it to READ_MIN.
   */
  #resize(n: number): void {
    const len = this.#buf!.length;
    if (n === len) {
      if (len < READ_MAX) {
        this.#buf = new Uint8Array(Math.min(Math.max(len * 4, READ_START), READ_MAX));
      }
    } else if (n <= SHRINK_AT && len > READ_MIN && this.#reader!.pending === 0) {
      this.#buf = new Uint8Array(READ_MIN);
    }
  }

  /** See {@link Conn.close}. Flushes for at most one second. */
  close(reason = "closed"): void {
    if (this.#closed) return;
    this.#closed = true;
    const deadline = Date.now() + 1000;
    const wait = () => {
      if ((this.#pumping || this.#queued > 0) && Date.now() < deadline) {
        setTimeout(wait, 10);
      } else {
        this.#finish(reason);
      }
    };
    wait();
  }

  #finishedOnce = false;
  #finish(reason: string): void {
    this.#closed = true;
    if (this.#finishedOnce) return;
    this.#finishedOnce = true;
    try {
      this.#c.close();
    } catch { /* already closed */ }
    this.#prio.length = 0;
    this.#data.length = 0;
    this.#queued = 0;
    this.#buf = null;
    this.#handler?.onClose(reason);
  }
}

/**
 * Dials `host:port` and returns a framed connection.
 *
 * @example const c = await dialTcp("127.0.0.1", 5657);
 */
export async function dialTcp(
  hostname: string,
  port: number,
  limits?: ConnLimits,
): Promise<TcpConn> {
  const c = await Deno.connect({ hostname, port, transport: "tcp" });
  return new TcpConn(c, limits);
}
