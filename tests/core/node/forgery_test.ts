/**
 * Never answer a forgery (issue #9 case 4) and validate every core payload
 * (case 5), over real sockets against a real node: a Tier 5 message with
 * another session id and a bad trailer, or random bytes after the session
 * id, is a counted silent drop, never an ERROR sealed under the session's
 * keys; KEEPALIVE and every other core opcode's payload get the §10 answer.
 */
import { assert, assertEquals } from "../_assert.ts";
import { RawTcp, startNode } from "./_node.ts";
import { Client } from "../../../core/node/client.ts";
import { ErrorCode } from "../../../core/errors.ts";
import { Op } from "../../../core/opcodes.ts";
import { decodeMessage, encodePlain } from "../../../core/wire/message.ts";
import { encodeFrame } from "../../../core/wire/frame.ts";
import { encodePayload } from "../../../core/wire/payload.ts";
import { decodeError, type ErrorPayload } from "../../../core/session/payloads.ts";
import { backend } from "../../../core/crypto/mod.ts";

const b = backend();
const opts = { sanitizeOps: false, sanitizeResources: false }; // the node is closed in finally
const hex = (s: string) => Uint8Array.from(s.match(/../g)!.map((x) => parseInt(x, 16)));

async function until(f: () => boolean, ms = 3000): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (!f() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  return f();
}

Deno.test({
  name:
    "forgeries on a Tier 5 session: wrong session id + bad trailer, random bytes after the session id: dropped, counted, never answered",
  ...opts,
  fn: async () => {
    const { node, stop } = await startNode();
    const drops = (reason: string) => node.metrics.get("myclerk_drops_total", { reason });
    try {
      const c = await Client.connect(`127.0.0.1:${node.addresses.tcp.port}`, { tier: 5 });
      const seen: { op: number; len: number }[] = [];
      c.onRaw((op, p) => seen.push({ op, len: p.length }));
      c.onPush(() => {});
      // A genuine sealed message to start from (the node ignores NOP).
      const genuine = c.session.seal(Op.NOP, encodePayload({}));
      const sid = c.session.state.sessionId;

      const before = { sid: drops("session-id"), mac: drops("mac") };
      // 1. another session id and a bad trailer
      const f1 = genuine.slice(4); // without the frame length
      f1[4] = (sid >> 8) ^ 0x5a;
      f1[5] = (sid & 0xff) ^ 0xa5;
      f1[f1.length - 1] ^= 1;
      c.conn.write(encodeFrame(f1));
      // 2. the right session id, random bytes after it
      const f2 = new Uint8Array(64 + 40 + 32);
      f2.set(f1.subarray(0, 4));
      f2[4] = sid >> 8;
      f2[5] = sid & 0xff;
      f2.set(b.randomBytes(f2.length - 6), 6);
      c.conn.write(encodeFrame(f2));
      // 3. another session id, random bytes after it
      const f3 = f2.slice();
      f3[4] ^= 0xff;
      c.conn.write(encodeFrame(f3));
      // 4. too short for a Tier 5 header: not even a header to check
      c.conn.write(encodeFrame(f1.subarray(0, 20)));
      assert(
        await until(() =>
          drops("session-id") === before.sid + 2 &&
          drops("mac") + drops("key") + drops("stale") >= before.mac + 1 &&
          drops("header") >= 1
        ),
        `counted: session-id ${drops("session-id")}, mac ${drops("mac")}, header ${
          drops("header")
        }`,
      );
      // The session still works, and nothing at all came back for the forgeries.
      assert((await c.ping()) >= 0);
      assertEquals(seen.filter((s) => s.op === Op.ERROR).length, 0, "no ERROR answered a forgery");
      assertEquals(
        node.metrics.get("myclerk_errors_sent_total", { code: "INVALID_SESSION" }),
        0,
        "no INVALID_SESSION sent",
      );
      c.close();
    } finally {
      await stop();
    }
  },
});

/** Collects sealed ERRORs on a client session. */
function errors(c: Client): ErrorPayload[] {
  const out: ErrorPayload[] = [];
  c.onRaw((op, p) => op === Op.ERROR && out.push(decodeError(p)));
  return out;
}

