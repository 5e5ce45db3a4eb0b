/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Handshake crypto: HMAC / TLS 1.2 PRF on IPsec-MB, transcript hash and ECDH
 * on OpenSSL libcrypto. See hs_crypto.h for the choices.
 */
/* SHA256_Init & co: see hs_crypto.h for why; deprecated in 3.0, kept in 3.x. */
#define OPENSSL_SUPPRESS_DEPRECATED
/* IPsec-MB's pre-0.53 names (SHA1, SHA_256, ...) collide with OpenSSL's. */
#define NO_COMPAT_IMB_API_053

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <intel-ipsec-mb.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/obj_mac.h>
#include <openssl/params.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include <stormgate/bytes.h>
#include <stormgate/common.h>
#include <stormgate/dtls.h>
#include <stormgate/imb_job.h>

#include "hs_crypto.h"

static const unsigned block_len[SG_HS_HASH_COUNT] = { 64, 128 };

int sg_hs_crypto_init(struct sg_hs_crypto *c)
{
	memset(c, 0, sizeof(*c));
	/* Our own allocation, so the whole manager can be wiped before it is freed. */
	c->mgr_size = imb_get_mb_mgr_size();
	c->mgr_mem = aligned_alloc(SG_CACHE_LINE, (c->mgr_size + SG_CACHE_LINE - 1) &
	                                                  ~(size_t)(SG_CACHE_LINE - 1));
	if (c->mgr_mem == NULL)
		goto fail;
	c->mgr = imb_set_pointers_mb_mgr(c->mgr_mem, 0, 1);
	if (c->mgr == NULL)
		goto fail;
	init_mb_mgr_sse(c->mgr);
	if (imb_get_errno(c->mgr) != 0)
		goto fail;
	c->keygen[SG_HS_GROUP_X25519] = EVP_PKEY_CTX_new_from_name(NULL, "X25519", NULL);
	c->keygen[SG_HS_GROUP_P256] = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
	c->p256_import = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
	if (c->keygen[0] == NULL || c->keygen[1] == NULL || c->p256_import == NULL)
		goto fail;
	if (EVP_PKEY_keygen_init(c->keygen[SG_HS_GROUP_X25519]) != 1 ||
	    EVP_PKEY_keygen_init(c->keygen[SG_HS_GROUP_P256]) != 1 ||
	    EVP_PKEY_CTX_set_group_name(c->keygen[SG_HS_GROUP_P256], "P-256") != 1 ||
	    EVP_PKEY_fromdata_init(c->p256_import) != 1)
		goto fail;
	/*
	 * The peer key objects are made once from a throw-away key and get the
	 * client's public value with EVP_PKEY_set1_encoded_public_key() per
	 * handshake: building a fresh EVP_PKEY costs ~4 us in OpenSSL 3.0.
	 */
	for (int g = 0; g < SG_HS_GROUP_COUNT; g++) {
		EVP_PKEY *k = NULL;

		if (EVP_PKEY_keygen(c->keygen[g], &k) != 1)
			goto fail;
		c->peer[g] = k;
	}
	return 0;
fail:
	sg_hs_crypto_fini(c);
	return -ENOMEM;
}

void sg_hs_crypto_fini(struct sg_hs_crypto *c)
{
	for (int g = 0; g < SG_HS_GROUP_COUNT; g++) {
		EVP_PKEY_free(c->peer[g]);
		EVP_PKEY_CTX_free(c->keygen[g]);
	}
	EVP_PKEY_CTX_free(c->p256_import);
	sg_wipe(c->rnd, sizeof(c->rnd));
	if (c->mgr_mem) {
		/* The manager's lanes may hold HMAC states derived from secrets. */
		imb_clear_mem(c->mgr_mem, c->mgr_size);
		free(c->mgr_mem);
	}
	memset(c, 0, sizeof(*c));
}

/* ---- HMAC and PRF ------------------------------------------------------------ */

/* The SHA-256 / SHA-384 state after one block, as IPsec-MB's HMAC jobs want it. */
static void one_block(enum sg_hs_hash hash, const uint8_t *block, uint8_t *state)
{
	if (hash == SG_HS_SHA384) {
		SHA512_CTX x;

		SHA384_Init(&x);
		SHA384_Update(&x, block, 128);
		memcpy(state, x.h, 64);
		sg_wipe(&x, sizeof(x));
	} else {
		SHA256_CTX x;

		SHA256_Init(&x);
		SHA256_Update(&x, block, 64);
		memcpy(state, x.h, 32);
		sg_wipe(&x, sizeof(x));
	}
}

