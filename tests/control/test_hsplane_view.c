/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The handshake plane as operators see it, from a filled struct
 * sg_gw_hsplane (what the gateway hands management): the `handshake_plane`
 * member of `stats` (hsplane_view.c), its Prometheus families (metrics.c:
 * per-engine gauges and counters, the quantile gauges in seconds, the
 * latency histogram with cumulative buckets on sg_hs_latency_bucket_le()'s
 * edges) and stormctl's HANDSHAKE PLANE block and status word (cli_print_hs.c),
 * each checked line by line against the numbers put in. A table of rows,
 * the plane with engines and without (an idle or older daemon).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include <stormgate/common.h>
#include <stormgate/handshake.h>

#include "hsplane_view.h"
#include "sg_cli.h"
#include "sg_metrics.h"

/* Two engines, every number distinct, latencies in three buckets. */
static void fill(struct sg_gw_hsplane *hp)
{
	memset(hp, 0, sizeof(*hp));
	hp->engines = 2;
	hp->engine[0] = (struct sg_gw_engine){ .in_flight = 70,
		                               .limit = 16384,
		                               .completed = 1000,
		                               .queue_full = 3,
		                               .fifo_full = 1,
		                               .p50_us = 1536,
		                               .p99_us = 8192 };
	hp->engine[1] = (struct sg_gw_engine){ .in_flight = 80,
		                               .limit = 16385,
		                               .completed = 2000,
		                               .queue_full = 5,
		                               .fifo_full = 2,
		                               .p50_us = 768,
		                               .p99_us = 2048000 };
	hp->in_flight = 150;
	hp->limit = 32769;
	hp->p50_us = 1024;
	hp->p99_us = 6144;
	hp->p50_us_all = 1536;
	hp->p99_us_all = 12288;
	hp->install_revoked = 7;
	hp->unknown_dropped = 11;
	hp->ecdhe_reuse_on = 1;
	hp->latency[2] = 10;                     /* <= 3 µs */
	hp->latency[20] = 2980;                  /* <= 3 << 9 = 1536 µs */
	hp->latency[SG_HS_LAT_BUCKETS - 1] = 10; /* above every edge */
}

/* The metrics of a stats object that holds only handshake_plane (malloc'd). */
static char *metrics_of(json_t *hpj)
{
	json_t *st = json_pack("{s:O}", "handshake_plane", hpj);
	char *out = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&out, &len);

	assert_non_null(st);
	assert_non_null(f);
	assert_int_equal(sg_metrics_prometheus(st, f), 0);
	fclose(f);
	json_decref(st);
	return out;
}

/* What fn(arg) prints on stdout (malloc'd). */
static char *stdout_of(void (*fn)(const json_t *), const json_t *arg)
{
	FILE *tmp = tmpfile();
	int saved = dup(STDOUT_FILENO);
	char *out;
	long n;

	assert_non_null(tmp);
	assert_true(saved >= 0);
	fflush(stdout);
	assert_true(dup2(fileno(tmp), STDOUT_FILENO) >= 0);
	fn(arg);
	fflush(stdout);
	assert_true(dup2(saved, STDOUT_FILENO) >= 0);
	close(saved);
	n = ftell(tmp);
	assert_true(n >= 0);
	out = calloc(1, (size_t)n + 1);
	assert_non_null(out);
	rewind(tmp);
	assert_int_equal(fread(out, 1, (size_t)n, tmp), (size_t)n);
	fclose(tmp);
	return out;
}

static void want_in(const char *text, const char *line)
{
	if (text == NULL || strstr(text, line) == NULL) {
		print_message("missing: %s\n--- in:\n%s", line, text != NULL ? text : "(nothing)");
		fail();
	}
}

