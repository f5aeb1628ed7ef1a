/**
 * TAN/OTP announce, claim and expiry (pure apart from the clock it is
 * given). A TAN is announced to the members allowed to see it **without its
 * code** (a masked preview); the first member to claim it gets the code,
 * every other recipient is told who claimed it; an unclaimed TAN expires
 * at the end of its validity (the code's own, else the default) and every
 * recipient is told. A claimed or expired TAN cannot be claimed again.
 *
 * @module
 */

/** One announced TAN. */
export interface Tan {
  /** TAN id (`t-…`). */
  readonly id: string;
  /** Inbox id of the SMS. */
  readonly inboxId: string;
  /** The code (only given to the claimer). */
  readonly code: string;
  /** Sender of the SMS (the service). */
  readonly from: string;
  /** The SMS text with the code masked. */
  readonly masked: string;
  /** The full text (only given to the claimer). */
  readonly text: string;
  /** Validity stated in the SMS (s), null when none. */
  readonly validitySec: number | null;
  /** Announce time (ms). */
  readonly createdAt: number;
  /** Expiry time (ms). */
  readonly expiresAt: number;
  /** Member ids it was announced to. */
  readonly recipients: readonly string[];
  /** State. */
  state: "open" | "claimed" | "expired";
  /** Who claimed it. */
  claimedBy?: string;
  /** When. */
  claimedAt?: number;
}

/** What the board tells the plugin to push. */
export type TanNotice =
  | { readonly kind: "announce"; readonly tan: Tan; readonly to: readonly string[] }
  | { readonly kind: "claimed"; readonly tan: Tan; readonly to: readonly string[] }
  | { readonly kind: "expired"; readonly tan: Tan; readonly to: readonly string[] };

/** Why a claim failed. */
export type ClaimError = "not-found" | "not-allowed" | "already-claimed" | "expired";

/** TTL settings. */
export interface TanOptions {
  /** TTL when the SMS states no validity (default 300 s). */
  readonly defaultTtlSec: number;
  /** Longest TTL, whatever the SMS says (default 900 s). */
  readonly maxTtlSec: number;
  /** Shortest TTL (default 30 s). */
  readonly minTtlSec: number;
}

/** Default TTL settings. */
export const TAN_DEFAULTS: TanOptions = { defaultTtlSec: 300, maxTtlSec: 900, minTtlSec: 30 };

/** Masks every occurrence of `code` (also with `-`/space separators) in `text`. */
export function maskCode(text: string, code: string): string {
  if (code.length === 0) return text;
  const pat = code.split("").map((c) => c.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")).join("[- ]?");
  return text.replace(new RegExp(pat, "gi"), "•".repeat(code.length));
}

/** The open, claimed and expired TANs and their rules. */
export class TanBoard {
  private readonly tans = new Map<string, Tan>();
  private seq = 0;

  /** `notify` receives every announce/claim/expiry; `now` is the clock (ms). */
  constructor(
    private readonly notify: (n: TanNotice) => void,
    private readonly opts: TanOptions = TAN_DEFAULTS,
    private readonly now: () => number = Date.now,
  ) {}

  /** Announces a TAN to `recipients` (nothing is announced to nobody). */
  announce(
    a: {
      inboxId: string;
      code: string;
      from: string;
      text: string;
      validitySec: number | null;
      /** When the SMS arrived (ms; default now): the TTL runs from there (re-announce after a restart). */
      receivedAt?: number;
    },
    recipients: readonly string[],
  ): Tan {
    const t0 = a.receivedAt ?? this.now();
    const ttl = Math.min(
      this.opts.maxTtlSec,
      Math.max(this.opts.minTtlSec, a.validitySec ?? this.opts.defaultTtlSec),
    );
    const tan: Tan = {
      id: `t-${++this.seq}`,
      inboxId: a.inboxId,
      code: a.code,
      from: a.from,
      masked: maskCode(a.text, a.code),
      text: a.text,
      validitySec: a.validitySec,
      createdAt: t0,
      expiresAt: t0 + ttl * 1000,
      recipients: [...recipients],
      state: "open",
    };
    this.tans.set(tan.id, tan);
    if (tan.expiresAt <= this.now()) {
      tan.state = "expired"; // arrived long ago (a restart): never announced
      return tan;
    }
    if (recipients.length > 0) this.notify({ kind: "announce", tan, to: tan.recipients });
    return tan;
  }

  /** First claim wins; the other recipients are told. */
  claim(
    id: string,
    member: string,
  ): { ok: true; tan: Tan } | { ok: false; error: ClaimError; tan?: Tan } {
    this.sweep();
    const tan = this.tans.get(id);
    if (tan === undefined) return { ok: false, error: "not-found" };
    if (!tan.recipients.includes(member)) return { ok: false, error: "not-allowed" };
    if (tan.state === "claimed") return { ok: false, error: "already-claimed", tan };
    if (tan.state === "expired") return { ok: false, error: "expired", tan };
    tan.state = "claimed";
    tan.claimedBy = member;
    tan.claimedAt = this.now();
    this.notify({ kind: "claimed", tan, to: tan.recipients.filter((m) => m !== member) });
    return { ok: true, tan };
  }

  /** Expires every open TAN past its time (returns how many). */
  sweep(): number {
    const t = this.now();
    let n = 0;
    for (const tan of this.tans.values()) {
      if (tan.state === "open" && t >= tan.expiresAt) {
        tan.state = "expired";
        n++;
        this.notify({ kind: "expired", tan, to: tan.recipients });
      }
    }
    // Forget finished TANs an hour after their expiry.
    for (const [id, tan] of this.tans) {
      if (tan.state !== "open" && t - tan.expiresAt > 3_600_000) this.tans.delete(id);
    }
    return n;
  }

  /** Ends an open TAN early (a recipient says it is used, or an operator clears it). */
  expireNow(id: string, member?: string): Tan | undefined {
    const tan = this.tans.get(id);
    if (tan === undefined || tan.state !== "open") return undefined;
    if (member !== undefined && !tan.recipients.includes(member)) return undefined;
    tan.state = "expired";
    this.notify({ kind: "expired", tan, to: tan.recipients });
    return tan;
  }

  /** A TAN by id. */
  get(id: string): Tan | undefined {
    return this.tans.get(id);
  }

  /** Open TANs `member` may claim. */
  openFor(member: string): Tan[] {
    this.sweep();
    return [...this.tans.values()].filter((t) =>
      t.state === "open" && t.recipients.includes(member)
    );
  }

  /** Number of open TANs. */
  get openCount(): number {
    return [...this.tans.values()].filter((t) => t.state === "open").length;
  }
}
