/* SPDX-License-Identifier: Apache-2.0 */
/* `stats` JSON -> Prometheus text exposition format 0.0.4. */
#include <errno.h>
#include <string.h>

#include "sg_metrics.h"

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

static void family(FILE *f, const char *name, const char *type, const char *help)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
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

/* Integers exactly, reals with microsecond-ish precision (uptime). */
static void value(FILE *f, const json_t *v)
{
	double d;

	if (json_is_integer(v))
		fprintf(f, "%" JSON_INTEGER_FORMAT "\n", json_integer_value(v));
	else if (number(v, &d) == 0)
		fprintf(f, "%.15g\n", d);
}

static void sample(FILE *f, const char *name, const char *labels, const json_t *v)
{
	double d;

	if (number(v, &d) != 0)
		return;
	fprintf(f, "%s%s ", name, labels);
	value(f, v);
}

/* Families of one value each. */
static const struct {
	const char *name, *type, *path, *help;
} scalars[] = {
	{ "stormgate_uptime_seconds", "gauge", "uptime_s", "Seconds since the ports came up." },
	{ "stormgate_sessions", "gauge", "sessions.live", "Sessions in the table." },
	{ "stormgate_sessions_capacity", "gauge", "sessions.capacity",
	  "Sessions the table can hold." },
	{ "stormgate_session_identities", "gauge", "sessions.identities",
	  "Distinct PSK identities with a session." },
	{ "stormgate_session_kill_alerts_total", "counter", "sessions.kill_alerts_sent",
	  "Closing alerts sent to devices whose session was killed or expired." },
	{ "stormgate_sessions_expired_total", "counter", "sessions.expired",
	  "Sessions ended because their key lifetime ran out." },
	{ "stormgate_sessions_idle_total", "counter", "sessions.idle",
	  "Sessions ended after policy.idle_timeout without an authenticated record." },
	{ "stormgate_handshakes_in_flight", "gauge", "handshakes.in_flight",
	  "Handshakes holding state now." },
	{ "stormgate_handshakes_lingering", "gauge", "handshakes.lingering",
	  "Finished handshakes whose last flight is kept for retransmission." },
	{ "stormgate_handshakes_installed_total", "counter", "handshakes.installed",
	  "Sessions installed by a completed handshake." },
	{ "stormgate_handshakes_replaced_total", "counter", "handshakes.replaced",
	  "Installed sessions that replaced a device's earlier one." },
	{ "stormgate_handshake_install_failures_total", "counter", "handshakes.install_failed",
	  "Completed handshakes the session table or data plane refused." },
	{ "stormgate_admission_rate", "gauge", "admission.handshake_rate",
	  "New handshakes admitted per second (0: unlimited)." },
	{ "stormgate_admission_available", "gauge", "admission.available",
	  "New handshakes that would be admitted right now." },
	{ "stormgate_admission_admitted_total", "counter", "admission.admitted",
	  "New handshakes admitted." },
	{ "stormgate_admission_refused_total", "counter", "admission.refused",
	  "New handshakes refused over the rate (the device retransmits)." },
	{ "stormgate_admission_source_share", "gauge", "admission.source_share",
	  "Percent of the rate one source prefix may take (100: no per-source limit)." },
	{ "stormgate_admission_cookies_required", "gauge", "admission.cookies_required",
	  "1 while a ClientHello needs a cookie (HelloVerifyRequest)." },
	{ "stormgate_admission_cookie_threshold", "gauge", "admission.cookie_threshold",
	  "Handshakes in flight from which cookies are required (under_load)." },
	{ "stormgate_credentials", "gauge", "credentials.count",
	  "Identities in the credential store." },
	{ "stormgate_credential_import_running", "gauge", "credentials.import_running",
	  "1 while a credential import runs." },
	{ "stormgate_credential_revoked_sessions_total", "counter", "credentials.sessions_revoked",
	  "Sessions ended because their identity's key was replaced or removed." },
	{ "stormgate_control_clients", "gauge", "control.clients",
	  "Clients connected to the control socket." },
	{ "stormgate_control_requests_total", "counter", "control.requests",
	  "Control requests answered." },
	{ "stormgate_control_errors_total", "counter", "control.errors",
	  "Control requests answered with an error." },
	{ "stormgate_control_plane_punts_unserved_total", "counter", "control_plane.punts_unserved",
	  "Punted datagrams the control plane could not take." },
};

