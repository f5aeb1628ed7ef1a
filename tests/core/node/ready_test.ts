/**
 * `holdUntilReady`: `serve` listens before its layers attach their routes.
 * A request that arrives in that window waits for `markReady()` and is then
 * served by the route attached meanwhile, instead of NOT_FOUND `no-handler`
 * (found from outside: a hub joining a relay that was still opening its store).
 * Real node on loopback, real client session.
 */
import { assertEquals } from "../_assert.ts";
import { Node } from "../../../core/node/node.ts";
import { validateConfig } from "../../../core/node/config.ts";
import { createLogger } from "../../../core/node/log.ts";
import { Client } from "../../../core/node/client.ts";
import { keyIdHex } from "../../../core/node/keys.ts";
import { saveAcl } from "../../../core/node/acl.ts";
import { backend } from "../../../core/crypto/mod.ts";
import { identityFrom } from "../../../core/session/handshake.ts";
import { ErrorCode, type MyClerkError } from "../../../core/errors.ts";

async function start(hold: boolean, granted: number) {
  const dir = await Deno.makeTempDir({ prefix: "myclerk-ready-" });
  await saveAcl(dir, { grants: [{ subject: keyIdHex(granted), first: 0xf100, last: 0xf10f }] });
  const node = await Node.start(
    validateConfig({ data: dir, listen: { tcp: "127.0.0.1:0", http: "127.0.0.1:0" } }),
    { log: createLogger({ sink: () => {} }), holdUntilReady: hold },
  );
  return {
    node,
    stop: async () => {
      await node.close();
      await Deno.remove(dir, { recursive: true });
    },
  };
}

const route = {
  name: "late-layer",
  first: 0xf100,
  last: 0xf10f,
  dispatch: () => Promise.resolve({ ok: true as const, payload: { served: true } }),
};

Deno.test("node: a request before the layers attach waits for markReady, then is served", async () => {
  const b = backend();
  const id = identityFrom(b, b.x25519Generate().privateKey);
  const { node, stop } = await start(true, id.keyId);
  try {
    const c = await Client.connect(`127.0.0.1:${node.addresses.tcp.port}`, {
      tier: 4,
      identity: id,
    });
    let settled = false;
    const answer = c.request(0xf101).finally(() => settled = true);
    // Held: no answer while no route is attached (a NOT_FOUND would settle it at once).
    const t0 = Date.now();
    while (Date.now() - t0 < 300) await new Promise((r) => setTimeout(r, 20));
    assertEquals(settled, false, "held until ready");
    node.addRoute(route);
    node.markReady();
    assertEquals(await answer, { served: true, re: 1 });
    c.close();
  } finally {
    await stop();
  }
});

Deno.test("node: without holdUntilReady a request with no route is NOT_FOUND no-handler", async () => {
  const b = backend();
  const id = identityFrom(b, b.x25519Generate().privateKey);
  const { node, stop } = await start(false, id.keyId);
  try {
    const c = await Client.connect(`127.0.0.1:${node.addresses.tcp.port}`, {
      tier: 4,
      identity: id,
    });
    const e = await c.request(0xf101).then(() => undefined, (x) => x as MyClerkError);
    assertEquals(e?.code, ErrorCode.NOT_FOUND);
    c.close();
  } finally {
    await stop();
  }
});
