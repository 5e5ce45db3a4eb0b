/* SPDX-License-Identifier: Apache-2.0 */
/* The OpenSSL EVP baseline of the record benchmarks (baseline_openssl.h). */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include <stormgate/bytes.h>
#include <stormgate/dtls.h>

#include "baseline_openssl.h"

struct sg_bench_ossl {
	EVP_CIPHER *cipher;
	EVP_CIPHER_CTX *ctx;
	EVP_MAC *mac;         /* CBC-SHA256: HMAC */
	EVP_MAC_CTX *mac_ctx; /* its context, digest fixed once, re-keyed per record */
	enum sg_aead aead;
};

static bool is_ccm(enum sg_aead aead)
{
	return aead == SG_AEAD_AES_128_CCM_8 || aead == SG_AEAD_AES_128_CCM;
}

/*
 * Fetch o's cipher (OpenSSL name `name`) and set up its context once:
 * EVP_DecryptInit_ex() with a cipher frees and builds the provider context
 * again, so every record after this passes NULL and only sets key and nonce.
 * CCM's nonce length (L = 3: a 12-byte nonce, RFC 6655 §3) and tag length M
 * stay set in the provider context across re-keys; the tag value is set per
 * record. Returns 0, -ENOTSUP (OpenSSL lacks or refuses the cipher) or -ENOMEM.
 */
static int cipher_setup(struct sg_bench_ossl *o, const char *name)
{
	o->cipher = EVP_CIPHER_fetch(NULL, name, NULL);
	if (o->cipher == NULL)
		return -ENOTSUP;
	o->ctx = EVP_CIPHER_CTX_new();
	if (o->ctx == NULL)
		return -ENOMEM;
	if (EVP_DecryptInit_ex(o->ctx, o->cipher, NULL, NULL, NULL) != 1)
		return -ENOTSUP;
	if (o->aead == SG_AEAD_AES_128_CBC_SHA256) {
		OSSL_PARAM params[] = {
			OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)"SHA256",
			                                 0),
			OSSL_PARAM_construct_end(),
		};

		/* TLS padding is the record's, not PKCS#7: EVP must leave it. */
		if (EVP_CIPHER_CTX_set_padding(o->ctx, 0) != 1)
			return -ENOTSUP;
		o->mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
		if (o->mac == NULL)
			return -ENOTSUP;
		o->mac_ctx = EVP_MAC_CTX_new(o->mac);
		if (o->mac_ctx == NULL)
			return -ENOMEM;
		if (EVP_MAC_CTX_set_params(o->mac_ctx, params) != 1)
			return -ENOTSUP;
	}
	if (is_ccm(o->aead) && (EVP_CIPHER_CTX_ctrl(o->ctx, EVP_CTRL_AEAD_SET_IVLEN,
	                                            SG_DTLS_AEAD_NONCE_LEN, NULL) != 1 ||
	                        EVP_CIPHER_CTX_ctrl(o->ctx, EVP_CTRL_AEAD_SET_TAG,
	                                            (int)sg_aead_tag_len(o->aead), NULL) != 1))
		return -ENOTSUP;
	return 0;
}

struct sg_bench_ossl *sg_bench_ossl_create(enum sg_aead aead)
{
	static const char *const names[SG_AEAD_MAX] = {
		[SG_AEAD_AES_128_CCM_8] = "AES-128-CCM",
		[SG_AEAD_AES_128_CCM] = "AES-128-CCM",
		[SG_AEAD_AES_128_GCM] = "AES-128-GCM",
		[SG_AEAD_AES_256_GCM] = "AES-256-GCM",
		[SG_AEAD_CHACHA20_POLY1305] = "ChaCha20-Poly1305",
		[SG_AEAD_AES_128_CBC_SHA256] = "AES-128-CBC",
	};
	struct sg_bench_ossl *o;
	int rc;

	if ((unsigned)aead >= SG_AEAD_MAX || names[aead] == NULL) {
		errno = EINVAL;
		return NULL;
	}
	o = calloc(1, sizeof(*o));
	if (o == NULL)
		return NULL;
	o->aead = aead;
	rc = cipher_setup(o, names[aead]);
	if (rc != 0) {
		sg_bench_ossl_free(o);
		errno = -rc;
		return NULL;
	}
	return o;
}

void sg_bench_ossl_free(struct sg_bench_ossl *o)
{
	if (o == NULL)
		return;
	EVP_CIPHER_CTX_free(o->ctx); /* cleanses the key schedule */
	EVP_CIPHER_free(o->cipher);
	EVP_MAC_CTX_free(o->mac_ctx);
	EVP_MAC_free(o->mac);
	free(o);
}

