/* SPDX-License-Identifier: Apache-2.0 */
/*
 * `stormctl credentials import FILE.csv|-` and `stormctl import
 * psk|rpk|certpolicy FILE|-`: the file streamed to the daemon's
 * credentials.import (begin with its kind, data chunks in base64, commit)
 * on one connection, with progress on stderr; the daemon stores all lines
 * or none (docs/control.md, "Credential import"). stormctl's one thread.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include <jansson.h>

#include <stormgate/common.h>
#include <stormgate/time.h>

#include "sg_cli.h"

#define COMMIT_TIMEOUT 300000 /* ms: committing millions of credentials syncs the store */
#define IMPORT_CHUNK   (48u << 10)

/* Progress on stderr: in place on a terminal, a line each 10 % otherwise. */
struct progress {
	int on, tty;
	int64_t start, last;
	uint64_t total;
	int step;
};

/* One import: the file, the connection, the chunk buffers. */
struct import {
	const struct sg_cli *cli;
	const char *file;
	const char *kind; /* psk, rpk, certpolicy */
	FILE *in;
	struct sg_ctl_client *conn;
	size_t chunk;  /* CSV bytes per data request */
	uint8_t *raw;  /* chunk bytes of the file (wiped: they hold PSKs) */
	char *b64;     /* the same in base64 */
	uint64_t sent; /* bytes of the file sent */
	struct progress pg;
};

/* Encode n bytes as padded base64 (RFC 4648 §4) into out (4 * ceil(n / 3) + 1 bytes). */
static void b64_encode(const uint8_t *in, size_t n, char *out)
{
	static const char tab[] =
	        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t o = 0;

	for (size_t i = 0; i < n; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16;

		if (i + 1 < n)
			v |= (uint32_t)in[i + 1] << 8;
		if (i + 2 < n)
			v |= in[i + 2];
		out[o++] = tab[v >> 18 & 63];
		out[o++] = tab[v >> 12 & 63];
		out[o++] = i + 1 < n ? tab[v >> 6 & 63] : '=';
		out[o++] = i + 2 < n ? tab[v & 63] : '=';
	}
	out[o] = '\0';
}

static void progress_show(struct progress *p, uint64_t bytes, json_int_t lines, int final)
{
	int64_t now = (int64_t)sg_mono_ms();
	double secs = (double)(now - p->start) / 1000.0;
	int pct = p->total ? (int)(100.0 * (double)bytes / (double)p->total) : -1;

	if (!p->on)
		return;
	if (p->tty) {
		if (!final && now - p->last < 200)
			return;
		p->last = now;
		fprintf(stderr, "\rimporting: ");
		if (pct >= 0)
			fprintf(stderr, "%3d%% ", pct);
		fprintf(stderr, "%" JSON_INTEGER_FORMAT " lines, %.0f lines/s%s", lines,
		        secs > 0 ? (double)lines / secs : 0.0, final ? "\n" : "");
		return;
	}
	if (final || (pct >= 0 && pct / 10 > p->step) || (pct < 0 && now - p->last >= 5000)) {
		p->step = pct / 10;
		p->last = now;
		if (pct >= 0)
			fprintf(stderr,
			        "importing: %3d%% %" JSON_INTEGER_FORMAT " lines in %.1f s\n", pct,
			        lines, secs);
		else
			fprintf(stderr, "importing: %" JSON_INTEGER_FORMAT " lines in %.1f s\n",
			        lines, secs);
	}
}

/*
 * Size the chunks to fit the daemon's request limit once in base64 and
 * JSON (its `version` says it), allocate them, and begin. Returns 0, or -1
 * (reported, or nothing to say: a limit too small to carry any line).
 */
static int import_begin(struct import *im)
{
	json_t *v = sg_cli_call(im->cli, im->conn, "version", NULL, im->cli->timeout_ms, NULL), *r;
	json_int_t max;

	if (v == NULL)
		return -1;
	max = json_integer_value(json_object_get(json_object_get(v, "limits"), "max_request"));
	if (max > 0 && (size_t)(max - 128) / 4 * 3 < im->chunk)
		im->chunk = (size_t)(max - 128) / 4 * 3;
	json_decref(v);
	if (im->chunk < 48)
		return -1;
	im->raw = malloc(im->chunk);
	im->b64 = malloc(im->chunk / 3 * 4 + 8);
	if (im->raw == NULL || im->b64 == NULL)
		return -1;
	r = sg_cli_call(im->cli, im->conn, "credentials.import",
	                strcmp(im->kind, "psk") == 0
	                        ? json_pack("{s:s}", "phase", "begin")
	                        : json_pack("{s:s, s:s}", "phase", "begin", "kind", im->kind),
	                im->cli->timeout_ms, NULL);
	if (r == NULL)
		return -1;
	json_decref(r);
	return 0;
}

