/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The fleet's client handshake (bench/fleet/fleet_client.h) against an
 * independent server, OpenSSL's DTLS 1.2 (libssl), in memory: the server's
 * BIO (bench/dgram_bio.c) moves whole datagrams through two queues, and the
 * test plays the network and the client's timer. Per row: the handshake
 * completes (with and without HelloVerifyRequest, with the server's flights
 * cut into small out-of-order fragments), then one application record each
 * way through the project's record layer with the exported SA, opened by
 * OpenSSL and vice versa. Wrong PSKs fail on both sides; truncated and
 * garbled server datagrams are refused without a crash (run under ASan).
 * Session tickets (OpenSSL issues them by default): a full handshake keeps
 * one, the next connection resumes it (PSK and ECDHE-PSK, EMS), a ticket
 * the server cannot open falls back to a full handshake, a resumption with
 * a wrong server Finished or a changed EMS is refused, and our final flight
 * lost after an abbreviated handshake is sent again on the server's repeat.
 * FC_DEBUG=1 in the environment traces OpenSSL's side (SSL_trace). One thread.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include <stormgate/bytes.h>

#include "dgram_bio.h"
#include "fleet_client.h"

#define QLEN   64
#define DMAX   4096
#define ROUNDS 40

static const uint8_t psk_good[16] = { 0x5a, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07,
	                              0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f };
static const uint8_t psk_bad[16] = { 0xa5 };
#define IDENTITY "fleet-device-000001"

/* One direction of the in-memory network. */
struct queue {
	uint8_t d[QLEN][DMAX];
	size_t len[QLEN];
	unsigned head, n;
};

static int q_push(struct queue *q, const uint8_t *p, size_t len)
{
	unsigned i = (q->head + q->n) % QLEN;

	if (q->n == QLEN || len > DMAX)
		return -1;
	memcpy(q->d[i], p, len);
	q->len[i] = len;
	q->n++;
	return 0;
}

static size_t q_pop(struct queue *q, uint8_t *p)
{
	size_t len;

	if (q->n == 0)
		return 0;
	len = q->len[q->head];
	memcpy(p, q->d[q->head], len);
	q->head = (q->head + 1) % QLEN;
	q->n--;
	return len;
}

/* The test's network: client → server and server → client. */
struct net {
	struct queue c2s, s2c;
};

static int srv_write(BIO *b, const char *buf, int len)
{
	struct net *n = BIO_get_data(b);

	return q_push(&n->s2c, (const uint8_t *)buf, (size_t)len) ? -1 : len;
}

static int srv_read(BIO *b, char *buf, int len)
{
	struct net *n = BIO_get_data(b);
	uint8_t tmp[DMAX];
	size_t got;

	BIO_clear_retry_flags(b);
	got = q_pop(&n->c2s, tmp);
	if (got == 0) {
		BIO_set_retry_read(b);
		return -1;
	}
	if (got > (size_t)len)
		got = (size_t)len;
	memcpy(buf, tmp, got);
	return (int)got;
}

/* One row: a suite, how OpenSSL names it, and what the server does. */
struct row {
	uint16_t suite;
	const char *ossl;   /* OpenSSL cipher name */
	const char *groups; /* server's groups (ECDHE-PSK), NULL: OpenSSL's default */
	int cookies;        /* HelloVerifyRequest first */
	int fragment;       /* server flights cut into 5-byte fragments, last first */
	const char *hint;   /* server's psk_identity_hint */
};

static const struct row rows[] = {
	{ SG_TLS_PSK_WITH_AES_128_CCM_8, "PSK-AES128-CCM8", NULL, 0, 0, NULL },
	{ SG_TLS_PSK_WITH_AES_128_CCM_8, "PSK-AES128-CCM8", NULL, 1, 0, NULL },
	{ SG_TLS_PSK_WITH_AES_128_CCM_8, "PSK-AES128-CCM8", NULL, 1, 1, "hint" },
	{ SG_TLS_PSK_WITH_AES_128_CCM, "PSK-AES128-CCM", NULL, 1, 0, NULL },
	{ SG_TLS_PSK_WITH_AES_128_GCM_SHA256, "PSK-AES128-GCM-SHA256", NULL, 0, 0, "hint" },
	{ SG_TLS_PSK_WITH_AES_256_GCM_SHA384, "PSK-AES256-GCM-SHA384", NULL, 1, 1, NULL },
	{ SG_TLS_PSK_WITH_CHACHA20_POLY1305_SHA256, "PSK-CHACHA20-POLY1305", NULL, 1, 0, NULL },
	{ SG_TLS_ECDHE_PSK_WITH_CHACHA20_POLY1305_SHA256, "ECDHE-PSK-CHACHA20-POLY1305", "X25519",
	  1, 0, NULL },
	{ SG_TLS_ECDHE_PSK_WITH_CHACHA20_POLY1305_SHA256, "ECDHE-PSK-CHACHA20-POLY1305", "P-256", 0,
	  1, "hint" },
};

