/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What stormgate-hsload counts and reports: completions, failures and
 * timeouts per interval, latency percentiles, the gaps between completions
 * (stalls), and the JSON summary. Main thread of the tool. See hsload.h.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "hsload.h"

int sg_hsl_stats_init(struct sg_hsl_stats *s, uint64_t t0_ns, uint64_t interval_ns,
                      uint64_t duration_ns, uint64_t max_ok, uint64_t gap_min_ns)
{
	memset(s, 0, sizeof(*s));
	s->t0_ns = t0_ns;
	s->interval_ns = interval_ns;
	/* One more for the interval a run ends in, one for a late last poll. */
	s->n_intervals = (size_t)(duration_ns / interval_ns) + 2;
	s->ok = calloc(s->n_intervals, sizeof(*s->ok));
	s->fail = calloc(s->n_intervals, sizeof(*s->fail));
	s->timeout = calloc(s->n_intervals, sizeof(*s->timeout));
	s->lat_cap = (size_t)max_ok;
	s->lat_us = malloc(s->lat_cap * sizeof(*s->lat_us));
	s->gap_min_ns = gap_min_ns;
	s->gaps = malloc(SG_HSL_GAPS_MAX * sizeof(*s->gaps));
	if (s->ok == NULL || s->fail == NULL || s->timeout == NULL || s->lat_us == NULL ||
	    s->gaps == NULL) {
		sg_hsl_stats_free(s);
		return -ENOMEM;
	}
	return 0;
}

void sg_hsl_stats_free(struct sg_hsl_stats *s)
{
	free(s->ok);
	free(s->fail);
	free(s->timeout);
	free(s->lat_us);
	free(s->gaps);
	s->ok = s->fail = s->timeout = s->lat_us = NULL;
	s->gaps = NULL;
}

static size_t slot(const struct sg_hsl_stats *s, uint64_t now_ns)
{
	size_t i = (size_t)((now_ns - s->t0_ns) / s->interval_ns);

	return i < s->n_intervals ? i : s->n_intervals - 1;
}

/* Notes a gap between completions: the longest, and listed when long enough. */
static void keep_gap(struct sg_hsl_stats *s, uint64_t start_ns, uint64_t len_ns)
{
	if (len_ns > s->longest_gap_ns)
		s->longest_gap_ns = len_ns;
	if (len_ns < s->gap_min_ns)
		return;
	if (s->n_gaps == SG_HSL_GAPS_MAX) {
		s->gaps_unlisted++;
		return;
	}
	s->gaps[s->n_gaps].start_ns = start_ns;
	s->gaps[s->n_gaps++].len_ns = len_ns;
}

void sg_hsl_stats_ok(struct sg_hsl_stats *s, uint64_t now_ns, uint64_t latency_ns)
{
	uint64_t at = now_ns - s->t0_ns;

	s->ok[slot(s, now_ns)]++;
	s->completed++;
	if (s->lat_n < s->lat_cap) {
		uint64_t us = latency_ns / 1000;

		s->lat_us[s->lat_n++] = us > UINT32_MAX ? UINT32_MAX : (uint32_t)us;
	}
	if (s->completed == 1)
		s->first_ok_ns = at;
	else
		keep_gap(s, s->last_ok_ns, at - s->last_ok_ns);
	s->last_ok_ns = at;
}

void sg_hsl_stats_fail(struct sg_hsl_stats *s, uint64_t now_ns, bool timed_out)
{
	if (timed_out) {
		s->timeout[slot(s, now_ns)]++;
		s->timeouts++;
	} else {
		s->fail[slot(s, now_ns)]++;
		s->failed++;
	}
}

