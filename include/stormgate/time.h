/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Monotonic time (CLOCK_MONOTONIC: never steps with the wall clock, stops
 * with the machine in suspend), the one place Stormgate reads it for ages,
 * timeouts and rates. Inline: a vDSO clock_gettime() and no call of ours.
 * Any thread that may make a syscall (workers read the TSC instead).
 */
#ifndef STORMGATE_TIME_H
#define STORMGATE_TIME_H

#include <stdint.h>
#include <time.h>

#ifdef __cplusplus
extern "C" {
#endif

#define SG_NS_PER_MS  UINT64_C(1000000)
#define SG_NS_PER_SEC UINT64_C(1000000000)

/* Nanoseconds since an arbitrary start (boot). */
static inline uint64_t sg_mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * SG_NS_PER_SEC + (uint64_t)ts.tv_nsec;
}

/* Milliseconds on the same clock. */
static inline uint64_t sg_mono_ms(void)
{
	return sg_mono_ns() / SG_NS_PER_MS;
}

#ifdef __cplusplus
}
#endif

#endif /* STORMGATE_TIME_H */
