/**
 * Fuzz targets of the plugin host (issue #9): the host's decoder of what a
 * plugin sends (process frames, and decoded values as a Worker's structured
 * clone delivers them), the manifest parser and the policy parser (with the
 * grant computed from every policy that parses).
 *
 * Seeds are real: every message kind the plugin side sends, encoded by the
 * real frame encoder; the repo's own plugin.json files and policy files.
 * Byte mutations come from mutate.ts; on top, JSON and message targets
 * apply structural mutations (a value replaced by an edge value, a key
 * removed or added, `__proto__` keys, cycles, Map/BigInt/Date, deep
 * nesting), seeded from the input bytes so that a saved input replays.
 *
 * @module
 */
import { encode } from "@msgpack/msgpack";
import { decodeBody, encodeFrame, FrameDecoder } from "../../plugins/runtime/frames.ts";
import { validatePluginMsg } from "../../plugins/runtime/validate.ts";
import { type Manifest, parseManifest } from "../../plugins/manifest.ts";
import { computeGrant, parsePolicy } from "../../plugins/policy.ts";
import type { PluginMsg } from "../../plugins/runtime/protocol.ts";
import { Rng } from "./mutate.ts";
import type { Target } from "./targets.ts";

const ROOT = new URL("../../", import.meta.url);
const enc = new TextEncoder();
const dec = new TextDecoder();

/** Every message kind a plugin sends, as the real plugin side builds them. */
export function pluginMessageSeeds(): PluginMsg[] {
  return [
    { t: "ready", opcodes: [0xf100, 0xf101, 0xf102] },
    { t: "init-error", code: 0x0021, detail: "no device" },
    {
      t: "res",
      id: 1,
      ok: true,
      payload: { echo: { hello: "world" }, n: 3, b: new Uint8Array(4) },
    },
    { t: "res", id: 2, ok: false, code: 0x0001, detail: "payload-not-map", extra: {} },
    {
      t: "res",
      id: 3,
      ok: false,
      code: 0x0004,
      detail: "field:port",
      extra: { expected: "string" },
    },
    { t: "event", op: 0xf103, payload: { n: 1 }, sessionId: 7 },
    { t: "event", op: 0xf103, payload: [1, 2, 3] },
    { t: "pong", id: 9, heapUsed: 12_345_678 },
    { t: "log", line: "vendor-echo: started" },
    { t: "closed" },
    { t: "call", id: 1, op: 0xf400, payload: { back: true }, timeoutMs: 5000, parent: 0 },
    { t: "sub", id: 2, ops: [0xf40e, 0xf40f] },
  ];
}

/** `body` behind a correct u32 length header. */
function encodeRaw(body: Uint8Array): Uint8Array {
  const out = new Uint8Array(4 + body.length);
  new DataView(out.buffer).setUint32(0, body.length);
  out.set(body, 4);
  return out;
}

/** FNV-1a of the input: the seed of a target's own structural mutations (replayable). */
function hash(b: Uint8Array): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < b.length; i++) h = Math.imul(h ^ b[i], 0x01000193);
  return h >>> 0;
}

const EDGE: readonly (() => unknown)[] = [
  () => null,
  () => undefined,
  () => true,
  () => 0,
  () => -1,
  () => -0,
  () => 1.5,
  () => 0xffff,
  () => 0x10000,
  () => 2 ** 53,
  () => 1e308,
  () => NaN,
  () => Infinity,
  () => "",
  () => "x".repeat(300),
  () => "0x",
  () => "0xFFFF",
  () => "0x10000",
  () => "0xF100",
  () => "..",
  () => "/etc/passwd",
  () => "$DATA/../../etc",
  () => "$PLUGIN",
  () => "*",
  () => [],
  () => ({}),
  () => [[]],
  () => ({ first: "0xF100", last: "0xF000" }),
  () => JSON.parse('{"__proto__": {"trusted": true}}'),
  () => ["worker", "inproc", "process"],
  () => new Uint8Array(3),
];

/** 10,000 nested arrays (built once: it is only read). */
const DEEP: unknown = (() => {
  let v: unknown = 1;
  for (let i = 0; i < 10_000; i++) v = [v];
  return v;
})();

/** Values structured clone can carry but MessagePack cannot (Worker messages). */
const CLONE_ONLY: readonly (() => unknown)[] = [
  () => new Map([[1, 2]]),
  () => new Set([1]),
  () => 10n,
  () => new Date(0),
  () => /re/g,
  () => new Float64Array(2),
  () => new ArrayBuffer(4),
  () => {
    const o: Record<string, unknown> = {};
    o.self = o;
    return o;
  },
  () => DEEP,
  () => Object.create({ inherited: 1 }),
];

