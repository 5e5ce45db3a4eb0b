/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Record layer: suites, SA and context lifecycle, round trips against
 * OpenSSL EVP for every suite and every payload length 0..2048 in both
 * directions (with and without RFC 9146 CIDs, short and long), the tamper
 * table, mixed bursts, sealing limits, forgery limits and the parser.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <stormgate/record.h>
#include <stormgate/suite.h>

#include "rec_test.h"

#define BUF_LEN  2400 /* 2048 payload + header, CID, nonce, padding, tag */
#define HEADROOM 300  /* 13 + 255-byte CID + 8 */

static const enum sg_aead all_aeads[] = {
	SG_AEAD_AES_128_CCM_8, SG_AEAD_AES_128_CCM,       SG_AEAD_AES_128_GCM,
	SG_AEAD_AES_256_GCM,   SG_AEAD_CHACHA20_POLY1305,
};
#define N_AEAD SG_ARRAY_SIZE(all_aeads)

static uint8_t (*bufs)[BUF_LEN]; /* [SG_BURST_MAX] */
static uint8_t (*outs)[BUF_LEN];

static int group_setup(void **state)
{
	(void)state;
	bufs = malloc(SG_BURST_MAX * sizeof(*bufs));
	outs = malloc(SG_BURST_MAX * sizeof(*outs));
	return bufs && outs ? 0 : -1;
}

static int group_teardown(void **state)
{
	(void)state;
	free(bufs);
	free(outs);
	return 0;
}

/* ---- suites, SAs, contexts ------------------------------------------------------ */

static void test_suite_mapping(void **state)
{
	static const struct {
		uint16_t suite;
		int aead; /* -1: not in the registry */
	} rows[] = {
		{ 0xc0a8, SG_AEAD_AES_128_CCM_8 },
		{ 0xc0ae, SG_AEAD_AES_128_CCM_8 },
		{ 0xd003, SG_AEAD_AES_128_CCM_8 },
		{ 0xc0a4, SG_AEAD_AES_128_CCM },
		{ 0xd005, SG_AEAD_AES_128_CCM },
		{ 0x00a8, SG_AEAD_AES_128_GCM },
		{ 0xc02b, SG_AEAD_AES_128_GCM },
		{ 0xd001, SG_AEAD_AES_128_GCM },
		{ 0x00a9, SG_AEAD_AES_256_GCM },
		{ 0xccab, SG_AEAD_CHACHA20_POLY1305 },
		{ 0xccac, SG_AEAD_CHACHA20_POLY1305 },
		{ 0xc0ac, SG_AEAD_AES_128_CCM },        /* ECDHE_ECDSA_WITH_AES_128_CCM */
		{ 0xc02c, SG_AEAD_AES_256_GCM },        /* ECDHE_ECDSA_WITH_AES_256_GCM_SHA384 */
		{ 0xcca9, SG_AEAD_CHACHA20_POLY1305 },  /* ECDHE_ECDSA_WITH_CHACHA20_POLY1305 */
		{ 0x00ae, SG_AEAD_AES_128_CBC_SHA256 }, /* PSK_WITH_AES_128_CBC_SHA256 */
		{ 0xc023, SG_AEAD_AES_128_CBC_SHA256 }, /* ECDHE_ECDSA_WITH_AES_128_CBC_SHA256 */
		{ 0x002f, -1 },                         /* AES_128_CBC_SHA: SHA-1, never */
		{ 0x008c, -1 },                         /* PSK_WITH_AES_128_CBC_SHA */
		{ 0xc027, -1 },                         /* ECDHE_RSA_WITH_AES_128_CBC_SHA256 */
		{ 0xd002, -1 },
		{ 0x0000, -1 },
	};

	(void)state;
	for (size_t i = 0; i < SG_ARRAY_SIZE(rows); i++) {
		const struct sg_suite *su = sg_suite_find(rows[i].suite);

		if (rows[i].aead < 0) {
			assert_null(su);
			continue;
		}
		assert_non_null(su);
		assert_int_equal(su->id, rows[i].suite);
		assert_int_equal(su->aead, rows[i].aead);
	}
	assert_string_equal(sg_aead_name(SG_AEAD_AES_128_CCM_8), "aes_128_ccm_8");
	assert_string_equal(sg_aead_name(SG_AEAD_MAX), "unknown");
	assert_string_equal(sg_rec_status_name(SG_REC_AUTH_FAILED), "auth_failed");
	assert_string_equal(sg_rec_status_name(SG_REC_STATUS_MAX), "unknown");
	for (int s = 0; s < SG_REC_STATUS_MAX; s++)
		assert_string_not_equal(sg_rec_status_name((enum sg_rec_status)s), "unknown");
}

