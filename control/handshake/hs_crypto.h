/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Handshake crypto (internal to sg_handshake): HMAC and the TLS 1.2 PRF
 * (RFC 5246 §5) on Intel IPsec-MB, the running transcript hash on OpenSSL
 * libcrypto, randomness from RAND_bytes. ECDH is hs_ecdh.[ch].
 *
 * Why IPsec-MB's SSE manager: the PRF is a chain of dependent HMACs, so
 * each job is submitted and flushed on its own; the SSE manager runs them
 * single-buffer with SHA-NI (about 160 ns for a 3-block HMAC here), where
 * the AVX-512 manager's 16-lane code pays for the empty lanes (~850 ns).
 *
 * Why OpenSSL's low-level SHA-256/384 (deprecated in 3.0, still shipped):
 * IPsec-MB has no incremental hash and its one-block function (the HMAC
 * key's ipad/opad states) is plain SSE, ~190 ns, where OpenSSL's SHA-NI
 * block function gives the same midstate, byte for byte, in ~50 ns; EVP
 * exposes no midstate and costs a heap context per transcript. The
 * deprecated calls are confined to hs_crypto.c.
 *
 * One struct sg_hs_crypto per engine; the control thread only.
 */
#ifndef STORMGATE_CONTROL_HS_CRYPTO_H
#define STORMGATE_CONTROL_HS_CRYPTO_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/sha.h>

#ifdef __cplusplus
extern "C" {
#endif

struct IMB_MGR;

/* The PRF / transcript hash of a suite (RFC 5246 §5; RFC 5487 §3 for _SHA384). */
enum sg_hs_hash { SG_HS_SHA256 = 0, SG_HS_SHA384 = 1, SG_HS_HASH_COUNT };

#define SG_HS_HASH_MAX_LEN 48

static inline unsigned sg_hs_hash_len(enum sg_hs_hash h)
{
	return h == SG_HS_SHA384 ? 48 : 32;
}

struct sg_hs_crypto {
	struct IMB_MGR *mgr;
	void *mgr_mem; /* mgr lives here (wiped on fini) */
	size_t mgr_size;
	uint16_t rnd_left; /* unread bytes at the end of rnd */
	uint8_t rnd[512];  /* DRBG output served in pieces */
};

/* Set up (IPsec-MB SSE manager). 0 or -ENOMEM / -ENOTSUP. */
int sg_hs_crypto_init(struct sg_hs_crypto *c);

/* Free everything (NULL members allowed, so a failed init can be undone). */
void sg_hs_crypto_fini(struct sg_hs_crypto *c);

/* ---- HMAC and PRF ---------------------------------------------------------- */

/* A key prepared for HMAC: the hash states after key^ipad and key^opad (RFC 2104). */
struct sg_hs_hmac_key {
	uint8_t ipad[64] __attribute__((aligned(16)));
	uint8_t opad[64] __attribute__((aligned(16)));
	uint8_t hash; /* enum sg_hs_hash */
};

/* Prepare key (any length; longer than a block is hashed first, RFC 2104 §2). */
int sg_hs_hmac_key_set(struct sg_hs_crypto *c, enum sg_hs_hash hash, const uint8_t *key,
                       size_t key_len, struct sg_hs_hmac_key *k);

/*
 * HMAC(k, msg) into out (sg_hs_hash_len bytes). 0, -EINVAL for an empty msg
 * (IPsec-MB refuses those; the PRF never hashes one) or -EIO.
 */
int sg_hs_hmac(struct sg_hs_crypto *c, const struct sg_hs_hmac_key *k, const uint8_t *msg,
               size_t len, uint8_t *out);

/*
 * TLS 1.2 PRF (RFC 5246 §5): PRF(secret, label, seed_a ‖ seed_b) with
 * P_SHA256 or P_SHA384, out_len bytes (at most 128). The secret's HMAC
 * key may be given prepared (k) to share it between calls; otherwise pass
 * k = NULL and the secret. Label + seeds at most 128 bytes. 0, -EINVAL, -EIO.
 */
int sg_hs_prf(struct sg_hs_crypto *c, enum sg_hs_hash hash, const struct sg_hs_hmac_key *k,
              const uint8_t *secret, size_t secret_len, const char *label, const uint8_t *seed_a,
              size_t len_a, const uint8_t *seed_b, size_t len_b, uint8_t *out, size_t out_len);

/* ---- transcript hash (RFC 5246 §7.4.9, RFC 6347 §4.2.6) ------------------- */

/*
 * The running hash of the handshake messages: OpenSSL's SHA-256 / SHA-384
 * state kept inline (216 bytes; no heap, copied by value to read a hash in
 * the middle of the handshake). Only hs_crypto.c calls the SHA functions.
 */
struct sg_hs_transcript {
	union {
		SHA256_CTX s256;
		SHA512_CTX s512;
	} u;
	uint8_t hash; /* enum sg_hs_hash */
};

void sg_hs_transcript_start(struct sg_hs_transcript *t, enum sg_hs_hash hash);
void sg_hs_transcript_add(struct sg_hs_transcript *t, const uint8_t *p, size_t len);

/*
 * Hash one handshake message as RFC 6347 §4.2.6 wants it: the 12-byte
 * header of the unfragmented message (fragment_offset 0, fragment_length
 * = length), then the body.
 */
void sg_hs_transcript_add_msg(struct sg_hs_transcript *t, uint8_t type, uint16_t seq,
                              const uint8_t *body, size_t len);

/* The hash of everything added so far (sg_hs_hash_len bytes), without ending the transcript. */
void sg_hs_transcript_peek(const struct sg_hs_transcript *t, uint8_t *out);

/* ---- randomness -------------------------------------------------------------- */

/* n bytes from OpenSSL's DRBG. 0 or -EIO. */
int sg_hs_random(uint8_t *p, size_t n);

/*
 * n bytes (at most 256) from OpenSSL's DRBG, drawn 512 at a time: every
 * RAND_bytes() call in OpenSSL 3.0 makes a getpid() system call (its fork
 * check), which costs more than a whole PRF here. Served bytes are wiped
 * from the buffer. As with any userspace buffer, a process that forks must
 * not use the parent's engine. 0, -EINVAL or -EIO.
 */
int sg_hs_crypto_random(struct sg_hs_crypto *c, uint8_t *p, size_t n);

#ifdef __cplusplus
}
#endif

#endif /* STORMGATE_CONTROL_HS_CRYPTO_H */
