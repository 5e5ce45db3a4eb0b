/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The negative table: each row drives the engine with the scripted client
 * into one failure and checks the answer (the alert, a new cookie, or
 * silence), the counter that names it, that nothing was installed and that
 * no state is left, or, for input anyone could forge (RFC 6347 §4.1.2.7),
 * that it was dropped in silence and the handshake still waits. Then the
 * retransmission and timeout rules, reordering, fragments, duplicates, the
 * pool limit, and the memory per handshake.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include <stormgate/bytes.h>
#include <stormgate/common.h>
#include <stormgate/dtls.h>

#include "hs_client.h"
#include "hs_codec.h"
#include "hs_harness.h"

#define NO_ALERT 0
#define HVR      0x100 /* the answer is a new HelloVerifyRequest */
#define SILENCE  0x200 /* no answer at all */

static struct sg_hs_stats stats(struct harness *h)
{
	struct sg_hs_stats st;

	sg_hs_stats_get(h->e, &st);
	return st;
}

/* What the engine answered to the last input. */
static int answer(struct hc *c, struct harness *h)
{
	int w;

	if (h->n_out == 0)
		return SILENCE;
	c->last_alert = 0;
	w = hc_drain(c, h);
	if (w == 'A')
		return c->last_alert;
	if (w == 'V')
		return HVR;
	return NO_ALERT;
}

/* A full handshake whose last flight may carry a wrong Finished. */
static int full(struct hc *c, struct harness *h, bool bad_finished)
{
	uint8_t d[2048];

	if (hc_to_flight4(c, h) != 'H')
		return answer(c, h);
	h_input(h, d, hc_flight5(c, d, sizeof(d), bad_finished));
	return answer(c, h);
}

/* Send one hello (no cookie round) and report the answer. */
static int hello(struct hc *c, struct harness *h)
{
	uint8_t d[2048];

	h_input(h, d, hc_client_hello(c, d, sizeof(d)));
	return answer(c, h);
}

/* ---- rows --------------------------------------------------------------------------------- */

static const uint8_t wrong_key[16] = { 1, 2, 3 };

static int row_wrong_psk(struct harness *h, struct hc_opts *o, struct hc *c)
{
	o->psk = wrong_key;
	hc_init(c, o);
	return full(c, h, false);
}

static int row_unknown_identity(struct harness *h, struct hc_opts *o, struct hc *c)
{
	o->identity = "nobody";
	hc_init(c, o);
	return full(c, h, false);
}

static int row_long_identity(struct harness *h, struct hc_opts *o, struct hc *c)
{
	static char id[201];

	memset(id, 'x', 200);
	o->identity = id;
	hc_init(c, o);
	return full(c, h, false);
}

static int row_bad_finished(struct harness *h, struct hc_opts *o, struct hc *c)
{
	hc_init(c, o);
	return full(c, h, true);
}

static int row_policy_sni(struct harness *h, struct hc_opts *o, struct hc *c)
{
	o->sni = "forbidden.example";
	hc_init(c, o);
	return full(c, h, false);
}

static int row_policy_ems(struct harness *h, struct hc_opts *o, struct hc *c)
{
	o->identity = h_psks[1].identity;
	o->psk = h_psks[1].key;
	o->psk_len = h_psks[1].key_len;
	o->no_ems = true;
	hc_init(c, o);
	return full(c, h, false);
}

static int row_policy_ecdhe(struct harness *h, struct hc_opts *o, struct hc *c)
{
	o->identity = h_psks[2].identity;
	o->psk = h_psks[2].key;
	o->psk_len = h_psks[2].key_len;
	hc_init(c, o);
	return full(c, h, false);
}

static int row_bad_cookie(struct harness *h, struct hc_opts *o, struct hc *c)
{
	hc_init(c, o);
	assert_int_equal(hello(c, h), HVR);
	c->cookie[5] ^= 0x40;
	return hello(c, h);
}

static int row_cookie_other_port(struct harness *h, struct hc_opts *o, struct hc *c)
{
	hc_init(c, o);
	assert_int_equal(hello(c, h), HVR);
	/* The cookie binds the 4-tuple: another port must earn its own. */
	h->peer.pport ^= 1;
	return hello(c, h);
}

static int row_expired_cookie(struct harness *h, struct hc_opts *o, struct hc *c)
{
	hc_init(c, o);
	assert_int_equal(hello(c, h), HVR);
	h_advance(h, 30000);
	h_advance(h, 30000); /* two rotations: the cookie's secret is retired */
	return hello(c, h);
}

static int row_truncated_cookie(struct harness *h, struct hc_opts *o, struct hc *c)
{
	hc_init(c, o);
	assert_int_equal(hello(c, h), HVR);
	c->cookie_len = 5;
	return hello(c, h);
}

static int row_dtls10(struct harness *h, struct hc_opts *o, struct hc *c)
{
	(void)h;
	o->version = SG_DTLS_VERSION_1_0;
	hc_init(c, o);
	return hello(c, h);
}

