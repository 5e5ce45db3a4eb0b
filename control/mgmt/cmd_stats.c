/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The `stats` command: one function builds the statistics as JSON; `stats`
 * returns it, `stormctl metrics` turns it into the Prometheus text format
 * (metrics.c), and telemetry.c publishes a copy for the telemetry thread.
 * The gateway thread (`stats` is an owner command; the telemetry snapshot is
 * the gateway thread's too); reads the gateway's snapshots
 * (sg_gateway_counters(), _dp_counters(), _describe()), the credential
 * store, the control server's counters and, atomically, the management
 * thread's import and /metrics counters, the session store's state (cmd_store.c),
 * the handshake plane's engines (hsplane_view.c).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "hsplane_view.h"
#include "mgmt_priv.h"

static const char *const punt_names[SG_DP_PUNT_MAX] = {
	[SG_DP_PUNT_HANDSHAKE] = "handshake",
	[SG_DP_PUNT_UNKNOWN] = "unknown_session",
	[SG_DP_PUNT_ARP] = "arp",
	[SG_DP_PUNT_NDISC] = "ndisc",
	[SG_DP_PUNT_ALERT] = "alert",
	[SG_DP_PUNT_KEY_EXHAUSTED] = "key_exhausted",
	[SG_DP_PUNT_FINISHED] = "finished",
	[SG_DP_PUNT_FLOORS] = "floors",
};

static const char *const refusal_names[SG_SESS_REFUSE_MAX] = {
	[SG_SESS_REFUSE_FULL] = "full",
	[SG_SESS_REFUSE_SA_RESERVE] = "sa_reserve",
	[SG_SESS_REFUSE_TUPLE_FULL] = "tuple_full",
	[SG_SESS_REFUSE_INDEX_FULL] = "index_full",
	[SG_SESS_REFUSE_DUP_TUPLE] = "duplicate_tuple",
	[SG_SESS_REFUSE_CID_TAKEN] = "cid_taken",
	[SG_SESS_REFUSE_BAD_CID] = "bad_cid",
	[SG_SESS_REFUSE_INVALID] = "invalid",
	[SG_SESS_REFUSE_UNKNOWN_ID] = "unknown_id",
	[SG_SESS_REFUSE_DEFER_FULL] = "defer_full",
	[SG_SESS_REFUSE_BUSY] = "busy",
	[SG_SESS_REFUSE_CBC_FULL] = "cbc_full",
};

/* Punted packets by kind, by their stable labels ("handshake"; "other" for none). */
json_t *mgmt_punts_json(const uint64_t punts[SG_DP_PUNT_MAX])
{
	json_t *o = json_object();

	for (unsigned r = 0; o != NULL && r < SG_DP_PUNT_MAX; r++)
		json_object_set_new(o, punt_names[r] ? punt_names[r] : "other",
		                    json_integer((json_int_t)punts[r]));
	return o;
}

/* CID peers that move (RFC 9146 §6) and their return routability checks (RFC 9853). */
static json_t *rrc_json(const struct sg_dp_counters *c)
{
	return json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "moves_held",
	                 (json_int_t)c->peer_moves_held, "challenges",
	                 (json_int_t)c->rrc_challenges, "responses_ok",
	                 (json_int_t)c->rrc_responses_ok, "responses_refused",
	                 (json_int_t)c->rrc_responses_refused, "timeouts",
	                 (json_int_t)c->rrc_timeouts, "evicted", (json_int_t)c->rrc_evicted,
	                 "answered", (json_int_t)c->rrc_answered, "ignored",
	                 (json_int_t)c->rrc_ignored, "send_failed", (json_int_t)c->rrc_send_failed);
}

