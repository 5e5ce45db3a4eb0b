/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The ECDHE-ECDSA message codec (hs_certcodec.c), as tables: the hello
 * extensions of certificates (signature_algorithms, RFC 7250 certificate
 * types: values, order, repeats, malformed), the client's Certificate (X.509
 * list framing, raw public key, empty), ECDHE ClientKeyExchange and
 * CertificateVerify parsers (every length edge), and the writers' exact
 * bytes (CertificateRequest, signed ServerKeyExchange, Certificate, the
 * ServerHello's echoes). The test thread only.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include <stormgate/dtls.h>

#include "hs_certcodec.h"
#include "hs_codec.h"

#define B(...) ((const uint8_t[]){ __VA_ARGS__ }), sizeof((const uint8_t[]){ __VA_ARGS__ })

struct ext_case {
	const char *name;
	uint16_t type;
	const uint8_t *d;
	uint16_t n;
	int rc;
	uint8_t flags, schemes, client_ct, server_ct, client_rpk_first, server_rpk_first;
};

static const struct ext_case ext_cases[] = {
	{ "sig_algs: P-256 and P-384 among others", SG_TLS_EXT_SIGNATURE_ALGORITHMS,
	  B(0, 8, 0x04, 0x01, 0x04, 0x03, 0x05, 0x03, 0x08, 0x04), 0, SG_HS_CHC_F_SIG_ALGS, 3 },
	{ "sig_algs: none of ours", SG_TLS_EXT_SIGNATURE_ALGORITHMS, B(0, 2, 0x04, 0x01), 0,
	  SG_HS_CHC_F_SIG_ALGS, 0 },
	{ "sig_algs: odd length", SG_TLS_EXT_SIGNATURE_ALGORITHMS, B(0, 3, 0x04, 0x03, 0x05),
	  -EBADMSG },
	{ "sig_algs: empty list", SG_TLS_EXT_SIGNATURE_ALGORITHMS, B(0, 0), -EBADMSG },
	{ "sig_algs: length past the data", SG_TLS_EXT_SIGNATURE_ALGORITHMS, B(0, 4, 0x04, 0x03),
	  -EBADMSG },
	{ "client types: RPK then X.509", SG_TLS_EXT_CLIENT_CERTIFICATE_TYPE, B(2, 2, 0), 0,
	  SG_HS_CHC_F_CLIENT_CT, 0, 3, 0, 1, 0 },
	{ "client types: X.509 then RPK", SG_TLS_EXT_CLIENT_CERTIFICATE_TYPE, B(2, 0, 2), 0,
	  SG_HS_CHC_F_CLIENT_CT, 0, 3, 0, 0, 0 },
	{ "server types: unknown, then RPK", SG_TLS_EXT_SERVER_CERTIFICATE_TYPE, B(2, 1, 2), 0,
	  SG_HS_CHC_F_SERVER_CT, 0, 0, 2, 0, 1 },
	{ "server types: only unknown", SG_TLS_EXT_SERVER_CERTIFICATE_TYPE, B(1, 1), 0,
	  SG_HS_CHC_F_SERVER_CT, 0, 0, 0, 0, 0 },
	{ "server types: empty list", SG_TLS_EXT_SERVER_CERTIFICATE_TYPE, B(0), -EBADMSG },
	{ "server types: list length wrong", SG_TLS_EXT_SERVER_CERTIFICATE_TYPE, B(2, 0),
	  -EBADMSG },
	{ "another extension: untouched", 0x1234, B(1, 2, 3), 0 },
};

static void test_hello_extensions(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(ext_cases) / sizeof(ext_cases[0]); i++) {
		const struct ext_case *c = &ext_cases[i];
		struct sg_hs_client_hello ch;

		print_message("# %s\n", c->name);
		memset(&ch, 0, sizeof(ch));
		assert_int_equal(sg_hs_cert_ext_parse(c->type, c->d, c->n, &ch), c->rc);
		if (c->rc != 0)
			continue;
		assert_int_equal(ch.cert.flags, c->flags);
		assert_int_equal(ch.cert.schemes, c->schemes);
		assert_int_equal(ch.cert.client_ct, c->client_ct);
		assert_int_equal(ch.cert.server_ct, c->server_ct);
		assert_int_equal(ch.cert.client_rpk_first, c->client_rpk_first);
		assert_int_equal(ch.cert.server_rpk_first, c->server_rpk_first);
		/* RFC 5246 §7.4.1.4: the same extension twice is refused. */
		if (c->flags)
			assert_int_equal(sg_hs_cert_ext_parse(c->type, c->d, c->n, &ch), -EBADMSG);
	}
}

struct msg_case {
	const char *name;
	int kind; /* 0: Certificate X.509, 1: Certificate RPK, 2: ClientKeyExchange, 3: CV */
	const uint8_t *d;
	size_t n;
	int rc;
	size_t out_off, out_len; /* what the parser points at, on success */
};

