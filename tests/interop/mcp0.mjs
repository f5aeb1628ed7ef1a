// Independent implementation of the MyClerk profile "mcp0", written from
// docs/PROTOCOL.md and docs/vectors/ only (no code of this repository was read).
// Plain Node.js 20: node:crypto, node:net. Used by check_vectors.mjs and client.mjs.

import * as crypto from "node:crypto";
import * as net from "node:net";

// ---------------------------------------------------------------------------
// bytes helpers

/** hex string -> Buffer */
export const hex = (s) => Buffer.from(s, "hex");
/** Buffer -> hex string */
export const toHex = (b) => Buffer.from(b).toString("hex");
/** u32 big-endian bytes */
export function u32(n) {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n >>> 0);
  return b;
}
const ascii = (s) => Buffer.from(s, "ascii");

// ---------------------------------------------------------------------------
// Minimal MessagePack (§11): maps with string keys, uint, bin, str, bool, arrays, nil.
// Encoder: shortest forms, map keys in insertion order. Decoder: any width.

export class Bin {
  constructor(bytes) {
    this.bytes = Buffer.from(bytes);
  }
}

/** MessagePack-encode a JS value. Buffers/Uint8Array/Bin -> bin; numbers must be uint. */
export function mpEncode(v) {
  const out = [];
  const push = (...b) => out.push(Buffer.from(b));
  const enc = (x) => {
    if (x === null || x === undefined) return push(0xc0);
    if (x === true) return push(0xc3);
    if (x === false) return push(0xc2);
    if (x instanceof Bin) x = x.bytes;
    if (typeof x === "number" || typeof x === "bigint") {
      const n = BigInt(x);
      if (n < 0n) throw new Error("mpEncode: negative integers not in subset");
      if (n < 0x80n) return push(Number(n));
      if (n <= 0xffn) return push(0xcc, Number(n));
      if (n <= 0xffffn) return push(0xcd, Number(n >> 8n), Number(n & 0xffn));
      if (n <= 0xffffffffn) {
        const b = Buffer.alloc(5);
        b[0] = 0xce;
        b.writeUInt32BE(Number(n), 1);
        return out.push(b);
      }
      const b = Buffer.alloc(9);
      b[0] = 0xcf;
      b.writeBigUInt64BE(n, 1);
      return out.push(b);
    }
    if (typeof x === "string") {
      const s = Buffer.from(x, "utf8");
      if (s.length < 32) push(0xa0 | s.length);
      else if (s.length <= 0xff) push(0xd9, s.length);
      else if (s.length <= 0xffff) push(0xda, s.length >> 8, s.length & 0xff);
      else {
        const h = Buffer.alloc(5);
        h[0] = 0xdb;
        h.writeUInt32BE(s.length, 1);
        out.push(h);
      }
      return out.push(s);
    }
    if (x instanceof Uint8Array) {
      const n = x.length;
      if (n <= 0xff) push(0xc4, n);
      else if (n <= 0xffff) push(0xc5, n >> 8, n & 0xff);
      else {
        const h = Buffer.alloc(5);
        h[0] = 0xc6;
        h.writeUInt32BE(n, 1);
        out.push(h);
      }
      return out.push(Buffer.from(x));
    }
    if (Array.isArray(x)) {
      const n = x.length;
      if (n < 16) push(0x90 | n);
      else if (n <= 0xffff) push(0xdc, n >> 8, n & 0xff);
      else {
        const h = Buffer.alloc(5);
        h[0] = 0xdd;
        h.writeUInt32BE(n, 1);
        out.push(h);
      }
      for (const e of x) enc(e);
      return;
    }
    if (typeof x === "object") {
      const ents = Object.entries(x).filter(([, val]) => val !== undefined);
      const n = ents.length;
      if (n < 16) push(0x80 | n);
      else if (n <= 0xffff) push(0xde, n >> 8, n & 0xff);
      else {
        const h = Buffer.alloc(5);
        h[0] = 0xdf;
        h.writeUInt32BE(n, 1);
        out.push(h);
      }
      for (const [k, val] of ents) {
        enc(k);
        enc(val);
      }
      return;
    }
    throw new Error(`mpEncode: unsupported ${typeof x}`);
  };
  enc(v);
  return Buffer.concat(out);
}

