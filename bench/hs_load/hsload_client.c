/* SPDX-License-Identifier: Apache-2.0 */
/*
 * One load client of stormgate-hsload: a UDP socket and an OpenSSL DTLS 1.2
 * client on it, from a new socket to its handshake's end (completed, failed
 * or timed out), close_notify included. Main thread of the tool (every
 * client lives there, driven by hsload.c's poll loop). See hsload.h.
 */
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>

#include "hsload.h"

static socklen_t sa_len(const struct sockaddr_storage *ss)
{
	return ss->ss_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
}

/* The first failure's reason, for the summary; clears OpenSSL's error queue. */
static void note_error(struct sg_hsl_run *r, const char *what)
{
	unsigned long e = ERR_peek_error();
	const char *why = e ? ERR_reason_error_string(e) : NULL;

	if (r->first_error[0] == '\0')
		snprintf(r->first_error, sizeof(r->first_error), "%s%s%s", what, e ? ": " : "",
		         e ? (why ? why : "?") : "");
	ERR_clear_error();
}

/* Gives the device of the client's SSL to OpenSSL's PSK handshake. */
static unsigned int psk_cb(SSL *ssl, const char *hint, char *identity, unsigned int max_id,
                           unsigned char *psk, unsigned int max_psk)
{
	const struct sg_hsl_client *c = SSL_get_app_data(ssl);
	size_t id_len = strlen(c->cred->identity);

	(void)hint;
	if (id_len + 1 > max_id || c->cred->key_len > max_psk)
		return 0;
	memcpy(identity, c->cred->identity, id_len + 1);
	memcpy(psk, c->cred->key, c->cred->key_len);
	return c->cred->key_len;
}

/* The client's handshake ends: counted, close_notify when it had a session, freed. */
void sg_hsl_client_end(struct sg_hsl_run *r, struct sg_hsl_client *c, uint64_t now, int outcome)
{
	if (outcome == 0)
		sg_hsl_stats_ok(&r->st, now, now - c->start_ns);
	else
		sg_hsl_stats_fail(&r->st, now, outcome == -ETIMEDOUT);
	if (c->ssl != NULL && SSL_is_init_finished(c->ssl) && !r->o.no_close)
		SSL_shutdown(c->ssl); /* one close_notify; its answer is not awaited */
	SSL_free(c->ssl);
	ERR_clear_error();
	close(c->fd);
	c->ssl = NULL;
	c->fd = -1;
	c->phase = SG_HSL_IDLE;
	r->ended++;
}

/* A new socket and SSL for the client's next handshake; 0 or -errno (fatal). */
int sg_hsl_client_start(struct sg_hsl_run *r, struct sg_hsl_client *c, uint64_t now)
{
	const struct sockaddr_storage *src = &r->o.src[r->started % r->o.n_src];
	BIO *bio;

	c->fd = socket(src->ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (c->fd < 0)
		return -errno;
	if (bind(c->fd, (const struct sockaddr *)src, sa_len(src)) != 0 ||
	    connect(c->fd, (const struct sockaddr *)&r->o.server, sa_len(&r->o.server)) != 0) {
		int rc = -errno;

		close(c->fd);
		c->fd = -1;
		return rc;
	}
	c->ssl = SSL_new(r->ctx);
	bio = BIO_new_dgram(c->fd, BIO_NOCLOSE);
	if (c->ssl == NULL || bio == NULL) {
		SSL_free(c->ssl);
		BIO_free(bio);
		close(c->fd);
		c->ssl = NULL;
		c->fd = -1;
		return -ENOMEM;
	}
	BIO_ctrl(bio, BIO_CTRL_DGRAM_SET_CONNECTED, 0, r->peer);
	SSL_set_bio(c->ssl, bio, bio);
	SSL_set_connect_state(c->ssl);
	c->cred = &r->creds.v[r->next_cred++ % r->creds.n];
	SSL_set_app_data(c->ssl, c);
	SSL_set_psk_client_callback(c->ssl, psk_cb);
	c->start_ns = now;
	c->phase = SG_HSL_HANDSHAKE;
	r->started++;
	return 0;
}

/* After an SSL call that returned rc <= 0: keep waiting, or end as failed. */
static void want_or_fail(struct sg_hsl_run *r, struct sg_hsl_client *c, int rc, uint64_t now,
                         const char *what)
{
	int e = SSL_get_error(c->ssl, rc);

	if (e == SSL_ERROR_WANT_READ)
		return;
	note_error(r, what);
	sg_hsl_client_end(r, c, now, -EPROTO);
}

/* Moves the client on when its socket is readable (or has an error). */
void sg_hsl_client_step(struct sg_hsl_run *r, struct sg_hsl_client *c, uint64_t now)
{
	char buf[2048];
	int rc;

	if (c->phase == SG_HSL_HANDSHAKE) {
		rc = SSL_do_handshake(c->ssl);
		if (rc != 1) {
			want_or_fail(r, c, rc, now, "handshake");
			return;
		}
		if (!r->o.echo) {
			sg_hsl_client_end(r, c, now, 0);
			return;
		}
		c->sent_len = snprintf(c->sent, sizeof(c->sent), "hsload %" PRIu64, r->ended);
		if (SSL_write(c->ssl, c->sent, c->sent_len) != c->sent_len) {
			note_error(r, "echo write");
			sg_hsl_client_end(r, c, now, -EIO);
			return;
		}
		c->phase = SG_HSL_ECHO;
	}
	rc = SSL_read(c->ssl, buf, sizeof(buf));
	if (rc <= 0) {
		want_or_fail(r, c, rc, now, "echo read");
		return;
	}
	if (memmem(buf, (size_t)rc, c->sent, (size_t)c->sent_len) == NULL) {
		note_error(r, "echo: the reply does not hold the record sent");
		sg_hsl_client_end(r, c, now, -EBADMSG);
		return;
	}
	sg_hsl_client_end(r, c, now, 0);
}

/*
 * A client that saw no datagram: its retransmission timer (RFC 6347
 * §4.2.4.1, OpenSSL's) or its deadline. Returns how long it may sleep, in ms.
 */
int sg_hsl_client_timers(struct sg_hsl_run *r, struct sg_hsl_client *c, uint64_t now)
{
	uint64_t deadline = c->start_ns + (uint64_t)r->o.timeout_ms * SG_HSL_NS_PER_MS;
	struct timeval tv;
	int wait_ms;

	if (now >= deadline) {
		sg_hsl_client_end(r, c, now, -ETIMEDOUT);
		return 0;
	}
	wait_ms = (int)((deadline - now + SG_HSL_NS_PER_MS - 1) / SG_HSL_NS_PER_MS);
	if (DTLSv1_get_timeout(c->ssl, &tv) != 1)
		return wait_ms;
	if (tv.tv_sec == 0 && tv.tv_usec == 0) {
		if (DTLSv1_handle_timeout(c->ssl) < 0) {
			note_error(r, "retransmission");
			sg_hsl_client_end(r, c, now, -EPROTO);
			return 0;
		}
		return 0;
	}
	if (tv.tv_sec * 1000 + (tv.tv_usec + 999) / 1000 < wait_ms)
		wait_ms = (int)(tv.tv_sec * 1000 + (tv.tv_usec + 999) / 1000);
	return wait_ms;
}
