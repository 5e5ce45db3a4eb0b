/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ECDHE of the handshake engine: X25519 on Nettle (keygen, fixed base) and
 * libsodium (derive), P-256 on OpenSSL libcrypto, and the reuse window.
 * See hs_ecdh.h for the choices. The engine's thread only.
 */
#include <errno.h>
#include <string.h>

#include <nettle/curve25519.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/obj_mac.h>
#include <openssl/params.h>
#include <sodium.h>

#include <stormgate/common.h>

#include "hs_ecdh.h"

_Static_assert(CURVE25519_SIZE == SG_HS_ECDH_PRIV_LEN, "Nettle's X25519 size");
_Static_assert(crypto_scalarmult_curve25519_BYTES == SG_HS_ECDH_SECRET_LEN,
               "libsodium's X25519 size");

int sg_hs_ecdh_init(struct sg_hs_ecdh *x, uint32_t reuse_ms)
{
	EVP_PKEY *k = NULL;

	memset(x, 0, sizeof(*x));
	if (reuse_ms > SG_HS_ECDH_REUSE_MAX)
		return -EINVAL;
	x->reuse_ms = reuse_ms;
	/* Picks libsodium's implementations for this CPU; 1: done before. */
	if (sodium_init() < 0)
		return -ENOMEM;
	x->p256_keygen = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
	x->p256_import = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
	if (x->p256_keygen == NULL || x->p256_import == NULL ||
	    EVP_PKEY_keygen_init(x->p256_keygen) != 1 ||
	    EVP_PKEY_CTX_set_group_name(x->p256_keygen, "P-256") != 1 ||
	    EVP_PKEY_fromdata_init(x->p256_import) != 1)
		goto fail;
	/*
	 * The peer key object is made once from a throw-away key and gets the
	 * client's public value with EVP_PKEY_set1_encoded_public_key() per
	 * handshake: building a fresh EVP_PKEY costs ~4 us in OpenSSL 3.0.
	 */
	if (EVP_PKEY_keygen(x->p256_keygen, &k) != 1)
		goto fail;
	x->p256_peer = k;
	return 0;
fail:
	sg_hs_ecdh_fini(x);
	return -ENOMEM;
}

void sg_hs_ecdh_fini(struct sg_hs_ecdh *x)
{
	EVP_PKEY_free(x->p256_peer);
	EVP_PKEY_CTX_free(x->p256_keygen);
	EVP_PKEY_CTX_free(x->p256_import);
	sg_wipe(x, sizeof(*x));
}

/* A fresh X25519 pair: 32 random bytes, their public share from the fixed base. */
static int x25519_fresh(struct sg_hs_crypto *c, struct sg_hs_ecdh_key *k)
{
	int rc = sg_hs_crypto_random(c, k->priv, SG_HS_ECDH_PRIV_LEN);

	if (rc < 0)
		return rc;
	/* Clamps a copy of the scalar itself (RFC 7748 §5). */
	curve25519_mul_g(k->pub, k->priv);
	k->pub_len = 32;
	return 0;
}

/* A fresh P-256 pair: the encoded point (RFC 8422 §5.4, uncompressed) and the scalar. */
static int p256_fresh(struct sg_hs_ecdh *x, struct sg_hs_ecdh_key *k)
{
	EVP_PKEY *pkey = NULL;
	BIGNUM *priv = NULL;
	size_t len = 0;
	int rc = -EIO;

	if (EVP_PKEY_keygen(x->p256_keygen, &pkey) != 1)
		return -ENOMEM;
	if (EVP_PKEY_get_octet_string_param(pkey, OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, k->pub,
	                                    sizeof(k->pub), &len) != 1 ||
	    len != 65)
		goto out;
	k->pub_len = 65;
	if (EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_PRIV_KEY, &priv) != 1 ||
	    BN_bn2nativepad(priv, k->priv, 32) != 32)
		goto out;
	rc = 0;
out:
	BN_clear_free(priv);
	EVP_PKEY_free(pkey);
	return rc;
}

