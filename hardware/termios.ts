/**
 * libc bindings for serial ports: open/close/read/write, termios
 * (tcgetattr, cfmakeraw, cfsetispeed/cfsetospeed, tcsetattr), modem lines
 * (ioctl TIOCMGET/TIOCMSET) and tcsendbreak. Linux glibc layout
 * (x86_64 and aarch64 share it).
 *
 * The library path comes from the host's FFI grant; nothing else is opened.
 *
 * @module
 */
// Plugins reach this file as `@myclerk/hardware/termios.ts` (plugin import map); the
// relative import below resolves to the same core/errors.ts the SDK re-exports.
import { ErrorCode, MyClerkError } from "../core/errors.ts";

const SYMBOLS = {
  open: { parameters: ["buffer", "i32"], result: "i32" },
  close: { parameters: ["i32"], result: "i32" },
  read: { parameters: ["i32", "buffer", "usize"], result: "isize" },
  write: { parameters: ["i32", "buffer", "usize"], result: "isize" },
  tcgetattr: { parameters: ["i32", "buffer"], result: "i32" },
  tcsetattr: { parameters: ["i32", "i32", "buffer"], result: "i32" },
  cfmakeraw: { parameters: ["buffer"], result: "void" },
  cfsetispeed: { parameters: ["buffer", "u32"], result: "i32" },
  cfsetospeed: { parameters: ["buffer", "u32"], result: "i32" },
  cfgetospeed: { parameters: ["buffer"], result: "u32" },
  tcsendbreak: { parameters: ["i32", "i32"], result: "i32" },
  tcflush: { parameters: ["i32", "i32"], result: "i32" },
  ioctl: { parameters: ["i32", "u64", "buffer"], result: "i32" },
  __errno_location: { parameters: [], result: "pointer" },
  memcpy: { parameters: ["buffer", "pointer", "usize"], result: "pointer" },
} as const;

/** Flags and constants (Linux, asm-generic). */
export const C = {
  O_RDWR: 0o2,
  O_NOCTTY: 0o400,
  O_NONBLOCK: 0o4000,
  O_CLOEXEC: 0o2000000,
  TCSANOW: 0,
  TCIOFLUSH: 2,
  EAGAIN: 11,
  CSIZE: 0o60,
  CS5: 0o0,
  CS6: 0o20,
  CS7: 0o40,
  CS8: 0o60,
  CSTOPB: 0o100,
  CREAD: 0o200,
  PARENB: 0o400,
  PARODD: 0o1000,
  CLOCAL: 0o4000,
  CRTSCTS: 0o20000000000,
  INPCK: 0o20,
  IXON: 0o2000,
  IXOFF: 0o10000,
  TIOCMGET: 0x5415,
  TIOCMSET: 0x5418,
  TIOCM_DTR: 0x002,
  TIOCM_RTS: 0x004,
  TIOCM_CTS: 0x020,
  TIOCM_CAR: 0x040,
  TIOCM_RNG: 0x080,
  TIOCM_DSR: 0x100,
} as const;

/** Offsets in glibc's `struct termios` (60 bytes; we allocate 64). */
const T = { iflag: 0, oflag: 4, cflag: 8, lflag: 12, cc: 17, VTIME: 5, VMIN: 6, size: 64 } as const;

/** Baud rate -> termios speed constant. */
export const BAUD: ReadonlyMap<number, number> = new Map([
  [1200, 0o11],
  [2400, 0o13],
  [4800, 0o14],
  [9600, 0o15],
  [19200, 0o16],
  [38400, 0o17],
  [57600, 0o10001],
  [115200, 0o10002],
  [230400, 0o10003],
  [460800, 0o10004],
  [921600, 0o10007],
]);

/** Line settings of a port. */
export interface LineConfig {
  /** Baud rate: a key of {@link BAUD} (1200 to 921 600). */
  readonly baud: number;
  /** Data bits per character. */
  readonly dataBits: 5 | 6 | 7 | 8;
  /** Parity bit. */
  readonly parity: "none" | "even" | "odd";
  /** Stop bits. */
  readonly stopBits: 1 | 2;
  /** Flow control: none, hardware (RTS/CTS) or software (XON/XOFF). */
  readonly flow: "none" | "rtscts" | "xonxoff";
}

