/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The engine with the scripted client: connection IDs (RFC 9146) and the
 * RFC 8442 ECDHE-PSK AES suites (no independent client offers either), the
 * negative table (each row: the alert or silence, the counter, the state
 * freed), reordering, fragments, duplicates, retransmission timers,
 * timeouts, the pool limit, and the memory each handshake holds; and the
 * caller's tag of the datagram that completes a handshake, in its install;
 * the CBC-SHA256 suite with and without encrypt_then_mac (RFC 7366), its
 * CIDs declined, its resumption, and policy removing it (issue 17).
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

#include <stormgate/bytes.h>
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

/* A ClientHello from c (with the cookie it holds) into h: what came back ('V', 'H', ...). */
static int hello_answer(struct hc *c, struct harness *h)
{
	uint8_t d[2048];

	h_input(h, d, hc_client_hello(c, d, sizeof(d)));
	return hc_drain(c, h);
}

/*
 * Cookie secrets survive a restart through export / import: a cookie made
 * before the export is accepted by a new engine that imported them, also
 * after its first tick (the rotation period restarts there) and, as the
 * previous secret, one rotation later; an engine without them refuses it.
 * Malformed blobs are refused and leave the secrets as they were. The
 * generation counter moves with every import and rotation.
 */
static void test_cookie_secrets_restart(void **state)
{
	struct harness h1, h2, h3;
	struct hc c;
	struct hc_opts o = hc_psk_opts(SG_TLS_PSK_WITH_AES_128_CCM_8);
	uint8_t blob[SG_HS_COOKIE_SECRETS_LEN], bad[SG_HS_COOKIE_SECRETS_LEN], d[2048], cookie[255];
	uint8_t cookie_len;
	uint64_t g;
	int n;

	(void)state;
	h_start_capture(&h1, SG_HS_COOKIE_ALWAYS);
	hc_init(&c, &o);
	assert_int_equal(hello_answer(&c, &h1), 'V');
	memcpy(cookie, c.cookie, c.cookie_len);
	cookie_len = c.cookie_len;
	assert_int_equal(sg_hs_cookie_secrets_export(h1.e, blob, 10), -ENOSPC);
	n = sg_hs_cookie_secrets_export(h1.e, blob, sizeof(blob));
	assert_true(n > 0 && n <= SG_HS_COOKIE_SECRETS_LEN);
	h_stop(&h1);

	/* Without the secrets the cookie names nothing live. */
	h_start_capture(&h3, SG_HS_COOKIE_ALWAYS);
	assert_int_not_equal(hello_answer(&c, &h3), 'H');
	assert_int_equal(h_count(&h3, SG_HS_C_DROP_COOKIE_BAD) +
	                         h_count(&h3, SG_HS_C_DROP_COOKIE_EXPIRED),
	                 1);
	h_stop(&h3);
	memcpy(c.cookie, cookie, cookie_len); /* h3 answered with a cookie of its own */
	c.cookie_len = cookie_len;

	h_start_capture(&h2, SG_HS_COOKIE_ALWAYS);
	g = sg_hs_secrets_generation(h2.e);
	{
		static const struct {
			const char *what;
			size_t off; /* byte changed (SIZE_MAX: length cut by one) */
			uint8_t val;
		} rows[] = {
			{ "short", SIZE_MAX, 0 },
			{ "magic", 0, 'X' },
			{ "version", 4, 2 },
			{ "current not live", 5, 0 },
			{ "current live byte 2", 5, 2 },
			{ "previous live byte 2", 5 + 34, 2 },
		};
		for (unsigned i = 0; i < SG_ARRAY_SIZE(rows); i++) {
			size_t len = (size_t)n;

			memcpy(bad, blob, (size_t)n);
			if (rows[i].off == SIZE_MAX)
				len--;
			else
				bad[rows[i].off] = rows[i].val;
			print_message("malformed: %s\n", rows[i].what);
			assert_int_equal(sg_hs_cookie_secrets_import(h2.e, bad, len), -EINVAL);
		}
	}
	assert_int_equal(sg_hs_secrets_generation(h2.e), g);
	assert_int_equal(sg_hs_cookie_secrets_import(h2.e, blob, (size_t)n), 0);
	assert_true(sg_hs_secrets_generation(h2.e) != g);
	g = sg_hs_secrets_generation(h2.e);
	h_advance(&h2, 1); /* restarts the period, rotates nothing */
	assert_int_equal(sg_hs_secrets_generation(h2.e), g);
	h_advance(&h2, h2.conf.cookie_rotate_ms ? h2.conf.cookie_rotate_ms : 30000);
	assert_true(sg_hs_secrets_generation(h2.e) != g);
	assert_int_equal(hello_answer(&c, &h2), 'H');
	assert_int_equal(h_count(&h2, SG_HS_C_DROP_COOKIE_BAD), 0);
	h_input(&h2, d, hc_flight5(&c, d, sizeof(d), false));
	assert_int_equal(hc_drain(&c, &h2), 'F');
	assert_true(c.server_finished_ok);
	hc_data_both_ways(&c, &h2);
	hc_free(&c);
	sg_wipe(blob, sizeof(blob));
	sg_wipe(bad, sizeof(bad));
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
		hc_data_both_ways(&c, &h);
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

/* ---- the caller's tag reaches the install ------------------------------------------------ */

/* One step of the client: a datagram fed with its own tag, or the timer. */
enum tag_step {
	T_END = 0,
	T_HELLO,       /* ClientHello (with the cookie once one came) */
	T_HELLO_AGAIN, /* the last hello's bytes again: our flight is resent */
	T_TIMER,       /* no datagram: our retransmission timer fires (RFC 6347 §4.2.4.1) */
	T_CKE,         /* full handshake, flight 5 one record a datagram ... */
	T_CCS,
	T_FIN,
	T_FLIGHT5,   /* ... or all three in one */
	T_CCS_FIN,   /* abbreviated handshake: ChangeCipherSpec, Finished */
	T_FIN_AGAIN, /* after completion: the client's Finished again (our flight from linger) */
	T_FORGED,    /* an epoch-0 alert anyone could send: dropped */
};

#define TAG(n) (UINT64_C(0xa5) << 56 | (n)) /* all 64 bits are the caller's */

struct tag_row {
	const char *name;
	bool resume; /* with the ticket of an earlier handshake (RFC 5077) */
	struct {
		enum tag_step step;
		uint64_t tag;
	} steps[8];
	uint64_t want; /* struct sg_hs_result.tag of the one install */
};

static const struct tag_row tag_rows[] = {
	{ "full, flight 5 in one datagram",
	  false,
	  { { T_HELLO, TAG(1) }, { T_HELLO, TAG(2) }, { T_FLIGHT5, TAG(3) } },
	  TAG(3) },
	{ "full, flight 5 split, a forgery between",
	  false,
	  { { T_HELLO, TAG(1) },
	    { T_HELLO, TAG(2) },
	    { T_CKE, TAG(3) },
	    { T_FORGED, TAG(4) },
	    { T_CCS, TAG(5) },
	    { T_FIN, TAG(6) } },
	  TAG(6) },
	/* The kept Finished opens in the key exchange's datagram: that one completes it. */
	{ "Finished before the key exchange",
	  false,
	  { { T_HELLO, TAG(1) },
	    { T_HELLO, TAG(2) },
	    { T_FIN, TAG(3) },
	    { T_CCS, TAG(4) },
	    { T_CKE, TAG(5) } },
	  TAG(5) },
	{ "flight 4 resent to a repeated hello and on the timer",
	  false,
	  { { T_HELLO, TAG(1) },
	    { T_HELLO, TAG(2) },
	    { T_HELLO_AGAIN, TAG(3) },
	    { T_TIMER, 0 },
	    { T_FLIGHT5, TAG(4) } },
	  TAG(4) },
	/* The linger table answers; nothing is installed again. */
	{ "final flight resent after completion",
	  false,
	  { { T_HELLO, TAG(1) },
	    { T_HELLO, TAG(2) },
	    { T_FLIGHT5, TAG(3) },
	    { T_FIN_AGAIN, TAG(4) },
	    { T_FORGED, TAG(5) } },
	  TAG(3) },
	{ "resumed",
	  true,
	  { { T_HELLO, TAG(1) }, { T_HELLO, TAG(2) }, { T_CCS_FIN, TAG(3) } },
	  TAG(3) },
	{ "resumed, our flight resent",
	  true,
	  { { T_HELLO, TAG(1) },
	    { T_HELLO, TAG(2) },
	    { T_HELLO_AGAIN, TAG(3) },
	    { T_TIMER, 0 },
	    { T_CCS_FIN, TAG(4) } },
	  TAG(4) },
};

/* A client running a row: its records, built once each. */
struct tag_run {
	struct harness *h;
	struct hc *c;
	uint8_t hello[2048], cke[512], ccs[64], fin[256];
	size_t n_hello, n_cke, n_ccs, n_fin;
};

/* A forged epoch-0 fatal alert from the client's address (RFC 6347 §4.1.2.7: dropped). */
static size_t forged_alert(uint8_t *d)
{
	d[0] = SG_DTLS_CT_ALERT;
	sg_store_be16(d + 1, SG_DTLS_VERSION_1_2);
	sg_store_be16(d + 3, 0);  /* epoch */
	sg_store_be48(d + 5, 9);  /* sequence number */
	sg_store_be16(d + 11, 2); /* length */
	d[13] = SG_TLS_ALERT_FATAL;
	d[14] = SG_TLS_ALERT_DECRYPT_ERROR;
	return SG_DTLS_HDR_LEN + 2;
}

static size_t put(uint8_t *d, size_t at, const uint8_t *p, size_t n)
{
	memcpy(d + at, p, n);
	return at + n;
}

/* The datagram of step st into d (its length; 0: the step sends nothing). */
static size_t tag_datagram(struct tag_run *r, enum tag_step st, uint8_t *d, size_t cap)
{
	size_t n;

	if ((st == T_CKE || st == T_CCS || st == T_FIN || st == T_FLIGHT5) && r->n_cke == 0) {
		r->n_cke = hc_rec_cke(r->c, r->cke, sizeof(r->cke)); /* derives the keys */
		r->n_ccs = hc_rec_ccs(r->c, r->ccs, sizeof(r->ccs));
		r->n_fin = hc_rec_finished(r->c, r->fin, sizeof(r->fin), false);
	}
	switch (st) {
	case T_HELLO:
		r->n_hello = hc_client_hello(r->c, r->hello, sizeof(r->hello));
		return put(d, 0, r->hello, r->n_hello);
	case T_HELLO_AGAIN:
		return put(d, 0, r->hello, r->n_hello);
	case T_CKE:
		return put(d, 0, r->cke, r->n_cke);
	case T_CCS:
		return put(d, 0, r->ccs, r->n_ccs);
	case T_FIN:
		return put(d, 0, r->fin, r->n_fin);
	case T_FLIGHT5:
		n = put(d, 0, r->cke, r->n_cke);
		n = put(d, n, r->ccs, r->n_ccs);
		return put(d, n, r->fin, r->n_fin);
	case T_CCS_FIN:
		n = hc_rec_ccs(r->c, d, cap);
		return n + hc_rec_finished(r->c, d + n, cap - n, false);
	case T_FIN_AGAIN:
		return hc_rec_finished_again(r->c, d, cap);
	case T_FORGED:
		return forged_alert(d);
	default:
		return 0;
	}
}

/* Run one step; what the engine sends goes to the client, or (a resend) is checked and dropped. */
static void tag_step(struct tag_run *r, enum tag_step st, uint64_t tag)
{
	uint8_t d[2048];
	size_t n;

	if (st == T_TIMER) {
		h_advance(r->h, SG_DTLS_RTO_INITIAL_MS);
	} else {
		n = tag_datagram(r, st, d, sizeof(d));
		r->h->tag = tag;
		h_input(r->h, d, n);
	}
	if (st == T_HELLO_AGAIN || st == T_TIMER || st == T_FIN_AGAIN) {
		assert_int_equal(r->h->n_out, 1); /* the same flight again */
		r->h->n_out = 0;
	} else if (st == T_FORGED) {
		assert_int_equal(r->h->n_out, 0);
	} else {
		hc_drain(r->c, r->h);
	}
}

/*
 * struct sg_hs_result.tag is the tag of the datagram that completed the
 * handshake, the last one that advanced it: not the one that took the slot,
 * nor a repeat, a forgery or a datagram after completion (handshake.h).
 */
static void test_install_tag(void **state)
{
	struct hc_opts o = hc_psk_opts(SG_TLS_PSK_WITH_AES_128_CCM_8);
	uint8_t ticket[512], master[48];
	struct harness h;
	struct hc c;

	(void)state;
	o.ticket_ext = true;
	for (unsigned i = 0; i < SG_ARRAY_SIZE(tag_rows); i++) {
		const struct tag_row *row = &tag_rows[i];
		struct hc_opts ro = o;
		struct tag_run r = { .h = &h, .c = &c };
		unsigned before;

		print_message("# %s\n", row->name);
		h_start_capture(&h, SG_HS_COOKIE_ALWAYS);
		if (row->resume) {
			hc_init(&c, &o);
			assert_int_equal(hc_handshake(&c, &h), 0); /* tag 0 */
			memcpy(ticket, c.ticket, c.ticket_len);
			memcpy(master, c.master, sizeof(master));
			ro.ticket = ticket;
			ro.ticket_len = c.ticket_len;
			ro.resume_master = master;
			hc_free(&c);
		}
		before = h.n_installed;
		hc_init(&c, &ro);
		for (unsigned k = 0; k < SG_ARRAY_SIZE(row->steps) && row->steps[k].step; k++)
			tag_step(&r, row->steps[k].step, row->steps[k].tag);
		assert_true(c.server_finished_ok);
		assert_int_equal(h.n_installed, before + 1);
		assert_int_equal(h.sess.res.resumed, row->resume);
		assert_int_equal(h.sess.res.tag, row->want);
		hc_free(&c);
		h_stop(&h);
	}
}

/* ---- CBC-SHA256 and encrypt_then_mac (issue 17) ---------------------------------------- */

/*
 * What a CBC suite negotiates besides itself, against an engine that issues
 * 8-byte CIDs: encrypt_then_mac when offered (RFC 7366 §2), never with an
 * AEAD (§3); no connection_id with CBC (RFC 9146 §5's MAC input for block
 * ciphers is not implemented: no CID is even reserved) and so no rrc (RFC
 * 9853 §3 needs a CID). The installed SA says the same, the key block's
 * MAC keys are in its MAC line, and data flows both ways.
 */
static void test_cbc_negotiation(void **state)
{
	static const struct {
		const char *name;
		uint16_t offer[3];
		bool cid, rrc, etm;      /* offered */
		uint16_t suite;          /* chosen */
		bool want_cid, want_etm; /* negotiated (rrc: with the CID) */
	} rows[] = {
		{ "CBC: EtM, CID and rrc offered",
		  { SG_TLS_PSK_WITH_AES_128_CBC_SHA256 },
		  true,
		  true,
		  true,
		  SG_TLS_PSK_WITH_AES_128_CBC_SHA256,
		  false,
		  true },
		{ "CBC: EtM offered",
		  { SG_TLS_PSK_WITH_AES_128_CBC_SHA256 },
		  false,
		  false,
		  true,
		  SG_TLS_PSK_WITH_AES_128_CBC_SHA256,
		  false,
		  true },
		{ "CBC: MAC-then-encrypt",
		  { SG_TLS_PSK_WITH_AES_128_CBC_SHA256 },
		  false,
		  false,
		  false,
		  SG_TLS_PSK_WITH_AES_128_CBC_SHA256,
		  false,
		  false },
		{ "CBC: CID offered, no EtM",
		  { SG_TLS_PSK_WITH_AES_128_CBC_SHA256 },
		  true,
		  false,
		  false,
		  SG_TLS_PSK_WITH_AES_128_CBC_SHA256,
		  false,
		  false },
		{ "CCM_8: EtM ignored, CID and rrc kept",
		  { SG_TLS_PSK_WITH_AES_128_CCM_8 },
		  true,
		  true,
		  true,
		  SG_TLS_PSK_WITH_AES_128_CCM_8,
		  true,
		  false },
		{ "CBC and CCM_8 offered: the AEAD",
		  { SG_TLS_PSK_WITH_AES_128_CBC_SHA256, SG_TLS_PSK_WITH_AES_128_CCM_8 },
		  true,
		  true,
		  true,
		  SG_TLS_PSK_WITH_AES_128_CCM_8,
		  true,
		  false },
		{ "CBC and ECDHE-PSK GCM offered: the AEAD",
		  { SG_TLS_PSK_WITH_AES_128_CBC_SHA256, SG_TLS_ECDHE_PSK_WITH_AES_128_GCM_SHA256 },
		  false,
		  false,
		  true,
		  SG_TLS_ECDHE_PSK_WITH_AES_128_GCM_SHA256,
		  false,
		  false },
	};

	(void)state;
	for (unsigned i = 0; i < SG_ARRAY_SIZE(rows); i++) {
		struct harness h;
		struct hc c;
		struct hc_opts o = hc_psk_opts(0);
		uint8_t d[2048];
		bool cbc = rows[i].suite == SG_TLS_PSK_WITH_AES_128_CBC_SHA256;
		const struct sg_rec_sa *sa;

		print_message("# %s\n", rows[i].name);
		memcpy(o.suites, rows[i].offer, sizeof(rows[i].offer));
		o.cid = rows[i].cid;
		o.cid_len = 4;
		o.rrc = rows[i].rrc;
		o.etm = rows[i].etm;
		h_start_capture(&h, SG_HS_COOKIE_NEVER); /* 8-byte CIDs */
		hc_init(&c, &o);
		/* Flight 4: the ServerHello's extensions. */
		assert_int_equal(hc_to_flight4(&c, &h), 'H');
		assert_int_equal(c.suite, rows[i].suite);
		assert_int_equal(c.cid_ok, rows[i].want_cid);
		assert_int_equal(c.rrc_ok, rows[i].want_cid && rows[i].rrc);
		assert_int_equal(c.etm_ok, rows[i].want_etm);
		assert_int_equal(h.cids_held, rows[i].want_cid ? 1 : 0);
		/* The rest: our Finished and the client's through the CBC SA. */
		h_input(&h, d, hc_flight5(&c, d, sizeof(d), false));
		assert_int_equal(hc_drain(&c, &h), 'F');
		assert_true(c.server_finished_ok);
		assert_int_equal(h.n_installed, 1);
		sa = h.sess.res.sa;
		assert_int_equal(h.sess.res.suite, rows[i].suite);
		assert_int_equal(sa->aead, sg_suite_find(rows[i].suite)->aead);
		assert_int_equal(!!(sa->flags & SG_SA_F_ETM), rows[i].want_etm);
		assert_int_equal(!!(sa->flags & (SG_SA_F_RX_CID | SG_SA_F_TX_CID)),
		                 rows[i].want_cid);
		assert_int_equal(!!(sa->flags & SG_SA_F_RRC), rows[i].want_cid && rows[i].rrc);
		assert_int_equal(h.sess.res.cid_len, rows[i].want_cid ? 8 : 0);
		assert_int_equal(h.sess.res.rrc, rows[i].want_cid && rows[i].rrc);
		if (cbc) {
			/* The client's write MAC key is the server's read key, and back. */
			const struct sg_rec_sa_mac *m =
			        sg_rec_sa_mac((struct sg_rec_sa *)(uintptr_t)sa,
			                      h.conf.replay_window ? h.conf.replay_window
			                                           : SG_REPLAY_WINDOW_DEFAULT);
			const struct sg_rec_sa_mac *cm =
			        sg_rec_sa_mac((struct sg_rec_sa *)c.sa_buf, 64);

			assert_memory_equal(m->rx_mac, cm->tx_mac, sizeof(m->rx_mac));
			assert_memory_equal(m->tx_mac, cm->rx_mac, sizeof(m->tx_mac));
			assert_memory_not_equal(m->rx_mac, m->tx_mac, sizeof(m->rx_mac));
		}
		hc_data_both_ways(&c, &h);
		assert_int_equal(h_count(&h, SG_HS_C_COMPLETED_FULL), 1);
		assert_int_equal(h.cids_held, 0);
		hc_free(&c);
		h_stop(&h);
	}
}

/*
 * A CBC session resumed (RFC 5077): the ticket names the CBC suite, and
 * encrypt_then_mac is negotiated again by the resuming hello, as any
 * extension of a ServerHello is (RFC 7366 §2), so the resumed SA has it
 * exactly when the client offers it now; CIDs stay declined.
 */
static void test_cbc_resumption(void **state)
{
	static const struct {
		bool etm_full, etm_resumed;
	} rows[] = { { true, true }, { false, false }, { true, false }, { false, true } };

	(void)state;
	for (unsigned i = 0; i < SG_ARRAY_SIZE(rows); i++) {
		struct harness h;
		struct hc c, r;
		struct hc_opts o = hc_psk_opts(SG_TLS_PSK_WITH_AES_128_CBC_SHA256);
		uint8_t ticket[512], master[48];
		uint16_t tlen;

		print_message("# EtM full %d, resumed %d\n", rows[i].etm_full, rows[i].etm_resumed);
		h_start_capture(&h, SG_HS_COOKIE_ALWAYS);
		o.ticket_ext = true;
		o.etm = rows[i].etm_full;
		hc_init(&c, &o);
		assert_int_equal(hc_handshake(&c, &h), 0);
		assert_int_equal(c.etm_ok, rows[i].etm_full);
		assert_true(c.ticket_len > 0);
		memcpy(ticket, c.ticket, c.ticket_len);
		tlen = c.ticket_len;
		memcpy(master, c.master, sizeof(master));
		hc_data_both_ways(&c, &h);
		hc_free(&c);

		o.ticket = ticket;
		o.ticket_len = tlen;
		o.resume_master = master;
		o.etm = rows[i].etm_resumed;
		o.cid = true;
		o.cid_len = 2;
		hc_init(&r, &o);
		assert_int_equal(hc_handshake(&r, &h), 0);
		assert_true(r.resumed);
		assert_false(r.cid_ok);
		assert_int_equal(r.etm_ok, rows[i].etm_resumed);
		assert_int_equal(h.sess.res.resumed, 1);
		assert_int_equal(h.sess.res.suite, SG_TLS_PSK_WITH_AES_128_CBC_SHA256);
		assert_int_equal(!!(h.sess.res.sa->flags & SG_SA_F_ETM), rows[i].etm_resumed);
		assert_int_equal(h.sess.res.cid_len, 0);
		hc_data_both_ways(&r, &h);
		hc_free(&r);
		assert_int_equal(h_count(&h, SG_HS_C_COMPLETED_RESUMED), 1);
		h_stop(&h);
	}
}

/*
 * The CBC suites are offered by default, last (a CBC-only client connects;
 * one that offers an AEAD too gets the AEAD), and a preference without them
 * (conf.suites at creation, sg_hs_policy_set() at run time: policy.suites)
 * refuses a CBC-only client with handshake_failure, counted fail_no_shared_suite.
 */
static void test_cbc_removable(void **state)
{
	static const uint16_t aead_only[] = { SG_TLS_PSK_WITH_AES_128_CCM,
		                              SG_TLS_PSK_WITH_AES_128_CCM_8, 0 };
	static const struct {
		const char *name;
		int how; /* 0: the default order, 1: conf.suites, 2: sg_hs_policy_set() */
		bool cbc_served;
	} rows[] = {
		{ "default order", 0, true },
		{ "conf.suites without CBC", 1, false },
		{ "policy set without CBC", 2, false },
	};

	(void)state;
	for (unsigned i = 0; i < SG_ARRAY_SIZE(rows); i++) {
		struct harness h;
		struct hc c;
		struct hc_opts o = hc_psk_opts(SG_TLS_PSK_WITH_AES_128_CBC_SHA256);
		struct sg_hs_policy pol = { .cookie_policy = SG_HS_COOKIE_NEVER };

		print_message("# %s\n", rows[i].name);
		memset(&h, 0, sizeof(h));
		h_config(&h, &h.conf);
		h.conf.cookie_policy = SG_HS_COOKIE_NEVER;
		if (rows[i].how == 1)
			memcpy(h.conf.suites, aead_only, sizeof(aead_only));
		h_start(&h);
		h.capture = true;
		if (rows[i].how == 2) {
			memcpy(pol.suites, aead_only, sizeof(aead_only));
			assert_int_equal(sg_hs_policy_set(h.e, &pol), 0);
		}
		hc_init(&c, &o);
		if (rows[i].cbc_served) {
			assert_int_equal(hc_handshake(&c, &h), 0);
			assert_int_equal(h.sess.res.suite, SG_TLS_PSK_WITH_AES_128_CBC_SHA256);
			hc_data_both_ways(&c, &h);
		} else {
			assert_int_equal(hc_handshake(&c, &h), -1);
			assert_int_equal(c.last_alert, SG_TLS_ALERT_HANDSHAKE_FAILURE);
			assert_int_equal(h_count(&h, SG_HS_C_FAIL_NO_SUITE), 1);
			assert_int_equal(h.n_installed, 0);
		}
		hc_free(&c);
		/* The AEAD client is served either way. */
		o = hc_psk_opts(SG_TLS_PSK_WITH_AES_128_CCM_8);
		hc_init(&c, &o);
		assert_int_equal(hc_handshake(&c, &h), 0);
		assert_int_equal(h.sess.res.suite, SG_TLS_PSK_WITH_AES_128_CCM_8);
		hc_free(&c);
		assert_int_equal(stats(&h).in_flight, 0);
		h_stop(&h);
	}
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
		cmocka_unit_test(test_cookie_secrets_restart),
		cmocka_unit_test(test_rrc_negotiation),
		cmocka_unit_test(test_record_limit_installed),
		cmocka_unit_test(test_install_tag),
		cmocka_unit_test(test_cbc_negotiation),
		cmocka_unit_test(test_cbc_resumption),
		cmocka_unit_test(test_cbc_removable),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
