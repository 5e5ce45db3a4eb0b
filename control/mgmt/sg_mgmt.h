/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Management: the commands of the control socket (docs/control.md) and DPDK
 * telemetry, over the gateway's seam (sg_gateway.h) and the credential
 * store. Today it runs on the gateway thread (the main lcore's loop calls
 * the control server, whose handlers are these); every gateway function it
 * calls is listed in sg_gateway.h, "management's seam", so it can move to a
 * thread of its own behind a queue.
 */
#ifndef STORMGATE_CONTROL_SG_MGMT_H
#define STORMGATE_CONTROL_SG_MGMT_H

#include <stddef.h>
#include <stdint.h>

#include "sg_cred.h"
#include "sg_ctl.h"
#include "sg_gateway.h"

#ifdef __cplusplus
extern "C" {
#endif

struct sg_mgmt;

/*
 * Management of gw with the credential store cred (NULL: none; neither is
 * owned). Returns NULL with errno. The gateway thread (main lcore).
 */
struct sg_mgmt *sg_mgmt_create(struct sg_gateway *gw, struct sg_cred *cred);

/* Abort an import still running (nothing imported), free. NULL is fine. */
void sg_mgmt_destroy(struct sg_mgmt *m);

/* The control server whose commands these are (client ids, its counters); NULL detaches. */
void sg_mgmt_attach(struct sg_mgmt *m, struct sg_ctl_server *ctl);

/*
 * The command table (docs/control.md): version, status, ports, shutdown,
 * stats, sessions.*, credentials.*, policy.*; ctx is the struct sg_mgmt.
 * Handlers run on the thread that runs the control server.
 */
extern const struct sg_ctl_cmd sg_mgmt_cmds[];
extern const size_t sg_mgmt_n_cmds;

/* The control server's on_close (ctx: the struct sg_mgmt): ends what the client left running. */
void sg_mgmt_ctl_closed(void *ctx, uint64_t client);

/*
 * The gateway thread's share of management, each loop: one step of what a
 * command on the management thread waits for it to do (end a replaced
 * credential's sessions, fail its handshakes; revoke.c). Never blocks;
 * returns 1 when a step ran. The fd polls readable while such a call waits.
 * The thread that created m is the gateway thread.
 */
unsigned sg_mgmt_gateway_poll(struct sg_mgmt *m);
int sg_mgmt_gateway_fd(const struct sg_mgmt *m);

/* Set by the `shutdown` command; the main loop polls it. Any thread. */
int sg_mgmt_shutdown_requested(const struct sg_mgmt *m);

/*
 * Register the statistics with DPDK telemetry (/stormgate/... commands of
 * dpdk-telemetry.py) once per process, and refresh the snapshot they read
 * (every few hundred ms from the main loop). The telemetry thread reads only
 * the snapshot, under a lock, never the gateway itself. Register returns 0
 * or -errno. Clear stops serving the snapshot (before the gateway goes).
 */
int sg_mgmt_telemetry_register(void);
void sg_mgmt_telemetry_update(struct sg_mgmt *m);
void sg_mgmt_telemetry_clear(void);

#ifdef __cplusplus
}
#endif

#endif /* STORMGATE_CONTROL_SG_MGMT_H */
