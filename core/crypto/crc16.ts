/**
 * CRC-16/IBM-3740 (a.k.a. CRC-16/CCITT-FALSE), the Tier 2 trailer (profile
 * §2): poly 0x1021, init 0xFFFF, no reflection, xorout 0. Check value
 * `crc16("123456789") = 0x29B1`.
 *
 * @module
 */

/** 256-entry table: the CRC of each byte value shifted into a zero register. */
const TABLE: Uint16Array = (() => {
  const t = new Uint16Array(256);
  for (let b = 0; b < 256; b++) {
    let c = b << 8;
    for (let i = 0; i < 8; i++) c = c & 0x8000 ? (c << 1) ^ 0x1021 : c << 1;
    t[b] = c & 0xffff;
  }
  return t;
})();

/**
 * CRC-16/IBM-3740 of `data[start .. end)`. Bounds are clamped to the array
 * (like `subarray`) so a caller can pass a trailer offset without slicing.
 *
 * @example crc16(new TextEncoder().encode("123456789")) // 0x29B1
 */
export function crc16(data: Uint8Array, start = 0, end: number = data.length): number {
  const s = Math.max(0, Math.min(start, data.length));
  const e = Math.max(s, Math.min(end, data.length));
  let crc = 0xffff;
  for (let i = s; i < e; i++) crc = ((crc << 8) ^ TABLE[((crc >>> 8) ^ data[i]) & 0xff]) & 0xffff;
  return crc;
}
