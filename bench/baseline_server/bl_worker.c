/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A worker of the baseline: its SO_REUSEPORT socket on --listen (the kernel
 * hashes a client's 4-tuple to one of the workers' sockets, so a client
 * stays on one worker), its epoll, and the loop that reads datagrams in
 * batches (recvmmsg), hands each to its client by address, runs new
 * addresses through OpenSSL's stateless cookie exchange (DTLSv1_listen()),
 * takes the backend's answers and fires the clients' timers. Runs on its
 * own thread; touches only its own clients, the read-only credentials and
 * the SSL_CTX. See baseline.h.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/rand.h>

#include <stormgate/time.h>

#include "baseline.h"

#define EVENTS      64
#define TIMERS_MAX  4096 /* timers fired per turn, then the sockets' */
#define WAIT_MAX_MS 100  /* the stop flag is seen within this */
#define SOCK_BUF    (4 << 20)
#define DTLS_HDR    13 /* RFC 6347 §4.1 */

/* The SSL that answers new addresses: an SSL of ours, over its own BIO. */
static SSL *new_listener(struct bl_worker *w)
{
	SSL *ssl = SSL_new(w->s->ctx);
	BIO *bio = ssl ? bl_bio_new(w) : NULL;

	if (bio == NULL) {
		SSL_free(ssl);
		return NULL;
	}
	SSL_set_bio(ssl, bio, bio);
	SSL_set_ex_data(ssl, w->s->ex_worker, w);
	SSL_set_accept_state(ssl);
	return ssl;
}

/* RFC 6347 §4.2.1: an epoch-0 handshake record holding a ClientHello. */
static bool is_client_hello(const uint8_t *d, size_t len)
{
	return len >= DTLS_HDR + 12 && d[0] == 22 && d[3] == 0 && d[4] == 0 && d[DTLS_HDR] == 1;
}

/*
 * A ClientHello, or anything from an address without a client: OpenSSL's
 * stateless cookie exchange answers a hello without a valid cookie with a
 * HelloVerifyRequest and drops anything else; a hello whose cookie verified
 * makes the listener SSL the client's (replacing the address's old client,
 * RFC 6347 §4.2.8: only a device that receives at its address can do so).
 */
static void listen_input(struct bl_worker *w, const struct bl_addr *a, struct bl_client *old,
                         const uint8_t *d, size_t len)
{
	const struct bl_opts *o = w->s->o;
	struct bl_client *c;
	SSL *ssl;

	if (old == NULL &&
	    atomic_load_explicit(&w->s->clients, memory_order_relaxed) >= o->max_clients) {
		bl_count(&w->ctr, BL_DROP_MAX_CLIENTS);
		return;
	}
	if (w->listener == NULL)
		w->listener = new_listener(w);
	if (w->listener == NULL) {
		bl_count(&w->ctr, BL_DROP_MAX_CLIENTS);
		return;
	}
	bl_bio_feed(SSL_get_rbio(w->listener), a, d, len);
	if (DTLSv1_listen(w->listener, w->listen_peer) <= 0) {
		bl_count(&w->ctr,
		         bl_bio_wrote(SSL_get_rbio(w->listener)) ? BL_HELLO_VERIFY : BL_DROP_JUNK);
		ERR_clear_error();
		return;
	}
	if (old != NULL)
		bl_client_end(w, old, BL_REPLACED, false);
	ssl = w->listener;
	w->listener = new_listener(w);
	c = bl_client_new(w, a, ssl);
	if (c == NULL) {
		SSL_free(ssl);
		bl_count(&w->ctr, BL_DROP_MAX_CLIENTS);
		return;
	}
	bl_client_input(w, c); /* the hello DTLSv1_listen() kept: our first flight */
}

/* One datagram from a device's address a. */
static void device_input(struct bl_worker *w, const struct bl_addr *a, const uint8_t *d, size_t len)
{
	struct bl_client *c = bl_table_find(&w->table, a);

	if (len < DTLS_HDR) {
		bl_count(&w->ctr, BL_DROP_SIZE);
		return;
	}
	if (c == NULL || is_client_hello(d, len)) {
		listen_input(w, a, c, d, len);
		return;
	}
	bl_bio_feed(SSL_get_rbio(c->ssl), a, d, len);
	bl_client_input(w, c);
}

/* The device socket's datagrams, a batch at a time, a few batches per event. */
static void devices_readable(struct bl_worker *w)
{
	struct mmsghdr m[BL_BATCH];
	struct iovec iov[BL_BATCH];
	struct sockaddr_storage from[BL_BATCH];
	struct bl_addr a;
	int n, i, round;

	for (round = 0; round < 4; round++) {
		for (i = 0; i < BL_BATCH; i++) {
			iov[i] = (struct iovec){ w->rx[i], sizeof(w->rx[i]) };
			m[i].msg_hdr = (struct msghdr){ .msg_name = &from[i],
				                        .msg_namelen = sizeof(from[i]),
				                        .msg_iov = &iov[i],
				                        .msg_iovlen = 1 };
		}
		n = recvmmsg(w->dev_fd, m, BL_BATCH, MSG_DONTWAIT, NULL);
		if (n <= 0)
			return;
		w->now = sg_mono_ns();
		for (i = 0; i < n; i++) {
			bl_count(&w->ctr, BL_DGRAMS_IN);
			if (m[i].msg_hdr.msg_flags & MSG_TRUNC) {
				bl_count(&w->ctr, BL_DROP_SIZE);
				continue;
			}
			bl_addr_from_sa(&a, &from[i]);
			device_input(w, &a, w->rx[i], m[i].msg_len);
		}
		if (n < BL_BATCH)
			return;
	}
}

