/**
 * GPIO plugin (0x0620-0x0629, draft §6.3.3), in its own process with FFI to
 * libgpiod v1 only (`libgpiod.so.2`; v2 is refused at start, see
 * hardware/gpio.ts). Payloads are in docs/PLUGINS.md ("GPIO").
 *
 * A line is held by one session at a time (the one that requested or
 * watched it); a session that ends releases its lines. Edge events go to
 * the watching session only, as GPIO_EVENT (0x0627), bounded per watch by a
 * token bucket: events over the rate are dropped and counted (`dropped` in
 * the next event), never queued without bound. PWM goes through sysfs
 * `/sys/class/pwm/pwmchipN` where the kernel has one.
 *
 * @module
 */
import {
  asMap,
  definePlugin,
  ErrorCode,
  fail,
  field,
  type PluginContext,
  type PluginDefinition,
} from "@myclerk/plugin-sdk";
import {
  type Bias,
  type Chip,
  type Drive,
  type Edge,
  GpioError,
  GpioFlag,
  type Libgpiod,
  openGpiod,
} from "@myclerk/hardware/gpio.ts";
import { ERRNO, errnoCode, errnoName } from "@myclerk/hardware/errno.ts";
import { HoldTable } from "@myclerk/hardware/holds.ts";

/** GPIO opcodes. */
export const GpioOp = {
  CHIP_LIST: 0x0620,
  LINE_INFO: 0x0621,
  LINE_REQUEST: 0x0622,
  LINE_RELEASE: 0x0623,
  LINE_SET: 0x0624,
  LINE_GET: 0x0625,
  LINE_WATCH: 0x0626,
  EVENT: 0x0627,
  PWM_CONFIGURE: 0x0628,
  PWM_SET: 0x0629,
} as const;

/** Default and largest event rate of one watch (events per second). */
export const WATCH_RATE = { default: 1000, max: 20000 } as const;
const MAX_HANDLES = 64;
const PWM_ROOT = "/sys/class/pwm";
/** How long one event wait blocks a pool thread before the loop looks at its stop flag. */
const WAIT_MS = 200;

interface Held {
  readonly chip: string;
  readonly offset: number;
  readonly line: bigint;
  readonly kind: "input" | "output" | "watch";
  watch?: Watch;
}

interface Watch {
  stopped: boolean;
  done: Promise<void>;
  seq: number;
  dropped: number;
  tokens: number;
  last: number;
  readonly rate: number;
}

let gpiod: Libgpiod | undefined;
let ctxRef: PluginContext | undefined;
const chips = new Map<string, Chip>();
/**
 * Requested lines by handle, keyed `chip:offset`. One handle per line: libgpiod
 * requests a line once (a second request of it is EBUSY), whichever session asks.
 */
const handles = new HoldTable<Held>(MAX_HANDLES, { oneHandlePerKey: true });
const lineKey = (chip: string, offset: number) => `${chip}:${offset}`;

function lib(): Libgpiod {
  if (gpiod === undefined) fail(ErrorCode.SERVICE_UNAVAILABLE, "libgpiod-not-loaded");
  return gpiod;
}

function grantedChips(): string[] {
  return (ctxRef?.grant.devices ?? []).filter((d) => /^\/dev\/gpiochip\d+$/.test(d)).sort();
}

function chipOf(path: string): Chip {
  if (!grantedChips().includes(path)) fail(ErrorCode.FORBIDDEN, "chip-not-granted", { chip: path });
  let c = chips.get(path);
  if (c === undefined) {
    try {
      c = lib().open(path);
    } catch (e) {
      gpioFail(e);
    }
    chips.set(path, c);
  }
  return c;
}

/** Detail per protocol code of a failed libgpiod call (the code itself is errnoCode's). */
const GPIO_DETAIL: Readonly<Partial<Record<number, string>>> = {
  [ErrorCode.BAD_REQUEST]: "gpio-invalid",
  [ErrorCode.FORBIDDEN]: "gpio-access",
  [ErrorCode.NOT_FOUND]: "gpio-no-device",
  [ErrorCode.UNSUPPORTED]: "gpio-not-supported",
  [ErrorCode.TIMEOUT]: "gpio-timeout",
  [ErrorCode.SERVICE_UNAVAILABLE]: "gpio-unavailable",
};

