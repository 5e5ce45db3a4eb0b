/* SPDX-License-Identifier: Apache-2.0 */
/*
 * stormctl: command-line client of the stormgate control socket.
 *
 *   stormctl [--socket PATH | --config FILE] [--json] [--timeout SEC] COMMAND [KEY=VALUE...]
 *
 * Socket: --socket, else $STORMGATE_SOCKET, else control.socket of --config
 * (default: the installed stormgate.yaml when it exists), else
 * /run/stormgate/control.sock. Exit status: 0 success, 1 daemon unreachable
 * or the request failed, 2 usage error.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <jansson.h>

#include "sg_build_config.h"
#include "sg_config.h"
#include "sg_ctl.h"

#define EXIT_USAGE     2
#define RESPONSE_MAX   (64u << 20)
#define DEFAULT_SOCKET "/run/stormgate/control.sock"

static void usage(FILE *f)
{
	fprintf(f,
	        "Usage: stormctl [OPTIONS] COMMAND [KEY=VALUE...]\n"
	        "Talk to a running stormgate over its control socket.\n"
	        "\n"
	        "Commands:\n"
	        "  status     uptime, lcores, ports with link and counters, drops\n"
	        "  ports      port configuration: driver, MAC, queues, addresses, link\n"
	        "  version    daemon, protocol and DPDK versions; the daemon's commands\n"
	        "  shutdown   stop the daemon cleanly\n"
	        "Any other command is sent as is (KEY=VALUE pairs become its arguments);\n"
	        "`stormctl version` lists what the daemon understands.\n"
	        "\n"
	        "Options:\n"
	        "  -s, --socket PATH    control socket (default: $STORMGATE_SOCKET, else\n"
	        "                       control.socket of --config, else %s)\n"
	        "  -c, --config FILE    read control.socket from this stormgate config\n"
	        "                       (default %s/stormgate.yaml when it exists)\n"
	        "  -j, --json           print the JSON result (for scripts)\n"
	        "  -t, --timeout SEC    wait at most SEC seconds for the answer (default 5)\n"
	        "  -h, --help           this help\n"
	        "  -V, --version        stormctl's version\n"
	        "\n"
	        "Exit status: 0 success, 1 daemon unreachable or request failed, 2 usage error.\n",
	        DEFAULT_SOCKET, SG_SYSCONFDIR);
}

static int connect_to(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		int e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	return fd;
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Send one request line and read one response line. Returns the response or NULL. */
static json_t *exchange(const char *path, json_t *req, int timeout_ms)
{
	size_t len, off = 0, cap = 65536, got = 0;
	char *line, *buf = NULL;
	json_t *resp = NULL;
	json_error_t jerr;
	int64_t deadline = now_ms() + timeout_ms;
	int fd = connect_to(path);

	if (fd < 0) {
		fprintf(stderr, "stormctl: cannot connect to %s: %s%s\n", path, strerror(errno),
		        errno == ENOENT || errno == ECONNREFUSED ? " (is stormgate running?)" : "");
		return NULL;
	}
	line = sg_ctl_dump_line(req, &len);
	if (line == NULL)
		goto out;
	while (off < len) {
		ssize_t n = send(fd, line + off, len - off, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			fprintf(stderr, "stormctl: send to %s: %s\n", path, strerror(errno));
			goto out;
		}
		off += (size_t)n;
	}
	buf = malloc(cap);
	if (buf == NULL)
		goto out;
	for (;;) {
		char *nl = got ? memchr(buf, '\n', got) : NULL;
		if (nl != NULL) {
			resp = json_loadb(buf, (size_t)(nl - buf), 0, &jerr);
			if (resp == NULL)
				fprintf(stderr, "stormctl: bad answer from %s: %s\n", path,
				        jerr.text);
			break;
		}
		int64_t left = deadline - now_ms();
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		int pr = left > 0 ? poll(&pfd, 1, (int)left) : 0;
		if (pr < 0 && errno == EINTR)
			continue;
		if (pr <= 0) {
			fprintf(stderr, "stormctl: no answer from %s within %d ms\n", path,
			        timeout_ms);
			break;
		}
		if (got == cap) {
			if (cap >= RESPONSE_MAX) {
				fprintf(stderr, "stormctl: answer larger than %u bytes\n",
				        RESPONSE_MAX);
				break;
			}
			char *nb = realloc(buf, cap * 2);
			if (nb == NULL)
				break;
			buf = nb;
			cap *= 2;
		}
		ssize_t n = recv(fd, buf + got, cap - got, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			fprintf(stderr, "stormctl: %s closed the connection without an answer\n",
			        path);
			break;
		}
		got += (size_t)n;
	}
out:
	free(buf);
	free(line);
	close(fd);
	return resp;
}

