/* SPDX-License-Identifier: Apache-2.0 */
/*
 * AES-128-CBC with HMAC-SHA256 records (TLS_PSK_WITH_AES_128_CBC_SHA256,
 * TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256): RFC 5246 §6.2.3.2 block
 * ciphers with TLS 1.1+ explicit IVs as DTLS 1.2 uses them (RFC 6347
 * §4.1.2.1), MAC-then-encrypt, or encrypt-then-MAC when negotiated
 * (RFC 7366). Runs on the worker that owns the context, inside the bursts
 * of record.c; see docs/record-layer.md, "CBC".
 *
 *  - Seal, one chained IPsec-MB job per record. The explicit IV is made as
 *    NIST SP 800-38A, Appendix C, suggests, with no random numbers on the
 *    worker: the first block of the CBC input is a nonce block (three zero
 *    bytes and the 13-byte MAC pseudo-header seq_num ‖ type ‖ version ‖
 *    length: unique per key, as seq_num is), encrypted with a zero IV; its
 *    ciphertext is the record's IV, unpredictable without the key. For
 *    MAC-then-encrypt the job hashes the pseudo-header in the nonce block
 *    and the content after it, writes the MAC after the content, then
 *    encrypts nonce ‖ content ‖ MAC ‖ padding. For encrypt-then-MAC it
 *    encrypts nonce ‖ content ‖ padding and hashes pseudo-header ‖ IV ‖
 *    ciphertext, the pseudo-header written where the record header goes
 *    (the header replaces it after the job). Padding is minimal (1..16 B).
 *  - Open, encrypt-then-MAC: one chained job (HMAC over pseudo-header ‖ IV
 *    ‖ ciphertext, the pseudo-header over the header and the header put
 *    back afterwards, then CBC decryption), the MAC compared in constant
 *    time, then the padding (authenticated: no oracle).
 *  - Open, MAC-then-encrypt: a CBC decryption job, then padding and MAC
 *    checked in constant time against Lucky Thirteen (AlFardan and
 *    Paterson, 2013): masks over the last 256 bytes for the padding, the
 *    HMAC over the secret content length with the same SHA-256
 *    compressions whatever that length (every block that could hold the
 *    end is compressed, the state after the right one selected by masks),
 *    the received MAC taken from its secret offset by a masked rotation,
 *    bad padding and bad MAC one status (SG_REC_AUTH_FAILED), no early
 *    exit. The compression is OpenSSL's SHA256_Transform.
 *
 * The HMAC states (key ⊕ ipad, key ⊕ opad) are computed from the SA's raw
 * MAC key, two compressions, unless a small per-context cache of hot keys
 * has them (hmac_states()); the AES schedules are expanded per record.
 */
/*
 * SHA256_Init and SHA256_Transform are deprecated in OpenSSL 3.0 but kept:
 * the EVP interface has no single-block compression from a given state,
 * which the constant-time MAC (and IPsec-MB's precomputed HMAC states)
 * need.
 */
#define OPENSSL_SUPPRESS_DEPRECATED 1

#include <emmintrin.h>
#include <errno.h>
#include <string.h>

#include <openssl/sha.h>

#include <stormgate/bytes.h>
#include <stormgate/imb_job.h>
#include <stormgate/record.h>

#include "rec_int.h"

#define SHA_BLOCK   64
#define MAC_LEN     SG_DTLS_CBC_MAC_LEN
#define IV_LEN      SG_DTLS_CBC_IV_LEN
#define BLK         SG_DTLS_CBC_BLOCK
#define PSEUDO_LEN  SG_DTLS_AAD_LEN /* seq_num ‖ type ‖ version ‖ length */
#define HDR         SG_DTLS_HDR_LEN
#define HDR_OFF_LEN 11 /* length field of a record header without CID, and of the pseudo-header */
/* MAC-then-encrypt: the fewest bytes after the IV: MAC and the padding length, a block multiple */
#define MTE_MIN 48
/* Encrypt-then-MAC: one block of ciphertext and the MAC */
#define ETM_MIN (BLK + MAC_LEN)

static const uint8_t zero_iv[IV_LEN];

/* ---- constant-time helpers ------------------------------------------------------ */

