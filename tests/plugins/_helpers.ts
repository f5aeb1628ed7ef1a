/**
 * Shared set-up for plugin tests: a temp node data dir with plugins copied
 * (or written) into it, a policy file, and a started host; cleanup removes
 * everything.
 *
 * @module
 */
import { PluginHost } from "../../plugins/runtime/host.ts";
import type { PeerInfo } from "../../plugins/sdk/types.ts";

/** The repo's plugins folder. */
export const PLUGINS_SRC = new URL("../../plugins/", import.meta.url).pathname.replace(/\/$/, "");

/** A peer for dispatch calls. */
export const PEER: PeerInfo = { sessionId: 7, keyId: 1, tier: 3, remote: "127.0.0.1:5657" };

/** A temp world: data dir, plugins dir, policy path. */
export interface World {
  readonly root: string;
  readonly dataDir: string;
  readonly pluginsDir: string;
  readonly policyFile: string;
  readonly logs: Record<string, unknown>[];
}

/** Creates a temp world. */
export async function makeWorld(): Promise<World> {
  const root = await Deno.makeTempDir({ prefix: "myclerk-plugins-" });
  const dataDir = `${root}/data`;
  const pluginsDir = `${dataDir}/plugins`;
  await Deno.mkdir(pluginsDir, { recursive: true });
  return { root, dataDir, pluginsDir, policyFile: `${root}/policy.json`, logs: [] };
}

/** Copies a folder recursively. */
export async function copyDir(from: string, to: string): Promise<void> {
  await Deno.mkdir(to, { recursive: true });
  for await (const e of Deno.readDir(from)) {
    if (e.isDirectory) await copyDir(`${from}/${e.name}`, `${to}/${e.name}`);
    else if (e.isFile) await Deno.copyFile(`${from}/${e.name}`, `${to}/${e.name}`);
  }
}

/**
 * Writes a plugin folder from a manifest and JavaScript module source
 * (`mod.js`: `deno test` type-checks Worker modules, and these test plugins
 * are deliberately untyped).
 */
export async function writePlugin(
  w: World,
  manifest: Record<string, unknown>,
  source: string,
): Promise<string> {
  const dir = `${w.pluginsDir}/${manifest.name}`;
  await Deno.mkdir(dir, { recursive: true });
  await Deno.writeTextFile(
    `${dir}/plugin.json`,
    JSON.stringify({ entry: "mod.js", ...manifest }, null, 2),
  );
  await Deno.writeTextFile(`${dir}/mod.js`, source);
  return dir;
}

/** Writes the policy file. */
export async function writePolicy(w: World, policy: Record<string, unknown>): Promise<void> {
  await Deno.writeTextFile(w.policyFile, JSON.stringify({ version: 1, ...policy }, null, 2));
}

/** Starts a host on the world. */
export function startHost(
  w: World,
  extra: { busRoot?: string; restartBaseMs?: number } = {},
): Promise<PluginHost> {
  return PluginHost.start({
    pluginsDir: w.pluginsDir,
    policyFile: w.policyFile,
    dataDir: w.dataDir,
    busRoot: extra.busRoot ?? `${w.root}/no-buses`,
    restartBaseMs: extra.restartBaseMs ?? 50,
    log: (r) => w.logs.push(r),
  });
}

/** Removes the world. */
export async function dropWorld(w: World): Promise<void> {
  await Deno.remove(w.root, { recursive: true }).catch(() => {});
}

/** Waits until `cond()` holds, polling every 20 ms, at most `ms`. */
export async function until(cond: () => boolean, ms = 10_000, what = "condition"): Promise<void> {
  const end = performance.now() + ms;
  while (!cond()) {
    if (performance.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Throws unless `cond`. */
export function assert(cond: unknown, msg = "assertion failed"): asserts cond {
  if (!cond) throw new Error(msg);
}

/** Throws unless `a` and `b` have the same JSON. */
export function assertEq(a: unknown, b: unknown, msg = ""): void {
  const sa = JSON.stringify(a);
  const sb = JSON.stringify(b);
  if (sa !== sb) throw new Error(`${msg} expected ${sb}, got ${sa}`);
}
