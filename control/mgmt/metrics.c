/* SPDX-License-Identifier: Apache-2.0 */
/*
 * `stats` JSON -> Prometheus text exposition format 0.0.4: one table of the
 * families, in the order they are printed, and one printer that reads it.
 * Counters end in _total and nothing else does (docs/control.md), so a
 * family's TYPE follows from its name, but for the one histogram (handshake
 * latency, whose table row says so). No state; any thread (stormctl's).
 */
#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include <stormgate/common.h>

#include "sg_metrics.h"

/* Where a family's numbers are in the stats object. */
enum from {
	FROM_STATS = 0, /* at a dotted path of the stats object */
	FROM_WORKERS,   /* a member of each worker in workers[], labelled worker and lcore */
	FROM_ENGINES,   /* a member of each row of handshake_plane.engine[], labelled engine */
	FROM_MEMBERS,   /* every member of the object at path, labelled label="member" */
	FROM_HISTOGRAM, /* {le_us: [...], count: [...]} at path: a histogram in seconds */
};

/*
 * A family (help: its HELP text): one number at path, or several, each
 * told apart by label="each[i].value" <- each[i].path (the list ends at a
 * NULL value). FROM_MEMBERS: path is the object's, label names its members.
 * scale: what a number is multiplied by (µs to seconds: 1e-6; 0: as is).
 */
struct family {
	const char *name, *help;
	enum from from;
	const char *path;
	const char *label;
	struct {
		const char *value, *path;
	} each[6];
	double scale;
};

#define US 1e-6 /* µs in the stats, seconds in the metrics */