/* Due timers, up to TIMERS_MAX; how long epoll may wait for the next one (ms). */
static int run_timers(struct bl_worker *w)
{
	struct bl_client *c;
	uint64_t next;
	int i;

	w->now = sg_mono_ns();
	bl_cookie_rotate(w, w->now);
	for (i = 0; i < TIMERS_MAX && (c = bl_table_due(&w->table, w->now)) != NULL; i++)
		bl_client_timer(w, c);
	bl_client_reap(w);
	if (i == TIMERS_MAX)
		return 0;
	next = bl_table_next(&w->table);
	if (next <= w->now)
		return 0;
	next = (next - w->now + 999999) / 1000000;
	return next < WAIT_MAX_MS ? (int)next : WAIT_MAX_MS;
}

void *bl_worker_run(void *arg)
{
	struct bl_worker *w = arg;
	struct epoll_event ev[EVENTS];
	int n, i;

	while (!atomic_load_explicit(&w->s->stop, memory_order_relaxed)) {
		n = epoll_wait(w->ep_fd, ev, EVENTS, run_timers(w));
		if (n < 0 && errno != EINTR) {
			w->rc = -errno;
			break;
		}
		w->now = sg_mono_ns();
		for (i = 0; i < n; i++) {
			enum bl_fd_kind *k = ev[i].data.ptr;

			if (*k == BL_FD_DEVICES)
				devices_readable(w);
			else if (*k == BL_FD_BACKEND)
				bl_backend_proxy_input(w);
			else if (((struct bl_client *)(void *)k)->state != BL_DEAD)
				bl_backend_udp_input(w, (struct bl_client *)(void *)k);
		}
		bl_client_reap(w);
	}
	/* Stopping: every client gets its close_notify (uncounted), then is freed. */
	while (w->table.heap_n)
		bl_client_end(w, w->table.heap[0], BL_CTR_MAX, true);
	bl_client_reap(w);
	return NULL;
}

/* A socket of the listen address's family, big buffers; -errno on failure. */
static int udp_socket(int family, bool reuseport)
{
	int fd = socket(family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0), one = 1;
	int sz = SOCK_BUF;

	if (fd < 0)
		return -errno;
	if ((reuseport && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) != 0) ||
	    (family == AF_INET6 &&
	     setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) != 0)) {
		int rc = -errno;

		close(fd);
		return rc;
	}
	/* Best effort: the kernel caps them at net.core.[rw]mem_max. */
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
	setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
	return fd;
}

/* Proxy mode's backend socket: from the worker's --source address, if any. */
static int backend_socket(struct bl_worker *w)
{
	const struct bl_opts *o = w->s->o;
	const struct sockaddr_storage *src = o->n_src ? &o->src[w->index % o->n_src] : NULL;
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = &w->kind_be };

	w->be_fd = udp_socket(o->backend.ss_family, false);
	if (w->be_fd < 0)
		return w->be_fd;
	if ((src != NULL && bind(w->be_fd, (const struct sockaddr *)src, bl_sa_len(src)) != 0) ||
	    connect(w->be_fd, (const struct sockaddr *)&o->backend, bl_sa_len(&o->backend)) != 0 ||
	    epoll_ctl(w->ep_fd, EPOLL_CTL_ADD, w->be_fd, &ev) != 0)
		return -errno;
	return 0;
}

int bl_worker_init(struct bl_worker *w, struct bl_shared *s, unsigned index)
{
	const struct bl_opts *o = s->o;
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = &w->kind_dev };
	int rc;

	w->dev_fd = w->be_fd = w->ep_fd = -1;
	w->kind_dev = BL_FD_DEVICES;
	w->kind_be = BL_FD_BACKEND;
	w->index = index;
	w->s = s;
	w->dev_fd = udp_socket(o->listen.ss_family, true);
	w->ep_fd = epoll_create1(EPOLL_CLOEXEC);
	if (w->dev_fd < 0 || w->ep_fd < 0)
		return w->dev_fd < 0 ? w->dev_fd : -errno;
	if (bind(w->dev_fd, (const struct sockaddr *)&o->listen, bl_sa_len(&o->listen)) != 0 ||
	    epoll_ctl(w->ep_fd, EPOLL_CTL_ADD, w->dev_fd, &ev) != 0) {
		rc = -errno;
		fprintf(stderr, "stormgate-dtls-baseline: --listen: %s\n", strerror(-rc));
		return rc;
	}
	if (o->mode == BL_BACKEND_PROXY && (rc = backend_socket(w)) != 0) {
		fprintf(stderr, "stormgate-dtls-baseline: backend socket: %s\n", strerror(-rc));
		return rc;
	}
	rc = bl_table_init(&w->table);
	if (rc != 0)
		return rc;
	w->listener = new_listener(w);
	w->listen_peer = BIO_ADDR_new();
	if (w->listener == NULL || w->listen_peer == NULL ||
	    RAND_bytes(w->cookie_secret[0], sizeof(w->cookie_secret)) != 1)
		return -ENOMEM;
	w->cookie_rotated = sg_mono_ns();
	return 0;
}

void bl_worker_free(struct bl_worker *w)
{
	SSL_free(w->listener);
	BIO_ADDR_free(w->listen_peer);
	if (w->dev_fd >= 0)
		close(w->dev_fd);
	if (w->be_fd >= 0)
		close(w->be_fd);
	if (w->ep_fd >= 0)
		close(w->ep_fd);
	bl_table_free(&w->table);
	OPENSSL_cleanse(w->cookie_secret, sizeof(w->cookie_secret));
}