/** Modem control and status lines. */
export interface ModemLines {
  /** Data Terminal Ready (output). */
  readonly dtr: boolean;
  /** Request To Send (output). */
  readonly rts: boolean;
  /** Clear To Send (input). */
  readonly cts: boolean;
  /** Data Set Ready (input). */
  readonly dsr: boolean;
  /** Data Carrier Detect (input). */
  readonly dcd: boolean;
  /** Ring Indicator (input). */
  readonly ri: boolean;
}

type Lib = Deno.DynamicLibrary<typeof SYMBOLS>;

/** A libc opened through FFI, with the serial calls as methods. Throws MyClerkError with errno. */
export class Libc {
  private readonly lib: Lib;

  /** Opens libc at `path` (the host-granted file). */
  constructor(path: string) {
    this.lib = Deno.dlopen(path, SYMBOLS);
  }

  /**
   * Current errno. Copied out with libc's own memcpy: UnsafePointerView needs
   * unscoped FFI permission, and the plugin only holds `--allow-ffi=<libc>`.
   */
  errno(): number {
    const b = new Uint8Array(4);
    this.lib.symbols.memcpy(b, this.lib.symbols.__errno_location(), 4n);
    return new DataView(b.buffer).getInt32(0, true);
  }

  /** Returns `r`, or throws `code` with errno when the call failed (`r < 0`). */
  private check(r: number, what: string, code: number = ErrorCode.INTERNAL_ERROR): number {
    if (r < 0) {
      const errno = this.errno();
      throw new MyClerkError(code as typeof ErrorCode.INTERNAL_ERROR, `${what}-failed`, { errno });
    }
    return r;
  }

  /** open(2) read/write, no controlling tty, non-blocking. */
  openPort(path: string): number {
    const c = new TextEncoder().encode(path + "\0");
    return this.check(
      this.lib.symbols.open(c, C.O_RDWR | C.O_NOCTTY | C.O_NONBLOCK | C.O_CLOEXEC),
      "open",
      ErrorCode.NOT_FOUND,
    );
  }

  /** close(2). */
  close(fd: number): void {
    this.check(this.lib.symbols.close(fd), "close");
  }

  /** Non-blocking read; 0 bytes when nothing is there (EAGAIN). */
  read(fd: number, max: number): Uint8Array<ArrayBuffer> {
    const buf = new Uint8Array(max);
    const n = Number(this.lib.symbols.read(fd, buf, BigInt(max)));
    if (n < 0) {
      const errno = this.errno();
      if (errno === C.EAGAIN) return new Uint8Array(0);
      throw new MyClerkError(ErrorCode.INTERNAL_ERROR, "read-failed", { errno });
    }
    return buf.subarray(0, n);
  }

  /** write(2); returns bytes written (0 when the buffer is full). */
  write(fd: number, data: Uint8Array): number {
    const n = Number(
      this.lib.symbols.write(fd, data as Uint8Array<ArrayBuffer>, BigInt(data.length)),
    );
    if (n < 0) {
      const errno = this.errno();
      if (errno === C.EAGAIN) return 0;
      throw new MyClerkError(ErrorCode.INTERNAL_ERROR, "write-failed", { errno });
    }
    return n;
  }

  /** Applies a raw-mode line configuration (termios) and reads it back. */
  configure(fd: number, cfg: LineConfig): LineConfig {
    const speed = BAUD.get(cfg.baud);
    if (speed === undefined) {
      throw new MyClerkError(ErrorCode.BAD_REQUEST, "baud", { supported: [...BAUD.keys()] });
    }
    const t = new Uint8Array(T.size);
    this.check(this.lib.symbols.tcgetattr(fd, t), "tcgetattr", ErrorCode.BAD_REQUEST);
    this.lib.symbols.cfmakeraw(t);
    const dv = new DataView(t.buffer);
    let cflag = dv.getUint32(T.cflag, true);
    let iflag = dv.getUint32(T.iflag, true);
    cflag &= ~(C.CSIZE | C.CSTOPB | C.PARENB | C.PARODD | C.CRTSCTS);
    cflag |= [C.CS5, C.CS6, C.CS7, C.CS8][cfg.dataBits - 5] | C.CREAD | C.CLOCAL;
    if (cfg.stopBits === 2) cflag |= C.CSTOPB;
    iflag &= ~(C.IXON | C.IXOFF | C.INPCK);
    if (cfg.parity !== "none") {
      cflag |= C.PARENB;
      iflag |= C.INPCK;
    }
    if (cfg.parity === "odd") cflag |= C.PARODD;
    if (cfg.flow === "rtscts") cflag |= C.CRTSCTS;
    if (cfg.flow === "xonxoff") iflag |= C.IXON | C.IXOFF;
    dv.setUint32(T.cflag, cflag >>> 0, true);
    dv.setUint32(T.iflag, iflag >>> 0, true);
    // Non-blocking reads: VMIN=0, VTIME=0 (the plugin polls with its own deadline).
    t[T.cc + T.VMIN] = 0;
    t[T.cc + T.VTIME] = 0;
    this.check(this.lib.symbols.cfsetispeed(t, speed), "cfsetispeed", ErrorCode.BAD_REQUEST);
    this.check(this.lib.symbols.cfsetospeed(t, speed), "cfsetospeed", ErrorCode.BAD_REQUEST);
    this.check(this.lib.symbols.tcsetattr(fd, C.TCSANOW, t), "tcsetattr", ErrorCode.BAD_REQUEST);
    return this.current(fd);
  }