/* ---------------------------------------------------------------------- */
/* Readable output                                                         */

static json_int_t geti(const json_t *o, const char *k)
{
	return json_integer_value(json_object_get(o, k));
}

static const char *gets_(const json_t *o, const char *k)
{
	const char *s = json_string_value(json_object_get(o, k));
	return s ? s : "-";
}

/* Append to a fixed buffer; output past its end is cut. */
__attribute__((format(printf, 4, 5))) static void append(char *buf, size_t len, size_t *off,
                                                         const char *fmt, ...)
{
	va_list ap;
	int n;

	if (*off >= len)
		return;
	va_start(ap, fmt);
	n = vsnprintf(buf + *off, len - *off, fmt, ap);
	va_end(ap);
	if (n > 0)
		*off += (size_t)n;
}

static const char *link_str(const json_t *link, char *buf, size_t len)
{
	if (!json_is_true(json_object_get(link, "up")))
		return "down";
	snprintf(buf, len, "up %s", gets_(link, "speed"));
	return buf;
}

static json_int_t sum_values(const json_t *obj)
{
	json_int_t sum = 0;

	for (void *it = json_object_iter((json_t *)obj); it != NULL;
	     it = json_object_iter_next((json_t *)obj, it))
		sum += json_integer_value(json_object_iter_value(it));
	return sum;
}

static void print_status(const json_t *r)
{
	const json_t *lc = json_object_get(r, "lcores");
	const json_t *ports = json_object_get(r, "ports");
	const json_t *workers = json_object_get(lc, "workers");
	const json_t *mem = json_object_get(r, "memory");
	const json_t *cred = json_object_get(r, "credentials");
	const json_t *ctl = json_object_get(r, "control");
	const json_t *drops = json_object_get(r, "drops");
	const json_t *punts = json_object_get(json_object_get(r, "counters"), "punts");
	char lb[64];

	printf("stormgate %s, %s, up %.0f s\n", gets_(r, "version"), gets_(r, "state"),
	       json_real_value(json_object_get(r, "uptime_s")));
	printf("memory:      %s\n", gets_(mem, "mode"));
	printf("data plane:  %s\n", gets_(r, "dataplane"));
	if (json_is_object(cred))
		printf("credentials: %s, %" JSON_INTEGER_FORMAT " identities\n", gets_(cred, "db"),
		       geti(cred, "count"));
	printf("control:     %s, %" JSON_INTEGER_FORMAT " client(s)\n\n", gets_(ctl, "socket"),
	       geti(ctl, "clients"));

	printf("%-10s %-8s %-12s %12s %14s %12s %10s %10s\n", "PORT", "ROLE", "LINK", "RX PKTS",
	       "RX BYTES", "TX PKTS", "MISSED", "ERRORS");
	for (size_t i = 0; i < json_array_size(ports); i++) {
		const json_t *v = json_array_get(ports, i);
		const json_t *dev = json_object_get(v, "device");

		printf("%-10s %-8s %-12s %12" JSON_INTEGER_FORMAT " %14" JSON_INTEGER_FORMAT
		       " %12" JSON_INTEGER_FORMAT " %10" JSON_INTEGER_FORMAT
		       " %10" JSON_INTEGER_FORMAT "\n",
		       gets_(v, "name"), gets_(v, "role"),
		       link_str(json_object_get(v, "link"), lb, sizeof(lb)), geti(v, "rx_packets"),
		       geti(v, "rx_bytes"), geti(dev, "opackets"), geti(dev, "imissed"),
		       geti(dev, "ierrors"));
	}

	printf("\n%-6s %-7s %-7s %12s %12s %12s %12s %12s\n", "LCORE", "ROLE", "WORKER", "RX PKTS",
	       "TO BACKEND", "TO DEVICES", "PUNTED", "DROPPED");
	printf("%-6" JSON_INTEGER_FORMAT " %-7s %-7s %12s\n", geti(lc, "main"), "main", "-",
	       "(control)");
	for (size_t i = 0; i < json_array_size(workers); i++) {
		const json_t *v = json_array_get(workers, i);
		const json_t *c = json_object_get(v, "counters");

		printf("%-6" JSON_INTEGER_FORMAT " %-7s %-7" JSON_INTEGER_FORMAT
		       " %12" JSON_INTEGER_FORMAT " %12" JSON_INTEGER_FORMAT
		       " %12" JSON_INTEGER_FORMAT " %12" JSON_INTEGER_FORMAT
		       " %12" JSON_INTEGER_FORMAT "\n",
		       geti(v, "lcore"), "worker", geti(v, "worker"), geti(c, "rx_packets"),
		       geti(c, "forwarded_up"), geti(c, "forwarded_down"), geti(c, "punted"),
		       sum_values(json_object_get(c, "drops")));
	}

	printf("\nPUNTED TO THE CONTROL PLANE\n");
	for (void *it = json_object_iter((json_t *)punts); it != NULL;
	     it = json_object_iter_next((json_t *)punts, it))
		printf("  %-20s %12" JSON_INTEGER_FORMAT "\n", json_object_iter_key(it),
		       json_integer_value(json_object_iter_value(it)));
	{
		const json_t *hs = json_object_get(r, "handshakes");

		printf("\nHANDSHAKES\n  installed %" JSON_INTEGER_FORMAT
		       " (replaced %" JSON_INTEGER_FORMAT "), failed %" JSON_INTEGER_FORMAT
		       ", in flight %" JSON_INTEGER_FORMAT ", install refused %" JSON_INTEGER_FORMAT
		       "\n",
		       geti(hs, "installed"), geti(hs, "replaced"), geti(hs, "failed"),
		       geti(hs, "in_flight"), geti(hs, "install_failed"));
	}

	printf("\nDROPS\n");
	if (json_object_size(drops) == 0)
		printf("  (none)\n");
	for (void *it = json_object_iter((json_t *)drops); it != NULL;
	     it = json_object_iter_next((json_t *)drops, it))
		printf("  %-20s %12" JSON_INTEGER_FORMAT "\n", json_object_iter_key(it),
		       json_integer_value(json_object_iter_value(it)));
}

