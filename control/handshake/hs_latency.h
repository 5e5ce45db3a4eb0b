/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The handshake latency histogram's buckets (struct sg_hs_stats.latency),
 * internal to sg_handshake: which bucket a latency falls in. A leaf
 * (hs_priv.h lists the stack). No state: any thread.
 *
 * SG_HS_LAT_BUCKETS log-scale buckets of µs, two per power of two: the
 * upper edges are 1, 2, 3, 4, 6, 8, 12, 16, 24, 32, ... i.e. 2^k and
 * 3·2^(k-1) (bucket i: 1 for i = 0, 2^(m+1) for i = 2m+1, 3·2^(m-1) for
 * i = 2m), each at most 1.5× the one before, up to 3·2^30 µs (54 min) for
 * bucket 62; bucket 63 is open-ended. Two per octave is what 64 buckets
 * allow from 1 µs (one handshake in process) past handshake_timeout_ms
 * (a device's retransmissions over a slow link); docs/handshake.md,
 * "Latency".
 */
#ifndef STORMGATE_CONTROL_HS_LATENCY_H
#define STORMGATE_CONTROL_HS_LATENCY_H

#include <stdint.h>

#include <stormgate/handshake.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The bucket of a latency of us µs: the first i with us <= sg_hs_latency_bucket_le(i). */
unsigned sg_hs_latency_bucket_of(uint64_t us);

#ifdef __cplusplus
}
#endif

#endif /* STORMGATE_CONTROL_HS_LATENCY_H */
