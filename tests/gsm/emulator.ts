/**
 * A cellular modem emulator on a real pseudo-terminal, written from the AT
 * manuals (3GPP TS 27.007 / 27.005, SIMCom SIM7600 and SIM800 AT command
 * manuals, Quectel EC25 AT and GNSS manuals), independent from the plugin's
 * code (its PDU side is tests/gsm/emulator_pdu.ts).
 *
 * Dialects: SIM7600 (+CGPS/+CGPSINFO, AT+CHUP, +SIMCARD), SIM800 (2G: no
 * +CEREG, no GNSS, no AT+CHUP), EC25 (+QGPS/+QGPSLOC with +CME ERROR 516 for
 * "no fix", +QSIMSTAT, +CUSD before OK). Text and PDU SMS, concatenation,
 * delivery reports (+CDS / +CDSI), USSD menus, GNSS, voice (RING, +CLIP,
 * +CLCC, NO CARRIER), and misbehaviour: slow answers, garbage lines, URCs
 * inside a response, a modem that disappears and comes back (the pty is
 * closed and a new one linked at the same path), an in-place reboot.
 *
 * Standalone: `deno run -A tests/gsm/emulator.ts --dialect sim7600 --link /tmp/modem`
 * then type `sms +4917612345678 Hello`, `call +4930123`, `hangup`, `urc <line>`,
 * `drop`, `back`, `reboot`, `quit` on stdin.
 *
 * @module
 */
import {
  buildDeliver,
  buildStatusReport,
  type DeliverOptions,
  readSubmit,
  type Submitted,
} from "./emulator_pdu.ts";

/** Emulated families. */
export type EmuDialect = "sim7600" | "sim800" | "ec25";

const LIBC_SYMBOLS = {
  posix_openpt: { parameters: ["i32"], result: "i32" },
  grantpt: { parameters: ["i32"], result: "i32" },
  unlockpt: { parameters: ["i32"], result: "i32" },
  ptsname_r: { parameters: ["i32", "buffer", "usize"], result: "i32" },
  open: { parameters: ["buffer", "i32"], result: "i32" },
  read: { parameters: ["i32", "buffer", "usize"], result: "isize" },
  write: { parameters: ["i32", "buffer", "usize"], result: "isize" },
  close: { parameters: ["i32"], result: "i32" },
  tcgetattr: { parameters: ["i32", "buffer"], result: "i32" },
  tcsetattr: { parameters: ["i32", "i32", "buffer"], result: "i32" },
  cfmakeraw: { parameters: ["buffer"], result: "void" },
  poll: { parameters: ["buffer", "u64", "i32"], result: "i32", nonblocking: true },
} as const;

interface Ident {
  readonly cgmi: string;
  readonly cgmm: string;
  readonly cgmr: string;
  readonly ati: readonly string[];
  readonly boot: readonly string[];
}

const IDENT: Record<EmuDialect, Ident> = {
  sim7600: {
    cgmi: "SIMCOM INCORPORATED",
    cgmm: "SIMCOM_SIM7600E-H",
    cgmr: "+CGMR: LE20B04SIM7600M22",
    ati: [
      "Manufacturer: SIMCOM INCORPORATED",
      "Model: SIMCOM_SIM7600E-H",
      "Revision: LE20B04SIM7600M22",
      "+GCAP: +CGSM",
    ],
    boot: ["RDY", "+CPIN: READY", "SMS DONE", "PB DONE"],
  },
  sim800: {
    cgmi: "SIMCOM_Ltd",
    cgmm: "SIMCOM_SIM800L",
    cgmr: "Revision:1418B05SIM800L24",
    ati: ["SIM800 R14.18"],
    boot: ["RDY", "+CFUN: 1", "+CPIN: READY", "Call Ready", "SMS Ready"],
  },
  ec25: {
    cgmi: "Quectel",
    cgmm: "EC25",
    cgmr: "Revision: EC25EFAR06A06M4G",
    ati: ["Quectel", "EC25", "Revision: EC25EFAR06A06M4G"],
    boot: ["RDY", "+CFUN: 1", "+CPIN: READY", "+QUSIM: 1", "+QIND: SMS DONE", "+QIND: PB DONE"],
  },
};

const CME_TEXT: Record<number, string> = {
  3: "operation not allowed",
  4: "operation not supported",
  10: "SIM not inserted",
  16: "incorrect password",
  50: "Incorrect parameters",
  504: "Session is ongoing",
  505: "Session not active",
  516: "Not fixed now",
};

interface Stored {
  stat: number;
  readonly pdu: string;
  readonly length: number;
  readonly from: string;
  readonly text: string;
  readonly report?: boolean;
}

interface Call {
  readonly number: string;
  readonly dir: 0 | 1;
  stat: number;
}

/** A GNSS fix the emulator reports. */
export interface EmuFix {
  readonly lat: number;
  readonly lon: number;
  readonly alt: number;
  readonly speedKmh: number;
  readonly course: number;
  readonly time: Date;
}

