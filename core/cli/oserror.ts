/**
 * Operating-system errors in words an operator can act on: what the command
 * tried (listen on an address, connect to a target, open a path), what went
 * wrong, and the fix. The one place that maps Deno's error classes
 * (`Deno.errors.AddrInUse`, `ConnectionRefused`, `PermissionDenied`,
 * `NotFound`, ...) to messages; `fail()` in mod.ts uses it for every
 * subcommand, with the context the command knows.
 *
 * @module
 */

/** What the command was doing when the OS said no. */
export type OsAction =
  | {
    /** Binding a listener. */
    readonly kind: "listen";
    /** `HOST:PORT` it tried. */
    readonly addr: string;
    /** The option that sets it (`--tcp`, `--http`), for the fix. */
    readonly flag: string;
  }
  | {
    /** Dialing a remote. */
    readonly kind: "connect";
    /** Address dialed (`HOST:PORT` or `ws://...`). */
    readonly addr: string;
    /** What is there ("node", "relay", "peer relay"). */
    readonly what: string;
  }
  | {
    /** Opening, reading or creating a file or directory. */
    readonly kind: "path";
    /** The path. */
    readonly path: string;
    /** What it is ("data directory", "key file"). */
    readonly what: string;
    /** The option that sets it (`--data`, `--key`), for the fix. */
    readonly flag?: string;
  };

const E = Deno.errors;

/** An OS error already put in words (by {@link withOsContext}); `cause` is the original. */
export class OsError extends Error {
  /** `message` is the operator's sentence. */
  constructor(message: string, cause: unknown) {
    super(message, { cause });
    this.name = "OsError";
  }
}

function isA(e: unknown, ...classes: (abstract new (...a: never[]) => Error)[]): boolean {
  return classes.some((c) => e instanceof c);
}

/** Deno's fs errors end in `(os error N): op 'PATH'`; the path when there is one. */
function pathIn(e: Error): string | undefined {
  return /\(os error \d+\): \w+ '(.*)'(?: -> '.*')?$/.exec(e.message)?.[1];
}

function listen(e: Error, addr: string, flag: string): string | undefined {
  const pick = `pick another with ${flag} HOST:PORT`;
  if (isA(e, E.AddrInUse)) {
    return `cannot listen on ${addr}: address already in use (another myclerk or program holds it; stop it or ${pick})`;
  }
  if (isA(e, E.AddrNotAvailable)) {
    return `cannot listen on ${addr}: no interface of this machine has that address (use 0.0.0.0, 127.0.0.1 or one of \`ip addr\`'s addresses with ${flag})`;
  }
  if (isA(e, E.PermissionDenied, E.NotCapable)) {
    return `cannot listen on ${addr}: permission denied (ports below 1024 need CAP_NET_BIND_SERVICE; ${pick} above 1023)`;
  }
  return undefined;
}

function connect(e: Error, addr: string, what: string): string | undefined {
  const at = `cannot connect to ${what} ${addr}`;
  if (isA(e, E.ConnectionRefused)) {
    return `${at}: connection refused (nothing listens there: check that the ${what} runs and the host and port are right)`;
  }
  if (isA(e, E.TimedOut)) {
    return `${at}: timed out (is the host up, and the port open in its firewall?)`;
  }
  if (isA(e, E.NetworkUnreachable, E.AddrNotAvailable)) {
    return `${at}: network unreachable (check the address and this machine's route to it)`;
  }
  if (isA(e, E.ConnectionReset, E.ConnectionAborted, E.BrokenPipe, E.UnexpectedEof)) {
    return `${at}: the connection was closed by the other side (is it a myclerk ${what}? a TLS port or another protocol closes it this way)`;
  }
  if (/failed to lookup address|Name or service not known|nodename nor servname/i.test(e.message)) {
    return `${at}: unknown host name (check the spelling, or use an IP address)`;
  }
  if (/^websocket connect failed/.test(e.message)) {
    return `${at}: WebSocket connection failed (check that the ${what} runs and serves HTTP on that port; the path is /myclerk)`;
  }
  return undefined;
}

function path(e: Error, p: string, what: string, flag?: string): string | undefined {
  const other = flag ? `, or point ${flag} at another` : "";
  if (isA(e, E.NotFound)) {
    return `${what} ${p}: does not exist (check the path${other})`;
  }
  if (isA(e, E.PermissionDenied, E.NotCapable)) {
    return `${what} ${p}: permission denied (run as the user that owns it, or give that user access: chown/chmod${other})`;
  }
  if (isA(e, E.NotADirectory)) return `${what} ${p}: a part of the path is a file, not a directory`;
  if (isA(e, E.IsADirectory)) return `${what} ${p}: is a directory, a file is needed here`;
  if (isA(e, E.AlreadyExists)) return `${what} ${p}: already exists`;
  if (/Read-only file system|os error 30\b/.test(e.message)) {
    return `${what} ${p}: the file system is read-only (use a writable location${other})`;
  }
  if (/No space left on device|os error 28\b/.test(e.message)) {
    return `${what} ${p}: no space left on the device (free space or move it${other})`;
  }
  return undefined;
}

