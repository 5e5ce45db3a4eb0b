/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The handshake plane as management shows it: struct sg_gw_hsplane (the
 * gateway's snapshot of every engine, filled by the hsplane) as the
 * `handshake_plane` member of `stats` (docs/control.md, "stats"), which
 * stormctl, /metrics (metrics.c) and DPDK telemetry (telemetry.c) read.
 * Pure: any thread; the caller owns the result.
 */
#ifndef STORMGATE_CONTROL_MGMT_HSPLANE_VIEW_H
#define STORMGATE_CONTROL_MGMT_HSPLANE_VIEW_H

#include <jansson.h>

#include "sg_gateway.h"

#ifdef __cplusplus
extern "C" {
#endif

/*
 * hp as JSON: engines, in_flight and limit (summed), the latency quantiles
 * in µs (p50_us/p99_us over the last 10 s, p50_us_all/p99_us_all since
 * start; 0: none), install_revoked, unknown_dropped, ecdhe_reuse_on, an
 * `engine` row per engine (engine, in_flight, limit, completed, queue_full,
 * fifo_full, p50_us, p99_us) and the histogram since start, `latency`:
 * {le_us: the SG_HS_LAT_BUCKETS - 1 finite upper edges
 * (sg_hs_latency_bucket_le()), count: the SG_HS_LAT_BUCKETS counts, the last
 * one above every edge}. NULL when out of memory.
 */
json_t *mgmt_hsplane_json(const struct sg_gw_hsplane *hp);

#ifdef __cplusplus
}
#endif

#endif /* STORMGATE_CONTROL_MGMT_HSPLANE_VIEW_H */
