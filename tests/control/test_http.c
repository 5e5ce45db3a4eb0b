/* SPDX-License-Identifier: Apache-2.0 */
/*
 * /metrics over HTTP (control/mgmt/http.h) without a daemon: the server on
 * a loopback port, run by a thread of this test as the management thread
 * runs it (its epoll fd in poll(), then mgmt_http_run()), the render
 * function this test's. A table of requests: GET and HEAD /metrics (200,
 * text/plain; version=0.0.4, the rendered text), other paths (404), other
 * methods (405 with Allow), nothing rendered yet (503), a render that fails
 * (500); each counted under its result; headers past the bound (431,
 * not counted). Then the addresses: off serves
 * nothing, an address given that is taken fails with -EADDRINUSE, the
 * default taken is no failure and serves nothing. Suite unit (also under
 * ASan+UBSan).
 */
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <sys/socket.h>

#include <cmocka.h>

#include "http.h"

#define BODY "# TYPE stormgate_up gauge\nstormgate_up 1\n"

/* What the render function does: write BODY, or fail with this -errno. */
static int render_rc;

static int render(FILE *out)
{
	if (render_rc != 0)
		return render_rc;
	return fputs(BODY, out) < 0 ? -EIO : 0;
}

/* The server's thread: the management thread's loop, until stop. */
struct server {
	struct mgmt_http h;
	pthread_t tid;
	int stop;
};

static void *serve(void *arg)
{
	struct server *s = arg;
	struct pollfd pfd = { .fd = mgmt_http_fd(&s->h), .events = POLLIN };

	while (!__atomic_load_n(&s->stop, __ATOMIC_ACQUIRE)) {
		poll(&pfd, 1, mgmt_http_timeout_ms(&s->h, 20));
		mgmt_http_run(&s->h);
	}
	mgmt_http_close(&s->h);
	return NULL;
}

/* A loopback port nobody listens on now. */
static uint16_t free_port(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t l = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &l), 0);
	close(fd);
	return ntohs(a.sin_port);
}

static struct sg_cfg_listen listen_at(uint32_t state, uint16_t port)
{
	struct sg_cfg_listen l = { .state = state };

	assert_int_equal(sg_cfg_endpoint_parse("127.0.0.1:1", &l.addr), 0);
	l.addr.port = port;
	return l;
}

