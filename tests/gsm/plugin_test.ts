/**
 * The gsm plugin in its own process (real PluginHost, libc FFI, termios on
 * a real pseudo-terminal) against the modem emulator, in every dialect:
 * INIT/STATUS/NETWORK_REG/SIGNAL, SMS send (7-bit with the extension table,
 * UCS-2, concatenated, delivery reports), receive (single, multipart out of
 * order, multipart timeout, direct +CMT, alphanumeric sender), list,
 * delete, USSD with a multi-step session, GNSS (or UNSUPPORTED on SIM800),
 * voice dial/answer/hang-up with call events, registration URCs, SIM
 * removal, misbehaviour (garbage, URCs inside answers, slow answers, a
 * swallowed command), the modem vanishing and coming back, an in-place reboot.
 */
import { ErrorCode } from "../../core/errors.ts";
import { REQUIRE_REAL } from "../_support/real.ts";
import { assert, assertEq } from "../plugins/_helpers.ts";
import { LIBC, type Rig, startRig } from "./_harness.ts";
import type { EmuDialect } from "./emulator.ts";
import { buildStatusReport } from "./emulator_pdu.ts";

const OP = {
  INIT: 0x0670,
  STATUS: 0x0671,
  REG: 0x0672,
  CSQ: 0x0673,
  SEND: 0x0674,
  RECEIVE: 0x0675,
  LIST: 0x0676,
  DELETE: 0x0677,
  USSD: 0x0678,
  USSD_RESP: 0x0679,
  GNSS_ON: 0x067a,
  GNSS_POS: 0x067b,
  GNSS_CFG: 0x067c,
  DIAL: 0x067d,
  HANGUP: 0x067e,
  ANSWER: 0x067f,
} as const;

