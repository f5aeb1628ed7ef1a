/**
 * Set-up shared by the GSM tests and bench: the gsm plugin installed in a
 * temp node, a fake sysfs tree with a modem bus (an `option`-driven
 * ttyUSB2), the emulator linked at a path the policy grants, the plugin
 * host, and an event recorder.
 *
 * @module
 */
import { resolveLibrary } from "../../plugins/policy.ts";
import type { PluginEvent, PluginHost } from "../../plugins/runtime/host.ts";
import {
  copyDir,
  dropWorld,
  makeWorld,
  PEER,
  PLUGINS_SRC,
  startHost,
  type World,
  writePolicy,
} from "../plugins/_helpers.ts";
import { type EmuDialect, ModemEmulator } from "./emulator.ts";

/** libc path (always there on Linux glibc). */
export const LIBC = resolveLibrary("libc");

/** A running plugin + emulator pair. */
export interface Rig {
  readonly w: World;
  readonly host: PluginHost;
  readonly emu: ModemEmulator;
  readonly events: PluginEvent[];
  /** Dispatches; returns the DispatchResult. */
  d(opcode: number, payload: unknown, tier?: number): ReturnType<PluginHost["dispatch"]>;
  /** Dispatches and throws unless ok. */
  ok(opcode: number, payload: unknown): Promise<Record<string, unknown>>;
  /** Waits for an event matching `pred` (addressed to our session), returns it. */
  event(
    opcode: number,
    pred: (p: Record<string, unknown>) => boolean,
    ms?: number,
  ): Promise<Record<string, unknown>>;
  close(): Promise<void>;
}

async function fakeModemBus(w: World): Promise<string> {
  const root = `${w.root}/sysroot`;
  await Deno.mkdir(`${root}/sys/class/tty/ttyUSB2/device`, { recursive: true });
  await Deno.symlink(
    "../../../../bus/usb-serial/drivers/option",
    `${root}/sys/class/tty/ttyUSB2/device/driver`,
  );
  return root;
}

/** Starts a rig for `dialect`. */
export async function startRig(
  dialect: EmuDialect,
  emuOpts: { sim?: "READY" | "SIM PIN" | "absent"; pin?: string } = {},
): Promise<Rig> {
  const w = await makeWorld();
  const linkDir = `${w.root}/dev`;
  await Deno.mkdir(linkDir);
  const emu = await ModemEmulator.start({
    dialect,
    libc: LIBC!,
    link: `${linkDir}/modem`,
    ...emuOpts,
  });
  await copyDir(`${PLUGINS_SRC}/gsm`, `${w.pluginsDir}/gsm`);
  await writePolicy(w, {
    plugins: {
      gsm: {
        trusted: true,
        ffi: ["libc"],
        buses: ["modem"],
        read: ["$DATA", linkDir, "/dev/pts"],
        write: ["$DATA", linkDir, "/dev/pts"],
      },
    },
  });
  // The operator lets this plugin use the emulator's link and PTYs (as a test line).
  const mf = `${w.pluginsDir}/gsm/plugin.json`;
  const m = JSON.parse(await Deno.readTextFile(mf));
  m.permissions.read = [...m.permissions.read, linkDir, "/dev/pts"];
  m.permissions.write = [...m.permissions.write, linkDir, "/dev/pts"];
  await Deno.writeTextFile(mf, JSON.stringify(m));
  const host = await startHost(w, { busRoot: await fakeModemBus(w) });
  const events: PluginEvent[] = [];
  host.onEvent((e) => {
    if (e.plugin === "gsm") events.push(e);
  });
  const d = (opcode: number, payload: unknown, tier = 3) =>
    host.dispatch({ opcode, tier, payload, peer: PEER });
  return {
    w,
    host,
    emu,
    events,
    d,
    async ok(opcode, payload) {
      const r = await d(opcode, payload);
      if (!r.ok) {
        throw new Error(
          `0x${opcode.toString(16)}: ${r.error.message} ${JSON.stringify(r.error.extra)}`,
        );
      }
      return r.payload as Record<string, unknown>;
    },
    async event(opcode, pred, ms = 5000) {
      const end = performance.now() + ms;
      for (;;) {
        const e = events.find((x) =>
          x.opcode === opcode && x.sessionId === PEER.sessionId &&
          pred(x.payload as Record<string, unknown>)
        );
        if (e !== undefined) {
          events.splice(events.indexOf(e), 1);
          return e.payload as Record<string, unknown>;
        }
        if (performance.now() > end) {
          throw new Error(
            `no event 0x${opcode.toString(16)} in ${ms} ms; have ${
              JSON.stringify(events.map((x) => [x.opcode, x.sessionId, x.payload]))
            }`,
          );
        }
        await new Promise((r) => setTimeout(r, 10));
      }
    },
    async close() {
      await host.close();
      await emu.stop();
      await dropWorld(w);
    },
  };
}
