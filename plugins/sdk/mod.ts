/**
 * The plugin SDK: everything a vendor needs to write a MyClerk plugin.
 *
 * A plugin is a folder with a `plugin.json` manifest and an entry module
 * whose default export is {@link definePlugin}'s result:
 *
 * ```ts
 * import { definePlugin, fail, ErrorCode } from "@myclerk/plugin-sdk";
 * export default definePlugin({
 *   handlers: {
 *     [0xF100]: (payload) => ({ echo: payload }),
 *     [0xF101]: () => fail(ErrorCode.BAD_REQUEST, "nope"),
 *   },
 * });
 * ```
 *
 * The host runs the module in a Worker, a child process or in-process; the
 * plugin code is the same in all three. See docs/PLUGINS.md, "Vendor chapter".
 *
 * Handlers return the answer's payload (a map is usual); the host adds the
 * request's `re` itself, so a handler never echoes `id`. This module and
 * everything it imports live in `plugins/sdk/`: a vendor's `deno.json` maps
 * `@myclerk/plugin-sdk` to this file (see `myclerk plugin new`), and
 * `@myclerk/plugin-sdk/testing` to `testing.ts` (an in-process test host).
 *
 * @module
 */
import {
  ErrorCode,
  type ErrorCodeValue,
  errorName,
  fail,
  isProtocolError,
  MyClerkError,
} from "./errors.ts";
import type { GrantInfo, PeerInfo } from "./types.ts";

export { ErrorCode, errorName, fail, isProtocolError, MyClerkError };
export type { ErrorCodeValue, GrantInfo, PeerInfo };

/**
 * Host API version this SDK is written against (`hostApi` in plugin.json should be `^1`).
 *
 * @example if (ctx.hostApi !== SDK_HOST_API) ctx.log("newer host", ctx.hostApi)
 */
export const SDK_HOST_API = "1.0";

/**
 * What a plugin can do outside of a request.
 *
 * @example init(ctx) { ctx.log("started with data in", ctx.grant.dataDir) }
 */
export interface PluginContext {
  /** The plugin's name from its manifest. */
  readonly name: string;
  /** The host API version the host implements (`major.minor`). */
  readonly hostApi: string;
  /** What the host granted (read-only copy; the runtime enforces it, this is for information). */
  readonly grant: GrantInfo;
  /**
   * Open node sessions that called an earlier generation of this plugin (after
   * a reload or a restart; empty on a first start). They are still subscribed:
   * events addressed to them are delivered. A plugin that keeps per-session
   * subscriptions rebuilds them from here (and from its `dataDir`), or emits
   * them an event saying they ended.
   */
  readonly sessions?: readonly number[];
  /**
   * Pushes an event (stream data, GPIO edge, CAN frame) to the node; `sessionId` targets one
   * session, which gets it only if it has called this plugin, is still open and may use the
   * opcode (otherwise the host drops and counts it: docs/PLUGINS.md section 5, "Events").
   */
  emit(opcode: number, payload: unknown, sessionId?: number): void;
  /** Writes a line to the plugin's log (`plugin logs NAME`). */
  log(...parts: unknown[]): void;
  /**
   * Calls an opcode served by another plugin, under the same rules as a
   * session: the manifest's `calls` must list it, the policy must grant it,
   * and the node's tier gate applies (the policy's `callTier`). Resolves to
   * the response payload; rejects with {@link MyClerkError} (FORBIDDEN
   * `call-not-granted`, `call-cycle`, TIMEOUT `call-deadline`,
   * SERVICE_UNAVAILABLE `calls-full`, or the callee's own error).
   */
  call(opcode: number, payload: unknown, opts?: CallOptions): Promise<unknown>;
  /**
   * Subscribes to events another plugin pushes for `opcodes` (node-wide
   * events, and events it addresses to this plugin's calls). Same grant as
   * {@link PluginContext.call}; rejects with FORBIDDEN when not granted.
   */
  subscribe(opcodes: readonly number[], cb: PluginEventHandler): Promise<void>;
}

/**
 * Options of {@link PluginContext.call}.
 *
 * @example await ctx.call(0x0670, {}, { timeoutMs: 1000 })
 */
export interface CallOptions {
  /** Deadline in ms (capped by the callee's `limits.timeoutMs`); default 5000. */
  readonly timeoutMs?: number;
}

