// Independent implementation of the MyClerk federation layer (FEDERATION.md §2-§5, §10.1),
// written from docs/FEDERATION.md, docs/PROTOCOL.md, docs/OPERATOR.md and docs/vectors/ only
// (no code under core/, federation/, plugins/ or tests/ other than tests/interop/mcp0.mjs was read).
// Plain Node.js 20: node:crypto only. Used by check_fed_vectors.mjs and fed_peer.mjs.

import * as crypto from "node:crypto";
import {
  aeadOpen,
  aeadSeal,
  hkdf,
  hmac,
  mpDecode,
  mpEncode,
  sha256,
  u32,
  x25519,
  x25519Public,
} from "./mcp0.mjs";

const ascii = (s) => Buffer.from(s, "ascii");
const u16 = (n) => {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(n);
  return b;
};

/** A federation-level failure: `code` is the error name of FEDERATION.md, `detail` its detail. */
export class FedError extends Error {
  constructor(code, detail) {
    super(`${code} ${detail}`);
    this.code = code;
    this.detail = detail;
  }
}

// ---------------------------------------------------------------------------
// RFC 9180 HPKE: DHKEM(X25519, HKDF-SHA256) 0x0020, HKDF-SHA256 0x0001, ChaCha20Poly1305 0x0003

const KEM_ID = 0x0020, KDF_ID = 0x0001, AEAD_ID = 0x0003;
const KEM_SUITE = Buffer.concat([ascii("KEM"), u16(KEM_ID)]);
const HPKE_SUITE = Buffer.concat([ascii("HPKE"), u16(KEM_ID), u16(KDF_ID), u16(AEAD_ID)]);
const V1 = ascii("HPKE-v1");

/** HKDF-Extract (RFC 5869): HMAC(salt, ikm); an empty salt is HashLen zero bytes (same HMAC). */
const extract = (salt, ikm) => hmac(salt.length ? salt : Buffer.alloc(32), ikm);
/** HKDF-Expand (RFC 5869). */
function expand(prk, info, len) {
  const out = [];
  let t = Buffer.alloc(0);
  for (let i = 1; Buffer.concat(out).length < len; i++) {
    t = hmac(prk, Buffer.concat([t, info, Buffer.from([i])]));
    out.push(t);
  }
  return Buffer.concat(out).subarray(0, len);
}
const labeledExtract = (suite, salt, label, ikm) =>
  extract(salt, Buffer.concat([V1, suite, ascii(label), ikm]));
const labeledExpand = (suite, prk, label, info, len) =>
  expand(prk, Buffer.concat([u16(len), V1, suite, ascii(label), info]), len);

/** RFC 9180 §7.1.3 DeriveKeyPair for X25519: {sk, pk}. */
export function deriveKeyPair(ikm) {
  const prk = labeledExtract(KEM_SUITE, Buffer.alloc(0), "dkp_prk", Buffer.from(ikm));
  const sk = labeledExpand(KEM_SUITE, prk, "sk", Buffer.alloc(0), 32);
  return { sk, pk: x25519Public(sk) };
}

function extractAndExpand(dh, kemContext) {
  const prk = labeledExtract(KEM_SUITE, Buffer.alloc(0), "eae_prk", dh);
  return labeledExpand(KEM_SUITE, prk, "shared_secret", kemContext, 32);
}

/** Encap (mode 0) / AuthEncap (mode 2, with skS) with a given ephemeral private key. */
export function encap(pkR, skE, skS) {
  const enc = x25519Public(skE);
  if (!skS) {
    const dh = x25519(skE, pkR);
    return { enc, sharedSecret: extractAndExpand(dh, Buffer.concat([enc, pkR])) };
  }
  const dh = Buffer.concat([x25519(skE, pkR), x25519(skS, pkR)]);
  const ctx = Buffer.concat([enc, pkR, x25519Public(skS)]);
  return { enc, sharedSecret: extractAndExpand(dh, ctx) };
}

/** Decap (mode 0) / AuthDecap (mode 2, with pkS). */
export function decap(enc, skR, pkS) {
  const pkR = x25519Public(skR);
  if (!pkS) return extractAndExpand(x25519(skR, enc), Buffer.concat([enc, pkR]));
  const dh = Buffer.concat([x25519(skR, enc), x25519(skR, pkS)]);
  return extractAndExpand(dh, Buffer.concat([enc, pkR, pkS]));
}

