/**
 * Routing of received messages to family members (pure). A rule matches on
 * sender, keyword and class (all given conditions must hold) and names the
 * members who get the message. Rules are applied in priority order (lower
 * first, then id); every matching rule adds its members, a rule with
 * `stop` ends the walk. When no rule matches, the class default applies:
 * every member, except spam (held back: nobody). TANs go only to members
 * allowed to see TANs, whatever the rules say.
 *
 * @module
 */
import type { SmsClass } from "./classify/classify.ts";

/** A family member as configured in the gateway's `config.json`. */
export interface Member {
  /** Member id (`alice`). */
  readonly id: string;
  /** Key ids of the member's devices (the node's session key ids). */
  readonly keyIds: readonly number[];
  /** The member's own phone numbers (allowed for SMS commands when `emergency` is true). */
  readonly numbers: readonly string[];
  /** May see TAN/OTP codes (default true). */
  readonly tan: boolean;
  /** May send emergency SMS commands and gets emergency events (default false). */
  readonly emergency: boolean;
  /** Sees every message, manages routing rules and emergency mode (default false). */
  readonly admin?: boolean;
}

/** One rule. */
export interface RouteRule {
  /** Rule id (`r-…`). */
  readonly id: string;
  /** Conditions; absent ones match anything. */
  readonly match: {
    /** Sender, exact (case-insensitive) or with `*` wildcards (`+49151*`, `*bank*`). */
    readonly sender?: string;
    /** Keyword: case-insensitive substring of the text. */
    readonly keyword?: string;
    /** Class. */
    readonly cls?: SmsClass;
  };
  /** Member ids that get matching messages (`*` = every member). */
  readonly to: readonly string[];
  /** Lower runs first (default 100). */
  readonly priority: number;
  /** Stop after this rule when it matches. */
  readonly stop: boolean;
}

/** A received message as routing sees it. */
export interface RoutableSms {
  /** Sender. */
  readonly from: string;
  /** Text. */
  readonly text: string;
  /** Class. */
  readonly cls: SmsClass;
}

function glob(pattern: string, value: string): boolean {
  const re = new RegExp(
    "^" + pattern.split("*").map((p) => p.replace(/[.+?^${}()|[\]\\]/g, "\\$&")).join(".*") + "$",
    "i",
  );
  return re.test(value);
}

/** True when every condition of `r` holds for `m`. */
export function matches(r: RouteRule, m: RoutableSms): boolean {
  if (r.match.sender !== undefined && !glob(r.match.sender, m.from)) return false;
  if (
    r.match.keyword !== undefined && !m.text.toLowerCase().includes(r.match.keyword.toLowerCase())
  ) return false;
  if (r.match.cls !== undefined && r.match.cls !== m.cls) return false;
  return true;
}

/** The routing decision: member ids, and which rules decided (empty: the class default). */
export interface RouteResult {
  /** Member ids, sorted. */
  readonly to: readonly string[];
  /** Ids of the rules that matched. */
  readonly rules: readonly string[];
  /** True when nobody gets it (spam default, or rules that name nobody allowed). */
  readonly held: boolean;
}

/** Routes `m` with `rules` among `members`. */
export function route(
  m: RoutableSms,
  rules: Iterable<RouteRule>,
  members: readonly Member[],
): RouteResult {
  const sorted = [...rules].sort((a, b) =>
    a.priority - b.priority || a.id.localeCompare(b.id, "en", { numeric: true })
  );
  const to = new Set<string>();
  const hit: string[] = [];
  for (const r of sorted) {
    if (!matches(r, m)) continue;
    hit.push(r.id);
    for (const id of r.to) {
      if (id === "*") members.forEach((x) => to.add(x.id));
      else if (members.some((x) => x.id === id)) to.add(id);
    }
    if (r.stop) break;
  }
  if (hit.length === 0 && m.cls !== "spam") members.forEach((x) => to.add(x.id));
  const allowed = [...to].filter((id) => {
    const mem = members.find((x) => x.id === id);
    return mem !== undefined && (m.cls !== "tan" || mem.tan);
  }).sort();
  return { to: allowed, rules: hit, held: allowed.length === 0 };
}

/** Validates a rule from a request; throws a string naming the bad field. */
export function parseRule(id: string, raw: Readonly<Record<string, unknown>>): RouteRule {
  const match = (raw.match ?? {}) as Record<string, unknown>;
  if (typeof match !== "object" || match === null || Array.isArray(match)) throw "match";
  const out: { sender?: string; keyword?: string; cls?: SmsClass } = {};
  if (match.sender !== undefined) {
    if (typeof match.sender !== "string" || match.sender.length === 0 || match.sender.length > 64) {
      throw "match.sender";
    }
    out.sender = match.sender;
  }
  if (match.keyword !== undefined) {
    if (
      typeof match.keyword !== "string" || match.keyword.length === 0 || match.keyword.length > 64
    ) throw "match.keyword";
    out.keyword = match.keyword;
  }
  if (match.cls !== undefined) {
    const classes = ["tan", "delivery", "appointment", "spam", "alert", "personal", "unknown"];
    if (typeof match.cls !== "string" || !classes.includes(match.cls)) throw "match.cls";
    out.cls = match.cls as SmsClass;
  }
  const to = raw.to;
  if (
    !Array.isArray(to) || to.length === 0 || to.length > 32 ||
    !to.every((x) => typeof x === "string" && x.length > 0 && x.length <= 64)
  ) throw "to";
  const priority = raw.priority ?? 100;
  if (
    typeof priority !== "number" || !Number.isInteger(priority) || priority < 0 || priority > 1e6
  ) {
    throw "priority";
  }
  const stop = raw.stop ?? false;
  if (typeof stop !== "boolean") throw "stop";
  return { id, match: out, to: [...to] as string[], priority, stop };
}
