/**
 * The USB and GPIO parts of bench/hardware.ts (same run, ratios against a
 * peer measured in the same process):
 *
 * - USB bulk loopback MB/s (the hwvm gadget's f_loopback: bulk OUT echoed on
 *   bulk IN, 64 KiB per transfer): through the USB plugin (PluginHost ->
 *   plugin process -> libusb) versus libusb's synchronous
 *   `libusb_bulk_transfer` called directly in this process, and libusb's
 *   async API (hardware/usb.ts `submit`, the engine isochronous transfers
 *   use) in this process for comparison. Target: plugin >= 0.5x direct.
 * - GPIO set/get round trips per second (one set, one get): through the GPIO
 *   plugin versus GPIOHANDLE_SET/GET_LINE_VALUES ioctls on a line handle in
 *   this process.
 *
 * Both need the VM (dummy_hcd gadget, gpio-testchip); elsewhere they say so.
 *
 * @module
 */
import { Libusb } from "../hardware/usb.ts";
import { Libc } from "../hardware/libc.ts";
import { resolveLibrary } from "../plugins/policy.ts";
import { PluginHost } from "../plugins/runtime/host.ts";

const ROOT = new URL("../", import.meta.url).pathname;
const PEER = { sessionId: 1, keyId: 1, tier: 3, remote: "bench" };

/** A host with one repository plugin, granted as the policy entry says. */
async function withPlugin<T>(
  name: string,
  policy: Record<string, unknown>,
  f: (call: (op: number, payload: unknown) => Promise<Record<string, unknown>>) => Promise<T>,
): Promise<T> {
  const root = await Deno.makeTempDir({ prefix: `myclerk-bench-${name}-` });
  const plugins = `${root}/data/plugins`;
  await Deno.mkdir(`${plugins}/${name}`, { recursive: true });
  // Every file of the plugin (its modules may import siblings), as an install would.
  for await (const e of Deno.readDir(`${ROOT}plugins/${name}`)) {
    if (e.isFile) {
      await Deno.copyFile(`${ROOT}plugins/${name}/${e.name}`, `${plugins}/${name}/${e.name}`);
    }
  }
  await Deno.writeTextFile(
    `${root}/policy.json`,
    JSON.stringify({ version: 1, plugins: { [name]: { trusted: true, ...policy } } }),
  );
  const host = await PluginHost.start({
    pluginsDir: plugins,
    policyFile: `${root}/policy.json`,
    dataDir: `${root}/data`,
    busRoot: "/",
    startTimeoutMs: 90_000,
  });
  try {
    const st = host.list().find((s) => s.name === name);
    if (st?.state !== "running") throw new Error(`${name} plugin ${st?.state}: ${st?.reason}`);
    return await f(async (op, payload) => {
      const r = await host.dispatch({ opcode: op, tier: 3, payload, peer: PEER });
      if (!r.ok) throw new Error(`0x${op.toString(16)}: ${r.error.detail}`);
      return r.payload as Record<string, unknown>;
    });
  } finally {
    await host.close();
    await Deno.remove(root, { recursive: true }).catch(() => {});
  }
}

const SYNC_BULK = {
  libusb_bulk_transfer: {
    parameters: ["u64", "u8", "buffer", "i32", "buffer", "u32"],
    result: "i32",
  },
} as const;

