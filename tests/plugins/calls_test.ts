/**
 * Plugin-to-plugin calls and subscriptions with real plugins (one in its own
 * process, one in a Worker): granted calls answer, refused ones are
 * FORBIDDEN and logged, the tier gate applies, a cycle A -> B -> A is
 * refused at once, deadlines and the in-flight bound hold, and subscribed
 * events (node-wide and addressed to the caller) arrive.
 */
import { ErrorCode } from "../../core/errors.ts";
import { MAX_CALLS_IN_FLIGHT } from "../../plugins/runtime/calls.ts";
import {
  assert,
  assertEq,
  dropWorld,
  makeWorld,
  PEER,
  startHost,
  until,
  type World,
  writePlugin,
  writePolicy,
} from "./_helpers.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };

const SVC = `
import { definePlugin } from "@myclerk/plugin-sdk";
export default definePlugin({
  handlers: {
    [0xF400]: (p, ctx) => ({ echo: p, remote: ctx.peer.remote, tier: ctx.tier, session: ctx.peer.sessionId }),
    [0xF401]: async () => { await new Promise((r) => setTimeout(r, 400)); return { slow: true }; },
    [0xF402]: (p, ctx) => ctx.call(0xF500, { back: true }),
    [0xF403]: (p, ctx) => {
      ctx.emit(0xF40E, { n: 1 });
      ctx.emit(0xF40F, { to: "caller" }, ctx.peer.sessionId);
      ctx.emit(0xF40F, { to: "someone-else" }, 4242);
      return {};
    },
    [0xF404]: () => ({ admin: true }),
  },
});
`;

const CLI = `
import { definePlugin } from "@myclerk/plugin-sdk";
const seen = [];
let subErr = "";
export default definePlugin({
  async init(ctx) {
    await ctx.subscribe([0xF40E, 0xF40F], (op, payload, from) => seen.push({ op, payload, from }));
    try { await ctx.subscribe([0xF600], () => {}); } catch (e) { subErr = e.detail; }
  },
  handlers: {
    [0xF500]: (p, ctx) => ctx.call(0xF400, p),
    [0xF501]: (p, ctx) => ctx.call(p.op, p.payload ?? {}, { timeoutMs: p.timeoutMs }),
    [0xF502]: async (p, ctx) => {
      const all = await Promise.allSettled(
        Array.from({ length: p.n }, () => ctx.call(0xF401, {}, { timeoutMs: 3000 })),
      );
      return all.map((r) => r.status === "fulfilled" ? "ok" : r.reason.detail);
    },
    [0xF503]: () => ({ seen, subErr }),
  },
});
`;

const ROGUE = `
import { definePlugin } from "@myclerk/plugin-sdk";
export default definePlugin({
  handlers: {
    [0xF600]: (p, ctx) => ctx.call(0xF400, {}),
  },
});
`;

async function world(): Promise<World> {
  const w = await makeWorld();
  await writePlugin(w, {
    name: "svc",
    version: "1.0.0",
    hostApi: "^1",
    ranges: [{ first: "0xF400", last: "0xF40F" }],
    events: ["0xF40E", "0xF40F"],
    minTier: { "0xF404": 3 },
    calls: ["0xF500-0xF50F"],
  }, SVC);
  await writePlugin(w, {
    name: "cli",
    version: "1.0.0",
    hostApi: "^1",
    isolation: "worker",
    ranges: [{ first: "0xF500", last: "0xF50F" }],
    calls: ["0xF400-0xF40F", "0xF600", "0x0001"],
  }, CLI);
  await writePlugin(w, {
    name: "rogue",
    version: "1.0.0",
    hostApi: "^1",
    ranges: [{ first: "0xF600", last: "0xF60F" }],
    calls: ["0xF400-0xF40F"],
  }, ROGUE);
  await writePolicy(w, {
    plugins: {
      svc: { calls: ["0xF500-0xF50F"] },
      cli: { isolation: ["worker"], calls: ["0xF400-0xF40F", "0x0000-0x00FF"], callTier: 2 },
      rogue: {},
    },
  });
  return w;
}

