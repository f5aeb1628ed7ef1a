/**
 * Checks the implementation against every vector file in docs/vectors/
 * (profile §15): rebuilds each output from the inputs stored in the file
 * and compares byte for byte, and independently decodes, verifies and
 * opens the messages with the keys the file gives. Both crypto back ends.
 */
import { assert, assertEquals } from "./_assert.ts";
import { backend } from "../../core/crypto/mod.ts";
import { crc16 } from "../../core/crypto/crc16.ts";
import { decodeMessage, isProtected } from "../../core/wire/message.ts";
import { openPayload, verifyTrailer } from "../../core/wire/protect.ts";
import { Reassembler } from "../../core/wire/fragment.ts";
import { fromHex, toHex } from "../../core/node/keys.ts";
import { rebuildCounter } from "../../core/session/replay.ts";
import { decodeError } from "../../core/session/payloads.ts";
import {
  buildCounters,
  buildFragments,
  buildHandshake,
  buildKeyId,
  buildTiers,
  buildTrailers,
  FRAGMENT_INPUTS,
  HANDSHAKE_INPUTS,
  type Json,
  TIER_INPUTS,
  TRAILER_INPUTS,
} from "./vectors/build.ts";

const dir = new URL("../../docs/vectors/", import.meta.url);
const read = async (n: string) => JSON.parse(await Deno.readTextFile(new URL(n, dir))) as Json;
type Keys = { key: string; mac: string; iv: string };
const keysOf = (k: Keys) => ({ key: fromHex(k.key), mac: fromHex(k.mac), iv: fromHex(k.iv) });

for (const name of ["node", "noble"] as const) {
  const b = backend(name);

  Deno.test(`vectors/tiers.json (${name}): rebuild and open every tier`, async () => {
    const file = await read("tiers.json");
    const cases = file.cases as Json[];
    assertEquals(cases.length, 8);
    const inputs = { ...TIER_INPUTS, plaintext: String(cases[1].plaintext) };
    assertEquals(JSON.parse(JSON.stringify(buildTiers(b, inputs))), cases);
    for (const c of cases) {
      const m = decodeMessage(fromHex(String(c.message)));
      assertEquals(m.tier, c.tier);
      if (isProtected(m)) {
        const k = keysOf(c.keys as Keys);
        assert(verifyTrailer(b, m, k.mac), `${c.name}: trailer`);
        assertEquals(toHex(openPayload(b, m, k, Number(c.counter))), c.plaintext);
        assertEquals((m.nonce << 8) | m.sequence, Number(c.counter) & 0xffffff);
      } else {
        assertEquals(toHex(m.payload), c.plaintext);
      }
    }
  });

  Deno.test(`vectors/trailers.json (${name})`, async () => {
    const file = await read("trailers.json");
    const { profile: _p, description: _d, ...rest } = file;
    assertEquals(buildTrailers(b, TRAILER_INPUTS), rest);
    assertEquals((file.crc16 as Json).check, 0x29b1);
    assertEquals(crc16(new TextEncoder().encode("123456789")), 0x29b1);
  });

  Deno.test(`vectors/handshake.json (${name}): transcript, keys, ticket, rotation, error, resume`, async () => {
    const file = await read("handshake.json");
    const { profile: _p, description: _d, ...rest } = file;
    assertEquals(
      JSON.parse(JSON.stringify(buildHandshake(b, file.inputs as typeof HANDSHAKE_INPUTS))),
      rest,
    );
    assertEquals(rest.responderAgrees, true);
    // Independent path: open the first data message with the file's keys.
    const sk = file.sessionKeys as { i2r: Keys; r2i: Keys };
    const data = file.data as Json;
    const m = decodeMessage(fromHex(String(data.i2r)));
    assert(isProtected(m) && m.tier === 5);
    assert(verifyTrailer(b, m, fromHex(sk.i2r.mac)));
    assertEquals(toHex(openPayload(b, m, keysOf(sk.i2r), 0)), data.i2rPlaintext);
    const r = decodeMessage(fromHex(String(data.r2i)));
    assert(isProtected(r));
    assertEquals(toHex(openPayload(b, r, keysOf(sk.r2i), 0)), data.r2iPlaintext);
    // Rotation: epoch 1 message opens with the rotated keys, key id 1.
    const rot = file.rotation as Json;
    const e1 = decodeMessage(fromHex(String(rot.messageEpoch1)));
    assert(e1.tier === 5 && e1.keyId === 1);
    assert(verifyTrailer(b, e1, fromHex((rot.after as Keys).mac)));
    assertEquals(
      toHex(openPayload(b, e1, keysOf(rot.after as Keys), 0)),
      rot.messageEpoch1Plaintext,
    );
    // Error reply (Tier 1, unprotected) carries FORBIDDEN and the required tier.
    const err = decodeMessage(fromHex(String((file.error as Json).tier1)));
    assert(err.tier === 1 && err.opcode === 0x000f);
    const ep = decodeError(err.payload);
    assertEquals([ep.code, ep.requiredTier, ep.opcode, ep.re], [0x12, 4, 0x0300, 9]);
  });

  Deno.test(`vectors/fragments.json (${name})`, async () => {
    const file = await read("fragments.json");
    const { profile: _p, description: _d, ...rest } = file;
    assertEquals(buildFragments(b, file.inputs as typeof FRAGMENT_INPUTS), rest);
    const r = new Reassembler();
    let whole: Uint8Array | undefined;
    (file.messages as string[]).forEach((hex, i) => {
      const m = decodeMessage(fromHex(hex));
      assert(isProtected(m) && m.fragment);
      whole = r.add(openPayload(b, m, keysOf(file.keys as Keys), i)) ?? whole;
    });
    assertEquals(toHex(whole!), (file.inputs as Json).payload);
  });

  Deno.test(`vectors/counters.json (${name})`, async () => {
    const file = await read("counters.json");
    assertEquals(buildCounters(), file.cases);
    for (const c of file.cases as { highest: number; low24: number; counter: number }[]) {
      assertEquals(rebuildCounter(c.highest, c.low24), c.counter);
    }
    assertEquals(buildKeyId(b), file.keyId);
  });
}
