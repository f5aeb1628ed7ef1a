/**
 * Admission (FEDERATION.md §3): FED_ADMIT with an invite token and a proof
 * of possession bound to this session; the invite is redeemed, the family
 * stored as homed here, and the hub's static key recorded in
 * `federation-hubs.json`, all durable before FED_ADMITTED. Concurrent
 * admissions are independent; writes of the key file are serialised (the
 * last one holds every key).
 *
 * @module
 */

import { ErrorCode, isMyClerkError, MyClerkError } from "../../core/errors.ts";
import { keyIdHex } from "../../core/node/keys.ts";
import { toHex } from "../bytes.ts";
import type { FamilyId } from "../family.ts";
import { readHubKeys, writeHubKeys } from "../files.ts";
import { checkAdmission } from "../invite.ts";
import { sendFed, sendFedError } from "../link.ts";
import { type FedAdmit, FedOp } from "../messages.ts";
import { FED } from "../metrics.ts";
import { nowSec, type RelayContext } from "./context.ts";
import type { Hello } from "./hello.ts";
import type { RelayLink } from "./links.ts";
import type { Routes } from "./routes.ts";

/**
 * Where the admitted hub keys live: `federation-hubs.json` in the data
 * directory by default ({@link hubKeyFile}); a relay without a file system
 * (the edge relay) passes its own.
 */
export interface HubKeyStore {
  /** Reads every recorded key: hub static key (hex) -> family id. */
  load(): Promise<Map<string, FamilyId>>;
  /** Replaces the record with `keys`; resolves once it is durable. */
  save(keys: ReadonlyMap<string, FamilyId>): Promise<void>;
}

/** The default {@link HubKeyStore}: `federation-hubs.json` in data directory `data`. */
export function hubKeyFile(data: string): HubKeyStore {
  return { load: () => readHubKeys(data), save: (m) => writeHubKeys(data, m) };
}

/** Which hub static key was admitted for which family. */
export class HubKeys {
  readonly #store: HubKeyStore;
  readonly #map: Map<string, FamilyId>;
  #writing: Promise<void> = Promise.resolve();

  private constructor(store: HubKeyStore, map: Map<string, FamilyId>) {
    this.#store = store;
    this.#map = map;
  }

  /** Reads the keys recorded in `store`. */
  static async load(store: HubKeyStore): Promise<HubKeys> {
    return new HubKeys(store, await store.load());
  }

  /** The map: hub static key (hex) -> family id. */
  get map(): ReadonlyMap<string, FamilyId> {
    return this.#map;
  }

  /** Records `key` for `family`; resolves once the record holding it is durable. */
  add(key: Uint8Array, family: FamilyId): Promise<void> {
    this.#map.set(toHex(key), family);
    // Serialised: each write holds every key so far, so the last one is complete.
    const write = this.#writing.then(() => this.#store.save(this.#map));
    this.#writing = write.catch(() => {});
    return write;
  }
}

/** What admission needs besides the context. */
export interface AdmissionParts {
  /** Invite token key. */
  readonly tokenKey: Uint8Array;
  /** The admitted hub keys. */
  readonly hubKeys: HubKeys;
  /** Hub attachment after FED_ADMITTED. */
  readonly hello: Hello;
  /** The families cache and the announcements to peers. */
  readonly routes: Routes;
  /** The store's numbers changed (a family homed here): refresh the cached ones. */
  readonly changed: () => Promise<void>;
}

/** FED_ADMIT handling. */
export class Admission {
  readonly #ctx: RelayContext;
  readonly #p: AdmissionParts;

  /** Admission over `ctx`. */
  constructor(ctx: RelayContext, parts: AdmissionParts) {
    this.#ctx = ctx;
    this.#p = parts;
  }

  /** FED_ADMIT: admits the family or answers FED_ADMISSION_DENIED (or INTERNAL_ERROR `admit`). */
  async onAdmit(l: RelayLink, msg: FedAdmit): Promise<void> {
    const ctx = this.#ctx;
    const node = ctx.node;
    const h = l.link.transcriptHash;
    const peerStatic = l.link.peerStatic;
    const deny = (d: string) => new MyClerkError(ErrorCode.FED_ADMISSION_DENIED, d);
    try {
      if (!h || !peerStatic || peerStatic.length !== 32) throw deny("no-static-key");
      if (l.role === "relay") throw deny("peer-is-relay");
      const now = nowSec();
      const inv = checkAdmission(node.backend, {
        tokenKey: this.#p.tokenKey,
        relayStaticSecret: node.identity.privateKey,
        relayKeyId: node.identity.keyId,
        now,
        token: msg.token,
        family: msg.family,
        proof: msg.proof,
        h,
      });
      await ctx.store.redeemInvite(inv.tokenId, msg.family.id, now);
      // No own quota: the family follows the configured default (reloadable); `family quota`
      // gives it its own. A re-admission keeps an own quota set before.
      // FED_ADMITTED promises the admission survives a crash: putFamily is durable on return
      // (the redeemed invite with it), and so is the hub key file.
      const put = ctx.store.putFamily(msg.family, true, now);
      this.#p.routes.forget(msg.family.id);
      await put;
      this.#p.routes.forget(msg.family.id);
      await this.#p.hubKeys.add(peerStatic, msg.family.id);
    } catch (e) {
      const err = isMyClerkError(e)
        ? e
        : new MyClerkError(ErrorCode.INTERNAL_ERROR, "admit", {}, e);
      node.metrics.inc(FED.admissions, { result: err.detail });
      node.log.warn("admission denied", {
        detail: err.detail,
        remote: l.link.remote,
        ...(err.code === ErrorCode.INTERNAL_ERROR ? { error: String(e) } : {}),
      });
      sendFedError(l.link, err, FedOp.FED_ADMIT);
      return;
    }
    node.metrics.inc(FED.admissions, { result: "ok" });
    node.log.info("family admitted", {
      family: msg.family.id,
      name: msg.family.name,
      hub: keyIdHex(l.link.keyId),
    });
    const [usage] = await Promise.all([ctx.store.usage(msg.family.id), this.#p.changed()]);
    if (l.closed) return;
    sendFed(l.link, {
      op: FedOp.FED_ADMITTED,
      family: msg.family.id,
      relay: node.identity.keyId,
      quotaMessages: usage.quota.messages,
      quotaBytes: usage.quota.bytes,
      maxMessage: ctx.cfg.maxMessage,
      maxTtl: ctx.cfg.maxTtl,
    });
    await this.#p.hello.attachHub(l, msg.family.id);
    await this.#p.routes.announceAll();
  }
}
