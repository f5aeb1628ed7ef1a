/**
 * Codecs of the federation messages 0x0300-0x03FF (docs/FEDERATION.md §5).
 * Every payload is a MessagePack map with string keys; encoders write the
 * keys in the documented order with shortest forms; decoders accept any
 * order, ignore unknown keys, and throw only MyClerkError BAD_REQUEST
 * (`field:<key>`, `msgpack`, `payload-not-map`, `opcode`).
 *
 * Longer than ~500 lines on purpose: beside the map codecs of every FED_*
 * message sit the byte-level FED_DELIVER writer and reader of the relay's
 * hot path (and the family-id cache they share), which must produce and
 * accept exactly what the map codec does; one file keeps the two forms of
 * one message under one set of key constants.
 *
 * @module
 */

import { badRequest } from "../core/errors.ts";
import type { CryptoBackend } from "../core/crypto/types.ts";
import {
  arrayField,
  binField,
  decodeFedMap,
  encodeMsgpack,
  enumField,
  type FedMap,
  mapField,
  optTextField,
  optUintField,
  textField,
  uintField,
} from "./codec.ts";
import {
  FAMILY_ID_RE,
  familyFromMap,
  type FamilyId,
  type FamilyRecord,
  familyToMap,
  isFamilyId,
} from "./family.ts";
import { MID_LENGTH } from "./envelope.ts";
import { FedOp, isFedOpcode } from "./ops.ts";

export { FED_RANGE, FedOp, isFedOpcode } from "./ops.ts";

/** Federation protocol version carried in FED_HELLO. */
export const FED_VERSION = 0;
/** Most families in one FED_HELLO / FED_ROUTE. */
export const MAX_FAMILIES = 4096;
/** Most mids in one FED_ACK / FED_EXPIRED. */
export const MAX_MIDS = 1024;
/** Most relays a FED_DELIVER may cross (loop guard). */
export const MAX_HOPS = 8;

/** FED_HELLO 0x0300. */
export interface FedHello {
  /** Opcode FED_HELLO (0x0300). */
  readonly op: typeof FedOp.FED_HELLO;
  /** What the sender is. */
  readonly role: "relay" | "hub";
  /** Key id of the sender's static key. */
  readonly keyId: number;
  /** Families homed at (relay) or served by (hub) the sender. */
  readonly families: readonly FamilyId[];
  /** Federation version, {@link FED_VERSION}. */
  readonly version: number;
  /** Largest FED_DELIVER the sender accepts, bytes. */
  readonly maxMessage?: number;
}

/** FED_ADMIT 0x0301 (hub -> relay). */
export interface FedAdmit {
  /** Opcode FED_ADMIT (0x0301). */
  readonly op: typeof FedOp.FED_ADMIT;
  /** The invite token from `family invite` (base64url without padding, at most 128 characters; FEDERATION.md §3.1). */
  readonly token: string;
  /** The hub's family record; its `home` must be this relay's key id (§3.3). */
  readonly family: FamilyRecord;
  /** Proof of possession, 32 bytes (invite.ts). */
  readonly proof: Uint8Array;
}

/** FED_ADMITTED 0x0302 (relay -> hub). */
export interface FedAdmitted {
  /** Opcode FED_ADMITTED (0x0302). */
  readonly op: typeof FedOp.FED_ADMITTED;
  /** The admitted family. */
  readonly family: FamilyId;
  /** Relay's static key id. */
  readonly relay: number;
  /** Most messages the relay queues for the family at once (its quota, both lanes). */
  readonly quotaMessages: number;
  /** Most sealed bytes the relay queues for the family at once (its quota, both lanes). */
  readonly quotaBytes: number;
  /** Largest sealed envelope accepted, bytes. */
  readonly maxMessage: number;
  /** Largest TTL accepted, seconds. */
  readonly maxTtl: number;
}

/** FED_ROUTE 0x0303: the full set of families reachable via the sender (replaces the previous set). */
export interface FedRoute {
  /** Opcode FED_ROUTE (0x0303). */
  readonly op: typeof FedOp.FED_ROUTE;
  /** Increases by one per announcement from one sender; older or equal ones are ignored. */
  readonly seq: number;
  /** Every family reachable via the sender (at most {@link MAX_FAMILIES}). */
  readonly families: readonly FamilyId[];
}