/* Families with one labelled sample per member of an object. */
static const struct {
	const char *name, *type, *path, *label, *help;
} maps[] = {
	{ "stormgate_dropped_packets_total", "counter", "drops", "reason",
	  "Packets the data plane dropped, by reason." },
	{ "stormgate_punts_total", "counter", "punts", "kind",
	  "Packets the data plane punted to the control plane, by kind." },
	{ "stormgate_session_refusals_total", "counter", "sessions.refused", "reason",
	  "Session table requests refused, by reason." },
	{ "stormgate_handshake_events_total", "counter", "handshakes.counters", "event",
	  "Handshake server outcomes, events and failures." },
	{ "stormgate_control_plane_punts_taken_total", "counter", "control_plane.punts_taken",
	  "kind", "Punted packets the control plane took, by kind." },
	{ "stormgate_return_routability_total", "counter", "global.rrc", "event",
	  "CID devices seen at a new address (RFC 9146 §6) and return routability checks "
	  "(RFC 9853), by event." },
	{ "stormgate_admission_refusals_total", "counter", "admission.refused_by", "reason",
	  "New handshakes refused: over the global rate, or over their source's share." },
};

/* Families with a fixed label per member: name{label="value"} <- path. */
static const struct {
	const char *name, *type, *label, *help;
	const struct {
		const char *value, *path;
	} s[6];
} groups[] = {
	{ "stormgate_session_changes_total",
	  "counter",
	  "change",
	  "Session table changes.",
	  { { "insert", "sessions.inserts" },
	    { "replace", "sessions.replaces" },
	    { "delete", "sessions.deletes" },
	    { "kill", "sessions.killed" },
	    { "ended_by_device", "sessions.ended_by_device" } } },
	{ "stormgate_credential_imports_total",
	  "counter",
	  "result",
	  "Credential imports through the control socket.",
	  { { "committed", "credentials.imports_done" },
	    { "failed", "credentials.imports_failed" } } },
	{ "stormgate_control_connections_total",
	  "counter",
	  "result",
	  "Control socket connections.",
	  { { "accepted", "control.accepted" }, { "refused", "control.refused" } } },
	{ "stormgate_control_closed_total",
	  "counter",
	  "reason",
	  "Control clients closed by the daemon.",
	  { { "timeout", "control.timeouts" },
	    { "oversized", "control.oversized" },
	    { "dropped", "control.dropped" } } },
	{ "stormgate_control_plane_frames_total",
	  "counter",
	  "result",
	  "Frames the control plane sent through the data plane.",
	  { { "sent", "control_plane.frames_sent" },
	    { "dropped", "control_plane.frames_dropped" } } },
};

