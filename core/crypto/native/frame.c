/*
 * myclerk frame shim: one call per protected message for AEAD + HMAC over
 * libcrypto (OpenSSL 3). Loaded by core/crypto/libcrypto.ts through Deno FFI
 * when built (core/crypto/native/build.sh); without it the libcrypto back end
 * makes its usual per-primitive FFI calls (docs/PROTOCOL.md, "Crypto back ends").
 *
 * Why a shim: through FFI a ChaCha20-Poly1305 seal is 5 libcrypto calls and
 * the HMAC trailer 3 more, each with its JS-side view and argument set-up;
 * here one call does both, against per-direction state built once:
 * - an EVP_CIPHER_CTX per thread and operation, fetched once and re-keyed
 *   only when another direction used it last (ctx_for), so a message of a
 *   busy direction only re-initialises the IV;
 * - the HMAC-SHA256 inner and outer states after the key pads, copied per
 *   message (RFC 2104 with precomputed pads: 3 compression blocks for a
 *   64-80 byte trailer input instead of 5 plus HMAC_CTX's EVP dispatch).
 *
 * No protocol layout lives here: the caller (core/wire/protect.ts) passes
 * byte ranges of one buffer. Every range is checked against the buffer
 * length the caller passes, in 64-bit arithmetic, before any byte is read
 * or written: a bad range returns MC_EPARAM and touches nothing.
 *
 * Build: cc -O2 -shared -fPIC frame.c -o libmyclerk_frame.so -lcrypto
 */
#define OPENSSL_SUPPRESS_DEPRECATED 1
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/sha.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Bumped whenever a signature or the parameter block changes: the loader
 * refuses a stale build instead of calling it with the wrong layout. */
#define MC_ABI 2

#define MC_OK 1
#define MC_EMAC (-1)   /* HMAC trailer mismatch (nothing decrypted) */
#define MC_EAEAD (-2)  /* AEAD tag mismatch (output wiped) */
#define MC_EPARAM (-3) /* a range outside its buffer, or a bad length */
#define MC_EINTERNAL (-4)

#define F_AEAD 1u /* encrypt (seal) / decrypt (open) the payload range */
#define F_MAC 2u  /* compute (seal) / verify (open) the HMAC trailer */

#define MC_MAGIC 0x6d63666bu /* "mcfk": a freed or foreign pointer fails the check */

typedef struct {
  uint32_t magic;
  uint8_t key[32]; /* the AEAD key: ctx_for keys the shared contexts with it */
  SHA256_CTX inner; /* after H(K ^ ipad) */
  SHA256_CTX outer; /* after H(K ^ opad) */
} mc_dir;

/*
 * The parameter block (little-endian host order, 64 bytes):
 *   bytes 0..11  nonce (12)
 *   int32 [4]    flags
 *   int32 [5,6]  aad offset, length
 *   int32 [7,8]  payload offset, length (in place on seal; source on open)
 *   int32 [9]    tag offset (16 bytes)
 *   int32 [10,11] MAC input part 1: offset, length
 *   int32 [12,13] MAC input part 2: offset, length (length may be 0)
 *   int32 [14,15] MAC trailer: offset, length (1..32)
 */
#define P_FLAGS 4
#define P_AAD 5
#define P_PT 7
#define P_TAG 9
#define P_M1 10
#define P_M2 12
#define P_MAC 14
#define PARAM_BYTES 64

int mc_abi(void) { return MC_ABI; }

/* True when [off, off+len) lies inside [0, size). */
static int in_range(int32_t off, int32_t len, int32_t size) {
  return off >= 0 && len >= 0 && size >= 0 && (int64_t)off + (int64_t)len <= (int64_t)size;
}

/*
 * One cipher context per thread and operation, shared by every direction
 * and keyed with a direction's key when another direction used it last.
 * Each context holds ~1.1 KB of OpenSSL 3 provider state, and a relay keeps
 * two directions per connection, most of them idle (measured: 2.5 KB of RSS
 * per direction with its own two contexts, 0.5 KB without). ChaCha20 has no
 * key schedule, so re-keying is a 32-byte copy, and a busy direction that
 * keeps the context only re-initialises the IV per message, as before.
 * Thread-local because Workers load the shim on their own threads.
 */
