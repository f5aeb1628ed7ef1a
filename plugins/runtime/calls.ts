/**
 * Plugin-to-plugin calls and event subscriptions, under the same rules as a
 * session's request: the caller's grant must cover the opcode (manifest
 * `calls` ∩ policy `calls`), the node's gate (reserved ranges, tier via the
 * policy's `callTier`, NOT_FOUND) applies through the host's dispatch, every
 * refusal is logged. Deadline per call, bounded in-flight per caller, and a
 * call that would re-enter a plugin already waiting in the chain (A -> B -> A)
 * is refused at once instead of recursing.
 *
 * @module
 */
import { ErrorCode, type ErrorCodeValue, MyClerkError } from "../../core/errors.ts";
import { rangeOf } from "../../core/opcodes.ts";
import type { ManifestRange } from "../manifest.ts";
import type { PeerInfo } from "../sdk/types.ts";
import type { HostMsg, PluginMsg } from "./protocol.ts";
import type { DispatchResult } from "./runner.ts";

export type { DispatchResult };

/** Calls one plugin may have outstanding at once; more get SERVICE_UNAVAILABLE `calls-full`. */
export const MAX_CALLS_IN_FLIGHT = 64;
/** Longest deadline a caller may ask for. */
export const MAX_CALL_TIMEOUT_MS = 60_000;
/** Session ids of plugin callers start here (above every u16 session id of the node). */
export const PLUGIN_SESSION_BASE = 0x10000;

/** What the router needs from the host. */
export interface CallHost {
  /** The caller's granted call ranges and tier, undefined when it is not running. */
  grantOf(name: string): { calls: readonly ManifestRange[]; callTier: number } | undefined;
  /** Which plugin serves `op` (undefined: none). */
  ownerOf(op: number): string | undefined;
  /** The host's dispatch (the node's gate), with the call chain. */
  dispatch(
    req: { opcode: number; tier: number; payload: unknown; peer: PeerInfo },
    chain: readonly string[],
  ): Promise<DispatchResult>;
  /** Sends a message to a running plugin. */
  notify(name: string, m: HostMsg): void;
  /** Structured log (refusals). */
  log(rec: Record<string, unknown>): void;
  /** A line in the caller's own plugin log. */
  pluginLog(name: string, line: string): void;
}

function covers(ranges: readonly ManifestRange[], op: number): boolean {
  return ranges.some((r) => op >= r.first && op <= r.last);
}

function hex(op: number): string {
  return `0x${op.toString(16).toUpperCase().padStart(4, "0")}`;
}

/** Routes `call`/`sub` messages of plugins and fans events out to subscribers. */
export class CallRouter {
  private readonly inFlight = new Map<string, number>();
  private readonly subs = new Map<string, Set<number>>();
  private readonly sessions = new Map<string, number>();

  /** Creates a router over the host's accessors. */
  constructor(private readonly h: CallHost) {}

  /** The session id a plugin's calls carry (stable per name, never a node session). */
  sessionOf(name: string): number {
    let id = this.sessions.get(name);
    if (id === undefined) {
      id = PLUGIN_SESSION_BASE + this.sessions.size + 1;
      this.sessions.set(name, id);
    }
    return id;
  }

  /** Logs a refusal (node log and the caller's plugin log) and returns its error. */
  private refuse(
    caller: string,
    kind: string,
    op: number,
    code: ErrorCodeValue,
    detail: string,
    extra: Record<string, unknown> = {},
  ): MyClerkError {
    this.h.log({ event: "plugin.call-refused", plugin: caller, kind, opcode: hex(op), detail });
    this.h.pluginLog(caller, `${kind} ${hex(op)} refused: ${detail}`);
    return new MyClerkError(code, detail, { opcode: op, ...extra });
  }

  /** Answers one `call` or `sub` message of `caller`; `chain` = plugins waiting upstream. */
  async handle(
    caller: string,
    m: Extract<PluginMsg, { t: "call" | "sub" }>,
    chain: readonly string[],
  ): Promise<HostMsg> {
    if (m.t === "sub") return this.subscribe(caller, m);
    const r = await this.call(caller, m, chain);
    return r.ok ? { t: "call-res", id: m.id, ok: true, payload: r.payload } : {
      t: "call-res",
      id: m.id,
      ok: false,
      code: r.error.code,
      detail: r.error.detail,
      extra: { ...r.error.extra },
    };
  }

