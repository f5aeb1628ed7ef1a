/**
 * Fuzz targets of the federation layer (issue #9): every decoder an
 * outsider reaches on a relay or a hub — each FED_* message (0x0300-0x0310
 * through `decodeFed`), FED_LOOKUP / FED_RECORDS and the federation ERROR
 * map, family records, invite tokens (as the relay checks them on
 * FED_ADMIT), the envelope as a relay checks it (`checkRouting`) and as the
 * recipient opens it (`openEnvelope`), and the store manifest parser.
 *
 * Seeds are the vectors in docs/vectors/federation_*.json (the payload of
 * every message kind, both family records, both tokens, the envelope) plus
 * envelopes and messages built by the real encoders; mutate.ts mutates them.
 * A target returns an outcome or throws: MyClerkError is a typed refusal,
 * anything else a crash. Names start with `fed ` (`--only "fed "`).
 *
 * @module
 */
import type { CryptoBackend } from "../../core/crypto/types.ts";
import { decodeFedError, decodeLookup, decodeRecords, DirOp } from "../../federation/directory.ts";
import {
  checkRouting,
  type EnvelopeRouting,
  openEnvelope,
  readEnvelopeHeader,
  sealEnvelope,
} from "../../federation/envelope.ts";
import { decodeFamily, familyId, familyKeyId } from "../../federation/family.ts";
import { verifyInvite } from "../../federation/invite.ts";
import { decodeManifest } from "../../federation/manifest.ts";
import { decodeFed, encodeFed, FedOp } from "../../federation/messages.ts";
import type { Target } from "./targets.ts";

const VECTORS = new URL("../../docs/vectors/", import.meta.url);
/** Fixed clock (Unix seconds) inside the vectors' token lifetimes. */
const NOW = 1_700_000_000;

type Json = Record<string, unknown>;

