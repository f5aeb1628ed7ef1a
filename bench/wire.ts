/**
 * Wire hot path: Tier 4 and Tier 5 messages with a 1 KiB payload,
 * encoded + sealed + framed, and read from the frame + opened + decoded,
 * per second on one core, as a ratio of OpenSSL's 1 KiB ChaCha20-Poly1305
 * operation rate (`openssl speed -evp chacha20-poly1305 -bytes 1024`).
 * Target: >= 0.3x for the default back end, seal and open, both tiers.
 *
 * Both sides are timed in **CPU time** of their own process (openssl speed
 * without `-elapsed`; here user + system time of this process, GC threads
 * included), and the peer is measured again before each round, so every
 * ratio compares two measurements taken seconds apart. On a machine shared
 * with other work, wall-clock rates mostly measure the scheduler; CPU time
 * keeps the cache and memory contention but not the time spent descheduled.
 * Each row prints the best ratio over the rounds and the range.
 *
 * The libcrypto row uses the frame shim when it is built
 * (core/crypto/native/build.sh; `MYCLERK_FRAME_SHIM=off` shows the per-call
 * FFI path). The receiving session opens in place, as the node's
 * connections do (the transports hand each message over).
 *
 * With the shim, a `shim call` row per tier shows the floor under the
 * libcrypto row: the one FFI call per message alone (AEAD + HMAC trailer,
 * with the nonce and byte ranges a real session passed), no session,
 * header, counter or framing. The gap between the two rows is the JS work
 * around the call.
 *
 * The peer is a streaming rate: `openssl speed -evp chacha20-poly1305`
 * (OpenSSL 3.0, with or without `-aead`) times one `EVP_EncryptUpdate` per
 * 1 KiB on one context, with no per-message nonce, AAD or tag. A message
 * needs those, so even OpenSSL's own per-message AEAD sequence (the shim's
 * AEAD part) runs slower than the peer.
 *
 * Run: `deno run -A bench/wire.ts [--quick]` (`--help` prints the usage).
 *
 * @module
 */
import process from "node:process";
import { backend, BACKEND_NAMES, type BackendName } from "../core/crypto/mod.ts";
import { frameShimState } from "../core/crypto/frame_shim.ts";
import type { CryptoBackend, FrameKeys, FrameLayout } from "../core/crypto/types.ts";
import { identityFrom, Initiator, Responder } from "../core/session/handshake.ts";
import { Session } from "../core/session/session.ts";
import { FrameReader } from "../core/wire/frame.ts";
import { haveOpenssl, opensslSpeed } from "./_openssl.ts";

if (Deno.args.includes("--help") || Deno.args.includes("-h")) {
  console.log(
    "usage: deno run -A bench/wire.ts [--quick]\n\n" +
      "Tier 4/5 1 KiB seal+frame and read+open per CPU second for every crypto back end,\n" +
      "as ratios of `openssl speed -evp chacha20-poly1305 -bytes 1024` measured before each\n" +
      "round (target: default back end >= 0.3x). --quick: 3 rounds of 300 ms instead of 5 of 1 s.\n" +
      "MYCLERK_FRAME_SHIM=off measures libcrypto without its frame shim.",
  );
  Deno.exit(0);
}
const unknown = Deno.args.filter((a) => a !== "--quick");
if (unknown.length > 0) {
  console.error(`bench/wire: unknown argument ${unknown[0]} (--help lists them)`);
  Deno.exit(2);
}
const quick = Deno.args.includes("--quick");
const MS = quick ? 300 : 1000;
const ROUNDS = quick ? 3 : 5;
const SSL_SECONDS = 1;
const SIZE = 1024;

/** CPU time of this process in milliseconds (all threads). */
function cpuMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

function pair(b: CryptoBackend, tier: 4 | 5) {
  const hi = new Initiator({
    backend: b,
    identity: identityFrom(b, b.x25519Generate().privateKey),
    tier,
  });
  const hr = new Responder({
    backend: b,
    identity: identityFrom(b, b.x25519Generate().privateKey),
    sessionId: 1,
  });
  const m2 = hr.accept(hi.start());
  const { m3, state } = hi.finish(m2);
  const rs = hr.complete(m3);
  const a = new Session(state, { backend: b, framed: true, send: () => {} });
  // as the node's connections: FrameReader output is handed over, opened in place
  const r = new Session(rs, { backend: b, framed: true, inPlace: true, send: () => {} });
  return { a, r };
}

