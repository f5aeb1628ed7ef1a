/**
 * The gateway itself: wires the store, classifier, routing, TAN board and
 * emergency detection to the modem plugin (through `ctx.call` and
 * `ctx.subscribe` only: the gateway never opens a tty) and to the family's
 * sessions (events pushed to the sessions that subscribed with SMS_RECEIVE).
 *
 * Longer than ~500 lines on purpose: the gateway's routing of SMS in and out over one store and
 * one modem; the classifier, store and config are their own modules.
 *
 * @module
 */
import {
  ErrorCode,
  fail,
  MyClerkError,
  type PeerInfo,
  type PluginContext,
} from "@myclerk/plugin-sdk";
import { CLASS_CODE, classify } from "./classify/classify.ts";
import type { GatewayConfig } from "./config.ts";
import {
  type GatewayFacts,
  healthText,
  Hysteresis,
  locationText,
  normalizeNumber,
  parseCommand,
  type Position,
  type ProbeResult,
  probeTcp,
  type SmsCommand,
  statusText,
} from "./emergency.ts";
import { GsmOp, SmsOp } from "./ops.ts";
import { type Member, route } from "./routing.ts";
import type { InMsg, OutMsg, Store } from "./store.ts";
import { type Tan, TanBoard, type TanNotice } from "./tan.ts";

/** A subscribed session. */
export interface Sub {
  /** Member id. */
  readonly member: string;
  /** Session tier. */
  readonly tier: number;
  /** Also wants spam notices. */
  readonly spam: boolean;
}

/** Emergency mode state. */
export interface Mode {
  /** Emergency mode on. */
  emergency: boolean;
  /** Activated by hand (only a manual deactivation ends it). */
  manual: boolean;
  /** Since when (ms) the current mode holds. */
  since: number;
  /** Why it changed last. */
  reason: string;
}

export type { PeerInfo };

/** The running gateway. */
export class Gateway {
  /** Subscribed sessions by session id. */
  readonly subs = new Map<number, Sub>();
  /** TANs. */
  readonly tans: TanBoard;
  /** Internet detection. */
  readonly net: Hysteresis;
  /** Emergency mode. */
  readonly mode: Mode = { emergency: false, manual: false, since: Date.now(), reason: "start" };
  /** Last probe round. */
  lastProbes: readonly ProbeResult[] = [];
  /** Last GNSS answer. */
  lastPosition: (Position & { at: number }) | undefined;
  /** Last health answer. */
  lastHealth: Record<string, unknown> | undefined;
  /** Last internet transitions. */
  lastDown: Record<string, unknown> | undefined;
  /** Last internet-up transition. */
  lastUp: Record<string, unknown> | undefined;
  /** Modem reachable through the call grant (false: not granted / not running). */
  modemLinked = false;
  /** Last modem state seen. */
  modemState = "unknown";
  /** Counters. */
  readonly counts = {
    received: 0,
    sent: 0,
    failed: 0,
    commands: 0,
    refusedCommands: 0,
    reports: 0,
  };
  private readonly started = Date.now();
  private timers: ReturnType<typeof setInterval>[] = [];
  private pumping = false;
  private closed = false;
  private nextRetry = new Map<string, number>();

  /** Creates the gateway over a store and config; call {@link start} next. */
  constructor(
    private readonly ctx: PluginContext,
    private readonly cfg: GatewayConfig,
    readonly store: Store,
  ) {
    this.tans = new TanBoard((n) => this.pushTan(n), cfg.tan);
    this.net = new Hysteresis(cfg.emergency);
  }