/*
 * The registry row by row, against the RFCs (values written out here, not
 * taken from dtls.h): IANA name and value, AEAD, PRF hash, key exchange, tag
 * length, RFC 9147 §4.5.3 integrity limit, and the default rank (the order
 * docs/handshake.md gives and explains; 0: not negotiated).
 */
static void test_suite_registry(void **state)
{
	static const struct sg_suite want[] = {
		{ "TLS_ECDHE_PSK_WITH_AES_128_CCM_SHA256", 0xd005, SG_AEAD_AES_128_CCM,
		  SG_PRF_SHA256, SG_KX_ECDHE_PSK, 16, 1, 11863283 },
		{ "TLS_ECDHE_PSK_WITH_AES_128_GCM_SHA256", 0xd001, SG_AEAD_AES_128_GCM,
		  SG_PRF_SHA256, SG_KX_ECDHE_PSK, 16, 2, 0xffffffff },
		{ "TLS_ECDHE_PSK_WITH_CHACHA20_POLY1305_SHA256", 0xccac, SG_AEAD_CHACHA20_POLY1305,
		  SG_PRF_SHA256, SG_KX_ECDHE_PSK, 16, 3, 0xffffffff },
		{ "TLS_ECDHE_PSK_WITH_AES_128_CCM_8_SHA256", 0xd003, SG_AEAD_AES_128_CCM_8,
		  SG_PRF_SHA256, SG_KX_ECDHE_PSK, 8, 4, 128 },
		{ "TLS_PSK_WITH_AES_128_CCM", 0xc0a4, SG_AEAD_AES_128_CCM, SG_PRF_SHA256, SG_KX_PSK,
		  16, 5, 11863283 },
		{ "TLS_PSK_WITH_AES_128_GCM_SHA256", 0x00a8, SG_AEAD_AES_128_GCM, SG_PRF_SHA256,
		  SG_KX_PSK, 16, 6, 0xffffffff },
		{ "TLS_PSK_WITH_AES_256_GCM_SHA384", 0x00a9, SG_AEAD_AES_256_GCM, SG_PRF_SHA384,
		  SG_KX_PSK, 16, 7, 0xffffffff },
		{ "TLS_PSK_WITH_CHACHA20_POLY1305_SHA256", 0xccab, SG_AEAD_CHACHA20_POLY1305,
		  SG_PRF_SHA256, SG_KX_PSK, 16, 8, 0xffffffff },
		{ "TLS_PSK_WITH_AES_128_CCM_8", 0xc0a8, SG_AEAD_AES_128_CCM_8, SG_PRF_SHA256,
		  SG_KX_PSK, 8, 9, 128 },
		{ "TLS_ECDHE_ECDSA_WITH_AES_128_CCM", 0xc0ac, SG_AEAD_AES_128_CCM, SG_PRF_SHA256,
		  SG_KX_ECDHE_ECDSA, 16, 10, 11863283 },
		{ "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", 0xc02b, SG_AEAD_AES_128_GCM,
		  SG_PRF_SHA256, SG_KX_ECDHE_ECDSA, 16, 11, 0xffffffff },
		{ "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384", 0xc02c, SG_AEAD_AES_256_GCM,
		  SG_PRF_SHA384, SG_KX_ECDHE_ECDSA, 16, 12, 0xffffffff },
		{ "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256", 0xcca9,
		  SG_AEAD_CHACHA20_POLY1305, SG_PRF_SHA256, SG_KX_ECDHE_ECDSA, 16, 13, 0xffffffff },
		{ "TLS_ECDHE_ECDSA_WITH_AES_128_CCM_8", 0xc0ae, SG_AEAD_AES_128_CCM_8,
		  SG_PRF_SHA256, SG_KX_ECDHE_ECDSA, 8, 14, 128 },
		{ "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256", 0xc023, SG_AEAD_AES_128_CBC_SHA256,
		  SG_PRF_SHA256, SG_KX_ECDHE_ECDSA, 32, 15, 0xffffffff },
		{ "TLS_PSK_WITH_AES_128_CBC_SHA256", 0x00ae, SG_AEAD_AES_128_CBC_SHA256,
		  SG_PRF_SHA256, SG_KX_PSK, 32, 16, 0xffffffff },
	};

	(void)state;
	assert_int_equal(SG_ARRAY_SIZE(want), SG_SUITES_N);
	for (unsigned i = 0; i < SG_SUITES_N; i++) {
		const struct sg_suite *su = &sg_suites[i], *w = &want[i];

		print_message("# %u %04x %s rank %u\n", i, su->id, su->name, su->rank);
		assert_string_equal(su->name, w->name);
		assert_int_equal(su->id, w->id);
		assert_int_equal(su->aead, w->aead);
		assert_int_equal(su->prf, w->prf);
		assert_int_equal(su->kx, w->kx);
		assert_int_equal(su->tag_len, w->tag_len);
		assert_int_equal(su->rank, w->rank);
		assert_int_equal(su->integrity_limit, w->integrity_limit);
		/* Ranked rows first, each at its rank; what the record layer uses agrees. */
		assert_int_equal(su->rank, i < SG_SUITES_RANKED ? i + 1 : 0);
		assert_int_equal(su->tag_len, sg_aead_tag_len((enum sg_aead)su->aead));
		assert_int_equal(su->integrity_limit,
		                 sg_aead_integrity_limit((enum sg_aead)su->aead));
		assert_ptr_equal(sg_suite_find(su->id), su);
		assert_ptr_equal(sg_suite_by_name(su->name), su);
	}
	assert_null(sg_suite_by_name("TLS_RSA_WITH_NULL_MD5"));
	assert_null(sg_suite_by_name("tls_psk_with_aes_128_ccm_8")); /* IANA spelling only */
	assert_null(sg_suite_by_name(NULL));
	assert_int_equal(sg_aead_integrity_limit(SG_AEAD_MAX), UINT32_MAX);
}