/** RFC 9180 §5.1 KeySchedule with default (empty) psk / psk_id. */
export function keySchedule(mode, sharedSecret, info) {
  const pskIdHash = labeledExtract(HPKE_SUITE, Buffer.alloc(0), "psk_id_hash", Buffer.alloc(0));
  const infoHash = labeledExtract(HPKE_SUITE, Buffer.alloc(0), "info_hash", Buffer.from(info));
  const ksc = Buffer.concat([Buffer.from([mode]), pskIdHash, infoHash]);
  const secret = labeledExtract(HPKE_SUITE, sharedSecret, "secret", Buffer.alloc(0));
  return {
    keyScheduleContext: ksc,
    secret,
    key: labeledExpand(HPKE_SUITE, secret, "key", ksc, 32),
    baseNonce: labeledExpand(HPKE_SUITE, secret, "base_nonce", ksc, 12),
    exporterSecret: labeledExpand(HPKE_SUITE, secret, "exp", ksc, 32),
  };
}

/** The HPKE context: seal/open at a sequence number, export. */
export class HpkeContext {
  constructor(ks) {
    Object.assign(this, ks);
  }
  nonce(seq) {
    const n = Buffer.from(this.baseNonce);
    const s = Buffer.alloc(12);
    s.writeBigUInt64BE(BigInt(seq), 4);
    for (let i = 0; i < 12; i++) n[i] ^= s[i];
    return n;
  }
  /** ct || tag */
  seal(aad, pt, seq = 0) {
    const { ct, tag } = aeadSeal(this.key, this.nonce(seq), aad, pt);
    return Buffer.concat([ct, tag]);
  }
  open(aad, ctTag, seq = 0) {
    const ct = ctTag.subarray(0, ctTag.length - 16), tag = ctTag.subarray(ctTag.length - 16);
    return aeadOpen(this.key, this.nonce(seq), aad, ct, tag);
  }
  export(ctx, len) {
    return labeledExpand(HPKE_SUITE, this.exporterSecret, "sec", Buffer.from(ctx), len);
  }
}

/** SetupBaseS / SetupAuthS (skS given) with an explicit ephemeral private key. */
export function setupS(pkR, info, skE, skS) {
  const { enc, sharedSecret } = encap(pkR, skE, skS);
  const ctx = new HpkeContext(keySchedule(skS ? 2 : 0, sharedSecret, info));
  ctx.sharedSecret = sharedSecret;
  return { enc, ctx };
}

/** SetupBaseR / SetupAuthR (pkS given). */
export function setupR(enc, skR, info, pkS) {
  const sharedSecret = decap(enc, skR, pkS);
  const ctx = new HpkeContext(keySchedule(pkS ? 2 : 0, sharedSecret, info));
  ctx.sharedSecret = sharedSecret;
  return ctx;
}

// ---------------------------------------------------------------------------
// §2 family records

/** family-id = lowercase-hex(H(pk)[0..16]) */
export const familyId = (pk) => sha256(pk).subarray(0, 16).toString("hex");
/** family-kid = u32(H(pk)[0..4]) */
export const familyKid = (pk) => sha256(pk).readUInt32BE(0);

const HEX32 = /^[0-9a-f]{32}$/;

/** Build a record object (wire key names) from {name, key, home, homeAddr?, created}. */
export function makeRecord({ name, key, home, homeAddr, created }) {
  const r = { id: familyId(key), name, key: Buffer.from(key), "key-id": familyKid(key), home };
  if (homeAddr !== undefined) r["home-addr"] = homeAddr;
  r.created = created;
  return r;
}

const isU32 = (v) => Number.isInteger(v) && v >= 0 && v <= 0xffffffff;
const isUint = (v) => Number.isInteger(v) && v >= 0;

