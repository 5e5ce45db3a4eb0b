/* SPDX-License-Identifier: Apache-2.0 */
/*
 * EAL of the benchmark processes (stormgate-bench, stormgate-memory): no
 * hugepages, no devices, no shared config, no telemetry, quiet logs, lcore 0,
 * memory_mb of plain anonymous memory and a file prefix of this process; at
 * the end, the runtime directory EAL leaves behind even with --no-shconf
 * removed. Main thread, once per process.
 */
#ifndef STORMGATE_BENCH_EAL_H
#define STORMGATE_BENCH_EAL_H

#ifdef __cplusplus
extern "C" {
#endif

/*
 * rte_eal_init() as above, argv[0] prog, file prefix prefix and the process
 * id. Returns rte_eal_init()'s result (rte_errno says why when negative).
 */
int sg_bench_eal_init(const char *prog, const char *prefix, unsigned memory_mb);

/* rte_eal_cleanup(), then remove the runtime directory sg_bench_eal_init() made. */
void sg_bench_eal_fini(void);

#ifdef __cplusplus
}
#endif

#endif /* STORMGATE_BENCH_EAL_H */
