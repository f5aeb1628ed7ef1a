/**
 * The pure layout code of the I2C, SPI and CAN bindings against the ABI
 * numbers in ../shared/hardware/linux-abi-x86_64.txt (compiled from the
 * kernel headers), plus netlink attribute parsing on a message built like
 * the kernel's. The I/O halves run against real drivers in the VM suites.
 */
import {
  packMessages,
  packRdwr,
  packSmbus,
  packSmbusData,
  unpackSmbusData,
} from "../../hardware/i2c.ts";
import { packTransfers, spiIocMessage } from "../../hardware/spi.ts";
import {
  attr,
  CAN,
  decodeFrame,
  decodeLink,
  encodeFrame,
  frameProblem,
  linkMessage,
  NL,
  packFilters,
  packSockaddrCan,
  parseAttrs,
} from "../../hardware/can.ts";
import { HoldTable } from "../../hardware/holds.ts";
import { ERRNO, errnoCode, errnoName, sysError } from "../../hardware/errno.ts";
import { assert } from "../plugins/_helpers.ts";
import { ErrorCode, MyClerkError } from "../../core/errors.ts";

/** JSON equality that also prints bigints. */
function assertEq(a: unknown, b: unknown, msg: string): void {
  const j = (v: unknown) => JSON.stringify(v, (_k, x) => typeof x === "bigint" ? `${x}n` : x);
  if (j(a) !== j(b)) throw new Error(`${msg}: expected ${j(b)}, got ${j(a)}`);
}

const ABI = new URL("../../../shared/hardware/linux-abi-x86_64.txt", import.meta.url).pathname;

function abiValue(name: string): number | undefined {
  let text = "";
  try {
    text = Deno.readTextFileSync(ABI);
  } catch {
    return undefined;
  }
  const m = new RegExp(`^\\s*${name.replace(/[()]/g, "\\$&")}=(0x[0-9a-f]+|\\d+)`, "m").exec(text);
  return m ? Number(m[1]) : undefined;
}

Deno.test("i2c layout: i2c_msg, rdwr, smbus ioctl data match the ABI", () => {
  const m = packMessages(
    [{ addr: 0x50, read: false, data: new Uint8Array([1, 2]) }, {
      addr: 0x50,
      read: true,
      length: 4,
    }],
    [0x1122334455667788n, 0x99n],
  );
  assertEq(m.length, 2 * (abiValue("sizeof(struct i2c_msg)") ?? 16), "i2c_msg size");
  const dv = new DataView(m.buffer);
  assertEq(
    [dv.getUint16(0, true), dv.getUint16(2, true), dv.getUint16(4, true)],
    [0x50, 0, 2],
    "msg0",
  );
  assertEq(dv.getBigUint64(8, true), 0x1122334455667788n, "buf @8");
  assertEq([dv.getUint16(18, true), dv.getUint16(20, true)], [1, /* I2C_M_RD */ 4], "msg1");
  const r = new DataView(packRdwr(0xabcdn, 2).buffer);
  assertEq([r.getBigUint64(0, true), r.getUint32(8, true)], [0xabcdn, 2], "rdwr");
  const s = new DataView(packSmbus(1, 0x10, 8, 0x42n).buffer);
  assertEq([s.getUint8(0), s.getUint8(1), s.getUint32(4, true), s.getBigUint64(8, true)], [
    1,
    0x10,
    8,
    0x42n,
  ], "smbus");
  const d = packSmbusData({
    kind: "i2c-block",
    read: false,
    command: 0,
    data: new Uint8Array([7, 8, 9]),
  });
  assertEq([...d.subarray(0, 4)], [3, 7, 8, 9], "block: length first");
  assertEq(d.length, abiValue("sizeof(union i2c_smbus_data)") ?? 34, "union size");
  const w = packSmbusData({ kind: "word-data", read: false, command: 0, value: 0x1234 });
  assertEq([w[0], w[1]], [0x34, 0x12], "word LE");
  assertEq(
    unpackSmbusData({ kind: "word-data", read: true, command: 0 }, w),
    { word: 0x1234 },
    "unpack",
  );
  let threw = false;
  try {
    packSmbusData({ kind: "i2c-block", read: false, command: 0, data: new Uint8Array(33) });
  } catch {
    threw = true;
  }
  assert(threw, "33-byte block refused");
});