int sg_hs_hmac_key_set(struct sg_hs_crypto *c, enum sg_hs_hash hash, const uint8_t *key,
                       size_t key_len, struct sg_hs_hmac_key *k)
{
	uint8_t pad[128], hashed[SG_HS_HASH_MAX_LEN];
	unsigned bl = block_len[hash];

	(void)c;
	k->hash = (uint8_t)hash;
	/* RFC 2104 §2: keys longer than the block are hashed first. */
	if (key_len > bl) {
		if (hash == SG_HS_SHA384)
			SHA384(key, key_len, hashed);
		else
			SHA256(key, key_len, hashed);
		key = hashed;
		key_len = sg_hs_hash_len(hash);
	}
	memset(pad, 0x36, bl);
	for (size_t i = 0; i < key_len; i++)
		pad[i] ^= key[i];
	one_block(hash, pad, k->ipad);
	memset(pad, 0x5c, bl);
	for (size_t i = 0; i < key_len; i++)
		pad[i] ^= key[i];
	one_block(hash, pad, k->opad);
	sg_wipe(pad, sizeof(pad));
	sg_wipe(hashed, sizeof(hashed));
	return 0;
}

int sg_hs_hmac(struct sg_hs_crypto *c, const struct sg_hs_hmac_key *k, const uint8_t *msg,
               size_t len, uint8_t *out)
{
	enum sg_hs_hash h = (enum sg_hs_hash)k->hash;

	/* IPsec-MB refuses an empty HMAC message; the PRF never makes one. */
	if (len == 0)
		return -EINVAL;
	sg_imb_hmac_job(c->mgr, h == SG_HS_SHA384 ? IMB_AUTH_HMAC_SHA_384 : IMB_AUTH_HMAC_SHA_256,
	                k->ipad, k->opad, msg, len, out, sg_hs_hash_len(h));
	/* Unchecked: what IPsec-MB would refuse is refused above. One job in flight. */
	return sg_imb_job_done(c->mgr, IMB_SUBMIT_JOB_NOCHECK(c->mgr));
}

#define PRF_SEED_MAX 128
#define PRF_OUT_MAX  128

int sg_hs_prf(struct sg_hs_crypto *c, enum sg_hs_hash hash, const struct sg_hs_hmac_key *k,
              const uint8_t *secret, size_t secret_len, const char *label, const uint8_t *seed_a,
              size_t len_a, const uint8_t *seed_b, size_t len_b, uint8_t *out, size_t out_len)
{
	/* buf = A(i) ‖ label ‖ seed_a ‖ seed_b, so HMAC(A(i) ‖ seed) needs no copy. */
	uint8_t buf[SG_HS_HASH_MAX_LEN + PRF_SEED_MAX], a[SG_HS_HASH_MAX_LEN];
	uint8_t block[SG_HS_HASH_MAX_LEN];
	struct sg_hs_hmac_key local;
	unsigned hl = sg_hs_hash_len(hash);
	size_t label_len = strlen(label), seed_len = label_len + len_a + len_b;
	uint8_t *seed = buf + hl;
	int rc = 0;

	if (seed_len > PRF_SEED_MAX || out_len > PRF_OUT_MAX)
		return -EINVAL;
	if (k == NULL) {
		rc = sg_hs_hmac_key_set(c, hash, secret, secret_len, &local);
		if (rc < 0)
			goto out;
		k = &local;
	}
	memcpy(seed, label, label_len);
	if (len_a)
		memcpy(seed + label_len, seed_a, len_a);
	if (len_b)
		memcpy(seed + label_len + len_a, seed_b, len_b);
	/* RFC 5246 §5: A(1) = HMAC(secret, seed); A(i) = HMAC(secret, A(i-1)). */
	rc = sg_hs_hmac(c, k, seed, seed_len, a);
	for (size_t done = 0; rc == 0 && done < out_len;) {
		size_t n = out_len - done < hl ? out_len - done : hl;

		memcpy(buf, a, hl);
		rc = sg_hs_hmac(c, k, buf, hl + seed_len, block);
		if (rc < 0)
			break;
		memcpy(out + done, block, n);
		done += n;
		if (done < out_len)
			rc = sg_hs_hmac(c, k, a, hl, a);
	}
out:
	sg_wipe(buf, sizeof(buf));
	sg_wipe(a, sizeof(a));
	sg_wipe(block, sizeof(block));
	if (k == &local)
		sg_wipe(&local, sizeof(local));
	return rc;
}

