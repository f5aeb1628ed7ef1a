/**
 * `plugin new NAME --range 0xF800-0xF80F`: writes a plugin folder a vendor
 * can build outside this repository: `plugin.json`, `mod.ts`, `mod_test.ts`
 * (on the SDK's test harness) and a `deno.json` whose import map points at
 * the SDK. The SDK is either referenced where this node is installed
 * (default: an absolute `file://` URL to `plugins/sdk/`) or copied into the
 * folder (`--vendor-sdk`: `sdk/`, for a folder that moves to another
 * machine). Both type-check and test with plain `deno check` / `deno test`.
 *
 * @module
 */
import { ErrorCode, MyClerkError } from "../core/errors.ts";

/** Options of {@link scaffoldPlugin}. */
export interface ScaffoldOptions {
  /** Plugin name (manifest rules: 2-41 of a-z, 0-9, "-", starting with a letter). */
  readonly name: string;
  /** `0xFIRST-0xLAST`, at least 3 opcodes, in the vendor range 0xF000-0xFFFE. */
  readonly range: string;
  /** Folder to create (must not exist or be empty). */
  readonly dir: string;
  /** Copy the SDK into `DIR/sdk/` instead of referencing this node's copy. */
  readonly vendorSdk?: boolean;
}

const SDK_DIR = new URL("./sdk/", import.meta.url);
const SDK_FILES = ["mod.ts", "errors.ts", "types.ts", "testing.ts"] as const;

function hex(n: number): string {
  return `0x${n.toString(16).toUpperCase().padStart(4, "0")}`;
}

/** Parses `0xFIRST-0xLAST` for a scaffold; throws BAD_REQUEST with the fix. */
export function parseScaffoldRange(s: string): { readonly first: number; readonly last: number } {
  const m = /^0x([0-9a-fA-F]{1,4})-0x([0-9a-fA-F]{1,4})$/.exec(s);
  const first = m ? parseInt(m[1], 16) : NaN;
  const last = m ? parseInt(m[2], 16) : NaN;
  if (!m || last - first < 2 || first < 0xf000 || last > 0xfffe) {
    throw new MyClerkError(
      ErrorCode.BAD_REQUEST,
      `range: "${s}" must be 0xFIRST-0xLAST with at least 3 opcodes inside the vendor range 0xF000-0xFFFE, e.g. 0xF800-0xF80F`,
    );
  }
  return { first, last };
}

