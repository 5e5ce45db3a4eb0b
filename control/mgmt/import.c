/* SPDX-License-Identifier: Apache-2.0 */
/*
 * credentials.import: a CSV of devices streamed through the socket (the
 * daemon need not be able to read the operator's file); its "kind" at begin
 * says which entries: PSKs (psk, the default), raw public keys (rpk: CSV or
 * PEM) or certificate-identity policies (certpolicy) (sg_cred.h). `begin` opens one
 * LMDB write transaction, each `data` request carries the next bytes of the
 * CSV (base64, so any identity byte survives JSON), `commit` makes it all
 * visible at once. The first bad line aborts it (invalid_csv, with the line
 * number); so does the client going away or staying idle past
 * control.client_timeout. Each request is a bounded piece of work, so
 * handshakes and the other clients go on during an import, and handshake
 * lookups see the store as it was until the commit. While an import runs,
 * the other writers (add, remove) are refused: LMDB has one write
 * transaction, and this thread holds it.
 *
 * The identities whose key the import takes away (another key, or
 * disabled) are collected as the lines are stored; once it commits they go
 * to the gateway thread (revoke.c): the handshakes in flight that looked an
 * old key up fail, then the sessions of those identities end in the
 * background, those installed while the import ran included (their
 * handshakes read the store as it was). Nothing of the import itself is
 * touched outside this thread.
 *
 * The control server's thread (the management thread).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <time.h>

#include <stormgate/common.h>
#include <stormgate/time.h>

#include "mgmt_priv.h"
#include "sg_log.h"

struct mgmt_import {
	struct sg_cred_import *im;
	enum sg_cred_kind kind;
	uint64_t client; /* the control client that runs it */
	uint64_t started_ns;
	uint64_t bytes;
	struct mgmt_idset revoked; /* identities whose key it takes: revoked once it commits */
	int revoke_oom; /* one could not be recorded: revoke every recorded one and warn */
};

json_t *mgmt_no_store(struct sg_ctl_error *err)
{
	return sg_ctl_fail(err, SG_CTL_EFAILED, "the credential store is not open");
}

json_t *mgmt_import_busy(struct sg_ctl_error *err)
{
	return sg_ctl_fail(err, SG_CTL_ECONFLICT,
	                   "a credential import is running: the store takes no other change "
	                   "until it ends");
}

/* sg_cred_revoked_fn of an import: a line takes an identity's key away. */
static void import_revoked(void *arg, const uint8_t *identity, size_t len)
{
	struct mgmt_import *x = arg;

	if (mgmt_idset_add(&x->revoked, identity, len) == -ENOMEM)
		x->revoke_oom = 1;
}

static void import_end(struct sg_mgmt *m, int ok)
{
	struct mgmt_import *x = m->import;

	if (!ok && x->im != NULL)
		sg_cred_import_abort(x->im);
	if (ok && x->revoke_oom)
		SG_LOG(CRED, ERR,
		       "credential import: out of memory recording the identities whose "
		       "key it replaced; some of their sessions stay");
	mgmt_idset_clear(&x->revoked);
	free(x);
	m->import = NULL;
	/* `stats` reads these on the gateway thread. */
	__atomic_store_n(&m->import_running, 0, __ATOMIC_RELAXED);
	__atomic_add_fetch(ok ? &m->imports_done : &m->imports_failed, 1, __ATOMIC_RELAXED);
}

void mgmt_import_client_closed(struct sg_mgmt *m, uint64_t client)
{
	if (m->import == NULL || (client != 0 && m->import->client != client))
		return;
	SG_LOG(CRED, NOTICE,
	       "credential import abandoned by its client after %" PRIu64
	       " lines: nothing imported",
	       sg_cred_import_progress(m->import->im)->lines);
	import_end(m, 0);
}

