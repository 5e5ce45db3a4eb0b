/* SPDX-License-Identifier: Apache-2.0 */
/*
 * struct sg_gw_hsplane -> the `handshake_plane` member of `stats`
 * (hsplane_view.h). Every member is always there, zeros too, so scrapers
 * see the same series whatever the engines did. Any thread; no state.
 */
#include "hsplane_view.h"

#include <stormgate/handshake.h>

/* One engine's row. */
static json_t *engine_json(unsigned i, const struct sg_gw_engine *e)
{
	return json_pack("{s:i, s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "engine", (int)i, "in_flight",
	                 (json_int_t)e->in_flight, "limit", (json_int_t)e->limit, "completed",
	                 (json_int_t)e->completed, "queue_full", (json_int_t)e->queue_full,
	                 "fifo_full", (json_int_t)e->fifo_full, "p50_us", (json_int_t)e->p50_us,
	                 "p99_us", (json_int_t)e->p99_us);
}

/* The histogram since start: finite upper edges (µs) and every bucket's count. */
static json_t *latency_json(const uint64_t hist[SG_HS_LAT_BUCKETS])
{
	json_t *le = json_array(), *count = json_array();

	for (unsigned i = 0; le != NULL && count != NULL && i < SG_HS_LAT_BUCKETS; i++) {
		if (i + 1 < SG_HS_LAT_BUCKETS &&
		    json_array_append_new(
		            le, json_integer((json_int_t)sg_hs_latency_bucket_le(i))) != 0)
			break;
		if (json_array_append_new(count, json_integer((json_int_t)hist[i])) != 0)
			break;
	}
	if (json_array_size(count) != SG_HS_LAT_BUCKETS) {
		json_decref(le);
		json_decref(count);
		return NULL;
	}
	return json_pack("{s:o, s:o}", "le_us", le, "count", count);
}

json_t *mgmt_hsplane_json(const struct sg_gw_hsplane *hp)
{
	unsigned n = hp->engines < SG_GW_ENGINES_MAX ? hp->engines : SG_GW_ENGINES_MAX;
	json_t *engines = json_array(), *lat = latency_json(hp->latency);

	for (unsigned i = 0; engines != NULL && i < n; i++)
		if (json_array_append_new(engines, engine_json(i, &hp->engine[i])) != 0) {
			json_decref(engines);
			engines = NULL;
		}
	if (engines == NULL || lat == NULL) {
		json_decref(engines);
		json_decref(lat);
		return NULL;
	}
	return json_pack("{s:i, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:o, s:o}", "engines",
	                 (int)n, "in_flight", (json_int_t)hp->in_flight, "limit",
	                 (json_int_t)hp->limit, "p50_us", (json_int_t)hp->p50_us, "p99_us",
	                 (json_int_t)hp->p99_us, "p50_us_all", (json_int_t)hp->p50_us_all,
	                 "p99_us_all", (json_int_t)hp->p99_us_all, "install_revoked",
	                 (json_int_t)hp->install_revoked, "unknown_dropped",
	                 (json_int_t)hp->unknown_dropped, "ecdhe_reuse_on",
	                 (json_int_t)hp->ecdhe_reuse_on, "engine", engines, "latency", lat);
}
