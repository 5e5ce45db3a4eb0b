/* SPDX-License-Identifier: Apache-2.0 */
/*
 * DTLS 1.2 record open/seal bursts over Intel IPsec-MB 1.3 (see record.h and
 * docs/record-layer.md).
 *
 * A burst of at most SG_BURST_MAX records runs as
 *   0. prefetch of every SA (both lines) and record header of the burst;
 *   1. front end, a group of GROUP records at a time: header and policy
 *      checks, replay pre-check, nonce and AAD into the record's slot;
 *   2. crypto engine, for the same group: key schedules (expanded per record
 *      from the SA's raw key; GCM key data from a per-worker cache), one
 *      IPsec-MB job per record submitted without flushing; after the last
 *      group one flush for the burst, then the CCM records whose AAD is too
 *      long for IPsec-MB's CCM job, then a constant-time tag comparison;
 *   3. back end, in op order: replay update for authenticated records only,
 *      inner plaintext, and zeroing of anything decrypted that is refused.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <intel-ipsec-mb.h>

#include <stormgate/bytes.h>
#include <stormgate/imb_job.h>
#include <stormgate/record.h>

#include "rec_int.h"
#include "replay.h"

static inline int is_ccm(unsigned aead)
{
	return aead == SG_AEAD_AES_128_CCM_8 || aead == SG_AEAD_AES_128_CCM;
}

static inline int is_gcm(unsigned aead)
{
	return aead == SG_AEAD_AES_128_GCM || aead == SG_AEAD_AES_256_GCM;
}

/* ---- context ---------------------------------------------------------------- */

/* Cache-aligned allocation; aligned_alloc() wants a multiple of the alignment. */
static void *aalloc(size_t size)
{
	return aligned_alloc(SG_CACHE_LINE,
	                     (size + SG_CACHE_LINE - 1) & ~(size_t)(SG_CACHE_LINE - 1));
}

static int pow2(unsigned v)
{
	return v && (v & (v - 1)) == 0;
}

/* (Re)initialise the IPsec-MB manager in the context's own memory. */
static int mgr_init(struct sg_rec_ctx *ctx)
{
	ctx->mgr = imb_set_pointers_mb_mgr(ctx->mgr_mem, 0, 1);
	if (!ctx->mgr)
		return -ENOMEM;
	if (ctx->flags & SG_REC_CTX_F_LATENCY) {
		init_mb_mgr_sse(ctx->mgr);
		ctx->arch = IMB_ARCH_SSE;
	} else {
		init_mb_mgr_auto(ctx->mgr, &ctx->arch);
	}
	if (imb_get_errno(ctx->mgr) != 0)
		return -ENOTSUP;
	switch (ctx->arch) {
	case IMB_ARCH_SSE:
		ctx->keyexp128 = aes_keyexp_128_enc_sse;
		return 0;
	case IMB_ARCH_AVX:
		ctx->keyexp128 = aes_keyexp_128_enc_avx;
		return 0;
	case IMB_ARCH_AVX2:
		ctx->keyexp128 = aes_keyexp_128_enc_avx2;
		return 0;
	case IMB_ARCH_AVX512:
		ctx->keyexp128 = aes_keyexp_128_enc_avx512;
		return 0;
	default:
		return -ENOTSUP; /* no AES-NI: not a data-plane CPU */
	}
}

/* Whether conf (with entries GCM cache entries) is one sg_rec_ctx_create() takes. */
static int ctx_conf_ok(const struct sg_rec_ctx_conf *conf, unsigned entries)
{
	if (conf->window_bits &&
	    (conf->window_bits < SG_REPLAY_WINDOW_MIN || conf->window_bits > SG_REPLAY_WINDOW_MAX ||
	     !pow2(conf->window_bits)))
		return 0;
	return conf->cid_len <= SG_DTLS_CID_MAX && pow2(entries) && entries >= GCM_WAYS &&
	       !(conf->flags & ~(SG_REC_CTX_F_NO_GCM_CACHE | SG_REC_CTX_F_LATENCY));
}

/* Forgeries each AEAD's sessions may take: conf's, 0 for RFC 9147's limit, UINT32_MAX for none. */
static void set_fail_limits(struct sg_rec_ctx *ctx, const struct sg_rec_ctx_conf *conf)
{
	for (unsigned a = 0; a < SG_AEAD_MAX; a++) {
		uint32_t l = conf->auth_fail_limit[a];

		ctx->fail_limit[a] = l == 0            ? sg_aead_integrity_limit((enum sg_aead)a)
		                     : l == UINT32_MAX ? UINT64_MAX
		                                       : l;
	}
}

struct sg_rec_ctx *sg_rec_ctx_create(const struct sg_rec_ctx_conf *conf)
{
	struct sg_rec_ctx_conf def = { 0 };
	struct sg_rec_ctx *ctx;
	unsigned entries;
	int err = -EINVAL;

	if (!conf)
		conf = &def;
	entries = conf->gcm_cache_entries ? conf->gcm_cache_entries : GCM_CACHE_DEFAULT;
	if (!ctx_conf_ok(conf, entries))
		goto err_out;

	err = -ENOMEM;
	ctx = aalloc(sizeof(*ctx));
	if (!ctx)
		goto err_out;
	memset(ctx, 0, sizeof(*ctx));
	ctx->window = conf->window_bits ? conf->window_bits : SG_REPLAY_WINDOW_DEFAULT;
	ctx->cid_len = conf->cid_len;
	ctx->flags = conf->flags;
	set_fail_limits(ctx, conf);

	ctx->mgr_size = (imb_get_mb_mgr_size() + SG_CACHE_LINE - 1) & ~(size_t)(SG_CACHE_LINE - 1);
	ctx->mgr_mem = aalloc(ctx->mgr_size);
	if (!ctx->mgr_mem)
		goto err_ctx;
	err = mgr_init(ctx);
	if (err)
		goto err_mgr;

