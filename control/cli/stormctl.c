/* SPDX-License-Identifier: Apache-2.0 */
/*
 * stormctl: command-line client of the stormgate control socket.
 *
 *   stormctl [--socket PATH | --config FILE] [--json] [--timeout SEC] COMMAND [ARGS...]
 *
 * Socket: --socket, else $STORMGATE_SOCKET, else control.socket of --config
 * (default: the installed stormgate.yaml when it exists), else
 * /run/stormgate/control.sock. Exit status: 0 success, 1 daemon unreachable
 * or the request failed, 2 usage error. Protocol: docs/control.md.
 *
 * This file: options and the help; the commands are the table of
 * cli_cmds.c. Its own process, one thread; links neither DPDK nor a YAML
 * library (tests/control/test_stormctl.py checks).
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>

#include "sg_build_config.h"
#include "sg_cli.h"

static void usage(FILE *f)
{
	fprintf(f, "Usage: stormctl [OPTIONS] COMMAND [ARGS...]\n"
	           "Talk to a running stormgate over its control socket.\n"
	           "\n"
	           "Commands:\n");
	for (const struct sg_cli_cmd *c = sg_cli_cmds; c->group != NULL; c++)
		fputs(c->help, f);
	fprintf(f,
	        "Any other command is sent as is, KEY=VALUE pairs as its arguments\n"
	        "(`stormctl version` lists what the daemon understands).\n"
	        "\n"
	        "Options:\n"
	        "  -s, --socket PATH    control socket (default: $STORMGATE_SOCKET, else\n"
	        "                       control.socket of --config, else %s)\n"
	        "  -c, --config FILE    read control.socket from this stormgate config\n"
	        "                       (default %s/stormgate.yaml when it exists)\n"
	        "  -j, --json           print the JSON result (for scripts)\n"
	        "  -t, --timeout SEC    wait at most SEC seconds for each answer (default 5)\n"
	        "  -h, --help           this help\n"
	        "  -V, --version        stormctl's version\n"
	        "\n"
	        "Exit status: 0 success, 1 daemon unreachable or request failed, 2 usage error.\n",
	        SG_CLI_DEFAULT_SOCKET, SG_SYSCONFDIR);
}

/* --timeout SEC: into *ms, or -1 after saying why. */
static int parse_timeout(const char *arg, int *ms)
{
	char *end;
	double t = strtod(arg, &end);

	if (*arg == '\0' || *end != '\0' || !(t > 0 && t <= 3600)) {
		fprintf(stderr, "stormctl: --timeout wants seconds in (0, 3600], got '%s'\n", arg);
		return -1;
	}
	*ms = (int)(t * 1000);
	return 0;
}

/*
 * The options before the command. Returns -1 to go on (optind at the
 * command), else the exit status (--help, --version, a usage error).
 */
static int options(int argc, char **argv, struct sg_cli *cli, const char **sock,
                   const char **config)
{
	static const struct option longopts[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "config", required_argument, NULL, 'c' },
		{ "json", no_argument, NULL, 'j' },
		{ "timeout", required_argument, NULL, 't' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	int opt;

	while ((opt = getopt_long(argc, argv, "+s:c:jt:hV", longopts, NULL)) != -1) {
		switch (opt) {
		case 's':
			*sock = optarg;
			break;
		case 'c':
			*config = optarg;
			break;
		case 'j':
			cli->json = 1;
			break;
		case 't':
			if (parse_timeout(optarg, &cli->timeout_ms) != 0)
				return SG_CLI_EXIT_USAGE;
			break;
		case 'h':
			usage(stdout);
			return EXIT_SUCCESS;
		case 'V':
			printf("stormctl %s (control protocol %d)\n", SG_VERSION, SG_CTL_PROTOCOL);
			return EXIT_SUCCESS;
		default:
			usage(stderr);
			return SG_CLI_EXIT_USAGE;
		}
	}
	return -1;
}

/* --json is global, but `stormctl sessions list --json` is what people type: take it out. */
static int hoist_json(int argc, char **argv, struct sg_cli *cli)
{
	int j = 1;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--json") == 0 || strcmp(argv[i], "-j") == 0)
			cli->json = 1;
		else
			argv[j++] = argv[i];
	}
	return j;
}

int main(int argc, char **argv)
{
	static char path[sizeof(((struct sockaddr_un *)0)->sun_path) + 1];
	struct sg_cli cli = { .timeout_ms = 5000 };
	const char *opt_socket = NULL, *opt_config = NULL;
	int rc;

	/* PSKs pass through JSON here too (credentials add, import). */
	sg_ctl_secure_alloc();
	rc = options(argc, argv, &cli, &opt_socket, &opt_config);
	if (rc >= 0)
		return rc;
	if (optind >= argc) {
		fprintf(stderr,
		        "stormctl: no command given (try: stormctl status; stormctl --help)\n");
		return SG_CLI_EXIT_USAGE;
	}
	if (sg_cli_socket_path(opt_socket, opt_config, path, sizeof(path)) != 0)
		return SG_CLI_EXIT_USAGE;
	cli.socket = path;
	argc -= optind;
	argv += optind;
	argc = hoist_json(argc, argv, &cli);
	return sg_cli_dispatch(&cli, argc, argv);
}
