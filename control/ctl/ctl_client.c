/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Control socket client transport (sg_ctl_client.h): a blocking UNIX stream
 * connection, answers read line by line under a deadline. The caller's
 * thread; no DPDK, no logging: failures are described in c->why.
 */
#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <stormgate/common.h>
#include <stormgate/time.h>

#include "sg_ctl_client.h"

#define BUF_INITIAL 65536

struct sg_ctl_client {
	int fd;
	int eof;         /* the peer closed its side */
	char *buf;       /* bytes received, lines not yet returned */
	size_t got, cap; /* bytes in buf, its size */
	size_t consumed; /* bytes of the line returned last: dropped at the next read */
	size_t max_line;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	char why[256];
};

__attribute__((format(printf, 2, 3))) static void set_why(struct sg_ctl_client *c, const char *fmt,
                                                          ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(c->why, sizeof(c->why), fmt, ap);
	va_end(ap);
}

struct sg_ctl_client *sg_ctl_client_open(const char *path, size_t max_line)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct sg_ctl_client *c;
	int e;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		errno = ENAMETOOLONG;
		return NULL;
	}
	c = calloc(1, sizeof(*c));
	if (c == NULL)
		return NULL;
	c->max_line = max_line ? max_line : SG_CTL_CLIENT_LINE_MAX;
	snprintf(c->path, sizeof(c->path), "%s", path);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (c->fd >= 0 && connect(c->fd, (struct sockaddr *)&sa, sizeof(sa)) == 0)
		return c;
	e = errno;
	sg_ctl_client_close(c);
	errno = e;
	return NULL;
}

int sg_ctl_client_fd(const struct sg_ctl_client *c)
{
	return c->fd;
}

const char *sg_ctl_client_why(const struct sg_ctl_client *c)
{
	return c->why;
}

void sg_ctl_client_close(struct sg_ctl_client *c)
{
	if (c == NULL)
		return;
	if (c->fd >= 0)
		close(c->fd);
	if (c->buf != NULL)
		sg_wipe(c->buf, c->cap);
	free(c->buf);
	free(c);
}

int sg_ctl_client_send(struct sg_ctl_client *c, const void *buf, size_t len)
{
	const char *p = buf;

	while (len > 0) {
		ssize_t n = send(c->fd, p, len, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int e = errno;

			set_why(c, "send to %s: %s", c->path, strerror(e));
			return -e;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int sg_ctl_client_send_json(struct sg_ctl_client *c, const json_t *msg)
{
	size_t len;
	char *line = sg_ctl_dump_line(msg, &len);
	int rc;

	if (line == NULL) {
		set_why(c, "out of memory");
		return -ENOMEM;
	}
	rc = sg_ctl_client_send(c, line, len);
	sg_wipe(line, len);
	free(line);
	return rc;
}

/* Make room for more bytes. Returns 0, -EMSGSIZE past max_line, or -ENOMEM. */
static int buf_room(struct sg_ctl_client *c)
{
	size_t cap;
	char *nb;

	if (c->got < c->cap)
		return 0;
	if (c->cap >= c->max_line) {
		set_why(c, "answer larger than %zu bytes", c->max_line);
		return -EMSGSIZE;
	}
	cap = c->cap ? c->cap * 2 : BUF_INITIAL;
	if (cap > c->max_line)
		cap = c->max_line;
	nb = realloc(c->buf, cap);
	if (nb == NULL) {
		set_why(c, "out of memory");
		return -ENOMEM;
	}
	c->buf = nb;
	c->cap = cap;
	return 0;
}

/*
 * Receive what is there, or wait until deadline for more. Returns 0 after
 * progress (bytes, or the peer's close noted in c->eof), -EAGAIN /
 * -ETIMEDOUT when nothing came in time, or another -errno.
 */
static int fill(struct sg_ctl_client *c, int64_t deadline, int timeout_ms)
{
	int rc = buf_room(c);

	while (rc == 0) {
		ssize_t n = recv(c->fd, c->buf + c->got, c->cap - c->got, MSG_DONTWAIT);

		if (n > 0) {
			c->got += (size_t)n;
			return 0;
		}
		if (n == 0 || (errno != EINTR && errno != EAGAIN && errno != EWOULDBLOCK)) {
			c->eof = 1; /* closed, or the socket failed: no answer will come */
			return 0;
		}
		if (errno == EINTR)
			continue;
		int64_t left = deadline - (int64_t)sg_mono_ms();
		if (timeout_ms == 0)
			return -EAGAIN;
		if (left <= 0) {
			set_why(c, "no answer from %s within %d ms", c->path, timeout_ms);
			return -ETIMEDOUT;
		}
		struct pollfd pfd = { .fd = c->fd, .events = POLLIN };
		if (poll(&pfd, 1, (int)left) < 0 && errno != EINTR)
			rc = -errno;
	}
	return rc;
}

/* Drop the line returned last; the bytes behind it move to the front. */
static void drop_consumed(struct sg_ctl_client *c)
{
	if (c->consumed == 0)
		return;
	memmove(c->buf, c->buf + c->consumed, c->got - c->consumed);
	c->got -= c->consumed;
	c->consumed = 0;
}

static int read_line_until(struct sg_ctl_client *c, int64_t deadline, int timeout_ms,
                           const char **line, size_t *len)
{
	int rc = 0;

	drop_consumed(c);
	while (rc == 0) {
		char *nl = c->got ? memchr(c->buf, '\n', c->got) : NULL;

		if (nl != NULL) {
			*nl = '\0';
			*line = c->buf;
			*len = (size_t)(nl - c->buf);
			c->consumed = *len + 1;
			return 0;
		}
		if (c->eof) {
			set_why(c, "%s closed the connection without an answer", c->path);
			return -ECONNRESET;
		}
		rc = fill(c, deadline, timeout_ms);
	}
	return rc;
}

int sg_ctl_client_read_line(struct sg_ctl_client *c, int timeout_ms, const char **line, size_t *len)
{
	return read_line_until(c, (int64_t)sg_mono_ms() + timeout_ms, timeout_ms, line, len);
}

int sg_ctl_client_call(struct sg_ctl_client *c, const json_t *req, int timeout_ms, json_t **resp)
{
	int64_t deadline = (int64_t)sg_mono_ms() + timeout_ms;
	json_error_t jerr;
	const char *line;
	size_t len;
	int rc;

	*resp = NULL;
	rc = sg_ctl_client_send_json(c, req);
	if (rc == 0)
		rc = read_line_until(c, deadline, timeout_ms, &line, &len);
	if (rc != 0)
		return rc;
	*resp = json_loadb(line, len, 0, &jerr);
	if (*resp == NULL) {
		set_why(c, "bad answer from %s: %s", c->path, jerr.text);
		return -EBADMSG;
	}
	return 0;
}
