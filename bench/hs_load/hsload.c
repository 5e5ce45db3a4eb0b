/* SPDX-License-Identifier: Apache-2.0 */
/*
 * stormgate-hsload: DTLS 1.2 PSK handshakes against a running stormgate over
 * real UDP sockets, as fast as K clients can make them, counted per interval
 * (docs/performance.md, "Handshakes during a credential import").
 *
 *   stormgate-hsload --connect ADDR:PORT --source ADDR[,ADDR...] --credentials FILE.csv
 *       [--clients K] [--duration S] [--max N] [--timeout-ms T] [--interval-ms I]
 *       [--gap-ms G] [--cipher LIST] [--echo] [--no-close] [--no-series]
 *
 * Each of the K clients (OpenSSL libssl, non-blocking, one UDP socket bound to
 * one of the --source addresses, port 0, connected to --connect) loops: a
 * full handshake (answering the daemon's HelloVerifyRequest, as its default
 * cookie_mode: always asks) as the next device of the credential CSV (the
 * daemon's import format; disabled rows left out), with --echo one record
 * sent and one back that must contain it, then close_notify (so the
 * gateway's session ends; with --no-close none: the device vanishes and the
 * server keeps its session, as a fleet's would), socket closed; the next
 * handshake from a new socket. No tickets are asked for: every handshake is a full PSK one.
 * Suites: --cipher (OpenSSL names, default PSK-AES128-CCM8, RFC 7925's).
 *
 * Bounded: the run stops after --duration seconds (default 10, at most 3600),
 * once --max handshakes (default 1,000,000) were started and have ended, or
 * on SIGINT / SIGTERM. A handshake not done after --timeout-ms (default 5000)
 * counts as a timeout; one that fails (an alert, a socket error, too many
 * retransmissions, a wrong echo) as a failure.
 *
 * Output: unless --no-series, one line per interval (--interval-ms, default
 * 100) as it ends, "END_MS<TAB>OK<TAB>FAIL<TAB>TIMEOUT" (END_MS from the
 * start); then one line of JSON: tool, t0_ns (CLOCK_MONOTONIC at the start,
 * the clock other tools' time.monotonic() reads), seconds, interval_ms,
 * completed, failed, timeouts, abandoned (in flight at the end), rate_per_s,
 * first_completion_ms, longest_zero_ms (longest run of whole intervals
 * without a completion, after the first one), longest_gap_ms (the longest
 * time between two completions; the time from the last one to the end
 * counts), gaps (every such time of at least --gap-ms, default 20, in time
 * order: start_ms from the start, ms; up to 10000, gaps_unlisted counts the
 * rest), gap_min_ms, latency_us (p50, p99, max, samples: from a client's
 * socket to its completion), first_error, signal (the one that stopped it,
 * or 0), series (ok, fail, timeout per interval). Exit 0 when the run went to its end (whatever it
 * counted), 1 when it could not run, 2 on usage errors.
 *
 * Threads: one. Of Stormgate it links only the value parsers (sg_cfgval,
 * libc only: its numbers, and --connect read as the config reads an
 * endpoint); it sees the daemon as a device network does.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <stormgate/time.h>

#include "hsload.h"
#include "sg_cfg_values.h"

#define CLIENTS_MAX  1024
#define DURATION_MAX 3600u
#define HS_MAX       10000000ull

static volatile sig_atomic_t stop_signal;

static void on_signal(int signo)
{
	stop_signal = signo;
}

static int usage(const char *why)
{
	if (why != NULL)
		fprintf(stderr, "stormgate-hsload: %s\n", why);
	fprintf(stderr, "usage: stormgate-hsload --connect ADDR:PORT --source ADDR[,ADDR...]"
	                " --credentials FILE.csv\n"
	                "       [--clients K (8)] [--duration S (10)] [--max N (1000000)]"
	                " [--timeout-ms T (5000)]\n"
	                "       [--interval-ms I (100)] [--gap-ms G (20)]"
	                " [--cipher LIST (PSK-AES128-CCM8)] [--echo] [--no-close] [--no-series]\n");
	return 2;
}

/* e (an endpoint, or an address with port 0) into *ss. */
static void to_sockaddr(const struct sg_cfg_endpoint *e, struct sockaddr_storage *ss)
{
	struct sockaddr_in *v4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof(*ss));
	if (e->family == AF_INET) {
		v4->sin_family = AF_INET;
		v4->sin_port = htons(e->port);
		memcpy(&v4->sin_addr, e->addr, sizeof(v4->sin_addr));
	} else {
		v6->sin6_family = AF_INET6;
		v6->sin6_port = htons(e->port);
		memcpy(&v6->sin6_addr, e->addr, sizeof(v6->sin6_addr));
	}
}

