/**
 * The USB plugin on a real USB stack (Debian 6.1 in the hwvm VM): the
 * dummy_hcd gadget 1d6b:0104 with the loopback function (bulk OUT is echoed
 * on bulk IN) and CDC-ACM (cdc_acm bound on the host side). The plugin runs
 * in its own process under PluginHost with FFI to libusb only.
 *
 * Independent sides: `lsusb -v` (descriptors), sysfs driver links (kernel
 * driver detached / re-attached), /dev/ttyACM0 appearing and disappearing,
 * /dev/ttyGS0 opened by the test (f_acm's SERIAL_STATE notification on the
 * interrupt endpoint), the kernel log (port reset).
 *
 * Exercised per opcode: LIST, ATTACH (claim, kernel driver detached, one
 * session at a time), DETACH (driver back), CONTROL (standard, class
 * SET/GET_LINE_CODING, SET_FEATURE halt), BULK (loopback echo, timeout,
 * stall; the event loop keeps answering while a bulk IN waits), INTERRUPT
 * (SERIAL_STATE notifications), ISOCHRONOUS (refused on a bulk endpoint: the
 * gadget has no isochronous endpoint and dummy_hcd fails every isochronous
 * URB, so only the submission path and its error are exercised; the async
 * engine it uses is shown moving real bulk data below), GET_DESCRIPTOR
 * (device, configuration, string), SET_CONFIGURATION, SET_INTERFACE,
 * CLEAR_HALT, RESET; a session that ends releases the device.
 * Runs only inside the VM (`HWVM=1`); ignored elsewhere.
 */
import { resolveLibrary } from "../../plugins/policy.ts";
import { PluginHost } from "../../plugins/runtime/host.ts";
import type { PeerInfo } from "../../plugins/sdk/types.ts";
import { ErrorCode } from "../../core/errors.ts";
import { Libusb } from "../../hardware/usb.ts";
import {
  assert,
  assertEq,
  copyDir,
  dropWorld,
  makeWorld,
  PEER,
  PLUGINS_SRC,
  until,
  writePolicy,
} from "../plugins/_helpers.ts";
import { openTty, type Tty } from "./_tty.ts";

const IN_VM = Deno.env.get("HWVM") === "1";
const OTHER: PeerInfo = { ...PEER, sessionId: 9 };

type Dev = {
  id: string;
  device: {
    vendorId: number;
    productId: number;
    bcdDevice: number;
    numConfigurations: number;
    iSerialNumber: number;
  };
  config?: {
    value: number;
    totalLength: number;
    interfaces: {
      interface: number;
      altSetting: number;
      class: number;
      endpoints: { address: number; type: string; maxPacketSize: number }[];
    }[];
  };
};

/** `lsusb -v -d 1d6b:0104`, reduced to what the plugin must agree with. */
async function lsusb(): Promise<
  { fields: Record<string, string>; endpoints: string[]; ifaces: string[] }
> {
  const out = await new Deno.Command("lsusb", {
    args: ["-v", "-d", "1d6b:0104"],
    stdout: "piped",
    stderr: "null",
  })
    .output();
  const text = new TextDecoder().decode(out.stdout);
  const fields: Record<string, string> = {};
  const endpoints: string[] = [];
  const ifaces: string[] = [];
  let iface = -1;
  let ep = "";
  let type = "";
  for (const raw of text.split("\n")) {
    const l = raw.trim();
    const [k, ...rest] = l.split(/\s+/);
    const v = rest.join(" ");
    if (
      ["idVendor", "idProduct", "bcdDevice", "bNumConfigurations", "wTotalLength", "iSerial"]
        .includes(k)
    ) {
      fields[k] ??= v;
    }
    if (k === "bInterfaceNumber") iface = Number(v);
    if (k === "bInterfaceClass") ifaces.push(`${iface}:${Number(rest[0])}`);
    if (k === "bEndpointAddress") ep = rest[0];
    if (l.startsWith("Transfer Type")) type = l.replace("Transfer Type", "").trim().toLowerCase();
    if (k === "wMaxPacketSize") {
      endpoints.push(`${iface}:${Number(ep)}:${type}:${parseInt(rest[0], 16) & 0x7ff}`);
    }
  }
  return { fields, endpoints, ifaces };
}

function random(n: number): Uint8Array {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i += 65536) crypto.getRandomValues(b.subarray(i, Math.min(n, i + 65536)));
  return b;
}

function same(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}

function exists(p: string): boolean {
  try {
    Deno.statSync(p);
    return true;
  } catch {
    return false;
  }
}

