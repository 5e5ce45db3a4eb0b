/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Test harness for the handshake engine. See hs_harness.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <arpa/inet.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include <stormgate/bytes.h>

#include "hs_harness.h"

const struct h_psk h_psks[] = {
	{ H_PSK_IDENTITY,
	  { 0x4a, 0x10, 0x2f, 0xe1, 0x7c, 0x33, 0x09, 0xb8, 0x5d, 0x61, 0x92, 0xa4, 0x0e, 0xc7,
	    0x38, 0xf5 },
	  16,
	  0 },
	{ "dev-ems-only",
	  { 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb,
	    0xcc, 0xdd, 0xee, 0xff, 0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06,
	    0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f, 0x10 },
	  32,
	  SG_HS_CRED_F_REQUIRE_EMS },
	{ "dev-ecdhe-only",
	  { 0xa5, 0xa5, 0xa5, 0xa5, 0x5a, 0x5a, 0x5a, 0x5a, 0xa5, 0xa5, 0xa5, 0xa5, 0x5a, 0x5a,
	    0x5a, 0x5a },
	  16,
	  SG_HS_CRED_F_REQUIRE_ECDHE },
	{ "dev-no-ticket",
	  { 0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef, 0x01, 0x23, 0x45, 0x67, 0x89, 0xab,
	    0xcd, 0xef },
	  16,
	  SG_HS_CRED_F_NO_TICKET },
};
const unsigned h_n_psks = sizeof(h_psks) / sizeof(h_psks[0]);

static int cb_lookup(void *ctx, const uint8_t *identity, size_t identity_len, const uint8_t *sni,
                     size_t sni_len, struct sg_hs_cred *cred)
{
	struct harness *h = ctx;

	h->n_lookups++;
	if (h->revoked)
		return -ENOENT;
	/* A policy row: the name "forbidden.example" is refused to everyone. */
	if (sni && sni_len == 17 && memcmp(sni, "forbidden.example", 17) == 0)
		return -EACCES;
	for (unsigned i = 0; i < h_n_psks; i++) {
		if (strlen(h_psks[i].identity) == identity_len &&
		    memcmp(h_psks[i].identity, identity, identity_len) == 0) {
			memcpy(cred->psk, h_psks[i].key, h_psks[i].key_len);
			cred->psk_len = h_psks[i].key_len;
			cred->flags = h_psks[i].flags;
			cred->cred_ref = 1000 + i;
			cred->backend = 7;
			return 0;
		}
	}
	return -ENOENT;
}

static int cb_send(void *ctx, const struct sg_hs_peer *peer, const uint8_t *data, size_t len)
{
	struct harness *h = ctx;

	assert_memory_equal(peer, &h->peer, sizeof(*peer));
	h->out_dgrams++;
	h->out_bytes += len;
	if (h->capture) {
		assert_true(h->n_out < H_OUT_MAX);
		assert_true(len <= sizeof(h->out[0]));
		memcpy(h->out[h->n_out], data, len);
		h->out_len[h->n_out++] = len;
		return 0;
	}
	return send(h->fd[1], data, len, 0) == (ssize_t)len ? 0 : -errno;
}

static int cb_install(void *ctx, const struct sg_hs_result *res)
{
	struct harness *h = ctx;
	/* The SA and, for CBC, its MAC line (a wide SA, record_types.h). */
	size_t sa_size = sg_rec_sa_size_for(h->conf.replay_window ? h->conf.replay_window
	                                                          : SG_REPLAY_WINDOW_DEFAULT,
	                                    res->sa->aead);

	if (h->install_rc)
		return h->install_rc;
	assert_true(sa_size <= sizeof(h->sess.sa_buf));
	h->sess.res = *res;
	memcpy(h->sess.sa_buf, res->sa, sa_size);
	h->sess.res.sa = (const struct sg_rec_sa *)h->sess.sa_buf;
	h->n_installed++;
	if (res->cid_len)
		h->cids_held--; /* the session owns it now */
	return 0;
}

