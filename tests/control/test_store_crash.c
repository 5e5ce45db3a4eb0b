/* SPDX-License-Identifier: Apache-2.0 */
/*
 * No (key, nonce) pair is used twice across a crash (issue 15). A simulated
 * session in a real table is driven as a worker drives it: bursts of 1..32
 * records sealed with sg_rec_seal_burst() on the SA the lookup gives, records
 * received (the replay window moved as after authentication), and a floor
 * posted (session, tx_seq, rx_top) whenever a burst moved either across a
 * multiple of seq_step (docs/restart.md, §4 of the plan). The posts go
 * through a bounded ring (full: dropped, as the worker never waits) to the
 * "gateway", which puts each into a real LMDB store and commits every few
 * puts. The crash: at many record indexes (every one in a range, and random
 * ones) a child process opens the store as a restarted daemon would (it
 * sees only what was committed), restores with crash semantics into a new
 * table and checks that the next write sequence is above every sequence
 * used before the crash, and that the receive exposure (numbers between the
 * floor and the real top at the crash, which could be replayed once) is
 * within its bound.
 *
 * The documented bound: with L posts of the session lost since its last
 * durable one (dropped by a full ring, or not yet committed at the crash),
 * restore is safe while L * seq_step + B <= seq_margin, B the most records
 * of a session in one burst (the crash may come in the middle of the burst
 * that crosses the next step, before its post); the rx exposure is below
 * (L + 1) * seq_step + B (L * seq_step + B with replay_strict). The worker
 * posts once per burst, so the bound also needs seq_step >= B. Every crash point
 * within the bound must be safe; a configuration beyond it must show an
 * unsafe point (the bound is not vacuous). A clean stop resumes exactly.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "sg_store_sess.h"
#include "tc_tmp.h"

#define WINDOW    128
#define BURST_MAX 32
#define RING_MAX  64

struct sim_conf {
	const char *name;
	uint32_t step, margin;
	bool strict;
	unsigned n_records;
	unsigned ring;         /* posts the ring holds */
	unsigned drain_every;  /* bursts between two drains of the ring */
	unsigned commit_every; /* puts between two commits */
	unsigned range_from;   /* crash at every record index in [from, from + len) */
	unsigned range_len;
	unsigned n_random; /* and at this many random ones */
	/* the configuration goes beyond the bound: expect an unsafe point there, and crash
	 * points right at the bound (as many posts lost as it allows), all safe */
	bool beyond;
};

struct post {
	uint64_t tx, rx;
	uint64_t index; /* posts made before it */
};

struct sim {
	const struct sim_conf *c;
	char db[300];
	struct sg_store_key key;
	struct sg_sess_table *t;
	struct sg_sess_worker *w;
	struct sg_rec_ctx *ctx;
	struct sg_store *st;
	uint64_t id;
	uint64_t x; /* random state */
	/* the ring and the gateway */
	struct post ring[RING_MAX];
	unsigned ring_n;
	uint64_t posts, dropped, puts_open, durable; /* durable: posts covered by a commit */
	uint64_t last_put;                           /* posts covered by the last put */
	/* what the crash points found */
	unsigned checked, unsafe, beyond, max_lost_within;
	uint64_t max_exposure;
};

static uint64_t rnd(struct sim *s)
{
	s->x = s->x * 6364136223846793005ULL + 1442695040888963407ULL;
	return s->x >> 33;
}

static struct sg_sess_table *mk_table(void)
{
	struct sg_sess_params p = {
		.capacity = 64,
		.cid_len = 8,
		.replay_window = WINDOW,
		.flags = SG_SESS_P_LAZY,
	};
	struct sg_sess_table *t = sg_sess_table_create(&p);

	assert_non_null(t);
	return t;
}

static struct sg_store *open_store(const struct sim *s)
{
	struct sg_store_params p = { .path = s->db, .map_size = 16u << 20 };

	return sg_store_open(NULL, &p, &s->key);
}

/* The gateway's put of a floor: the session's record with the post's floors. */
static void put_floor(struct sim *s, uint64_t tx, uint64_t rx)
{
	struct sg_sess_info info;
	struct sg_rec_sa sa;
	struct sg_store_rec rec;

	assert_int_equal(sg_sess_get(s->t, s->id, &info), 0);
	assert_int_equal(sg_sess_get_sa(s->t, s->id, &sa), 0);
	sg_store_rec_from_session(&rec, &info, &sa);
	rec.tx_seq = tx;
	rec.rx_top = rx;
	assert_int_equal(sg_store_put(s->st, (uint32_t)s->id, &rec), 0);
	sg_store_rec_wipe(&rec);
	sg_rec_sa_wipe(&sa, WINDOW);
}

