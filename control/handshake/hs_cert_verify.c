/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What a client presents, checked (hs_cert.h): its raw public key (RFC 7250)
 * or its X.509 chain against the set's CA bundle and CRLs, with a cache of
 * chains already verified under the set (keyed by the SHA-256 of the leaf's
 * DER, bounded by verify_cache, entries valid until the chain's earliest
 * notAfter or a CRL's nextUpdate; a hit still checks the time and the leaf's
 * serial against its issuer's CRL), its identity (subject CN or first SAN
 * URI), and its CertificateVerify signature.
 *
 * Threads: any engine thread, concurrently; the cache is the set's, under
 * its cache_lock; the X509_STORE is only read (OpenSSL locks its lookups).
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/asn1.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/ecdsa.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/obj_mac.h>
#include <openssl/sha.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <stormgate/bytes.h>
#include <stormgate/handshake.h>

#include "hs_cert.h"
#include "hs_cert_set.h"
#include "sg_spki.h"

#define CHAIN_CERTS_MAX 10u /* certificates in a client's certificate_list */
#define SERIAL_MAX      32u /* RFC 5280 §4.1.2.2: 20 octets; some CAs use more */

_Static_assert(SHA256_DIGEST_LENGTH == SG_HS_SPKI_HASH_LEN, "SPKI hash");
_Static_assert(sizeof(((struct hs_cert_cache_entry *)0)->key_point) == HS_CERT_POINT_MAX,
               "a cached key holds a struct hs_peer_key's point");

/*
 * A raw public key in RFC 5480's canonical form is read without OpenSSL's
 * decoder (sg_spki.h: ~1 us against ~100 us; bench_cert.cc, cert_rpk/p256);
 * test_hs_cert checks both paths agree. 1: taken; 0: not in that form (ask
 * OpenSSL); -1: that form but off the curve.
 */
static int rpk_canonical(const uint8_t *spki, size_t len, struct hs_peer_key *key)
{
	uint16_t curve;
	size_t off;
	int rc = sg_spki_canonical(spki, len, &curve, &off);

	if (rc != 1)
		return rc;
	key->curve = curve;
	key->point_len = (uint8_t)(len - off);
	memcpy(key->point, spki + off, len - off);
	return 1;
}

/* The uncompressed point of a P-256 / P-384 key; 0 or the failure's counter. */
static int peer_key_of(const EVP_PKEY *pk, struct hs_peer_key *key)
{
	BIGNUM *x = NULL, *y = NULL;
	uint16_t curve;
	size_t fl;
	int rc = SG_HS_C_FAIL_BAD_CERT;

	if (pk == NULL || !EVP_PKEY_is_a(pk, "EC"))
		return SG_HS_C_FAIL_BAD_CERT; /* not an ECDSA key (handshake.h: wrong key type) */
	curve = hs_cert_curve_of(pk);
	if (curve == 0)
		return SG_HS_C_FAIL_UNSUPPORTED_CERT; /* an EC key on a curve we do not speak */
	fl = hs_cert_field_len(curve);
	if (EVP_PKEY_get_bn_param(pk, OSSL_PKEY_PARAM_EC_PUB_X, &x) != 1 ||
	    EVP_PKEY_get_bn_param(pk, OSSL_PKEY_PARAM_EC_PUB_Y, &y) != 1 ||
	    BN_bn2binpad(x, key->point + 1, (int)fl) != (int)fl ||
	    BN_bn2binpad(y, key->point + 1 + fl, (int)fl) != (int)fl)
		goto out;
	key->point[0] = POINT_CONVERSION_UNCOMPRESSED;
	key->point_len = (uint8_t)(1 + 2 * fl);
	key->curve = curve;
	rc = 0;
out:
	BN_free(x);
	BN_free(y);
	ERR_clear_error();
	return rc;
}

