/* SPDX-License-Identifier: Apache-2.0 */
/*
 * stormctl's readable output of the gateway's commands (status, ports,
 * version, stats) and the helpers every printer uses; --json prints the
 * result as it came (sg_cli_print_json); a usage error's message
 * (sg_cli_usage_error()). stormctl's one thread.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "sg_build_config.h"
#include "sg_cli.h"

void sg_cli_print_json(const json_t *v)
{
	json_dumpf(v, stdout, JSON_INDENT(2));
	printf("\n");
}

int sg_cli_usage_error(const char *fmt, ...)
{
	va_list ap;

	fputs("stormctl: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs(" (stormctl --help)\n", stderr);
	return SG_CLI_EXIT_USAGE;
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

static void status_ports(const json_t *ports)
{
	char lb[64];

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
}

static void status_lcores(const json_t *lc)
{
	const json_t *workers = json_object_get(lc, "workers");

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
}

/* "  name   count" for each member of obj. */
static void print_members(const json_t *obj)
{
	for (void *it = json_object_iter((json_t *)obj); it != NULL;
	     it = json_object_iter_next((json_t *)obj, it))
		printf("  %-20s %12" JSON_INTEGER_FORMAT "\n", json_object_iter_key(it),
		       json_integer_value(json_object_iter_value(it)));
}

void sg_cli_print_status(const json_t *r)
{
	const json_t *mem = json_object_get(r, "memory");
	const json_t *cred = json_object_get(r, "credentials");
	const json_t *ctl = json_object_get(r, "control");
	const json_t *drops = json_object_get(r, "drops");
	const json_t *hs = json_object_get(r, "handshakes");
	char hsl[64];

	printf("stormgate %s, %s, up %.0f s\n", gets_(r, "version"), gets_(r, "state"),
	       json_real_value(json_object_get(r, "uptime_s")));
	printf("memory:      %s\n", gets_(mem, "mode"));
	printf("data plane:  %s\n", gets_(r, "dataplane"));
	if (json_is_object(cred))
		printf("credentials: %s, %" JSON_INTEGER_FORMAT " identities\n", gets_(cred, "db"),
		       geti(cred, "count"));
	printf("control:     %s, %" JSON_INTEGER_FORMAT " client(s)\n\n", gets_(ctl, "socket"),
	       geti(ctl, "clients"));
	status_ports(json_object_get(r, "ports"));
	status_lcores(json_object_get(r, "lcores"));

	printf("\nPUNTED TO THE CONTROL PLANE\n");
	print_members(json_object_get(json_object_get(r, "counters"), "punts"));
	sg_cli_hs_status(hs, hsl, sizeof(hsl));
	printf("\nHANDSHAKES\n  installed %" JSON_INTEGER_FORMAT " (replaced %" JSON_INTEGER_FORMAT
	       "), failed %" JSON_INTEGER_FORMAT ", %s in flight on %" JSON_INTEGER_FORMAT
	       " engine(s), install refused %" JSON_INTEGER_FORMAT "\n",
	       geti(hs, "installed"), geti(hs, "replaced"), geti(hs, "failed"), hsl,
	       geti(hs, "engines"), geti(hs, "install_failed"));

	printf("\nDROPS\n");
	if (json_object_size(drops) == 0)
		printf("  (none)\n");
	print_members(drops);
}

void sg_cli_print_ports(const json_t *r)
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

void sg_cli_print_version(const json_t *r)
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

/* The per-worker table and its total line. */
static void stats_workers(const json_t *ws, const json_t *g)
{
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
}

/* CID devices at a new address (RFC 9146 §6), return routability (RFC 9853). */
static void stats_peer_moves(const json_t *g)
{
	const json_t *rrc = json_object_get(g, "rrc");

	printf("\nPEER MOVES   moved %" JSON_INTEGER_FORMAT ", held %" JSON_INTEGER_FORMAT
	       "; checks: challenges %" JSON_INTEGER_FORMAT ", answered ok %" JSON_INTEGER_FORMAT
	       ", refused %" JSON_INTEGER_FORMAT ", timed out %" JSON_INTEGER_FORMAT
	       "; device challenges answered %" JSON_INTEGER_FORMAT
	       "; datagrams consumed %" JSON_INTEGER_FORMAT "\n",
	       geti(g, "peer_moves"), geti(rrc, "moves_held"), geti(rrc, "challenges"),
	       geti(rrc, "responses_ok"), geti(rrc, "responses_refused"), geti(rrc, "timeouts"),
	       geti(rrc, "answered"), geti(g, "consumed"));
}

static void stats_admission(const json_t *a)
{
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
}

/* `stats`' TLS line, from its tls member (nothing without a tls section). */
static void stats_tls(const json_t *t)
{
	if (!json_is_true(json_object_get(t, "enabled")))
		return;
	printf("TLS          generation %" JSON_INTEGER_FORMAT ", expires %" JSON_INTEGER_FORMAT
	       "; signing pool %" JSON_INTEGER_FORMAT "/%" JSON_INTEGER_FORMAT
	       "; verify cache %" JSON_INTEGER_FORMAT " (%" JSON_INTEGER_FORMAT
	       " hits, %" JSON_INTEGER_FORMAT " misses)\n",
	       geti(t, "generation"), geti(t, "not_after"), geti(t, "pool_ready"),
	       geti(t, "pool_size"), geti(t, "cache_entries"), geti(t, "cache_hits"),
	       geti(t, "cache_misses"));
}

void sg_cli_print_stats(const json_t *r)
{
	const json_t *g = json_object_get(r, "global");
	const json_t *s = json_object_get(r, "sessions"), *h = json_object_get(r, "handshakes");
	const json_t *cr = json_object_get(r, "credentials"), *ct = json_object_get(r, "control");

	printf("stormgate up %.0f s\n\n", getd(r, "uptime_s"));
	stats_workers(json_object_get(r, "workers"), g);
	print_counts("DROPS", json_object_get(r, "drops"), 1);
	stats_peer_moves(g);
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
	sg_cli_print_hsplane(json_object_get(r, "handshake_plane"));
	stats_admission(json_object_get(r, "admission"));
	printf("CREDENTIALS  %" JSON_INTEGER_FORMAT " identities%s; imports %" JSON_INTEGER_FORMAT
	       " committed, %" JSON_INTEGER_FORMAT " failed\n",
	       geti(cr, "count"),
	       json_is_true(json_object_get(cr, "import_running")) ? ", an import is running" : "",
	       geti(cr, "imports_done"), geti(cr, "imports_failed"));
	printf("CONTROL      %" JSON_INTEGER_FORMAT " client(s); %" JSON_INTEGER_FORMAT
	       " requests (%" JSON_INTEGER_FORMAT " errors); closed: %" JSON_INTEGER_FORMAT
	       " idle, %" JSON_INTEGER_FORMAT " oversized, %" JSON_INTEGER_FORMAT
	       " not reading; %" JSON_INTEGER_FORMAT " refused\n",
	       geti(ct, "clients"), geti(ct, "requests"), geti(ct, "errors"), geti(ct, "timeouts"),
	       geti(ct, "oversized"), geti(ct, "dropped"), geti(ct, "refused"));
	sg_cli_print_store_line(json_object_get(r, "store"));
	stats_tls(json_object_get(r, "tls"));
	printf("\n");
	print_counts("HANDSHAKE EVENTS", json_object_get(h, "counters"), 1);
}
