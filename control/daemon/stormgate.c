/* SPDX-License-Identifier: Apache-2.0 */
/*
 * stormgate: the gateway daemon.
 *
 * Threads: the main lcore runs the control plane (control socket, status
 * line, signals) in one poll loop; each worker lcore runs a polling loop
 * (sg_gateway). SIGINT/SIGTERM are blocked in every thread and read from a
 * signalfd by the main loop, so a signal never interrupts a worker.
 *
 * Exit status: 0 clean stop, 1 runtime failure, 2 usage or configuration error.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/signalfd.h>

#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_lcore.h>
#include <rte_version.h>

#include "sg_build_config.h"
#include "sg_config.h"
#include "sg_cred.h"
#include "sg_ctl.h"
#include "sg_eal.h"
#include "sg_gateway.h"
#include "sg_log.h"
#include "sg_mgmt.h"

#define EXIT_USAGE 2

static const char default_config[] = SG_SYSCONFDIR "/stormgate.yaml";

static void usage(FILE *f)
{
	fprintf(f,
	        "Usage: stormgate [OPTIONS] [-- EAL-ARGS...]\n"
	        "DTLS 1.2 crypto offload gateway (DPDK data plane, control socket).\n"
	        "\n"
	        "  -c, --config FILE             configuration (default %s)\n"
	        "      --check-config FILE       check FILE, print every error as\n"
	        "                                file:line:column: message; exit 0 or 2\n"
	        "      --import-credentials CSV  import devices "
	        "(identity,psk_hex[,key_lifetime[,state]])\n"
	        "                                into the credential store of --config, then "
	        "exit;\n"
	        "                                all lines or none\n"
	        "  -d, --duration SECONDS        stop by itself after SECONDS (default: run until\n"
	        "                                SIGINT, SIGTERM or `stormctl shutdown`)\n"
	        "      --status | --no-status    live status line on stdout every second\n"
	        "                                (default: when stdout is a terminal)\n"
	        "  -h, --help                    this help\n"
	        "  -V, --version                 version\n"
	        "\n"
	        "EAL arguments come from the config's `eal:` list; EAL-ARGS after `--` are\n"
	        "added and replace the config's options of the same kind (-l, -m, "
	        "--file-prefix...).\n"
	        "Without free hugepages, --no-huge is added (logged).\n"
	        "Exit status: 0 clean stop, 1 runtime failure, 2 usage or configuration error.\n"
	        "Keys of the configuration: docs/config.md.\n",
	        default_config);
}

static int print_errors(const struct sg_cfg_errors *errs)
{
	for (unsigned i = 0; i < errs->n_lines; i++)
		fprintf(stderr, "%s\n", errs->lines[i]);
	return EXIT_USAGE;
}

static void print_summary(const char *path, const struct sg_config *cfg)
{
	char buf[64];

	printf("%s: OK\n", path);
	printf("  eal:         %u argument(s)", cfg->n_eal);
	for (uint32_t i = 0; i < cfg->n_eal; i++)
		printf(" %s", cfg->eal[i]);
	printf("\n  ports:       %u\n", cfg->n_ports);
	for (uint32_t i = 0; i < cfg->n_ports; i++) {
		const struct sg_cfg_port *p = &cfg->ports[i];
		printf("    %-10s %-8s %s", p->name, sg_port_role_name(p->role), p->devargs);
		for (uint32_t a = 0; a < p->n_addresses; a++)
			printf(" %s", sg_cfg_prefix_str(&p->addresses[a], buf, sizeof(buf)));
		printf("\n");
	}
	if (cfg->workers.n_lcores > 0) {
		printf("  workers:     lcores");
		for (uint32_t i = 0; i < cfg->workers.n_lcores; i++)
			printf(" %u", cfg->workers.lcores[i]);
		printf("\n");
	} else if (cfg->workers.count > 0) {
		printf("  workers:     %u\n", cfg->workers.count);
	} else {
		printf("  workers:     every worker lcore EAL is given\n");
	}
	printf("  control:     %s (mode %04o%s%s), %u clients, requests up to %u bytes, "
	       "answers up to %" PRIu64 " MiB queued\n",
	       cfg->control.socket, cfg->control.mode, cfg->control.group[0] ? ", group " : "",
	       cfg->control.group, cfg->control.max_clients, cfg->control.max_request,
	       cfg->control.max_output >> 20);
	printf("  policy:      key lifetime %" PRIu64 " s (-%u %%), cookies %s, %u suite(s), "
	       "%u handshakes/s%s\n",
	       cfg->policy.key_lifetime, cfg->policy.key_lifetime_jitter,
	       sg_cookie_mode_name(cfg->policy.cookie_mode), cfg->policy.n_suites,
	       cfg->policy.handshake_rate, cfg->policy.handshake_rate ? "" : " (unlimited)");
	printf("  credentials: %s (map %" PRIu64 " MiB)\n", cfg->credentials.db,
	       cfg->credentials.map_size >> 20);
	printf("  log:         %s to %s\n", sg_log_level_name(cfg->log.level),
	       cfg->log.target == SG_LOG_TARGET_SYSLOG ? "syslog" : "stderr");
}

static int import_credentials(const struct sg_config *cfg, const char *csv)
{
	struct sg_cred_import_report rep;
	struct sg_cred *cs;
	uint64_t count = 0;
	int rc;

	cs = sg_cred_open(cfg->credentials.db, cfg->credentials.map_size, SG_CRED_CREATE);
	if (cs == NULL) {
		fprintf(stderr, "stormgate: credential store %s: %s\n", cfg->credentials.db,
		        strerror(errno));
		return EXIT_FAILURE;
	}
	rc = sg_cred_import_file(cs, csv, &rep);
	if (rc != 0) {
		if (rep.bad_line != 0)
			fprintf(stderr, "%s:%" PRIu64 ": %s\n", csv, rep.bad_line, rep.message);
		else
			fprintf(stderr, "%s: %s\n", csv, rep.message);
		fprintf(stderr, "stormgate: nothing imported; %s is unchanged\n",
		        cfg->credentials.db);
		sg_cred_close(cs);
		return EXIT_FAILURE;
	}
	sg_cred_count(cs, &count);
	printf("imported %" PRIu64 " credential(s) from %s into %s (%" PRIu64 " stored)\n",
	       rep.imported, csv, cfg->credentials.db, count);
	sg_cred_close(cs);
	return EXIT_SUCCESS;
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Print the status line: rewritten in place on a terminal, one line per tick otherwise. */
static void show_status(struct sg_gateway *gw, int tty, int final)
{
	char line[1024];

	sg_gateway_status_line(gw, line, sizeof(line));
	if (tty)
		printf("\r\033[K%s%s", line, final ? "\n" : "");
	else
		printf("%s\n", line);
	fflush(stdout);
}

