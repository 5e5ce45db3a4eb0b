/* SPDX-License-Identifier: Apache-2.0 */
/*
 * stormgate-fleet's command line (fl_opts.h): one table of options, their
 * defaults, parsers and ranges; numbers through the project's parser
 * (sg_uint_parse), addresses through the config's endpoint parser. Main
 * thread, before the fleet runs.
 */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <sg_cfg_values.h>
#include <stormgate/suite.h>

#include "fl_opts.h"

enum opt {
	O_DEVICES = 256,
	O_RAMP,
	O_ARRIVAL,
	O_INFLIGHT,
	O_KX,
	O_SUITE,
	O_RESUME,
	O_CID,
	O_SERVER,
	O_APP,
	O_BACKEND,
	O_IPV6,
	O_PPA,
	O_RTT,
	O_LOSS,
	O_RTO,
	O_RTO_MAX,
	O_RTO_JITTER,
	O_HS_TIMEOUT,
	O_REQ_RATE,
	O_REQ_TOTAL,
	O_REQ_TIMEOUT,
	O_DURATION,
	O_WRITE_CREDS,
	O_SEED,
	O_REPORT,
	O_SERIES,
	O_PROGRESS,
	O_ANNOUNCE,
	O_IDLE,
	O_MBUFS,
	O_HOLD,
	O_HELP,
};

static const struct option longopts[] = {
	{ "devices", required_argument, NULL, O_DEVICES },
	{ "ramp", required_argument, NULL, O_RAMP },
	{ "arrival-rate", required_argument, NULL, O_ARRIVAL },
	{ "max-inflight", required_argument, NULL, O_INFLIGHT },
	{ "kx", required_argument, NULL, O_KX },
	{ "suite", required_argument, NULL, O_SUITE },
	{ "resume", no_argument, NULL, O_RESUME },
	{ "cid", no_argument, NULL, O_CID },
	{ "server", required_argument, NULL, O_SERVER },
	{ "app", required_argument, NULL, O_APP },
	{ "backend-mode", required_argument, NULL, O_BACKEND },
	{ "ipv6", no_argument, NULL, O_IPV6 },
	{ "ports-per-addr", required_argument, NULL, O_PPA },
	{ "rtt", required_argument, NULL, O_RTT },
	{ "loss", required_argument, NULL, O_LOSS },
	{ "rto", required_argument, NULL, O_RTO },
	{ "rto-max", required_argument, NULL, O_RTO_MAX },
	{ "rto-jitter", required_argument, NULL, O_RTO_JITTER },
	{ "hs-timeout", required_argument, NULL, O_HS_TIMEOUT },
	{ "req-rate", required_argument, NULL, O_REQ_RATE },
	{ "req-total", required_argument, NULL, O_REQ_TOTAL },
	{ "req-timeout", required_argument, NULL, O_REQ_TIMEOUT },
	{ "duration", required_argument, NULL, O_DURATION },
	{ "write-creds", required_argument, NULL, O_WRITE_CREDS },
	{ "seed", required_argument, NULL, O_SEED },
	{ "report", required_argument, NULL, O_REPORT },
	{ "series", required_argument, NULL, O_SERIES },
	{ "progress", no_argument, NULL, O_PROGRESS },
	{ "announce", no_argument, NULL, O_ANNOUNCE },
	{ "idle-sleep-us", required_argument, NULL, O_IDLE },
	{ "mbufs", required_argument, NULL, O_MBUFS },
	{ "hold", required_argument, NULL, O_HOLD },
	{ "help", no_argument, NULL, O_HELP },
	{ NULL, 0, NULL, 0 },
};