	err = -ENOMEM;
	ctx->gcm_nsets = entries / GCM_WAYS;
	ctx->gcm_sets = aalloc(ctx->gcm_nsets * sizeof(struct gcm_set));
	if (!ctx->gcm_sets)
		goto err_mgr;
	memset(ctx->gcm_sets, 0, ctx->gcm_nsets * sizeof(struct gcm_set));
	ctx->gcm_cache = aalloc(entries * sizeof(struct gcm_key_data));
	if (!ctx->gcm_cache)
		goto err_tags;
	ctx->gcm_slot = aalloc(SG_BURST_MAX * sizeof(struct gcm_key_data));
	if (!ctx->gcm_slot)
		goto err_cache;
	ctx->long_aad = aalloc(SG_BURST_MAX * sizeof(*ctx->long_aad));
	if (!ctx->long_aad)
		goto err_slot;
	/* B0 ‖ encoded AAD ‖ largest payload, each padded to the block (RFC 3610 §2.2) */
	ctx->ccm_buf_len = 16 + LONG_AAD_LEN + SG_DTLS_MAX_CIPHERTEXT + 16;
	ctx->ccm_buf = aalloc(ctx->ccm_buf_len);
	if (!ctx->ccm_buf)
		goto err_aad;
	if (!(ctx->flags & SG_REC_CTX_F_NO_GCM_CACHE)) {
		ctx->cbc_sets = aalloc(CBC_CACHE_SETS * sizeof(struct cbc_set));
		if (!ctx->cbc_sets)
			goto err_ccm;
		memset(ctx->cbc_sets, 0, CBC_CACHE_SETS * sizeof(struct cbc_set));
	}
	return ctx;

err_ccm:
	free(ctx->ccm_buf);
err_aad:
	free(ctx->long_aad);
err_slot:
	free(ctx->gcm_slot);
err_cache:
	free(ctx->gcm_cache);
err_tags:
	free(ctx->gcm_sets);
err_mgr:
	sg_wipe(ctx->mgr_mem, ctx->mgr_size);
	free(ctx->mgr_mem);
err_ctx:
	free(ctx);
err_out:
	errno = -err;
	return NULL;
}

/* Wipe every secret the context may hold: schedules, GCM key data, tags, lanes. */
static void ctx_wipe_secrets(struct sg_rec_ctx *ctx)
{
	unsigned entries = ctx->gcm_nsets * GCM_WAYS;

	sg_wipe(ctx->ks, sizeof(ctx->ks));
	sg_wipe(ctx->cbc_enc, sizeof(ctx->cbc_enc));
	sg_wipe(ctx->slots, sizeof(ctx->slots));
	sg_wipe(ctx->gcm_sets, ctx->gcm_nsets * sizeof(struct gcm_set));
	sg_wipe(ctx->gcm_cache, entries * sizeof(struct gcm_key_data));
	sg_wipe(ctx->gcm_slot, SG_BURST_MAX * sizeof(struct gcm_key_data));
	sg_wipe(ctx->ccm_buf, ctx->ccm_buf_len);
	if (ctx->cbc_sets)
		sg_wipe(ctx->cbc_sets, CBC_CACHE_SETS * sizeof(struct cbc_set));
	/* IPsec-MB copies round keys and MAC state into its lanes. */
	sg_wipe(ctx->mgr_mem, ctx->mgr_size);
}

void sg_rec_ctx_free(struct sg_rec_ctx *ctx)
{
	if (!ctx)
		return;
	ctx_wipe_secrets(ctx);
	free(ctx->cbc_sets);
	free(ctx->ccm_buf);
	free(ctx->long_aad);
	free(ctx->gcm_slot);
	free(ctx->gcm_cache);
	free(ctx->gcm_sets);
	free(ctx->mgr_mem);
	free(ctx);
}

void sg_rec_ctx_wipe_keys(struct sg_rec_ctx *ctx)
{
	ctx_wipe_secrets(ctx);
	/* Same memory, same CPU: cannot fail where creation succeeded. */
	(void)mgr_init(ctx);
	ctx->used_slots = 0;
	ctx->used_ccm_buf = 0;
	ctx->used_gcm_cache = 0;
	ctx->used_cbc_cache = 0;
}

void sg_rec_ctx_wipe_used(struct sg_rec_ctx *ctx)
{
	unsigned n = ctx->used_slots;

	if (n == 0 && !ctx->used_ccm_buf && !ctx->used_gcm_cache && !ctx->used_cbc_cache)
		return;
	/* Without SAFE_DATA, IPsec-MB leaves round keys and MAC state in its lanes. */
	if (!(ctx->mgr->features & IMB_FEATURE_SAFE_DATA)) {
		sg_rec_ctx_wipe_keys(ctx);
		return;
	}
	sg_wipe(ctx->ks, n * sizeof(ctx->ks[0]));
	sg_wipe(ctx->cbc_enc, sizeof(ctx->cbc_enc));
	sg_wipe(ctx->slots, n * sizeof(ctx->slots[0]));
	sg_wipe(ctx->gcm_slot, n * sizeof(ctx->gcm_slot[0]));
	if (ctx->used_ccm_buf)
		sg_wipe(ctx->ccm_buf, ctx->ccm_buf_len);
	if (ctx->used_gcm_cache) {
		sg_wipe(ctx->gcm_sets, ctx->gcm_nsets * sizeof(struct gcm_set));
		sg_wipe(ctx->gcm_cache, ctx->gcm_nsets * GCM_WAYS * sizeof(struct gcm_key_data));
	}
	if (ctx->used_cbc_cache)
		sg_wipe(ctx->cbc_sets, CBC_CACHE_SETS * sizeof(struct cbc_set));
	ctx->used_slots = 0;
	ctx->used_ccm_buf = 0;
	ctx->used_gcm_cache = 0;
	ctx->used_cbc_cache = 0;
}

static int region_holds(const void *p, size_t n, const void *needle, size_t len)
{
	return p != NULL && memmem(p, n, needle, len) != NULL;
}

int sg_rec_ctx_holds(const struct sg_rec_ctx *ctx, const void *needle, size_t len)
{
	size_t entries = ctx->gcm_nsets * GCM_WAYS;

	if (len == 0)
		return 0;
	return region_holds(ctx, sizeof(*ctx), needle, len) ||
	       region_holds(ctx->mgr_mem, ctx->mgr_size, needle, len) ||
	       region_holds(ctx->gcm_sets, ctx->gcm_nsets * sizeof(struct gcm_set), needle, len) ||
	       region_holds(ctx->gcm_cache, entries * sizeof(struct gcm_key_data), needle, len) ||
	       region_holds(ctx->gcm_slot, SG_BURST_MAX * sizeof(struct gcm_key_data), needle,
	                    len) ||
	       region_holds(ctx->long_aad, SG_BURST_MAX * sizeof(*ctx->long_aad), needle, len) ||
	       region_holds(ctx->ccm_buf, ctx->ccm_buf_len, needle, len) ||
	       region_holds(ctx->cbc_sets,
	                    ctx->cbc_sets ? CBC_CACHE_SETS * sizeof(struct cbc_set) : 0, needle,
	                    len);
}

