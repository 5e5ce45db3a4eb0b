/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The OpenSSL side of the record tests. Nonces and AADs are built here from
 * the RFC text, independently of the library, so a round trip checks the
 * library's construction, not just its consistency with itself.
 */
#include <string.h>

#include <intel-ipsec-mb.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <stormgate/bytes.h>

#include "rec_test.h"

int rt_sa_init(struct sg_rec_sa *sa, unsigned window, enum sg_aead aead, const struct tc_keys *k,
               int client, uint16_t epoch, uint8_t flags, uint64_t tx_seq)
{
	struct sg_rec_sa_params p = {
		.aead = aead,
		.epoch = epoch,
		.flags = flags,
		.rx_key = client ? k->server_key : k->client_key,
		.tx_key = client ? k->client_key : k->server_key,
		.rx_iv = client ? k->server_iv : k->client_iv,
		.tx_iv = client ? k->client_iv : k->server_iv,
		.rx_mac = client ? k->server_mac : k->client_mac,
		.tx_mac = client ? k->client_mac : k->server_mac,
		.tx_seq = tx_seq,
		.rx_seq = 0,
	};

	return sg_rec_sa_init(sa, window, &p);
}

static const EVP_CIPHER *evp_cipher(enum sg_aead aead)
{
	switch (aead) {
	case SG_AEAD_AES_128_CCM_8:
	case SG_AEAD_AES_128_CCM:
		return EVP_aes_128_ccm();
	case SG_AEAD_AES_128_GCM:
		return EVP_aes_128_gcm();
	case SG_AEAD_AES_256_GCM:
		return EVP_aes_256_gcm();
	default:
		return EVP_chacha20_poly1305();
	}
}

int rt_evp_aead(enum sg_aead aead, int enc, const uint8_t *key, const uint8_t nonce[12],
                const uint8_t *aad, size_t aad_len, const uint8_t *in, size_t len, uint8_t *out,
                uint8_t *tag)
{
	EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
	int ccm = aead == SG_AEAD_AES_128_CCM_8 || aead == SG_AEAD_AES_128_CCM;
	int tl = (int)sg_aead_tag_len(aead);
	uint8_t dummy[1] = { 0 };
	int ol, ok = 0;

	if (!c)
		return -1;
	if (!in)
		in = dummy;
	if (!out)
		out = dummy;
	if (EVP_CipherInit_ex(c, evp_cipher(aead), NULL, NULL, NULL, enc) != 1 ||
	    EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_SET_IVLEN, 12, NULL) != 1)
		goto out;
	if (ccm && EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_SET_TAG, tl, enc ? NULL : tag) != 1)
		goto out;
	if (EVP_CipherInit_ex(c, NULL, NULL, key, nonce, enc) != 1)
		goto out;
	if (ccm && EVP_CipherUpdate(c, NULL, &ol, NULL, (int)len) != 1)
		goto out;
	if (aad_len && EVP_CipherUpdate(c, NULL, &ol, aad, (int)aad_len) != 1)
		goto out;
	if (EVP_CipherUpdate(c, out, &ol, in, (int)len) != 1)
		goto out; /* CCM verifies here */
	if (!ccm && !enc && EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_SET_TAG, tl, tag) != 1)
		goto out;
	if (EVP_CipherFinal_ex(c, out + ol, &ol) != 1)
		goto out;
	if (enc && EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_GET_TAG, tl, tag) != 1)
		goto out;
	ok = 1;
out:
	EVP_CIPHER_CTX_free(c);
	return ok ? 0 : -1;
}

/* RFC 5288 §3 / RFC 6655 §3 (salt ‖ explicit) or RFC 7905 §2 (IV ⊕ seq_num). */
static void make_nonce(const struct rt_rec *r, const uint8_t seq_num[8],
                       const uint8_t *explicit_nonce, uint8_t nonce[12])
{
	if (r->aead == SG_AEAD_CHACHA20_POLY1305) {
		memcpy(nonce, r->iv, 12);
		for (int i = 0; i < 8; i++)
			nonce[4 + i] ^= seq_num[i];
	} else {
		memcpy(nonce, r->iv, 4);
		memcpy(nonce + 4, explicit_nonce, 8);
	}
}

