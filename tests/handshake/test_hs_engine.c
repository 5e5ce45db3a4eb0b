/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The engine with the scripted client: connection IDs (RFC 9146) and the
 * RFC 8442 ECDHE-PSK AES suites (no independent client offers either), the
 * negative table (each row: the alert or silence, the counter, the state
 * freed), reordering, fragments, duplicates, retransmission timers,
 * timeouts, the pool limit, and the memory each handshake holds.
 */
#include <errno.h>
#include <malloc.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include <stormgate/common.h>
#include <stormgate/dtls.h>
#include <stormgate/session.h>

#include "hs_client.h"
#include "hs_harness.h"

static struct sg_hs_stats stats(struct harness *h)
{
	struct sg_hs_stats st;

	sg_hs_stats_get(h->e, &st);
	return st;
}

/* Data both ways with the installed SA: client -> engine's keys -> client. */
static void data_both_ways(struct hc *c, struct harness *h)
{
	static const uint8_t up[] = "uplink", down[] = "downlink";
	uint8_t rec[512], pt[256], buf[512];
	size_t n = hc_rec_app(c, up, sizeof(up), rec, sizeof(rec));
	struct sg_rec_sa *sa = (struct sg_rec_sa *)h->sess.sa_buf;
	int tx_cid = sa->flags & SG_SA_F_TX_CID;
	unsigned head =
	        sg_rec_seal_headroom((enum sg_aead)sa->aead, tx_cid, h->sess.res.peer_cid_len);
	struct sg_rec_seal_op op = {
		.buf = buf,
		.buf_len = sizeof(buf),
		.pt_off = head,
		.pt_len = sizeof(down),
		.sa = sa,
		.cid = h->sess.res.peer_cid,
		.cid_len = h->sess.res.peer_cid_len,
		.type = SG_DTLS_CT_APPLICATION_DATA,
	};

	assert_int_equal(h_open(h, rec, n, pt, sizeof(pt)), (int)sizeof(up));
	assert_memory_equal(pt, up, sizeof(up));
	memcpy(buf + head, down, sizeof(down));
	assert_int_equal(sg_rec_seal_burst(h->rec, &op, 1), 1);
	assert_int_equal(hc_open(c, buf + op.rec_off, op.rec_len, pt, sizeof(pt)),
	                 (int)sizeof(down));
	assert_memory_equal(pt, down, sizeof(down));
}

/* ---- connection IDs and RFC 8442 suites ---------------------------------------------- */

static void test_connection_id(void **state)
{
	static const uint8_t client_cid_lens[] = { 4, 0 };

	(void)state;
	for (unsigned i = 0; i < SG_ARRAY_SIZE(client_cid_lens); i++) {
		struct harness h;
		struct hc c;
		struct hc_opts o = hc_psk_opts(SG_TLS_PSK_WITH_AES_128_CCM_8);
		uint8_t rec[256];

		h_start_capture(&h, SG_HS_COOKIE_ALWAYS);
		o.cid = true;
		o.cid_len = client_cid_lens[i];
		hc_init(&c, &o);
		assert_int_equal(hc_handshake(&c, &h), 0);
		assert_int_equal(h.n_installed, 1);
		/* RFC 9146 §3: our CID (8 bytes) in the ServerHello, the client's for our records.
		 */
		assert_true(c.cid_ok);
		assert_int_equal(c.server_cid_len, 8);
		assert_int_equal(h.sess.res.cid_len, 8);
		assert_memory_equal(h.sess.res.cid, c.server_cid, 8);
		assert_int_equal(h.sess.res.peer_cid_len, client_cid_lens[i]);
		assert_true(h.sess.res.sa->flags & SG_SA_F_RX_CID);
		assert_int_equal(!!(h.sess.res.sa->flags & SG_SA_F_TX_CID),
		                 client_cid_lens[i] != 0);
		/* The client's records to us are tls12_cid records carrying our CID. */
		assert_true(hc_rec_app(&c, (const uint8_t *)"x", 1, rec, sizeof(rec)) > 0);
		assert_int_equal(rec[0], SG_DTLS_CT_TLS12_CID);
		assert_memory_equal(rec + SG_DTLS_HDR_OFF_CID, h.sess.res.cid, 8);
		data_both_ways(&c, &h);
		assert_int_equal(h.cids_held, 0);
		hc_free(&c);
		h_stop(&h);
	}
}

/* A client CID longer than we keep: the extension is declined, no CIDs. */
static void test_connection_id_too_long(void **state)
{
	struct harness h;
	struct hc c;
	struct hc_opts o = hc_psk_opts(SG_TLS_PSK_WITH_AES_128_CCM_8);

	(void)state;
	h_start_capture(&h, SG_HS_COOKIE_NEVER);
	o.cid = true;
	o.cid_len = SG_HS_PEER_CID_MAX + 1;
	hc_init(&c, &o);
	assert_int_equal(hc_handshake(&c, &h), 0);
	assert_false(c.cid_ok);
	assert_int_equal(h.sess.res.cid_len, 0);
	data_both_ways(&c, &h);
	hc_free(&c);
	h_stop(&h);
}

