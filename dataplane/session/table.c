/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Session table: creation, the single-writer control-plane operations and
 * deferred reclamation. Workers' lookups are in lookup.c.
 *
 * Memory: five arrays, each one anonymous mapping (hugepage-advised, so a
 * 10M table needs no hugepage reservation; committed at create unless
 * lazy): hot lines (64 B/slot), cold state (32 B/slot), the AEAD SA pool
 * (sg_rec_sa_size(window) each, capacity + sa_reserve of them), the CBC SA
 * pool (the SA and its MAC line, cbc_capacity + a reserve of them) and the
 * 4-tuple index buckets. Slots and SAs are handed out from a never-used
 * high-water mark first, then from free lists refilled by reclamation.
 *
 * Publication order (readers rely on it): a session's SA, cold state and
 * hot fields are written, then its index entry (release), then its check
 * value (release); delete clears check, then the index entry, then takes
 * an RCU token, and the slot and SAs are wiped only once every worker has
 * reported a quiescent state after that token.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/random.h>

#include <rte_rcu_qsbr.h>

#include "session_priv.h"

#define SESS_HUGE            (2u << 20)
#define SESS_HUGE_MIN        (8u << 20) /* smaller arrays stay on 4 KB pages */
#define SESS_DEFER_DEFAULT   65536
#define SESS_THREADS_DEFAULT 64
#define SESS_RESERVE_MIN     64
#define SESS_RECLAIM_BATCH   64
#define SESS_NONCE_TRIES     16

enum {
	MAP_HOT = 0,
	MAP_COLD,
	MAP_SA,
	MAP_BKT,
	MAP_CBC,
};

/* ---- counters (writer updates, any thread reads) ---- */

static void stat_add(uint64_t *c, int64_t v)
{
	__atomic_store_n(c, *c + (uint64_t)v, __ATOMIC_RELAXED);
}

static int sess_refuse(struct sg_sess_table *t, enum sg_sess_refusal r, int err)
{
	__atomic_fetch_add(&t->st.refused[r], 1, __ATOMIC_RELAXED);
	return err;
}

/* ---- the single-writer rule, enforced ---- */

static int sess_enter(struct sg_sess_table *t)
{
	if (__atomic_exchange_n(&t->busy, 1, __ATOMIC_ACQUIRE))
		return sess_refuse(t, SG_SESS_REFUSE_BUSY, -EBUSY);
	return 0;
}

static void sess_leave(struct sg_sess_table *t)
{
	__atomic_store_n(&t->busy, 0, __ATOMIC_RELEASE);
}

/* ---- memory ---- */

/*
 * Map len bytes of zeroed anonymous memory; arrays of 8 MB and more are
 * aligned to 2 MB and advised to use transparent hugepages: a random lookup
 * then misses the TLB far less (10M sessions span ~2.3 GB) without a
 * hugetlbfs reservation. Unless lazy, every page is committed now.
 */
static void *sess_map(struct sg_sess_table *t, unsigned i, size_t len, int lazy)
{
	int fl = MAP_PRIVATE | MAP_ANONYMOUS | (lazy ? MAP_NORESERVE : 0);
	size_t want;
	uint8_t *p, *a;

	if (len < SESS_HUGE_MIN) {
		/* Small tables: 4 KB pages, so a 1000-session table costs ~250 KB, not 8 MB. */
		want = (len + 4095) & ~(size_t)4095;
		a = mmap(NULL, want, PROT_READ | PROT_WRITE, fl, -1, 0);
		if (a == MAP_FAILED)
			return NULL;
	} else {
		want = (len + SESS_HUGE - 1) & ~(size_t)(SESS_HUGE - 1);
		p = mmap(NULL, want + SESS_HUGE, PROT_READ | PROT_WRITE, fl, -1, 0);
		if (p == MAP_FAILED)
			return NULL;
		a = (uint8_t *)(((uintptr_t)p + SESS_HUGE - 1) & ~(uintptr_t)(SESS_HUGE - 1));
		if (a > p)
			munmap(p, (size_t)(a - p));
		munmap(a + want, (size_t)(p + want + SESS_HUGE - (a + want)));
		(void)madvise(a, want, MADV_HUGEPAGE); /* advice only: plain pages still work */
	}
	t->map[i] = a;
	t->map_len[i] = want;
	if (!lazy && madvise(a, want, MADV_POPULATE_WRITE) != 0) {
		if (errno != EINVAL)
			return NULL; /* ENOMEM: the memory is not there; fail now, not later */
		/* Kernels before 5.14: touch every page. */
		for (size_t off = 0; off < want; off += 4096)
			((volatile uint8_t *)a)[off] = 0;
	}
	return a;
}

static int sess_random(struct sg_sess_table *t, void *out, size_t n)
{
	if (t->rnd_pos + n > sizeof(t->rnd)) {
		/* getrandom() returns up to 256 bytes whole, without blocking once seeded */
		if (getrandom(t->rnd, sizeof(t->rnd), 0) != (ssize_t)sizeof(t->rnd))
			return -EIO;
		t->rnd_pos = 0;
	}
	memcpy(out, t->rnd + t->rnd_pos, n);
	memset(t->rnd + t->rnd_pos, 0, n);
	t->rnd_pos += (unsigned)n;
	return 0;
}

/* A fresh CID nonce: random, non-zero, not the slot's previous one. */
static int sess_new_nonce(struct sg_sess_table *t, uint64_t last, uint64_t *nonce)
{
	for (unsigned i = 0; i < SESS_NONCE_TRIES; i++) {
		uint8_t b[8];
		int rc = sess_random(t, b, t->nonce_len);

		if (rc < 0)
			return rc;
		*nonce = sess_nonce(b, t->nonce_len);
		if (*nonce != 0 && *nonce != last)
			return 0;
	}
	return -EIO;
}

/* ---- free lists ---- */

static struct sess_free sess_fl_get(const struct sg_sess_table *t, uint32_t s)
{
	struct sess_free f;

	memcpy(&f, &t->hot[s].tuple, sizeof(f));
	return f;
}

static void sess_fl_put(struct sg_sess_table *t, uint32_t s, const struct sess_free *f)
{
	memcpy(&t->hot[s].tuple, f, sizeof(*f));
}

static void slot_push(struct sg_sess_table *t, uint32_t s, uint64_t last_check)
{
	struct sess_free f = { .next = t->slot_free, .prev = SESS_NONE, .last_check = last_check };

	if (t->slot_free != SESS_NONE) {
		struct sess_free h = sess_fl_get(t, t->slot_free);

		h.prev = s;
		sess_fl_put(t, t->slot_free, &h);
	}
	sess_fl_put(t, s, &f);
	t->slot_free = s;
}

static void slot_unlink(struct sg_sess_table *t, uint32_t s)
{
	struct sess_free f = sess_fl_get(t, s);

	if (f.prev != SESS_NONE) {
		struct sess_free p = sess_fl_get(t, f.prev);

		p.next = f.next;
		sess_fl_put(t, f.prev, &p);
	} else {
		t->slot_free = f.next;
	}
	if (f.next != SESS_NONE) {
		struct sess_free n = sess_fl_get(t, f.next);

		n.prev = f.prev;
		sess_fl_put(t, f.next, &n);
	}
	memset(&t->hot[s].tuple, 0, sizeof(t->hot[s].tuple));
}

