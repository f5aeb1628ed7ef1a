/**
 * The gate (issue #9 case 1): only the handshake, resume and KEEPALIVE are
 * served without a session unless the policy marks an opcode public;
 * `tiers.min` and `admit` apply to every request however it arrives; plugin
 * ranges serve the node's own family and granted keys only, checked in core
 * before any handler runs. Real sockets, a real `serve` with the real
 * vendor-echo plugin, and the real `acl` CLI.
 */
import { assert, assertEquals, assertRejects } from "../_assert.ts";
import { RawTcp, startNode } from "./_node.ts";
import { runCli, startServe } from "../../_support/proc.ts";
import { Client } from "../../../core/node/client.ts";
import { ErrorCode, type MyClerkError } from "../../../core/errors.ts";
import { Op } from "../../../core/opcodes.ts";
import { decodeMessage, encodePlain } from "../../../core/wire/message.ts";
import { encodeFrame } from "../../../core/wire/frame.ts";
import { decodePayload, encodePayload } from "../../../core/wire/payload.ts";
import { decodeError } from "../../../core/session/payloads.ts";
import { identityFrom } from "../../../core/session/handshake.ts";
import { keyIdHex } from "../../../core/node/keys.ts";
import { saveAcl } from "../../../core/node/acl.ts";
import { backend } from "../../../core/crypto/mod.ts";
import type { DispatchRequest } from "../../../core/node/dispatch.ts";

const ROOT = new URL("../../../", import.meta.url).pathname;
const b = backend();
const opts = { sanitizeOps: false, sanitizeResources: false }; // nodes and children are stopped in finally

/** Sends a session-less Tier 1 request and returns the decoded Tier 1 answer. */
async function tier1(port: number, op: number, body: Record<string, unknown>) {
  const r = await RawTcp.dial(port);
  try {
    r.conn.write(encodeFrame(encodePlain({ tier: 1, opcode: op }, encodePayload(body))));
    const m = await r.waitFor(1);
    assert(m, `an answer to session-less 0x${op.toString(16)}`);
    const d = decodeMessage(m);
    assert(d.tier === 1, "answered at Tier 1");
    return d;
  } finally {
    r.conn.close("test");
  }
}

async function walk(dir: string): Promise<string[]> {
  const out: string[] = [];
  for await (const e of Deno.readDir(dir)) {
    const p = `${dir}/${e.name}`;
    if (e.isDirectory) out.push(...await walk(p));
    else out.push(p);
  }
  return out;
}

Deno.test({
  name:
    "gate under serve: a session-less Tier 1 request to plugin 0xF100/0xF104 on a tiers.min 4 + admit node is FORBIDDEN and never reaches the plugin",
  ...opts,
  fn: async () => {
    const data = await Deno.makeTempDir({ prefix: "myclerk-gate-" });
    const inst = await runCli([
      "plugin",
      "install",
      `${ROOT}plugins/examples/vendor-echo`,
      "--data",
      data,
    ]);
    assertEquals(inst.code, 0, inst.stderr + inst.stdout);
    const admitted = identityFrom(b, b.x25519Generate().privateKey);
    const cfg = `${data}/config.json`;
    await Deno.writeTextFile(
      cfg,
      JSON.stringify({ data, tiers: { min: 4, max: 5 }, admit: [keyIdHex(admitted.keyId)] }),
    );
    const node = await startServe(["--config", cfg]);
    try {
      const cases: [number, { id: number } & Record<string, unknown>][] = [
        [0xf100, { id: 1, hello: 1 }],
        [0xf104, { id: 2, text: "x" }],
      ];
      for (const [op, body] of cases) {
        const d = await tier1(node.tcpPort, op, body);
        assertEquals(d.opcode, Op.ERROR, "an ERROR, not the plugin's answer");
        const e = decodeError(d.payload);
        assertEquals([e.code, e.detail, e.requiredTier, e.opcode, e.re], [
          ErrorCode.FORBIDDEN,
          "tier",
          4,
          op,
          body.id,
        ]);
      }
      // With a session the admitted key passes tiers.min and admit, but is not granted the range.
      const c = await Client.connect(`127.0.0.1:${node.tcpPort}`, { tier: 5, identity: admitted });
      const e = await assertRejects(c.request(0xf104, { text: "y" })) as MyClerkError;
      assertEquals([e.code, e.message.includes("not-granted")], [ErrorCode.FORBIDDEN, true]);
      c.close();
      // A key off the admit list never gets a session: the node refuses M3 and closes.
      const out = await Client.connect(`127.0.0.1:${node.tcpPort}`, { tier: 5 });
      const why = await Promise.race([
        out.waitClosed(),
        new Promise<string>((r) => setTimeout(() => r("still open"), 5000)),
      ]);
      assert(why !== "still open", "the node closed the connection of a key not admitted");
      assert(
        node.logs.some((l) => l.includes("not-admitted")),
        "logged as not-admitted",
      );
      const metrics = await (await fetch(`http://127.0.0.1:${node.httpPort}/metrics`)).text();
      assert(
        /myclerk_plugin_requests_total\{plugin="vendor-echo"\} 0/.test(metrics),
        `the plugin saw no request:\n${
          metrics.split("\n").filter((l) => l.includes("plugin_requests")).join("\n")
        }`,
      );
      const files = await walk(data);
      assert(!files.some((f) => f.endsWith("notes.txt")), `0xF104 wrote nothing: ${files}`);
    } finally {
      await node.stop();
      await Deno.remove(data, { recursive: true });
    }
  },
});

