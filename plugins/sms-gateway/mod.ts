/**
 * SMS gateway vendor plugin (draft §6.4, 0xF350-0xF37A), built only on the
 * plugin SDK. It talks to the GSM modem plugin (0x0670-0x067F) through
 * plugin-to-plugin calls and event subscriptions, keeps a durable outbox and
 * inbox in its data directory, classifies and routes received SMS to family
 * members, announces TANs (first claim wins) and runs the emergency gateway.
 * Payloads: docs/PLUGINS.md §15.
 *
 * @module
 */
import {
  asMap,
  definePlugin,
  ErrorCode,
  fail,
  field,
  type PluginDefinition,
  type RequestContext,
} from "@myclerk/plugin-sdk";
import { classify } from "./classify/classify.ts";
import { loadConfig } from "./config.ts";
import { locationText } from "./emergency.ts";
import { Gateway } from "./gateway.ts";
import { SmsOp } from "./ops.ts";
import { parseRule } from "./routing.ts";
import { Store } from "./store.ts";
import type { InMsg, OutMsg } from "./store.ts";

export { SmsOp };

let gw: Gateway | undefined;

function g(): Gateway {
  if (gw === undefined) fail(ErrorCode.SERVICE_UNAVAILABLE, "gateway-starting");
  return gw;
}

const NUMBER = /^\+?[0-9]{3,20}$/;

function text(map: Readonly<Record<string, unknown>>, name: string, max: number): string {
  const v = field(map, name, "string");
  if (v.length === 0 || v.length > max) fail(ErrorCode.BAD_REQUEST, `field:${name}`, { max });
  return v;
}

function optBool(map: Readonly<Record<string, unknown>>, name: string, def: boolean): boolean {
  const v = map[name];
  if (v === undefined) return def;
  if (typeof v !== "boolean") fail(ErrorCode.BAD_REQUEST, `field:${name}`, { expected: "boolean" });
  return v;
}

function optInt(
  map: Readonly<Record<string, unknown>>,
  name: string,
  def: number,
  min: number,
  max: number,
): number {
  const v = map[name];
  if (v === undefined) return def;
  if (typeof v !== "number" || !Number.isInteger(v) || v < min || v > max) {
    fail(ErrorCode.BAD_REQUEST, `field:${name}`, { min, max });
  }
  return v;
}

function outView(m: OutMsg): Record<string, unknown> {
  return {
    msgId: m.id,
    to: m.to,
    text: m.text,
    status: m.status,
    report: m.report,
    purpose: m.purpose,
    attempts: m.attempts,
    refs: m.refs,
    reports: m.reports,
    created: new Date(m.created).toISOString(),
    updated: new Date(m.updated).toISOString(),
    ...(m.error !== undefined ? { error: m.error } : {}),
  };
}

function inView(m: InMsg, withText: boolean): Record<string, unknown> {
  return {
    msgId: m.id,
    from: m.from,
    timestamp: m.timestamp,
    cls: m.cls,
    classCode: Gateway.classCode[m.cls],
    held: m.held,
    routedTo: m.routedTo,
    // A TAN's code and text only through SMS_TAN_CLAIM.
    ...(withText && m.cls !== "tan" ? { text: m.text, extracted: m.extracted } : {}),
    ...(m.claimedBy !== undefined ? { claimedBy: m.claimedBy } : {}),
  };
}

/** Outbox messages the caller may see: its own, or all for an admin member. */
function ownOut(ctx: RequestContext, id: string): OutMsg {
  const m = g().store.outbox.get(id);
  if (m === undefined || (!g().isAdmin(ctx.peer) && m.owner !== ctx.peer.keyId)) {
    fail(ErrorCode.NOT_FOUND, "no-such-message");
  }
  return m;
}

