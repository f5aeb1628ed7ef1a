/**
 * Shared set-up for the I2C/SPI/CAN VM suites: one repo plugin copied into a
 * temp world, granted its bus and libc by policy, run by a real PluginHost
 * in its own (confined) process against the VM's real buses; requests go
 * through `host.dispatch`, pushed events are collected per session.
 *
 * @module
 */
import { ErrorCode } from "../../core/errors.ts";
import { type PluginEvent, PluginHost } from "../../plugins/runtime/host.ts";
import type { PeerInfo } from "../../plugins/sdk/types.ts";
import {
  assert,
  assertEq,
  copyDir,
  dropWorld,
  makeWorld,
  PLUGINS_SRC,
  type World,
  writePolicy,
} from "../plugins/_helpers.ts";

export { assert, assertEq, ErrorCode };

/** True inside the hwvm VM. */
export const IN_VM = Deno.env.get("HWVM") === "1";

/** A peer of session `id` at tier 3 (hardware writes need tier 3). */
export function peer(id: number, tier = 3): PeerInfo {
  return { sessionId: id, keyId: id, tier, remote: "127.0.0.1:5657" };
}

/** A started plugin with helpers. */
export interface BusRig {
  /** The host. */
  readonly host: PluginHost;
  /** Events pushed so far, per session id. */
  readonly events: Map<number, PluginEvent[]>;
  /** Sends a request as `session`; resolves to the payload, throws on an error answer. */
  call(op: number, payload: unknown, session?: number, tier?: number): Promise<unknown>;
  /** Sends a request and expects the error `code` (and `detail` when given); returns its detail. */
  callErr(
    op: number,
    payload: unknown,
    code: number,
    detail?: string,
    session?: number,
  ): Promise<string>;
  /** Stops the host and removes the world. */
  stop(): Promise<void>;
}

/** Starts the repo plugin `name` granted libc and `bus`, buses detected below `/`. */
export async function startBusPlugin(name: string, bus: string): Promise<BusRig> {
  const w: World = await makeWorld();
  await copyDir(`${PLUGINS_SRC}/${name}`, `${w.pluginsDir}/${name}`);
  await writePolicy(w, {
    plugins: { [name]: { trusted: true, ffi: ["libc"], buses: [bus] } },
  });
  let host: PluginHost;
  try {
    // Under TCG a plugin process needs well over the default 15 s to compile and start.
    host = await PluginHost.start({
      pluginsDir: w.pluginsDir,
      policyFile: w.policyFile,
      dataDir: w.dataDir,
      busRoot: "/",
      restartBaseMs: 50,
      startTimeoutMs: 90_000,
      log: (r) => w.logs.push(r),
    });
  } catch (e) {
    await dropWorld(w);
    throw e;
  }
  const st = host.list().find((s) => s.name === name);
  if (st?.state !== "running") {
    const logs = host.logs(name, 30).join("\n");
    await host.close();
    await dropWorld(w);
    throw new Error(`${name} not running: ${st?.state} ${st?.reason}\n${logs}`);
  }
  const events = new Map<number, PluginEvent[]>();
  host.onEvent((ev) => {
    if (ev.sessionId === undefined) return;
    const l = events.get(ev.sessionId) ?? [];
    l.push(ev);
    events.set(ev.sessionId, l);
  });
  const call = async (op: number, payload: unknown, session = 7, tier = 3) => {
    const r = await host.dispatch({ opcode: op, tier, payload, peer: peer(session, tier) });
    if (!r.ok) {
      throw new Error(
        `0x${op.toString(16)} failed: ${r.error.code} ${r.error.detail} ${
          JSON.stringify(r.error.extra)
        }`,
      );
    }
    return r.payload;
  };
  const callErr = async (
    op: number,
    payload: unknown,
    code: number,
    detail?: string,
    session = 7,
  ) => {
    const r = await host.dispatch({ opcode: op, tier: 3, payload, peer: peer(session) });
    assert(!r.ok, `0x${op.toString(16)} ${JSON.stringify(payload)} should fail`);
    if (r.ok) return "";
    assertEq(r.error.code, code, `0x${op.toString(16)} error code (${r.error.detail})`);
    if (detail !== undefined) assertEq(r.error.detail, detail, `0x${op.toString(16)} detail`);
    return r.error.detail;
  };
  return {
    host,
    events,
    call,
    callErr,
    stop: async () => {
      await host.close();
      await dropWorld(w);
    },
  };
}

/** Runs a command to completion; returns stdout, throws with stderr on failure. */
export async function sh(cmd: string, ...args: string[]): Promise<string> {
  const o = await new Deno.Command(cmd, { args, stdout: "piped", stderr: "piped" }).output();
  const out = new TextDecoder().decode(o.stdout);
  if (!o.success) {
    throw new Error(
      `${cmd} ${args.join(" ")}: exit ${o.code}: ${new TextDecoder().decode(o.stderr)}`,
    );
  }
  return out;
}

/** Waits until `cond()` resolves true, polling every 10 ms, at most `ms`. */
export async function until(
  cond: () => boolean | Promise<boolean>,
  ms = 10_000,
  what = "condition",
): Promise<void> {
  const end = performance.now() + ms;
  while (!(await cond())) {
    if (performance.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Hex of bytes. */
export function hex(b: Uint8Array): string {
  return [...b].map((x) => x.toString(16).padStart(2, "0")).join("");
}
