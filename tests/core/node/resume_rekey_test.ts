/**
 * Profile §8 "Which resume secret keys the binder": after a re-key the node
 * sends a new SESSION_TICKET sealing the new secret, and a client that
 * keeps each ticket with the secret current when it arrived resumes.
 */
import { assert } from "../_assert.ts";
import { startNode } from "./_node.ts";
import { Client } from "../../../core/node/client.ts";

const opts = { sanitizeOps: false, sanitizeResources: false }; // the node is closed in finally

async function until(f: () => boolean, ms = 5000): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (!f() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  return f();
}

Deno.test({
  name: "resume after a re-key: a fresh ticket for the new resume secret, and resumption works",
  ...opts,
  fn: async () => {
    const { node, stop } = await startNode();
    try {
      const addr = `127.0.0.1:${node.addresses.tcp.port}`;
      const c = await Client.connect(addr, { tier: 5 });
      assert(await until(() => c.session.ticket !== undefined), "first ticket");
      const first = c.session.ticket;
      c.session.rekey();
      assert(await until(() => c.session.ticket !== first), "a new ticket after the re-key");
      assert((await c.ping()) >= 0);
      const m = c.resumeMaterial();
      assert(m, "resume material");
      c.close();
      await c.waitClosed();
      const r = await Client.connect(addr, { tier: 5, resume: m });
      assert((await r.ping()) >= 0, "resumed with the post-re-key ticket");
      r.close();
    } finally {
      await stop();
    }
  },
});