  /** Subscribes to the modem's events and starts the timers. */
  async start(): Promise<void> {
    try {
      await this.ctx.subscribe(
        [GsmOp.SMS_RECEIVE, GsmOp.MODEM_STATUS],
        (op, p) => void this.onModemEvent(op, p),
      );
      this.modemLinked = true;
    } catch (e) {
      this.ctx.log("modem events not available:", e instanceof MyClerkError ? e.detail : String(e));
    }
    if (this.cfg.modem.init) {
      void this.initModem();
      this.timers.push(setInterval(() => {
        if (this.modemState !== "ready") void this.initModem();
      }, this.cfg.modem.retryMs));
    }
    // TANs still valid from before a restart are open again (claimed ones stay claimed: claimedBy).
    for (const m of this.store.inbox.values()) {
      if (m.cls !== "tan" || m.claimedBy !== undefined || m.extracted.code === undefined) continue;
      const t = this.tans.announce({
        inboxId: m.id,
        code: m.extracted.code,
        from: m.from,
        text: m.text,
        validitySec: m.extracted.validitySec ?? null,
        receivedAt: m.received,
      }, m.routedTo);
      if (t.state === "open") this.ctx.log(`re-opened TAN ${t.id} of ${m.id} after restart`);
    }
    this.timers.push(setInterval(() => this.tans.sweep(), 250));
    this.timers.push(
      setInterval(() => void this.pump(), Math.max(50, this.cfg.outbox.retryMs / 2)),
    );
    if (this.cfg.emergency.probes.length > 0) {
      this.timers.push(setInterval(() => void this.probeRound(), this.cfg.emergency.intervalMs));
      void this.probeRound();
    }
    void this.pump();
  }

  private initing = false;

  /** GSM_MODEM_INIT without subscribing our call session (the unaddressed events reach us already). */
  async initModem(): Promise<void> {
    if (this.initing || this.closed) return;
    this.initing = true;
    try {
      const r = await this.ctx.call(GsmOp.MODEM_INIT, {
        ...this.cfg.modem.initPayload,
        subscribe: false,
      }, {
        timeoutMs: 30_000,
      }) as { state?: unknown };
      this.modemState = typeof r?.state === "string" ? r.state : "ready";
      void this.pump();
    } catch (e) {
      this.modemState = "unavailable";
      this.ctx.log(
        "modem init failed:",
        e instanceof MyClerkError ? `${e.detail} ${JSON.stringify(e.extra)}` : String(e),
      );
    } finally {
      this.initing = false;
    }
  }

  /** Stops the timers and flushes the store. */
  async close(): Promise<void> {
    this.closed = true;
    for (const t of this.timers) clearInterval(t);
    await this.store.close();
  }

  // ------------------------------------------------------------------ members and sessions

  /** The member a session belongs to (by its key id). */
  memberOf(peer: PeerInfo): Member | undefined {
    return this.cfg.members.find((m) => m.keyIds.includes(peer.keyId));
  }

  /** The member or FORBIDDEN `not-a-member`. */
  requireMember(peer: PeerInfo): Member {
    const m = this.memberOf(peer);
    if (m === undefined) fail(ErrorCode.FORBIDDEN, "not-a-member", { keyId: peer.keyId });
    return m;
  }

  /** True when the session belongs to an admin member. */
  isAdmin(peer: PeerInfo): boolean {
    return this.memberOf(peer)?.admin === true;
  }

  /** The member, which must be an admin (or, with `emergency`, an emergency member), or FORBIDDEN. */
  requireRole(peer: PeerInfo, role: "admin" | "emergency"): Member {
    const m = this.requireMember(peer);
    if (!(m.admin === true || (role === "emergency" && m.emergency))) {
      fail(ErrorCode.FORBIDDEN, `not-${role}`, { member: m.id });
    }
    return m;
  }

  /** Members. */
  get members(): readonly Member[] {
    return this.cfg.members;
  }

  /** Pushes to every subscribed session `filter` accepts; returns how many. */
  private emitTo(filter: (s: Sub) => boolean, op: number, payload: unknown): number {
    let n = 0;
    for (const [sid, s] of this.subs) {
      if (filter(s)) {
        this.ctx.emit(op, payload, sid);
        n++;
      }
    }
    return n;
  }

  /** Pushes to every session of the given members. */
  emitMembers(members: readonly string[], op: number, payload: unknown): number {
    return this.emitTo((s) => s.member !== undefined && members.includes(s.member), op, payload);
  }

  /** Pushes emergency events: members with `emergency`, and admin sessions. */
  emitEmergency(op: number, payload: unknown): number {
    const em = new Set(this.cfg.members.filter((m) => m.emergency || m.admin).map((m) => m.id));
    return this.emitTo(
      (s) => em.has(s.member),
      op,
      payload,
    );
  }

  // ------------------------------------------------------------------ TANs

  /** A TAN as members see it (never the code). */
  private tanView(t: Tan): Record<string, unknown> {
    return {
      tanId: t.id,
      msgId: t.inboxId,
      from: t.from,
      masked: t.masked,
      expiresAt: new Date(t.expiresAt).toISOString(),
      state: t.state,
      ...(t.claimedBy !== undefined ? { claimedBy: t.claimedBy } : {}),
    };
  }