static const char usage[] =
        "usage: stormgate-fleet [EAL args] -- [options]\n"
        "  --devices N          devices (1..10000000; default 1000)\n"
        "  --ramp S             device starts spread evenly over S seconds (default 0: at once)\n"
        "  --arrival-rate R     devices starting per second (overrides --ramp)\n"
        "  --max-inflight N     handshakes in flight at once (default 4096)\n"
        "  --kx psk|x25519|p256 key exchange (default psk; ECDHE-PSK offers that group only)\n"
        "  --suite NAME         IANA suite name, repeatable (default: the registry's order)\n"
        "  --resume             session tickets: a device resumes its session (RFC 5077)\n"
        "  --cid                connection IDs: each device offers a 4-byte CID (RFC 9146)\n"
        "  --server ADDR:PORT   the gateway (default 198.18.0.1:5684, [fd00:5347::1]:5684)\n"
        "  --app ADDR:PORT      our application server (default 198.18.2.2:5683,\n"
        "                       [fd00:5347::2:2]:5683)\n"
        "  --backend-mode M     udp|proxy: how the gateway forwards (default udp)\n"
        "  --ipv6               devices in fd00:5347::1:0:0/96\n"
        "  --ports-per-addr P   UDP ports per device address (default 16)\n"
        "  --rtt MS | MIN-MAX   per-device round trip, emulated (default 0; max 30000)\n"
        "  --loss PCT           datagrams lost each way (default 0)\n"
        "  --rto MS             initial handshake retransmission timeout (default 1000)\n"
        "  --rto-max MS         its largest value (default 60000)\n"
        "  --rto-jitter PCT     each timeout drawn in +-PCT (default 25)\n"
        "  --hs-timeout S       give a handshake up (failed; retried later; default 60)\n"
        "  --req-rate R         CoAP requests per device per second (default 0)\n"
        "  --req-total R        aggregate requests per second (instead of --req-rate)\n"
        "  --req-timeout MS     CoAP ACK_TIMEOUT (default 2000)\n"
        "  --duration S         run time (default 60, max 86400)\n"
        "  --write-creds FILE   write the devices' identity,psk_hex CSV and exit\n"
        "  --seed S             PSK seed (default stormgate-fleet)\n"
        "  --report FILE        final JSON\n"
        "  --series FILE        one JSON object a second\n"
        "  --progress           a live line on stderr\n"
        "  --announce           each device ARPs/NSes the gateway from its own address before\n"
        "                       each handshake\n"
        "                       (a gateway without a next hop for the devices' prefix)\n"
        "  --idle-sleep-us N    sleep after an idle poll (default 100; 0: busy)\n"
        "  --mbufs N            packet buffers (default: from rate x round trip)\n"
        "  --hold S             after the report, stop polling but keep the ports until\n"
        "                       SIGTERM/SIGINT or S seconds (default 0: exit at once);\n"
        "                       lets a memif peer stop first (docs/fleet.md, \"Ending a run\")\n";

static int fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

static int u32_arg(const char *s, uint32_t lo, uint32_t hi, uint32_t *v)
{
	uint64_t x;

	if (sg_uint_parse(s, &x) != 0 || x < lo || x > hi)
		return -EINVAL;
	*v = (uint32_t)x;
	return 0;
}

/* A decimal number (rates, percentages) in [lo, hi]: digits, an optional fraction. */
static int num_arg(const char *s, double lo, double hi, double *v)
{
	char *end;
	double x;

	if (s[0] < '0' || s[0] > '9')
		return -EINVAL;
	errno = 0;
	x = strtod(s, &end);
	if (errno != 0 || *end != '\0' || !isfinite(x) || x < lo || x > hi)
		return -EINVAL;
	*v = x;
	return 0;
}

static int rtt_arg(const char *s, struct sg_fl_conf *c)
{
	const char *dash = strchr(s, '-');
	char lo[16];

	if (dash == NULL) {
		if (u32_arg(s, 0, SG_FL_RTT_MAX_MS, &c->rtt_min_ms) != 0)
			return -EINVAL;
		c->rtt_max_ms = c->rtt_min_ms;
		return 0;
	}
	if ((size_t)(dash - s) >= sizeof(lo))
		return -EINVAL;
	memcpy(lo, s, (size_t)(dash - s));
	lo[dash - s] = '\0';
	if (u32_arg(lo, 0, SG_FL_RTT_MAX_MS, &c->rtt_min_ms) != 0 ||
	    u32_arg(dash + 1, c->rtt_min_ms, SG_FL_RTT_MAX_MS, &c->rtt_max_ms) != 0)
		return -EINVAL;
	return 0;
}

static int endpoint_arg(const char *s, uint8_t addr[16], uint16_t *port, uint8_t *family)
{
	struct sg_cfg_endpoint e;

	if (sg_cfg_endpoint_parse(s, &e) != 0)
		return -EINVAL;
	memcpy(addr, e.addr, 16);
	*port = e.port;
	*family = e.family == AF_INET ? 4 : 6;
	return 0;
}

static void defaults(struct sg_fl_conf *c)
{
	memset(c, 0, sizeof(*c));
	c->devices = 1000;
	c->max_inflight = 4096;
	c->family = 4;
	c->ports_per_addr = 16;
	c->rto_ms = 1000;
	c->rto_max_ms = 60000;
	c->rto_jitter_pct = 25;
	c->hs_timeout_s = 60;
	c->req_timeout_ms = 2000;
	c->duration_s = 60;
	c->seed = "stormgate-fleet";
	c->idle_sleep_us = 100;
}

