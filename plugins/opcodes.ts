/**
 * Names of the draft's resource-sharing (0x0200-0x02FF, draft tables 5-9)
 * and hardware-passthrough (0x0600-0x06FF, tables 10-17) opcodes, which
 * plugins serve. Registered with the core at import (core/opcodes.ts
 * `registerOpcodes`), so `inspect`, logs and error details name them; the
 * core itself keeps only the profile's minimum tiers for these ranges
 * (DEVICE_LOCK/UNLOCK need Tier 3, PROTOCOL.md §9).
 *
 * @module
 */

import { rangeBounds, registerOpcodes } from "../core/opcodes.ts";

/** Resource-sharing opcodes of the draft (tables 5-9). */
export const ResourceOp = {
  DEVICE_LIST: 0x0200,
  DEVICE_INFO: 0x0201,
  DEVICE_SUBSCRIBE: 0x0202,
  DEVICE_UNSUBSCRIBE: 0x0203,
  DEVICE_LOCK: 0x0204,
  DEVICE_UNLOCK: 0x0205,
  DEVICE_CONFIGURE: 0x0206,
  DEVICE_CAPABILITIES: 0x0207,
  DEVICE_DISCOVER: 0x020b,
  STREAM_START: 0x0210,
  STREAM_STOP: 0x0211,
  STREAM_DATA: 0x0212,
  STREAM_CONFIGURE: 0x0213,
  STREAM_QUALITY: 0x0214,
  STREAM_PAUSE: 0x0215,
  STREAM_RESUME: 0x0216,
} as const;

/** Serial passthrough opcodes of the draft (hardware range). */
export const HardwareOp = {
  SERIAL_PORT_LIST: 0x0610,
  SERIAL_PORT_OPEN: 0x0611,
  SERIAL_PORT_CLOSE: 0x0612,
  SERIAL_PORT_CONFIGURE: 0x0613,
  SERIAL_DATA_WRITE: 0x0614,
  SERIAL_DATA_READ: 0x0615,
  SERIAL_CONTROL_SET: 0x0616,
  SERIAL_CONTROL_GET: 0x0617,
  SERIAL_BREAK: 0x0618,
} as const;

registerOpcodes({ layer: "plugins:resource", ...rangeBounds("resource"), names: ResourceOp });
registerOpcodes({ layer: "plugins:hardware", ...rangeBounds("hardware"), names: HardwareOp });
