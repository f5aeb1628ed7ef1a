/**
 * Wire hot path: Tier 4 and Tier 5 messages with a 1 KiB payload,
 * encoded + sealed + framed, and read from the frame + opened + decoded,
 * per second on one core, as a ratio of OpenSSL's 1 KiB ChaCha20-Poly1305
 * operation rate measured in the same run. Target: >= 0.3x.
 *
 * Run: `deno run -A bench/wire.ts [--quick]`
 *
 * @module
 */
import { backend, BACKEND_NAMES, type BackendName } from "../core/crypto/mod.ts";
import type { CryptoBackend } from "../core/crypto/types.ts";
import { identityFrom, Initiator, Responder } from "../core/session/handshake.ts";
import { Session } from "../core/session/session.ts";
import { FrameReader } from "../core/wire/frame.ts";
import { haveOpenssl, opensslSpeed } from "./_openssl.ts";

const quick = Deno.args.includes("--quick");
const MS = quick ? 400 : 1500;
const ROUNDS = quick ? 2 : 4;
const SIZE = 1024;

function pair(b: CryptoBackend, tier: 4 | 5, sink: { out: Uint8Array[] }) {
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
  const a = new Session(state, { backend: b, framed: true, send: (x) => sink.out.push(x) });
  // as the node's connections: FrameReader output is handed over, opened in place
  const r = new Session(rs, { backend: b, framed: true, inPlace: true, send: () => {} });
  return { a, r };
}

/** Best of `ROUNDS` runs of `MS` milliseconds: operations per second. */
function rate(run: (deadline: number) => number): number {
  let best = 0;
  for (let i = 0; i < ROUNDS; i++) {
    const t0 = performance.now();
    const n = run(t0 + MS);
    best = Math.max(best, n / ((performance.now() - t0) / 1000));
  }
  return best;
}

function measure(b: CryptoBackend, tier: 4 | 5): { seal: number; open: number; both: number } {
  const payload = new Uint8Array(SIZE).fill(0x5a);
  const sink = { out: [] as Uint8Array[] };
  const seal = rate((deadline) => {
    const { a } = pair(b, tier, sink);
    let n = 0;
    while (performance.now() < deadline) {
      for (let i = 0; i < 64; i++) a.seal(0x0200, payload);
      n += 64;
    }
    return n;
  });
  // Open: seal a batch untimed (the replay window forbids reusing one
  // message), then time reading it from frames, opening and decoding.
  let open = 0;
  for (let round = 0; round < ROUNDS; round++) {
    const { a, r } = pair(b, tier, sink);
    let n = 0;
    let time = 0;
    const end = performance.now() + MS;
    while (performance.now() < end) {
      const batch: Uint8Array[] = [];
      for (let i = 0; i < 2048; i++) batch.push(a.seal(0x0200, payload));
      const reader = new FrameReader();
      const t0 = performance.now();
      for (const f of batch) {
        for (const m of reader.push(f)) {
          const res = r.receive(m);
          if (res.kind !== "message") throw new Error(`bench: unexpected ${res.kind}`);
        }
      }
      time += performance.now() - t0;
      n += batch.length;
    }
    open = Math.max(open, n / (time / 1000));
  }
  const both = 1 / (1 / seal + 1 / open);
  return { seal, open, both };
}

if (!haveOpenssl()) {
  console.error("bench/wire: openssl not found (apt-get install openssl): nothing to compare with");
  Deno.exit(1);
}
const sslBps = await opensslSpeed(SIZE, quick ? 1 : 3);
const sslOps = sslBps / SIZE;
console.log(`bench/wire: ${SIZE}-byte payloads, one core, best of ${ROUNDS} x ${MS} ms`);
console.log(
  `openssl speed -evp chacha20-poly1305 -bytes ${SIZE}: ${(sslOps / 1000).toFixed(0)}k ops/s\n`,
);
console.log(
  "backend   tier   seal+frame/s   read+open/s   round trip/s   ratio(seal)  ratio(open)",
);
const names: readonly BackendName[] = BACKEND_NAMES;
let best = 0;
let bestName = "";
const results: { name: string; tier: number; seal: number; open: number }[] = [];
for (const name of names) {
  let b: CryptoBackend;
  try {
    b = backend(name);
  } catch {
    continue;
  }
  for (const tier of [4, 5] as const) {
    const r = measure(b, tier);
    results.push({ name: b.name, tier, seal: r.seal, open: r.open });
    const rs = r.seal / sslOps;
    const ro = r.open / sslOps;
    if (Math.min(rs, ro) > best) {
      best = Math.min(rs, ro);
      bestName = `${b.name} tier ${tier}`;
    }
    console.log(
      `${b.name.padEnd(9)} ${String(tier).padEnd(6)} ${r.seal.toFixed(0).padStart(12)} ${
        r.open.toFixed(0).padStart(13)
      } ${r.both.toFixed(0).padStart(14)} ${rs.toFixed(2).padStart(11)}x ${
        ro.toFixed(2).padStart(11)
      }x`,
    );
  }
}
const def = backend();
const defRows = results.filter((r) => r.name === def.name);
const worst = Math.min(...defRows.map((r) => Math.min(r.seal, r.open))) / sslOps;
console.log(
  `\ntarget: default backend (${def.name}) Tier 4/5 1 KiB seal and open, each >= 0.3x openssl 1 KiB op rate: ${
    worst.toFixed(2)
  }x ${worst >= 0.3 ? "PASS" : "FAIL"}`,
);
console.log(`best combination: ${bestName} at ${best.toFixed(2)}x`);
