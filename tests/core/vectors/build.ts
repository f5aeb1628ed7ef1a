/**
 * Builds every profile vector from fixed inputs. Used twice: by
 * `gen_vectors.ts` (once, to write docs/vectors/*.json) and by
 * `vectors_test.ts`, which rebuilds from the inputs stored in the files and
 * compares every output byte with the file.
 *
 * @module
 */

import type { CryptoBackend, KeyPair } from "../../../core/crypto/types.ts";
import { crc16 } from "../../../core/crypto/crc16.ts";
import { encodePlain } from "../../../core/wire/message.ts";
import { type DirectionKeys, nonce96, sealMessage } from "../../../core/wire/protect.ts";
import { splitFragments } from "../../../core/wire/fragment.ts";
import { encodePayload } from "../../../core/wire/payload.ts";
import { Op } from "../../../core/opcodes.ts";
import { identityFrom, Initiator, Responder } from "../../../core/session/handshake.ts";
import { Session } from "../../../core/session/session.ts";
import { acceptResume, ResumeInitiator, TicketIssuer } from "../../../core/session/ticket.ts";
import { encodeError, encodeTicket } from "../../../core/session/payloads.ts";
import { rebuildCounter } from "../../../core/session/replay.ts";
import { keyIdOf, rotateDirection } from "../../../core/session/schedule.ts";
import { fromHex, toHex } from "../../../core/node/keys.ts";

/** Hex-encoded JSON object. */
export type Json = Record<string, unknown>;

/** Fixed bytes `f(i) = (seed + 7i) & 0xff`, so inputs are easy to retype. */
export function pattern(len: number, seed: number): Uint8Array {
  const b = new Uint8Array(len);
  for (let i = 0; i < len; i++) b[i] = (seed + 7 * i) & 0xff;
  return b;
}

function kp(b: CryptoBackend, priv: Uint8Array): KeyPair {
  return { privateKey: priv, publicKey: b.x25519Public(priv) };
}

function dk(k: DirectionKeys): Json {
  return { key: toHex(k.key), mac: toHex(k.mac), iv: toHex(k.iv) };
}

/** Inputs of the tier vectors. */
export const TIER_INPUTS = {
  timestamp: 1_767_225_600,
  keys: { key: toHex(pattern(32, 1)), mac: toHex(pattern(32, 2)), iv: toHex(pattern(4, 3)) },
  ecdh: toHex(pattern(32, 4)),
  counter: 0x012345,
  sessionId: 0x1234,
  keyId: 0,
  opcode: 0x0200,
  plaintext: toHex(encodePayload({ "id": 7, "device": "thermo-1" })),
};

/** Tier vectors: every tier, with and without encryption. */
export function buildTiers(b: CryptoBackend, inp = TIER_INPUTS): Json[] {
  const pt = fromHex(inp.plaintext);
  const keys: DirectionKeys = {
    key: fromHex(inp.keys.key),
    mac: fromHex(inp.keys.mac),
    iv: fromHex(inp.keys.iv),
  };
  const out: Json[] = [];
  out.push({
    name: "tier0",
    tier: 0,
    plaintext: toHex(pattern(5, 9)),
    message: toHex(encodePlain({ tier: 0 }, pattern(5, 9))),
  });
  out.push({
    name: "tier1",
    tier: 1,
    opcode: inp.opcode,
    sequence: 0x45,
    plaintext: inp.plaintext,
    message: toHex(encodePlain({ tier: 1, opcode: inp.opcode, sequence: 0x45 }, pt)),
  });
  const t2 = encodePlain(
    { tier: 2, opcode: inp.opcode, sequence: 0x45, sessionId: inp.sessionId },
    pt,
  );
  out.push({
    name: "tier2-crc16",
    tier: 2,
    opcode: inp.opcode,
    sequence: 0x45,
    sessionId: inp.sessionId,
    plaintext: inp.plaintext,
    crc16: t2[t2.length - 2] * 256 + t2[t2.length - 1],
    message: toHex(t2),
  });
  for (const tier of [3, 4, 5] as const) {
    for (const enc of tier === 5 ? [true] : [false, true]) {
      const m = sealMessage(
        b,
        {
          tier,
          opcode: inp.opcode,
          sessionId: inp.sessionId,
          timestamp: inp.timestamp,
          keyId: inp.keyId,
          ecdh: fromHex(inp.ecdh),
          encrypted: enc,
        },
        inp.counter,
        keys,
        pt,
      );
      out.push({
        name: `tier${tier}-${enc ? "encrypted" : "plain"}`,
        tier,
        encrypted: enc,
        opcode: inp.opcode,
        sessionId: inp.sessionId,
        timestamp: inp.timestamp,
        counter: inp.counter,
        sequence: inp.counter & 0xff,
        nonce: (inp.counter >>> 8) & 0xffff,
        nonce96: toHex(nonce96(inp.timestamp, keys.iv, inp.counter)),
        keyId: tier >= 4 ? inp.keyId : undefined,
        ecdh: tier >= 4 ? inp.ecdh : undefined,
        keys: inp.keys,
        plaintext: inp.plaintext,
        message: toHex(m),
      });
    }
  }
  return out;
}

