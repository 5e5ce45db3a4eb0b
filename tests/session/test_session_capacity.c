/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The 10M-session capacity test (suite 'slow': ~10-20 s and ~2.5 GB): a
 * table of 10,000,000 sessions, each indexed by 4-tuple and CID, fits in
 * 256 bytes per session all-in; a full table refuses (counted) and keeps
 * working; sampled sessions are found by both keys.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <cmocka.h>

#include "sess_test.h"

enum { N = 10000000, SAMPLE = 100000, BURST = 32 };

static size_t rss_bytes(void)
{
	unsigned long size = 0, res = 0;
	FILE *f = fopen("/proc/self/statm", "r");

	assert_non_null(f);
	assert_int_equal(fscanf(f, "%lu %lu", &size, &res), 2);
	fclose(f);
	return res * (size_t)sysconf(_SC_PAGESIZE);
}

static void test_ten_million(void **state)
{
	struct sg_sess_params p = { .capacity = N };
	uint8_t(*cids)[8] = malloc((size_t)N * 8);
	struct sg_sess_table *t;
	struct sg_sess_worker *w;
	struct sg_sess_stats st;
	struct sg_rec_sa sa;
	uint64_t id, x = 99, first_id = 0;
	size_t before, after;
	double per;

	(void)state;
	assert_non_null(cids);
	memset(cids, 0, (size_t)N * 8); /* resident before the measurement starts */
	before = rss_bytes();
	t = sg_sess_table_create(&p);
	assert_non_null(t);
	for (uint32_t k = 0; k < N; k++) {
		struct sg_sess_new n;

		st_sa(&sa, k, 1);
		n = st_new(&sa, k, k % 4 == 3, SG_SESS_F_TUPLE | SG_SESS_F_CID);
		if (sg_sess_insert(t, &n, &id, cids[k]) != 0)
			fail_msg("insert %u refused", k);
		if (k == 0)
			first_id = id;
	}
	after = rss_bytes();
	per = (double)(after - before) / N;
	print_message("# 10M sessions: %.1f bytes per session resident (all-in)\n", per);
	assert_true(per <= 256.0);

	/* Full: refused and counted, never a crash; the table keeps working. */
	st_sa(&sa, N, 1);
	{
		struct sg_sess_new n = st_new(&sa, N, 0, SG_SESS_F_TUPLE | SG_SESS_F_CID);

		assert_int_equal(sg_sess_insert(t, &n, &id, NULL), -ENOSPC);
		sg_sess_stats_get(t, &st);
		assert_int_equal(st.refused[SG_SESS_REFUSE_FULL], 1);
		assert_int_equal(st.live, N);
		assert_int_equal(st.tuple_entries, N);
		assert_int_equal(st.refused[SG_SESS_REFUSE_INDEX_FULL], 0);
		/* One out, one in. */
		assert_int_equal(sg_sess_delete(t, first_id), 0);
		assert_int_equal(sg_sess_reclaim(t, 1), 1);
		assert_int_equal(sg_sess_insert(t, &n, &id, NULL), 0);
	}
	sg_wipe(&sa, sizeof(sa));

	w = sg_sess_worker_create(t, 0);
	assert_non_null(w);
	sg_sess_worker_online(w);
	for (unsigned b = 0; b < SAMPLE / BURST; b++) {
		struct sg_sess_tuple keys[BURST];
		const uint8_t *cp[BURST];
		uint32_t ks[BURST];
		struct sg_sess_ref r[BURST];

		for (unsigned i = 0; i < BURST; i++) {
			ks[i] = 1 +
			        (uint32_t)((x = st_mix(x)) % (N - 1)); /* session 0 was deleted */
			st_tuple(&keys[i], ks[i], ks[i] % 4 == 3);
			cp[i] = cids[ks[i]];
		}
		assert_int_equal(sg_sess_lookup_tuple_bulk(w, keys, BURST, r), BURST);
		for (unsigned i = 0; i < BURST; i++)
			assert_int_equal(st_sa_owner(r[i].sa), ks[i]);
		assert_int_equal(sg_sess_lookup_cid_bulk(w, cp, BURST, r), BURST);
		for (unsigned i = 0; i < BURST; i++)
			assert_int_equal(st_sa_owner(r[i].sa), ks[i]);
		sg_sess_quiescent(w);
	}
	/* Session 0 is gone by both keys. */
	{
		struct sg_sess_tuple k0;
		const uint8_t *cp0[1] = { cids[0] };
		struct sg_sess_ref r;

		st_tuple(&k0, 0, 0);
		assert_int_equal(sg_sess_lookup_tuple_bulk(w, &k0, 1, &r), 0);
		assert_int_equal(sg_sess_lookup_cid_bulk(w, cp0, 1, &r), 0);
	}
	sg_sess_worker_destroy(w);
	sg_sess_table_destroy(t);
	free(cids);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ten_million),
	};

	return cmocka_run_group_tests_name("session_capacity", tests, NULL, NULL);
}
