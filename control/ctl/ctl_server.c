/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Control socket server: one epoll set, non-blocking sockets, per-client
 * bounded buffers. While a client has unsent output we stop reading from it,
 * so a client that never reads cannot make us queue without bound; past
 * max_output (or its idle timeout) it is disconnected. Consumed request
 * bytes are wiped: requests may carry PSKs.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <stormgate/common.h>

#include "sg_ctl.h"
#include "sg_log.h"

#define LISTENER     UINT32_MAX
#define EVENTS_MAX   32
#define IN_INITIAL   4096
#define OUT_SOFT     (256u << 10) /* stop answering a client with this much unsent */
#define OUT_DEFAULT  (16u << 20)  /* max_output when the config leaves it 0 */
#define ACCEPT_BURST 64           /* connections accepted per wake-up, to stay fair */

struct client {
	int fd;
	uint32_t slot;
	uint64_t id; /* never reused: commands spanning requests key on it */
	char *in;
	size_t in_len, in_cap;
	char *out;
	size_t out_len, out_off, out_cap;
	uint64_t last_ms;
	int eof;     /* the peer has finished sending */
	int closing; /* close once out is drained */
	uint32_t events;
};

struct sg_ctl_server {
	struct sg_ctl_server_cfg cfg;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	int lfd, epfd;
	dev_t dev;
	ino_t ino;
	struct client **clients; /* max_clients slots */
	unsigned n_clients;
	uint64_t next_id; /* id of the next client accepted */
	uint64_t current; /* client whose request runs, 0: none */
	struct sg_ctl_stats st;
};

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void client_close(struct sg_ctl_server *srv, struct client *c)
{
	epoll_ctl(srv->epfd, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	srv->clients[c->slot] = NULL;
	srv->n_clients--;
	if (srv->cfg.on_close != NULL)
		srv->cfg.on_close(srv->cfg.ctx, c->id);
	if (c->in != NULL)
		sg_wipe(c->in, c->in_cap);
	free(c->in);
	free(c->out);
	free(c);
}

static int client_set_events(struct sg_ctl_server *srv, struct client *c, uint32_t events)
{
	struct epoll_event ev = { .events = events, .data.u64 = c->slot };

	if (c->events == events)
		return 0;
	c->events = events;
	return epoll_ctl(srv->epfd, EPOLL_CTL_MOD, c->fd, &ev) == 0 ? 0 : -errno;
}

static int out_append(struct sg_ctl_server *srv, struct client *c, const char *s, size_t n)
{
	if (c->out_len + n > srv->cfg.max_output)
		return -ENOBUFS;
	if (c->out_len + n > c->out_cap) {
		size_t cap = c->out_cap ? c->out_cap : 4096;
		while (cap < c->out_len + n)
			cap *= 2;
		char *o = realloc(c->out, cap);
		if (o == NULL)
			return -ENOMEM;
		c->out = o;
		c->out_cap = cap;
	}
	memcpy(c->out + c->out_len, s, n);
	c->out_len += n;
	return 0;
}

/*
 * Queue one response line. An answer that alone would pass max_output is
 * replaced by a response_too_large error (the client asked for too much at
 * once: fewer items per page); one that only does not fit behind what is
 * still queued drops the client, which is not reading.
 */
static int respond(struct sg_ctl_server *srv, struct client *c, json_t *resp)
{
	size_t len;
	char *line;
	int rc;

	if (resp == NULL)
		return -ENOMEM;
	srv->st.requests++;
	if (json_object_get(resp, "error") != NULL)
		srv->st.errors++;
	line = sg_ctl_dump_line(resp, &len);
	if (line != NULL && len > srv->cfg.max_output) {
		char msg[128];

		free(line);
		snprintf(msg, sizeof(msg),
		         "the answer is %zu bytes, over control.max_output (%zu): ask for less",
		         len, srv->cfg.max_output);
		json_t *e = sg_ctl_error_response(json_object_get(resp, "id"), SG_CTL_ETOOBIG, msg);
		line = e != NULL ? sg_ctl_dump_line(e, &len) : NULL;
		json_decref(e);
		srv->st.errors++;
	}
	json_decref(resp);
	if (line == NULL)
		return -ENOMEM;
	rc = out_append(srv, c, line, len);
	free(line);
	return rc;
}

/* Send what the socket takes now. Returns 0 (maybe partial) or -errno. */
static int client_write(struct client *c)
{
	while (c->out_off < c->out_len) {
		ssize_t n = send(c->fd, c->out + c->out_off, c->out_len - c->out_off,
		                 MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return 0;
			return -errno;
		}
		c->out_off += (size_t)n;
	}
	c->out_off = c->out_len = 0;
	return 0;
}

/* A complete request line waits in the input buffer. */
static int has_line(const struct client *c)
{
	return c->in_len > 0 && memchr(c->in, '\n', c->in_len) != NULL;
}

/*
 * Answer the complete lines in the input buffer, in order, until OUT_SOFT
 * bytes of answers wait to be sent; the rest stays buffered until they are.
 */
static int client_process(struct sg_ctl_server *srv, struct client *c)
{
	size_t start = 0;
	int rc = 0;

	while (rc == 0 && !c->closing && c->out_len < OUT_SOFT && start < c->in_len) {
		char *nl = memchr(c->in + start, '\n', c->in_len - start);
		if (nl == NULL)
			break;
		size_t len = (size_t)(nl - (c->in + start));
		const char *line = c->in + start;

		if (len > 0 && line[len - 1] == '\r')
			len--;
		if (len > 0) {
			srv->current = c->id;
			rc = respond(srv, c,
			             sg_ctl_handle(srv->cfg.cmds, srv->cfg.n_cmds, srv->cfg.ctx,
			                           line, len));
			srv->current = 0;
		}
		start = (size_t)(nl - c->in) + 1;
	}
	if (start > 0) {
		memmove(c->in, c->in + start, c->in_len - start);
		/* The request text may hold a PSK: no copy stays behind the live bytes. */
		sg_wipe(c->in + c->in_len - start, start);
		c->in_len -= start;
	}
	if (rc == 0 && !c->closing && c->in_len > srv->cfg.max_request && !has_line(c)) {
		char msg[96];

		snprintf(msg, sizeof(msg), "request longer than %zu bytes", srv->cfg.max_request);
		rc = respond(srv, c, sg_ctl_error_response(NULL, SG_CTL_ETOOLARGE, msg));
		c->closing = 1;
		srv->st.oversized++;
		SG_LOG(CTL, NOTICE, "client %d: request longer than %zu bytes, closing", c->fd,
		       srv->cfg.max_request);
	}
	return rc;
}

static int client_read(struct sg_ctl_server *srv, struct client *c)
{
	for (;;) {
		if (c->in_len == c->in_cap) {
			size_t limit = srv->cfg.max_request + 1;
			if (c->in_cap >= limit)
				break; /* full: client_process() reports request_too_large */
			size_t cap = c->in_cap ? c->in_cap * 2 : IN_INITIAL;
			if (cap > limit)
				cap = limit;
			char *in = realloc(c->in, cap);
			if (in == NULL)
				return -ENOMEM;
			c->in = in;
			c->in_cap = cap;
		}
		ssize_t n = recv(c->fd, c->in + c->in_len, c->in_cap - c->in_len, MSG_DONTWAIT);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				break;
			return -errno;
		}
		if (n == 0) {
			/* Peer finished sending: its last line may lack the newline. */
			c->eof = 1;
			if (c->in_len > 0 && c->in[c->in_len - 1] != '\n' && c->in_len < c->in_cap)
				c->in[c->in_len++] = '\n';
			break;
		}
		c->in_len += (size_t)n;
	}
	return 0;
}

