/**
 * What differs between the SIM7600, SIM800 and Quectel EC25 AT dialects,
 * as data (docs/PLUGINS.md §14.3). The rest of the plugin reads these
 * fields; nothing else branches on the model.
 *
 * @module
 */
import type { UrcTable } from "./at/engine.ts";

/** Dialect names. */
export type DialectName = "sim7600" | "sim800" | "ec25";

/** GNSS commands of a dialect. */
export interface GnssDialect {
  /** Command that switches GNSS on in `mode` (1 standalone, 2 UE-based, 3 UE-assisted). */
  on(mode: number): string;
  /** Command that switches it off. */
  readonly off: string;
  /** Query whose answer tells whether it is on. */
  readonly query: string;
  /** Pattern on the query's answer meaning "on". */
  readonly onPattern: RegExp;
  /** Position query. */
  readonly position: string;
  /** Answer format of the position query. */
  readonly format: "cgpsinfo" | "qgpsloc";
  /** +CME ERROR numbers meaning "no fix yet". */
  readonly noFixCme: readonly number[];
  /** +CME ERROR numbers of "on" meaning "already on". */
  readonly alreadyOnCme: readonly number[];
  /** Plain ERROR of "on" means already on (SIM7600 answers ERROR to AT+CGPS=1 when running). */
  readonly alreadyOnError: boolean;
  /** NMEA output on/off command. */
  nmea(on: boolean): string;
}

/** One dialect. */
export interface Dialect {
  /** Name. */
  readonly name: DialectName;
  /** Matches AT+CGMM / ATI answers of this family. */
  readonly models: RegExp;
  /** Has LTE: +CEREG. */
  readonly eps: boolean;
  /** Hang-up command. */
  readonly hangup: string;
  /** Extra set-up commands after the common ones (errors ignored). */
  readonly setup: readonly string[];
  /** GNSS, or undefined when the family has none. */
  readonly gnss?: GnssDialect;
  /** URCs meaning the SIM was removed. */
  readonly simRemoved: readonly string[];
  /** URCs meaning the SIM was inserted. */
  readonly simInserted: readonly string[];
  /** URCs a (re)booted modem prints: seeing one re-runs INIT. */
  readonly boot: readonly string[];
  /** Informational URCs to recognise and ignore. */
  readonly info: readonly string[];
  /** Sends +CLCC reports unsolicited after AT+CLCC=1. */
  readonly clccUrc: boolean;
}

/** Every dialect, in identification order. */
export const DIALECTS: readonly Dialect[] = [
  {
    name: "sim7600",
    models: /SIM7600|SIM7500|SIM7100/i,
    eps: true,
    hangup: "AT+CHUP",
    setup: ["AT+CLCC=1"],
    gnss: {
      on: (mode) => `AT+CGPS=1,${mode}`,
      off: "AT+CGPS=0",
      query: "AT+CGPS?",
      onPattern: /^\+CGPS:\s*1/,
      position: "AT+CGPSINFO",
      format: "cgpsinfo",
      noFixCme: [],
      alreadyOnCme: [],
      alreadyOnError: true,
      nmea: (on) => `AT+CGPSNMEA=${on ? 511 : 0}`,
    },
    simRemoved: ["+SIMCARD: NOT AVAILABLE", "+CPIN: NOT READY"],
    simInserted: [],
    boot: ["RDY"],
    info: ["PB DONE", "SMS DONE", "+CGEV:", "+STIN:", "VOICE CALL:", "+CFUN:"],
    clccUrc: true,
  },
  {
    name: "sim800",
    models: /SIM800|SIM900|SIM801/i,
    eps: false,
    hangup: "ATH",
    setup: ["AT+CLCC=1"],
    simRemoved: ["+CPIN: NOT READY", "+CPIN: NOT INSERTED"],
    simInserted: [],
    boot: ["RDY"],
    info: ["Call Ready", "SMS Ready", "+CFUN:"],
    clccUrc: true,
  },
  {
    name: "ec25",
    models: /EC25|EC21|EG25|EC20/i,
    eps: true,
    hangup: "ATH",
    setup: ["AT+QSIMSTAT=1", 'AT+QURCCFG="urcport","usbat"'],
    gnss: {
      on: (mode) => `AT+QGPS=${mode}`,
      off: "AT+QGPSEND",
      query: "AT+QGPS?",
      onPattern: /^\+QGPS:\s*1/,
      position: "AT+QGPSLOC=2",
      format: "qgpsloc",
      noFixCme: [516],
      alreadyOnCme: [504],
      alreadyOnError: false,
      nmea: (on) => `AT+QGPSCFG="outport","${on ? "usbnmea" : "none"}"`,
    },
    simRemoved: ["+QSIMSTAT: 1,0", "+CPIN: NOT READY"],
    simInserted: ["+QSIMSTAT: 1,1"],
    boot: ["RDY"],
    info: ["+QIND:", "POWERED DOWN", "+CFUN:", "+QUSIM:"],
    clccUrc: false,
  },
];

/** The dialect whose model pattern matches `ident` (AT+CGMM and ATI answers), if any. */
export function identify(ident: string): Dialect | undefined {
  return DIALECTS.find((d) => d.models.test(ident));
}

/** The dialect called `name`. */
export function dialect(name: DialectName): Dialect {
  return DIALECTS.find((d) => d.name === name)!;
}

/** URCs every dialect shares (27.007 / 27.005). */
const COMMON_ALWAYS = ["+CMTI:", "+CMT:", "+CDS:", "+CDSI:", "+CUSD:", "RING", "+CRING:", "+CLIP:"];
const COMMON_ASKED = ["+CREG:", "+CEREG:", "+CGREG:", "+CPIN:", "+CLCC:"];

/** The engine's URC table for a dialect (undefined: before identification, all dialects). */
export function urcTable(d?: Dialect): UrcTable {
  const ds = d === undefined ? DIALECTS : [d];
  const extra = ds.flatMap((x) => [...x.simRemoved, ...x.simInserted, ...x.boot, ...x.info]);
  return {
    always: [...COMMON_ALWAYS, ...new Set(extra.filter((e) => !e.startsWith("+CPIN:")))],
    unlessAsked: COMMON_ASKED,
    twoLine: ["+CMT:", "+CDS:"],
    idleOnly: ["NO CARRIER", "BUSY", "NO ANSWER"],
  };
}
