/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The certificate leaf of the handshake engine (control/handshake/hs_cert.c)
 * against a PKI made at test time with OpenSSL's API (CAs, an intermediate,
 * server and client certificates, CRLs, in a temporary directory):
 *   - loading: a table of good and bad files (mismatched key, P-521 and
 *     non-EC keys, garbage PEM, missing files, encrypted keys, a CRL that
 *     its CA did not sign, ...), each refused with its own message;
 *   - Wycheproof ecdsa_secp256r1_sha256 through hs_cert_verify_sig();
 *   - signing (P-256, P-384; with and without a precomputed nonce) checked
 *     by hs_cert_verify_sig() and by OpenSSL's EVP on the key itself;
 *   - client chains: a table (expired, not yet valid, revoked, wrong CA,
 *     self-signed, non-EC key, intermediates, CN vs SAN URI, identities
 *     too long, extendedKeyUsage, malformed lists) with its failure counter;
 *   - the verified-chain cache: hits, misses, expiry on a hit, capacity,
 *     revocation after a CRL reload; raw public keys (the canonical form
 *     read directly and any other through OpenSSL agree); reload keeping the
 *     old set alive for its holders, and a failed reload changing nothing;
 *   - 2000 mutated chains and 2000 mutated raw public keys: a verdict each;
 *   - the nonce pool under threads: signers on four threads while the test
 *     thread refills and reloads; every signature verifies and no r repeats
 *     (suite 'threads': also run under ThreadSanitizer).
 * Threads: the test thread, and test_pool_threads' workers (which share only
 * the struct sg_hs_certs, owned by the test thread, and their result arrays).
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>
#include <jansson.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/sha.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <stormgate/bytes.h>
#include <stormgate/common.h>
#include <stormgate/dtls.h>
#include <stormgate/handshake.h>

#include "hs_cert.h"
#include "tc_hex.h"
#include "tc_tmp.h"
#include "tc_vectors.h"

#define DAY (24 * 3600L)

/* ---- the test PKI ----------------------------------------------------------------- */

static char dir[256];
static int64_t t0; /* "now" of the PKI: validity periods are relative to it */

static EVP_PKEY *ca_key, *ca2_key, *inter_key, *srv_key, *srv384_key, *other_key;
static X509 *ca, *ca2, *inter, *srv, *srv384;

static EVP_PKEY *keygen(const char *type, const char *curve)
{
	EVP_PKEY *k = curve ? EVP_PKEY_Q_keygen(NULL, NULL, type, curve)
	                    : EVP_PKEY_Q_keygen(NULL, NULL, type);

	assert_non_null(k);
	return k;
}

struct cspec {
	const char *cn;      /* NULL: no commonName */
	const char *cn2;     /* a second commonName */
	const char *san_uri; /* NULL: no subjectAltName */
	const char *eku;     /* extendedKeyUsage, NULL: none */
	long nb, na;         /* validity, seconds from t0 */
	long serial;
	bool ca;
};

static void add_ext(X509 *x, X509 *issuer, int nid, const char *value)
{
	X509V3_CTX ctx;
	X509_EXTENSION *e;

	X509V3_set_ctx(&ctx, issuer, x, NULL, NULL, 0);
	e = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
	assert_non_null(e);
	assert_int_equal(X509_add_ext(x, e, -1), 1);
	X509_EXTENSION_free(e);
}

/* A CN of any length: raw UTF8String (the MBSTRING path enforces ub-common-name, 64). */
static void add_cn(X509_NAME *n, const char *cn)
{
	assert_int_equal(X509_NAME_add_entry_by_NID(n, NID_commonName, V_ASN1_UTF8STRING,
	                                            (const unsigned char *)cn, (int)strlen(cn), -1,
	                                            0),
	                 1);
}

/* A certificate for pub, signed by issuer_key (issuer NULL: self-signed by issuer_key). */
static X509 *mk_cert(const struct cspec *sp, EVP_PKEY *pub, X509 *issuer, EVP_PKEY *issuer_key)
{
	X509 *x = X509_new();
	X509_NAME *n = X509_NAME_new();

	assert_non_null(x);
	X509_set_version(x, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(x), sp->serial);
	ASN1_TIME_set(X509_getm_notBefore(x), (time_t)(t0 + sp->nb));
	ASN1_TIME_set(X509_getm_notAfter(x), (time_t)(t0 + sp->na));
	if (sp->cn)
		add_cn(n, sp->cn);
	if (sp->cn2)
		add_cn(n, sp->cn2);
	if (!sp->cn && !sp->cn2)
		assert_int_equal(X509_NAME_add_entry_by_txt(n, "O", MBSTRING_ASC,
		                                            (const unsigned char *)"no cn", -1, -1,
		                                            0),
		                 1);
	X509_set_subject_name(x, n);
	X509_set_issuer_name(x, issuer ? X509_get_subject_name(issuer) : n);
	X509_set_pubkey(x, pub);
	if (sp->ca) {
		add_ext(x, issuer ? issuer : x, NID_basic_constraints, "critical,CA:TRUE");
		add_ext(x, issuer ? issuer : x, NID_key_usage, "critical,keyCertSign,cRLSign");
	} else {
		add_ext(x, issuer ? issuer : x, NID_basic_constraints, "CA:FALSE");
	}
	if (sp->san_uri) {
		char v[512];

		snprintf(v, sizeof(v), "URI:%s", sp->san_uri);
		add_ext(x, issuer ? issuer : x, NID_subject_alt_name, v);
	}
	if (sp->eku)
		add_ext(x, issuer ? issuer : x, NID_ext_key_usage, sp->eku);
	assert_true(X509_sign(x, issuer_key, EVP_sha256()) > 0);
	X509_NAME_free(n);
	return x;
}

static X509_CRL *mk_crl(X509 *issuer, EVP_PKEY *key, const long *serials, size_t n, long next)
{
	X509_CRL *crl = X509_CRL_new();
	ASN1_TIME *t = ASN1_TIME_new();
	size_t i;

	assert_non_null(crl);
	X509_CRL_set_version(crl, 1);
	X509_CRL_set_issuer_name(crl, X509_get_subject_name(issuer));
	ASN1_TIME_set(t, (time_t)(t0 - DAY));
	X509_CRL_set1_lastUpdate(crl, t);
	ASN1_TIME_set(t, (time_t)(t0 + next));
	X509_CRL_set1_nextUpdate(crl, t);
	for (i = 0; i < n; i++) {
		X509_REVOKED *r = X509_REVOKED_new();
		ASN1_INTEGER *s = ASN1_INTEGER_new();

		ASN1_INTEGER_set(s, serials[i]);
		X509_REVOKED_set_serialNumber(r, s);
		ASN1_TIME_set(t, (time_t)(t0 - 3600));
		X509_REVOKED_set_revocationDate(r, t);
		X509_CRL_add0_revoked(crl, r);
		ASN1_INTEGER_free(s);
	}
	X509_CRL_sort(crl);
	assert_true(X509_CRL_sign(crl, key, EVP_sha256()) > 0);
	ASN1_TIME_free(t);
	return crl;
}

/*
 * dir/name, in a buffer of its own that lives until teardown (a conf keeps
 * the pointers). The test thread only.
 */
static char *paths[256];
static unsigned n_paths;

static const char *path(const char *name)
{
	char *r;

	assert_true(n_paths < sizeof(paths) / sizeof(paths[0]));
	assert_true(asprintf(&r, "%s/%s", dir, name) > 0);
	paths[n_paths++] = r;
	return r;
}

static BIO *open_w(const char *name)
{
	BIO *b = BIO_new_file(path(name), "w");

	assert_non_null(b);
	return b;
}

static void write_certs(const char *name, X509 *const *xs, size_t n)
{
	BIO *b = open_w(name);
	size_t i;

	for (i = 0; i < n; i++)
		assert_int_equal(PEM_write_bio_X509(b, xs[i]), 1);
	BIO_free(b);
}

static void write_key(const char *name, EVP_PKEY *k)
{
	BIO *b = open_w(name);

	assert_int_equal(PEM_write_bio_PrivateKey(b, k, NULL, NULL, 0, NULL, NULL), 1);
	BIO_free(b);
}

static void write_pub(const char *name, EVP_PKEY *k)
{
	BIO *b = open_w(name);

	assert_int_equal(PEM_write_bio_PUBKEY(b, k), 1);
	BIO_free(b);
}

static void write_crl(const char *name, X509_CRL *crl)
{
	BIO *b = open_w(name);

	assert_int_equal(PEM_write_bio_X509_CRL(b, crl), 1);
	BIO_free(b);
	X509_CRL_free(crl);
}

static void write_text(const char *name, const char *text)
{
	BIO *b = open_w(name);

	assert_int_equal(BIO_puts(b, text), (int)strlen(text));
	BIO_free(b);
}

/* Revoked serials of the CRL files: 66 (a client), 67 (another); the intermediate's revokes 77. */
static const long revoked[] = { 66, 67 };
static const long inter_revoked[] = { 77 };

