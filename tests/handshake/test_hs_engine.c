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

#include "hs_client.h"
#include "hs_harness.h"

static struct sg_hs_stats stats(struct harness *h)
{
	struct sg_hs_stats st;

	sg_hs_stats_get(h->e, &st);
	return st;
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
		hc_data_both_ways(&c, &h);
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
	hc_data_both_ways(&c, &h);
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
		hc_data_both_ways(&c, &h);
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
	hc_data_both_ways(&r, &h);
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
	hc_data_both_ways(&c, &h);
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
	hc_data_both_ways(&c, &h2);
	hc_free(&c);
	sg_wipe(keys, sizeof(keys));
	h_stop(&h2);
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
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
