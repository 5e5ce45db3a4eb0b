/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Tag match in one 4-tuple index bucket, the workers' side (lookup.c), apart
 * so the session tests can drive its two steps one at a time (not installed).
 *
 * The control thread writes entries while workers read them: an entry is
 * read whole (one 8-byte load), tags are never 0, so an emptied entry (0)
 * never matches a tag. Thread: any reader; no state.
 */
#ifndef SG_SESSION_BUCKET_H
#define SG_SESSION_BUCKET_H

#include <stdint.h>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "session_priv.h"

/* The slot of the first entry of bk with tag word tw, or SESS_NONE; one entry at a time. */
static inline uint32_t sess_bucket_scan(const struct sess_bucket *bk, uint32_t tw)
{
	for (unsigned j = 0; j < SESS_BUCKET_WAYS; j++) {
		uint64_t e = __atomic_load_n(&bk->e[j], __ATOMIC_RELAXED);

		if ((uint32_t)(e >> 32) == tw)
			return (uint32_t)e;
	}
	return SESS_NONE;
}

/*
 * The first way of bk whose tag half equals tw, or SESS_BUCKET_WAYS for none:
 * four 16-byte compares (SSE2), else one entry at a time.
 */
static inline unsigned sess_bucket_first(const struct sess_bucket *bk, uint32_t tw)
{
#if defined(__SSE2__)
	/* lanes (little endian): slot0, tag0, slot1, tag1; match the odd ones */
	const __m128i want = _mm_set_epi32((int)tw, 0, (int)tw, 0);
	unsigned m = 0;

	for (unsigned j = 0; j < SESS_BUCKET_WAYS / 2; j++) {
		__m128i v = _mm_load_si128((const __m128i *)&bk->e[2 * j]);

		m |= (unsigned)_mm_movemask_ps(_mm_castsi128_ps(_mm_cmpeq_epi32(v, want)))
		     << (4 * j);
	}
	m &= 0xAAAAu;
	return m == 0 ? SESS_BUCKET_WAYS : (unsigned)__builtin_ctz(m) >> 1;
#else
	for (unsigned j = 0; j < SESS_BUCKET_WAYS; j++)
		if ((uint32_t)(__atomic_load_n(&bk->e[j], __ATOMIC_RELAXED) >> 32) == tw)
			return j;
	return SESS_BUCKET_WAYS;
#endif
}

/*
 * The slot of way j, whose tag matched tw a moment ago. The entry is read
 * again, whole: if the writer emptied it (or gave the way to another key)
 * since the compare, it no longer carries tw and its slot half (0 for an
 * empty entry) names no match; the bucket is then looked at once more, one
 * entry at a time, so a key still in another way is found.
 */
static inline uint32_t sess_bucket_take(const struct sess_bucket *bk, unsigned j, uint32_t tw)
{
	uint64_t e = __atomic_load_n(&bk->e[j], __ATOMIC_RELAXED);

	if ((uint32_t)(e >> 32) == tw)
		return (uint32_t)e;
	return sess_bucket_scan(bk, tw);
}

/*
 * The slot of the first entry of bk with tag word tw, or SESS_NONE. The
 * compare and the taking of the slot are two reads of the entry; the second
 * is checked (sess_bucket_take()).
 */
static inline uint32_t sess_bucket_match(const struct sess_bucket *bk, uint32_t tw)
{
	unsigned j = sess_bucket_first(bk, tw);

	if (j == SESS_BUCKET_WAYS)
		return SESS_NONE;
	return sess_bucket_take(bk, j, tw);
}

#endif /* SG_SESSION_BUCKET_H */