/*
 * The masks below are all-ones or zero. The empty asm hides a mask's value
 * from the optimiser, which could otherwise turn a select back into a
 * branch on the secret.
 */
static inline uint32_t ct_barrier(uint32_t v)
{
	__asm__("" : "+r"(v));
	return v;
}

/* ~0 when a < b (unsigned), else 0. */
static inline uint32_t ct_lt(uint32_t a, uint32_t b)
{
	return ct_barrier(0u - ((a ^ ((a ^ b) | ((a - b) ^ b))) >> 31));
}

static inline uint32_t ct_ge(uint32_t a, uint32_t b)
{
	return ~ct_lt(a, b);
}

/* ~0 when a == b, else 0. */
static inline uint32_t ct_eq(uint32_t a, uint32_t b)
{
	uint32_t d = a ^ b;

	return ct_barrier(~(0u - ((d | (0u - d)) >> 31)));
}

/* ---- HMAC-SHA256 ---------------------------------------------------------------- */

/* The state after compressing one block from SHA-256's initial value (FIPS 180-4 §6.2). */
static void sha256_one(const uint8_t block[SHA_BLOCK], uint8_t state[32])
{
	SHA256_CTX c;

	SHA256_Init(&c);
	SHA256_Transform(&c, block);
	memcpy(state, c.h, 32);
	sg_wipe(&c, sizeof(c));
}

void sg_cbc_hmac_key(const uint8_t *key, size_t key_len, uint8_t pads[2 * SG_DTLS_CBC_MAC_LEN])
{
	uint8_t k[SHA_BLOCK], block[SHA_BLOCK];

	/* RFC 2104 §2: a key longer than the block is hashed first; shorter ones are zero-padded.
	 */
	memset(k, 0, sizeof(k));
	if (key_len > SHA_BLOCK)
		SHA256(key, key_len, k);
	else if (key_len)
		memcpy(k, key, key_len);
	for (unsigned i = 0; i < SHA_BLOCK; i++)
		block[i] = k[i] ^ 0x36;
	sha256_one(block, pads);
	for (unsigned i = 0; i < SHA_BLOCK; i++)
		block[i] = k[i] ^ 0x5c;
	sha256_one(block, pads + 32);
	sg_wipe(k, sizeof(k));
	sg_wipe(block, sizeof(block));
}

/*
 * ~0 when a < b, for a and b less than 2^31 apart, as a byte; no barrier,
 * so that a loop of them vectorises (its operands come through ct_barrier()).
 */
static inline uint8_t lt8(uint32_t a, uint32_t b)
{
	return (uint8_t)(0u - ((a - b) >> 31));
}

/*
 * 0xff for each of the 16 positions q .. q + 15 at or past at, else 0, in
 * SSE2 lanes (x86-64's baseline; IPsec-MB makes the record layer x86-only):
 * no branch, no table, the same instructions whatever at is. Positions and
 * at are under 2^15 apart (records are under 2^15 bytes), so q + k - at fits
 * a signed 16-bit lane.
 */
static inline __m128i at_or_past(uint32_t q, uint32_t at)
{
	const __m128i base = _mm_set1_epi16((int16_t)(q - at)), minus1 = _mm_set1_epi16(-1);
	const __m128i lo = _mm_add_epi16(base, _mm_setr_epi16(0, 1, 2, 3, 4, 5, 6, 7));
	const __m128i hi = _mm_add_epi16(base, _mm_setr_epi16(8, 9, 10, 11, 12, 13, 14, 15));

	return _mm_packs_epi16(_mm_cmpgt_epi16(lo, minus1), _mm_cmpgt_epi16(hi, minus1));
}

/*
 * Block j (64 bytes) of the MAC input prefix ‖ data, zero past the data_max
 * bytes that may be read: bounds that are all public.
 */
static void msg_block(uint8_t *block, uint32_t j, const uint8_t *prefix, unsigned prefix_len,
                      const uint8_t *data, uint32_t data_max)
{
	uint32_t from = j * SHA_BLOCK, to = from + SHA_BLOCK, end = prefix_len + data_max;
	uint32_t p = from;

	memset(block, 0, SHA_BLOCK);
	if (p < prefix_len) {
		uint32_t k = (prefix_len < to ? prefix_len : to) - p;

		memcpy(block, prefix + p, k);
		p += k;
	}
	if (p < to && p < end)
		memcpy(block + (p - from), data + (p - prefix_len), (end < to ? end : to) - p);
}

