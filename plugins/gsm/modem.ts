/**
 * One modem: its port, AT engine, dialect, state machine (absent ->
 * initializing -> ready / sim-locked / no-sim; reconnecting after the port
 * is lost, re-initialized when it comes back), the URC dispatch, and the
 * operations behind the 16 opcodes. Events go out through `emit`; the plugin
 * (mod.ts) fans them out to subscribers.
 *
 * Longer than ~500 lines on purpose: one AT modem driver over one serial port: command queue,
 * unsolicited results and SMS state share the port's state; the AT parser and PDU codec are their
 * own modules.
 *
 * @module
 */
import { ErrorCode, type ErrorCodeValue, MyClerkError } from "@myclerk/plugin-sdk";
import { AtEngine, type AtResult, type Urc } from "./at/engine.ts";
import {
  MSG_STATUS,
  params,
  parseCpin,
  parseCsq,
  parseReg,
  type Reg,
  TEXT_STATUS,
} from "./at/parse.ts";
import { type Dialect, dialect, type DialectName, identify, urcTable } from "./dialects.ts";
import { parseCgpsinfo, parseQgpsloc, type Position } from "./gnss.ts";
import { decodePdu, encodeSubmit, type Sms } from "./pdu.ts";
import { ModemPort } from "./port.ts";
import { Reassembler, statusEvent } from "./sms.ts";
import { cusdCommand, parseCusd, type Ussd } from "./ussd.ts";
import { CallTracker } from "./voice.ts";

/** GSM opcodes (draft §6.3.8). */
export const GsmOp = {
  INIT: 0x0670,
  STATUS: 0x0671,
  NETWORK_REG: 0x0672,
  SIGNAL_QUALITY: 0x0673,
  SMS_SEND: 0x0674,
  SMS_RECEIVE: 0x0675,
  SMS_LIST: 0x0676,
  SMS_DELETE: 0x0677,
  USSD_SEND: 0x0678,
  USSD_RESPONSE: 0x0679,
  GNSS_ENABLE: 0x067a,
  GNSS_POSITION: 0x067b,
  GNSS_CONFIG: 0x067c,
  VOICE_DIAL: 0x067d,
  VOICE_HANGUP: 0x067e,
  VOICE_ANSWER: 0x067f,
} as const;

/** Modem states (STATUS `state`). */
export type ModemState =
  | "absent"
  | "initializing"
  | "ready"
  | "sim-locked"
  | "no-sim"
  | "reconnecting";

/** Settings of INIT / config.json. */
export interface ModemConfig {
  /** tty path. */
  readonly port: string;
  /** Line speed. */
  readonly baud: number;
  /** SIM PIN. */
  readonly pin?: string;
  /** SMS mode for receive/list. */
  readonly mode: "pdu" | "text";
  /** Dialect override. */
  readonly dialect?: DialectName;
  /** Multipart reassembly timeout. */
  readonly multipartTimeoutMs: number;
  /** Delete a message from storage once its event went out. */
  readonly deleteOnReceive: boolean;
  /** Default AT timeout. */
  readonly commandTimeoutMs: number;
}

const err = (code: ErrorCodeValue, detail: string, extra: Record<string, unknown> = {}) =>
  new MyClerkError(code, detail, extra);

/** The modem (see module comment). */
export class Modem {
  private port?: ModemPort;
  private cfg?: ModemConfig;
  private d?: Dialect;
  private engine: AtEngine;
  private state: ModemState = "absent";
  private info = { manufacturer: "", model: "", revision: "", imei: "" };
  private sim = "";
  private reinits = 0;
  private lastError?: string;
  private reconnectTimer?: ReturnType<typeof setTimeout>;
  private initRunning?: Promise<unknown>;
  private reasm: Reassembler;
  private readonly calls: CallTracker;
  private ussdWaiter?: { resolve: (u: Ussd) => void };
  private ussdOpen = false;
  private gnssMode = 1;
  private nmea = false;
  private concatRef = Math.floor(Math.random() * 256);
  private closed = false;
  /** Serializes URC follow-ups (reading a +CMTI index) behind each other. */
  private chain: Promise<void> = Promise.resolve();

  /** A modem that talks through libc at `libcPath` and pushes events through `emit`. */
  constructor(
    private readonly libcPath: string,
    private readonly emit: (op: number, payload: Record<string, unknown>) => void,
    private readonly log: (...p: unknown[]) => void,
  ) {
    this.engine = this.newEngine(5000);
    this.reasm = new Reassembler((e) => this.emit(GsmOp.SMS_RECEIVE, { ...e }));
    this.calls = new CallTracker((e) => this.emit(GsmOp.VOICE_ANSWER, { ...e }));
  }