static int setup(void **state)
{
	const struct cspec ca_spec = {
		.cn = "Test Root CA", .nb = -DAY, .na = 365 * DAY, .serial = 1, .ca = true
	};
	const struct cspec ca2_spec = {
		.cn = "Other CA", .nb = -DAY, .na = 365 * DAY, .serial = 1, .ca = true
	};
	const struct cspec inter_spec = {
		.cn = "Test Intermediate", .nb = -DAY, .na = 180 * DAY, .serial = 2, .ca = true
	};
	const struct cspec srv_spec = {
		.cn = "gateway.test", .nb = -DAY, .na = 90 * DAY, .serial = 3
	};
	EVP_PKEY *k;

	(void)state;
	t0 = (int64_t)time(NULL);
	if (tc_tmpdir(dir, sizeof(dir), "hs_cert") < 0)
		return -1;
	ca_key = keygen("EC", "P-256");
	ca2_key = keygen("EC", "P-256");
	inter_key = keygen("EC", "P-256");
	srv_key = keygen("EC", "P-256");
	srv384_key = keygen("EC", "P-384");
	other_key = keygen("EC", "P-256");
	ca = mk_cert(&ca_spec, ca_key, NULL, ca_key);
	ca2 = mk_cert(&ca2_spec, ca2_key, NULL, ca2_key);
	inter = mk_cert(&inter_spec, inter_key, ca, ca_key);
	srv = mk_cert(&srv_spec, srv_key, ca, ca_key);
	srv384 = mk_cert(&srv_spec, srv384_key, ca, ca_key);
	write_certs("ca.pem", &ca, 1);
	write_certs("srv.pem", (X509 *[]){ srv, ca }, 2);
	write_certs("srv384.pem", (X509 *[]){ srv384, ca }, 2);
	write_key("srv.key", srv_key);
	write_key("srv384.key", srv384_key);
	write_key("other.key", other_key);
	write_pub("srv.pub", srv_key);
	write_pub("other.pub", other_key);
	k = keygen("EC", "P-521");
	write_key("p521.key", k);
	EVP_PKEY_free(k);
	k = keygen("ED25519", NULL);
	write_key("ed25519.key", k);
	EVP_PKEY_free(k);
	{
		BIO *b = open_w("enc.key");

		assert_int_equal(PEM_write_bio_PrivateKey(b, srv_key, EVP_aes_128_cbc(), NULL, 0,
		                                          NULL, (void *)"secret"),
		                 1);
		BIO_free(b);
	}
	write_text("garbage.pem", "-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydGlmaWNhdGU=\n"
	                          "-----END CERTIFICATE-----\n");
	write_text("text.pem", "no PEM block in here\n");
	write_crl("ca.crl", mk_crl(ca, ca_key, revoked, 2, 30 * DAY));
	write_crl("ca_none.crl", mk_crl(ca, ca_key, NULL, 0, 30 * DAY));
	write_crl("ca_forged.crl", mk_crl(ca, other_key, revoked, 2, 30 * DAY));
	write_crl("ca_stale.crl", mk_crl(ca, ca_key, NULL, 0, 2 * DAY));
	{
		BIO *b = open_w("both.crl");
		X509_CRL *c1 = mk_crl(ca, ca_key, revoked, 2, 30 * DAY);
		X509_CRL *c2 = mk_crl(inter, inter_key, inter_revoked, 1, 30 * DAY);

		PEM_write_bio_X509_CRL(b, c1);
		PEM_write_bio_X509_CRL(b, c2);
		BIO_free(b);
		X509_CRL_free(c1);
		X509_CRL_free(c2);
	}
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	X509_free(ca);
	X509_free(ca2);
	X509_free(inter);
	X509_free(srv);
	X509_free(srv384);
	EVP_PKEY_free(ca_key);
	EVP_PKEY_free(ca2_key);
	EVP_PKEY_free(inter_key);
	EVP_PKEY_free(srv_key);
	EVP_PKEY_free(srv384_key);
	EVP_PKEY_free(other_key);
	while (n_paths > 0)
		free(paths[--n_paths]);
	return tc_rmtree(dir);
}

/* The usual configuration: our P-256 chain, the root CA, its CRL, RPK on. */
static struct sg_hs_certs_conf base_conf(void)
{
	return (struct sg_hs_certs_conf){
		.cert_file = path("srv.pem"),
		.key_file = path("srv.key"),
		.ca_file = path("ca.pem"),
		.crl_file = path("ca.crl"),
		.rpk = 1,
	};
}

static struct sg_hs_certs *create_ok(const struct sg_hs_certs_conf *conf)
{
	char err[256] = "";
	struct sg_hs_certs *c = sg_hs_certs_create(conf, err, sizeof(err));

	if (c == NULL)
		fail_msg("create: %s", err);
	return c;
}

/* certificate_list contents (after the list's 3-byte length) of xs, leaf first. */
static size_t cert_list(X509 *const *xs, size_t n, uint8_t *out, size_t cap)
{
	size_t off = 0, i;

	for (i = 0; i < n; i++) {
		int l = i2d_X509(xs[i], NULL);
		uint8_t *p = out + off + 3;

		assert_true(l > 0 && off + 3 + (size_t)l <= cap);
		i2d_X509(xs[i], &p);
		out[off] = (uint8_t)(l >> 16);
		out[off + 1] = (uint8_t)(l >> 8);
		out[off + 2] = (uint8_t)l;
		off += 3 + (size_t)l;
	}
	return off;
}

/* The uncompressed point of an EC key, as hs_cert returns it. */
static void point_of(EVP_PKEY *k, struct hs_peer_key *pk)
{
	size_t l = 0;

	memset(pk, 0, sizeof(*pk));
	assert_int_equal(EVP_PKEY_set_utf8_string_param(k, "point-format", "uncompressed"), 1);
	assert_int_equal(EVP_PKEY_get_octet_string_param(k, "encoded-pub-key", pk->point,
	                                                 sizeof(pk->point), &l),
	                 1);
	pk->point_len = (uint8_t)l;
	pk->curve = l == 97 ? SG_TLS_GROUP_SECP384R1 : SG_TLS_GROUP_SECP256R1;
}

/* ---- loading ---------------------------------------------------------------------- */

struct load_row {
	const char *name;
	const char *cert, *key, *rpk_key, *ca, *crl; /* file names in dir; "-": NULL */
	uint8_t rpk, client_auth;
	int err;             /* 0: loads; else the -errno */
	const char *message; /* a part of the message */
	uint16_t curve;
};

static const char *opt(const char *name)
{
	return name == NULL || strcmp(name, "-") == 0 ? NULL : path(name);
}

