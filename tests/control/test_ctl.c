/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Control protocol and server: a table of request lines and the response
 * each must get (error code, or result), then the server over a real UNIX
 * socket: pipelined requests, oversize requests, the client limit, idle
 * timeout, a half-written request, a client that never reads, answers over
 * max_output, client ids and close notification, counters, socket
 * permissions and stale sockets; the clients are the transport stormctl
 * uses (sg_ctl_client.h), whose failures (timeout, a bad or oversized
 * answer, a peer that hangs up) are tested against a bare socket. Everything
 * runs with sg_ctl_secure_alloc() in force, as in the daemon.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <cmocka.h>
#include <jansson.h>

#include <stormgate/time.h>

#include "sg_ctl.h"
#include "sg_ctl_client.h"
#include "tc_tmp.h"

/* ---- a command table for the tests ---- */

static int echo_calls;

static json_t *cmd_echo(void *ctx, json_t *args, struct sg_ctl_error *err)
{
	(void)ctx;
	(void)err;
	echo_calls++;
	return json_pack("{s:O}", "args", args);
}

static json_t *cmd_fail(void *ctx, json_t *args, struct sg_ctl_error *err)
{
	(void)ctx;
	(void)args;
	err->code = SG_CTL_EARGS;
	snprintf(err->message, sizeof(err->message), "no such port");
	return NULL;
}

static json_t *cmd_big(void *ctx, json_t *args, struct sg_ctl_error *err)
{
	static char blob[200001];

	(void)ctx;
	(void)args;
	(void)err;
	memset(blob, 'b', sizeof(blob) - 1);
	return json_pack("{s:s}", "blob", blob);
}

/* The server whose handlers run (ctx of the servers below points here). */
static struct sg_ctl_server *running;

static json_t *cmd_whoami(void *ctx, json_t *args, struct sg_ctl_error *err)
{
	(void)args;
	(void)err;
	return json_pack("{s:I}", "client", (json_int_t)sg_ctl_server_client(*(void **)ctx));
}

static json_t *cmd_faildata(void *ctx, json_t *args, struct sg_ctl_error *err)
{
	(void)ctx;
	(void)args;
	err->data = json_pack("{s:i, s:s}", "line", 3, "reason", "bad hex");
	return sg_ctl_fail(err, SG_CTL_ECSV, "line %d: %s", 3, "bad hex");
}

static const struct sg_ctl_cmd cmds[] = {
	{ "echo", "echo args", cmd_echo },
	{ "fail", "always fails", cmd_fail },
	{ "big", "a 200 kB answer", cmd_big },
	{ "whoami", "the client id", cmd_whoami },
	{ "faildata", "fails with error data", cmd_faildata },
};

#define N_CMDS (sizeof(cmds) / sizeof(cmds[0]))

static uint64_t closed[16];
static unsigned n_closed;

static void on_close(void *ctx, uint64_t client)
{
	(void)ctx;
	closed[n_closed++ % 16] = client;
}

/* ---- protocol table ---- */