/* The counters every packet outcome adds up to (dataplane.h), for one worker or all. */
json_t *mgmt_traffic_json(const struct sg_dp_counters *c)
{
	uint64_t dropped = 0;

	for (unsigned r = 0; r < SG_DROP_MAX; r++)
		dropped += c->drop[r];
	return json_pack(
	        "{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, "
	        "s:I, s:o}",
	        "rx_packets", (json_int_t)c->rx, "rx_bytes", (json_int_t)c->rx_bytes, "tx_packets",
	        (json_int_t)c->tx, "forwarded_up", (json_int_t)c->forwarded_up, "forwarded_down",
	        (json_int_t)c->forwarded_down, "punted", (json_int_t)c->punted, "consumed",
	        (json_int_t)c->consumed, "handed_off", (json_int_t)c->handed_off, "records_opened",
	        (json_int_t)c->records_opened, "records_opened_prev_key",
	        (json_int_t)c->records_opened_prev, "peer_moves", (json_int_t)c->peer_moves,
	        "records_sealed", (json_int_t)c->records_sealed, "floors_posted",
	        (json_int_t)c->floors_posted, "floors_dropped", (json_int_t)c->floors_dropped,
	        "dropped", (json_int_t)dropped, "rrc", rrc_json(c));
}

/* Drops by reason: every one (zeros too: series that come and go confuse rate() in
 * Prometheus), or the non-zero ones. */
json_t *mgmt_drops_json(const uint64_t *drop, int nonzero_only)
{
	json_t *o = json_object();

	for (unsigned r = 0; o != NULL && r < SG_DROP_MAX; r++)
		if (!nonzero_only || drop[r])
			json_object_set_new(o, sg_drop_name((enum sg_drop)r),
			                    json_integer((json_int_t)drop[r]));
	return o;
}

/* Each worker's traffic, lcore, polls and non-zero drops. */
static json_t *workers_json(struct sg_mgmt *m)
{
	struct sg_gw_desc d;
	json_t *workers = json_array();

	sg_gateway_describe(m->gw, &d);
	for (unsigned w = 0; workers != NULL && w < d.n_workers; w++) {
		struct sg_dp_counters c;
		json_t *o;

		sg_gateway_dp_counters(m->gw, (int)w, &c);
		o = mgmt_traffic_json(&c);
		if (o == NULL) {
			json_decref(workers);
			return NULL;
		}
		json_object_set_new(o, "worker", json_integer(w));
		json_object_set_new(o, "lcore", json_integer(d.lcore[w]));
		json_object_set_new(o, "polls", json_integer((json_int_t)c.polls));
		json_object_set_new(o, "idle_polls", json_integer((json_int_t)c.idle_polls));
		json_object_set_new(o, "drops", mgmt_drops_json(c.drop, 1));
		json_array_append_new(workers, o);
	}
	return workers;
}

static json_t *sessions_json(const struct sg_gw_counters *gc)
{
	const struct sg_sess_stats *ss = &gc->sessions;
	json_t *refused = json_object();

	for (unsigned k = 0; refused != NULL && k < SG_SESS_REFUSE_MAX; k++) {
		char n[24];

		if (refusal_names[k] == NULL)
			snprintf(n, sizeof(n), "refusal_%u", k);
		json_object_set_new(refused, refusal_names[k] ? refusal_names[k] : n,
		                    json_integer((json_int_t)ss->refused[k]));
	}
	if (refused == NULL)
		return NULL;
	return json_pack(
	        "{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, "
	        "s:I, s:I, s:I, s:o}",
	        "live", (json_int_t)ss->live, "cbc_live", (json_int_t)ss->cbc_live, "cbc_in_use",
	        (json_int_t)ss->cbc_in_use, "capacity", (json_int_t)gc->capacity, "identities",
	        (json_int_t)gc->identities, "inserts", (json_int_t)ss->inserts, "replaces",
	        (json_int_t)ss->replaces, "deletes", (json_int_t)ss->deletes, "killed",
	        (json_int_t)gc->killed, "expired", (json_int_t)gc->expired, "idle",
	        (json_int_t)gc->idle, "ended_forgery_limit", (json_int_t)gc->forged,
	        "kill_alerts_sent", (json_int_t)gc->kill_alerts_sent, "ended_by_device",
	        (json_int_t)gc->ended_by_device, "deferred_frees", (json_int_t)ss->deferred,
	        "reclaim_deferred", (json_int_t)ss->reclaim_deferred, "detach_deferred",
	        (json_int_t)gc->detach_deferred, "refused", refused);
}

