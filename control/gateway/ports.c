/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The gateway's ports, worker lcores, session table and data plane
 * (dataplane/pipeline), made from the config at start and freed at the end.
 * Main lcore at creation; gw_ports_poll() on the gateway thread. Writes
 * struct gw_ports only.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>

#include <stormgate/net.h>

#include "gw_priv.h"
#include "sg_log.h"

/* Restored sessions whose peers are solicited per poll (a millisecond's share). */
#define PEERS_PER_POLL 1024

/* Queue counts of one port: worker w polls RX queue w and sends on TX queue w. */
static int port_queues(struct sg_gateway *gw, const struct sg_cfg_port *pc,
                       const struct rte_eth_dev_info *info, uint16_t *nb_rxq, uint16_t *nb_txq)
{
	unsigned n_workers = gw->ports.n_workers;

	/* Worker w polls queue w: more queues than workers would never be read. */
	*nb_rxq =
	        (uint16_t)(pc->rx_queues && pc->rx_queues < n_workers ? pc->rx_queues : n_workers);
	if (*nb_rxq > info->max_rx_queues) {
		SG_LOG(MAIN, NOTICE, "port %s: %s offers %u RX queue(s), using %u instead of %u",
		       pc->name, info->driver_name, info->max_rx_queues, info->max_rx_queues,
		       *nb_rxq);
		*nb_rxq = info->max_rx_queues;
	}
	/* Every worker sends on a TX queue of its own (no locks on the fast path). */
	*nb_txq = (uint16_t)n_workers;
	if (*nb_rxq == 0 || info->max_tx_queues < *nb_txq) {
		SG_LOG(MAIN, ERR,
		       "port %s: %s offers %u RX / %u TX queue(s); each of the %u worker(s) needs "
		       "a "
		       "TX queue of its own (fewer workers, or a driver option for more queues, "
		       "e.g. qpairs= for net_af_packet)",
		       pc->name, info->driver_name, info->max_rx_queues, info->max_tx_queues,
		       n_workers);
		return -ENOTSUP;
	}
	return 0;
}

/* Configure p with its queues, RSS over the workers when there are several. */
static int port_configure(struct sg_gateway *gw, struct gw_port *p,
                          const struct rte_eth_dev_info *info, uint16_t nb_rxq, uint16_t nb_txq)
{
	const struct sg_cfg_port *pc = p->cfg;
	struct rte_eth_conf conf;
	int socket, rc;

	memset(&conf, 0, sizeof(conf));
	if (nb_rxq > 1 && info->flow_type_rss_offloads != 0) {
		/* Spread flows over the workers; one flow (one session) stays on one worker. */
		conf.rxmode.mq_mode = RTE_ETH_MQ_RX_RSS;
		conf.rx_adv_conf.rss_conf.rss_hf =
		        (RTE_ETH_RSS_IP | RTE_ETH_RSS_UDP) & info->flow_type_rss_offloads;
	}
	if (pc->mtu != 0)
		conf.rxmode.mtu = pc->mtu;
	rc = rte_eth_dev_configure(p->port_id, nb_rxq, nb_txq, &conf);
	if (rc != 0) {
		SG_LOG(MAIN, ERR, "port %s: configure %u/%u queues: %s", pc->name, nb_rxq, nb_txq,
		       rte_strerror(-rc));
		return rc;
	}
	p->nb_rxd = (uint16_t)pc->rx_desc;
	p->nb_txd = (uint16_t)pc->tx_desc;
	rc = rte_eth_dev_adjust_nb_rx_tx_desc(p->port_id, &p->nb_rxd, &p->nb_txd);
	if (rc != 0)
		return rc;
	socket = rte_eth_dev_socket_id(p->port_id);
	if (socket < 0)
		socket = (int)rte_socket_id();
	for (uint16_t q = 0; q < nb_rxq; q++) {
		rc = rte_eth_rx_queue_setup(p->port_id, q, p->nb_rxd, (unsigned)socket, NULL,
		                            gw->ports.pool);
		if (rc != 0) {
			SG_LOG(MAIN, ERR, "port %s: RX queue %u: %s", pc->name, q,
			       rte_strerror(-rc));
			return rc;
		}
	}
	for (uint16_t q = 0; q < nb_txq; q++) {
		rc = rte_eth_tx_queue_setup(p->port_id, q, p->nb_txd, (unsigned)socket, NULL);
		if (rc != 0) {
			SG_LOG(MAIN, ERR, "port %s: TX queue %u: %s", pc->name, q,
			       rte_strerror(-rc));
			return rc;
		}
	}
	p->nb_rxq = nb_rxq;
	p->nb_txq = nb_txq;
	return 0;
}