  /** Turns a board notice into events to the members' sessions (and journals a claim). */
  private pushTan(n: TanNotice): void {
    if (n.kind === "announce") this.emitMembers(n.to, SmsOp.SMS_TAN_ANNOUNCE, this.tanView(n.tan));
    else if (n.kind === "claimed") {
      this.emitMembers(n.to, SmsOp.SMS_TAN_CLAIM, {
        ...this.tanView(n.tan),
        claimedAt: new Date(n.tan.claimedAt ?? Date.now()).toISOString(),
      });
      const m = this.store.inbox.get(n.tan.inboxId);
      if (m !== undefined) {
        void this.store.commit({ t: "in", m: { ...m, claimedBy: n.tan.claimedBy } });
      }
    } else {this.emitMembers(n.to, SmsOp.SMS_TAN_EXPIRE, {
        ...this.tanView(n.tan),
        reason: "expired",
      });}
  }

  /** Claims a TAN for the caller's member: the code, or a typed error. */
  claim(tanId: string, member: Member): Record<string, unknown> {
    const r = this.tans.claim(tanId, member.id);
    if (!r.ok) {
      const extra = r.tan?.claimedBy !== undefined ? { claimedBy: r.tan.claimedBy } : {};
      if (r.error === "not-found") fail(ErrorCode.NOT_FOUND, "no-such-tan");
      if (r.error === "not-allowed") fail(ErrorCode.FORBIDDEN, "tan-not-for-you");
      if (r.error === "already-claimed") fail(ErrorCode.FORBIDDEN, "tan-already-claimed", extra);
      fail(ErrorCode.NOT_FOUND, "tan-expired");
    }
    return {
      ...this.tanView(r.tan),
      code: r.tan.code,
      text: r.tan.text,
      validitySec: r.tan.validitySec,
    };
  }

  // ------------------------------------------------------------------ incoming

  /** An event of the modem plugin. */
  async onModemEvent(op: number, p: unknown): Promise<void> {
    if (p === null || typeof p !== "object") return;
    const ev = p as Record<string, unknown>;
    if (op === GsmOp.MODEM_STATUS && typeof ev.state === "string") {
      this.modemState = ev.state;
      return;
    }
    if (op !== GsmOp.SMS_RECEIVE) return;
    if (ev.kind === "status-report") return this.onReport(ev);
    if (ev.kind === "sms" && typeof ev.from === "string" && typeof ev.text === "string") {
      const ts = typeof ev.timestamp === "string" ? ev.timestamp : new Date().toISOString();
      await this.receive(ev.from, ev.text, ts);
    }
  }

  /** True when `from` may send SMS commands. */
  allowedCommander(from: string): boolean {
    const n = normalizeNumber(from, this.cfg.emergency.countryCode);
    if (this.cfg.emergency.allowedNumbers.includes(n)) return true;
    return this.cfg.members.some((m) => m.emergency && m.numbers.includes(n));
  }

