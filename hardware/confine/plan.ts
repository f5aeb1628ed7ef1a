/**
 * What an FFI plugin process may touch once confined, as data: the plan the
 * host hands the launcher (hardware/confine/launcher.ts), and the pure
 * pieces of its kernel encoding (Landlock access masks per ABI, the seccomp
 * BPF program). A plugin with FFI can call any libc function, so Deno's
 * permissions no longer bound it; these kernel rules do.
 *
 * Numbers: ../shared/hardware/linux-abi-x86_64.txt (Landlock), and the
 * x86_64 syscall table (seccomp).
 *
 * @module
 */

/** How a path may be used. */
export type PathAccess =
  /** Read files and list directories. */
  | "ro"
  /** Read and execute (the deno binary, shared libraries). */
  | "rx"
  /** Read, write, create and remove below it (the Deno cache, the plugin's data dir). */
  | "rw"
  /** A device node: read, write, truncate and device ioctls (Landlock ABI >= 5). */
  | "dev";

/** One filesystem rule. */
export interface PathRule {
  /** Absolute path of a directory (the rule covers everything below) or of one file. */
  readonly path: string;
  /** What is allowed there. */
  readonly access: PathAccess;
}

/** The confinement of one plugin process. */
export interface ConfinePlan {
  /** libc the launcher loads (the same file the plugin is granted). */
  readonly libc: string;
  /** Filesystem rules; everything else is denied. */
  readonly paths: readonly PathRule[];
  /**
   * TCP ports the plugin may connect to (Landlock ABI >= 4 enforces per
   * port); `"any"` when a grant names a host without a port.
   */
  readonly connectPorts: readonly number[] | "any";
  /** Deny creating IPv4/IPv6/packet sockets with seccomp (set when no net is granted). */
  readonly denyInetSockets: boolean;
  /** The environment the plugin's deno gets (execve replaces the launcher's). */
  readonly env: Readonly<Record<string, string>>;
  /**
   * Symbolic links the launcher makes before it confines itself (the host
   * cannot: Deno refuses `symlink` to path-scoped write grants): the
   * plugin's own Deno cache's `npm` entry, pointing at the node's npm cache.
   */
  readonly links?: readonly { readonly path: string; readonly target: string }[];
}

/** Landlock constants (x86_64 and aarch64 share them). */
export const LANDLOCK = {
  SYS_CREATE_RULESET: 444,
  SYS_ADD_RULE: 445,
  SYS_RESTRICT_SELF: 446,
  CREATE_RULESET_VERSION: 1,
  RULE_PATH_BENEATH: 1,
  RULE_NET_PORT: 2,
  PR_SET_NO_NEW_PRIVS: 38,
  FS_EXECUTE: 0x1,
  FS_WRITE_FILE: 0x2,
  FS_READ_FILE: 0x4,
  FS_READ_DIR: 0x8,
  FS_REMOVE_DIR: 0x10,
  FS_REMOVE_FILE: 0x20,
  FS_MAKE_CHAR: 0x40,
  FS_MAKE_DIR: 0x80,
  FS_MAKE_REG: 0x100,
  FS_MAKE_SOCK: 0x200,
  FS_MAKE_FIFO: 0x400,
  FS_MAKE_BLOCK: 0x800,
  FS_MAKE_SYM: 0x1000,
  FS_REFER: 0x2000,
  FS_TRUNCATE: 0x4000,
  FS_IOCTL_DEV: 0x8000,
  NET_BIND_TCP: 0x1,
  NET_CONNECT_TCP: 0x2,
  SCOPE_ABSTRACT_UNIX_SOCKET: 0x1,
  SCOPE_SIGNAL: 0x2,
} as const;

const L = LANDLOCK;

/** Every filesystem right a ruleset of Landlock ABI `abi` can handle. Pure. */
export function handledFs(abi: number): number {
  let m = 0x1fff; // ABI 1: EXECUTE .. MAKE_SYM
  if (abi >= 2) m |= L.FS_REFER;
  if (abi >= 3) m |= L.FS_TRUNCATE;
  if (abi >= 5) m |= L.FS_IOCTL_DEV;
  return m;
}

/**
 * Network rights handled at `abi` (0 before ABI 4, which has no network
 * rules); connecting is left unhandled (allowed) when `connectAny`. Pure.
 */
export function handledNet(abi: number, connectAny = false): number {
  if (abi < 4) return 0;
  return connectAny ? L.NET_BIND_TCP : L.NET_BIND_TCP | L.NET_CONNECT_TCP;
}

/** Scopes handled at `abi` (0 before ABI 6). Pure. */
export function handledScopes(abi: number): number {
  return abi >= 6 ? L.SCOPE_ABSTRACT_UNIX_SOCKET | L.SCOPE_SIGNAL : 0;
}

