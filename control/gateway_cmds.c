/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Control commands of the gateway: one table row per command (docs/control.md).
 * version, status, ports and shutdown are here; stats in gateway_stats.c,
 * sessions.* in gateway_sess.c, credentials.* in gateway_cred.c, policy.* in
 * gateway_mgmt.c.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <rte_ethdev.h>
#include <rte_lcore.h>
#include <rte_version.h>

#include <stormgate/common.h>

#include "sg_build_config.h"
#include "gateway_priv.h"
#include "sg_log.h"

#define DATAPLANE_NOTE                                                                             \
	"running: records of known sessions on the workers, handshakes punted to the control "     \
	"plane"

static json_t *cmd_version(void *ctx, json_t *args, struct sg_ctl_error *err);

static json_t *link_json(uint16_t port_id)
{
	struct rte_eth_link link;
	char speed[32];

	memset(&link, 0, sizeof(link));
	if (rte_eth_link_get_nowait(port_id, &link) != 0)
		return json_pack("{s:b}", "up", 0);
	return json_pack("{s:b, s:I, s:s, s:s}", "up", link.link_status == RTE_ETH_LINK_UP,
	                 "speed_mbps", (json_int_t)link.link_speed, "speed",
	                 gw_speed_str(link.link_speed, speed, sizeof(speed)), "duplex",
	                 link.link_duplex == RTE_ETH_LINK_FULL_DUPLEX ? "full" : "half");
}

/* Reasons with a non-zero count, by their stable labels. */
/* stats' traffic counters, and the drops and punts by kind (only the non-zero drops). */
static json_t *counters_json(const struct sg_dp_counters *c)
{
	json_t *o = gw_traffic_json(c);

	if (o != NULL) {
		json_object_set_new(o, "drops", gw_drops_json(c->drop, 1));
		json_object_set_new(o, "punts", gw_punts_json(c->punt_by));
	}
	return o;
}

