/**
 * The test's own end of a serial line: libc open/read/write/ioctl(TIOCMGET)
 * /close through FFI, non-blocking. Kept apart from `hardware/termios.ts`
 * so the far side of the line does not share the code under test; raw mode
 * is set with `stty` (a separate program) for the same reason.
 *
 * @module
 */

const SYMBOLS = {
  open: { parameters: ["buffer", "i32"], result: "i32" },
  read: { parameters: ["i32", "buffer", "usize"], result: "isize" },
  write: { parameters: ["i32", "buffer", "usize"], result: "isize" },
  ioctl: { parameters: ["i32", "u64", "buffer"], result: "i32" },
  close: { parameters: ["i32"], result: "i32" },
  __errno_location: { parameters: [], result: "pointer" },
} as const;

const O_RDWR_NOCTTY_NONBLOCK_CLOEXEC = 0o2 | 0o400 | 0o4000 | 0o2000000;
const EAGAIN = 11;
const TIOCMGET = 0x5415n;

/** TIOCMGET's answer: the bit mask, or the errno it failed with. */
export type ModemBits = { readonly ok: true; readonly bits: number } | {
  readonly ok: false;
  readonly errno: number;
};

/** One open tty, non-blocking. */
export interface Tty {
  /** The device path. */
  readonly path: string;
  /** Bytes available now (empty when none). */
  read(max: number): Uint8Array;
  /** Writes what the kernel takes now; returns the count (0 when its buffer is full). */
  write(data: Uint8Array): number;
  /** ioctl(TIOCMGET). */
  modemBits(): ModemBits;
  /** Closes the fd and unloads libc. */
  close(): void;
}

/** Opens `path` O_RDWR|O_NOCTTY|O_NONBLOCK with libc at `libcPath`. */
export function openTty(libcPath: string, path: string): Tty {
  const lib = Deno.dlopen(libcPath, SYMBOLS);
  const errno = () => new Deno.UnsafePointerView(lib.symbols.__errno_location()!).getInt32();
  const fd = lib.symbols.open(
    new TextEncoder().encode(path + "\0"),
    O_RDWR_NOCTTY_NONBLOCK_CLOEXEC,
  );
  if (fd < 0) {
    const e = errno();
    lib.close();
    throw new Error(`open ${path}: errno ${e}`);
  }
  let closed = false;
  return {
    path,
    read(max) {
      const buf = new Uint8Array(max);
      const n = Number(lib.symbols.read(fd, buf, BigInt(max)));
      if (n >= 0) return buf.subarray(0, n);
      const e = errno();
      if (e === EAGAIN) return new Uint8Array(0);
      throw new Error(`read ${path}: errno ${e}`);
    },
    write(data) {
      const n = Number(
        lib.symbols.write(fd, data as Uint8Array<ArrayBuffer>, BigInt(data.length)),
      );
      if (n >= 0) return n;
      const e = errno();
      if (e === EAGAIN) return 0;
      throw new Error(`write ${path}: errno ${e}`);
    },
    modemBits() {
      const b = new Int32Array(1);
      const r = lib.symbols.ioctl(fd, TIOCMGET, new Uint8Array(b.buffer));
      return r < 0 ? { ok: false, errno: errno() } : { ok: true, bits: b[0] };
    },
    close() {
      if (closed) return;
      closed = true;
      lib.symbols.close(fd);
      lib.close();
    },
  };
}

/** `stty -F path args...` (bounded by `timeout`); throws with its stderr on failure. */
export async function stty(path: string, ...args: string[]): Promise<string> {
  const out = await new Deno.Command("timeout", {
    args: ["5", "stty", "-F", path, ...args],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const td = new TextDecoder();
  if (!out.success) throw new Error(`stty -F ${path} ${args.join(" ")}: ${td.decode(out.stderr)}`);
  return td.decode(out.stdout);
}

/**
 * A usbmon text capture (`/sys/kernel/debug/usb/usbmon/0u`, every bus) read by
 * `cat` in a child process, so stopping it is a kill, not a blocked read.
 */
export interface UsbMon {
  /** The lines captured so far. */
  lines(): string[];
  /** Kills the reader and waits for it. */
  stop(): Promise<void>;
}

/** Starts a usbmon capture (needs `modprobe usbmon` and debugfs mounted: run.sh does both). */
export function startUsbMon(file = "/sys/kernel/debug/usb/usbmon/0u"): UsbMon {
  Deno.statSync(file); // fail now, clearly, when usbmon is not there
  const child = new Deno.Command("cat", { args: [file], stdout: "piped", stderr: "null" }).spawn();
  let text = "";
  const pump = (async () => {
    const td = new TextDecoder();
    for await (const chunk of child.stdout) text += td.decode(chunk, { stream: true });
  })();
  return {
    lines: () => text.split("\n").filter((l) => l !== ""),
    async stop() {
      try {
        child.kill("SIGTERM");
      } catch { /* already gone */ }
      await child.status;
      await pump;
    },
  };
}

/**
 * CDC-ACM class requests (host to interface, bmRequestType 0x21) in a usbmon
 * capture: `{ req, wValue, data }` per Submission, oldest first.
 * 0x20 SET_LINE_CODING (data: dwDTERate LE, bCharFormat, bParityType, bDataBits),
 * 0x22 SET_CONTROL_LINE_STATE (wValue bit 0 DTR, bit 1 RTS), 0x23 SEND_BREAK.
 */
export function acmRequests(
  lines: readonly string[],
): { readonly req: number; readonly wValue: number; readonly data: readonly number[] }[] {
  const out: { req: number; wValue: number; data: number[] }[] = [];
  for (const l of lines) {
    // e.g. "ffff... 123 S Co:1:002:0 s 21 20 0000 0001 0007 7 = 80250000 020207"
    const m =
      / S Co:\d+:\d+:0 s 21 ([0-9a-f]{2}) ([0-9a-f]{4}) [0-9a-f]{4} [0-9a-f]{4} \d+(?: = ([0-9a-f ]+))?/
        .exec(l);
    if (m === null) continue;
    const hex = (m[3] ?? "").replace(/ /g, "");
    const data = hex.match(/../g)?.map((h) => parseInt(h, 16)) ?? [];
    out.push({ req: parseInt(m[1], 16), wValue: parseInt(m[2], 16), data });
  }
  return out;
}
