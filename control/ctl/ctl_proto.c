/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Control protocol codec: request validation, dispatch through a table,
 * responses, the one-line serialisation and jansson's wiping allocator.
 * Any thread (docs/control.md); no I/O.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include <stormgate/common.h>

#include "sg_ctl_proto.h"

/*
 * jansson allocations with their size in front, so a free can wipe the
 * block: request strings carry PSKs (credentials add / import) and must not
 * linger in freed heap memory.
 */
#define ALLOC_HDR 16 /* keeps malloc's 16-byte alignment */

static void *wiping_malloc(size_t n)
{
	uint8_t *p;

	if (n > SIZE_MAX - ALLOC_HDR)
		return NULL;
	p = malloc(n + ALLOC_HDR);
	if (p == NULL)
		return NULL;
	memcpy(p, &n, sizeof(n));
	return p + ALLOC_HDR;
}

static void wiping_free(void *ptr)
{
	uint8_t *p;
	size_t n;

	if (ptr == NULL)
		return;
	p = (uint8_t *)ptr - ALLOC_HDR;
	memcpy(&n, p, sizeof(n));
	sg_wipe(p, n + ALLOC_HDR);
	free(p);
}

void sg_ctl_secure_alloc(void)
{
	json_set_alloc_funcs(wiping_malloc, wiping_free);
}

json_t *sg_ctl_fail(struct sg_ctl_error *err, const char *code, const char *fmt, ...)
{
	va_list ap;

	err->code = code;
	va_start(ap, fmt);
	vsnprintf(err->message, sizeof(err->message), fmt, ap);
	va_end(ap);
	return NULL;
}

json_t *sg_ctl_error_response(json_t *id, const char *code, const char *message)
{
	json_t *resp = json_pack("{s:i, s:{s:s, s:s}}", "v", SG_CTL_PROTOCOL, "error", "code", code,
	                         "message", message);

	if (resp != NULL && id != NULL && json_object_set(resp, "id", id) != 0) {
		json_decref(resp);
		return NULL;
	}
	return resp;
}

static json_t *result_response(json_t *id, json_t *result)
{
	json_t *resp = json_pack("{s:i, s:o}", "v", SG_CTL_PROTOCOL, "result", result);

	if (resp != NULL && id != NULL && json_object_set(resp, "id", id) != 0) {
		json_decref(resp);
		return NULL;
	}
	return resp;
}

/* Only v, cmd, args and id: NULL, or the first other member's name. */
static const char *unknown_member(json_t *req)
{
	for (void *it = json_object_iter(req); it != NULL; it = json_object_iter_next(req, it)) {
		const char *key = json_object_iter_key(it);

		if (strcmp(key, "v") != 0 && strcmp(key, "cmd") != 0 && strcmp(key, "args") != 0 &&
		    strcmp(key, "id") != 0)
			return key;
	}
	return NULL;
}

/*
 * Check the members of a request object. Returns 0, or the error response
 * in *resp (NULL when out of memory) and -EINVAL.
 */
static int check_request(json_t *req, json_t *id, json_t **resp)
{
	const char *bad = unknown_member(req);
	json_t *v = json_object_get(req, "v"), *args = json_object_get(req, "args");
	char msg[300];

	if (bad != NULL) {
		snprintf(msg, sizeof(msg), "unknown member '%.64s' (v, cmd, args, id)", bad);
		*resp = sg_ctl_error_response(id, SG_CTL_EINVALID, msg);
	} else if (!json_is_integer(v)) {
		*resp = sg_ctl_error_response(id, SG_CTL_EINVALID,
		                              "missing protocol version \"v\" (an integer)");
	} else if (json_integer_value(v) != SG_CTL_PROTOCOL) {
		snprintf(msg, sizeof(msg),
		         "protocol version %lld is not supported (this daemon: %d)",
		         (long long)json_integer_value(v), SG_CTL_PROTOCOL);
		*resp = sg_ctl_error_response(id, SG_CTL_EVERSION, msg);
	} else if (!json_is_string(json_object_get(req, "cmd"))) {
		*resp = sg_ctl_error_response(id, SG_CTL_EINVALID, "missing \"cmd\" (a string)");
	} else if (args != NULL && !json_is_object(args)) {
		*resp = sg_ctl_error_response(id, SG_CTL_EINVALID, "\"args\" must be an object");
	} else {
		return 0;
	}
	return -EINVAL;
}

