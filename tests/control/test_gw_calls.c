/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The calls from the management thread into the gateway thread
 * (control/mgmt/gw_calls.h) with real threads: this test's main thread is
 * the poller (the gateway thread), callers run on others. A call's function
 * runs on the poller only, one step per poll until it says it is done,
 * while its caller waits; its results are the caller's once the call
 * returns; callers take turns; the eventfd says when a call waits; a call
 * made on the poller runs inline; once the poller closes, a caller waiting
 * and every later one get -ESHUTDOWN at once. Suites unit and threads
 * (clean under ThreadSanitizer).
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "gw_calls.h"

#define CALLERS 4
#define CALLS   50 /* per caller */

/* One call's argument: how many steps it wants, and what the poller did. */
struct job {
	unsigned steps;   /* MGMT_CALL_AGAIN until this many ran */
	unsigned ran;     /* written by the function (the poller) */
	pthread_t ran_on; /* the thread of its last step */
	uint64_t payload; /* written by the caller before, read by the function */
	uint64_t result;  /* payload * 2, written by the function */
};

static int job_step(void *arg)
{
	struct job *j = arg;

	j->ran++;
	j->ran_on = pthread_self();
	j->result = j->payload * 2;
	return j->ran < j->steps ? MGMT_CALL_AGAIN : MGMT_CALL_DONE;
}

static struct mgmt_calls C;

static int setup(void **state)
{
	(void)state;
	return mgmt_calls_init(&C) == 0 ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	mgmt_calls_fini(&C);
	return 0;
}

static int fd_readable(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };

	return poll(&p, 1, 0) == 1 && (p.revents & POLLIN);
}

/* A caller thread: CALLS calls of 1..3 steps, each checked once it returns. */
struct caller {
	pthread_t tid;
	unsigned id;
	unsigned ok;       /* calls that came back right */
	int rc;            /* the last call's return */
	unsigned started;  /* a call was made (atomic) */
	unsigned finished; /* it made its last call (atomic) */
};

static void *caller_main(void *arg)
{
	struct caller *c = arg;

	for (unsigned i = 0; i < CALLS; i++) {
		struct job j = { .steps = 1 + (i + c->id) % 3, .payload = c->id * 1000u + i };

		__atomic_store_n(&c->started, 1, __ATOMIC_RELAXED);
		c->rc = mgmt_call(&C, job_step, &j);
		if (c->rc != 0)
			break;
		c->ok += j.ran == j.steps && j.result == j.payload * 2 &&
		         !pthread_equal(j.ran_on, pthread_self());
	}
	__atomic_store_n(&c->finished, 1, __ATOMIC_RELEASE);
	return NULL;
}

/* Poll until every caller is done, then join them; count the polls that ran a step. */
static unsigned poll_until_done(struct caller *cs, unsigned n)
{
	unsigned steps = 0, done = 0;

	while (done < n) {
		steps += mgmt_calls_poll(&C);
		done = 0;
		for (unsigned i = 0; i < n; i++)
			done += __atomic_load_n(&cs[i].finished, __ATOMIC_ACQUIRE);
	}
	for (unsigned i = 0; i < n; i++)
		assert_int_equal(pthread_join(cs[i].tid, NULL), 0);
	return steps;
}

static void test_inline_on_the_poller(void **state)
{
	struct job j = { .steps = 5, .payload = 21 };

	(void)state;
	assert_int_equal(mgmt_call(&C, job_step, &j), 0);
	assert_int_equal(j.ran, 5);
	assert_true(pthread_equal(j.ran_on, pthread_self()));
	assert_int_equal(j.result, 42);
	assert_false(fd_readable(C.fd));
	assert_int_equal(mgmt_calls_poll(&C), 0);
}

/* Callers on other threads: every step on the poller, one per poll, in turns. */
static void test_callers_take_turns(void **state)
{
	struct caller cs[CALLERS];
	unsigned want = 0, steps;

	(void)state;
	assert_false(fd_readable(C.fd));
	memset(cs, 0, sizeof(cs));
	for (unsigned i = 0; i < CALLERS; i++) {
		cs[i].id = i + 1;
		for (unsigned k = 0; k < CALLS; k++)
			want += 1 + (k + cs[i].id) % 3;
		assert_int_equal(pthread_create(&cs[i].tid, NULL, caller_main, &cs[i]), 0);
	}
	/* The first call shows on the eventfd before anyone polls. */
	while (__atomic_load_n(&cs[0].started, __ATOMIC_RELAXED) == 0 || !fd_readable(C.fd))
		sched_yield();
	steps = poll_until_done(cs, CALLERS);
	assert_int_equal(steps, want);
	for (unsigned i = 0; i < CALLERS; i++) {
		assert_int_equal(cs[i].rc, 0);
		assert_int_equal(cs[i].ok, CALLS);
	}
	assert_false(fd_readable(C.fd));
}

/* A call half done, then the poller closes: its caller and later ones are told. */
static void test_close(void **state)
{
	struct caller c = { .id = 7 }, later = { .id = 8 };
	struct job j = { .steps = 1, .payload = 1 };

	(void)state;
	assert_int_equal(pthread_create(&c.tid, NULL, caller_main, &c), 0);
	/* One step of its first call (1 + 7 % 3 = 2 steps), then no more answers. */
	while (mgmt_calls_poll(&C) == 0)
		sched_yield();
	mgmt_calls_close(&C);
	assert_int_equal(pthread_join(c.tid, NULL), 0);
	assert_int_equal(c.rc, -ESHUTDOWN);
	assert_int_equal(c.ok, 0);
	assert_int_equal(mgmt_calls_poll(&C), 0);
	/* From another thread a call is refused at once; on the poller it still runs inline. */
	assert_int_equal(pthread_create(&later.tid, NULL, caller_main, &later), 0);
	assert_int_equal(pthread_join(later.tid, NULL), 0);
	assert_int_equal(later.rc, -ESHUTDOWN);
	assert_int_equal(mgmt_call(&C, job_step, &j), 0);
	assert_int_equal(j.ran, 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_inline_on_the_poller),
		cmocka_unit_test(test_callers_take_turns),
		cmocka_unit_test(test_close),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
