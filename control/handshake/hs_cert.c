/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Certificates and raw public keys of the ECDHE-ECDSA suites (hs_cert.h):
 * struct sg_hs_certs, the object that holds the current loaded set
 * (hs_cert_set.c loads it) and swaps it on reload, and what a set offers.
 * Signing is hs_cert_sign.c; peers' keys, chains and the cache are
 * hs_cert_verify.c. A leaf of the handshake engine: OpenSSL libcrypto only.
 *
 * Threads and ownership: the owner thread (the gateway's) creates, reloads
 * and frees struct sg_hs_certs; engine threads acquire the current set and
 * release it concurrently. A set is reference counted: the object holds one
 * reference to the current set, each handshake that uses it one more
 * (sg_hs_certs_acquire() under the object's mutex, so a reload cannot free
 * it between the load and the increment); the last release frees it, on
 * whichever thread that is, so a handshake in flight keeps what it started
 * with.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <stormgate/handshake.h>

#include "hs_cert.h"
#include "hs_cert_set.h"

static void message(char *err, size_t err_len, const char *text)
{
	if (err != NULL && err_len > 0)
		snprintf(err, err_len, "%s", text);
}

struct sg_hs_certs *sg_hs_certs_create(const struct sg_hs_certs_conf *conf, char *err,
                                       size_t err_len)
{
	struct sg_hs_certs *c = calloc(1, sizeof(*c));

	if (c == NULL) {
		message(err, err_len, "out of memory");
		errno = ENOMEM;
		return NULL;
	}
	c->cur = hs_cert_set_load(conf, err, err_len);
	if (c->cur == NULL) {
		int e = errno;

		free(c);
		errno = e;
		return NULL;
	}
	pthread_mutex_init(&c->lock, NULL);
	c->generation = 1;
	return c;
}

int sg_hs_certs_reload(struct sg_hs_certs *c, const struct sg_hs_certs_conf *conf, char *err,
                       size_t err_len)
{
	struct hs_cert_set *s, *old;

	if (c == NULL) {
		message(err, err_len, "no certificate object");
		return -EINVAL;
	}
	s = hs_cert_set_load(conf, err, err_len);
	if (s == NULL)
		return -errno;
	pthread_mutex_lock(&c->lock);
	old = c->cur;
	c->cur = s;
	c->generation++;
	pthread_mutex_unlock(&c->lock);
	/* Handshakes that hold the old set keep it until their release. */
	sg_hs_certs_release(old);
	return 0;
}

const struct hs_cert_set *sg_hs_certs_acquire(struct sg_hs_certs *c)
{
	struct hs_cert_set *s;

	if (c == NULL)
		return NULL;
	pthread_mutex_lock(&c->lock);
	s = c->cur;
	atomic_fetch_add_explicit(&s->refs, 1, memory_order_relaxed);
	pthread_mutex_unlock(&c->lock);
	return s;
}

void sg_hs_certs_release(const struct hs_cert_set *s)
{
	struct hs_cert_set *m = (struct hs_cert_set *)s; /* the count is not the set's content */

	if (m == NULL)
		return;
	/* acq_rel: the last holder sees every other holder's use before freeing. */
	if (atomic_fetch_sub_explicit(&m->refs, 1, memory_order_acq_rel) == 1)
		hs_cert_set_free(m);
}

void sg_hs_certs_info_get(const struct sg_hs_certs *c, struct sg_hs_certs_info *info)
{
	struct sg_hs_certs *m = (struct sg_hs_certs *)c; /* the lock is not the object's content */
	struct hs_cert_set *s;

	memset(info, 0, sizeof(*info));
	if (c == NULL)
		return;
	pthread_mutex_lock(&m->lock);
	s = m->cur;
	info->generation = m->generation;
	info->not_after = s->not_after;
	info->curve = s->curve;
	memcpy(info->subject, s->subject, sizeof(info->subject));
	pthread_mutex_lock(&s->pool_lock);
	info->pool_ready = s->pool_ready;
	info->pool_size = s->pool_size;
	pthread_mutex_unlock(&s->pool_lock);
	pthread_mutex_lock(&s->cache_lock);
	info->cache_entries = s->cache_entries;
	pthread_mutex_unlock(&s->cache_lock);
	pthread_mutex_unlock(&m->lock);
	info->cache_hits = atomic_load_explicit(&m->cache_hits, memory_order_relaxed);
	info->cache_misses = atomic_load_explicit(&m->cache_misses, memory_order_relaxed);
}

void sg_hs_certs_free(struct sg_hs_certs *c)
{
	if (c == NULL)
		return;
	sg_hs_certs_release(c->cur);
	pthread_mutex_destroy(&c->lock);
	free(c);
}

/* What a set is (hs_cert.h). */

bool hs_cert_has_x509(const struct hs_cert_set *s)
{
	return s != NULL && s->x509_body != NULL;
}

bool hs_cert_has_rpk(const struct hs_cert_set *s)
{
	return s != NULL && s->rpk_body != NULL;
}

bool hs_cert_accepts_x509(const struct hs_cert_set *s)
{
	return s != NULL && s->store != NULL;
}

bool hs_cert_accepts_rpk(const struct hs_cert_set *s)
{
	return s != NULL && s->rpk;
}

uint8_t hs_cert_client_auth(const struct hs_cert_set *s)
{
	return s != NULL ? s->client_auth : SG_HS_CLIENT_AUTH_NONE;
}

bool hs_cert_require_policy(const struct hs_cert_set *s)
{
	return s != NULL && s->require_policy;
}

uint8_t hs_cert_identity_from(const struct hs_cert_set *s)
{
	return s != NULL ? s->identity_from : SG_HS_CERT_ID_CN;
}

const uint8_t *hs_cert_body(const struct hs_cert_set *s, bool rpk, size_t *len)
{
	const uint8_t *b = s == NULL ? NULL : rpk ? s->rpk_body : s->x509_body;

	*len = b == NULL ? 0 : rpk ? s->rpk_len : s->x509_len;
	return b;
}

uint16_t hs_cert_curve(const struct hs_cert_set *s)
{
	return s != NULL ? s->curve : 0;
}

uint16_t hs_cert_scheme(const struct hs_cert_set *s)
{
	return s != NULL ? s->scheme : 0;
}
