/**
 * The optional frame shim of the libcrypto back end: `native/frame.c`,
 * built by `native/build.sh` into `native/libmyclerk_frame.so` (the test
 * command's install step runs it). It seals or opens one whole protected
 * message, AEAD and HMAC trailer, in one FFI call against per-direction
 * state keyed once ({@link FrameKeys}).
 *
 * Loading never throws and never prompts: the shim is used only when FFI is
 * granted, the file exists next to this module, its ABI number matches,
 * `MYCLERK_FRAME_SHIM` is not `off`, and it passes a known-answer self-test
 * against the caller's per-primitive ChaCha20-Poly1305 and HMAC (sealing,
 * opening, and refusing a bad trailer and a bad tag). Otherwise
 * {@link frameShim} returns undefined and the back end makes its usual
 * per-primitive calls: same bytes on the wire, only slower.
 *
 * Safety: the C side checks every range against the buffer length passed
 * with it (64-bit arithmetic) before touching memory; the length passed is
 * always the `length` of the very view passed, taken here. Buffers are
 * passed for one synchronous call only. The native state is freed by
 * {@link FrameKeys.dispose} (OpenSSL wipes the key schedule, the shim the
 * HMAC pads) or, for a handle dropped without it, by a FinalizationRegistry.
 *
 * @module
 */

import { ErrorCode, MyClerkError } from "../errors.ts";
import type { FrameKeys, FrameLayout, FrameOpenResult } from "./types.ts";
import { KEY_SIZE, TAG_SIZE } from "./validate.ts";

/** The ABI number `mc_abi()` must return (`MC_ABI` in native/frame.c). */
const ABI = 2;
/** Shared object name, next to this module under `native/`. */
export const FRAME_SHIM_FILE = "libmyclerk_frame.so";

const SYMBOLS = {
  mc_abi: { parameters: [], result: "i32" },
  mc_dir_new: { parameters: ["buffer", "i32", "buffer", "i32"], result: "pointer" },
  mc_dir_free: { parameters: ["pointer"], result: "void" },
  mc_seal: {
    parameters: ["pointer", "buffer", "i32", "buffer", "i32", "buffer"],
    result: "i32",
  },
  mc_open: {
    parameters: ["pointer", "buffer", "i32", "buffer", "i32", "buffer"],
    result: "i32",
  },
} as const satisfies Deno.ForeignLibraryInterface;

type Lib = Deno.DynamicLibrary<typeof SYMBOLS>;

/** Result codes of native/frame.c. */
const MC_OK = 1, MC_EMAC = -1, MC_EAEAD = -2, MC_EPARAM = -3;
const F_AEAD = 1, F_MAC = 2;

/** Why the shim is or is not in use (for logs and tests). */
export type FrameShimState =
  | "loaded"
  | "disabled"
  | "no-ffi"
  | "absent"
  | "stale"
  | "self-test-failed";

/** Per-primitive reference the self-test compares the shim with. */
export interface ShimReference {
  /** ChaCha20-Poly1305 seal: ciphertext || tag. */
  chachaSeal(key: Uint8Array, nonce: Uint8Array, aad: Uint8Array, pt: Uint8Array): Uint8Array;
  /** HMAC-SHA256. */
  hmacSha256(key: Uint8Array, data: Uint8Array): Uint8Array;
}

function envOff(): boolean {
  try {
    const st = Deno.permissions.querySync({ name: "env", variable: "MYCLERK_FRAME_SHIM" }).state;
    return st === "granted" && Deno.env.get("MYCLERK_FRAME_SHIM") === "off";
  } catch {
    return false;
  }
}

/** The built shim, "stale" when older than its source next to it, or undefined. */
function shimPath(): URL | "stale" | undefined {
  const u = new URL(`./native/${FRAME_SHIM_FILE}`, import.meta.url);
  if (u.protocol !== "file:") return undefined;
  let built: Deno.FileInfo;
  try {
    built = Deno.statSync(u);
  } catch {
    return undefined;
  }
  if (!built.isFile) return undefined;
  try {
    const src = Deno.statSync(new URL("./native/frame.c", import.meta.url));
    // a source edited after the build: run native/build.sh again
    if (src.mtime && built.mtime && src.mtime > built.mtime) return "stale";
  } catch {
    // no source next to it (an image with the built file only): use it
  }
  return u;
}

