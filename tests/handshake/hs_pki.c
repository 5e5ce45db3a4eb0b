/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The test PKI of the certificate tests (hs_pki.h): keys, certificates and a
 * CRL made with OpenSSL's API, written as PEM files in a temporary
 * directory that teardown removes. The test thread makes and frees it;
 * threads only read it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "hs_pki.h"

struct hs_pki P;

static EVP_PKEY *ec_key(void)
{
	EVP_PKEY *k = EVP_EC_gen("P-256");

	assert_non_null(k);
	return k;
}

static void add_ext(X509 *c, X509 *issuer, int nid, const char *value)
{
	X509V3_CTX ctx;
	X509_EXTENSION *ext;

	X509V3_set_ctx(&ctx, issuer ? issuer : c, c, NULL, NULL, 0);
	ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
	assert_non_null(ext);
	assert_int_equal(X509_add_ext(c, ext, -1), 1);
	X509_EXTENSION_free(ext);
}

/* A certificate for key, named cn, valid from now + nb to now + na (s), signed by issuer. */
static X509 *mk_cert(const char *cn, EVP_PKEY *key, X509 *issuer, EVP_PKEY *ikey, long nb, long na,
                     long serial, int ca)
{
	X509 *c = X509_new();
	X509_NAME *n = X509_NAME_new();

	assert_non_null(c);
	X509_set_version(c, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(c), serial);
	X509_gmtime_adj(X509_getm_notBefore(c), nb);
	X509_gmtime_adj(X509_getm_notAfter(c), na);
	X509_set_pubkey(c, key);
	X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0);
	X509_set_subject_name(c, n);
	X509_set_issuer_name(c, issuer ? X509_get_subject_name(issuer) : n);
	X509_NAME_free(n);
	add_ext(c, issuer, NID_basic_constraints, ca ? "critical,CA:TRUE" : "CA:FALSE");
	if (ca)
		add_ext(c, issuer, NID_key_usage, "critical,keyCertSign,cRLSign");
	assert_true(X509_sign(c, ikey ? ikey : key, EVP_sha256()) > 0);
	return c;
}

static void write_pem(const char *path, X509 *a, X509 *b, EVP_PKEY *key, X509_CRL *crl)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	if (a)
		assert_int_equal(PEM_write_X509(f, a), 1);
	if (b)
		assert_int_equal(PEM_write_X509(f, b), 1);
	if (key)
		assert_int_equal(PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL), 1);
	if (crl)
		assert_int_equal(PEM_write_X509_CRL(f, crl), 1);
	fclose(f);
}

/* The CA's CRL, revoking serial. */
static X509_CRL *mk_crl(long serial)
{
	X509_CRL *crl = X509_CRL_new();
	X509_REVOKED *r = X509_REVOKED_new();
	ASN1_INTEGER *sn = ASN1_INTEGER_new();
	ASN1_TIME *t = X509_gmtime_adj(NULL, -60), *next = X509_gmtime_adj(NULL, 86400);

	X509_CRL_set_version(crl, 1);
	X509_CRL_set_issuer_name(crl, X509_get_subject_name(P.ca));
	X509_CRL_set1_lastUpdate(crl, t);
	X509_CRL_set1_nextUpdate(crl, next);
	ASN1_INTEGER_set(sn, serial);
	X509_REVOKED_set_serialNumber(r, sn);
	X509_REVOKED_set_revocationDate(r, t);
	X509_CRL_add0_revoked(crl, r);
	X509_CRL_sort(crl);
	assert_true(X509_CRL_sign(crl, P.ca_key, EVP_sha256()) > 0);
	ASN1_INTEGER_free(sn);
	ASN1_TIME_free(t);
	ASN1_TIME_free(next);
	return crl;
}

int hs_pki_setup(void **state)
{
	static const char *const names[F_N] = { "server.pem", "server.key", "ca.pem", "crl.pem",
		                                "server2.pem" };
	X509_CRL *crl;

	(void)state;
	strcpy(P.dir, "/tmp/sg-hs-ecdsa-XXXXXX");
	assert_non_null(mkdtemp(P.dir));
	for (int i = 0; i < F_N; i++)
		snprintf(P.file[i], sizeof(P.file[i]), "%s/%s", P.dir, names[i]);
	P.ca_key = ec_key();
	P.other_key = ec_key();
	P.srv_key = ec_key();
	P.cli_key = ec_key();
	P.wrong_key = ec_key();
	P.ca = mk_cert("Stormgate test CA", P.ca_key, NULL, NULL, -3600, 86400 * 30, 1, 1);
	P.other = mk_cert("Another CA", P.other_key, NULL, NULL, -3600, 86400 * 30, 1, 1);
	P.srv = mk_cert("gateway.test", P.srv_key, P.ca, P.ca_key, -3600, 86400, 2, 0);
	P.srv2 = mk_cert("gateway2.test", P.srv_key, P.ca, P.ca_key, -3600, 86400, 3, 0);
	P.cli = mk_cert(CLIENT_CN, P.cli_key, P.ca, P.ca_key, -3600, 86400, 10, 0);
	P.cli_expired = mk_cert(CLIENT_CN, P.cli_key, P.ca, P.ca_key, -86400 * 2, -86400, 11, 0);
	P.cli_revoked = mk_cert(CLIENT_CN, P.cli_key, P.ca, P.ca_key, -3600, 86400, 12, 0);
	P.cli_other = mk_cert(CLIENT_CN, P.cli_key, P.other, P.other_key, -3600, 86400, 13, 0);
	crl = mk_crl(12);
	write_pem(P.file[F_SRV], P.srv, P.ca, NULL, NULL);
	write_pem(P.file[F_SRV2], P.srv2, P.ca, NULL, NULL);
	write_pem(P.file[F_KEY], NULL, NULL, P.srv_key, NULL);
	write_pem(P.file[F_CA], P.ca, NULL, NULL, NULL);
	write_pem(P.file[F_CRL], NULL, NULL, NULL, crl);
	X509_CRL_free(crl);
	return 0;
}

int hs_pki_teardown(void **state)
{
	(void)state;
	for (int i = 0; i < F_N; i++)
		unlink(P.file[i]);
	rmdir(P.dir);
	X509_free(P.ca);
	X509_free(P.other);
	X509_free(P.srv);
	X509_free(P.srv2);
	X509_free(P.cli);
	X509_free(P.cli_expired);
	X509_free(P.cli_revoked);
	X509_free(P.cli_other);
	EVP_PKEY_free(P.ca_key);
	EVP_PKEY_free(P.other_key);
	EVP_PKEY_free(P.srv_key);
	EVP_PKEY_free(P.cli_key);
	EVP_PKEY_free(P.wrong_key);
	return 0;
}

/* SHA-256 of key's SubjectPublicKeyInfo DER: what the store finds a raw public key by. */
void hs_pki_spki_hash(EVP_PKEY *key, uint8_t out[SG_HS_SPKI_HASH_LEN])
{
	unsigned char *der = NULL;
	int n = i2d_PUBKEY(key, &der);

	assert_true(n > 0);
	assert_int_equal(EVP_Digest(der, (size_t)n, out, NULL, EVP_sha256(), NULL), 1);
	OPENSSL_free(der);
}
