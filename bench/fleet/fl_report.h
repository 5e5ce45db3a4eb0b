/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The fleet's output (docs/fleet.md, "Report"): one JSON object a second
 * (kept for the final report, and written as a line to --series), the live
 * line (--progress), and the final JSON (--report) with the keys of issue
 * 14's spec. Main lcore, between polls (the files are written once a
 * second, never per packet).
 */
#ifndef STORMGATE_FL_REPORT_H
#define STORMGATE_FL_REPORT_H

#include <stdio.h>

#include <jansson.h>

#include "fl_core.h"

struct sg_fl_report {
	json_t *series;           /* array of the per-second objects */
	FILE *series_f;           /* --series, or NULL */
	struct sg_fl_snap prev;   /* the last second's snapshot */
	uint64_t peak_hs;         /* most handshakes completed in one second */
	struct sg_fl_hist second; /* scratch: the last second's round trips */
};

/* Start: the series file (conf->series) opened. Returns 0 or -errno. */
int sg_fl_report_open(struct sg_fl_report *r, const struct sg_fl_conf *conf);

/* Second t (from the start) ended with snapshot s: one object, a line to the series file. */
void sg_fl_report_second(struct sg_fl_report *r, const struct sg_fl_snap *s, unsigned t);

/* The live line on out ('\r'-updated). */
void sg_fl_report_progress(FILE *out, const struct sg_fl_snap *s, unsigned t);

/*
 * The final object for snapshot s after duration_s seconds of devices (a new
 * reference; the caller decrefs), with the series. NULL on ENOMEM.
 */
json_t *sg_fl_report_final(struct sg_fl_report *r, const struct sg_fl_snap *s, double duration_s);

/* Close the series file, free the series. */
void sg_fl_report_close(struct sg_fl_report *r);

#endif /* STORMGATE_FL_REPORT_H */