int hs_cert_parse_rpk(const uint8_t *spki, size_t len, struct hs_peer_key *key,
                      uint8_t hash[SG_HS_SPKI_HASH_LEN])
{
	const uint8_t *p = spki;
	EVP_PKEY *pk;
	int rc;

	if (spki == NULL || len == 0 || len > SG_TLS_CERT_CHAIN_MAX)
		return SG_HS_C_FAIL_BAD_CERT;
	rc = rpk_canonical(spki, len, key);
	if (rc != 0) {
		if (rc < 0)
			return SG_HS_C_FAIL_BAD_CERT;
		SHA256(spki, len, hash);
		return 0;
	}
	pk = d2i_PUBKEY(NULL, &p, (long)len);
	if (pk == NULL || p != spki + len) {
		EVP_PKEY_free(pk);
		ERR_clear_error();
		return SG_HS_C_FAIL_BAD_CERT;
	}
	rc = peer_key_of(pk, key);
	EVP_PKEY_free(pk);
	if (rc == 0)
		SHA256(spki, len, hash);
	return rc;
}

/*
 * An identity: 1 .. SG_TLS_PSK_IDENTITY_MAX bytes without control characters
 * (it is printed by stormctl, logged and sent in the PROXY v2 TLV; a name
 * with a NUL or a newline in it is a forgery attempt, not a device).
 */
static int identity_put(const uint8_t *v, int len, uint8_t *identity, uint16_t *identity_len)
{
	int i;

	if (v == NULL || len <= 0 || len > SG_TLS_PSK_IDENTITY_MAX)
		return SG_HS_C_FAIL_BAD_CERT;
	for (i = 0; i < len; i++)
		if (v[i] < 0x20 || v[i] == 0x7f)
			return SG_HS_C_FAIL_BAD_CERT;
	memcpy(identity, v, (size_t)len);
	*identity_len = (uint16_t)len;
	return 0;
}

/* The subject's one commonName (two are ambiguous: refused), as UTF-8. */
static int identity_cn(X509 *x, uint8_t *identity, uint16_t *identity_len)
{
	const X509_NAME *n = X509_get_subject_name(x);
	int i = X509_NAME_get_index_by_NID(n, NID_commonName, -1);
	unsigned char *u = NULL;
	int l, rc;

	if (i < 0 || X509_NAME_get_index_by_NID(n, NID_commonName, i) >= 0)
		return SG_HS_C_FAIL_BAD_CERT;
	l = ASN1_STRING_to_UTF8(&u, X509_NAME_ENTRY_get_data(X509_NAME_get_entry(n, i)));
	rc = identity_put(u, l, identity, identity_len);
	OPENSSL_free(u);
	return rc;
}

/* The first uniformResourceIdentifier of subjectAltName (RFC 5280 §4.2.1.6). */
static int identity_san_uri(X509 *x, uint8_t *identity, uint16_t *identity_len)
{
	GENERAL_NAMES *names = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
	int i, rc = SG_HS_C_FAIL_BAD_CERT;

	for (i = 0; i < sk_GENERAL_NAME_num(names); i++) {
		const GENERAL_NAME *g = sk_GENERAL_NAME_value(names, i);

		if (g->type == GEN_URI) {
			rc = identity_put(ASN1_STRING_get0_data(g->d.uniformResourceIdentifier),
			                  ASN1_STRING_length(g->d.uniformResourceIdentifier),
			                  identity, identity_len);
			break;
		}
	}
	GENERAL_NAMES_free(names);
	ERR_clear_error();
	return rc;
}

static struct hs_cert_cache_entry *cache_bucket(const struct hs_cert_set *s, const uint8_t *hash)
{
	uint32_t h;

	memcpy(&h, hash, sizeof(h)); /* SHA-256 output: uniform */
	return &s->cache[(size_t)(h % s->cache_buckets) * s->cache_ways];
}

/*
 * A hit: the chain verified under this set, it is valid at now and the
 * leaf's serial is not on its issuer's CRL. An entry out of its validity
 * or revoked is dropped (the full verification then says why). Under
 * cache_lock.
 */
static bool cache_find(struct hs_cert_set *s, const uint8_t *hash, int64_t now,
                       struct hs_peer_key *key, uint8_t *identity, uint16_t *identity_len)
{
	struct hs_cert_cache_entry *b = cache_bucket(s, hash);
	X509_REVOKED *revoked;
	uint32_t i;