static _Thread_local EVP_CIPHER_CTX *tl_ctx[2];
static _Thread_local const mc_dir *tl_owner[2]; /* whose key is in tl_ctx[i] */

static EVP_CIPHER_CTX *ctx_for(const mc_dir *d, int enc) {
  EVP_CIPHER_CTX *c = tl_ctx[enc];
  if (c == NULL) {
    const EVP_CIPHER *ci = EVP_chacha20_poly1305();
    c = EVP_CIPHER_CTX_new();
    if (c == NULL || ci == NULL ||
        (enc ? EVP_EncryptInit_ex(c, ci, NULL, NULL, NULL)
             : EVP_DecryptInit_ex(c, ci, NULL, NULL, NULL)) != 1) {
      EVP_CIPHER_CTX_free(c);
      ERR_clear_error();
      return NULL;
    }
    tl_ctx[enc] = c;
    tl_owner[enc] = NULL;
  }
  if (tl_owner[enc] != d) {
    tl_owner[enc] = NULL;
    if ((enc ? EVP_EncryptInit_ex(c, NULL, NULL, d->key, NULL)
             : EVP_DecryptInit_ex(c, NULL, NULL, d->key, NULL)) != 1) {
      ERR_clear_error();
      return NULL;
    }
    tl_owner[enc] = d;
  }
  return c;
}

/* A freed direction's key leaves the shared contexts too (overwritten with zeros). */
static void forget_key(const mc_dir *d) {
  static const uint8_t zero[32];
  for (int i = 0; i < 2; i++) {
    if (tl_owner[i] != d) continue;
    tl_owner[i] = NULL;
    if ((i ? EVP_EncryptInit_ex(tl_ctx[i], NULL, NULL, zero, NULL)
           : EVP_DecryptInit_ex(tl_ctx[i], NULL, NULL, zero, NULL)) != 1) {
      EVP_CIPHER_CTX_free(tl_ctx[i]); /* cleanses; made again on the next use */
      tl_ctx[i] = NULL;
      ERR_clear_error();
    }
  }
}

static void free_dir(mc_dir *d) {
  if (d == NULL) return;
  forget_key(d);
  OPENSSL_cleanse(d, sizeof *d);
  free(d);
}

/* key: 32-byte ChaCha20-Poly1305 key; mac: 1..64-byte HMAC-SHA256 key. */
mc_dir *mc_dir_new(const uint8_t *key, int32_t key_len, const uint8_t *mac, int32_t mac_len) {
  if (key == NULL || mac == NULL || key_len != 32 || mac_len < 1 || mac_len > 64) return NULL;
  if (EVP_chacha20_poly1305() == NULL) return NULL;
  mc_dir *d = calloc(1, sizeof *d);
  if (d == NULL) return NULL;
  memcpy(d->key, key, 32);
  uint8_t pad[64];
  memset(pad, 0x36, sizeof pad);
  for (int32_t i = 0; i < mac_len; i++) pad[i] ^= mac[i];
  int ok = SHA256_Init(&d->inner) == 1 && SHA256_Update(&d->inner, pad, 64) == 1;
  memset(pad, 0x5c, sizeof pad);
  for (int32_t i = 0; i < mac_len; i++) pad[i] ^= mac[i];
  ok = ok && SHA256_Init(&d->outer) == 1 && SHA256_Update(&d->outer, pad, 64) == 1;
  OPENSSL_cleanse(pad, sizeof pad);
  if (!ok) {
    free_dir(d);
    ERR_clear_error();
    return NULL;
  }
  d->magic = MC_MAGIC;
  return d;
}

void mc_dir_free(mc_dir *d) {
  if (d == NULL || d->magic != MC_MAGIC) return;
  free_dir(d);
}

