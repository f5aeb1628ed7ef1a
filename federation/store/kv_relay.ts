/**
 * The relay's store on Deno KV (the edge relay, docs/OPERATOR.md "Edge
 * relay"), behind the {@link RelayStore} seam: the same families, invites,
 * mailboxes, peer lanes, dedupe, quotas, expiry and notices as the SQLite
 * store, with no file system, FFI or `node:sqlite` (`Deno.openKv()` only).
 *
 * ## Keys (all under the optional `prefix`)
 * - `["meta","seq"]` number: the last queue sequence. Every commit that
 *   stores messages checks its versionstamp and sets the new value, so seqs
 *   increase in enqueue order and a second writer on the same database
 *   makes the commit fail (retried after a re-read) instead of reusing a seq.
 * - `["mb", to, seq]` a mailbox row; `["pq", peer, seq]` a peer-lane row.
 *   A row holds the routing fields and the sealed bytes inline when they fit
 *   ({@link INLINE_MAX}); larger envelopes go to `["blob", seq, i]` chunks of
 *   {@link CHUNK_BYTES}, committed before the row (a row is never visible
 *   without its chunks; chunks orphaned by a crash carry `expireIn`).
 * - `["mid", lane, to, midHex]` -> {seq, expires, size, chunks}: acks by mid;
 *   `["exp", expires, seq]` -> the row's address: the expiry sweep in order.
 * - `["seen", to, midHex]` -> expiry (s): the dedupe row, written with
 *   `expireIn` = window + one day as a backstop and checked explicitly
 *   (KV deletes expired keys lazily); `["seenx", expires, to, midHex]` lets
 *   the sweep delete them in order and keep `["meta","seen"]` (their count).
 * - `["use", family]` {n, b}: quota use (all lanes); `["lanec", lane, to]`
 *   {n, b}: queue depth per lane and recipient (lane -1 = mailbox).
 * - `["fam", id]`, `["inv", tokenHex]`, `["ntc", sender, nseq]` notices with
 *   `["nts", sender]` their count per sender, `["meta","nseq"]`.
 *
 * ## KV limits (Deno 2.9, local and Deploy) and how they are met
 * Value <= 64 KiB (rows inline at most {@link INLINE_MAX} sealed bytes, else
 * chunks); per atomic commit <= 1000 mutations, <= 800 KiB of keys and
 * values, <= 80 KiB of keys, <= 100 checks; `getMany` <= 10 keys. A group
 * commit is cut into sub-groups of at most {@link GROUP_MESSAGES} messages
 * and {@link GROUP_BYTES} inline bytes, each one atomic commit (items of one
 * group are independent, as in SQLite where a quota error rolls back nothing
 * else); chunk writes go {@link CHUNKS_PER_COMMIT} per commit.
 *
 * ## Order and durability
 * Every call runs on one serial chain, in call order; `ack(durable: false)`
 * and `ackPeer` calls made back to back (no other call between them) share
 * one commit. A KV commit is durable when it resolves (Deno KV's contract),
 * so `durable` of {@link KvRelayStore.enqueueBatch} is already resolved.
 * One relay process per KV database (the seq check refuses a second
 * writer's stale commit; it does not make two relays share one store).
 *
 * Longer than ~500 lines on purpose: one class over one KV key space: the key layout, envelope
 * chunking and the cutting of groups to KV's per-commit limits are one set of invariants, and
 * splitting them would scatter the key schema across files.
 *
 * @module
 */

import { ErrorCode, MyClerkError } from "../../core/errors.ts";
import type { CryptoBackend } from "../../core/crypto/types.ts";
import { toHex } from "../bytes.ts";
import { DEFAULT_TTL } from "../envelope.ts";
import { decodeFamily, encodeFamily, type FamilyId, type FamilyRecord } from "../family.ts";
import type { Invite } from "../invite.ts";
import { dedupeUntil, laneValue, MAILBOX, quotaError, storedExpiry } from "./rules.ts";
import {
  DEFAULT_QUOTA,
  type EnqueueBatch,
  type EnqueueItem,
  type EnqueueResult,
  type ExpiredMessage,
  type FetchWindow,
  type Lane,
  type QueuedMessage,
  type QueueStatus,
  type Quota,
  type RelayStore,
  type StoredFamily,
  type StoreStats,
  type Usage,
} from "./types.ts";

/** Largest sealed envelope kept inside its row (the rest of the row stays under 64 KiB). */
export const INLINE_MAX = 60 * 1024;
/** Size of one blob chunk of a larger envelope (a KV value is at most 64 KiB). */
export const CHUNK_BYTES = 63 * 1024;
/** Chunks per commit (800 KiB of mutations per atomic). */
export const CHUNKS_PER_COMMIT = 12;
/** Messages per atomic commit (about 7 mutations and 500 key bytes each). */
export const GROUP_MESSAGES = 80;
/** Inline sealed bytes per atomic commit. */
export const GROUP_BYTES = 600 * 1024;
/** `getMany` keys per call. */
const READ_KEYS = 10;
/** Extra life of dedupe rows and orphan chunks past their own expiry, ms (the sweep deletes first). */
const BACKSTOP_MS = 86_400_000;
/** Mutations per commit when deleting (acks, sweep). */
const DELETE_MUTATIONS = 900;