/* --connect: "198.18.1.1:5684" / "[fd00::1]:5684", as the config reads an endpoint. */
static int parse_server(const char *s, struct sockaddr_storage *ss)
{
	struct sg_cfg_endpoint e;

	if (sg_cfg_endpoint_parse(s, &e) != 0)
		return -EINVAL;
	to_sockaddr(&e, ss);
	return 0;
}

/* One --source address: "198.18.1.1" or "fd00::1" (the port is the system's choice). */
static int parse_source(const char *s, struct sockaddr_storage *ss)
{
	struct sg_cfg_endpoint e = { 0 };

	if (inet_pton(AF_INET, s, e.addr) == 1)
		e.family = AF_INET;
	else if (inet_pton(AF_INET6, s, e.addr) == 1)
		e.family = AF_INET6;
	else
		return -EINVAL;
	to_sockaddr(&e, ss);
	return 0;
}

/* --source's comma-separated list, each of the server's family. */
static int parse_sources(char *list, struct sg_hsl_opts *o)
{
	char *save = NULL, *a;

	for (a = strtok_r(list, ",", &save); a != NULL; a = strtok_r(NULL, ",", &save)) {
		if (o->n_src == SG_HSL_SOURCES_MAX || parse_source(a, &o->src[o->n_src]) != 0)
			return -EINVAL;
		o->n_src++;
	}
	return o->n_src ? 0 : -EINVAL;
}

/* The numeric options: their option letter, range and where they go. */
struct num_opt {
	int opt;
	uint64_t lo, hi;
	const char *name;
};

static const struct num_opt num_opts[] = {
	{ 'k', 1, CLIENTS_MAX, "--clients: 1..1024" },
	{ 'd', 1, DURATION_MAX, "--duration: 1..3600 seconds" },
	{ 'n', 1, HS_MAX, "--max: 1..10000000" },
	{ 't', 10, 600000, "--timeout-ms: 10..600000" },
	{ 'i', 10, 60000, "--interval-ms: 10..60000" },
	{ 'g', 1, 60000, "--gap-ms: 1..60000" },
};

static int set_num(struct sg_hsl_opts *o, int opt, const char *arg)
{
	uint64_t v;
	size_t i;

	for (i = 0; i < sizeof(num_opts) / sizeof(num_opts[0]) && num_opts[i].opt != opt; i++)
		;
	if (sg_uint_parse(arg, &v) != 0 || v < num_opts[i].lo || v > num_opts[i].hi)
		return usage(num_opts[i].name);
	if (opt == 'k')
		o->clients = (unsigned)v;
	else if (opt == 'd')
		o->duration_s = (unsigned)v;
	else if (opt == 'n')
		o->max = v;
	else if (opt == 't')
		o->timeout_ms = (unsigned)v;
	else if (opt == 'g')
		o->gap_ms = (unsigned)v;
	else
		o->interval_ms = (unsigned)v;
	return 0;
}

