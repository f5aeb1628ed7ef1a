/**
 * `@myclerk/client`: call a node's opcodes (a plugin's, or any served one)
 * from Deno, over TCP or WebSocket, with typed results and an event
 * iterator. Built on {@link Client} (core/node/client.ts); used by the
 * `myclerk call` command and by vendors' tests.
 *
 * ```ts
 * import { connect } from "@myclerk/client";
 * const c = await connect("127.0.0.1:5657", { tier: 3 });
 * const r = await c.call(0xF800, { text: "hi" });
 * if (r.ok) console.log(r.payload); else console.error(r.code, r.detail, r.extra);
 * for await (const ev of c.events({ count: 1 })) console.log(ev.opcode, ev.payload);
 * c.close();
 * ```
 *
 * A caller's key must be allowed to use the opcode: the node's own family
 * keys are, any other key needs `myclerk acl grant KEYID RANGE` on the node
 * (docs/PROTOCOL.md §10.2, docs/PLUGINS.md "Vendor chapter").
 *
 * @module
 */
import { ErrorCode, errorName, isMyClerkError, MyClerkError } from "../errors.ts";
import { Op } from "../opcodes.ts";
import type { Tier } from "../wire/header.ts";
import { Client, type ClientOptions } from "./client.ts";
import { readKeyFile } from "./keys.ts";
import { backend as pickBackend } from "../crypto/mod.ts";

export { ErrorCode, errorName, MyClerkError };
export type { ErrorCodeValue, ErrorExtra } from "../errors.ts";
export type { Tier };

/** The outcome of one call: the answer, or the node's ERROR (never a throw for an ERROR). */
export type CallResult<T = unknown> =
  | { readonly ok: true; readonly payload: T }
  | {
    readonly ok: false;
    /** Profile error code (docs/PROTOCOL.md §10). */
    readonly code: number;
    /** Its name, e.g. `FORBIDDEN`. */
    readonly name: string;
    /** Machine-friendly reason, e.g. `tier-below-minimum`. */
    readonly detail: string;
    /** The other ERROR fields (`required-tier`, `time`, a plugin's `fail()` extras). */
    readonly extra: Readonly<Record<string, unknown>>;
  };

/** One server-pushed message. */
export interface CallEvent {
  /** Opcode of the push. */
  readonly opcode: number;
  /** Decoded MessagePack payload. */
  readonly payload: unknown;
}

/** Options of {@link connect}. */
export interface ConnectOptions {
  /** Highest tier asked for (default 5). */
  readonly tier?: Tier;
  /** Lowest tier accepted (default 0). */
  readonly minTier?: Tier;
  /** Key file (`myclerk keys generate`); absent: a fresh key (not granted anything). */
  readonly keyFile?: string;
  /** Handshake timeout in ms (default 10 000). */
  readonly timeoutMs?: number;
  /** Expected node key id (u32), 0 or absent = any. */
  readonly expectKeyId?: number;
}

/** Options of {@link CallClient.events}. */
export interface EventsOptions {
  /** Stop after this many events. */
  readonly count?: number;
  /** Stop when this signal aborts (Ctrl-C). */
  readonly signal?: AbortSignal;
  /** Only these opcodes (default: every push). */
  readonly opcodes?: readonly number[];
}

/**
 * Connects and handshakes. Throws {@link MyClerkError} when the node cannot
 * be reached or the handshake fails (see {@link CallClient}).
 *
 * @example const c = await connect("ws://127.0.0.1:8080", { tier: 3, keyFile: "me.key" })
 */
export function connect(addr: string, o: ConnectOptions = {}): Promise<CallClient> {
  return CallClient.open(addr, o);
}

/** Turns ERROR extras into the plain map a caller sees (absent fields left out). */
function extrasOf(e: MyClerkError): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(e.extra)) {
    if (v === undefined) continue;
    if (k === "opcode") continue;
    if (k === "wire" && v !== null && typeof v === "object") {
      Object.assign(out, v);
      continue;
    }
    out[k === "requiredTier" ? "required-tier" : k] = v;
  }
  return out;
}

/** An established session with typed calls and an event iterator. */
export class CallClient {
  readonly #events: CallEvent[] = [];
  readonly #wake: (() => void)[] = [];

  readonly #client: Client;

