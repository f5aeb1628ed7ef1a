/**
 * Messages between the host and a plugin instance, the same in every
 * isolation mode (structured clone for Workers, length-prefixed MessagePack
 * on stdin/stdout for processes, direct calls in-process).
 *
 * @module
 */

// The SDK owns the types a plugin sees (plugins/sdk/types.ts); the runtime imports them
// from there, never the other way round (tests/plugins/sdk_graph_test.ts).
import type { GrantInfo, PeerInfo } from "../sdk/types.ts";

/** Host -> plugin. */
export type HostMsg =
  | {
    readonly t: "init";
    readonly name: string;
    readonly hostApi: string;
    readonly grant: GrantInfo;
    /** Open sessions that called an earlier generation (reload, restart): still subscribed. */
    readonly sessions?: readonly number[];
  }
  | {
    readonly t: "req";
    readonly id: number;
    readonly op: number;
    readonly tier: number;
    readonly payload: unknown;
    readonly peer: PeerInfo;
  }
  | { readonly t: "ping"; readonly id: number }
  /** A session ended: release what it held (devices, subscriptions). */
  | { readonly t: "session-closed"; readonly sessionId: number }
  | { readonly t: "close" }
  /** Answer to a plugin's {@link PluginMsg} `call` (same shape as `res`). */
  | { readonly t: "call-res"; readonly id: number; readonly ok: true; readonly payload: unknown }
  | {
    readonly t: "call-res";
    readonly id: number;
    readonly ok: false;
    readonly code: number;
    readonly detail: string;
    readonly extra: Readonly<Record<string, unknown>>;
  }
  /** Answer to a `sub`: the opcodes now subscribed, or why not. */
  | {
    readonly t: "sub-res";
    readonly id: number;
    readonly ok: boolean;
    readonly code?: number;
    readonly detail?: string;
  }
  /** An event of another plugin this plugin subscribed to. */
  | { readonly t: "pevent"; readonly op: number; readonly payload: unknown; readonly from: string };

/** Plugin -> host. */
export type PluginMsg =
  | { readonly t: "ready"; readonly opcodes: readonly number[] }
  | { readonly t: "init-error"; readonly code: number; readonly detail: string }
  | { readonly t: "res"; readonly id: number; readonly ok: true; readonly payload: unknown }
  | {
    readonly t: "res";
    readonly id: number;
    readonly ok: false;
    readonly code: number;
    readonly detail: string;
    readonly extra: Readonly<Record<string, unknown>>;
  }
  | {
    readonly t: "event";
    readonly op: number;
    readonly payload: unknown;
    readonly sessionId?: number;
  }
  | { readonly t: "pong"; readonly id: number; readonly heapUsed: number }
  | { readonly t: "log"; readonly line: string }
  | { readonly t: "closed" }
  /**
   * Calls another plugin's opcode. `parent` is the id of the request being
   * handled when the call was made (for cycle detection), 0 outside a request.
   */
  | {
    readonly t: "call";
    readonly id: number;
    readonly op: number;
    readonly payload: unknown;
    readonly timeoutMs: number;
    readonly parent: number;
  }
  /** Subscribes to other plugins' events for these opcodes. */
  | { readonly t: "sub"; readonly id: number; readonly ops: readonly number[] };
