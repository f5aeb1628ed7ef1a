/**
 * Supervises one plugin instance: the bounded in-flight queue, per-request
 * deadlines, the heartbeat/heap watchdog, and crash handling (every request
 * in flight gets INTERNAL_ERROR). Restart policy lives in the host; a runner
 * is one generation and never comes back once down.
 *
 * @module
 */
import { ErrorCode, type ErrorCodeValue, MyClerkError } from "../../core/errors.ts";
import type { Limits } from "../manifest.ts";
import { type Instance, type InstanceSpec, startInstance } from "./instance.ts";
import type { LogRing, Metrics } from "./metrics.ts";
import type { GrantInfo, PeerInfo } from "../sdk/types.ts";
import type { HostMsg, PluginMsg } from "./protocol.ts";

/** Result of one dispatch (never a throw). */
export type DispatchResult =
  | { readonly ok: true; readonly payload: unknown }
  | { readonly ok: false; readonly error: MyClerkError };

/** Everything a runner needs. */
export interface RunnerOptions {
  /** How to start the instance. */
  readonly spec: InstanceSpec;
  /** Queue, timeout, memory and heartbeat limits. */
  readonly limits: Limits;
  /** Host API version announced in `init`. */
  readonly hostApi: string;
  /** The grant, as told to the plugin in `init`. */
  readonly grant: GrantInfo;
  /** Counters to update (owned by the host, kept across restarts). */
  readonly metrics: Metrics;
  /** Ring of the plugin's recent log lines. */
  readonly logs: LogRing;
  /** Longest wait for `ready` after start. */
  readonly startTimeoutMs: number;
  /** Open sessions that called an earlier generation, told in `init` (`ctx.sessions`). */
  readonly sessions?: readonly number[];
  /** A plugin-pushed event (not yet checked against the plugin's ranges). */
  onEvent(op: number, payload: unknown, sessionId?: number): void;
  /** The instance is gone (crash, watchdog); called once, never after `drain`/`kill`. */
  onDown(reason: string): void;
  /**
   * The plugin calls another plugin (`call`) or subscribes (`sub`); `chain`
   * lists the plugins whose requests led to it (for cycle detection). The
   * answer is sent back to the plugin. Absent: refused with UNSUPPORTED.
   */
  onCall?(
    m: Extract<PluginMsg, { t: "call" | "sub" }>,
    chain: readonly string[],
  ): Promise<HostMsg>;
}

interface Pending {
  readonly resolve: (r: DispatchResult) => void;
  /** performance.now() when the request was sent. */
  readonly t0: number;
  /** Plugins whose calls led to this request (empty for a session's request). */
  readonly chain: readonly string[];
}

const MiB = 1024 * 1024;

function err(
  code: ErrorCodeValue,
  detail: string,
  extra: Record<string, unknown> = {},
): DispatchResult {
  return { ok: false, error: new MyClerkError(code, detail, extra) };
}

/** One supervised generation of a plugin. */
export class Runner {
  /** `ready` serves; `draining` finishes what it has; `down` is final. */
  state: "starting" | "ready" | "draining" | "down" = "starting";
  /** Why it went down. */
  downReason = "";
  /** When it became ready (ms, performance clock). */
  readyAt = 0;
  private instance: Instance | undefined;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private pingSentAt = 0;
  private pingId = 0;
  private watchdog: ReturnType<typeof setInterval> | undefined;
  private sweeper: ReturnType<typeof setInterval> | undefined;
  private readyWaiter: ((e?: MyClerkError) => void) | undefined;
  private pongWaiters: Array<(ok: boolean) => void> = [];
  private drained: (() => void) | undefined;
  /** Set once `close` was sent by a drain: the plugin exiting then is not a crash. */
  private closeSent = false;

  private constructor(private readonly o: RunnerOptions) {}

  /** Starts an instance and waits for it to be ready; throws SERVICE_UNAVAILABLE when it cannot. */
  static async start(o: RunnerOptions): Promise<Runner> {
    const r = new Runner(o);
    await r.boot();
    return r;
  }

  /** Tells the plugin that a session ended (it releases what the session held). */
  sessionClosed(sessionId: number): void {
    if (this.state === "ready" || this.state === "draining") {
      this.instance?.send({ t: "session-closed", sessionId });
    }
  }

  /** Number of requests in flight. */
  get inFlight(): number {
    return this.pending.size;
  }