/** Validate a decoded record map; throws FedError. Returns it with keys in encoder order. */
export function checkRecord(m) {
  if (m === null || typeof m !== "object" || Array.isArray(m) || Buffer.isBuffer(m)) {
    throw new FedError("BAD_REQUEST", "field:family");
  }
  if (typeof m.id !== "string" || !HEX32.test(m.id)) throw new FedError("BAD_REQUEST", "field:id");
  if (typeof m.name !== "string" || [...m.name].length < 1 || [...m.name].length > 64) {
    throw new FedError("BAD_REQUEST", "field:name");
  }
  if (!Buffer.isBuffer(m.key) || m.key.length !== 32) {
    throw new FedError("BAD_REQUEST", "field:key");
  }
  if (!isU32(m["key-id"])) throw new FedError("BAD_REQUEST", "field:key-id");
  if (!isU32(m.home)) throw new FedError("BAD_REQUEST", "field:home");
  if (
    m["home-addr"] !== undefined &&
    (typeof m["home-addr"] !== "string" || Buffer.byteLength(m["home-addr"]) > 255)
  ) throw new FedError("BAD_REQUEST", "field:home-addr");
  if (!isU32(m.created)) throw new FedError("BAD_REQUEST", "field:created");
  if (m.id !== familyId(m.key)) throw new FedError("BAD_REQUEST", "family-id-mismatch");
  if (m["key-id"] !== familyKid(m.key)) throw new FedError("BAD_REQUEST", "family-key-id-mismatch");
  return makeRecord({
    name: m.name,
    key: m.key,
    home: m.home,
    homeAddr: m["home-addr"],
    created: m.created,
  });
}

export const encodeRecord = (r) => mpEncode(r);
export const decodeRecord = (b) => checkRecord(mpDecode(b));

// ---------------------------------------------------------------------------
// §3 invite tokens and proof of possession

const b64uDecode = (s) => {
  if (typeof s !== "string" || !/^[A-Za-z0-9_-]*$/.test(s)) return null;
  return Buffer.from(s, "base64url");
};

/** Build a token (relay side; used to rebuild the vectors). */
export function createToken(tokenKey, { tokenId, relayKeyId, expires, family }) {
  const body = Buffer.concat([
    Buffer.from([1]),
    tokenId,
    u32(relayKeyId),
    u32(expires),
    family ? Buffer.concat([Buffer.from([1]), Buffer.from(family, "hex")]) : Buffer.from([0]),
  ]);
  const mac = hmac(tokenKey, Buffer.concat([ascii("myclerk-invite-v0"), body]));
  return Buffer.concat([body, mac]).toString("base64url");
}

/** Parse a token without the key: {tokenId, relayKeyId, expires, family?, body, mac}. */
export function parseToken(token) {
  const raw = b64uDecode(token);
  if (!raw || (raw.length !== 58 && raw.length !== 74) || raw[0] !== 1) {
    throw new FedError("FED_ADMISSION_DENIED", "token-malformed");
  }
  const restricted = raw[25];
  if (!((restricted === 0 && raw.length === 58) || (restricted === 1 && raw.length === 74))) {
    throw new FedError("FED_ADMISSION_DENIED", "token-malformed");
  }
  const bodyLen = raw.length - 32;
  return {
    tokenId: raw.subarray(1, 17),
    relayKeyId: raw.readUInt32BE(17),
    expires: raw.readUInt32BE(21),
    family: restricted ? raw.subarray(26, 42).toString("hex") : undefined,
    body: raw.subarray(0, bodyLen),
    mac: raw.subarray(bodyLen),
  };
}

/** Verify a token's MAC under token_key. */
export function tokenMacValid(tokenKey, t) {
  const want = hmac(tokenKey, Buffer.concat([ascii("myclerk-invite-v0"), t.body]));
  return crypto.timingSafeEqual(want, t.mac);
}

/** §3.2: {shared, k, proof}. */
export function admissionProof(familySk, relayPk, tokenId, h) {
  const familyPk = x25519Public(familySk);
  const shared = x25519(familySk, relayPk);
  const k = hkdf(
    shared,
    tokenId,
    Buffer.concat([ascii("myclerk-admit-v0"), familyPk, relayPk]),
    32,
  );
  const proof = hmac(
    k,
    Buffer.concat([
      ascii("myclerk-admit-proof-v0"),
      tokenId,
      Buffer.from(familyId(familyPk), "hex"),
      h,
    ]),
  );
  return { shared, k, proof };
}

