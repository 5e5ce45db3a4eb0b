/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The `stats` command and DPDK telemetry. One function builds the
 * statistics as JSON; `stats` returns it, `stormctl metrics` turns it into
 * the Prometheus text format, and the control thread publishes a copy every
 * few hundred ms for the telemetry thread, which flattens parts of it into
 * rte_tel_data dicts. The telemetry thread never touches the gateway: it
 * reads the published copy under a mutex, and the copy is never modified
 * once published (it is replaced whole).
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rte_telemetry.h>

#include "gateway_priv.h"
#include "sg_cred.h"
#include "sg_log.h"

static const char *const punt_names[SG_DP_PUNT_MAX] = {
	[SG_DP_PUNT_HANDSHAKE] = "handshake",
	[SG_DP_PUNT_UNKNOWN] = "unknown_session",
	[SG_DP_PUNT_ARP] = "arp",
	[SG_DP_PUNT_NDISC] = "ndisc",
	[SG_DP_PUNT_ALERT] = "alert",
	[SG_DP_PUNT_KEY_EXHAUSTED] = "key_exhausted",
	[SG_DP_PUNT_FINISHED] = "finished",
};

const char *gw_punt_name(unsigned punt)
{
	return punt < SG_DP_PUNT_MAX && punt_names[punt] ? punt_names[punt] : "other";
}

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
};

/* The counters every packet outcome adds up to (dataplane.h), for one worker or all. */
/* Punted packets by kind. */
json_t *gw_punts_json(const uint64_t punts[SG_DP_PUNT_MAX])
{
	json_t *o = json_object();

	for (unsigned r = 0; o != NULL && r < SG_DP_PUNT_MAX; r++)
		json_object_set_new(o, gw_punt_name(r), json_integer((json_int_t)punts[r]));
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

json_t *gw_traffic_json(const struct sg_dp_counters *c)
{
	uint64_t dropped = 0;

	for (unsigned r = 0; r < SG_DROP_MAX; r++)
		dropped += c->drop[r];
	return json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:o}",
	                 "rx_packets", (json_int_t)c->rx, "rx_bytes", (json_int_t)c->rx_bytes,
	                 "tx_packets", (json_int_t)c->tx, "forwarded_up",
	                 (json_int_t)c->forwarded_up, "forwarded_down",
	                 (json_int_t)c->forwarded_down, "punted", (json_int_t)c->punted, "consumed",
	                 (json_int_t)c->consumed, "handed_off", (json_int_t)c->handed_off,
	                 "records_opened", (json_int_t)c->records_opened, "records_opened_prev_key",
	                 (json_int_t)c->records_opened_prev, "peer_moves",
	                 (json_int_t)c->peer_moves, "records_sealed", (json_int_t)c->records_sealed,
	                 "dropped", (json_int_t)dropped, "rrc", rrc_json(c));
}

/* Drops by reason: every one (zeros too: series that come and go confuse rate() in
 * Prometheus), or the non-zero ones. */
json_t *gw_drops_json(const uint64_t *drop, int nonzero_only)
{
	json_t *o = json_object();

	for (unsigned r = 0; o != NULL && r < SG_DROP_MAX; r++)
		if (!nonzero_only || drop[r])
			json_object_set_new(o, sg_drop_name((enum sg_drop)r),
			                    json_integer((json_int_t)drop[r]));
	return o;
}