  /** Starts the instance, sends `init`, waits for `ready`, then starts the watchdog and deadline sweep. */
  private async boot(): Promise<void> {
    const ready = new Promise<MyClerkError | undefined>((res) => {
      this.readyWaiter = res;
    });
    this.instance = await startInstance(this.o.spec, {
      onMessage: (m) => this.onMessage(m),
      onLog: (l) => this.o.logs.push(l),
      onExit: (reason) => this.down(reason),
      onInvalid: (reason) => this.o.metrics.count("invalid", reason),
      onOutputLimited: (kind, n) => this.o.metrics.output(kind, n),
    });
    this.instance.send({
      t: "init",
      name: this.o.spec.name,
      hostApi: this.o.hostApi,
      grant: this.o.grant,
      sessions: this.o.sessions ?? [],
    });
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<MyClerkError>((res) => {
      timer = setTimeout(
        () => res(new MyClerkError(ErrorCode.SERVICE_UNAVAILABLE, "plugin-start-timeout")),
        this.o.startTimeoutMs,
      );
    });
    const e = await Promise.race([ready, timeout]);
    clearTimeout(timer);
    this.readyWaiter = undefined;
    if (e !== undefined) {
      await this.kill();
      throw e;
    }
    this.state = "ready";
    this.readyAt = performance.now();
    const every = Math.max(25, Math.floor(this.o.limits.heartbeatMs / 2));
    this.watchdog = setInterval(() => this.tick(), every);
    // One deadline sweep per runner instead of a timer per request: every
    // request has the same timeout, so the Map's insertion order is deadline
    // order and a sweep stops at the first live entry. Precision: +1 period.
    const period = Math.min(250, Math.max(5, Math.floor(this.o.limits.timeoutMs / 20)));
    this.sweeper = setInterval(() => this.sweep(), period);
  }

  /** Answers TIMEOUT to every request past its deadline (oldest first). */
  private sweep(): void {
    const limit = performance.now() - this.o.limits.timeoutMs;
    for (const [id, p] of this.pending) {
      if (p.t0 > limit) break;
      this.pending.delete(id);
      this.o.metrics.record(ErrorCode.TIMEOUT, this.o.limits.timeoutMs);
      p.resolve(err(ErrorCode.TIMEOUT, "deadline", { timeoutMs: this.o.limits.timeoutMs }));
    }
    if (this.pending.size === 0) this.drained?.();
  }

  /** Watchdog: pings the plugin, kills it when a ping goes unanswered for `heartbeatMs`. */
  private tick(): void {
    const now = performance.now();
    if (this.pingSentAt !== 0) {
      if (now - this.pingSentAt > this.o.limits.heartbeatMs) {
        this.o.logs.push(
          `watchdog: no heartbeat for ${
            Math.round(now - this.pingSentAt)
          } ms (busy loop?), killing`,
        );
        this.killFor(`watchdog: no heartbeat for ${this.o.limits.heartbeatMs} ms`);
      }
      return;
    }
    this.pingSentAt = now;
    this.instance?.send({ t: "ping", id: ++this.pingId });
  }

  /** Sends a ping and waits for the pong (health check before a switch-over). */
  healthCheck(timeoutMs: number): Promise<boolean> {
    return new Promise((res) => {
      const t = setTimeout(() => res(false), timeoutMs);
      this.pongWaiters.push((ok) => {
        clearTimeout(t);
        res(ok);
      });
      if (this.pingSentAt === 0) {
        this.pingSentAt = performance.now();
        this.instance?.send({ t: "ping", id: ++this.pingId });
      }
    });
  }

  /** Handles one message from the plugin. */
  private onMessage(m: PluginMsg): void {
    switch (m.t) {
      case "res": {
        const p = this.pending.get(m.id);
        if (p === undefined) return; // answered after its deadline: dropped
        this.pending.delete(m.id);
        const ms = performance.now() - p.t0;
        if (m.ok) {
          this.o.metrics.record(undefined, ms);
          p.resolve({ ok: true, payload: m.payload });
        } else {
          this.o.metrics.record(m.code, ms);
          // The plugin's extras travel as the ERROR's "extra" map (core/node/connection.ts).
          p.resolve(err(m.code as ErrorCodeValue, m.detail, { ...m.extra, wire: m.extra }));
        }
        if (this.pending.size === 0) this.drained?.();
        return;
      }
      case "event":
        this.o.onEvent(m.op, m.payload, m.sessionId);
        return;
      case "pong": {
        this.pingSentAt = 0;
        const ws = this.pongWaiters;
        this.pongWaiters = [];
        for (const w of ws) w(true);
        if (m.heapUsed > this.o.limits.memoryMb * MiB) {
          this.o.logs.push(
            `watchdog: heap ${
              Math.round(m.heapUsed / MiB)
            } MiB over limit ${this.o.limits.memoryMb} MiB, killing`,
          );
          this.killFor(`watchdog: heap over ${this.o.limits.memoryMb} MiB`);
        }
        return;
      }
      case "log":
        this.o.logs.push(m.line);
        return;
      case "ready":
        this.readyWaiter?.();
        return;
      case "init-error":
        this.readyWaiter?.(
          new MyClerkError(ErrorCode.SERVICE_UNAVAILABLE, `plugin-init-failed: ${m.detail}`),
        );
        return;
      case "closed":
        return;
      case "call":
      case "sub": {
        const chain = m.t === "call" ? this.pending.get(m.parent)?.chain ?? [] : [];
        const answer = this.o.onCall?.(m, chain) ??
          Promise.resolve<HostMsg>(
            m.t === "call"
              ? {
                t: "call-res",
                id: m.id,
                ok: false,
                code: ErrorCode.UNSUPPORTED,
                detail: "calls-unavailable",
                extra: {},
              }
              : { t: "sub-res", id: m.id, ok: false, code: ErrorCode.UNSUPPORTED },
          );
        void answer.then((r) => this.instance?.send(r));
        return;
      }
    }
  }