/** Relay-side proof check (with the relay's secret): true/false. */
export function verifyProof(relaySk, familyPk, tokenId, h, proof) {
  const relayPk = x25519Public(relaySk);
  const shared = x25519(relaySk, familyPk);
  const k = hkdf(
    shared,
    tokenId,
    Buffer.concat([ascii("myclerk-admit-v0"), familyPk, relayPk]),
    32,
  );
  const want = hmac(
    k,
    Buffer.concat([
      ascii("myclerk-admit-proof-v0"),
      tokenId,
      Buffer.from(familyId(familyPk), "hex"),
      h,
    ]),
  );
  return proof.length === 32 && crypto.timingSafeEqual(want, proof);
}

// ---------------------------------------------------------------------------
// §4 sealed envelope

export const E2E_INFO = ascii("myclerk-e2e-v0");
const TRAILER_CTX = ascii("myclerk-e2e-trailer-v0");
const OP_FED_SEALED = 0x0310;

/** header bytes 0..48 of the envelope */
function envHeader48(ts, recipientKid, enc) {
  const h = Buffer.alloc(48);
  h[0] = 0x29;
  h.writeUInt16BE(OP_FED_SEALED, 1);
  h.writeUInt32BE(ts >>> 0, 6);
  h.writeUInt32BE(recipientKid >>> 0, 12);
  Buffer.from(enc).copy(h, 16);
  return h;
}

/** §4.3 aad */
export function envelopeAad(header48, { to, from, mid, ttl }) {
  return Buffer.concat([
    header48,
    Buffer.from(to, "hex"),
    Buffer.from(from, "hex"),
    mid,
    u32(ttl),
  ]);
}

/**
 * Seal (§4). senderSecret = A's family sk, recipientKey = B's family pk.
 * Returns {routing: {to, from, fromKey, mid, ttl}, sealed, aad}.
 */
export function sealEnvelope({
  senderSecret,
  recipientKey,
  body,
  ttl,
  ts = Math.floor(Date.now() / 1000),
  mid = crypto.randomBytes(16),
  ephemeralSecret = crypto.randomBytes(32),
}) {
  const fromKey = x25519Public(senderSecret);
  const routing = {
    to: familyId(recipientKey),
    from: familyId(fromKey),
    fromKey,
    mid: Buffer.from(mid),
    ttl,
  };
  const { enc, ctx } = setupS(recipientKey, E2E_INFO, ephemeralSecret, senderSecret);
  const h48 = envHeader48(ts, familyKid(recipientKey), enc);
  const aad = envelopeAad(h48, routing);
  const pt = mpEncode({ mid: routing.mid, from: routing.from, ts, ttl, body: Buffer.from(body) });
  const ctTag = ctx.seal(aad, pt);
  const ct = ctTag.subarray(0, ctTag.length - 16), tag = ctTag.subarray(ctTag.length - 16);
  const head = Buffer.concat([h48, tag, ct]);
  const trailer = hmac(ctx.export(TRAILER_CTX, 32), head);
  return { routing, sealed: Buffer.concat([head, trailer]), aad, pt };
}

/** Key-less form check a relay may do (§4.4 checkRouting). Throws FedError. */
export function checkRouting(routing, sealed, toKid) {
  if (routing.from !== familyId(routing.fromKey)) {
    throw new FedError("BAD_REQUEST", "routing-from-key");
  }
  if (sealed.length < 96 || sealed[0] !== 0x29 || sealed.readUInt16BE(1) !== OP_FED_SEALED) {
    throw new FedError("BAD_REQUEST", "envelope-form");
  }
  if (toKid !== undefined && sealed.readUInt32BE(12) !== toKid) {
    throw new FedError("BAD_REQUEST", "envelope-key-id");
  }
}

/**
 * Open (§4.5 steps 1-4). recipientSecret = B's family sk; routing from FED_DELIVER.
 * Returns {mid, from, ts, ttl, body}.
 */
