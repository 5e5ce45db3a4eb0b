/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Rules about addresses between keys: a port's gateways (one per family, on
 * one of the port's subnets, not its own address) and the udp-mode source
 * pool (one prefix per family, a network address, none of the servers',
 * gateways' or ports' addresses inside), and the backend capacity they give.
 * Errors point at the item that breaks the rule. Any thread; reads the
 * config and the tree.
 */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>

#include <stormgate/net.h>

#include "config_priv.h"

/* Prefix lengths a source pool may have: at most 2^24 IPv4 or 2^32 IPv6 addresses. */
#define POOL4_LEN_MIN 8
#define POOL6_LEN_MIN 96

static unsigned family_bits(uint8_t family)
{
	return family == AF_INET ? 32 : 128;
}

static unsigned family_v(uint8_t family)
{
	return family == AF_INET ? 4 : 6;
}

/* Is address a (of p's family) inside prefix p? */
static bool in_pfx(const struct sg_cfg_prefix *p, uint8_t family, const uint8_t *a)
{
	return family == p->family && sg_net_in_prefix(a, p->addr, p->len);
}

static const char *addr_str(uint8_t family, const uint8_t *a, char *buf, size_t len)
{
	struct sg_cfg_prefix x = { .family = family };

	memcpy(x.addr, a, family == AF_INET ? 4 : 16);
	x.len = (uint8_t)family_bits(family);
	sg_cfg_prefix_str(&x, buf, len);
	buf[strcspn(buf, "/")] = '\0';
	return buf;
}

/* Gateway j of port i: on one of its subnets, not its own address, one per family. */
static void check_gateway(struct cfg_ctx *px, const struct sg_cfg_port *p, uint32_t i, uint32_t j,
                          const struct sg_cfg_node *item)
{
	const struct sg_cfg_prefix *g = &p->gateway[j];
	char gs[64], as[64];
	bool on_link = false;

	if (g->family != AF_INET && g->family != AF_INET6)
		return; /* not an address: reported by the walk */
	for (uint32_t k = 0; k < j; k++)
		if (p->gateway[k].family == g->family) {
			cfg_err_at(
			        px, item->line, item->col,
			        "'ports[%u].gateway[%u]': a second IPv%u gateway (one per family)",
			        i, j, family_v(g->family));
			return;
		}
	addr_str(g->family, g->addr, gs, sizeof(gs));
	for (uint32_t a = 0; a < p->n_addresses; a++) {
		const struct sg_cfg_prefix *x = &p->addresses[a];

		if (x->family == g->family &&
		    memcmp(x->addr, g->addr, g->family == AF_INET ? 4 : 16) == 0) {
			cfg_err_at(px, item->line, item->col,
			           "'ports[%u].gateway[%u]': %s is the port's own address", i, j,
			           gs);
			return;
		}
		on_link |= in_pfx(x, g->family, g->addr);
	}
	if (on_link)
		return;
	as[0] = '\0';
	for (uint32_t a = 0; a < p->n_addresses; a++)
		if (p->addresses[a].family == g->family) {
			sg_cfg_prefix_str(&p->addresses[a], as, sizeof(as));
			break;
		}
	cfg_err_at(px, item->line, item->col,
	           "'ports[%u].gateway[%u]': %s is on none of port '%s''s IPv%u subnets%s%s%s", i,
	           j, gs, p->name, family_v(g->family), as[0] ? " (" : " (it has none)",
	           as[0] ? as : "", as[0] ? ", ...)" : "");
}

static void check_gateways(struct cfg_ctx *px, const struct sg_config *cfg,
                           const struct sg_cfg_node *ports)
{
	for (uint32_t i = 0; i < cfg->n_ports; i++) {
		const struct sg_cfg_node *list = cfg_node_get(cfg_node_item(ports, i), "gateway");

		for (uint32_t j = 0; j < cfg->ports[i].n_gateways; j++) {
			const struct sg_cfg_node *item = cfg_node_item(list, j);

			if (item != NULL)
				check_gateway(px, &cfg->ports[i], i, j, item);
		}
	}
}

/* The first address of cfg that pool prefix p must not hold, described into what; or NULL. */
static const uint8_t *pool_clash(const struct sg_config *cfg, const struct sg_cfg_prefix *p,
                                 char *what, size_t len)
{
	for (uint32_t s = 0; s < cfg->backend.n_servers; s++)
		if (in_pfx(p, cfg->backend.servers[s].family, cfg->backend.servers[s].addr)) {
			cfg_path_fmt(what, len, "server backend.servers[%u]", s);
			return cfg->backend.servers[s].addr;
		}
	for (uint32_t i = 0; i < cfg->n_ports; i++) {
		const struct sg_cfg_port *pt = &cfg->ports[i];

		for (uint32_t g = 0; g < pt->n_gateways; g++)
			if (in_pfx(p, pt->gateway[g].family, pt->gateway[g].addr)) {
				cfg_path_fmt(what, len, "gateway ports[%u].gateway[%u]", i, g);
				return pt->gateway[g].addr;
			}
		for (uint32_t a = 0; a < pt->n_addresses; a++)
			if (in_pfx(p, pt->addresses[a].family, pt->addresses[a].addr)) {
				cfg_path_fmt(what, len, "address ports[%u].addresses[%u]", i, a);
				return pt->addresses[a].addr;
			}
	}
	return NULL;
}

