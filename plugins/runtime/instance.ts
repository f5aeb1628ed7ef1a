/**
 * Starts one plugin instance in its isolation mode and gives the host one
 * interface to it: `send`, `kill`, and callbacks for messages, log lines and
 * exit.
 *
 * - `worker`: a Web Worker with exactly the granted Deno permissions
 *   (needs `--unstable-worker-options`);
 * - `process`: a child `deno run` with exactly the granted flags and a V8
 *   heap ceiling, framed MessagePack on stdin/stdout;
 * - `inproc`: the module runs in the node's isolate (trusted code only).
 *
 * The entry is a generated module that *statically* imports the plugin, so
 * loading the plugin's code needs no read permission at all.
 *
 * @module
 */
import { ErrorCode, MyClerkError } from "../../core/errors.ts";
import type { IsolationMode } from "../manifest.ts";
import type { PluginDefinition } from "../sdk/mod.ts";
import { encodeFrame, FrameDecoder } from "./frames.ts";
import { buildPlan, denoDir, launcherArgs, privateDenoDir } from "../../hardware/confine/mod.ts";
import { OutputLimiter } from "./output.ts";
import { type PluginPort, servePlugin } from "./plugin_side.ts";
import type { HostMsg, PluginMsg } from "./protocol.ts";
import { validatePluginMsg } from "./validate.ts";

/** Everything needed to start an instance. */
export interface InstanceSpec {
  /** Plugin name (for logs and the generated entry module's file name). */
  readonly name: string;
  /** Isolation mode to start it in. */
  readonly mode: IsolationMode;
  /** Absolute path of the plugin's entry module. */
  readonly entry: string;
  /** Directory for generated entry modules and the import map. */
  readonly runDir: string;
  /** Working directory of a process plugin. */
  readonly cwd: string;
  /** Granted `--allow-net` hosts. */
  readonly net: readonly string[];
  /** Granted `--allow-read` paths. */
  readonly read: readonly string[];
  /** Granted `--allow-write` paths. */
  readonly write: readonly string[];
  /** Granted `--allow-env` names. */
  readonly env: readonly string[];
  /** Absolute library paths FFI may open. */
  readonly ffi: readonly string[];
  /** V8 heap ceiling in MiB (`--max-old-space-size`, process mode). */
  readonly memoryMb: number;
  /** Set for FFI process plugins: confine the child (hardware/confine) with these grants. */
  readonly confine?: {
    /** The granted libc (the launcher's own FFI). */
    readonly libc: string;
    /** The plugin's folder. */
    readonly pluginDir: string;
    /** Granted device nodes. */
    readonly devices: readonly string[];
    /** Granted bus kinds (some need sysfs or /dev/bus/usb, see hardware/confine). */
    readonly buses: readonly string[];
  };
}

/** Callbacks an instance reports to. */
export interface InstanceSink {
  /** A message from the plugin. */
  onMessage(m: PluginMsg): void;
  /** A log line: the plugin's stderr, or a host note about it (uncaught error, bad frame). */
  onLog(line: string): void;
  /** Called once when the instance is gone for any reason other than `kill`. */
  onExit(reason: string): void;
  /** A message failed validation (the instance is then stopped: `onExit("protocol: ...")`). */
  onInvalid?(reason: string): void;
  /** Output was cut (`truncated`, n bytes) or dropped over the rate (`dropped`, n bytes). */
  onOutputLimited?(kind: "truncated" | "dropped", n: number): void;
}

/**
 * The host side of one instance's message stream: validates each message,
 * routes `log` through the output limiter, and never lets an exception reach
 * the node's event loop. Returns the reason when the message is refused.
 */
