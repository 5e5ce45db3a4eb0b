/* SPDX-License-Identifier: Apache-2.0 */
/*
 * status and ports: how the daemon, its ports and workers are doing. The
 * gateway thread (owner commands); reads the
 * gateway through sg_gateway_describe() / _counters() / _dp_counters() and
 * the ports' drivers (rte_eth_stats, link state).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <rte_ethdev.h>
#include <rte_lcore.h>

#include <stormgate/common.h>

#include "mgmt_priv.h"
#include "sg_build_config.h"
#include "sg_log.h"

#define DATAPLANE_NOTE                                                                             \
	"running: records of known sessions on the workers, handshakes punted to the control "     \
	"plane"

static json_t *oom(struct sg_ctl_error *err)
{
	err->code = SG_CTL_EINTERNAL;
	snprintf(err->message, sizeof(err->message), "out of memory");
	return NULL;
}

static json_t *link_json(uint16_t port_id)
{
	struct rte_eth_link link;
	char speed[32];

	memset(&link, 0, sizeof(link));
	if (rte_eth_link_get_nowait(port_id, &link) != 0)
		return json_pack("{s:b}", "up", 0);
	return json_pack("{s:b, s:I, s:s, s:s}", "up", link.link_status == RTE_ETH_LINK_UP,
	                 "speed_mbps", (json_int_t)link.link_speed, "speed",
	                 sg_gw_speed_str(link.link_speed, speed, sizeof(speed)), "duplex",
	                 link.link_duplex == RTE_ETH_LINK_FULL_DUPLEX ? "full" : "half");
}

/* stats' traffic counters, and the drops and punts by kind (only the non-zero drops). */
static json_t *counters_json(const struct sg_dp_counters *c)
{
	json_t *o = mgmt_traffic_json(c);

	if (o != NULL) {
		json_object_set_new(o, "drops", mgmt_drops_json(c->drop, 1));
		json_object_set_new(o, "punts", mgmt_punts_json(c->punt_by));
	}
	return o;
}

/* status's ports: link, what the driver counted. */
static json_t *status_ports(const struct sg_gw_desc *d)
{
	json_t *ports = json_array();

	for (unsigned i = 0; ports != NULL && i < d->n_ports; i++) {
		const struct sg_gw_port *p = &d->ports[i];
		struct rte_eth_stats st;

		memset(&st, 0, sizeof(st));
		rte_eth_stats_get(p->port_id, &st);
		if (json_array_append_new(
		            ports,
		            json_pack("{s:s, s:i, s:s, s:o, s:I, s:I, s:{s:I, s:I, s:I, s:I, "
		                      "s:I, s:I, s:I}}",
		                      "name", p->cfg->name, "port_id", p->port_id, "role",
		                      sg_port_role_name(p->cfg->role), "link",
		                      link_json(p->port_id), "rx_packets", (json_int_t)st.ipackets,
		                      "rx_bytes", (json_int_t)st.ibytes, "device", "ipackets",
		                      (json_int_t)st.ipackets, "ibytes", (json_int_t)st.ibytes,
		                      "opackets", (json_int_t)st.opackets, "obytes",
		                      (json_int_t)st.obytes, "imissed", (json_int_t)st.imissed,
		                      "ierrors", (json_int_t)st.ierrors, "rx_nombuf",
		                      (json_int_t)st.rx_nombuf)) != 0) {
			json_decref(ports);
			return NULL;
		}
	}
	return ports;
}

/* status's workers: each one's lcore, polls and counters. */
static json_t *status_workers(struct sg_mgmt *m, const struct sg_gw_desc *d)
{
	json_t *workers = json_array();

	for (unsigned i = 0; workers != NULL && i < d->n_workers; i++) {
		struct sg_dp_counters c;

		sg_gateway_dp_counters(m->gw, (int)i, &c);
		if (json_array_append_new(workers,
		                          json_pack("{s:i, s:i, s:I, s:I, s:I, s:o}", "lcore",
		                                    d->lcore[i], "worker", i, "rx_packets",
		                                    (json_int_t)c.rx, "polls", (json_int_t)c.polls,
		                                    "idle_polls", (json_int_t)c.idle_polls,
		                                    "counters", counters_json(&c))) != 0) {
			json_decref(workers);
			return NULL;
		}
	}
	return workers;
}

/*
 * The handshake server: outcomes, and failures summed (by reason in its
 * counters); in flight against the limit of every engine (the hsplane's).
 */
static json_t *status_handshakes(const struct sg_gw_counters *gc)
{
	const struct sg_hs_stats *hs = &gc->hs;
	uint64_t failed = 0;
	json_t *counters = json_object(), *o;

	/* the failures: FAIL_* only (completed_cert and the signing counters follow them) */
	for (unsigned k = SG_HS_C_FAIL_PROTOCOL_VERSION; k < SG_HS_C_COMPLETED_CERT; k++)
		failed += hs->c[k];
	for (unsigned k = 0; counters != NULL && k < SG_HS_C_MAX; k++)
		if (hs->c[k])
			json_object_set_new(counters, sg_hs_counter_name((enum sg_hs_counter)k),
			                    json_integer((json_int_t)hs->c[k]));
	o = json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:i, s:I, s:I, s:o}", "installed",
	              (json_int_t)gc->installed, "replaced", (json_int_t)gc->replaced,
	              "install_failed", (json_int_t)gc->install_failed, "failed",
	              (json_int_t)failed, "in_flight", (json_int_t)hs->in_flight, "limit",
	              (json_int_t)gc->hsplane.limit, "engines", (int)gc->hsplane.engines,
	              "completed_full", (json_int_t)hs->c[SG_HS_C_COMPLETED_FULL],
	              "completed_resumed", (json_int_t)hs->c[SG_HS_C_COMPLETED_RESUMED], "counters",
	              counters ? counters : json_object());
	return o ? o : json_null();
}

