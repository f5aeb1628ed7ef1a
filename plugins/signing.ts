/**
 * Signed plugin packages (`.mcp`): one file holding a plugin's manifest,
 * modules and an Ed25519 signature by its publisher (docs/PLUGINS.md
 * "Package format and signature").
 *
 * Ed25519 (RFC 8032, @noble/curves) because it is a signature scheme (the
 * node's X25519 keys only agree keys), deterministic (no nonce to get
 * wrong), 32-byte keys an operator can pin in a JSON policy, and available
 * in every language a vendor's build might use.
 *
 * Pure except {@link packDir} and the key-file helpers.
 *
 * @module
 */
import { ed25519 } from "@noble/curves/ed25519.js";
import { sha256 } from "@noble/hashes/sha2.js";
import { ErrorCode, MyClerkError } from "../core/errors.ts";

/** The package's `format` value. */
export const PACKAGE_FORMAT = "myclerk-plugin/1";
/** First line of the signed bytes (domain separation). */
export const SIGNED_PREFIX = "myclerk-plugin-package-v1\n";

/** A parsed package: files by relative path, and the signature if any. */
export interface PluginPackage {
  /** Relative path -> content. */
  readonly files: ReadonlyMap<string, Uint8Array>;
  /** Publisher signature (absent: unsigned). */
  readonly signature?: { readonly publicKey: Uint8Array; readonly sig: Uint8Array };
}

const hex = (b: Uint8Array) => [...b].map((x) => x.toString(16).padStart(2, "0")).join("");
function unhex(s: string, len: number, what: string): Uint8Array {
  if (!new RegExp(`^[0-9a-f]{${len * 2}}$`).test(s)) {
    throw new MyClerkError(ErrorCode.BAD_REQUEST, `package: ${what} is not ${len} bytes of hex`);
  }
  return new Uint8Array(s.match(/../g)!.map((x) => parseInt(x, 16)));
}
const b64 = (b: Uint8Array) => btoa(String.fromCharCode(...b));
function unb64(s: string): Uint8Array {
  const bin = atob(s);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

/** A relative path a package may hold: no `..`, no leading `/`, no empty parts. */
function validPath(p: string): boolean {
  return p.length > 0 && p.length < 256 && !p.startsWith("/") &&
    p.split("/").every((x) => x !== "" && x !== "." && x !== "..") && !/[\0\n\\]/.test(p);
}

/**
 * The exact bytes a publisher signs: `SIGNED_PREFIX`, then for every file in
 * ascending byte order of its UTF-8 path: `path "\n" hex(sha256(content)) "\n"`.
 *
 * @example signedBytes(new Map([["plugin.json", bytes]]))
 */
export function signedBytes(files: ReadonlyMap<string, Uint8Array>): Uint8Array {
  const enc = new TextEncoder();
  const paths = [...files.keys()].sort((a, b) => {
    const x = enc.encode(a), y = enc.encode(b);
    for (let i = 0; i < Math.min(x.length, y.length); i++) if (x[i] !== y[i]) return x[i] - y[i];
    return x.length - y.length;
  });
  let text = SIGNED_PREFIX;
  for (const p of paths) text += `${p}\n${hex(sha256(files.get(p)!))}\n`;
  return enc.encode(text);
}

/**
 * Serialises a package (JSON, UTF-8); signs it when `secretKey` is given.
 *
 * @example encodePackage(files, secretKey)
 */
export function encodePackage(
  files: ReadonlyMap<string, Uint8Array>,
  secretKey?: Uint8Array,
): Uint8Array {
  for (const p of files.keys()) {
    if (!validPath(p)) throw new MyClerkError(ErrorCode.BAD_REQUEST, `package: bad path ${p}`);
  }
  if (!files.has("plugin.json")) {
    throw new MyClerkError(ErrorCode.BAD_REQUEST, "package: no plugin.json");
  }
  const obj: Record<string, unknown> = {
    format: PACKAGE_FORMAT,
    files: Object.fromEntries([...files].map(([p, c]) => [p, b64(c)])),
  };
  if (secretKey !== undefined) {
    obj.signature = {
      alg: "ed25519",
      publicKey: hex(ed25519.getPublicKey(secretKey)),
      sig: hex(ed25519.sign(signedBytes(files), secretKey)),
    };
  }
  return new TextEncoder().encode(JSON.stringify(obj));
}

/**
 * Parses a package; BAD_REQUEST `package: ...` on any malformation (does not verify).
 *
 * @example const pkg = decodePackage(await Deno.readFile("acme.mcp"))
 */
export function decodePackage(bytes: Uint8Array): PluginPackage {
  let raw: unknown;
  try {
    raw = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes));
  } catch {
    throw new MyClerkError(ErrorCode.BAD_REQUEST, "package: not UTF-8 JSON");
  }
  const o = raw as Record<string, unknown>;
  if (o === null || typeof o !== "object" || o.format !== PACKAGE_FORMAT) {
    throw new MyClerkError(ErrorCode.BAD_REQUEST, `package: format is not ${PACKAGE_FORMAT}`);
  }
  const f = o.files as Record<string, unknown>;
  if (f === null || typeof f !== "object" || Array.isArray(f)) {
    throw new MyClerkError(ErrorCode.BAD_REQUEST, "package: files is not an object");
  }
  const files = new Map<string, Uint8Array>();
  for (const [p, v] of Object.entries(f)) {
    if (!validPath(p) || typeof v !== "string") {
      throw new MyClerkError(ErrorCode.BAD_REQUEST, `package: bad file entry ${p}`);
    }
    try {
      files.set(p, unb64(v));
    } catch {
      throw new MyClerkError(ErrorCode.BAD_REQUEST, `package: ${p} is not base64`);
    }
  }
  if (!files.has("plugin.json")) {
    throw new MyClerkError(ErrorCode.BAD_REQUEST, "package: no plugin.json");
  }
  if (o.signature === undefined) return { files };
  const s = o.signature as Record<string, unknown>;
  if (s === null || typeof s !== "object" || s.alg !== "ed25519") {
    throw new MyClerkError(ErrorCode.BAD_REQUEST, "package: signature.alg is not ed25519");
  }
  return {
    files,
    signature: {
      publicKey: unhex(String(s.publicKey), 32, "signature.publicKey"),
      sig: unhex(String(s.sig), 64, "signature.sig"),
    },
  };
}

