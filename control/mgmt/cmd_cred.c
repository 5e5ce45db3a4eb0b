/* SPDX-License-Identifier: Apache-2.0 */
/*
 * credentials.add / remove / show / count (the streamed import is import.c).
 *
 * Replacing or removing a credential ends its sessions (issue 12): a session
 * made with a key the operator took away must not outlive it. The handshakes
 * in flight that looked the old key up fail first, then the identity's
 * sessions end through the gateway's one end-session path, some before the
 * answer and the rest in the background (revoke.c, on the gateway thread).
 *
 * The control server's thread (the management thread); writes the
 * credential store (one LMDB write transaction at a time: refused while an
 * import holds it), so the gateway thread never waits for an LMDB writer.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <stormgate/common.h>

#include "mgmt_priv.h"
#include "sg_cfg_values.h"
#include "sg_log.h"

/*
 * After the store changed: the identity's sessions end (or, keep_sessions,
 * are counted), on the gateway thread; result says so. NULL with err set
 * when the gateway thread has stopped.
 */
static json_t *sessions_after(struct sg_mgmt *m, const uint8_t *identity, size_t len, bool keep,
                              json_t *result, struct sg_ctl_error *err)
{
	int rc = keep ? mgmt_keep_sessions(m, identity, len, result)
	              : mgmt_revoke_identity(m, identity, len, result);

	if (rc == 0)
		return result;
	json_decref(result);
	return sg_ctl_fail(err, SG_CTL_EFAILED,
	                   "the credential store changed, but the gateway thread has stopped (the "
	                   "daemon is stopping): the identity's sessions end with it");
}

/*
 * The start of every request about one identity: an open store, no import
 * running when the request changes it (writes), known arguments, and the
 * identity (required). Returns its length, or -1 with err set.
 */
static int identity_request(struct sg_mgmt *m, json_t *args, const char *const *names, bool writes,
                            uint8_t ident[SG_CRED_IDENTITY_MAX], struct sg_ctl_error *err)
{
	int n;

	if (m->cred == NULL) {
		mgmt_no_store(err);
		return -1;
	}
	if (writes && m->import != NULL) {
		mgmt_import_busy(err);
		return -1;
	}
	if (mgmt_args_known(args, names, err) != 0)
		return -1;
	n = mgmt_arg_identity(args, ident, err);
	if (n == 0) {
		sg_ctl_fail(err, SG_CTL_EARGS, "\"identity\" (or \"identity_hex\") is required");
		return -1;
	}
	return n < 0 ? -1 : n;
}

/*
 * Seconds from an integer or "90", "90s", "15m", "24h", "7d" (the config's
 * durations, sg_duration_parse()); a number above UINT32_MAX is refused
 * before its unit applies.
 */
static int get_seconds(json_t *v, uint64_t *out)
{
	const char *s;

	if (json_is_integer(v)) {
		if (json_integer_value(v) < 0)
			return -EINVAL;
		*out = (uint64_t)json_integer_value(v);
		return 0;
	}
	if (!json_is_string(v))
		return -EINVAL;
	s = json_string_value(v);
	/* Digits first (sg_duration_parse() checks): strtoull() reads only them. */
	if (sg_duration_parse(s, out) != 0 || strtoull(s, NULL, 10) > UINT32_MAX)
		return -EINVAL;
	return 0;
}