static void test_sa_init_and_wipe(void **state)
{
	struct tc_keys k;
	struct sg_rec_sa *sa = tc_sa_alloc(4096);
	struct sg_rec_sa_params good = { 0 };
	static const struct {
		unsigned window;
		int aead;
		uint64_t tx_seq, rx_seq;
		uint8_t flags;
		int null_key;
		int expect;
		uint16_t max_pt;  /* params.max_plaintext */
		unsigned want_pt; /* sg_rec_sa_max_plaintext() after a good init */
	} rows[] = {
		{ 128, SG_AEAD_AES_128_GCM, 0, 0, 0, 0, 0, 0, SG_DTLS_MAX_PLAINTEXT },
		{ 64, SG_AEAD_AES_128_GCM, 0, 0, 0, 0, 0 },
		{ 4096, SG_AEAD_AES_128_GCM, 0, 0, SG_SA_F_RX_CID, 0, 0 },
		{ 96, SG_AEAD_AES_128_GCM, 0, 0, 0, 0, -EINVAL },   /* not a power of two */
		{ 32, SG_AEAD_AES_128_GCM, 0, 0, 0, 0, -EINVAL },   /* below the minimum */
		{ 8192, SG_AEAD_AES_128_GCM, 0, 0, 0, 0, -EINVAL }, /* above the maximum */
		{ 128, SG_AEAD_MAX, 0, 0, 0, 0, -EINVAL },
		{ 128, SG_AEAD_AES_128_GCM, UINT64_C(1) << 48, 0, 0, 0, -EINVAL },
		{ 128, SG_AEAD_AES_128_GCM, 0, UINT64_C(1) << 48, 0, 0, -EINVAL },
		{ 128, SG_AEAD_AES_128_GCM, (UINT64_C(1) << 48) - 1, 0, 0, 0, 0 },
		{ 128, SG_AEAD_AES_128_GCM, 0, 0, SG_SA_F_LIVE, 0, -EINVAL },
		{ 128, SG_AEAD_AES_128_GCM, 0, 0, 0, 1, -EINVAL },
		{ 128, SG_AEAD_AES_128_GCM, 0, 0, SG_SA_F_RX_CID | SG_SA_F_RRC, 0, 0 },
		/* The peer's record limit (RFC 8449 §4: 64 .. 2^14; RFC 6066 §4: 2^9 .. 2^12). */
		{ 128, SG_AEAD_AES_128_GCM, 0, 0, 0, 0, 0, 64, 64 },
		{ 128, SG_AEAD_AES_128_GCM, 0, 0, 0, 0, 0, 512, 512 },
		{ 128, SG_AEAD_AES_128_GCM, 0, 0, 0, 0, 0, SG_DTLS_MAX_PLAINTEXT,
		  SG_DTLS_MAX_PLAINTEXT },
		{ 128, SG_AEAD_AES_128_GCM, 0, 0, 0, 0, -EINVAL, 63 },
		{ 128, SG_AEAD_AES_128_GCM, 0, 0, 0, 0, -EINVAL, SG_DTLS_MAX_PLAINTEXT + 1 },
		/* The limit and the last sequence number share a word: neither spoils the other. */
		{ 128, SG_AEAD_AES_128_GCM, (UINT64_C(1) << 48) - 1, 0, 0, 0, 0, 100, 100 },
	};

	(void)state;
	assert_non_null(sa);
	tc_keys_make(&k, 1);
	for (size_t i = 0; i < SG_ARRAY_SIZE(rows); i++) {
		good.aead = (enum sg_aead)rows[i].aead;
		good.epoch = 1;
		good.flags = rows[i].flags;
		good.rx_key = rows[i].null_key ? NULL : k.client_key;
		good.tx_key = k.server_key;
		good.rx_iv = k.client_iv;
		good.tx_iv = k.server_iv;
		good.tx_seq = rows[i].tx_seq;
		good.rx_seq = rows[i].rx_seq;
		good.max_plaintext = rows[i].max_pt;
		assert_int_equal(sg_rec_sa_init(sa, rows[i].window, &good), rows[i].expect);
		if (rows[i].expect == 0) {
			assert_true(sa->flags & SG_SA_F_LIVE);
			assert_int_equal(sa->aead, rows[i].aead);
			assert_memory_equal(sa->rx_key, k.client_key, 16);
			assert_true(sg_rec_sa_tx_seq(sa) == rows[i].tx_seq);
			assert_int_equal(sg_rec_sa_max_plaintext(sa),
			                 rows[i].want_pt ? rows[i].want_pt : SG_DTLS_MAX_PLAINTEXT);
		}
	}

	/* rx_seq: numbers below it were consumed by the handshake. */
	good.aead = SG_AEAD_AES_128_CCM_8;
	good.flags = 0;
	good.rx_key = k.client_key;
	good.tx_seq = 0;
	good.rx_seq = 5;
	good.max_plaintext = 0;
	assert_int_equal(sg_rec_sa_init(sa, 128, &good), 0);
	assert_int_equal(sg_rec_replay_check(sa, 128, 4), SG_REC_REPLAYED);
	assert_int_equal(sg_rec_replay_check(sa, 128, 0), SG_REC_REPLAYED);
	assert_int_equal(sg_rec_replay_check(sa, 128, 5), SG_REC_OK);

	/* Wipe: every byte of the SA and its window goes. */
	assert_int_equal(sg_rec_sa_init(sa, 4096, &good), 0);
	sg_rec_sa_wipe(sa, 4096);
	for (size_t i = 0; i < sg_rec_sa_size(4096); i++)
		assert_int_equal(((uint8_t *)sa)[i], 0);
	free(sa);
}

