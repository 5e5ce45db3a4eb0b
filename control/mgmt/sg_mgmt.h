/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Management: the commands of the control socket (docs/control.md) and DPDK
 * telemetry, over the gateway's seam (sg_gateway.h) and the credential
 * store. Two threads (docs/control.md, "Threads"): the management thread
 * (thread.c) serves the control socket and runs the commands that touch
 * only the credential store; the gateway thread runs the commands that read
 * or change the gateway's state (the control server's owner queue, which it
 * polls), what the management thread's commands ask of the gateway
 * (sg_mgmt_gateway_poll()), and the telemetry snapshot.
 */
#ifndef STORMGATE_CONTROL_SG_MGMT_H
#define STORMGATE_CONTROL_SG_MGMT_H

#include <stddef.h>
#include <stdint.h>

#include "sg_config.h"
#include "sg_cred.h"
#include "sg_ctl.h"
#include "sg_gateway.h"

#ifdef __cplusplus
extern "C" {
#endif

struct sg_mgmt;

/*
 * Management of gw with the credential store cred (NULL: none; neither is
 * owned). file_policy: the policy of the configuration as the daemon read
 * it (file and command line), before the session store's live overrides
 * went over it (docs/restart.md): what `policy reset` returns keys to
 * (copied; NULL: the gateway's policy now). Loads those overrides
 * (sg_gateway_policy_overrides()). Returns NULL with errno. The gateway
 * thread (main lcore), after sg_gateway_create().
 */
struct sg_mgmt *sg_mgmt_create(struct sg_gateway *gw, struct sg_cred *cred,
                               const struct sg_cfg_policy *file_policy);

/* Join the management thread, abort an import still running (nothing imported), free. NULL is
 * fine. Gateway thread. */
void sg_mgmt_destroy(struct sg_mgmt *m);

/*
 * The control server whose commands these are (client ids, its counters);
 * NULL detaches. Not while the management thread runs. Gateway thread.
 */
void sg_mgmt_attach(struct sg_mgmt *m, struct sg_ctl_server *ctl);

/*
 * Listen for /metrics over HTTP on listen's address (nothing when off); the
 * management thread serves it (docs/control.md, "Metrics over HTTP").
 * Returns 0, or -errno when the address cannot be listened on (logged,
 * naming it): a start-up failure. The default address taken by another
 * process is only a warning (docs/config.md, "metrics"). Gateway thread,
 * before sg_mgmt_thread_start().
 */
int sg_mgmt_http_open(struct sg_mgmt *m, const struct sg_cfg_listen *listen);

/*
 * Start the management thread (a DPDK control thread, "sg-mgmt"): it serves
 * the attached control server, which must have been created with an owner
 * queue (sg_ctl_server_cfg.owner) that the gateway thread polls, as it
 * polls sg_mgmt_gateway_poll(), until the thread has ended. Returns 0 or
 * -errno. Gateway thread, after EAL.
 */
int sg_mgmt_thread_start(struct sg_mgmt *m);

/*
 * Ask the management thread to stop: it aborts an import still running
 * (nothing imported), sends the answers it has (waiting up to a second
 * for those still on the gateway thread) and ends. Returns at once; the
 * gateway thread goes on polling the owner queue and sg_mgmt_gateway_poll()
 * while sg_mgmt_thread_running() says so. Gateway thread.
 */
void sg_mgmt_thread_stop(struct sg_mgmt *m);

/* The management thread still runs (it clears this as it ends). Any thread. */
int sg_mgmt_thread_running(const struct sg_mgmt *m);

/*
 * Stop the management thread if need be and wait for it. What it still
 * asks of the gateway thread fails at once (the gateway thread no longer
 * answers). Idempotent; sg_mgmt_destroy() does it. Gateway thread.
 */
void sg_mgmt_thread_join(struct sg_mgmt *m);

/*
 * The command table (docs/control.md): version, status, ports, shutdown,
 * stats, sessions.*, credentials.*, policy.*; ctx is the struct sg_mgmt.
 * Each row says where it runs: on the control server's thread (the
 * management thread) or on the owner queue's (the gateway thread).
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

/* Set by the `shutdown` command; the gateway thread's loop polls it. Any thread. */
int sg_mgmt_shutdown_requested(const struct sg_mgmt *m);

/*
 * The clean stop's save is over: saved sessions were written in ms
 * milliseconds (sg_gateway_store_info()'s saved and save_ms after
 * sg_gateway_save(), whatever it returned). `shutdown`, which waits for this
 * (bounded) on the management thread, answers with them. The daemon calls it
 * after sg_gateway_stop() and sg_gateway_save() and before
 * sg_mgmt_thread_stop(): only then can the answer go out before the socket
 * closes (a stop first makes it answer "saving N sessions"). Harmless when
 * nobody waits (SIGTERM, --duration) or the store is off. The gateway thread.
 */
void sg_mgmt_shutdown_saved(struct sg_mgmt *m, uint64_t saved, uint64_t ms);

/*
 * Register the statistics with DPDK telemetry (/stormgate/... commands of
 * dpdk-telemetry.py) once per process, and refresh the snapshot they read
 * (every few hundred ms from the gateway thread's loop). The telemetry thread reads only
 * the snapshot, under a lock, never the gateway itself. Register returns 0
 * or -errno. Clear stops serving the snapshot (before the gateway goes).
 * Update: the gateway thread.
 */
int sg_mgmt_telemetry_register(void);
void sg_mgmt_telemetry_update(struct sg_mgmt *m);
void sg_mgmt_telemetry_clear(void);

#ifdef __cplusplus
}
#endif

#endif /* STORMGATE_CONTROL_SG_MGMT_H */