static json_t *stats_json(struct sg_gateway *gw)
{
	struct sg_dp_counters total, c;
	struct sg_sess_stats ss;
	struct sg_hs_stats hs;
	struct sg_ctl_stats cs = { 0 };
	json_t *r = json_object(), *workers = json_array(), *punts = NULL, *taken = NULL;
	json_t *refused = json_object(), *hsc = json_object();
	uint64_t sent = 0, cdropped = 0, count = 0, failed = 0;
	int cred_ok = -1;

	if (r == NULL || workers == NULL || refused == NULL || hsc == NULL)
		goto oom;
	sg_dp_counters_sum(gw->dp, &total);
	for (unsigned w = 0; w < gw->n_workers; w++) {
		json_t *o;

		sg_dp_counters_get(gw->dp, w, &c);
		o = gw_traffic_json(&c);
		if (o == NULL)
			goto oom;
		json_object_set_new(o, "worker", json_integer(w));
		json_object_set_new(o, "lcore", json_integer(gw->workers[w].lcore));
		json_object_set_new(o, "polls", json_integer((json_int_t)c.polls));
		json_object_set_new(o, "idle_polls", json_integer((json_int_t)c.idle_polls));
		json_object_set_new(o, "drops", gw_drops_json(c.drop, 1));
		json_array_append_new(workers, o);
	}
	punts = gw_punts_json(total.punt_by);
	taken = gw_punts_json(gw->punt_taken);
	if (punts == NULL || taken == NULL)
		goto oom;
	sg_sess_stats_get(gw->sessions, &ss);
	for (unsigned k = 0; k < SG_SESS_REFUSE_MAX; k++) {
		char n[24];

		if (refusal_names[k] == NULL)
			snprintf(n, sizeof(n), "refusal_%u", k);
		json_object_set_new(refused, refusal_names[k] ? refusal_names[k] : n,
		                    json_integer((json_int_t)ss.refused[k]));
	}
	sg_hs_stats_get(gw->hs, &hs);
	for (unsigned k = 0; k < SG_HS_C_MAX; k++) {
		json_object_set_new(hsc, sg_hs_counter_name((enum sg_hs_counter)k),
		                    json_integer((json_int_t)hs.c[k]));
		if (k >= SG_HS_C_FAIL_PROTOCOL_VERSION)
			failed += hs.c[k];
	}
	sg_dp_ctl_counters(gw->dp, &sent, &cdropped);
	if (gw->cred != NULL)
		cred_ok = sg_cred_count(gw->cred, &count);
	if (gw->ctl != NULL)
		sg_ctl_server_stats(gw->ctl, &cs);

	json_object_set_new(r, "uptime_s", json_real((double)(gw_now_ns() - gw->start_ns) / 1e9));
	json_object_set_new(r, "global", gw_traffic_json(&total));
	json_object_set_new(r, "drops", gw_drops_json(total.drop, 0));
	json_object_set_new(r, "punts", punts);
	json_object_set_new(r, "workers", workers);
	json_object_set_new(
	        r, "sessions",
	        json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:o}",
	                  "live", (json_int_t)ss.live, "capacity",
	                  (json_int_t)sg_sess_capacity(gw->sessions), "identities",
	                  (json_int_t)sg_sessreg_identities(gw->reg), "inserts",
	                  (json_int_t)ss.inserts, "replaces", (json_int_t)ss.replaces, "deletes",
	                  (json_int_t)ss.deletes, "killed", (json_int_t)gw->sess_killed, "expired",
	                  (json_int_t)gw->sess_expired, "idle", (json_int_t)gw->sess_idle,
	                  "ended_forgery_limit", (json_int_t)gw->sess_forged, "kill_alerts_sent",
	                  (json_int_t)gw->kill_alerts, "ended_by_device",
	                  (json_int_t)gw->sess_ended, "deferred_frees", (json_int_t)ss.deferred,
	                  "refused", refused));
	json_object_set_new(r, "handshakes",
	                    json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:o}",
	                              "in_flight", (json_int_t)hs.in_flight, "lingering",
	                              (json_int_t)hs.lingering, "installed",
	                              (json_int_t)gw->hs_installed, "replaced",
	                              (json_int_t)gw->hs_replaced, "install_failed",
	                              (json_int_t)gw->hs_install_failed, "completed_full",
	                              (json_int_t)hs.c[SG_HS_C_COMPLETED_FULL], "completed_resumed",
	                              (json_int_t)hs.c[SG_HS_C_COMPLETED_RESUMED], "failed",
	                              (json_int_t)failed, "hello_verify_sent",
	                              (json_int_t)hs.c[SG_HS_C_HVR_SENT], "counters", hsc));
	json_object_set_new(r, "admission", gw_admission_json(gw));
	json_object_set_new(r, "credentials",
	                    json_pack("{s:I, s:b, s:b, s:I, s:I, s:I, s:I}", "count",
	                              (json_int_t)count, "readable", cred_ok == 0, "import_running",
	                              gw->import != NULL, "imports_done",
	                              (json_int_t)gw->imports_done, "imports_failed",
	                              (json_int_t)gw->imports_failed, "sessions_revoked",
	                              (json_int_t)gw->revoked_ended, "revocations_pending",
	                              (json_int_t)(gw->revoked_n - gw->revoked_head)));
	json_object_set_new(r, "control",
	                    json_pack("{s:i, s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "clients",
	                              gw->ctl ? (int)sg_ctl_server_clients(gw->ctl) : 0, "accepted",
	                              (json_int_t)cs.accepted, "refused", (json_int_t)cs.refused,
	                              "requests", (json_int_t)cs.requests, "errors",
	                              (json_int_t)cs.errors, "timeouts", (json_int_t)cs.timeouts,
	                              "oversized", (json_int_t)cs.oversized, "dropped",
	                              (json_int_t)cs.dropped));
	json_object_set_new(r, "control_plane",
	                    json_pack("{s:o, s:I, s:I, s:I, s:I}", "punts_taken", taken,
	                              "punts_unserved", (json_int_t)gw->punt_unserved,
	                              "punts_reinjected", (json_int_t)gw->punt_reinjected,
	                              "frames_sent", (json_int_t)sent, "frames_dropped",
	                              (json_int_t)cdropped));
	return r;