/*
 * AAD: RFC 5246 §6.2.3.3 (seq_num ‖ type ‖ version ‖ length) with the DTLS
 * seq_num epoch ‖ sequence_number (RFC 6347 §4.1.2.1), or RFC 9146 §5.
 */
static size_t make_aad(const struct rt_rec *r, uint64_t seq, const uint8_t *cid, size_t len,
                       uint8_t *aad)
{
	size_t n = 0;

	if (r->cid) {
		memset(aad, 0xff, 8);
		n = 8;
		aad[n++] = 25;
		aad[n++] = (uint8_t)r->cid_len;
		aad[n++] = 25;
	} else {
		sg_store_be16(aad, r->epoch);
		sg_store_be48(aad + 2, seq);
		n = 8;
		aad[n++] = r->type;
	}
	sg_store_be16(aad + n, 0xfefd);
	n += 2;
	if (r->cid) {
		sg_store_be16(aad + n, r->epoch);
		sg_store_be48(aad + n + 2, seq);
		n += 8;
		memcpy(aad + n, cid, r->cid_len);
		n += r->cid_len;
	}
	sg_store_be16(aad + n, (uint16_t)len);
	return n + 2;
}

/* AES-128-CBC without padding, in place or not: 0 or -1. */
static int evp_cbc(int enc, const uint8_t *key, const uint8_t *iv, const uint8_t *in, size_t len,
                   uint8_t *out)
{
	EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
	int ol, fl, ok = 0;

	if (!c)
		return -1;
	if (EVP_CipherInit_ex(c, EVP_aes_128_cbc(), NULL, key, iv, enc) == 1 &&
	    EVP_CIPHER_CTX_set_padding(c, 0) == 1 &&
	    EVP_CipherUpdate(c, out, &ol, in, (int)len) == 1 &&
	    EVP_CipherFinal_ex(c, out + ol, &fl) == 1)
		ok = 1;
	EVP_CIPHER_CTX_free(c);
	return ok ? 0 : -1;
}

/* HMAC-SHA256 of the 13-byte pseudo-header ‖ msg (RFC 5246 §6.2.3.1). */
static void cbc_mac(const uint8_t *key, const uint8_t *pseudo, const uint8_t *msg, size_t len,
                    uint8_t mac[32])
{
	uint8_t buf[13 + SG_DTLS_MAX_CIPHERTEXT];
	unsigned ml = 32;

	memcpy(buf, pseudo, 13);
	memcpy(buf + 13, msg, len);
	HMAC(EVP_sha256(), key, 32, buf, 13 + len, mac, &ml);
}

/* Spoil padding (pad: plen bytes) or MAC (mac, MtE only) as r->cbc_bad says. */
static void corrupt(const struct rt_rec *r, uint8_t *pad, size_t plen, uint8_t *mac)
{
	if (r->cbc_bad == RT_CBC_BAD_PAD_BYTE)
		pad[0] ^= plen > 1 ? 0x01 : 0x10; /* with no padding, the length byte itself */
	else if (r->cbc_bad == RT_CBC_BAD_PAD_LEN)
		pad[plen - 1] = 255;
	else if (r->cbc_bad == RT_CBC_BAD_MAC && mac)
		mac[0] ^= 1;
}

/*
 * RFC 5246 §6.2.3.2 (MAC-then-encrypt) or RFC 7366 §3 (encrypt-then-MAC),
 * DTLS seq_num, TLS 1.1+ explicit IV r->iv (16 bytes), padding of
 * r->pad_len + 1 bytes (content + MAC + padding a block multiple: the
 * caller picks a valid one, or an invalid one on purpose).
 */
