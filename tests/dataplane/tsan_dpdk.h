/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What DPDK hands between threads out of ThreadSanitizer's sight, told to it.
 *
 * DPDK's shared libraries are not instrumented. Two of them move mbufs
 * between threads: the mempool driver (ring_mp_mc: one thread frees an mbuf,
 * another allocates it next) and the net_ring PMD (the test enqueues a frame
 * that a worker's rte_eth_rx_burst() dequeues, and back on TX). Their rings
 * order those hand-overs, but TSan never sees the atomics, so every later
 * access to a recycled or received mbuf would look like a race with the
 * thread that held it before. In a ThreadSanitizer build (and only there)
 * these helpers add the edges: the mempool ops below wrap DPDK's own
 * ring_mp_mc driver and release each object it takes, acquire each it gives;
 * RX and TX callbacks on the ports (rte_eth_add_rx/tx_callback, run by the
 * inline burst functions on the polling thread) acquire what a worker
 * receives and release what it sends; the test releases what it injects and
 * acquires what it drains. Nothing is suppressed: every access to the mbufs
 * stays checked, only the ordering DPDK really provides is made visible.
 * Elsewhere they cost nothing and change nothing.
 *
 * Thread: set-up functions on the main lcore before the workers start; the
 * per-mbuf helpers from the thread that hands over or takes the mbuf.
 */
#ifndef SG_TESTS_TSAN_DPDK_H
#define SG_TESTS_TSAN_DPDK_H

#include <stdint.h>

struct rte_mbuf;
struct rte_mempool;

/*
 * An mbuf pool of n mbufs of data_room bytes, no per-lcore cache (every get
 * and put goes through the driver, where the edges are added). Under TSan
 * its ops are DPDK's ring_mp_mc wrapped as above; elsewhere ring_mp_mc
 * itself. Returns NULL with rte_errno set.
 */
struct rte_mempool *tsan_dpdk_pool(const char *name, unsigned n, uint16_t data_room);

/*
 * Add the RX/TX callbacks to queues 0..nq-1 of a configured port (before
 * it starts). Returns 0 or -errno (nothing to do outside TSan: 0).
 */
int tsan_dpdk_watch_port(uint16_t port, uint16_t nq);

/* The test hands n mbufs to DPDK (before an enqueue) / took them (after a dequeue). */
void tsan_dpdk_handed(struct rte_mbuf *const *m, unsigned n);
void tsan_dpdk_taken(struct rte_mbuf *const *m, unsigned n);

#endif /* SG_TESTS_TSAN_DPDK_H */
