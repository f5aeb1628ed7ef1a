/**
 * Fuzz targets of the protocol core and the seed messages they start from.
 * Seeds are produced by the real code (every tier and flag combination,
 * handshake and resume messages, framed streams, fragments, compressed and
 * typed payloads) plus any `message` hex fields of `docs/vectors/*.json`.
 *
 * A target's `run` either returns an outcome label, or throws: a
 * MyClerkError is a typed error; anything else is a crash. Targets marked
 * `noThrow` document "never throws", so any exception there is a crash.
 *
 * @module
 */

import { backend as pickBackend, type BackendName } from "../../core/crypto/mod.ts";
import type { CryptoBackend, KeyPair } from "../../core/crypto/types.ts";
import { Op } from "../../core/opcodes.ts";
import { inspectBytes } from "../../core/cli/inspect.ts";
import { compress, decompress } from "../../core/wire/compress.ts";
import { Reassembler, splitFragments } from "../../core/wire/fragment.ts";
import { encodeFrame, FrameReader, MIN_MAX_MESSAGE } from "../../core/wire/frame.ts";
import type { Tier } from "../../core/wire/header.ts";
import { decodeMessage, encodePlain } from "../../core/wire/message.ts";
import { sealMessage } from "../../core/wire/protect.ts";
import { decodeMap, decodePayload, encodePayload } from "../../core/wire/payload.ts";
import * as P from "../../core/session/payloads.ts";
import { identityFrom, Initiator, Responder } from "../../core/session/handshake.ts";
import { Session } from "../../core/session/session.ts";
import { acceptResume, ResumeInitiator, TicketIssuer } from "../../core/session/ticket.ts";
import { isMyClerkError } from "../../core/errors.ts";
import { parseAcl } from "../../core/node/acl.ts";
import { validateConfig } from "../../core/node/config.ts";
import type { Rng } from "./mutate.ts";
import { pluginTargets } from "./targets_plugins.ts";
import { federationTargets } from "./targets_federation.ts";

/** One fuzz target. */
export interface Target {
  readonly name: string;
  readonly seeds: readonly Uint8Array[];
  /** True when the function under test promises never to throw. */
  readonly noThrow?: boolean;
  /** Processes one input; returns an outcome label for the report. */
  run(input: Uint8Array, rng: Rng): string;
}

/** Fixed clock of every target (Unix seconds). */
export const FUZZ_NOW = 1_700_000_000;
const APP = 0x0200;
const now = () => FUZZ_NOW;

const PAYLOAD_DECODERS: readonly (readonly [string, (b: Uint8Array) => unknown])[] = [
  ["decodePayload", decodePayload],
  ["decodeMap", decodeMap],
  ["decodeSessionInit", P.decodeSessionInit],
  ["decodeSessionAck", P.decodeSessionAck],
  ["decodeKeyExchangeComplete", P.decodeKeyExchangeComplete],
  ["decodeError", P.decodeError],
  ["decodeTicket", P.decodeTicket],
  ["decodeResume", P.decodeResume],
  ["decodeResumed", P.decodeResumed],
  ["decodeRotate", P.decodeRotate],
  ["decodeRekey", P.decodeRekey],
  ["decodeReason", P.decodeReason],
  ["decodeKeepalive", P.decodeKeepalive],
];

/** Every `decode*` of session/payloads.ts is listed (checked by the fuzz test). */
export const PAYLOAD_DECODER_NAMES: readonly string[] = PAYLOAD_DECODERS.map(([n]) => n);

