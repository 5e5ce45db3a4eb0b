/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ECDHE of the handshake engine (internal to sg_handshake): ephemeral key
 * pairs and shared secrets for X25519 (RFC 7748) and secp256r1 (RFC 8422
 * §5.10), and the reuse of one key pair per group for a short window
 * (struct sg_hs_config.ecdhe_reuse_ms, sg_hs_ecdhe_reuse_set()).
 *
 * Which library does what was measured (bench/bench_ecdh.cc; numbers in
 * docs/handshake.md, "X25519: measured choice"):
 *   X25519 keygen  Nettle's curve25519_mul_g(): a fixed-base multiplication
 *                  from a precomputed table, the fastest packaged one here
 *                  (libsodium 1.0.18's scalarmult_base runs its variable-base
 *                  ladder on AVX machines; OpenSSL has no fixed-base X25519)
 *   X25519 derive  libsodium's crypto_scalarmult_curve25519(): from the 32
 *                  raw private bytes, no heap object; it refuses an all-zero
 *                  result (RFC 7748 §6.1). OpenSSL's EVP derive is as fast but
 *                  needs an EVP_PKEY per handshake (~460 heap bytes) or a
 *                  rebuild of one
 *   P-256          OpenSSL EVP (the scalar kept, the key rebuilt at derive)
 * So a handshake's X25519 key is 32 private bytes in its slot, nothing on
 * the heap.
 *
 * A leaf: it calls hs_crypto (the DRBG buffer) only. One struct sg_hs_ecdh
 * per engine, used by the engine's thread only; it owns the OpenSSL P-256
 * contexts and the key pairs held for reuse (wiped when their window ends,
 * when reuse is turned off, and on fini). A struct sg_hs_ecdh_key is its
 * holder's (a slot's): the holder wipes it with sg_hs_ecdh_clear().
 */
#ifndef STORMGATE_CONTROL_HS_ECDH_H
#define STORMGATE_CONTROL_HS_ECDH_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/types.h>

#include "hs_crypto.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ECDHE groups we negotiate (RFC 8422 §5.1.1), in our preference order. */
enum sg_hs_group { SG_HS_GROUP_X25519 = 0, SG_HS_GROUP_P256 = 1, SG_HS_GROUP_COUNT };

#define SG_HS_ECDH_PUB_MAX    65    /* P-256 uncompressed point (RFC 8422 §5.4) */
#define SG_HS_ECDH_PRIV_LEN   32    /* X25519 private key (RFC 7748 §5), P-256 scalar */
#define SG_HS_ECDH_SECRET_LEN 32    /* X25519 output, P-256 x-coordinate (RFC 8422 §5.10) */
#define SG_HS_ECDH_REUSE_MAX  60000 /* ms: the longest reuse window accepted */

/*
 * An ephemeral key pair: the private key and our public share. X25519: the
 * 32 raw bytes (clamped at each use, RFC 7748 §5); P-256: the scalar in
 * native byte order (OSSL_PARAM BN), the key object rebuilt at derive
 * because OpenSSL's weighs over 2 KB. 99 bytes, no heap.
 */
struct sg_hs_ecdh_key {
	uint8_t priv[SG_HS_ECDH_PRIV_LEN]; /* secret */
	uint8_t pub[SG_HS_ECDH_PUB_MAX];
	uint8_t pub_len;
	uint8_t group; /* enum sg_hs_group */
};

struct sg_hs_ecdh {
	EVP_PKEY_CTX *p256_keygen;
	EVP_PKEY_CTX *p256_import; /* rebuilds a P-256 private key from its scalar */
	EVP_PKEY *p256_peer;       /* reused: public key replaced per derive */
	uint32_t reuse_ms;         /* 0: a fresh key pair per handshake */
	/* The pair each group hands out until held_until (mono ms); 0: none held. */
	uint64_t held_until[SG_HS_GROUP_COUNT];
	struct sg_hs_ecdh_key held[SG_HS_GROUP_COUNT];
};

/*
 * Set up: libsodium (sodium_init(), thread-safe, once per process), the
 * P-256 contexts, the reuse window (ms, at most SG_HS_ECDH_REUSE_MAX).
 * 0, -EINVAL or -ENOMEM (nothing left allocated).
 */
int sg_hs_ecdh_init(struct sg_hs_ecdh *x, uint32_t reuse_ms);

/* Free the contexts and wipe the held pairs (idempotent; after a failed init too). */
void sg_hs_ecdh_fini(struct sg_hs_ecdh *x);

/*
 * A key pair for group into k, at now_ms (CLOCK_MONOTONIC). Without reuse a
 * fresh one each call (random bytes from c's DRBG buffer). With a window,
 * the pair held for the group while now_ms is within its window (a copy:
 * the holder of k wipes its copy, the held pair stays for the next), else a
 * fresh pair held from now_ms for reuse_ms. 0, -ENOMEM or -EIO (k wiped).
 */
int sg_hs_ecdh_keygen(struct sg_hs_ecdh *x, struct sg_hs_crypto *c, enum sg_hs_group group,
                      uint64_t now_ms, struct sg_hs_ecdh_key *k);

/*
 * Shared secret of k with the peer's public value: X25519 32 bytes (RFC
 * 7748 §5; the most significant bit of the u-coordinate ignored, an
 * all-zero result refused, §6.1), P-256 an uncompressed point that must lie
 * on the curve (RFC 8422 §5.11). 0 and 32 secret bytes, or -EINVAL for a
 * bad public value, -EIO (the 32 bytes of secret wiped on either).
 */
int sg_hs_ecdh_derive(struct sg_hs_ecdh *x, const struct sg_hs_ecdh_key *k, const uint8_t *peer,
                      size_t peer_len, uint8_t secret[SG_HS_ECDH_SECRET_LEN]);

/*
 * A key pair from a known private key (known-answer tests): X25519 32 raw
 * bytes (RFC 7748 §5), P-256 a big-endian scalar of at most 32 bytes after
 * leading zeros. 0, -EINVAL or -EIO.
 */
int sg_hs_ecdh_key_from_private(struct sg_hs_ecdh *x, enum sg_hs_group group, const uint8_t *priv,
                                size_t len, struct sg_hs_ecdh_key *k);

/* Wipe a key pair (idempotent). */
void sg_hs_ecdh_clear(struct sg_hs_ecdh_key *k);

/*
 * A new reuse window (ms, 0: off): when it differs from the current one the
 * held pairs are wiped, so the next handshake of each group takes a fresh
 * pair. 0 or -EINVAL (over SG_HS_ECDH_REUSE_MAX; nothing changed).
 */
int sg_hs_ecdh_reuse_set(struct sg_hs_ecdh *x, uint32_t ms);

/*
 * Wipe the held pairs whose window ended by now_ms, so a key lives no
 * longer than its window even when no handshake follows (the engine's
 * timer tick). Returns how many were wiped.
 */
unsigned sg_hs_ecdh_expire(struct sg_hs_ecdh *x, uint64_t now_ms);

/* When the first held pair's window ends (mono ms), UINT64_MAX when none is held. */
uint64_t sg_hs_ecdh_next_expiry(const struct sg_hs_ecdh *x);

#ifdef __cplusplus
}
#endif

#endif /* STORMGATE_CONTROL_HS_ECDH_H */
