/**
 * The confining launcher of FFI plugin processes. Run by the host as
 *
 *     deno run --no-prompt --no-config --allow-ffi=<libc> --allow-read --allow-write \
 *       launcher.ts <plan> <deno> <args...>
 *
 * where `<plan>` is a base64 JSON {@link ConfinePlan}. It first makes the
 * plan's symbolic links (the plugin's own Deno cache linking to the node's
 * npm packages), then, on the main thread
 * (the one that will call execve) it sets PR_SET_NO_NEW_PRIVS, builds a
 * Landlock ruleset for the kernel's ABI from the plan, restricts itself,
 * installs the seccomp filter (x86_64), then execve()s `<deno> <args...>`:
 * the plugin's deno starts already confined, before any of its code loads,
 * and every process it could start inherits the same domain.
 *
 * Any failure exits 126 with one line on stderr (the host logs it and the
 * plugin does not start): a plugin never runs half-confined.
 *
 * @module
 */
import { Libc } from "../libc.ts";
import { applyConfinement } from "./apply.ts";
import type { ConfinePlan } from "./plan.ts";

/** Makes `path` a symbolic link to `target`, replacing whatever is there. */
async function makeLink(path: string, target: string): Promise<void> {
  if (await Deno.readLink(path).catch(() => undefined) === target) return;
  await Deno.remove(path, { recursive: true }).catch(() => {});
  await Deno.symlink(target, path);
}

if (import.meta.main) {
  const [planB64, denoPath, ...args] = Deno.args;
  let libc: Libc | undefined;
  try {
    const plan = JSON.parse(new TextDecoder().decode(
      Uint8Array.from(atob(planB64), (c) => c.charCodeAt(0)),
    )) as ConfinePlan;
    libc = new Libc(plan.libc);
    for (const l of plan.links ?? []) await makeLink(l.path, l.target);
    applyConfinement(libc, plan);
    const envp = Object.entries(plan.env).map(([k, v]) => `${k}=${v}`);
    const r = libc.sysExecve(denoPath, [denoPath, ...args], envp);
    console.error(`confine: execve ${denoPath} failed: errno ${-r}`);
  } catch (e) {
    console.error(`confine: ${(e as Error).message}`);
  }
  Deno.exit(126);
}
