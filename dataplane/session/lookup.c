/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Worker side of the session table: QSBR reporting and bulk lookups. No
 * locks, no syscalls, no allocation. Each lookup is a fixed pipeline over
 * the burst, every stage issuing the prefetches of the next one so the
 * cache misses of all keys overlap (DPDK l3fwd_em / rte_hash bulk lookup):
 *
 *   by CID:     one AES-ECB job decodes every CID -> prefetch hot line
 *               -> compare check, read SA pair
 *   by 4-tuple: keyed hash -> prefetch primary bucket -> match tag (else
 *               prefetch and match the secondary) -> prefetch hot line
 *               -> compare key, read SA pair
 *
 * The SAs are not touched: the caller's next stage prefetches them
 * (sg_sess_prefetch_sa()), so a lookup costs one cache miss by CID and two
 * (three for keys in their secondary bucket) by 4-tuple.
 *
 * A 4-tuple reader that misses while the writer moves index entries (cuckoo
 * path) sees t->chg change and looks again (rte_hash does the same).
 */
#include <errno.h>
#include <stdlib.h>

#include <rte_rcu_qsbr.h>

#include "bucket.h"
#include "session_priv.h"

struct sg_sess_worker *sg_sess_worker_create(struct sg_sess_table *t, unsigned thread_id)
{
	struct sg_sess_worker *w;

	if (t == NULL || thread_id >= t->qsbr->max_threads) {
		errno = EINVAL;
		return NULL;
	}
	w = aligned_alloc(SG_CACHE_LINE, sizeof(*w));
	if (w == NULL)
		return NULL;
	memset(w, 0, sizeof(*w));
	w->t = t;
	w->thread_id = thread_id;
	/* Our own manager: jobs of the record layer's manager complete in order,
	 * so sharing it would hand us back someone else's job. */
	w->mgr = alloc_mb_mgr(0);
	if (w->mgr == NULL)
		goto fail_w;
	init_mb_mgr_auto(w->mgr, NULL);
	if (imb_get_errno(w->mgr) != 0)
		goto fail_mgr;
	if (rte_rcu_qsbr_thread_register(t->qsbr, thread_id) != 0)
		goto fail_mgr;
	return w;

fail_mgr:
	free_mb_mgr(w->mgr);
fail_w:
	free(w);
	errno = ENOMEM;
	return NULL;
}

void sg_sess_worker_destroy(struct sg_sess_worker *w)
{
	if (w == NULL)
		return;
	rte_rcu_qsbr_thread_offline(w->t->qsbr, w->thread_id);
	rte_rcu_qsbr_thread_unregister(w->t->qsbr, w->thread_id);
	free_mb_mgr(w->mgr);
	sg_wipe(w->blk, sizeof(w->blk));
	free(w);
}

void sg_sess_worker_online(struct sg_sess_worker *w)
{
	rte_rcu_qsbr_thread_online(w->t->qsbr, w->thread_id);
}

void sg_sess_worker_offline(struct sg_sess_worker *w)
{
	rte_rcu_qsbr_thread_offline(w->t->qsbr, w->thread_id);
}

void sg_sess_quiescent(struct sg_sess_worker *w)
{
	rte_rcu_qsbr_quiescent(w->t->qsbr, w->thread_id);
}

static void ref_miss(struct sg_sess_ref *r, unsigned why)
{
	r->sa = NULL;
	r->prev = NULL;
	r->sess = NULL;
	r->slot = SESS_NONE;
	r->miss = (uint8_t)why;
}

/* Fill a hit from a hot line whose check matched (acquire-loaded before). */
static inline __attribute__((always_inline)) void ref_hit(const struct sg_sess_table *t,
                                                          struct sg_sess_ref *r, uint32_t slot)
{
	struct sg_sess *h = &t->hot[slot];
	uint64_t pair = __atomic_load_n(&h->sa_pair, __ATOMIC_ACQUIRE);
	uint32_t prev = (uint32_t)(pair >> 32);
	struct sg_rec_sa *sa = sess_sa(t, (uint32_t)pair);

