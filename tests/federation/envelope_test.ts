import { assert, assertEquals, assertThrows } from "./_assert.ts";
import { backends } from "./_backends.ts";
import {
  checkRouting,
  type EnvelopeRouting,
  openEnvelope,
  readEnvelopeHeader,
  sealEnvelope,
} from "../../federation/envelope.ts";
import { familyId, familyKeyId } from "../../federation/family.ts";
import { FedOp } from "../../federation/ops.ts";
import { decodeMessage } from "../../core/wire/message.ts";
import { MyClerkError } from "../../core/errors.ts";

function contains(hay: Uint8Array, needle: Uint8Array): boolean {
  outer: for (let i = 0; i + needle.length <= hay.length; i++) {
    for (let j = 0; j < needle.length; j++) if (hay[i + j] !== needle[j]) continue outer;
    return true;
  }
  return false;
}

for (const be of backends) {
  const alice = be.x25519Generate();
  const bob = be.x25519Generate();
  const eve = be.x25519Generate();
  const body = new TextEncoder().encode("the secret family recipe: 3 eggs, no sugar ".repeat(4));

  Deno.test(`envelope[${be.name}]: round trip; Tier 5 form with Bob's key id and enc in the header`, () => {
    const s = sealEnvelope(be, {
      senderSecret: alice.privateKey,
      recipientKey: bob.publicKey,
      body,
      ttl: 3600,
      ts: 1_700_000_000,
    });
    assertEquals(s.routing.to, familyId(be, bob.publicKey));
    assertEquals(s.routing.from, familyId(be, alice.publicKey));
    const m = decodeMessage(s.sealed);
    assertEquals(m.tier, 5);
    if (m.tier !== 5) throw new Error("tier");
    assertEquals(m.opcode, FedOp.FED_SEALED);
    assertEquals(m.keyId, familyKeyId(be, bob.publicKey));
    assertEquals(m.timestamp, 1_700_000_000);
    assert(m.encrypted);
    const h = checkRouting(be, s.routing, s.sealed, bob.publicKey);
    assertEquals(h.enc, m.ecdh);
    const o = openEnvelope(be, s.routing, s.sealed, bob.privateKey);
    assertEquals(o.body, body);
    assertEquals(o.mid, s.routing.mid);
    assertEquals(o.from, s.routing.from);
    assertEquals(o.ttl, 3600);
    assertEquals(o.ts, 1_700_000_000);
  });

  Deno.test(`envelope[${be.name}]: relay-visible part and sealed bytes hold no plaintext`, () => {
    const s = sealEnvelope(be, {
      senderSecret: alice.privateKey,
      recipientKey: bob.publicKey,
      body,
      ttl: 60,
    });
    const visible = new TextEncoder().encode(JSON.stringify({ ...s.routing }));
    for (const probe of [body.subarray(0, 12), body.subarray(20, 32)]) {
      assert(!contains(s.sealed, probe), "plaintext in sealed bytes");
      assert(!contains(visible, probe), "plaintext in routing");
    }
    assertEquals(Object.keys(s.routing).sort(), ["from", "fromKey", "mid", "to", "ttl"]);
  });

  Deno.test(`envelope[${be.name}]: tampering with any field or byte fails to open`, () => {
    const s = sealEnvelope(be, {
      senderSecret: alice.privateKey,
      recipientKey: bob.publicKey,
      body,
      ttl: 60,
    });
    const fails = (r: EnvelopeRouting, sealed: Uint8Array, sk = bob.privateKey) => {
      assertThrows(() => openEnvelope(be, r, sealed, sk), MyClerkError);
    };
    const r = s.routing;
    const eveId = familyId(be, eve.publicKey);
    fails({ ...r, to: eveId }, s.sealed);
    fails({ ...r, from: eveId }, s.sealed);
    fails({ ...r, from: eveId, fromKey: eve.publicKey }, s.sealed); // Eve claims authorship
    const mid = r.mid.slice();
    mid[3] ^= 0x80;
    fails({ ...r, mid }, s.sealed);
    fails({ ...r, ttl: r.ttl + 1 }, s.sealed);
    fails(r, s.sealed, eve.privateKey); // wrong recipient
    // Every byte position class: flags, opcode, ts, key id, enc, tag, ciphertext, trailer.
    for (const at of [0, 2, 7, 13, 20, 50, 70, s.sealed.length - 40, s.sealed.length - 1]) {
      const t = s.sealed.slice();
      t[at] ^= 0x01;
      fails(r, t);
    }
    fails(r, s.sealed.subarray(0, s.sealed.length - 1));
    // A forged envelope from Eve, sealed with her key but claiming Alice: fails.
    const forged = sealEnvelope(be, {
      senderSecret: eve.privateKey,
      recipientKey: bob.publicKey,
      body,
      ttl: 60,
    });
    fails({ ...forged.routing, from: r.from, fromKey: r.fromKey }, forged.sealed);
    // Still fine untampered.
    assertEquals(openEnvelope(be, r, s.sealed, bob.privateKey).body, body);
  });

  Deno.test(`envelope[${be.name}]: header reader rejects non-envelopes`, () => {
    assertThrows(() => readEnvelopeHeader(new Uint8Array(50)), MyClerkError);
    const s = sealEnvelope(be, {
      senderSecret: alice.privateKey,
      recipientKey: bob.publicKey,
      body: new Uint8Array(0),
      ttl: 60,
    });
    assertEquals(readEnvelopeHeader(s.sealed).size, s.sealed.length);
    const t = s.sealed.slice();
    t[0] = 0x21;
    assertThrows(() => readEnvelopeHeader(t), MyClerkError);
  });
}
