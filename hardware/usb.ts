/**
 * libusb-1.0 (`libusb-1.0.so.0`, API 1.0.26) through Deno FFI.
 *
 * Every call that can wait on the bus (control, bulk, interrupt, string
 * descriptors, event handling) is bound with `nonblocking: true`: Deno runs
 * it on a blocking-pool thread and returns a promise, so a transfer never
 * stalls the plugin's event loop (heartbeats, other sessions). Isochronous
 * transfers have no synchronous API in libusb: they are submitted with the
 * async API and completed by `libusb_handle_events_timeout_completed` on that
 * thread; the transfer is allocated without a callback and its `status`
 * field, preset to a sentinel, tells when libusb has finished it.
 *
 * Struct offsets are those of x86_64 / aarch64 (LP64), as measured in
 * `../shared/hardware/libusb-1.0.26-abi-x86_64.txt`.
 *
 * Longer than ~500 lines on purpose: one binding of the libusb ABI (../shared/hardware notes): the
 * symbol table, struct layouts and transfer handling share the bound library.
 *
 * @module
 */

const SYMBOLS = {
  libusb_init: { parameters: ["buffer"], result: "i32" },
  libusb_exit: { parameters: ["u64"], result: "void" },
  libusb_get_device_list: { parameters: ["u64", "buffer"], result: "isize" },
  libusb_free_device_list: { parameters: ["u64", "i32"], result: "void" },
  libusb_ref_device: { parameters: ["u64"], result: "u64" },
  libusb_unref_device: { parameters: ["u64"], result: "void" },
  libusb_get_bus_number: { parameters: ["u64"], result: "u8" },
  libusb_get_device_address: { parameters: ["u64"], result: "u8" },
  libusb_get_port_numbers: { parameters: ["u64", "buffer", "i32"], result: "i32" },
  libusb_get_device_speed: { parameters: ["u64"], result: "i32" },
  libusb_get_device_descriptor: { parameters: ["u64", "buffer"], result: "i32" },
  libusb_get_active_config_descriptor: { parameters: ["u64", "buffer"], result: "i32" },
  libusb_get_config_descriptor: { parameters: ["u64", "u8", "buffer"], result: "i32" },
  libusb_free_config_descriptor: { parameters: ["u64"], result: "void" },
  libusb_open: { parameters: ["u64", "buffer"], result: "i32" },
  libusb_close: { parameters: ["u64"], result: "void" },
  libusb_kernel_driver_active: { parameters: ["u64", "i32"], result: "i32" },
  libusb_detach_kernel_driver: { parameters: ["u64", "i32"], result: "i32" },
  libusb_attach_kernel_driver: { parameters: ["u64", "i32"], result: "i32" },
  libusb_claim_interface: { parameters: ["u64", "i32"], result: "i32" },
  libusb_release_interface: { parameters: ["u64", "i32"], result: "i32" },
  libusb_get_configuration: { parameters: ["u64", "buffer"], result: "i32" },
  libusb_set_configuration: { parameters: ["u64", "i32"], result: "i32", nonblocking: true },
  libusb_set_interface_alt_setting: {
    parameters: ["u64", "i32", "i32"],
    result: "i32",
    nonblocking: true,
  },
  libusb_clear_halt: { parameters: ["u64", "u8"], result: "i32", nonblocking: true },
  libusb_reset_device: { parameters: ["u64"], result: "i32", nonblocking: true },
  libusb_control_transfer: {
    parameters: ["u64", "u8", "u8", "u16", "u16", "buffer", "u16", "u32"],
    result: "i32",
    nonblocking: true,
  },
  libusb_bulk_transfer: {
    parameters: ["u64", "u8", "buffer", "i32", "buffer", "u32"],
    result: "i32",
    nonblocking: true,
  },
  libusb_interrupt_transfer: {
    parameters: ["u64", "u8", "buffer", "i32", "buffer", "u32"],
    result: "i32",
    nonblocking: true,
  },
  libusb_alloc_transfer: { parameters: ["i32"], result: "u64" },
  libusb_free_transfer: { parameters: ["u64"], result: "void" },
  libusb_submit_transfer: { parameters: ["u64"], result: "i32" },
  libusb_cancel_transfer: { parameters: ["u64"], result: "i32" },
  libusb_handle_events_timeout_completed: {
    parameters: ["u64", "buffer", "u64"],
    result: "i32",
    nonblocking: true,
  },
  libusb_error_name: { parameters: ["i32"], result: "u64" },
  // Resolved through libusb's own handle: dlsym searches its dependency tree
  // (libc). Deno's FFI grant names the libusb file only, and a path-scoped
  // grant does not allow Deno.UnsafePointer/UnsafePointerView, so memory
  // behind libusb's pointers is copied out (and in) with libc's memcpy.
  memcpy: { parameters: ["buffer", "u64", "usize"], result: "u64" },
  memcpyTo: { name: "memcpy", parameters: ["u64", "buffer", "usize"], result: "u64" },
  strlen: { parameters: ["u64"], result: "usize" },
  malloc: { parameters: ["usize"], result: "u64" },
  free: { parameters: ["u64"], result: "void" },
} as const;

