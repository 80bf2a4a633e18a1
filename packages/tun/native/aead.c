/*
 * ChaCha20-Poly1305 (RFC 8439) for the Noise transport, through the OpenSSL that Node itself
 * links and exports, with the output written where the caller says.
 *
 * Why: node:crypto's Cipheriv allocates a new Buffer for every update(), final() and tag, and
 * the Noise library then concatenates them: three allocations and a copy per 64 KiB message
 * when sending, one allocation per message when receiving (it ignores the in-place destination
 * Noise hands it). Those ArrayBuffers were most of the daemon's memory growth under load and
 * the mark-compacts it drives (docs/benchmarks.md). Here a message is sealed into one buffer
 * the caller allocated and opened in place.
 *
 *   seal(key, nonce, ad, src, out)        src: Uint8Array or array of Uint8Array; writes
 *                                         ciphertext ‖ tag into out; returns bytes written
 *   open(key, nonce, ad, src, tag, out)   src: Uint8Array or array; out may be src itself
 *                                         (exactly, not partly overlapping); returns true when
 *                                         the tag verifies (out then holds the plaintext)
 *
 * The context is per addon instance (per Node environment) and only used synchronously inside
 * one call, so calls cannot interleave.
 */
#define NAPI_ERROR_CODE "ERR_MESHLAN_AEAD_NAPI"
#include "napi-util.h"

#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdint.h>
#include <string.h>

#define KEY_LEN 32
#define NONCE_LEN 12
#define TAG_LEN 16
/* Parts in one message: a yamux frame's header and body, or a few received chunks. */
#define MAX_PARTS 64

typedef struct {
  EVP_CIPHER_CTX *ctx;
} aead_state;

typedef struct {
  const uint8_t *data;
  size_t len;
} part;

static bool bytes_of(napi_env env, napi_value v, uint8_t **data, size_t *len) {
  bool is = false;
  if (napi_is_typedarray(env, v, &is) != napi_ok || !is) return false;
  napi_typedarray_type type;
  napi_value ab;
  size_t off;
  void *p = NULL;
  if (napi_get_typedarray_info(env, v, &type, len, &p, &ab, &off) != napi_ok) return false;
  if (type != napi_uint8_array) return false;
  *data = p;
  return true;
}

/* src as a list of parts; returns the part count, or -1 (an exception is pending). */
static int parts_of(napi_env env, napi_value v, part *parts, size_t *total) {
  uint8_t *d;
  size_t l;
  *total = 0;
  if (bytes_of(env, v, &d, &l)) {
    parts[0].data = d;
    parts[0].len = l;
    *total = l;
    return 1;
  }
  bool arr = false;
  uint32_t n = 0;
  if (napi_is_array(env, v, &arr) != napi_ok || !arr || napi_get_array_length(env, v, &n) != napi_ok) {
    napi_throw_type_error(env, "ERR_MESHLAN_AEAD_ARG", "src must be a Uint8Array or an array of them");
    return -1;
  }
  if (n > MAX_PARTS) {
    napi_throw_range_error(env, "ERR_MESHLAN_AEAD_ARG", "src has more than 64 parts: join them first");
    return -1;
  }
  /* Every element first: napi_get_element may run JS (a getter) that detaches or resizes a
   * buffer, so no pointer is taken until no more JS can run in this call. */
  napi_value elems[MAX_PARTS];
  for (uint32_t i = 0; i < n; i++) {
    if (napi_get_element(env, v, i, &elems[i]) != napi_ok) return -1;
  }
  for (uint32_t i = 0; i < n; i++) {
    if (!bytes_of(env, elems[i], &d, &l)) {
      napi_throw_type_error(env, "ERR_MESHLAN_AEAD_ARG", "every part of src must be a Uint8Array");
      return -1;
    }
    parts[i].data = d;
    parts[i].len = l;
    *total += l;
  }
  return (int)n;
}

