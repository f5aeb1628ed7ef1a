/**
 * Bad input over real sockets (issue #3): each hostile message gets the
 * profile's answer (an ERROR code, or a silent drop counted in /metrics),
 * and the node keeps serving other connections.
 */
import { assert, assertEquals, assertRejects } from "../_assert.ts";
import { RawTcp, sleep, startNode } from "./_node.ts";
import { Client } from "../../../core/node/client.ts";
import { ErrorCode, type MyClerkError } from "../../../core/errors.ts";
import { Op } from "../../../core/opcodes.ts";
import { decodeMessage, encodePlain } from "../../../core/wire/message.ts";
import { encodeFrame } from "../../../core/wire/frame.ts";
import { sealMessage, verifyTrailer } from "../../../core/wire/protect.ts";
import {
  decodeError,
  decodeSessionInit,
  encodeKeepalive,
  encodeSessionInit,
} from "../../../core/session/payloads.ts";
import { identityFrom, Initiator } from "../../../core/session/handshake.ts";
import { ZERO_KEY } from "../../../core/session/schedule.ts";
import { backend } from "../../../core/crypto/mod.ts";

const b = backend();
const opts = { sanitizeOps: false, sanitizeResources: false }; // node timers/sockets are closed in finally; Deno's per-test sanitizer races the 1 s sweep

/**
 * Polls `f` until it holds or `ms` pass; returns whether it held. A drop is
 * counted when the node has read the message, which no reply signals, so the
 * tests wait for the counter (bounded) and then check it is exact.
 */
async function waitUntil(f: () => boolean, ms = 5000): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (!f()) {
    if (Date.now() > deadline) return false;
    await sleep(10);
  }
  return true;
}

function errorOf(m: Uint8Array | undefined) {
  assert(m, "expected a reply");
  const d = decodeMessage(m);
  assert(d.tier === 1 && d.opcode === Op.ERROR, `expected a Tier 1 ERROR, got tier ${d.tier}`);
  return decodeError(d.payload);
}

