/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The control commands, one table row each (docs/control.md), and `version`,
 * which lists them; the file of each group: cmd_gateway.c (status, ports),
 * cmd_shutdown.c, cmd_stats.c, cmd_store.c, cmd_sessions.c, cmd_cred.c and
 * import.c, cmd_policy.c, cmd_tls.c. And
 * management's own state: created by the daemon over the gateway (on the
 * gateway thread), told the control server, destroyed before the gateway
 * once the management thread has ended (thread.c).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <sys/eventfd.h>

#include <rte_version.h>

#include <stormgate/common.h>

#include "mgmt_priv.h"
#include "sg_build_config.h"

static json_t *cmd_version(void *ctx, json_t *args, struct sg_ctl_error *err);

/*
 * Where each command runs (docs/control.md, "Threads"): on the gateway
 * thread (OWNER) when it reads or changes the gateway's state: ports,
 * counters, sessions, the live policy, the identity's sessions
 * credentials.show reports (one LMDB lookup there, as a handshake's); on
 * the management thread (SERVER) when it touches only the credential store
 * or nothing of the gateway: the store's writers (add, remove and import,
 * so the gateway thread never waits for LMDB's one writer) ask the gateway
 * thread for their revocations through gw_calls.h; and shutdown, which
 * waits for the gateway thread's clean-stop save (cmd_shutdown.c).
 */
#define OWNER  SG_CTL_ON_OWNER
#define SERVER SG_CTL_ON_SERVER

const struct sg_ctl_cmd sg_mgmt_cmds[] = {
	{ "version", "daemon, protocol and DPDK versions; the commands", cmd_version, SERVER },
	{ "status", "uptime, lcores, ports with link and counters, drops", mgmt_cmd_status, OWNER },
	{ "ports", "port configuration: driver, MAC, queues, addresses, link", mgmt_cmd_ports,
	  OWNER },
	{ "shutdown", "stop the daemon cleanly (as SIGTERM does); says what the store saved",
	  mgmt_cmd_shutdown, SERVER },
	{ "stats", "counters: global, per worker, drops, sessions, handshakes, admission",
	  mgmt_cmd_stats, OWNER },
	{ "sessions.count", "sessions in the table", mgmt_cmd_sessions_count, OWNER },
	{ "sessions.list", "sessions, paged; by identity or peer address", mgmt_cmd_sessions_list,
	  OWNER },
	{ "sessions.show", "one session (no keys)", mgmt_cmd_sessions_show, OWNER },
	{ "sessions.kill", "end a session, or all of an identity's, with a close_notify",
	  mgmt_cmd_sessions_kill, OWNER },
	{ "credentials.add", "add (or replace) one device's identity and PSK", mgmt_cmd_cred_add,
	  SERVER },
	{ "credentials.remove", "remove an identity (optionally ending its sessions)",
	  mgmt_cmd_cred_remove, SERVER },
	{ "credentials.import", "stream a CSV of devices in: begin, data..., commit (atomic)",
	  mgmt_cmd_cred_import, SERVER },
	{ "credentials.count", "identities in the credential store", mgmt_cmd_cred_count, SERVER },
	{ "credentials.show", "an identity's policy and sessions (never its key)",
	  mgmt_cmd_cred_show, OWNER },
	{ "policy.get", "the live policy: key lifetime, cookies, suites, admission",
	  mgmt_cmd_policy_get, OWNER },
	{ "policy.set", "change the live policy (all keys or none); kept across restarts",
	  mgmt_cmd_policy_set, OWNER },
	{ "policy.reset", "return keys set live (or all) to the config file's values",
	  mgmt_cmd_policy_reset, OWNER },
	{ "store", "the session store: records, lag, commits, size, the last restore",
	  mgmt_cmd_store, OWNER },
	{ "tls", "certificates: subject, expiry, curve, signing pool, verify cache, settings",
	  mgmt_cmd_tls, OWNER },
	{ "tls.reload", "load tls cert, key, CA and CRL again from their files (all or nothing)",
	  mgmt_cmd_tls_reload, OWNER },
	{ "rpk.add", "add (or replace) a raw public key: SPKI -> identity and policy",
	  mgmt_cmd_rpk_add, SERVER },
	{ "rpk.remove", "remove a raw public key (by hash) or every key of an identity",
	  mgmt_cmd_rpk_remove, SERVER },
	{ "rpk.list", "raw public keys in the store, paged by hash", mgmt_cmd_rpk_list, SERVER },
};

