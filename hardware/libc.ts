/**
 * The libc core every hardware binding shares: open/close/read/write, ioctl,
 * poll (blocking on a worker thread, so the event loop keeps running),
 * termios (tcgetattr/tcsetattr/cfmakeraw/speeds/tcsendbreak, for
 * hardware/termios.ts),
 * sockets (socket/bind/setsockopt/getsockopt), if_nametoindex, fcntl, errno,
 * and the address of a buffer (for structs that hold pointers, such as
 * `i2c_msg.buf` or `spi_ioc_transfer.tx_buf`).
 *
 * The plugin holds `--allow-ffi=<libc path>` only, so nothing here may use
 * `Deno.UnsafePointer`/`UnsafePointerView` (they need unscoped FFI): errno
 * is copied out with libc's own `memcpy`, and a buffer's address is what
 * `memmove(buf, buf, 0)` returns.
 *
 * Calls named `sys*` return the C result, or `-errno` when it failed; the
 * other methods throw {@link MyClerkError} with `{ errno, errnoName }`.
 *
 * @module
 */
import { ErrorCode, type ErrorCodeValue, type ErrorExtra, MyClerkError } from "../core/errors.ts";
import { ERRNO, errnoCode, errnoName, sysError } from "./errno.ts";

export { ErrorCode, MyClerkError };
export type { ErrorCodeValue, ErrorExtra };
// The errno vocabulary lives in errno.ts (no FFI: plugins without libc use it too).
export { ERRNO, errnoCode, errnoName, sysError };

const SYMBOLS = {
  open: { parameters: ["buffer", "i32", "u32"], result: "i32" },
  close: { parameters: ["i32"], result: "i32" },
  read: { parameters: ["i32", "buffer", "usize"], result: "isize" },
  write: { parameters: ["i32", "buffer", "usize"], result: "isize" },
  ioctl: { parameters: ["i32", "u64", "buffer"], result: "i32" },
  ioctlInt: { name: "ioctl", parameters: ["i32", "u64", "u64"], result: "i32" },
  poll: { parameters: ["buffer", "u64", "i32"], result: "i32" },
  pollAsync: {
    name: "poll",
    parameters: ["buffer", "u64", "i32"],
    result: "i32",
    nonblocking: true,
  },
  fcntl: { parameters: ["i32", "i32", "i64"], result: "i32" },
  socket: { parameters: ["i32", "i32", "i32"], result: "i32" },
  bind: { parameters: ["i32", "buffer", "u32"], result: "i32" },
  connect: { parameters: ["i32", "buffer", "u32"], result: "i32" },
  setsockopt: { parameters: ["i32", "i32", "i32", "buffer", "u32"], result: "i32" },
  getsockopt: { parameters: ["i32", "i32", "i32", "buffer", "buffer"], result: "i32" },
  if_nametoindex: { parameters: ["buffer"], result: "u32" },
  syscall: { parameters: ["i64", "i64", "i64", "i64", "i64", "i64"], result: "i64" },
  syscallBuf: { name: "syscall", parameters: ["i64", "buffer", "i64", "i64"], result: "i64" },
  syscallIBuf: {
    name: "syscall",
    parameters: ["i64", "i64", "i64", "buffer", "i64"],
    result: "i64",
  },
  prctl: { parameters: ["i32", "u64", "u64", "u64", "u64"], result: "i32" },
  getpid: { parameters: [], result: "i32" },
  execve: { parameters: ["buffer", "buffer", "buffer"], result: "i32" },
  // termios (hardware/termios.ts): glibc functions over the TCGETS/TCSETS ioctls.
  tcgetattr: { parameters: ["i32", "buffer"], result: "i32" },
  tcsetattr: { parameters: ["i32", "i32", "buffer"], result: "i32" },
  cfmakeraw: { parameters: ["buffer"], result: "void" },
  cfsetispeed: { parameters: ["buffer", "u32"], result: "i32" },
  cfsetospeed: { parameters: ["buffer", "u32"], result: "i32" },
  cfgetospeed: { parameters: ["buffer"], result: "u32" },
  tcsendbreak: { parameters: ["i32", "i32"], result: "i32" },
  __errno_location: { parameters: [], result: "pointer" },
  memcpy: { parameters: ["buffer", "pointer", "usize"], result: "pointer" },
  memmove: { parameters: ["buffer", "buffer", "usize"], result: "usize" },
} as const;

