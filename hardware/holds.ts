/**
 * Who holds which device: handles owned by sessions. A device (a path, an
 * interface name) is held by one session at a time unless every holder
 * opened it `shared`; a handle is visible only to the session that opened
 * it (another session's handle number is NOT_FOUND, so handles leak
 * nothing); a session that ends releases everything it held.
 *
 * Pure bookkeeping: the caller opens and closes the real resource. Every bus
 * plugin with handles (USB, GPIO, serial, SPI, CAN) keeps them here, so the
 * busy / foreign-handle / session-end answers are the same on every bus.
 *
 * @module
 */
import { ErrorCode, type ErrorExtra, MyClerkError } from "../core/errors.ts";

export type { ErrorExtra };

/** How a {@link HoldTable} shares a device key. */
export interface HoldOptions {
  /**
   * At most one handle per key, even for the session that holds it (a GPIO
   * line, a USB device, a tty: a second handle on the same device would
   * fight the first in the kernel or the library). `shared` is then ignored.
   */
  readonly oneHandlePerKey?: boolean;
}

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
  /** key -> its holds, so a check looks at one device's holders, not every handle. */
  private readonly byKey = new Map<string, Set<Hold<T>>>();
  private next = 1;

  /** At most `max` handles open at once (more: SERVICE_UNAVAILABLE `too-many-handles`). */
  constructor(readonly max: number = 64, readonly options: HoldOptions = {}) {}

  /**
   * Checks that `session` may open `key` now; throws SERVICE_UNAVAILABLE
   * `device-busy` `{ device, bySelf, ...extra }` (held by another session and
   * not shared by both; with `oneHandlePerKey`, held at all) or
   * `too-many-handles` `{ max }`.
   */
  check(session: number, key: string, shared: boolean, extra: ErrorExtra = {}): void {
    if (this.byHandle.size >= this.max) {
      throw new MyClerkError(ErrorCode.SERVICE_UNAVAILABLE, "too-many-handles", { max: this.max });
    }
    for (const h of this.byKey.get(key) ?? []) {
      const busy = this.options.oneHandlePerKey === true ||
        (h.session !== session && !(h.shared && shared));
      if (busy) {
        throw new MyClerkError(ErrorCode.SERVICE_UNAVAILABLE, "device-busy", {
          device: key,
          bySelf: h.session === session,
          ...extra,
        });
      }
    }
  }

  /** Records an opened resource (call {@link HoldTable.check} first); returns its handle. */
  add(session: number, key: string, shared: boolean, value: T): Hold<T> {
    const h: Hold<T> = { handle: this.next++, session, key, shared, value };
    this.byHandle.set(h.handle, h);
    let set = this.byKey.get(key);
    if (set === undefined) this.byKey.set(key, set = new Set());
    set.add(h);
    return h;
  }

  /** Drops `h` from both indexes. */
  private forget(h: Hold<T>): void {
    this.byHandle.delete(h.handle);
    const set = this.byKey.get(h.key);
    set?.delete(h);
    if (set?.size === 0) this.byKey.delete(h.key);
  }

  /**
   * The hold for `handle` whoever owns it, or undefined: for the plugin's own
   * checks (is this handle still open?), never to answer a session.
   */
  find(handle: number): Hold<T> | undefined {
    return this.byHandle.get(handle);
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
    this.forget(h);
    return h;
  }

  /** Removes and returns every hold of `session` (it ended). */
  takeSession(session: number): Hold<T>[] {
    const out = [...this.byHandle.values()].filter((h) => h.session === session);
    for (const h of out) this.forget(h);
    return out;
  }

  /** Removes and returns every hold (plugin shutdown). */
  takeAll(): Hold<T>[] {
    const out = [...this.byHandle.values()];
    this.byHandle.clear();
    this.byKey.clear();
    return out;
  }

  /** Sessions holding `key` now. */
  holders(key: string): number[] {
    return [...(this.byKey.get(key) ?? [])].map((h) => h.session);
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