/** MessagePack-decode a whole buffer (trailing bytes are an error). bin -> Buffer. */
export function mpDecode(buf) {
  buf = Buffer.from(buf);
  let p = 0;
  const need = (n) => {
    if (p + n > buf.length) throw new Error("msgpack: truncated");
  };
  const uintN = (n) => {
    need(n);
    let v;
    if (n === 1) v = buf[p];
    else if (n === 2) v = buf.readUInt16BE(p);
    else if (n === 4) v = buf.readUInt32BE(p);
    else {
      const b = buf.readBigUInt64BE(p);
      v = b <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(b) : b;
    }
    p += n;
    return v;
  };
  const bytes = (n) => {
    need(n);
    const b = buf.subarray(p, p + n);
    p += n;
    return b;
  };
  const str = (n) => bytes(n).toString("utf8");
  const arr = (n) => {
    const a = [];
    for (let i = 0; i < n; i++) a.push(dec());
    return a;
  };
  const map = (n) => {
    const m = {};
    for (let i = 0; i < n; i++) {
      const k = dec();
      if (typeof k !== "string") throw new Error("msgpack: non-string map key");
      m[k] = dec();
    }
    return m;
  };
  const dec = () => {
    need(1);
    const t = buf[p++];
    if (t < 0x80) return t;
    if (t >= 0xe0) return t - 0x100;
    if ((t & 0xf0) === 0x80) return map(t & 0x0f);
    if ((t & 0xf0) === 0x90) return arr(t & 0x0f);
    if ((t & 0xe0) === 0xa0) return str(t & 0x1f);
    switch (t) {
      case 0xc0:
        return null;
      case 0xc2:
        return false;
      case 0xc3:
        return true;
      case 0xc4:
        return Buffer.from(bytes(uintN(1)));
      case 0xc5:
        return Buffer.from(bytes(uintN(2)));
      case 0xc6:
        return Buffer.from(bytes(uintN(4)));
      case 0xcc:
        return uintN(1);
      case 0xcd:
        return uintN(2);
      case 0xce:
        return uintN(4);
      case 0xcf:
        return uintN(8);
      case 0xd0:
        need(1);
        return buf.readInt8(p++);
      case 0xd1: {
        need(2);
        const v = buf.readInt16BE(p);
        p += 2;
        return v;
      }
      case 0xd2: {
        need(4);
        const v = buf.readInt32BE(p);
        p += 4;
        return v;
      }
      case 0xd9:
        return str(uintN(1));
      case 0xda:
        return str(uintN(2));
      case 0xdb:
        return str(uintN(4));
      case 0xdc:
        return arr(uintN(2));
      case 0xdd:
        return arr(uintN(4));
      case 0xde:
        return map(uintN(2));
      case 0xdf:
        return map(uintN(4));
      default:
        throw new Error(`msgpack: unsupported type byte 0x${t.toString(16)}`);
    }
  };
  if (buf.length === 0) return {}; // §11: zero bytes == {}
  const v = dec();
  if (p !== buf.length) throw new Error("msgpack: trailing bytes");
  return v;
}

// ---------------------------------------------------------------------------
// primitives

export const sha256 = (b) => crypto.createHash("sha256").update(b).digest();
export const hmac = (k, m) => crypto.createHmac("sha256", k).update(m).digest();
export const hkdf = (ikm, salt, info, len) =>
  Buffer.from(crypto.hkdfSync("sha256", ikm, salt, info, len));

/** CRC-16/IBM-3740 (CCITT-FALSE), §2 */
export function crc16(data) {
  let c = 0xffff;
  for (const b of data) {
    c ^= b << 8;
    for (let i = 0; i < 8; i++) c = c & 0x8000 ? ((c << 1) ^ 0x1021) & 0xffff : (c << 1) & 0xffff;
  }
  return c;
}

const X25519_PKCS8 = hex("302e020100300506032b656e04220420");
const X25519_SPKI = hex("302a300506032b656e032100");
const privObj = (priv) =>
  crypto.createPrivateKey({
    key: Buffer.concat([X25519_PKCS8, priv]),
    format: "der",
    type: "pkcs8",
  });
/** X25519 public key of a raw 32-byte private key */
export function x25519Public(priv) {
  const der = crypto.createPublicKey(privObj(priv)).export({ type: "spki", format: "der" });
  return Buffer.from(der.subarray(der.length - 32));
}
/** X25519(priv, pub); throws on all-zero output (§5.2 bad-key) */
export function x25519(priv, pub) {
  const out = crypto.diffieHellman({
    privateKey: privObj(priv),
    publicKey: crypto.createPublicKey({
      key: Buffer.concat([X25519_SPKI, pub]),
      format: "der",
      type: "spki",
    }),
  });
  if (out.every((b) => b === 0)) throw new Error("bad-key: all-zero X25519 output");
  return out;
}
/** key id of a static public key: u32(H(pub)[0..4]) */
export const keyId = (pub) => sha256(pub).readUInt32BE(0);

export function aeadSeal(key, nonce, aad, pt) {
  const c = crypto.createCipheriv("chacha20-poly1305", key, nonce, { authTagLength: 16 });
  c.setAAD(aad, { plaintextLength: pt.length });
  const ct = Buffer.concat([c.update(pt), c.final()]);
  return { ct, tag: c.getAuthTag() };
}
export function aeadOpen(key, nonce, aad, ct, tag) {
  const d = crypto.createDecipheriv("chacha20-poly1305", key, nonce, { authTagLength: 16 });
  d.setAAD(aad, { plaintextLength: ct.length });
  d.setAuthTag(tag);
  return Buffer.concat([d.update(ct), d.final()]);
}

