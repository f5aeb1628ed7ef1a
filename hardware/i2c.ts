/**
 * i2c-dev binding (`/dev/i2c-N`): I2C_FUNCS, I2C_SLAVE(_FORCE), I2C_RDWR
 * with `struct i2c_msg` / `struct i2c_rdwr_ioctl_data`, and I2C_SMBUS with
 * `struct i2c_smbus_ioctl_data` / `union i2c_smbus_data` (Linux x86_64 and
 * aarch64 layout, ../shared/hardware/linux-abi-x86_64.txt).
 *
 * The layout functions are pure; {@link I2cBus} does the I/O through the
 * shared {@link Libc}.
 *
 * @module
 */
import { ErrorCode, MyClerkError } from "../core/errors.ts";
import { alloc, Libc, SYS } from "./libc.ts";

/** ioctl requests and flags of i2c-dev. */
export const I2C = {
  I2C_SLAVE: 0x0703,
  I2C_SLAVE_FORCE: 0x0706,
  I2C_FUNCS: 0x0705,
  I2C_RDWR: 0x0707,
  I2C_PEC: 0x0708,
  I2C_SMBUS: 0x0720,
  RDWR_MAX_MSGS: 42,
  M_RD: 0x0001,
  M_TEN: 0x0010,
  SMBUS_READ: 1,
  SMBUS_WRITE: 0,
  SMBUS_BLOCK_MAX: 32,
  MSG_SIZE: 16,
  RDWR_SIZE: 16,
  SMBUS_IOCTL_SIZE: 16,
  SMBUS_DATA_SIZE: 34,
} as const;

/** SMBus transaction kinds (`size` of `i2c_smbus_ioctl_data`). */
export const SMBUS_SIZE = {
  quick: 0,
  byte: 1,
  "byte-data": 2,
  "word-data": 3,
  "proc-call": 4,
  "block-data": 5,
  "block-proc-call": 7,
  "i2c-block": 8,
} as const;

/** One SMBus transaction kind by name. */
export type SmbusKind = keyof typeof SMBUS_SIZE;

/** Functionality bits (I2C_FUNCS) by name. */
export const I2C_FUNC: Readonly<Record<string, number>> = {
  i2c: 0x00000001,
  "10bit-addr": 0x00000002,
  "protocol-mangling": 0x00000004,
  "smbus-pec": 0x00000008,
  "nostart": 0x00000010,
  "slave": 0x00000020,
  "smbus-block-proc-call": 0x00008000,
  "smbus-quick": 0x00010000,
  "smbus-read-byte": 0x00020000,
  "smbus-write-byte": 0x00040000,
  "smbus-read-byte-data": 0x00080000,
  "smbus-write-byte-data": 0x00100000,
  "smbus-read-word-data": 0x00200000,
  "smbus-write-word-data": 0x00400000,
  "smbus-proc-call": 0x00800000,
  "smbus-read-block-data": 0x01000000,
  "smbus-write-block-data": 0x02000000,
  "smbus-read-i2c-block": 0x04000000,
  "smbus-write-i2c-block": 0x08000000,
  "smbus-host-notify": 0x10000000,
};

/** The names of the bits set in an I2C_FUNCS word. */
export function funcNames(bits: number): string[] {
  return Object.entries(I2C_FUNC).filter(([, b]) => (bits & b) !== 0).map(([n]) => n);
}

/** One message of an I2C_RDWR transaction. */
export type I2cMessage =
  | { readonly addr: number; readonly read: false; readonly data: Uint8Array }
  | { readonly addr: number; readonly read: true; readonly length: number };

/**
 * Packs `struct i2c_msg[]` (16 bytes each: addr u16, flags u16, len u16,
 * pad, buf pointer u64) for buffers at `addrs`. Pure.
 */
export function packMessages(
  msgs: readonly I2cMessage[],
  addrs: readonly bigint[],
): Uint8Array<ArrayBuffer> {
  const out = alloc(msgs.length * I2C.MSG_SIZE);
  const dv = new DataView(out.buffer);
  msgs.forEach((m, i) => {
    const o = i * I2C.MSG_SIZE;
    dv.setUint16(o, m.addr, true);
    dv.setUint16(o + 2, (m.read ? I2C.M_RD : 0) | (m.addr > 0x7f ? I2C.M_TEN : 0), true);
    dv.setUint16(o + 4, m.read ? m.length : m.data.length, true);
    dv.setBigUint64(o + 8, addrs[i], true);
  });
  return out;
}

