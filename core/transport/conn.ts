/**
 * The transport interface (in the manner of nats.js): every runtime- or
 * socket-specific piece sits behind {@link Conn}, so sessions, the node and
 * the relay see whole MyClerk messages only.
 *
 * @module
 */

import { encodeFrame } from "../wire/frame.ts";

/** Receives what a connection reads. */
export interface ConnHandler {
  /**
   * One whole message (frame length removed), handed over: the transport
   * keeps no reference to it, so the handler may reuse its bytes (sessions
   * open payloads in place: `SessionOptions.inPlace`). Returning a promise delays
   * the next read until it settles: that is how rate limits push back on
   * the sender (TCP backpressure) instead of dropping.
   */
  onMessage(message: Uint8Array): void | Promise<void>;
  /** The connection is gone; `reason` says why (for logs). */
  onClose(reason: string): void;
}

/** One transport connection carrying MyClerk messages. */
export interface Conn {
  /** `tcp` or `ws`. */
  readonly kind: "tcp" | "ws";
  /** Peer address for logs. */
  readonly remote: string;
  /** True when wire bytes carry the u32 length prefix (TCP). */
  readonly framed: boolean;
  /** Bytes queued and not yet handed to the kernel. */
  readonly queuedBytes: number;
  /** True once closed. */
  readonly isClosed: boolean;
  /**
   * Queues wire bytes (already framed when {@link framed}). `priority`
   * bytes (keepalives, errors) go before queued data. Returns false when the
   * queue limit was exceeded: the connection is then closed (slow consumer).
   */
  write(wire: Uint8Array, priority?: boolean): boolean;
  /** Starts reading; call once. */
  start(handler: ConnHandler): void;
  /** Closes the connection after flushing what is queued (bounded by 1 s). */
  close(reason?: string): void;
}

/** Sends one unframed message on any connection (frames it for TCP). */
export function sendMessage(conn: Conn, message: Uint8Array, priority = false): boolean {
  return conn.write(conn.framed ? encodeFrame(message) : message, priority);
}

/** Connection limits shared by the transports (profile §3 defaults). */
export interface ConnLimits {
  /** Largest accepted message (default 1 MiB). */
  readonly maxMessage: number;
  /** Largest send queue in bytes before the peer is treated as stalled (default 8 MiB). */
  readonly maxQueue: number;
}

/** Profile defaults for {@link ConnLimits}. */
export const DEFAULT_CONN_LIMITS: ConnLimits = { maxMessage: 1_048_576, maxQueue: 8 * 1_048_576 };
