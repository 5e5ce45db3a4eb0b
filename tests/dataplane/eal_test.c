/* SPDX-License-Identifier: Apache-2.0 */
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <rte_eal.h>
#include <rte_eth_ring.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>
#include <rte_ring.h>

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

int eal_test_ring_port(const char *name, unsigned n, unsigned ring_size, struct rte_ring **rx,
                       struct rte_ring **tx, struct rte_mempool *pool)
{
	struct rte_eth_conf conf;
	char rn[32];
	int port;

	memset(&conf, 0, sizeof(conf));
	for (unsigned q = 0; q < n; q++) {
		snprintf(rn, sizeof(rn), "%s_rx%u", name, q);
		rx[q] = rte_ring_create(rn, ring_size, 0, RING_F_SP_ENQ | RING_F_SC_DEQ);
		snprintf(rn, sizeof(rn), "%s_tx%u", name, q);
		tx[q] = rte_ring_create(rn, ring_size, 0, RING_F_SP_ENQ | RING_F_SC_DEQ);
		if (rx[q] == NULL || tx[q] == NULL)
			return -1;
	}
	port = rte_eth_from_rings(name, rx, n, tx, n, 0);
	if (port < 0 || rte_eth_dev_configure((uint16_t)port, (uint16_t)n, (uint16_t)n, &conf) != 0)
		return -1;
	for (uint16_t q = 0; q < n; q++)
		if (rte_eth_rx_queue_setup((uint16_t)port, q, 128, 0, NULL, pool) != 0 ||
		    rte_eth_tx_queue_setup((uint16_t)port, q, 128, 0, NULL) != 0)
			return -1;
	return port;
}

void eal_test_ring_port_drain(struct rte_ring **tx, unsigned n)
{
	struct rte_mbuf *m;

	for (unsigned q = 0; q < n; q++)
		while (rte_ring_dequeue(tx[q], (void **)&m) == 0)
			rte_pktmbuf_free(m);
}

void eal_test_ring_port_close(uint16_t port, unsigned n, struct rte_ring **rx, struct rte_ring **tx)
{
	rte_eth_dev_stop(port);
	rte_eth_dev_close(port);
	for (unsigned q = 0; q < n; q++) {
		rte_ring_free(rx[q]);
		rte_ring_free(tx[q]);
	}
}
