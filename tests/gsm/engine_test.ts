/**
 * The AT engine without a tty: what it writes, how it splits answers from
 * URCs (also in the middle of an answer and across arbitrary chunking),
 * echo, the AT+CMGS prompt, final result codes and their error mapping,
 * timeouts, and the parsers of the shared 27.007 answers.
 */
import { ErrorCode, MyClerkError } from "../../core/errors.ts";
import { AtEngine, type Urc } from "../../plugins/gsm/at/engine.ts";
import { params, parseCsq, parseReg } from "../../plugins/gsm/at/parse.ts";
import { urcTable } from "../../plugins/gsm/dialects.ts";
import { parseCgpsinfo, parseQgpsloc } from "../../plugins/gsm/gnss.ts";
import { parseCusd } from "../../plugins/gsm/ussd.ts";
import { assert, assertEq } from "../plugins/_helpers.ts";

function rig(timeoutMs = 500) {
  const written: string[] = [];
  const urcs: Urc[] = [];
  const e = new AtEngine({
    write: (t) => void written.push(t),
    onUrc: (u) => urcs.push(u),
    urcs: urcTable(),
    timeoutMs,
  });
  return { e, written, urcs };
}

/** Feeds `s` in pieces of `n` characters. */
function chunked(e: AtEngine, s: string, n: number): void {
  for (let i = 0; i < s.length; i += n) e.feedText(s.slice(i, i + n));
}

Deno.test("engine: answers, echo, URCs inside an answer, any chunking", async () => {
  for (const n of [1, 2, 3, 7, 1000]) {
    const { e, written, urcs } = rig();
    const p = e.command("AT+CMGL=4");
    assertEq(written, ["AT+CMGL=4\r"]);
    chunked(
      e,
      'AT+CMGL=4\r\r\n+CMGL: 1,1,,24\r\n0791AA\r\n+CMTI: "SM",5\r\n' +
        '+CMT: ,24\r\n0791BB\r\n+CREG: 1,"00A1","0000B2C3",7\r\n+CMGL: 2,1,,24\r\n0791CC\r\n\r\nOK\r\n',
      n,
    );
    const r = await p;
    assertEq(r.lines, ["+CMGL: 1,1,,24", "0791AA", "+CMGL: 2,1,,24", "0791CC"], `chunk ${n}`);
    assertEq(urcs, [
      { line: '+CMTI: "SM",5' },
      { line: "+CMT: ,24", body: "0791BB" },
      { line: '+CREG: 1,"00A1","0000B2C3",7' },
    ]);
  }
});

Deno.test("engine: +CREG is an answer to AT+CREG? and a URC otherwise; NO CARRIER idle vs final", async () => {
  const { e, urcs } = rig();
  const p = e.command("AT+CREG?");
  e.feedText('\r\n+CREG: 2,1,"00A1","0000B2C3",7\r\n\r\nOK\r\n');
  assertEq((await p).lines, ['+CREG: 2,1,"00A1","0000B2C3",7']);
  e.feedText("\r\n+CREG: 5\r\n\r\nNO CARRIER\r\n");
  assertEq(urcs.map((u) => u.line), ["+CREG: 5", "NO CARRIER"]);
  const d = e.command("ATD+4930;");
  e.feedText("\r\nNO CARRIER\r\n");
  const err = await d.catch((x) => x);
  assert(err instanceof MyClerkError && err.detail === "no-carrier", String(err));
});

Deno.test("engine: errors keep their numbers; verbose +CME texts map to them", async () => {
  const { e } = rig();
  const cases: [string, number, string][] = [
    ["ERROR", ErrorCode.SERVICE_UNAVAILABLE, "at-error"],
    ["+CMS ERROR: 321", ErrorCode.NOT_FOUND, "cms-error:321"],
    ["+CMS ERROR: 304", ErrorCode.BAD_REQUEST, "cms-error:304"],
    ["+CMS ERROR: 332", ErrorCode.TIMEOUT, "cms-error:332"],
    ["+CMS ERROR: 500", ErrorCode.INTERNAL_ERROR, "cms-error:500"],
    ["+CMS ERROR: 10", ErrorCode.FORBIDDEN, "cms-error:10"],
    ["+CME ERROR: 16", ErrorCode.UNAUTHORIZED, "cme-error:16"],
    ["+CME ERROR: SIM not inserted", ErrorCode.SERVICE_UNAVAILABLE, "cme-error:10"],
    ["+CME ERROR: 516", ErrorCode.INTERNAL_ERROR, "cme-error:516"],
  ];
  for (const [line, code, detail] of cases) {
    const p = e.command("AT+X");
    e.feedText(`\r\n${line}\r\n`);
    const err = await p.catch((x) => x);
    assert(err instanceof MyClerkError, line);
    assertEq([err.code, err.detail, err.extra.command], [code, detail, "AT+X"], line);
  }
});