static void test_rfc8442_suites(void **state)
{
	static const struct {
		uint16_t suite;
		uint16_t group;
	} rows[] = {
		{ SG_TLS_ECDHE_PSK_WITH_AES_128_CCM_8_SHA256, SG_TLS_GROUP_X25519 },
		{ SG_TLS_ECDHE_PSK_WITH_AES_128_CCM_8_SHA256, SG_TLS_GROUP_SECP256R1 },
		{ SG_TLS_ECDHE_PSK_WITH_AES_128_CCM_SHA256, SG_TLS_GROUP_X25519 },
		{ SG_TLS_ECDHE_PSK_WITH_AES_128_GCM_SHA256, SG_TLS_GROUP_SECP256R1 },
		{ SG_TLS_ECDHE_PSK_WITH_AES_128_GCM_SHA256, SG_TLS_GROUP_X25519 },
	};

	(void)state;
	for (unsigned i = 0; i < SG_ARRAY_SIZE(rows); i++) {
		struct harness h;
		struct hc c;
		struct hc_opts o = hc_psk_opts(rows[i].suite);

		h_start_capture(&h, SG_HS_COOKIE_ALWAYS);
		o.group = rows[i].group;
		hc_init(&c, &o);
		assert_int_equal(hc_handshake(&c, &h), 0);
		assert_int_equal(h.sess.res.suite, rows[i].suite);
		assert_int_equal(h.sess.res.group, rows[i].group);
		assert_int_equal(c.ske_group, rows[i].group);
		data_both_ways(&c, &h);
		hc_free(&c);
		h_stop(&h);
	}
}

/* Ticket resumption with a CID, and the ticket refused when the SNI changes. */
static void test_resumption_rules(void **state)
{
	struct harness h;
	struct hc c, r;
	struct hc_opts o = hc_psk_opts(SG_TLS_PSK_WITH_AES_128_CCM_8);
	uint8_t ticket[512], master[48];
	uint16_t tlen;

	(void)state;
	h_start_capture(&h, SG_HS_COOKIE_ALWAYS);
	o.ticket_ext = true;
	o.sni = "gw.example";
	hc_init(&c, &o);
	assert_int_equal(hc_handshake(&c, &h), 0);
	assert_true(c.ticket_len > 0);
	memcpy(ticket, c.ticket, c.ticket_len);
	tlen = c.ticket_len;
	memcpy(master, c.master, 48);
	hc_free(&c);

	/* Resumed with a CID. */
	o.ticket = ticket;
	o.ticket_len = tlen;
	o.resume_master = master;
	o.cid = true;
	o.cid_len = 2;
	hc_init(&r, &o);
	assert_int_equal(hc_handshake(&r, &h), 0);
	assert_true(r.resumed);
	assert_int_equal(h.sess.res.resumed, 1);
	assert_int_equal(h.sess.res.cid_len, 8);
	assert_int_equal(h.sess.res.sni_len, 10);
	/* The credential store was asked again: the policy fields are current. */
	assert_int_equal(h.sess.res.cred_ref, 1000);
	assert_int_equal(h.sess.res.backend, 7);
	data_both_ways(&r, &h);
	hc_free(&r);

	/* A revoked device cannot resume: a full handshake, which then fails. */
	h.revoked = true;
	hc_init(&r, &o);
	assert_int_equal(hc_handshake(&r, &h), -1);
	assert_false(r.resumed);
	assert_int_equal(r.last_alert, SG_TLS_ALERT_DECRYPT_ERROR);
	assert_int_equal(h_count(&h, SG_HS_C_FAIL_UNKNOWN_IDENTITY), 1);
	hc_free(&r);
	h.revoked = false;

	/* RFC 6066 §3: another name, no resumption (a full handshake instead). */
	o.sni = "other.example";
	hc_init(&r, &o);
	assert_int_equal(hc_handshake(&r, &h), 0);
	assert_false(r.resumed);
	assert_int_equal(h.sess.res.resumed, 0);
	hc_free(&r);

	/* RFC 7627 §5.3: an EMS session offered without EMS is aborted. */
	o.sni = "gw.example";
	o.no_ems = true;
	hc_init(&r, &o);
	assert_int_equal(hc_handshake(&r, &h), -1);
	assert_int_equal(r.last_alert, SG_TLS_ALERT_HANDSHAKE_FAILURE);
	assert_int_equal(h_count(&h, SG_HS_C_FAIL_EMS_REQUIRED), 1);
	hc_free(&r);

	/* Expired: a full handshake. */
	o.no_ems = false;
	h_advance(&h, 86400ull * 1000);
	hc_init(&r, &o);
	assert_int_equal(hc_handshake(&r, &h), 0);
	assert_false(r.resumed);
	hc_free(&r);
	assert_int_equal(h_count(&h, SG_HS_C_COMPLETED_RESUMED), 1);
	assert_true(h_count(&h, SG_HS_C_TICKET_REJECTED) >= 2);
	assert_int_equal(stats(&h).in_flight, 0);
	h_stop(&h);
}

