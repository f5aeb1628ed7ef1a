/**
 * The vendor's `plugin` subcommands: `new` (scaffold), `keys generate|show`
 * (publisher key), `pack` (one signed file), `verify`, `rollback`; and
 * {@link materialize}, the signature gate of `plugin install`.
 * Registered under `plugin` by plugins/cli.ts.
 *
 * @module
 */
import type { Command } from "commander";
import { ErrorCode, MyClerkError } from "../core/errors.ts";
import { scaffoldPlugin } from "./scaffold.ts";
import {
  checkPublisher,
  decodePackage,
  generatePublisherKey,
  packDir,
  readPluginFiles,
  readPublisherKey,
  signatureValid,
} from "./signing.ts";
import { parseManifest } from "./manifest.ts";
import type { PublisherPin } from "./signing.ts";

/** The part of the plugin policy (plugins/policy.ts) that decides signatures. */
export interface SignaturePolicy {
  /** Publisher keys pinned per range. */
  readonly publishers?: readonly PublisherPin[];
  /** Local development builds (unsigned) allowed despite pins. */
  readonly allowUnsigned?: boolean;
}
import { commitVersion, stageRollback } from "./install.ts";

/**
 * Turns an install source into a staging folder under `DATA/.plugin-staging`:
 * a `.mcp` package must be signed validly by a key the policy pins for every
 * range it claims (FORBIDDEN `unsigned-plugin`, `bad-signature`,
 * `publisher-not-pinned`); a folder is a local development build, refused
 * FORBIDDEN `unsigned-plugin` when the policy pins publishers and does not
 * set `allowUnsigned`. The caller removes the folder.
 */
export async function materialize(
  src: string,
  dataDir: string,
  policy: SignaturePolicy,
  opts: { readonly allowUnsigned?: boolean } = {},
): Promise<string> {
  const st = await Deno.stat(src).catch(() => undefined);
  if (st === undefined) {
    throw new MyClerkError(ErrorCode.NOT_FOUND, `no-source: ${src} does not exist`);
  }
  const pins = policy.publishers ?? [];
  // Unsigned code runs only where the operator said so: the policy's
  // `allowUnsigned`, the CLI's --allow-unsigned, or a plugin shipped inside
  // this node's own plugins/ tree (covered by the node's own install).
  const unsignedOk = policy.allowUnsigned === true || opts.allowUnsigned === true ||
    await shippedWithNode(src);
  let files: Map<string, Uint8Array>;
  if (st.isFile) {
    const pkg = decodePackage(await Deno.readFile(src));
    let raw: unknown;
    try {
      raw = JSON.parse(new TextDecoder().decode(pkg.files.get("plugin.json")!));
    } catch {
      throw new MyClerkError(ErrorCode.BAD_REQUEST, "invalid-manifest: plugin.json is not JSON");
    }
    const m = parseManifest(raw);
    if (pkg.signature === undefined && unsignedOk) {
      // development build shipped as a package
    } else checkPublisher(pkg, m.ranges, pins);
    files = new Map(pkg.files);
  } else {
    if (!unsignedOk) {
      throw new MyClerkError(
        ErrorCode.FORBIDDEN,
        `unsigned-plugin: ${src} is a folder (a local development build, not signed); fix: install a signed package (plugin pack DIR -o FILE --key KEY) whose key the policy pins${
          pins.length > 0 ? "" : " (this policy pins no publisher yet)"
        }, or allow development builds on this node with --allow-unsigned or "allowUnsigned": true in the policy`,
      );
    }
    files = await readPluginFiles(src);
  }
  const root = `${dataDir}/.plugin-staging`;
  await Deno.mkdir(root, { recursive: true, mode: 0o700 });
  const dir = await Deno.makeTempDir({ dir: root });
  for (const [p, c] of files) {
    const slash = p.lastIndexOf("/");
    if (slash > 0) await Deno.mkdir(`${dir}/${p.slice(0, slash)}`, { recursive: true });
    await Deno.writeFile(`${dir}/${p}`, c);
  }
  return dir;
}

/** The node's own plugins/ folder (built-in plugins and the shipped examples). */
const NODE_PLUGINS = new URL(".", import.meta.url);

/** True when `src` lies inside this node's own plugins/ tree (a plugin shipped with the node). */
async function shippedWithNode(src: string): Promise<boolean> {
  try {
    const root = await Deno.realPath(NODE_PLUGINS);
    const real = await Deno.realPath(src);
    return real === root || real.startsWith(root.endsWith("/") ? root : `${root}/`);
  } catch {
    return false;
  }
}

async function postReload(admin: string, name: string): Promise<string | undefined> {
  try {
    const r = await fetch(
      `${admin.replace(/\/$/, "")}/plugins/${encodeURIComponent(name)}/reload`,
      {
        method: "POST",
        signal: AbortSignal.timeout(30_000),
      },
    );
    const body = await r.json() as { error?: string };
    return r.ok ? undefined : String(body.error ?? r.status);
  } catch (e) {
    return `unreachable: ${(e as Error).message}`;
  }
}