/** USB bulk loopback: plugin vs direct sync vs direct async. */
export async function benchUsb(quick: boolean): Promise<void> {
  const path = resolveLibrary("libusb");
  const target = "target: USB bulk loopback MB/s through the plugin >= 0.5x direct";
  if (path === undefined) {
    console.log(`usb: libusb-1.0 not installed\n${target}: not measured`);
    return;
  }
  let lib: Libusb;
  try {
    lib = new Libusb(path);
  } catch (e) {
    console.log(`usb: libusb_init failed (${e})\n${target}: not measured`);
    return;
  }
  const g = lib.list().find((d) => d.device.vendorId === 0x1d6b && d.device.productId === 0x0104);
  const loop = g?.config?.interfaces.find((i) => i.class === 0xff && i.endpoints.length === 2);
  if (g === undefined || loop === undefined) {
    lib.unload();
    console.log(
      `usb: no hwvm loopback gadget (1d6b:0104) here; run inside the VM: bash tests/hwvm/run.sh\n${target}: not measured (no gadget)`,
    );
    return;
  }
  const epOut = loop.endpoints.find((e) => (e.address & 0x80) === 0)!.address;
  const epIn = loop.endpoints.find((e) => (e.address & 0x80) !== 0)!.address;
  const CHUNK = 64 * 1024;
  const total = quick ? 4 << 20 : 64 << 20;
  const rounds = total / CHUNK;
  const out = new Uint8Array(CHUNK);
  crypto.getRandomValues(out);
  const mbps = (bytes: number, ms: number) => bytes / (1 << 20) / (ms / 1000);

  // Direct, synchronous libusb_bulk_transfer (blocks this thread: what a C program would do).
  const h = lib.open(g.id);
  lib.claim(h, loop.interface);
  const sync = Deno.dlopen(path, SYNC_BULK).symbols;
  const moved = new Int32Array(1);
  const inBuf = new Uint8Array(CHUNK);
  const direct = (n: number) => {
    for (let i = 0; i < n; i++) {
      if (sync.libusb_bulk_transfer(h.ptr, epOut, out, CHUNK, moved, 2000) !== 0) {
        throw new Error("bulk out");
      }
      if (sync.libusb_bulk_transfer(h.ptr, epIn, inBuf, CHUNK, moved, 2000) !== 0) {
        throw new Error("bulk in");
      }
    }
  };
  direct(4); // warm-up
  let t0 = performance.now();
  direct(rounds);
  const dRate = mbps(total, performance.now() - t0);
  // Direct, async API (submit + event handling on a pool thread).
  t0 = performance.now();
  for (let i = 0; i < rounds; i++) {
    await lib.submit(h, "bulk", epOut, out, 0, 0, 2000);
    await lib.submit(h, "bulk", epIn, new Uint8Array(CHUNK), 0, 0, 2000);
  }
  const aRate = mbps(total, performance.now() - t0);
  lib.release(h, loop.interface);
  lib.close(h);
  lib.unload();

  const pRate = await withPlugin("usb", {
    ffi: ["libusb"],
    buses: ["usb"],
    read: ["/dev/bus/usb", "/sys/bus", "/sys/devices"],
    write: ["/dev/bus/usb"],
  }, async (call) => {
    const a = await call(0x0601, { device: g.id, interfaces: [loop.interface] });
    const once = async () => {
      await call(0x0604, { handle: a.handle, endpoint: epOut, data: out, timeoutMs: 2000 });
      const r = await call(0x0604, {
        handle: a.handle,
        endpoint: epIn,
        length: CHUNK,
        timeoutMs: 2000,
      });
      if ((r.data as Uint8Array).length !== CHUNK) throw new Error(`short echo ${r.status}`);
    };
    for (let i = 0; i < 4; i++) await once();
    let t = performance.now();
    for (let i = 0; i < rounds; i++) await once();
    const seq = mbps(total, performance.now() - t);
    // Overlapped: IN of chunk i and OUT of chunk i+1 in flight together (the plugin runs each
    // transfer on its own pool thread; f_loopback buffers 128 KiB, two chunks).
    const bulkOut = () =>
      call(0x0604, { handle: a.handle, endpoint: epOut, data: out, timeoutMs: 2000 });
    const bulkIn = async () => {
      const r = await call(0x0604, {
        handle: a.handle,
        endpoint: epIn,
        length: CHUNK,
        timeoutMs: 2000,
      });
      if ((r.data as Uint8Array).length !== CHUNK) throw new Error(`short echo ${r.status}`);
    };
    t = performance.now();
    await bulkOut();
    for (let i = 0; i < rounds; i++) {
      await Promise.all(i + 1 < rounds ? [bulkIn(), bulkOut()] : [bulkIn()]);
    }
    const overlapped = mbps(total, performance.now() - t);
    await call(0x0602, { handle: a.handle });
    return { seq, overlapped };
  });
  const ratio = Math.max(pRate.seq, pRate.overlapped) / dRate;
  console.log(
    `usb: dummy_hcd loopback ${g.id}, ${total >> 20} MiB echoed in 64 KiB transfers, ${
      quick ? "quick" : "full"
    } run`,
  );
  console.log(`usb direct (libusb_bulk_transfer, sync, this process): ${dRate.toFixed(2)} MB/s`);
  console.log(
    `usb direct (libusb async API + event loop on a pool thread, this process): ${
      aRate.toFixed(2)
    } MB/s (${(aRate / dRate).toFixed(2)}x sync)`,
  );
  console.log(
    `usb plugin (BULK_TRANSFER OUT then IN -> plugin process -> nonblocking libusb): ${
      pRate.seq.toFixed(2)
    } MB/s (${(pRate.seq / dRate).toFixed(2)}x)`,
  );
  console.log(
    `usb plugin (IN of chunk i and OUT of chunk i+1 in flight together): ${
      pRate.overlapped.toFixed(2)
    } MB/s (${(pRate.overlapped / dRate).toFixed(2)}x)`,
  );
  console.log(
    `${target}: ${ratio.toFixed(2)}x ${ratio >= 0.5 ? "PASS" : "FAIL"} (best plugin mode)`,
  );
}

