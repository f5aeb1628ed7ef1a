/**
 * Static key files: JSON with the X25519 key pair in base64, written with
 * mode 0600 and never overwritten.
 *
 * ```json
 * {"type":"myclerk-x25519","version":1,"keyId":"1a2b3c4d","public":"…","private":"…"}
 * ```
 *
 * @module
 */

import { ErrorCode, MyClerkError } from "../errors.ts";
import type { CryptoBackend } from "../crypto/types.ts";
import { type Identity, identityFrom } from "../session/handshake.ts";

/** Hex of a key id (8 lowercase digits). */
export function keyIdHex(id: number): string {
  return id.toString(16).padStart(8, "0");
}

function b64(b: Uint8Array): string {
  let s = "";
  for (const x of b) s += String.fromCharCode(x);
  return btoa(s);
}

function unb64(s: string): Uint8Array {
  return Uint8Array.from(atob(s), (c) => c.charCodeAt(0));
}

/** The key file's JSON shape. */
export interface KeyFile {
  /** Format tag. */
  readonly type: "myclerk-x25519";
  /** Format version. */
  readonly version: 1;
  /** Key id as 8 lowercase hex digits (informative: loading derives it from the key). */
  readonly keyId: string;
  /** Base64 of the 32-byte X25519 public key. */
  readonly public: string;
  /** Base64 of the 32-byte X25519 private key. */
  readonly private: string;
}

/**
 * Generates a key pair and writes it to `path` with mode 0600. Refuses to
 * overwrite (BAD_REQUEST `exists`).
 */
export async function generateKeyFile(backend: CryptoBackend, path: string): Promise<Identity> {
  const id = identityFrom(backend, backend.x25519Generate().privateKey);
  const body: KeyFile = {
    type: "myclerk-x25519",
    version: 1,
    keyId: keyIdHex(id.keyId),
    public: b64(id.publicKey),
    private: b64(id.privateKey),
  };
  let f: Deno.FsFile;
  try {
    f = await Deno.open(path, { write: true, createNew: true, mode: 0o600 });
  } catch (e) {
    if (e instanceof Deno.errors.AlreadyExists) {
      throw new MyClerkError(ErrorCode.BAD_REQUEST, "exists", { path }, e);
    }
    throw new MyClerkError(ErrorCode.BAD_REQUEST, "cannot-write", { path }, e);
  }
  try {
    await f.write(new TextEncoder().encode(JSON.stringify(body, null, 2) + "\n"));
    await Deno.chmod(path, 0o600);
  } finally {
    f.close();
  }
  return id;
}

/** Reads a key file (BAD_REQUEST `key-file` naming what is wrong). */
export async function readKeyFile(backend: CryptoBackend, path: string): Promise<Identity> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (e) {
    throw new MyClerkError(ErrorCode.BAD_REQUEST, "key-file", { path, why: "cannot read" }, e);
  }
  let j: Partial<KeyFile>;
  try {
    j = JSON.parse(text);
  } catch (e) {
    throw new MyClerkError(ErrorCode.BAD_REQUEST, "key-file", { path, why: "not JSON" }, e);
  }
  if (j.type !== "myclerk-x25519" || typeof j.private !== "string") {
    throw new MyClerkError(ErrorCode.BAD_REQUEST, "key-file", {
      path,
      why: "type must be myclerk-x25519 with a private key",
    });
  }
  const priv = unb64(j.private);
  if (priv.length !== 32) {
    throw new MyClerkError(ErrorCode.BAD_REQUEST, "key-file", {
      path,
      why: "private key must be 32 bytes",
    });
  }
  return identityFrom(backend, priv);
}

/** Reads `path`, creating it first when it does not exist (serve's embedded default). */
export async function loadOrCreateKeyFile(
  backend: CryptoBackend,
  path: string,
): Promise<{ identity: Identity; created: boolean }> {
  try {
    await Deno.stat(path);
    return { identity: await readKeyFile(backend, path), created: false };
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
  return { identity: await generateKeyFile(backend, path), created: true };
}

/** Hex helpers, re-exported from their one home for the CLI. */
export { fromHex, toHex } from "../bytes.ts";