ssize_t mgmt_b64_decode(const char *in, size_t n, uint8_t *out)
{
	static const int8_t map[256] = {
		['A'] = 1,  ['B'] = 2,  ['C'] = 3,  ['D'] = 4,  ['E'] = 5,  ['F'] = 6,  ['G'] = 7,
		['H'] = 8,  ['I'] = 9,  ['J'] = 10, ['K'] = 11, ['L'] = 12, ['M'] = 13, ['N'] = 14,
		['O'] = 15, ['P'] = 16, ['Q'] = 17, ['R'] = 18, ['S'] = 19, ['T'] = 20, ['U'] = 21,
		['V'] = 22, ['W'] = 23, ['X'] = 24, ['Y'] = 25, ['Z'] = 26, ['a'] = 27, ['b'] = 28,
		['c'] = 29, ['d'] = 30, ['e'] = 31, ['f'] = 32, ['g'] = 33, ['h'] = 34, ['i'] = 35,
		['j'] = 36, ['k'] = 37, ['l'] = 38, ['m'] = 39, ['n'] = 40, ['o'] = 41, ['p'] = 42,
		['q'] = 43, ['r'] = 44, ['s'] = 45, ['t'] = 46, ['u'] = 47, ['v'] = 48, ['w'] = 49,
		['x'] = 50, ['y'] = 51, ['z'] = 52, ['0'] = 53, ['1'] = 54, ['2'] = 55, ['3'] = 56,
		['4'] = 57, ['5'] = 58, ['6'] = 59, ['7'] = 60, ['8'] = 61, ['9'] = 62, ['+'] = 63,
		['/'] = 64,
	}; /* value + 1; 0: not base64 */
	size_t o = 0;

	if (n % 4 != 0)
		return -EINVAL;
	for (size_t i = 0; i < n; i += 4) {
		const unsigned char *q = (const unsigned char *)in + i;
		int pad = (q[3] == '=') + (q[2] == '=' && q[3] == '=');
		uint32_t v = 0;

		if (pad > 0 && i + 4 != n)
			return -EINVAL;
		for (int k = 0; k < 4 - pad; k++) {
			if (map[q[k]] == 0)
				return -EINVAL;
			v |= (uint32_t)(map[q[k]] - 1) << (18 - 6 * k);
		}
		out[o++] = (uint8_t)(v >> 16);
		if (pad < 2)
			out[o++] = (uint8_t)(v >> 8);
		if (pad < 1)
			out[o++] = (uint8_t)v;
	}
	return (ssize_t)o;
}

static const char *const kind_names[SG_CRED_KIND_MAX] = {
	[SG_CRED_KIND_PSK] = "psk",
	[SG_CRED_KIND_RPK] = "rpk",
	[SG_CRED_KIND_CERTPOLICY] = "certpolicy",
};

static json_t *phase_begin(struct sg_mgmt *m, uint64_t client, json_t *kind_arg,
                           struct sg_ctl_error *err)
{
	enum sg_cred_kind kind = SG_CRED_KIND_PSK;
	struct mgmt_import *x;

	if (kind_arg != NULL) {
		const char *k = json_string_value(kind_arg);
		unsigned i = 0;

		while (k != NULL && i < SG_CRED_KIND_MAX && strcmp(k, kind_names[i]) != 0)
			i++;
		if (k == NULL || i == SG_CRED_KIND_MAX)
			return sg_ctl_fail(err, SG_CTL_EARGS,
			                   "\"kind\" must be psk, rpk or certpolicy");
		kind = (enum sg_cred_kind)i;
	}
	if (m->import != NULL)
		return mgmt_import_busy(err);
	x = calloc(1, sizeof(*x));
	if (x == NULL)
		return sg_ctl_fail(err, SG_CTL_EINTERNAL, "out of memory");
	x->im = sg_cred_import_begin_kind(m->cred, kind);
	x->kind = kind;
	if (x->im == NULL) {
		int e = errno;

		free(x);
		return sg_ctl_fail(err, SG_CTL_EFAILED, "credential store: %s", strerror(e));
	}
	x->client = client;
	x->started_ns = sg_mono_ns();
	sg_cred_import_on_revoke(x->im, import_revoked, x);
	m->import = x;
	__atomic_store_n(&m->import_running, 1, __ATOMIC_RELAXED);
	SG_LOG(CRED, INFO, "credential import (%s) started on the control socket",
	       kind_names[kind]);
	return json_pack("{s:s, s:s}", "phase", "begin", "kind", kind_names[kind]);
}

/* A bad line (or a failed write): the import ends, nothing imported. */
static json_t *data_failed(struct sg_mgmt *m, int rc, struct sg_ctl_error *err)
{
	const struct sg_cred_import_report *p = sg_cred_import_progress(m->import->im);

	sg_ctl_fail(err, rc == -EINVAL ? SG_CTL_ECSV : SG_CTL_EFAILED,
	            "line %" PRIu64 ": %s; nothing imported", p->bad_line, p->message);
	err->data = json_pack("{s:I, s:s}", "line", (json_int_t)p->bad_line, "reason", p->message);
	SG_LOG(CRED, NOTICE, "credential import failed at line %" PRIu64 ": %s", p->bad_line,
	       p->message);
	import_end(m, 0);
	return NULL;
}

static json_t *phase_data(struct sg_mgmt *m, json_t *data, struct sg_ctl_error *err)
{
	struct mgmt_import *x = m->import;
	size_t n = json_string_length(data);
	uint8_t *buf;
	ssize_t got;
	int rc;

	if (!json_is_string(data))
		return sg_ctl_fail(err, SG_CTL_EARGS, "\"data\" (base64 CSV bytes) is required");
	buf = malloc(n / 4 * 3 + 3);
	if (buf == NULL)
		return sg_ctl_fail(err, SG_CTL_EINTERNAL, "out of memory");
	got = mgmt_b64_decode(json_string_value(data), n, buf);
	if (got < 0) {
		free(buf);
		import_end(m, 0);
		return sg_ctl_fail(err, SG_CTL_EARGS,
		                   "\"data\" is not base64 (RFC 4648, padded): import aborted");
	}
	rc = sg_cred_import_feed(x->im, (const char *)buf, (size_t)got);
	sg_wipe(buf, (size_t)got);
	free(buf);
	x->bytes += (uint64_t)got;
	if (rc != 0)
		return data_failed(m, rc, err);
	return json_pack("{s:I, s:I}", "lines", (json_int_t)sg_cred_import_progress(x->im)->lines,
	                 "bytes", (json_int_t)x->bytes);
}

