/**
 * spidev binding (`/dev/spidevB.C`): SPI_IOC_MESSAGE(n) with
 * `struct spi_ioc_transfer` (32 bytes), and the mode / bits-per-word /
 * max-speed read and write ioctls (Linux layout,
 * ../shared/hardware/linux-abi-x86_64.txt).
 *
 * The layout functions are pure; {@link SpiDevice} does the I/O through the
 * shared {@link Libc}.
 *
 * @module
 */
import { ErrorCode, MyClerkError } from "../core/errors.ts";
import { alloc, Libc, SYS } from "./libc.ts";

/** spidev ioctl requests and mode bits. */
export const SPI = {
  RD_MODE: 0x80016b01,
  WR_MODE: 0x40016b01,
  RD_LSB_FIRST: 0x80016b02,
  WR_LSB_FIRST: 0x40016b02,
  RD_BITS_PER_WORD: 0x80016b03,
  WR_BITS_PER_WORD: 0x40016b03,
  RD_MAX_SPEED_HZ: 0x80046b04,
  WR_MAX_SPEED_HZ: 0x40046b04,
  RD_MODE32: 0x80046b05,
  WR_MODE32: 0x40046b05,
  CPHA: 0x01,
  CPOL: 0x02,
  CS_HIGH: 0x04,
  LSB_FIRST: 0x08,
  THREE_WIRE: 0x10,
  LOOP: 0x20,
  NO_CS: 0x40,
  TRANSFER_SIZE: 32,
  /** spidev's default `bufsiz` module parameter: the most one message may move. */
  MAX_MESSAGE: 4096,
} as const;

/** SPI_IOC_MESSAGE(n): `_IOW('k', 0, char[n * 32])`. Pure. */
export function spiIocMessage(n: number): number {
  const size = n * SPI.TRANSFER_SIZE;
  if (!Number.isInteger(n) || n < 1 || size >= 1 << 14) {
    throw new MyClerkError(ErrorCode.BAD_REQUEST, "field:segments", { max: 511 });
  }
  return (0x40000000 | (size << 16) | (0x6b << 8)) >>> 0;
}

/** One segment of an SPI message. */
export interface SpiSegment {
  /** Bytes to clock out; absent = zeros (a read-only segment). */
  readonly tx?: Uint8Array;
  /** Bytes to clock in (and out); must equal `tx.length` when both are given. */
  readonly length: number;
  /** Keep the bytes read (false for a write-only segment). */
  readonly read: boolean;
  /** Clock for this segment (Hz); 0 = the device's configured speed. */
  readonly speedHz?: number;
  /** Bits per word for this segment; 0 = the device's setting. */
  readonly bitsPerWord?: number;
  /** Delay after the segment, in microseconds. */
  readonly delayUsecs?: number;
  /** Deselect the chip after this segment. */
  readonly csChange?: boolean;
}

/**
 * Packs `struct spi_ioc_transfer[]` (tx_buf u64, rx_buf u64, len u32,
 * speed_hz u32, delay_usecs u16, bits_per_word u8, cs_change u8, tx_nbits,
 * rx_nbits, word_delay_usecs, pad) for buffers at the given addresses
 * (0n = none). Pure.
 */
export function packTransfers(
  segs: readonly SpiSegment[],
  txAddrs: readonly bigint[],
  rxAddrs: readonly bigint[],
): Uint8Array<ArrayBuffer> {
  const out = alloc(segs.length * SPI.TRANSFER_SIZE);
  const dv = new DataView(out.buffer);
  segs.forEach((s, i) => {
    const o = i * SPI.TRANSFER_SIZE;
    dv.setBigUint64(o, txAddrs[i], true);
    dv.setBigUint64(o + 8, rxAddrs[i], true);
    dv.setUint32(o + 16, s.length, true);
    dv.setUint32(o + 20, s.speedHz ?? 0, true);
    dv.setUint16(o + 24, s.delayUsecs ?? 0, true);
    dv.setUint8(o + 26, s.bitsPerWord ?? 0);
    dv.setUint8(o + 27, s.csChange ? 1 : 0);
  });
  return out;
}

