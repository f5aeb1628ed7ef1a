/**
 * Real node processes for tests: `main.ts serve` as a child on loopback
 * ports chosen by the kernel, found from its JSON "node ready" log line (after every extension started).
 *
 * @module
 */

const MAIN = new URL("../../main.ts", import.meta.url).pathname;

/** A running `serve` child. */
export interface NodeProc {
  readonly child: Deno.ChildProcess;
  readonly tcpPort: number;
  readonly httpPort: number;
  readonly keyId: string;
  /** Every log line so far. */
  readonly logs: string[];
  /** SIGTERM and wait. */
  stop(): Promise<void>;
  /** SIGKILL and wait. */
  kill9(): Promise<void>;
}

/**
 * Starts `deno run -A main.ts serve --log json ARGS...` and waits for it to
 * listen (at most `timeoutMs`).
 */
export async function startServe(args: readonly string[], timeoutMs = 20_000): Promise<NodeProc> {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-all",
      MAIN,
      "serve",
      "--log",
      "json",
      "--tcp",
      "127.0.0.1:0",
      "--http",
      "127.0.0.1:0",
      ...args,
    ],
    stdout: "null",
    stderr: "piped",
    stdin: "null",
  }).spawn();
  const logs: string[] = [];
  let listening: Record<string, unknown> | undefined;
  const reader = child.stderr.pipeThrough(new TextDecoderStream()).getReader();
  let buf = "";
  const pump = (async () => {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buf += value;
      let i;
      while ((i = buf.indexOf("\n")) >= 0) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        logs.push(line);
        try {
          const j = JSON.parse(line);
          if (j.msg === "node ready") listening = j;
        } catch { /* not JSON */ }
      }
    }
  })();
  const deadline = Date.now() + timeoutMs;
  let status: Deno.CommandStatus | undefined;
  child.status.then((s) => (status = s));
  while (!listening && !status && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 25));
  }
  if (!listening) {
    try {
      child.kill("SIGKILL");
    } catch { /* gone */ }
    await child.status;
    await pump;
    throw new Error(`serve did not start: ${logs.join("\n")}`);
  }
  const port = (s: unknown) => Number(String(s).split(":").pop());
  const wait = async () => {
    await child.status;
    await pump;
  };
  return {
    child,
    tcpPort: port(listening.tcp),
    httpPort: port(listening.http),
    keyId: String(listening.keyId),
    logs,
    stop: async () => {
      try {
        child.kill("SIGTERM");
      } catch { /* gone */ }
      await wait();
    },
    kill9: async () => {
      try {
        child.kill("SIGKILL");
      } catch { /* gone */ }
      await wait();
    },
  };
}

/** Runs `main.ts ARGS...` to completion and returns its exit code and output. */
export async function runCli(
  args: readonly string[],
  stdin?: Uint8Array,
): Promise<{ code: number; stdout: string; stderr: string }> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", MAIN, ...args],
    stdout: "piped",
    stderr: "piped",
    stdin: stdin ? "piped" : "null",
  }).spawn();
  if (stdin) {
    const w = child.stdin.getWriter();
    await w.write(stdin);
    await w.close();
  }
  const out = await child.output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}
