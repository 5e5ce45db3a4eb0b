/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The fleet's client handshake against the gateway's own handshake engine
 * (the thing the fleet will storm), in process through the handshake tests'
 * harness (tests/handshake/hs_harness.h, capture mode): every suite the
 * engine negotiates that the fleet speaks (its PSK and ECDHE-PSK AEAD suites,
 * sg_fc_suite_spoken()), the RFC 8442 ECDHE-PSK AES suites OpenSSL lacks
 * included, with cookies always and never; then application data each way
 * with the SA the client exported and the one the engine installed. Then
 * connection IDs (RFC 9146: ours of 0, 4 or 8 bytes, the engine's 8 or 16,
 * or none), ticket resumption (RFC 5077) over each of those suites, a ticket the
 * engine no longer opens, our final flight lost after a resumption, and
 * ServerHellos answering extensions we did not send. The client library
 * itself links nothing of the engine; only this test does. One thread.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "fleet_client.h"
#include "hs_harness.h"

/*
 * Every truncation and every one-byte corruption of the datagram d, each fed
 * to a copy of the client (its SA, hs and ticket slot copied, so a copy's
 * failure costs the real one nothing): refused or ignored without harm (the
 * ASan build watches), and a cut datagram never completes the handshake.
 */
static void garble(const struct sg_fc_dev *dev, const struct sg_fc_hs *hs, const uint8_t *d,
                   size_t len)
{
	unsigned wb = sg_rec_ctx_window_bits(hs->conf->rec);
	struct sg_rec_sa *sa = malloc(sg_rec_sa_size(wb));
	struct sg_fc_hs *c = malloc(sizeof(*c));
	uint8_t bad[2048], out[2048];
	size_t olen;

	assert_non_null(sa);
	assert_non_null(c);
	assert_true(len <= sizeof(bad));
	for (size_t i = 0; i < 2 * len; i++) {
		struct sg_fc_dev copy = *dev;
		struct sg_fc_conf conf = *hs->conf;
		struct sg_fc_ticket ticket = { 0 };

		if (conf.ticket) {
			ticket = *conf.ticket;
			conf.ticket = &ticket;
		}
		memcpy(sa, dev->sa, sg_rec_sa_size(wb));
		memcpy(c, hs, sizeof(*c));
		c->conf = &conf;
		copy.sa = sa;
		memcpy(bad, d, len);
		if (i >= len)
			bad[i - len] ^= 0x5a;
		(void)sg_fc_input(&copy, c, bad, i < len ? i : len, out, sizeof(out), &olen);
		if (i < len)
			assert_int_not_equal(copy.state, SG_FC_DONE);
		sg_fc_ticket_wipe(&ticket);
	}
	sg_rec_sa_wipe(sa, wb);
	sg_fc_hs_wipe(c);
	free(sa);
	free(c);
}

/*
 * The engine's captured datagrams to the client, the client's answers to the
 * engine; with garbling, each datagram garbled for a copy of the client first.
 */
static void pump(struct harness *h, struct sg_fc_dev *dev, struct sg_fc_hs *hs, int garbling)
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
			if (garbling)
				garble(dev, hs, in[i], in_len[i]);
			assert_int_equal(
			        sg_fc_input(dev, hs, in[i], in_len[i], out, sizeof(out), &len), 0);
			if (len)
				h_input(h, out, len);
		}
	}
}

/*
 * One record of application data each way with the two ends' SAs: ours
 * sealed with the server's CID when it gave one (RFC 9146), the engine's
 * sealed with ours when we gave one, opened by our record context (which
 * frames our CIDs) and carrying our CID.
 */