static const struct sg_ctl_cmd *find_cmd(const struct sg_ctl_cmd *cmds, size_t n_cmds,
                                         const char *name)
{
	for (size_t i = 0; i < n_cmds; i++)
		if (strcmp(cmds[i].name, name) == 0)
			return &cmds[i];
	return NULL;
}

int sg_ctl_parse(const struct sg_ctl_cmd *cmds, size_t n_cmds, const char *line, size_t len,
                 struct sg_ctl_req *out, json_t **resp)
{
	json_error_t jerr;
	json_t *req, *id, *args;
	char msg[300];
	int rc;

	memset(out, 0, sizeof(*out));
	*resp = NULL;
	req = json_loadb(line, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &jerr);
	if (req == NULL) {
		snprintf(msg, sizeof(msg), "not JSON: %s at column %d", jerr.text, jerr.column);
		*resp = sg_ctl_error_response(NULL, SG_CTL_EPARSE, msg);
		return *resp != NULL ? -EINVAL : -ENOMEM;
	}
	if (!json_is_object(req)) {
		*resp = sg_ctl_error_response(NULL, SG_CTL_EINVALID, "a request is a JSON object");
		rc = -EINVAL;
		goto fail;
	}
	id = json_object_get(req, "id");
	rc = check_request(req, id, resp);
	if (rc != 0)
		goto fail;
	out->cmd = find_cmd(cmds, n_cmds, json_string_value(json_object_get(req, "cmd")));
	if (out->cmd == NULL) {
		snprintf(msg, sizeof(msg), "unknown command '%.64s'",
		         json_string_value(json_object_get(req, "cmd")));
		*resp = sg_ctl_error_response(id, SG_CTL_EUNKNOWN, msg);
		rc = -EINVAL;
		goto fail;
	}
	args = json_object_get(req, "args");
	if (args == NULL && json_object_set_new(req, "args", json_object()) != 0) {
		rc = -ENOMEM;
		goto fail;
	}
	out->req = req;
	out->args = json_object_get(req, "args");
	out->id = id;
	return 0;

fail:
	json_decref(req);
	out->cmd = NULL;
	return *resp != NULL ? rc : -ENOMEM;
}

json_t *sg_ctl_run(const struct sg_ctl_req *r, void *ctx)
{
	struct sg_ctl_error err = { .code = NULL, .data = NULL };
	json_t *result = r->cmd->fn(ctx, r->args, &err), *resp;

	if (result == NULL) {
		resp = sg_ctl_error_response(r->id, err.code ? err.code : SG_CTL_EINTERNAL,
		                             err.message[0] ? err.message : "command failed");
		if (resp != NULL && json_is_object(err.data))
			json_object_set(json_object_get(resp, "error"), "data", err.data);
	} else {
		resp = result_response(r->id, result);
	}
	json_decref(err.data);
	return resp;
}

void sg_ctl_req_free(struct sg_ctl_req *r)
{
	json_decref(r->req);
	memset(r, 0, sizeof(*r));
}

json_t *sg_ctl_handle(const struct sg_ctl_cmd *cmds, size_t n_cmds, void *ctx, const char *line,
                      size_t len)
{
	struct sg_ctl_req r;
	json_t *resp;

	if (sg_ctl_parse(cmds, n_cmds, line, len, &r, &resp) != 0)
		return resp;
	resp = sg_ctl_run(&r, ctx);
	sg_ctl_req_free(&r);
	return resp;
}

json_t *sg_ctl_request(const char *cmd, json_t *args)
{
	return json_pack("{s:i, s:s, s:o}", "v", SG_CTL_PROTOCOL, "cmd", cmd, "args",
	                 args ? args : json_object());
}

char *sg_ctl_dump_line(const json_t *msg, size_t *len)
{
	/*
	 * Compact output escapes newlines inside strings, so one object is one
	 * line. json_dumpb into our own buffer: json_dumps() would allocate with
	 * jansson's allocator, which sg_ctl_secure_alloc() may have replaced.
	 */
	size_t n = json_dumpb(msg, NULL, 0, JSON_COMPACT);
	char *line;

	if (n == 0)
		return NULL;
	line = malloc(n + 2);
	if (line == NULL)
		return NULL;
	if (json_dumpb(msg, line, n, JSON_COMPACT) != n) {
		free(line);
		return NULL;
	}
	line[n] = '\n';
	line[n + 1] = '\0';
	if (len != NULL)
		*len = n + 1;
	return line;
}
