/**
 * The edge relay peered with a `serve --role relay` (SQLite, TCP): the
 * serve relay dials the edge over `ws://`, the edge dials the serve relay
 * over TCP (outbound, allowed by `--allow-net`), keys pinned both ways.
 * Hub alice is homed at the edge (joined over `ws://`), hub carol at the
 * serve relay: messages both ways cross the peering.
 *
 * @module
 */

import { assertEquals } from "../_assert.ts";
import { Cluster, freePort, keyId, readInbox, until } from "../integration/_harness.ts";
import { cliOk } from "../integration/_harness.ts";
import { nodeBackend } from "../../../core/crypto/node.ts";
import { keyIdHex } from "../../../core/node/keys.ts";
import { toHex } from "../../../federation/bytes.ts";
import { parseNodeKey } from "../../../federation/edge/identity.ts";

const ROOT = new URL("../../../", import.meta.url).pathname;

Deno.test({
  name: "edge relay peered with a serve relay: ws:// in, TCP out, messages both ways",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const c = await Cluster.create();
    const edgeKeyHex = toHex(crypto.getRandomValues(new Uint8Array(32)));
    const edgeKid = keyIdHex(parseNodeKey(nodeBackend, edgeKeyHex).keyId);
    const rKid = await keyId(c, "r");
    const rTcp = `127.0.0.1:${freePort()}`;
    const edgeAddr = `127.0.0.1:${freePort()}`;
    const admin = crypto.randomUUID();
    const env: Record<string, string> = {
      MYCLERK_NODE_KEY: edgeKeyHex,
      MYCLERK_EDGE_LISTEN: edgeAddr,
      MYCLERK_EDGE_PREFIX: `peer-${crypto.randomUUID()}`,
      MYCLERK_EDGE_ADMIN_TOKEN: admin,
      MYCLERK_EDGE_CONFIG: JSON.stringify({
        log: { format: "json" },
        federation: {
          peers: [{ addr: rTcp, keyId: rKid }],
          peerBackoffBaseMs: 100,
          peerBackoffCapMs: 1000,
        },
      }),
    };
    for (const k of ["HOME", "DENO_DIR", "PATH", "XDG_CACHE_HOME"]) {
      const v = Deno.env.get(k);
      if (v !== undefined) env[k] = v;
    }
    const child = new Deno.Command(Deno.execPath(), {
      args: ["run", "--unstable-kv", "--allow-net", "--allow-env", `${ROOT}edge.ts`],
      env,
      clearEnv: true,
      cwd: ROOT,
      stdin: "null",
      stdout: "null",
      stderr: "piped",
    }).spawn();
    const lines: Record<string, unknown>[] = [];
    const reader = (async () => {
      let buf = "";
      const dec = new TextDecoder();
      for await (const b of child.stderr) {
        buf += dec.decode(b, { stream: true });
        let i;
        while ((i = buf.indexOf("\n")) >= 0) {
          try {
            lines.push(JSON.parse(buf.slice(0, i)));
          } catch { /* not JSON */ }
          buf = buf.slice(i + 1);
        }
      }
    })();
    try {
      await until(() => lines.some((l) => l.msg === "edge relay listening"), 20_000, "edge up");
      await Deno.writeTextFile(
        `${c.dir}/r.json`,
        JSON.stringify({ federation: { peerBackoffBaseMs: 100, peerBackoffCapMs: 1000 } }),
      );
      const r = await c.serve("r", [
        "--role",
        "relay",
        "--tcp",
        rTcp,
        "--peer",
        `ws://${edgeAddr}@${edgeKid}`,
        "--config",
        `${c.dir}/r.json`,
      ]);
      await r.waitLog((j) => j.msg === "peer relay up", 20_000);
      await until(() => lines.some((l) => l.msg === "peer relay up"), 20_000, "edge peer up");

      const inv = await fetch(`http://${edgeAddr}/edge/invite`, {
        method: "POST",
        headers: { authorization: `Bearer ${admin}` },
      });
      const token = String((await inv.json()).token);
      const a = await c.createFamily("alice");
      await cliOk(["hub", "join", `ws://${edgeAddr}`, token, "--data", c.data("alice")]);
      const carol = await c.joinedHub("carol", "r", rTcp);
      const ha = await c.serve("alice", ["--role", "hub"]);
      const hc = await c.serve("carol", ["--role", "hub"]);
      await ha.waitLog((j) => j.msg === "relay session up", 20_000);
      await hc.waitLog((j) => j.msg === "relay session up", 20_000);

      const s1 = await ha.send(carol, "edge-to-serve", { wait: 15_000 });
      assertEquals(s1.json.state, "stored");
      const inC = await until(
        () => {
          const i = readInbox(c.data("carol"));
          return i.total >= 1 ? i : undefined;
        },
        20_000,
        "carol's message via the peering",
      );
      assertEquals(inC.bodies.get(String(s1.json.mid)), "edge-to-serve");
      const s2 = await hc.send(a, "serve-to-edge", { wait: 15_000 });
      assertEquals(s2.json.state, "stored");
      const inA = await until(
        () => {
          const i = readInbox(c.data("alice"));
          return i.total >= 1 ? i : undefined;
        },
        20_000,
        "alice's message via the peering",
      );
      assertEquals(inA.bodies.get(String(s2.json.mid)), "serve-to-edge");
    } finally {
      try {
        child.kill("SIGTERM");
      } catch { /* gone */ }
      await child.status;
      await reader;
      await c.close();
    }
  },
});
