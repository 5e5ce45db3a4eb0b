/* SPDX-License-Identifier: Apache-2.0 */
/* EAL argv from config + overrides; hugepage detection. Main lcore, before rte_eal_init(). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <stormgate/common.h>

#include "sg_eal.h"

/*
 * EAL options (DPDK 22.11 lib/eal/common/eal_common_options.c) that take a
 * value, and the group of each single-valued one: an override of any member
 * of a group replaces every config option of that group. Options missing
 * here (flags, repeatable options, unknown ones) are kept as they are.
 */
static const struct {
	const char *name;
	const char *group; /* NULL: repeatable, never replaced */
} eal_valued[] = {
	{ "-c", "cores" },
	{ "-l", "cores" },
	{ "--lcores", "cores" },
	{ "--main-lcore", "main-lcore" },
	{ "-s", "service" },
	{ "-S", "service" },
	{ "-m", "mem" },
	{ "--socket-mem", "mem" },
	{ "--socket-limit", "socket-limit" },
	{ "-n", "channels" },
	{ "-r", "ranks" },
	{ "--file-prefix", "file-prefix" },
	{ "--proc-type", "proc-type" },
	{ "--iova-mode", "iova-mode" },
	{ "--huge-dir", "huge-dir" },
	{ "--base-virtaddr", "base-virtaddr" },
	{ "--mbuf-pool-ops-name", "mbuf-pool-ops" },
	{ "--vfio-intr", "vfio-intr" },
	{ "--vfio-vf-token", "vfio-vf-token" },
	{ "--force-max-simd-bitwidth", "simd" },
	{ "-a", NULL },
	{ "--allow", NULL },
	{ "-b", NULL },
	{ "--block", NULL },
	{ "--vdev", NULL },
	{ "-d", NULL },
	{ "--log-level", NULL },
	{ "--trace", NULL },
	{ "--trace-dir", "trace-dir" },
	{ "--trace-bufsz", "trace-bufsz" },
	{ "--trace-mode", "trace-mode" },
};

/*
 * Look at the option starting at argv[i]: *n_tok tokens belong to it, *group
 * is its replace group (NULL: none). Handles "-l 0-1", "-l0-1",
 * "--lcores=0-1" and "--lcores 0-1".
 */
static void classify(char *const argv[], int argc, int i, int *n_tok, const char **group)
{
	const char *t = argv[i];
	size_t nlen = strlen(t);
	const char *eq = strchr(t, '=');
	int attached = 0;

	*n_tok = 1;
	*group = NULL;
	if (t[0] != '-' || t[1] == '\0')
		return;
	if (t[1] == '-' && eq != NULL) {
		nlen = (size_t)(eq - t);
		attached = 1;
	} else if (t[1] != '-' && nlen > 2) {
		nlen = 2; /* short option with its value attached */
		attached = 1;
	}
	for (size_t k = 0; k < SG_ARRAY_SIZE(eal_valued); k++) {
		if (strlen(eal_valued[k].name) == nlen &&
		    strncmp(eal_valued[k].name, t, nlen) == 0) {
			*group = eal_valued[k].group;
			if (!attached && i + 1 < argc)
				*n_tok = 2;
			return;
		}
	}
}

static int push(struct sg_eal_args *a, const char *s)
{
	if (a->argc >= SG_EAL_ARGS_MAX)
		return -E2BIG;
	a->argv[a->argc] = strdup(s);
	if (a->argv[a->argc] == NULL)
		return -ENOMEM;
	a->argc++;
	a->argv[a->argc] = NULL;
	return 0;
}

static int has_token(char *const argv[], int argc, const char *tok)
{
	for (int i = 0; i < argc; i++)
		if (strcmp(argv[i], tok) == 0)
			return 1;
	return 0;
}

/* Does any argument start with prefix ("--huge-unlink" also matches "--huge-unlink=never")? */
static int has_prefix(char *const argv[], int argc, const char *prefix)
{
	for (int i = 0; i < argc; i++)
		if (strncmp(argv[i], prefix, strlen(prefix)) == 0)
			return 1;
	return 0;
}

/*
 * Push one option as given, except --in-memory without hugepages: DPDK 22.11
 * refuses it with --no-huge, and --no-shconf is what it would add there.
 */
static int push_option(struct sg_eal_args *a, const char *opt)
{
	if (a->no_huge && strcmp(opt, "--in-memory") == 0) {
		a->in_memory_replaced = 1;
		return push(a, "--no-shconf");
	}
	return push(a, opt);
}