  /** Records a subscription when every opcode is inside the caller's grant. */
  private subscribe(caller: string, m: Extract<PluginMsg, { t: "sub" }>): HostMsg {
    const g = this.h.grantOf(caller);
    const ops = Array.isArray(m.ops) ? m.ops : [];
    for (const op of ops) {
      if (
        !Number.isInteger(op) || op < 0 || op > 0xffff || g === undefined || !covers(g.calls, op)
      ) {
        const e = this.refuse(
          caller,
          "subscribe",
          Number(op) | 0,
          ErrorCode.FORBIDDEN,
          "sub-not-granted",
        );
        return { t: "sub-res", id: m.id, ok: false, code: e.code, detail: e.detail };
      }
    }
    const set = this.subs.get(caller) ?? new Set<number>();
    for (const op of ops) set.add(op);
    this.subs.set(caller, set);
    return { t: "sub-res", id: m.id, ok: true };
  }

  /** Checks, bounds and forwards one call through the host's dispatch. */
  private async call(
    caller: string,
    m: Extract<PluginMsg, { t: "call" }>,
    chain: readonly string[],
  ): Promise<DispatchResult> {
    const op = m.op;
    const no = (e: MyClerkError): DispatchResult => ({ ok: false, error: e });
    if (!Number.isInteger(op) || op < 0 || op > 0xffff) {
      return no(new MyClerkError(ErrorCode.BAD_REQUEST, "opcode"));
    }
    const g = this.h.grantOf(caller);
    if (g === undefined || !covers(g.calls, op)) {
      return no(this.refuse(caller, "call", op, ErrorCode.FORBIDDEN, "call-not-granted"));
    }
    const kind = rangeOf(op).kind;
    if (kind === "core" || kind === "federation") {
      // The node's own ranges are answered by the node for sessions, never through the host.
      return no(this.refuse(caller, "call", op, ErrorCode.FORBIDDEN, "call-node-range"));
    }
    const path = [...chain, caller];
    const owner = this.h.ownerOf(op);
    if (owner !== undefined && path.includes(owner)) {
      // The owner is already waiting for an answer further up: refuse instead of recursing.
      return no(
        this.refuse(caller, "call", op, ErrorCode.FORBIDDEN, "call-cycle", {
          chain: [...path, owner],
        }),
      );
    }
    const n = this.inFlight.get(caller) ?? 0;
    if (n >= MAX_CALLS_IN_FLIGHT) {
      return no(
        this.refuse(caller, "call", op, ErrorCode.SERVICE_UNAVAILABLE, "calls-full", {
          max: MAX_CALLS_IN_FLIGHT,
        }),
      );
    }
    const timeoutMs = Math.max(
      10,
      Math.min(MAX_CALL_TIMEOUT_MS, Number.isFinite(m.timeoutMs) ? m.timeoutMs : 5000),
    );
    this.inFlight.set(caller, n + 1);
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      const peer: PeerInfo = {
        sessionId: this.sessionOf(caller),
        keyId: 0,
        tier: g.callTier,
        remote: `plugin:${caller}`,
      };
      return await Promise.race([
        this.h.dispatch({ opcode: op, tier: g.callTier, payload: m.payload, peer }, path),
        new Promise<DispatchResult>((res) => {
          timer = setTimeout(
            () => res(no(new MyClerkError(ErrorCode.TIMEOUT, "call-deadline", { timeoutMs }))),
            timeoutMs,
          );
        }),
      ]);
    } finally {
      clearTimeout(timer);
      this.inFlight.set(caller, (this.inFlight.get(caller) ?? 1) - 1);
    }
  }

  /**
   * Delivers an event pushed by `from` to every other plugin subscribed to
   * its opcode, when it is node-wide (no session) or addressed to that
   * plugin's call session. The grant is checked again at delivery (a reload
   * may have narrowed it).
   */
  deliver(from: string, op: number, payload: unknown, sessionId?: number): void {
    for (const [name, ops] of this.subs) {
      if (name === from || !ops.has(op)) continue;
      if (sessionId !== undefined && sessionId !== this.sessions.get(name)) continue;
      const g = this.h.grantOf(name);
      if (g === undefined || !covers(g.calls, op)) continue;
      this.h.notify(name, { t: "pevent", op, payload, from });
    }
  }

  /** Forgets a plugin's subscriptions (it restarted or was reloaded: it subscribes again in init). */
  forget(name: string): void {
    this.subs.delete(name);
  }
}
