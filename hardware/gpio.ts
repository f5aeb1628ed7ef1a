/**
 * libgpiod v1 (`libgpiod.so.2`, Debian bookworm's 1.6) through Deno FFI.
 * libgpiod v2 (`libgpiod.so.3`) is a different API (line requests and
 * settings objects): {@link openGpiod} refuses it by name, so a node with
 * only v2 says so instead of calling v1 symbols that are not there.
 *
 * Pointers are handled as integers (`u64`): a path-scoped FFI grant does not
 * allow Deno.UnsafePointerView, so C strings behind libgpiod's pointers are
 * copied out with libc's `strlen`/`memcpy`, resolved through libgpiod's own
 * handle (dlsym searches its dependency tree). The same route gives the
 * plugin libc `open`/`write`/`close` for the sysfs PWM files, which Deno's
 * own file API does not let a scoped plugin write.
 *
 * `gpiod_line_event_wait` blocks: it is bound `nonblocking`, so it runs on a
 * pool thread and the plugin's event loop keeps serving.
 *
 * @module
 */

const SYMBOLS = {
  gpiod_chip_open: { parameters: ["buffer"], result: "u64" },
  gpiod_chip_close: { parameters: ["u64"], result: "void" },
  gpiod_chip_name: { parameters: ["u64"], result: "u64" },
  gpiod_chip_label: { parameters: ["u64"], result: "u64" },
  gpiod_chip_num_lines: { parameters: ["u64"], result: "u32" },
  gpiod_chip_get_line: { parameters: ["u64", "u32"], result: "u64" },
  gpiod_line_update: { parameters: ["u64"], result: "i32" },
  gpiod_line_name: { parameters: ["u64"], result: "u64" },
  gpiod_line_consumer: { parameters: ["u64"], result: "u64" },
  gpiod_line_direction: { parameters: ["u64"], result: "i32" },
  gpiod_line_active_state: { parameters: ["u64"], result: "i32" },
  gpiod_line_bias: { parameters: ["u64"], result: "i32" },
  gpiod_line_is_open_drain: { parameters: ["u64"], result: "bool" },
  gpiod_line_is_open_source: { parameters: ["u64"], result: "bool" },
  gpiod_line_is_used: { parameters: ["u64"], result: "bool" },
  gpiod_line_request_input_flags: { parameters: ["u64", "buffer", "i32"], result: "i32" },
  gpiod_line_request_output_flags: {
    parameters: ["u64", "buffer", "i32", "i32"],
    result: "i32",
  },
  gpiod_line_request_rising_edge_events_flags: {
    parameters: ["u64", "buffer", "i32"],
    result: "i32",
  },
  gpiod_line_request_falling_edge_events_flags: {
    parameters: ["u64", "buffer", "i32"],
    result: "i32",
  },
  gpiod_line_request_both_edges_events_flags: {
    parameters: ["u64", "buffer", "i32"],
    result: "i32",
  },
  gpiod_line_release: { parameters: ["u64"], result: "void" },
  gpiod_line_get_value: { parameters: ["u64"], result: "i32" },
  gpiod_line_set_value: { parameters: ["u64", "i32"], result: "i32" },
  gpiod_line_event_wait: { parameters: ["u64", "buffer"], result: "i32", nonblocking: true },
  gpiod_line_event_read_multiple: { parameters: ["u64", "buffer", "u32"], result: "i32" },
  gpiod_version_string: { parameters: [], result: "u64" },
  // libc, through libgpiod's handle (see the module comment).
  strlen: { parameters: ["u64"], result: "usize" },
  memcpy: { parameters: ["buffer", "u64", "usize"], result: "u64" },
  __errno_location: { parameters: [], result: "u64" },
  open: { parameters: ["buffer", "i32"], result: "i32" },
  write: { parameters: ["i32", "buffer", "usize"], result: "isize" },
  read: { parameters: ["i32", "buffer", "usize"], result: "isize" },
  close: { parameters: ["i32"], result: "i32" },
  ioctl: { parameters: ["i32", "u64", "buffer"], result: "i32" },
} as const;

type Lib = Deno.DynamicLibrary<typeof SYMBOLS>["symbols"];

/** Request flags of libgpiod v1 (`GPIOD_LINE_REQUEST_FLAG_*`). */
export const GpioFlag = {
  OPEN_DRAIN: 1 << 0,
  OPEN_SOURCE: 1 << 1,
  ACTIVE_LOW: 1 << 2,
  BIAS_DISABLE: 1 << 3,
  BIAS_PULL_DOWN: 1 << 4,
  BIAS_PULL_UP: 1 << 5,
} as const;

/** Line bias as libgpiod reports and requests it. */
export type Bias = "as-is" | "disable" | "pull-up" | "pull-down";
/** Output drive. */
export type Drive = "push-pull" | "open-drain" | "open-source";
/** Edge(s) a watch waits for. */
export type Edge = "rising" | "falling" | "both";

