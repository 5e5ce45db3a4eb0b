/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Prometheus text from a `stats` result: exact sample lines for a small
 * stats object, and the whole text for a result the daemon gave, byte for
 * byte (tests/data/stats.json and stats.prom); then the format rules over
 * the whole output of both (every sample belongs to a family announced by
 * HELP and TYPE, once, before it; metric and label names are valid;
 * counters end in _total; label values escaped; a histogram's buckets are
 * cumulative and its count is the +Inf bucket).
 */
#include <ctype.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "sg_metrics.h"

static const char stats[] =
        "{\"uptime_s\": 12.5,"
        " \"global\": {\"rx_packets\": 30},"
        " \"drops\": {\"udp_port\": 3, \"replayed\": 0, \"we\\\"ird\\\\\": 1},"
        " \"punts\": {\"handshake\": 25, \"alert\": 2},"
        " \"workers\": [{\"worker\": 0, \"lcore\": 1, \"rx_packets\": 20, \"rx_bytes\": 2000,"
        "                \"forwarded_up\": 4, \"forwarded_down\": 3, \"polls\": 100,"
        "                \"idle_polls\": 90, \"dropped\": 2},"
        "               {\"worker\": 1, \"lcore\": 3, \"rx_packets\": 10, \"rx_bytes\": 1000,"
        "                \"forwarded_up\": 0, \"forwarded_down\": 0, \"polls\": 50,"
        "                \"idle_polls\": 50, \"dropped\": 1}],"
        " \"sessions\": {\"live\": 7, \"capacity\": 1024, \"inserts\": 9, \"killed\": 1,"
        "                \"refused\": {\"full\": 0, \"duplicate_tuple\": 2}},"
        " \"handshakes\": {\"in_flight\": 1, \"installed\": 9,"
        "                  \"counters\": {\"completed_full\": 9, \"fail_bad_finished\": 1}},"
        " \"admission\": {\"handshake_rate\": 100, \"refused\": 4, \"cookies_required\": true},"
        " \"credentials\": {\"count\": 1000000, \"import_running\": false},"
        " \"control\": {\"clients\": 1, \"requests\": 12, \"errors\": 2, \"timeouts\": 1},"
        " \"store\": {\"enabled\": true, \"records\": 6, \"pending\": 2, \"commits\": 40,"
        "             \"dropped\": 0, \"failed\": 3, \"floors\": 11, \"last_commit_age_s\": 0.25,"
        "             \"restore\": {\"restored\": 5, \"expired\": 1}}}";

/* The store off: it says so, and nothing else of it is printed (not as 0 either). */
static const char stats_store_off[] = "{\"uptime_s\": 1, \"store\": {\"enabled\": false}}";

static char *render(const char *text)
{
	json_error_t je;
	json_t *st = json_loads(text, 0, &je);
	char *out = NULL;
	size_t len = 0;
	FILE *f;

	assert_non_null(st);
	f = open_memstream(&out, &len);
	assert_non_null(f);
	assert_int_equal(sg_metrics_prometheus(st, f), 0);
	fclose(f);
	json_decref(st);
	return out;
}

/* The contents of SG_SOURCE_ROOT/tests/data/name (malloc'd, NUL-terminated). */
static char *data_file(const char *name)
{
	const char *root = getenv("SG_SOURCE_ROOT");
	char path[4096], *text;
	FILE *f;
	long n;

	assert_non_null(root);
	snprintf(path, sizeof(path), "%s/tests/data/%s", root, name);
	f = fopen(path, "rb");
	assert_non_null(f);
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	n = ftell(f);
	assert_true(n > 0);
	rewind(f);
	text = malloc((size_t)n + 1);
	assert_non_null(text);
	assert_int_equal(fread(text, 1, (size_t)n, f), (size_t)n);
	text[n] = '\0';
	fclose(f);
	return text;
}

/*
 * The text for a `stats` result the daemon gave (every counter then set to
 * a different value, a second worker added: tests/data/README.md).
 */
static char *render_recorded(void)
{
	char *stats_text = data_file("stats.json");
	char *out = render(stats_text);

	free(stats_text);
	return out;
}