static int port_setup(struct sg_gateway *gw, unsigned idx)
{
	struct gw_port *p = &gw->ports.port[idx];
	const struct sg_cfg_port *pc = p->cfg;
	struct rte_eth_dev_info info;
	char mac[RTE_ETHER_ADDR_FMT_SIZE];
	uint16_t nb_rxq, nb_txq;
	int rc;

	rc = sg_devargs_name(pc->devargs, p->dev_name, sizeof(p->dev_name));
	if (rc == 0)
		rc = rte_eth_dev_get_port_by_name(p->dev_name, &p->port_id);
	if (rc != 0) {
		SG_LOG(MAIN, ERR,
		       "port %s: no ethdev named '%s' (devargs '%s'): is the driver available?",
		       pc->name, p->dev_name, pc->devargs);
		return -ENODEV;
	}
	rc = rte_eth_dev_info_get(p->port_id, &info);
	if (rc != 0) {
		SG_LOG(MAIN, ERR, "port %s: dev_info: %s", pc->name, rte_strerror(-rc));
		return rc;
	}
	p->driver = info.driver_name;
	rc = port_queues(gw, pc, &info, &nb_rxq, &nb_txq);
	if (rc == 0)
		rc = port_configure(gw, p, &info, nb_rxq, nb_txq);
	if (rc != 0)
		return rc;
	if (pc->promiscuous && (rc = rte_eth_promiscuous_enable(p->port_id)) != 0)
		SG_LOG(MAIN, WARNING, "port %s: promiscuous mode: %s", pc->name, rte_strerror(-rc));
	rc = rte_eth_dev_start(p->port_id);
	if (rc != 0) {
		SG_LOG(MAIN, ERR, "port %s: start: %s", pc->name, rte_strerror(-rc));
		return rc;
	}
	p->started = 1;
	rte_eth_macaddr_get(p->port_id, &p->mac);
	rte_eth_dev_get_mtu(p->port_id, &p->mtu);
	rte_ether_format_addr(mac, sizeof(mac), &p->mac);
	SG_LOG(MAIN, INFO, "port %s (%s, %s): ethdev %u %s, %u RX / %u TX queue(s), mac %s, mtu %u",
	       pc->name, sg_port_role_name(pc->role), p->driver, p->port_id, p->dev_name, nb_rxq,
	       nb_txq, mac, p->mtu);
	return 0;
}

/* The worker lcores: the config's list, or the first `count` EAL gave us (0: all). */
static int pick_workers(struct sg_gateway *gw)
{
	const struct sg_cfg_workers *wc = &gw->cfg.workers;
	unsigned *lcores = gw->ports.lcore;
	unsigned n = 0, lc;

	if (wc->n_lcores > 0) {
		for (uint32_t i = 0; i < wc->n_lcores; i++) {
			lc = wc->lcores[i];
			if (!rte_lcore_is_enabled(lc) || lc == rte_get_main_lcore()) {
				SG_LOG(MAIN, ERR,
				       "workers.lcores: lcore %u is %s (EAL lcores: give it with "
				       "-l)",
				       lc,
				       lc == rte_get_main_lcore() ? "the main lcore"
				                                  : "not enabled");
				return -EINVAL;
			}
			lcores[n++] = lc;
		}
	} else {
		RTE_LCORE_FOREACH_WORKER(lc)
		{
			if (wc->count != 0 && n == wc->count)
				break;
			lcores[n++] = lc;
		}
		if (wc->count != 0 && n < wc->count) {
			SG_LOG(MAIN, ERR, "workers.count is %u but EAL has only %u worker lcore(s)",
			       wc->count, n);
			return -EINVAL;
		}
	}
	if (n == 0) {
		SG_LOG(MAIN, ERR,
		       "no worker lcore: the main lcore runs the control plane, so EAL needs at "
		       "least two lcores (e.g. -l 0-1)");
		return -EINVAL;
	}
	return (int)n;
}

