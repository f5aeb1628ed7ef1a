/**
 * One federation session as the relay layer sees it, whichever side dialed:
 * an inbound node connection (a hub, or a peer relay that dialed us) or an
 * outbound client session (we dialed a peer relay). Also the small helpers
 * every federation endpoint uses to send typed messages.
 *
 * @module
 */

import type { RawConnection } from "../core/node/dispatch.ts";
import type { Client } from "../core/node/client.ts";
import type { MyClerkError } from "../core/errors.ts";
import { encodeFedError, ERROR_OP } from "./directory.ts";
import {
  encodeDeliverTransient,
  encodeFed,
  FED_VERSION,
  type FedDeliver,
  type FedHello,
  type FedMessage,
  FedOp,
} from "./messages.ts";
import type { FamilyId } from "./family.ts";

/** A federation session. */
export interface Link {
  /** `in`: the peer dialed us; `out`: we dialed it. */
  readonly direction: "in" | "out";
  /** The peer's static key id (from the handshake). */
  readonly keyId: number;
  /** The peer's static public key (from the handshake). */
  readonly peerStatic: Uint8Array | undefined;
  /** The session transcript hash (admission proofs are bound to it). */
  readonly transcriptHash: Uint8Array | undefined;
  /** Peer address, for logs. */
  readonly remote: string;
  /** Bytes waiting in the send queue (flow control). */
  readonly queuedBytes: number;
  /**
   * Sends raw payload bytes; false when the session is gone. `payload` is
   * read only during the call (it is sealed before `send` returns), so a
   * caller may reuse its buffer afterwards ({@link sendDeliver}).
   */
  send(opcode: number, payload: Uint8Array, priority?: boolean): boolean;
  /** Closes the session. */
  close(reason: string): void;
}

/** Wraps an inbound node connection. */
export function inboundLink(c: RawConnection): Link {
  return {
    direction: "in",
    get keyId() {
      return c.peer.keyId;
    },
    get peerStatic() {
      return c.peerStatic;
    },
    get transcriptHash() {
      return c.transcriptHash;
    },
    get remote() {
      return c.peer.remote;
    },
    get queuedBytes() {
      return c.queuedBytes;
    },
    send: (op, p, prio) => c.send(op, p, prio),
    close: (r) => c.close(r),
  };
}

/**
 * The one FED_HELLO builder (hub and relay, either direction): `families`
 * are those homed at a relay, or the one a hub serves.
 */
export function fedHello(
  role: "relay" | "hub",
  keyId: number,
  families: readonly FamilyId[],
  maxMessage: number,
): FedHello {
  return { op: FedOp.FED_HELLO, role, keyId, families, version: FED_VERSION, maxMessage };
}

/** Wraps an outbound client session (prefer federation/outbound.ts `OutboundLink`). */
export function outboundLink(c: Client, remote: string): Link {
  const st = c.session.state;
  return {
    direction: "out",
    keyId: st.peerKeyId,
    peerStatic: st.peerStatic,
    transcriptHash: st.transcriptHash,
    remote,
    get queuedBytes() {
      return c.conn.queuedBytes;
    },
    send: (op, p, prio) => {
      if (c.closed) return false;
      try {
        c.send(op, p, prio);
        return !c.closed;
      } catch {
        return false;
      }
    },
    close: () => c.close(),
  };
}

/**
 * Sends a typed federation message. `check = false` skips the encoder's
 * decode-back validation: only for messages built from fields already
 * validated on arrival (the relay's FED_DELIVER pushes and "stored" acks).
 */
export function sendFed(link: Link, msg: FedMessage, priority = false, check = true): boolean {
  return link.send(msg.op, encodeFed(msg, check), priority);
}

/**
 * Sends a FED_DELIVER built from fields validated on arrival (no decode-back
 * check), encoded into a buffer reused by every call ({@link Link.send}
 * reads it only during the call): the relay's push and handoff path.
 */
export function sendDeliver(link: Link, msg: FedDeliver): boolean {
  return link.send(FedOp.FED_DELIVER, encodeDeliverTransient(msg), false);
}

/** Sends ERROR with the federation extras (priority lane, like every ERROR). */
export function sendFedError(link: Link, err: MyClerkError, opcode: number, re?: number): boolean {
  return link.send(ERROR_OP, encodeFedError(err, opcode, re), true);
}