// ---------------------------------------------------------------------------
// Wire codec (§1, §2, §4, §6)

export const HEADER_LEN = [1, 4, 6, 12, 48, 64];
export const TRAILER_LEN = [0, 0, 2, 4, 8, 32];

export const OP = {
  KEEPALIVE: 0x0001,
  KEEPALIVE_ACK: 0x0002,
  SESSION_INIT: 0x0003,
  SESSION_ACK: 0x0004,
  SESSION_CLOSE: 0x0005,
  SESSION_CLOSE_ACK: 0x0006,
  SESSION_RESUME: 0x0007,
  SESSION_RESUMED: 0x0008,
  SESSION_TICKET: 0x0009,
  ERROR: 0x000f,
  KEY_EXCHANGE_INIT: 0x0010,
  KEY_EXCHANGE_RESPONSE: 0x0011,
  KEY_EXCHANGE_COMPLETE: 0x0012,
  SESSION_ROTATE: 0x0016,
  SESSION_REVOKE: 0x0017,
};

export class WireError extends Error {
  constructor(detail) {
    super(`BAD_REQUEST ${detail}`);
    this.detail = detail;
  }
}

/** Parse a message (no frame length) into its fields; checks the flag rules of §1.3. */
export function decode(msg) {
  msg = Buffer.from(msg);
  if (msg.length < 1) throw new WireError("truncated");
  const flags = msg[0];
  const version = flags >> 6;
  const tier = (flags >> 3) & 7;
  const C = (flags >> 2) & 1, F = (flags >> 1) & 1, E = flags & 1;
  if (version !== 0) throw new WireError("version");
  if (tier > 5) throw new WireError("tier");
  if (tier <= 2 && E) throw new WireError(tier === 2 ? "tier2-encrypted" : "tier-encrypted");
  if (tier === 5 && !E) throw new WireError("tier5-plain");
  const hl = HEADER_LEN[tier], tl = TRAILER_LEN[tier];
  if (msg.length < hl + tl) throw new WireError("truncated");
  const m = {
    flags,
    version,
    tier,
    C,
    F,
    E,
    header: msg.subarray(0, hl),
    payload: msg.subarray(hl, msg.length - tl),
    trailer: msg.subarray(msg.length - tl),
    raw: msg,
  };
  if (tier >= 1) {
    m.opcode = msg.readUInt16BE(1);
    m.sequence = msg[3];
  }
  if (tier >= 2) m.sessionId = msg.readUInt16BE(4);
  if (tier >= 3) {
    m.timestamp = msg.readUInt32BE(6);
    m.nonce = msg.readUInt16BE(10);
    m.low24 = (m.nonce << 8) | m.sequence;
  }
  if (tier >= 4) {
    m.keyId = msg.readUInt32BE(12);
    m.ecdh = msg.subarray(16, 48);
  }
  if (tier === 5) m.tag = msg.subarray(48, 64);
  return m;
}

/** The bytes the HMAC trailer covers (§2), given a message without its trailer. */
function macInput(tier, E, body) {
  const hl = HEADER_LEN[tier];
  if (!E) return body;
  if (tier === 5) return body.subarray(0, 64);
  // Tier 3/4 encrypted: header || last 16 payload bytes (the AEAD tag)
  return Buffer.concat([body.subarray(0, hl), body.subarray(body.length - 16)]);
}

/** Compute the trailer for a message body (everything before the trailer). */
export function trailerFor(tier, E, body, macKey) {
  if (tier < 2) return Buffer.alloc(0);
  if (tier === 2) {
    const b = Buffer.alloc(2);
    b.writeUInt16BE(crc16(body));
    return b;
  }
  return hmac(macKey, macInput(tier, E, body)).subarray(0, TRAILER_LEN[tier]);
}

/** Verify a decoded message's trailer; returns true/false (constant-time compare). */
export function verifyTrailer(m, macKey) {
  if (m.tier < 2) return true;
  const body = m.raw.subarray(0, m.raw.length - m.trailer.length);
  const want = trailerFor(m.tier, m.E, body, macKey);
  return want.length === m.trailer.length && crypto.timingSafeEqual(want, m.trailer);
}

/** nonce96 = timestamp || iv || c (§4) */
export const nonce96 = (timestamp, iv, c) => Buffer.concat([u32(timestamp), iv, u32(c)]);

/**
 * Build a complete message.
 * f: {tier, opcode, sequence, sessionId, timestamp, counter, keyId, ecdh,
 *     encrypted, compressed, fragment, keys:{key,mac,iv}, macKey, plaintext}
 * For tiers 3-5 sequence/nonce come from `counter`; for tier 1/2 from `sequence`.
 */