/** Rights that apply to a file (not a directory): the others make landlock_add_rule fail. */
export const FILE_RIGHTS: number = L.FS_EXECUTE | L.FS_WRITE_FILE | L.FS_READ_FILE |
  L.FS_TRUNCATE | L.FS_IOCTL_DEV;

/** The Landlock rights of an access kind (before masking with what the ABI handles). Pure. */
export function rightsOf(a: PathAccess): number {
  switch (a) {
    case "ro":
      return L.FS_READ_FILE | L.FS_READ_DIR;
    case "rx":
      return L.FS_READ_FILE | L.FS_READ_DIR | L.FS_EXECUTE;
    case "rw":
      return L.FS_READ_FILE | L.FS_READ_DIR | L.FS_WRITE_FILE | L.FS_REMOVE_DIR |
        L.FS_REMOVE_FILE | L.FS_MAKE_DIR | L.FS_MAKE_REG | L.FS_MAKE_SYM | L.FS_MAKE_SOCK |
        L.FS_MAKE_FIFO | L.FS_REFER | L.FS_TRUNCATE;
    case "dev":
      // READ_DIR matters for a directory of nodes (/dev/bus/usb); it is dropped for a file.
      return L.FS_READ_FILE | L.FS_READ_DIR | L.FS_WRITE_FILE | L.FS_TRUNCATE | L.FS_IOCTL_DEV;
  }
}

/** Packs `struct landlock_ruleset_attr` (8, 16 or 24 bytes by ABI). Pure. */
export function rulesetAttr(abi: number, connectAny = false): Uint8Array<ArrayBuffer> {
  const size = abi >= 6 ? 24 : abi >= 4 ? 16 : 8;
  const b = new Uint8Array(new ArrayBuffer(size));
  const dv = new DataView(b.buffer);
  dv.setBigUint64(0, BigInt(handledFs(abi)), true);
  if (size >= 16) dv.setBigUint64(8, BigInt(handledNet(abi, connectAny)), true);
  if (size >= 24) dv.setBigUint64(16, BigInt(handledScopes(abi)), true);
  return b;
}

/** Packs `struct landlock_path_beneath_attr` (packed: u64 allowed_access, s32 parent_fd). Pure. */
export function pathBeneathAttr(allowed: number, fd: number): Uint8Array<ArrayBuffer> {
  const b = new Uint8Array(new ArrayBuffer(16), 0, 12);
  const dv = new DataView(b.buffer);
  dv.setBigUint64(0, BigInt(allowed), true);
  dv.setInt32(8, fd, true);
  return b;
}

/** Packs `struct landlock_net_port_attr` (u64 allowed_access, u64 port). Pure. */
export function netPortAttr(allowed: number, port: number): Uint8Array<ArrayBuffer> {
  const b = new Uint8Array(new ArrayBuffer(16));
  const dv = new DataView(b.buffer);
  dv.setBigUint64(0, BigInt(allowed), true);
  dv.setBigUint64(8, BigInt(port), true);
  return b;
}

// ---- seccomp ----

/** x86_64 system calls no hardware plugin needs and an escape would: denied with EPERM. */
export const DENIED_SYSCALLS_X86_64: Readonly<Record<string, number>> = {
  ptrace: 101,
  process_vm_readv: 310,
  process_vm_writev: 311,
  mount: 165,
  umount2: 166,
  pivot_root: 155,
  chroot: 161,
  swapon: 167,
  swapoff: 168,
  reboot: 169,
  init_module: 175,
  delete_module: 176,
  finit_module: 313,
  kexec_load: 246,
  kexec_file_load: 320,
  add_key: 248,
  request_key: 249,
  keyctl: 250,
  unshare: 272,
  setns: 308,
  open_by_handle_at: 304,
  name_to_handle_at: 303,
  perf_event_open: 298,
  bpf: 321,
  userfaultfd: 323,
  fsopen: 430,
  fsmount: 432,
  move_mount: 429,
  open_tree: 428,
};

/** seccomp / BPF constants. */
export const SECCOMP = {
  SYS_SECCOMP: 317,
  SET_MODE_FILTER: 1,
  AUDIT_ARCH_X86_64: 0xc000003e,
  RET_ALLOW: 0x7fff0000,
  RET_ERRNO: 0x00050000,
  RET_KILL_PROCESS: 0x80000000,
  NR_SOCKET: 41,
  AF_INET: 2,
  AF_INET6: 10,
  AF_PACKET: 17,
  EPERM: 1,
  EACCES: 13,
} as const;

const BPF_LD_W_ABS = 0x20;
const BPF_JEQ_K = 0x15;
const BPF_JGE_K = 0x35;
const BPF_RET_K = 0x06;