static const struct family families[] = {
	{ "stormgate_uptime_seconds", "Seconds since the ports came up.", .path = "uptime_s" },
	{ "stormgate_sessions", "Sessions in the table.", .path = "sessions.live" },
	{ "stormgate_sessions_capacity", "Sessions the table can hold.",
	  .path = "sessions.capacity" },
	{ "stormgate_sessions_cbc", "Sessions whose keys are CBC-SHA256 (the table's CBC pool).",
	  .path = "sessions.cbc_live" },
	{ "stormgate_session_identities", "Distinct PSK identities with a session.",
	  .path = "sessions.identities" },
	{ "stormgate_session_kill_alerts_total",
	  "Closing alerts sent to devices whose session was killed or expired.",
	  .path = "sessions.kill_alerts_sent" },
	{ "stormgate_sessions_expired_total", "Sessions ended because their key lifetime ran out.",
	  .path = "sessions.expired" },
	{ "stormgate_sessions_idle_total",
	  "Sessions ended after policy.idle_timeout without an authenticated record.",
	  .path = "sessions.idle" },
	{ "stormgate_handshakes_in_flight", "Handshakes holding state now.",
	  .path = "handshakes.in_flight" },
	{ "stormgate_handshakes_lingering",
	  "Finished handshakes whose last flight is kept for retransmission.",
	  .path = "handshakes.lingering" },
	{ "stormgate_handshakes_installed_total", "Sessions installed by a completed handshake.",
	  .path = "handshakes.installed" },
	{ "stormgate_handshakes_replaced_total",
	  "Installed sessions that replaced a device's earlier one.",
	  .path = "handshakes.replaced" },
	{ "stormgate_handshake_install_failures_total",
	  "Completed handshakes the session table or data plane refused.",
	  .path = "handshakes.install_failed" },
	/* The handshake plane (hsplane_view.c; docs/control.md, "stats"). */
	{ "stormgate_handshake_engines", "Handshake engines (threads sg-hs-<i>).",
	  .path = "handshake_plane.engines" },
	{ "stormgate_handshake_latency_p50_seconds",
	  "Median handshake latency over the last 10 s, every engine (0: none completed).",
	  .path = "handshake_plane.p50_us", .scale = US },
	{ "stormgate_handshake_latency_p99_seconds",
	  "99th percentile of the handshake latency over the last 10 s (0: none completed).",
	  .path = "handshake_plane.p99_us", .scale = US },
	{ "stormgate_handshake_install_revoked_total",
	  "Completed handshakes not installed: their credential changed after the lookup.",
	  .path = "handshake_plane.install_revoked" },
	{ "stormgate_handshake_unknown_dropped_total",
	  "Records for no session that no install claimed, dropped by the gateway.",
	  .path = "handshake_plane.unknown_dropped" },
	{ "stormgate_handshake_ecdhe_reuse_engines",
	  "Handshake engines reusing an ephemeral ECDHE key now.",
	  .path = "handshake_plane.ecdhe_reuse_on" },
	{ "stormgate_handshake_in_flight", "Handshakes an engine holds now.", .from = FROM_ENGINES,
	  .path = "in_flight" },
	{ "stormgate_handshake_in_flight_limit", "Handshakes an engine may hold (its slots).",
	  .from = FROM_ENGINES, .path = "limit" },
	{ "stormgate_handshake_completed_total", "Handshakes an engine completed (full, resumed).",
	  .from = FROM_ENGINES, .path = "completed" },
	{ "stormgate_handshake_queue_full_total",
	  "Punted handshake datagrams dropped: the engine's queue was full.", .from = FROM_ENGINES,
	  .path = "queue_full" },
	{ "stormgate_handshake_fifo_full_total",
	  "Installs an engine could not hand to the gateway thread: its queue was full.",
	  .from = FROM_ENGINES, .path = "fifo_full" },
	{ "stormgate_handshake_engine_latency_p50_seconds",
	  "Median handshake latency of an engine over the last 10 s (0: none completed).",
	  .from = FROM_ENGINES, .path = "p50_us", .scale = US },
	{ "stormgate_handshake_engine_latency_p99_seconds",
	  "99th percentile of an engine's handshake latency over the last 10 s (0: none).",
	  .from = FROM_ENGINES, .path = "p99_us", .scale = US },
	{ "stormgate_handshake_latency_seconds",
	  "Handshake latency since start, from the datagram that took the slot to the one that "
	  "completed it (no _sum: the engines count by bucket only).",
	  .from = FROM_HISTOGRAM, .path = "handshake_plane.latency", .scale = US },
	{ "stormgate_admission_rate", "New handshakes admitted per second (0: unlimited).",
	  .path = "admission.handshake_rate" },
	{ "stormgate_admission_available", "New handshakes that would be admitted right now.",
	  .path = "admission.available" },
	{ "stormgate_admission_admitted_total", "New handshakes admitted.",
	  .path = "admission.admitted" },
	{ "stormgate_admission_refused_total",
	  "New handshakes refused over the rate (the device retransmits).",
	  .path = "admission.refused" },
	{ "stormgate_admission_source_share",
	  "Percent of the rate one source prefix may take (100: no per-source limit).",
	  .path = "admission.source_share" },
	{ "stormgate_admission_cookies_required",
	  "1 while a ClientHello needs a cookie (HelloVerifyRequest).",
	  .path = "admission.cookies_required" },
	{ "stormgate_admission_cookie_threshold",
	  "Handshakes in flight from which cookies are required (under_load).",
	  .path = "admission.cookie_threshold" },
	{ "stormgate_credentials", "Identities in the credential store.",
	  .path = "credentials.count" },
	{ "stormgate_credential_raw_public_keys", "Raw public keys in the credential store.",
	  .path = "credentials.raw_public_keys" },
	{ "stormgate_credential_cert_policies",
	  "Certificate-identity policies in the credential store.",
	  .path = "credentials.cert_policies" },
	/* Certificates (the tls section; cmd_tls.c, docs/control.md "tls"). */
	{ "stormgate_tls_enabled", "1 when a certificate or raw public key is loaded.",
	  .path = "tls.enabled" },
	{ "stormgate_tls_cert_expiry_seconds",
	  "Our certificate's notAfter, Unix seconds (0: raw public key only).",
	  .path = "tls.not_after" },
	{ "stormgate_tls_generation", "Certificate sets loaded: reloads + 1.",
	  .path = "tls.generation" },
	{ "stormgate_tls_sign_pool_ready", "Precomputed ECDSA nonces ready for signing.",
	  .path = "tls.pool_ready" },
	{ "stormgate_tls_sign_pool_size", "Precomputed ECDSA nonces kept at most.",
	  .path = "tls.pool_size" },
	{ "stormgate_tls_sign_pool_refilled_total",
	  "ECDSA nonces precomputed by the gateway thread.", .path = "tls.pool_refilled" },
	{ "stormgate_tls_verify_cache_entries", "Client certificate chains cached as verified.",
	  .path = "tls.cache_entries" },
	{ "stormgate_tls_verify_cache_total", "Client chain lookups in the verified-chain cache.",
	  .label = "result",
	  .each = { { "hit", "tls.cache_hits" }, { "miss", "tls.cache_misses" } } },
	{ "stormgate_tls_reloads_total", "stormctl tls reload, by result.", .label = "result",
	  .each = { { "ok", "tls.reloads" }, { "failed", "tls.reload_failed" } } },
	{ "stormgate_credential_import_running", "1 while a credential import runs.",
	  .path = "credentials.import_running" },
	{ "stormgate_credential_revoked_sessions_total",
	  "Sessions ended because their identity's key was replaced or removed.",
	  .path = "credentials.sessions_revoked" },
	{ "stormgate_control_clients", "Clients connected to the control socket.",
	  .path = "control.clients" },
	{ "stormgate_control_requests_total", "Control requests answered.",
	  .path = "control.requests" },
	{ "stormgate_control_errors_total", "Control requests answered with an error.",
	  .path = "control.errors" },
	{ "stormgate_control_plane_punts_unserved_total",
	  "Punted datagrams the control plane could not take.",
	  .path = "control_plane.punts_unserved" },

	{ "stormgate_rx_packets_total", "Packets received by a worker.", .from = FROM_WORKERS,
	  .path = "rx_packets" },
	{ "stormgate_rx_bytes_total", "Bytes received by a worker.", .from = FROM_WORKERS,
	  .path = "rx_bytes" },
	{ "stormgate_tx_packets_total", "Packets sent by a worker.", .from = FROM_WORKERS,
	  .path = "tx_packets" },
	{ "stormgate_forwarded_packets_total",
	  "Datagrams forwarded: up (device to backend) or down (backend to device).",
	  .from = FROM_WORKERS, .label = "direction",
	  .each = { { "up", "forwarded_up" }, { "down", "forwarded_down" } } },
	{ "stormgate_punted_packets_total", "Packets a worker punted to the control plane.",
	  .from = FROM_WORKERS, .path = "punted" },
	{ "stormgate_consumed_packets_total",
	  "Datagrams a worker acted on itself (return routability messages).", .from = FROM_WORKERS,
	  .path = "consumed" },
	{ "stormgate_peer_moves_total", "CID sessions moved to their device's new address.",
	  .from = FROM_WORKERS, .path = "peer_moves" },
	{ "stormgate_handed_off_packets_total",
	  "Packets handed to the worker that owns their session.", .from = FROM_WORKERS,
	  .path = "handed_off" },
	{ "stormgate_records_opened_total", "DTLS records verified and decrypted.",
	  .from = FROM_WORKERS, .path = "records_opened" },
	{ "stormgate_records_sealed_total", "DTLS records encrypted and sealed.",
	  .from = FROM_WORKERS, .path = "records_sealed" },
	{ "stormgate_sequence_floors_total",
	  "Sequence floors a worker posted for the session store, or lost (no mbuf, ring full).",
	  .from = FROM_WORKERS, .label = "result",
	  .each = { { "posted", "floors_posted" }, { "dropped", "floors_dropped" } } },
	{ "stormgate_worker_dropped_packets_total", "Packets a worker dropped (all reasons).",
	  .from = FROM_WORKERS, .path = "dropped" },
	{ "stormgate_worker_polls_total", "Poll rounds of a worker.", .from = FROM_WORKERS,
	  .path = "polls" },
	{ "stormgate_worker_idle_polls_total", "Poll rounds that found nothing.",
	  .from = FROM_WORKERS, .path = "idle_polls" },

	{ "stormgate_dropped_packets_total", "Packets the data plane dropped, by reason.",
	  .from = FROM_MEMBERS, .path = "drops", .label = "reason" },
	{ "stormgate_punts_total", "Packets the data plane punted to the control plane, by kind.",
	  .from = FROM_MEMBERS, .path = "punts", .label = "kind" },
	{ "stormgate_session_refusals_total", "Session table requests refused, by reason.",
	  .from = FROM_MEMBERS, .path = "sessions.refused", .label = "reason" },
	{ "stormgate_handshake_events_total", "Handshake server outcomes, events and failures.",
	  .from = FROM_MEMBERS, .path = "handshakes.counters", .label = "event" },
	{ "stormgate_control_plane_punts_taken_total",
	  "Punted packets the control plane took, by kind.", .from = FROM_MEMBERS,
	  .path = "control_plane.punts_taken", .label = "kind" },
	{ "stormgate_return_routability_total",
	  "CID devices seen at a new address (RFC 9146 §6) and return routability checks "
	  "(RFC 9853), by event.",
	  .from = FROM_MEMBERS, .path = "global.rrc", .label = "event" },
	{ "stormgate_metrics_http_requests_total",
	  "Requests to the /metrics endpoint, by result (ok, not_found, method_not_allowed...).",
	  .from = FROM_MEMBERS, .path = "http.requests", .label = "result" },
	{ "stormgate_admission_refusals_total",
	  "New handshakes refused: over the global rate, or over their source's share.",
	  .from = FROM_MEMBERS, .path = "admission.refused_by", .label = "reason" },

	{ "stormgate_session_changes_total", "Session table changes.", .label = "change",
	  .each = { { "insert", "sessions.inserts" },
	            { "replace", "sessions.replaces" },
	            { "delete", "sessions.deletes" },
	            { "kill", "sessions.killed" },
	            { "ended_by_device", "sessions.ended_by_device" } } },
	{ "stormgate_frees_deferred_total",
	  "Frees queued beyond their nominal queue because the workers lagged, instead of "
	  "waiting for them.",
	  .label = "kind",
	  .each = { { "session", "sessions.reclaim_deferred" },
	            { "backend_identity", "sessions.detach_deferred" } } },
	{ "stormgate_credential_imports_total", "Credential imports through the control socket.",
	  .label = "result",
	  .each = { { "committed", "credentials.imports_done" },
	            { "failed", "credentials.imports_failed" } } },
	{ "stormgate_control_connections_total", "Control socket connections.", .label = "result",
	  .each = { { "accepted", "control.accepted" }, { "refused", "control.refused" } } },
	{ "stormgate_control_closed_total", "Control clients closed by the daemon.",
	  .label = "reason",
	  .each = { { "timeout", "control.timeouts" },
	            { "oversized", "control.oversized" },
	            { "dropped", "control.dropped" } } },
	{ "stormgate_control_plane_frames_total",
	  "Frames the control plane sent through the data plane.", .label = "result",
	  .each = { { "sent", "control_plane.frames_sent" },
	            { "dropped", "control_plane.frames_dropped" } } },
	/* The session store (docs/restart.md); only "enabled" when it is off. */
	{ "stormgate_store_enabled", "1 while sessions are kept across restarts.",
	  .path = "store.enabled" },
	{ "stormgate_store_records", "Sessions in the store, as of its last commit.",
	  .path = "store.records" },
	{ "stormgate_store_pending", "Store writes not yet durable (the lag).",
	  .path = "store.pending" },
	{ "stormgate_store_commits_total", "Group commits of the store.", .path = "store.commits" },
	{ "stormgate_store_dropped_total", "Store writes lost with a group that failed.",
	  .path = "store.dropped" },
	{ "stormgate_store_failed_total",
	  "Store writes lost: refused (queue bound, store errors) or lost with a commit.",
	  .path = "store.failed" },
	{ "stormgate_store_floors_total", "Sequence floor updates the store was given.",
	  .path = "store.floors" },
	{ "stormgate_store_last_commit_age_seconds", "Seconds since the store's last commit.",
	  .path = "store.last_commit_age_s" },
	{ "stormgate_store_restored", "Sessions the last start restored from the store.",
	  .path = "store.restore.restored" },
};