static const struct msg_case msg_cases[] = {
	{ "x509: empty list", 0, B(0, 0, 0), 0, 3, 0 },
	{ "x509: two certificates", 0, B(0, 0, 9, 0, 0, 2, 0xaa, 0xbb, 0, 0, 1, 0xcc), 0, 3, 9 },
	{ "x509: list length short", 0, B(0, 0, 4, 0, 0, 2, 0xaa, 0xbb), -EBADMSG },
	{ "x509: an empty certificate", 0, B(0, 0, 3, 0, 0, 0), -EBADMSG },
	{ "x509: a certificate past the list", 0, B(0, 0, 5, 0, 0, 3, 0xaa, 0xbb), -EBADMSG },
	{ "x509: trailing byte", 0, B(0, 0, 4, 0, 0, 1, 0xaa, 0xbb), -EBADMSG },
	{ "x509: no length", 0, B(0, 0), -EBADMSG },
	{ "rpk: one SPKI", 1, B(0, 0, 3, 0x30, 0x01, 0x00), 0, 3, 3 },
	{ "rpk: empty", 1, B(0, 0, 0), 0, 3, 0 },
	{ "rpk: length wrong", 1, B(0, 0, 4, 0x30, 0x01, 0x00), -EBADMSG },
	{ "kx: point", 2, B(3, 4, 5, 6), 0, 1, 3 },
	{ "kx: empty point", 2, B(0), -EBADMSG },
	{ "kx: length past the data", 2, B(4, 4, 5, 6), -EBADMSG },
	{ "kx: trailing byte", 2, B(1, 4, 5), -EBADMSG },
	{ "cv: scheme and signature", 3, B(4, 3, 0, 2, 0x30, 0x00), 0, 4, 2 },
	{ "cv: empty signature", 3, B(4, 3, 0, 0), -EBADMSG },
	{ "cv: signature short", 3, B(4, 3, 0, 3, 0x30, 0x00), -EBADMSG },
	{ "cv: trailing byte", 3, B(4, 3, 0, 1, 0x30, 0x00), -EBADMSG },
};

static void test_client_messages(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(msg_cases) / sizeof(msg_cases[0]); i++) {
		const struct msg_case *c = &msg_cases[i];
		const uint8_t *p = NULL;
		size_t n = 0;
		uint8_t n8 = 0;
		uint16_t scheme = 0, n16 = 0;
		int rc;

		print_message("# %s\n", c->name);
		if (c->kind <= 1) {
			rc = sg_hs_certificate_parse(c->d, c->n, c->kind == 1, &p, &n);
		} else if (c->kind == 2) {
			rc = sg_hs_client_kx_ecdhe_parse(c->d, c->n, &p, &n8);
			n = n8;
		} else {
			rc = sg_hs_cert_verify_parse(c->d, c->n, &scheme, &p, &n16);
			n = n16;
			if (rc == 0)
				assert_int_equal(scheme, SG_TLS_SIGSCHEME_ECDSA_SHA256);
		}
		assert_int_equal(rc, c->rc);
		if (rc == 0) {
			assert_ptr_equal(p, c->d + c->out_off);
			assert_int_equal(n, c->out_len);
		}
	}
}

static void test_writers(void **state)
{
	static const uint8_t cr[] = { SG_TLS_HT_CERTIFICATE_REQUEST,
		                      0,
		                      0,
		                      8,
		                      0,
		                      5,
		                      0,
		                      0,
		                      0,
		                      0,
		                      0,
		                      8,
		                      1,
		                      64,
		                      0,
		                      2,
		                      5,
		                      3,
		                      0,
		                      0 };
	static const uint8_t skx[] = { SG_TLS_HT_SERVER_KEY_EXCHANGE,
		                       0,
		                       0,
		                       10,
		                       0,
		                       3,
		                       0,
		                       0,
		                       0,
		                       0,
		                       0,
		                       10,
		                       3,
		                       0,
		                       29,
		                       1,
		                       0x99,
		                       4,
		                       3,
		                       0,
		                       1,
		                       0x30 };
	static const uint8_t point[] = { 0x99 }, sig[] = { 0x30 }, body[] = { 0, 0, 1, 0xab };
	uint8_t buf[64], params[SG_HS_ECDH_PARAMS_MAX], small[21];
	struct sg_hs_wbuf w = { .p = buf, .cap = sizeof(buf) };
	struct sg_hs_wbuf ws = { .p = small, .cap = sizeof(small) };
	struct sg_hs_server_hello sh = { .server_ct = 1 + SG_TLS_CERT_TYPE_RPK,
		                         .client_ct = 1 + SG_TLS_CERT_TYPE_X509 };
	size_t pl;

	(void)state;
	assert_int_equal(sg_hs_write_certificate_request(&w, 5, SG_TLS_SIGSCHEME_ECDSA_SHA384), 0);
	assert_int_equal(w.len, sizeof(cr));
	assert_memory_equal(buf, cr, sizeof(cr));
	w.len = 0;
	pl = sg_hs_ecdh_params_put(params, SG_TLS_GROUP_X25519, point, sizeof(point));
	assert_int_equal(pl, 5);
	assert_int_equal(sg_hs_write_server_kx_signed(&w, 3, params, pl,
	                                              SG_TLS_SIGSCHEME_ECDSA_SHA256, sig,
	                                              sizeof(sig)),
	                 0);
	assert_int_equal(w.len, sizeof(skx));
	assert_memory_equal(buf, skx, sizeof(skx));
	/* A write that does not fit leaves the buffer as it was. */
	assert_int_equal(sg_hs_write_server_kx_signed(&ws, 3, params, pl,
	                                              SG_TLS_SIGSCHEME_ECDSA_SHA256, sig,
	                                              sizeof(sig)),
	                 -ENOSPC);
	assert_int_equal(ws.len, 0);
	w.len = 0;
	assert_int_equal(sg_hs_write_certificate(&w, 1, body, sizeof(body)), 0);
	assert_int_equal(w.len, 12 + sizeof(body));
	assert_memory_equal(buf + 12, body, sizeof(body));
	/* RFC 7250 §3: one CertificateType each, client's first. */
	assert_int_equal(sg_hs_cert_sh_ext_len(&sh), 10);
	assert_ptr_equal(sg_hs_cert_sh_ext_put(buf, &sh), buf + 10);
	assert_memory_equal(buf, ((const uint8_t[]){ 0, 19, 0, 1, 0, 0, 20, 0, 1, 2 }), 10);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hello_extensions),
		cmocka_unit_test(test_client_messages),
		cmocka_unit_test(test_writers),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