static const struct {
	const char *line;
	const char *code; /* expected error code, NULL: a result */
	const char *msg;  /* substring of the message */
	const char *id;   /* expected echoed id as JSON, NULL: none */
} proto_cases[] = {
	{ "{\"v\":1,\"cmd\":\"echo\"}", NULL, NULL, NULL },
	{ "{\"v\":1,\"cmd\":\"echo\",\"args\":{\"a\":1},\"id\":7}", NULL, NULL, "7" },
	{ "{\"v\":1,\"cmd\":\"echo\",\"id\":\"x-1\"}", NULL, NULL, "\"x-1\"" },
	{ "{\"v\":1,\"cmd\":\"fail\",\"id\":3}", SG_CTL_EARGS, "no such port", "3" },
	{ "not json", SG_CTL_EPARSE, "not JSON", NULL },
	{ "{\"v\":1,\"cmd\":\"echo\"", SG_CTL_EPARSE, "not JSON", NULL },
	{ "{\"v\":1,\"cmd\":\"echo\"} trailing", SG_CTL_EPARSE, "not JSON", NULL },
	{ "{\"v\":1,\"v\":1,\"cmd\":\"echo\"}", SG_CTL_EPARSE, "duplicate", NULL },
	{ "[1,2]", SG_CTL_EINVALID, "JSON object", NULL },
	{ "\"status\"", SG_CTL_EINVALID, "JSON object", NULL },
	{ "{\"cmd\":\"echo\",\"id\":1}", SG_CTL_EINVALID, "\"v\"", "1" },
	{ "{\"v\":\"1\",\"cmd\":\"echo\"}", SG_CTL_EINVALID, "\"v\"", NULL },
	{ "{\"v\":2,\"cmd\":\"echo\",\"id\":9}", SG_CTL_EVERSION, "version 2", "9" },
	{ "{\"v\":1}", SG_CTL_EINVALID, "\"cmd\"", NULL },
	{ "{\"v\":1,\"cmd\":5}", SG_CTL_EINVALID, "\"cmd\"", NULL },
	{ "{\"v\":1,\"cmd\":\"echo\",\"args\":[1]}", SG_CTL_EINVALID, "\"args\"", NULL },
	{ "{\"v\":1,\"cmd\":\"echo\",\"extra\":true}", SG_CTL_EINVALID, "unknown member 'extra'",
	  NULL },
	{ "{\"v\":1,\"cmd\":\"reboot\",\"id\":[1]}", SG_CTL_EUNKNOWN, "unknown command 'reboot'",
	  "[1]" },
	{ "{\"v\":1,\"cmd\":\"\"}", SG_CTL_EUNKNOWN, "unknown command ''", NULL },
	{ "{\"v\":1,\"cmd\":\"faildata\",\"id\":4}", SG_CTL_ECSV, "line 3: bad hex", "4" },
	{ "{\"v\":1,\"cmd\":\"echo\",\"args\":\"x\"}", SG_CTL_EINVALID, "\"args\"", NULL },
	{ "{\"v\":1.0,\"cmd\":\"echo\"}", SG_CTL_EINVALID, "\"v\"", NULL },
	{ "{\"v\":1,\"cmd\":\"echo\",\"args\":{\"a\":\"\\u0000\"}}", SG_CTL_EPARSE, "NUL", NULL },
	{ "\xff\xfe", SG_CTL_EPARSE, "not JSON", NULL },
	{ "{\"v\":1,\"cmd\":\"\xc3\x28\"}", SG_CTL_EPARSE, "not JSON", NULL },
};

static void test_protocol_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(proto_cases) / sizeof(proto_cases[0]); i++) {
		const char *line = proto_cases[i].line;
		json_t *resp = sg_ctl_handle(cmds, N_CMDS, NULL, line, strlen(line));
		json_t *err, *id;

		assert_non_null(resp);
		assert_int_equal(json_integer_value(json_object_get(resp, "v")), SG_CTL_PROTOCOL);
		err = json_object_get(resp, "error");
		if (proto_cases[i].code == NULL) {
			assert_null(err);
			assert_non_null(json_object_get(resp, "result"));
		} else {
			const char *code = json_string_value(json_object_get(err, "code"));
			const char *msg = json_string_value(json_object_get(err, "message"));
			if (code == NULL || strcmp(code, proto_cases[i].code) != 0 || msg == NULL ||
			    strstr(msg, proto_cases[i].msg) == NULL) {
				print_message("case %zu '%s': code %s message %s\n", i, line,
				              code ? code : "-", msg ? msg : "-");
				fail();
			}
			assert_null(json_object_get(resp, "result"));
		}
		if (proto_cases[i].code != NULL && strcmp(proto_cases[i].code, SG_CTL_ECSV) == 0) {
			json_t *d = json_object_get(err, "data");

			assert_int_equal(json_integer_value(json_object_get(d, "line")), 3);
			assert_string_equal(json_string_value(json_object_get(d, "reason")),
			                    "bad hex");
		} else if (err != NULL) {
			assert_null(json_object_get(err, "data"));
		}
		id = json_object_get(resp, "id");
		if (proto_cases[i].id == NULL) {
			assert_null(id);
		} else {
			char s[64];
			size_t n = json_dumpb(id, s, sizeof(s) - 1, JSON_COMPACT | JSON_ENCODE_ANY);

			s[n] = '\0';
			assert_string_equal(s, proto_cases[i].id);
		}
		json_decref(resp);
	}
}

