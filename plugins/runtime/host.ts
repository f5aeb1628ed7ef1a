/**
 * The plugin host: loads every plugin folder, grants each the intersection
 * of its request and the policy, claims its opcode ranges, runs it in its
 * isolation mode and routes requests and events. Restarts with backoff,
 * blue/green reload, metrics and logs per plugin.
 *
 * The node uses only this class (and `pluginRoutes`, `registerPluginCommands`).
 *
 * Longer than ~500 lines on purpose: one plugin's supervision (start, frames, calls, events,
 * restarts, limits) over one child's state; validation, protocol, policy and launch are their own
 * modules.
 *
 * @module
 */
import { ErrorCode, type ErrorCodeValue, MyClerkError } from "../../core/errors.ts";
import { minimumTier, rangeOf } from "../../core/opcodes.ts";
import { busOf, type BusReport, detectBuses } from "../../hardware/detect.ts";
import { confinementDecision } from "../../hardware/confine/mod.ts";
import {
  hex4,
  HOST_API_VERSION,
  hostApiCompatible,
  type Manifest,
  readManifest,
} from "../manifest.ts";
import {
  computeGrant,
  type Grant,
  type Policy,
  readPolicy,
  type Refusal,
  resolveLibrary,
} from "../policy.ts";
import { checkClaim, RangeTable } from "../ranges.ts";
import type { InstanceSpec } from "./instance.ts";
import { LogRing, Metrics, type MetricsSnapshot } from "./metrics.ts";
import type { GrantInfo, PeerInfo } from "../sdk/types.ts";
import { type DispatchResult, Runner } from "./runner.ts";
import { CallRouter } from "./calls.ts";
import { commitVersion, dropNext, resolveRunDir, versionState } from "../install.ts";

export type { BusReport, DispatchResult, PeerInfo };

/** A request the node hands to the host (payload already MessagePack-decoded). */
export interface DispatchRequest {
  /** Request opcode (inside a plugin's claimed range). */
  readonly opcode: number;
  /** Tier of the session the request arrived on. */
  readonly tier: number;
  /** Decoded MessagePack payload. */
  readonly payload: unknown;
  /** Who sent it. */
  readonly peer: PeerInfo;
}

/** A server-pushed message from a plugin. */
export interface PluginEvent {
  /** Name of the plugin that pushed it. */
  readonly plugin: string;
  /** Opcode, within the plugin's claimed ranges. */
  readonly opcode: number;
  /** Payload, MessagePack-encodable. */
  readonly payload: unknown;
  /** Session to push it to; without one only {@link PluginHost.onEvent} listeners see it. */
  readonly sessionId?: number;
}

/** Lifecycle state of a plugin, as shown by `plugin list`. */
export type PluginState =
  | "running"
  | "starting"
  | "restarting"
  | "failed"
  | "not-started"
  | "invalid"
  | "stopped"
  | "not running";

/** One row of `plugin list` / `GET /plugins`. */
export interface PluginStatus {
  /** Plugin (folder) name. */
  readonly name: string;
  /** Manifest version, `""` when the manifest is invalid. */
  readonly version: string;
  /** Manifest description. */
  readonly description: string;
  /** The plugin's folder. */
  readonly dir: string;
  /** Lifecycle state. */
  readonly state: PluginState;
  /** Why it is not running (or the last crash). */
  readonly reason?: string;
  /** Isolation mode granted (or requested), `""` if unknown. */
  readonly isolation: string;
  /** Host API range from the manifest. */
  readonly hostApi: string;
  /** Claimed opcode ranges as `0xAAAA-0xBBBB`. */
  readonly ranges: readonly string[];
  /** Per-opcode minimum tier, keyed by `0xAAAA`. */
  readonly minTier: Readonly<Record<string, number>>;
  /** What the policy granted (FFI as `name=path`). */
  readonly granted: {
    readonly net: readonly string[];
    readonly read: readonly string[];
    readonly write: readonly string[];
    readonly env: readonly string[];
    readonly ffi: readonly string[];
    readonly buses: readonly string[];
  };
  /** Requested items the policy refused. */
  readonly refused: readonly Refusal[];
  /** Failure policy from the manifest. */
  readonly failure: string;
  /** Counters and latencies of this plugin. */
  readonly metrics: MetricsSnapshot;
  /** Kernel confinement of the plugin process, e.g. `landlock abi 7, net denied, seccomp`. */
  readonly confinement: string;
  /** Versions on disk (plugins/install.ts): installed, and the current/next/previous pointers. */
  readonly onDisk: {
    readonly installed: readonly string[];
    readonly current?: string;
    readonly next?: string;
    readonly previous?: string;
  };
}