  /** Handles one received SMS: command, or classify + store + route + announce. Returns the inbox id. */
  async receive(from: string, text: string, timestamp: string): Promise<string | undefined> {
    this.counts.received++;
    const cmd = parseCommand(text, this.cfg.emergency.pin);
    if (cmd !== undefined) {
      const allowed = this.allowedCommander(from);
      const active = this.mode.emergency || this.cfg.emergency.commandsAlways;
      if (allowed && active) {
        this.counts.commands++;
        const answer = await this.runCommand(cmd);
        const out = await this.enqueue(from, answer, 0, "command-reply");
        this.emitEmergency(SmsOp.EMERGENCY_SMS_COMMAND, {
          from,
          command: cmd,
          allowed: true,
          answered: true,
          answer,
          outId: out.id,
        });
        return undefined;
      }
      if (!allowed) {
        this.counts.refusedCommands++;
        this.ctx.log(`sms command ${cmd} from ${from} refused: number not allowed`);
        this.emitEmergency(SmsOp.EMERGENCY_SMS_COMMAND, {
          from,
          command: cmd,
          allowed: false,
          answered: false,
        });
      }
      // Not allowed, or not in emergency mode: an ordinary message (never answered).
    }
    const c = classify({ text, from, received: new Date() });
    const r = route({ from, text, cls: c.cls }, this.store.routes.values(), this.cfg.members);
    const m: InMsg = {
      id: this.store.nextId("i"),
      from,
      text,
      timestamp,
      received: Date.now(),
      cls: c.cls,
      extracted: c.extracted,
      routedTo: r.to,
      held: r.held,
    };
    await this.store.commit({ t: "in", m });
    const base = { msgId: m.id, from, timestamp, cls: c.cls, classCode: c.code, lang: c.lang };
    if (c.cls === "tan" && c.extracted.code !== undefined) {
      const tan = this.tans.announce({
        inboxId: m.id,
        code: c.extracted.code,
        from,
        text,
        validitySec: c.extracted.validitySec ?? null,
      }, r.to);
      // Node-wide notice without the code (other plugins, the node's listeners).
      this.ctx.emit(SmsOp.SMS_TAN_RECEIVED, {
        tanId: tan.id,
        msgId: m.id,
        from,
        recipients: r.to,
        expiresAt: new Date(tan.expiresAt).toISOString(),
      });
      return m.id;
    }
    if (c.cls === "spam") {
      this.emitTo((s) => s.spam, SmsOp.SMS_SPAM_DETECTED, { ...base, preview: text.slice(0, 60) });
      if (r.held) return m.id;
    }
    this.emitMembers(r.to, SmsOp.SMS_RECEIVE, { ...base, text, extracted: c.extracted });
    this.emitMembers(r.to, SmsOp.SMS_PARSED, { ...base, extracted: c.extracted, rule: c.rule });
    const classOp = c.cls === "delivery"
      ? SmsOp.SMS_DELIVERY_RECEIVED
      : c.cls === "appointment"
      ? SmsOp.SMS_APPOINTMENT_RECEIVED
      : c.cls === "alert"
      ? SmsOp.SMS_ALERT_RECEIVED
      : undefined;
    if (classOp !== undefined) this.emitMembers(r.to, classOp, { ...base, text, ...c.extracted });
    return m.id;
  }

  /** A delivery report from the modem: mark the part, then the message. */
  private async onReport(ev: Record<string, unknown>): Promise<void> {
    const ref = ev.ref;
    if (typeof ref !== "number" || ev.final === false) return;
    this.counts.reports++;
    const to = typeof ev.to === "string"
      ? normalizeNumber(ev.to, this.cfg.emergency.countryCode)
      : undefined;
    // The newest sent message to that number with that reference (TP-MR wraps at 256).
    const cands = [...this.store.outbox.values()].filter((m) =>
      m.status === "sent" && m.refs.includes(ref) &&
      (to === undefined || normalizeNumber(m.to, this.cfg.emergency.countryCode) === to)
    ).sort((a, b) => b.created - a.created);
    const m = cands[0];
    if (m === undefined) return;
    const reports = { ...m.reports, [String(ref)]: ev.delivered === true };
    const all = m.refs.every((r) => reports[String(r)] !== undefined);
    const status = all
      ? (m.refs.every((r) => reports[String(r)]) ? "delivered" : "failed")
      : m.status;
    const next: OutMsg = { ...m, reports, status, updated: Date.now() };
    await this.store.commit({ t: "out", m: next });
    if (status !== m.status) this.notifyOwner(next);
  }

  // ------------------------------------------------------------------ outgoing

  /** Stores a new outgoing message as queued (durable before it returns) and starts the pump. */
  async enqueue(
    to: string,
    text: string,
    owner: number,
    purpose: string,
    report = true,
  ): Promise<OutMsg> {
    const now = Date.now();
    const m: OutMsg = {
      id: this.store.nextId("o"),
      to,
      text,
      report,
      status: "queued",
      owner,
      purpose,
      created: now,
      attempts: 0,
      refs: [],
      reports: {},
      updated: now,
    };
    await this.store.commit({ t: "out", m });
    void this.pump();
    return m;
  }

  /** SMS_STATUS event to the owner member's sessions. */
  private notifyOwner(m: OutMsg): void {
    const payload = {
      msgId: m.id,
      status: m.status,
      to: m.to,
      refs: m.refs,
      ...(m.error ? { error: m.error } : {}),
    };
    const owner = this.cfg.members.find((x) => x.keyIds.includes(m.owner));
    if (owner !== undefined) this.emitMembers([owner.id], SmsOp.SMS_STATUS, payload);
  }