/** A libgpiod failure as the protocol error of its errno (hardware/errno.ts, docs/PLUGINS.md §8.3). */
function gpioFail(e: unknown): never {
  if (!(e instanceof GpioError)) throw e;
  const extra = { fn: e.fn, errno: e.errno, errnoName: errnoName(e.errno) };
  const code = errnoCode(e.errno);
  // EBUSY: another program (or the kernel) holds the line; our own holders are device-busy.
  const detail = e.errno === ERRNO.EBUSY ? "line-busy" : GPIO_DETAIL[code] ?? "gpio-error";
  fail(code, detail, extra);
}

function int(m: Readonly<Record<string, unknown>>, k: string, lo: number, hi: number): number {
  const v = field(m, k, "number");
  if (!Number.isInteger(v) || v < lo || v > hi) {
    fail(ErrorCode.BAD_REQUEST, `field:${k}`, { min: lo, max: hi });
  }
  return v;
}

function pick<T extends string>(
  m: Readonly<Record<string, unknown>>,
  k: string,
  ok: readonly T[],
  dflt: T,
): T {
  const v = m[k];
  if (v === undefined) return dflt;
  if (!ok.includes(v as T)) fail(ErrorCode.BAD_REQUEST, `field:${k}`, { allowed: [...ok] });
  return v as T;
}

/** Request flags from `activeLow`, `bias`, `drive`. */
function flags(m: Readonly<Record<string, unknown>>, output: boolean): number {
  let f = 0;
  if (m.activeLow !== undefined && field(m, "activeLow", "boolean")) f |= GpioFlag.ACTIVE_LOW;
  const bias = pick<Bias>(m, "bias", ["as-is", "disable", "pull-up", "pull-down"], "as-is");
  if (bias === "disable") f |= GpioFlag.BIAS_DISABLE;
  if (bias === "pull-up") f |= GpioFlag.BIAS_PULL_UP;
  if (bias === "pull-down") f |= GpioFlag.BIAS_PULL_DOWN;
  const drive = pick<Drive>(m, "drive", ["push-pull", "open-drain", "open-source"], "push-pull");
  if (drive !== "push-pull" && !output) fail(ErrorCode.BAD_REQUEST, "drive-needs-output");
  if (drive === "open-drain") f |= GpioFlag.OPEN_DRAIN;
  if (drive === "open-source") f |= GpioFlag.OPEN_SOURCE;
  return f;
}

function heldBy(m: Readonly<Record<string, unknown>>, session: number): Held {
  return handles.get(session, field(m, "handle", "number")).value;
}

/** May `session` request `chip:offset`? SERVICE_UNAVAILABLE `device-busy` when a handle of this plugin holds it. */
function claim(session: number, chip: string, offset: number): void {
  handles.check(session, lineKey(chip, offset), false, { chip, offset });
}

function lineArgs(
  m: Readonly<Record<string, unknown>>,
): { chip: Chip; offset: number; line: bigint } {
  const chip = chipOf(field(m, "chip", "string"));
  const n = lib().chipInfo(chip).lines;
  const offset = int(m, "offset", 0, Math.max(0, n - 1));
  return { chip, offset, line: lib().line(chip, offset) };
}

/** Stops a line's watch and releases it (already taken from the table). */
async function release(x: Held): Promise<void> {
  if (x.watch !== undefined) {
    x.watch.stopped = true;
    await x.watch.done; // the pool thread's wait must end before the line's fd goes
  }
  lib().release(x.line);
}

/** The event loop of one watch: wait on a pool thread, push what came, within the rate. */
async function watchLoop(n: number, session: number, x: Held, w: Watch): Promise<void> {
  while (!w.stopped) {
    let evs;
    try {
      evs = await lib().events(x.line, WAIT_MS);
    } catch (e) {
      ctxRef?.log(`gpio: watch ${n} stopped:`, String(e));
      return;
    }
    if (w.stopped) return;
    const now = performance.now();
    w.tokens = Math.min(Math.max(16, w.rate / 10), w.tokens + ((now - w.last) / 1000) * w.rate);
    w.last = now;
    for (const ev of evs) {
      if (w.tokens < 1) {
        w.dropped++;
        continue;
      }
      w.tokens--;
      ctxRef?.emit(GpioOp.EVENT, {
        handle: n,
        chip: x.chip,
        offset: x.offset,
        edge: ev.edge,
        seq: ++w.seq,
        sec: Number(ev.timestampNs / 1_000_000_000n),
        nsec: Number(ev.timestampNs % 1_000_000_000n),
        dropped: w.dropped,
      }, session);
    }
  }
}

