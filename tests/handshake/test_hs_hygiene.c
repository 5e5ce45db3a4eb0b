/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Security hygiene of the handshake engine (issue 12):
 *   - the suite table and the default preference: a client offering CCM_8
 *     and a 16-byte-tag suite of the same kind gets the latter (RFC 9147
 *     §4.5.3 integrity limits), one offering only CCM_8 still gets it;
 *   - session tickets bound to the PSK they were issued under: a key change
 *     or a removed identity ends resumption (RFC 5077 §4 leaves the server
 *     to decide what a ticket is still good for);
 *   - the input bound: no datagram over SG_HS_DGRAM_MAX reaches the cookie
 *     MAC or the record scratch;
 *   - the engine's record context keeps no key between calls.
 * With the scripted client (hs_client.c) against a credential store whose
 * key a test can change.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <stormgate/common.h>
#include <stormgate/dtls.h>
#include <stormgate/handshake.h>
#include <stormgate/record.h>
#include <stormgate/suite.h>

#include "../record/rec_test.h"
#include "hs_client.h"
#include "hs_harness.h"

/* ---- a credential store whose key can change -------------------------------------- */

/* The harness comes first: its callbacks get &store.h as their context. */
struct store {
	struct harness h;
	uint8_t psk[32];
	uint8_t psk_len;
	bool removed; /* the identity was deleted */
};

static const uint8_t key_old[16] = { 0x4a, 0x10, 0x2f, 0xe1, 0x7c, 0x33, 0x09, 0xb8,
	                             0x5d, 0x61, 0x92, 0xa4, 0x0e, 0xc7, 0x38, 0xf5 };
static const uint8_t key_new[16] = { 0x93, 0x0b, 0x6e, 0x21, 0xd4, 0x58, 0xaf, 0x17,
	                             0x3c, 0xe0, 0x85, 0x4a, 0xb9, 0x02, 0x76, 0xcd };

static int store_lookup(void *ctx, const uint8_t *identity, size_t identity_len, const uint8_t *sni,
                        size_t sni_len, struct sg_hs_cred *cred)
{
	struct store *st = (struct store *)ctx;

	(void)sni;
	(void)sni_len;
	st->h.n_lookups++;
	if (st->removed || identity_len != strlen(H_PSK_IDENTITY) ||
	    memcmp(identity, H_PSK_IDENTITY, identity_len) != 0)
		return -ENOENT;
	memcpy(cred->psk, st->psk, st->psk_len);
	cred->psk_len = st->psk_len;
	cred->cred_ref = 1000;
	cred->backend = 7;
	return 0;
}

static void store_set(struct store *st, const uint8_t *psk, uint8_t len)
{
	memcpy(st->psk, psk, len);
	st->psk_len = len;
}

/* An engine on the store, in capture mode, tickets on, 8-byte CIDs. */
static void store_start(struct store *st, uint8_t cookies)
{
	memset(st, 0, sizeof(*st));
	h_config(&st->h, &st->h.conf);
	st->h.conf.cookie_policy = cookies;
	st->h.conf.cid_len = 8;
	st->h.conf.ops.psk_lookup = store_lookup;
	store_set(st, key_old, sizeof(key_old));
	h_start(&st->h);
	st->h.capture = true;
}

static struct hc_opts opts_with(uint16_t suite, const uint8_t *psk)
{
	struct hc_opts o = hc_psk_opts(suite);

	o.psk = psk;
	o.psk_len = 16;
	return o;
}

/* ---- item 5: suites and their order --------------------------------------------------- */

static bool is_ccm8(const struct sg_suite *su)
{
	return su->aead == SG_AEAD_AES_128_CCM_8;
}

static bool is_ecdhe(const struct sg_suite *su)
{
	return su->kx == SG_KX_ECDHE_PSK;
}

static bool is_cbc(const struct sg_suite *su)
{
	return sg_aead_wide(su->aead) != 0;
}

