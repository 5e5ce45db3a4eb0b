/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The sealed envelope (store_seal.h): header, nonce, AES-256-GCM under the
 * store key, the AAD binding a value to its place. Control plane; a sealer
 * belongs to one thread.
 */
#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/rand.h>

#include <stormgate/bytes.h>
#include <stormgate/common.h>

#include "store_seal.h"

/* Longest binding: "meta:" and a name of SG_STORE_META_NAME_MAX bytes. */
#define BIND_MAX 40

/* s's context for enc (seal) or open, keyed at the first use. NULL: libcrypto failed. */
static EVP_CIPHER_CTX *keyed(struct sg_store_sealer *s, bool enc)
{
	EVP_CIPHER_CTX **ctx = enc ? &s->enc : &s->dec;

	if (*ctx != NULL)
		return *ctx;
	*ctx = EVP_CIPHER_CTX_new();
	if (*ctx == NULL)
		return NULL;
	if (EVP_CipherInit_ex(*ctx, EVP_aes_256_gcm(), NULL, s->key.key, NULL, enc ? 1 : 0) != 1) {
		EVP_CIPHER_CTX_free(*ctx);
		*ctx = NULL;
	}
	return *ctx;
}

/*
 * AES-256-GCM over len bytes from in to out under s's key, with aad; enc:
 * seal and write tag, else open and check tag (EVP compares it in constant
 * time). Only the nonce is set per call: the key schedule stays in the
 * context. 0, -EBADMSG (open: the tag is wrong) or -EIO.
 */
static int gcm(struct sg_store_sealer *s, bool enc, const uint8_t *nonce, const uint8_t *aad,
               size_t aad_len, const uint8_t *in, size_t len, uint8_t *out, uint8_t *tag)
{
	EVP_CIPHER_CTX *ctx = keyed(s, enc);
	int n;

	if (ctx == NULL)
		return -EIO;
	if (EVP_CipherInit_ex(ctx, NULL, NULL, NULL, nonce, enc ? 1 : 0) != 1 ||
	    EVP_CipherUpdate(ctx, NULL, &n, aad, (int)aad_len) != 1 ||
	    EVP_CipherUpdate(ctx, out, &n, in, (int)len) != 1)
		return -EIO;
	if (!enc && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, SG_STORE_REC_TAG, tag) != 1)
		return -EIO;
	if (EVP_CipherFinal_ex(ctx, out + n, &n) != 1)
		return enc ? -EIO : -EBADMSG;
	if (enc && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, SG_STORE_REC_TAG, tag) != 1)
		return -EIO;
	return 0;
}

/* AAD: the value's header, then what it is bound to. Returns its length. */
static size_t make_aad(uint8_t aad[SG_STORE_REC_HDR + BIND_MAX], const uint8_t *hdr,
                       const uint8_t *bind, size_t bind_len)
{
	memcpy(aad, hdr, SG_STORE_REC_HDR);
	memcpy(aad + SG_STORE_REC_HDR, bind, bind_len);
	return SG_STORE_REC_HDR + bind_len;
}

int sg_store_sealer_init(struct sg_store_sealer *s, const struct sg_store_key *key)
{
	s->key = *key;
	s->enc = NULL;
	s->dec = NULL;
	if (RAND_bytes(s->nonce, sizeof(s->nonce)) != 1) {
		sg_store_sealer_wipe(s);
		return -EIO;
	}
	return 0;
}

void sg_store_sealer_wipe(struct sg_store_sealer *s)
{
	EVP_CIPHER_CTX_free(s->enc); /* frees and cleanses the key schedule */
	EVP_CIPHER_CTX_free(s->dec);
	sg_wipe(s, sizeof(*s));
}

/* Count the nonce up by one as a 96-bit big-endian number. */
static void nonce_next(uint8_t *nonce)
{
	for (int i = SG_STORE_REC_NONCE - 1; i >= 0; i--)
		if (++nonce[i] != 0)
			break;
}

int sg_store_seal(struct sg_store_sealer *s, const uint8_t *bind, size_t bind_len,
                  const uint8_t *body, size_t len, uint8_t *out, size_t cap)
{
	uint8_t aad[SG_STORE_REC_HDR + BIND_MAX];
	size_t aad_len;
	int rc;

	if (len > UINT16_MAX || bind_len > BIND_MAX)
		return -EINVAL;
	if (cap < SG_STORE_SEALED_LEN(len))
		return -ENOBUFS;
	out[0] = SG_STORE_REC_VERSION;
	sg_store_be32(out + 1, s->key.id);
	sg_store_be16(out + 5, (uint16_t)len);
	memcpy(out + SG_STORE_REC_HDR, s->nonce, SG_STORE_REC_NONCE);
	/* a nonce is used once, even if this seal fails */
	nonce_next(s->nonce);
	aad_len = make_aad(aad, out, bind, bind_len);
	rc = gcm(s, true, out + SG_STORE_REC_HDR, aad, aad_len, body, len,
	         out + SG_STORE_REC_HDR + SG_STORE_REC_NONCE,
	         out + SG_STORE_REC_HDR + SG_STORE_REC_NONCE + len);
	if (rc != 0) {
		sg_wipe(out, cap);
		return rc;
	}
	return (int)SG_STORE_SEALED_LEN(len);
}

int sg_store_unseal(struct sg_store_sealer *s, const uint8_t *bind, size_t bind_len,
                    const uint8_t *in, size_t len, uint8_t *body, size_t cap)
{
	uint8_t tag[SG_STORE_REC_TAG];
	uint8_t aad[SG_STORE_REC_HDR + BIND_MAX];
	size_t body_len, want, aad_len;
	int rc;

	if (bind_len > BIND_MAX)
		return -EINVAL;
	if (len < SG_STORE_REC_HDR)
		return -ENODATA;
	if (in[0] != SG_STORE_REC_VERSION)
		return -EPROTONOSUPPORT;
	if (sg_load_be32(in + 1) != s->key.id)
		return -EKEYREJECTED;
	body_len = sg_load_be16(in + 5);
	want = SG_STORE_SEALED_LEN(body_len);
	if (len < want)
		return -ENODATA;
	if (len > want)
		return -EMSGSIZE;
	if (body_len > cap)
		return -ENOBUFS;
	memcpy(tag, in + want - SG_STORE_REC_TAG, sizeof(tag));
	aad_len = make_aad(aad, in, bind, bind_len);
	rc = gcm(s, false, in + SG_STORE_REC_HDR, aad, aad_len,
	         in + SG_STORE_REC_HDR + SG_STORE_REC_NONCE, body_len, body, tag);
	if (rc != 0) {
		sg_wipe(body, cap);
		return rc;
	}
	return (int)body_len;
}
