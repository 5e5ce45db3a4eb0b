/* SPDX-License-Identifier: Apache-2.0 */
/*
 * credentials.add / remove / show / count / import on the running gateway.
 *
 * An import streams through the socket (the daemon need not be able to read
 * the operator's file): `begin` opens one LMDB write transaction, each
 * `data` request carries the next bytes of the CSV (base64, so any identity
 * byte survives JSON), `commit` makes it all visible at once. The first bad
 * line aborts it (invalid_csv, with the line number); so does the client
 * going away or staying idle past control.client_timeout. Each request is a
 * bounded piece of work, so handshakes and the other clients go on during an
 * import, and handshake lookups see the store as it was until the commit.
 * While an import runs, the other writers (add, remove) are refused: LMDB
 * has one write transaction, and this thread holds it.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <stormgate/common.h>

#include "gateway_priv.h"
#include "sg_cred.h"
#include "sg_log.h"

struct gw_import {
	struct sg_cred_import *im;
	uint64_t client; /* the control client that runs it */
	uint64_t started_ns;
	uint64_t bytes;
	const struct sg_sessreg *gw_reg;
	/* identities with sessions whose key this import replaces: ended once it commits */
	struct gw_ident *revoked;
	uint32_t n_revoked, cap_revoked;
	int revoke_oom; /* one could not be recorded: end every recorded one's and warn */
};

/* Sessions of revoked credentials ended per poll: about 2 ms of sealing alerts at most. */
#define GW_REVOKE_PER_POLL 64
/* ... and by the request that revokes one identity, before it answers. */
#define GW_REVOKE_NOW 4096

/* Append identity to a growing array of gw_ident. Returns 0 or -ENOMEM. */
static int ident_push(struct gw_ident **arr, uint32_t *n, uint32_t *cap, const uint8_t *identity,
                      size_t len)
{
	if (len == 0 || len > SG_SESSREG_IDENTITY_MAX)
		return 0;
	if (*n == *cap) {
		uint32_t c = *cap ? *cap * 2 : 64;
		struct gw_ident *a = realloc(*arr, sizeof(**arr) * c);

		if (a == NULL)
			return -ENOMEM;
		*arr = a;
		*cap = c;
	}
	(*arr)[*n].len = (uint8_t)len;
	memcpy((*arr)[*n].bytes, identity, len);
	(*n)++;
	return 0;
}

/* Queue identity for gw_cred_poll(): its sessions end a few per poll. */
static void revoked_queue(struct sg_gateway *gw, const uint8_t *identity, size_t len)
{
	if (ident_push(&gw->revoked, &gw->revoked_n, &gw->revoked_cap, identity, len) != 0)
		SG_LOG(CRED, ERR,
		       "out of memory: the sessions of a replaced credential are not ended");
}

void gw_cred_poll(struct sg_gateway *gw)
{
	size_t budget = GW_REVOKE_PER_POLL;

	while (gw->revoked_head < gw->revoked_n && budget > 0) {
		const struct gw_ident *e = &gw->revoked[gw->revoked_head];
		unsigned alerts = 0;
		size_t left = 0, n;

		n = gw_sess_end_identity(gw, e->bytes, e->len, budget, &alerts, &left, NULL);
		gw->revoked_ended += n;
		budget -= RTE_MIN(n, budget);
		if (left > 0 && n > 0)
			continue; /* the same identity again, within what is left of the budget */
		gw->revoked_head++;
	}
	if (gw->revoked_head == gw->revoked_n)
		gw->revoked_head = gw->revoked_n = 0; /* all done: the array starts over */
}

void gw_cred_fini(struct sg_gateway *gw)
{
	free(gw->revoked);
	gw->revoked = NULL;
	gw->revoked_n = gw->revoked_cap = gw->revoked_head = 0;
}

/*
 * End the sessions of an identity whose key was replaced or removed (issue
 * 12: a device keeps no session made with a key the operator took away),
 * up to GW_REVOKE_NOW now, the rest queued for gw_cred_poll(). Fills the
 * result's sessions_killed and sessions_left.
 */
struct ident_match {
	const uint8_t *bytes;
	size_t len;
};