/** Inbox messages the caller may see: routed to its member, or all for an admin member. */
function visibleIn(ctx: RequestContext, m: InMsg): boolean {
  if (g().isAdmin(ctx.peer)) return true;
  const mem = g().memberOf(ctx.peer);
  return mem !== undefined && m.routedTo.includes(mem.id);
}

function listClass(ctx: RequestContext, payload: unknown, cls: InMsg["cls"]): unknown {
  const p = asMap(payload ?? {});
  const limit = optInt(p, "limit", 50, 1, 500);
  const rows = [...g().store.inbox.values()].filter((m) => m.cls === cls && visibleIn(ctx, m))
    .sort((a, b) => b.received - a.received).slice(0, limit);
  return { messages: rows.map((m) => ({ ...inView(m, true), ...m.extracted })) };
}

function tanFor(
  ctx: RequestContext,
  payload: unknown,
): { tanId: string; member: ReturnType<Gateway["requireMember"]> } {
  const member = g().requireMember(ctx.peer);
  const tanId = text(asMap(payload), "tanId", 32);
  return { tanId, member };
}

/** The SMS gateway plugin (handlers for 0xF350-0xF37A, lifecycle hooks). */
const plugin: PluginDefinition = definePlugin({
  events: [
    SmsOp.SMS_RECEIVE,
    SmsOp.SMS_STATUS,
    SmsOp.SMS_PARSED,
    SmsOp.SMS_TAN_RECEIVED,
    SmsOp.SMS_TAN_ANNOUNCE,
    SmsOp.SMS_TAN_CLAIM,
    SmsOp.SMS_TAN_EXPIRE,
    SmsOp.SMS_DELIVERY_RECEIVED,
    SmsOp.SMS_APPOINTMENT_RECEIVED,
    SmsOp.SMS_SPAM_DETECTED,
    SmsOp.SMS_ALERT_RECEIVED,
    SmsOp.EMERGENCY_INTERNET_DOWN,
    SmsOp.EMERGENCY_INTERNET_UP,
    SmsOp.EMERGENCY_SMS_COMMAND,
    SmsOp.EMERGENCY_LOCATION_RESPONSE,
    SmsOp.EMERGENCY_HEALTH_RESPONSE,
    SmsOp.EMERGENCY_MODE_ACTIVATE,
    SmsOp.EMERGENCY_MODE_DEACTIVATE,
  ],
  async init(ctx) {
    const cfg = await loadConfig(ctx.grant.dataDir);
    const store = await Store.open(`${ctx.grant.dataDir}/store`);
    if (store.skipped > 0) ctx.log(`store: skipped ${store.skipped} torn journal line(s)`);
    gw = new Gateway(ctx, cfg, store);
    await gw.start();
    ctx.log(
      `sms-gateway: ${cfg.members.length} member(s), ${store.outbox.size} out, ${store.inbox.size} in, ${store.routes.size} rule(s)`,
    );
  },
  async close() {
    await gw?.close();
    gw = undefined;
  },
  sessionClosed(sessionId) {
    gw?.subs.delete(sessionId);
  },
  handlers: {
    // ---------------------------------------------------------------- gateway
    [SmsOp.SMS_CREATE]: async (payload, ctx) => {
      const p = asMap(payload);
      const to = text(p, "to", 24);
      if (!NUMBER.test(to.replace(/[\s-]/g, ""))) fail(ErrorCode.BAD_REQUEST, "field:to");
      const body = text(p, "text", 1530);
      const report = optBool(p, "report", true);
      const now = Date.now();
      const m: OutMsg = {
        id: g().store.nextId("o"),
        to: to.replace(/[\s-]/g, ""),
        text: body,
        report,
        status: "draft",
        owner: ctx.peer.keyId,
        purpose: "client",
        created: now,
        attempts: 0,
        refs: [],
        reports: {},
        updated: now,
      };
      await g().store.commit({ t: "out", m });
      return outView(m);
    },
    [SmsOp.SMS_SEND]: async (payload, ctx) => {
      const p = asMap(payload);
      if (typeof p.msgId === "string") {
        const m = ownOut(ctx, p.msgId);
        if (m.status !== "draft") fail(ErrorCode.BAD_REQUEST, "not-a-draft", { status: m.status });
        const next: OutMsg = { ...m, status: "queued", updated: Date.now() };
        await g().store.commit({ t: "out", m: next });
        void g().pump();
        return outView(next);
      }
      const to = text(p, "to", 24);
      if (!NUMBER.test(to.replace(/[\s-]/g, ""))) fail(ErrorCode.BAD_REQUEST, "field:to");
      const m = await g().enqueue(
        to.replace(/[\s-]/g, ""),
        text(p, "text", 1530),
        ctx.peer.keyId,
        "client",
        optBool(p, "report", true),
      );
      return outView(m);
    },
    [SmsOp.SMS_RECEIVE]: (payload, ctx) => {
      const p = asMap(payload ?? {});
      const on = optBool(p, "subscribe", true);
      const member = g().requireMember(ctx.peer);
      if (on) {
        g().subs.set(ctx.peer.sessionId, {
          member: member.id,
          tier: ctx.tier,
          spam: optBool(p, "spam", false),
        });
      } else g().subs.delete(ctx.peer.sessionId);
      const pending = g().tans.openFor(member.id).map((t) => t.id);
      return { subscribed: on, member: member.id, pendingTans: pending };
    },
    [SmsOp.SMS_STATUS]: (payload, ctx) => outView(ownOut(ctx, text(asMap(payload), "msgId", 32))),
    [SmsOp.SMS_LIST]: (payload, ctx) => {
      const p = asMap(payload ?? {});
      const box = p.box ?? "inbox";
      if (box !== "inbox" && box !== "outbox") fail(ErrorCode.BAD_REQUEST, "field:box");
      const limit = optInt(p, "limit", 50, 1, 500);
      if (box === "outbox") {
        const rows = [...g().store.outbox.values()].filter((m) =>
          g().isAdmin(ctx.peer) || m.owner === ctx.peer.keyId
        )
          .sort((a, b) => b.created - a.created).slice(0, limit);
        return { box, messages: rows.map(outView) };
      }
      const cls = p.cls;
      if (cls !== undefined && typeof cls !== "string") fail(ErrorCode.BAD_REQUEST, "field:cls");
      const rows = [...g().store.inbox.values()].filter((m) =>
        visibleIn(ctx, m) && (cls === undefined || m.cls === cls)
      )
        .sort((a, b) => b.received - a.received).slice(0, limit);
      return { box, messages: rows.map((m) => inView(m, true)) };
    },
    [SmsOp.SMS_DELETE]: async (payload, ctx) => {
      const id = text(asMap(payload), "msgId", 32);
      const s = g().store;
      if (s.outbox.has(id)) ownOut(ctx, id);
      else if (s.inbox.has(id)) {
        if (!visibleIn(ctx, s.inbox.get(id)!)) fail(ErrorCode.NOT_FOUND, "no-such-message");
      } else fail(ErrorCode.NOT_FOUND, "no-such-message");
      await s.commit({ t: "del", id });
      return { deleted: id };
    },
    [SmsOp.SMS_ROUTE_ADD]: async (payload, ctx) => {
      g().requireRole(ctx.peer, "admin");
      const s = g().store;
      let rule;
      try {
        rule = parseRule(s.nextId("r"), asMap(payload));
      } catch (e) {
        if (typeof e === "string") fail(ErrorCode.BAD_REQUEST, `field:${e}`);
        throw e;
      }
      const unknown = rule.to.filter((m) => m !== "*" && !g().members.some((x) => x.id === m));
      if (unknown.length > 0) fail(ErrorCode.BAD_REQUEST, "unknown-member", { members: unknown });
      await s.commit({ t: "route+", r: rule });
      return { rule };
    },
    [SmsOp.SMS_ROUTE_REMOVE]: async (payload, ctx) => {
      g().requireRole(ctx.peer, "admin");
      const id = text(asMap(payload), "ruleId", 32);
      if (!g().store.routes.has(id)) fail(ErrorCode.NOT_FOUND, "no-such-rule");
      await g().store.commit({ t: "route-", id });
      return { removed: id };
    },
    [SmsOp.SMS_ROUTE_LIST]: () => ({
      rules: [...g().store.routes.values()].sort((a, b) => a.priority - b.priority),
    }),
    [SmsOp.SMS_GATEWAY_STATUS]: async () => {
      const gw = g();
      const f = await gw.facts();
      const out = [...gw.store.outbox.values()];
      const byStatus: Record<string, number> = {};
      for (const m of out) byStatus[m.status] = (byStatus[m.status] ?? 0) + 1;
      return {
        modem: f.modem,
        dbm: f.dbm,
        modemLinked: gw.modemLinked,
        outbox: byStatus,
        inbox: gw.store.inbox.size,
        rules: gw.store.routes.size,
        members: gw.members.map((m) => m.id),
        sessions: gw.subs.size,
        tansOpen: gw.tans.openCount,
        counts: { ...gw.counts },
        emergency: gw.modeView(),
        storeSkipped: gw.store.skipped,
      };
    },
    // ---------------------------------------------------------------- parsing
    [SmsOp.SMS_PARSED]: (payload, ctx) => {
      const id = text(asMap(payload), "msgId", 32);
      const m = g().store.inbox.get(id);
      if (m === undefined || !visibleIn(ctx, m)) fail(ErrorCode.NOT_FOUND, "no-such-message");
      return { ...inView(m, true) };
    },
    [SmsOp.SMS_CLASSIFY]: (payload) => {
      const p = asMap(payload);
      const body = text(p, "text", 1530);
      const from = p.from === undefined ? "" : text(p, "from", 64);
      let received = new Date();
      if (p.received !== undefined) {
        received = new Date(text(p, "received", 40));
        if (Number.isNaN(received.getTime())) fail(ErrorCode.BAD_REQUEST, "field:received");
      }
      const c = classify({ text: body, from, received });
      return { cls: c.cls, classCode: c.code, lang: c.lang, rule: c.rule, extracted: c.extracted };
    },
    [SmsOp.SMS_TAN_RECEIVED]: (_payload, ctx) => {
      const member = g().requireMember(ctx.peer);
      return {
        tans: g().tans.openFor(member.id).map((t) => ({
          tanId: t.id,
          msgId: t.inboxId,
          from: t.from,
          masked: t.masked,
          expiresAt: new Date(t.expiresAt).toISOString(),
        })),
      };
    },
    [SmsOp.SMS_TAN_ANNOUNCE]: (payload, ctx) => {
      const { tanId, member } = tanFor(ctx, payload);
      const t = g().tans.get(tanId);
      if (t === undefined || !t.recipients.includes(member.id)) {
        fail(ErrorCode.NOT_FOUND, "no-such-tan");
      }
      return {
        tanId: t.id,
        msgId: t.inboxId,
        from: t.from,
        masked: t.masked,
        state: t.state,
        expiresAt: new Date(t.expiresAt).toISOString(),
        ...(t.claimedBy !== undefined ? { claimedBy: t.claimedBy } : {}),
      };
    },
    [SmsOp.SMS_TAN_CLAIM]: (payload, ctx) => {
      const { tanId, member } = tanFor(ctx, payload);
      return g().claim(tanId, member);
    },
    [SmsOp.SMS_TAN_EXPIRE]: (payload, ctx) => {
      const { tanId, member } = tanFor(ctx, payload);
      const t = g().tans.expireNow(tanId, member.id);
      if (t === undefined) fail(ErrorCode.NOT_FOUND, "no-open-tan");
      return { tanId, state: t.state };
    },
    [SmsOp.SMS_DELIVERY_RECEIVED]: (payload, ctx) => listClass(ctx, payload, "delivery"),
    [SmsOp.SMS_APPOINTMENT_RECEIVED]: (payload, ctx) => listClass(ctx, payload, "appointment"),
    [SmsOp.SMS_SPAM_DETECTED]: (payload, ctx) => listClass(ctx, payload, "spam"),
    [SmsOp.SMS_ALERT_RECEIVED]: (payload, ctx) => listClass(ctx, payload, "alert"),
    // ---------------------------------------------------------------- emergency (tier >= 3 by the profile)
    [SmsOp.EMERGENCY_GATEWAY_STATUS]: () => {
      const gw = g();
      return {
        ...gw.modeView(),
        probes: gw.lastProbes,
        fails: gw.net.fails,
        oks: gw.net.oks,
        changes: gw.net.changes,
        commands: gw.counts.commands,
        refusedCommands: gw.counts.refusedCommands,
      };
    },
    [SmsOp.EMERGENCY_INTERNET_DOWN]: () =>
      g().lastDown ?? fail(ErrorCode.NOT_FOUND, "no-outage-seen"),
    [SmsOp.EMERGENCY_INTERNET_UP]: () =>
      g().lastUp ?? fail(ErrorCode.NOT_FOUND, "no-recovery-seen"),
    [SmsOp.EMERGENCY_SMS_ALERT]: async (payload, ctx) => {
      g().requireRole(ctx.peer, "emergency");
      const p = asMap(payload);
      const body = text(p, "text", 459);
      let numbers: string[] | undefined;
      if (p.numbers !== undefined) {
        if (
          !Array.isArray(p.numbers) ||
          !p.numbers.every((n) => typeof n === "string" && NUMBER.test(n))
        ) {
          fail(ErrorCode.BAD_REQUEST, "field:numbers");
        }
        numbers = p.numbers as string[];
      }
      const ids = await g().alert(body, numbers);
      return { queued: ids };
    },
    [SmsOp.EMERGENCY_SMS_COMMAND]: async (payload) => {
      const p = asMap(payload);
      const cmd = text(p, "command", 16).toLowerCase();
      if (cmd !== "status" && cmd !== "location" && cmd !== "health") {
        fail(ErrorCode.BAD_REQUEST, "field:command");
      }
      return { command: cmd, answer: await g().runCommand(cmd) };
    },
    [SmsOp.EMERGENCY_LOCATION_REQUEST]: async () => {
      const p = await g().position();
      if (p === undefined) fail(ErrorCode.SERVICE_UNAVAILABLE, "gnss-unavailable");
      return { ...p, text: locationText(p) };
    },
    [SmsOp.EMERGENCY_LOCATION_RESPONSE]: () => {
      const p = g().lastPosition;
      if (p === undefined) fail(ErrorCode.NOT_FOUND, "no-position-yet");
      return { ...p, at: new Date(p.at).toISOString() };
    },
    [SmsOp.EMERGENCY_HEALTH_CHECK]: () => g().health(),
    [SmsOp.EMERGENCY_HEALTH_RESPONSE]: () =>
      g().lastHealth ?? fail(ErrorCode.NOT_FOUND, "no-health-check-yet"),
    [SmsOp.EMERGENCY_MODE_ACTIVATE]: (payload, ctx) => {
      g().requireRole(ctx.peer, "emergency");
      const p = asMap(payload ?? {});
      const reason = p.reason === undefined ? "manual" : text(p, "reason", 64);
      return g().activate(reason, true);
    },
    [SmsOp.EMERGENCY_MODE_DEACTIVATE]: (payload, ctx) => {
      g().requireRole(ctx.peer, "emergency");
      const p = asMap(payload ?? {});
      const reason = p.reason === undefined ? "manual" : text(p, "reason", 64);
      return g().deactivate(reason, true);
    },
  },
});

export default plugin;
