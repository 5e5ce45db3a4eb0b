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

/* rte_eal_cleanup(), then remove the runtime directory EAL made for this process. */
void eal_test_fini(void);

#endif /* SG_TESTS_EAL_TEST_H */