/* HMAC's outer hash (RFC 2104 §2): opad state, then H(inner) ‖ 0x80 ‖ zeros ‖ 768 bits. */
static void outer_hash(SHA256_CTX *c, const uint8_t *pads, const uint32_t inner[8],
                       uint8_t mac[SG_DTLS_CBC_MAC_LEN])
{
	uint8_t block[SHA_BLOCK] = { 0 };

	memcpy(c->h, pads + 32, 32);
	for (unsigned w = 0; w < 8; w++)
		sg_store_be32(block + 4 * w, inner[w]);
	block[32] = 0x80;
	sg_store_be32(block + SHA_BLOCK - 4, (SHA_BLOCK + 32) * 8);
	SHA256_Transform(c, block);
	for (unsigned w = 0; w < 8; w++)
		sg_store_be32(mac + 4 * w, c->h[w]);
	sg_wipe(block, sizeof(block));
}

int sg_cbc_hmac_ct(const uint8_t pads[2 * SG_DTLS_CBC_MAC_LEN], const uint8_t *prefix,
                   unsigned prefix_len, const uint8_t *data, uint32_t data_max, uint32_t len,
                   uint32_t min_len, uint8_t mac[SG_DTLS_CBC_MAC_LEN])
{
	uint8_t block[SHA_BLOCK];
	uint32_t inner[8] = { 0 };
	uint32_t n, nmin, nmax, bits, fin, first_var, last;
	SHA256_CTX c;

	if (prefix_len > SHA_BLOCK || (prefix_len && !prefix) || (data_max && !data) ||
	    min_len > data_max || data_max > SG_DTLS_MAX_CIPHERTEXT)
		return -EINVAL;
	/* len is secret: keep it in range with a mask, not a branch (min_len <= data_max). */
	len = (len & ct_ge(data_max, len)) | (data_max & ct_lt(data_max, len));
	len = (len & ct_ge(len, min_len)) | (min_len & ct_lt(len, min_len));

	n = prefix_len + len; /* secret */
	nmin = prefix_len + min_len;
	nmax = prefix_len + data_max;
	/*
	 * SHA-256 padding (FIPS 180-4 §5.1.1): 0x80 after the message, zeros, and
	 * the 64-bit bit length in the last 8 bytes of block fin, which counts
	 * the ipad block before the message.
	 */
	bits = (SHA_BLOCK + n) * 8;
	fin = (n + 8) / SHA_BLOCK;
	first_var = nmin / SHA_BLOCK; /* blocks before it are message for every length */
	last = (nmax + 8) / SHA_BLOCK;

	memset(&c, 0, sizeof(c));
	memcpy(c.h, pads, 32);
	for (uint32_t j = 0; j < first_var; j++) {
		if (j == 0 && prefix_len) {
			msg_block(block, 0, prefix, prefix_len, data, data_max);
			SHA256_Transform(&c, block);
		} else {
			SHA256_Transform(&c, data + j * SHA_BLOCK - prefix_len);
		}
	}
	/*
	 * Every block that may hold the end of the message, whatever its secret
	 * length, is built with masks and compressed; the state after block fin
	 * is kept. In block j the message ends at rel = n - 64 j (secret, maybe
	 * outside the block): bytes before it are message, the byte at it 0x80.
	 */
	for (uint32_t j = first_var; j <= last; j++) {
		uint32_t is_fin = ct_eq(j, fin), rel = ct_barrier(n - j * SHA_BLOCK);
		uint8_t len_bytes[4];

		msg_block(block, j, prefix, prefix_len, data, data_max);
		for (uint32_t t = 0; t < SHA_BLOCK; t++) {
			uint8_t eq = (uint8_t)(~lt8(t, rel) & ~lt8(rel, t));

			block[t] = (uint8_t)((block[t] & lt8(t, rel)) | (0x80 & eq));
		}
		/* The length's low 32 bits end block fin (its high ones are zero). */
		sg_store_be32(len_bytes, bits & is_fin);
		for (unsigned t = 0; t < 4; t++)
			block[SHA_BLOCK - 4 + t] |= len_bytes[t];
		SHA256_Transform(&c, block);
		for (unsigned w = 0; w < 8; w++)
			inner[w] |= c.h[w] & is_fin;
	}

	outer_hash(&c, pads, inner, mac);
	sg_wipe(block, sizeof(block));
	sg_wipe(inner, sizeof(inner));
	sg_wipe(&c, sizeof(c));
	return 0;
}

