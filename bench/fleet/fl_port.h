/* SPDX-License-Identifier: Apache-2.0 */
/*
 * stormgate-fleet's DPDK side: the mbuf pool (a struct sg_fl_buf in each
 * mbuf's private area), the two ports (0: devices, 1: application server;
 * net_memif by default, net_af_packet alike), RX bursts handed to the core
 * and TX bursts of what it sends. Main lcore (one lcore runs the fleet).
 */
#ifndef STORMGATE_FL_PORT_H
#define STORMGATE_FL_PORT_H

#include <stdint.h>

#include <rte_mbuf.h>

#include "fl_buf.h"
#include "fl_opts.h"

#define SG_FL_RX_DESC 1024
#define SG_FL_TX_DESC 1024
#define SG_FL_BURST   32

struct sg_fl_ports {
	struct rte_mempool *pool;
	uint16_t port[SG_FL_PORT_MAX];
	unsigned n_ports; /* started */
	uint8_t mac[SG_FL_PORT_MAX][6];
	unsigned n_tx[SG_FL_PORT_MAX];
	struct rte_mbuf *tx[SG_FL_PORT_MAX][SG_FL_BURST];
	uint64_t tx_dropped; /* the TX ring full for a whole burst: freed, counted */
	uint64_t rx_segmented;
	uint64_t restarts; /* ports started again after their link went down */
};

/*
 * Mbufs for conf: what the delay lines hold at once (handshakes in flight
 * x 3 datagrams, requests in flight both ways: aggregate rate x longest
 * round trip x 2) plus the rings and bursts, as 2^k - 1; conf->mbufs when given.
 */
unsigned sg_fl_mbufs(const struct sg_fl_conf *conf);

/* Pool and ports up, links waited for (up to 5 s). Returns 0 or -errno (message on stderr). */
int sg_fl_ports_init(struct sg_fl_ports *p, const struct sg_fl_conf *conf);

/* The core's struct sg_fl_io over p. */
struct sg_fl_io sg_fl_ports_io(struct sg_fl_ports *p);

/* Up to SG_FL_BURST frames of port into bufs; returns how many. */
unsigned sg_fl_ports_rx(struct sg_fl_ports *p, enum sg_fl_port port, struct sg_fl_buf **bufs);

/*
 * Once a second: a port whose link is down is stopped and started again. A
 * memif client connects only when started, so after the server (stormgate)
 * restarted this is how the fleet finds it again; for af_packet it is harmless.
 */
void sg_fl_ports_watch(struct sg_fl_ports *p);

/* Send what is queued on both ports (what a full ring refuses waits for the next call). */
void sg_fl_ports_flush(struct sg_fl_ports *p);

/* Stop and close the ports, free the pool. */
void sg_fl_ports_fini(struct sg_fl_ports *p);

#endif /* STORMGATE_FL_PORT_H */