const CLONE_POOL = [...EDGE, ...CLONE_ONLY];

/** Replaces, deletes or adds one value somewhere in `v` (copy-on-write along the path). */
function mutateValue(v: unknown, rng: Rng, pool: readonly (() => unknown)[], depth = 0): unknown {
  const isObj = v !== null && typeof v === "object" && !(v instanceof Uint8Array);
  if (!isObj || depth > 6 || rng.chance(0.25)) return rng.pick(pool)();
  if (Array.isArray(v)) {
    const out = [...v];
    if (out.length === 0 || rng.chance(0.15)) out.push(rng.pick(pool)());
    else {
      const i = rng.int(out.length);
      if (rng.chance(0.15)) out.splice(i, 1);
      else out[i] = mutateValue(out[i], rng, pool, depth + 1);
    }
    return out;
  }
  const out: Record<string, unknown> = { ...(v as Record<string, unknown>) };
  const keys = Object.keys(out);
  if (keys.length === 0 || rng.chance(0.1)) {
    out[rng.pick(["t", "x", "__proto__", "constructor", "permissions", "limits", "0xF100"])] = rng
      .pick(pool)();
  } else {
    const k = rng.pick(keys);
    if (rng.chance(0.15)) delete out[k];
    else out[k] = mutateValue(out[k], rng, pool, depth + 1);
  }
  return out;
}

function jsonSeeds(paths: readonly string[]): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (const p of paths) {
    try {
      out.push(Deno.readFileSync(new URL(p, ROOT)));
    } catch { /* a moved file only loses a seed */ }
  }
  return out;
}

/** plugin.json files of the repo (every plugin folder found). */
function manifestSeeds(): Uint8Array[] {
  const paths: string[] = [];
  const walk = (dir: string, depth: number) => {
    let entries: Deno.DirEntry[] = [];
    try {
      entries = [...Deno.readDirSync(new URL(dir, ROOT))];
    } catch {
      return;
    }
    for (const e of entries) {
      if (e.isFile && e.name === "plugin.json") paths.push(`${dir}${e.name}`);
      else if (e.isDirectory && depth < 3) walk(`${dir}${e.name}/`, depth + 1);
    }
  };
  walk("plugins/", 0);
  const seeds = jsonSeeds(paths);
  // A manifest using every field, so mutations start from all of them.
  seeds.push(enc.encode(JSON.stringify({
    name: "acme-full",
    version: "1.2.3-rc.1",
    hostApi: "^1.0",
    entry: "src/mod.ts",
    description: "every field",
    isolation: "worker",
    ranges: [{ first: "0xF100", last: "0xF10F" }, { first: 0xf200, last: 0xf200 }],
    minTier: { "0xF101": 3 },
    permissions: {
      net: ["api.acme.example:443"],
      read: ["$DATA"],
      write: ["$DATA/out"],
      env: ["ACME_TOKEN"],
      ffi: [],
      buses: ["serial", "usb"],
    },
    limits: { queue: 16, timeoutMs: 1000, memoryMb: 64, heartbeatMs: 500 },
    failure: "fail-closed",
  })));
  return seeds;
}

function policySeeds(): Uint8Array[] {
  const seeds = jsonSeeds(["plugins/policy.example.json"]);
  seeds.push(enc.encode(JSON.stringify({
    version: 1,
    default: { isolation: ["process"], read: ["$DATA"] },
    plugins: {
      "acme-full": {
        net: ["api.acme.example"],
        read: ["$DATA", "/srv/acme"],
        write: ["$DATA"],
        env: ["ACME_*"],
        ffi: ["libc", "/usr/lib/libfoo.so"],
        buses: ["serial"],
        isolation: ["worker", "process"],
        trusted: true,
      },
      "vendor-echo": { read: ["$DATA"], write: ["$DATA"] },
    },
  })));
  return seeds;
}

/**
 * The value a JSON target parses: the input's JSON, mutated structurally
 * half the time. Bytes that are not JSON (most byte mutations) instead pick
 * a seed by their hash and mutate its structure 1-3 times, so that the
 * parser behind JSON.parse gets most of the inputs. `how` labels the path.
 */
function jsonInput(x: Uint8Array, seeds: readonly unknown[]): { raw: unknown; how: string } {
  const rng = new Rng(hash(x));
  let raw: unknown;
  let how = "json";
  try {
    raw = JSON.parse(dec.decode(x));
    if (rng.chance(0.5)) raw = mutateValue(raw, rng, EDGE);
  } catch {
    if (seeds.length === 0) return { raw: undefined, how: "not-json" };
    raw = rng.pick(seeds);
    how = "structural";
    for (let i = rng.int(3); i >= 0; i--) raw = mutateValue(raw, rng, EDGE);
  }
  return { raw, how };
}

