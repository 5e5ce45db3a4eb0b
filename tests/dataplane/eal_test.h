/* SPDX-License-Identifier: Apache-2.0 */
/*
 * EAL for the in-process data-plane tests: no hugepages, no PCI, no shared
 * runtime files, no telemetry, a file prefix of this process, quiet logs;
 * and, at the end, no runtime directory left behind.
 */
#ifndef SG_TESTS_EAL_TEST_H
#define SG_TESTS_EAL_TEST_H

/*
 * rte_eal_init() with those options, memory_mb of ordinary memory and the
 * extra arguments given (e.g. "--vdev=net_pcap0,rx_pcap=FILE"; at most 16).
 * name prefixes the file prefix. Returns rte_eal_init()'s result.
 */
int eal_test_init(const char *name, unsigned memory_mb, int n_extra, const char *const *extra);

/*
 * The same with lcores 0..n_lcores-1 (1..8): the main lcore and n_lcores - 1
 * for rte_eal_remote_launch(). Each may run on any CPU this process is allowed
 * (--lcores=(0-N)@(cpus)), so there may be more lcores than CPUs: the kernel
 * shares them out, as it does on a machine running other work.
 */
int eal_test_init_lcores(const char *name, unsigned n_lcores, unsigned memory_mb, int n_extra,
                         const char *const *extra);

#include <stdint.h>

struct rte_mempool;
struct rte_ring;

/*
 * A net_ring port named name with n RX and n TX queues (each an rte_ring of
 * ring_size, single producer and consumer, stored in rx[] and tx[]; the test
 * feeds rx and drains tx), configured with RX buffers from pool but not
 * started (a caller may watch it first). Returns the port id, or -1.
 */
int eal_test_ring_port(const char *name, unsigned n, unsigned ring_size, struct rte_ring **rx,
                       struct rte_ring **tx, struct rte_mempool *pool);

/* Free every mbuf left in the n rings of tx (what the port sent and the test did not take). */
void eal_test_ring_port_drain(struct rte_ring **tx, unsigned n);

/*
 * Stop and close a port eal_test_ring_port() made, then free its rings (drain
 * them first: their mbufs' pool must be whole before it is freed).
 */
void eal_test_ring_port_close(uint16_t port, unsigned n, struct rte_ring **rx,
                              struct rte_ring **tx);

/* rte_eal_cleanup(), then remove the runtime directory EAL made for this process. */
void eal_test_fini(void);

#endif /* SG_TESTS_EAL_TEST_H */