/** Packs `struct i2c_rdwr_ioctl_data` (msgs pointer u64, nmsgs u32). Pure. */
export function packRdwr(msgsAddr: bigint, n: number): Uint8Array<ArrayBuffer> {
  const out = alloc(I2C.RDWR_SIZE);
  const dv = new DataView(out.buffer);
  dv.setBigUint64(0, msgsAddr, true);
  dv.setUint32(8, n, true);
  return out;
}

/** Packs `struct i2c_smbus_ioctl_data` (read_write u8, command u8, size u32, data pointer). Pure. */
export function packSmbus(
  readWrite: number,
  command: number,
  size: number,
  dataAddr: bigint,
): Uint8Array<ArrayBuffer> {
  const out = alloc(I2C.SMBUS_IOCTL_SIZE);
  const dv = new DataView(out.buffer);
  dv.setUint8(0, readWrite);
  dv.setUint8(1, command);
  dv.setUint32(4, size, true);
  dv.setBigUint64(8, dataAddr, true);
  return out;
}

/** An SMBus transaction to run. */
export interface SmbusRequest {
  /** Transaction kind. */
  readonly kind: SmbusKind;
  /** Read (true) or write. `proc-call`/`block-proc-call` write then read. */
  readonly read: boolean;
  /** Command (register) byte; ignored for `quick` and `byte`. */
  readonly command: number;
  /** Byte (`byte`, `byte-data`) or word (`word-data`, `proc-call`) to write. */
  readonly value?: number;
  /** Block to write (`block-data`, `i2c-block`, `block-proc-call`), at most 32 bytes. */
  readonly data?: Uint8Array;
  /** Bytes to read for `i2c-block` reads (1-32). */
  readonly length?: number;
}

/** What an SMBus transaction returned. */
export interface SmbusResult {
  /** The byte read (`byte`, `byte-data`). */
  readonly value?: number;
  /** The word read (`word-data`, `proc-call`). */
  readonly word?: number;
  /** The block read (`block-data`, `i2c-block`, `block-proc-call`). */
  readonly data?: Uint8Array;
}

/**
 * Fills `union i2c_smbus_data` for a request (34 bytes: byte, word LE, or
 * block with its length in byte 0). Throws BAD_REQUEST on a bad value. Pure.
 */
export function packSmbusData(r: SmbusRequest): Uint8Array<ArrayBuffer> {
  const d = alloc(I2C.SMBUS_DATA_SIZE);
  const dv = new DataView(d.buffer);
  const bad = (what: string) => {
    throw new MyClerkError(ErrorCode.BAD_REQUEST, `field:${what}`);
  };
  switch (r.kind) {
    case "quick":
      return d;
    case "byte":
    case "byte-data":
      if (!r.read) {
        const v = r.value ?? -1;
        if (!Number.isInteger(v) || v < 0 || v > 0xff) bad("value");
        // "write byte" sends its byte as the command field (see I2cBus.smbus); harmless here.
        dv.setUint8(0, v);
      }
      return d;
    case "word-data":
    case "proc-call":
      if (!r.read || r.kind === "proc-call") {
        const v = r.value ?? -1;
        if (!Number.isInteger(v) || v < 0 || v > 0xffff) bad("value");
        dv.setUint16(0, v, true);
      }
      return d;
    case "block-data":
    case "block-proc-call":
    case "i2c-block": {
      if (!r.read || r.kind === "block-proc-call") {
        const b = r.data;
        if (b === undefined || b.length < 1 || b.length > I2C.SMBUS_BLOCK_MAX) bad("data");
        d[0] = b!.length;
        d.set(b!, 1);
      } else if (r.kind === "i2c-block") {
        const n = r.length ?? 0;
        if (!Number.isInteger(n) || n < 1 || n > I2C.SMBUS_BLOCK_MAX) bad("length");
        d[0] = n;
      }
      return d;
    }
  }
}

/** Reads the result out of `union i2c_smbus_data` after a transaction. Pure. */
export function unpackSmbusData(r: SmbusRequest, d: Uint8Array<ArrayBuffer>): SmbusResult {
  const dv = new DataView(d.buffer, d.byteOffset);
  switch (r.kind) {
    case "quick":
      return {};
    case "byte":
    case "byte-data":
      return r.read ? { value: dv.getUint8(0) } : {};
    case "word-data":
      return r.read ? { word: dv.getUint16(0, true) } : {};
    case "proc-call":
      return { word: dv.getUint16(0, true) };
    case "block-data":
    case "block-proc-call":
    case "i2c-block": {
      if (!r.read && r.kind !== "block-proc-call") return {};
      const n = Math.min(d[0], I2C.SMBUS_BLOCK_MAX);
      return { data: d.slice(1, 1 + n) };
    }
  }
}