static void test_dump_line(void **state)
{
	json_t *o = json_pack("{s:s}", "m", "two\nlines");
	size_t len;
	char *line = sg_ctl_dump_line(o, &len);

	(void)state;
	assert_non_null(line);
	assert_int_equal(len, strlen(line));
	assert_int_equal(line[len - 1], '\n');
	assert_null(memchr(line, '\n', len - 1)); /* one object, one line */
	free(line);
	json_decref(o);
}

/* ---- server over a real socket ---- */

struct fixture {
	char dir[64];
	char path[96];
	struct sg_ctl_server *srv;
};

static struct sg_ctl_server *make_server_out(struct fixture *f, unsigned max_clients,
                                             size_t max_request, unsigned idle_ms,
                                             size_t max_output)
{
	struct sg_ctl_server_cfg cfg = {
		.path = f->path,
		.mode = 0660,
		.max_clients = max_clients,
		.max_request = max_request,
		.idle_timeout_ms = idle_ms,
		.max_output = max_output,
		.cmds = cmds,
		.n_cmds = N_CMDS,
		.ctx = &running,
		.on_close = on_close,
	};
	running = sg_ctl_server_create(&cfg);
	return running;
}

static struct sg_ctl_server *make_server(struct fixture *f, unsigned max_clients,
                                         size_t max_request, unsigned idle_ms)
{
	return make_server_out(f, max_clients, max_request, idle_ms, 0);
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	if (f == NULL || tc_tmpdir(f->dir, sizeof(f->dir), "ctl") != 0)
		return -1;
	snprintf(f->path, sizeof(f->path), "%s/run/ctl.sock", f->dir);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	sg_ctl_server_destroy(f->srv);
	running = NULL;
	assert_int_equal(tc_rmtree(f->dir), 0);
	free(f);
	return 0;
}

/* Clients talk through the transport stormctl uses (sg_ctl_client.h). */
static struct sg_ctl_client *client(const char *path)
{
	struct sg_ctl_client *cl = sg_ctl_client_open(path, 0);

	assert_non_null(cl);
	return cl;
}

/* f's server with these limits, started (else the test fails), and one client of it. */
static struct sg_ctl_client *serve(struct fixture *f, unsigned max_clients, size_t max_request,
                                   unsigned idle_ms)
{
	f->srv = make_server(f, max_clients, max_request, idle_ms);
	assert_non_null(f->srv);
	return client(f->path);
}

static void send_all(struct sg_ctl_client *cl, const char *s, size_t n)
{
	assert_int_equal(sg_ctl_client_send(cl, s, n), 0);
}

static void send_str(struct sg_ctl_client *cl, const char *s)
{
	send_all(cl, s, strlen(s));
}

/*
 * Run the server until `lines` response lines arrived on cl (or 2 s pass).
 * Returns the bytes of those lines, newlines included (NUL-terminated in
 * buf); *eof set when the server closed the connection.
 */