Deno.test({
  name:
    "gate in core: session-less refused unless public, own key and granted keys pass, members via predicate, 'self' routes, deciders, authorize()",
  ...opts,
  fn: async (t) => {
    const granted = identityFrom(b, b.x25519Generate().privateKey);
    const member = identityFrom(b, b.x25519Generate().privateKey);
    const stranger = identityFrom(b, b.x25519Generate().privateKey);
    const pre = await Deno.makeTempDir({ prefix: "myclerk-gate-acl-" });
    await saveAcl(pre, {
      grants: [{ subject: keyIdHex(granted.keyId), first: 0xf100, last: 0xf10f }],
    });
    const st = await Deno.stat(`${pre}/acl.json`);
    assertEquals(st.mode! & 0o777, 0o600, "acl.json is 0600");
    const acl = JSON.parse(await Deno.readTextFile(`${pre}/acl.json`));
    const { node, stop } = await startNode({ gate: { public: ["0xF1F0-0xF1FF"] } });
    const calls: DispatchRequest[] = [];
    try {
      // the ACL file the node would read from its data dir, applied through reload
      await Deno.writeTextFile(`${node.config.data}/acl.json`, JSON.stringify(acl), {
        mode: 0o600,
      });
      const r = await node.reload(node.config);
      assert(r.ok, JSON.stringify(r));
      node.addRoute({
        name: "fake-plugin",
        first: 0xf100,
        last: 0xf1ff,
        dispatch: (req) => {
          calls.push(req);
          return Promise.resolve({ ok: true, payload: { served: req.opcode } });
        },
      });
      node.addRoute({
        name: "self-admitting",
        first: 0xf200,
        last: 0xf2ff,
        access: "self",
        dispatch: (req) => Promise.resolve({ ok: true, payload: { self: req.opcode } }),
      });
      node.gate.addMembership("test-family", (kid) => kid === member.keyId);
      const port = node.addresses.tcp.port;
      const addr = `127.0.0.1:${port}`;

      await t.step(
        "session-less: KEEPALIVE answered, 0xF100 UNAUTHORIZED session-required",
        async () => {
          const ka = await tier1(port, Op.KEEPALIVE, { id: 5 });
          assertEquals(ka.opcode, Op.KEEPALIVE_ACK);
          assertEquals((decodePayload(ka.payload) as { re: number }).re, 5);
          const d = await tier1(port, 0xf100, { id: 9 });
          const e = decodeError(d.payload);
          assertEquals([e.code, e.detail, e.re], [ErrorCode.UNAUTHORIZED, "session-required", 9]);
          assertEquals(calls.length, 0, "the handler never ran");
        },
      );

      await t.step("session-less to a public opcode is served", async () => {
        const d = await tier1(port, 0xf1f3, { id: 4 });
        assertEquals(d.opcode, 0xf1f3);
        assertEquals(decodePayload(d.payload), { served: 0xf1f3, re: 4 });
        assertEquals(calls.length, 1);
      });

      await t.step(
        "stranger: FORBIDDEN not-granted, handler not run; 'self' route serves it",
        async () => {
          const c = await Client.connect(addr, { tier: 4, identity: stranger });
          const e = await assertRejects(c.request(0xf100)) as MyClerkError;
          assertEquals([e.code, e.message.includes("not-granted")], [ErrorCode.FORBIDDEN, true]);
          assertEquals(calls.length, 1);
          assertEquals(await c.request(0xf200), { self: 0xf200, re: 2 });
          assert(!node.authorize(c.session.state.sessionId, 0xf100), "authorize() says no");
          assert(node.authorize(c.session.state.sessionId, 0xf200), "authorize() for 'self'");
          // a decider a layer adds (per-device access modes plug in here)
          node.gate.addDecider({
            name: "test-decider",
            decide: (
              q,
            ) => (q.keyId === stranger.keyId && q.opcode === 0xf101 ? "allow" : undefined),
          });
          assertEquals(await c.request(0xf101), { served: 0xf101, re: 3 });
          node.gate.removeDecider("test-decider");
          await assertRejects(c.request(0xf101));
          c.close();
        },
      );

      await t.step(
        "own key, granted key and family member pass; grants stop at their range",
        async () => {
          for (const id of [node.identity, granted, member]) {
            const c = await Client.connect(addr, { tier: 4, identity: id });
            const res = await c.request(0xf10f) as { served: number };
            assertEquals(res.served, 0xf10f);
            assert(node.authorize(c.session.state.sessionId, 0xf10f));
            if (id === granted) {
              const e = await assertRejects(c.request(0xf110)) as MyClerkError;
              assertEquals(e.code, ErrorCode.FORBIDDEN, "0xF110 is outside the grant");
            }
            const sid = c.session.state.sessionId;
            c.close();
            await c.waitClosed();
            const deadline = Date.now() + 3000;
            while (node.authorize(sid, 0xf10f) && Date.now() < deadline) {
              await new Promise((r) => setTimeout(r, 20));
            }
            assert(!node.authorize(sid, 0xf10f), "a closed session is authorized for nothing");
          }
        },
      );
    } finally {
      await stop();
      await Deno.remove(pre, { recursive: true });
    }
  },
});