/** FED_DELIVER 0x0304: one sealed envelope with the relay-visible fields. */
export interface FedDeliver {
  /** Opcode FED_DELIVER (0x0304). */
  readonly op: typeof FedOp.FED_DELIVER;
  /** Recipient family id. */
  readonly to: FamilyId;
  /** Sender family id (= familyId(fromKey)). */
  readonly from: FamilyId;
  /** Sender family public key, 32 bytes (the recipient needs it to open HPKE auth mode). */
  readonly fromKey: Uint8Array;
  /** Message id, 16 bytes; the dedupe key. */
  readonly mid: Uint8Array;
  /** Lifetime in seconds (>= 1), passed on unchanged by every relay. */
  readonly ttl: number;
  /** Relays crossed so far (0 from the sending hub). */
  readonly hops: number;
  /** The Tier 5-form envelope (envelope.ts). */
  readonly sealed: Uint8Array;
}

/** FED_ACK 0x0305. */
export type FedAck =
  | {
    readonly op: typeof FedOp.FED_ACK;
    /** Relay -> sender (hub or previous relay): the mids are durable here. */
    readonly kind: "stored";
    /** Key id of the relay that stored them. */
    readonly relay: number;
    readonly mids: readonly Uint8Array[];
  }
  | {
    readonly op: typeof FedOp.FED_ACK;
    /** Recipient hub -> relay: processed; the relay deletes them. */
    readonly kind: "delivered";
    /** The recipient family. */
    readonly family: FamilyId;
    readonly mids: readonly Uint8Array[];
  };

/** FED_QUEUE_STATUS 0x0306. */
export interface FedQueueStatus {
  /** Opcode FED_QUEUE_STATUS (0x0306). */
  readonly op: typeof FedOp.FED_QUEUE_STATUS;
  /** The hub's family whose mailbox this describes. */
  readonly family: FamilyId;
  /** Messages waiting. */
  readonly depth: number;
  /** Bytes waiting (sum of sealed sizes). */
  readonly bytes: number;
  /** Receive time of the oldest waiting message, Unix seconds; 0 when empty. */
  readonly oldest: number;
}

/** FED_FETCH 0x0307 (hub -> relay). */
export interface FedFetch {
  /** Opcode FED_FETCH (0x0307). */
  readonly op: typeof FedOp.FED_FETCH;
  /** The hub's family whose mailbox to fetch from. */
  readonly family: FamilyId;
  /** Additional messages the relay may send (added to the remaining credit). */
  readonly credit: number;
  /** Optional cap on bytes in flight. */
  readonly maxBytes?: number;
}

/** FED_EXPIRED 0x0308 (relay -> sender family's hub). */
export interface FedExpired {
  /** Opcode FED_EXPIRED (0x0308). */
  readonly op: typeof FedOp.FED_EXPIRED;
  /** The sender family being told. */
  readonly family: FamilyId;
  /** The recipient the messages were for. */
  readonly to: FamilyId;
  /** Ids of the messages that expired undelivered (at most {@link MAX_MIDS}). */
  readonly mids: readonly Uint8Array[];
}

/** FED_RESTART 0x0309. */
export interface FedRestart {
  /** Opcode FED_RESTART (0x0309). */
  readonly op: typeof FedOp.FED_RESTART;
  /** Reconnect after this many milliseconds. */
  readonly after: number;
  /** Why the relay restarts, for logs (at most 256 characters). */
  readonly reason?: string;
}

/** Any federation message. */
export type FedMessage =
  | FedHello
  | FedAdmit
  | FedAdmitted
  | FedRoute
  | FedDeliver
  | FedAck
  | FedQueueStatus
  | FedFetch
  | FedExpired
  | FedRestart;

const familyItem = (v: unknown): FamilyId | undefined => (isFamilyId(v) ? v : undefined);
const midItem = (v: unknown): Uint8Array | undefined =>
  v instanceof Uint8Array && v.length === MID_LENGTH ? v : undefined;
const fid = (m: FedMap, k: string): FamilyId => textField(m, k, 32, FAMILY_ID_RE);