/* Take a free slot (reused first: its lines are likely cached). */
static uint32_t slot_pop(struct sg_sess_table *t, uint64_t *last_check)
{
	uint32_t s = t->slot_free;

	if (s != SESS_NONE) {
		*last_check = sess_fl_get(t, s).last_check;
		slot_unlink(t, s);
		return s;
	}
	*last_check = 0;
	if (t->slot_hwm < t->capacity)
		return t->slot_hwm++;
	return SESS_NONE;
}

/* Is slot s held by sg_sess_cid_reserve() for the CID with this nonce? */
static bool reserved_for(const struct sg_sess_table *t, uint32_t s, uint64_t nonce)
{
	return s < t->slot_hwm && (t->hot[s].flags & SESS_ST_MASK) == SESS_ST_RESERVED &&
	       sess_fl_get(t, s).last_check == nonce;
}

/* End a reservation: the slot is free, not yet on the free list. */
static void unreserve(struct sg_sess_table *t, uint32_t s)
{
	t->hot[s].flags = SESS_ST_FREE;
	stat_add(&t->st.cids_reserved, -1);
}

/*
 * Take the free slot s (restore at a given slot): one never used (the slots
 * below it join the free list) or one on the free list. *last gets its
 * previous nonce (0 if none), for slot_push() should the insert fail.
 * 0, or -EEXIST if a session, a pending free or a reservation holds it.
 */
static int slot_take_free(struct sg_sess_table *t, uint32_t s, uint64_t *last)
{
	*last = 0;
	if (s >= t->slot_hwm) {
		for (uint32_t i = t->slot_hwm; i < s; i++)
			slot_push(t, i, 0);
		t->slot_hwm = s + 1;
		return 0;
	}
	if ((t->hot[s].flags & SESS_ST_MASK) != SESS_ST_FREE)
		return -EEXIST;
	*last = sess_fl_get(t, s).last_check;
	slot_unlink(t, s);
	return 0;
}

/*
 * Take a given slot for the CID with this nonce: a free slot (restore of a
 * CID), or the slot sg_sess_cid_reserve() held for exactly this CID.
 */
static int slot_take(struct sg_sess_table *t, uint32_t s, uint64_t nonce)
{
	uint64_t last;

	if (s < t->slot_hwm && reserved_for(t, s, nonce)) {
		unreserve(t, s);
		memset(&t->hot[s].tuple, 0, sizeof(t->hot[s].tuple)); /* as slot_unlink() */
		return 0;
	}
	return slot_take_free(t, s, &last);
}

/* The pool an SA of this AEAD lives in. */
static unsigned sa_pool_of(unsigned aead)
{
	return sg_aead_wide(aead) ? SESS_POOL_CBC : SESS_POOL_AEAD;
}

/* The counter of SAs held in pool k. */
static uint64_t *sa_in_use_of(struct sg_sess_table *t, unsigned k)
{
	return k == SESS_POOL_CBC ? &t->st.cbc_in_use : &t->st.sa_in_use;
}

/* Is i an SA index of this table (either pool)? */
static bool sa_valid(const struct sg_sess_table *t, uint32_t i)
{
	return i != SESS_NONE && (i & SESS_SA_IDX) < t->pa[i >> 31].count;
}

/* Take a free SA of pool k: its index (the pool in the top bit), or SESS_NONE. */
static uint32_t sa_pop(struct sg_sess_table *t, unsigned k)
{
	struct sess_pool_alloc *a = &t->pa[k];
	uint32_t size = t->pool[k].size, i = a->free;
	uint8_t *sa;

	if (i != SESS_NONE) {
		sa = (uint8_t *)sess_sa(t, i);
		memcpy(&a->free, sa + size - 4, 4);
		SESS_UNPOISON(sa, size);
	} else if (a->hwm < a->count) {
		i = a->hwm++ | (k == SESS_POOL_CBC ? SESS_SA_CBC : 0);
		SESS_UNPOISON(sess_sa(t, i), size);
	} else {
		return SESS_NONE;
	}
	stat_add(sa_in_use_of(t, k), 1);
	return i;
}

/*
 * An SA for keys of this AEAD, in its pool: *i, or the refusal (counted).
 * new_cbc: the session's current keys become CBC ones now (an insert, or a
 * replace of AEAD keys), so the CBC pool's session limit applies. A CBC
 * pool without a free SA is cbc_full too: its reserve is held by re-keyed
 * sessions' previous keys.
 */
static int sa_take(struct sg_sess_table *t, unsigned aead, bool new_cbc, uint32_t *i)
{
	unsigned k = sa_pool_of(aead);

	if (k == SESS_POOL_CBC && new_cbc && t->st.cbc_live >= t->pa[k].limit)
		return sess_refuse(t, SG_SESS_REFUSE_CBC_FULL, -ENOSPC);
	*i = sa_pop(t, k);
	if (*i != SESS_NONE)
		return 0;
	return k == SESS_POOL_CBC ? sess_refuse(t, SG_SESS_REFUSE_CBC_FULL, -ENOSPC)
	                          : sess_refuse(t, SG_SESS_REFUSE_SA_RESERVE, -ENOSPC);
}

/* Wipe an SA's keys (and MAC line) and put it on its pool's free list (its link is its
 * last word). */
static void sa_push(struct sg_sess_table *t, uint32_t i)
{
	unsigned k = i >> 31;
	struct sess_pool_alloc *a = &t->pa[k];
	uint32_t size = t->pool[k].size;
	uint8_t *sa = (uint8_t *)sess_sa(t, i);

	sg_wipe(sa, size);
	memcpy(sa + size - 4, &a->free, 4);
	a->free = i;
	/* Under ASan a worker touching a reclaimed SA is reported. */
	SESS_POISON(sa, size - 8);
	stat_add(sa_in_use_of(t, k), -1);
}

/* ---- deferred frees ---- */

static void sess_slot_reset(struct sg_sess_table *t, uint32_t s)
{
	struct sg_sess *h = &t->hot[s];
	struct sess_cold *c = sess_cold(t, s);

	if (h->peer_cid_len > SG_SESS_PEER_CID_INLINE)
		free(c->peer_cid.ext);
	memset(c, 0, sizeof(*c));
	h->sa_pair = (uint64_t)SESS_NONE << 32 | SESS_NONE;
	h->owner = 0;
	h->peer_cid_len = 0;
	h->last_rx = 0;
	memset(&h->tuple, 0, sizeof(h->tuple));
	__atomic_store_n(&h->flags, SESS_ST_FREE, __ATOMIC_RELAXED);
}

static void dq_run(struct sg_sess_table *t, const struct sess_defer *d)
{
	for (unsigned k = 0; k < 2; k++)
		if (d->sa[k] != SESS_NONE)
			sa_push(t, d->sa[k]);
	if (d->slot != SESS_NONE) {
		sess_slot_reset(t, d->slot);
		slot_push(t, d->slot, d->last_check);
	}
	stat_add(&t->st.deferred, -1);
	stat_add(&t->st.reclaimed, 1);
}