static size_t collect(struct sg_ctl_server *srv, struct sg_ctl_client *cl, char *buf, size_t cap,
                      int lines, int *eof)
{
	size_t got = 0;
	int seen = 0;

	*eof = 0;
	for (int round = 0; round < 400 && seen < lines && !*eof; round++) {
		const char *line;
		size_t len;
		int rc;

		sg_ctl_server_run(srv, 5);
		while (seen < lines && (rc = sg_ctl_client_read_line(cl, 0, &line, &len)) == 0) {
			assert_true(got + len + 1 < cap);
			memcpy(buf + got, line, len);
			buf[got + len] = '\n';
			got += len + 1;
			seen++;
		}
		if (seen < lines && rc == -ECONNRESET)
			*eof = 1;
		else if (seen < lines)
			assert_int_equal(rc, -EAGAIN);
	}
	buf[got] = '\0';
	return got;
}

static void test_server_requests(void **state)
{
	struct fixture *f = *state;
	char buf[4096];
	struct stat st;
	int eof;

	f->srv = make_server(f, 8, 1024, 0);
	assert_non_null(f->srv);
	assert_int_equal(stat(f->path, &st), 0);
	assert_true(S_ISSOCK(st.st_mode));
	assert_int_equal(st.st_mode & 0777, 0660);

	struct sg_ctl_client *fd = client(f->path);
	/* Two pipelined requests in one write, the second split across writes, CRLF ends. */
	static const char reqs[] = "{\"v\":1,\"cmd\":\"echo\",\"id\":1}\r\n{\"v\":1,\"cmd\":\"ec";
	send_all(fd, reqs, sizeof(reqs) - 1);
	collect(f->srv, fd, buf, sizeof(buf), 1, &eof);
	assert_non_null(strstr(buf, "\"id\":1"));
	send_all(fd, "ho\",\"id\":2}\n\n", 13); /* an empty line gets no answer */
	collect(f->srv, fd, buf, sizeof(buf), 1, &eof);
	assert_non_null(strstr(buf, "\"id\":2"));
	assert_int_equal(sg_ctl_server_clients(f->srv), 1);

	/* A big answer goes out in pieces without blocking the server. */
	send_all(fd, "{\"v\":1,\"cmd\":\"big\"}\n", 20);
	char *big = malloc(300000);
	assert_non_null(big);
	size_t n = collect(f->srv, fd, big, 300000, 1, &eof);
	assert_true(n > 200000);
	assert_int_equal(big[n - 1], '\n');
	free(big);
	sg_ctl_client_close(fd);
	sg_ctl_server_run(f->srv, 5);
	assert_int_equal(sg_ctl_server_clients(f->srv), 0);
}

/* A client that half-closes after its last request (no newline) still gets every answer. */
static void test_server_eof(void **state)
{
	struct fixture *f = *state;
	char buf[4096];
	int eof;

	struct sg_ctl_client *fd = serve(f, 4, 1024, 0);
	static const char reqs[] =
	        "{\"v\":1,\"cmd\":\"echo\",\"id\":1}\n{\"v\":1,\"cmd\":\"echo\",\"id\":2}";
	send_all(fd, reqs, sizeof(reqs) - 1);
	shutdown(sg_ctl_client_fd(fd), SHUT_WR);
	collect(f->srv, fd, buf, sizeof(buf), 2, &eof);
	assert_non_null(strstr(buf, "\"id\":1"));
	assert_non_null(strstr(buf, "\"id\":2"));
	collect(f->srv, fd, buf, sizeof(buf), 1, &eof);
	assert_true(eof);
	sg_ctl_client_close(fd);

	/* Connect and go away at once: nothing to answer, the slot is freed. */
	fd = client(f->path);
	sg_ctl_client_close(fd);
	for (int i = 0; i < 20 && sg_ctl_server_clients(f->srv) != 0; i++)
		sg_ctl_server_run(f->srv, 5);
	assert_int_equal(sg_ctl_server_clients(f->srv), 0);
}