static void data_both_ways(struct harness *h, struct sg_rec_ctx *rec, struct sg_fc_dev *dev,
                           const struct sg_fc_conf *conf)
{
	enum sg_aead aead = (enum sg_aead)sg_suite_find(dev->suite)->aead;
	int tx_cid = (dev->sa->flags & SG_SA_F_TX_CID) != 0;
	unsigned head = sg_rec_seal_headroom(aead, tx_cid, dev->peer_cid_len);
	uint8_t buf[512], pt[64];
	struct sg_rec_seal_op so = { .buf = buf,
		                     .buf_len = sizeof(buf),
		                     .pt_off = head,
		                     .pt_len = 2,
		                     .sa = dev->sa,
		                     .cid = dev->peer_cid,
		                     .cid_len = dev->peer_cid_len,
		                     .type = SG_DTLS_CT_APPLICATION_DATA };
	struct sg_rec_open_op oo = { .rec = buf, .sa = dev->sa };
	struct h_session *sess = &h->sess;
	int rx_cid = conf->use_cid && conf->cid_len && dev->cid;

	memcpy(buf + head, "up", 2);
	assert_int_equal(sg_rec_seal_burst(rec, &so, 1), 1);
	assert_int_equal(buf[so.rec_off],
	                 tx_cid ? SG_DTLS_CT_TLS12_CID : SG_DTLS_CT_APPLICATION_DATA);
	assert_int_equal(h_open(h, buf + so.rec_off, so.rec_len, pt, sizeof(pt)), 2);
	assert_memory_equal(pt, "up", 2);

	oo.rec_len = (uint32_t)h_seal_record(h->rec, (struct sg_rec_sa *)sess->sa_buf,
	                                     sess->res.peer_cid, sess->res.peer_cid_len,
	                                     SG_DTLS_CT_APPLICATION_DATA, (const uint8_t *)"down",
	                                     4, buf, sizeof(buf));
	assert_int_equal(buf[0], rx_cid ? SG_DTLS_CT_TLS12_CID : SG_DTLS_CT_APPLICATION_DATA);
	if (rx_cid)
		assert_memory_equal(buf + SG_DTLS_HDR_OFF_CID, conf->cid, conf->cid_len);
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
		if (!sg_fc_suite_spoken(&sg_suites[s]))
			continue; /* CBC, ECDHE-ECDSA: not the fleet's (fleet_client.h) */
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
			pump(&h, &dev, hs, 0);
			assert_int_equal(dev.state, SG_FC_DONE);
			assert_int_equal(h.n_installed, 1);
			assert_int_equal(dev.suite, suite);
			assert_int_equal(dev.ems, 1);
			assert_int_equal(hs->hvr_count, p ? 0 : 1);
			data_both_ways(&h, rec, &dev, &conf);
			h_stop(&h);
			sg_fc_hs_wipe(hs);
			sg_rec_sa_wipe(sa, sg_rec_ctx_window_bits(rec));
		}
	}
	free(hs);
	free(sa);
	sg_rec_ctx_free(rec);
}

/* A device of the tests below: its record context (framing CIDs of its length), SA, hs. */
struct device {
	struct sg_rec_ctx *rec;
	struct sg_fc_dev dev;
	struct sg_fc_hs *hs;
	struct sg_fc_conf conf;
	struct sg_fc_ticket ticket;
	uint16_t suite;
	uint8_t cid[SG_FC_CID_MAX];
};

/* use_cid: offer our CID of cid_len bytes (0xd0, 0xd1, ...); tickets: keep them. */
static void device_init(struct device *d, uint16_t suite, int use_cid, uint8_t cid_len, int tickets)
{
	struct sg_rec_ctx_conf rc = { .flags = SG_REC_CTX_F_LATENCY, .cid_len = cid_len };

	memset(d, 0, sizeof(*d));
	d->rec = sg_rec_ctx_create(&rc);
	assert_non_null(d->rec);
	d->dev.sa = calloc(1, sg_rec_sa_size(sg_rec_ctx_window_bits(d->rec)));
	assert_non_null(d->dev.sa);
	d->hs = malloc(sizeof(*d->hs));
	assert_non_null(d->hs);
	d->suite = suite;
	for (unsigned i = 0; i < cid_len; i++)
		d->cid[i] = (uint8_t)(0xd0 + i);
	d->conf = (struct sg_fc_conf){ .rec = d->rec,
		                       .suites = &d->suite,
		                       .n_suites = 1,
		                       .identity = h_psks[0].identity,
		                       .psk = h_psks[0].key,
		                       .psk_len = h_psks[0].key_len,
		                       .ticket = tickets ? &d->ticket : NULL,
		                       .use_cid = (uint8_t)use_cid,
		                       .cid_len = cid_len,
		                       .cid = d->cid };
}

