/* SPDX-License-Identifier: Apache-2.0 */
/*
 * CBC-SHA256 records (TLS_PSK_WITH_AES_128_CBC_SHA256 and
 * TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256), MAC-then-encrypt and RFC 7366
 * encrypt-then-MAC: SA rules, round trips both ways against records OpenSSL
 * EVP builds from the RFC text (every payload length 0..2048, every legal
 * padding length), every refused variant with its status, mixed bursts with
 * AEAD sessions, and the wipe of the MAC line. Single-threaded.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <stormgate/bytes.h>
#include <stormgate/record.h>

#include "rec_test.h"

#define CBC      SG_AEAD_AES_128_CBC_SHA256
#define BUF_LEN  2600 /* 2048 payload + header, IV, MAC and 256 bytes of padding */
#define HEADROOM 64
#define MAX_LEN  2048

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

/* ---- SAs -------------------------------------------------------------------------- */

static void test_cbc_sa_init(void **state)
{
	static const struct {
		const char *what;
		int aead;
		uint8_t flags;
		int no_mac, no_iv;
		int expect;
	} rows[] = {
		{ "mac-then-encrypt", CBC, 0, 0, 1, 0 },
		{ "encrypt-then-mac", CBC, SG_SA_F_ETM, 0, 1, 0 },
		{ "no MAC keys", CBC, 0, 1, 1, -EINVAL },
		{ "rx cid", CBC, SG_SA_F_RX_CID, 0, 1, -EINVAL },
		{ "tx cid", CBC, SG_SA_F_TX_CID, 0, 1, -EINVAL },
		{ "rrc", CBC, SG_SA_F_RRC, 0, 1, -EINVAL },
		{ "etm on an AEAD", SG_AEAD_AES_128_GCM, SG_SA_F_ETM, 0, 0, -EINVAL },
		{ "AEAD without IVs", SG_AEAD_AES_128_GCM, 0, 0, 1, -EINVAL },
		{ "AEAD, MAC keys ignored", SG_AEAD_AES_128_CCM, 0, 0, 0, 0 },
	};
	struct tc_keys k;

	(void)state;
	tc_keys_make(&k, 3);
	for (unsigned w = 64; w <= 4096; w *= 4) {
		for (size_t i = 0; i < SG_ARRAY_SIZE(rows); i++) {
			struct sg_rec_sa *sa = tc_sa_alloc(w);
			size_t full = sg_rec_sa_size_max(w);
			struct sg_rec_sa_params p = {
				.aead = (enum sg_aead)rows[i].aead,
				.epoch = 1,
				.flags = rows[i].flags,
				.rx_key = k.client_key,
				.tx_key = k.server_key,
				.rx_iv = rows[i].no_iv ? NULL : k.client_iv,
				.tx_iv = rows[i].no_iv ? NULL : k.server_iv,
				.rx_mac = rows[i].no_mac ? NULL : k.client_mac,
				.tx_mac = rows[i].no_mac ? NULL : k.server_mac,
			};

			print_message("# window %u: %s\n", w, rows[i].what);
			assert_int_equal(sg_rec_sa_init(sa, w, &p), rows[i].expect);
			if (rows[i].expect == 0 && rows[i].aead == CBC) {
				const struct sg_rec_sa_mac *m = sg_rec_sa_mac(sa, w);

				assert_memory_equal(sa->rx_key, k.client_key, 16);
				assert_memory_equal(sa->tx_key, k.server_key, 16);
				assert_memory_equal(m->rx_mac, k.client_mac, 32);
				assert_memory_equal(m->tx_mac, k.server_mac, 32);
				assert_int_equal(sa->flags & SG_SA_F_ETM,
				                 rows[i].flags & SG_SA_F_ETM);
			}
			/* The wipe covers the MAC line of a CBC SA, and a narrow SA's size only. */
			memset((uint8_t *)sa + sg_rec_sa_size(w), 0xa5, full - sg_rec_sa_size(w));
			if (rows[i].expect == 0 && rows[i].aead == CBC) {
				struct sg_rec_sa_mac *m = sg_rec_sa_mac(sa, w);

				memcpy(m->rx_mac, k.client_mac, 32);
			}
			sg_rec_sa_wipe(sa, w);
			for (size_t b = 0; b < sg_rec_sa_size(w); b++)
				assert_int_equal(((uint8_t *)sa)[b], 0);
			for (size_t b = sg_rec_sa_size(w); b < full; b++)
				assert_int_equal(((uint8_t *)sa)[b],
				                 rows[i].expect == 0 && rows[i].aead == CBC ? 0
				                                                            : 0xa5);
			free(sa);
		}
	}
	assert_string_equal(sg_aead_name(CBC), "aes_128_cbc_sha256");
	assert_int_equal(sg_rec_seal_headroom(CBC, 0, 0), 13 + 16);
	assert_int_equal(sg_rec_seal_tailroom(CBC, 0, 0), 32 + 16);
}