interface UssdNode {
  readonly m: number;
  readonly text: string;
  readonly next?: Readonly<Record<string, UssdNode>>;
}

const USSD: Readonly<Record<string, UssdNode>> = {
  "*100#": { m: 0, text: "Guthaben: 12,34 EUR" },
  "*101#": {
    m: 1,
    text: "1 Guthaben | 2 Datenvolumen",
    next: {
      "1": {
        m: 1,
        text: "Guthaben 5,00 EUR | 0 Ende",
        next: { "0": { m: 0, text: "Auf Wiedersehen" } },
      },
      "2": { m: 0, text: "Noch 2,1 GB" },
    },
  },
};

/** Misbehaviour switches (all off by default). */
export interface Misbehaviour {
  /** Delay before every final result, ms. */
  slowMs: number;
  /** Garbage lines between answers and a junk `+ZZJUNK` line inside answers. */
  garbage: boolean;
  /** Hold URCs and write them in the middle of the next multi-line answer. */
  urcInResponse: boolean;
  /** Commands that are never answered (the modem "hangs" on them once). */
  swallow: Set<string>;
  /** Commands answered once only after this many ms (the answer is computed at once, written late). */
  late: Map<string, number>;
}

/** Options of {@link ModemEmulator.start}. */
export interface EmuOptions {
  /** Family. */
  readonly dialect: EmuDialect;
  /** libc path (FFI). */
  readonly libc: string;
  /** Symlink the plugin opens (recreated when the modem comes back). */
  readonly link: string;
  /** SIM state at power-on. */
  readonly sim?: "READY" | "SIM PIN" | "absent";
  /** PIN for `SIM PIN`. */
  readonly pin?: string;
}

/** The emulator. */
export class ModemEmulator {
  private lib: Deno.DynamicLibrary<typeof LIBC_SYMBOLS>;
  private master = -1;
  private slaveFd = -1;
  private slavePath = "";
  private running = false;
  private loop?: Promise<void>;
  private inbuf = "";
  private pduMode?: { n: number; text: boolean; to?: string; buf: string };
  private work: Promise<void> = Promise.resolve();
  private heldUrcs: string[] = [];
  private ringTimer?: ReturnType<typeof setInterval>;
  private timers = new Set<ReturnType<typeof setTimeout>>();

  // Modem state (reset by power cycles).
  private echo = true;
  private cmee = 0;
  private cmgf = 0;
  private cnmi = [0, 0, 0, 0, 0];
  private creg = 0;
  private cereg = 0;
  private clip = false;
  private clcc = false;
  private qsimstat = false;
  private mr = 0;
  private ussd?: UssdNode;
  private gnssOn = false;
  private gnssSince = 0;

  /** SIM state. */
  sim: "READY" | "SIM PIN" | "absent";
  /** IMEI (AT+CGSN); change it before {@link reappear} to play a swapped modem. */
  imei: string;
  /** Registration `<stat>` (1 home). */
  regStat = 1;
  /** +CSQ rssi. */
  rssi = 21;
  /** Message storage (SM), index -> entry. */
  readonly storage = new Map<number, Stored>();
  /** Every command line received, in order. */
  readonly commands: string[] = [];
  /** Every SMS-SUBMIT part received (decoded by the emulator). */
  readonly sent: Submitted[] = [];
  /** TP-ST of the automatic status reports (0 = delivered). */
  reportStatus = 0;
  /** The fix GNSS reports once it has been on for {@link fixAfterMs}. */
  fix?: EmuFix = {
    lat: 52.520008,
    lon: 13.404954,
    alt: 34.5,
    speedKmh: 3.7,
    course: 87.5,
    time: new Date(Date.UTC(2026, 0, 15, 9, 30, 12)),
  };
  /** Time from GNSS on to the first fix. */
  fixAfterMs = 0;
  /** An outgoing call is answered after this long (undefined: never). */
  answerAfterMs?: number = 100;
  /** Current call. */
  call?: Call;
  /** Misbehaviour switches. */
  readonly misbehave: Misbehaviour = {
    slowMs: 0,
    garbage: false,
    urcInResponse: false,
    swallow: new Set(),
    late: new Map(),
  };
  private pendingDelay = 0;

  private constructor(readonly o: EmuOptions) {
    this.lib = Deno.dlopen(o.libc, LIBC_SYMBOLS);
    this.sim = o.sim ?? "READY";
    this.imei = o.dialect === "sim800" ? "867856030123456" : "861234567890123";
  }

  /** Opens the pty, links it at `o.link` and starts serving. */
  static async start(o: EmuOptions): Promise<ModemEmulator> {
    const e = new ModemEmulator(o);
    await e.powerOn(false);
    return e;
  }

  /** Path the plugin opens. */
  get link(): string {
    return this.o.link;
  }