/*
 * Read (only while no answer is waiting: a client that does not read its
 * answers gets no more served), answer, write. Returns 0 to keep the
 * client, < 0 to drop it.
 */
static int client_event(struct sg_ctl_server *srv, struct client *c, uint32_t events)
{
	int rc = 0;

	c->last_ms = now_ms();
	if ((events & EPOLLIN) && !c->closing && !c->eof && c->out_len == 0)
		rc = client_read(srv, c);
	/* Drained answers may unblock lines already buffered: go on while the socket takes it. */
	for (int round = 0; rc == 0 && round < 8; round++) {
		rc = client_process(srv, c);
		if (rc == 0)
			rc = client_write(c);
		if (c->out_len > 0 || c->closing || !has_line(c))
			break;
	}
	if (rc != 0)
		return rc;
	if (c->eof && !has_line(c))
		c->closing = 1; /* answered all it sent: close once that is out */
	if (c->out_len > 0)
		return client_set_events(srv, c, EPOLLOUT);
	if (c->closing)
		return -ECONNRESET;
	if (events & (EPOLLHUP | EPOLLERR))
		return -ECONNRESET;
	return client_set_events(srv, c, EPOLLIN);
}

static void listener_event(struct sg_ctl_server *srv)
{
	for (int i = 0; i < ACCEPT_BURST; i++) {
		int fd = accept4(srv->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
				SG_LOG(CTL, WARNING, "accept: %s", strerror(errno));
			return;
		}
		if (srv->n_clients >= srv->cfg.max_clients) {
			srv->st.refused++;
			static const char busy[] =
			        "{\"v\":1,\"error\":{\"code\":\"" SG_CTL_EBUSY
			        "\",\"message\":\"too many control clients\"}}\n";
			/* Best effort on a fresh socket: it has room for one line. */
			ssize_t n = send(fd, busy, sizeof(busy) - 1, MSG_NOSIGNAL | MSG_DONTWAIT);
			(void)n;
			close(fd);
			SG_LOG(CTL, NOTICE, "refused a client: %u connected (control.max_clients)",
			       srv->n_clients);
			continue;
		}
		uint32_t slot = 0;
		while (srv->clients[slot] != NULL)
			slot++;
		struct client *c = calloc(1, sizeof(*c));
		if (c == NULL) {
			close(fd);
			return;
		}
		c->fd = fd;
		c->slot = slot;
		c->id = srv->next_id++;
		c->last_ms = now_ms();
		c->events = EPOLLIN;
		struct epoll_event ev = { .events = EPOLLIN, .data.u64 = slot };
		if (epoll_ctl(srv->epfd, EPOLL_CTL_ADD, fd, &ev) != 0) {
			close(fd);
			free(c);
			return;
		}
		srv->clients[slot] = c;
		srv->n_clients++;
		srv->st.accepted++;
		SG_LOG(CTL, DEBUG, "client %d connected (%u now)", fd, srv->n_clients);
	}
}

