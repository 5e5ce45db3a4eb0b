/* SPDX-License-Identifier: Apache-2.0 */
/*
 * One loaded set of certificates and keys (internal to the hs_cert files):
 * struct hs_cert_set and the object that swaps sets, struct sg_hs_certs,
 * and loading a set from the files of struct sg_hs_certs_conf. hs_cert.c
 * (the object, acquire / release), hs_cert_sign.c (the nonce pool, signing)
 * and hs_cert_verify.c (peers' keys, chains and the cache) read and write
 * these structures; nothing outside those files does (hs_cert.h is the
 * interface).
 *
 * Threads: a set is built on the owner thread and immutable once published,
 * except its nonce pool (pool_lock) and its cache (cache_lock), which engine
 * threads share; refs counts its holders.
 */
#ifndef STORMGATE_CONTROL_HS_CERT_SET_H
#define STORMGATE_CONTROL_HS_CERT_SET_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/asn1.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/sha.h>
#include <openssl/x509.h>

#include <stormgate/dtls.h>
#include <stormgate/handshake.h>

/* One precomputed ECDSA nonce: k^-1 mod n and r = x(kG) mod n (secrets until used). */
struct hs_cert_nonce {
	BIGNUM *kinv;
	BIGNUM *r;
};

/* A client certificate whose chain verified under this set (the leaf's DER hash). */
struct hs_cert_cache_entry {
	uint8_t hash[SHA256_DIGEST_LENGTH];
	uint64_t stamp;     /* last use (the set's clock); 0: empty */
	int64_t not_before; /* latest notBefore of the chain or thisUpdate of a CRL */
	int64_t expires;    /* earliest notAfter of the chain or nextUpdate of a CRL */
	ASN1_INTEGER *serial;
	const X509_CRL *crl; /* the CRL of the leaf's issuer (the set's); NULL: none */
	/* the leaf's key as struct hs_peer_key (hs_cert.h) holds it */
	uint16_t key_curve;
	uint8_t key_len;
	uint8_t key_point[97];
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
	struct hs_cert_nonce *pool; /* pool[0 .. pool_ready) */
	uint32_t pool_size;
	uint32_t pool_ready;

	pthread_mutex_t cache_lock;
	struct hs_cert_cache_entry *cache; /* cache_buckets x cache_ways */
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

/*
 * A new set from conf's files, with one reference; NULL with errno set and
 * a message naming the file and the problem in err. The owner thread.
 */
struct hs_cert_set *hs_cert_set_load(const struct sg_hs_certs_conf *conf, char *err,
                                     size_t err_len);

/* Free s and everything it owns, wiping the secrets. NULL: no-op. Its last holder. */
void hs_cert_set_free(struct hs_cert_set *s);

/* Empty a cache entry (its serial freed, the count kept). Under s->cache_lock. */
void hs_cert_cache_clear(struct hs_cert_set *s, struct hs_cert_cache_entry *e);

/* SG_TLS_GROUP_* of an EC key on P-256 or P-384; 0 for any other key. */
uint16_t hs_cert_curve_of(const EVP_PKEY *pk);

/* Bytes of a coordinate of curve (32 or 48). */
size_t hs_cert_field_len(uint16_t curve);

/* Seconds since the epoch of an ASN.1 time; 0 when it does not convert. */
int64_t hs_cert_asn1_unix(const ASN1_TIME *t);

#endif /* STORMGATE_CONTROL_HS_CERT_SET_H */
