/**
 * The queue rules every `RelayStore` applies the same way (docs/FEDERATION.md §6):
 * lane numbering, the quota check, the stored expiry and the dedupe window. Pure: the
 * SQLite and Deno KV stores call these instead of each writing them down.
 *
 * @module
 */

import { ErrorCode, MyClerkError } from "../../core/errors.ts";
import type { FamilyId } from "../family.ts";
import type { Lane, QueueInput, Quota } from "./types.ts";

/** The fields of a message the expiry rules read. */
export type Timed = Pick<QueueInput, "ttl" | "expiresBy">;

/** Lane number of the mailbox lane; a peer lane is the peer relay's key id. */
export const MAILBOX: number = -1;

/** The lane's number as stored (`-1` = mailbox, else the peer relay key id). */
export function laneValue(l: Lane): number {
  return l.kind === "mailbox" ? MAILBOX : l.peer;
}

/**
 * FED_QUOTA_EXCEEDED for one more message of `size` bytes to `family`, which already has
 * `messages`/`bytes` queued, or undefined when it fits. `extra` = `{quota, used, limit, family}`.
 */
export function quotaError(
  family: FamilyId,
  messages: number,
  bytes: number,
  quota: Quota,
  size: number,
): MyClerkError | undefined {
  const over = messages + 1 > quota.messages
    ? { quota: "messages", used: messages, limit: quota.messages }
    : bytes + size > quota.bytes
    ? { quota: "bytes", used: bytes, limit: quota.bytes }
    : undefined;
  return over === undefined
    ? undefined
    : new MyClerkError(ErrorCode.FED_QUOTA_EXCEEDED, "quota", { ...over, family });
}

/** The TTL honoured: the message's, cut to the store's max TTL (seconds). */
export function honouredTtl(m: Timed, maxTtl: number): number {
  return Math.min(m.ttl, maxTtl);
}

/** Stored expiry: the earlier of `now + honoured TTL` and the envelope's own `expiresBy`. */
export function storedExpiry(m: Timed, now: number, maxTtl: number): number {
  return Math.min(now + honouredTtl(m, maxTtl), m.expiresBy ?? Infinity);
}

/** Until when the (recipient, mid) dedupe row holds: at least the dedupe window. */
export function dedupeUntil(m: Timed, now: number, maxTtl: number, window: number): number {
  return now + Math.max(honouredTtl(m, maxTtl), window);
}