function intake(
  sink: InstanceSink,
  out: OutputLimiter,
  checkValues: boolean,
): (raw: unknown) => string | undefined {
  return (raw) => {
    const v = validatePluginMsg(raw, { checkValues });
    if (!v.ok) {
      sink.onInvalid?.(v.reason);
      sink.onLog(`protocol: invalid message from plugin (${v.reason}), stopping it`);
      return v.reason;
    }
    if (v.truncated) sink.onOutputLimited?.("truncated", 0);
    try {
      if (v.msg.t === "log") out.line(v.msg.line, performance.now());
      else sink.onMessage(v.msg);
    } catch (e) {
      // A bug on the host side must not take the node down with it.
      sink.onLog(`host: handling a ${v.msg.t} message threw: ${(e as Error)?.message ?? e}`);
    }
    return undefined;
  };
}

function limiter(sink: InstanceSink): OutputLimiter {
  return new OutputLimiter({
    line: (l) => sink.onLog(l),
    limited: (kind, n) => sink.onOutputLimited?.(kind, n),
  });
}

/** A running instance. */
export interface Instance {
  /** Isolation mode it runs in. */
  readonly mode: IsolationMode;
  /** Sends a message to the plugin. */
  send(m: HostMsg): void;
  /** Stops it now (SIGKILL / terminate); no `onExit` follows. Resolves when it is gone. */
  kill(): Promise<void>;
}

const SIDE_URL = new URL("./plugin_side.ts", import.meta.url).href;
const SDK_URL = new URL("../sdk/mod.ts", import.meta.url).href;
const HARDWARE_URL = new URL("../../hardware/", import.meta.url).href;

let generation = 0;

/** The child's import map: the SDK by its public name, msgpack for the frames. */
async function importMap(runDir: string): Promise<string> {
  const path = `${runDir}/import_map.json`;
  await Deno.writeTextFile(
    path,
    JSON.stringify({
      imports: {
        "@myclerk/plugin-sdk": SDK_URL,
        "@myclerk/hardware/": HARDWARE_URL,
        "@msgpack/msgpack": "npm:@msgpack/msgpack@3.1.3",
      },
    }),
  );
  return path;
}

async function writeEntry(spec: InstanceSpec, fn: "serveWorker" | "serveProcess"): Promise<string> {
  await Deno.mkdir(spec.runDir, { recursive: true });
  const path = `${spec.runDir}/${spec.name}-${Deno.pid}-${++generation}-${spec.mode}.js`;
  const entryUrl = new URL(`file://${spec.entry}`).href;
  await Deno.writeTextFile(
    path,
    `// Generated by the plugin host: loads the plugin statically (no read grant needed).\n` +
      `import { ${fn} } from ${JSON.stringify(SIDE_URL)};\n` +
      `import plugin from ${JSON.stringify(entryUrl)};\n` +
      `${fn}(plugin);\n`,
  );
  return path;
}

/** Deno's permission list form: false for nothing, else the list. */
function perm(list: readonly string[]): false | string[] {
  return list.length === 0 ? false : [...list];
}

async function startWorker(spec: InstanceSpec, sink: InstanceSink): Promise<Instance> {
  const entry = await writeEntry(spec, "serveWorker");
  let worker: Worker;
  try {
    worker = new Worker(new URL(`file://${entry}`).href, {
      type: "module",
      name: `plugin:${spec.name}`,
      // Every key is explicit: a missing key would mean "inherit the node's".
      deno: {
        permissions: {
          read: perm(spec.read),
          write: perm(spec.write),
          net: perm(spec.net),
          env: perm(spec.env),
          run: false,
          ffi: false,
          sys: false,
          import: false,
        },
      },
    } as WorkerOptions);
  } catch (e) {
    await Deno.remove(entry).catch(() => {});
    throw new MyClerkError(
      ErrorCode.SERVICE_UNAVAILABLE,
      `worker-isolation-unavailable: ${(e as Error).message}`,
      {},
      e,
    );
  }
  let dead = false;
  const cleanup = () => Deno.remove(entry).catch(() => {});
  // Structured clone can carry anything (Map, BigInt, cycles): check payload values too.
  const take = intake(sink, limiter(sink), true);
  worker.onmessage = (e: MessageEvent<unknown>) => {
    if (dead) return;
    const refused = take(e.data);
    if (refused !== undefined) die(`protocol: invalid message (${refused})`);
  };
  const die = (reason: string) => {
    if (dead) return;
    dead = true;
    worker.terminate();
    cleanup();
    sink.onExit(reason);
  };
  worker.onerror = (e) => {
    e.preventDefault();
    sink.onLog(`uncaught: ${e.message}`);
    die(`crash: ${e.message}`);
  };
  worker.onmessageerror = () => die("crash: message could not be deserialised");
  return {
    mode: "worker",
    send: (m) => {
      if (!dead) worker.postMessage(m);
    },
    kill: () => {
      if (!dead) {
        dead = true;
        worker.terminate();
      }
      return cleanup().then(() => {});
    },
  };
}

