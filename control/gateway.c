/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Gateway runtime: mbuf pool, ports, session table and the data plane
 * (dataplane/pipeline) running on the worker lcores, and the control
 * plane's share of its work (punted packets, neighbours, reclamation).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <sys/socket.h>

#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_ethdev.h>
#include <rte_launch.h>
#include <rte_lcore.h>
#include <rte_malloc.h>
#include <rte_mbuf.h>

#include <openssl/rand.h>

#include <stormgate/common.h>
#include <stormgate/dtls.h>
#include <stormgate/proxy_v2.h>

#include "gateway_priv.h"
#include "sg_log.h"

uint64_t gw_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

const char *gw_speed_str(uint32_t mbps, char *buf, size_t len)
{
	if (mbps == RTE_ETH_SPEED_NUM_NONE || mbps == RTE_ETH_SPEED_NUM_UNKNOWN)
		snprintf(buf, len, "unknown");
	else if (mbps >= 1000 && mbps % 1000 == 0)
		snprintf(buf, len, "%u Gbps", mbps / 1000);
	else
		snprintf(buf, len, "%u Mbps", mbps);
	return buf;
}

static int port_setup(struct sg_gateway *gw, unsigned idx)
{
	struct gw_port *p = &gw->ports[idx];
	const struct sg_cfg_port *pc = p->cfg;
	struct rte_eth_conf conf;
	struct rte_eth_dev_info info;
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

	/* Worker w polls queue w: more queues than workers would never be read. */
	nb_rxq = (uint16_t)(pc->rx_queues && pc->rx_queues < gw->n_workers ? pc->rx_queues
	                                                                   : gw->n_workers);
	if (nb_rxq > info.max_rx_queues) {
		SG_LOG(MAIN, NOTICE, "port %s: %s offers %u RX queue(s), using %u instead of %u",
		       pc->name, info.driver_name, info.max_rx_queues, info.max_rx_queues, nb_rxq);
		nb_rxq = info.max_rx_queues;
	}
	/* Every worker sends on a TX queue of its own (no locks on the fast path). */
	nb_txq = (uint16_t)gw->n_workers;
	if (nb_rxq == 0 || info.max_tx_queues < nb_txq) {
		SG_LOG(MAIN, ERR,
		       "port %s: %s offers %u RX / %u TX queue(s); each of the %u worker(s) needs "
		       "a "
		       "TX queue of its own (fewer workers, or a driver option for more queues, "
		       "e.g. qpairs= for net_af_packet)",
		       pc->name, info.driver_name, info.max_rx_queues, info.max_tx_queues,
		       gw->n_workers);
		return -ENOTSUP;
	}

	memset(&conf, 0, sizeof(conf));
	if (nb_rxq > 1 && info.flow_type_rss_offloads != 0) {
		/* Spread flows over the workers; one flow (one session) stays on one worker. */
		conf.rxmode.mq_mode = RTE_ETH_MQ_RX_RSS;
		conf.rx_adv_conf.rss_conf.rss_hf =
		        (RTE_ETH_RSS_IP | RTE_ETH_RSS_UDP) & info.flow_type_rss_offloads;
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
	int socket = rte_eth_dev_socket_id(p->port_id);
	if (socket < 0)
		socket = (int)rte_socket_id();
	for (uint16_t q = 0; q < nb_rxq; q++) {
		rc = rte_eth_rx_queue_setup(p->port_id, q, p->nb_rxd, (unsigned)socket, NULL,
		                            gw->pool);
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

	char mac[RTE_ETHER_ADDR_FMT_SIZE];
	rte_ether_format_addr(mac, sizeof(mac), &p->mac);
	SG_LOG(MAIN, INFO, "port %s (%s, %s): ethdev %u %s, %u RX / %u TX queue(s), mac %s, mtu %u",
	       pc->name, sg_port_role_name(pc->role), p->driver, p->port_id, p->dev_name, nb_rxq,
	       nb_txq, mac, p->mtu);
	return 0;
}

/* The worker lcores: the config's list, or the first `count` EAL gave us (0: all). */
static int pick_workers(struct sg_gateway *gw, unsigned lcores[RTE_MAX_LCORE])
{
	const struct sg_cfg_workers *wc = &gw->cfg.workers;
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

/* Data-plane view of one port: MAC, addresses, role. */
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
}

/* The session table and the data plane over the started ports. */
static int dataplane_setup(struct sg_gateway *gw)
{
	const struct sg_config *cfg = &gw->cfg;
	struct sg_sess_params sp = { 0 };
	struct sg_dp_conf dc = { 0 };
	int dev = -1, be = -1;
	const struct sg_cfg_endpoint *srv;

	sp.capacity = (uint32_t)RTE_MIN(cfg->sessions.capacity, (uint64_t)SG_SESS_CAPACITY_MAX);
	sp.replay_window = (uint16_t)cfg->sessions.replay_window;
	sp.cid_len = (uint8_t)(cfg->sessions.cid_length >= SG_SESS_CID_LEN_MIN &&
	                                       cfg->sessions.cid_length <= SG_SESS_CID_LEN_MAX
	                               ? cfg->sessions.cid_length
	                               : 0);
	sp.max_threads = (uint16_t)gw->n_workers;
	/* Spare SAs for re-keyed sessions' previous keys; half may wait out rekey_grace. */
	sp.sa_reserve = RTE_MAX(sp.capacity / 64, 256u);
	gw->sessions = sg_sess_table_create(&sp);
	if (gw->sessions == NULL) {
		SG_LOG(MAIN, ERR, "session table of %u: %s", sp.capacity, strerror(errno));
		return -errno;
	}
	gw->retire_cap = sp.sa_reserve / 2;
	gw->retire = calloc(gw->retire_cap, sizeof(*gw->retire));
	if (gw->retire == NULL)
		return -ENOMEM;

	/*
	 * The device port, and the backend port (sg_config_backend_port(): the one
	 * backend.port names, else the first with role backend). Without one the
	 * device port carries the backend too, which the config allows only with
	 * backend.trust_device_network (or without servers).
	 */
	for (unsigned i = 0; i < gw->n_ports; i++)
		if (dev < 0 && gw->ports[i].cfg->role == SG_PORT_DEVICE)
			dev = (int)i;
	if (dev < 0) {
		SG_LOG(MAIN, ERR,
		       "no port with role device: the data plane has no devices to serve");
		return -EINVAL;
	}
	be = sg_config_backend_port(cfg);
	if (be < 0)
		be = dev;
	dc.n_workers = gw->n_workers;
	dc.n_ports = be == dev ? 1 : 2;
	dp_port(&gw->ports[dev],
	        be == dev ? SG_DP_ROLE_DEVICE | SG_DP_ROLE_BACKEND : SG_DP_ROLE_DEVICE,
	        &dc.ports[0]);
	gw->ports[dev].dp_index = 0;
	if (be != dev) {
		dp_port(&gw->ports[be], SG_DP_ROLE_BACKEND, &dc.ports[1]);
		gw->ports[be].dp_index = 1;
	}
	dc.dtls_port = (uint16_t)gw->ports[dev].cfg->udp_port;
	dc.burst = cfg->workers.burst;
	dc.auth_fail_limit = cfg->policy.auth_failure_limit;
	dc.max_records_per_dgram = 8;
	dc.backend_mode =
	        cfg->backend.mode == SG_BACKEND_PROXY ? SG_DP_BACKEND_PROXY : SG_DP_BACKEND_UDP;
	dc.port_base = (uint16_t)cfg->backend.source_port_first;
	dc.ports_per_addr = (uint16_t)RTE_MIN(cfg->backend.source_port_count, 65535u);
	/* The first server; our source addresses are the backend port's ones of its family. */
	srv = cfg->backend.n_servers ? &cfg->backend.servers[0] : NULL;
	dc.backend_family = srv && srv->family == AF_INET6 ? 6 : 4;
	if (srv) {
		memcpy(dc.backend_addr, srv->addr, dc.backend_family == 4 ? 4 : 16);
		dc.backend_port = srv->port;
	}
	{
		const struct sg_dp_port_conf *bp = &dc.ports[dc.n_ports - 1];
		unsigned n = dc.backend_family == 4 ? bp->ifc.n_ip4 : bp->ifc.n_ip6;

		for (unsigned a = 0; a < n; a++)
			memcpy(dc.local_addr[dc.n_local++],
			       dc.backend_family == 4 ? bp->ifc.ip4[a] : bp->ifc.ip6[a],
			       dc.backend_family == 4 ? 4 : 16);
	}
	if (srv != NULL && dc.n_local == 0) {
		SG_LOG(MAIN, ERR,
		       "port %s has no IPv%u address to reach the backend servers from: add one "
		       "to its addresses",
		       gw->ports[be].cfg->name, dc.backend_family);
		return -EINVAL;
	}
	/* RFC 9146 §6: a CID device's new address is checked first (config.md, peer_move). */
	dc.peer_move = cfg->sessions.peer_move == SG_PEER_MOVE_UNVERIFIED
	                       ? SG_DP_PEER_MOVE_UNVERIFIED
	                       : SG_DP_PEER_MOVE_VERIFIED;
	dc.sessions = gw->sessions;
	dc.pool = gw->pool;
	gw->dp = sg_dp_create(&dc);
	if (gw->dp == NULL) {
		SG_LOG(MAIN, ERR, "data plane: %s", strerror(errno));
		return -errno;
	}
	if (srv == NULL)
		SG_LOG(MAIN, WARNING,
		       "backend.servers is empty: application records will be dropped "
		       "(backend_unknown)");
	else if (be == dev) {
		char ep[64];

		/* Said at every start: the trust the config grants is not the default. */
		SG_LOG(MAIN, WARNING,
		       "backend.trust_device_network: the device network is trusted: the backend "
		       "server's replies are taken on device port %s, so anyone there who can "
		       "send from %s reaches the devices as the application%s",
		       gw->ports[dev].cfg->name, sg_cfg_endpoint_str(srv, ep, sizeof(ep)),
		       cfg->backend.mode == SG_BACKEND_PROXY
		               ? " if they also hold a session's token (proxy mode)"
		               : "");
	}
	SG_LOG(DP, INFO,
	       "data plane: %u worker(s), devices on %s (DTLS port %u), backend %s mode via %s, "
	       "session table of %u",
	       gw->n_workers, gw->ports[dev].cfg->name, dc.dtls_port,
	       sg_backend_mode_name(cfg->backend.mode), gw->ports[be].cfg->name, sp.capacity);
	return 0;
}

/* ---- the handshake server (control/handshake) on the punt ring ---- */

static struct sg_hs_time hs_now(void)
{
	struct timespec m, r;

	clock_gettime(CLOCK_MONOTONIC, &m);
	clock_gettime(CLOCK_REALTIME, &r);
	return (struct sg_hs_time){ .mono_ms = (uint64_t)m.tv_sec * 1000 +
		                               (uint64_t)m.tv_nsec / 1000000,
		                    .unix_s = (uint64_t)r.tv_sec };
}

/* RFC 4279 §2: the PSK of an identity, from the LMDB store; a disabled one is refused. */
static int hs_psk_lookup(void *ctx, const uint8_t *identity, size_t identity_len,
                         const uint8_t *sni, size_t sni_len, struct sg_hs_cred *cred)
{
	struct sg_gateway *gw = ctx;
	struct sg_cred_entry e;
	int rc;

	(void)sni;
	(void)sni_len;
	if (gw->cred == NULL)
		return -EIO;
	rc = sg_cred_get(gw->cred, identity, identity_len, &e);
	if (rc == -EINVAL)
		return -ENOENT; /* not an identity we could store: unknown, no oracle */
	if (rc != 0)
		return rc == -ENOENT ? -ENOENT : -EIO;
	if ((e.flags & SG_CRED_F_DISABLED) || e.psk_len > sizeof(cred->psk)) {
		sg_wipe(&e, sizeof(e));
		return -EACCES;
	}
	memset(cred, 0, sizeof(*cred));
	memcpy(cred->psk, e.psk, e.psk_len);
	cred->psk_len = (uint16_t)e.psk_len;
	cred->lifetime_s = gw_key_lifetime(gw, e.key_lifetime);
	sg_wipe(&e, sizeof(e));
	return 0;
}

/* Handshake flights and alerts go out through the data plane (worker 0's TX queue). */
static int hs_send(void *ctx, const struct sg_hs_peer *p, const uint8_t *data, size_t len)
{
	struct sg_gateway *gw = ctx;
	int v4 = sg_ip6_is_v4_mapped(p->paddr);

	if (len > UINT16_MAX)
		return -EMSGSIZE;
	return sg_dp_ctl_send_udp(gw->dp, 0, v4 ? 4 : 6, v4 ? p->laddr + 12 : p->laddr,
	                          rte_be_to_cpu_16(p->lport), v4 ? p->paddr + 12 : p->paddr,
	                          rte_be_to_cpu_16(p->pport), data, (uint16_t)len);
}

/* The handshake server's peer as the session table's 4-tuple (the same fields). */
static void peer_tuple(const struct sg_hs_peer *p, struct sg_sess_tuple *t)
{
	memcpy(t->laddr, p->laddr, 16);
	memcpy(t->paddr, p->paddr, 16);
	t->lport = p->lport;
	t->pport = p->pport;
}

/* Stop accepting a replaced session's previous SA once policy.rekey_grace has passed. */
static void retire_later(struct sg_gateway *gw, uint64_t id)
{
	uint64_t grace_ns = gw->cfg.policy.rekey_grace * 1000000000u;
	struct gw_retire *r;

	if (grace_ns == 0 || gw->retire_cap == 0) {
		sg_sess_retire_prev(gw->sessions, id);
		return;
	}
	if (gw->retire_len == gw->retire_cap) {
		/* A storm of re-handshakes: the oldest gets a shorter grace. */
		r = &gw->retire[gw->retire_head];
		sg_sess_retire_prev(gw->sessions, r->id);
		gw->retire_head = (gw->retire_head + 1) % gw->retire_cap;
		gw->retire_len--;
		gw->retired_early++;
	}
	r = &gw->retire[(gw->retire_head + gw->retire_len) % gw->retire_cap];
	r->id = id;
	r->at_ns = gw_now_ns() + grace_ns;
	gw->retire_len++;
}

static void retire_due(struct sg_gateway *gw, uint64_t now)
{
	while (gw->retire_len > 0) {
		const struct gw_retire *r = &gw->retire[gw->retire_head];
		int rc;

		if (r->at_ns > now)
			break;
		rc = sg_sess_retire_prev(gw->sessions, r->id);
		if (rc == -EAGAIN || rc == -EBUSY)
			break; /* the table is busy: next poll */
		gw->retire_head = (gw->retire_head + 1) % gw->retire_cap;
		gw->retire_len--;
	}
}

/* Did session id authenticate as this identity (the identity registry says)? */
static bool same_identity(struct sg_gateway *gw, uint64_t id, const uint8_t *identity, size_t len)
{
	size_t have;
	const uint8_t *p = gw->reg ? sg_sessreg_identity(gw->reg, id, &have) : NULL;

	return p != NULL && have == len && memcmp(p, identity, len) == 0;
}

/* End the sessions of this identity whose peer is at this address and port now. */
static void end_same_peer(struct sg_gateway *gw, const uint8_t *identity, size_t len,
                          const struct sg_sess_tuple *t)
{
	uint64_t ids[16];
	size_t n;

	if (gw->reg == NULL)
		return;
	n = RTE_MIN(sg_sessreg_find(gw->reg, identity, len, ids, RTE_DIM(ids)), RTE_DIM(ids));
	for (size_t i = 0; i < n; i++) {
		struct sg_sess_info in;

		if (sg_sess_get(gw->sessions, ids[i], &in) != 0 ||
		    memcmp(&in.tuple, t, sizeof(*t)) != 0)
			continue;
		sg_dp_session_detach(gw->dp, ids[i]);
		if (sg_sess_delete(gw->sessions, ids[i]) == -EAGAIN) {
			sg_sess_reclaim(gw->sessions, 1);
			sg_sess_delete(gw->sessions, ids[i]);
		}
		sg_sessreg_del(gw->reg, ids[i]);
		gw->hs_replaced++;
	}
}

/*
 * Give session id its backend side (sg_dp_session_attach()). proxy mode: with
 * a fresh token, 64 bits from OpenSSL's DRBG (a CSPRNG; rte_rand is not one),
 * which every reply of the server must echo in its PROXY header, so nobody who
 * can only spoof the server's address reaches the device. Our copy is wiped;
 * the data plane keeps its own. 0 or -errno.
 */
static int attach_backend(struct sg_gateway *gw, uint64_t id, const uint8_t *identity,
                          uint8_t id_len)
{
	uint8_t token[SG_PP2_TOKEN_LEN];
	int rc;

	if (gw->cfg.backend.mode != SG_BACKEND_PROXY)
		return sg_dp_session_attach(gw->dp, id, identity, id_len, NULL);
	rc = RAND_bytes(token, sizeof(token)) == 1 ? 0 : -EIO;
	if (rc == 0)
		rc = sg_dp_session_attach(gw->dp, id, identity, id_len, token);
	sg_wipe(token, sizeof(token));
	return rc;
}

/*
 * A handshake completed: publish the session before our Finished leaves (the
 * engine sends it after this returns), so the device's first record finds
 * it. A device that handshakes again from the same address gets its session
 * replaced (RFC 6347 §4.2.8), its identity re-attached. The owner is the
 * worker whose queue the device's datagrams reach.
 */
static int hs_install(void *ctx, const struct sg_hs_result *res)
{
	struct sg_gateway *gw = ctx;
	struct sg_sess_new s;
	uint8_t id_len = (uint8_t)RTE_MIN(res->identity_len, (uint16_t)SG_PP2_IDENTITY_MAX);
	uint64_t id;
	int rc;

	memset(&s, 0, sizeof(s));
	s.sa = res->sa;
	peer_tuple(&res->peer, &s.tuple);
	s.flags = SG_SESS_F_TUPLE;
	s.owner = gw->punt_worker;
	s.suite = res->suite;
	s.identity = res->cred_ref;
	s.backend = res->backend;
	s.expires = (uint32_t)RTE_MIN(res->expires, (uint64_t)UINT32_MAX);
	s.last_rx = (uint32_t)time(NULL); /* idle from now until its first record */
	if (res->peer_cid_len) {
		s.peer_cid = res->peer_cid;
		s.peer_cid_len = res->peer_cid_len;
	}
	if (res->cid_len) {
		/*
		 * The slot hs_cid_alloc() reserved when ServerHello named this
		 * CID. Records find the session by CID, so it is not in the
		 * 4-tuple index and its peer may move (RFC 9146 §6: the worker
		 * follows it). It has a slot of its own, so it cannot take an
		 * earlier session's place: the device's sessions at this address
		 * and port end here instead (RFC 6347 §4.2.8), their records in
		 * flight lost.
		 */
		s.cid = res->cid;
		s.flags = SG_SESS_F_CID;
		end_same_peer(gw, res->identity, res->identity_len, &s.tuple);
	}
	rc = sg_sess_insert(gw->sessions, &s, &id, NULL);
	if (rc == -EAGAIN) {
		sg_sess_reclaim(gw->sessions, 1);
		rc = sg_sess_insert(gw->sessions, &s, &id, NULL);
	}
	if (rc == -EEXIST && sg_sess_find_tuple(gw->sessions, &s.tuple, &id) == 0) {
		rc = sg_sess_replace(gw->sessions, id, res->sa);
		if (rc == 0) {
			/*
			 * The same device under the same identity keeps its backend
			 * side: in udp mode its source port, so the application's state
			 * for it (CoAP observations, LwM2M registration) survives the
			 * re-key. Another identity is another peer to the backend.
			 */
			bool same = same_identity(gw, id, res->identity, res->identity_len);

			if (!same) {
				sg_dp_session_detach(gw->dp, id);
				rc = attach_backend(gw, id, res->identity, id_len);
			}
			gw->hs_replaced++;
			/*
			 * Records under the previous keys stay welcome for rekey_grace
			 * only when they are the same identity's: another identity's
			 * would reach the backend under the new one's name.
			 */
			if (same)
				retire_later(gw, id);
			else
				sg_sess_retire_prev(gw->sessions, id);
		}
		goto out;
	}
	if (rc != 0)
		goto out;
	rc = attach_backend(gw, id, res->identity, id_len);
	if (rc != 0)
		sg_sess_delete(gw->sessions, id);
out:
	if (rc == 0) {
		gw->hs_installed++;
		gw_sess_installed(gw, id, res->identity, res->identity_len);
	} else {
		gw->hs_install_failed++;
	}
	return rc;
}

/* A CID for a handshake's ServerHello: its session will take the slot (hs_install()). */
static int hs_cid_alloc(void *ctx, const struct sg_hs_peer *peer, uint8_t *cid)
{
	struct sg_gateway *gw = ctx;

	(void)peer;
	return sg_sess_cid_reserve(gw->sessions, cid);
}

static void hs_cid_release(void *ctx, const uint8_t *cid)
{
	struct sg_gateway *gw = ctx;

	sg_sess_cid_release(gw->sessions, cid);
}

/* Storm admission, asked by the engine once the hello's cookie verified (sg_admit.h). */
static int hs_admit(void *ctx, const struct sg_hs_peer *peer)
{
	return gw_admit_peer(ctx, peer);
}

static int hs_setup(struct sg_gateway *gw)
{
	const struct sg_config *cfg = &gw->cfg;
	struct sg_hs_config hc;

	memset(&hc, 0, sizeof(hc));
	/* In-flight handshakes: four times the load at which cookies start. */
	hc.max_handshakes = RTE_MAX(1024u, cfg->policy.cookie_threshold * 4);
	for (uint32_t i = 0; i < cfg->policy.n_suites && i < SG_HS_SUITES_MAX - 1; i++)
		hc.suites[i] = cfg->policy.suites[i];
	switch (cfg->policy.cookie_mode) {
	case SG_COOKIE_ALWAYS:
		hc.cookie_policy = SG_HS_COOKIE_ALWAYS;
		break;
	case SG_COOKIE_NEVER:
		hc.cookie_policy = SG_HS_COOKIE_NEVER;
		break;
	default:
		hc.cookie_policy = SG_HS_COOKIE_UNDER_LOAD;
		break;
	}
	hc.cookie_threshold = cfg->policy.cookie_threshold;
	hc.tickets = 1;
	hc.session_lifetime_s = (uint32_t)RTE_MIN(cfg->policy.key_lifetime, (uint64_t)UINT32_MAX);
	hc.handshake_timeout_ms =
	        (uint32_t)RTE_MIN(cfg->sessions.handshake_timeout * 1000, (uint64_t)UINT32_MAX);
	hc.replay_window = (uint16_t)sg_sess_replay_window(gw->sessions);
	hc.ops = (struct sg_hs_ops){
		.ctx = gw,
		.psk_lookup = hs_psk_lookup,
		.send = hs_send,
		.install = hs_install,
		.admit = hs_admit,
	};
	if (cfg->sessions.cid_length > 0) {
		/* RFC 9146: offered to clients that ask, from the session table's scheme. */
		hc.cid_len = (uint8_t)sg_sess_cid_len(gw->sessions);
		hc.ops.cid_alloc = hs_cid_alloc;
		hc.ops.cid_release = hs_cid_release;
	}
	gw->hs_slots = hc.max_handshakes;
	gw->hs = sg_hs_engine_create(&hc);
	if (gw->hs == NULL) {
		SG_LOG(HS, ERR, "handshake server: %s", strerror(errno));
		return -errno;
	}
	SG_LOG(HS, INFO, "handshake server: %u in flight at most, cookies %s", hc.max_handshakes,
	       hc.cookie_policy == SG_HS_COOKIE_ALWAYS  ? "always"
	       : hc.cookie_policy == SG_HS_COOKIE_NEVER ? "never"
	                                                : "under load");
	return 0;
}

/*
 * An application record punted because its device had no session yet, whose
 * session a handshake installed since: in an abbreviated handshake (RFC 5077
 * §3.1) the device sends its Finished and its first record back to back, and
 * the worker met the record before we installed the session. The session's
 * worker takes it back (the one that punted it: the device's flow reaches
 * it). Returns true when it took m.
 */
static bool punt_reinject(struct sg_gateway *gw, struct rte_mbuf *m, const struct sg_hs_peer *peer,
                          const uint8_t *payload, uint16_t len)
{
	struct sg_sess_tuple t;
	uint64_t id;

	if (sg_dp_meta(gw->dp, m)->punt != SG_DP_PUNT_UNKNOWN || len < SG_DTLS_HDR_LEN ||
	    payload[0] != SG_DTLS_CT_APPLICATION_DATA)
		return false;
	peer_tuple(peer, &t);
	if (sg_sess_find_tuple(gw->sessions, &t, &id) != 0 ||
	    sg_dp_ctl_reinject(gw->dp, m, sg_dp_meta(gw->dp, m)->worker) != 0)
		return false;
	gw->punt_reinjected++;
	return true;
}

/*
 * A punted handshake datagram, or a record of no session: the handshake
 * server's. Returns true when m was handed back to the data plane instead.
 */
static bool hs_punt(struct sg_gateway *gw, struct rte_mbuf *m)
{
	struct sg_hs_peer peer;
	const uint8_t *payload;
	uint16_t len;

	if (sg_dp_punt_udp(gw->dp, m, peer.laddr, peer.paddr, &peer.lport, &peer.pport, &payload,
	                   &len) != 0) {
		gw->punt_unserved++;
		return false;
	}
	if (punt_reinject(gw, m, &peer, payload, len))
		return true;
	gw->punt_worker = sg_dp_meta(gw->dp, m)->worker;
	sg_hs_input(gw->hs, hs_now(), &peer, payload, len);
	return false;
}

struct sg_gateway *sg_gateway_create(const struct sg_config *cfg,
                                     const struct sg_gateway_info *info)
{
	unsigned lcores[RTE_MAX_LCORE];
	struct sg_gateway *gw;
	int rc;

	gw = rte_zmalloc("sg_gateway", sizeof(*gw), RTE_CACHE_LINE_SIZE);
	if (gw == NULL) {
		SG_LOG(MAIN, ERR, "out of DPDK memory for the gateway");
		errno = ENOMEM;
		return NULL;
	}
	gw->cfg = *cfg;
	gw->info = *info;

	rc = pick_workers(gw, lcores);
	if (rc < 0)
		goto fail;
	if (rc > SG_DP_WORKERS_MAX) {
		SG_LOG(MAIN, ERR, "%d worker lcores: at most %d", rc, SG_DP_WORKERS_MAX);
		rc = -E2BIG;
		goto fail;
	}
	gw->n_workers = (unsigned)rc;
	for (unsigned i = 0; i < gw->n_workers; i++)
		gw->workers[i].lcore = lcores[i];

	gw->pool = rte_pktmbuf_pool_create("sg_mbufs", cfg->mbufs.count, cfg->mbufs.cache, 0,
	                                   RTE_MBUF_DEFAULT_BUF_SIZE, (int)rte_socket_id());
	if (gw->pool == NULL) {
		rc = -rte_errno;
		SG_LOG(MAIN, ERR, "mbuf pool of %u: %s%s", cfg->mbufs.count,
		       rte_strerror(rte_errno),
		       info->no_huge ? " (without hugepages EAL has 64 MiB unless -m says more)"
		                     : "");
		goto fail;
	}

	for (unsigned i = 0; i < cfg->n_ports; i++) {
		gw->ports[i].cfg = &gw->cfg.ports[i];
		gw->ports[i].dp_index = -1;
		gw->n_ports = i + 1;
		rc = port_setup(gw, i);
		if (rc != 0)
			goto fail;
	}
	rc = dataplane_setup(gw);
	if (rc == 0)
		rc = hs_setup(gw);
	if (rc == 0)
		rc = gw_mgmt_init(gw);
	if (rc != 0)
		goto fail;
	gw->start_ns = gw->last_ns = gw->resolve_ns = gw_now_ns();
	return gw;

fail:
	sg_gateway_destroy(gw);
	errno = -rc;
	return NULL;
}

int sg_gateway_start(struct sg_gateway *gw)
{
	for (unsigned i = 0; i < gw->n_workers; i++) {
		const struct gw_worker *w = &gw->workers[i];
		int rc = rte_eal_remote_launch(sg_dp_worker_main, sg_dp_worker_arg(gw->dp, i),
		                               w->lcore);

		if (rc != 0) {
			SG_LOG(MAIN, ERR, "launch on lcore %u: %s", w->lcore, rte_strerror(-rc));
			sg_gateway_stop(gw);
			return rc;
		}
		gw->running = 1;
		SG_LOG(DP, INFO, "lcore %u runs worker %u", w->lcore, i);
	}
	return 0;
}

void sg_gateway_stop(struct sg_gateway *gw)
{
	if (!gw->running)
		return;
	sg_dp_stop(gw->dp);
	rte_eal_mp_wait_lcore();
	gw->running = 0;
}

void sg_gateway_destroy(struct sg_gateway *gw)
{
	if (gw == NULL)
		return;
	sg_gateway_stop(gw);
	/* The handshakes, the data plane (it frees the mbufs it holds), then the table it read. */
	gw_mgmt_fini(gw);
	sg_hs_engine_free(gw->hs);
	sg_dp_destroy(gw->dp);
	sg_sess_table_destroy(gw->sessions);
	free(gw->retire);
	for (unsigned i = gw->n_ports; i-- > 0;) {
		struct gw_port *p = &gw->ports[i];
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
	if (gw->pool != NULL) {
		unsigned avail = rte_mempool_avail_count(gw->pool), size = gw->pool->size;

		if (avail == size)
			SG_LOG(MAIN, INFO, "mbuf pool: all %u mbufs back", size);
		else
			SG_LOG(MAIN, WARNING, "mbuf pool: %u of %u mbufs back, %u lost", avail,
			       size, size - avail);
	}
	rte_mempool_free(gw->pool);
	rte_free(gw);
}

void sg_gateway_attach(struct sg_gateway *gw, struct sg_cred *cred, struct sg_ctl_server *ctl)
{
	gw->cred = cred;
	gw->ctl = ctl;
}

int sg_gateway_shutdown_requested(const struct sg_gateway *gw)
{
	return gw->shutdown_requested;
}

unsigned sg_gateway_n_ports(const struct sg_gateway *gw)
{
	return gw->n_ports;
}

unsigned sg_gateway_n_workers(const struct sg_gateway *gw)
{
	return gw->n_workers;
}

void sg_gateway_port_totals(const struct sg_gateway *gw, unsigned port, struct sg_gw_port_totals *t)
{
	struct rte_eth_stats st;

	memset(t, 0, sizeof(*t));
	if (port >= gw->n_ports || rte_eth_stats_get(gw->ports[port].port_id, &st) != 0)
		return;
	t->rx_packets = st.ipackets;
	t->rx_bytes = st.ibytes;
}

void sg_gateway_dp_totals(const struct sg_gateway *gw, struct sg_dp_counters *c)
{
	sg_dp_counters_sum(gw->dp, c);
}

/* An alert from a device (decrypted by its worker): close_notify or fatal ends the session. */
static void session_alert(struct sg_gateway *gw, struct rte_mbuf *m)
{
	const struct sg_dp_meta *meta = sg_dp_meta(gw->dp, m);
	const uint8_t *a = rte_pktmbuf_mtod(m, const uint8_t *);

	/* RFC 5246 §7.2: level 2 is fatal; close_notify (0) ends the connection too. */
	if (m->data_len >= 2 && (a[0] == 2 || a[1] == 0)) {
		if (sg_sess_delete(gw->sessions, meta->session) == 0) {
			sg_dp_session_detach(gw->dp, meta->session);
			gw_sess_ended(gw, meta->session);
			SG_LOG(DP, DEBUG, "session %" PRIx64 " ended by the device (alert %u/%u)",
			       meta->session, a[0], a[1]);
		}
	}
}

/*
 * A device's Finished again, authenticated by its worker under the session's
 * keys (a tls12_cid record the handshake server cannot open itself): our
 * final flight was lost, the handshake server sends it again (RFC 6347
 * §4.2.4). The flight was kept for the address the handshake came from.
 */
static void session_finished(struct sg_gateway *gw, uint64_t id)
{
	struct sg_sess_info in;
	struct sg_hs_peer peer;

	if (sg_sess_get(gw->sessions, id, &in) != 0)
		return;
	memcpy(peer.laddr, in.tuple.laddr, sizeof(peer.laddr));
	memcpy(peer.paddr, in.tuple.paddr, sizeof(peer.paddr));
	peer.lport = in.tuple.lport;
	peer.pport = in.tuple.pport;
	sg_hs_finished_again(gw->hs, hs_now(), &peer);
}

void sg_gateway_poll(struct sg_gateway *gw)
{
	struct rte_mbuf *m[SG_BURST_MAX];
	uint64_t now = gw_now_ns();
	unsigned n;

	/* Bounded per call: the control socket and the status line get their turn. */
	for (unsigned round = 0; round < 8; round++) {
		n = sg_dp_punt_dequeue(gw->dp, m, SG_BURST_MAX);
		for (unsigned i = 0; i < n; i++) {
			const struct sg_dp_meta *meta = sg_dp_meta(gw->dp, m[i]);
			unsigned why =
			        meta->punt < SG_DP_PUNT_MAX ? meta->punt : SG_DP_PUNT_UNKNOWN;

			gw->punt_taken[why]++;
			switch (why) {
			case SG_DP_PUNT_ARP:
			case SG_DP_PUNT_NDISC:
				sg_dp_ctl_neighbour(gw->dp, m[i]);
				continue;
			case SG_DP_PUNT_ALERT:
				session_alert(gw, m[i]);
				break;
			case SG_DP_PUNT_KEY_EXHAUSTED:
				gw_sess_forgery_limit(gw, meta->session);
				break;
			case SG_DP_PUNT_FINISHED:
				session_finished(gw, meta->session);
				break;
			default:
				if (hs_punt(gw, m[i]))
					continue;
				break;
			}
			rte_pktmbuf_free(m[i]);
		}
		if (n < SG_BURST_MAX)
			break;
	}
	{
		struct sg_hs_time t = hs_now();

		if (t.mono_ms >= sg_hs_next_deadline(gw->hs))
			sg_hs_tick(gw->hs, t);
	}
	retire_due(gw, now);
	gw_sess_expire(gw, (uint64_t)time(NULL));
	gw_cred_poll(gw);
	if (now - gw->resolve_ns >= 1000000000u) {
		gw->resolve_ns = now;
		sg_dp_ctl_resolve(gw->dp);
	}
	sg_sess_reclaim(gw->sessions, 0);
	sg_dp_ctl_reclaim(gw->dp);
}

void sg_gateway_status_line(struct sg_gateway *gw, char *buf, size_t len)
{
	uint64_t now = gw_now_ns();
	double dt = (double)(now - gw->last_ns) / 1e9;
	struct sg_dp_counters c;
	uint64_t dropped = 0;
	size_t off;

	sg_dp_counters_sum(gw->dp, &c);
	off = (size_t)snprintf(buf, len, "[%5" PRIu64 "s]", (now - gw->start_ns) / 1000000000u);
	for (unsigned i = 0; i < gw->n_ports && off < len; i++) {
		struct gw_port *p = &gw->ports[i];
		struct sg_gw_port_totals t;
		struct rte_eth_link link;
		char speed[32];

		sg_gateway_port_totals(gw, i, &t);
		memset(&link, 0, sizeof(link));
		rte_eth_link_get_nowait(p->port_id, &link);
		off += (size_t)snprintf(
		        buf + off, len - off, " %s %s%s rx %" PRIu64 " (+%.0f/s) |", p->cfg->name,
		        link.link_status ? "up " : "down",
		        link.link_status ? gw_speed_str(link.link_speed, speed, sizeof(speed)) : "",
		        t.rx_packets, dt > 0 ? (double)(t.rx_packets - gw->last_rx[i]) / dt : 0.0);
		gw->last_rx[i] = t.rx_packets;
	}
	for (unsigned r = 0; r < SG_DROP_MAX; r++)
		dropped += c.drop[r];
	if (off < len)
		off += (size_t)snprintf(buf + off, len - off,
		                        " fwd %" PRIu64 "/%" PRIu64 " punted %" PRIu64
		                        " | dropped %" PRIu64,
		                        c.forwarded_up, c.forwarded_down, c.punted, dropped);
	/* The three most frequent reasons. */
	for (unsigned k = 0; k < 3 && off < len; k++) {
		unsigned best = SG_DROP_MAX;

		for (unsigned r = 0; r < SG_DROP_MAX; r++)
			if (c.drop[r] && (best == SG_DROP_MAX || c.drop[r] > c.drop[best]))
				best = r;
		if (best == SG_DROP_MAX)
			break;
		off += (size_t)snprintf(buf + off, len - off, "%s%s %" PRIu64, k ? ", " : " (",
		                        sg_drop_name((enum sg_drop)best), c.drop[best]);
		c.drop[best] = 0;
	}
	if (dropped && off < len)
		off += (size_t)snprintf(buf + off, len - off, ")");
	if (gw->ctl != NULL && off < len)
		snprintf(buf + off, len - off, " | ctl clients %u", sg_ctl_server_clients(gw->ctl));
	gw->last_ns = now;
}