/* One value from a member of the object at a dotted path; NULL when absent. */
static const json_t *at(const json_t *o, const char *path)
{
	char part[64];

	while (o != NULL && *path != '\0') {
		size_t n = strcspn(path, ".");

		if (n >= sizeof(part))
			return NULL;
		memcpy(part, path, n);
		part[n] = '\0';
		o = json_object_get(o, part);
		path += n + (path[n] == '.');
	}
	return o;
}

static int number(const json_t *v, double *out)
{
	if (json_is_integer(v))
		*out = (double)json_integer_value(v);
	else if (json_is_real(v))
		*out = json_real_value(v);
	else if (json_is_boolean(v))
		*out = json_is_true(v);
	else
		return -1;
	return 0;
}

/* A label value with \, " and newline escaped (exposition format). */
static void label_value(FILE *f, const char *s)
{
	for (; *s; s++) {
		if (*s == '\\' || *s == '"')
			fprintf(f, "\\%c", *s);
		else if (*s == '\n')
			fputs("\\n", f);
		else
			fputc(*s, f);
	}
}

/* One family being printed: its HELP and TYPE go once, before its first sample. */
struct out {
	FILE *f;
	const struct family *fam;
	bool announced;
};

static void announce(struct out *o)
{
	const char *name = o->fam->name;
	size_t n = strlen(name);
	bool counter = n > 6 && strcmp(name + n - 6, "_total") == 0;

	if (o->announced)
		return;
	fprintf(o->f, "# HELP %s %s\n# TYPE %s %s\n", name, o->fam->help, name,
	        o->fam->from == FROM_HISTOGRAM ? "histogram"
	        : counter                      ? "counter"
	                                       : "gauge");
	o->announced = true;
}