/* HMAC-SHA256 over buf[m1] || buf[m2] into md (32 bytes). */
static int hmac2(const mc_dir *d, const uint8_t *buf, const int32_t *p, uint8_t md[32]) {
  SHA256_CTX w = d->inner;
  int ok = SHA256_Update(&w, buf + p[P_M1], (size_t)p[P_M1 + 1]) == 1 &&
           (p[P_M2 + 1] == 0 || SHA256_Update(&w, buf + p[P_M2], (size_t)p[P_M2 + 1]) == 1) &&
           SHA256_Final(md, &w) == 1;
  if (ok) {
    w = d->outer;
    ok = SHA256_Update(&w, md, 32) == 1 && SHA256_Final(md, &w) == 1;
  }
  OPENSSL_cleanse(&w, sizeof w);
  return ok;
}

/* Checks the parameter block against a buffer of buf_len bytes. */
static int check(const mc_dir *d, const int32_t *p, int32_t buf_len, uint32_t *flags) {
  if (d == NULL || d->magic != MC_MAGIC || p == NULL) return 0;
  uint32_t f = (uint32_t)p[P_FLAGS];
  if ((f & ~(F_AEAD | F_MAC)) != 0 || f == 0) return 0;
  if (f & F_AEAD) {
    if (!in_range(p[P_AAD], p[P_AAD + 1], buf_len) || !in_range(p[P_PT], p[P_PT + 1], buf_len) ||
        !in_range(p[P_TAG], 16, buf_len)) {
      return 0;
    }
  }
  if (f & F_MAC) {
    if (!in_range(p[P_M1], p[P_M1 + 1], buf_len) || !in_range(p[P_M2], p[P_M2 + 1], buf_len) ||
        p[P_MAC + 1] < 1 || p[P_MAC + 1] > 32 || !in_range(p[P_MAC], p[P_MAC + 1], buf_len)) {
      return 0;
    }
  }
  *flags = f;
  return 1;
}

/*
 * Seals: the payload src[0..n) goes to buf[pt] (n = the payload length),
 * encrypted with AAD buf[aad] and the tag written at buf[tag] when F_AEAD,
 * copied as is otherwise; then HMAC(buf[m1] || buf[m2]) truncated to the
 * trailer. src may be exactly buf[pt] (in place), never partially overlap it.
 * The caller orders the ranges so the MAC input includes the tag when it
 * must. Returns MC_OK or a negative MC_E* code.
 */
int32_t mc_seal(mc_dir *d, uint8_t *buf, int32_t buf_len, const uint8_t *src, int32_t src_len,
                const uint8_t *params) {
  if (buf == NULL || params == NULL) return MC_EPARAM;
  int32_t p[PARAM_BYTES / 4];
  memcpy(p, params, PARAM_BYTES);
  uint32_t f;
  if (!check(d, p, buf_len, &f)) return MC_EPARAM;
  if (!in_range(p[P_PT], p[P_PT + 1], buf_len)) return MC_EPARAM;
  int32_t n = p[P_PT + 1];
  uint8_t *pt = buf + p[P_PT];
  if (n > 0) {
    if (src == NULL || src_len != n) return MC_EPARAM;
    uintptr_t o = (uintptr_t)pt, c = (uintptr_t)src, m = (uintptr_t)n;
    if (o != c && o < c + m && c < o + m) return MC_EPARAM;
  }
  if (f & F_AEAD) {
    int outl = 0;
    EVP_CIPHER_CTX *e = ctx_for(d, 1);
    if (e == NULL) return MC_EINTERNAL;
    int ok = EVP_EncryptInit_ex(e, NULL, NULL, NULL, params) == 1 &&
             (p[P_AAD + 1] == 0 ||
              EVP_EncryptUpdate(e, NULL, &outl, buf + p[P_AAD], p[P_AAD + 1]) == 1) &&
             (n == 0 || (EVP_EncryptUpdate(e, pt, &outl, src, n) == 1 && outl == n)) &&
             EVP_EncryptFinal_ex(e, buf + p[P_TAG], &outl) == 1 &&
             EVP_CIPHER_CTX_ctrl(e, EVP_CTRL_AEAD_GET_TAG, 16, buf + p[P_TAG]) == 1;
    if (!ok) {
      tl_owner[1] = NULL; /* re-keyed on the next use */
      ERR_clear_error(); /* the error queue is per thread and would only grow */
      return MC_EINTERNAL;
    }
  } else if (n > 0 && pt != src) {
    memcpy(pt, src, (size_t)n);
  }
  if (f & F_MAC) {
    uint8_t md[32];
    if (!hmac2(d, buf, p, md)) {
      ERR_clear_error();
      return MC_EINTERNAL;
    }
    memcpy(buf + p[P_MAC], md, (size_t)p[P_MAC + 1]);
    OPENSSL_cleanse(md, sizeof md);
  }
  return MC_OK;
}