static int cb_cid_alloc(void *ctx, const struct sg_hs_peer *peer, uint8_t *cid)
{
	struct harness *h = ctx;

	(void)peer;
	memset(cid, 0xc1, h->conf.cid_len);
	sg_store_be16(cid, (uint16_t)h->next_cid++);
	h->cids_held++;
	return 0;
}

static void cb_cid_release(void *ctx, const uint8_t *cid)
{
	struct harness *h = ctx;

	(void)cid;
	assert_true(h->cids_held > 0);
	h->cids_held--;
}

void h_config(struct harness *h, struct sg_hs_config *conf)
{
	memset(conf, 0, sizeof(*conf));
	conf->max_handshakes = 64;
	conf->cookie_policy = SG_HS_COOKIE_ALWAYS;
	conf->tickets = 1;
	conf->ops.ctx = h;
	conf->ops.psk_lookup = cb_lookup;
	conf->ops.send = cb_send;
	conf->ops.install = cb_install;
	conf->ops.cid_alloc = cb_cid_alloc;
	conf->ops.cid_release = cb_cid_release;
}

void h_prepare(struct harness *h, uint8_t cookie_policy)
{
	memset(h, 0, sizeof(*h));
	h_config(h, &h->conf);
	h->conf.cookie_policy = cookie_policy;
	h->conf.cid_len = 8;
}

void h_start(struct harness *h)
{
	static const uint8_t mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
	struct sg_rec_ctx_conf rc = {
		.window_bits =
		        h->conf.replay_window ? h->conf.replay_window : SG_REPLAY_WINDOW_DEFAULT,
		.cid_len = h->conf.cid_len,
	};

	h->now.mono_ms = 1000000;
	h->now.unix_s = 1700000000;
	/* 198.18.0.2:40000 -> 198.18.0.1:5684 (RFC 2544 benchmarking range). */
	memcpy(h->peer.paddr, mapped, 12);
	memcpy(h->peer.laddr, mapped, 12);
	memcpy(h->peer.paddr + 12, (uint8_t[]){ 198, 18, 0, 2 }, 4);
	memcpy(h->peer.laddr + 12, (uint8_t[]){ 198, 18, 0, 1 }, 4);
	h->peer.pport = htons(40000);
	h->peer.lport = htons(5684);
	assert_int_equal(socketpair(AF_UNIX, SOCK_DGRAM, 0, h->fd), 0);
	assert_int_equal(fcntl(h->fd[0], F_SETFL, O_NONBLOCK), 0);
	assert_int_equal(fcntl(h->fd[1], F_SETFL, O_NONBLOCK), 0);
	h->e = sg_hs_engine_create(&h->conf);
	assert_non_null(h->e);
	h->rec = sg_rec_ctx_create(&rc);
	assert_non_null(h->rec);
	/* Timers start from the harness clock. */
	sg_hs_tick(h->e, h->now);
}

void h_start_capture(struct harness *h, uint8_t cookie_policy)
{
	h_prepare(h, cookie_policy);
	h_start(h);
	h->capture = true;
}

void h_stop(struct harness *h)
{
	sg_hs_engine_free(h->e);
	sg_rec_ctx_free(h->rec);
	close(h->fd[0]);
	close(h->fd[1]);
	h->e = NULL;
}

size_t h_recv(struct harness *h, uint8_t *buf, size_t cap)
{
	ssize_t n = recv(h->fd[1], buf, cap, MSG_DONTWAIT);

	return n > 0 ? (size_t)n : 0;
}

void h_input(struct harness *h, const uint8_t *d, size_t len)
{
	h->in_dgrams++;
	h->in_bytes += len;
	assert_int_equal(sg_hs_input(h->e, h->now, &h->peer, d, len, h->tag), 0);
}

unsigned h_pump(struct harness *h)
{
	uint8_t buf[4096];
	unsigned n = 0;
	size_t len;

	while ((len = h_recv(h, buf, sizeof(buf))) > 0) {
		h_input(h, buf, len);
		n++;
	}
	return n;
}

void h_advance(struct harness *h, uint64_t ms)
{
	h->now.mono_ms += ms;
	h->now.unix_s += ms / 1000;
	sg_hs_tick(h->e, h->now);
}

