/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The owner queue (sg_ctl.h, docs/control.md "Threads") with real threads:
 * the control server on one, the owner polling on another, clients on
 * more. Commands marked SG_CTL_ON_OWNER run on the owner's thread, the
 * others on the server's; each client's answers come back in the order it
 * asked, pipelined or not; a client that goes away while its command waits
 * still has it run, and nobody gets its answer; a full queue answers
 * `overloaded` at once; the server stopping with commands queued drops
 * them unrun, and a flush waits for the one in flight. Without a queue
 * every command runs on the server's thread, as before. Suites unit and
 * threads (clean under ThreadSanitizer).
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
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

#include <stormgate/time.h>

#include "sg_ctl.h"
#include "sg_ctl_client.h"
#include "tc_tmp.h"

/* Which thread runs a handler: each test thread names itself. */
static _Thread_local const char *role = "main";

/* What the handlers and on_close saw; shared by the threads. */
struct seen {
	pthread_mutex_t lock;
	unsigned closed;       /* on_close calls */
	uint64_t closed_id[8]; /* ... their client ids */
	unsigned counted;      /* "count" commands run */
	unsigned blocked;      /* "block" commands entered */
	int release;           /* lets "block" return */
};

static struct seen seen = { .lock = PTHREAD_MUTEX_INITIALIZER };

static unsigned seen_get(const unsigned *field)
{
	unsigned v;

	pthread_mutex_lock(&seen.lock);
	v = *field;
	pthread_mutex_unlock(&seen.lock);
	return v;
}

static void seen_add(unsigned *field)
{
	pthread_mutex_lock(&seen.lock);
	(*field)++;
	pthread_mutex_unlock(&seen.lock);
}

static void seen_reset(void)
{
	pthread_mutex_lock(&seen.lock);
	seen.closed = seen.counted = seen.blocked = 0;
	seen.release = 0;
	pthread_mutex_unlock(&seen.lock);
}

static void release_blocked(void)
{
	pthread_mutex_lock(&seen.lock);
	seen.release = 1;
	pthread_mutex_unlock(&seen.lock);
}

/* The servers below get a pointer to their own pointer as ctx. */
static json_t *cmd_where(void *ctx, json_t *args, struct sg_ctl_error *err)
{
	struct sg_ctl_server **srv = ctx;

	(void)err;
	return json_pack("{s:s, s:O, s:I}", "thread", role, "n",
	                 json_object_get(args, "n") ? json_object_get(args, "n") : json_null(),
	                 "client", (json_int_t)sg_ctl_server_client(*srv));
}

static json_t *cmd_count(void *ctx, json_t *args, struct sg_ctl_error *err)
{
	(void)ctx;
	(void)args;
	(void)err;
	seen_add(&seen.counted);
	return json_pack("{s:s}", "thread", role);
}

/* Holds the owner's thread until release_blocked(): a slow command. */
static json_t *cmd_block(void *ctx, json_t *args, struct sg_ctl_error *err)
{
	(void)ctx;
	(void)args;
	(void)err;
	seen_add(&seen.blocked);
	pthread_mutex_lock(&seen.lock);
	while (!seen.release) {
		pthread_mutex_unlock(&seen.lock);
		usleep(1000);
		pthread_mutex_lock(&seen.lock);
	}
	pthread_mutex_unlock(&seen.lock);
	return json_pack("{s:s}", "thread", role);
}

static json_t *cmd_fails(void *ctx, json_t *args, struct sg_ctl_error *err)
{
	(void)ctx;
	(void)args;
	return sg_ctl_fail(err, SG_CTL_ENOTFOUND, "no such %s", "thing");
}

static const struct sg_ctl_cmd cmds[] = {
	{ "where", "the thread running it", cmd_where },
	{ "owner.where", "the same, on the owner's thread", cmd_where, SG_CTL_ON_OWNER },
	{ "count", "counts, on the owner's thread", cmd_count, SG_CTL_ON_OWNER },
	{ "block", "waits for the test, on the owner's thread", cmd_block, SG_CTL_ON_OWNER },
	{ "owner.fails", "an error, on the owner's thread", cmd_fails, SG_CTL_ON_OWNER },
};