/* The config's options, less the groups an override replaces (counted in a->dropped). */
static int push_config(struct sg_eal_args *a, char *const cfg_argv[], int n_cfg,
                       const char *const over_groups[], int n_groups)
{
	int rc = 0;

	for (int i = 0; rc == 0 && i < n_cfg;) {
		int n, replaced = 0;
		const char *g;

		classify(cfg_argv, n_cfg, i, &n, &g);
		for (int k = 0; g != NULL && k < n_groups; k++)
			replaced |= strcmp(g, over_groups[k]) == 0;
		if (replaced)
			a->dropped++;
		for (int t = 0; rc == 0 && !replaced && t < n; t++)
			rc = push_option(a, cfg_argv[i + t]);
		i += n;
	}
	return rc;
}

/*
 * On hugepages, unlink the page files once mapped (unless the operator
 * chose): a daemon that crashes or is killed then leaves no files in
 * hugetlbfs holding its memory. Nothing attaches as a secondary process.
 */
static int push_huge_unlink(struct sg_eal_args *a, char *const cfg_argv[], int n_cfg, int n_over,
                            char *const over[])
{
	if (a->no_huge || has_prefix(cfg_argv, n_cfg, "--huge-unlink") ||
	    has_prefix(over, n_over, "--huge-unlink") ||
	    has_token(cfg_argv, n_cfg, "--in-memory") || has_token(over, n_over, "--in-memory"))
		return 0;
	a->huge_unlink_added = 1;
	return push(a, "--huge-unlink");
}

int sg_eal_args_build(struct sg_eal_args *a, const char *argv0, const struct sg_config *cfg,
                      int n_over, char *const over[], int hugepages_ok)
{
	const char *over_groups[SG_EAL_ARGS_MAX];
	char *cfg_argv[SG_CFG_EAL_MAX];
	int n_groups = 0, n_cfg = (int)cfg->n_eal, rc;

	memset(a, 0, sizeof(*a));
	if (n_over > SG_EAL_ARGS_MAX - SG_CFG_EAL_MAX - 2 * SG_CFG_PORTS_MAX - 4)
		return -E2BIG;
	for (int i = 0; i < n_cfg; i++)
		cfg_argv[i] = (char *)(uintptr_t)cfg->eal[i];

	for (int i = 0; i < n_over;) {
		int n;
		const char *g;

		classify(over, n_over, i, &n, &g);
		if (g != NULL)
			over_groups[n_groups++] = g;
		i += n;
	}

	int no_huge =
	        has_token(cfg_argv, n_cfg, "--no-huge") || has_token(over, n_over, "--no-huge");
	a->no_huge_added = !no_huge && !hugepages_ok;
	a->no_huge = no_huge || a->no_huge_added;

	rc = push(a, argv0);
	if (rc == 0)
		rc = push_config(a, cfg_argv, n_cfg, over_groups, n_groups);
	for (uint32_t p = 0; rc == 0 && p < cfg->n_ports; p++) {
		rc = push(a, sg_devargs_is_pci(cfg->ports[p].devargs) ? "-a" : "--vdev");
		if (rc == 0)
			rc = push(a, cfg->ports[p].devargs);
	}
	for (int i = 0; rc == 0 && i < n_over; i++)
		rc = push_option(a, over[i]);
	if (rc == 0 && a->no_huge_added)
		rc = push(a, "--no-huge");
	if (rc == 0)
		rc = push_huge_unlink(a, cfg_argv, n_cfg, n_over, over);
	if (rc != 0)
		sg_eal_args_free(a);
	return rc;
}

void sg_eal_args_free(struct sg_eal_args *a)
{
	for (int i = 0; i < a->argc; i++)
		free(a->argv[i]);
	a->argc = 0;
	a->argv[0] = NULL;
}

int sg_hugepages_available(const char *meminfo_path, const char *mounts_path)
{
	char line[512];
	long free_pages = 0;
	int mounted = 0;
	FILE *f;

	f = fopen(meminfo_path, "re");
	if (f == NULL)
		return 0;
	while (fgets(line, sizeof(line), f) != NULL)
		if (sscanf(line, "HugePages_Free: %ld", &free_pages) == 1)
			break;
	fclose(f);
	f = fopen(mounts_path, "re");
	if (f == NULL)
		return 0;
	while (!mounted && fgets(line, sizeof(line), f) != NULL) {
		char dev[128], dir[256], type[64];
		if (sscanf(line, "%127s %255s %63s", dev, dir, type) == 3 &&
		    strcmp(type, "hugetlbfs") == 0)
			mounted = 1;
	}
	fclose(f);
	return free_pages > 0 && mounted;
}