/** Inputs of the trailer vectors. */
export const TRAILER_INPUTS = {
  check: "313233343536373839",
  macKey: toHex(pattern(32, 2)),
  data: toHex(pattern(40, 5)),
};

/** Trailer vectors: CRC-16 check value and HMAC truncations. */
export function buildTrailers(b: CryptoBackend, inp = TRAILER_INPUTS): Json {
  const mac = b.hmacSha256(fromHex(inp.macKey), fromHex(inp.data));
  return {
    crc16: {
      algorithm: "CRC-16/IBM-3740 (poly 0x1021, init 0xFFFF, refin false, refout false, xorout 0)",
      input: inp.check,
      check: crc16(fromHex(inp.check)),
    },
    hmac: {
      key: inp.macKey,
      data: inp.data,
      hmac256: toHex(mac),
      hmac64: toHex(mac.subarray(0, 8)),
      hmac32: toHex(mac.subarray(0, 4)),
    },
  };
}

/** Inputs of the handshake vector. */
export const HANDSHAKE_INPUTS = {
  timestamp: 1_767_225_600,
  initiatorStatic: toHex(pattern(32, 0x11)),
  responderStatic: toHex(pattern(32, 0x22)),
  initiatorEphemeral: toHex(pattern(32, 0x33)),
  responderEphemeral: toHex(pattern(32, 0x44)),
  nonceI: toHex(pattern(8, 0x55)),
  nonceR: toHex(pattern(8, 0x66)),
  tier: 5,
  minTier: 4,
  capabilities: [1, 2, 4],
  sessionId: 0x0101,
  ticketKey: toHex(pattern(32, 0x77)),
  ticketIv: toHex(pattern(12, 0x78)),
  ticketNonce: toHex(pattern(8, 0x79)),
  resumeEphemeralI: toHex(pattern(32, 0x7a)),
  resumeEphemeralR: toHex(pattern(32, 0x7b)),
  resumeNonceI: toHex(pattern(8, 0x7c)),
  resumeNonceR: toHex(pattern(8, 0x7d)),
  resumedSessionId: 0x0202,
};

/**
 * The handshake, first data messages, SESSION_TICKET, rotation, an error
 * reply and resumption, all from {@link HANDSHAKE_INPUTS}.
 */