static void on_close(void *ctx, uint64_t client)
{
	(void)ctx;
	pthread_mutex_lock(&seen.lock);
	seen.closed_id[seen.closed++ % 8] = client;
	pthread_mutex_unlock(&seen.lock);
}

/* ---- the threads ---- */

enum srv_end {
	SRV_RUN = 0, /* keep serving */
	SRV_DESTROY, /* destroy and leave */
	SRV_FLUSH,   /* flush (up to 5 s), destroy, leave */
};

struct fixture {
	char dir[64], path[96];
	struct sg_ctl_server *srv;
	struct sg_ctl_owner *ow;
	pthread_t srv_thread, owner_thread;
	int srv_running, owner_running;
	int srv_end;        /* enum srv_end; atomic */
	int owner_stop;     /* atomic */
	unsigned owner_max; /* commands per sg_ctl_owner_poll() */
};

static void *server_main(void *arg)
{
	struct fixture *f = arg;
	int end;

	role = "server";
	while ((end = __atomic_load_n(&f->srv_end, __ATOMIC_ACQUIRE)) == SRV_RUN)
		sg_ctl_server_run(f->srv, 5);
	if (end == SRV_FLUSH)
		sg_ctl_server_flush(f->srv, 5000);
	sg_ctl_server_destroy(f->srv);
	return NULL;
}

/* The owner's loop as the daemon's would run it: sleep on the fd, poll a few. */
static void *owner_main(void *arg)
{
	struct fixture *f = arg;

	role = "owner";
	while (!__atomic_load_n(&f->owner_stop, __ATOMIC_ACQUIRE)) {
		struct pollfd pfd = { .fd = sg_ctl_owner_fd(f->ow), .events = POLLIN };

		(void)poll(&pfd, 1, 5);
		sg_ctl_owner_poll(f->ow, f->owner_max);
	}
	return NULL;
}

static int make_server(struct fixture *f, unsigned depth)
{
	struct sg_ctl_server_cfg cfg = {
		.path = f->path,
		.mode = 0600,
		.max_clients = 16,
		.max_request = 4096,
		.idle_timeout_ms = 0,
		.cmds = cmds,
		.n_cmds = sizeof(cmds) / sizeof(cmds[0]),
		.ctx = &f->srv,
		.on_close = on_close,
	};

	if (depth > 0) {
		f->ow = sg_ctl_owner_create(depth);
		if (f->ow == NULL)
			return -1;
	}
	cfg.owner = f->ow;
	f->srv = sg_ctl_server_create(&cfg);
	return f->srv != NULL ? 0 : -1;
}

static void start_server(struct fixture *f)
{
	assert_int_equal(pthread_create(&f->srv_thread, NULL, server_main, f), 0);
	f->srv_running = 1;
}

static void start_owner(struct fixture *f)
{
	assert_int_equal(pthread_create(&f->owner_thread, NULL, owner_main, f), 0);
	f->owner_running = 1;
}

static void stop_server(struct fixture *f, enum srv_end how)
{
	if (!f->srv_running)
		return;
	__atomic_store_n(&f->srv_end, how, __ATOMIC_RELEASE);
	pthread_join(f->srv_thread, NULL);
	f->srv_running = 0;
	f->srv = NULL;
}

static void stop_owner(struct fixture *f)
{
	if (!f->owner_running)
		return;
	__atomic_store_n(&f->owner_stop, 1, __ATOMIC_RELEASE);
	pthread_join(f->owner_thread, NULL);
	f->owner_running = 0;
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	if (f == NULL || tc_tmpdir(f->dir, sizeof(f->dir), "owner") != 0)
		return -1;
	snprintf(f->path, sizeof(f->path), "%s/ctl.sock", f->dir);
	f->owner_max = 16;
	seen_reset();
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	release_blocked();
	stop_server(f, SRV_DESTROY);
	stop_owner(f);
	sg_ctl_server_destroy(f->srv); /* a server never handed to a thread */
	sg_ctl_owner_destroy(f->ow);
	assert_int_equal(tc_rmtree(f->dir), 0);
	free(f);
	return 0;
}

/* ---- helpers ---- */