/* ---- raw CBC ---------------------------------------------------------------------- */

int sg_cbc_crypt(struct sg_rec_ctx *ctx, int dir, const uint8_t key[16], const uint8_t iv[16],
                 const uint8_t *in, uint8_t *out, size_t len)
{
	IMB_JOB *job;
	int rc;

	if (!ctx || !key || !iv || (len && (!in || !out)) || len % BLK ||
	    len > SG_DTLS_MAX_CIPHERTEXT || (dir != SG_AEAD_DIR_SEAL && dir != SG_AEAD_DIR_OPEN))
		return -EINVAL;
	if (len == 0)
		return 0;
	IMB_AES_KEYEXP_128(ctx->mgr, key, ctx->cbc_enc, ctx->ks[0]);
	if (ctx->used_slots < 1)
		ctx->used_slots = 1;
	job = sg_imb_aes128_job(ctx->mgr, IMB_CIPHER_CBC,
	                        dir == SG_AEAD_DIR_SEAL ? (const void *)ctx->cbc_enc : ctx->ks[0],
	                        in, out, len, iv, IV_LEN);
	if (dir == SG_AEAD_DIR_OPEN) {
		job->cipher_direction = IMB_DIR_DECRYPT;
		job->chain_order = IMB_ORDER_HASH_CIPHER;
	}
	rc = sg_imb_job_done(ctx->mgr, IMB_SUBMIT_JOB(ctx->mgr));
	sg_wipe(ctx->cbc_enc, sizeof(ctx->cbc_enc));
	sg_wipe(ctx->ks[0], sizeof(ctx->ks[0]));
	return rc;
}

/* ---- HMAC-state cache ------------------------------------------------------------ */

/* The cache set of owner (SA address | direction), or NULL without a cache. */
static inline struct cbc_set *cbc_set_of(const struct sg_rec_ctx *ctx, uintptr_t owner)
{
	uint64_t h = (uint64_t)(owner >> 6) * UINT64_C(0x9e3779b97f4a7c15);

	if (!ctx->cbc_sets)
		return NULL;
	return &ctx->cbc_sets[((unsigned)(h >> 32) ^ (unsigned)(owner & 1)) % CBC_CACHE_SETS];
}

/* Start loading what the engine reads of a CBC SA beyond its first line. */
static inline void cbc_prefetch(const struct sg_rec_ctx *ctx, struct sg_rec_sa *sa, uintptr_t owner)
{
	const struct cbc_set *set = cbc_set_of(ctx, owner);

	prefetch_line(sg_rec_sa_mac(sa, ctx->window));
	if (set) {
		prefetch_line(set);
		prefetch_line((const uint8_t *)set + SG_CACHE_LINE);
	}
}

/* ---- open ------------------------------------------------------------------------ */

/* The record header's seq_num ‖ type ‖ version: the MAC pseudo-header less its length. */
static inline void pseudo_header(uint8_t *dst, const uint8_t *hdr)
{
	memcpy(dst, hdr + SG_DTLS_HDR_OFF_EPOCH, 8);
	dst[8] = hdr[SG_DTLS_HDR_OFF_TYPE];
	dst[9] = hdr[SG_DTLS_HDR_OFF_VER];
	dst[10] = hdr[SG_DTLS_HDR_OFF_VER + 1];
}

enum sg_rec_status sg_rec_cbc_open_front(struct sg_rec_ctx *ctx, struct sg_rec_open_op *op,
                                         struct slot *s, unsigned flen)
{
	struct sg_rec_sa *sa = op->sa;
	uint8_t *rec = op->rec;
	int etm = sa->flags & SG_SA_F_ETM;
	unsigned ct;

