/* SPDX-License-Identifier: Apache-2.0 */
/*
 * policy.get / policy.set / policy.reset: the live policy. Key lifetime and
 * jitter (applied to each new session), cookie mode and threshold, suites
 * (the handshake engine's), handshake_rate and handshake_source_* (storm
 * admission, sg_admit.h), rekey_grace (read at each re-handshake) and
 * idle_timeout (the sweep's). `policy set` checks every value with the
 * configuration file's rules (sg_config_set()) and hands the gateway the
 * whole new policy, so all of it applies or none (sg_gateway_policy_set()).
 *
 * The keys set live are overrides (overrides.h): kept in the session store
 * after each change (sg_gateway_store_policy()), they win over the file at
 * the next start until `policy reset` drops them, which rebuilds the policy
 * from the file's and the overrides left (sg_config_apply_overrides()), so
 * the live policy is always the file's with the overrides over it. The
 * gateway thread (owner commands).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <stormgate/common.h>

#include "mgmt_priv.h"
#include "sg_log.h"

/* The live set's keys (sg_config_live_keys()) as `policy get` lists them: without "policy.". */
static void live_key(const char *path, void *arg)
{
	const char *prefix = "policy.";

	if (strncmp(path, prefix, strlen(prefix)) == 0)
		json_array_append_new(arg, json_string(path + strlen(prefix)));
}

static json_t *policy_json(const struct sg_mgmt *m)
{
	const struct sg_cfg_policy *p = &sg_gateway_config(m->gw)->policy;
	json_t *suites = json_array(), *live = json_array();
	struct sg_gw_desc d;

	sg_gateway_describe(m->gw, &d);
	for (uint32_t i = 0; suites != NULL && i < p->n_suites; i++) {
		const char *n = sg_suite_name(p->suites[i]);
		json_array_append_new(suites, json_string(n ? n : "?"));
	}
	if (live != NULL)
		sg_config_live_keys(live_key, live);
	return json_pack("{s:I, s:I, s:s, s:I, s:o, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:o, s:I, "
	                 "s:o*}",
	                 "key_lifetime", (json_int_t)p->key_lifetime, "key_lifetime_jitter",
	                 (json_int_t)p->key_lifetime_jitter, "cookie_mode",
	                 sg_cookie_mode_name(p->cookie_mode), "cookie_threshold",
	                 (json_int_t)p->cookie_threshold, "suites", suites ? suites : json_array(),
	                 "handshake_rate", (json_int_t)p->handshake_rate, "handshake_source_share",
	                 (json_int_t)p->handshake_source_share, "handshake_source_prefix4",
	                 (json_int_t)p->handshake_source_prefix4, "handshake_source_prefix6",
	                 (json_int_t)p->handshake_source_prefix6, "auth_failure_limit",
	                 (json_int_t)p->auth_failure_limit, "rekey_grace",
	                 (json_int_t)p->rekey_grace, "idle_timeout", (json_int_t)p->idle_timeout,
	                 "live", live ? live : json_array(), "max_handshakes",
	                 (json_int_t)d.max_handshakes, "overridden", mgmt_ovr_json(&m->ovr));
}

json_t *mgmt_cmd_policy_get(void *ctx, json_t *args, struct sg_ctl_error *err)
{
	json_t *r;

	if (json_object_size(args) != 0)
		return sg_ctl_fail(err, SG_CTL_EARGS, "policy.get takes no arguments");
	r = policy_json(ctx);
	return r ? r : sg_ctl_fail(err, SG_CTL_EINTERNAL, "out of memory");
}

/* "[A, B]" of a JSON list of suite names; NULL with msg set when an item is not one. */
static char *list_text(json_t *v, char *msg, size_t msg_len)
{
	char *out = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&out, &len);

	if (f == NULL)
		return NULL;
	fputc('[', f);
	for (size_t i = 0; i < json_array_size(v); i++) {
		json_t *it = json_array_get(v, i);

		if (!json_is_string(it) || strpbrk(json_string_value(it), ",[]{}\n\r#") != NULL) {
			snprintf(msg, msg_len, "item %zu must be a suite name", i);
			fclose(f);
			free(out);
			return NULL;
		}
		fprintf(f, "%s%s", i ? ", " : "", json_string_value(it));
	}
	fputc(']', f);
	fclose(f);
	return out;
}