static void device_free(struct device *d)
{
	sg_fc_hs_wipe(d->hs);
	sg_fc_ticket_wipe(&d->ticket);
	sg_rec_sa_wipe(d->dev.sa, sg_rec_ctx_window_bits(d->rec));
	free(d->hs);
	free(d->dev.sa);
	sg_rec_ctx_free(d->rec);
}

/*
 * A whole handshake of d with the engine (garbling: each datagram to d
 * garbled first, see garble()); it completes and the engine installs the
 * session.
 */
static void handshake_garbled(struct harness *h, struct device *d, int garbling)
{
	unsigned installed = h->n_installed;
	uint8_t out[2048];
	size_t len;

	assert_int_equal(sg_fc_start(&d->dev, d->hs, &d->conf, out, sizeof(out), &len), 0);
	h_input(h, out, len);
	pump(h, &d->dev, d->hs, garbling);
	assert_int_equal(d->dev.state, SG_FC_DONE);
	assert_int_equal(h->n_installed, installed + 1);
	assert_int_equal(d->dev.resumed, h->sess.res.resumed);
}

static void handshake(struct harness *h, struct device *d)
{
	handshake_garbled(h, d, 0);
}

/* An engine in capture mode issuing CIDs of cid_len bytes (0: none). */
static void engine_start(struct harness *h, uint8_t cid_len, uint8_t cookie_policy)
{
	h_prepare(h, cookie_policy);
	h->conf.cid_len = cid_len;
	h_start(h);
	h->capture = true;
}

/* One CID case: what the engine issues, what we offer, what must come of it. */
struct cid_row {
	uint8_t engine_len; /* sessions.cid_length: 0 (no CIDs) or 8..16 */
	uint8_t use_cid;
	uint8_t our_len;
	uint8_t negotiated; /* the ServerHello answers connection_id */
};

/*
 * RFC 9146 against the engine: our CID (of 4, 0 or 8 bytes; 0: "I want
 * none") and the one the engine issues, in the records of both Finished
 * messages and of application data each way, for a PSK and an ECDHE-PSK
 * suite. An engine issuing no CIDs does not answer the extension, and then
 * neither side uses any. The first row's datagrams are garbled (garble()).
 */
static void test_cids(void **state)
{
	static const struct cid_row rows[] = {
		{ 8, 1, 4, 1 }, { 8, 1, 0, 1 }, { 16, 1, 8, 1 }, { 0, 1, 4, 0 }, { 8, 0, 0, 0 },
	};
	static const uint16_t suites[] = { SG_TLS_PSK_WITH_AES_128_CCM_8,
		                           SG_TLS_ECDHE_PSK_WITH_AES_128_GCM_SHA256 };

	(void)state;
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		for (size_t s = 0; s < 2; s++) {
			const struct cid_row *r = &rows[i];
			struct harness h;
			struct device d;
			uint8_t want_flags = 0;

			print_message("# engine cid %u, ours %s%u, suite %04x\n", r->engine_len,
			              r->use_cid ? "" : "none ", r->our_len, suites[s]);
			engine_start(&h, r->engine_len, SG_HS_COOKIE_ALWAYS);
			device_init(&d, suites[s], r->use_cid, r->our_len, 0);
			handshake_garbled(&h, &d, i == 0);
			assert_int_equal(d.dev.cid, r->negotiated);
			assert_int_equal(d.dev.peer_cid_len, r->negotiated ? r->engine_len : 0);
			assert_int_equal(h.sess.res.cid_len, d.dev.peer_cid_len);
			assert_memory_equal(d.dev.peer_cid, h.sess.res.cid, d.dev.peer_cid_len);
			assert_int_equal(h.sess.res.peer_cid_len, r->negotiated ? r->our_len : 0);
			assert_memory_equal(h.sess.res.peer_cid, d.cid, h.sess.res.peer_cid_len);
			if (r->negotiated)
				want_flags = (uint8_t)((r->our_len ? SG_SA_F_RX_CID : 0) |
				                       SG_SA_F_TX_CID);
			assert_int_equal(d.dev.sa->flags & (SG_SA_F_RX_CID | SG_SA_F_TX_CID),
			                 want_flags);
			data_both_ways(&h, d.rec, &d.dev, &d.conf);
			device_free(&d);
			h_stop(&h);
		}
	}
}