static void print_ports(const json_t *r)
{
	const json_t *ports = json_object_get(r, "ports");
	char lb[64];

	printf("%-10s %-8s %-15s %-18s %-17s %5s %7s %-12s %s\n", "PORT", "ROLE", "DRIVER",
	       "DEVICE", "MAC", "MTU", "RXQ/TXQ", "LINK", "ADDRESSES");
	for (size_t i = 0; i < json_array_size(ports); i++) {
		const json_t *v = json_array_get(ports, i);
		const json_t *addrs = json_object_get(v, "addresses");
		char as[256] = "";
		size_t off = 0;

		for (size_t j = 0; j < json_array_size(addrs); j++)
			append(as, sizeof(as), &off, "%s%s", j ? " " : "",
			       json_string_value(json_array_get(addrs, j)));
		printf("%-10s %-8s %-15s %-18s %-17s %5" JSON_INTEGER_FORMAT
		       " %3" JSON_INTEGER_FORMAT "/%-3" JSON_INTEGER_FORMAT " %-12s %s\n",
		       gets_(v, "name"), gets_(v, "role"), gets_(v, "driver"), gets_(v, "device"),
		       gets_(v, "mac"), geti(v, "mtu"), geti(v, "rx_queues"), geti(v, "tx_queues"),
		       link_str(json_object_get(v, "link"), lb, sizeof(lb)), as[0] ? as : "-");
	}
}

static void print_version(const json_t *r)
{
	const json_t *cmds = json_object_get(r, "commands");

	printf("%s %s, control protocol %" JSON_INTEGER_FORMAT ", %s\n", gets_(r, "name"),
	       gets_(r, "version"), geti(r, "protocol"), gets_(r, "dpdk"));
	printf("stormctl %s, control protocol %d\n\ncommands:\n", SG_VERSION, SG_CTL_PROTOCOL);
	for (size_t i = 0; i < json_array_size(cmds); i++) {
		const json_t *v = json_array_get(cmds, i);
		printf("  %-12s %s\n", gets_(v, "name"), gets_(v, "summary"));
	}
}

