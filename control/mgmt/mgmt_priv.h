/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Internals of management, shared by the files of control/mgmt/ only. One
 * file per command group; each handler is a struct sg_ctl_cmd function with
 * ctx the struct sg_mgmt. Each runs on the thread its table row names
 * (cmds.c): the management thread, or the gateway thread (SG_CTL_ON_OWNER:
 * the commands that read or change the gateway's state). They touch the
 * gateway through sg_gateway.h only, and from the management thread only
 * through the calls of gw_calls.h.
 */
#ifndef STORMGATE_CONTROL_MGMT_PRIV_H
#define STORMGATE_CONTROL_MGMT_PRIV_H

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

#include "gw_calls.h"
#include "http.h"
#include "idset.h"
#include "overrides.h"
#include "sg_mgmt.h"

struct mgmt_import;

/* The management thread (thread.c). */
struct mgmt_thread {
	pthread_t tid;
	int started;
	int stop_fd; /* eventfd: the gateway thread asks it to stop */
	int running; /* it serves (atomic: it clears it as it ends) */
};

/*
 * Written by one thread, read by the other only where a field says so
 * (atomic). Set at creation and fixed while the threads run: gw, cred, ctl,
 * control, db.
 */
struct sg_mgmt {
	struct sg_gateway *gw;
	struct sg_cred *cred;      /* NULL: no store */
	struct sg_ctl_server *ctl; /* sg_mgmt_attach() */
	/* What the management thread's commands read of the config: copies, never the gateway's. */
	struct sg_cfg_control control;
	char db[sizeof(((struct sg_cfg_credentials *)0)->db)];
	/* management thread */
	struct mgmt_import *import; /* credential import in progress (import.c), NULL: none */
	struct mgmt_thread thread;
	struct mgmt_http http; /* /metrics; opened by the gateway thread before the thread starts */
	/* written by the management thread, read by the gateway thread's `stats` (atomic) */
	int import_running;
	uint64_t imports_done, imports_failed;
	/* written by `shutdown` (management thread), read by the loop (atomic) */
	int shutdown_requested;
	/* the clean stop's save: sg_mgmt_shutdown_saved() (gateway thread), `shutdown` waits */
	int store_on;      /* the gateway keeps sessions across restarts; fixed */
	int saved_fd;      /* eventfd: readable once the save is over */
	uint64_t saved;    /* sessions it wrote (atomic: set before saved_fd) */
	uint64_t saved_ms; /* how long it took (atomic: set before saved_fd) */
	/* the policy commands' (gateway thread) */
	struct sg_cfg_policy file_policy; /* as started, before the stored overrides */
	struct mgmt_ovr ovr;              /* the live overrides, as stored */
	struct mgmt_calls calls;          /* into the gateway thread (gw_calls.h) */
};

/* ---- command handlers, one file per group ---- */

/* cmd_gateway.c */
json_t *mgmt_cmd_status(void *ctx, json_t *args, struct sg_ctl_error *err);
json_t *mgmt_cmd_ports(void *ctx, json_t *args, struct sg_ctl_error *err);
/* cmd_stats.c */
json_t *mgmt_cmd_stats(void *ctx, json_t *args, struct sg_ctl_error *err);
/* cmd_sessions.c */
json_t *mgmt_cmd_sessions_count(void *ctx, json_t *args, struct sg_ctl_error *err);
json_t *mgmt_cmd_sessions_list(void *ctx, json_t *args, struct sg_ctl_error *err);
json_t *mgmt_cmd_sessions_show(void *ctx, json_t *args, struct sg_ctl_error *err);
json_t *mgmt_cmd_sessions_kill(void *ctx, json_t *args, struct sg_ctl_error *err);
/* cmd_cred.c, import.c */
json_t *mgmt_cmd_cred_add(void *ctx, json_t *args, struct sg_ctl_error *err);
json_t *mgmt_cmd_cred_remove(void *ctx, json_t *args, struct sg_ctl_error *err);
json_t *mgmt_cmd_cred_count(void *ctx, json_t *args, struct sg_ctl_error *err);
json_t *mgmt_cmd_cred_show(void *ctx, json_t *args, struct sg_ctl_error *err);
json_t *mgmt_cmd_cred_import(void *ctx, json_t *args, struct sg_ctl_error *err);
/* cmd_policy.c */
json_t *mgmt_cmd_policy_get(void *ctx, json_t *args, struct sg_ctl_error *err);
json_t *mgmt_cmd_policy_set(void *ctx, json_t *args, struct sg_ctl_error *err);
json_t *mgmt_cmd_policy_reset(void *ctx, json_t *args, struct sg_ctl_error *err);
/* cmd_store.c */
json_t *mgmt_cmd_store(void *ctx, json_t *args, struct sg_ctl_error *err);

/* cmd_tls.c: certificates and raw public keys */
json_t *mgmt_cmd_tls(void *ctx, json_t *args, struct sg_ctl_error *err);
json_t *mgmt_cmd_tls_reload(void *ctx, json_t *args, struct sg_ctl_error *err);
json_t *mgmt_cmd_rpk_add(void *ctx, json_t *args, struct sg_ctl_error *err);
json_t *mgmt_cmd_rpk_remove(void *ctx, json_t *args, struct sg_ctl_error *err);
json_t *mgmt_cmd_rpk_list(void *ctx, json_t *args, struct sg_ctl_error *err);
/* `stats`' tls object (gateway thread). */
json_t *mgmt_tls_json(struct sg_mgmt *m);
/* cmd_shutdown.c */
json_t *mgmt_cmd_shutdown(void *ctx, json_t *args, struct sg_ctl_error *err);

/* ---- shared by the commands ---- */

/*
 * The session store as `store` shows it and `stats` has it under "store"
 * (cmd_store.c; the gateway thread): {"enabled": false} when it is off;
 * NULL: out of memory.
 */
json_t *mgmt_store_json(struct sg_mgmt *m);

/*
 * The policy overrides the gateway started with, loaded at creation
 * (cmd_policy.c; the gateway thread). Logged when unreadable (none then).
 */
void mgmt_policy_init(struct sg_mgmt *m, const struct sg_cfg_policy *file_policy);

/* The statistics `stats` returns and telemetry publishes (cmd_stats.c); NULL: out of memory. */
json_t *mgmt_stats_json(struct sg_mgmt *m);

/*
 * The statistics the gateway thread last published (telemetry.c) in the
 * Prometheus text format, to out: 0, -ENODATA when none is published, or
 * -EIO. The render function of /metrics (http.h); any thread.
 */
int mgmt_metrics_render(FILE *out);

/* The traffic counters of one worker or all, as `stats` and `status` show them;
 * drops by reason (all, or the non-zero ones); punts by kind (cmd_stats.c). */
json_t *mgmt_traffic_json(const struct sg_dp_counters *c);
json_t *mgmt_drops_json(const uint64_t *drop, int nonzero_only);
json_t *mgmt_punts_json(const uint64_t punts[SG_DP_PUNT_MAX]);

/*
 * Argument helpers (args.c). mgmt_arg_identity: "identity" (a string) or
 * "identity_hex" (its bytes in hex, for identities that are not UTF-8),
 * checked as the credential store's identities into out
 * (SG_CRED_IDENTITY_MAX bytes); returns its length, 0 when neither is given,
 * -EINVAL (err filled) when malformed. mgmt_args_known: -EINVAL (err filled)
 * for a member of args not in names (NULL-terminated), so a typo never
 * widens a kill. mgmt_arg_int: an integer (or its decimal string, as stormctl
 * sends KEY=VALUE) in min..max, def when absent.
 */
int mgmt_arg_identity(json_t *args, uint8_t *out, struct sg_ctl_error *err);
int mgmt_args_known(json_t *args, const char *const *names, struct sg_ctl_error *err);
int mgmt_arg_int(json_t *args, const char *key, json_int_t def, json_int_t min, json_int_t max,
                 json_int_t *out, struct sg_ctl_error *err);

/* RFC 4648 §4 base64 (padding required, no line breaks) into out (n / 4 * 3 bytes). Returns
 * the bytes or -EINVAL (import.c). */
ssize_t mgmt_b64_decode(const char *in, size_t n, uint8_t *out);

/* The answers when there is no credential store / an import holds it (import.c). */
json_t *mgmt_no_store(struct sg_ctl_error *err);
json_t *mgmt_import_busy(struct sg_ctl_error *err);

/*
 * A credential changed (revoke.c; management thread, through the gateway
 * thread). mgmt_revoke_identity: the identity's handshakes in flight fail
 * and its sessions end (some now, the rest in the background); result gets
 * sessions_killed, alerts_sent, sessions_left, sessions_kept (false).
 * mgmt_keep_sessions: result gets sessions_killed (0), sessions_left (how
 * many it has), sessions_kept (true). mgmt_revoke_set: the same as
 * mgmt_revoke_identity for every identity of set, all in the background;
 * *with_sessions: how many of them had sessions. Each returns 0, or
 * -ESHUTDOWN when the gateway thread has stopped (result unchanged).
 */
int mgmt_revoke_identity(struct sg_mgmt *m, const uint8_t *identity, size_t len, json_t *result);
int mgmt_keep_sessions(struct sg_mgmt *m, const uint8_t *identity, size_t len, json_t *result);
int mgmt_revoke_set(struct sg_mgmt *m, const struct mgmt_idset *set, uint64_t *with_sessions);

/* An import's client went away (0: whoever it is): abort it (import.c). */
void mgmt_import_client_closed(struct sg_mgmt *m, uint64_t client);

#endif /* STORMGATE_CONTROL_MGMT_PRIV_H */
