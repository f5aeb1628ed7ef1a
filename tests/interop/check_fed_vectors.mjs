// Usage: node tests/interop/check_fed_vectors.mjs [VECTOR_DIR]
// Checks docs/vectors/hpke_auth.json and every federation_*.json with the independent
// implementation in fed.mjs: rebuilds every output from the inputs and compares bytes, opens the
// envelope, verifies proofs and tokens. Prints "MISMATCH <file>.<field>" on stderr and exits 1 on
// any difference; "all N checks passed" and exit 0 otherwise.

import * as fs from "node:fs";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { hex, mpDecode, toHex, x25519Public } from "./mcp0.mjs";
import {
  admissionProof,
  checkRecord,
  createToken,
  decap,
  decodeFed,
  deriveKeyPair,
  encodeFed,
  encodeRecord,
  familyId,
  familyKid,
  FedError,
  keySchedule,
  makeRecordFromJs,
  openEnvelope,
  parseToken,
  sealEnvelope,
  setupR,
  setupS,
  tokenMacValid,
  verifyProof,
} from "./fed.mjs";

const dir = process.argv[2] ??
  path.join(path.dirname(fileURLToPath(import.meta.url)), "../../docs/vectors");
let checks = 0, failures = 0;

/** "$bin" -> Buffer, recursively; other values unchanged. */
function revive(v) {
  if (Array.isArray(v)) return v.map(revive);
  if (v && typeof v === "object") {
    if (typeof v.$bin === "string" && Object.keys(v).length === 1) return hex(v.$bin);
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, revive(x)]));
  }
  return v;
}
const load = (f) => revive(JSON.parse(fs.readFileSync(path.join(dir, f), "utf8")));

function fail(name, got, want) {
  failures++;
  console.error(`MISMATCH ${name}: got ${got} want ${want}`);
}
function eqBytes(name, got, want) {
  checks++;
  if (!Buffer.isBuffer(want)) return fail(name, toHex(got), `(not bytes: ${JSON.stringify(want)})`);
  if (!Buffer.from(got).equals(want)) fail(name, toHex(got), toHex(want));
}
function eq(name, got, want) {
  checks++;
  if (got !== want) fail(name, JSON.stringify(got), JSON.stringify(want));
}
function ok(name, cond, why = "false") {
  checks++;
  if (!cond) fail(name, why, "true");
}
function throwsFed(name, fn, detail) {
  checks++;
  try {
    fn();
    fail(name, "no error", detail);
  } catch (e) {
    if (!(e instanceof FedError) || e.detail !== detail) fail(name, e.message, detail);
  }
}
function guard(name, fn) {
  try {
    fn();
  } catch (e) {
    checks++;
    fail(name, `threw ${e.message}`, "no exception");
  }
}

// ---------------------------------------------------------------------------
// hpke_auth.json
{
  const f = JSON.parse(fs.readFileSync(path.join(dir, "hpke_auth.json"), "utf8"));
  for (const v of f.vectors) {
    const p = `hpke_auth.mode${v.mode}`;
    guard(p, () => {
      eq(`${p}.suite`, `${v.kem_id}/${v.kdf_id}/${v.aead_id}`, "32/1/3");
      const e = deriveKeyPair(hex(v.ikmE)), r = deriveKeyPair(hex(v.ikmR));
      eqBytes(`${p}.skEm`, e.sk, hex(v.skEm));
      eqBytes(`${p}.pkEm`, e.pk, hex(v.pkEm));
      eqBytes(`${p}.skRm`, r.sk, hex(v.skRm));
      eqBytes(`${p}.pkRm`, r.pk, hex(v.pkRm));
      let s;
      if (v.mode === 2) {
        s = deriveKeyPair(hex(v.ikmS));
        eqBytes(`${p}.skSm`, s.sk, hex(v.skSm));
        eqBytes(`${p}.pkSm`, s.pk, hex(v.pkSm));
      }
      const info = hex(v.info);
      const { enc, ctx } = setupS(hex(v.pkRm), info, hex(v.skEm), s ? hex(v.skSm) : undefined);
      eqBytes(`${p}.enc`, enc, hex(v.enc));
      eqBytes(`${p}.shared_secret`, ctx.sharedSecret, hex(v.shared_secret));
      eqBytes(`${p}.key_schedule_context`, ctx.keyScheduleContext, hex(v.key_schedule_context));
      eqBytes(`${p}.secret`, ctx.secret, hex(v.secret));
      eqBytes(`${p}.key`, ctx.key, hex(v.key));
      eqBytes(`${p}.base_nonce`, ctx.baseNonce, hex(v.base_nonce));
      eqBytes(`${p}.exporter_secret`, ctx.exporterSecret, hex(v.exporter_secret));
      const rctx = setupR(hex(v.enc), hex(v.skRm), info, s ? hex(v.pkSm) : undefined);
      eqBytes(
        `${p}.recipient.shared_secret`,
        decap(hex(v.enc), hex(v.skRm), s ? hex(v.pkSm) : undefined),
        hex(v.shared_secret),
      );
      eqBytes(`${p}.recipient.key`, rctx.key, hex(v.key));
      v.encryptions.forEach((x, i) => {
        const seq = x["sequence number"];
        eqBytes(`${p}.encryptions[${i}].nonce`, ctx.nonce(seq), hex(x.nonce));
        eqBytes(`${p}.encryptions[${i}].ct`, ctx.seal(hex(x.aad), hex(x.pt), seq), hex(x.ct));
        let pt = Buffer.alloc(0);
        try {
          pt = rctx.open(hex(x.aad), hex(x.ct), seq);
        } catch { /* compared below */ }
        eqBytes(`${p}.encryptions[${i}].open`, pt, hex(x.pt));
      });
      v.exports.forEach((x, i) => {
        eqBytes(
          `${p}.exports[${i}].exported_value`,
          ctx.export(hex(x.exporter_context), x.L),
          hex(x.exported_value),
        );
      });
      // key schedule from the vector's own shared secret too
      const ks = keySchedule(v.mode, hex(v.shared_secret), info);
      eqBytes(`${p}.keySchedule.key`, ks.key, hex(v.key));
    });
  }
}