/* The kinds in their order: ECDHE-PSK (forward secrecy), PSK, ECDHE-ECDSA. */
static unsigned kind_rank(const struct sg_suite *su)
{
	return su->kx == SG_KX_ECDHE_PSK ? 0 : su->kx == SG_KX_PSK ? 1 : 2;
}

/*
 * The one table (suite.h): the engine negotiates its ranked rows. Among the
 * AEAD suites ECDHE-PSK first, then PSK, then ECDHE-ECDSA, CCM_8 last of its
 * kind; the CBC-SHA256 suites after every AEAD suite (issue 17: LwM2M
 * servers must offer them, an AEAD is always preferred). A suite outside
 * the table is refused as a preference.
 */
static void test_suite_table(void **state)
{
	struct harness h;
	struct sg_hs_policy pol = { .cookie_policy = SG_HS_COOKIE_NEVER };
	unsigned n_cbc = 0;

	(void)state;
	for (unsigned i = 0; i < SG_SUITES_RANKED; i++) {
		const struct sg_suite *su = &sg_suites[i];

		assert_ptr_equal(sg_suite_find(su->id), su);
		assert_int_equal(su->rank, i + 1);
		assert_int_equal(su->prf == SG_PRF_SHA384,
		                 su->id == SG_TLS_PSK_WITH_AES_256_GCM_SHA384 ||
		                         su->id == SG_TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384);
		assert_int_equal(is_ecdhe(su),
		                 su->id == SG_TLS_ECDHE_PSK_WITH_CHACHA20_POLY1305_SHA256 ||
		                         (su->id >> 8) == 0xd0);
		assert_int_equal(is_cbc(su),
		                 su->id == SG_TLS_PSK_WITH_AES_128_CBC_SHA256 ||
		                         su->id == SG_TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256);
		/* CBC's "tag" is its HMAC-SHA256; its key block has MAC keys, no IVs. */
		assert_int_equal(su->tag_len,
		                 is_cbc(su) ? SG_DTLS_CBC_MAC_LEN : sg_aead_tag_len(su->aead));
		assert_int_equal(sg_aead_mac_key_len(su->aead), is_cbc(su) ? 32 : 0);
		assert_int_equal(sg_aead_iv_len(su->aead) == 0, is_cbc(su));
		assert_true(strncmp(su->name, "TLS_", 4) == 0);
		n_cbc += is_cbc(su);
		for (unsigned j = i + 1; j < SG_SUITES_RANKED; j++) {
			const struct sg_suite *later = &sg_suites[j];

			assert_true(su->id != later->id && strcmp(su->name, later->name) != 0);
			/* Every AEAD suite before every CBC one. */
			assert_true(!is_cbc(su) || is_cbc(later));
			if (is_cbc(later))
				continue;
			/* Among the AEADs, the kinds in order: forward secrecy first. */
			assert_true(kind_rank(su) <= kind_rank(later));
			/* No 16-byte-tag suite of the same kind after a CCM_8 one. */
			if (is_ccm8(su) && kind_rank(later) == kind_rank(su))
				assert_true(is_ccm8(later));
		}
	}
	assert_int_equal(n_cbc, 2);
	assert_null(sg_suite_find(0));

	/* What the engine takes as a preference: ranked suites only, CBC included. */
	h_start_capture(&h, SG_HS_COOKIE_NEVER);
	for (unsigned i = 0; i < SG_SUITES_N; i++) {
		pol.suites[0] = sg_suites[i].id;
		assert_int_equal(sg_hs_policy_set(h.e, &pol), sg_suites[i].rank ? 0 : -EINVAL);
	}
	pol.suites[0] = 0x003d; /* TLS_RSA_WITH_AES_256_CBC_SHA256: not in the table */
	assert_int_equal(sg_hs_policy_set(h.e, &pol), -EINVAL);
	h_stop(&h);
}

/*
 * Server preference with the default order, as the engine applies it to what a
 * client offers (its own order does not matter, RFC 5246 §7.4.1.2).
 */