/* Socket path: --socket, $STORMGATE_SOCKET, the config's control.socket, the default. */
static int socket_path(const char *opt_socket, const char *opt_config, char *out, size_t len)
{
	char def_cfg[512];
	const char *cfg_path = opt_config;
	const char *env = getenv("STORMGATE_SOCKET");

	if (opt_socket != NULL) {
		snprintf(out, len, "%s", opt_socket);
		return 0;
	}
	if (opt_config == NULL && env != NULL && env[0] != '\0') {
		snprintf(out, len, "%s", env);
		return 0;
	}
	snprintf(def_cfg, sizeof(def_cfg), "%s/stormgate.yaml", SG_SYSCONFDIR);
	if (cfg_path == NULL && access(def_cfg, R_OK) == 0)
		cfg_path = def_cfg;
	if (cfg_path == NULL) {
		snprintf(out, len, "%s", DEFAULT_SOCKET);
		return 0;
	}
	struct sg_config *cfg = malloc(sizeof(*cfg));
	struct sg_cfg_errors errs;
	if (cfg == NULL)
		return -ENOMEM;
	int rc = sg_config_load(cfg, cfg_path, &errs);
	if (rc != 0) {
		for (unsigned i = 0; i < errs.n_lines; i++)
			fprintf(stderr, "%s\n", errs.lines[i]);
		fprintf(stderr, "stormctl: cannot read the socket path from %s (use --socket)\n",
		        cfg_path);
	} else {
		snprintf(out, len, "%s", cfg->control.socket);
	}
	sg_cfg_errors_free(&errs);
	free(cfg);
	return rc;
}

int main(int argc, char **argv)
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
	const char *opt_socket = NULL, *opt_config = NULL;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path) + 1];
	int json_out = 0, timeout_ms = 5000, opt, status = EXIT_FAILURE;
	json_t *req, *args, *resp, *err, *res;

	while ((opt = getopt_long(argc, argv, "+s:c:jt:hV", longopts, NULL)) != -1) {
		switch (opt) {
		case 's':
			opt_socket = optarg;
			break;
		case 'c':
			opt_config = optarg;
			break;
		case 'j':
			json_out = 1;
			break;
		case 't': {
			char *end;
			double t = strtod(optarg, &end);
			if (*optarg == '\0' || *end != '\0' || !(t > 0 && t <= 3600)) {
				fprintf(stderr,
				        "stormctl: --timeout wants seconds in (0, 3600], got "
				        "'%s'\n",
				        optarg);
				return EXIT_USAGE;
			}
			timeout_ms = (int)(t * 1000);
			break;
		}
		case 'h':
			usage(stdout);
			return EXIT_SUCCESS;
		case 'V':
			printf("stormctl %s (control protocol %d)\n", SG_VERSION, SG_CTL_PROTOCOL);
			return EXIT_SUCCESS;
		default:
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (optind >= argc) {
		fprintf(stderr,
		        "stormctl: no command given (try: stormctl status; stormctl --help)\n");
		return EXIT_USAGE;
	}
	const char *cmd = argv[optind];
	args = json_object();
	for (int i = optind + 1; i < argc; i++) {
		const char *eq = strchr(argv[i], '=');
		if (eq == NULL || eq == argv[i]) {
			fprintf(stderr, "stormctl: argument '%s' is not KEY=VALUE\n", argv[i]);
			json_decref(args);
			return EXIT_USAGE;
		}
		char key[128];
		snprintf(key, sizeof(key), "%.*s", (int)(eq - argv[i]), argv[i]);
		json_object_set_new(args, key, json_string(eq + 1));
	}
	if (socket_path(opt_socket, opt_config, path, sizeof(path)) != 0) {
		json_decref(args);
		return EXIT_USAGE;
	}

	req = json_pack("{s:i, s:s, s:o}", "v", SG_CTL_PROTOCOL, "cmd", cmd, "args", args);
	if (req == NULL)
		return EXIT_FAILURE;
	resp = exchange(path, req, timeout_ms);
	json_decref(req);
	if (resp == NULL)
		return EXIT_FAILURE;

	err = json_object_get(resp, "error");
	res = json_object_get(resp, "result");
	if (err != NULL) {
		if (json_out) {
			json_t *e = json_pack("{s:O}", "error", err);
			json_dumpf(e, stdout, JSON_INDENT(2));
			printf("\n");
			json_decref(e);
		}
		fprintf(stderr, "stormctl: %s: %s (%s)\n", cmd, gets_(err, "message"),
		        gets_(err, "code"));
	} else if (res == NULL) {
		fprintf(stderr, "stormctl: answer has neither result nor error\n");
	} else {
		status = EXIT_SUCCESS;
		if (json_out) {
			json_dumpf(res, stdout, JSON_INDENT(2));
			printf("\n");
		} else if (strcmp(cmd, "status") == 0) {
			print_status(res);
		} else if (strcmp(cmd, "ports") == 0) {
			print_ports(res);
		} else if (strcmp(cmd, "version") == 0) {
			print_version(res);
		} else if (strcmp(cmd, "shutdown") == 0) {
			printf("stormgate is stopping\n");
		} else {
			json_dumpf(res, stdout, JSON_INDENT(2));
			printf("\n");
		}
	}
	json_decref(resp);
	return status;
}
