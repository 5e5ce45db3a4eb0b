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
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <jansson.h>

#include <stormgate/common.h>

#include "sg_build_config.h"
#include "sg_config.h"
#include "sg_ctl_client.h"
#include "sg_metrics.h"

#define EXIT_USAGE     2
#define DEFAULT_SOCKET "/run/stormgate/control.sock"
#define COMMIT_TIMEOUT 300000 /* ms: committing millions of credentials syncs the store */
#define IMPORT_CHUNK   (48u << 10)

static void usage(FILE *f)
{
	fprintf(f,
	        "Usage: stormctl [OPTIONS] COMMAND [ARGS...]\n"
	        "Talk to a running stormgate over its control socket.\n"
	        "\n"
	        "Commands:\n"
	        "  status                     uptime, lcores, ports with link and counters, drops\n"
	        "  ports                      port configuration: driver, MAC, queues, addresses\n"
	        "  version                    daemon, protocol and DPDK versions; its commands\n"
	        "  stats                      counters: global, per worker, per drop reason,\n"
	        "                             sessions, handshakes, admission, control socket\n"
	        "  metrics                    the same in the Prometheus text format\n"
	        "  sessions count\n"
	        "  sessions list [--identity ID | --addr ADDR[:PORT]] [--limit N] [--cursor C]\n"
	        "                [--all]      N per page (default 100, at most 1000)\n"
	        "  sessions show SESSION-ID\n"
	        "  sessions kill SESSION-ID | --identity ID\n"
	        "                             end it; the device gets a close_notify and\n"
	        "                             handshakes again\n"
	        "  credentials count\n"
	        "  credentials show ID        policy and sessions of an identity (never its key)\n"
	        "  credentials add ID [--key-file FILE] [--lifetime SEC] [--disabled]\n"
	        "                  [--replace [--keep-sessions]]\n"
	        "                             the PSK in hex, one line, from FILE or standard\n"
	        "                             input (never an argument: /proc shows those to\n"
	        "                             every user); --replace ends the identity's\n"
	        "                             sessions unless --keep-sessions\n"
	        "  credentials remove ID [--keep-sessions]\n"
	        "                             ends the identity's sessions unless --keep-sessions\n"
	        "  credentials import FILE.csv|- [--no-progress]\n"
	        "                             identity,psk_hex[,key_lifetime[,state]] per line,\n"
	        "                             streamed to the daemon; all lines or none\n"
	        "  policy get\n"
	        "  policy set KEY=VALUE...    key_lifetime=12h key_lifetime_jitter=10\n"
	        "                             cookie_mode=always cookie_threshold=500\n"
	        "                             handshake_rate=2000 rekey_grace=30s\n"
	        "                             handshake_source_share=25\n"
	        "                             suites=TLS_PSK_WITH_AES_128_CCM_8,...\n"
	        "  shutdown                   stop the daemon cleanly\n"
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
	        DEFAULT_SOCKET, SG_SYSCONFDIR);
}

static int json_out;
static int timeout_ms = 5000;
static const char *sock_path;

/* ---------------------------------------------------------------------- */
/* Connection: one per run, requests answered in order                    */

struct conn {
	struct sg_ctl_client *cl;
};

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int conn_open(struct conn *c)
{
	c->cl = sg_ctl_client_open(sock_path, 0);
	if (c->cl == NULL) {
		int e = errno;

		if (e == ENAMETOOLONG)
			fprintf(stderr, "stormctl: socket path too long: %s\n", sock_path);
		else
			fprintf(stderr, "stormctl: cannot connect to %s: %s%s\n", sock_path,
			        strerror(e),
			        e == ENOENT || e == ECONNREFUSED ? " (is stormgate running?)" : "");
		return -1;
	}
	return 0;
}

static void conn_close(struct conn *c)
{
	sg_ctl_client_close(c->cl);
	c->cl = NULL;
}

/* Send one request and read its response line. Returns the response or NULL (reported). */
static json_t *conn_call(struct conn *c, json_t *req, int wait_ms)
{
	json_t *resp;

	if (sg_ctl_client_call(c->cl, req, wait_ms, &resp) != 0) {
		fprintf(stderr, "stormctl: %s\n", sg_ctl_client_why(c->cl));
		return NULL;
	}
	return resp;
}

/*
 * One command: its result (a new reference), or NULL after printing why
 * (the daemon's error, or the connection's). *err_out, when not NULL, gets
 * the daemon's error object (a new reference) instead of it being printed.
 */
static json_t *call(struct conn *c, const char *cmd, json_t *args, int wait_ms, json_t **err_out)
{
	json_t *req = sg_ctl_request(cmd, args), *resp, *res = NULL, *err;

	if (err_out != NULL)
		*err_out = NULL;
	if (req == NULL)
		return NULL;
	resp = conn_call(c, req, wait_ms);
	json_decref(req);
	if (resp == NULL)
		return NULL;
	err = json_object_get(resp, "error");
	res = json_object_get(resp, "result");
	if (err != NULL) {
		if (err_out != NULL) {
			*err_out = json_incref(err);
		} else {
			if (json_out) {
				json_t *e = json_pack("{s:O}", "error", err);
				json_dumpf(e, stdout, JSON_INDENT(2));
				printf("\n");
				json_decref(e);
			}
			fprintf(stderr, "stormctl: %s: %s (%s)\n", cmd,
			        json_string_value(json_object_get(err, "message")),
			        json_string_value(json_object_get(err, "code")));
		}
		res = NULL;
	} else if (res == NULL) {
		fprintf(stderr, "stormctl: answer has neither result nor error\n");
	} else {
		json_incref(res);
	}
	json_decref(resp);
	return res;
}

