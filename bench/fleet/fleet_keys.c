/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The fleet client's key schedule. See fleet_keys.h.
 */
#include "fleet_keys.h"

#include <errno.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <stormgate/bytes.h>
#include <stormgate/dtls.h>

static const EVP_MD *md_of(const struct sg_suite *s)
{
	return s->prf == SG_PRF_SHA384 ? EVP_sha384() : EVP_sha256();
}

unsigned sg_fc_hash_len(const struct sg_suite *s)
{
	return s->prf == SG_PRF_SHA384 ? 48 : 32;
}

int sg_fc_hash(const struct sg_suite *s, const uint8_t *in, size_t len, uint8_t *out)
{
	return EVP_Digest(in, len, out, NULL, md_of(s), NULL) == 1 ? 0 : -EIO;
}

/*
 * RFC 5246 §5: P_hash(secret, seed) = HMAC(secret, A(1) + seed) ‖
 * HMAC(secret, A(2) + seed) ‖ ..., A(0) = seed, A(i) = HMAC(secret, A(i-1)),
 * and PRF(secret, label, seed) = P_hash(secret, label ‖ seed).
 */
int sg_fc_prf(const struct sg_suite *s, const uint8_t *secret, size_t secret_len, const char *label,
              const uint8_t *seed1, size_t seed1_len, const uint8_t *seed2, size_t seed2_len,
              uint8_t *out, size_t out_len)
{
	const EVP_MD *md = md_of(s);
	size_t hlen = sg_fc_hash_len(s), label_len = strlen(label), seed_len, done = 0;
	uint8_t seed[64 + FC_HASH_MAX + 2 * SG_TLS_RANDOM_LEN];
	uint8_t a[FC_HASH_MAX + sizeof(seed)], block[FC_HASH_MAX], next[FC_HASH_MAX];
	unsigned int n;
	int rc = -EIO;

	seed_len = label_len + seed1_len + seed2_len;
	if (seed_len > sizeof(seed))
		return -EINVAL;
	memcpy(seed, label, label_len);
	memcpy(seed + label_len, seed1, seed1_len);
	if (seed2_len)
		memcpy(seed + label_len + seed1_len, seed2, seed2_len);
	/* a = A(1) */
	if (HMAC(md, secret, (int)secret_len, seed, seed_len, a, &n) == NULL)
		goto out;
	while (done < out_len) {
		size_t take = out_len - done < hlen ? out_len - done : hlen;

		memcpy(a + hlen, seed, seed_len);
		if (HMAC(md, secret, (int)secret_len, a, hlen + seed_len, block, &n) == NULL)
			goto out;
		memcpy(out + done, block, take);
		done += take;
		if (HMAC(md, secret, (int)secret_len, a, hlen, next, &n) == NULL)
			goto out;
		memcpy(a, next, hlen);
	}
	rc = 0;
out:
	if (rc)
		OPENSSL_cleanse(out, out_len);
	OPENSSL_cleanse(a, sizeof(a));
	OPENSSL_cleanse(block, sizeof(block));
	OPENSSL_cleanse(next, sizeof(next));
	OPENSSL_cleanse(seed, sizeof(seed));
	return rc;
}

size_t sg_fc_premaster(const uint8_t *z, size_t z_len, const uint8_t *psk, size_t psk_len,
                       uint8_t *pms)
{
	size_t other_len = z ? z_len : psk_len;

	sg_store_be16(pms, (uint16_t)other_len);
	if (z)
		memcpy(pms + 2, z, z_len);
	else
		memset(pms + 2, 0, psk_len);
	sg_store_be16(pms + 2 + other_len, (uint16_t)psk_len);
	memcpy(pms + 4 + other_len, psk, psk_len);
	return 4 + other_len + psk_len;
}

/* The server's share as a key of our key's type: raw for X25519, an encoded point for P-256. */
static EVP_PKEY *peer_key(unsigned group, EVP_PKEY *mine, const uint8_t *peer, size_t peer_len)
{
	EVP_PKEY *k;

	if (group == SG_TLS_GROUP_X25519)
		return EVP_PKEY_new_raw_public_key(EVP_PKEY_X25519, NULL, peer, peer_len);
	k = EVP_PKEY_new();
	if (k == NULL)
		return NULL;
	if (EVP_PKEY_copy_parameters(k, mine) != 1 ||
	    EVP_PKEY_set1_encoded_public_key(k, peer, peer_len) != 1) {
		EVP_PKEY_free(k);
		return NULL;
	}
	return k;
}

int sg_fc_ecdh(unsigned group, const uint8_t *peer, size_t peer_len, uint8_t *pub, size_t *pub_len,
               uint8_t *z, size_t *z_len)
{
	EVP_PKEY *mine = NULL, *theirs = NULL;
	EVP_PKEY_CTX *ctx = NULL;
	unsigned char *enc = NULL;
	size_t enc_len, zl = 32;
	int rc = -EIO;

	if (group == SG_TLS_GROUP_X25519)
		mine = EVP_PKEY_Q_keygen(NULL, NULL, "X25519");
	else if (group == SG_TLS_GROUP_SECP256R1)
		mine = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	else
		return -EPROTO;
	if (mine == NULL)
		goto out;
	theirs = peer_key(group, mine, peer, peer_len);
	if (theirs == NULL) {
		rc = -EPROTO;
		goto out;
	}
	enc_len = EVP_PKEY_get1_encoded_public_key(mine, &enc);
	if (enc_len == 0 || enc_len > 65)
		goto out;
	ctx = EVP_PKEY_CTX_new(mine, NULL);
	if (ctx == NULL || EVP_PKEY_derive_init(ctx) != 1)
		goto out;
	/* X25519 refuses an all-zero result here (RFC 7748 §6.1); P-256 checks the point. */
	if (EVP_PKEY_derive_set_peer(ctx, theirs) != 1 || EVP_PKEY_derive(ctx, z, &zl) != 1 ||
	    zl != 32) {
		rc = -EPROTO;
		goto out;
	}
	memcpy(pub, enc, enc_len);
	*pub_len = enc_len;
	*z_len = zl;
	rc = 0;
out:
	if (rc)
		OPENSSL_cleanse(z, 32);
	OPENSSL_free(enc);
	EVP_PKEY_CTX_free(ctx);
	EVP_PKEY_free(theirs);
	EVP_PKEY_free(mine);
	return rc;
}
