/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Certificates and raw public keys of the ECDHE-ECDSA suites (hs_cert.h):
 * struct sg_hs_certs, the loaded sets it swaps, ECDSA signing with a pool of
 * precomputed nonces, client chain verification with a cache of verified
 * chains, raw public keys and CertificateVerify signatures. A leaf of the
 * handshake engine: OpenSSL libcrypto only, nothing of the engine.
 *
 * Threads and ownership: the owner thread (the gateway's) creates, reloads
 * and frees struct sg_hs_certs and refills its pool (one thread at a time);
 * engine threads acquire the current set, sign, verify and release
 * concurrently. A set is immutable once loaded except for its nonce pool
 * and its verified-chain cache, each under a mutex of the set. A set is
 * reference counted: struct sg_hs_certs holds one reference to the current
 * set, each handshake that uses it one more (sg_hs_certs_acquire() under
 * the object's mutex, so a reload cannot free it between the load and the
 * increment); the last release frees it, on whichever thread that is.
 *
 * Secrets: the private key (OpenSSL clears EC scalars on free), the key
 * file's bytes (wiped after parsing) and the precomputed nonces (k^-1 and
 * r: either reveals the key with one signature; BN_clear_free on every
 * path, each used at most once).
 */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/obj_mac.h>
#include <openssl/params.h>
#include <openssl/pem.h>
#include <openssl/sha.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <stormgate/bytes.h>
#include <stormgate/common.h>
#include <stormgate/handshake.h>

#include "hs_cert.h"

#define POOL_DEFAULT    1024u
#define POOL_MAX        (1u << 20)
#define CACHE_DEFAULT   4096u
#define CACHE_MAX       (1u << 22)
#define CACHE_WAYS      4u
#define CHAIN_CERTS_MAX 10u         /* certificates in a client's certificate_list */
#define PEM_FILE_MAX    (64u << 20) /* a CA bundle or CRL file: larger is refused */
#define SERIAL_MAX      32u         /* RFC 5280 §4.1.2.2: 20 octets; some CAs use more */

_Static_assert(SHA256_DIGEST_LENGTH == SG_HS_SPKI_HASH_LEN, "SPKI hash");

/* One precomputed ECDSA nonce: k^-1 mod n and r = x(kG) mod n. */
struct nonce {
	BIGNUM *kinv;
	BIGNUM *r;
};

/* A client certificate whose chain verified under this set (the leaf's DER hash). */
struct cache_entry {
	uint8_t hash[SHA256_DIGEST_LENGTH];
	uint64_t stamp;     /* last use (the set's clock); 0: empty */
	int64_t not_before; /* latest notBefore of the verified chain */
	int64_t expires;    /* earliest notAfter of the chain, or a CRL's nextUpdate */
	ASN1_INTEGER *serial;
	const X509_CRL *crl; /* the CRL of the leaf's issuer (the set's); NULL: none */
	struct hs_peer_key key;
	uint16_t identity_len;
	uint8_t identity[SG_TLS_PSK_IDENTITY_MAX];
};

struct hs_cert_set {
	_Atomic uint32_t refs;
	uint16_t curve;  /* SG_TLS_GROUP_* of our key */
	uint16_t scheme; /* SG_TLS_SIGSCHEME_* we sign with */
	uint8_t client_auth;
	uint8_t identity_from;
	uint8_t rpk;
	uint8_t require_policy;
	EVP_PKEY *pkey;
	EC_KEY *eckey;      /* pkey's EC_KEY: ECDSA_do_sign_ex takes precomputed nonces */
	uint8_t *x509_body; /* certificate_list with its 3-byte length; NULL: no certificate */
	size_t x509_len;
	uint8_t *rpk_body; /* 3-byte length + SubjectPublicKeyInfo; NULL: no RPK */
	size_t rpk_len;
	X509_STORE *store;         /* CA bundle and CRLs; NULL: no X.509 client certificates */
	STACK_OF(X509_CRL) * crls; /* the CRLs the store has, for the cache's checks */
	int64_t not_after;         /* our certificate's */
	char subject[128];

	pthread_mutex_t pool_lock;
	struct nonce *pool; /* pool[0 .. pool_ready) */
	uint32_t pool_size;
	uint32_t pool_ready;

	pthread_mutex_t cache_lock;
	struct cache_entry *cache; /* cache_buckets x cache_ways */
	uint32_t cache_buckets;
	uint32_t cache_ways;
	uint32_t cache_entries;
	uint64_t cache_clock;
};

struct sg_hs_certs {
	pthread_mutex_t lock; /* cur and generation: acquire, reload, info */
	struct hs_cert_set *cur;
	uint64_t generation;
	_Atomic uint64_t cache_hits;
	_Atomic uint64_t cache_misses;
};

/* ---- loading ---------------------------------------------------------------------- */

static void set_err(char *err, size_t err_len, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));

static void set_err(char *err, size_t err_len, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL || err_len == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, err_len, fmt, ap);
	va_end(ap);
}

/* OpenSSL's reason for the last failure, for a message; the queue is cleared. */
static const char *ossl_reason(void)
{
	unsigned long e = ERR_peek_last_error();
	const char *r = e ? ERR_reason_error_string(e) : NULL;

	ERR_clear_error();
	return r ? r : "unknown error";
}

/*
 * A whole file into a memory BIO (the caller frees both with file_free()),
 * so a key's bytes are ours to wipe. NULL with the message in err.
 */
struct file_buf {
	uint8_t *data;
	size_t len;
	BIO *bio;
};

static void file_free(struct file_buf *f)
{
	BIO_free(f->bio);
	if (f->data != NULL) {
		sg_wipe(f->data, f->len);
		free(f->data);
	}
	memset(f, 0, sizeof(*f));
}