	cbc_prefetch(ctx, sa, (uintptr_t)sa);
	/*
	 * RFC 5246 §6.2.3.2: IV, then whole blocks holding at least the MAC and
	 * the padding length (or, RFC 7366 §3, IV, a block, the MAC). A length
	 * that is no block multiple is a decryption failure, bad_record_mac
	 * (§7.2.2), public from the length alone.
	 */
	if (unlikely(flen < IV_LEN + (etm ? ETM_MIN : MTE_MIN)))
		return SG_REC_RUNT;
	ct = flen - IV_LEN - (etm ? MAC_LEN : 0);
	if (unlikely(ct % BLK))
		return SG_REC_AUTH_FAILED;

	s->aead = SG_AEAD_AES_128_CBC_SHA256;
	s->open = 1;
	s->etm = (uint8_t)(etm != 0);
	s->key = sa->rx_key;
	s->owner = (uintptr_t)sa;
	s->src = rec;
	s->cipher_off = HDR + IV_LEN;
	s->dst = op->dst ? op->dst : rec + HDR + IV_LEN;
	s->len = ct;
	s->pt_len = 0;
	op->pt_off = op->dst ? 0 : HDR + IV_LEN;
	op->type = rec[SG_DTLS_HDR_OFF_TYPE];
	if (etm) {
		/*
		 * RFC 7366 §3: MAC(seq_num ‖ type ‖ version ‖ length ‖ IV ‖
		 * ciphertext), length counting IV and ciphertext. The pseudo-header
		 * goes over the record header, which is put back after the job.
		 */
		memcpy(s->aad_buf, rec, HDR);
		s->tag = rec + HDR + IV_LEN + ct;
		s->hash_off = 0;
		s->hash_len = HDR + IV_LEN + ct;
		pseudo_header(rec, s->aad_buf);
		sg_store_be16(rec + HDR_OFF_LEN, (uint16_t)(IV_LEN + ct));
	} else {
		/* The pseudo-header's length is secret until the padding is read. */
		pseudo_header(s->aad_buf, rec);
		s->tag = NULL;
		s->hash_off = 0;
		s->hash_len = 0;
	}
	return SG_REC_OK;
}

/* Constant-time 32-byte comparison: 0 when equal. */
static inline uint32_t mac_differs(const uint8_t *a, const uint8_t *b)
{
	uint64_t d = 0;

	for (unsigned k = 0; k < MAC_LEN; k += 8) {
		uint64_t x, y;

		memcpy(&x, a + k, 8);
		memcpy(&y, b + k, 8);
		d |= x ^ y;
	}
	return (uint32_t)((d | (0 - d)) >> 63);
}

/*
 * MAC-then-encrypt, after decryption: pt holds ct bytes, content ‖ MAC ‖
 * padding ‖ padding_length. Checks padding and MAC in constant time with
 * respect to the padding and the content length (ct is public) and returns
 * the content length, or UINT32_MAX for bad padding or a bad MAC alike.
 */