type Lib = Deno.DynamicLibrary<typeof SYMBOLS>["symbols"];

/** libusb error codes (negative return values). */
export const UsbError = {
  IO: -1,
  INVALID_PARAM: -2,
  ACCESS: -3,
  NO_DEVICE: -4,
  NOT_FOUND: -5,
  BUSY: -6,
  TIMEOUT: -7,
  OVERFLOW: -8,
  PIPE: -9,
  INTERRUPTED: -10,
  NO_MEM: -11,
  NOT_SUPPORTED: -12,
} as const;

/** Transfer status names, indexed by `libusb_transfer_status`. */
export const TRANSFER_STATUS = [
  "completed",
  "error",
  "timed-out",
  "cancelled",
  "stall",
  "no-device",
  "overflow",
] as const;

/** A failed libusb call: the function, its return code and libusb's name for it. */
export class UsbCallError extends Error {
  /**
   * A failure of `fn` with return code `rc`.
   *
   * @param fn the libusb function
   * @param rc its negative return code
   * @param errName libusb_error_name(rc)
   */
  constructor(readonly fn: string, readonly rc: number, readonly errName: string) {
    super(`${fn}: ${errName} (${rc})`);
    this.name = "UsbCallError";
  }
}

/** An endpoint descriptor. */
export interface EndpointDesc {
  /** bEndpointAddress (bit 7 set = IN). */
  readonly address: number;
  /** Transfer type from bmAttributes: control, isochronous, bulk or interrupt. */
  readonly type: "control" | "isochronous" | "bulk" | "interrupt";
  /** bmAttributes as is. */
  readonly attributes: number;
  /** wMaxPacketSize. */
  readonly maxPacketSize: number;
  /** bInterval. */
  readonly interval: number;
}

/** One alternate setting of an interface. */
export interface AltSettingDesc {
  /** bInterfaceNumber. */
  readonly interface: number;
  /** bAlternateSetting. */
  readonly altSetting: number;
  /** bInterfaceClass. */
  readonly class: number;
  /** bInterfaceSubClass. */
  readonly subClass: number;
  /** bInterfaceProtocol. */
  readonly protocol: number;
  /** iInterface (string index). */
  readonly iInterface: number;
  /** The endpoints of this setting. */
  readonly endpoints: readonly EndpointDesc[];
}

/** A configuration descriptor with its interfaces. */
export interface ConfigDesc {
  /** bConfigurationValue. */
  readonly value: number;
  /** bmAttributes. */
  readonly attributes: number;
  /** bMaxPower in units of 2 mA (USB 2) as in the descriptor. */
  readonly maxPower: number;
  /** wTotalLength. */
  readonly totalLength: number;
  /** Every interface's alternate settings, flattened. */
  readonly interfaces: readonly AltSettingDesc[];
}