/* The command line into *o: 0; 1 for --help; 2 on a usage error (said on stderr). */
static int parse_opts(int argc, char **argv, struct sg_hsl_opts *o)
{
	static const struct option longs[] = {
		{ "connect", required_argument, NULL, 'c' },
		{ "source", required_argument, NULL, 's' },
		{ "credentials", required_argument, NULL, 'f' },
		{ "clients", required_argument, NULL, 'k' },
		{ "duration", required_argument, NULL, 'd' },
		{ "max", required_argument, NULL, 'n' },
		{ "timeout-ms", required_argument, NULL, 't' },
		{ "gap-ms", required_argument, NULL, 'g' },
		{ "interval-ms", required_argument, NULL, 'i' },
		{ "cipher", required_argument, NULL, 'x' },
		{ "echo", no_argument, NULL, 'e' },
		{ "no-close", no_argument, NULL, 'C' },
		{ "no-series", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	bool have_server = false;
	int opt, i;

	*o = (struct sg_hsl_opts){ .cipher = "PSK-AES128-CCM8",
		                   .clients = 8,
		                   .duration_s = 10,
		                   .max = 1000000,
		                   .timeout_ms = 5000,
		                   .interval_ms = 100,
		                   .gap_ms = 20,
		                   .series = true };
	while ((opt = getopt_long(argc, argv, "", longs, NULL)) != -1) {
		if (opt == 'c' && parse_server(optarg, &o->server) != 0)
			return usage("--connect: ADDR:PORT, [ADDR6]:PORT");
		if (opt == 's' && parse_sources(optarg, o) != 0)
			return usage("--source: up to 64 addresses, comma-separated");
		if (strchr("kdntig", opt) != NULL && set_num(o, opt, optarg) != 0)
			return 2;
		if (opt == 'h') {
			usage(NULL);
			return 1;
		}
		if (opt == '?')
			return usage(NULL);
		have_server |= opt == 'c';
		o->creds_path = opt == 'f' ? optarg : o->creds_path;
		o->cipher = opt == 'x' ? optarg : o->cipher;
		o->echo |= opt == 'e';
		o->no_close |= opt == 'C';
		o->series &= opt != 'q';
	}
	if (optind < argc)
		return usage("unexpected argument");
	if (!have_server || o->n_src == 0 || o->creds_path == NULL)
		return usage("--connect, --source and --credentials are required");
	for (i = 0; i < (int)o->n_src; i++)
		if (o->src[i].ss_family != o->server.ss_family)
			return usage("--source: of --connect's address family");
	return 0;
}

/* The shared DTLS 1.2 client context and the server's address for the BIOs. */
static int setup_tls(struct sg_hsl_run *r)
{
	const struct sockaddr_storage *s = &r->o.server;
	const struct sockaddr_in *v4 = (const struct sockaddr_in *)s;
	const struct sockaddr_in6 *v6 = (const struct sockaddr_in6 *)s;

	r->ctx = SSL_CTX_new(DTLS_client_method());
	r->peer = BIO_ADDR_new();
	if (r->ctx == NULL || r->peer == NULL)
		return -ENOMEM;
	if (SSL_CTX_set_min_proto_version(r->ctx, DTLS1_2_VERSION) != 1 ||
	    SSL_CTX_set_max_proto_version(r->ctx, DTLS1_2_VERSION) != 1 ||
	    SSL_CTX_set_cipher_list(r->ctx, r->o.cipher) != 1) {
		fprintf(stderr, "stormgate-hsload: --cipher %s: not an OpenSSL cipher list\n",
		        r->o.cipher);
		return -EINVAL;
	}
	/* Full PSK handshakes only: no ticket to resume with, no session cache. */
	SSL_CTX_set_options(r->ctx, SSL_OP_NO_TICKET);
	SSL_CTX_set_session_cache_mode(r->ctx, SSL_SESS_CACHE_OFF);
	if (s->ss_family == AF_INET)
		BIO_ADDR_rawmake(r->peer, AF_INET, &v4->sin_addr, sizeof(v4->sin_addr),
		                 v4->sin_port);
	else
		BIO_ADDR_rawmake(r->peer, AF_INET6, &v6->sin6_addr, sizeof(v6->sin6_addr),
		                 v6->sin6_port);
	return 0;
}

static int ms_until(uint64_t now, uint64_t then)
{
	return then > now ? (int)((then - now + SG_HSL_NS_PER_MS - 1) / SG_HSL_NS_PER_MS) : 0;
}

/* Idle clients start their next handshake while --max allows; 0 or -errno. */
static int start_idle(struct sg_hsl_run *r, struct sg_hsl_client *c, uint64_t now)
{
	unsigned i;
	int rc;

	for (i = 0; i < r->o.clients && r->started < r->o.max; i++) {
		if (c[i].phase != SG_HSL_IDLE)
			continue;
		rc = sg_hsl_client_start(r, &c[i], now);
		if (rc != 0) {
			fprintf(stderr, "stormgate-hsload: socket: %s\n", strerror(-rc));
			return rc;
		}
		sg_hsl_client_step(r, &c[i], now); /* sends the ClientHello */
	}
	return 0;
}

/*
 * The clients' timers, then one poll() until a datagram, the next timer, the
 * end of the interval or of the run; then every readable client steps.
 */
static int poll_round(struct sg_hsl_run *r, struct sg_hsl_client *c, struct pollfd *pfd,
                      uint64_t end)
{
	uint64_t now = sg_mono_ns(), ival = r->st.interval_ns;
	uint64_t next_ival = r->st.t0_ns + ((now - r->st.t0_ns) / ival + 1) * ival;
	int wait_ms = ms_until(now, next_ival < end ? next_ival : end), w;
	unsigned i;

	for (i = 0; i < r->o.clients; i++) {
		if (c[i].phase != SG_HSL_IDLE) {
			w = sg_hsl_client_timers(r, &c[i], now);
			wait_ms = w < wait_ms ? w : wait_ms;
		}
		if (c[i].phase == SG_HSL_IDLE && r->started < r->o.max)
			wait_ms = 0; /* ended by its timer: start the next one first */
		pfd[i].fd = c[i].fd; /* -1 when idle: poll() skips it */
		pfd[i].events = POLLIN;
		pfd[i].revents = 0;
	}
	if (poll(pfd, r->o.clients, wait_ms) < 0 && errno != EINTR)
		return -errno;
	now = sg_mono_ns();
	for (i = 0; i < r->o.clients; i++)
		if (c[i].phase != SG_HSL_IDLE && pfd[i].revents != 0)
			sg_hsl_client_step(r, &c[i], now);
	return 0;
}

/* Runs until --duration, --max ended, or a signal; 0 or -errno. */
static int run_loop(struct sg_hsl_run *r, struct sg_hsl_client *c, struct pollfd *pfd)
{
	uint64_t end = r->st.t0_ns + (uint64_t)r->o.duration_s * 1000 * SG_HSL_NS_PER_MS, now;
	int rc = 0;

	for (;;) {
		now = sg_mono_ns();
		if (stop_signal || now >= end || r->ended >= r->o.max)
			break;
		rc = start_idle(r, c, now);
		if (rc == 0)
			rc = poll_round(r, c, pfd, end);
		if (rc != 0)
			break;
		if (r->o.series)
			sg_hsl_stats_print(&r->st, sg_mono_ns(), false, stdout);
	}
	return rc;
}

/* Clients still in a handshake when the run stops: freed, counted apart. */
static uint64_t abandon(struct sg_hsl_client *c, unsigned n)
{
	uint64_t left = 0;
	unsigned i;

	for (i = 0; i < n; i++) {
		if (c[i].phase == SG_HSL_IDLE)
			continue;
		SSL_free(c[i].ssl);
		close(c[i].fd);
		c[i].ssl = NULL;
		c[i].fd = -1;
		c[i].phase = SG_HSL_IDLE;
		left++;
	}
	return left;
}

static int report(struct sg_hsl_run *r, uint64_t end, uint64_t abandoned)
{
	json_t *j;

	if (r->o.series)
		sg_hsl_stats_print(&r->st, end, true, stdout);
	j = sg_hsl_stats_summary(&r->st, end, true);
	if (j == NULL)
		return -ENOMEM;
	json_object_set_new(j, "clients", json_integer(r->o.clients));
	json_object_set_new(j, "abandoned", json_integer((json_int_t)abandoned));
	json_object_set_new(j, "first_error", json_string(r->first_error));
	json_object_set_new(j, "signal", json_integer(stop_signal));
	json_dumpf(j, stdout, JSON_COMPACT | JSON_REAL_PRECISION(7));
	fputc('\n', stdout);
	fflush(stdout);
	json_decref(j);
	return 0;
}

int main(int argc, char **argv)
{
	struct sg_hsl_run r = { 0 };
	struct sg_hsl_client *c = NULL;
	struct pollfd *pfd = NULL;
	struct sigaction sa = { .sa_handler = on_signal };
	unsigned i;
	int rc;

	rc = parse_opts(argc, argv, &r.o);
	if (rc != 0)
		return rc == 1 ? 0 : 2;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	if (sg_hsl_creds_load(r.o.creds_path, &r.creds) != 0)
		return 1;
	rc = setup_tls(&r);
	c = calloc(r.o.clients, sizeof(*c));
	pfd = calloc(r.o.clients, sizeof(*pfd));
	if (rc == 0 && (c == NULL || pfd == NULL))
		rc = -ENOMEM;
	for (i = 0; c != NULL && i < r.o.clients; i++)
		c[i].fd = -1;
	if (rc == 0)
		rc = sg_hsl_stats_init(&r.st, sg_mono_ns(),
		                       (uint64_t)r.o.interval_ms * SG_HSL_NS_PER_MS,
		                       (uint64_t)r.o.duration_s * 1000 * SG_HSL_NS_PER_MS, r.o.max,
		                       (uint64_t)r.o.gap_ms * SG_HSL_NS_PER_MS);
	if (rc == 0)
		rc = run_loop(&r, c, pfd);
	if (rc == 0)
		rc = report(&r, sg_mono_ns(), abandon(c, r.o.clients));
	if (rc != 0)
		fprintf(stderr, "stormgate-hsload: %s\n", strerror(-rc));
	if (c != NULL)
		abandon(c, r.o.clients);
	sg_hsl_stats_free(&r.st);
	free(pfd);
	free(c);
	SSL_CTX_free(r.ctx);
	BIO_ADDR_free(r.peer);
	sg_hsl_creds_free(&r.creds);
	return rc == 0 ? 0 : 1;
}