static bool same_ident(void *ctx, const uint8_t *identity, size_t len)
{
	const struct ident_match *m = ctx;

	return len == m->len && memcmp(identity, m->bytes, len) == 0;
}

/* sg_hs_revoke()'s match during an import: would its commit take this key away? */
static bool import_takes_key(void *ctx, const uint8_t *identity, size_t len)
{
	return sg_cred_import_revokes(ctx, identity, len);
}

static void revoke_sessions(struct sg_gateway *gw, const uint8_t *identity, size_t len,
                            json_t *result)
{
	struct ident_match m = { .bytes = identity, .len = len };
	unsigned alerts = 0;
	size_t left = 0, n;

	/*
	 * Handshakes that looked the old key up already would install a session
	 * made with it after this: they fail now (the device starts again and
	 * meets the new key).
	 */
	sg_hs_revoke(gw->hs, same_ident, &m);

	n = gw_sess_end_identity(gw, identity, len, GW_REVOKE_NOW, &alerts, &left, NULL);
	gw->revoked_ended += n;
	if (left > 0)
		revoked_queue(gw, identity, len);
	json_object_set_new(result, "sessions_killed", json_integer((json_int_t)n));
	json_object_set_new(result, "alerts_sent", json_integer((json_int_t)alerts));
	json_object_set_new(result, "sessions_left", json_integer((json_int_t)left));
	json_object_set_new(result, "sessions_kept", json_false());
}

/* --keep-sessions: say what stays. */
static void keep_sessions(struct sg_gateway *gw, const uint8_t *identity, size_t len,
                          json_t *result)
{
	json_object_set_new(result, "sessions_killed", json_integer(0));
	json_object_set_new(
	        result, "sessions_left",
	        json_integer((json_int_t)sg_sessreg_find(gw->reg, identity, len, NULL, 0)));
	json_object_set_new(result, "sessions_kept", json_true());
}

/* RFC 4648 §4 base64 (padding required, no line breaks). Returns the bytes or -EINVAL. */
static ssize_t b64_decode(const char *in, size_t n, uint8_t *out)
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

static json_t *no_store(struct sg_gateway *gw, struct sg_ctl_error *err)
{
	(void)gw;
	return sg_ctl_fail(err, SG_CTL_EFAILED, "the credential store is not open");
}

static json_t *busy(struct sg_ctl_error *err)
{
	return sg_ctl_fail(err, SG_CTL_ECONFLICT,
	                   "a credential import is running: the store takes no other change "
	                   "until it ends");
}

/* An identity is required here. */
static int get_identity(json_t *args, uint8_t out[SG_CRED_IDENTITY_MAX], struct sg_ctl_error *err)
{
	int n = gw_arg_identity(args, out, err);

	if (n == 0) {
		sg_ctl_fail(err, SG_CTL_EARGS, "\"identity\" (or \"identity_hex\") is required");
		return -EINVAL;
	}
	return n;
}

/*
 * The start of every request about one identity: an open store, no import
 * running when the request changes it (writes), known arguments, and the
 * identity. Returns its length, or -1 with err set.
 */
static int identity_request(struct sg_gateway *gw, json_t *args, const char *const *names,
                            bool writes, uint8_t ident[SG_CRED_IDENTITY_MAX],
                            struct sg_ctl_error *err)
{
	if (gw->cred == NULL) {
		no_store(gw, err);
		return -1;
	}
	if (writes && gw->import != NULL) {
		busy(err);
		return -1;
	}
	if (gw_args_known(args, names, err) != 0)
		return -1;
	return get_identity(args, ident, err);
}

/* Seconds from an integer or "90", "90s", "15m", "24h", "7d". */
static int get_seconds(json_t *v, uint64_t *out)
{
	const char *s;
	char *end;
	unsigned long long x;

	if (json_is_integer(v)) {
		if (json_integer_value(v) < 0)
			return -EINVAL;
		*out = (uint64_t)json_integer_value(v);
		return 0;
	}
	if (!json_is_string(v))
		return -EINVAL;
	s = json_string_value(v);
	if (s[0] < '0' || s[0] > '9')
		return -EINVAL;
	errno = 0;
	x = strtoull(s, &end, 10);
	if (errno != 0 || x > UINT32_MAX)
		return -EINVAL;
	if (strcmp(end, "m") == 0)
		x *= 60;
	else if (strcmp(end, "h") == 0)
		x *= 3600;
	else if (strcmp(end, "d") == 0)
		x *= 86400;
	else if (end[0] != '\0' && strcmp(end, "s") != 0)
		return -EINVAL;
	*out = x;
	return 0;
}