/*
 * RFC 5077 against the engine, every suite it negotiates: a full handshake
 * keeps the engine's ticket, the next one resumes it (the engine says so
 * and counts it), with CIDs on every other suite (negotiated afresh, RFC
 * 9146 §3), and data flows both ways. One resumption with CIDs is garbled.
 */
static void test_resume(void **state)
{
	(void)state;
	for (unsigned s = 0; s < SG_SUITES_RANKED; s++) {
		struct harness h;
		struct device d;

		if (!sg_fc_suite_spoken(&sg_suites[s]))
			continue;

		print_message("# resume %s\n", sg_suites[s].name);
		engine_start(&h, 8, SG_HS_COOKIE_ALWAYS);
		device_init(&d, sg_suites[s].id, s % 2, 4, 1);
		handshake(&h, &d);
		assert_int_equal(d.dev.resumed, 0);
		assert_true(d.ticket.len > 0);
		assert_int_equal(d.ticket.suite, sg_suites[s].id);
		assert_int_equal(d.ticket.ems, 1);
		if (s == 0)
			print_message("# the engine's ticket: %u bytes\n", d.ticket.len);
		handshake_garbled(&h, &d, s == 1);
		assert_int_equal(d.dev.resumed, 1);
		assert_int_equal(d.dev.ems, 1);
		assert_int_equal(d.dev.cid, s % 2);
		assert_int_equal(h_count(&h, SG_HS_C_COMPLETED_RESUMED), 1);
		assert_true(d.ticket.len > 0);
		data_both_ways(&h, d.rec, &d.dev, &d.conf);
		device_free(&d);
		h_stop(&h);
	}
}

/* A ticket of an engine whose ticket keys are gone (a restart without them): a full handshake. */
static void test_ticket_rejected(void **state)
{
	struct harness h;
	struct device d;
	struct sg_fc_ticket old;

	(void)state;
	engine_start(&h, 8, SG_HS_COOKIE_ALWAYS);
	device_init(&d, SG_TLS_PSK_WITH_AES_128_CCM_8, 1, 4, 1);
	handshake(&h, &d);
	old = d.ticket;
	h_stop(&h);
	engine_start(&h, 8, SG_HS_COOKIE_ALWAYS);
	handshake(&h, &d);
	assert_int_equal(d.hs->ticket_offered, 1);
	assert_int_equal(d.dev.resumed, 0);
	assert_int_equal(h_count(&h, SG_HS_C_TICKET_REJECTED), 1);
	assert_true(d.ticket.len > 0);
	assert_memory_not_equal(d.ticket.ticket, old.ticket, old.len);
	data_both_ways(&h, d.rec, &d.dev, &d.conf);
	sg_fc_ticket_wipe(&old);
	device_free(&d);
	h_stop(&h);
}

/*
 * The engine's captured datagrams to a client d, in order; its answers to
 * the engine, unless drop (then the last one is kept in keep). Returns how
 * many datagrams d answered.
 */
static unsigned to_device(struct harness *h, struct device *d, int drop, uint8_t *keep)
{
	static uint8_t in[H_OUT_MAX][2048];
	size_t in_len[H_OUT_MAX], len;
	unsigned n = h->n_out, answered = 0;
	uint8_t out[2048];

	for (unsigned i = 0; i < n; i++) {
		memcpy(in[i], h->out[i], h->out_len[i]);
		in_len[i] = h->out_len[i];
	}
	h->n_out = 0;
	for (unsigned i = 0; i < n; i++) {
		assert_int_equal(
		        sg_fc_input(&d->dev, d->hs, in[i], in_len[i], out, sizeof(out), &len), 0);
		if (len == 0)
			continue;
		answered++;
		if (drop)
			memcpy(keep, out, len);
		else
			h_input(h, out, len);
	}
	return answered;
}