static void test_server_oversize(void **state)
{
	struct fixture *f = *state;
	char buf[4096], req[2048];
	int eof;

	struct sg_ctl_client *fd = serve(f, 8, 256, 0);
	memset(req, ' ', sizeof(req));
	send_all(fd, req, 300); /* no newline within max_request */
	collect(f->srv, fd, buf, sizeof(buf), 1, &eof);
	assert_non_null(strstr(buf, SG_CTL_ETOOLARGE));
	collect(f->srv, fd, buf, sizeof(buf), 1, &eof);
	assert_true(eof); /* cannot resynchronise: closed */
	sg_ctl_client_close(fd);

	/* A request of exactly max_request bytes is fine. */
	fd = client(f->path);
	int len = snprintf(req, sizeof(req), "{\"v\":1,\"cmd\":\"echo\",\"args\":{\"p\":\"");
	memset(req + len, 'x', 256 - (size_t)len - 3);
	memcpy(req + 256 - 3, "\"}}", 3);
	req[256] = '\n';
	send_all(fd, req, 257);
	collect(f->srv, fd, buf, sizeof(buf), 1, &eof);
	assert_non_null(strstr(buf, "\"result\""));
	sg_ctl_client_close(fd);
}

static void test_server_limits(void **state)
{
	struct fixture *f = *state;
	char buf[4096];
	int eof;

	f->srv = make_server(f, 2, 1024, 200);
	assert_non_null(f->srv);
	struct sg_ctl_client *a = client(f->path), *b = client(f->path);
	sg_ctl_server_run(f->srv, 5);
	sg_ctl_server_run(f->srv, 5);
	assert_int_equal(sg_ctl_server_clients(f->srv), 2);
	struct sg_ctl_client *c = client(f->path);
	collect(f->srv, c, buf, sizeof(buf), 1, &eof);
	assert_non_null(strstr(buf, SG_CTL_EBUSY));
	sg_ctl_client_close(c);

	/* Idle clients are closed after the timeout (200 ms); busy ones stay. */
	for (uint64_t t0 = sg_mono_ns(); sg_mono_ns() - t0 < 3 * SG_NS_PER_SEC;) {
		send_all(b, "{\"v\":1,\"cmd\":\"echo\"}\n", 21);
		collect(f->srv, b, buf, sizeof(buf), 1, &eof);
		assert_false(eof);
		if (sg_ctl_server_clients(f->srv) == 1)
			break;
	}
	assert_int_equal(sg_ctl_server_clients(f->srv), 1);
	collect(f->srv, a, buf, sizeof(buf), 1, &eof);
	assert_true(eof);
	sg_ctl_client_close(a);
	sg_ctl_client_close(b);
}

/* A client that writes requests and never reads cannot stall the server. */
static void test_server_slow_reader(void **state)
{
	struct fixture *f = *state;
	char req[64], buf[4096];
	int eof;

	struct sg_ctl_client *hog = serve(f, 4, 1024, 0);
	/* Hostile on purpose: raw non-blocking writes beside the transport. */
	int hog_fd = sg_ctl_client_fd(hog);
	int flags = fcntl(hog_fd, F_GETFL);
	fcntl(hog_fd, F_SETFL, flags | O_NONBLOCK);
	int len = snprintf(req, sizeof(req), "{\"v\":1,\"cmd\":\"big\"}\n");
	unsigned sent = 0;
	uint64_t t0 = sg_mono_ns();

	for (int i = 0; i < 2000; i++) {
		if (send(hog_fd, req, (size_t)len, MSG_NOSIGNAL) == len)
			sent++;
		sg_ctl_server_run(f->srv, 0);
	}
	/* 2000 rounds finished: the server never blocked on the hog. */
	assert_true(sg_mono_ns() - t0 < 20 * SG_NS_PER_SEC);
	assert_true(sent > 0);

	/* Meanwhile another client is served normally. */
	struct sg_ctl_client *other = client(f->path);
	send_all(other, "{\"v\":1,\"cmd\":\"echo\",\"id\":5}\n", 28);
	collect(f->srv, other, buf, sizeof(buf), 1, &eof);
	assert_non_null(strstr(buf, "\"id\":5"));
	sg_ctl_client_close(other);
	sg_ctl_client_close(hog);
}