/* Queue a free for after the grace period that starts now (after the unpublish). */
static void dq_push(struct sg_sess_table *t, uint32_t slot, uint32_t sa0, uint32_t sa1,
                    uint64_t last_check)
{
	struct sess_defer *d = &t->dq[(t->dq_head + t->dq_len) % t->dq_cap];

	d->token = rte_rcu_qsbr_start(t->qsbr);
	d->last_check = last_check;
	d->slot = slot;
	d->sa[0] = sa0;
	d->sa[1] = sa1;
	/* Beyond the nominal queue: a write that once waited for the workers. */
	if (t->dq_len >= t->dq_nominal)
		stat_add(&t->st.reclaim_deferred, 1);
	t->dq_len++;
	stat_add(&t->st.deferred, 1);
}

/* Run the deferred frees whose grace period is over, oldest first, at most max. */
static unsigned sess_reclaim(struct sg_sess_table *t, unsigned max)
{
	unsigned n = 0;

	while (t->dq_len > 0 && n < max) {
		const struct sess_defer *d = &t->dq[t->dq_head];

		if (rte_rcu_qsbr_check(t->qsbr, d->token, false) != 1)
			break;
		dq_run(t, d);
		t->dq_head = (t->dq_head + 1) % t->dq_cap;
		t->dq_len--;
		n++;
	}
	return n;
}

/*
 * Double the deferred-free queue, up to dq_max, keeping its order (the
 * tokens must stay oldest first). The writer allocates; nobody waits.
 * 0, -ENOSPC (at dq_max) or -ENOMEM.
 */
static int dq_grow(struct sg_sess_table *t)
{
	uint32_t cap = t->dq_cap > t->dq_max / 2 ? t->dq_max : t->dq_cap * 2;
	struct sess_defer *q;

	if (cap <= t->dq_cap)
		return -ENOSPC;
	q = calloc(cap, sizeof(*q));
	if (q == NULL)
		return -ENOMEM;
	for (uint32_t i = 0; i < t->dq_len; i++)
		q[i] = t->dq[(t->dq_head + i) % t->dq_cap];
	free(t->dq);
	t->dq = q;
	t->dq_cap = cap;
	t->dq_head = 0;
	__atomic_store_n(&t->st.defer_capacity, cap, __ATOMIC_RELAXED);
	return 0;
}

/*
 * Room for one more deferred free, never waiting: what is due is reclaimed
 * first (a check of the oldest token, no wait); a queue still full of frees
 * the workers hold grows (SG_SESS_P_DEFER_GROW), else the request is
 * refused (-EAGAIN, defer_full) and nothing has changed.
 */
static int dq_room(struct sg_sess_table *t)
{
	if (t->dq_len == t->dq_cap)
		sess_reclaim(t, SESS_RECLAIM_BATCH);
	if (t->dq_len < t->dq_cap || dq_grow(t) == 0)
		return 0;
	return sess_refuse(t, SG_SESS_REFUSE_DEFER_FULL, -EAGAIN);
}

/* ---- create / destroy ---- */

static void sess_free_all(struct sg_sess_table *t)
{
	sg_wipe(t->cid_key, sizeof(t->cid_key));
	sg_wipe(t->cid_ek, sizeof(t->cid_ek));
	sg_wipe(t->rnd, sizeof(t->rnd));
	sg_wipe(t->hkey, sizeof(t->hkey));
	sg_wipe(&t->seed, sizeof(t->seed));
	if (t->mgr != NULL)
		free_mb_mgr(t->mgr);
	free(t->dq);
	if (t->own_qsbr)
		free(t->qsbr);
	for (unsigned i = 0; i < SG_ARRAY_SIZE(t->map); i++) {
		if (t->map[i] == NULL)
			continue;
		/* ASan keeps shadow state of unmapped memory: clear it for the next mapping. */
		SESS_UNPOISON(t->map[i], t->map_len[i]);
		munmap(t->map[i], t->map_len[i]);
	}
	free(t);
}

static int sess_params_ok(const struct sg_sess_params *p)
{
	unsigned window = p->replay_window ? p->replay_window : SG_REPLAY_WINDOW_DEFAULT;
	unsigned cid_len = p->cid_len ? p->cid_len : SG_SESS_CID_LEN_DEFAULT;

	if (p->capacity == 0 || p->capacity > SG_SESS_CAPACITY_MAX)
		return 0;
	if (p->tuple_capacity > p->capacity)
		return 0;
	if (window < SG_REPLAY_WINDOW_MIN || window > SG_REPLAY_WINDOW_MAX ||
	    (window & (window - 1)) != 0)
		return 0;
	if (cid_len < SG_SESS_CID_LEN_MIN || cid_len > SG_SESS_CID_LEN_MAX)
		return 0;
	if (p->node_bits > SG_SESS_NODE_BITS_MAX || p->node_id >> p->node_bits != 0)
		return 0;
	if (p->node_bits > 0 && p->capacity > (1u << (32 - p->node_bits)))
		return 0;
	/* SA indexes keep their top bit for the pool */
	if ((uint64_t)p->capacity + p->sa_reserve >= SESS_SA_IDX)
		return 0;
	if (p->cbc_capacity > p->capacity ||
	    ((p->flags & SG_SESS_P_NO_CBC) && p->cbc_capacity != 0))
		return 0;
	return (p->flags & ~(uint32_t)(SG_SESS_P_LAZY | SG_SESS_P_DEFER_GROW | SG_SESS_P_NO_CBC)) ==
	       0;
}

/*
 * CBC sessions p allows: cbc_capacity, else capacity / 16 (at least 1);
 * none with SG_SESS_P_NO_CBC.
 */
static uint32_t sess_cbc_limit(const struct sg_sess_params *p)
{
	if (p->flags & SG_SESS_P_NO_CBC)
		return 0;
	if (p->cbc_capacity != 0)
		return p->cbc_capacity;
	return p->capacity / 16 ? p->capacity / 16 : 1;
}

/* The table's sizes and layout from p (defaults for what p leaves 0); no allocation. */
static void sess_geometry(struct sg_sess_table *t, const struct sg_sess_params *p)
{
	uint32_t reserve, cbc = sess_cbc_limit(p);

	t->capacity = p->capacity;
	t->tuple_capacity = p->tuple_capacity ? p->tuple_capacity : p->capacity;
	reserve = p->sa_reserve ? p->sa_reserve : p->capacity / 64;
	if (reserve < SESS_RESERVE_MIN)
		reserve = SESS_RESERVE_MIN;
	if ((uint64_t)p->capacity + reserve >= SESS_SA_IDX)
		reserve = SESS_SA_IDX - 1 - p->capacity;
	t->pa[SESS_POOL_AEAD].count = p->capacity + reserve;
	t->pa[SESS_POOL_AEAD].limit = p->capacity;
	/* The CBC pool's reserve (re-keyed CBC sessions' previous keys): 1/64, at least 64. */
	t->pa[SESS_POOL_CBC].count = cbc == 0 ? 0 : cbc + (cbc / 64 > 64 ? cbc / 64 : 64);
	t->pa[SESS_POOL_CBC].limit = cbc;
	t->replay_window =
	        (uint16_t)(p->replay_window ? p->replay_window : SG_REPLAY_WINDOW_DEFAULT);
	t->pool[SESS_POOL_AEAD].size = (uint32_t)sg_rec_sa_size(t->replay_window);
	t->pool[SESS_POOL_CBC].size =
	        (uint32_t)sg_rec_sa_size_for(t->replay_window, SG_AEAD_AES_128_CBC_SHA256);
	t->cid_len = p->cid_len ? p->cid_len : SG_SESS_CID_LEN_DEFAULT;
	t->nonce_len = (uint8_t)(t->cid_len - 4 < 8 ? t->cid_len - 4 : 8);
	t->tag_len = (uint8_t)(t->cid_len - 4 - t->nonce_len);
	t->slot_bits = (uint8_t)(32 - p->node_bits);
	t->slot_mask = (uint32_t)((1ull << t->slot_bits) - 1);
	t->node_id = p->node_id;
	t->nbkt = (t->tuple_capacity + SESS_BUCKET_DIV - 1) / SESS_BUCKET_DIV;
	if (t->nbkt < 2)
		t->nbkt = 2;
	t->slot_free = SESS_NONE;
	t->pa[SESS_POOL_AEAD].free = SESS_NONE;
	t->pa[SESS_POOL_CBC].free = SESS_NONE;
	t->rnd_pos = sizeof(t->rnd);
}