static void test_load_table(void **state)
{
	static const struct load_row rows[] = {
		{ "chain P-256", "srv.pem", "srv.key", "-", "ca.pem", "ca.crl", 1, 0, 0, NULL,
		  SG_TLS_GROUP_SECP256R1 },
		{ "chain P-384", "srv384.pem", "srv384.key", "-", "ca.pem", "-", 1, 0, 0, NULL,
		  SG_TLS_GROUP_SECP384R1 },
		{ "RPK only", "-", "srv.key", "srv.pub", "-", "-", 1, 0, 0, NULL,
		  SG_TLS_GROUP_SECP256R1 },
		{ "RPK from the key", "-", "srv.key", "-", "-", "-", 1, 0, 0, NULL,
		  SG_TLS_GROUP_SECP256R1 },
		{ "two CRLs", "srv.pem", "srv.key", "-", "ca.pem", "both.crl", 0, 0, 0, NULL,
		  SG_TLS_GROUP_SECP256R1 },
		{ "server auth only", "srv.pem", "srv.key", "-", "-", "-", 0,
		  SG_HS_CLIENT_AUTH_NONE, 0, NULL, SG_TLS_GROUP_SECP256R1 },
		{ "mismatched key", "srv.pem", "other.key", "-", "ca.pem", "-", 1, 0, -EINVAL,
		  "does not match the certificate", 0 },
		{ "mismatched rpk", "-", "srv.key", "other.pub", "-", "-", 1, 0, -EINVAL,
		  "does not match the public key", 0 },
		{ "P-521 key", "srv.pem", "p521.key", "-", "ca.pem", "-", 1, 0, -EINVAL,
		  "secp521r1 unsupported", 0 },
		{ "Ed25519 key", "srv.pem", "ed25519.key", "-", "ca.pem", "-", 1, 0, -EINVAL,
		  "ED25519 is not an ECDSA key", 0 },
		{ "encrypted key", "srv.pem", "enc.key", "-", "ca.pem", "-", 1, 0, -EINVAL,
		  "encrypted", 0 },
		{ "garbage cert", "garbage.pem", "srv.key", "-", "ca.pem", "-", 1, 0, -EINVAL,
		  "certificate 1 does not parse", 0 },
		{ "text cert", "text.pem", "srv.key", "-", "ca.pem", "-", 1, 0, -EINVAL,
		  "no PEM certificate", 0 },
		{ "garbage key", "srv.pem", "garbage.pem", "-", "ca.pem", "-", 1, 0, -EINVAL,
		  "no PEM private key", 0 },
		{ "garbage CA", "srv.pem", "srv.key", "-", "garbage.pem", "-", 1, 0, -EINVAL, "ca ",
		  0 },
		{ "garbage CRL", "srv.pem", "srv.key", "-", "ca.pem", "garbage.pem", 1, 0, -EINVAL,
		  "no PEM CRL", 0 },
		{ "forged CRL", "srv.pem", "srv.key", "-", "ca.pem", "ca_forged.crl", 1, 0, -EINVAL,
		  "does not verify by its CA", 0 },
		{ "missing cert", "none.pem", "srv.key", "-", "ca.pem", "-", 1, 0, -ENOENT,
		  "No such file", 0 },
		{ "missing key", "srv.pem", "none.key", "-", "ca.pem", "-", 1, 0, -ENOENT,
		  "none.key: No such file", 0 },
		{ "missing CA", "srv.pem", "srv.key", "-", "none.pem", "-", 1, 0, -ENOENT,
		  "none.pem: No such file", 0 },
		{ "missing CRL", "srv.pem", "srv.key", "-", "ca.pem", "none.crl", 1, 0, -ENOENT,
		  "none.crl", 0 },
		{ "directory", "srv.pem", "srv.key", "-", ".", "-", 1, 0, -EINVAL,
		  "not a regular file", 0 },
		{ "no key", "srv.pem", "-", "-", "ca.pem", "-", 1, 0, -EINVAL, "no key", 0 },
		{ "nothing to present", "-", "srv.key", "-", "ca.pem", "-", 0, 0, -EINVAL,
		  "neither a certificate", 0 },
		{ "rpk_key with rpk off", "srv.pem", "srv.key", "srv.pub", "ca.pem", "-", 0, 0,
		  -EINVAL, "rpk) are off", 0 },
		{ "CRL without CA", "srv.pem", "srv.key", "-", "-", "ca.crl", 1, 0, -EINVAL,
		  "without a ca", 0 },
		{ "nobody to accept", "srv.pem", "srv.key", "-", "-", "-", 0,
		  SG_HS_CLIENT_AUTH_REQUIRE, -EINVAL, "neither a ca bundle", 0 },
		{ "client_auth unknown", "srv.pem", "srv.key", "-", "ca.pem", "-", 1, 9, -EINVAL,
		  "client_auth 9", 0 },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		const struct load_row *r = &rows[i];
		struct sg_hs_certs_conf conf = {
			.cert_file = opt(r->cert),
			.key_file = opt(r->key),
			.rpk_key_file = opt(r->rpk_key),
			.ca_file = opt(r->ca),
			.crl_file = opt(r->crl),
			.rpk = r->rpk,
			.client_auth = r->client_auth,
		};
		char err[256] = "";
		struct sg_hs_certs *c;

		if (r->ca && strcmp(r->ca, ".") == 0)
			conf.ca_file = dir;
		errno = 0;
		c = sg_hs_certs_create(&conf, err, sizeof(err));
		if (r->err == 0) {
			struct sg_hs_certs_info info;
			const struct hs_cert_set *s;
			size_t len;

			if (c == NULL)
				fail_msg("%s: refused: %s", r->name, err);
			sg_hs_certs_info_get(c, &info);
			assert_int_equal(info.curve, r->curve);
			assert_int_equal(info.generation, 1);
			s = sg_hs_certs_acquire(c);
			assert_int_equal(hs_cert_curve(s), r->curve);
			assert_int_equal(hs_cert_has_x509(s), r->cert[0] != '-');
			assert_int_equal(hs_cert_has_rpk(s), r->rpk != 0);
			assert_int_equal(hs_cert_accepts_x509(s), r->ca[0] != '-');
			assert_int_equal(hs_cert_accepts_rpk(s), r->rpk != 0);
			assert_int_equal(hs_cert_client_auth(s), r->client_auth);
			assert_int_equal(hs_cert_scheme(s),
			                 r->curve == SG_TLS_GROUP_SECP384R1
			                         ? SG_TLS_SIGSCHEME_ECDSA_SHA384
			                         : SG_TLS_SIGSCHEME_ECDSA_SHA256);
			if (hs_cert_has_x509(s)) {
				assert_non_null(hs_cert_body(s, false, &len));
				assert_true(len > 3);
				assert_int_equal(strcmp(info.subject, "CN=gateway.test"), 0);
				assert_true(info.not_after >= t0 + 90 * DAY - 1 &&
				            info.not_after <= t0 + 90 * DAY + 1);
			} else {
				assert_null(hs_cert_body(s, false, &len));
				assert_int_equal(len, 0);
				assert_int_equal(info.not_after, 0);
			}
			sg_hs_certs_release(s);
			sg_hs_certs_free(c);
		} else {
			if (c != NULL)
				fail_msg("%s: loaded", r->name);
			if (errno != -r->err)
				fail_msg("%s: errno %d, expected %d (%s)", r->name, errno, -r->err,
				         err);
			if (strstr(err, r->message) == NULL)
				fail_msg("%s: message \"%s\" lacks \"%s\"", r->name, err,
				         r->message);
			print_message("# %-20s %s\n", r->name, err);
		}
	}
	assert_null(sg_hs_certs_create(NULL, NULL, 0));
	assert_int_equal(sg_hs_certs_reload(NULL, NULL, NULL, 0), -EINVAL);
	sg_hs_certs_free(NULL);
}

/* Our Certificate bodies: the chain as written (leaf first), the SPKI of our key. */
static void test_bodies(void **state)
{
	struct sg_hs_certs_conf conf = base_conf();
	struct sg_hs_certs *c = create_ok(&conf);
	const struct hs_cert_set *s = sg_hs_certs_acquire(c);
	uint8_t want[4096], spki[256], *p = spki;
	size_t len, wl = cert_list((X509 *[]){ srv, ca }, 2, want, sizeof(want));
	const uint8_t *b = hs_cert_body(s, false, &len);
	int sl = i2d_PUBKEY(srv_key, &p);

	(void)state;
	assert_int_equal(len, 3 + wl);
	assert_int_equal(sg_load_be24(b), wl);
	assert_memory_equal(b + 3, want, wl);
	b = hs_cert_body(s, true, &len);
	assert_int_equal(len, 3 + (size_t)sl);
	assert_int_equal(sg_load_be24(b), (uint32_t)sl);
	assert_memory_equal(b + 3, spki, (size_t)sl);
	assert_int_equal(hs_cert_client_auth(s), SG_HS_CLIENT_AUTH_REQUIRE);
	assert_int_equal(hs_cert_identity_from(s), SG_HS_CERT_ID_CN);
	assert_false(hs_cert_require_policy(s));
	assert_null(sg_hs_certs_acquire(NULL));
	assert_false(hs_cert_has_x509(NULL));
	assert_false(hs_cert_accepts_rpk(NULL));
	assert_int_equal(hs_cert_client_auth(NULL), SG_HS_CLIENT_AUTH_NONE);
	sg_hs_certs_release(NULL);
	sg_hs_certs_release(s);
	sg_hs_certs_free(c);
	/* The policy knobs come through as configured. */
	conf.client_auth = SG_HS_CLIENT_AUTH_OPTIONAL;
	conf.identity_from = SG_HS_CERT_ID_SAN_URI;
	conf.require_policy = 1;
	c = create_ok(&conf);
	s = sg_hs_certs_acquire(c);
	assert_int_equal(hs_cert_client_auth(s), SG_HS_CLIENT_AUTH_OPTIONAL);
	assert_int_equal(hs_cert_identity_from(s), SG_HS_CERT_ID_SAN_URI);
	assert_true(hs_cert_require_policy(s));
	sg_hs_certs_release(s);
	sg_hs_certs_free(c);
}

/* ---- Wycheproof ------------------------------------------------------------------- */

static void test_wycheproof_ecdsa(void **state)
{
	json_t *root = tc_wycheproof_load("ecdsa_secp256r1_sha256_test.json"), *g, *t;
	unsigned valid = 0, invalid = 0;
	size_t gi, ti;

	(void)state;
	assert_non_null(root);
	json_array_foreach(json_object_get(root, "testGroups"), gi, g)
	{
		json_t *pub = json_object_get(g, "publicKey");
		struct hs_peer_key key = { .curve = SG_TLS_GROUP_SECP256R1 };

		assert_string_equal(json_string_value(json_object_get(pub, "curve")), "secp256r1");
		key.point_len =
		        (uint8_t)tc_unhex(json_string_value(json_object_get(pub, "uncompressed")),
		                          key.point, sizeof(key.point));
		assert_int_equal(key.point_len, 65);
		json_array_foreach(json_object_get(g, "tests"), ti, t)
		{
			const char *result = json_string_value(json_object_get(t, "result"));
			long long id = json_integer_value(json_object_get(t, "tcId"));
			size_t mlen, slen;
			uint8_t *msg =
			        tc_unhex_alloc(json_string_value(json_object_get(t, "msg")), &mlen);
			uint8_t *sig =
			        tc_unhex_alloc(json_string_value(json_object_get(t, "sig")), &slen);
			uint8_t d[SHA256_DIGEST_LENGTH];
			int rc;

			SHA256(msg, mlen, d);
			rc = hs_cert_verify_sig(&key, SG_TLS_SIGSCHEME_ECDSA_SHA256, d, sizeof(d),
			                        sig, slen);
			if (strcmp(result, "valid") == 0) {
				if (rc != 0)
					fail_msg("tcId %lld: valid signature refused (%d)", id, rc);
				valid++;
			} else if (strcmp(result, "invalid") == 0) {
				if (rc != -EBADMSG)
					fail_msg("tcId %lld: invalid signature accepted", id);
				invalid++;
			} /* "acceptable": either answer (none in this file) */
			free(msg);
			free(sig);
		}
	}
	print_message("# ecdsa_secp256r1_sha256: %u valid verified, %u invalid refused\n", valid,
	              invalid);
	assert_int_equal(valid + invalid, 484);
	json_decref(root);
}

/* ---- signing ---------------------------------------------------------------------- */