  /** Sends queued messages one at a time (oldest first), with retries and backoff. */
  async pump(): Promise<void> {
    if (this.pumping || this.closed) return;
    this.pumping = true;
    try {
      for (;;) {
        const now = Date.now();
        const next = [...this.store.outbox.values()]
          .filter((m) => m.status === "queued" && (this.nextRetry.get(m.id) ?? 0) <= now)
          .sort((a, b) => a.created - b.created)[0];
        if (next === undefined || this.closed) return;
        await this.sendOne(next);
      }
    } finally {
      this.pumping = false;
    }
  }

  /** One GSM_SMS_SEND attempt for `m`, journaled either way. */
  private async sendOne(m: OutMsg): Promise<void> {
    const attempts = m.attempts + 1;
    try {
      const r = await this.ctx.call(GsmOp.SMS_SEND, { to: m.to, text: m.text, report: m.report }, {
        timeoutMs: this.cfg.outbox.sendTimeoutMs,
      }) as { refs?: unknown };
      const refs = Array.isArray(r?.refs)
        ? r.refs.filter((x): x is number => typeof x === "number")
        : [];
      const next: OutMsg = { ...m, attempts, refs, status: "sent", updated: Date.now() };
      delete next.error;
      await this.store.commit({ t: "out", m: next });
      this.counts.sent++;
      this.notifyOwner(next);
    } catch (e) {
      const error = e instanceof MyClerkError ? e.detail : String(e);
      const failed = attempts >= this.cfg.outbox.maxAttempts ||
        (e instanceof MyClerkError && e.code === ErrorCode.BAD_REQUEST);
      const next: OutMsg = {
        ...m,
        attempts,
        error,
        status: failed ? "failed" : "queued",
        updated: Date.now(),
      };
      await this.store.commit({ t: "out", m: next });
      if (failed) {
        this.counts.failed++;
        this.notifyOwner(next);
      } else this.nextRetry.set(m.id, Date.now() + this.cfg.outbox.retryMs * 2 ** (attempts - 1));
      this.ctx.log(`send ${m.id} attempt ${attempts} failed: ${error}`);
    }
  }

  // ------------------------------------------------------------------ emergency

  /** One probe round and what follows from it. */
  async probeRound(): Promise<void> {
    const e = this.cfg.emergency;
    const results = await Promise.all(e.probes.map((p) => probeTcp(p, e.timeoutMs)));
    if (this.closed) return;
    this.lastProbes = results;
    const ok = results.some((r) => r.ok);
    const change = this.net.observe(ok, Date.now());
    if (change === "down") {
      this.lastDown = { at: new Date().toISOString(), probes: results };
      this.emitEmergency(SmsOp.EMERGENCY_INTERNET_DOWN, this.lastDown);
      if (e.auto && !this.mode.emergency) await this.activate("internet-down", false);
    } else if (change === "up") {
      this.lastUp = { at: new Date().toISOString(), probes: results };
      this.emitEmergency(SmsOp.EMERGENCY_INTERNET_UP, this.lastUp);
      if (e.auto && this.mode.emergency && !this.mode.manual) {
        await this.deactivate("internet-up", false);
      }
    }
  }

  /** Emergency mode on: event, alert SMS to the configured numbers. */
  async activate(reason: string, manual: boolean): Promise<Record<string, unknown>> {
    const was = this.mode.emergency;
    this.mode.emergency = true;
    this.mode.manual = this.mode.manual || manual;
    if (!was) {
      this.mode.since = Date.now();
      this.mode.reason = reason;
    }
    const view = this.modeView();
    if (!was) {
      this.emitEmergency(SmsOp.EMERGENCY_MODE_ACTIVATE, view);
      const hm = new Date(this.mode.since).toTimeString().slice(0, 5);
      await this.alert(
        `MyClerk ALERT: emergency mode on since ${hm} (${reason}). Reply STATUS, LOCATION or HEALTH.`,
      );
    }
    return view;
  }

  /** Emergency mode off (manual, or automatic when the internet is back and the activation was automatic). */
  async deactivate(reason: string, manual: boolean): Promise<Record<string, unknown>> {
    const was = this.mode.emergency;
    if (!was) return this.modeView();
    if (!manual && this.mode.manual) return this.modeView();
    this.mode.emergency = false;
    this.mode.manual = false;
    this.mode.since = Date.now();
    this.mode.reason = reason;
    const view = this.modeView();
    this.emitEmergency(SmsOp.EMERGENCY_MODE_DEACTIVATE, view);
    await this.alert(`MyClerk: emergency mode off (${reason}).`);
    return view;
  }

