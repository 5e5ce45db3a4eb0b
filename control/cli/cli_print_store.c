/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The session store as stormctl prints it (docs/restart.md): `store`, the
 * STORE line of `stats`, and what `shutdown` says was saved. Members are
 * read leniently (an older daemon has none: the store shows as off).
 * stormctl's one thread.
 */
#include <stdio.h>

#include <jansson.h>

#include "sg_cli.h"

static int store_on(const json_t *st)
{
	return json_is_true(json_object_get(st, "enabled"));
}

/* "0.04 s ago", or "none yet" when the store has not committed since it opened. */
static void commit_age(const json_t *st, char *buf, size_t len)
{
	if (json_object_get(st, "last_commit_age_s") != NULL)
		snprintf(buf, len, "%.2f s ago", getd(st, "last_commit_age_s"));
	else
		snprintf(buf, len, "none yet");
}

void sg_cli_print_store(const json_t *st)
{
	const json_t *rs = json_object_get(st, "restore"), *sv = json_object_get(st, "save");
	char age[48];

	if (!store_on(st)) {
		printf("the session store is off (store.enabled: false): sessions do not survive "
		       "a restart\n");
		return;
	}
	commit_age(st, age, sizeof(age));
	printf("backend       %s\n", gets_(st, "backend"));
	printf("path          %s\n", gets_(st, "path"));
	printf("sessions      %" JSON_INTEGER_FORMAT " stored (as of the last commit)\n",
	       geti(st, "records"));
	printf("pending       %" JSON_INTEGER_FORMAT
	       " write(s) not yet durable (the oldest %" JSON_INTEGER_FORMAT " ms)\n",
	       geti(st, "pending"), geti(st, "lag_ms"));
	printf("last commit   %s (every %" JSON_INTEGER_FORMAT " ms at most)\n", age,
	       geti(st, "commit_interval_ms"));
	printf("commits       %" JSON_INTEGER_FORMAT "\n", geti(st, "commits"));
	printf("size          %" JSON_INTEGER_FORMAT " bytes (%.1f MiB)\n", geti(st, "size_bytes"),
	       getd(st, "size_bytes") / (1024.0 * 1024.0));
	printf("dropped       %" JSON_INTEGER_FORMAT " write(s) lost with a failed commit\n",
	       geti(st, "dropped"));
	printf("failed        %" JSON_INTEGER_FORMAT
	       " write(s) lost: refused (queue bound, store errors) or with a commit\n",
	       geti(st, "failed"));
	printf("writes        %" JSON_INTEGER_FORMAT " put, %" JSON_INTEGER_FORMAT
	       " deleted, %" JSON_INTEGER_FORMAT " sequence floor(s)\n",
	       geti(st, "puts"), geti(st, "dels"), geti(st, "floors"));
	printf("last restore  %" JSON_INTEGER_FORMAT " session(s) in %" JSON_INTEGER_FORMAT
	       " ms (%" JSON_INTEGER_FORMAT " expired, %" JSON_INTEGER_FORMAT
	       " revoked, %" JSON_INTEGER_FORMAT " damaged)\n",
	       geti(rs, "restored"), geti(rs, "ms"), geti(rs, "expired"), geti(rs, "revoked"),
	       geti(rs, "damaged"));
	if (json_is_true(json_object_get(sv, "done")))
		printf("clean stop    saved %" JSON_INTEGER_FORMAT
		       " session(s) in %" JSON_INTEGER_FORMAT " ms\n",
		       geti(sv, "saved"), geti(sv, "ms"));
}

void sg_cli_print_store_line(const json_t *st)
{
	char age[48];

	if (!store_on(st)) {
		printf("STORE        off: sessions do not survive a restart\n");
		return;
	}
	commit_age(st, age, sizeof(age));
	printf("STORE        %" JSON_INTEGER_FORMAT " session(s) stored, %" JSON_INTEGER_FORMAT
	       " pending, last commit %s; %" JSON_INTEGER_FORMAT " commits, %" JSON_INTEGER_FORMAT
	       " dropped, %" JSON_INTEGER_FORMAT " failed, %" JSON_INTEGER_FORMAT
	       " floors; restored %" JSON_INTEGER_FORMAT " at start\n",
	       geti(st, "records"), geti(st, "pending"), age, geti(st, "commits"),
	       geti(st, "dropped"), geti(st, "failed"), geti(st, "floors"),
	       geti(json_object_get(st, "restore"), "restored"));
}

static const char *sessions_word(json_int_t n)
{
	return n == 1 ? "session" : "sessions";
}

void sg_cli_print_shutdown(const json_t *r)
{
	json_int_t n;

	if (json_is_true(json_object_get(r, "save_done"))) {
		n = geti(r, "saved");
		printf("stopping: saved %" JSON_INTEGER_FORMAT " %s in %" JSON_INTEGER_FORMAT
		       " ms\n",
		       n, sessions_word(n), geti(r, "save_ms"));
	} else if (json_object_get(r, "saving") != NULL) {
		n = geti(r, "saving");
		printf("stopping; saving %" JSON_INTEGER_FORMAT " %s\n", n, sessions_word(n));
	} else {
		printf("stormgate is stopping\n");
	}
}