/* sig by key over digest, as OpenSSL's EVP checks it. */
static bool evp_verifies(EVP_PKEY *key, const uint8_t *d, size_t dl, const uint8_t *sig, size_t sl)
{
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new(key, NULL);
	bool ok =
	        ctx && EVP_PKEY_verify_init(ctx) == 1 && EVP_PKEY_verify(ctx, sig, sl, d, dl) == 1;

	EVP_PKEY_CTX_free(ctx);
	return ok;
}

static void test_sign_table(void **state)
{
	static const struct {
		const char *cert, *key;
		size_t digest_len;
		uint16_t scheme;
		unsigned refill;
	} rows[] = {
		{ "srv.pem", "srv.key", 32, SG_TLS_SIGSCHEME_ECDSA_SHA256, 0 },
		{ "srv.pem", "srv.key", 32, SG_TLS_SIGSCHEME_ECDSA_SHA256, 8 },
		{ "srv.pem", "srv.key", 48, SG_TLS_SIGSCHEME_ECDSA_SHA384, 8 },
		{ "srv384.pem", "srv384.key", 48, SG_TLS_SIGSCHEME_ECDSA_SHA384, 0 },
		{ "srv384.pem", "srv384.key", 48, SG_TLS_SIGSCHEME_ECDSA_SHA384, 8 },
		{ "srv384.pem", "srv384.key", 32, SG_TLS_SIGSCHEME_ECDSA_SHA256, 8 },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct sg_hs_certs_conf conf = base_conf();
		struct sg_hs_certs *c;
		const struct hs_cert_set *s;
		struct sg_hs_certs_info info;
		struct hs_peer_key key;
		uint8_t d[48], sig[2][HS_CERT_SIG_MAX], hash[32];
		size_t sl[2], len;
		const uint8_t *b;
		EVP_PKEY *k = strcmp(rows[i].key, "srv.key") == 0 ? srv_key : srv384_key;
		bool pre;
		unsigned j;

		conf.cert_file = path(rows[i].cert);
		conf.key_file = path(rows[i].key);
		conf.sign_pool = 4;
		c = create_ok(&conf);
		assert_int_equal(sg_hs_certs_refill(c, rows[i].refill), rows[i].refill ? 4 : 0);
		sg_hs_certs_info_get(c, &info);
		assert_int_equal(info.pool_ready, rows[i].refill ? 4 : 0);
		assert_int_equal(info.pool_size, 4);
		s = sg_hs_certs_acquire(c);
		b = hs_cert_body(s, true, &len);
		assert_int_equal(hs_cert_parse_rpk(b + 3, len - 3, &key, hash), 0);
		for (j = 0; j < 6; j++) {
			unsigned n = j % 2;

			memset(d, (int)(j / 2 + 1), sizeof(d));
			assert_int_equal(
			        hs_cert_sign(c, s, d, rows[i].digest_len, sig[n], &sl[n], &pre), 0);
			/* The pool of 4 serves the first four signatures, then it is empty. */
			assert_int_equal(pre, rows[i].refill != 0 && j < 4);
			assert_true(sl[n] <= HS_CERT_SIG_MAX);
			assert_int_equal(hs_cert_verify_sig(&key, rows[i].scheme, d,
			                                    rows[i].digest_len, sig[n], sl[n]),
			                 0);
			assert_true(evp_verifies(k, d, rows[i].digest_len, sig[n], sl[n]));
			d[0] ^= 1;
			assert_int_equal(hs_cert_verify_sig(&key, rows[i].scheme, d,
			                                    rows[i].digest_len, sig[n], sl[n]),
			                 -EBADMSG);
			assert_false(evp_verifies(k, d, rows[i].digest_len, sig[n], sl[n]));
			d[0] ^= 1;
			/* Same digest twice: a fresh nonce each time, so two signatures. */
			if (n == 1)
				assert_false(sl[0] == sl[1] && memcmp(sig[0], sig[1], sl[0]) == 0);
		}
		/* The scheme names the hash: a digest of the other length is refused. */
		assert_int_equal(hs_cert_verify_sig(&key,
		                                    rows[i].digest_len == 32
		                                            ? SG_TLS_SIGSCHEME_ECDSA_SHA384
		                                            : SG_TLS_SIGSCHEME_ECDSA_SHA256,
		                                    d, rows[i].digest_len, sig[1], sl[1]),
		                 -EBADMSG);
		assert_int_equal(
		        hs_cert_verify_sig(&key, 0x0401, d, rows[i].digest_len, sig[1], sl[1]),
		        -EBADMSG);
		assert_int_equal(hs_cert_sign(c, s, d, 20, sig[0], &sl[0], &pre), -EINVAL);
		sg_hs_certs_info_get(c, &info);
		assert_int_equal(info.pool_ready, 0);
		sg_hs_certs_release(s);
		sg_hs_certs_free(c);
	}
}

/* A key record that does not describe a point is refused, whatever the signature. */
static void test_verify_sig_bad_keys(void **state)
{
	struct hs_peer_key good, k;
	uint8_t d[32] = { 7 }, sig[HS_CERT_SIG_MAX];
	size_t sl = 0;
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new(srv_key, NULL);

	(void)state;
	point_of(srv_key, &good);
	sl = sizeof(sig);
	assert_int_equal(EVP_PKEY_sign_init(ctx), 1);
	assert_int_equal(EVP_PKEY_sign(ctx, sig, &sl, d, sizeof(d)), 1);
	EVP_PKEY_CTX_free(ctx);
	assert_int_equal(hs_cert_verify_sig(&good, SG_TLS_SIGSCHEME_ECDSA_SHA256, d, 32, sig, sl),
	                 0);
	k = good;
	k.point[64] ^= 1; /* off the curve */
	assert_int_equal(hs_cert_verify_sig(&k, SG_TLS_SIGSCHEME_ECDSA_SHA256, d, 32, sig, sl),
	                 -EBADMSG);
	k = good;
	k.point[0] = 2; /* compressed tag on 65 bytes */
	assert_int_equal(hs_cert_verify_sig(&k, SG_TLS_SIGSCHEME_ECDSA_SHA256, d, 32, sig, sl),
	                 -EBADMSG);
	k = good;
	k.curve = SG_TLS_GROUP_SECP384R1; /* length of the other curve */
	assert_int_equal(hs_cert_verify_sig(&k, SG_TLS_SIGSCHEME_ECDSA_SHA256, d, 32, sig, sl),
	                 -EBADMSG);
	k = good;
	k.curve = SG_TLS_GROUP_X25519;
	assert_int_equal(hs_cert_verify_sig(&k, SG_TLS_SIGSCHEME_ECDSA_SHA256, d, 32, sig, sl),
	                 -EBADMSG);
	assert_int_equal(hs_cert_verify_sig(NULL, SG_TLS_SIGSCHEME_ECDSA_SHA256, d, 32, sig, sl),
	                 -EBADMSG);
	assert_int_equal(hs_cert_verify_sig(&good, SG_TLS_SIGSCHEME_ECDSA_SHA256, d, 32, sig, 0),
	                 -EBADMSG);
	assert_int_equal(hs_cert_verify_sig(&good, SG_TLS_SIGSCHEME_ECDSA_SHA256, d, 32, sig,
	                                    HS_CERT_SIG_MAX + 1),
	                 -EBADMSG);
}

/* ---- client chains ---------------------------------------------------------------- */

enum issuer { BY_CA, BY_CA2, BY_INTER, BY_SELF };
enum keytype { K_P256, K_P384, K_P521, K_ED25519 };

/* A client certificate (serial 300 + the row's index unless set) and how it is checked. */
struct chain_row {
	const char *name;
	const char *cn, *san_uri, *eku; /* NULL: none */
	long nb, na;                    /* validity, seconds from t0 */
	long serial;                    /* 0: 300 + index */
	enum keytype key;
	enum issuer issuer;
	bool send_inter; /* the intermediate after the leaf */
	bool ca;         /* CA:TRUE, keyUsage keyCertSign and cRLSign only */
	uint8_t identity_from;
	long now; /* seconds from t0 */
	int want; /* 0 or the counter */
	const char *identity;
	const char *cn2; /* a second commonName */
};

#define LONG_128                                                                                   \
	"urn:dev:0123456789012345678901234567890123456789012345678901234567890123456789"           \
	"01234567890123456789012345678901234567890123456789"
#define LONG_129 LONG_128 "x"
#define CN       SG_HS_CERT_ID_CN
#define SAN      SG_HS_CERT_ID_SAN_URI
#define D30      (30 * DAY)

