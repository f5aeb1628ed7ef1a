/**
 * Bus detection from the kernel's own files: sysfs, /dev and the network
 * interface list. Every path is read below `root`, so tests build a fake
 * tree in a temp directory and point the detector at it.
 *
 * | bus | evidence |
 * |---|---|
 * | usb | `/sys/bus/usb/devices/*` with `idVendor` (devices, not interfaces) |
 * | serial | `/sys/class/tty/*` with a `device` link: ttyUSB/ttyACM/ttyAMA, and ttyS whose `type` is not 0 (unknown UART); ttyGS (USB gadget serial, a virtual device with no `device` link) |
 * | gpio | `/dev/gpiochip*` |
 * | i2c | `/dev/i2c-*` |
 * | spi | `/dev/spidev*` |
 * | can | `/sys/class/net/*` whose `type` is 280 (ARPHRD_CAN) |
 * | onewire | `/sys/bus/w1/devices/w1_bus_master*` |
 * | modem | tty whose driver is option/qcserial/sierra, ttyUSB/ttyACM of a USB device with a modem vendor id (SIMCom 1e0e, Quectel 2c7c, Qualcomm 05c6), paths listed in `/etc/myclerk/modem-ports` (operator-configured, e.g. a UART modem), or `/sys/class/usbmisc/cdc-wdm*` |
 *
 * @module
 */
import type { BusKind } from "./bus.ts";

/** One bus kind and what was found. */
export interface BusInfo {
  /** The bus kind. */
  readonly kind: BusKind;
  /** Whether any evidence of the bus was found. */
  readonly present: boolean;
  /** Device nodes (`/dev/...`), interface names (CAN) or sysfs names (USB, 1-Wire). */
  readonly devices: readonly string[];
  /** Where the evidence came from. */
  readonly source: string;
}

/** Result of one detection pass. */
export interface BusReport {
  /** Filesystem root the pass read below (`/` on a real system). */
  readonly root: string;
  /** One entry per bus kind (`BUS_KINDS` of `hardware/bus.ts`). */
  readonly buses: readonly BusInfo[];
}

function join(root: string, p: string): string {
  return root === "/" ? p : `${root.replace(/\/+$/, "")}${p}`;
}

function list(dir: string): string[] {
  try {
    return [...Deno.readDirSync(dir)].map((e) => e.name).sort();
  } catch {
    return [];
  }
}

function read(path: string): string | undefined {
  try {
    return Deno.readTextFileSync(path).trim();
  } catch {
    return undefined;
  }
}

function exists(path: string): boolean {
  try {
    Deno.lstatSync(path);
    return true;
  } catch {
    return false;
  }
}

function driverOf(root: string, tty: string): string | undefined {
  try {
    const link = Deno.readLinkSync(join(root, `/sys/class/tty/${tty}/device/driver`));
    return link.split("/").pop();
  } catch {
    return undefined;
  }
}

const MODEM_DRIVERS = new Set(["option", "qcserial", "sierra", "huawei_cdc_ncm", "cdc_mbim"]);
/** USB vendor ids of cellular modem makers: SIMCom (SIM7600), Quectel (EC25), Qualcomm. */
const MODEM_VENDORS = new Set(["1e0e", "2c7c", "05c6"]);

/** idVendor of the USB device above a tty (port dir -> interface -> device), if any. */
function usbVendorOf(root: string, tty: string): string | undefined {
  let dir: string;
  try {
    dir = Deno.realPathSync(join(root, `/sys/class/tty/${tty}/device`));
  } catch {
    return undefined;
  }
  for (let i = 0; i < 4 && dir.length > 1; i++) {
    const v = read(`${dir}/idVendor`);
    if (v !== undefined) return v.toLowerCase();
    dir = dir.replace(/\/[^/]+$/, "");
  }
  return undefined;
}

function bus(kind: BusKind, devices: string[], source: string): BusInfo {
  return { kind, present: devices.length > 0, devices, source };
}