/* A client and an OpenSSL server joined by a net. */
struct pair {
	struct net net;
	SSL_CTX *sctx;
	SSL *srv;
	const struct row *row;
	int tickets; /* the server issues tickets, the client keeps them in ticket */
	struct sg_rec_ctx *rec;
	struct sg_fc_conf conf;
	struct sg_fc_dev dev;
	struct sg_fc_hs hs;
	struct sg_fc_ticket ticket;
	uint16_t suites[1];
	const uint8_t *server_psk;
	void (*edit)(uint8_t *d, size_t len); /* changes the client's flights on the way */
};

static unsigned int srv_psk(SSL *ssl, const char *identity, unsigned char *psk, unsigned int max)
{
	struct pair *p = SSL_get_app_data(ssl);

	if (strcmp(identity, IDENTITY) != 0 || max < sizeof(psk_good))
		return 0;
	memcpy(psk, p->server_psk, sizeof(psk_good));
	return sizeof(psk_good);
}

/* RFC 6347 §4.2.1 leaves the cookie to the server; a fixed one serves the test. */
static int cookie_gen(SSL *ssl, unsigned char *cookie, unsigned int *len)
{
	(void)ssl;
	memcpy(cookie, "stormgate-fleet-cookie", 22);
	*len = 22;
	return 1;
}

static int cookie_ok(SSL *ssl, const unsigned char *cookie, unsigned int len)
{
	(void)ssl;
	return len == 22 && memcmp(cookie, "stormgate-fleet-cookie", 22) == 0;
}

/* OpenSSL's context for p's row: DTLS 1.2, the row's suite, PSK, cookies, tickets or not. */
static void srv_ctx_new(struct pair *p)
{
	const struct row *r = p->row;

	p->sctx = SSL_CTX_new(DTLS_server_method());
	assert_non_null(p->sctx);
	assert_int_equal(SSL_CTX_set_min_proto_version(p->sctx, DTLS1_2_VERSION), 1);
	assert_int_equal(SSL_CTX_set_max_proto_version(p->sctx, DTLS1_2_VERSION), 1);
	assert_int_equal(SSL_CTX_set_cipher_list(p->sctx, r->ossl), 1);
	if (r->groups)
		assert_int_equal(SSL_CTX_set1_groups_list(p->sctx, r->groups), 1);
	if (r->hint)
		assert_int_equal(SSL_CTX_use_psk_identity_hint(p->sctx, r->hint), 1);
	SSL_CTX_set_psk_server_callback(p->sctx, srv_psk);
	SSL_CTX_set_options(p->sctx, SSL_OP_NO_QUERY_MTU | (p->tickets ? 0 : SSL_OP_NO_TICKET) |
	                                     (r->cookies ? SSL_OP_COOKIE_EXCHANGE : 0));
	SSL_CTX_set_cookie_generate_cb(p->sctx, cookie_gen);
	SSL_CTX_set_cookie_verify_cb(p->sctx, cookie_ok);
}

/* A server connection on p's context and net. */
static void srv_new(struct pair *p)
{
	static BIO_METHOD *meth;
	BIO *b;

	p->srv = SSL_new(p->sctx);
	assert_non_null(p->srv);
	SSL_set_app_data(p->srv, p);
	b = sg_bench_dgram_bio_new(&meth, "fleet-test", srv_write, srv_read, &p->net);
	assert_non_null(b);
	SSL_set_bio(p->srv, b, b);
	/* no MTU query on this BIO: without a link MTU OpenSSL cannot size its flight */
	DTLS_set_link_mtu(p->srv, 1400);
	SSL_set_accept_state(p->srv);
	if (getenv("FC_DEBUG")) {
		SSL_set_msg_callback(p->srv, SSL_trace);
		SSL_set_msg_callback_arg(p->srv, BIO_new_fp(stderr, BIO_NOCLOSE));
	}
}

/* tickets: OpenSSL issues tickets (its default) and the client offers and keeps them. */
static struct pair *pair_new_tickets(const struct row *r, const uint8_t *server_psk, int tickets)
{
	struct pair *p = calloc(1, sizeof(*p));
	struct sg_rec_ctx_conf rc = { .flags = SG_REC_CTX_F_LATENCY };

	assert_non_null(p);
	p->server_psk = server_psk;
	p->row = r;
	p->tickets = tickets;
	srv_ctx_new(p);
	srv_new(p);

	p->rec = sg_rec_ctx_create(&rc);
	assert_non_null(p->rec);
	p->dev.sa = calloc(1, sg_rec_sa_size(sg_rec_ctx_window_bits(p->rec)));
	assert_non_null(p->dev.sa);
	p->suites[0] = r->suite;
	p->conf = (struct sg_fc_conf){ .rec = p->rec,
		                       .suites = p->suites,
		                       .n_suites = 1,
		                       .identity = IDENTITY,
		                       .psk = psk_good,
		                       .psk_len = sizeof(psk_good),
		                       .ticket = tickets ? &p->ticket : NULL };
	return p;
}

static struct pair *pair_new(const struct row *r, const uint8_t *server_psk)
{
	return pair_new_tickets(r, server_psk, 0);
}