unsigned sg_rec_ctx_window_bits(const struct sg_rec_ctx *ctx)
{
	return ctx->window;
}

unsigned sg_rec_ctx_cid_len(const struct sg_rec_ctx *ctx)
{
	return ctx->cid_len;
}

const char *sg_rec_ctx_arch(const struct sg_rec_ctx *ctx)
{
	switch (ctx->arch) {
	case IMB_ARCH_SSE:
		return "sse";
	case IMB_ARCH_AVX:
		return "avx";
	case IMB_ARCH_AVX2:
		return "avx2";
	case IMB_ARCH_AVX512:
		return "avx512";
	default:
		return "unknown";
	}
}

/* ---- crypto engine ------------------------------------------------------------ */

static inline unsigned gcm_set_of(const struct sg_rec_ctx *ctx, uintptr_t owner)
{
	/*
	 * SAs are 64-byte aligned: mix the address above that (Fibonacci
	 * hashing), then let direction and key size pick neighbouring sets, so
	 * the two keys of one SA do not contend for one doorkeeper.
	 */
	uint64_t h = (uint64_t)(owner >> 6) * UINT64_C(0x9e3779b97f4a7c15);

	return ((unsigned)(h >> 32) ^ (unsigned)(owner & 3)) & (ctx->gcm_nsets - 1);
}

static inline void gcm_pre(const struct sg_rec_ctx *ctx, const struct slot *s,
                           struct gcm_key_data *kd)
{
	if (s->aead == SG_AEAD_AES_128_GCM)
		IMB_AES128_GCM_PRE(ctx->mgr, s->key, kd);
	else
		IMB_AES256_GCM_PRE(ctx->mgr, s->key, kd);
}

/* Constant-time test of two raw keys of klen (16 or 32) bytes. */
static inline int key_differs(const uint8_t *a, const uint8_t *b, unsigned klen)
{
	uint64_t d = 0;

	for (unsigned k = 0; k < klen; k += 8) {
		uint64_t x, y;

		memcpy(&x, a + k, 8);
		memcpy(&y, b + k, 8);
		d |= x ^ y;
	}
	return d != 0;
}

/*
 * GCM key data for slot i. IPsec-MB's is ~1 KB per key (round keys plus 48
 * hash-key powers) and costs ~150 ns to compute, so hot keys are kept in a
 * 4-way cache tagged by SA, direction and key size, and confirmed by all the
 * key bytes (an SA reused by a new session must not hit). A key is admitted on
 * its second miss while it is the set's doorkeeper, so a stream of one-off
 * sessions (millions of them, each seen rarely) neither evicts the hot keys
 * nor pays for writing 1 KB into cold lines: it is computed into the slot's
 * own space. A way another slot of this burst points at is never evicted.
 */
static const struct gcm_key_data *gcm_keys(struct sg_rec_ctx *ctx, const struct slot *s, unsigned i)
{
	unsigned klen = s->aead == SG_AEAD_AES_256_GCM ? 32 : 16;
	uintptr_t owner = s->owner | (klen == 32 ? 2 : 0);
	struct gcm_set *set;
	unsigned idx, w;

	if (!s->owner || (ctx->flags & SG_REC_CTX_F_NO_GCM_CACHE))
		goto no_cache;
	idx = gcm_set_of(ctx, owner);
	set = &ctx->gcm_sets[idx];
	for (w = 0; w < GCM_WAYS; w++) {
		if (set->owner[w] == owner && !key_differs(set->key[w], s->key, klen)) {
			set->stamp[w] = ctx->stamp;
			return &ctx->gcm_cache[idx * GCM_WAYS + w];
		}
	}
	if (set->ghost != owner) {
		set->ghost = owner;
		goto no_cache;
	}
	/* Least recently used way that no slot of this burst points at. */
	w = GCM_WAYS;
	for (unsigned v = 0; v < GCM_WAYS; v++)
		if (set->stamp[v] != ctx->stamp && (w == GCM_WAYS || set->stamp[v] < set->stamp[w]))
			w = v;
	if (w == GCM_WAYS)
		goto no_cache;
	set->ghost = 0;
	ctx->used_gcm_cache = 1;
	set->owner[w] = owner;
	set->stamp[w] = ctx->stamp;
	memcpy(set->key[w], s->key, klen);
	gcm_pre(ctx, s, &ctx->gcm_cache[idx * GCM_WAYS + w]);
	return &ctx->gcm_cache[idx * GCM_WAYS + w];

no_cache:
	gcm_pre(ctx, s, &ctx->gcm_slot[i]);
	return &ctx->gcm_slot[i];
}

static inline void retire(IMB_JOB *job)
{
	struct slot *s = job->user_data;

	if (job->status != IMB_STATUS_COMPLETED)
		s->result = SG_REC_CRYPTO_ERROR;
}