static int row_fallback(struct harness *h, struct hc_opts *o, struct hc *c)
{
	(void)h;
	o->version = SG_DTLS_VERSION_1_0;
	o->fallback_scsv = true;
	hc_init(c, o);
	return hello(c, h);
}

static int row_tls_version(struct harness *h, struct hc_opts *o, struct hc *c)
{
	o->version = 0x0303; /* TLS 1.2 in a DTLS hello */
	hc_init(c, o);
	return hello(c, h);
}

static int row_renegotiation_info(struct harness *h, struct hc_opts *o, struct hc *c)
{
	o->reneg_len = 12; /* claims a previous connection's verify_data */
	hc_init(c, o);
	return hc_to_flight4(c, h) == 'A' ? c->last_alert : SILENCE;
}

static int row_no_suite(struct harness *h, struct hc_opts *o, struct hc *c)
{
	o->suites[0] = 0x002f; /* TLS_RSA_WITH_AES_128_CBC_SHA */
	hc_init(c, o);
	return hc_to_flight4(c, h) == 'A' ? c->last_alert : SILENCE;
}

static int row_no_group(struct harness *h, struct hc_opts *o, struct hc *c)
{
	o->suites[0] = SG_TLS_ECDHE_PSK_WITH_CHACHA20_POLY1305_SHA256;
	o->group = 24; /* secp384r1 only */
	hc_init(c, o);
	return hc_to_flight4(c, h) == 'A' ? c->last_alert : SILENCE;
}

static int row_ems_required(struct harness *h, struct hc_opts *o, struct hc *c)
{
	o->no_ems = true;
	hc_init(c, o);
	return hc_to_flight4(c, h) == 'A' ? c->last_alert : SILENCE;
}

static int row_bad_point(struct harness *h, struct hc_opts *o, struct hc *c)
{
	uint8_t d[2048];
	size_t n;

	o->suites[0] = SG_TLS_ECDHE_PSK_WITH_AES_128_CCM_8_SHA256;
	o->group = SG_TLS_GROUP_SECP256R1;
	hc_init(c, o);
	assert_int_equal(hc_to_flight4(c, h), 'H');
	n = hc_rec_cke(c, d, sizeof(d));
	/* The point's last byte: (x, y+1) is not on the curve. */
	d[13 + 12 + 2 + strlen(o->identity) + 65] ^= 1;
	h_input(h, d, n);
	return answer(c, h);
}

static int row_low_order_x25519(struct harness *h, struct hc_opts *o, struct hc *c)
{
	uint8_t d[2048];
	size_t n;

	o->suites[0] = SG_TLS_ECDHE_PSK_WITH_AES_128_CCM_8_SHA256;
	o->group = SG_TLS_GROUP_X25519;
	hc_init(c, o);
	assert_int_equal(hc_to_flight4(c, h), 'H');
	n = hc_rec_cke(c, d, sizeof(d));
	/* u = 0: a low-order point, shared secret all zero (RFC 7748 §6.1). */
	memset(d + 13 + 12 + 2 + strlen(o->identity) + 1, 0, 32);
	h_input(h, d, n);
	return answer(c, h);
}

static int row_garbled_hello(struct harness *h, struct hc_opts *o, struct hc *c)
{
	uint8_t d[2048];
	size_t n;

	hc_init(c, o);
	n = hc_client_hello(c, d, sizeof(d));
	/* The extensions block length (after version, random, empty session_id
	 * and cookie, two suites, one compression method) one past its end. */
	d[13 + 12 + 2 + 32 + 1 + 1 + 2 + 4 + 2 + 1] += 1;
	h_input(h, d, n);
	return answer(c, h);
}

static int row_truncated_datagram(struct harness *h, struct hc_opts *o, struct hc *c)
{
	uint8_t d[2048];
	size_t n;

	hc_init(c, o);
	n = hc_client_hello(c, d, sizeof(d));
	h_input(h, d, n - 7); /* the record length now runs past the datagram */
	return answer(c, h);
}

static int row_oversized_hello(struct harness *h, struct hc_opts *o, struct hc *c)
{
	uint8_t d[2048];
	size_t n;

	hc_init(c, o);
	n = hc_client_hello(c, d, sizeof(d));
	/* Handshake length 2^24 - 1 with this fragment: a fragment, not a hello. */
	d[13 + 1] = d[13 + 2] = d[13 + 3] = 0xff;
	h_input(h, d, n);
	return answer(c, h);
}

static int row_runt(struct harness *h, struct hc_opts *o, struct hc *c)
{
	static const uint8_t runt[7] = { 22, 0xfe, 0xfd, 0, 0, 0, 0 };

	hc_init(c, o);
	h_input(h, runt, sizeof(runt));
	return answer(c, h);
}