/*
 * Send the file in data requests. Returns 0 at its end, -1 with *e (the
 * daemon's error, NULL after a connection failure, reported) when one
 * failed, -EIO after a read error (the import aborted).
 */
static int import_stream(struct import *im, json_t **e)
{
	size_t n;
	json_t *r;

	im->pg.start = im->pg.last = (int64_t)sg_mono_ms();
	while ((n = fread(im->raw, 1, im->chunk, im->in)) > 0) {
		json_t *chunk_args;

		b64_encode(im->raw, n, im->b64);
		sg_wipe(im->raw, n);
		chunk_args = json_pack("{s:s, s:s}", "phase", "data", "data", im->b64);
		sg_wipe(im->b64, strlen(im->b64));
		r = sg_cli_call(im->cli, im->conn, "credentials.import", chunk_args,
		                im->cli->timeout_ms, e);
		if (r == NULL)
			return -1;
		im->sent += n;
		progress_show(&im->pg, im->sent, json_integer_value(json_object_get(r, "lines")),
		              0);
		json_decref(r);
	}
	if (!ferror(im->in))
		return 0;
	fprintf(stderr, "stormctl: %s: read error\n", im->file);
	r = sg_cli_call(im->cli, im->conn, "credentials.import",
	                json_pack("{s:s}", "phase", "abort"), im->cli->timeout_ms, NULL);
	json_decref(r);
	return -EIO;
}

/* Commit, and say what was stored. Returns 0, or -1 with *e as import_stream(). */
static int import_commit(struct import *im, json_t **e)
{
	int wait = im->cli->timeout_ms > COMMIT_TIMEOUT ? im->cli->timeout_ms : COMMIT_TIMEOUT;
	json_t *r = sg_cli_call(im->cli, im->conn, "credentials.import",
	                        json_pack("{s:s}", "phase", "commit"), wait, e);

	if (r == NULL)
		return -1;
	progress_show(&im->pg, im->sent, json_integer_value(json_object_get(r, "lines")), 1);
	if (im->cli->json)
		sg_cli_print_json(r);
	else
		printf("imported %" JSON_INTEGER_FORMAT " %s from %" JSON_INTEGER_FORMAT
		       " lines of %s in %.1f s (%" JSON_INTEGER_FORMAT " stored)\n",
		       geti(r, "imported"),
		       strcmp(im->kind, "rpk") == 0          ? "raw public keys"
		       : strcmp(im->kind, "certpolicy") == 0 ? "certificate policies"
		                                             : "identities",
		       geti(r, "lines"), im->file, getd(r, "seconds"), geti(r, "count"));
	json_decref(r);
	return 0;
}

/* The daemon refused a chunk or the commit: why, and that nothing was stored. */
static void import_failed(const struct import *im, json_t *e)
{
	const json_t *d = json_object_get(e, "data");

	if (im->pg.on && im->pg.tty)
		fprintf(stderr, "\n");
	if (e == NULL)
		return; /* the connection failed: said already */
	if (im->cli->json) {
		json_t *o = json_pack("{s:O}", "error", e);
		sg_cli_print_json(o);
		json_decref(o);
	}
	if (json_is_object(d))
		fprintf(stderr, "%s:%" JSON_INTEGER_FORMAT ": %s\n", im->file, geti(d, "line"),
		        gets_(d, "reason"));
	else
		fprintf(stderr, "stormctl: import %s: %s (%s)\n", im->kind, gets_(e, "message"),
		        gets_(e, "code"));
	fprintf(stderr, "stormctl: nothing imported; the credential store is unchanged\n");
}

int sg_cli_import(const struct sg_cli *cli, const char *kind, const char *file, int show_progress)
{
	struct import im = { .cli = cli, .file = file, .kind = kind, .chunk = IMPORT_CHUNK };
	json_t *e = NULL;
	struct stat st;
	int rc = -1;

	im.pg.on = show_progress;
	im.pg.tty = isatty(STDERR_FILENO);
	im.in = strcmp(file, "-") == 0 ? stdin : fopen(file, "re");
	if (im.in == NULL) {
		fprintf(stderr, "stormctl: %s: %s\n", file, strerror(errno));
		return EXIT_FAILURE;
	}
	if (fstat(fileno(im.in), &st) == 0 && S_ISREG(st.st_mode))
		im.pg.total = (uint64_t)st.st_size;
	im.conn = sg_cli_connect(cli);
	if (im.conn != NULL && import_begin(&im) == 0) {
		rc = import_stream(&im, &e);
		if (rc == 0)
			rc = import_commit(&im, &e);
		if (rc == -1)
			import_failed(&im, e);
	}
	json_decref(e);
	sg_ctl_client_close(im.conn);
	if (im.raw != NULL)
		sg_wipe(im.raw, im.chunk);
	free(im.raw);
	free(im.b64);
	if (im.in != stdin)
		fclose(im.in);
	return rc == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
