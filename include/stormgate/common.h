/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Definitions shared by both planes, the benchmarks and outside users.
 *
 * Error contract (all of Stormgate):
 *   - int functions return 0 on success or a negative errno value;
 *   - constructors return a pointer, or NULL with errno set;
 *   - burst functions return how many items succeeded and leave a named
 *     reason for each one that failed.
 */
#ifndef STORMGATE_COMMON_H
#define STORMGATE_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Largest burst any data-plane function accepts; arrays are sized by it. */
#define SG_BURST_MAX 128

#define SG_CACHE_LINE 64

#ifndef likely
#define likely(x)   __builtin_expect(!!(x), 1)
#define unlikely(x) __builtin_expect(!!(x), 0)
#endif

#define SG_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/*
 * Wipe secret material so the compiler cannot elide the store
 * (explicit_bzero, glibc >= 2.25).
 */
static inline void sg_wipe(void *p, size_t n)
{
	explicit_bzero(p, n);
}

/*
 * Constant-time comparison of two byte strings of equal length: returns 0
 * when equal, non-zero otherwise, in time that depends only on n.
 */
static inline int sg_ct_memcmp(const void *a, const void *b, size_t n)
{
	const volatile uint8_t *x = (const volatile uint8_t *)a;
	const volatile uint8_t *y = (const volatile uint8_t *)b;
	uint8_t d = 0;

	for (size_t i = 0; i < n; i++)
		d |= (uint8_t)(x[i] ^ y[i]);
	return d;
}

#ifdef __cplusplus
}
#endif

#endif /* STORMGATE_COMMON_H */
