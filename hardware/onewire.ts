/**
 * 1-Wire access: an owserver client (TCP, one connection per request, with
 * a deadline and a bounded answer) and the kernel's w1 sysfs
 * (`/sys/bus/w1/devices`) where the w1 core is loaded. Both speak in
 * owfs-style ROM ids: `FF.IIIIIIIIIIII` (family, 48-bit serial, hex); the
 * full 64-bit ROM adds the Dallas CRC-8 byte.
 *
 * @module
 */
import {
  decodeOwHeader,
  encodeOwRequest,
  OW_HEADER,
  OwMsg,
  type OwRequest,
  parseDirAll,
} from "./onewire_proto.ts";

/** Largest owserver answer accepted (bytes); a bigger one fails the request. */
export const OW_MAX_ANSWER = 65_536;

/** owserver answered with -errno (or the connection failed: errno 0). */
export class OwError extends Error {
  /**
   * A failure of `op` on `path`.
   *
   * @param op what was asked (read, write, dirall, presence)
   * @param path the owfs path
   * @param errno the positive errno owserver returned (0 = transport failure)
   * @param why transport detail
   */
  constructor(
    readonly op: string,
    readonly path: string,
    readonly errno: number,
    why = "",
  ) {
    super(`owserver ${op} ${path}: ${errno ? `errno ${errno}` : why}`);
    this.name = "OwError";
  }
}

/** Dallas/Maxim CRC-8 (polynomial x^8+x^5+x^4+1, reflected 0x8C) over `b`. */
export function crc8(b: Uint8Array): number {
  let crc = 0;
  for (const byte of b) {
    let x = byte;
    for (let i = 0; i < 8; i++) {
      const mix = (crc ^ x) & 1;
      crc >>= 1;
      if (mix) crc ^= 0x8c;
      x >>= 1;
    }
  }
  return crc;
}

/** `FF.IIIIIIIIIIII` (owfs id) -> the 7 ROM bytes in bus order (owfs prints them in that order). */
export function romBytes(id: string): Uint8Array {
  const m = /^([0-9A-F]{2})\.([0-9A-F]{12})$/i.exec(id);
  if (m === null) throw new RangeError(`not a 1-Wire id: ${id}`);
  const out = new Uint8Array(7);
  out[0] = parseInt(m[1], 16);
  for (let i = 0; i < 6; i++) out[1 + i] = parseInt(m[2].slice(i * 2, i * 2 + 2), 16);
  return out;
}

/** The full 64-bit ROM of an owfs id as 16 hex digits (family, serial as printed, CRC). */
export function fullRom(id: string): string {
  const b = romBytes(id);
  return `${id.replace(".", "").toUpperCase()}${
    crc8(b).toString(16).padStart(2, "0").toUpperCase()
  }`;
}

/** An owserver endpoint. */
export interface OwServer {
  /** Host name or address. */
  readonly host: string;
  /** TCP port. */
  readonly port: number;
}

async function readExact(conn: Deno.Conn, n: number): Promise<Uint8Array> {
  const out = new Uint8Array(n);
  let got = 0;
  while (got < n) {
    const r = await conn.read(out.subarray(got));
    if (r === null) throw new Error("connection closed");
    got += r;
  }
  return out;
}

/** A client of one owserver. */
export class OwClient {
  /**
   * A client of `server`; each request gets `timeoutMs`.
   *
   * @param server where owserver listens
   * @param timeoutMs per-request deadline
   */
  constructor(readonly server: OwServer, readonly timeoutMs = 5000) {}

  /** One request, one (non-ping) answer: `ret` and the payload. */
  async call(req: OwRequest): Promise<{ readonly ret: number; readonly data: Uint8Array }> {
    const op = Object.entries(OwMsg).find(([, v]) => v === req.type)?.[0].toLowerCase() ?? "?";
    let conn: Deno.Conn | undefined;
    const timer = setTimeout(() => conn?.close(), this.timeoutMs);
    try {
      conn = await Deno.connect({ hostname: this.server.host, port: this.server.port });
      const wire = encodeOwRequest(req);
      for (let off = 0; off < wire.length;) off += await conn.write(wire.subarray(off));
      for (;;) {
        const h = decodeOwHeader(await readExact(conn, OW_HEADER));
        if (h.payload === -1) continue; // keep-alive while owserver works
        if (h.payload < 0 || h.payload > OW_MAX_ANSWER) {
          throw new OwError(op, req.path, 0, `answer of ${h.payload} bytes`);
        }
        const data = await readExact(conn, h.payload);
        if (h.ret < 0) throw new OwError(op, req.path, -h.ret);
        return {
          ret: h.ret,
          data,
        };
      }
    } catch (e) {
      if (e instanceof OwError) throw e;
      throw new OwError(op, req.path, 0, e instanceof Error ? e.message : String(e));
    } finally {
      clearTimeout(timer);
      try {
        conn?.close();
      } catch { /* closed by the deadline */ }
    }
  }

  /** Every entry of a directory (DIRALL), as full paths. */
  async dir(path: string): Promise<string[]> {
    const r = await this.call({ type: OwMsg.DIRALL, path, size: 0 });
    return parseDirAll(r.data);
  }

  /** Reads a property (at most `size` bytes from `offset`). */
  async read(path: string, size = 8192, offset = 0): Promise<Uint8Array> {
    const r = await this.call({ type: OwMsg.READ, path, size, offset });
    return r.data.subarray(0, Math.max(0, Math.min(r.ret, r.data.length)));
  }

  /** Writes a property. */
  async write(path: string, data: Uint8Array, offset = 0): Promise<void> {
    await this.call({ type: OwMsg.WRITE, path, data, size: data.length, offset });
  }

  /** Whether owserver knows `path` (PRESENCE). */
  async present(path: string): Promise<boolean> {
    try {
      await this.call({ type: OwMsg.PRESENCE, path, size: 0 });
      return true;
    } catch (e) {
      if (e instanceof OwError && e.errno !== 0) return false;
      throw e;
    }
  }
}

/** The kernel w1 bus masters and slaves below `root` (`/sys/bus/w1/devices`). */
export interface W1Master {
  /** `w1_bus_masterN`. */
  readonly name: string;
  /** Slave ids as the kernel names them (`28-0000075b2a3c`). */
  readonly slaves: readonly string[];
}

/** Lists the kernel's w1 masters (empty where the w1 core is not loaded). */
export function w1Masters(root = "/sys/bus/w1/devices"): W1Master[] {
  let names: string[] = [];
  try {
    names = [...Deno.readDirSync(root)].map((e) => e.name).filter((n) =>
      n.startsWith("w1_bus_master")
    ).sort();
  } catch {
    return [];
  }
  return names.map((name) => {
    let slaves: string[] = [];
    try {
      slaves = Deno.readTextFileSync(`${root}/${name}/w1_master_slaves`).split("\n").map((s) =>
        s.trim()
      ).filter((s) => s !== "" && s !== "not found.");
    } catch { /* no slaves file: none */ }
    return { name, slaves };
  });
}

/** Kernel slave name (`28-0000075b2a3c`) -> owfs id (`28.00000075B2A3C`-style, upper case). */
export function w1ToOwId(slave: string): string {
  const [fam, ser] = slave.split("-");
  return `${fam.toUpperCase()}.${(ser ?? "").toUpperCase()}`;
}
