/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The fleet's round-trip histogram (fl_hist.h). Bucket b covers, for
 * e = b / SUB and s = b % SUB: values below SUB one each (e = 0), else
 * [(SUB + s) << (e - 1), (SUB + s + 1) << (e - 1)). Any thread, own state.
 */
#include "fl_hist.h"

static unsigned bucket_of(uint64_t v)
{
	unsigned e;

	if (v < SG_FL_HIST_SUB)
		return (unsigned)v;
	e = 63u - (unsigned)__builtin_clzll(v) - 3u; /* v >> e is in [SUB, 2 SUB) */
	if (e + 1 >= SG_FL_HIST_BUCKETS / SG_FL_HIST_SUB)
		return SG_FL_HIST_BUCKETS - 1;
	return (e + 1) * SG_FL_HIST_SUB + (unsigned)(v >> e) - SG_FL_HIST_SUB;
}

static double bucket_mid(unsigned b)
{
	unsigned e = b / SG_FL_HIST_SUB, s = b % SG_FL_HIST_SUB;

	if (e == 0)
		return s;
	return ((double)(SG_FL_HIST_SUB + s) + 0.5) * (double)(UINT64_C(1) << (e - 1));
}

void sg_fl_hist_add(struct sg_fl_hist *h, uint64_t us)
{
	h->bucket[bucket_of(us)]++;
	h->n++;
}

void sg_fl_hist_merge(struct sg_fl_hist *dst, const struct sg_fl_hist *src)
{
	for (unsigned b = 0; b < SG_FL_HIST_BUCKETS; b++)
		dst->bucket[b] += src->bucket[b];
	dst->n += src->n;
}

double sg_fl_hist_pct(const struct sg_fl_hist *h, double pct)
{
	uint64_t want, seen = 0;

	if (h->n == 0)
		return 0;
	want = (uint64_t)((double)h->n * pct / 100.0 + 0.5);
	if (want == 0)
		want = 1;
	for (unsigned b = 0; b < SG_FL_HIST_BUCKETS; b++) {
		seen += h->bucket[b];
		if (seen >= want)
			return bucket_mid(b);
	}
	return bucket_mid(SG_FL_HIST_BUCKETS - 1);
}