/* Per-worker families: name{worker="i",lcore="l"} <- workers[i].member. */
static const struct {
	const char *name, *type, *member, *extra, *help;
} per_worker[] = {
	{ "stormgate_rx_packets_total", "counter", "rx_packets", "",
	  "Packets received by a worker." },
	{ "stormgate_rx_bytes_total", "counter", "rx_bytes", "", "Bytes received by a worker." },
	{ "stormgate_tx_packets_total", "counter", "tx_packets", "", "Packets sent by a worker." },
	{ "stormgate_forwarded_packets_total", "counter", "forwarded_up", ",direction=\"up\"",
	  "Datagrams forwarded: up (device to backend) or down (backend to device)." },
	{ "stormgate_forwarded_packets_total", "counter", "forwarded_down", ",direction=\"down\"",
	  NULL },
	{ "stormgate_punted_packets_total", "counter", "punted", "",
	  "Packets a worker punted to the control plane." },
	{ "stormgate_consumed_packets_total", "counter", "consumed", "",
	  "Datagrams a worker acted on itself (return routability messages)." },
	{ "stormgate_peer_moves_total", "counter", "peer_moves", "",
	  "CID sessions moved to their device's new address." },
	{ "stormgate_handed_off_packets_total", "counter", "handed_off", "",
	  "Packets handed to the worker that owns their session." },
	{ "stormgate_records_opened_total", "counter", "records_opened", "",
	  "DTLS records verified and decrypted." },
	{ "stormgate_records_sealed_total", "counter", "records_sealed", "",
	  "DTLS records encrypted and sealed." },
	{ "stormgate_worker_dropped_packets_total", "counter", "dropped", "",
	  "Packets a worker dropped (all reasons)." },
	{ "stormgate_worker_polls_total", "counter", "polls", "", "Poll rounds of a worker." },
	{ "stormgate_worker_idle_polls_total", "counter", "idle_polls", "",
	  "Poll rounds that found nothing." },
};

int sg_metrics_prometheus(const json_t *st, FILE *f)
{
	const json_t *workers = json_object_get(st, "workers");

	if (!json_is_object(st))
		return -EINVAL;
	family(f, "stormgate_up", "gauge", "1: the daemon answered.");
	fputs("stormgate_up 1\n", f);
	for (size_t i = 0; i < sizeof(scalars) / sizeof(scalars[0]); i++) {
		const json_t *v = at(st, scalars[i].path);
		double d;

		if (number(v, &d) != 0)
			continue;
		family(f, scalars[i].name, scalars[i].type, scalars[i].help);
		sample(f, scalars[i].name, "", v);
	}
	for (size_t i = 0; i < sizeof(per_worker) / sizeof(per_worker[0]); i++) {
		if (json_array_size(workers) == 0)
			break;
		if (per_worker[i].help != NULL)
			family(f, per_worker[i].name, per_worker[i].type, per_worker[i].help);
		for (size_t w = 0; w < json_array_size(workers); w++) {
			const json_t *o = json_array_get(workers, w);
			char labels[96];

			snprintf(labels, sizeof(labels), "{worker=\"%lld\",lcore=\"%lld\"%s}",
			         (long long)json_integer_value(json_object_get(o, "worker")),
			         (long long)json_integer_value(json_object_get(o, "lcore")),
			         per_worker[i].extra);
			sample(f, per_worker[i].name, labels,
			       json_object_get(o, per_worker[i].member));
		}
	}
	for (size_t i = 0; i < sizeof(maps) / sizeof(maps[0]); i++) {
		const json_t *m = at(st, maps[i].path);
		const char *key;
		json_t *v;

		if (!json_is_object(m))
			continue;
		family(f, maps[i].name, maps[i].type, maps[i].help);
		json_object_foreach((json_t *)m, key, v)
		{
			double d;

			if (number(v, &d) != 0)
				continue;
			fprintf(f, "%s{%s=\"", maps[i].name, maps[i].label);
			label_value(f, key);
			fputs("\"} ", f);
			value(f, v);
		}
	}
	for (size_t i = 0; i < sizeof(groups) / sizeof(groups[0]); i++) {
		int any = 0;

		for (size_t k = 0; k < 6 && groups[i].s[k].value != NULL; k++) {
			const json_t *v = at(st, groups[i].s[k].path);
			char labels[64];
			double d;

			if (number(v, &d) != 0)
				continue;
			if (!any++)
				family(f, groups[i].name, groups[i].type, groups[i].help);
			snprintf(labels, sizeof(labels), "{%s=\"%s\"}", groups[i].label,
			         groups[i].s[k].value);
			sample(f, groups[i].name, labels, v);
		}
	}
	return ferror(f) ? -EIO : 0;
}