/** The 18-byte device descriptor, decoded. */
export interface DeviceDesc {
  /** bcdUSB. */
  readonly bcdUSB: number;
  /** bDeviceClass. */
  readonly class: number;
  /** bDeviceSubClass. */
  readonly subClass: number;
  /** bDeviceProtocol. */
  readonly protocol: number;
  /** bMaxPacketSize0. */
  readonly maxPacketSize0: number;
  /** idVendor. */
  readonly vendorId: number;
  /** idProduct. */
  readonly productId: number;
  /** bcdDevice. */
  readonly bcdDevice: number;
  /** iManufacturer. */
  readonly iManufacturer: number;
  /** iProduct. */
  readonly iProduct: number;
  /** iSerialNumber. */
  readonly iSerialNumber: number;
  /** bNumConfigurations. */
  readonly numConfigurations: number;
}

/** A device as listed: where it sits and what it says about itself. */
export interface UsbDeviceInfo {
  /** `BUS-ADDRESS`, e.g. `1-2`: the id requests use. */
  readonly id: string;
  /** Bus number. */
  readonly bus: number;
  /** Device address on the bus. */
  readonly address: number;
  /** Port numbers from the root hub, e.g. [1] (as in sysfs `1-1`). */
  readonly ports: readonly number[];
  /** Negotiated speed. */
  readonly speed: "unknown" | "low" | "full" | "high" | "super" | "super-plus";
  /** Device descriptor. */
  readonly device: DeviceDesc;
  /** Active configuration (absent when unconfigured or unreadable). */
  readonly config?: ConfigDesc;
}

/** One isochronous packet's outcome. */
export interface IsoPacket {
  /** Status name (see {@link TRANSFER_STATUS}). */
  readonly status: string;
  /** Bytes transferred in this packet. */
  readonly length: number;
}

/** Outcome of one async (isochronous, or bulk/interrupt for comparison) transfer. */
export interface AsyncResult {
  /** Overall status name (see {@link TRANSFER_STATUS}). */
  readonly status: string;
  /** `actual_length` (bulk/interrupt; libusb leaves it 0 for isochronous). */
  readonly actualLength: number;
  /** Per-packet outcomes (isochronous only). */
  readonly packets: readonly IsoPacket[];
  /** The buffer: IN data lands here, for isochronous at packetSize strides. */
  readonly data: Uint8Array;
}

const SPEEDS = ["unknown", "low", "full", "high", "super", "super-plus"] as const;
const EP_TYPES = ["control", "isochronous", "bulk", "interrupt"] as const;
/** A value libusb never writes into `status`: the transfer is still ours until it changes. */
const PENDING = 0x7fffffff;

/** A C pointer as an integer (FFI `u64`): 0 is NULL. */
export type Ptr = bigint;

/** Reads `n` bytes at `p` (libc memcpy through libusb's handle). */
export type Peek = (p: Ptr, n: number) => DataView;

function parseConfig(peek: Peek, p: Ptr): ConfigDesc {
  const v = peek(p, 40);
  const le = true;
  const nIf = v.getUint8(4);
  const ifs = v.getBigUint64(16, le);
  const interfaces: AltSettingDesc[] = [];
  // bNumInterfaces 0 (legal) leaves no interface array to read.
  const iv = ifs === 0n || nIf === 0 ? undefined : peek(ifs, 16 * nIf);
  for (let i = 0; iv !== undefined && i < nIf; i++) {
    const alts = iv.getBigUint64(i * 16, le);
    const nAlt = iv.getInt32(i * 16 + 8, le);
    if (alts === 0n || nAlt <= 0) continue;
    const av = peek(alts, 40 * nAlt);
    for (let a = 0; a < nAlt; a++) {
      const o = a * 40;
      const nEp = av.getUint8(o + 4);
      const eps = av.getBigUint64(o + 16, le);
      const endpoints: EndpointDesc[] = [];
      if (eps !== 0n && nEp > 0) {
        const ev = peek(eps, 32 * nEp);
        for (let e = 0; e < nEp; e++) {
          const attributes = ev.getUint8(e * 32 + 3);
          endpoints.push({
            address: ev.getUint8(e * 32 + 2),
            type: EP_TYPES[attributes & 3],
            attributes,
            maxPacketSize: ev.getUint16(e * 32 + 4, le),
            interval: ev.getUint8(e * 32 + 6),
          });
        }
      }
      interfaces.push({
        interface: av.getUint8(o + 2),
        altSetting: av.getUint8(o + 3),
        class: av.getUint8(o + 5),
        subClass: av.getUint8(o + 6),
        protocol: av.getUint8(o + 7),
        iInterface: av.getUint8(o + 8),
        endpoints,
      });
    }
  }
  return {
    value: v.getUint8(5),
    attributes: v.getUint8(7),
    maxPower: v.getUint8(8),
    totalLength: v.getUint16(2, le),
    interfaces,
  };
}