  /** A fresh AT engine writing to the current port. */
  private newEngine(timeoutMs: number): AtEngine {
    return new AtEngine({
      write: (t) => {
        if (this.port === undefined) throw err(ErrorCode.SERVICE_UNAVAILABLE, "modem-absent");
        return this.port.write(t);
      },
      onUrc: (u) => this.urc(u),
      urcs: urcTable(this.d),
      timeoutMs,
    });
  }

  /** AT engine counters. */
  get stats(): AtEngine["stats"] {
    return this.engine.stats;
  }

  // ------------------------------------------------------------ lifecycle

  /** INIT: opens (or reopens) the port and runs the init sequence. */
  async init(cfg: ModemConfig): Promise<Record<string, unknown>> {
    if (this.initRunning !== undefined) await this.initRunning.catch(() => {});
    const run = this.doInit(cfg);
    this.initRunning = run;
    try {
      return await run;
    } finally {
      if (this.initRunning === run) this.initRunning = undefined;
    }
  }

  /** INIT proper: (re)opens the port when it changed, then runs the sequence. */
  private async doInit(cfg: ModemConfig): Promise<Record<string, unknown>> {
    if (this.reconnectTimer !== undefined) clearTimeout(this.reconnectTimer);
    this.reconnectTimer = undefined;
    const reopen = this.port === undefined || this.port.path !== cfg.port ||
      this.cfg?.baud !== cfg.baud;
    if (this.cfg?.multipartTimeoutMs !== cfg.multipartTimeoutMs) {
      this.reasm.flushAll();
      this.reasm = new Reassembler(
        (e) => this.emit(GsmOp.SMS_RECEIVE, { ...e }),
        cfg.multipartTimeoutMs,
      );
    }
    this.cfg = cfg;
    this.engine.setTimeoutMs(cfg.commandTimeoutMs);
    if (reopen) {
      await this.closePort();
      this.engine.abortAll(err(ErrorCode.SERVICE_UNAVAILABLE, "modem-reinit"));
      this.engine = this.newEngine(cfg.commandTimeoutMs);
      try {
        this.openPort(cfg);
      } catch (e) {
        // A modem that is away (USB reset) stays looked for; a port never seen fails INIT only.
        if (this.state === "reconnecting") this.scheduleReconnect(250);
        throw e;
      }
    }
    return await this.sequence("init");
  }

  /** Opens the configured port and feeds it to the engine. */
  private openPort(cfg: ModemConfig): void {
    this.port = ModemPort.open(
      this.libcPath,
      cfg.port,
      cfg.baud,
      (b) => this.engine.feed(b),
      (why) => this.portLost(why),
    );
  }

  /** Closes the port if one is open. */
  private async closePort(): Promise<void> {
    const p = this.port;
    this.port = undefined;
    if (p !== undefined) await p.close();
  }

  /** The init sequence (docs §14.1 INIT); `why` goes into the modem event. */
  private async sequence(why: "init" | "reinit"): Promise<Record<string, unknown>> {
    const cfg = this.cfg!;
    this.setState("initializing", why === "reinit" ? "reinit" : undefined);
    try {
      await this.sync();
      await this.at("ATE0");
      await this.at("AT+CMEE=1");
      const previousImei = this.info.imei;
      this.info = {
        manufacturer: await this.bare("AT+CGMI"),
        model: await this.bare("AT+CGMM"),
        revision: (await this.bare("AT+CGMR")).replace(/^(\+CGMR:|Revision:)\s*/i, ""),
        imei: (await this.bare("AT+CGSN")).replace(/\D/g, ""),
      };
      if (why === "reinit" && previousImei !== "" && previousImei !== this.info.imei) {
        // Another modem (or another device) now answers on this path: say so.
        this.emit(GsmOp.STATUS, {
          kind: "modem",
          state: "initializing",
          reason: "modem-changed",
          imei: this.info.imei,
          previousImei,
        });
      }
      let d = cfg.dialect !== undefined ? dialect(cfg.dialect) : identify(this.info.model);
      if (d === undefined) {
        const ati = await this.at("ATI").catch(() => ({ lines: [] as string[] }));
        d = identify(ati.lines.join(" "));
      }
      if (d === undefined) {
        throw err(ErrorCode.UNSUPPORTED, "unknown-model", {
          model: this.info.model,
          hint: "pass dialect: sim7600 | sim800 | ec25",
        });
      }
      this.d = d;
      this.engine.setUrcs(urcTable(d));
      await this.unlock();
      if (this.sim === "READY") await this.smsSetup();
      this.setState(
        this.sim === "READY" ? "ready" : this.sim === "NOT INSERTED" ? "no-sim" : "sim-locked",
        why === "reinit" ? "reinit" : undefined,
      );
      this.lastError = undefined;
      return this.describe();
    } catch (e) {
      this.lastError = e instanceof MyClerkError ? e.detail : String(e);
      if (this.state === "initializing") this.state = this.port ? "absent" : "reconnecting";
      throw e;
    }
  }

