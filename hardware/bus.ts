/**
 * The bus vocabulary shared by detection, manifests, policy and plugins.
 *
 * @module
 */

/** Bus kinds the host can detect (hardware/detect.ts) and plugins can ask for. */
export const BUS_KINDS = [
  "usb",
  "serial",
  "gpio",
  "i2c",
  "spi",
  "can",
  "onewire",
  "modem",
] as const;

/** One bus kind. */
export type BusKind = typeof BUS_KINDS[number];

/** True when `v` names a bus kind. */
export function isBusKind(v: unknown): v is BusKind {
  return typeof v === "string" && (BUS_KINDS as readonly string[]).includes(v);
}