/* Data-plane view of one port: MAC, addresses, next hops, role. */
static void dp_port(const struct gw_port *p, uint8_t role, struct sg_dp_port_conf *dc)
{
	const struct sg_cfg_port *pc = p->cfg;

	memset(dc, 0, sizeof(*dc));
	dc->port_id = p->port_id;
	dc->role = role;
	memcpy(dc->ifc.mac, p->mac.addr_bytes, 6);
	for (uint32_t a = 0; a < pc->n_addresses; a++) {
		const struct sg_cfg_prefix *x = &pc->addresses[a];

		if (x->family == AF_INET && dc->ifc.n_ip4 < SG_NET_IF_ADDRS_MAX) {
			if (dc->ifc.n_ip4 == 0)
				dc->prefix4 = x->len;
			memcpy(dc->ifc.ip4[dc->ifc.n_ip4++], x->addr, 4);
		} else if (x->family == AF_INET6 && dc->ifc.n_ip6 < SG_NET_IF_ADDRS_MAX) {
			if (dc->ifc.n_ip6 == 0)
				dc->prefix6 = x->len;
			memcpy(dc->ifc.ip6[dc->ifc.n_ip6++], x->addr, 16);
		}
	}
	/* ports[].gateway: on one of the port's subnets, one per family (config check). */
	for (uint32_t g = 0; g < pc->n_gateways; g++)
		memcpy(pc->gateway[g].family == AF_INET ? dc->gw4 : dc->gw6, pc->gateway[g].addr,
		       pc->gateway[g].family == AF_INET ? 4 : 16);
}

/* The session table, with spare SAs for re-keyed sessions' previous keys. */
static int sessions_setup(struct sg_gateway *gw, uint32_t *capacity)
{
	const struct sg_config *cfg = &gw->cfg;
	struct sg_sess_params sp = { 0 };
	uint64_t cbc;

	sp.capacity = (uint32_t)RTE_MIN(cfg->sessions.capacity, (uint64_t)SG_SESS_CAPACITY_MAX);
	sp.replay_window = (uint16_t)cfg->sessions.replay_window;
	sp.cid_len = (uint8_t)(cfg->sessions.cid_length >= SG_SESS_CID_LEN_MIN &&
	                                       cfg->sessions.cid_length <= SG_SESS_CID_LEN_MAX
	                               ? cfg->sessions.cid_length
	                               : 0);
	sp.max_threads = (uint16_t)gw->ports.n_workers;
	/* Half of the reserve may wait out rekey_grace (sess_end.c's retire FIFO). */
	sp.sa_reserve = RTE_MAX(sp.capacity / 64, 256u);
	/* The gateway thread never waits for the workers (docs/session-table.md). */
	sp.flags = SG_SESS_P_DEFER_GROW;
	/* CBC-SHA256 sessions' wide SAs: a pool of their own, or none (cbc_full). */
	cbc = RTE_MIN(sg_cfg_sessions_cbc_capacity(cfg), (uint64_t)sp.capacity);
	sp.cbc_capacity = (uint32_t)cbc;
	if (cbc == 0)
		sp.flags |= SG_SESS_P_NO_CBC;
	/* A restart keeps the CID key: stored CIDs name their slots again (store.c). */
	sp.cid_key = gw->store.have_cid_key ? gw->store.cid_key : NULL;
	gw->ports.sessions = sg_sess_table_create(&sp);
	if (gw->ports.sessions == NULL) {
		SG_LOG(MAIN, ERR, "session table of %u: %s", sp.capacity, strerror(errno));
		return -errno;
	}
	gw->ports.sa_reserve = sp.sa_reserve;
	*capacity = sp.capacity;
	return 0;
}

/*
 * The device port, and the backend port (sg_config_backend_port(): the one
 * backend.port names, else the first with role backend). Without one the
 * device port carries the backend too, which the config allows only with
 * backend.trust_device_network (or without servers).
 */
