/* SPDX-License-Identifier: Apache-2.0 */
/*
 * stormgate-dtls-baseline's command line, checked (addresses and numbers
 * read as the daemon's config reads them: sg_cfgval). Main thread, before
 * anything else runs. See baseline.h and docs/fleet.md, "Baseline server".
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "baseline.h"
#include "sg_cfg_values.h"

#define THREADS_DEFAULT     1
#define MAX_CLIENTS_DEFAULT 1000000
#define MAX_CLIENTS_MAX     100000000
#define HS_TIMEOUT_DEFAULT  60
#define HS_TIMEOUT_MAX      3600
#define IDLE_TIMEOUT_MAX    (30 * 86400)

static const char usage_text[] =
        "usage: stormgate-dtls-baseline --credentials FILE.csv [options]\n"
        "  --listen ADDR:PORT        DTLS server address (198.18.0.1:5684)\n"
        "  --threads N               workers, one SO_REUSEPORT socket each, 1..64 (1)\n"
        "  --backend ADDR:PORT       application server (198.18.2.2:5683)\n"
        "  --backend-mode proxy|udp  PROXY v2 header on one socket per worker, or one\n"
        "                            socket per client (proxy)\n"
        "  --source ADDR[,ADDR...]   backend-side source addresses (udp mode: required)\n"
        "  --max-clients N           clients at once, handshakes included (1000000)\n"
        "  --idle-timeout DURATION   end a session silent this long; 0: never (0)\n"
        "  --hs-timeout DURATION     give up a handshake after this (60s)\n"
        "  --ciphers LIST            OpenSSL cipher list (Stormgate's suites OpenSSL has)\n"
        "  --stats                   one JSON line of counters a second on stdout\n";

static int usage(const char *why)
{
	if (why != NULL)
		fprintf(stderr, "stormgate-dtls-baseline: %s\n", why);
	fputs(usage_text, stderr);
	return 2;
}

socklen_t bl_sa_len(const struct sockaddr_storage *ss)
{
	return ss->ss_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
}

/* "198.18.0.1:5684", "[fd00:5347::1]:5684" (port 0 allowed for none) into *ss. */
static int parse_endpoint(const char *s, struct sockaddr_storage *ss)
{
	struct sg_cfg_endpoint e;
	struct bl_addr a = { 0 };

	if (sg_cfg_endpoint_parse(s, &e) != 0)
		return -EINVAL;
	a.family = e.family;
	memcpy(a.addr, e.addr, 16);
	a.port = htons(e.port);
	bl_addr_to_sa(&a, ss);
	return 0;
}

static int parse_sources(char *list, struct bl_opts *o)
{
	char *save = NULL, *s;
	struct bl_addr a;

	for (s = strtok_r(list, ",", &save); s != NULL; s = strtok_r(NULL, ",", &save)) {
		memset(&a, 0, sizeof(a));
		if (o->n_src == BL_SOURCES_MAX)
			return -E2BIG;
		if (inet_pton(AF_INET, s, a.addr) == 1)
			a.family = AF_INET;
		else if (inet_pton(AF_INET6, s, a.addr) == 1)
			a.family = AF_INET6;
		else
			return -EINVAL;
		bl_addr_to_sa(&a, &o->src[o->n_src++]);
	}
	return o->n_src ? 0 : -EINVAL;
}

/* A number or duration option's value in lo..hi into *v; 0 or 2 (said). */
static int number(const char *arg, bool duration, uint64_t lo, uint64_t hi, uint64_t *v,
                  const char *why)
{
	if ((duration ? sg_duration_parse(arg, v) : sg_uint_parse(arg, v)) != 0 || *v < lo ||
	    *v > hi)
		return usage(why);
	return 0;
}

static bool is_any(const struct sockaddr_storage *ss)
{
	struct bl_addr a;
	static const uint8_t zero[16];

	bl_addr_from_sa(&a, ss);
	return memcmp(a.addr, zero, 16) == 0;
}