/** Settings of an SPI device. */
export interface SpiConfig {
  /** Mode bits (CPHA|CPOL = SPI mode 0-3, plus CS_HIGH, LSB_FIRST, 3WIRE, LOOP, NO_CS...). */
  readonly mode: number;
  /** Bits per word (8 usual; 0 means 8). */
  readonly bitsPerWord: number;
  /** Default clock in Hz. */
  readonly maxSpeedHz: number;
}

/** An open spidev node. Methods throw MyClerkError with errno on failure. */
export class SpiDevice {
  private fd: number;

  /** Opens `path` read/write. */
  constructor(private readonly libc: Libc, readonly path: string) {
    this.fd = libc.open(path, SYS.O_RDWR);
  }

  /** The settings as the driver holds them now. */
  config(): SpiConfig {
    const m = alloc(4);
    Libc.check(this.libc.sysIoctl(this.fd, SPI.RD_MODE32, m), "spi-mode");
    const b = alloc(1);
    Libc.check(this.libc.sysIoctl(this.fd, SPI.RD_BITS_PER_WORD, b), "spi-bits");
    const s = alloc(4);
    Libc.check(this.libc.sysIoctl(this.fd, SPI.RD_MAX_SPEED_HZ, s), "spi-speed");
    return {
      mode: new DataView(m.buffer).getUint32(0, true),
      bitsPerWord: b[0] === 0 ? 8 : b[0],
      maxSpeedHz: new DataView(s.buffer).getUint32(0, true),
    };
  }

  /** Applies the given settings (the controller may refuse: BAD_REQUEST with errno) and reads them back. */
  configure(c: Partial<SpiConfig>): SpiConfig {
    if (c.mode !== undefined) {
      const m = alloc(4);
      new DataView(m.buffer).setUint32(0, c.mode, true);
      Libc.check(this.libc.sysIoctl(this.fd, SPI.WR_MODE32, m), "spi-mode");
    }
    if (c.bitsPerWord !== undefined) {
      const b = alloc(1);
      b[0] = c.bitsPerWord;
      Libc.check(this.libc.sysIoctl(this.fd, SPI.WR_BITS_PER_WORD, b), "spi-bits");
    }
    if (c.maxSpeedHz !== undefined) {
      const s = alloc(4);
      new DataView(s.buffer).setUint32(0, c.maxSpeedHz, true);
      Libc.check(this.libc.sysIoctl(this.fd, SPI.WR_MAX_SPEED_HZ, s), "spi-speed");
    }
    return this.config();
  }

  /**
   * One SPI message (chip select held across segments unless `csChange`):
   * returns the bytes clocked in for every segment with `read`, in order.
   */
  transfer(segs: readonly SpiSegment[]): Uint8Array[] {
    const total = segs.reduce((a, s) => a + s.length, 0);
    if (total > SPI.MAX_MESSAGE) {
      throw new MyClerkError(ErrorCode.TOO_LARGE, "spi-message", { max: SPI.MAX_MESSAGE });
    }
    const tx = segs.map((s) => {
      if (s.tx === undefined) return undefined;
      const b = alloc(s.length);
      b.set(s.tx.subarray(0, s.length));
      return b;
    });
    const rx = segs.map((s) => s.read ? alloc(s.length) : undefined);
    const table = packTransfers(
      segs,
      tx.map((b) => b === undefined ? 0n : this.libc.addressOf(b)),
      rx.map((b) => b === undefined ? 0n : this.libc.addressOf(b)),
    );
    Libc.check(this.libc.sysIoctl(this.fd, spiIocMessage(segs.length), table), "spi-transfer");
    return rx.flatMap((b) => b === undefined ? [] : [b.slice()]);
  }

  /** Closes the device. */
  close(): void {
    if (this.fd >= 0) this.libc.close(this.fd);
    this.fd = -1;
  }
}
