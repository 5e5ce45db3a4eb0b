/* SPDX-License-Identifier: Apache-2.0 */
/*
 * EAL command line: the config's `eal:` list, one device argument per port,
 * the operator's overrides (stormgate ... -- EAL-ARGS), and --no-huge when
 * the machine has no hugepages. Pure functions of their arguments (and the
 * two files sg_hugepages_available() reads): any thread, no EAL needed.
 */
#ifndef STORMGATE_CONTROL_SG_EAL_H
#define STORMGATE_CONTROL_SG_EAL_H

#include "sg_config.h"

#ifdef __cplusplus
extern "C" {
#endif

#define SG_EAL_ARGS_MAX 256 /* config (64) + ports (16) + overrides + ours */

struct sg_eal_args {
	int argc;
	char *argv[SG_EAL_ARGS_MAX + 1]; /* NULL-terminated, each malloc'd */
	int no_huge;                     /* EAL will run on ordinary memory */
	int no_huge_added;               /* ... because no hugepages were available */
	int in_memory_replaced; /* --in-memory became --no-shconf (see sg_eal_args_build) */
	int huge_unlink_added;  /* on hugepages: --huge-unlink, so no page files outlive us */
	int dropped;            /* config options replaced by an override */
};

/*
 * Build the EAL argv: argv0, the config's eal list minus options the
 * overrides replace (-l/-c/--lcores are one option, -m/--socket-mem another,
 * and so on; repeatable ones such as --vdev, -a, --log-level add up), a
 * --vdev (or -a for a PCI address) per port, the overrides, then --no-huge
 * when hugepages_ok is 0 and nobody asked for it. DPDK 22.11 rejects
 * --in-memory with --no-huge, so with --no-huge an --in-memory becomes
 * --no-shconf (no shared files either way). Returns 0, -E2BIG, -ENOMEM;
 * the caller owns a and frees it with sg_eal_args_free().
 */
int sg_eal_args_build(struct sg_eal_args *a, const char *argv0, const struct sg_config *cfg,
                      int n_over, char *const over[], int hugepages_ok);

void sg_eal_args_free(struct sg_eal_args *a);

/*
 * 1 when hugepages can back DPDK memory: some are free in meminfo_path
 * (/proc/meminfo) and hugetlbfs is mounted per mounts_path (/proc/mounts).
 */
int sg_hugepages_available(const char *meminfo_path, const char *mounts_path);

#ifdef __cplusplus
}
#endif

#endif /* STORMGATE_CONTROL_SG_EAL_H */