/** Decodes an 18-byte device descriptor (raw bytes, as on the wire). */
export function parseDeviceDescriptor(b: Uint8Array): DeviceDesc {
  const d = new DataView(b.buffer, b.byteOffset, b.byteLength);
  return {
    bcdUSB: d.getUint16(2, true),
    class: b[4],
    subClass: b[5],
    protocol: b[6],
    maxPacketSize0: b[7],
    vendorId: d.getUint16(8, true),
    productId: d.getUint16(10, true),
    bcdDevice: d.getUint16(12, true),
    iManufacturer: b[14],
    iProduct: b[15],
    iSerialNumber: b[16],
    numConfigurations: b[17],
  };
}

/** An open device (libusb_device_handle). */
export interface UsbHandle {
  /** The device's id (`BUS-ADDRESS`). */
  readonly id: string;
  /** The raw `libusb_device_handle *`. */
  readonly ptr: bigint;
}

/** One libusb context and the calls the USB plugin and bench use. */
export class Libusb {
  private readonly dl: Deno.DynamicLibrary<typeof SYMBOLS>;
  private readonly s: Lib;
  private readonly ctx: Ptr;
  private closed = false;

  /** Opens `path` (the granted `libusb-1.0.so.0`) and initialises a context. */
  constructor(path: string) {
    this.dl = Deno.dlopen(path, SYMBOLS);
    this.s = this.dl.symbols;
    const out = new BigUint64Array(1);
    this.check("libusb_init", this.s.libusb_init(out));
    this.ctx = out[0];
  }

  /** Copies `n` bytes from C memory at `p`. */
  readonly peek: Peek = (p, n) => {
    const b = new Uint8Array(new ArrayBuffer(Math.max(n, 1)));
    if (n > 0) this.s.memcpy(b, p, BigInt(n));
    return new DataView(b.buffer, 0, n);
  };

  /** libusb_error_name for a return code. */
  errorName(rc: number): string {
    const p = this.s.libusb_error_name(rc);
    if (p === 0n) return String(rc);
    const n = Number(this.s.strlen(p));
    const v = this.peek(p, n);
    return new TextDecoder().decode(new Uint8Array(v.buffer, 0, n));
  }

  /** Throws {@link UsbCallError} when `rc` is negative; returns it otherwise. */
  check(fn: string, rc: number): number {
    if (rc < 0) throw new UsbCallError(fn, rc, this.errorName(rc));
    return rc;
  }

  /** Calls `f` with every device pointer of a fresh list, then frees the list. */
  private withDevices<T>(f: (devs: Ptr[]) => T): T {
    const out = new BigUint64Array(1);
    const n = Number(this.s.libusb_get_device_list(this.ctx, out));
    if (n < 0) this.check("libusb_get_device_list", n);
    const list = out[0];
    try {
      const v = this.peek(list, 8 * n);
      const devs: Ptr[] = [];
      for (let i = 0; i < n; i++) {
        const d = v.getBigUint64(i * 8, true);
        if (d !== 0n) devs.push(d);
      }
      return f(devs);
    } finally {
      this.s.libusb_free_device_list(list, 1);
    }
  }