/* Wait (up to 5 s) until *field reaches want. */
static void wait_seen(const unsigned *field, unsigned want)
{
	uint64_t deadline = sg_mono_ms() + 5000;

	while (seen_get(field) < want && sg_mono_ms() < deadline)
		usleep(1000);
	assert_int_equal(seen_get(field), want);
}

static struct sg_ctl_client *connect_to(const struct fixture *f)
{
	struct sg_ctl_client *cl = sg_ctl_client_open(f->path, 0);

	assert_non_null(cl);
	return cl;
}

__attribute__((format(printf, 2, 3))) static void send_line(struct sg_ctl_client *cl,
                                                            const char *fmt, ...)
{
	char line[256];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line) - 1, fmt, ap);
	va_end(ap);
	line[n++] = '\n';
	assert_int_equal(sg_ctl_client_send(cl, line, (size_t)n), 0);
}

/* The next answer on cl (within 5 s), parsed. */
static json_t *answer(struct sg_ctl_client *cl)
{
	const char *line;
	size_t len;
	json_t *r;

	assert_int_equal(sg_ctl_client_read_line(cl, 5000, &line, &len), 0);
	r = json_loadb(line, len, 0, NULL);
	assert_non_null(r);
	return r;
}

static const char *result_str(const json_t *r, const char *key)
{
	return json_string_value(json_object_get(json_object_get(r, "result"), key));
}

static const char *error_code(const json_t *r)
{
	return json_string_value(json_object_get(json_object_get(r, "error"), "code"));
}

/* Wait (up to 5 s) until n commands wait for the owner. */
static void wait_pending(const struct fixture *f, unsigned n)
{
	uint64_t deadline = sg_mono_ms() + 5000;

	while (sg_ctl_owner_pending(f->ow) != n && sg_mono_ms() < deadline)
		usleep(1000);
	assert_int_equal(sg_ctl_owner_pending(f->ow), n);
}

static int fd_readable(int fd)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };

	return poll(&pfd, 1, 0) == 1 && (pfd.revents & POLLIN);
}

static json_int_t geti_client(const json_t *res)
{
	return json_integer_value(json_object_get(res, "client"));
}

/* ---- order: clients on their own threads, each pipelining a mix ---- */

#define PIPELINE  24
#define N_CLIENTS 4

struct client_run {
	const struct fixture *f;
	int ok;
	char why[160];
};

/*
 * One client: PIPELINE requests in one write, cycling through a command on
 * the owner, one on the server and a failing one on the owner; then every
 * answer, checked for order, thread and client id. No cmocka here (one
 * thread of many): the verdict goes to run->ok.
 */
static void *client_main(void *arg)
{
	static const char *const names[] = { "owner.where", "where", "owner.fails" };
	struct client_run *run = arg;
	struct sg_ctl_client *cl = sg_ctl_client_open(run->f->path, 0);
	char buf[PIPELINE * 64];
	json_int_t me = -1;
	size_t off = 0;

	role = "client";
	if (cl == NULL) {
		snprintf(run->why, sizeof(run->why), "connect: %s", strerror(errno));
		return NULL;
	}
	for (int i = 0; i < PIPELINE; i++)
		off += (size_t)snprintf(buf + off, sizeof(buf) - off,
		                        "{\"v\":1,\"cmd\":\"%s\",\"id\":%d,\"args\":{\"n\":%d}}\n",
		                        names[i % 3], i, i);
	run->ok = sg_ctl_client_send(cl, buf, off) == 0;
	for (int i = 0; run->ok && i < PIPELINE; i++) {
		const char *line, *want = i % 3 == 0 ? "owner" : "server";
		size_t len;
		json_t *r = NULL, *res;

		if (sg_ctl_client_read_line(cl, 10000, &line, &len) == 0)
			r = json_loadb(line, len, 0, NULL);
		res = json_object_get(r, "result");
		if (i % 3 == 2)
			run->ok = json_integer_value(json_object_get(r, "id")) == i &&
			          strcmp(error_code(r) ? error_code(r) : "", SG_CTL_ENOTFOUND) == 0;
		else
			run->ok = json_integer_value(json_object_get(r, "id")) == i &&
			          json_integer_value(json_object_get(res, "n")) == i &&
			          strcmp(result_str(r, "thread") ? result_str(r, "thread") : "",
			                 want) == 0 &&
			          (me < 0 || geti_client(res) == me);
		if (res != NULL && me < 0)
			me = geti_client(res);
		if (!run->ok)
			snprintf(run->why, sizeof(run->why), "answer %d: %.120s", i,
			         r ? line : "none");
		json_decref(r);
	}
	sg_ctl_client_close(cl);
	return NULL;
}

