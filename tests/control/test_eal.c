/* SPDX-License-Identifier: Apache-2.0 */
/*
 * EAL command line: config list + one device argument per port + overrides
 * + --no-huge when there are no hugepages; hugepage detection from
 * /proc-style files; devargs helpers.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "sg_eal.h"

static const struct {
	const char *name;
	const char *eal[8]; /* config eal: list */
	const char *ports[3];
	const char *over[8]; /* after -- */
	int huge;
	const char *want; /* argv[1..] joined by spaces */
	int no_huge, added, replaced, dropped;
} cases[] = {
	{ "hugepages available",
	  { "-l", "0-1" },
	  { "net_null0" },
	  { NULL },
	  1,
	  "-l 0-1 --vdev net_null0 --huge-unlink",
	  0,
	  0,
	  0,
	  0 },
	{ "no hugepages: --no-huge added",
	  { "-l", "0-1" },
	  { "net_null0" },
	  { NULL },
	  0,
	  "-l 0-1 --vdev net_null0 --no-huge",
	  1,
	  1,
	  0,
	  0 },
	{ "--no-huge asked in config",
	  { "--no-huge" },
	  { "net_null0" },
	  { NULL },
	  0,
	  "--no-huge --vdev net_null0",
	  1,
	  0,
	  0,
	  0 },
	{ "--no-huge asked as override",
	  { NULL },
	  { "net_null0" },
	  { "--no-huge" },
	  1,
	  "--vdev net_null0 --no-huge",
	  1,
	  0,
	  0,
	  0 },
	{ "--in-memory with --no-huge",
	  { "--in-memory", "-l", "0-1" },
	  { "net_null0" },
	  { NULL },
	  0,
	  "--no-shconf -l 0-1 --vdev net_null0 --no-huge",
	  1,
	  1,
	  1,
	  0 },
	{ "--in-memory with hugepages",
	  { "--in-memory" },
	  { "net_null0" },
	  { NULL },
	  1,
	  "--in-memory --vdev net_null0",
	  0,
	  0,
	  0,
	  0 },
	{ "override replaces the core list (-l by --lcores)",
	  { "-l", "0-3", "-n", "4" },
	  { "net_null0" },
	  { "--lcores=0,1" },
	  1,
	  "-n 4 --vdev net_null0 --lcores=0,1 --huge-unlink",
	  0,
	  0,
	  0,
	  1 },
	{ "override replaces attached form",
	  { "-l0-3", "--file-prefix=a" },
	  { "net_null0" },
	  { "-l", "0-1", "--file-prefix", "b" },
	  1,
	  "--vdev net_null0 -l 0-1 --file-prefix b --huge-unlink",
	  0,
	  0,
	  0,
	  2 },
	{ "-m replaced by --socket-mem",
	  { "-m", "512", "--no-pci" },
	  { "net_null0" },
	  { "--socket-mem=256" },
	  1,
	  "--no-pci --vdev net_null0 --socket-mem=256 --huge-unlink",
	  0,
	  0,
	  0,
	  1 },
	{ "repeatable options add up",
	  { "--vdev", "net_ring0", "--log-level", "lib.eal:debug" },
	  { "net_null0" },
	  { "--vdev", "net_null1", "--log-level=pmd.*:info" },
	  1,
	  "--vdev net_ring0 --log-level lib.eal:debug --vdev net_null0 --vdev net_null1 "
	  "--log-level=pmd.*:info --huge-unlink",
	  0,
	  0,
	  0,
	  0 },
	{ "the operator's --huge-unlink choice is kept",
	  { "--huge-unlink=never" },
	  { "net_null0" },
	  { NULL },
	  1,
	  "--huge-unlink=never --vdev net_null0",
	  0,
	  0,
	  0,
	  0 },
	{ "PCI port uses -a",
	  { NULL },
	  { "0000:01:00.0,rxq_pkt_fill=1", "net_tap0,iface=sg0" },
	  { NULL },
	  1,
	  "-a 0000:01:00.0,rxq_pkt_fill=1 --vdev net_tap0,iface=sg0 --huge-unlink",
	  0,
	  0,
	  0,
	  0 },
};