/* What the options say together; 0 or 2 (said). */
static int check(struct bl_opts *o)
{
	unsigned i;

	if (o->creds_path == NULL)
		return usage("--credentials is required");
	if (o->mode == BL_BACKEND_UDP && o->n_src == 0)
		return usage("--backend-mode udp needs --source addresses");
	for (i = 0; i < o->n_src; i++)
		if (o->src[i].ss_family != o->backend.ss_family)
			return usage("--source: of --backend's address family");
	if (o->mode == BL_BACKEND_PROXY && is_any(&o->listen))
		return usage("--listen: a specific address (the PROXY v2 header names it)");
	return 0;
}

static int option(struct bl_opts *o, int opt, char *arg)
{
	uint64_t v;
	int rc = 0;

	switch (opt) {
	case 'l':
		return parse_endpoint(arg, &o->listen) ? usage("--listen: ADDR:PORT") : 0;
	case 'b':
		return parse_endpoint(arg, &o->backend) ? usage("--backend: ADDR:PORT") : 0;
	case 'm':
		if (strcmp(arg, "proxy") != 0 && strcmp(arg, "udp") != 0)
			return usage("--backend-mode: proxy or udp");
		o->mode = strcmp(arg, "udp") == 0 ? BL_BACKEND_UDP : BL_BACKEND_PROXY;
		return 0;
	case 's':
		return parse_sources(arg, o)
		               ? usage("--source: up to 64 addresses, comma-separated")
		               : 0;
	case 't':
		rc = number(arg, false, 1, BL_THREADS_MAX, &v, "--threads: 1..64");
		o->threads = rc ? o->threads : (unsigned)v;
		return rc;
	case 'n':
		return number(arg, false, 1, MAX_CLIENTS_MAX, &o->max_clients,
		              "--max-clients: 1..100000000");
	case 'i':
		return number(arg, true, 0, IDLE_TIMEOUT_MAX, &o->idle_timeout_s,
		              "--idle-timeout: a duration up to 30d, 0 for never");
	case 'H':
		return number(arg, true, 1, HS_TIMEOUT_MAX, &o->hs_timeout_s,
		              "--hs-timeout: a duration, 1s..1h");
	case 'f':
		o->creds_path = arg;
		return 0;
	case 'c':
		o->ciphers = arg;
		return 0;
	case 'S':
		o->stats = true;
		return 0;
	default:
		return usage(NULL);
	}
}

int bl_opts_parse(int argc, char **argv, struct bl_opts *o)
{
	static const struct option longs[] = {
		{ "listen", required_argument, NULL, 'l' },
		{ "credentials", required_argument, NULL, 'f' },
		{ "threads", required_argument, NULL, 't' },
		{ "backend", required_argument, NULL, 'b' },
		{ "backend-mode", required_argument, NULL, 'm' },
		{ "source", required_argument, NULL, 's' },
		{ "max-clients", required_argument, NULL, 'n' },
		{ "idle-timeout", required_argument, NULL, 'i' },
		{ "hs-timeout", required_argument, NULL, 'H' },
		{ "ciphers", required_argument, NULL, 'c' },
		{ "stats", no_argument, NULL, 'S' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int opt, rc;

	memset(o, 0, sizeof(*o));
	o->threads = THREADS_DEFAULT;
	o->max_clients = MAX_CLIENTS_DEFAULT;
	o->hs_timeout_s = HS_TIMEOUT_DEFAULT;
	if (parse_endpoint("198.18.0.1:5684", &o->listen) != 0 ||
	    parse_endpoint("198.18.2.2:5683", &o->backend) != 0)
		return 2;
	while ((opt = getopt_long(argc, argv, "", longs, NULL)) != -1) {
		if (opt == 'h') {
			fputs(usage_text, stdout);
			return 1;
		}
		rc = option(o, opt, optarg);
		if (rc != 0)
			return rc;
	}
	if (optind < argc)
		return usage("unexpected argument");
	return check(o);
}
