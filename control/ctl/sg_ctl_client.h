/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Control socket client transport: connect to a stormgate control socket,
 * send requests, read answer lines with a timeout. stormctl and the C tests
 * share it; it needs neither DPDK nor a YAML library (only jansson, through
 * the codec, sg_ctl_proto.h).
 *
 * One connection is used by one thread at a time; it never writes to
 * stdout or stderr: a failed call leaves a one-line reason in
 * sg_ctl_client_why() ("no answer from PATH within 5000 ms"), for the
 * caller to print or ignore. Answers to pipelined requests come back in
 * order (docs/control.md), so a caller may send several requests before
 * reading their lines.
 */
#ifndef STORMGATE_CONTROL_SG_CTL_CLIENT_H
#define STORMGATE_CONTROL_SG_CTL_CLIENT_H

#include <stddef.h>

#include <jansson.h>

#include "sg_ctl_proto.h"

#ifdef __cplusplus
extern "C" {
#endif

#define SG_CTL_CLIENT_LINE_MAX (64u << 20) /* default longest answer line read */

struct sg_ctl_client;

/*
 * Connect to the socket at path. max_line bounds one answer line (0:
 * SG_CTL_CLIENT_LINE_MAX). Returns the connection, or NULL with errno
 * (ENAMETOOLONG: path longer than a socket address holds; else connect's
 * errno: ENOENT, ECONNREFUSED, EACCES, ...).
 */
struct sg_ctl_client *sg_ctl_client_open(const char *path, size_t max_line);

/* Close the connection and wipe what it buffered (answers may echo secrets). NULL is fine. */
void sg_ctl_client_close(struct sg_ctl_client *c);

/* The connected socket, for what the transport does not do (half-close, raw writes). */
int sg_ctl_client_fd(const struct sg_ctl_client *c);

/* Send len bytes as they are, all of them (blocking). Returns 0 or -errno. */
int sg_ctl_client_send(struct sg_ctl_client *c, const void *buf, size_t len);

/*
 * Send one request or other JSON value as a line (sg_ctl_dump_line()); the
 * serialised copy is wiped. Returns 0 or -errno.
 */
int sg_ctl_client_send_json(struct sg_ctl_client *c, const json_t *msg);

/*
 * The next line the peer sent, waiting at most timeout_ms (0: only what
 * has arrived). Returns 0 with *line (NUL-terminated, without its
 * newline; in the connection's buffer, valid until the next call on c) and
 * *len; -EAGAIN when timeout_ms is 0 and no whole line is there;
 * -ETIMEDOUT; -ECONNRESET when the peer closed (or the socket failed)
 * before a whole line; -EMSGSIZE past max_line; -ENOMEM.
 */
int sg_ctl_client_read_line(struct sg_ctl_client *c, int timeout_ms, const char **line,
                            size_t *len);

/*
 * One request: send req, read the next line as JSON, all within timeout_ms.
 * Returns 0 with *resp (a new reference: the whole response, result or
 * error), or -errno: the send's, those of sg_ctl_client_read_line(), or
 * -EBADMSG when the line is not JSON.
 */
int sg_ctl_client_call(struct sg_ctl_client *c, const json_t *req, int timeout_ms, json_t **resp);

/* Why the last call on c failed, one line without a newline ("" before any failure). */
const char *sg_ctl_client_why(const struct sg_ctl_client *c);

#ifdef __cplusplus
}
#endif

#endif /* STORMGATE_CONTROL_SG_CTL_CLIENT_H */