void sg_hsl_stats_print(struct sg_hsl_stats *s, uint64_t now_ns, bool final, FILE *out)
{
	size_t done = slot(s, now_ns) + (final ? 1 : 0);
	uint64_t end_ms;

	for (; s->printed < done; s->printed++) {
		end_ms = (uint64_t)(s->printed + 1) * s->interval_ns / SG_HSL_NS_PER_MS;
		if (final && s->printed + 1 == done) /* the run ended inside it */
			end_ms = (now_ns - s->t0_ns) / SG_HSL_NS_PER_MS;
		fprintf(out, "%" PRIu64 "\t%" PRIu32 "\t%" PRIu32 "\t%" PRIu32 "\n", end_ms,
		        s->ok[s->printed], s->fail[s->printed], s->timeout[s->printed]);
	}
	fflush(out);
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

/* Nearest-rank percentile p (1..100) of the sorted latencies; 0 without any. */
static uint32_t percentile(const struct sg_hsl_stats *s, unsigned p)
{
	size_t rank;

	if (s->lat_n == 0)
		return 0;
	rank = (s->lat_n * p + 99) / 100; /* ceil(n * p / 100), 1-based */
	return s->lat_us[rank ? rank - 1 : 0];
}

/*
 * The longest run of whole intervals without a completion, from the interval
 * of the first completion to the last whole interval before end_ns, in ms.
 */
static uint64_t longest_zero_ms(const struct sg_hsl_stats *s, uint64_t end_ns)
{
	size_t whole = (size_t)((end_ns - s->t0_ns) / s->interval_ns), i, run = 0, best = 0;

	if (s->completed == 0)
		return (end_ns - s->t0_ns) / SG_HSL_NS_PER_MS;
	if (whole > s->n_intervals)
		whole = s->n_intervals;
	for (i = (size_t)(s->first_ok_ns / s->interval_ns); i < whole; i++) {
		run = s->ok[i] ? 0 : run + 1;
		if (run > best)
			best = run;
	}
	return (uint64_t)best * s->interval_ns / SG_HSL_NS_PER_MS;
}

static json_t *series_json(const uint32_t *v, size_t n)
{
	json_t *a = json_array();
	size_t i;

	for (i = 0; a != NULL && i < n; i++)
		json_array_append_new(a, json_integer(v[i]));
	return a;
}

static json_t *gaps_json(const struct sg_hsl_stats *s)
{
	json_t *a = json_array();
	size_t i;

	for (i = 0; a != NULL && i < s->n_gaps; i++)
		json_array_append_new(a, json_pack("{s:f, s:f}", "start_ms",
		                                   (double)s->gaps[i].start_ns / SG_HSL_NS_PER_MS,
		                                   "ms",
		                                   (double)s->gaps[i].len_ns / SG_HSL_NS_PER_MS));
	return a;
}

json_t *sg_hsl_stats_summary(struct sg_hsl_stats *s, uint64_t end_ns, bool with_series)
{
	uint64_t run_ns = end_ns - s->t0_ns;
	size_t n = slot(s, end_ns) + 1;
	json_t *j;

	/* The time from the last completion to the end is a gap too (a stall at the end). */
	if (s->completed)
		keep_gap(s, s->last_ok_ns, run_ns - s->last_ok_ns);
	qsort(s->lat_us, s->lat_n, sizeof(*s->lat_us), cmp_u32);
	j = json_pack("{s:s, s:I, s:f, s:I, s:I, s:I, s:I, s:f, s:f, s:I, s:o,"
	              " s:f, s:{s:I, s:I, s:I, s:I}}",
	              "tool", "stormgate-hsload", "t0_ns", (json_int_t)s->t0_ns, "seconds",
	              (double)run_ns / 1e9, "interval_ms",
	              (json_int_t)(s->interval_ns / SG_HSL_NS_PER_MS), "completed",
	              (json_int_t)s->completed, "failed", (json_int_t)s->failed, "timeouts",
	              (json_int_t)s->timeouts, "rate_per_s",
	              run_ns ? (double)s->completed * 1e9 / (double)run_ns : 0.0,
	              "first_completion_ms", (double)s->first_ok_ns / SG_HSL_NS_PER_MS,
	              "longest_zero_ms", (json_int_t)longest_zero_ms(s, end_ns), "gaps",
	              gaps_json(s), "longest_gap_ms", (double)s->longest_gap_ns / SG_HSL_NS_PER_MS,
	              "latency_us", "p50", (json_int_t)percentile(s, 50), "p99",
	              (json_int_t)percentile(s, 99), "max", (json_int_t)percentile(s, 100),
	              "samples", (json_int_t)s->lat_n);
	if (j != NULL) {
		json_object_set_new(j, "gap_min_ms",
		                    json_integer((json_int_t)(s->gap_min_ns / SG_HSL_NS_PER_MS)));
		json_object_set_new(j, "gaps_unlisted", json_integer((json_int_t)s->gaps_unlisted));
	}
	if (j != NULL && with_series)
		json_object_set_new(j, "series",
		                    json_pack("{s:o, s:o, s:o}", "ok", series_json(s->ok, n),
		                              "fail", series_json(s->fail, n), "timeout",
		                              series_json(s->timeout, n)));
	return j;
}