export function encode(f) {
  const tier = f.tier;
  const E = tier === 5 ? 1 : f.encrypted ? 1 : 0;
  if (tier <= 2 && E) throw new WireError("tier-encrypted");
  const flags = (tier << 3) | ((f.compressed ? 1 : 0) << 2) | ((f.fragment ? 1 : 0) << 1) | E;
  const h = Buffer.alloc(HEADER_LEN[tier]);
  h[0] = flags;
  if (tier >= 1) {
    h.writeUInt16BE(f.opcode, 1);
    h[3] = tier >= 3 ? f.counter & 0xff : (f.sequence ?? 0) & 0xff;
  }
  if (tier >= 2) h.writeUInt16BE(f.sessionId ?? 0, 4);
  if (tier >= 3) {
    h.writeUInt32BE(f.timestamp >>> 0, 6);
    h.writeUInt16BE((f.counter >>> 8) & 0xffff, 10);
  }
  if (tier >= 4) {
    h.writeUInt32BE(f.keyId >>> 0, 12);
    Buffer.from(f.ecdh).copy(h, 16);
  }
  const pt = Buffer.from(f.plaintext ?? Buffer.alloc(0));
  let payload = pt;
  if (E) {
    const n = nonce96(f.timestamp, f.keys.iv, f.counter);
    if (tier === 5) {
      const { ct, tag } = aeadSeal(f.keys.key, n, h.subarray(0, 48), pt);
      tag.copy(h, 48);
      payload = ct;
    } else {
      const { ct, tag } = aeadSeal(f.keys.key, n, h, pt);
      payload = Buffer.concat([ct, tag]);
    }
  }
  const body = Buffer.concat([h, payload]);
  const macKey = f.macKey ?? f.keys?.mac;
  return Buffer.concat([body, trailerFor(tier, E, body, macKey)]);
}

/** Open the payload of a decoded, trailer-verified message with the given counter. */
export function openPayload(m, keys, counter) {
  if (!m.E) return Buffer.from(m.payload);
  const n = nonce96(m.timestamp, keys.iv, counter);
  if (m.tier === 5) return aeadOpen(keys.key, n, m.header.subarray(0, 48), m.payload, m.tag);
  if (m.payload.length < 16) throw new WireError("truncated");
  return aeadOpen(
    keys.key,
    n,
    m.header,
    m.payload.subarray(0, m.payload.length - 16),
    m.payload.subarray(m.payload.length - 16),
  );
}

/** Rebuild the 32-bit counter from its low 24 bits (§4). highest = -1 before the first. */
export function rebuildCounter(highest, low24) {
  const base = highest < 0 ? 0 : Math.floor(highest / 2 ** 24) * 2 ** 24;
  const target = highest + 1;
  let best = -1, bestDist = Infinity;
  for (const k of [-1, 0, 1]) {
    const c = base + low24 + k * 2 ** 24;
    if (c < 0 || c >= 2 ** 32) continue;
    const d = Math.abs(c - target);
    if (d < bestDist) {
      best = c;
      bestDist = d;
    }
  }
  return best;
}

/** Sliding replay window (§4), per direction and epoch. */
export class ReplayWindow {
  constructor(w = 1024) {
    this.w = w;
    this.highest = -1;
    this.seen = new Set();
  }
  acceptable(c) {
    if (c > this.highest) return true;
    return c > this.highest - this.w && !this.seen.has(c);
  }
  mark(c) {
    if (c > this.highest) this.highest = c;
    this.seen.add(c);
    for (const s of this.seen) if (s <= this.highest - this.w) this.seen.delete(s);
  }
}

// ---------------------------------------------------------------------------
// Key schedule (§5, §7, §8)

/** Split a 168-byte okm as in §5.4 */
export function splitOkm(okm) {
  return {
    i2r: { key: okm.subarray(0, 32), mac: okm.subarray(64, 96), iv: okm.subarray(128, 132) },
    r2i: { key: okm.subarray(32, 64), mac: okm.subarray(96, 128), iv: okm.subarray(132, 136) },
    resume: okm.subarray(136, 168),
  };
}

/** SESSION_ROTATE derivation (§7.1) for one direction's {key, mac, iv}. */
export function rotateKeys(keys, epoch) {
  return {
    key: hkdf(keys.key, ascii("rotate"), u32(epoch), 32),
    mac: hkdf(keys.mac, ascii("rotate"), u32(epoch), 32),
    iv: keys.iv,
  };
}

/** Tier 4 handshake header fields (§5.1), E=0. */
function hsMessage(opcode, sessionId, timestamp, keyIdv, ecdh, payload, macKey) {
  return encode({
    tier: 4,
    opcode,
    sessionId,
    timestamp,
    counter: 0,
    keyId: keyIdv,
    ecdh,
    encrypted: false,
    plaintext: payload,
    macKey,
  });
}

