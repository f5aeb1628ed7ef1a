/**
 * The hub's session to its relay (docs/FEDERATION.md §7-8), on the one
 * outbound-session path (federation/outbound.ts): dials the relays in turn
 * with jittered backoff (reconnect within ~1 s of the relay coming back,
 * after its FED_RESTART `after`), greets with FED_HELLO, and hands what the
 * relay sends to the hub's parts. The session is "ready" once the relay's
 * FED_HELLO arrived.
 *
 * @module
 */

import { errorName, isMyClerkError, type MyClerkError } from "../../core/errors.ts";
import type { Node } from "../../core/node/node.ts";
import { keyIdHex } from "../../core/node/keys.ts";
import { FED } from "../metrics.ts";
import { isFedOpcode } from "../ops.ts";
import { decodeFedError, DirOp, ERROR_OP } from "../directory.ts";
import type { FamilyId } from "../family.ts";
import { fedHello, sendFed } from "../link.ts";
import { decodeFed, type FedDeliver, type FedExpired, FedOp } from "../messages.ts";
import { type DialLoop, dialLoop, type DialTarget, type OutboundLink } from "../outbound.ts";
import type { FedConfig } from "./context.ts";

/** What the session hands on, to the hub's parts. */
export interface SessionHandlers {
  /** The relay greeted (FED_HELLO): grant credit, resend the outbox. */
  onReady(): void;
  /** The session ended. */
  onDown(): void;
  /** FED_DELIVER for this family. */
  onDeliver(m: FedDeliver): void;
  /** FED_ACK "stored" for these mids. */
  onStored(mids: readonly Uint8Array[]): void | Promise<void>;
  /** FED_EXPIRED. */
  onExpired(m: FedExpired): void | Promise<void>;
  /** ERROR answering a FED_DELIVER of ours. */
  onRefused(error: MyClerkError, mid: Uint8Array): void | Promise<void>;
  /** FED_RECORDS. */
  onRecords(bytes: Uint8Array): void | Promise<void>;
  /** ERROR answering a FED_LOOKUP. */
  onLookupError(error: MyClerkError): void;
}

/** The hub's relay session. */
export class HubSession {
  readonly #node: Node;
  readonly #cfg: FedConfig;
  readonly #familyId: FamilyId;
  readonly #targets: readonly DialTarget[];
  readonly #h: SessionHandlers;
  #loop?: DialLoop;
  #link?: OutboundLink;
  #ready = false;
  #generation = 0;
  #connects = 0;

  /** A session for `familyId`'s hub, dialing `targets` in turn. */
  constructor(
    node: Node,
    cfg: FedConfig,
    familyId: FamilyId,
    targets: readonly DialTarget[],
    handlers: SessionHandlers,
  ) {
    this.#node = node;
    this.#cfg = cfg;
    this.#familyId = familyId;
    this.#targets = targets;
    this.#h = handlers;
  }

  /** True while the session is up and the relay greeted. */
  get ready(): boolean {
    return this.#ready;
  }

  /** Counts sessions that became ready. */
  get generation(): number {
    return this.#generation;
  }

  /** Sessions that became ready since start. */
  get connects(): number {
    return this.#connects;
  }

  /** Bytes queued on the session, 0 when none. */
  get queuedBytes(): number {
    return this.#link?.queuedBytes ?? 0;
  }

  /** Starts dialing (no-op without targets). */
  start(): void {
    if (this.#targets.length === 0 || this.#loop) return;
    const node = this.#node;
    this.#loop = dialLoop({
      kind: "relay",
      targets: this.#targets,
      backend: node.backend,
      identity: node.identity,
      backoff: { baseMs: this.#cfg.hubBackoffBaseMs, capMs: this.#cfg.hubBackoffCapMs },
      maxMessage: node.config.limits.maxMessage,
      // as on the node's inbound connections and the relay's peer links: `tiers.min` holds here too
      tiersMin: node.config.tiers.min,
      log: node.log,
      metrics: node.metrics,
      onLink: (link) => this.#onLink(link),
      onDown: (link, reason) => {
        this.#link = undefined;
        this.#ready = false;
        this.#h.onDown();
        node.log.info("relay session closed", { relay: link.remote, reason });
      },
    });
  }

  /** Sends on the current session; false when there is none. */
  send(opcode: number, payload: Uint8Array, priority = false): boolean {
    return this.#link?.send(opcode, payload, priority) ?? false;
  }

  /** Closes the current session (the loop dials again). */
  close(): void {
    this.#link?.close();
  }

  /** Stops dialing and closes the session. */
  async stop(): Promise<void> {
    this.#loop?.stop();
    await this.#loop?.done;
  }

  #onLink(link: OutboundLink): void {
    this.#link = link;
    link.onMessage((op, bytes) => {
      try {
        const r = this.#onMessage(link, op, bytes);
        if (r instanceof Promise) r.catch((e) => this.#bad(op, e));
      } catch (e) {
        this.#bad(op, e);
      }
    });
    sendFed(
      link,
      fedHello("hub", this.#node.identity.keyId, [this.#familyId], this.#cfg.maxMessage),
    );
  }

  #bad(op: number, e: unknown): void {
    this.#node.log.warn("bad message from relay", {
      op,
      error: isMyClerkError(e) ? e.detail : String(e),
    });
  }

  #onMessage(link: OutboundLink, op: number, bytes: Uint8Array): void | Promise<void> {
    const node = this.#node;
    if (op === ERROR_OP) return this.#onError(bytes);
    if (op === DirOp.FED_RECORDS) return this.#h.onRecords(bytes);
    if (!isFedOpcode(op)) return;
    const m = decodeFed(node.backend, op, bytes);
    switch (m.op) {
      case FedOp.FED_HELLO:
        if (!this.#ready && this.#link === link) {
          this.#ready = true;
          this.#generation++;
          this.#connects++;
          link.markUp();
          node.metrics.inc(FED.hubConnects);
          node.log.info("relay session up", {
            relay: keyIdHex(m.keyId),
            family: this.#familyId,
          });
          this.#h.onReady();
        }
        return;
      case FedOp.FED_DELIVER:
        return this.#h.onDeliver(m);
      case FedOp.FED_ACK:
        if (m.kind === "stored") return this.#h.onStored(m.mids);
        return;
      case FedOp.FED_EXPIRED:
        return this.#h.onExpired(m);
      case FedOp.FED_RESTART:
        // outbound.ts adds `after` to the next dial's delay.
        node.log.info("relay announced restart", { after: m.after, reason: m.reason });
        return;
      case FedOp.FED_QUEUE_STATUS:
        node.log.info("relay mailbox", { family: m.family, depth: m.depth, bytes: m.bytes });
        return;
      default:
        return;
    }
  }

  #onError(bytes: Uint8Array): void | Promise<void> {
    const { error, opcode } = decodeFedError(bytes);
    const mid = error.extra.mid;
    this.#node.log.warn("relay refused", {
      opcode,
      code: errorName(error.code),
      detail: error.detail,
      ...error.extra,
    });
    if (opcode === DirOp.FED_LOOKUP) this.#h.onLookupError(error);
    if (opcode === FedOp.FED_DELIVER && mid instanceof Uint8Array) {
      return this.#h.onRefused(error, mid);
    }
  }
}