static void test_order_and_threads(void **state)
{
	struct fixture *f = *state;
	struct client_run runs[N_CLIENTS];
	pthread_t threads[N_CLIENTS];
	struct sg_ctl_stats st;

	assert_int_equal(make_server(f, 4), 0);
	start_server(f);
	start_owner(f);
	for (int i = 0; i < N_CLIENTS; i++) {
		runs[i] = (struct client_run){ .f = f };
		assert_int_equal(pthread_create(&threads[i], NULL, client_main, &runs[i]), 0);
	}
	for (int i = 0; i < N_CLIENTS; i++) {
		/* Meanwhile the counters are read from here, as a status command would. */
		sg_ctl_server_stats(f->srv, &st);
		assert_true(sg_ctl_server_clients(f->srv) <= N_CLIENTS);
		pthread_join(threads[i], NULL);
		if (!runs[i].ok)
			print_message("client %d: %s\n", i, runs[i].why);
		assert_true(runs[i].ok);
	}
	sg_ctl_server_stats(f->srv, &st);
	assert_int_equal(st.requests, N_CLIENTS * PIPELINE);
	assert_int_equal(st.errors, N_CLIENTS * PIPELINE / 3);
	assert_int_equal(st.accepted, N_CLIENTS);
}

/* ---- a client that goes away while its command waits ---- */

static void test_disconnect_while_queued(void **state)
{
	struct fixture *f = *state;
	struct sg_ctl_client *a, *b, *c;
	json_t *r;
	json_int_t id_a;

	assert_int_equal(make_server(f, 8), 0);
	start_server(f);
	start_owner(f);
	a = connect_to(f);
	send_line(a, "{\"v\":1,\"cmd\":\"where\",\"id\":0}");
	r = answer(a);
	id_a = geti_client(json_object_get(r, "result"));
	json_decref(r);
	send_line(a, "{\"v\":1,\"cmd\":\"block\",\"id\":1}");
	wait_seen(&seen.blocked, 1);
	b = connect_to(f);
	send_line(b, "{\"v\":1,\"cmd\":\"count\",\"id\":2}");
	wait_pending(f, 1);
	sg_ctl_client_close(b); /* gone before its command ran */
	release_blocked();

	r = answer(a);
	assert_int_equal(json_integer_value(json_object_get(r, "id")), 1);
	assert_string_equal(result_str(r, "thread"), "owner");
	json_decref(r);
	/* Its command still ran (a request received is a request executed), its answer went
	 * nowhere, and it was closed once. */
	wait_seen(&seen.counted, 1);
	wait_seen(&seen.closed, 1);
	pthread_mutex_lock(&seen.lock);
	assert_true(seen.closed_id[0] != (uint64_t)id_a);
	pthread_mutex_unlock(&seen.lock);

	/* The others go on. */
	c = connect_to(f);
	send_line(c, "{\"v\":1,\"cmd\":\"owner.where\",\"id\":3}");
	r = answer(c);
	assert_string_equal(result_str(r, "thread"), "owner");
	json_decref(r);
	send_line(a, "{\"v\":1,\"cmd\":\"count\",\"id\":4}");
	r = answer(a);
	assert_int_equal(json_integer_value(json_object_get(r, "id")), 4);
	json_decref(r);
	assert_int_equal(sg_ctl_server_clients(f->srv), 2);
	assert_int_equal(seen_get(&seen.closed), 1);
	sg_ctl_client_close(a);
	sg_ctl_client_close(c);
}

/* ---- a full queue answers at once ---- */