/* RFC 6347 §4.1.2.6 with a 64-bit window: bit i of replay[0] is sequence number top - 1 - i. */
static bool seen(const struct sg_rec_sa *sa, uint64_t seq)
{
	uint64_t top = sa->rx_top;

	return seq + 64 <= top || (seq < top && ((sa->replay[0] >> (top - 1 - seq)) & 1));
}

static void mark(struct sg_rec_sa *sa, uint64_t seq)
{
	uint64_t top = sa->rx_top;

	if (seq >= top) {
		uint64_t shift = seq - top + 1;

		sa->replay[0] = shift >= 64 ? 1 : sa->replay[0] << shift | 1;
		sa->rx_top = seq + 1;
	} else {
		sa->replay[0] |= UINT64_C(1) << (top - 1 - seq);
	}
}

/*
 * One AEAD open of clen bytes at ct, its tag (of the suite's length) right
 * after them, into out: one EVP sequence for every suite (EVP_EncryptInit(3), "AEAD
 * Interface"). CCM takes the tag and the total length before the AAD and
 * verifies in the last update; GCM and ChaCha20-Poly1305 take the tag after
 * the data and verify in the final call. True when the tag verified.
 */
static bool evp_open(struct sg_bench_ossl *o, const uint8_t *key, const uint8_t *nonce,
                     const uint8_t aad[SG_DTLS_HDR_LEN], const uint8_t *ct, size_t clen,
                     uint8_t *out)
{
	EVP_CIPHER_CTX *c = o->ctx;
	const uint8_t *tag = ct + clen;
	const bool ccm = is_ccm(o->aead);
	const int tl = (int)sg_aead_tag_len(o->aead);
	int ol;

	return (!ccm || EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_SET_TAG, tl, (void *)tag) == 1) &&
	       EVP_DecryptInit_ex(c, NULL, NULL, key, nonce) == 1 &&
	       (!ccm || EVP_DecryptUpdate(c, NULL, &ol, NULL, (int)clen) == 1) &&
	       EVP_DecryptUpdate(c, NULL, &ol, aad, SG_DTLS_HDR_LEN) == 1 &&
	       EVP_DecryptUpdate(c, out, &ol, ct, (int)clen) == 1 &&
	       (ccm || (EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_SET_TAG, tl, (void *)tag) == 1 &&
	                EVP_DecryptFinal_ex(c, out + ol, &ol) == 1));
}

/* HMAC-SHA256 of the 13-byte pseudo-header ‖ msg under key, re-keying o's MAC context. */
static bool evp_hmac(struct sg_bench_ossl *o, const uint8_t *key, const uint8_t pseudo[13],
                     const uint8_t *msg, size_t len, uint8_t mac[SG_DTLS_CBC_MAC_LEN])
{
	size_t ml;

	return EVP_MAC_init(o->mac_ctx, key, SG_DTLS_CBC_MAC_KEY_LEN, NULL) == 1 &&
	       EVP_MAC_update(o->mac_ctx, pseudo, 13) == 1 &&
	       (len == 0 || EVP_MAC_update(o->mac_ctx, msg, len) == 1) &&
	       EVP_MAC_final(o->mac_ctx, mac, &ml, SG_DTLS_CBC_MAC_LEN) == 1;
}

/* Padding of a decrypted CBC plaintext of len bytes (RFC 5246 §6.2.3.2): its bytes, or -1. */
static long cbc_padding(const uint8_t *pt, size_t len, size_t room)
{
	size_t pad = pt[len - 1];

	if (pad + 1 > room)
		return -1;
	for (size_t i = 0; i <= pad; i++)
		if (pt[len - 1 - i] != pad)
			return -1;
	return (long)pad + 1;
}

/*
 * The CBC-SHA256 open of the record whose fragment (IV ‖ ...) is frag, flen
 * bytes, and whose pseudo-header (length unset) is pseudo: EtM checks the
 * MAC over IV ‖ ciphertext first (RFC 7366 §3); MtE decrypts, reads the
 * padding and checks the MAC over the content it leaves, the textbook way.
 * The content length, or -1.
 */