/** Runs `op` for one window of MS, in batches of 64: calls per CPU second of this process. */
function perCpuSecond(op: () => void): number {
  let n = 0;
  const end = performance.now() + MS;
  const c0 = cpuMs();
  while (performance.now() < end) {
    for (let i = 0; i < 64; i++) op();
    n += 64;
  }
  return n / ((cpuMs() - c0) / 1000);
}

/** One window of seal and one of read+open: operations per CPU second. */
function measure(b: CryptoBackend, tier: 4 | 5): { seal: number; open: number } {
  const payload = new Uint8Array(SIZE).fill(0x5a);
  const { a, r } = pair(b, tier);
  for (let i = 0; i < 256; i++) r.receive(a.seal(0x0200, payload).subarray(4)); // warm up
  const seal = perCpuSecond(() => a.seal(0x0200, payload));
  // Open: seal a batch untimed (the replay window forbids reusing one
  // message), then time reading it from frames, opening and decoding.
  let m = 0;
  let cpu = 0;
  const end2 = performance.now() + MS;
  while (performance.now() < end2) {
    const batch: Uint8Array[] = [];
    for (let i = 0; i < 2048; i++) batch.push(a.seal(0x0200, payload));
    const reader = new FrameReader();
    const t0 = cpuMs();
    for (const f of batch) {
      for (const msg of reader.push(f)) {
        const res = r.receive(msg);
        if (res.kind !== "message") throw new Error(`bench: unexpected ${res.kind}`);
      }
    }
    cpu += cpuMs() - t0;
    m += batch.length;
  }
  return { seal, open: m / (cpu / 1000) };
}

/** One real call of each kind, as a session made it: the arguments the floor loops replay. */
interface Captured {
  fk: FrameKeys;
  nonce: Uint8Array;
  layout: FrameLayout;
  /** A copy of the buffer as it was passed (before an in-place open overwrote it). */
  buf: Uint8Array;
}

/** `b` with every {@link FrameKeys} it binds recording its latest seal and open. */
function recording(b: CryptoBackend, seen: { seal?: Captured; open?: Captured }): CryptoBackend {
  return {
    ...b,
    frameKeys(key: Uint8Array, mac: Uint8Array): FrameKeys | undefined {
      const fk = b.frameKeys?.(key, mac);
      if (fk === undefined) return undefined;
      const take = (buf: Uint8Array, nonce: Uint8Array, l: FrameLayout): Captured => ({
        fk,
        nonce: nonce.slice(),
        layout: { ...l }, // the caller reuses one scratch layout object
        buf: buf.slice(),
      });
      return {
        seal(buf, nonce, l, payload) {
          seen.seal = take(buf, nonce, l);
          fk.seal(buf, nonce, l, payload);
        },
        open(buf, nonce, l, out) {
          seen.open = take(buf, nonce, l);
          return fk.open(buf, nonce, l, out);
        },
        dispose: () => fk.dispose(),
      };
    },
  };
}

/**
 * The floor under a back end's row: its frame-shim call alone, per CPU
 * second, replaying the arguments one real seal and one real open passed.
 * Undefined without the shim.
 */
function measureShimCall(
  b: CryptoBackend,
  tier: 4 | 5,
): { seal: number; open: number } | undefined {
  const seen: { seal?: Captured; open?: Captured } = {};
  const { a, r } = pair(recording(b, seen), tier);
  const payload = new Uint8Array(SIZE).fill(0x5a);
  r.receive(a.seal(0x0200, payload).subarray(4));
  const s = seen.seal, o = seen.open;
  if (s === undefined || o === undefined) return undefined;
  const out = new Uint8Array(o.layout.payloadLength);
  const warm = (op: () => void): () => void => {
    for (let i = 0; i < 256; i++) op();
    return op;
  };
  const seal = perCpuSecond(warm(() => s.fk.seal(s.buf, s.nonce, s.layout, payload)));
  const open = perCpuSecond(warm(() => {
    // out is apart from the ciphertext, so the same message opens again and again
    if (o.fk.open(o.buf, o.nonce, o.layout, out) !== 0) throw new Error("bench: shim open failed");
  }));
  a.destroy();
  r.destroy();
  return { seal, open };
}

