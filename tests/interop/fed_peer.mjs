// Scripted independent hub (FEDERATION.md §3-§5, §10.1) against a real relay, built on mcp0.mjs
// (core handshake, Tier 5 session) and fed.mjs (records, proof, envelope, messages).
//
// Usage:
//   node tests/interop/fed_peer.mjs HOST:PORT --data DIR [--name NAME] [--token TOKEN]
//        [--send FAMILY_ID (--body TEXT | --body-file FILE)] [--ttl SECONDS]
//        [--fetch N [--max-bytes B]] [--status] [--timeout MS] [--admit-order hello-first|admit-first]
//
// --max-bytes B sets the FED_FETCH byte window (FEDERATION.md §5 "Delivery credit") and checks the
// relay keeps it: before acking a message the peer waits 300 ms, and a further FED_DELIVER that
// arrives while the first is unacked must fit the window with it (exit 1 otherwise).
//
// State (node key, family key, admission) lives in DIR/peer.json. Every step prints one JSON line
// on stdout: {"event":"identity"|"admitted"|"hello"|"record"|"stored"|"received"|"acked"|...}.
// Exit 0 when every requested step succeeded, 1 otherwise (reason on stderr).

import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { Client, decode, keyId, mpDecode, OP, x25519Public } from "./mcp0.mjs";
import {
  admissionProof,
  decodeFedMap,
  encodeFed,
  familyId,
  familyKid,
  FED,
  makeRecord,
  openEnvelope,
  parseToken,
  sealEnvelope,
} from "./fed.mjs";

const FED_NAMES = Object.fromEntries(Object.entries(FED).map(([k, v]) => [v, k]));
const ERR_NAMES = {
  0x10: "BAD_REQUEST",
  0x11: "UNAUTHORIZED",
  0x12: "FORBIDDEN",
  0x13: "NOT_FOUND",
  0x14: "UNSUPPORTED",
  0x15: "TOO_LARGE",
  0x16: "RATE_LIMITED",
  0x30: "FED_UNKNOWN_FAMILY",
  0x31: "FED_QUOTA_EXCEEDED",
  0x32: "FED_EXPIRED",
  0x33: "FED_NO_ROUTE",
  0x34: "FED_ADMISSION_DENIED",
};

// ---------------------------------------------------------------------------
// arguments

const argv = process.argv.slice(2);
const addr = argv[0];
const opt = (name, dflt) => {
  const i = argv.indexOf(`--${name}`);
  return i > 0 ? argv[i + 1] : dflt;
};
if (!addr || !opt("data")) {
  console.error(
    "usage: node fed_peer.mjs HOST:PORT --data DIR [--token T] [--send ID --body TEXT] [--fetch N]",
  );
  process.exit(2);
}
const ci = addr.lastIndexOf(":");
const host = addr.slice(0, ci).replace(/^\[|\]$/g, ""), port = Number(addr.slice(ci + 1));
const dataDir = opt("data");
const timeoutMs = Number(opt("timeout", "10000"));
const admitOrder = opt("admit-order", "hello-first");

const out = (o) => console.log(JSON.stringify(o));
const hexs = (b) => Buffer.from(b).toString("hex");

// ---------------------------------------------------------------------------
// state

fs.mkdirSync(dataDir, { recursive: true });
const statePath = path.join(dataDir, "peer.json");
let state;
if (fs.existsSync(statePath)) {
  state = JSON.parse(fs.readFileSync(statePath, "utf8"));
} else {
  state = {
    name: opt("name", "interop family"),
    nodeSecret: hexs(crypto.randomBytes(32)),
    familySecret: hexs(crypto.randomBytes(32)),
    seen: [],
  };
}
const save = () => fs.writeFileSync(statePath, JSON.stringify(state, null, 2), { mode: 0o600 });
save();
const nodeSk = Buffer.from(state.nodeSecret, "hex");
const familySk = Buffer.from(state.familySecret, "hex");
const familyPk = x25519Public(familySk);
const myFamily = familyId(familyPk);
out({
  event: "identity",
  family: myFamily,
  familyKeyId: familyKid(familyPk),
  nodeKeyId: keyId(x25519Public(nodeSk)),
});

// ---------------------------------------------------------------------------
// session

/** mcp0 Client that also keeps the responder's static key from M2 (needed for the proof). */
class FedClient extends Client {
  async handshake() {
    const r = this.reader;
    const orig = r.next.bind(r);
    r.next = async (t) => {
      const m = await orig(t);
      r.next = orig;
      this.rawM2 = m;
      return m;
    };
    await super.handshake();
    this.relayPk = Buffer.from(mpDecode(decode(this.rawM2).payload).static);
  }

  sendFed(msg) {
    this.sendMsg(msg.op, mpDecode(encodeFed(msg)));
  }

