/**
 * The crypto back-end interface. Three implementations: `libcrypto.ts`
 * (system OpenSSL through FFI, the fast path when it loads), `node.ts`
 * (`node:crypto`) and `noble.ts` (`@noble/*`, portable).
 * Every function takes and returns plain `Uint8Array`s and throws only
 * {@link MyClerkError} (BAD_REQUEST for malformed sizes, UNAUTHORIZED for a
 * failed authentication).
 *
 * @module
 */

/** An X25519 key pair (32-byte private scalar as generated, 32-byte public u-coordinate). */
export interface KeyPair {
  /** 32-byte private scalar. */
  readonly privateKey: Uint8Array;
  /** 32-byte public key (u-coordinate). */
  readonly publicKey: Uint8Array;
}

/**
 * Byte ranges of one protected message inside one buffer, for
 * {@link FrameKeys}: where the AAD, the payload, the AEAD tag, the two parts
 * of the HMAC input and the (truncated) HMAC trailer are. Built by
 * `core/wire/protect.ts`, which owns the layouts; the back end only checks
 * that every range lies inside the buffer. A caller may reuse one object.
 */
export interface FrameLayout {
  /** Encrypt / decrypt `payload*` with ChaCha20-Poly1305 (AAD `aad*`, tag at `tagOffset`). */
  readonly aead: boolean;
  /** Offset of the AAD. */
  readonly aadOffset: number;
  /** Length of the AAD. */
  readonly aadLength: number;
  /** Offset of the payload (sealed there from the caller's payload; opened into its `out`). */
  readonly payloadOffset: number;
  /** Length of the payload (without tag). */
  readonly payloadLength: number;
  /** Offset of the 16-byte AEAD tag. */
  readonly tagOffset: number;
  /** HMAC input, first part: offset. */
  readonly mac1Offset: number;
  /** HMAC input, first part: length. */
  readonly mac1Length: number;
  /** HMAC input, second part (appended to the first): offset. */
  readonly mac2Offset: number;
  /** HMAC input, second part: length (0 for none). */
  readonly mac2Length: number;
  /** Offset of the HMAC-SHA256 trailer (its first `trailerLength` bytes). */
  readonly trailerOffset: number;
  /** Trailer length, 1..32. */
  readonly trailerLength: number;
}

/** What {@link FrameKeys.open} found: 0 opened, 1 HMAC mismatch, 2 AEAD tag mismatch. */
export type FrameOpenResult = 0 | 1 | 2;

/**
 * One session direction's AEAD key and HMAC key bound once (native state
 * in the libcrypto back end's frame shim), so a whole protected message is
 * sealed or opened in one call. Holds a copy of both keys until
 * {@link FrameKeys.dispose}; after that every call throws.
 */
export interface FrameKeys {
  /**
   * Seals into `buf`: writes `payload` (exactly `l.payloadLength` bytes)
   * at `l.payloadOffset`, encrypted when `l.aead` (then the tag too), then
   * the HMAC trailer over mac1 || mac2 (which the caller lays out to include
   * the tag where the profile says so). `payload` may be that very region
   * of `buf` (in place), never partly overlap it. `nonce` is 12 bytes.
   * Throws BAD_REQUEST when a range lies outside `buf` or `payload` has the
   * wrong length, before writing.
   */
  seal(buf: Uint8Array, nonce: Uint8Array, l: FrameLayout, payload: Uint8Array): void;
  /**
   * Verifies the HMAC trailer in constant time, then (when `l.aead`)
   * decrypts the payload into `out` (from 0, `out.length >= payloadLength`).
   * Returns 1 on a trailer mismatch (nothing decrypted), 2 on an AEAD tag
   * mismatch (`out` wiped), 0 when both verify.
   */
  open(buf: Uint8Array, nonce: Uint8Array, l: FrameLayout, out: Uint8Array): FrameOpenResult;
  /** Wipes and frees the bound keys; idempotent. */
  dispose(): void;
}

