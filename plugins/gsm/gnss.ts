/**
 * GNSS position answers: SIM7600 `+CGPSINFO` (ddmm.mmmm with hemisphere,
 * knots) and EC25 `+QGPSLOC` in mode 2 (signed degrees, km/h). Pure.
 *
 * @module
 */
import { params } from "./at/parse.ts";

/** A position (docs/PLUGINS.md §14.1 GSM_GNSS_POSITION). */
export type Position =
  | { readonly fix: false }
  | {
    readonly fix: true;
    /** Latitude, degrees (north positive). */
    readonly lat: number;
    /** Longitude, degrees (east positive). */
    readonly lon: number;
    /** Altitude, metres. */
    readonly altitude: number;
    /** Ground speed, km/h. */
    readonly speedKmh: number;
    /** Course over ground, degrees. */
    readonly course: number;
    /** UTC time of the fix, ISO 8601. */
    readonly time: string;
    /** Satellites used, when reported. */
    readonly satellites?: number;
  };

const round = (x: number, d = 6) => Math.round(x * 10 ** d) / 10 ** d;

function isoOf(date: string, time: string): string | undefined {
  const d = /^(\d{2})(\d{2})(\d{2})$/.exec(date);
  const t = /^(\d{2})(\d{2})(\d{2})(\.\d+)?$/.exec(time);
  if (d === null || t === null) return undefined;
  return `20${d[3]}-${d[2]}-${d[1]}T${t[1]}:${t[2]}:${t[3]}Z`;
}

function ddmm(v: string, hemi: string, degDigits: number): number | undefined {
  if (!/^\d+\.\d+$/.test(v)) return undefined;
  const deg = Number(v.slice(0, degDigits));
  const min = Number(v.slice(degDigits));
  const x = deg + min / 60;
  return hemi === "S" || hemi === "W" ? -x : x;
}

/** Parses `+CGPSINFO: lat,N,lon,E,date,utc,alt,speed(knots),course` (SIM7600). */
export function parseCgpsinfo(line: string): Position | undefined {
  if (!line.startsWith("+CGPSINFO:")) return undefined;
  const f = line.slice(10).trim().split(",");
  if (f.length < 9) return undefined;
  if (f[0] === "") return { fix: false };
  const lat = ddmm(f[0], f[1], 2);
  const lon = ddmm(f[2], f[3], 3);
  const time = isoOf(f[4], f[5]);
  if (lat === undefined || lon === undefined || time === undefined) return undefined;
  const num = (s: string) => (s === "" || !Number.isFinite(Number(s)) ? 0 : Number(s));
  return {
    fix: true,
    lat: round(lat),
    lon: round(lon),
    altitude: num(f[6]),
    speedKmh: round(num(f[7]) * 1.852, 2),
    course: num(f[8]),
    time,
  };
}

/** Parses `+QGPSLOC: utc,lat,lon,hdop,alt,fix,cog,spkm,spkn,date,nsat` (EC25, mode 2). */
export function parseQgpsloc(line: string): Position | undefined {
  const p = params(line, "+QGPSLOC:");
  if (p === undefined || p.length < 11) return undefined;
  const [utc, lat, lon, , alt, , cog, spkm, , date, nsat] = p;
  if (typeof lat !== "number" || typeof lon !== "number") return undefined;
  // utc and date come as numbers when bare: keep their digits.
  const utcS = typeof utc === "number" ? utc.toFixed(3).padStart(10, "0") : utc;
  const dateS = typeof date === "number" ? String(date).padStart(6, "0") : date;
  const time = isoOf(dateS, utcS);
  if (time === undefined) return undefined;
  const n = (v: unknown) => (typeof v === "number" ? v : 0);
  return {
    fix: true,
    lat: round(lat),
    lon: round(lon),
    altitude: n(alt),
    speedKmh: n(spkm),
    course: n(cog),
    time,
    ...(typeof nsat === "number" ? { satellites: nsat } : {}),
  };
}