/** What GPIO_LINE_INFO shows about one line. */
export interface LineInfo {
  /** Offset on its chip. */
  readonly offset: number;
  /** Line name from the driver or device tree ("" when none). */
  readonly name: string;
  /** Who holds it ("" when free). */
  readonly consumer: string;
  /** Current direction. */
  readonly direction: "input" | "output";
  /** True when the line is active-low. */
  readonly activeLow: boolean;
  /** Bias as the kernel reports it. */
  readonly bias: Bias;
  /** Drive as the kernel reports it. */
  readonly drive: Drive;
  /** True when some consumer (in or outside this node) holds it. */
  readonly used: boolean;
}

/** One edge event. */
export interface EdgeEvent {
  /** Which edge. */
  readonly edge: "rising" | "falling";
  /** Kernel timestamp, ns (CLOCK_MONOTONIC or REALTIME as the kernel uses for v1 events). */
  readonly timestampNs: bigint;
}

/** An open chip. */
export interface Chip {
  /** The chip path it was opened from. */
  readonly path: string;
  /** The `struct gpiod_chip *`. */
  readonly ptr: bigint;
}

/** Opens libgpiod v1 at `path`; v2 (`libgpiod.so.3`) is refused with a clear reason. */
export function openGpiod(path: string): Libgpiod {
  if (/libgpiod\.so\.3/.test(path)) {
    throw new Error(
      `libgpiod v2 (${path}) has a different API; this plugin speaks v1 (libgpiod.so.2)`,
    );
  }
  return new Libgpiod(path);
}

const BIAS: readonly Bias[] = ["as-is", "as-is", "disable", "pull-up", "pull-down"];

/** The libgpiod v1 calls the GPIO plugin and bench use. */
export class Libgpiod {
  private readonly dl: Deno.DynamicLibrary<typeof SYMBOLS>;
  private readonly s: Lib;

  /** Opens `path` (the granted `libgpiod.so.2`). */
  constructor(path: string) {
    this.dl = Deno.dlopen(path, SYMBOLS);
    this.s = this.dl.symbols;
  }

  /** A C string at `p` ("" for NULL). */
  cstr(p: bigint): string {
    if (p === 0n) return "";
    const n = Number(this.s.strlen(p));
    const b = new Uint8Array(new ArrayBuffer(Math.max(1, n)));
    if (n > 0) this.s.memcpy(b, p, BigInt(n));
    return new TextDecoder().decode(b.subarray(0, n));
  }

  /** errno of the last failed call on this thread. */
  errno(): number {
    const b = new Uint8Array(4);
    this.s.memcpy(b, this.s.__errno_location(), 4n);
    return new DataView(b.buffer).getInt32(0, true);
  }

  /** libgpiod's version string. */
  version(): string {
    return this.cstr(this.s.gpiod_version_string());
  }

  /** Opens a chip by path (`/dev/gpiochipN`); throws with errno when it cannot. */
  open(path: string): Chip {
    const p = this.s.gpiod_chip_open(new TextEncoder().encode(path + "\0"));
    if (p === 0n) throw new GpioError("gpiod_chip_open", this.errno());
    return { path, ptr: p };
  }

  /** Closes a chip (releases every line requested through it). */
  close(c: Chip): void {
    this.s.gpiod_chip_close(c.ptr);
  }

  /** Name, label and line count of an open chip. */
  chipInfo(c: Chip): { readonly name: string; readonly label: string; readonly lines: number } {
    return {
      name: this.cstr(this.s.gpiod_chip_name(c.ptr)),
      label: this.cstr(this.s.gpiod_chip_label(c.ptr)),
      lines: this.s.gpiod_chip_num_lines(c.ptr),
    };
  }

  /** The line pointer for `offset` (owned by the chip). */
  line(c: Chip, offset: number): bigint {
    const l = this.s.gpiod_chip_get_line(c.ptr, offset);
    if (l === 0n) throw new GpioError("gpiod_chip_get_line", this.errno());
    return l;
  }

  /** Current info of a line, refreshed from the kernel. */
  info(line: bigint, offset: number): LineInfo {
    this.s.gpiod_line_update(line);
    return {
      offset,
      name: this.cstr(this.s.gpiod_line_name(line)),
      consumer: this.cstr(this.s.gpiod_line_consumer(line)),
      direction: this.s.gpiod_line_direction(line) === 2 ? "output" : "input",
      activeLow: this.s.gpiod_line_active_state(line) === 2,
      bias: BIAS[this.s.gpiod_line_bias(line)] ?? "as-is",
      drive: this.s.gpiod_line_is_open_drain(line)
        ? "open-drain"
        : this.s.gpiod_line_is_open_source(line)
        ? "open-source"
        : "push-pull",
      used: this.s.gpiod_line_is_used(line),
    };
  }