static int row_app_data_no_state(struct harness *h, struct hc_opts *o, struct hc *c)
{
	static const uint8_t rec[] = { 23, 0xfe, 0xfd, 0, 1, 0, 0, 0, 0, 0, 9, 0, 3, 1, 2, 3 };

	hc_init(c, o);
	h_input(h, rec, sizeof(rec));
	return answer(c, h);
}

static int row_unexpected_message(struct harness *h, struct hc_opts *o, struct hc *c)
{
	uint8_t d[64] = { 22, 0xfe, 0xfd, 0, 0, 0, 0, 0, 0, 0, 9, 0, 12 };

	hc_init(c, o);
	assert_int_equal(hc_to_flight4(c, h), 'H');
	/* A Certificate where the ClientKeyExchange belongs (RFC 5246 §7.4). */
	sg_hs_msg_hdr_write(d + 13, SG_TLS_HT_CERTIFICATE, 0, c->msg_seq);
	h_input(h, d, 13 + 12);
	return answer(c, h);
}

static int row_bad_ccs(struct harness *h, struct hc_opts *o, struct hc *c)
{
	static const uint8_t ccs[] = { 20, 0xfe, 0xfd, 0, 0, 0, 0, 0, 0, 0, 9, 0, 2, 1, 1 };

	hc_init(c, o);
	assert_int_equal(hc_to_flight4(c, h), 'H');
	h_input(h, ccs, sizeof(ccs));
	return answer(c, h);
}

static int row_epoch0_alert(struct harness *h, struct hc_opts *o, struct hc *c)
{
	static const uint8_t alert[] = { 21, 0xfe, 0xfd, 0, 0, 0, 0, 0, 0, 0, 9, 0, 2, 2, 40 };

	hc_init(c, o);
	assert_int_equal(hc_to_flight4(c, h), 'H');
	h_input(h, alert, sizeof(alert));
	return answer(c, h);
}

static int row_install_refused(struct harness *h, struct hc_opts *o, struct hc *c)
{
	o->cid = true;
	o->cid_len = 2;
	h->install_rc = -ENOSPC;
	hc_init(c, o);
	return full(c, h, false);
}

static int row_inconsistent_fragments(struct harness *h, struct hc_opts *o, struct hc *c)
{
	uint8_t d[2048], f[256];
	size_t n, fl;

	hc_init(c, o);
	assert_int_equal(hc_to_flight4(c, h), 'H');
	n = hc_rec_cke(c, d, sizeof(d));
	/* Two overlapping fragments of the CKE that disagree in their overlap. */
	fl = n - 13 - 12;
	memcpy(f, d, 13 + 12 + 10);
	f[13 + 9] = 0;
	f[13 + 10] = 0;
	f[13 + 11] = 10; /* fragment_length 10 */
	f[12] = 12 + 10;
	h_input(h, f, 13 + 12 + 10);
	memcpy(f, d, 13 + 12);
	f[13 + 8] = 5; /* fragment_offset 5 */
	f[13 + 11] = 10;
	memcpy(f + 25, d + 25 + 5, 10);
	f[25] ^= 0xff;
	f[12] = 12 + 10;
	(void)fl;
	h_input(h, f, 13 + 12 + 10);
	return answer(c, h);
}

struct neg_row {
	const char *name;
	int (*run)(struct harness *h, struct hc_opts *o, struct hc *c);
	uint16_t suite; /* 0: PSK_WITH_AES_128_CCM_8 */
	uint8_t cookies;
	bool require_ems;
	int expect; /* alert description, HVR or SILENCE */
	enum sg_hs_counter counter;
	bool lookup; /* the credential store was asked */
	bool kept;   /* unauthenticated input: dropped, the handshake still waits */
};

