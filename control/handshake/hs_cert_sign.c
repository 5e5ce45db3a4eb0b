/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ECDSA signatures of our ServerKeyExchange (hs_cert.h: hs_cert_sign) and
 * the pool of precomputed nonces that makes them cheap in a storm: the
 * owner's tick (sg_hs_certs_refill) computes k, k^-1 and r = x(kG) ahead,
 * the costly part of a signature; an engine takes one nonce out of the
 * pool under its mutex (each used exactly once, then BN_clear_free()d) and
 * finishes the signature in ~1 us. Pool empty: a nonce is computed then.
 *
 * Threads: refill on one thread at a time (the owner's); sign on any engine
 * thread, concurrently; the pool is the set's (its nonces belong to its
 * key), under the set's pool_lock.
 *
 * OpenSSL 3.0 deprecates EC_KEY and the ECDSA_* functions, but only
 * ECDSA_sign_setup() / ECDSA_do_sign_ex() sign with a nonce computed
 * beforehand (EVP has no such parameter): the warning is silenced in this
 * file only, for that reason.
 */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/ecdsa.h>
#include <openssl/err.h>
#include <openssl/sha.h>

#include <stormgate/handshake.h>

#include "hs_cert.h"
#include "hs_cert_set.h"

static void nonce_free(struct hs_cert_nonce *n)
{
	BN_clear_free(n->kinv);
	BN_clear_free(n->r);
	n->kinv = NULL;
	n->r = NULL;
}

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations" /* see the head comment */

unsigned sg_hs_certs_refill(struct sg_hs_certs *c, unsigned max)
{
	struct hs_cert_set *s = (struct hs_cert_set *)sg_hs_certs_acquire(c);
	BN_CTX *bn = BN_CTX_secure_new();
	unsigned added = 0;

	if (s == NULL || bn == NULL)
		goto out;
	while (added < max) {
		struct hs_cert_nonce n = { NULL, NULL };
		bool full;

		pthread_mutex_lock(&s->pool_lock);
		full = s->pool_ready >= s->pool_size;
		pthread_mutex_unlock(&s->pool_lock);
		if (full)
			break;
		/* k random in [1, n), k^-1 and r = x(kG) mod n: the costly half of a signature. */
		if (ECDSA_sign_setup(s->eckey, bn, &n.kinv, &n.r) != 1) {
			nonce_free(&n);
			ERR_clear_error();
			break;
		}
		pthread_mutex_lock(&s->pool_lock);
		full = s->pool_ready >= s->pool_size;
		if (!full)
			s->pool[s->pool_ready++] = n;
		pthread_mutex_unlock(&s->pool_lock);
		if (full) {
			nonce_free(&n);
			break;
		}
		added++;
	}
out:
	BN_CTX_free(bn);
	sg_hs_certs_release(s);
	return added;
}

/* One nonce out of the pool (each used once); false when it is empty. */
static bool pool_take(struct hs_cert_set *s, struct hs_cert_nonce *n)
{
	bool got;

	pthread_mutex_lock(&s->pool_lock);
	got = s->pool_ready > 0;
	if (got) {
		*n = s->pool[--s->pool_ready];
		s->pool[s->pool_ready].kinv = NULL;
		s->pool[s->pool_ready].r = NULL;
	}
	pthread_mutex_unlock(&s->pool_lock);
	return got;
}

int hs_cert_sign(struct sg_hs_certs *c, const struct hs_cert_set *s, const uint8_t *digest,
                 size_t digest_len, uint8_t *sig, size_t *sig_len, bool *precomputed)
{
	struct hs_cert_set *m = (struct hs_cert_set *)s; /* its pool only */
	ECDSA_SIG *es = NULL;
	struct hs_cert_nonce n;
	uint8_t *p = sig;
	int l;

	(void)c; /* the pool is the set's: its nonces belong to its key's curve */
	*precomputed = false;
	if (s == NULL || (digest_len != SHA256_DIGEST_LENGTH && digest_len != SHA384_DIGEST_LENGTH))
		return -EINVAL;
	if (pool_take(m, &n)) {
		es = ECDSA_do_sign_ex(digest, (int)digest_len, n.kinv, n.r, s->eckey);
		nonce_free(&n);
		*precomputed = es != NULL;
	}
	/* Pool empty, or s came out 0 with that nonce: a fresh one (never the same twice). */
	if (es == NULL)
		es = ECDSA_do_sign_ex(digest, (int)digest_len, NULL, NULL, s->eckey);
	if (es == NULL) {
		ERR_clear_error();
		return -EIO;
	}
	l = i2d_ECDSA_SIG(es, NULL);
	if (l <= 0 || l > HS_CERT_SIG_MAX) {
		ECDSA_SIG_free(es);
		return -EIO;
	}
	i2d_ECDSA_SIG(es, &p);
	ECDSA_SIG_free(es);
	*sig_len = (size_t)l;
	return 0;
}

#pragma GCC diagnostic pop