/* The RCU state the readers report to: p's, or one of the table's own. 0 or -errno. */
static int sess_qsbr_init(struct sg_sess_table *t, const struct sg_sess_params *p)
{
	unsigned n = p->max_threads ? p->max_threads : SESS_THREADS_DEFAULT;
	size_t sz;

	if (p->qsbr != NULL) {
		t->qsbr = p->qsbr;
		return 0;
	}
	sz = rte_rcu_qsbr_get_memsize(n);
	if (sz == 1) /* DPDK's error value */
		return -EINVAL;
	t->qsbr = aligned_alloc(SG_CACHE_LINE,
	                        (sz + SG_CACHE_LINE - 1) & ~(size_t)(SG_CACHE_LINE - 1));
	if (t->qsbr == NULL)
		return -ENOMEM;
	t->own_qsbr = 1;
	return rte_rcu_qsbr_init(t->qsbr, n) == 0 ? 0 : -EINVAL;
}

/* The IPsec-MB manager, the CID key (p's or random) and the index hash's keys. 0 or -errno. */
static int sess_keys_init(struct sg_sess_table *t, const struct sg_sess_params *p)
{
	uint8_t dk[16 * 11] __attribute__((aligned(16)));

	t->mgr = alloc_mb_mgr(0);
	if (t->mgr == NULL)
		return -ENOMEM;
	init_mb_mgr_auto(t->mgr, NULL);
	if (imb_get_errno(t->mgr) != 0)
		return -EIO;
	if (p->cid_key != NULL)
		memcpy(t->cid_key, p->cid_key, sizeof(t->cid_key));
	else if (getrandom(t->cid_key, sizeof(t->cid_key), 0) != (ssize_t)sizeof(t->cid_key))
		return -EIO;
	IMB_AES_KEYEXP_128(t->mgr, t->cid_key, t->cid_ek, dk);
	sg_wipe(dk, sizeof(dk));
	/* Keyed index hash: an outsider cannot pick 4-tuples that collide. */
	if (sess_random(t, &t->seed, sizeof(t->seed)) != 0 ||
	    sess_random(t, t->hkey, sizeof(t->hkey)) != 0)
		return -EIO;
	return 0;
}

struct sg_sess_table *sg_sess_table_create(const struct sg_sess_params *p)
{
	struct sg_sess_table *t;
	uint32_t sa_total;
	int err = -ENOMEM, lazy;

	if (p == NULL || !sess_params_ok(p)) {
		errno = EINVAL;
		return NULL;
	}
	t = aligned_alloc(SG_CACHE_LINE, sizeof(*t));
	if (t == NULL)
		return NULL;
	memset(t, 0, sizeof(*t));
	lazy = (p->flags & SG_SESS_P_LAZY) != 0;
	sess_geometry(t, p);

	t->hot = sess_map(t, MAP_HOT, (size_t)t->capacity * sizeof(struct sg_sess), lazy);
	t->cold = sess_map(t, MAP_COLD, (size_t)t->capacity * sizeof(struct sess_cold), lazy);
	for (unsigned k = 0; k < SESS_POOLS; k++) {
		size_t len = (size_t)t->pa[k].count * t->pool[k].size;

		if (len == 0)
			continue; /* no CBC pool: CBC sessions are refused (cbc_full) */
		t->pool[k].base = sess_map(t, k == SESS_POOL_CBC ? MAP_CBC : MAP_SA, len, lazy);
		if (t->pool[k].base == NULL)
			goto fail;
		SESS_POISON(t->pool[k].base, len);
	}
	t->bkt = sess_map(t, MAP_BKT, (size_t)t->nbkt * sizeof(struct sess_bucket), lazy);
	if (t->hot == NULL || t->cold == NULL || t->bkt == NULL)
		goto fail;

	t->dq_cap = p->defer_capacity ? p->defer_capacity : SESS_DEFER_DEFAULT;
	t->dq_nominal = t->dq_cap;
	/*
	 * Every waiting free holds an SA that no live session and no free list
	 * has (a delete: the current or held SA; a replace or retire: the
	 * previous one), so at most every SA of both pools waits at once: a
	 * growing queue never needs more.
	 */
	sa_total = t->pa[SESS_POOL_AEAD].count + t->pa[SESS_POOL_CBC].count;
	t->dq_max =
	        (p->flags & SG_SESS_P_DEFER_GROW) && sa_total > t->dq_cap ? sa_total : t->dq_cap;
	t->st.defer_capacity = t->dq_cap;
	t->dq = calloc(t->dq_cap, sizeof(*t->dq));
	if (t->dq == NULL)
		goto fail;
	err = sess_qsbr_init(t, p);
	if (err == 0)
		err = sess_keys_init(t, p);
	if (err != 0)
		goto fail;
	return t;

fail:
	sess_free_all(t);
	errno = -err;
	return NULL;
}

void sg_sess_table_destroy(struct sg_sess_table *t)
{
	if (t == NULL)
		return;
	/* No worker is left: every deferred free is due now. */
	while (t->dq_len > 0) {
		dq_run(t, &t->dq[t->dq_head]);
		t->dq_head = (t->dq_head + 1) % t->dq_cap;
		t->dq_len--;
	}
	for (uint32_t s = 0; s < t->slot_hwm; s++) {
		struct sg_sess *h = &t->hot[s];

		if ((h->flags & SESS_ST_MASK) != SESS_ST_LIVE)
			continue;
		for (unsigned k = 0; k < 2; k++) {
			uint32_t i = (uint32_t)(h->sa_pair >> (32 * k));

			if (i != SESS_NONE)
				sg_wipe(sess_sa(t, i), sess_sa_size(t, i));
		}
		if (h->peer_cid_len > SG_SESS_PEER_CID_INLINE)
			free(sess_cold(t, s)->peer_cid.ext);
	}
	sess_free_all(t);
}

struct rte_rcu_qsbr *sg_sess_table_qsbr(const struct sg_sess_table *t)
{
	return t->qsbr;
}

unsigned sg_sess_cid_len(const struct sg_sess_table *t)
{
	return t->cid_len;
}

void sg_sess_cid_key(const struct sg_sess_table *t, uint8_t key[16])
{
	memcpy(key, t->cid_key, sizeof(t->cid_key));
}

/* ---- writer operations ---- */

static struct sg_sess *sess_by_id(struct sg_sess_table *t, uint64_t id, uint32_t *slot)
{
	uint32_t s = (uint32_t)id;
	struct sg_sess *h;