static const struct neg_row rows[] = {
	{ "wrong PSK", row_wrong_psk, 0, SG_HS_COOKIE_ALWAYS, false, SG_TLS_ALERT_DECRYPT_ERROR,
	  SG_HS_C_FAIL_BAD_FINISHED, true },
	{ "unknown identity", row_unknown_identity, 0, SG_HS_COOKIE_ALWAYS, false,
	  SG_TLS_ALERT_DECRYPT_ERROR, SG_HS_C_FAIL_UNKNOWN_IDENTITY, true },
	{ "identity over 128 bytes", row_long_identity, 0, SG_HS_COOKIE_NEVER, false,
	  SG_TLS_ALERT_DECRYPT_ERROR, SG_HS_C_FAIL_UNKNOWN_IDENTITY, false },
	{ "wrong verify_data", row_bad_finished, 0, SG_HS_COOKIE_ALWAYS, false,
	  SG_TLS_ALERT_DECRYPT_ERROR, SG_HS_C_FAIL_BAD_FINISHED, true },
	{ "policy: refused SNI", row_policy_sni, 0, SG_HS_COOKIE_NEVER, false,
	  SG_TLS_ALERT_DECRYPT_ERROR, SG_HS_C_FAIL_POLICY, true },
	{ "policy: device requires EMS", row_policy_ems, 0, SG_HS_COOKIE_NEVER, false,
	  SG_TLS_ALERT_DECRYPT_ERROR, SG_HS_C_FAIL_POLICY, true },
	{ "policy: device requires ECDHE", row_policy_ecdhe, 0, SG_HS_COOKIE_NEVER, false,
	  SG_TLS_ALERT_DECRYPT_ERROR, SG_HS_C_FAIL_POLICY, true },
	{ "bad cookie", row_bad_cookie, 0, SG_HS_COOKIE_ALWAYS, false, HVR, SG_HS_C_DROP_COOKIE_BAD,
	  false },
	{ "cookie from another port", row_cookie_other_port, 0, SG_HS_COOKIE_ALWAYS, false, HVR,
	  SG_HS_C_DROP_COOKIE_BAD, false },
	{ "expired cookie", row_expired_cookie, 0, SG_HS_COOKIE_ALWAYS, false, HVR,
	  SG_HS_C_DROP_COOKIE_EXPIRED, false },
	{ "truncated cookie", row_truncated_cookie, 0, SG_HS_COOKIE_ALWAYS, false, HVR,
	  SG_HS_C_DROP_COOKIE_BAD, false },
	{ "DTLS 1.0 only", row_dtls10, 0, SG_HS_COOKIE_ALWAYS, false, SG_TLS_ALERT_PROTOCOL_VERSION,
	  SG_HS_C_FAIL_PROTOCOL_VERSION, false },
	{ "downgrade with TLS_FALLBACK_SCSV", row_fallback, 0, SG_HS_COOKIE_ALWAYS, false,
	  SG_TLS_ALERT_INAPPROPRIATE_FALLBACK, SG_HS_C_FAIL_FALLBACK, false },
	{ "TLS version in a DTLS hello", row_tls_version, 0, SG_HS_COOKIE_ALWAYS, false,
	  SG_TLS_ALERT_PROTOCOL_VERSION, SG_HS_C_FAIL_PROTOCOL_VERSION, false },
	{ "renegotiation_info not empty", row_renegotiation_info, 0, SG_HS_COOKIE_ALWAYS, false,
	  SG_TLS_ALERT_HANDSHAKE_FAILURE, SG_HS_C_FAIL_RENEGOTIATION, false },
	{ "no suite in common", row_no_suite, 0, SG_HS_COOKIE_ALWAYS, false,
	  SG_TLS_ALERT_HANDSHAKE_FAILURE, SG_HS_C_FAIL_NO_SUITE, false },
	{ "no group in common", row_no_group, 0, SG_HS_COOKIE_ALWAYS, false,
	  SG_TLS_ALERT_HANDSHAKE_FAILURE, SG_HS_C_FAIL_NO_GROUP, false },
	{ "EMS required by config", row_ems_required, 0, SG_HS_COOKIE_ALWAYS, true,
	  SG_TLS_ALERT_HANDSHAKE_FAILURE, SG_HS_C_FAIL_EMS_REQUIRED, false },
	{ "P-256 point off the curve", row_bad_point, 0, SG_HS_COOKIE_NEVER, false, SILENCE,
	  SG_HS_C_DROP_MALFORMED, false, true },
	{ "X25519 low-order point", row_low_order_x25519, 0, SG_HS_COOKIE_NEVER, false, SILENCE,
	  SG_HS_C_DROP_MALFORMED, false, true },
	{ "garbled hello", row_garbled_hello, 0, SG_HS_COOKIE_ALWAYS, false,
	  SG_TLS_ALERT_DECODE_ERROR, SG_HS_C_FAIL_DECODE, false },
	{ "truncated datagram", row_truncated_datagram, 0, SG_HS_COOKIE_ALWAYS, false, SILENCE,
	  SG_HS_C_DROP_MALFORMED, false },
	{ "oversized hello", row_oversized_hello, 0, SG_HS_COOKIE_ALWAYS, false, SILENCE,
	  SG_HS_C_DROP_FRAGMENTED_CH, false },
	{ "runt record", row_runt, 0, SG_HS_COOKIE_ALWAYS, false, SILENCE, SG_HS_C_DROP_MALFORMED,
	  false },
	{ "application data, no state", row_app_data_no_state, 0, SG_HS_COOKIE_ALWAYS, false,
	  SILENCE, SG_HS_C_DROP_NO_STATE, false },
	{ "Certificate instead of CKE", row_unexpected_message, 0, SG_HS_COOKIE_NEVER, false,
	  SILENCE, SG_HS_C_DROP_UNEXPECTED, false, true },
	{ "malformed ChangeCipherSpec", row_bad_ccs, 0, SG_HS_COOKIE_NEVER, false, SILENCE,
	  SG_HS_C_DROP_MALFORMED, false, true },
	{ "epoch-0 fatal alert", row_epoch0_alert, 0, SG_HS_COOKIE_NEVER, false, SILENCE,
	  SG_HS_C_DROP_UNAUTHENTICATED, false, true },
	{ "install refused", row_install_refused, 0, SG_HS_COOKIE_NEVER, false,
	  SG_TLS_ALERT_INTERNAL_ERROR, SG_HS_C_FAIL_INSTALL, true },
	/* The newest fragment wins (the handshake goes on): one handshake, still there. */
	{ "fragments that disagree", row_inconsistent_fragments, 0, SG_HS_COOKIE_NEVER, false,
	  SILENCE, SG_HS_C_STARTED, false, true },
};