static json_t *cmd_status(void *ctx, json_t *args, struct sg_ctl_error *err)
{
	struct sg_gateway *gw = ctx;
	struct sg_dp_counters total;
	json_t *ports = json_array(), *workers = json_array(), *res = NULL;

	(void)args;
	if (ports == NULL || workers == NULL)
		goto oom;
	for (unsigned i = 0; i < gw->n_ports; i++) {
		const struct gw_port *p = &gw->ports[i];
		struct sg_gw_port_totals t;
		struct rte_eth_stats st;

		sg_gateway_port_totals(gw, i, &t);
		memset(&st, 0, sizeof(st));
		rte_eth_stats_get(p->port_id, &st);
		if (json_array_append_new(
		            ports,
		            json_pack("{s:s, s:i, s:s, s:o, s:I, s:I, s:{s:I, s:I, s:I, s:I, "
		                      "s:I, s:I, s:I}}",
		                      "name", p->cfg->name, "port_id", p->port_id, "role",
		                      sg_port_role_name(p->cfg->role), "link",
		                      link_json(p->port_id), "rx_packets", (json_int_t)t.rx_packets,
		                      "rx_bytes", (json_int_t)t.rx_bytes, "device", "ipackets",
		                      (json_int_t)st.ipackets, "ibytes", (json_int_t)st.ibytes,
		                      "opackets", (json_int_t)st.opackets, "obytes",
		                      (json_int_t)st.obytes, "imissed", (json_int_t)st.imissed,
		                      "ierrors", (json_int_t)st.ierrors, "rx_nombuf",
		                      (json_int_t)st.rx_nombuf)) != 0)
			goto oom;
	}
	for (unsigned i = 0; i < gw->n_workers; i++) {
		struct sg_dp_counters c;

		sg_dp_counters_get(gw->dp, i, &c);
		if (json_array_append_new(workers,
		                          json_pack("{s:i, s:i, s:I, s:I, s:I, s:o}", "lcore",
		                                    gw->workers[i].lcore, "worker", i, "rx_packets",
		                                    (json_int_t)c.rx, "polls", (json_int_t)c.polls,
		                                    "idle_polls", (json_int_t)c.idle_polls,
		                                    "counters", counters_json(&c))) != 0)
			goto oom;
	}
	sg_dp_counters_sum(gw->dp, &total);

	/* The handshake server: outcomes, and failures summed (by reason in its counters). */
	struct sg_hs_stats hs;
	uint64_t hs_failed = 0;
	json_t *hs_counters = json_object();

	sg_hs_stats_get(gw->hs, &hs);
	for (unsigned k = SG_HS_C_FAIL_PROTOCOL_VERSION; k < SG_HS_C_MAX; k++)
		hs_failed += hs.c[k];
	for (unsigned k = 0; hs_counters != NULL && k < SG_HS_C_MAX; k++)
		if (hs.c[k])
			json_object_set_new(hs_counters, sg_hs_counter_name((enum sg_hs_counter)k),
			                    json_integer((json_int_t)hs.c[k]));
	json_t *hsj =
	        json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:o}", "installed",
	                  (json_int_t)gw->hs_installed, "replaced", (json_int_t)gw->hs_replaced,
	                  "install_failed", (json_int_t)gw->hs_install_failed, "failed",
	                  (json_int_t)hs_failed, "in_flight", (json_int_t)hs.in_flight,
	                  "completed_full", (json_int_t)hs.c[SG_HS_C_COMPLETED_FULL],
	                  "completed_resumed", (json_int_t)hs.c[SG_HS_C_COMPLETED_RESUMED],
	                  "counters", hs_counters ? hs_counters : json_object());

	json_t *cred = json_null();
	if (gw->cred != NULL) {
		uint64_t count = 0;
		int rc = sg_cred_count(gw->cred, &count);
		cred = rc == 0 ? json_pack("{s:s, s:I}", "db", gw->cfg.credentials.db, "count",
		                           (json_int_t)count)
		               : json_pack("{s:s, s:s}", "db", gw->cfg.credentials.db, "error",
		                           strerror(-rc));
	}
	double uptime = (double)(gw_now_ns() - gw->start_ns) / 1e9;
	res = json_pack("{s:s, s:s, s:f, s:s, s:{s:b, s:s}, s:{s:i, s:o}, s:o, s:I, s:o, s:o, "
	                "s:I, s:o, s:o, s:o, s:{s:s, s:i}}",
	                "version", SG_VERSION, "state", gw->running ? "running" : "stopping",
	                "uptime_s", uptime, "dataplane", DATAPLANE_NOTE, "memory", "hugepages",
	                !gw->info.no_huge, "mode",
	                gw->info.no_huge ? (gw->info.no_huge_added
	                                            ? "--no-huge (no hugepages were available)"
	                                            : "--no-huge (asked for)")
	                                 : "hugepages",
	                "lcores", "main", rte_get_main_lcore(), "workers", workers, "ports", ports,
	                "rx_packets", (json_int_t)total.rx, "drops", gw_drops_json(total.drop, 1),
	                "counters", counters_json(&total), "punts_unserved",
	                (json_int_t)gw->punt_unserved, "punts_taken", gw_punts_json(gw->punt_taken),
	                "handshakes", hsj ? hsj : json_null(), "credentials", cred, "control",
	                "socket", gw->cfg.control.socket, "clients",
	                gw->ctl ? (int)sg_ctl_server_clients(gw->ctl) : 0);
	if (res == NULL) {
		err->code = SG_CTL_EINTERNAL;
		snprintf(err->message, sizeof(err->message), "out of memory");
	}
	return res;
oom:
	json_decref(ports);
	json_decref(workers);
	err->code = SG_CTL_EINTERNAL;
	snprintf(err->message, sizeof(err->message), "out of memory");
	return NULL;
}