	if (s >= t->slot_hwm)
		return NULL;
	h = &t->hot[s];
	if ((h->flags & SESS_ST_MASK) != SESS_ST_LIVE || h->gen != (uint32_t)(id >> 32))
		return NULL;
	*slot = s;
	return h;
}

static int sess_new_ok(const struct sg_sess_table *t, const struct sg_sess_new *s)
{
	if (s == NULL || s->sa == NULL || s->sa->aead >= SG_AEAD_MAX)
		return 0;
	if ((s->flags & (SG_SESS_F_TUPLE | SG_SESS_F_CID)) == 0 ||
	    (s->flags & ~(SG_SESS_F_TUPLE | SG_SESS_F_CID | SG_SESS_F_ID)) != 0)
		return 0;
	if (s->cid != NULL && !(s->flags & SG_SESS_F_CID))
		return 0;
	/* Restore at an id: ids never have generation 0, and the slot is one of ours. */
	if ((s->flags & SG_SESS_F_ID) && ((s->id >> 32) == 0 || (uint32_t)s->id >= t->capacity))
		return 0;
	return s->peer_cid_len == 0 || s->peer_cid != NULL;
}

/* Whether there is room for s (reclaiming what is due first): 0, or sess_refuse()'s. */
static int sess_insert_check(struct sg_sess_table *t, const struct sg_sess_new *s,
                             const uint64_t *id)
{
	if (id == NULL || !sess_new_ok(t, s))
		return sess_refuse(t, SG_SESS_REFUSE_INVALID, -EINVAL);
	sess_reclaim(t, SESS_RECLAIM_BATCH);
	/* A full table is reported as such, whatever else the request lacks (a given slot is
	 * then taken: -EEXIST). */
	if (s->cid == NULL && !(s->flags & SG_SESS_F_ID) && t->slot_free == SESS_NONE &&
	    t->slot_hwm == t->capacity)
		return sess_refuse(t, SG_SESS_REFUSE_FULL, -ENOSPC);
	if ((s->flags & SG_SESS_F_TUPLE) && t->st.tuple_entries >= t->tuple_capacity)
		return sess_refuse(t, SG_SESS_REFUSE_TUPLE_FULL, -ENOSPC);
	return 0;
}

/*
 * The slot of a new session and the nonce its CID carries: the one s->cid
 * names (a CID sg_sess_cid_reserve() handed out, or a restored one; with
 * SG_SESS_F_ID it must be the id's slot), else the id's slot (SG_SESS_F_ID)
 * or a free one, with a fresh nonce (*last: the slot's previous nonce, for
 * slot_push()). 0 or -errno; on failure nothing is taken.
 */
static int sess_claim_slot(struct sg_sess_table *t, const struct sg_sess_new *s, uint32_t *slot,
                           uint64_t *nonce, uint64_t *last)
{
	int rc;

	if (s->cid != NULL) {
		rc = sg_sess_cid_decode(t, s->cid, slot, nonce);
		if (rc < 0)
			return rc;
		if (rc != SG_SESS_HIT || *nonce == 0)
			return sess_refuse(t, SG_SESS_REFUSE_BAD_CID, -EINVAL);
		if ((s->flags & SG_SESS_F_ID) && *slot != (uint32_t)s->id)
			return sess_refuse(t, SG_SESS_REFUSE_INVALID, -EINVAL);
		if (slot_take(t, *slot, *nonce) != 0)
			return sess_refuse(t, SG_SESS_REFUSE_CID_TAKEN, -EEXIST);
		return 0;
	}
	if (s->flags & SG_SESS_F_ID) {
		*slot = (uint32_t)s->id;
		if (slot_take_free(t, *slot, last) != 0)
			return sess_refuse(t, SG_SESS_REFUSE_CID_TAKEN, -EEXIST);
	} else {
		*slot = slot_pop(t, last);
		if (*slot == SESS_NONE)
			return sess_refuse(t, SG_SESS_REFUSE_FULL, -ENOSPC);
	}
	rc = sess_new_nonce(t, *last, nonce);
	if (rc < 0)
		slot_push(t, *slot, *last);
	return rc < 0 ? rc : 0;
}

/* Slot slot and SA sa take the new session s (ext: its peer CID when longer than the inline
 * room, now the slot's); live but unpublished until check is stored. */
static void sess_fill(struct sg_sess_table *t, const struct sg_sess_new *s, uint32_t slot,
                      uint32_t sa, uint8_t *ext)
{
	struct sess_cold *c = sess_cold(t, slot);
	struct sg_sess *h = &t->hot[slot];

	memcpy(sess_sa(t, sa), s->sa, sess_sa_size(t, sa));
	c->identity = s->identity;
	c->backend = s->backend;
	c->expires = s->expires;
	c->suite = s->suite;
	c->rekeys = 0;
	if (ext != NULL)
		c->peer_cid.ext = ext;
	else if (s->peer_cid_len > 0)
		memcpy(c->peer_cid.inl, s->peer_cid, s->peer_cid_len);

	if (s->flags & SG_SESS_F_ID)
		h->gen = (uint32_t)(s->id >> 32); /* restored: its id as recorded */
	else
		h->gen = h->gen + 1 ? h->gen + 1 : 1; /* ids never have generation 0 */
	h->sa_pair = (uint64_t)SESS_NONE << 32 | sa;
	h->owner = s->owner;
	h->peer_cid_len = s->peer_cid_len;
	h->tuple = s->tuple;
	h->last_rx = s->last_rx;
	__atomic_store_n(&h->flags,
	                 (uint8_t)((s->flags & (SG_SESS_F_TUPLE | SG_SESS_F_CID)) | SESS_ST_LIVE),
	                 __ATOMIC_RELAXED);
}

/* hk_pre: the key's buckets, hashed and prefetched by the caller, or NULL. */
static int sess_insert(struct sg_sess_table *t, const struct sg_sess_new *s, uint64_t *id,
                       uint8_t *cid, const struct sess_hkey *hk_pre)
{
	uint8_t mycid[SG_SESS_CID_LEN_MAX];
	uint64_t nonce = 0, last = 0;
	struct sess_hkey hk;
	uint32_t slot, sa;
	struct sg_sess *h;
	uint8_t *ext = NULL;
	int rc;

	rc = sess_insert_check(t, s, id);
	if (rc < 0)
		return rc;
	if (s->flags & SG_SESS_F_TUPLE) {
		/* The two buckets load while we pick the slot and make the CID. */
		if (hk_pre != NULL)
			hk = *hk_pre;
		else
			sg_sess_idx_prep(t, &s->tuple, &hk);
	}

	rc = sess_claim_slot(t, s, &slot, &nonce, &last);
	if (rc < 0)
		return rc;
	if (s->flags & SG_SESS_F_CID) {
		rc = sg_sess_cid_make(t, slot, nonce, mycid);
		if (rc < 0)
			goto put_slot;
	}
	if ((s->flags & SG_SESS_F_TUPLE) && sg_sess_idx_find(t, &s->tuple, &hk) >= 0) {
		rc = sess_refuse(t, SG_SESS_REFUSE_DUP_TUPLE, -EEXIST);
		goto put_slot;
	}
	rc = sa_take(t, s->sa->aead, true, &sa);
	if (rc < 0)
		goto put_slot;
	/* A peer CID longer than the inline room lives on the heap (freed with the slot). */
	if (s->peer_cid_len > SG_SESS_PEER_CID_INLINE) {
		ext = malloc(s->peer_cid_len);
		if (ext == NULL) {
			rc = -ENOMEM;
			goto put_sa;
		}
		memcpy(ext, s->peer_cid, s->peer_cid_len);
	}
	sess_fill(t, s, slot, sa, ext);
	h = &t->hot[slot];

	if (s->flags & SG_SESS_F_TUPLE) {
		if (sg_sess_idx_add(t, &hk, slot) != 0) {
			rc = sess_refuse(t, SG_SESS_REFUSE_INDEX_FULL, -ENOSPC);
			goto undo;
		}
		stat_add(&t->st.tuple_entries, 1);
	}
	/* Publish: from here workers find the session. */
	__atomic_store_n(&h->check, nonce, __ATOMIC_RELEASE);
	stat_add(&t->st.live, 1);
	if (sa & SESS_SA_CBC)
		stat_add(&t->st.cbc_live, 1);
	stat_add(&t->st.inserts, 1);
	*id = (uint64_t)h->gen << 32 | slot;
	if (cid != NULL && (s->flags & SG_SESS_F_CID))
		memcpy(cid, mycid, t->cid_len);
	return 0;

undo:
	/* Nothing was published (check is still 0): no grace period needed. */
	sess_slot_reset(t, slot);
	ext = NULL; /* freed by the reset */
put_sa:
	free(ext);
	sa_push(t, sa);
put_slot:
	slot_push(t, slot, last);
	return rc;
}