  /** Current pty slave path. */
  get slave(): string {
    return this.slavePath;
  }

  /** The dialect. */
  get dialect(): EmuDialect {
    return this.o.dialect;
  }

  private reset(): void {
    this.echo = true;
    this.cmee = 0;
    this.cmgf = 0;
    this.cnmi = [0, 0, 0, 0, 0];
    this.creg = 0;
    this.cereg = 0;
    this.clip = false;
    this.clcc = false;
    this.qsimstat = false;
    this.ussd = undefined;
    this.gnssOn = false;
    this.call = undefined;
    this.pduMode = undefined;
    this.inbuf = "";
    if (this.sim !== "absent" && this.o.pin !== undefined) this.sim = "SIM PIN";
  }

  private async powerOn(boot: boolean): Promise<void> {
    const s = this.lib.symbols;
    const O_RDWR = 2, O_NOCTTY = 0o400, O_NONBLOCK = 0o4000;
    const fd = s.posix_openpt(O_RDWR | O_NOCTTY | O_NONBLOCK);
    const name = new Uint8Array(128);
    if (
      fd < 0 || s.grantpt(fd) !== 0 || s.unlockpt(fd) !== 0 || s.ptsname_r(fd, name, 128n) !== 0
    ) {
      throw new Error("emulator: cannot open a pseudo-terminal");
    }
    this.master = fd;
    this.slavePath = new TextDecoder().decode(name.subarray(0, name.indexOf(0)));
    // Hold the slave open and raw: no echo by the line discipline, no CR/LF mapping,
    // and the master never sees a hang-up just because the plugin closed its side.
    this.slaveFd = s.open(
      new TextEncoder().encode(this.slavePath + "\0"),
      O_RDWR | O_NOCTTY | O_NONBLOCK,
    );
    const t = new Uint8Array(64);
    s.tcgetattr(this.slaveFd, t);
    s.cfmakeraw(t);
    s.tcsetattr(this.slaveFd, 0, t);
    await Deno.remove(this.o.link).catch(() => {});
    await Deno.symlink(this.slavePath, this.o.link);
    this.reset();
    this.running = true;
    this.loop = this.readLoop(fd);
    if (boot) { for (const l of this.bootLines()) this.urc(l); }
  }

  private bootLines(): string[] {
    const b = IDENT[this.o.dialect].boot;
    if (this.sim === "READY") return [...b];
    return b.filter((l) => !l.startsWith("+CPIN") && !/SMS|PB|Call/.test(l)).concat(
      this.sim === "absent" ? [] : ["+CPIN: SIM PIN"],
    );
  }

  private async readLoop(fd: number): Promise<void> {
    const pfd = new Uint8Array(8);
    const dv = new DataView(pfd.buffer);
    const buf = new Uint8Array(4096);
    while (this.running && this.master === fd) {
      dv.setInt32(0, fd, true);
      dv.setInt16(4, 1, true);
      dv.setInt16(6, 0, true);
      const n = await this.lib.symbols.poll(pfd, 1n, 50);
      if (!this.running || this.master !== fd) return;
      if (n > 0 && (dv.getInt16(6, true) & 1) !== 0) {
        const r = Number(this.lib.symbols.read(fd, buf, 4096n));
        if (r > 0) {
          let s = "";
          for (let i = 0; i < r; i++) s += String.fromCharCode(buf[i]);
          this.input(s);
        }
      }
    }
  }

  private raw(text: string): void {
    if (this.master < 0) return;
    const b = new Uint8Array(text.length);
    for (let i = 0; i < text.length; i++) b[i] = text.charCodeAt(i) & 0xff;
    let off = 0;
    for (let tries = 0; off < b.length && tries < 1000; tries++) {
      const n = Number(
        this.lib.symbols.write(this.master, b.subarray(off), BigInt(b.length - off)),
      );
      if (n > 0) off += n;
    }
  }

  private later(ms: number, f: () => void): void {
    const t = setTimeout(() => {
      this.timers.delete(t);
      if (this.running) f();
    }, ms);
    this.timers.add(t);
  }

  // ------------------------------------------------------------ input

  private input(s: string): void {
    for (const ch of s) {
      if (this.pduMode !== undefined) {
        if (ch === "\x1a") {
          const p = this.pduMode;
          this.pduMode = undefined;
          this.enqueue(() => this.submit(p));
        } else if (ch === "\x1b") {
          this.pduMode = undefined; // cancelled: no answer (27.005 §3.5.1)
        } else if (ch !== "\r" && ch !== "\n") this.pduMode.buf += ch;
        continue;
      }
      if (ch === "\r") {
        const line = this.inbuf.trim();
        this.inbuf = "";
        if (/^AT/i.test(line)) {
          if (this.echo) this.raw(line + "\r");
          this.enqueue(() => this.command(line));
        }
      } else if (ch !== "\n" && this.inbuf.length < 4096) this.inbuf += ch;
    }
  }

