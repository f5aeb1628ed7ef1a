/**
 * The relay's one-job modules (federation/relay/), on their own: the
 * module graph has no SQLite in it (the edge relay builds the same Relay on
 * Deno KV), peer specs and the allow-list index, the envelope expiry of a
 * short envelope, and the per-session credit cap of FEDERATION.md §5.
 */

import { assert, assertEquals, assertThrows } from "./_assert.ts";
import { backend } from "../../core/crypto/mod.ts";
import { validateConfig } from "../../core/node/config.ts";
import { MyClerkError } from "../../core/errors.ts";
import { toHex } from "../../federation/bytes.ts";
import { sealEnvelope } from "../../federation/envelope.ts";
import { familyKeyId } from "../../federation/family.ts";
import type { Link } from "../../federation/link.ts";
import {
  DEFAULT_WINDOW_BYTES,
  envelopeExpiry,
  MAX_SESSION_CREDIT,
  mergePeers,
  parsePeer,
} from "../../federation/relay/mod.ts";
import { midKey, RelayLink } from "../../federation/relay/links.ts";
import { PeerIndex } from "../../federation/relay/peers.ts";

const be = backend();
const ROOT = new URL("../../", import.meta.url).pathname;

function fedConfig(federation: Record<string, unknown> = {}) {
  return validateConfig({ data: "/tmp/x", federation }).federation;
}

function fakeLink(keyId: number, peerStatic?: Uint8Array): Link {
  return {
    direction: "in",
    keyId,
    peerStatic,
    transcriptHash: undefined,
    remote: "test",
    queuedBytes: 0,
    send: () => true,
    close: () => {},
  };
}

Deno.test("relay modules: no node:sqlite and no SQLite store in the module graph", async () => {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["info", "--json", "federation/relay/mod.ts"],
    cwd: ROOT,
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert(out.success, new TextDecoder().decode(out.stderr));
  const info = JSON.parse(new TextDecoder().decode(out.stdout)) as {
    modules: { specifier: string }[];
  };
  const specs = info.modules.map((m) => m.specifier);
  assert(specs.some((s) => s.endsWith("/federation/relay/ingest.ts")), "graph was read");
  assertEquals(
    specs.filter((s) => s === "node:sqlite" || /\/store\/sqlite_|\/store\.ts$/.test(s)),
    [],
  );
});

Deno.test("relay peers: --peer and config specs parse with fromHex, merge without duplicates", () => {
  const key = new Uint8Array(32).map((_, i) => i * 7);
  const a = parsePeer(`127.0.0.1:1@${toHex(key)}`);
  assertEquals(a.addr, "127.0.0.1:1");
  assertEquals(toHex(a.key!), toHex(key));
  assertEquals(parsePeer("h:2@0000abcd").keyId, 0xabcd);
  const e = assertThrows(() => parsePeer("h:2"), MyClerkError);
  assertEquals(e.detail, "peer");
  const cfg = fedConfig({
    peers: [{ addr: "127.0.0.1:1", key: toHex(key) }, { addr: "h:3", keyId: "00000010" }],
  });
  const merged = mergePeers([a], cfg);
  assertEquals(merged.map((p) => p.addr), ["127.0.0.1:1", "h:3"]);
  assertEquals(merged[1].keyId, 0x10);
});

Deno.test("relay peers: the allow-list compares pinned keys by bytes, ids and allowPeers", () => {
  const key = new Uint8Array(32).fill(9);
  const other = new Uint8Array(32).fill(8);
  const cfg = fedConfig({ allowPeers: ["00000077"] });
  const idx = new PeerIndex(be, [{ addr: "a:1", key }, { addr: "b:1", keyId: 0x55 }], cfg);
  assert(idx.allows(fakeLink(1, key)), "pinned key");
  assert(!idx.allows(fakeLink(1, other)), "another key with any id");
  assert(idx.allows(fakeLink(0x55, other)), "pinned key id");
  assert(idx.allows(fakeLink(0x77, other)), "allowPeers");
  assert(!idx.allows(fakeLink(0x78, undefined)), "unlisted");
  assert(idx.configured(familyKeyId(be, key)), "a pinned key's id is a configured peer");
  assert(idx.configured(0x55));
  assert(!idx.configured(0x77), "allowPeers may connect, but is not a route");
});