/** One crypto back end. */
export interface CryptoBackend {
  /** Short name: `libcrypto`, `node` or `noble`. */
  readonly name: string;
  /** Cryptographically random bytes. */
  randomBytes(n: number): Uint8Array;
  /** SHA-256 of `data`. */
  sha256(data: Uint8Array): Uint8Array;
  /** HMAC-SHA256(key, data), 32 bytes. */
  hmacSha256(key: Uint8Array, data: Uint8Array): Uint8Array;
  /** RFC 5869 HKDF-SHA256 (extract + expand), `length` <= 8160. */
  hkdf(ikm: Uint8Array, salt: Uint8Array, info: Uint8Array, length: number): Uint8Array;
  /** New random X25519 key pair. */
  x25519Generate(): KeyPair;
  /** X25519 public key of a private key. */
  x25519Public(privateKey: Uint8Array): Uint8Array;
  /**
   * X25519(privateKey, publicKey). Throws UNAUTHORIZED `bad-key` when the
   * result is all zero (low-order point), per RFC 7748 §6.1.
   */
  x25519(privateKey: Uint8Array, publicKey: Uint8Array): Uint8Array;
  /** ChaCha20-Poly1305 seal: returns ciphertext || 16-byte tag. */
  chachaSeal(
    key: Uint8Array,
    nonce: Uint8Array,
    aad: Uint8Array,
    plaintext: Uint8Array,
  ): Uint8Array;
  /** ChaCha20-Poly1305 open of ciphertext || tag; throws UNAUTHORIZED `aead` on failure. */
  chachaOpen(key: Uint8Array, nonce: Uint8Array, aad: Uint8Array, sealed: Uint8Array): Uint8Array;
  /**
   * Detached-tag variants (Tier 5 keeps the tag in the header): seal returns
   * `{ ciphertext, tag }`, open takes them apart.
   */
  chachaSealDetached(
    key: Uint8Array,
    nonce: Uint8Array,
    aad: Uint8Array,
    plaintext: Uint8Array,
  ): { readonly ciphertext: Uint8Array; readonly tag: Uint8Array };
  /** Opens a detached-tag ChaCha20-Poly1305 message; throws UNAUTHORIZED `aead`. */
  chachaOpenDetached(
    key: Uint8Array,
    nonce: Uint8Array,
    aad: Uint8Array,
    ciphertext: Uint8Array,
    tag: Uint8Array,
  ): Uint8Array;
  /** AES-256-GCM seal (12-byte IV, 16-byte tag appended). Any IV length 1..: tests use Wycheproof. */
  aesGcmSeal(key: Uint8Array, iv: Uint8Array, aad: Uint8Array, plaintext: Uint8Array): Uint8Array;
  /** AES-256-GCM open; throws UNAUTHORIZED `aead` on failure. */
  aesGcmOpen(key: Uint8Array, iv: Uint8Array, aad: Uint8Array, sealed: Uint8Array): Uint8Array;
  /**
   * Optional hot path: seals like {@link chachaSeal} but writes ciphertext ||
   * tag into `out` at `outOffset` instead of allocating, and returns the
   * number of bytes written (`plaintext.length + 16`). Allocating a fresh
   * 16 KiB output costs more than encrypting it, so a sender that reuses its
   * frame buffer calls this when present. `out` may be exactly `plaintext`
   * (in place, same offset). Throws BAD_REQUEST `out-size` / `out-offset`
   * when `out` has no room, before anything is written.
   */
  chachaSealInto?(
    key: Uint8Array,
    nonce: Uint8Array,
    aad: Uint8Array,
    plaintext: Uint8Array,
    out: Uint8Array,
    outOffset: number,
  ): number;
  /**
   * Optional hot path: binds a 32-byte ChaCha20-Poly1305 key and an HMAC-SHA256
   * key (1..64 bytes) for {@link FrameKeys}, or returns undefined when this
   * back end has no such path here (libcrypto without its frame shim, node,
   * noble): the caller then uses the per-primitive methods.
   */
  frameKeys?(key: Uint8Array, mac: Uint8Array): FrameKeys | undefined;
}