static int pick_roles(struct sg_gateway *gw, int *dev, int *be)
{
	*dev = -1;
	for (unsigned i = 0; i < gw->ports.n_ports; i++)
		if (*dev < 0 && gw->ports.port[i].cfg->role == SG_PORT_DEVICE)
			*dev = (int)i;
	if (*dev < 0) {
		SG_LOG(MAIN, ERR,
		       "no port with role device: the data plane has no devices to serve");
		return -EINVAL;
	}
	*be = sg_config_backend_port(&gw->cfg);
	if (*be < 0)
		*be = *dev;
	return 0;
}

/* The backend side of the data plane's config: mode, server, our source addresses. */
static int dp_backend(struct sg_gateway *gw, struct sg_dp_conf *dc, int be)
{
	const struct sg_config *cfg = &gw->cfg;
	/* The first server; our source addresses are the backend port's ones of its family. */
	const struct sg_cfg_endpoint *srv =
	        cfg->backend.n_servers ? &cfg->backend.servers[0] : NULL;
	const struct sg_dp_port_conf *bp = &dc->ports[dc->n_ports - 1];
	unsigned n;

	dc->backend_mode =
	        cfg->backend.mode == SG_BACKEND_PROXY ? SG_DP_BACKEND_PROXY : SG_DP_BACKEND_UDP;
	dc->port_base = (uint16_t)cfg->backend.source_port_first;
	dc->ports_per_addr = (uint16_t)RTE_MIN(cfg->backend.source_port_count, 65535u);
	dc->backend_family = srv && srv->family == AF_INET6 ? 6 : 4;
	if (srv) {
		memcpy(dc->backend_addr, srv->addr, dc->backend_family == 4 ? 4 : 16);
		dc->backend_port = srv->port;
	}
	/* udp mode: the source pool's prefix of the server's family, when there is one. */
	for (uint32_t j = 0; j < cfg->backend.n_source_pool && srv != NULL; j++)
		if (cfg->backend.source_pool[j].family == srv->family &&
		    dc->backend_mode == SG_DP_BACKEND_UDP) {
			dc->pool_len = cfg->backend.source_pool[j].len;
			memcpy(dc->pool_addr, cfg->backend.source_pool[j].addr, 16);
		}
	n = dc->backend_family == 4 ? bp->ifc.n_ip4 : bp->ifc.n_ip6;
	for (unsigned a = 0; a < n; a++)
		memcpy(dc->local_addr[dc->n_local++],
		       dc->backend_family == 4 ? bp->ifc.ip4[a] : bp->ifc.ip6[a],
		       dc->backend_family == 4 ? 4 : 16);
	if (srv != NULL && dc->n_local == 0) {
		SG_LOG(MAIN, ERR,
		       "port %s has no IPv%u address to reach the backend servers from: add one "
		       "to its addresses",
		       gw->ports.port[be].cfg->name, dc->backend_family);
		return -EINVAL;
	}
	return 0;
}

/* udp mode: how many sessions the backend side carries, said at every start (config.md). */
static void backend_capacity(const struct sg_gateway *gw, uint32_t capacity)
{
	uint64_t addrs, sessions;

	if (sg_config_backend_capacity(&gw->cfg, &addrs, &sessions) != 0)
		return;
	if (sessions < capacity)
		SG_LOG(MAIN, WARNING,
		       "backend: udp mode carries %" PRIu64 " sessions (%" PRIu64
		       " source address(es) x %u ports), fewer than sessions.capacity %u: "
		       "sessions past it are refused (install_failed); add backend.source_pool",
		       sessions, addrs, gw->cfg.backend.source_port_count, capacity);
	else
		SG_LOG(MAIN, INFO,
		       "backend: udp mode carries %" PRIu64 " sessions (%" PRIu64
		       " source address(es) x %u ports), sessions.capacity %u",
		       sessions, addrs, gw->cfg.backend.source_port_count, capacity);
}