static const struct chain_row chain_rows[] = {
	{ "good CN", "device-1", NULL, NULL, 0, D30, 0, K_P256, BY_CA, false, false, CN, 0, 0,
	  "device-1" },
	{ "good SAN URI", "device-2", "urn:imei:490154203237518", NULL, 0, D30, 0, K_P256, BY_CA,
	  false, false, SAN, 0, 0, "urn:imei:490154203237518" },
	{ "CN when a SAN URI exists", "device-3", "urn:dev:3", NULL, 0, D30, 0, K_P256, BY_CA,
	  false, false, CN, 0, 0, "device-3" },
	{ "P-384 client", "device-384", NULL, NULL, 0, D30, 0, K_P384, BY_CA, false, false, CN, 0,
	  0, "device-384" },
	{ "via intermediate", "device-i", NULL, NULL, 0, D30, 0, K_P256, BY_INTER, true, false, CN,
	  0, 0, "device-i" },
	{ "clientAuth EKU", "device-eku", NULL, "clientAuth", 0, D30, 0, K_P256, BY_CA, false,
	  false, CN, 0, 0, "device-eku" },
	{ "identity of 128 bytes", "d", LONG_128, NULL, 0, D30, 0, K_P256, BY_CA, false, false, SAN,
	  0, 0, LONG_128 },
	{ "expired", "old", NULL, NULL, -D30, -DAY, 0, K_P256, BY_CA, false, false, CN, 0,
	  SG_HS_C_FAIL_CERT_EXPIRED, NULL },
	{ "expired at now", "soon", NULL, NULL, 0, 10 * DAY, 0, K_P256, BY_CA, false, false, CN,
	  11 * DAY, SG_HS_C_FAIL_CERT_EXPIRED, NULL },
	{ "not yet valid", "young", NULL, NULL, DAY, D30, 0, K_P256, BY_CA, false, false, CN, 0,
	  SG_HS_C_FAIL_CERT_EXPIRED, NULL },
	{ "revoked", "stolen", NULL, NULL, 0, D30, 66, K_P256, BY_CA, false, false, CN, 0,
	  SG_HS_C_FAIL_CERT_REVOKED, NULL },
	{ "wrong CA", "stranger", NULL, NULL, 0, D30, 0, K_P256, BY_CA2, false, false, CN, 0,
	  SG_HS_C_FAIL_UNKNOWN_CA, NULL },
	{ "self-signed leaf", "selfie", NULL, NULL, 0, D30, 0, K_P256, BY_SELF, false, false, CN, 0,
	  SG_HS_C_FAIL_UNKNOWN_CA, NULL },
	{ "intermediate not sent", "orphan", NULL, NULL, 0, D30, 0, K_P256, BY_INTER, false, false,
	  CN, 0, SG_HS_C_FAIL_UNKNOWN_CA, NULL },
	{ "Ed25519 key", "edwards", NULL, NULL, 0, D30, 0, K_ED25519, BY_CA, false, false, CN, 0,
	  SG_HS_C_FAIL_BAD_CERT, NULL },
	{ "P-521 key", "big", NULL, NULL, 0, D30, 0, K_P521, BY_CA, false, false, CN, 0,
	  SG_HS_C_FAIL_UNSUPPORTED_CERT, NULL },
	{ "serverAuth EKU only", "server", NULL, "serverAuth", 0, D30, 0, K_P256, BY_CA, false,
	  false, CN, 0, SG_HS_C_FAIL_BAD_CERT, NULL },
	{ "keyUsage without digitalSignature", "ca-ish", NULL, NULL, 0, D30, 0, K_P256, BY_CA,
	  false, true, CN, 0, SG_HS_C_FAIL_BAD_CERT, NULL },
	{ "no CN", NULL, NULL, NULL, 0, D30, 0, K_P256, BY_CA, false, false, CN, 0,
	  SG_HS_C_FAIL_BAD_CERT, NULL },
	{ "two CNs", "a", NULL, NULL, 0, D30, 0, K_P256, BY_CA, false, false, CN, 0,
	  SG_HS_C_FAIL_BAD_CERT, NULL, "b" },
	{ "no SAN URI", "device-4", NULL, NULL, 0, D30, 0, K_P256, BY_CA, false, false, SAN, 0,
	  SG_HS_C_FAIL_BAD_CERT, NULL },
	{ "CN of 129 bytes", LONG_129, NULL, NULL, 0, D30, 0, K_P256, BY_CA, false, false, CN, 0,
	  SG_HS_C_FAIL_BAD_CERT, NULL },
	{ "CN with a newline", "dev\nice", NULL, NULL, 0, D30, 0, K_P256, BY_CA, false, false, CN,
	  0, SG_HS_C_FAIL_BAD_CERT, NULL },
	{ "CN with a DEL",
	  "dev\x7f"
	  "ice",
	  NULL, NULL, 0, D30, 0, K_P256, BY_CA, false, false, CN, 0, SG_HS_C_FAIL_BAD_CERT, NULL },
	{ "UTF-8 CN", "capteur-\xc3\xa9t\xc3\xa9", NULL, NULL, 0, D30, 0, K_P256, BY_CA, false,
	  false, CN, 0, 0, "capteur-\xc3\xa9t\xc3\xa9" },
	{ "SAN URI of 129 bytes", "d", LONG_129, NULL, 0, D30, 0, K_P256, BY_CA, false, false, SAN,
	  0, SG_HS_C_FAIL_BAD_CERT, NULL },
};

static EVP_PKEY *key_of(enum keytype t)
{
	switch (t) {
	case K_P384:
		return keygen("EC", "P-384");
	case K_P521:
		return keygen("EC", "P-521");
	case K_ED25519:
		return keygen("ED25519", NULL);
	default:
		return keygen("EC", "P-256");
	}
}

/* The row's client certificate and its certificate_list; the key back in *k. */
static size_t row_list(const struct chain_row *r, uint8_t *out, size_t cap, EVP_PKEY **k)
{
	struct cspec spec = {
		.cn = r->cn,
		.san_uri = r->san_uri,
		.eku = r->eku,
		.nb = r->nb,
		.na = r->na,
		.serial = r->serial ? r->serial : 300 + (r - chain_rows),
		.ca = r->ca,
		.cn2 = r->cn2,
	};
	X509 *leaf, *xs[2];
	size_t n;

	*k = key_of(r->key);
	switch (r->issuer) {
	case BY_CA2:
		leaf = mk_cert(&spec, *k, ca2, ca2_key);
		break;
	case BY_INTER:
		leaf = mk_cert(&spec, *k, inter, inter_key);
		break;
	case BY_SELF:
		leaf = mk_cert(&spec, *k, NULL, *k);
		break;
	default:
		leaf = mk_cert(&spec, *k, ca, ca_key);
	}
	xs[0] = leaf;
	xs[1] = inter;
	n = cert_list(xs, r->send_inter ? 2 : 1, out, cap);
	X509_free(leaf);
	return n;
}

static void test_chain_table(void **state)
{
	struct sg_hs_certs_conf conf = base_conf();
	struct sg_hs_certs *c[2];
	const struct hs_cert_set *s[2];
	size_t i;

	(void)state;
	c[SG_HS_CERT_ID_CN] = create_ok(&conf);
	conf.identity_from = SG_HS_CERT_ID_SAN_URI;
	c[SG_HS_CERT_ID_SAN_URI] = create_ok(&conf);
	for (i = 0; i < 2; i++)
		s[i] = sg_hs_certs_acquire(c[i]);
	for (i = 0; i < sizeof(chain_rows) / sizeof(chain_rows[0]); i++) {
		const struct chain_row *r = &chain_rows[i];
		uint8_t list[8192], id[SG_TLS_PSK_IDENTITY_MAX];
		struct hs_peer_key key, want;
		uint16_t idl;
		EVP_PKEY *k;
		size_t len = row_list(r, list, sizeof(list), &k);
		unsigned pass;

		/* Twice: the second time from the cache when the first verified. */
		for (pass = 0; pass < 2; pass++) {
			int rc;

			memset(&key, 0, sizeof(key));
			idl = 0;
			rc = hs_cert_verify_x509(c[r->identity_from], s[r->identity_from], list,
			                         len, t0 + r->now, &key, id, &idl);
			if (rc != r->want)
				fail_msg("%s (pass %u): %d, expected %d", r->name, pass, rc,
				         r->want);
			if (rc != 0)
				continue;
			point_of(k, &want);
			assert_int_equal(key.curve, want.curve);
			assert_int_equal(key.point_len, want.point_len);
			assert_memory_equal(key.point, want.point, want.point_len);
			if (idl != strlen(r->identity) || memcmp(id, r->identity, idl) != 0)
				fail_msg("%s: identity \"%.*s\"", r->name, (int)idl, id);
		}
		EVP_PKEY_free(k);
	}
	for (i = 0; i < 2; i++) {
		sg_hs_certs_release(s[i]);
		sg_hs_certs_free(c[i]);
	}
}