/*
 * A new connection of the same device (its ticket slot kept) to a new server
 * connection: on the same OpenSSL context (its ticket keys), or on a fresh
 * one (new keys: our ticket no longer opens).
 */
static void pair_reconnect(struct pair *p, int fresh_ctx)
{
	SSL_free(p->srv);
	if (fresh_ctx) {
		SSL_CTX_free(p->sctx);
		srv_ctx_new(p);
	}
	memset(&p->net, 0, sizeof(p->net));
	srv_new(p);
	sg_rec_sa_wipe(p->dev.sa, sg_rec_ctx_window_bits(p->rec));
	sg_fc_hs_wipe(&p->hs);
}

static void pair_free(struct pair *p)
{
	sg_rec_sa_wipe(p->dev.sa, sg_rec_ctx_window_bits(p->rec));
	free(p->dev.sa);
	sg_fc_hs_wipe(&p->hs);
	sg_fc_ticket_wipe(&p->ticket);
	sg_rec_ctx_free(p->rec);
	SSL_free(p->srv);
	SSL_CTX_free(p->sctx);
	free(p);
}

/* One client flight to the server, through p->edit when the row tampers with it. */
static void to_server(struct pair *p, uint8_t *d, size_t len)
{
	if (p->edit)
		p->edit(d, len);
	assert_int_equal(q_push(&p->net.c2s, d, len), 0);
}

/* Feed one server datagram to the client; its answer goes to the server. */
static void to_client(struct pair *p, const uint8_t *d, size_t len)
{
	uint8_t out[DMAX];
	size_t olen;

	(void)sg_fc_input(&p->dev, &p->hs, d, len, out, sizeof(out), &olen);
	if (olen)
		to_server(p, out, olen);
}

/*
 * The server's datagram re-cut (RFC 6347 §4.2.3): every epoch-0 handshake
 * message into 5-byte fragments overlapping by one byte, each message's
 * first fragment, then all of them last first (the first twice), a
 * datagram per fragment;
 * the other records follow as they came.
 */
static void to_client_fragmented(struct pair *p, const uint8_t *d, size_t len)
{
	struct sg_rec_hdr recs[16];
	unsigned n = sg_rec_parse(d, len, 0, recs, 16);
	uint8_t rest[DMAX], f[64];
	size_t rest_len = 0;
	uint64_t seq = 1000;

	for (unsigned i = 0; i < n; i++) {
		const uint8_t *m = d + recs[i].off + recs[i].hdr_len, *end = m + recs[i].frag_len;

		if (recs[i].epoch != 0 || recs[i].type != SG_DTLS_CT_HANDSHAKE) {
			memcpy(rest + rest_len, d + recs[i].off, recs[i].len);
			rest_len += recs[i].len;
			continue;
		}
		while (m + SG_DTLS_HS_HDR_LEN <= end) {
			uint32_t mlen = sg_load_be24(m + 1);
			int last = mlen ? (int)((mlen - 1) / 4) * 4 : 0;

			for (int off = last + 4; off >= 0; off -= 4) {
				uint32_t o = off > last ? 0 : (uint32_t)off;
				uint32_t fl = mlen - o < 5 ? mlen - o : 5;

				memcpy(f, d + recs[i].off, SG_DTLS_HDR_LEN);
				sg_store_be48(f + SG_DTLS_HDR_OFF_SEQ, seq++);
				sg_store_be16(f + 11, (uint16_t)(SG_DTLS_HS_HDR_LEN + fl));
				memcpy(f + SG_DTLS_HDR_LEN, m, 6);
				sg_store_be24(f + SG_DTLS_HDR_LEN + 6, o);
				sg_store_be24(f + SG_DTLS_HDR_LEN + 9, fl);
				memcpy(f + SG_DTLS_HDR_LEN + SG_DTLS_HS_HDR_LEN,
				       m + SG_DTLS_HS_HDR_LEN + o, fl);
				to_client(p, f, SG_DTLS_HDR_LEN + SG_DTLS_HS_HDR_LEN + fl);
			}
			m += SG_DTLS_HS_HDR_LEN + mlen;
		}
	}
	if (rest_len)
		to_client(p, rest, rest_len);
}

/* Every truncation and every one-byte corruption of d, each fed to a copy of the client. */
static void garble(struct pair *p, const uint8_t *d, size_t len)
{
	size_t sa_len = sg_rec_sa_size(sg_rec_ctx_window_bits(p->rec));
	struct sg_rec_sa *sa = malloc(sa_len);
	struct sg_fc_hs *hs = malloc(sizeof(*hs));
	uint8_t bad[DMAX], out[DMAX];
	size_t olen;

	assert_non_null(sa);
	assert_non_null(hs);
	for (size_t i = 0; i < 2 * len; i++) {
		struct sg_fc_dev dev = p->dev;
		struct sg_fc_conf conf = p->conf;
		struct sg_fc_ticket ticket = p->ticket;
		size_t n = i < len ? i : len;

		memcpy(sa, p->dev.sa, sa_len);
		memcpy(hs, &p->hs, sizeof(*hs));
		dev.sa = sa;
		/* the copy's failures wipe the copy's ticket slot, not the device's */
		conf.ticket = p->conf.ticket ? &ticket : NULL;
		hs->conf = &conf;
		memcpy(bad, d, len);
		if (i >= len)
			bad[i - len] ^= 0x5a;
		(void)sg_fc_input(&dev, hs, bad, n, out, sizeof(out), &olen);
		/* a cut datagram never completes the handshake */
		if (i < len)
			assert_int_not_equal(dev.state, SG_FC_DONE);
		sg_fc_ticket_wipe(&ticket);
	}
	sg_rec_sa_wipe(sa, sg_rec_ctx_window_bits(p->rec));
	sg_fc_hs_wipe(hs);
	free(sa);
	free(hs);
}

