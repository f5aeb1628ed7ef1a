/**
 * The plugin's PDU codec against published PDUs (tests/gsm/vectors/pdu.json,
 * sources listed there), round trips through the emulator's independent
 * codec, and the bad-input contract (BAD_REQUEST `pdu:*`, nothing else).
 */
import { ErrorCode, MyClerkError } from "../../core/errors.ts";
import {
  decodePdu,
  encodeSubmit,
  fromHex,
  gsm7Length,
  minutesToVp,
  packSeptets,
  toHex,
  toSeptets,
  vpToMinutes,
} from "../../plugins/gsm/pdu.ts";
import { assert, assertEq } from "../plugins/_helpers.ts";
import { buildDeliver, buildStatusReport, readSubmit } from "./emulator_pdu.ts";

interface Vectors {
  decode: { name: string; pdu: string; expect: Record<string, unknown> }[];
  encode: { name: string; options: Record<string, unknown>; pdus: string[] }[];
  septets: { text: string; packed: string }[];
}

const V: Vectors = JSON.parse(
  await Deno.readTextFile(new URL("./vectors/pdu.json", import.meta.url)),
);

Deno.test("pdu: published PDUs decode to their published fields", () => {
  for (const v of V.decode) {
    const d = decodePdu(v.pdu) as unknown as Record<string, unknown>;
    for (const [k, want] of Object.entries(v.expect)) {
      assertEq(d[k], want, `${v.name}: ${k}`);
    }
  }
});

Deno.test("pdu: published SMS-SUBMIT encodings are reproduced byte for byte", () => {
  for (const v of V.encode) {
    const s = encodeSubmit(v.options as unknown as Parameters<typeof encodeSubmit>[0]);
    assertEq(s.pdus.map((p) => p.hex), v.pdus, v.name);
    // The AT+CMGS length excludes the SMSC prefix.
    for (const p of s.pdus) {
      const smscLen = fromHex(p.hex)[0] + 1;
      assertEq(p.tpduLength, p.hex.length / 2 - smscLen, `${v.name}: tpdu length`);
    }
  }
  for (const v of V.septets) {
    assertEq(toHex(packSeptets(toSeptets(v.text))), v.packed, v.text);
  }
});

Deno.test("pdu: validity periods (23.040 9.2.3.12.1) in all four ranges", () => {
  for (const [minutes, vp] of [[30, 5], [720, 143], [960, 151], [4320, 169], [50400, 197]]) {
    assertEq(minutesToVp(minutes), vp, `${minutes} min`);
    assertEq(vpToMinutes(vp), minutes, `vp ${vp}`);
  }
});

Deno.test("pdu: multipart SUBMITs decode in the emulator's independent codec", () => {
  const cases = [
    { text: "a".repeat(161), parts: 2, alphabet: "gsm7" },
    { text: "€".repeat(153), parts: 3, alphabet: "gsm7" }, // 306 septets, escapes never split
    { text: "ж".repeat(71), parts: 2, alphabet: "ucs2" },
    { text: "😀".repeat(67), parts: 3, alphabet: "ucs2" }, // surrogate pairs never split
    { text: "x".repeat(153 * 10), parts: 10, alphabet: "gsm7" },
  ];
  for (const c of cases) {
    for (const refBits of [8, 16] as const) {
      const s = encodeSubmit({
        to: "+4917612345678",
        text: c.text,
        concatRef: 0x1a2,
        refBits,
        statusReport: true,
        maxParts: 11, // 1530 septets: 10 parts of 153, or 11 of 152 with the 16-bit IE
      });
      assertEq(
        s.pdus.length,
        refBits === 16 && c.parts === 10 ? 11 : c.parts,
        `${c.text.slice(0, 3)} parts`,
      );
      const got = s.pdus.map((p) => readSubmit(p.hex));
      assertEq(got.map((g) => g.text).join(""), c.text);
      assert(got.every((g) => g.alphabet === c.alphabet && g.srr), "alphabet, SRR");
      assert(got.every((g, i) => g.concat?.seq === i + 1 && g.concat.bits === refBits), "concat");
      assertEq(got[0].concat?.ref, refBits === 8 ? 0xa2 : 0x1a2);
      for (const [i, g] of got.entries()) assertEq(g.tpduLength, s.pdus[i].tpduLength);
    }
  }
  let threw: unknown;
  try {
    encodeSubmit({ to: "+491", text: "x".repeat(153 * 10 + 1) });
  } catch (e) {
    threw = e;
  }
  assert(threw instanceof MyClerkError && threw.detail === "pdu:too-many-parts", String(threw));
});

Deno.test("pdu: DELIVERs and status reports built by the emulator decode", () => {
  const texts = [
    "Hallo Welt",
    "Ihre TAN: 839201 (gültig 5 Min) {x} ^ € | ~",
    "日本語 😀",
    "b".repeat(500),
  ];
  for (const text of texts) {
    for (const from of ["+4915112345678", "030123456", "Sparkasse"]) {
      const parts = buildDeliver({ from, text, ref: 0x77, refBits: 16 });
      const ds = parts.map((p) => decodePdu(p.pdu));
      let joined = "";
      for (const d of ds) {
        assert(d.type === "deliver", d.type);
        assertEq(d.from, from);
        assertEq(d.smsc, "+491710760000");
        if (ds.length > 1) assertEq([d.concat?.ref, d.concat?.total], [0x77, ds.length]);
        joined += d.text;
      }
      assertEq(joined, text);
      assertEq(
        gsm7Length(text) === undefined,
        ds[0].type === "deliver" && ds[0].encoding === "ucs2",
      );
    }
  }
  const r = decodePdu(buildStatusReport(77, "+4917612345678", 0x30).pdu);
  assert(r.type === "status-report", r.type);
  assertEq([r.mr, r.recipient, r.status, r.discharge], [
    77,
    "+4917612345678",
    0x30,
    "2026-01-15T10:31:05+01:00",
  ]);
});

Deno.test("pdu: malformed input is BAD_REQUEST pdu:*, never anything else", () => {
  const bad = [
    "",
    "0",
    "zz",
    "00",
    "0011",
    "07917283010010F5", // SMSC only
    "0003", // reserved MTI
    "0011000B916407281553F80000AA", // no UDL
    "0011000B916407281553F80000AAFF", // UDL 255 septets, no data
    "0041000B916407281553F800000A0700", // UDHI with a header longer than the data
    "0004" + "15" + "91" + "00".repeat(11), // address longer than 20 digits
  ];
  for (const h of bad) {
    try {
      decodePdu(h);
      throw new Error(`decoded ${h}`);
    } catch (e) {
      assert(e instanceof MyClerkError, `${h}: ${e}`);
      assertEq(e.code, ErrorCode.BAD_REQUEST, h);
      assert(e.detail.startsWith("pdu:"), e.detail);
    }
  }
});