function pwmPath(
  m: Readonly<Record<string, unknown>>,
): { chip: string; channel: number; dir: string } {
  const chip = field(m, "chip", "string");
  if (!/^pwmchip\d+$/.test(chip)) fail(ErrorCode.BAD_REQUEST, "field:chip");
  const channel = int(m, "channel", 0, 255);
  let present = false;
  try {
    present = Deno.statSync(`${PWM_ROOT}/${chip}`).isDirectory;
  } catch { /* absent */ }
  if (!present) fail(ErrorCode.UNSUPPORTED, "no-pwmchip", { path: `${PWM_ROOT}/${chip}` });
  const grant = ctxRef?.grant.write ?? [];
  if (
    !grant.some((g) =>
      PWM_ROOT === g || PWM_ROOT.startsWith(g + "/") || `${PWM_ROOT}/${chip}`.startsWith(g + "/")
    )
  ) {
    fail(ErrorCode.FORBIDDEN, "pwm-not-granted");
  }
  return { chip, channel, dir: `${PWM_ROOT}/${chip}/pwm${channel}` };
}

function sysfs(path: string, value: string): void {
  const rc = lib().sysfsWrite(path, value);
  if (rc < 0) gpioFail(new GpioError(`write ${path}`, -rc));
}

/** The GPIO plugin. */
export default definePlugin({
  events: [GpioOp.EVENT],
  init(ctx) {
    ctxRef = ctx;
    const path = ctx.grant.ffi.libgpiod;
    if (path === undefined) fail(ErrorCode.SERVICE_UNAVAILABLE, "ffi-libgpiod-not-granted");
    try {
      gpiod = openGpiod(path);
    } catch (e) {
      fail(ErrorCode.SERVICE_UNAVAILABLE, e instanceof Error ? e.message : String(e));
    }
    ctx.log(`libgpiod ${gpiod.version()} (${path})`);
  },
  async close() {
    for (const h of handles.takeAll()) await release(h.value);
    for (const c of chips.values()) gpiod?.close(c);
    chips.clear();
    gpiod?.unload();
    gpiod = undefined;
  },
  async sessionClosed(sessionId) {
    for (const h of handles.takeSession(sessionId)) await release(h.value);
  },
  handlers: {
    [GpioOp.CHIP_LIST]: () => ({
      chips: grantedChips().map((path) => {
        const c = chipOf(path);
        return { path, ...lib().chipInfo(c) };
      }),
      pwm: (() => {
        try {
          return [...Deno.readDirSync(PWM_ROOT)].map((e) => e.name).filter((n) =>
            n.startsWith("pwmchip")
          ).sort();
        } catch {
          return [];
        }
      })(),
    }),
    [GpioOp.LINE_INFO]: (payload, ctx) => {
      const m = asMap(payload);
      const chip = chipOf(field(m, "chip", "string"));
      const n = lib().chipInfo(chip).lines;
      const offsets = m.offset === undefined
        ? [...Array(n).keys()]
        : [int(m, "offset", 0, Math.max(0, n - 1))];
      return {
        lines: offsets.map((o) => {
          const holder = handles.holders(lineKey(chip.path, o))[0];
          return {
            ...lib().info(lib().line(chip, o), o),
            heldBy: holder === undefined
              ? null
              : holder === ctx.peer.sessionId
              ? "you"
              : "other-session",
          };
        }),
      };
    },
    [GpioOp.LINE_REQUEST]: (payload, ctx) => {
      const m = asMap(payload);
      const { chip, offset, line } = lineArgs(m);
      const direction = pick(m, "direction", ["input", "output"] as const, "input");
      const output = direction === "output";
      const f = flags(m, output);
      const session = ctx.peer.sessionId;
      claim(session, chip.path, offset);
      const value = m.value === undefined ? 0 : int(m, "value", 0, 1);
      try {
        lib().request(line, "myclerk", output ? { kind: "output", value } : { kind: "input" }, f);
      } catch (e) {
        gpioFail(e);
      }
      const held: Held = { chip: chip.path, offset, line, kind: direction };
      const n = handles.add(session, lineKey(chip.path, offset), false, held).handle;
      return { handle: n, info: lib().info(line, offset) };
    },
    [GpioOp.LINE_RELEASE]: async (payload, ctx) => {
      await release(
        handles.take(ctx.peer.sessionId, field(asMap(payload), "handle", "number")).value,
      );
      return {};
    },
    [GpioOp.LINE_SET]: (payload, ctx) => {
      const m = asMap(payload);
      const x = heldBy(m, ctx.peer.sessionId);
      if (x.kind !== "output") fail(ErrorCode.BAD_REQUEST, "line-not-output");
      const v = int(m, "value", 0, 1);
      try {
        lib().set(x.line, v);
        return { value: lib().get(x.line) };
      } catch (e) {
        gpioFail(e);
      }
    },
    [GpioOp.LINE_GET]: (payload, ctx) => {
      const x = heldBy(asMap(payload), ctx.peer.sessionId);
      try {
        return { value: lib().get(x.line) };
      } catch (e) {
        gpioFail(e);
      }
    },
    [GpioOp.LINE_WATCH]: (payload, ctx) => {
      const m = asMap(payload);
      const { chip, offset, line } = lineArgs(m);
      const edge = pick<Edge>(m, "edge", ["rising", "falling", "both"], "both");
      const f = flags(m, false);
      const rate = m.maxRate === undefined
        ? WATCH_RATE.default
        : int(m, "maxRate", 1, WATCH_RATE.max);
      const session = ctx.peer.sessionId;
      claim(session, chip.path, offset);
      try {
        lib().request(line, "myclerk", { kind: "events", edge }, f);
      } catch (e) {
        gpioFail(e);
      }
      const x: Held = { chip: chip.path, offset, line, kind: "watch" };
      const w: Watch = {
        stopped: false,
        done: Promise.resolve(),
        seq: 0,
        dropped: 0,
        tokens: Math.max(16, rate / 10),
        last: performance.now(),
        rate,
      };
      x.watch = w;
      const n = handles.add(session, lineKey(chip.path, offset), false, x).handle;
      w.done = watchLoop(n, session, x, w);
      return { handle: n, edge, maxRate: rate, value: lib().get(line) };
    },
    [GpioOp.EVENT]: () => fail(ErrorCode.BAD_REQUEST, "event-only-opcode"),
    [GpioOp.PWM_CONFIGURE]: (payload) => {
      const m = asMap(payload);
      const { chip, channel, dir } = pwmPath(m);
      let exported = false;
      try {
        exported = Deno.statSync(dir).isDirectory;
      } catch { /* not yet */ }
      if (!exported) sysfs(`${PWM_ROOT}/${chip}/export`, String(channel));
      const periodNs = int(m, "periodNs", 1, 4_000_000_000);
      sysfs(`${dir}/period`, String(periodNs));
      if (m.dutyNs !== undefined) sysfs(`${dir}/duty_cycle`, String(int(m, "dutyNs", 0, periodNs)));
      if (m.polarity !== undefined) {
        sysfs(`${dir}/polarity`, pick(m, "polarity", ["normal", "inversed"] as const, "normal"));
      }
      if (m.enable !== undefined) sysfs(`${dir}/enable`, field(m, "enable", "boolean") ? "1" : "0");
      return { chip, channel, periodNs };
    },
    [GpioOp.PWM_SET]: (payload) => {
      const m = asMap(payload);
      const { chip, channel, dir } = pwmPath(m);
      const dutyNs = int(m, "dutyNs", 0, 4_000_000_000);
      sysfs(`${dir}/duty_cycle`, String(dutyNs));
      if (m.enable !== undefined) sysfs(`${dir}/enable`, field(m, "enable", "boolean") ? "1" : "0");
      return { chip, channel, dutyNs };
    },
  },
}) as PluginDefinition;
