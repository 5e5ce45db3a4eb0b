/* SPDX-License-Identifier: Apache-2.0 */
/*
 * `store`: the session store (docs/restart.md) as the gateway reports it
 * (sg_gateway_store_info()): where it is, what it holds, how far its
 * durable state lags (pending writes, the last group commit's age), what it
 * lost (dropped with a failed group; failed: every write of the gateway
 * that did not make it: refused or lost with a commit), and what the last restore and the clean
 * stop did. `stats` carries the same object under "store", which /metrics reads. The gateway thread
 * (owner command, and `stats`'s).
 */
#include <time.h>

#include "mgmt_priv.h"

/* Unix ms now; the store stamps its commits on the wall clock (sg_store.h). */
static uint64_t unix_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static json_t *restore_json(const struct sg_gw_store_info *si)
{
	return json_pack("{s:I, s:I, s:I, s:I, s:I}", "restored", (json_int_t)si->restored,
	                 "expired", (json_int_t)si->restore_expired, "revoked",
	                 (json_int_t)si->restore_revoked, "damaged",
	                 (json_int_t)si->restore_refused, "ms", (json_int_t)si->restore_ms);
}

json_t *mgmt_store_json(struct sg_mgmt *m)
{
	struct sg_gw_store_info si;
	uint64_t now = unix_ms();
	json_t *r;

	sg_gateway_store_info(m->gw, &si);
	if (!si.enabled)
		return json_pack("{s:b}", "enabled", 0);
	r = json_pack("{s:b, s:s, s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, "
	              "s:o, s:{s:b, s:I, s:I}}",
	              "enabled", 1, "backend", si.backend, "path", si.path, "records",
	              (json_int_t)si.records, "pending", (json_int_t)si.pending, "dropped",
	              (json_int_t)si.dropped, "failed", (json_int_t)si.failed, "commits",
	              (json_int_t)si.commits, "size_bytes", (json_int_t)si.size_bytes, "puts",
	              (json_int_t)si.puts, "dels", (json_int_t)si.dels, "floors",
	              (json_int_t)si.floors, "commit_interval_ms",
	              (json_int_t)si.commit_interval_ms, "last_commit_unix_ms",
	              (json_int_t)si.last_commit_ms, "restore", restore_json(&si), "save", "done",
	              si.save_done, "saved", (json_int_t)si.saved, "ms", (json_int_t)si.save_ms);
	if (r != NULL)
		json_object_set_new(r, "lag_ms", json_integer((json_int_t)si.lag_ms));
	/* No commit yet: no age (left out, not 0). */
	if (r != NULL && si.last_commit_ms != 0)
		json_object_set_new(r, "last_commit_age_s",
		                    json_real(now > si.last_commit_ms
		                                      ? (double)(now - si.last_commit_ms) / 1e3
		                                      : 0.0));
	return r;
}

json_t *mgmt_cmd_store(void *ctx, json_t *args, struct sg_ctl_error *err)
{
	json_t *r;

	if (json_object_size(args) != 0)
		return sg_ctl_fail(err, SG_CTL_EARGS, "store takes no arguments");
	r = mgmt_store_json(ctx);
	return r ? r : sg_ctl_fail(err, SG_CTL_EINTERNAL, "out of memory");
}
