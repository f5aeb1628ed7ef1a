/**
 * The I2C plugin on the VM's real i2c-dev + i2c-stub (Debian 6.1; the stub
 * chip answers at 0x50 on bus `HWVM_I2C_BUS`), with i2c-tools as the
 * independent side: what the plugin writes `i2cget` reads, what `i2cset`
 * writes the plugin reads, and the scan equals `i2cdetect`'s.
 *
 * Covers 0x0630-0x0637. I2C_TRANSFER (I2C_RDWR) is exercised as far as the
 * stub allows: it is an SMBus-only adapter (no `i2c` functionality bit), so
 * the kernel refuses I2C_RDWR with EOPNOTSUPP and the plugin must answer
 * UNSUPPORTED; a real adapter is needed for the data path (docs/PLUGINS.md
 * says how to check it with `i2ctransfer`). Runs only inside the VM.
 */
import { assert, assertEq, ErrorCode, IN_VM, sh, startBusPlugin } from "./_bushost.ts";

const BUS = Number(Deno.env.get("HWVM_I2C_BUS") || "0");
const ADDR = 0x50;
const Op = {
  LIST: 0x0630,
  SCAN: 0x0631,
  TRANSFER: 0x0632,
  WRITE_BYTE: 0x0633,
  READ_BYTE: 0x0634,
  WRITE_BLOCK: 0x0635,
  READ_BLOCK: 0x0636,
  SMBUS: 0x0637,
} as const;

const i2cget = (...a: string[]) => sh("i2cget", "-y", String(BUS), "0x50", ...a);
const i2cset = (...a: string[]) => sh("i2cset", "-y", String(BUS), "0x50", ...a);

