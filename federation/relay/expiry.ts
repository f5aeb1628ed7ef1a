/**
 * Expiry: the periodic sweep that deletes expired messages and records a
 * notice for each sender, and the routing of those notices toward the
 * sender's hub (FED_EXPIRED: directly when the family is homed here, else
 * one hop to the peer relay that homes it, relay -> relay). Notices stay
 * stored until someone takes them.
 *
 * @module
 */

import { ErrorCode, MyClerkError } from "../../core/errors.ts";
import type { FamilyId } from "../family.ts";
import { sendFed } from "../link.ts";
import { type FedExpired, FedOp, MAX_MIDS } from "../messages.ts";
import { FED } from "../metrics.ts";
import { nowSec, type RelayContext } from "./context.ts";
import type { RelayLink } from "./links.ts";
import type { Routes } from "./routes.ts";

/** The relay's expiry sweep and notices. */
export class Expiry {
  readonly #ctx: RelayContext;
  readonly #routes: Routes;
  #timer?: ReturnType<typeof setInterval>;
  /** Senders whose notices are being sent now, and whether to look again after. */
  readonly #sending = new Map<FamilyId, { again: boolean }>();

  /** Expiry over `ctx`. */
  constructor(ctx: RelayContext, routes: Routes) {
    this.#ctx = ctx;
    this.#routes = routes;
  }

  /** (Re)starts the sweep timer every `ms`. */
  start(ms: number): void {
    clearInterval(this.#timer);
    this.#timer = setInterval(() => void this.sweep(), ms);
  }

  /** Stops the sweep timer. */
  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }

  /** One expiry sweep: deletes expired messages, tells the senders' hubs. */
  async sweep(): Promise<void> {
    const ctx = this.#ctx;
    if (ctx.stopping) return;
    try {
      const expired = await ctx.store.sweep(nowSec());
      if (expired.length === 0) return;
      ctx.node.metrics.inc(FED.expired, undefined, expired.length);
      ctx.node.log.info("messages expired", { count: expired.length });
      await Promise.all([...new Set(expired.map((e) => e.from))].map((s) => this.routeNotices(s)));
    } catch (e) {
      ctx.node.log.error("expiry sweep failed", { error: String(e) });
    }
  }

  /** Routes the notices of every sender that has some waiting (a peer relay came up). */
  async routeAll(): Promise<void> {
    const senders = await this.#ctx.store.noticeSenders();
    await Promise.all(senders.map((s) => this.routeNotices(s)));
  }

  /**
   * Sends the expiry notices waiting for `sender` toward its hub: directly
   * when the family is homed here, else to the peer relay that homes it.
   * One send per sender at a time (a second call during it looks again after).
   */
  async routeNotices(sender: FamilyId): Promise<void> {
    const busy = this.#sending.get(sender);
    if (busy !== undefined) {
      busy.again = true;
      return;
    }
    const state = { again: true };
    this.#sending.set(sender, state);
    try {
      while (state.again && !this.#ctx.stopping) {
        state.again = false;
        await this.#route(sender);
      }
    } catch (e) {
      this.#ctx.node.log.error("expiry notices failed", { family: sender, error: String(e) });
    } finally {
      this.#sending.delete(sender);
    }
  }

  async #route(sender: FamilyId): Promise<void> {
    const f = await this.#routes.family(sender);
    if (f?.local) {
      for (const l of [...this.#ctx.links.hubs(sender)]) await this.#sendTo(l, sender);
      return;
    }
    const peer = this.#routes.peerFor(f, sender);
    const l = peer === undefined ? undefined : this.#ctx.links.activePeer(peer);
    if (l !== undefined) await this.#sendTo(l, sender);
  }

  /** A hub session was attached: its family's waiting notices go to it. */
  sendNotices(l: RelayLink): Promise<void> {
    return l.family === undefined ? Promise.resolve() : this.routeNotices(l.family);
  }

  /** A peer relay forwards expiry notices for a family homed here. */
  async onPeerExpired(l: RelayLink, msg: FedExpired): Promise<void> {
    if (l.role !== "relay") throw new MyClerkError(ErrorCode.FORBIDDEN, "not-a-peer");
    if (!(await this.#routes.family(msg.family))?.local) {
      this.#ctx.drop("expired-not-homed-here");
      return;
    }
    await this.#ctx.store.addNotices(msg.family, msg.to, msg.mids, nowSec());
    this.#ctx.node.metrics.inc(FED.expiredNotices, undefined, msg.mids.length);
    await this.routeNotices(msg.family);
  }

  /** Sends `sender`'s waiting notices on `l` (its hub, or the peer that homes it) and clears them. */
  async #sendTo(l: RelayLink, sender: FamilyId): Promise<void> {
    const store = this.#ctx.store;
    const notices = await store.pendingNotices(sender);
    if (notices.length === 0 || l.closed) return;
    const byTo = new Map<FamilyId, Uint8Array[]>();
    for (const n of notices) {
      let a = byTo.get(n.to);
      if (a === undefined) byTo.set(n.to, a = []);
      a.push(n.mid);
    }
    for (const [to, mids] of byTo) {
      for (let i = 0; i < mids.length; i += MAX_MIDS) {
        sendFed(l.link, {
          op: FedOp.FED_EXPIRED,
          family: sender,
          to,
          mids: mids.slice(i, i + MAX_MIDS),
        });
      }
    }
    await store.clearNotices(sender, notices.map((n) => n.mid));
  }
}
