/**
 * The gateway's durable state in its data directory: outbox, inbox and
 * routing rules. Every change is one JSON line appended to `journal.log`
 * and fsync'ed before the change is acknowledged; on open the snapshot
 * (`state.json`) is read and the journal replayed. Compaction writes a new
 * snapshot to a temporary file, fsyncs it, renames it over the old one and
 * then truncates the journal, so a crash at any point leaves either the old
 * or the new snapshot plus a journal that replays to the same state. A torn
 * last line (power cut in the middle of a write) is skipped and counted.
 *
 * Only Deno file APIs inside the granted `$DATA` (no sqlite: a vendor plugin
 * gets no FFI and no node:sqlite).
 *
 * @module
 */
import type { Extraction, SmsClass } from "./classify/classify.ts";
import type { RouteRule } from "./routing.ts";

/** Outgoing message states. */
export type OutStatus = "draft" | "queued" | "sent" | "delivered" | "failed";

/** One outgoing message. */
export interface OutMsg {
  /** Gateway id (`o-…`). */
  readonly id: string;
  /** Recipient number. */
  readonly to: string;
  /** Text. */
  readonly text: string;
  /** Ask the network for a delivery report. */
  readonly report: boolean;
  /** State. */
  status: OutStatus;
  /** Key id of the creator (0 = the gateway itself). */
  readonly owner: number;
  /** Why it was created: `client`, `command-reply`, `alert`. */
  readonly purpose: string;
  /** Creation time (ms since epoch). */
  readonly created: number;
  /** Send attempts so far. */
  attempts: number;
  /** TP-MR references of the sent parts (from the modem). */
  refs: number[];
  /** References with a final delivery report, and whether each was delivered. */
  reports: Record<string, boolean>;
  /** Last error text. */
  error?: string;
  /** Last change (ms since epoch). */
  updated: number;
}

/** One received message. */
export interface InMsg {
  /** Gateway id (`i-…`). */
  readonly id: string;
  /** Sender. */
  readonly from: string;
  /** Text (multipart already joined by the modem plugin). */
  readonly text: string;
  /** Modem timestamp (ISO), or the receive time. */
  readonly timestamp: string;
  /** When the gateway stored it (ms). */
  readonly received: number;
  /** Class. */
  readonly cls: SmsClass;
  /** Extracted fields. */
  readonly extracted: Extraction;
  /** Member ids it was routed to. */
  readonly routedTo: readonly string[];
  /** Held back (spam, or no recipient). */
  readonly held: boolean;
  /** TAN: who claimed it, if anyone. */
  claimedBy?: string;
}

/** One journal record. */
export type JournalRec =
  | { readonly t: "out"; readonly m: OutMsg }
  | { readonly t: "in"; readonly m: InMsg }
  | { readonly t: "del"; readonly id: string }
  | { readonly t: "route+"; readonly r: RouteRule }
  | { readonly t: "route-"; readonly id: string }
  | { readonly t: "seq"; readonly n: number };

interface Snapshot {
  readonly v: 1;
  readonly seq: number;
  readonly out: OutMsg[];
  readonly in: InMsg[];
  readonly routes: RouteRule[];
}

/** Journal lines after which the store compacts itself. */
export const COMPACT_AFTER = 500;

/** Durable outbox, inbox and rules. */
export class Store {
  /** Outgoing messages by id. */
  readonly outbox = new Map<string, OutMsg>();
  /** Received messages by id. */
  readonly inbox = new Map<string, InMsg>();
  /** Routing rules by id. */
  readonly routes = new Map<string, RouteRule>();
  /** Torn or unreadable journal lines skipped on open. */
  skipped = 0;
  private seq = 0;
  private lines = 0;
  private file: Deno.FsFile | undefined;
  private chain: Promise<void> = Promise.resolve();

  private constructor(private readonly dir: string) {}

