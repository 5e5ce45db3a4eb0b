/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Interop with the GnuTLS DTLS 1.2 client library, in process over a
 * datagram socketpair: every PSK and ECDHE-PSK suite GnuTLS offers (X25519
 * and secp256r1), with and without extended master secret, with and without
 * cookies, full and resumed handshakes, SNI and record_size_limit (GnuTLS
 * sends RFC 8449, OpenSSL 3.0 does not), TLS_PSK_WITH_AES_128_CBC_SHA256 with
 * and without encrypt_then_mac (RFC 7366); application data both ways
 * through the record layer with the installed keys.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <gnutls/dtls.h>
#include <gnutls/gnutls.h>

#include "hs_harness.h"

struct gnutls_case {
	const char *cipher; /* priority token */
	const char *kx;     /* PSK or ECDHE-PSK */
	const char *curve;  /* ECDHE group token */
	uint16_t suite;
	uint16_t group;
	bool no_ems;
	uint8_t cookies;
	bool resume;
	const char *sni;
	uint16_t max_size; /* gnutls_record_set_max_size: record_size_limit */
	bool no_etm;       /* CBC: %NO_ETM, MAC-then-encrypt (else RFC 7366 encrypt-then-MAC) */
};

static const struct gnutls_case cases[] = {
	{ "AES-128-CCM-8", "PSK", NULL, 0xc0a8, 0, false, SG_HS_COOKIE_ALWAYS, true, "gw.example",
	  0 },
	{ "AES-128-CCM-8", "PSK", NULL, 0xc0a8, 0, true, SG_HS_COOKIE_NEVER, false, NULL, 512 },
	{ "AES-128-CCM", "PSK", NULL, 0xc0a4, 0, false, SG_HS_COOKIE_ALWAYS, true, NULL, 0 },
	{ "AES-128-GCM", "PSK", NULL, 0x00a8, 0, false, SG_HS_COOKIE_ALWAYS, true, "m2m.example",
	  1024 },
	{ "AES-256-GCM", "PSK", NULL, 0x00a9, 0, false, SG_HS_COOKIE_ALWAYS, true, NULL, 0 },
	{ "AES-256-GCM", "PSK", NULL, 0x00a9, 0, true, SG_HS_COOKIE_NEVER, false, NULL, 0 },
	{ "CHACHA20-POLY1305", "PSK", NULL, 0xccab, 0, false, SG_HS_COOKIE_ALWAYS, true, NULL, 0 },
	{ "CHACHA20-POLY1305", "ECDHE-PSK", "GROUP-X25519", 0xccac, 29, false, SG_HS_COOKIE_ALWAYS,
	  true, "gw.example", 0 },
	{ "CHACHA20-POLY1305", "ECDHE-PSK", "GROUP-SECP256R1", 0xccac, 23, false,
	  SG_HS_COOKIE_NEVER, true, NULL, 600 },
	{ "CHACHA20-POLY1305", "ECDHE-PSK", "GROUP-X25519", 0xccac, 29, true, SG_HS_COOKIE_ALWAYS,
	  false, NULL, 0 },
	/* issue 17: CBC-SHA256 only, with and without encrypt_then_mac (RFC 7366) */
	{ "AES-128-CBC", "PSK", NULL, 0x00ae, 0, false, SG_HS_COOKIE_ALWAYS, true, NULL, 0 },
	{ "AES-128-CBC", "PSK", NULL, 0x00ae, 0, false, SG_HS_COOKIE_ALWAYS, true, "gw.example", 0,
	  true },
	{ "AES-128-CBC", "PSK", NULL, 0x00ae, 0, true, SG_HS_COOKIE_NEVER, false, NULL, 512,
	  false },
	{ "AES-128-CBC", "PSK", NULL, 0x00ae, 0, true, SG_HS_COOKIE_NEVER, false, NULL, 0, true },
};

static bool is_cbc(const struct gnutls_case *c)
{
	return strcmp(c->cipher, "AES-128-CBC") == 0;
}

static gnutls_session_t client_new(struct harness *h, const struct gnutls_case *c,
                                   gnutls_psk_client_credentials_t cred,
                                   const gnutls_datum_t *resume)
{
	char prio[256];
	gnutls_session_t s;

	assert_int_equal(gnutls_init(&s, GNUTLS_CLIENT | GNUTLS_DATAGRAM | GNUTLS_NONBLOCK), 0);
	snprintf(prio, sizeof(prio), "NONE:+VERS-DTLS1.2:+%s:+%s:+%s:+SIGN-ALL:+COMP-NULL:+%s%s%s",
	         c->kx, c->cipher, is_cbc(c) ? "SHA256" : "AEAD",
	         c->curve ? c->curve : "GROUP-X25519", c->no_ems ? ":%NO_SESSION_HASH" : "",
	         c->no_etm ? ":%NO_ETM" : "");
	assert_int_equal(gnutls_priority_set_direct(s, prio, NULL), 0);
	assert_int_equal(gnutls_credentials_set(s, GNUTLS_CRD_PSK, cred), 0);
	gnutls_transport_set_int(s, h->fd[0]);
	gnutls_dtls_set_mtu(s, 1400);
	if (c->sni)
		assert_int_equal(gnutls_server_name_set(s, GNUTLS_NAME_DNS, c->sni, strlen(c->sni)),
		                 0);
	if (c->max_size)
		assert_true(gnutls_record_set_max_size(s, c->max_size) >= 0);
	if (resume)
		assert_int_equal(gnutls_session_set_data(s, resume->data, resume->size), 0);
	return s;
}