/** The payload map of a message, keys in documented order. */
function toMap(msg: FedMessage): Record<string, unknown> {
  switch (msg.op) {
    case FedOp.FED_HELLO:
      return {
        role: msg.role,
        "key-id": msg.keyId,
        families: msg.families,
        version: msg.version,
        "max-message": msg.maxMessage,
      };
    case FedOp.FED_ADMIT:
      return { token: msg.token, family: familyToMap(msg.family), proof: msg.proof };
    case FedOp.FED_ADMITTED:
      return {
        family: msg.family,
        relay: msg.relay,
        "quota-messages": msg.quotaMessages,
        "quota-bytes": msg.quotaBytes,
        "max-message": msg.maxMessage,
        "max-ttl": msg.maxTtl,
      };
    case FedOp.FED_ROUTE:
      return { seq: msg.seq, families: msg.families };
    case FedOp.FED_DELIVER:
      return {
        to: msg.to,
        from: msg.from,
        "from-key": msg.fromKey,
        mid: msg.mid,
        ttl: msg.ttl,
        hops: msg.hops,
        sealed: msg.sealed,
      };
    case FedOp.FED_ACK:
      return msg.kind === "stored"
        ? { kind: msg.kind, relay: msg.relay, mids: msg.mids }
        : { kind: msg.kind, family: msg.family, mids: msg.mids };
    case FedOp.FED_QUEUE_STATUS:
      return { family: msg.family, depth: msg.depth, bytes: msg.bytes, oldest: msg.oldest };
    case FedOp.FED_FETCH:
      return { family: msg.family, credit: msg.credit, "max-bytes": msg.maxBytes };
    case FedOp.FED_EXPIRED:
      return { family: msg.family, to: msg.to, mids: msg.mids };
    case FedOp.FED_RESTART:
      return { after: msg.after, reason: msg.reason };
  }
}

/**
 * Encodes a federation message's payload (the opcode travels in the header).
 * With `check` (the default) the bytes are decoded back through the
 * decoder's rules so we never send what we would reject; `check = false`
 * is for the relay's hot path, messages built from fields that were
 * validated on arrival (FED_DELIVER pushes, FED_ACK "stored").
 *
 * @example encodeFed({ op: FedOp.FED_RESTART, after: 500 })
 */
export function encodeFed(msg: FedMessage, check = true): Uint8Array {
  if (!check) {
    return msg.op === FedOp.FED_DELIVER ? encodeDeliver(msg) : encodeMsgpack(toMap(msg));
  }
  // Validate through the decoder's rules so we never send what we would reject.
  const bytes = encodeMsgpack(toMap(msg));
  fromMap(msg.op, decodeFedMap(bytes), undefined);
  return bytes;
}

const KEY_BYTES = (k: string) => new TextEncoder().encode(k);
const K_TO = KEY_BYTES("to");
const K_FROM = KEY_BYTES("from");
const K_FROM_KEY = KEY_BYTES("from-key");
const K_MID = KEY_BYTES("mid");
const K_TTL = KEY_BYTES("ttl");
const K_HOPS = KEY_BYTES("hops");
const K_SEALED = KEY_BYTES("sealed");
/** Longest bin a federation payload may hold (binField's and FED_DECODER_LIMITS' bound). */
const BIN_MAX = 16 << 20;

/**
 * FED_DELIVER written straight into one buffer, byte for byte what
 * `encodeMsgpack(toMap(msg))` gives (tests/federation/messages_test.ts
 * checks that): the relay's push path, for fields that were validated when
 * they arrived. No intermediate map, no decode-back.
 */