static uint32_t mte_check(const uint8_t *pads, const uint8_t pseudo[PSEUDO_LEN - 2],
                          const uint8_t *pt, uint32_t ct)
{
	uint8_t hdr[PSEUDO_LEN], mac[MAC_LEN], got[MAC_LEN], tmp[MAC_LEN];
	uint32_t pad = ct_barrier(pt[ct - 1]), good, len, max_len, min_len, from, rot, edge;
	__m128i diff = _mm_setzero_si128();

	/*
	 * RFC 5246 §6.2.3.2: padding_length + 1 bytes, each equal to
	 * padding_length, after content and MAC, from edge on. Read the last 256
	 * bytes (or all) whatever the padding says, a block at a time (ct is a
	 * block multiple).
	 */
	good = ct_ge(ct, pad + 1 + MAC_LEN);
	edge = ct - 1 - pad;
	for (uint32_t q = ct - (ct < SG_DTLS_CBC_PAD_MAX ? ct : SG_DTLS_CBC_PAD_MAX); q < ct;
	     q += BLK) {
		__m128i b = _mm_loadu_si128((const __m128i *)(const void *)(pt + q));

		b = _mm_xor_si128(b, _mm_set1_epi8((char)pad));
		diff = _mm_or_si128(diff, _mm_and_si128(b, at_or_past(q, edge)));
	}
	good &= ct_eq((uint32_t)_mm_movemask_epi8(_mm_cmpeq_epi8(diff, _mm_setzero_si128())),
	              0xffff);

	/* Bad padding: the MAC over the longest content, still computed, still failing. */
	max_len = ct - 1 - MAC_LEN;
	min_len = max_len > SG_DTLS_CBC_PAD_MAX - 1 ? max_len - (SG_DTLS_CBC_PAD_MAX - 1) : 0;
	len = max_len - (pad & good);

	memcpy(hdr, pseudo, PSEUDO_LEN - 2);
	sg_store_be16(hdr + PSEUDO_LEN - 2, (uint16_t)len);
	(void)sg_cbc_hmac_ct(pads, hdr, PSEUDO_LEN, pt, max_len, len, min_len, mac);

	/*
	 * The received MAC starts at the secret offset len, within the last
	 * MAC_LEN + 255 bytes before the padding length byte. Gather each byte
	 * of that window (to the end: a block multiple) at (position - from) mod
	 * 32, so got[] is the MAC rotated by (len - from) mod 32, then undo the
	 * rotation in five masked steps of 1, 2, 4, 8 and 16.
	 */
	from = min_len;
	memset(got, 0, sizeof(got));
	len = ct_barrier(len);
	for (uint32_t q = from; q < ct; q += BLK) {
		__m128i *g = (__m128i *)(void *)(got + (q - from) % MAC_LEN);
		__m128i in = _mm_andnot_si128(at_or_past(q, len + MAC_LEN), at_or_past(q, len));
		__m128i b = _mm_loadu_si128((const __m128i *)(const void *)(pt + q));

		_mm_storeu_si128(g, _mm_or_si128(_mm_loadu_si128(g), _mm_and_si128(b, in)));
	}
	rot = (len - from) % MAC_LEN;
	for (unsigned bit = 1; bit < MAC_LEN; bit <<= 1) {
		uint8_t m = (uint8_t)ct_barrier(0u - ((rot / bit) & 1));
		for (unsigned k = 0; k < MAC_LEN; k++)
			tmp[k] = got[(k + bit) % MAC_LEN];
		for (unsigned k = 0; k < MAC_LEN; k++)
			got[k] = (uint8_t)((tmp[k] & m) | (got[k] & ~m));
	}
	good &= ~(0u - mac_differs(mac, got));

	sg_wipe(mac, sizeof(mac));
	sg_wipe(got, sizeof(got));
	sg_wipe(tmp, sizeof(tmp));
	return (len & good) | ~good;
}

void sg_rec_cbc_open_check(struct slot *s)
{
	const uint8_t *pads = (const uint8_t *)s->keys + CBC_PADS_OFF;
	const uint8_t *pt = s->dst;
	uint32_t ct = s->len, pad;

	if (s->etm)
		memcpy((uint8_t *)s->src, s->aad_buf,
		       HDR); /* the header the pseudo-header replaced */
	if (s->result != SG_REC_OK)
		return;
	if (!s->etm) {
		uint32_t len = mte_check(pads, s->aad_buf, pt, ct);

		s->pt_len = len == UINT32_MAX ? 0 : len;
		s->result = len == UINT32_MAX ? SG_REC_AUTH_FAILED : SG_REC_OK;
		return;
	}
	if (mac_differs(s->aad_buf + 16, s->tag)) {
		s->result = SG_REC_AUTH_FAILED;
		return;
	}
	/* Authenticated: the padding is the sender's, checked plainly (RFC 7366 §3). */
	pad = pt[ct - 1];
	if (pad + 1 > ct) {
		s->result = SG_REC_AUTH_FAILED;
		return;
	}
	for (uint32_t i = 0; i <= pad; i++) {
		if (pt[ct - 1 - i] != pad) {
			s->result = SG_REC_AUTH_FAILED;
			return;
		}
	}
	s->pt_len = ct - 1 - pad;
}

/* ---- seal ------------------------------------------------------------------------ */