function driverOf(sysIface: string): string | undefined {
  try {
    return Deno.readLinkSync(`/sys/bus/usb/devices/${sysIface}/driver`).split("/").pop();
  } catch {
    return undefined;
  }
}

Deno.test({
  name: "hwvm usb: plugin drives the dummy_hcd gadget (loopback + ACM) through libusb",
  ignore: !IN_VM,
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async (t) => {
    const libusbPath = resolveLibrary("libusb");
    assert(libusbPath !== undefined, "libusb not found");
    const w = await makeWorld();
    let host: PluginHost | undefined;
    let gs: Tty | undefined;
    try {
      await copyDir(`${PLUGINS_SRC}/usb`, `${w.pluginsDir}/usb`);
      await writePolicy(w, {
        plugins: {
          usb: {
            trusted: true,
            ffi: ["libusb"],
            buses: ["usb"],
            read: ["/dev/bus/usb", "/sys/bus", "/sys/devices"],
            write: ["/dev/bus/usb"],
          },
        },
      });
      // Under TCG a plugin process needs well over the default 15 s to compile and start.
      host = await PluginHost.start({
        pluginsDir: w.pluginsDir,
        policyFile: w.policyFile,
        dataDir: w.dataDir,
        busRoot: "/",
        restartBaseMs: 50,
        startTimeoutMs: 90_000,
        log: (r) => w.logs.push(r),
      });
      const h = host;
      // Under TCG a process plugin can miss the first start deadline; the host retries it.
      const state = () => h.list().find((s) => s.name === "usb")!;
      await until(() => state().state === "running", 90_000, `usb running (${state().reason})`);
      assertEq(state().isolation, "process");
      const d = (opcode: number, payload: unknown, peer = PEER) =>
        h.dispatch({ opcode, tier: 3, payload, peer });
      const ok = async (opcode: number, payload: unknown, peer = PEER) => {
        const r = await d(opcode, payload, peer);
        if (!r.ok) {
          throw new Error(`0x${opcode.toString(16)}: ${JSON.stringify(r.error)} ${r.error.detail}`);
        }
        return r.payload as Record<string, unknown>;
      };
      const code = async (opcode: number, payload: unknown, peer = PEER) => {
        const r = await d(opcode, payload, peer);
        return r.ok ? "ok" : `${r.error.code}:${r.error.detail}`;
      };

      // LIST, checked against lsusb -v.
      const devs = (await ok(0x0600, {})).devices as Dev[];
      const g = devs.find((x) => x.device.vendorId === 0x1d6b && x.device.productId === 0x0104);
      assert(
        g !== undefined && g.config !== undefined,
        `gadget not listed: ${JSON.stringify(devs.map((x) => x.id))}`,
      );
      const ls = await lsusb();
      assertEq(
        [g.device.vendorId, g.device.productId, g.device.numConfigurations, g.config.totalLength],
        [
          parseInt(ls.fields.idVendor, 16),
          parseInt(ls.fields.idProduct, 16),
          Number(ls.fields.bNumConfigurations),
          Number(ls.fields.wTotalLength.split(" ")[0]),
        ],
        "device/config descriptor vs lsusb",
      );
      const mine = g.config.interfaces.flatMap((i) =>
        i.endpoints.map((e) => `${i.interface}:${e.address}:${e.type}:${e.maxPacketSize}`)
      );
      assertEq(mine.sort(), [...ls.endpoints].sort(), "endpoints vs lsusb");
      assertEq(
        g.config.interfaces.map((i) => `${i.interface}:${i.class}`).sort(),
        [...ls.ifaces].sort(),
        "interfaces vs lsusb",
      );

      const loop = g.config.interfaces.find((i) =>
        i.class === 0xff && i.endpoints.every((e) => e.type === "bulk")
      )!;
      const comm = g.config.interfaces.find((i) => i.class === 2)!;
      const data = g.config.interfaces.find((i) => i.class === 10)!;
      assert(loop && comm && data, "loopback / ACM interfaces");
      const epOut = loop.endpoints.find((e) => (e.address & 0x80) === 0)!.address;
      const epIn = loop.endpoints.find((e) => (e.address & 0x80) !== 0)!.address;
      const notify = comm.endpoints.find((e) => e.type === "interrupt")!;
      const port = (await Deno.readTextFile(`/sys/bus/usb/devices/${sysName(g.id)}/devpath`))
        .trim();
      const sysIf = (i: number) => `${sysBus(g.id)}-${port}:${g.config!.value}.${i}`;
      assertEq(driverOf(sysIf(comm.interface)), "cdc_acm", "cdc_acm bound before attach");

      await t.step("ATTACH the loopback interface; one session at a time; bad ids", async () => {
        assertEq(await code(0x0601, { device: "x" }), `${ErrorCode.BAD_REQUEST}:field:device`);
        assertEq(await code(0x0601, { device: "9-99" }), `${ErrorCode.NOT_FOUND}:usb-not-found`);
        const a = await ok(0x0601, { device: g.id, interfaces: [loop.interface] });
        assertEq([a.claimed, a.detached], [[loop.interface], []]);
        assertEq(
          await code(0x0601, { device: g.id }, OTHER),
          `${ErrorCode.SERVICE_UNAVAILABLE}:device-busy`,
        );
        assertEq(
          await code(0x0604, { handle: a.handle, endpoint: epIn, length: 1 }, OTHER),
          `${ErrorCode.NOT_FOUND}:no-such-handle`,
        );
        await ok(0x0602, { handle: a.handle });
      });

      const a = await ok(0x0601, {
        device: g.id,
        interfaces: [loop.interface, comm.interface, data.interface],
      });
      const handle = a.handle as number;
      /**
       * Bulk OUT `n` random bytes, read them back on bulk IN; says what came back when not.
       * f_loopback's OUT requests are 4096 bytes: a transfer ends at a multiple of 4096 or at a
       * short packet (not a multiple of wMaxPacketSize 512); 512/1024/2048 would wait for more.
       */
      const echo = async (n: number, what: string) => {
        const out = random(n);
        const wr = await ok(0x0604, { handle, endpoint: epOut, data: out, timeoutMs: 3000 });
        const rd = await ok(0x0604, { handle, endpoint: epIn, length: n, timeoutMs: 3000 });
        const got = (rd.data as Uint8Array | undefined) ?? new Uint8Array(0);
        if (!same(got, out)) {
          let at = 0;
          while (at < got.length && got[at] === out[at]) at++;
          throw new Error(
            `${what}: wrote ${
              JSON.stringify(wr)
            }, read ${rd.status} ${got.length} bytes, equal up to ${at}`,
          );
        }
      };

      await t.step(
        "ATTACH detached cdc_acm from both ACM interfaces (sysfs, /dev/ttyACM0 gone)",
        async () => {
          // cdc_acm binds both ACM interfaces through the comm one: unbinding it frees both.
          assertEq(a.detached, [comm.interface]);
          assertEq(
            [driverOf(sysIf(comm.interface)), driverOf(sysIf(data.interface))],
            ["usbfs", "usbfs"],
            "both ACM interfaces now claimed through usbfs",
          );
          await until(() => !exists("/dev/ttyACM0"), 5000, "ttyACM0 to disappear");
        },
      );

      await t.step(
        "BULK loopback echo (4 KiB, 64 KiB, a 1000-byte short transfer), IN timeout, event loop not blocked",
        async () => {
          for (const n of [4096, 65536, 1000]) {
            const out = random(n);
            const wr = await ok(0x0604, { handle, endpoint: epOut, data: out });
            assertEq(wr, { status: "completed", written: n });
            const rd = await ok(0x0604, { handle, endpoint: epIn, length: n, timeoutMs: 3000 });
            assert(same(rd.data as Uint8Array, out), `echo of ${n} bytes differs`);
          }
          // Nothing queued: a bulk IN waits its full timeout on a pool thread while LIST answers.
          const t0 = performance.now();
          let inDone = false;
          const pending = ok(0x0604, { handle, endpoint: epIn, length: 512, timeoutMs: 4000 })
            .then((r) => {
              inDone = true;
              return r;
            });
          await ok(0x0600, {});
          const listMs = performance.now() - t0;
          assert(!inDone, `LIST (${Math.round(listMs)} ms) answered only after the bulk IN ended`);
          const r = await pending;
          assertEq(r.status, "timed-out");
          assert(performance.now() - t0 >= 3900, "the IN waited its timeout");
        },
      );

      await t.step(
        "CONTROL: GET_DESCRIPTOR/GET_CONFIGURATION; class SET/GET_LINE_CODING on the ACM interface",
        async () => {
          const dd = await ok(0x0603, {
            handle,
            requestType: 0x80,
            request: 6,
            value: 0x0100,
            length: 18,
          });
          const b = dd.data as Uint8Array;
          assertEq(
            [b[8] | (b[9] << 8), b[10] | (b[11] << 8)],
            [0x1d6b, 0x0104],
            "device descriptor",
          );
          const cfg = await ok(0x0603, { handle, requestType: 0x80, request: 8, length: 1 });
          assertEq([...(cfg.data as Uint8Array)], [g.config!.value]);
          const coding = new Uint8Array([0x80, 0x25, 0, 0, 1, 2, 7]); // 9600 baud, 1.5 stop, even, 7 bits
          assertEq(
            await ok(0x0603, {
              handle,
              requestType: 0x21,
              request: 0x20,
              index: comm.interface,
              data: coding,
            }),
            {
              status: "completed",
              written: 7,
            },
          );
          const got = await ok(0x0603, {
            handle,
            requestType: 0xa1,
            request: 0x21,
            index: comm.interface,
            length: 7,
          });
          assertEq(
            [...(got.data as Uint8Array)],
            [...coding],
            "GET_LINE_CODING returns what was set",
          );
          assertEq(
            await code(0x0603, {
              handle,
              requestType: 0x80,
              request: 6,
              value: 0x0100,
              length: 70000,
            }),
            `${ErrorCode.BAD_REQUEST}:field:length`,
          );
        },
      );

      await t.step(
        "GET_DESCRIPTOR: device, configuration, serial string (lsusb), missing string",
        async () => {
          const dev = (await ok(0x0607, { handle, type: 1 })).data as Uint8Array;
          assertEq([dev.length, dev[17]], [18, g.device.numConfigurations]);
          const cfg = (await ok(0x0607, { handle, type: 2, index: 0 })).data as Uint8Array;
          assertEq(cfg.length, g.config!.totalLength, "whole configuration");
          const s = await ok(0x0607, { handle, type: 3, index: g.device.iSerialNumber });
          assertEq(
            s.text,
            ls.fields.iSerial.split(" ").slice(1).join(" "),
            "serial string vs lsusb",
          );
          assertEq(
            await code(0x0607, { handle, type: 3, index: 0x77 }),
            `${ErrorCode.NOT_FOUND}:no-such-descriptor`,
          );
        },
      );

      await t.step(
        "INTERRUPT: f_acm SERIAL_STATE notifications as /dev/ttyGS0 opens and closes",
        async () => {
          const libc = resolveLibrary("libc")!;
          const seen: string[] = [];
          const readState = async (want: number) => {
            for (let i = 0; i < 12; i++) {
              // One notification per transfer: ask for exactly wMaxPacketSize (as cdc_acm does).
              const r = await ok(0x0605, {
                handle,
                endpoint: notify.address,
                length: notify.maxPacketSize,
                timeoutMs: 500,
              });
              const n = r.data as Uint8Array | undefined;
              seen.push(`${r.status}:${[...(n ?? [])].join(",")}`);
              if (r.status === "completed" && n !== undefined && n.length === 10) {
                assertEq([n[0], n[1], n[4]], [0xa1, 0x20, comm.interface], "SERIAL_STATE header");
                if ((n[8] & 3) === want) return;
              }
            }
            throw new Error(`no SERIAL_STATE with DCD|DSR=${want}: saw ${JSON.stringify(seen)}`);
          };
          gs = openTty(libc, "/dev/ttyGS0");
          await readState(3);
          gs.close();
          gs = undefined;
          await readState(0);
        },
      );

      await t.step(
        "CLEAR_HALT after SET_FEATURE(ENDPOINT_HALT): stall, then echo again",
        async () => {
          await ok(0x0603, { handle, requestType: 0x02, request: 3, value: 0, index: epOut });
          assertEq(await ok(0x0604, { handle, endpoint: epOut, data: random(64) }), {
            status: "stall",
          });
          await ok(0x060a, { handle, endpoint: epOut });
          await echo(4096, "echo after clear halt");
        },
      );

      await t.step(
        "SET_INTERFACE alt 0 (exists) and 5 (does not); unclaimed interface refused",
        async () => {
          assertEq(await ok(0x0609, { handle, interface: loop.interface, altSetting: 0 }), {
            interface: loop.interface,
            altSetting: 0,
          });
          assert(
            (await code(0x0609, { handle, interface: loop.interface, altSetting: 5 })) !== "ok",
            "alt 5",
          );
          assertEq(
            await code(0x0609, { handle, interface: 30, altSetting: 0 }),
            `${ErrorCode.BAD_REQUEST}:interface-not-claimed`,
          );
        },
      );

      await t.step(
        "ISOCHRONOUS: refused on a bulk endpoint (no isochronous endpoint in this gadget)",
        async () => {
          const r = await d(0x0606, { handle, endpoint: epIn, packets: 4, packetSize: 64 });
          assert(!r.ok, `iso on bulk ep: ${JSON.stringify(r)}`);
          assertEq(
            await code(0x0606, { handle, endpoint: epIn, packets: 0, packetSize: 64 }),
            `${ErrorCode.BAD_REQUEST}:field:packets`,
          );
        },
      );

      await t.step(
        "SET_CONFIGURATION to the current value (interfaces re-claimed), to a missing one",
        async () => {
          const r = await ok(0x0608, { handle, configuration: g.config!.value });
          assertEq(r.configuration, g.config!.value);
          assertEq(
            [...(r.claimed as number[])].sort(),
            [loop.interface, comm.interface, data.interface].sort(),
          );
          assert((await code(0x0608, { handle, configuration: 7 })) !== "ok", "configuration 7");
          await echo(1000, "echo after SET_CONFIGURATION");
        },
      );

      await t.step("RESET: the kernel logs a port reset, the handle keeps working", async () => {
        const r = await ok(0x060b, { handle });
        assertEq(r.reenumerated, false);
        const log = new TextDecoder().decode(
          (await new Deno.Command("dmesg", { stdout: "piped" }).output()).stdout,
        );
        assert(/reset .*USB device number/.test(log), "kernel log shows the reset");
        await echo(8192, "echo after reset");
      });

      await t.step("DETACH gives cdc_acm back: /dev/ttyACM0 returns", async () => {
        const r = await ok(0x0602, { handle });
        assertEq(r.reattached, [comm.interface]);
        await until(() => exists("/dev/ttyACM0"), 5000, "ttyACM0 to come back");
        assertEq([driverOf(sysIf(comm.interface)), driverOf(sysIf(data.interface))], [
          "cdc_acm",
          "cdc_acm",
        ]);
        assertEq(
          await code(0x0604, { handle, endpoint: epIn, length: 1 }),
          `${ErrorCode.NOT_FOUND}:no-such-handle`,
        );
      });

      await t.step(
        "a session that ends releases its device and re-attaches the kernel driver",
        async () => {
          const b = await ok(
            0x0601,
            { device: g.id, interfaces: [comm.interface, data.interface] },
            OTHER,
          );
          await until(() => !exists("/dev/ttyACM0"), 5000, "ttyACM0 to disappear");
          assertEq(
            await code(0x0601, { device: g.id }),
            `${ErrorCode.SERVICE_UNAVAILABLE}:device-busy`,
          );
          h.sessionClosed(OTHER.sessionId);
          await until(() => exists("/dev/ttyACM0"), 5000, "ttyACM0 back after session close");
          assertEq(
            await code(0x0604, { handle: b.handle, endpoint: epIn, length: 1 }, OTHER),
            `${ErrorCode.NOT_FOUND}:no-such-handle`,
          );
          const c = await ok(0x0601, { device: g.id, interfaces: [loop.interface] });
          await ok(0x0602, { handle: c.handle });
        },
      );

      await t.step("the async engine (used for isochronous) moves real bulk data", async () => {
        // Same process as the test, not the plugin: libusb's async API with the sentinel-polled status.
        const lib = new Libusb(libusbPath);
        const hd = lib.open(g.id);
        try {
          lib.claim(hd, loop.interface);
          const out = random(4096);
          const wr = await lib.submit(hd, "bulk", epOut, out, 0, 0, 2000);
          assertEq([wr.status, wr.actualLength], ["completed", 4096]);
          const rd = await lib.submit(hd, "bulk", epIn, new Uint8Array(4096), 0, 0, 2000);
          assertEq([rd.status, rd.actualLength], ["completed", 4096]);
          assert(same(rd.data, out), "async echo");
          const idle = await lib.submit(hd, "bulk", epIn, new Uint8Array(64), 0, 0, 300);
          assertEq(idle.status, "timed-out");
          lib.release(hd, loop.interface);
        } finally {
          lib.close(hd);
          lib.unload();
        }
      });
    } finally {
      gs?.close();
      await host?.close();
      await dropWorld(w);
    }
  },
});

/** sysfs bus number part of a `BUS-ADDRESS` id. */
function sysBus(id: string): string {
  return id.split("-")[0];
}

/** The sysfs device directory of a `BUS-ADDRESS` id (found by busnum/devnum). */
function sysName(id: string): string {
  const [bus, addr] = id.split("-").map(Number);
  for (const e of Deno.readDirSync("/sys/bus/usb/devices")) {
    try {
      const b = Number(Deno.readTextFileSync(`/sys/bus/usb/devices/${e.name}/busnum`).trim());
      const a = Number(Deno.readTextFileSync(`/sys/bus/usb/devices/${e.name}/devnum`).trim());
      if (b === bus && a === addr) return e.name;
    } catch { /* interfaces have no busnum */ }
  }
  throw new Error(`no sysfs device for ${id}`);
}