  /** Opens (or creates) the store in `dir`: snapshot, then journal replay. */
  static async open(dir: string): Promise<Store> {
    const s = new Store(dir);
    await Deno.mkdir(dir, { recursive: true });
    try {
      const snap = JSON.parse(await Deno.readTextFile(`${dir}/state.json`)) as Snapshot;
      s.seq = snap.seq;
      for (const m of snap.out) s.outbox.set(m.id, m);
      for (const m of snap.in) s.inbox.set(m.id, m);
      for (const r of snap.routes) s.routes.set(r.id, r);
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) s.skipped++;
    }
    let text = "";
    try {
      text = await Deno.readTextFile(`${dir}/journal.log`);
    } catch { /* no journal yet */ }
    for (const line of text.split("\n")) {
      if (line === "") continue;
      try {
        s.apply(JSON.parse(line) as JournalRec);
        s.lines++;
      } catch {
        s.skipped++; // torn last line after a crash mid-write
      }
    }
    s.file = await Deno.open(`${dir}/journal.log`, { create: true, append: true });
    return s;
  }

  /** A new id with a prefix; the counter is journaled with the record that uses it. */
  nextId(prefix: "o" | "i" | "r"): string {
    this.seq++;
    return `${prefix}-${this.seq}`;
  }

  /** Applies one record to the maps (replay and commit). */
  private apply(r: JournalRec): void {
    switch (r.t) {
      case "out":
        this.outbox.set(r.m.id, r.m);
        this.bump(r.m.id);
        break;
      case "in":
        this.inbox.set(r.m.id, r.m);
        this.bump(r.m.id);
        break;
      case "del":
        this.outbox.delete(r.id);
        this.inbox.delete(r.id);
        break;
      case "route+":
        this.routes.set(r.r.id, r.r);
        this.bump(r.r.id);
        break;
      case "route-":
        this.routes.delete(r.id);
        break;
      case "seq":
        this.seq = Math.max(this.seq, r.n);
        break;
    }
  }

  /** Keeps the id counter above every id seen. */
  private bump(id: string): void {
    const n = Number(id.slice(2));
    if (Number.isInteger(n)) this.seq = Math.max(this.seq, n);
  }

  /**
   * Applies `r` and makes it durable: resolves after the line is written and
   * fsync'ed. Writes are serialised (one line at a time, in call order).
   */
  commit(r: JournalRec): Promise<void> {
    this.apply(r);
    const line = new TextEncoder().encode(JSON.stringify(r) + "\n");
    const next = this.chain.then(async () => {
      const f = this.file;
      if (f === undefined) throw new Error("store closed");
      let off = 0;
      while (off < line.length) off += await f.write(line.subarray(off));
      await f.sync();
      this.lines++;
      if (this.lines >= COMPACT_AFTER) await this.compactNow();
    });
    this.chain = next.catch(() => {});
    return next;
  }

  /** Writes a snapshot (tmp + fsync + rename) and truncates the journal. */
  compact(): Promise<void> {
    const next = this.chain.then(() => this.compactNow());
    this.chain = next.catch(() => {});
    return next;
  }

  /** Snapshot + truncate, on the write chain. */
  private async compactNow(): Promise<void> {
    const snap: Snapshot = {
      v: 1,
      seq: this.seq,
      out: [...this.outbox.values()],
      in: [...this.inbox.values()],
      routes: [...this.routes.values()],
    };
    const tmp = `${this.dir}/state.json.tmp`;
    const f = await Deno.open(tmp, { create: true, write: true, truncate: true });
    try {
      await f.write(new TextEncoder().encode(JSON.stringify(snap)));
      await f.sync();
    } finally {
      f.close();
    }
    await Deno.rename(tmp, `${this.dir}/state.json`);
    // The snapshot holds everything now: start an empty journal.
    this.file?.close();
    this.file = await Deno.open(`${this.dir}/journal.log`, {
      create: true,
      write: true,
      truncate: true,
    });
    this.file.close();
    this.file = await Deno.open(`${this.dir}/journal.log`, { create: true, append: true });
    this.lines = 0;
  }

  /** Waits for pending writes and closes the journal. */
  async close(): Promise<void> {
    await this.chain;
    this.file?.close();
    this.file = undefined;
  }
}
