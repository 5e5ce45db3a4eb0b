/* SPDX-License-Identifier: Apache-2.0 */
/*
 * /metrics over HTTP with libmicrohttpd (http.h): the listening socket, the
 * server's limits, the one request it answers. External polling mode with
 * epoll: no thread of libmicrohttpd's own; the management thread polls the
 * epoll fd and calls MHD_run(). Opened on the gateway thread before that
 * thread starts; everything else on the management thread.
 *
 * Limits, so that a scraper, a slow client or garbage costs only itself:
 * HTTP_CLIENTS connections at once (then libmicrohttpd stops accepting:
 * the next waits in the listen backlog), each closed after HTTP_TIMEOUT_S
 * without progress, and HTTP_REQUEST_MAX bytes for a request's line and
 * headers (past it libmicrohttpd answers 431, or 414 for the line, and
 * closes). A body is never read: only GET and HEAD are served. A scrape is
 * the render function's text in one buffer (the statistics: a few hundred
 * lines, whatever the number of sessions); its sending is non-blocking
 * like the rest.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <microhttpd.h>

#include <stormgate/common.h>

#include "http.h"
#include "sg_log.h"

#define METRICS_PATH "/metrics"

/* The exposition format's media type (Prometheus text format 0.0.4). */
#define METRICS_TYPE "text/plain; version=0.0.4"

#define HTTP_CLIENTS     16         /* connections at once */
#define HTTP_TIMEOUT_S   10         /* seconds without progress before a connection is closed */
#define HTTP_REQUEST_MAX (16 << 10) /* bytes of request line and headers (MHD's pool) */
#define HTTP_BACKLOG     16

static const char *const result_names[MGMT_HTTP_RESULT_MAX] = {
	[MGMT_HTTP_OK] = "ok",
	[MGMT_HTTP_NOT_FOUND] = "not_found",
	[MGMT_HTTP_METHOD_NOT_ALLOWED] = "method_not_allowed",
	[MGMT_HTTP_UNAVAILABLE] = "unavailable",
	[MGMT_HTTP_FAILED] = "failed",
};

const char *mgmt_http_result_name(enum mgmt_http_result r)
{
	return r < MGMT_HTTP_RESULT_MAX ? result_names[r] : "?";
}

/* libmicrohttpd's messages (a client's malformed request among them): debug, one line each. */
static void mhd_log(void *cls, const char *fmt, va_list ap)
{
	char line[256];
	size_t n;

	(void)cls;
	vsnprintf(line, sizeof(line), fmt, ap);
	n = strlen(line);
	while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
		line[--n] = '\0';
	SG_LOG(CTL, DEBUG, "metrics http: %s", line);
}

/*
 * Queue one answer: status, body (static, or malloc'd and handed over when
 * owned), the type, and Allow for a 405. Counts it under result.
 */
static enum MHD_Result answer(struct mgmt_http *h, struct MHD_Connection *c, unsigned status,
                              enum mgmt_http_result result, char *body, size_t len, int owned)
{
	struct MHD_Response *r;
	enum MHD_Result ok;

	r = MHD_create_response_from_buffer(len, body,
	                                    owned ? MHD_RESPMEM_MUST_FREE : MHD_RESPMEM_PERSISTENT);
	if (r == NULL) {
		if (owned)
			free(body);
		return MHD_NO; /* the connection is closed */
	}
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE,
	                        result == MGMT_HTTP_OK ? METRICS_TYPE
	                                               : "text/plain; charset=utf-8");
	if (result == MGMT_HTTP_METHOD_NOT_ALLOWED)
		MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
	ok = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	__atomic_fetch_add(&h->requests[result], 1, __ATOMIC_RELAXED);
	return ok;
}

/* A static text answer. */
static enum MHD_Result answer_text(struct mgmt_http *h, struct MHD_Connection *c, unsigned status,
                                   enum mgmt_http_result result, const char *text)
{
	return answer(h, c, status, result, (char *)text, strlen(text), 0);
}

/* The metrics, from the render function. */
static enum MHD_Result answer_metrics(struct mgmt_http *h, struct MHD_Connection *c)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f;
	int rc;

	f = open_memstream(&text, &len);
	if (f == NULL)
		return answer_text(h, c, MHD_HTTP_INTERNAL_SERVER_ERROR, MGMT_HTTP_FAILED,
		                   "out of memory\n");
	rc = h->render(f);
	if (fclose(f) != 0 && rc == 0)
		rc = -ENOMEM;
	if (rc != 0) {
		free(text);
		if (rc == -ENODATA)
			return answer_text(
			        h, c, MHD_HTTP_SERVICE_UNAVAILABLE, MGMT_HTTP_UNAVAILABLE,
			        "no statistics yet: the daemon is starting or stopping\n");
		return answer_text(h, c, MHD_HTTP_INTERNAL_SERVER_ERROR, MGMT_HTTP_FAILED,
		                   "the metrics could not be rendered\n");
	}
	return answer(h, c, MHD_HTTP_OK, MGMT_HTTP_OK, text, len, 1);
}

/*
 * Every request, at its first call (its headers read): answered at once, so
 * a request's body, if any, is never read (libmicrohttpd closes the
 * connection after the answer instead). HEAD gets GET's headers without
 * the body (libmicrohttpd).
 */