/*
 * An idle client is closed. One that left half a request behind is told so
 * first (best effort: one non-blocking send behind whatever is queued).
 */
static void client_timeout(struct sg_ctl_server *srv, struct client *c)
{
	SG_LOG(CTL, INFO, "client %d idle for %u ms%s, closing", c->fd, srv->cfg.idle_timeout_ms,
	       c->in_len > 0 ? " in the middle of a request" : "");
	if (c->in_len > 0 && c->out_len == 0) {
		char msg[128];

		snprintf(msg, sizeof(msg),
		         "request incomplete (%zu bytes, no newline) after %u ms idle: closing",
		         c->in_len, srv->cfg.idle_timeout_ms);
		if (respond(srv, c, sg_ctl_error_response(NULL, SG_CTL_ETIMEOUT, msg)) == 0)
			client_write(c);
	}
	srv->st.timeouts++;
	client_close(srv, c);
}

int sg_ctl_server_run(struct sg_ctl_server *srv, int timeout_ms)
{
	struct epoll_event evs[EVENTS_MAX];
	int n = epoll_wait(srv->epfd, evs, EVENTS_MAX, timeout_ms);

	if (n < 0)
		return errno == EINTR ? 0 : -errno;
	for (int i = 0; i < n; i++) {
		if (evs[i].data.u64 == LISTENER) {
			listener_event(srv);
			continue;
		}
		struct client *c = srv->clients[evs[i].data.u64];
		if (c == NULL)
			continue;
		int rc = client_event(srv, c, evs[i].events);
		if (rc != 0) {
			if (rc != -ECONNRESET) {
				SG_LOG(CTL, INFO, "client %d dropped: %s", c->fd, strerror(-rc));
				srv->st.dropped++;
			}
			client_close(srv, c);
		}
	}

	uint64_t now = now_ms();
	for (unsigned s = 0; s < srv->cfg.max_clients && srv->cfg.idle_timeout_ms; s++) {
		struct client *c = srv->clients[s];
		if (c != NULL && now - c->last_ms > srv->cfg.idle_timeout_ms)
			client_timeout(srv, c);
	}
	return n;
}

void sg_ctl_server_flush(struct sg_ctl_server *srv, int timeout_ms)
{
	uint64_t deadline = now_ms() + (uint64_t)timeout_ms;

	for (;;) {
		unsigned pending = 0;
		for (unsigned s = 0; s < srv->cfg.max_clients; s++) {
			struct client *c = srv->clients[s];
			if (c == NULL || c->out_len == 0)
				continue;
			if (client_write(c) != 0) {
				client_close(srv, c);
				continue;
			}
			pending += c->out_len > 0;
		}
		uint64_t now = now_ms();
		if (pending == 0 || now >= deadline)
			return;
		struct epoll_event evs[EVENTS_MAX];
		(void)epoll_wait(srv->epfd, evs, EVENTS_MAX, (int)(deadline - now));
	}
}

unsigned sg_ctl_server_clients(const struct sg_ctl_server *srv)
{
	return srv->n_clients;
}

uint64_t sg_ctl_server_client(const struct sg_ctl_server *srv)
{
	return srv->current;
}

void sg_ctl_server_stats(const struct sg_ctl_server *srv, struct sg_ctl_stats *st)
{
	*st = srv->st;
}

int sg_ctl_server_fd(const struct sg_ctl_server *srv)
{
	return srv->epfd;
}

/* Is somebody answering on this socket path? */
static int socket_alive(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	int alive;

	if (fd < 0)
		return 0;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	alive = connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
	close(fd);
	return alive;
}

