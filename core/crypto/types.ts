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
}
