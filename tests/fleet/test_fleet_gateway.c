/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The fleet's client handshake against the gateway's own handshake engine
 * (the thing the fleet will storm), in process through the handshake tests'
 * harness (tests/handshake/hs_harness.h, capture mode): every suite the
 * engine negotiates, the RFC 8442 ECDHE-PSK AES suites OpenSSL lacks
 * included, with cookies always and never; then application data each way
 * with the SA the client exported and the one the engine installed. The
 * client library itself links nothing of the engine; only this test does.
 * One thread.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "fleet_client.h"
#include "hs_harness.h"

/* The engine's captured datagrams to the client, the client's answers to the engine. */
static void pump(struct harness *h, struct sg_fc_dev *dev, struct sg_fc_hs *hs)
{
	uint8_t out[2048];
	size_t len;

	for (int round = 0; round < 8 && dev->state != SG_FC_DONE && h->n_out; round++) {
		unsigned n = h->n_out;
		static uint8_t in[H_OUT_MAX][2048];
		size_t in_len[H_OUT_MAX];

		for (unsigned i = 0; i < n; i++) {
			memcpy(in[i], h->out[i], h->out_len[i]);
			in_len[i] = h->out_len[i];
		}
		h->n_out = 0;
		for (unsigned i = 0; i < n; i++) {
			assert_int_equal(
			        sg_fc_input(dev, hs, in[i], in_len[i], out, sizeof(out), &len), 0);
			if (len)
				h_input(h, out, len);
		}
	}
}

/* One record of application data each way with the two ends' SAs. */
static void data_both_ways(struct harness *h, struct sg_rec_ctx *rec, struct sg_fc_dev *dev)
{
	enum sg_aead aead = (enum sg_aead)sg_suite_find(dev->suite)->aead;
	unsigned head = sg_rec_seal_headroom(aead, 0, 0);
	uint8_t buf[512], pt[64];
	struct sg_rec_seal_op so = { .buf = buf,
		                     .buf_len = sizeof(buf),
		                     .pt_off = head,
		                     .pt_len = 2,
		                     .sa = dev->sa,
		                     .type = SG_DTLS_CT_APPLICATION_DATA };
	struct sg_rec_open_op oo = { .rec = buf, .sa = dev->sa };

	memcpy(buf + head, "up", 2);
	assert_int_equal(sg_rec_seal_burst(rec, &so, 1), 1);
	assert_int_equal(h_open(h, buf + so.rec_off, so.rec_len, pt, sizeof(pt)), 2);
	assert_memory_equal(pt, "up", 2);

	oo.rec_len = (uint32_t)h_seal_record(h->rec, (struct sg_rec_sa *)h->sess.sa_buf, NULL, 0,
	                                     SG_DTLS_CT_APPLICATION_DATA, (const uint8_t *)"down",
	                                     4, buf, sizeof(buf));
	assert_int_equal(sg_rec_open_burst(rec, &oo, 1), 1);
	assert_int_equal(oo.pt_len, 4);
	assert_memory_equal(buf + oo.pt_off, "down", 4);
}

static void test_every_suite(void **state)
{
	static const uint8_t policies[] = { SG_HS_COOKIE_ALWAYS, SG_HS_COOKIE_NEVER };
	struct sg_rec_ctx_conf rc = { .flags = SG_REC_CTX_F_LATENCY };
	struct sg_rec_ctx *rec = sg_rec_ctx_create(&rc);
	struct sg_rec_sa *sa = calloc(1, sg_rec_sa_size(sg_rec_ctx_window_bits(rec)));
	struct sg_fc_hs *hs = malloc(sizeof(*hs));

	(void)state;
	assert_non_null(rec);
	assert_non_null(sa);
	assert_non_null(hs);
	for (unsigned s = 0; s < SG_SUITES_RANKED; s++) {
		for (unsigned p = 0; p < 2; p++) {
			uint16_t suite = sg_suites[s].id;
			struct sg_fc_conf conf = { .rec = rec,
				                   .suites = &suite,
				                   .n_suites = 1,
				                   .identity = h_psks[0].identity,
				                   .psk = h_psks[0].key,
				                   .psk_len = h_psks[0].key_len };
			struct sg_fc_dev dev = { .sa = sa };
			struct harness h;
			uint8_t out[2048];
			size_t len;

			print_message("# %s cookies=%s\n", sg_suites[s].name,
			              p ? "never" : "always");
			h_start_capture(&h, policies[p]);
			assert_int_equal(sg_fc_start(&dev, hs, &conf, out, sizeof(out), &len), 0);
			h_input(&h, out, len);
			pump(&h, &dev, hs);
			assert_int_equal(dev.state, SG_FC_DONE);
			assert_int_equal(h.n_installed, 1);
			assert_int_equal(dev.suite, suite);
			assert_int_equal(dev.ems, 1);
			assert_int_equal(hs->hvr_count, p ? 0 : 1);
			data_both_ways(&h, rec, &dev);
			h_stop(&h);
			sg_fc_hs_wipe(hs);
			sg_rec_sa_wipe(sa, sg_rec_ctx_window_bits(rec));
		}
	}
	free(hs);
	free(sa);
	sg_rec_ctx_free(rec);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_suite),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
