/**
 * The modem's tty: opened raw with termios (`@myclerk/hardware/termios.ts`),
 * read by a loop that blocks in `poll(2)` on a worker thread
 * (`Libc.pollAsync`), so bytes reach the AT engine as soon as they arrive
 * and an idle modem costs nothing. POLLHUP/POLLERR, a read error, or the
 * device node vanishing mean the port is lost (USB modem reset, cable
 * pulled).
 *
 * libc is opened once per plugin process (the one binding of
 * hardware/libc.ts), not once per port: a modem that resets reopens its port
 * many times.
 *
 * @module
 */
import { ErrorCode, MyClerkError } from "@myclerk/plugin-sdk";
import { Libc, SYS } from "@myclerk/hardware/libc.ts";
import { Termios } from "@myclerk/hardware/termios.ts";

const { POLLIN, POLLERR, POLLHUP, POLLNVAL } = SYS;
/** Longest single poll: bounds how long close() waits for the reader. */
const POLL_MS = 100;

/** The process's libc binding per granted path (one in practice). */
const bindings = new Map<string, Termios>();

function termiosAt(libcPath: string): Termios {
  let t = bindings.get(libcPath);
  if (t === undefined) bindings.set(libcPath, t = new Termios(new Libc(libcPath)));
  return t;
}

/** An open modem port. */
export class ModemPort {
  private closed = false;
  private readonly loop: Promise<void>;

  private constructor(
    private readonly tty: Termios,
    private readonly fd: number,
    /** The path it was opened by. */
    readonly path: string,
    private readonly onData: (b: Uint8Array) => void,
    private readonly onLost: (why: string) => void,
  ) {
    this.loop = this.run();
  }

  /** Opens `path` raw at `baud`; throws NOT_FOUND `open-failed` when it is not there. */
  static open(
    libcPath: string,
    path: string,
    baud: number,
    onData: (b: Uint8Array) => void,
    onLost: (why: string) => void,
  ): ModemPort {
    const tty = termiosAt(libcPath);
    let fd = -1;
    try {
      fd = tty.openPort(path);
      tty.configure(fd, { baud, dataBits: 8, parity: "none", stopBits: 1, flow: "none" });
    } catch (e) {
      if (fd >= 0) tty.close(fd);
      throw e;
    }
    return new ModemPort(tty, fd, path, onData, onLost);
  }

  /** The reader: poll, read, hand bytes over; detects hang-ups and vanished nodes. */
  private async run(): Promise<void> {
    let lastCheck = performance.now();
    while (!this.closed) {
      // revents when ready, 0 on time-out, < 0 when poll itself failed
      const rev = await this.tty.libc.pollAsync(this.fd, POLLIN, POLL_MS);
      if (this.closed) return;
      if (rev > 0 && (rev & POLLIN) !== 0) {
        let data: Uint8Array;
        try {
          data = this.tty.read(this.fd, 4096);
        } catch (e) {
          return this.lost(`read-failed:${(e as MyClerkError).extra?.errno ?? "?"}`);
        }
        if (data.length > 0) this.onData(data.slice());
        else if ((rev & (POLLHUP | POLLERR)) !== 0) return this.lost("hangup");
      } else if (rev > 0 && (rev & (POLLHUP | POLLERR | POLLNVAL)) !== 0) {
        return this.lost("hangup");
      } else if (rev < 0) {
        return this.lost("poll-failed");
      }
      // A USB modem that resets can leave the old fd quiet rather than hung up: check the node.
      if (performance.now() - lastCheck > 500) {
        lastCheck = performance.now();
        try {
          Deno.statSync(this.path);
        } catch {
          return this.lost("device-gone");
        }
      }
    }
  }

  /** Marks the port lost once and tells the owner. */
  private lost(why: string): void {
    if (this.closed) return;
    this.closed = true;
    this.release();
    this.onLost(why);
  }

  private released = false;
  /** Closes the fd once. */
  private release(): void {
    if (this.released) return;
    this.released = true;
    try {
      this.tty.close(this.fd);
    } catch { /* already gone */ }
  }

  /** Writes all of `text` (Latin-1), retrying a full kernel buffer for a bounded time. */
  async write(text: string): Promise<void> {
    if (this.closed) throw new MyClerkError(ErrorCode.SERVICE_UNAVAILABLE, "modem-absent");
    const data = new Uint8Array(text.length);
    for (let i = 0; i < text.length; i++) data[i] = text.charCodeAt(i) & 0xff;
    let off = 0;
    for (let tries = 0; off < data.length && tries < 400; tries++) {
      const n = this.tty.write(this.fd, data.subarray(off));
      off += n;
      if (n === 0) await new Promise((r) => setTimeout(r, 5));
    }
    if (off < data.length) throw new MyClerkError(ErrorCode.TIMEOUT, "write-stalled");
  }

  /** Stops the reader and closes the fd (libc stays open for the next port). */
  async close(): Promise<void> {
    this.closed = true;
    await this.loop.catch(() => {});
    this.release();
  }

  /** Waits for the reader to stop after a loss, then closes the fd. */
  async dispose(): Promise<void> {
    await this.close();
  }
}
