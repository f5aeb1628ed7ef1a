/**
 * Voice call state from the modem's URCs (RING, +CLIP, +CLCC, NO CARRIER,
 * BUSY, NO ANSWER) and from our own ATD/ATA/hang-up, reduced to one state
 * per call and reported only on change (the `call` events, docs §14.2).
 *
 * @module
 */
import { params } from "./at/parse.ts";

/** Call states of the `call` event. */
export type CallState =
  | "incoming"
  | "dialing"
  | "alerting"
  | "active"
  | "held"
  | "waiting"
  | "ended";

/** A `call` event payload. */
export interface CallEvent {
  /** Discriminator. */
  readonly kind: "call";
  /** New state. */
  readonly state: CallState;
  /** Remote number, when known. */
  readonly number?: string;
  /** `in` or `out`. */
  readonly direction?: "in" | "out";
  /** Why it ended. */
  readonly reason?: string;
}

/** +CLCC `<stat>` (27.007 §7.18) -> state; 6 (SIM800 "disconnect") ends the call. */
const CLCC_STATE: readonly CallState[] = [
  "active",
  "held",
  "dialing",
  "alerting",
  "incoming",
  "waiting",
  "ended",
];

/** Tracks the (single) voice call. */
export class CallTracker {
  private state: CallState = "ended";
  private number?: string;
  private direction?: "in" | "out";

  /** Reports every change through `emit`. */
  constructor(private readonly emit: (e: CallEvent) => void) {}

  /** Current state. */
  get current(): CallState {
    return this.state;
  }

  /** True while a call rings in. */
  get ringing(): boolean {
    return this.state === "incoming" || this.state === "waiting";
  }

  /** Caller / callee of the current call. */
  get remote(): string | undefined {
    return this.number;
  }

  private endReason?: string;

  /** While our own hang-up runs, an end the modem reports is ours (`undefined` clears it). */
  endingBecause(reason: string | undefined): void {
    this.endReason = reason;
  }

  /** Sets a state (no event when unchanged, unless the number became known). */
  set(
    state: CallState,
    extra: { number?: string; direction?: "in" | "out"; reason?: string } = {},
  ): void {
    const newNumber = extra.number !== undefined && extra.number !== this.number;
    if (state === this.state && !newNumber) return;
    if (this.state === "ended" && state === "ended") return;
    if (state === "ended" && this.endReason !== undefined) {
      extra = { ...extra, reason: this.endReason };
    }
    if (extra.number !== undefined) this.number = extra.number;
    if (extra.direction !== undefined) this.direction = extra.direction;
    this.state = state;
    this.emit({
      kind: "call",
      state,
      ...(this.number !== undefined ? { number: this.number } : {}),
      ...(this.direction !== undefined ? { direction: this.direction } : {}),
      ...(extra.reason !== undefined ? { reason: extra.reason } : {}),
    });
    if (state === "ended") {
      this.number = undefined;
      this.direction = undefined;
    }
  }

  /** Feeds a URC line; returns true when it was a call URC. */
  urc(line: string): boolean {
    if (line === "RING" || line.startsWith("+CRING:")) {
      if (this.state === "ended") this.set("incoming", { direction: "in" });
      return true;
    }
    if (line.startsWith("+CLIP:")) {
      const p = params(line, "+CLIP:");
      const n = p !== undefined && typeof p[0] === "string" && p[0] !== "" ? p[0] : undefined;
      if (this.state === "ended" || this.state === "incoming") {
        this.set("incoming", { direction: "in", ...(n !== undefined ? { number: n } : {}) });
      }
      return true;
    }
    if (line.startsWith("+CLCC:")) {
      const p = params(line, "+CLCC:");
      if (p === undefined || typeof p[2] !== "number") return true;
      const st = CLCC_STATE[p[2]];
      if (st === undefined) return true;
      const number = typeof p[5] === "string" && p[5] !== "" ? p[5] : undefined;
      this.set(st, {
        direction: p[1] === 1 ? "in" : "out",
        ...(number !== undefined ? { number } : {}),
        ...(st === "ended" ? { reason: "NO CARRIER" } : {}),
      });
      return true;
    }
    if (line === "NO CARRIER" || line === "BUSY" || line === "NO ANSWER") {
      this.set("ended", { reason: line });
      return true;
    }
    return false;
  }
}
