/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Management state of the running gateway, and the live policy: key
 * lifetime and jitter (applied to each new session), cookie mode and
 * threshold, suites (the handshake engine's), handshake_rate (storm
 * admission, sg_admit.h) and rekey_grace (read at each re-handshake).
 * `policy set` changes them on the running daemon, all or none.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rte_common.h>
#include <rte_random.h>

#include "gateway_priv.h"
#include "sg_log.h"

/* Policy keys `policy set` applies to the running daemon; the others need a restart. */
static const char *const live_keys[] = {
	"key_lifetime",
	"key_lifetime_jitter",
	"cookie_mode",
	"cookie_threshold",
	"suites",
	"handshake_rate",
	"handshake_source_share",
	"handshake_source_prefix4",
	"handshake_source_prefix6",
	"rekey_grace",
	"idle_timeout",
};

/* policy.handshake_rate and the per-source share to the limiter; buckets refilled. */
static void admission_apply(struct sg_gateway *gw, const struct sg_cfg_policy *p)
{
	sg_admit_set_rate(&gw->admit, p->handshake_rate, gw_now_ns());
	/* The config checked the ranges; the limiter checks them again. */
	if (sg_admit_set_sources(&gw->admit, p->handshake_source_share,
	                         (uint8_t)p->handshake_source_prefix4,
	                         (uint8_t)p->handshake_source_prefix6) != 0)
		SG_LOG(CTL, ERR, "per-source admission: share or prefix out of range");
}

int gw_mgmt_init(struct sg_gateway *gw)
{
	uint32_t cap = sg_sess_capacity(gw->sessions);
	struct sg_rec_ctx_conf rc = { .window_bits = sg_sess_replay_window(gw->sessions),
		                      .gcm_cache_entries = 4,
		                      .flags = SG_REC_CTX_F_NO_GCM_CACHE | SG_REC_CTX_F_LATENCY };

	gw->reg = sg_sessreg_create(cap);
	gw->ctl_rec = sg_rec_ctx_create(&rc);
	gw->kill_sa = aligned_alloc(SG_CACHE_LINE, sg_rec_sa_size(rc.window_bits));
	gw->admit_src = sg_admit_sources_create(NULL); /* a random key per process */
	if (gw->reg == NULL || gw->ctl_rec == NULL || gw->kill_sa == NULL ||
	    gw->admit_src == NULL) {
		SG_LOG(MAIN, ERR, "management state for %u sessions: out of memory", cap);
		return -ENOMEM;
	}
	sg_admit_sources_attach(&gw->admit, gw->admit_src);
	admission_apply(gw, &gw->cfg.policy);
	return 0;
}

void gw_mgmt_fini(struct sg_gateway *gw)
{
	gw_cred_client_closed(gw, 0); /* an import still running is aborted */
	gw_cred_fini(gw);
	sg_sessreg_destroy(gw->reg);
	sg_rec_ctx_free(gw->ctl_rec);
	if (gw->kill_sa != NULL)
		sg_rec_sa_wipe(gw->kill_sa, sg_sess_replay_window(gw->sessions));
	free(gw->kill_sa);
	sg_admit_sources_attach(&gw->admit, NULL);
	sg_admit_sources_destroy(gw->admit_src);
	gw->admit_src = NULL;
	gw->reg = NULL;
	gw->ctl_rec = NULL;
	gw->kill_sa = NULL;
}

void gw_sess_installed(struct sg_gateway *gw, uint64_t id, const uint8_t *identity, size_t len)
{
	if (gw->reg != NULL && sg_sessreg_add(gw->reg, id, identity, len) != 0)
		SG_LOG(CTL, WARNING, "session %" PRIx64 ": not indexed by identity (out of memory)",
		       id);
	gw_cred_session_installed(gw, identity, len);
}

void gw_sess_ended(struct sg_gateway *gw, uint64_t id)
{
	gw->sess_ended++;
	if (gw->reg != NULL)
		sg_sessreg_del(gw->reg, id);
}

/*
 * Each session's lifetime is shortened by a random part of up to
 * key_lifetime_jitter percent, so devices that connected together (after a
 * restart, a storm) do not all re-handshake together when it ends.
 */