/** Options of {@link KvRelayStore.open}. */
export interface KvRelayOptions {
  /** An open database (not closed by the store), or... */
  readonly kv?: Deno.Kv;
  /** ...a path for `Deno.openKv(path)` (closed by the store); neither: `Deno.openKv()`. */
  readonly path?: string;
  /** Key prefix, to share one database with other data (default: none). */
  readonly prefix?: readonly Deno.KvKeyPart[];
  /** Quota for families without their own. */
  readonly defaultQuota?: Quota;
  /** Dedupe window in seconds (default = default TTL, 30 days). */
  readonly dedupeWindow?: number;
  /** Longest TTL honoured, seconds (default 30 days). */
  readonly maxTtl?: number;
}

interface Row {
  readonly to: string;
  readonly from: string;
  readonly fromKey: Uint8Array;
  readonly mid: Uint8Array;
  readonly ttl: number;
  readonly hops: number;
  readonly size: number;
  readonly received: number;
  readonly expires: number;
  readonly chunks: number;
  readonly sealed?: Uint8Array;
}

interface MidRef {
  readonly seq: number;
  readonly expires: number;
  readonly size: number;
  readonly chunks: number;
}

interface ExpRef {
  readonly lane: number;
  readonly to: string;
  readonly from: string;
  readonly mid: Uint8Array;
  readonly size: number;
  readonly chunks: number;
}

interface Count {
  n: number;
  b: number;
}

interface FamRow {
  readonly record: Uint8Array;
  readonly local: boolean;
  readonly qm: number | null;
  readonly qb: number | null;
  readonly admitted: number;
}

interface InvRow {
  readonly expires: number;
  readonly family: string | null;
  readonly created: number;
  readonly redeemedAt: number | null;
  readonly redeemedBy: string | null;
}

interface Notice {
  readonly to: string;
  readonly mid: Uint8Array;
  readonly size: number;
  readonly expired: number;
}

interface PendingAck {
  readonly lane: number;
  readonly items: readonly { readonly to: FamilyId; readonly mid: Uint8Array }[];
  readonly resolve: (n: number) => void;
  readonly reject: (e: unknown) => void;
}

/** Collects mutations and commits whenever the next one would pass a KV limit. */
class Writer {
  #op: Deno.AtomicOperation;
  #mut = 0;
  #bytes = 0;
  #keyBytes = 0;
  readonly #kv: Deno.Kv;
  constructor(kv: Deno.Kv) {
    this.#kv = kv;
    this.#op = kv.atomic();
  }
  async #room(keyBytes: number, valueBytes: number): Promise<void> {
    if (
      this.#mut + 1 > DELETE_MUTATIONS || this.#bytes + keyBytes + valueBytes > 700 * 1024 ||
      this.#keyBytes + keyBytes > 70 * 1024
    ) await this.commit();
  }
  async set(key: Deno.KvKey, value: unknown, size = 64, expireIn?: number): Promise<void> {
    const kb = keySize(key);
    await this.#room(kb, size);
    this.#op.set(key, value, expireIn === undefined ? undefined : { expireIn });
    this.#mut++;
    this.#bytes += kb + size;
    this.#keyBytes += kb;
  }
  async delete(key: Deno.KvKey): Promise<void> {
    const kb = keySize(key);
    await this.#room(kb, 0);
    this.#op.delete(key);
    this.#mut++;
    this.#bytes += kb;
    this.#keyBytes += kb;
  }
  async commit(): Promise<void> {
    if (this.#mut === 0) return;
    const r = await this.#op.commit();
    if (!r.ok) throw new MyClerkError(ErrorCode.INTERNAL_ERROR, "store", { error: "kv-conflict" });
    this.#op = this.#kv.atomic();
    this.#mut = this.#bytes = this.#keyBytes = 0;
  }
}

/** An upper bound of a key's encoded size. */
function keySize(key: Deno.KvKey): number {
  let n = 2;
  for (const p of key) n += typeof p === "string" ? p.length * 3 + 2 : 10;
  return n;
}

/** The relay store on Deno KV (see the module doc for keys and limits). */
export class KvRelayStore implements RelayStore {
  /** Short name for logs and `status`. */
  readonly kind = "kv";
  readonly #kv: Deno.Kv;
  readonly #owns: boolean;
  readonly #p: readonly Deno.KvKeyPart[];
  #defaultQuota: Quota;
  readonly #dedupeWindow: number;
  #maxTtl: number;
  #chain: Promise<unknown> = Promise.resolve();
  /** The ack group at the tail of the chain, open to more acks until another call queues. */
  #openAcks?: PendingAck[];
  #closed = false;

  private constructor(kv: Deno.Kv, owns: boolean, o: KvRelayOptions) {
    this.#kv = kv;
    this.#owns = owns;
    this.#p = o.prefix ?? [];
    this.#defaultQuota = o.defaultQuota ?? DEFAULT_QUOTA;
    this.#dedupeWindow = o.dedupeWindow ?? DEFAULT_TTL;
    this.#maxTtl = o.maxTtl ?? DEFAULT_TTL;
  }

