/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Handshake crypto: HMAC / TLS 1.2 PRF on IPsec-MB, transcript hash on
 * OpenSSL libcrypto. See hs_crypto.h for the choices.
 */
/* SHA256_Init & co: see hs_crypto.h for why; deprecated in 3.0, kept in 3.x. */
#define OPENSSL_SUPPRESS_DEPRECATED
/* IPsec-MB's pre-0.53 names (SHA1, SHA_256, ...) collide with OpenSSL's. */
#define NO_COMPAT_IMB_API_053

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <intel-ipsec-mb.h>
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
	return 0;
fail:
	sg_hs_crypto_fini(c);
	return -ENOMEM;
}

void sg_hs_crypto_fini(struct sg_hs_crypto *c)
{
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