/* One request (Connection: close), its whole answer into buf. */
static void exchange(uint16_t port, const char *req, char *buf, size_t len)
{
	struct sockaddr_in a = { .sin_family = AF_INET,
		                 .sin_port = htons(port),
		                 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	size_t got = 0;
	ssize_t n;
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	assert_true(fd >= 0);
	assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(write(fd, req, strlen(req)), (ssize_t)strlen(req));
	while (got + 1 < len && (n = read(fd, buf + got, len - 1 - got)) > 0)
		got += (size_t)n;
	buf[got] = '\0';
	close(fd);
}

static void test_requests(void **state)
{
	static const struct {
		const char *req;
		int render_rc;
		const char *status, *header; /* the status line; a header line it must have */
		const char *body;            /* the body it must end with; NULL: none */
		enum mgmt_http_result result;
	} rows[] = {
		{ "GET /metrics HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n", 0,
		  "HTTP/1.1 200 OK\r\n", "Content-Type: text/plain; version=0.0.4\r\n", BODY,
		  MGMT_HTTP_OK },
		{ "GET /metrics?x=1 HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n", 0,
		  "HTTP/1.1 200 OK\r\n", "Content-Length: 41\r\n", BODY, MGMT_HTTP_OK },
		{ "HEAD /metrics HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n", 0,
		  "HTTP/1.1 200 OK\r\n", "Content-Type: text/plain; version=0.0.4\r\n", "\r\n\r\n",
		  MGMT_HTTP_OK },
		{ "GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n", 0,
		  "HTTP/1.1 404 Not Found\r\n", "Content-Type: text/plain; charset=utf-8\r\n", NULL,
		  MGMT_HTTP_NOT_FOUND },
		{ "GET /metrics/x HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n", 0,
		  "HTTP/1.1 404 Not Found\r\n", "Content-Type: text/plain; charset=utf-8\r\n", NULL,
		  MGMT_HTTP_NOT_FOUND },
		{ "POST /metrics HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\nConnection: "
		  "close\r\n\r\nhello",
		  0, "HTTP/1.1 405 Method Not Allowed\r\n", "Allow: GET, HEAD\r\n", NULL,
		  MGMT_HTTP_METHOD_NOT_ALLOWED },
		{ "DELETE /metrics HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n", 0,
		  "HTTP/1.1 405 Method Not Allowed\r\n", "Allow: GET, HEAD\r\n", NULL,
		  MGMT_HTTP_METHOD_NOT_ALLOWED },
		{ "GET /metrics HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n", -ENODATA,
		  "HTTP/1.1 503 Service Unavailable\r\n",
		  "Content-Type: text/plain; charset=utf-8\r\n", NULL, MGMT_HTTP_UNAVAILABLE },
		{ "GET /metrics HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n", -EIO,
		  "HTTP/1.1 500 Internal Server Error\r\n",
		  "Content-Type: text/plain; charset=utf-8\r\n", NULL, MGMT_HTTP_FAILED },
	};
	struct server s = { 0 };
	uint64_t want[MGMT_HTTP_RESULT_MAX] = { 0 };
	uint16_t port = free_port();
	struct sg_cfg_listen l = listen_at(SG_CFG_LISTEN_SET, port);
	char buf[4096];

	(void)state;
	assert_int_equal(mgmt_http_open(&s.h, &l, render), 0);
	assert_true(mgmt_http_fd(&s.h) >= 0);
	snprintf(buf, sizeof(buf), "127.0.0.1:%u", port);
	assert_string_equal(s.h.addr, buf);
	assert_int_equal(pthread_create(&s.tid, NULL, serve, &s), 0);
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		size_t n;

		__atomic_store_n(&render_rc, rows[i].render_rc, __ATOMIC_RELEASE);
		exchange(port, rows[i].req, buf, sizeof(buf));
		n = strlen(buf);
		if (strncmp(buf, rows[i].status, strlen(rows[i].status)) != 0 ||
		    strstr(buf, rows[i].header) == NULL ||
		    (rows[i].body != NULL &&
		     (n < strlen(rows[i].body) ||
		      strcmp(buf + n - strlen(rows[i].body), rows[i].body) != 0)) ||
		    (rows[i].body == NULL && strstr(buf, "stormgate_up") != NULL))
			fail_msg("row %zu: got\n%s", i, buf);
		want[rows[i].result]++;
	}
	/* Headers past HTTP_REQUEST_MAX: libmicrohttpd's own 431, nothing rendered or counted. */
	{
		static char big[24 << 10];
		int n = snprintf(big, sizeof(big), "GET /metrics HTTP/1.1\r\nHost: t\r\nX-Pad: ");

		memset(big + n, 'a', sizeof(big) - (size_t)n - 5);
		memcpy(big + sizeof(big) - 5, "\r\n\r\n", 5);
		exchange(port, big, buf, sizeof(buf));
		if (strncmp(buf, "HTTP/1.1 431 ", 13) != 0 || strstr(buf, "stormgate_up") != NULL)
			fail_msg("oversized headers: got\n%.300s", buf);
	}
	__atomic_store_n(&s.stop, 1, __ATOMIC_RELEASE);
	pthread_join(s.tid, NULL);
	for (unsigned r = 0; r < MGMT_HTTP_RESULT_MAX; r++)
		if (s.h.requests[r] != want[r])
			fail_msg("%s: %llu requests, want %llu",
			         mgmt_http_result_name((enum mgmt_http_result)r),
			         (unsigned long long)s.h.requests[r], (unsigned long long)want[r]);
	assert_string_equal(mgmt_http_result_name(MGMT_HTTP_RESULT_MAX), "?");
}

/* Off, a given address taken, the default taken. */
static void test_addresses(void **state)
{
	struct sg_cfg_listen off = { .state = SG_CFG_LISTEN_OFF };
	struct mgmt_http h = { 0 }, h2 = { 0 };
	uint16_t port = free_port();
	struct sg_cfg_listen given = listen_at(SG_CFG_LISTEN_SET, port);
	struct sg_cfg_listen dflt = listen_at(SG_CFG_LISTEN_DEFAULT, port);

	(void)state;
	assert_int_equal(mgmt_http_open(&h, &off, render), 0);
	assert_int_equal(mgmt_http_fd(&h), -1);
	assert_string_equal(h.addr, "");
	assert_int_equal(mgmt_http_timeout_ms(&h, 250), 250);
	mgmt_http_run(&h); /* nothing to run */
	mgmt_http_close(&h);

	assert_int_equal(mgmt_http_open(&h, &given, render), 0);
	assert_true(mgmt_http_fd(&h) >= 0);
	assert_int_equal(mgmt_http_open(&h2, &given, render), -EADDRINUSE);
	assert_int_equal(mgmt_http_fd(&h2), -1);
	assert_int_equal(mgmt_http_open(&h2, &dflt, render), 0); /* a warning, not served */
	assert_int_equal(mgmt_http_fd(&h2), -1);
	assert_string_equal(h2.addr, "");
	mgmt_http_close(&h);
	mgmt_http_close(&h); /* idempotent */
	/* Closed: the port is free again. */
	assert_int_equal(mgmt_http_open(&h2, &given, render), 0);
	mgmt_http_close(&h2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_requests),
		cmocka_unit_test(test_addresses),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