/** An open `/dev/i2c-N`. Methods throw MyClerkError with errno on failure. */
export class I2cBus {
  private fd: number;
  private addr = -1;

  /** Opens `path` read/write. */
  constructor(private readonly libc: Libc, readonly path: string) {
    this.fd = libc.open(path, SYS.O_RDWR);
  }

  /** The adapter's functionality bits (I2C_FUNCS). */
  funcs(): number {
    const b = alloc(8);
    Libc.check(this.libc.sysIoctl(this.fd, I2C.I2C_FUNCS, b), "i2c-funcs");
    return Number(new DataView(b.buffer).getBigUint64(0, true) & 0xffffffffn);
  }

  /**
   * Selects the slave address for SMBus calls (I2C_SLAVE). A kernel driver
   * bound to the address makes it SERVICE_UNAVAILABLE `i2c-address-failed`
   * (EBUSY) unless `force` (I2C_SLAVE_FORCE).
   */
  select(addr: number, force = false): void {
    if (!force && addr === this.addr) return;
    Libc.check(
      this.libc.sysIoctlInt(this.fd, force ? I2C.I2C_SLAVE_FORCE : I2C.I2C_SLAVE, addr),
      "i2c-address",
    );
    this.addr = addr;
  }

  /**
   * One combined I2C_RDWR transaction (repeated starts between messages,
   * one stop at the end). Returns the data of each read message, in order.
   */
  transfer(msgs: readonly I2cMessage[]): Uint8Array[] {
    if (msgs.length < 1 || msgs.length > I2C.RDWR_MAX_MSGS) {
      throw new MyClerkError(ErrorCode.BAD_REQUEST, "field:messages", {
        max: I2C.RDWR_MAX_MSGS,
      });
    }
    const bufs = msgs.map((m) => {
      const b = alloc(m.read ? m.length : m.data.length);
      if (!m.read) b.set(m.data);
      return b;
    });
    const table = packMessages(msgs, bufs.map((b) => this.libc.addressOf(b)));
    const arg = packRdwr(this.libc.addressOf(table), msgs.length);
    Libc.check(this.libc.sysIoctl(this.fd, I2C.I2C_RDWR, arg), "i2c-transfer");
    // `table` and `bufs` stay referenced until here, so their memory outlives the ioctl.
    return msgs.flatMap((m, i) => m.read ? [bufs[i].slice()] : []);
  }

  /** One SMBus transaction with the selected address (I2C_SMBUS). */
  smbus(r: SmbusRequest): SmbusResult {
    const data = packSmbusData(r);
    const rw = r.kind === "proc-call" || r.kind === "block-proc-call"
      ? I2C.SMBUS_WRITE
      : r.read
      ? I2C.SMBUS_READ
      : I2C.SMBUS_WRITE;
    // SMBus "write byte" and "quick" pass their datum in the command / read_write fields.
    const command = r.kind === "byte" && !r.read ? (r.value ?? 0) : r.command;
    const arg = packSmbus(
      r.kind === "quick" ? (r.read ? I2C.SMBUS_READ : I2C.SMBUS_WRITE) : rw,
      command,
      SMBUS_SIZE[r.kind],
      r.kind === "quick" ? 0n : this.libc.addressOf(data),
    );
    Libc.check(this.libc.sysIoctl(this.fd, I2C.I2C_SMBUS, arg), "i2c-smbus");
    return unpackSmbusData(r, data);
  }

  /**
   * Probes one address the way i2cdetect does by default: SMBus quick write
   * for most addresses, read byte for 0x30-0x37 and 0x50-0x5F (where a quick
   * write could corrupt EEPROMs). True when a device acknowledged.
   */
  probe(addr: number): boolean {
    try {
      this.select(addr);
    } catch (e) {
      // A kernel driver holds the address: something is there.
      if (e instanceof MyClerkError && e.extra.errnoName === "EBUSY") return true;
      throw e;
    }
    const useRead = (addr >= 0x30 && addr <= 0x37) || (addr >= 0x50 && addr <= 0x5f);
    try {
      this.smbus(
        useRead ? { kind: "byte", read: true, command: 0 } : {
          kind: "quick",
          read: false,
          command: 0,
        },
      );
      return true;
    } catch (e) {
      if (e instanceof MyClerkError && e.detail === "i2c-smbus-failed") return false;
      throw e;
    }
  }

  /** Closes the bus. */
  close(): void {
    if (this.fd >= 0) this.libc.close(this.fd);
    this.fd = -1;
  }
}