	r->sa = sa;
	r->prev = prev == SESS_NONE ? NULL : sess_sa(t, prev);
	r->sess = h;
	r->slot = slot;
	r->miss = SG_SESS_HIT;
}

/* ---- by CID ---- */

static unsigned cid_burst(struct sg_sess_worker *w, const uint8_t *const *cids, unsigned n,
                          struct sg_sess_ref *refs)
{
	const struct sg_sess_table *t = w->t;
	uint32_t slot[SG_BURST_MAX];
	unsigned hits = 0;

	/* Stage 1: decode all CIDs with one ECB job (~1 ns per CID for a burst of 32). */
	for (unsigned i = 0; i < n; i++)
		sess_cid_block(t, cids[i], w->blk[i]);
	if (unlikely(sg_sess_ecb(w->mgr, t->cid_ek, &w->blk[0][0], n) != 0)) {
		for (unsigned i = 0; i < n; i++)
			ref_miss(&refs[i], SG_SESS_MISS_CID_CHECK);
		return 0;
	}
	for (unsigned i = 0; i < n; i++) {
		unsigned why = sess_cid_open(t, cids[i], w->blk[i], &slot[i]);

		if (why != SG_SESS_HIT) {
			ref_miss(&refs[i], why);
			continue;
		}
		refs[i].miss = SG_SESS_HIT;
		__builtin_prefetch(&t->hot[slot[i]], 0);
	}

	/* Stage 2: the slot's check must equal the CID's nonce (0 never matches). */
	for (unsigned i = 0; i < n; i++) {
		struct sg_sess *h;
		uint64_t nonce;

		if (refs[i].miss != SG_SESS_HIT)
			continue;
		h = &t->hot[slot[i]];
		nonce = sess_nonce(cids[i], t->nonce_len);
		if (nonce == 0 || __atomic_load_n(&h->check, __ATOMIC_ACQUIRE) != nonce ||
		    !(__atomic_load_n(&h->flags, __ATOMIC_RELAXED) & SG_SESS_F_CID)) {
			ref_miss(&refs[i], SG_SESS_MISS_CID_CHECK);
			continue;
		}
		ref_hit(t, &refs[i], slot[i]);
		hits++;
	}
	return hits;
}

unsigned sg_sess_lookup_cid_bulk(struct sg_sess_worker *w, const uint8_t *const *cids, unsigned n,
                                 struct sg_sess_ref *refs)
{
	unsigned hits = 0;

	for (unsigned off = 0; off < n; off += SG_BURST_MAX) {
		unsigned m = n - off < SG_BURST_MAX ? n - off : SG_BURST_MAX;

		hits += cid_burst(w, cids + off, m, refs + off);
	}
	return hits;
}

/* ---- by 4-tuple ---- */

/* Is the session in slot live with key k? (acquire: its SA pair is then visible) */
static inline __attribute__((always_inline)) int
tuple_live(const struct sg_sess_table *t, uint32_t slot, const struct sg_sess_tuple *k)
{
	struct sg_sess *h = &t->hot[slot];

	return sess_tuple_eq(&h->tuple, k) && __atomic_load_n(&h->check, __ATOMIC_ACQUIRE) != 0;
}

/*
 * One key, every candidate of both buckets, retried while the writer moves
 * entries: for tag collisions and for keys missed by the burst pipeline.
 */
static int tuple_slow(const struct sg_sess_table *t, const struct sg_sess_tuple *k,
                      uint32_t *slot_out)
{
	uint32_t b[2], tag;

	sess_hash(t, k, &b[0], &tag);
	b[1] = sess_alt_bucket(t, b[0], tag);
	for (unsigned r = 0; r < SESS_READ_RETRIES; r++) {
		uint32_t c0 = __atomic_load_n(&t->chg, __ATOMIC_ACQUIRE);

		for (unsigned x = 0; x < 2; x++) {
			uint32_t tw = x ? tag | SESS_TAG_ALT : tag;

			for (unsigned j = 0; j < SESS_BUCKET_WAYS; j++) {
				uint64_t e = __atomic_load_n(&t->bkt[b[x]].e[j], __ATOMIC_ACQUIRE);

				if ((uint32_t)(e >> 32) == tw && tuple_live(t, (uint32_t)e, k)) {
					*slot_out = (uint32_t)e;
					return 1;
				}
			}
		}
		__atomic_thread_fence(__ATOMIC_ACQUIRE);
		if (__atomic_load_n(&t->chg, __ATOMIC_RELAXED) == c0)
			return 0;
	}
	return 0;
}