// ---------------------------------------------------------------------------
// federation_family.json
const famFile = load("federation_family.json");
const families = {};
for (const [i, f] of famFile.families.entries()) {
  const p = `federation_family.families[${i}]`;
  guard(p, () => {
    // The ikm is a JSON string; we take its ASCII bytes (the file does not say).
    const kp = deriveKeyPair(Buffer.from(f.ikm, "utf8"));
    eqBytes(`${p}.secret`, kp.sk, f.secret);
    eqBytes(`${p}.key`, kp.pk, f.key);
    eqBytes(`${p}.key(from secret)`, x25519Public(f.secret), f.key);
    eq(`${p}.id`, familyId(f.key), f.id);
    eq(`${p}.keyId`, familyKid(f.key), f.keyId);
    const rec = makeRecordFromJs(f.record);
    eqBytes(`${p}.encoded`, encodeRecord(rec), f.encoded);
    const back = checkRecord(mpDecode(f.encoded));
    eqBytes(`${p}.encoded(roundtrip)`, encodeRecord(back), f.encoded);
    // self-certification: a wrong id / key-id is refused
    throwsFed(
      `${p}.record.badId`,
      () => checkRecord({ ...back, id: "0".repeat(32) }),
      "family-id-mismatch",
    );
    throwsFed(
      `${p}.record.badKeyId`,
      () => checkRecord({ ...back, "key-id": (back["key-id"] + 1) >>> 0 }),
      "family-key-id-mismatch",
    );
    families[f.id] = { ...f, sk: f.secret, pk: f.key };
  });
}

// ---------------------------------------------------------------------------
// federation_invite.json
{
  const v = load("federation_invite.json");
  const p = "federation_invite";
  guard(p, () => {
    eqBytes(`${p}.relayKey`, x25519Public(v.relaySecret), v.relayKey);
    eq(`${p}.relayKeyId`, familyKid(v.relayKey), v.relayKeyId);
    v.tokens.forEach((t, i) => {
      const q = `${p}.tokens[${i}]`;
      eq(
        `${q}.token`,
        createToken(v.tokenKey, {
          tokenId: t.tokenId,
          relayKeyId: v.relayKeyId,
          expires: t.expires,
          family: t.family,
        }),
        t.token,
      );
      const pt = parseToken(t.token);
      eqBytes(`${q}.tokenId(parsed)`, pt.tokenId, t.tokenId);
      eq(`${q}.relayKeyId(parsed)`, pt.relayKeyId, v.relayKeyId);
      eq(`${q}.expires(parsed)`, pt.expires, t.expires);
      eq(`${q}.family(parsed)`, pt.family, t.family);
      eq(`${q}.length`, t.token.length, t.family ? 99 : 78);
      ok(`${q}.mac`, tokenMacValid(v.tokenKey, pt));
      const forged = Buffer.from(t.token, "base64url");
      forged[5] ^= 1;
      ok(`${q}.forgedMac`, !tokenMacValid(v.tokenKey, parseToken(forged.toString("base64url"))));
    });
    throwsFed(`${p}.malformed`, () => parseToken("AAAA"), "token-malformed");
    const pr = v.proof;
    eq(`${p}.proof.familyId`, familyId(pr.familyKey), pr.familyId);
    const a = admissionProof(pr.familySecret, v.relayKey, pr.tokenId, pr.h);
    eqBytes(`${p}.proof.shared`, a.shared, pr.shared);
    eqBytes(`${p}.proof.proof`, a.proof, pr.proof);
    ok(
      `${p}.proof.verify(relay side)`,
      verifyProof(v.relaySecret, pr.familyKey, pr.tokenId, pr.h, pr.proof),
    );
    const h2 = Buffer.from(pr.h);
    h2[0] ^= 1;
    ok(
      `${p}.proof.otherSession`,
      !verifyProof(v.relaySecret, pr.familyKey, pr.tokenId, h2, pr.proof),
    );
  });
}

