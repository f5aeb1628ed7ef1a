/**
 * The gateway's configuration: `config.json` in its data directory
 * (`DATA/plugin-data/sms-gateway/config.json`), written by the operator.
 * Absent file: no members, defaults everywhere. A bad file refuses to start
 * with the field named.
 *
 * @module
 */
import { EMERGENCY_DEFAULTS, type EmergencyConfig, normalizeNumber } from "./emergency.ts";
import type { Member } from "./routing.ts";
import { TAN_DEFAULTS, type TanOptions } from "./tan.ts";

/** Outbox retry settings. */
export interface OutboxConfig {
  /** Wait before retrying a failed send (default 5000 ms, doubled per attempt). */
  readonly retryMs: number;
  /** Attempts before a message is `failed` (default 5). */
  readonly maxAttempts: number;
  /** Deadline of one GSM_SMS_SEND call (default 60000 ms). */
  readonly sendTimeoutMs: number;
}

/** The whole configuration. */
export interface GatewayConfig {
  /** Family members. */
  readonly members: readonly Member[];
  /** TAN TTLs. */
  readonly tan: TanOptions;
  /** Emergency gateway. */
  readonly emergency: EmergencyConfig;
  /** Outbox. */
  readonly outbox: OutboxConfig;
  /** Modem start-up: call GSM_MODEM_INIT (the modem plugin's own config.json names the port). */
  readonly modem: {
    /** Initialise the modem at start and after it reports an error (default true). */
    readonly init: boolean;
    /** Extra INIT fields (`port`, `pin`, `mode`, …), passed as they are. */
    readonly initPayload: Readonly<Record<string, unknown>>;
    /** Retry period while INIT fails (default 10000 ms). */
    readonly retryMs: number;
  };
}

/** Defaults of {@link OutboxConfig}. */
export const OUTBOX_DEFAULTS: OutboxConfig = {
  retryMs: 5_000,
  maxAttempts: 5,
  sendTimeoutMs: 60_000,
};

function obj(v: unknown, name: string): Record<string, unknown> {
  if (v === undefined) return {};
  if (typeof v !== "object" || v === null || Array.isArray(v)) {
    throw new Error(`config ${name}: not an object`);
  }
  return v as Record<string, unknown>;
}

function num(
  o: Record<string, unknown>,
  k: string,
  def: number,
  min: number,
  max: number,
  at: string,
): number {
  const v = o[k] ?? def;
  if (typeof v !== "number" || !Number.isFinite(v) || v < min || v > max) {
    throw new Error(`config ${at}.${k}: a number ${min}-${max}`);
  }
  return v;
}

function strs(o: Record<string, unknown>, k: string, at: string): string[] {
  const v = o[k] ?? [];
  if (!Array.isArray(v) || !v.every((x) => typeof x === "string" && x.length > 0)) {
    throw new Error(`config ${at}.${k}: a list of strings`);
  }
  return v as string[];
}

function bool(o: Record<string, unknown>, k: string, def: boolean, at: string): boolean {
  const v = o[k] ?? def;
  if (typeof v !== "boolean") throw new Error(`config ${at}.${k}: true or false`);
  return v;
}

