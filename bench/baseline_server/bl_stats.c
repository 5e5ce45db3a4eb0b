/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The baseline's counters: their names (one table, read by the JSON lines
 * and the summary) and the sums over the workers. Workers count with
 * relaxed atomic stores into their own struct sg_bl_counters; the main thread
 * reads and prints them here. See baseline.h.
 */
#include <stdio.h>
#include <malloc.h>

#include "baseline.h"

static const char *const names[SG_BL_CTR_MAX] = {
	[SG_BL_DGRAMS_IN] = "datagrams_in",
	[SG_BL_DGRAMS_OUT] = "datagrams_out",
	[SG_BL_BACKEND_OUT] = "backend_out",
	[SG_BL_BACKEND_IN] = "backend_in",
	[SG_BL_HS_COMPLETED] = "handshakes_completed",
	[SG_BL_HS_FAILED] = "handshakes_failed",
	[SG_BL_HS_TIMEOUT] = "handshakes_timed_out",
	[SG_BL_UNKNOWN_ID] = "unknown_identity",
	[SG_BL_HELLO_VERIFY] = "hello_verify_sent",
	[SG_BL_REPLACED] = "replaced",
	[SG_BL_CLOSED_NOTIFY] = "closed_notify",
	[SG_BL_CLOSED_IDLE] = "closed_idle",
	[SG_BL_CLOSED_ERROR] = "closed_error",
	[SG_BL_DROP_JUNK] = "junk",
	[SG_BL_DROP_SIZE] = "size",
	[SG_BL_DROP_MAX_CLIENTS] = "max_clients",
	[SG_BL_DROP_BACKEND_BAD] = "backend_malformed",
	[SG_BL_DROP_BACKEND_UNKNOWN] = "backend_unknown",
	[SG_BL_DROP_BACKEND_FORGED] = "backend_forged",
	[SG_BL_DROP_NO_PORT] = "no_source_port",
	[SG_BL_DROP_SEND] = "send_failed",
};

/*
 * Memory: the process's resident set, and what malloc has handed out and not
 * taken back (glibc's mallinfo2(): OpenSSL's objects, ours, the tables)
 * whether or not its pages were touched yet.
 */
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

void sg_bl_stats_print(FILE *out, struct sg_bl_counters *const *w, unsigned n, double t, bool final)
{
	uint64_t sum[SG_BL_CTR_MAX] = { 0 }, clients = 0, drops = 0, overflows = 0;
	unsigned i, k;

	for (i = 0; i < n; i++) {
		for (k = 0; k < SG_BL_CTR_MAX; k++)
			sum[k] += atomic_load_explicit(&w[i]->v[k], memory_order_relaxed);
		clients += atomic_load_explicit(&w[i]->clients, memory_order_relaxed);
		overflows += atomic_load_explicit(&w[i]->socket_overflows, memory_order_relaxed);
	}
	for (k = SG_BL_DROP_FIRST; k < SG_BL_CTR_MAX; k++)
		drops += sum[k];
	fprintf(out,
	        "{\"t\":%.3f,%s\"clients\":%llu,\"drops\":%llu,\"rss_kib\":%lu,"
	        "\"heap_kib\":%zu,\"socket_overflows\":%llu",
	        t, final ? "\"final\":true," : "", (unsigned long long)clients,
	        (unsigned long long)drops, rss_kib(), mallinfo2().uordblks / 1024,
	        (unsigned long long)overflows);
	for (k = 0; k < SG_BL_DROP_FIRST; k++)
		fprintf(out, ",\"%s\":%llu", names[k], (unsigned long long)sum[k]);
	fputs(",\"drop\":{", out);
	for (k = SG_BL_DROP_FIRST; k < SG_BL_CTR_MAX; k++)
		fprintf(out, "%s\"%s\":%llu", k == SG_BL_DROP_FIRST ? "" : ",", names[k],
		        (unsigned long long)sum[k]);
	fputs("}}\n", out);
	fflush(out);
}
