/* SPDX-License-Identifier: Apache-2.0 */
/*
 * policy.get / policy.set: the live policy. Key lifetime and jitter (applied
 * to each new session), cookie mode and threshold, suites (the handshake
 * engine's), handshake_rate and handshake_source_* (storm admission,
 * sg_admit.h), rekey_grace (read at each re-handshake) and idle_timeout (the
 * sweep's). `policy set` checks every value with the configuration file's
 * rules (sg_config_set()) and hands the gateway the whole new policy, so all
 * of it applies or none (sg_gateway_policy_set()). The gateway thread
 * (owner commands).
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
	return json_pack("{s:I, s:I, s:s, s:I, s:o, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:o, s:I}",
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
	                 (json_int_t)d.max_handshakes);
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

/* Apply one key's value to next (checked as the config file's). 0, or -1 with err set. */
static int set_key(struct sg_config *next, const char *key, json_t *v, struct sg_ctl_error *err)
{
	char path[96], msg[200] = "", *text;
	int live, rc;

	snprintf(path, sizeof(path), "policy.%.80s", key);
	live = sg_config_key_live(path);
	if (live != 1) {
		if (live == 0)
			sg_ctl_fail(
			        err, SG_CTL_EARGS,
			        "%s is read at start-up only: change the config file and restart",
			        path);
		else
			sg_ctl_fail(err, SG_CTL_EARGS, "unknown policy key '%.48s'", key);
		return -1;
	}
	text = value_text(v, strcmp(key, "suites") == 0, msg, sizeof(msg));
	if (text == NULL) {
		sg_ctl_fail(err, SG_CTL_EARGS, "policy.%s: %s", key,
		            msg[0] ? msg : "out of memory");
		return -1;
	}
	rc = sg_config_set(next, path, text, msg, sizeof(msg));
	free(text);
	if (rc != 0) {
		sg_ctl_fail(err, SG_CTL_EARGS, "%s", msg);
		return -1;
	}
	return 0;
}

/* "policy changed on the control socket: a, b" */
static void log_changed(const json_t *changed)
{
	char list[256];
	size_t off = 0;

	list[0] = '\0';
	for (size_t i = 0; i < json_array_size(changed) && off < sizeof(list); i++)
		off += (size_t)snprintf(list + off, sizeof(list) - off, "%s%s", i ? ", " : "",
		                        json_string_value(json_array_get(changed, i)));
	SG_LOG(CTL, NOTICE, "policy changed on the control socket: %s", list);
}

json_t *mgmt_cmd_policy_set(void *ctx, json_t *args, struct sg_ctl_error *err)
{
	struct sg_mgmt *m = ctx;
	struct sg_config *next;
	json_t *changed, *res, *v;
	const char *key;
	int rc;

	if (json_object_size(args) == 0)
		return sg_ctl_fail(err, SG_CTL_EARGS,
		                   "policy.set wants one or more keys, e.g. {\"cookie_mode\": "
		                   "\"always\"}");
	next = malloc(sizeof(*next));
	changed = json_array();
	if (next == NULL || changed == NULL) {
		free(next);
		json_decref(changed);
		return sg_ctl_fail(err, SG_CTL_EINTERNAL, "out of memory");
	}
	*next = *sg_gateway_config(m->gw);
	json_object_foreach(args, key, v)
	{
		if (set_key(next, key, v, err) != 0)
			goto fail;
		json_array_append_new(changed, json_string(key));
	}
	rc = sg_gateway_policy_set(m->gw, &next->policy);
	if (rc != 0) {
		sg_ctl_fail(err, SG_CTL_EFAILED, "the handshake engine refused the policy: %s",
		            strerror(-rc));
		goto fail;
	}
	free(next);
	log_changed(changed);
	res = policy_json(m);
	if (res == NULL) {
		json_decref(changed);
		return sg_ctl_fail(err, SG_CTL_EINTERNAL, "out of memory");
	}
	json_object_set_new(res, "changed", changed);
	return res;
fail:
	free(next);
	json_decref(changed);
	return NULL;
}