uint64_t h_count(struct harness *h, enum sg_hs_counter c)
{
	struct sg_hs_stats st;

	sg_hs_stats_get(h->e, &st);
	return st.c[c];
}

int h_open(struct harness *h, const uint8_t *rec, size_t len, uint8_t *pt, size_t cap)
{
	uint8_t buf[4096];
	struct sg_rec_open_op op;

	assert_true(len <= sizeof(buf));
	memcpy(buf, rec, len);
	op = (struct sg_rec_open_op){ .rec = buf,
		                      .rec_len = (uint32_t)len,
		                      .sa = (struct sg_rec_sa *)h->sess.sa_buf };
	if (sg_rec_open_burst(h->rec, &op, 1) != 1)
		return -1;
	if (op.pt_len > cap)
		return -1;
	memcpy(pt, buf + op.pt_off, op.pt_len);
	h->seq_seen = op.seq;
	return (int)op.pt_len;
}

size_t h_seal_record(struct sg_rec_ctx *rec, struct sg_rec_sa *sa, const uint8_t *cid,
                     uint8_t cid_len, uint8_t type, const uint8_t *pt, size_t len, uint8_t *out,
                     size_t cap)
{
	uint8_t buf[4096];
	unsigned head =
	        sg_rec_seal_headroom((enum sg_aead)sa->aead, sa->flags & SG_SA_F_TX_CID, cid_len);
	struct sg_rec_seal_op op = {
		.buf = buf,
		.buf_len = sizeof(buf),
		.pt_off = head,
		.pt_len = (uint32_t)len,
		.sa = sa,
		.cid = cid,
		.cid_len = cid_len,
		.type = type,
	};

	assert_true(head + len <= sizeof(buf));
	memcpy(buf + head, pt, len);
	assert_int_equal(sg_rec_seal_burst(rec, &op, 1), 1);
	assert_true(op.rec_len <= cap);
	memcpy(out, buf + op.rec_off, op.rec_len);
	return op.rec_len;
}

void h_seal_send(struct harness *h, const uint8_t *pt, size_t len)
{
	uint8_t rec[4096];
	size_t n = h_seal_record(h->rec, (struct sg_rec_sa *)h->sess.sa_buf, h->sess.res.peer_cid,
	                         h->sess.res.peer_cid_len, SG_DTLS_CT_APPLICATION_DATA, pt, len,
	                         rec, sizeof(rec));

	assert_int_equal(send(h->fd[1], rec, n, 0), (ssize_t)n);
}

void h_data_both_ways(struct harness *h, const struct h_client *c, const char *up, const char *down)
{
	size_t n_up = strlen(up) + 1, n_down = strlen(down) + 1, n;
	uint8_t buf[4096], pt[512];

	assert_int_equal(c->send(c->ctx, up, n_up), (long)n_up);
	n = h_recv(h, buf, sizeof(buf));
	assert_true(n > 0);
	assert_int_equal(h_open(h, buf, n, pt, sizeof(pt)), (int)n_up);
	assert_memory_equal(pt, up, n_up);

	h_seal_send(h, (const uint8_t *)down, n_down);
	memset(buf, 0, sizeof(buf));
	assert_int_equal(c->recv(c->ctx, buf, sizeof(buf)), (long)n_down);
	assert_memory_equal(buf, down, n_down);
}

uint64_t h_dgram_outcomes(struct harness *h)
{
	struct sg_hs_stats st;
	uint64_t n = 0;

	sg_hs_stats_get(h->e, &st);
	for (unsigned c = 0; c < SG_HS_C_DGRAM_MAX; c++)
		n += st.c[c];
	return n;
}

/* Present when a sanitizer's allocator replaces malloc (which then keeps no mallinfo). */
extern size_t __sanitizer_get_current_allocated_bytes(void) __attribute__((weak));

size_t h_heap_used(void)
{
	if (__sanitizer_get_current_allocated_bytes)
		return __sanitizer_get_current_allocated_bytes();
	return mallinfo2().uordblks;
}