/** Network errors with no context: the class in words and where to look. */
function bare(e: Error): string | undefined {
  if (isA(e, E.AddrInUse)) {
    return "address already in use (another myclerk or program holds the port; stop it or pick another with --tcp/--http HOST:PORT)";
  }
  if (isA(e, E.ConnectionRefused)) {
    return "connection refused (nothing listens at the address given: check that it runs)";
  }
  if (isA(e, E.TimedOut)) return "timed out (is the other host up, and its port open?)";
  // fetch() to a node's admin HTTP: the URL and the OS error are only in the cause's text.
  const f = /error sending request for url \((\S+?)\).*?(Connection refused|timed out|dns error)/i
    .exec(e.message);
  if (f) {
    const why = /refused/i.test(f[2])
      ? "connection refused (nothing listens there: is the node running, and is this its HTTP address?)"
      : /dns/i.test(f[2])
      ? "unknown host name (check the spelling, or use an IP address)"
      : "timed out (is the host up, and the port open?)";
    return `cannot connect to ${f[1]}: ${why}`;
  }
  return undefined;
}

/**
 * The operator's sentence for `e` if it is an OS error (also when it is the
 * `cause` of a wrapping error), else `undefined`. Without `at`, fs errors
 * still name their path (Deno puts it in the message); network errors name
 * what they can.
 */
export function explainOsError(e: unknown, at?: OsAction): string | undefined {
  for (let x: unknown = e, depth = 0; x instanceof Error && depth < 4; x = x.cause, depth++) {
    if (x instanceof OsError) return x.message;
    let s: string | undefined;
    const p = pathIn(x);
    if (at?.kind === "listen") s = listen(x, at.addr, at.flag);
    else if (at?.kind === "connect") s = connect(x, at.addr, at.what);
    else if (at?.kind === "path") {
      // The OS names the exact path; say it too when it is not the one the command knows.
      s = p === undefined || p === at.path
        ? path(x, at.path, at.what, at.flag)
        : path(x, p, `${at.what} ${at.path}:`, at.flag);
    }
    s ??= p === undefined ? bare(x) : path(x, p, "path");
    if (s !== undefined) return s;
  }
  return undefined;
}

/**
 * Runs `fn`; an OS error it throws comes back as an {@link OsError} whose message is
 * {@link explainOsError}'s sentence (the original as `cause`). Other errors
 * pass through unchanged.
 */
export async function withOsContext<T>(at: OsAction, fn: () => Promise<T> | T): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    const s = explainOsError(e, at);
    throw s === undefined ? e : new OsError(s, e);
  }
}

/**
 * Checks that `addr` (`HOST:PORT`) can be bound now, by binding and closing
 * it; throws {@link withOsContext}'s error if not. Port 0 always can. `serve`
 * calls it before starting, so "address in use" names the listener that
 * failed, not just "os error 98".
 */
export async function probeListen(addr: string, flag: string): Promise<void> {
  const m = /^\[?([^\]]+?)\]?:(\d+)$/.exec(addr);
  if (!m || Number(m[2]) === 0) return;
  if (Number(m[2]) > 65_535) {
    throw new OsError(
      `cannot listen on ${addr}: port ${
        m[2]
      } is out of range (ports are 0-65535; set ${flag} HOST:PORT)`,
      undefined,
    );
  }
  await withOsContext({ kind: "listen", addr, flag }, () => {
    Deno.listen({ hostname: m[1], port: Number(m[2]), transport: "tcp" }).close();
  });
}

/**
 * One line for a failed dial in a log (relay to peer, hub to relay): the OS
 * error in words when it is one, else the error's code and detail.
 */
export function dialError(e: unknown, addr: string, what: string): string {
  const os = explainOsError(e, { kind: "connect", addr, what });
  if (os !== undefined) return os;
  return `cannot connect to ${what} ${addr}: ${e instanceof Error ? e.message : String(e)}`;
}

/**
 * Whether the `n`th consecutive failure (1-based) is logged: 1, 2, 4, 8, ...
 * A target that stays down is reported at growing intervals (one line per
 * doubling of the attempt count), never once per retry.
 */
export function logFailure(n: number): boolean {
  return n >= 1 && (n & (n - 1)) === 0;
}