/* What the options said that the checks after them need. */
struct seen {
	uint8_t server_family, app_family; /* 0: not given */
};

static int suite_arg(const char *s, struct sg_fl_conf *c)
{
	const struct sg_suite *su = sg_suite_by_name(s);

	if (!sg_fc_suite_spoken(su) || c->n_suites == SG_FC_SUITES_MAX)
		return -EINVAL;
	for (unsigned i = 0; i < c->n_suites; i++)
		if (c->suites[i] == su->id)
			return -EINVAL;
	c->suites[c->n_suites++] = su->id;
	return 0;
}

static int kx_arg(const char *s, struct sg_fl_conf *c)
{
	if (strcmp(s, "psk") == 0)
		c->kx = SG_FL_KX_PSK;
	else if (strcmp(s, "x25519") == 0)
		c->kx = SG_FL_KX_X25519;
	else if (strcmp(s, "p256") == 0)
		c->kx = SG_FL_KX_P256;
	else
		return -EINVAL;
	return 0;
}

/* One option with its argument a; 0 or -EINVAL. */
static int one_opt(struct sg_fl_conf *c, struct seen *sn, int o, const char *a)
{
	double d;

	switch (o) {
	case O_DEVICES:
		return u32_arg(a, 1, SG_FL_DEVICES_MAX, &c->devices);
	case O_RAMP:
		return u32_arg(a, 0, SG_FL_DURATION_MAX, &c->ramp_s);
	case O_ARRIVAL: /* overrides --ramp */
		return num_arg(a, 0.001, 1e8, &c->arrival_rate);
	case O_INFLIGHT:
		return u32_arg(a, 1, 1u << 22, &c->max_inflight);
	case O_KX:
		return kx_arg(a, c);
	case O_SUITE:
		return suite_arg(a, c);
	case O_SERVER:
		return endpoint_arg(a, c->server, &c->server_port, &sn->server_family);
	case O_APP:
		return endpoint_arg(a, c->app, &c->app_port, &sn->app_family);
	case O_BACKEND:
		if (strcmp(a, "udp") != 0 && strcmp(a, "proxy") != 0)
			return -EINVAL;
		c->backend = strcmp(a, "proxy") == 0 ? SG_FL_BACKEND_PROXY : SG_FL_BACKEND_UDP;
		return 0;
	case O_PPA:
		return u32_arg(a, 1, 55535, &c->ports_per_addr);
	case O_RTT:
		return rtt_arg(a, c);
	case O_LOSS:
		if (num_arg(a, 0, 100, &d) != 0)
			return -EINVAL;
		c->loss_ppm = (uint32_t)(d * 10000 + 0.5);
		return 0;
	case O_RTO:
		return u32_arg(a, 1, 600000, &c->rto_ms);
	case O_RTO_MAX:
		return u32_arg(a, 1, 600000, &c->rto_max_ms);
	case O_RTO_JITTER:
		return u32_arg(a, 0, 99, &c->rto_jitter_pct);
	case O_HS_TIMEOUT:
		return u32_arg(a, 1, SG_FL_DURATION_MAX, &c->hs_timeout_s);
	case O_REQ_RATE:
		return num_arg(a, 0, 1000, &c->req_rate);
	case O_REQ_TOTAL:
		return num_arg(a, 0, 1e8, &c->req_total);
	case O_REQ_TIMEOUT:
		return u32_arg(a, 1, 600000, &c->req_timeout_ms);
	case O_DURATION:
		return u32_arg(a, 1, SG_FL_DURATION_MAX, &c->duration_s);
	case O_WRITE_CREDS:
		c->write_creds = a;
		return 0;
	case O_SEED:
		c->seed = a;
		return a[0] ? 0 : -EINVAL;
	case O_REPORT:
		c->report = a;
		return 0;
	case O_SERIES:
		c->series = a;
		return 0;
	case O_IDLE:
		return u32_arg(a, 0, 100000, &c->idle_sleep_us);
	case O_MBUFS:
		return u32_arg(a, 1023, 1u << 24, &c->mbufs);
	case O_HOLD:
		return u32_arg(a, 0, 3600, &c->hold_s);
	default:
		return -EINVAL;
	}
}

