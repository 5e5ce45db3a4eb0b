/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The baseline's datagram BIO: every client's SSL reads the one datagram its
 * worker received from the client's address (demultiplexed by the worker's
 * table, bl_worker.c) and writes with sendto() on the worker's one device
 * socket, so a million clients need no socket each. The worker thread that
 * owns the SSL runs all of it. See baseline.h.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>

#include "baseline.h"

struct bl_bio {
	struct bl_worker *w;
	struct bl_addr peer;
	const uint8_t *in; /* the datagram not read yet; NULL: none */
	size_t in_len;
	bool wrote;
};

static BIO_METHOD *method;
static pthread_once_t method_once = PTHREAD_ONCE_INIT;

/* IP and UDP headers, for the MTU OpenSSL fragments its flights to. */
static long overhead(const struct bl_bio *b)
{
	return b->peer.family == AF_INET6 ? 48 : 28;
}

/*
 * A datagram lost on the way is what UDP promises: a failed send is counted
 * and reported as sent, and DTLS's retransmission timer covers it, as it
 * covers a loss on the wire.
 */
static int bio_write(BIO *bio, const char *buf, int len)
{
	struct bl_bio *b = BIO_get_data(bio);
	struct sockaddr_storage ss;
	socklen_t sl = bl_addr_to_sa(&b->peer, &ss);

	if (sendto(b->w->dev_fd, buf, (size_t)len, 0, (struct sockaddr *)&ss, sl) == len)
		bl_count(&b->w->ctr, BL_DGRAMS_OUT);
	else
		bl_count(&b->w->ctr, BL_DROP_SEND);
	b->wrote = true;
	return len;
}

static int bio_read(BIO *bio, char *buf, int len)
{
	struct bl_bio *b = BIO_get_data(bio);
	size_t n;

	BIO_clear_retry_flags(bio);
	if (b->in == NULL) {
		BIO_set_retry_read(bio);
		return -1;
	}
	n = b->in_len < (size_t)len ? b->in_len : (size_t)len;
	memcpy(buf, b->in, n);
	b->in = NULL;
	return (int)n;
}

/* What OpenSSL's DTLS code asks of a datagram BIO; the rest has no answer. */
static long bio_ctrl(BIO *bio, int cmd, long num, void *ptr)
{
	struct bl_bio *b = BIO_get_data(bio);

	(void)num;
	switch (cmd) {
	case BIO_CTRL_FLUSH:
		return 1;
	case BIO_CTRL_DGRAM_QUERY_MTU:
	case BIO_CTRL_DGRAM_GET_FALLBACK_MTU:
		return 1500 - overhead(b);
	case BIO_CTRL_DGRAM_GET_MTU_OVERHEAD:
		return overhead(b);
	case BIO_CTRL_DGRAM_SET_MTU:
		return num;
	case BIO_CTRL_DGRAM_GET_PEER:
		if (ptr == NULL)
			return 0;
		return BIO_ADDR_rawmake(ptr, b->peer.family, b->peer.addr,
		                        b->peer.family == AF_INET6 ? 16 : 4, b->peer.port);
	case BIO_CTRL_DGRAM_SET_PEER: /* DTLSv1_listen(): the peer is the datagram's */
		return 1;
	default:
		return 0;
	}
}

static int bio_destroy(BIO *bio)
{
	free(BIO_get_data(bio));
	BIO_set_data(bio, NULL);
	return 1;
}

static void make_method(void)
{
	method = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "stormgate baseline");
	if (method == NULL)
		return;
	BIO_meth_set_write(method, bio_write);
	BIO_meth_set_read(method, bio_read);
	BIO_meth_set_ctrl(method, bio_ctrl);
	BIO_meth_set_destroy(method, bio_destroy);
}

BIO *bl_bio_new(struct bl_worker *w)
{
	struct bl_bio *b;
	BIO *bio;

	pthread_once(&method_once, make_method);
	if (method == NULL)
		return NULL;
	b = calloc(1, sizeof(*b));
	bio = b ? BIO_new(method) : NULL;
	if (bio == NULL) {
		free(b);
		return NULL;
	}
	b->w = w;
	BIO_set_data(bio, b);
	BIO_set_init(bio, 1);
	return bio;
}

void bl_bio_feed(BIO *bio, const struct bl_addr *peer, const uint8_t *d, size_t len)
{
	struct bl_bio *b = BIO_get_data(bio);

	b->peer = *peer;
	b->in = d;
	b->in_len = len;
	b->wrote = false;
}

bool bl_bio_wrote(BIO *bio)
{
	const struct bl_bio *b = BIO_get_data(bio);

	return b->wrote;
}

const struct bl_addr *bl_bio_peer(BIO *bio)
{
	const struct bl_bio *b = BIO_get_data(bio);

	return &b->peer;
}

void bl_bio_cleanup(void)
{
	BIO_meth_free(method);
	method = NULL;
}