export function buildHandshake(b: CryptoBackend, inp = HANDSHAKE_INPUTS): Json {
  const now = () => inp.timestamp;
  const si = identityFrom(b, fromHex(inp.initiatorStatic));
  const sr = identityFrom(b, fromHex(inp.responderStatic));
  const ini = new Initiator({
    backend: b,
    identity: si,
    now,
    tier: inp.tier as 5,
    minTier: inp.minTier as 4,
    capabilities: inp.capabilities,
    ephemeral: kp(b, fromHex(inp.initiatorEphemeral)),
    nonce: fromHex(inp.nonceI),
  });
  const res = new Responder({
    backend: b,
    identity: sr,
    now,
    sessionId: inp.sessionId,
    capabilities: inp.capabilities,
    ephemeral: kp(b, fromHex(inp.responderEphemeral)),
    nonce: fromHex(inp.nonceR),
  });
  const m1 = ini.start();
  const m2 = res.accept(m1);
  const { m3, state: si_state } = ini.finish(m2);
  const sr_state = res.complete(m3);
  // Snapshot before the sessions run: rotation erases the old keys in place.
  const sessionKeys = {
    i2r: dk(si_state.keys.i2r),
    r2i: dk(si_state.keys.r2i),
    resume: toHex(si_state.keys.resume),
  };
  const responderAgrees = JSON.stringify(sessionKeys) ===
    JSON.stringify({
      i2r: dk(sr_state.keys.i2r),
      r2i: dk(sr_state.keys.r2i),
      resume: toHex(sr_state.keys.resume),
    });
  const outI: Uint8Array[] = [];
  const outR: Uint8Array[] = [];
  const sI = new Session(si_state, { backend: b, send: (x) => outI.push(x), now });
  const sR = new Session(sr_state, { backend: b, send: (x) => outR.push(x), now });
  sI.send(0x0200, encodePayload({ "id": 1 }));
  sR.send(0x0200, encodePayload({ "re": 1, "devices": [] }));
  const data = {
    i2r: toHex(outI[0]),
    r2i: toHex(outR[0]),
    i2rPlaintext: toHex(encodePayload({ "id": 1 })),
    r2iPlaintext: toHex(encodePayload({ "re": 1, "devices": [] })),
  };
  // Ticket (responder -> initiator), third message of the responder.
  const issuer = new TicketIssuer(b, fromHex(inp.ticketKey));
  const ticket = issuer.issue(
    si_state.keys.resume,
    si.publicKey,
    inp.timestamp,
    fromHex(inp.ticketIv),
    fromHex(inp.ticketNonce),
  );
  sR.send(Op.SESSION_TICKET, encodeTicket({ ticket, lifetime: issuer.lifetime }));
  const ticketMsg = outR[1];
  // Rotation of the initiator's send direction, then a message under epoch 1.
  const before = dk(si_state.keys.i2r);
  const rotated = rotateDirection(b, si_state.keys.i2r, 1);
  const rotatedHex = dk(rotated);
  sI.rotate(false);
  sI.send(0x0200, encodePayload({ "id": 2 }));
  const rotateMsg = outI[1];
  const afterRotate = outI[2];
  // An ERROR reply on the session: FORBIDDEN with the required tier.
  sR.send(
    Op.ERROR,
    // A request to a served range without a handler, answered on the session.
    encodeError({ code: 0x13, opcode: 0x0250, re: 2, detail: "no-handler" }),
  );
  const errSealed = outR[2];
  const errPlain = encodePlain(
    { tier: 1, opcode: Op.ERROR, sequence: 0 },
    // A session-less Tier 1 request {"id": 9} for a federation opcode (minimum tier 4).
    encodeError({ code: 0x12, opcode: 0x0300, re: 9, detail: "tier", requiredTier: 4 }),
  );
  // Resumption.
  const ri = new ResumeInitiator(
    b,
    {
      ticket,
      resume: si_state.keys.resume,
      oldSessionId: inp.sessionId,
      peerStatic: sr.publicKey,
      peerKeyId: sr.keyId,
    },
    5,
    kp(b, fromHex(inp.resumeEphemeralI)),
    fromHex(inp.resumeNonceI),
  );
  const resumeMsg = ri.start(inp.timestamp);
  const issuer2 = new TicketIssuer(b, fromHex(inp.ticketKey));
  const { reply, state: rr } = acceptResume(b, issuer2, resumeMsg, {
    sessionId: inp.resumedSessionId,
    now: inp.timestamp,
    maxTier: 5,
    minTier: 0,
    ephemeral: kp(b, fromHex(inp.resumeEphemeralR)),
    nonce: fromHex(inp.resumeNonceR),
  });
  const ri_state = ri.finish(reply);
  return {
    inputs: inp,
    initiatorKeyId: si.keyId,
    responderKeyId: sr.keyId,
    initiatorStaticPublic: toHex(si.publicKey),
    responderStaticPublic: toHex(sr.publicKey),
    m1: toHex(m1),
    m2: toHex(m2),
    m3: toHex(m3),
    h3: toHex(si_state.transcriptHash),
    selectedTier: si_state.tier,
    sessionKeys,
    responderAgrees,
    data,
    ticket: { ticket: toHex(ticket), lifetime: issuer.lifetime, message: toHex(ticketMsg) },
    rotation: {
      before,
      epoch: 1,
      after: rotatedHex,
      rotateMessage: toHex(rotateMsg),
      messageEpoch1: toHex(afterRotate),
      messageEpoch1Plaintext: toHex(encodePayload({ "id": 2 })),
    },
    error: { sealed: toHex(errSealed), tier1: toHex(errPlain) },
    resume: {
      resumeMessage: toHex(resumeMsg),
      resumedMessage: toHex(reply),
      keys: {
        i2r: dk(ri_state.keys.i2r),
        r2i: dk(ri_state.keys.r2i),
        resume: toHex(ri_state.keys.resume),
      },
      responderAgrees: toHex(rr.keys.r2i.mac) === toHex(ri_state.keys.r2i.mac),
    },
  };
}