static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_size, void **req)
{
	struct mgmt_http *h = cls;

	(void)version;
	(void)upload_data;
	(void)upload_size;
	(void)req;
	if (strcmp(url, METRICS_PATH) != 0)
		return answer_text(h, c, MHD_HTTP_NOT_FOUND, MGMT_HTTP_NOT_FOUND,
		                   "not found: the metrics are at " METRICS_PATH "\n");
	if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 && strcmp(method, MHD_HTTP_METHOD_HEAD) != 0)
		return answer_text(h, c, MHD_HTTP_METHOD_NOT_ALLOWED, MGMT_HTTP_METHOD_NOT_ALLOWED,
		                   "only GET and HEAD\n");
	return answer_metrics(h, c);
}

/* A listening TCP socket on e (non-blocking). The fd, or -errno. */
static int listen_on(const struct sg_cfg_endpoint *e)
{
	struct sockaddr_storage ss = { 0 };
	socklen_t sl;
	int one = 1, fd, rc;

	if (e->family == AF_INET6) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;

		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(e->port);
		memcpy(&s6->sin6_addr, e->addr, 16);
		sl = sizeof(*s6);
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;

		s4->sin_family = AF_INET;
		s4->sin_port = htons(e->port);
		memcpy(&s4->sin_addr, e->addr, 4);
		sl = sizeof(*s4);
	}
	fd = socket(e->family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	/* A restarted daemon binds again while the old connections linger in TIME_WAIT. */
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (e->family == AF_INET6) /* [::] means IPv6 only, as written */
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&ss, sl) != 0 || listen(fd, HTTP_BACKLOG) != 0) {
		rc = -errno;
		close(fd);
		return rc;
	}
	return fd;
}

/*
 * The server on the listening socket fd, which it owns from here (also when
 * it fails: the daemon then stops). 0 or -errno.
 */
static int start_server(struct mgmt_http *h, int fd)
{
	h->d = MHD_start_daemon(MHD_USE_EPOLL | MHD_USE_ERROR_LOG, 0, NULL, NULL, on_request, h,
	                        MHD_OPTION_LISTEN_SOCKET, (MHD_socket)fd,
	                        MHD_OPTION_CONNECTION_LIMIT, (unsigned)HTTP_CLIENTS,
	                        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)HTTP_TIMEOUT_S,
	                        MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)HTTP_REQUEST_MAX,
	                        MHD_OPTION_STRICT_FOR_CLIENT, 1, MHD_OPTION_EXTERNAL_LOGGER,
	                        mhd_log, NULL, MHD_OPTION_END);
	return h->d != NULL ? 0 : -ENOMEM;
}

int mgmt_http_open(struct mgmt_http *h, const struct sg_cfg_listen *l, mgmt_http_render_fn *render)
{
	char addr[sizeof(h->addr)];
	int fd, rc;

	h->d = NULL;
	h->render = render;
	h->addr[0] = '\0';
	if (l->state == SG_CFG_LISTEN_OFF) {
		SG_LOG(CTL, INFO, "metrics over HTTP: off (metrics.listen)");
		return 0;
	}
	sg_cfg_endpoint_str(&l->addr, addr, sizeof(addr));
	fd = listen_on(&l->addr);
	if (fd == -EADDRINUSE && l->state == SG_CFG_LISTEN_DEFAULT) {
		SG_LOG(CTL, WARNING,
		       "metrics over HTTP: the default address %s is in use (another stormgate?): "
		       "not served; set metrics.listen to another address, or off",
		       addr);
		return 0;
	}
	if (fd < 0) {
		SG_LOG(CTL, ERR, "metrics.listen %s: cannot listen: %s", addr, strerror(-fd));
		return fd;
	}
	rc = start_server(h, fd);
	if (rc != 0) {
		SG_LOG(CTL, ERR, "metrics.listen %s: the HTTP server did not start", addr);
		return rc;
	}
	memcpy(h->addr, addr, sizeof(addr));
	if (!sg_cfg_endpoint_loopback(&l->addr))
		SG_LOG(CTL, WARNING,
		       "metrics over HTTP on %s, not a loopback address: anyone who reaches it "
		       "reads "
		       "the gateway's operational numbers, without authentication "
		       "(docs/control.md)",
		       addr);
	SG_LOG(CTL, INFO, "metrics over HTTP: http://%s" METRICS_PATH, addr);
	return 0;
}

int mgmt_http_fd(const struct mgmt_http *h)
{
	const union MHD_DaemonInfo *i;

	if (h->d == NULL)
		return -1;
	i = MHD_get_daemon_info(h->d, MHD_DAEMON_INFO_EPOLL_FD);
	return i != NULL ? i->epoll_fd : -1;
}

int mgmt_http_timeout_ms(struct mgmt_http *h, int max_ms)
{
	MHD_UNSIGNED_LONG_LONG t;

	if (h->d == NULL || MHD_get_timeout(h->d, &t) != MHD_YES || t >= (unsigned)max_ms)
		return max_ms;
	return (int)t;
}

void mgmt_http_run(struct mgmt_http *h)
{
	if (h->d != NULL)
		MHD_run(h->d);
}

void mgmt_http_close(struct mgmt_http *h)
{
	if (h->d == NULL)
		return;
	MHD_stop_daemon(h->d);
	h->d = NULL;
}
