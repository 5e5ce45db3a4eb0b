/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Slots and timers of the handshake engine: the slot pool and its keyed
 * peer index, and the timer heap (a min-heap on each slot's deadline). See
 * hs_slots.h. Calls the codec and crypto leaves only, and on free the
 * certificate leaf (the set a handshake holds) and the large reassembly
 * buffers (the one it was lent) (hs_priv.h lists the stack). The engine's
 * thread only.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "hs_bigmsg.h"
#include "hs_latency.h"
#include "hs_priv.h"
#include "hs_slots.h"

uint32_t sg_hs_peer_hash(uint64_t seed, const struct sg_hs_peer *p)
{
	const uint8_t *b = (const uint8_t *)p;
	uint64_t h = seed;

	/* A keyed mix (seed from the DRBG) so chains cannot be aimed at. */
	for (size_t i = 0; i < sizeof(*p); i += 4) {
		uint32_t w;

		memcpy(&w, b + i, 4);
		h = (h ^ w) * 0x9e3779b97f4a7c15ull;
		h ^= h >> 29;
	}
	return (uint32_t)(h ^ (h >> 32));
}

_Static_assert(sizeof(struct sg_hs_peer) == 36, "sg_hs_peer has no padding");

/* ---- timer heap (min-heap on slot deadline) ---------------------------------------------- */

static bool heap_less(const struct sg_hs_engine *e, uint32_t a, uint32_t b)
{
	return e->slots[e->heap[a]].deadline < e->slots[e->heap[b]].deadline;
}

static void heap_swap(struct sg_hs_engine *e, uint32_t a, uint32_t b)
{
	uint32_t t = e->heap[a];

	e->heap[a] = e->heap[b];
	e->heap[b] = t;
	e->slots[e->heap[a]].heap_pos = a;
	e->slots[e->heap[b]].heap_pos = b;
}

static void heap_up(struct sg_hs_engine *e, uint32_t i)
{
	while (i > 0 && heap_less(e, i, (i - 1) / 2)) {
		heap_swap(e, i, (i - 1) / 2);
		i = (i - 1) / 2;
	}
}

static void heap_down(struct sg_hs_engine *e, uint32_t i)
{
	for (;;) {
		uint32_t l = 2 * i + 1, r = l + 1, m = i;

		if (l < e->heap_len && heap_less(e, l, m))
			m = l;
		if (r < e->heap_len && heap_less(e, r, m))
			m = r;
		if (m == i)
			return;
		heap_swap(e, i, m);
		i = m;
	}
}

static void heap_push(struct sg_hs_engine *e, uint32_t idx)
{
	e->heap[e->heap_len] = idx;
	e->slots[idx].heap_pos = e->heap_len;
	heap_up(e, e->heap_len++);
}

static void heap_remove(struct sg_hs_engine *e, uint32_t idx)
{
	uint32_t i = e->slots[idx].heap_pos;

	if (i == HS_NONE)
		return;
	e->heap_len--;
	if (i != e->heap_len) {
		heap_swap(e, i, e->heap_len);
		heap_down(e, i);
		heap_up(e, i);
	}
	e->slots[idx].heap_pos = HS_NONE;
}

void sg_hs_timer_set(struct sg_hs_engine *e, uint32_t idx, uint64_t when)
{
	struct hs_slot *s = &e->slots[idx];

	if (when > s->expires)
		when = s->expires;
	s->deadline = when;
	if (s->heap_pos == HS_NONE) {
		heap_push(e, idx);
	} else {
		heap_down(e, s->heap_pos);
		heap_up(e, s->heap_pos);
	}
}

struct hs_slot *sg_hs_timer_first(const struct sg_hs_engine *e)
{
	return e->heap_len > 0 ? &e->slots[e->heap[0]] : NULL;
}

/* ---- slot pool and peer index ------------------------------------------------------------ */

struct hs_slot *sg_hs_slot_find(struct sg_hs_engine *e, const struct sg_hs_peer *peer,
                                uint32_t hash)
{
	uint32_t i = e->buckets[hash & e->bucket_mask];

	for (; i != HS_NONE; i = e->slots[i].hnext)
		if (hs_peer_eq(&e->slots[i].peer, peer))
			return &e->slots[i];
	return NULL;
}

/* Monotonic µs of now: mono_us, or mono_ms × 1000 from a caller that gives none. */
static uint64_t now_us(struct sg_hs_time now)
{
	return now.mono_us ? now.mono_us : now.mono_ms * 1000;
}

struct hs_slot *sg_hs_slot_alloc(struct sg_hs_engine *e, const struct sg_hs_peer *peer,
                                 uint32_t hash, struct sg_hs_time now)
{
	uint32_t idx = e->free_head;
	struct hs_slot *s;

	if (idx == HS_NONE)
		return NULL;
	s = &e->slots[idx];
	e->free_head = s->hnext;
	s->peer = *peer;
	s->bucket = hash & e->bucket_mask;
	s->hnext = e->buckets[s->bucket];
	e->buckets[s->bucket] = idx;
	s->heap_pos = HS_NONE;
	s->expires = now.mono_ms + e->conf.handshake_timeout_ms;
	s->start_us = (uint32_t)now_us(now);
	s->rto = e->conf.rto_initial_ms;
	e->in_flight++;
	hs_count(e, SG_HS_C_STARTED);
	return s;
}

void sg_hs_slot_done(struct sg_hs_engine *e, const struct hs_slot *s, struct sg_hs_time now)
{
	/* Modulo 2^32: exact while the handshake is younger than 2^32 µs (hs_slots.h). */
	uint32_t us = (uint32_t)now_us(now) - s->start_us;

	e->latency[sg_hs_latency_bucket_of(us)]++;
}

/* Wipe the secrets of a slot and return it to the pool. */
void sg_hs_slot_free(struct sg_hs_engine *e, struct hs_slot *s)
{
	uint32_t idx = hs_slot_idx(e, s), *pp = &e->buckets[s->bucket];

	while (*pp != idx)
		pp = &e->slots[*pp].hnext;
	*pp = s->hnext;
	heap_remove(e, idx);
	if ((s->flags & SF_CID_HELD) && e->conf.ops.cid_release)
		e->conf.ops.cid_release(e->conf.ops.ctx, s->cid);
	sg_hs_ecdh_clear(&s->eph);
	if (s->cset != NULL)
		sg_hs_certs_release(s->cset);
	sg_hs_bigmsg_release(e->bigmsg, idx);
	if (e->mkey_slot == idx) {
		sg_wipe(&e->mkey, sizeof(e->mkey));
		e->mkey_slot = HS_NONE;
	}
	if (e->cur == s)
		e->cur = NULL;
	sg_wipe(s, sizeof(*s));
	sg_hs_reasm_init(&s->reasm, s->u.reasm_buf, REASM_CAP);
	s->heap_pos = HS_NONE;
	s->hnext = e->free_head;
	e->free_head = idx;
	e->in_flight--;
}

int sg_hs_slots_alloc(struct sg_hs_engine *e)
{
	e->n_slots = e->conf.max_handshakes;
	e->slots = aligned_alloc(SG_CACHE_LINE, sizeof(*e->slots) * e->n_slots);
	e->bucket_mask = hs_pow2_at_least(2 * e->n_slots) - 1;
	e->buckets = malloc(sizeof(uint32_t) * (e->bucket_mask + 1));
	e->heap = malloc(sizeof(uint32_t) * e->n_slots);
	if (e->slots == NULL || e->buckets == NULL || e->heap == NULL) {
		free(e->slots);
		free(e->buckets);
		free(e->heap);
		e->slots = NULL;
		e->buckets = e->heap = NULL;
		return -ENOMEM;
	}
	memset(e->slots, 0, sizeof(*e->slots) * e->n_slots);
	memset(e->buckets, 0xff, sizeof(uint32_t) * (e->bucket_mask + 1));
	e->free_head = HS_NONE;
	for (uint32_t i = e->n_slots; i-- > 0;) {
		struct hs_slot *s = &e->slots[i];

		sg_hs_reasm_init(&s->reasm, s->u.reasm_buf, REASM_CAP);
		s->heap_pos = HS_NONE;
		s->hnext = e->free_head;
		e->free_head = i;
	}
	return 0;
}

void sg_hs_slots_free(struct sg_hs_engine *e)
{
	for (uint32_t i = 0; e->slots && i < e->n_slots; i++) {
		struct hs_slot *s = &e->slots[i];

		if (s->state != HS_FREE)
			sg_hs_slot_free(e, s);
		sg_wipe(s, sizeof(*s));
	}
	free(e->slots);
	free(e->buckets);
	free(e->heap);
	e->slots = NULL;
	e->buckets = e->heap = NULL;
}