/* credentials.add's entry: psk, key_lifetime, state. 0, or -1 with err set (e wiped). */
static int entry_args(json_t *args, struct sg_cred_entry *e, struct sg_ctl_error *err)
{
	json_t *psk = json_object_get(args, "psk"), *lt = json_object_get(args, "key_lifetime");
	json_t *st = json_object_get(args, "state");
	uint64_t lifetime = 0;
	char msg[160];

	memset(e, 0, sizeof(*e));
	if (!json_is_string(psk)) {
		sg_ctl_fail(err, SG_CTL_EARGS, "\"psk\" (the key in hex) is required");
		return -1;
	}
	if (sg_cred_psk_from_hex(json_string_value(psk), json_string_length(psk), e, msg,
	                         sizeof(msg)) != 0) {
		sg_ctl_fail(err, SG_CTL_EARGS, "\"psk\": %s", msg + 4 /* past "psk_" */);
		return -1;
	}
	if (lt != NULL && (get_seconds(lt, &lifetime) != 0 ||
	                   (lifetime != 0 && (lifetime < SG_CRED_LIFETIME_MIN ||
	                                      lifetime > SG_CRED_LIFETIME_MAX)))) {
		sg_wipe(e, sizeof(*e));
		sg_ctl_fail(err, SG_CTL_EARGS,
		            "\"key_lifetime\" must be 0 (the policy's) or %d..%d seconds",
		            SG_CRED_LIFETIME_MIN, SG_CRED_LIFETIME_MAX);
		return -1;
	}
	e->key_lifetime = (uint32_t)lifetime;
	if (st != NULL) {
		const char *v = json_string_value(st);

		if (v != NULL && strcmp(v, "disabled") == 0) {
			e->flags = SG_CRED_F_DISABLED;
		} else if (v == NULL || strcmp(v, "enabled") != 0) {
			sg_wipe(e, sizeof(*e));
			sg_ctl_fail(err, SG_CTL_EARGS,
			            "\"state\" must be \"enabled\" or \"disabled\"");
			return -1;
		}
	}
	return 0;
}

/* Store e under ident (replacing only when asked); e is wiped. Returns the answer or NULL. */
static json_t *store_entry(struct sg_mgmt *m, const uint8_t *ident, int len,
                           struct sg_cred_entry *e, json_t *rp, json_t *keep,
                           struct sg_ctl_error *err)
{
	struct sg_cred_entry old;
	int rc, existed;
	json_t *r;

	existed = sg_cred_get(m->cred, ident, (size_t)len, &old) == 0;
	sg_cred_entry_wipe(&old);
	if (existed && !json_is_true(rp)) {
		sg_wipe(e, sizeof(*e));
		return sg_ctl_fail(err, SG_CTL_ECONFLICT,
		                   "the identity exists already (\"replace\": true to change it)");
	}
	rc = sg_cred_put(m->cred, ident, (size_t)len, e);
	sg_wipe(e, sizeof(*e));
	if (rc != 0)
		return sg_ctl_fail(err, SG_CTL_EFAILED, "credential store: %s", strerror(-rc));
	SG_LOG(CRED, INFO, "credential %s on the control socket (%d-byte identity)",
	       existed ? "replaced" : "added", len);
	r = json_pack("{s:b, s:b}", "added", !existed, "replaced", existed);
	if (r == NULL)
		return sg_ctl_fail(err, SG_CTL_EINTERNAL, "out of memory");
	if (!existed)
		return r;
	return sessions_after(m, ident, (size_t)len, json_is_true(keep), r, err);
}

json_t *mgmt_cmd_cred_add(void *ctx, json_t *args, struct sg_ctl_error *err)
{
	static const char *const names[] = { "identity",      "identity_hex",
		                             "psk",           "key_lifetime",
		                             "state",         "replace",
		                             "keep_sessions", NULL };
	struct sg_mgmt *m = ctx;
	uint8_t ident[SG_CRED_IDENTITY_MAX];
	struct sg_cred_entry e;
	json_t *rp = json_object_get(args, "replace"),
	       *keep = json_object_get(args, "keep_sessions");
	int len;

	len = identity_request(m, args, names, true, ident, err);
	if (len < 0 || entry_args(args, &e, err) != 0)
		return NULL;
	if ((rp != NULL && !json_is_boolean(rp)) || (keep != NULL && !json_is_boolean(keep))) {
		sg_wipe(&e, sizeof(e));
		return sg_ctl_fail(err, SG_CTL_EARGS,
		                   "\"replace\" and \"keep_sessions\" must be true or false");
	}
	return store_entry(m, ident, len, &e, rp, keep, err);
}