static unsigned tuple_burst(struct sg_sess_worker *w, const struct sg_sess_tuple *keys, unsigned n,
                            struct sg_sess_ref *refs)
{
	const struct sg_sess_table *t = w->t;
	uint32_t b1[SG_BURST_MAX], tag[SG_BURST_MAX], slot[SG_BURST_MAX];
	uint32_t c0 = __atomic_load_n(&t->chg, __ATOMIC_ACQUIRE);
	unsigned hits = 0, misses = 0, second = 0;

	/* Stage 1: hash, prefetch the primary bucket (most keys live there). */
	for (unsigned i = 0; i < n; i++) {
		sess_hash(t, &keys[i], &b1[i], &tag[i]);
		__builtin_prefetch(&t->bkt[b1[i]], 0);
	}
	/* Stage 2: tag match in the primary bucket, else prefetch the secondary. */
	for (unsigned i = 0; i < n; i++) {
		slot[i] = sess_bucket_match(&t->bkt[b1[i]], tag[i]);
		if (slot[i] != SESS_NONE) {
			__builtin_prefetch(&t->hot[slot[i]], 0);
		} else {
			b1[i] = sess_alt_bucket(t, b1[i], tag[i]);
			__builtin_prefetch(&t->bkt[b1[i]], 0);
			second++;
		}
	}
	/* Stage 2b: the keys not in their primary bucket (and absent keys). */
	for (unsigned i = 0; second > 0 && i < n; i++) {
		if (slot[i] != SESS_NONE)
			continue;
		slot[i] = sess_bucket_match(&t->bkt[b1[i]], tag[i] | SESS_TAG_ALT);
		if (slot[i] != SESS_NONE)
			__builtin_prefetch(&t->hot[slot[i]], 0);
	}
	/* Stage 3: compare keys; a tag collision goes the slow way. */
	__atomic_thread_fence(__ATOMIC_ACQUIRE); /* the entries read above publish these slots */
	for (unsigned i = 0; i < n; i++) {
		if (slot[i] != SESS_NONE && !tuple_live(t, slot[i], &keys[i]) &&
		    !tuple_slow(t, &keys[i], &slot[i]))
			slot[i] = SESS_NONE;
		if (slot[i] == SESS_NONE) {
			ref_miss(&refs[i], SG_SESS_MISS_TUPLE);
			misses++;
			continue;
		}
		ref_hit(t, &refs[i], slot[i]);
		hits++;
	}
	/* Misses while entries moved may be false: look again. */
	if (misses > 0) {
		__atomic_thread_fence(__ATOMIC_ACQUIRE);
		if (__atomic_load_n(&t->chg, __ATOMIC_RELAXED) != c0) {
			for (unsigned i = 0; i < n; i++) {
				uint32_t s;

				if (refs[i].miss == SG_SESS_HIT || !tuple_slow(t, &keys[i], &s))
					continue;
				ref_hit(t, &refs[i], s);
				hits++;
			}
		}
	}
	return hits;
}

unsigned sg_sess_lookup_tuple_bulk(struct sg_sess_worker *w, const struct sg_sess_tuple *keys,
                                   unsigned n, struct sg_sess_ref *refs)
{
	unsigned hits = 0;

	for (unsigned off = 0; off < n; off += SG_BURST_MAX) {
		unsigned m = n - off < SG_BURST_MAX ? n - off : SG_BURST_MAX;

		hits += tuple_burst(w, keys + off, m, refs + off);
	}
	return hits;
}