static void commit(struct sim *s)
{
	assert_int_equal(sg_store_commit(s->st), 0);
	s->durable = s->last_put;
	s->puts_open = 0;
}

/* The gateway thread's turn: every post in the ring put, committed every commit_every. */
static void drain(struct sim *s)
{
	for (unsigned i = 0; i < s->ring_n; i++) {
		put_floor(s, s->ring[i].tx, s->ring[i].rx);
		s->last_put = s->ring[i].index + 1;
		if (++s->puts_open >= s->c->commit_every)
			commit(s);
	}
	s->ring_n = 0;
}

/* The worker's post after a burst: into the ring, or dropped when it is full. */
static void post(struct sim *s, uint64_t tx, uint64_t rx)
{
	if (s->ring_n < s->c->ring)
		s->ring[s->ring_n++] = (struct post){ tx, rx, s->posts };
	else
		s->dropped++;
	s->posts++;
}

static struct sg_rec_sa *lookup(struct sim *s)
{
	struct sg_sess_ref ref;

	assert_int_equal(sg_sess_lookup_id_bulk(s->w, &s->id, 1, &ref), 1);
	return ref.sa;
}

/*
 * The restarted daemon, in a child: restore what is durable with crash
 * semantics and compare with what the crashed one had used. Exit 0: safe,
 * 1: a write sequence would be used again, 2: rx exposure over its bound,
 * 3: the session did not come back.
 */
static int restarted(const struct sim *s, uint64_t tx_used, uint64_t rx_real, uint64_t lost)
{
	struct sg_store_restore_params p = {
		.seq_step = s->c->step,
		.seq_margin = s->c->margin,
		.strict = s->c->strict,
		.n_workers = 1,
	};
	struct sg_store_restore_result r;
	struct sg_sess_table *t = mk_table();
	struct sg_store *st = open_store(s);
	struct sg_rec_sa sa;
	uint64_t exposure, bound;

	if (st == NULL || sg_store_restore(st, t, &p, &r) != 0 || r.restored != 1 ||
	    sg_sess_get_sa(t, s->id, &sa) != 0)
		return 3;
	if (sg_rec_sa_tx_seq(&sa) < tx_used)
		return 1;
	exposure = rx_real > sa.rx_top ? rx_real - sa.rx_top : 0;
	bound = (lost + (s->c->strict ? 0 : 1)) * s->c->step + BURST_MAX;
	if (exposure > 0 && exposure >= bound)
		return 2;
	return 0;
}

/* A crash now: fork the restarted daemon and judge its answer. */
static void crash_here(struct sim *s, const struct sg_rec_sa *sa)
{
	uint64_t lost = s->posts - s->durable;
	bool within = lost * s->c->step + BURST_MAX <= s->c->margin;
	pid_t pid;
	int status;

	fflush(stdout);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		alarm(30); /* a hang ends as a failure, never a stuck test */
		/* stdout: nothing, the parent's TAP stream is its own */
		if (freopen("/dev/null", "w", stdout) == NULL)
			_exit(4);
		_exit(restarted(s, sg_rec_sa_tx_seq(sa), sa->rx_top, lost));
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	if (!WIFEXITED(status))
		fail_msg("%s: the restarted child died (status %#x)", s->c->name, status);
	s->checked++;
	if (!within)
		s->beyond++;
	else if (lost > s->max_lost_within)
		s->max_lost_within = (unsigned)lost;
	if (WEXITSTATUS(status) == 3 || WEXITSTATUS(status) == 4)
		fail_msg("%s: restore failed at tx %llu", s->c->name,
		         (unsigned long long)sg_rec_sa_tx_seq(sa));
	if (WEXITSTATUS(status) != 0) {
		s->unsafe++;
		if (within)
			fail_msg("%s: %s at tx %llu rx %llu with %llu posts lost (bound %u)",
			         s->c->name,
			         WEXITSTATUS(status) == 1 ? "nonce reuse" : "rx exposure",
			         (unsigned long long)sg_rec_sa_tx_seq(sa),
			         (unsigned long long)sa->rx_top, (unsigned long long)lost,
			         (s->c->margin - BURST_MAX) / s->c->step);
	}
}

/* Seal one record of 16 bytes with sa, as the worker's burst would. */
static void seal_one(struct sim *s, struct sg_rec_sa *sa)
{
	uint8_t buf[128] = { 0 };
	struct sg_rec_seal_op op = {
		.buf = buf,
		.buf_len = sizeof(buf),
		.pt_off = 32,
		.pt_len = 16,
		.sa = sa,
		.type = SG_DTLS_CT_APPLICATION_DATA,
	};
	uint64_t before = sg_rec_sa_tx_seq(sa);

	assert_int_equal(sg_rec_seal_burst(s->ctx, &op, 1), 1);
	assert_true(op.seq == before);
}

