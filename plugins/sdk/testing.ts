/**
 * A test harness for plugins: an in-process host with fake sessions, tiers
 * and grants, applying the node's rules that a plugin can observe (tier
 * minimums, errors as values, events only to sessions that called the plugin
 * and only for declared event opcodes, the session-closed hook). No node, no
 * sockets: `deno test` of a plugin folder runs in milliseconds.
 *
 * ```ts
 * import { testHost } from "@myclerk/plugin-sdk/testing";
 * import plugin from "./mod.ts";
 * Deno.test("echo", async () => {
 *   const host = await testHost(plugin, { minTier: { 0xF801: 3 } });
 *   const s = host.session({ tier: 2 });
 *   const r = await s.call(0xF800, { text: "hi" });
 *   if (!r.ok) throw new Error(r.detail);
 *   await host.close();
 * });
 * ```
 *
 * What it does not model: process isolation and Deno permissions (the real
 * host enforces the grant; here `grant` is only what the plugin is told),
 * MessagePack (payloads are structured-cloned), the node's ACL gate.
 *
 * @module
 */
import { ErrorCode, errorName, isProtocolError, MyClerkError } from "./errors.ts";
import type { GrantInfo, PeerInfo } from "./types.ts";
import type { PluginContext, PluginDefinition, PluginEventHandler, RequestContext } from "./mod.ts";

/**
 * The outcome of one request (an ERROR is a value, as on the wire).
 *
 * @example const r: TestResult = await s.call(0xF800, {}); if (r.ok) console.log(r.payload)
 */
export type TestResult =
  | { readonly ok: true; readonly payload: unknown }
  | {
    readonly ok: false;
    /** Profile error code. */
    readonly code: number;
    /** Code name, e.g. `FORBIDDEN`. */
    readonly name: string;
    /** The error's detail. */
    readonly detail: string;
    /** The error's extras (what `fail(code, detail, extras)` gave). */
    readonly extra: Readonly<Record<string, unknown>>;
  };

/**
 * One event the plugin pushed.
 *
 * @example host.events.filter((e) => e.opcode === 0xF808)
 */
export interface TestEvent {
  /** Event opcode. */
  readonly opcode: number;
  /** Payload. */
  readonly payload: unknown;
  /** Target session, absent for a node-wide event. */
  readonly sessionId?: number;
}

/**
 * Options of {@link testHost}.
 *
 * @example await testHost(plugin, { name: "my-plugin", grant: { net: ["api.example.com:443"] } })
 */
export interface TestHostOptions {
  /** Plugin name told in `init` (default `test-plugin`). */
  readonly name?: string;
  /** Grant told to the plugin; `dataDir` defaults to a fresh temp directory. */
  readonly grant?: Partial<GrantInfo>;
  /** Per-opcode minimum tier (the manifest's `minTier`). */
  readonly minTier?: Readonly<Record<number, number>>;
  /** Sessions told in `init` as still subscribed (as after a reload); default none. */
  readonly sessions?: readonly number[];
  /** Declared event opcodes (the manifest's `events`); absent: the definition's `events`, else none (as the node). */
  readonly events?: readonly number[];
  /**
   * Other plugins' opcodes `ctx.call` may reach (a grant of `calls`): opcode
   * -> handler. Calls to anything else are refused FORBIDDEN `call-not-granted`.
   */
  readonly calls?: Readonly<Record<number, (payload: unknown) => unknown | Promise<unknown>>>;
}

/**
 * A fake node session.
 *
 * @example const s = host.session({ tier: 4 }); await s.call(0xF800, {}); s.close()
 */
export interface TestSession {
  /** Session id (u16, from 1). */
  readonly id: number;
  /** Negotiated tier. */
  readonly tier: number;
  /** Sends a request at the session's tier (or `tier`). */
  call(opcode: number, payload?: unknown, tier?: number): Promise<TestResult>;
  /** Events delivered to this session so far (addressed to it, or node-wide). */
  events(): readonly TestEvent[];
  /** Waits until `n` events reached this session (rejects after `timeoutMs`, default 2000). */
  waitEvents(n: number, timeoutMs?: number): Promise<readonly TestEvent[]>;
  /** Ends the session: the plugin's `sessionClosed` runs. */
  close(): Promise<void>;
}

/**
 * A running test host.
 *
 * @example const host = await testHost(plugin); host.logs; host.dropped; await host.close()
 */
export interface TestHost {
  /** Opens a fake session. */
  session(o?: { readonly tier?: number; readonly keyId?: number }): TestSession;
  /** Every event the plugin pushed that was delivered. */
  readonly events: readonly TestEvent[];
  /** Events dropped, with why (`undeclared`, `not-subscribed`). */
  readonly dropped: readonly (TestEvent & { readonly reason: string })[];
  /** The plugin's log lines (`ctx.log`). */
  readonly logs: readonly string[];
  /** The grant told to the plugin. */
  readonly grant: GrantInfo;
  /** Stops the plugin (`close()`) and removes the temp data directory it created. */
  close(): Promise<void>;
}

function fmt(parts: readonly unknown[]): string {
  return parts.map((p) => typeof p === "string" ? p : Deno.inspect(p, { depth: 4 })).join(" ");
}

