/* SPDX-License-Identifier: Apache-2.0 */
/*
 * DPDK telemetry: /stormgate/... commands of dpdk-telemetry.py. The gateway
 * thread publishes a copy of the `stats` JSON
 * (mgmt_stats_json()) every few hundred ms; the telemetry thread, which
 * never touches the gateway, reads the published copy under a mutex and
 * flattens parts of it into rte_tel_data dicts. The management thread's
 * /metrics (http.c) takes a reference to it under the same mutex and
 * renders it outside, with the printer of `stormctl metrics`. A published
 * copy is never modified (it is replaced whole; jansson's reference counts
 * are atomic).
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rte_telemetry.h>

#include <stormgate/common.h>

#include "mgmt_priv.h"
#include "sg_metrics.h"
#include "sg_log.h"

static pthread_mutex_t tel_lock = PTHREAD_MUTEX_INITIALIZER;
static json_t *tel_snap; /* published mgmt_stats_json(), immutable; NULL: none */

void sg_mgmt_telemetry_update(struct sg_mgmt *m)
{
	json_t *next = mgmt_stats_json(m), *old;

	if (next == NULL)
		return;
	pthread_mutex_lock(&tel_lock);
	old = tel_snap;
	tel_snap = next;
	pthread_mutex_unlock(&tel_lock);
	json_decref(old);
}

int mgmt_metrics_render(FILE *out)
{
	json_t *st;
	int rc;

	pthread_mutex_lock(&tel_lock);
	st = json_incref(tel_snap);
	pthread_mutex_unlock(&tel_lock);
	if (st == NULL)
		return -ENODATA;
	rc = sg_metrics_prometheus(st, out);
	json_decref(st);
	return rc;
}

void sg_mgmt_telemetry_clear(void)
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

/*
 * Item `params` (a decimal index) of the array at member `name` of the
 * snapshot, flattened into d: one worker, one handshake engine. -EINVAL for
 * no such item. Under tel_lock.
 */
static int tel_item(struct rte_tel_data *d, const json_t *arr, const char *params)
{
	char *end;
	unsigned long i = params ? strtoul(params, &end, 10) : 0;

	if (params == NULL || params[0] == '\0' || *end != '\0' || i >= json_array_size(arr))
		return -EINVAL;
	flatten(d, json_array_get(arr, i), "", NULL);
	return 0;
}

/* The telemetry thread: one section of the published statistics. */
static int tel_cb(const char *cmd, const char *params, struct rte_tel_data *d)
{
	/* Sections with a command of their own. */
	static const char *const own[] = { "global",    "drops",      "punts",
		                           "workers",   "handshakes", "handshake_plane",
		                           "admission", "sessions",   "control_plane",
		                           "tls",       NULL };
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
		rc = tel_item(d, json_object_get(tel_snap, "workers"), params);
		goto out;
	}
	if (strcmp(cmd, "/stormgate/hs_engine") == 0) {
		rc = tel_item(
		        d, json_object_get(json_object_get(tel_snap, "handshake_plane"), "engine"),
		        params);
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

int sg_mgmt_telemetry_register(void)
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
		{ "/stormgate/handshake_plane",
		  "Handshake engines: in flight and limit, latency p50/p99 (us), revoked installs. "
		  "No parameters" },
		{ "/stormgate/hs_engine",
		  "One handshake engine: in flight, limit, completed, queue/FIFO full, p50/p99. "
		  "Parameters: int engine" },
		{ "/stormgate/admission",
		  "Storm admission: rate, tokens, admitted, refused, cookies. No parameters" },
		{ "/stormgate/control_plane",
		  "Control plane's share of the traffic: punts taken, frames sent. No parameters" },
		{ "/stormgate/tls", "Certificates: expiry, signing pool, verified-chain cache, "
		                    "reloads. No parameters" },
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