/* Install the session at floors 0 and make it durable, as the gateway does at install. */
static void start(struct sim *s, const struct sim_conf *c, const char *dir)
{
	uint8_t key[16] = { 1, 2, 3 }, iv[4] = { 9, 8, 7, 6 };
	struct sg_rec_sa_params sp = {
		.aead = SG_AEAD_AES_128_GCM,
		.epoch = 1,
		.rx_key = key,
		.tx_key = key,
		.rx_iv = iv,
		.tx_iv = iv,
		.tx_seq = 1,
		.rx_seq = 1,
	};
	struct sg_rec_sa sa;
	struct sg_sess_new n = { .sa = &sa, .flags = SG_SESS_F_TUPLE, .suite = 0x00A8 };

	memset(s, 0, sizeof(*s));
	s->c = c;
	s->x = 0x5eed + c->step;
	snprintf(s->db, sizeof(s->db), "%s/%s", dir, c->name);
	memset(s->key.key, 0x42, sizeof(s->key.key));
	assert_int_equal(sg_store_key_set_id(&s->key), 0);
	s->t = mk_table();
	s->w = sg_sess_worker_create(s->t, 0);
	s->ctx = sg_rec_ctx_create(&(struct sg_rec_ctx_conf){ .window_bits = WINDOW });
	s->st = open_store(s);
	assert_non_null(s->w);
	assert_non_null(s->ctx);
	assert_non_null(s->st);
	assert_int_equal(sg_rec_sa_init(&sa, WINDOW, &sp), 0);
	sg_sess_tuple_v4(&n.tuple, 0xc6120001u, 5684, 0xc6130001u, 40000);
	assert_int_equal(sg_sess_insert(s->t, &n, &s->id, NULL), 0);
	sg_rec_sa_wipe(&sa, WINDOW);
	put_floor(s, 1, 1);
	commit(s);
	sg_sess_worker_online(s->w);
}

static bool crash_point(const struct sim_conf *c, const uint8_t *random_points, unsigned rec)
{
	return (rec >= c->range_from && rec < c->range_from + c->range_len) ||
	       random_points[rec / 8] & (1u << (rec % 8));
}

/* One burst: seal k records (crashing where asked), receive some, post when a step was crossed. */
static void burst(struct sim *s, const uint8_t *points, unsigned *rec)
{
	struct sg_rec_sa *sa = lookup(s);
	uint64_t tx0 = sg_rec_sa_tx_seq(sa), rx0 = sa->rx_top;
	/* at most BURST_MAX sealed and 24 sequence numbers received: a burst crosses at most
	 * one multiple of a step of 32 or more (the bound needs seq_step >= the burst) */
	unsigned k = 1 + (unsigned)(rnd(s) % BURST_MAX), j = (unsigned)(rnd(s) % 13);
	uint64_t step = s->c->step;

	for (unsigned i = 0; i < k && *rec < s->c->n_records; i++, (*rec)++) {
		if (crash_point(s->c, points, *rec))
			crash_here(s, sa);
		seal_one(s, sa);
	}
	/* received and authenticated: in order, now and then a gap */
	for (unsigned i = 0; i < j; i++)
		sg_rec_replay_update(sa, WINDOW, sa->rx_top + (rnd(s) % 8 == 0 ? 1 : 0));
	if (sg_rec_sa_tx_seq(sa) / step != tx0 / step || sa->rx_top / step != rx0 / step)
		post(s, sg_rec_sa_tx_seq(sa), sa->rx_top);
	sg_sess_quiescent(s->w);
}

static void run(const struct sim_conf *c, const char *dir)
{
	struct sim *s = calloc(1, sizeof(*s));
	uint8_t *points = calloc(c->n_records / 8 + 1, 1);
	unsigned rec = 0, bursts = 0;

	assert_non_null(s);
	assert_non_null(points);
	start(s, c, dir);
	for (unsigned i = 0; i < c->n_random; i++) {
		unsigned r = (unsigned)(rnd(s) % c->n_records);

		points[r / 8] |= (uint8_t)(1u << (r % 8));
	}
	while (rec < c->n_records) {
		burst(s, points, &rec);
		if (++bursts % c->drain_every == 0)
			drain(s);
	}
	print_message("# %s: %u records, %llu posts (%llu dropped), %u crash points, %u beyond "
	              "the bound (%u unsafe), most posts lost within it %u of %u\n",
	              c->name, c->n_records, (unsigned long long)s->posts,
	              (unsigned long long)s->dropped, s->checked, s->beyond, s->unsafe,
	              s->max_lost_within, (c->margin - BURST_MAX) / c->step);
	/* unsafe points within the bound failed the test already */
	assert_true(s->checked >= c->range_len);
	assert_true(s->max_lost_within >= 1);
	if (c->beyond) {
		assert_true(s->unsafe > 0);
		assert_int_equal(s->max_lost_within, (c->margin - BURST_MAX) / c->step);
	} else {
		assert_int_equal(s->beyond, 0);
	}
	sg_sess_worker_offline(s->w);
	sg_store_close(s->st);
	sg_sess_worker_destroy(s->w);
	sg_sess_table_destroy(s->t);
	sg_rec_ctx_free(s->ctx);
	sg_store_key_wipe(&s->key);
	free(points);
	free(s);
}

