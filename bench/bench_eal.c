/* SPDX-License-Identifier: Apache-2.0 */
/* EAL of the benchmark processes (bench_eal.h). */
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <unistd.h>

#include <rte_eal.h>

#include "bench_eal.h"

static char runtime_dir[PATH_MAX];

int sg_bench_eal_init(const char *prog, const char *prefix, unsigned memory_mb)
{
	char file_prefix[64], mem[16];
	char *argv[] = { (char *)(uintptr_t)prog,
		         "--no-huge",
		         "--no-pci",
		         "--no-shconf",
		         "--no-telemetry",
		         file_prefix,
		         "-l",
		         "0",
		         "-m",
		         mem,
		         "--log-level=error" };
	int rc;

	snprintf(file_prefix, sizeof(file_prefix), "--file-prefix=%s%d", prefix, (int)getpid());
	snprintf(mem, sizeof(mem), "%u", memory_mb);
	rc = rte_eal_init((int)(sizeof(argv) / sizeof(argv[0])), argv);
	if (rc >= 0)
		snprintf(runtime_dir, sizeof(runtime_dir), "%s", rte_eal_get_runtime_dir());
	return rc;
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	remove(path);
	return 0;
}

void sg_bench_eal_fini(void)
{
	rte_eal_cleanup();
	if (runtime_dir[0] != '\0')
		nftw(runtime_dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
}