static json_t *cmd_ports(void *ctx, json_t *args, struct sg_ctl_error *err)
{
	struct sg_gateway *gw = ctx;
	json_t *ports = json_array();

	(void)args;
	for (unsigned i = 0; ports != NULL && i < gw->n_ports; i++) {
		const struct gw_port *p = &gw->ports[i];
		char mac[RTE_ETHER_ADDR_FMT_SIZE], buf[64];
		json_t *addrs = json_array();

		rte_ether_format_addr(mac, sizeof(mac), &p->mac);
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
	if (ports == NULL) {
		err->code = SG_CTL_EINTERNAL;
		snprintf(err->message, sizeof(err->message), "out of memory");
		return NULL;
	}
	return json_pack("{s:o}", "ports", ports);
}

static json_t *cmd_shutdown(void *ctx, json_t *args, struct sg_ctl_error *err)
{
	struct sg_gateway *gw = ctx;

	(void)args;
	(void)err;
	SG_LOG(MAIN, NOTICE, "shutdown requested on the control socket");
	gw->shutdown_requested = 1;
	return json_pack("{s:b}", "stopping", 1);
}

const struct sg_ctl_cmd sg_gateway_cmds[] = {
	{ "version", "daemon, protocol and DPDK versions; the commands", cmd_version },
	{ "status", "uptime, lcores, ports with link and counters, drops", cmd_status },
	{ "ports", "port configuration: driver, MAC, queues, addresses, link", cmd_ports },
	{ "shutdown", "stop the daemon cleanly (as SIGTERM does)", cmd_shutdown },
	{ "stats", "counters: global, per worker, drops, sessions, handshakes, admission",
	  gw_cmd_stats },
	{ "sessions.count", "sessions in the table", gw_cmd_sessions_count },
	{ "sessions.list", "sessions, paged; by identity or peer address", gw_cmd_sessions_list },
	{ "sessions.show", "one session (no keys)", gw_cmd_sessions_show },
	{ "sessions.kill", "end a session, or all of an identity's, with a close_notify",
	  gw_cmd_sessions_kill },
	{ "credentials.add", "add (or replace) one device's identity and PSK", gw_cmd_cred_add },
	{ "credentials.remove", "remove an identity (optionally ending its sessions)",
	  gw_cmd_cred_remove },
	{ "credentials.import", "stream a CSV of devices in: begin, data..., commit (atomic)",
	  gw_cmd_cred_import },
	{ "credentials.count", "identities in the credential store", gw_cmd_cred_count },
	{ "credentials.show", "an identity's policy and sessions (never its key)",
	  gw_cmd_cred_show },
	{ "policy.get", "the live policy: key lifetime, cookies, suites, admission",
	  gw_cmd_policy_get },
	{ "policy.set", "change the live policy (all keys or none)", gw_cmd_policy_set },
};

const size_t sg_gateway_n_cmds = SG_ARRAY_SIZE(sg_gateway_cmds);

static json_t *cmd_version(void *ctx, json_t *args, struct sg_ctl_error *err)
{
	json_t *cmds = json_array();

	(void)args;
	for (size_t i = 0; cmds != NULL && i < sg_gateway_n_cmds; i++)
		json_array_append_new(cmds, json_pack("{s:s, s:s}", "name", sg_gateway_cmds[i].name,
		                                      "summary", sg_gateway_cmds[i].summary));
	if (cmds == NULL) {
		err->code = SG_CTL_EINTERNAL;
		snprintf(err->message, sizeof(err->message), "out of memory");
		return NULL;
	}
	{
		const struct sg_gateway *gw = ctx;

		return json_pack("{s:s, s:s, s:i, s:s, s:o, s:{s:I, s:I}}", "name", "stormgate",
		                 "version", SG_VERSION, "protocol", SG_CTL_PROTOCOL, "dpdk",
		                 rte_version(), "commands", cmds, "limits", "max_request",
		                 (json_int_t)gw->cfg.control.max_request, "max_output",
		                 (json_int_t)gw->cfg.control.max_output);
	}
}
