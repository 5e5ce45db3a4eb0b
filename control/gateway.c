/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Gateway runtime: mbuf pool, ports, worker lcores and their counters.
 *
 * The worker loop here is the skeleton's stand-in for the data plane: it
 * receives bursts and frees them, counting each packet once as dropped with
 * reason no_dataplane. Issue 5 replaces it with the dataplane/ pipeline; it
 * already keeps the data plane's rules (no syscalls except the optional idle
 * sleep, no locks, no allocation, no logging inside the loop).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_ethdev.h>
#include <rte_launch.h>
#include <rte_lcore.h>
#include <rte_malloc.h>
#include <rte_mbuf.h>

#include <stormgate/common.h>

#include "gateway_priv.h"
#include "sg_eal.h"
#include "sg_log.h"

static const char *const drop_names[SG_GW_DROP_MAX] = {
	[SG_GW_DROP_NO_DATAPLANE] = "no_dataplane",
};

const char *sg_gw_drop_name(unsigned reason)
{
	return reason < SG_GW_DROP_MAX ? drop_names[reason] : "?";
}

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

/* Single writer: a relaxed load + store is an atomic add nobody else races. */
static inline void counter_add(uint64_t *c, uint64_t n)
{
	__atomic_store_n(c, *c + n, __ATOMIC_RELAXED);
}

static int worker_main(void *arg)
{
	struct gw_worker *w = arg;
	const struct sg_gateway *gw = w->gw;
	const uint16_t burst = (uint16_t)gw->cfg.workers.burst;
	const unsigned idle_us = gw->cfg.workers.idle_sleep_us;
	struct rte_mbuf *pkts[SG_BURST_MAX];

	while (!__atomic_load_n(&gw->stop, __ATOMIC_RELAXED)) {
		unsigned got = 0;

		for (unsigned q = 0; q < w->n_rxq; q++) {
			const struct gw_rxq *rq = &w->rxq[q];
			uint16_t n = rte_eth_rx_burst(rq->port_id, rq->queue, pkts, burst);
			struct gw_counters *c = &w->stats.port[rq->idx];
			uint64_t bytes = 0;

			if (n == 0)
				continue;
			for (uint16_t i = 0; i < n; i++)
				bytes += pkts[i]->pkt_len;
			counter_add(&c->rx_packets, n);
			counter_add(&c->rx_bytes, bytes);
			counter_add(&c->drops[SG_GW_DROP_NO_DATAPLANE], n);
			rte_pktmbuf_free_bulk(pkts, n);
			got += n;
		}
		counter_add(&w->stats.polls, 1);
		if (got == 0) {
			counter_add(&w->stats.idle_polls, 1);
			if (idle_us != 0)
				rte_delay_us_sleep(idle_us);
		}
	}
	return 0;
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

	nb_rxq = (uint16_t)(pc->rx_queues ? pc->rx_queues : gw->n_workers);
	if (nb_rxq > info.max_rx_queues) {
		SG_LOG(MAIN, NOTICE, "port %s: %s offers %u RX queue(s), using %u instead of %u",
		       pc->name, info.driver_name, info.max_rx_queues, info.max_rx_queues, nb_rxq);
		nb_rxq = info.max_rx_queues;
	}
	nb_txq = (uint16_t)RTE_MIN(gw->n_workers, info.max_tx_queues);
	if (nb_rxq == 0 || nb_txq == 0) {
		SG_LOG(MAIN, ERR, "port %s: %s has no RX or TX queue", pc->name, info.driver_name);
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
	gw->n_workers = (unsigned)rc;
	gw->workers = rte_zmalloc("sg_workers", gw->n_workers * sizeof(*gw->workers),
	                          RTE_CACHE_LINE_SIZE);
	if (gw->workers == NULL) {
		rc = -ENOMEM;
		goto fail;
	}
	for (unsigned i = 0; i < gw->n_workers; i++) {
		gw->workers[i].gw = gw;
		gw->workers[i].lcore = lcores[i];
	}

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
		gw->n_ports = i + 1;
		rc = port_setup(gw, i);
		if (rc != 0)
			goto fail;
	}

	/* Queue k of all ports, in turn, to worker k mod n: each queue has one poller. */
	unsigned k = 0;
	for (unsigned i = 0; i < gw->n_ports; i++) {
		for (uint16_t q = 0; q < gw->ports[i].nb_rxq; q++, k++) {
			struct gw_worker *w = &gw->workers[k % gw->n_workers];
			if (w->n_rxq == GW_RXQ_MAX) {
				SG_LOG(MAIN, ERR, "more than %d RX queues on lcore %u", GW_RXQ_MAX,
				       w->lcore);
				rc = -E2BIG;
				goto fail;
			}
			w->rxq[w->n_rxq++] =
			        (struct gw_rxq){ gw->ports[i].port_id, q, (uint16_t)i };
		}
	}
	gw->start_ns = gw->last_ns = gw_now_ns();
	return gw;

fail:
	sg_gateway_destroy(gw);
	errno = -rc;
	return NULL;
}

