/**
 * Bus detection on a fake sysfs/dev tree built in a temp dir (real files,
 * symlinks, the kernel's layout), and on this machine's real root (must
 * not throw; whatever it finds is well-formed).
 */
import { busOf, detectBuses } from "../../hardware/detect.ts";

function assertEq(a: unknown, b: unknown, msg = ""): void {
  if (JSON.stringify(a) !== JSON.stringify(b)) {
    throw new Error(`${msg} expected ${JSON.stringify(b)}, got ${JSON.stringify(a)}`);
  }
}

async function put(root: string, path: string, content = ""): Promise<void> {
  const full = `${root}${path}`;
  await Deno.mkdir(full.slice(0, full.lastIndexOf("/")), { recursive: true });
  await Deno.writeTextFile(full, content);
}

Deno.test("detect: every bus kind from a fake kernel tree", async () => {
  const root = await Deno.makeTempDir({ prefix: "myclerk-sysfs-" });
  try {
    // USB: one device (idVendor) and one interface (no idVendor, not a device).
    await put(root, "/sys/bus/usb/devices/1-1/idVendor", "1a86\n");
    await put(root, "/sys/bus/usb/devices/1-1:1.0/bInterfaceClass", "ff\n");
    // Serial: ttyUSB0 (device link), ttyS0 with a real UART (type 4), ttyS1 placeholder (type 0), tty1 (no device).
    await Deno.mkdir(`${root}/sys/devices/usb1/1-1/ttyUSB0/driver-dir/ch341`, { recursive: true });
    await Deno.mkdir(`${root}/sys/class/tty/ttyUSB0/device`, { recursive: true });
    await Deno.symlink(
      `${root}/sys/bus/usb-serial/drivers/ch341`,
      `${root}/sys/class/tty/ttyUSB0/device/driver`,
    );
    await put(root, "/sys/class/tty/ttyS0/device/uevent");
    await put(root, "/sys/class/tty/ttyS0/type", "4\n");
    await put(root, "/sys/class/tty/ttyS1/device/uevent");
    await put(root, "/sys/class/tty/ttyS1/type", "0\n");
    await put(root, "/sys/class/tty/tty1/uevent");
    // GSM modem: ttyUSB2 bound to the "option" driver, plus a QMI control device.
    await Deno.mkdir(`${root}/sys/class/tty/ttyUSB2/device`, { recursive: true });
    await Deno.symlink(
      `${root}/sys/bus/usb-serial/drivers/option`,
      `${root}/sys/class/tty/ttyUSB2/device/driver`,
    );
    await put(root, "/sys/class/usbmisc/cdc-wdm0/uevent");
    // /dev nodes for GPIO, I2C, SPI.
    for (const d of ["gpiochip0", "gpiochip1", "i2c-1", "spidev0.0", "ttyUSB0", "null"]) {
      await put(root, `/dev/${d}`);
    }
    // CAN: can0 (type 280) next to eth0 (type 1).
    await put(root, "/sys/class/net/can0/type", "280\n");
    await put(root, "/sys/class/net/eth0/type", "1\n");
    // 1-Wire master and a slave.
    await put(root, "/sys/bus/w1/devices/w1_bus_master1/uevent");
    await put(root, "/sys/bus/w1/devices/28-0000071c2ab4/uevent");

    const r = detectBuses(root);
    assertEq(busOf(r, "usb").devices, ["1-1"], "usb");
    assertEq(busOf(r, "serial").devices, ["/dev/ttyS0", "/dev/ttyUSB0", "/dev/ttyUSB2"], "serial");
    assertEq(busOf(r, "modem").devices, ["/dev/ttyUSB2", "/dev/cdc-wdm0"], "modem");
    assertEq(busOf(r, "gpio").devices, ["/dev/gpiochip0", "/dev/gpiochip1"], "gpio");
    assertEq(busOf(r, "i2c").devices, ["/dev/i2c-1"], "i2c");
    assertEq(busOf(r, "spi").devices, ["/dev/spidev0.0"], "spi");
    assertEq(busOf(r, "can").devices, ["can0"], "can");
    assertEq(busOf(r, "onewire").devices, ["w1_bus_master1"], "onewire");
    for (const b of r.buses) assertEq(b.present, b.devices.length > 0, b.kind);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

/** Symlink `link` (absolute below root) to `target` (relative, as the kernel writes them). */
async function link(root: string, target: string, at: string): Promise<void> {
  const full = `${root}${at}`;
  await Deno.mkdir(full.slice(0, full.lastIndexOf("/")), { recursive: true });
  await Deno.symlink(target, full);
}

Deno.test("detect: the layout a real 6.1 kernel shows (as seen in tests/hwvm)", async () => {
  // Copied from Debian 6.1.0-56 in the hwvm VM: class entries and bus entries are
  // relative symlinks into /sys/devices; `device` and `driver` are symlinks too.
  const root = await Deno.makeTempDir({ prefix: "myclerk-sysfs-" });
  try {
    const hcd = "/sys/devices/platform/dummy_hcd.0/usb1";
    await put(root, `${hcd}/idVendor`, "1d6b\n"); // the root hub is a USB device too
    await put(root, `${hcd}/1-1/idVendor`, "1d6b\n");
    await put(root, `${hcd}/1-0:1.0/bInterfaceClass`, "09\n");
    await put(root, `${hcd}/1-1/1-1:1.1/bInterfaceClass`, "0a\n");
    await Deno.mkdir(`${root}/sys/bus/usb/drivers/cdc_acm`, { recursive: true });
    for (const d of ["usb1", "1-1", "1-0:1.0", "1-1:1.1"]) {
      const rel = d === "usb1" ? "" : d === "1-0:1.0" || d === "1-1" ? `/${d}` : `/1-1/${d}`;
      await link(
        root,
        `../../../devices/platform/dummy_hcd.0/usb1${rel}`,
        `/sys/bus/usb/devices/${d}`,
      );
    }
    await link(root, "../../../../bus/usb/drivers/cdc_acm", `${hcd}/1-1/1-1:1.1/driver`);
    // ttyACM0 below its USB interface; ttyGS0 (gadget side) virtual, without `device`.
    await put(root, `${hcd}/1-1/1-1:1.1/tty/ttyACM0/uevent`);
    await link(root, "../../../1-1:1.1", `${hcd}/1-1/1-1:1.1/tty/ttyACM0/device`);
    await link(
      root,
      "../../devices/platform/dummy_hcd.0/usb1/1-1/1-1:1.1/tty/ttyACM0",
      "/sys/class/tty/ttyACM0",
    );
    await put(root, "/sys/devices/virtual/tty/ttyGS0/uevent");
    await link(root, "../../devices/virtual/tty/ttyGS0", "/sys/class/tty/ttyGS0");
    await put(root, "/sys/devices/virtual/tty/tty1/uevent");
    await link(root, "../../devices/virtual/tty/tty1", "/sys/class/tty/tty1");
    // ttyS0 a 16550A on PNP (type 4); ttyS3 the unused 8250 placeholder (type 0).
    await put(root, "/sys/devices/pnp0/00:05/tty/ttyS0/type", "4\n");
    await link(root, "../../../00:05", "/sys/devices/pnp0/00:05/tty/ttyS0/device");
    await link(root, "../../devices/pnp0/00:05/tty/ttyS0", "/sys/class/tty/ttyS0");
    await put(root, "/sys/devices/platform/serial8250/tty/ttyS3/type", "0\n");
    await link(root, "../../../serial8250", "/sys/devices/platform/serial8250/tty/ttyS3/device");
    await link(root, "../../devices/platform/serial8250/tty/ttyS3", "/sys/class/tty/ttyS3");
    // vcan0 (280) next to lo (772).
    await put(root, "/sys/devices/virtual/net/vcan0/type", "280\n");
    await link(root, "../../devices/virtual/net/vcan0", "/sys/class/net/vcan0");
    await put(root, "/sys/devices/virtual/net/lo/type", "772\n");
    await link(root, "../../devices/virtual/net/lo", "/sys/class/net/lo");

    const r = detectBuses(root);
    assertEq(busOf(r, "usb").devices, ["1-1", "usb1"], "usb");
    assertEq(busOf(r, "serial").devices, ["/dev/ttyACM0", "/dev/ttyGS0", "/dev/ttyS0"], "serial");
    assertEq(busOf(r, "modem").devices, [], "cdc_acm is not a modem driver");
    assertEq(busOf(r, "can").devices, ["vcan0"], "can");
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("detect: an empty root finds nothing", async () => {
  const root = await Deno.makeTempDir({ prefix: "myclerk-sysfs-" });
  try {
    const r = detectBuses(root);
    assertEq(r.buses.length, 8);
    assertEq(r.buses.filter((b) => b.present).map((b) => b.kind), []);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("detect: the real root is read without error", () => {
  const r = detectBuses("/");
  for (const b of r.buses) {
    for (const d of b.devices) {
      if (typeof d !== "string" || d === "") throw new Error(`bad device in ${b.kind}`);
    }
  }
});
