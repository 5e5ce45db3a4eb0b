/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Control protocol codec: a UNIX stream socket speaking versioned JSON, one
 * object per line in each direction.
 *
 *   request:  {"v": 1, "cmd": "status", "args": {...}, "id": <any>}
 *   response: {"v": 1, "id": <echoed>, "result": {...}}
 *         or  {"v": 1, "id": <echoed>, "error": {"code": "...", "message": "..."}}
 *
 * "args" and "id" are optional; any other member is an invalid request.
 * An error may carry "data" (an object: e.g. the CSV line an import failed
 * on). docs/control.md is the reference of the protocol, its commands and
 * error codes.
 *
 * No DPDK, no I/O: the daemon's server (sg_ctl.h), the client transport
 * (sg_ctl_client.h, stormctl and the tests) and the management thread's
 * queue all build on it. Every function may run on any thread; the objects
 * it returns belong to the caller.
 */
#ifndef STORMGATE_CONTROL_SG_CTL_PROTO_H
#define STORMGATE_CONTROL_SG_CTL_PROTO_H

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
#define SG_CTL_EOVERLOAD "overloaded"         /* the owner thread's queue is full: try again */

/* What a command handler fills when it fails. */
struct sg_ctl_error {
	const char *code; /* SG_CTL_E* */
	char message[256];
	json_t *data; /* optional object, a reference the server takes; NULL: none */
};

/*
 * Where a command runs (docs/control.md, "Threads"). With one thread (no
 * owner queue configured, sg_ctl.h) both are the same thread.
 */
enum sg_ctl_where {
	SG_CTL_ON_SERVER = 0, /* the server's thread, inline (the default) */
	SG_CTL_ON_OWNER,      /* the owner's thread, through sg_ctl_owner_poll() */
};

/*
 * One row of a command table. fn returns the result object (a new
 * reference the caller takes) or NULL after filling err. It runs on the
 * thread `where` names, must not block, and gets args as an object (empty
 * when the request had none).
 */
struct sg_ctl_cmd {
	const char *name;
	const char *summary;
	json_t *(*fn)(void *ctx, json_t *args, struct sg_ctl_error *err);
	enum sg_ctl_where where; /* left out: SG_CTL_ON_SERVER */
};

/* A request line parsed and matched to its row, ready to run. */
struct sg_ctl_req {
	const struct sg_ctl_cmd *cmd; /* the row */
	json_t *req;                  /* the request object: the holder's reference */
	json_t *args;                 /* in req; an object, empty when none was given */
	json_t *id;                   /* in req; NULL: none */
};

/*
 * Parse and validate one request line (without its newline) and find its
 * row in cmds. Returns 0 with *out filled (release with sg_ctl_req_free()),
 * or -EINVAL with *resp the error response to send, or -ENOMEM (*resp
 * NULL). Any thread.
 */
int sg_ctl_parse(const struct sg_ctl_cmd *cmds, size_t n_cmds, const char *line, size_t len,
                 struct sg_ctl_req *out, json_t **resp);

/*
 * Run a parsed request's handler and build its response (result or error,
 * with the request's id). Returns a new response object, or NULL only when
 * out of memory. The request stays the caller's. The thread its row names.
 */
json_t *sg_ctl_run(const struct sg_ctl_req *r, void *ctx);

/* Drop a parsed request's reference (r may be zeroed). */
void sg_ctl_req_free(struct sg_ctl_req *r);

/*
 * Answer one request line: sg_ctl_parse() then sg_ctl_run() on this thread,
 * whatever the row's `where`. Returns a new response object, or NULL only
 * when out of memory.
 */
json_t *sg_ctl_handle(const struct sg_ctl_cmd *cmds, size_t n_cmds, void *ctx, const char *line,
                      size_t len);

/* A response carrying an error; id may be NULL. New reference or NULL (ENOMEM). */
json_t *sg_ctl_error_response(json_t *id, const char *code, const char *message);

/* Fill err with code and a printf-style message; returns NULL for `return sg_ctl_fail(...)`. */
__attribute__((format(printf, 3, 4))) json_t *sg_ctl_fail(struct sg_ctl_error *err,
                                                          const char *code, const char *fmt, ...);

/*
 * A request object {"v": 1, "cmd": cmd, "args": args}; takes the reference
 * to args (NULL: an empty object). New reference or NULL (ENOMEM).
 */
json_t *sg_ctl_request(const char *cmd, json_t *args);

/*
 * Make jansson wipe every block it frees (strings of parsed requests hold
 * PSKs). Process-wide; call once at start, before any JSON exists.
 */
void sg_ctl_secure_alloc(void);

/*
 * Serialise a request or response as one line ending in '\n' (compact, no
 * embedded newline). Returns a malloc'd string the caller frees, or NULL.
 */
char *sg_ctl_dump_line(const json_t *msg, size_t *len);

#ifdef __cplusplus
}
#endif

#endif /* STORMGATE_CONTROL_SG_CTL_PROTO_H */