  /** `BUS-ADDRESS` of a device pointer. */
  private idOf(d: Ptr): string {
    return `${this.s.libusb_get_bus_number(d)}-${this.s.libusb_get_device_address(d)}`;
  }

  /** Descriptors and location of a device pointer. */
  private info(d: Ptr): UsbDeviceInfo {
    const raw = new Uint8Array(18);
    this.check("libusb_get_device_descriptor", this.s.libusb_get_device_descriptor(d, raw));
    const ports = new Uint8Array(8);
    const np = this.s.libusb_get_port_numbers(d, ports, ports.length);
    let config: ConfigDesc | undefined;
    const out = new BigUint64Array(1);
    if (this.s.libusb_get_active_config_descriptor(d, out) === 0) {
      try {
        config = parseConfig(this.peek, out[0]);
      } finally {
        this.s.libusb_free_config_descriptor(out[0]);
      }
    }
    const base = {
      id: this.idOf(d),
      bus: this.s.libusb_get_bus_number(d),
      address: this.s.libusb_get_device_address(d),
      ports: np > 0 ? [...ports.subarray(0, np)] : [],
      speed: SPEEDS[this.s.libusb_get_device_speed(d)] ?? "unknown",
      device: parseDeviceDescriptor(raw),
    };
    return config === undefined ? base : { ...base, config };
  }

  /** Every device libusb sees, with its descriptors. */
  list(): UsbDeviceInfo[] {
    return this.withDevices((devs) => devs.map((d) => this.info(d)));
  }

  /** Configuration descriptor `index` of device `id` (libusb's parsed copy). */
  configDescriptor(id: string, index: number): ConfigDesc {
    return this.withDevices((devs) => {
      const d = devs.find((x) => this.idOf(x) === id);
      if (d === undefined) {
        throw new UsbCallError("find", UsbError.NO_DEVICE, "LIBUSB_ERROR_NO_DEVICE");
      }
      const out = new BigUint64Array(1);
      this.check(
        "libusb_get_config_descriptor",
        this.s.libusb_get_config_descriptor(d, index, out),
      );
      try {
        return parseConfig(this.peek, out[0]);
      } finally {
        this.s.libusb_free_config_descriptor(out[0]);
      }
    });
  }

  /** Opens device `id`; throws LIBUSB_ERROR_NO_DEVICE when it is not on the bus. */
  open(id: string): UsbHandle {
    return this.withDevices((devs) => {
      const d = devs.find((x) => this.idOf(x) === id);
      if (d === undefined) {
        throw new UsbCallError("libusb_open", UsbError.NO_DEVICE, "LIBUSB_ERROR_NO_DEVICE");
      }
      const out = new BigUint64Array(1);
      this.check("libusb_open", this.s.libusb_open(d, out));
      return { id, ptr: out[0] };
    });
  }

  /** libusb_close. */
  close(h: UsbHandle): void {
    this.s.libusb_close(h.ptr);
  }

  /** 1 when a kernel driver is bound to `iface`, 0 when none (negative: error thrown). */
  kernelDriverActive(h: UsbHandle, iface: number): boolean {
    return this.check(
      "libusb_kernel_driver_active",
      this.s.libusb_kernel_driver_active(h.ptr, iface),
    ) === 1;
  }

  /** Unbinds the kernel driver from `iface`. */
  detachKernelDriver(h: UsbHandle, iface: number): void {
    this.check("libusb_detach_kernel_driver", this.s.libusb_detach_kernel_driver(h.ptr, iface));
  }

  /** Binds the kernel driver to `iface` again. */
  attachKernelDriver(h: UsbHandle, iface: number): void {
    this.check("libusb_attach_kernel_driver", this.s.libusb_attach_kernel_driver(h.ptr, iface));
  }

  /** Claims `iface` for this process. */
  claim(h: UsbHandle, iface: number): void {
    this.check("libusb_claim_interface", this.s.libusb_claim_interface(h.ptr, iface));
  }

  /** Releases `iface` (sends SET_INTERFACE alt 0 on Linux). */
  release(h: UsbHandle, iface: number): void {
    this.check("libusb_release_interface", this.s.libusb_release_interface(h.ptr, iface));
  }