/** Options of {@link PluginHost.start}. */
export interface HostOptions {
  /** Folder whose subfolders are plugins (each with plugin.json). */
  readonly pluginsDir: string;
  /** Policy file (JSON); absent = grant nothing. */
  readonly policyFile?: string;
  /** Root for bus detection (tests: a fake sysfs tree). */
  readonly busRoot?: string;
  /** Node data directory: plugin data under `plugin-data/NAME`, generated entries under `.plugin-run`. */
  readonly dataDir: string;
  /** Structured log sink. */
  readonly log?: (rec: Record<string, unknown>) => void;
  /** First restart delay in ms (doubles per consecutive crash, max 10 s). Default 200. */
  readonly restartBaseMs?: number;
  /** Longest wait for a plugin to become ready. Default 15000 ms. */
  readonly startTimeoutMs?: number;
  /**
   * Whether session `sessionId` exists and may use `opcode` now (the node's
   * gate, `Node#authorize`). Checked for every event a plugin addresses to a
   * session; absent: every session that called the plugin may get its events.
   */
  readonly authorize?: (sessionId: number, opcode: number) => boolean;
}

/** Why the host dropped an event a plugin pushed (label of `eventsDropped`). */
export type EventDropReason = "outside-range" | "undeclared" | "not-subscribed" | "unauthorized";

interface Slot {
  readonly name: string;
  readonly dir: string;
  /** The version folder running (or last tried at start); restarts re-run it. */
  runDir?: string;
  manifest?: Manifest;
  grant?: Grant;
  state: PluginState;
  reason?: string;
  runner?: Runner;
  readonly metrics: Metrics;
  readonly logs: LogRing;
  failures: number;
  restartTimer?: ReturnType<typeof setTimeout>;
  /** Sessions that called this plugin and have not closed: the only ones its events may reach. */
  readonly sessions: Set<number>;
  /** Drop reasons already logged (one log record per plugin and reason). */
  readonly dropsLogged: Set<EventDropReason>;
}

/**
 * The event opcodes each manifest declares, as a set: an event is checked by
 * one lookup instead of a scan of the ranges and the events list. The
 * manifest check (plugins/manifest.ts) keeps every declared event inside the
 * ranges, so a declared opcode passes both checks; the ranges are looked at
 * only to name the reason of a drop.
 */
const declaredEvents = new WeakMap<Manifest, ReadonlySet<number>>();

function eventsOf(m: Manifest): ReadonlySet<number> {
  let set = declaredEvents.get(m);
  if (set === undefined) declaredEvents.set(m, set = new Set(m.events ?? []));
  return set;
}

const MAX_BACKOFF_MS = 10_000;
/** A run this long resets the backoff. */
const HEALTHY_MS = 30_000;

/** Routes requests to sandboxed plugins. */
export class PluginHost {
  private table = RangeTable.empty();
  private readonly slots = new Map<string, Slot>();
  private readonly listeners = new Set<(ev: PluginEvent) => void>();
  private closed = false;
  private readonly runDir: string;
  /** Plugin-to-plugin calls and subscriptions (same gate as sessions). */
  private readonly calls = new CallRouter({
    grantOf: (n) => {
      const s = this.slots.get(n);
      // Also while starting: init() subscribes before the runner is in the slot.
      return s?.state === "running" || s?.state === "starting" ? s.grant : undefined;
    },
    ownerOf: (op) => this.table.lookup(op),
    dispatch: (req, chain) => this.dispatch(req, chain),
    notify: (n, m) => this.slots.get(n)?.runner?.notify(m),
    log: (rec) => this.log(rec),
    pluginLog: (n, line) => this.slots.get(n)?.logs.push(line),
  });

  private constructor(private readonly o: HostOptions, private readonly policy: Policy) {
    this.runDir = `${o.dataDir}/.plugin-run`;
  }