  /** Next federation message or ERROR: {op, msg} / {op: ERROR, error}. Other core messages skipped. */
  async nextFed(deadline) {
    for (;;) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error("timeout waiting for a federation message");
      this.timeoutMs = left;
      const r = await this.recvMsg();
      const op = r.m.opcode;
      if (op === OP.ERROR) {
        const e = r.body;
        return { op, error: { ...e, name: ERR_NAMES[e.code] ?? `0x${e.code?.toString(16)}` } };
      }
      if (op === OP.SESSION_TICKET) {
        this.ticket = r.body;
        continue;
      }
      if (op >= 0x0300 && op <= 0x03ff) return { op, msg: decodeFedMap(op, r.body) };
      if (op === OP.KEEPALIVE) {
        this.sendMsg(OP.KEEPALIVE_ACK, r.body.id !== undefined ? { re: r.body.id } : {});
        continue;
      }
      out({ event: "ignored", opcode: op });
    }
  }

  /** Wait for a message satisfying pred; other federation messages are reported and kept. */
  async waitFor(pred, what) {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const x = await this.nextFed(deadline);
      if (pred(x)) return x;
      if (x.op === OP.ERROR) {
        throw new Error(`relay refused while waiting for ${what}: ${fmtErr(x.error)}`);
      }
      this.onOther(x);
    }
  }

  onOther(x) {
    const m = x.msg;
    if (x.op === FED.QUEUE_STATUS) {
      this.lastStatus = m;
      out({ event: "queue-status", depth: m.depth, bytes: m.bytes });
    } else if (x.op === FED.HELLO) {
      out({ event: "hello", role: m.role, keyId: m.keyId, families: m.families });
    } else if (x.op === FED.DELIVER) this.pending.push(m);
    else out({ event: "other", opcode: x.op, name: FED_NAMES[x.op] });
  }
}

const fmtErr = (e) =>
  `${e.name} ${e.detail ?? ""} ${
    JSON.stringify(e, (_k, v) => (v?.type === "Buffer" ? hexs(v.data) : v))
  }`;

async function connect() {
  const c = new FedClient(host, port, { tier: 5, minTier: 5, staticPriv: nodeSk, timeoutMs });
  c.pending = [];
  await c.connect();
  if (c.selectedTier !== 5) throw new Error(`negotiated tier ${c.selectedTier}`);
  if (state.relayKey && !c.relayPk.equals(Buffer.from(state.relayKey, "hex"))) {
    throw new Error("relay static key differs from the one pinned at admission");
  }
  return c;
}

function helloMsg() {
  return {
    op: FED.HELLO,
    role: "hub",
    keyId: keyId(x25519Public(nodeSk)),
    families: [myFamily],
    version: 0,
  };
}

async function helloExchange(c) {
  c.sendFed(helloMsg());
  const h = await c.waitFor((x) => x.op === FED.HELLO, "FED_HELLO");
  if (h.msg.role !== "relay") throw new Error(`relay FED_HELLO role ${h.msg.role}`);
  if (h.msg.keyId !== c.serverKeyId) {
    throw new Error(`relay FED_HELLO key-id ${h.msg.keyId} != handshake key id ${c.serverKeyId}`);
  }
  out({
    event: "hello",
    role: h.msg.role,
    keyId: h.msg.keyId,
    families: h.msg.families,
    maxMessage: h.msg.maxMessage,
  });
  return h.msg;
}

// ---------------------------------------------------------------------------
// steps

async function admit(token) {
  const t = parseToken(token);
  const c = await connect();
  try {
    if (t.relayKeyId !== c.serverKeyId) {
      throw new Error(`token is for relay ${t.relayKeyId}, connected to ${c.serverKeyId}`);
    }
    const record = makeRecord({
      name: state.name,
      key: familyPk,
      home: c.serverKeyId,
      homeAddr: addr,
      created: Math.floor(Date.now() / 1000),
    });
    const { proof } = admissionProof(familySk, c.relayPk, t.tokenId, c.h3);
    if (admitOrder === "hello-first") {
      // §5: FED_HELLO is "the first message after the handshake" on every hub<->relay session.
      c.sendFed(helloMsg());
    }
    c.sendFed({ op: FED.ADMIT, token, family: record, proof });
    const a = await c.waitFor((x) => x.op === FED.ADMITTED, "FED_ADMITTED");
    if (a.msg.family !== myFamily) throw new Error(`FED_ADMITTED for ${a.msg.family}`);
    if (a.msg.relay !== c.serverKeyId) throw new Error(`FED_ADMITTED relay ${a.msg.relay}`);
    state.admitted = { record: { ...record, key: hexs(record.key) }, relay: a.msg.relay };
    state.relayKey = hexs(c.relayPk);
    state.maxTtl = a.msg.maxTtl;
    save();
    out({
      event: "admitted",
      family: myFamily,
      relay: a.msg.relay,
      maxMessage: a.msg.maxMessage,
      maxTtl: a.msg.maxTtl,
    });
  } finally {
    c.destroy();
  }
}