/** Build M1 (§5.1). */
export function buildM1(
  { ePub, nonceI, timestamp, tier, minTier, capabilities, expectKeyId = 0, deviceId },
) {
  const payload = mpEncode({
    nonce: new Bin(nonceI),
    timestamp,
    tier,
    "min-tier": minTier,
    capabilities,
    "device-id": deviceId ? new Bin(deviceId) : undefined,
  });
  return hsMessage(OP.SESSION_INIT, 0, timestamp, expectKeyId, ePub, payload, Buffer.alloc(32));
}

/** k2 and h1 after M1/M2 are known (initiator or responder view given dh1, dh2) */
export function deriveK2(m1, dh1, dh2, salt) {
  const h1 = sha256(m1);
  const k2 = hkdf(
    Buffer.concat([dh1, dh2]),
    salt,
    Buffer.concat([ascii("myclerk-hs2-v0"), h1]),
    32,
  );
  return { h1, k2 };
}

export function buildM2(
  { sessionId, timestamp, rKeyId, erPub, nonceR, selectedTier, selectedCapabilities, srPub, k2 },
) {
  const payload = mpEncode({
    "session-id": sessionId,
    nonce: new Bin(nonceR),
    "selected-tier": selectedTier,
    "selected-capabilities": selectedCapabilities,
    static: new Bin(srPub),
  });
  return hsMessage(OP.SESSION_ACK, sessionId, timestamp, rKeyId, erPub, payload, k2);
}

export function deriveK3(h1, m2, dh1, dh2, dh3, salt) {
  const h2 = sha256(Buffer.concat([h1, m2]));
  const k3 = hkdf(
    Buffer.concat([dh1, dh2, dh3]),
    salt,
    Buffer.concat([ascii("myclerk-hs3-v0"), h2]),
    32,
  );
  return { h2, k3 };
}

export function buildM3({ sessionId, timestamp, iKeyId, siPub, tier, k3 }) {
  return hsMessage(
    OP.KEY_EXCHANGE_COMPLETE,
    sessionId,
    timestamp,
    iKeyId,
    siPub,
    mpEncode({ tier }),
    k3,
  );
}

export function deriveSession(h2, m3, dh1, dh2, dh3, salt) {
  const h3 = sha256(Buffer.concat([h2, m3]));
  const okm = hkdf(
    Buffer.concat([dh1, dh2, dh3]),
    salt,
    Buffer.concat([ascii("myclerk-session-v0"), h3]),
    168,
  );
  return { h3, okm, ...splitOkm(okm) };
}

/**
 * Whole handshake from fixed inputs (both roles, as the vectors do). Returns every
 * intermediate so a checker can name which field differs.
 */
export function handshakeFromInputs(inp) {
  const si = hex(inp.initiatorStatic), sr = hex(inp.responderStatic);
  const ei = hex(inp.initiatorEphemeral), er = hex(inp.responderEphemeral);
  const siPub = x25519Public(si), srPub = x25519Public(sr);
  const eiPub = x25519Public(ei), erPub = x25519Public(er);
  const nonceI = hex(inp.nonceI), nonceR = hex(inp.nonceR);
  const salt = Buffer.concat([nonceI, nonceR]);
  const ts = inp.timestamp;
  const m1 = buildM1({
    ePub: eiPub,
    nonceI,
    timestamp: ts,
    tier: inp.tier,
    minTier: inp.minTier,
    capabilities: inp.capabilities,
    expectKeyId: inp.expectKeyId ?? 0,
  });
  // responder view
  const dh1 = x25519(er, eiPub), dh2 = x25519(sr, eiPub);
  // initiator view for cross-check
  const dh1i = x25519(ei, erPub), dh2i = x25519(ei, srPub);
  if (!dh1.equals(dh1i) || !dh2.equals(dh2i)) throw new Error("DH mismatch between roles");
  const { h1, k2 } = deriveK2(m1, dh1, dh2, salt);
  const selectedTier = Math.min(inp.responderMaxTier ?? 5, inp.tier);
  const m2 = buildM2({
    sessionId: inp.sessionId,
    timestamp: ts,
    rKeyId: keyId(srPub),
    erPub,
    nonceR,
    selectedTier,
    selectedCapabilities: inp.capabilities,
    srPub,
    k2,
  });
  const dh3 = x25519(er, siPub);
  if (!dh3.equals(x25519(si, erPub))) throw new Error("dh3 mismatch between roles");
  const { h2, k3 } = deriveK3(h1, m2, dh1, dh2, dh3, salt);
  const m3 = buildM3({
    sessionId: inp.sessionId,
    timestamp: ts,
    iKeyId: keyId(siPub),
    siPub,
    tier: selectedTier,
    k3,
  });
  const sess = deriveSession(h2, m3, dh1, dh2, dh3, salt);
  return { siPub, srPub, eiPub, erPub, m1, m2, m3, h1, h2, k2, k3, selectedTier, ...sess };
}