  /** bConfigurationValue the device is in (0 = unconfigured). */
  getConfiguration(h: UsbHandle): number {
    const out = new Int32Array(1);
    this.check("libusb_get_configuration", this.s.libusb_get_configuration(h.ptr, out));
    return out[0];
  }

  /** SET_CONFIGURATION (-1 = unconfigured). */
  async setConfiguration(h: UsbHandle, value: number): Promise<void> {
    this.check("libusb_set_configuration", await this.s.libusb_set_configuration(h.ptr, value));
  }

  /** SET_INTERFACE on a claimed interface. */
  async setAltSetting(h: UsbHandle, iface: number, alt: number): Promise<void> {
    this.check(
      "libusb_set_interface_alt_setting",
      await this.s.libusb_set_interface_alt_setting(h.ptr, iface, alt),
    );
  }

  /** CLEAR_FEATURE(ENDPOINT_HALT) and reset of the host-side data toggle. */
  async clearHalt(h: UsbHandle, endpoint: number): Promise<void> {
    this.check("libusb_clear_halt", await this.s.libusb_clear_halt(h.ptr, endpoint));
  }

  /** Port reset; the device re-enumerates (LIBUSB_ERROR_NOT_FOUND when it came back different). */
  async reset(h: UsbHandle): Promise<void> {
    this.check("libusb_reset_device", await this.s.libusb_reset_device(h.ptr));
  }

  /**
   * A control transfer. For IN (`requestType` bit 7) `data` is the receive
   * buffer and the result is the byte count received; for OUT it is sent.
   */
  async control(
    h: UsbHandle,
    requestType: number,
    request: number,
    value: number,
    index: number,
    data: Uint8Array,
    timeoutMs: number,
  ): Promise<number> {
    return this.check(
      "libusb_control_transfer",
      await this.s.libusb_control_transfer(
        h.ptr,
        requestType,
        request,
        value,
        index,
        data,
        data.length,
        timeoutMs,
      ),
    );
  }

  /**
   * A bulk or interrupt transfer on `endpoint` (IN when bit 7 is set).
   * Returns the bytes moved; a timeout after some bytes moved is not an
   * error (`timedOut` says so), as libusb reports it.
   */
  async transfer(
    kind: "bulk" | "interrupt",
    h: UsbHandle,
    endpoint: number,
    data: Uint8Array,
    timeoutMs: number,
  ): Promise<{ readonly length: number; readonly timedOut: boolean }> {
    const moved = new Int32Array(1);
    const fn = kind === "bulk" ? this.s.libusb_bulk_transfer : this.s.libusb_interrupt_transfer;
    const rc = await fn(h.ptr, endpoint, data, data.length, moved, timeoutMs);
    if (rc === UsbError.TIMEOUT) return { length: moved[0], timedOut: true };
    this.check(`libusb_${kind}_transfer`, rc);
    return { length: moved[0], timedOut: false };
  }

  /**
   * One isochronous transfer of `packets` packets of `packetSize` bytes on
   * `endpoint` (IN when bit 7 is set; `out` is sent for OUT).
   */
  iso(
    h: UsbHandle,
    endpoint: number,
    packets: number,
    packetSize: number,
    out: Uint8Array | undefined,
    timeoutMs: number,
  ): Promise<AsyncResult> {
    const buf = new Uint8Array(packets * packetSize);
    if (out !== undefined) buf.set(out.subarray(0, buf.length));
    return this.submit(h, "isochronous", endpoint, buf, packets, packetSize, timeoutMs);
  }