static void test_args_table(void **state)
{
	(void)state;
	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		struct sg_config *cfg = calloc(1, sizeof(*cfg));
		struct sg_eal_args a;
		char *over[8];
		int n_over = 0;
		char got[1024] = "";
		size_t off = 0;

		assert_non_null(cfg);
		sg_config_defaults(cfg);
		for (int i = 0; cases[c].eal[i] != NULL; i++)
			snprintf(cfg->eal[cfg->n_eal++], SG_CFG_STR_MAX, "%s", cases[c].eal[i]);
		for (int i = 0; i < 3 && cases[c].ports[i] != NULL; i++)
			snprintf(cfg->ports[cfg->n_ports++].devargs, SG_CFG_STR_MAX, "%s",
			         cases[c].ports[i]);
		while (n_over < 8 && cases[c].over[n_over] != NULL) {
			over[n_over] = (char *)(uintptr_t)cases[c].over[n_over];
			n_over++;
		}
		assert_int_equal(
		        sg_eal_args_build(&a, "stormgate", cfg, n_over, over, cases[c].huge), 0);
		assert_string_equal(a.argv[0], "stormgate");
		assert_null(a.argv[a.argc]);
		for (int i = 1; i < a.argc; i++)
			off += (size_t)snprintf(got + off, sizeof(got) - off, "%s%s",
			                        i > 1 ? " " : "", a.argv[i]);
		if (strcmp(got, cases[c].want) != 0 || a.no_huge != cases[c].no_huge ||
		    a.no_huge_added != cases[c].added ||
		    a.in_memory_replaced != cases[c].replaced || a.dropped != cases[c].dropped) {
			print_message(
			        "case '%s'\n  got:  %s (no_huge %d added %d replaced %d dropped "
			        "%d)\n  want: %s\n",
			        cases[c].name, got, a.no_huge, a.no_huge_added,
			        a.in_memory_replaced, a.dropped, cases[c].want);
			fail();
		}
		sg_eal_args_free(&a);
		free(cfg);
	}
}

static void test_too_many_overrides(void **state)
{
	struct sg_config *cfg = calloc(1, sizeof(*cfg));
	char *over[SG_EAL_ARGS_MAX];
	struct sg_eal_args a;

	(void)state;
	assert_non_null(cfg);
	for (int i = 0; i < SG_EAL_ARGS_MAX; i++)
		over[i] = (char *)"--no-pci";
	assert_int_equal(sg_eal_args_build(&a, "x", cfg, SG_EAL_ARGS_MAX, over, 1), -E2BIG);
	free(cfg);
}

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static void test_hugepage_detection(void **state)
{
	static const struct {
		const char *meminfo, *mounts;
		int want;
	} rows[] = {
		{ "MemTotal: 1 kB\nHugePages_Total:     256\nHugePages_Free:      200\n",
		  "proc /proc proc rw 0 0\nnodev /dev/hugepages hugetlbfs rw,relatime 0 0\n", 1 },
		{ "HugePages_Total:       0\nHugePages_Free:        0\n",
		  "nodev /dev/hugepages hugetlbfs rw 0 0\n", 0 },
		{ "HugePages_Total:     256\nHugePages_Free:      256\n",
		  "proc /proc proc rw 0 0\ntmpfs /dev/shm tmpfs rw 0 0\n", 0 },
		{ "MemTotal: 1 kB\n", "nodev /mnt/huge hugetlbfs rw 0 0\n", 0 },
	};
	char dir[] = "/tmp/sg-eal-XXXXXX", mi[64], mo[64];

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(mi, sizeof(mi), "%s/meminfo", dir);
	snprintf(mo, sizeof(mo), "%s/mounts", dir);
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		write_file(mi, rows[i].meminfo);
		write_file(mo, rows[i].mounts);
		assert_int_equal(sg_hugepages_available(mi, mo), rows[i].want);
	}
	assert_int_equal(sg_hugepages_available("/nonexistent", mo), 0);
	unlink(mi);
	unlink(mo);
	rmdir(dir);
}

static void test_devargs(void **state)
{
	static const struct {
		const char *devargs;
		int pci;
		const char *name;
	} rows[] = {
		{ "net_af_packet0,iface=veth0", 0, "net_af_packet0" },
		{ "net_null0", 0, "net_null0" },
		{ "net_tap0,iface=sg-dev0,mac=fixed", 0, "net_tap0" },
		{ "0000:01:00.0", 1, "0000:01:00.0" },
		{ "01:00.1,rxq_cqe_comp_en=1", 1, "0000:01:00.1" },
		{ "net_ring0", 0, "net_ring0" },
		{ "cafe", 0, "cafe" },
	};
	char name[64];

	(void)state;
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		assert_int_equal(sg_devargs_is_pci(rows[i].devargs), rows[i].pci);
		assert_int_equal(sg_devargs_name(rows[i].devargs, name, sizeof(name)), 0);
		assert_string_equal(name, rows[i].name);
	}
	assert_int_equal(sg_devargs_name("net_null0", name, 5), -ENAMETOOLONG);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_args_table),
		cmocka_unit_test(test_too_many_overrides),
		cmocka_unit_test(test_hugepage_detection),
		cmocka_unit_test(test_devargs),
	};

	return cmocka_run_group_tests_name("eal", tests, NULL, NULL);
}
