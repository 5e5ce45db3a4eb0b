/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The handshake section's rules and its one derived value: handshake.cpus
 * (one per thread at most, listed once, online, not the CPU of a worker
 * lcore when the config's EAL list says which that is), handshake.in_flight
 * (at least one slot per engine; a warning above the auto cap, with the
 * memory it takes), the ECDHE windows (a storm only lengthens the window),
 * and sg_cfg_handshake_in_flight(), the in-flight total the handshake plane
 * (control/hsplane/) splits among its engines. Any thread; reads the
 * config, the tree and /sys/devices/system/cpu/online.
 */
#include <errno.h>
#include <sched.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config_priv.h"

#define CPU_ONLINE_PATH "/sys/devices/system/cpu/online"

/* A set of CPU (or lcore) ids below CPU_SETSIZE. */
struct idset {
	uint64_t bits[CPU_SETSIZE / 64];
};

static void idset_add(struct idset *s, unsigned long id)
{
	if (id < CPU_SETSIZE)
		s->bits[id / 64] |= UINT64_C(1) << (id % 64);
}

static bool idset_has(const struct idset *s, unsigned long id)
{
	return id < CPU_SETSIZE && (s->bits[id / 64] >> (id % 64) & 1);
}

/*
 * A CPU list as the kernel and EAL's -l write it ("0-3,8,10-11") into s.
 * Returns 0, or -EINVAL for anything else (an EAL --lcores group "(0-1)@2").
 */
static int idset_parse_list(struct idset *s, const char *text)
{
	const char *p = text;

	memset(s, 0, sizeof(*s));
	while (*p != '\0' && *p != '\n') {
		char *end;
		unsigned long lo = strtoul(p, &end, 10), hi = lo;

		if (end == p || lo >= CPU_SETSIZE)
			return -EINVAL;
		p = end;
		if (*p == '-') {
			hi = strtoul(p + 1, &end, 10);
			if (end == p + 1 || hi < lo || hi >= CPU_SETSIZE)
				return -EINVAL;
			p = end;
		}
		for (unsigned long i = lo; i <= hi; i++)
			idset_add(s, i);
		if (*p == ',')
			p++;
		else if (*p != '\0' && *p != '\n')
			return -EINVAL;
	}
	return 0;
}

/* EAL's -c: a hexadecimal mask of lcores ("0xf", "f"). */
static int idset_parse_mask(struct idset *s, const char *text)
{
	size_t n;

	memset(s, 0, sizeof(*s));
	if (text[0] == '0' && (text[1] == 'x' || text[1] == 'X'))
		text += 2;
	n = strlen(text);
	if (n == 0 || n > CPU_SETSIZE / 4)
		return -EINVAL;
	for (size_t i = 0; i < n; i++) {
		char c = text[n - 1 - i];
		unsigned v = (c >= '0' && c <= '9')   ? (unsigned)(c - '0')
		             : (c >= 'a' && c <= 'f') ? (unsigned)(c - 'a' + 10)
		             : (c >= 'A' && c <= 'F') ? (unsigned)(c - 'A' + 10)
		                                      : 16;
		if (v == 16)
			return -EINVAL;
		for (unsigned b = 0; b < 4; b++)
			if (v >> b & 1)
				idset_add(s, i * 4 + b);
	}
	return 0;
}

/* The CPUs online now; false when the kernel does not say. */
static bool cpus_online(struct idset *s)
{
	char buf[4096];
	FILE *f = fopen(CPU_ONLINE_PATH, "re");
	bool ok;

	if (f == NULL)
		return false;
	ok = fgets(buf, sizeof(buf), f) != NULL && idset_parse_list(s, buf) == 0;
	fclose(f);
	return ok;
}

/*
 * The value of EAL option `opt` ("-l", "--lcores") in the config's eal list:
 * "-l 0-3", "-l0-3" or "--lcores=0-3"; the last one wins, as in EAL. NULL
 * when absent.
 */
static const char *eal_value(const struct sg_config *cfg, const char *opt)
{
	const char *v = NULL;
	size_t n = strlen(opt);

	for (uint32_t i = 0; i < cfg->n_eal; i++) {
		const char *a = cfg->eal[i];

		if (strcmp(a, opt) == 0 && i + 1 < cfg->n_eal)
			v = cfg->eal[++i];
		else if (strncmp(a, opt, n) == 0 && a[n] != '\0' && (opt[1] != '-' || a[n] == '='))
			v = a + n + (opt[1] == '-');
	}
	return v;
}

/*
 * The CPUs the worker lcores run on, when the config's eal list tells them:
 * -l or -c (lcore i is CPU i), or --lcores without groups or '@'. Workers
 * are workers.lcores, else EAL's lcores but the main one (--main-lcore,
 * else the lowest), the first workers.count of them. Writes *how (the
 * option, for messages) and returns true; false when the CPUs are not known
 * (no such option: the command line may give it).
 */
static bool worker_cpus(const struct sg_config *cfg, struct idset *w, const char **how)
{
	struct idset lc;
	const char *l = eal_value(cfg, "-l"), *c = eal_value(cfg, "-c");
	const char *lcores = eal_value(cfg, "--lcores"), *mainl = eal_value(cfg, "--main-lcore");
	unsigned long main_lcore = CPU_SETSIZE;
	uint32_t taken = 0;

	memset(w, 0, sizeof(*w));
	if (lcores != NULL && strpbrk(lcores, "@()") == NULL && idset_parse_list(&lc, lcores) == 0)
		*how = "--lcores";
	else if (lcores == NULL && l != NULL && idset_parse_list(&lc, l) == 0)
		*how = "-l";
	else if (lcores == NULL && l == NULL && c != NULL && idset_parse_mask(&lc, c) == 0)
		*how = "-c";
	else
		return false;
	if (cfg->workers.n_lcores > 0) {
		for (uint32_t i = 0; i < cfg->workers.n_lcores; i++)
			idset_add(w, cfg->workers.lcores[i]);
		return true;
	}
	if (mainl != NULL)
		main_lcore = strtoul(mainl, NULL, 10);
	for (unsigned long i = 0; main_lcore == CPU_SETSIZE && i < CPU_SETSIZE; i++)
		if (idset_has(&lc, i))
			main_lcore = i;
	for (unsigned long i = 0; i < CPU_SETSIZE; i++) {
		if (!idset_has(&lc, i) || i == main_lcore)
			continue;
		if (cfg->workers.count != 0 && taken == cfg->workers.count)
			break;
		idset_add(w, i);
		taken++;
	}
	return true;
}

/* handshake.cpus: one per thread at most, each once, online, not a worker's CPU. */
static void check_cpus(struct cfg_ctx *px, const struct sg_config *cfg,
                       const struct sg_cfg_node *hs)
{
	const struct sg_cfg_handshake *h = &cfg->handshake;
	const struct sg_cfg_node *list = cfg_node_get(hs, "cpus");
	struct idset online, workers;
	const char *how = NULL;
	bool have_online = cpus_online(&online), have_workers = worker_cpus(cfg, &workers, &how);

	if (h->n_cpus > h->threads) {
		const struct sg_cfg_node *n = cfg_node_item(list, h->threads);

		cfg_err_at(px, n ? n->line : 0, n ? n->col : 0,
		           "'handshake.cpus' lists %u CPUs for %u thread(s) ('handshake.threads'): "
		           "at most one per thread",
		           h->n_cpus, h->threads);
	}
	for (uint32_t i = 0; i < h->n_cpus; i++) {
		const struct sg_cfg_node *n = cfg_node_item(list, i);
		const int line = n ? n->line : 0, col = n ? n->col : 0;
		const uint32_t cpu = h->cpus[i];
		bool twice = false;

		for (uint32_t j = 0; j < i; j++)
			twice |= h->cpus[j] == cpu;
		if (twice)
			cfg_err_at(px, line, col, "'handshake.cpus[%u]': CPU %u listed twice", i,
			           cpu);
		else if (have_online && !idset_has(&online, cpu))
			cfg_err_at(px, line, col, "'handshake.cpus[%u]': CPU %u is not online (%s)",
			           i, cpu, CPU_ONLINE_PATH);
		else if (have_workers && idset_has(&workers, cpu))
			cfg_err_at(px, line, col,
			           "'handshake.cpus[%u]': CPU %u runs a worker lcore (eal %s): a "
			           "handshake thread there would take the worker's polling time",
			           i, cpu, how);
	}
}

/* in_flight: a slot per engine at least; above the auto cap, what it costs. */
static void check_in_flight(struct cfg_ctx *px, const struct sg_config *cfg,
                            const struct sg_cfg_node *hs)
{
	const struct sg_cfg_handshake *h = &cfg->handshake;
	const struct sg_cfg_node *n = cfg_node_get(hs, "in_flight");
	const int line = n ? n->line : 0, col = n ? n->col : 0;

	if (h->in_flight != 0 && h->in_flight < h->threads)
		cfg_err_at(px, line, col,
		           "'handshake.in_flight' is %u, less than one handshake per engine "
		           "('handshake.threads': %u)",
		           h->in_flight, h->threads);
	else if (h->in_flight > SG_CFG_HS_IN_FLIGHT_AUTO)
		cfg_warn_at(px, line, col,
		            "'handshake.in_flight' is %u: about %u MB of handshake slots (%u bytes "
		            "each), reserved at start-up",
		            h->in_flight,
		            (unsigned)((uint64_t)h->in_flight * SG_CFG_HS_SLOT_BYTES >> 20),
		            SG_CFG_HS_SLOT_BYTES);
}

/* A storm may only lengthen the ECDHE key's window. */
static void check_ecdhe(struct cfg_ctx *px, const struct sg_config *cfg,
                        const struct sg_cfg_node *hs)
{
	const struct sg_cfg_handshake *h = &cfg->handshake;
	const struct sg_cfg_node *n = cfg_node_get(hs, "ecdhe_reuse_storm");

	if (h->ecdhe_reuse_storm_ms != 0 && h->ecdhe_reuse_storm_ms < h->ecdhe_reuse_ms)
		cfg_err_at(px, n ? n->line : 0, n ? n->col : 0,
		           "'handshake.ecdhe_reuse_storm' (%u ms) is shorter than "
		           "'handshake.ecdhe_reuse' (%u ms): a storm only lengthens the window "
		           "(0: no change under a storm)",
		           h->ecdhe_reuse_storm_ms, h->ecdhe_reuse_ms);
}

void cfg_check_handshake(struct cfg_ctx *px, const struct sg_config *cfg,
                         const struct sg_cfg_node *root)
{
	const struct sg_cfg_node *hs = cfg_node_get(root, "handshake");

	check_cpus(px, cfg, hs);
	check_in_flight(px, cfg, hs);
	check_ecdhe(px, cfg, hs);
}

uint32_t sg_cfg_handshake_in_flight(const struct sg_config *cfg)
{
	uint64_t v = 16384u * (uint64_t)(cfg->handshake.threads ? cfg->handshake.threads : 1);

	if (cfg->handshake.in_flight != 0)
		return cfg->handshake.in_flight;
	if (4 * (uint64_t)cfg->policy.cookie_threshold > v)
		v = 4 * (uint64_t)cfg->policy.cookie_threshold;
	if (2 * (uint64_t)cfg->policy.handshake_rate > v)
		v = 2 * (uint64_t)cfg->policy.handshake_rate;
	return v > SG_CFG_HS_IN_FLIGHT_AUTO ? SG_CFG_HS_IN_FLIGHT_AUTO : (uint32_t)v;
}