Deno.test("relay ingest: envelope expiry reads the header, a short envelope is BAD_REQUEST", () => {
  const a = be.x25519Generate();
  const b = be.x25519Generate();
  const body = new Uint8Array(10);
  const ts = 1_700_000_000;
  const s = sealEnvelope(be, {
    senderSecret: a.privateKey,
    recipientKey: b.publicKey,
    body,
    ttl: 60,
    ts,
  });
  assertEquals(envelopeExpiry(s.sealed, 60), ts + 60);
  const late = sealEnvelope(be, {
    senderSecret: a.privateKey,
    recipientKey: b.publicKey,
    body,
    ttl: 3600,
    ts: 0xffffffff - 10,
  });
  assertEquals(envelopeExpiry(late.sealed, 3600), 0xffffffff, "capped at 2^32 - 1");
  for (const n of [0, 9, 10, 63]) {
    const e = assertThrows(() => envelopeExpiry(s.sealed.subarray(0, n), 60), MyClerkError);
    assertEquals(e.detail, "envelope-truncated");
  }
});

Deno.test("relay links: credit is capped at 2^20, the window reopens only for known mids", () => {
  const l = new RelayLink(fakeLink(1));
  assertEquals(l.window, DEFAULT_WINDOW_BYTES);
  for (let i = 0; i < 20; i++) l.fetch(65_535);
  assertEquals(l.credit, MAX_SESSION_CREDIT);
  assertEquals(MAX_SESSION_CREDIT, 1_048_576);
  l.fetch(1, 1000);
  assertEquals(l.window, 1000);
  assert(l.fits(5000), "nothing unacked: one message of any size goes");
  const mid = new Uint8Array(16).fill(1);
  l.sent(mid, 800, 7);
  assertEquals([l.cursor, l.inflightBytes, l.credit], [7, 800, MAX_SESSION_CREDIT - 1]);
  assert(!l.fits(300), "800 + 300 > window 1000");
  assert(l.fits(200));
  l.delivered([new Uint8Array(16).fill(2)]);
  assertEquals(l.inflightBytes, 800, "an unknown mid changes nothing");
  l.delivered([mid, mid]);
  assertEquals([l.inflightBytes, l.inflightCount], [0, 0], "each mid's size once");
});

Deno.test("relay links: midKey is one-to-one (16-byte mids and any other length never collide)", () => {
  const seen = new Map<string, string>();
  const add = (b: Uint8Array) => {
    const k = midKey(b);
    const hex = `${b.length}:${toHex(b)}`;
    const prev = seen.get(k);
    assert(prev === undefined || prev === hex, `collision: ${prev} and ${hex}`);
    seen.set(k, hex);
  };
  for (let i = 0; i < 2000; i++) add(crypto.getRandomValues(new Uint8Array(16)));
  // Neighbours differing in one byte, byte order within a 16-bit unit, and lengths around 16.
  const base = new Uint8Array(16);
  for (let i = 0; i < 16; i++) {
    for (const v of [1, 0x80, 0xff]) {
      const b = base.slice();
      b[i] = v;
      add(b);
    }
  }
  for (const n of [0, 1, 3, 4, 7, 8, 15, 17, 32]) add(new Uint8Array(n).fill(0x41));
  add(base);
  assertEquals(seen.size, 2000 + 16 * 3 + 9 + 1);
  // The same bytes in another array: the same key (acks carry their own copies of the mids).
  const m = crypto.getRandomValues(new Uint8Array(16));
  assertEquals(midKey(m), midKey(m.slice()));
});

Deno.test("relay links: a delivered-ack reopens the byte window by the pushed sizes", () => {
  const l = new RelayLink({} as Link);
  l.fetch(10);
  const a = crypto.getRandomValues(new Uint8Array(16));
  const b = crypto.getRandomValues(new Uint8Array(16));
  l.sent(a, 1000, 1);
  l.sent(b, 500, 2);
  assertEquals(l.inflightBytes, 1500);
  assertEquals(l.inflightCount, 2);
  l.delivered([a.slice(), crypto.getRandomValues(new Uint8Array(16)), new Uint8Array(3)]);
  assertEquals(l.inflightBytes, 500);
  assertEquals(l.inflightCount, 1);
  l.delivered([b]);
  assertEquals(l.inflightBytes, 0);
  assertEquals(l.inflightCount, 0);
});