static void test_ctx_conf(void **state)
{
	static const struct {
		struct sg_rec_ctx_conf conf;
		int ok;
	} rows[] = {
		{ { 0 }, 1 },
		{ { .window_bits = 64 }, 1 },
		{ { .window_bits = 4096, .cid_len = 255 }, 1 },
		{ { .window_bits = 100 }, 0 },
		{ { .window_bits = 8192 }, 0 },
		{ { .cid_len = 256 }, 0 },
		{ { .gcm_cache_entries = 3 }, 0 },
		{ { .gcm_cache_entries = 2 }, 0 }, /* fewer entries than ways */
		{ { .gcm_cache_entries = 4 }, 1 },
		{ { .flags = 0x80 }, 0 },
		{ { .flags = SG_REC_CTX_F_NO_GCM_CACHE }, 1 },
	};

	(void)state;
	for (size_t i = 0; i < SG_ARRAY_SIZE(rows); i++) {
		struct sg_rec_ctx *ctx;

		errno = 0;
		ctx = sg_rec_ctx_create(&rows[i].conf);
		if (rows[i].ok) {
			assert_non_null(ctx);
			assert_int_equal(sg_rec_ctx_window_bits(ctx),
			                 rows[i].conf.window_bits ? rows[i].conf.window_bits : 128);
			assert_int_equal(sg_rec_ctx_cid_len(ctx), rows[i].conf.cid_len);
			assert_string_not_equal(sg_rec_ctx_arch(ctx), "unknown");
		} else {
			assert_null(ctx);
			assert_int_equal(errno, EINVAL);
		}
		sg_rec_ctx_free(ctx);
	}
	sg_rec_ctx_free(NULL);
}

