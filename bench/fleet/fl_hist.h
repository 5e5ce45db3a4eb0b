/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A log-linear histogram of round trips in microseconds, for p50 and p99
 * without per-sample memory: 8 buckets per power of two (each within 12.5 %
 * of its values) from 1 µs to 2^40 µs, as HdrHistogram does with 3 bits of
 * precision. Any thread, on its own histogram.
 */
#ifndef STORMGATE_FL_HIST_H
#define STORMGATE_FL_HIST_H

#include <stdint.h>

#define SG_FL_HIST_SUB     8 /* buckets per power of two */
#define SG_FL_HIST_BUCKETS (41 * SG_FL_HIST_SUB)

struct sg_fl_hist {
	uint64_t n;
	uint32_t bucket[SG_FL_HIST_BUCKETS];
};

/* Count one value (µs). */
void sg_fl_hist_add(struct sg_fl_hist *h, uint64_t us);

/* Add every count of src to dst. */
void sg_fl_hist_merge(struct sg_fl_hist *dst, const struct sg_fl_hist *src);

/* The value below which pct % of the values lie (the bucket's middle), in µs; 0 when empty. */
double sg_fl_hist_pct(const struct sg_fl_hist *h, double pct);

#endif /* STORMGATE_FL_HIST_H */
