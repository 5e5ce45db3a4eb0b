/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Lookups by session id, for the data plane's downlink: the id a backend
 * reply carries (PROXY v2 unique id) or the one the backend port maps to.
 * The generation in the id's high half makes a stale id miss once its slot
 * holds another session.
 */
#include "session_priv.h"

uint32_t sg_sess_capacity(const struct sg_sess_table *t)
{
	return t->capacity;
}

unsigned sg_sess_replay_window(const struct sg_sess_table *t)
{
	return t->replay_window;
}

unsigned sg_sess_lookup_id_bulk(struct sg_sess_worker *w, const uint64_t *ids, unsigned n,
                                struct sg_sess_ref *refs)
{
	const struct sg_sess_table *t = w->t;
	unsigned hits = 0;

	for (unsigned i = 0; i < n; i++) {
		uint32_t slot = (uint32_t)ids[i];

		if (slot < t->capacity)
			__builtin_prefetch(&t->hot[slot], 0);
	}
	for (unsigned i = 0; i < n; i++) {
		uint32_t slot = (uint32_t)ids[i];
		struct sg_sess_ref *r = &refs[i];
		const struct sg_sess *h;
		uint64_t pair;
		uint32_t prev;

		r->sa = NULL;
		r->prev = NULL;
		r->sess = NULL;
		r->slot = slot;
		r->miss = SG_SESS_MISS_CID_CHECK;
		if (slot >= t->capacity)
			continue;
		h = &t->hot[slot];
		/* check != 0 (acquire) makes the SA pair and the generation visible. */
		if (__atomic_load_n(&h->check, __ATOMIC_ACQUIRE) == 0 ||
		    __atomic_load_n(&h->gen, __ATOMIC_RELAXED) != (uint32_t)(ids[i] >> 32) ||
		    (__atomic_load_n(&h->flags, __ATOMIC_RELAXED) & SESS_ST_MASK) != SESS_ST_LIVE)
			continue;
		pair = __atomic_load_n(&h->sa_pair, __ATOMIC_ACQUIRE);
		prev = (uint32_t)(pair >> 32);
		r->sa = sess_sa(t, (uint32_t)pair);
		r->prev = prev == SESS_NONE ? NULL : sess_sa(t, prev);
		r->sess = (struct sg_sess *)h;
		r->miss = SG_SESS_HIT;
		hits++;
	}
	return hits;
}
