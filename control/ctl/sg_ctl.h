/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Control socket server: answers the control protocol (sg_ctl_proto.h) on
 * a UNIX stream socket. Requests on one connection are answered in order.
 * A request line longer than max_request bytes gets a request_too_large
 * error and the connection is closed (the stream cannot be resynchronised).
 * docs/control.md is the reference of the protocol, its commands and error
 * codes.
 *
 * The server runs on one thread, never on a worker lcore: every socket is
 * non-blocking and driven by one epoll set, each client has bounded buffers
 * (max_request in, max_output out) and an idle timeout, so a slow or
 * hostile client costs at most its buffers and never stalls the daemon.
 *
 * Threads (docs/control.md, "Threads"): without an owner queue (cfg.owner
 * NULL) every command runs inline on the server's thread. With one (the
 * daemon's), the server may run on its own thread (socket I/O, the JSON
 * codec, commands marked SG_CTL_ON_SERVER) while commands marked
 * SG_CTL_ON_OWNER run on the thread that owns what they touch, which calls
 * sg_ctl_owner_poll() each loop; their answers come back to the server's
 * thread, which writes them.
 */
#ifndef STORMGATE_CONTROL_SG_CTL_H
#define STORMGATE_CONTROL_SG_CTL_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "sg_ctl_proto.h"

#ifdef __cplusplus
extern "C" {
#endif

struct sg_ctl_owner;

struct sg_ctl_server_cfg {
	const char *path;  /* socket path, at most 107 bytes */
	const char *group; /* group owning the socket; NULL or "": unchanged */
	unsigned mode;     /* permission bits of the socket file (0660) */
	unsigned max_clients;
	size_t max_request; /* bytes per request line */
	unsigned idle_timeout_ms;
	size_t max_output; /* bytes of answers queued per client; 0: 16 MiB */
	const struct sg_ctl_cmd *cmds;
	size_t n_cmds;
	void *ctx; /* passed to every handler */
	/* Optional: a client went away (closed, timed out, dropped). The server's thread. */
	void (*on_close)(void *ctx, uint64_t client);
	/*
	 * Optional: where SG_CTL_ON_OWNER commands go (sg_ctl_owner_create()).
	 * NULL: every command runs on the server's thread. One server per queue.
	 */
	struct sg_ctl_owner *owner;
};

/* Counters of one server. */
struct sg_ctl_stats {
	uint64_t accepted;  /* connections served */
	uint64_t refused;   /* turned away: max_clients reached */
	uint64_t requests;  /* request lines answered */
	uint64_t errors;    /* ... of which with an error */
	uint64_t timeouts;  /* clients closed for idleness */
	uint64_t oversized; /* clients closed after request_too_large */
	uint64_t dropped;   /* clients closed for queueing more than max_output, or I/O errors */
};

struct sg_ctl_server;

/*
 * Bind and listen. An existing socket file nobody answers on is replaced;
 * one a live daemon answers on is -EADDRINUSE; any other file type is left
 * alone (-EEXIST). The parent directory is created (0755) when missing.
 * Returns the server or NULL with errno (EBUSY: cfg->owner serves another
 * server). The server's thread from here on; the server keeps pointers to
 * cfg->cmds, cfg->ctx and cfg->owner, which must outlive it.
 */
struct sg_ctl_server *sg_ctl_server_create(const struct sg_ctl_server_cfg *cfg);

/* A descriptor that polls readable when the server has work (its epoll set). */
int sg_ctl_server_fd(const struct sg_ctl_server *srv);

/*
 * Accept, read, answer and write whatever is ready, waiting at most
 * timeout_ms (0: do not wait), then close idle clients (one that left half a
 * request first gets a timeout error). Call it when sg_ctl_server_fd() polls
 * readable and also every few hundred ms, so idle clients are closed even
 * when nothing else happens. Answers of the owner's thread are written
 * here too. Returns the number of events handled or -errno. The server's
 * thread.
 */
int sg_ctl_server_run(struct sg_ctl_server *srv, int timeout_ms);

/*
 * Try for at most timeout_ms to send every pending response, the answers
 * of commands still on the owner's thread included (that thread must go on
 * polling meanwhile). Before exit; the server's thread.
 */
void sg_ctl_server_flush(struct sg_ctl_server *srv, int timeout_ms);

/* Connected clients now. Any thread (a relaxed read: a command may report it). */
unsigned sg_ctl_server_clients(const struct sg_ctl_server *srv);

/*
 * Inside a command handler: the id of the client whose request runs (ids
 * start at 1 and are never reused), 0 elsewhere. Lets a command span
 * several requests of one client (a credential import) and end with it
 * (cfg.on_close). The thread running the handler (kept per thread).
 */
uint64_t sg_ctl_server_client(const struct sg_ctl_server *srv);

/* A copy of the counters. Any thread (relaxed reads of each counter). */
void sg_ctl_server_stats(const struct sg_ctl_server *srv, struct sg_ctl_stats *st);

/*
 * Close every client and the listener, remove the socket file if it is
 * still ours. Owner commands still queued are dropped unrun; one running on
 * the owner's thread finishes there and its answer is discarded. The
 * server's thread.
 */
void sg_ctl_server_destroy(struct sg_ctl_server *srv);

/*
 * The queue between the server's thread and the owner's (docs/control.md,
 * "Threads"): requests of SG_CTL_ON_OWNER commands one way, their answers
 * the other, at most depth (>= 1) in flight in all; past that a request is
 * answered `overloaded` at once. A client has at most one command in
 * flight: its next lines wait for that answer, so answers stay in order.
 * A mutex and two eventfds; no DPDK. Returns the queue or NULL with errno.
 * Any thread, before the server is created.
 */
struct sg_ctl_owner *sg_ctl_owner_create(unsigned depth);

/*
 * Run at most max queued commands on the calling (owner's) thread, in the
 * order they came, and hand their answers back. Never blocks (but for the
 * handlers, which must not). Returns how many ran. The owner's thread.
 */
unsigned sg_ctl_owner_poll(struct sg_ctl_owner *ow, unsigned max);

/*
 * A descriptor that polls readable when commands wait (an eventfd; after
 * a poll that left some, it stays readable). The owner's thread.
 */
int sg_ctl_owner_fd(const struct sg_ctl_owner *ow);

/* Commands waiting for the owner's thread now (not those running). Any thread; a relaxed read. */
unsigned sg_ctl_owner_pending(const struct sg_ctl_owner *ow);

/*
 * Free the queue and whatever it still holds. After sg_ctl_server_destroy()
 * of its server and once the owner's thread no longer polls it.
 */
void sg_ctl_owner_destroy(struct sg_ctl_owner *ow);

#ifdef __cplusplus
}
#endif

#endif /* STORMGATE_CONTROL_SG_CTL_H */