	for (i = 0; i < s->cache_ways; i++) {
		struct hs_cert_cache_entry *e = &b[i];

		if (e->stamp == 0 || memcmp(e->hash, hash, sizeof(e->hash)) != 0)
			continue;
		if (now < e->not_before || now >= e->expires ||
		    (e->crl != NULL &&
		     X509_CRL_get0_by_serial((X509_CRL *)e->crl, &revoked, e->serial) == 1)) {
			hs_cert_cache_clear(s, e);
			return false;
		}
		e->stamp = ++s->cache_clock;
		key->curve = e->key_curve;
		key->point_len = e->key_len;
		memcpy(key->point, e->key_point, e->key_len);
		memcpy(identity, e->identity, e->identity_len);
		*identity_len = e->identity_len;
		return true;
	}
	return false;
}

/* Keep a verified chain: its own slot, else an empty one, else the least recently used. */
static void cache_put(struct hs_cert_set *s, const uint8_t *hash,
                      const struct hs_cert_cache_entry *n)
{
	struct hs_cert_cache_entry *b = cache_bucket(s, hash), *victim = &b[0];
	uint32_t i;

	for (i = 0; i < s->cache_ways; i++) {
		if (b[i].stamp != 0 && memcmp(b[i].hash, hash, sizeof(b[i].hash)) == 0) {
			victim = &b[i];
			break;
		}
		if (b[i].stamp < victim->stamp)
			victim = &b[i];
	}
	hs_cert_cache_clear(s, victim);
	*victim = *n;
	victim->stamp = ++s->cache_clock;
	s->cache_entries++;
}

/* The cache entry of a verified chain (the leaf first in chain). false: not cacheable. */
static bool cache_entry_of(const struct hs_cert_set *s, STACK_OF(X509) * chain,
                           struct hs_cert_cache_entry *e)
{
	X509 *leaf = sk_X509_value(chain, 0);
	int i;

	e->not_before = INT64_MIN;
	e->expires = INT64_MAX;
	for (i = 0; i < sk_X509_num(chain); i++) {
		X509 *x = sk_X509_value(chain, i);
		int64_t nb = hs_cert_asn1_unix(X509_get0_notBefore(x)),
		        na = hs_cert_asn1_unix(X509_get0_notAfter(x));

		if (na == 0)
			return false;
		e->not_before = nb > e->not_before ? nb : e->not_before;
		e->expires = na < e->expires ? na : e->expires;
	}
	for (i = 0; i < sk_X509_CRL_num(s->crls); i++) {
		const X509_CRL *crl = sk_X509_CRL_value(s->crls, i);
		int64_t next = hs_cert_asn1_unix(X509_CRL_get0_nextUpdate(crl));
		int64_t last = hs_cert_asn1_unix(X509_CRL_get0_lastUpdate(crl));

		if (X509_NAME_cmp(X509_CRL_get_issuer(crl), X509_get_issuer_name(leaf)) == 0)
			e->crl = crl;
		/* Outside a CRL's thisUpdate .. nextUpdate OpenSSL refuses the chain:
		 * the entry is good only where a full verification would pass. */
		if (next != 0 && next < e->expires)
			e->expires = next;
		if (last > e->not_before)
			e->not_before = last;
	}
	if (ASN1_STRING_length(X509_get0_serialNumber(leaf)) > (int)SERIAL_MAX)
		return false;
	e->serial = ASN1_INTEGER_dup(X509_get0_serialNumber(leaf));
	return e->serial != NULL;
}

/* The RFC 5246 §7.4.2 alert of an OpenSSL verification error, as our failure counter. */
static int verify_failure(int err)
{
	switch (err) {
	case X509_V_ERR_CERT_HAS_EXPIRED:
	case X509_V_ERR_CERT_NOT_YET_VALID:
		return SG_HS_C_FAIL_CERT_EXPIRED;
	case X509_V_ERR_CERT_REVOKED:
		return SG_HS_C_FAIL_CERT_REVOKED;
	case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
	case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
	case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
	case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
	case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
	case X509_V_ERR_CERT_UNTRUSTED:
		return SG_HS_C_FAIL_UNKNOWN_CA;
	default:
		return SG_HS_C_FAIL_BAD_CERT;
	}
}