/*
 * name{labels,label="value"} v, when v is a number: labels are the worker's
 * ("" for none), label and value the family's own (label NULL for none).
 * Integers exactly, reals with microsecond-ish precision (uptime); a scaled
 * family's numbers are reals.
 */
static void sample(struct out *o, const char *labels, const char *label, const char *value,
                   const json_t *v)
{
	double d;

	if (number(v, &d) != 0)
		return;
	announce(o);
	fputs(o->fam->name, o->f);
	if (*labels != '\0' || label != NULL) {
		fprintf(o->f, "{%s%s", labels, *labels != '\0' && label != NULL ? "," : "");
		if (label != NULL) {
			fprintf(o->f, "%s=\"", label);
			label_value(o->f, value);
			fputc('"', o->f);
		}
		fputc('}', o->f);
	}
	if (o->fam->scale != 0)
		fprintf(o->f, " %.15g\n", d * o->fam->scale);
	else if (json_is_integer(v))
		fprintf(o->f, " %" JSON_INTEGER_FORMAT "\n", json_integer_value(v));
	else
		fprintf(o->f, " %.15g\n", d);
}

/* How many numbers a family has: the one at path, or each[] up to the NULL value. */
static size_t n_numbers(const struct family *fam)
{
	size_t n = 0;

	if (fam->path != NULL)
		return 1;
	while (n < SG_ARRAY_SIZE(fam->each) && fam->each[n].value != NULL)
		n++;
	return n;
}

