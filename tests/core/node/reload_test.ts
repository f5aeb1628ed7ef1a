/**
 * SIGHUP = config reload (issue #9 "No silent loss": reload without dropping
 * sessions). A real `serve` process: a session established before the
 * reload survives it; the new admit list, limits and ACL apply to what comes
 * after; an invalid config (or one changing a restart-only key) is refused
 * with a logged message and the old config stays in force.
 */
import { assert, assertEquals, assertRejects } from "../_assert.ts";
import { RawTcp } from "./_node.ts";
import { runCli, startServe } from "../../_support/proc.ts";
import { Client } from "../../../core/node/client.ts";
import { ErrorCode, type MyClerkError } from "../../../core/errors.ts";
import { identityFrom } from "../../../core/session/handshake.ts";
import { keyIdHex } from "../../../core/node/keys.ts";
import { backend } from "../../../core/crypto/mod.ts";

const b = backend();
const opts = { sanitizeOps: false, sanitizeResources: false }; // the child is stopped in finally

async function until(f: () => boolean | Promise<boolean>, ms = 10_000): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (await f()) return true;
    await new Promise((r) => setTimeout(r, 25));
  }
  return await f();
}

Deno.test({
  name:
    "SIGHUP reload under serve: sessions survive, new admit/limits/ACL apply, invalid config refused and the old one kept",
  ...opts,
  fn: async () => {
    const data = await Deno.makeTempDir({ prefix: "myclerk-reload-" });
    const cfgPath = `${data}/config.json`;
    const base = { data, limits: { maxUnauthPerAddress: 64 } };
    await Deno.writeTextFile(cfgPath, JSON.stringify(base));
    const node = await startServe(["--config", cfgPath]);
    const addr = `127.0.0.1:${node.tcpPort}`;
    const alice = identityFrom(b, b.x25519Generate().privateKey);
    const reloads = (msg: string) =>
      node.logs.filter((l) => {
        try {
          return JSON.parse(l).msg === msg;
        } catch {
          return false;
        }
      });
    const hup = async (msg: string) => {
      const n = reloads(msg).length;
      node.child.kill("SIGHUP");
      assert(
        await until(() => reloads(msg).length > n),
        `"${msg}" logged:\n${node.logs.join("\n")}`,
      );
      return reloads(msg).at(-1)!;
    };
    try {
      const before = await Client.connect(addr, { tier: 5, identity: alice });
      const sid = before.session.state.sessionId;
      const stranger = await Client.connect(addr, { tier: 5 });
      // Not granted (no ACL yet): refused at the gate.
      const e0 = await assertRejects(before.request(0xf100)) as MyClerkError;
      assertEquals(e0.code, ErrorCode.FORBIDDEN);

      // New rules: admit only alice, at most 2 sessionless connections per address, and a grant.
      await Deno.writeTextFile(
        cfgPath,
        JSON.stringify({
          ...base,
          admit: [keyIdHex(alice.keyId)],
          limits: { maxUnauthPerAddress: 2 },
        }),
      );
      const g = await runCli([
        "acl",
        "grant",
        keyIdHex(alice.keyId),
        "0xF100-0xF1FF",
        "--data",
        data,
      ]);
      assertEquals(g.code, 0, g.stderr);
      const ok = JSON.parse(await hup("config reloaded"));
      assert(
        ok.changed.includes("admit") && ok.changed.includes("limits") && ok.changed.includes("acl"),
        JSON.stringify(ok),
      );

      // The session from before survives, same id, and now passes the gate (NOT_FOUND: no plugin
      // serves 0xF100 here, so the request went past the gate to the handler lookup).
      assert((await before.ping()) >= 0, "the old session is still up");
      assertEquals(before.session.state.sessionId, sid);
      const e1 = await assertRejects(before.request(0xf100)) as MyClerkError;
      assertEquals(e1.code, ErrorCode.NOT_FOUND, "the new grant applies");
      // The stranger's session survives too, but admit now applies to its every request.
      assert((await stranger.ping()) >= 0);
      const e2 = await assertRejects(stranger.request(0xf100)) as MyClerkError;
      assertEquals([e2.code, e2.message.includes("not-admitted")], [ErrorCode.UNAUTHORIZED, true]);
      // A new handshake by a key off the list is refused; alice gets in.
      const refused = await Client.connect(addr, { tier: 5 });
      assert(
        await until(() => refused.closed, 5000),
        "a key not admitted is closed after M3",
      );
      const again = await Client.connect(addr, { tier: 5, identity: alice });
      assert((await again.ping()) >= 0);
      again.close();
      // The new limit: a third sessionless connection from this address evicts the oldest.
      const raws = [await RawTcp.dial(node.tcpPort), await RawTcp.dial(node.tcpPort)];
      await new Promise((r) => setTimeout(r, 100));
      raws.push(await RawTcp.dial(node.tcpPort));
      assert(await raws[0].waitClosed(5000), "the oldest sessionless connection was evicted");
      const metrics = await (await fetch(`http://127.0.0.1:${node.httpPort}/metrics`)).text();
      assert(
        /myclerk_connections_evicted_total\{reason="per-address"\} [1-9]/.test(metrics),
        "eviction counted",
      );
      for (const r of raws) r.conn.close("test");

      // Invalid config: refused, logged with the fix, old rules kept.
      await Deno.writeTextFile(cfgPath, JSON.stringify({ ...base, tiers: { min: 9 } }));
      const bad = JSON.parse(await hup("config reload refused"));
      assert(JSON.stringify(bad.problems).includes("tiers.min"), JSON.stringify(bad));
      const e3 = await assertRejects(stranger.request(0xf100)) as MyClerkError;
      assertEquals(e3.code, ErrorCode.UNAUTHORIZED, "the old admit list still applies");
      // A restart-only key: refused too.
      await Deno.writeTextFile(
        cfgPath,
        JSON.stringify({ ...base, admit: [keyIdHex(alice.keyId)], role: "relay" }),
      );
      const bad2 = JSON.parse(await hup("config reload refused"));
      assert(JSON.stringify(bad2.problems).includes("restart"), JSON.stringify(bad2));
      assert((await before.ping()) >= 0, "still up after two refused reloads");
      before.close();
      stranger.close();
    } finally {
      await node.stop();
      await Deno.remove(data, { recursive: true });
    }
  },
});