static void print_json(const json_t *v)
{
	json_dumpf(v, stdout, JSON_INDENT(2));
	printf("\n");
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
		printf("  %-20s %s\n", gets_(v, "name"), gets_(v, "summary"));
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

/* ---------------------------------------------------------------------- */
/* stats, sessions, credentials, policy                                    */

static double getd(const json_t *o, const char *k)
{
	const json_t *v = json_object_get(o, k);

	return json_is_real(v) ? json_real_value(v) : (double)json_integer_value(v);
}

static void print_counts(const char *title, const json_t *obj, int nonzero_only)
{
	int any = 0;
	const char *key;
	json_t *v;

	printf("%s\n", title);
	json_object_foreach((json_t *)obj, key, v)
	{
		if (nonzero_only && json_integer_value(v) == 0)
			continue;
		printf("  %-32s %14" JSON_INTEGER_FORMAT "\n", key, json_integer_value(v));
		any = 1;
	}
	if (!any)
		printf("  (none)\n");
}

static void print_stats(const json_t *r)
{
	const json_t *g = json_object_get(r, "global"), *ws = json_object_get(r, "workers");
	const json_t *s = json_object_get(r, "sessions"), *h = json_object_get(r, "handshakes");
	const json_t *a = json_object_get(r, "admission"), *cr = json_object_get(r, "credentials");
	const json_t *ct = json_object_get(r, "control");

	printf("stormgate up %.0f s\n\n", getd(r, "uptime_s"));
	printf("%-8s %-6s %12s %14s %12s %12s %12s %10s %10s %7s\n", "WORKER", "LCORE", "RX PKTS",
	       "RX BYTES", "TO BACKEND", "TO DEVICES", "PUNTED", "HANDED", "DROPPED", "IDLE");
	for (size_t i = 0; i < json_array_size(ws); i++) {
		const json_t *w = json_array_get(ws, i);
		double polls = getd(w, "polls");

		printf("%-8" JSON_INTEGER_FORMAT " %-6" JSON_INTEGER_FORMAT
		       " %12" JSON_INTEGER_FORMAT " %14" JSON_INTEGER_FORMAT
		       " %12" JSON_INTEGER_FORMAT " %12" JSON_INTEGER_FORMAT
		       " %12" JSON_INTEGER_FORMAT " %10" JSON_INTEGER_FORMAT
		       " %10" JSON_INTEGER_FORMAT " %6.1f%%\n",
		       geti(w, "worker"), geti(w, "lcore"), geti(w, "rx_packets"),
		       geti(w, "rx_bytes"), geti(w, "forwarded_up"), geti(w, "forwarded_down"),
		       geti(w, "punted"), geti(w, "handed_off"), geti(w, "dropped"),
		       polls > 0 ? 100.0 * getd(w, "idle_polls") / polls : 0.0);
	}
	printf("%-15s %12" JSON_INTEGER_FORMAT " %14" JSON_INTEGER_FORMAT " %12" JSON_INTEGER_FORMAT
	       " %12" JSON_INTEGER_FORMAT " %12" JSON_INTEGER_FORMAT " %10" JSON_INTEGER_FORMAT
	       " %10" JSON_INTEGER_FORMAT "\n\n",
	       "total", geti(g, "rx_packets"), geti(g, "rx_bytes"), geti(g, "forwarded_up"),
	       geti(g, "forwarded_down"), geti(g, "punted"), geti(g, "handed_off"),
	       geti(g, "dropped"));
	print_counts("DROPS", json_object_get(r, "drops"), 1);
	{
		/* CID devices at a new address (RFC 9146 §6), return routability (RFC 9853). */
		const json_t *rrc = json_object_get(g, "rrc");

		printf("\nPEER MOVES   moved %" JSON_INTEGER_FORMAT ", held %" JSON_INTEGER_FORMAT
		       "; checks: challenges %" JSON_INTEGER_FORMAT
		       ", answered ok %" JSON_INTEGER_FORMAT ", refused %" JSON_INTEGER_FORMAT
		       ", timed out %" JSON_INTEGER_FORMAT
		       "; device challenges answered %" JSON_INTEGER_FORMAT
		       "; datagrams consumed %" JSON_INTEGER_FORMAT "\n",
		       geti(g, "peer_moves"), geti(rrc, "moves_held"), geti(rrc, "challenges"),
		       geti(rrc, "responses_ok"), geti(rrc, "responses_refused"),
		       geti(rrc, "timeouts"), geti(rrc, "answered"), geti(g, "consumed"));
	}
	printf("SESSIONS     %" JSON_INTEGER_FORMAT " live of %" JSON_INTEGER_FORMAT
	       ", %" JSON_INTEGER_FORMAT " identities; inserted %" JSON_INTEGER_FORMAT
	       ", replaced %" JSON_INTEGER_FORMAT ", deleted %" JSON_INTEGER_FORMAT
	       ", killed %" JSON_INTEGER_FORMAT ", expired %" JSON_INTEGER_FORMAT
	       ", idle %" JSON_INTEGER_FORMAT " (close_notify sent %" JSON_INTEGER_FORMAT
	       "), ended by device %" JSON_INTEGER_FORMAT "\n",
	       geti(s, "live"), geti(s, "capacity"), geti(s, "identities"), geti(s, "inserts"),
	       geti(s, "replaces"), geti(s, "deletes"), geti(s, "killed"), geti(s, "expired"),
	       geti(s, "idle"), geti(s, "kill_alerts_sent"), geti(s, "ended_by_device"));
	printf("HANDSHAKES   %" JSON_INTEGER_FORMAT " in flight; installed %" JSON_INTEGER_FORMAT
	       " (replaced %" JSON_INTEGER_FORMAT "), full %" JSON_INTEGER_FORMAT
	       ", resumed %" JSON_INTEGER_FORMAT ", failed %" JSON_INTEGER_FORMAT
	       ", install refused %" JSON_INTEGER_FORMAT
	       ", HelloVerifyRequests %" JSON_INTEGER_FORMAT "\n",
	       geti(h, "in_flight"), geti(h, "installed"), geti(h, "replaced"),
	       geti(h, "completed_full"), geti(h, "completed_resumed"), geti(h, "failed"),
	       geti(h, "install_failed"), geti(h, "hello_verify_sent"));
	if (geti(a, "handshake_rate") > 0)
		printf("ADMISSION    %" JSON_INTEGER_FORMAT
		       " new handshakes/s (%" JSON_INTEGER_FORMAT " available now)",
		       geti(a, "handshake_rate"), geti(a, "available"));
	else
		printf("ADMISSION    unlimited");
	printf("; admitted %" JSON_INTEGER_FORMAT ", refused %" JSON_INTEGER_FORMAT
	       " (rate %" JSON_INTEGER_FORMAT ", source share %" JSON_INTEGER_FORMAT
	       "; a /%" JSON_INTEGER_FORMAT " or /%" JSON_INTEGER_FORMAT
	       " takes %" JSON_INTEGER_FORMAT "%%); cookies %s (threshold %" JSON_INTEGER_FORMAT
	       ", %" JSON_INTEGER_FORMAT " of %" JSON_INTEGER_FORMAT " in flight): %s\n",
	       geti(a, "admitted"), geti(a, "refused"),
	       geti(json_object_get(a, "refused_by"), "rate"),
	       geti(json_object_get(a, "refused_by"), "source_share"), geti(a, "source_prefix4"),
	       geti(a, "source_prefix6"), geti(a, "source_share"), gets_(a, "cookie_mode"),
	       geti(a, "cookie_threshold"), geti(a, "in_flight"), geti(a, "max_handshakes"),
	       json_is_true(json_object_get(a, "cookies_required")) ? "required" : "not required");
	printf("CREDENTIALS  %" JSON_INTEGER_FORMAT " identities%s; imports %" JSON_INTEGER_FORMAT
	       " committed, %" JSON_INTEGER_FORMAT " failed\n",
	       geti(cr, "count"),
	       json_is_true(json_object_get(cr, "import_running")) ? ", an import is running" : "",
	       geti(cr, "imports_done"), geti(cr, "imports_failed"));
	printf("CONTROL      %" JSON_INTEGER_FORMAT " client(s); %" JSON_INTEGER_FORMAT
	       " requests (%" JSON_INTEGER_FORMAT " errors); closed: %" JSON_INTEGER_FORMAT
	       " idle, %" JSON_INTEGER_FORMAT " oversized, %" JSON_INTEGER_FORMAT
	       " not reading; %" JSON_INTEGER_FORMAT " refused\n\n",
	       geti(ct, "clients"), geti(ct, "requests"), geti(ct, "errors"), geti(ct, "timeouts"),
	       geti(ct, "oversized"), geti(ct, "dropped"), geti(ct, "refused"));
	print_counts("HANDSHAKE EVENTS", json_object_get(h, "counters"), 1);
}

static void identity_str(const json_t *v, char *buf, size_t len)
{
	if (json_is_string(v))
		snprintf(buf, len, "%s", json_string_value(v));
	else if (json_is_object(v))
		snprintf(buf, len, "hex:%s", gets_(v, "hex"));
	else
		snprintf(buf, len, "-");
}

static void print_session_rows(const json_t *rows, int *header_done)
{
	if (!*header_done && json_array_size(rows) > 0) {
		*header_done = 1;
		printf("%-16s  %-28s %-32s %-40s %6s %5s %10s %10s\n", "SESSION", "PEER",
		       "IDENTITY", "SUITE", "WORKER", "EPOCH", "TX SEQ", "EXPIRES");
	}
	for (size_t i = 0; i < json_array_size(rows); i++) {
		const json_t *s = json_array_get(rows, i);
		char ident[300];

		identity_str(json_object_get(s, "identity"), ident, sizeof(ident));
		printf("%-16s  %-28s %-32s %-40s %6" JSON_INTEGER_FORMAT " %5" JSON_INTEGER_FORMAT
		       " %10" JSON_INTEGER_FORMAT " %9" JSON_INTEGER_FORMAT "s\n",
		       gets_(s, "id"), gets_(s, "peer"), ident, gets_(s, "suite"),
		       geti(s, "worker"), geti(s, "epoch"), geti(s, "tx_seq"),
		       geti(s, "expires_in_s"));
	}
}

static void print_session(const json_t *s)
{
	const char *key;
	json_t *v;
	char ident[300];

	json_object_foreach((json_t *)s, key, v)
	{
		if (strcmp(key, "identity") == 0) {
			identity_str(v, ident, sizeof(ident));
			printf("%-16s %s\n", key, ident);
		} else if (json_is_string(v)) {
			printf("%-16s %s\n", key, json_string_value(v));
		} else if (json_is_boolean(v)) {
			printf("%-16s %s\n", key, json_is_true(v) ? "yes" : "no");
		} else if (json_is_integer(v)) {
			printf("%-16s %" JSON_INTEGER_FORMAT "\n", key, json_integer_value(v));
		}
	}
}

static void print_policy(const json_t *p)
{
	const json_t *suites = json_object_get(p, "suites");

	printf("key_lifetime         %" JSON_INTEGER_FORMAT " s\n", geti(p, "key_lifetime"));
	printf("key_lifetime_jitter  %" JSON_INTEGER_FORMAT " %%\n",
	       geti(p, "key_lifetime_jitter"));
	printf("cookie_mode          %s\n", gets_(p, "cookie_mode"));
	printf("cookie_threshold     %" JSON_INTEGER_FORMAT " (of %" JSON_INTEGER_FORMAT
	       " handshake slots)\n",
	       geti(p, "cookie_threshold"), geti(p, "max_handshakes"));
	printf("handshake_rate       %" JSON_INTEGER_FORMAT "%s\n", geti(p, "handshake_rate"),
	       geti(p, "handshake_rate") ? " /s" : " (unlimited)");
	printf("handshake_source_share %" JSON_INTEGER_FORMAT " %% per /%" JSON_INTEGER_FORMAT
	       " (IPv4) or /%" JSON_INTEGER_FORMAT " (IPv6)\n",
	       geti(p, "handshake_source_share"), geti(p, "handshake_source_prefix4"),
	       geti(p, "handshake_source_prefix6"));
	printf("rekey_grace          %" JSON_INTEGER_FORMAT " s\n", geti(p, "rekey_grace"));
	if (geti(p, "idle_timeout"))
		printf("idle_timeout         %" JSON_INTEGER_FORMAT " s\n",
		       geti(p, "idle_timeout"));
	else
		printf("idle_timeout         never\n");
	if (geti(p, "auth_failure_limit"))
		printf("auth_failure_limit   %" JSON_INTEGER_FORMAT
		       " forgeries a key, at most RFC 9147's (start-up only)\n",
		       geti(p, "auth_failure_limit"));
	else
		printf("auth_failure_limit   RFC 9147 (CCM_8 128, CCM 2^23.5, GCM/ChaCha 2^36;"
		       " start-up only)\n");
	printf("suites\n");
	for (size_t i = 0; i < json_array_size(suites); i++)
		printf("  %zu. %s\n", i + 1, json_string_value(json_array_get(suites, i)));
}

/* One request on a fresh connection; the result printed readably (or as JSON). */
static int simple(const char *cmd, json_t *args, void (*print)(const json_t *))
{
	struct conn c;
	json_t *r;

	if (conn_open(&c) != 0) {
		json_decref(args);
		return EXIT_FAILURE;
	}
	r = call(&c, cmd, args, timeout_ms, NULL);
	conn_close(&c);
	if (r == NULL)
		return EXIT_FAILURE;
	if (json_out || print == NULL)
		print_json(r);
	else
		print(r);
	json_decref(r);
	return EXIT_SUCCESS;
}

static int usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int usage_error(const char *fmt, ...)
{
	va_list ap;

	fputs("stormctl: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs(" (stormctl --help)\n", stderr);
	return EXIT_USAGE;
}

/* "--name VALUE" at argv[*i]: the value, advancing *i; NULL when missing. */
static const char *opt_value(int argc, char **argv, int *i)
{
	if (*i + 1 >= argc)
		return NULL;
	return argv[++*i];
}

static void print_killed(const json_t *r)
{
	printf("killed %" JSON_INTEGER_FORMAT
	       " session(s); close_notify sent to %" JSON_INTEGER_FORMAT "%s\n",
	       geti(r, "killed"), geti(r, "alerts_sent"),
	       json_is_true(json_object_get(r, "more")) ? "; more are left: run it again" : "");
}

static void print_count(const json_t *r)
{
	printf("%" JSON_INTEGER_FORMAT " session(s) of %" JSON_INTEGER_FORMAT
	       ", %" JSON_INTEGER_FORMAT " identities\n",
	       geti(r, "sessions"), geti(r, "capacity"), geti(r, "identities"));
}

static int sessions_list(int argc, char **argv, int i)
{
	json_t *args = json_object(), *all = json_array();
	long long limit = 100, shown = 0;
	int every = 0, status = EXIT_FAILURE, header = 0;
	struct conn c;

	for (; i < argc; i++) {
		const char *a = argv[i], *v = NULL;

		if (strcmp(a, "--all") == 0) {
			every = 1;
			continue;
		}
		if (strcmp(a, "--identity") != 0 && strcmp(a, "--addr") != 0 &&
		    strcmp(a, "--limit") != 0 && strcmp(a, "--cursor") != 0) {
			json_decref(args);
			json_decref(all);
			return usage_error("sessions list: unexpected '%s'", a);
		}
		v = opt_value(argc, argv, &i);
		if (v == NULL) {
			json_decref(args);
			json_decref(all);
			return usage_error("sessions list: %s wants a value", a);
		}
		if (strcmp(a, "--limit") == 0 || strcmp(a, "--cursor") == 0) {
			char *end;
			long long x = strtoll(v, &end, 10);

			if (*v == '\0' || *end != '\0' || x < (a[2] == 'l' ? 1 : 0)) {
				json_decref(args);
				json_decref(all);
				return usage_error("sessions list: %s wants a number, got '%s'", a,
				                   v);
			}
			if (a[2] == 'l')
				limit = x;
			json_object_set_new(args, a + 2, json_integer(x));
		} else {
			json_object_set_new(args, a + 2, json_string(v));
		}
	}
	if (conn_open(&c) != 0) {
		json_decref(args);
		json_decref(all);
		return EXIT_FAILURE;
	}
	for (;;) {
		json_t *r = call(&c, "sessions.list", json_incref(args), timeout_ms, NULL);
		json_t *rows, *next;

		if (r == NULL)
			goto out;
		rows = json_object_get(r, "sessions");
		next = json_object_get(r, "next");
		if (json_out)
			json_array_extend(all, rows);
		else
			print_session_rows(rows, &header);
		shown += (long long)json_array_size(rows);
		if (!json_is_integer(next)) {
			json_decref(r);
			break;
		}
		/* A page that matched nothing (an --addr filter) is not an answer yet. */
		if (!every && shown > 0) {
			if (!json_out)
				printf("(more: stormctl sessions list --cursor "
				       "%" JSON_INTEGER_FORMAT " ..., or --all)\n",
				       json_integer_value(next));
			else
				json_object_set_new(args, "next", json_incref(next));
			json_decref(r);
			break;
		}
		json_object_set_new(args, "cursor", json_incref(next));
		if (json_object_get(args, "limit") == NULL)
			json_object_set_new(args, "limit",
			                    json_integer(limit > 1000 ? 1000 : limit));
		json_decref(r);
	}
	if (json_out) {
		json_t *o = json_pack("{s:O, s:O}", "sessions", all, "next",
		                      json_object_get(args, "next") ? json_object_get(args, "next")
		                                                    : json_null());
		print_json(o);
		json_decref(o);
	} else if (shown == 0) {
		printf("(no sessions)\n");
	}
	status = EXIT_SUCCESS;
out:
	conn_close(&c);
	json_decref(args);
	json_decref(all);
	return status;
}

static int cmd_sessions(int argc, char **argv, int i)
{
	const char *sub = i < argc ? argv[i++] : NULL;

	if (sub == NULL)
		return usage_error("sessions wants count, list, show or kill");
	if (strcmp(sub, "count") == 0) {
		if (i < argc)
			return usage_error("sessions count takes no arguments");
		return simple("sessions.count", NULL, print_count);
	}
	if (strcmp(sub, "list") == 0)
		return sessions_list(argc, argv, i);
	if (strcmp(sub, "show") == 0) {
		if (argc - i != 1)
			return usage_error("sessions show wants one SESSION-ID");
		return simple("sessions.show", json_pack("{s:s}", "id", argv[i]), print_session);
	}
	if (strcmp(sub, "kill") == 0) {
		if (argc - i == 2 && strcmp(argv[i], "--identity") == 0)
			return simple("sessions.kill", json_pack("{s:s}", "identity", argv[i + 1]),
			              print_killed);
		if (argc - i == 1 && argv[i][0] != '-')
			return simple("sessions.kill", json_pack("{s:s}", "id", argv[i]),
			              print_killed);
		return usage_error("sessions kill wants SESSION-ID or --identity ID");
	}
	return usage_error("unknown sessions command '%s'", sub);
}

/*
 * The PSK: the first line of file (hex), or typed (echo off) or piped on
 * standard input when file is NULL or "-". Never an argument: a process's
 * command line is readable by every user in /proc/PID/cmdline. Returns 0 or
 * -1 (message printed); buf is the caller's to wipe.
 */
static int read_psk(const char *file, char *buf, size_t len)
{
	struct termios old, noecho;
	int tty, restore = 0;
	size_t n;

	if (file != NULL && strcmp(file, "-") != 0) {
		FILE *f = fopen(file, "re");

		if (f == NULL) {
			fprintf(stderr, "stormctl: --key-file %s: %s\n", file, strerror(errno));
			return -1;
		}
		if (fgets(buf, (int)len, f) == NULL)
			buf[0] = '\0';
		fclose(f);
		n = strcspn(buf, "\r\n");
		buf[n] = '\0';
		if (n == 0)
			fprintf(stderr, "stormctl: --key-file %s: no PSK on its first line\n",
			        file);
		return n > 0 ? 0 : -1;
	}
	tty = isatty(STDIN_FILENO);
	if (tty) {
		fprintf(stderr, "PSK (hex): ");
		if (tcgetattr(STDIN_FILENO, &old) == 0) {
			noecho = old;
			noecho.c_lflag &= ~(tcflag_t)ECHO;
			restore = tcsetattr(STDIN_FILENO, TCSAFLUSH, &noecho) == 0;
		}
	}
	if (fgets(buf, (int)len, stdin) == NULL)
		buf[0] = '\0';
	if (restore) {
		tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
		fprintf(stderr, "\n");
	}
	n = strcspn(buf, "\r\n");
	buf[n] = '\0';
	if (n == 0)
		fprintf(stderr, "stormctl: no PSK on standard input\n");
	return n > 0 ? 0 : -1;
}

/* What became of the identity's sessions after a replace or remove. */
static void print_sessions_after(const json_t *r)
{
	if (geti(r, "sessions_killed") > 0)
		printf("; %" JSON_INTEGER_FORMAT " session(s) ended (close_notify)",
		       geti(r, "sessions_killed"));
	if (geti(r, "sessions_left") > 0)
		printf("; %" JSON_INTEGER_FORMAT " session(s) of it %s", geti(r, "sessions_left"),
		       json_is_true(json_object_get(r, "sessions_kept"))
		               ? "kept (--keep-sessions): they run until their key lifetime ends"
		               : "still live, being ended in the background");
	printf("\n");
}

static void print_added(const json_t *r)
{
	printf("%s", json_is_true(json_object_get(r, "replaced")) ? "replaced" : "added");
	print_sessions_after(r);
}

static void print_removed(const json_t *r)
{
	printf("removed");
	print_sessions_after(r);
}

static void print_cred_count(const json_t *r)
{
	printf("%" JSON_INTEGER_FORMAT " identities in %s%s\n", geti(r, "count"), gets_(r, "db"),
	       json_is_true(json_object_get(r, "import_running")) ? " (an import is running)" : "");
}

static void print_cred(const json_t *r)
{
	char ident[300];

	identity_str(json_object_get(r, "identity"), ident, sizeof(ident));
	printf("identity      %s\nstate         %s\npsk           %" JSON_INTEGER_FORMAT
	       " bytes (never shown)\n",
	       ident, gets_(r, "state"), geti(r, "psk_len"));
	if (geti(r, "key_lifetime"))
		printf("key lifetime  %" JSON_INTEGER_FORMAT " s\n", geti(r, "key_lifetime"));
	else
		printf("key lifetime  the policy's (%" JSON_INTEGER_FORMAT " s)\n",
		       geti(r, "effective_key_lifetime"));
	printf("sessions      %" JSON_INTEGER_FORMAT "\n", geti(r, "sessions"));
}

/* Encode n bytes as padded base64 (RFC 4648 §4) into out (4 * ceil(n / 3) + 1 bytes). */
static void b64_encode(const uint8_t *in, size_t n, char *out)
{
	static const char tab[] =
	        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t o = 0;

	for (size_t i = 0; i < n; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16;

		if (i + 1 < n)
			v |= (uint32_t)in[i + 1] << 8;
		if (i + 2 < n)
			v |= in[i + 2];
		out[o++] = tab[v >> 18 & 63];
		out[o++] = tab[v >> 12 & 63];
		out[o++] = i + 1 < n ? tab[v >> 6 & 63] : '=';
		out[o++] = i + 2 < n ? tab[v & 63] : '=';
	}
	out[o] = '\0';
}

/* Progress on stderr: in place on a terminal, a line each 10 % otherwise. */
struct progress {
	int on, tty;
	int64_t start, last;
	uint64_t total;
	int step;
};

static void progress_show(struct progress *p, uint64_t bytes, json_int_t lines, int final)
{
	int64_t now = now_ms();
	double secs = (double)(now - p->start) / 1000.0;
	int pct = p->total ? (int)(100.0 * (double)bytes / (double)p->total) : -1;

	if (!p->on)
		return;
	if (p->tty) {
		if (!final && now - p->last < 200)
			return;
		p->last = now;
		fprintf(stderr, "\rimporting: ");
		if (pct >= 0)
			fprintf(stderr, "%3d%% ", pct);
		fprintf(stderr, "%" JSON_INTEGER_FORMAT " lines, %.0f lines/s%s", lines,
		        secs > 0 ? (double)lines / secs : 0.0, final ? "\n" : "");
		return;
	}
	if (final || (pct >= 0 && pct / 10 > p->step) || (pct < 0 && now - p->last >= 5000)) {
		p->step = pct / 10;
		p->last = now;
		if (pct >= 0)
			fprintf(stderr,
			        "importing: %3d%% %" JSON_INTEGER_FORMAT " lines in %.1f s\n", pct,
			        lines, secs);
		else
			fprintf(stderr, "importing: %" JSON_INTEGER_FORMAT " lines in %.1f s\n",
			        lines, secs);
	}
}

static int cred_import(const char *file, int show_progress)
{
	FILE *in = strcmp(file, "-") == 0 ? stdin : fopen(file, "re");
	struct progress pg = { .on = show_progress, .tty = isatty(STDERR_FILENO) };
	uint8_t *raw = NULL;
	char *b64 = NULL;
	json_t *v, *r, *e = NULL, *chunk_args;
	size_t chunk = IMPORT_CHUNK, n;
	uint64_t sent = 0;
	json_int_t lines = 0;
	int status = EXIT_FAILURE;
	struct stat st;
	struct conn c;

	if (in == NULL) {
		fprintf(stderr, "stormctl: %s: %s\n", file, strerror(errno));
		return EXIT_FAILURE;
	}
	if (fstat(fileno(in), &st) == 0 && S_ISREG(st.st_mode))
		pg.total = (uint64_t)st.st_size;
	if (conn_open(&c) != 0)
		goto out_file;
	/* Chunks that fit the daemon's request limit once in base64 and JSON. */
	v = call(&c, "version", NULL, timeout_ms, NULL);
	if (v == NULL)
		goto out_conn;
	{
		json_int_t max = json_integer_value(
		        json_object_get(json_object_get(v, "limits"), "max_request"));
		if (max > 0 && (size_t)(max - 128) / 4 * 3 < chunk)
			chunk = (size_t)(max - 128) / 4 * 3;
		json_decref(v);
	}
	if (chunk < 48)
		goto out_conn;
	raw = malloc(chunk);
	b64 = malloc(chunk / 3 * 4 + 8);
	if (raw == NULL || b64 == NULL)
		goto out_conn;
	r = call(&c, "credentials.import", json_pack("{s:s}", "phase", "begin"), timeout_ms, NULL);
	if (r == NULL)
		goto out_conn;
	json_decref(r);
	pg.start = pg.last = now_ms();
	while ((n = fread(raw, 1, chunk, in)) > 0) {
		b64_encode(raw, n, b64);
		sg_wipe(raw, n);
		chunk_args = json_pack("{s:s, s:s}", "phase", "data", "data", b64);
		sg_wipe(b64, strlen(b64));
		r = call(&c, "credentials.import", chunk_args, timeout_ms, &e);
		if (r == NULL)
			goto failed;
		sent += n;
		lines = json_integer_value(json_object_get(r, "lines"));
		json_decref(r);
		progress_show(&pg, sent, lines, 0);
	}
	if (ferror(in)) {
		fprintf(stderr, "stormctl: %s: read error\n", file);
		r = call(&c, "credentials.import", json_pack("{s:s}", "phase", "abort"), timeout_ms,
		         NULL);
		json_decref(r);
		goto out_conn;
	}
	r = call(&c, "credentials.import", json_pack("{s:s}", "phase", "commit"),
	         timeout_ms > COMMIT_TIMEOUT ? timeout_ms : COMMIT_TIMEOUT, &e);
	if (r == NULL)
		goto failed;
	progress_show(&pg, sent, json_integer_value(json_object_get(r, "lines")), 1);
	if (json_out)
		print_json(r);
	else
		printf("imported %" JSON_INTEGER_FORMAT " identities from %" JSON_INTEGER_FORMAT
		       " lines of %s in %.1f s (%" JSON_INTEGER_FORMAT " stored)\n",
		       geti(r, "imported"), geti(r, "lines"), file, getd(r, "seconds"),
		       geti(r, "count"));
	json_decref(r);
	status = EXIT_SUCCESS;
	goto out_conn;

failed:
	if (pg.on && pg.tty)
		fprintf(stderr, "\n");
	if (e != NULL) {
		const json_t *d = json_object_get(e, "data");

		if (json_out) {
			json_t *o = json_pack("{s:O}", "error", e);
			print_json(o);
			json_decref(o);
		}
		if (json_is_object(d))
			fprintf(stderr, "%s:%" JSON_INTEGER_FORMAT ": %s\n", file, geti(d, "line"),
			        gets_(d, "reason"));
		else
			fprintf(stderr, "stormctl: credentials import: %s (%s)\n",
			        gets_(e, "message"), gets_(e, "code"));
		fprintf(stderr, "stormctl: nothing imported; the credential store is unchanged\n");
		json_decref(e);
	}
out_conn:
	conn_close(&c);
out_file:
	if (raw != NULL)
		sg_wipe(raw, chunk);
	free(raw);
	free(b64);
	if (in != stdin)
		fclose(in);
	return status;
}

static int cmd_credentials(int argc, char **argv, int i)
{
	const char *sub = i < argc ? argv[i++] : NULL;

	if (sub == NULL)
		return usage_error("credentials wants count, show, add, remove or import");
	if (strcmp(sub, "count") == 0) {
		if (i < argc)
			return usage_error("credentials count takes no arguments");
		return simple("credentials.count", NULL, print_cred_count);
	}
	if (strcmp(sub, "show") == 0) {
		if (argc - i != 1)
			return usage_error("credentials show wants one identity");
		return simple("credentials.show", json_pack("{s:s}", "identity", argv[i]),
		              print_cred);
	}
	if (strcmp(sub, "remove") == 0) {
		int keep = 0;
		const char *id = NULL;

		for (; i < argc; i++) {
			if (strcmp(argv[i], "--keep-sessions") == 0)
				keep = 1;
			else if (strcmp(argv[i], "--kill-sessions") == 0)
				continue; /* the default since issue 12; accepted for older scripts
				           */
			else if (id == NULL && argv[i][0] != '-')
				id = argv[i];
			else
				return usage_error("credentials remove: unexpected '%s'", argv[i]);
		}
		if (id == NULL)
			return usage_error("credentials remove wants an identity");
		return simple("credentials.remove",
		              json_pack("{s:s, s:b}", "identity", id, "keep_sessions", keep),
		              print_removed);
	}
	if (strcmp(sub, "add") == 0) {
		const char *id = NULL, *key_file = NULL;
		json_t *args = json_object();
		char buf[160];
		int rc, keep = 0, replace = 0;

		for (; i < argc; i++) {
			const char *a = argv[i];

			if (strcmp(a, "--lifetime") == 0) {
				const char *v = opt_value(argc, argv, &i);

				if (v == NULL) {
					json_decref(args);
					return usage_error("--lifetime wants seconds (or 12h, 7d)");
				}
				json_object_set_new(args, "key_lifetime", json_string(v));
			} else if (strcmp(a, "--key-file") == 0) {
				key_file = opt_value(argc, argv, &i);
				if (key_file == NULL) {
					json_decref(args);
					return usage_error(
					        "--key-file wants a file (or - for stdin)");
				}
			} else if (strcmp(a, "--disabled") == 0) {
				json_object_set_new(args, "state", json_string("disabled"));
			} else if (strcmp(a, "--replace") == 0) {
				replace = 1;
			} else if (strcmp(a, "--keep-sessions") == 0) {
				keep = 1;
			} else if (id == NULL && a[0] != '-') {
				id = a;
			} else if (strcmp(a, "-") == 0 && key_file == NULL) {
				key_file = a; /* the PSK on stdin, as without it */
			} else if (a[0] != '-') {
				/*
				 * A PSK here would be in /proc/PID/cmdline, readable by
				 * every user, and in the shell's history.
				 */
				json_decref(args);
				fprintf(stderr,
				        "stormctl: credentials add: the PSK is never taken as an "
				        "argument (other users see arguments in ps and /proc);\n"
				        "give it on standard input (stormctl credentials add %s < "
				        "key.hex) or with --key-file FILE\n",
				        id);
				return EXIT_USAGE;
			} else {
				json_decref(args);
				return usage_error("credentials add: unexpected '%s'", a);
			}
		}
		if (id == NULL) {
			json_decref(args);
			return usage_error("credentials add wants an identity");
		}
		if (keep && !replace) {
			json_decref(args);
			return usage_error("credentials add: --keep-sessions goes with --replace");
		}
		if (read_psk(key_file, buf, sizeof(buf)) != 0) {
			json_decref(args);
			sg_wipe(buf, sizeof(buf));
			return EXIT_USAGE;
		}
		if (replace)
			json_object_set_new(args, "replace", json_true());
		if (keep)
			json_object_set_new(args, "keep_sessions", json_true());
		json_object_set_new(args, "identity", json_string(id));
		json_object_set_new(args, "psk", json_string(buf));
		sg_wipe(buf, sizeof(buf));
		rc = simple("credentials.add", args, print_added);
		return rc;
	}
	if (strcmp(sub, "import") == 0) {
		const char *file = NULL;
		int progress = 1;

		for (; i < argc; i++) {
			if (strcmp(argv[i], "--no-progress") == 0)
				progress = 0;
			else if (file == NULL)
				file = argv[i];
			else
				return usage_error("credentials import: unexpected '%s'", argv[i]);
		}
		if (file == NULL)
			return usage_error("credentials import wants a CSV file (or - for stdin)");
		return cred_import(file, progress);
	}
	return usage_error("unknown credentials command '%s'", sub);
}

static void print_policy_set(const json_t *r)
{
	const json_t *ch = json_object_get(r, "changed");

	printf("changed:");
	for (size_t i = 0; i < json_array_size(ch); i++)
		printf(" %s", json_string_value(json_array_get(ch, i)));
	printf("\n\n");
	print_policy(r);
}

/* KEY=VALUE words into an object of strings (the daemon parses them). */
static int kv_args(int argc, char **argv, int i, json_t **out)
{
	json_t *args = json_object();

	for (; i < argc; i++) {
		const char *eq = strchr(argv[i], '=');
		char key[128];

		if (eq == NULL || eq == argv[i] || (size_t)(eq - argv[i]) >= sizeof(key)) {
			json_decref(args);
			return usage_error("argument '%s' is not KEY=VALUE", argv[i]);
		}
		snprintf(key, sizeof(key), "%.*s", (int)(eq - argv[i]), argv[i]);
		json_object_set_new(args, key, json_string(eq + 1));
	}
	*out = args;
	return 0;
}

static int cmd_policy(int argc, char **argv, int i)
{
	const char *sub = i < argc ? argv[i++] : NULL;
	json_t *args;
	int rc;

	if (sub != NULL && strcmp(sub, "get") == 0) {
		if (i < argc)
			return usage_error("policy get takes no arguments");
		return simple("policy.get", NULL, print_policy);
	}
	if (sub != NULL && strcmp(sub, "set") == 0) {
		if (i >= argc)
			return usage_error("policy set wants KEY=VALUE...");
		rc = kv_args(argc, argv, i, &args);
		if (rc != 0)
			return rc;
		return simple("policy.set", args, print_policy_set);
	}
	return usage_error("policy wants get or set KEY=VALUE...");
}

static int cmd_metrics(int argc, int i)
{
	struct conn c;
	json_t *r;
	int rc;

	if (i < argc)
		return usage_error("metrics takes no arguments");
	if (conn_open(&c) != 0)
		return EXIT_FAILURE;
	r = call(&c, "stats", NULL, timeout_ms, NULL);
	conn_close(&c);
	if (r == NULL)
		return EXIT_FAILURE;
	rc = sg_metrics_prometheus(r, stdout);
	json_decref(r);
	if (rc == 0 && fflush(stdout) != 0)
		rc = -EIO;
	return rc == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

static void print_shutdown(const json_t *r)
{
	(void)r;
	printf("stormgate is stopping\n");
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
	const char *opt_socket = NULL, *opt_config = NULL, *cmd;
	static char path[sizeof(((struct sockaddr_un *)0)->sun_path) + 1];
	json_t *args;
	int opt, rc;

	/* PSKs pass through JSON here too (credentials add, import). */
	sg_ctl_secure_alloc();
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
	if (socket_path(opt_socket, opt_config, path, sizeof(path)) != 0)
		return EXIT_USAGE;
	sock_path = path;
	cmd = argv[optind];
	/* --json is global, but `stormctl sessions list --json` is what people type. */
	for (int i = optind + 1, j = optind + 1;; i++) {
		if (i == argc) {
			argc = j;
			break;
		}
		if (strcmp(argv[i], "--json") == 0 || strcmp(argv[i], "-j") == 0)
			json_out = 1;
		else
			argv[j++] = argv[i];
	}
	if (strcmp(cmd, "sessions") == 0)
		return cmd_sessions(argc, argv, optind + 1);
	if (strcmp(cmd, "credentials") == 0)
		return cmd_credentials(argc, argv, optind + 1);
	if (strcmp(cmd, "policy") == 0)
		return cmd_policy(argc, argv, optind + 1);
	if (strcmp(cmd, "metrics") == 0)
		return cmd_metrics(argc, optind + 1);
	rc = kv_args(argc, argv, optind + 1, &args);
	if (rc != 0)
		return rc;
	if (strcmp(cmd, "status") == 0)
		return simple(cmd, args, print_status);
	if (strcmp(cmd, "ports") == 0)
		return simple(cmd, args, print_ports);
	if (strcmp(cmd, "version") == 0)
		return simple(cmd, args, print_version);
	if (strcmp(cmd, "stats") == 0)
		return simple(cmd, args, print_stats);
	if (strcmp(cmd, "shutdown") == 0)
		return simple(cmd, args, print_shutdown);
	return simple(cmd, args, NULL);
}