static long cbc_open(struct sg_bench_ossl *o, const struct sg_rec_sa *sa, uint8_t pseudo[13],
                     const uint8_t *frag, size_t flen, uint8_t *out)
{
	const struct sg_rec_sa_mac *m =
	        sg_rec_sa_mac((struct sg_rec_sa *)(uintptr_t)sa, SG_REPLAY_WINDOW_DEFAULT);
	const bool etm = sa->flags & SG_SA_F_ETM;
	const size_t ml = SG_DTLS_CBC_MAC_LEN;
	uint8_t mac[SG_DTLS_CBC_MAC_LEN];
	size_t enc = flen - SG_DTLS_CBC_IV_LEN - (etm ? ml : 0);
	long pad, len;
	int ol;

	if (flen < SG_DTLS_CBC_IV_LEN + ml + SG_DTLS_CBC_BLOCK || enc % SG_DTLS_CBC_BLOCK)
		return -1;
	if (etm) {
		sg_store_be16(pseudo + 11, (uint16_t)(SG_DTLS_CBC_IV_LEN + enc));
		if (!evp_hmac(o, m->rx_mac, pseudo, frag, SG_DTLS_CBC_IV_LEN + enc, mac) ||
		    CRYPTO_memcmp(mac, frag + SG_DTLS_CBC_IV_LEN + enc, ml) != 0)
			return -1;
	}
	if (EVP_DecryptInit_ex(o->ctx, NULL, NULL, sa->rx_key, frag) != 1 ||
	    EVP_DecryptUpdate(o->ctx, out, &ol, frag + SG_DTLS_CBC_IV_LEN, (int)enc) != 1)
		return -1;
	pad = cbc_padding(out, enc, etm ? enc : enc - ml);
	if (pad < 0)
		return -1;
	len = (long)enc - pad - (etm ? 0 : (long)ml);
	if (!etm) {
		sg_store_be16(pseudo + 11, (uint16_t)len);
		if (!evp_hmac(o, m->rx_mac, pseudo, out, (size_t)len, mac) ||
		    CRYPTO_memcmp(mac, out + len, ml) != 0)
			return -1;
	}
	return len;
}

int sg_bench_ossl_open(struct sg_bench_ossl *o, struct sg_rec_sa *sa, const uint8_t *rec,
                       size_t rec_len, uint8_t *out, uint32_t *pt_len)
{
	const unsigned xl = sg_aead_explicit_len(o->aead), tl = sg_aead_tag_len(o->aead);
	uint8_t nonce[SG_DTLS_AEAD_NONCE_LEN], aad[SG_DTLS_HDR_LEN];
	const uint8_t *ct;
	size_t flen, clen;
	uint64_t seq;

	if (rec_len < SG_DTLS_HDR_LEN ||
	    sg_load_be16(rec + SG_DTLS_HDR_OFF_VER) != SG_DTLS_VERSION_1_2 ||
	    sg_load_be16(rec + SG_DTLS_HDR_OFF_EPOCH) != sa->epoch)
		return -EINVAL;
	flen = sg_load_be16(rec + SG_DTLS_HDR_LEN - 2);
	if (flen + SG_DTLS_HDR_LEN > rec_len || flen < xl + tl)
		return -EINVAL;
	seq = sg_load_be48(rec + SG_DTLS_HDR_OFF_SEQ);
	if (seen(sa, seq))
		return -EALREADY;
	/* RFC 6347 §4.1.2.1: epoch ‖ seq, type, version, plaintext length. */
	memcpy(aad, rec + SG_DTLS_HDR_OFF_EPOCH, 8);
	aad[8] = rec[SG_DTLS_HDR_OFF_TYPE];
	aad[9] = rec[SG_DTLS_HDR_OFF_VER];
	aad[10] = rec[SG_DTLS_HDR_OFF_VER + 1];
	if (o->aead == SG_AEAD_AES_128_CBC_SHA256) {
		long len = cbc_open(o, sa, aad, rec + SG_DTLS_HDR_LEN, flen, out);

		if (len < 0) {
			OPENSSL_cleanse(out, flen);
			return -EBADMSG;
		}
		mark(sa, seq);
		*pt_len = (uint32_t)len;
		return 0;
	}
	clen = flen - xl - tl;
	ct = rec + SG_DTLS_HDR_LEN + xl;
	if (o->aead == SG_AEAD_CHACHA20_POLY1305) {
		/* RFC 7905 §2: the write IV XOR the 64-bit epoch ‖ sequence number. */
		memcpy(nonce, sa->rx_iv, SG_DTLS_AEAD_NONCE_LEN);
		for (unsigned i = 0; i < 8; i++)
			nonce[4 + i] ^= rec[SG_DTLS_HDR_OFF_EPOCH + i];
	} else {
		/* RFC 5288 §3, RFC 6655 §3: 4-byte salt ‖ the record's explicit nonce. */
		memcpy(nonce, sa->rx_iv, SG_DTLS_AEAD_SALT_LEN);
		memcpy(nonce + SG_DTLS_AEAD_SALT_LEN, rec + SG_DTLS_HDR_LEN,
		       SG_DTLS_AEAD_EXPLICIT_LEN);
	}
	sg_store_be16(aad + 11, (uint16_t)clen);
	if (!evp_open(o, sa->rx_key, nonce, aad, ct, clen, out)) {
		OPENSSL_cleanse(out, clen); /* no plaintext after a failed tag */
		return -EBADMSG;
	}
	mark(sa, seq); /* only once authenticated */
	*pt_len = (uint32_t)clen;
	return 0;
}