export function openEnvelope(routing, sealed, recipientSecret) {
  const pkR = x25519Public(recipientSecret);
  if (routing.to !== familyId(pkR)) throw new FedError("UNAUTHORIZED", "envelope-not-for-us");
  if (sealed.length < 96 || sealed[0] !== 0x29 || sealed.readUInt16BE(1) !== OP_FED_SEALED) {
    throw new FedError("BAD_REQUEST", "envelope-form");
  }
  if (sealed.readUInt32BE(12) !== familyKid(pkR)) {
    throw new FedError("UNAUTHORIZED", "envelope-key-id");
  }
  if (routing.from !== familyId(routing.fromKey)) {
    throw new FedError("BAD_REQUEST", "routing-from-key");
  }
  const ts = sealed.readUInt32BE(6);
  const enc = sealed.subarray(16, 48);
  const ctx = setupR(enc, recipientSecret, E2E_INFO, routing.fromKey);
  const head = sealed.subarray(0, sealed.length - 32),
    trailer = sealed.subarray(sealed.length - 32);
  const want = hmac(ctx.export(TRAILER_CTX, 32), head);
  if (!crypto.timingSafeEqual(want, trailer)) {
    throw new FedError("UNAUTHORIZED", "envelope-trailer");
  }
  const aad = envelopeAad(sealed.subarray(0, 48), routing);
  let pt;
  try {
    pt = ctx.open(aad, Buffer.concat([head.subarray(64), head.subarray(48, 64)]));
  } catch {
    throw new FedError("UNAUTHORIZED", "aead");
  }
  const inner = mpDecode(pt);
  if (
    !Buffer.isBuffer(inner.mid) || !inner.mid.equals(routing.mid) || inner.from !== routing.from ||
    inner.ts !== ts || inner.ttl !== routing.ttl || !Buffer.isBuffer(inner.body)
  ) throw new FedError("UNAUTHORIZED", "envelope-mismatch");
  return { mid: inner.mid, from: inner.from, ts, ttl: inner.ttl, body: inner.body };
}

// ---------------------------------------------------------------------------
// §5 / §10.1 messages: encoders (key order as listed, shortest forms) and decoders

export const FED = {
  HELLO: 0x0300,
  ADMIT: 0x0301,
  ADMITTED: 0x0302,
  ROUTE: 0x0303,
  DELIVER: 0x0304,
  ACK: 0x0305,
  QUEUE_STATUS: 0x0306,
  FETCH: 0x0307,
  EXPIRED: 0x0308,
  RESTART: 0x0309,
  LOOKUP: 0x030a,
  RECORDS: 0x030b,
  SEALED: 0x0310,
};

/** Field types: [wireKey, jsName, kind, optional?]. */
const fam = "family", u32k = "u32", uk = "uint", strk = "str", bink = "bin";
const SCHEMA = {
  [FED.HELLO]: [["role", "role", "role"], ["key-id", "keyId", u32k], [
    "families",
    "families",
    "families",
  ], [
    "version",
    "version",
    uk,
  ], ["max-message", "maxMessage", u32k, true]],
  [FED.ADMIT]: [["token", "token", "token"], ["family", "family", "record"], [
    "proof",
    "proof",
    "bin32",
  ]],
  [FED.ADMITTED]: [
    ["family", "family", fam],
    ["relay", "relay", u32k],
    [
      "quota-messages",
      "quotaMessages",
      uk,
    ],
    ["quota-bytes", "quotaBytes", uk],
    ["max-message", "maxMessage", u32k],
    ["max-ttl", "maxTtl", u32k],
  ],
  [FED.ROUTE]: [["seq", "seq", uk], ["families", "families", "families"]],
  [FED.DELIVER]: [
    ["to", "to", fam],
    ["from", "from", fam],
    ["from-key", "fromKey", "bin32"],
    ["mid", "mid", "mid"],
    [
      "ttl",
      "ttl",
      "ttl",
    ],
    ["hops", "hops", "hops"],
    ["sealed", "sealed", bink],
  ],
  [FED.QUEUE_STATUS]: [["family", "family", fam], ["depth", "depth", uk], ["bytes", "bytes", uk], [
    "oldest",
    "oldest",
    u32k,
  ]],
  [FED.FETCH]: [["family", "family", fam], ["credit", "credit", "credit"], [
    "max-bytes",
    "maxBytes",
    uk,
    true,
  ]],
  [FED.EXPIRED]: [["family", "family", fam], ["to", "to", fam], ["mids", "mids", "mids"]],
  [FED.RESTART]: [["after", "after", "after"], ["reason", "reason", "reason", true]],
  [FED.LOOKUP]: [["family", "family", fam]],
  [FED.RECORDS]: [["records", "records", "records"]],
};
const ACK_STORED = [["kind", "kind", strk], ["relay", "relay", u32k], ["mids", "mids", "mids"]];
const ACK_DELIVERED = [["kind", "kind", strk], ["family", "family", fam], ["mids", "mids", "mids"]];

