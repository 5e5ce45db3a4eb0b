/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Rules that tie keys together, checked once every key has been read: port
 * names and devices used once, a device port, CID length, worker lcores,
 * suites listed once, backend source ports, which port takes the servers'
 * replies (the trust rule); the handshake section's in check_hs.c. Errors
 * point at the node that breaks the rule. Any thread; reads the config and
 * the tree.
 */
#include <inttypes.h>
#include <stddef.h>
#include <string.h>

#include <stormgate/suite.h>

#include "config_priv.h"

/* The first port before port i whose string field at off is the same, or -1. */
static int used_before(const struct sg_config *cfg, uint32_t i, size_t off)
{
	const char *v = (const char *)&cfg->ports[i] + off;

	for (uint32_t j = 0; j < i; j++)
		if (strcmp(v, (const char *)&cfg->ports[j] + off) == 0)
			return (int)j;
	return -1;
}

/* Port names and devices used once. */
static void check_ports(struct cfg_ctx *px, const struct sg_config *cfg,
                        const struct sg_cfg_node *ports)
{
	for (uint32_t i = 0; i < cfg->n_ports; i++) {
		const struct sg_cfg_port *p = &cfg->ports[i];
		const struct sg_cfg_node *item = cfg_node_item(ports, i);
		const struct sg_cfg_node *nn = cfg_node_get(item, "name");
		const struct sg_cfg_node *dn = cfg_node_get(item, "devargs");
		int j;

		if (nn != NULL && p->name[0] &&
		    (j = used_before(cfg, i, offsetof(struct sg_cfg_port, name))) >= 0)
			cfg_err_at(px, nn->line, nn->col,
			           "'ports[%u].name': port name '%s' already used by ports[%d]", i,
			           p->name, j);
		if (dn != NULL && p->devargs[0] &&
		    (j = used_before(cfg, i, offsetof(struct sg_cfg_port, devargs))) >= 0)
			cfg_err_at(px, dn->line, dn->col,
			           "'ports[%u].devargs': device '%s' already used by ports[%d]", i,
			           p->devargs, j);
	}
}

/* At least one port, one of them a device port. */
static void check_port_list(struct cfg_ctx *px, const struct sg_config *cfg,
                            const struct sg_cfg_node *ports)
{
	int devices = 0;

	for (uint32_t i = 0; i < cfg->n_ports; i++)
		devices += cfg->ports[i].role == SG_PORT_DEVICE;
	if (ports != NULL && cfg->n_ports > 0 && devices == 0)
		cfg_err_at(px, ports->line, ports->col, "'ports' has no port with role 'device'");
	if (ports != NULL && cfg->n_ports == 0 &&
	    (cfg_node_is_null(ports) || ports->type == SG_CFG_SEQ))
		cfg_err_at(px, ports->line, ports->col, "'ports' must list at least one port");
}

static void check_cid(struct cfg_ctx *px, const struct sg_config *cfg,
                      const struct sg_cfg_node *root)
{
	if (cfg->sessions.cid_length > 0 && cfg->sessions.cid_length < 8) {
		const struct sg_cfg_node *c =
		        cfg_node_get(cfg_node_get(root, "sessions"), "cid_length");

		cfg_err_at(
		        px, c ? c->line : 0, c ? c->col : 0,
		        "'sessions.cid_length' is %u: 0 (no CIDs) or 8..16 (a CID carries a slot, "
		        "a nonce and a keyed check)",
		        cfg->sessions.cid_length);
	}
}

/* sessions.cbc_capacity: a part of sessions.capacity (CBC sessions are sessions too). */
static void check_cbc(struct cfg_ctx *px, const struct sg_config *cfg,
                      const struct sg_cfg_node *root)
{
	const struct sg_cfg_node *c = cfg_node_get(cfg_node_get(root, "sessions"), "cbc_capacity");

	if (cfg->sessions.cbc_capacity != SG_CFG_CBC_CAPACITY_AUTO &&
	    cfg->sessions.cbc_capacity > cfg->sessions.capacity)
		cfg_err_at(px, c ? c->line : 0, c ? c->col : 0,
		           "'sessions.cbc_capacity' is %" PRIu64
		           ", more than 'sessions.capacity' (%" PRIu64 ")",
		           cfg->sessions.cbc_capacity, cfg->sessions.capacity);
}

uint64_t sg_cfg_sessions_cbc_capacity(const struct sg_config *cfg)
{
	uint64_t cap = cfg->sessions.capacity;

	if (cfg->sessions.cbc_capacity != SG_CFG_CBC_CAPACITY_AUTO)
		return cfg->sessions.cbc_capacity < cap ? cfg->sessions.cbc_capacity : cap;
	return cap / 16 ? cap / 16 : 1;
}

static void check_workers(struct cfg_ctx *px, const struct sg_config *cfg,
                          const struct sg_cfg_node *workers)
{
	const struct sg_cfg_node *lcores = cfg_node_get(workers, "lcores");

	if (cfg->workers.count != 0 && cfg->workers.n_lcores != 0)
		cfg_err_at(px, lcores->line, lcores->col,
		           "'workers.lcores' and 'workers.count' are mutually exclusive");
	for (uint32_t i = 0; i < cfg->workers.n_lcores; i++)
		for (uint32_t j = 0; j < i; j++)
			if (cfg->workers.lcores[i] == cfg->workers.lcores[j]) {
				const struct sg_cfg_node *l = cfg_node_item(lcores, i);
				cfg_err_at(px, l->line, l->col,
				           "'workers.lcores[%u]': lcore %u listed twice", i,
				           cfg->workers.lcores[i]);
			}
}

