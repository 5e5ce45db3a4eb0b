/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The baseline's backend side: each datagram a client's device sent, in
 * plaintext, to --backend, and the backend's answers back to the device.
 *
 *   proxy (default)  one connected socket per worker; every datagram starts
 *                    with the PROXY v2 header stormgate's proxy mode sends
 *                    (include/stormgate/proxy_v2.h: the device's address and
 *                    port, ours, the SSL TLV, a unique id of the client's
 *                    handle and 64-bit random token, its PSK identity), and
 *                    an answer must carry the same header: the device it
 *                    names must be a client of ours with that handle and
 *                    token (compared in constant time), as in stormgate.
 *   udp              one connected socket per client, bound to the next
 *                    --source address with a port of the kernel's choice, so
 *                    the answers on it are the client's: at most --source
 *                    addresses × the ephemeral port range (net.ipv4.
 *                    ip_local_port_range, 28,232 ports by default) clients.
 *
 * The worker thread that owns the clients runs all of it. See baseline.h.
 */
#include <errno.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/uio.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include <stormgate/proxy_v2.h>

#include "baseline.h"

#define BACKEND_BURST 64 /* answers taken per readable event, then the others' turn */

/* A udp-mode socket for c: bound to the next --source address that has a port left. */
int bl_backend_open(struct bl_worker *w, struct bl_client *c)
{
	const struct bl_opts *o = w->s->o;
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = c };
	unsigned tries;
	int fd, rc = -EADDRNOTAVAIL;

	for (tries = 0; tries < o->n_src; tries++) {
		const struct sockaddr_storage *src = &o->src[w->next_src++ % o->n_src];

		fd = socket(o->backend.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (fd < 0)
			return -errno;
		if (bind(fd, (const struct sockaddr *)src, bl_sa_len(src)) == 0 &&
		    connect(fd, (const struct sockaddr *)&o->backend, bl_sa_len(&o->backend)) ==
		            0 &&
		    epoll_ctl(w->ep_fd, EPOLL_CTL_ADD, fd, &ev) == 0) {
			c->be_fd = fd;
			return 0;
		}
		rc = -errno;
		close(fd);
		if (rc != -EADDRINUSE && rc != -EADDRNOTAVAIL)
			break;
	}
	return rc;
}

/* The PROXY v2 header naming c (src) and the address it reached (dst). */
static int proxy_header(const struct bl_worker *w, const struct bl_client *c, uint8_t *hdr,
                        uint32_t cap)
{
	struct bl_addr us;
	struct sg_pp2_info info = {
		.family = c->addr.family == AF_INET6 ? 6 : 4,
		.sport = ntohs(c->addr.port),
		.has_session = true,
		.session = c->handle,
		.identity_len = c->id_len,
		.identity = (const uint8_t *)c->identity,
	};

	bl_addr_from_sa(&us, &w->s->o->listen);
	memcpy(info.src, c->addr.addr, 16);
	memcpy(info.dst, us.addr, 16);
	info.dport = ntohs(us.port);
	memcpy(info.token, c->token, sizeof(info.token));
	return sg_pp2_encode(hdr, cap, &info);
}

void bl_backend_forward(struct bl_worker *w, struct bl_client *c, const uint8_t *d, size_t len)
{
	uint8_t hdr[SG_PP2_MAX_LEN];
	struct iovec iov[2] = { { hdr, 0 }, { (void *)d, len } };
	struct msghdr m = { .msg_iov = iov, .msg_iovlen = 2 };
	ssize_t want = (ssize_t)len, sent;
	int hl;

	if (w->s->o->mode == BL_BACKEND_UDP) {
		sent = send(c->be_fd, d, len, 0);
	} else {
		hl = proxy_header(w, c, hdr, sizeof(hdr));
		if (hl < 0) {
			bl_count(&w->ctr, BL_DROP_SEND);
			return;
		}
		iov[0].iov_len = (size_t)hl;
		want += hl;
		sent = sendmsg(w->be_fd, &m, 0);
	}
	bl_count(&w->ctr, sent == want ? BL_BACKEND_OUT : BL_DROP_SEND);
}

/* One answer in proxy mode: header checked, the client found and proven, sent on. */
static void proxy_answer(struct bl_worker *w, const uint8_t *d, size_t len)
{
	struct sg_pp2_info info;
	struct bl_client *c;
	struct bl_addr a = { 0 };
	int hl = sg_pp2_decode(d, (uint32_t)len, &info);

	if (hl < 0) {
		bl_count(&w->ctr, BL_DROP_BACKEND_BAD);
		return;
	}
	a.family = info.family == 6 ? AF_INET6 : AF_INET;
	memcpy(a.addr, info.src, info.family == 6 ? 16 : 4);
	a.port = htons(info.sport);
	c = bl_table_find(&w->table, &a);
	if (c == NULL || c->state != BL_ESTABLISHED) {
		bl_count(&w->ctr, BL_DROP_BACKEND_UNKNOWN);
		return;
	}
	if (!info.has_session || info.session != c->handle ||
	    CRYPTO_memcmp(info.token, c->token, sizeof(c->token)) != 0) {
		bl_count(&w->ctr, BL_DROP_BACKEND_FORGED);
		return;
	}
	bl_client_send(w, c, d + hl, len - (size_t)hl);
}

void bl_backend_proxy_input(struct bl_worker *w)
{
	ssize_t n;
	int i;

	for (i = 0; i < BACKEND_BURST; i++) {
		n = recv(w->be_fd, w->rx[0], sizeof(w->rx[0]), MSG_TRUNC);
		if (n < 0)
			return;
		bl_count(&w->ctr, BL_BACKEND_IN);
		if ((size_t)n > sizeof(w->rx[0])) {
			bl_count(&w->ctr, BL_DROP_BACKEND_BAD);
			continue;
		}
		proxy_answer(w, w->rx[0], (size_t)n);
	}
}

void bl_backend_udp_input(struct bl_worker *w, struct bl_client *c)
{
	ssize_t n;
	int i;

	for (i = 0; i < BACKEND_BURST && c->state != BL_DEAD; i++) {
		n = recv(c->be_fd, w->rx[0], sizeof(w->rx[0]), MSG_TRUNC);
		if (n < 0)
			return;
		bl_count(&w->ctr, BL_BACKEND_IN);
		if ((size_t)n > sizeof(w->rx[0])) {
			bl_count(&w->ctr, BL_DROP_BACKEND_BAD);
			continue;
		}
		bl_client_send(w, c, w->rx[0], (size_t)n);
	}
}
