/**
 * The gate in front of every opcode range outside the core (docs/OPERATOR.md
 * "The gate"): the node's policy, checked before any handler or plugin sees a
 * request. Pure: the policy (tiers, admit list, revoked keys, public opcodes,
 * ACL) is set by the node and replaced on reload; layers add deciders.
 *
 * Order of the checks for a request to opcode `op` (profile §6 step 10):
 *
 * 1. tier: the session's tier (1 for a session-less Tier 1 message) must
 *    reach `max(minimum tier of op, tiers.min)`, else FORBIDDEN `tier`
 *    with `required-tier`;
 * 2. a revoked key: UNAUTHORIZED `revoked`;
 * 3. the `admit` list, when configured: a caller without a key (no
 *    session) or with a key not on the list gets UNAUTHORIZED `not-admitted`;
 * 4. without a session, only opcodes the policy marks public pass:
 *    UNAUTHORIZED `session-required` otherwise;
 * 5. a route that declared `access: "self"` (federation: invites and peer
 *    pinning) admits by itself: pass;
 * 6. a public opcode: pass;
 * 7. the deciders, in order (own family first, then the ACL, then any a
 *    layer added): the first that has an opinion decides; when none has,
 *    FORBIDDEN `not-granted`.
 *
 * @module
 */

import { ErrorCode, MyClerkError } from "../errors.ts";
import { type Acl, granted } from "./acl.ts";

/**
 * How a route's opcodes are gated: `"gate"` (the default) by the node's
 * policy and deciders; `"self"` when the layer admits callers itself (the
 * federation range: invites and pinned peers), after the tier, revocation
 * and admit checks that apply to every request.
 */
export type RouteAccess = "gate" | "self";

/** What a decider is asked about one request. */
export interface AccessQuery {
  /** Request opcode, u16. */
  readonly opcode: number;
  /** Caller's static key id; 0 without a session. */
  readonly keyId: number;
  /** Session id; 0 without a session. */
  readonly sessionId: number;
  /** Tier the request came at. */
  readonly tier: number;
}

/** A decider's answer: allow, deny, or no opinion (`undefined`: ask the next one). */
export type Verdict = "allow" | "deny" | undefined;

/**
 * One source of access decisions. Per-device access modes for other
 * families (resource sharing) plug in as further deciders.
 */
export interface AccessDecider {
  /** Name, for logs and {@link Gate.removeDecider}. */
  readonly name: string;
  /** Decides for one request; must be cheap and must not throw. */
  decide(q: AccessQuery): Verdict;
}

/** The part of the node's config the gate enforces (replaced on reload). */
export interface GatePolicy {
  /** `tiers.min`: lowest tier any request may arrive at. */
  readonly minTier: number;
  /** `admit`: allowed key ids; absent = any key. */
  readonly admit?: ReadonlySet<number>;
  /** `revokedKeys`. */
  readonly revoked: ReadonlySet<number>;
  /** `gate.public`: opcode ranges anyone may call (still subject to tiers.min and admit). */
  readonly public: readonly { readonly first: number; readonly last: number }[];
  /** The operator's grants (`acl.json`). */
  readonly acl: Acl;
}

/** The gate's answer. */
export type GateResult =
  | { readonly ok: true }
  | { readonly ok: false; readonly error: MyClerkError };

const OK: GateResult = { ok: true };

/** The node's gate. */
export class Gate {
  #policy: GatePolicy;
  readonly #selfKeyId: number;
  #deciders: AccessDecider[] = [];
  readonly #members = new Map<string, (keyId: number) => boolean>();
  readonly #families = new Map<string, (keyId: number) => readonly string[]>();

  /** A gate for the node whose own static key id is `selfKeyId`. */
  constructor(selfKeyId: number, policy: GatePolicy) {
    this.#selfKeyId = selfKeyId;
    this.#policy = policy;
  }

  /** The policy in force. */
  get policy(): GatePolicy {
    return this.#policy;
  }

