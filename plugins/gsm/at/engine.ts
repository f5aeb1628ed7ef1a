/**
 * The AT command engine: one command on the line at a time (a queue behind
 * it), per-command timeouts, final result codes (OK, ERROR, +CME/+CMS ERROR
 * with their numbers, call progress), intermediate responses, the `> `
 * prompt of AT+CMGS, echo on or off, and unsolicited result codes (URCs)
 * recognised and pushed while a command is in flight. Transport-agnostic:
 * the port feeds bytes in with {@link AtEngine.feed} and the engine writes
 * through the function it was given, so it is tested and fuzzed without a tty.
 *
 * @module
 */
import { ErrorCode, MyClerkError } from "@myclerk/plugin-sdk";
import { FINAL_OK, finalError, isFinal } from "./codes.ts";

/** Answer of a successful command. */
export interface AtResult {
  /** Intermediate lines (echo and URCs removed), in order. */
  readonly lines: readonly string[];
  /** The final result code. */
  readonly final: string;
}

/** An unsolicited result code; `body` is the second line of +CMT / +CDS (PDU or text). */
export interface Urc {
  /** The URC line. */
  readonly line: string;
  /** Its second line, for two-line URCs. */
  readonly body?: string;
}

/** Options of one command. */
export interface CommandOptions {
  /** Time for the final result (default: the engine's). */
  readonly timeoutMs?: number;
  /** Written after the `> ` prompt, followed by Ctrl-Z (AT+CMGS in PDU mode). */
  readonly pdu?: string;
}

/** How the engine tells URCs from responses (data: common codes plus the dialect's). */
export interface UrcTable {
  /** Prefixes that are URCs even while a command with the same prefix runs (+CMTI, +CUSD, RING…). */
  readonly always: readonly string[];
  /** Prefixes that are URCs unless the running command asks for them (+CREG while AT+CREG?). */
  readonly unlessAsked: readonly string[];
  /** Prefixes whose URC has a second line (+CMT, +CDS in PDU mode). */
  readonly twoLine: readonly string[];
  /** Whole lines that are URCs only while no command runs (NO CARRIER ends a call then). */
  readonly idleOnly: readonly string[];
}

/** Options of {@link AtEngine}. */
export interface EngineOptions {
  /** Writes text to the modem. */
  write(text: string): void | Promise<void>;
  /** Called for every URC, in arrival order. */
  onUrc(urc: Urc): void;
  /** URC recognition table. */
  readonly urcs: UrcTable;
  /** Default command timeout, ms (default 5000). */
  readonly timeoutMs?: number;
}

/** Counters, for STATUS and the bench. */
export interface EngineStats {
  /** Commands answered (any final). */
  commands: number;
  /** Commands that timed out. */
  timeouts: number;
  /** URCs seen. */
  urcs: number;
  /** Lines that were neither a response, an echo nor a URC (dropped). */
  garbage: number;
}

/** A queued command and its promise. */
export interface Pending {
  /** The command line (without CR). */
  readonly cmd: string;
  /** Its options. */
  readonly opts: CommandOptions;
  /** Settles the caller's promise with the answer. */
  readonly resolve: (r: AtResult) => void;
  /** Settles the caller's promise with the error. */
  readonly reject: (e: MyClerkError) => void;
}

/** Longest line kept; a modem spewing without line ends cannot grow memory. */
const MAX_LINE = 8192;
/** Most commands waiting behind the running one. */
const MAX_QUEUE = 256;
/**
 * After a timeout the modem may still answer the abandoned command; the line
 * is left quiet this long (stray answers dropped as garbage) so the late
 * answer is not taken for the next command's.
 */
export const QUIET_AFTER_TIMEOUT_MS = 500;

/** The response prefix a command asks for: `AT+CREG?` -> `+CREG:`, `ATI` -> undefined. */
export function responsePrefix(cmd: string): string | undefined {
  const m = /^AT([+$^][A-Z0-9]+)/i.exec(cmd);
  return m === null ? undefined : `${m[1].toUpperCase()}:`;
}

/** The AT engine (see the module comment). */
export class AtEngine {
  private buf = "";
  private readonly queue: Pending[] = [];
  private current?: Pending & { lines: string[]; prefix?: string; prompted: boolean };
  private timer?: ReturnType<typeof setTimeout>;
  private urcHead?: string;
  private quietUntil = 0;
  private quietTimer?: ReturnType<typeof setTimeout>;
  private urcTable: UrcTable;
  private timeoutMs: number;
  /** Counters since start. */
  readonly stats: EngineStats = { commands: 0, timeouts: 0, urcs: 0, garbage: 0 };

  /** An engine writing through `o.write`. */
  constructor(private readonly o: EngineOptions) {
    this.urcTable = o.urcs;
    this.timeoutMs = o.timeoutMs ?? 5000;
  }

  /** Changes the default command timeout (INIT `commandTimeoutMs`). */
  setTimeoutMs(ms: number): void {
    this.timeoutMs = ms;
  }

  /** Replaces the URC table (after the dialect is known). */
  setUrcs(t: UrcTable): void {
    this.urcTable = t;
  }

  /** True while a command runs or waits. */
  get busy(): boolean {
    return this.current !== undefined || this.queue.length > 0;
  }

  /** Queues a command; resolves with its lines, rejects with the mapped error (codes.ts). */
  command(cmd: string, opts: CommandOptions = {}): Promise<AtResult> {
    if (this.queue.length >= MAX_QUEUE) {
      return Promise.reject(new MyClerkError(ErrorCode.RATE_LIMITED, "at-queue-full"));
    }
    return new Promise<AtResult>((resolve, reject) => {
      this.queue.push({ cmd, opts, resolve, reject });
      this.next();
    });
  }

