/**
 * The operator's access grants (`acl grant|revoke|list`): which key ids or
 * family ids may call which opcode ranges. Stored as JSON in
 * `<data>/acl.json`, mode 0600, written atomically (temporary file +
 * rename). Pure parsing and editing apart from {@link loadAcl} /
 * {@link saveAcl}.
 *
 * ```json
 * {"version":1,"grants":[{"subject":"1a2b3c4d","first":"0xf100","last":"0xf10f"}]}
 * ```
 *
 * @module
 */

import { ErrorCode, MyClerkError } from "../errors.ts";

/** One grant: a subject (key id or family id) may call `first..last`. */
export interface Grant {
  /** 8 lowercase hex digits (a static key id) or 32 (a family id). */
  readonly subject: string;
  /** First opcode of the range (u16). */
  readonly first: number;
  /** Last opcode of the range (u16), inclusive. */
  readonly last: number;
}

/** The whole ACL: a list of grants. */
export interface Acl {
  /** Every grant, in the order they were added. */
  readonly grants: readonly Grant[];
}

/** File name of the ACL inside the data directory. */
export const ACL_FILE = "acl.json";

const KEY_ID = /^[0-9a-f]{8}$/;
const FAMILY = /^[0-9a-f]{32}$/;

function aclError(problem: string, fix: string): MyClerkError {
  return new MyClerkError(ErrorCode.BAD_REQUEST, "acl", { problems: [`${problem}: ${fix}`] });
}

/**
 * Validates a subject: a key id (8 hex digits, as `keys show` prints) or a
 * family id (32 hex digits, as `family create` prints). Lower-cases it.
 */
export function parseSubject(s: string): string {
  const v = s.trim().toLowerCase();
  if (KEY_ID.test(v) || FAMILY.test(v)) return v;
  throw aclError(
    `subject "${s}" is neither a key id nor a family id`,
    "give 8 hex digits (a key id, see `keys show FILE`) or 32 hex digits (a family id)",
  );
}

function parseOpcode(s: string, whole: string): number {
  if (!/^0x[0-9a-fA-F]{1,4}$/.test(s)) {
    throw aclError(
      `range "${whole}": "${s}" is not an opcode`,
      'write opcodes as 0xNNNN, e.g. "0xF100-0xF10F" or "0xF100"',
    );
  }
  return parseInt(s, 16);
}

/**
 * Parses an opcode range `0xF100-0xF10F` (or one opcode `0xF100`). The
 * core range 0x0000-0x00FF is refused: core opcodes are never gated.
 */
export function parseRange(s: string): { first: number; last: number } {
  const parts = s.trim().split("-");
  if (parts.length < 1 || parts.length > 2) {
    throw aclError(`range "${s}" is malformed`, 'write "0xFIRST-0xLAST", e.g. "0xF100-0xF10F"');
  }
  const first = parseOpcode(parts[0], s);
  const last = parts.length === 2 ? parseOpcode(parts[1], s) : first;
  if (last < first) {
    throw aclError(`range "${s}" ends before it starts`, "put the lower opcode first");
  }
  if (first <= 0x00ff) {
    throw aclError(
      `range "${s}" touches the core range 0x0000-0x00FF`,
      "core opcodes are not gated; start at 0x0100 or above",
    );
  }
  return { first, last };
}

/** Renders a range the way {@link parseRange} reads it. */
export function rangeText(first: number, last: number): string {
  const h = (n: number) => `0x${n.toString(16).padStart(4, "0")}`;
  return first === last ? h(first) : `${h(first)}-${h(last)}`;
}

/** Validates the parsed JSON of an ACL file. */
export function parseAcl(raw: unknown, source = ACL_FILE): Acl {
  const bad = (why: string) =>
    aclError(`${source}: ${why}`, "fix the file or rebuild it with `acl grant`");
  if (!raw || typeof raw !== "object" || Array.isArray(raw)) throw bad("not a JSON object");
  const o = raw as Record<string, unknown>;
  if (o.version !== 1) throw bad(`version must be 1, got ${JSON.stringify(o.version)}`);
  if (!Array.isArray(o.grants)) throw bad('"grants" must be an array');
  const grants: Grant[] = [];
  o.grants.forEach((g, i) => {
    if (!g || typeof g !== "object") throw bad(`grants[${i}] is not an object`);
    const r = g as Record<string, unknown>;
    if (
      typeof r.subject !== "string" || typeof r.first !== "string" || typeof r.last !== "string"
    ) {
      throw bad(`grants[${i}] needs "subject", "first" and "last" strings`);
    }
    const range = parseRange(`${r.first}-${r.last}`);
    grants.push({ subject: parseSubject(r.subject), ...range });
  });
  return { grants };
}

/** Serialises an ACL (opcodes as `0xNNNN` strings, readable by people). */
export function aclJson(acl: Acl): string {
  const h = (n: number) => `0x${n.toString(16).padStart(4, "0")}`;
  return JSON.stringify(
    {
      version: 1,
      grants: acl.grants.map((g) => ({ subject: g.subject, first: h(g.first), last: h(g.last) })),
    },
    null,
    2,
  ) + "\n";
}

/** Adds a grant (a no-op when an identical grant exists). */
export function grant(acl: Acl, g: Grant): Acl {
  const dup = acl.grants.some((x) =>
    x.subject === g.subject && x.first === g.first && x.last === g.last
  );
  return dup ? acl : { grants: [...acl.grants, g] };
}

/**
 * Removes `first..last` from a subject's grants (a grant partly inside the
 * range is cut, one spanning it is split). Returns the new ACL and whether
 * anything changed.
 */
export function revoke(acl: Acl, g: Grant): { acl: Acl; changed: boolean } {
  const out: Grant[] = [];
  let changed = false;
  for (const x of acl.grants) {
    if (x.subject !== g.subject || x.last < g.first || x.first > g.last) {
      out.push(x);
      continue;
    }
    changed = true;
    if (x.first < g.first) out.push({ subject: x.subject, first: x.first, last: g.first - 1 });
    if (x.last > g.last) out.push({ subject: x.subject, first: g.last + 1, last: x.last });
  }
  return { acl: { grants: out }, changed };
}

/** True when `subject` holds a grant covering `opcode`. */
export function granted(acl: Acl, subject: string, opcode: number): boolean {
  return acl.grants.some((g) => g.subject === subject && opcode >= g.first && opcode <= g.last);
}

/** Reads `<data>/acl.json`; a missing file is the empty ACL. */
export async function loadAcl(dataDir: string): Promise<Acl> {
  const path = `${dataDir}/${ACL_FILE}`;
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return { grants: [] };
    throw aclError(
      `${path}: cannot read (${(e as Error).message})`,
      "check the file's owner and mode",
    );
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw aclError(`${path}: not valid JSON (${(e as Error).message})`, "fix or delete the file");
  }
  return parseAcl(raw, path);
}

/** Writes `<data>/acl.json` with mode 0600 (temporary file, then rename). */
export async function saveAcl(dataDir: string, acl: Acl): Promise<string> {
  await Deno.mkdir(dataDir, { recursive: true });
  const path = `${dataDir}/${ACL_FILE}`;
  const tmp = `${path}.tmp-${Deno.pid}`;
  await Deno.writeTextFile(tmp, aclJson(acl), { mode: 0o600 });
  await Deno.chmod(tmp, 0o600);
  await Deno.rename(tmp, path);
  return path;
}