Deno.test({
  name: "bad input over real sockets: each case answered or dropped, node keeps serving",
  ...opts,
  fn: async (t) => {
    const { node, stop } = await startNode({ tiers: { min: 3, max: 5 } });
    const port = node.addresses.tcp.port;
    const ws = `ws://127.0.0.1:${node.addresses.http.port}/myclerk`;
    const healthy = await Client.connect(`127.0.0.1:${port}`, { tier: 5 });
    const drops = (reason: string) => node.metrics.get("myclerk_drops_total", { reason });
    try {
      await t.step("truncated frame: connection closes at EOF, nothing else breaks", async () => {
        const r = await RawTcp.dial(port);
        r.conn.write(new Uint8Array([0, 0, 0, 100, 1, 2, 3]));
        // lets the partial frame leave before our EOF; nothing is counted here
        await sleep(50);
        r.conn.close("test");
        assert(await r.waitClosed());
        assert((await healthy.ping()) >= 0);
      });

      await t.step("length over the limit before a session: closed without reply", async () => {
        const r = await RawTcp.dial(port);
        r.conn.write(new Uint8Array([0x7f, 0xff, 0xff, 0xff, 0, 0]));
        assert(await r.waitClosed());
        assertEquals(r.received.length, 0);
      });

      await t.step(
        "length over the limit on a session: ERROR BAD_REQUEST frame-too-large, then closed",
        async () => {
          const c = await Client.connect(`127.0.0.1:${port}`, { tier: 4 });
          const errs: unknown[] = [];
          c.onPush((op, p) => op === Op.ERROR && errs.push(p));
          c.conn.write(new Uint8Array([0x00, 0x20, 0x00, 0x01]));
          await c.waitClosed();
          assertEquals((errs[0] as { code: number; detail: string }).detail, "frame-too-large");
          assertEquals((errs[0] as { code: number }).code, ErrorCode.BAD_REQUEST);
        },
      );

      await t.step(
        "wrong HMAC trailer: dropped silently (drop_mac), session survives",
        async () => {
          const c = await Client.connect(`127.0.0.1:${port}`, { tier: 5 });
          const before = drops("mac");
          const m = c.session.seal(Op.KEEPALIVE, encodeKeepalive({ id: 99 }));
          m[m.length - 1] ^= 1;
          c.conn.write(m);
          assert(await waitUntil(() => drops("mac") >= before + 1), "drop_mac counted");
          // the node reads a connection in order: after this round trip a second count would show
          assert((await c.ping()) >= 0);
          assertEquals(drops("mac"), before + 1, "counted exactly once");
          c.close();
        },
      );

      await t.step("wrong AEAD tag (valid HMAC): dropped silently (drop_aead)", async () => {
        const c = await Client.connect(`127.0.0.1:${port}`, { tier: 4 });
        const before = drops("aead");
        const k = c.session.state.keys.i2r;
        const ts = Math.floor(Date.now() / 1000);
        const m = sealMessage(
          b,
          {
            tier: 4,
            opcode: Op.KEEPALIVE,
            sessionId: c.session.state.sessionId,
            timestamp: ts,
            keyId: 0,
            ecdh: c.session.state.myEphemeral,
            encrypted: true,
          },
          500,
          k,
          encodeKeepalive({ id: 5 }),
        );
        m[48] ^= 0x80; // a ciphertext bit: the trailer covers header || tag (profile §2), so it stays valid
        const d = decodeMessage(m);
        assert(d.tier === 4 && verifyTrailer(b, d, k.mac), "trailer still valid");
        c.conn.write(encodeFrame(m));
        assert(await waitUntil(() => drops("aead") >= before + 1), "drop_aead counted");
        // the node reads a connection in order: after this round trip a second count would show
        assert((await c.ping()) >= 0);
        assertEquals(drops("aead"), before + 1, "counted exactly once");
        c.close();
      });

      await t.step("replayed message: answered once, the copy dropped (drop_replay)", async () => {
        const c = await Client.connect(`127.0.0.1:${port}`, { tier: 5 });
        const before = drops("replay");
        const acks: unknown[] = [];
        c.onPush((op, p) => op === Op.KEEPALIVE_ACK && acks.push(p));
        const m = c.session.seal(Op.NOP, new Uint8Array());
        c.conn.write(m);
        c.conn.write(m);
        assert(await waitUntil(() => drops("replay") >= before + 1), "drop_replay counted");
        // the node reads a connection in order: after this round trip a second count would show
        assert((await c.ping()) >= 0);
        assertEquals(drops("replay"), before + 1, "counted exactly once");
        c.close();
      });

      await t.step("stale timestamp: dropped (drop_stale)", async () => {
        const c = await Client.connect(`127.0.0.1:${port}`, { tier: 4 });
        const before = drops("stale");
        const st = c.session.state;
        const m = sealMessage(
          b,
          {
            tier: 4,
            opcode: Op.NOP,
            sessionId: st.sessionId,
            timestamp: Math.floor(Date.now() / 1000) - 3600,
            keyId: 0,
            ecdh: st.myEphemeral,
            encrypted: true,
          },
          700,
          st.keys.i2r,
          new Uint8Array(),
        );
        c.conn.write(encodeFrame(m));
        assert(await waitUntil(() => drops("stale") >= before + 1), "drop_stale counted");
        // the node reads a connection in order: after this round trip a second count would show
        assert((await c.ping()) >= 0);
        assertEquals(drops("stale"), before + 1, "counted exactly once");
        c.close();
      });

      await t.step(
        "unknown opcodes: UNSUPPORTED for reserved ranges, NOT_FOUND for a served range without handler",
        async () => {
          const c = await Client.connect(`127.0.0.1:${port}`, { tier: 5 });
          const e1 = await assertRejects(c.request(0x0700)) as MyClerkError;
          assertEquals(e1.code, ErrorCode.UNSUPPORTED);
          const e2 = await assertRejects(c.request(0x0100)) as MyClerkError;
          assertEquals(e2.code, ErrorCode.UNSUPPORTED);
          // a key the node's policy does not know: stopped at the gate (issue #9 case 1)
          const e3 = await assertRejects(c.request(0x0250)) as MyClerkError;
          assertEquals([e3.code, e3.message.includes("not-granted")], [ErrorCode.FORBIDDEN, true]);
          c.close();
          // the node's own key passes the gate: no handler there
          const own = await Client.connect(`127.0.0.1:${port}`, {
            tier: 5,
            identity: node.identity,
          });
          const e4 = await assertRejects(own.request(0x0250)) as MyClerkError;
          assertEquals(e4.code, ErrorCode.NOT_FOUND);
          own.close();
        },
      );

      await t.step("Tier 0 outside a secure session: discarded silently", async () => {
        const r = await RawTcp.dial(port);
        const before = drops("tier0");
        r.conn.write(encodeFrame(encodePlain({ tier: 0 }, new Uint8Array([1, 2, 3]))));
        r.conn.write(
          encodeFrame(encodePlain({ tier: 1, opcode: Op.KEEPALIVE }, encodeKeepalive({ id: 3 }))),
        );
        const first = decodeMessage((await r.waitFor(1))!);
        assert(
          first.tier === 1 && first.opcode === Op.KEEPALIVE_ACK,
          "the first reply is the KEEPALIVE_ACK: Tier 0 got none",
        );
        assertEquals(drops("tier0"), before + 1);
        r.conn.close();
      });

      await t.step(
        "downgrade: asking for a tier below the node's minimum gets FORBIDDEN with required-tier",
        async () => {
          const e = await assertRejects(
            Client.connect(`127.0.0.1:${port}`, { tier: 2 }),
          ) as MyClerkError;
          assertEquals(e.code, ErrorCode.FORBIDDEN);
          assertEquals(e.extra.requiredTier, 3);
        },
      );

      await t.step(
        "downgrade: a man in the middle lowering M1's tier breaks the handshake",
        async () => {
          const r = await RawTcp.dial(port);
          const ini = new Initiator({
            backend: b,
            identity: identityFrom(b, b.x25519Generate().privateKey),
            tier: 5,
          });
          const m1 = decodeMessage(ini.start());
          assert(m1.tier === 4);
          const init = decodeSessionInit(m1.payload);
          const forged = sealMessage(
            b,
            {
              tier: 4,
              opcode: Op.SESSION_INIT,
              sessionId: 0,
              keyId: 0,
              ecdh: m1.ecdh,
              timestamp: m1.timestamp,
              encrypted: false,
            },
            0,
            { key: ZERO_KEY, mac: ZERO_KEY, iv: ZERO_KEY },
            encodeSessionInit({ ...init, tier: 3 }),
          );
          r.conn.write(encodeFrame(forged));
          const m2 = await r.waitFor(1);
          assert(m2);
          let err: MyClerkError | undefined;
          try {
            ini.finish(m2);
          } catch (e) {
            err = e as MyClerkError;
          }
          assertEquals(err?.detail, "handshake-mac");
          r.conn.close();
        },
      );

      await t.step(
        "downgrade: a lower-tier message on an established Tier 5 session is dropped (drop_tier)",
        async () => {
          const c = await Client.connect(`127.0.0.1:${port}`, { tier: 5 });
          const before = drops("tier");
          c.conn.write(
            encodeFrame(encodePlain({ tier: 1, opcode: Op.KEEPALIVE }, encodeKeepalive({ id: 1 }))),
          );
          assert(await waitUntil(() => drops("tier") >= before + 1), "drop_tier counted");
          // the node reads a connection in order: after this round trip a second count would show
          assert((await c.ping()) >= 0);
          assertEquals(drops("tier"), before + 1, "counted exactly once");
          c.close();
        },
      );

      await t.step(
        "tier below an opcode's minimum: FORBIDDEN with required-tier 4 for federation at Tier 3",
        async () => {
          const c = await Client.connect(`127.0.0.1:${port}`, { tier: 3 });
          const e = await assertRejects(c.request(0x0300)) as MyClerkError;
          assertEquals(e.code, ErrorCode.FORBIDDEN);
          assertEquals(e.extra.requiredTier, 4);
          c.close();
        },
      );

      await t.step("garbage before a session: ERROR BAD_REQUEST naming the problem", async () => {
        const r = await RawTcp.dial(port);
        r.conn.write(encodeFrame(new Uint8Array([0xff, 1, 2, 3, 4])));
        const e = errorOf(await r.waitFor(1));
        assertEquals([e.code, e.detail], [ErrorCode.BAD_REQUEST, "version"]);
        r.conn.write(encodeFrame(new Uint8Array([0x20, 0, 3])));
        const e2 = errorOf(await r.waitFor(2));
        assertEquals([e2.code, e2.detail], [ErrorCode.BAD_REQUEST, "truncated"]);
        r.conn.close();
      });

      await t.step("text frame on WebSocket: closed with 1003, node keeps serving", async () => {
        const sock = new WebSocket(ws);
        await new Promise((r) => (sock.onopen = r));
        const closed = new Promise<number>((r) => (sock.onclose = (ev) => r(ev.code)));
        sock.send("hello");
        assertEquals(await closed, 1003);
      });

      await t.step("the first connection is still served after all of this", async () => {
        assert((await healthy.ping()) >= 0);
        const metrics = await (await fetch(`http://127.0.0.1:${node.addresses.http.port}/metrics`))
          .text();
        for (const reason of ["mac", "aead", "replay", "stale", "tier0", "tier"]) {
          assert(
            metrics.includes(`myclerk_drops_total{reason="${reason}"}`),
            `metrics count drop ${reason}`,
          );
        }
      });
    } finally {
      healthy.close();
      await stop();
    }
  },
});