json_t *gw_cmd_cred_add(void *ctx, json_t *args, struct sg_ctl_error *err)
{
	static const char *const names[] = { "identity",      "identity_hex",
		                             "psk",           "key_lifetime",
		                             "state",         "replace",
		                             "keep_sessions", NULL };
	struct sg_gateway *gw = ctx;
	uint8_t ident[SG_CRED_IDENTITY_MAX];
	struct sg_cred_entry e, old;
	json_t *psk = json_object_get(args, "psk"), *lt = json_object_get(args, "key_lifetime");
	json_t *st = json_object_get(args, "state"), *rp = json_object_get(args, "replace");
	json_t *keep = json_object_get(args, "keep_sessions"), *r;
	uint64_t lifetime = 0;
	char msg[160];
	int len, rc, existed;

	len = identity_request(gw, args, names, true, ident, err);
	if (len < 0)
		return NULL;
	memset(&e, 0, sizeof(e));
	if (!json_is_string(psk))
		return sg_ctl_fail(err, SG_CTL_EARGS, "\"psk\" (the key in hex) is required");
	if (sg_cred_psk_from_hex(json_string_value(psk), json_string_length(psk), &e, msg,
	                         sizeof(msg)) != 0)
		return sg_ctl_fail(err, SG_CTL_EARGS, "\"psk\": %s", msg + 4 /* past "psk_" */);
	if (lt != NULL && (get_seconds(lt, &lifetime) != 0 ||
	                   (lifetime != 0 && (lifetime < SG_CRED_LIFETIME_MIN ||
	                                      lifetime > SG_CRED_LIFETIME_MAX)))) {
		sg_wipe(&e, sizeof(e));
		return sg_ctl_fail(err, SG_CTL_EARGS,
		                   "\"key_lifetime\" must be 0 (the policy's) or %d..%d seconds",
		                   SG_CRED_LIFETIME_MIN, SG_CRED_LIFETIME_MAX);
	}
	e.key_lifetime = (uint32_t)lifetime;
	if (st != NULL) {
		const char *v = json_string_value(st);

		if (v != NULL && strcmp(v, "disabled") == 0) {
			e.flags = SG_CRED_F_DISABLED;
		} else if (v == NULL || strcmp(v, "enabled") != 0) {
			sg_wipe(&e, sizeof(e));
			return sg_ctl_fail(err, SG_CTL_EARGS,
			                   "\"state\" must be \"enabled\" or \"disabled\"");
		}
	}
	if ((rp != NULL && !json_is_boolean(rp)) || (keep != NULL && !json_is_boolean(keep))) {
		sg_wipe(&e, sizeof(e));
		return sg_ctl_fail(err, SG_CTL_EARGS,
		                   "\"replace\" and \"keep_sessions\" must be true or false");
	}
	existed = sg_cred_get(gw->cred, ident, (size_t)len, &old) == 0;
	sg_cred_entry_wipe(&old);
	if (existed && !json_is_true(rp)) {
		sg_wipe(&e, sizeof(e));
		return sg_ctl_fail(err, SG_CTL_ECONFLICT,
		                   "the identity exists already (\"replace\": true to change it)");
	}
	rc = sg_cred_put(gw->cred, ident, (size_t)len, &e);
	sg_wipe(&e, sizeof(e));
	if (rc != 0)
		return sg_ctl_fail(err, SG_CTL_EFAILED, "credential store: %s", strerror(-rc));
	SG_LOG(CRED, INFO, "credential %s on the control socket (%d-byte identity)",
	       existed ? "replaced" : "added", len);
	r = json_pack("{s:b, s:b}", "added", !existed, "replaced", existed);
	if (r == NULL)
		return sg_ctl_fail(err, SG_CTL_EINTERNAL, "out of memory");
	if (existed && json_is_true(keep))
		keep_sessions(gw, ident, (size_t)len, r);
	else if (existed)
		revoke_sessions(gw, ident, (size_t)len, r);
	return r;
}

