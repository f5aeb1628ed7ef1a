/**
 * The plugin half of the host-plugin protocol: runs a {@link PluginDefinition}
 * behind a message port. Loaded by the generated entry module inside the
 * Worker or child process (and directly by the in-process mode).
 *
 * @module
 */
// The SDK's error type (a plugin imports only the SDK); any error with a numeric code and a
// string detail (the node's own MyClerkError too) is answered as that ERROR.
import {
  ErrorCode,
  type ErrorCodeValue,
  isProtocolError as isMyClerkError,
  MyClerkError,
} from "../sdk/errors.ts";
import type {
  CallOptions,
  PluginContext,
  PluginDefinition,
  PluginEventHandler,
  RequestContext,
} from "../sdk/mod.ts";
import type { HostMsg, PluginMsg } from "./protocol.ts";
import { encodeFrame, FrameDecoder } from "./frames.ts";

/** A bidirectional message channel to the host. */
export interface PluginPort {
  /** Sends one message to the host. */
  send(m: PluginMsg): void;
  /** Registers the one receiver of host messages. */
  listen(cb: (m: HostMsg) => void): void;
}

function fmt(parts: readonly unknown[]): string {
  return parts.map((p) => typeof p === "string" ? p : Deno.inspect(p, { depth: 4 })).join(" ");
}

function heapUsed(): number {
  try {
    return Deno.memoryUsage().heapUsed;
  } catch {
    return 0;
  }
}

/**
 * Serves `def` on `port` until the host sends `close`. Console output is
 * routed to the plugin log so it never reaches the node's stdout.
 */
export function servePlugin(def: PluginDefinition, port: PluginPort, onClosed?: () => void): void {
  const log = (...parts: unknown[]) => port.send({ t: "log", line: fmt(parts) });
  for (const k of ["log", "info", "warn", "error", "debug"] as const) console[k] = log;
  let base: PluginContext | undefined;
  // Outgoing calls and subscriptions: ids are ours, answers come back as call-res/sub-res.
  let nextCall = 1;
  const calls = new Map<number, (m: Extract<HostMsg, { t: "call-res" | "sub-res" }>) => void>();
  const subs = new Map<number, PluginEventHandler[]>();
  const call =
    (parent: number) => (op: number, payload: unknown, opts?: CallOptions): Promise<unknown> =>
      new Promise((resolve, reject) => {
        const id = nextCall++;
        calls.set(id, (r) => {
          if (r.ok && r.t === "call-res") resolve(r.payload);
          else if (!r.ok) {
            const extra = "extra" in r ? { ...r.extra } : {};
            reject(new MyClerkError(r.code as ErrorCodeValue, r.detail ?? "call-failed", extra));
          }
        });
        port.send({ t: "call", id, op, payload, timeoutMs: opts?.timeoutMs ?? 5000, parent });
      });
  const subscribe = (ops: readonly number[], cb: PluginEventHandler): Promise<void> =>
    new Promise((resolve, reject) => {
      const id = nextCall++;
      calls.set(id, (r) => {
        if (!r.ok) {
          reject(new MyClerkError(r.code as ErrorCodeValue, r.detail ?? "subscribe-failed"));
          return;
        }
        for (const op of ops) subs.set(op, [...(subs.get(op) ?? []), cb]);
        resolve();
      });
      port.send({ t: "sub", id, ops: [...ops] });
    });
  const handlers = new Map<number, PluginDefinition["handlers"][number]>();
  for (const [k, h] of Object.entries(def.handlers)) handlers.set(Number(k), h);

  const answer = async (m: Extract<HostMsg, { t: "req" }>) => {
    const h = handlers.get(m.op);
    if (h === undefined || base === undefined) {
      port.send({
        t: "res",
        id: m.id,
        ok: false,
        code: ErrorCode.NOT_FOUND,
        detail: "no-handler",
        extra: {},
      });
      return;
    }
    const ctx: RequestContext = {
      ...base,
      call: call(m.id),
      opcode: m.op,
      tier: m.tier,
      peer: m.peer,
    };
    try {
      const payload = await h(m.payload, ctx);
      port.send({ t: "res", id: m.id, ok: true, payload: payload ?? null });
    } catch (e) {
      if (isMyClerkError(e)) {
        port.send({
          t: "res",
          id: m.id,
          ok: false,
          code: e.code,
          detail: e.detail,
          extra: { ...(e.extra ?? {}) },
        });
      } else {
        // A non-protocol throw is a plugin bug: say so, keep the message for the log only.
        log("handler threw:", e);
        port.send({
          t: "res",
          id: m.id,
          ok: false,
          code: ErrorCode.INTERNAL_ERROR,
          detail: "handler-threw",
          extra: {},
        });
      }
    }
  };

  port.listen(async (m) => {
    switch (m.t) {
      case "init": {
        base = {
          name: m.name,
          hostApi: m.hostApi,
          grant: m.grant,
          sessions: m.sessions ?? [],
          emit: (op, payload, sessionId) => port.send({ t: "event", op, payload, sessionId }),
          log,
          call: call(0),
          subscribe,
        };
        try {
          await def.init?.(base);
          port.send({ t: "ready", opcodes: [...handlers.keys()] });
        } catch (e) {
          const code = isMyClerkError(e) ? e.code : ErrorCode.INTERNAL_ERROR;
          port.send({ t: "init-error", code, detail: e instanceof Error ? e.message : String(e) });
        }
        break;
      }
      case "req":
        void answer(m);
        break;
      case "ping":
        port.send({ t: "pong", id: m.id, heapUsed: heapUsed() });
        break;
      case "session-closed":
        try {
          await def.sessionClosed?.(m.sessionId);
        } catch (e) {
          log("sessionClosed failed:", e);
        }
        break;
      case "call-res":
      case "sub-res": {
        const w = calls.get(m.id);
        calls.delete(m.id);
        w?.(m);
        break;
      }
      case "pevent":
        for (const cb of subs.get(m.op) ?? []) {
          try {
            cb(m.op, m.payload, m.from);
          } catch (e) {
            log("event handler threw:", e);
          }
        }
        break;
      case "close":
        try {
          await def.close?.();
        } catch (e) {
          log("close failed:", e);
        }
        port.send({ t: "closed" });
        onClosed?.();
        break;
    }
  });
}

/** Entry for Worker mode: the port is the Worker's global scope. */
export function serveWorker(def: PluginDefinition): void {
  const scope = globalThis as unknown as {
    postMessage(m: unknown): void;
    onmessage: ((e: MessageEvent<HostMsg>) => void) | null;
    close(): void;
  };
  servePlugin(def, {
    send: (m) => scope.postMessage(m),
    listen: (cb) => {
      scope.onmessage = (e) => cb(e.data);
    },
  }, () => scope.close());
}

/**
 * Entry for process mode: frames on stdin/stdout. The process exits when
 * stdin closes, so a plugin never outlives its node.
 */
export function serveProcess(def: PluginDefinition): void {
  const writer = Deno.stdout.writable.getWriter();
  let exiting = false;
  servePlugin(def, {
    send: (m) => {
      if (!exiting) writer.write(encodeFrame(m)).catch(() => Deno.exit(0));
    },
    listen: (cb) => {
      (async () => {
        const dec = new FrameDecoder();
        for await (const chunk of Deno.stdin.readable) {
          for (const v of dec.push(chunk)) cb(v as HostMsg);
        }
        Deno.exit(0);
      })();
    },
  }, () => {
    exiting = true;
    writer.close().finally(() => Deno.exit(0));
  });
}