/** Constants of the Linux x86_64/aarch64 ABI used by more than one binding. */
export const SYS = {
  O_RDONLY: 0,
  O_WRONLY: 1,
  O_RDWR: 2,
  O_NOCTTY: 0o400,
  O_NONBLOCK: 0o4000,
  O_DIRECTORY: 0o200000,
  O_CLOEXEC: 0o2000000,
  O_PATH: 0o10000000,
  F_GETFL: 3,
  F_SETFL: 4,
  POLLIN: 0x1,
  POLLOUT: 0x4,
  POLLERR: 0x8,
  POLLHUP: 0x10,
  POLLNVAL: 0x20,
  AF_INET: 2,
  SOCK_STREAM: 1,
  SOCK_RAW: 3,
  SOCK_NONBLOCK: 0o4000,
  SOCK_CLOEXEC: 0o2000000,
} as const;

/**
 * A buffer safe to hand to the kernel by address: always backed by its own
 * ArrayBuffer (V8 keeps small `new Uint8Array(n)` data inside the JS heap,
 * where the garbage collector may move it).
 */
export function alloc(n: number): Uint8Array<ArrayBuffer> {
  return new Uint8Array(new ArrayBuffer(Math.max(8, n)), 0, n);
}

/** NUL-terminated copy of a string, for path and name arguments. */
export function cstr(s: string): Uint8Array<ArrayBuffer> {
  const b = new TextEncoder().encode(s);
  const out = alloc(b.length + 1);
  out.set(b);
  return out;
}

type Lib = Deno.DynamicLibrary<typeof SYMBOLS>;

/** libc opened through FFI (the host-granted file), with the shared calls as methods. */
export class Libc {
  private readonly lib: Lib;

  /** Opens libc at `path` (normally `ctx.grant.ffi.libc`). */
  constructor(readonly path: string) {
    this.lib = Deno.dlopen(path, SYMBOLS);
  }

  /** Current errno of this thread. */
  errno(): number {
    const b = new Uint8Array(4);
    this.lib.symbols.memcpy(b, this.lib.symbols.__errno_location(), 4n);
    return new DataView(b.buffer).getInt32(0, true);
  }

  /** `r`, or `-errno` when `r < 0`. */
  private neg(r: number | bigint): number {
    const n = Number(r);
    return n < 0 ? -this.errno() : n;
  }

  /** Throws {@link sysError} when `r` is negative (a `-errno` from a `sys*` call); else returns it. */
  static check(r: number, what: string, code?: ErrorCodeValue): number {
    if (r < 0) throw sysError(what, -r, code);
    return r;
  }

  /** The address of `buf`'s first byte (allocate it with {@link alloc} and keep it referenced). */
  addressOf(buf: Uint8Array<ArrayBuffer>): bigint {
    return BigInt(this.lib.symbols.memmove(buf, buf, 0n));
  }

  /** open(2); fd or -errno. */
  sysOpen(path: string, flags: number, mode = 0): number {
    return this.neg(this.lib.symbols.open(cstr(path), flags | SYS.O_CLOEXEC, mode));
  }

  /** open(2), throwing (ENOENT NOT_FOUND, EACCES FORBIDDEN, ...). */
  open(path: string, flags: number = SYS.O_RDWR): number {
    return Libc.check(this.sysOpen(path, flags), "open");
  }

  /** close(2); a failed close is not retried (Linux closes the fd anyway). */
  close(fd: number): void {
    this.lib.symbols.close(fd);
  }

  /** read(2) into `buf`; bytes read or -errno (-EAGAIN when non-blocking and empty). */
  sysRead(fd: number, buf: Uint8Array<ArrayBuffer>, len = buf.length): number {
    return this.neg(this.lib.symbols.read(fd, buf, BigInt(len)));
  }