int sg_sess_cid_reserve(struct sg_sess_table *t, uint8_t *cid)
{
	struct sess_free f = { .next = SESS_NONE, .prev = SESS_NONE };
	uint64_t last;
	uint32_t slot;
	int rc;

	if (cid == NULL)
		return -EINVAL;
	rc = sess_enter(t);
	if (rc != 0)
		return rc;
	sess_reclaim(t, SESS_RECLAIM_BATCH);
	slot = slot_pop(t, &last);
	if (slot == SESS_NONE) {
		rc = sess_refuse(t, SG_SESS_REFUSE_FULL, -ENOSPC);
		goto out;
	}
	rc = sess_new_nonce(t, last, &f.last_check);
	if (rc == 0)
		rc = sg_sess_cid_make(t, slot, f.last_check, cid);
	if (rc < 0) {
		slot_push(t, slot, last);
		goto out;
	}
	/* Off the free list, not findable (check stays 0): the nonce waits in the links. */
	sess_fl_put(t, slot, &f);
	t->hot[slot].flags = SESS_ST_RESERVED;
	stat_add(&t->st.cids_reserved, 1);
out:
	sess_leave(t);
	return rc;
}

int sg_sess_cid_release(struct sg_sess_table *t, const uint8_t *cid)
{
	uint64_t nonce;
	uint32_t slot;
	int rc;

	if (cid == NULL)
		return -EINVAL;
	rc = sess_enter(t);
	if (rc != 0)
		return rc;
	rc = sg_sess_cid_decode(t, cid, &slot, &nonce);
	if (rc == SG_SESS_HIT && reserved_for(t, slot, nonce)) {
		unreserve(t, slot);
		slot_push(t, slot, nonce); /* the slot's next CID gets another nonce */
		rc = 0;
	} else {
		rc = rc < 0 ? rc : -ENOENT;
	}
	sess_leave(t);
	return rc;
}

int sg_sess_insert(struct sg_sess_table *t, const struct sg_sess_new *s, uint64_t *id, uint8_t *cid)
{
	int rc = sess_enter(t);

	if (rc != 0)
		return rc;
	rc = sess_insert(t, s, id, cid, NULL);
	sess_leave(t);
	return rc;
}

/* Sessions per group whose index buckets are prefetched together. */
#define SESS_BULK_GROUP 16

unsigned sg_sess_insert_bulk(struct sg_sess_table *t, const struct sg_sess_new *s, unsigned n,
                             uint64_t *ids, uint8_t *cids, int *rcs)
{
	struct sess_hkey hk[SESS_BULK_GROUP];
	unsigned done = 0;

	if (sess_enter(t) != 0) {
		for (unsigned i = 0; i < n; i++)
			rcs[i] = -EBUSY;
		return 0;
	}
	/*
	 * A single insert waits for its two buckets (one random miss, ~60 % of
	 * its time at 10M); here the buckets of a whole group are in flight
	 * together, then the group is inserted in order.
	 */
	for (unsigned g = 0; g < n; g += SESS_BULK_GROUP) {
		unsigned m = n - g < SESS_BULK_GROUP ? n - g : SESS_BULK_GROUP;

		for (unsigned i = 0; i < m; i++)
			if (s[g + i].flags & SG_SESS_F_TUPLE)
				sg_sess_idx_prep(t, &s[g + i].tuple, &hk[i]);
		for (unsigned i = 0; i < m; i++) {
			const struct sg_sess_new *e = &s[g + i];
			uint8_t *cid = cids != NULL ? cids + (size_t)(g + i) * t->cid_len : NULL;

			rcs[g + i] = sess_insert(t, e, &ids[g + i], cid,
			                         (e->flags & SG_SESS_F_TUPLE) ? &hk[i] : NULL);
			done += rcs[g + i] == 0;
		}
	}
	sess_leave(t);
	return done;
}

static int sess_replace(struct sg_sess_table *t, uint64_t id, const struct sg_rec_sa *sa)
{
	struct sg_sess *h;
	uint32_t slot, cur, prev, nsa;
	int rc;

	if (sa == NULL || sa->aead >= SG_AEAD_MAX)
		return sess_refuse(t, SG_SESS_REFUSE_INVALID, -EINVAL);
	h = sess_by_id(t, id, &slot);
	if (h == NULL)
		return sess_refuse(t, SG_SESS_REFUSE_UNKNOWN_ID, -ENOENT);
	sess_reclaim(t, SESS_RECLAIM_BATCH);
	cur = (uint32_t)h->sa_pair;
	prev = (uint32_t)(h->sa_pair >> 32);
	if (prev != SESS_NONE) {
		rc = dq_room(t);
		if (rc != 0)
			return rc;
	}
	/* The suite may change with the handshake: the new keys take their own pool. */
	rc = sa_take(t, sa->aead, !(cur & SESS_SA_CBC), &nsa);
	if (rc != 0)
		return rc;
	memcpy(sess_sa(t, nsa), sa, sess_sa_size(t, nsa));
	/* One store switches both: new keys take over, the old ones stay acceptable. */
	__atomic_store_n(&h->sa_pair, (uint64_t)cur << 32 | nsa, __ATOMIC_RELEASE);
	if ((nsa ^ cur) & SESS_SA_CBC)
		stat_add(&t->st.cbc_live, (nsa & SESS_SA_CBC) ? 1 : -1);
	if (prev != SESS_NONE)
		dq_push(t, SESS_NONE, prev, SESS_NONE, 0);
	sess_cold(t, slot)->rekeys++;
	stat_add(&t->st.replaces, 1);
	return 0;
}

int sg_sess_replace(struct sg_sess_table *t, uint64_t id, const struct sg_rec_sa *sa)
{
	int rc = sess_enter(t);

	if (rc != 0)
		return rc;
	rc = sess_replace(t, id, sa);
	sess_leave(t);
	return rc;
}