static void test_server_socket_file(void **state)
{
	struct fixture *f = *state;
	struct sg_ctl_server *second;
	int fd;

	f->srv = make_server(f, 4, 1024, 0);
	assert_non_null(f->srv);
	/* A live daemon owns the path. */
	second = make_server(f, 4, 1024, 0);
	assert_null(second);
	assert_int_equal(errno, EADDRINUSE);

	/* Destroy removes the file; a stale socket file (nobody listening) is replaced. */
	sg_ctl_server_destroy(f->srv);
	f->srv = NULL;
	assert_int_equal(access(f->path, F_OK), -1);
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", f->path);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	close(fd);
	f->srv = make_server(f, 4, 1024, 0);
	assert_non_null(f->srv);
	sg_ctl_server_destroy(f->srv);
	f->srv = NULL;

	/* Anything that is not a socket is left alone. */
	fd = open(f->path, O_CREAT | O_WRONLY, 0600);
	assert_true(fd >= 0);
	close(fd);
	assert_null(make_server(f, 4, 1024, 0));
	assert_int_equal(errno, EEXIST);
	assert_int_equal(access(f->path, F_OK), 0);
	unlink(f->path);

	/* Unknown group: refused, nothing left behind. */
	struct sg_ctl_server_cfg cfg = { .path = f->path,
		                         .group = "no-such-group-sg",
		                         .mode = 0660,
		                         .max_clients = 1,
		                         .max_request = 64,
		                         .cmds = cmds,
		                         .n_cmds = N_CMDS };
	assert_null(sg_ctl_server_create(&cfg));
	assert_int_equal(errno, ENOENT);
	assert_int_equal(access(f->path, F_OK), -1);
}

/* Ids tell clients apart inside handlers, are never reused, and come back in on_close. */
static void test_server_client_ids(void **state)
{
	struct fixture *f = *state;
	char buf[4096];
	int eof;
	json_t *r;
	json_error_t je;
	uint64_t ida, idb;

	f->srv = make_server(f, 4, 1024, 0);
	assert_non_null(f->srv);
	assert_int_equal(sg_ctl_server_client(f->srv), 0); /* outside a handler */
	n_closed = 0;
	struct sg_ctl_client *a = client(f->path), *b = client(f->path);
	send_str(a, "{\"v\":1,\"cmd\":\"whoami\"}\n");
	collect(f->srv, a, buf, sizeof(buf), 1, &eof);
	r = json_loads(buf, 0, &je);
	assert_non_null(r);
	ida = (uint64_t)json_integer_value(json_object_get(json_object_get(r, "result"), "client"));
	json_decref(r);
	send_str(b, "{\"v\":1,\"cmd\":\"whoami\"}\n");
	collect(f->srv, b, buf, sizeof(buf), 1, &eof);
	r = json_loads(buf, 0, &je);
	assert_non_null(r);
	idb = (uint64_t)json_integer_value(json_object_get(json_object_get(r, "result"), "client"));
	json_decref(r);
	assert_true(ida >= 1 && idb >= 1 && ida != idb);
	assert_int_equal(sg_ctl_server_client(f->srv), 0);

	sg_ctl_client_close(a);
	for (int i = 0; i < 40 && n_closed == 0; i++)
		sg_ctl_server_run(f->srv, 5);
	assert_int_equal(n_closed, 1);
	assert_int_equal(closed[0], ida);
	/* A new client never gets an old id. */
	a = client(f->path);
	send_str(a, "{\"v\":1,\"cmd\":\"whoami\"}\n");
	collect(f->srv, a, buf, sizeof(buf), 1, &eof);
	r = json_loads(buf, 0, &je);
	assert_non_null(r);
	uint64_t idc = (uint64_t)json_integer_value(
	        json_object_get(json_object_get(r, "result"), "client"));
	json_decref(r);
	assert_true(idc != ida && idc != idb);
	sg_ctl_client_close(a);
	sg_ctl_client_close(b);
	sg_ctl_server_destroy(f->srv); /* destroy closes (and reports) what is left */
	f->srv = NULL;
	running = NULL;
	assert_true(n_closed >= 2);
}