static void test_negative_table(void **state)
{
	(void)state;
	for (unsigned i = 0; i < SG_ARRAY_SIZE(rows); i++) {
		const struct neg_row *r = &rows[i];
		struct hc_opts o = hc_psk_opts(r->suite ? r->suite : SG_TLS_PSK_WITH_AES_128_CCM_8);
		struct harness h;
		struct hc c;
		int got;

		memset(&h, 0, sizeof(h));
		h_config(&h, &h.conf);
		h.conf.cookie_policy = r->cookies;
		h.conf.require_ems = r->require_ems;
		h.conf.cid_len = 8;
		h_start(&h);
		h.capture = true;
		got = r->run(&h, &o, &c);
		if (got != r->expect)
			fail_msg("row '%s': answer %#x, want %#x", r->name, got, r->expect);
		if (h_count(&h, r->counter) != 1)
			fail_msg("row '%s': counter %s = %lu", r->name,
			         sg_hs_counter_name(r->counter),
			         (unsigned long)h_count(&h, r->counter));
		if (h.n_installed != 0)
			fail_msg("row '%s': installed", r->name);
		if (stats(&h).in_flight != (r->kept ? 1u : 0u) && r->expect != HVR)
			fail_msg("row '%s': %u handshakes in flight", r->name, stats(&h).in_flight);
		for (int k = SG_HS_C_FAIL_PROTOCOL_VERSION; r->kept && k < SG_HS_C_MAX; k++)
			if (h_count(&h, (enum sg_hs_counter)k) != 0)
				fail_msg("row '%s': kept, but %s", r->name,
				         sg_hs_counter_name((enum sg_hs_counter)k));
		if ((h.n_lookups != 0) != r->lookup)
			fail_msg("row '%s': %u lookups", r->name, h.n_lookups);
		if (h.cids_held != 0)
			fail_msg("row '%s': CID leaked", r->name);
		hc_free(&c);
		h_stop(&h);
	}
}

/*
 * No oracle (RFC 4279 §2): a wrong key and an unknown identity get the same
 * answer at the same step, byte for byte in length.
 */
static void test_no_identity_oracle(void **state)
{
	size_t len[2];

	(void)state;
	for (int unknown = 0; unknown < 2; unknown++) {
		struct hc_opts o = hc_psk_opts(SG_TLS_PSK_WITH_AES_128_CCM_8);
		struct harness h;
		struct hc c;
		uint8_t d[2048];

		h_start_capture(&h, SG_HS_COOKIE_NEVER);
		if (unknown) {
			o.identity = "urn:dev:imei:490154203237519"; /* same length, unknown */
		} else {
			o.psk = wrong_key;
		}
		hc_init(&c, &o);
		assert_int_equal(hc_to_flight4(&c, &h), 'H');
		h_input(&h, d, hc_flight5(&c, d, sizeof(d), false));
		assert_int_equal(h.n_out, 1);
		len[unknown] = h.out_len[0];
		assert_int_equal(h.out[0][0], SG_DTLS_CT_ALERT);
		assert_int_equal(h.out[0][13 + 1], SG_TLS_ALERT_DECRYPT_ERROR);
		hc_free(&c);
		h_stop(&h);
	}
	assert_int_equal(len[0], len[1]);
}

/* ---- reordering, fragments, duplicates ------------------------------------------------------ */

static void test_finished_before_key_exchange(void **state)
{
	struct hc_opts o = hc_psk_opts(SG_TLS_PSK_WITH_AES_128_GCM_SHA256);
	uint8_t cke[512], ccs[64], fin[256];
	size_t ncke, nccs, nfin;
	struct harness h;
	struct hc c;

	(void)state;
	h_start_capture(&h, SG_HS_COOKIE_ALWAYS);
	hc_init(&c, &o);
	assert_int_equal(hc_to_flight4(&c, &h), 'H');
	ncke = hc_rec_cke(&c, cke, sizeof(cke));
	nccs = hc_rec_ccs(&c, ccs, sizeof(ccs));
	nfin = hc_rec_finished(&c, fin, sizeof(fin), false);
	/* Three datagrams, the Finished first (RFC 6347 §4.1.2.6 lets us keep it). */
	h_input(&h, fin, nfin);
	assert_int_equal(h.n_out, 0);
	h_input(&h, ccs, nccs);
	h_input(&h, cke, ncke);
	assert_int_equal(hc_drain(&c, &h), 'F');
	assert_true(c.server_finished_ok);
	assert_int_equal(h.n_installed, 1);
	hc_free(&c);
	h_stop(&h);
}

