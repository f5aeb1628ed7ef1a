/**
 * The `/federation` admin routes answer loopback callers only: status lists
 * family ids and queue depths, send and lookup act for the family.
 */
import { assertEquals } from "./_assert.ts";
import { adminApp } from "../../federation/service.ts";
import { startNode } from "../core/node/_node.ts";

const outside = {
  remoteAddr: { transport: "tcp", hostname: "203.0.113.7", port: 40000 } as Deno.NetAddr,
};
const local = {
  remoteAddr: { transport: "tcp", hostname: "127.0.0.1", port: 40000 } as Deno.NetAddr,
};

Deno.test({
  name: "federation admin routes: 403 for non-loopback callers, served on loopback",
  sanitizeOps: false, // the node's sockets are closed in finally
  sanitizeResources: false,
  fn: async () => {
    const { node, stop } = await startNode();
    try {
      const app = adminApp(node, () => ({ stop: async () => {} }));
      const req = (path: string, init?: RequestInit) => new Request(`http://x${path}`, init);
      for (
        const [path, init] of [
          ["/federation/status", undefined],
          ["/federation/send?to=0123456789abcdef0123456789abcdef", { method: "POST", body: "x" }],
          ["/federation/lookup?family=0123456789abcdef0123456789abcdef", undefined],
        ] as const
      ) {
        const r = await app.fetch(req(path, init), outside);
        assertEquals(r.status, 403, `${path} from outside`);
        await r.body?.cancel();
      }
      const ok = await app.fetch(req("/federation/status"), local);
      assertEquals(ok.status, 200);
      assertEquals((await ok.json()).keyId.length, 8);
    } finally {
      await stop();
    }
  },
});