/* certificate_list framing and DER that OpenSSL would not take. */
static void test_chain_malformed(void **state)
{
	struct sg_hs_certs_conf conf = base_conf();
	struct sg_hs_certs *c = create_ok(&conf);
	const struct hs_cert_set *s = sg_hs_certs_acquire(c);
	uint8_t good[4096], bad[4096 + 64], id[SG_TLS_PSK_IDENTITY_MAX];
	struct hs_peer_key key;
	uint16_t idl;
	EVP_PKEY *k;
	size_t len = row_list(&chain_rows[0], good, sizeof(good), &k), i;
	/* Each row's bytes are made by the case of its index below. */
	static const struct {
		const char *name;
		size_t len;
	} rows[] = {
		{ "empty", 0 },
		{ "two bytes", 2 },
		{ "length past the end", 0 },
		{ "zero-length certificate", 3 },
		{ "truncated DER", 0 },
		{ "trailing byte inside", 0 },
		{ "garbage DER", 0 },
		{ "eleven certificates", 0 },
	};

	(void)state;
	EVP_PKEY_free(k);
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		size_t l = rows[i].len, j;

		memset(bad, 0, sizeof(bad));
		switch (i) {
		case 2: /* the length says one byte more than there is */
			memcpy(bad, good, len);
			sg_store_be24(bad, (uint32_t)(len - 3 + 1));
			l = len;
			break;
		case 4: /* the outer length matches, the DER is cut short */
			memcpy(bad, good, len - 10);
			sg_store_be24(bad, (uint32_t)(len - 13));
			l = len - 10;
			break;
		case 5: /* a byte after the DER within the certificate's length */
			memcpy(bad, good, len);
			sg_store_be24(bad, (uint32_t)(len - 3 + 1));
			l = len + 1;
			break;
		case 6:
			memcpy(bad, good, len);
			for (j = 3; j < len; j += 7)
				bad[j] ^= 0x5a;
			l = len;
			break;
		case 7: /* more certificates than a chain may have */
			for (j = 0; j < 11; j++) {
				sg_store_be24(bad + j * 4, 1);
				bad[j * 4 + 3] = 0x30;
			}
			l = 44;
			break;
		}
		if (hs_cert_verify_x509(c, s, bad, l, t0, &key, id, &idl) != SG_HS_C_FAIL_BAD_CERT)
			fail_msg("%s: not refused as bad_certificate", rows[i].name);
	}
	assert_int_equal(hs_cert_verify_x509(c, s, NULL, 10, t0, &key, id, &idl),
	                 SG_HS_C_FAIL_BAD_CERT);
	assert_int_equal(hs_cert_verify_x509(c, s, good, len, t0, &key, id, &idl), 0);
	sg_hs_certs_release(s);
	sg_hs_certs_free(c);
	/* No CA bundle: a client's X.509 certificate is not ours to take. */
	conf.ca_file = NULL;
	conf.crl_file = NULL;
	c = create_ok(&conf);
	s = sg_hs_certs_acquire(c);
	assert_false(hs_cert_accepts_x509(s));
	assert_int_equal(hs_cert_verify_x509(c, s, good, len, t0, &key, id, &idl),
	                 SG_HS_C_FAIL_UNSUPPORTED_CERT);
	sg_hs_certs_release(s);
	sg_hs_certs_free(c);
}

/* An intermediate on its issuer's CRL: its clients are refused (CRL_CHECK_ALL). */
static void test_chain_revoked_intermediate(void **state)
{
	const struct cspec bad_inter_spec = {
		.cn = "Revoked Intermediate", .nb = -DAY, .na = 100 * DAY, .serial = 67, .ca = true
	};
	const struct cspec leaf_spec = { .cn = "device-r", .na = 30 * DAY, .serial = 140 };
	const struct cspec leaf77 = { .cn = "device-77", .na = 30 * DAY, .serial = 77 };
	struct sg_hs_certs_conf conf = base_conf();
	struct sg_hs_certs *c;
	const struct hs_cert_set *s;
	EVP_PKEY *ik = keygen("EC", "P-256"), *lk = keygen("EC", "P-256");
	X509 *bi = mk_cert(&bad_inter_spec, ik, ca, ca_key),
	     *leaf = mk_cert(&leaf_spec, lk, bi, ik);
	X509 *l77 = mk_cert(&leaf77, lk, inter, inter_key), *l77ok;
	uint8_t list[8192], id[SG_TLS_PSK_IDENTITY_MAX];
	struct hs_peer_key key;
	uint16_t idl;
	size_t len;

	(void)state;
	conf.crl_file = path("both.crl");
	c = create_ok(&conf);
	s = sg_hs_certs_acquire(c);
	len = cert_list((X509 *[]){ leaf, bi }, 2, list, sizeof(list));
	assert_int_equal(hs_cert_verify_x509(c, s, list, len, t0, &key, id, &idl),
	                 SG_HS_C_FAIL_CERT_REVOKED);
	/* Serial 77 of the intermediate's CRL, and 77 of the root's (not revoked there). */
	len = cert_list((X509 *[]){ l77, inter }, 2, list, sizeof(list));
	assert_int_equal(hs_cert_verify_x509(c, s, list, len, t0, &key, id, &idl),
	                 SG_HS_C_FAIL_CERT_REVOKED);
	l77ok = mk_cert(&leaf77, lk, ca, ca_key);
	len = cert_list(&l77ok, 1, list, sizeof(list));
	assert_int_equal(hs_cert_verify_x509(c, s, list, len, t0, &key, id, &idl), 0);
	sg_hs_certs_release(s);
	sg_hs_certs_free(c);
	X509_free(bi);
	X509_free(leaf);
	X509_free(l77);
	X509_free(l77ok);
	EVP_PKEY_free(ik);
	EVP_PKEY_free(lk);
}

/* ---- the verified-chain cache ----------------------------------------------------- */

static void info(struct sg_hs_certs *c, struct sg_hs_certs_info *i)
{
	sg_hs_certs_info_get(c, i);
}

static void test_cache(void **state)
{
	const struct cspec spec = { .cn = "cached", .na = 20 * DAY, .serial = 150 };
	struct sg_hs_certs_conf conf = base_conf();
	struct sg_hs_certs *c;
	const struct hs_cert_set *s, *old;
	struct sg_hs_certs_info in;
	uint8_t list[4096], id[SG_TLS_PSK_IDENTITY_MAX];
	struct hs_peer_key key;
	uint16_t idl;
	EVP_PKEY *k = keygen("EC", "P-256");
	X509 *x = mk_cert(&spec, k, ca, ca_key);
	size_t len = cert_list(&x, 1, list, sizeof(list)), i;
	long serials[] = { 66, 67, 150 };

	(void)state;
	c = create_ok(&conf);
	s = sg_hs_certs_acquire(c);
	/* miss, then hits */
	assert_int_equal(hs_cert_verify_x509(c, s, list, len, t0, &key, id, &idl), 0);
	info(c, &in);
	assert_int_equal(in.cache_misses, 1);
	assert_int_equal(in.cache_hits, 0);
	assert_int_equal(in.cache_entries, 1);
	for (i = 0; i < 3; i++)
		assert_int_equal(
		        hs_cert_verify_x509(c, s, list, len, t0 + (long)i * DAY, &key, id, &idl),
		        0);
	info(c, &in);
	assert_int_equal(in.cache_hits, 3);
	assert_int_equal(in.cache_misses, 1);
	assert_int_equal(idl, 6);
	assert_memory_equal(id, "cached", 6);
	/* Before the chain's validity: the entry goes, the full check says why. */
	assert_int_equal(hs_cert_verify_x509(c, s, list, len, t0 - DAY / 2, &key, id, &idl),
	                 SG_HS_C_FAIL_CERT_EXPIRED);
	info(c, &in);
	assert_int_equal(in.cache_entries, 0);
	assert_int_equal(in.cache_misses, 2);
	/* Expiry on a hit: at the leaf's notAfter the entry is gone and the chain expired. */
	assert_int_equal(hs_cert_verify_x509(c, s, list, len, t0, &key, id, &idl), 0);
	assert_int_equal(hs_cert_verify_x509(c, s, list, len, t0 + 20 * DAY - 1, &key, id, &idl),
	                 0);
	assert_int_equal(hs_cert_verify_x509(c, s, list, len, t0 + 20 * DAY, &key, id, &idl),
	                 SG_HS_C_FAIL_CERT_EXPIRED);
	info(c, &in);
	assert_int_equal(in.cache_entries, 0);
	assert_int_equal(in.cache_hits, 4);
	/* Cached again, then its serial lands on the CRL: after the reload, revoked. */
	assert_int_equal(hs_cert_verify_x509(c, s, list, len, t0, &key, id, &idl), 0);
	write_crl("cache.crl", mk_crl(ca, ca_key, serials, 3, 30 * DAY));
	conf.crl_file = path("cache.crl");
	assert_int_equal(sg_hs_certs_reload(c, &conf, NULL, 0), 0);
	old = s;
	s = sg_hs_certs_acquire(c);
	info(c, &in);
	assert_int_equal(in.generation, 2);
	assert_int_equal(in.cache_entries, 0);
	assert_int_equal(hs_cert_verify_x509(c, s, list, len, t0, &key, id, &idl),
	                 SG_HS_C_FAIL_CERT_REVOKED);
	/* A handshake that started before the reload finishes under its set. */
	assert_int_equal(hs_cert_verify_x509(c, old, list, len, t0, &key, id, &idl), 0);
	sg_hs_certs_release(old);
	sg_hs_certs_release(s);
	sg_hs_certs_free(c);
	/* A CRL's nextUpdate bounds an entry as a certificate's notAfter does. */
	conf.crl_file = path("ca_stale.crl");
	c = create_ok(&conf);
	s = sg_hs_certs_acquire(c);
	assert_int_equal(hs_cert_verify_x509(c, s, list, len, t0, &key, id, &idl), 0);
	assert_int_equal(hs_cert_verify_x509(c, s, list, len, t0 + DAY, &key, id, &idl), 0);
	info(c, &in);
	assert_int_equal(in.cache_hits, 1);
	assert_int_not_equal(hs_cert_verify_x509(c, s, list, len, t0 + 3 * DAY, &key, id, &idl), 0);
	info(c, &in);
	assert_int_equal(in.cache_hits, 1);
	sg_hs_certs_release(s);
	sg_hs_certs_free(c);
	X509_free(x);
	EVP_PKEY_free(k);
}