/* Pool prefix j: its length, a network address, one per family, nobody else's address. */
static void check_pool_item(struct cfg_ctx *px, const struct sg_config *cfg, uint32_t j,
                            const struct sg_cfg_node *item)
{
	const struct sg_cfg_prefix *p = &cfg->backend.source_pool[j];
	struct sg_cfg_prefix net = { .family = p->family, .len = p->len };
	unsigned min = p->family == AF_INET ? POOL4_LEN_MIN : POOL6_LEN_MIN;
	char buf[64], what[64];
	const uint8_t *clash;

	if (p->family != AF_INET && p->family != AF_INET6)
		return; /* not a prefix: reported by the walk */
	for (uint32_t k = 0; k < j; k++)
		if (cfg->backend.source_pool[k].family == p->family) {
			cfg_err_at(
			        px, item->line, item->col,
			        "'backend.source_pool[%u]': a second IPv%u prefix (one per family)",
			        j, family_v(p->family));
			return;
		}
	if (p->len < min) {
		cfg_err_at(px, item->line, item->col,
		           "'backend.source_pool[%u]': prefix length %u: IPv%u pools are /%u../%u",
		           j, p->len, family_v(p->family), min, family_bits(p->family));
		return;
	}
	memcpy(net.addr, p->addr, p->len / 8);
	if (p->len % 8)
		net.addr[p->len / 8] = p->addr[p->len / 8] & (uint8_t)(0xff << (8 - p->len % 8));
	if (memcmp(net.addr, p->addr, 16) != 0) {
		cfg_err_at(px, item->line, item->col,
		           "'backend.source_pool[%u]': host bits set: the prefix is %s", j,
		           sg_cfg_prefix_str(&net, buf, sizeof(buf)));
		return;
	}
	clash = pool_clash(cfg, p, what, sizeof(what));
	if (clash != NULL)
		cfg_err_at(px, item->line, item->col,
		           "'backend.source_pool[%u]': holds %s, the %s: the pool's addresses "
		           "must be the gateway's alone",
		           j, addr_str(p->family, clash, buf, sizeof(buf)), what);
}

static void check_pool(struct cfg_ctx *px, const struct sg_config *cfg,
                       const struct sg_cfg_node *backend)
{
	const struct sg_cfg_node *list = cfg_node_get(backend, "source_pool");

	if (cfg->backend.n_source_pool == 0 || list == NULL)
		return;
	if (cfg->backend.mode != SG_BACKEND_UDP) {
		cfg_err_at(px, list->line, list->col,
		           "'backend.source_pool' is for udp mode (backend.mode is '%s', which "
		           "sends from one address and port)",
		           sg_backend_mode_name(cfg->backend.mode));
		return;
	}
	for (uint32_t j = 0; j < cfg->backend.n_source_pool; j++) {
		const struct sg_cfg_node *item = cfg_node_item(list, j);

		if (item != NULL)
			check_pool_item(px, cfg, j, item);
	}
}

void cfg_check_addresses(struct cfg_ctx *px, const struct sg_config *cfg,
                         const struct sg_cfg_node *root)
{
	check_gateways(px, cfg, cfg_node_get(root, "ports"));
	check_pool(px, cfg, cfg_node_get(root, "backend"));
}

int sg_config_backend_capacity(const struct sg_config *cfg, uint64_t *addrs, uint64_t *sessions)
{
	int be = sg_config_backend_port(cfg);
	uint8_t family;

	if (cfg->backend.mode != SG_BACKEND_UDP)
		return -ENOTSUP;
	if (cfg->backend.n_servers == 0)
		return -ENOENT;
	family = cfg->backend.servers[0].family;
	*addrs = 0;
	for (uint32_t j = 0; j < cfg->backend.n_source_pool; j++)
		if (cfg->backend.source_pool[j].family == family)
			*addrs = 1ull << (family_bits(family) - cfg->backend.source_pool[j].len);
	if (*addrs == 0) {
		/* No pool of the family: the backend port's (else the device port's) own. */
		const struct sg_cfg_port *p = NULL;

		for (uint32_t i = 0; be < 0 && i < cfg->n_ports; i++)
			if (cfg->ports[i].role == SG_PORT_DEVICE)
				be = (int)i;
		if (be >= 0)
			p = &cfg->ports[be];
		for (uint32_t a = 0; p != NULL && a < p->n_addresses; a++)
			*addrs += p->addresses[a].family == family;
	}
	*sessions = *addrs * cfg->backend.source_port_count;
	return 0;
}