function asError(e: unknown): TestResult {
  if (isProtocolError(e)) {
    return {
      ok: false,
      code: e.code,
      name: errorName(e.code),
      detail: e.detail,
      extra: { ...(e.extra ?? {}) },
    };
  }
  return {
    ok: false,
    code: ErrorCode.INTERNAL_ERROR,
    name: "INTERNAL_ERROR",
    detail: "handler-threw",
    extra: {},
  };
}

/**
 * Starts `def` in-process: runs `init` (a throw rejects, like a refused
 * start on the node) and returns the host.
 *
 * @example const host = await testHost(plugin, { minTier: { 0xF801: 3 } })
 */
export async function testHost(def: PluginDefinition, o: TestHostOptions = {}): Promise<TestHost> {
  const ownDir = o.grant?.dataDir === undefined ? await Deno.makeTempDir() : undefined;
  const grant: GrantInfo = {
    net: [],
    read: [],
    write: [],
    env: [],
    ffi: {},
    buses: [],
    devices: [],
    ...o.grant,
    dataDir: o.grant?.dataDir ?? ownDir!,
  };
  const declared = o.events ?? def.events;
  const events: TestEvent[] = [];
  const dropped: (TestEvent & { reason: string })[] = [];
  const logs: string[] = [];
  const called = new Set<number>(o.sessions ?? []);
  const open = new Map<number, TestEvent[]>();
  const waiters: (() => void)[] = [];
  const subs = new Map<number, PluginEventHandler[]>();
  const emit = (opcode: number, payload: unknown, sessionId?: number) => {
    const ev: TestEvent = sessionId === undefined
      ? { opcode, payload: structuredClone(payload) }
      : { opcode, payload: structuredClone(payload), sessionId };
    if (!(declared ?? []).includes(opcode)) {
      dropped.push({ ...ev, reason: "undeclared" });
      return;
    }
    if (sessionId !== undefined && !called.has(sessionId)) {
      dropped.push({ ...ev, reason: "not-subscribed" });
      return;
    }
    events.push(ev);
    for (const [id, list] of open) if (sessionId === undefined || sessionId === id) list.push(ev);
    for (const w of waiters.splice(0)) w();
  };
  const call = (op: number, payload: unknown): Promise<unknown> => {
    const h = o.calls?.[op];
    if (h === undefined) {
      return Promise.reject(
        new MyClerkError(ErrorCode.FORBIDDEN, "call-not-granted", { opcode: op }),
      );
    }
    return Promise.resolve(h(structuredClone(payload)));
  };
  const base: PluginContext = {
    name: o.name ?? "test-plugin",
    hostApi: "1.0",
    grant,
    sessions: o.sessions ?? [],
    emit,
    log: (...parts) => logs.push(fmt(parts)),
    call,
    subscribe: (ops, cb) => {
      for (const op of ops) subs.set(op, [...(subs.get(op) ?? []), cb]);
      return Promise.resolve();
    },
  };
  await def.init?.(base);
  const handlers = new Map<number, PluginDefinition["handlers"][number]>();
  for (const [k, h] of Object.entries(def.handlers)) handlers.set(Number(k), h);
  let nextSession = 1;

  const request = async (
    opcode: number,
    payload: unknown,
    peer: PeerInfo,
    tier: number,
  ): Promise<TestResult> => {
    const required = o.minTier?.[opcode] ?? 0;
    if (tier < required) {
      return {
        ok: false,
        code: ErrorCode.FORBIDDEN,
        name: "FORBIDDEN",
        detail: "tier-below-minimum",
        extra: { "required-tier": required },
      };
    }
    const h = handlers.get(opcode);
    if (h === undefined) {
      return {
        ok: false,
        code: ErrorCode.NOT_FOUND,
        name: "NOT_FOUND",
        detail: "no-handler",
        extra: {},
      };
    }
    if (peer.sessionId > 0) called.add(peer.sessionId);
    const ctx: RequestContext = { ...base, opcode, tier, peer };
    try {
      const r = await h(structuredClone(payload), ctx);
      return { ok: true, payload: structuredClone(r ?? null) };
    } catch (e) {
      if (!isProtocolError(e)) logs.push(`handler threw: ${fmt([e])}`);
      return asError(e);
    }
  };

  return {
    events,
    dropped,
    logs,
    grant,
    session(so = {}) {
      const id = nextSession++;
      const tier = so.tier ?? 3;
      const mine: TestEvent[] = [];
      open.set(id, mine);
      const peer: PeerInfo = { sessionId: id, keyId: so.keyId ?? 0x0a0b0c0d, tier, remote: "test" };
      return {
        id,
        tier,
        call: (op, payload = {}, t = tier) => request(op, payload, peer, t),
        events: () => mine,
        waitEvents: (n, timeoutMs = 2000) =>
          new Promise((resolve, reject) => {
            const deadline = setTimeout(
              () =>
                reject(new Error(`waitEvents: ${mine.length} of ${n} events in ${timeoutMs} ms`)),
              timeoutMs,
            );
            const check = () => {
              if (mine.length >= n) {
                clearTimeout(deadline);
                resolve(mine);
              } else waiters.push(check);
            };
            check();
          }),
        close: async () => {
          open.delete(id);
          called.delete(id);
          await def.sessionClosed?.(id);
        },
      };
    },
    close: async () => {
      await def.close?.();
      for (const w of waiters.splice(0)) w();
      if (ownDir !== undefined) await Deno.remove(ownDir, { recursive: true }).catch(() => {});
    },
  };
}