/**
 * Detects every bus kind below `root` (default `/`).
 *
 * @example detectBuses().buses.find((b) => b.kind === "serial")?.present
 */
export function detectBuses(root = "/"): BusReport {
  const r = (p: string) => join(root, p);
  const usb = list(r("/sys/bus/usb/devices")).filter((d) =>
    exists(r(`/sys/bus/usb/devices/${d}/idVendor`))
  );

  const allTtys = list(r("/sys/class/tty"));
  const ttys = allTtys.filter((t) => exists(r(`/sys/class/tty/${t}/device`)));
  const serial = allTtys.filter((t) => {
    // u_serial registers ttyGS* under /sys/devices/virtual (no `device` link), yet on a
    // board in USB gadget mode it is the serial line to the USB host (real 6.1 kernel).
    if (/^ttyGS\d+$/.test(t)) return true;
    if (!ttys.includes(t)) return false;
    if (/^tty(USB|ACM|AMA|XRUSB|SC)\d+$/.test(t)) return true;
    if (/^ttyS\d+$/.test(t)) return (read(r(`/sys/class/tty/${t}/type`)) ?? "0") !== "0";
    return false;
  }).map((t) => `/dev/${t}`);
  const modemTtys = ttys.filter((t) => MODEM_DRIVERS.has(driverOf(root, t) ?? "")).map((t) =>
    `/dev/${t}`
  );
  const wdm = list(r("/sys/class/usbmisc")).filter((d) => d.startsWith("cdc-wdm")).map((d) =>
    `/dev/${d}`
  );
  const vendorTtys = ttys.filter((t) =>
    /^tty(USB|ACM)\d+$/.test(t) && MODEM_VENDORS.has(usbVendorOf(root, t) ?? "")
  ).map((t) => `/dev/${t}`);
  // The operator's own modem ports (a SIM800 on a UART has no USB ids), when they exist.
  const configured = (read(r("/etc/myclerk/modem-ports")) ?? "").split("\n").map((l) => l.trim())
    .filter((l) =>
      /^\/dev\/[A-Za-z0-9_./-]+$/.test(l) && !l.split("/").includes("..") && exists(r(l))
    );
  const modems = [...new Set([...modemTtys, ...vendorTtys, ...configured, ...wdm])];

  const dev = list(r("/dev"));
  const can = list(r("/sys/class/net")).filter((n) =>
    read(r(`/sys/class/net/${n}/type`)) === "280"
  );
  const w1 = list(r("/sys/bus/w1/devices")).filter((d) => d.startsWith("w1_bus_master"));

  return {
    root,
    buses: [
      bus("usb", usb, "/sys/bus/usb/devices/*/idVendor"),
      bus("serial", serial, "/sys/class/tty/*/device"),
      bus(
        "gpio",
        dev.filter((d) => /^gpiochip\d+$/.test(d)).map((d) => `/dev/${d}`),
        "/dev/gpiochip*",
      ),
      bus("i2c", dev.filter((d) => /^i2c-\d+$/.test(d)).map((d) => `/dev/${d}`), "/dev/i2c-*"),
      bus(
        "spi",
        dev.filter((d) => /^spidev\d+\.\d+$/.test(d)).map((d) => `/dev/${d}`),
        "/dev/spidev*",
      ),
      bus("can", can, "/sys/class/net/*/type = 280"),
      bus("onewire", w1, "/sys/bus/w1/devices/w1_bus_master*"),
      bus(
        "modem",
        modems,
        "tty driver option/qcserial/sierra, USB vendor 1e0e/2c7c/05c6, /etc/myclerk/modem-ports, /sys/class/usbmisc/cdc-wdm*",
      ),
    ],
  };
}

/** The entry for one kind in a report. */
export function busOf(report: BusReport, kind: BusKind): BusInfo {
  return report.buses.find((b) => b.kind === kind) ??
    { kind, present: false, devices: [], source: "" };
}