function insn(code: number, jt: number, jf: number, k: number): number[] {
  return [code, jt, jf, k >>> 0];
}

/**
 * The seccomp BPF program (an array of `struct sock_filter` 8 bytes each:
 * u16 code, u8 jt, u8 jf, u32 k): kill a process of another architecture,
 * answer EPERM to {@link DENIED_SYSCALLS_X86_64}, EACCES to
 * `socket(AF_INET|AF_INET6|AF_PACKET)` when `denyInet`, allow the rest. Pure.
 */
export function seccompProgram(denyInet: boolean): Uint8Array<ArrayBuffer> {
  const prog: number[][] = [];
  // seccomp_data: nr @0, arch @4, args[0] @16 (low 32 bits on little-endian).
  prog.push(insn(BPF_LD_W_ABS, 0, 0, 4));
  prog.push(insn(BPF_JEQ_K, 1, 0, SECCOMP.AUDIT_ARCH_X86_64));
  prog.push(insn(BPF_RET_K, 0, 0, SECCOMP.RET_KILL_PROCESS));
  prog.push(insn(BPF_LD_W_ABS, 0, 0, 0));
  // x32 system calls (bit 30 set) would bypass the numbers below: refuse them all.
  prog.push(insn(BPF_JGE_K, 0, 1, 0x40000000));
  prog.push(insn(BPF_RET_K, 0, 0, SECCOMP.RET_ERRNO | SECCOMP.EPERM));
  for (const nr of Object.values(DENIED_SYSCALLS_X86_64)) {
    prog.push(insn(BPF_JEQ_K, 0, 1, nr));
    prog.push(insn(BPF_RET_K, 0, 0, SECCOMP.RET_ERRNO | SECCOMP.EPERM));
  }
  if (denyInet) {
    prog.push(insn(BPF_JEQ_K, 0, 5, SECCOMP.NR_SOCKET));
    prog.push(insn(BPF_LD_W_ABS, 0, 0, 16));
    prog.push(insn(BPF_JEQ_K, 2, 0, SECCOMP.AF_INET));
    prog.push(insn(BPF_JEQ_K, 1, 0, SECCOMP.AF_INET6));
    prog.push(insn(BPF_JEQ_K, 0, 1, SECCOMP.AF_PACKET));
    prog.push(insn(BPF_RET_K, 0, 0, SECCOMP.RET_ERRNO | SECCOMP.EACCES));
  }
  prog.push(insn(BPF_RET_K, 0, 0, SECCOMP.RET_ALLOW));
  const out = new Uint8Array(new ArrayBuffer(prog.length * 8));
  const dv = new DataView(out.buffer);
  prog.forEach(([code, jt, jf, k], i) => {
    dv.setUint16(i * 8, code, true);
    dv.setUint8(i * 8 + 2, jt);
    dv.setUint8(i * 8 + 3, jf);
    dv.setUint32(i * 8 + 4, k, true);
  });
  return out;
}

/** The part of a plan `plugin list` describes. */
export interface ConfineSummary {
  /** As {@link ConfinePlan.connectPorts}. */
  readonly connectPorts: readonly number[] | "any";
  /** As {@link ConfinePlan.denyInetSockets}. */
  readonly denyInetSockets: boolean;
}

/** TCP connect rules from net grants (`host` = any port, `host:port` = that port). Pure. */
export function netRules(net: readonly string[]): ConfineSummary {
  const anyPort = net.some((n) => !/:\d+$/.test(n));
  const ports = [
    ...new Set(net.flatMap((n) => {
      const m = /:(\d+)$/.exec(n);
      return m ? [Number(m[1])] : [];
    })),
  ].sort((a, b) => a - b);
  return { connectPorts: anyPort ? "any" : ports, denyInetSockets: net.length === 0 };
}

/** What `plugin list` says about a confinement: e.g. `landlock abi 7, net denied, seccomp`. Pure. */
export function describeConfinement(abi: number, plan: ConfineSummary, seccomp: boolean): string {
  if (abi <= 0) return "none (kernel has no Landlock)";
  const parts = [`landlock abi ${abi}`];
  if (abi >= 4) {
    parts.push(
      plan.connectPorts === "any"
        ? "net connect any, bind denied"
        : plan.connectPorts.length === 0
        ? "net denied"
        : `net connect ${plan.connectPorts.join(",")} only`,
    );
  } else parts.push("no landlock net rules (abi < 4)");
  if (seccomp) parts.push(plan.denyInetSockets ? "seccomp (inet sockets denied)" : "seccomp");
  if (abi < 5) parts.push("device ioctls unrestricted (abi < 5)");
  return parts.join(", ");
}