struct run_opts {
	const char *config;
	int64_t duration_s; /* 0: until stopped */
	int status;         /* -1: when stdout is a TTY */
	int n_over;
	char **over;
	const char *argv0;
};

static int run(const struct sg_config *cfg, const struct run_opts *o)
{
	struct sg_eal_args ea;
	struct sg_gateway_info info = { 0 };
	struct sg_gateway *gw = NULL;
	struct sg_mgmt *mgmt = NULL;
	struct sg_ctl_server *ctl = NULL;
	struct sg_cred *cred = NULL;
	sigset_t sigs;
	int sfd = -1, rc, status = EXIT_FAILURE;
	const char *stop_reason = "?";
	int tty = isatty(STDOUT_FILENO);
	int show = o->status >= 0 ? o->status : tty;

	rc = sg_log_configure(cfg->log.level, cfg->log.components, cfg->log.dpdk,
	                      (enum sg_log_target)cfg->log.target);
	if (rc != 0) {
		fprintf(stderr, "stormgate: logging: %s\n", strerror(-rc));
		return EXIT_FAILURE;
	}
	SG_LOG(MAIN, INFO, "stormgate %s (%s), config %s", SG_VERSION, rte_version(), o->config);

	/*
	 * Before EAL starts its threads, so they all inherit the mask. Reset the
	 * dispositions first: a shell starts background jobs with SIGINT
	 * ignored, and an ignored signal never reaches the signalfd.
	 */
	signal(SIGINT, SIG_DFL);
	signal(SIGTERM, SIG_DFL);
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	signal(SIGPIPE, SIG_IGN);

	rc = sg_eal_args_build(&ea, o->argv0, cfg, o->n_over, o->over,
	                       sg_hugepages_available("/proc/meminfo", "/proc/mounts"));
	if (rc != 0) {
		SG_LOG(MAIN, ERR, "EAL arguments: %s", strerror(-rc));
		return EXIT_FAILURE;
	}
	info.no_huge = ea.no_huge;
	info.no_huge_added = ea.no_huge_added;
	if (ea.no_huge_added)
		SG_LOG(MAIN, NOTICE,
		       "memory: no free hugepages or no hugetlbfs mount: running with "
		       "--no-huge (ordinary memory, fine for tests and the demo)");
	else if (ea.no_huge)
		SG_LOG(MAIN, NOTICE, "memory: --no-huge as configured");
	else
		SG_LOG(MAIN, INFO, "memory: hugepages");
	if (ea.in_memory_replaced)
		SG_LOG(MAIN, NOTICE,
		       "EAL: --in-memory does not combine with --no-huge in DPDK "
		       "22.11; using --no-shconf");
	if (ea.dropped)
		SG_LOG(MAIN, INFO, "EAL: %d config option(s) replaced by command-line overrides",
		       ea.dropped);
	{
		char line[2048];
		size_t off = 0;
		for (int i = 1; i < ea.argc && off < sizeof(line); i++)
			off += (size_t)snprintf(line + off, sizeof(line) - off, " %s", ea.argv[i]);
		SG_LOG(MAIN, INFO, "EAL arguments:%s", line);
	}

	/* rte_eal_init() permutes argv: give it a copy of the pointers. */
	char *eal_argv[SG_EAL_ARGS_MAX + 1];
	memcpy(eal_argv, ea.argv, sizeof(eal_argv));
	rc = rte_eal_init(ea.argc, eal_argv);
	if (rc < 0) {
		SG_LOG(MAIN, ERR, "EAL init failed: %s", rte_strerror(rte_errno));
		sg_eal_args_free(&ea);
		return EXIT_FAILURE;
	}

	cred = sg_cred_open(cfg->credentials.db, cfg->credentials.map_size, SG_CRED_CREATE);
	if (cred == NULL) {
		SG_LOG(CRED, ERR, "credential store %s: %s", cfg->credentials.db, strerror(errno));
		goto out_eal;
	}
	uint64_t count = 0;
	if (sg_cred_count(cred, &count) == 0)
		SG_LOG(CRED, INFO, "credential store %s: %" PRIu64 " identities",
		       cfg->credentials.db, count);

	gw = sg_gateway_create(cfg, &info);
	if (gw == NULL)
		goto out_cred;
	mgmt = sg_mgmt_create(gw, cred);
	if (mgmt == NULL) {
		SG_LOG(MAIN, ERR, "management: %s", strerror(errno));
		goto out_gw;
	}

	struct sg_ctl_server_cfg ccfg = {
		.path = cfg->control.socket,
		.group = cfg->control.group,
		.mode = cfg->control.mode,
		.max_clients = cfg->control.max_clients,
		.max_request = cfg->control.max_request,
		.idle_timeout_ms = (unsigned)(cfg->control.client_timeout * 1000),
		.max_output = (size_t)cfg->control.max_output,
		.cmds = sg_mgmt_cmds,
		.n_cmds = sg_mgmt_n_cmds,
		.ctx = mgmt,
		.on_close = sg_mgmt_ctl_closed,
	};
	ctl = sg_ctl_server_create(&ccfg);
	if (ctl == NULL) {
		SG_LOG(CTL, ERR, "control socket %s: %s%s", cfg->control.socket, strerror(errno),
		       errno == EADDRINUSE ? " (another stormgate is running)" : "");
		goto out_mgmt;
	}
	sg_gateway_attach(gw, cred, ctl);
	sg_mgmt_attach(mgmt, ctl);
	/* Telemetry is EAL's (off with --no-telemetry): our commands are just not asked then. */
	sg_mgmt_telemetry_update(mgmt);
	sg_mgmt_telemetry_register();

	sfd = signalfd(-1, &sigs, SFD_CLOEXEC | SFD_NONBLOCK);
	if (sfd < 0) {
		SG_LOG(MAIN, ERR, "signalfd: %s", strerror(errno));
		goto out_ctl;
	}
	if (sg_gateway_start(gw) != 0)
		goto out_sfd;
	SG_LOG(MAIN, NOTICE, "running: %u port(s), %u worker lcore(s); control socket %s%s",
	       sg_gateway_n_ports(gw), sg_gateway_n_workers(gw), cfg->control.socket,
	       o->duration_s ? "" : "; Ctrl-C or `stormctl shutdown` stops");

	uint64_t start = now_ms();
	uint64_t deadline = o->duration_s ? start + (uint64_t)o->duration_s * 1000 : 0;
	uint64_t next_status = start + 1000;
	uint64_t next_tick = start + 250; /* control socket timeouts, telemetry snapshot */
	for (;;) {
		uint64_t now = now_ms();
		if (deadline && now >= deadline) {
			stop_reason = "--duration elapsed";
			break;
		}
		if (sg_mgmt_shutdown_requested(mgmt)) {
			stop_reason = "stormctl shutdown";
			break;
		}
		if (show && now >= next_status) {
			show_status(gw, tty, 0);
			next_status += 1000;
			if (next_status <= now)
				next_status = now + 1000;
		}
		/* The data plane's punted packets want the control thread often. */
		sg_gateway_poll(gw);
		sg_mgmt_gateway_poll(mgmt);
		uint64_t wake = now + 1;
		if (deadline && deadline < wake)
			wake = deadline;
		struct pollfd pfd[2] = {
			{ .fd = sfd, .events = POLLIN },
			{ .fd = sg_ctl_server_fd(ctl), .events = POLLIN },
		};
		int n = poll(pfd, 2, wake > now ? (int)(wake - now) : 0);
		if (n < 0 && errno != EINTR) {
			SG_LOG(MAIN, ERR, "poll: %s", strerror(errno));
			stop_reason = "poll failure";
			break;
		}
		if (n > 0 && (pfd[0].revents & POLLIN)) {
			struct signalfd_siginfo si;
			if (read(sfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
				stop_reason = si.ssi_signo == SIGINT ? "SIGINT" : "SIGTERM";
				break;
			}
		}
		if (n > 0 && (pfd[1].revents & POLLIN)) {
			sg_ctl_server_run(ctl, 0);
		} else if (now >= next_tick) {
			sg_ctl_server_run(ctl, 0); /* idle clients time out without any event */
		}
		if (now >= next_tick) {
			sg_mgmt_telemetry_update(mgmt);
			next_tick = now + 250;
		}
	}

	if (show)
		show_status(gw, tty, 1);
	SG_LOG(MAIN, NOTICE, "stopping (%s)", stop_reason);
	sg_gateway_stop(gw);
	for (unsigned i = 0; i < sg_gateway_n_ports(gw); i++) {
		struct sg_gw_port_totals t;
		sg_gateway_port_totals(gw, i, &t);
		SG_LOG(MAIN, NOTICE, "port %u: received %" PRIu64 " packets (%" PRIu64 " bytes)", i,
		       t.rx_packets, t.rx_bytes);
	}
	{
		struct sg_dp_counters c;
		uint64_t dropped = 0;

		sg_gateway_dp_totals(gw, &c);
		for (unsigned r = 0; r < SG_DROP_MAX; r++)
			dropped += c.drop[r];
		SG_LOG(MAIN, NOTICE,
		       "data plane: %" PRIu64 " received, %" PRIu64
		       " forwarded to the backend, %" PRIu64 " to devices, %" PRIu64
		       " punted, %" PRIu64 " dropped",
		       c.rx, c.forwarded_up, c.forwarded_down, c.punted, dropped);
	}
	status = EXIT_SUCCESS;

out_sfd:
	close(sfd);
out_ctl:
	sg_mgmt_telemetry_clear();
	/* The answer to `shutdown` goes out before the socket closes. */
	sg_ctl_server_flush(ctl, 1000);
	sg_gateway_attach(gw, cred, NULL);
	sg_mgmt_attach(mgmt, NULL);
	sg_ctl_server_destroy(ctl);
out_mgmt:
	sg_mgmt_destroy(mgmt);
out_gw:
	sg_gateway_destroy(gw);
out_cred:
	sg_cred_close(cred);
out_eal:
	if (status == EXIT_SUCCESS)
		SG_LOG(MAIN, NOTICE, "stopped cleanly");
	rte_eal_cleanup();
	sg_eal_args_free(&ea);
	return status;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "check-config", required_argument, NULL, 'C' },
		{ "import-credentials", required_argument, NULL, 'I' },
		{ "duration", required_argument, NULL, 'd' },
		{ "status", no_argument, NULL, 's' },
		{ "no-status", no_argument, NULL, 'S' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	struct run_opts o = { .config = NULL, .status = -1, .argv0 = argv[0] };
	const char *check = NULL, *import = NULL;
	struct sg_cfg_errors errs;
	struct sg_config *cfg;
	int dd = argc, opt, rc;

	/* Everything after `--` is EAL's. */
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--") == 0) {
			dd = i;
			break;
		}
	}
	o.n_over = dd < argc ? argc - dd - 1 : 0;
	o.over = dd < argc ? argv + dd + 1 : NULL;

	while ((opt = getopt_long(dd, argv, "+c:d:hV", longopts, NULL)) != -1) {
		switch (opt) {
		case 'c':
			o.config = optarg;
			break;
		case 'C':
			check = optarg;
			break;
		case 'I':
			import = optarg;
			break;
		case 'd': {
			char *end;
			errno = 0;
			long long v = strtoll(optarg, &end, 10);
			if (*optarg == '\0' || *end != '\0' || errno != 0 || v < 1 ||
			    v > 365LL * 86400) {
				fprintf(stderr,
				        "stormgate: --duration wants whole seconds (1..%lld), "
				        "got '%s'\n",
				        365LL * 86400, optarg);
				return EXIT_USAGE;
			}
			o.duration_s = v;
			break;
		}
		case 's':
			o.status = 1;
			break;
		case 'S':
			o.status = 0;
			break;
		case 'h':
			usage(stdout);
			return EXIT_SUCCESS;
		case 'V':
			printf("stormgate %s (%s)\n", SG_VERSION, rte_version());
			return EXIT_SUCCESS;
		default:
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (optind < dd) {
		fprintf(stderr, "stormgate: unexpected argument '%s' (EAL arguments go after --)\n",
		        argv[optind]);
		return EXIT_USAGE;
	}

	/* Requests carry PSKs: JSON text freed by jansson is wiped first. */
	sg_ctl_secure_alloc();
	cfg = malloc(sizeof(*cfg));
	if (cfg == NULL)
		return EXIT_FAILURE;
	if (check != NULL) {
		rc = sg_config_load(cfg, check, &errs);
		if (rc != 0) {
			print_errors(&errs);
			fprintf(stderr, "%s: %u error(s)\n", check, errs.count);
			rc = EXIT_USAGE;
		} else {
			print_summary(check, cfg);
			rc = EXIT_SUCCESS;
		}
		sg_cfg_errors_free(&errs);
		free(cfg);
		return rc;
	}

	if (o.config == NULL)
		o.config = default_config;
	rc = sg_config_load(cfg, o.config, &errs);
	if (rc != 0) {
		print_errors(&errs);
		fprintf(stderr, "%s: %u error(s)\n", o.config, errs.count);
		sg_cfg_errors_free(&errs);
		free(cfg);
		return EXIT_USAGE;
	}
	sg_cfg_errors_free(&errs);

	if (import != NULL)
		rc = import_credentials(cfg, import);
	else
		rc = run(cfg, &o);
	free(cfg);
	return rc;
}