/*
 * Resumed with CIDs, our final flight lost: the engine's timer resends its
 * flight (RFC 6347 §4.2.4), the done client answers with its CCS and
 * Finished again, and the engine installs the session.
 */
static void test_resume_final_flight_lost(void **state)
{
	struct harness h;
	struct device d;
	uint8_t out[2048];
	size_t len;

	(void)state;
	engine_start(&h, 8, SG_HS_COOKIE_NEVER);
	device_init(&d, SG_TLS_ECDHE_PSK_WITH_AES_128_CCM_SHA256, 1, 4, 1);
	handshake(&h, &d);
	assert_int_equal(sg_fc_start(&d.dev, d.hs, &d.conf, out, sizeof(out), &len), 0);
	h_input(&h, out, len);
	/* no cookie: the engine's one flight, and our answer to it lost */
	assert_int_equal(to_device(&h, &d, 1, out), 1);
	assert_int_equal(d.dev.state, SG_FC_DONE);
	assert_int_equal(d.dev.resumed, 1);
	assert_int_equal(h.n_installed, 1);
	h_advance(&h, SG_DTLS_RTO_INITIAL_MS + 100);
	assert_int_equal(h_count(&h, SG_HS_C_RETRANSMIT_TIMER), 1);
	assert_true(to_device(&h, &d, 0, NULL) >= 1);
	assert_int_equal(h.n_installed, 2);
	assert_int_equal(h.sess.res.resumed, 1);
	data_both_ways(&h, d.rec, &d.dev, &d.conf);
	device_free(&d);
	h_stop(&h);
}

/*
 * A ServerHello answering an extension we did not send (RFC 5246 §7.4.1.4:
 * the client must abort): the engine's real answer to a device that asked
 * for a CID, or for a ticket, fed to one that asked for neither, fails it
 * with -EPROTO. The control row: the answer to a device that asked for
 * neither takes the other on to its final flight.
 */
static void test_unoffered_extensions(void **state)
{
	(void)state;
	for (int kind = 0; kind < 3; kind++) {
		struct harness h;
		struct device asked, plain;
		uint8_t out[2048];
		size_t len;
		int rc = 0;

		engine_start(&h, 8, SG_HS_COOKIE_NEVER);
		device_init(&asked, SG_TLS_PSK_WITH_AES_128_GCM_SHA256, kind == 0, 4, kind == 1);
		device_init(&plain, SG_TLS_PSK_WITH_AES_128_GCM_SHA256, 0, 0, 0);
		assert_int_equal(
		        sg_fc_start(&asked.dev, asked.hs, &asked.conf, out, sizeof(out), &len), 0);
		h_input(&h, out, len);
		assert_int_equal(
		        sg_fc_start(&plain.dev, plain.hs, &plain.conf, out, sizeof(out), &len), 0);
		assert_true(h.n_out > 0);
		for (unsigned i = 0; i < h.n_out && rc == 0; i++)
			rc = sg_fc_input(&plain.dev, plain.hs, h.out[i], h.out_len[i], out,
			                 sizeof(out), &len);
		if (kind == 2) {
			assert_int_equal(rc, 0);
			assert_int_equal(plain.dev.state, SG_FC_WAIT_FINISHED);
		} else {
			assert_int_equal(rc, -EPROTO);
			assert_int_equal(plain.dev.state, SG_FC_FAILED);
			assert_int_equal(plain.dev.error, -EPROTO);
		}
		device_free(&plain);
		device_free(&asked);
		h_stop(&h);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_suite),
		cmocka_unit_test(test_cids),
		cmocka_unit_test(test_resume),
		cmocka_unit_test(test_ticket_rejected),
		cmocka_unit_test(test_resume_final_flight_lost),
		cmocka_unit_test(test_unoffered_extensions),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
