/**
 * Modem detection (hardware/detect.ts) on fake sysfs trees laid out like a
 * real kernel's: a SIM7600 (1e0e:9001) whose ttyUSB0-3 are bound to
 * `option`, an EC25 (2c7c:0125) seen through its vendor id only (driver
 * link missing, as with a generic usb-serial binding), a USB-serial
 * adapter that is not a modem, and an operator-configured UART port.
 */
import { busOf, detectBuses } from "../../hardware/detect.ts";
import { assertEq } from "../plugins/_helpers.ts";

async function usbTty(
  root: string,
  dev: string,
  vendor: string,
  tty: string,
  iface: number,
  driver?: string,
) {
  const devDir = `${root}/sys/devices/pci0000:00/0000:00:14.0/usb1/${dev}`;
  const port = `${devDir}/${dev}:1.${iface}/${tty}`;
  await Deno.mkdir(`${port}/tty/${tty}`, { recursive: true });
  await Deno.writeTextFile(`${devDir}/idVendor`, `${vendor}\n`);
  await Deno.mkdir(`${root}/sys/class/tty/${tty}`, { recursive: true });
  // /sys/class/tty/ttyUSBn/device -> the usb-serial port directory (relative, as the kernel does)
  await Deno.symlink(
    `../../../devices/pci0000:00/0000:00:14.0/usb1/${dev}/${dev}:1.${iface}/${tty}`,
    `${root}/sys/class/tty/${tty}/device`,
  );
  if (driver !== undefined) {
    await Deno.mkdir(`${root}/sys/bus/usb-serial/drivers/${driver}`, { recursive: true });
    await Deno.symlink(`../../../../bus/usb-serial/drivers/${driver}`, `${port}/driver`);
  }
}

Deno.test("detect: modems by driver, by USB vendor id, and by operator configuration", async () => {
  const root = await Deno.makeTempDir({ prefix: "myclerk-modem-detect-" });
  try {
    for (let i = 0; i < 4; i++) await usbTty(root, "1-1", "1e0e", `ttyUSB${i}`, i, "option");
    for (let i = 4; i < 8; i++) await usbTty(root, "1-2", "2c7c", `ttyUSB${i}`, i - 4);
    await usbTty(root, "1-3", "0403", "ttyUSB8", 0, "ftdi_sio"); // an FTDI cable: serial, no modem
    await Deno.mkdir(`${root}/dev`, { recursive: true });
    await Deno.writeTextFile(`${root}/dev/ttyAMA0`, "");
    await Deno.mkdir(`${root}/etc/myclerk`, { recursive: true });
    await Deno.writeTextFile(
      `${root}/etc/myclerk/modem-ports`,
      "/dev/ttyAMA0\n/dev/../etc/passwd\n/dev/ttyS9\nnot-a-path\n",
    );
    const report = detectBuses(root);
    const modem = busOf(report, "modem");
    assertEq(modem.present, true);
    assertEq(
      [...modem.devices].sort(),
      [0, 1, 2, 3, 4, 5, 6, 7].map((i) => `/dev/ttyUSB${i}`).concat("/dev/ttyAMA0").sort(),
      "option ttys, Quectel ttys by vendor id, the configured UART; not the FTDI cable, not `..`, not a missing node",
    );
    assertEq(busOf(report, "serial").devices.includes("/dev/ttyUSB8"), true);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});