static void test_json(void **state)
{
	struct sg_gw_hsplane hp;
	json_t *j, *e, *lat;

	(void)state;
	fill(&hp);
	j = mgmt_hsplane_json(&hp);
	assert_non_null(j);
	assert_int_equal(json_integer_value(json_object_get(j, "engines")), 2);
	assert_int_equal(json_integer_value(json_object_get(j, "in_flight")), 150);
	assert_int_equal(json_integer_value(json_object_get(j, "limit")), 32769);
	assert_int_equal(json_integer_value(json_object_get(j, "p50_us")), 1024);
	assert_int_equal(json_integer_value(json_object_get(j, "p99_us")), 6144);
	assert_int_equal(json_integer_value(json_object_get(j, "p50_us_all")), 1536);
	assert_int_equal(json_integer_value(json_object_get(j, "p99_us_all")), 12288);
	assert_int_equal(json_integer_value(json_object_get(j, "install_revoked")), 7);
	assert_int_equal(json_integer_value(json_object_get(j, "unknown_dropped")), 11);
	assert_int_equal(json_integer_value(json_object_get(j, "ecdhe_reuse_on")), 1);
	assert_int_equal(json_array_size(json_object_get(j, "engine")), 2);
	e = json_array_get(json_object_get(j, "engine"), 1);
	assert_int_equal(json_integer_value(json_object_get(e, "engine")), 1);
	assert_int_equal(json_integer_value(json_object_get(e, "in_flight")), 80);
	assert_int_equal(json_integer_value(json_object_get(e, "limit")), 16385);
	assert_int_equal(json_integer_value(json_object_get(e, "completed")), 2000);
	assert_int_equal(json_integer_value(json_object_get(e, "queue_full")), 5);
	assert_int_equal(json_integer_value(json_object_get(e, "fifo_full")), 2);
	assert_int_equal(json_integer_value(json_object_get(e, "p50_us")), 768);
	assert_int_equal(json_integer_value(json_object_get(e, "p99_us")), 2048000);
	lat = json_object_get(j, "latency");
	assert_int_equal(json_array_size(json_object_get(lat, "le_us")), SG_HS_LAT_BUCKETS - 1);
	assert_int_equal(json_array_size(json_object_get(lat, "count")), SG_HS_LAT_BUCKETS);
	for (unsigned i = 0; i < SG_HS_LAT_BUCKETS; i++) {
		assert_int_equal(
		        json_integer_value(json_array_get(json_object_get(lat, "count"), i)),
		        hp.latency[i]);
		if (i + 1 < SG_HS_LAT_BUCKETS)
			assert_int_equal(json_integer_value(
			                         json_array_get(json_object_get(lat, "le_us"), i)),
			                 sg_hs_latency_bucket_le(i));
	}
	json_decref(j);

	/* More engines than the view holds: the rows it has. */
	hp.engines = SG_GW_ENGINES_MAX + 5;
	j = mgmt_hsplane_json(&hp);
	assert_int_equal(json_integer_value(json_object_get(j, "engines")), SG_GW_ENGINES_MAX);
	assert_int_equal(json_array_size(json_object_get(j, "engine")), SG_GW_ENGINES_MAX);
	json_decref(j);
}

static void test_metrics(void **state)
{
	static const char *const want[] = {
		"# TYPE stormgate_handshake_engines gauge\nstormgate_handshake_engines 2\n",
		"stormgate_handshake_latency_p50_seconds 0.001024\n",
		"stormgate_handshake_latency_p99_seconds 0.006144\n",
		"# TYPE stormgate_handshake_install_revoked_total counter\n"
		"stormgate_handshake_install_revoked_total 7\n",
		"stormgate_handshake_unknown_dropped_total 11\n",
		"stormgate_handshake_ecdhe_reuse_engines 1\n",
		"# TYPE stormgate_handshake_in_flight gauge\n"
		"stormgate_handshake_in_flight{engine=\"0\"} 70\n"
		"stormgate_handshake_in_flight{engine=\"1\"} 80\n",
		"stormgate_handshake_in_flight_limit{engine=\"0\"} 16384\n"
		"stormgate_handshake_in_flight_limit{engine=\"1\"} 16385\n",
		"stormgate_handshake_completed_total{engine=\"1\"} 2000\n",
		"stormgate_handshake_queue_full_total{engine=\"0\"} 3\n",
		"stormgate_handshake_fifo_full_total{engine=\"1\"} 2\n",
		"stormgate_handshake_engine_latency_p50_seconds{engine=\"0\"} 0.001536\n",
		"stormgate_handshake_engine_latency_p99_seconds{engine=\"1\"} 2.048\n",
		"# TYPE stormgate_handshake_latency_seconds histogram\n"
		"stormgate_handshake_latency_seconds_bucket{le=\"1e-06\"} 0\n"
		"stormgate_handshake_latency_seconds_bucket{le=\"2e-06\"} 0\n"
		"stormgate_handshake_latency_seconds_bucket{le=\"3e-06\"} 10\n"
		"stormgate_handshake_latency_seconds_bucket{le=\"4e-06\"} 10\n",
		"stormgate_handshake_latency_seconds_bucket{le=\"0.001024\"} 10\n"
		"stormgate_handshake_latency_seconds_bucket{le=\"0.001536\"} 2990\n",
		"stormgate_handshake_latency_seconds_bucket{le=\"+Inf\"} 3000\n"
		"stormgate_handshake_latency_seconds_count 3000\n",
	};
	struct sg_gw_hsplane hp;
	json_t *j;
	char *out, *p;
	unsigned buckets = 0;

	(void)state;
	fill(&hp);
	assert_int_equal(sg_hs_latency_bucket_le(20), 1536); /* the rows' edges above */
	j = mgmt_hsplane_json(&hp);
	out = metrics_of(j);
	for (size_t i = 0; i < SG_ARRAY_SIZE(want); i++)
		want_in(out, want[i]);
	/* A bucket per edge and +Inf, no _sum (the engines count by bucket only). */
	for (p = out; (p = strstr(p, "stormgate_handshake_latency_seconds_bucket{")) != NULL; p++)
		buckets++;
	assert_int_equal(buckets, SG_HS_LAT_BUCKETS);
	assert_null(strstr(out, "stormgate_handshake_latency_seconds_sum"));
	free(out);
	json_decref(j);

	/* No engines (an idle plane, or before it runs): no per-engine series; the rest 0. */
	memset(&hp, 0, sizeof(hp));
	j = mgmt_hsplane_json(&hp);
	out = metrics_of(j);
	want_in(out, "stormgate_handshake_engines 0\n");
	want_in(out, "stormgate_handshake_latency_p99_seconds 0\n");
	want_in(out, "stormgate_handshake_latency_seconds_bucket{le=\"+Inf\"} 0\n"
	             "stormgate_handshake_latency_seconds_count 0\n");
	assert_null(strstr(out, "stormgate_handshake_in_flight"));
	assert_null(strstr(out, "engine=\""));
	free(out);
	json_decref(j);

	/* A histogram whose edges and counts disagree is left out, not misprinted. */
	j = json_pack("{s:{s:[i, i], s:[i, i]}}", "latency", "le_us", 1, 2, "count", 5, 6);
	out = metrics_of(j);
	assert_null(strstr(out, "stormgate_handshake_latency_seconds"));
	free(out);
	json_decref(j);
}