static void test_suite_preference(void **state)
{
	static const struct {
		uint16_t offer[4];
		uint16_t want;
	} rows[] = {
		/* a 16-byte tag when the client has one, of the same kind */
		{ { SG_TLS_PSK_WITH_AES_128_CCM_8, SG_TLS_PSK_WITH_AES_128_CCM },
		  SG_TLS_PSK_WITH_AES_128_CCM },
		{ { SG_TLS_PSK_WITH_AES_128_CCM, SG_TLS_PSK_WITH_AES_128_CCM_8 },
		  SG_TLS_PSK_WITH_AES_128_CCM },
		{ { SG_TLS_PSK_WITH_AES_128_CCM_8, SG_TLS_PSK_WITH_AES_128_GCM_SHA256 },
		  SG_TLS_PSK_WITH_AES_128_GCM_SHA256 },
		{ { SG_TLS_ECDHE_PSK_WITH_AES_128_CCM_8_SHA256,
		    SG_TLS_ECDHE_PSK_WITH_AES_128_CCM_SHA256 },
		  SG_TLS_ECDHE_PSK_WITH_AES_128_CCM_SHA256 },
		{ { SG_TLS_ECDHE_PSK_WITH_AES_128_CCM_8_SHA256,
		    SG_TLS_ECDHE_PSK_WITH_CHACHA20_POLY1305_SHA256 },
		  SG_TLS_ECDHE_PSK_WITH_CHACHA20_POLY1305_SHA256 },
		/* only CCM_8 (RFC 7925 §4.2's suite): still served */
		{ { SG_TLS_PSK_WITH_AES_128_CCM_8 }, SG_TLS_PSK_WITH_AES_128_CCM_8 },
		{ { SG_TLS_ECDHE_PSK_WITH_AES_128_CCM_8_SHA256 },
		  SG_TLS_ECDHE_PSK_WITH_AES_128_CCM_8_SHA256 },
		/* the kind first: forward secrecy outranks the tag (docs/handshake.md) */
		{ { SG_TLS_PSK_WITH_AES_128_CCM, SG_TLS_ECDHE_PSK_WITH_AES_128_CCM_8_SHA256 },
		  SG_TLS_ECDHE_PSK_WITH_AES_128_CCM_8_SHA256 },
		{ { SG_TLS_PSK_WITH_AES_128_CCM_8, SG_TLS_ECDHE_PSK_WITH_AES_128_CCM_SHA256,
		    SG_TLS_ECDHE_PSK_WITH_AES_128_CCM_8_SHA256 },
		  SG_TLS_ECDHE_PSK_WITH_AES_128_CCM_SHA256 },
	};

	(void)state;
	for (unsigned i = 0; i < SG_ARRAY_SIZE(rows); i++) {
		struct harness h;
		struct hc c;
		struct hc_opts o = hc_psk_opts(0);

		memcpy(o.suites, rows[i].offer, sizeof(rows[i].offer));
		h_start_capture(&h, SG_HS_COOKIE_NEVER);
		hc_init(&c, &o);
		assert_int_equal(hc_handshake(&c, &h), 0);
		print_message("# row %u: offered %04x %04x %04x, got %04x\n", i, rows[i].offer[0],
		              rows[i].offer[1], rows[i].offer[2], h.sess.res.suite);
		assert_int_equal(c.suite, rows[i].want);
		assert_int_equal(h.sess.res.suite, rows[i].want);
		assert_int_equal(h.sess.res.sa->aead, sg_suite_find(rows[i].want)->aead);
		hc_free(&c);
		h_stop(&h);
	}
}

/* ---- item 2: tickets bound to their PSK ------------------------------------------------ */

struct ticket {
	uint8_t bytes[512];
	uint16_t len;
	uint8_t master[48];
};

/* A full handshake with key psk that gets a ticket. */
static void get_ticket(struct store *st, uint16_t suite, const uint8_t *psk, struct ticket *t)
{
	struct hc_opts o = opts_with(suite, psk);
	struct hc c;

	o.ticket_ext = true;
	hc_init(&c, &o);
	assert_int_equal(hc_handshake(&c, &st->h), 0);
	assert_false(c.resumed);
	assert_true(c.ticket_len > 0 && c.ticket_len <= sizeof(t->bytes));
	memcpy(t->bytes, c.ticket, c.ticket_len);
	t->len = c.ticket_len;
	memcpy(t->master, c.master, sizeof(t->master));
	hc_free(&c);
}