Deno.test({
  name:
    "hwvm i2c: plugin on i2c-stub against i2cget/i2cset/i2cdetect: list, scan, byte, block, SMBus",
  ignore: !IN_VM,
  fn: async () => {
    const rig = await startBusPlugin("i2c", "i2c");
    try {
      const { call, callErr } = rig;
      const b = { bus: BUS, addr: ADDR };

      // 0x0630 bus list: the granted adapter with its functionality from I2C_FUNCS.
      const list = await call(Op.LIST, {}) as {
        buses: { bus: number; path: string; funcs: string[] }[];
      };
      const me = list.buses.find((x) => x.bus === BUS);
      assert(me !== undefined, `bus ${BUS} listed: ${JSON.stringify(list)}`);
      assertEq(me.path, `/dev/i2c-${BUS}`, "path");
      for (const f of ["smbus-quick", "smbus-read-byte-data", "smbus-write-i2c-block"]) {
        assert(me.funcs.includes(f), `stub has ${f}: ${me.funcs}`);
      }
      assert(!me.funcs.includes("i2c"), "stub is SMBus-only (no I2C_FUNC_I2C)");

      // 0x0631 scan equals i2cdetect's (both probe the way i2cdetect -y does by default).
      const scan = await call(Op.SCAN, { bus: BUS }) as { addresses: number[] };
      const det = await sh("i2cdetect", "-y", String(BUS));
      const detAddrs = det.split("\n").slice(1).flatMap((row) => {
        const [head, ...cells] = row.trim().split(/\s+/);
        const base = parseInt(head, 16);
        return cells.flatMap((c, i) => /^[0-9a-f]{2}$|^UU$/.test(c) ? [base + i] : []);
      });
      assertEq(scan.addresses, detAddrs, "scan = i2cdetect");
      assertEq(scan.addresses, [ADDR], "only the stub chip");
      const part = await call(Op.SCAN, { bus: BUS, first: 0x40, last: 0x4f }) as {
        addresses: number[];
      };
      assertEq(part.addresses, [], "range without the chip");

      // 0x0633 write byte data -> i2cget; i2cset -> 0x0634 read byte data.
      await call(Op.WRITE_BYTE, { ...b, reg: 0x10, value: 0xab });
      assertEq((await i2cget("0x10")).trim(), "0xab", "i2cget sees the plugin's byte");
      await i2cset("0x20", "0x5a");
      assertEq(await call(Op.READ_BYTE, { ...b, reg: 0x20 }), { value: 0x5a }, "read byte data");
      // Without reg: SMBus "write byte" moves the stub's pointer, "read byte" reads there.
      await call(Op.WRITE_BYTE, { ...b, value: 0x10 });
      assertEq(await call(Op.READ_BYTE, b), { value: 0xab }, "read byte at pointer 0x10");

      // 0x0635 write block (I2C block) -> i2cget i; i2cset i -> 0x0636 read block.
      const blk = new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8]);
      assertEq(await call(Op.WRITE_BLOCK, { ...b, reg: 0x30, data: blk }), { written: 8 }, "wb");
      assertEq(
        (await i2cget("0x30", "i", "8")).trim(),
        "0x01 0x02 0x03 0x04 0x05 0x06 0x07 0x08",
        "i2cget i sees the block",
      );
      await i2cset("0x40", "0x11", "0x22", "0x33", "i");
      const rb = await call(Op.READ_BLOCK, { ...b, reg: 0x40, length: 3 }) as { data: Uint8Array };
      assertEq([...rb.data], [0x11, 0x22, 0x33], "read block");

      // 0x0637 SMBus: word data both ways; quick; a kind the stub lacks is UNSUPPORTED.
      await call(Op.SMBUS, { ...b, kind: "word-data", read: false, command: 0x60, value: 0x1234 });
      assertEq((await i2cget("0x60", "w")).trim(), "0x1234", "i2cget w");
      await i2cset("0x62", "0xbeef", "w");
      assertEq(
        await call(Op.SMBUS, { ...b, kind: "word-data", read: true, command: 0x62 }),
        { word: 0xbeef },
        "read word",
      );
      assertEq(await call(Op.SMBUS, { ...b, kind: "quick", read: false }), {}, "quick ack");
      await callErr(Op.SMBUS, { bus: BUS, addr: 0x51, kind: "quick" }, ErrorCode.NOT_FOUND);
      await callErr(
        Op.SMBUS,
        { ...b, kind: "proc-call", command: 1, value: 2 },
        ErrorCode.UNSUPPORTED,
        "i2c-smbus-failed",
      );
      await callErr(Op.SMBUS, { ...b, kind: "bogus" }, ErrorCode.BAD_REQUEST, "field:kind");

      // 0x0632 I2C_RDWR: refused by the SMBus-only stub with EOPNOTSUPP -> UNSUPPORTED.
      const d = await callErr(
        Op.TRANSFER,
        {
          bus: BUS,
          messages: [{ addr: ADDR, write: new Uint8Array([0x10]) }, { addr: ADDR, read: 1 }],
        },
        ErrorCode.UNSUPPORTED,
      );
      assertEq(d, "i2c-transfer-failed", "transfer detail");
      await callErr(Op.TRANSFER, { bus: BUS, messages: [] }, ErrorCode.BAD_REQUEST);

      // Grants and bad input.
      await callErr(
        Op.READ_BYTE,
        { bus: 99, addr: ADDR },
        ErrorCode.FORBIDDEN,
        "device-not-granted",
      );
      await callErr(Op.READ_BYTE, { bus: BUS, addr: 0x80 }, ErrorCode.BAD_REQUEST, "field:addr");
      await callErr(
        Op.WRITE_BLOCK,
        { ...b, reg: 0, data: new Uint8Array(33) },
        ErrorCode.BAD_REQUEST,
      );
      await callErr(Op.WRITE_BYTE, { ...b, reg: 1, value: 256 }, ErrorCode.BAD_REQUEST);
      // Writes need tier 3 (manifest minTier), checked by the host before the plugin.
      const low = await rig.host.dispatch({
        opcode: Op.WRITE_BYTE,
        tier: 2,
        payload: { ...b, reg: 1, value: 1 },
        peer: { sessionId: 7, keyId: 7, tier: 2, remote: "x" },
      });
      assert(!low.ok && low.error.detail === "tier-below-minimum", "tier 2 write refused");
      // The refused write did not happen.
      assertEq((await i2cget("0x01")).trim(), "0x00", "register 1 untouched");
    } finally {
      await rig.stop();
    }
  },
});