Deno.test("spi layout: SPI_IOC_MESSAGE(n) and spi_ioc_transfer match the ABI", () => {
  assertEq(spiIocMessage(1), abiValue("SPI_IOC_MESSAGE(1)") ?? 0x40206b00, "MESSAGE(1)");
  assertEq(spiIocMessage(2), abiValue("SPI_IOC_MESSAGE(2)") ?? 0x40406b00, "MESSAGE(2)");
  const t = packTransfers(
    [{ length: 5, read: true, speedHz: 1000, bitsPerWord: 8, delayUsecs: 3, csChange: true }],
    [0x10n],
    [0x20n],
  );
  assertEq(t.length, abiValue("sizeof(struct spi_ioc_transfer)") ?? 32, "size");
  const dv = new DataView(t.buffer);
  assertEq(
    [
      dv.getBigUint64(0, true),
      dv.getBigUint64(8, true),
      dv.getUint32(16, true),
      dv.getUint32(20, true),
      dv.getUint16(24, true),
      dv.getUint8(26),
      dv.getUint8(27),
    ],
    [0x10n, 0x20n, 5, 1000, 3, 8, 1],
    "fields at the ABI offsets",
  );
});

Deno.test("can layout: frames, filters, sockaddr_can; netlink attributes", () => {
  const f = encodeFrame({
    id: 0x1abcde0f,
    ext: true,
    rtr: false,
    err: false,
    fd: false,
    brs: false,
    esi: false,
    data: new Uint8Array([1, 2, 3]),
  });
  assertEq(f.length, abiValue("sizeof(struct can_frame)") ?? 16, "can_frame size");
  assertEq(
    new DataView(f.buffer).getUint32(0, true),
    (0x1abcde0f | CAN.EFF_FLAG) >>> 0,
    "id + EFF",
  );
  assertEq(f[4], 3, "len @4");
  const back = decodeFrame(f, 16);
  assertEq([back.id, back.ext, [...back.data]], [0x1abcde0f, true, [1, 2, 3]], "round trip");
  const fd = encodeFrame({
    id: 0x321,
    ext: false,
    rtr: false,
    err: false,
    fd: true,
    brs: true,
    esi: false,
    data: new Uint8Array(12),
  });
  assertEq(
    [fd.length, fd[5]],
    [abiValue("sizeof(struct canfd_frame)") ?? 72, 1],
    "canfd size, BRS @5",
  );
  assertEq(frameProblem({ ...back, ext: false, id: 0x800 }), "id", "11-bit id range");
  assertEq(frameProblem({ ...back, fd: true, data: new Uint8Array(9) }), "data", "FD lengths");
  assertEq(
    packFilters([{ id: 1, mask: 2 }, { id: 3, mask: 4, invert: true }]).length,
    16,
    "filters",
  );
  const sa = packSockaddrCan(7);
  assertEq(
    [
      sa.length,
      new DataView(sa.buffer).getUint16(0, true),
      new DataView(sa.buffer).getInt32(4, true),
    ],
    [24, 29, 7],
    "sockaddr_can",
  );
  // An RTM_NEWLINK like the kernel's for a real controller: kind "can", state, bitrate, counters.
  const u32 = (...v: number[]) => new Uint8Array(new Uint32Array(v).buffer);
  const info = attr(
    NL.IFLA_LINKINFO,
    new Uint8Array([
      ...attr(NL.IFLA_INFO_KIND, new TextEncoder().encode("can\0")),
      ...attr(
        NL.IFLA_INFO_DATA,
        new Uint8Array([
          ...attr(NL.IFLA_CAN_STATE, u32(2)),
          ...attr(NL.IFLA_CAN_BITTIMING, u32(500000, 875, 0, 0, 0, 0, 0, 0)),
          ...attr(NL.IFLA_CAN_BERR_COUNTER, new Uint8Array([130, 0, 5, 0])),
        ]),
      ),
    ]),
  );
  const msg = linkMessage(NL.RTM_NEWLINK, 0, 1, { index: 4, flags: 1 }, [
    attr(NL.IFLA_IFNAME, new TextEncoder().encode("can0\0")),
    info,
  ]);
  const payload = msg.slice(NL.HDR);
  new DataView(payload.buffer).setUint16(2, CAN.ARPHRD_CAN, true); // ifi_type
  const l = decodeLink(payload)!;
  assertEq([l.name, l.index, l.kind, l.up, l.state, l.bitrate, l.berr], [
    "can0",
    4,
    "can",
    true,
    "error-passive",
    500000,
    { tx: 130, rx: 5 },
  ], "decoded");
  assertEq(parseAttrs(new Uint8Array([3, 0])).length, 0, "truncated attribute ignored");
  new DataView(payload.buffer).setUint16(2, 1, true);
  assertEq(decodeLink(payload), undefined, "not CAN");
});

Deno.test("holds: one session per device unless shared; handles per session; session end", () => {
  const t = new HoldTable<string>(3);
  const a = t.add(1, "/dev/x", false, "a");
  let err = "";
  try {
    t.check(2, "/dev/x", true);
  } catch (e) {
    err = (e as MyClerkError).detail;
  }
  assertEq(err, "device-busy", "other session refused");
  t.check(1, "/dev/x", false); // same session may reopen
  let nf = "";
  try {
    t.get(2, a.handle);
  } catch (e) {
    nf = (e as MyClerkError).detail;
  }
  assertEq(nf, "no-such-handle", "another session's handle does not exist");
  const s = new HoldTable<string>();
  s.add(1, "k", true, "x");
  s.check(2, "k", true); // both shared
  assertEq(t.takeSession(1).map((h) => h.value), ["a"], "session end takes its holds");
  assertEq(t.size, 0, "empty");
});

