/* SPDX-License-Identifier: Apache-2.0 */
/* Internals of the gateway shared by gateway.c and gateway_cmds.c only. */
#ifndef STORMGATE_CONTROL_GATEWAY_PRIV_H
#define STORMGATE_CONTROL_GATEWAY_PRIV_H

#include <stdint.h>

#include <rte_ether.h>
#include <rte_ethdev.h>
#include <rte_mempool.h>

#include "sg_gateway.h"

#define GW_RXQ_MAX 64 /* RX queues one worker polls */

struct gw_port {
	const struct sg_cfg_port *cfg; /* in gw->cfg */
	uint16_t port_id;
	char dev_name[RTE_ETH_NAME_MAX_LEN];
	const char *driver;
	uint16_t nb_rxq, nb_txq, nb_rxd, nb_txd;
	uint16_t mtu;
	struct rte_ether_addr mac;
	int started;
};

struct gw_rxq {
	uint16_t port_id;
	uint16_t queue;
	uint16_t idx; /* index in gw->ports and in the counters */
};

struct gw_counters {
	uint64_t rx_packets;
	uint64_t rx_bytes;
	uint64_t drops[SG_GW_DROP_MAX];
};

/*
 * One worker lcore. The counters are written by that lcore only (relaxed
 * atomic stores, so the control thread's reads are well defined) and start
 * on their own cache line, away from the read-only queue list.
 */
struct gw_worker {
	struct sg_gateway *gw;
	unsigned lcore;
	unsigned n_rxq;
	struct gw_rxq rxq[GW_RXQ_MAX];
	struct {
		struct gw_counters port[SG_CFG_PORTS_MAX];
		uint64_t polls;
		uint64_t idle_polls;
	} stats __rte_cache_aligned;
} __rte_cache_aligned;

struct sg_gateway {
	struct sg_config cfg;
	struct sg_gateway_info info;
	struct rte_mempool *pool;
	unsigned n_ports;
	struct gw_port ports[SG_CFG_PORTS_MAX];
	unsigned n_workers;
	struct gw_worker *workers; /* rte_zmalloc'd, cache aligned */
	int stop;                  /* atomic: workers leave their loop */
	int running;
	int shutdown_requested;
	uint64_t start_ns; /* CLOCK_MONOTONIC when the ports came up */
	struct sg_cred *cred;
	struct sg_ctl_server *ctl;
	/* previous status line, for rates */
	uint64_t last_ns;
	uint64_t last_rx[SG_CFG_PORTS_MAX];
};

uint64_t gw_now_ns(void);

/* "10 Gbps", "100 Mbps", "unknown" (rte_eth_link_speed_to_str() is experimental in 22.11). */
const char *gw_speed_str(uint32_t mbps, char *buf, size_t len);

#endif /* STORMGATE_CONTROL_GATEWAY_PRIV_H */