  /**
   * A transfer through libusb's async API: allocated without a callback,
   * submitted, then completed by event handling on a pool thread until its
   * `status` leaves the sentinel; cancelled at `timeoutMs` (the kernel's own
   * timeout applies first for bulk/interrupt/control).
   */
  async submit(
    h: UsbHandle,
    type: "isochronous" | "bulk" | "interrupt",
    endpoint: number,
    buf: Uint8Array,
    packets: number,
    packetSize: number,
    timeoutMs: number,
  ): Promise<AsyncResult> {
    const t = this.s.libusb_alloc_transfer(packets);
    const mem = this.s.malloc(BigInt(Math.max(1, buf.length)));
    if (t === 0n || mem === 0n) {
      if (t !== 0n) this.s.libusb_free_transfer(t);
      if (mem !== 0n) this.s.free(mem);
      throw new UsbCallError("libusb_alloc_transfer", UsbError.NO_MEM, "LIBUSB_ERROR_NO_MEM");
    }
    // The transfer and its data live in C memory (the kernel writes there
    // while JS objects may move): built in a JS buffer, copied in, copied out.
    const size = 64 + 12 * packets;
    const img = new DataView(new ArrayBuffer(size));
    const le = true;
    img.setBigUint64(0, h.ptr, le);
    img.setUint8(8, 0);
    img.setUint8(9, endpoint);
    img.setUint8(10, EP_TYPES.indexOf(type));
    img.setUint32(12, type === "isochronous" ? 0 : timeoutMs, le);
    img.setInt32(16, PENDING, le);
    img.setInt32(20, buf.length, le);
    img.setBigUint64(32, 0n, le); // no callback: `status` is polled
    img.setBigUint64(40, 0n, le);
    img.setBigUint64(48, mem, le);
    img.setInt32(56, packets, le);
    for (let i = 0; i < packets; i++) img.setUint32(60 + i * 12, packetSize, le);
    const outgoing = (endpoint & 0x80) === 0;
    let inKernel = false;
    try {
      if (outgoing && buf.length > 0) this.s.memcpyTo(mem, buf, BigInt(buf.length));
      this.s.memcpyTo(t, new Uint8Array(img.buffer), BigInt(size));
      this.check("libusb_submit_transfer", this.s.libusb_submit_transfer(t));
      inKernel = true;
      const tv = new BigInt64Array([0n, 50_000n]); // 50 ms per event-handling round
      // Bulk/interrupt carry libusb's own timeout (status TIMED_OUT); the cancel here is a
      // backstop for them, and the deadline of an isochronous transfer (status CANCELLED).
      const cancelAt = performance.now() + timeoutMs + (type === "isochronous" ? 0 : 1000);
      let cancelled = false;
      const status = () => this.peek(t + 16n, 4).getInt32(0, le);
      while (status() === PENDING) {
        const now = performance.now();
        if (!cancelled && now > cancelAt) {
          this.s.libusb_cancel_transfer(t);
          cancelled = true;
        }
        if (now > cancelAt + 5000) {
          // libusb never finished it: leak the transfer rather than free memory it may still write.
          throw new UsbCallError("libusb_handle_events", UsbError.TIMEOUT, "LIBUSB_ERROR_TIMEOUT");
        }
        const rc = await this.s.libusb_handle_events_timeout_completed(this.ctx, tv, 0n);
        if (rc < 0 && rc !== UsbError.INTERRUPTED) this.check("libusb_handle_events", rc);
      }
      inKernel = false;
      const done = this.peek(t, size);
      if (!outgoing && buf.length > 0) this.s.memcpy(buf, mem, BigInt(buf.length));
      const result: IsoPacket[] = [];
      for (let i = 0; i < packets; i++) {
        result.push({
          length: done.getUint32(60 + i * 12 + 4, le),
          status: TRANSFER_STATUS[done.getInt32(60 + i * 12 + 8, le)] ?? "unknown",
        });
      }
      return {
        status: TRANSFER_STATUS[done.getInt32(16, le)] ?? "unknown",
        actualLength: done.getInt32(24, le),
        packets: result,
        data: buf,
      };
    } finally {
      if (!inKernel) {
        this.s.libusb_free_transfer(t);
        this.s.free(mem);
      }
    }
  }

  /** Frees the context and unloads the library. */
  unload(): void {
    if (this.closed) return;
    this.closed = true;
    this.s.libusb_exit(this.ctx);
    this.dl.close();
  }
}