/** Resumption binder key (§8) */
export const binderKey = (resume) =>
  hkdf(resume, Buffer.alloc(0), ascii("myclerk-resume-binder-v0"), 32);

/** Resumed-session okm (§8) */
export function resumeKeys(resume, dh, nonceI, nonceR, resumeMsg) {
  const hr = sha256(resumeMsg);
  const okm = hkdf(
    Buffer.concat([resume, dh]),
    Buffer.concat([nonceI, nonceR]),
    Buffer.concat([ascii("myclerk-resume-v0"), hr]),
    168,
  );
  return { hr, okm, ...splitOkm(okm) };
}

/** Ticket (§8): iv(12) || AES-256-GCM(ticket_key, iv, aad="myclerk-ticket-v0", pt) || tag */
export function openTicket(ticketKey, ticket) {
  const iv = ticket.subarray(0, 12),
    ct = ticket.subarray(12, ticket.length - 16),
    tag = ticket.subarray(ticket.length - 16);
  const d = crypto.createDecipheriv("aes-256-gcm", ticketKey, iv);
  d.setAAD(ascii("myclerk-ticket-v0"));
  d.setAuthTag(tag);
  const pt = Buffer.concat([d.update(ct), d.final()]);
  return {
    pt,
    resume: pt.subarray(0, 32),
    peerHash: pt.subarray(32, 48),
    issuedAt: pt.readUInt32BE(48),
    expiresAt: pt.readUInt32BE(52),
    ticketNonce: pt.subarray(56, 64),
  };
}
export function sealTicket(ticketKey, iv, pt) {
  const c = crypto.createCipheriv("aes-256-gcm", ticketKey, iv);
  c.setAAD(ascii("myclerk-ticket-v0"));
  const ct = Buffer.concat([c.update(pt), c.final()]);
  return Buffer.concat([iv, ct, c.getAuthTag()]);
}

// ---------------------------------------------------------------------------
// TCP client (§3 framing, §5 handshake as initiator, §6 protected messages)

/** Frames a message with its u32 big-endian length. */
export const frame = (msg) => Buffer.concat([u32(msg.length), msg]);

class FrameReader {
  constructor(sock) {
    this.buf = Buffer.alloc(0);
    this.queue = [];
    this.waiters = [];
    this.closed = null;
    sock.on("data", (d) => {
      this.buf = Buffer.concat([this.buf, d]);
      for (;;) {
        if (this.buf.length < 4) break;
        const n = this.buf.readUInt32BE(0);
        if (this.buf.length < 4 + n) break;
        const msg = this.buf.subarray(4, 4 + n);
        this.buf = this.buf.subarray(4 + n);
        if (n === 0) continue; // keepalive filler
        this.push({ msg: Buffer.from(msg) });
      }
    });
    sock.on("close", () => this.end(new Error("connection closed")));
    sock.on("error", (e) => this.end(e));
  }
  push(x) {
    const w = this.waiters.shift();
    if (w) w.resolve(x.msg);
    else this.queue.push(x);
  }
  end(e) {
    if (this.closed) return;
    this.closed = e;
    for (const w of this.waiters.splice(0)) w.reject(e);
  }
  next(timeoutMs = 5000) {
    const q = this.queue.shift();
    if (q) return Promise.resolve(q.msg);
    if (this.closed) return Promise.reject(this.closed);
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w.resolve !== res);
        reject(new Error(`timeout after ${timeoutMs} ms waiting for a message`));
      }, timeoutMs);
      const res = (m) => {
        clearTimeout(t);
        resolve(m);
      };
      this.waiters.push({ resolve: res, reject: (e) => (clearTimeout(t), reject(e)) });
    });
  }
}

/** Describe an ERROR map as an Error object. */
function errorFrom(m, body) {
  const e = new Error(
    `ERROR code 0x${(body.code ?? 0).toString(16)} detail ${body.detail ?? "-"} (opcode 0x${
      (m.opcode ?? 0).toString(16)
    })`,
  );
  e.body = body;
  return e;
}

/**
 * An initiator session over TCP. connect() performs the handshake at `tier`.
 */
export class Client {
  constructor(
    host,
    port,
    { tier = 5, minTier, staticPriv, timeoutMs = 5000, encrypt = true } = {},
  ) {
    Object.assign(this, { host, port, tier, minTier: minTier ?? tier, timeoutMs });
    this.staticPriv = staticPriv ?? crypto.randomBytes(32);
    this.sendCounter = 0;
    this.recvWindow = new ReplayWindow();
    this.nextId = 1;
    this.dropped = [];
    // Tier 3/4: send with E=1 (default) or E=0 (HMAC trailer only); Tier 5 always E=1
    this.encrypt = encrypt;
  }