static void fill_job(IMB_JOB *job, const struct slot *s)
{
	unsigned tl = sg_aead_tag_len(s->aead);

	job->src = s->src;
	job->dst = s->dst;
	job->cipher_start_src_offset_in_bytes = 0;
	job->msg_len_to_cipher_in_bytes = s->len;
	job->hash_start_src_offset_in_bytes = 0;
	job->msg_len_to_hash_in_bytes = s->len;
	job->iv = s->nonce;
	job->iv_len_in_bytes = SG_DTLS_AEAD_NONCE_LEN;
	job->auth_tag_output = s->open ? (uint8_t *)s->tag_out : s->tag;
	job->auth_tag_output_len_in_bytes = tl;
	job->cipher_direction = s->open ? IMB_DIR_DECRYPT : IMB_DIR_ENCRYPT;
	job->enc_keys = s->keys;
	job->dec_keys = s->keys;
	job->user_data = (void *)s;
	switch (s->aead) {
	case SG_AEAD_AES_128_CCM_8:
	case SG_AEAD_AES_128_CCM:
		/* CCM authenticates the plaintext: MAC before encrypting, after decrypting. */
		job->cipher_mode = IMB_CIPHER_CCM;
		job->hash_alg = IMB_AUTH_AES_CCM;
		job->chain_order = s->open ? IMB_ORDER_CIPHER_HASH : IMB_ORDER_HASH_CIPHER;
		job->key_len_in_bytes = IMB_KEY_128_BYTES;
		job->u.CCM.aad = s->aad;
		job->u.CCM.aad_len_in_bytes = s->aad_len;
		break;
	case SG_AEAD_AES_128_GCM:
	case SG_AEAD_AES_256_GCM:
		job->cipher_mode = IMB_CIPHER_GCM;
		job->hash_alg = IMB_AUTH_AES_GMAC;
		job->chain_order = s->open ? IMB_ORDER_HASH_CIPHER : IMB_ORDER_CIPHER_HASH;
		job->key_len_in_bytes =
		        s->aead == SG_AEAD_AES_128_GCM ? IMB_KEY_128_BYTES : IMB_KEY_256_BYTES;
		job->u.GCM.aad = s->aad;
		job->u.GCM.aad_len_in_bytes = s->aad_len;
		break;
	default:
		job->cipher_mode = IMB_CIPHER_CHACHA20_POLY1305;
		job->hash_alg = IMB_AUTH_CHACHA20_POLY1305;
		job->chain_order = s->open ? IMB_ORDER_HASH_CIPHER : IMB_ORDER_CIPHER_HASH;
		job->key_len_in_bytes = IMB_KEY_256_BYTES;
		job->u.CHACHA20_POLY1305.aad = s->aad;
		job->u.CHACHA20_POLY1305.aad_len_in_bytes = s->aad_len;
		break;
	}
}

/* Submit the job just filled on an idle manager and wait for it (composed CCM only). */
static int run_one(IMB_MGR *mgr)
{
	IMB_JOB *done = IMB_SUBMIT_JOB(mgr);
	int ok = 1;

	while (done) {
		ok &= done->status == IMB_STATUS_COMPLETED;
		done = IMB_GET_COMPLETED_JOB(mgr);
	}
	while ((done = IMB_FLUSH_JOB(mgr)))
		ok &= done->status == IMB_STATUS_COMPLETED;
	return ok ? 0 : -EIO;
}

static int ccm_ctr(IMB_MGR *mgr, const void *keys, const uint8_t *ctr_block, const uint8_t *src,
                   uint8_t *dst, uint32_t len)
{
	/* iv: a full 16-byte counter block, A_1 */
	sg_imb_aes128_job(mgr, IMB_CIPHER_CNTR, keys, src, dst, len, ctr_block, 16);
	return run_one(mgr);
}

/*
 * AES-128-CCM (RFC 3610) composed from IPsec-MB primitives, for AAD longer
 * than the 46 bytes IPsec-MB 1.3's CCM job takes (an RFC 9146 AAD with a CID
 * over 23 bytes): CBC-MAC as an AES-CBC encryption over B0 ‖ encoded AAD ‖
 * payload (last block = T), AES-CTR from A_1 over the payload, and the tag
 * T ⊕ E(A_0) with the single-block CFB primitive. Nonce 12 bytes: L = 3.
 */
static int ccm_composed(struct sg_rec_ctx *ctx, struct slot *s)
{
	IMB_MGR *mgr = ctx->mgr;
	unsigned tl = sg_aead_tag_len(s->aead);
	uint8_t *b = ctx->ccm_buf;
	uint8_t a[16], t[16];
	size_t off, alen, plen, total;
	const uint8_t *pt;

	if (s->aad_len > AEAD_AAD_MAX || s->len > SG_DTLS_MAX_CIPHERTEXT)
		return -EINVAL;
	ctx->used_ccm_buf = 1;
	/* A_i = flags(L - 1) ‖ nonce ‖ i (RFC 3610 §2.3) */
	a[0] = 2;
	memcpy(a + 1, s->nonce, 12);
	a[13] = 0;
	a[14] = 0;
	a[15] = 1;
	if (s->open && s->len && ccm_ctr(mgr, s->keys, a, s->src, s->dst, s->len))
		return -EIO;
	pt = s->open ? s->dst : s->src;

	/* B0 = flags(Adata, M, L) ‖ nonce ‖ l(m) (RFC 3610 §2.2) */
	b[0] = (uint8_t)(0x40 | ((tl - 2) / 2) << 3 | 2);
	memcpy(b + 1, s->nonce, 12);
	sg_store_be24(b + 13, s->len);
	/* 0 < l(a) < 2^16 - 2^8: a 2-byte length prefix, zero padded to a block */
	sg_store_be16(b + 16, s->aad_len);
	memcpy(b + 18, s->aad, s->aad_len);
	alen = (2 + (size_t)s->aad_len + 15) & ~(size_t)15;
	memset(b + 18 + s->aad_len, 0, alen - 2 - s->aad_len);
	off = 16 + alen;
	plen = ((size_t)s->len + 15) & ~(size_t)15;
	memcpy(b + off, pt, s->len);
	memset(b + off + s->len, 0, plen - s->len);
	total = off + plen;

	memset(t, 0, sizeof(t));
	/* CBC-MAC: zero IV */
	sg_imb_aes128_job(mgr, IMB_CIPHER_CBC, s->keys, b, b, total, t, 16);
	if (run_one(mgr))
		return -EIO;

	if (!s->open && s->len && ccm_ctr(mgr, s->keys, a, s->src, s->dst, s->len))
		return -EIO;
	a[15] = 0; /* A_0 */
	IMB_AES128_CFB_ONE(mgr, t, b + total - 16, a, s->keys, 16);
	memcpy(s->open ? s->tag_out : s->tag, t, tl);
	sg_wipe(t, sizeof(t));
	return 0;
}

/*
 * Constant-time comparison of an 8- or 16-byte tag: whole words, no early
 * exit, no branch on the data.
 */
static inline int tag_differs(const uint8_t *a, const uint8_t *b, unsigned aead)
{
	uint64_t a0, a1 = 0, b0, b1 = 0;

	memcpy(&a0, a, 8);
	memcpy(&b0, b, 8);
	if (aead != SG_AEAD_AES_128_CCM_8) {
		memcpy(&a1, a + 8, 8);
		memcpy(&b1, b + 8, 8);
	}
	return ((a0 ^ b0) | (a1 ^ b1)) != 0;
}