/*
 * A device offering ticket t and holding key psk. Returns hc_handshake()'s
 * result; *resumed says whether the server took the ticket.
 */
static int offer_ticket(struct store *st, uint16_t suite, const struct ticket *t,
                        const uint8_t *psk, bool *resumed)
{
	struct hc_opts o = opts_with(suite, psk);
	struct hc c;
	int rc;

	o.ticket_ext = true;
	o.ticket = t->bytes;
	o.ticket_len = t->len;
	o.resume_master = t->master;
	hc_init(&c, &o);
	rc = hc_handshake(&c, &st->h);
	*resumed = c.resumed;
	hc_free(&c);
	return rc;
}

static void test_ticket_bound_to_psk(void **state)
{
	static const uint16_t suites[] = { SG_TLS_PSK_WITH_AES_128_CCM_8,
		                           SG_TLS_PSK_WITH_AES_256_GCM_SHA384,
		                           SG_TLS_ECDHE_PSK_WITH_AES_128_CCM_SHA256 };

	(void)state;
	for (unsigned i = 0; i < SG_ARRAY_SIZE(suites); i++) {
		struct store st;
		struct ticket t;
		uint64_t rejected, installed, resumed_n;
		bool resumed;

		print_message("# suite %04x\n", suites[i]);
		store_start(&st, SG_HS_COOKIE_ALWAYS);
		get_ticket(&st, suites[i], key_old, &t);

		/* Same key: the ticket resumes. */
		assert_int_equal(offer_ticket(&st, suites[i], &t, key_old, &resumed), 0);
		assert_true(resumed);
		assert_int_equal(st.h.sess.res.resumed, 1);
		resumed_n = h_count(&st.h, SG_HS_C_COMPLETED_RESUMED);
		assert_int_equal(resumed_n, 1);

		/*
		 * credentials add --replace: the store now returns another key for the
		 * identity. A device that still holds the old key and its old ticket
		 * must not get a session: no resumption, and its full handshake fails.
		 */
		store_set(&st, key_new, sizeof(key_new));
		rejected = h_count(&st.h, SG_HS_C_TICKET_REJECTED);
		installed = st.h.n_installed;
		assert_int_equal(offer_ticket(&st, suites[i], &t, key_old, &resumed), -1);
		assert_false(resumed);
		assert_int_equal(st.h.n_installed, installed);
		assert_int_equal(h_count(&st.h, SG_HS_C_TICKET_REJECTED), rejected + 1);
		assert_int_equal(h_count(&st.h, SG_HS_C_FAIL_BAD_FINISHED), 1);
		assert_int_equal(h_count(&st.h, SG_HS_C_COMPLETED_RESUMED), resumed_n);

		/* The device with the new key: a full handshake under it works. */
		assert_int_equal(offer_ticket(&st, suites[i], &t, key_new, &resumed), 0);
		assert_false(resumed);
		assert_int_equal(st.h.n_installed, installed + 1);
		assert_int_equal(st.h.sess.res.resumed, 0);
		assert_int_equal(h_count(&st.h, SG_HS_C_TICKET_REJECTED), rejected + 2);

		/* The key changed back: the old ticket is good again (it names that key). */
		store_set(&st, key_old, sizeof(key_old));
		assert_int_equal(offer_ticket(&st, suites[i], &t, key_old, &resumed), 0);
		assert_true(resumed);

		/* The identity removed: no resumption, and the full handshake fails. */
		st.removed = true;
		installed = st.h.n_installed;
		assert_int_equal(offer_ticket(&st, suites[i], &t, key_old, &resumed), -1);
		assert_false(resumed);
		assert_int_equal(st.h.n_installed, installed);
		assert_int_equal(h_count(&st.h, SG_HS_C_FAIL_UNKNOWN_IDENTITY), 1);
		assert_int_equal(h_count(&st.h, SG_HS_C_COMPLETED_RESUMED), resumed_n + 1);
		assert_int_equal(st.h.cids_held, 0);
		h_stop(&st.h);
	}
}

