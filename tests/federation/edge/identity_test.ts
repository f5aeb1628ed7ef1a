/**
 * The edge relay's `MYCLERK_NODE_KEY` forms (node.key JSON, hex, base64,
 * base64url) give the same identity; bad values are BAD_REQUEST `node-key`
 * with a fix; without the variable the key is generated once into KV and
 * read back on the next start. Also the env config's refusals.
 *
 * @module
 */

import { assert, assertEquals, assertThrows } from "../_assert.ts";
import { nodeBackend as be } from "../../../core/crypto/node.ts";
import { MyClerkError } from "../../../core/errors.ts";
import { toHex } from "../../../federation/bytes.ts";
import { edgeIdentity, parseNodeKey } from "../../../federation/edge/identity.ts";
import { edgeSettings } from "../../../federation/edge/config.ts";

const priv = new Uint8Array(32).map((_, i) => i * 7 + 1);
const b64 = btoa(String.fromCharCode(...priv));

Deno.test("edge node key: every accepted form gives one identity; bad ones are refused", () => {
  const want = parseNodeKey(be, toHex(priv));
  assertEquals(want.privateKey, priv);
  const json = JSON.stringify({
    type: "myclerk-x25519",
    version: 1,
    keyId: "x",
    public: "",
    private: b64,
  });
  for (
    const form of [
      json,
      b64,
      b64.replace(/=$/, ""),
      b64.replace(/\+/g, "-").replace(/\//g, "_"),
      ` ${toHex(priv).toUpperCase()}\n`,
    ]
  ) {
    assertEquals(parseNodeKey(be, form).keyId, want.keyId, form);
  }
  for (
    const bad of [
      "",
      "abc",
      toHex(priv).slice(2),
      '{"type":"other","private":"AA"}',
      "{not json",
      btoa("short"),
    ]
  ) {
    const e = assertThrows(() => parseNodeKey(be, bad), MyClerkError);
    assertEquals(e.detail, "node-key");
    assert(String(e.extra.fix).includes("MYCLERK_NODE_KEY"));
  }
});

Deno.test("edge node key: generated once into KV, then read back; env wins", async () => {
  const dir = await Deno.makeTempDir({ prefix: "edge-id-" });
  try {
    const kv = await Deno.openKv(`${dir}/kv`);
    try {
      const a = await edgeIdentity(be, kv, ["p"], undefined);
      const b = await edgeIdentity(be, kv, ["p"], "");
      const other = await edgeIdentity(be, kv, ["q"], undefined);
      const env = await edgeIdentity(be, kv, ["p"], toHex(priv));
      assertEquals([a.source, b.source, other.source, env.source], [
        "generated",
        "kv",
        "generated",
        "env",
      ]);
      assertEquals(b.identity.keyId, a.identity.keyId);
      assert(other.identity.keyId !== a.identity.keyId);
      assertEquals(env.identity.privateKey, priv);
    } finally {
      kv.close();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("edge settings: listen, PORT, prefix, config JSON and its refusals", () => {
  const env = (m: Record<string, string | undefined>) => (k: string) => m[k];
  const d = edgeSettings(env({}));
  assertEquals([d.hostname, d.port, d.prefix, d.config.role], ["0.0.0.0", 8000, [], "relay"]);
  const p = edgeSettings(env({ PORT: "9001", MYCLERK_EDGE_PREFIX: "x" }));
  assertEquals([p.port, p.prefix], [9001, ["myclerk", "x"]]);
  const g = edgeSettings(env({
    MYCLERK_EDGE_ACL:
      '{"version":1,"grants":[{"subject":"0a0b0c0d","first":"0xf100","last":"0xf10f"}]}',
  }));
  assertEquals(g.acl.grants.length, 1);
  assertEquals(d.acl.grants, []);
  for (const bad of ['{"version":2,"grants":[]}', "{x"]) {
    assertThrows(() => edgeSettings(env({ MYCLERK_EDGE_ACL: bad })), MyClerkError);
  }
  const c = edgeSettings(env({
    MYCLERK_EDGE_LISTEN: "[::1]:0",
    MYCLERK_EDGE_CONFIG: '{"role":"hub","federation":{"quotaMessages":7}}',
  }));
  assertEquals([c.hostname, c.port, c.config.role, c.config.federation.quotaMessages], [
    "::1",
    0,
    "relay",
    7,
  ]);
  for (
    const bad of [
      { MYCLERK_EDGE_LISTEN: "nohost" },
      { MYCLERK_EDGE_LISTEN: "h:70000" },
      { MYCLERK_EDGE_CONFIG: "[1]" },
      { MYCLERK_EDGE_CONFIG: "{nope" },
      { MYCLERK_EDGE_CONFIG: '{"federation":{"quotaMessages":-1}}' },
      { MYCLERK_EDGE_CONFIG: '{"unknownKey":1}' },
    ]
  ) {
    const e = assertThrows(() => edgeSettings(env(bad)), MyClerkError);
    assertEquals(e.detail, "config", JSON.stringify(bad));
  }
});
