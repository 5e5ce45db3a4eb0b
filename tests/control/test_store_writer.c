/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The session store's writer thread (control/store/store_writer.c) with the
 * real LMDB backend: the order of one slot's puts and deletes across
 * batches; flush; the queue bound and its counted drops (a dropped put
 * deletes its slot); a full ring; close flushes; a child killed with batches queued but
 * not committed loses only those; the lag and pending counters; the spawn
 * hook and the thread's name. The test thread is the gateway thread; a
 * gate in front of the backend's commit holds the writer where a test
 * needs it (the writes themselves are LMDB's). Also in the TSan build.
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "sg_store.h"
#include "tc_tmp.h"

#define SLOTS_MAX 512

struct fixture {
	char dir[256];
	char db[300];
	struct sg_store_key key;
};

/* The gate: while closed, the writer waits in front of the backend's commit. */
static pthread_mutex_t gate_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t gate_cv = PTHREAD_COND_INITIALIZER;
static bool gate_closed;
static unsigned gate_waiting; /* commits waiting at the gate */
static char spawn_name[32];   /* the name the spawn hook was given */

static int gated_commit(void *be)
{
	pthread_mutex_lock(&gate_mu);
	gate_waiting++;
	pthread_cond_broadcast(&gate_cv);
	while (gate_closed)
		pthread_cond_wait(&gate_cv, &gate_mu);
	gate_waiting--;
	pthread_mutex_unlock(&gate_mu);
	return sg_store_lmdb_ops.commit(be);
}

static struct sg_store_ops gated_ops;

static void gate_set(bool closed)
{
	pthread_mutex_lock(&gate_mu);
	gate_closed = closed;
	pthread_cond_broadcast(&gate_cv);
	pthread_mutex_unlock(&gate_mu);
}

/* Wait until the writer sits at the closed gate. */
static void gate_wait_writer(void)
{
	pthread_mutex_lock(&gate_mu);
	while (gate_waiting == 0)
		pthread_cond_wait(&gate_cv, &gate_mu);
	pthread_mutex_unlock(&gate_mu);
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	if (f == NULL || tc_tmpdir(f->dir, sizeof(f->dir), "storew") != 0)
		return -1;
	snprintf(f->db, sizeof(f->db), "%s/sessions", f->dir);
	memset(f->key.key, 0x3c, sizeof(f->key.key));
	if (sg_store_key_set_id(&f->key) != 0)
		return -1;
	gated_ops = sg_store_lmdb_ops;
	gated_ops.commit = gated_commit;
	gate_set(false);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(tc_rmtree(f->dir), 0);
	sg_store_key_wipe(&f->key);
	free(f);
	return 0;
}

static struct sg_store *open_store(struct fixture *f)
{
	struct sg_store_params p = { .path = f->db, .map_size = 64u << 20 };
	struct sg_store *st = sg_store_open(&gated_ops, &p, &f->key);

	assert_non_null(st);
	return st;
}

/* A record whose gen tells which write it was. */
static void make_rec(struct sg_store_rec *r, uint32_t gen)
{
	memset(r, 0, sizeof(*r));
	r->gen = gen;
	r->backend = 1;
	r->identity_len = 16;
	memset(r->identity, 'd', 16);
	r->expires = 2000000000u;
	r->tx_seq = gen;
	r->rx_top = gen;
	r->suite = 0xC0A8;
	r->epoch = 1;
	r->max_plaintext = 1024;
	r->aead = 1; /* SG_AEAD_AES_128_CCM_8 */
	r->flags = SG_STORE_F_TUPLE;
	r->tuple.laddr[10] = r->tuple.laddr[11] = 0xff;
	r->tuple.laddr[12] = 198;
	r->tuple.laddr[13] = 18;
	r->tuple.laddr[15] = 1;
	memcpy(r->tuple.paddr, r->tuple.laddr, 16);
	r->tuple.paddr[15] = 2;
	r->tuple.lport = 0x3416;
	r->tuple.pport = (uint16_t)gen;
	memset(r->rx_key, 0x11, 16);
	memset(r->tx_key, 0x22, 16);
	memset(r->rx_iv, 0x33, 4);
	memset(r->tx_iv, 0x44, 4);
}

static void put(struct sg_store *st, uint32_t slot, uint32_t gen)
{
	struct sg_store_rec r;

	make_rec(&r, gen);
	assert_int_equal(sg_store_put(st, slot, &r), 0);
	sg_store_rec_wipe(&r);
}

/* What the store holds durably: gen by slot (0: none). */
struct durable {
	uint32_t gen[SLOTS_MAX];
	unsigned n;
};

static int collect(uint32_t slot, const struct sg_store_rec *rec, void *arg)
{
	struct durable *d = arg;

	assert_true(slot < SLOTS_MAX);
	d->gen[slot] = rec->gen;
	d->n++;
	return 0;
}

static void durable_of(struct fixture *f, struct durable *d)
{
	struct sg_store *st = open_store(f);
	struct sg_store_stats s;

	memset(d, 0, sizeof(*d));
	assert_int_equal(sg_store_iterate(st, 0, collect, d), 0);
	sg_store_stats(st, &s);
	assert_int_equal(s.refused[SG_STORE_BAD_BODY], 0);
	sg_store_close(st);
}

static int spawn_hook(pthread_t *thread, const char *name, void *(*fn)(void *), void *arg,
                      void *spawn_arg)
{
	int rc;

	snprintf(spawn_name, sizeof(spawn_name), "%s", name);
	(*(int *)spawn_arg)++;
	rc = pthread_create(thread, NULL, fn, arg);
	if (rc == 0)
		pthread_setname_np(*thread, name);
	return -rc;
}

/*
 * One slot put, deleted, put again in batches of their own and in one
 * batch: what is durable is the last write of each slot. The start runs
 * through the spawn hook and names the thread.
 */
static void test_order(void **state)
{
	struct fixture *f = *state;
	struct sg_store *st = open_store(f);
	int spawned = 0;
	struct sg_store_writer_params wp = { .spawn = spawn_hook, .spawn_arg = &spawned };
	struct sg_store_stats s;
	struct durable d;

	put(st, 1, 100); /* before the start: committed by it */
	assert_int_equal(sg_store_writer_start(st, &wp), 0);
	assert_int_equal(sg_store_writer_start(st, &wp), -EALREADY);
	assert_int_equal(spawned, 1);
	assert_string_equal(spawn_name, "sg-store");
	for (uint32_t round = 0; round < 50; round++) {
		/* slot 2: put, deleted in the next batch, put again in the one after */
		put(st, 2, 1000 + round);
		assert_int_equal(sg_store_commit(st), 0);
		assert_int_equal(sg_store_del(st, 2), 0);
		assert_int_equal(sg_store_commit(st), 0);
		put(st, 2, 2000 + round);
		/* slot 3: deleted then put, and slot 4 put then deleted, in one batch */
		assert_int_equal(sg_store_del(st, 3), 0);
		put(st, 3, 3000 + round);
		put(st, 4, 4000 + round);
		assert_int_equal(sg_store_del(st, 4), 0);
		assert_int_equal(sg_store_commit(st), 0);
	}
	assert_int_equal(sg_store_flush(st, 10000), 0);
	sg_store_stats(st, &s);
	assert_int_equal(s.writer, 1);
	assert_int_equal(s.be.pending, 0);
	assert_int_equal(s.be.records, 3);
	assert_int_equal(s.be.dropped, 0);
	assert_int_equal(s.lag_ms, 0);
	assert_int_equal(s.queued_bytes, 0);
	assert_true(s.be.commits >= 2 && s.be.last_commit > 0 && s.be.size > 0);
	sg_store_close(st);
	durable_of(f, &d);
	assert_int_equal(d.n, 3);
	assert_int_equal(d.gen[1], 100);
	assert_int_equal(d.gen[2], 2049);
	assert_int_equal(d.gen[3], 3049);
}

/* With the writer running, reads are refused: they belong before the start. */
static void test_reads_busy(void **state)
{
	struct fixture *f = *state;
	struct sg_store *st = open_store(f);
	struct durable d = { 0 };
	uint8_t v[4] = { 1, 2, 3, 4 }, b[8];

	assert_int_equal(sg_store_meta_put(st, "floors", v, sizeof(v)), 0);
	assert_int_equal(sg_store_writer_start(st, NULL), 0);
	assert_int_equal(sg_store_iterate(st, 0, collect, &d), -EBUSY);
	assert_int_equal(sg_store_meta_get(st, "floors", b, sizeof(b)), -EBUSY);
	/* meta writes go through the queue like the sessions */
	assert_int_equal(sg_store_meta_del(st, "floors"), 0);
	assert_int_equal(sg_store_meta_put(st, "clean", v, 2), 0);
	assert_int_equal(sg_store_flush(st, 10000), 0);
	sg_store_close(st);
	st = open_store(f);
	assert_int_equal(sg_store_meta_get(st, "floors", b, sizeof(b)), -ENOENT);
	assert_int_equal(sg_store_meta_get(st, "clean", b, sizeof(b)), 2);
	assert_memory_equal(b, v, 2);
	sg_store_close(st);
}

/*
 * The writer held at the gate: batches queue, pending and the lag grow,
 * flush times out; once the bound is reached a put is refused and counted
 * and its slot deleted, deletes still go in. Opened, everything queued
 * becomes durable.
 */
static void test_bound(void **state)
{
	struct fixture *f = *state;
	struct sg_store *st = open_store(f);
	struct sg_store_writer_params wp = { .queue_max = 4096 };
	struct timespec nap = { .tv_nsec = 30 * 1000000L };
	struct sg_store_rec r;
	struct sg_store_stats s;
	struct durable d;
	uint32_t slot, kept = 0;

	for (slot = 100; slot < 110; slot++)
		put(st, slot, slot); /* durable before the start */
	assert_int_equal(sg_store_writer_start(st, &wp), 0);
	gate_set(true);
	put(st, 1, 1);
	assert_int_equal(sg_store_commit(st), 0);
	gate_wait_writer(); /* the writer holds that batch at the gate */
	nanosleep(&nap, NULL);
	sg_store_stats(st, &s);
	assert_int_equal(s.be.pending, 1);
	assert_true(s.lag_ms >= 25);
	assert_int_equal(sg_store_flush(st, 20), -ETIMEDOUT);
	/* puts of new slots until the bound refuses one */
	make_rec(&r, 7);
	for (slot = 2; slot < SLOTS_MAX; slot++) {
		int rc = sg_store_put(st, slot, &r);

		if (rc == -ENOBUFS)
			break;
		assert_int_equal(rc, 0);
		kept = slot;
		if (slot % 4 == 0)
			assert_int_equal(sg_store_commit(st), 0);
	}
	assert_true(slot < SLOTS_MAX && kept >= 2);
	/* over the bound: a stored slot's put is refused and the slot deleted */
	assert_int_equal(sg_store_put(st, 100, &r), -ENOBUFS);
	/* deletes go in (the reserve) */
	assert_int_equal(sg_store_del(st, 101), 0);
	sg_store_stats(st, &s);
	assert_int_equal(s.queue_dropped, 2);
	assert_int_equal(s.be.dropped, 2);
	assert_true(s.queued_bytes > 4096 && s.queued_bytes <= 4096 + 512);
	gate_set(false);
	assert_int_equal(sg_store_flush(st, 10000), 0);
	sg_store_stats(st, &s);
	assert_int_equal(s.be.pending, 0);
	assert_int_equal(s.queued_bytes, 0);
	assert_int_equal(s.be.dropped, 2);
	sg_store_close(st);
	sg_store_rec_wipe(&r);
	durable_of(f, &d);
	assert_int_equal(d.gen[1], 1);
	for (uint32_t i = 2; i <= kept; i++)
		assert_int_equal(d.gen[i], 7);
	assert_int_equal(d.gen[kept + 1], 0);
	assert_int_equal(d.gen[100], 0); /* its refused put took the stored copy away */
	assert_int_equal(d.gen[101], 0);
	for (slot = 102; slot < 110; slot++)
		assert_int_equal(d.gen[slot], slot);
	assert_int_equal(d.n, 1 + (kept - 1) + 8);
}

/*
 * More batches than the ring holds (1,024) while the writer is held: the
 * commits past it keep the batch open (nothing lost, nothing waits); once
 * the writer goes on, every slot's last write is durable.
 */
static void test_ring_full(void **state)
{
	struct fixture *f = *state;
	struct sg_store *st = open_store(f);
	struct sg_store_stats s;
	struct durable d;
	const uint32_t n = 1500;

	assert_int_equal(sg_store_writer_start(st, NULL), 0);
	gate_set(true);
	for (uint32_t i = 0; i < n; i++) {
		put(st, i % 500, i + 1);
		assert_int_equal(sg_store_commit(st), 0);
	}
	gate_wait_writer();
	sg_store_stats(st, &s);
	assert_int_equal(s.be.pending, n);
	assert_int_equal(s.be.dropped, 0);
	gate_set(false);
	assert_int_equal(sg_store_flush(st, 10000), 0);
	sg_store_stats(st, &s);
	assert_int_equal(s.be.pending, 0);
	assert_int_equal(s.be.records, 500);
	sg_store_close(st);
	durable_of(f, &d);
	assert_int_equal(d.n, 500);
	for (uint32_t slot = 0; slot < 500; slot++)
		assert_int_equal(d.gen[slot], n - 500 + slot + 1);
}

/* Close queues what is open, waits for the writer's commits and joins it. */
static void test_close_flushes(void **state)
{
	struct fixture *f = *state;
	struct sg_store *st = open_store(f);
	struct durable d;

	assert_int_equal(sg_store_writer_start(st, NULL), 0);
	for (uint32_t slot = 0; slot < 300; slot++) {
		put(st, slot, slot + 1);
		if (slot % 7 == 6)
			assert_int_equal(sg_store_commit(st), 0);
	}
	assert_int_equal(sg_store_del(st, 5), 0); /* left in the open batch */
	sg_store_close(st);
	durable_of(f, &d);
	assert_int_equal(d.n, 299);
	assert_int_equal(d.gen[5], 0);
	assert_int_equal(d.gen[299], 300);
}

/*
 * A crash: the child's first batches are flushed; the next ones are queued
 * while the writer is held before their commit, and the child is killed.
 * Only those are lost, nothing else is damaged.
 */
static void test_killed(void **state)
{
	struct fixture *f = *state;
	struct durable d;
	int status, fd[2];
	char c;
	pid_t pid;

	assert_int_equal(pipe(fd), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct sg_store *st = open_store(f);

		if (sg_store_writer_start(st, NULL) != 0)
			_exit(1);
		for (uint32_t slot = 0; slot < 100; slot++)
			put(st, slot, slot + 1);
		if (sg_store_commit(st) != 0 || sg_store_flush(st, 10000) != 0)
			_exit(1);
		gate_set(true);
		for (uint32_t slot = 100; slot < 200; slot++) {
			put(st, slot, slot + 1);
			if (slot % 10 == 9 && sg_store_commit(st) != 0)
				_exit(1);
		}
		if (sg_store_del(st, 3) != 0 || sg_store_commit(st) != 0)
			_exit(1);
		gate_wait_writer();
		if (write(fd[1], "k", 1) != 1)
			_exit(1);
		raise(SIGKILL);
		_exit(1);
	}
	close(fd[1]);
	assert_int_equal(read(fd[0], &c, 1), 1);
	close(fd[0]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
	durable_of(f, &d);
	assert_int_equal(d.n, 100);
	for (uint32_t slot = 0; slot < 100; slot++)
		assert_int_equal(d.gen[slot], slot + 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_order, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reads_busy, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bound, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ring_full, setup, teardown),
		cmocka_unit_test_setup_teardown(test_close_flushes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_killed, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