static int sess_retire_prev(struct sg_sess_table *t, uint64_t id)
{
	struct sg_sess *h;
	uint32_t slot, prev;
	int rc;

	h = sess_by_id(t, id, &slot);
	if (h == NULL)
		return sess_refuse(t, SG_SESS_REFUSE_UNKNOWN_ID, -ENOENT);
	prev = (uint32_t)(h->sa_pair >> 32);
	if (prev == SESS_NONE)
		return 0;
	rc = dq_room(t);
	if (rc != 0)
		return rc;
	__atomic_store_n(&h->sa_pair, (uint64_t)SESS_NONE << 32 | (uint32_t)h->sa_pair,
	                 __ATOMIC_RELEASE);
	dq_push(t, SESS_NONE, prev, SESS_NONE, 0);
	return 0;
}

int sg_sess_retire_prev(struct sg_sess_table *t, uint64_t id)
{
	int rc = sess_enter(t);

	if (rc != 0)
		return rc;
	rc = sess_retire_prev(t, id);
	sess_leave(t);
	return rc;
}

/*
 * Unpublish session id and queue its slot and SAs for after the grace period.
 * keep NULL: every SA goes with the slot; else the current SA stays out of the
 * free lists (its index in *keep) until the caller hands it back (sa_push()).
 */
static int sess_delete(struct sg_sess_table *t, uint64_t id, uint32_t *keep)
{
	struct sg_sess *h;
	uint64_t nonce;
	uint32_t slot, cur;
	int rc;

	h = sess_by_id(t, id, &slot);
	if (h == NULL)
		return sess_refuse(t, SG_SESS_REFUSE_UNKNOWN_ID, -ENOENT);
	rc = dq_room(t);
	if (rc != 0)
		return rc;
	nonce = h->check;
	/* Unpublish: CID lookups fail from now on, then the 4-tuple ones. */
	__atomic_store_n(&h->check, 0, __ATOMIC_RELEASE);
	if (h->flags & SG_SESS_F_TUPLE) {
		struct sess_hkey hk;

		sg_sess_idx_prep(t, &h->tuple, &hk);
		sg_sess_idx_del(t, &hk, slot);
		stat_add(&t->st.tuple_entries, -1);
	}
	__atomic_store_n(&h->flags, (uint8_t)((h->flags & ~SESS_ST_MASK) | SESS_ST_DEAD),
	                 __ATOMIC_RELAXED);
	cur = (uint32_t)h->sa_pair;
	if (cur & SESS_SA_CBC)
		stat_add(&t->st.cbc_live, -1);
	if (keep != NULL)
		*keep = cur;
	dq_push(t, slot, keep != NULL ? SESS_NONE : cur, (uint32_t)(h->sa_pair >> 32), nonce);
	stat_add(&t->st.live, -1);
	stat_add(&t->st.deletes, 1);
	return 0;
}

/* The grace-period token of the free dq_push() queued last. */
static uint64_t dq_last_token(const struct sg_sess_table *t)
{
	return t->dq[(t->dq_head + t->dq_len - 1) % t->dq_cap].token;
}

int sg_sess_delete(struct sg_sess_table *t, uint64_t id)
{
	int rc = sess_enter(t);

	if (rc != 0)
		return rc;
	rc = sess_delete(t, id, NULL);
	sess_leave(t);
	return rc;
}

/* sess_delete() with the SA held back: *held names it and the grace period that frees it. */
static int sess_delete_held(struct sg_sess_table *t, uint64_t id, struct sg_sess_held *held)
{
	uint32_t cur;
	int rc = sess_delete(t, id, &cur);

	if (rc == 0) {
		held->token = dq_last_token(t);
		held->sa = cur;
	}
	return rc;
}

int sg_sess_delete_take(struct sg_sess_table *t, uint64_t id, struct sg_rec_sa *sa)
{
	struct sg_sess_held held;
	int rc = sess_enter(t);

	if (rc != 0)
		return rc;
	rc = sess_delete_held(t, id, &held);
	if (rc == 0) {
		/* Its free was queued last: once its grace period ends no worker holds the SA. */
		rte_rcu_qsbr_check(t->qsbr, held.token, true);
		memcpy(sa, sess_sa(t, held.sa), sess_sa_size(t, held.sa));
		sa_push(t, held.sa);
		sess_reclaim(t, UINT32_MAX);
	}
	sess_leave(t);
	return rc;
}

int sg_sess_delete_hold(struct sg_sess_table *t, uint64_t id, struct sg_sess_held *held)
{
	int rc = sess_enter(t);

	if (rc != 0)
		return rc;
	rc = sess_delete_held(t, id, held);
	sess_leave(t);
	return rc;
}

int sg_sess_take_held(struct sg_sess_table *t, const struct sg_sess_held *held,
                      struct sg_rec_sa *sa)
{
	int rc = sess_enter(t);

	if (rc != 0)
		return rc;
	if (!sa_valid(t, held->sa)) {
		rc = sess_refuse(t, SG_SESS_REFUSE_INVALID, -EINVAL);
	} else if (rte_rcu_qsbr_check(t->qsbr, held->token, false) != 1) {
		rc = -EAGAIN; /* a worker may still be sealing with it: not a refusal */
	} else {
		if (sa != NULL)
			memcpy(sa, sess_sa(t, held->sa), sess_sa_size(t, held->sa));
		sa_push(t, held->sa);
	}
	sess_leave(t);
	return rc;
}

int sg_sess_set_owner(struct sg_sess_table *t, uint64_t id, uint16_t owner)
{
	struct sg_sess *h;
	uint32_t slot;
	int rc = sess_enter(t);

	if (rc != 0)
		return rc;
	h = sess_by_id(t, id, &slot);
	if (h == NULL)
		rc = sess_refuse(t, SG_SESS_REFUSE_UNKNOWN_ID, -ENOENT);
	else
		__atomic_store_n(&h->owner, owner, __ATOMIC_RELAXED);
	sess_leave(t);
	return rc;
}

unsigned sg_sess_reclaim(struct sg_sess_table *t, int wait)
{
	unsigned n;

	if (sess_enter(t) != 0)
		return 0;
	if (wait && t->dq_len > 0) {
		const struct sess_defer *last = &t->dq[(t->dq_head + t->dq_len - 1) % t->dq_cap];

		/* Blocks until every online worker passed a quiescent state. */
		rte_rcu_qsbr_check(t->qsbr, last->token, true);
	}
	n = sess_reclaim(t, UINT32_MAX);
	sess_leave(t);
	return n;
}

int sg_sess_find_tuple(struct sg_sess_table *t, const struct sg_sess_tuple *k, uint64_t *id)
{
	struct sess_hkey hk;
	int64_t s;
	int rc = sess_enter(t);

	if (rc != 0)
		return rc;
	sg_sess_idx_prep(t, k, &hk);
	s = sg_sess_idx_find(t, k, &hk);
	if (s < 0)
		rc = -ENOENT;
	else
		*id = (uint64_t)t->hot[s].gen << 32 | (uint32_t)s;
	sess_leave(t);
	return rc;
}