static int file_read(const char *what, const char *path, struct file_buf *f, char *err,
                     size_t err_len)
{
	struct stat st;
	FILE *fp;
	int rc;

	memset(f, 0, sizeof(*f));
	fp = fopen(path, "rb");
	if (fp == NULL) {
		rc = -errno;
		set_err(err, err_len, "%s %s: %s", what, path, strerror(errno));
		return rc;
	}
	if (fstat(fileno(fp), &st) < 0 || !S_ISREG(st.st_mode) || st.st_size <= 0 ||
	    (uint64_t)st.st_size > PEM_FILE_MAX) {
		set_err(err, err_len, "%s %s: not a regular file of 1 byte to %u MiB", what, path,
		        PEM_FILE_MAX >> 20);
		fclose(fp);
		return -EINVAL;
	}
	f->len = (size_t)st.st_size;
	f->data = malloc(f->len);
	if (f->data == NULL || fread(f->data, 1, f->len, fp) != f->len) {
		rc = f->data == NULL ? -ENOMEM : -EIO;
		set_err(err, err_len, "%s %s: %s", what, path,
		        f->data == NULL ? "out of memory" : "short read");
		fclose(fp);
		file_free(f);
		return rc;
	}
	fclose(fp);
	f->bio = BIO_new_mem_buf(f->data, (int)f->len);
	if (f->bio == NULL) {
		set_err(err, err_len, "%s %s: out of memory", what, path);
		file_free(f);
		return -ENOMEM;
	}
	return 0;
}

/* An encrypted PEM key: no passphrase (never a prompt on the daemon's terminal). */
static int no_passphrase(char *buf, int size, int rwflag, void *u)
{
	(void)buf;
	(void)size;
	(void)rwflag;
	(void)u;
	return -1;
}

/* SG_TLS_GROUP_* of an EC key, 0 when it is not one of ours (P-256, P-384). */
static uint16_t curve_of(const EVP_PKEY *pk)
{
	char name[64];
	int nid;

	if (!EVP_PKEY_is_a(pk, "EC") || EVP_PKEY_get_group_name(pk, name, sizeof(name), NULL) != 1)
		return 0;
	nid = OBJ_sn2nid(name);
	if (nid == NID_undef)
		nid = EC_curve_nist2nid(name);
	if (nid == NID_X9_62_prime256v1)
		return SG_TLS_GROUP_SECP256R1;
	if (nid == NID_secp384r1)
		return SG_TLS_GROUP_SECP384R1;
	return 0;
}

static size_t field_len(uint16_t curve)
{
	return curve == SG_TLS_GROUP_SECP384R1 ? 48 : 32;
}

/* Seconds since the epoch of an ASN.1 time; 0 when it does not convert. */
static int64_t asn1_unix(const ASN1_TIME *t)
{
	struct tm tm;

	if (t == NULL || ASN1_TIME_to_tm(t, &tm) != 1)
		return 0;
	return (int64_t)timegm(&tm);
}

/* DER certificates, each with its 3-byte length, after the list's own (RFC 5246 §7.4.2). */
static int chain_body(STACK_OF(X509) * certs, uint8_t **body, size_t *len)
{
	size_t total = 0, off = 3;
	uint8_t *b;
	int i;

	for (i = 0; i < sk_X509_num(certs); i++) {
		int l = i2d_X509(sk_X509_value(certs, i), NULL);

		if (l <= 0)
			return -EINVAL;
		total += 3 + (size_t)l;
	}
	if (total > SG_TLS_CERT_CHAIN_MAX)
		return -E2BIG;
	b = malloc(3 + total);
	if (b == NULL)
		return -ENOMEM;
	sg_store_be24(b, (uint32_t)total);
	for (i = 0; i < sk_X509_num(certs); i++) {
		uint8_t *p = b + off + 3;
		int l = i2d_X509(sk_X509_value(certs, i), &p);

		sg_store_be24(b + off, (uint32_t)l);
		off += 3 + (size_t)l;
	}
	*body = b;
	*len = 3 + total;
	return 0;
}

/*
 * Every certificate of a PEM file (BEGIN CERTIFICATE or TRUSTED CERTIFICATE),
 * in order. Text outside PEM blocks is ignored as OpenSSL's tools ignore it;
 * a block that does not decode is an error. NULL with the message in err.
 */
static int read_certs(const char *what, const char *path, STACK_OF(X509) * *out, char *err,
                      size_t err_len)
{
	STACK_OF(X509) *certs = sk_X509_new_null();
	struct file_buf f;
	X509 *x;
	int rc = -ENOMEM;

	if (certs == NULL) {
		set_err(err, err_len, "%s %s: out of memory", what, path);
		return rc;
	}
	rc = file_read(what, path, &f, err, err_len);
	if (rc < 0)
		goto fail;
	rc = -EINVAL;
	ERR_clear_error();
	while ((x = PEM_read_bio_X509_AUX(f.bio, NULL, no_passphrase, NULL)) != NULL) {
		if (sk_X509_push(certs, x) <= 0) {
			X509_free(x);
			set_err(err, err_len, "%s %s: out of memory", what, path);
			rc = -ENOMEM;
			goto fail_file;
		}
	}
	if (ERR_GET_REASON(ERR_peek_last_error()) != PEM_R_NO_START_LINE) {
		set_err(err, err_len, "%s %s: certificate %d does not parse: %s", what, path,
		        sk_X509_num(certs) + 1, ossl_reason());
		goto fail_file;
	}
	ERR_clear_error();
	if (sk_X509_num(certs) == 0) {
		set_err(err, err_len, "%s %s: no PEM certificate in the file", what, path);
		goto fail_file;
	}
	file_free(&f);
	*out = certs;
	return 0;
fail_file:
	file_free(&f);
fail:
	sk_X509_pop_free(certs, X509_free);
	return rc;
}