  /** Opens the store on `o.kv`, on `Deno.openKv(o.path)`, or on the default database. */
  static async open(o: KvRelayOptions = {}): Promise<KvRelayStore> {
    if (o.kv !== undefined) return new KvRelayStore(o.kv, false, o);
    const kv = await Deno.openKv(o.path);
    return new KvRelayStore(kv, true, o);
  }

  #k(...parts: Deno.KvKeyPart[]): Deno.KvKey {
    return [...this.#p, ...parts];
  }

  /** Runs `f` after every call made before it (call order); rejects once closed. */
  #run<T>(f: () => Promise<T>): Promise<T> {
    if (this.#closed) {
      return Promise.reject(
        new MyClerkError(ErrorCode.SERVICE_UNAVAILABLE, "store-closed", { store: "kv" }),
      );
    }
    this.#openAcks = undefined;
    const p = this.#chain.then(f);
    this.#chain = p.catch(() => {});
    return p;
  }

  async #getMany<T>(keys: readonly Deno.KvKey[]): Promise<Deno.KvEntryMaybe<T>[]> {
    const out: Deno.KvEntryMaybe<T>[] = [];
    for (let i = 0; i < keys.length; i += READ_KEYS) {
      out.push(...await this.#kv.getMany<T[]>(keys.slice(i, i + READ_KEYS)));
    }
    return out;
  }

  // ---- families and invites ----------------------------------------------

  /** Adds or replaces a family record; `local` marks a family homed here. Durable on return. */
  putFamily(rec: FamilyRecord, local: boolean, now: number, quota?: Quota): Promise<void> {
    return this.#run(async () => {
      const key = this.#k("fam", rec.id);
      const old = (await this.#kv.get<FamRow>(key)).value;
      const row: FamRow = {
        record: encodeFamily(rec),
        local,
        qm: quota?.messages ?? old?.qm ?? null,
        qb: quota?.bytes ?? old?.qb ?? null,
        admitted: now,
      };
      await this.#kv.set(key, row);
    });
  }

  #quotaOf(r: FamRow | null | undefined): Quota {
    return {
      messages: r?.qm ?? this.#defaultQuota.messages,
      bytes: r?.qb ?? this.#defaultQuota.bytes,
    };
  }

  #family(be: CryptoBackend, r: FamRow): StoredFamily {
    return {
      record: decodeFamily(be, r.record),
      local: r.local,
      quota: this.#quotaOf(r),
      admitted: r.admitted,
    };
  }

  /** A stored family, or undefined. */
  getFamily(be: CryptoBackend, id: FamilyId): Promise<StoredFamily | undefined> {
    return this.#run(async () => {
      const r = (await this.#kv.get<FamRow>(this.#k("fam", id))).value;
      return r === null ? undefined : this.#family(be, r);
    });
  }

  /** Every stored family, ordered by id. */
  listFamilies(be: CryptoBackend): Promise<readonly StoredFamily[]> {
    return this.#run(async () => {
      const out: StoredFamily[] = [];
      for await (const e of this.#kv.list<FamRow>({ prefix: this.#k("fam") })) {
        out.push(this.#family(be, e.value));
      }
      return out;
    });
  }

  /** Records an invite the operator created (needed for single use). Durable on return. */
  addInvite(inv: Invite, now: number): Promise<void> {
    return this.#run(async () => {
      const row: InvRow = {
        expires: inv.expires,
        family: inv.family ?? null,
        created: now,
        redeemedAt: null,
        redeemedBy: null,
      };
      await this.#kv.set(this.#k("inv", toHex(inv.tokenId)), row);
    });
  }

  /**
   * Marks an invite used by `family`, atomically (a versionstamp check: two
   * admissions racing for one token, one wins). Rejects with
   * FED_ADMISSION_DENIED `token-unknown`, `token-used` or `token-expired`.
   */
  redeemInvite(tokenId: Uint8Array, family: FamilyId, now: number): Promise<void> {
    return this.#run(async () => {
      const key = this.#k("inv", toHex(tokenId));
      const deny = (d: string) => new MyClerkError(ErrorCode.FED_ADMISSION_DENIED, d);
      const e = await this.#kv.get<InvRow>(key);
      if (e.value === null) throw deny("token-unknown");
      if (e.value.redeemedAt !== null) throw deny("token-used");
      if (now >= e.value.expires) throw deny("token-expired");
      const r = await this.#kv.atomic().check(e).set(key, {
        ...e.value,
        redeemedAt: now,
        redeemedBy: family,
      }).commit();
      if (!r.ok) throw deny("token-used");
    });
  }

  /** Replaces the quota of families without their own. */
  setDefaultQuota(q: Quota): void {
    this.#defaultQuota = q;
  }

  /** Replaces the longest TTL honoured; applies to messages stored from now. */
  setMaxTtl(seconds: number): void {
    this.#maxTtl = seconds;
  }

  // ---- queues --------------------------------------------------------------

  #rowKey(lane: number, to: string, seq: number): Deno.KvKey {
    return lane === MAILBOX ? this.#k("mb", to, seq) : this.#k("pq", lane, seq);
  }

  /**
   * Group commit (see the module doc for how it is cut into KV commits):
   * per-item results, a quota error being its item's value
   * (FED_QUOTA_EXCEEDED with `extra = {quota, used, limit, family}`); a mid
   * already seen for the same recipient within the window is `duplicate`.
   * Resolves after the last commit; `durable` is then already resolved.
   */
  enqueueBatch(items: readonly EnqueueItem[], now: number): Promise<EnqueueBatch> {
    return this.#run(async () => {
      const results: (EnqueueResult | MyClerkError)[] = new Array(items.length);
      let start = 0;
      while (start < items.length) {
        let end = start;
        let bytes = 0;
        while (end < items.length && end - start < GROUP_MESSAGES) {
          const s = items[end].message.sealed.length;
          const inline = s <= INLINE_MAX ? s : 0;
          if (end > start && bytes + inline > GROUP_BYTES) break;
          bytes += inline;
          end++;
        }
        await this.#enqueueGroup(items, start, end, now, results);
        start = end;
      }
      return { results, durable: Promise.resolve() };
    });
  }

  async #enqueueGroup(
    items: readonly EnqueueItem[],
    start: number,
    end: number,
    now: number,
    results: (EnqueueResult | MyClerkError)[],
  ): Promise<void> {
    const group = items.slice(start, end);
    const seenKeys = group.map((it) => this.#k("seen", it.message.to, toHex(it.message.mid)));
    const seen = await this.#getMany<number>(seenKeys);
    const fams = [...new Set(group.map((it) => it.message.to))];
    const useE = await this.#getMany<Count>(fams.map((f) => this.#k("use", f)));
    const famE = await this.#getMany<FamRow>(fams.map((f) => this.#k("fam", f)));
    const usage = new Map<string, { used: Count; quota: Quota; add: Count }>();
    fams.forEach((f, i) =>
      usage.set(f, {
        used: useE[i].value ?? { n: 0, b: 0 },
        quota: this.#quotaOf(famE[i].value),
        add: { n: 0, b: 0 },
      })
    );
    const seqE = await this.#kv.get<number>(this.#k("meta", "seq"));
    const seenCountE = await this.#kv.get<number>(this.#k("meta", "seen"));
    let seq = seqE.value ?? 0;
    let seenCount = seenCountE.value ?? 0;
    const lanes = new Map<string, { lane: number; to: string; add: Count }>();
    const fresh = new Set<string>();
    const rows: { key: Deno.KvKey; row: Row; lane: number; hex: string; chunks: Uint8Array[] }[] =
      [];
    group.forEach((it, i) => {
      const m = it.message;
      const hex = toHex(m.mid);
      const dupKey = `${m.to}/${hex}`;
      const s = seen[i].value;
      const isDup = (s !== null && s > now) || fresh.has(dupKey);
      const u = usage.get(m.to)!;
      const size = m.sealed.length;
      const usedN = u.used.n + u.add.n;
      const usedB = u.used.b + u.add.b;
      if (isDup) {
        results[start + i] = { status: "duplicate" };
        return;
      }
      const over = it.inFlight ? undefined : quotaError(m.to, usedN, usedB, u.quota, size);
      if (over !== undefined) {
        results[start + i] = over;
        return;
      }
      fresh.add(dupKey);
      const expires = storedExpiry(m, now, this.#maxTtl);
      const lane = laneValue(it.lane);
      seq++;
      const chunks: Uint8Array[] = [];
      if (size > INLINE_MAX) {
        for (let o = 0; o < size; o += CHUNK_BYTES) {
          chunks.push(m.sealed.subarray(o, o + CHUNK_BYTES));
        }
      }
      const row: Row = {
        to: m.to,
        from: m.from,
        fromKey: m.fromKey,
        mid: m.mid,
        ttl: m.ttl,
        hops: m.hops,
        size,
        received: now,
        expires,
        chunks: chunks.length,
        ...(chunks.length === 0 ? { sealed: m.sealed } : {}),
      };
      rows.push({ key: this.#rowKey(lane, m.to, seq), row, lane, hex, chunks });
      u.add.n++;
      u.add.b += size;
      const lk = `${lane}/${m.to}`;
      const l = lanes.get(lk) ?? { lane, to: m.to, add: { n: 0, b: 0 } };
      l.add.n++;
      l.add.b += size;
      lanes.set(lk, l);
      results[start + i] = { status: "stored", seq };
    });
    if (rows.length === 0) return;
    // Chunks first, each batch its own commit: the row that makes them reachable comes last.
    for (const r of rows) {
      if (r.chunks.length === 0) continue;
      const life = (r.row.expires - now) * 1000 + BACKSTOP_MS;
      const cw = new Writer(this.#kv);
      for (let i = 0; i < r.chunks.length; i++) {
        await cw.set(this.#k("blob", this.#seqOf(r.key), i), r.chunks[i], r.chunks[i].length, life);
      }
      await cw.commit();
    }
    // One commit for the rows, their indexes, dedupe and counters (sized by the group limits).
    const op = this.#kv.atomic().check(seqE);
    for (const r of rows) {
      const s = this.#seqOf(r.key);
      const m = r.row;
      op.set(r.key, m);
      op.set(
        this.#k("mid", r.lane, m.to, r.hex),
        {
          seq: s,
          expires: m.expires,
          size: m.size,
          chunks: m.chunks,
        } satisfies MidRef,
      );
      op.set(
        this.#k("exp", m.expires, s),
        {
          lane: r.lane,
          to: m.to,
          from: m.from,
          mid: m.mid,
          size: m.size,
          chunks: m.chunks,
        } satisfies ExpRef,
      );
      const seenUntil = dedupeUntil(m, now, this.#maxTtl, this.#dedupeWindow);
      const window = seenUntil - now;
      op.set(this.#k("seen", m.to, r.hex), seenUntil, {
        expireIn: window * 1000 + BACKSTOP_MS,
      });
      op.set(this.#k("seenx", seenUntil, m.to, r.hex), 0);
      seenCount++;
    }
    for (const [f, u] of usage) {
      if (u.add.n > 0) op.set(this.#k("use", f), { n: u.used.n + u.add.n, b: u.used.b + u.add.b });
    }
    const laneE = await this.#getMany<Count>(
      [...lanes.values()].map((l) => this.#k("lanec", l.lane, l.to)),
    );
    [...lanes.values()].forEach((l, i) => {
      const c = laneE[i].value ?? { n: 0, b: 0 };
      op.set(this.#k("lanec", l.lane, l.to), { n: c.n + l.add.n, b: c.b + l.add.b });
    });
    op.set(this.#k("meta", "seq"), seq);
    op.set(this.#k("meta", "seen"), seenCount);
    const r = await op.commit();
    if (!r.ok) {
      throw new MyClerkError(ErrorCode.INTERNAL_ERROR, "store", {
        error: "kv-seq-conflict: another writer uses this KV database",
      });
    }
  }

  #seqOf(key: Deno.KvKey): number {
    return key[key.length - 1] as number;
  }

  async #load(row: Row, seq: number): Promise<QueuedMessage> {
    let sealed = row.sealed;
    if (sealed === undefined) {
      sealed = new Uint8Array(row.size);
      let o = 0;
      for await (const e of this.#kv.list<Uint8Array>({ prefix: this.#k("blob", seq) })) {
        sealed.set(e.value, o);
        o += e.value.length;
      }
      if (o !== row.size) {
        throw new MyClerkError(ErrorCode.INTERNAL_ERROR, "store", {
          error: `kv blob of seq ${seq}: ${o} of ${row.size} bytes`,
        });
      }
    }
    return {
      seq,
      to: row.to,
      from: row.from,
      fromKey: row.fromKey,
      mid: row.mid,
      ttl: row.ttl,
      hops: row.hops,
      sealed,
      received: row.received,
      expires: row.expires,
    };
  }

  async #window(
    prefix: Deno.KvKey,
    after: number,
    limit: number,
    maxBytes: number,
  ): Promise<FetchWindow> {
    const rows: QueuedMessage[] = [];
    let bytes = 0;
    const it = this.#kv.list<Row>({ prefix, start: [...prefix, after + 1] }, {
      // Rows carry up to 60 KiB inline: read them in small pages, a byte budget stops early.
      batchSize: Math.min(64, Math.max(1, limit + 1)),
    });
    for await (const e of it) {
      if (rows.length === limit) return { rows, cut: false };
      if (rows.length > 0 && bytes + e.value.size > maxBytes) return { rows, cut: true };
      bytes += e.value.size;
      rows.push(await this.#load(e.value, this.#seqOf(e.key)));
    }
    return { rows, cut: false };
  }

  /** A family's mailbox after cursor `after`, bounded by `limit` rows and `maxBytes` (always one row). */
  fetchWindow(
    family: FamilyId,
    after: number,
    limit: number,
    maxBytes: number,
  ): Promise<FetchWindow> {
    return this.#run(() => this.#window(this.#k("mb", family), after, limit, maxBytes));
  }

  /** The outbound queue to peer relay `peer` after `after`, bounded like {@link fetchWindow}. */
  fetchPeer(
    peer: number,
    after: number,
    limit: number,
    maxBytes: number,
  ): Promise<readonly QueuedMessage[]> {
    return this.#run(async () =>
      (await this.#window(this.#k("pq", peer), after, limit, maxBytes)).rows
    );
  }

  /** Deletes rows by (lane, recipient, mid) in as few commits as the limits allow; counts per item list. */
  async #delete(
    groups: readonly { lane: number; items: readonly { to: FamilyId; mid: Uint8Array }[] }[],
  ): Promise<number[]> {
    const flat = groups.flatMap((g) => g.items.map((it) => ({ lane: g.lane, ...it })));
    const keys = flat.map((x) => this.#k("mid", x.lane, x.to, toHex(x.mid)));
    const refs = await this.#getMany<MidRef>(keys);
    const counts = groups.map(() => 0);
    const use = new Map<string, Count>();
    const lanec = new Map<string, { lane: number; to: string; d: Count }>();
    const w = new Writer(this.#kv);
    const done = new Set<string>();
    let gi = 0;
    let left = groups[0]?.items.length ?? 0;
    for (let i = 0; i < flat.length; i++) {
      while (left === 0 && gi < groups.length - 1) left = groups[++gi].items.length;
      left--;
      const ref = refs[i].value;
      const x = flat[i];
      const id = `${x.lane}/${x.to}/${toHex(x.mid)}`;
      if (ref === null || done.has(id)) continue;
      done.add(id);
      counts[gi]++;
      await this.#deleteRow(w, x.lane, x.to, ref.seq, ref.expires, ref.chunks, keys[i]);
      const u = use.get(x.to) ?? { n: 0, b: 0 };
      u.n++;
      u.b += ref.size;
      use.set(x.to, u);
      const lk = `${x.lane}/${x.to}`;
      const l = lanec.get(lk) ?? { lane: x.lane, to: x.to, d: { n: 0, b: 0 } };
      l.d.n++;
      l.d.b += ref.size;
      lanec.set(lk, l);
    }
    await this.#applyCounts(w, use, lanec);
    await w.commit();
    return counts;
  }

  async #deleteRow(
    w: Writer,
    lane: number,
    to: string,
    seq: number,
    expires: number,
    chunks: number,
    midKey: Deno.KvKey,
  ): Promise<void> {
    await w.delete(this.#rowKey(lane, to, seq));
    await w.delete(midKey);
    await w.delete(this.#k("exp", expires, seq));
    for (let c = 0; c < chunks; c++) await w.delete(this.#k("blob", seq, c));
  }

  /** Subtracts freed counts from the usage and lane counters (an emptied counter goes). */
  async #applyCounts(
    w: Writer,
    use: ReadonlyMap<string, Count>,
    lanec: ReadonlyMap<string, { lane: number; to: string; d: Count }>,
  ): Promise<void> {
    const uf = [...use.keys()];
    const ue = await this.#getMany<Count>(uf.map((f) => this.#k("use", f)));
    for (let i = 0; i < uf.length; i++) {
      const c = ue[i].value ?? { n: 0, b: 0 };
      const d = use.get(uf[i])!;
      const n = { n: c.n - d.n, b: c.b - d.b };
      if (n.n <= 0) await w.delete(this.#k("use", uf[i]));
      else await w.set(this.#k("use", uf[i]), n);
    }
    const ls = [...lanec.values()];
    const le = await this.#getMany<Count>(ls.map((l) => this.#k("lanec", l.lane, l.to)));
    for (let i = 0; i < ls.length; i++) {
      const c = le[i].value ?? { n: 0, b: 0 };
      const n = { n: c.n - ls[i].d.n, b: c.b - ls[i].d.b };
      const key = this.#k("lanec", ls[i].lane, ls[i].to);
      if (n.n <= 0) await w.delete(key);
      else await w.set(key, n);
    }
  }

  /**
   * Removes delivered messages of `family` from `lane` by mid; the number
   * removed (unknown mids are ignored). `durable: false` calls made back
   * to back share one commit.
   */
  ack(
    lane: Lane,
    family: FamilyId,
    mids: readonly Uint8Array[],
    o: { readonly durable?: boolean } = {},
  ): Promise<number> {
    const items = mids.map((mid) => ({ to: family, mid }));
    if (o.durable ?? true) {
      return this.#run(async () => (await this.#delete([{ lane: laneValue(lane), items }]))[0]);
    }
    return this.#coalesce(laneValue(lane), items);
  }

  #coalesce(
    lane: number,
    items: readonly { readonly to: FamilyId; readonly mid: Uint8Array }[],
  ): Promise<number> {
    if (this.#openAcks !== undefined && !this.#closed) {
      const group = this.#openAcks;
      return new Promise((resolve, reject) => group.push({ lane, items, resolve, reject }));
    }
    const group: PendingAck[] = [];
    const p = new Promise<number>((resolve, reject) =>
      group.push({ lane, items, resolve, reject })
    );
    this.#run(async () => {
      // Running now: later acks start a group of their own.
      if (this.#openAcks === group) this.#openAcks = undefined;
      try {
        const counts = await this.#delete(group.map((a) => ({ lane: a.lane, items: a.items })));
        group.forEach((a, i) => a.resolve(counts[i]));
      } catch (e) {
        for (const a of group) a.reject(e);
      }
    }).catch((e) => {
      for (const a of group) a.reject(e);
    });
    this.#openAcks = group;
    return p;
  }

  /** Removes messages a peer relay acked "stored" (coalesced like a `durable: false` ack). */
  ackPeer(
    peer: number,
    items: readonly { readonly to: FamilyId; readonly mid: Uint8Array }[],
  ): Promise<number> {
    return this.#coalesce(peer, items);
  }

  /** Depth of a family's mailbox or of a peer queue (all its recipients). */
  queueStatus(lane: Lane, family?: FamilyId): Promise<QueueStatus> {
    return this.#run(async () => {
      const lv = laneValue(lane);
      let depth = 0;
      let bytes = 0;
      const sel = lane.kind === "mailbox" && family !== undefined
        ? this.#k("lanec", lv, family)
        : undefined;
      if (sel !== undefined) {
        const c = (await this.#kv.get<Count>(sel)).value;
        depth = c?.n ?? 0;
        bytes = c?.b ?? 0;
      } else {
        for await (const e of this.#kv.list<Count>({ prefix: this.#k("lanec", lv) })) {
          depth += e.value.n;
          bytes += e.value.b;
        }
      }
      const rowPrefix = lane.kind === "mailbox"
        ? family === undefined ? undefined : this.#k("mb", family)
        : this.#k("pq", lv);
      let oldest = 0;
      if (rowPrefix !== undefined && depth > 0) {
        for await (const e of this.#kv.list<Row>({ prefix: rowPrefix }, { limit: 1 })) {
          oldest = e.value.received;
        }
      }
      return { depth, bytes, oldest };
    });
  }

  /** Quota use of a family (all lanes). */
  usage(family: FamilyId): Promise<Usage> {
    return this.#run(async () => {
      const [u, f] = await this.#kv.getMany<[Count, FamRow]>([
        this.#k("use", family),
        this.#k("fam", family),
      ]);
      return { messages: u.value?.n ?? 0, bytes: u.value?.b ?? 0, quota: this.#quotaOf(f.value) };
    });
  }

  // ---- expiry and notices --------------------------------------------------

  /**
   * Removes at most `limit` messages whose expiry is at or before `now`,
   * records a notice for each sender, deletes dedupe rows past their window
   * (at most `4 * limit`), and returns what expired.
   */
  sweep(now: number, limit = 1000): Promise<readonly ExpiredMessage[]> {
    return this.#run(async () => {
      const w = new Writer(this.#kv);
      const out: ExpiredMessage[] = [];
      const use = new Map<string, Count>();
      const lanec = new Map<string, { lane: number; to: string; d: Count }>();
      const it = this.#kv.list<ExpRef>({ start: this.#k("exp"), end: this.#k("exp", now + 1e-3) }, {
        limit,
      });
      const exps: Deno.KvEntry<ExpRef>[] = [];
      for await (const e of it) exps.push(e);
      const senders = new Map<string, number>();
      let nseq = (await this.#kv.get<number>(this.#k("meta", "nseq"))).value ?? 0;
      for (const e of exps) {
        const x = e.value;
        const expires = e.key[e.key.length - 2] as number;
        const seq = this.#seqOf(e.key);
        await this.#deleteRow(
          w,
          x.lane,
          x.to,
          seq,
          expires,
          x.chunks,
          this.#k("mid", x.lane, x.to, toHex(x.mid)),
        );
        const u = use.get(x.to) ?? { n: 0, b: 0 };
        u.n++;
        u.b += x.size;
        use.set(x.to, u);
        const lk = `${x.lane}/${x.to}`;
        const l = lanec.get(lk) ?? { lane: x.lane, to: x.to, d: { n: 0, b: 0 } };
        l.d.n++;
        l.d.b += x.size;
        lanec.set(lk, l);
        const ex = { to: x.to, from: x.from, mid: x.mid, size: x.size, expired: expires };
        await w.set(
          this.#k("ntc", x.from, ++nseq),
          {
            to: x.to,
            mid: x.mid,
            size: x.size,
            expired: expires,
          } satisfies Notice,
        );
        senders.set(x.from, (senders.get(x.from) ?? 0) + 1);
        out.push(ex);
      }
      await this.#applyCounts(w, use, lanec);
      await this.#bumpSenders(w, senders);
      if (exps.length > 0) await w.set(this.#k("meta", "nseq"), nseq);
      // Dedupe rows past their window, in expiry order, with their count.
      let gone = 0;
      const seenIt = this.#kv.list({ start: this.#k("seenx"), end: this.#k("seenx", now + 1e-3) }, {
        limit: limit * 4,
      });
      for await (const e of seenIt) {
        const k = e.key;
        await w.delete(k);
        await w.delete(this.#k("seen", k[k.length - 2] as string, k[k.length - 1] as string));
        gone++;
      }
      if (gone > 0) {
        const c = (await this.#kv.get<number>(this.#k("meta", "seen"))).value ?? 0;
        await w.set(this.#k("meta", "seen"), Math.max(0, c - gone));
      }
      await w.commit();
      return out;
    });
  }

  async #bumpSenders(w: Writer, add: ReadonlyMap<string, number>): Promise<void> {
    const ss = [...add.keys()];
    const cur = await this.#getMany<number>(ss.map((s) => this.#k("nts", s)));
    for (let i = 0; i < ss.length; i++) {
      const n = (cur[i].value ?? 0) + add.get(ss[i])!;
      if (n <= 0) await w.delete(this.#k("nts", ss[i]));
      else await w.set(this.#k("nts", ss[i]), n);
    }
  }

  /** Expiry notices waiting for sender family `sender`, oldest first. */
  pendingNotices(sender: FamilyId, limit = 1024): Promise<readonly ExpiredMessage[]> {
    return this.#run(async () => {
      const out: ExpiredMessage[] = [];
      for await (const e of this.#kv.list<Notice>({ prefix: this.#k("ntc", sender) }, { limit })) {
        out.push({ from: sender, ...e.value });
      }
      return out;
    });
  }

  /** Sender families with expiry notices waiting. */
  noticeSenders(limit = 4096): Promise<readonly FamilyId[]> {
    return this.#run(async () => {
      const out: FamilyId[] = [];
      for await (const e of this.#kv.list<number>({ prefix: this.#k("nts") }, { limit })) {
        out.push(e.key[e.key.length - 1] as string);
      }
      return out;
    });
  }

  /** Records expiry notices a peer relay forwarded for a family homed here. */
  addNotices(
    sender: FamilyId,
    to: FamilyId,
    mids: readonly Uint8Array[],
    now: number,
  ): Promise<void> {
    return this.#run(async () => {
      if (mids.length === 0) return;
      const w = new Writer(this.#kv);
      let nseq = (await this.#kv.get<number>(this.#k("meta", "nseq"))).value ?? 0;
      for (const mid of mids) {
        await w.set(this.#k("ntc", sender, ++nseq), { to, mid, size: 0, expired: now });
      }
      await this.#bumpSenders(w, new Map([[sender, mids.length]]));
      await w.set(this.#k("meta", "nseq"), nseq);
      await w.commit();
    });
  }

  /** Drops notices once the sender's hub got them. */
  clearNotices(sender: FamilyId, mids: readonly Uint8Array[]): Promise<void> {
    return this.#run(async () => {
      if (mids.length === 0) return;
      const want = new Set(mids.map(toHex));
      const w = new Writer(this.#kv);
      let n = 0;
      for await (const e of this.#kv.list<Notice>({ prefix: this.#k("ntc", sender) })) {
        if (!want.has(toHex(e.value.mid))) continue;
        await w.delete(e.key);
        n++;
      }
      await this.#bumpSenders(w, new Map([[sender, -n]]));
      await w.commit();
    });
  }

  // ---- operator ------------------------------------------------------------

  /** Everything `/metrics`, `queue list` and `status` show (lists every counter key). */
  stats(): Promise<StoreStats> {
    return this.#run(async () => {
      let families = 0;
      let localFamilies = 0;
      for await (const e of this.#kv.list<FamRow>({ prefix: this.#k("fam") })) {
        families++;
        if (e.value.local) localFamilies++;
      }
      const mailboxes: ({ family: FamilyId } & QueueStatus)[] = [];
      const peerMap = new Map<number, { depth: number; bytes: number }>();
      let queuedMessages = 0;
      let queuedBytes = 0;
      for await (const e of this.#kv.list<Count>({ prefix: this.#k("lanec") })) {
        const lane = e.key[e.key.length - 2] as number;
        const to = e.key[e.key.length - 1] as string;
        queuedMessages += e.value.n;
        queuedBytes += e.value.b;
        if (lane === MAILBOX) {
          let oldest = 0;
          for await (const r of this.#kv.list<Row>({ prefix: this.#k("mb", to) }, { limit: 1 })) {
            oldest = r.value.received;
          }
          mailboxes.push({ family: to, depth: e.value.n, bytes: e.value.b, oldest });
        } else {
          const p = peerMap.get(lane) ?? { depth: 0, bytes: 0 };
          p.depth += e.value.n;
          p.bytes += e.value.b;
          peerMap.set(lane, p);
        }
      }
      mailboxes.sort((a, b) => a.family < b.family ? -1 : a.family > b.family ? 1 : 0);
      const peers: ({ peer: number } & QueueStatus)[] = [];
      for (const [peer, p] of [...peerMap].sort((a, b) => a[0] - b[0])) {
        let oldest = 0;
        for await (const r of this.#kv.list<Row>({ prefix: this.#k("pq", peer) }, { limit: 1 })) {
          oldest = r.value.received;
        }
        peers.push({ peer, ...p, oldest });
      }
      let invitesOpen = 0;
      for await (const e of this.#kv.list<InvRow>({ prefix: this.#k("inv") })) {
        if (e.value.redeemedAt === null) invitesOpen++;
      }
      let pendingNotices = 0;
      for await (const e of this.#kv.list<number>({ prefix: this.#k("nts") })) {
        pendingNotices += e.value;
      }
      const dedupeEntries = (await this.#kv.get<number>(this.#k("meta", "seen"))).value ?? 0;
      return {
        families,
        localFamilies,
        queuedMessages,
        queuedBytes,
        mailboxes,
        peers,
        invitesOpen,
        dedupeEntries,
        pendingNotices,
      };
    });
  }

  /** Waits for every call made so far, then closes (the database too, when the store opened it). Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#openAcks = undefined;
    this.#closed = true;
    await this.#chain;
    if (this.#owns) this.#kv.close();
  }
}