/* ---- round trips -------------------------------------------------------------------- */

struct cbc_session {
	struct tc_keys k;
	struct sg_rec_sa *srv;
	int etm;
	uint64_t cli_seq;
};

static void session_init(struct cbc_session *s, int etm, uint64_t seed)
{
	tc_keys_make(&s->k, seed);
	s->srv = tc_sa_alloc(128);
	s->etm = etm;
	s->cli_seq = 0;
	assert_int_equal(rt_sa_init(s->srv, 128, CBC, &s->k, 0, 1, etm ? SG_SA_F_ETM : 0, 0), 0);
}

/* The peer's record parameters for a record the client sends (dir 0) or we send (dir 1). */
static struct rt_rec peer_rec(const struct cbc_session *s, int we_send, const uint8_t *iv)
{
	struct rt_rec r = {
		.aead = CBC,
		.key = we_send ? s->k.server_key : s->k.client_key,
		.mac_key = we_send ? s->k.server_mac : s->k.client_mac,
		.iv = iv,
		.etm = s->etm,
		.epoch = 1,
		.type = SG_DTLS_CT_APPLICATION_DATA,
	};

	return r;
}

/* A legal padding_length for len bytes of content: minimal plus extra blocks (<= 255). */
static unsigned legal_pad(size_t len, int etm, unsigned extra_blocks)
{
	unsigned used = (unsigned)(len + (etm ? 0 : 32) + 1) % 16;
	unsigned pad = used ? 16 - used : 0;

	while (extra_blocks-- && pad + 16 <= 255)
		pad += 16;
	return pad;
}

/*
 * Both directions for every length 0..MAX_LEN, a burst of SG_BURST_MAX
 * records at a time: OpenSSL seals (padding minimal or longer, explicit IVs
 * of its own), we open; we seal, OpenSSL opens.
 */