/* What the operator should know about the backend the data plane got. */
static void backend_warnings(const struct sg_gateway *gw, int dev, int be, uint32_t capacity)
{
	const struct sg_config *cfg = &gw->cfg;
	const struct sg_cfg_endpoint *srv =
	        cfg->backend.n_servers ? &cfg->backend.servers[0] : NULL;
	char ep[64];

	backend_capacity(gw, capacity);
	if (srv == NULL) {
		SG_LOG(MAIN, WARNING,
		       "backend.servers is empty: application records will be dropped "
		       "(backend_unknown)");
	} else if (be == dev) {
		/* Said at every start: the trust the config grants is not the default. */
		SG_LOG(MAIN, WARNING,
		       "backend.trust_device_network: the device network is trusted: the backend "
		       "server's replies are taken on device port %s, so anyone there who can "
		       "send from %s reaches the devices as the application%s",
		       gw->ports.port[dev].cfg->name, sg_cfg_endpoint_str(srv, ep, sizeof(ep)),
		       cfg->backend.mode == SG_BACKEND_PROXY
		               ? " if they also hold a session's token (proxy mode)"
		               : "");
	}
}

/* The session table and the data plane over the started ports. */
static int dataplane_setup(struct sg_gateway *gw)
{
	const struct sg_config *cfg = &gw->cfg;
	struct gw_ports *ps = &gw->ports;
	struct sg_dp_conf dc = { 0 };
	uint32_t capacity = 0;
	int dev = -1, be = -1, rc;

	rc = sessions_setup(gw, &capacity);
	if (rc == 0)
		rc = pick_roles(gw, &dev, &be);
	if (rc != 0)
		return rc;
	dc.n_workers = ps->n_workers;
	dc.n_ports = be == dev ? 1 : 2;
	dp_port(&ps->port[dev],
	        be == dev ? SG_DP_ROLE_DEVICE | SG_DP_ROLE_BACKEND : SG_DP_ROLE_DEVICE,
	        &dc.ports[0]);
	ps->port[dev].dp_index = 0;
	if (be != dev) {
		dp_port(&ps->port[be], SG_DP_ROLE_BACKEND, &dc.ports[1]);
		ps->port[be].dp_index = 1;
	}
	dc.dtls_port = (uint16_t)ps->port[dev].cfg->udp_port;
	dc.burst = cfg->workers.burst;
	/* One handshake queue per engine (control/hsplane): a client's datagrams reach one. */
	dc.n_hs_queues = RTE_MAX(cfg->handshake.threads, 1u);
	dc.auth_fail_limit = cfg->policy.auth_failure_limit;
	dc.max_records_per_dgram = 8;
	rc = dp_backend(gw, &dc, be);
	if (rc != 0)
		return rc;
	/* RFC 9146 §6: a CID device's new address is checked first (config.md, peer_move). */
	dc.peer_move = cfg->sessions.peer_move == SG_PEER_MOVE_UNVERIFIED
	                       ? SG_DP_PEER_MOVE_UNVERIFIED
	                       : SG_DP_PEER_MOVE_VERIFIED;
	/* Sequence floors to the session store through the punt ring (store.c); 0: none. */
	if (ps->sessions != NULL && gw->store.st != NULL) {
		dc.seq_step = cfg->store.seq_step;
		dc.seq_interval_s = (uint32_t)cfg->store.seq_interval;
	}
	dc.sessions = ps->sessions;
	dc.pool = ps->pool;
	ps->dp = sg_dp_create(&dc);
	if (ps->dp == NULL) {
		SG_LOG(MAIN, ERR, "data plane: %s", strerror(errno));
		return -errno;
	}
	backend_warnings(gw, dev, be, capacity);
	SG_LOG(DP, INFO,
	       "data plane: %u worker(s), devices on %s (DTLS port %u), backend %s mode via %s, "
	       "session table of %u",
	       ps->n_workers, ps->port[dev].cfg->name, dc.dtls_port,
	       sg_backend_mode_name(cfg->backend.mode), ps->port[be].cfg->name, capacity);
	return 0;
}