static size_t seal_cbc(const struct rt_rec *r, const uint8_t *pt, size_t len, uint8_t *out)
{
	uint8_t pseudo[13], *iv = out + 13, *body = out + 29;
	size_t plen = r->pad_len + 1, mac_at = r->etm ? len + plen : len, enc;

	out[0] = r->type;
	sg_store_be16(out + 1, 0xfefd);
	sg_store_be16(out + 3, r->epoch);
	sg_store_be48(out + 5, r->seq);
	memcpy(pseudo, out + 3, 8);
	pseudo[8] = r->type;
	sg_store_be16(pseudo + 9, 0xfefd);
	memcpy(iv, r->iv, 16);
	memmove(body, pt, len);
	if (r->etm) {
		memset(body + len, (int)r->pad_len, plen);
		enc = len + plen;
		corrupt(r, body + len, plen, NULL);
		if (evp_cbc(1, r->key, iv, body, enc, body))
			return 0;
		sg_store_be16(pseudo + 11, (uint16_t)(16 + enc));
		cbc_mac(r->mac_key, pseudo, iv, 16 + enc, body + enc);
		if (r->cbc_bad == RT_CBC_BAD_MAC)
			body[enc] ^= 1;
		sg_store_be16(out + 11, (uint16_t)(16 + enc + 32));
		return 13 + 16 + enc + 32;
	}
	sg_store_be16(pseudo + 11, (uint16_t)len);
	cbc_mac(r->mac_key, pseudo, body, len, body + mac_at);
	memset(body + len + 32, (int)r->pad_len, plen);
	enc = len + 32 + plen;
	corrupt(r, body + len + 32, plen, body + len);
	if (enc % 16 || evp_cbc(1, r->key, iv, body, enc, body))
		return 0;
	sg_store_be16(out + 11, (uint16_t)(16 + enc));
	return 13 + 16 + enc;
}

/* The peer's open of a CBC record: -1 on any error, as a TLS stack would refuse it. */
static long open_cbc(const struct rt_rec *r, const uint8_t *rec, size_t rec_len, uint8_t *pt,
                     uint8_t *type)
{
	uint8_t pseudo[13], mac[32];
	size_t flen, enc, pad, len;

	if (rec_len < 13 + 16 + 32 + 16)
		return -1;
	flen = sg_load_be16(rec + 11);
	if (flen + 13 != rec_len)
		return -1;
	memcpy(pseudo, rec + 3, 8);
	pseudo[8] = rec[0];
	sg_store_be16(pseudo + 9, sg_load_be16(rec + 1));
	enc = flen - 16 - (r->etm ? 32 : 0);
	if (enc % 16)
		return -1;
	if (r->etm) {
		sg_store_be16(pseudo + 11, (uint16_t)(16 + enc));
		cbc_mac(r->mac_key, pseudo, rec + 13, 16 + enc, mac);
		if (memcmp(mac, rec + 29 + enc, 32))
			return -1;
	}
	if (evp_cbc(0, r->key, rec + 13, rec + 29, enc, pt))
		return -1;
	pad = pt[enc - 1];
	if (pad + 1 + (r->etm ? 0 : 32) > enc)
		return -1;
	for (size_t i = 0; i <= pad; i++)
		if (pt[enc - 1 - i] != pad)
			return -1;
	len = enc - pad - 1 - (r->etm ? 0 : 32);
	if (!r->etm) {
		sg_store_be16(pseudo + 11, (uint16_t)len);
		cbc_mac(r->mac_key, pseudo, pt, len, mac);
		if (memcmp(mac, pt + len, 32))
			return -1;
	}
	*type = rec[0];
	return (long)len;
}

