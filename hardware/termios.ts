/**
 * Serial ports on the shared libc binding (hardware/libc.ts): open, read and
 * write non-blocking, termios (tcgetattr, cfmakeraw, cfsetispeed/cfsetospeed,
 * tcsetattr), modem lines (ioctl TIOCMGET/TIOCMSET) and tcsendbreak. Linux
 * glibc layout (x86_64 and aarch64 share it). No library of its own: the
 * caller's {@link Libc} is the only dlopen of libc in the plugin.
 *
 * @module
 */
// Plugins reach this file as `@myclerk/hardware/termios.ts` (plugin import map); the
// relative imports below resolve to the same core/errors.ts the SDK re-exports.
import { alloc, ERRNO, ErrorCode, Libc, MyClerkError, SYS } from "./libc.ts";

/** termios and modem-line constants (Linux, asm-generic); open flags are libc.ts' `SYS`. */
export const C = {
  TCSANOW: 0,
  TCIOFLUSH: 2,
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

/**
 * Serial-port calls on the one libc binding ({@link Libc} of hardware/libc.ts):
 * a plugin opens libc once and hands it here, so the serial plugin and the
 * GSM port use the same library handle for termios, reads, writes and
 * `pollAsync`. Failures throw MyClerkError `WHAT-failed` with
 * `{ errno, errnoName }` (hardware/errno.ts).
 */
export class Termios {
  /** Serial calls on `libc` (opened by the caller, normally from `ctx.grant.ffi.libc`). */
  constructor(readonly libc: Libc) {}

  /** open(2) read/write, no controlling tty, non-blocking (ENOENT NOT_FOUND, EACCES FORBIDDEN, EBUSY SERVICE_UNAVAILABLE). */
  openPort(path: string): number {
    return Libc.check(this.libc.sysOpen(path, SYS.O_RDWR | SYS.O_NOCTTY | SYS.O_NONBLOCK), "open");
  }

  /** close(2). */
  close(fd: number): void {
    this.libc.close(fd);
  }

  /** Non-blocking read of at most `max` bytes; 0 bytes when nothing is there (EAGAIN). */
  read(fd: number, max: number): Uint8Array<ArrayBuffer> {
    const buf = alloc(max);
    const n = this.libc.sysRead(fd, buf, max);
    if (n === -ERRNO.EAGAIN) return new Uint8Array(0);
    return buf.subarray(0, Libc.check(n, "read"));
  }

  /** write(2); returns bytes written (0 when the kernel's buffer is full). */
  write(fd: number, data: Uint8Array): number {
    const n = this.libc.sysWrite(fd, data);
    if (n === -ERRNO.EAGAIN) return 0;
    return Libc.check(n, "write");
  }

  /** Applies a raw-mode line configuration (termios) and reads it back. */
  configure(fd: number, cfg: LineConfig): LineConfig {
    const speed = BAUD.get(cfg.baud);
    if (speed === undefined) {
      throw new MyClerkError(ErrorCode.BAD_REQUEST, "baud", { supported: [...BAUD.keys()] });
    }
    const t = alloc(T.size);
    Libc.check(this.libc.sysTcgetattr(fd, t), "tcgetattr", ErrorCode.BAD_REQUEST);
    this.libc.cfmakeraw(t);
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
    Libc.check(this.libc.sysCfsetspeed(t, speed), "cfsetspeed", ErrorCode.BAD_REQUEST);
    Libc.check(this.libc.sysTcsetattr(fd, C.TCSANOW, t), "tcsetattr", ErrorCode.BAD_REQUEST);
    return this.current(fd);
  }

  /** The line configuration as the kernel holds it now. */
  current(fd: number): LineConfig {
    const t = alloc(T.size);
    Libc.check(this.libc.sysTcgetattr(fd, t), "tcgetattr", ErrorCode.BAD_REQUEST);
    const dv = new DataView(t.buffer);
    const cflag = dv.getUint32(T.cflag, true);
    const iflag = dv.getUint32(T.iflag, true);
    const speed = this.libc.cfgetospeed(t);
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

  /** Modem lines via ioctl TIOCMGET. A PTY has none: UNSUPPORTED `modem-lines-failed` (ENOTTY). */
  modemGet(fd: number): ModemLines {
    const b = alloc(4);
    Libc.check(this.libc.sysIoctl(fd, C.TIOCMGET, b), "modem-lines", ErrorCode.UNSUPPORTED);
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
    const b = alloc(4);
    Libc.check(this.libc.sysIoctl(fd, C.TIOCMGET, b), "modem-lines", ErrorCode.UNSUPPORTED);
    const dv = new DataView(b.buffer);
    let v = dv.getInt32(0, true);
    if (set.dtr !== undefined) v = set.dtr ? v | C.TIOCM_DTR : v & ~C.TIOCM_DTR;
    if (set.rts !== undefined) v = set.rts ? v | C.TIOCM_RTS : v & ~C.TIOCM_RTS;
    dv.setInt32(0, v, true);
    Libc.check(this.libc.sysIoctl(fd, C.TIOCMSET, b), "modem-lines", ErrorCode.UNSUPPORTED);
    return this.modemGet(fd);
  }

  /** tcsendbreak(3): `duration` 0 = 0.25-0.5 s. */
  sendBreak(fd: number, duration = 0): void {
    Libc.check(this.libc.sysTcsendbreak(fd, duration), "break", ErrorCode.UNSUPPORTED);
  }
}