/* Half a request, then silence: a timeout error, then the connection closes. */
static void test_server_half_request(void **state)
{
	struct fixture *f = *state;
	struct sg_ctl_stats st;
	char buf[4096];
	int eof;

	struct sg_ctl_client *fd = serve(f, 4, 1024, 200);
	send_str(fd, "{\"v\":1,\"cmd\":\"ec");
	collect(f->srv, fd, buf, sizeof(buf), 2, &eof);
	assert_non_null(strstr(buf, "\"code\":\"" SG_CTL_ETIMEOUT "\""));
	assert_non_null(strstr(buf, "16 bytes"));
	if (!eof)
		collect(f->srv, fd, buf, sizeof(buf), 1, &eof);
	assert_true(eof);
	sg_ctl_client_close(fd);
	sg_ctl_server_stats(f->srv, &st);
	assert_int_equal(st.timeouts, 1);
	assert_int_equal(sg_ctl_server_clients(f->srv), 0);

	/* Idle without half a request: just closed, no error line. */
	fd = client(f->path);
	size_t n = collect(f->srv, fd, buf, sizeof(buf), 1, &eof);
	assert_int_equal(n, 0);
	assert_true(eof);
	sg_ctl_client_close(fd);
}

/* An answer over max_output is replaced by an error; the client stays served. */
static void test_server_max_output(void **state)
{
	struct fixture *f = *state;
	struct sg_ctl_stats st;
	char buf[4096];
	int eof;

	f->srv = make_server_out(f, 4, 1024, 0, 100000);
	assert_non_null(f->srv);
	struct sg_ctl_client *fd = client(f->path);
	send_str(fd, "{\"v\":1,\"cmd\":\"big\",\"id\":\"b\"}\n");
	collect(f->srv, fd, buf, sizeof(buf), 1, &eof);
	assert_non_null(strstr(buf, SG_CTL_ETOOBIG));
	assert_non_null(strstr(buf, "\"id\":\"b\""));
	assert_false(eof);
	send_str(fd, "{\"v\":1,\"cmd\":\"echo\",\"id\":6}\n");
	collect(f->srv, fd, buf, sizeof(buf), 1, &eof);
	assert_non_null(strstr(buf, "\"id\":6"));
	assert_non_null(strstr(buf, "\"result\""));
	sg_ctl_server_stats(f->srv, &st);
	assert_int_equal(st.requests, 2);
	assert_int_equal(st.errors, 1);
	assert_int_equal(st.accepted, 1);
	sg_ctl_client_close(fd);
}

/* A bare listening socket: the peer of the transport tests, which says what they need. */
static int raw_listener(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(fd, 4), 0);
	return fd;
}