/*
 * The engine runs a burst's slots in three calls: engine_begin(), then
 * engine_submit() for consecutive groups of slots (a group's schedules are
 * expanded back to back and are still in L1 when its jobs are submitted;
 * the lanes keep filling from one group to the next), then engine_finish(). A slot takes part when
 * its result is SG_REC_OK; after engine_finish() its result is SG_REC_OK, SG_REC_AUTH_FAILED (open)
 * or SG_REC_CRYPTO_ERROR.
 */
static void engine_begin(struct sg_rec_ctx *ctx)
{
	ctx->stamp++;
	ctx->prev = NULL;
	ctx->nslow = 0;
}

static void engine_submit(struct sg_rec_ctx *ctx, unsigned from, unsigned to)
{
	IMB_MGR *mgr = ctx->mgr;
	IMB_JOB *job;

	/*
	 * Key schedules first, in a loop of their own: AES key expansion is a
	 * dependent chain per key, and only back to back do the expansions of
	 * different records overlap in the out-of-order core.
	 */
	for (unsigned i = from; i < to; i++) {
		struct slot *s = &ctx->slots[i];
		const struct slot *prev = ctx->prev;

		if (s->result != SG_REC_OK)
			continue;
		/* Records of one session often come in a row: share the schedule. */
		if (prev && prev->key == s->key && prev->aead == s->aead) {
			s->keys = prev->keys; /* CBC: its HMAC states too */
		} else if (sg_aead_wide(s->aead)) {
			sg_rec_cbc_keys(ctx, s, i);
		} else if (is_ccm(s->aead)) {
			ctx->keyexp128(s->key, ctx->ks[i]);
			s->keys = ctx->ks[i];
		} else if (is_gcm(s->aead)) {
			s->keys = gcm_keys(ctx, s, i);
		} else {
			s->keys = s->key; /* ChaCha20 takes the raw key */
		}
		ctx->prev = s;
	}

	for (unsigned i = from; i < to; i++) {
		struct slot *s = &ctx->slots[i];

		if (s->result != SG_REC_OK)
			continue;
		if (is_ccm(s->aead) && s->aad_len > IMB_CCM_AAD_MAX) {
			ctx->nslow++;
			continue;
		}
		/*
		 * No flush per record: the multi-buffer lanes fill across the burst.
		 * Unchecked submit: open_front()/seal_front() have bounded every
		 * length and the suite fixes key, IV and tag sizes, so IPsec-MB's
		 * argument checks (~20 ns a job here, docs/record-layer.md) would
		 * only repeat ours. The tests, Wycheproof vectors and fuzz_rec_input
		 * run this path under ASan+UBSan.
		 */
		job = IMB_GET_NEXT_JOB(mgr);
		if (sg_aead_wide(s->aead))
			sg_rec_cbc_fill_job(job, s);
		else
			fill_job(job, s);
		job = IMB_SUBMIT_JOB_NOCHECK(mgr);
		while (job) {
			retire(job);
			job = IMB_GET_COMPLETED_JOB(mgr);
		}
	}
}

static void engine_finish(struct sg_rec_ctx *ctx, unsigned n)
{
	IMB_JOB *job;

	if (n > ctx->used_slots)
		ctx->used_slots = n;

	/* One flush for the whole burst. */
	while ((job = IMB_FLUSH_JOB(ctx->mgr)))
		retire(job);

	for (unsigned i = 0; ctx->nslow && i < n; i++) {
		struct slot *s = &ctx->slots[i];

		if (s->result == SG_REC_OK && is_ccm(s->aead) && s->aad_len > IMB_CCM_AAD_MAX) {
			ctx->nslow--;
			if (ccm_composed(ctx, s))
				s->result = SG_REC_CRYPTO_ERROR;
		}
	}

	for (unsigned i = 0; i < n; i++) {
		struct slot *s = &ctx->slots[i];

		if (!s->open)
			continue;
		if (sg_aead_wide(s->aead)) {
			/* Also after a failed job: an EtM open's header goes back. */
			if (s->result == SG_REC_OK || s->result == SG_REC_CRYPTO_ERROR)
				sg_rec_cbc_open_check(s);
		} else if (s->result == SG_REC_OK && tag_differs(s->tag_out, s->tag, s->aead)) {
			s->result = SG_REC_AUTH_FAILED;
		}
	}
}

static void engine_run(struct sg_rec_ctx *ctx, unsigned n)
{
	engine_begin(ctx);
	engine_submit(ctx, 0, n);
	engine_finish(ctx, n);
}

/* ---- open ---------------------------------------------------------------------- */

static inline void build_nonce(uint8_t nonce[12], unsigned aead, const uint8_t *iv,
                               const uint8_t seq_num[8], const uint8_t *explicit_nonce)
{
	if (aead == SG_AEAD_CHACHA20_POLY1305) {
		/* RFC 7905 §2: write IV ⊕ (0^32 ‖ 64-bit epoch ‖ sequence number) */
		memcpy(nonce, iv, 4);
		for (int k = 0; k < 8; k++)
			nonce[4 + k] = iv[4 + k] ^ seq_num[k];
	} else {
		/* RFC 5288 §3, RFC 6655 §3: salt ‖ nonce_explicit */
		memcpy(nonce, iv, 4);
		memcpy(nonce + 4, explicit_nonce, 8);
	}
}

/*
 * AAD of a record whose header starts at hdr (RFC 5246 §6.2.3.3 as adapted
 * by RFC 6347 §4.1.2.1: the 8-byte seq_num is epoch ‖ sequence_number), or,
 * for tls12_cid, RFC 9146 §5: 8 × 0xff ‖ 25 ‖ cid_length ‖ 25 ‖ version ‖
 * epoch ‖ sequence_number ‖ cid ‖ length of DTLSInnerPlaintext. Header bytes
 * 0..11+cid are exactly 25 ‖ version ‖ epoch ‖ sequence_number ‖ cid.
 */