/* A certificate_list's certificates, leaf first, pointing into the list. */
struct der_list {
	const uint8_t *der[CHAIN_CERTS_MAX];
	size_t len[CHAIN_CERTS_MAX];
	size_t n;
};

/* opaque ASN.1Cert<1..2^24-1>, leaf first (RFC 5246 §7.4.2): 0 or SG_HS_C_FAIL_BAD_CERT. */
static int split_list(const uint8_t *list, size_t len, struct der_list *d)
{
	size_t off = 0;

	d->n = 0;
	if (list == NULL || len == 0 || len > SG_TLS_CERT_CHAIN_MAX)
		return SG_HS_C_FAIL_BAD_CERT;
	while (off < len) {
		size_t l;

		if (len - off < 3 || d->n == CHAIN_CERTS_MAX)
			return SG_HS_C_FAIL_BAD_CERT;
		l = sg_load_be24(list + off);
		if (l == 0 || l > len - off - 3)
			return SG_HS_C_FAIL_BAD_CERT;
		d->der[d->n] = list + off + 3;
		d->len[d->n++] = l;
		off += 3 + l;
	}
	return 0;
}

/* Each DER decoded whole: the leaf into *leaf, the rest into untrusted. 0 or the counter. */
static int decode_chain(const struct der_list *d, X509 **leaf, STACK_OF(X509) * untrusted)
{
	size_t i;

	for (i = 0; i < d->n; i++) {
		const uint8_t *p = d->der[i];
		X509 *x = d2i_X509(NULL, &p, (long)d->len[i]);

		if (x == NULL || p != d->der[i] + d->len[i]) {
			X509_free(x);
			return SG_HS_C_FAIL_BAD_CERT;
		}
		if (i == 0) {
			*leaf = x;
		} else if (sk_X509_push(untrusted, x) <= 0) {
			X509_free(x);
			return SG_HS_C_FAIL_INTERNAL;
		}
	}
	return 0;
}

/* Keep what ctx verified, with the key and identity taken from its leaf. */
static void cache_store(struct hs_cert_set *s, const uint8_t *hash, X509_STORE_CTX *ctx,
                        const struct hs_peer_key *key, const uint8_t *identity,
                        uint16_t identity_len)
{
	struct hs_cert_cache_entry e;

	memset(&e, 0, sizeof(e));
	if (!cache_entry_of(s, X509_STORE_CTX_get0_chain(ctx), &e)) {
		ASN1_INTEGER_free(e.serial);
		return;
	}
	memcpy(e.hash, hash, sizeof(e.hash));
	e.key_curve = key->curve;
	e.key_len = key->point_len;
	memcpy(e.key_point, key->point, key->point_len);
	e.identity_len = identity_len;
	memcpy(e.identity, identity, identity_len);
	pthread_mutex_lock(&s->cache_lock);
	cache_put(s, hash, &e);
	pthread_mutex_unlock(&s->cache_lock);
}