static int settled(struct pair *p, int srv_failed)
{
	int client = p->dev.state == SG_FC_DONE || p->dev.state == SG_FC_FAILED;

	return client && (SSL_is_init_finished(p->srv) || srv_failed);
}

/*
 * Move datagrams until both ends rest; when nothing moves the client's
 * timer fires (sg_fc_resend), at most timeouts times. Returns the server's
 * failure (1) or 0.
 */
static int run(struct pair *p, const struct row *r, int timeouts, int garbling)
{
	uint8_t d[DMAX];
	size_t len;
	int srv_failed = 0;

	assert_int_equal(sg_fc_start(&p->dev, &p->hs, &p->conf, d, sizeof(d), &len), 0);
	assert_int_equal(p->dev.state, SG_FC_WAIT_HELLO);
	to_server(p, d, len);
	for (int round = 0, idle = 0; round < ROUNDS && !settled(p, srv_failed); round++) {
		int moved = 0;

		if (!SSL_is_init_finished(p->srv) && !srv_failed) {
			int ret = SSL_do_handshake(p->srv);

			if (ret <= 0 && SSL_get_error(p->srv, ret) == SSL_ERROR_SSL)
				srv_failed = 1;
		}
		while ((len = q_pop(&p->net.s2c, d)) > 0) {
			moved = 1;
			if (garbling)
				garble(p, d, len);
			if (r->fragment)
				to_client_fragmented(p, d, len);
			else
				to_client(p, d, len);
		}
		/* the server may need a second call to write what it read */
		idle = moved || p->net.c2s.n ? 0 : idle + 1;
		if (idle == 2 && !settled(p, srv_failed)) {
			idle = 0;
			if (timeouts-- <= 0)
				break;
			assert_int_equal(sg_fc_resend(&p->dev, &p->hs, d, sizeof(d), &len), 0);
			assert_true(len > 0);
			to_server(p, d, len);
		}
	}
	if (getenv("FC_DEBUG")) {
		fprintf(stderr, "# server %s, client %s\n", SSL_state_string_long(p->srv),
		        sg_fc_state_name((enum sg_fc_state)p->dev.state));
		ERR_print_errors_fp(stderr);
	}
	ERR_clear_error();
	return srv_failed;
}

/* One application record each way: ours opened by OpenSSL, OpenSSL's opened with our SA. */
static void exchange(struct pair *p)
{
	enum sg_aead aead = (enum sg_aead)sg_suite_find(p->dev.suite)->aead;
	unsigned head = sg_rec_seal_headroom(aead, 0, 0);
	uint8_t buf[DMAX];
	struct sg_rec_seal_op so = { .buf = buf,
		                     .buf_len = sizeof(buf),
		                     .pt_off = head,
		                     .pt_len = 4,
		                     .sa = p->dev.sa,
		                     .type = SG_DTLS_CT_APPLICATION_DATA };
	struct sg_rec_open_op oo = { 0 };
	struct sg_rec_hdr rh;
	size_t len;
	int got = 0;

	memcpy(buf + head, "ping", 4);
	assert_int_equal(sg_rec_seal_burst(p->rec, &so, 1), 1);
	assert_int_equal(q_push(&p->net.c2s, buf + so.rec_off, so.rec_len), 0);
	assert_int_equal(SSL_read(p->srv, buf, sizeof(buf)), 4);
	assert_memory_equal(buf, "ping", 4);

	assert_int_equal(SSL_write(p->srv, "pong", 4), 4);
	while (!got && (len = q_pop(&p->net.s2c, buf)) > 0) {
		if (sg_rec_parse(buf, len, 0, &rh, 1) != 1 ||
		    rh.type != SG_DTLS_CT_APPLICATION_DATA)
			continue;
		oo = (struct sg_rec_open_op){ .rec = buf + rh.off,
			                      .rec_len = rh.len,
			                      .sa = p->dev.sa };
		assert_int_equal(sg_rec_open_burst(p->rec, &oo, 1), 1);
		got = 1;
	}
	assert_true(got);
	assert_int_equal(oo.type, SG_DTLS_CT_APPLICATION_DATA);
	assert_int_equal(oo.pt_len, 4);
	assert_memory_equal(buf + rh.off + oo.pt_off, "pong", 4);
}