static void nonce_free(struct nonce *n)
{
	BN_clear_free(n->kinv);
	BN_clear_free(n->r);
	n->kinv = NULL;
	n->r = NULL;
}

static void cache_entry_clear(struct hs_cert_set *s, struct cache_entry *e)
{
	if (e->stamp != 0)
		s->cache_entries--;
	ASN1_INTEGER_free(e->serial);
	memset(e, 0, sizeof(*e));
}

static void set_free(struct hs_cert_set *s)
{
	uint32_t i;

	if (s == NULL)
		return;
	if (s->pool != NULL) {
		for (i = 0; i < s->pool_ready; i++)
			nonce_free(&s->pool[i]);
		free(s->pool);
	}
	if (s->cache != NULL) {
		for (i = 0; i < s->cache_buckets * s->cache_ways; i++)
			cache_entry_clear(s, &s->cache[i]);
		free(s->cache);
	}
	pthread_mutex_destroy(&s->pool_lock);
	pthread_mutex_destroy(&s->cache_lock);
	X509_STORE_free(s->store);
	sk_X509_CRL_pop_free(s->crls, X509_CRL_free);
	free(s->x509_body);
	free(s->rpk_body);
/* EC_KEY_free: see set_ec_key(). */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
	EC_KEY_free(s->eckey);
#pragma GCC diagnostic pop
	EVP_PKEY_free(s->pkey);
	sg_wipe(s, sizeof(*s));
	free(s);
}

/*
 * The EC_KEY view of our key. OpenSSL 3.0 deprecates EC_KEY and the ECDSA_*
 * functions, but only ECDSA_sign_setup() / ECDSA_do_sign_ex() sign with a
 * nonce computed beforehand (the EVP interface has no such parameter), and
 * the pool of precomputed nonces is what makes a storm's signatures cheap
 * (docs/certificates.md). Hence the warning is silenced here and in the
 * signing functions only.
 */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
static int set_ec_key(struct hs_cert_set *s)
{
	s->eckey = EVP_PKEY_get1_EC_KEY(s->pkey);
	return s->eckey != NULL && EC_KEY_get0_private_key(s->eckey) != NULL ? 0 : -EINVAL;
}
#pragma GCC diagnostic pop

/* Our private key: EC P-256 or P-384, not encrypted. */
static int load_key(struct hs_cert_set *s, const char *path, char *err, size_t err_len)
{
	struct file_buf f;
	char name[64] = "?";
	int rc;

	rc = file_read("key", path, &f, err, err_len);
	if (rc < 0)
		return rc;
	ERR_clear_error();
	s->pkey = PEM_read_bio_PrivateKey(f.bio, NULL, no_passphrase, NULL);
	file_free(&f);
	if (s->pkey == NULL) {
		set_err(err, err_len, "key %s: no PEM private key (or an encrypted one): %s", path,
		        ossl_reason());
		return -EINVAL;
	}
	if (!EVP_PKEY_is_a(s->pkey, "EC")) {
		set_err(err, err_len, "key %s: %s is not an ECDSA key (EC P-256 or P-384)", path,
		        EVP_PKEY_get0_type_name(s->pkey));
		return -EINVAL;
	}
	s->curve = curve_of(s->pkey);
	if (s->curve == 0) {
		EVP_PKEY_get_group_name(s->pkey, name, sizeof(name), NULL);
		set_err(err, err_len, "key %s: curve %s unsupported (P-256 or P-384)", path, name);
		return -EINVAL;
	}
	s->scheme = s->curve == SG_TLS_GROUP_SECP384R1 ? SG_TLS_SIGSCHEME_ECDSA_SHA384
	                                               : SG_TLS_SIGSCHEME_ECDSA_SHA256;
	if (set_ec_key(s) < 0) {
		set_err(err, err_len, "key %s: not a usable EC private key", path);
		return -EINVAL;
	}
	return 0;
}

/* Our certificate and its chain, leaf first; the leaf's key must be ours. */
static int load_chain(struct hs_cert_set *s, const struct sg_hs_certs_conf *conf, char *err,
                      size_t err_len)
{
	STACK_OF(X509) *certs = NULL;
	X509 *leaf;
	BIO *b;
	int rc = read_certs("cert", conf->cert_file, &certs, err, err_len);

	if (rc < 0)
		return rc;
	rc = -EINVAL;
	leaf = sk_X509_value(certs, 0);
	if (X509_get0_pubkey(leaf) == NULL || EVP_PKEY_eq(X509_get0_pubkey(leaf), s->pkey) != 1) {
		set_err(err, err_len, "key %s does not match the certificate %s", conf->key_file,
		        conf->cert_file);
		goto out;
	}
	rc = chain_body(certs, &s->x509_body, &s->x509_len);
	if (rc < 0) {
		set_err(err, err_len, "cert %s: %s", conf->cert_file,
		        rc == -E2BIG ? "chain over 16384 bytes" : "cannot encode");
		goto out;
	}
	s->not_after = asn1_unix(X509_get0_notAfter(leaf));
	b = BIO_new(BIO_s_mem());
	if (b != NULL) {
		int n = X509_NAME_print_ex(b, X509_get_subject_name(leaf), 0,
		                           XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB);
		if (n > 0) {
			n = BIO_read(b, s->subject, sizeof(s->subject) - 1);
			s->subject[n > 0 ? n : 0] = '\0';
		}
		BIO_free(b);
	}
	rc = 0;
out:
	sk_X509_pop_free(certs, X509_free);
	return rc;
}