  /** Loads and starts every plugin in `pluginsDir`. A bad plugin is reported in `list()`, never fatal. */
  static async start(opts: HostOptions): Promise<PluginHost> {
    const host = new PluginHost(opts, await readPolicy(opts.policyFile));
    let names: string[] = [];
    try {
      names = [...Deno.readDirSync(opts.pluginsDir)].filter((e) => e.isDirectory).map((e) => e.name)
        .sort();
    } catch {
      host.log({ event: "plugin.dir-missing", dir: opts.pluginsDir });
    }
    for (const n of names) await host.load(n);
    await Promise.all(
      [...host.slots.values()].filter((s) => s.state === "starting").map((s) => host.launch(s)),
    );
    return host;
  }

  /** Forwards a structured log record to the node's logger, if any. */
  private log(rec: Record<string, unknown>): void {
    this.o.log?.(rec);
  }

  /** The slot for `name`, created on first use. */
  private slotFor(name: string): Slot {
    let s = this.slots.get(name);
    if (s === undefined) {
      s = {
        name,
        dir: `${this.o.pluginsDir}/${name}`,
        state: "not-started",
        metrics: new Metrics(),
        logs: new LogRing(),
        failures: 0,
        sessions: new Set(),
        dropsLogged: new Set(),
      };
      this.slots.set(name, s);
    }
    return s;
  }

  /** Validates one plugin folder and claims its ranges; leaves it `starting` or explains why not. */
  private async load(name: string): Promise<void> {
    const s = this.slotFor(name);
    try {
      const { manifest, grant, table, run } = await this.prepare(s, this.table, "start");
      s.runDir = run.dir;
      s.manifest = manifest;
      s.grant = grant;
      this.table = table;
      s.state = "starting";
      s.reason = undefined;
    } catch (e) {
      s.state = e instanceof MyClerkError && e.code === ErrorCode.SERVICE_UNAVAILABLE
        ? "not-started"
        : "invalid";
      s.reason = e instanceof Error ? e.message : String(e);
      s.logs.push(`not started: ${s.reason}`);
      this.log({ event: "plugin.not-started", plugin: name, reason: s.reason });
    }
  }

  /** Everything that can be decided before starting code: manifest, host API, grant, buses, ranges. */
  private async prepare(
    s: Slot,
    table: RangeTable,
    purpose: "start" | "reload",
  ): Promise<
    {
      manifest: Manifest;
      grant: Grant;
      table: RangeTable;
      run: { readonly dir: string; readonly version?: string };
    }
  > {
    const run = resolveRunDir(s.dir, purpose);
    const manifest = await readManifest(run.dir);
    if (manifest.name !== s.name) {
      throw new MyClerkError(
        ErrorCode.BAD_REQUEST,
        `invalid-manifest: manifest field name: "${manifest.name}" differs from its folder "${s.name}"; fix: rename one`,
      );
    }
    if (!hostApiCompatible(manifest.hostApi)) {
      throw new MyClerkError(
        ErrorCode.SERVICE_UNAVAILABLE,
        `host-api-mismatch: plugin wants ${manifest.hostApi}, this host implements ${HOST_API_VERSION}`,
      );
    }
    const grant = computeGrant(
      manifest,
      this.policy,
      this.vars(s, run.dir),
      (n) => resolveLibrary(n),
    );
    // Not serving yet: keep what was decided so `list()` can show grants and refusals even if it cannot start.
    if (s.runner === undefined) {
      s.manifest = manifest;
      s.grant = grant;
    }
    for (const r of grant.refused) {
      this.log({
        event: "plugin.refused",
        plugin: s.name,
        kind: r.kind,
        value: r.value,
        reason: r.reason,
      });
      s.logs.push(`refused ${r.kind} ${r.value}: ${r.reason}`);
    }
    const report = this.buses();
    for (const b of manifest.permissions.buses) {
      if (!grant.buses.includes(b)) {
        throw new MyClerkError(
          ErrorCode.SERVICE_UNAVAILABLE,
          `bus-not-granted: ${b} (not in policy)`,
        );
      }
      if (!busOf(report, b).present) {
        throw new MyClerkError(
          ErrorCode.SERVICE_UNAVAILABLE,
          `bus-absent: ${b} (nothing under ${busOf(report, b).source})`,
        );
      }
    }
    const missingLib = grant.refused.find((r) => r.kind === "library" || r.kind === "ffi");
    if (missingLib !== undefined) {
      throw new MyClerkError(
        ErrorCode.SERVICE_UNAVAILABLE,
        `ffi-unavailable: ${missingLib.value} (${missingLib.reason})`,
      );
    }
    const conf = confinementDecision(
      grant.ffi.length > 0,
      grant.net,
      this.policy.allowUnconfinedFfi === true,
      resolveLibrary("libc"),
    );
    if (conf.refuse !== undefined) {
      throw new MyClerkError(ErrorCode.SERVICE_UNAVAILABLE, conf.refuse);
    }
    checkClaim(s.name, manifest.ranges, grant.trusted);
    return { manifest, grant, table: table.without(s.name).with(s.name, manifest.ranges), run };
  }

