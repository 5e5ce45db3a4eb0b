/* SPDX-License-Identifier: Apache-2.0 */
/* Internals of the gateway shared by gateway.c and gateway_cmds.c only. */
#ifndef STORMGATE_CONTROL_GATEWAY_PRIV_H
#define STORMGATE_CONTROL_GATEWAY_PRIV_H

#include <stdint.h>

#include <rte_ether.h>
#include <rte_ethdev.h>
#include <rte_mempool.h>

#include <stormgate/dataplane.h>
#include <stormgate/handshake.h>
#include <stormgate/session.h>

#include "sg_gateway.h"

struct gw_port {
	const struct sg_cfg_port *cfg; /* in gw->cfg */
	uint16_t port_id;
	char dev_name[RTE_ETH_NAME_MAX_LEN];
	const char *driver;
	uint16_t nb_rxq, nb_txq, nb_rxd, nb_txd;
	uint16_t mtu;
	struct rte_ether_addr mac;
	int started;
	int dp_index; /* index in the data plane's ports, -1: not used by it */
};

/* One worker lcore: worker i of the data plane polls RX queue i of every port. */
struct gw_worker {
	unsigned lcore;
};

struct sg_gateway {
	struct sg_config cfg;
	struct sg_gateway_info info;
	struct rte_mempool *pool;
	unsigned n_ports;
	struct gw_port ports[SG_CFG_PORTS_MAX];
	unsigned n_workers;
	struct gw_worker workers[RTE_MAX_LCORE];
	struct sg_sess_table *sessions;
	struct sg_dp *dp;
	struct sg_hs_engine *hs;    /* DTLS 1.2 handshake server */
	uint8_t punt_worker;        /* worker that punted the datagram being handled */
	uint64_t hs_installed;      /* sessions installed by a completed handshake */
	uint64_t hs_replaced;       /* ... of which replaced a device's earlier session */
	uint64_t hs_install_failed; /* refused by the session table or the data plane */
	int running;
	int shutdown_requested;
	uint64_t start_ns;   /* CLOCK_MONOTONIC when the ports came up */
	uint64_t resolve_ns; /* last neighbour resolution round */
	struct sg_cred *cred;
	struct sg_ctl_server *ctl;
	/* punted packets the control plane took (by enum sg_dp_punt) */
	uint64_t punt_taken[SG_DP_PUNT_MAX];
	uint64_t punt_unserved; /* punted datagrams nobody could take (not UDP any more) */
	/*
	 * Sessions replaced by a new handshake keep their previous SA for
	 * policy.rekey_grace (records sealed before the device switched keys
	 * may still arrive); this FIFO retires them when it ends.
	 */
	struct gw_retire {
		uint64_t id;
		uint64_t at_ns;
	} * retire;
	uint32_t retire_head, retire_len, retire_cap;
	uint64_t retired_early; /* retired before their grace ended: the FIFO was full */
	/* previous status line, for rates */
	uint64_t last_ns;
	uint64_t last_rx[SG_CFG_PORTS_MAX];
};

uint64_t gw_now_ns(void);

/* "10 Gbps", "100 Mbps", "unknown" (rte_eth_link_speed_to_str() is experimental in 22.11). */
const char *gw_speed_str(uint32_t mbps, char *buf, size_t len);

#endif /* STORMGATE_CONTROL_GATEWAY_PRIV_H */