/* ---- transcript ---------------------------------------------------------------- */

void sg_hs_transcript_start(struct sg_hs_transcript *t, enum sg_hs_hash hash)
{
	t->hash = (uint8_t)hash;
	if (hash == SG_HS_SHA384)
		SHA384_Init(&t->u.s512);
	else
		SHA256_Init(&t->u.s256);
}

void sg_hs_transcript_add(struct sg_hs_transcript *t, const uint8_t *p, size_t len)
{
	if (t->hash == SG_HS_SHA384)
		SHA384_Update(&t->u.s512, p, len);
	else
		SHA256_Update(&t->u.s256, p, len);
}

void sg_hs_transcript_add_msg(struct sg_hs_transcript *t, uint8_t type, uint16_t seq,
                              const uint8_t *body, size_t len)
{
	uint8_t hdr[SG_DTLS_HS_HDR_LEN];

	/* As one unfragmented message (RFC 6347 §4.2.6): offset 0, fragment = length. */
	hdr[0] = type;
	sg_store_be24(hdr + 1, (uint32_t)len);
	sg_store_be16(hdr + 4, seq);
	sg_store_be24(hdr + 6, 0);
	sg_store_be24(hdr + 9, (uint32_t)len);
	sg_hs_transcript_add(t, hdr, sizeof(hdr));
	if (len)
		sg_hs_transcript_add(t, body, len);
}

void sg_hs_transcript_peek(const struct sg_hs_transcript *t, uint8_t *out)
{
	if (t->hash == SG_HS_SHA384) {
		SHA512_CTX x = t->u.s512;

		SHA384_Final(out, &x);
	} else {
		SHA256_CTX x = t->u.s256;

		SHA256_Final(out, &x);
	}
}

/* ---- ECDH --------------------------------------------------------------------- */

int sg_hs_ecdh_keygen(struct sg_hs_crypto *c, enum sg_hs_group group, struct sg_hs_ecdh_key *k)
{
	EVP_PKEY *pkey = NULL;
	BIGNUM *priv = NULL;
	size_t len;
	int rc = -EIO;

	memset(k, 0, sizeof(*k));
	k->group = (uint8_t)group;
	if (EVP_PKEY_keygen(c->keygen[group], &pkey) != 1)
		return -ENOMEM;
	if (group == SG_HS_GROUP_X25519) {
		len = 32;
		if (EVP_PKEY_get_raw_public_key(pkey, k->pub, &len) != 1 || len != 32)
			goto out;
		k->pub_len = 32;
		k->pkey = pkey;
		return 0;
	}
	/* P-256: keep the encoded point (RFC 8422 §5.4, uncompressed) and the scalar. */
	len = 0;
	if (EVP_PKEY_get_octet_string_param(pkey, OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, k->pub,
	                                    sizeof(k->pub), &len) != 1 ||
	    len != 65)
		goto out;
	k->pub_len = 65;
	if (EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_PRIV_KEY, &priv) != 1 ||
	    BN_bn2nativepad(priv, k->scalar, 32) != 32)
		goto out;
	rc = 0;
out:
	BN_clear_free(priv);
	EVP_PKEY_free(pkey);
	if (rc < 0)
		sg_hs_ecdh_clear(k);
	return rc;
}

/* Rebuild the P-256 private key from its scalar and the public point. */
static EVP_PKEY *p256_import(struct sg_hs_crypto *c, const struct sg_hs_ecdh_key *k)
{
	uint8_t scalar[32], pub[SG_HS_ECDH_PUB_MAX];
	EVP_PKEY *pkey = NULL;
	OSSL_PARAM params[4];

	memcpy(scalar, k->scalar, sizeof(scalar));
	memcpy(pub, k->pub, k->pub_len);
	params[0] =
	        OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, (char *)"P-256", 0);
	params[1] = OSSL_PARAM_construct_BN(OSSL_PKEY_PARAM_PRIV_KEY, scalar, sizeof(scalar));
	params[2] = OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY, pub, k->pub_len);
	params[3] = OSSL_PARAM_construct_end();
	if (EVP_PKEY_fromdata(c->p256_import, &pkey, EVP_PKEY_KEYPAIR, params) != 1)
		pkey = NULL;
	sg_wipe(scalar, sizeof(scalar));
	return pkey;
}

