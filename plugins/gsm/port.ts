/**
 * The modem's tty: opened raw with termios (`@myclerk/hardware/termios.ts`),
 * read by a loop that blocks in `poll(2)` on a worker thread (FFI
 * `nonblocking`), so bytes reach the AT engine as soon as they arrive and
 * an idle modem costs nothing. POLLHUP/POLLERR, a read error, or the device
 * node vanishing mean the port is lost (USB modem reset, cable pulled).
 *
 * @module
 */
import { ErrorCode, MyClerkError } from "@myclerk/plugin-sdk";
import { Libc } from "@myclerk/hardware/termios.ts";

const POLL = {
  poll: { parameters: ["buffer", "u64", "i32"], result: "i32", nonblocking: true },
} as const;

const POLLIN = 0x001, POLLERR = 0x008, POLLHUP = 0x010, POLLNVAL = 0x020;
/** Longest single poll: bounds how long close() waits for the reader. */
const POLL_MS = 100;

/** An open modem port. */
export class ModemPort {
  private closed = false;
  private readonly loop: Promise<void>;

  private constructor(
    private readonly libc: Libc,
    private readonly pollLib: Deno.DynamicLibrary<typeof POLL>,
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
    const libc = new Libc(libcPath);
    let fd = -1;
    try {
      fd = libc.openPort(path);
      libc.configure(fd, { baud, dataBits: 8, parity: "none", stopBits: 1, flow: "none" });
    } catch (e) {
      if (fd >= 0) libc.close(fd);
      libc.unload();
      throw e;
    }
    const pollLib = Deno.dlopen(libcPath, POLL);
    return new ModemPort(libc, pollLib, fd, path, onData, onLost);
  }

  /** The reader: poll, read, hand bytes over; detects hang-ups and vanished nodes. */
  private async run(): Promise<void> {
    const pfd = new Uint8Array(8);
    const dv = new DataView(pfd.buffer);
    let lastCheck = performance.now();
    while (!this.closed) {
      dv.setInt32(0, this.fd, true);
      dv.setInt16(4, POLLIN, true);
      dv.setInt16(6, 0, true);
      const n = await this.pollLib.symbols.poll(pfd, 1n, POLL_MS);
      if (this.closed) return;
      const rev = dv.getInt16(6, true);
      if (n > 0 && (rev & POLLIN) !== 0) {
        let data: Uint8Array;
        try {
          data = this.libc.read(this.fd, 4096);
        } catch (e) {
          return this.lost(`read-failed:${(e as MyClerkError).extra?.errno ?? "?"}`);
        }
        if (data.length > 0) this.onData(data.slice());
        else if ((rev & (POLLHUP | POLLERR)) !== 0) return this.lost("hangup");
      } else if (n > 0 && (rev & (POLLHUP | POLLERR | POLLNVAL)) !== 0) {
        return this.lost("hangup");
      } else if (n < 0) {
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
      this.libc.close(this.fd);
    } catch { /* already gone */ }
  }

  /** Writes all of `text` (Latin-1), retrying a full kernel buffer for a bounded time. */
  async write(text: string): Promise<void> {
    if (this.closed) throw new MyClerkError(ErrorCode.SERVICE_UNAVAILABLE, "modem-absent");
    const data = new Uint8Array(text.length);
    for (let i = 0; i < text.length; i++) data[i] = text.charCodeAt(i) & 0xff;
    let off = 0;
    for (let tries = 0; off < data.length && tries < 400; tries++) {
      const n = this.libc.write(this.fd, data.subarray(off));
      off += n;
      if (n === 0) await new Promise((r) => setTimeout(r, 5));
    }
    if (off < data.length) throw new MyClerkError(ErrorCode.TIMEOUT, "write-stalled");
  }

  /** Stops the reader, closes the fd, unloads the libraries. */
  async close(): Promise<void> {
    this.closed = true;
    await this.loop.catch(() => {});
    this.release();
    this.pollLib.close();
    this.libc.unload();
  }

  /** Waits for the reader to stop after a loss, then frees the libraries. */
  async dispose(): Promise<void> {
    await this.close();
  }
}