static const struct sim_conf confs[] = {
	/* every post through, committed every second put */
	{ "prompt", 32, 64, false, 6000, 8, 1, 2, 1000, 160, 40, false },
	/* a small ring drained every 3 bursts, commits every 2 puts: drops and lag */
	{ "lagging", 64, 512, false, 20000, 1, 3, 2, 5000, 160, 40, false },
	{ "lagging_strict", 64, 512, true, 20000, 1, 3, 2, 5000, 160, 40, false },
	/* the defaults: step 1024, margin 65536 */
	{ "defaults", 1024, 65536, false, 120000, 4, 20, 4, 60000, 160, 40, false },
	/* beyond: a ring of one drained every 6 bursts and a margin of two steps */
	{ "beyond", 32, 64, false, 8000, 1, 6, 3, 2000, 300, 60, true },
	/* beyond, with a margin of seven steps: points at the bound safe, past it not */
	{ "at_bound", 32, 7 * 32, false, 8000, 1, 9, 4, 2000, 300, 60, true },
};

static void test_crash_points(void **state)
{
	const char *dir = *state;

	for (size_t i = 0; i < SG_ARRAY_SIZE(confs); i++)
		run(&confs[i], dir);
}

/* A clean stop: the exact floors saved and restored; the next write is exactly the next. */
static void test_clean_stop(void **state)
{
	const struct sim_conf c = { "clean", 64, 65536, false, 5000, 4, 1, 1000000, 0, 0, 0 };
	struct sim *s = calloc(1, sizeof(*s));
	uint8_t points[5000 / 8 + 1] = { 0 };
	unsigned rec = 0;
	struct sg_store_restore_params p = { .seq_step = 64, .seq_margin = 65536, .exact = true };
	struct sg_store_restore_result r;
	struct sg_sess_table *t;
	struct sg_rec_sa sa, back;

	assert_non_null(s);
	start(s, &c, *state);
	while (rec < c.n_records)
		burst(s, points, &rec);
	drain(s);
	/* the workers stopped; every session put with its exact state; then commit */
	sg_sess_worker_offline(s->w);
	assert_int_equal(sg_sess_get_sa(s->t, s->id, &sa), 0);
	put_floor(s, sg_rec_sa_tx_seq(&sa), sa.rx_top);
	assert_int_equal(sg_store_meta_put(s->st, "clean", NULL, 0), 0);
	commit(s);
	sg_store_close(s->st);

	t = mk_table();
	s->st = open_store(s);
	assert_int_equal(sg_store_meta_get(s->st, "clean", NULL, 0), 0);
	assert_int_equal(sg_store_restore(s->st, t, &p, &r), 0);
	assert_int_equal(r.restored, 1);
	assert_int_equal(sg_sess_get_sa(t, s->id, &back), 0);
	assert_true(sg_rec_sa_tx_seq(&back) == sg_rec_sa_tx_seq(&sa));
	assert_true(sg_rec_sa_tx_seq(&back) == c.n_records + 1);
	assert_true(back.rx_top == sa.rx_top);
	assert_int_equal(sg_rec_replay_check(&back, WINDOW, sa.rx_top - 1), SG_REC_REPLAYED);
	assert_int_equal(sg_rec_replay_check(&back, WINDOW, sa.rx_top), SG_REC_OK);
	sg_rec_sa_wipe(&sa, WINDOW);
	sg_rec_sa_wipe(&back, WINDOW);
	sg_store_close(s->st);
	sg_sess_table_destroy(t);
	sg_sess_worker_destroy(s->w);
	sg_sess_table_destroy(s->t);
	sg_rec_ctx_free(s->ctx);
	free(s);
}

static int setup(void **state)
{
	static char dir[256];

	if (tc_tmpdir(dir, sizeof(dir), "store_crash") != 0)
		return -1;
	*state = dir;
	return 0;
}

static int teardown(void **state)
{
	return tc_rmtree(*state);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_crash_points),
		cmocka_unit_test(test_clean_stop),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
