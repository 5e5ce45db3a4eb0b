/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ThreadSanitizer build only: meson.build forces this header into every file
 * that uses DPDK, with RTE_WAIT_UNTIL_EQUAL_ARCH_DEFINED set so that DPDK's
 * generic <rte_pause.h> only declares its wait-until-equal helpers. Defined
 * here, they load with acquire whatever order the caller asked for.
 *
 * Why: DPDK 22.11's multi-producer ring (rte_ring_c11_pvt.h,
 * __rte_ring_update_tail()) lets a producer publish the tail after waiting,
 * with a relaxed load, until the producers before it have published theirs.
 * In the C11 model that TSan checks, a consumer that reads the later tail is
 * then ordered after the later producer only, not after the earlier one's
 * writes of its ring slots (a release sequence does not continue through a
 * plain store), so TSan reports the slot, and what the mbuf in it holds, as
 * a race whenever two workers punt or hand off at once. The x86 machines the
 * data plane runs on order every load as an acquire (TSO), so the ring is
 * correct there; with these helpers TSan's model of DPDK's code says the
 * same. Only DPDK's inline code calls them (Stormgate's own code does not),
 * so no ordering of Stormgate's is taken to be stronger than it is written.
 */
#ifndef SG_TSAN_DPDK_WAIT_H
#define SG_TSAN_DPDK_WAIT_H

#include <stdint.h>

#include <rte_pause.h>

static __rte_always_inline void rte_wait_until_equal_16(volatile uint16_t *addr, uint16_t expected,
                                                        int memorder)
{
	(void)memorder;
	while (__atomic_load_n(addr, __ATOMIC_ACQUIRE) != expected)
		rte_pause();
}

static __rte_always_inline void rte_wait_until_equal_32(volatile uint32_t *addr, uint32_t expected,
                                                        int memorder)
{
	(void)memorder;
	while (__atomic_load_n(addr, __ATOMIC_ACQUIRE) != expected)
		rte_pause();
}

static __rte_always_inline void rte_wait_until_equal_64(volatile uint64_t *addr, uint64_t expected,
                                                        int memorder)
{
	(void)memorder;
	while (__atomic_load_n(addr, __ATOMIC_ACQUIRE) != expected)
		rte_pause();
}

/* DPDK's generic form of this macro, with the load made an acquire as above. */
#define RTE_WAIT_UNTIL_MASKED(addr, mask, cond, expected, memorder)                                \
	do {                                                                                       \
		__typeof__(*(addr)) sg_expected_ = (expected);                                     \
		(void)(memorder);                                                                  \
		while (!((__atomic_load_n((addr), __ATOMIC_ACQUIRE) & (mask)) cond sg_expected_))  \
			rte_pause();                                                               \
	} while (0)

#endif /* SG_TSAN_DPDK_WAIT_H */