  /** First contact: `AT` until OK (a modem may still be booting or echo garbage). */
  private async sync(): Promise<void> {
    let last: unknown;
    for (let i = 0; i < 5; i++) {
      try {
        await this.engine.command("AT", { timeoutMs: 1000 });
        return;
      } catch (e) {
        last = e;
        if (e instanceof MyClerkError && e.detail === "modem-absent") break;
      }
    }
    throw last instanceof MyClerkError ? last : err(ErrorCode.TIMEOUT, "at-timeout");
  }

  /** Reads the SIM state and enters the PIN when asked for one. */
  private async unlock(): Promise<void> {
    this.sim = await this.cpin();
    const pin = this.cfg?.pin;
    if (this.sim === "SIM PIN" && pin !== undefined) {
      await this.at(`AT+CPIN="${pin}"`);
      const end = performance.now() + 10_000;
      while (performance.now() < end) {
        this.sim = await this.cpin();
        if (this.sim !== "SIM PIN") break;
        await new Promise((r) => setTimeout(r, 200));
      }
    }
  }

  /** The `AT+CPIN?` state (`NOT INSERTED` for +CME ERROR 10). */
  private async cpin(): Promise<string> {
    try {
      const r = await this.at("AT+CPIN?");
      return r.lines.map(parseCpin).find((x) => x !== undefined) ?? "UNKNOWN";
    } catch (e) {
      if (e instanceof MyClerkError && e.extra.cme === 10) return "NOT INSERTED";
      if (e instanceof MyClerkError && e.extra.cme === 13) return "SIM FAILURE";
      throw e;
    }
  }

  /** SMS mode, new-message and report routing, URCs on (needs a ready SIM). */
  private async smsSetup(): Promise<void> {
    const d = this.d!;
    await this.at(`AT+CMGF=${this.cfg!.mode === "pdu" ? 0 : 1}`);
    await this.at(`AT+CSCS="GSM"`).catch(() => {});
    if (this.cfg!.mode === "text") await this.at("AT+CSDH=1").catch(() => {});
    await this.at("AT+CNMI=2,1,0,1,0");
    await this.at("AT+CREG=2").catch(() => {});
    if (d.eps) await this.at("AT+CEREG=2").catch(() => {});
    await this.at("AT+CLIP=1").catch(() => {});
    for (const c of d.setup) await this.at(c).catch(() => {});
  }

  /** Changes the state and pushes the `modem` event. */
  private setState(s: ModemState, reason?: string): void {
    const changed = s !== this.state;
    this.state = s;
    if (reason !== undefined || (changed && s !== "initializing")) {
      this.emit(GsmOp.STATUS, { kind: "modem", state: s, reason: reason ?? s });
    }
  }

  /** The port went away: fail what is waiting, report, start reconnecting. */
  private portLost(why: string): void {
    if (this.closed) return;
    this.log("port lost:", why);
    const p = this.port;
    this.port = undefined;
    void p?.close();
    this.engine.abortAll(err(ErrorCode.SERVICE_UNAVAILABLE, "modem-reconnecting"));
    this.lastError = `port-lost:${why}`;
    this.calls.set("ended", { reason: "port-lost" });
    this.ussdOpen = false;
    this.state = "reconnecting";
    this.emit(GsmOp.STATUS, { kind: "modem", state: "reconnecting", reason: "port-lost" });
    this.scheduleReconnect(250);
  }