static void test_fragmented_key_exchange(void **state)
{
	struct hc_opts o = hc_psk_opts(SG_TLS_ECDHE_PSK_WITH_AES_128_CCM_SHA256);
	uint8_t cke[512], d[512], rest[256];
	size_t n, body, nrest;
	struct harness h;
	struct hc c;
	/* Fragments (offset, length) of the ClientKeyExchange body, out of order and overlapping.
	 */
	static const unsigned frags[][2] = { { 40, 200 }, { 0, 25 }, { 20, 30 } };

	(void)state;
	h_start_capture(&h, SG_HS_COOKIE_NEVER);
	o.group = SG_TLS_GROUP_SECP256R1;
	hc_init(&c, &o);
	assert_int_equal(hc_to_flight4(&c, &h), 'H');
	n = hc_rec_cke(&c, cke, sizeof(cke));
	body = n - 13 - 12;
	for (unsigned i = 0; i < SG_ARRAY_SIZE(frags); i++) {
		unsigned off = frags[i][0], len = frags[i][1];

		if (off + len > body)
			len = (unsigned)(body - off);
		memcpy(d, cke, 13 + 12);
		sg_store_be24(d + 13 + 6, off);              /* fragment_offset */
		sg_store_be24(d + 13 + 9, len);              /* fragment_length */
		sg_store_be16(d + 11, (uint16_t)(12 + len)); /* record length */
		memcpy(d + 25, cke + 25 + off, len);
		h_input(&h, d, 25 + len);
	}
	nrest = hc_rec_ccs(&c, rest, sizeof(rest));
	nrest += hc_rec_finished(&c, rest + nrest, sizeof(rest) - nrest, false);
	h_input(&h, rest, nrest);
	assert_int_equal(hc_drain(&c, &h), 'F');
	assert_int_equal(h.n_installed, 1);
	hc_free(&c);
	h_stop(&h);
}

static void test_duplicates(void **state)
{
	struct hc_opts o = hc_psk_opts(SG_TLS_PSK_WITH_AES_128_CCM_8);
	uint8_t ch[2048], f5[2048], final_flight[2048];
	size_t nch, nf5, nfinal;
	struct harness h;
	struct hc c;

	(void)state;
	h_start_capture(&h, SG_HS_COOKIE_NEVER);
	hc_init(&c, &o);
	nch = hc_client_hello(&c, ch, sizeof(ch));
	h_input(&h, ch, nch);
	assert_int_equal(hc_drain(&c, &h), 'H');
	/* The same hello again: our flight is resent, no second slot. */
	h_input(&h, ch, nch);
	assert_int_equal(h.n_out, 1);
	h.n_out = 0;
	assert_int_equal(h_count(&h, SG_HS_C_RETRANSMIT_PEER), 1);
	assert_int_equal(stats(&h).in_flight, 1);
	assert_int_equal(h_count(&h, SG_HS_C_STARTED), 1);

	nf5 = hc_flight5(&c, f5, sizeof(f5), false);
	h_input(&h, f5, nf5);
	assert_int_equal(h.n_out, 1);
	nfinal = h.out_len[0];
	memcpy(final_flight, h.out[0], nfinal);
	assert_int_equal(hc_drain(&c, &h), 'F');
	assert_int_equal(h.n_installed, 1);
	/*
	 * Our final flight lost: the client repeats its own, the Finished under
	 * a new record number (RFC 6347 §4.2.4); our flight goes again in new
	 * records: as long, not the same bytes, its Finished fresh for the
	 * client. The datagram replayed as it was gets nothing (the window
	 * refuses it).
	 */
	{
		uint8_t again[2048];
		size_t n = hc_rec_ccs(&c, again, sizeof(again));

		n += hc_rec_finished_again(&c, again + n, sizeof(again) - n);
		h_input(&h, again, n);
	}
	assert_int_equal(h.n_out, 1);
	assert_int_equal(h.out_len[0], nfinal);
	assert_memory_not_equal(h.out[0], final_flight, nfinal);
	{
		struct sg_rec_hdr r[8];
		unsigned k = sg_rec_parse(h.out[0], h.out_len[0], 0, r, 8);
		uint8_t pt[64];

		assert_true(k > 0);
		assert_int_equal(r[k - 1].epoch, 1);
		assert_int_equal(hc_open(&c, h.out[0] + r[k - 1].off, r[k - 1].len, pt, sizeof(pt)),
		                 SG_DTLS_HS_HDR_LEN + SG_TLS_VERIFY_DATA_LEN);
		assert_int_equal(pt[0], SG_TLS_HT_FINISHED);
	}
	assert_int_equal(h_count(&h, SG_HS_C_LINGER_RESENT), 1);
	assert_int_equal(h.n_installed, 1);
	h.n_out = 0;
	h_input(&h, f5, nf5);
	assert_int_equal(h.n_out, 0);
	assert_int_equal(h_count(&h, SG_HS_C_DROP_DUPLICATE), 1);
	/* An encrypted hello after the handshake (renegotiation): silence. */
	{
		uint8_t hello[12], reneg[256];
		size_t n;

		sg_hs_msg_hdr_write(hello, SG_TLS_HT_CLIENT_HELLO, 0, 0);
		n = hc_rec_sealed(&c, SG_DTLS_CT_HANDSHAKE, hello, sizeof(hello), reneg,
		                  sizeof(reneg));
		h_input(&h, reneg, n);
		assert_int_equal(h.n_out, 0);
		assert_int_equal(h_count(&h, SG_HS_C_DROP_NO_STATE), 1);
	}
	/* After linger_ms the flight is gone. */
	h_advance(&h, 30000);
	assert_int_equal(stats(&h).lingering, 0);
	h_input(&h, f5, nf5);
	assert_int_equal(h.n_out, 0);
	hc_free(&c);
	h_stop(&h);
}