/* RFC 5077 §3.3: a ticket promised in the ServerHello comes, empty if policy says no. */
static void test_ticket_policy(void **state)
{
	struct harness h;
	struct hc c;
	struct hc_opts o = hc_psk_opts(SG_TLS_PSK_WITH_AES_128_CCM_8);

	(void)state;
	h_start_capture(&h, SG_HS_COOKIE_NEVER);
	o.ticket_ext = true;
	o.identity = h_psks[3].identity; /* SG_HS_CRED_F_NO_TICKET */
	o.psk = h_psks[3].key;
	o.psk_len = h_psks[3].key_len;
	hc_init(&c, &o);
	c.ticket_len = 0xffff;
	assert_int_equal(hc_handshake(&c, &h), 0);
	assert_int_equal(c.ticket_len, 0);
	assert_int_equal(h_count(&h, SG_HS_C_TICKET_ISSUED), 0);
	data_both_ways(&c, &h);
	hc_free(&c);
	h_stop(&h);
}

/* Ticket keys survive a restart through export / import. */
static void test_ticket_keys_restart(void **state)
{
	struct harness h1, h2;
	struct hc c;
	struct hc_opts o = hc_psk_opts(SG_TLS_PSK_WITH_AES_128_GCM_SHA256);
	uint8_t keys[SG_HS_TICKET_KEYS_LEN], ticket[512], master[48];
	uint16_t tlen;
	int n;

	(void)state;
	h_start_capture(&h1, SG_HS_COOKIE_NEVER);
	o.ticket_ext = true;
	hc_init(&c, &o);
	assert_int_equal(hc_handshake(&c, &h1), 0);
	memcpy(ticket, c.ticket, c.ticket_len);
	tlen = c.ticket_len;
	memcpy(master, c.master, 48);
	hc_free(&c);
	n = sg_hs_ticket_keys_export(h1.e, keys, sizeof(keys));
	assert_true(n > 0);
	assert_int_equal(sg_hs_ticket_keys_export(h1.e, keys, 10), -ENOSPC);
	h_stop(&h1);

	h_start_capture(&h2, SG_HS_COOKIE_NEVER);
	assert_int_equal(sg_hs_ticket_keys_import(h2.e, keys, 10), -EINVAL);
	assert_int_equal(sg_hs_ticket_keys_import(h2.e, keys, (size_t)n), 0);
	o.ticket = ticket;
	o.ticket_len = tlen;
	o.resume_master = master;
	hc_init(&c, &o);
	assert_int_equal(hc_handshake(&c, &h2), 0);
	assert_true(c.resumed);
	data_both_ways(&c, &h2);
	hc_free(&c);
	sg_wipe(keys, sizeof(keys));
	h_stop(&h2);
}

/* ---- what the client negotiated, carried into its session ------------------------------ */

/*
 * RFC 9853 §3: rrc is echoed only when the client offers it together with a
 * connection_id and we give it one of our CIDs; the result and its SA then
 * carry the flag, and the data plane checks a moved peer before following it.
 */
static void test_rrc_negotiation(void **state)
{
	static const struct {
		const char *name;
		bool cid, rrc;
		uint8_t server_cid_len;
		bool echoed;
	} rows[] = {
		{ "cid + rrc", true, true, 8, true },
		{ "rrc without cid (RFC 9853 §3: MUST NOT echo)", false, true, 8, false },
		{ "cid + rrc, server issues no CIDs", true, true, 0, false },
		{ "cid only", true, false, 8, false },
		{ "neither", false, false, 8, false },
	};

	(void)state;
	for (unsigned i = 0; i < SG_ARRAY_SIZE(rows); i++) {
		struct harness h;
		struct hc c;
		struct hc_opts o = hc_psk_opts(SG_TLS_PSK_WITH_AES_128_CCM_8);

		memset(&h, 0, sizeof(h));
		h_config(&h, &h.conf);
		h.conf.cookie_policy = SG_HS_COOKIE_NEVER;
		h.conf.cid_len = rows[i].server_cid_len;
		h_start(&h);
		h.capture = true;
		o.cid = rows[i].cid;
		o.cid_len = 4;
		o.rrc = rows[i].rrc;
		hc_init(&c, &o);
		assert_int_equal(hc_handshake(&c, &h), 0);
		if (c.rrc_ok != rows[i].echoed || h.sess.res.rrc != rows[i].echoed ||
		    !!(h.sess.res.sa->flags & SG_SA_F_RRC) != rows[i].echoed)
			fail_msg("%s: echoed %d, result %d, SA flag %d, want %d", rows[i].name,
			         c.rrc_ok, h.sess.res.rrc, !!(h.sess.res.sa->flags & SG_SA_F_RRC),
			         rows[i].echoed);
		data_both_ways(&c, &h);
		hc_free(&c);
		h_stop(&h);
	}
}