uint32_t gw_key_lifetime(struct sg_gateway *gw, uint32_t cred_lifetime)
{
	uint64_t base = cred_lifetime ? cred_lifetime : gw->cfg.policy.key_lifetime;
	uint64_t spread = base * gw->cfg.policy.key_lifetime_jitter / 100;

	if (spread > 0)
		base -= rte_rand_max(spread + 1);
	return (uint32_t)RTE_MIN(base, (uint64_t)UINT32_MAX);
}

/* Would a ClientHello without a cookie get a HelloVerifyRequest now (RFC 6347 §4.2.1)? */
static bool cookies_required(struct sg_gateway *gw, uint32_t *in_flight)
{
	struct sg_hs_stats st;
	uint32_t thr = gw->cfg.policy.cookie_threshold;

	sg_hs_stats_get(gw->hs, &st);
	*in_flight = st.in_flight;
	switch (gw->cfg.policy.cookie_mode) {
	case SG_COOKIE_ALWAYS:
		return true;
	case SG_COOKIE_NEVER:
		return false;
	default:
		if (thr == 0)
			thr = RTE_MAX(gw->hs_slots / 4, 1u);
		return st.in_flight >= thr;
	}
}

int gw_admit_peer(struct sg_gateway *gw, const struct sg_hs_peer *peer)
{
	return sg_admit_take_from(&gw->admit, peer->paddr, gw_now_ns()) == SG_ADMIT_OK ? 0 : -EBUSY;
}

json_t *gw_admission_json(struct sg_gateway *gw)
{
	uint32_t in_flight = 0;
	bool need = cookies_required(gw, &in_flight);
	uint32_t thr = gw->cfg.policy.cookie_threshold ? gw->cfg.policy.cookie_threshold
	                                               : RTE_MAX(gw->hs_slots / 4, 1u);

	return json_pack("{s:I, s:I, s:I, s:I, s:{s:I, s:I}, s:I, s:I, s:I, s:s, s:I, s:b, s:I, "
	                 "s:I}",
	                 "handshake_rate", (json_int_t)gw->admit.rate, "available",
	                 (json_int_t)sg_admit_available(&gw->admit, gw_now_ns()), "admitted",
	                 (json_int_t)gw->admit.admitted, "refused", (json_int_t)gw->admit.refused,
	                 "refused_by", "rate", (json_int_t)gw->admit.refused_rate, "source_share",
	                 (json_int_t)gw->admit.refused_source, "source_share",
	                 (json_int_t)gw->admit.share, "source_prefix4",
	                 (json_int_t)gw->admit.prefix4, "source_prefix6",
	                 (json_int_t)gw->admit.prefix6, "cookie_mode",
	                 sg_cookie_mode_name(gw->cfg.policy.cookie_mode), "cookie_threshold",
	                 (json_int_t)thr, "cookies_required", need, "in_flight",
	                 (json_int_t)in_flight, "max_handshakes", (json_int_t)gw->hs_slots);
}

/* ---- policy get / set ---- */

static json_t *policy_json(const struct sg_gateway *gw)
{
	const struct sg_cfg_policy *p = &gw->cfg.policy;
	json_t *suites = json_array(), *live = json_array();

	for (uint32_t i = 0; suites != NULL && i < p->n_suites; i++) {
		const char *n = sg_suite_name(p->suites[i]);
		json_array_append_new(suites, json_string(n ? n : "?"));
	}
	for (size_t i = 0; live != NULL && i < SG_ARRAY_SIZE(live_keys); i++)
		json_array_append_new(live, json_string(live_keys[i]));
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
	                 (json_int_t)gw->hs_slots);
}

json_t *gw_cmd_policy_get(void *ctx, json_t *args, struct sg_ctl_error *err)
{
	json_t *r;

	if (json_object_size(args) != 0)
		return sg_ctl_fail(err, SG_CTL_EARGS, "policy.get takes no arguments");
	r = policy_json(ctx);
	return r ? r : sg_ctl_fail(err, SG_CTL_EINTERNAL, "out of memory");
}