static inline void build_aad(struct slot *s, uint8_t *long_aad, const uint8_t *hdr, int cid,
                             unsigned cid_len, unsigned pt_len)
{
	uint8_t *a;

	if (!cid) {
		a = s->aad_buf;
		memcpy(a, hdr + SG_DTLS_HDR_OFF_EPOCH, 8);
		a[8] = hdr[SG_DTLS_HDR_OFF_TYPE];
		a[9] = hdr[SG_DTLS_HDR_OFF_VER];
		a[10] = hdr[SG_DTLS_HDR_OFF_VER + 1];
		sg_store_be16(a + 11, pt_len);
		s->aad = a;
		s->aad_len = SG_DTLS_AAD_LEN;
		return;
	}
	s->aad_len = (uint16_t)(SG_DTLS_AAD_CID_FIXED_LEN + cid_len);
	a = s->aad_len <= SLOT_AAD_INLINE ? s->aad_buf : long_aad;
	memset(a, SG_DTLS_AAD_SEQ_PLACEHOLDER, 8);
	a[8] = SG_DTLS_CT_TLS12_CID;
	a[9] = (uint8_t)cid_len;
	memcpy(a + 10, hdr, SG_DTLS_HDR_OFF_CID + cid_len);
	sg_store_be16(a + 10 + SG_DTLS_HDR_OFF_CID + cid_len, pt_len);
	s->aad = a;
}

/*
 * Content types a protected record of sa may carry: alert, handshake,
 * application data, and return_routability_check where RFC 9853 was
 * negotiated (§3: not otherwise).
 */
static inline int type_ok(const struct sg_rec_sa *sa, unsigned type)
{
	return type == SG_DTLS_CT_ALERT || type == SG_DTLS_CT_HANDSHAKE ||
	       type == SG_DTLS_CT_APPLICATION_DATA ||
	       (type == SG_DTLS_CT_RRC && (sa->flags & SG_SA_F_RRC));
}

/* Front end of one record: checks, replay pre-check, slot. */
static enum sg_rec_status open_front(struct sg_rec_ctx *ctx, struct sg_rec_open_op *op,
                                     struct slot *s, unsigned i)
{
	struct sg_rec_sa *sa = op->sa;
	uint8_t *rec = op->rec;
	unsigned hdr, flen, xl, tl, ctlen, aead, type;
	enum sg_rec_status st;
	int cid;

	if (unlikely(!sa || !(sa->flags & SG_SA_F_LIVE) || sa->aead >= SG_AEAD_MAX))
		return SG_REC_BAD_SA;
	if (unlikely(!rec || op->rec_len < SG_DTLS_HDR_LEN))
		return SG_REC_RUNT;
	aead = sa->aead;
	if (sg_aead_key_len(aead) > 16)
		prefetch_line((const char *)sa + SG_CACHE_LINE); /* the key's tail */
	type = rec[SG_DTLS_HDR_OFF_TYPE];
	cid = sa->flags & SG_SA_F_RX_CID;
	/* RFC 9146 §4: with a negotiated CID every protected record is tls12_cid. */
	if (cid) {
		if (unlikely(type != SG_DTLS_CT_TLS12_CID))
			return SG_REC_BAD_TYPE;
		hdr = SG_DTLS_HDR_LEN_CID(ctx->cid_len);
		if (unlikely(op->rec_len < hdr))
			return SG_REC_RUNT;
	} else {
		if (unlikely(!type_ok(sa, type)))
			return SG_REC_BAD_TYPE;
		hdr = SG_DTLS_HDR_LEN;
	}
	if (unlikely(sg_load_be16(rec + SG_DTLS_HDR_OFF_VER) != SG_DTLS_VERSION_1_2))
		return SG_REC_BAD_VERSION;
	if (unlikely(sg_load_be16(rec + SG_DTLS_HDR_OFF_EPOCH) != sa->epoch))
		return SG_REC_BAD_EPOCH;
	flen = sg_load_be16(rec + hdr - 2);
	if (unlikely(flen > op->rec_len - hdr))
		return SG_REC_TRUNCATED;
	if (unlikely(flen > SG_DTLS_MAX_CIPHERTEXT))
		return SG_REC_OVERSIZED;
	xl = sg_aead_explicit_len(aead);
	tl = sg_aead_tag_len(aead);
	if (unlikely(flen < xl + tl + (cid ? 1 : 0)))
		return SG_REC_RUNT;
	ctlen = flen - xl - tl;
	/* CBC: up to 256 bytes of padding besides; its content is bounded once decrypted. */
	if (unlikely(!cid && ctlen > SG_DTLS_MAX_PLAINTEXT && !sg_aead_wide(aead)))
		return SG_REC_OVERSIZED;
	op->seq = sg_load_be48(rec + SG_DTLS_HDR_OFF_SEQ);
	/* RFC 9147 §4.5.3: past its forgery limit a key opens nothing more. */
	if (unlikely(sa->auth_failures >= ctx->fail_limit[aead]))
		return SG_REC_KEY_EXHAUSTED;
	/* RFC 6347 §4.1.2.6: discard replays before spending crypto on them. */
	st = replay_check(sa, ctx->window, op->seq);
	if (unlikely(st != SG_REC_OK))
		return st;
	if (sg_aead_wide(aead))
		return sg_rec_cbc_open_front(ctx, op, s, flen);

	s->aead = (uint8_t)aead;
	s->open = 1;
	s->key = sa->rx_key;
	s->owner = (uintptr_t)sa;
	s->src = rec + hdr + xl;
	s->dst = op->dst ? op->dst : rec + hdr + xl;
	s->len = ctlen;
	s->pt_len = ctlen;
	s->tag = rec + hdr + flen - tl;
	build_nonce(s->nonce, aead, sa->rx_iv, rec + SG_DTLS_HDR_OFF_EPOCH, rec + hdr);
	build_aad(s, ctx->long_aad[i], rec, cid, ctx->cid_len, ctlen);
	op->pt_off = op->dst ? 0 : hdr + xl;
	op->type = (uint8_t)type; /* the outer type; tls12_cid's inner one comes after */
	return SG_REC_OK;
}

