/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Control socket server (sg_ctl.h): one epoll set, non-blocking sockets,
 * per-client bounded buffers. While a client has unsent output we stop
 * reading from it, so a client that never reads cannot make us queue
 * without bound; past max_output (or its idle timeout) it is disconnected.
 * Consumed request bytes are wiped: requests may carry PSKs.
 *
 * Runs on the server's thread only (the daemon's management thread);
 * commands marked SG_CTL_ON_OWNER go through the owner queue (ctl_owner.c)
 * when one is configured, and their client pauses (out of the epoll set but
 * for pending output) until the answer comes back. Logs through sg_log
 * (rte_log): this part of the ctl library is the daemon's.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <stormgate/common.h>
#include <stormgate/time.h>

#include "ctl_owner.h"
#include "sg_ctl.h"
#include "sg_log.h"

#define LISTENER     UINT32_MAX
#define ANSWERS      (UINT32_MAX - 1) /* the owner queue's answer eventfd */
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
	int eof;         /* the peer has finished sending */
	int closing;     /* close once out is drained */
	int inflight;    /* a command of it is on the owner's thread: paused */
	uint32_t events; /* epoll interest, 0: out of the set */
};

struct sg_ctl_server {
	struct sg_ctl_server_cfg cfg;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	int lfd, epfd;
	dev_t dev;
	ino_t ino;
	struct client **clients; /* max_clients slots */
	unsigned n_clients;      /* written here, read by any thread (relaxed) */
	uint64_t next_id;        /* id of the next client accepted */
	struct sg_ctl_stats st;  /* written here, read by any thread (relaxed) */
};

/* One more on a counter only this thread writes and any thread may read. */
static void count(uint64_t *counter)
{
	__atomic_store_n(counter, *counter + 1, __ATOMIC_RELAXED);
}

static void set_clients(struct sg_ctl_server *srv, unsigned n)
{
	__atomic_store_n(&srv->n_clients, n, __ATOMIC_RELAXED);
}

static void client_close(struct sg_ctl_server *srv, struct client *c)
{
	if (c->events != 0)
		epoll_ctl(srv->epfd, EPOLL_CTL_DEL, c->fd, NULL);
	if (c->inflight)
		ctl_owner_forget(srv->cfg.owner, c); /* its answer comes back to nobody */
	close(c->fd);
	srv->clients[c->slot] = NULL;
	set_clients(srv, srv->n_clients - 1);
	if (srv->cfg.on_close != NULL)
		srv->cfg.on_close(srv->cfg.ctx, c->id);
	if (c->in != NULL)
		sg_wipe(c->in, c->in_cap);
	free(c->in);
	free(c->out);
	free(c);
}