static void test_queue_full(void **state)
{
	struct fixture *f = *state;
	struct sg_ctl_client *a, *b, *c;
	json_t *r;

	assert_int_equal(make_server(f, 2), 0);
	start_server(f);
	start_owner(f);
	a = connect_to(f);
	b = connect_to(f);
	c = connect_to(f);
	send_line(a, "{\"v\":1,\"cmd\":\"block\",\"id\":1}");
	wait_seen(&seen.blocked, 1); /* one of two taken, running */
	send_line(b, "{\"v\":1,\"cmd\":\"count\",\"id\":2}");
	wait_pending(f, 1); /* two of two */
	send_line(c, "{\"v\":1,\"cmd\":\"count\",\"id\":3}");
	r = answer(c);
	assert_string_equal(error_code(r), SG_CTL_EOVERLOAD);
	assert_int_equal(json_integer_value(json_object_get(r, "id")), 3);
	json_decref(r);
	/* Not paused by it: its next request is served. */
	send_line(c, "{\"v\":1,\"cmd\":\"where\",\"id\":4}");
	r = answer(c);
	assert_string_equal(result_str(r, "thread"), "server");
	json_decref(r);

	release_blocked();
	r = answer(a);
	assert_int_equal(json_integer_value(json_object_get(r, "id")), 1);
	json_decref(r);
	r = answer(b);
	assert_int_equal(json_integer_value(json_object_get(r, "id")), 2);
	assert_string_equal(result_str(r, "thread"), "owner");
	json_decref(r);
	assert_int_equal(seen_get(&seen.counted), 1); /* c's never ran */
	send_line(c, "{\"v\":1,\"cmd\":\"count\",\"id\":5}");
	r = answer(c);
	assert_string_equal(result_str(r, "thread"), "owner");
	json_decref(r);
	sg_ctl_client_close(a);
	sg_ctl_client_close(b);
	sg_ctl_client_close(c);
}

/* ---- the server stops with commands queued ---- */

static void test_shutdown_with_queued(void **state)
{
	struct fixture *f = *state;
	struct sg_ctl_client *cl[4];
	const char *line;
	size_t len;
	json_t *r;

	assert_int_equal(make_server(f, 3), 0);
	start_server(f);
	start_owner(f);
	for (int i = 0; i < 4; i++)
		cl[i] = connect_to(f);
	send_line(cl[0], "{\"v\":1,\"cmd\":\"block\"}");
	wait_seen(&seen.blocked, 1);
	send_line(cl[1], "{\"v\":1,\"cmd\":\"count\"}");
	send_line(cl[2], "{\"v\":1,\"cmd\":\"count\"}");
	wait_pending(f, 2);
	send_line(cl[3], "{\"v\":1,\"cmd\":\"count\"}");
	r = answer(cl[3]); /* the queue is full: both others wait in it */
	assert_string_equal(error_code(r), SG_CTL_EOVERLOAD);
	json_decref(r);

	stop_server(f, SRV_DESTROY); /* while the owner is inside block */
	assert_int_equal(sg_ctl_owner_pending(f->ow), 0);
	for (int i = 0; i < 4; i++) {
		assert_int_equal(sg_ctl_client_read_line(cl[i], 5000, &line, &len), -ECONNRESET);
		sg_ctl_client_close(cl[i]);
	}
	assert_int_equal(seen_get(&seen.closed), 4);
	release_blocked(); /* its answer has nobody to go to: freed on the owner's thread */
	usleep(20000);
	stop_owner(f);
	assert_int_equal(sg_ctl_owner_poll(f->ow, 8), 0);
	assert_int_equal(seen_get(&seen.counted), 0); /* the queued ones never ran */
}

/* ---- a flush before exit waits for the answer in flight ---- */

static void test_flush_waits_for_owner(void **state)
{
	struct fixture *f = *state;
	struct sg_ctl_client *a;
	const char *line;
	size_t len;
	json_t *r;

	assert_int_equal(make_server(f, 4), 0);
	start_server(f);
	a = connect_to(f);
	send_line(a, "{\"v\":1,\"cmd\":\"count\",\"id\":7}");
	wait_pending(f, 1);
	__atomic_store_n(&f->srv_end, SRV_FLUSH, __ATOMIC_RELEASE);
	usleep(20000);
	start_owner(f); /* the owner comes late, the flush waits */
	r = answer(a);
	assert_int_equal(json_integer_value(json_object_get(r, "id")), 7);
	assert_string_equal(result_str(r, "thread"), "owner");
	json_decref(r);
	assert_int_equal(sg_ctl_client_read_line(a, 5000, &line, &len), -ECONNRESET);
	sg_ctl_client_close(a);
	stop_server(f, SRV_FLUSH);
}

