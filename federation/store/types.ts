/**
 * The store seam (docs/FEDERATION.md §6): what the relay and the hub need
 * from a store, as asynchronous interfaces, so that SQLite (`node:sqlite`,
 * the default), Deno KV (the edge relay) or a store running on its own
 * thread can sit behind them without the relay or hub knowing which.
 *
 * The data types here are the one home of the queue's shapes; the SQLite
 * and KV implementations import them.
 *
 * ## Durability contract (every implementation)
 * - A mutating call resolves after its change is committed: visible to every
 *   later read of the same store.
 * - {@link RelayStore.enqueueBatch} resolves with the results at commit and
 *   gives a separate `durable` promise that resolves only once the batch
 *   survives power loss (SQLite: WAL fdatasync + manifest mark; KV: the
 *   atomic commit). The relay sends "stored" acks only after `durable`.
 * - Calls are applied in the order they were made (an ack made after an
 *   enqueue never runs before it), even where an implementation coalesces
 *   several calls into one transaction.
 *
 * @module
 */

import type { CryptoBackend } from "../../core/crypto/types.ts";
import type { MyClerkError } from "../../core/errors.ts";
import type { FamilyId, FamilyRecord } from "../family.ts";
import type { Invite } from "../invite.ts";

/** A per-family quota on queued messages and bytes. */
export interface Quota {
  /** Most messages queued for the family at once (mailbox and peer lanes). */
  readonly messages: number;
  /** Most sealed bytes queued for the family at once (mailbox and peer lanes). */
  readonly bytes: number;
}

/** Default quota of a trusted family: 100,000 messages, 1 GiB. */
export const DEFAULT_QUOTA: Quota = { messages: 100_000, bytes: 1 << 30 };

/** What a relay enqueues: the FED_DELIVER fields. */
export interface QueueInput {
  /** Recipient family id. */
  readonly to: FamilyId;
  /** Sender family id. */
  readonly from: FamilyId;
  /** Sender family public key, 32 bytes. */
  readonly fromKey: Uint8Array;
  /** Message id, 16 bytes; dedupe key with `to`. */
  readonly mid: Uint8Array;
  /** Lifetime in seconds (the store cuts it to its max TTL). */
  readonly ttl: number;
  /** Relays crossed so far (0..8). */
  readonly hops: number;
  /** The Tier 5-form envelope; its length is the message size for quotas. */
  readonly sealed: Uint8Array;
  /**
   * Latest expiry, Unix seconds (the envelope's own `ts + ttl` plus the
   * clock-skew grace, FEDERATION.md §6.2): the stored expiry is the earlier
   * of this and `received + min(ttl, max-ttl)`.
   */
  readonly expiresBy?: number;
}

/** A queued message as fetched. */
export interface QueuedMessage extends QueueInput {
  /** Store sequence: fetch cursors move past it (increasing in enqueue order). */
  readonly seq: number;
  /** Receive time at this relay, Unix seconds. */
  readonly received: number;
  /** Expiry, Unix seconds. */
  readonly expires: number;
}

/** Result of an enqueue: stored now, or already known (same recipient and mid within the window). */
export type EnqueueResult =
  | { readonly status: "stored"; readonly seq: number }
  | { readonly status: "duplicate" };

/** Where a message waits: a family's mailbox here, or the outbound queue to a peer relay. */
export type Lane =
  | { readonly kind: "mailbox" }
  | { readonly kind: "peer"; readonly peer: number };

/** One item of a group commit. */
export interface EnqueueItem {
  /** The lane it goes to. */
  readonly lane: Lane;
  /** The message. */
  readonly message: QueueInput;
  /**
   * Already pushed to the recipient's session (the relay's handoff,
   * docs/FEDERATION.md §6.5): stored without the quota check, so that a
   * message the recipient may already have is never refused to its sender.
   * Still deduplicated and counted in the quota use.
   */
  readonly inFlight?: boolean;
}

/**
 * A committed group: per-item results (a quota error is that item's value,
 * FED_QUOTA_EXCEEDED with `extra = {quota, used, limit, family}`; it does not
 * roll back the others), and when the group is durable.
 */
export interface EnqueueBatch {
  /** Per-item results, in item order. */
  readonly results: readonly (EnqueueResult | MyClerkError)[];
  /** Resolves once every stored item survives power loss; rejects on a sync failure. */
  readonly durable: Promise<void>;
}

/** An expired message (for FED_EXPIRED to its sender). */
export interface ExpiredMessage {
  /** Recipient family id. */
  readonly to: FamilyId;
  /** Sender family id (the family to notify). */
  readonly from: FamilyId;
  /** Message id, 16 bytes. */
  readonly mid: Uint8Array;
  /** Size of the sealed envelope, bytes. */
  readonly size: number;
  /** When it expired (its expiry time). */
  readonly expired: number;
}

/** Queue depth of one mailbox or peer queue. */
export interface QueueStatus {
  /** Messages waiting. */
  readonly depth: number;
  /** Bytes waiting (sum of sealed sizes). */
  readonly bytes: number;
  /** Receive time of the oldest message, 0 when empty. */
  readonly oldest: number;
}