static int prepare_path(const char *path)
{
	char dir[PATH_MAX];
	struct stat st;

	snprintf(dir, sizeof(dir), "%s", path);
	char *d = dirname(dir);
	if (stat(d, &st) != 0) {
		if (errno != ENOENT || mkdir(d, 0755) != 0)
			return -errno;
	} else if (!S_ISDIR(st.st_mode)) {
		return -ENOTDIR;
	}
	if (lstat(path, &st) != 0)
		return errno == ENOENT ? 0 : -errno;
	if (!S_ISSOCK(st.st_mode))
		return -EEXIST;
	if (socket_alive(path))
		return -EADDRINUSE;
	/* A stale socket left by a daemon that did not exit cleanly. */
	return unlink(path) == 0 ? 0 : -errno;
}

static int set_owner(const char *path, const char *group, unsigned mode)
{
	if (group != NULL && group[0] != '\0') {
		struct group gr, *res = NULL;
		char buf[4096];
		int rc = getgrnam_r(group, &gr, buf, sizeof(buf), &res);

		if (res == NULL) {
			SG_LOG(CTL, ERR, "control socket group '%s' does not exist", group);
			return rc ? -rc : -ENOENT;
		}
		if (chown(path, (uid_t)-1, gr.gr_gid) != 0)
			return -errno;
	}
	return chmod(path, mode) == 0 ? 0 : -errno;
}

struct sg_ctl_server *sg_ctl_server_create(const struct sg_ctl_server_cfg *cfg)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct sg_ctl_server *srv;
	struct stat st;
	mode_t old;
	int rc;

	if (cfg->path == NULL || strlen(cfg->path) >= sizeof(sa.sun_path) ||
	    cfg->max_clients == 0 || cfg->max_request == 0) {
		errno = EINVAL;
		return NULL;
	}
	srv = calloc(1, sizeof(*srv));
	if (srv == NULL)
		return NULL;
	srv->cfg = *cfg;
	if (srv->cfg.max_output == 0)
		srv->cfg.max_output = OUT_DEFAULT;
	srv->lfd = srv->epfd = -1;
	srv->next_id = 1;
	snprintf(srv->path, sizeof(srv->path), "%s", cfg->path);
	srv->clients = calloc(cfg->max_clients, sizeof(*srv->clients));
	if (srv->clients == NULL) {
		rc = -ENOMEM;
		goto fail;
	}
	rc = prepare_path(cfg->path);
	if (rc != 0)
		goto fail_clients;
	srv->lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (srv->lfd < 0) {
		rc = -errno;
		goto fail_clients;
	}
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", cfg->path);
	/* Created owner-only, then opened up to `mode`: never wider than asked, not even briefly.
	 */
	old = umask(0177);
	rc = bind(srv->lfd, (struct sockaddr *)&sa, sizeof(sa)) == 0 ? 0 : -errno;
	umask(old);
	if (rc != 0)
		goto fail_sock;
	if (stat(cfg->path, &st) != 0) {
		rc = -errno;
		goto fail_unlink;
	}
	srv->dev = st.st_dev;
	srv->ino = st.st_ino;
	rc = set_owner(cfg->path, cfg->group, cfg->mode);
	if (rc != 0)
		goto fail_unlink;
	if (listen(srv->lfd, 64) != 0) {
		rc = -errno;
		goto fail_unlink;
	}
	srv->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (srv->epfd < 0) {
		rc = -errno;
		goto fail_unlink;
	}
	struct epoll_event ev = { .events = EPOLLIN, .data.u64 = LISTENER };
	if (epoll_ctl(srv->epfd, EPOLL_CTL_ADD, srv->lfd, &ev) != 0) {
		rc = -errno;
		goto fail_epoll;
	}
	SG_LOG(CTL, INFO, "listening on %s (mode %04o%s%s)", cfg->path, cfg->mode,
	       cfg->group && cfg->group[0] ? ", group " : "", cfg->group ? cfg->group : "");
	return srv;

fail_epoll:
	close(srv->epfd);
fail_unlink:
	unlink(cfg->path);
fail_sock:
	close(srv->lfd);
fail_clients:
	free(srv->clients);
fail:
	free(srv);
	errno = -rc;
	return NULL;
}

void sg_ctl_server_destroy(struct sg_ctl_server *srv)
{
	struct stat st;

	if (srv == NULL)
		return;
	for (unsigned s = 0; s < srv->cfg.max_clients; s++)
		if (srv->clients[s] != NULL)
			client_close(srv, srv->clients[s]);
	close(srv->epfd);
	close(srv->lfd);
	/* Only our own socket: a newer daemon may have replaced it. */
	if (stat(srv->path, &st) == 0 && st.st_dev == srv->dev && st.st_ino == srv->ino)
		unlink(srv->path);
	free(srv->clients);
	free(srv);
}