  /** Path placeholder values (`$PLUGIN`, `$DATA`) of a slot. */
  private vars(s: Slot, dir: string = s.runDir ?? s.dir): { plugin: string; data: string } {
    return { plugin: dir, data: `${this.o.dataDir}/plugin-data/${s.name}` };
  }

  /** The grant as the plugin sees it, with device nodes of granted buses. */
  private grantInfo(s: Slot, g: Grant): GrantInfo {
    const report = this.buses();
    const devices = new Set<string>();
    for (const b of g.buses) {
      for (const d of busOf(report, b).devices) if (d.startsWith("/dev/")) devices.add(d);
    }
    for (const p of g.read) if (p.startsWith("/dev/") && g.write.includes(p)) devices.add(p);
    return {
      net: g.net,
      read: g.read,
      write: g.write,
      env: g.env,
      ffi: Object.fromEntries(g.ffi.map((f) => [f.name, f.path])),
      buses: g.buses,
      devices: [...devices],
      dataDir: this.vars(s).data,
    };
  }

  /** How to start the isolated instance for a slot. */
  private spec(s: Slot, m: Manifest, g: Grant, dir: string): InstanceSpec {
    return {
      name: s.name,
      mode: g.isolation,
      entry: `${dir}/${m.entry}`,
      runDir: this.runDir,
      cwd: this.vars(s).data,
      net: g.net,
      read: g.read,
      write: g.write,
      env: g.env,
      ffi: g.ffi.map((f) => f.path),
      memoryMb: m.limits.memoryMb,
      ...(confinementDecision(
          g.ffi.length > 0,
          g.net,
          this.policy.allowUnconfinedFfi === true,
          resolveLibrary("libc"),
        ).confine
        ? {
          confine: {
            libc: resolveLibrary("libc")!,
            pluginDir: dir,
            devices: this.grantInfo(s, g).devices,
            buses: g.buses,
          },
        }
        : {}),
    };
  }

  /** Starts a runner; its crashes are reported only while it is the slot's current one. */
  private async newRunner(
    s: Slot,
    m: Manifest,
    g: Grant,
    dir: string = s.runDir ?? s.dir,
  ): Promise<Runner> {
    await Deno.mkdir(this.vars(s).data, { recursive: true });
    // The new generation subscribes again from its init().
    this.calls.forget(s.name);
    let runner: Runner | undefined = undefined;
    const r = await Runner.start({
      spec: this.spec(s, m, g, dir),
      limits: m.limits,
      hostApi: HOST_API_VERSION,
      grant: this.grantInfo(s, g),
      metrics: s.metrics,
      logs: s.logs,
      startTimeoutMs: this.o.startTimeoutMs ?? 15_000,
      // Sessions that called the running generation stay subscribed across a reload or restart.
      sessions: [...s.sessions],
      onEvent: (op, payload, sessionId) => this.event(s, m, op, payload, sessionId),
      onCall: (msg, chain) => this.calls.handle(s.name, msg, chain),
      onDown: (reason) => {
        if (runner !== undefined && s.runner === runner) this.crashed(s, reason);
      },
    });
    runner = r;
    return r;
  }

  /** Starts a slot's plugin; a failed start counts as a crash. */
  private async launch(s: Slot): Promise<void> {
    const m = s.manifest!;
    const g = s.grant!;
    s.state = "starting";
    try {
      s.runner = await this.newRunner(s, m, g);
      if (this.closed) {
        await s.runner.kill();
        return;
      }
      s.state = "running";
      s.reason = undefined;
      this.log({
        event: "plugin.started",
        plugin: s.name,
        isolation: g.isolation,
        version: m.version,
      });
    } catch (e) {
      s.runner = undefined;
      const why = e instanceof Error ? e.message : String(e);
      s.logs.push(`start of ${m.version} failed: ${why}`);
      this.crashed(s, why);
    }
  }