const size_t sg_mgmt_n_cmds = SG_ARRAY_SIZE(sg_mgmt_cmds);

/* The daemon, its protocol and DPDK; the commands, from the table above. */
static json_t *cmd_version(void *ctx, json_t *args, struct sg_ctl_error *err)
{
	const struct sg_mgmt *m = ctx;
	json_t *cmds = json_array();

	(void)args;
	for (size_t i = 0; cmds != NULL && i < sg_mgmt_n_cmds; i++)
		json_array_append_new(cmds, json_pack("{s:s, s:s}", "name", sg_mgmt_cmds[i].name,
		                                      "summary", sg_mgmt_cmds[i].summary));
	if (cmds == NULL)
		return sg_ctl_fail(err, SG_CTL_EINTERNAL, "out of memory");
	return json_pack("{s:s, s:s, s:i, s:s, s:o, s:{s:I, s:I}}", "name", "stormgate", "version",
	                 SG_VERSION, "protocol", SG_CTL_PROTOCOL, "dpdk", rte_version(), "commands",
	                 cmds, "limits", "max_request", (json_int_t)m->control.max_request,
	                 "max_output", (json_int_t)m->control.max_output);
}

struct sg_mgmt *sg_mgmt_create(struct sg_gateway *gw, struct sg_cred *cred,
                               const struct sg_cfg_policy *file_policy)
{
	struct sg_mgmt *m = calloc(1, sizeof(*m));
	struct sg_gw_store_info si;
	int rc;

	if (m == NULL)
		return NULL;
	m->saved_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	rc = m->saved_fd < 0 ? -errno : mgmt_calls_init(&m->calls);
	if (rc != 0) {
		if (m->saved_fd >= 0)
			close(m->saved_fd);
		free(m);
		errno = -rc;
		return NULL;
	}
	m->gw = gw;
	sg_gateway_store_info(gw, &si);
	m->store_on = si.enabled;
	mgmt_policy_init(m, file_policy);
	m->cred = cred;
	m->control = sg_gateway_config(gw)->control;
	snprintf(m->db, sizeof(m->db), "%s", sg_gateway_config(gw)->credentials.db);
	m->thread.stop_fd = -1;
	return m;
}

void sg_mgmt_destroy(struct sg_mgmt *m)
{
	if (m == NULL)
		return;
	sg_mgmt_thread_join(m);
	mgmt_http_close(&m->http);       /* opened, and the thread never started */
	mgmt_import_client_closed(m, 0); /* without a thread: an import still running is aborted */
	mgmt_calls_fini(&m->calls);
	close(m->saved_fd);
	free(m);
}

void sg_mgmt_attach(struct sg_mgmt *m, struct sg_ctl_server *ctl)
{
	m->ctl = ctl;
}

void sg_mgmt_ctl_closed(void *ctx, uint64_t client)
{
	mgmt_import_client_closed(ctx, client);
}

unsigned sg_mgmt_gateway_poll(struct sg_mgmt *m)
{
	return mgmt_calls_poll(&m->calls);
}

int sg_mgmt_gateway_fd(const struct sg_mgmt *m)
{
	return m->calls.fd;
}

int sg_mgmt_shutdown_requested(const struct sg_mgmt *m)
{
	return __atomic_load_n(&m->shutdown_requested, __ATOMIC_ACQUIRE);
}