/** The files of a new plugin, by relative path (pure; {@link scaffoldPlugin} writes them). */
export function scaffoldFiles(
  o: ScaffoldOptions,
  sdkBase: string,
): Readonly<Record<string, string>> {
  if (!/^[a-z][a-z0-9-]{1,40}$/.test(o.name)) {
    throw new MyClerkError(
      ErrorCode.BAD_REQUEST,
      `name: "${o.name}" must be 2-41 of a-z, 0-9 and "-", starting with a letter`,
    );
  }
  const r = parseScaffoldRange(o.range);
  const hello = hex(r.first), secret = hex(r.first + 1), greeted = hex(r.first + 2);
  const manifest = {
    name: o.name,
    version: "0.1.0",
    hostApi: "^1",
    entry: "mod.ts",
    description: `${o.name}: a vendor plugin`,
    ranges: [{ first: hex(r.first), last: hex(r.last) }],
    minTier: { [secret]: 3 },
    events: [greeted],
    permissions: { read: ["$DATA"], write: ["$DATA"] },
    limits: { queue: 64, timeoutMs: 2000 },
    failure: "restart",
  };
  const denoJson = {
    imports: {
      "@myclerk/plugin-sdk": `${sdkBase}mod.ts`,
      "@myclerk/plugin-sdk/testing": `${sdkBase}testing.ts`,
    },
    exclude: o.vendorSdk ? ["sdk/"] : [],
  };
  const mod = `/**
 * ${o.name} (${hex(r.first)}-${hex(r.last)}), written against @myclerk/plugin-sdk.
 *
 * | opcode | request | answer |
 * |---|---|---|
 * | ${hello} HELLO | \`{ name: string }\` (1-64 chars) | \`{ hello, version, count }\`, then event ${greeted} \`{ greeted }\` to the caller |
 * | ${secret} SECRET | \`{}\` | \`{ secret: 42 }\`, minimum tier 3 (plugin.json minTier) |
 *
 * @module
 */
import { asMap, definePlugin, ErrorCode, fail, field } from "@myclerk/plugin-sdk";

/** The version this module answers with (keep it equal to plugin.json's). */
export const VERSION = "0.1.0";

/** Opcodes of this plugin. */
export const Op = { HELLO: ${hello}, SECRET: ${secret}, GREETED: ${greeted} } as const;

/** Greetings per session, dropped when the session ends. */
const greetings = new Map<number, number>();

export default definePlugin({
  events: [Op.GREETED],
  handlers: {
    [Op.HELLO]: (payload, ctx) => {
      const name = field(asMap(payload), "name", "string");
      if (name.length < 1 || name.length > 64) fail(ErrorCode.BAD_REQUEST, "name-length", { max: 64 });
      const count = (greetings.get(ctx.peer.sessionId) ?? 0) + 1;
      greetings.set(ctx.peer.sessionId, count);
      ctx.emit(Op.GREETED, { greeted: name }, ctx.peer.sessionId);
      return { hello: name, version: VERSION, count };
    },
    [Op.SECRET]: () => ({ secret: 42 }),
  },
  sessionClosed(sessionId) {
    greetings.delete(sessionId);
  },
});
`;
  const test = `import { testHost } from "@myclerk/plugin-sdk/testing";
import plugin, { Op, VERSION } from "./mod.ts";

function assert(c: unknown, m: string): asserts c {
  if (!c) throw new Error(m);
}

Deno.test("hello answers, pushes GREETED to the caller, counts per session", async () => {
  const host = await testHost(plugin, { minTier: { [Op.SECRET]: 3 }, events: [Op.GREETED] });
  const s = host.session({ tier: 2 });
  const r = await s.call(Op.HELLO, { name: "ada" });
  assert(r.ok, JSON.stringify(r));
  const p = r.payload as { hello: string; version: string; count: number };
  assert(p.hello === "ada" && p.version === VERSION && p.count === 1, JSON.stringify(p));
  const evs = await s.waitEvents(1);
  assert(evs[0].opcode === Op.GREETED, JSON.stringify(evs));
  await s.close();
  await host.close();
});

Deno.test("bad input and low tier are errors with code, detail and extras", async () => {
  const host = await testHost(plugin, { minTier: { [Op.SECRET]: 3 } });
  const s = host.session({ tier: 2 });
  const bad = await s.call(Op.HELLO, { name: "" });
  assert(!bad.ok && bad.name === "BAD_REQUEST" && bad.detail === "name-length", JSON.stringify(bad));
  assert(!bad.ok && bad.extra.max === 64, JSON.stringify(bad));
  const low = await s.call(Op.SECRET, {});
  assert(!low.ok && low.detail === "tier-below-minimum", JSON.stringify(low));
  const high = await s.call(Op.SECRET, {}, 3);
  assert(high.ok, JSON.stringify(high));
  await host.close();
});
`;
  const readme = `# ${o.name}

A MyClerk plugin (opcodes ${hex(r.first)}-${hex(r.last)}). See the node's docs/PLUGINS.md,
"Vendor chapter", for the whole path:

    deno check mod.ts && deno test            # here, on the SDK's test harness
    myclerk plugin keys generate -o publisher.key
    myclerk plugin pack . -o ${o.name}.mcp --key publisher.key
    myclerk plugin install ${o.name}.mcp --data DATA   # on the node (key pinned in its policy)
    myclerk plugin reload ${o.name}
    myclerk call 127.0.0.1:5657 ${hello} '{"name":"ada"}' --key client.key
`;
  return {
    "plugin.json": JSON.stringify(manifest, null, 2) + "\n",
    "deno.json": JSON.stringify(denoJson, null, 2) + "\n",
    "mod.ts": mod,
    "mod_test.ts": test,
    "README.md": readme,
  };
}

/**
 * Writes a new plugin folder; returns the files written (relative paths).
 *
 * @example await scaffoldPlugin({ name: "acme-echo", range: "0xF800-0xF80F", dir: "acme-echo" })
 */
export async function scaffoldPlugin(o: ScaffoldOptions): Promise<readonly string[]> {
  const empty = await (async () => {
    try {
      for await (const _ of Deno.readDir(o.dir)) return false;
      return true;
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) return true;
      throw e;
    }
  })();
  if (!empty) {
    throw new MyClerkError(
      ErrorCode.BAD_REQUEST,
      `exists: ${o.dir} is not empty; fix: choose another --dir`,
    );
  }
  await Deno.mkdir(o.dir, { recursive: true });
  const sdkBase = o.vendorSdk ? "./sdk/" : SDK_DIR.href;
  const files = scaffoldFiles(o, sdkBase);
  const written: string[] = [];
  for (const [rel, text] of Object.entries(files)) {
    await Deno.writeTextFile(`${o.dir}/${rel}`, text);
    written.push(rel);
  }
  if (o.vendorSdk) {
    await Deno.mkdir(`${o.dir}/sdk`, { recursive: true });
    for (const f of SDK_FILES) {
      await Deno.writeTextFile(`${o.dir}/sdk/${f}`, await Deno.readTextFile(new URL(f, SDK_DIR)));
      written.push(`sdk/${f}`);
    }
  }
  return written;
}