  private enqueue(f: () => Promise<void> | void): void {
    this.work = this.work.then(f).catch((e) => console.error("emulator:", e));
  }

  private async respond(lines: readonly string[], final: string): Promise<void> {
    if (this.pendingDelay > 0) {
      const d = this.pendingDelay;
      this.pendingDelay = 0;
      await new Promise((r) => setTimeout(r, d));
    }
    let out = "";
    const mid = Math.max(1, Math.floor(lines.length / 2));
    lines.forEach((l, i) => {
      out += `\r\n${l}\r\n`;
      if (i === mid - 1 || lines.length === 1) {
        if (this.misbehave.urcInResponse && this.heldUrcs.length > 0) {
          for (const u of this.heldUrcs.splice(0)) out += `\r\n${u}\r\n`;
        }
        if (this.misbehave.garbage) out += '\r\n+ZZJUNK: 7,"noise"\r\n';
      }
    });
    if (lines.length === 0 && this.misbehave.urcInResponse && this.heldUrcs.length > 0) {
      for (const u of this.heldUrcs.splice(0)) out += `\r\n${u}\r\n`;
    }
    if (this.misbehave.slowMs > 0) {
      this.raw(out);
      out = "";
      await new Promise((r) => setTimeout(r, this.misbehave.slowMs));
    }
    out += `\r\n${final}\r\n`;
    if (this.misbehave.garbage) out += "\r\n\x00\x7f~~ line noise ~~\r\n";
    this.raw(out);
  }

  /** Writes an unsolicited line (held for the next answer in `urcInResponse` mode). */
  urc(line: string): void {
    if (this.misbehave.urcInResponse) {
      this.heldUrcs.push(line);
      return;
    }
    this.raw(`\r\n${line}\r\n`);
  }

  private cme(n: number): string {
    if (this.cmee === 0) return "ERROR";
    return this.cmee === 2 && CME_TEXT[n] ? `+CME ERROR: ${CME_TEXT[n]}` : `+CME ERROR: ${n}`;
  }

  private cms(n: number): string {
    return this.cmee === 0 ? "ERROR" : `+CMS ERROR: ${n}`;
  }

  // ------------------------------------------------------------ commands