function checkValue(kind, v, key) {
  const bad = () => {
    throw new FedError("BAD_REQUEST", `field:${key}`);
  };
  switch (kind) {
    case fam:
      if (typeof v !== "string" || !HEX32.test(v)) bad();
      return v;
    case u32k:
      if (!isU32(v)) bad();
      return v;
    case uk:
      if (!isUint(v)) bad();
      return v;
    case strk:
      if (typeof v !== "string") bad();
      return v;
    case bink:
      if (!Buffer.isBuffer(v)) bad();
      return v;
    case "bin32":
      if (!Buffer.isBuffer(v) || v.length !== 32) bad();
      return v;
    case "mid":
      if (!Buffer.isBuffer(v) || v.length !== 16) bad();
      return v;
    case "role":
      if (v !== "relay" && v !== "hub") bad();
      return v;
    case "families":
      if (!Array.isArray(v) || v.length > 4096) bad();
      return v.map((f) => checkValue(fam, f, key));
    case "mids":
      if (!Array.isArray(v) || v.length > 1024) bad();
      return v.map((f) => checkValue("mid", f, key));
    case "records":
      if (!Array.isArray(v) || v.length > 1024) bad();
      return v.map((r) => checkRecord(r));
    case "record":
      return checkRecord(v);
    case "token":
      if (typeof v !== "string" || v.length > 128) bad();
      return v;
    case "ttl":
      if (!isU32(v) || v < 1) bad();
      return v;
    case "hops":
      if (!isUint(v) || v > 8) bad();
      return v;
    case "credit":
      if (!isUint(v) || v > 65535) bad();
      return v;
    case "after":
      if (!isUint(v) || v > 3_600_000) bad();
      return v;
    case "reason":
      if (typeof v !== "string" || Buffer.byteLength(v) > 256) bad();
      return v;
  }
  throw new Error(`schema kind ${kind}`);
}

function schemaFor(op, kind) {
  if (op === FED.ACK) {
    if (kind === "stored") return ACK_STORED;
    if (kind === "delivered") return ACK_DELIVERED;
    throw new FedError("BAD_REQUEST", "field:kind");
  }
  const s = SCHEMA[op];
  if (!s) throw new FedError("NOT_FOUND", `opcode 0x${op.toString(16)}`);
  return s;
}

/** Encode a message object {op, ...camelCase fields} into its payload bytes. */
export function encodeFed(msg) {
  const s = schemaFor(msg.op, msg.kind);
  const out = {};
  for (const [wire, js, kind, opt] of s) {
    const v = msg[js];
    if (v === undefined) {
      if (opt) continue;
      throw new FedError("BAD_REQUEST", `field:${wire}`);
    }
    out[wire] = kind === "record"
      ? makeRecordFromJs(v)
      : kind === "records"
      ? v.map(makeRecordFromJs)
      : v;
    checkValue(kind, out[wire], wire);
  }
  return mpEncode(out);
}

/** Accept a record in wire form or camelCase form; returns wire-ordered record. */
export function makeRecordFromJs(r) {
  return checkRecord({
    id: r.id,
    name: r.name,
    key: Buffer.from(r.key),
    "key-id": r["key-id"] ?? r.keyId,
    home: r.home,
    "home-addr": r["home-addr"] ?? r.homeAddr,
    created: r.created,
  });
}

/** Decode a payload for opcode `op` into {op, ...camelCase fields}; throws FedError. */
export function decodeFed(op, payload) {
  let m;
  try {
    m = mpDecode(payload);
  } catch {
    throw new FedError("BAD_REQUEST", "msgpack");
  }
  return decodeFedMap(op, m);
}

/** Like decodeFed, for an already MessagePack-decoded value. */
export function decodeFedMap(op, m) {
  if (m === null || typeof m !== "object" || Array.isArray(m) || Buffer.isBuffer(m)) {
    throw new FedError("BAD_REQUEST", "payload-not-map");
  }
  const s = schemaFor(op, m.kind);
  const out = { op };
  for (const [wire, js, kind, opt] of s) {
    if (m[wire] === undefined) {
      if (opt) continue;
      throw new FedError("BAD_REQUEST", `field:${wire}`);
    }
    out[js] = checkValue(kind, m[wire], wire);
  }
  return out;
}