  /**
   * Sends one request. Never throws: a full queue is SERVICE_UNAVAILABLE,
   * a passed deadline TIMEOUT, a crash INTERNAL_ERROR.
   */
  request(
    op: number,
    tier: number,
    payload: unknown,
    peer: PeerInfo,
    chain: readonly string[] = [],
  ): Promise<DispatchResult> {
    const m = this.o.metrics;
    m.requests++;
    if (this.state !== "ready") {
      m.record(ErrorCode.SERVICE_UNAVAILABLE, 0);
      return Promise.resolve(err(ErrorCode.SERVICE_UNAVAILABLE, `plugin-${this.state}`));
    }
    if (this.pending.size >= this.o.limits.queue) {
      m.record(ErrorCode.SERVICE_UNAVAILABLE, 0);
      return Promise.resolve(
        err(ErrorCode.SERVICE_UNAVAILABLE, "queue-full", { queue: this.o.limits.queue }),
      );
    }
    const id = this.nextId++;
    return new Promise<DispatchResult>((resolve) => {
      this.pending.set(id, { resolve, t0: performance.now(), chain });
      this.instance!.send({ t: "req", id, op, tier, payload, peer });
    });
  }

  /** Sends a host message (a subscribed event) to the plugin while it serves or drains. */
  notify(m: HostMsg): void {
    if (this.state === "ready" || this.state === "draining") this.instance?.send(m);
  }

  /** Answers INTERNAL_ERROR to every pending request. */
  private failAll(detail: string): void {
    for (const [id, p] of this.pending) {
      this.pending.delete(id);
      this.o.metrics.record(ErrorCode.INTERNAL_ERROR, performance.now() - p.t0);
      p.resolve(err(ErrorCode.INTERNAL_ERROR, detail));
    }
    this.drained?.();
  }

  /** Stops the watchdog and the deadline sweep. */
  private stopTimers(): void {
    if (this.watchdog !== undefined) clearInterval(this.watchdog);
    if (this.sweeper !== undefined) clearInterval(this.sweeper);
    this.watchdog = undefined;
    this.sweeper = undefined;
  }

  /** Marks the instance gone once: fails pending requests, reports start failure or `onDown`. */
  private down(reason: string): void {
    if (this.state === "down") return;
    // A drained instance exiting by itself after `close` is the end of a reload, not a crash.
    if (this.closeSent && reason === "crash: exited with code 0") reason = "closed after drain";
    const wasStarting = this.state === "starting";
    this.state = "down";
    this.downReason = reason;
    this.stopTimers();
    this.o.logs.push(`down: ${reason}`);
    this.failAll(reason.startsWith("watchdog") ? "plugin-killed" : "plugin-crashed");
    if (wasStarting) {
      this.readyWaiter?.(
        new MyClerkError(ErrorCode.SERVICE_UNAVAILABLE, `plugin-start-failed: ${reason}`),
      );
    } else this.o.onDown(reason);
  }

  /** Marks it down and kills the instance (watchdog). */
  private killFor(reason: string): void {
    const inst = this.instance;
    this.down(reason);
    void inst?.kill();
  }

  /**
   * Blue/green drain: stop taking requests, let the ones in flight finish
   * (or time out, at most `timeoutMs`), ask the plugin to close, then kill it.
   */
  async drain(timeoutMs: number): Promise<void> {
    if (this.state === "down") return;
    this.state = "draining";
    if (this.pending.size > 0) {
      let t: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([
        new Promise<void>((res) => {
          this.drained = res;
        }),
        new Promise<void>((res) => {
          t = setTimeout(res, timeoutMs);
        }),
      ]);
      clearTimeout(t);
    }
    this.closeSent = true;
    this.instance?.send({ t: "close" });
    // Give close() a moment to release devices, then make sure it is gone.
    await new Promise<void>((res) => setTimeout(res, 50));
    await this.kill();
  }

  /** Stops the instance now; whatever is in flight gets INTERNAL_ERROR `plugin-stopped`. */
  async kill(): Promise<void> {
    const inst = this.instance;
    if (this.state !== "down") {
      this.state = "down";
      this.downReason = "stopped";
      this.stopTimers();
      this.failAll("plugin-stopped");
    }
    this.readyWaiter?.(new MyClerkError(ErrorCode.SERVICE_UNAVAILABLE, "plugin-stopped"));
    for (const w of this.pongWaiters) w(false);
    this.pongWaiters = [];
    await inst?.kill();
  }
}
