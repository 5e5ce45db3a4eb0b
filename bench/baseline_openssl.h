/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The OpenSSL baseline of the record benchmarks (docs/performance.md):
 * DTLS 1.2 application records opened one at a time with OpenSSL 3 EVP, as a
 * competent OpenSSL user writes it for millions of sessions: one cipher
 * context per thread with its cipher fixed once, re-keyed per record with the
 * record's session key and nonce (EVP_DecryptInit_ex() with a NULL cipher,
 * which keeps the provider context), the same header checks as the record
 * layer and a 64-bit replay window (OpenSSL's DTLS1_BITMAP). A library of its
 * own so that stormgate-bench and its test (tests/bench) run the same code.
 *
 * CBC-SHA256 records the same way: an AES-128-CBC context with its cipher
 * fixed once (no EVP padding), re-keyed per record with the session key and
 * the record's IV, and an HMAC-SHA256 EVP_MAC context with its digest fixed
 * once, re-keyed per record with the session's MAC key. Encrypt-then-MAC
 * (the SA's SG_SA_F_ETM) checks the MAC first (RFC 7366 §3); MAC-then-encrypt
 * decrypts, reads the padding and checks the MAC over the content it leaves:
 * the textbook check, not constant time (OpenSSL keeps its constant-time
 * one inside libssl), so it does less work than the record layer's.
 *
 * Threads: one opener per thread; no shared state.
 */
#ifndef STORMGATE_BENCH_BASELINE_OPENSSL_H
#define STORMGATE_BENCH_BASELINE_OPENSSL_H

#include <stddef.h>
#include <stdint.h>

#include <stormgate/record.h>

#ifdef __cplusplus
extern "C" {
#endif

struct sg_bench_ossl;

/*
 * An opener for records of aead: fetches the cipher and sets up its context
 * (for CCM also the 12-byte nonce and the suite's tag length, RFC 6655 §3).
 * Returns NULL with errno EINVAL (unknown AEAD), ENOTSUP (OpenSSL lacks the
 * cipher) or ENOMEM. The caller frees it with sg_bench_ossl_free().
 */
struct sg_bench_ossl *sg_bench_ossl_create(enum sg_aead aead);

/* Free an opener (NULL is fine); the context's key schedule is cleansed by OpenSSL. */
void sg_bench_ossl_free(struct sg_bench_ossl *o);

/*
 * Open one DTLS 1.2 record (no CID) of the session whose server SA is sa
 * (rx_key, rx_iv, epoch; CBC: its MAC line at the default window; its replay
 * state rx_top and replay[0] are read and, once the record authenticates,
 * updated): header checks, replay check
 * (RFC 6347 §4.1.2.6), nonce (RFC 5246 §6.2.3.3, RFC 7905 §2), AAD, decrypt
 * and verify into out (room for the fragment length). *pt_len is the
 * plaintext length. Returns 0, -EINVAL (malformed or wrong epoch), -EALREADY
 * (replayed or too old) or -EBADMSG (failed authentication; out then holds no
 * plaintext to use).
 */
int sg_bench_ossl_open(struct sg_bench_ossl *o, struct sg_rec_sa *sa, const uint8_t *rec,
                       size_t rec_len, uint8_t *out, uint32_t *pt_len);

#ifdef __cplusplus
}
#endif

#endif /* STORMGATE_BENCH_BASELINE_OPENSSL_H */