Deno.test({
  name: "gate: admit applies to public opcodes too (session-less caller has no key)",
  ...opts,
  fn: async () => {
    const { node, stop } = await startNode({
      gate: { public: ["0xF100"] },
      admit: ["0a0b0c0d"],
    });
    try {
      let ran = 0;
      node.addRoute({
        name: "p",
        first: 0xf100,
        last: 0xf100,
        dispatch: () => (ran++, Promise.resolve({ ok: true, payload: {} })),
      });
      const d = await tier1(node.addresses.tcp.port, 0xf100, { id: 1 });
      const e = decodeError(d.payload);
      assertEquals([e.code, e.detail], [ErrorCode.UNAUTHORIZED, "not-admitted"]);
      assertEquals(ran, 0);
    } finally {
      await stop();
    }
  },
});

Deno.test({
  name: "acl CLI: grant, list, revoke (split), and validation messages that say what to fix",
  ...opts,
  fn: async () => {
    const data = await Deno.makeTempDir({ prefix: "myclerk-acl-cli-" });
    try {
      const g = await runCli(["acl", "grant", "1A2B3C4D", "0xF100-0xF10F", "--data", data]);
      assertEquals(g.code, 0, g.stderr);
      assert(g.stdout.includes("granted 1a2b3c4d 0xf100-0xf10f"), g.stdout);
      const fam = "00112233445566778899aabbccddeeff";
      assertEquals((await runCli(["acl", "grant", fam, "0x0610", "--data", data])).code, 0);
      assertEquals(
        (await Deno.stat(`${data}/acl.json`)).mode! & 0o777,
        0o600,
        "acl.json is 0600",
      );
      const rv = await runCli(["acl", "revoke", "1a2b3c4d", "0xF104-0xF105", "--data", data]);
      assertEquals(rv.code, 0, rv.stderr);
      const l = await runCli(["acl", "list", "--json", "--data", data]);
      assertEquals(JSON.parse(l.stdout), [
        { subject: "1a2b3c4d", range: "0xf100-0xf103" },
        { subject: "1a2b3c4d", range: "0xf106-0xf10f" },
        { subject: fam, range: "0x0610" },
      ]);
      const bad: [string[], string][] = [
        [["acl", "grant", "xyz", "0xF100"], "8 hex digits (a key id"],
        [["acl", "grant", "1a2b3c4d", "F100"], "write opcodes as 0xNNNN"],
        [["acl", "grant", "1a2b3c4d", "0xF10F-0xF100"], "put the lower opcode first"],
        [["acl", "grant", "1a2b3c4d", "0x0001-0x0010"], "core opcodes are not gated"],
        [["acl", "revoke", "99999999", "0xF100"], "holds no grant"],
      ];
      for (const [args, want] of bad) {
        const r = await runCli([...args, "--data", data]);
        assertEquals(r.code, 1, `${args.join(" ")} must fail`);
        assert(r.stderr.includes(want), `${args.join(" ")}: ${r.stderr}`);
      }
      const help = await runCli(["acl", "grant", "--help"]);
      assert(help.stdout.includes("0xF100-0xF10F") && help.stdout.includes("KEYID"), help.stdout);
      await Deno.writeTextFile(`${data}/acl.json`, '{"version":2}');
      const broken = await runCli(["acl", "list", "--data", data]);
      assertEquals(broken.code, 1);
      assert(broken.stderr.includes("version must be 1"), broken.stderr);
    } finally {
      await Deno.remove(data, { recursive: true });
    }
  },
});