  /** The line configuration as the kernel holds it now. */
  current(fd: number): LineConfig {
    const t = new Uint8Array(T.size);
    this.check(this.lib.symbols.tcgetattr(fd, t), "tcgetattr", ErrorCode.BAD_REQUEST);
    const dv = new DataView(t.buffer);
    const cflag = dv.getUint32(T.cflag, true);
    const iflag = dv.getUint32(T.iflag, true);
    const speed = this.lib.symbols.cfgetospeed(t);
    const baud = [...BAUD].find(([, v]) => v === speed)?.[0] ?? 0;
    const size = cflag & C.CSIZE;
    return {
      baud,
      dataBits: size === C.CS8 ? 8 : size === C.CS7 ? 7 : size === C.CS6 ? 6 : 5,
      parity: (cflag & C.PARENB) === 0 ? "none" : (cflag & C.PARODD) !== 0 ? "odd" : "even",
      stopBits: (cflag & C.CSTOPB) !== 0 ? 2 : 1,
      flow: (cflag & C.CRTSCTS) !== 0 ? "rtscts" : (iflag & C.IXON) !== 0 ? "xonxoff" : "none",
    };
  }

  /** Modem lines via ioctl TIOCMGET. A PTY has none: UNSUPPORTED `modem-lines` with errno. */
  modemGet(fd: number): ModemLines {
    const b = new Uint8Array(4);
    this.check(
      this.lib.symbols.ioctl(fd, BigInt(C.TIOCMGET), b),
      "modem-lines",
      ErrorCode.UNSUPPORTED,
    );
    const v = new DataView(b.buffer).getInt32(0, true);
    return {
      dtr: (v & C.TIOCM_DTR) !== 0,
      rts: (v & C.TIOCM_RTS) !== 0,
      cts: (v & C.TIOCM_CTS) !== 0,
      dsr: (v & C.TIOCM_DSR) !== 0,
      dcd: (v & C.TIOCM_CAR) !== 0,
      ri: (v & C.TIOCM_RNG) !== 0,
    };
  }

  /** Sets DTR/RTS (read-modify-write with TIOCMGET/TIOCMSET). */
  modemSet(fd: number, set: { readonly dtr?: boolean; readonly rts?: boolean }): ModemLines {
    const b = new Uint8Array(4);
    this.check(
      this.lib.symbols.ioctl(fd, BigInt(C.TIOCMGET), b),
      "modem-lines",
      ErrorCode.UNSUPPORTED,
    );
    const dv = new DataView(b.buffer);
    let v = dv.getInt32(0, true);
    if (set.dtr !== undefined) v = set.dtr ? v | C.TIOCM_DTR : v & ~C.TIOCM_DTR;
    if (set.rts !== undefined) v = set.rts ? v | C.TIOCM_RTS : v & ~C.TIOCM_RTS;
    dv.setInt32(0, v, true);
    this.check(
      this.lib.symbols.ioctl(fd, BigInt(C.TIOCMSET), b),
      "modem-lines",
      ErrorCode.UNSUPPORTED,
    );
    return this.modemGet(fd);
  }

  /** tcsendbreak(3): `duration` 0 = 0.25-0.5 s. */
  sendBreak(fd: number, duration = 0): void {
    this.check(this.lib.symbols.tcsendbreak(fd, duration), "break", ErrorCode.UNSUPPORTED);
  }

  /** Releases the library. */
  unload(): void {
    this.lib.close();
  }
}