// deno-doc-ignore private-type-ref -- Command is commander's own exported class (npm)
/** Adds the vendor subcommands to the `plugin` command. */
export function registerVendorCommands(plugin: Command, out: (line: string) => void): void {
  plugin
    .command("new <name>")
    .description("scaffold a plugin folder (plugin.json, mod.ts, mod_test.ts, deno.json)")
    .requiredOption("--range <range>", "opcode range 0xFIRST-0xLAST, e.g. 0xF800-0xF80F")
    .option("--dir <dir>", "folder to create (default: NAME)")
    .option("--vendor-sdk", "copy the SDK into DIR/sdk instead of referencing this node's")
    .action(async (name: string, o: { range: string; dir?: string; vendorSdk?: boolean }) => {
      const dir = o.dir ?? name;
      const files = await scaffoldPlugin({
        name,
        range: o.range,
        dir,
        vendorSdk: o.vendorSdk === true,
      });
      out(`created ${dir}: ${files.join(", ")}`);
      out(`next: cd ${dir} && deno test`);
    });
  const keys = plugin.command("keys").description("publisher Ed25519 signing keys");
  keys
    .command("generate")
    .description("write a new publisher key file (mode 0600, refuses to overwrite)")
    .requiredOption("-o, --out <file>", "key file to write")
    .action(async (o: { out: string }) => {
      const pub = await generatePublisherKey(o.out);
      out(`wrote ${o.out}\npublic: ${pub}`);
      out(
        `pin it on a node: policy.json "publishers": [{ "range": "0xF800-0xF80F", "keys": ["${pub}"] }]`,
      );
    });
  keys
    .command("show <file>")
    .description("print a publisher key file's public key")
    .action(async (file: string) => {
      out(`public: ${(await readPublisherKey(file)).publicKey}`);
    });
  plugin
    .command("pack <dir>")
    .description("pack a plugin folder into one signed file (manifest, modules, signature)")
    .requiredOption("-o, --out <file>", "package file to write (NAME-VERSION.mcp)")
    .option("--key <file>", "publisher key file (plugin keys generate); without it: unsigned")
    .action(async (dir: string, o: { out: string; key?: string }) => {
      parseManifest(JSON.parse(await Deno.readTextFile(`${dir}/plugin.json`)));
      const sk = o.key ? (await readPublisherKey(o.key)).secretKey : undefined;
      await Deno.writeFile(o.out, await packDir(dir, sk));
      out(`packed ${dir} to ${o.out}${sk ? " (signed)" : " (unsigned)"}`);
    });
  plugin
    .command("sign <file>")
    .description("sign (or re-sign) a package file in place")
    .requiredOption("--key <file>", "publisher key file")
    .action(async (file: string, o: { key: string }) => {
      const { encodePackage } = await import("./signing.ts");
      const pkg = decodePackage(await Deno.readFile(file));
      const { secretKey, publicKey } = await readPublisherKey(o.key);
      await Deno.writeFile(file, encodePackage(pkg.files, secretKey));
      out(`signed ${file} with ${publicKey}`);
    });
  plugin
    .command("verify <file>")
    .description("check a package's signature and print its publisher key")
    .action(async (file: string) => {
      const pkg = decodePackage(await Deno.readFile(file));
      if (!signatureValid(pkg)) throw new MyClerkError(ErrorCode.FORBIDDEN, "bad-signature");
      out(
        `ok: signed by ${
          [...pkg.signature!.publicKey].map((b) => b.toString(16).padStart(2, "0")).join("")
        }`,
      );
    });
  plugin
    .command("rollback <name>")
    .description("switch back to the previous version (reloads a running node)")
    .option("-d, --data <dir>", "node data directory", "./data")
    .option("--to <version>", "version to return to (default: the previous one)")
    .option("--admin <url>", "admin URL of a running node", "http://127.0.0.1:8080")
    .option("--offline", "no node running: only move the pointer")
    .action(
      async (name: string, o: { data: string; to?: string; admin: string; offline?: boolean }) => {
        const dir = `${o.data}/plugins/${name}`;
        const v = await stageRollback(dir, o.to);
        if (o.offline) {
          await commitVersion(dir, v);
          out(`rolled ${name} back to ${v} (offline: starts on the next serve)`);
          return;
        }
        const err = await postReload(o.admin, name);
        if (err !== undefined) {
          throw new MyClerkError(
            ErrorCode.SERVICE_UNAVAILABLE,
            `rollback: reload failed: ${err}; ${v} stays staged (run "plugin reload ${name}" or pass --offline)`,
          );
        }
        out(`rolled ${name} back to ${v}`);
      },
    );
}
