/**
 * Connection hygiene over real sockets: connection limit, handshake
 * timeout, idle timeout, keepalive on send silence, graceful close.
 */
import { assert, assertEquals } from "../_assert.ts";
import { RawTcp, sleep, startNode } from "./_node.ts";
import { Client } from "../../../core/node/client.ts";
import { Op } from "../../../core/opcodes.ts";

const opts = { sanitizeOps: false, sanitizeResources: false }; // the node's sockets close in finally

Deno.test({
  name: "limits: connection limit, handshake timeout, idle timeout, keepalive",
  ...opts,
  fn: async (t) => {
    const { node, stop } = await startNode({
      limits: { maxConnections: 2, handshakeTimeoutMs: 300, idleTimeoutMs: 1500, keepaliveMs: 200 },
    });
    const port = node.addresses.tcp.port;
    try {
      await t.step("a connection over the limit is closed at once and counted", async () => {
        const a = await Client.connect(`127.0.0.1:${port}`, { tier: 4 });
        const b = await Client.connect(`127.0.0.1:${port}`, { tier: 4 });
        const c = await RawTcp.dial(port);
        assert(await c.waitClosed(2000), "third connection closed");
        assertEquals(
          node.metrics.get("myclerk_connections_rejected_total", { reason: "limit" }),
          1,
        );
        a.close();
        b.close();
        await Promise.all([a.waitClosed(), b.waitClosed()]);
        await sleep(100);
      });

      await t.step("no handshake within the timeout: closed", async () => {
        const r = await RawTcp.dial(port);
        assert(await r.waitClosed(3000), "closed by the handshake timeout");
        assert(node.metrics.get("myclerk_connections_timeout_total", { phase: "handshake" }) >= 1);
      });

      await t.step("keepalive after send silence, on the priority lane; answered", async () => {
        const c = await Client.connect(`127.0.0.1:${port}`, { tier: 5 });
        const seen: number[] = [];
        const orig = c.session.receive.bind(c.session);
        c.session.receive = (bytes: Uint8Array) => {
          const r = orig(bytes);
          if (r.kind === "message") seen.push(r.opcode);
          return r;
        };
        await sleep(1300);
        assert(seen.includes(Op.KEEPALIVE), `node sent KEEPALIVE (saw ${seen})`);
        assert(!c.closed, "kept alive: our automatic KEEPALIVE_ACKs count as traffic");
        c.close();
      });

      await t.step("a silent peer is closed after the idle timeout", async () => {
        const c = await Client.connect(`127.0.0.1:${port}`, { tier: 4 });
        // Stop answering: swallow everything so no KEEPALIVE_ACK goes back.
        c.session.receive = () => ({ kind: "partial" });
        const why = await Promise.race([c.waitClosed(), sleep(4000).then(() => "timeout")]);
        assert(why !== "timeout", "closed by the idle timeout");
        assert(node.metrics.get("myclerk_connections_timeout_total", { phase: "idle" }) >= 1);
      });
    } finally {
      await stop();
    }
  },
});

Deno.test({
  name: "limits: graceful shutdown sends SESSION_CLOSE to connected clients",
  ...opts,
  fn: async () => {
    const { node, stop } = await startNode();
    const c = await Client.connect(`127.0.0.1:${node.addresses.tcp.port}`, { tier: 5 });
    await c.ping(); // the node has processed M3: the session is established on both sides
    await stop();
    const why = await Promise.race([c.waitClosed(), sleep(3000).then(() => "timeout")]);
    assertEquals(why, "peer-close", `closed because: ${why}`);
  },
});