/* Our raw public key (RFC 7250 §3): the SPKI of rpk_key_file, else of our key. */
static int load_rpk(struct hs_cert_set *s, const struct sg_hs_certs_conf *conf, char *err,
                    size_t err_len)
{
	EVP_PKEY *pub = s->pkey;
	uint8_t *p;
	int l, rc = -EINVAL;

	if (conf->rpk_key_file != NULL) {
		struct file_buf f;

		rc = file_read("rpk_key", conf->rpk_key_file, &f, err, err_len);
		if (rc < 0)
			return rc;
		rc = -EINVAL;
		ERR_clear_error();
		pub = PEM_read_bio_PUBKEY(f.bio, NULL, no_passphrase, NULL);
		file_free(&f);
		if (pub == NULL) {
			set_err(err, err_len, "rpk_key %s: no PEM public key: %s",
			        conf->rpk_key_file, ossl_reason());
			return -EINVAL;
		}
		if (EVP_PKEY_eq(pub, s->pkey) != 1) {
			set_err(err, err_len, "key %s does not match the public key %s",
			        conf->key_file, conf->rpk_key_file);
			goto out;
		}
	}
	l = i2d_PUBKEY(pub, NULL);
	if (l <= 0 || (s->rpk_body = malloc(3 + (size_t)l)) == NULL) {
		set_err(err, err_len, "rpk: cannot encode the public key");
		rc = -ENOMEM;
		goto out;
	}
	p = s->rpk_body + 3;
	sg_store_be24(s->rpk_body, (uint32_t)l);
	i2d_PUBKEY(pub, &p);
	s->rpk_len = 3 + (size_t)l;
	rc = 0;
out:
	if (pub != s->pkey)
		EVP_PKEY_free(pub);
	return rc;
}

/*
 * A CA of the bundle without a CRL in crl_file: its certificates are not
 * checked for revocation (rather than all refused). Everything else keeps
 * OpenSSL's verdict.
 */
static int verify_cb(int ok, X509_STORE_CTX *ctx)
{
	if (!ok && X509_STORE_CTX_get_error(ctx) == X509_V_ERR_UNABLE_TO_GET_CRL)
		return 1;
	return ok;
}

/* The client CA bundle and the CRLs (each CRL of a CA in the bundle must verify by it). */
static int load_ca(struct hs_cert_set *s, const struct sg_hs_certs_conf *conf, char *err,
                   size_t err_len)
{
	STACK_OF(X509) *cas = NULL;
	struct file_buf f;
	X509_CRL *crl;
	int i, j, rc = read_certs("ca", conf->ca_file, &cas, err, err_len);

	if (rc < 0)
		return rc;
	rc = -EINVAL;
	s->store = X509_STORE_new();
	s->crls = sk_X509_CRL_new_null();
	if (s->store == NULL || s->crls == NULL) {
		set_err(err, err_len, "ca %s: out of memory", conf->ca_file);
		rc = -ENOMEM;
		goto out;
	}
	for (i = 0; i < sk_X509_num(cas); i++) {
		if (X509_STORE_add_cert(s->store, sk_X509_value(cas, i)) != 1) {
			set_err(err, err_len, "ca %s: certificate %d: %s", conf->ca_file, i + 1,
			        ossl_reason());
			goto out;
		}
	}
	X509_STORE_set_verify_cb(s->store, verify_cb);
	if (conf->crl_file == NULL) {
		rc = 0;
		goto out;
	}
	rc = file_read("crl", conf->crl_file, &f, err, err_len);
	if (rc < 0)
		goto out;
	rc = -EINVAL;
	ERR_clear_error();
	while ((crl = PEM_read_bio_X509_CRL(f.bio, NULL, no_passphrase, NULL)) != NULL) {
		int n = sk_X509_CRL_num(s->crls) + 1;
		ASN1_INTEGER *zero = ASN1_INTEGER_new();
		X509_REVOKED *r;

		if (sk_X509_CRL_push(s->crls, crl) <= 0 || zero == NULL) {
			X509_CRL_free(crl);
			ASN1_INTEGER_free(zero);
			set_err(err, err_len, "crl %s: out of memory", conf->crl_file);
			goto out_file;
		}
		for (j = 0; j < sk_X509_num(cas); j++) {
			X509 *ca = sk_X509_value(cas, j);

			if (X509_NAME_cmp(X509_CRL_get_issuer(crl), X509_get_subject_name(ca)) ==
			            0 &&
			    X509_CRL_verify(crl, X509_get0_pubkey(ca)) != 1) {
				set_err(err, err_len,
				        "crl %s: CRL %d does not verify by its CA in %s",
				        conf->crl_file, n, conf->ca_file);
				ASN1_INTEGER_free(zero);
				goto out_file;
			}
		}
		/* OpenSSL sorts a CRL's revoked list on its first lookup: do it
		 * now, on one thread, rather than on an engine's first check. */
		X509_CRL_get0_by_serial(crl, &r, zero);
		ASN1_INTEGER_free(zero);
		if (X509_STORE_add_crl(s->store, crl) != 1) {
			set_err(err, err_len, "crl %s: CRL %d: %s", conf->crl_file, n,
			        ossl_reason());
			goto out_file;
		}
	}
	if (ERR_GET_REASON(ERR_peek_last_error()) != PEM_R_NO_START_LINE) {
		set_err(err, err_len, "crl %s: CRL %d does not parse: %s", conf->crl_file,
		        sk_X509_CRL_num(s->crls) + 1, ossl_reason());
		goto out_file;
	}
	ERR_clear_error();
	if (sk_X509_CRL_num(s->crls) == 0) {
		set_err(err, err_len, "crl %s: no PEM CRL in the file", conf->crl_file);
		goto out_file;
	}
	/* Every certificate of a chain against the CRLs we have (verify_cb: a CA without
	 * one is not checked). */
	X509_STORE_set_flags(s->store, X509_V_FLAG_CRL_CHECK | X509_V_FLAG_CRL_CHECK_ALL);
	rc = 0;
out_file:
	file_free(&f);
out:
	sk_X509_pop_free(cas, X509_free);
	return rc;
}