/* ---- item 6: the input bound --------------------------------------------------------------- */

static void test_input_bound(void **state)
{
	static const struct {
		size_t len;
		uint8_t cookies;
		int rc;
		enum sg_hs_counter outcome; /* the datagram's counter */
		enum sg_hs_counter event;   /* and what it did, if handled (0: nothing) */
	} rows[] = {
		/* The review's reproducer: the cookie MAC input overran the scratch. */
		{ 18373, SG_HS_COOKIE_ALWAYS, -EMSGSIZE, SG_HS_C_DROP_MALFORMED, 0 },
		{ 18373, SG_HS_COOKIE_NEVER, -EMSGSIZE, SG_HS_C_DROP_MALFORMED, 0 },
		/* The largest record sg_rec_parse() frames (2^14 + 2048 bytes). */
		{ SG_DTLS_HDR_LEN + SG_DTLS_MAX_PLAINTEXT + 2048, SG_HS_COOKIE_ALWAYS, -EMSGSIZE,
		  SG_HS_C_DROP_MALFORMED, 0 },
		{ SG_HS_DGRAM_MAX + 1, SG_HS_COOKIE_ALWAYS, -EMSGSIZE, SG_HS_C_DROP_MALFORMED, 0 },
		/* Up to the bound a hello is a hello: a cookie for it, or a handshake. */
		{ SG_HS_DGRAM_MAX, SG_HS_COOKIE_ALWAYS, 0, SG_HS_C_DGRAM_HANDLED,
		  SG_HS_C_HVR_SENT },
		{ SG_HS_DGRAM_MAX, SG_HS_COOKIE_NEVER, 0, SG_HS_C_DGRAM_HANDLED, SG_HS_C_STARTED },
		{ 1200, SG_HS_COOKIE_ALWAYS, 0, SG_HS_C_DGRAM_HANDLED, SG_HS_C_HVR_SENT },
	};
	uint8_t *d = malloc(65536);

	(void)state;
	assert_non_null(d);
	for (unsigned i = 0; i < SG_ARRAY_SIZE(rows); i++) {
		struct harness h;
		size_t n = hc_padded_hello(d, rows[i].len);

		print_message("# %zu bytes, cookies %u\n", rows[i].len, rows[i].cookies);
		h_start_capture(&h, rows[i].cookies);
		assert_int_equal(sg_hs_input(h.e, h.now, &h.peer, d, n, h.tag), rows[i].rc);
		assert_int_equal(h_count(&h, rows[i].outcome), 1);
		assert_int_equal(h_dgram_outcomes(&h), 1);
		if (rows[i].event) {
			assert_int_equal(h_count(&h, rows[i].event), 1);
			assert_true(h.n_out >= 1);
		} else {
			assert_int_equal(h.n_out, 0); /* no answer */
			assert_int_equal(h_count(&h, SG_HS_C_HVR_SENT), 0);
			assert_int_equal(h_count(&h, SG_HS_C_STARTED), 0);
		}
		h_stop(&h);
	}
	free(d);
}

/* ---- item 10: no key left in the engine's record context ----------------------------- */

/* The ticket's own key k_t = HMAC-SHA256(ticket key, salt) (hs_ticket.h), from the export. */
static void ticket_aead_key(struct harness *h, const struct ticket *t, uint8_t kt[32])
{
	/* SGTK v1: magic(4) version(1), then per key live(1) created(8) name(16) key(32). */
	uint8_t keys[SG_HS_TICKET_KEYS_LEN];
	const uint8_t *k = NULL;
	unsigned len = 0;

	assert_int_equal(sg_hs_ticket_keys_export(h->e, keys, sizeof(keys)), 5 + 2 * 57);
	for (int i = 0; i < 2; i++) {
		const uint8_t *p = keys + 5 + 57 * i;

		if (p[0] && memcmp(p + 9, t->bytes, 16) == 0)
			k = p + 25;
	}
	assert_non_null(k);
	assert_non_null(HMAC(EVP_sha256(), k, 32, t->bytes + 16, 16, kt, &len));
	assert_int_equal(len, 32);
	sg_wipe(keys, sizeof(keys));
}

