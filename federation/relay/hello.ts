/**
 * FED_HELLO at the relay: who the other end is. A peer relay must be on the
 * allow-list (a pinned `--peer`/config key or key id, or `allowPeers`);
 * it then learns every family homed here and gets the peer queue and the
 * notices waiting for it. A hub whose static key was admitted is attached
 * to its family (FED_QUEUE_STATUS, then its expiry notices); any other
 * hub learns nothing until FED_ADMIT.
 *
 * @module
 */

import { ErrorCode, MyClerkError } from "../../core/errors.ts";
import { keyIdHex } from "../../core/node/keys.ts";
import { toHex } from "../bytes.ts";
import type { FamilyId } from "../family.ts";
import { fedHello, sendFed, sendFedError } from "../link.ts";
import { type FedHello, FedOp } from "../messages.ts";
import type { RelayContext } from "./context.ts";
import type { Expiry } from "./expiry.ts";
import type { RelayLink } from "./links.ts";
import type { PeerIndex } from "./peers.ts";
import type { Push } from "./push.ts";
import type { Routes } from "./routes.ts";

/** Most family ids a FED_HELLO carries. */
const HELLO_FAMILIES_MAX = 4096;

/** The parts FED_HELLO hands on to. */
export interface HelloParts {
  /** Routes: announcements, the families homed here. */
  readonly routes: Routes;
  /** Push: the peer queue. */
  readonly push: Push;
  /** Expiry: notices waiting for a hub or a peer. */
  readonly expiry: Expiry;
  /** The peers in force (the allow-list). */
  readonly peers: () => PeerIndex;
  /** Hub static key (hex) -> the family it was admitted for. */
  readonly hubKeys: ReadonlyMap<string, FamilyId>;
}

/** FED_HELLO handling and hub attachment. */
export class Hello {
  readonly #ctx: RelayContext;
  readonly #p: HelloParts;

  /** Hello over `ctx`. */
  constructor(ctx: RelayContext, parts: HelloParts) {
    this.#ctx = ctx;
    this.#p = parts;
  }

  /** True when the session may be a peer relay (the allow-list in force). */
  peerAllowed(l: RelayLink): boolean {
    return this.#p.peers().allows(l.link);
  }

  /** The FED_HELLO this relay sends: peers learn every family homed here, a hub only its own. */
  async helloFor(role: "relay" | "hub", hubFamily?: FamilyId): Promise<FedHello> {
    // An unadmitted key learns nothing: family ids are not for strangers.
    const families = role === "relay"
      ? (await this.#p.routes.localFamilies()).map((f) => f.record.id).slice(0, HELLO_FAMILIES_MAX)
      : hubFamily === undefined
      ? []
      : [hubFamily];
    return fedHello("relay", this.#ctx.node.identity.keyId, families, this.#ctx.cfg.maxMessage);
  }

  /** FED_HELLO from the other end (answered when it dialed us). */
  async onHello(l: RelayLink, role: "relay" | "hub", keyId: number): Promise<void> {
    const ctx = this.#ctx;
    if (keyId !== l.link.keyId) {
      ctx.drop("hello-key-id");
      l.link.close("hello-key-id");
      return;
    }
    if (l.role !== undefined) return;
    if (role === "relay") {
      if (!this.peerAllowed(l)) {
        ctx.drop("peer-not-allowed");
        ctx.node.log.warn("relay peer refused", { peer: keyIdHex(keyId), remote: l.link.remote });
        sendFedError(
          l.link,
          new MyClerkError(ErrorCode.FORBIDDEN, "peer-not-allowed"),
          FedOp.FED_HELLO,
        );
        l.link.close("peer-not-allowed");
        return;
      }
      l.role = "relay";
      if (l.link.direction === "in") {
        const hello = await this.helloFor("relay");
        if (l.closed) return;
        sendFed(l.link, hello);
      }
      if (ctx.links.attachPeer(l, keyId)) {
        ctx.node.log.info("peer relay up", { peer: keyIdHex(keyId), remote: l.link.remote });
      }
      await this.#p.routes.announceTo(l);
      this.#p.push.pumpPeer(keyId);
      // Expiry notices for families homed at this peer waited for it.
      await this.#p.expiry.routeAll();
      return;
    }
    l.role = "hub";
    const st = l.link.peerStatic;
    const fam = st ? this.#p.hubKeys.get(toHex(st)) : undefined;
    if (l.link.direction === "in") sendFed(l.link, await this.helloFor("hub", fam));
    if (fam !== undefined) await this.attachHub(l, fam);
  }

  /** Attaches a hub session to its family: FED_QUEUE_STATUS, then its waiting notices. */
  async attachHub(l: RelayLink, family: FamilyId): Promise<void> {
    const ctx = this.#ctx;
    if (!ctx.links.attachHub(l, family)) return;
    const st = await ctx.store.queueStatus({ kind: "mailbox" }, family);
    if (l.closed) return;
    ctx.node.log.info("hub connected", {
      family,
      depth: st.depth,
      bytes: st.bytes,
      remote: l.link.remote,
    });
    sendFed(l.link, { op: FedOp.FED_QUEUE_STATUS, family, ...st });
    await this.#p.expiry.sendNotices(l);
  }
}