static json_t *handshakes_json(const struct sg_gw_counters *gc)
{
	const struct sg_hs_stats *hs = &gc->hs;
	json_t *hsc = json_object();
	uint64_t failed = 0;

	for (unsigned k = 0; hsc != NULL && k < SG_HS_C_MAX; k++) {
		json_object_set_new(hsc, sg_hs_counter_name((enum sg_hs_counter)k),
		                    json_integer((json_int_t)hs->c[k]));
		/* FAIL_* only: completed_cert and the signing counters follow them */
		if (k >= SG_HS_C_FAIL_PROTOCOL_VERSION && k < SG_HS_C_COMPLETED_CERT)
			failed += hs->c[k];
	}
	if (hsc == NULL)
		return NULL;
	return json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:o}", "in_flight",
	                 (json_int_t)hs->in_flight, "lingering", (json_int_t)hs->lingering,
	                 "installed", (json_int_t)gc->installed, "replaced",
	                 (json_int_t)gc->replaced, "install_failed", (json_int_t)gc->install_failed,
	                 "completed_full", (json_int_t)hs->c[SG_HS_C_COMPLETED_FULL],
	                 "completed_resumed", (json_int_t)hs->c[SG_HS_C_COMPLETED_RESUMED],
	                 "failed", (json_int_t)failed, "hello_verify_sent",
	                 (json_int_t)hs->c[SG_HS_C_HVR_SENT], "counters", hsc);
}

/* Storm admission: rate, tokens, admitted, refused, cookies (sg_admit.h). */
static json_t *admission_json(const struct sg_gw_admission *a, const struct sg_config *cfg)
{
	return json_pack("{s:I, s:I, s:I, s:I, s:{s:I, s:I}, s:I, s:I, s:I, s:s, s:I, s:b, s:I, "
	                 "s:I}",
	                 "handshake_rate", (json_int_t)a->admit.rate, "available",
	                 (json_int_t)a->available, "admitted", (json_int_t)a->admit.admitted,
	                 "refused", (json_int_t)a->admit.refused, "refused_by", "rate",
	                 (json_int_t)a->admit.refused_rate, "source_share",
	                 (json_int_t)a->admit.refused_source, "source_share",
	                 (json_int_t)a->admit.share, "source_prefix4", (json_int_t)a->admit.prefix4,
	                 "source_prefix6", (json_int_t)a->admit.prefix6, "cookie_mode",
	                 sg_cookie_mode_name(cfg->policy.cookie_mode), "cookie_threshold",
	                 (json_int_t)a->cookie_threshold, "cookies_required", a->cookies_required,
	                 "in_flight", (json_int_t)a->in_flight, "max_handshakes",
	                 (json_int_t)a->max_handshakes);
}

static json_t *credentials_json(const struct sg_mgmt *m, const struct sg_gw_counters *gc)
{
	uint64_t count = 0, rpks = 0, policies = 0;
	int cred_ok = m->cred != NULL ? sg_cred_count(m->cred, &count) : -1;

	if (cred_ok == 0) {
		sg_cred_count_kind(m->cred, SG_CRED_KIND_RPK, &rpks);
		sg_cred_count_kind(m->cred, SG_CRED_KIND_CERTPOLICY, &policies);
	}
	return json_pack("{s:I, s:I, s:I, s:b, s:b, s:I, s:I, s:I, s:I}", "count",
	                 (json_int_t)count, "raw_public_keys", (json_int_t)rpks, "cert_policies",
	                 (json_int_t)policies, "readable", cred_ok == 0, "import_running",
	                 __atomic_load_n(&m->import_running, __ATOMIC_RELAXED), "imports_done",
	                 (json_int_t)__atomic_load_n(&m->imports_done, __ATOMIC_RELAXED),
	                 "imports_failed",
	                 (json_int_t)__atomic_load_n(&m->imports_failed, __ATOMIC_RELAXED),
	                 "sessions_revoked", (json_int_t)gc->revoked_ended, "revocations_pending",
	                 (json_int_t)gc->revocations_pending);
}