/* YAML text of a JSON value, as the config file would spell it; NULL: wrong type. */
static char *value_text(json_t *v, int list, char *msg, size_t msg_len)
{
	char *out = NULL;

	if (json_is_integer(v)) {
		if (asprintf(&out, "%" JSON_INTEGER_FORMAT, json_integer_value(v)) < 0)
			out = NULL;
		return out;
	}
	if (json_is_string(v)) {
		const char *s = json_string_value(v);

		if (strpbrk(s, "\n\r#") != NULL) {
			snprintf(msg, msg_len, "a value is one line without '#'");
			return NULL;
		}
		/* "A,B" for a list is the command line's spelling of [A, B]. */
		if (asprintf(&out, list && s[0] != '[' ? "[%s]" : "%s", s) < 0)
			out = NULL;
		return out;
	}
	if (!json_is_array(v) || !list) {
		snprintf(msg, msg_len, "must be %s",
		         list ? "a list or a string" : "a string or an integer");
		return NULL;
	}
	return list_text(v, msg, msg_len);
}

/* Is key (without "policy.") one `policy set` takes? 0, or -1 with err set. */
static int check_key(const char *key, struct sg_ctl_error *err)
{
	char path[96];
	int live;

	snprintf(path, sizeof(path), "policy.%.80s", key);
	live = strlen(key) < MGMT_OVR_KEY_MAX ? sg_config_key_live(path) : -ENOENT;
	if (live == 1)
		return 0;
	if (live == 0)
		sg_ctl_fail(err, SG_CTL_EARGS,
		            "%s is read at start-up only: change the config file and restart",
		            path);
	else
		sg_ctl_fail(err, SG_CTL_EARGS, "unknown policy key '%.48s'", key);
	return -1;
}

/*
 * Apply one key's value to next (checked as the config file's) and record
 * it in ovr as the file would spell it. 0, or -1 with err set.
 */
static int set_key(struct sg_config *next, struct mgmt_ovr *ovr, const char *key, json_t *v,
                   struct sg_ctl_error *err)
{
	char path[96], msg[200] = "", *text;
	int rc;

	if (check_key(key, err) != 0)
		return -1;
	snprintf(path, sizeof(path), "policy.%s", key);
	text = value_text(v, strcmp(key, "suites") == 0, msg, sizeof(msg));
	if (text == NULL) {
		sg_ctl_fail(err, SG_CTL_EARGS, "policy.%s: %s", key,
		            msg[0] ? msg : "out of memory");
		return -1;
	}
	rc = sg_config_set(next, path, text, msg, sizeof(msg));
	if (rc == 0 && mgmt_ovr_put(ovr, key, text) != 0) {
		snprintf(msg, sizeof(msg), "policy.%s: the value is too long to keep", key);
		rc = -EINVAL;
	}
	free(text);
	if (rc != 0) {
		sg_ctl_fail(err, SG_CTL_EARGS, "%s", msg);
		return -1;
	}
	return 0;
}

/* "policy <what> on the control socket: a, b" */
static void log_changed(const char *what, const json_t *changed)
{
	char list[256];
	size_t off = 0;

	list[0] = '\0';
	for (size_t i = 0; i < json_array_size(changed) && off < sizeof(list); i++)
		off += (size_t)snprintf(list + off, sizeof(list) - off, "%s%s", i ? ", " : "",
		                        json_string_value(json_array_get(changed, i)));
	SG_LOG(CTL, NOTICE, "policy %s on the control socket: %s", what,
	       list[0] ? list : "(no override)");
}

/*
 * Keep m's overrides in the session store, replacing what it had. Returns
 * whether they are stored: not when the store is off, nor after a failure
 * (logged: the live policy holds until the daemon stops).
 */
static bool persist(struct sg_mgmt *m)
{
	size_t len = 0;
	char *text = mgmt_ovr_text(&m->ovr, &len);
	int rc = text != NULL ? sg_gateway_store_policy(m->gw, text, len) : -ENOMEM;

	free(text);
	if (rc != 0 && rc != -ENOTSUP)
		SG_LOG(CTL, WARNING,
		       "policy overrides not stored (%s): they hold until the daemon stops",
		       strerror(-rc));
	return rc == 0;
}

/* What a change is built in: the whole next config and the overrides with it. */
struct pending {
	struct sg_config cfg;
	struct mgmt_ovr ovr;
};

/*
 * Make p's policy and overrides live and store the overrides; the answer: the
 * policy, member (the keys changed or reset: list, taken) and "persisted".
 */
static json_t *commit(struct sg_mgmt *m, struct pending *p, const char *member, json_t *list,
                      struct sg_ctl_error *err)
{
	json_t *res;
	bool stored;
	int rc = sg_gateway_policy_set(m->gw, &p->cfg.policy);

	if (rc != 0) {
		json_decref(list);
		return sg_ctl_fail(err, SG_CTL_EFAILED,
		                   "the handshake engine refused the policy: %s", strerror(-rc));
	}
	m->ovr = p->ovr;
	stored = persist(m);
	log_changed(member, list);
	res = policy_json(m);
	if (res == NULL) {
		json_decref(list);
		return sg_ctl_fail(err, SG_CTL_EINTERNAL, "out of memory");
	}
	json_object_set_new(res, member, list);
	json_object_set_new(res, "persisted", json_boolean(stored));
	return res;
}

