/**
 * `serve`'s role check: options and config keys that only one role reads are
 * refused when the chosen role would silently ignore them (a `--peer` on a
 * plain node would otherwise look configured and never dial). Pure.
 *
 * @module
 */

/** The node roles (`--role`, config `role`). */
export type Role = "node" | "relay" | "hub" | "both";

interface Rule {
  /** `--flag` as the user typed it, or the config key's dotted path. */
  readonly name: string;
  /** The roles that read it. */
  readonly roles: readonly Role[];
}

const RELAY: readonly Role[] = ["relay", "both"];
const HUB: readonly Role[] = ["hub", "both"];
const FED: readonly Role[] = ["relay", "hub", "both"];

/** Role-specific flags of `serve` (commander attribute -> rule). */
const FLAGS: Readonly<Record<string, Rule>> = {
  peer: { name: "--peer", roles: RELAY },
  relay: { name: "--relay", roles: HUB },
};

/**
 * Role-specific keys under `federation` in the config file. The tuning keys
 * of one side (backoffs, quotas) are listed too: a relay's config that sets
 * the hub's backoff does nothing, which is what the operator must hear.
 */
const FEDERATION_KEYS: Readonly<Record<string, readonly Role[]>> = {
  peers: RELAY,
  allowPeers: RELAY,
  quotaMessages: RELAY,
  quotaBytes: RELAY,
  sendQueueHighBytes: RELAY,
  sweepMs: RELAY,
  restartAfterMs: RELAY,
  peerBackoffBaseMs: RELAY,
  peerBackoffCapMs: RELAY,
  relays: HUB,
  credit: HUB,
  ttl: HUB,
  hubBackoffBaseMs: HUB,
  hubBackoffCapMs: HUB,
};

function roleList(roles: readonly Role[]): string {
  const names = roles.join(", ");
  return `--role ${roles.length === 1 ? names : names.replace(/, ([^,]*)$/, " or $1")}`;
}

/**
 * Problems with `flags` (commander's parsed options of `serve`) and `raw`
 * (the config file as written, before defaults, or `undefined`) for `role`:
 * one sentence per option or key that the role ignores, naming it, the roles
 * that use it, and the fix. Empty when everything given is used.
 */
export function roleConflicts(
  role: Role,
  flags: Readonly<Record<string, unknown>>,
  raw: unknown,
  source = "config",
): string[] {
  const out: string[] = [];
  for (const [attr, rule] of Object.entries(FLAGS)) {
    const v = flags[attr];
    const given = Array.isArray(v) ? v.length > 0 : v !== undefined;
    if (given && !rule.roles.includes(role)) {
      out.push(
        `${rule.name} applies to ${
          roleList(rule.roles)
        } (this node is --role ${role}); remove it or change --role`,
      );
    }
  }
  const fed = (raw as { federation?: unknown } | undefined)?.federation;
  if (fed && typeof fed === "object") {
    for (const key of Object.keys(fed)) {
      const roles = FEDERATION_KEYS[key] ?? FED;
      if (!roles.includes(role)) {
        out.push(
          `${source}: "federation.${key}" applies to ${
            roleList(roles)
          } (this node is role ${role}); remove it or change the role`,
        );
      }
    }
  }
  return out;
}