  /** write(2) of `data`; bytes written or -errno. */
  sysWrite(fd: number, data: Uint8Array, len = data.length): number {
    return this.neg(this.lib.symbols.write(fd, data as Uint8Array<ArrayBuffer>, BigInt(len)));
  }

  /** ioctl(2) with a pointer argument (or NULL); result or -errno. */
  sysIoctl(fd: number, request: number, arg: Uint8Array<ArrayBuffer> | null): number {
    return this.neg(this.lib.symbols.ioctl(fd, BigInt(request), arg));
  }

  /**
   * ioctl(2) with an integer argument (I2C_SLAVE, I2C_TIMEOUT...): the value
   * travels as the pointer-sized third argument, as the kernel reads it.
   */
  sysIoctlInt(fd: number, request: number, value: number): number {
    return this.neg(this.lib.symbols.ioctlInt(fd, BigInt(request), BigInt(value)));
  }

  /** fcntl(2) with an integer argument; result or -errno. */
  sysFcntl(fd: number, cmd: number, arg = 0): number {
    return this.neg(this.lib.symbols.fcntl(fd, cmd, BigInt(arg)));
  }

  /** Sets O_NONBLOCK on `fd`. */
  setNonBlocking(fd: number): void {
    const fl = Libc.check(this.sysFcntl(fd, SYS.F_GETFL), "fcntl");
    Libc.check(this.sysFcntl(fd, SYS.F_SETFL, fl | SYS.O_NONBLOCK), "fcntl");
  }

  /** poll(2) on one fd, blocking this thread; revents, 0 on timeout, or -errno. */
  sysPoll(fd: number, events: number, timeoutMs: number): number {
    const p = pollfd(fd, events);
    const r = this.neg(this.lib.symbols.poll(p, 1n, timeoutMs));
    return r > 0 ? new DataView(p.buffer).getInt16(6, true) : r;
  }

  /**
   * poll(2) on one fd on a worker thread (the event loop keeps running);
   * resolves to revents, 0 on timeout, or -errno.
   */
  async pollAsync(fd: number, events: number, timeoutMs: number): Promise<number> {
    const p = pollfd(fd, events);
    const r = Number(await this.lib.symbols.pollAsync(p, 1n, timeoutMs));
    // errno of the worker thread is not ours to read: report a failure as EINTR-like retry.
    if (r < 0) return -ERRNO.EINTR;
    return r > 0 ? new DataView(p.buffer).getInt16(6, true) : 0;
  }

  /** socket(2); fd or -errno (SOCK_CLOEXEC is always added). */
  sysSocket(domain: number, type: number, protocol: number): number {
    return this.neg(this.lib.symbols.socket(domain, type | SYS.SOCK_CLOEXEC, protocol));
  }

  /** bind(2) to the `sockaddr` in `addr`; 0 or -errno. */
  sysBind(fd: number, addr: Uint8Array<ArrayBuffer>): number {
    return this.neg(this.lib.symbols.bind(fd, addr, addr.length));
  }

  /** connect(2) to the `sockaddr` in `addr`; 0 or -errno. */
  sysConnect(fd: number, addr: Uint8Array<ArrayBuffer>): number {
    return this.neg(this.lib.symbols.connect(fd, addr, addr.length));
  }

  /** setsockopt(2) with `value` as the option bytes (may be empty); 0 or -errno. */
  sysSetsockopt(fd: number, level: number, name: number, value: Uint8Array<ArrayBuffer>): number {
    return this.neg(this.lib.symbols.setsockopt(fd, level, name, value, value.length));
  }

  /** getsockopt(2) into `out`; the option's length or -errno. */
  sysGetsockopt(fd: number, level: number, name: number, out: Uint8Array<ArrayBuffer>): number {
    const len = alloc(4);
    new DataView(len.buffer).setUint32(0, out.length, true);
    const r = this.neg(this.lib.symbols.getsockopt(fd, level, name, out, len));
    return r < 0 ? r : new DataView(len.buffer).getUint32(0, true);
  }

  /** if_nametoindex(3): interface index, or 0 when there is no such interface. */
  ifNameToIndex(name: string): number {
    return this.lib.symbols.if_nametoindex(cstr(name));
  }

