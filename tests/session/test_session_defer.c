/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The writer never waits for the workers (SG_SESS_P_DEFER_GROW, issue 14's
 * "nowait"): a reader thread registered on the table's QSBR goes online,
 * looks a session up and then holds its reference without reporting a
 * quiescent state, while this thread deletes, re-keys and ends past the
 * nominal 65536 deferred frees. Checks: every call returns promptly (a wait
 * for a grace period would never return while the reader holds on), none is
 * refused, the reader's SA stays intact, the frees beyond the nominal queue
 * are counted (reclaim_deferred), a held SA comes due in its turn after the
 * queue moved; once the reader reports, everything is reclaimed and wiped in
 * one pass and the slots are reused. And the bound: the queue never needs
 * more than one entry per SA (capacity + sa_reserve, and the CBC pool's),
 * where a full table is the refusal, not the queue. Under ASan nothing
 * leaks.
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <cmocka.h>

#include <stormgate/time.h>

#include "sess_test.h"

#define NOMINAL 65536u /* the default defer_capacity */
#define MANY    70000u /* sessions ended while the reader holds on: past NOMINAL */
/* One call's bound: generous for a loaded machine; a wait would be forever. */
#define CALL_MAX_NS (200ull * 1000 * 1000)

/* A reader thread: online, one lookup, then holds the reference until released. */
struct reader {
	struct sg_sess_table *t;
	struct sg_sess_worker *w;
	struct sg_sess_tuple key;
	struct sg_sess_ref ref;
	int holding; /* set by the reader once it holds ref */
	int release; /* set by the test: report quiescent and go offline */
	int done;
	pthread_t th;
};

static void *reader_main(void *arg)
{
	struct reader *r = arg;

	sg_sess_worker_online(r->w);
	if (sg_sess_lookup_tuple_bulk(r->w, &r->key, 1, &r->ref) != 1)
		r->ref.sa = NULL;
	__atomic_store_n(&r->holding, 1, __ATOMIC_RELEASE);
	/* A stalled worker: a long burst, no quiescent report. */
	while (!__atomic_load_n(&r->release, __ATOMIC_ACQUIRE))
		sched_yield();
	sg_sess_quiescent(r->w);
	sg_sess_worker_offline(r->w);
	__atomic_store_n(&r->done, 1, __ATOMIC_RELEASE);
	return NULL;
}

/* Start a reader holding the session of test key k. */
static void reader_start(struct reader *r, struct sg_sess_table *t, uint32_t k)
{
	memset(r, 0, sizeof(*r));
	r->t = t;
	r->w = sg_sess_worker_create(t, 0);
	assert_non_null(r->w);
	st_tuple(&r->key, k, 0);
	assert_int_equal(pthread_create(&r->th, NULL, reader_main, r), 0);
	while (!__atomic_load_n(&r->holding, __ATOMIC_ACQUIRE))
		sched_yield();
	assert_non_null(r->ref.sa);
}

static void reader_stop(struct reader *r)
{
	__atomic_store_n(&r->release, 1, __ATOMIC_RELEASE);
	assert_int_equal(pthread_join(r->th, NULL), 0);
	assert_true(r->done);
	sg_sess_worker_destroy(r->w);
}

static int ins(struct sg_sess_table *t, uint32_t k, uint16_t v, uint64_t *id)
{
	struct sg_rec_sa sa;
	struct sg_sess_new n;
	int rc;

	st_sa(&sa, k, v);
	n = st_new(&sa, k, 0, SG_SESS_F_TUPLE);
	rc = sg_sess_insert(t, &n, id, NULL);
	sg_wipe(&sa, sizeof(sa));
	return rc;
}

static int rekey(struct sg_sess_table *t, uint64_t id, uint32_t k, uint16_t v)
{
	struct sg_rec_sa sa;
	int rc;

	st_sa(&sa, k, v);
	rc = sg_sess_replace(t, id, &sa);
	sg_wipe(&sa, sizeof(sa));
	return rc;
}

static struct sg_sess_stats stats(const struct sg_sess_table *t)
{
	struct sg_sess_stats st;

	sg_sess_stats_get(t, &st);
	return st;
}

/* The longest of the calls timed so far. */
static uint64_t slowest;

static void timed(uint64_t t0)
{
	uint64_t d = sg_mono_ns() - t0;

	if (d > slowest)
		slowest = d;
}

/*
 * MANY sessions end while a worker stalls: no call waits or is refused,
 * the stalled reader's keys stay intact, the frees past NOMINAL are
 * counted, and everything comes back once it reports.
 */
static void test_end_past_nominal(void **state)
{
	struct sg_sess_params p = { .capacity = MANY,
		                    .flags = SG_SESS_P_LAZY | SG_SESS_P_DEFER_GROW };
	struct sg_sess_table *t = sg_sess_table_create(&p);
	uint64_t *ids = calloc(MANY, sizeof(*ids));
	struct sg_sess_held held;
	struct reader r;
	struct sg_sess_stats st;
	struct sg_rec_sa sa;
	uint64_t t0, id;

	(void)state;
	assert_non_null(t);
	assert_non_null(ids);
	for (uint32_t k = 0; k < MANY; k++)
		assert_int_equal(ins(t, k, 1, &ids[k]), 0);
	reader_start(&r, t, 7);
	slowest = 0;
	/* Session 1 ends first with its SA held for a last record (the gateway's alert). */
	t0 = sg_mono_ns();
	assert_int_equal(sg_sess_delete_hold(t, ids[1], &held), 0);
	timed(t0);
	for (uint32_t k = 2; k < MANY; k++) {
		t0 = sg_mono_ns();
		assert_int_equal(sg_sess_delete(t, ids[k]), 0);
		timed(t0);
	}
	/* The last session re-keys twice: its previous keys wait too. */
	t0 = sg_mono_ns();
	assert_int_equal(rekey(t, ids[0], 0, 2), 0);
	assert_int_equal(rekey(t, ids[0], 0, 3), 0);
	assert_int_equal(sg_sess_retire_prev(t, ids[0]), 0);
	assert_int_equal(sg_sess_reclaim(t, 0), 0);
	timed(t0);
	assert_true(slowest < CALL_MAX_NS);
	assert_int_equal(sg_sess_take_held(t, &held, &sa), -EAGAIN);

	st = stats(t);
	assert_int_equal(st.refused[SG_SESS_REFUSE_DEFER_FULL], 0);
	assert_int_equal(st.deferred, MANY - 1 + 2);
	assert_int_equal(st.reclaim_deferred, MANY - 1 + 2 - NOMINAL);
	/* Bounded by the SAs of both pools: AEAD (MANY + MANY/64), CBC (MANY/16 + its
	 * reserve of 1/64, at least 64). */
	assert_true(st.defer_capacity >= MANY + 1 &&
	            st.defer_capacity <= MANY + MANY / 64 + MANY / 16 +
	                                         (MANY / 16 / 64 > 64 ? MANY / 16 / 64 : 64));
	assert_int_equal(st.live, 1);
	assert_int_equal(st.reclaimed, 0);
	/* The stalled reader's keys were neither wiped nor reused. */
	assert_true(st_sa_ok(r.ref.sa, 7));
	/* Every slot but one waits for the reader: the table is full, not the queue. */
	assert_int_equal(ins(t, MANY, 1, &id), -ENOSPC);

	reader_stop(&r);
	/* The held SA comes due in its turn, with the keys it had. */
	assert_int_equal(sg_sess_take_held(t, &held, &sa), 0);
	assert_true(st_sa_ok(&sa, 1));
	sg_wipe(&sa, sizeof(sa));
	assert_int_equal(sg_sess_reclaim(t, 0), MANY - 1 + 2);
	st = stats(t);
	assert_int_equal(st.deferred, 0);
	assert_int_equal(st.reclaimed, MANY - 1 + 2);
	assert_int_equal(st.sa_in_use, 1);
	/* The slots are free again. */
	for (uint32_t k = 1; k < MANY; k++)
		assert_int_equal(ins(t, MANY + k, 1, &ids[k]), 0);
	assert_int_equal(stats(t).live, MANY);
	free(ids);
	sg_sess_table_destroy(t);
}

/*
 * The bound: with every SA in a waiting free (each session re-keyed, its
 * previous keys dropped, then deleted), the queue holds capacity +
 * sa_reserve entries, grown from a nominal 8 by doubling, and nothing asks
 * for more: the next insert is refused as a full table.
 */
static void test_bound(void **state)
{
	enum { CAP = 64, RESERVE = 64 };
	struct sg_sess_params p = { .capacity = CAP,
		                    .sa_reserve = RESERVE,
		                    .defer_capacity = 8,
		                    .flags = SG_SESS_P_DEFER_GROW };
	struct sg_sess_table *t = sg_sess_table_create(&p);
	uint64_t ids[CAP], id;
	struct reader r;
	struct sg_sess_stats st;

	(void)state;
	assert_non_null(t);
	for (uint32_t k = 0; k < CAP; k++)
		assert_int_equal(ins(t, k, 1, &ids[k]), 0);
	reader_start(&r, t, 5);
	for (uint32_t k = 0; k < CAP; k++) {
		assert_int_equal(rekey(t, ids[k], k, 2), 0);
		assert_int_equal(sg_sess_retire_prev(t, ids[k]), 0);
	}
	for (uint32_t k = 0; k < CAP; k++)
		assert_int_equal(sg_sess_delete(t, ids[k]), 0);
	st = stats(t);
	assert_int_equal(st.deferred, CAP + CAP);
	assert_int_equal(st.sa_in_use, CAP + CAP);
	assert_int_equal(st.defer_capacity, CAP + RESERVE);
	assert_int_equal(st.reclaim_deferred, CAP + CAP - 8);
	assert_int_equal(st.refused[SG_SESS_REFUSE_DEFER_FULL], 0);
	/* Every SA waits for the reader: what is refused now is a full table. */
	assert_int_equal(ins(t, CAP, 1, &id), -ENOSPC);
	assert_int_equal(stats(t).refused[SG_SESS_REFUSE_FULL], 1);
	assert_int_equal(stats(t).defer_capacity, CAP + RESERVE);
	reader_stop(&r);
	assert_int_equal(sg_sess_reclaim(t, 0), CAP + CAP);
	assert_int_equal(stats(t).sa_in_use, 0);
	assert_int_equal(ins(t, CAP, 1, &id), 0);
	sg_sess_table_destroy(t);
}

/* Without the flag the queue stays a hard bound (test_session.c's defer_full). */
static void test_flag(void **state)
{
	struct sg_sess_params p = { .capacity = 16, .flags = 0x80 };

	(void)state;
	assert_null(sg_sess_table_create(&p));
	assert_int_equal(errno, EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_end_past_nominal),
		cmocka_unit_test(test_bound),
		cmocka_unit_test(test_flag),
	};

	return cmocka_run_group_tests_name("session_defer", tests, NULL, NULL);
}
