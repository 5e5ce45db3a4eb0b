/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The running gateway as the control plane sees it: the mbuf pool, the
 * ports (configured and started from the config), the session table, the
 * data plane (dataplane.h) with one worker per worker lcore, the control
 * plane's share of the data plane's work (punted packets, neighbours), and
 * the control commands that report them (version, status, ports, shutdown).
 *
 * The DTLS handshake server is not wired in yet (issue 6): punted handshake
 * datagrams and records of unknown sessions are counted as unserved and
 * freed, and `status` says so.
 */
#ifndef STORMGATE_CONTROL_SG_GATEWAY_H
#define STORMGATE_CONTROL_SG_GATEWAY_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include <stormgate/dataplane.h>

#include "sg_config.h"
#include "sg_cred.h"
#include "sg_ctl.h"

#ifdef __cplusplus
extern "C" {
#endif

/* How EAL was started, for `status`. */
struct sg_gateway_info {
	int no_huge;       /* running on ordinary memory */
	int no_huge_added; /* ... chosen by us because no hugepages were available */
};

/* Received traffic of one port, as its driver counts it. */
struct sg_gw_port_totals {
	uint64_t rx_packets;
	uint64_t rx_bytes;
};

struct sg_gateway;

/*
 * After rte_eal_init(): create the mbuf pool, find, configure and start
 * every port of cfg (copied), and assign their RX queues to the worker
 * lcores. Returns the gateway or NULL with errno (the reason is logged).
 * Main lcore.
 */
struct sg_gateway *sg_gateway_create(const struct sg_config *cfg,
                                     const struct sg_gateway_info *info);

/* Launch the polling loop on every worker lcore. Returns 0 or -errno. Main lcore. */
int sg_gateway_start(struct sg_gateway *gw);

/* Ask the workers to stop and wait for them. Idempotent. Main lcore. */
void sg_gateway_stop(struct sg_gateway *gw);

/* Stop (if needed), stop and close the ports, free the pool. NULL is fine. Main lcore. */
void sg_gateway_destroy(struct sg_gateway *gw);

/*
 * Let `status` report the credential store and control socket; the
 * gateway does not own them. Main lcore, before the control socket serves.
 */
void sg_gateway_attach(struct sg_gateway *gw, struct sg_cred *cred, struct sg_ctl_server *ctl);

/* Set by the `shutdown` command; the main loop polls it. Control thread. */
int sg_gateway_shutdown_requested(const struct sg_gateway *gw);

/* What a port's driver received (rte_eth_stats). Control thread. */
void sg_gateway_port_totals(const struct sg_gateway *gw, unsigned port,
                            struct sg_gw_port_totals *t);

/* Number of ports and workers; fixed once created. Any thread. */
unsigned sg_gateway_n_ports(const struct sg_gateway *gw);
unsigned sg_gateway_n_workers(const struct sg_gateway *gw);

/*
 * One-line live status (no newline) with per-second rates since the last
 * call, e.g. "[   5s] dev0 up 10 Gbps rx 12 (+4/s) | fwd 0/0 punted 12 | dropped 3
 * (udp_port 3)". Control thread.
 */
void sg_gateway_status_line(struct sg_gateway *gw, char *buf, size_t len);

/*
 * The control plane's share of the data plane's work, called from the main
 * loop every millisecond or so: take punted packets (answer ARP and
 * neighbour discovery, end sessions whose device sent an alert, count the
 * handshakes no server takes yet), solicit unknown next hops once a second,
 * reclaim what the workers no longer see. Control thread.
 */
void sg_gateway_poll(struct sg_gateway *gw);

/* Data-plane counters summed over the workers. Control thread. */
void sg_gateway_dp_totals(const struct sg_gateway *gw, struct sg_dp_counters *c);

/*
 * The control command table (docs/control.md): version, status, ports,
 * shutdown, stats, sessions.*, credentials.*, policy.*; ctx is the gateway.
 * Handlers run on the control thread (main lcore).
 */
extern const struct sg_ctl_cmd sg_gateway_cmds[];
extern const size_t sg_gateway_n_cmds;

/* The control server's on_close (ctx: the gateway): ends what the client left running. */
void sg_gateway_ctl_closed(void *ctx, uint64_t client);

/*
 * Register the gateway's statistics with DPDK telemetry (/stormgate/...
 * commands of dpdk-telemetry.py) once per process, and refresh the snapshot
 * they read (every few hundred ms from the main loop). The telemetry
 * thread reads only the snapshot, under a lock, never the gateway itself.
 * Control thread. Register returns 0 or -errno.
 */
int sg_gateway_telemetry_register(void);
void sg_gateway_telemetry_update(struct sg_gateway *gw);
/* Stop serving the snapshot (before the gateway is destroyed). */
void sg_gateway_telemetry_clear(void);

#ifdef __cplusplus
}
#endif

#endif /* STORMGATE_CONTROL_SG_GATEWAY_H */