function internal(what: string): MyClerkError {
  return new MyClerkError(ErrorCode.INTERNAL_ERROR, what, { where: "frame-shim" });
}

/** Builds the {@link FrameKeys} factory over the opened shim. */
function factory(lib: Lib): (key: Uint8Array, mac: Uint8Array) => FrameKeys | undefined {
  const s = lib.symbols;
  // one parameter block reused by every call (JS is single-threaded per isolate)
  const mem = new ArrayBuffer(64);
  const pb = new Uint8Array(mem);
  const pi = new Int32Array(mem);
  const registry = new FinalizationRegistry<Deno.PointerObject>((p) => s.mc_dir_free(p));

  const fill = (nonce: Uint8Array, l: FrameLayout, mac: boolean): void => {
    if (l.aead) {
      if (nonce.length !== 12) {
        throw new MyClerkError(ErrorCode.BAD_REQUEST, "nonce-size", {
          expected: 12,
          got: nonce.length,
        });
      }
      for (let i = 0; i < 12; i++) pb[i] = nonce[i];
    }
    // `| 0` keeps a non-number or fraction from reaching C as anything but an
    // int32; the C side rejects every range outside the buffer
    pi[4] = (l.aead ? F_AEAD : 0) | (mac ? F_MAC : 0);
    pi[5] = l.aadOffset | 0;
    pi[6] = l.aadLength | 0;
    pi[7] = l.payloadOffset | 0;
    pi[8] = l.payloadLength | 0;
    pi[9] = l.tagOffset | 0;
    pi[10] = l.mac1Offset | 0;
    pi[11] = l.mac1Length | 0;
    pi[12] = l.mac2Offset | 0;
    pi[13] = l.mac2Length | 0;
    pi[14] = l.trailerOffset | 0;
    pi[15] = l.trailerLength | 0;
  };
  const bad = (): MyClerkError => new MyClerkError(ErrorCode.BAD_REQUEST, "frame-layout");

  class NativeFrameKeys implements FrameKeys {
    #p: Deno.PointerObject | null;
    constructor(p: Deno.PointerObject) {
      this.#p = p;
      registry.register(this, p, this);
    }
    #ptr(): Deno.PointerObject {
      if (this.#p === null) throw internal("frame-keys-disposed");
      return this.#p;
    }
    seal(buf: Uint8Array, nonce: Uint8Array, l: FrameLayout, payload: Uint8Array): void {
      const p = this.#ptr();
      fill(nonce, l, true);
      const r = s.mc_seal(p, buf, buf.length, payload, payload.length, pb);
      if (r !== MC_OK) throw r === MC_EPARAM ? bad() : internal("frame-seal");
    }
    open(buf: Uint8Array, nonce: Uint8Array, l: FrameLayout, out: Uint8Array): FrameOpenResult {
      const p = this.#ptr();
      fill(nonce, l, true);
      const r = s.mc_open(p, buf, buf.length, out, out.length, pb);
      if (r === MC_OK) return 0;
      if (r === MC_EMAC) return 1;
      if (r === MC_EAEAD) return 2;
      throw r === MC_EPARAM ? bad() : internal("frame-open");
    }
    dispose(): void {
      const p = this.#p;
      if (p === null) return;
      this.#p = null;
      registry.unregister(this);
      s.mc_dir_free(p);
    }
  }

  return (key, mac) => {
    if (key.length !== KEY_SIZE) {
      throw new MyClerkError(ErrorCode.BAD_REQUEST, "key-size", {
        expected: KEY_SIZE,
        got: key.length,
      });
    }
    if (mac.length < 1 || mac.length > 64) return undefined; // not a session key: per-call path
    const p = s.mc_dir_new(key, key.length, mac, mac.length);
    return p === null ? undefined : new NativeFrameKeys(p);
  };
}

const same = (a: Uint8Array, b: Uint8Array): boolean =>
  a.length === b.length && a.every((x, i) => x === b[i]);

/**
 * Known answer against `ref` on a Tier-4-like layout (header 20, payload 33,
 * tag after it, HMAC over header || tag truncated to 8): sealing matches,
 * opening returns the plaintext, a flipped trailer byte is refused as a
 * MAC failure with nothing decrypted, a flipped ciphertext byte (outside
 * the MAC input) as an AEAD failure with the output wiped.
 */