/* Every row: the handshake completes on both sides, with EMS, and the keys agree. */
static void test_rows(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct pair *p = pair_new(&rows[i], psk_good);

		print_message("# %s cookies=%d fragment=%d groups=%s\n", rows[i].ossl,
		              rows[i].cookies, rows[i].fragment,
		              rows[i].groups ? rows[i].groups : "-");
		assert_int_equal(run(p, &rows[i], 0, 0), 0);
		assert_int_equal(p->dev.state, SG_FC_DONE);
		assert_true(SSL_is_init_finished(p->srv));
		assert_int_equal(p->dev.suite, rows[i].suite);
		assert_int_equal(SSL_CIPHER_get_protocol_id(SSL_get_current_cipher(p->srv)),
		                 rows[i].suite);
		assert_int_equal(p->dev.ems, 1);
		assert_int_equal(p->hs.hvr_count, rows[i].cookies);
		exchange(p);
		pair_free(p);
	}
}

/*
 * conf->group: a device that offers secp256r1 alone gets it from a server that
 * prefers X25519 (and the keys agree); offered to a server with X25519 only,
 * there is no shared group: OpenSSL ends the handshake with an alert.
 */
static void test_one_group(void **state)
{
	static const struct row both = { SG_TLS_ECDHE_PSK_WITH_CHACHA20_POLY1305_SHA256,
		                         "ECDHE-PSK-CHACHA20-POLY1305",
		                         "X25519:P-256",
		                         1,
		                         0,
		                         NULL };
	static const struct row x25519 = { SG_TLS_ECDHE_PSK_WITH_CHACHA20_POLY1305_SHA256,
		                           "ECDHE-PSK-CHACHA20-POLY1305",
		                           "X25519",
		                           0,
		                           0,
		                           NULL };
	struct pair *p = pair_new(&both, psk_good);

	(void)state;
	p->conf.group = SG_TLS_GROUP_SECP256R1;
	assert_int_equal(run(p, &both, 0, 0), 0);
	assert_int_equal(p->dev.state, SG_FC_DONE);
	assert_int_equal(p->hs.group, SG_TLS_GROUP_SECP256R1);
	exchange(p);
	pair_free(p);

	p = pair_new(&x25519, psk_good);
	p->conf.group = SG_TLS_GROUP_SECP256R1;
	run(p, &x25519, 0, 0);
	assert_int_equal(p->dev.state, SG_FC_FAILED);
	assert_false(SSL_is_init_finished(p->srv));
	pair_free(p);

	p = pair_new(&both, psk_good);
	p->conf.group = SG_TLS_GROUP_X25519;
	assert_int_equal(run(p, &both, 0, 0), 0);
	assert_int_equal(p->hs.group, SG_TLS_GROUP_X25519);
	pair_free(p);
}

/*
 * A wrong key: OpenSSL cannot open our Finished and drops it (RFC 6347
 * §4.1.2.7), our retransmissions too; neither side completes, and nothing
 * but the client's timer moves.
 */
static void test_wrong_psk(void **state)
{
	struct pair *p = pair_new(&rows[1], psk_bad);

	(void)state;
	run(p, &rows[1], 3, 0);
	assert_int_equal(p->dev.state, SG_FC_WAIT_FINISHED);
	assert_false(SSL_is_init_finished(p->srv));
	pair_free(p);
}

/* An identity the server does not know: its fatal alert ends our handshake. */
static void test_unknown_identity(void **state)
{
	struct pair *p = pair_new(&rows[0], psk_good);

	(void)state;
	p->conf.identity = "fleet-device-unknown";
	assert_int_equal(run(p, &rows[0], 0, 0), 1);
	assert_int_equal(p->dev.state, SG_FC_FAILED);
	assert_int_equal(p->dev.error, -ECONNREFUSED);
	assert_int_equal(p->dev.alert, SG_TLS_ALERT_UNKNOWN_PSK_IDENTITY);
	assert_false(SSL_is_init_finished(p->srv));
	pair_free(p);
}

/*
 * Every server datagram of two handshakes (PSK with cookies, ECDHE-PSK over
 * P-256), each a full one with a ticket and then the abbreviated one that
 * resumes it, cut at every length and corrupted at every byte, before the
 * real one arrives: each is refused or ignored without harm (ASan watches),
 * and the real handshake still completes.
 */
static void test_garbled(void **state)
{
	const struct row *pick[] = { &rows[1], &rows[8] };

	(void)state;
	for (size_t i = 0; i < 2; i++) {
		struct row r = *pick[i];
		struct pair *p;

		r.fragment = 0;
		p = pair_new_tickets(&r, psk_good, 1);
		assert_int_equal(run(p, &r, 0, 1), 0);
		assert_int_equal(p->dev.state, SG_FC_DONE);
		assert_true(p->ticket.len > 0);
		exchange(p);
		pair_reconnect(p, 0);
		assert_int_equal(run(p, &r, 0, 1), 0);
		assert_int_equal(p->dev.state, SG_FC_DONE);
		assert_int_equal(p->dev.resumed, 1);
		exchange(p);
		pair_free(p);
	}
}