if (!haveOpenssl()) {
  console.error("bench/wire: openssl not found (apt-get install openssl): nothing to compare with");
  Deno.exit(1);
}

const backends: CryptoBackend[] = [];
for (const name of BACKEND_NAMES as readonly BackendName[]) {
  try {
    backends.push(backend(name));
  } catch {
    // not usable here (libcrypto without FFI): not measured
  }
}
type Row = {
  name: string;
  tier: 4 | 5;
  seal: number[];
  open: number[];
  rs: number[];
  ro: number[];
};
const rows: Row[] = backends.flatMap((b) =>
  ([4, 5] as const).map((tier) => ({ name: b.name, tier, seal: [], open: [], rs: [], ro: [] }))
);
// the floor rows: one per tier for each back end with a frame shim
const floors: (Row & { b: CryptoBackend })[] = backends.filter((b) => b.frameKeys !== undefined)
  .flatMap((b) =>
    ([4, 5] as const).map((tier) => ({
      b,
      name: `${b.name} shim call`,
      tier,
      seal: [],
      open: [],
      rs: [],
      ro: [],
    }))
  );
const sslRates: number[] = [];
for (let round = 0; round < ROUNDS; round++) {
  const ssl = (await opensslSpeed(SIZE, SSL_SECONDS, false, true)) / SIZE;
  sslRates.push(ssl);
  let i = 0;
  for (const b of backends) {
    for (const tier of [4, 5] as const) {
      const r = measure(b, tier);
      const row = rows[i++];
      row.seal.push(r.seal);
      row.open.push(r.open);
      row.rs.push(r.seal / ssl);
      row.ro.push(r.open / ssl);
    }
  }
  for (const f of floors) {
    const r = measureShimCall(f.b, f.tier);
    if (r === undefined) continue;
    f.seal.push(r.seal);
    f.open.push(r.open);
    f.rs.push(r.seal / ssl);
    f.ro.push(r.open / ssl);
  }
}

const k = (x: number) => `${(x / 1000).toFixed(0)}k`;
const range = (xs: number[]) => `${Math.min(...xs).toFixed(2)}-${Math.max(...xs).toFixed(2)}`;
console.log(
  `bench/wire: ${SIZE}-byte payloads, one core, CPU time, ${ROUNDS} rounds of ${MS} ms per row` +
    ` (frame shim: ${frameShimState() ?? "not tried"})`,
);
console.log(
  `openssl speed -evp chacha20-poly1305 -bytes ${SIZE} (CPU time), per round: ${
    sslRates.map(k).join(" ")
  } ops/s\n`,
);
console.log(
  "backend             tier   seal+frame/s   read+open/s   ratio(seal) best [range]   ratio(open) best [range]",
);
for (const r of [...rows, ...floors.filter((f) => f.seal.length > 0)]) {
  console.log(
    `${r.name.padEnd(19)} ${String(r.tier).padEnd(6)} ${k(Math.max(...r.seal)).padStart(12)} ${
      k(Math.max(...r.open)).padStart(13)
    } ${Math.max(...r.rs).toFixed(2).padStart(11)}x [${range(r.rs)}] ${
      Math.max(...r.ro).toFixed(2).padStart(11)
    }x [${range(r.ro)}]`,
  );
}
const def = backend();
const defRows = rows.filter((r) => r.name === def.name);
const worst = Math.min(...defRows.map((r) => Math.min(Math.max(...r.rs), Math.max(...r.ro))));
console.log(
  `\ntarget: default backend (${def.name}) Tier 4/5 1 KiB seal and open, each >= 0.3x openssl 1 KiB op rate: ${
    worst.toFixed(2)
  }x ${worst >= 0.3 ? "PASS" : "FAIL"}`,
);
