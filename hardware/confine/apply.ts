/**
 * Applies a {@link ConfinePlan} to the calling thread through libc's
 * syscall(2): PR_SET_NO_NEW_PRIVS, a Landlock ruleset (filesystem rules,
 * TCP port rules at ABI >= 4, scopes at ABI >= 6), landlock_restrict_self,
 * and the seccomp filter. Landlock and no_new_privs hold for the calling
 * thread and whatever it execve()s, which is how the launcher uses it.
 *
 * @module
 */
import { ErrorCode, MyClerkError } from "../../core/errors.ts";
import { alloc, ERRNO, Libc, SYS } from "../libc.ts";

export { Libc };
import {
  type ConfinePlan,
  FILE_RIGHTS,
  handledFs,
  LANDLOCK,
  netPortAttr,
  pathBeneathAttr,
  rightsOf,
  rulesetAttr,
  SECCOMP,
  seccompProgram,
} from "./plan.ts";

/** The kernel's Landlock ABI version, 0 when Landlock is absent or disabled. */
export function landlockAbi(libc: Libc): number {
  const r = libc.sysSyscallBuf(
    LANDLOCK.SYS_CREATE_RULESET,
    null,
    0n,
    BigInt(LANDLOCK.CREATE_RULESET_VERSION),
  );
  return r > 0 ? r : 0;
}

/** True when this machine's seccomp filter can be built (x86_64 syscall numbers). */
export function seccompSupported(): boolean {
  return Deno.build.arch === "x86_64";
}

/** What was applied. */
export interface Applied {
  /** Landlock ABI the ruleset was built for. */
  readonly abi: number;
  /** Whether the seccomp filter was installed. */
  readonly seccomp: boolean;
  /** Plan paths that do not exist (skipped). */
  readonly missing: readonly string[];
}

function fail(what: string, r: number): never {
  throw new MyClerkError(ErrorCode.INTERNAL_ERROR, `${what} failed: errno ${-r}`, {
    errno: -r,
  });
}

/**
 * Confines the calling thread (and what it executes) by `plan`. Throws when
 * Landlock is unavailable or any step fails: the caller must not go on.
 */
export function applyConfinement(libc: Libc, plan: ConfinePlan): Applied {
  const abi = landlockAbi(libc);
  if (abi === 0) throw new MyClerkError(ErrorCode.SERVICE_UNAVAILABLE, "landlock unavailable");
  let r = libc.sysPrctl(LANDLOCK.PR_SET_NO_NEW_PRIVS, 1n);
  if (r < 0) fail("prctl(PR_SET_NO_NEW_PRIVS)", r);
  const attr = rulesetAttr(abi, plan.connectPorts === "any");
  const rs = libc.sysSyscallBuf(LANDLOCK.SYS_CREATE_RULESET, attr, BigInt(attr.length), 0n);
  if (rs < 0) fail("landlock_create_ruleset", rs);
  const handled = handledFs(abi);
  const missing: string[] = [];
  try {
    for (const rule of plan.paths) {
      let fd = libc.sysOpen(rule.path, SYS.O_PATH | SYS.O_DIRECTORY);
      let isDir = true;
      if (fd === -20 /* ENOTDIR */) {
        fd = libc.sysOpen(rule.path, SYS.O_PATH);
        isDir = false;
      }
      if (fd === -ERRNO.ENOENT) {
        missing.push(rule.path);
        continue;
      }
      if (fd < 0) fail(`open(${rule.path})`, fd);
      const allowed = rightsOf(rule.access) & handled & (isDir ? ~0 : FILE_RIGHTS);
      r = libc.sysSyscallIBuf(
        LANDLOCK.SYS_ADD_RULE,
        BigInt(rs),
        BigInt(LANDLOCK.RULE_PATH_BENEATH),
        pathBeneathAttr(allowed, fd),
      );
      libc.close(fd);
      if (r < 0) fail(`landlock_add_rule(${rule.path})`, r);
    }
    if (abi >= 4) {
      const ports = plan.connectPorts === "any" ? [] : plan.connectPorts;
      for (const port of ports) {
        r = libc.sysSyscallIBuf(
          LANDLOCK.SYS_ADD_RULE,
          BigInt(rs),
          BigInt(LANDLOCK.RULE_NET_PORT),
          netPortAttr(LANDLOCK.NET_CONNECT_TCP, port),
        );
        if (r < 0) fail(`landlock_add_rule(port ${port})`, r);
      }
    }
    r = libc.sysSyscall(LANDLOCK.SYS_RESTRICT_SELF, BigInt(rs), 0n);
    if (r < 0) fail("landlock_restrict_self", r);
  } finally {
    libc.close(rs);
  }
  let seccomp = false;
  if (seccompSupported()) {
    const prog = seccompProgram(plan.denyInetSockets);
    // struct sock_fprog { u16 len; (pad) ; struct sock_filter *filter; }
    const fprog = alloc(16);
    const dv = new DataView(fprog.buffer);
    dv.setUint16(0, prog.length / 8, true);
    dv.setBigUint64(8, libc.addressOf(prog), true);
    r = libc.sysSyscallIBuf(SECCOMP.SYS_SECCOMP, BigInt(SECCOMP.SET_MODE_FILTER), 0n, fprog);
    if (r < 0) fail("seccomp(SET_MODE_FILTER)", r);
    seccomp = true;
  }
  return { abi, seccomp, missing };
}