  /** syscall(2) with integer arguments; result or -errno. */
  sysSyscall(nr: number, a = 0n, b = 0n, c = 0n, d = 0n, e = 0n): number {
    return this.neg(this.lib.symbols.syscall(BigInt(nr), a, b, c, d, e));
  }

  /** syscall(2) whose first argument is a buffer; result or -errno. */
  sysSyscallBuf(nr: number, buf: Uint8Array<ArrayBuffer> | null, b = 0n, c = 0n): number {
    return this.neg(this.lib.symbols.syscallBuf(BigInt(nr), buf, b, c));
  }

  /** syscall(2) whose third argument is a buffer (`nr(a, b, buf, d)`); result or -errno. */
  sysSyscallIBuf(nr: number, a: bigint, b: bigint, buf: Uint8Array<ArrayBuffer>, d = 0n): number {
    return this.neg(this.lib.symbols.syscallIBuf(BigInt(nr), a, b, buf, d));
  }

  /** prctl(2); result or -errno. */
  sysPrctl(option: number, a = 0n, b = 0n, c = 0n, d = 0n): number {
    return this.neg(this.lib.symbols.prctl(option, a, b, c, d));
  }

  /**
   * execve(2): replaces this process with `path` (argv, envp as given).
   * Returns only on failure, with -errno.
   */
  sysExecve(path: string, argv: readonly string[], envp: readonly string[]): number {
    const keep: Uint8Array<ArrayBuffer>[] = [];
    const table = (items: readonly string[]) => {
      const t = alloc((items.length + 1) * 8);
      const dv = new DataView(t.buffer);
      items.forEach((s, i) => {
        const c = cstr(s);
        keep.push(c);
        dv.setBigUint64(i * 8, this.addressOf(c), true);
      });
      return t;
    };
    const a = table(argv);
    const e = table(envp);
    const r = this.neg(this.lib.symbols.execve(cstr(path), a, e));
    keep.length = 0; // the strings had to live until execve returned
    return r;
  }

  /** tcgetattr(3) into `termios` (glibc's struct termios); 0 or -errno. */
  sysTcgetattr(fd: number, termios: Uint8Array<ArrayBuffer>): number {
    return this.neg(this.lib.symbols.tcgetattr(fd, termios));
  }

  /** tcsetattr(3) from `termios` (`when`: TCSANOW 0, TCSADRAIN 1, TCSAFLUSH 2); 0 or -errno. */
  sysTcsetattr(fd: number, when: number, termios: Uint8Array<ArrayBuffer>): number {
    return this.neg(this.lib.symbols.tcsetattr(fd, when, termios));
  }

  /** cfmakeraw(3): raw mode in `termios` (no syscall). */
  cfmakeraw(termios: Uint8Array<ArrayBuffer>): void {
    this.lib.symbols.cfmakeraw(termios);
  }

  /** cfsetispeed(3) and cfsetospeed(3) to the speed constant `speed`; 0 or -errno. */
  sysCfsetspeed(termios: Uint8Array<ArrayBuffer>, speed: number): number {
    const r = this.neg(this.lib.symbols.cfsetispeed(termios, speed));
    return r < 0 ? r : this.neg(this.lib.symbols.cfsetospeed(termios, speed));
  }

  /** cfgetospeed(3): the output speed constant in `termios`. */
  cfgetospeed(termios: Uint8Array<ArrayBuffer>): number {
    return this.lib.symbols.cfgetospeed(termios);
  }

  /** tcsendbreak(3) (`duration` 0: 0.25-0.5 s); 0 or -errno. */
  sysTcsendbreak(fd: number, duration: number): number {
    return this.neg(this.lib.symbols.tcsendbreak(fd, duration));
  }

  /** getpid(2). */
  getpid(): number {
    return this.lib.symbols.getpid();
  }

  /** Releases the library. */
  unload(): void {
    this.lib.close();
  }
}

function pollfd(fd: number, events: number): Uint8Array<ArrayBuffer> {
  // struct pollfd { int fd; short events; short revents; } = 8 bytes
  const p = alloc(8);
  const dv = new DataView(p.buffer);
  dv.setInt32(0, fd, true);
  dv.setInt16(4, events, true);
  return p;
}
