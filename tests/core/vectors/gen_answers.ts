/**
 * Regenerates docs/vectors/core_answers.json (profile §10, §10.1, §10.2):
 * session-less Tier 1 requests and the exact bytes a node answers. Run only
 * when the profile changes on purpose: `deno run -A tests/core/vectors/gen_answers.ts`.
 *
 * @module
 */
import { encodePlain } from "../../../core/wire/message.ts";
import { encodePayload } from "../../../core/wire/payload.ts";
import { encodeError, encodeKeepalive } from "../../../core/session/payloads.ts";
import { Op } from "../../../core/opcodes.ts";
import { toHex } from "../../../core/bytes.ts";

const t1 = (opcode: number, payload: Uint8Array) =>
  toHex(encodePlain({ tier: 1, opcode }, payload));
const err = (
  opcode: number,
  code: number,
  detail: string,
  extra: { re?: number; requiredTier?: number } = {},
) => t1(Op.ERROR, encodeError({ code, opcode, detail, ...extra }));

const cases = [
  {
    name: "keepalive",
    config: {},
    request: t1(Op.KEEPALIVE, encodeKeepalive({ id: 5 })),
    answer: t1(Op.KEEPALIVE_ACK, encodeKeepalive({ re: 5 })),
  },
  {
    name: "keepalive-not-msgpack",
    config: {},
    request: t1(Op.KEEPALIVE, Uint8Array.of(0xc1)),
    answer: err(Op.KEEPALIVE, 0x10, "msgpack"),
  },
  {
    name: "keepalive-not-a-map",
    config: {},
    request: t1(Op.KEEPALIVE, encodePayload([1, 2])),
    answer: err(Op.KEEPALIVE, 0x10, "payload-not-map"),
  },
  {
    name: "keepalive-id-not-uint",
    config: {},
    request: t1(Op.KEEPALIVE, encodePayload({ id: "seven" })),
    answer: err(Op.KEEPALIVE, 0x10, "field:id"),
  },
  {
    name: "sessionless-core-opcode",
    config: {},
    request: t1(Op.NOP, new Uint8Array()),
    answer: err(Op.NOP, 0x17, "no-session"),
  },
  {
    name: "sessionless-error-dropped",
    config: {},
    request: t1(Op.ERROR, encodeError({ code: 0x10, opcode: 1 })),
    answer: null,
  },
  {
    name: "sessionless-plugin-opcode",
    config: {},
    request: t1(0xf100, encodePayload({ id: 9 })),
    answer: err(0xf100, 0x11, "session-required", { re: 9 }),
  },
  {
    name: "sessionless-plugin-opcode-tiers-min-4",
    config: { tiers: { min: 4 } },
    request: t1(0xf100, encodePayload({ id: 9 })),
    answer: err(0xf100, 0x12, "tier", { re: 9, requiredTier: 4 }),
  },
  {
    name: "sessionless-public-opcode-with-admit",
    config: { gate: { public: ["0xF100"] }, admit: ["0a0b0c0d"] },
    request: t1(0xf100, encodePayload({ id: 9 })),
    answer: err(0xf100, 0x11, "not-admitted", { re: 9 }),
  },
  {
    name: "sessionless-unassigned-range",
    config: {},
    request: t1(0x0700, encodePayload({ id: 3 })),
    answer: err(0x0700, 0x14, "range-unassigned", { re: 3 }),
  },
];

const file = {
  profile: "mcp0",
  description:
    "Session-less Tier 1 requests and the exact answer a node sends (profile §10, §10.1, §10.2); answer null = dropped silently. `config` = the node's config keys that matter.",
  cases,
};
const out = new URL("../../../docs/vectors/core_answers.json", import.meta.url);
await Deno.writeTextFile(out, JSON.stringify(file, null, 2) + "\n");
console.log(`wrote ${out.pathname} (${cases.length} cases)`);

// docs/vectors/node_key.json (profile §5.5): one key file and what a reader derives from it.
{
  const { backend } = await import("../../../core/crypto/mod.ts");
  const { identityFrom } = await import("../../../core/session/handshake.ts");
  const { keyIdHex } = await import("../../../core/node/keys.ts");
  const be = backend();
  const priv = Uint8Array.from({ length: 32 }, (_, i) => (0x40 + 7 * i) & 0xff);
  const id = identityFrom(be, priv);
  const b64 = (b: Uint8Array) => btoa(String.fromCharCode(...b));
  const fileText = JSON.stringify(
    {
      type: "myclerk-x25519",
      version: 1,
      keyId: keyIdHex(id.keyId),
      public: b64(id.publicKey),
      private: b64(priv),
    },
    null,
    2,
  ) + "\n";
  const vec = {
    profile: "mcp0",
    description:
      "A node.key file (profile §5.5) and what a reader derives from its private key: the public key and key id u32(SHA-256(public)[0..4])",
    file: fileText,
    private: toHex(priv),
    public: toHex(id.publicKey),
    keyId: keyIdHex(id.keyId),
  };
  const out2 = new URL("../../../docs/vectors/node_key.json", import.meta.url);
  await Deno.writeTextFile(out2, JSON.stringify(vec, null, 2) + "\n");
  console.log(`wrote ${out2.pathname}`);
}