static void print_status_word(const json_t *hs)
{
	char buf[64];

	sg_cli_hs_status(hs, buf, sizeof(buf));
	printf("%s\n", buf);
}

static void test_stormctl(void **state)
{
	struct sg_gw_hsplane hp;
	json_t *j, *hs;
	char *out;

	(void)state;
	fill(&hp);
	j = mgmt_hsplane_json(&hp);
	out = stdout_of(sg_cli_print_hsplane, j);
	want_in(out, "HANDSHAKE PLANE  2 engine(s); in flight 150 of 32769; latency p50 1.0ms, "
	             "p99 6.1ms (last 10 s), p50 1.5ms, p99 12.3ms (since start); installs "
	             "refused as revoked 7, unknown records dropped 11; engines reusing an ECDHE "
	             "key 1\n");
	want_in(out, "  ENGINE  IN FLIGHT      LIMIT    COMPLETED  QUEUE FULL  FIFO FULL       P50 "
	             "      P99\n");
	want_in(out, "  0              70      16384         1000           3          1     1.5ms "
	             "    8.2ms\n");
	want_in(out, "  1              80      16385         2000           5          2     768us "
	             "    2.05s\n");
	free(out);
	json_decref(j);

	/* Nothing measured yet: dashes, not zeros that read as "instant". */
	memset(&hp, 0, sizeof(hp));
	j = mgmt_hsplane_json(&hp);
	out = stdout_of(sg_cli_print_hsplane, j);
	assert_string_equal(out, "HANDSHAKE PLANE  0 engine(s); in flight 0 of -; latency p50 -, "
	                         "p99 - (last 10 s), p50 -, p99 - (since start); installs refused "
	                         "as revoked 0, unknown records dropped 0; engines reusing an "
	                         "ECDHE key 0\n");
	free(out);
	json_decref(j);

	/* An older daemon's stats have no handshake_plane: nothing printed. */
	out = stdout_of(sg_cli_print_hsplane, NULL);
	assert_string_equal(out, "");
	free(out);

	/* status: hs <in_flight>/<limit> */
	hs = json_pack("{s:i, s:i, s:i}", "in_flight", 150, "limit", 32769, "engines", 2);
	out = stdout_of(print_status_word, hs);
	assert_string_equal(out, "hs 150/32769\n");
	free(out);
	json_decref(hs);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_json),
		cmocka_unit_test(test_metrics),
		cmocka_unit_test(test_stormctl),
	};

	return cmocka_run_group_tests_name("hsplane_view", tests, NULL, NULL);
}