  async connect() {
    this.sock = net.createConnection({ host: this.host, port: this.port });
    this.sock.setNoDelay(true);
    await new Promise((res, rej) => {
      this.sock.once("connect", res);
      this.sock.once("error", rej);
    });
    this.reader = new FrameReader(this.sock);
    await this.handshake();
  }

  write(msg) {
    this.sock.write(frame(msg));
  }

  now() {
    return Math.floor(Date.now() / 1000);
  }

  async handshake() {
    const ei = crypto.randomBytes(32), eiPub = x25519Public(ei);
    const si = this.staticPriv, siPub = x25519Public(si);
    const nonceI = crypto.randomBytes(8);
    const ts = this.now();
    const m1 = buildM1({
      ePub: eiPub,
      nonceI,
      timestamp: ts,
      tier: this.tier,
      minTier: this.minTier,
      capabilities: [],
    });
    this.write(m1);
    const raw2 = await this.reader.next(this.timeoutMs);
    const m2 = decode(raw2);
    if (m2.opcode === OP.ERROR) throw errorFrom(m2, mpDecode(m2.payload));
    if (m2.opcode !== OP.SESSION_ACK || m2.tier !== 4 || m2.E) {
      throw new Error(
        `expected SESSION_ACK (tier 4, E=0), got opcode 0x${
          m2.opcode?.toString(16)
        } tier ${m2.tier}`,
      );
    }
    const p2 = mpDecode(m2.payload);
    const srPub = Buffer.from(p2.static);
    if (m2.keyId !== keyId(srPub)) throw new Error("M2 key id does not match its static key");
    if (p2["session-id"] !== m2.sessionId) throw new Error("M2 session-id mismatch");
    const erPub = Buffer.from(m2.ecdh);
    const salt = Buffer.concat([nonceI, Buffer.from(p2.nonce)]);
    const dh1 = x25519(ei, erPub), dh2 = x25519(ei, srPub);
    const { h1, k2 } = deriveK2(m1, dh1, dh2, salt);
    if (!verifyTrailer(m2, k2)) throw new Error("M2 trailer (k2) does not verify");
    const sel = p2["selected-tier"];
    if (sel > this.tier || sel < this.minTier) {
      throw new Error(`selected tier ${sel} outside [${this.minTier}, ${this.tier}]`);
    }
    const dh3 = x25519(si, erPub);
    const { h2, k3 } = deriveK3(h1, raw2, dh1, dh2, dh3, salt);
    const m3 = buildM3({
      sessionId: m2.sessionId,
      timestamp: this.now(),
      iKeyId: keyId(siPub),
      siPub,
      tier: sel,
      k3,
    });
    const sess = deriveSession(h2, m3, dh1, dh2, dh3, salt);
    this.write(m3);
    Object.assign(this, {
      sessionId: m2.sessionId,
      selectedTier: sel,
      send: sess.i2r,
      recv: sess.r2i,
      resume: sess.resume,
      h3: sess.h3,
      eiPub,
      erPub,
      serverKeyId: m2.keyId,
    });
  }

  /**
   * Resume (§8) on a new connection with the ticket and resumption secret of `prev`
   * (a Client whose session received a SESSION_TICKET).
   */
  async resumeFrom(prev) {
    if (!prev.ticket) throw new Error("no ticket to resume with");
    this.sock = net.createConnection({ host: this.host, port: this.port });
    await new Promise((res, rej) => {
      this.sock.once("connect", res);
      this.sock.once("error", rej);
    });
    this.reader = new FrameReader(this.sock);
    const ei = crypto.randomBytes(32), eiPub = x25519Public(ei);
    const nonceI = crypto.randomBytes(8);
    const ts = this.now();
    const kb = binderKey(prev.resume);
    const msg = encode({
      tier: 4,
      opcode: OP.SESSION_RESUME,
      sessionId: 0,
      timestamp: ts,
      counter: 0,
      keyId: 0,
      ecdh: eiPub,
      encrypted: false,
      macKey: kb,
      plaintext: mpEncode({
        "old-session-id": prev.sessionId,
        ticket: new Bin(prev.ticket.ticket),
        nonce: new Bin(nonceI),
        tier: this.tier,
      }),
    });
    this.write(msg);
    const raw = await this.reader.next(this.timeoutMs);
    const m = decode(raw);
    const body0 = m.tier < 4 || m.opcode === OP.ERROR ? null : undefined;
    if (m.opcode === OP.ERROR) throw errorFrom(m, mpDecode(m.payload));
    if (body0 === null || m.opcode !== OP.SESSION_RESUMED || m.E) {
      throw new Error(`expected SESSION_RESUMED, got opcode ${m.opcode}`);
    }
    const p = mpDecode(m.payload);
    if (p["session-id"] !== m.sessionId) throw new Error("SESSION_RESUMED session-id mismatch");
    const erPub = Buffer.from(m.ecdh);
    const rk = resumeKeys(prev.resume, x25519(ei, erPub), nonceI, Buffer.from(p.nonce), msg);
    if (!verifyTrailer(m, rk.r2i.mac)) {
      throw new Error("SESSION_RESUMED trailer (mac_r2i) does not verify");
    }
    Object.assign(this, {
      sessionId: m.sessionId,
      selectedTier: p["selected-tier"],
      send: rk.i2r,
      recv: rk.r2i,
      resume: rk.resume,
      eiPub,
      erPub,
      resumedKeyId: m.keyId,
      resumeMessage: msg,
    });
  }

