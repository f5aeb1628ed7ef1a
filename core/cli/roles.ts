/**
 * `serve`'s role check: options and config keys that only one role reads are
 * refused when the chosen role would silently ignore them (a `--peer` on a
 * plain node would otherwise look configured and never dial). Pure.
 *
 * @module
 */

import { type NodeRole, sectionRoles } from "../node/config.ts";

/** The node roles (`--role`, config `role`). */
export type Role = NodeRole;

interface Rule {
  /** `--flag` as the user typed it, or the config key's dotted path. */
  readonly name: string;
  /** The roles that read it. */
  readonly roles: readonly Role[];
}

const RELAY: readonly Role[] = ["relay", "both"];
const HUB: readonly Role[] = ["hub", "both"];

/** Role-specific flags of `serve` (commander attribute -> rule). */
const FLAGS: Readonly<Record<string, Rule>> = {
  peer: { name: "--peer", roles: RELAY },
  relay: { name: "--relay", roles: HUB },
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
  // The roles of each section's keys are declared by the layer that registered it
  // (federation/config.ts), so the core names no layer's keys here.
  for (const { name, roles: rules } of sectionRoles()) {
    const sec = (raw as Record<string, unknown> | undefined)?.[name];
    if (!sec || typeof sec !== "object") continue;
    for (const key of Object.keys(sec)) {
      const roles = rules.keys?.[key] ?? rules.all;
      if (!roles.includes(role)) {
        out.push(
          `${source}: "${name}.${key}" applies to ${
            roleList(roles)
          } (this node is role ${role}); remove it or change the role`,
        );
      }
    }
  }
  return out;
}