int gw_ports_create(struct sg_gateway *gw)
{
	const struct sg_config *cfg = &gw->cfg;
	struct gw_ports *ps = &gw->ports;
	int rc;

	rc = pick_workers(gw);
	if (rc < 0)
		return rc;
	if (rc > SG_DP_WORKERS_MAX) {
		SG_LOG(MAIN, ERR, "%d worker lcores: at most %d", rc, SG_DP_WORKERS_MAX);
		return -E2BIG;
	}
	ps->n_workers = (unsigned)rc;
	ps->pool = rte_pktmbuf_pool_create("sg_mbufs", cfg->mbufs.count, cfg->mbufs.cache, 0,
	                                   RTE_MBUF_DEFAULT_BUF_SIZE, (int)rte_socket_id());
	if (ps->pool == NULL) {
		rc = -rte_errno;
		SG_LOG(MAIN, ERR, "mbuf pool of %u: %s%s", cfg->mbufs.count,
		       rte_strerror(rte_errno),
		       gw->info.no_huge ? " (without hugepages EAL has 64 MiB unless -m says more)"
		                        : "");
		return rc;
	}
	for (unsigned i = 0; i < cfg->n_ports; i++) {
		ps->port[i].cfg = &gw->cfg.ports[i];
		ps->port[i].dp_index = -1;
		ps->n_ports = i + 1;
		rc = port_setup(gw, i);
		if (rc != 0)
			return rc;
	}
	/* The first poll asks at once: restored sessions' records go up from the start. */
	ps->resolve_ns = sg_mono_ns() - SG_NS_PER_SEC;
	return dataplane_setup(gw);
}

void gw_ports_destroy(struct sg_gateway *gw)
{
	struct gw_ports *ps = &gw->ports;

	/* The data plane (it frees the mbufs it holds), then the table it read. */
	sg_dp_destroy(ps->dp);
	sg_sess_table_destroy(ps->sessions);
	for (unsigned i = ps->n_ports; i-- > 0;) {
		struct gw_port *p = &ps->port[i];

		if (p->started) {
			int rc = rte_eth_dev_stop(p->port_id);
			if (rc != 0)
				SG_LOG(MAIN, WARNING, "port %s: stop: %s", p->cfg->name,
				       rte_strerror(-rc));
		}
		if (p->dev_name[0] != '\0' && p->driver != NULL)
			rte_eth_dev_close(p->port_id);
	}
	/* After the ports: their queues held mbufs of the pool. Every one must be back. */
	if (ps->pool != NULL) {
		unsigned avail = rte_mempool_avail_count(ps->pool), size = ps->pool->size;

		if (avail == size)
			SG_LOG(MAIN, INFO, "mbuf pool: all %u mbufs back", size);
		else
			SG_LOG(MAIN, WARNING, "mbuf pool: %u of %u mbufs back, %u lost", avail,
			       size, size - avail);
	}
	rte_mempool_free(ps->pool);
}

void gw_ports_resolve_peers(struct sg_gateway *gw)
{
	gw->ports.peers_cursor = 0;
	gw->ports.peers_pending = true;
}

/*
 * A slice of the table's sessions: each peer's next hop on the device port
 * (data plane port 0) solicited when unknown. The data plane asks each next
 * hop at most once a second, so devices behind one router cost one request.
 */
static void resolve_peers(struct sg_gateway *gw)
{
	struct gw_ports *ps = &gw->ports;
	struct sg_sess_info in;

	for (unsigned i = 0; i < PEERS_PER_POLL; i++) {
		bool v4;

		if (sg_sess_next(ps->sessions, &ps->peers_cursor, &in) != 0) {
			ps->peers_pending = false;
			return;
		}
		v4 = sg_ip6_is_v4_mapped(in.tuple.paddr);
		sg_dp_ctl_solicit(ps->dp, 0, v4 ? 4 : 6, v4 ? in.tuple.paddr + 12 : in.tuple.paddr);
	}
}

void gw_ports_poll(struct sg_gateway *gw, uint64_t now_ns)
{
	if (now_ns - gw->ports.resolve_ns >= SG_NS_PER_SEC) {
		gw->ports.resolve_ns = now_ns;
		sg_dp_ctl_resolve(gw->ports.dp);
	}
	if (gw->ports.peers_pending)
		resolve_peers(gw);
}
