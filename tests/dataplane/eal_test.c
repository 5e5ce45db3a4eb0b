/* SPDX-License-Identifier: Apache-2.0 */
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <rte_eal.h>

#include "eal_test.h"

#define EXTRA_MAX 16

int eal_test_init(const char *name, unsigned memory_mb, int n_extra, const char *const *extra)
{
	char prefix[64], mem[16];
	char *argv[16 + EXTRA_MAX];
	int argc = 0;

	if (n_extra < 0 || n_extra > EXTRA_MAX)
		return -1;
	snprintf(prefix, sizeof(prefix), "--file-prefix=%s%d", name, (int)getpid());
	snprintf(mem, sizeof(mem), "%u", memory_mb);
	argv[argc++] = (char *)(uintptr_t)name;
	argv[argc++] = "-l";
	argv[argc++] = "0";
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