/* Back end of one authenticated record: limits, replay, inner plaintext. */
static enum sg_rec_status open_back(struct sg_rec_ctx *ctx, struct sg_rec_open_op *op,
                                    const struct slot *s)
{
	struct sg_rec_sa *sa = op->sa;
	enum sg_rec_status st;
	const uint8_t *pt = s->dst;
	uint32_t len = s->pt_len;

	if (unlikely(sa->auth_failures >= ctx->fail_limit[s->aead]))
		return SG_REC_KEY_EXHAUSTED; /* the limit was reached earlier in this burst */
	/* Again: an earlier record of this burst may have moved the window. */
	st = replay_check(sa, ctx->window, op->seq);
	if (unlikely(st != SG_REC_OK))
		return st;
	if (sa->flags & SG_SA_F_RX_CID) {
		/* RFC 9146 §4: content ‖ real type ‖ zeros; the type is the last non-zero byte. */
		while (len && pt[len - 1] == 0)
			len--;
		if (unlikely(!len || !type_ok(sa, pt[len - 1])))
			return SG_REC_BAD_INNER_PLAINTEXT;
		len--;
		op->type = pt[len];
	}
	/* RFC 6347 §4.1 (RFC 5246 §6.2.1): content over 2^14 is refused, CBC's or a CID's. */
	if (unlikely(len > SG_DTLS_MAX_PLAINTEXT))
		return SG_REC_OVERSIZED;
	replay_update(sa, ctx->window, op->seq);
	op->pt_len = len;
	return SG_REC_OK;
}

/*
 * Prefetch the SA's first line and the first two lines of the records of ops
 * [from, to). Line 0 is all an AES-128 open needs; open_front() asks for
 * line 1 when the key is longer.
 */
static inline void prefetch_open(const struct sg_rec_open_op *ops, unsigned from, unsigned to)
{
	for (unsigned i = from; i < to; i++) {
		const char *sa = (const char *)ops[i].sa;

		if (sa)
			prefetch_line(sa);
		if (ops[i].rec) {
			prefetch_line(ops[i].rec);
			if (ops[i].rec_len > SG_CACHE_LINE)
				prefetch_line(ops[i].rec + SG_CACHE_LINE);
		}
	}
}

static unsigned open_chunk(struct sg_rec_ctx *ctx, struct sg_rec_open_op *ops, unsigned n)
{
	unsigned ok = 0;

	/*
	 * With millions of sessions every SA is a cache miss: start them all
	 * before touching any, so the misses of the whole burst overlap. (On
	 * this VM prefetching a group or two ahead hid less: docs/record-layer.md.)
	 */
	prefetch_open(ops, 0, n);
	engine_begin(ctx);
	for (unsigned g = 0; g < n; g += GROUP) {
		unsigned end = g + GROUP < n ? g + GROUP : n;

		for (unsigned i = g; i < end; i++) {
			struct sg_rec_open_op *op = &ops[i];
			struct slot *s = &ctx->slots[i];

			op->pt_off = 0;
			op->pt_len = 0;
			op->type = 0;
			s->result = (uint8_t)open_front(ctx, op, s, i);
			op->status = s->result;
		}
		engine_submit(ctx, g, end);
	}
	engine_finish(ctx, n);

	for (unsigned i = 0; i < n; i++) {
		struct sg_rec_open_op *op = &ops[i];
		const struct slot *s = &ctx->slots[i];
		enum sg_rec_status st;

		if (op->status != SG_REC_OK)
			continue; /* refused before crypto: nothing was decrypted */
		st = (enum sg_rec_status)s->result;
		if (st == SG_REC_AUTH_FAILED && op->sa->auth_failures < UINT32_MAX) {
			/* The forgery that reaches the key's limit says so, once. */
			if (++op->sa->auth_failures == ctx->fail_limit[s->aead])
				st = SG_REC_AUTH_LIMIT;
		}
		if (st == SG_REC_OK)
			st = open_back(ctx, op, s);
		if (st != SG_REC_OK) {
			/* Never release plaintext of a refused record (AUTH_LIMIT too). */
			sg_wipe(s->dst, s->len);
			op->pt_off = 0;
			op->pt_len = 0;
			op->type = 0;
		} else {
			ok++;
		}
		op->status = (uint8_t)st;
	}
	return ok;
}

unsigned sg_rec_open_burst(struct sg_rec_ctx *ctx, struct sg_rec_open_op *ops, unsigned n)
{
	unsigned ok = 0;

	for (unsigned done = 0; done < n;) {
		unsigned k = n - done < SG_BURST_MAX ? n - done : SG_BURST_MAX;

		ok += open_chunk(ctx, ops + done, k);
		done += k;
	}
	return ok;
}

/* ---- seal ---------------------------------------------------------------------- */

static enum sg_rec_status seal_front(struct sg_rec_ctx *ctx, struct sg_rec_seal_op *op,
                                     struct slot *s, unsigned i)
{
	struct sg_rec_sa *sa = op->sa;
	unsigned aead, hdr, xl, tl, extra, inner, flen, cid_len;
	uint8_t *rec, *pt;
	uint64_t seq;
	int cid;

	if (unlikely(!sa || !(sa->flags & SG_SA_F_LIVE) || sa->aead >= SG_AEAD_MAX))
		return SG_REC_BAD_SA;
	if (unlikely(!type_ok(sa, op->type)))
		return SG_REC_BAD_TYPE;
	aead = sa->aead;
	cid = sa->flags & SG_SA_F_TX_CID;
	cid_len = cid ? op->cid_len : 0;
	if (unlikely(!op->buf || (cid_len && !op->cid) || (!cid && op->pad_len)))
		return SG_REC_INVALID_OP;
	if (unlikely(op->pt_len > SG_DTLS_MAX_PLAINTEXT))
		return SG_REC_OVERSIZED;
	if (sg_aead_wide(aead))
		return sg_rec_cbc_seal_front(ctx, op, s);
	hdr = SG_DTLS_HDR_LEN + cid_len;
	xl = sg_aead_explicit_len(aead);
	tl = sg_aead_tag_len(aead);
	extra = cid ? 1u + op->pad_len : 0;
	inner = op->pt_len + extra;
	flen = xl + inner + tl;
	if (unlikely(flen > SG_DTLS_MAX_CIPHERTEXT))
		return SG_REC_OVERSIZED;
	/*
	 * RFC 8449 §4 (and RFC 6066 §4): the peer takes at most this much
	 * "input to ... encryption" per record, which for a tls12_cid record is
	 * the DTLSInnerPlaintext with its type and padding (RFC 9146 §4).
	 */
	if (unlikely(inner > sg_rec_sa_max_plaintext(sa)))
		return SG_REC_RECORD_LIMIT;
	if (unlikely(op->pt_off < hdr + xl || op->buf_len < op->pt_off ||
	             op->buf_len - op->pt_off < (uint64_t)inner + tl))
		return SG_REC_NO_ROOM;
	/* RFC 6347 §4.1: the sequence number must not wrap; the session re-keys. */
	seq = sg_rec_sa_tx_seq(sa);
	if (unlikely(seq > SG_DTLS_SEQ_MAX))
		return SG_REC_SEQ_EXHAUSTED;
	sa->tx_word++; /* seq + 1 <= 2^48: never into the limit's bits */

