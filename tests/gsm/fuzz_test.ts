/**
 * Fuzz of the GSM plugin's parsers (pattern of tests/fuzz/, same PRNG and
 * mutators): 10^5 inputs per run (GSM_FUZZ_INPUTS overrides) split over the
 * PDU decoder (mutated published and generated PDUs: only BAD_REQUEST
 * `pdu:*` may escape, and a decoded message must re-encode its text), the
 * AT engine's line discipline (mutated modem transcripts with a command in
 * flight: never throws, and a final OK after the noise still ends the
 * command) and the response-line parsers (never throw). Each input has a
 * time bound; a crash prints its hex for replay.
 */
import { ErrorCode, MyClerkError } from "../../core/errors.ts";
import { AtEngine } from "../../plugins/gsm/at/engine.ts";
import { params, parseCpin, parseCsq, parseReg } from "../../plugins/gsm/at/parse.ts";
import { urcTable } from "../../plugins/gsm/dialects.ts";
import { parseCgpsinfo, parseQgpsloc } from "../../plugins/gsm/gnss.ts";
import { decodePdu, encodeSubmit, fromHex, toHex } from "../../plugins/gsm/pdu.ts";
import { parseCusd } from "../../plugins/gsm/ussd.ts";
import { CallTracker } from "../../plugins/gsm/voice.ts";
import { nextInput, Rng } from "../fuzz/mutate.ts";
import { assert } from "../plugins/_helpers.ts";
import { buildDeliver, buildStatusReport } from "./emulator_pdu.ts";

const INPUTS = Number(Deno.env.get("GSM_FUZZ_INPUTS") ?? 100_000);
const PER_INPUT_MS = 2000; // generous: GC pauses on 2 shared cores reach ~0.5 s
const enc = new TextEncoder();
const latin1 = (b: Uint8Array) => {
  let s = "";
  for (const x of b) s += String.fromCharCode(x);
  return s;
};

const V = JSON.parse(await Deno.readTextFile(new URL("./vectors/pdu.json", import.meta.url)));
const PDU_SEEDS: Uint8Array[] = [
  ...V.decode.map((v: { pdu: string }) => fromHex(v.pdu)),
  ...buildDeliver({ from: "+4915112345678", text: "TAN 123456 € [x]".repeat(20), refBits: 16 })
    .map((p) => fromHex(p.pdu)),
  ...buildDeliver({ from: "Bank", text: "日本 😀".repeat(30) }).map((p) => fromHex(p.pdu)),
  fromHex(buildStatusReport(9, "+4917612345678", 0x41).pdu),
  ...encodeSubmit({
    to: "+4917612345678",
    text: "y€".repeat(120),
    statusReport: true,
    validityMinutes: 60,
  })
    .pdus.map((p) => fromHex(p.hex)),
];

const TRANSCRIPTS: Uint8Array[] = [
  '\r\n+CMGL: 1,1,,24\r\n0791AA\r\n+CMTI: "SM",5\r\n+CMT: ,24\r\n0791BB\r\n\r\nOK\r\n',
  '\r\n+CREG: 2,1,"00A1","0000B2C3",7\r\n+CDS: 25\r\n0006D60B91\r\nRING\r\n+CLIP: "+49",145\r\n\r\nOK\r\n',
  '\r\n> \r\n+CMGS: 7\r\n\r\nOK\r\n+CUSD: 1,"Menu | 1",15\r\n+CLCC: 1,0,2,0,0,"+49",145\r\nNO CARRIER\r\n',
  "\r\n+CME ERROR: 516\r\n+CMS ERROR: 321\r\nERROR\r\nRDY\r\n+CPIN: NOT READY\r\n+QSIMSTAT: 1,0\r\n",
  "+CGPSINFO: 3113.343286,N,12121.234064,E,250311,072809.3,44.1,0.0,0\r\nOK\r\n",
  "+QGPSLOC: 061951.000,31.16359,121.62854,0.7,71.2,3,0.00,0.0,0.0,110515,09\r\nOK\r\n",
].map((s) => enc.encode(s));

const LINE_PARSERS: ((l: string) => unknown)[] = [
  (l) => params(l, "+CMGL:"),
  (l) => parseReg(l, true),
  (l) => parseReg(l, false),
  parseCsq,
  parseCpin,
  parseCusd,
  parseCgpsinfo,
  parseQgpsloc,
];

