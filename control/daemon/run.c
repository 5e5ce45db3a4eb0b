/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The daemon's bring-up and teardown (main lcore): logging, signals, EAL,
 * the credential store, the gateway, management and its thread, the
 * control socket; then the loop (loop.c); then everything in the reverse
 * order. Threads: this one becomes the gateway thread; the workers are
 * launched on the worker lcores by the gateway, the management thread by
 * management (sg-mgmt, a DPDK control thread), both after SIGINT and
 * SIGTERM are blocked here so that they inherit the mask.
 */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/signalfd.h>

#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_version.h>

#include "daemon_priv.h"
#include "sg_build_config.h"
#include "sg_eal.h"
#include "sg_log.h"

/*
 * Before EAL starts its threads, so they all inherit the mask. Reset the
 * dispositions first: a shell starts background jobs with SIGINT ignored,
 * and an ignored signal never reaches the signalfd.
 */
static void block_signals(sigset_t *sigs)
{
	signal(SIGINT, SIG_DFL);
	signal(SIGTERM, SIG_DFL);
	sigemptyset(sigs);
	sigaddset(sigs, SIGINT);
	sigaddset(sigs, SIGTERM);
	pthread_sigmask(SIG_BLOCK, sigs, NULL);
	signal(SIGPIPE, SIG_IGN);
}

/* Say how EAL is started; what the gateway's `status` reports goes to info. */
static void log_eal_args(const struct sg_eal_args *ea, struct sg_gateway_info *info)
{
	char line[2048];
	size_t off = 0;

	info->no_huge = ea->no_huge;
	info->no_huge_added = ea->no_huge_added;
	if (ea->no_huge_added)
		SG_LOG(MAIN, NOTICE,
		       "memory: no free hugepages or no hugetlbfs mount: running with "
		       "--no-huge (ordinary memory, fine for tests and the demo)");
	else if (ea->no_huge)
		SG_LOG(MAIN, NOTICE, "memory: --no-huge as configured");
	else
		SG_LOG(MAIN, INFO, "memory: hugepages");
	if (ea->in_memory_replaced)
		SG_LOG(MAIN, NOTICE,
		       "EAL: --in-memory does not combine with --no-huge in DPDK "
		       "22.11; using --no-shconf");
	if (ea->dropped)
		SG_LOG(MAIN, INFO, "EAL: %d config option(s) replaced by command-line overrides",
		       ea->dropped);
	for (int i = 1; i < ea->argc && off < sizeof(line); i++)
		off += (size_t)snprintf(line + off, sizeof(line) - off, " %s", ea->argv[i]);
	SG_LOG(MAIN, INFO, "EAL arguments:%s", off ? line : "");
}

/* Build the EAL arguments and start EAL. 0 or -1 (logged); ea is the caller's to free. */
static int eal_start(struct daemon *d, struct sg_eal_args *ea, struct sg_gateway_info *info)
{
	char *eal_argv[SG_EAL_ARGS_MAX + 1];
	int rc = sg_eal_args_build(ea, d->o->argv0, d->cfg, d->o->n_over, d->o->over,
	                           sg_hugepages_available("/proc/meminfo", "/proc/mounts"));

	if (rc != 0) {
		SG_LOG(MAIN, ERR, "EAL arguments: %s", strerror(-rc));
		return -1;
	}
	log_eal_args(ea, info);
	/* rte_eal_init() permutes argv: give it a copy of the pointers. */
	memcpy(eal_argv, ea->argv, sizeof(eal_argv));
	if (rte_eal_init(ea->argc, eal_argv) < 0) {
		SG_LOG(MAIN, ERR, "EAL init failed: %s", rte_strerror(rte_errno));
		return -1;
	}
	return 0;
}

