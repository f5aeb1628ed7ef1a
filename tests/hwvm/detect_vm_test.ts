/**
 * Bus detection against a real Linux kernel (Debian 6.1 in the hwvm VM,
 * `tests/hwvm/run.sh`): `detectBuses("/")` must find the buses the VM
 * really has, read from the kernel's own sysfs and devtmpfs, not from a
 * fake tree. Each finding is cross-checked with independent evidence
 * (the env the VM exports, the device node's type, sysfs attributes).
 *
 * Runs only inside the VM (`HWVM=1`); ignored everywhere else.
 */
import { busOf, detectBuses } from "../../hardware/detect.ts";

const IN_VM = Deno.env.get("HWVM") === "1";
const WHY = "needs the hwvm VM (HWVM=1): run `bash tests/hwvm/run.sh`";

function assert(cond: unknown, msg: string): asserts cond {
  if (!cond) throw new Error(msg);
}

function assertEq(a: unknown, b: unknown, msg: string): void {
  if (JSON.stringify(a) !== JSON.stringify(b)) {
    throw new Error(`${msg}: expected ${JSON.stringify(b)}, got ${JSON.stringify(a)}`);
  }
}

function read(path: string): string | undefined {
  try {
    return Deno.readTextFileSync(path).trim();
  } catch {
    return undefined;
  }
}

/** The node exists and is a character device (devtmpfs made it for a real driver). */
function assertCharDev(path: string): void {
  const st = Deno.statSync(path);
  assert(st.isCharDevice === true, `${path} is not a character device`);
}

if (!IN_VM) console.error(`[skip] tests/hwvm: ${WHY}`);

Deno.test({
  name: "hwvm detect: the real kernel's CAN, I2C, USB, serial, GPIO and SPI buses are found",
  ignore: !IN_VM,
  fn: () => {
    const r = detectBuses("/");
    const report = Object.fromEntries(r.buses.map((b) => [b.kind, b.devices]));
    console.log(`detectBuses("/") in the VM: ${JSON.stringify(report)}`);
    for (const b of r.buses) assertEq(b.present, b.devices.length > 0, `${b.kind} present`);

    // CAN: vcan0, made and brought up by the VM's stage 2 (ARPHRD_CAN = 280 in sysfs).
    const canIf = Deno.env.get("HWVM_CAN_IF") || "vcan0";
    assertEq(busOf(r, "can").devices, [canIf], "can");
    assertEq(read(`/sys/class/net/${canIf}/type`), "280", "vcan type");

    // I2C: the i2c-stub adapter through i2c-dev.
    const i2cBus = Deno.env.get("HWVM_I2C_BUS") ?? "";
    assert(/^\d+$/.test(i2cBus), `HWVM_I2C_BUS not set (${i2cBus})`);
    const i2cDev = `/dev/i2c-${i2cBus}`;
    assert(busOf(r, "i2c").devices.includes(i2cDev), `i2c: ${i2cDev} missing`);
    for (const d of busOf(r, "i2c").devices) assertCharDev(d);
    assertEq(read(`/sys/class/i2c-dev/i2c-${i2cBus}/name`), "SMBus stub driver", "i2c adapter");

    // USB: the configfs gadget 1d6b:0104, enumerated on dummy_hcd; interfaces
    // (`1-1:1.0`) are not devices; the root hubs are (they have idVendor too).
    const usb = busOf(r, "usb").devices;
    const ids = usb.map((d) => {
      const base = `/sys/bus/usb/devices/${d}`;
      return `${read(`${base}/idVendor`)}:${read(`${base}/idProduct`)}`;
    });
    const gadget = usb[ids.indexOf("1d6b:0104")];
    assert(gadget !== undefined, `usb: no 1d6b:0104 among ${JSON.stringify(usb)} (${ids})`);
    assertEq(read(`/sys/bus/usb/devices/${gadget}/serial`), "hwvm0001", "gadget serial");
    const gadgetPath = Deno.realPathSync(`/sys/bus/usb/devices/${gadget}`);
    assert(gadgetPath.includes("dummy_hcd"), `gadget not on dummy_hcd: ${gadgetPath}`);
    assert(usb.every((d) => !d.includes(":")), `usb lists interfaces: ${usb}`);

    // Serial: the gadget's ACM function as the host sees it (cdc_acm).
    const serial = busOf(r, "serial").devices;
    assert(serial.includes("/dev/ttyACM0"), `serial: /dev/ttyACM0 missing from ${serial}`);
    const acmDriver = Deno.realPathSync("/sys/class/tty/ttyACM0/device/driver").split("/").pop();
    assertEq(acmDriver, "cdc_acm", "ttyACM0 driver");
    // The gadget side (u_serial) is a virtual tty without a `device` link: found by name.
    assert(serial.includes("/dev/ttyGS0"), `serial: /dev/ttyGS0 missing from ${serial}`);
    assert(!Deno.lstatSync("/sys/class/tty/ttyGS0").isFile, "ttyGS0 class entry");
    // 8250 placeholders (type 0: no UART behind them) are left out; QEMU's 16550A are in.
    for (const d of serial.filter((s) => /ttyS\d+$/.test(s))) {
      assert(read(`/sys/class/tty/${d.slice(5)}/type`) !== "0", `${d} is a placeholder`);
    }
    assert(serial.includes("/dev/ttyS0"), "QEMU's 16550A ttyS0 missing");
    assert(!serial.includes("/dev/ttyS3"), "8250 placeholder ttyS3 listed");
    for (const d of serial) assertCharDev(d);
    // A plain ACM port is a serial line, not a GSM modem.
    assert(!busOf(r, "modem").devices.includes("/dev/ttyACM0"), "ttyACM0 taken as a modem");

    // GPIO and SPI: the hwvm test modules (gpio-testchip, spi-loopback-ctrl).
    const chip = Deno.env.get("HWVM_GPIOCHIP") ?? "";
    const spidev = Deno.env.get("HWVM_SPIDEV") ?? "";
    assert(chip !== "" && spidev !== "", "hwvm test modules not loaded (need linux-headers)");
    assert(busOf(r, "gpio").devices.includes(chip), `gpio: ${chip} missing`);
    assert(
      Deno.statSync(`/sys/bus/gpio/devices/${chip.slice("/dev/".length)}`).isDirectory,
      `${chip} not on the gpio bus`,
    );
    assertEq(busOf(r, "spi").devices, [spidev], "spi");
    for (const d of [...busOf(r, "gpio").devices, spidev]) assertCharDev(d);

    // What the VM does not have: no 1-Wire master, no GSM modem driver.
    assertEq(busOf(r, "onewire").devices, [], "onewire");
    assertEq(busOf(r, "modem").devices, [], "modem");
  },
});