/* Neither direction's key of the session just installed, in any form. */
static void assert_no_session_key(struct harness *h)
{
	const struct sg_rec_ctx *rc = sg_hs_engine_rec_ctx(h->e);
	const struct sg_rec_sa *sa = h->sess.res.sa;

	assert_false(rt_ctx_holds_key(rc, (enum sg_aead)sa->aead, sa->tx_key));
	assert_false(rt_ctx_holds_key(rc, (enum sg_aead)sa->aead, sa->rx_key));
}

static void test_record_ctx_scrubbed(void **state)
{
	static const uint16_t suites[] = {
		SG_TLS_PSK_WITH_AES_128_CCM_8,
		SG_TLS_PSK_WITH_AES_128_CCM,
		SG_TLS_PSK_WITH_AES_128_GCM_SHA256,
		SG_TLS_PSK_WITH_AES_256_GCM_SHA384,
		SG_TLS_PSK_WITH_CHACHA20_POLY1305_SHA256,
		SG_TLS_ECDHE_PSK_WITH_AES_128_CCM_8_SHA256,
	};

	(void)state;
	for (unsigned i = 0; i < SG_ARRAY_SIZE(suites); i++) {
		struct store st;
		struct ticket t;
		struct hc_opts o = opts_with(suites[i], key_old);
		struct hc c;
		uint8_t kt[32], d[2048];
		size_t n;
		bool resumed;

		print_message("# suite %04x\n", suites[i]);
		store_start(&st, SG_HS_COOKIE_NEVER);

		/* Full handshake: the client's Finished opened, a ticket sealed, ours sealed. */
		get_ticket(&st, suites[i], key_old, &t);
		assert_no_session_key(&st.h);
		ticket_aead_key(&st.h, &t, kt);
		assert_false(
		        rt_ctx_holds_key(sg_hs_engine_rec_ctx(st.h.e), SG_AEAD_AES_256_GCM, kt));

		/* Abbreviated: the ticket opened, our Finished sealed, the client's opened. */
		assert_int_equal(offer_ticket(&st, suites[i], &t, key_old, &resumed), 0);
		assert_true(resumed);
		assert_no_session_key(&st.h);
		assert_false(
		        rt_ctx_holds_key(sg_hs_engine_rec_ctx(st.h.e), SG_AEAD_AES_256_GCM, kt));

		/*
		 * Timers: the abbreviated flight resent by sg_hs_tick() (its Finished
		 * sealed again), then a wrong client Finished answered with an alert
		 * sealed under the session's keys (RFC 5246 §7.2).
		 */
		o.ticket_ext = true;
		o.ticket = t.bytes;
		o.ticket_len = t.len;
		o.resume_master = t.master;
		hc_init(&c, &o);
		assert_int_equal(hc_to_flight4(&c, &st.h), 'R');
		h_advance(&st.h, 2 * SG_DTLS_RTO_INITIAL_MS);
		assert_int_equal(h_count(&st.h, SG_HS_C_RETRANSMIT_TIMER), 1);
		assert_int_equal(hc_drain(&c, &st.h), 'R');
		{
			const struct sg_rec_ctx *rc = sg_hs_engine_rec_ctx(st.h.e);
			const struct sg_rec_sa *sa = (const struct sg_rec_sa *)c.sa_buf;

			/* The client's view: its rx key is the server's write key. */
			assert_false(rt_ctx_holds_key(rc, (enum sg_aead)sa->aead, sa->rx_key));
			assert_false(rt_ctx_holds_key(rc, (enum sg_aead)sa->aead, sa->tx_key));
			assert_false(rt_ctx_holds_key(rc, SG_AEAD_AES_256_GCM, kt));
		}
		n = hc_rec_ccs(&c, d, sizeof(d));
		n += hc_rec_finished(&c, d + n, sizeof(d) - n, true);
		h_input(&st.h, d, n);
		assert_int_equal(hc_drain(&c, &st.h), 'A');
		assert_int_equal(c.last_alert, SG_TLS_ALERT_DECRYPT_ERROR);
		{
			const struct sg_rec_ctx *rc = sg_hs_engine_rec_ctx(st.h.e);
			const struct sg_rec_sa *sa = (const struct sg_rec_sa *)c.sa_buf;

			assert_false(rt_ctx_holds_key(rc, (enum sg_aead)sa->aead, sa->rx_key));
			assert_false(rt_ctx_holds_key(rc, (enum sg_aead)sa->aead, sa->tx_key));
		}
		hc_free(&c);
		sg_wipe(kt, sizeof(kt));
		h_stop(&st.h);
	}
}