async function until(cond: () => boolean, ms = 5000, what = "condition"): Promise<void> {
  const end = performance.now() + ms;
  while (!cond()) {
    if (performance.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

async function expectErr(r: Rig, op: number, payload: unknown, code: number, detail: string) {
  const res = await r.d(op, payload);
  assert(!res.ok, `0x${op.toString(16)} should fail with ${detail}`);
  assertEq([res.error.code, res.error.detail], [code, detail], `0x${op.toString(16)}`);
  return res.error;
}

const EXPECT: Record<EmuDialect, { model: string; eps: boolean; gnss: boolean; hangup: string }> = {
  sim7600: { model: "SIMCOM_SIM7600E-H", eps: true, gnss: true, hangup: "AT+CHUP" },
  sim800: { model: "SIMCOM_SIM800L", eps: false, gnss: false, hangup: "ATH" },
  ec25: { model: "EC25", eps: true, gnss: true, hangup: "ATH" },
};

async function scenario(dialect: EmuDialect): Promise<void> {
  const r = await startRig(dialect);
  const x = EXPECT[dialect];
  try {
    const st0 = r.host.list().find((s) => s.name === "gsm")!;
    assertEq([st0.state, st0.isolation], ["running", "process"], `gsm (${st0.reason})`);
    await expectErr(r, OP.CSQ, {}, ErrorCode.SERVICE_UNAVAILABLE, "modem-not-initialized");
    await expectErr(r, OP.INIT, { port: "/etc/passwd" }, ErrorCode.FORBIDDEN, "device-not-granted");
    const low = await r.d(OP.SEND, { to: "+491", text: "x" }, 1);
    assert(!low.ok && low.error.code === ErrorCode.FORBIDDEN, "tier 2 for SMS_SEND");

    // --- INIT, identification, status
    const init = await r.ok(OP.INIT, { port: r.emu.link, multipartTimeoutMs: 800 });
    assertEq(
      [init.dialect, init.model, init.sim, init.mode, init.state],
      [dialect, x.model, "READY", "pdu", "ready"],
      "init",
    );
    assertEq((init.features as Record<string, unknown>).gnss, x.gnss);
    assert(/^\d{15}$/.test(String(init.imei)), `imei ${init.imei}`);
    assert(r.emu.commands.includes("ATE0") && r.emu.commands.includes("AT+CNMI=2,1,0,1,0"));
    const st = await r.ok(OP.STATUS, {});
    assertEq([st.state, st.dialect, st.subscribers], ["ready", dialect, 1]);

    // --- registration, signal
    const reg = await r.ok(OP.REG, {});
    assertEq((reg.cs as Record<string, unknown>).status, "registered-home");
    assertEq((reg.cs as Record<string, unknown>).lac, "00A1");
    assertEq(reg.eps !== undefined, x.eps, "eps only on LTE dialects");
    assertEq(reg.operator, "Emu Telekom");
    assertEq(await r.ok(OP.CSQ, {}), { rssi: 21, ber: 99, dbm: -71 });
    r.emu.rssi = 99;
    assertEq(await r.ok(OP.CSQ, {}), { rssi: 99, ber: 99, dbm: null });
    r.emu.setRegistration(5);
    const regEv = await r.event(OP.REG, (p) => p.kind === "registration" && p.stat === 5);
    assertEq([regEv.domain, regEv.status], ["cs", "registered-roaming"]);
    if (x.eps) await r.event(OP.REG, (p) => p.domain === "eps" && p.stat === 5);

    // --- SMS send: 7-bit with the extension table, report requested
    const sent = await r.ok(OP.SEND, {
      to: "+4917612345678",
      text: "Code [42] {ok} €5",
      report: true,
    });
    assertEq([sent.parts, sent.encoding, (sent.refs as number[]).length], [1, "gsm7", 1]);
    const s0 = r.emu.sent.at(-1)!;
    assertEq([s0.to, s0.text, s0.alphabet, s0.srr, s0.vp], [
      "+4917612345678",
      "Code [42] {ok} €5",
      "gsm7",
      true,
      169, // 3 days relative
    ]);
    const rep = await r.event(OP.RECEIVE, (p) => p.kind === "status-report");
    assertEq([rep.ref, rep.to, rep.delivered, rep.final, rep.statusName], [
      (sent.refs as number[])[0],
      "+4917612345678",
      true,
      true,
      "delivered",
    ]);
    r.emu.reportStatus = 0x41; // permanent: "incompatible destination"
    const failed = await r.ok(OP.SEND, { to: "+4917612345678", text: "x", report: true });
    const rep2 = await r.event(
      OP.RECEIVE,
      (p) => p.kind === "status-report" && p.ref === (failed.refs as number[])[0],
    );
    assertEq([rep2.delivered, rep2.final, rep2.statusName], [false, true, "failed"]);

    // A report the modem stored (+CDSI, CNMI ds=2 on some firmwares) is read and delivered too.
    const sr = buildStatusReport(77, "+4917612345678", 0x20);
    r.emu.storage.set(40, {
      stat: 0,
      pdu: sr.pdu,
      length: sr.length,
      from: "",
      text: "",
      report: true,
    });
    r.emu.push('+CDSI: "SM",40');
    const rep3 = await r.event(OP.RECEIVE, (p) => p.kind === "status-report" && p.ref === 77);
    assertEq([rep3.delivered, rep3.final, rep3.statusName], [false, false, "pending"]);

    // --- SMS send: UCS-2 multipart (emoji = surrogate pairs, never split)
    const long = "Grüße aus Köln 😀 ".repeat(8); // 144 UTF-16 units > 70
    const before = r.emu.sent.length;
    const m = await r.ok(OP.SEND, { to: "004930123456", text: long });
    assertEq([m.parts, m.encoding], [3, "ucs2"]);
    const parts = r.emu.sent.slice(before);
    assertEq(parts.map((p) => p.concat?.seq), [1, 2, 3]);
    assert(parts.every((p) => p.concat?.ref === m.concatRef && p.concat?.total === 3), "concat");
    assertEq(parts.map((p) => p.text).join(""), long, "UCS-2 parts join to the text");
    assertEq(parts[0].to, "004930123456");
    // 7-bit multipart: 153 septets per part; escapes never split
    const g = "€".repeat(100) + "a".repeat(100); // 300 septets
    const before2 = r.emu.sent.length;
    const gm = await r.ok(OP.SEND, { to: "+4917612345678", text: g });
    assertEq([gm.parts, gm.encoding], [2, "gsm7"]);
    assertEq(r.emu.sent.slice(before2).map((p) => p.text).join(""), g);
    await expectErr(r, OP.SEND, { to: "12ab", text: "x" }, ErrorCode.BAD_REQUEST, "field:to");
    await expectErr(
      r,
      OP.SEND,
      { to: "+491", text: "x".repeat(1600) },
      ErrorCode.TOO_LARGE,
      "text-too-long",
    );
    await expectErr(
      r,
      OP.SEND,
      { to: "+491", text: "€", encoding: "gsm7", flash: "y" },
      ErrorCode.BAD_REQUEST,
      "field:flash",
    );

    // --- receive: single, multipart out of order, alphanumeric UCS-2, direct +CMT
    r.emu.injectSms({ from: "+4915112345678", text: "Ihre TAN lautet 123456" });
    const e1 = await r.event(OP.RECEIVE, (p) => p.kind === "sms" && p.from === "+4915112345678");
    assertEq([e1.text, e1.parts, e1.encoding, e1.timestamp], [
      "Ihre TAN lautet 123456",
      1,
      "gsm7",
      "2026-01-15T10:30:00+01:00",
    ]);
    const longIn = "Paket 1Z999AA10123456784 wird heute zugestellt. ".repeat(5);
    r.emu.injectSms({
      from: "+4917000000001",
      text: longIn,
      ref: 0x1234,
      refBits: 16,
      order: [2, 1],
    });
    const e2 = await r.event(OP.RECEIVE, (p) => p.kind === "sms" && p.from === "+4917000000001");
    assertEq([e2.text, e2.parts, e2.concatRef, e2.incomplete], [longIn, 2, 0x1234, undefined]);
    r.emu.injectSms({ from: "DHL", text: "Sendung 😀 unterwegs" });
    const e3 = await r.event(OP.RECEIVE, (p) => p.kind === "sms" && p.from === "DHL");
    assertEq([e3.text, e3.encoding], ["Sendung 😀 unterwegs", "ucs2"]);
    r.emu.injectSms({ from: "+4917000000002", text: "direkt", route: "direct" });
    const e4 = await r.event(OP.RECEIVE, (p) => p.kind === "sms" && p.from === "+4917000000002");
    assertEq([e4.text, e4.indexes], ["direkt", undefined]);
    // A part that never comes: delivered incomplete after multipartTimeoutMs.
    r.emu.injectSms({ from: "+4917000000003", text: "z".repeat(400), skip: [2] });
    const e5 = await r.event(OP.RECEIVE, (p) => p.kind === "sms" && p.from === "+4917000000003");
    assertEq([e5.incomplete, e5.missing, e5.parts, (e5.text as string).length], [
      true,
      [2],
      3,
      247, // 153 + 94 septets: part 2 of 153 is missing
    ]);
    // Every event also went out unaddressed (host listeners / subscribed plugins).
    assert(
      r.events.some((e) => e.sessionId === undefined && e.opcode === OP.RECEIVE),
      "unaddressed copies",
    );

    // --- list and delete
    const list = (await r.ok(OP.LIST, {})).messages as Record<string, unknown>[];
    const tan = list.find((x) => x.text === "Ihre TAN lautet 123456")!;
    assert(tan !== undefined, JSON.stringify(list));
    assertEq([tan.status, tan.type, tan.from], ["read", "deliver", "+4915112345678"]);
    assert(
      list.some((x) => (x.concat as Record<string, unknown> | undefined)?.bits === 16),
      "16-bit concat row",
    );
    assertEq((await r.ok(OP.LIST, { status: "unread" })).messages, []);
    assertEq(await r.ok(OP.DELETE, { index: tan.index }), { deleted: tan.index });
    assert(!r.emu.storage.has(tan.index as number), "deleted on the SIM");
    await expectErr(r, OP.DELETE, { index: 99 }, ErrorCode.NOT_FOUND, "cms-error:321");
    assertEq(await r.ok(OP.DELETE, { all: true }), { deleted: "all" });
    assertEq(r.emu.storage.size, 0);

    // --- USSD: one shot, a multi-step session, cancel, network-initiated
    const u1 = await r.ok(OP.USSD, { code: "*100#" });
    assertEq([u1.status, u1.text, u1.sessionOpen], [0, "Guthaben: 12,34 EUR", false]);
    const u2 = await r.ok(OP.USSD, { code: "*101#" });
    assertEq([u2.statusName, u2.sessionOpen], ["further-action", true]);
    const u3 = await r.ok(OP.USSD_RESP, { text: "1" });
    assertEq([u3.text, u3.sessionOpen], ["Guthaben 5,00 EUR | 0 Ende", true]);
    const u4 = await r.ok(OP.USSD_RESP, { text: "0" });
    assertEq([u4.text, u4.sessionOpen], ["Auf Wiedersehen", false]);
    await expectErr(r, OP.USSD_RESP, { text: "1" }, ErrorCode.NOT_FOUND, "no-ussd-session");
    await r.ok(OP.USSD, { code: "*101#" });
    assertEq(await r.ok(OP.USSD_RESP, { cancel: true }), { cancelled: true });
    assertEq((await r.ok(OP.USSD, { code: "*999#" })).statusName, "unsupported");
    await expectErr(r, OP.USSD, { code: '*1"#' }, ErrorCode.BAD_REQUEST, "field:code");
    r.emu.push('+CUSD: 0,"Willkommen im Netz",15');
    const un = await r.event(OP.USSD_RESP, (p) => p.kind === "ussd");
    assertEq(un.text, "Willkommen im Netz");

    // --- GNSS
    if (!x.gnss) {
      const e = await expectErr(
        r,
        OP.GNSS_ON,
        { enable: true },
        ErrorCode.UNSUPPORTED,
        "gnss-not-in-dialect",
      );
      assertEq(e.extra.dialect, "sim800");
      await expectErr(r, OP.GNSS_POS, {}, ErrorCode.UNSUPPORTED, "gnss-not-in-dialect");
      await expectErr(
        r,
        OP.GNSS_CFG,
        { mode: "standalone" },
        ErrorCode.UNSUPPORTED,
        "gnss-not-in-dialect",
      );
    } else {
      assertEq(await r.ok(OP.GNSS_CFG, { mode: "ue-based", nmea: true }), {
        mode: "ue-based",
        nmea: true,
      });
      r.emu.fixAfterMs = 300;
      assertEq(await r.ok(OP.GNSS_ON, { enable: true }), { enabled: true });
      assertEq(await r.ok(OP.GNSS_ON, { enable: true }), { enabled: true }, "already on is fine");
      assertEq(await r.ok(OP.GNSS_POS, {}), { fix: false });
      await new Promise((res) => setTimeout(res, 350));
      const pos = await r.ok(OP.GNSS_POS, {});
      assertEq(pos.fix, true);
      assert(Math.abs((pos.lat as number) - 52.520008) < 1e-4, `lat ${pos.lat}`);
      assert(Math.abs((pos.lon as number) - 13.404954) < 1e-4, `lon ${pos.lon}`);
      assert(Math.abs((pos.speedKmh as number) - 3.7) < 0.1, `speed ${pos.speedKmh}`);
      assertEq([pos.altitude, pos.time], [34.5, "2026-01-15T09:30:12Z"]);
      assert(
        r.emu.commands.includes(dialect === "sim7600" ? "AT+CGPS=1,2" : "AT+QGPS=2"),
        "mode 2 (UE-based) used",
      );
      assertEq(await r.ok(OP.GNSS_ON, { enable: false }), { enabled: false });
      if (dialect === "ec25") {
        await expectErr(r, OP.GNSS_POS, {}, ErrorCode.SERVICE_UNAVAILABLE, "cme-error:505");
      } else assertEq(await r.ok(OP.GNSS_POS, {}), { fix: false });
    }

    // --- voice: outgoing, hang-up with the dialect's command
    await expectErr(r, OP.ANSWER, {}, ErrorCode.NOT_FOUND, "no-incoming-call");
    r.emu.answerAfterMs = 50;
    assertEq(await r.ok(OP.DIAL, { number: "+4930123456" }), {
      state: "dialing",
      number: "+4930123456",
    });
    await r.event(OP.ANSWER, (p) => p.kind === "call" && p.state === "dialing");
    // EC25 has no +CLCC reports: the plugin polls AT+CLCC until the call is up.
    await r.event(OP.ANSWER, (p) => p.state === "active" && p.direction === "out");
    if (dialect === "ec25") assert(r.emu.commands.includes("AT+CLCC"), "CLCC polled");
    assertEq(await r.ok(OP.HANGUP, {}), { hungUp: true });
    assert(r.emu.commands.includes(x.hangup), `${x.hangup} used`);
    assertEq(r.emu.call, undefined, "call gone in the modem");
    await r.event(OP.ANSWER, (p) => p.state === "ended" && p.reason === "hangup");
    // incoming, answered, remote hang-up
    r.emu.ring("+4989765432");
    const inc = await r.event(
      OP.ANSWER,
      (p) => p.state === "incoming" && p.number === "+4989765432",
    );
    assertEq(inc.direction, "in");
    assertEq(await r.ok(OP.ANSWER, {}), { state: "active", number: "+4989765432" });
    await r.event(OP.ANSWER, (p) => p.state === "active");
    r.emu.remoteHangup();
    await r.event(OP.ANSWER, (p) => p.state === "ended" && p.reason === "NO CARRIER");
    // busy line answered by the network after ATD
    r.emu.answerAfterMs = undefined;
    await r.ok(OP.DIAL, { number: "110" });
    r.emu.remoteHangup();
    await r.event(OP.ANSWER, (p) => p.state === "ended");
    await expectErr(r, OP.DIAL, { number: "1;ATH" }, ErrorCode.BAD_REQUEST, "field:number");

    // --- misbehaviour: garbage, URCs inside answers, slow answers
    r.emu.misbehave.garbage = true;
    r.emu.misbehave.urcInResponse = true;
    r.emu.misbehave.slowMs = 30;
    r.emu.rssi = 17;
    r.emu.injectSms({ from: "+4917000000004", text: "mitten drin" });
    r.emu.setRegistration(1);
    assertEq(await r.ok(OP.CSQ, {}), { rssi: 17, ber: 99, dbm: -79 });
    const e6 = await r.event(OP.RECEIVE, (p) => p.kind === "sms" && p.from === "+4917000000004");
    assertEq(e6.text, "mitten drin");
    await r.event(OP.REG, (p) => p.stat === 1);
    r.emu.injectSms({ from: "+4917000000005", text: "zweite", route: "direct" });
    const reg2 = await r.ok(OP.REG, {});
    assertEq((reg2.cs as Record<string, unknown>).stat, 1);
    await r.event(OP.RECEIVE, (p) => p.kind === "sms" && p.text === "zweite");
    r.emu.misbehave.garbage = false;
    r.emu.misbehave.urcInResponse = false;
    r.emu.misbehave.slowMs = 0;
    const stats = (await r.ok(OP.STATUS, {})).at as Record<string, number>;
    assert(stats.garbage > 0, `garbage lines counted: ${JSON.stringify(stats)}`);

    // --- SIM removed and put back
    r.emu.removeSim();
    await r.event(OP.STATUS, (p) => p.kind === "modem" && p.reason === "sim-removed");
    assertEq((await r.ok(OP.STATUS, {})).state, "no-sim");
    await expectErr(
      r,
      OP.SEND,
      { to: "+491", text: "x" },
      ErrorCode.SERVICE_UNAVAILABLE,
      "sim-not-inserted",
    );
    r.emu.insertSim();
    await r.event(OP.STATUS, (p) => p.reason === "sim-ready" && p.state === "ready");
    assertEq((await r.ok(OP.SEND, { to: "+491", text: "wieder da" })).parts, 1);

    // --- the modem vanishes (USB reset) and comes back: re-init on its own
    await r.emu.disappear();
    await r.event(OP.STATUS, (p) => p.reason === "port-lost" && p.state === "reconnecting");
    await expectErr(r, OP.CSQ, {}, ErrorCode.SERVICE_UNAVAILABLE, "modem-reconnecting");
    // INIT while it is away fails, and the plugin keeps looking for it.
    await expectErr(
      r,
      OP.INIT,
      { port: r.emu.link, multipartTimeoutMs: 800 },
      ErrorCode.NOT_FOUND,
      "open-failed",
    );
    await new Promise((res) => setTimeout(res, 300)); // absent for a while: reopen attempts fail
    const cmdsBefore = r.emu.commands.length;
    const oldImei = r.emu.imei;
    r.emu.imei = "869999999999990"; // a different modem answers on the same path
    await r.emu.reappear();
    await r.event(OP.STATUS, (p) => p.reason === "reinit" && p.state === "ready", 10_000);
    const changed = await r.event(OP.STATUS, (p) => p.reason === "modem-changed");
    assertEq([changed.imei, changed.previousImei], ["869999999999990", oldImei]);
    assert(r.emu.commands.slice(cmdsBefore).includes("AT+CNMI=2,1,0,1,0"), "set up again");
    const st2 = await r.ok(OP.STATUS, {});
    assertEq([st2.state, st2.reinits], ["ready", 1]);
    r.emu.injectSms({ from: "+4917000000006", text: "nach dem Reset" });
    await r.event(OP.RECEIVE, (p) => p.text === "nach dem Reset");

    // --- an in-place reboot (RDY on the same line)
    r.emu.reboot();
    await r.event(OP.STATUS, (p) => p.reason === "reinit" && p.state === "ready", 10_000);
    assertEq((await r.ok(OP.STATUS, {})).reinits, 2);
    await until(() => !r.emu.commands.slice(-3).includes("ATE0"), 2000, "settled");
    assertEq((await r.ok(OP.CSQ, {})).rssi, 17);

    // --- a command the modem never answers: TIMEOUT, and the line keeps working
    await r.ok(OP.INIT, { port: r.emu.link, commandTimeoutMs: 300 });
    r.emu.misbehave.swallow.add("AT+CSQ");
    const to = await expectErr(r, OP.CSQ, {}, ErrorCode.TIMEOUT, "at-timeout");
    assertEq([to.extra.command, to.extra.ms], ["AT+CSQ", 300], "INIT's commandTimeoutMs applies");
    assertEq((await r.ok(OP.CSQ, {})).rssi, 17);
    // A late answer (after its timeout) must not be taken for the next command's.
    r.emu.rssi = 5;
    r.emu.misbehave.late.set("AT+CSQ", 600);
    await expectErr(r, OP.CSQ, {}, ErrorCode.TIMEOUT, "at-timeout");
    r.emu.rssi = 25;
    assertEq((await r.ok(OP.CSQ, {})).rssi, 25, "the stale +CSQ: 5 was dropped");
  } finally {
    await r.close();
  }
}

for (const dialect of ["sim7600", "sim800", "ec25"] as const) {
  Deno.test({
    name: `gsm plugin against the ${dialect} emulator`,
    ignore: LIBC === undefined && !REQUIRE_REAL,
    fn: () => scenario(dialect),
  });
}

Deno.test({
  name: "gsm plugin: text mode receive/list, SIM PIN unlock, events to subscribed sessions",
  ignore: LIBC === undefined && !REQUIRE_REAL,
  fn: async () => {
    const r = await startRig("sim800", { pin: "4711" });
    try {
      const locked = await r.ok(OP.INIT, { port: r.emu.link, mode: "text", subscribe: false });
      assertEq([locked.sim, locked.state], ["SIM PIN", "sim-locked"]);
      await expectErr(r, OP.LIST, {}, ErrorCode.SERVICE_UNAVAILABLE, "sim-pin-required");
      const bad = await r.d(OP.INIT, { port: r.emu.link, pin: "0000", subscribe: false });
      assert(
        !bad.ok && bad.error.code === ErrorCode.UNAUTHORIZED && bad.error.detail === "cme-error:16",
        JSON.stringify(bad),
      );
      const ok = await r.ok(OP.INIT, {
        port: r.emu.link,
        mode: "text",
        pin: "4711",
        subscribe: false,
      });
      assertEq([ok.sim, ok.state, ok.mode], ["READY", "ready", "text"]);
      assert(r.emu.commands.includes('AT+CPIN="4711"') && r.emu.commands.includes("AT+CMGF=1"));
      // Not subscribed: only unaddressed copies.
      r.emu.injectSms({ from: "+4916012345678", text: "Termin am 3.2. um 10:00" });
      await until(() => r.events.some((e) => e.opcode === OP.RECEIVE), 5000, "event");
      assert(r.events.every((e) => e.sessionId === undefined), "no session subscribed yet");
      assertEq(await r.ok(OP.RECEIVE, { subscribe: true }), { subscribed: true });
      r.emu.injectSms({ from: "+4916012345678", text: "zweite Nachricht" });
      const e = await r.event(OP.RECEIVE, (p) => p.text === "zweite Nachricht");
      assertEq([e.from, e.timestamp], ["+4916012345678", "2026-01-15T10:30:00+01:00"]);
      const list = (await r.ok(OP.LIST, { status: "all" })).messages as Record<string, unknown>[];
      assertEq(list.map((m) => m.text), ["Termin am 3.2. um 10:00", "zweite Nachricht"]);
      assert(r.emu.commands.includes('AT+CMGL="ALL"'), "text-mode CMGL");
      // Sending in text mode goes through PDU mode and back.
      const s = await r.ok(OP.SEND, { to: "+4916012345678", text: "Grüße" });
      assertEq(s.parts, 1);
      assertEq(r.emu.sent.at(-1)!.text, "Grüße");
      const tail = r.emu.commands.slice(-3);
      assert(tail[0] === "AT+CMGF=0" && tail[2] === "AT+CMGF=1", JSON.stringify(tail));
      // deleteOnReceive: the message leaves the SIM once its event went out.
      await r.ok(OP.INIT, { port: r.emu.link, mode: "text", pin: "4711", deleteOnReceive: true });
      const [idx] = r.emu.injectSms({ from: "+4916012345678", text: "bitte löschen" });
      await r.event(OP.RECEIVE, (p) => p.text === "bitte löschen");
      await until(() => !r.emu.storage.has(idx), 5000, "deleted from the SIM");
      assert(r.emu.commands.includes(`AT+CMGD=${idx}`), "AT+CMGD sent");
      assertEq(await r.ok(OP.RECEIVE, { subscribe: false }), { subscribed: false });
      assertEq((await r.ok(OP.STATUS, {})).subscribers, 0);
    } finally {
      await r.close();
    }
  },
});