function hexToBytes(s: string): Uint8Array | undefined {
  if (s.length % 2 !== 0 || !/^[0-9a-fA-F]+$/.test(s)) return undefined;
  const out = new Uint8Array(s.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(s.slice(2 * i, 2 * i + 2), 16);
  return out;
}

/** `message` hex strings anywhere in docs/vectors/*.json (none is fine). */
export function vectorMessages(
  dir = new URL("../../docs/vectors/", import.meta.url),
): Uint8Array[] {
  const out: Uint8Array[] = [];
  const walk = (v: unknown, key: string) => {
    if (typeof v === "string" && key === "message") {
      const b = hexToBytes(v);
      if (b) out.push(b);
    } else if (Array.isArray(v)) {
      for (const x of v) walk(x, key);
    } else if (v && typeof v === "object") {
      for (const [k, x] of Object.entries(v)) walk(x, k);
    }
  };
  try {
    for (const e of Deno.readDirSync(dir)) {
      if (!e.isFile || !e.name.endsWith(".json")) continue;
      try {
        walk(JSON.parse(Deno.readTextFileSync(new URL(e.name, dir))), "");
      } catch { /* a malformed vector file is the vector suite's problem, not a seed */ }
    }
  } catch { /* no vectors directory yet */ }
  return out;
}

/** Pushes `x` cut at `cuts` (then one empty push) into a fresh reader; stops at the first error. */
function readAll(x: Uint8Array, cuts: readonly number[]): { got: Uint8Array[]; err: unknown } {
  const r = new FrameReader(MIN_MAX_MESSAGE);
  const got: Uint8Array[] = [];
  let prev = 0;
  for (const c of [...cuts, x.length]) {
    try {
      for (const m of r.push(x.subarray(prev, c))) got.push(m.slice());
    } catch (e) {
      return { got, err: e };
    }
    prev = c;
  }
  return { got, err: undefined };
}

/** Deterministic key pair from a byte (fuzz runs must be reproducible). */
function fixedPair(b: CryptoBackend, x: number): KeyPair {
  const privateKey = new Uint8Array(32).fill(x);
  return { privateKey, publicKey: b.x25519Public(privateKey) };
}

interface SessionPair {
  a: Session;
  b: Session;
  outA: Uint8Array[];
  outB: Uint8Array[];
}

function makePair(bk: CryptoBackend, tier: Tier): SessionPair {
  const ini = new Initiator({
    backend: bk,
    identity: identityFrom(bk, new Uint8Array(32).fill(1)),
    now,
    tier,
    minTier: tier,
  });
  const res = new Responder({
    backend: bk,
    identity: identityFrom(bk, new Uint8Array(32).fill(2)),
    now,
    sessionId: 77,
  });
  const { m3, state } = ini.finish(res.accept(ini.start()));
  const rs = res.complete(m3);
  const outA: Uint8Array[] = [];
  const outB: Uint8Array[] = [];
  const opts = { backend: bk, now, maxMessage: MIN_MAX_MESSAGE, maxPayload: 1 << 20 };
  return {
    a: new Session(state, { ...opts, send: (x) => outA.push(x) }),
    b: new Session(rs, { ...opts, send: (x) => outB.push(x) }),
    outA,
    outB,
  };
}

/** Typed payload seeds (valid encodings of every core payload). */
function payloadSeeds(): Uint8Array[] {
  const n8 = new Uint8Array(8).fill(3);
  return [
    new Uint8Array(0),
    encodePayload({}),
    P.encodeSessionInit({
      nonce: n8,
      timestamp: FUZZ_NOW,
      tier: 5,
      minTier: 2,
      capabilities: [1, 4],
      deviceId: new Uint8Array(16),
    }),
    P.encodeSessionAck({
      sessionId: 7,
      nonce: n8,
      selectedTier: 4,
      selectedCapabilities: [1],
      static: new Uint8Array(32).fill(5),
    }),
    P.encodeKeyExchangeComplete({ tier: 4 }),
    P.encodeError({
      code: 0x12,
      opcode: 0x204,
      re: 3,
      detail: "tier",
      requiredTier: 3,
      time: FUZZ_NOW,
    }),
    P.encodeTicket({ ticket: new Uint8Array(92).fill(6), lifetime: 3600 }),
    P.encodeResume({ oldSessionId: 4, ticket: new Uint8Array(92), nonce: n8, tier: 5 }),
    P.encodeResumed({ sessionId: 9, nonce: n8, selectedTier: 3 }),
    P.encodeRotate({ epoch: 1, request: true }),
    P.encodeRekey({ epoch: 1 }),
    P.encodeReason({ reason: "bye" }),
    P.encodeKeepalive({ id: 5, re: 6 }),
    encodePayload({
      id: 1,
      data: new Uint8Array(40),
      list: [1, "x", null, true, 1.5],
      nested: { a: { b: [] } },
    }),
  ];
}

/** Builds every target with seeds made by the real code. */
export function buildTargets(backendName: BackendName = "node"): Target[] {
  const bk = pickBackend(backendName);
  const payloads = payloadSeeds();
  const keys = {
    key: new Uint8Array(32).fill(7),
    mac: new Uint8Array(32).fill(8),
    iv: new Uint8Array(4).fill(9),
  };

  // --- wire messages of every tier and flag combination
  const wire: Uint8Array[] = [];
  for (const tier of [0, 1, 2] as const) {
    for (let cf = 0; cf < 4; cf++) {
      wire.push(
        encodePlain({
          tier,
          opcode: APP,
          sequence: 3,
          sessionId: 77,
          compressed: (cf & 1) !== 0,
          fragment: (cf & 2) !== 0,
        }, payloads[13]),
      );
    }
  }
  for (const tier of [3, 4, 5] as const) {
    for (const encrypted of tier === 5 ? [true] : [false, true]) {
      for (let cf = 0; cf < 4; cf++) {
        wire.push(sealMessage(
          bk,
          {
            tier,
            opcode: APP,
            sessionId: 77,
            timestamp: FUZZ_NOW,
            keyId: 0,
            ecdh: new Uint8Array(32).fill(4),
            encrypted,
            compressed: (cf & 1) !== 0,
            fragment: (cf & 2) !== 0,
          },
          0x123456,
          keys,
          payloads[cf + 9],
        ));
      }
    }
  }

  // --- handshake messages
  const idI = identityFrom(bk, new Uint8Array(32).fill(1));
  const idR = identityFrom(bk, new Uint8Array(32).fill(2));
  const ini = new Initiator({
    backend: bk,
    identity: idI,
    now,
    ephemeral: fixedPair(bk, 11),
    nonce: new Uint8Array(8).fill(1),
  });
  const resOpts = {
    backend: bk,
    identity: idR,
    now,
    sessionId: 77,
    ephemeral: fixedPair(bk, 12),
    nonce: new Uint8Array(8).fill(2),
  };
  const res = new Responder(resOpts);
  const m1 = ini.start();
  const m2 = res.accept(m1);
  const { m3, state } = ini.finish(m2);
  const rstate = res.complete(m3);
  const errMsg = encodePlain({ tier: 1, opcode: Op.ERROR }, payloads[5]);

  // --- resume
  const issuer = new TicketIssuer(bk, new Uint8Array(32).fill(13));
  const resumeSeeds: Uint8Array[] = [];
  for (let i = 0; i < 4; i++) {
    const ticket = issuer.issue(
      rstate.keys.resume,
      rstate.peerStatic,
      FUZZ_NOW,
      undefined,
      Uint8Array.of(i, 1, 2, 3, 4, 5, 6, 7),
    );
    resumeSeeds.push(new ResumeInitiator(
      bk,
      {
        ticket,
        resume: state.keys.resume,
        oldSessionId: 77,
        peerStatic: state.peerStatic,
        peerKeyId: state.peerKeyId,
      },
      (i + 2) as Tier,
      fixedPair(bk, 20 + i),
      new Uint8Array(8).fill(i),
    ).start(FUZZ_NOW));
  }
  const hsSeeds = [m1, m2, m3, errMsg, ...resumeSeeds];
  const vectors = vectorMessages();
  const allMessages = [...wire, ...hsSeeds, ...vectors];

  // --- established sessions, and their real traffic a -> b
  const pairs = new Map<Tier, SessionPair>();
  const sessionSeeds = new Map<Tier, Uint8Array[]>();
  for (const tier of [3, 4, 5] as Tier[]) {
    const p = makePair(bk, tier);
    p.a.send(APP, payloads[13]);
    p.a.send(APP, payloads[13], { compress: true });
    p.a.send(APP, new Uint8Array(70_000).map((_, i) => i * 7)); // fragments
    p.a.send(Op.SESSION_TICKET, P.encodeTicket({ ticket: new Uint8Array(92), lifetime: 5 }));
    p.a.send(Op.KEEPALIVE, P.encodeKeepalive({ id: 1 }));
    sessionSeeds.set(
      tier,
      p.outA.splice(0).concat(encodePlain({ tier: 0 }, Uint8Array.of(1, 2, 3))),
    );
    pairs.set(tier, makePair(bk, tier)); // a fresh pair: seeds are new to its receiver
  }

  // --- framed streams, fragments, compressed data
  const streams: Uint8Array[] = [];
  for (let i = 0; i < allMessages.length; i += 3) {
    const parts = allMessages.slice(i, i + 3).flatMap((m) => [encodeFrame(m), new Uint8Array(4)]);
    const s = new Uint8Array(parts.reduce((n, x) => n + x.length, 0));
    let o = 0;
    for (const x of parts) (s.set(x, o), o += x.length);
    streams.push(s);
  }
  const fragStreams: Uint8Array[] = [];
  for (const [id, size, chunk] of [[1, 100, 30], [2, 1000, 250], [3, 10, 3], [4, 0, 5]]) {
    const frags = splitFragments(new Uint8Array(size).map((_, i) => i), id, chunk);
    const order = frags.map((_, i) => i).reverse();
    const recs = order.flatMap((i) => [Uint8Array.of(frags[i].length), frags[i]]);
    const s = new Uint8Array(recs.reduce((n, x) => n + x.length, 0));
    let o = 0;
    for (const x of recs) (s.set(x, o), o += x.length);
    fragStreams.push(s);
  }
  const zstd = [
    compress(payloads[13]),
    compress(new TextEncoder().encode("abcabcabc".repeat(100))),
    compress(new Uint8Array(0)),
    compress(new Uint8Array(8 << 20)), // bomb: 8 MiB of zeros vs the 1 MiB limit
  ];

  const initiatorForFinish = new Initiator({
    backend: bk,
    identity: idI,
    now,
    ephemeral: fixedPair(bk, 11),
    nonce: new Uint8Array(8).fill(1),
  });
  initiatorForFinish.start();
  const ticketIssuer = new TicketIssuer(bk, new Uint8Array(32).fill(13));

  const targets: Target[] = [
    {
      name: "decodeMessage",
      seeds: allMessages,
      run: (x) => `tier${decodeMessage(x).tier}`,
    },
    {
      name: "FrameReader",
      seeds: streams,
      run: (x, rng) => {
        // One push and random chunking must hand out the same messages and the same
        // error; a deferred error surfaces on the final empty push.
        const whole = readAll(x, [x.length]);
        const cuts: number[] = [];
        for (let o = 0; o < x.length;) {
          o += rng.int(Math.min(x.length - o, 64) + 1);
          cuts.push(o);
        }
        const chunked = readAll(x, cuts);
        const same = chunked.got.length === whole.got.length &&
          chunked.got.every((m, i) =>
            m.length === whole.got[i].length && m.every((v, j) => v === whole.got[i][j])
          );
        if (!same || String(chunked.err) !== String(whole.err)) {
          throw new Error(
            `differential: one push ${whole.got.length} messages/${whole.err}, chunked ${chunked.got.length}/${chunked.err}`,
          );
        }
        if (whole.err !== undefined) throw whole.err;
        return `${whole.got.length} messages`;
      },
    },
    {
      name: "payload decoders",
      seeds: payloads,
      run: (x) => {
        let ok = 0;
        let first: unknown;
        for (const [, d] of PAYLOAD_DECODERS) {
          try {
            d(x);
            ok++;
          } catch (e) {
            if (!isMyClerkError(e)) throw e;
            first ??= e;
          }
        }
        if (ok === 0) throw first;
        return `${ok} decoders ok`;
      },
    },
    {
      name: "Reassembler",
      seeds: fragStreams,
      run: (x) => {
        let t = 0;
        const limits = { maxPartial: 4, maxBytes: 2048, timeoutMs: 1000 };
        const r = new Reassembler(limits, () => t);
        let done = 0;
        let typed: unknown;
        for (let o = 0; o < x.length;) {
          const n = x[o];
          const rec = x.subarray(o + 1, o + 1 + n);
          o += 1 + n;
          t += n & 0x3f; // time moves with the input, so timeouts get exercised
          try {
            if (r.add(rec)) done++;
          } catch (e) {
            if (!isMyClerkError(e)) throw e;
            typed ??= e;
          }
          if (
            r.bufferedBytes < 0 || r.bufferedBytes > limits.maxBytes ||
            r.partialCount > limits.maxPartial
          ) {
            throw new Error(`invariant: ${r.bufferedBytes} bytes, ${r.partialCount} partials`);
          }
        }
        if (done === 0 && typed) throw typed;
        return `${done} complete`;
      },
    },
    {
      name: "decompress",
      seeds: zstd,
      run: (x) => `${Math.min(decompress(x, 1 << 20).length, 1) ? "data" : "empty"}`,
    },
    ...([3, 4, 5] as Tier[]).map((tier): Target => ({
      name: `Session.receive t${tier}`,
      seeds: [...(sessionSeeds.get(tier) ?? []), ...wire],
      noThrow: true,
      run: (x) => {
        let p = pairs.get(tier)!;
        if (p.b.closed) pairs.set(tier, p = makePair(bk, tier));
        const r = p.b.receive(x);
        p.outB.length = 0;
        return r.kind === "drop"
          ? `drop:${r.reason}`
          : r.kind === "error"
          ? `error:${r.error.detail}`
          : r.kind;
      },
    })),
    ...([3, 4, 5] as Tier[]).map((tier): Target => {
      // Structure-aware: the input is [opcode index][C/F bits][payload], sealed with the
      // real keys, so it reaches the code behind the trailer and AEAD checks.
      const ops = [
        APP,
        Op.SESSION_ROTATE,
        Op.KEY_EXCHANGE_INIT,
        Op.KEY_EXCHANGE_RESPONSE,
        Op.SESSION_TICKET,
        Op.KEEPALIVE,
        Op.SESSION_REVOKE,
      ];
      const sealedPairs = new Map<Tier, SessionPair>([[tier, makePair(bk, tier)]]);
      return {
        name: `Session.sealed t${tier}`,
        seeds: payloads.flatMap((
          pl,
          i,
        ) => [Uint8Array.of(i % ops.length, 0, ...pl), Uint8Array.of(0, 3, ...pl)]).concat(
          fragStreams.map((s) => Uint8Array.of(0, 2, ...s.subarray(1, 1 + s[0]))),
          zstd.slice(0, 3).map((z) => Uint8Array.of(0, 1, ...z)),
        ),
        noThrow: true,
        run: (x) => {
          let p = sealedPairs.get(tier)!;
          if (p.b.closed || p.a.sendEpoch !== p.b.recvEpoch || p.a.sendCounter > 0xfff0) {
            sealedPairs.set(tier, p = makePair(bk, tier));
          }
          const op = ops[(x[0] ?? 0) % ops.length];
          const bits = x[1] ?? 0;
          const sealed = p.a.seal(op, x.subarray(2), (bits & 2) !== 0, (bits & 1) !== 0);
          const r = p.b.receive(sealed);
          p.outB.length = 0;
          return r.kind === "drop"
            ? `drop:${r.reason}`
            : r.kind === "error"
            ? `error:${r.error.detail}`
            : r.kind;
        },
      };
    }),
    {
      name: "Responder.accept",
      seeds: [...hsSeeds, ...wire],
      run: (x) => {
        new Responder(resOpts).accept(x);
        return "M2";
      },
    },
    {
      name: "Responder.complete",
      seeds: [m3, ...hsSeeds],
      run: (x) => {
        // complete() erases the handshake secrets even on failure paths, so each input gets
        // a responder that has just accepted M1.
        const r = new Responder(resOpts);
        r.accept(m1);
        return `tier${r.complete(x).tier}`;
      },
    },
    {
      name: "Initiator.finish",
      seeds: [m2, ...hsSeeds],
      run: (x) => `tier${initiatorForFinish.finish(x).state.tier}`,
    },
    {
      name: "acceptResume",
      seeds: [...resumeSeeds, ...hsSeeds],
      run: (x) => {
        acceptResume(bk, ticketIssuer, x, {
          sessionId: 5,
          now: FUZZ_NOW,
          maxTier: 5,
          minTier: 0,
          ephemeral: fixedPair(bk, 30),
          nonce: new Uint8Array(8),
        });
        return "resumed";
      },
    },
    {
      name: "inspectBytes",
      seeds: [...allMessages, ...allMessages.slice(0, 20).map(encodeFrame)],
      noThrow: true,
      run: (x) => (inspectBytes(x, bk).ok ? "ok" : "invalid"),
    },
  ];
  return [...targets, ...gateTargets(), ...pluginTargets(), ...federationTargets(bk)];
}

/**
 * The operator-facing parsers of the gate (issue #9): `acl.json` and the
 * config file's `gate`/`limits` keys. Inputs are JSON texts mutated as bytes;
 * anything but a value or a MyClerkError is a crash.
 */
function gateTargets(): Target[] {
  const te = new TextEncoder();
  const td = new TextDecoder();
  const json = (b: Uint8Array): unknown => {
    try {
      return JSON.parse(td.decode(b));
    } catch {
      return undefined;
    }
  };
  const aclSeeds = [
    '{"version":1,"grants":[]}',
    '{"version":1,"grants":[{"subject":"1a2b3c4d","first":"0xf100","last":"0xf10f"}]}',
    '{"version":1,"grants":[{"subject":"00112233445566778899aabbccddeeff","first":"0x0610","last":"0x0610"}]}',
  ].map((x) => te.encode(x));
  const cfgSeeds = [
    '{"gate":{"public":["0xF100-0xF10F"]},"limits":{"maxUnauthPerAddress":64,"reservedShare":0.1}}',
    '{"tiers":{"min":4,"max":5},"admit":["1a2b3c4d"],"revokedKeys":["00000001"]}',
  ].map((x) => te.encode(x));
  return [
    {
      name: "parseAcl",
      seeds: aclSeeds,
      run: (x) => {
        const v = json(x);
        if (v === undefined) return "not-json";
        return `grants:${Math.min(parseAcl(v).grants.length, 3)}`;
      },
    },
    {
      name: "validateConfig (gate, limits)",
      seeds: cfgSeeds,
      run: (x) => {
        const v = json(x);
        if (v === undefined) return "not-json";
        validateConfig(v);
        return "valid";
      },
    },
  ];
}