/* At most verify_cache entries; the most recently used stay. */
static void test_cache_capacity(void **state)
{
	struct sg_hs_certs_conf conf = base_conf();
	struct sg_hs_certs *c;
	const struct hs_cert_set *s;
	struct sg_hs_certs_info in;
	uint8_t list[16][4096], id[SG_TLS_PSK_IDENTITY_MAX];
	size_t len[16], i;
	struct hs_peer_key key;
	uint16_t idl;
	EVP_PKEY *k = keygen("EC", "P-256");

	(void)state;
	conf.verify_cache = 4;
	c = create_ok(&conf);
	s = sg_hs_certs_acquire(c);
	for (i = 0; i < 16; i++) {
		struct cspec spec = { .cn = "many", .na = 10 * DAY, .serial = 200 + (long)i };
		X509 *x = mk_cert(&spec, k, ca, ca_key);

		len[i] = cert_list(&x, 1, list[i], sizeof(list[i]));
		X509_free(x);
		assert_int_equal(hs_cert_verify_x509(c, s, list[i], len[i], t0, &key, id, &idl), 0);
		info(c, &in);
		assert_true(in.cache_entries <= 4);
		assert_int_equal(in.cache_entries, i + 1 < 4 ? i + 1 : 4);
	}
	/* The last one is there; 16 went in, 4 stayed. */
	assert_int_equal(hs_cert_verify_x509(c, s, list[15], len[15], t0, &key, id, &idl), 0);
	info(c, &in);
	assert_int_equal(in.cache_hits, 1);
	assert_int_equal(in.cache_misses, 16);
	sg_hs_certs_release(s);
	sg_hs_certs_free(c);
	EVP_PKEY_free(k);
}

/* ---- raw public keys -------------------------------------------------------------- */

static size_t spki_of(EVP_PKEY *k, const char *format, uint8_t *out)
{
	uint8_t *p = out;

	if (format != NULL)
		assert_int_equal(EVP_PKEY_set_utf8_string_param(k, "point-format", format), 1);
	return (size_t)i2d_PUBKEY(k, &p);
}

static void test_rpk(void **state)
{
	static const struct {
		const char *name;
		const char *type, *curve, *format;
		int edit; /* 0 none, 1 trailing byte, 2 cut, 3 flip a point byte, 4 empty */
		int want;
	} rows[] = {
		{ "P-256", "EC", "P-256", NULL, 0, 0 },
		{ "P-384", "EC", "P-384", NULL, 0, 0 },
		{ "P-256 compressed point", "EC", "P-256", "compressed", 0, 0 },
		{ "P-521", "EC", "P-521", NULL, 0, SG_HS_C_FAIL_UNSUPPORTED_CERT },
		{ "Ed25519", "ED25519", NULL, NULL, 0, SG_HS_C_FAIL_BAD_CERT },
		{ "X25519", "X25519", NULL, NULL, 0, SG_HS_C_FAIL_BAD_CERT },
		{ "trailing byte", "EC", "P-256", NULL, 1, SG_HS_C_FAIL_BAD_CERT },
		{ "cut short", "EC", "P-256", NULL, 2, SG_HS_C_FAIL_BAD_CERT },
		{ "point off the curve", "EC", "P-256", NULL, 3, SG_HS_C_FAIL_BAD_CERT },
		{ "empty", "EC", "P-256", NULL, 4, SG_HS_C_FAIL_BAD_CERT },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		EVP_PKEY *k = keygen(rows[i].type, rows[i].curve);
		uint8_t spki[256], hash[32], want_hash[32];
		struct hs_peer_key key, want;
		size_t l = spki_of(k, rows[i].format, spki);
		int rc;

		switch (rows[i].edit) {
		case 1:
			spki[l++] = 0;
			break;
		case 2:
			l -= 5;
			break;
		case 3:
			spki[l - 1] ^= 1;
			break;
		case 4:
			l = 0;
			break;
		}
		memset(&key, 0, sizeof(key));
		rc = hs_cert_parse_rpk(spki, l, &key, hash);
		if (rc != rows[i].want)
			fail_msg("%s: %d, expected %d", rows[i].name, rc, rows[i].want);
		if (rc == 0) {
			SHA256(spki, l, want_hash);
			assert_memory_equal(hash, want_hash, 32);
			point_of(k, &want);
			assert_int_equal(key.curve, want.curve);
			assert_int_equal(key.point_len, want.point_len);
			assert_memory_equal(key.point, want.point, want.point_len);
		}
		EVP_PKEY_free(k);
	}
	assert_int_equal(hs_cert_parse_rpk(NULL, 10, NULL, NULL), SG_HS_C_FAIL_BAD_CERT);
}

/*
 * The two ways a raw public key is read: the canonical RFC 5480 form
 * (uncompressed point: header compared, point checked on the curve) and
 * anything else through OpenSSL's decoder (here: the same keys with a
 * compressed point). Both give the same point, for 32 keys of each curve.
 */
static void test_rpk_paths_agree(void **state)
{
	static const char *const curves[] = { "P-256", "P-384" };
	unsigned i, j;

	(void)state;
	for (i = 0; i < 2; i++) {
		for (j = 0; j < 32; j++) {
			EVP_PKEY *k = keygen("EC", curves[i]);
			uint8_t a[256], b[256], ha[32], hb[32];
			size_t al = spki_of(k, "uncompressed", a), bl = spki_of(k, "compressed", b);
			struct hs_peer_key ka, kb;

			assert_true(bl < al);
			assert_int_equal(hs_cert_parse_rpk(a, al, &ka, ha), 0);
			assert_int_equal(hs_cert_parse_rpk(b, bl, &kb, hb), 0);
			assert_int_equal(ka.curve, kb.curve);
			assert_int_equal(ka.point_len, i ? 97 : 65);
			assert_int_equal(ka.point_len, kb.point_len);
			assert_memory_equal(ka.point, kb.point, ka.point_len);
			/* the hash is of the bytes sent: two encodings, two store keys */
			assert_memory_not_equal(ha, hb, 32);
			EVP_PKEY_free(k);
		}
	}
}

/* ---- mutated input ---------------------------------------------------------------- */

static uint32_t xorshift(uint32_t *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 17;
	*x ^= *x << 5;
	return *x;
}

/* 1 to 4 random bytes of b replaced, or its length cut (xorshift, reproducible). */
static size_t mutate(uint8_t *b, size_t len, uint32_t *seed)
{
	unsigned k, n = 1 + xorshift(seed) % 4;

	if (xorshift(seed) % 8 == 0)
		return xorshift(seed) % len;
	for (k = 0; k < n; k++)
		b[xorshift(seed) % len] = (uint8_t)xorshift(seed);
	return len;
}

/*
 * Bounded robustness: 2000 mutations of a good chain (leaf + intermediate)
 * and 2000 of a raw public key each end in a verdict, never a crash or a
 * leak (the sanitizer build runs this too); a mutated raw public key is
 * taken exactly when OpenSSL's own decoder takes it as a P-256 / P-384 key
 * with the same point.
 */
static void test_mutations(void **state)
{
	const struct chain_row *row = &chain_rows[4]; /* via intermediate */
	struct sg_hs_certs_conf conf = base_conf();
	struct sg_hs_certs *c = create_ok(&conf);
	const struct hs_cert_set *s = sg_hs_certs_acquire(c);
	uint8_t good[8192], b[8192], id[SG_TLS_PSK_IDENTITY_MAX], spki[128], hash[32];
	EVP_PKEY *k, *rk = keygen("EC", "P-256");
	size_t len = row_list(row, good, sizeof(good), &k), sl = spki_of(rk, NULL, spki), l;
	unsigned i, verdicts[4] = { 0 }, taken = 0;
	uint32_t seed = 0x5347c3a7;
	struct hs_peer_key key, ref;
	uint16_t idl;

	(void)state;
	assert_string_equal(row->name, "via intermediate");
	for (i = 0; i < 2000; i++) {
		int rc;

		memcpy(b, good, len);
		l = mutate(b, len, &seed);
		rc = hs_cert_verify_x509(c, s, b, l, t0, &key, id, &idl);
		if (rc != 0 && rc != SG_HS_C_FAIL_BAD_CERT && rc != SG_HS_C_FAIL_UNKNOWN_CA &&
		    rc != SG_HS_C_FAIL_CERT_EXPIRED && rc != SG_HS_C_FAIL_CERT_REVOKED &&
		    rc != SG_HS_C_FAIL_UNSUPPORTED_CERT)
			fail_msg("mutation %u: %d", i, rc);
		verdicts[rc == 0                         ? 0
		         : rc == SG_HS_C_FAIL_BAD_CERT   ? 1
		         : rc == SG_HS_C_FAIL_UNKNOWN_CA ? 2
		                                         : 3]++;
	}
	for (i = 0; i < 2000; i++) {
		const uint8_t *p = b;
		EVP_PKEY *pk;
		bool want;
		int rc;

		memcpy(b, spki, sl);
		l = mutate(b, sl, &seed);
		rc = hs_cert_parse_rpk(b, l, &key, hash);
		pk = l ? d2i_PUBKEY(NULL, &p, (long)l) : NULL;
		want = pk != NULL && p == b + l && EVP_PKEY_is_a(pk, "EC") &&
		       (EVP_PKEY_get_bits(pk) == 256 || EVP_PKEY_get_bits(pk) == 384);
		if (want) {
			point_of(pk, &ref);
			want = ref.point_len == 65 || ref.point_len == 97;
		}
		if ((rc == 0) != want)
			fail_msg("rpk mutation %u: ours %d, OpenSSL %s", i, rc,
			         want ? "takes it" : "not");
		if (rc == 0) {
			assert_int_equal(key.point_len, ref.point_len);
			assert_memory_equal(key.point, ref.point, ref.point_len);
			taken++;
		}
		EVP_PKEY_free(pk);
		ERR_clear_error();
	}
	print_message("# chains: %u verified, %u bad_certificate, %u unknown_ca, %u other; "
	              "raw public keys: %u of 2000 taken, as OpenSSL\n",
	              verdicts[0], verdicts[1], verdicts[2], verdicts[3], taken);
	EVP_PKEY_free(k);
	EVP_PKEY_free(rk);
	sg_hs_certs_release(s);
	sg_hs_certs_free(c);
}

