import { assert, assertEquals, assertThrows } from "./_assert.ts";
import { backends, fromHex, toHex } from "./_backends.ts";
import {
  deriveKeyPair,
  openAuth,
  openBase,
  publicKeyOf,
  sealAuth,
  sealBase,
  setupAuthR,
  setupAuthS,
  setupBaseR,
  setupBaseS,
} from "../../federation/hpke.ts";
import { ErrorCode, MyClerkError } from "../../core/errors.ts";
import { nobleBackend } from "../../core/crypto/noble.ts";

interface Vec {
  readonly mode: number;
  readonly kem_id: number;
  readonly kdf_id: number;
  readonly aead_id: number;
  readonly info: string;
  readonly ikmE: string;
  readonly pkEm: string;
  readonly skEm: string;
  readonly ikmR: string;
  readonly pkRm: string;
  readonly skRm: string;
  readonly ikmS?: string;
  readonly pkSm?: string;
  readonly skSm?: string;
  readonly enc: string;
  readonly key: string;
  readonly base_nonce: string;
  readonly exporter_secret: string;
  readonly encryptions: readonly {
    aad: string;
    ct: string;
    nonce: string;
    pt: string;
    "sequence number": number;
  }[];
  readonly exports: readonly { exporter_context: string; L: number; exported_value: string }[];
}

const file = JSON.parse(
  await Deno.readTextFile(new URL("../../docs/vectors/hpke_auth.json", import.meta.url)),
) as { vectors: readonly Vec[] };

for (const be of backends) {
  for (const v of file.vectors) {
    Deno.test(`hpke[${be.name}]: RFC 9180 A.2 mode ${v.mode} vector (setup, encryptions, exports)`, () => {
      assertEquals([v.kem_id, v.kdf_id, v.aead_id], [0x20, 1, 3]);
      const e = deriveKeyPair(be, fromHex(v.ikmE));
      assertEquals(toHex(e.privateKey), v.skEm);
      assertEquals(toHex(e.publicKey), v.pkEm);
      assertEquals(toHex(deriveKeyPair(be, fromHex(v.ikmR)).publicKey), v.pkRm);
      const info = fromHex(v.info);
      const pkR = fromHex(v.pkRm);
      const skR = fromHex(v.skRm);
      const sender = v.mode === 2
        ? setupAuthS(be, pkR, fromHex(v.skSm!), info, e)
        : setupBaseS(be, pkR, info, e);
      assertEquals(toHex(sender.enc), v.enc);
      assertEquals(toHex(sender.context.key), v.key);
      assertEquals(toHex(sender.context.baseNonce), v.base_nonce);
      assertEquals(toHex(sender.context.exporterSecret), v.exporter_secret);
      const recv = v.mode === 2
        ? setupAuthR(be, fromHex(v.enc), skR, fromHex(v.pkSm!), info)
        : setupBaseR(be, fromHex(v.enc), skR, info);
      for (const x of v.encryptions) {
        const seq = x["sequence number"];
        const ct = sender.context.seal(fromHex(x.aad), fromHex(x.pt), seq);
        assertEquals(toHex(ct), x.ct);
        assertEquals(toHex(recv.open(fromHex(x.aad), fromHex(x.ct), seq)), x.pt);
      }
      for (const x of v.exports) {
        assertEquals(toHex(recv.export(fromHex(x.exporter_context), x.L)), x.exported_value);
      }
      // Single-shot API = sequence 0.
      const x0 = v.encryptions[0];
      if (v.mode === 2) {
        const s = sealAuth(be, pkR, fromHex(v.skSm!), info, fromHex(x0.aad), fromHex(x0.pt), e);
        assertEquals(toHex(s.ct), x0.ct);
        assertEquals(
          toHex(openAuth(be, s.enc, skR, fromHex(v.pkSm!), info, fromHex(x0.aad), s.ct)),
          x0.pt,
        );
      } else {
        const s = sealBase(be, pkR, info, fromHex(x0.aad), fromHex(x0.pt), e);
        assertEquals(toHex(s.ct), x0.ct);
        assertEquals(toHex(openBase(be, s.enc, skR, info, fromHex(x0.aad), s.ct)), x0.pt);
      }
    });
  }

  Deno.test(`hpke[${be.name}]: auth mode rejects wrong sender key, tampering and bad sizes`, () => {
    const r = be.x25519Generate();
    const s = be.x25519Generate();
    const other = be.x25519Generate();
    const info = new TextEncoder().encode("info");
    const aad = new TextEncoder().encode("aad");
    const pt = new TextEncoder().encode("hello family");
    const { enc, ct } = sealAuth(be, r.publicKey, s.privateKey, info, aad, pt);
    assertEquals(openAuth(be, enc, r.privateKey, s.publicKey, info, aad, ct), pt);
    const fails = (f: () => unknown, code: number) => {
      const e = assertThrows(f, MyClerkError);
      assertEquals(e.code, code);
    };
    const U = ErrorCode.UNAUTHORIZED;
    fails(() => openAuth(be, enc, r.privateKey, other.publicKey, info, aad, ct), U);
    fails(() => openAuth(be, enc, other.privateKey, s.publicKey, info, aad, ct), U);
    fails(() => openAuth(be, enc, r.privateKey, s.publicKey, new Uint8Array(1), aad, ct), U);
    fails(() => openAuth(be, enc, r.privateKey, s.publicKey, info, new Uint8Array(0), ct), U);
    const ct2 = ct.slice();
    ct2[0] ^= 1;
    fails(() => openAuth(be, enc, r.privateKey, s.publicKey, info, aad, ct2), U);
    const enc2 = enc.slice();
    enc2[5] ^= 1;
    fails(() => openAuth(be, enc2, r.privateKey, s.publicKey, info, aad, ct), U);
    // Low-order point as enc: X25519 gives zero -> UNAUTHORIZED bad-key.
    fails(() => openAuth(be, new Uint8Array(32), r.privateKey, s.publicKey, info, aad, ct), U);
    fails(
      () => openAuth(be, enc.subarray(0, 31), r.privateKey, s.publicKey, info, aad, ct),
      ErrorCode.BAD_REQUEST,
    );
  });
}

