/**
 * Node side of FFI plugin confinement: probes the kernel once (Landlock ABI,
 * seccomp), builds each plugin's {@link ConfinePlan} from its grant, and
 * turns a plugin's `deno run` command into one that goes through the
 * launcher (hardware/confine/launcher.ts), which confines itself and then
 * execs that same command.
 *
 * @module
 */
import { Libc } from "../libc.ts";
import { landlockAbi, seccompSupported } from "./apply.ts";
import {
  type ConfinePlan,
  type ConfineSummary,
  describeConfinement,
  netRules,
  type PathAccess,
  type PathRule,
} from "./plan.ts";

export type { ConfinePlan, ConfineSummary, PathAccess, PathRule };
export { describeConfinement, netRules };

/** What this kernel offers. */
export interface ConfineSupport {
  /** Landlock ABI version; 0 = no Landlock. */
  readonly abi: number;
  /** Whether the seccomp filter can be installed (x86_64). */
  readonly seccomp: boolean;
}

let cached: ConfineSupport | undefined;

/** Probes the kernel once per process (needs FFI to `libcPath`). */
export function confineSupport(libcPath: string): ConfineSupport {
  if (cached !== undefined) return cached;
  let abi = 0;
  try {
    const libc = new Libc(libcPath);
    abi = landlockAbi(libc);
    libc.unload();
  } catch {
    abi = 0;
  }
  cached = { abi, seccomp: seccompSupported() };
  return cached;
}

const LAUNCHER = new URL("./launcher.ts", import.meta.url).pathname;
/** Repository folders whose modules a plugin process imports (runtime, SDK, core, bindings). */
const CODE_DIRS = ["../../core", "../../plugins/runtime", "../../plugins/sdk", "../../hardware"]
  .map((p) => new URL(p, import.meta.url).pathname);

function realOr(p: string): string {
  try {
    return Deno.realPathSync(p);
  } catch {
    return p;
  }
}

/** The Deno cache directory the plugin's deno uses (DENO_DIR, else the XDG/HOME default). */
export function denoDir(env: Readonly<Record<string, string>>): string {
  if (env.DENO_DIR) return env.DENO_DIR;
  const base = env.XDG_CACHE_HOME || `${env.HOME ?? "/root"}/.cache`;
  return `${base}/deno`;
}

/**
 * Makes `dir` the Deno cache of one confined plugin: its own directory
 * (Deno writes its transpile and analysis caches there). Returns the node's
 * npm package cache (`nodeDir/npm`, real path) for the plugin's cache to
 * link to (the plan's `links`, made by the launcher), so the plugin loads
 * the packages the node has cached (`--cached-only`) without being able to
 * change them; undefined when the node has none.
 *
 * Why: with the node's own `DENO_DIR` writable, a plugin holding FFI could
 * plant transpiled code that the node, sharing the cache, would load.
 *
 * @example const npm = await privateDenoDir(`${run}/deno-cache/serial`, denoDir(env));
 */
export async function privateDenoDir(dir: string, nodeDir: string): Promise<string | undefined> {
  await Deno.mkdir(dir, { recursive: true });
  try {
    return await Deno.realPath(`${nodeDir}/npm`);
  } catch {
    return undefined;
  }
}

/** Inputs of {@link buildPlan}. */
export interface PlanInputs {
  /** The granted libc file. */
  readonly libc: string;
  /** The plugin's folder (read). */
  readonly pluginDir: string;
  /** Its data directory (the process's cwd; read/write). */
  readonly dataDir: string;
  /** Generated entry module and import map (read). */
  readonly runFiles: readonly string[];
  /** Granted read paths. */
  readonly read: readonly string[];
  /** Granted write paths. */
  readonly write: readonly string[];
  /** Granted device nodes. */
  readonly devices: readonly string[];
  /** Granted bus kinds. */
  readonly buses: readonly string[];
  /** Granted net entries (`host` or `host:port`). */
  readonly net: readonly string[];
  /**
   * The environment the plugin process gets. Its `DENO_DIR` is the plugin's
   * own cache ({@link privateDenoDir}): read/write, never read by the node.
   */
  readonly env: Readonly<Record<string, string>>;
  /** The node's npm package cache, which the plugin's cache links to (read only). */
  readonly npmCache?: string;
}

/**
 * What a bus's library needs beyond the granted device nodes: libusb finds
 * devices through sysfs and opens `/dev/bus/usb/BBB/DDD` (the USB bus grants
 * no /dev paths, so the whole tree), reading udev's database when present;
 * libgpiod v1 checks a chip's sysfs entry; 1-Wire reads `/sys/bus/w1`.
 * Sysfs is read-only here: no plugin may write device attributes.
 */