static json_t *control_json(const struct sg_mgmt *m)
{
	struct sg_ctl_stats cs = { 0 };

	if (m->ctl != NULL)
		sg_ctl_server_stats(m->ctl, &cs);
	return json_pack("{s:i, s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "clients",
	                 m->ctl ? (int)sg_ctl_server_clients(m->ctl) : 0, "accepted",
	                 (json_int_t)cs.accepted, "refused", (json_int_t)cs.refused, "requests",
	                 (json_int_t)cs.requests, "errors", (json_int_t)cs.errors, "timeouts",
	                 (json_int_t)cs.timeouts, "oversized", (json_int_t)cs.oversized, "dropped",
	                 (json_int_t)cs.dropped);
}

/* /metrics over HTTP: where, and its requests by result (written by the management thread). */
static json_t *http_json(const struct sg_mgmt *m)
{
	json_t *req = json_object();

	for (unsigned r = 0; req != NULL && r < MGMT_HTTP_RESULT_MAX; r++)
		json_object_set_new(req, mgmt_http_result_name((enum mgmt_http_result)r),
		                    json_integer((json_int_t)__atomic_load_n(&m->http.requests[r],
		                                                             __ATOMIC_RELAXED)));
	return json_pack("{s:s, s:o}", "listen", m->http.addr, "requests", req);
}

static json_t *control_plane_json(const struct sg_gw_counters *gc)
{
	return json_pack(
	        "{s:o, s:I, s:I, s:I, s:I}", "punts_taken", mgmt_punts_json(gc->punts_taken),
	        "punts_unserved", (json_int_t)gc->punts_unserved, "punts_reinjected",
	        (json_int_t)gc->punts_reinjected, "frames_sent", (json_int_t)gc->frames_sent,
	        "frames_dropped", (json_int_t)gc->frames_dropped);
}

json_t *mgmt_stats_json(struct sg_mgmt *m)
{
	struct sg_gw_counters gc;
	struct sg_gw_desc d;
	struct sg_dp_counters total;
	json_t *r = json_object(), *workers = workers_json(m), *punts;

	if (r == NULL || workers == NULL) {
		json_decref(r);
		json_decref(workers);
		return NULL;
	}
	sg_gateway_describe(m->gw, &d);
	sg_gateway_dp_counters(m->gw, -1, &total);
	sg_gateway_counters(m->gw, &gc);
	punts = mgmt_punts_json(total.punt_by);
	json_object_set_new(r, "uptime_s", json_real((double)d.uptime_ns / 1e9));
	json_object_set_new(r, "global", mgmt_traffic_json(&total));
	json_object_set_new(r, "drops", mgmt_drops_json(total.drop, 0));
	json_object_set_new(r, "punts", punts);
	json_object_set_new(r, "workers", workers);
	json_object_set_new(r, "sessions", sessions_json(&gc));
	json_object_set_new(r, "handshakes", handshakes_json(&gc));
	json_object_set_new(r, "handshake_plane", mgmt_hsplane_json(&gc.hsplane));
	json_object_set_new(r, "admission",
	                    admission_json(&gc.admission, sg_gateway_config(m->gw)));
	json_object_set_new(r, "credentials", credentials_json(m, &gc));
	json_object_set_new(r, "control", control_json(m));
	json_object_set_new(r, "control_plane", control_plane_json(&gc));
	json_object_set_new(r, "http", http_json(m));
	json_object_set_new(r, "store", mgmt_store_json(m));
	json_object_set_new(r, "tls", mgmt_tls_json(m));
	/* Out of memory for a part: no answer. */
	if (punts == NULL || json_object_get(r, "sessions") == NULL ||
	    json_object_get(r, "handshakes") == NULL ||
	    json_object_get(r, "handshake_plane") == NULL) {
		json_decref(r);
		return NULL;
	}
	return r;
}

json_t *mgmt_cmd_stats(void *ctx, json_t *args, struct sg_ctl_error *err)
{
	json_t *r;

	if (json_object_size(args) != 0)
		return sg_ctl_fail(err, SG_CTL_EARGS, "stats takes no arguments");
	r = mgmt_stats_json(ctx);
	return r ? r : sg_ctl_fail(err, SG_CTL_EINTERNAL, "out of memory");
}