  /** Handles a plugin going down: fail closed, or restart with exponential backoff. */
  private crashed(s: Slot, reason: string): void {
    const m = s.manifest!;
    const lived = s.runner !== undefined ? performance.now() - s.runner.readyAt : 0;
    s.runner = undefined;
    s.reason = reason;
    if (this.closed) return;
    this.log({ event: "plugin.down", plugin: s.name, reason });
    if (m.failure === "fail-closed") {
      s.state = "failed";
      s.logs.push(`fail-closed: stays down until reload (${reason})`);
      return;
    }
    if (lived > HEALTHY_MS) s.failures = 0;
    const delay = Math.min(MAX_BACKOFF_MS, (this.o.restartBaseMs ?? 200) * 2 ** s.failures);
    s.failures++;
    s.state = "restarting";
    s.logs.push(`restart in ${delay} ms (attempt ${s.failures})`);
    s.restartTimer = setTimeout(() => {
      s.restartTimer = undefined;
      if (this.closed || s.state !== "restarting") return;
      s.metrics.restarts++;
      void this.launch(s);
    }, delay);
  }

  /** Counts a dropped event; logs the first drop of each reason per plugin. */
  private dropEvent(s: Slot, reason: EventDropReason, op: number, sessionId?: number): void {
    s.metrics.count("eventsDropped", reason);
    if (s.dropsLogged.has(reason)) return;
    s.dropsLogged.add(reason);
    const to = sessionId === undefined ? "" : ` to session ${sessionId}`;
    s.logs.push(`dropped event ${hex4(op)}${to}: ${reason} (further drops are only counted)`);
    this.log({
      event: "plugin.event-dropped",
      plugin: s.name,
      reason,
      opcode: hex4(op),
      sessionId,
    });
  }

  /**
   * Forwards a plugin-pushed event. Dropped (and counted by reason): opcodes
   * outside the plugin's ranges; events addressed to a session that never
   * called this plugin (or has closed since); events to a session the node's
   * gate no longer authorizes for that opcode.
   */
  private event(s: Slot, m: Manifest, op: number, payload: unknown, sessionId?: number): void {
    // Only the events the manifest declares are delivered (docs/PLUGINS.md §2 `events`); a
    // manifest without `events` pushes none. Declared events lie in the plugin's ranges, so
    // a plugin still speaks only for its own opcodes (it must not forge core messages).
    if (!eventsOf(m).has(op)) {
      const inRange = m.ranges.some((r) => op >= r.first && op <= r.last);
      this.dropEvent(s, inRange ? "undeclared" : "outside-range", op, sessionId);
      return;
    }
    s.metrics.events++;
    // Plugin subscribers first: calls.ts delivers only what is addressed to no session or to
    // the subscriber's own (plugin-peer) session.
    this.calls.deliver(s.name, op, payload, sessionId);
    if (sessionId !== undefined) {
      // Ids above the u16 range are plugin peers (calls.ts): nothing to push to the node.
      if (sessionId > 0xffff) return;
      // A session id is a u16 anyone can guess: only sessions that asked this plugin for
      // something may hear from it, and only while the gate still lets them use the opcode.
      if (!s.sessions.has(sessionId)) {
        this.dropEvent(s, "not-subscribed", op, sessionId);
        return;
      }
      if (this.o.authorize !== undefined && !this.o.authorize(sessionId, op)) {
        this.dropEvent(s, "unauthorized", op, sessionId);
        return;
      }
    }
    const ev: PluginEvent = sessionId === undefined
      ? { plugin: s.name, opcode: op, payload }
      : { plugin: s.name, opcode: op, payload, sessionId };
    for (const l of this.listeners) {
      try {
        l(ev);
      } catch (e) {
        this.log({ event: "plugin.listener-threw", error: String(e) });
      }
    }
  }