function encodeDeliver(m: FedDeliver, into?: (n: number) => Uint8Array): Uint8Array {
  const n = 45 + 4 + m.to.length + m.from.length + 5 + m.fromKey.length + 5 + m.mid.length + 10 +
    5 + m.sealed.length;
  const out = into === undefined ? new Uint8Array(n) : into(n);
  let o = 0;
  const key = (k: Uint8Array) => {
    out[o++] = 0xa0 | k.length;
    out.set(k, o);
    o += k.length;
  };
  const str = (v: string) => {
    // Family ids are 32 lower-case hex characters (ASCII): str8 above 31 bytes.
    if (v.length < 32) out[o++] = 0xa0 | v.length;
    else {
      out[o++] = 0xd9;
      out[o++] = v.length;
    }
    const b = v.length === 32 ? idBytes(v) : undefined;
    if (b !== undefined) { for (let i = 0; i < 32; i++) out[o++] = b[i]; }
    else for (let i = 0; i < v.length; i++) out[o++] = v.charCodeAt(i);
  };
  const bin = (v: Uint8Array) => {
    const l = v.length;
    if (l < 0x100) {
      out[o++] = 0xc4;
      out[o++] = l;
    } else if (l < 0x10000) {
      out[o++] = 0xc5;
      out[o++] = l >> 8;
      out[o++] = l & 0xff;
    } else {
      out[o++] = 0xc6;
      out[o++] = l >>> 24;
      out[o++] = (l >> 16) & 0xff;
      out[o++] = (l >> 8) & 0xff;
      out[o++] = l & 0xff;
    }
    out.set(v, o);
    o += l;
  };
  const uint = (v: number) => {
    if (v < 0x80) out[o++] = v;
    else if (v < 0x100) {
      out[o++] = 0xcc;
      out[o++] = v;
    } else if (v < 0x10000) {
      out[o++] = 0xcd;
      out[o++] = v >> 8;
      out[o++] = v & 0xff;
    } else {
      out[o++] = 0xce;
      out[o++] = v >>> 24;
      out[o++] = (v >> 16) & 0xff;
      out[o++] = (v >> 8) & 0xff;
      out[o++] = v & 0xff;
    }
  };
  out[o++] = 0x87;
  key(K_TO);
  str(m.to);
  key(K_FROM);
  str(m.from);
  key(K_FROM_KEY);
  bin(m.fromKey);
  key(K_MID);
  bin(m.mid);
  key(K_TTL);
  uint(m.ttl);
  key(K_HOPS);
  uint(m.hops);
  key(K_SEALED);
  bin(m.sealed);
  return out.subarray(0, o);
}

/**
 * Family ids as met on the wire: string and ASCII bytes, by an FNV-1a hash
 * of the bytes. Nearly every FED_DELIVER names a family seen just before,
 * and building the string (decode) or reading it char by char (encode) was
 * ~1.6 µs of a relayed message. At most {@link ID_CACHE} entries (then
 * cleared): a flood of new ids costs what no cache would.
 */
const idByHash = new Map<number, { readonly s: string; readonly b: Uint8Array }>();
const idByString = new Map<string, Uint8Array>();
const ID_CACHE = 4096;

/** The 32 ASCII bytes at `p[at..]` (already checked to be lower-case hex) as a string. */
function idAt(p: Uint8Array, at: number): string {
  let h = 0x811c9dc5;
  for (let i = at; i < at + 32; i++) h = Math.imul(h ^ p[i], 0x01000193);
  const e = idByHash.get(h);
  if (e !== undefined) {
    let same = true;
    for (let i = 0; i < 32; i++) {
      if (e.b[i] !== p[at + i]) {
        same = false;
        break;
      }
    }
    if (same) return e.s;
  }
  const b = p.slice(at, at + 32);
  const s = String.fromCharCode.apply(null, b as unknown as number[]);
  if (idByHash.size >= ID_CACHE) idByHash.clear();
  idByHash.set(h, { s, b });
  return s;
}

/** The ASCII bytes of a 32-character family id (from the cache, or made and cached). */
function idBytes(v: string): Uint8Array | undefined {
  let b = idByString.get(v);
  if (b !== undefined) return b;
  b = new Uint8Array(32);
  for (let i = 0; i < 32; i++) {
    const c = v.charCodeAt(i);
    if (c > 0x7f) return undefined; // not ASCII: written char by char as before
    b[i] = c;
  }
  if (idByString.size >= ID_CACHE) idByString.clear();
  idByString.set(v, b);
  return b;
}

/** The buffer {@link encodeDeliverTransient} writes into (grown, never shrunk below 64 KiB). */
let transient = new Uint8Array(65_536);
const transientOf = (n: number): Uint8Array => {
  if (transient.length < n) transient = new Uint8Array(Math.max(n, transient.length * 2));
  return transient;
};

/**
 * {@link encodeFed} of a FED_DELIVER without the check, into one buffer
 * reused by every call: the returned view is valid only until the next
 * call. For the relay's push path, whose `Link.send` seals the payload
 * before it returns: one 1 KiB allocation (and its garbage) less per
 * message pushed.
 *
 * @example link.send(FedOp.FED_DELIVER, encodeDeliverTransient(msg))
 */
export function encodeDeliverTransient(msg: FedDeliver): Uint8Array {
  return encodeDeliver(msg, transientOf);
}