/* The labels of row i of a FROM_WORKERS or FROM_ENGINES array. */
static void row_labels(const struct family *fam, const json_t *row, char *buf, size_t len)
{
	if (fam->from == FROM_WORKERS)
		snprintf(buf, len, "worker=\"%lld\",lcore=\"%lld\"",
		         (long long)json_integer_value(json_object_get(row, "worker")),
		         (long long)json_integer_value(json_object_get(row, "lcore")));
	else
		snprintf(buf, len, "engine=\"%lld\"",
		         (long long)json_integer_value(json_object_get(row, "engine")));
}

/* A FROM_STATS, FROM_WORKERS or FROM_ENGINES family: each of its numbers, for every row. */
static void numbers(struct out *o, const json_t *st)
{
	const struct family *fam = o->fam;
	const json_t *rows = fam->from == FROM_WORKERS   ? json_object_get(st, "workers")
	                     : fam->from == FROM_ENGINES ? at(st, "handshake_plane.engine")
	                                                 : NULL;

	if (fam->from != FROM_STATS) {
		if (json_array_size(rows) == 0)
			return;
		announce(o); /* the rows are there, if not this member */
	}
	for (size_t k = 0; k < n_numbers(fam); k++) {
		const char *path = fam->path != NULL ? fam->path : fam->each[k].path;
		const char *value = fam->path != NULL ? NULL : fam->each[k].value;

		if (fam->from == FROM_STATS) {
			sample(o, "", fam->label, value, at(st, path));
			continue;
		}
		for (size_t w = 0; w < json_array_size(rows); w++) {
			const json_t *row = json_array_get(rows, w);
			char labels[64];

			row_labels(fam, row, labels, sizeof(labels));
			sample(o, labels, fam->label, value, json_object_get(row, path));
		}
	}
}