static int check_conf(const struct sg_hs_certs_conf *conf, char *err, size_t err_len)
{
	if (conf == NULL) {
		set_err(err, err_len, "no certificate configuration");
		return -EINVAL;
	}
	if (conf->client_auth > SG_HS_CLIENT_AUTH_NONE ||
	    conf->identity_from > SG_HS_CERT_ID_SAN_URI) {
		set_err(err, err_len, "client_auth %u or cert_identity %u unknown",
		        conf->client_auth, conf->identity_from);
		return -EINVAL;
	}
	if (conf->key_file == NULL) {
		set_err(err, err_len,
		        "no key: a certificate or raw public key needs its private key");
		return -EINVAL;
	}
	if (conf->cert_file == NULL && !conf->rpk) {
		set_err(err, err_len,
		        "key %s: neither a certificate nor raw public keys (rpk) to present",
		        conf->key_file);
		return -EINVAL;
	}
	if (conf->rpk_key_file != NULL && !conf->rpk) {
		set_err(err, err_len, "rpk_key %s set but raw public keys (rpk) are off",
		        conf->rpk_key_file);
		return -EINVAL;
	}
	if (conf->crl_file != NULL && conf->ca_file == NULL) {
		set_err(err, err_len, "crl %s without a ca bundle", conf->crl_file);
		return -EINVAL;
	}
	if (conf->client_auth != SG_HS_CLIENT_AUTH_NONE && conf->ca_file == NULL && !conf->rpk) {
		set_err(err, err_len,
		        "client_auth asks for client certificates but neither a ca bundle nor raw "
		        "public keys accept them");
		return -EINVAL;
	}
	if (conf->sign_pool > POOL_MAX || conf->verify_cache > CACHE_MAX) {
		set_err(err, err_len, "sign_pool %u (at most %u) or verify_cache %u (at most %u)",
		        conf->sign_pool, POOL_MAX, conf->verify_cache, CACHE_MAX);
		return -EINVAL;
	}
	return 0;
}

/* A new set from conf, one reference; NULL with the message in err and errno. */
static struct hs_cert_set *set_load(const struct sg_hs_certs_conf *conf, char *err, size_t err_len)
{
	struct hs_cert_set *s;
	uint32_t cache;
	int rc;

	rc = check_conf(conf, err, err_len);
	if (rc < 0)
		goto fail_errno;
	s = calloc(1, sizeof(*s));
	if (s == NULL) {
		set_err(err, err_len, "out of memory");
		rc = -ENOMEM;
		goto fail_errno;
	}
	atomic_init(&s->refs, 1);
	pthread_mutex_init(&s->pool_lock, NULL);
	pthread_mutex_init(&s->cache_lock, NULL);
	s->client_auth = conf->client_auth;
	s->identity_from = conf->identity_from;
	s->rpk = conf->rpk != 0;
	s->require_policy = conf->require_policy != 0;
	rc = load_key(s, conf->key_file, err, err_len);
	if (rc == 0 && conf->cert_file != NULL)
		rc = load_chain(s, conf, err, err_len);
	if (rc == 0 && s->rpk)
		rc = load_rpk(s, conf, err, err_len);
	if (rc == 0 && conf->ca_file != NULL)
		rc = load_ca(s, conf, err, err_len);
	if (rc < 0)
		goto fail;
	s->pool_size = conf->sign_pool ? conf->sign_pool : POOL_DEFAULT;
	cache = conf->verify_cache ? conf->verify_cache : CACHE_DEFAULT;
	s->cache_ways = cache < CACHE_WAYS ? cache : CACHE_WAYS;
	s->cache_buckets = cache / s->cache_ways;
	s->pool = calloc(s->pool_size, sizeof(*s->pool));
	s->cache = calloc((size_t)s->cache_buckets * s->cache_ways, sizeof(*s->cache));
	if (s->pool == NULL || s->cache == NULL) {
		set_err(err, err_len, "out of memory for sign_pool %u / verify_cache %u",
		        s->pool_size, cache);
		rc = -ENOMEM;
		goto fail;
	}
	return s;
fail:
	set_free(s);
fail_errno:
	errno = -rc;
	return NULL;
}

/* ---- the object ------------------------------------------------------------------- */

struct sg_hs_certs *sg_hs_certs_create(const struct sg_hs_certs_conf *conf, char *err,
                                       size_t err_len)
{
	struct sg_hs_certs *c = calloc(1, sizeof(*c));

	if (c == NULL) {
		set_err(err, err_len, "out of memory");
		errno = ENOMEM;
		return NULL;
	}
	c->cur = set_load(conf, err, err_len);
	if (c->cur == NULL) {
		int e = errno;

		free(c);
		errno = e;
		return NULL;
	}
	pthread_mutex_init(&c->lock, NULL);
	c->generation = 1;
	return c;
}

