/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The baseline's counters: their names (one table, read by the JSON lines
 * and the summary) and the sums over the workers. Workers count with
 * relaxed atomic stores into their own struct bl_counters; the main thread
 * reads and prints them here. See baseline.h.
 */
#include <stdio.h>

#include "baseline.h"

static const char *const names[BL_CTR_MAX] = {
	[BL_DGRAMS_IN] = "datagrams_in",
	[BL_DGRAMS_OUT] = "datagrams_out",
	[BL_BACKEND_OUT] = "backend_out",
	[BL_BACKEND_IN] = "backend_in",
	[BL_HS_COMPLETED] = "handshakes_completed",
	[BL_HS_FAILED] = "handshakes_failed",
	[BL_HS_TIMEOUT] = "handshakes_timed_out",
	[BL_UNKNOWN_ID] = "unknown_identity",
	[BL_HELLO_VERIFY] = "hello_verify_sent",
	[BL_REPLACED] = "replaced",
	[BL_CLOSED_NOTIFY] = "closed_notify",
	[BL_CLOSED_IDLE] = "closed_idle",
	[BL_CLOSED_ERROR] = "closed_error",
	[BL_DROP_JUNK] = "junk",
	[BL_DROP_SIZE] = "size",
	[BL_DROP_MAX_CLIENTS] = "max_clients",
	[BL_DROP_BACKEND_BAD] = "backend_malformed",
	[BL_DROP_BACKEND_UNKNOWN] = "backend_unknown",
	[BL_DROP_BACKEND_FORGED] = "backend_forged",
	[BL_DROP_NO_PORT] = "no_source_port",
	[BL_DROP_SEND] = "send_failed",
};

/* The process's resident set (from /proc/self/statm), KiB; 0 if unknown. */
static unsigned long rss_kib(void)
{
	unsigned long size, resident = 0;
	FILE *f = fopen("/proc/self/statm", "r");

	if (f == NULL)
		return 0;
	if (fscanf(f, "%lu %lu", &size, &resident) != 2)
		resident = 0;
	fclose(f);
	return resident * 4; /* pages of 4 KiB on x86-64 and arm64 Linux */
}

void bl_stats_print(FILE *out, struct bl_counters *const *w, unsigned n, double t, bool final)
{
	uint64_t sum[BL_CTR_MAX] = { 0 }, clients = 0, drops = 0;
	unsigned i, k;

	for (i = 0; i < n; i++) {
		for (k = 0; k < BL_CTR_MAX; k++)
			sum[k] += atomic_load_explicit(&w[i]->v[k], memory_order_relaxed);
		clients += atomic_load_explicit(&w[i]->clients, memory_order_relaxed);
	}
	for (k = BL_DROP_FIRST; k < BL_CTR_MAX; k++)
		drops += sum[k];
	fprintf(out, "{\"t\":%.3f,%s\"clients\":%llu,\"drops\":%llu,\"rss_kib\":%lu", t,
	        final ? "\"final\":true," : "", (unsigned long long)clients,
	        (unsigned long long)drops, rss_kib());
	for (k = 0; k < BL_DROP_FIRST; k++)
		fprintf(out, ",\"%s\":%llu", names[k], (unsigned long long)sum[k]);
	fputs(",\"drop\":{", out);
	for (k = BL_DROP_FIRST; k < BL_CTR_MAX; k++)
		fprintf(out, "%s\"%s\":%llu", k == BL_DROP_FIRST ? "" : ",", names[k],
		        (unsigned long long)sum[k]);
	fputs("}}\n", out);
	fflush(out);
}