Deno.test({
  name: "plugin calls: granted, refused, tier gate, cycle, deadline, in-flight bound, events",
  ...opts,
  fn: async () => {
    const w = await world();
    const host = await startHost(w);
    try {
      const states = Object.fromEntries(host.list().map((p) => [p.name, p.state]));
      assertEq(states, { cli: "running", rogue: "running", svc: "running" }, "all three run");
      const rows = Object.fromEntries(host.list().map((p) => [p.name, p]));
      assert(
        rows.cli.refused.some((r) => r.kind === "calls" && r.value === "0xF600-0xF600"),
        `cli's call to 0xF600 refused by policy: ${JSON.stringify(rows.cli.refused)}`,
      );
      assert(rows.rogue.refused.some((r) => r.kind === "calls"), "rogue's calls refused");

      // Granted: the callee sees the caller as a plugin peer at the policy's tier.
      const ok = await host.dispatch({ opcode: 0xf500, tier: 3, payload: { x: 1 }, peer: PEER });
      assert(ok.ok, JSON.stringify(ok));
      const body = ok.payload as Record<string, unknown>;
      assertEq(body.echo, { x: 1 });
      assertEq([body.remote, body.tier], ["plugin:cli", 2]);
      assert((body.session as number) > 0xffff, "caller session id is outside the node's u16 ids");

      // Refused: rogue has no calls grant at all.
      const r = await host.dispatch({ opcode: 0xf600, tier: 3, payload: {}, peer: PEER });
      assert(!r.ok && r.error.code === ErrorCode.FORBIDDEN, JSON.stringify(r));
      assertEq(r.ok ? "" : r.error.detail, "call-not-granted");
      assert(
        w.logs.some((l) => l.event === "plugin.call-refused" && l.plugin === "rogue"),
        "refusal logged",
      );
      assert(host.logs("rogue").some((l) => l.includes("refused")), "refusal in plugin log");

      const call = (op: number, extra: Record<string, unknown> = {}) =>
        host.dispatch({ opcode: 0xf501, tier: 3, payload: { op, ...extra }, peer: PEER });
      // Tier gate: 0xF404 needs tier 3, cli calls at tier 2.
      const t = await call(0xf404);
      assert(!t.ok && t.error.code === ErrorCode.FORBIDDEN, JSON.stringify(t));
      assertEq(t.ok ? 0 : t.error.extra.requiredTier, 3);
      // The node's own ranges are never reachable through the host, even when granted.
      const core = await call(0x0001);
      assert(!core.ok && core.error.code === ErrorCode.FORBIDDEN, JSON.stringify(core));
      assertEq(core.ok ? "" : core.error.detail, "call-node-range");
      // Not requested in the manifest: refused before the gate.
      const rsv = await call(0x0150);
      assertEq(rsv.ok ? "" : rsv.error.detail, "call-not-granted", "manifest ∩ policy");
      // Cycle: cli -> svc(0xF402) -> cli(0xF500) is refused at once, not a deadlock.
      const t0 = performance.now();
      const cyc = await call(0xf402);
      assert(!cyc.ok && cyc.error.detail === "call-cycle", JSON.stringify(cyc));
      assertEq(cyc.ok ? [] : cyc.error.extra.chain, ["cli", "svc", "cli"]);
      assert(performance.now() - t0 < 1500, "answered well before any deadline");
      // Deadline: the slow op takes 400 ms, the caller allows 50.
      const late = await call(0xf401, { timeoutMs: 50 });
      assert(!late.ok && late.error.code === ErrorCode.TIMEOUT, JSON.stringify(late));
      assertEq(late.ok ? "" : late.error.detail, "call-deadline");
      // Callee's own NOT_FOUND comes back as it is.
      const nf = await call(0xf409);
      assert(!nf.ok && nf.error.code === ErrorCode.NOT_FOUND, JSON.stringify(nf));

      // Bounded in flight: MAX + 6 concurrent slow calls, exactly 6 refused.
      const many = await host.dispatch({
        opcode: 0xf502,
        tier: 3,
        payload: { n: MAX_CALLS_IN_FLIGHT + 6 },
        peer: PEER,
      });
      assert(many.ok, JSON.stringify(many));
      const outcomes = many.payload as string[];
      assertEq(outcomes.filter((o) => o === "calls-full").length, 6, JSON.stringify(outcomes));
      assertEq(outcomes.filter((o) => o === "ok").length, MAX_CALLS_IN_FLIGHT);

      // Events: node-wide and addressed-to-cli arrive; one addressed to another session does not.
      const ev = await call(0xf403);
      assert(ev.ok, JSON.stringify(ev));
      type Seen = { seen: { op: number; payload: Record<string, unknown>; from: string }[] };
      let seen: Seen["seen"] = [];
      await until(
        () => {
          void host.dispatch({ opcode: 0xf503, tier: 3, payload: {}, peer: PEER }).then((x) => {
            if (x.ok) seen = (x.payload as Seen).seen;
          });
          return seen.length >= 2;
        },
        5000,
        "two events at cli",
      );
      // No wait for a third: svc's events reached the host before its answer to 0xF403, and
      // the host forwards an event to cli at once (calls.ts deliver), so every event forwarded
      // at all is on cli's channel ahead of this request.
      const last = await host.dispatch({ opcode: 0xf503, tier: 3, payload: {}, peer: PEER });
      const fin = last.ok ? last.payload as Seen & { subErr: string } : { seen: [], subErr: "" };
      assertEq(fin.seen.map((e) => [e.op, e.from]), [[0xf40e, "svc"], [0xf40f, "svc"]]);
      assertEq(fin.seen[1].payload, { to: "caller" });
      assertEq(fin.subErr, "sub-not-granted", "subscribing outside the grant fails");
    } finally {
      await host.close();
      await dropWorld(w);
    }
  },
});