/*
 * RFC 8449 §4 / RFC 6066 §4: the largest plaintext the client takes ends up
 * in the installed session's SA, so every record sealed for it obeys it
 * (record_size_limit wins over max_fragment_length, RFC 8449 §5). The SA is
 * installed in a session table as the gateway's hs_install() does (it copies
 * the SA whole), and read back from there.
 */
static void test_record_limit_installed(void **state)
{
	static const struct {
		uint16_t rsl;
		uint8_t mfl;
		unsigned want;
	} rows[] = {
		{ 0, 0, SG_DTLS_MAX_PLAINTEXT },
		{ 512, 0, 512 },
		{ 64, 0, 64 },
		{ 0, 1, 512 },
		{ 0, 4, 4096 },
		{ 1000, 1, 1000 },
		{ 20000, 0, SG_DTLS_MAX_PLAINTEXT }, /* above 2^14: DTLS 1.2's own limit */
	};
	struct sg_sess_params sp = { .capacity = 64, .flags = SG_SESS_P_LAZY };
	struct sg_sess_table *t = sg_sess_table_create(&sp);

	(void)state;
	assert_non_null(t);
	for (unsigned i = 0; i < SG_ARRAY_SIZE(rows); i++) {
		struct harness h;
		struct hc c;
		struct hc_opts o = hc_psk_opts(SG_TLS_PSK_WITH_AES_128_GCM_SHA256);
		struct sg_sess_new sn = { 0 };
		struct sg_sess_info info;
		struct sg_rec_sa *sa;
		struct sg_rec_seal_op op = { 0 };
		uint8_t buf[SG_DTLS_MAX_PLAINTEXT + 128];
		uint64_t id;

		h_start_capture(&h, SG_HS_COOKIE_NEVER);
		o.rsl = rows[i].rsl;
		o.mfl = rows[i].mfl;
		hc_init(&c, &o);
		assert_int_equal(hc_handshake(&c, &h), 0);
		sa = (struct sg_rec_sa *)h.sess.sa_buf;
		assert_int_equal(h.sess.res.max_plaintext, rows[i].want);
		assert_int_equal(sg_rec_sa_max_plaintext(sa), rows[i].want);

		/* Into a session, as the gateway installs it. */
		sn.sa = sa;
		sg_sess_tuple_v4(&sn.tuple, 0x01020304, 5684, 0x0a000001, (uint16_t)(1000 + i));
		sn.flags = SG_SESS_F_TUPLE;
		assert_int_equal(sg_sess_insert(t, &sn, &id, NULL), 0);
		assert_int_equal(sg_sess_get(t, id, &info), 0);
		assert_int_equal(info.max_plaintext, rows[i].want);
		assert_int_equal(info.rrc, 0);
		assert_int_equal(sg_sess_delete(t, id), 0);

		/* The limit holds for a seal with the installed SA: at it, and one over. */
		for (unsigned extra = 0; extra <= 1; extra++) {
			op.buf = buf;
			op.buf_len = sizeof(buf);
			op.pt_off = sg_rec_seal_headroom((enum sg_aead)sa->aead, 0, 0);
			op.pt_len = rows[i].want + extra;
			op.sa = sa;
			op.type = SG_DTLS_CT_APPLICATION_DATA;
			memset(buf + op.pt_off, 'x', op.pt_len);
			sg_rec_seal_burst(h.rec, &op, 1);
			assert_int_equal(op.status, extra ? (rows[i].want == SG_DTLS_MAX_PLAINTEXT
			                                             ? SG_REC_OVERSIZED
			                                             : SG_REC_RECORD_LIMIT)
			                                  : SG_REC_OK);
		}
		hc_free(&c);
		h_stop(&h);
	}
	sg_sess_reclaim(t, 1);
	sg_sess_table_destroy(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_connection_id),
		cmocka_unit_test(test_connection_id_too_long),
		cmocka_unit_test(test_rfc8442_suites),
		cmocka_unit_test(test_resumption_rules),
		cmocka_unit_test(test_ticket_policy),
		cmocka_unit_test(test_ticket_keys_restart),
		cmocka_unit_test(test_rrc_negotiation),
		cmocka_unit_test(test_record_limit_installed),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