/** A family as stored. */
export interface StoredFamily {
  /** The verified family record. */
  readonly record: FamilyRecord;
  /** True when homed at this relay (its hub was admitted here). */
  readonly local: boolean;
  /** The family's quota (its own, or the default). */
  readonly quota: Quota;
  /** Admission time, Unix seconds. */
  readonly admitted: number;
}

/** Quota use of one family. */
export interface Usage {
  /** Messages queued (all lanes). */
  readonly messages: number;
  /** Sealed bytes queued (all lanes). */
  readonly bytes: number;
  /** The family's quota. */
  readonly quota: Quota;
}

/** Numbers for `/metrics`, `queue list` and `status`. */
export interface StoreStats {
  /** Family records stored (homed here or learned). */
  readonly families: number;
  /** Families homed at this relay. */
  readonly localFamilies: number;
  /** Messages queued, all lanes. */
  readonly queuedMessages: number;
  /** Sealed bytes queued, all lanes. */
  readonly queuedBytes: number;
  /** Per-recipient mailbox status (non-empty mailboxes only), by family id. */
  readonly mailboxes: readonly ({ readonly family: FamilyId } & QueueStatus)[];
  /** Per-peer outbound queue status (non-empty only), by peer relay key id. */
  readonly peers: readonly ({ readonly peer: number } & QueueStatus)[];
  /** Invite tokens created and not yet redeemed (expired ones included). */
  readonly invitesOpen: number;
  /** Mids the relay dedupes now: SQLite, `seen` rows plus queued messages (each its own record). */
  readonly dedupeEntries: number;
  /** Expiry notices waiting for the sender's hub. */
  readonly pendingNotices: number;
}

/** A fetched window of a mailbox: rows, and whether the byte budget cut it short. */
export interface FetchWindow {
  /** Rows in order. */
  readonly rows: readonly QueuedMessage[];
  /** True when more rows were waiting past the byte budget. */
  readonly cut: boolean;
}

/**
 * The relay's store. Implementations: `federation/store/sqlite_relay.ts`
 * (`node:sqlite`), `federation/store/kv_relay.ts` (Deno KV, edge relay).
 *
 * @example
 * ```ts
 * const b = await store.enqueueBatch([{ lane: { kind: "mailbox" }, message }], now);
 * pushToOnlineHubs(b.results);
 * await b.durable; // only now: FED_ACK "stored"
 * ```
 */
export interface RelayStore {
  /** Short name for logs and `status` (`"sqlite"`, `"kv"`). */
  readonly kind: string;

  // ---- families and invites
  /** Adds or replaces a family record; `local` marks a family homed here. Durable on return. */
  putFamily(rec: FamilyRecord, local: boolean, now: number, quota?: Quota): Promise<void>;
  /** A family by id. */
  getFamily(be: CryptoBackend, id: FamilyId): Promise<StoredFamily | undefined>;
  /** All families (homed here and learned). */
  listFamilies(be: CryptoBackend): Promise<readonly StoredFamily[]>;
  /** Stores a single-use invite. */
  addInvite(inv: Invite, now: number): Promise<void>;
  /**
   * Redeems invite `tokenId` for `family`: rejects with FED_ADMISSION_DENIED
   * `token-unknown`, `token-used` or `token-expired`, as the SQLite store does.
   */
  redeemInvite(tokenId: Uint8Array, family: FamilyId, now: number): Promise<void>;
  /** Quota of families without their own. */
  setDefaultQuota(q: Quota): void;
  /** Longest TTL honoured, seconds. */
  setMaxTtl(seconds: number): void;

  // ---- queues
  /** Group commit of many messages (see {@link EnqueueBatch}). */
  enqueueBatch(items: readonly EnqueueItem[], now: number): Promise<EnqueueBatch>;
  /**
   * A family's mailbox after cursor `after` (0 = from the start), at most
   * `limit` rows and `maxBytes` sealed bytes (always one row when any waits).
   */
  fetchWindow(
    family: FamilyId,
    after: number,
    limit: number,
    maxBytes: number,
  ): Promise<FetchWindow>;
  /** A peer relay's outbound queue after `after`, bounded like {@link fetchWindow}. */
  fetchPeer(
    peer: number,
    after: number,
    limit: number,
    maxBytes: number,
  ): Promise<readonly QueuedMessage[]>;
  /**
   * Removes delivered messages of `family`'s mailbox (or a peer lane) by mid;
   * the number removed. `durable: false` lets the implementation skip or
   * coalesce the sync (a lost delete only re-delivers, which the recipient's
   * dedupe absorbs).
   */
  ack(
    lane: Lane,
    family: FamilyId,
    mids: readonly Uint8Array[],
    o?: { readonly durable?: boolean },
  ): Promise<number>;
  /** Removes messages a peer relay acked "stored" (`items` pairs recipient and mid). */
  ackPeer(
    peer: number,
    items: readonly { readonly to: FamilyId; readonly mid: Uint8Array }[],
  ): Promise<number>;
  /** Depth of a family's mailbox or of a peer queue. */
  queueStatus(lane: Lane, family?: FamilyId): Promise<QueueStatus>;
  /** Quota use of a family. */
  usage(family: FamilyId): Promise<Usage>;

