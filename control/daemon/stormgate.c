/* SPDX-License-Identifier: Apache-2.0 */
/*
 * stormgate: the gateway daemon's command line: options, --check-config,
 * --import-credentials, then the daemon (run.c: bring-up and teardown;
 * loop.c: the gateway thread's loop).
 *
 * Threads (docs/architecture.md, "Threads"): the main lcore is the gateway
 * thread (punted handshakes, sessions, the commands that touch them, the
 * status line, signals); each worker lcore runs a polling loop (the data
 * plane); the management thread (sg-mgmt, a DPDK control thread) serves the
 * control socket and the credential store's writes. SIGINT/SIGTERM are
 * blocked in every thread and read from a signalfd by the gateway thread,
 * so a signal never interrupts a worker.
 *
 * Exit status: 0 clean stop, 1 runtime failure, 2 usage or configuration error.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rte_version.h>

#include "daemon_priv.h"
#include "sg_build_config.h"
#include "sg_log.h"

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

/* The backend's mode and, in udp mode, how many sessions its source ports carry. */
static void print_backend(const struct sg_config *cfg)
{
	uint64_t addrs, sessions;

	printf("  backend:     %s mode, %u server(s)", sg_backend_mode_name(cfg->backend.mode),
	       cfg->backend.n_servers);
	if (sg_config_backend_capacity(cfg, &addrs, &sessions) != 0) {
		printf("\n");
		return;
	}
	printf(", carries %" PRIu64 " sessions (%" PRIu64 " source address(es) x %u ports)\n",
	       sessions, addrs, cfg->backend.source_port_count);
	if (sessions < cfg->sessions.capacity)
		fprintf(stderr,
		        "warning: backend: udp mode carries %" PRIu64 " sessions, fewer than "
		        "sessions.capacity %" PRIu64 ": sessions past it are refused; add "
		        "backend.source_pool (docs/config.md)\n",
		        sessions, cfg->sessions.capacity);
}

/* The session store: where, its commit window and floors, or off. */
static void print_store(const struct sg_config *cfg)
{
	const struct sg_cfg_store *st = &cfg->store;
	char path[SG_CFG_STR_MAX], key[SG_CFG_STR_MAX];

	if (!st->enabled) {
		printf("  store:       off (sessions do not survive a restart)\n");
		return;
	}
	if (sg_config_store_paths(cfg, path, sizeof(path), key, sizeof(key)) != 0)
		path[0] = key[0] = '\0'; /* --check-config already refused it */
	printf("  store:       %s (key %s, map %" PRIu64 " MiB), commit every %u ms, floors "
	       "every %u records or %" PRIu64 " s, crash margin %u, replay %s\n",
	       path, key, st->map_size >> 20, st->commit_interval, st->seq_step, st->seq_interval,
	       st->seq_margin, st->replay_strict ? "strict" : "floor");
}

/* Where /metrics is served; a warning when anyone who reaches the host may read it. */
static void print_metrics(const struct sg_cfg_listen *l)
{
	char buf[64];

	if (l->state == SG_CFG_LISTEN_OFF) {
		printf("  metrics:     off\n");
		return;
	}
	printf("  metrics:     http://%s/metrics%s\n",
	       sg_cfg_endpoint_str(&l->addr, buf, sizeof(buf)),
	       sg_cfg_endpoint_loopback(&l->addr)
	               ? ""
	               : " (warning: not loopback, and it has no authentication)");
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
	print_metrics(&cfg->metrics.listen);
	printf("  policy:      key lifetime %" PRIu64 " s (-%u %%), cookies %s, %u suite(s), "
	       "%u handshakes/s%s\n",
	       cfg->policy.key_lifetime, cfg->policy.key_lifetime_jitter,
	       sg_cookie_mode_name(cfg->policy.cookie_mode), cfg->policy.n_suites,
	       cfg->policy.handshake_rate, cfg->policy.handshake_rate ? "" : " (unlimited)");
	print_backend(cfg);
	printf("  credentials: %s (map %" PRIu64 " MiB)\n", cfg->credentials.db,
	       cfg->credentials.map_size >> 20);
	print_store(cfg);
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

/* --duration's value: whole seconds, 1 s to a year. 0, or -1 after saying why. */
static int parse_duration(const char *arg, int64_t *out)
{
	uint64_t v;

	if (sg_uint_parse(arg, &v) != 0 || v < 1 || v > 365ULL * 86400) {
		fprintf(stderr, "stormgate: --duration wants whole seconds (1..%lld), got '%s'\n",
		        365LL * 86400, arg);
		return -1;
	}
	*out = (int64_t)v;
	return 0;
}

/* What the command line asks for, besides running the daemon. */
struct cli {
	struct run_opts o;
	const char *check;  /* --check-config FILE */
	const char *import; /* --import-credentials CSV */
};

/*
 * Parse the options before `--` (everything after it is EAL's) into c.
 * Returns -1 to go on, or the exit status (--help, --version, a usage error).
 */
static int parse_args(int argc, char **argv, struct cli *c)
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
	int dd = argc, opt;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--") == 0) {
			dd = i;
			break;
		}
	}
	c->o.n_over = dd < argc ? argc - dd - 1 : 0;
	c->o.over = dd < argc ? argv + dd + 1 : NULL;
	while ((opt = getopt_long(dd, argv, "+c:d:hV", longopts, NULL)) != -1) {
		switch (opt) {
		case 'c':
			c->o.config = optarg;
			break;
		case 'C':
			c->check = optarg;
			break;
		case 'I':
			c->import = optarg;
			break;
		case 'd':
			if (parse_duration(optarg, &c->o.duration_s) != 0)
				return EXIT_USAGE;
			break;
		case 's':
			c->o.status = 1;
			break;
		case 'S':
			c->o.status = 0;
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
	return -1;
}

/* --check-config: every error, or a summary. The exit status. */
static int check_config(struct sg_config *cfg, const char *path)
{
	struct sg_cfg_errors errs;
	int rc = sg_config_load(cfg, path, &errs);

	if (rc != 0) {
		print_errors(&errs);
		fprintf(stderr, "%s: %u error(s)\n", path, errs.count);
		rc = EXIT_USAGE;
	} else {
		print_summary(path, cfg);
		rc = EXIT_SUCCESS;
	}
	sg_cfg_errors_free(&errs);
	return rc;
}

int main(int argc, char **argv)
{
	struct cli c = { .o = { .config = NULL, .status = -1, .argv0 = argv[0] } };
	struct sg_cfg_errors errs;
	struct sg_config *cfg;
	int rc = parse_args(argc, argv, &c);

	if (rc >= 0)
		return rc;
	/* Requests carry PSKs: JSON text freed by jansson is wiped first. */
	sg_ctl_secure_alloc();
	cfg = malloc(sizeof(*cfg));
	if (cfg == NULL)
		return EXIT_FAILURE;
	if (c.check != NULL) {
		rc = check_config(cfg, c.check);
		free(cfg);
		return rc;
	}
	if (c.o.config == NULL)
		c.o.config = default_config;
	rc = sg_config_load(cfg, c.o.config, &errs);
	if (rc != 0) {
		print_errors(&errs);
		fprintf(stderr, "%s: %u error(s)\n", c.o.config, errs.count);
		sg_cfg_errors_free(&errs);
		free(cfg);
		return EXIT_USAGE;
	}
	sg_cfg_errors_free(&errs);
	if (c.import != NULL)
		rc = import_credentials(cfg, c.import);
	else
		rc = daemon_run(cfg, &c.o);
	free(cfg);
	return rc;
}