/* ---- timers ------------------------------------------------------------------------------ */

static void test_retransmission_and_timeout(void **state)
{
	struct hc_opts o = hc_psk_opts(SG_TLS_PSK_WITH_AES_128_CCM_8);
	struct harness h;
	struct hc c;
	uint64_t t0;

	(void)state;
	memset(&h, 0, sizeof(h));
	h_config(&h, &h.conf);
	/* A cookie proves the address: the amplification limit does not apply. */
	h.conf.cookie_policy = SG_HS_COOKIE_ALWAYS;
	h.conf.rto_initial_ms = 1000;
	h.conf.rto_max_ms = 4000;
	h.conf.handshake_timeout_ms = 20000;
	h_start(&h);
	h.capture = true;
	hc_init(&c, &o);
	assert_int_equal(hc_to_flight4(&c, &h), 'H');
	t0 = h.now.mono_ms;
	assert_int_equal(sg_hs_next_deadline(h.e), t0 + 1000);
	/* RFC 6347 §4.2.4.1: 1 s, then doubling, capped at rto_max: 1, 2, 4, 4, 4... */
	h_advance(&h, 999);
	assert_int_equal(h.n_out, 0);
	h_advance(&h, 1);
	assert_int_equal(h.n_out, 1);
	assert_int_equal(hc_drain(&c, &h), 'H');
	assert_int_equal(sg_hs_next_deadline(h.e), t0 + 3000);
	h_advance(&h, 2000);
	assert_int_equal(h.n_out, 1);
	h.n_out = 0;
	assert_int_equal(sg_hs_next_deadline(h.e), t0 + 7000);
	h_advance(&h, 4000);
	h_advance(&h, 4000);
	h_advance(&h, 4000);
	h_advance(&h, 4000);
	assert_int_equal(h_count(&h, SG_HS_C_RETRANSMIT_TIMER), 6);
	/* t0 + 19 s; at 20 s the state is freed. */
	h.n_out = 0;
	h_advance(&h, 1000);
	assert_int_equal(h_count(&h, SG_HS_C_TIMEOUT), 1);
	assert_int_equal(stats(&h).in_flight, 0);
	assert_int_equal(h.n_out, 0);
	assert_int_equal(h.cids_held, 0);
	hc_free(&c);
	h_stop(&h);
}

static void test_pool_full_and_load_cookies(void **state)
{
	struct harness h;
	struct hc c[4];

	(void)state;
	memset(&h, 0, sizeof(h));
	h_config(&h, &h.conf);
	h.conf.max_handshakes = 3;
	h.conf.cookie_policy = SG_HS_COOKIE_UNDER_LOAD;
	h.conf.cookie_threshold = 2;
	h_start(&h);
	h.capture = true;
	for (int i = 0; i < 4; i++) {
		struct hc_opts o = hc_psk_opts(SG_TLS_PSK_WITH_AES_128_CCM_8);
		uint8_t d[2048];
		int w;

		hc_init(&c[i], &o);
		h.peer.pport = (uint16_t)(1000 + i);
		h_input(&h, d, hc_client_hello(&c[i], d, sizeof(d)));
		w = hc_drain(&c[i], &h);
		/* Two in flight: from the third on, a cookie first (WireGuard's model). */
		assert_int_equal(w, i < 2 ? 'H' : 'V');
		if (w == 'V') {
			h_input(&h, d, hc_client_hello(&c[i], d, sizeof(d)));
			w = hc_drain(&c[i], &h);
			assert_int_equal(w, i < 3 ? 'H' : 0);
		}
	}
	assert_int_equal(stats(&h).in_flight, 3);
	assert_int_equal(h_count(&h, SG_HS_C_DROP_POOL_FULL), 1);
	assert_int_equal(h_count(&h, SG_HS_C_HVR_SENT), 2);
	for (int i = 0; i < 4; i++)
		hc_free(&c[i]);
	h_stop(&h);
}

