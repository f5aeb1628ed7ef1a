/**
 * A real pseudo-terminal for tests (posix_openpt/grantpt/unlockpt/ptsname_r
 * through FFI on libc), with the master side's non-blocking read and write.
 * Kept separate from the plugin's own bindings so the test does not share
 * the code it tests.
 *
 * @module
 */

const SYMBOLS = {
  posix_openpt: { parameters: ["i32"], result: "i32" },
  grantpt: { parameters: ["i32"], result: "i32" },
  unlockpt: { parameters: ["i32"], result: "i32" },
  ptsname_r: { parameters: ["i32", "buffer", "usize"], result: "i32" },
  read: { parameters: ["i32", "buffer", "usize"], result: "isize" },
  write: { parameters: ["i32", "buffer", "usize"], result: "isize" },
  close: { parameters: ["i32"], result: "i32" },
} as const;

/** The master side of a PTY pair. */
export interface Pty {
  /** Path of the slave side (`/dev/pts/N`), what the plugin opens. */
  readonly slave: string;
  /** Non-blocking read from the master (empty when nothing is there). */
  read(max: number): Uint8Array;
  /** Write to the master (arrives at the slave). */
  write(data: Uint8Array): number;
  /** Closes the master and unloads libc. */
  close(): void;
}

/** Opens a PTY pair using libc at `libcPath`. */
export function openPty(libcPath: string): Pty {
  const lib = Deno.dlopen(libcPath, SYMBOLS);
  const s = lib.symbols;
  const O_RDWR = 2, O_NOCTTY = 0o400, O_NONBLOCK = 0o4000;
  const fd = s.posix_openpt(O_RDWR | O_NOCTTY | O_NONBLOCK);
  const name = new Uint8Array(128);
  if (fd < 0 || s.grantpt(fd) !== 0 || s.unlockpt(fd) !== 0 || s.ptsname_r(fd, name, 128n) !== 0) {
    lib.close();
    throw new Error("cannot open a pseudo-terminal");
  }
  return {
    slave: new TextDecoder().decode(name.subarray(0, name.indexOf(0))),
    read(max) {
      const b = new Uint8Array(max);
      const n = Number(s.read(fd, b, BigInt(max)));
      return n > 0 ? b.subarray(0, n) : new Uint8Array(0);
    },
    write(data) {
      return Number(s.write(fd, data as Uint8Array<ArrayBuffer>, BigInt(data.length)));
    },
    close() {
      s.close(fd);
      lib.close();
    },
  };
}