enum sg_rec_status sg_rec_cbc_seal_front(struct sg_rec_ctx *ctx, struct sg_rec_seal_op *op,
                                         struct slot *s)
{
	struct sg_rec_sa *sa = op->sa;
	int etm = sa->flags & SG_SA_F_ETM;
	unsigned padn, body, flen;
	uint8_t *rec, *iv, *pt;
	uint64_t seq;

	cbc_prefetch(ctx, sa, (uintptr_t)sa | 1);
	/* Minimal padding, 1..16 bytes with its length byte, to a block multiple. */
	padn = BLK - op->pt_len % BLK;
	body = op->pt_len + padn + (etm ? 0 : MAC_LEN); /* encrypted after the IV */
	flen = IV_LEN + body + (etm ? MAC_LEN : 0);
	/* RFC 8449 §4: the limit is on the content. */
	if (unlikely(op->pt_len > sg_rec_sa_max_plaintext(sa)))
		return SG_REC_RECORD_LIMIT;
	if (unlikely(op->pt_off < HDR + IV_LEN || op->buf_len < op->pt_off ||
	             op->buf_len - op->pt_off < (uint64_t)flen - IV_LEN))
		return SG_REC_NO_ROOM;
	seq = sg_rec_sa_tx_seq(sa);
	if (unlikely(seq > SG_DTLS_SEQ_MAX))
		return SG_REC_SEQ_EXHAUSTED;
	sa->tx_word++;

	pt = op->buf + op->pt_off;
	iv = pt - IV_LEN;
	rec = iv - HDR;
	rec[SG_DTLS_HDR_OFF_TYPE] = op->type;
	sg_store_be16(rec + SG_DTLS_HDR_OFF_VER, SG_DTLS_VERSION_1_2);
	sg_store_be16(rec + SG_DTLS_HDR_OFF_EPOCH, sa->epoch);
	sg_store_be48(rec + SG_DTLS_HDR_OFF_SEQ, seq);
	/* The nonce block: 0 0 0 ‖ seq_num ‖ type ‖ version ‖ content length. */
	memset(iv, 0, 3);
	pseudo_header(iv + 3, rec);
	sg_store_be16(iv + 3 + HDR_OFF_LEN, (uint16_t)op->pt_len);
	memset(pt + op->pt_len + (etm ? 0 : MAC_LEN), (int)(padn - 1), padn);

	s->aead = SG_AEAD_AES_128_CBC_SHA256;
	s->open = 0;
	s->etm = (uint8_t)(etm != 0);
	s->key = sa->tx_key;
	s->owner = (uintptr_t)sa | 1;
	s->dst = iv;
	if (etm) {
		/* Cipher first, then the MAC over the pseudo-header, in the header's place. */
		s->len = IV_LEN + op->pt_len + padn;
		s->src = rec;
		s->cipher_off = HDR;
		s->hash_off = 0;
		s->hash_len = HDR + s->len;
		s->tag = iv + s->len;
		memcpy(s->aad_buf, rec, HDR); /* the header, for sg_rec_cbc_seal_back() */
		sg_store_be16(s->aad_buf + HDR_OFF_LEN, (uint16_t)flen);
		pseudo_header(rec, s->aad_buf);
		sg_store_be16(rec + HDR_OFF_LEN, (uint16_t)s->len);
	} else {
		/* MAC over the pseudo-header in the nonce block and the content, then all
		 * encrypted. */
		sg_store_be16(rec + HDR_OFF_LEN, (uint16_t)flen);
		s->len = IV_LEN + body;
		s->src = iv;
		s->cipher_off = 0;
		s->hash_off = 3;
		s->hash_len = PSEUDO_LEN + op->pt_len;
		s->tag = pt + op->pt_len;
	}
	op->rec_off = (uint32_t)(rec - op->buf);
	op->rec_len = HDR + flen;
	op->seq = seq;
	return SG_REC_OK;
}

void sg_rec_cbc_seal_back(struct slot *s)
{
	if (s->etm)
		memcpy((uint8_t *)s->src, s->aad_buf, HDR);
}

/* ---- engine ---------------------------------------------------------------------- */