Deno.test("publicKeyOf: memoised per secret, re-derived when the secret changes in place", () => {
  const be = nobleBackend;
  const sk = be.x25519Generate().privateKey;
  const first = publicKeyOf(be, sk);
  assertEquals(toHex(publicKeyOf(be, sk)), toHex(be.x25519Public(sk)));
  assert(publicKeyOf(be, sk) === first, "second call served from the cache");
  sk[0] ^= 0x40; // changed in place: must not return the stale key
  assertEquals(toHex(publicKeyOf(be, sk)), toHex(be.x25519Public(sk)));
});

Deno.test("key schedule: the kept info_hash follows the info's bytes, also when changed in place", () => {
  const be = nobleBackend;
  // a copy of the back end: a separate object, so nothing it computes is kept for `be`
  const fresh = () => ({ ...be });
  const r = be.x25519Generate();
  const s = be.x25519Generate();
  const e = be.x25519Generate();
  const info = new Uint8Array([1, 2, 3, 4]);
  const key = (b: typeof be, i: Uint8Array) =>
    toHex(setupAuthS(b, r.publicKey, s.privateKey, i, e).context.key);
  const k1 = key(be, info);
  assertEquals(k1, key(fresh(), info.slice()));
  assertEquals(key(be, info), k1, "same info again: the same key");
  info[2] ^= 0x80; // changed in place: must not reuse the old info_hash
  const k2 = key(be, info);
  assert(k2 !== k1, "a different info gives a different key");
  assertEquals(k2, key(fresh(), info.slice()));
  assertEquals(key(be, new Uint8Array(0)), key(fresh(), new Uint8Array(0)));
});
