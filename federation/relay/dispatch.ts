/**
 * Dispatch: each federation message of a session (0x0300-0x03FF and
 * ERROR) to the part that handles it, and every refusal answered the same
 * way: ERROR with the federation extras, counted in
 * `myclerk_federation_drops_total` by reason.
 *
 * @module
 */

import { ErrorCode, errorName, isMyClerkError, MyClerkError } from "../../core/errors.ts";
import { keyIdHex } from "../../core/node/keys.ts";
import { decodeFedMap } from "../codec.ts";
import { decodeFedError, decodeLookup, DirOp, ERROR_OP } from "../directory.ts";
import { sendFedError } from "../link.ts";
import { decodeFed, type FedMessage, FedOp } from "../messages.ts";
import type { RelayContext } from "./context.ts";
import type { Admission } from "./admission.ts";
import type { Expiry } from "./expiry.ts";
import type { Hello } from "./hello.ts";
import type { Ingest } from "./ingest.ts";
import type { RelayLink } from "./links.ts";
import type { Push } from "./push.ts";
import type { Routes } from "./routes.ts";

/** Every opcode of the range this relay serves (others answer NOT_FOUND `no-handler`). */
export const KNOWN_FED_OPS: ReadonlySet<number> = new Set<number>([
  ...Object.values(FedOp).filter((op) => op !== FedOp.FED_SEALED),
  ...Object.values(DirOp),
]);

/** The handlers dispatch hands messages to. */
export interface Handlers {
  /** FED_HELLO. */
  readonly hello: Hello;
  /** FED_ADMIT. */
  readonly admission: Admission;
  /** FED_DELIVER. */
  readonly ingest: Ingest;
  /** FED_ACK, FED_FETCH. */
  readonly push: Push;
  /** FED_ROUTE, FED_LOOKUP, FED_RECORDS. */
  readonly routes: Routes;
  /** FED_EXPIRED from a peer. */
  readonly expiry: Expiry;
}

/** Dispatch of one relay. */
export class Dispatch {
  readonly #ctx: RelayContext;
  readonly #h: Handlers;

  /** Dispatch over `ctx` to `handlers`. */
  constructor(ctx: RelayContext, handlers: Handlers) {
    this.#ctx = ctx;
    this.#h = handlers;
  }

  /**
   * Handles one message of session `l`. Never throws: a refusal is
   * answered with ERROR. A returned promise holds the session's next message.
   */
  handle(l: RelayLink, op: number, payload: Uint8Array): void | Promise<void> {
    if (this.#ctx.stopping || l.closed) return;
    try {
      const r = this.#route(l, op, payload);
      if (r instanceof Promise) return r.catch((e) => this.#refuse(l, op, payload, e));
    } catch (e) {
      this.#refuse(l, op, payload, e);
    }
  }

  #route(l: RelayLink, op: number, payload: Uint8Array): void | Promise<void> {
    const ctx = this.#ctx;
    if (op === ERROR_OP) {
      try {
        const e = decodeFedError(payload);
        ctx.node.log.warn("peer sent ERROR", {
          peer: keyIdHex(l.link.keyId),
          code: errorName(e.error.code),
          detail: e.error.detail,
        });
      } catch { /* malformed ERROR from a peer: nothing to do */ }
      return;
    }
    if (op === FedOp.FED_SEALED) {
      // Only ever the opcode inside an envelope's header (FEDERATION.md §4.2).
      ctx.drop("fed-sealed-on-session");
      sendFedError(
        l.link,
        new MyClerkError(ErrorCode.UNSUPPORTED, "fed-sealed-on-session"),
        op,
        requestIdOf(payload),
      );
      return;
    }
    if (!KNOWN_FED_OPS.has(op)) {
      sendFedError(
        l.link,
        new MyClerkError(ErrorCode.NOT_FOUND, "no-handler"),
        op,
        requestIdOf(payload),
      );
      return;
    }
    if (op === DirOp.FED_LOOKUP) return this.#h.routes.onLookup(l, decodeLookup(payload));
    if (op === DirOp.FED_RECORDS) return this.#h.routes.onRecords(l, payload);
    return this.#message(l, decodeFed(ctx.node.backend, op, payload));
  }

  #message(l: RelayLink, msg: FedMessage): void | Promise<void> {
    const h = this.#h;
    switch (msg.op) {
      case FedOp.FED_HELLO:
        return h.hello.onHello(l, msg.role, msg.keyId);
      case FedOp.FED_ADMIT:
        return h.admission.onAdmit(l, msg);
      case FedOp.FED_DELIVER:
        return h.ingest.onDeliver(l, msg);
      case FedOp.FED_ACK:
        if (msg.kind === "delivered") return h.push.onDelivered(l, msg.family, msg.mids);
        return h.push.onPeerStored(l, msg.mids);
      case FedOp.FED_FETCH:
        return h.push.onFetch(l, msg.family, msg.credit, msg.maxBytes);
      case FedOp.FED_ROUTE:
        return h.routes.onRoute(l, msg.seq, msg.families);
      case FedOp.FED_RESTART:
        // A dialed session's loop adds `after` to its next dial (federation/outbound.ts).
        this.#ctx.node.log.info("peer announced restart", {
          peer: keyIdHex(l.link.keyId),
          after: msg.after,
        });
        return;
      case FedOp.FED_EXPIRED:
        return h.expiry.onPeerExpired(l, msg);
      case FedOp.FED_QUEUE_STATUS:
      case FedOp.FED_ADMITTED:
        return;
    }
  }

  #refuse(l: RelayLink, op: number, payload: Uint8Array, e: unknown): void {
    const ctx = this.#ctx;
    const err = isMyClerkError(e) ? e : new MyClerkError(ErrorCode.INTERNAL_ERROR, "relay", {}, e);
    if (err.code === ErrorCode.INTERNAL_ERROR) {
      ctx.node.log.error("relay handler failed", { op, error: String(e) });
    }
    ctx.drop(err.detail.startsWith("field:") ? "bad-request" : err.detail);
    sendFedError(l.link, err, op, requestIdOf(payload));
  }
}

/** The request's `"id"` (echoed as `"re"` in an ERROR), when the payload is a map with one. */
function requestIdOf(payload: Uint8Array): number | undefined {
  try {
    const m = decodeFedMap(payload);
    const id = m["id"];
    return typeof id === "number" && Number.isInteger(id) && id >= 0 ? id : undefined;
  } catch {
    return undefined;
  }
}
