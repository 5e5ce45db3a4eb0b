/* SPDX-License-Identifier: Apache-2.0 */
/*
 * stormctl's readable output of the handshake plane: the HANDSHAKE PLANE
 * block of `stats` (engines, in flight against the limit, latency p50/p99
 * over 10 s and since start, a row per engine) from the `handshake_plane`
 * member of its result (docs/control.md, "stats"). stormctl's one thread.
 */
#include <stdio.h>

#include <jansson.h>

#include "sg_cli.h"

/* A latency in µs as "850us", "12.3ms", "1.25s"; "-" for 0 (none completed). */
static const char *latency_str(json_int_t us, char *buf, size_t len)
{
	if (us <= 0)
		snprintf(buf, len, "-");
	else if (us < 1000)
		snprintf(buf, len, "%lldus", (long long)us);
	else if (us < 1000000)
		snprintf(buf, len, "%.1fms", (double)us / 1e3);
	else
		snprintf(buf, len, "%.2fs", (double)us / 1e6);
	return buf;
}

/* A limit, "-" when the daemon did not say (0). */
static const char *limit_str(json_int_t limit, char *buf, size_t len)
{
	if (limit <= 0)
		snprintf(buf, len, "-");
	else
		snprintf(buf, len, "%lld", (long long)limit);
	return buf;
}

static void engine_rows(const json_t *rows)
{
	if (json_array_size(rows) == 0)
		return;
	printf("  %-6s %10s %10s %12s %11s %10s %9s %9s\n", "ENGINE", "IN FLIGHT", "LIMIT",
	       "COMPLETED", "QUEUE FULL", "FIFO FULL", "P50", "P99");
	for (size_t i = 0; i < json_array_size(rows); i++) {
		const json_t *e = json_array_get(rows, i);
		char lim[24], p50[24], p99[24];

		printf("  %-6" JSON_INTEGER_FORMAT " %10" JSON_INTEGER_FORMAT
		       " %10s %12" JSON_INTEGER_FORMAT " %11" JSON_INTEGER_FORMAT
		       " %10" JSON_INTEGER_FORMAT " %9s %9s\n",
		       geti(e, "engine"), geti(e, "in_flight"),
		       limit_str(geti(e, "limit"), lim, sizeof(lim)), geti(e, "completed"),
		       geti(e, "queue_full"), geti(e, "fifo_full"),
		       latency_str(geti(e, "p50_us"), p50, sizeof(p50)),
		       latency_str(geti(e, "p99_us"), p99, sizeof(p99)));
	}
}

void sg_cli_print_hsplane(const json_t *hp)
{
	char lim[24], a[24], b[24], c[24], d[24];

	if (!json_is_object(hp))
		return; /* an older daemon */
	printf("HANDSHAKE PLANE  %" JSON_INTEGER_FORMAT
	       " engine(s); in flight %" JSON_INTEGER_FORMAT
	       " of %s; latency p50 %s, p99 %s (last 10 s), p50 %s, p99 %s (since start); "
	       "installs refused as revoked %" JSON_INTEGER_FORMAT
	       ", unknown records dropped %" JSON_INTEGER_FORMAT
	       "; engines reusing an ECDHE key %" JSON_INTEGER_FORMAT "\n",
	       geti(hp, "engines"), geti(hp, "in_flight"),
	       limit_str(geti(hp, "limit"), lim, sizeof(lim)),
	       latency_str(geti(hp, "p50_us"), a, sizeof(a)),
	       latency_str(geti(hp, "p99_us"), b, sizeof(b)),
	       latency_str(geti(hp, "p50_us_all"), c, sizeof(c)),
	       latency_str(geti(hp, "p99_us_all"), d, sizeof(d)), geti(hp, "install_revoked"),
	       geti(hp, "unknown_dropped"), geti(hp, "ecdhe_reuse_on"));
	engine_rows(json_object_get(hp, "engine"));
}

void sg_cli_hs_status(const json_t *hs, char *buf, size_t len)
{
	char lim[24];

	snprintf(buf, len, "hs %" JSON_INTEGER_FORMAT "/%s", geti(hs, "in_flight"),
	         limit_str(geti(hs, "limit"), lim, sizeof(lim)));
}