const U64 = Number.MAX_SAFE_INTEGER;

function fromMap(op: number, m: FedMap, be: CryptoBackend | undefined): FedMessage {
  switch (op) {
    case FedOp.FED_HELLO: {
      const maxMessage = optUintField(m, "max-message");
      return {
        op,
        role: enumField(m, "role", ["relay", "hub"] as const),
        keyId: uintField(m, "key-id"),
        families: arrayField(m, "families", MAX_FAMILIES, familyItem),
        version: uintField(m, "version", 0xff),
        ...(maxMessage === undefined ? {} : { maxMessage }),
      };
    }
    case FedOp.FED_ADMIT: {
      const fm = mapField(m, "family");
      // Without a back end (encode-side self-check) the record was built by us.
      const family = be === undefined ? familyShape(fm) : familyFromMap(be, fm);
      return {
        op,
        token: textField(m, "token", 128, /^[A-Za-z0-9_-]+$/),
        family,
        proof: binField(m, "proof", 32),
      };
    }
    case FedOp.FED_ADMITTED:
      return {
        op,
        family: fid(m, "family"),
        relay: uintField(m, "relay"),
        quotaMessages: uintField(m, "quota-messages", U64),
        quotaBytes: uintField(m, "quota-bytes", U64),
        maxMessage: uintField(m, "max-message"),
        maxTtl: uintField(m, "max-ttl"),
      };
    case FedOp.FED_ROUTE:
      return {
        op,
        seq: uintField(m, "seq", U64),
        families: arrayField(m, "families", MAX_FAMILIES, familyItem),
      };
    case FedOp.FED_DELIVER:
      return {
        op,
        to: fid(m, "to"),
        from: fid(m, "from"),
        fromKey: binField(m, "from-key", 32),
        mid: binField(m, "mid", MID_LENGTH),
        ttl: ttlField(m),
        hops: uintField(m, "hops", MAX_HOPS),
        sealed: binField(m, "sealed"),
      };
    case FedOp.FED_ACK: {
      const kind = enumField(m, "kind", ["stored", "delivered"] as const);
      const mids = arrayField(m, "mids", MAX_MIDS, midItem);
      return kind === "stored"
        ? { op, kind, relay: uintField(m, "relay"), mids }
        : { op, kind, family: fid(m, "family"), mids };
    }
    case FedOp.FED_QUEUE_STATUS:
      return {
        op,
        family: fid(m, "family"),
        depth: uintField(m, "depth", U64),
        bytes: uintField(m, "bytes", U64),
        oldest: uintField(m, "oldest"),
      };
    case FedOp.FED_FETCH: {
      const maxBytes = optUintField(m, "max-bytes", U64);
      return {
        op,
        family: fid(m, "family"),
        credit: uintField(m, "credit", 0xffff),
        ...(maxBytes === undefined ? {} : { maxBytes }),
      };
    }
    case FedOp.FED_EXPIRED:
      return {
        op,
        family: fid(m, "family"),
        to: fid(m, "to"),
        mids: arrayField(m, "mids", MAX_MIDS, midItem),
      };
    case FedOp.FED_RESTART: {
      const reason = optTextField(m, "reason", 256);
      return {
        op,
        after: uintField(m, "after", 3_600_000),
        ...(reason === undefined ? {} : { reason }),
      };
    }
    default:
      throw badRequest("opcode", { opcode: op });
  }
}

function ttlField(m: FedMap): number {
  const ttl = uintField(m, "ttl");
  if (ttl === 0) throw badRequest("field:ttl", { expected: "uint >= 1" });
  return ttl;
}

function familyShape(fm: FedMap): FamilyRecord {
  const homeAddr = optTextField(fm, "home-addr", 255);
  return {
    id: fid(fm, "id"),
    name: textField(fm, "name", 64),
    key: binField(fm, "key", 32),
    keyId: uintField(fm, "key-id"),
    home: uintField(fm, "home"),
    ...(homeAddr === undefined ? {} : { homeAddr }),
    created: uintField(fm, "created"),
  };
}

/**
 * Decodes the payload of federation opcode `op`. FED_ADMIT's family record
 * is verified (id and key id match its key), hence the back end.
 */
export function decodeFed(be: CryptoBackend, op: number, payload: Uint8Array): FedMessage {
  if (op === FedOp.FED_DELIVER) {
    const d = decodeDeliverCanonical(payload);
    if (d !== undefined) return d;
  }
  return decodeFedGeneric(be, op, payload);
}