async function lookup(c, to) {
  c.sendFed({ op: FED.LOOKUP, family: to });
  const r = await c.waitFor((x) => x.op === FED.RECORDS || x.op === OP.ERROR, "FED_RECORDS");
  if (r.op === OP.ERROR) throw new Error(`FED_LOOKUP refused: ${fmtErr(r.error)}`);
  const rec = r.msg.records.find((x) => x.id === to);
  if (!rec) throw new Error(`FED_RECORDS without ${to}`);
  out({ event: "record", id: rec.id, name: rec.name, keyId: rec["key-id"], home: rec.home });
  return rec;
}

async function send(c, to, body) {
  const rec = await lookup(c, to);
  const ttl = Number(opt("ttl", "3600"));
  const s = sealEnvelope({ senderSecret: familySk, recipientKey: rec.key, body, ttl });
  c.sendFed({ op: FED.DELIVER, ...s.routing, hops: 0, sealed: s.sealed });
  const a = await c.waitFor(
    (x) =>
      (x.op === FED.ACK && x.msg.kind === "stored" &&
        x.msg.mids.some((m) => m.equals(s.routing.mid))) ||
      x.op === OP.ERROR,
    "FED_ACK stored",
  );
  if (a.op === OP.ERROR) throw new Error(`FED_DELIVER refused: ${fmtErr(a.error)}`);
  out({
    event: "stored",
    mid: hexs(s.routing.mid),
    to,
    relay: a.msg.relay,
    sealedBytes: s.sealed.length,
  });
}

async function fetchN(c, n) {
  const mb = opt("max-bytes");
  const maxBytes = mb === undefined ? undefined : Number(mb);
  c.sendFed({
    op: FED.FETCH,
    family: myFamily,
    credit: Math.max(n, 1),
    ...(maxBytes === undefined ? {} : { maxBytes }),
  });
  let got = 0;
  const deadline = Date.now() + timeoutMs;
  while (got < n) {
    let d = c.pending.shift();
    if (!d) {
      const x = await c.nextFed(deadline);
      if (x.op === OP.ERROR) throw new Error(`relay error while fetching: ${fmtErr(x.error)}`);
      if (x.op !== FED.DELIVER) {
        c.onOther(x);
        continue;
      }
      d = x.msg;
    }
    const o = openEnvelope(d, d.sealed, familySk);
    const midHex = hexs(o.mid);
    if (maxBytes !== undefined && c.pending.length === 0) {
      // §5: with d unacked (U = len(d.sealed) > 0), another push needs U + s <= W.
      try {
        const x = await c.nextFed(Date.now() + 300);
        if (x.op === FED.DELIVER) {
          const u = d.sealed.length, s2 = x.msg.sealed.length;
          if (u + s2 > maxBytes) {
            throw new Error(`byte window broken: ${u} unacked + ${s2} > max-bytes ${maxBytes}`);
          }
          c.pending.push(x.msg);
        } else c.onOther(x);
      } catch (e) {
        if (!String(e.message).startsWith("timeout")) throw e;
      }
      out({ event: "window-ok", mid: midHex, unacked: d.sealed.length, window: maxBytes });
    }
    const replay = state.seen.includes(midHex);
    if (!replay) {
      state.seen.push(midHex);
      save();
      got++;
      out({
        event: "received",
        mid: midHex,
        from: o.from,
        ts: o.ts,
        ttl: o.ttl,
        hops: d.hops,
        size: o.body.length,
        // Large bodies are not echoed: process.exit would cut the stdout pipe mid-line.
        ...(o.body.length <= 4096 ? { body: o.body.toString("utf8") } : {}),
      });
    } else out({ event: "replay", mid: midHex });
    c.sendFed({ op: FED.ACK, kind: "delivered", family: myFamily, mids: [o.mid] });
    out({ event: "acked", mid: midHex });
  }
}

const watchdog = setTimeout(() => {
  console.error("fed_peer: overall timeout");
  process.exit(3);
}, timeoutMs * 4);

let c;
try {
  const token = opt("token");
  if (token && !state.admitted) await admit(token);
  if (!state.admitted) throw new Error("not admitted (give --token)");
  const sendTo = opt("send"), fetch = Number(opt("fetch", "0"));
  const status = argv.includes("--status");
  if (sendTo || fetch > 0 || status) {
    c = await connect();
    await helloExchange(c);
    if (status && !c.lastStatus) {
      // §5: FED_QUEUE_STATUS is "sent after admission/hello"
      const q = await c.waitFor((x) => x.op === FED.QUEUE_STATUS, "FED_QUEUE_STATUS");
      c.onOther(q);
    }
    if (sendTo) {
      const bf = opt("body-file");
      const body = bf ? fs.readFileSync(bf) : Buffer.from(opt("body", ""), "utf8");
      await send(c, sendTo, body);
    }
    if (fetch > 0) await fetchN(c, fetch);
    // give the relay a moment to take the "delivered" acks before closing
    await c.close().catch(() => c.destroy());
  }
  clearTimeout(watchdog);
  out({ event: "done" });
  process.exit(0);
} catch (e) {
  clearTimeout(watchdog);
  c?.destroy();
  console.error(`fed_peer: ${e.stack ?? e.message}`);
  process.exit(1);
}