  /** Send raw bytes of a previously built message (replay tests). */
  writeRaw(msg) {
    this.write(msg);
  }

  /** Seal and send an application/core message at the session tier. */
  sendMsg(opcode, body) {
    const t = this.selectedTier;
    const c = this.sendCounter++;
    const msg = encode({
      tier: t,
      opcode,
      sequence: c & 0xff,
      sessionId: this.sessionId,
      timestamp: this.now(),
      counter: c,
      keyId: 0,
      ecdh: this.eiPub,
      encrypted: t >= 3 && this.encrypt,
      keys: this.send,
      plaintext: mpEncode(body),
    });
    this.write(msg);
    return msg;
  }

  /** Receive the next protected message that authenticates; returns {m, counter, body}. */
  async recvMsg() {
    for (;;) {
      const raw = await this.reader.next(this.timeoutMs);
      const m = decode(raw);
      if (m.tier !== this.selectedTier) {
        // a Tier 1 ERROR outside the session
        if (m.tier === 1 && m.opcode === OP.ERROR) throw errorFrom(m, mpDecode(m.payload));
        this.dropped.push("tier");
        continue;
      }
      if (m.tier < 3) {
        // Tier 1/2: no keys, no replay protection (§4); Tier 2 CRC failures are dropped
        if (!verifyTrailer(m)) {
          this.dropped.push("crc");
          continue;
        }
        if (m.tier === 2 && m.sessionId !== this.sessionId) {
          this.dropped.push("session-id"); // §6.1 step 4: never answered
          continue;
        }
        return { m, counter: m.sequence, body: mpDecode(m.payload) };
      }
      // §6.1 receive order: session id (step 4) before the trailer (step 5)
      if (m.sessionId !== this.sessionId) {
        this.dropped.push("session-id");
        continue;
      }
      if (!verifyTrailer(m, this.recv.mac)) {
        this.dropped.push("mac");
        continue;
      }
      if (m.tier >= 4 && (m.keyId !== 0 || !m.ecdh.equals(this.erPub))) {
        this.dropped.push("key");
        continue;
      }
      const c = rebuildCounter(this.recvWindow.highest, m.low24);
      if (!this.recvWindow.acceptable(c)) {
        this.dropped.push("replay");
        continue;
      }
      let pt;
      try {
        pt = openPayload(m, this.recv, c);
      } catch {
        this.dropped.push("aead");
        continue;
      }
      this.recvWindow.mark(c);
      return { m, counter: c, body: mpDecode(pt) };
    }
  }

  /** Receive until a message with `opcode` arrives (skipping e.g. SESSION_TICKET). */
  async recvOp(opcodes, pred = () => true) {
    for (let i = 0; i < 32; i++) {
      const r = await this.recvMsg();
      if (opcodes.includes(r.m.opcode) && pred(r)) return r;
      if (r.m.opcode === OP.SESSION_TICKET) this.ticket = r.body;
    }
    throw new Error(`no message with opcode ${opcodes} after 32 messages`);
  }

  async keepalive() {
    const id = this.nextId++;
    const t0 = process.hrtime.bigint();
    this.sendMsg(OP.KEEPALIVE, { id });
    const r = await this.recvOp(
      [OP.KEEPALIVE_ACK, OP.ERROR],
      (x) => x.m.opcode === OP.ERROR || x.body.re === id,
    );
    if (r.m.opcode === OP.ERROR) throw errorFrom(r.m, r.body);
    return Number(process.hrtime.bigint() - t0) / 1e6;
  }

  async request(opcode, body = {}) {
    const id = this.nextId++;
    this.sendMsg(opcode, { ...body, id });
    return await this.recvOp(
      [opcode, OP.ERROR],
      (x) => x.body.re === id || x.m.opcode === OP.ERROR,
    );
  }

  async close() {
    this.sendMsg(OP.SESSION_CLOSE, { reason: "interop done" });
    const r = await this.recvOp([OP.SESSION_CLOSE_ACK, OP.ERROR]);
    if (r.m.opcode === OP.ERROR) throw errorFrom(r.m, r.body);
    await new Promise((res) => {
      if (this.reader.closed) return res();
      const t = setTimeout(() => (this.sock.destroy(), res()), 2000);
      this.sock.once("close", () => (clearTimeout(t), res()));
      this.sock.end();
    });
  }

  destroy() {
    this.sock?.destroy();
  }
}
