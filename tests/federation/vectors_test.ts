import { assertEquals } from "./_assert.ts";
import { backends } from "./_backends.ts";
import { readVectors } from "./_vec.ts";
import { deriveKeyPair } from "../../federation/hpke.ts";
import {
  decodeFamily,
  encodeFamily,
  familyId,
  familyKeyId,
  type FamilyRecord,
} from "../../federation/family.ts";
import {
  envelopeAad,
  type EnvelopeRouting,
  openEnvelope,
  sealEnvelope,
} from "../../federation/envelope.ts";
import {
  admissionProof,
  createInvite,
  verifyAdmissionProof,
  verifyInvite,
} from "../../federation/invite.ts";
import { decodeFed, encodeFed, type FedMessage } from "../../federation/messages.ts";
import { utf8 } from "../../federation/bytes.ts";
import {
  decodeLookup,
  decodeRecords,
  DirOp,
  encodeLookup,
  encodeRecords,
} from "../../federation/directory.ts";

type B = Uint8Array;
const fam = await readVectors("federation_family.json") as {
  families: {
    ikm: string;
    secret: B;
    key: B;
    id: string;
    keyId: number;
    record: FamilyRecord;
    encoded: B;
  }[];
};
const inv = await readVectors("federation_invite.json") as {
  tokenKey: B;
  relaySecret: B;
  relayKey: B;
  relayKeyId: number;
  tokens: { tokenId: B; expires: number; family?: string; token: string }[];
  proof: { familySecret: B; familyKey: B; tokenId: B; h: B; proof: B };
};
const env = await readVectors("federation_envelope.json") as {
  senderSecret: B;
  recipientSecret: B;
  ephemeralSecret: B;
  routing: EnvelopeRouting;
  ts: number;
  body: B;
  aad: B;
  sealed: B;
};
const msgs = await readVectors("federation_messages.json") as {
  messages: { opcode: string; message: FedMessage; payload: B }[];
  directory: [
    { opcode: string; family: string; payload: B },
    { opcode: string; records: FamilyRecord[]; payload: B },
  ];
};

for (const be of backends) {
  Deno.test(`vectors[${be.name}]: family ids, key ids, records`, () => {
    for (const f of fam.families) {
      const k = deriveKeyPair(be, utf8(f.ikm));
      assertEquals([k.privateKey, k.publicKey], [f.secret, f.key]);
      assertEquals(familyId(be, f.key), f.id);
      assertEquals(familyKeyId(be, f.key), f.keyId);
      assertEquals(encodeFamily(f.record), f.encoded);
      assertEquals(decodeFamily(be, f.encoded), f.record);
    }
  });

  Deno.test(`vectors[${be.name}]: invite tokens and proof of possession`, () => {
    for (const t of inv.tokens) {
      const made = createInvite(be, inv.tokenKey, {
        relayKeyId: inv.relayKeyId,
        expires: t.expires,
        tokenId: t.tokenId,
        ...(t.family === undefined ? {} : { family: t.family }),
      });
      assertEquals(made.token, t.token);
      assertEquals(
        verifyInvite(be, inv.tokenKey, t.token, inv.relayKeyId, t.expires - 1),
        made.invite,
      );
    }
    const p = inv.proof;
    assertEquals(admissionProof(be, p.familySecret, inv.relayKey, p.tokenId, p.h), p.proof);
    verifyAdmissionProof(be, inv.relaySecret, p.familyKey, p.tokenId, p.h, p.proof);
  });

  Deno.test(`vectors[${be.name}]: sealed envelope bytes and opening`, () => {
    const eph = be.x25519Public(env.ephemeralSecret);
    const s = sealEnvelope(be, {
      senderSecret: env.senderSecret,
      recipientKey: be.x25519Public(env.recipientSecret),
      body: env.body,
      ttl: env.routing.ttl,
      ts: env.ts,
      mid: env.routing.mid,
      ephemeral: { privateKey: env.ephemeralSecret, publicKey: eph },
    });
    assertEquals(s.routing, env.routing);
    assertEquals(envelopeAad(s.sealed.subarray(0, 48), s.routing), env.aad);
    assertEquals(s.sealed, env.sealed);
    assertEquals(openEnvelope(be, env.routing, env.sealed, env.recipientSecret).body, env.body);
  });

  Deno.test(`vectors[${be.name}]: every federation message's payload bytes`, () => {
    for (const m of msgs.messages) {
      assertEquals(Number(m.opcode), m.message.op);
      assertEquals(encodeFed(m.message), m.payload, m.opcode);
      assertEquals(decodeFed(be, m.message.op, m.payload), m.message, m.opcode);
    }
  });

  Deno.test(`vectors[${be.name}]: FED_LOOKUP and FED_RECORDS payload bytes`, () => {
    const [lookup, records] = msgs.directory;
    assertEquals(Number(lookup.opcode), DirOp.FED_LOOKUP);
    assertEquals(encodeLookup(lookup.family), lookup.payload);
    assertEquals(decodeLookup(lookup.payload), lookup.family);
    assertEquals(Number(records.opcode), DirOp.FED_RECORDS);
    assertEquals(encodeRecords(records.records), records.payload);
    assertEquals(decodeRecords(be, records.payload), records.records);
  });
}