/* Every datagram ends in exactly one outcome counter. */
static void test_every_datagram_counted(void **state)
{
	struct harness h;
	struct hc c;
	struct hc_opts o = hc_psk_opts(SG_TLS_PSK_WITH_AES_128_CCM_8);
	unsigned inputs = 0;
	uint8_t d[2048];

	(void)state;
	h_start_capture(&h, SG_HS_COOKIE_ALWAYS);
	hc_init(&c, &o);
	h_input(&h, d, hc_client_hello(&c, d, sizeof(d)));
	inputs++;
	hc_drain(&c, &h);
	h_input(&h, d, hc_client_hello(&c, d, sizeof(d)));
	inputs++;
	hc_drain(&c, &h);
	h_input(&h, d, hc_flight5(&c, d, sizeof(d), false));
	inputs++;
	h_input(&h, d, 5);
	inputs++;
	h_input(&h, d, 0);
	inputs++;
	assert_int_equal(h_dgram_outcomes(&h), inputs);
	assert_int_equal(h.n_installed, 1);
	for (int i = 0; i < SG_HS_C_MAX; i++)
		assert_string_not_equal(sg_hs_counter_name((enum sg_hs_counter)i), "unknown");
	assert_string_equal(sg_hs_counter_name(SG_HS_C_MAX), "unknown");
	hc_free(&c);
	h_stop(&h);
}

/* ---- memory --------------------------------------------------------------------------------- */

/*
 * The 2 KB budget, measured: heap taken at creation per slot (its share of
 * the pool, index, heap and digest context) plus what an ECDHE X25519
 * handshake waiting for the client's key exchange adds (its key pair).
 */
static void test_memory_per_handshake(void **state)
{
	enum { N = 256 };
	struct harness h;
	struct hc *c = calloc(N, sizeof(*c));
	size_t m1, m2;
	size_t create_per, flight_per;

	(void)state;
	memset(&h, 0, sizeof(h));
	h_config(&h, &h.conf);
	h.conf.max_handshakes = N;
	h.conf.linger_entries = 1; /* finished flights are another budget */
	h.conf.cookie_policy = SG_HS_COOKIE_NEVER;
	h_start(&h);
	h.capture = true;
	for (int i = 0; i < N; i++) {
		struct hc_opts o = hc_psk_opts(SG_TLS_ECDHE_PSK_WITH_AES_128_CCM_8_SHA256);

		hc_init(&c[i], &o);
	}
	m1 = h_heap_used(); /* clients allocated: not the engine's */
	for (int i = 0; i < N; i++) {
		uint8_t d[2048];

		h.peer.pport = (uint16_t)i;
		h_input(&h, d, hc_client_hello(&c[i], d, sizeof(d)));
		h.n_out = 0;
	}
	m2 = h_heap_used();
	assert_int_equal(stats(&h).in_flight, N);
	/* m1 - m0 counts the engine and the N clients; count the engine alone. */
	{
		struct harness h2;
		size_t a, b;

		memset(&h2, 0, sizeof(h2));
		h_config(&h2, &h2.conf);
		h2.conf.max_handshakes = N;
		h2.conf.linger_entries = 1;
		a = h_heap_used();
		h2.e = sg_hs_engine_create(&h2.conf);
		b = h_heap_used();
		assert_non_null(h2.e);
		/* Fixed engine overhead (crypto contexts, scratch) is measured with 1 slot. */
		sg_hs_engine_free(h2.e);
		h2.conf.max_handshakes = 1;
		{
			size_t c0 = h_heap_used(), c1;

			h2.e = sg_hs_engine_create(&h2.conf);
			c1 = h_heap_used();
			create_per = ((b - a) - (c1 - c0)) / (N - 1);
			sg_hs_engine_free(h2.e);
		}
	}
	flight_per = (m2 - m1) / N;
	print_message("# per handshake: %zu B at creation + %zu B in flight (X25519) = %zu B\n",
	              create_per, flight_per, create_per + flight_per);
	assert_true(create_per + flight_per <= 2048);
	for (int i = 0; i < N; i++)
		hc_free(&c[i]);
	free(c);
	h_stop(&h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_negative_table),
		cmocka_unit_test(test_no_identity_oracle),
		cmocka_unit_test(test_finished_before_key_exchange),
		cmocka_unit_test(test_fragmented_key_exchange),
		cmocka_unit_test(test_duplicates),
		cmocka_unit_test(test_retransmission_and_timeout),
		cmocka_unit_test(test_pool_full_and_load_cookies),
		cmocka_unit_test(test_every_datagram_counted),
		cmocka_unit_test(test_memory_per_handshake),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