/** Validates a parsed config value. Throws an Error naming the field. */
export function parseConfig(raw: unknown): GatewayConfig {
  const r = obj(raw, "(top level)");
  const e = obj(r.emergency, "emergency");
  const cc = typeof e.countryCode === "string" ? e.countryCode : EMERGENCY_DEFAULTS.countryCode;
  const membersRaw = r.members ?? [];
  if (!Array.isArray(membersRaw)) throw new Error("config members: a list");
  const members: Member[] = membersRaw.map((m, i) => {
    const o = obj(m, `members[${i}]`);
    if (typeof o.id !== "string" || !/^[a-z0-9][a-z0-9._-]{0,63}$/i.test(o.id)) {
      throw new Error(`config members[${i}].id: 1-64 letters, digits, . _ -`);
    }
    const keyIds = o.keyIds ?? [];
    if (
      !Array.isArray(keyIds) ||
      !keyIds.every((k) => Number.isInteger(k) && k >= 0 && k <= 0xffffffff)
    ) {
      throw new Error(`config members[${i}].keyIds: a list of u32 key ids`);
    }
    return {
      id: o.id,
      keyIds: keyIds as number[],
      numbers: strs(o, "numbers", `members[${i}]`).map((n) => normalizeNumber(n, cc)),
      tan: bool(o, "tan", true, `members[${i}]`),
      emergency: bool(o, "emergency", false, `members[${i}]`),
      admin: bool(o, "admin", false, `members[${i}]`),
    };
  });
  const ids = new Set<string>();
  for (const m of members) {
    if (ids.has(m.id)) throw new Error(`config members: id ${m.id} twice`);
    ids.add(m.id);
  }
  const t = obj(r.tan, "tan");
  const o = obj(r.outbox, "outbox");
  const probes = strs(e, "probes", "emergency");
  for (const p of probes) {
    if (!/^(?:\[[0-9a-f:]+\]|[a-z0-9.-]+):\d{1,5}$/i.test(p)) {
      throw new Error(`config emergency.probes: ${p} is not host:port`);
    }
  }
  const d = EMERGENCY_DEFAULTS;
  const mo = obj(r.modem, "modem");
  const initPayload = obj(mo.initPayload, "modem.initPayload");
  return {
    members,
    tan: {
      defaultTtlSec: num(t, "defaultTtlSec", TAN_DEFAULTS.defaultTtlSec, 1, 3600, "tan"),
      maxTtlSec: num(t, "maxTtlSec", TAN_DEFAULTS.maxTtlSec, 1, 86400, "tan"),
      minTtlSec: num(t, "minTtlSec", TAN_DEFAULTS.minTtlSec, 0, 3600, "tan"),
    },
    emergency: {
      probes: e.probes === undefined ? d.probes : probes,
      intervalMs: num(e, "intervalMs", d.intervalMs, 20, 3_600_000, "emergency"),
      timeoutMs: num(e, "timeoutMs", d.timeoutMs, 10, 60_000, "emergency"),
      downAfter: num(e, "downAfter", d.downAfter, 1, 100, "emergency"),
      upAfter: num(e, "upAfter", d.upAfter, 1, 100, "emergency"),
      minHoldMs: num(e, "minHoldMs", d.minHoldMs, 0, 86_400_000, "emergency"),
      auto: bool(e, "auto", d.auto, "emergency"),
      alertNumbers: strs(e, "alertNumbers", "emergency").map((n) => normalizeNumber(n, cc)),
      allowedNumbers: strs(e, "allowedNumbers", "emergency").map((n) => normalizeNumber(n, cc)),
      commandsAlways: bool(e, "commandsAlways", d.commandsAlways, "emergency"),
      ...(typeof e.pin === "string" && e.pin !== "" ? { pin: e.pin } : {}),
      countryCode: cc,
    },
    outbox: {
      retryMs: num(o, "retryMs", OUTBOX_DEFAULTS.retryMs, 10, 3_600_000, "outbox"),
      maxAttempts: num(o, "maxAttempts", OUTBOX_DEFAULTS.maxAttempts, 1, 100, "outbox"),
      sendTimeoutMs: num(o, "sendTimeoutMs", OUTBOX_DEFAULTS.sendTimeoutMs, 100, 600_000, "outbox"),
    },
    modem: {
      init: bool(mo, "init", true, "modem"),
      initPayload,
      retryMs: num(mo, "retryMs", 10_000, 50, 3_600_000, "modem"),
    },
  };
}

/** Reads `dir/config.json` (absent: defaults, no members). */
export async function loadConfig(dir: string): Promise<GatewayConfig> {
  let text: string;
  try {
    text = await Deno.readTextFile(`${dir}/config.json`);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return parseConfig({});
    throw e;
  }
  return parseConfig(JSON.parse(text));
}