function selfTest(
  make: (key: Uint8Array, mac: Uint8Array) => FrameKeys | undefined,
  ref: ShimReference,
): boolean {
  const key = new Uint8Array(32).map((_, i) => 0x80 + i);
  const macKey = new Uint8Array(32).map((_, i) => 0x20 + 3 * i);
  const nonce = Uint8Array.from([7, 0, 0, 0, 0x40, 0x41, 0x42, 0x43, 0x44, 0x45, 0x46, 0x47]);
  const H = 20, N = 33, T = 8;
  const pt = new Uint8Array(N).map((_, i) => i * 7);
  const buf = new Uint8Array(H + N + TAG_SIZE + T);
  buf.subarray(0, H).fill(0xa5);
  const l: FrameLayout = {
    aead: true,
    aadOffset: 0,
    aadLength: H,
    payloadOffset: H,
    payloadLength: N,
    tagOffset: H + N,
    mac1Offset: 0,
    mac1Length: H,
    mac2Offset: H + N,
    mac2Length: TAG_SIZE,
    trailerOffset: H + N + TAG_SIZE,
    trailerLength: T,
  };
  const fk = make(key, macKey);
  if (fk === undefined) return false;
  try {
    const sealed = ref.chachaSeal(key, nonce, buf.subarray(0, H), pt);
    fk.seal(buf, nonce, l, pt);
    if (!same(buf.subarray(H, H + N + TAG_SIZE), sealed)) return false;
    const macIn = new Uint8Array(H + TAG_SIZE);
    macIn.set(buf.subarray(0, H));
    macIn.set(buf.subarray(H + N, H + N + TAG_SIZE), H);
    if (!same(buf.subarray(H + N + TAG_SIZE), ref.hmacSha256(macKey, macIn).subarray(0, T))) {
      return false;
    }
    const out = new Uint8Array(N);
    if (fk.open(buf, nonce, l, out) !== 0 || !same(out, pt)) return false;
    buf[buf.length - 1] ^= 1;
    out.fill(0x55);
    if (fk.open(buf, nonce, l, out) !== 1 || out[0] !== 0x55) return false;
    buf[buf.length - 1] ^= 1;
    buf[H + 3] ^= 1;
    if (fk.open(buf, nonce, l, out) !== 2 || !out.every((b) => b === 0)) return false;
    // a range past the end is refused before anything is touched
    try {
      fk.seal(buf.subarray(0, H + N), nonce, l, pt);
      return false;
    } catch {
      // expected: BAD_REQUEST frame-layout
    }
    return true;
  } catch {
    return false;
  } finally {
    fk.dispose();
  }
}

let state: FrameShimState | undefined;
let made: ((key: Uint8Array, mac: Uint8Array) => FrameKeys | undefined) | undefined;

/**
 * The {@link FrameKeys} factory of the frame shim, checked against `ref`
 * once per isolate, or undefined (see {@link frameShimState} for why).
 * Never throws.
 *
 * @example const make = frameShim(libcryptoReference);
 */
export function frameShim(
  ref: ShimReference,
): ((key: Uint8Array, mac: Uint8Array) => FrameKeys | undefined) | undefined {
  if (state !== undefined) return made;
  state = load(ref);
  return made;
}

function load(ref: ShimReference): FrameShimState {
  if (envOff()) return "disabled";
  try {
    if (typeof Deno?.dlopen !== "function") return "no-ffi";
    if (Deno.permissions.querySync({ name: "ffi" }).state !== "granted") return "no-ffi";
  } catch {
    return "no-ffi";
  }
  const path = shimPath();
  if (path === undefined) return "absent";
  if (path === "stale") return "stale";
  let lib: Lib;
  try {
    lib = Deno.dlopen(path, SYMBOLS);
  } catch {
    return "absent"; // built for another machine, or a missing libcrypto
  }
  try {
    if (lib.symbols.mc_abi() !== ABI) {
      lib.close();
      return "stale";
    }
    const f = factory(lib);
    if (!selfTest(f, ref)) {
      lib.close();
      return "self-test-failed";
    }
    made = f;
    return "loaded";
  } catch {
    lib.close();
    return "self-test-failed";
  }
}

/**
 * Whether the frame shim is in use in this isolate, or why not; undefined
 * before the libcrypto back end first tried to load it.
 */
export function frameShimState(): FrameShimState | undefined {
  return state;
}