int sg_sess_find_cid(struct sg_sess_table *t, const uint8_t *cid, uint64_t *id)
{
	uint32_t slot;
	uint64_t nonce;
	int rc = sess_enter(t);

	if (rc != 0)
		return rc;
	rc = sg_sess_cid_decode(t, cid, &slot, &nonce);
	if (rc == SG_SESS_HIT) {
		const struct sg_sess *h = &t->hot[slot];

		if (slot < t->slot_hwm && nonce != 0 && h->check == nonce &&
		    (h->flags & SG_SESS_F_CID))
			*id = (uint64_t)h->gen << 32 | slot;
		else
			rc = -ENOENT;
	} else if (rc > 0) {
		rc = -ENOENT;
	}
	sess_leave(t);
	return rc;
}

static void sess_info(struct sg_sess_table *t, uint32_t slot, struct sg_sess_info *info)
{
	const struct sg_sess *h = &t->hot[slot];
	const struct sess_cold *c = sess_cold(t, slot);
	const struct sg_rec_sa *sa = sess_sa(t, (uint32_t)h->sa_pair);
	uint64_t tx_word;

	memset(info, 0, sizeof(*info));
	info->id = (uint64_t)h->gen << 32 | slot;
	info->tuple = h->tuple;
	info->flags = h->flags & (SG_SESS_F_TUPLE | SG_SESS_F_CID);
	if ((h->flags & SG_SESS_F_CID) && sg_sess_cid_make(t, slot, h->check, info->cid) == 0)
		info->cid_len = t->cid_len;
	info->peer_cid_len = h->peer_cid_len;
	memcpy(info->peer_cid, sg_sess_peer_cid(t, h), h->peer_cid_len);
	info->owner = __atomic_load_n(&h->owner, __ATOMIC_RELAXED);
	info->suite = c->suite;
	info->rekeys = c->rekeys;
	info->identity = c->identity;
	info->backend = c->backend;
	info->expires = c->expires;
	info->last_rx = __atomic_load_n(&h->last_rx, __ATOMIC_RELAXED);
	/* The owner worker advances these while we read: each field is atomic. */
	info->aead = sa->aead;
	info->epoch = sa->epoch;
	info->auth_failures = __atomic_load_n(&sa->auth_failures, __ATOMIC_RELAXED);
	tx_word = __atomic_load_n(&sa->tx_word, __ATOMIC_RELAXED);
	info->tx_seq = tx_word & SG_SA_TX_SEQ_MASK;
	info->max_plaintext = (uint16_t)(tx_word >> SG_SA_TX_SEQ_BITS);
	info->rrc = !!(sa->flags & SG_SA_F_RRC);
	info->rx_top = __atomic_load_n(&sa->rx_top, __ATOMIC_RELAXED);
	info->has_prev = (uint32_t)(h->sa_pair >> 32) != SESS_NONE;
	info->replay_window = t->replay_window;
}

int sg_sess_get(struct sg_sess_table *t, uint64_t id, struct sg_sess_info *info)
{
	uint32_t slot;
	int rc = sess_enter(t);

	if (rc != 0)
		return rc;
	if (sess_by_id(t, id, &slot) == NULL)
		rc = -ENOENT;
	else
		sess_info(t, slot, info);
	sess_leave(t);
	return rc;
}

/*
 * The current SA's two lines, for a checkpoint: keys and IVs are the
 * writer's and stable; the owner worker advances the sequence words and the
 * replay bits while we copy, so the words restore reads are loaded
 * atomically (each one a value the worker really had). A CBC SA's MAC line
 * (the writer's too, stable) goes to its place in sa (sg_rec_sa_mac()).
 */
static void sess_copy_sa(const struct sg_sess_table *t, const struct sg_rec_sa *src,
                         struct sg_rec_sa *sa)
{
	memcpy(sa, src, sizeof(*sa));
	sa->auth_failures = __atomic_load_n(&src->auth_failures, __ATOMIC_RELAXED);
	sa->rx_top = __atomic_load_n(&src->rx_top, __ATOMIC_RELAXED);
	sa->tx_word = __atomic_load_n(&src->tx_word, __ATOMIC_RELAXED);
	if (sg_aead_wide(sa->aead))
		memcpy(sg_rec_sa_mac(sa, t->replay_window),
		       (const uint8_t *)src + sg_rec_sa_size(t->replay_window),
		       sizeof(struct sg_rec_sa_mac));
}

int sg_sess_get_sa(struct sg_sess_table *t, uint64_t id, struct sg_rec_sa *sa)
{
	const struct sg_sess *h;
	uint32_t slot;
	int rc;

	if (sa == NULL)
		return -EINVAL;
	rc = sess_enter(t);
	if (rc != 0)
		return rc;
	h = sess_by_id(t, id, &slot);
	if (h == NULL)
		rc = -ENOENT;
	else
		sess_copy_sa(t, sess_sa(t, (uint32_t)h->sa_pair), sa);
	sess_leave(t);
	return rc;
}

int sg_sess_next(struct sg_sess_table *t, uint64_t *cursor, struct sg_sess_info *info)
{
	int rc = sess_enter(t);

	if (rc != 0)
		return rc;
	rc = -ENOENT;
	for (uint64_t s = *cursor; s < t->slot_hwm; s++) {
		if ((t->hot[s].flags & SESS_ST_MASK) != SESS_ST_LIVE)
			continue;
		sess_info(t, (uint32_t)s, info);
		*cursor = s + 1;
		rc = 0;
		break;
	}
	if (rc != 0)
		*cursor = t->slot_hwm;
	sess_leave(t);
	return rc;
}

unsigned sg_sess_expired(struct sg_sess_table *t, uint64_t *cursor, uint32_t max_slots,
                         uint32_t now, uint32_t idle_s, uint64_t *ids, unsigned max_ids)
{
	unsigned n = 0;
	uint64_t s;

	if (cursor == NULL || ids == NULL || sess_enter(t) != 0)
		return 0;
	s = *cursor < t->slot_hwm ? *cursor : 0;
	for (uint32_t k = 0; k < max_slots && n < max_ids; k++, s++) {
		const struct sg_sess *h;
		uint32_t exp;

		if (s >= t->slot_hwm) {
			s = 0; /* a pass is done: the next call starts the next one */
			break;
		}
		h = &t->hot[s];
		if ((h->flags & SESS_ST_MASK) != SESS_ST_LIVE)
			continue;
		exp = sess_cold(t, (uint32_t)s)->expires;
		if ((exp != 0 && exp <= now) ||
		    (idle_s != 0 &&
		     (uint64_t)__atomic_load_n(&h->last_rx, __ATOMIC_RELAXED) + idle_s <= now))
			ids[n++] = (uint64_t)h->gen << 32 | s;
	}
	*cursor = s;
	sess_leave(t);
	return n;
}

void sg_sess_stats_get(const struct sg_sess_table *t, struct sg_sess_stats *st)
{
	const uint64_t *src = (const uint64_t *)&t->st;
	uint64_t *dst = (uint64_t *)st;

	for (size_t i = 0; i < sizeof(*st) / sizeof(uint64_t); i++)
		dst[i] = __atomic_load_n(&src[i], __ATOMIC_RELAXED);
}

const uint8_t *sg_sess_peer_cid(const struct sg_sess_table *t, const struct sg_sess *s)
{
	const struct sess_cold *c = sess_cold(t, (uint32_t)(s - t->hot));

	return s->peer_cid_len > SG_SESS_PEER_CID_INLINE ? c->peer_cid.ext : c->peer_cid.inl;
}