static void run_handshake(struct harness *h, gnutls_session_t s, unsigned want_installed)
{
	for (int i = 0; i < 200; i++) {
		int rc = gnutls_handshake(s);

		if (rc < 0 && rc != GNUTLS_E_AGAIN && rc != GNUTLS_E_INTERRUPTED)
			fail_msg("gnutls handshake: %s", gnutls_strerror(rc));
		h_pump(h);
		if (rc == 0 && h->n_installed == want_installed)
			return;
	}
	fail_msg("handshake did not complete (installed %u)", h->n_installed);
}

static long tls_send(void *s, const void *pt, size_t len)
{
	return gnutls_record_send(s, pt, len);
}

static long tls_recv(void *s, void *buf, size_t cap)
{
	return gnutls_record_recv(s, buf, cap);
}

static void exchange_data(struct harness *h, gnutls_session_t s)
{
	const struct h_client c = { s, tls_send, tls_recv };

	h_data_both_ways(h, &c, "uplink via GnuTLS", "downlink to GnuTLS");
}

static void run_case(const struct gnutls_case *c)
{
	gnutls_datum_t key = { .data = (unsigned char *)h_psks[0].key, .size = h_psks[0].key_len };
	gnutls_psk_client_credentials_t cred;
	gnutls_datum_t data = { 0 };
	struct harness h = { 0 };
	gnutls_session_t s;

	assert_int_equal(gnutls_psk_allocate_client_credentials(&cred), 0);
	assert_int_equal(
	        gnutls_psk_set_client_credentials(cred, H_PSK_IDENTITY, &key, GNUTLS_PSK_KEY_RAW),
	        0);
	h_config(&h, &h.conf);
	h.conf.cookie_policy = c->cookies;
	h_start(&h);

	s = client_new(&h, c, cred, NULL);
	run_handshake(&h, s, 1);
	assert_int_equal(h.sess.res.suite, c->suite);
	assert_int_equal(h.sess.res.group, c->group);
	assert_int_equal(h.sess.res.ems, !c->no_ems);
	assert_int_equal(gnutls_session_ext_master_secret_status(s), !c->no_ems);
	/* RFC 7366: encrypt-then-MAC when offered, with CBC only; both sides agree. */
	assert_int_equal(gnutls_session_etm_status(s), is_cbc(c) && !c->no_etm);
	assert_int_equal(!!(h.sess.res.sa->flags & SG_SA_F_ETM), is_cbc(c) && !c->no_etm);
	assert_int_equal(h.sess.res.cid_len, 0);
	assert_int_equal(h.sess.res.resumed, 0);
	assert_memory_equal(h.sess.res.identity, H_PSK_IDENTITY, strlen(H_PSK_IDENTITY));
	if (c->sni) {
		assert_int_equal(h.sess.res.sni_len, strlen(c->sni));
		assert_memory_equal(h.sess.res.sni, c->sni, strlen(c->sni));
	} else {
		assert_int_equal(h.sess.res.sni_len, 0);
	}
	/* RFC 8449 §4: the client's limit bounds what we may send it. */
	if (c->max_size)
		assert_int_equal(h.sess.res.max_plaintext, c->max_size);
	else
		assert_int_equal(h.sess.res.max_plaintext, SG_DTLS_MAX_PLAINTEXT);
	exchange_data(&h, s);
	if (c->resume)
		assert_int_equal(gnutls_session_get_data2(s, &data), 0);
	gnutls_deinit(s);

	if (c->resume) {
		s = client_new(&h, c, cred, &data);
		run_handshake(&h, s, 2);
		assert_int_equal(gnutls_session_is_resumed(s), 1);
		assert_int_equal(h.sess.res.resumed, 1);
		assert_int_equal(h.sess.res.suite, c->suite);
		assert_int_equal(gnutls_session_etm_status(s), is_cbc(c) && !c->no_etm);
		assert_int_equal(!!(h.sess.res.sa->flags & SG_SA_F_ETM), is_cbc(c) && !c->no_etm);
		assert_int_equal(h_count(&h, SG_HS_C_COMPLETED_RESUMED), 1);
		exchange_data(&h, s);
		gnutls_deinit(s);
		gnutls_free(data.data);
	}
	assert_int_equal(h_count(&h, SG_HS_C_COMPLETED_FULL), 1);
	gnutls_psk_free_client_credentials(cred);
	h_stop(&h);
}

static void test_gnutls_matrix(void **state)
{
	(void)state;
	for (unsigned i = 0; i < SG_ARRAY_SIZE(cases); i++) {
		print_message("# case %u: %s %s %s ems=%d cookies=%d resume=%d etm=%d\n", i,
		              cases[i].kx, cases[i].cipher, cases[i].curve ? cases[i].curve : "",
		              !cases[i].no_ems, cases[i].cookies, cases[i].resume,
		              is_cbc(&cases[i]) && !cases[i].no_etm);
		run_case(&cases[i]);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_gnutls_matrix),
	};
	int rc;

	gnutls_global_init();
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	gnutls_global_deinit();
	return rc;
}