  /** Replaces the policy (config reload, `acl` change). */
  setPolicy(p: GatePolicy): void {
    this.#policy = p;
  }

  /**
   * Registers a membership predicate: "is this key a member of my family".
   * A key any predicate accepts may call every gated range (the node's own
   * key always may).
   */
  addMembership(name: string, isMember: (keyId: number) => boolean): void {
    this.#members.set(name, isMember);
  }

  /**
   * Registers a resolver of the family ids a key belongs to, so that ACL
   * grants naming a family id apply to its member keys.
   */
  addFamilyResolver(name: string, families: (keyId: number) => readonly string[]): void {
    this.#families.set(name, families);
  }

  /** Adds a decider after the built-in ones (own family, ACL). */
  addDecider(d: AccessDecider): void {
    this.#deciders = [...this.#deciders.filter((x) => x.name !== d.name), d];
  }

  /** Removes a decider, membership predicate and family resolver by name. */
  removeDecider(name: string): void {
    this.#deciders = this.#deciders.filter((x) => x.name !== name);
    this.#members.delete(name);
    this.#families.delete(name);
  }

  /** True when the policy marks `opcode` public. */
  isPublic(opcode: number): boolean {
    return this.#policy.public.some((r) => opcode >= r.first && opcode <= r.last);
  }

  /** True when `keyId` is the node's own key or a member of its family. */
  isMember(keyId: number): boolean {
    if (keyId === 0) return false;
    if (keyId === this.#selfKeyId) return true;
    for (const f of this.#members.values()) if (safeBool(() => f(keyId))) return true;
    return false;
  }

  #aclAllows(q: AccessQuery): boolean {
    const acl = this.#policy.acl;
    if (acl.grants.length === 0 || q.keyId === 0) return false;
    if (granted(acl, q.keyId.toString(16).padStart(8, "0"), q.opcode)) return true;
    for (const f of this.#families.values()) {
      let ids: readonly string[] = [];
      try {
        ids = f(q.keyId);
      } catch { /* a broken resolver grants nothing */ }
      for (const id of ids) if (granted(acl, id, q.opcode)) return true;
    }
    return false;
  }

  /**
   * Checks one request. `opcodeMinTier` is the opcode's minimum tier (the
   * profile's, raised by the route). Never throws.
   */
  check(q: AccessQuery, access: RouteAccess, opcodeMinTier: number): GateResult {
    const p = this.#policy;
    const need = Math.max(opcodeMinTier, p.minTier, 1);
    if (q.tier < need) {
      return deny(ErrorCode.FORBIDDEN, "tier", { requiredTier: need });
    }
    if (q.keyId !== 0 && p.revoked.has(q.keyId)) return deny(ErrorCode.UNAUTHORIZED, "revoked");
    if (p.admit && (q.keyId === 0 || !p.admit.has(q.keyId))) {
      return deny(ErrorCode.UNAUTHORIZED, "not-admitted");
    }
    const pub = this.isPublic(q.opcode);
    if (q.sessionId === 0 && !pub) return deny(ErrorCode.UNAUTHORIZED, "session-required");
    if (access === "self" || pub) return OK;
    if (this.isMember(q.keyId)) return OK;
    if (this.#aclAllows(q)) return OK;
    for (const d of this.#deciders) {
      let v: Verdict;
      try {
        v = d.decide(q);
      } catch {
        v = "deny";
      }
      if (v === "allow") return OK;
      if (v === "deny") break;
    }
    return deny(ErrorCode.FORBIDDEN, "not-granted");
  }
}

function deny(
  code: typeof ErrorCode[keyof typeof ErrorCode],
  detail: string,
  extra: Record<string, unknown> = {},
): GateResult {
  return { ok: false, error: new MyClerkError(code, detail, extra) };
}

function safeBool(f: () => boolean): boolean {
  try {
    return f() === true;
  } catch {
    return false;
  }
}