// ---------------------------------------------------------------------------
// federation_envelope.json
{
  const v = load("federation_envelope.json");
  const p = "federation_envelope";
  guard(p, () => {
    eq(`${p}.info`, v.info, "myclerk-e2e-v0");
    const recipientKey = x25519Public(v.recipientSecret);
    const s = sealEnvelope({
      senderSecret: v.senderSecret,
      recipientKey,
      body: v.body,
      ttl: v.routing.ttl,
      ts: v.ts,
      mid: v.routing.mid,
      ephemeralSecret: v.ephemeralSecret,
    });
    eq(`${p}.routing.to`, s.routing.to, v.routing.to);
    eq(`${p}.routing.from`, s.routing.from, v.routing.from);
    eqBytes(`${p}.routing.fromKey`, s.routing.fromKey, v.routing.fromKey);
    eqBytes(`${p}.aad`, s.aad, v.aad);
    eqBytes(`${p}.sealed`, s.sealed, v.sealed);
    const o = openEnvelope(v.routing, v.sealed, v.recipientSecret);
    eqBytes(`${p}.open.body`, o.body, v.body);
    eq(`${p}.open.ts`, o.ts, v.ts);
    eqBytes(`${p}.open.mid`, o.mid, v.routing.mid);
    // every relay-visible field is bound (§4.3)
    const mut = (name, routing, sealed, detail) =>
      throwsFed(
        `${p}.tamper.${name}`,
        () => openEnvelope(routing, sealed, v.recipientSecret),
        detail,
      );
    const flip = (off) => {
      const b = Buffer.from(v.sealed);
      b[off] ^= 1;
      return b;
    };
    const mid2 = Buffer.from(v.routing.mid);
    mid2[0] ^= 1;
    mut("mid", { ...v.routing, mid: mid2 }, v.sealed, "aead");
    mut("ttl", { ...v.routing, ttl: v.routing.ttl + 1 }, v.sealed, "aead");
    mut("timestamp", v.routing, flip(9), "envelope-trailer");
    mut("enc", v.routing, flip(20), "envelope-trailer");
    mut("payload", v.routing, flip(70), "envelope-trailer");
    mut("keyId", v.routing, flip(15), "envelope-key-id");
    const alice = Object.values(families).find((f) => f.id === v.routing.from);
    if (alice) {
      mut("to", { ...v.routing, to: alice.id }, v.sealed, "envelope-not-for-us");
    }
    mut("fromKey", { ...v.routing, fromKey: recipientKey }, v.sealed, "routing-from-key");
  });
}

// ---------------------------------------------------------------------------
// federation_messages.json
{
  const v = load("federation_messages.json");
  /** vector camelCase field names -> our message object (op + camelCase, records wire-form) */
  const fromVector = (m) => {
    const out = { ...m };
    if (out.family && typeof out.family === "object") out.family = makeRecordFromJs(out.family);
    if (out.records) out.records = out.records.map(makeRecordFromJs);
    return out;
  };
  const norm = (x) =>
    JSON.stringify(x, (_k, val) => {
      if (val && val.type === "Buffer" && Array.isArray(val.data)) {
        return Buffer.from(val.data).toString("hex");
      }
      return val;
    });
  v.messages.forEach((e, i) => {
    const p = `federation_messages.messages[${i}](${e.opcode})`;
    guard(p, () => {
      eq(`${p}.op`, e.message.op, Number(e.opcode));
      const msg = fromVector(e.message);
      eqBytes(`${p}.payload`, encodeFed(msg), e.payload);
      const d = decodeFed(msg.op, e.payload);
      eq(`${p}.decoded`, norm(d), norm(msg));
    });
  });
  v.directory.forEach((e, i) => {
    const p = `federation_messages.directory[${i}](${e.opcode})`;
    guard(p, () => {
      const op = Number(e.opcode);
      const msg = fromVector({
        op,
        ...Object.fromEntries(Object.entries(e).filter(([k]) => k !== "opcode" && k !== "payload")),
      });
      eqBytes(`${p}.payload`, encodeFed(msg), e.payload);
      const d = decodeFed(op, e.payload);
      eq(`${p}.decoded`, norm(d), norm(msg));
    });
  });
  // The FED_DELIVER vector carries the envelope vector: open it through the message.
  const del = v.messages.find((e) => Number(e.opcode) === 0x0304);
  const env = load("federation_envelope.json");
  guard("federation_messages.deliver.open", () => {
    const d = decodeFed(0x0304, del.payload);
    const o = openEnvelope(d, d.sealed, env.recipientSecret);
    eqBytes("federation_messages.deliver.open.body", o.body, env.body);
  });
  // decoder error details (§5)
  throwsFed("decode.notMap", () => decodeFed(0x030a, Buffer.from([0x91, 0x01])), "payload-not-map");
  throwsFed("decode.msgpack", () => decodeFed(0x030a, Buffer.from([0xc1])), "msgpack");
  throwsFed(
    "decode.field",
    () => decodeFed(0x030a, Buffer.from([0x81, 0xa1, 0x78, 0x01])),
    "field:family",
  );
}

if (failures) {
  console.error(`${failures} of ${checks} checks failed`);
  process.exit(1);
}
console.log(`all ${checks} checks passed`);