static void test_samples(void **state)
{
	static const char *const want[] = {
		"stormgate_up 1\n",
		"stormgate_uptime_seconds 12.5\n",
		"stormgate_sessions 7\n",
		"stormgate_sessions_capacity 1024\n",
		"stormgate_credentials 1000000\n",
		"stormgate_credential_import_running 0\n",
		"stormgate_admission_rate 100\n",
		"stormgate_admission_refused_total 4\n",
		"stormgate_admission_cookies_required 1\n",
		"stormgate_rx_packets_total{worker=\"0\",lcore=\"1\"} 20\n",
		"stormgate_rx_packets_total{worker=\"1\",lcore=\"3\"} 10\n",
		"stormgate_forwarded_packets_total{worker=\"0\",lcore=\"1\",direction=\"up\"} 4\n",
		"stormgate_forwarded_packets_total{worker=\"0\",lcore=\"1\",direction=\"down\"} "
		"3\n",
		"stormgate_worker_idle_polls_total{worker=\"1\",lcore=\"3\"} 50\n",
		"stormgate_dropped_packets_total{reason=\"udp_port\"} 3\n",
		"stormgate_dropped_packets_total{reason=\"replayed\"} 0\n",
		"stormgate_dropped_packets_total{reason=\"we\\\"ird\\\\\"} 1\n",
		"stormgate_punts_total{kind=\"handshake\"} 25\n",
		"stormgate_session_refusals_total{reason=\"duplicate_tuple\"} 2\n",
		"stormgate_session_changes_total{change=\"insert\"} 9\n",
		"stormgate_session_changes_total{change=\"kill\"} 1\n",
		"stormgate_handshake_events_total{event=\"fail_bad_finished\"} 1\n",
		"stormgate_handshakes_installed_total 9\n",
		"stormgate_control_closed_total{reason=\"timeout\"} 1\n",
		"stormgate_control_errors_total 2\n",
		"stormgate_store_enabled 1\n",
		"stormgate_store_records 6\n",
		"stormgate_store_pending 2\n",
		"stormgate_store_commits_total 40\n",
		"stormgate_store_dropped_total 0\n",
		"stormgate_store_failed_total 3\n",
		"stormgate_store_floors_total 11\n",
		"stormgate_store_last_commit_age_seconds 0.25\n",
		"stormgate_store_restored 5\n",
		"# TYPE stormgate_store_records gauge\n",
		"# TYPE stormgate_store_commits_total counter\n",
	};
	char *out = render(stats), *want_text;

	(void)state;
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		if (strstr(out, want[i]) == NULL) {
			print_message("missing: %s--- output:\n%s", want[i], out);
			fail();
		}
	}
	/* Members the stats do not have are left out, not printed as 0. */
	assert_null(strstr(out, "stormgate_handshakes_lingering"));
	assert_null(strstr(out, "change=\"replace\""));
	free(out);
	out = render(stats_store_off);
	assert_non_null(strstr(out, "stormgate_store_enabled 0\n"));
	assert_null(strstr(out, "stormgate_store_records"));
	assert_null(strstr(out, "stormgate_store_last_commit_age_seconds"));
	free(out);

	/*
	 * The recorded result prints exactly what the printer printed for it
	 * when it was recorded: the families, their order, HELP and TYPE,
	 * labels and values.
	 */
	out = render_recorded();
	want_text = data_file("stats.prom");
	if (strcmp(out, want_text) != 0) {
		size_t line = 1;

		for (size_t i = 0; out[i] == want_text[i]; i++)
			line += out[i] == '\n';
		print_message("# differs from tests/data/stats.prom at line %zu\n", line);
		fail();
	}
	free(want_text);
	free(out);
}

static int name_ok(const char *s, size_t n)
{
	if (n == 0 || !(isalpha((unsigned char)s[0]) || s[0] == '_' || s[0] == ':'))
		return 0;
	for (size_t i = 1; i < n; i++)
		if (!(isalnum((unsigned char)s[i]) || s[i] == '_' || s[i] == ':'))
			return 0;
	return 1;
}