/* ---- round trips against OpenSSL ---------------------------------------------------- */

struct rt_mode {
	const char *name;
	uint8_t flags;
	unsigned srv_cid_len; /* our CID: in records the client sends us */
	unsigned cli_cid_len; /* the client's CID: in records we send */
	unsigned pad;
	unsigned step; /* payload lengths 0, step, 2*step, ... 2048 (and 2048) */
};

static const struct rt_mode modes[] = {
	{ "plain", 0, 0, 0, 0, 1 },
	{ "cid 4/6", SG_SA_F_RX_CID | SG_SA_F_TX_CID, 4, 6, 0, 5 },
	{ "cid 8/8 + padding", SG_SA_F_RX_CID | SG_SA_F_TX_CID, 8, 8, 13, 11 },
	/* RFC 9146 AAD = 23 + CID: 46 bytes is IPsec-MB's CCM limit, 47 needs the composed path */
	{ "cid 23/24", SG_SA_F_RX_CID | SG_SA_F_TX_CID, 23, 24, 0, 23 },
	{ "cid 24/23", SG_SA_F_RX_CID | SG_SA_F_TX_CID, 24, 23, 0, 29 },
	{ "cid 40/255", SG_SA_F_RX_CID | SG_SA_F_TX_CID, 40, 255, 3, 17 },
	{ "rx cid only", SG_SA_F_RX_CID, 4, 0, 0, 37 },
	{ "tx cid only", SG_SA_F_TX_CID, 0, 9, 0, 37 },
};

struct rt_session {
	struct tc_keys k;
	struct sg_rec_sa *srv;
	uint8_t srv_cid[255], cli_cid[255];
	uint64_t cli_seq; /* next sequence number the OpenSSL client sends */
};