  /** Dials and wraps an established client (use {@link connect}). */
  static async open(addr: string, o: ConnectOptions = {}): Promise<CallClient> {
    const backend = pickBackend();
    const identity = o.keyFile ? await readKeyFile(backend, o.keyFile) : undefined;
    const opts: ClientOptions = {
      backend,
      identity,
      tier: o.tier ?? 5,
      minTier: o.minTier ?? 0,
      timeoutMs: o.timeoutMs ?? 10_000,
      expectKeyId: o.expectKeyId,
    };
    return new CallClient(await Client.connect(addr, opts));
  }

  private constructor(client: Client) {
    this.#client = client;
    client.onPush((opcode, payload) => {
      this.#events.push({ opcode, payload });
      // Bounded: a client that never reads events keeps the newest 4096.
      if (this.#events.length > 4096) this.#events.shift();
      for (const w of this.#wake.splice(0)) w();
    });
    void client.waitClosed().then(() => {
      for (const w of this.#wake.splice(0)) w();
    });
  }

  /** Negotiated tier. */
  get tier(): number {
    return this.#client.tier;
  }

  /**
   * Sends one request (a map; the client adds `id`) and returns the answer
   * without its `re`, or the ERROR as a value. Throws only on TIMEOUT or a
   * closed connection (as {@link MyClerkError}).
   *
   * @example const r = await c.call<{ echo: string }>(0xF800, { text: "hi" })
   */
  async call<T = unknown>(
    opcode: number,
    payload: Readonly<Record<string, unknown>> = {},
    timeoutMs = 10_000,
  ): Promise<CallResult<T>> {
    try {
      const v = await this.#client.request(opcode, payload, timeoutMs);
      if (v !== null && typeof v === "object" && !Array.isArray(v)) {
        const { re: _re, ...rest } = v as Record<string, unknown>;
        return { ok: true, payload: rest as T };
      }
      return { ok: true, payload: v as T };
    } catch (e) {
      if (!isMyClerkError(e)) throw e;
      const local = e.code === ErrorCode.TIMEOUT && e.detail === "request" ||
        e.code === ErrorCode.SERVICE_UNAVAILABLE && e.detail === "closed";
      if (local) throw e;
      return {
        ok: false,
        code: e.code,
        name: errorName(e.code),
        detail: e.detail,
        extra: extrasOf(e),
      };
    }
  }

  /**
   * Iterates server pushes (plugin events) until `count`, the signal, or the
   * connection closing.
   *
   * @example for await (const ev of c.events({ count: 3 })) console.log(ev)
   */
  async *events(o: EventsOptions = {}): AsyncGenerator<CallEvent> {
    let n = 0;
    const onAbort = () => {
      for (const w of this.#wake.splice(0)) w();
    };
    o.signal?.addEventListener("abort", onAbort);
    try {
      while (o.count === undefined || n < o.count) {
        if (o.signal?.aborted) return;
        const ev = this.#events.shift();
        if (ev !== undefined) {
          if (ev.opcode === Op.ERROR) continue;
          if (o.opcodes && !o.opcodes.includes(ev.opcode)) continue;
          n++;
          yield ev;
          continue;
        }
        if (this.#client.closed) return;
        await new Promise<void>((res) => this.#wake.push(res));
      }
    } finally {
      o.signal?.removeEventListener("abort", onAbort);
    }
  }

  /** Sends SESSION_CLOSE and waits for the connection to end. */
  async close(): Promise<void> {
    this.#client.close();
    await this.#client.waitClosed();
  }
}

/** Exit codes of `myclerk call` (docs/PLUGINS.md "myclerk call"). */
export const CallExit = {
  /** The answer arrived (or the events were read). */
  OK: 0,
  /** Bad arguments (address, opcode, payload JSON, tier). */
  USAGE: 2,
  /** The node answered ERROR. */
  ERROR_ANSWER: 3,
  /** The node could not be reached, or the handshake failed. */
  CONNECT: 4,
  /** No answer within --timeout. */
  TIMEOUT: 5,
} as const;

/** JSON form of a value: binary as `{ "$hex": "…" }`, bigint as a string. */
export function toJson(v: unknown): unknown {
  if (v instanceof Uint8Array) {
    return { $hex: [...v].map((b) => b.toString(16).padStart(2, "0")).join("") };
  }
  if (typeof v === "bigint") return v.toString();
  if (Array.isArray(v)) return v.map(toJson);
  if (v instanceof Map) return Object.fromEntries([...v].map(([k, x]) => [String(k), toJson(x)]));
  if (v !== null && typeof v === "object") {
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, toJson(x)]));
  }
  return v;
}

/** Parses an opcode argument: `0xF800` or decimal. */
export function parseOpcode(s: string): number {
  const n = /^0x[0-9a-f]{1,4}$/i.test(s) ? parseInt(s, 16) : /^\d+$/.test(s) ? Number(s) : NaN;
  if (!Number.isInteger(n) || n < 0 || n > 0xffff) {
    throw new MyClerkError(ErrorCode.BAD_REQUEST, "usage", {
      why: `opcode "${s}" is not 0x0000-0xFFFF`,
    });
  }
  return n;
}

/** Options of {@link runCall} (the `call` command's flags). */
export interface RunCallOptions {
  /** Tier asked for. */
  readonly tier?: number;
  /** Read pushes instead of (after) the one request. */
  readonly events?: boolean;
  /** Stop after this many events. */
  readonly count?: number;
  /** Key file. */
  readonly key?: string;
  /** Answer / handshake timeout in ms. */
  readonly timeout?: number;
  /** Print JSON only (one object a line). */
  readonly json?: boolean;
  /** Where lines go (default console.log / console.error). */
  readonly out?: (line: string) => void;
  /** Where error lines go. */
  readonly err?: (line: string) => void;
  /** Stops an event stream (Ctrl-C). */
  readonly signal?: AbortSignal;
}

/**
 * The `myclerk call` command: returns the exit code ({@link CallExit}).
 * With `events`, the request (when a payload or opcode is given) is sent
 * first, then pushes are printed one JSON object a line.
 *
 * @example Deno.exit(await runCall("127.0.0.1:5657", "0xF800", '{"text":"hi"}', { tier: 3 }))
 */
export async function runCall(
  addr: string,
  opcodeArg: string,
  payloadArg: string | undefined,
  o: RunCallOptions = {},
): Promise<number> {
  const out = o.out ?? ((l: string) => console.log(l));
  const err = o.err ?? ((l: string) => console.error(l));
  let opcode: number;
  let payload: Record<string, unknown> = {};
  let tier: Tier;
  try {
    opcode = parseOpcode(opcodeArg);
    if (payloadArg !== undefined && payloadArg !== "") {
      const p = JSON.parse(payloadArg);
      if (p === null || typeof p !== "object" || Array.isArray(p)) {
        throw new Error("payload must be a JSON object (a MessagePack map)");
      }
      payload = p;
    }
    const t = o.tier ?? 5;
    if (!Number.isInteger(t) || t < 0 || t > 5) throw new Error(`tier must be 0-5, got ${t}`);
    tier = t as Tier;
  } catch (e) {
    err(`usage: ${isMyClerkError(e) ? String(e.extra.why) : (e as Error).message}`);
    return CallExit.USAGE;
  }
  const timeout = o.timeout ?? 10_000;
  let c: CallClient;
  try {
    c = await connect(addr, { tier, keyFile: o.key, timeoutMs: timeout });
  } catch (e) {
    const m = isMyClerkError(e)
      ? { code: errorName(e.code), detail: e.detail, extra: toJson(extrasOf(e)) }
      : { code: "CONNECT", detail: (e as Error)?.message ?? String(e), extra: {} };
    err(JSON.stringify({ error: "connect", ...m }));
    return CallExit.CONNECT;
  }
  try {
    let r: CallResult;
    try {
      r = await c.call(opcode, payload, timeout);
    } catch (e) {
      if (isMyClerkError(e) && e.code === ErrorCode.TIMEOUT) {
        err(JSON.stringify({ error: "timeout", timeoutMs: timeout, opcode }));
        return CallExit.TIMEOUT;
      }
      err(JSON.stringify({ error: "connect", detail: (e as Error).message }));
      return CallExit.CONNECT;
    }
    if (!r.ok) {
      err(JSON.stringify({ code: r.code, name: r.name, detail: r.detail, extra: toJson(r.extra) }));
      return CallExit.ERROR_ANSWER;
    }
    out(JSON.stringify(o.events ? { answer: toJson(r.payload) } : toJson(r.payload)));
    if (o.events) {
      for await (const ev of c.events({ count: o.count, signal: o.signal })) {
        out(JSON.stringify({ event: ev.opcode, payload: toJson(ev.payload) }));
      }
    }
    return CallExit.OK;
  } finally {
    await c.close().catch(() => {});
  }
}