int sg_hs_ecdh_keygen(struct sg_hs_ecdh *x, struct sg_hs_crypto *c, enum sg_hs_group group,
                      uint64_t now_ms, struct sg_hs_ecdh_key *k)
{
	struct sg_hs_ecdh_key *held = &x->held[group];
	int rc;

	if (x->reuse_ms && x->held_until[group] > now_ms) {
		*k = *held;
		return 0;
	}
	/* The window ended (or reuse is off): the old pair goes before a new one comes. */
	sg_hs_ecdh_clear(held);
	x->held_until[group] = 0;
	memset(k, 0, sizeof(*k));
	k->group = (uint8_t)group;
	rc = group == SG_HS_GROUP_X25519 ? x25519_fresh(c, k) : p256_fresh(x, k);
	if (rc < 0) {
		sg_hs_ecdh_clear(k);
		return rc;
	}
	if (x->reuse_ms) {
		*held = *k;
		x->held_until[group] = now_ms + x->reuse_ms;
	}
	return 0;
}

/* Rebuild the P-256 private key from its scalar and the public point. */
static EVP_PKEY *p256_import(struct sg_hs_ecdh *x, const struct sg_hs_ecdh_key *k)
{
	uint8_t scalar[32], pub[SG_HS_ECDH_PUB_MAX];
	EVP_PKEY *pkey = NULL;
	OSSL_PARAM params[4];

	memcpy(scalar, k->priv, sizeof(scalar));
	memcpy(pub, k->pub, k->pub_len);
	params[0] =
	        OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, (char *)"P-256", 0);
	params[1] = OSSL_PARAM_construct_BN(OSSL_PKEY_PARAM_PRIV_KEY, scalar, sizeof(scalar));
	params[2] = OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY, pub, k->pub_len);
	params[3] = OSSL_PARAM_construct_end();
	if (EVP_PKEY_fromdata(x->p256_import, &pkey, EVP_PKEY_KEYPAIR, params) != 1)
		pkey = NULL;
	sg_wipe(scalar, sizeof(scalar));
	return pkey;
}

static int p256_derive(struct sg_hs_ecdh *x, const struct sg_hs_ecdh_key *k, const uint8_t *peer,
                       size_t peer_len, uint8_t secret[SG_HS_ECDH_SECRET_LEN])
{
	EVP_PKEY *mine = NULL;
	EVP_PKEY_CTX *ctx = NULL;
	size_t len = SG_HS_ECDH_SECRET_LEN;
	int rc = -EIO;

	/* RFC 8422 §5.1.2/§5.11: uncompressed points only, on the curve. */
	if (peer_len != 65 || peer[0] != 0x04)
		return -EINVAL;
	/*
	 * OpenSSL decodes the point here: EC_POINT_oct2point refuses points off
	 * the curve, and the cofactor is 1, so that is the whole RFC 8422 §5.11
	 * check (hence no second validation at set_peer).
	 */
	if (EVP_PKEY_set1_encoded_public_key(x->p256_peer, peer, peer_len) != 1)
		return -EINVAL;
	mine = p256_import(x, k);
	if (mine == NULL)
		return -EIO;
	ctx = EVP_PKEY_CTX_new_from_pkey(NULL, mine, NULL);
	if (ctx == NULL || EVP_PKEY_derive_init(ctx) != 1 ||
	    EVP_PKEY_derive_set_peer_ex(ctx, x->p256_peer, 0) != 1)
		goto out;
	if (EVP_PKEY_derive(ctx, secret, &len) != 1 || len != SG_HS_ECDH_SECRET_LEN) {
		rc = -EINVAL;
		goto out;
	}
	rc = 0;
out:
	EVP_PKEY_CTX_free(ctx);
	EVP_PKEY_free(mine);
	return rc;
}

/* X25519 (RFC 7748 §5, §6.1). 0 or -EINVAL. */
static int x25519_derive(const struct sg_hs_ecdh_key *k, const uint8_t *peer, size_t peer_len,
                         uint8_t secret[SG_HS_ECDH_SECRET_LEN])
{
	/* RFC 8422 §5.11: an X25519 share is 32 bytes. */
	if (peer_len != 32)
		return -EINVAL;
	/*
	 * RFC 7748 §5: the scalar clamped, the u-coordinate's top bit masked and
	 * a non-canonical u (2^255 - 19 and above) taken mod p; libsodium does
	 * all three, and returns -1 for an all-zero result (§6.1: a low-order
	 * share), which we refuse.
	 */
	return crypto_scalarmult_curve25519(secret, k->priv, peer) == 0 ? 0 : -EINVAL;
}