oom:
	json_decref(r);
	json_decref(workers);
	json_decref(punts);
	json_decref(refused);
	json_decref(hsc);
	json_decref(taken);
	return NULL;
}

json_t *gw_cmd_stats(void *ctx, json_t *args, struct sg_ctl_error *err)
{
	json_t *r;

	if (json_object_size(args) != 0)
		return sg_ctl_fail(err, SG_CTL_EARGS, "stats takes no arguments");
	r = stats_json(ctx);
	return r ? r : sg_ctl_fail(err, SG_CTL_EINTERNAL, "out of memory");
}

/* ---- DPDK telemetry ---- */

static pthread_mutex_t tel_lock = PTHREAD_MUTEX_INITIALIZER;
static json_t *tel_snap; /* published stats_json(), immutable; NULL: none */

void sg_gateway_telemetry_update(struct sg_gateway *gw)
{
	json_t *next = stats_json(gw), *old;

	if (next == NULL)
		return;
	pthread_mutex_lock(&tel_lock);
	old = tel_snap;
	tel_snap = next;
	pthread_mutex_unlock(&tel_lock);
	json_decref(old);
}

void sg_gateway_telemetry_clear(void)
{
	json_t *old;

	pthread_mutex_lock(&tel_lock);
	old = tel_snap;
	tel_snap = NULL;
	pthread_mutex_unlock(&tel_lock);
	json_decref(old);
}

/*
 * Flatten obj's scalars into dict d: nested objects as "outer/inner" (the
 * telemetry library nests only arrays of scalars), numbers as u64 (or int
 * when negative), booleans as 0/1, strings as strings. skip: top-level
 * members left out (they have commands of their own).
 */
static void flatten(struct rte_tel_data *d, const json_t *obj, const char *prefix,
                    const char *const *skip)
{
	const char *key;
	json_t *v;

	json_object_foreach((json_t *)obj, key, v)
	{
		char name[RTE_TEL_MAX_STRING_LEN];
		int skipped = 0;

		for (size_t i = 0; skip != NULL && skip[i] != NULL; i++)
			skipped |= strcmp(skip[i], key) == 0;
		if (skipped)
			continue;
		snprintf(name, sizeof(name), "%s%s%s", prefix, prefix[0] ? "/" : "", key);
		if (json_is_object(v)) {
			flatten(d, v, name, NULL);
		} else if (json_is_integer(v)) {
			if (json_integer_value(v) < 0)
				rte_tel_data_add_dict_int(d, name, (int)json_integer_value(v));
			else
				rte_tel_data_add_dict_u64(d, name, (uint64_t)json_integer_value(v));
		} else if (json_is_real(v)) {
			rte_tel_data_add_dict_u64(d, name, (uint64_t)json_real_value(v));
		} else if (json_is_boolean(v)) {
			rte_tel_data_add_dict_int(d, name, json_is_true(v));
		} else if (json_is_string(v)) {
			rte_tel_data_add_dict_string(d, name, json_string_value(v));
		}
	}
}