int sg_hs_certs_reload(struct sg_hs_certs *c, const struct sg_hs_certs_conf *conf, char *err,
                       size_t err_len)
{
	struct hs_cert_set *s, *old;

	if (c == NULL) {
		set_err(err, err_len, "no certificate object");
		return -EINVAL;
	}
	s = set_load(conf, err, err_len);
	if (s == NULL)
		return -errno;
	pthread_mutex_lock(&c->lock);
	old = c->cur;
	c->cur = s;
	c->generation++;
	pthread_mutex_unlock(&c->lock);
	/* Handshakes that hold the old set keep it until their release. */
	sg_hs_certs_release(old);
	return 0;
}

const struct hs_cert_set *sg_hs_certs_acquire(struct sg_hs_certs *c)
{
	struct hs_cert_set *s;

	if (c == NULL)
		return NULL;
	pthread_mutex_lock(&c->lock);
	s = c->cur;
	atomic_fetch_add_explicit(&s->refs, 1, memory_order_relaxed);
	pthread_mutex_unlock(&c->lock);
	return s;
}

void sg_hs_certs_release(const struct hs_cert_set *s)
{
	struct hs_cert_set *m = (struct hs_cert_set *)s; /* the count is not the set's content */

	if (m == NULL)
		return;
	/* acq_rel: the last holder sees every other holder's use before freeing. */
	if (atomic_fetch_sub_explicit(&m->refs, 1, memory_order_acq_rel) == 1)
		set_free(m);
}

void sg_hs_certs_info_get(const struct sg_hs_certs *c, struct sg_hs_certs_info *info)
{
	struct sg_hs_certs *m = (struct sg_hs_certs *)c; /* the lock is not the object's content */
	struct hs_cert_set *s;

	memset(info, 0, sizeof(*info));
	if (c == NULL)
		return;
	pthread_mutex_lock(&m->lock);
	s = m->cur;
	info->generation = m->generation;
	info->not_after = s->not_after;
	info->curve = s->curve;
	memcpy(info->subject, s->subject, sizeof(info->subject));
	pthread_mutex_lock(&s->pool_lock);
	info->pool_ready = s->pool_ready;
	info->pool_size = s->pool_size;
	pthread_mutex_unlock(&s->pool_lock);
	pthread_mutex_lock(&s->cache_lock);
	info->cache_entries = s->cache_entries;
	pthread_mutex_unlock(&s->cache_lock);
	pthread_mutex_unlock(&m->lock);
	info->cache_hits = atomic_load_explicit(&m->cache_hits, memory_order_relaxed);
	info->cache_misses = atomic_load_explicit(&m->cache_misses, memory_order_relaxed);
}

void sg_hs_certs_free(struct sg_hs_certs *c)
{
	if (c == NULL)
		return;
	sg_hs_certs_release(c->cur);
	pthread_mutex_destroy(&c->lock);
	free(c);
}

/* ---- what a set is ---------------------------------------------------------------- */

bool hs_cert_has_x509(const struct hs_cert_set *s)
{
	return s != NULL && s->x509_body != NULL;
}

bool hs_cert_has_rpk(const struct hs_cert_set *s)
{
	return s != NULL && s->rpk_body != NULL;
}

bool hs_cert_accepts_x509(const struct hs_cert_set *s)
{
	return s != NULL && s->store != NULL;
}

bool hs_cert_accepts_rpk(const struct hs_cert_set *s)
{
	return s != NULL && s->rpk;
}

uint8_t hs_cert_client_auth(const struct hs_cert_set *s)
{
	return s != NULL ? s->client_auth : SG_HS_CLIENT_AUTH_NONE;
}

bool hs_cert_require_policy(const struct hs_cert_set *s)
{
	return s != NULL && s->require_policy;
}

uint8_t hs_cert_identity_from(const struct hs_cert_set *s)
{
	return s != NULL ? s->identity_from : SG_HS_CERT_ID_CN;
}

const uint8_t *hs_cert_body(const struct hs_cert_set *s, bool rpk, size_t *len)
{
	const uint8_t *b = s == NULL ? NULL : rpk ? s->rpk_body : s->x509_body;

	*len = b == NULL ? 0 : rpk ? s->rpk_len : s->x509_len;
	return b;
}

uint16_t hs_cert_curve(const struct hs_cert_set *s)
{
	return s != NULL ? s->curve : 0;
}

uint16_t hs_cert_scheme(const struct hs_cert_set *s)
{
	return s != NULL ? s->scheme : 0;
}

/* ---- signing ---------------------------------------------------------------------- */

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations" /* see set_ec_key() */

unsigned sg_hs_certs_refill(struct sg_hs_certs *c, unsigned max)
{
	struct hs_cert_set *s = (struct hs_cert_set *)sg_hs_certs_acquire(c);
	BN_CTX *bn = BN_CTX_secure_new();
	unsigned added = 0;

	if (s == NULL || bn == NULL)
		goto out;
	while (added < max) {
		struct nonce n = { NULL, NULL };
		bool full;

		pthread_mutex_lock(&s->pool_lock);
		full = s->pool_ready >= s->pool_size;
		pthread_mutex_unlock(&s->pool_lock);
		if (full)
			break;
		/* k random in [1, n), k^-1 and r = x(kG) mod n: the costly half of a signature. */
		if (ECDSA_sign_setup(s->eckey, bn, &n.kinv, &n.r) != 1) {
			nonce_free(&n);
			ERR_clear_error();
			break;
		}
		pthread_mutex_lock(&s->pool_lock);
		full = s->pool_ready >= s->pool_size;
		if (!full)
			s->pool[s->pool_ready++] = n;
		pthread_mutex_unlock(&s->pool_lock);
		if (full) {
			nonce_free(&n);
			break;
		}
		added++;
	}
out:
	BN_CTX_free(bn);
	sg_hs_certs_release(s);
	return added;
}

