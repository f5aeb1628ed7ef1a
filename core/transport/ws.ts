/**
 * WebSocket transport (profile §3): one binary WebSocket message per
 * MyClerk message, no length prefix. Text frames close with 1003, oversize
 * messages with 1009. Works for both sides: the server socket from
 * `Deno.upgradeWebSocket` and a client `WebSocket`.
 *
 * @module
 */

import { type Conn, type ConnHandler, type ConnLimits, DEFAULT_CONN_LIMITS } from "./conn.ts";

/** A WebSocket carrying MyClerk messages. */
export class WsConn implements Conn {
  readonly kind = "ws" as const;
  readonly framed = false;
  readonly remote: string;
  readonly #ws: WebSocket;
  readonly #limits: ConnLimits;
  #closed = false;
  #handler?: ConnHandler;
  #backlog: Uint8Array[] = [];
  #reading = Promise.resolve();

  /** Wraps an open (or opening) WebSocket. */
  constructor(ws: WebSocket, remote: string, limits: ConnLimits = DEFAULT_CONN_LIMITS) {
    this.#ws = ws;
    this.#limits = limits;
    this.remote = remote;
    ws.binaryType = "arraybuffer";
    ws.onmessage = (ev: MessageEvent) => this.#onMessage(ev);
    ws.onclose = (ev: CloseEvent) => this.#finish(`ws-close ${ev.code}`);
    ws.onerror = () => this.#finish("ws-error");
  }

  /** Bytes buffered by the WebSocket. */
  get queuedBytes(): number {
    return this.#ws.bufferedAmount;
  }

  /** True once closed. */
  get isClosed(): boolean {
    return this.#closed;
  }

  #onMessage(ev: MessageEvent): void {
    if (this.#closed) return;
    if (!(ev.data instanceof ArrayBuffer)) {
      this.close("text-frame", 1003);
      return;
    }
    if (ev.data.byteLength > this.#limits.maxMessage) {
      this.close("frame-too-large", 1009);
      return;
    }
    const m = new Uint8Array(ev.data);
    if (!this.#handler) {
      this.#backlog.push(m);
      return;
    }
    // Keep messages in order even when a handler is asynchronous.
    this.#reading = this.#reading.then(() => this.#closed ? undefined : this.#handler!.onMessage(m))
      .catch(
        () => this.close("handler-error"),
      );
  }

  /** See {@link Conn.write}. */
  write(wire: Uint8Array, priority = false): boolean {
    if (this.#closed || this.#ws.readyState !== WebSocket.OPEN) return false;
    if (!priority && this.#ws.bufferedAmount + wire.length > this.#limits.maxQueue) {
      this.close("send-queue-full", 1008);
      return false;
    }
    this.#ws.send(wire);
    return true;
  }

  /** See {@link Conn.start}. */
  start(handler: ConnHandler): void {
    this.#handler = handler;
    for (const m of this.#backlog.splice(0)) {
      this.#reading = this.#reading.then(() => handler.onMessage(m));
    }
  }

  /** See {@link Conn.close}. */
  close(reason = "closed", code = 1000): void {
    if (this.#closed) return;
    try {
      this.#ws.close(code, reason.slice(0, 100));
    } catch { /* already closing */ }
    this.#finish(reason);
  }

  #finish(reason: string): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#handler?.onClose(reason);
  }
}

/**
 * Dials a WebSocket URL (`ws://host:port/myclerk`) and waits until open.
 *
 * @example const c = await dialWs("ws://127.0.0.1:8080/myclerk");
 */
export function dialWs(url: string, limits?: ConnLimits, timeoutMs = 10_000): Promise<WsConn> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url);
    ws.binaryType = "arraybuffer";
    const t = setTimeout(() => {
      ws.close();
      reject(new Error(`websocket connect timeout: ${url}`));
    }, timeoutMs);
    ws.onopen = () => {
      clearTimeout(t);
      resolve(new WsConn(ws, new URL(url).host, limits));
    };
    ws.onerror = () => {
      clearTimeout(t);
      reject(new Error(`websocket connect failed: ${url}`));
    };
  });
}