  /** Arms one reconnect attempt after `ms`. */
  private scheduleReconnect(ms: number): void {
    if (this.closed || this.reconnectTimer !== undefined) return;
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = undefined;
      void this.tryReconnect();
    }, ms);
  }

  /** Reopens the port and re-initializes; on failure tries again later. */
  private async tryReconnect(): Promise<void> {
    if (this.closed || this.port !== undefined || this.cfg === undefined) return;
    try {
      this.openPort(this.cfg);
    } catch {
      this.scheduleReconnect(250);
      return;
    }
    try {
      this.reinits++;
      await this.sequence("reinit");
    } catch (e) {
      this.log("re-init failed:", e instanceof Error ? e.message : String(e));
      // The modem may still be booting: drop the port and try again.
      await this.closePort();
      this.state = "reconnecting";
      this.scheduleReconnect(500);
    }
  }

  /** Closes everything (plugin shutdown). */
  async close(): Promise<void> {
    this.closed = true;
    if (this.reconnectTimer !== undefined) clearTimeout(this.reconnectTimer);
    this.engine.abortAll(err(ErrorCode.SERVICE_UNAVAILABLE, "plugin-closing"));
    this.reasm.flushAll();
    await this.closePort();
  }

  // ------------------------------------------------------------ AT helpers

  /** Sends one command, or fails at once when no port is open. */
  private at(cmd: string, timeoutMs?: number, pdu?: string): Promise<AtResult> {
    if (this.port === undefined) {
      return Promise.reject(
        err(
          ErrorCode.SERVICE_UNAVAILABLE,
          this.state === "reconnecting" ? "modem-reconnecting" : "modem-absent",
        ),
      );
    }
    return this.engine.command(cmd, {
      ...(timeoutMs !== undefined ? { timeoutMs } : {}),
      ...(pdu !== undefined ? { pdu } : {}),
    });
  }

  /** A bare-text answer (AT+CGMM): the first line that is not a `+X:` header, or the stripped header. */
  private async bare(cmd: string): Promise<string> {
    const r = await this.at(cmd).catch(() => ({ lines: [] as string[] }));
    const plain = r.lines.find((l) => !l.startsWith("+"));
    return (plain ?? r.lines[0]?.replace(/^\+[A-Z]+:\s*/, "") ?? "").trim();
  }

  /** The dialect, or the error that says why the modem cannot serve yet. */
  private ready(): Dialect {
    if (this.state === "ready") return this.d!;
    if (this.state === "reconnecting") {
      throw err(ErrorCode.SERVICE_UNAVAILABLE, "modem-reconnecting");
    }
    if (this.state === "absent" || this.state === "initializing") {
      throw err(ErrorCode.SERVICE_UNAVAILABLE, "modem-not-initialized");
    }
    if (this.state === "no-sim") {
      throw err(ErrorCode.SERVICE_UNAVAILABLE, "sim-not-inserted", { sim: this.sim });
    }
    throw err(ErrorCode.SERVICE_UNAVAILABLE, "sim-pin-required", { sim: this.sim });
  }

  /** Needs an open, identified port (SIM not required). */
  private identified(): Dialect {
    if (this.d === undefined || this.port === undefined) this.ready();
    return this.d!;
  }

  // ------------------------------------------------------------ URCs

  /** Runs a URC follow-up after the earlier ones (their errors go to the log). */
  private later(f: () => Promise<void>): void {
    this.chain = this.chain.then(f).catch((e) =>
      this.log("urc follow-up failed:", e instanceof Error ? e.message : String(e))
    );
  }

  /** Dispatches one URC to SMS, USSD, calls, registration, SIM or reboot handling. */
  private urc(u: Urc): void {
    const line = u.line;
    const d = this.d;
    if (this.calls.urc(line)) return;
    if (line.startsWith("+CMTI:") || line.startsWith("+CDSI:")) {
      const p = params(line, line.startsWith("+CMTI:") ? "+CMTI:" : "+CDSI:");
      const index = p?.[1];
      if (typeof index === "number") this.later(() => this.readStored(index));
      return;
    }
    if (line.startsWith("+CMT:") && u.body !== undefined) return this.incomingDirect(line, u.body);
    if (line.startsWith("+CDS:")) return this.incomingReport(line, u.body);
    if (line.startsWith("+CUSD:")) {
      const x = parseCusd(line);
      if (x === undefined) return;
      this.ussdOpen = x.sessionOpen;
      const w = this.ussdWaiter;
      this.ussdWaiter = undefined;
      if (w !== undefined) w.resolve(x);
      else this.emit(GsmOp.USSD_RESPONSE, { kind: "ussd", ...x });
      return;
    }
    if (/^\+C(E)?REG:/.test(line)) {
      const r = parseReg(line, false);
      if (r !== undefined) {
        this.emit(GsmOp.NETWORK_REG, {
          kind: "registration",
          domain: line.startsWith("+CEREG") ? "eps" : "cs",
          ...r,
        });
      }
      return;
    }
    if (d !== undefined && d.simRemoved.some((p) => line.startsWith(p))) {
      if (this.state !== "no-sim" && this.state !== "initializing") {
        this.sim = "NOT INSERTED";
        this.setState("no-sim", "sim-removed");
      }
      return;
    }
    if (d !== undefined && d.simInserted.some((p) => line.startsWith(p))) {
      this.emit(GsmOp.STATUS, { kind: "modem", state: this.state, reason: "sim-inserted" });
      return;
    }
    if (line.startsWith("+CPIN:")) {
      const s = parseCpin(line) ?? "";
      if (s === "READY" && (this.state === "no-sim" || this.state === "sim-locked")) {
        this.sim = "READY";
        this.later(async () => {
          await this.smsSetup();
          this.setState("ready", "sim-ready");
        });
      } else if (s !== "READY" && this.state === "ready") {
        this.sim = s;
        this.setState(s === "SIM PIN" ? "sim-locked" : "no-sim", "sim-removed");
      }
      return;
    }
    if (d !== undefined && d.boot.includes(line) && this.state !== "initializing" && this.cfg) {
      // The modem rebooted behind an open port (UART modem, watchdog): set it up again.
      this.reinits++;
      this.later(() => this.sequence("reinit").then(() => {}));
    }
  }

  /** Reads a message announced by +CMTI/+CDSI and delivers it. */
  private async readStored(index: number): Promise<void> {
    if (this.state !== "ready") return;
    const r = await this.at(`AT+CMGR=${index}`);
    const rows = this.parseListing(r.lines, "+CMGR:", index);
    for (const row of rows) {
      if (row.sms === undefined) continue;
      this.deliverParsed(row.sms, index);
    }
    if (this.cfg?.deleteOnReceive) await this.at(`AT+CMGD=${index}`).catch(() => {});
  }

  /** A decoded message to reassembly, a status report to its event. */
  private deliverParsed(sms: Sms, index?: number): void {
    if (sms.type === "deliver") {
      this.reasm.add(index === undefined ? { sms } : { sms, index });
    } else if (sms.type === "status-report") {
      this.emit(GsmOp.SMS_RECEIVE, { ...statusEvent(sms) });
    }
  }

  /** A +CMT message (PDU, or text mode header + text). */
  private incomingDirect(head: string, body: string): void {
    if (this.cfg?.mode === "text" && !/^\+CMT:\s*"?[^,]*"?,\d+$/.test(head.replace(/,,/, ","))) {
      const p = params(head, "+CMT:") ?? [];
      this.reasm.add({
        sms: {
          from: String(p[0] ?? ""),
          text: body,
          encoding: "gsm7",
          timestamp: textTime(String(p[2] ?? "")),
        },
      });
      return;
    }
    try {
      this.deliverParsed(decodePdu(body));
    } catch (e) {
      this.log("undecodable +CMT PDU:", body, e instanceof Error ? e.message : "");
    }
  }

  /** A +CDS status report (PDU body, or text-mode fields). */
  private incomingReport(head: string, body?: string): void {
    if (body !== undefined) {
      try {
        this.deliverParsed(decodePdu(body));
      } catch (e) {
        this.log("undecodable +CDS PDU:", body, e instanceof Error ? e.message : "");
      }
      return;
    }
    // Text mode: +CDS: <fo>,<mr>,<ra>,<tora>,<scts>,<dt>,<st>
    const p = params(head, "+CDS:");
    if (p === undefined || typeof p[1] !== "number" || typeof p[6] !== "number") return;
    this.emit(GsmOp.SMS_RECEIVE, {
      ...statusEvent({
        type: "status-report",
        firstOctet: Number(p[0]) || 6,
        mr: p[1],
        recipient: String(p[2]),
        timestamp: textTime(String(p[4])),
        discharge: textTime(String(p[5])),
        status: p[6],
      }),
    });
  }

  // ------------------------------------------------------------ operations

  /** STATUS. */
  status(): Record<string, unknown> {
    return {
      state: this.state,
      port: this.cfg?.port ?? null,
      dialect: this.d?.name ?? null,
      model: this.info.model,
      sim: this.sim,
      mode: this.cfg?.mode ?? null,
      reinits: this.reinits,
      call: this.calls.current,
      at: { ...this.engine.stats },
      ...(this.lastError !== undefined ? { lastError: this.lastError } : {}),
    };
  }

  /** The INIT answer. */
  private describe(): Record<string, unknown> {
    const d = this.d!;
    return {
      port: this.cfg!.port,
      dialect: d.name,
      ...this.info,
      sim: this.sim,
      mode: this.cfg!.mode,
      state: this.state,
      features: { gnss: d.gnss !== undefined, eps: d.eps, hangup: d.hangup },
    };
  }

  /** NETWORK_REG. */
  async networkReg(): Promise<Record<string, unknown>> {
    const d = this.identified();
    const one = async (cmd: string): Promise<Reg | undefined> => {
      const r = await this.at(cmd);
      return r.lines.map((l) => parseReg(l, true)).find((x) => x !== undefined);
    };
    const cs = await one("AT+CREG?");
    if (cs === undefined) {
      throw err(ErrorCode.INTERNAL_ERROR, "bad-answer", { command: "AT+CREG?" });
    }
    const eps = d.eps ? await one("AT+CEREG?").catch(() => undefined) : undefined;
    const cops = await this.at("AT+COPS?").catch(() => undefined);
    const op = cops?.lines.map((l) => params(l, "+COPS:")).find((p) => p !== undefined)?.[2];
    return {
      cs,
      ...(eps !== undefined ? { eps } : {}),
      ...(typeof op === "string" && op !== "" ? { operator: op } : {}),
    };
  }

  /** SIGNAL_QUALITY. */
  async signal(): Promise<Record<string, unknown>> {
    this.identified();
    const r = await this.at("AT+CSQ");
    const q = r.lines.map(parseCsq).find((x) => x !== undefined);
    if (q === undefined) throw err(ErrorCode.INTERNAL_ERROR, "bad-answer", { command: "AT+CSQ" });
    return q;
  }

  /** SMS_SEND. */
  async smsSend(o: {
    to: string;
    text: string;
    encoding: "auto" | "gsm7" | "ucs2";
    report: boolean;
    validityMinutes: number;
    flash: boolean;
  }): Promise<Record<string, unknown>> {
    this.ready();
    const ref = this.concatRef = (this.concatRef + 1) & 0xff;
    let sub;
    try {
      sub = encodeSubmit({
        to: o.to,
        text: o.text,
        encoding: o.encoding,
        statusReport: o.report,
        validityMinutes: o.validityMinutes,
        flash: o.flash,
        concatRef: ref,
      });
    } catch (e) {
      if (e instanceof MyClerkError && e.detail === "pdu:too-many-parts") {
        throw err(ErrorCode.TOO_LARGE, "text-too-long", { maxParts: 10 });
      }
      throw e;
    }
    const text = this.cfg!.mode === "text";
    if (text) await this.at("AT+CMGF=0");
    const refs: number[] = [];
    try {
      for (const p of sub.pdus) {
        const r = await this.at(`AT+CMGS=${p.tpduLength}`, 60_000, p.hex);
        const mr = r.lines.map((l) => params(l, "+CMGS:")).find((x) => x !== undefined)?.[0];
        refs.push(typeof mr === "number" ? mr : -1);
      }
    } finally {
      if (text) await this.at("AT+CMGF=1").catch(() => {});
    }
    return {
      parts: sub.pdus.length,
      refs,
      encoding: sub.encoding,
      ...(sub.pdus.length > 1 ? { concatRef: ref } : {}),
    };
  }

  /** SMS_LIST. */
  async smsList(status: number): Promise<Record<string, unknown>> {
    this.ready();
    const text = this.cfg!.mode === "text";
    const r = await this.at(
      `AT+CMGL=${text ? `"${TEXT_STATUS[status]}"` : status}`,
      20_000,
    );
    const rows = this.parseListing(r.lines, "+CMGL:");
    return {
      messages: rows.map((x) => x.row),
    };
  }

  /** Rows of a +CMGL / +CMGR answer (header line + PDU or text line). */
  private parseListing(
    lines: readonly string[],
    prefix: "+CMGL:" | "+CMGR:",
    knownIndex?: number,
  ): { row: Record<string, unknown>; sms?: Sms }[] {
    const out: { row: Record<string, unknown>; sms?: Sms }[] = [];
    const text = this.cfg?.mode === "text";
    for (let i = 0; i < lines.length; i++) {
      const p = params(lines[i], prefix);
      if (p === undefined) continue;
      // The body is the next line that can be one: a URC or junk may sit in between.
      let j = i + 1;
      while (
        j < lines.length &&
        (text ? /^\+[A-Z]+:/.test(lines[j]) : !/^[0-9A-Fa-f]+$/.test(lines[j]))
      ) j++;
      const body = lines[j] ?? "";
      i = j;
      const index = prefix === "+CMGL:" ? Number(p.shift()) : knownIndex ?? -1;
      if (text) {
        const st = TEXT_STATUS.indexOf(String(p[0]));
        const sent = st === 2 || st === 3;
        const row = {
          index,
          status: MSG_STATUS[st] ?? "unknown",
          type: sent ? "submit" : "deliver",
          [sent ? "to" : "from"]: String(p[1] ?? ""),
          text: body,
          encoding: "gsm7",
          ...(!sent && p[3] ? { timestamp: textTime(String(p[3])) } : {}),
        };
        out.push({
          row,
          ...(!sent
            ? {
              sms: {
                type: "deliver",
                from: String(p[1] ?? ""),
                text: body,
                timestamp: textTime(String(p[3] ?? "")),
                encoding: "gsm7",
                firstOctet: 4,
                pid: 0,
                dcs: 0,
                data: new Uint8Array(0),
                ies: [],
                moreMessages: false,
                statusReportIndication: false,
              } as Sms,
            }
            : {}),
        });
        continue;
      }
      const stat = typeof p[0] === "number" ? p[0] : -1;
      try {
        const sms = decodePdu(body);
        const base = { index, status: MSG_STATUS[stat] ?? "unknown", type: sms.type, pdu: body };
        if (sms.type === "status-report") {
          out.push({
            row: { ...base, to: sms.recipient, text: "", ref: sms.mr, st: sms.status },
            sms,
          });
        } else {
          out.push({
            row: {
              ...base,
              ...(sms.type === "deliver"
                ? { from: sms.from, timestamp: sms.timestamp }
                : { to: sms.to }),
              text: sms.text,
              encoding: sms.encoding,
              ...(sms.concat !== undefined ? { concat: { ...sms.concat } } : {}),
            },
            sms,
          });
        }
      } catch (e) {
        out.push({
          row: {
            index,
            status: MSG_STATUS[stat] ?? "unknown",
            type: "unknown",
            text: "",
            pdu: body,
            error: e instanceof MyClerkError ? e.detail : "undecodable",
          },
        });
      }
    }
    return out;
  }

  /** SMS_DELETE. */
  async smsDelete(index: number | "all"): Promise<Record<string, unknown>> {
    this.ready();
    await this.at(index === "all" ? "AT+CMGD=1,4" : `AT+CMGD=${index}`, 20_000);
    return { deleted: index };
  }

  /** USSD_SEND / USSD_RESPONSE (both send `AT+CUSD=1,…` and wait for the +CUSD answer). */
  async ussd(code: string, timeoutMs: number, continuing: boolean): Promise<Ussd> {
    this.ready();
    if (continuing && !this.ussdOpen) throw err(ErrorCode.NOT_FOUND, "no-ussd-session");
    if (this.ussdWaiter !== undefined) throw err(ErrorCode.RATE_LIMITED, "ussd-busy");
    let timer: ReturnType<typeof setTimeout> | undefined;
    const answer = new Promise<Ussd>((resolve, reject) => {
      this.ussdWaiter = { resolve };
      timer = setTimeout(() => {
        this.ussdWaiter = undefined;
        reject(err(ErrorCode.TIMEOUT, "ussd-timeout", { ms: timeoutMs }));
      }, timeoutMs);
    });
    try {
      await this.at(cusdCommand(code), timeoutMs);
      return await answer;
    } catch (e) {
      this.ussdWaiter = undefined;
      answer.catch(() => {});
      throw e;
    } finally {
      clearTimeout(timer);
    }
  }

  /** USSD_RESPONSE `{ cancel: true }`. */
  async ussdCancel(): Promise<Record<string, unknown>> {
    this.ready();
    await this.at("AT+CUSD=2");
    this.ussdOpen = false;
    return { cancelled: true };
  }

  /** The dialect's GNSS commands, or UNSUPPORTED `gnss-not-in-dialect`. */
  private gnss(): NonNullable<Dialect["gnss"]> {
    const d = this.identified();
    if (d.gnss === undefined) {
      throw err(ErrorCode.UNSUPPORTED, "gnss-not-in-dialect", {
        dialect: d.name,
        why: "the SIM800 family has no GNSS receiver",
      });
    }
    return d.gnss;
  }

  /** GNSS_ENABLE. */
  async gnssEnable(on: boolean): Promise<Record<string, unknown>> {
    const g = this.gnss();
    if (!on) {
      await this.at(g.off).catch((e) => {
        // Already off: SIM7600 ERROR, EC25 +CME ERROR: 505.
        if (!(e instanceof MyClerkError && (e.detail === "at-error" || e.extra.cme === 505))) {
          throw e;
        }
      });
      return { enabled: false };
    }
    try {
      await this.at(g.on(this.gnssMode));
    } catch (e) {
      const already = e instanceof MyClerkError &&
        ((g.alreadyOnError && e.detail === "at-error") ||
          g.alreadyOnCme.includes(Number(e.extra.cme)));
      if (!already) throw e;
      const q = await this.at(g.query);
      if (!q.lines.some((l) => g.onPattern.test(l))) throw e;
    }
    return { enabled: true };
  }

  /** GNSS_POSITION. */
  async gnssPosition(): Promise<Position> {
    const g = this.gnss();
    try {
      const r = await this.at(g.position);
      const parse = g.format === "cgpsinfo" ? parseCgpsinfo : parseQgpsloc;
      const p = r.lines.map(parse).find((x) => x !== undefined);
      if (p === undefined) {
        throw err(ErrorCode.INTERNAL_ERROR, "bad-answer", { command: g.position, lines: r.lines });
      }
      return p;
    } catch (e) {
      if (e instanceof MyClerkError && g.noFixCme.includes(Number(e.extra.cme))) {
        return { fix: false };
      }
      throw e;
    }
  }

  /** GNSS_CONFIG. */
  async gnssConfig(mode?: number, nmea?: boolean): Promise<Record<string, unknown>> {
    const g = this.gnss();
    if (nmea !== undefined) {
      await this.at(g.nmea(nmea));
      this.nmea = nmea;
    }
    if (mode !== undefined) this.gnssMode = mode;
    return { mode: ["", "standalone", "ue-based", "ue-assisted"][this.gnssMode], nmea: this.nmea };
  }

  /** VOICE_DIAL. */
  async dial(number: string): Promise<Record<string, unknown>> {
    const d = this.ready();
    if (this.calls.current !== "ended") throw err(ErrorCode.RATE_LIMITED, "call-in-progress");
    this.calls.set("dialing", { number, direction: "out" });
    try {
      await this.at(`ATD${number};`, 30_000);
    } catch (e) {
      this.calls.set("ended", {
        reason: e instanceof MyClerkError ? e.detail : "error",
      });
      throw e;
    }
    if (!d.clccUrc) void this.pollCall();
    return { state: "dialing", number };
  }

  /** Dialects without +CLCC reports: poll AT+CLCC until the outgoing call is up or over. */
  private async pollCall(): Promise<void> {
    const end = performance.now() + 120_000;
    while (!this.closed && performance.now() < end) {
      await new Promise((r) => setTimeout(r, 250));
      const s = this.calls.current;
      if (s !== "dialing" && s !== "alerting") return;
      const r = await this.at("AT+CLCC").catch(() => undefined);
      if (r === undefined) return;
      for (const l of r.lines) this.calls.urc(l);
    }
  }

  /** VOICE_HANGUP. */
  async hangup(): Promise<Record<string, unknown>> {
    const d = this.ready();
    this.calls.endingBecause("hangup");
    try {
      await this.at(d.hangup, 10_000);
    } finally {
      this.calls.endingBecause(undefined);
    }
    this.calls.set("ended", { reason: "hangup" });
    return { hungUp: true };
  }

  /** VOICE_ANSWER. */
  async answer(): Promise<Record<string, unknown>> {
    this.ready();
    if (!this.calls.ringing) throw err(ErrorCode.NOT_FOUND, "no-incoming-call");
    const number = this.calls.remote;
    await this.at("ATA", 30_000);
    this.calls.set("active");
    return { state: "active", ...(number !== undefined ? { number } : {}) };
  }
}

/** Text-mode time `"24/01/02,10:00:00+04"` (quarter hours) -> ISO 8601. */
export function textTime(s: string): string {
  const m = /^(\d{2})\/(\d{2})\/(\d{2}),(\d{2}):(\d{2}):(\d{2})([+-])(\d{1,2})$/.exec(s);
  if (m === null) return s;
  const q = Number(m[8]) * 15;
  const p = (n: number) => String(n).padStart(2, "0");
  return `20${m[1]}-${m[2]}-${m[3]}T${m[4]}:${m[5]}:${m[6]}${m[7]}${p(Math.floor(q / 60))}:${
    p(q % 60)
  }`;
}