/** The exact `deno run` arguments of a process plugin (exported for `plugin list` and tests). */
export function processArgs(spec: InstanceSpec, entry: string, importMapPath: string): string[] {
  const args = ["run", "--no-prompt", "--no-config", `--import-map=${importMapPath}`];
  // No code from outside, in three layers (docs/PLUGINS.md "Imports"): every remote import
  // is a permission error (--deny-import alone still lets Deno's default import hosts be
  // fetched before the check on 2.9.6), nothing is fetched (--cached-only also stops the
  // prefetch of literal import() calls and npm: packages not already in the cache), and
  // remote specifiers are not resolved at all (--no-remote).
  args.push("--deny-import", "--cached-only", "--no-remote");
  if (spec.read.length) args.push(`--allow-read=${spec.read.join(",")}`);
  if (spec.write.length) args.push(`--allow-write=${spec.write.join(",")}`);
  if (spec.net.length) args.push(`--allow-net=${spec.net.join(",")}`);
  if (spec.env.length) args.push(`--allow-env=${spec.env.join(",")}`);
  if (spec.ffi.length) args.push(`--allow-ffi=${spec.ffi.join(",")}`);
  // The heap ceiling turns a runaway allocation into a dead child, not a dead node.
  args.push(`--v8-flags=--max-old-space-size=${spec.memoryMb}`);
  args.push(entry);
  return args;
}

/** Variables `deno` itself needs to find its cache; plus the granted names. */
function childEnv(granted: readonly string[]): Record<string, string> {
  const env: Record<string, string> = { NO_COLOR: "1" };
  for (const k of ["HOME", "PATH", "DENO_DIR", "XDG_CACHE_HOME", ...granted]) {
    const v = Deno.env.get(k);
    if (v !== undefined) env[k] = v;
  }
  return env;
}