  /**
   * Routes one request. Never throws. Order (profile §9, §10, §13):
   * reserved/unassigned -> UNSUPPORTED; tier below minimum -> FORBIDDEN
   * with `requiredTier`; no plugin -> NOT_FOUND; then the plugin.
   */
  dispatch(req: DispatchRequest, chain: readonly string[] = []): Promise<DispatchResult> {
    const op = req.opcode;
    const fail = (code: ErrorCodeValue, detail: string, extra: Record<string, unknown> = {}) =>
      Promise.resolve<DispatchResult>({ ok: false, error: new MyClerkError(code, detail, extra) });
    if (!Number.isInteger(op) || op < 0 || op > 0xffff) {
      return fail(ErrorCode.BAD_REQUEST, "opcode");
    }
    const range = rangeOf(op);
    if (!range.served) return fail(ErrorCode.UNSUPPORTED, `${range.kind}-range`);
    const name = this.table.lookup(op);
    const s = name === undefined ? undefined : this.slots.get(name);
    const required = Math.max(minimumTier(op), s?.manifest?.minTier.get(op) ?? 0);
    if (req.tier < required) {
      return fail(ErrorCode.FORBIDDEN, "tier-below-minimum", { requiredTier: required });
    }
    if (s === undefined) return fail(ErrorCode.NOT_FOUND, "no-handler");
    const r = s.runner;
    if (r === undefined || s.state !== "running") {
      s.metrics.requests++;
      s.metrics.record(ErrorCode.SERVICE_UNAVAILABLE, 0);
      return fail(ErrorCode.SERVICE_UNAVAILABLE, `plugin-${s.state}`, { plugin: s.name });
    }
    // Calling a plugin is what subscribes a session to its events (until the session closes).
    const sid = req.peer.sessionId;
    if (sid > 0 && sid <= 0xffff) s.sessions.add(sid);
    return r.request(op, req.tier, req.payload, req.peer, chain);
  }

  /** A session ended: every running plugin is told, so it releases what the session held. */
  sessionClosed(sessionId: number): void {
    // The id can be handed to a new session: it must not inherit this one's subscriptions.
    for (const s of this.slots.values()) s.sessions.delete(sessionId);
    for (const s of this.slots.values()) s.runner?.sessionClosed(sessionId);
  }

  /** Subscribes to plugin events; returns the unsubscribe function. */
  onEvent(cb: (ev: PluginEvent) => void): () => void {
    this.listeners.add(cb);
    return () => this.listeners.delete(cb);
  }

  /** Status of every plugin folder found. */
  list(): readonly PluginStatus[] {
    return [...this.slots.values()].map((s) => statusOf(s));
  }

  /**
   * Blue/green reload of `name` (also loads a newly installed folder):
   * start the new version, health-check it, switch its opcodes over in one
   * step, then drain the old one. On failure the old version keeps serving
   * and BAD_REQUEST / SERVICE_UNAVAILABLE is thrown.
   */
  async reload(name: string): Promise<void> {
    if (this.closed) throw new MyClerkError(ErrorCode.SERVICE_UNAVAILABLE, "host-closed");
    const s = this.slotFor(name);
    let prepared: Awaited<ReturnType<PluginHost["prepare"]>>;
    let green: Runner;
    try {
      prepared = await this.prepare(s, this.table, "reload");
    } catch (e) {
      s.logs.push(`reload refused: ${e instanceof Error ? e.message : String(e)}`);
      throw e;
    }
    const { manifest, grant, table, run } = prepared;
    try {
      green = await this.newRunner(s, manifest, grant, run.dir);
    } catch (e) {
      // The staged version did not start or failed init: it is dropped, the running one stays.
      s.logs.push(
        `reload to ${manifest.version} refused (${
          s.manifest?.version ?? "nothing"
        } keeps running): ${e instanceof Error ? e.message : String(e)}`,
      );
      if (run.version !== undefined) await dropNext(s.dir, run.version);
      throw e;
    }
    if (!(await green.healthCheck(manifest.limits.heartbeatMs))) {
      await green.kill();
      s.logs.push(`reload to ${manifest.version} refused: health check failed`);
      if (run.version !== undefined) await dropNext(s.dir, run.version);
      throw new MyClerkError(ErrorCode.SERVICE_UNAVAILABLE, "reload-health-check-failed");
    }
    if (s.restartTimer !== undefined) clearTimeout(s.restartTimer);
    s.restartTimer = undefined;
    const blue = s.runner;
    const oldLimits = s.manifest?.limits;
    // The switch: one synchronous step, so no request sees a half state.
    s.manifest = manifest;
    s.grant = grant;
    s.runner = green;
    s.runDir = run.dir;
    this.table = table;
    s.state = "running";
    s.reason = undefined;
    s.failures = 0;
    s.logs.push(`reloaded: version ${manifest.version}`);
    this.log({ event: "plugin.reloaded", plugin: name, version: manifest.version });
    if (run.version !== undefined) await commitVersion(s.dir, run.version);
    if (blue !== undefined) await blue.drain(oldLimits?.timeoutMs ?? 5_000);
  }

