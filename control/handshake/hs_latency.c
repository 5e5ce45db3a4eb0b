/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Handshake latency buckets and quantiles (handshake.h, hs_latency.h): two
 * log-scale buckets per power of two of µs. Pure functions of their
 * arguments; any thread. The engine counts into its histogram on its own
 * thread (sg_hs_slot_done, hs_slots.c); readers get a copy through
 * sg_hs_stats_get().
 */
#include <stdint.h>

#include <stormgate/handshake.h>

#include "hs_latency.h"

_Static_assert(SG_HS_LAT_BUCKETS == 64, "bucket 62's edge is 3 << 30, bucket 63 open");

uint64_t sg_hs_latency_bucket_le(unsigned i)
{
	unsigned m = i / 2;

	if (i >= SG_HS_LAT_BUCKETS - 1)
		return UINT64_MAX;
	if (i == 0)
		return 1;
	return i % 2 ? UINT64_C(1) << (m + 1) : UINT64_C(3) << (m - 1);
}

unsigned sg_hs_latency_bucket_of(uint64_t us)
{
	unsigned p, i;

	if (us <= 1)
		return 0;
	/* 2^p < us <= 2^(p+1): the edges in that range are 3·2^(p-1) (i = 2p) and 2^(p+1). */
	p = 63u - (unsigned)__builtin_clzll(us - 1);
	i = p >= 1 && us <= UINT64_C(3) << (p - 1) ? 2 * p : 2 * p + 1;
	return i < SG_HS_LAT_BUCKETS - 1 ? i : SG_HS_LAT_BUCKETS - 1;
}

uint64_t sg_hs_latency_quantile(const uint64_t hist[SG_HS_LAT_BUCKETS], double q)
{
	uint64_t total = 0, rank, seen = 0;

	if (hist == NULL || !(q > 0.0 && q <= 1.0))
		return 0;
	for (unsigned i = 0; i < SG_HS_LAT_BUCKETS; i++)
		total += hist[i];
	if (total == 0)
		return 0;
	/* The smallest value with at least q of the handshakes at or under it. */
	rank = (uint64_t)(q * (double)total);
	if ((double)rank < q * (double)total)
		rank++; /* the ceiling */
	if (rank == 0)
		rank = 1;
	if (rank > total)
		rank = total;
	for (unsigned i = 0; i < SG_HS_LAT_BUCKETS; i++) {
		seen += hist[i];
		if (seen >= rank)
			return sg_hs_latency_bucket_le(i);
	}
	return UINT64_MAX; /* not reached: seen ends at total */
}