/*
 * Opens: with F_MAC first verifies the trailer in constant time
 * (CRYPTO_memcmp) and returns MC_EMAC, having decrypted nothing, when it
 * differs; with F_AEAD then decrypts buf[pt] into out[0..n) against the tag
 * at buf[tag] and returns MC_EAEAD, with out wiped, when it does not verify.
 * out must not partially overlap buf[pt] (exactly in place is allowed).
 */
int32_t mc_open(mc_dir *d, const uint8_t *buf, int32_t buf_len, uint8_t *out, int32_t out_len,
                const uint8_t *params) {
  if (buf == NULL || params == NULL) return MC_EPARAM;
  int32_t p[PARAM_BYTES / 4];
  memcpy(p, params, PARAM_BYTES);
  uint32_t f;
  if (!check(d, p, buf_len, &f)) return MC_EPARAM;
  /* with F_AEAD the payload range was checked; otherwise it is not used */
  const uint8_t *ct = (f & F_AEAD) ? buf + p[P_PT] : buf;
  int32_t n = (f & F_AEAD) ? p[P_PT + 1] : 0;
  if (f & F_AEAD) {
    if (n > 0 && (out == NULL || out_len < n)) return MC_EPARAM;
    uintptr_t o = (uintptr_t)out, c = (uintptr_t)ct, m = (uintptr_t)n;
    if (o != c && o < c + m && c < o + m) return MC_EPARAM;
  }
  if (f & F_MAC) {
    uint8_t md[32];
    if (!hmac2(d, buf, p, md)) {
      ERR_clear_error();
      return MC_EINTERNAL;
    }
    int diff = CRYPTO_memcmp(md, buf + p[P_MAC], (size_t)p[P_MAC + 1]);
    OPENSSL_cleanse(md, sizeof md);
    if (diff != 0) return MC_EMAC;
  }
  if (f & F_AEAD) {
    int outl = 0;
    uint8_t tag[16];
    memcpy(tag, buf + p[P_TAG], 16); /* the ctrl takes a non-const pointer */
    EVP_CIPHER_CTX *x = ctx_for(d, 0);
    if (x == NULL) return MC_EINTERNAL; /* nothing written to out yet */
    int ok = EVP_DecryptInit_ex(x, NULL, NULL, NULL, params) == 1 &&
             EVP_CIPHER_CTX_ctrl(x, EVP_CTRL_AEAD_SET_TAG, 16, tag) == 1 &&
             (p[P_AAD + 1] == 0 ||
              EVP_DecryptUpdate(x, NULL, &outl, buf + p[P_AAD], p[P_AAD + 1]) == 1) &&
             (n == 0 || (EVP_DecryptUpdate(x, out, &outl, ct, n) == 1 && outl == n));
    if (!ok) {
      tl_owner[0] = NULL;
      if (n > 0) OPENSSL_cleanse(out, (size_t)n);
      ERR_clear_error();
      return MC_EINTERNAL;
    }
    if (EVP_DecryptFinal_ex(x, tag, &outl) != 1) {
      if (n > 0) OPENSSL_cleanse(out, (size_t)n); /* unauthenticated plaintext never leaves */
      ERR_clear_error();
      return MC_EAEAD;
    }
  }
  return MC_OK;
}
