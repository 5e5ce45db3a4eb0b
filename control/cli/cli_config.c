/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Where stormctl finds the control socket: --socket, else $STORMGATE_SOCKET
 * (without --config), else control.socket of the stormgate config (--config,
 * or the installed one when it exists), else /run/stormgate/control.sock.
 *
 * The config is read by a small line reader, not a YAML library: stormctl
 * needs one key of it, and linking libfyaml (and, through the config
 * library, DPDK) for that made the CLI depend on what only the daemon
 * needs. Asking the daemon is no way out: its socket is what we look for.
 * The reader understands the subset of YAML that key is written in
 * (docs/control.md, "stormctl"):
 *   - blank lines, comments (#), directives (%...) and ---/... markers;
 *   - top-level `key:` lines (column 0); of them only `control` is read,
 *     as a block (`control:` then indented `key: value` lines, the first
 *     one setting the indentation) or as a one-line flow mapping
 *     (`control: {socket: /run/x.sock, mode: 0660}`);
 *   - the value of `socket`: a plain scalar (up to a ` #` comment), a
 *     'single-quoted' ('' is a quote) or "double-quoted" one (escapes \\,
 *     \", \/, \t), on one line.
 * Anything else where the socket could hide (a tab in the indentation of
 * the control block, a top-level line that is not `key:`, an anchor,
 * alias, tag, flow or block scalar as the value, a value that goes on over
 * the next line, a second `control` or `socket`) is an error naming the
 * line, and stormctl asks for --socket. The path is checked as the daemon
 * checks it (absolute, printable, under 108 bytes); the rest of the file
 * is not checked: that is `stormgate --check-config`'s job.
 * stormctl's one thread.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sg_build_config.h"
#include "sg_cli.h"

#define SOCKET_MAX 108 /* sizeof(sockaddr_un.sun_path): the daemon's limit too */

/* The reader's state over one file. */
struct reader {
	const char *file;
	unsigned line;    /* 1-based number of the current line */
	const char *bol;  /* its first byte, for columns */
	int control_seen; /* a top-level control key was read */
	int in_control;   /* inside its block */
	int indent;       /* its keys' indentation, 0: none seen yet */
	int after_socket; /* the last key line set socket: no continuation */
	int found;        /* a socket value was taken */
	char *out;
	size_t len;
	char *why;
	size_t why_len;
};

__attribute__((format(printf, 3, 4))) static int fail(struct reader *r, const char *at,
                                                      const char *fmt, ...)
{
	int off = snprintf(r->why, r->why_len, "%s:%u:%d: ", r->file, r->line,
	                   (int)(at - r->bol) + 1);
	va_list ap;

	if (off > 0 && (size_t)off < r->why_len) {
		va_start(ap, fmt);
		vsnprintf(r->why + off, r->why_len - (size_t)off, fmt, ap);
		va_end(ap);
	}
	return -EINVAL;
}

static char *skip_spaces(char *p)
{
	while (*p == ' ')
		p++;
	return p;
}

/* Nothing more on the line but spaces and a comment. */
static int at_end(const char *p)
{
	while (*p == ' ')
		p++;
	return *p == '\0' || *p == '#';
}

/*
 * A quoted scalar at p (its quote), unescaped in place from p. Returns 0
 * with *v, *vlen and *end (past the closing quote), or an error.
 */
static int quoted(struct reader *r, char *p, char **v, size_t *vlen, char **end)
{
	char q = *p, *dst = p, *src = p + 1;

	for (; *src != '\0'; src++) {
		if (*src == q && q == '\'' && src[1] == '\'') {
			*dst++ = *src++;
		} else if (*src == q) {
			*v = p;
			*vlen = (size_t)(dst - p);
			*end = src + 1;
			return 0;
		} else if (*src == '\\' && q == '"') {
			src++;
			if (*src != '\\' && *src != '"' && *src != '/' && *src != 't')
				return fail(r, src - 1,
				            "escape '\\%c' is not read by stormctl (use --socket)",
				            *src ? *src : ' ');
			*dst++ = *src == 't' ? '\t' : *src;
		} else {
			*dst++ = *src;
		}
	}
	return fail(r, p,
	            "the quoted value goes on over the next line: stormctl reads it "
	            "on one line (use --socket)");
}

/*
 * A scalar at p: quoted, or plain up to a character of stops, a " #"
 * comment or the end of the line (trailing spaces dropped). Returns 0 with
 * *v, *vlen (not NUL-terminated) and *end, or an error.
 */
static int scalar(struct reader *r, char *p, const char *stops, char **v, size_t *vlen, char **end)
{
	char *e = p;

	if (*p == '"' || *p == '\'')
		return quoted(r, p, v, vlen, end);
	if (*p != '\0' && strchr("&*!|>[]{}@`%", *p) != NULL)
		return fail(r, p,
		            "stormctl reads a plain or quoted value here, not '%c...' "
		            "(use --socket)",
		            *p);
	while (*e != '\0' && strchr(stops, *e) == NULL && !(*e == '#' && e > p && e[-1] == ' '))
		e++;
	*end = e;
	while (e > p && e[-1] == ' ')
		e--;
	*v = p;
	*vlen = (size_t)(e - p);
	return 0;
}

/* The value of socket: checked as the daemon checks control.socket, then kept. */
static int take_socket(struct reader *r, const char *at, const char *v, size_t vlen)
{
	if (r->found)
		return fail(r, at, "a second 'socket' in 'control'");
	if (vlen + 1 > SOCKET_MAX || vlen >= r->len)
		return fail(r, at, "'control.socket' is too long (%zu bytes, at most %d)", vlen,
		            SOCKET_MAX - 1);
	if (vlen < 2)
		return fail(r, at, "'control.socket' must not be empty");
	for (size_t i = 0; i < vlen; i++)
		if ((unsigned char)v[i] < 0x20 || v[i] == 0x7f)
			return fail(r, at, "'control.socket' contains control characters");
	if (v[0] != '/')
		return fail(r, at, "'control.socket' must be an absolute path, got '%.*s'",
		            (int)vlen, v);
	memcpy(r->out, v, vlen);
	r->out[vlen] = '\0';
	r->found = 1;
	return 0;
}

/*
 * `key: value` at p: the key (not NUL-terminated) in *k, *klen and p past
 * the colon and spaces in *val. Returns 0 or an error.
 */
static int key_value(struct reader *r, char *p, const char *stops, char **k, size_t *klen,
                     char **val)
{
	char *end;
	int rc = scalar(r, p, stops, k, klen, &end);

	if (rc != 0)
		return rc;
	end = skip_spaces(end);
	if (*end != ':' || (end[1] != '\0' && end[1] != ' '))
		return fail(r, p,
		            "not a 'key: value' line: stormctl reads block-style YAML "
		            "here (use --socket)");
	*val = skip_spaces(end + 1);
	return 0;
}

static int is_key(const char *k, size_t klen, const char *name)
{
	return klen == strlen(name) && memcmp(k, name, klen) == 0;
}

/* control: {socket: PATH, ...} on one line, at p (its brace). */
static int flow_control(struct reader *r, char *p)
{
	char *k, *v, *val, *end;
	size_t klen, vlen;
	int rc;

	for (p = skip_spaces(p + 1); *p != '}';) {
		if (at_end(p))
			return fail(r, p,
			            "the flow mapping of 'control' goes on over the next "
			            "line: stormctl reads it on one line (use --socket)");
		rc = key_value(r, p, ":,}", &k, &klen, &val);
		if (rc == 0)
			rc = scalar(r, val, ",}", &v, &vlen, &end);
		if (rc == 0 && is_key(k, klen, "socket"))
			rc = take_socket(r, val, v, vlen);
		if (rc != 0)
			return rc;
		p = skip_spaces(end);
		if (*p == ',')
			p = skip_spaces(p + 1);
		else if (*p != '}')
			return fail(r, p, "expected ',' or '}' in the mapping of 'control'");
	}
	return at_end(p + 1) ? 0 : fail(r, p + 1, "text after the mapping of 'control'");
}

/* A top-level line (column 0, not a comment). */
static int top_line(struct reader *r, char *p)
{
	char *k, *val;
	size_t klen;
	int rc;

	if (*p == '%')
		return 0; /* a directive */
	if ((strncmp(p, "---", 3) == 0 || strncmp(p, "...", 3) == 0) && at_end(p + 3)) {
		r->in_control = 0;
		return 0;
	}
	rc = key_value(r, p, ":", &k, &klen, &val);
	r->in_control = rc == 0 && is_key(k, klen, "control");
	r->after_socket = 0;
	if (rc != 0 || !r->in_control)
		return rc;
	if (r->control_seen)
		return fail(r, p, "a second 'control' key");
	r->control_seen = 1;
	if (*val == '{')
		return flow_control(r, val);
	if (!at_end(val))
		return fail(r, val, "'control' must be a mapping");
	return 0;
}

/* An indented line inside the control block; p past the indentation of n spaces. */
static int control_line(struct reader *r, char *p, int n)
{
	char *k, *v, *val, *end;
	size_t klen, vlen;
	int rc;

	if (r->indent == 0)
		r->indent = n;
	if (n > r->indent) {
		if (r->after_socket)
			return fail(r, p,
			            "the value of 'socket' goes on over this line: stormctl "
			            "reads it on one line (use --socket)");
		return 0; /* nested under another key of control: not ours */
	}
	if (n < r->indent)
		return fail(r, p, "indented unlike the keys of 'control' above it");
	rc = key_value(r, p, ":", &k, &klen, &val);
	r->after_socket = rc == 0 && is_key(k, klen, "socket");
	if (rc != 0 || !r->after_socket)
		return rc;
	rc = scalar(r, val, "", &v, &vlen, &end);
	if (rc == 0 && !at_end(end))
		rc = fail(r, end, "text after the value of 'socket'");
	return rc == 0 ? take_socket(r, val, v, vlen) : rc;
}

static int read_line(struct reader *r, char *line)
{
	char *p = line;

	r->bol = line;
	line[strcspn(line, "\r\n")] = '\0';
	while (*p == ' ' || *p == '\t')
		p++;
	if (*p == '\0' || *p == '#')
		return 0;
	if (p == line)
		return top_line(r, p);
	if (!r->in_control)
		return 0;
	if (memchr(line, '\t', (size_t)(p - line)) != NULL)
		return fail(r, line, "a tab in the indentation (YAML indents with spaces)");
	return control_line(r, p, (int)(p - line));
}

int sg_cli_config_socket(const char *path, char *out, size_t len, char *why, size_t why_len)
{
	struct reader r = { .file = path, .out = out, .len = len, .why = why, .why_len = why_len };
	FILE *f = fopen(path, "re");
	char *line = NULL;
	size_t cap = 0;
	int rc = 0;

	if (f == NULL) {
		rc = -errno;
		snprintf(why, why_len, "%s: cannot open: %s", path, strerror(-rc));
		return rc;
	}
	while (rc == 0 && getline(&line, &cap, f) >= 0) {
		r.line++;
		rc = read_line(&r, line);
	}
	if (rc == 0 && ferror(f)) {
		rc = -EIO;
		snprintf(why, why_len, "%s: read error", path);
	}
	free(line);
	fclose(f);
	return rc != 0 ? rc : r.found;
}

int sg_cli_socket_path(const char *opt_socket, const char *opt_config, char *out, size_t len)
{
	char def_cfg[512], why[512];
	const char *cfg_path = opt_config;
	const char *env = getenv("STORMGATE_SOCKET");
	int rc;

	if (opt_socket != NULL) {
		snprintf(out, len, "%s", opt_socket);
		return 0;
	}
	if (opt_config == NULL && env != NULL && env[0] != '\0') {
		snprintf(out, len, "%s", env);
		return 0;
	}
	snprintf(def_cfg, sizeof(def_cfg), "%s/stormgate.yaml", SG_SYSCONFDIR);
	if (cfg_path == NULL && access(def_cfg, R_OK) == 0)
		cfg_path = def_cfg;
	snprintf(out, len, "%s", SG_CLI_DEFAULT_SOCKET); /* the daemon's default too */
	if (cfg_path == NULL)
		return 0;
	rc = sg_cli_config_socket(cfg_path, out, len, why, sizeof(why));
	if (rc >= 0)
		return 0;
	fprintf(stderr, "%s\n", why);
	fprintf(stderr, "stormctl: cannot read the socket path from %s (use --socket)\n", cfg_path);
	return rc;
}