function parsedSeeds(seeds: readonly Uint8Array[]): unknown[] {
  const out: unknown[] = [];
  for (const s of seeds) {
    try {
      out.push(JSON.parse(dec.decode(s)));
    } catch { /* not JSON: byte seed only */ }
  }
  return out;
}

/** The plugin-host fuzz targets (registered in targets.ts). */
export function pluginTargets(): Target[] {
  const msgs = pluginMessageSeeds();
  const frames = msgs.map((m) => encodeFrame(m));
  // Streams of several frames, as a plugin's stdout carries them.
  const streams = [frames.slice(0, 4), frames.slice(4, 9), frames].map((fs) => {
    const out = new Uint8Array(fs.reduce((n, f) => n + f.length, 0));
    let off = 0;
    for (const f of fs) {
      out.set(f, off);
      off += f.length;
    }
    return out;
  });
  const bodies = msgs.map((m) => encode(m, { ignoreUndefined: true }));
  const manifests = manifestSeeds();
  const manifestValues = parsedSeeds(manifests);
  const policies = policySeeds();
  const policyValues = parsedSeeds(policies);
  const parsed: Manifest[] = [];
  for (const s of manifests) {
    try {
      parsed.push(parseManifest(JSON.parse(dec.decode(s))));
    } catch { /* a seed that does not parse still seeds the parser target */ }
  }
  const vars = { plugin: "/p/x", data: "/d/x" };
  const libs = (n: string) => (n === "libc" ? "/lib/x86_64-linux-gnu/libc.so.6" : undefined);

  return [
    {
      name: "plugin frames",
      seeds: [...frames, ...streams, ...bodies],
      run: (input) => {
        // Split the stream where a pipe might: at up to two points picked from the input.
        const rng = new Rng(hash(input));
        // Half the inputs get a correct length header, so mutated bodies reach the decoder.
        const x = rng.chance(0.5) ? encodeRaw(input) : input;
        const cuts = [rng.int(x.length + 1), rng.int(x.length + 1)].sort((a, b) => a - b);
        const d = new FrameDecoder();
        const values = [
          ...d.push(x.subarray(0, cuts[0])),
          ...d.push(x.subarray(cuts[0], cuts[1])),
          ...d.push(x.subarray(cuts[1])),
        ];
        let label = "partial";
        for (const v of values) {
          const r = validatePluginMsg(v);
          if (r.ok) {
            // Idempotent: what the host acts on passes the decoder again unchanged.
            const again = validatePluginMsg(r.msg);
            if (!again.ok || again.msg.t !== r.msg.t) throw new Error("validated message refused");
            label = `valid:${r.msg.t}`;
          } else label = `invalid:${r.reason}`;
        }
        return values.length === 0 ? "partial" : label;
      },
    },
    {
      name: "plugin messages (clone)",
      seeds: bodies,
      noThrow: true,
      run: (x) => {
        const rng = new Rng(hash(x));
        let v: unknown;
        try {
          v = decodeBody(x);
          if (rng.chance(0.5)) v = mutateValue(v, rng, CLONE_POOL);
        } catch {
          // Not MessagePack: mutate a real message's structure instead (what a Worker can post).
          v = rng.pick(msgs);
          for (let i = rng.int(3); i >= 0; i--) v = mutateValue(v, rng, CLONE_POOL);
        }
        const r = validatePluginMsg(v, { checkValues: true });
        return r.ok ? `valid:${r.msg.t}` : `invalid:${r.reason}`;
      },
    },
    {
      name: "plugin manifest",
      seeds: manifests,
      run: (x) => {
        const { raw, how } = jsonInput(x, manifestValues);
        if (raw === undefined) return how;
        const m = parseManifest(raw);
        // A valid manifest is usable: its grant under a deny-all policy computes without a throw.
        computeGrant(m, parsePolicy({ version: 1 }), vars, libs);
        return `valid:${how}`;
      },
    },
    {
      name: "plugin policy",
      seeds: policies,
      run: (x) => {
        const { raw, how } = jsonInput(x, policyValues);
        if (raw === undefined) return how;
        const p = parsePolicy(raw);
        for (const m of parsed) {
          const g = computeGrant(m, p, vars, libs);
          // Invariants the host relies on, whatever the policy says.
          if (g.ffi.length > 0 && g.isolation !== "process") {
            throw new Error("FFI outside a process");
          }
          if (g.isolation !== "process" && !g.trusted) {
            throw new Error("untrusted outside a process");
          }
        }
        return `valid:${how}`;
      },
    },
  ];
}
