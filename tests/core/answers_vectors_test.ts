/**
 * docs/vectors/core_answers.json against a real node: each session-less
 * request, sent over a real socket to a node with the case's config, gets
 * exactly the answer bytes the file holds (or nothing, for a drop).
 */
import { assert, assertEquals } from "./_assert.ts";
import { RawTcp, startNode } from "./node/_node.ts";
import { encodeFrame } from "../../core/wire/frame.ts";
import { decodeMessage, encodePlain } from "../../core/wire/message.ts";
import { encodeKeepalive } from "../../core/session/payloads.ts";
import { fromHex, toHex } from "../../core/bytes.ts";
import { Op } from "../../core/opcodes.ts";

interface Case {
  readonly name: string;
  readonly config: Record<string, unknown>;
  readonly request: string;
  readonly answer: string | null;
}

const file = JSON.parse(
  await Deno.readTextFile(new URL("../../docs/vectors/core_answers.json", import.meta.url)),
) as { cases: Case[] };
const opts = { sanitizeOps: false, sanitizeResources: false }; // nodes are closed in finally

Deno.test({
  name: "vectors/core_answers.json: a live node answers every session-less case byte for byte",
  ...opts,
  fn: async (t) => {
    assert(file.cases.length >= 10, "all cases present");
    for (const c of file.cases) {
      await t.step(c.name, async () => {
        const { node, stop } = await startNode(c.config);
        try {
          const r = await RawTcp.dial(node.addresses.tcp.port);
          r.conn.write(encodeFrame(fromHex(c.request)));
          // A KEEPALIVE with a marker id after it: its ACK proves a dropped request got nothing.
          const marker = encodePlain(
            { tier: 1, opcode: Op.KEEPALIVE },
            encodeKeepalive({ id: 424242 }),
          );
          r.conn.write(encodeFrame(marker));
          const first = await r.waitFor(1);
          assert(first, "some answer");
          if (c.answer === null) {
            const d = decodeMessage(first);
            assert(
              d.tier === 1 && d.opcode === Op.KEEPALIVE_ACK,
              "the dropped request got no answer",
            );
          } else {
            assertEquals(toHex(first), c.answer);
          }
          r.conn.close("test");
        } finally {
          await stop();
        }
      });
    }
  },
});

Deno.test("vectors/node_key.json: the key file reader derives the public key and key id", async () => {
  const { readKeyFile, keyIdHex } = await import("../../core/node/keys.ts");
  const { backend } = await import("../../core/crypto/mod.ts");
  const v = JSON.parse(
    await Deno.readTextFile(new URL("../../docs/vectors/node_key.json", import.meta.url)),
  ) as { file: string; private: string; public: string; keyId: string };
  const dir = await Deno.makeTempDir({ prefix: "myclerk-keyvec-" });
  try {
    // The stored public/keyId are informative: a reader derives both from the private key.
    const lying = JSON.parse(v.file);
    lying.public = "AAAA";
    lying.keyId = "00000000";
    for (const text of [v.file, JSON.stringify(lying)]) {
      await Deno.writeTextFile(`${dir}/node.key`, text, { mode: 0o600 });
      const id = await readKeyFile(backend(), `${dir}/node.key`);
      assertEquals(toHex(id.publicKey), v.public);
      assertEquals(keyIdHex(id.keyId), v.keyId);
      assertEquals(toHex(id.privateKey), v.private);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