static void sessions_init(struct rt_session *ss, const struct rt_mode *m, uint64_t seed)
{
	for (size_t a = 0; a < N_AEAD; a++) {
		struct rt_session *s = &ss[a];

		tc_keys_make(&s->k, seed + a);
		s->srv = tc_sa_alloc(128);
		assert_int_equal(rt_sa_init(s->srv, 128, all_aeads[a], &s->k, 0, 1, m->flags, 0),
		                 0);
		tc_fill(s->srv_cid, sizeof(s->srv_cid), seed * 7 + a);
		tc_fill(s->cli_cid, sizeof(s->cli_cid), seed * 11 + a);
		s->cli_seq = 0;
	}
}

static void sessions_free(struct rt_session *ss)
{
	for (size_t a = 0; a < N_AEAD; a++)
		tc_sa_free(ss[a].srv, 128);
}

/* 0, step, 2*step, ..., always ending with 2048 itself. */
static size_t next_len(size_t len, unsigned step)
{
	if (len == 2048)
		return 2049;
	return len + step > 2048 ? 2048 : len + step;
}

static uint8_t type_for(size_t len)
{
	static const uint8_t types[] = { SG_DTLS_CT_APPLICATION_DATA, SG_DTLS_CT_ALERT,
		                         SG_DTLS_CT_HANDSHAKE, SG_DTLS_CT_APPLICATION_DATA };

	return types[len % SG_ARRAY_SIZE(types)];
}

/* Library seals (server → client), OpenSSL opens. */
static void seal_then_evp(struct sg_rec_ctx *ctx, const struct rt_mode *m, struct rt_session *ss)
{
	struct sg_rec_seal_op ops[SG_BURST_MAX];
	size_t lens[SG_BURST_MAX], aidx[SG_BURST_MAX];
	uint8_t *pt = malloc(BUF_LEN), *expect = malloc(BUF_LEN);
	unsigned n = 0;

	assert_non_null(pt);
	assert_non_null(expect);
	for (size_t len = 0; len <= 2048; len = next_len(len, m->step)) {
		for (size_t a = 0; a < N_AEAD; a++) {
			struct sg_rec_seal_op *op = &ops[n];

			memset(op, 0, sizeof(*op));
			tc_fill(bufs[n] + HEADROOM, len, len * 31 + a);
			op->buf = bufs[n];
			op->buf_len = BUF_LEN;
			op->pt_off = HEADROOM;
			op->pt_len = (uint32_t)len;
			op->sa = ss[a].srv;
			op->cid = ss[a].cli_cid;
			op->cid_len = (uint8_t)m->cli_cid_len;
			op->type = type_for(len);
			op->pad_len = (m->flags & SG_SA_F_TX_CID) ? (uint16_t)m->pad : 0;
			lens[n] = len;
			aidx[n] = a;
			n++;
		}
		if (n + N_AEAD <= SG_BURST_MAX && len < 2048)
			continue;
		assert_int_equal(sg_rec_seal_burst(ctx, ops, n), n);
		for (unsigned i = 0; i < n; i++) {
			const struct rt_session *s = &ss[aidx[i]];
			struct rt_rec r = {
				.aead = all_aeads[aidx[i]],
				.key = s->k.server_key,
				.iv = s->k.server_iv,
				.cid = !!(m->flags & SG_SA_F_TX_CID),
				.cid_len = m->cli_cid_len,
			};
			uint8_t type = 0;
			long got;

			assert_int_equal(ops[i].status, SG_REC_OK);
			got = rt_evp_open_record(&r, bufs[i] + ops[i].rec_off, ops[i].rec_len, pt,
			                         &type);
			assert_int_equal(got, (long)lens[i]);
			assert_int_equal(type, type_for(lens[i]));
			tc_fill(expect, lens[i], lens[i] * 31 + aidx[i]);
			if (lens[i])
				assert_memory_equal(pt, expect, lens[i]);
			if (r.cid && m->cli_cid_len)
				assert_memory_equal(bufs[i] + ops[i].rec_off + SG_DTLS_HDR_OFF_CID,
				                    s->cli_cid, m->cli_cid_len);
		}
		n = 0;
	}
	free(pt);
	free(expect);
}