  /** Requests a line as input, output (with its first value) or for edge events. */
  request(
    line: bigint,
    consumer: string,
    mode: { readonly kind: "input" } | { readonly kind: "output"; readonly value: number } | {
      readonly kind: "events";
      readonly edge: Edge;
    },
    flags: number,
  ): void {
    const c = new TextEncoder().encode(consumer.slice(0, 31) + "\0");
    let rc: number;
    if (mode.kind === "input") rc = this.s.gpiod_line_request_input_flags(line, c, flags);
    else if (mode.kind === "output") {
      rc = this.s.gpiod_line_request_output_flags(line, c, flags, mode.value);
    } else if (mode.edge === "rising") {
      rc = this.s.gpiod_line_request_rising_edge_events_flags(line, c, flags);
    } else if (mode.edge === "falling") {
      rc = this.s.gpiod_line_request_falling_edge_events_flags(line, c, flags);
    } else rc = this.s.gpiod_line_request_both_edges_events_flags(line, c, flags);
    if (rc < 0) throw new GpioError("gpiod_line_request", this.errno());
  }

  /** Releases a requested line. */
  release(line: bigint): void {
    this.s.gpiod_line_release(line);
  }

  /** The logical value (active-low applied). */
  get(line: bigint): number {
    const v = this.s.gpiod_line_get_value(line);
    if (v < 0) throw new GpioError("gpiod_line_get_value", this.errno());
    return v;
  }

  /** Sets the logical value of an output line. */
  set(line: bigint, value: number): void {
    if (this.s.gpiod_line_set_value(line, value) < 0) {
      throw new GpioError("gpiod_line_set_value", this.errno());
    }
  }

  /**
   * Waits up to `timeoutMs` on a pool thread for edge events, then reads at
   * most `max` of them (the kernel queues 16 per line in uAPI v1).
   */
  async events(line: bigint, timeoutMs: number, max = 16): Promise<EdgeEvent[]> {
    const ts = new BigInt64Array([
      BigInt(Math.floor(timeoutMs / 1000)),
      BigInt((timeoutMs % 1000) * 1_000_000),
    ]);
    const rc = await this.s.gpiod_line_event_wait(line, ts);
    if (rc < 0) throw new GpioError("gpiod_line_event_wait", this.errno());
    if (rc === 0) return [];
    // struct gpiod_line_event { struct timespec ts; int event_type; } = 24 bytes on LP64.
    const buf = new Uint8Array(24 * max);
    const n = this.s.gpiod_line_event_read_multiple(line, buf, max);
    if (n < 0) throw new GpioError("gpiod_line_event_read_multiple", this.errno());
    const v = new DataView(buf.buffer);
    const out: EdgeEvent[] = [];
    for (let i = 0; i < n; i++) {
      const sec = v.getBigInt64(i * 24, true);
      const nsec = v.getBigInt64(i * 24 + 8, true);
      out.push({
        edge: v.getInt32(i * 24 + 16, true) === 1 ? "rising" : "falling",
        timestampNs: sec * 1_000_000_000n + nsec,
      });
    }
    return out;
  }

  /** Writes `text` to a sysfs file with libc (see the module comment); returns -errno or 0. */
  sysfsWrite(path: string, text: string): number {
    const fd = this.s.open(new TextEncoder().encode(path + "\0"), 0o1 | 0o2000000);
    if (fd < 0) return -this.errno();
    try {
      const b = new TextEncoder().encode(text);
      const n = Number(this.s.write(fd, b, BigInt(b.length)));
      return n < 0 ? -this.errno() : 0;
    } finally {
      this.s.close(fd);
    }
  }

  /** Raw ioctl on an fd (bench: the direct-ioctl peer). */
  ioctl(fd: number, req: bigint, arg: Uint8Array): number {
    const r = this.s.ioctl(fd, req, arg);
    return r < 0 ? -this.errno() : r;
  }

  /** libc open (bench). */
  openFd(path: string, flags: number): number {
    const fd = this.s.open(new TextEncoder().encode(path + "\0"), flags);
    return fd < 0 ? -this.errno() : fd;
  }

  /** libc close (bench). */
  closeFd(fd: number): void {
    this.s.close(fd);
  }

  /** Unloads the library. */
  unload(): void {
    this.dl.close();
  }
}

/** A failed libgpiod call and its errno. */
export class GpioError extends Error {
  /**
   * A failure of `fn` with `errno`.
   *
   * @param fn the libgpiod function
   * @param errno errno after the call
   */
  constructor(readonly fn: string, readonly errno: number) {
    super(`${fn}: errno ${errno}`);
    this.name = "GpioError";
  }
}