static bool fixed(napi_env env, napi_value v, size_t want, uint8_t **data, const char *what) {
  size_t l = 0;
  if (!bytes_of(env, v, data, &l) || l != want) {
    char msg[96];
    snprintf(msg, sizeof msg, "%s must be a Uint8Array of %zu bytes", what, want);
    napi_throw_range_error(env, "ERR_MESHLAN_AEAD_ARG", msg);
    return false;
  }
  return true;
}

/* OpenSSL takes int lengths: a longer ad would be cut, authenticating only its start. */
static bool ad_fits(napi_env env, size_t adlen) {
  if (adlen <= INT32_MAX) return true;
  napi_throw_range_error(env, "ERR_MESHLAN_AEAD_ARG", "ad is longer than 2^31 - 1 bytes");
  return false;
}

/* The per-call start: key and nonce into the reused context, then the associated data. */
static bool begin(aead_state *st, const uint8_t *key, const uint8_t *nonce, const uint8_t *ad, size_t adlen, int enc) {
  int outl = 0;
  if (EVP_CipherInit_ex(st->ctx, NULL, NULL, key, nonce, enc) != 1) return false;
  if (adlen > 0 && EVP_CipherUpdate(st->ctx, NULL, &outl, ad, (int)adlen) != 1) return false;
  return true;
}

static bool update_all(aead_state *st, const part *parts, int n, uint8_t *out, size_t *written) {
  size_t off = 0;
  for (int i = 0; i < n; i++) {
    int outl = 0;
    if (parts[i].len == 0) continue;
    if (EVP_CipherUpdate(st->ctx, out + off, &outl, parts[i].data, (int)parts[i].len) != 1) return false;
    off += (size_t)outl;
  }
  *written = off;
  return true;
}

/* One call's arguments: (key, nonce, ad, src, out) for seal, (key, nonce, ad, src, tag, out) for open. */
typedef struct {
  aead_state *st;
  uint8_t *key, *nonce, *ad, *tag, *out;
  size_t adlen, outlen, total;
  part parts[MAX_PARTS];
  int n;
} call_args;

/* Reads and checks a call's arguments; false with an exception pending. */
static bool read_args(napi_env env, napi_callback_info info, bool with_tag, call_args *a) {
  size_t want = with_tag ? 6 : 5, argc = want;
  napi_value argv[6];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, (void **)&a->st) != napi_ok) {
    throw_napi(env);
    return false;
  }
  if (argc < want) {
    napi_throw_type_error(env, "ERR_MESHLAN_AEAD_ARG",
                          with_tag ? "open(key, nonce, ad, src, tag, out)" : "seal(key, nonce, ad, src, out)");
    return false;
  }
  /* src first: reading its elements may run JS; the other arguments' pointers come after. */
  a->n = parts_of(env, argv[3], a->parts, &a->total);
  if (a->n < 0) return false;
  a->tag = NULL;
  if (!fixed(env, argv[0], KEY_LEN, &a->key, "key") || !fixed(env, argv[1], NONCE_LEN, &a->nonce, "nonce") ||
      (with_tag && !fixed(env, argv[4], TAG_LEN, &a->tag, "tag")))
    return false;
  if (!bytes_of(env, argv[2], &a->ad, &a->adlen) || !bytes_of(env, argv[want - 1], &a->out, &a->outlen)) {
    napi_throw_type_error(env, "ERR_MESHLAN_AEAD_ARG", "ad and out must be Uint8Arrays");
    return false;
  }
  return ad_fits(env, a->adlen);
}