Deno.test({
  name:
    "core payloads validated (§10): KEEPALIVE c1 / [1,2] / {id:'seven'} and every other core opcode",
  ...opts,
  fn: async (t) => {
    const { node, stop } = await startNode();
    const port = node.addresses.tcp.port;
    try {
      await t.step(
        "in a session: KEEPALIVE answered BAD_REQUEST msgpack / payload-not-map / field:id",
        async () => {
          const c = await Client.connect(`127.0.0.1:${port}`, { tier: 4 });
          const errs = errors(c);
          const acks: number[] = [];
          c.onRaw((op) => op === Op.KEEPALIVE_ACK && acks.push(op));
          for (const p of [hex("c1"), encodePayload([1, 2]), encodePayload({ id: "seven" })]) {
            c.conn.write(c.session.seal(Op.KEEPALIVE, p), true);
          }
          assert(await until(() => errs.length === 3), `3 ERRORs, got ${errs.length}`);
          assertEquals(
            errs.map((e) => [e.code, e.opcode, e.detail]),
            [
              [ErrorCode.BAD_REQUEST, Op.KEEPALIVE, "msgpack"],
              [ErrorCode.BAD_REQUEST, Op.KEEPALIVE, "payload-not-map"],
              [ErrorCode.BAD_REQUEST, Op.KEEPALIVE, "field:id"],
            ],
          );
          assertEquals(acks.length, 0, "no KEEPALIVE_ACK for an invalid KEEPALIVE");
          assert((await c.ping()) >= 0, "a valid KEEPALIVE is still answered");
          c.close();
        },
      );

      await t.step("without a session: the same three at Tier 1", async () => {
        const r = await RawTcp.dial(port);
        const ps = [hex("c1"), encodePayload([1, 2]), encodePayload({ id: "seven" })];
        for (const p of ps) {
          r.conn.write(encodeFrame(encodePlain({ tier: 1, opcode: Op.KEEPALIVE }, p)));
        }
        await r.waitFor(3);
        const got = r.received.map((m) => {
          const d = decodeMessage(m);
          assert(d.tier === 1 && d.opcode === Op.ERROR, "Tier 1 ERROR");
          const e = decodeError(d.payload);
          return [e.code, e.detail];
        });
        assertEquals(got, [
          [ErrorCode.BAD_REQUEST, "msgpack"],
          [ErrorCode.BAD_REQUEST, "payload-not-map"],
          [ErrorCode.BAD_REQUEST, "field:id"],
        ]);
        r.conn.close("test");
      });

      await t.step("every other core opcode: the table's answer", async () => {
        const c = await Client.connect(`127.0.0.1:${port}`, { tier: 5 });
        const errs = errors(c);
        const cases: [number, Uint8Array, number, string][] = [
          [Op.NOP, encodePayload([1, 2]), ErrorCode.BAD_REQUEST, "payload-not-map"],
          [Op.KEEPALIVE_ACK, encodePayload({ re: "x" }), ErrorCode.BAD_REQUEST, "field:re"],
          [Op.SESSION_CLOSE_ACK, hex("c1"), ErrorCode.BAD_REQUEST, "msgpack"],
          [Op.SESSION_CLOSE, encodePayload({ reason: 5 }), ErrorCode.BAD_REQUEST, "field:reason"],
          [Op.SESSION_INIT, encodePayload({}), ErrorCode.BAD_REQUEST, "unexpected-core-opcode"],
          [Op.SESSION_ACK, encodePayload({}), ErrorCode.BAD_REQUEST, "unexpected-core-opcode"],
          [Op.SESSION_RESUME, encodePayload({}), ErrorCode.BAD_REQUEST, "unexpected-core-opcode"],
          [Op.SESSION_RESUMED, encodePayload({}), ErrorCode.BAD_REQUEST, "unexpected-core-opcode"],
          [Op.SESSION_TICKET, encodePayload({ ticket: 1 }), ErrorCode.BAD_REQUEST, "field:ticket"],
          [
            Op.KEY_EXCHANGE_COMPLETE,
            encodePayload({}),
            ErrorCode.BAD_REQUEST,
            "unexpected-core-opcode",
          ],
          [Op.SESSION_ROTATE, encodePayload({ epoch: "1" }), ErrorCode.BAD_REQUEST, "field:epoch"],
          [Op.KEY_EXCHANGE_INIT, encodePayload([]), ErrorCode.BAD_REQUEST, "payload-not-map"],
          [Op.KEY_EXCHANGE_RESPONSE, encodePayload({}), ErrorCode.BAD_REQUEST, "field:epoch"],
          [0x000a, encodePayload({}), ErrorCode.UNSUPPORTED, "core-unassigned"],
          [0x0013, encodePayload({}), ErrorCode.UNSUPPORTED, "core-unassigned"],
          [0x00ff, encodePayload({}), ErrorCode.UNSUPPORTED, "core-unassigned"],
        ];
        for (const [op, p] of cases) c.conn.write(c.session.seal(op, p));
        assert(await until(() => errs.length >= cases.length), `${errs.length} ERRORs`);
        assertEquals(
          errs.map((e) => [e.opcode, e.code, e.detail]),
          cases.map(([op, , code, detail]) => [op, code, detail]),
        );
        // A malformed ERROR is never answered (no ERROR ping-pong): dropped and counted.
        const before = node.metrics.get("myclerk_drops_total", { reason: "error-payload" });
        c.conn.write(c.session.seal(Op.ERROR, encodePayload({ code: "x" })));
        assert(
          await until(() =>
            node.metrics.get("myclerk_drops_total", { reason: "error-payload" }) === before + 1
          ),
        );
        assert((await c.ping()) >= 0);
        assertEquals(errs.length, cases.length, "nothing answered the malformed ERROR");
        c.close();
      });
    } finally {
      await stop();
    }
  },
});
