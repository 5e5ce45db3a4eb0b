/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A datagram BIO over the caller's transport. See dgram_bio.h.
 */
#include "dgram_bio.h"

/*
 * OpenSSL's DTLS code flushes after each flight (nothing is buffered here:
 * done) and, told not to query the MTU (SSL_OP_NO_QUERY_MTU) or before the
 * link MTU is set, asks for a fallback one; nothing else needs an answer.
 */
static long dgram_ctrl(BIO *b, int cmd, long num, void *ptr)
{
	(void)b;
	(void)num;
	(void)ptr;
	switch (cmd) {
	case BIO_CTRL_FLUSH:
		return 1;
	case BIO_CTRL_DGRAM_GET_FALLBACK_MTU:
		return 1400;
	default:
		return 0;
	}
}

BIO *sg_bench_dgram_bio_new(BIO_METHOD **m, const char *name,
                            int (*write)(BIO *b, const char *buf, int len),
                            int (*read)(BIO *b, char *buf, int len), void *data)
{
	BIO *b;

	if (*m == NULL) {
		*m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, name);
		if (*m == NULL)
			return NULL;
		BIO_meth_set_write(*m, write);
		BIO_meth_set_read(*m, read);
		BIO_meth_set_ctrl(*m, dgram_ctrl);
	}
	b = BIO_new(*m);
	if (b == NULL)
		return NULL;
	BIO_set_data(b, data);
	BIO_set_init(b, 1);
	return b;
}