Deno.test("engine: AT+CMGS waits for the prompt, sends PDU + Ctrl-Z, reads +CMGS", async () => {
  const { e, written } = rig();
  const p = e.command("AT+CMGS=23", { pdu: "0011000B91" });
  e.feedText("\r\n> ");
  assertEq(written, ["AT+CMGS=23\r", "0011000B91\x1a"]);
  e.feedText("0011000B91\r\n+CMGS: 7\r\n\r\nOK\r\n"); // echoed PDU is not an answer line
  assertEq((await p).lines, ["+CMGS: 7"]);
  // No prompt: timeout, ESC written to cancel.
  const { e: e2, written: w2 } = rig(50);
  const err = await e2.command("AT+CMGS=5", { pdu: "00" }).catch((x) => x);
  assert(err instanceof MyClerkError && err.code === ErrorCode.TIMEOUT, String(err));
  assertEq(w2, ["AT+CMGS=5\r", "\x1b"]);
});

Deno.test("engine: queue, timeout, garbage, abort", async () => {
  const { e, written } = rig(60);
  const a = e.command("AT+A");
  const b = e.command("AT+B");
  assertEq(written, ["AT+A\r"], "one command on the line at a time");
  const ea = await a.catch((x) => x);
  assert(ea instanceof MyClerkError && ea.detail === "at-timeout", String(ea));
  // The late answer to A arrives in the quiet window: dropped, B not yet on the line.
  e.feedText("\r\n+A: 1\r\nOK\r\n");
  assertEq(written, ["AT+A\r"]);
  const t = performance.now();
  while (written.length < 2 && performance.now() - t < 3000) {
    await new Promise((r) => setTimeout(r, 10));
  }
  assertEq(written, ["AT+A\r", "AT+B\r"]);
  e.feedText("\r\n+B: 2\r\nOK\r\n");
  assertEq(await b, { lines: ["+B: 2"], final: "OK" });
  e.feedText("\x00\xff garbage \r\n+ZZJUNK: 1\r\n");
  assertEq(e.stats.garbage, 4, "2 stale lines + 2 noise lines");
  const c = e.command("AT+C");
  e.abortAll(new MyClerkError(ErrorCode.SERVICE_UNAVAILABLE, "modem-reconnecting"));
  const ec = await c.catch((x) => x);
  assert(ec instanceof MyClerkError && ec.detail === "modem-reconnecting", String(ec));
  e.feedText("x".repeat(100_000)); // no line end: bounded, no throw
});

Deno.test("parsers: 27.007 answers, USSD, GNSS (manual examples)", () => {
  assertEq(params('+COPS: 0,0,"Telekom.de",7', "+COPS:"), [0, 0, "Telekom.de", 7]);
  assertEq(params('+X: "a,b",,3', "+X:"), ["a,b", "", 3]);
  assertEq(params('+X: "open', "+X:"), undefined);
  assertEq(parseReg('+CREG: 2,5,"1A2B","01C3D4E",7', true), {
    stat: 5,
    status: "registered-roaming",
    lac: "1A2B",
    ci: "01C3D4E",
    act: 7,
  });
  assertEq(parseReg("+CEREG: 1", false), { stat: 1, status: "registered-home" });
  assertEq(parseReg("+CREG: x", false), undefined);
  assertEq(parseCsq("+CSQ: 31,0"), { rssi: 31, ber: 0, dbm: -51 });
  assertEq(parseCusd('+CUSD: 1,"Menu",15')?.sessionOpen, true);
  // UCS-2 hex answer (DCS 72): "Hallo"
  assertEq(parseCusd('+CUSD: 0,"00480061006C006C006F",72')?.text, "Hallo");
  // SIM7600 manual example
  const p = parseCgpsinfo("+CGPSINFO: 3113.343286,N,12121.234064,E,250311,072809.3,44.1,0.0,0");
  assert(p?.fix === true, "fix");
  assertEq([p.lat, p.lon, p.altitude, p.time], [
    31.222388,
    121.353901,
    44.1,
    "2011-03-25T07:28:09Z",
  ]);
  assertEq(parseCgpsinfo("+CGPSINFO: ,,,,,,,,"), { fix: false });
  // EC25 GNSS manual example (mode 2)
  const q = parseQgpsloc(
    "+QGPSLOC: 061951.000,31.16359,121.62854,0.7,71.2,3,0.00,0.0,0.0,110515,09",
  );
  assert(q?.fix === true, "fix");
  assertEq([q.lat, q.lon, q.altitude, q.satellites, q.time], [
    31.16359,
    121.62854,
    71.2,
    9,
    "2015-05-11T06:19:51Z",
  ]);
});