/*
 * The HMAC states of mac_key (owner: SA address | direction) into pads:
 * from the cache when its set holds them for that owner and the very same
 * key (an SA reused by another session must not hit), else computed (two
 * SHA-256 compressions) and admitted on the owner's second miss in a row at
 * that set, so a stream of one-off sessions neither evicts the hot keys nor
 * pays for the copy. docs/record-layer.md, "CBC", has the measurements.
 */
static void hmac_states(struct sg_rec_ctx *ctx, uintptr_t owner, const uint8_t *mac_key,
                        uint8_t *pads)
{
	struct cbc_set *set = cbc_set_of(ctx, owner);

	if (!set) {
		sg_cbc_hmac_key(mac_key, SG_DTLS_CBC_MAC_KEY_LEN, pads);
		return;
	}
	if (set->owner == owner && !mac_differs(set->key, mac_key)) {
		memcpy(pads, set->pads, sizeof(set->pads));
		return;
	}
	sg_cbc_hmac_key(mac_key, SG_DTLS_CBC_MAC_KEY_LEN, pads);
	if (set->ghost != owner) {
		set->ghost = owner;
		return;
	}
	ctx->used_cbc_cache = 1;
	set->ghost = 0;
	set->owner = owner;
	memcpy(set->key, mac_key, sizeof(set->key));
	memcpy(set->pads, pads, sizeof(set->pads));
}

void sg_rec_cbc_keys(struct sg_rec_ctx *ctx, struct slot *s, unsigned i)
{
	struct sg_rec_sa *sa = (struct sg_rec_sa *)(s->owner & ~(uintptr_t)1);
	const struct sg_rec_sa_mac *m = sg_rec_sa_mac(sa, ctx->window);

	if (s->open)
		IMB_AES_KEYEXP_128(ctx->mgr, s->key, ctx->cbc_enc, ctx->ks[i]);
	else
		ctx->keyexp128(s->key, ctx->ks[i]);
	hmac_states(ctx, s->owner, s->open ? m->rx_mac : m->tx_mac, ctx->ks[i] + CBC_PADS_OFF);
	s->keys = ctx->ks[i];
}

void sg_rec_cbc_fill_job(IMB_JOB *job, const struct slot *s)
{
	const uint8_t *pads = (const uint8_t *)s->keys + CBC_PADS_OFF;

	job->src = s->src;
	job->dst = s->dst;
	job->cipher_mode = IMB_CIPHER_CBC;
	job->cipher_direction = s->open ? IMB_DIR_DECRYPT : IMB_DIR_ENCRYPT;
	job->cipher_start_src_offset_in_bytes = s->cipher_off;
	job->msg_len_to_cipher_in_bytes = s->len;
	job->iv = s->open ? s->src + HDR : zero_iv;
	job->iv_len_in_bytes = IV_LEN;
	job->key_len_in_bytes = IMB_KEY_128_BYTES;
	job->enc_keys = s->keys;
	job->dec_keys = s->keys;
	job->user_data = (void *)s;
	if (s->open && !s->etm) {
		/* MAC-then-encrypt: decryption only; the MAC is checked after, in constant time. */
		job->hash_alg = IMB_AUTH_NULL;
		job->chain_order = IMB_ORDER_CIPHER_HASH;
		return;
	}
	job->hash_alg = IMB_AUTH_HMAC_SHA_256;
	job->hash_start_src_offset_in_bytes = s->hash_off;
	job->msg_len_to_hash_in_bytes = s->hash_len;
	job->u.HMAC._hashed_auth_key_xor_ipad = pads;
	job->u.HMAC._hashed_auth_key_xor_opad = pads + 32;
	job->auth_tag_output = s->open ? (uint8_t *)s->aad_buf + 16 : s->tag;
	job->auth_tag_output_len_in_bytes = MAC_LEN;
	/*
	 * Encrypt-then-MAC seals cipher first; everything else hashes first: an
	 * EtM open authenticates the ciphertext before decrypting it, a MtE seal
	 * writes the MAC the encryption then covers.
	 */
	job->chain_order = (!s->open && s->etm) ? IMB_ORDER_CIPHER_HASH : IMB_ORDER_HASH_CIPHER;
}