void cfg_check_suites_twice(struct cfg_ctx *px, const struct sg_cfg_policy *p, const char *path,
                            const struct sg_cfg_node *list)
{
	for (uint32_t i = 0; i < p->n_suites; i++)
		for (uint32_t j = 0; j < i; j++)
			if (p->suites[i] == p->suites[j]) {
				const struct sg_cfg_node *s = cfg_node_item(list, i);
				if (s != NULL)
					cfg_err_at(px, s->line, s->col,
					           "'%s[%u]': '%s' listed twice", path, i,
					           sg_suite_name(p->suites[i]));
			}
}

static void check_suites(struct cfg_ctx *px, const struct sg_config *cfg,
                         const struct sg_cfg_node *root)
{
	const struct sg_cfg_node *list = cfg_node_get(cfg_node_get(root, "policy"), "suites");

	cfg_check_suites_twice(px, &cfg->policy, "policy.suites", list);
	/* Listed by hand: a CBC suite with no room for CBC sessions is a contradiction. (The
	 * default list just leaves them out: hs_glue.c.) */
	for (uint32_t i = 0; list != NULL && i < cfg->policy.n_suites; i++) {
		const struct sg_suite *su = sg_suite_find(cfg->policy.suites[i]);
		const struct sg_cfg_node *s = cfg_node_item(list, i);

		if (su != NULL && sg_aead_wide(su->aead) &&
		    sg_cfg_sessions_cbc_capacity(cfg) == 0 && s != NULL)
			cfg_err_at(px, s->line, s->col,
			           "'policy.suites[%u]': '%s' needs room for CBC sessions, and "
			           "'sessions.cbc_capacity' is 0",
			           i, su->name);
	}
	if (list != NULL && !cfg_node_is_null(list) && list->type == SG_CFG_SEQ && list->n == 0)
		cfg_err_at(px, list->line, list->col,
		           "'policy.suites' must list at least one cipher suite");
}

static void check_source_ports(struct cfg_ctx *px, const struct sg_config *cfg,
                               const struct sg_cfg_node *backend)
{
	if (cfg->backend.source_port_first + cfg->backend.source_port_count - 1 > 65535) {
		const struct sg_cfg_node *c = cfg_node_get(backend, "source_port_count");

		if (c == NULL)
			c = cfg_node_get(backend, "source_port_first");
		if (c != NULL)
			cfg_err_at(
			        px, c->line, c->col,
			        "'backend.source_port_first' + 'source_port_count' - 1 is %u, past "
			        "port 65535",
			        cfg->backend.source_port_first + cfg->backend.source_port_count -
			                1);
	}
}

/*
 * The servers' replies are told from the devices' datagrams by their source
 * address and port, which anyone on the device network can write (no BCP 38
 * upstream): the device port takes them only when the config says that
 * network is trusted (docs/architecture.md, "Trust model").
 */
static void check_trust(struct cfg_ctx *px, const struct sg_config *cfg,
                        const struct sg_cfg_node *backend)
{
	if (cfg->backend.port[0] == '\0' && cfg->backend.n_servers > 0 &&
	    !cfg->backend.trust_device_network && sg_config_backend_port(cfg) < 0) {
		const struct sg_cfg_node *sv = cfg_node_get(backend, "servers");

		cfg_err_at(
		        px, sv ? sv->line : 0, sv ? sv->col : 0,
		        "'backend.servers': no port has role 'backend', so the device port would "
		        "take the servers' replies, which anyone on the device network can forge: "
		        "add a port with role 'backend' to reach them through, or set "
		        "'backend.trust_device_network: true' if only trusted hosts can send to "
		        "the device port");
	}
}

/* backend.port names a port, and one with role backend. */
static void check_backend_port(struct cfg_ctx *px, const struct sg_config *cfg,
                               const struct sg_cfg_node *backend)
{
	const struct sg_cfg_node *bp = cfg_node_get(backend, "port");
	uint32_t i;

	if (cfg->backend.port[0] == '\0' || bp == NULL)
		return;
	for (i = 0; i < cfg->n_ports; i++)
		if (strcmp(cfg->ports[i].name, cfg->backend.port) == 0)
			break;
	if (i == cfg->n_ports)
		cfg_err_at(px, bp->line, bp->col, "'backend.port': no port named '%s'",
		           cfg->backend.port);
	else if (cfg->ports[i].role != SG_PORT_BACKEND)
		cfg_err_at(px, bp->line, bp->col,
		           "'backend.port': port '%s' has role '%s', not 'backend'",
		           cfg->backend.port, sg_port_role_name(cfg->ports[i].role));
}

void cfg_cross_checks(struct cfg_ctx *px, const struct sg_config *cfg,
                      const struct sg_cfg_node *root)
{
	const struct sg_cfg_node *ports = cfg_node_get(root, "ports");
	const struct sg_cfg_node *backend = cfg_node_get(root, "backend");

	check_ports(px, cfg, ports);
	check_cid(px, cfg, root);
	check_cbc(px, cfg, root);
	check_port_list(px, cfg, ports);
	check_workers(px, cfg, cfg_node_get(root, "workers"));
	check_suites(px, cfg, root);
	check_source_ports(px, cfg, backend);
	check_trust(px, cfg, backend);
	check_backend_port(px, cfg, backend);
	cfg_check_handshake(px, cfg, root);
	cfg_check_tls(px, cfg, root);
	if (cfg->store.enabled)
		cfg_check_store(px, cfg, root);
}

int sg_config_backend_port(const struct sg_config *cfg)
{
	for (uint32_t i = 0; i < cfg->n_ports; i++) {
		if (cfg->backend.port[0] != '\0'
		            ? strcmp(cfg->ports[i].name, cfg->backend.port) == 0
		            : cfg->ports[i].role == SG_PORT_BACKEND)
			return (int)i;
	}
	return -1;
}
