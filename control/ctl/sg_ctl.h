/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Control socket: a UNIX stream socket speaking versioned JSON, one object
 * per line in each direction.
 *
 *   request:  {"v": 1, "cmd": "status", "args": {...}, "id": <any>}
 *   response: {"v": 1, "id": <echoed>, "result": {...}}
 *         or  {"v": 1, "id": <echoed>, "error": {"code": "...", "message": "..."}}
 *
 * "args" and "id" are optional; any other member is an invalid request.
 * An error may carry "data" (an object: e.g. the CSV line an import failed
 * on). Requests are answered in order. A request line longer than
 * max_request bytes gets a request_too_large error and the connection is
 * closed (the stream cannot be resynchronised). docs/control.md is the
 * reference of the protocol, its commands and error codes.
 *
 * The server runs on one control thread, never on a worker lcore: every
 * socket is non-blocking and driven by one epoll set, each client has
 * bounded buffers (max_request in, max_output out) and an idle timeout, so a
 * slow or hostile client costs at most its buffers and never stalls the
 * daemon.
 */
#ifndef STORMGATE_CONTROL_SG_CTL_H
#define STORMGATE_CONTROL_SG_CTL_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#ifdef __cplusplus
extern "C" {
#endif

#define SG_CTL_PROTOCOL 1 /* "v" of requests and responses */

/* Error codes ("error"."code"). */
#define SG_CTL_EPARSE    "parse_error"         /* the line is not JSON */
#define SG_CTL_EINVALID  "invalid_request"     /* JSON, but not a request object */
#define SG_CTL_EVERSION  "unsupported_version" /* "v" is not SG_CTL_PROTOCOL */
#define SG_CTL_EUNKNOWN  "unknown_command"
#define SG_CTL_EARGS     "invalid_arguments"
#define SG_CTL_ETOOLARGE "request_too_large"
#define SG_CTL_EBUSY     "too_many_clients"
#define SG_CTL_EINTERNAL "internal_error"
#define SG_CTL_ETIMEOUT  "timeout"            /* half a request, then silence: closed */
#define SG_CTL_ETOOBIG   "response_too_large" /* the answer would pass max_output */
#define SG_CTL_ENOTFOUND "not_found"          /* no such session, identity, ... */
#define SG_CTL_ECONFLICT "conflict"           /* refused in the current state (import running) */
#define SG_CTL_ECSV      "invalid_csv"        /* a credential import line is bad: nothing stored */
#define SG_CTL_EFAILED   "failed"             /* the daemon could not do it (store full, ...) */

/* What a command handler fills when it fails. */
struct sg_ctl_error {
	const char *code; /* SG_CTL_E* */
	char message[256];
	json_t *data; /* optional object, a reference the server takes; NULL: none */
};

/*
 * One row of a command table. fn returns the result object (a new
 * reference the server takes) or NULL after filling err. It runs on the
 * control thread, must not block, and gets args as an object (empty when
 * the request had none).
 */
struct sg_ctl_cmd {
	const char *name;
	const char *summary;
	json_t *(*fn)(void *ctx, json_t *args, struct sg_ctl_error *err);
};

/*
 * Answer one request line (without its newline): parse, validate, dispatch
 * to the matching row of cmds, and build the response. Returns a new
 * response object, or NULL only when out of memory. Control thread.
 */
json_t *sg_ctl_handle(const struct sg_ctl_cmd *cmds, size_t n_cmds, void *ctx, const char *line,
                      size_t len);

/* A response carrying an error; id may be NULL. New reference or NULL (ENOMEM). */
json_t *sg_ctl_error_response(json_t *id, const char *code, const char *message);

/* Fill err with code and a printf-style message; returns NULL for `return sg_ctl_fail(...)`. */
__attribute__((format(printf, 3, 4))) json_t *sg_ctl_fail(struct sg_ctl_error *err,
                                                          const char *code, const char *fmt, ...);

/*
 * Make jansson wipe every block it frees (strings of parsed requests hold
 * PSKs). Process-wide; call once at start, before any JSON exists.
 */
void sg_ctl_secure_alloc(void);

/*
 * Serialise a response as one line ending in '\n' (compact, no embedded
 * newline). Returns a malloc'd string the caller frees, or NULL.
 */
char *sg_ctl_dump_line(const json_t *resp, size_t *len);

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
	/* Optional: a client went away (closed, timed out, dropped). Control thread. */
	void (*on_close)(void *ctx, uint64_t client);
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
 * Returns the server or NULL with errno. Control thread; the server keeps
 * pointers to cfg->cmds and cfg->ctx, which must outlive it.
 */
struct sg_ctl_server *sg_ctl_server_create(const struct sg_ctl_server_cfg *cfg);

/* A descriptor that polls readable when the server has work (its epoll set). */
int sg_ctl_server_fd(const struct sg_ctl_server *srv);

/*
 * Accept, read, answer and write whatever is ready, waiting at most
 * timeout_ms (0: do not wait), then close idle clients (one that left half a
 * request first gets a timeout error). Call it when sg_ctl_server_fd() polls
 * readable and also every few hundred ms, so idle clients are closed even
 * when nothing else happens. Returns the number of events handled or -errno.
 * Control thread.
 */
int sg_ctl_server_run(struct sg_ctl_server *srv, int timeout_ms);

/* Try for at most timeout_ms to send every pending response (before exit). */
void sg_ctl_server_flush(struct sg_ctl_server *srv, int timeout_ms);

/* Connected clients now. */
unsigned sg_ctl_server_clients(const struct sg_ctl_server *srv);

/*
 * Inside a command handler: the id of the client whose request runs (ids
 * start at 1 and are never reused), 0 elsewhere. Lets a command span
 * several requests of one client (a credential import) and end with it
 * (cfg.on_close). Control thread.
 */
uint64_t sg_ctl_server_client(const struct sg_ctl_server *srv);

void sg_ctl_server_stats(const struct sg_ctl_server *srv, struct sg_ctl_stats *st);

/* Close every client and the listener, remove the socket file if it is still ours. */
void sg_ctl_server_destroy(struct sg_ctl_server *srv);

#ifdef __cplusplus
}
#endif

#endif /* STORMGATE_CONTROL_SG_CTL_H */