/* ---- reload ----------------------------------------------------------------------- */

static void test_reload(void **state)
{
	struct sg_hs_certs_conf conf = base_conf();
	struct sg_hs_certs *c = create_ok(&conf);
	const struct hs_cert_set *a = sg_hs_certs_acquire(c), *b;
	struct sg_hs_certs_info in;
	uint8_t a_body[4096], d[48] = { 3 }, sig[HS_CERT_SIG_MAX], hash[32];
	size_t a_len, len, sl;
	const uint8_t *p = hs_cert_body(a, false, &a_len);
	struct hs_peer_key key;
	char err[256];
	bool pre;

	(void)state;
	memcpy(a_body, p, a_len);
	assert_int_equal(sg_hs_certs_refill(c, 3), 3);
	/* Reload to the P-384 certificate; a failed reload changes nothing. */
	conf.cert_file = path("srv384.pem");
	conf.key_file = path("srv.key");
	assert_int_equal(sg_hs_certs_reload(c, &conf, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "does not match"));
	conf.key_file = path("missing.key");
	assert_int_equal(sg_hs_certs_reload(c, &conf, err, sizeof(err)), -ENOENT);
	info(c, &in);
	assert_int_equal(in.generation, 1);
	assert_int_equal(in.curve, SG_TLS_GROUP_SECP256R1);
	assert_int_equal(in.pool_ready, 3);
	conf.key_file = path("srv384.key");
	assert_int_equal(sg_hs_certs_reload(c, &conf, err, sizeof(err)), 0);
	info(c, &in);
	assert_int_equal(in.generation, 2);
	assert_int_equal(in.curve, SG_TLS_GROUP_SECP384R1);
	assert_int_equal(in.pool_ready, 0); /* the new key's pool starts empty */
	b = sg_hs_certs_acquire(c);
	assert_int_equal(hs_cert_curve(b), SG_TLS_GROUP_SECP384R1);
	/* The old set, held, is intact: its body, its key, its pool. */
	p = hs_cert_body(a, false, &len);
	assert_int_equal(len, a_len);
	assert_memory_equal(p, a_body, a_len);
	assert_int_equal(hs_cert_sign(c, a, d, 32, sig, &sl, &pre), 0);
	assert_true(pre);
	assert_true(evp_verifies(srv_key, d, 32, sig, sl));
	assert_int_equal(hs_cert_sign(c, b, d, 48, sig, &sl, &pre), 0);
	assert_false(pre);
	assert_true(evp_verifies(srv384_key, d, 48, sig, sl));
	p = hs_cert_body(b, true, &len);
	assert_int_equal(hs_cert_parse_rpk(p + 3, len - 3, &key, hash), 0);
	assert_int_equal(hs_cert_verify_sig(&key, SG_TLS_SIGSCHEME_ECDSA_SHA384, d, 48, sig, sl),
	                 0);
	/* The last holder of the old set frees it (ASan: nothing leaks, nothing used after). */
	sg_hs_certs_release(a);
	assert_int_equal(sg_hs_certs_refill(c, 2), 2);
	info(c, &in);
	assert_int_equal(in.pool_ready, 2);
	sg_hs_certs_release(b);
	sg_hs_certs_free(c);
}

/* ---- the pool under threads ------------------------------------------------------- */

#define SIGNERS    4
#define SIGNATURES 150

struct signer {
	pthread_t thread;
	struct sg_hs_certs *c;
	unsigned id;
	unsigned precomputed;
	int failures;
	uint8_t sig[SIGNATURES][HS_CERT_SIG_MAX];
	size_t sig_len[SIGNATURES];
	uint16_t curve[SIGNATURES];
};

static atomic_uint signers_done;

static uint8_t digest_of(unsigned signer, unsigned i)
{
	return (uint8_t)(signer * 31 + i);
}

static void *signer_main(void *arg)
{
	struct signer *w = arg;
	unsigned i;

	for (i = 0; i < SIGNATURES; i++) {
		const struct hs_cert_set *s = sg_hs_certs_acquire(w->c);
		uint8_t d[32];
		bool pre;

		memset(d, digest_of(w->id, i), sizeof(d));
		if (hs_cert_sign(w->c, s, d, sizeof(d), w->sig[i], &w->sig_len[i], &pre) != 0)
			w->failures++;
		w->precomputed += pre;
		w->curve[i] = hs_cert_curve(s);
		sg_hs_certs_release(s);
	}
	atomic_fetch_add(&signers_done, 1);
	return NULL;
}

static int cmp_r(const void *a, const void *b)
{
	return BN_cmp(*(BIGNUM *const *)a, *(BIGNUM *const *)b);
}

/*
 * Four signers while the test thread (the owner) refills the pool and
 * reloads between the P-256 and P-384 keys: every signature verifies by the
 * key of the set it used, some used precomputed nonces, and no two share r
 * (a nonce used twice would give the key away).
 */
static void test_pool_threads(void **state)
{
	struct sg_hs_certs_conf conf = base_conf(), base = conf;
	const char *cert384 = path("srv384.pem"), *key384 = path("srv384.key");
	static struct signer w[SIGNERS];
	BIGNUM *rs[SIGNERS * SIGNATURES];
	unsigned i, j, n = 0, pre = 0, refills = 0, rounds = 0;
	struct hs_peer_key k256, k384;
	bool running = true;

	(void)state;
	conf.sign_pool = 16;
	point_of(srv_key, &k256);
	point_of(srv384_key, &k384);
	w[0].c = create_ok(&conf);
	for (i = 0; i < SIGNERS; i++) {
		w[i].c = w[0].c;
		w[i].id = i;
		w[i].precomputed = 0;
		w[i].failures = 0;
	}
	atomic_store(&signers_done, 0);
	sg_hs_certs_refill(w[0].c, 16);
	for (i = 0; i < SIGNERS; i++)
		assert_int_equal(pthread_create(&w[i].thread, NULL, signer_main, &w[i]), 0);
	while (running) {
		struct sg_hs_certs_info in;

		refills += sg_hs_certs_refill(w[0].c, 4);
		if (++rounds % 25 == 0) {
			conf.cert_file = rounds % 50 ? cert384 : base.cert_file;
			conf.key_file = rounds % 50 ? key384 : base.key_file;
			assert_int_equal(sg_hs_certs_reload(w[0].c, &conf, NULL, 0), 0);
		}
		sg_hs_certs_info_get(w[0].c, &in);
		assert_true(in.pool_ready <= in.pool_size);
		running = atomic_load(&signers_done) < SIGNERS;
	}
	for (i = 0; i < SIGNERS; i++)
		assert_int_equal(pthread_join(w[i].thread, NULL), 0);
	for (i = 0; i < SIGNERS; i++) {
		assert_int_equal(w[i].failures, 0);
		pre += w[i].precomputed;
		for (j = 0; j < SIGNATURES; j++) {
			const struct hs_peer_key *k =
			        w[i].curve[j] == SG_TLS_GROUP_SECP384R1 ? &k384 : &k256;
			const uint8_t *p = w[i].sig[j];
			ECDSA_SIG *es = d2i_ECDSA_SIG(NULL, &p, (long)w[i].sig_len[j]);
			uint8_t d[32];

			memset(d, digest_of(i, j), sizeof(d));
			assert_int_equal(hs_cert_verify_sig(k, SG_TLS_SIGSCHEME_ECDSA_SHA256, d, 32,
			                                    w[i].sig[j], w[i].sig_len[j]),
			                 0);
			assert_non_null(es);
			rs[n++] = BN_dup(ECDSA_SIG_get0_r(es));
			ECDSA_SIG_free(es);
		}
	}
	qsort(rs, n, sizeof(rs[0]), cmp_r);
	for (i = 1; i < n; i++)
		if (BN_cmp(rs[i - 1], rs[i]) == 0)
			fail_msg("two signatures share r: a nonce was used twice");
	for (i = 0; i < n; i++)
		BN_free(rs[i]);
	print_message("# %u signatures, %u with a precomputed nonce, %u nonces refilled, %u "
	              "reloads\n",
	              n, pre, refills, rounds / 25);
	assert_true(pre > 0);
	sg_hs_certs_free(w[0].c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_load_table),
		cmocka_unit_test(test_bodies),
		cmocka_unit_test(test_wycheproof_ecdsa),
		cmocka_unit_test(test_sign_table),
		cmocka_unit_test(test_verify_sig_bad_keys),
		cmocka_unit_test(test_chain_table),
		cmocka_unit_test(test_chain_malformed),
		cmocka_unit_test(test_chain_revoked_intermediate),
		cmocka_unit_test(test_cache),
		cmocka_unit_test(test_cache_capacity),
		cmocka_unit_test(test_rpk),
		cmocka_unit_test(test_rpk_paths_agree),
		cmocka_unit_test(test_mutations),
		cmocka_unit_test(test_reload),
		cmocka_unit_test(test_pool_threads),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
