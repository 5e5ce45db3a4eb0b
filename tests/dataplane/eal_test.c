/* SPDX-License-Identifier: Apache-2.0 */
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <rte_eal.h>

#include "eal_test.h"

#define EXTRA_MAX 16

/* rte_eal_init() with lcore_opt ("-l" or "--lcores=...") and lcores (NULL: none). */
static int eal_init(const char *name, const char *lcore_opt, const char *lcores, unsigned memory_mb,
                    int n_extra, const char *const *extra)
{
	char prefix[64], mem[16];
	char *argv[16 + EXTRA_MAX];
	int argc = 0;

	if (n_extra < 0 || n_extra > EXTRA_MAX)
		return -1;
	snprintf(prefix, sizeof(prefix), "--file-prefix=%s%d", name, (int)getpid());
	snprintf(mem, sizeof(mem), "%u", memory_mb);
	argv[argc++] = (char *)(uintptr_t)name;
	argv[argc++] = (char *)(uintptr_t)lcore_opt;
	if (lcores != NULL)
		argv[argc++] = (char *)(uintptr_t)lcores;
	argv[argc++] = "--no-huge";
	argv[argc++] = "-m";
	argv[argc++] = mem;
	argv[argc++] = "--no-pci";
	argv[argc++] = "--no-shconf";
	argv[argc++] = "--no-telemetry";
	argv[argc++] = "--log-level=error";
	argv[argc++] = prefix;
	for (int i = 0; i < n_extra; i++)
		argv[argc++] = (char *)(uintptr_t)extra[i];
	return rte_eal_init(argc, argv);
}

int eal_test_init(const char *name, unsigned memory_mb, int n_extra, const char *const *extra)
{
	return eal_init(name, "-l", "0", memory_mb, n_extra, extra);
}

int eal_test_init_lcores(const char *name, unsigned n_lcores, unsigned memory_mb, int n_extra,
                         const char *const *extra)
{
	char opt[128];
	cpu_set_t cpus;
	size_t len;
	unsigned listed = 0;

	if (n_lcores < 1 || n_lcores > 8 || sched_getaffinity(0, sizeof(cpus), &cpus) != 0)
		return -1;
	len = (size_t)snprintf(opt, sizeof(opt), "--lcores=(0-%u)@(", n_lcores - 1);
	/* At most 8 CPUs listed: enough to spread a few lcores, bounded in length. */
	for (unsigned c = 0; c < CPU_SETSIZE && listed < 8; c++) {
		if (!CPU_ISSET(c, &cpus))
			continue;
		len += (size_t)snprintf(opt + len, sizeof(opt) - len, "%s%u", listed ? "," : "", c);
		listed++;
	}
	if (listed == 0 || len + 2 > sizeof(opt))
		return -1;
	opt[len++] = ')';
	opt[len] = 0;
	return eal_init(name, opt, NULL, memory_mb, n_extra, extra);
}

static void remove_dir(const char *path)
{
	DIR *d = opendir(path);
	struct dirent *e;

	if (d == NULL)
		return;
	while ((e = readdir(d)) != NULL) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		unlinkat(dirfd(d), e->d_name, 0);
	}
	closedir(d);
	rmdir(path);
}

void eal_test_fini(void)
{
	char dir[PATH_MAX];

	/* EAL leaves its runtime directory behind: remove what this process made. */
	snprintf(dir, sizeof(dir), "%s", rte_eal_get_runtime_dir());
	rte_eal_cleanup();
	remove_dir(dir);
}
