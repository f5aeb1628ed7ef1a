import { assert, assertEquals, assertThrows } from "./_assert.ts";
import { backends } from "./_backends.ts";
import {
  admissionProof,
  checkAdmission,
  createInvite,
  verifyInvite,
} from "../../federation/invite.ts";
import { createFamilyRecord, familyKeyId } from "../../federation/family.ts";
import { ErrorCode, MyClerkError } from "../../core/errors.ts";
import { fromBase64Url, toBase64Url } from "../../federation/bytes.ts";

for (const be of backends) {
  const relay = be.x25519Generate();
  const relayKeyId = familyKeyId(be, relay.publicKey);
  const tokenKey = be.randomBytes(32);
  const now = 1_700_000_000;
  const fam = be.x25519Generate();
  const record = createFamilyRecord(be, {
    name: "Okafor",
    key: fam.publicKey,
    home: relayKeyId,
    created: now,
  });
  const h = be.sha256(new TextEncoder().encode("session transcript"));

  const denied = (f: () => unknown, detail: string) => {
    const e = assertThrows(f, MyClerkError);
    assertEquals([e.code, e.detail], [ErrorCode.FED_ADMISSION_DENIED, detail]);
  };

  Deno.test(`invite[${be.name}]: a valid token with a valid proof is admitted`, () => {
    const { token, invite } = createInvite(be, tokenKey, { relayKeyId, expires: now + 3600 });
    assert(/^[A-Za-z0-9_-]+$/.test(token));
    const proof = admissionProof(be, fam.privateKey, relay.publicKey, invite.tokenId, h);
    const got = checkAdmission(be, {
      tokenKey,
      relayStaticSecret: relay.privateKey,
      relayKeyId,
      now,
      token,
      family: record,
      proof,
      h,
    });
    assertEquals(got, invite);
  });

  Deno.test(`invite[${be.name}]: forged, expired, other relay, other family, bad proof, replay on another session`, () => {
    const { token, invite } = createInvite(be, tokenKey, {
      relayKeyId,
      expires: now + 60,
      family: record.id,
    });
    // Forge: flip the expiry inside the token, or sign with another key.
    const raw = fromBase64Url(token);
    raw[24] ^= 0xff;
    denied(() => verifyInvite(be, tokenKey, toBase64Url(raw), relayKeyId, now), "token-forged");
    const other = createInvite(be, be.randomBytes(32), { relayKeyId, expires: now + 60 }).token;
    denied(() => verifyInvite(be, tokenKey, other, relayKeyId, now), "token-forged");
    denied(() => verifyInvite(be, tokenKey, "!!", relayKeyId, now), "token-malformed");
    denied(
      () => verifyInvite(be, tokenKey, token.slice(0, 20), relayKeyId, now),
      "token-malformed",
    );
    denied(() => verifyInvite(be, tokenKey, token, relayKeyId, now + 60), "token-expired");
    denied(() => verifyInvite(be, tokenKey, token, relayKeyId ^ 1, now), "token-other-relay");
    const proof = admissionProof(be, fam.privateKey, relay.publicKey, invite.tokenId, h);
    const base = {
      tokenKey,
      relayStaticSecret: relay.privateKey,
      relayKeyId,
      now,
      token,
      family: record,
      proof,
      h,
    };
    assertEquals(checkAdmission(be, base).tokenId, invite.tokenId);
    // Token restricted to another family.
    const mallory = be.x25519Generate();
    const mrec = createFamilyRecord(be, {
      name: "M",
      key: mallory.publicKey,
      home: relayKeyId,
      created: now,
    });
    const mproof = admissionProof(be, mallory.privateKey, relay.publicKey, invite.tokenId, h);
    denied(
      () => checkAdmission(be, { ...base, family: mrec, proof: mproof }),
      "token-other-family",
    );
    // Mallory claims Okafor's record without its private key.
    const open = createInvite(be, tokenKey, { relayKeyId, expires: now + 60 });
    const fake = admissionProof(be, mallory.privateKey, relay.publicKey, open.invite.tokenId, h);
    denied(() => checkAdmission(be, { ...base, token: open.token, proof: fake }), "proof");
    // Replay of a recorded admission on another session (different h).
    const h2 = be.sha256(new TextEncoder().encode("another session"));
    denied(() => checkAdmission(be, { ...base, h: h2 }), "proof");
    // Proof for another token id.
    const p2 = admissionProof(be, fam.privateKey, relay.publicKey, open.invite.tokenId, h);
    denied(() => checkAdmission(be, { ...base, proof: p2 }), "proof");
    // Family homed at another relay.
    const away = createFamilyRecord(be, {
      name: "O",
      key: fam.publicKey,
      home: (relayKeyId ^ 7) >>> 0,
      created: now,
    });
    denied(() => checkAdmission(be, { ...base, family: away }), "family-other-home");
  });
}
