/**
 * The SPI plugin on the VM's real spidev bound to hwvm's loopback
 * controller (MOSI wired to MISO, `HWVM_SPIDEV`), with the kernel's own
 * view as the independent side: `spi-config -q` reads the mode and speed
 * the plugin set, the controller's sysfs statistics count the transfers and
 * bytes the plugin moved, and the loopback returns what was clocked out.
 *
 * Covers 0x0640-0x0646, exclusive hold per session, release on session
 * end, and bad input. Runs only inside the VM (`HWVM=1`).
 */
import { assert, assertEq, ErrorCode, IN_VM, sh, startBusPlugin, until } from "./_bushost.ts";

const DEV = Deno.env.get("HWVM_SPIDEV") || "/dev/spidev0.0";
const Op = {
  LIST: 0x0640,
  OPEN: 0x0641,
  CLOSE: 0x0642,
  CONFIGURE: 0x0643,
  TRANSFER: 0x0644,
  WRITE: 0x0645,
  READ: 0x0646,
} as const;

const STATS = "/sys/class/spi_master/spi0/statistics";
const stat = (n: string) => Number(Deno.readTextFileSync(`${STATS}/${n}`).trim());

Deno.test({
  name:
    "hwvm spi: plugin on spidev + loopback controller: list, open, configure, transfer, write, read",
  ignore: !IN_VM || Deno.env.get("HWVM_SPIDEV") === "",
  fn: async () => {
    const rig = await startBusPlugin("spi", "spi");
    try {
      const { call, callErr } = rig;
      const list = await call(Op.LIST, {}) as { devices: { path: string; held: boolean }[] };
      assertEq(list.devices.map((d) => [d.path, d.held]), [[DEV, false]], "list");

      // 0x0641 open with settings; spi-config (its own fd) sees the mode and speed.
      const o = await call(Op.OPEN, { path: DEV, mode: 3, speedHz: 1_000_000, bitsPerWord: 8 }) as {
        handle: number;
        config: { mode: number; speedHz: number; bitsPerWord: number };
      };
      assertEq([o.config.mode, o.config.speedHz, o.config.bitsPerWord], [3, 1_000_000, 8], "cfg");
      const q = await sh("spi-config", "-d", DEV, "-q");
      assert(/mode=3\b/.test(q) && /speed=1000000\b/.test(q), `spi-config -q: ${q}`);
      await callErr(Op.OPEN, { path: DEV }, ErrorCode.SERVICE_UNAVAILABLE, "device-busy", 8);
      await callErr(Op.OPEN, { path: "/dev/spidev9.9" }, ErrorCode.FORBIDDEN, "device-not-granted");

      // 0x0643 configure: mode 1, 16 bits, 2 MHz; the driver's readback; 7 bits refused.
      const c = await call(Op.CONFIGURE, {
        handle: o.handle,
        mode: 1,
        bitsPerWord: 16,
        speedHz: 2_000_000,
      }) as { config: { mode: number; bitsPerWord: number; speedHz: number } };
      assertEq([c.config.mode, c.config.bitsPerWord, c.config.speedHz], [1, 16, 2_000_000], "re");
      assert(/mode=1\b/.test(await sh("spi-config", "-d", DEV, "-q")), "spi-config mode=1");
      await callErr(Op.CONFIGURE, { handle: o.handle, bitsPerWord: 7 }, ErrorCode.BAD_REQUEST);
      await call(Op.CONFIGURE, { handle: o.handle, bitsPerWord: 8 });

      // 0x0644 transfer: loopback returns tx; the controller counted one message and the bytes.
      const t0 = stat("transfers"), tx0 = stat("bytes_tx"), rx0 = stat("bytes_rx");
      const data = new TextEncoder().encode("hello spi loopback");
      const r = await call(Op.TRANSFER, { handle: o.handle, data }) as { data: Uint8Array };
      assertEq(new TextDecoder().decode(r.data), "hello spi loopback", "loopback");
      await until(() => stat("transfers") === t0 + 1, 2000, "transfer counted");
      assertEq([stat("bytes_tx") - tx0, stat("bytes_rx") - rx0], [18, 18], "bytes counted");

      // Segments in one message: tx+rx, then rx-only (reads 0x00: no tx buffer).
      const seg = await call(Op.TRANSFER, {
        handle: o.handle,
        segments: [{ tx: new Uint8Array([1, 2, 3]) }, { length: 2 }],
      }) as { segments: Uint8Array[] };
      assertEq(seg.segments.map((s) => [...s]), [[1, 2, 3], [0, 0]], "segments");

      // 0x0645 write: bytes go out, nothing is returned but the count.
      const w0 = stat("bytes_tx");
      assertEq(await call(Op.WRITE, { handle: o.handle, data: new Uint8Array(100) }), {
        written: 100,
      }, "write");
      await until(() => stat("bytes_tx") === w0 + 100, 2000, "write bytes counted");

      // 0x0646 read: zeros clocked out come back; with fill, the fill byte.
      assertEq(
        [
          ...(await call(Op.READ, { handle: o.handle, length: 4 }) as { data: Uint8Array })
            .data,
        ],
        [0, 0, 0, 0],
        "read",
      );
      assertEq(
        [
          ...(await call(Op.READ, { handle: o.handle, length: 2, fill: 0x5a }) as {
            data: Uint8Array;
          }).data,
        ],
        [0x5a, 0x5a],
        "read fill",
      );

      // Bad input.
      await callErr(
        Op.TRANSFER,
        { handle: o.handle, data: new Uint8Array(5000) },
        ErrorCode.TOO_LARGE,
      );
      await callErr(Op.READ, { handle: o.handle, length: 0 }, ErrorCode.BAD_REQUEST);
      await callErr(Op.WRITE, { handle: o.handle }, ErrorCode.BAD_REQUEST, "field:data");
      await callErr(
        Op.TRANSFER,
        { handle: o.handle, data: new Uint8Array(1) },
        ErrorCode.NOT_FOUND,
        "no-such-handle",
        8,
      );

      // 0x0642 close; reopen by 7, then session end releases it for session 8.
      await call(Op.CLOSE, { handle: o.handle });
      await callErr(Op.CLOSE, { handle: o.handle }, ErrorCode.NOT_FOUND, "no-such-handle");
      const o2 = await call(Op.OPEN, { path: DEV }) as { handle: number };
      assert(o2.handle !== o.handle, "new handle");
      rig.host.sessionClosed(7);
      await until(
        async () => {
          const l = await call(Op.LIST, {}, 8) as { devices: { held: boolean }[] };
          return l.devices[0]?.held === false;
        },
        5000,
        "released on session end",
      );
      const s1 = await call(Op.OPEN, { path: DEV, shared: true }, 8) as { handle: number };
      const s2 = await call(Op.OPEN, { path: DEV, shared: true }, 9) as { handle: number };
      assert(s1.handle !== s2.handle, "shared on purpose");
    } finally {
      await rig.stop();
    }
  },
});