  /** Rejects the running and every queued command (port lost, plugin closing). */
  abortAll(err: MyClerkError): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.quietTimer !== undefined) clearTimeout(this.quietTimer);
    this.quietTimer = undefined;
    this.quietUntil = 0;
    const all = [...(this.current ? [this.current] : []), ...this.queue.splice(0)];
    this.current = undefined;
    this.buf = "";
    this.urcHead = undefined;
    for (const p of all) p.reject(err);
  }

  /** Bytes from the modem (any chunking). Never throws. */
  feed(bytes: Uint8Array): void {
    // Latin-1: every byte is one character, so no input can fail to decode.
    let s = "";
    for (let i = 0; i < bytes.length; i++) s += String.fromCharCode(bytes[i]);
    this.feedText(s);
  }

  /** Text from the modem (any chunking). Never throws. */
  feedText(s: string): void {
    for (const ch of s) {
      if (ch === "\r" || ch === "\n") {
        const line = this.buf.trim();
        this.buf = "";
        if (line !== "") this.line(line);
        continue;
      }
      if (this.buf.length < MAX_LINE) this.buf += ch;
      // The CMGS prompt has no line end: "\r\n> ".
      if (this.buf === "> " || (this.buf === ">" && this.current?.opts.pdu !== undefined)) {
        this.prompt();
      }
    }
  }

  /** Answers the `> ` prompt with the pending PDU and Ctrl-Z. */
  private prompt(): void {
    const c = this.current;
    if (c === undefined || c.opts.pdu === undefined || c.prompted) return;
    this.buf = "";
    c.prompted = true;
    void Promise.resolve(this.o.write(`${c.opts.pdu}\x1a`)).catch(() => {});
  }

  /** Puts the next queued command on the line when the line is free. */
  private next(): void {
    if (this.current !== undefined || this.quietTimer !== undefined) return;
    const wait = this.quietUntil - performance.now();
    if (wait > 0 && this.queue.length > 0) {
      this.quietTimer = setTimeout(() => {
        this.quietTimer = undefined;
        this.next();
      }, wait);
      return;
    }
    const p = this.queue.shift();
    if (p === undefined) return;
    this.current = { ...p, lines: [], prefix: responsePrefix(p.cmd), prompted: false };
    const ms = p.opts.timeoutMs ?? this.timeoutMs;
    this.timer = setTimeout(() => this.timedOut(), ms);
    void Promise.resolve(this.o.write(`${p.cmd}\r`)).catch((e) =>
      this.finish(
        undefined,
        e instanceof MyClerkError
          ? e
          : new MyClerkError(ErrorCode.SERVICE_UNAVAILABLE, "write-failed", { error: String(e) }),
      )
    );
  }

  /** Fails the running command with TIMEOUT (and cancels a pending prompt). */
  private timedOut(): void {
    const c = this.current;
    if (c === undefined) return;
    this.stats.timeouts++;
    this.quietUntil = performance.now() + QUIET_AFTER_TIMEOUT_MS;
    // A prompt that never came back: ESC cancels the pending message (27.005 §3.5.1).
    if (c.opts.pdu !== undefined) void Promise.resolve(this.o.write("\x1b")).catch(() => {});
    this.finish(
      undefined,
      new MyClerkError(ErrorCode.TIMEOUT, "at-timeout", {
        command: c.cmd,
        ms: c.opts.timeoutMs ?? this.timeoutMs,
      }),
    );
  }

  /** Ends the running command with its final line or error, then starts the next. */
  private finish(final: string | undefined, err?: MyClerkError): void {
    const c = this.current;
    if (c === undefined) return;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    this.current = undefined;
    this.stats.commands++;
    if (err !== undefined) c.reject(err);
    else c.resolve({ lines: c.lines, final: final! });
    this.next();
  }

  /** Whether `line` is unsolicited, given what the running command asks for. */
  private isUrc(line: string): boolean {
    const t = this.urcTable;
    const c = this.current;
    if (t.always.some((p) => line.startsWith(p))) return true;
    if (t.unlessAsked.some((p) => line.startsWith(p))) {
      return c === undefined || c.prefix === undefined || !line.startsWith(c.prefix);
    }
    if (c === undefined && t.idleOnly.includes(line)) return true;
    return false;
  }

  /** Routes one complete line: URC body, URC, echo, final result or answer line. */
  private line(line: string): void {
    if (this.urcHead !== undefined) {
      const head = this.urcHead;
      this.urcHead = undefined;
      this.emit({ line: head, body: line });
      return;
    }
    const c = this.current;
    if (this.isUrc(line)) {
      const t = this.urcTable;
      // "+CDS: 25" (PDU mode) has a body line; text-mode "+CDS: 6,46,..." has none.
      const two = t.twoLine.some((p) => line.startsWith(p)) &&
        (!line.startsWith("+CDS:") || /^\+CDS:\s*\d+$/.test(line));
      if (two) this.urcHead = line;
      else this.emit({ line });
      return;
    }
    if (c === undefined) {
      this.stats.garbage++;
      return;
    }
    // Echo (ATE1, or before ATE0 took effect), including an echoed PDU line.
    if (line === c.cmd || (c.opts.pdu !== undefined && line.includes(c.opts.pdu))) return;
    if (isFinal(line)) {
      if (FINAL_OK.has(line)) this.finish(line);
      else this.finish(undefined, finalError(line, c.cmd));
      return;
    }
    if (c.lines.length < 4096) c.lines.push(line);
  }

  /** Counts and hands a URC to the owner; its exceptions stay there. */
  private emit(u: Urc): void {
    this.stats.urcs++;
    try {
      this.o.onUrc(u);
    } catch { /* a URC handler's bug must not stop the line discipline */ }
  }
}