static napi_value seal(napi_env env, napi_callback_info info) {
  call_args a;
  if (!read_args(env, info, false, &a)) return NULL;
  if (a.total > INT32_MAX - TAG_LEN || a.outlen < a.total + TAG_LEN) {
    napi_throw_range_error(env, "ERR_MESHLAN_AEAD_ARG", "out must hold the plaintext plus a 16-byte tag");
    return NULL;
  }
  for (int i = 0; i < a.n; i++) {
    /* A part overlapping out would be read after it was overwritten. */
    if (a.parts[i].data < a.out + a.outlen && a.out < a.parts[i].data + a.parts[i].len) {
      napi_throw_range_error(env, "ERR_MESHLAN_AEAD_ARG", "seal's out must not overlap src");
      return NULL;
    }
  }
  size_t w = 0;
  int fin = 0;
  if (!begin(a.st, a.key, a.nonce, a.ad, a.adlen, 1) || !update_all(a.st, a.parts, a.n, a.out, &w) ||
      EVP_CipherFinal_ex(a.st->ctx, a.out + w, &fin) != 1 ||
      EVP_CIPHER_CTX_ctrl(a.st->ctx, EVP_CTRL_AEAD_GET_TAG, TAG_LEN, a.out + w + (size_t)fin) != 1) {
    napi_throw_error(env, "ERR_MESHLAN_AEAD_OPENSSL", "ChaCha20-Poly1305 seal failed in OpenSSL");
    return NULL;
  }
  napi_value r;
  CHECK(napi_create_uint32(env, (uint32_t)(w + (size_t)fin + TAG_LEN), &r));
  return r;
}

static napi_value open_(napi_env env, napi_callback_info info) {
  call_args a;
  if (!read_args(env, info, true, &a)) return NULL;
  if (a.total > INT32_MAX || a.outlen < a.total) {
    napi_throw_range_error(env, "ERR_MESHLAN_AEAD_ARG", "out must hold the whole plaintext");
    return NULL;
  }
  /* In place is allowed only as the exact same bytes: one part, out at its start. */
  size_t off = 0;
  for (int i = 0; i < a.n; i++) {
    const uint8_t *dst = a.out + off;
    bool overlaps = a.parts[i].data < a.out + a.outlen && a.out < a.parts[i].data + a.parts[i].len;
    if (overlaps && a.parts[i].data != dst) {
      napi_throw_range_error(env, "ERR_MESHLAN_AEAD_ARG", "open's out may be src itself but not overlap it partly");
      return NULL;
    }
    off += a.parts[i].len;
  }
  size_t w = 0;
  int fin = 0;
  /* The tag is taken before any plaintext is written: a tag inside out would be overwritten. */
  bool ok = begin(a.st, a.key, a.nonce, a.ad, a.adlen, 0) &&
            EVP_CIPHER_CTX_ctrl(a.st->ctx, EVP_CTRL_AEAD_SET_TAG, TAG_LEN, a.tag) == 1 &&
            update_all(a.st, a.parts, a.n, a.out, &w) && EVP_CipherFinal_ex(a.st->ctx, a.out + w, &fin) == 1;
  napi_value r;
  CHECK(napi_get_boolean(env, ok, &r));
  return r;
}

static void finalize_state(napi_env env, void *data, void *hint) {
  aead_state *st = data;
  if (st->ctx) EVP_CIPHER_CTX_free(st->ctx);
  free(st);
}

NAPI_MODULE_INIT(/* napi_env env, napi_value exports */) {
  aead_state *st = calloc(1, sizeof *st);
  if (!st) {
    napi_throw_error(env, "ERR_MESHLAN_AEAD_NOMEM", "out of memory loading the AEAD addon");
    return NULL;
  }
  st->ctx = EVP_CIPHER_CTX_new();
  if (!st->ctx || EVP_CipherInit_ex(st->ctx, EVP_chacha20_poly1305(), NULL, NULL, NULL, 1) != 1) {
    finalize_state(env, st, NULL);
    napi_throw_error(env, "ERR_MESHLAN_AEAD_OPENSSL", "this Node's OpenSSL has no ChaCha20-Poly1305");
    return NULL;
  }
  if (napi_set_instance_data(env, st, finalize_state, NULL) != napi_ok) {
    finalize_state(env, st, NULL);
    return throw_napi(env);
  }
  napi_property_descriptor props[] = {
      {"seal", NULL, seal, NULL, NULL, NULL, napi_enumerable, st},
      {"open", NULL, open_, NULL, NULL, NULL, napi_enumerable, st},
  };
  CHECK(napi_define_properties(env, exports, sizeof props / sizeof props[0], props));
  return exports;
}