int sg_hs_ecdh_derive(struct sg_hs_ecdh *x, const struct sg_hs_ecdh_key *k, const uint8_t *peer,
                      size_t peer_len, uint8_t secret[SG_HS_ECDH_SECRET_LEN])
{
	int rc;

	if (k->pub_len == 0)
		rc = -EINVAL; /* no key pair */
	else if (k->group == SG_HS_GROUP_P256)
		rc = p256_derive(x, k, peer, peer_len, secret);
	else
		rc = x25519_derive(k, peer, peer_len, secret);
	if (rc < 0)
		sg_wipe(secret, SG_HS_ECDH_SECRET_LEN);
	return rc;
}

int sg_hs_ecdh_key_from_private(struct sg_hs_ecdh *x, enum sg_hs_group group, const uint8_t *priv,
                                size_t len, struct sg_hs_ecdh_key *k)
{
	EC_GROUP *group_obj = NULL;
	EC_POINT *point = NULL;
	BIGNUM *bn = NULL;
	int rc = -EINVAL;

	(void)x; /* uniform signature; OpenSSL's default library context is used */
	memset(k, 0, sizeof(*k));
	k->group = (uint8_t)group;
	if (group == SG_HS_GROUP_X25519) {
		if (len != 32)
			return -EINVAL;
		memcpy(k->priv, priv, 32);
		curve25519_mul_g(k->pub, k->priv);
		k->pub_len = 32;
		return 0;
	}
	while (len > 32 && *priv == 0) {
		priv++;
		len--;
	}
	bn = BN_bin2bn(priv, (int)len, NULL);
	if (len > 32 || bn == NULL || BN_bn2nativepad(bn, k->priv, 32) != 32)
		goto out;
	/* The public point priv * G (RFC 8422 §5.4, uncompressed). */
	group_obj = EC_GROUP_new_by_curve_name(NID_X9_62_prime256v1);
	point = group_obj ? EC_POINT_new(group_obj) : NULL;
	if (point == NULL || EC_POINT_mul(group_obj, point, bn, NULL, NULL, NULL) != 1 ||
	    EC_POINT_point2oct(group_obj, point, POINT_CONVERSION_UNCOMPRESSED, k->pub,
	                       sizeof(k->pub), NULL) != 65) {
		rc = -EIO;
		goto out;
	}
	k->pub_len = 65;
	rc = 0;
out:
	EC_POINT_free(point);
	EC_GROUP_free(group_obj);
	BN_clear_free(bn);
	if (rc < 0)
		sg_hs_ecdh_clear(k);
	return rc;
}

void sg_hs_ecdh_clear(struct sg_hs_ecdh_key *k)
{
	sg_wipe(k, sizeof(*k));
}

int sg_hs_ecdh_reuse_set(struct sg_hs_ecdh *x, uint32_t ms)
{
	if (ms > SG_HS_ECDH_REUSE_MAX)
		return -EINVAL;
	if (ms == x->reuse_ms)
		return 0; /* the same window: the held pairs stay */
	x->reuse_ms = ms;
	for (unsigned g = 0; g < SG_HS_GROUP_COUNT; g++) {
		sg_hs_ecdh_clear(&x->held[g]);
		x->held_until[g] = 0;
	}
	return 0;
}

unsigned sg_hs_ecdh_expire(struct sg_hs_ecdh *x, uint64_t now_ms)
{
	unsigned n = 0;

	for (unsigned g = 0; g < SG_HS_GROUP_COUNT; g++) {
		if (x->held_until[g] == 0 || x->held_until[g] > now_ms)
			continue;
		sg_hs_ecdh_clear(&x->held[g]);
		x->held_until[g] = 0;
		n++;
	}
	return n;
}

uint64_t sg_hs_ecdh_next_expiry(const struct sg_hs_ecdh *x)
{
	uint64_t t = UINT64_MAX;

	for (unsigned g = 0; g < SG_HS_GROUP_COUNT; g++)
		if (x->held_until[g] && x->held_until[g] < t)
			t = x->held_until[g];
	return t;
}