/* A resent flight is new records (RFC 6347 §4.1) carrying the same message (§4.2.4). */
static void test_resend_fresh_records(void **state)
{
	struct pair *p = pair_new(&rows[0], psk_good);
	uint8_t a[DMAX], b[DMAX];
	size_t alen, blen;

	(void)state;
	assert_int_equal(sg_fc_start(&p->dev, &p->hs, &p->conf, a, sizeof(a), &alen), 0);
	assert_int_equal(sg_fc_resend(&p->dev, &p->hs, b, sizeof(b), &blen), 0);
	assert_int_equal(alen, blen);
	assert_int_equal(sg_load_be48(a + SG_DTLS_HDR_OFF_SEQ), 0);
	assert_int_equal(sg_load_be48(b + SG_DTLS_HDR_OFF_SEQ), 1);
	assert_memory_equal(a + SG_DTLS_HDR_LEN, b + SG_DTLS_HDR_LEN, alen - SG_DTLS_HDR_LEN);
	pair_free(p);
}

#define NBAD 10

/* Configurations sg_fc_start() refuses, one per row. */
static void test_bad_conf(void **state)
{
	static const uint16_t unknown[] = { 0x1234 },
	                      ecdsa[] = { SG_TLS_ECDHE_ECDSA_WITH_AES_128_CCM_8 };
	static const uint8_t long_psk[SG_TLS_PSK_MAX + 1];
	struct pair *p = pair_new(&rows[0], psk_good);
	const struct sg_fc_conf good = p->conf;
	static const uint8_t cid[SG_FC_CID_MAX + 1];
	struct sg_fc_ticket long_ticket = { 0 };
	struct sg_fc_conf bad[NBAD];
	uint8_t out[DMAX];
	size_t len;

	(void)state;
	for (size_t i = 0; i < NBAD; i++)
		bad[i] = good;
	bad[0].suites = unknown;
	bad[1].suites = ecdsa;
	bad[2].identity = "";
	bad[3].psk = long_psk;
	bad[3].psk_len = sizeof(long_psk);
	bad[4].n_suites = 0;
	bad[5].rec = NULL;
	/* a CID the record context cannot frame (its CIDs are 0 bytes), one too long, none */
	bad[6].use_cid = 1;
	bad[6].cid_len = 4;
	bad[6].cid = cid;
	bad[7].use_cid = 1;
	bad[7].cid_len = SG_FC_CID_MAX + 1;
	bad[7].cid = cid;
	bad[8].use_cid = 1;
	bad[8].cid_len = 4;
	bad[9].ticket = &long_ticket;
	long_ticket.len = SG_FC_TICKET_MAX + 1;
	for (size_t i = 0; i < NBAD; i++)
		assert_int_equal(sg_fc_start(&p->dev, &p->hs, &bad[i], out, sizeof(out), &len),
		                 -EINVAL);
	assert_int_equal(sg_fc_start(&p->dev, &p->hs, &good, out, 40, &len), -EMSGSIZE);
	pair_free(p);
}

/* Resumption rows: PSK and ECDHE-PSK, with and without cookies and fragments. */
static const struct row *const resume_rows[] = { &rows[1], &rows[2], &rows[5], &rows[7], &rows[8] };

/* A full handshake that leaves a ticket in the slot: the session it stands for is this one. */
static void full_with_ticket(struct pair *p)
{
	assert_int_equal(run(p, p->row, 0, 0), 0);
	assert_int_equal(p->dev.state, SG_FC_DONE);
	assert_int_equal(p->dev.resumed, 0);
	assert_false(SSL_session_reused(p->srv));
	assert_true(p->ticket.len > 0);
	assert_int_equal(p->ticket.suite, p->row->suite);
	assert_int_equal(p->ticket.ems, 1);
	assert_memory_equal(p->ticket.master, p->hs.master, sizeof(p->ticket.master));
	exchange(p);
}

/*
 * RFC 5077 with OpenSSL's tickets (its default for DTLS 1.2): a full
 * handshake gets a ticket, the next connection resumes from it (OpenSSL
 * says so too), with EMS, and carries data; the ticket stays usable.
 */
static void test_resume(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(resume_rows) / sizeof(resume_rows[0]); i++) {
		const struct row *r = resume_rows[i];
		struct pair *p = pair_new_tickets(r, psk_good, 1);

		print_message("# resume %s cookies=%d fragment=%d groups=%s\n", r->ossl, r->cookies,
		              r->fragment, r->groups ? r->groups : "-");
		full_with_ticket(p);
		print_message("# OpenSSL's ticket: %u bytes\n", p->ticket.len);
		for (int again = 0; again < 2; again++) {
			pair_reconnect(p, 0);
			assert_int_equal(run(p, r, 0, 0), 0);
			assert_int_equal(p->dev.state, SG_FC_DONE);
			assert_int_equal(p->dev.resumed, 1);
			assert_int_equal(p->hs.hvr_count, r->cookies);
			assert_true(SSL_is_init_finished(p->srv));
			assert_true(SSL_session_reused(p->srv));
			assert_int_equal(p->dev.suite, r->suite);
			assert_int_equal(p->dev.ems, 1);
			assert_true(p->ticket.len > 0);
			exchange(p);
		}
		pair_free(p);
	}
}

