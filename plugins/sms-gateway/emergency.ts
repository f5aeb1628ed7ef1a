/**
 * Emergency gateway: internet down/up detection with probes and
 * hysteresis, emergency mode (automatic and manual), SMS commands from
 * allowed numbers, and the texts of the answers.
 *
 * Detection: every `intervalMs` each probe target gets a TCP connect with
 * `timeoutMs`; a round is **ok** when any target answers. The internet is
 * declared down after `downAfter` failed rounds in a row and up after
 * `upAfter` ok rounds in a row, and never twice within `minHoldMs` of the
 * last change — a link that flaps every round changes state at most once
 * per hold time. Emergency mode follows the internet state when `auto` is
 * on; a manual activation stays until a manual deactivation (an internet
 * "up" does not end it).
 *
 * @module
 */

/** Probe and mode settings (`emergency` in config.json). */
export interface EmergencyConfig {
  /** TCP targets `host:port` (each must be in the plugin's net grant). */
  readonly probes: readonly string[];
  /** Round period (default 10000 ms). */
  readonly intervalMs: number;
  /** Connect timeout per target (default 2000 ms). */
  readonly timeoutMs: number;
  /** Failed rounds in a row before "down" (default 3). */
  readonly downAfter: number;
  /** Ok rounds in a row before "up" (default 3). */
  readonly upAfter: number;
  /** Least time between two state changes (default 60000 ms). */
  readonly minHoldMs: number;
  /** Emergency mode follows the internet state (default true). */
  readonly auto: boolean;
  /** Numbers that get alert SMS on mode changes and EMERGENCY_SMS_ALERT. */
  readonly alertNumbers: readonly string[];
  /** Numbers allowed to send SMS commands (besides members with `emergency: true`). */
  readonly allowedNumbers: readonly string[];
  /** Commands are answered only in emergency mode unless this is true (default false). */
  readonly commandsAlways: boolean;
  /** Optional PIN: a command must read `PIN COMMAND`. */
  readonly pin?: string;
  /** Country code for national numbers (default "49"). */
  readonly countryCode: string;
}

/** Defaults for absent fields. */
export const EMERGENCY_DEFAULTS: EmergencyConfig = {
  probes: ["1.1.1.1:443", "9.9.9.9:443"],
  intervalMs: 10_000,
  timeoutMs: 2_000,
  downAfter: 3,
  upAfter: 3,
  minHoldMs: 60_000,
  auto: true,
  alertNumbers: [],
  allowedNumbers: [],
  commandsAlways: false,
  countryCode: "49",
};

/** Internet state as detected. */
export type NetState = "unknown" | "up" | "down";

/** Down/up detection with hysteresis and a minimum hold time (pure). */
export class Hysteresis {
  /** Current state. */
  state: NetState = "unknown";
  /** Failed rounds in a row. */
  fails = 0;
  /** Ok rounds in a row. */
  oks = 0;
  /** Time of the last change (ms), -Infinity before the first. */
  changedAt: number = -Infinity;
  /** State changes so far. */
  changes = 0;

  /** Uses `c`'s thresholds. */
  constructor(private readonly c: Pick<EmergencyConfig, "downAfter" | "upAfter" | "minHoldMs">) {}

  /** Records one round; returns the new state when it changed. */
  observe(ok: boolean, now: number): NetState | undefined {
    if (ok) {
      this.oks++;
      this.fails = 0;
    } else {
      this.fails++;
      this.oks = 0;
    }
    const held = now - this.changedAt >= this.c.minHoldMs;
    let next: NetState | undefined;
    if (!ok && this.fails >= this.c.downAfter && this.state !== "down" && held) next = "down";
    // The first verdict "up" needs no hold: at start the state is unknown, not up.
    if (
      ok && this.oks >= this.c.upAfter && this.state !== "up" && (held || this.state === "unknown")
    ) {
      next = "up";
    }
    if (next === undefined) return undefined;
    this.state = next;
    this.changedAt = now;
    this.changes++;
    return next;
  }
}

/** One probe's last result. */
export interface ProbeResult {
  /** `host:port`. */
  readonly target: string;
  /** Connected within the timeout. */
  readonly ok: boolean;
  /** Connect time in ms (or the timeout). */
  readonly ms: number;
  /** Error name when not ok. */
  readonly error?: string;
}

/** TCP connect to `host:port` within `timeoutMs` (the connection is closed at once). */
export async function probeTcp(target: string, timeoutMs: number): Promise<ProbeResult> {
  const i = target.lastIndexOf(":");
  const hostname = target.slice(0, i).replace(/^\[|\]$/g, "");
  const port = Number(target.slice(i + 1));
  const t0 = performance.now();
  let timer: ReturnType<typeof setTimeout> | undefined;
  const conn = Deno.connect({ hostname, port });
  try {
    const c = await Promise.race([
      conn,
      new Promise<never>((_, rej) => {
        timer = setTimeout(() => rej(new Error("timeout")), timeoutMs);
      }),
    ]);
    c.close();
    return { target, ok: true, ms: Math.round(performance.now() - t0) };
  } catch (e) {
    // A connect that completes after the timeout must still be closed.
    conn.then((c) => c.close()).catch(() => {});
    return {
      target,
      ok: false,
      ms: Math.round(performance.now() - t0),
      error: e instanceof Error ? (e.message === "timeout" ? "timeout" : e.name) : String(e),
    };
  } finally {
    clearTimeout(timer);
  }
}