/** GPIO set/get round trips: plugin vs direct ioctl. */
export async function benchGpio(quick: boolean): Promise<void> {
  const chip = Deno.env.get("HWVM_GPIOCHIP") || "/dev/gpiochip0";
  const label = "GPIO set/get round trips/s through the plugin vs direct ioctl";
  const libcPath = resolveLibrary("libc");
  let present = false;
  try {
    present = Deno.statSync(chip).isCharDevice === true;
  } catch { /* absent */ }
  if (!present || libcPath === undefined || resolveLibrary("libgpiod") === undefined) {
    console.log(
      `gpio: no ${chip} (or libgpiod) here; run inside the VM: bash tests/hwvm/run.sh\n${label}: not measured`,
    );
    return;
  }
  const n = quick ? 2_000 : 50_000;
  const offset = 2;
  const libc = new Libc(libcPath);
  // GPIO_GET_LINEHANDLE_IOCTL (uAPI v1) with struct gpiohandle_request (364 bytes).
  const req = new Uint8Array(new ArrayBuffer(364));
  const dv = new DataView(req.buffer);
  dv.setUint32(0, offset, true);
  dv.setUint32(256, 1 << 1, true); // GPIOHANDLE_REQUEST_OUTPUT
  req.set(new TextEncoder().encode("bench"), 324);
  dv.setUint32(356, 1, true);
  const chipFd = libc.sysOpen(chip, 2 | 0o2000000);
  if (chipFd < 0) throw new Error(`open ${chip}: ${-chipFd}`);
  if (libc.sysIoctl(chipFd, 0xc16cb403, req) < 0) throw new Error("GPIO_GET_LINEHANDLE_IOCTL");
  const fd = dv.getInt32(360, true);
  const vals = new Uint8Array(new ArrayBuffer(64));
  const directRun = (k: number) => {
    for (let i = 0; i < k; i++) {
      vals[0] = i & 1;
      if (libc.sysIoctl(fd, 0xc040b409, vals) < 0) throw new Error("SET_LINE_VALUES");
      if (libc.sysIoctl(fd, 0xc040b408, vals) < 0) throw new Error("GET_LINE_VALUES");
      if (vals[0] !== (i & 1)) throw new Error("read back differs");
    }
  };
  directRun(100);
  let t0 = performance.now();
  directRun(n);
  const dRate = n / ((performance.now() - t0) / 1000);
  libc.close(fd);
  libc.close(chipFd);

  const pRate = await withPlugin("gpio", {
    ffi: ["libgpiod"],
    buses: ["gpio"],
    // libgpiod v1 checks a chip against /sys/bus/gpio/devices/*/dev (confined plugins need the grant).
    read: ["/sys/bus/gpio", "/sys/devices"],
  }, async (call) => {
    const a = await call(0x0622, { chip, offset, direction: "output", value: 0 });
    const run = async (k: number) => {
      for (let i = 0; i < k; i++) {
        await call(0x0624, { handle: a.handle, value: i & 1 });
        const g = await call(0x0625, { handle: a.handle });
        if (g.value !== (i & 1)) throw new Error("read back differs");
      }
    };
    await run(50);
    t0 = performance.now();
    await run(n);
    const rate = n / ((performance.now() - t0) / 1000);
    await call(0x0623, { handle: a.handle });
    return rate;
  });
  console.log(
    `gpio: ${chip} line ${offset}, ${n} set+get round trips, ${quick ? "quick" : "full"} run`,
  );
  console.log(
    `gpio direct (GPIOHANDLE_SET/GET_LINE_VALUES ioctls, this process): ${
      Math.round(dRate)
    } round trips/s`,
  );
  console.log(
    `gpio plugin (LINE_SET + LINE_GET -> plugin process -> libgpiod v1): ${
      Math.round(pRate)
    } round trips/s`,
  );
  console.log(
    `${label}: ${
      (pRate / dRate).toFixed(3)
    }x (no target: a request/response hop costs more than an ioctl)`,
  );
}

if (import.meta.main) {
  const quick = Deno.args.includes("--quick");
  await benchUsb(quick);
  await benchGpio(quick);
}