/* A ticket the server cannot open (new ticket keys): a full handshake, and its new ticket. */
static void test_ticket_rejected(void **state)
{
	struct pair *p = pair_new_tickets(&rows[7], psk_good, 1);
	struct sg_fc_ticket old;

	(void)state;
	full_with_ticket(p);
	old = p->ticket;
	pair_reconnect(p, 1);
	assert_int_equal(run(p, p->row, 0, 0), 0);
	assert_int_equal(p->dev.state, SG_FC_DONE);
	assert_int_equal(p->hs.ticket_offered, 1);
	assert_int_equal(p->dev.resumed, 0);
	assert_false(SSL_session_reused(p->srv));
	assert_true(p->ticket.len > 0);
	assert_memory_not_equal(p->ticket.master, old.master, sizeof(old.master));
	exchange(p);
	sg_fc_ticket_wipe(&old);
	pair_free(p);
}

/*
 * The renegotiation SCSV in a ClientHello (RFC 5746 §3.3) replaced on the way
 * by an unassigned suite the server skips: the server's transcript differs
 * from ours, and nothing else does (the keys come from the randoms).
 */
static void edit_scsv(uint8_t *d, size_t len)
{
	const uint8_t *end = d + len;
	uint8_t *m = d + SG_DTLS_HDR_LEN, *b = m + SG_DTLS_HS_HDR_LEN;
	size_t off;

	if (len < SG_DTLS_HDR_LEN + SG_DTLS_HS_HDR_LEN + 40 || d[0] != SG_DTLS_CT_HANDSHAKE ||
	    m[0] != SG_TLS_HT_CLIENT_HELLO)
		return;
	off = 2 + SG_TLS_RANDOM_LEN;
	off += 1 + b[off];
	off += 1 + b[off];
	for (size_t i = off + 2; i + 1 < off + 2 + sg_load_be16(b + off) && b + i + 1 < end; i += 2)
		if (sg_load_be16(b + i) == SG_TLS_EMPTY_RENEGOTIATION_INFO_SCSV)
			sg_store_be16(b + i, 0x00fe);
}

/*
 * Resumptions the client must refuse, the session_id echoed each time: a
 * server Finished that does not verify (records open, but the server hashed
 * another ClientHello), and RFC 7627 §5.3: a session kept as non-EMS resumed
 * with EMS. The handshake fails with -EPROTO and the ticket is gone
 * (RFC 5246 §7.2.2).
 */
static void test_resume_refused(void **state)
{
	(void)state;
	for (int kind = 0; kind < 2; kind++) {
		struct pair *p = pair_new_tickets(&rows[1], psk_good, 1);

		full_with_ticket(p);
		if (kind == 0)
			p->edit = edit_scsv;
		else
			p->ticket.ems = 0;
		pair_reconnect(p, 0);
		(void)run(p, p->row, 0, 0);
		assert_int_equal(p->hs.abbrev, 1);
		/* the wrong Finished came after the CCS; the EMS check ends it at the ServerHello
		 */
		assert_int_equal(p->hs.peer_ccs, kind == 0);
		assert_int_equal(p->dev.state, SG_FC_FAILED);
		assert_int_equal(p->dev.error, -EPROTO);
		assert_false(SSL_is_init_finished(p->srv));
		assert_int_equal(p->ticket.len, 0);
		pair_free(p);
	}
}

/* OpenSSL's retransmission timer at 100 ms (DTLS_set_timer_cb), so the test need not wait 1 s. */
static unsigned int short_timer(SSL *ssl, unsigned int previous_us)
{
	(void)ssl;
	(void)previous_us;
	return 100000;
}

/* The server's datagrams to the client; the client's answers kept in ans (the last), not sent. */
static size_t to_client_keep(struct pair *p, uint8_t *ans, unsigned *n_ans)
{
	uint8_t d[DMAX], out[DMAX];
	size_t len, olen, alen = 0;

	*n_ans = 0;
	while ((len = q_pop(&p->net.s2c, d)) > 0) {
		assert_int_equal(sg_fc_input(&p->dev, &p->hs, d, len, out, sizeof(out), &olen), 0);
		if (olen) {
			memcpy(ans, out, olen);
			alen = olen;
			++*n_ans;
		}
	}
	return alen;
}

/*
 * After an abbreviated handshake our Finished goes last: when it is lost,
 * the server's flight comes again (RFC 6347 §4.2.4, OpenSSL's timer) and
 * gets our final flight again, in new records; OpenSSL then completes.
 */