async function startProcess(spec: InstanceSpec, sink: InstanceSink): Promise<Instance> {
  const entry = await writeEntry(spec, "serveProcess");
  const map = await importMap(spec.runDir);
  await Deno.mkdir(spec.cwd, { recursive: true });
  let env = childEnv(spec.env);
  let args = processArgs(spec, entry, map);
  // FFI plugins start through the launcher: kernel confinement before their code loads.
  if (spec.confine !== undefined) {
    // ...with a Deno cache of their own: the node's stays out of their reach
    const own = `${spec.runDir}/deno-cache/${spec.name}`;
    const npmCache = await privateDenoDir(own, denoDir(env));
    env = { ...env, DENO_DIR: await Deno.realPath(own) };
    args = launcherArgs(
      buildPlan({
        ...spec.confine,
        dataDir: spec.cwd,
        runFiles: [entry, map],
        read: spec.read,
        write: spec.write,
        net: spec.net,
        env,
        npmCache,
      }),
      args,
    );
  }
  const child = new Deno.Command(Deno.execPath(), {
    args,
    cwd: spec.cwd,
    clearEnv: true,
    env,
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const stdin = child.stdin.getWriter();
  let dead = false;
  let killed = false;
  /** Set when the host stops the child for breaking the protocol. */
  let violation: string | undefined;
  const stop = (reason: string) => {
    violation ??= reason;
    try {
      child.kill("SIGKILL");
    } catch { /* already gone */ }
  };
  const out = limiter(sink);
  const take = intake(sink, out, false);
  (async () => {
    const dec = new FrameDecoder();
    try {
      for await (const chunk of child.stdout) {
        if (violation !== undefined) continue; // drain until the kill lands
        for (const m of dec.push(chunk)) {
          if (dead || violation !== undefined) break;
          const refused = take(m);
          if (refused !== undefined) stop(`protocol: invalid message (${refused})`);
        }
      }
    } catch (e) {
      sink.onInvalid?.("bad-frame");
      sink.onLog(`protocol: bad frame from plugin: ${(e as Error).message}, stopping it`);
      stop(`protocol: bad frame (${(e as Error).message})`);
    }
  })();
  (async () => {
    // Bounded: lines cut at 4 KiB, bytes over the rate dropped, both counted.
    // One reused 64 KiB buffer (BYOB): a flood allocates nothing per chunk.
    let buf = new Uint8Array(64 * 1024);
    try {
      const reader = child.stderr.getReader({ mode: "byob" });
      for (;;) {
        const { value, done } = await reader.read(buf);
        if (done || value === undefined) break;
        out.push(value, performance.now());
        buf = new Uint8Array(value.buffer);
      }
    } catch { /* pipe closed with the child */ }
    out.end();
  })();
  const status = child.status.then((s) => {
    dead = true;
    Deno.remove(entry).catch(() => {});
    stdin.close().catch(() => {});
    if (!killed) {
      sink.onExit(
        violation ??
          (s.signal ? `crash: killed by ${s.signal}` : `crash: exited with code ${s.code}`),
      );
    }
  });
  return {
    mode: "process",
    send: (m) => {
      if (!dead) stdin.write(encodeFrame(m)).catch(() => {});
    },
    kill: async () => {
      killed = true;
      if (!dead) {
        try {
          child.kill("SIGKILL");
        } catch { /* already gone */ }
      }
      await status;
    },
  };
}

async function startInProcess(spec: InstanceSpec, sink: InstanceSink): Promise<Instance> {
  const mod = await import(new URL(`file://${spec.entry}`).href) as { default?: PluginDefinition };
  if (mod.default === undefined || typeof mod.default !== "object") {
    throw new MyClerkError(ErrorCode.INTERNAL_ERROR, "inproc: entry has no default export");
  }
  let toPlugin: ((m: HostMsg) => void) | undefined;
  let dead = false;
  // Trusted code, but the same one decoder: a refused message is logged and dropped (there is
  // no separate instance to stop).
  const take = intake(sink, limiter(sink), false);
  const port: PluginPort = {
    // Same asynchrony as a real port, so handlers never run inside dispatch().
    send: (m) =>
      queueMicrotask(() => {
        if (!dead) take(m);
      }),
    listen: (cb) => {
      toPlugin = cb;
    },
  };
  // In-process plugins share console with the node; servePlugin would replace it, so give it a copy.
  const saved = { ...console };
  servePlugin(mod.default, port);
  Object.assign(console, saved);
  return {
    mode: "inproc",
    send: (m) => queueMicrotask(() => !dead && toPlugin?.(m)),
    kill: () => {
      dead = true;
      return Promise.resolve();
    },
  };
}

/** Starts an instance; throws SERVICE_UNAVAILABLE when the mode cannot start. */
export function startInstance(spec: InstanceSpec, sink: InstanceSink): Promise<Instance> {
  switch (spec.mode) {
    case "worker":
      return startWorker(spec, sink);
    case "process":
      return startProcess(spec, sink);
    case "inproc":
      return startInProcess(spec, sink);
  }
}
