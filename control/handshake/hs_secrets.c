/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Cookie secrets (RFC 6347 §4.2.1) and session ticket keys (RFC 5077)
 * shared by several handshake engines, so that a client's second hello or
 * its ticket is good at whichever engine its datagram reaches: struct
 * sg_hs_secrets (include/stormgate/handshake.h) and the copy engines take
 * of it (hs_secrets.h).
 *
 * Threads and ownership: the object owns its keys, its mutex and a crypto
 * context of its own (HMAC key preparation for rotations and imports). One
 * owner thread (the gateway's) calls tick, import and export; these write
 * or read the keys under the mutex. Engines on other threads call
 * sg_hs_secrets_gen() (an atomic load) before each datagram and
 * sg_hs_secrets_copy() (the mutex) only when the generation moved. The
 * generation is stored with release order after the keys changed, under
 * the mutex, so a copy that sees the new generation also sees the keys.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include <stormgate/common.h>
#include <stormgate/handshake.h>

#include "hs_cookie.h"
#include "hs_crypto.h"
#include "hs_secrets.h"
#include "hs_ticket.h"

struct sg_hs_secrets {
	pthread_mutex_t lock; /* keys[] and tickets: the owner writes, engines copy */
	_Atomic uint64_t gen; /* moves after each change of what an export returns */
	struct sg_hs_cookie_keys cookies;
	struct sg_hs_ticket_keys tickets;
	struct sg_hs_crypto crypto; /* the owner's: key preparation */
	uint32_t cookie_rotate_ms;
	uint32_t ticket_rotate_s;
};

/* The owner, under the lock: the keys changed. */
static void bump(struct sg_hs_secrets *s)
{
	atomic_store_explicit(&s->gen, atomic_load_explicit(&s->gen, memory_order_relaxed) + 1,
	                      memory_order_release);
}

struct sg_hs_secrets *sg_hs_secrets_create(uint32_t cookie_rotate_ms, uint32_t ticket_rotate_s)
{
	struct sg_hs_secrets *s = calloc(1, sizeof(*s));
	int err = ENOMEM;

	if (s == NULL)
		goto fail;
	s->cookie_rotate_ms = cookie_rotate_ms ? cookie_rotate_ms : 30000; /* as sg_hs_config */
	s->ticket_rotate_s = ticket_rotate_s ? ticket_rotate_s : 43200;
	if (sg_hs_crypto_init(&s->crypto) < 0)
		goto fail_free;
	/* As an engine's own: created at time 0, so the first tick rotates both. */
	err = EIO;
	if (sg_hs_cookie_init(&s->crypto, &s->cookies, 0) < 0 ||
	    sg_hs_ticket_keys_init(&s->crypto, &s->tickets, 0) < 0)
		goto fail_crypto;
	if (pthread_mutex_init(&s->lock, NULL) != 0) {
		err = ENOMEM;
		goto fail_crypto;
	}
	atomic_init(&s->gen, 1); /* never an engine's "nothing copied yet" (0) */
	return s;

fail_crypto:
	sg_hs_crypto_fini(&s->crypto);
fail_free:
	sg_wipe(s, sizeof(*s));
	free(s);
fail:
	errno = err;
	return NULL;
}

void sg_hs_secrets_free(struct sg_hs_secrets *s)
{
	if (s == NULL)
		return;
	pthread_mutex_destroy(&s->lock);
	sg_hs_cookie_wipe(&s->cookies);
	sg_hs_ticket_keys_wipe(&s->tickets);
	sg_hs_crypto_fini(&s->crypto);
	sg_wipe(s, sizeof(*s));
	free(s);
}

unsigned sg_hs_secrets_tick(struct sg_hs_secrets *s, struct sg_hs_time now)
{
	unsigned done = 0;

	if (s == NULL)
		return 0;
	pthread_mutex_lock(&s->lock);
	/* A failed rotation (-EIO) keeps the current keys; the next tick tries again. */
	if (sg_hs_cookie_rotate(&s->crypto, &s->cookies, now.mono_ms, s->cookie_rotate_ms) > 0)
		done++;
	if (sg_hs_ticket_rotate(&s->crypto, &s->tickets, now.unix_s, s->ticket_rotate_s) > 0)
		done++;
	if (done)
		bump(s);
	pthread_mutex_unlock(&s->lock);
	return done;
}

uint64_t sg_hs_secrets_gen(const struct sg_hs_secrets *s)
{
	if (s == NULL)
		return 0;
	return atomic_load_explicit(&s->gen, memory_order_acquire);
}

uint64_t sg_hs_secrets_copy(const struct sg_hs_secrets *s, struct sg_hs_cookie_keys *ck,
                            struct sg_hs_ticket_keys *tk)
{
	/* The mutex is the object's; locking it changes no key (hence const outside). */
	pthread_mutex_t *lock = (pthread_mutex_t *)&s->lock;
	uint64_t gen;

	pthread_mutex_lock(lock);
	sg_wipe(ck, sizeof(*ck));
	sg_wipe(tk, sizeof(*tk));
	*ck = s->cookies;
	*tk = s->tickets;
	gen = atomic_load_explicit(&s->gen, memory_order_relaxed);
	pthread_mutex_unlock(lock);
	return gen;
}

int sg_hs_secrets_ticket_export(const struct sg_hs_secrets *s, uint8_t *buf, size_t cap)
{
	pthread_mutex_t *lock;
	int rc;

	if (s == NULL || buf == NULL)
		return -EINVAL;
	lock = (pthread_mutex_t *)&s->lock;
	pthread_mutex_lock(lock);
	rc = sg_hs_ticket_keys_export_raw(&s->tickets, buf, cap);
	pthread_mutex_unlock(lock);
	return rc;
}

int sg_hs_secrets_ticket_import(struct sg_hs_secrets *s, const uint8_t *buf, size_t len)
{
	int rc;

	if (s == NULL || buf == NULL)
		return -EINVAL;
	pthread_mutex_lock(&s->lock);
	rc = sg_hs_ticket_keys_import_raw(&s->crypto, &s->tickets, buf, len);
	if (rc == 0)
		bump(s);
	pthread_mutex_unlock(&s->lock);
	return rc;
}

int sg_hs_secrets_cookie_export(const struct sg_hs_secrets *s, uint8_t *buf, size_t cap)
{
	pthread_mutex_t *lock;
	int rc;

	if (s == NULL || buf == NULL)
		return -EINVAL;
	lock = (pthread_mutex_t *)&s->lock;
	pthread_mutex_lock(lock);
	rc = sg_hs_cookie_export(&s->cookies, buf, cap);
	pthread_mutex_unlock(lock);
	return rc;
}

int sg_hs_secrets_cookie_import(struct sg_hs_secrets *s, const uint8_t *buf, size_t len)
{
	int rc;

	if (s == NULL || buf == NULL)
		return -EINVAL;
	pthread_mutex_lock(&s->lock);
	rc = sg_hs_cookie_import(&s->crypto, &s->cookies, buf, len);
	if (rc == 0)
		bump(s);
	pthread_mutex_unlock(&s->lock);
	return rc;
}