/**
 * {@link decodeFed} through the generic MessagePack decoder only, without
 * its reader for canonical FED_DELIVER (the tests hold the two equal).
 */
export function decodeFedGeneric(be: CryptoBackend, op: number, payload: Uint8Array): FedMessage {
  if (!isFedOpcode(op) || op === FedOp.FED_SEALED) {
    throw badRequest("opcode", { opcode: op });
  }
  return fromMap(op, decodeFedMap(payload), be);
}

/**
 * FED_DELIVER in exactly the form {@link encodeFed} writes (keys in
 * documented order, shortest lengths and integers), read without the
 * generic decoder: the message every relay and hub handles most. Returns
 * undefined for anything else, valid or not, and the caller decodes it the
 * generic way, so errors and every other accepted form are the generic
 * decoder's. Byte fields are views of `p`, as the generic decoder's are.
 */
function decodeDeliverCanonical(p: Uint8Array): FedDeliver | undefined {
  if (p.length < 120 || p[0] !== 0x87) return undefined;
  let o = 1;
  const key = (k: Uint8Array): boolean => {
    if (p[o] !== (0xa0 | k.length)) return false;
    for (let i = 0; i < k.length; i++) if (p[o + 1 + i] !== k[i]) return false;
    o += 1 + k.length;
    return true;
  };
  // a family id: str8 of 32 lower-case hex characters (FAMILY_ID_RE)
  const fam = (): string | undefined => {
    if (p[o] !== 0xd9 || p[o + 1] !== 32 || o + 34 > p.length) return undefined;
    for (let i = o + 2; i < o + 34; i++) {
      const c = p[i];
      if (!((c >= 0x30 && c <= 0x39) || (c >= 0x61 && c <= 0x66))) return undefined;
    }
    const v = idAt(p, o + 2);
    o += 34;
    return v;
  };
  const bin = (len?: number): Uint8Array | undefined => {
    const t = p[o];
    let n: number, h: number;
    if (t === 0xc4) {
      n = p[o + 1];
      h = 2;
    } else if (t === 0xc5) {
      n = (p[o + 1] << 8) | p[o + 2];
      h = 3;
    } else if (t === 0xc6) {
      n = ((p[o + 1] << 24) | (p[o + 2] << 16) | (p[o + 3] << 8) | p[o + 4]) >>> 0;
      h = 5;
    } else return undefined;
    // written so that a header cut short (NaN lengths) fails too
    if ((len !== undefined && n !== len) || !(n <= BIN_MAX && o + h + n <= p.length)) {
      return undefined;
    }
    const v = new Uint8Array(p.buffer, p.byteOffset + o + h, n);
    o += h + n;
    return v;
  };
  const uint = (max: number): number | undefined => {
    const t = p[o];
    let v: number;
    if (t < 0x80) {
      v = t;
      o += 1;
    } else if (t === 0xcc) {
      v = p[o + 1];
      o += 2;
    } else if (t === 0xcd) {
      v = (p[o + 1] << 8) | p[o + 2];
      o += 3;
    } else if (t === 0xce) {
      v = ((p[o + 1] << 24) | (p[o + 2] << 16) | (p[o + 3] << 8) | p[o + 4]) >>> 0;
      o += 5;
    } else return undefined;
    return o <= p.length && v <= max ? v : undefined;
  };
  if (!key(K_TO)) return undefined;
  const to = fam();
  if (to === undefined || !key(K_FROM)) return undefined;
  const from = fam();
  if (from === undefined || !key(K_FROM_KEY)) return undefined;
  const fromKey = bin(32);
  if (fromKey === undefined || !key(K_MID)) return undefined;
  const mid = bin(MID_LENGTH);
  if (mid === undefined || !key(K_TTL)) return undefined;
  const ttl = uint(0xffffffff);
  if (ttl === undefined || ttl === 0 || !key(K_HOPS)) return undefined;
  const hops = uint(MAX_HOPS);
  if (hops === undefined || !key(K_SEALED)) return undefined;
  const sealed = bin();
  if (sealed === undefined || o !== p.length) return undefined;
  return { op: FedOp.FED_DELIVER, to, from, fromKey, mid, ttl, hops, sealed };
}