size_t rt_evp_seal_record(const struct rt_rec *r, const uint8_t *pt, size_t len, uint8_t *out)
{
	unsigned hdr = 13 + (r->cid ? r->cid_len : 0);
	unsigned xl = r->aead == SG_AEAD_CHACHA20_POLY1305 ? 0 : 8;
	unsigned tl = sg_aead_tag_len(r->aead);
	size_t inner = len + (r->cid ? 1 + r->pad_len : 0);
	uint8_t seq_num[8], nonce[12], aad[300];
	uint8_t *frag = out + hdr, *body = frag + xl;
	size_t aad_len;

	if (r->aead == SG_AEAD_AES_128_CBC_SHA256)
		return seal_cbc(r, pt, len, out);
	out[0] = r->cid ? 25 : r->type;
	sg_store_be16(out + 1, 0xfefd);
	sg_store_be16(out + 3, r->epoch);
	sg_store_be48(out + 5, r->seq);
	if (r->cid)
		memcpy(out + 11, r->cid_bytes, r->cid_len);
	sg_store_be16(out + hdr - 2, (uint16_t)(xl + inner + tl));
	memcpy(seq_num, out + 3, 8);
	/* Any unique explicit nonce is valid; use something unlike seq_num. */
	for (unsigned i = 0; i < xl; i++)
		frag[i] = (uint8_t)(seq_num[i] ^ 0x5a);
	make_nonce(r, seq_num, frag, nonce);
	memmove(body, pt, len);
	if (r->cid) {
		body[len] = r->type;
		memset(body + len + 1, 0, r->pad_len);
	}
	aad_len = make_aad(r, r->seq, r->cid_bytes, inner, aad);
	if (rt_evp_aead(r->aead, 1, r->key, nonce, aad, aad_len, body, inner, body, body + inner))
		return 0;
	return hdr + xl + inner + tl;
}

long rt_evp_open_record(const struct rt_rec *r, const uint8_t *rec, size_t rec_len, uint8_t *pt,
                        uint8_t *type)
{
	unsigned hdr = 13 + (r->cid ? r->cid_len : 0);
	unsigned xl = r->aead == SG_AEAD_CHACHA20_POLY1305 ? 0 : 8;
	unsigned tl = sg_aead_tag_len(r->aead);
	uint8_t nonce[12], aad[300], tag[16];
	struct rt_rec rr = *r;
	size_t flen, clen, aad_len;
	uint64_t seq;

	if (r->aead == SG_AEAD_AES_128_CBC_SHA256)
		return open_cbc(r, rec, rec_len, pt, type);
	if (rec_len < hdr || rec[0] != (r->cid ? 25 : rec[0]))
		return -1;
	flen = sg_load_be16(rec + hdr - 2);
	if (flen + hdr != rec_len || flen < xl + tl)
		return -1;
	clen = flen - xl - tl;
	seq = sg_load_be48(rec + 5);
	rr.epoch = sg_load_be16(rec + 3);
	rr.type = rec[0];
	make_nonce(&rr, rec + 3, rec + hdr, nonce);
	aad_len = make_aad(&rr, seq, rec + 11, clen, aad);
	memcpy(tag, rec + hdr + xl + clen, tl);
	if (rt_evp_aead(r->aead, 0, r->key, nonce, aad, aad_len, rec + hdr + xl, clen, pt, tag))
		return -1;
	if (r->cid) {
		while (clen && pt[clen - 1] == 0)
			clen--;
		if (!clen)
			return -1;
		*type = pt[--clen];
	} else {
		*type = rec[0];
	}
	return (long)clen;
}

int rt_ctx_holds_key(const struct sg_rec_ctx *ctx, enum sg_aead aead, const uint8_t *key)
{
	uint8_t enc[15 * 16] __attribute__((aligned(16))),
	        dec[15 * 16] __attribute__((aligned(16)));
	unsigned rounds = 0;
	int held = 0;

	switch (aead) {
	case SG_AEAD_AES_128_CCM_8:
	case SG_AEAD_AES_128_CCM:
	case SG_AEAD_AES_128_GCM:
	case SG_AEAD_AES_128_CBC_SHA256:
		aes_keyexp_128_enc_sse(key, enc);
		rounds = 11;
		break;
	case SG_AEAD_AES_256_GCM:
		aes_keyexp_256_sse(key, enc, dec);
		rounds = 15;
		break;
	default:
		return sg_rec_ctx_holds(ctx, key, 32);
	}
	for (unsigned r = 0; r < rounds; r++)
		held |= sg_rec_ctx_holds(ctx, enc + 16 * r, 16);
	sg_wipe(enc, sizeof(enc));
	sg_wipe(dec, sizeof(dec));
	return held;
}