/* One nonce out of the pool (each used once); false when it is empty. */
static bool pool_take(struct hs_cert_set *s, struct nonce *n)
{
	bool got;

	pthread_mutex_lock(&s->pool_lock);
	got = s->pool_ready > 0;
	if (got) {
		*n = s->pool[--s->pool_ready];
		s->pool[s->pool_ready].kinv = NULL;
		s->pool[s->pool_ready].r = NULL;
	}
	pthread_mutex_unlock(&s->pool_lock);
	return got;
}

int hs_cert_sign(struct sg_hs_certs *c, const struct hs_cert_set *s, const uint8_t *digest,
                 size_t digest_len, uint8_t *sig, size_t *sig_len, bool *precomputed)
{
	struct hs_cert_set *m = (struct hs_cert_set *)s; /* its pool only */
	ECDSA_SIG *es = NULL;
	struct nonce n;
	uint8_t *p = sig;
	int l;

	(void)c; /* the pool is the set's: its nonces belong to its key's curve */
	*precomputed = false;
	if (s == NULL || (digest_len != SHA256_DIGEST_LENGTH && digest_len != SHA384_DIGEST_LENGTH))
		return -EINVAL;
	if (pool_take(m, &n)) {
		es = ECDSA_do_sign_ex(digest, (int)digest_len, n.kinv, n.r, s->eckey);
		nonce_free(&n);
		*precomputed = es != NULL;
	}
	/* Pool empty, or s came out 0 with that nonce: a fresh one (never the same twice). */
	if (es == NULL)
		es = ECDSA_do_sign_ex(digest, (int)digest_len, NULL, NULL, s->eckey);
	if (es == NULL) {
		ERR_clear_error();
		return -EIO;
	}
	l = i2d_ECDSA_SIG(es, NULL);
	if (l <= 0 || l > HS_CERT_SIG_MAX) {
		ECDSA_SIG_free(es);
		return -EIO;
	}
	i2d_ECDSA_SIG(es, &p);
	ECDSA_SIG_free(es);
	*sig_len = (size_t)l;
	return 0;
}

#pragma GCC diagnostic pop

/* ---- peers' keys ------------------------------------------------------------------ */