/* The addresses: defaults of the family, and both of it (docs/fleet.md, "Topology"). */
static int finish_addresses(struct sg_fl_conf *c, const struct seen *sn, char *err, size_t errlen)
{
	static const uint8_t srv4[16] = { 198, 18, 0, 1 }, app4[16] = { 198, 18, 2, 2 };
	static const uint8_t srv6[16] = { 0xfd, 0, 0x53, 0x47, [15] = 1 };
	static const uint8_t app6[16] = { 0xfd, 0, 0x53, 0x47, [13] = 2, [15] = 2 };
	uint64_t space = (uint64_t)(c->family == 4 ? 65536 : UINT64_C(1) << 32) * c->ports_per_addr;

	if (sn->server_family == 0) {
		memcpy(c->server, c->family == 4 ? srv4 : srv6, 16);
		c->server_port = 5684;
	}
	if (sn->app_family == 0) {
		memcpy(c->app, c->family == 4 ? app4 : app6, 16);
		c->app_port = 5683;
	}
	if ((sn->server_family && sn->server_family != c->family) ||
	    (sn->app_family && sn->app_family != c->family))
		return fail(err, errlen, "--server and --app must be IPv%u addresses%s", c->family,
		            c->family == 4 ? " (or give --ipv6)" : " with --ipv6");
	if (c->devices > space)
		return fail(err, errlen,
		            "--devices %u do not fit 198.19.0.0/16 with --ports-per-addr %u "
		            "(use --ipv6 or a larger --ports-per-addr)",
		            c->devices, c->ports_per_addr);
	if (10000u + c->ports_per_addr - 1 > 65535)
		return fail(err, errlen, "--ports-per-addr %u: ports 10000.. past 65535",
		            c->ports_per_addr);
	return 0;
}

/* The default suites of the key exchange, and every given one of it. */
static int finish_suites(struct sg_fl_conf *c, char *err, size_t errlen)
{
	uint8_t want = c->kx == SG_FL_KX_PSK ? SG_KX_PSK : SG_KX_ECDHE_PSK;

	if (c->n_suites == 0)
		for (unsigned i = 0; i < SG_SUITES_RANKED; i++)
			if (sg_suites[i].kx == want && sg_fc_suite_spoken(&sg_suites[i]))
				c->suites[c->n_suites++] = sg_suites[i].id;
	for (unsigned i = 0; i < c->n_suites; i++)
		if (sg_suite_find(c->suites[i])->kx != want)
			return fail(err, errlen, "--suite %s is not a %s suite",
			            sg_suite_find(c->suites[i])->name,
			            c->kx == SG_FL_KX_PSK ? "PSK" : "ECDHE-PSK");
	return 0;
}

static int finish(struct sg_fl_conf *c, const struct seen *sn, char *err, size_t errlen)
{
	int rc;

	if (c->req_rate > 0 && c->req_total > 0)
		return fail(err, errlen, "--req-rate and --req-total: give one");
	if (c->rto_max_ms < c->rto_ms)
		return fail(err, errlen, "--rto-max %u is below --rto %u", c->rto_max_ms,
		            c->rto_ms);
	rc = finish_addresses(c, sn, err, errlen);
	return rc != 0 ? rc : finish_suites(c, err, errlen);
}

/* An option without a value; false when o is not one. */
static bool flag_opt(struct sg_fl_conf *c, int o)
{
	switch (o) {
	case O_IPV6:
		c->family = 6;
		return true;
	case O_PROGRESS:
		c->progress = true;
		return true;
	case O_ANNOUNCE:
		c->announce = true;
		return true;
	case O_RESUME:
		c->resume = true;
		return true;
	case O_CID:
		c->cid = true;
		return true;
	default:
		return false;
	}
}

int sg_fl_opts_parse(int argc, char **argv, struct sg_fl_conf *conf, char *err, size_t errlen,
                     FILE *out)
{
	struct seen sn = { 0 };
	int o, idx;

	defaults(conf);
	optind = 0; /* GNU getopt: start over (tests parse many command lines) */
	opterr = 0;
	while ((o = getopt_long(argc, argv, "", longopts, &idx)) != -1) {
		if (o == O_HELP) {
			fputs(usage, out);
			return 1;
		}
		if (o == '?' || o == ':')
			return fail(err, errlen, "unknown option or missing value: %s (see --help)",
			            argv[optind - 1]);
		if (flag_opt(conf, o))
			continue;
		if (one_opt(conf, &sn, o, optarg) != 0)
			return fail(err, errlen, "--%s %s: invalid value (see --help)",
			            longopts[idx].name, optarg);
	}
	if (optind < argc)
		return fail(err, errlen, "unexpected argument: %s", argv[optind]);
	return finish(conf, &sn, err, errlen);
}

double sg_fl_req_interval_ms(const struct sg_fl_conf *conf)
{
	if (conf->req_rate > 0)
		return 1000.0 / conf->req_rate;
	if (conf->req_total > 0)
		return 1000.0 * conf->devices / conf->req_total;
	return 0;
}
