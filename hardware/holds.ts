/**
 * Who holds which device: handles owned by sessions. A device (a path, an
 * interface name) is held by one session at a time unless every holder
 * opened it `shared`; a handle is visible only to the session that opened
 * it (another session's handle number is NOT_FOUND, so handles leak
 * nothing); a session that ends releases everything it held.
 *
 * Pure bookkeeping: the caller opens and closes the real resource.
 *
 * @module
 */
import { ErrorCode, MyClerkError } from "../core/errors.ts";

/** One open handle. */
export interface Hold<T> {
  /** Handle number (u32, unique within the plugin instance). */
  readonly handle: number;
  /** Session that opened it. */
  readonly session: number;
  /** The device key (path or interface name). */
  readonly key: string;
  /** Opened for sharing with other sessions. */
  readonly shared: boolean;
  /** The resource. */
  readonly value: T;
}

/** The handle table of one plugin. */
export class HoldTable<T> {
  private readonly byHandle = new Map<number, Hold<T>>();
  private next = 1;

  /** At most `max` handles open at once (more: SERVICE_UNAVAILABLE `too-many-handles`). */
  constructor(readonly max: number = 64) {}

  /**
   * Checks that `session` may open `key` now; throws SERVICE_UNAVAILABLE
   * `device-busy` (held by another session, not shared by both) or
   * `too-many-handles`.
   */
  check(session: number, key: string, shared: boolean): void {
    if (this.byHandle.size >= this.max) {
      throw new MyClerkError(ErrorCode.SERVICE_UNAVAILABLE, "too-many-handles", { max: this.max });
    }
    for (const h of this.byHandle.values()) {
      if (h.key === key && h.session !== session && !(h.shared && shared)) {
        throw new MyClerkError(ErrorCode.SERVICE_UNAVAILABLE, "device-busy", { device: key });
      }
    }
  }

  /** Records an opened resource (call {@link HoldTable.check} first); returns its handle. */
  add(session: number, key: string, shared: boolean, value: T): Hold<T> {
    const h: Hold<T> = { handle: this.next++, session, key, shared, value };
    this.byHandle.set(h.handle, h);
    return h;
  }

  /** The hold for `handle` if `session` owns it, else NOT_FOUND `no-such-handle`. */
  get(session: number, handle: unknown): Hold<T> {
    const h = typeof handle === "number" ? this.byHandle.get(handle) : undefined;
    if (h === undefined || h.session !== session) {
      throw new MyClerkError(ErrorCode.NOT_FOUND, "no-such-handle");
    }
    return h;
  }

  /** Removes and returns the hold (NOT_FOUND as {@link HoldTable.get}). */
  take(session: number, handle: unknown): Hold<T> {
    const h = this.get(session, handle);
    this.byHandle.delete(h.handle);
    return h;
  }

  /** Removes and returns every hold of `session` (it ended). */
  takeSession(session: number): Hold<T>[] {
    const out = [...this.byHandle.values()].filter((h) => h.session === session);
    for (const h of out) this.byHandle.delete(h.handle);
    return out;
  }

  /** Removes and returns every hold (plugin shutdown). */
  takeAll(): Hold<T>[] {
    const out = [...this.byHandle.values()];
    this.byHandle.clear();
    return out;
  }

  /** Sessions holding `key` now. */
  holders(key: string): number[] {
    return [...this.byHandle.values()].filter((h) => h.key === key).map((h) => h.session);
  }

  /** Every hold (read-only view). */
  values(): IterableIterator<Hold<T>> {
    return this.byHandle.values();
  }

  /** Number of open handles. */
  get size(): number {
    return this.byHandle.size;
  }
}