/**
 * Whether the package's signature is valid for its files (not who signed it).
 *
 * @example if (!signatureValid(pkg)) throw new Error("tampered")
 */
export function signatureValid(pkg: PluginPackage): boolean {
  if (pkg.signature === undefined) return false;
  try {
    return ed25519.verify(pkg.signature.sig, signedBytes(pkg.files), pkg.signature.publicKey);
  } catch {
    return false;
  }
}

/** Reads a plugin folder's files (no symlinks, no `.git`, no `*.mcp`). */
export async function readPluginFiles(dir: string): Promise<Map<string, Uint8Array>> {
  const out = new Map<string, Uint8Array>();
  const walk = async (rel: string) => {
    for await (const e of Deno.readDir(rel ? `${dir}/${rel}` : dir)) {
      const p = rel ? `${rel}/${e.name}` : e.name;
      if (e.isSymlink || e.name === ".git" || e.name.endsWith(".mcp") || e.name.endsWith(".key")) {
        continue;
      }
      if (e.isDirectory) await walk(p);
      else if (e.isFile) out.set(p, await Deno.readFile(`${dir}/${p}`));
    }
  };
  await walk("");
  return out;
}

/**
 * Packs (and signs) a folder.
 *
 * @example await Deno.writeFile("acme.mcp", await packDir("acme", sk))
 */
export async function packDir(dir: string, secretKey?: Uint8Array): Promise<Uint8Array> {
  return encodePackage(await readPluginFiles(dir), secretKey);
}

/**
 * Writes a new publisher key file (JSON `{ "ed25519": secret hex, "public": hex }`, mode 0600).
 *
 * @example const pub = await generatePublisherKey("publisher.key")
 */
export async function generatePublisherKey(path: string): Promise<string> {
  const sk = ed25519.utils.randomSecretKey();
  const pub = hex(ed25519.getPublicKey(sk));
  await Deno.writeTextFile(path, JSON.stringify({ ed25519: hex(sk), public: pub }) + "\n", {
    createNew: true,
    mode: 0o600,
  });
  return pub;
}

/**
 * Reads a publisher key file; returns the secret and public key.
 *
 * @example const { secretKey } = await readPublisherKey("publisher.key")
 */
export async function readPublisherKey(
  path: string,
): Promise<{ readonly secretKey: Uint8Array; readonly publicKey: string }> {
  const o = JSON.parse(await Deno.readTextFile(path)) as { ed25519?: string };
  const secretKey = unhex(String(o.ed25519), 32, "ed25519 secret key");
  return { secretKey, publicKey: hex(ed25519.getPublicKey(secretKey)) };
}

/** One pin: publisher keys allowed to sign plugins claiming opcodes in a range. */
export interface PublisherPin {
  /** First opcode of the range. */
  readonly first: number;
  /** Last opcode, inclusive. */
  readonly last: number;
  /** Ed25519 public keys (hex). */
  readonly keys: readonly string[];
}

/**
 * Refuses a package unless it is signed validly by a key pinned for every
 * range it claims (`ranges` from its manifest). Throws FORBIDDEN
 * `unsigned-plugin`, `bad-signature` or `publisher-not-pinned`.
 *
 * @example checkPublisher(pkg, manifest.ranges, pins)
 */
export function checkPublisher(
  pkg: PluginPackage,
  ranges: readonly { readonly first: number; readonly last: number }[],
  pins: readonly PublisherPin[],
): string {
  if (pkg.signature === undefined) {
    throw new MyClerkError(ErrorCode.FORBIDDEN, "unsigned-plugin");
  }
  if (!signatureValid(pkg)) throw new MyClerkError(ErrorCode.FORBIDDEN, "bad-signature");
  const key = hex(pkg.signature.publicKey);
  for (const r of ranges) {
    const ok = pins.some((p) => r.first >= p.first && r.last <= p.last && p.keys.includes(key));
    if (!ok) {
      throw new MyClerkError(ErrorCode.FORBIDDEN, "publisher-not-pinned", {
        publicKey: key,
        range: `0x${r.first.toString(16)}-0x${r.last.toString(16)}`,
      });
    }
  }
  return key;
}