  /** The last `lines` log lines of `name` (its console, stderr, and host notes). */
  logs(name: string, lines = 100): readonly string[] {
    const s = this.slots.get(name);
    if (s === undefined) throw new MyClerkError(ErrorCode.NOT_FOUND, `no-plugin: ${name}`);
    return s.logs.tail(lines);
  }

  /** Buses found now below the configured root. */
  buses(): BusReport {
    return detectBuses(this.o.busRoot ?? "/");
  }

  /** Stops every plugin (drain with a short grace) and removes generated files. */
  async close(): Promise<void> {
    this.closed = true;
    const all: Promise<void>[] = [];
    for (const s of this.slots.values()) {
      if (s.restartTimer !== undefined) clearTimeout(s.restartTimer);
      s.restartTimer = undefined;
      if (s.runner !== undefined) all.push(s.runner.drain(500));
      s.runner = undefined;
      if (s.state === "running" || s.state === "starting" || s.state === "restarting") {
        s.state = "stopped";
      }
    }
    await Promise.all(all);
    await Deno.remove(this.runDir, { recursive: true }).catch(() => {});
  }
}

/** Status row of a slot (also used offline by the CLI with state "not running"). */
function statusOf(s: Slot, state?: PluginState): PluginStatus {
  const m = s.manifest;
  const g = s.grant;
  return {
    name: s.name,
    version: m?.version ?? "",
    description: m?.description ?? "",
    dir: s.runDir ?? s.dir,
    state: state ?? s.state,
    ...(s.reason !== undefined ? { reason: s.reason } : {}),
    isolation: g?.isolation ?? m?.isolation ?? "",
    confinement: confinementDecision(
      (g?.ffi.length ?? 0) > 0,
      g?.net ?? [],
      true,
      resolveLibrary("libc"),
    ).label,
    hostApi: m?.hostApi ?? "",
    ranges: (m?.ranges ?? []).map((r) => `${hex4(r.first)}-${hex4(r.last)}`),
    minTier: Object.fromEntries(
      [...(m?.minTier ?? new Map<number, number>())].map(([k, v]) => [hex4(k), v]),
    ),
    granted: {
      net: g?.net ?? [],
      read: g?.read ?? [],
      write: g?.write ?? [],
      env: g?.env ?? [],
      ffi: (g?.ffi ?? []).map((f) => `${f.name}=${f.path}`),
      buses: g?.buses ?? [],
    },
    refused: g?.refused ?? [],
    failure: m?.failure ?? "",
    metrics: { ...s.metrics.snapshot(), inFlight: s.runner?.inFlight ?? 0 },
    onDisk: (() => {
      const v = versionState(s.dir);
      return { installed: v.versions, current: v.current, next: v.next, previous: v.previous };
    })(),
  };
}

/**
 * What `plugin list` shows without a running node: manifests and grants
 * computed from the policy, state "not running" (or "invalid" with why).
 */
export async function offlineStatus(
  pluginsDir: string,
  policyFile: string | undefined,
  dataDir: string,
): Promise<readonly PluginStatus[]> {
  const policy = await readPolicy(policyFile);
  const out: PluginStatus[] = [];
  let names: string[] = [];
  try {
    names = [...Deno.readDirSync(pluginsDir)].filter((e) => e.isDirectory).map((e) => e.name)
      .sort();
  } catch { /* no plugins installed */ }
  for (const name of names) {
    const s: Slot = {
      name,
      dir: `${pluginsDir}/${name}`,
      state: "not running",
      metrics: new Metrics(),
      logs: new LogRing(1),
      failures: 0,
      sessions: new Set(),
      dropsLogged: new Set(),
    };
    try {
      const run = resolveRunDir(s.dir, "start");
      s.runDir = run.dir;
      s.manifest = await readManifest(run.dir);
      s.grant = computeGrant(
        s.manifest,
        policy,
        { plugin: run.dir, data: `${dataDir}/plugin-data/${name}` },
        (n) => resolveLibrary(n),
      );
      out.push(statusOf(s, "not running"));
    } catch (e) {
      s.reason = e instanceof Error ? e.message : String(e);
      out.push(statusOf(s, "invalid"));
    }
  }
  return out;
}