/* ---- poll's max, and the fd readable exactly while commands wait ---- */

static void test_poll_max_and_fd(void **state)
{
	struct fixture *f = *state;
	struct sg_ctl_client *cl[3];
	int fd;

	assert_int_equal(make_server(f, 8), 0);
	start_server(f); /* this thread is the owner */
	fd = sg_ctl_owner_fd(f->ow);
	assert_false(fd_readable(fd));
	assert_int_equal(sg_ctl_owner_poll(f->ow, 8), 0);
	for (int i = 0; i < 3; i++) {
		cl[i] = connect_to(f);
		send_line(cl[i], "{\"v\":1,\"cmd\":\"count\",\"id\":%d}", i);
	}
	wait_pending(f, 3);
	assert_true(fd_readable(fd));
	assert_int_equal(sg_ctl_owner_poll(f->ow, 1), 1);
	assert_int_equal(sg_ctl_owner_pending(f->ow), 2);
	assert_true(fd_readable(fd)); /* some left: still readable */
	assert_int_equal(sg_ctl_owner_poll(f->ow, 8), 2);
	assert_false(fd_readable(fd));
	assert_int_equal(sg_ctl_owner_poll(f->ow, 8), 0);
	for (int i = 0; i < 3; i++) {
		json_t *r = answer(cl[i]);

		assert_int_equal(json_integer_value(json_object_get(r, "id")), i);
		assert_string_equal(result_str(r, "thread"), "main");
		json_decref(r);
		sg_ctl_client_close(cl[i]);
	}
}

/* ---- without a queue: every command on the server's thread, as before ---- */

static void test_no_owner_runs_inline(void **state)
{
	struct fixture *f = *state;
	struct sg_ctl_client *a;
	json_t *r;

	assert_int_equal(make_server(f, 0), 0);
	start_server(f);
	a = connect_to(f);
	send_line(a, "{\"v\":1,\"cmd\":\"owner.where\",\"id\":1}");
	send_line(a, "{\"v\":1,\"cmd\":\"count\",\"id\":2}");
	r = answer(a);
	assert_string_equal(result_str(r, "thread"), "server");
	json_decref(r);
	r = answer(a);
	assert_string_equal(result_str(r, "thread"), "server");
	json_decref(r);
	sg_ctl_client_close(a);
}

/* ---- one server per queue, for the queue's life ---- */

static void test_one_server_per_queue(void **state)
{
	struct fixture *f = *state;
	char other[128];
	struct sg_ctl_server_cfg cfg = {
		.path = other,
		.mode = 0600,
		.max_clients = 1,
		.max_request = 256,
		.cmds = cmds,
		.n_cmds = 1,
	};

	assert_null(sg_ctl_owner_create(0));
	assert_int_equal(errno, EINVAL);
	assert_int_equal(make_server(f, 2), 0);
	snprintf(other, sizeof(other), "%s/other.sock", f->dir);
	cfg.owner = f->ow;
	assert_null(sg_ctl_server_create(&cfg));
	assert_int_equal(errno, EBUSY);
	assert_int_equal(access(other, F_OK), -1); /* nothing left behind */
	sg_ctl_server_destroy(f->srv);
	f->srv = NULL;
	assert_null(sg_ctl_server_create(&cfg));
	assert_int_equal(errno, EBUSY);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_order_and_threads, setup, teardown),
		cmocka_unit_test_setup_teardown(test_disconnect_while_queued, setup, teardown),
		cmocka_unit_test_setup_teardown(test_queue_full, setup, teardown),
		cmocka_unit_test_setup_teardown(test_shutdown_with_queued, setup, teardown),
		cmocka_unit_test_setup_teardown(test_flush_waits_for_owner, setup, teardown),
		cmocka_unit_test_setup_teardown(test_poll_max_and_fd, setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_owner_runs_inline, setup, teardown),
		cmocka_unit_test_setup_teardown(test_one_server_per_queue, setup, teardown),
	};

	/* As the daemon runs: every block jansson frees is wiped, on every thread. */
	sg_ctl_secure_alloc();

	return cmocka_run_group_tests_name("ctl_owner", tests, NULL, NULL);
}