interface Counts {
  ok: number;
  typed: number;
  crashes: string[];
}

function runPdu(input: Uint8Array, c: Counts, asText: boolean): void {
  const hex = asText ? latin1(input) : toHex(input);
  try {
    const d = decodePdu(hex);
    // What decodes must be usable: a deliver's text re-encodes and decodes back.
    if (d.type === "deliver" && d.encoding !== "8bit" && d.text.length > 0 && d.text.length < 600) {
      const again = encodeSubmit({ to: "+491", text: d.text, maxParts: 255 }).pdus
        .map((p) => decodePdu(p.hex))
        .map((x) => (x.type === "submit" ? x.text : ""))
        .join("");
      if (again !== d.text) c.crashes.push(`pdu round trip ${hex}`);
    }
    c.ok++;
  } catch (e) {
    if (
      e instanceof MyClerkError && e.code === ErrorCode.BAD_REQUEST && e.detail.startsWith("pdu:")
    ) {
      c.typed++;
    } else c.crashes.push(`pdu ${hex}: ${e}`);
  }
}

async function runEngine(input: Uint8Array, c: Counts): Promise<void> {
  const e = new AtEngine({
    write: () => {},
    onUrc: () => {},
    urcs: urcTable(),
    timeoutMs: 150,
  });
  const calls = new CallTracker(() => {});
  try {
    const p = e.command("AT+CMGL=4");
    // The noise may itself end the command (an OK or ERROR inside it): either outcome is fine,
    // but a clean final after it must end whatever is still running.
    e.feed(input);
    // A trailing two-line URC head (+CMT:) takes the next line as its body: give it one.
    e.feedText("\r\n0791AA\r\nOK\r\n");
    await p.catch((x) => {
      if (!(x instanceof MyClerkError)) throw x;
      if (x.detail === "at-timeout") throw new Error("the final OK did not end the command");
    });
    for (const l of latin1(input).split(/[\r\n]+/)) calls.urc(l);
    c.ok++;
  } catch (x) {
    c.crashes.push(`engine ${toHex(input)}: ${x}`);
  } finally {
    e.abortAll(new MyClerkError(ErrorCode.SERVICE_UNAVAILABLE, "fuzz-done"));
  }
}

function runLines(input: Uint8Array, c: Counts): void {
  for (const l of latin1(input).split(/[\r\n]+/)) {
    for (const f of LINE_PARSERS) {
      try {
        f(l);
      } catch (e) {
        c.crashes.push(`parser ${f.name} ${JSON.stringify(l)}: ${e}`);
      }
    }
  }
  c.ok++;
}

Deno.test({
  name: `gsm fuzz: ${INPUTS} inputs over the PDU decoder, the AT engine and the line parsers`,
  fn: async () => {
    const rng = new Rng(Number(Deno.env.get("GSM_FUZZ_SEED") ?? 0x6d5));
    const c: Counts = { ok: 0, typed: 0, crashes: [] };
    let slowest = 0;
    const hexSeeds = PDU_SEEDS.map((s) => enc.encode(toHex(s)));
    for (let i = 0; i < INPUTS && c.crashes.length < 5; i++) {
      const t = performance.now();
      switch (i % 4) {
        case 0:
          runPdu(nextInput(rng, PDU_SEEDS).input, c, false);
          break;
        case 1:
          runPdu(nextInput(rng, hexSeeds).input, c, true);
          break;
        case 2:
          await runEngine(nextInput(rng, TRANSCRIPTS).input, c);
          break;
        default:
          runLines(nextInput(rng, TRANSCRIPTS).input, c);
      }
      const ms = performance.now() - t;
      slowest = Math.max(slowest, ms);
      if (ms > PER_INPUT_MS) c.crashes.push(`hang: input ${i} took ${ms.toFixed(0)} ms`);
    }
    console.log(
      `gsm fuzz: ${INPUTS} inputs, ${c.ok} ok, ${c.typed} typed errors, ${c.crashes.length} crashes, slowest ${
        slowest.toFixed(1)
      } ms`,
    );
    assert(c.crashes.length === 0, c.crashes.join("\n"));
    assert(c.typed > INPUTS / 20 && c.ok > INPUTS / 4, "the inputs reach both outcomes");
  },
});