  private async command(line: string): Promise<void> {
    this.commands.push(line);
    const up = line.toUpperCase();
    if (this.misbehave.swallow.delete(up)) return;
    const late = this.misbehave.late.get(up);
    if (late !== undefined) {
      this.misbehave.late.delete(up);
      this.pendingDelay = late;
    }
    const d = this.o.dialect;
    const ok = (lines: string[] = []) => this.respond(lines, "OK");
    const fail = (f = "ERROR") => this.respond([], f);
    const id = IDENT[d];
    const simOk = this.sim === "READY";
    const sms = (
      f: () => Promise<void> | void,
    ) => (simOk
      ? Promise.resolve(f())
      : fail(this.sim === "absent" ? this.cms(310) : this.cms(311)));
    let m: RegExpExecArray | null;

    if (up === "AT") return ok();
    if ((m = /^ATE([01])$/.exec(up))) {
      this.echo = m[1] === "1";
      return ok();
    }
    if ((m = /^AT\+CMEE=([012])$/.exec(up))) {
      this.cmee = Number(m[1]);
      return ok();
    }
    if (up === "AT+CGMI") return ok([id.cgmi]);
    if (up === "AT+CGMM") return ok([id.cgmm]);
    if (up === "AT+CGMR") return ok([id.cgmr]);
    if (up === "AT+CGSN") return ok([this.imei]);
    if (up === "ATI") return ok([...id.ati]);
    if (up === "AT+CPIN?") {
      if (this.sim === "absent") return fail(this.cme(10));
      return ok([`+CPIN: ${this.sim}`]);
    }
    if ((m = /^AT\+CPIN="?(\d+)"?$/.exec(up))) {
      if (this.sim !== "SIM PIN") return fail(this.cme(3));
      if (m[1] !== this.o.pin) return fail(this.cme(16));
      this.sim = "READY";
      await ok();
      this.later(20, () => {
        this.urc("+CPIN: READY");
        for (const l of id.boot.filter((x) => /SMS|PB|Call/.test(x))) this.urc(l);
      });
      return;
    }
    if ((m = /^AT\+CMGF=([01])$/.exec(up))) {
      this.cmgf = Number(m[1]);
      return ok();
    }
    if (up === "AT+CMGF?") return ok([`+CMGF: ${this.cmgf}`]);
    if (/^AT\+CSCS=/.test(up) || /^AT\+CSDH=/.test(up)) return ok();
    if ((m = /^AT\+CNMI=([\d,]+)$/.exec(up))) {
      const v = m[1].split(",").map(Number);
      this.cnmi = [0, 1, 2, 3, 4].map((i) => v[i] ?? 0);
      return ok();
    }
    if ((m = /^AT\+CREG=([012])$/.exec(up))) {
      this.creg = Number(m[1]);
      return ok();
    }
    if (up === "AT+CREG?") return ok([`+CREG: ${this.creg},${this.regFields(false)}`]);
    if (/^AT\+CEREG/.test(up)) {
      if (d === "sim800") return fail(this.cmee ? this.cme(4) : "ERROR");
      if ((m = /^AT\+CEREG=([012])$/.exec(up))) {
        this.cereg = Number(m[1]);
        return ok();
      }
      if (up === "AT+CEREG?") return ok([`+CEREG: ${this.cereg},${this.regFields(true)}`]);
    }
    if (up === "AT+COPS?") return ok([`+COPS: 0,0,"Emu Telekom",${d === "sim800" ? 0 : 7}`]);
    if (up === "AT+CSQ") return ok([`+CSQ: ${this.rssi},99`]);
    if ((m = /^AT\+CLIP=([01])$/.exec(up))) {
      this.clip = m[1] === "1";
      return ok();
    }
    if ((m = /^AT\+CLCC=([01])$/.exec(up))) {
      if (d === "ec25") return fail(this.cme(4));
      this.clcc = m[1] === "1";
      return ok();
    }
    if (up === "AT+CLCC") return ok(this.call ? [this.clccLine()] : []);
    if ((m = /^AT\+QSIMSTAT=([01])$/.exec(up)) && d === "ec25") {
      this.qsimstat = m[1] === "1";
      return ok();
    }
    if (/^AT\+QURCCFG=/.test(up) && d === "ec25") return ok();

    // SMS
    if ((m = /^AT\+CMGS=(\d+)$/.exec(up)) && this.cmgf === 0) {
      return sms(() => {
        this.pduMode = { n: Number(m![1]), text: false, buf: "" };
        this.raw("\r\n> ");
      });
    }
    if ((m = /^AT\+CMGS="([^"]+)"/.exec(line)) && this.cmgf === 1) {
      return sms(() => {
        this.pduMode = { n: 0, text: true, to: m![1], buf: "" };
        this.raw("\r\n> ");
      });
    }
    if ((m = /^AT\+CMGR=(\d+)$/.exec(up))) {
      return sms(() => {
        const e = this.storage.get(Number(m![1]));
        if (e === undefined) return ok(); // empty slot: OK with no data (SIMCom, Quectel)
        const lines = this.cmgf === 0
          ? [`+CMGR: ${e.stat},,${e.length}`, e.pdu]
          : e.report
          ? [`+CMGR: "REC UNREAD",6,${0}`]
          : [
            `+CMGR: "${
              ["REC UNREAD", "REC READ", "STO UNSENT", "STO SENT"][e.stat]
            }","${e.from}",,"${this.textTime()}"`,
            e.text,
          ];
        if (e.stat === 0) e.stat = 1;
        return ok(lines);
      });
    }
    if ((m = /^AT\+CMGL=(?:(\d)|"([A-Z ]+)")$/.exec(up))) {
      return sms(() => {
        const names = ["REC UNREAD", "REC READ", "STO UNSENT", "STO SENT", "ALL"];
        const want = m![1] !== undefined ? Number(m![1]) : names.indexOf(m![2]);
        if ((this.cmgf === 0) !== (m![1] !== undefined) || want < 0) return fail(this.cms(302));
        const lines: string[] = [];
        for (const [i, e] of [...this.storage].sort((a, b) => a[0] - b[0])) {
          if (want !== 4 && e.stat !== want) continue;
          if (this.cmgf === 0) lines.push(`+CMGL: ${i},${e.stat},,${e.length}`, e.pdu);
          else {lines.push(
              `+CMGL: ${i},"${names[e.stat]}","${e.from}",,"${this.textTime()}"`,
              e.text,
            );}
          if (e.stat === 0) e.stat = 1;
        }
        return ok(lines);
      });
    }
    if ((m = /^AT\+CMGD=(\d+)(?:,(\d))?$/.exec(up))) {
      return sms(() => {
        const i = Number(m![1]);
        const flag = Number(m![2] ?? 0);
        if (flag === 4) this.storage.clear();
        else {
          if (i < 0 || i > 49) return fail(this.cms(321));
          this.storage.delete(i);
        }
        return ok();
      });
    }

    // USSD
    if ((m = /^AT\+CUSD=([012])(?:,"([^"]*)"(?:,(\d+))?)?$/.exec(line.replace(/^at/, "AT")))) {
      if (!simOk) return fail(this.cme(10));
      const n = Number(m[1]);
      if (n === 2) {
        this.ussd = undefined;
        return ok();
      }
      const str = m[2];
      if (str === undefined) return ok();
      const node = this.ussd?.next?.[str] ?? (this.ussd === undefined ? USSD[str] : undefined);
      const answer = node === undefined ? "+CUSD: 4" : `+CUSD: ${node.m},"${node.text}",15`;
      this.ussd = node !== undefined && node.m === 1 ? node : undefined;
      if (d === "ec25") return ok([answer]); // Quectel: the answer before OK
      await ok();
      this.later(30, () => this.urc(answer));
      return;
    }