json_t *mgmt_cmd_cred_remove(void *ctx, json_t *args, struct sg_ctl_error *err)
{
	/* kill_sessions: what ending them was called before it became the default; ignored. */
	static const char *const names[] = { "identity", "identity_hex", "keep_sessions",
		                             "kill_sessions", NULL };
	struct sg_mgmt *m = ctx;
	uint8_t ident[SG_CRED_IDENTITY_MAX];
	json_t *keep = json_object_get(args, "keep_sessions"), *ks, *r;
	int len, rc;

	len = identity_request(m, args, names, true, ident, err);
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
	rc = sg_cred_delete(m->cred, ident, (size_t)len);
	if (rc == -ENOENT)
		return sg_ctl_fail(err, SG_CTL_ENOTFOUND, "no such identity");
	if (rc != 0)
		return sg_ctl_fail(err, SG_CTL_EFAILED, "credential store: %s", strerror(-rc));
	SG_LOG(CRED, INFO, "credential removed on the control socket");
	r = json_pack("{s:b}", "removed", 1);
	if (r == NULL)
		return sg_ctl_fail(err, SG_CTL_EINTERNAL, "out of memory");
	return sessions_after(m, ident, (size_t)len, json_is_true(keep), r, err);
}

json_t *mgmt_cmd_cred_count(void *ctx, json_t *args, struct sg_ctl_error *err)
{
	struct sg_mgmt *m = ctx;
	uint64_t n = 0;
	int rc;

	if (json_object_size(args) != 0)
		return sg_ctl_fail(err, SG_CTL_EARGS, "credentials.count takes no arguments");
	if (m->cred == NULL)
		return mgmt_no_store(err);
	rc = sg_cred_count(m->cred, &n);
	if (rc != 0)
		return sg_ctl_fail(err, SG_CTL_EFAILED, "credential store: %s", strerror(-rc));
	return json_pack("{s:I, s:s, s:b}", "count", (json_int_t)n, "db", m->db, "import_running",
	                 m->import != NULL);
}

/* What is known of an identity; never its key. */
json_t *mgmt_cmd_cred_show(void *ctx, json_t *args, struct sg_ctl_error *err)
{
	static const char *const names[] = { "identity", "identity_hex", NULL };
	struct sg_mgmt *m = ctx;
	const struct sg_config *cfg = sg_gateway_config(m->gw);
	uint8_t ident[SG_CRED_IDENTITY_MAX];
	struct sg_cred_entry e;
	json_t *r;
	int len, rc;

	len = identity_request(m, args, names, false, ident, err);
	if (len < 0)
		return NULL;
	rc = sg_cred_get(m->cred, ident, (size_t)len, &e);
	if (rc == -ENOENT)
		return sg_ctl_fail(err, SG_CTL_ENOTFOUND, "no such identity");
	if (rc != 0)
		return sg_ctl_fail(err, SG_CTL_EFAILED, "credential store: %s", strerror(-rc));
	r = json_pack("{s:O, s:i, s:I, s:I, s:s, s:I}", "identity",
	              json_object_get(args, "identity") ? json_object_get(args, "identity")
	                                                : json_object_get(args, "identity_hex"),
	              "psk_len", (int)e.psk_len, "key_lifetime", (json_int_t)e.key_lifetime,
	              "effective_key_lifetime",
	              (json_int_t)(e.key_lifetime ? e.key_lifetime : cfg->policy.key_lifetime),
	              "state", (e.flags & SG_CRED_F_DISABLED) ? "disabled" : "enabled", "sessions",
	              (json_int_t)sg_gateway_sessions_of(m->gw, ident, (size_t)len, NULL, 0));
	sg_cred_entry_wipe(&e);
	return r ? r : sg_ctl_fail(err, SG_CTL_EINTERNAL, "out of memory");
}