function hex(s: string): Uint8Array {
  const out = new Uint8Array(s.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(s.slice(2 * i, 2 * i + 2), 16);
  return out;
}

/** `{"$bin": hex}` to bytes, recursively. */
function bins(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(bins);
  if (v && typeof v === "object") {
    const o = v as Json;
    if (typeof o.$bin === "string") return hex(o.$bin);
    return Object.fromEntries(Object.entries(o).map(([k, x]) => [k, bins(x)]));
  }
  return v;
}

function vector(name: string): Json {
  return bins(JSON.parse(Deno.readTextFileSync(new URL(name, VECTORS)))) as Json;
}

const enc = new TextEncoder();
const latin1 = (b: Uint8Array) => {
  let s = "";
  for (const x of b) s += String.fromCharCode(x);
  return s;
};

/** Every federation target, seeded from the vectors. */
export function federationTargets(be: CryptoBackend): Target[] {
  const msgs = vector("federation_messages.json");
  const fam = vector("federation_family.json");
  const inv = vector("federation_invite.json");
  const env = vector("federation_envelope.json");

  const byOp = new Map<number, Uint8Array[]>();
  const allPayloads: Uint8Array[] = [];
  for (const m of [...(msgs.messages as Json[]), ...(msgs.directory as Json[])]) {
    const op = Number(m.opcode);
    const p = m.payload as Uint8Array;
    allPayloads.push(p);
    byOp.set(op, [...(byOp.get(op) ?? []), p]);
  }
  const records = (fam.families as Json[]).map((f) => f.encoded as Uint8Array);
  const tokens = (inv.tokens as Json[]).map((t) => enc.encode(String(t.token)));
  const routing = env.routing as unknown as EnvelopeRouting;
  const sealed = env.sealed as Uint8Array;
  const recipientSecret = env.recipientSecret as Uint8Array;
  const recipientKey = be.x25519Public(recipientSecret);
  const toKey = { id: familyId(be, recipientKey), keyId: familyKeyId(be, recipientKey) };

  // Envelopes of other sizes and lifetimes by the real sealer (the vector's keys).
  const envSeeds: Uint8Array[] = [sealed];
  for (const n of [0, 1, 200, 3000]) {
    envSeeds.push(
      sealEnvelope(be, {
        senderSecret: env.senderSecret as Uint8Array,
        recipientKey,
        body: new Uint8Array(n).fill(0x61),
        ttl: 1 + n,
        ts: NOW,
        mid: routing.mid,
      }).sealed,
    );
  }
  // FED_DELIVERs carrying them: the relay's hot decoder on real envelope bytes.
  const deliverSeeds = envSeeds.map((s) =>
    encodeFed({ op: FedOp.FED_DELIVER, ...routing, hops: 0, sealed: s })
  );

  const fedOps = Object.entries(FedOp) as [string, number][];
  const targets: Target[] = fedOps.map(([name, op]) => ({
    name: `fed decodeFed ${name}`,
    seeds: [
      ...(byOp.get(op) ?? []),
      ...(op === FedOp.FED_DELIVER ? deliverSeeds : []),
      ...allPayloads,
    ],
    run: (x) => decodeFed(be, op, x).op.toString(16),
  }));
  targets.push(
    {
      name: "fed decodeLookup",
      seeds: [...(byOp.get(DirOp.FED_LOOKUP) ?? []), ...allPayloads],
      run: (x) => (decodeLookup(x).length === 32 ? "ok" : "odd"),
    },
    {
      name: "fed decodeRecords",
      seeds: [...(byOp.get(DirOp.FED_RECORDS) ?? []), ...allPayloads],
      run: (x) => `records ${decodeRecords(be, x).length}`,
    },
    {
      name: "fed decodeFedError",
      seeds: [
        encodeFedErrorSeed(),
        ...allPayloads,
      ],
      run: (x) => `error 0x${decodeFedError(x).error.code.toString(16)}`,
    },
    {
      name: "fed decodeFamily",
      seeds: [...records, ...allPayloads],
      run: (x) => (decodeFamily(be, x).id.length === 32 ? "ok" : "odd"),
    },
    {
      name: "fed verifyInvite",
      seeds: tokens,
      run: (x) => {
        const i = verifyInvite(be, inv.tokenKey as Uint8Array, latin1(x), relayKeyIdOf(inv), NOW);
        return i.family === undefined ? "open" : "restricted";
      },
    },
    {
      name: "fed readEnvelopeHeader",
      seeds: envSeeds,
      run: (x) => `kid ${readEnvelopeHeader(x).keyId === toKey.keyId}`,
    },
    {
      name: "fed checkRouting",
      seeds: envSeeds,
      run: (x) => {
        checkRouting(be, routing, x, toKey);
        return "ok";
      },
    },
    {
      name: "fed openEnvelope",
      seeds: envSeeds,
      run: (x) => {
        const o = openEnvelope(be, routing, x, recipientSecret);
        return `opened ${o.body.length > 0}`;
      },
    },
    {
      name: "fed decodeManifest",
      noThrow: true,
      seeds: [manifestSeed()],
      run: (x) => (decodeManifest(x) === undefined ? "invalid" : "valid"),
    },
  );
  return targets;
}

function relayKeyIdOf(inv: Json): number {
  const t = (inv.tokens as Json[])[0];
  const raw = String(t.token).replace(/-/g, "+").replace(/_/g, "/");
  const b = Uint8Array.from(
    atob(raw + "=".repeat((4 - raw.length % 4) % 4)),
    (c) => c.charCodeAt(0),
  );
  return new DataView(b.buffer).getUint32(17);
}

function encodeFedErrorSeed(): Uint8Array {
  // The map a relay sends for a quota refusal (FEDERATION.md §10.2), built by hand like an outsider.
  return new Uint8Array([
    0x84,
    0xa4,
    0x63,
    0x6f,
    0x64,
    0x65,
    0x31,
    0xa6,
    0x6f,
    0x70,
    0x63,
    0x6f,
    0x64,
    0x65,
    0xcd,
    0x03,
    0x04,
    0xa6,
    0x64,
    0x65,
    0x74,
    0x61,
    0x69,
    0x6c,
    0xa5,
    0x71,
    0x75,
    0x6f,
    0x74,
    0x61,
    0xa5,
    0x71,
    0x75,
    0x6f,
    0x74,
    0x61,
    0xa5,
    0x62,
    0x79,
    0x74,
    0x65,
    0x73,
  ]);
}

function manifestSeed(): Uint8Array {
  const body = JSON.stringify({
    v: 1,
    kind: "federation",
    id: "00".repeat(16),
    created: NOW,
    hwm: 7,
  });
  let h = 0x811c9dc5;
  for (let i = 0; i < body.length; i++) {
    h ^= body.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  const line = `{"c":"${h.toString(16).padStart(8, "0")}","m":${body}}`.padEnd(255, " ") + "\n";
  const one = enc.encode(line);
  const out = new Uint8Array(512);
  out.set(one, 0);
  out.set(one, 256);
  return out;
}