export function busPaths(bus: string): PathRule[] {
  const sysfs: PathRule[] = [
    { path: "/sys/bus", access: "ro" },
    { path: "/sys/class", access: "ro" },
    { path: "/sys/devices", access: "ro" },
  ];
  switch (bus) {
    case "usb":
      return [...sysfs, { path: "/dev/bus/usb", access: "dev" }, {
        path: "/run/udev",
        access: "ro",
      }];
    case "gpio":
    case "onewire":
      return sysfs;
    default:
      return [];
  }
}

/**
 * The confinement of one FFI plugin: its own files, the code it imports,
 * the deno binary, shared libraries and Deno cache it needs, its granted
 * paths and device nodes; TCP connect only to granted ports; nothing else.
 */
export function buildPlan(i: PlanInputs): ConfinePlan {
  const deno = realOr(Deno.execPath());
  const npm = i.npmCache === undefined ? undefined : realOr(i.npmCache);
  const paths: PathRule[] = [
    { path: deno, access: "rx" },
    // The dynamic loader and shared libraries deno links (and the granted libc).
    { path: "/lib", access: "rx" },
    { path: "/lib64", access: "rx" },
    { path: "/usr/lib", access: "rx" },
    { path: "/etc/ld.so.cache", access: "ro" },
    // The plugin's own cache (transpiled modules, analysis caches): writable, and never the
    // node's, so nothing planted there reaches the node. The npm packages it links to are the
    // node's, read only.
    { path: realOr(denoDir(i.env)), access: "rw" },
    ...(npm === undefined ? [] : [{ path: npm, access: "ro" } as const]),
    ...CODE_DIRS.map((path): PathRule => ({ path: realOr(path), access: "ro" })),
    { path: realOr(i.pluginDir), access: "ro" },
    ...i.runFiles.map((path): PathRule => ({ path, access: "ro" })),
    { path: realOr(i.dataDir), access: "rw" },
    ...i.read.map((path): PathRule => ({ path, access: "ro" })),
    ...i.write.map((path): PathRule => ({ path, access: "rw" })),
    ...i.devices.map((path): PathRule => ({ path, access: "dev" })),
    ...i.buses.flatMap(busPaths),
  ];
  const links = npm === undefined ? [] : [{ path: `${denoDir(i.env)}/npm`, target: npm }];
  return { libc: i.libc, paths, ...netRules(i.net), env: i.env, links };
}

/** Whether and how an FFI plugin is confined, and what `plugin list` says about it. */
export interface ConfineDecision {
  /** Start it through the launcher. */
  readonly confine: boolean;
  /** The `plugin list` text. */
  readonly label: string;
  /** Set when the plugin must not start (no Landlock and not allowed unconfined). */
  readonly refuse?: string;
}

/**
 * The decision for one plugin: no FFI, Deno's permissions suffice; FFI on a
 * kernel with Landlock, confined; FFI without Landlock, refused unless the
 * policy says `allowUnconfinedFfi`.
 */
export function confinementDecision(
  hasFfi: boolean,
  net: readonly string[],
  allowUnconfined: boolean,
  libcPath: string | undefined,
): ConfineDecision {
  if (!hasFfi) return { confine: false, label: "deno permissions (no FFI)" };
  const sup = libcPath === undefined ? { abi: 0, seccomp: false } : confineSupport(libcPath);
  if (sup.abi === 0) {
    return allowUnconfined
      ? {
        confine: false,
        label: "none: kernel has no Landlock (allowed by policy allowUnconfinedFfi)",
      }
      : {
        confine: false,
        label: "refused: kernel has no Landlock",
        refuse:
          "confinement-unavailable: the kernel has no Landlock, so an FFI plugin could bypass its permissions; fix: a kernel with CONFIG_SECURITY_LANDLOCK and lsm=landlock, or policy allowUnconfinedFfi: true",
      };
  }
  return { confine: true, label: describeConfinement(sup.abi, netRules(net), sup.seccomp) };
}

/** The `deno` arguments that run `args` (a plugin's `deno run ...`) through the launcher. */
export function launcherArgs(plan: ConfinePlan, args: readonly string[]): string[] {
  const b64 = btoa(String.fromCharCode(...new TextEncoder().encode(JSON.stringify(plan))));
  return [
    "run",
    "--no-prompt",
    "--no-config",
    `--allow-ffi=${plan.libc}`,
    // for the plan's links only (Deno.symlink needs both unscoped); libc through FFI is
    // already more than this, and none of it survives the execve into the plugin's deno
    "--allow-read",
    "--allow-write",
    LAUNCHER,
    b64,
    Deno.execPath(),
    ...args,
  ];
}