/* Exposition format 0.0.4 rules, over the whole of out (which strtok_r cuts up). */
static void check_format(char *out)
{
	char *save = NULL;
	char families[128][80], types[128][16];
	double last_bucket = -1; /* a histogram's buckets so far: cumulative */
	unsigned n_fam = 0, samples = 0;

	assert_int_equal(out[strlen(out) - 1], '\n');
	for (char *line = strtok_r(out, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		if (strncmp(line, "# HELP ", 7) == 0) {
			char *name = line + 7, *sp = strchr(name, ' ');

			assert_non_null(sp);
			assert_true(name_ok(name, (size_t)(sp - name)));
			for (unsigned k = 0; k < n_fam; k++) /* each family announced once */
				assert_false(strncmp(families[k], name, (size_t)(sp - name)) == 0 &&
				             families[k][sp - name] == '\0');
			assert_true(n_fam < 128);
			snprintf(families[n_fam], sizeof(families[0]), "%.*s", (int)(sp - name),
			         name);
			types[n_fam][0] = '\0';
			n_fam++;
			continue;
		}
		if (strncmp(line, "# TYPE ", 7) == 0) {
			char name[80], type[16];

			assert_int_equal(sscanf(line + 7, "%79s %15s", name, type), 2);
			assert_true(n_fam > 0);
			assert_string_equal(name, families[n_fam - 1]); /* right after its HELP */
			assert_true(strcmp(type, "counter") == 0 || strcmp(type, "gauge") == 0 ||
			            strcmp(type, "histogram") == 0);
			if (strcmp(type, "counter") == 0)
				assert_non_null(strstr(name, "_total"));
			snprintf(types[n_fam - 1], sizeof(types[0]), "%s", type);
			continue;
		}
		/*
		 * A sample: name[{labels}] value, of the family announced last; a
		 * histogram's are name_bucket{le="..."} (cumulative, +Inf last) and
		 * name_count (the +Inf bucket's value).
		 */
		assert_true(n_fam > 0);
		size_t nl = strcspn(line, "{ "), fl = strlen(families[n_fam - 1]);
		assert_true(types[n_fam - 1][0] != '\0');
		assert_true(strncmp(line, families[n_fam - 1], fl) == 0);
		if (strcmp(types[n_fam - 1], "histogram") == 0) {
			double v = strtod(line + strcspn(line, " ") + 1, NULL);

			assert_true(strncmp(line + fl, "_bucket{le=\"", 12) == 0 ||
			            strncmp(line + fl, "_count ", 7) == 0);
			if (line[fl + 1] == 'b') {
				assert_true(v >= last_bucket);
				last_bucket = strstr(line, "le=\"+Inf\"") ? -2 - v : v;
			} else {
				assert_true(last_bucket <= -2 && v == -2 - last_bucket);
				last_bucket = -1;
			}
		} else {
			assert_true(nl == fl);
		}
		if (line[nl] == '{') {
			char *end = strrchr(line, '}');

			assert_non_null(end);
			for (char *p = line + nl + 1; p < end;) {
				size_t ln = strcspn(p, "=");

				assert_true(name_ok(p, ln));
				assert_int_equal(p[ln + 1], '"');
				p += ln + 2;
				while (*p != '"') {
					assert_true(*p != '\0' && *p != '\n');
					p += *p == '\\' ? 2 : 1;
				}
				p++;
				if (*p == ',')
					p++;
			}
			nl = (size_t)(end - line) + 1;
		}
		assert_int_equal(line[nl], ' ');
		char *endv;
		strtod(line + nl + 1, &endv);
		assert_true(endv != line + nl + 1 && *endv == '\0');
		samples++;
	}
	assert_true(n_fam >= 25);
	assert_true(samples >= 40);
}

static void test_format(void **state)
{
	char *out = render(stats);

	(void)state;
	check_format(out);
	free(out);
	out = render_recorded();
	check_format(out);
	free(out);
}

static void test_not_stats(void **state)
{
	json_t *a = json_array();

	(void)state;
	assert_int_equal(sg_metrics_prometheus(a, stdout), -22);
	json_decref(a);
	/* An empty object still says the daemon is up. */
	char *out = render("{}");
	assert_string_equal(out, "# HELP stormgate_up 1: the daemon answered.\n"
	                         "# TYPE stormgate_up gauge\nstormgate_up 1\n");
	free(out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_samples),
		cmocka_unit_test(test_format),
		cmocka_unit_test(test_not_stats),
	};

	return cmocka_run_group_tests_name("metrics", tests, NULL, NULL);
}