/* The control socket, served by the management thread; the gateway's commands through owner. */
static int ctl_open(struct daemon *d)
{
	const struct sg_cfg_control *c = &d->cfg->control;
	struct sg_ctl_server_cfg ccfg = {
		.path = c->socket,
		.group = c->group,
		.mode = c->mode,
		.max_clients = c->max_clients,
		.max_request = c->max_request,
		.idle_timeout_ms = (unsigned)(c->client_timeout * 1000),
		.max_output = (size_t)c->max_output,
		.cmds = sg_mgmt_cmds,
		.n_cmds = sg_mgmt_n_cmds,
		.ctx = d->mgmt,
		.on_close = sg_mgmt_ctl_closed,
	};

	/*
	 * Depth: one command per client. A client has at most one in flight,
	 * so the queue never answers `overloaded`, as one thread never did.
	 */
	d->owner = sg_ctl_owner_create(c->max_clients);
	if (d->owner == NULL) {
		SG_LOG(CTL, ERR, "control socket: owner queue: %s", strerror(errno));
		return -1;
	}
	ccfg.owner = d->owner;
	d->ctl = sg_ctl_server_create(&ccfg);
	if (d->ctl == NULL) {
		SG_LOG(CTL, ERR, "control socket %s: %s%s", c->socket, strerror(errno),
		       errno == EADDRINUSE ? " (another stormgate is running)" : "");
		return -1;
	}
	return 0;
}

/* After EAL: the store, the gateway, management, the control socket, the signalfd. 0 or -1. */
static int bring_up(struct daemon *d, const struct sg_gateway_info *info, const sigset_t *sigs)
{
	const struct sg_config *cfg = d->cfg;
	uint64_t count = 0;

	d->cred = sg_cred_open(cfg->credentials.db, cfg->credentials.map_size, SG_CRED_CREATE);
	if (d->cred == NULL) {
		SG_LOG(CRED, ERR, "credential store %s: %s", cfg->credentials.db, strerror(errno));
		return -1;
	}
	if (sg_cred_count(d->cred, &count) == 0)
		SG_LOG(CRED, INFO, "credential store %s: %" PRIu64 " identities",
		       cfg->credentials.db, count);
	d->gw = sg_gateway_create(cfg, info);
	if (d->gw == NULL)
		return -1;
	d->mgmt = sg_mgmt_create(d->gw, d->cred, &cfg->policy);
	if (d->mgmt == NULL) {
		SG_LOG(MAIN, ERR, "management: %s", strerror(errno));
		return -1;
	}
	if (ctl_open(d) != 0)
		return -1;
	if (sg_mgmt_http_open(d->mgmt, &cfg->metrics.listen) != 0)
		return -1;
	sg_gateway_attach(d->gw, d->cred, d->ctl);
	sg_mgmt_attach(d->mgmt, d->ctl);
	/* Telemetry is EAL's (off with --no-telemetry): our commands are just not asked then. */
	sg_mgmt_telemetry_update(d->mgmt);
	sg_mgmt_telemetry_register();
	d->sfd = signalfd(-1, sigs, SFD_CLOEXEC | SFD_NONBLOCK);
	if (d->sfd < 0) {
		SG_LOG(MAIN, ERR, "signalfd: %s", strerror(errno));
		return -1;
	}
	return 0;
}

/* The restore's progress on the status line (the loop that prints it starts after it). */
static void show_progress(void *arg, bool done)
{
	daemon_show_status(arg, done);
}

/* Start the workers, then the management thread. 0 or -1 (logged). */
static int start(struct daemon *d)
{
	int rc;

	if (d->show)
		sg_gateway_on_progress(d->gw, show_progress, d);
	if (sg_gateway_start(d->gw) != 0)
		return -1;
	rc = sg_mgmt_thread_start(d->mgmt);
	if (rc != 0) {
		SG_LOG(MAIN, ERR, "management thread: %s", strerror(-rc));
		return -1;
	}
	SG_LOG(MAIN, NOTICE, "running: %u port(s), %u worker lcore(s); control socket %s%s",
	       sg_gateway_n_ports(d->gw), sg_gateway_n_workers(d->gw), d->cfg->control.socket,
	       d->o->duration_s ? "" : "; Ctrl-C or `stormctl shutdown` stops");
	return 0;
}