json_t *gw_cmd_cred_remove(void *ctx, json_t *args, struct sg_ctl_error *err)
{
	/* kill_sessions: what ending them was called before it became the default; ignored. */
	static const char *const names[] = { "identity", "identity_hex", "keep_sessions",
		                             "kill_sessions", NULL };
	struct sg_gateway *gw = ctx;
	uint8_t ident[SG_CRED_IDENTITY_MAX];
	json_t *keep = json_object_get(args, "keep_sessions"), *ks, *r;
	int len, rc;

	len = identity_request(gw, args, names, true, ident, err);
	if (len < 0)
		return NULL;
	ks = json_object_get(args, "kill_sessions");
	if ((keep != NULL && !json_is_boolean(keep)) || (ks != NULL && !json_is_boolean(ks)))
		return sg_ctl_fail(
		        err, SG_CTL_EARGS,
		        "\"keep_sessions\" (and \"kill_sessions\") must be true or false");
	if (json_is_true(keep) && json_is_true(ks))
		return sg_ctl_fail(err, SG_CTL_EARGS,
		                   "\"keep_sessions\" and \"kill_sessions\" contradict each other");
	rc = sg_cred_delete(gw->cred, ident, (size_t)len);
	if (rc == -ENOENT)
		return sg_ctl_fail(err, SG_CTL_ENOTFOUND, "no such identity");
	if (rc != 0)
		return sg_ctl_fail(err, SG_CTL_EFAILED, "credential store: %s", strerror(-rc));
	SG_LOG(CRED, INFO, "credential removed on the control socket");
	r = json_pack("{s:b}", "removed", 1);
	if (r == NULL)
		return sg_ctl_fail(err, SG_CTL_EINTERNAL, "out of memory");
	if (json_is_true(keep))
		keep_sessions(gw, ident, (size_t)len, r);
	else
		revoke_sessions(gw, ident, (size_t)len, r);
	return r;
}

json_t *gw_cmd_cred_count(void *ctx, json_t *args, struct sg_ctl_error *err)
{
	struct sg_gateway *gw = ctx;
	uint64_t n = 0;
	int rc;

	if (json_object_size(args) != 0)
		return sg_ctl_fail(err, SG_CTL_EARGS, "credentials.count takes no arguments");
	if (gw->cred == NULL)
		return no_store(gw, err);
	rc = sg_cred_count(gw->cred, &n);
	if (rc != 0)
		return sg_ctl_fail(err, SG_CTL_EFAILED, "credential store: %s", strerror(-rc));
	return json_pack("{s:I, s:s, s:b}", "count", (json_int_t)n, "db", gw->cfg.credentials.db,
	                 "import_running", gw->import != NULL);
}

/* What is known of an identity; never its key. */
json_t *gw_cmd_cred_show(void *ctx, json_t *args, struct sg_ctl_error *err)
{
	static const char *const names[] = { "identity", "identity_hex", NULL };
	struct sg_gateway *gw = ctx;
	uint8_t ident[SG_CRED_IDENTITY_MAX];
	struct sg_cred_entry e;
	json_t *r;
	int len, rc;

	len = identity_request(gw, args, names, false, ident, err);
	if (len < 0)
		return NULL;
	rc = sg_cred_get(gw->cred, ident, (size_t)len, &e);
	if (rc == -ENOENT)
		return sg_ctl_fail(err, SG_CTL_ENOTFOUND, "no such identity");
	if (rc != 0)
		return sg_ctl_fail(err, SG_CTL_EFAILED, "credential store: %s", strerror(-rc));
	r = json_pack("{s:O, s:i, s:I, s:I, s:s, s:I}", "identity",
	              json_object_get(args, "identity") ? json_object_get(args, "identity")
	                                                : json_object_get(args, "identity_hex"),
	              "psk_len", (int)e.psk_len, "key_lifetime", (json_int_t)e.key_lifetime,
	              "effective_key_lifetime",
	              (json_int_t)(e.key_lifetime ? e.key_lifetime : gw->cfg.policy.key_lifetime),
	              "state", (e.flags & SG_CRED_F_DISABLED) ? "disabled" : "enabled", "sessions",
	              (json_int_t)sg_sessreg_find(gw->reg, ident, (size_t)len, NULL, 0));
	sg_cred_entry_wipe(&e);
	return r ? r : sg_ctl_fail(err, SG_CTL_EINTERNAL, "out of memory");
}