/*
 * A FROM_HISTOGRAM family: name_bucket{le="edge"} with the counts summed up
 * to each finite edge (scaled), then le="+Inf" and name_count, the total.
 * Left out unless the object has n - 1 edges for n counts.
 */
static void histogram(struct out *o, const json_t *st)
{
	const json_t *h = at(st, o->fam->path);
	const json_t *le = json_object_get(h, "le_us"), *count = json_object_get(h, "count");
	size_t n = json_array_size(count);
	json_int_t cum = 0;

	if (n == 0 || json_array_size(le) != n - 1)
		return;
	announce(o);
	for (size_t i = 0; i < n; i++) {
		cum += json_integer_value(json_array_get(count, i));
		if (i + 1 < n)
			fprintf(o->f, "%s_bucket{le=\"%.15g\"} %" JSON_INTEGER_FORMAT "\n",
			        o->fam->name,
			        (double)json_integer_value(json_array_get(le, i)) * o->fam->scale,
			        cum);
		else
			fprintf(o->f, "%s_bucket{le=\"+Inf\"} %" JSON_INTEGER_FORMAT "\n",
			        o->fam->name, cum);
	}
	fprintf(o->f, "%s_count %" JSON_INTEGER_FORMAT "\n", o->fam->name, cum);
}

/* A FROM_MEMBERS family: a sample per member of its object, if there is one. */
static void members(struct out *o, const json_t *st)
{
	const json_t *m = at(st, o->fam->path);
	const char *key;
	json_t *v;

	if (!json_is_object(m))
		return;
	announce(o); /* the object is there, if empty */
	json_object_foreach((json_t *)m, key, v)
	{
		sample(o, "", o->fam->label, key, v);
	}
}

int sg_metrics_prometheus(const json_t *st, FILE *f)
{
	static const struct family up = { "stormgate_up", "1: the daemon answered." };
	struct out o = { f, &up, false };

	if (!json_is_object(st))
		return -EINVAL;
	announce(&o);
	fputs("stormgate_up 1\n", f);
	for (size_t i = 0; i < SG_ARRAY_SIZE(families); i++) {
		o = (struct out){ f, &families[i], false };
		if (families[i].from == FROM_MEMBERS)
			members(&o, st);
		else if (families[i].from == FROM_HISTOGRAM)
			histogram(&o, st);
		else
			numbers(&o, st);
	}
	return ferror(f) ? -EIO : 0;
}
