/* SPDX-License-Identifier: Apache-2.0 */
/*
 * OpenSSL's DTLS client over the harness's socketpair. See hs_ossl.h.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include <cmocka.h>
#include <openssl/err.h>

#include "dgram_bio.h"
#include "hs_ossl.h"

struct ho_psk ho_psk_of(const struct h_psk *p)
{
	return (struct ho_psk){ .identity = p->identity, .key = p->key, .key_len = p->key_len };
}

unsigned int ho_psk_cb(SSL *ssl, const char *hint, char *identity, unsigned int max_id,
                       unsigned char *psk, unsigned int max_psk)
{
	struct ho_psk *cc = SSL_get_app_data(ssl);

	if (hint)
		snprintf(cc->hint_seen, sizeof(cc->hint_seen), "%s", hint);
	if (strlen(cc->identity) + 1 > max_id || cc->key_len > max_psk)
		return 0;
	strcpy(identity, cc->identity);
	memcpy(psk, cc->key, cc->key_len);
	return cc->key_len;
}

/* The fd of the socketpair end the BIO was made over. */
static int pair_fd(BIO *b)
{
	return (int)(intptr_t)BIO_get_data(b);
}

static int pair_write(BIO *b, const char *buf, int len)
{
	ssize_t n = send(pair_fd(b), buf, (size_t)len, 0);

	BIO_clear_retry_flags(b);
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
		BIO_set_retry_write(b);
	return (int)n;
}

static int pair_read(BIO *b, char *buf, int len)
{
	ssize_t n = recv(pair_fd(b), buf, (size_t)len, MSG_DONTWAIT);

	BIO_clear_retry_flags(b);
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
		BIO_set_retry_read(b);
	return (int)n;
}

BIO *ho_pair_bio(int fd)
{
	static BIO_METHOD *m;
	BIO *b = sg_bench_dgram_bio_new(&m, "sg-dgram-pair", pair_write, pair_read,
	                                (void *)(intptr_t)fd);

	assert_non_null(b);
	return b;
}

SSL *ho_client_new(struct harness *h, const struct ho_opts *o, struct ho_psk *cc)
{
	SSL_CTX *ctx = SSL_CTX_new(DTLS_client_method());
	SSL *ssl;
	BIO *bio;

	assert_non_null(ctx);
	assert_int_equal(SSL_CTX_set_min_proto_version(ctx, DTLS1_2_VERSION), 1);
	assert_int_equal(SSL_CTX_set_max_proto_version(ctx, DTLS1_2_VERSION), 1);
	assert_int_equal(SSL_CTX_set_cipher_list(ctx, o->cipher), 1);
	if (o->no_ems)
		SSL_CTX_set_options(ctx, SSL_OP_NO_EXTENDED_MASTER_SECRET);
	if (o->no_etm)
		SSL_CTX_set_options(ctx, SSL_OP_NO_ENCRYPT_THEN_MAC);
	if (o->groups)
		assert_int_equal(SSL_CTX_set1_groups_list(ctx, o->groups), 1);
	SSL_CTX_set_options(ctx, SSL_OP_NO_QUERY_MTU);
	ssl = SSL_new(ctx);
	SSL_CTX_free(ctx); /* the SSL holds a reference */
	assert_non_null(ssl);
	SSL_set_app_data(ssl, cc);
	SSL_set_psk_client_callback(ssl, ho_psk_cb);
	bio = ho_pair_bio(h->fd[0]);
	SSL_set_bio(ssl, bio, bio);
	DTLS_set_link_mtu(ssl, 1400);
	if (o->sess)
		assert_int_equal(SSL_set_session(ssl, o->sess), 1);
	if (o->mfl)
		assert_int_equal(SSL_set_tlsext_max_fragment_length(ssl, o->mfl), 1);
	SSL_set_connect_state(ssl);
	return ssl;
}

int ho_step(SSL *ssl)
{
	int rc = SSL_do_handshake(ssl);

	if (rc == 1)
		return 1;
	if (SSL_get_error(ssl, rc) != SSL_ERROR_WANT_READ) {
		ERR_print_errors_fp(stderr);
		fail_msg("OpenSSL client: handshake error %d", SSL_get_error(ssl, rc));
	}
	return 0;
}

static long ssl_send(void *ssl, const void *pt, size_t len)
{
	return SSL_write(ssl, pt, (int)len);
}

static long ssl_recv(void *ssl, void *buf, size_t cap)
{
	return SSL_read(ssl, buf, (int)cap);
}

void ho_exchange_data(struct harness *h, SSL *ssl)
{
	const struct h_client c = { ssl, ssl_send, ssl_recv };

	h_data_both_ways(h, &c, "uplink: CoAP POST /rd", "downlink: 2.01 Created");
}