/* The telemetry thread: one section of the published statistics. */
static int tel_cb(const char *cmd, const char *params, struct rte_tel_data *d)
{
	/* Sections with a command of their own. */
	static const char *const own[] = { "global",   "drops",         "punts",
		                           "workers",  "handshakes",    "admission",
		                           "sessions", "control_plane", NULL };
	const json_t *sec;
	int rc = 0;

	pthread_mutex_lock(&tel_lock);
	if (tel_snap == NULL) {
		rc = -ENODEV;
		goto out;
	}
	if (strcmp(cmd, "/stormgate/workers") == 0) {
		const json_t *ws = json_object_get(tel_snap, "workers");

		rte_tel_data_start_array(d, RTE_TEL_INT_VAL);
		for (size_t i = 0; i < json_array_size(ws); i++)
			rte_tel_data_add_array_int(d, (int)i);
		goto out;
	}
	rte_tel_data_start_dict(d);
	if (strcmp(cmd, "/stormgate/stats") == 0) {
		flatten(d, json_object_get(tel_snap, "global"), "", NULL);
		flatten(d, tel_snap, "", own);
		goto out;
	}
	if (strcmp(cmd, "/stormgate/worker") == 0) {
		char *end;
		unsigned long w = params ? strtoul(params, &end, 10) : 0;
		const json_t *ws = json_object_get(tel_snap, "workers");

		if (params == NULL || params[0] == '\0' || *end != '\0' ||
		    w >= json_array_size(ws)) {
			rc = -EINVAL;
			goto out;
		}
		flatten(d, json_array_get(ws, w), "", NULL);
		goto out;
	}
	sec = json_object_get(tel_snap, cmd + strlen("/stormgate/"));
	if (!json_is_object(sec)) {
		rc = -EINVAL;
		goto out;
	}
	flatten(d, sec, "", NULL);
out:
	pthread_mutex_unlock(&tel_lock);
	return rc;
}

int sg_gateway_telemetry_register(void)
{
	static const struct {
		const char *cmd, *help;
	} cmds[] = {
		{ "/stormgate/stats",
		  "Stormgate totals: traffic, credentials, control socket. No parameters" },
		{ "/stormgate/drops",
		  "Packets dropped by the data plane, by reason. No parameters" },
		{ "/stormgate/punts",
		  "Packets punted to the control plane, by kind. No parameters" },
		{ "/stormgate/workers", "Worker indexes (see /stormgate/worker). No parameters" },
		{ "/stormgate/worker", "One worker's counters. Parameters: int worker" },
		{ "/stormgate/sessions", "Session table: live, changes, refusals. No parameters" },
		{ "/stormgate/handshakes",
		  "Handshake server: outcomes and failures by reason. No parameters" },
		{ "/stormgate/admission",
		  "Storm admission: rate, tokens, admitted, refused, cookies. No parameters" },
		{ "/stormgate/control_plane",
		  "Control plane's share of the traffic: punts taken, frames sent. No parameters" },
	};
	static int done;

	if (done)
		return 0;
	for (size_t i = 0; i < SG_ARRAY_SIZE(cmds); i++) {
		int rc = rte_telemetry_register_cmd(cmds[i].cmd, tel_cb, cmds[i].help);

		if (rc != 0) {
			SG_LOG(MAIN, WARNING, "telemetry command %s: %s", cmds[i].cmd,
			       strerror(-rc));
			return rc;
		}
	}
	done = 1;
	return 0;
}