int sg_gateway_start(struct sg_gateway *gw)
{
	for (unsigned i = 0; i < gw->n_workers; i++) {
		struct gw_worker *w = &gw->workers[i];
		int rc = rte_eal_remote_launch(worker_main, w, w->lcore);

		if (rc != 0) {
			SG_LOG(MAIN, ERR, "launch on lcore %u: %s", w->lcore, rte_strerror(-rc));
			sg_gateway_stop(gw);
			return rc;
		}
		gw->running = 1;
		SG_LOG(DP, INFO,
		       "lcore %u polls %u RX queue(s) (no data plane yet: packets are "
		       "counted and dropped as no_dataplane)",
		       w->lcore, w->n_rxq);
	}
	return 0;
}

void sg_gateway_stop(struct sg_gateway *gw)
{
	if (!gw->running)
		return;
	__atomic_store_n(&gw->stop, 1, __ATOMIC_RELAXED);
	rte_eal_mp_wait_lcore();
	gw->running = 0;
}

void sg_gateway_destroy(struct sg_gateway *gw)
{
	if (gw == NULL)
		return;
	sg_gateway_stop(gw);
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
	/* After the ports: their queues held mbufs of the pool. */
	rte_mempool_free(gw->pool);
	rte_free(gw->workers);
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
	memset(t, 0, sizeof(*t));
	if (port >= gw->n_ports)
		return;
	for (unsigned i = 0; i < gw->n_workers; i++) {
		const struct gw_counters *c = &gw->workers[i].stats.port[port];

		/* Drops first: a packet is never seen dropped before it is seen received. */
		for (unsigned r = 0; r < SG_GW_DROP_MAX; r++)
			t->drops[r] += __atomic_load_n(&c->drops[r], __ATOMIC_RELAXED);
		t->rx_packets += __atomic_load_n(&c->rx_packets, __ATOMIC_RELAXED);
		t->rx_bytes += __atomic_load_n(&c->rx_bytes, __ATOMIC_RELAXED);
	}
}

void sg_gateway_status_line(struct sg_gateway *gw, char *buf, size_t len)
{
	uint64_t now = gw_now_ns();
	double dt = (double)(now - gw->last_ns) / 1e9;
	uint64_t dropped[SG_GW_DROP_MAX] = { 0 };
	size_t off;

	off = (size_t)snprintf(buf, len, "[%5" PRIu64 "s]", (now - gw->start_ns) / 1000000000u);
	for (unsigned i = 0; i < gw->n_ports && off < len; i++) {
		struct gw_port *p = &gw->ports[i];
		struct sg_gw_port_totals t;
		struct rte_eth_link link;

		sg_gateway_port_totals(gw, i, &t);
		for (unsigned r = 0; r < SG_GW_DROP_MAX; r++)
			dropped[r] += t.drops[r];
		char speed[32];

		memset(&link, 0, sizeof(link));
		rte_eth_link_get_nowait(p->port_id, &link);
		off += (size_t)snprintf(
		        buf + off, len - off, " %s %s%s rx %" PRIu64 " (+%.0f/s) |", p->cfg->name,
		        link.link_status ? "up " : "down",
		        link.link_status ? gw_speed_str(link.link_speed, speed, sizeof(speed)) : "",
		        t.rx_packets, dt > 0 ? (double)(t.rx_packets - gw->last_rx[i]) / dt : 0.0);
		gw->last_rx[i] = t.rx_packets;
	}
	for (unsigned r = 0; r < SG_GW_DROP_MAX && off < len; r++)
		off += (size_t)snprintf(buf + off, len - off, " dropped %" PRIu64 " %s", dropped[r],
		                        drop_names[r]);
	if (gw->ctl != NULL && off < len)
		snprintf(buf + off, len - off, " | ctl clients %u", sg_ctl_server_clients(gw->ctl));
	gw->last_ns = now;
}