Deno.test("holds: oneHandlePerKey refuses the holder too; busy names bySelf; the key index follows take", () => {
  const refusal = (f: () => void): { detail: string; extra: Record<string, unknown> } => {
    try {
      f();
    } catch (e) {
      return { detail: (e as MyClerkError).detail, extra: { ...(e as MyClerkError).extra } };
    }
    return { detail: "allowed", extra: {} };
  };
  const t = new HoldTable<string>(2, { oneHandlePerKey: true });
  const a = t.add(1, "/dev/ttyACM0", false, "a");
  assertEq(
    refusal(() => t.check(1, "/dev/ttyACM0", true, { path: "/dev/ttyACM0" })),
    {
      detail: "device-busy",
      extra: { device: "/dev/ttyACM0", bySelf: true, path: "/dev/ttyACM0" },
    },
    "the holder itself gets device-busy, with the caller's extra",
  );
  assertEq(
    refusal(() => t.check(2, "/dev/ttyACM0", false)).extra.bySelf,
    false,
    "another session: bySelf false",
  );
  assertEq(refusal(() => t.check(2, "/dev/ttyACM1", false)).detail, "allowed", "another key");
  assertEq(t.find(a.handle)?.value, "a", "find ignores the session");
  assertEq(t.holders("/dev/ttyACM0"), [1], "holders by key");
  t.take(1, a.handle);
  assertEq(t.find(a.handle), undefined, "gone after take");
  assertEq(t.holders("/dev/ttyACM0"), [], "and from the key index");
  assertEq(refusal(() => t.check(2, "/dev/ttyACM0", false)).detail, "allowed", "free again");
  t.add(3, "k1", false, "x");
  t.add(3, "k2", false, "y");
  assertEq(refusal(() => t.check(4, "k3", false)), {
    detail: "too-many-handles",
    extra: { max: 2 },
  }, "limit");
  t.takeSession(3);
  assertEq([t.size, t.holders("k1"), t.holders("k2")], [0, [], []], "session end clears both");
});

Deno.test("errno: the table of docs/PLUGINS.md §8.3; names; sysError carries both", () => {
  const rows: [number, number][] = [
    [ERRNO.ENOENT, ErrorCode.NOT_FOUND],
    [ERRNO.ENODEV, ErrorCode.NOT_FOUND],
    [ERRNO.ENXIO, ErrorCode.NOT_FOUND],
    [ERRNO.EPERM, ErrorCode.FORBIDDEN],
    [ERRNO.EACCES, ErrorCode.FORBIDDEN],
    [ERRNO.EROFS, ErrorCode.FORBIDDEN],
    [ERRNO.EBUSY, ErrorCode.SERVICE_UNAVAILABLE],
    [ERRNO.EAGAIN, ErrorCode.SERVICE_UNAVAILABLE],
    [ERRNO.ENOBUFS, ErrorCode.SERVICE_UNAVAILABLE],
    [ERRNO.ENETDOWN, ErrorCode.SERVICE_UNAVAILABLE],
    [ERRNO.EINVAL, ErrorCode.BAD_REQUEST],
    [ERRNO.E2BIG, ErrorCode.BAD_REQUEST],
    [ERRNO.EFAULT, ErrorCode.BAD_REQUEST],
    [ERRNO.ERANGE, ErrorCode.BAD_REQUEST],
    [ERRNO.ENOTTY, ErrorCode.UNSUPPORTED],
    [ERRNO.EOPNOTSUPP, ErrorCode.UNSUPPORTED],
    [ERRNO.ENOTSUPP, ErrorCode.UNSUPPORTED],
    [ERRNO.ENOSYS, ErrorCode.UNSUPPORTED],
    [ERRNO.ETIMEDOUT, ErrorCode.TIMEOUT],
    [ERRNO.EIO, ErrorCode.INTERNAL_ERROR],
    [ERRNO.EREMOTEIO, ErrorCode.INTERNAL_ERROR],
    [999, ErrorCode.INTERNAL_ERROR],
  ];
  for (const [errno, code] of rows) assertEq(errnoCode(errno), code, `errno ${errno}`);
  assertEq([errnoName(1), errnoName(524), errnoName(999)], ["EPERM", "ENOTSUPP", "E999"], "names");
  const e = sysError("open", ERRNO.EACCES);
  assertEq([e.code, e.detail, e.extra], [ErrorCode.FORBIDDEN, "open-failed", {
    errno: 13,
    errnoName: "EACCES",
  }], "sysError");
});
