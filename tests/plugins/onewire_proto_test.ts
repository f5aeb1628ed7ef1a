/**
 * The owserver wire format and the 1-Wire ROM CRC, as pure code: a READ
 * request's exact bytes, header decoding, DIRALL splitting, and the Dallas
 * CRC-8 against Maxim's published example (Application Note 27: ROM
 * 02 1C B8 01 00 00 00 has CRC A2).
 */
import { crc8, fullRom, romBytes } from "../../hardware/onewire.ts";
import {
  decodeOwHeader,
  encodeOwRequest,
  OwMsg,
  parseDirAll,
} from "../../hardware/onewire_proto.ts";
import { assertEq } from "./_helpers.ts";

Deno.test("onewire proto: READ request bytes, header decode, DIRALL split", () => {
  const req = encodeOwRequest({
    type: OwMsg.READ,
    path: "/10.67C6697351FF/temperature",
    size: 8192,
  });
  const path = "/10.67C6697351FF/temperature";
  assertEq(req.length, 24 + path.length + 1);
  const v = new DataView(req.buffer);
  assertEq([
    v.getInt32(0),
    v.getInt32(4),
    v.getInt32(8),
    v.getInt32(12),
    v.getInt32(16),
    v.getInt32(20),
  ], [
    0,
    path.length + 1,
    2,
    0x102,
    8192,
    0,
  ]);
  assertEq(new TextDecoder().decode(req.subarray(24, 24 + path.length)), path);
  assertEq(req[req.length - 1], 0);
  const w = encodeOwRequest({ type: OwMsg.WRITE, path: "/x", data: new Uint8Array([49]), size: 1 });
  assertEq([...w.subarray(24)], [47, 120, 0, 49], "path NUL data");
  const h = new Uint8Array(24);
  const hv = new DataView(h.buffer);
  [0, -1, -95, 0x102, 0, 0].forEach((x, i) => hv.setInt32(i * 4, x));
  assertEq(decodeOwHeader(h), {
    version: 0,
    payload: -1,
    ret: -95,
    flags: 0x102,
    size: 0,
    offset: 0,
  });
  assertEq(parseDirAll(new TextEncoder().encode("/bus.0,/28.A\0")), ["/bus.0", "/28.A"]);
  assertEq(parseDirAll(new Uint8Array(0)), []);
});

Deno.test("onewire: Dallas CRC-8 (Maxim AN27 example) and full ROM form", () => {
  assertEq(crc8(new Uint8Array([0x02, 0x1c, 0xb8, 0x01, 0x00, 0x00, 0x00])), 0xa2);
  assertEq(
    crc8(new Uint8Array([0x02, 0x1c, 0xb8, 0x01, 0x00, 0x00, 0x00, 0xa2])),
    0,
    "CRC over data+CRC is 0",
  );
  assertEq([...romBytes("02.1CB801000000")], [0x02, 0x1c, 0xb8, 0x01, 0x00, 0x00, 0x00]);
  assertEq(fullRom("02.1CB801000000"), "021CB801000000A2");
});
