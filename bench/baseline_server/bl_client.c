/* SPDX-License-Identifier: Apache-2.0 */
/*
 * One client of the baseline: its SSL from the ClientHello whose cookie
 * verified, through the handshake (OpenSSL's state machine and
 * retransmission timer, RFC 6347 §4.2.4), its records both ways, to its end
 * (close_notify, idle or handshake timeout, a fatal error, a new handshake
 * from its address). The worker thread that owns it runs all of it. See
 * baseline.h.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/rand.h>

#include "baseline.h"

#define NS_PER_S  UINT64_C(1000000000)
#define NS_PER_US UINT64_C(1000)
#define TIMER_MIN (UINT64_C(1000000)) /* 1 ms: a timer never fires in a loop */

/* The client's next timer: OpenSSL's retransmission, the handshake's or the idle deadline. */
static void rearm(struct bl_worker *w, struct bl_client *c)
{
	const struct bl_opts *o = w->s->o;
	uint64_t d = UINT64_MAX, t;
	struct timeval tv;

	if (DTLSv1_get_timeout(c->ssl, &tv) == 1)
		d = w->now + (uint64_t)tv.tv_sec * NS_PER_S + (uint64_t)tv.tv_usec * NS_PER_US;
	if (c->state == BL_HANDSHAKE)
		t = c->start_ns + o->hs_timeout_s * NS_PER_S;
	else
		t = o->idle_timeout_s ? c->last_ns + o->idle_timeout_s * NS_PER_S : UINT64_MAX;
	d = t < d ? t : d;
	if (d < w->now + TIMER_MIN)
		d = w->now + TIMER_MIN;
	bl_table_set_deadline(&w->table, c, d);
}

struct bl_client *bl_client_new(struct bl_worker *w, const struct bl_addr *a, SSL *ssl)
{
	struct bl_client *c = calloc(1, sizeof(*c));

	if (c == NULL)
		return NULL;
	c->kind = BL_FD_CLIENT_BACKEND;
	c->state = BL_HANDSHAKE;
	c->addr = *a;
	c->ssl = ssl;
	c->be_fd = -1;
	c->start_ns = c->last_ns = w->now;
	c->handle = (uint64_t)w->index << 48 | ++w->serial;
	c->deadline = UINT64_MAX;
	if (RAND_bytes(c->token, sizeof(c->token)) != 1 || bl_table_add(&w->table, c) != 0) {
		free(c);
		return NULL;
	}
	SSL_set_app_data(ssl, c);
	atomic_fetch_add_explicit(&w->s->clients, 1, memory_order_relaxed);
	atomic_store_explicit(&w->ctr.clients, w->table.n, memory_order_relaxed);
	return c;
}

void bl_client_end(struct bl_worker *w, struct bl_client *c, enum bl_ctr why, bool notify)
{
	if (c->state == BL_DEAD)
		return;
	if (why < BL_CTR_MAX)
		bl_count(&w->ctr, why);
	if (notify && c->state == BL_ESTABLISHED)
		SSL_shutdown(c->ssl); /* one close_notify; the device need not answer */
	ERR_clear_error();
	bl_table_del(&w->table, c);
	c->state = BL_DEAD;
	c->next_dead = w->dead;
	w->dead = c;
	atomic_fetch_sub_explicit(&w->s->clients, 1, memory_order_relaxed);
	atomic_store_explicit(&w->ctr.clients, w->table.n, memory_order_relaxed);
}

void bl_client_reap(struct bl_worker *w)
{
	struct bl_client *c;

	while ((c = w->dead) != NULL) {
		w->dead = c->next_dead;
		SSL_free(c->ssl); /* OpenSSL wipes the session's keys */
		if (c->be_fd >= 0)
			close(c->be_fd);
		OPENSSL_cleanse(c, sizeof(*c));
		free(c);
	}
}

/* The handshake moved on; false when it ended the client. */
static bool handshake(struct bl_worker *w, struct bl_client *c)
{
	int rc = SSL_do_handshake(c->ssl), e;

	if (rc != 1) {
		e = SSL_get_error(c->ssl, rc);
		if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
			return true;
		bl_client_end(w, c, BL_HS_FAILED, false); /* OpenSSL sent its alert */
		return false;
	}
	c->state = BL_ESTABLISHED;
	bl_count(&w->ctr, BL_HS_COMPLETED);
	if (w->s->o->mode == BL_BACKEND_UDP && bl_backend_open(w, c) != 0) {
		bl_client_end(w, c, BL_DROP_NO_PORT, true);
		return false;
	}
	return true;
}

void bl_client_input(struct bl_worker *w, struct bl_client *c)
{
	int n, e;

	c->last_ns = w->now;
	if (c->state == BL_HANDSHAKE && !handshake(w, c))
		return;
	while (c->state == BL_ESTABLISHED) {
		n = SSL_read(c->ssl, w->buf, sizeof(w->buf));
		if (n > 0) {
			bl_backend_forward(w, c, w->buf, (size_t)n);
			continue;
		}
		e = SSL_get_error(c->ssl, n);
		if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
			break;
		/* RFC 5246 §7.2.1: a close_notify is answered with one */
		if (e == SSL_ERROR_ZERO_RETURN)
			bl_client_end(w, c, BL_CLOSED_NOTIFY, true);
		else
			bl_client_end(w, c, BL_CLOSED_ERROR, false);
		return;
	}
	OPENSSL_cleanse(w->buf, sizeof(w->buf));
	bl_bio_feed(SSL_get_rbio(c->ssl), &c->addr, NULL, 0);
	if (c->state != BL_DEAD)
		rearm(w, c);
}

void bl_client_timer(struct bl_worker *w, struct bl_client *c)
{
	const struct bl_opts *o = w->s->o;

	if (c->state == BL_HANDSHAKE && w->now >= c->start_ns + o->hs_timeout_s * NS_PER_S) {
		bl_count(&w->ctr, BL_HS_TIMEOUT);
		bl_client_end(w, c, BL_HS_FAILED, false);
		return;
	}
	if (c->state == BL_ESTABLISHED && o->idle_timeout_s &&
	    w->now >= c->last_ns + o->idle_timeout_s * NS_PER_S) {
		bl_client_end(w, c, BL_CLOSED_IDLE, true);
		return;
	}
	/* RFC 6347 §4.2.4.1: our last flight again, the timer doubled (OpenSSL's) */
	if (DTLSv1_handle_timeout(c->ssl) < 0) {
		bl_client_end(w, c, c->state == BL_HANDSHAKE ? BL_HS_FAILED : BL_CLOSED_ERROR,
		              false);
		return;
	}
	rearm(w, c);
}

void bl_client_send(struct bl_worker *w, struct bl_client *c, const uint8_t *d, size_t len)
{
	int n;

	if (c->state != BL_ESTABLISHED) {
		bl_count(&w->ctr, BL_DROP_BACKEND_UNKNOWN);
		return;
	}
	n = SSL_write(c->ssl, d, (int)len);
	if (n <= 0)
		bl_client_end(w, c, BL_CLOSED_ERROR, false);
}