/* ---- a credential changed while a handshake is in flight ------------------------------- */

static bool match_h_identity(void *ctx, const uint8_t *identity, size_t len)
{
	(void)ctx;
	return len == strlen(H_PSK_IDENTITY) && memcmp(identity, H_PSK_IDENTITY, len) == 0;
}

static bool match_none(void *ctx, const uint8_t *identity, size_t len)
{
	(void)ctx;
	(void)identity;
	(void)len;
	return false;
}

/*
 * The key exchange looked the old key up; then the operator replaced it
 * (credentials add --replace calls sg_hs_revoke()). The handshake must not
 * install a session made with the old key after the change: it fails with
 * decrypt_error at once, and the client's Finished finds nothing. A change
 * that does not concern its identity leaves it alone, and one before the key
 * exchange is met by the fresh lookup.
 */
static void test_revoke_in_flight(void **state)
{
	(void)state;
	for (int revoke = 0; revoke < 2; revoke++) {
		struct hc_opts o = opts_with(SG_TLS_PSK_WITH_AES_128_CCM, key_old);
		struct store st;
		struct hc c;
		uint8_t d[2048];
		size_t n;
		unsigned installed;

		store_start(&st, SG_HS_COOKIE_ALWAYS);
		hc_init(&c, &o);
		assert_int_equal(hc_to_flight4(&c, &st.h), 'H');
		n = hc_rec_cke(&c, d, sizeof(d));
		h_input(&st.h, d, n);
		assert_int_equal(st.h.n_lookups, 1);
		installed = st.h.n_installed;
		assert_int_equal(sg_hs_revoke(st.h.e, match_none, NULL), 0);
		if (revoke) {
			store_set(&st, key_new, sizeof(key_new));
			assert_int_equal(sg_hs_revoke(st.h.e, match_h_identity, NULL), 1);
			assert_int_equal(hc_drain(&c, &st.h), 'A');
			assert_int_equal(c.last_alert, SG_TLS_ALERT_DECRYPT_ERROR);
			assert_int_equal(h_count(&st.h, SG_HS_C_FAIL_REVOKED), 1);
			assert_int_equal(sg_hs_revoke(st.h.e, match_h_identity, NULL), 0);
		}
		n = hc_rec_ccs(&c, d, sizeof(d));
		n += hc_rec_finished(&c, d + n, sizeof(d) - n, false);
		h_input(&st.h, d, n);
		if (revoke) {
			assert_int_equal(st.h.n_installed, installed);
			assert_int_equal(hc_drain(&c, &st.h), 0);
			assert_int_equal(h_count(&st.h, SG_HS_C_DROP_NO_STATE), 1);
		} else {
			assert_int_equal(st.h.n_installed, installed + 1);
			assert_int_equal(hc_drain(&c, &st.h), 'F');
			assert_int_equal(h_count(&st.h, SG_HS_C_FAIL_REVOKED), 0);
		}
		assert_int_equal(st.h.cids_held, 0);
		hc_free(&c);
		h_stop(&st.h);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_suite_table),         cmocka_unit_test(test_suite_preference),
		cmocka_unit_test(test_ticket_bound_to_psk), cmocka_unit_test(test_input_bound),
		cmocka_unit_test(test_record_ctx_scrubbed), cmocka_unit_test(test_revoke_in_flight),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