/* OpenSSL seals (client → server), the library opens, in place or not. */
static void evp_then_open(struct sg_rec_ctx *ctx, const struct rt_mode *m, struct rt_session *ss)
{
	struct sg_rec_open_op ops[SG_BURST_MAX];
	size_t lens[SG_BURST_MAX], aidx[SG_BURST_MAX];
	uint8_t *expect = malloc(BUF_LEN), *pt = malloc(BUF_LEN);
	unsigned n = 0;

	assert_non_null(expect);
	assert_non_null(pt);
	for (size_t len = 0; len <= 2048; len = next_len(len, m->step)) {
		for (size_t a = 0; a < N_AEAD; a++) {
			struct rt_session *s = &ss[a];
			struct rt_rec r = {
				.aead = all_aeads[a],
				.key = s->k.client_key,
				.iv = s->k.client_iv,
				.epoch = 1,
				.seq = s->cli_seq++,
				.type = type_for(len),
				.cid = !!(m->flags & SG_SA_F_RX_CID),
				.cid_bytes = s->srv_cid,
				.cid_len = m->srv_cid_len,
				.pad_len = m->pad,
			};
			struct sg_rec_open_op *op = &ops[n];
			size_t rl;

			tc_fill(pt, len, len * 17 + a);
			rl = rt_evp_seal_record(&r, pt, len, bufs[n]);
			assert_true(rl > 0);
			memset(op, 0, sizeof(*op));
			op->rec = bufs[n];
			op->rec_len = (uint32_t)rl;
			op->sa = s->srv;
			op->dst = (len & 1) ? outs[n] : NULL;
			lens[n] = len;
			aidx[n] = a;
			n++;
		}
		if (n + N_AEAD <= SG_BURST_MAX && len < 2048)
			continue;
		assert_int_equal(sg_rec_open_burst(ctx, ops, n), n);
		for (unsigned i = 0; i < n; i++) {
			const uint8_t *got = (ops[i].dst ? ops[i].dst : ops[i].rec) + ops[i].pt_off;

			assert_int_equal(ops[i].status, SG_REC_OK);
			assert_int_equal(ops[i].pt_len, lens[i]);
			assert_int_equal(ops[i].type, type_for(lens[i]));
			tc_fill(expect, lens[i], lens[i] * 17 + aidx[i]);
			if (lens[i])
				assert_memory_equal(got, expect, lens[i]);
		}
		n = 0;
	}
	free(expect);
	free(pt);
}

static void test_roundtrip_openssl(void **state)
{
	(void)state;
	/* Every mode on the widest multi-buffer manager, and on the single-buffer one. */
	for (size_t k = 0; k < 2 * SG_ARRAY_SIZE(modes); k++) {
		const struct rt_mode *m = &modes[k % SG_ARRAY_SIZE(modes)];
		size_t mi = k % SG_ARRAY_SIZE(modes);
		struct sg_rec_ctx_conf conf = { .cid_len = m->srv_cid_len };
		struct sg_rec_ctx *ctx;
		struct rt_session ss[N_AEAD];

		if (k >= SG_ARRAY_SIZE(modes))
			conf.flags = SG_REC_CTX_F_LATENCY;
		ctx = sg_rec_ctx_create(&conf);
		assert_non_null(ctx);
		if (conf.flags & SG_REC_CTX_F_LATENCY)
			assert_string_equal(sg_rec_ctx_arch(ctx), "sse");
		sessions_init(ss, m, 100 + mi);
		seal_then_evp(ctx, m, ss);
		evp_then_open(ctx, m, ss);
		/* Both directions consumed one sequence number per record. */
		for (size_t a = 0; a < N_AEAD; a++)
			assert_true(sg_rec_sa_tx_seq(ss[a].srv) == ss[a].cli_seq);
		sessions_free(ss);
		sg_rec_ctx_free(ctx);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_suite_mapping),     cmocka_unit_test(test_suite_registry),
		cmocka_unit_test(test_sa_init_and_wipe),  cmocka_unit_test(test_ctx_conf),
		cmocka_unit_test(test_roundtrip_openssl),
	};

	return cmocka_run_group_tests_name("record", tests, group_setup, group_teardown);
}