static void roundtrip(int etm)
{
	struct cbc_session s;
	struct sg_rec_ctx *ctx = sg_rec_ctx_create(NULL);
	struct sg_rec_open_op *ops = calloc(SG_BURST_MAX, sizeof(*ops));
	struct sg_rec_seal_op *sops = calloc(SG_BURST_MAX, sizeof(*sops));
	uint8_t pt[MAX_LEN], got[BUF_LEN], iv[16];
	unsigned lens[SG_BURST_MAX];
	unsigned total = 0;

	assert_non_null(ctx);
	assert_non_null(ops);
	assert_non_null(sops);
	session_init(&s, etm, 40 + (uint64_t)etm);
	for (unsigned from = 0; from <= MAX_LEN; from += SG_BURST_MAX) {
		unsigned n = MAX_LEN + 1 - from < SG_BURST_MAX ? MAX_LEN + 1 - from : SG_BURST_MAX;

		/* in: OpenSSL -> us */
		for (unsigned i = 0; i < n; i++) {
			struct rt_rec r = peer_rec(&s, 0, iv);
			size_t len = from + i;

			lens[i] = (unsigned)len;
			tc_fill(pt, len, len * 3 + 1);
			tc_fill(iv, sizeof(iv), len * 5 + 2);
			r.seq = s.cli_seq++;
			r.pad_len = legal_pad(len, etm, (unsigned)(len % 17));
			memset(&ops[i], 0, sizeof(ops[i]));
			ops[i].rec = bufs[i];
			ops[i].rec_len = (uint32_t)rt_evp_seal_record(&r, pt, len, bufs[i]);
			assert_true(ops[i].rec_len > 0);
			ops[i].sa = s.srv;
			ops[i].dst = (i & 1) ? outs[i] : NULL; /* in place and out of place */
		}
		assert_int_equal(sg_rec_open_burst(ctx, ops, n), n);
		for (unsigned i = 0; i < n; i++) {
			const uint8_t *p = (ops[i].dst ? ops[i].dst : ops[i].rec) + ops[i].pt_off;

			tc_fill(pt, lens[i], lens[i] * 3 + 1);
			assert_int_equal(ops[i].status, SG_REC_OK);
			assert_int_equal(ops[i].pt_len, lens[i]);
			assert_int_equal(ops[i].type, SG_DTLS_CT_APPLICATION_DATA);
			assert_memory_equal(p, pt, lens[i]);
			/* An EtM open hashes over the header and puts it back. */
			assert_int_equal(ops[i].rec[0], SG_DTLS_CT_APPLICATION_DATA);
			assert_int_equal(sg_load_be16(ops[i].rec + 11), ops[i].rec_len - 13);
		}

		/* out: us -> OpenSSL */
		for (unsigned i = 0; i < n; i++) {
			memset(&sops[i], 0, sizeof(sops[i]));
			tc_fill(bufs[i] + HEADROOM, lens[i], lens[i] * 7 + 3);
			sops[i].buf = bufs[i];
			sops[i].buf_len = HEADROOM + lens[i] + sg_rec_seal_tailroom(CBC, 0, 0);
			sops[i].pt_off = HEADROOM;
			sops[i].pt_len = lens[i];
			sops[i].sa = s.srv;
			sops[i].type = SG_DTLS_CT_APPLICATION_DATA;
		}
		assert_int_equal(sg_rec_seal_burst(ctx, sops, n), n);
		for (unsigned i = 0; i < n; i++) {
			struct rt_rec r = peer_rec(&s, 1, NULL);
			const uint8_t *rec = sops[i].buf + sops[i].rec_off;
			uint8_t type = 0;
			unsigned flen = sops[i].rec_len - 13 - 16 - (etm ? 32 : 0);

			assert_int_equal(sops[i].status, SG_REC_OK);
			assert_int_equal(sops[i].rec_off, HEADROOM - 29);
			/* Minimal padding: the next block multiple. */
			assert_int_equal(flen, (lens[i] + (etm ? 0 : 32)) / 16 * 16 + 16);
			assert_int_equal(rt_evp_open_record(&r, rec, sops[i].rec_len, got, &type),
			                 (long)lens[i]);
			assert_int_equal(type, SG_DTLS_CT_APPLICATION_DATA);
			tc_fill(pt, lens[i], lens[i] * 7 + 3);
			assert_memory_equal(got, pt, lens[i]);
			assert_true(sops[i].seq == total + i);
		}
		total += n;
	}
	tc_sa_free(s.srv, 128);
	sg_rec_ctx_free(ctx);
	free(ops);
	free(sops);
}

static void test_cbc_roundtrip_mte(void **state)
{
	(void)state;
	roundtrip(0);
}

static void test_cbc_roundtrip_etm(void **state)
{
	(void)state;
	roundtrip(1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cbc_sa_init),
		cmocka_unit_test(test_cbc_roundtrip_mte),
		cmocka_unit_test(test_cbc_roundtrip_etm),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