/* The credential store: its file and size, or why it cannot say. */
static json_t *status_credentials(const struct sg_mgmt *m, const struct sg_config *cfg)
{
	uint64_t count = 0;
	int rc;

	if (m->cred == NULL)
		return json_null();
	rc = sg_cred_count(m->cred, &count);
	return rc == 0 ? json_pack("{s:s, s:I}", "db", cfg->credentials.db, "count",
	                           (json_int_t)count)
	               : json_pack("{s:s, s:s}", "db", cfg->credentials.db, "error", strerror(-rc));
}

json_t *mgmt_cmd_status(void *ctx, json_t *args, struct sg_ctl_error *err)
{
	struct sg_mgmt *m = ctx;
	const struct sg_config *cfg = sg_gateway_config(m->gw);
	struct sg_gw_desc d;
	struct sg_gw_counters gc;
	struct sg_dp_counters total;
	json_t *ports, *workers, *res;

	(void)args;
	sg_gateway_describe(m->gw, &d);
	ports = status_ports(&d);
	workers = status_workers(m, &d);
	if (ports == NULL || workers == NULL) {
		json_decref(ports);
		json_decref(workers);
		return oom(err);
	}
	sg_gateway_dp_counters(m->gw, -1, &total);
	sg_gateway_counters(m->gw, &gc);
	res = json_pack(
	        "{s:s, s:s, s:f, s:s, s:{s:b, s:s}, s:{s:i, s:o}, s:o, s:I, s:o, s:o, "
	        "s:I, s:o, s:o, s:o, s:{s:s, s:i}}",
	        "version", SG_VERSION, "state", d.running ? "running" : "stopping", "uptime_s",
	        (double)d.uptime_ns / 1e9, "dataplane", DATAPLANE_NOTE, "memory", "hugepages",
	        !d.info.no_huge, "mode",
	        d.info.no_huge ? (d.info.no_huge_added ? "--no-huge (no hugepages were available)"
	                                               : "--no-huge (asked for)")
	                       : "hugepages",
	        "lcores", "main", rte_get_main_lcore(), "workers", workers, "ports", ports,
	        "rx_packets", (json_int_t)total.rx, "drops", mgmt_drops_json(total.drop, 1),
	        "counters", counters_json(&total), "punts_unserved", (json_int_t)gc.punts_unserved,
	        "punts_taken", mgmt_punts_json(gc.punts_taken), "handshakes",
	        status_handshakes(&gc), "credentials", status_credentials(m, cfg), "control",
	        "socket", cfg->control.socket, "clients",
	        m->ctl ? (int)sg_ctl_server_clients(m->ctl) : 0);
	return res ? res : oom(err);
}

json_t *mgmt_cmd_ports(void *ctx, json_t *args, struct sg_ctl_error *err)
{
	struct sg_mgmt *m = ctx;
	struct sg_gw_desc d;
	json_t *ports = json_array();

	(void)args;
	sg_gateway_describe(m->gw, &d);
	for (unsigned i = 0; ports != NULL && i < d.n_ports; i++) {
		const struct sg_gw_port *p = &d.ports[i];
		char mac[RTE_ETHER_ADDR_FMT_SIZE], buf[64];
		struct rte_ether_addr ea;
		json_t *addrs = json_array();

		memcpy(ea.addr_bytes, p->mac, sizeof(ea.addr_bytes));
		rte_ether_format_addr(mac, sizeof(mac), &ea);
		for (uint32_t a = 0; addrs != NULL && a < p->cfg->n_addresses; a++)
			json_array_append_new(addrs,
			                      json_string(sg_cfg_prefix_str(&p->cfg->addresses[a],
			                                                    buf, sizeof(buf))));
		json_array_append_new(
		        ports,
		        json_pack(
		                "{s:s, s:s, s:s, s:i, s:s, s:s, s:s, s:i, s:i, s:i, s:i, s:i, s:b, "
		                "s:i, s:o, s:o}",
		                "name", p->cfg->name, "role", sg_port_role_name(p->cfg->role),
		                "devargs", p->cfg->devargs, "port_id", p->port_id, "device",
		                p->dev_name, "driver", p->driver ? p->driver : "?", "mac", mac,
		                "mtu", p->mtu, "rx_queues", p->nb_rxq, "tx_queues", p->nb_txq,
		                "rx_desc", p->nb_rxd, "tx_desc", p->nb_txd, "promiscuous",
		                p->cfg->promiscuous, "udp_port", (int)p->cfg->udp_port, "addresses",
		                addrs ? addrs : json_array(), "link", link_json(p->port_id)));
	}
	if (ports == NULL)
		return oom(err);
	return json_pack("{s:o}", "ports", ports);
}