int hs_cert_verify_x509(struct sg_hs_certs *c, const struct hs_cert_set *s, const uint8_t *list,
                        size_t len, int64_t now_unix, struct hs_peer_key *key, uint8_t *identity,
                        uint16_t *identity_len)
{
	struct hs_cert_set *m = (struct hs_cert_set *)s; /* its cache only */
	uint8_t hash[SHA256_DIGEST_LENGTH];
	STACK_OF(X509) *untrusted = NULL;
	X509_STORE_CTX *ctx = NULL;
	struct der_list d;
	X509 *leaf = NULL;
	bool hit;
	int rc;

	if (s == NULL || s->store == NULL)
		return SG_HS_C_FAIL_UNSUPPORTED_CERT; /* no CA bundle: X.509 never offered */
	rc = split_list(list, len, &d);
	if (rc != 0)
		return rc;
	SHA256(d.der[0], d.len[0], hash);
	pthread_mutex_lock(&m->cache_lock);
	hit = cache_find(m, hash, now_unix, key, identity, identity_len);
	pthread_mutex_unlock(&m->cache_lock);
	if (c != NULL)
		atomic_fetch_add_explicit(hit ? &c->cache_hits : &c->cache_misses, 1,
		                          memory_order_relaxed);
	if (hit)
		return 0;
	untrusted = sk_X509_new_null();
	if (untrusted == NULL)
		return SG_HS_C_FAIL_INTERNAL;
	rc = decode_chain(&d, &leaf, untrusted);
	if (rc == 0)
		rc = peer_key_of(X509_get0_pubkey(leaf), key);
	if (rc != 0)
		goto out;
	ctx = X509_STORE_CTX_new();
	if (ctx == NULL || X509_STORE_CTX_init(ctx, s->store, leaf, untrusted) != 1 ||
	    X509_STORE_CTX_set_default(ctx, "ssl_client") != 1) {
		rc = SG_HS_C_FAIL_INTERNAL;
		goto out;
	}
	/* As libssl checks a client's chain: purpose sslclient (extendedKeyUsage), at now. */
	X509_STORE_CTX_set_time(ctx, 0, (time_t)now_unix);
	if (X509_verify_cert(ctx) != 1) {
		rc = verify_failure(X509_STORE_CTX_get_error(ctx));
		goto out;
	}
	rc = s->identity_from == SG_HS_CERT_ID_SAN_URI
	             ? identity_san_uri(leaf, identity, identity_len)
	             : identity_cn(leaf, identity, identity_len);
	if (rc == 0)
		cache_store(m, hash, ctx, key, identity, *identity_len);
out:
	X509_STORE_CTX_free(ctx);
	X509_free(leaf);
	sk_X509_pop_free(untrusted, X509_free);
	ERR_clear_error();
	return rc;
}

/*
 * EC_KEY and ECDSA_verify() are deprecated in OpenSSL 3.0 (see hs_cert_sign.c),
 * but a key made on a shared group and checked by ECDSA_verify() costs
 * ~45 us where EVP_PKEY_fromdata() + a fresh EVP_PKEY_CTX cost ~63 us
 * (bench_cert.cc: cert_verify/p256 against baseline_openssl_verify/p256).
 */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
int hs_cert_verify_sig(const struct hs_peer_key *key, uint16_t scheme, const uint8_t *digest,
                       size_t digest_len, const uint8_t *sig, size_t sig_len)
{
	const EC_GROUP *g;
	EC_KEY *ec;
	size_t hash_len;
	int rc = -EBADMSG;

	/* TLS 1.2 (RFC 5246 §7.4.1.4.1): the scheme names the hash, not the curve. */
	if (scheme == SG_TLS_SIGSCHEME_ECDSA_SHA256)
		hash_len = SHA256_DIGEST_LENGTH;
	else if (scheme == SG_TLS_SIGSCHEME_ECDSA_SHA384)
		hash_len = SHA384_DIGEST_LENGTH;
	else
		return -EBADMSG;
	if (key == NULL || digest_len != hash_len || sig == NULL || sig_len == 0 ||
	    sig_len > HS_CERT_SIG_MAX)
		return -EBADMSG;
	g = sg_spki_group(key->curve);
	if (g == NULL || key->point_len != 1 + 2 * hs_cert_field_len(key->curve))
		return -EBADMSG;
	ec = EC_KEY_new();
	/* oct2key checks the point is on the curve; ECDSA_verify() decodes the DER
	 * strictly (it re-encodes and compares): BER and trailing bytes refused. */
	if (ec != NULL && EC_KEY_set_group(ec, g) == 1 &&
	    EC_KEY_oct2key(ec, key->point, key->point_len, NULL) == 1 &&
	    ECDSA_verify(0, digest, (int)digest_len, sig, (int)sig_len, ec) == 1)
		rc = 0;
	EC_KEY_free(ec);
	ERR_clear_error();
	return rc;
}
#pragma GCC diagnostic pop
