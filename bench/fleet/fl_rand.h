/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The fleet's random numbers for link emulation and timer jitter (never for
 * keys: the handshake draws those from OpenSSL's RAND): xorshift64*, one
 * state per lcore, seeded once. Any thread, on its own state.
 */
#ifndef STORMGATE_FL_RAND_H
#define STORMGATE_FL_RAND_H

#include <stdint.h>

/* The next 32 random bits of *s (s must not be 0). */
static inline uint32_t sg_fl_rand32(uint64_t *s)
{
	uint64_t x = *s;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*s = x;
	return (uint32_t)((x * UINT64_C(0x2545F4914F6CDD1D)) >> 32);
}

/* Uniform in [lo, hi] (hi >= lo), by a 32x32 multiply (bias below 2^-32 x range). */
static inline uint32_t sg_fl_rand_range(uint64_t *s, uint32_t lo, uint32_t hi)
{
	uint64_t span = (uint64_t)hi - lo + 1;

	return lo + (uint32_t)(((uint64_t)sg_fl_rand32(s) * span) >> 32);
}

/* value drawn uniformly in value ± pct % (RFC 6347 §4.2.4.1 timers, RFC 7252 §4.8). */
static inline uint32_t sg_fl_jitter(uint64_t *s, uint32_t value, uint32_t pct)
{
	uint32_t d = (uint32_t)((uint64_t)value * pct / 100);

	return sg_fl_rand_range(s, value - d, value + d);
}

#endif /* STORMGATE_FL_RAND_H */