/**
 * Receives another plugin's event: opcode, payload and the emitting plugin's name.
 *
 * @example const h: PluginEventHandler = (op, p, from) => console.log(op, p, from)
 */
export type PluginEventHandler = (opcode: number, payload: unknown, from: string) => void;

/**
 * What a handler gets besides the payload.
 *
 * @example const h: Handler = (_p, ctx) => ({ session: ctx.peer.sessionId, tier: ctx.tier })
 */
export interface RequestContext extends PluginContext {
  /** Opcode of the request. */
  readonly opcode: number;
  /** Tier the request arrived at (already checked against the minimum). */
  readonly tier: number;
  /** Session that sent it. */
  readonly peer: PeerInfo;
}

/**
 * A request handler: return (or resolve) the response payload, throw {@link MyClerkError}
 * (or call {@link fail}) to answer an error. Any other throw is answered
 * INTERNAL_ERROR `handler-threw` and logged.
 *
 * @example const echo: Handler = (p) => ({ echo: p })
 */
export type Handler = (payload: unknown, ctx: RequestContext) => unknown | Promise<unknown>;

/**
 * A plugin: handlers per opcode, plus optional lifecycle hooks.
 *
 * @example const def: PluginDefinition = { handlers: { [0xF800]: () => ({}) }, sessionClosed(id) {} }
 */
export interface PluginDefinition {
  /** Opcode -> handler. Opcodes must lie in the manifest's ranges. */
  readonly handlers: Readonly<Record<number, Handler>>;
  /** Opcodes this plugin may push as events (documentation and validation). */
  readonly events?: readonly number[];
  /** Called once before the first request; throw to refuse to start. */
  init?(ctx: PluginContext): void | Promise<void>;
  /** Called on shutdown (reload, node stop); release devices here. */
  close?(): void | Promise<void>;
  /**
   * Called when a node session ends (every plugin is told, whether or not the
   * session called it); release what it held: subscriptions, devices, locks.
   * The id may be given to a new session afterwards.
   */
  sessionClosed?(sessionId: number): void | Promise<void>;
}

/**
 * Declares a plugin (identity function that fixes the type and checks opcodes).
 *
 * @example export default definePlugin({ handlers: { [0xF100]: (p) => p } })
 */
export function definePlugin(def: PluginDefinition): PluginDefinition {
  for (const k of Object.keys(def.handlers)) {
    const op = Number(k);
    if (!Number.isInteger(op) || op < 0 || op > 0xffff) {
      throw new MyClerkError(ErrorCode.BAD_REQUEST, `sdk: handler key ${k} is not an opcode`);
    }
  }
  return def;
}

/**
 * Narrows a payload to a plain object (MessagePack map) or fails with BAD_REQUEST `payload-not-map`.
 *
 * @example const m = asMap(payload)
 */
export function asMap(payload: unknown): Readonly<Record<string, unknown>> {
  if (
    payload === null || typeof payload !== "object" || Array.isArray(payload) ||
    payload instanceof Uint8Array
  ) {
    fail(ErrorCode.BAD_REQUEST, "payload-not-map");
  }
  return payload as Record<string, unknown>;
}

/**
 * Reads a required field of a given `typeof` from a map payload, or fails with BAD_REQUEST `field:NAME`.
 *
 * @example const text = field(asMap(payload), "text", "string")
 */
export function field<T extends "string" | "number" | "boolean">(
  map: Readonly<Record<string, unknown>>,
  name: string,
  type: T,
): T extends "string" ? string : T extends "number" ? number : boolean {
  const v = map[name];
  const actual: string = typeof v;
  if (actual !== type) fail(ErrorCode.BAD_REQUEST, `field:${name}`, { expected: type });
  return v as T extends "string" ? string : T extends "number" ? number : boolean;
}

/**
 * Reads a required binary field (MessagePack `bin`) or fails with BAD_REQUEST `field:NAME`.
 *
 * @example const data = bytesField(asMap(payload), "data")
 */
export function bytesField(map: Readonly<Record<string, unknown>>, name: string): Uint8Array {
  const v = map[name];
  if (!(v instanceof Uint8Array)) fail(ErrorCode.BAD_REQUEST, `field:${name}`, { expected: "bin" });
  return v;
}