/* ---- import ---- */

/* sg_cred_revoked_fn of an import: an identity with sessions gets another key. */
static void import_revoked(void *arg, const uint8_t *identity, size_t len)
{
	struct gw_import *x = arg;

	/* An identity without sessions now may still get one before the commit:
	 * gw_cred_session_installed() catches those. */
	if (x->gw_reg == NULL || sg_sessreg_find(x->gw_reg, identity, len, NULL, 0) == 0)
		return;
	if (ident_push(&x->revoked, &x->n_revoked, &x->cap_revoked, identity, len) != 0)
		x->revoke_oom = 1;
}

void gw_cred_session_installed(struct sg_gateway *gw, const uint8_t *identity, size_t len)
{
	struct gw_import *x = gw->import;

	if (x == NULL || x->im == NULL || !sg_cred_import_revokes(x->im, identity, len))
		return;
	if (ident_push(&x->revoked, &x->n_revoked, &x->cap_revoked, identity, len) != 0)
		x->revoke_oom = 1;
}

static void import_end(struct sg_gateway *gw, int ok)
{
	if (!ok && gw->import->im != NULL)
		sg_cred_import_abort(gw->import->im);
	/* Committed: the sessions made with the keys it replaced end, a few per poll. */
	for (uint32_t i = 0; ok && i < gw->import->n_revoked; i++)
		revoked_queue(gw, gw->import->revoked[i].bytes, gw->import->revoked[i].len);
	if (ok && gw->import->revoke_oom)
		SG_LOG(CRED, ERR,
		       "credential import: out of memory recording the identities whose "
		       "key it replaced; some of their sessions stay");
	free(gw->import->revoked);
	free(gw->import);
	gw->import = NULL;
	if (ok)
		gw->imports_done++;
	else
		gw->imports_failed++;
}

void gw_cred_client_closed(struct sg_gateway *gw, uint64_t client)
{
	if (gw->import == NULL || (client != 0 && gw->import->client != client))
		return;
	SG_LOG(CRED, NOTICE,
	       "credential import abandoned by its client after %" PRIu64
	       " lines: nothing imported",
	       sg_cred_import_progress(gw->import->im)->lines);
	import_end(gw, 0);
}

void sg_gateway_ctl_closed(void *ctx, uint64_t client)
{
	gw_cred_client_closed(ctx, client);
}