/* The client transport's failures, each with its code and the line stormctl prints. */
static void test_client_transport(void **state)
{
	struct fixture *f = *state;
	char longpath[200], dir[160];
	json_t *req = sg_ctl_request("version", NULL), *resp = NULL;
	const char *line;
	size_t len;

	memset(longpath, 'p', sizeof(longpath) - 1);
	longpath[sizeof(longpath) - 1] = '\0';
	assert_null(sg_ctl_client_open(longpath, 0));
	assert_int_equal(errno, ENAMETOOLONG);
	assert_null(sg_ctl_client_open(f->path, 0));
	assert_int_equal(errno, ENOENT);

	snprintf(dir, sizeof(dir), "%s/run", f->dir);
	assert_int_equal(mkdir(dir, 0700), 0);
	int lfd = raw_listener(f->path);
	struct sg_ctl_client *cl = sg_ctl_client_open(f->path, 64);
	assert_non_null(cl);
	assert_string_equal(sg_ctl_client_why(cl), "");
	int peer = accept(lfd, NULL, NULL);
	assert_true(peer >= 0);

	/* Silence: the deadline passes. */
	assert_int_equal(sg_ctl_client_call(cl, req, 50, &resp), -ETIMEDOUT);
	assert_null(resp);
	assert_non_null(strstr(sg_ctl_client_why(cl), "no answer from"));
	assert_non_null(strstr(sg_ctl_client_why(cl), "within 50 ms"));
	/* The request went out as one line, as sg_ctl_dump_line() writes it. */
	char got[128];
	ssize_t n = recv(peer, got, sizeof(got) - 1, 0);
	assert_true(n > 0);
	got[n] = '\0';
	assert_string_equal(got, "{\"v\":1,\"cmd\":\"version\",\"args\":{}}\n");

	/* Two lines in one write come back one by one; then one that is not JSON. */
	static const char two[] = "{\"v\":1,\"result\":{}}\r\nnot json\n";
	assert_int_equal(send(peer, two, sizeof(two) - 1, 0), (ssize_t)sizeof(two) - 1);
	assert_int_equal(sg_ctl_client_read_line(cl, 1000, &line, &len), 0);
	assert_string_equal(line, "{\"v\":1,\"result\":{}}\r");
	assert_int_equal(len, strlen(line));
	assert_int_equal(sg_ctl_client_call(cl, req, 1000, &resp), -EBADMSG);
	assert_non_null(strstr(sg_ctl_client_why(cl), "bad answer from"));
	assert_int_equal(sg_ctl_client_read_line(cl, 0, &line, &len), -EAGAIN);

	/* A line longer than max_line (64 here). */
	char longline[100];
	memset(longline, 'x', sizeof(longline));
	assert_int_equal(send(peer, longline, sizeof(longline), 0), (ssize_t)sizeof(longline));
	assert_int_equal(sg_ctl_client_read_line(cl, 1000, &line, &len), -EMSGSIZE);
	assert_string_equal(sg_ctl_client_why(cl), "answer larger than 64 bytes");
	sg_ctl_client_close(cl);
	close(peer);

	/* The peer goes away before answering. */
	cl = sg_ctl_client_open(f->path, 0);
	assert_non_null(cl);
	peer = accept(lfd, NULL, NULL);
	assert_true(peer >= 0);
	send_str(cl, "{\"v\":1,\"cmd\":\"version\"}\n");
	close(peer);
	assert_int_equal(sg_ctl_client_read_line(cl, 1000, &line, &len), -ECONNRESET);
	assert_non_null(strstr(sg_ctl_client_why(cl), "closed the connection without an answer"));
	sg_ctl_client_close(cl);
	close(lfd);
	unlink(f->path);
	json_decref(req);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_protocol_table),
		cmocka_unit_test(test_dump_line),
		cmocka_unit_test_setup_teardown(test_server_requests, setup, teardown),
		cmocka_unit_test_setup_teardown(test_server_eof, setup, teardown),
		cmocka_unit_test_setup_teardown(test_server_oversize, setup, teardown),
		cmocka_unit_test_setup_teardown(test_server_limits, setup, teardown),
		cmocka_unit_test_setup_teardown(test_server_slow_reader, setup, teardown),
		cmocka_unit_test_setup_teardown(test_server_socket_file, setup, teardown),
		cmocka_unit_test_setup_teardown(test_server_client_ids, setup, teardown),
		cmocka_unit_test_setup_teardown(test_server_half_request, setup, teardown),
		cmocka_unit_test_setup_teardown(test_server_max_output, setup, teardown),
		cmocka_unit_test_setup_teardown(test_client_transport, setup, teardown),
	};

	/* As the daemon runs: every block jansson frees is wiped. */
	sg_ctl_secure_alloc();

	return cmocka_run_group_tests_name("ctl", tests, NULL, NULL);
}