	pt = op->buf + op->pt_off;
	rec = pt - xl - hdr;
	rec[SG_DTLS_HDR_OFF_TYPE] = cid ? SG_DTLS_CT_TLS12_CID : op->type;
	sg_store_be16(rec + SG_DTLS_HDR_OFF_VER, SG_DTLS_VERSION_1_2);
	sg_store_be16(rec + SG_DTLS_HDR_OFF_EPOCH, sa->epoch);
	sg_store_be48(rec + SG_DTLS_HDR_OFF_SEQ, seq);
	if (cid_len)
		memcpy(rec + SG_DTLS_HDR_OFF_CID, op->cid, cid_len);
	sg_store_be16(rec + hdr - 2, flen);
	/* RFC 5288 §3 / RFC 6655 §3: the explicit nonce is the 64-bit seq_num, unique per key. */
	if (xl)
		memcpy(rec + hdr, rec + SG_DTLS_HDR_OFF_EPOCH, 8);
	if (cid) {
		/* RFC 9146 §4: DTLSInnerPlaintext = content ‖ real type ‖ zeros */
		pt[op->pt_len] = op->type;
		memset(pt + op->pt_len + 1, 0, op->pad_len);
	}

	s->aead = (uint8_t)aead;
	s->open = 0;
	s->key = sa->tx_key;
	s->owner = (uintptr_t)sa | 1;
	s->src = pt;
	s->dst = pt;
	s->len = inner;
	s->tag = pt + inner;
	build_nonce(s->nonce, aead, sa->tx_iv, rec + SG_DTLS_HDR_OFF_EPOCH, rec + hdr);
	build_aad(s, ctx->long_aad[i], rec, cid, cid_len, cid ? inner : op->pt_len);
	op->rec_off = (uint32_t)(rec - op->buf);
	op->rec_len = hdr + flen;
	op->seq = seq;
	return SG_REC_OK;
}

static inline void prefetch_seal(const struct sg_rec_seal_op *ops, unsigned from, unsigned to)
{
	for (unsigned i = from; i < to; i++) {
		const char *sa = (const char *)ops[i].sa;

		if (sa) {
			prefetch_line(sa);
			prefetch_line(sa + SG_CACHE_LINE);
		}
	}
}

static unsigned seal_chunk(struct sg_rec_ctx *ctx, struct sg_rec_seal_op *ops, unsigned n)
{
	unsigned ok = 0;

	prefetch_seal(ops, 0, n);
	engine_begin(ctx);
	for (unsigned g = 0; g < n; g += GROUP) {
		unsigned end = g + GROUP < n ? g + GROUP : n;

		for (unsigned i = g; i < end; i++) {
			ops[i].rec_off = 0;
			ops[i].rec_len = 0;
			ctx->slots[i].result = (uint8_t)seal_front(ctx, &ops[i], &ctx->slots[i], i);
		}
		engine_submit(ctx, g, end);
	}
	engine_finish(ctx, n);

	for (unsigned i = 0; i < n; i++) {
		struct slot *s = &ctx->slots[i];

		ops[i].status = s->result;
		if (ops[i].status == SG_REC_OK && sg_aead_wide(s->aead))
			sg_rec_cbc_seal_back(s);
		if (ops[i].status == SG_REC_OK)
			ok++;
		else
			ops[i].rec_len = 0;
	}
	return ok;
}

unsigned sg_rec_seal_burst(struct sg_rec_ctx *ctx, struct sg_rec_seal_op *ops, unsigned n)
{
	unsigned ok = 0;

	for (unsigned done = 0; done < n;) {
		unsigned k = n - done < SG_BURST_MAX ? n - done : SG_BURST_MAX;

		ok += seal_chunk(ctx, ops + done, k);
		done += k;
	}
	return ok;
}

/* ---- raw AEAD burst ------------------------------------------------------------ */

static unsigned aead_chunk(struct sg_rec_ctx *ctx, struct sg_aead_op *ops, unsigned n)
{
	unsigned ok = 0;

	for (unsigned i = 0; i < n; i++) {
		struct sg_aead_op *op = &ops[i];
		struct slot *s = &ctx->slots[i];

		if (op->aead >= SG_AEAD_MAX || sg_aead_wide(op->aead) ||
		    op->dir > SG_AEAD_DIR_OPEN || !op->key || !op->nonce || !op->tag ||
		    (op->aad_len && !op->aad) || op->aad_len > AEAD_AAD_MAX ||
		    op->len > SG_DTLS_MAX_CIPHERTEXT || (op->len && (!op->in || !op->out))) {
			s->result = SG_REC_INVALID_OP;
			continue;
		}
		s->result = SG_REC_OK;
		s->aead = op->aead;
		s->open = op->dir == SG_AEAD_DIR_OPEN;
		s->key = op->key;
		s->owner = 0; /* no SA: nothing to cache by */
		s->src = op->in ? op->in : s->tag_out;
		s->dst = op->out ? op->out : s->tag_out;
		s->len = op->len;
		s->tag = op->tag;
		memcpy(s->nonce, op->nonce, SG_DTLS_AEAD_NONCE_LEN);
		s->aad = op->aad_len ? op->aad : s->aad_buf;
		s->aad_len = (uint16_t)op->aad_len;
	}

	engine_run(ctx, n);

	for (unsigned i = 0; i < n; i++) {
		const struct slot *s = &ctx->slots[i];

		ops[i].status = s->result;
		if (s->result == SG_REC_OK)
			ok++;
		else if (s->result != SG_REC_INVALID_OP && s->open && s->len)
			sg_wipe(s->dst, s->len);
	}
	return ok;
}

unsigned sg_aead_burst(struct sg_rec_ctx *ctx, struct sg_aead_op *ops, unsigned n)
{
	unsigned ok = 0;

	for (unsigned done = 0; done < n;) {
		unsigned k = n - done < SG_BURST_MAX ? n - done : SG_BURST_MAX;

		ok += aead_chunk(ctx, ops + done, k);
		done += k;
	}
	return ok;
}