static void test_resume_final_flight_lost(void **state)
{
	struct pair *p = pair_new_tickets(&rows[0], psk_good, 1);
	uint8_t d[DMAX], first[DMAX], again[DMAX];
	struct sg_rec_hdr a[4], b[4];
	size_t len, flen, alen;
	unsigned n_ans;

	(void)state;
	full_with_ticket(p);
	pair_reconnect(p, 0);
	DTLS_set_timer_cb(p->srv, short_timer);
	assert_int_equal(sg_fc_start(&p->dev, &p->hs, &p->conf, d, sizeof(d), &len), 0);
	assert_int_equal(q_push(&p->net.c2s, d, len), 0);
	assert_true(SSL_do_handshake(p->srv) <= 0);
	flen = to_client_keep(p, first, &n_ans); /* dropped on the way */
	assert_int_equal(n_ans, 1);
	assert_int_equal(p->dev.state, SG_FC_DONE);
	assert_int_equal(p->dev.resumed, 1);
	assert_false(SSL_is_init_finished(p->srv));

	usleep(120000);
	assert_int_equal(DTLSv1_handle_timeout(p->srv), 1);
	alen = to_client_keep(p, again, &n_ans);
	assert_true(n_ans >= 1);
	/* CCS, then the Finished under epoch 1: the same messages, new record numbers */
	assert_int_equal(sg_rec_parse(first, flen, 0, a, 4), 2);
	assert_int_equal(sg_rec_parse(again, alen, 0, b, 4), 2);
	assert_int_equal(a[1].epoch, 1);
	assert_int_equal(b[1].epoch, 1);
	assert_true(b[0].seq > a[0].seq);
	assert_true(b[1].seq > a[1].seq);
	assert_int_equal(q_push(&p->net.c2s, again, alen), 0);
	assert_int_equal(SSL_do_handshake(p->srv), 1);
	assert_true(SSL_session_reused(p->srv));
	exchange(p);
	/* a wiped hs is let go: nothing more is answered */
	sg_fc_hs_wipe(&p->hs);
	assert_int_equal(sg_fc_input(&p->dev, &p->hs, first, flen, d, sizeof(d), &len), 0);
	assert_int_equal(len, 0);
	pair_free(p);
}

/*
 * A server message longer than the client reassembles (SG_FC_MSG_MAX): the
 * one it waits for fails the handshake at once (-EMSGSIZE) instead of never
 * completing; a later one is dropped (RFC 6347 §4.2.2) and changes nothing.
 */
static void test_oversized_message(void **state)
{
	struct pair *p = pair_new(&rows[0], psk_good);
	uint8_t d[DMAX], out[DMAX];
	size_t len;

	(void)state;
	for (int seq = 1; seq >= 0; seq--) {
		uint8_t *h = d + SG_DTLS_HDR_LEN;

		assert_int_equal(sg_fc_start(&p->dev, &p->hs, &p->conf, d, sizeof(d), &len), 0);
		memset(d, 0, sizeof(d));
		d[SG_DTLS_HDR_OFF_TYPE] = SG_DTLS_CT_HANDSHAKE;
		sg_store_be16(d + SG_DTLS_HDR_OFF_VER, SG_DTLS_VERSION_1_2);
		sg_store_be16(d + SG_DTLS_HDR_LEN - 2, SG_DTLS_HS_HDR_LEN + 10);
		h[0] = SG_TLS_HT_SERVER_HELLO;
		sg_store_be24(h + 1, SG_FC_MSG_MAX + 1);
		sg_store_be16(h + 4, (uint16_t)seq);
		sg_store_be24(h + 9, 10);
		assert_int_equal(sg_fc_input(&p->dev, &p->hs, d,
		                             SG_DTLS_HDR_LEN + SG_DTLS_HS_HDR_LEN + 10, out,
		                             sizeof(out), &len),
		                 seq ? 0 : -EMSGSIZE);
		assert_int_equal(p->dev.state, seq ? SG_FC_WAIT_HELLO : SG_FC_FAILED);
	}
	assert_int_equal(p->dev.error, -EMSGSIZE);
	pair_free(p);
}

/*
 * The memory a device keeps (issue 14: at most 256 bytes outside a
 * handshake, with the SA and the fleet's own fields), and what a resuming
 * device adds.
 */
static void test_sizes(void **state)
{
	(void)state;
	print_message("# sg_fc_dev %zu B, SA %zu B, sg_fc_ticket %zu B, sg_fc_hs %zu B\n",
	              sizeof(struct sg_fc_dev), sg_rec_sa_size(SG_REPLAY_WINDOW_DEFAULT),
	              sizeof(struct sg_fc_ticket), sizeof(struct sg_fc_hs));
	assert_true(sizeof(struct sg_fc_dev) <= 40);
	assert_true(sizeof(struct sg_fc_dev) + sg_rec_sa_size(SG_REPLAY_WINDOW_DEFAULT) <= 168);
	assert_true(sizeof(struct sg_fc_ticket) <= 460);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rows),
		cmocka_unit_test(test_one_group),
		cmocka_unit_test(test_wrong_psk),
		cmocka_unit_test(test_unknown_identity),
		cmocka_unit_test(test_garbled),
		cmocka_unit_test(test_resend_fresh_records),
		cmocka_unit_test(test_bad_conf),
		cmocka_unit_test(test_resume),
		cmocka_unit_test(test_ticket_rejected),
		cmocka_unit_test(test_resume_refused),
		cmocka_unit_test(test_resume_final_flight_lost),
		cmocka_unit_test(test_oversized_message),
		cmocka_unit_test(test_sizes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
