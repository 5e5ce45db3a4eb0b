/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>

#include "tsan_dpdk.h"

#if defined(__SANITIZE_THREAD__)
#define TSAN_DPDK 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define TSAN_DPDK 1
#endif
#endif

/* DPDK's default mempool driver (drivers/mempool/ring), loaded as an EAL plugin. */
#define TSAN_DPDK_BASE_OPS "ring_mp_mc"

#ifdef TSAN_DPDK
#include <sanitizer/tsan_interface.h>

#define TSAN_DPDK_OPS "sg_tsan_ring_mp_mc"

/* ring_mp_mc's own enqueue and dequeue, which ours call. */
static rte_mempool_enqueue_t base_enqueue;
static rte_mempool_dequeue_t base_dequeue;

/* Released before the object is back in the ring: the next taker acquires it. */
static int ops_enqueue(struct rte_mempool *mp, void *const *obj, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		__tsan_release(obj[i]);
	return base_enqueue(mp, obj, n);
}

static int ops_dequeue(struct rte_mempool *mp, void **obj, unsigned n)
{
	int rc = base_dequeue(mp, obj, n);

	if (rc == 0)
		for (unsigned i = 0; i < n; i++)
			__tsan_acquire(obj[i]);
	return rc;
}

/* Register the wrapped driver once (the main lcore, before any pool uses it). */
static int ops_register(void)
{
	static int done;
	struct rte_mempool_ops ops;
	int found = -1;

	if (done)
		return 0;
	for (unsigned i = 0; i < rte_mempool_ops_table.num_ops; i++)
		if (strcmp(rte_mempool_ops_table.ops[i].name, TSAN_DPDK_BASE_OPS) == 0)
			found = (int)i;
	if (found < 0)
		return -ENOENT;
	ops = rte_mempool_ops_table.ops[found];
	base_enqueue = ops.enqueue;
	base_dequeue = ops.dequeue;
	snprintf(ops.name, sizeof(ops.name), "%s", TSAN_DPDK_OPS);
	ops.enqueue = ops_enqueue;
	ops.dequeue = ops_dequeue;
	ops.dequeue_contig_blocks = NULL; /* ring_mp_mc has none; keep it so */
	if (rte_mempool_register_ops(&ops) < 0)
		return -ENOSPC;
	done = 1;
	return 0;
}

static uint16_t rx_taken(uint16_t port, uint16_t q, struct rte_mbuf *pkts[], uint16_t n,
                         uint16_t max, void *arg)
{
	(void)port, (void)q, (void)max, (void)arg;
	tsan_dpdk_taken(pkts, n);
	return n;
}

static uint16_t tx_handed(uint16_t port, uint16_t q, struct rte_mbuf *pkts[], uint16_t n, void *arg)
{
	(void)port, (void)q, (void)arg;
	tsan_dpdk_handed(pkts, n);
	return n;
}

struct rte_mempool *tsan_dpdk_pool(const char *name, unsigned n, uint16_t data_room)
{
	if (ops_register() != 0) {
		rte_errno = ENOENT;
		return NULL;
	}
	return rte_pktmbuf_pool_create_by_ops(name, n, 0, 0, data_room, 0, TSAN_DPDK_OPS);
}

int tsan_dpdk_watch_port(uint16_t port, uint16_t nq)
{
	for (uint16_t q = 0; q < nq; q++) {
		if (rte_eth_add_rx_callback(port, q, rx_taken, NULL) == NULL ||
		    rte_eth_add_tx_callback(port, q, tx_handed, NULL) == NULL)
			return -rte_errno;
	}
	return 0;
}

void tsan_dpdk_handed(struct rte_mbuf *const *m, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		__tsan_release(m[i]);
}

void tsan_dpdk_taken(struct rte_mbuf *const *m, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		__tsan_acquire(m[i]);
}

#else /* not a ThreadSanitizer build */

struct rte_mempool *tsan_dpdk_pool(const char *name, unsigned n, uint16_t data_room)
{
	return rte_pktmbuf_pool_create_by_ops(name, n, 0, 0, data_room, 0, TSAN_DPDK_BASE_OPS);
}

int tsan_dpdk_watch_port(uint16_t port, uint16_t nq)
{
	(void)port, (void)nq;
	return 0;
}

void tsan_dpdk_handed(struct rte_mbuf *const *m, unsigned n)
{
	(void)m, (void)n;
}

void tsan_dpdk_taken(struct rte_mbuf *const *m, unsigned n)
{
	(void)m, (void)n;
}

#endif