/* Interest 0 takes the client out of the set: epoll reports a hang-up whatever the mask. */
static int client_set_events(struct sg_ctl_server *srv, struct client *c, uint32_t events)
{
	struct epoll_event ev = { .events = events, .data.u64 = c->slot };
	int op = events == 0 ? EPOLL_CTL_DEL : c->events == 0 ? EPOLL_CTL_ADD : EPOLL_CTL_MOD;

	if (c->events == events)
		return 0;
	c->events = events;
	return epoll_ctl(srv->epfd, op, c->fd, &ev) == 0 ? 0 : -errno;
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

static void count_answer(struct sg_ctl_server *srv, const json_t *resp)
{
	count(&srv->st.requests);
	if (json_object_get(resp, "error") != NULL)
		count(&srv->st.errors);
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
	count_answer(srv, resp);
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
		count(&srv->st.errors);
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
 * One request line: answered here, or handed to the owner's thread (the
 * client then waits for that answer: c->inflight).
 */
static int client_line(struct sg_ctl_server *srv, struct client *c, const char *line, size_t len)
{
	struct sg_ctl_req req;
	json_t *resp;

	if (sg_ctl_parse(srv->cfg.cmds, srv->cfg.n_cmds, line, len, &req, &resp) != 0)
		return respond(srv, c, resp);
	if (req.cmd->where == SG_CTL_ON_OWNER && srv->cfg.owner != NULL) {
		if (ctl_owner_submit(srv->cfg.owner, &req, srv->cfg.ctx, c, c->id) == 0) {
			c->inflight = 1;
			return 0;
		}
		resp = sg_ctl_error_response(req.id, SG_CTL_EOVERLOAD,
		                             "too many commands wait for the gateway's thread: "
		                             "try again");
	} else {
		ctl_current_client = c->id;
		resp = sg_ctl_run(&req, srv->cfg.ctx);
		ctl_current_client = 0;
	}
	sg_ctl_req_free(&req);
	return respond(srv, c, resp);
}

/*
 * Answer the complete lines in the input buffer, in order, until OUT_SOFT
 * bytes of answers wait to be sent or one went to the owner's thread; the
 * rest stays buffered until then.
 */
static int client_process(struct sg_ctl_server *srv, struct client *c)
{
	size_t start = 0;
	int rc = 0;

	while (rc == 0 && !c->closing && !c->inflight && c->out_len < OUT_SOFT &&
	       start < c->in_len) {
		char *nl = memchr(c->in + start, '\n', c->in_len - start);
		if (nl == NULL)
			break;
		size_t len = (size_t)(nl - (c->in + start));
		const char *line = c->in + start;

		if (len > 0 && line[len - 1] == '\r')
			len--;
		if (len > 0)
			rc = client_line(srv, c, line, len);
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
		count(&srv->st.oversized);
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

	c->last_ms = sg_mono_ms();
	if ((events & EPOLLIN) && !c->closing && !c->eof && c->out_len == 0 && !c->inflight)
		rc = client_read(srv, c);
	/* Drained answers may unblock lines already buffered: go on while the socket takes it. */
	for (int round = 0; rc == 0 && round < 8; round++) {
		rc = client_process(srv, c);
		if (rc == 0)
			rc = client_write(c);
		if (c->out_len > 0 || c->closing || c->inflight || !has_line(c))
			break;
	}
	if (rc != 0)
		return rc;
	if (c->inflight) /* paused until its answer: only what is queued still goes out */
		return client_set_events(srv, c, c->out_len > 0 ? EPOLLOUT : 0);
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

/* Past max_clients: one line saying so, then closed. */
static void refuse_client(struct sg_ctl_server *srv, int fd)
{
	static const char busy[] = "{\"v\":1,\"error\":{\"code\":\"" SG_CTL_EBUSY
	                           "\",\"message\":\"too many control clients\"}}\n";
	/* Best effort on a fresh socket: it has room for one line. */
	ssize_t n = send(fd, busy, sizeof(busy) - 1, MSG_NOSIGNAL | MSG_DONTWAIT);

	(void)n;
	count(&srv->st.refused);
	close(fd);
	SG_LOG(CTL, NOTICE, "refused a client: %u connected (control.max_clients)", srv->n_clients);
}

/* A new client in a free slot. Returns 0, or -errno (fd left to the caller). */
static int add_client(struct sg_ctl_server *srv, int fd)
{
	struct epoll_event ev = { .events = EPOLLIN };
	uint32_t slot = 0;
	struct client *c;

	while (srv->clients[slot] != NULL)
		slot++;
	c = calloc(1, sizeof(*c));
	if (c == NULL)
		return -ENOMEM;
	c->fd = fd;
	c->slot = slot;
	c->id = srv->next_id++;
	c->last_ms = sg_mono_ms();
	c->events = EPOLLIN;
	ev.data.u64 = slot;
	if (epoll_ctl(srv->epfd, EPOLL_CTL_ADD, fd, &ev) != 0) {
		int e = errno;

		free(c);
		return -e;
	}
	srv->clients[slot] = c;
	set_clients(srv, srv->n_clients + 1);
	count(&srv->st.accepted);
	SG_LOG(CTL, DEBUG, "client %d connected (%u now)", fd, srv->n_clients);
	return 0;
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
			refuse_client(srv, fd);
			continue;
		}
		if (add_client(srv, fd) != 0) {
			close(fd);
			return;
		}
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
	count(&srv->st.timeouts);
	client_close(srv, c);
}

/* A client_event() failure: close it, counted as dropped unless it just went away. */
static void client_drop(struct sg_ctl_server *srv, struct client *c, int rc)
{
	if (rc != -ECONNRESET) {
		SG_LOG(CTL, INFO, "client %d dropped: %s", c->fd, strerror(-rc));
		count(&srv->st.dropped);
	}
	client_close(srv, c);
}

/*
 * Answers from the owner's thread: each is queued for its client, which
 * then resumes (its next lines are read and answered) unless resume is 0
 * (flushing before exit: only what is answered goes out). The answer of a
 * client gone meanwhile is counted and dropped.
 */
static void owner_answers(struct sg_ctl_server *srv, int resume)
{
	json_t *resp;
	void *cl;

	while (ctl_owner_reap(srv->cfg.owner, &cl, &resp)) {
		struct client *c = cl;
		int rc;

		if (c == NULL) {
			if (resp != NULL)
				count_answer(srv, resp);
			json_decref(resp);
			continue;
		}
		c->inflight = 0;
		rc = respond(srv, c, resp);
		if (rc == 0)
			rc = resume ? client_event(srv, c, 0) : client_write(c);
		if (rc != 0)
			client_drop(srv, c, rc);
	}
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
		if (evs[i].data.u64 == ANSWERS) {
			owner_answers(srv, 1);
			continue;
		}
		struct client *c = srv->clients[evs[i].data.u64];
		if (c == NULL)
			continue;
		int rc = client_event(srv, c, evs[i].events);
		if (rc != 0)
			client_drop(srv, c, rc);
	}

	uint64_t now = sg_mono_ms();
	for (unsigned s = 0; s < srv->cfg.max_clients && srv->cfg.idle_timeout_ms; s++) {
		struct client *c = srv->clients[s];
		/* A client waiting for the owner's answer is not idle: we are. */
		if (c != NULL && !c->inflight && now - c->last_ms > srv->cfg.idle_timeout_ms)
			client_timeout(srv, c);
	}
	return n;
}

void sg_ctl_server_flush(struct sg_ctl_server *srv, int timeout_ms)
{
	uint64_t deadline = sg_mono_ms() + (uint64_t)timeout_ms;

	for (;;) {
		unsigned pending = 0;

		if (srv->cfg.owner != NULL)
			owner_answers(srv, 0);
		for (unsigned s = 0; s < srv->cfg.max_clients; s++) {
			struct client *c = srv->clients[s];
			if (c == NULL || (c->out_len == 0 && !c->inflight))
				continue;
			if (client_write(c) != 0) {
				client_close(srv, c);
				continue;
			}
			pending += c->out_len > 0 || c->inflight;
		}
		uint64_t now = sg_mono_ms();
		if (pending == 0 || now >= deadline)
			return;
		struct epoll_event evs[EVENTS_MAX];
		(void)epoll_wait(srv->epfd, evs, EVENTS_MAX, (int)(deadline - now));
	}
}

unsigned sg_ctl_server_clients(const struct sg_ctl_server *srv)
{
	return __atomic_load_n(&srv->n_clients, __ATOMIC_RELAXED);
}

uint64_t sg_ctl_server_client(const struct sg_ctl_server *srv)
{
	(void)srv; /* the handler's thread knows: the server's or the owner's */
	return ctl_current_client;
}

void sg_ctl_server_stats(const struct sg_ctl_server *srv, struct sg_ctl_stats *st)
{
	st->accepted = __atomic_load_n(&srv->st.accepted, __ATOMIC_RELAXED);
	st->refused = __atomic_load_n(&srv->st.refused, __ATOMIC_RELAXED);
	st->requests = __atomic_load_n(&srv->st.requests, __ATOMIC_RELAXED);
	st->errors = __atomic_load_n(&srv->st.errors, __ATOMIC_RELAXED);
	st->timeouts = __atomic_load_n(&srv->st.timeouts, __ATOMIC_RELAXED);
	st->oversized = __atomic_load_n(&srv->st.oversized, __ATOMIC_RELAXED);
	st->dropped = __atomic_load_n(&srv->st.dropped, __ATOMIC_RELAXED);
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

/*
 * The listening socket at srv->path: created owner-only, then opened up to
 * cfg.mode (never wider than asked, not even briefly), its group set.
 * Returns 0 or -errno with nothing left behind.
 */
static int open_listener(struct sg_ctl_server *srv)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct stat st;
	mode_t old;
	int rc;

	srv->lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (srv->lfd < 0)
		return -errno;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", srv->path);
	old = umask(0177);
	rc = bind(srv->lfd, (struct sockaddr *)&sa, sizeof(sa)) == 0 ? 0 : -errno;
	umask(old);
	if (rc != 0)
		goto fail_sock;
	if (stat(srv->path, &st) != 0) {
		rc = -errno;
		goto fail_unlink;
	}
	srv->dev = st.st_dev;
	srv->ino = st.st_ino;
	rc = set_owner(srv->path, srv->cfg.group, srv->cfg.mode);
	if (rc == 0 && listen(srv->lfd, 64) != 0)
		rc = -errno;
	if (rc == 0)
		return 0;
fail_unlink:
	unlink(srv->path);
fail_sock:
	close(srv->lfd);
	srv->lfd = -1;
	return rc;
}

/* The epoll set: the listener, and the owner queue's answers when there is one. */
static int open_epoll(struct sg_ctl_server *srv)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.u64 = LISTENER };
	int rc;

	srv->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (srv->epfd < 0)
		return -errno;
	if (epoll_ctl(srv->epfd, EPOLL_CTL_ADD, srv->lfd, &ev) != 0)
		goto fail;
	if (srv->cfg.owner == NULL)
		return 0;
	rc = ctl_owner_bind(srv->cfg.owner);
	if (rc != 0) {
		errno = -rc;
		goto fail;
	}
	ev.data.u64 = ANSWERS;
	if (epoll_ctl(srv->epfd, EPOLL_CTL_ADD, ctl_owner_answer_fd(srv->cfg.owner), &ev) == 0)
		return 0;
	rc = errno;
	ctl_owner_unbind(srv->cfg.owner);
	errno = rc;