json_t *gw_cmd_cred_import(void *ctx, json_t *args, struct sg_ctl_error *err)
{
	static const char *const names[] = { "phase", "data", NULL };
	struct sg_gateway *gw = ctx;
	uint64_t me = gw->ctl ? sg_ctl_server_client(gw->ctl) : 0;
	const char *phase = json_string_value(json_object_get(args, "phase"));
	json_t *data = json_object_get(args, "data");
	struct gw_import *x = gw->import;

	if (gw->cred == NULL)
		return no_store(gw, err);
	if (gw_args_known(args, names, err) != 0)
		return NULL;
	if (phase == NULL)
		return sg_ctl_fail(err, SG_CTL_EARGS,
		                   "\"phase\" is required: begin, data, commit or abort");
	if (strcmp(phase, "begin") == 0) {
		if (x != NULL)
			return busy(err);
		x = calloc(1, sizeof(*x));
		if (x == NULL)
			return sg_ctl_fail(err, SG_CTL_EINTERNAL, "out of memory");
		x->im = sg_cred_import_begin(gw->cred);
		if (x->im == NULL) {
			int e = errno;

			free(x);
			return sg_ctl_fail(err, SG_CTL_EFAILED, "credential store: %s",
			                   strerror(e));
		}
		x->client = me;
		x->started_ns = gw_now_ns();
		x->gw_reg = gw->reg;
		sg_cred_import_on_revoke(x->im, import_revoked, x);
		gw->import = x;
		SG_LOG(CRED, INFO, "credential import started on the control socket");
		return json_pack("{s:s}", "phase", "begin");
	}
	if (strcmp(phase, "data") != 0 && strcmp(phase, "commit") != 0 &&
	    strcmp(phase, "abort") != 0)
		return sg_ctl_fail(err, SG_CTL_EARGS,
		                   "\"phase\" must be begin, data, commit or abort; got '%.32s'",
		                   phase);
	if (x == NULL)
		return sg_ctl_fail(err, SG_CTL_ECONFLICT,
		                   "no import is running (phase begin first)");
	if (x->client != me)
		return sg_ctl_fail(err, SG_CTL_ECONFLICT,
		                   "the import running belongs to another control client");
	if (strcmp(phase, "abort") == 0) {
		import_end(gw, 0);
		SG_LOG(CRED, INFO, "credential import aborted by its client: nothing imported");
		return json_pack("{s:s}", "phase", "abort");
	}
	if (strcmp(phase, "data") == 0) {
		size_t n = json_string_length(data);
		uint8_t *buf;
		ssize_t got;
		int rc;

		if (!json_is_string(data))
			return sg_ctl_fail(err, SG_CTL_EARGS,
			                   "\"data\" (base64 CSV bytes) is required");
		buf = malloc(n / 4 * 3 + 3);
		if (buf == NULL)
			return sg_ctl_fail(err, SG_CTL_EINTERNAL, "out of memory");
		got = b64_decode(json_string_value(data), n, buf);
		if (got < 0) {
			free(buf);
			import_end(gw, 0);
			return sg_ctl_fail(
			        err, SG_CTL_EARGS,
			        "\"data\" is not base64 (RFC 4648, padded): import aborted");
		}
		rc = sg_cred_import_feed(x->im, (const char *)buf, (size_t)got);
		sg_wipe(buf, (size_t)got);
		free(buf);
		x->bytes += (uint64_t)got;
		if (rc != 0) {
			const struct sg_cred_import_report *p = sg_cred_import_progress(x->im);

			sg_ctl_fail(err, rc == -EINVAL ? SG_CTL_ECSV : SG_CTL_EFAILED,
			            "line %" PRIu64 ": %s; nothing imported", p->bad_line,
			            p->message);
			err->data = json_pack("{s:I, s:s}", "line", (json_int_t)p->bad_line,
			                      "reason", p->message);
			SG_LOG(CRED, NOTICE, "credential import failed at line %" PRIu64 ": %s",
			       p->bad_line, p->message);
			import_end(gw, 0);
			return NULL;
		}
		return json_pack("{s:I, s:I}", "lines",
		                 (json_int_t)sg_cred_import_progress(x->im)->lines, "bytes",
		                 (json_int_t)x->bytes);
	}
	/* commit */
	struct sg_cred_import_report rep;
	uint64_t count = 0;
	double secs = (double)(gw_now_ns() - x->started_ns) / 1e9;
	int rc;

	/*
	 * Handshakes in flight that looked up a key this import replaces would
	 * install a session made with it after the commit: they fail first (if
	 * the commit then fails, they only started again).
	 */
	sg_hs_revoke(gw->hs, import_takes_key, x->im);
	rc = sg_cred_import_commit(x->im, &rep);
	uint32_t revoked = x->n_revoked;

	x->im = NULL;
	import_end(gw, rc == 0);
	if (rc != 0) {
		if (rep.bad_line)
			sg_ctl_fail(err, SG_CTL_ECSV, "line %" PRIu64 ": %s; nothing imported",
			            rep.bad_line, rep.message);
		else
			sg_ctl_fail(err, SG_CTL_EFAILED, "%s; nothing imported", rep.message);
		if (rep.bad_line)
			err->data = json_pack("{s:I, s:s}", "line", (json_int_t)rep.bad_line,
			                      "reason", rep.message);
		return NULL;
	}
	sg_cred_count(gw->cred, &count);
	SG_LOG(CRED, NOTICE,
	       "credential import: %" PRIu64 " identities from %" PRIu64
	       " lines in %.1f s; %" PRIu64 " stored",
	       rep.imported, rep.lines, secs, count);
	return json_pack("{s:s, s:I, s:I, s:I, s:f, s:I}", "phase", "commit", "imported",
	                 (json_int_t)rep.imported, "lines", (json_int_t)rep.lines, "count",
	                 (json_int_t)count, "seconds", secs, "revoked_identities",
	                 (json_int_t)revoked);
}