/* What the ports and the data plane handled, once stopped. */
static void log_totals(struct daemon *d)
{
	struct sg_dp_counters c;
	uint64_t dropped = 0;

	for (unsigned i = 0; i < sg_gateway_n_ports(d->gw); i++) {
		struct sg_gw_port_totals t;

		sg_gateway_port_totals(d->gw, i, &t);
		SG_LOG(MAIN, NOTICE, "port %u: received %" PRIu64 " packets (%" PRIu64 " bytes)", i,
		       t.rx_packets, t.rx_bytes);
	}
	sg_gateway_dp_totals(d->gw, &c);
	for (unsigned r = 0; r < SG_DROP_MAX; r++)
		dropped += c.drop[r];
	SG_LOG(MAIN, NOTICE,
	       "data plane: %" PRIu64 " received, %" PRIu64 " forwarded to the backend, %" PRIu64
	       " to devices, %" PRIu64 " punted, %" PRIu64 " dropped",
	       c.rx, c.forwarded_up, c.forwarded_down, c.punted, dropped);
}

/* Free what bring_up() made, in the reverse order; any part may be missing. */
static void tear_down(struct daemon *d)
{
	if (d->sfd >= 0)
		close(d->sfd);
	sg_mgmt_telemetry_clear();
	/* No command runs once the management thread is gone (sg_mgmt_destroy() joins it too). */
	if (d->mgmt != NULL)
		sg_mgmt_thread_join(d->mgmt);
	if (d->gw != NULL)
		sg_gateway_attach(d->gw, d->cred, NULL);
	if (d->mgmt != NULL)
		sg_mgmt_attach(d->mgmt, NULL);
	sg_ctl_server_destroy(d->ctl);
	sg_ctl_owner_destroy(d->owner);
	sg_mgmt_destroy(d->mgmt);
	sg_gateway_destroy(d->gw);
	sg_cred_close(d->cred);
}

int daemon_run(const struct sg_config *cfg, const struct run_opts *o)
{
	struct daemon d = { .cfg = cfg, .o = o, .sfd = -1, .tty = isatty(STDOUT_FILENO) };
	struct sg_gateway_info info = { 0 };
	struct sg_eal_args ea = { 0 };
	int status = EXIT_FAILURE, rc;
	sigset_t sigs;

	d.show = o->status >= 0 ? o->status : d.tty;
	rc = sg_log_configure(cfg->log.level, cfg->log.components, cfg->log.dpdk,
	                      (enum sg_log_target)cfg->log.target);
	if (rc != 0) {
		fprintf(stderr, "stormgate: logging: %s\n", strerror(-rc));
		return EXIT_FAILURE;
	}
	SG_LOG(MAIN, INFO, "stormgate %s (%s), config %s", SG_VERSION, rte_version(), o->config);
	block_signals(&sigs);
	if (eal_start(&d, &ea, &info) != 0) {
		sg_eal_args_free(&ea);
		return EXIT_FAILURE;
	}
	if (bring_up(&d, &info, &sigs) == 0 && start(&d) == 0) {
		const char *why = daemon_loop(&d);
		struct sg_gw_store_info si;

		if (d.show)
			daemon_show_status(&d, 1);
		SG_LOG(MAIN, NOTICE, "stopping (%s)", why);
		/*
		 * The workers first, so every session's sequence state is final;
		 * then the exact save (a clean stop: no replay exposure at the
		 * next start); then management, whose `shutdown` answer says
		 * what was saved.
		 */
		sg_gateway_stop(d.gw);
		sg_gateway_save(d.gw);
		sg_gateway_store_info(d.gw, &si);
		sg_mgmt_shutdown_saved(d.mgmt, si.saved, si.save_ms);
		daemon_stop_mgmt(&d);
		log_totals(&d);
		status = EXIT_SUCCESS;
	}
	tear_down(&d);
	if (status == EXIT_SUCCESS)
		SG_LOG(MAIN, NOTICE, "stopped cleanly");
	rte_eal_cleanup();
	sg_eal_args_free(&ea);
	return status;
}