int sg_hs_ecdh_derive(struct sg_hs_crypto *c, const struct sg_hs_ecdh_key *k, const uint8_t *peer,
                      size_t peer_len, uint8_t secret[SG_HS_ECDH_SECRET_LEN])
{
	EVP_PKEY *mine = k->pkey, *theirs = c->peer[k->group];
	EVP_PKEY_CTX *ctx = NULL;
	size_t len = SG_HS_ECDH_SECRET_LEN;
	int rc = -EINVAL;

	if (k->group == SG_HS_GROUP_X25519) {
		/* RFC 8422 §5.11: an X25519 share is 32 bytes. */
		if (peer_len != 32 || mine == NULL)
			return -EINVAL;
	} else {
		/* RFC 8422 §5.1.2/§5.11: uncompressed points only, on the curve. */
		if (peer_len != 65 || peer[0] != 0x04)
			return -EINVAL;
	}
	/*
	 * OpenSSL decodes the point here; for P-256 EC_POINT_oct2point refuses
	 * points off the curve, and the cofactor is 1, so that is the whole
	 * RFC 8422 §5.11 check (hence no second validation at set_peer).
	 */
	if (EVP_PKEY_set1_encoded_public_key(theirs, peer, peer_len) != 1)
		return -EINVAL;
	if (k->group == SG_HS_GROUP_P256) {
		mine = p256_import(c, k);
		if (mine == NULL)
			return -EIO;
	}
	ctx = EVP_PKEY_CTX_new_from_pkey(NULL, mine, NULL);
	if (ctx == NULL || EVP_PKEY_derive_init(ctx) != 1 ||
	    EVP_PKEY_derive_set_peer_ex(ctx, theirs, 0) != 1) {
		rc = -EIO;
		goto out;
	}
	/* X25519: OpenSSL fails an all-zero output (RFC 7748 §6.1), a low-order share. */
	if (EVP_PKEY_derive(ctx, secret, &len) != 1 || len != SG_HS_ECDH_SECRET_LEN) {
		sg_wipe(secret, SG_HS_ECDH_SECRET_LEN);
		rc = -EINVAL;
		goto out;
	}
	rc = 0;
out:
	EVP_PKEY_CTX_free(ctx);
	if (mine != k->pkey)
		EVP_PKEY_free(mine);
	return rc;
}

int sg_hs_ecdh_key_from_private(struct sg_hs_crypto *c, enum sg_hs_group group, const uint8_t *priv,
                                size_t len, struct sg_hs_ecdh_key *k)
{
	EC_GROUP *group_obj = NULL;
	EC_POINT *point = NULL;
	BIGNUM *bn = NULL;
	size_t n = 0;
	int rc = -EINVAL;

	(void)c; /* uniform signature; OpenSSL's default library context is used */
	memset(k, 0, sizeof(*k));
	k->group = (uint8_t)group;
	if (group == SG_HS_GROUP_X25519) {
		if (len != 32)
			return -EINVAL;
		k->pkey = EVP_PKEY_new_raw_private_key_ex(NULL, "X25519", NULL, priv, len);
		n = 32;
		if (k->pkey == NULL || EVP_PKEY_get_raw_public_key(k->pkey, k->pub, &n) != 1) {
			sg_hs_ecdh_clear(k);
			return -EIO;
		}
		k->pub_len = 32;
		return 0;
	}
	while (len > 32 && *priv == 0) {
		priv++;
		len--;
	}
	bn = BN_bin2bn(priv, (int)len, NULL);
	if (len > 32 || bn == NULL || BN_bn2nativepad(bn, k->scalar, 32) != 32)
		goto out;
	/* The public point priv * G (RFC 8422 §5.4, uncompressed), then the key object. */
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
	EVP_PKEY_free(k->pkey);
	sg_wipe(k, sizeof(*k));
}

int sg_hs_random(uint8_t *p, size_t n)
{
	return RAND_bytes(p, (int)n) == 1 ? 0 : -EIO;
}

int sg_hs_crypto_random(struct sg_hs_crypto *c, uint8_t *p, size_t n)
{
	uint8_t *from;

	if (n > sizeof(c->rnd) / 2)
		return -EINVAL;
	if (c->rnd_left < n) {
		if (RAND_bytes(c->rnd, sizeof(c->rnd)) != 1)
			return -EIO;
		c->rnd_left = sizeof(c->rnd);
	}
	from = c->rnd + sizeof(c->rnd) - c->rnd_left;
	memcpy(p, from, n);
	sg_wipe(from, n);
	c->rnd_left = (uint16_t)(c->rnd_left - n);
	return 0;
}
