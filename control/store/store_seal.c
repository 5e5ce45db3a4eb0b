/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The sealed envelope (store_seal.h): header, nonce, AES-256-GCM under the
 * store key (IPsec-MB, the key expanded once per sealer: OpenSSL's EVP
 * cost three times as much per record, docs/restart.md), the AAD binding a
 * value to its place. Control plane; a sealer
 * belongs to one thread.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <intel-ipsec-mb.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>

#include <stormgate/bytes.h>
#include <stormgate/common.h>

#include "store_seal.h"

/* Longest binding: "meta:" and a name of SG_STORE_META_NAME_MAX bytes. */
#define BIND_MAX 40

/* Expand s's key at the first use. 0, -ENOMEM or -ENOTSUP (no usable IPsec-MB). */
static int keyed(struct sg_store_sealer *s)
{
	IMB_ARCH arch;
	int rc = -ENOTSUP;

	if (s->gkey != NULL)
		return 0;
	s->mgr = alloc_mb_mgr(0);
	if (s->mgr == NULL)
		return -ENOMEM;
	init_mb_mgr_auto(s->mgr, &arch);
	if (imb_get_errno(s->mgr) != 0)
		goto fail;
	rc = -ENOMEM;
	s->gkey = aligned_alloc(64, (sizeof(*s->gkey) + 63) & ~(size_t)63);
	if (s->gkey == NULL)
		goto fail;
	IMB_AES256_GCM_PRE(s->mgr, s->key.key, s->gkey);
	return 0;
fail:
	free_mb_mgr(s->mgr);
	s->mgr = NULL;
	return rc;
}

/*
 * AES-256-GCM (NIST SP 800-38D) over len bytes from in to out under s's
 * key, with aad and a 96-bit nonce; enc: seal and write tag, else open and
 * check tag in constant time. 0, -EBADMSG (open: the tag is wrong) or -EIO.
 */
static int gcm(struct sg_store_sealer *s, bool enc, const uint8_t *nonce, const uint8_t *aad,
               size_t aad_len, const uint8_t *in, size_t len, uint8_t *out, uint8_t *tag)
{
	struct gcm_context_data gctx;
	uint8_t got[SG_STORE_REC_TAG];
	int rc = 0;

	if (keyed(s) != 0)
		return -EIO;
	if (enc) {
		IMB_AES256_GCM_ENC(s->mgr, s->gkey, &gctx, out, in, len, nonce, aad, aad_len, tag,
		                   SG_STORE_REC_TAG);
	} else {
		IMB_AES256_GCM_DEC(s->mgr, s->gkey, &gctx, out, in, len, nonce, aad, aad_len, got,
		                   sizeof(got));
		rc = CRYPTO_memcmp(got, tag, sizeof(got)) == 0 ? 0 : -EBADMSG;
	}
	/* the context holds hash state of the plaintext */
	sg_wipe(&gctx, sizeof(gctx));
	sg_wipe(got, sizeof(got));
	return rc;
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
	s->mgr = NULL;
	s->gkey = NULL;
	if (RAND_bytes(s->nonce, sizeof(s->nonce)) != 1) {
		sg_store_sealer_wipe(s);
		return -EIO;
	}
	return 0;
}

void sg_store_sealer_wipe(struct sg_store_sealer *s)
{
	if (s->gkey != NULL) {
		sg_wipe(s->gkey, sizeof(*s->gkey));
		free(s->gkey);
	}
	if (s->mgr != NULL)
		free_mb_mgr(s->mgr);
	sg_wipe(s, sizeof(*s));
}

/* Count the nonce up by one as a 96-bit big-endian number. */
static void nonce_next(uint8_t *nonce)
{
	for (int i = SG_STORE_REC_NONCE - 1; i >= 0; i--)
		if (++nonce[i] != 0)
			break;
}

int sg_store_seal(struct sg_store_sealer *s, unsigned version, const uint8_t *bind, size_t bind_len,
                  const uint8_t *body, size_t len, uint8_t *out, size_t cap)
{
	uint8_t aad[SG_STORE_REC_HDR + BIND_MAX];
	size_t aad_len;
	int rc;

	if (len > UINT16_MAX || bind_len > BIND_MAX || version == 0 ||
	    version > SG_STORE_REC_VERSION)
		return -EINVAL;
	if (cap < SG_STORE_SEALED_LEN(len))
		return -ENOBUFS;
	out[0] = (uint8_t)version;
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

int sg_store_unseal(struct sg_store_sealer *s, unsigned max_version, const uint8_t *bind,
                    size_t bind_len, const uint8_t *in, size_t len, uint8_t *body, size_t cap,
                    unsigned *version)
{
	uint8_t tag[SG_STORE_REC_TAG];
	uint8_t aad[SG_STORE_REC_HDR + BIND_MAX];
	size_t body_len, want, aad_len;
	int rc;

	if (bind_len > BIND_MAX)
		return -EINVAL;
	if (len < SG_STORE_REC_HDR)
		return -ENODATA;
	if (in[0] == 0 || in[0] > max_version)
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
	if (version != NULL)
		*version = in[0];
	return (int)body_len;
}
