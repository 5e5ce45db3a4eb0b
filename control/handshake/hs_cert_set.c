/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Loading a set of certificates and keys (hs_cert_set.h) from the PEM files
 * of struct sg_hs_certs_conf: our private key (EC P-256 or P-384, never
 * encrypted: no passphrase prompt on the daemon's terminal), our chain and
 * its Certificate body, our raw public key (RFC 7250), the client CA bundle
 * and CRLs into an X509_STORE; each failure is one message naming the file
 * and the problem. And freeing a set. The owner thread (loading); a set's
 * last holder (freeing).
 *
 * Secrets: the key file's bytes are read into our own buffer and wiped
 * after parsing; the private key is OpenSSL's (EC scalars cleared on free);
 * the nonces left in the pool are BN_clear_free()d.
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
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/obj_mac.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <stormgate/bytes.h>
#include <stormgate/common.h>
#include <stormgate/handshake.h>

#include "hs_cert_set.h"

#define POOL_DEFAULT  1024u
#define POOL_MAX      (1u << 20)
#define CACHE_DEFAULT 4096u
#define CACHE_MAX     (1u << 22)
#define CACHE_WAYS    4u
#define PEM_FILE_MAX  (64u << 20) /* a CA bundle or CRL file: larger is refused */

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
uint16_t hs_cert_curve_of(const EVP_PKEY *pk)
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

size_t hs_cert_field_len(uint16_t curve)
{
	return curve == SG_TLS_GROUP_SECP384R1 ? 48 : 32;
}

/* Seconds since the epoch of an ASN.1 time; 0 when it does not convert. */
int64_t hs_cert_asn1_unix(const ASN1_TIME *t)
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

static void nonce_free(struct hs_cert_nonce *n)
{
	BN_clear_free(n->kinv);
	BN_clear_free(n->r);
	n->kinv = NULL;
	n->r = NULL;
}

void hs_cert_cache_clear(struct hs_cert_set *s, struct hs_cert_cache_entry *e)
{
	if (e->stamp != 0)
		s->cache_entries--;
	ASN1_INTEGER_free(e->serial);
	memset(e, 0, sizeof(*e));
}

void hs_cert_set_free(struct hs_cert_set *s)
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
			hs_cert_cache_clear(s, &s->cache[i]);
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
	s->curve = hs_cert_curve_of(s->pkey);
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
	s->not_after = hs_cert_asn1_unix(X509_get0_notAfter(leaf));
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

/*
 * The CRLs of crl_file into the set's store (and s->crls): each must parse,
 * and one whose issuer is in the CA bundle must verify by it. The revoked
 * list of each is sorted here, on one thread (OpenSSL sorts it on its first
 * lookup otherwise, i.e. on an engine's first check).
 */
static int load_crls(struct hs_cert_set *s, const struct sg_hs_certs_conf *conf,
                     STACK_OF(X509) * cas, char *err, size_t err_len)
{
	struct file_buf f;
	X509_CRL *crl;
	int j, rc = file_read("crl", conf->crl_file, &f, err, err_len);

	if (rc < 0)
		return rc;
	rc = -EINVAL;
	ERR_clear_error();
	while ((crl = PEM_read_bio_X509_CRL(f.bio, NULL, no_passphrase, NULL)) != NULL) {
		int n = sk_X509_CRL_num(s->crls) + 1;
		ASN1_INTEGER *zero;
		X509_REVOKED *r;

		if (sk_X509_CRL_push(s->crls, crl) <= 0) {
			X509_CRL_free(crl);
			set_err(err, err_len, "crl %s: out of memory", conf->crl_file);
			goto out;
		}
		for (j = 0; j < sk_X509_num(cas); j++) {
			X509 *ca = sk_X509_value(cas, j);

			if (X509_NAME_cmp(X509_CRL_get_issuer(crl), X509_get_subject_name(ca)) ==
			            0 &&
			    X509_CRL_verify(crl, X509_get0_pubkey(ca)) != 1) {
				set_err(err, err_len,
				        "crl %s: CRL %d does not verify by its CA in %s",
				        conf->crl_file, n, conf->ca_file);
				goto out;
			}
		}
		zero = ASN1_INTEGER_new();
		if (zero == NULL) {
			set_err(err, err_len, "crl %s: out of memory", conf->crl_file);
			goto out;
		}
		X509_CRL_get0_by_serial(crl, &r, zero);
		ASN1_INTEGER_free(zero);
		if (X509_STORE_add_crl(s->store, crl) != 1) {
			set_err(err, err_len, "crl %s: CRL %d: %s", conf->crl_file, n,
			        ossl_reason());
			goto out;
		}
	}
	if (ERR_GET_REASON(ERR_peek_last_error()) != PEM_R_NO_START_LINE) {
		set_err(err, err_len, "crl %s: CRL %d does not parse: %s", conf->crl_file,
		        sk_X509_CRL_num(s->crls) + 1, ossl_reason());
		goto out;
	}
	ERR_clear_error();
	if (sk_X509_CRL_num(s->crls) == 0) {
		set_err(err, err_len, "crl %s: no PEM CRL in the file", conf->crl_file);
		goto out;
	}
	/* Every certificate of a chain against the CRLs we have (verify_cb: a CA
	 * without one is not checked). */
	X509_STORE_set_flags(s->store, X509_V_FLAG_CRL_CHECK | X509_V_FLAG_CRL_CHECK_ALL);
	rc = 0;
out:
	file_free(&f);
	return rc;
}

/* The client CA bundle, then the CRLs if any. */
static int load_ca(struct hs_cert_set *s, const struct sg_hs_certs_conf *conf, char *err,
                   size_t err_len)
{
	STACK_OF(X509) *cas = NULL;
	int i, rc = read_certs("ca", conf->ca_file, &cas, err, err_len);

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
	rc = conf->crl_file != NULL ? load_crls(s, conf, cas, err, err_len) : 0;
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
struct hs_cert_set *hs_cert_set_load(const struct sg_hs_certs_conf *conf, char *err, size_t err_len)
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
	hs_cert_set_free(s);
fail_errno:
	errno = -rc;
	return NULL;
}