fail:
	rc = -errno;
	close(srv->epfd);
	srv->epfd = -1;
	return rc;
}

struct sg_ctl_server *sg_ctl_server_create(const struct sg_ctl_server_cfg *cfg)
{
	struct sg_ctl_server *srv;
	int rc;

	if (cfg->path == NULL || strlen(cfg->path) >= sizeof(srv->path) || cfg->max_clients == 0 ||
	    cfg->max_request == 0) {
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
	rc = srv->clients == NULL ? -ENOMEM : prepare_path(cfg->path);
	if (rc == 0)
		rc = open_listener(srv);
	if (rc != 0)
		goto fail;
	rc = open_epoll(srv);
	if (rc != 0) {
		unlink(srv->path);
		close(srv->lfd);
		goto fail;
	}
	SG_LOG(CTL, INFO, "listening on %s (mode %04o%s%s)", cfg->path, cfg->mode,
	       cfg->group && cfg->group[0] ? ", group " : "", cfg->group ? cfg->group : "");
	return srv;

fail:
	free(srv->clients);
	free(srv);
	errno = -rc;
	return NULL;
}

void sg_ctl_server_destroy(struct sg_ctl_server *srv)
{
	struct stat st;

	if (srv == NULL)
		return;
	/* First: no answer may come back to a client freed below. */
	if (srv->cfg.owner != NULL)
		ctl_owner_unbind(srv->cfg.owner);
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