    // GNSS
    if (d === "sim7600") {
      if ((m = /^AT\+CGPS=([01])(?:,([123]))?$/.exec(up))) {
        const on = m[1] === "1";
        if (on === this.gnssOn) return fail();
        this.gnssOn = on;
        this.gnssSince = performance.now();
        return ok();
      }
      if (up === "AT+CGPS?") return ok([`+CGPS: ${this.gnssOn ? 1 : 0},1`]);
      if (/^AT\+CGPSNMEA=\d+$/.test(up)) return ok();
      if (up === "AT+CGPSINFO") {
        const f = this.currentFix();
        if (f === undefined) return ok(["+CGPSINFO: ,,,,,,,,"]);
        return ok([`+CGPSINFO: ${this.cgpsinfo(f)}`]);
      }
    }
    if (d === "ec25") {
      if ((m = /^AT\+QGPS=([1-4])$/.exec(up))) {
        if (this.gnssOn) return fail(this.cme(504));
        this.gnssOn = true;
        this.gnssSince = performance.now();
        return ok();
      }
      if (up === "AT+QGPS?") return ok([`+QGPS: ${this.gnssOn ? 1 : 0}`]);
      if (up === "AT+QGPSEND") {
        if (!this.gnssOn) return fail(this.cme(505));
        this.gnssOn = false;
        return ok();
      }
      if (/^AT\+QGPSCFG="OUTPORT","(USBNMEA|NONE|UARTNMEA)"$/.test(up)) return ok();
      if ((m = /^AT\+QGPSLOC=([012])$/.exec(up))) {
        if (!this.gnssOn) return fail(this.cme(505));
        const f = this.currentFix();
        if (f === undefined) return fail(this.cme(516));
        return ok([`+QGPSLOC: ${this.qgpsloc(f)}`]);
      }
    }