/** Normalises a phone number to `+CC…` (spaces, dashes, `00` and national `0` handled). */
export function normalizeNumber(n: string, countryCode = "49"): string {
  let s = n.replace(/[\s\-/().]/g, "");
  if (s.startsWith("00")) s = "+" + s.slice(2);
  else if (s.startsWith("0")) s = `+${countryCode}${s.slice(1)}`;
  else if (/^\d{10,15}$/.test(s) && s.startsWith(countryCode)) s = "+" + s;
  return s;
}

/** SMS commands. */
export type SmsCommand = "status" | "location" | "health";

const COMMANDS: Readonly<Record<string, SmsCommand>> = {
  status: "status",
  zustand: "status",
  location: "location",
  loc: "location",
  standort: "location",
  position: "location",
  wo: "location",
  health: "health",
  check: "health",
  healthcheck: "health",
  gesundheit: "health",
  test: "health",
};

/** The command in an SMS (`STATUS`, `LOCATION`/`STANDORT`, `HEALTH`/`CHECK`), after the PIN if one is set. */
export function parseCommand(text: string, pin?: string): SmsCommand | undefined {
  const words = text.trim().toLowerCase().replace(/[!?.]+$/, "").split(/\s+/);
  if (pin !== undefined && pin !== "") {
    if (words.length !== 2 || words[0] !== pin.toLowerCase()) return undefined;
    return COMMANDS[words[1]];
  }
  return words.length === 1 ? COMMANDS[words[0]] : undefined;
}

/** A GNSS fix as the modem plugin reports it. */
export interface Position {
  /** Has a fix. */
  readonly fix: boolean;
  /** Latitude (degrees). */
  readonly lat?: number;
  /** Longitude (degrees). */
  readonly lon?: number;
  /** Altitude (m). */
  readonly altitude?: number;
  /** Fix time (ISO). */
  readonly time?: string;
}

function hhmm(ms: number): string {
  const d = new Date(ms);
  return `${String(d.getHours()).padStart(2, "0")}:${String(d.getMinutes()).padStart(2, "0")}`;
}

/** What the status/health texts need. */
export interface GatewayFacts {
  /** Emergency mode on. */
  readonly emergency: boolean;
  /** Since when (ms) the current mode holds. */
  readonly since: number;
  /** Internet state. */
  readonly internet: NetState;
  /** Modem state from GSM_MODEM_STATUS (`ready`, …) or `unreachable`. */
  readonly modem: string;
  /** Signal in dBm, null when unknown. */
  readonly dbm: number | null;
  /** Messages waiting in the outbox. */
  readonly queued: number;
  /** Gateway uptime (s). */
  readonly uptimeSec: number;
  /** Probe targets ok / total in the last round. */
  readonly probesOk: number;
  /** Probe targets. */
  readonly probesTotal: number;
}

/** The STATUS answer (one SMS, under 160 characters). */
export function statusText(f: GatewayFacts): string {
  const mode = f.emergency ? `EMERGENCY since ${hhmm(f.since)}` : "normal";
  return `MyClerk: ${mode}, internet ${f.internet}, modem ${f.modem}, signal ${
    f.dbm === null ? "?" : `${f.dbm} dBm`
  }, outbox ${f.queued}`;
}

/** The LOCATION answer. */
export function locationText(p: Position | undefined): string {
  if (p === undefined) return "MyClerk location: GNSS unavailable";
  if (!p.fix || p.lat === undefined || p.lon === undefined) {
    return "MyClerk location: no GNSS fix yet";
  }
  const lat = p.lat.toFixed(5);
  const lon = p.lon.toFixed(5);
  return `MyClerk location: ${lat},${lon}${
    p.time ? ` at ${p.time}` : ""
  } https://maps.google.com/?q=${lat},${lon}`;
}

/** The HEALTH answer. */
export function healthText(f: GatewayFacts): string {
  const up = f.uptimeSec >= 3600
    ? `${Math.floor(f.uptimeSec / 3600)}h${
      String(Math.floor((f.uptimeSec % 3600) / 60)).padStart(2, "0")
    }m`
    : `${Math.floor(f.uptimeSec / 60)}m`;
  return `MyClerk health: gateway up ${up}, modem ${f.modem}, signal ${
    f.dbm === null ? "?" : `${f.dbm} dBm`
  }, probes ${f.probesOk}/${f.probesTotal} ok, power mains (no battery data)`;
}
