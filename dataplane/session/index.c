/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The 4-tuple index: a bucketized cuckoo hash of (tag, slot) entries. The
 * key itself lives in the session's hot line, so an entry costs 8 bytes and
 * the whole index ~9 bytes per session at full tuple_capacity (rte_hash
 * keeps its own copy of the key: ~70 bytes per session, docs/session-table.md).
 *
 * Two candidate buckets per key (primary from one keyed CRC, secondary at a
 * tag-derived offset), 8 entries each, load factor <= 0.875. Inserts that
 * find both buckets full move entries along a breadth-first cuckoo path
 * (as rte_hash does); each move copies the entry to its other bucket before
 * clearing the old place and bumps t->chg in between, so a lock-free reader
 * that misses while an entry moves sees chg change and retries.
 *
 * The functions here are for the writer thread; the worker side is in lookup.c.
 */
#include <errno.h>

#include "session_priv.h"

void sg_sess_idx_prep(const struct sg_sess_table *t, const struct sg_sess_tuple *k,
                      struct sess_hkey *hk)
{
	sess_hash(t, k, &hk->b[0], &hk->tag);
	hk->b[1] = sess_alt_bucket(t, hk->b[0], hk->tag);
	__builtin_prefetch(&t->bkt[hk->b[0]], 1);
	__builtin_prefetch(&t->bkt[hk->b[1]], 1);
}

int64_t sg_sess_idx_find(const struct sg_sess_table *t, const struct sg_sess_tuple *k,
                         const struct sess_hkey *hk)
{
	for (unsigned w = 0; w < 2; w++) {
		uint32_t tw = w ? hk->tag | SESS_TAG_ALT : hk->tag;

		for (unsigned j = 0; j < SESS_BUCKET_WAYS; j++) {
			uint64_t e = t->bkt[hk->b[w]].e[j];

			if ((uint32_t)(e >> 32) == tw &&
			    sess_tuple_eq(&t->hot[(uint32_t)e].tuple, k))
				return (uint32_t)e;
		}
	}
	return -1;
}

static void sess_entry_store(struct sess_bucket *bk, unsigned j, uint64_t e)
{
	__atomic_store_n(&bk->e[j], e, __ATOMIC_RELEASE);
}

struct bfs_node {
	uint32_t bkt;
	int16_t parent; /* index in the queue, -1 for the two roots */
	uint8_t way;    /* entry of the parent bucket that moves into this bucket */
};

/* Is bucket b already on the path from the root to queue node i? */
static int bfs_on_path(const struct bfs_node *q, int i, uint32_t b)
{
	for (; i >= 0; i = q[i].parent)
		if (q[i].bkt == b)
			return 1;
	return 0;
}

/*
 * Shift entries along the cuckoo path ending at queue node leaf, whose
 * bucket has a free entry at way; returns the root (0: primary, 1:
 * secondary) and the way that is now free in it.
 */
static unsigned bfs_shift(struct sg_sess_table *t, const struct bfs_node *q, int leaf, unsigned way,
                          unsigned *root_way)
{
	int i = leaf;

	while (q[i].parent >= 0) {
		const struct bfs_node *p = &q[q[i].parent];
		struct sess_bucket *src = &t->bkt[p->bkt];
		uint64_t e = src->e[q[i].way];

		/* Copy first: the entry is in both buckets while readers look. */
		sess_entry_store(&t->bkt[q[i].bkt], way, e ^ ((uint64_t)SESS_TAG_ALT << 32));
		/* Then tell readers an entry may vanish from where they looked first. */
		__atomic_store_n(&t->chg, t->chg + 1, __ATOMIC_RELEASE);
		__atomic_thread_fence(__ATOMIC_RELEASE);
		__atomic_store_n(&src->e[q[i].way], 0, __ATOMIC_RELAXED);
		__atomic_store_n(&t->st.index_moves, t->st.index_moves + 1, __ATOMIC_RELAXED);
		way = q[i].way;
		i = q[i].parent;
	}
	*root_way = way;
	return (unsigned)i;
}

int sg_sess_idx_add(struct sg_sess_table *t, const struct sess_hkey *hk, uint32_t slot)
{
	struct bfs_node q[SESS_BFS_MAX];
	uint32_t tag = hk->tag;
	int head = 0, tail = 0;

	q[tail++] = (struct bfs_node){ .bkt = hk->b[0], .parent = -1 };
	q[tail++] = (struct bfs_node){ .bkt = hk->b[1], .parent = -1 };

	while (head < tail) {
		const struct sess_bucket *bk = &t->bkt[q[head].bkt];

		for (unsigned j = 0; j < SESS_BUCKET_WAYS; j++) {
			unsigned root, way;

			if (bk->e[j] != 0)
				continue;
			root = bfs_shift(t, q, head, j, &way);
			sess_entry_store(&t->bkt[q[root].bkt], way,
			                 (uint64_t)(root ? tag | SESS_TAG_ALT : tag) << 32 | slot);
			return 0;
		}
		/* Full bucket: each of its entries could move to its other bucket. */
		for (unsigned j = 0; j < SESS_BUCKET_WAYS && tail < SESS_BFS_MAX; j++) {
			uint32_t alt = sess_alt_bucket(t, q[head].bkt, (uint32_t)(bk->e[j] >> 32));

			if (bfs_on_path(q, head, alt))
				continue;
			q[tail++] = (struct bfs_node){ .bkt = alt,
				                       .parent = (int16_t)head,
				                       .way = (uint8_t)j };
		}
		head++;
	}
	return -ENOSPC;
}

void sg_sess_idx_del(struct sg_sess_table *t, const struct sess_hkey *hk, uint32_t slot)
{
	for (unsigned w = 0; w < 2; w++) {
		for (unsigned j = 0; j < SESS_BUCKET_WAYS; j++) {
			uint64_t e = t->bkt[hk->b[w]].e[j];

			if (e != 0 && (uint32_t)e == slot) {
				__atomic_store_n(&t->bkt[hk->b[w]].e[j], 0, __ATOMIC_RELEASE);
				return;
			}
		}
	}
}