  /** Sends `text` to the alert numbers (or the given subset of them); returns outbox ids. */
  async alert(text: string, numbers?: readonly string[]): Promise<string[]> {
    const ids: string[] = [];
    for (const n of numbers ?? this.cfg.emergency.alertNumbers) {
      ids.push((await this.enqueue(n, text, 0, "alert")).id);
    }
    return ids;
  }

  /** Mode as reported. */
  modeView(): Record<string, unknown> {
    return {
      mode: this.mode.emergency ? "emergency" : "normal",
      manual: this.mode.manual,
      since: new Date(this.mode.since).toISOString(),
      reason: this.mode.reason,
      internet: this.net.state,
    };
  }

  /** Facts for status and health texts (asks the modem for state and signal). */
  async facts(): Promise<GatewayFacts> {
    let modem = this.modemLinked ? this.modemState : "not-linked";
    let dbm: number | null = null;
    try {
      const s = await this.ctx.call(GsmOp.MODEM_STATUS, {}, { timeoutMs: 5000 }) as {
        state?: unknown;
      };
      if (typeof s?.state === "string") modem = this.modemState = s.state;
      const q = await this.ctx.call(GsmOp.SIGNAL_QUALITY, {}, { timeoutMs: 5000 }) as {
        dbm?: unknown;
      };
      if (typeof q?.dbm === "number") dbm = q.dbm;
    } catch (e) {
      modem = e instanceof MyClerkError ? `unreachable (${e.detail})` : "unreachable";
    }
    return {
      emergency: this.mode.emergency,
      since: this.mode.since,
      internet: this.net.state,
      modem,
      dbm,
      queued: [...this.store.outbox.values()].filter((m) => m.status === "queued").length,
      uptimeSec: Math.round((Date.now() - this.started) / 1000),
      probesOk: this.lastProbes.filter((p) => p.ok).length,
      probesTotal: this.cfg.emergency.probes.length,
    };
  }

  /** GNSS position through the modem: enables GNSS when there is no fix, then polls a few seconds. */
  async position(): Promise<Position | undefined> {
    const ask = async () =>
      await this.ctx.call(GsmOp.GNSS_POSITION, {}, { timeoutMs: 10_000 }) as Position;
    try {
      let p: Position | undefined;
      try {
        p = await ask();
      } catch (e) {
        if (e instanceof MyClerkError && e.code === ErrorCode.UNSUPPORTED) throw e; // no GNSS (SIM800)
      }
      if (p === undefined || !p.fix) {
        await this.ctx.call(GsmOp.GNSS_ENABLE, { enable: true }, { timeoutMs: 10_000 });
        for (let i = 0; i < 6 && !(p?.fix); i++) {
          if (i > 0) await new Promise((r) => setTimeout(r, 500));
          p = await ask().catch(() => p);
        }
      }
      if (p === undefined) return undefined;
      this.lastPosition = { ...p, at: Date.now() };
      this.emitEmergency(SmsOp.EMERGENCY_LOCATION_RESPONSE, { ...p, at: new Date().toISOString() });
      return p;
    } catch (e) {
      this.ctx.log("gnss position failed:", e instanceof MyClerkError ? e.detail : String(e));
      return undefined;
    }
  }

  /** The health check (also pushed as EMERGENCY_HEALTH_RESPONSE). */
  async health(): Promise<Record<string, unknown>> {
    const f = await this.facts();
    const h = {
      ...f,
      since: new Date(f.since).toISOString(),
      text: healthText(f),
      counts: { ...this.counts },
      tansOpen: this.tans.openCount,
      sessions: this.subs.size,
      storeSkipped: this.store.skipped,
      at: new Date().toISOString(),
    };
    this.lastHealth = h;
    this.emitEmergency(SmsOp.EMERGENCY_HEALTH_RESPONSE, h);
    return h;
  }

  /** The SMS answer to a command. */
  async runCommand(cmd: SmsCommand): Promise<string> {
    if (cmd === "status") return statusText(await this.facts());
    if (cmd === "location") return locationText(await this.position());
    return (await this.health()).text as string;
  }

  /** Class code helper for handlers. */
  static classCode: typeof CLASS_CODE = CLASS_CODE;
}