json_t *mgmt_cmd_policy_set(void *ctx, json_t *args, struct sg_ctl_error *err)
{
	struct sg_mgmt *m = ctx;
	struct pending *p;
	json_t *changed, *res = NULL, *v;
	const char *key;

	if (json_object_size(args) == 0)
		return sg_ctl_fail(err, SG_CTL_EARGS,
		                   "policy.set wants one or more keys, e.g. {\"cookie_mode\": "
		                   "\"always\"}");
	p = malloc(sizeof(*p));
	changed = json_array();
	if (p == NULL || changed == NULL) {
		free(p);
		json_decref(changed);
		return sg_ctl_fail(err, SG_CTL_EINTERNAL, "out of memory");
	}
	p->cfg = *sg_gateway_config(m->gw);
	p->ovr = m->ovr;
	json_object_foreach(args, key, v)
	{
		if (set_key(&p->cfg, &p->ovr, key, v, err) != 0) {
			json_decref(changed);
			goto out;
		}
		json_array_append_new(changed, json_string(key));
	}
	res = commit(m, p, "changed", changed, err);
out:
	free(p);
	return res;
}

/*
 * The keys to reset (a list of strings; absent or empty: every override)
 * dropped from ovr; the list of those that were overridden into reset.
 * 0, or -1 with err set.
 */
static int drop_keys(json_t *keys, struct mgmt_ovr *ovr, json_t *reset, struct sg_ctl_error *err)
{
	if (keys != NULL && !json_is_array(keys)) {
		sg_ctl_fail(err, SG_CTL_EARGS, "keys must be a list of policy keys");
		return -1;
	}
	if (json_array_size(keys) == 0) {
		for (unsigned i = 0; i < ovr->n; i++)
			json_array_append_new(reset, json_string(ovr->e[i].key));
		ovr->n = 0;
		return 0;
	}
	for (size_t i = 0; i < json_array_size(keys); i++) {
		const char *k = json_string_value(json_array_get(keys, i));

		if (k == NULL) {
			sg_ctl_fail(err, SG_CTL_EARGS, "keys[%zu] must be a policy key", i);
			return -1;
		}
		if (check_key(k, err) != 0)
			return -1;
		if (mgmt_ovr_drop(ovr, k))
			json_array_append_new(reset, json_string(k));
	}
	return 0;
}

json_t *mgmt_cmd_policy_reset(void *ctx, json_t *args, struct sg_ctl_error *err)
{
	static const char *const names[] = { "keys", NULL };
	struct sg_mgmt *m = ctx;
	struct pending *p;
	json_t *reset, *res = NULL;
	char msg[200] = "", *text = NULL;
	size_t len = 0;
	int rc;

	if (mgmt_args_known(args, names, err) != 0)
		return NULL;
	p = malloc(sizeof(*p));
	reset = json_array();
	if (p == NULL || reset == NULL) {
		free(p);
		json_decref(reset);
		return sg_ctl_fail(err, SG_CTL_EINTERNAL, "out of memory");
	}
	p->ovr = m->ovr;
	if (drop_keys(json_object_get(args, "keys"), &p->ovr, reset, err) != 0) {
		json_decref(reset);
		goto out;
	}
	/* The file's policy with the overrides that stay over it. */
	p->cfg = *sg_gateway_config(m->gw);
	p->cfg.policy = m->file_policy;
	text = mgmt_ovr_text(&p->ovr, &len);
	rc = text != NULL ? sg_config_apply_overrides(&p->cfg, text, len, msg, sizeof(msg))
	                  : -ENOMEM;
	if (rc < 0) {
		json_decref(reset);
		sg_ctl_fail(err, SG_CTL_EFAILED, "the overrides left do not apply: %s",
		            msg[0] ? msg : strerror(-rc));
		goto out;
	}
	res = commit(m, p, "reset", reset, err);
out:
	free(text);
	free(p);
	return res;
}

void mgmt_policy_init(struct sg_mgmt *m, const struct sg_cfg_policy *file_policy)
{
	enum { CAP = MGMT_OVR_MAX * (MGMT_OVR_KEY_MAX + MGMT_OVR_VALUE_MAX + 2) };
	char *buf = malloc(CAP);
	int n = buf != NULL ? sg_gateway_policy_overrides(m->gw, buf, CAP) : -ENOMEM;

	m->file_policy = file_policy != NULL ? *file_policy : sg_gateway_config(m->gw)->policy;
	if (n > 0)
		n = mgmt_ovr_load(&m->ovr, buf, (size_t)n);
	if (n < 0)
		SG_LOG(CTL, WARNING,
		       "the stored policy overrides are unreadable here (%s): `policy get` lists "
		       "none, `policy reset` resets to the file",
		       strerror(-n));
	free(buf);
}
