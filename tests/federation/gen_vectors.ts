/**
 * Generates docs/vectors/federation_*.json once (deterministic: fixed keys,
 * fixed ephemeral, fixed ids). Tests only read them; they never regenerate.
 * Run: `deno run --allow-all tests/federation/gen_vectors.ts`.
 *
 * @module
 */

import { backend } from "../../core/crypto/mod.ts";
import { deriveKeyPair } from "../../federation/hpke.ts";
import { createFamilyRecord, encodeFamily, familyKeyId } from "../../federation/family.ts";
import { envelopeAad, sealEnvelope } from "../../federation/envelope.ts";
import { admissionProof, createInvite } from "../../federation/invite.ts";
import { encodeFed, type FedMessage, FedOp } from "../../federation/messages.ts";
import { toHex, utf8 } from "../../federation/bytes.ts";
import { DirOp, encodeLookup, encodeRecords } from "../../federation/directory.ts";
import { toJsonValue } from "./_vec.ts";

const be = backend("noble");
const kp = (label: string) => deriveKeyPair(be, utf8(`myclerk federation vector ${label} key`));
const alice = kp("alice");
const bob = kp("bob");
const relay = kp("relay");
const eph = kp("ephemeral");
const relayKeyId = familyKeyId(be, relay.publicKey);
const created = 1_760_000_000;

const aliceRec = createFamilyRecord(be, {
  name: "Alice family",
  key: alice.publicKey,
  home: relayKeyId,
  homeAddr: "relay.example.net:5657",
  created,
});
const bobRec = createFamilyRecord(be, {
  name: "Bob family",
  key: bob.publicKey,
  home: relayKeyId,
  created,
});

async function write(name: string, v: unknown): Promise<void> {
  const path = new URL(`../../docs/vectors/${name}`, import.meta.url);
  await Deno.writeTextFile(path, JSON.stringify(toJsonValue(v), null, 2) + "\n");
  console.log(`wrote docs/vectors/${name}`);
}

await write("federation_family.json", {
  description: "Family id = hex(SHA-256(key)[0..16]); key-id = u32be(SHA-256(key)[0..4]); " +
    "keys are RFC 9180 DeriveKeyPair(ikm) of DHKEM(X25519) with the ikm given",
  families: [["alice", alice, aliceRec], ["bob", bob, bobRec]].map(([n, k, r]) => ({
    ikm: `myclerk federation vector ${n} key`,
    secret: (k as typeof alice).privateKey,
    key: (k as typeof alice).publicKey,
    sha256: be.sha256((k as typeof alice).publicKey),
    id: (r as typeof aliceRec).id,
    keyId: (r as typeof aliceRec).keyId,
    record: r,
    encoded: encodeFamily(r as typeof aliceRec),
  })),
});

const tokenKey = be.sha256(utf8("myclerk federation vector token key"));
const tokenId = be.sha256(utf8("token id")).subarray(0, 16);
const open = createInvite(be, tokenKey, { relayKeyId, expires: created + 86400, tokenId });
const restricted = createInvite(be, tokenKey, {
  relayKeyId,
  expires: created + 86400,
  tokenId,
  family: bobRec.id,
});
const h = be.sha256(utf8("hop session transcript h3"));
await write("federation_invite.json", {
  description:
    "Invite tokens (FEDERATION.md §3) and the proof of possession bound to transcript hash h",
  tokenKey,
  relaySecret: relay.privateKey,
  relayKey: relay.publicKey,
  relayKeyId,
  tokens: [
    { tokenId, expires: created + 86400, token: open.token },
    { tokenId, expires: created + 86400, family: bobRec.id, token: restricted.token },
  ],
  proof: {
    familySecret: bob.privateKey,
    familyKey: bob.publicKey,
    familyId: bobRec.id,
    tokenId,
    h,
    shared: be.x25519(bob.privateKey, relay.publicKey),
    proof: admissionProof(be, bob.privateKey, relay.publicKey, tokenId, h),
  },
});

const mid = be.sha256(utf8("message id")).subarray(0, 16);
const body = utf8("Dinner on Sunday at 7? -- A.");
const env = sealEnvelope(be, {
  senderSecret: alice.privateKey,
  recipientKey: bob.publicKey,
  body,
  ttl: 86400,
  ts: created + 60,
  mid,
  ephemeral: eph,
});
await write("federation_envelope.json", {
  description:
    "Alice -> Bob sealed envelope (FEDERATION.md §4), HPKE mode_auth with a fixed ephemeral",
  senderSecret: alice.privateKey,
  recipientSecret: bob.privateKey,
  ephemeralSecret: eph.privateKey,
  info: "myclerk-e2e-v0",
  routing: env.routing,
  ts: created + 60,
  body,
  aad: envelopeAad(env.sealed.subarray(0, 48), env.routing),
  sealed: env.sealed,
});

const mids = [mid, be.sha256(utf8("second message id")).subarray(0, 16)];
const messages: FedMessage[] = [
  {
    op: FedOp.FED_HELLO,
    role: "relay",
    keyId: relayKeyId,
    families: [aliceRec.id, bobRec.id],
    version: 0,
    maxMessage: 1_048_576,
  },
  { op: FedOp.FED_HELLO, role: "hub", keyId: bobRec.keyId, families: [bobRec.id], version: 0 },
  {
    op: FedOp.FED_ADMIT,
    token: restricted.token,
    family: bobRec,
    proof: admissionProof(be, bob.privateKey, relay.publicKey, tokenId, h),
  },
  {
    op: FedOp.FED_ADMITTED,
    family: bobRec.id,
    relay: relayKeyId,
    quotaMessages: 100_000,
    quotaBytes: 1 << 30,
    maxMessage: 1_048_576,
    maxTtl: 2_592_000,
  },
  { op: FedOp.FED_ROUTE, seq: 7, families: [aliceRec.id, bobRec.id] },
  { op: FedOp.FED_DELIVER, ...env.routing, hops: 0, sealed: env.sealed },
  { op: FedOp.FED_ACK, kind: "stored", relay: relayKeyId, mids },
  { op: FedOp.FED_ACK, kind: "delivered", family: bobRec.id, mids: [mid] },
  { op: FedOp.FED_QUEUE_STATUS, family: bobRec.id, depth: 2, bytes: 612, oldest: created + 61 },
  { op: FedOp.FED_FETCH, family: bobRec.id, credit: 64, maxBytes: 4_194_304 },
  { op: FedOp.FED_EXPIRED, family: aliceRec.id, to: bobRec.id, mids: [mid] },
  { op: FedOp.FED_RESTART, after: 2000, reason: "upgrade" },
];
await write("federation_messages.json", {
  description:
    "Payload bytes of each federation message (FEDERATION.md §5); opcode travels in the header",
  messages: messages.map((m) => ({
    opcode: `0x${m.op.toString(16).padStart(4, "0")}`,
    message: m,
    payload: encodeFed(m),
  })),
  // The directory messages (directory.ts): FED_LOOKUP asks for one family's
  // record, FED_RECORDS answers with records (id and key id verified against the key on decode).
  directory: [
    {
      opcode: `0x${DirOp.FED_LOOKUP.toString(16).padStart(4, "0")}`,
      family: bobRec.id,
      payload: encodeLookup(bobRec.id),
    },
    {
      opcode: `0x${DirOp.FED_RECORDS.toString(16).padStart(4, "0")}`,
      records: [aliceRec, bobRec],
      payload: encodeRecords([aliceRec, bobRec]),
    },
  ],
});
console.log("envelope", toHex(env.sealed).slice(0, 32), env.sealed.length);