/* YAML text of a JSON value, as the config file would spell it; NULL: wrong type. */
static char *value_text(json_t *v, int list, char *msg, size_t msg_len)
{
	char *out = NULL;
	size_t len = 0;
	FILE *f;

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
	f = open_memstream(&out, &len);
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

struct key_probe {
	const char *path;
	int found;
};

static void probe_key(const char *path, void *arg)
{
	struct key_probe *k = arg;

	k->found |= strcmp(path, k->path) == 0;
}

/* Is path a key of the configuration schema? */
static int key_exists(const char *path)
{
	struct key_probe k = { .path = path };

	sg_config_keys(probe_key, &k);
	return k.found;
}

static int is_live(const char *key)
{
	for (size_t i = 0; i < SG_ARRAY_SIZE(live_keys); i++)
		if (strcmp(key, live_keys[i]) == 0)
			return 1;
	return 0;
}

/* Push the policy to the handshake engine and the admission limiter. */
static int policy_apply(struct sg_gateway *gw, const struct sg_cfg_policy *p)
{
	struct sg_hs_policy hp;

	memset(&hp, 0, sizeof(hp));
	for (uint32_t i = 0; i < p->n_suites && i < SG_HS_SUITES_MAX - 1; i++)
		hp.suites[i] = p->suites[i];
	hp.cookie_policy = p->cookie_mode == SG_COOKIE_ALWAYS  ? SG_HS_COOKIE_ALWAYS
	                   : p->cookie_mode == SG_COOKIE_NEVER ? SG_HS_COOKIE_NEVER
	                                                       : SG_HS_COOKIE_UNDER_LOAD;
	hp.cookie_threshold = p->cookie_threshold;
	hp.session_lifetime_s = (uint32_t)RTE_MIN(p->key_lifetime, (uint64_t)UINT32_MAX);
	return sg_hs_policy_set(gw->hs, &hp);
}

json_t *gw_cmd_policy_set(void *ctx, json_t *args, struct sg_ctl_error *err)
{
	struct sg_gateway *gw = ctx;
	struct sg_config *next;
	json_t *changed, *res;
	const char *key;
	json_t *v;
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
	*next = gw->cfg;
	json_object_foreach(args, key, v)
	{
		char path[96], msg[200] = "", *text;

		snprintf(path, sizeof(path), "policy.%.80s", key);
		if (!is_live(key)) {
			if (key_exists(path))
				sg_ctl_fail(
				        err, SG_CTL_EARGS,
				        "%s is read at start-up only: change the config file and "
				        "restart",
				        path);
			else
				sg_ctl_fail(err, SG_CTL_EARGS, "unknown policy key '%.48s'", key);
			goto fail;
		}
		text = value_text(v, strcmp(key, "suites") == 0, msg, sizeof(msg));
		if (text == NULL) {
			sg_ctl_fail(err, SG_CTL_EARGS, "policy.%s: %s", key,
			            msg[0] ? msg : "out of memory");
			goto fail;
		}
		rc = sg_config_set(next, path, text, msg, sizeof(msg));
		free(text);
		if (rc != 0) {
			sg_ctl_fail(err, SG_CTL_EARGS, "%s", msg);
			goto fail;
		}
		json_array_append_new(changed, json_string(key));
	}
	rc = policy_apply(gw, &next->policy);
	if (rc != 0) {
		sg_ctl_fail(err, SG_CTL_EFAILED, "the handshake engine refused the policy: %s",
		            strerror(-rc));
		goto fail;
	}
	if (next->policy.handshake_rate != gw->cfg.policy.handshake_rate ||
	    next->policy.handshake_source_share != gw->cfg.policy.handshake_source_share ||
	    next->policy.handshake_source_prefix4 != gw->cfg.policy.handshake_source_prefix4 ||
	    next->policy.handshake_source_prefix6 != gw->cfg.policy.handshake_source_prefix6)
		admission_apply(gw, &next->policy);
	gw->cfg.policy = next->policy;
	free(next);
	{
		char list[256];
		size_t off = 0;

		list[0] = '\0';
		for (size_t i = 0; i < json_array_size(changed) && off < sizeof(list); i++)
			off += (size_t)snprintf(list + off, sizeof(list) - off, "%s%s",
			                        i ? ", " : "",
			                        json_string_value(json_array_get(changed, i)));
		SG_LOG(CTL, NOTICE, "policy changed on the control socket: %s", list);
	}
	res = policy_json(gw);
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
