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
 * Requests are answered in order. A request line longer than max_request
 * bytes gets a request_too_large error and the connection is closed (the
 * stream cannot be resynchronised).
 *
 * The server runs on one control thread, never on a worker lcore: every
 * socket is non-blocking and driven by one epoll set, each client has
 * bounded buffers and an idle timeout, so a slow or hostile client costs at
 * most its buffers and never stalls the daemon.
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

/* What a command handler fills when it fails. */
struct sg_ctl_error {
	const char *code; /* SG_CTL_E* */
	char message[256];
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
	const struct sg_ctl_cmd *cmds;
	size_t n_cmds;
	void *ctx; /* passed to every handler */
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
 * timeout_ms (0: do not wait), then close idle clients. Returns the number
 * of events handled or -errno. Control thread.
 */
int sg_ctl_server_run(struct sg_ctl_server *srv, int timeout_ms);

/* Try for at most timeout_ms to send every pending response (before exit). */
void sg_ctl_server_flush(struct sg_ctl_server *srv, int timeout_ms);

/* Connected clients now. */
unsigned sg_ctl_server_clients(const struct sg_ctl_server *srv);

/* Close every client and the listener, remove the socket file if it is still ours. */
void sg_ctl_server_destroy(struct sg_ctl_server *srv);

#ifdef __cplusplus
}
#endif

#endif /* STORMGATE_CONTROL_SG_CTL_H */