  // ---- expiry and notices
  /** Removes expired messages (at most `limit`) and records notices for their senders. */
  sweep(now: number, limit?: number): Promise<readonly ExpiredMessage[]>;
  /** Notices waiting for sender family `sender`, oldest first. */
  pendingNotices(sender: FamilyId, limit?: number): Promise<readonly ExpiredMessage[]>;
  /** Sender families with notices waiting. */
  noticeSenders(limit?: number): Promise<readonly FamilyId[]>;
  /** Records notices a peer relay forwarded for a family homed here. */
  addNotices(
    sender: FamilyId,
    to: FamilyId,
    mids: readonly Uint8Array[],
    now: number,
  ): Promise<void>;
  /** Drops notices once the sender's hub got them. */
  clearNotices(sender: FamilyId, mids: readonly Uint8Array[]): Promise<void>;

  // ---- operator
  /** Everything `/metrics`, `queue list` and `status` show. */
  stats(): Promise<StoreStats>;
  /** Flushes pending work and closes. Idempotent. */
  close(): Promise<void>;
}

/** Outbox states: waiting for "stored", stored, expired undelivered, refused by a relay. */
export type OutboxState = "pending" | "stored" | "expired" | "refused";

/** One outbox row. */
export interface OutboxRow {
  /** Outbox sequence (send order). */
  readonly seq: number;
  /** Message id, 16 bytes. */
  readonly mid: Uint8Array;
  /** Recipient family id. */
  readonly to: FamilyId;
  /** The encoded FED_DELIVER payload, resent as is. */
  readonly deliver: Uint8Array;
  /** Size of the sealed envelope, bytes. */
  readonly size: number;
  /** When it was queued, Unix seconds. */
  readonly created: number;
  /** Where the message stands. */
  readonly state: OutboxState;
  /** Refused: the relay's error; expired: `to <recipient family id>`. */
  readonly detail?: string;
}

/** One inbox row (an opened message for the application). */
export interface InboxRow {
  /** Inbox sequence (arrival order). */
  readonly seq: number;
  /** Message id, 16 bytes. */
  readonly mid: Uint8Array;
  /** Sender family id (authenticated by the envelope). */
  readonly from: FamilyId;
  /** Sender's creation time, Unix seconds. */
  readonly ts: number;
  /** When this hub stored it, Unix seconds. */
  readonly received: number;
  /** The application bytes. */
  readonly body: Uint8Array;
}

/** An opened message handed to the hub's inbox. */
export interface InboxInput {
  /** Message id, 16 bytes. */
  readonly mid: Uint8Array;
  /** Sender family id. */
  readonly from: FamilyId;
  /** Sender's creation time, Unix seconds. */
  readonly ts: number;
  /** The application bytes. */
  readonly body: Uint8Array;
}

/** Outbox counts by state. */
export type OutboxCounts = Readonly<Record<OutboxState, number>>;

/** The hub's store (outbox, inbox with dedupe, learned records). Implementation: `sqlite_hub.ts`. */
export interface HubStore {
  /** Learns or replaces a family record. */
  putRecord(rec: FamilyRecord, now: number): Promise<void>;
  /** A learned family record. */
  getRecord(be: CryptoBackend, id: FamilyId): Promise<FamilyRecord | undefined>;
  /** Queues a FED_DELIVER payload for sending; its outbox seq. Durable on return. */
  addOutbox(
    mid: Uint8Array,
    to: FamilyId,
    deliver: Uint8Array,
    size: number,
    now: number,
  ): Promise<number>;
  /** Notes a retry reason on a pending row. */
  noteRetry(mid: Uint8Array, detail: string, now: number): Promise<void>;
  /** Pending rows after `afterSeq`, in order. */
  pending(afterSeq: number, limit: number): Promise<readonly OutboxRow[]>;
  /** Moves rows to `state`; the number changed. */
  setState(
    mids: readonly Uint8Array[],
    state: OutboxState,
    now: number,
    detail?: string,
  ): Promise<number>;
  /** Outbox counts by state. */
  outboxCounts(): Promise<OutboxCounts>;
  /** Drops "stored" rows older than `before`. */
  pruneStored(before: number): Promise<number>;
  /** Exactly-once hand-off to the inbox, one transaction: per item true (new) or false (replay). */
  deliverBatch(
    items: readonly { readonly msg: InboxInput; readonly expires: number }[],
    now: number,
  ): Promise<readonly boolean[]>;
  /** Inbox depth. */
  inboxCount(): Promise<number>;
  /** Drops dedupe rows past their window. */
  sweepSeen(now: number): Promise<number>;
  /** Closes. Idempotent. */
  close(): Promise<void>;
}