/*
 * Committed: the identities whose key it took go to the gateway thread,
 * which fails their handshakes in flight and queues those with sessions;
 * returns how many had sessions (their sessions end in the background).
 */
static uint64_t revoke_committed(struct sg_mgmt *m)
{
	uint64_t n = 0;

	if (mgmt_revoke_set(m, &m->import->revoked, &n) != 0)
		SG_LOG(CRED, WARNING,
		       "credential import: the gateway thread has stopped; the sessions made "
		       "with the keys it replaced end with the daemon");
	return n;
}

/* The commit's error: which line, or what failed; nothing imported. */
static json_t *commit_failed(const struct sg_cred_import_report *rep, struct sg_ctl_error *err)
{
	if (rep->bad_line)
		sg_ctl_fail(err, SG_CTL_ECSV, "line %" PRIu64 ": %s; nothing imported",
		            rep->bad_line, rep->message);
	else
		sg_ctl_fail(err, SG_CTL_EFAILED, "%s; nothing imported", rep->message);
	if (rep->bad_line)
		err->data = json_pack("{s:I, s:s}", "line", (json_int_t)rep->bad_line, "reason",
		                      rep->message);
	return NULL;
}

static json_t *phase_commit(struct sg_mgmt *m, struct sg_ctl_error *err)
{
	struct mgmt_import *x = m->import;
	struct sg_cred_import_report rep;
	uint64_t count = 0, revoked = 0;
	double secs = (double)(sg_mono_ns() - x->started_ns) / 1e9;
	int rc;

	enum sg_cred_kind kind = x->kind;

	rc = sg_cred_import_commit(x->im, &rep);
	x->im = NULL;
	if (rc == 0)
		revoked = revoke_committed(m);
	import_end(m, rc == 0);
	if (rc != 0)
		return commit_failed(&rep, err);
	sg_cred_count_kind(m->cred, kind, &count);
	SG_LOG(CRED, NOTICE,
	       "credential import (%s): %" PRIu64 " entries from %" PRIu64
	       " lines in %.1f s; %" PRIu64 " stored",
	       kind_names[kind], rep.imported, rep.lines, secs, count);
	return json_pack("{s:s, s:s, s:I, s:I, s:I, s:f, s:I}", "phase", "commit", "kind",
	                 kind_names[kind], "imported", (json_int_t)rep.imported, "lines",
	                 (json_int_t)rep.lines, "count", (json_int_t)count, "seconds", secs,
	                 "revoked_identities", (json_int_t)revoked);
}

json_t *mgmt_cmd_cred_import(void *ctx, json_t *args, struct sg_ctl_error *err)
{
	static const char *const names[] = { "phase", "data", "kind", NULL };
	struct sg_mgmt *m = ctx;
	uint64_t me = m->ctl ? sg_ctl_server_client(m->ctl) : 0;
	const char *phase = json_string_value(json_object_get(args, "phase"));

	if (m->cred == NULL)
		return mgmt_no_store(err);
	if (mgmt_args_known(args, names, err) != 0)
		return NULL;
	if (phase == NULL)
		return sg_ctl_fail(err, SG_CTL_EARGS,
		                   "\"phase\" is required: begin, data, commit or abort");
	if (strcmp(phase, "begin") == 0)
		return phase_begin(m, me, json_object_get(args, "kind"), err);
	if (json_object_get(args, "kind") != NULL)
		return sg_ctl_fail(err, SG_CTL_EARGS, "\"kind\" goes with phase begin only");
	if (strcmp(phase, "data") != 0 && strcmp(phase, "commit") != 0 &&
	    strcmp(phase, "abort") != 0)
		return sg_ctl_fail(err, SG_CTL_EARGS,
		                   "\"phase\" must be begin, data, commit or abort; got '%.32s'",
		                   phase);
	if (m->import == NULL)
		return sg_ctl_fail(err, SG_CTL_ECONFLICT,
		                   "no import is running (phase begin first)");
	if (m->import->client != me)
		return sg_ctl_fail(err, SG_CTL_ECONFLICT,
		                   "the import running belongs to another control client");
	if (strcmp(phase, "abort") == 0) {
		import_end(m, 0);
		SG_LOG(CRED, INFO, "credential import aborted by its client: nothing imported");
		return json_pack("{s:s}", "phase", "abort");
	}
	if (strcmp(phase, "data") == 0)
		return phase_data(m, json_object_get(args, "data"), err);
	return phase_commit(m, err);
}