    // Voice
    if ((m = /^ATD([+\d*#]+);$/.exec(up))) {
      if (!simOk) return fail("NO CARRIER");
      if (this.call !== undefined) return fail(this.cme(3));
      this.call = { number: m[1], dir: 0, stat: 2 };
      await ok();
      this.callUpdate();
      this.later(30, () => {
        if (this.call?.dir === 0 && this.call.stat === 2) {
          this.call.stat = 3;
          this.callUpdate();
        }
      });
      if (this.answerAfterMs !== undefined) {
        this.later(this.answerAfterMs, () => this.remoteAnswer());
      }
      return;
    }
    if (up === "ATA") {
      if (this.call === undefined || this.call.stat !== 4) return fail("NO CARRIER");
      this.stopRinging();
      this.call.stat = 0;
      await ok();
      this.callUpdate();
      return;
    }
    if (up === "ATH" || up === "ATH0" || (up === "AT+CHUP" && d !== "sim800")) {
      this.stopRinging();
      const had = this.call !== undefined;
      if (had && this.clcc && d === "sim800") this.urc(this.clccLine(6));
      this.call = undefined;
      await ok();
      if (had && d === "sim7600") this.urc("VOICE CALL: END: 000005");
      return;
    }
    return fail(this.cmee > 0 && /^AT\+/.test(up) ? this.cme(4) : "ERROR");
  }

  private regFields(eps: boolean): string {
    const n = eps ? this.cereg : this.creg;
    const act = this.o.dialect === "sim800" ? "" : ",7";
    return n === 2 ? `${this.regStat},"00A1","0000B2C3"${act}` : `${this.regStat}`;
  }

  private textTime(): string {
    return "26/01/15,10:30:00+04";
  }

  private currentFix(): EmuFix | undefined {
    if (!this.gnssOn || this.fix === undefined) return undefined;
    if (performance.now() - this.gnssSince < this.fixAfterMs) return undefined;
    return this.fix;
  }

  private cgpsinfo(f: EmuFix): string {
    const dm = (v: number, w: number) => {
      const a = Math.abs(v);
      const deg = Math.floor(a);
      const min = (a - deg) * 60;
      return String(deg).padStart(w, "0") + min.toFixed(6).padStart(9, "0");
    };
    const t = f.time;
    const p = (n: number) => String(n).padStart(2, "0");
    const date = `${p(t.getUTCDate())}${p(t.getUTCMonth() + 1)}${p(t.getUTCFullYear() % 100)}`;
    const utc = `${p(t.getUTCHours())}${p(t.getUTCMinutes())}${p(t.getUTCSeconds())}.0`;
    return [
      dm(f.lat, 2),
      f.lat >= 0 ? "N" : "S",
      dm(f.lon, 3),
      f.lon >= 0 ? "E" : "W",
      date,
      utc,
      f.alt.toFixed(1),
      (f.speedKmh / 1.852).toFixed(1),
      f.course.toFixed(1),
    ].join(",");
  }

  private qgpsloc(f: EmuFix): string {
    const t = f.time;
    const p = (n: number) => String(n).padStart(2, "0");
    return [
      `${p(t.getUTCHours())}${p(t.getUTCMinutes())}${p(t.getUTCSeconds())}.000`,
      f.lat.toFixed(5),
      f.lon.toFixed(5),
      "0.8",
      f.alt.toFixed(1),
      "3",
      f.course.toFixed(2),
      f.speedKmh.toFixed(1),
      (f.speedKmh / 1.852).toFixed(1),
      `${p(t.getUTCDate())}${p(t.getUTCMonth() + 1)}${p(t.getUTCFullYear() % 100)}`,
      "09",
    ].join(",");
  }

  private async submit(p: { n: number; text: boolean; to?: string; buf: string }): Promise<void> {
    if (p.text) {
      this.sent.push({
        to: p.to!,
        text: p.buf,
        alphabet: "gsm7",
        srr: false,
        dcs: 0,
        tpduLength: 0,
      });
      this.mr = (this.mr + 1) & 0xff;
      return this.respond([`+CMGS: ${this.mr}`], "OK");
    }
    let s: Submitted;
    try {
      s = readSubmit(p.buf);
    } catch {
      return this.respond([], this.cms(304));
    }
    if (s.tpduLength !== p.n) return this.respond([], this.cms(304));
    this.sent.push(s);
    this.mr = (this.mr + 1) & 0xff;
    const mr = this.mr;
    await this.respond([`+CMGS: ${mr}`], "OK");
    if (s.srr && this.cnmi[3] !== 0) {
      this.later(40, () => this.statusReport(mr, s.to, this.reportStatus));
    }
  }

  private statusReport(mr: number, to: string, st: number): void {
    const r = buildStatusReport(mr, to, st);
    if (this.cnmi[3] === 1) {
      if (this.cmgf === 0) this.urcBlock(`+CDS: ${r.length}`, r.pdu);
      else this.urc(`+CDS: 6,${mr},"${to}",145,"${this.textTime()}","${this.textTime()}",${st}`);
    } else if (this.cnmi[3] === 2) {
      const i = this.freeIndex();
      this.storage.set(i, {
        stat: 0,
        pdu: r.pdu,
        length: r.length,
        from: to,
        text: "",
        report: true,
      });
      this.urc(`+CDSI: "SM",${i}`);
    }
  }

  private urcBlock(head: string, body: string): void {
    if (this.misbehave.urcInResponse) {
      this.heldUrcs.push(`${head}\r\n${body}`);
      return;
    }
    this.raw(`\r\n${head}\r\n${body}\r\n`);
  }

  private freeIndex(): number {
    for (let i = 0; i < 50; i++) if (!this.storage.has(i)) return i;
    throw new Error("emulator: SIM storage full");
  }

  private clccLine(stat?: number): string {
    const c = this.call!;
    return `+CLCC: 1,${c.dir},${stat ?? c.stat},0,0,"${c.number}",${
      c.number.startsWith("+") ? 145 : 129
    }`;
  }

  private callUpdate(): void {
    if (this.call !== undefined && this.clcc) this.urc(this.clccLine());
    if (this.call?.stat === 0 && this.o.dialect === "sim7600") this.urc("VOICE CALL: BEGIN");
  }

  private stopRinging(): void {
    if (this.ringTimer !== undefined) clearInterval(this.ringTimer);
    this.ringTimer = undefined;
  }

  // ------------------------------------------------------------ test API

  /**
   * An SMS arrives from the network: stored with +CMTI (CNMI mt=1) or shown
   * with +CMT (mt=2, or `route: "direct"`). `order` reorders parts, `skip`
   * drops part numbers (to test reassembly timeouts). Returns storage indexes.
   */
  injectSms(o: DeliverOptions & { route?: "direct"; order?: number[]; skip?: number[] }): number[] {
    const parts = buildDeliver(o);
    const seq = (o.order ?? parts.map((_, i) => i + 1)).filter((n) => !(o.skip ?? []).includes(n));
    const idx: number[] = [];
    for (const n of seq) {
      const part = parts[n - 1];
      const direct = o.route === "direct" || this.cnmi[1] === 2;
      if (direct) {
        if (this.cmgf === 0) this.urcBlock(`+CMT: ,${part.length}`, part.pdu);
        else this.urcBlock(`+CMT: "${o.from}",,"${this.textTime()}"`, part.text);
        continue;
      }
      const i = this.freeIndex();
      this.storage.set(i, {
        stat: 0,
        pdu: part.pdu,
        length: part.length,
        from: o.from,
        text: part.text,
      });
      idx.push(i);
      if (this.cnmi[1] === 1) this.urc(`+CMTI: "SM",${i}`);
    }
    return idx;
  }

  /** An incoming call: RING (+CLIP) every second until answered or hung up (at most 30). */
  ring(number: string): void {
    this.call = { number, dir: 1, stat: 4 };
    let n = 0;
    const once = () => {
      if (this.call?.stat !== 4 || n++ > 30) return this.stopRinging();
      this.urc("RING");
      if (this.clip) this.urc(`+CLIP: "${number}",145,"",0,"",0`);
    };
    if (this.clcc) this.urc(this.clccLine());
    once();
    this.ringTimer = setInterval(once, 1000);
  }

  /** The remote side answers our outgoing call. */
  remoteAnswer(): void {
    if (this.call?.dir !== 0 || this.call.stat === 0) return;
    this.call.stat = 0;
    this.callUpdate();
  }

  /** The remote side hangs up. */
  remoteHangup(): void {
    if (this.call === undefined) return;
    this.stopRinging();
    if (this.clcc && this.o.dialect === "sim800") this.urc(this.clccLine(6));
    this.call = undefined;
    this.urc("NO CARRIER");
  }

  /** Registration changes (URC when +CREG/+CEREG reporting is on). */
  setRegistration(stat: number): void {
    this.regStat = stat;
    if (this.creg > 0) this.urc(`+CREG: ${this.regFields(false)}`);
    if (this.cereg > 0 && this.o.dialect !== "sim800") this.urc(`+CEREG: ${this.regFields(true)}`);
  }

  /** The SIM is pulled out (each family says it its own way). */
  removeSim(): void {
    this.sim = "absent";
    const d = this.o.dialect;
    if (d === "sim7600") this.urc("+SIMCARD: NOT AVAILABLE");
    else if (d === "ec25" && this.qsimstat) this.urc("+QSIMSTAT: 1,0");
    else this.urc("+CPIN: NOT READY");
  }

  /** The SIM is put back. */
  insertSim(): void {
    this.sim = this.o.pin !== undefined ? "SIM PIN" : "READY";
    if (this.o.dialect === "ec25" && this.qsimstat) this.urc("+QSIMSTAT: 1,1");
    this.later(20, () => this.urc(`+CPIN: ${this.sim}`));
  }

  /** The network pushes a USSD (or any) line. */
  push(line: string): void {
    this.urc(line);
  }

  /** The USB device vanishes: pty closed, link removed (the plugin sees a hang-up). */
  async disappear(): Promise<void> {
    this.running = false;
    this.stopRinging();
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    const m = this.master;
    this.master = -1;
    await this.loop;
    this.lib.symbols.close(m);
    this.lib.symbols.close(this.slaveFd);
    this.slaveFd = -1;
    await Deno.remove(this.o.link).catch(() => {});
  }

  /** It comes back after a reset: new pty at the same link, power-on state, boot URCs. */
  async reappear(): Promise<void> {
    await this.powerOn(true);
  }

  /** Reboots in place (UART modem, watchdog): state reset, boot URCs on the same line. */
  reboot(): void {
    this.reset();
    for (const l of this.bootLines()) this.urc(l);
  }

  /** Stops serving and frees everything. */
  async stop(): Promise<void> {
    if (this.master >= 0) await this.disappear();
    this.lib.close();
  }
}

if (import.meta.main) {
  const args = Deno.args;
  const arg = (k: string, d: string) => {
    const i = args.indexOf(k);
    return i >= 0 ? args[i + 1] : d;
  };
  const { resolveLibrary } = await import("../../plugins/policy.ts");
  const emu = await ModemEmulator.start({
    dialect: arg("--dialect", "sim7600") as EmuDialect,
    libc: resolveLibrary("libc")!,
    link: arg("--link", "/tmp/myclerk-modem"),
  });
  console.log(`emulated ${emu.dialect} on ${emu.slave}, linked at ${emu.link}`);
  const dec = new TextDecoder();
  for await (const chunk of Deno.stdin.readable) {
    for (const l of dec.decode(chunk).split("\n").map((x) => x.trim()).filter(Boolean)) {
      const [cmd, a, ...rest] = l.split(" ");
      if (cmd === "sms") console.log("stored at", emu.injectSms({ from: a, text: rest.join(" ") }));
      else if (cmd === "call") emu.ring(a);
      else if (cmd === "hangup") emu.remoteHangup();
      else if (cmd === "urc") emu.push([a, ...rest].join(" "));
      else if (cmd === "drop") await emu.disappear();
      else if (cmd === "back") await emu.reappear();
      else if (cmd === "reboot") emu.reboot();
      else if (cmd === "quit") {
        await emu.stop();
        Deno.exit(0);
      } else {console.log(
          "commands: sms NUM TEXT | call NUM | hangup | urc LINE | drop | back | reboot | quit",
        );}
    }
  }
}