/** Inputs of the fragment vector. */
export const FRAGMENT_INPUTS = {
  payload: toHex(pattern(2500, 0x31)),
  fragmentId: 0x0042,
  chunk: 1000,
};

/** A 2500-byte payload fragmented into three Tier 4 encrypted messages with the tier vector keys. */
export function buildFragments(b: CryptoBackend, inp = FRAGMENT_INPUTS, t = TIER_INPUTS): Json {
  const keys: DirectionKeys = {
    key: fromHex(t.keys.key),
    mac: fromHex(t.keys.mac),
    iv: fromHex(t.keys.iv),
  };
  const parts = splitFragments(fromHex(inp.payload), inp.fragmentId, inp.chunk);
  const messages = parts.map((p, i) =>
    toHex(sealMessage(
      b,
      {
        tier: 4,
        opcode: 0x0212,
        sessionId: t.sessionId,
        timestamp: t.timestamp,
        keyId: 0,
        ecdh: fromHex(t.ecdh),
        encrypted: true,
        fragment: true,
      },
      i,
      keys,
      p,
    ))
  );
  return {
    inputs: inp,
    header: {
      opcode: 0x0212,
      sessionId: t.sessionId,
      timestamp: t.timestamp,
      keyId: 0,
      ecdh: t.ecdh,
      counters: [0, 1, 2],
    },
    keys: t.keys,
    fragmentPayloads: parts.map(toHex),
    messages,
  };
}

/** Counter rebuild examples (profile §4). */
export function buildCounters(): Json[] {
  const cases: [number, number][] = [
    [-1, 0],
    [-1, 5],
    [0x00fffffe, 0x000000],
    [0x01000005, 0xfffffe],
    [0x02000000, 0x000010],
    [0xfffffff0, 0xfffffff],
  ];
  return cases.map(([h, low]) => ({
    highest: h,
    low24: low & 0xffffff,
    counter: rebuildCounter(h, low & 0xffffff),
  }));
}

/** Key id example (profile §5). */
export function buildKeyId(b: CryptoBackend): Json {
  const pub = b.x25519Public(pattern(32, 0x11));
  return { public: toHex(pub), sha256: toHex(b.sha256(pub)), keyId: keyIdOf(b, pub) };
}