/* The uncompressed point of a P-256 / P-384 key; 0 or the failure's counter. */
static int peer_key_of(const EVP_PKEY *pk, struct hs_peer_key *key)
{
	BIGNUM *x = NULL, *y = NULL;
	uint16_t curve;
	size_t fl;
	int rc = SG_HS_C_FAIL_BAD_CERT;

	if (pk == NULL || !EVP_PKEY_is_a(pk, "EC"))
		return SG_HS_C_FAIL_BAD_CERT; /* not an ECDSA key (handshake.h: wrong key type) */
	curve = curve_of(pk);
	if (curve == 0)
		return SG_HS_C_FAIL_UNSUPPORTED_CERT; /* an EC key on a curve we do not speak */
	fl = field_len(curve);
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

/* An identity: printable as a name, no NUL, 1 .. SG_TLS_PSK_IDENTITY_MAX bytes. */
static int identity_put(const uint8_t *v, int len, uint8_t *identity, uint16_t *identity_len)
{
	if (v == NULL || len <= 0 || len > SG_TLS_PSK_IDENTITY_MAX || memchr(v, 0, (size_t)len))
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

/* ---- the verified-chain cache ----------------------------------------------------- */

static struct cache_entry *cache_bucket(const struct hs_cert_set *s, const uint8_t *hash)
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
	struct cache_entry *b = cache_bucket(s, hash);
	X509_REVOKED *revoked;
	uint32_t i;

	for (i = 0; i < s->cache_ways; i++) {
		struct cache_entry *e = &b[i];

		if (e->stamp == 0 || memcmp(e->hash, hash, sizeof(e->hash)) != 0)
			continue;
		if (now < e->not_before || now >= e->expires ||
		    (e->crl != NULL &&
		     X509_CRL_get0_by_serial((X509_CRL *)e->crl, &revoked, e->serial) == 1)) {
			cache_entry_clear(s, e);
			return false;
		}
		e->stamp = ++s->cache_clock;
		*key = e->key;
		memcpy(identity, e->identity, e->identity_len);
		*identity_len = e->identity_len;
		return true;
	}
	return false;
}

/* Keep a verified chain: its own slot, else an empty one, else the least recently used. */
static void cache_put(struct hs_cert_set *s, const uint8_t *hash, const struct cache_entry *n)
{
	struct cache_entry *b = cache_bucket(s, hash), *victim = &b[0];
	uint32_t i;

	for (i = 0; i < s->cache_ways; i++) {
		if (b[i].stamp != 0 && memcmp(b[i].hash, hash, sizeof(b[i].hash)) == 0) {
			victim = &b[i];
			break;
		}
		if (b[i].stamp < victim->stamp)
			victim = &b[i];
	}
	cache_entry_clear(s, victim);
	*victim = *n;
	victim->stamp = ++s->cache_clock;
	s->cache_entries++;
}

/* The cache entry of a verified chain (the leaf first in chain). false: not cacheable. */
static bool cache_entry_of(const struct hs_cert_set *s, STACK_OF(X509) * chain,
                           struct cache_entry *e)
{
	X509 *leaf = sk_X509_value(chain, 0);
	int i;

	e->not_before = INT64_MIN;
	e->expires = INT64_MAX;
	for (i = 0; i < sk_X509_num(chain); i++) {
		X509 *x = sk_X509_value(chain, i);
		int64_t nb = asn1_unix(X509_get0_notBefore(x)),
		        na = asn1_unix(X509_get0_notAfter(x));

		if (na == 0)
			return false;
		e->not_before = nb > e->not_before ? nb : e->not_before;
		e->expires = na < e->expires ? na : e->expires;
	}
	for (i = 0; i < sk_X509_CRL_num(s->crls); i++) {
		const X509_CRL *crl = sk_X509_CRL_value(s->crls, i);
		int64_t next = asn1_unix(X509_CRL_get0_nextUpdate(crl));

		if (X509_NAME_cmp(X509_CRL_get_issuer(crl), X509_get_issuer_name(leaf)) == 0)
			e->crl = crl;
		if (next != 0 && next < e->expires)
			e->expires = next; /* a stale CRL is OpenSSL's failure: verify again then */
	}
	if (ASN1_STRING_length(X509_get0_serialNumber(leaf)) > (int)SERIAL_MAX)
		return false;
	e->serial = ASN1_INTEGER_dup(X509_get0_serialNumber(leaf));
	return e->serial != NULL;
}

/* ---- client chains ---------------------------------------------------------------- */

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

int hs_cert_verify_x509(struct sg_hs_certs *c, const struct hs_cert_set *s, const uint8_t *list,
                        size_t len, int64_t now_unix, struct hs_peer_key *key, uint8_t *identity,
                        uint16_t *identity_len)
{
	struct hs_cert_set *m = (struct hs_cert_set *)s; /* its cache only */
	const uint8_t *der[CHAIN_CERTS_MAX];
	size_t der_len[CHAIN_CERTS_MAX], off = 0, n = 0, i;
	uint8_t hash[SHA256_DIGEST_LENGTH];
	STACK_OF(X509) *untrusted = NULL;
	struct cache_entry e;
	X509_STORE_CTX *ctx = NULL;
	X509 *leaf = NULL;
	bool hit;
	int rc = SG_HS_C_FAIL_BAD_CERT;

	if (s == NULL || s->store == NULL)
		return SG_HS_C_FAIL_UNSUPPORTED_CERT; /* no CA bundle: X.509 never offered */
	if (list == NULL || len == 0 || len > SG_TLS_CERT_CHAIN_MAX)
		return SG_HS_C_FAIL_BAD_CERT;
	/* opaque ASN.1Cert<1..2^24-1>, leaf first (RFC 5246 §7.4.2) */
	while (off < len) {
		size_t l;

		if (len - off < 3 || n == CHAIN_CERTS_MAX)
			return SG_HS_C_FAIL_BAD_CERT;
		l = sg_load_be24(list + off);
		if (l == 0 || l > len - off - 3)
			return SG_HS_C_FAIL_BAD_CERT;
		der[n] = list + off + 3;
		der_len[n++] = l;
		off += 3 + l;
	}
	SHA256(der[0], der_len[0], hash);
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
	for (i = 0; i < n; i++) {
		const uint8_t *p = der[i];
		X509 *x = d2i_X509(NULL, &p, (long)der_len[i]);

		if (x == NULL || p != der[i] + der_len[i]) {
			X509_free(x);
			goto out;
		}
		if (i == 0)
			leaf = x;
		else if (sk_X509_push(untrusted, x) <= 0) {
			X509_free(x);
			rc = SG_HS_C_FAIL_INTERNAL;
			goto out;
		}
	}
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
	if (rc != 0)
		goto out;
	memset(&e, 0, sizeof(e));
	if (cache_entry_of(s, X509_STORE_CTX_get0_chain(ctx), &e)) {
		memcpy(e.hash, hash, sizeof(e.hash));
		e.key = *key;
		e.identity_len = *identity_len;
		memcpy(e.identity, identity, *identity_len);
		pthread_mutex_lock(&m->cache_lock);
		cache_put(m, hash, &e);
		pthread_mutex_unlock(&m->cache_lock);
	} else {
		ASN1_INTEGER_free(e.serial);
	}
out:
	X509_STORE_CTX_free(ctx);
	X509_free(leaf);
	sk_X509_pop_free(untrusted, X509_free);
	ERR_clear_error();
	return rc;
}

/* ---- CertificateVerify ------------------------------------------------------------ */

int hs_cert_verify_sig(const struct hs_peer_key *key, uint16_t scheme, const uint8_t *digest,
                       size_t digest_len, const uint8_t *sig, size_t sig_len)
{
	const char *group;
	OSSL_PARAM params[3];
	EVP_PKEY_CTX *ctx = NULL;
	EVP_PKEY *pk = NULL;
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
	if (key->curve == SG_TLS_GROUP_SECP256R1)
		group = SN_X9_62_prime256v1;
	else if (key->curve == SG_TLS_GROUP_SECP384R1)
		group = SN_secp384r1;
	else
		return -EBADMSG;
	if (key->point_len != 1 + 2 * field_len(key->curve))
		return -EBADMSG;
	params[0] = OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, (char *)group, 0);
	params[1] = OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY, (void *)key->point,
	                                              key->point_len);
	params[2] = OSSL_PARAM_construct_end();
	ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
	if (ctx == NULL || EVP_PKEY_fromdata_init(ctx) != 1 ||
	    EVP_PKEY_fromdata(ctx, &pk, EVP_PKEY_PUBLIC_KEY, params) != 1)
		goto out;
	EVP_PKEY_CTX_free(ctx);
	ctx = EVP_PKEY_CTX_new_from_pkey(NULL, pk, NULL);
	/* The provider decodes the DER strictly (it re-encodes and compares): BER refused. */
	if (ctx != NULL && EVP_PKEY_verify_init(ctx) == 1 &&
	    EVP_PKEY_verify(ctx, sig, sig_len, digest, digest_len) == 1)
		rc = 0;
out:
	EVP_PKEY_CTX_free(ctx);
	EVP_PKEY_free(pk);
	ERR_clear_error();
	return rc;
}
