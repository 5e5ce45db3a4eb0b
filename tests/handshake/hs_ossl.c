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

#include "hs_ossl.h"

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

static int pair_write(BIO *b, const char *buf, int len)
{
	ssize_t n = send(BIO_get_fd(b, NULL), buf, (size_t)len, 0);

	BIO_clear_retry_flags(b);
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
		BIO_set_retry_write(b);
	return (int)n;
}

static int pair_read(BIO *b, char *buf, int len)
{
	ssize_t n = recv(BIO_get_fd(b, NULL), buf, (size_t)len, MSG_DONTWAIT);

	BIO_clear_retry_flags(b);
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
		BIO_set_retry_read(b);
	return (int)n;
}

static long pair_ctrl(BIO *b, int cmd, long num, void *ptr)
{
	switch (cmd) {
	case BIO_C_SET_FD:
		BIO_set_data(b, (void *)(intptr_t) * (int *)ptr);
		BIO_set_init(b, 1);
		(void)num;
		return 1;
	case BIO_C_GET_FD:
		return (long)(intptr_t)BIO_get_data(b);
	case BIO_CTRL_FLUSH:
		return 1;
	case BIO_CTRL_DGRAM_GET_FALLBACK_MTU:
		return 1400;
	default:
		return 0;
	}
}

BIO *ho_pair_bio(int fd)
{
	static BIO_METHOD *m;
	BIO *b;

	if (m == NULL) {
		m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "sg-dgram-pair");
		BIO_meth_set_write(m, pair_write);
		BIO_meth_set_read(m, pair_read);
		BIO_meth_set_ctrl(m, pair_ctrl);
	}
	b = BIO_new(m);
	assert_non_null(b);
	BIO_set_fd(b, fd, BIO_NOCLOSE);
	return b;
}

void ho_exchange_data(struct harness *h, SSL *ssl)
{
	static const char up[] = "uplink: CoAP POST /rd", down[] = "downlink: 2.01 Created";
	uint8_t buf[4096], pt[512];
	size_t n;
	int m;

	assert_int_equal(SSL_write(ssl, up, sizeof(up)), (int)sizeof(up));
	n = h_recv(h, buf, sizeof(buf));
	assert_true(n > 0);
	m = h_open(h, buf, n, pt, sizeof(pt));
	assert_int_equal(m, (int)sizeof(up));
	assert_memory_equal(pt, up, sizeof(up));

	h_seal_send(h, (const uint8_t *)down, sizeof(down));
	memset(buf, 0, sizeof(buf));
	m = SSL_read(ssl, buf, sizeof(buf));
	assert_int_equal(m, (int)sizeof(down));
	assert_memory_equal(buf, down, sizeof(down));
}
