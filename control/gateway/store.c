/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The session store on the gateway thread (docs/restart.md): opened before
 * the ports (its key, its meta: the CID key, the floors of the last run, the
 * clean-stop marker, the live policy overrides); every install, re-key, end
 * and worker floor post written into the open group; the group committed
 * within store.commit_interval of its first write; the clean stop's exact
 * save; what management asks (store info, overrides). A store error never
 * stops the gateway once it runs: it is counted and logged, rate-limited.
 * From the start of the workers on, the store's writer thread ("sg-store",
 * a DPDK control thread where the management thread runs, never a worker
 * lcore) does the backend's writes and commits: this thread seals and
 * queues (sg_store_writer_start()).
 *
 * Gateway thread (the main lcore: open and save too). Writes struct
 * gw_store (restore.c its restore fields); reads the session table, the
 * identity index and the data plane's backend bindings.
 */
#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <rte_common.h>
#include <rte_lcore.h>

#include <stormgate/bytes.h>
#include <stormgate/common.h>

#include "gw_priv.h"
#include "sg_log.h"
#include "sg_store_key.h"

#define STORE_CREDENTIAL "stormgate-store" /* systemd credential that wins over the key file */
#define STORE_GROUP_MAX  16384             /* writes per group: commit at once (sg_store.h) */
#define STORE_LOG_NS     (10 * UINT64_C(1000000000)) /* one error message per interval */
#define STORE_POLICY_MAX 65536 /* bytes of stored overrides (a few lines in practice) */

#define STORE_SAVE_FLUSH_MS 120000 /* the clean stop waits this long for the writer at most */

#define STORE_SECRETS_MAX SG_HS_TICKET_KEYS_LEN /* the larger of the engine's two exports */

static_assert(SG_HS_COOKIE_SECRETS_LEN <= STORE_SECRETS_MAX, "one buffer holds either export");
static_assert(SG_SESSREG_TAG_LEN == SG_STORE_CRED_TAG_LEN, "the index keeps the store's tag");

void gw_store_error(struct sg_gateway *gw, const char *what, uint64_t id, int rc)
{
	struct gw_store *gs = &gw->store;
	uint64_t now = sg_mono_ns();

	gs->errors++;
	if (now < gs->log_ns) {
		gs->log_quiet++;
		return;
	}
	SG_LOG(MAIN, ERR,
	       "session store: %s%s%.0" PRIx64 ": %s (%" PRIu64 " more error(s) since the last "
	       "message; the gateway goes on, those sessions handshake again after a crash)",
	       what, id ? " of session " : "", id, strerror(-rc), gs->log_quiet);
	gs->log_ns = now + STORE_LOG_NS;
	gs->log_quiet = 0;
}

/* A write went into the open group: the commit window starts at the first. */
static void group_wrote(struct gw_store *gs)
{
	if (gs->group_writes++ == 0)
		gs->group_ns = sg_mono_ns();
}

/* The store key: the systemd credential when there is one, else the key file. 0 or -errno. */
static int store_key(const char *key_file, struct sg_store_key *key)
{
	int rc = sg_store_key_credential(STORE_CREDENTIAL, key);

	if (rc == 0) {
		SG_LOG(MAIN, INFO, "session store: key from the systemd credential %s",
		       STORE_CREDENTIAL);
		return 0;
	}
	if (rc != -ENOENT) {
		SG_LOG(MAIN, ERR, "session store: systemd credential %s: %s", STORE_CREDENTIAL,
		       strerror(-rc));
		return rc;
	}
	rc = sg_store_key_file(key_file, key);
	if (rc != 0)
		SG_LOG(MAIN, ERR, "session store: key file %s: %s%s", key_file, strerror(-rc),
		       rc == -EPERM ? " (it must be mode 0600 and the daemon's own)" : "");
	return rc;
}

/*
 * Open the store at path. One the backend cannot read at all (not a store,
 * both meta pages torn, a data file cut short: its records cannot be read
 * without the risk of a fault) is moved aside whole and a new one made:
 * the daemon starts, those devices handshake again, the damaged copy stays
 * for a look. Damage inside records is the restore's to count, one by one.
 */
static struct sg_store *store_env(const struct sg_config *cfg, const char *path,
                                  const struct sg_store_key *key)
{
	struct sg_store_params sp = { .path = path, .map_size = cfg->store.map_size };
	struct sg_store *st = sg_store_open(NULL, &sp, key);
	char aside[SG_CFG_STR_MAX + 32];

	/* EBADMSG: not a store LMDB reads; EUCLEAN: shorter than its pages (a lost tail). */
	if (st != NULL || (errno != EBADMSG && errno != EUCLEAN))
		return st;
	snprintf(aside, sizeof(aside), "%s.damaged.%lld", path, (long long)time(NULL));
	if (rename(path, aside) != 0) {
		SG_LOG(MAIN, ERR, "session store %s is damaged and could not be moved aside: %s",
		       path, strerror(errno));
		errno = EUCLEAN;
		return NULL;
	}
	SG_LOG(MAIN, ERR,
	       "session store %s is damaged: moved to %s; starting with an empty store (every "
	       "device handshakes again)",
	       path, aside);
	return sg_store_open(NULL, &sp, key);
}

/* One meta value of exactly len bytes: true when it is there (refusals are logged). */
static bool meta_exact(struct sg_gateway *gw, const char *name, uint8_t *buf, size_t len)
{
	int n = sg_store_meta_get(gw->store.st, name, buf, len);

	if (n == (int)len)
		return true;
	if (n != -ENOENT)
		SG_LOG(MAIN, WARNING, "session store: meta %s refused (%s): not used", name,
		       n < 0 ? strerror(-n) : "wrong size");
	return false;
}

/* The stored live overrides over the file's policy, each logged; kept for management. */
static void policy_load(struct sg_gateway *gw)
{
	struct gw_store *gs = &gw->store;
	char *text = malloc(STORE_POLICY_MAX + 1), msg[256];
	int n = text ? sg_store_meta_get(gs->st, "policy", (uint8_t *)text, STORE_POLICY_MAX)
	             : -ENOMEM;

	if (n <= 0) {
		if (n != -ENOENT && n != 0)
			SG_LOG(MAIN, WARNING, "session store: stored policy overrides refused: %s",
			       strerror(-n));
		free(text);
		return;
	}
	text[n] = '\0';
	if (sg_config_apply_overrides(&gw->cfg, text, (size_t)n, msg, sizeof(msg)) < 0) {
		SG_LOG(MAIN, WARNING,
		       "session store: stored policy overrides ignored, the file's policy runs: %s",
		       msg);
		free(text);
		return;
	}
	for (char *line = text, *end; *line != '\0'; line = end + (*end != '\0')) {
		end = line + strcspn(line, "\n");
		if (end > line)
			SG_LOG(MAIN, NOTICE,
			       "policy: stored override %.*s wins over the config file (`stormctl "
			       "policy reset` drops it)",
			       (int)(end - line), line);
	}
	gs->policy = text;
	gs->policy_len = (size_t)n;
}

/* The meta the table and the restore need. */
static void meta_load(struct sg_gateway *gw)
{
	struct gw_store *gs = &gw->store;
	uint8_t b[8];

	gs->have_cid_key = meta_exact(gw, "cid_key", gs->cid_key, sizeof(gs->cid_key));
	gs->prev_step = gw->cfg.store.seq_step;
	gs->prev_margin = gw->cfg.store.seq_margin;
	if (meta_exact(gw, "floors", b, sizeof(b))) {
		gs->prev_step = sg_load_be32(b);
		gs->prev_margin = sg_load_be32(b + 4);
	}
	gs->clean = sg_store_meta_get(gs->st, "clean", b, sizeof(b)) >= 0;
	policy_load(gw);
}

/*
 * This run's floors (meta `floors`: seq_step, margin). After a crash the
 * restored sessions' records still hold the old floors until their next
 * post: a second crash before it must leap past this run's leap too, so the
 * margin carries the last leap on (saturating) after every start that was
 * not clean, until a clean stop writes exact state again.
 */
static int floors_store(struct sg_gateway *gw)
{
	const struct gw_store *gs = &gw->store;
	uint64_t margin = gw->cfg.store.seq_margin;
	uint8_t b[8];

	if (!gs->clean)
		margin += (uint64_t)gs->prev_step + gs->prev_margin;
	sg_store_be32(b, gw->cfg.store.seq_step);
	sg_store_be32(b + 4, (uint32_t)RTE_MIN(margin, (uint64_t)UINT32_MAX));
	return sg_store_meta_put(gs->st, "floors", b, sizeof(b));
}

/*
 * What must be durable before a worker seals a record, done at once at
 * open: the clean marker gone (from now on a stop without a save is a
 * crash, whose restore leaps the write sequences; the restore still knows
 * this start was clean) and this run's floors. 0 or -errno.
 */
static int start_marks(struct sg_gateway *gw)
{
	struct gw_store *gs = &gw->store;
	int rc = gs->clean ? sg_store_meta_del(gs->st, "clean") : 0;

	if (rc == 0 || rc == -ENOENT)
		rc = floors_store(gw);
	if (rc == 0)
		rc = sg_store_commit(gs->st);
	return rc;
}

int gw_store_open(struct sg_gateway *gw)
{
	const struct sg_config *cfg = &gw->cfg;
	struct gw_store *gs = &gw->store;
	char key_file[SG_CFG_STR_MAX];
	struct sg_store_key key;
	int rc;

	if (!cfg->store.enabled) {
		SG_LOG(MAIN, NOTICE,
		       "session store off (store.enabled: false): a restart loses "
		       "every session");
		return 0;
	}
	rc = sg_config_store_paths(cfg, gs->path, sizeof(gs->path), key_file, sizeof(key_file));
	if (rc != 0) {
		SG_LOG(MAIN, ERR, "session store: path: %s", strerror(-rc));
		return rc;
	}
	rc = store_key(key_file, &key);
	if (rc != 0)
		return rc;
	gs->st = store_env(cfg, gs->path, &key);
	sg_store_key_wipe(&key);
	if (gs->st == NULL) {
		rc = -errno;
		SG_LOG(MAIN, ERR, "session store %s: %s", gs->path, strerror(errno));
		return rc;
	}
	gs->commit_ns = (uint64_t)cfg->store.commit_interval * 1000000;
	meta_load(gw);
	rc = start_marks(gw);
	if (rc != 0) {
		/*
		 * Running on would let a later start take stale floors for exact
		 * ones and seal under a (key, nonce) pair twice: refuse to start.
		 */
		SG_LOG(MAIN, ERR,
		       "session store %s: cannot record the start (%s); not starting (move the "
		       "store away to start without it)",
		       gs->path, strerror(-rc));
		return rc;
	}
	SG_LOG(MAIN, INFO, "session store %s (%s): last stop %s", gs->path,
	       sg_store_backend(gs->st),
	       gs->clean ? "clean" : "not clean (a crash or first start)");
	return 0;
}

/* sg_store_spawn_fn: the writer as a DPDK control thread (the control-thread CPU set). */
static int spawn_ctrl(pthread_t *thread, const char *name, void *(*fn)(void *), void *arg,
                      void *spawn_arg)
{
	int rc = rte_ctrl_thread_create(thread, name, NULL, fn, arg);

	(void)spawn_arg;
	return rc < 0 ? rc : -rc;
}

int gw_store_writer_start(struct sg_gateway *gw)
{
	struct gw_store *gs = &gw->store;
	struct sg_store_writer_params wp = {
		.queue_max = gw->cfg.store.queue_max,
		.spawn = spawn_ctrl,
	};
	int rc;

	if (gs->st == NULL)
		return 0;
	rc = sg_store_writer_start(gs->st, &wp);
	if (rc != 0) {
		/* The gateway thread goes on writing itself, as before the writer. */
		gw_store_error(gw, "writer thread start", 0, rc);
		return rc;
	}
	gs->group_writes = 0;
	gs->group_ns = 0;
	SG_LOG(MAIN, INFO,
	       "session store: writer thread sg-store runs (queue bound %" PRIu64 " bytes)",
	       gw->cfg.store.queue_max);
	return 0;
}

void gw_store_secrets(struct sg_gateway *gw)
{
	struct gw_store *gs = &gw->store;
	uint8_t b[STORE_SECRETS_MAX];
	int n = sg_hs_secrets_ticket_export(gw->hs.secrets, b, sizeof(b));
	int rc = n > 0 ? sg_store_meta_put(gs->st, "ticket_keys", b, (size_t)n) : n;

	if (rc == 0) {
		n = sg_hs_secrets_cookie_export(gw->hs.secrets, b, sizeof(b));
		rc = n > 0 ? sg_store_meta_put(gs->st, "cookie_secrets", b, (size_t)n) : n;
	}
	sg_wipe(b, sizeof(b));
	gs->secrets_gen = sg_hs_secrets_gen(gw->hs.secrets);
	if (rc != 0)
		gw_store_error(gw, "handshake secrets", 0, rc);
	else
		group_wrote(gs);
}

/* Make the open group durable. 0 or -errno (counted and logged). */
static int store_commit(struct sg_gateway *gw)
{
	struct gw_store *gs = &gw->store;
	int rc = sg_store_commit(gs->st);

	if (rc != 0)
		gw_store_error(gw, "commit", 0, rc);
	gs->group_writes = 0;
	gs->group_ns = 0;
	return rc;
}

/*
 * Session id as the store keeps it: the table's copy and current SA, its
 * identity, auth kind and credential tag from the identity index, its
 * backend binding (udp: the source port; proxy: the token). A PSK or raw
 * public key session keeps its tag (the restore checks its key by it); a
 * certificate's and an anonymous client's have none (their check needs
 * none). -ENODATA: not indexed, a PSK or raw public key session without a
 * tag, or no backend side: nothing to keep. 0 or -errno; rec wiped on error.
 */
static int rec_of(struct sg_gateway *gw, uint64_t id, struct sg_store_rec *rec)
{
	struct gw_store *gs = &gw->store;
	struct sg_sess_table *t = gw->ports.sessions;
	const uint8_t *ident, *tag;
	struct sg_sess_info in;
	size_t len = 0;
	uint8_t auth;
	int rc;

	if (gs->sa == NULL) {
		gs->window = sg_sess_replay_window(t);
		/* any suite's: sg_sess_get_sa() copies a CBC SA's MAC line too */
		gs->sa = aligned_alloc(SG_CACHE_LINE, RTE_ALIGN_CEIL(sg_rec_sa_size_max(gs->window),
		                                                     SG_CACHE_LINE));
		if (gs->sa == NULL)
			return -ENOMEM;
	}
	rc = sg_sess_get(t, id, &in);
	if (rc != 0)
		return rc;
	ident = sg_sessreg_identity(gw->end.reg, id, &len);
	tag = sg_sessreg_tag(gw->end.reg, id);
	auth = sg_sessreg_auth(gw->end.reg, id);
	if (ident == NULL || len > sizeof(rec->identity) ||
	    (tag == NULL && (auth == SG_HS_AUTH_PSK || auth == SG_HS_AUTH_RPK)))
		return -ENODATA;
	rc = sg_sess_get_sa(t, id, gs->sa);
	if (rc != 0)
		return rc;
	memset(rec, 0, sizeof(*rec));
	sg_store_rec_from_session(rec, &in, gs->sa);
	sg_rec_sa_wipe(gs->sa, gs->window);
	rec->auth = auth;
	rec->identity_len = (uint8_t)len;
	memcpy(rec->identity, ident, len);
	if (auth == SG_HS_AUTH_PSK || auth == SG_HS_AUTH_RPK)
		memcpy(rec->cred_tag, tag, sizeof(rec->cred_tag));
	rec->flags |= sg_sessreg_store_flags(gw->end.reg, id); /* EMS: the table does not keep it */
	/*
	 * No backend side (an install that failed half way): nothing a restore
	 * could give back (proxy mode would get an all-zero token), not kept.
	 */
	rc = sg_dp_session_backend(gw->ports.dp, id, &rec->backend, rec->token);
	if (rc == -ENOENT)
		rc = -ENODATA;
	if (rc != 0)
		sg_store_rec_wipe(rec);
	return rc;
}

/* Put session id into the open group. 0, -ENODATA (nothing to keep) or -errno (counted). */
static int store_put(struct sg_gateway *gw, uint64_t id, const char *what)
{
	struct gw_store *gs = &gw->store;
	struct sg_store_rec rec;
	int rc = rec_of(gw, id, &rec);

	if (rc == 0) {
		rc = sg_store_put(gs->st, (uint32_t)id, &rec);
		sg_store_rec_wipe(&rec);
	}
	if (rc == 0)
		group_wrote(gs);
	else if (rc != -ENODATA && rc != -ENOENT)
		gw_store_error(gw, what, id, rc);
	return rc;
}

void gw_store_put(struct sg_gateway *gw, uint64_t id)
{
	if (gw->store.st != NULL && store_put(gw, id, "put") == 0)
		gw->store.puts++;
}

void gw_store_del(struct sg_gateway *gw, uint64_t id)
{
	struct gw_store *gs = &gw->store;
	int rc;

	if (gs->st == NULL)
		return;
	rc = sg_store_del(gs->st, (uint32_t)id);
	if (rc == 0) {
		gs->dels++;
		group_wrote(gs);
	} else if (rc != -ENOENT) {
		gw_store_error(gw, "delete", id, rc);
	}
}

/*
 * A worker's floors (struct sg_dp_floor, host order). The record takes the
 * session's current SA, at or past the floor posted: the workers went on
 * since. A session that ended since (its id's generation moved on) is
 * skipped by the table's lookup.
 */
void gw_store_floors(struct sg_gateway *gw, const struct sg_dp_floor *f, unsigned n)
{
	struct gw_store *gs = &gw->store;

	if (gs->st == NULL)
		return;
	for (unsigned i = 0; i < n; i++)
		if (store_put(gw, f[i].session, "floor") == 0)
			gs->floors++;
}

void gw_store_poll(struct sg_gateway *gw, uint64_t now_ns)
{
	struct gw_store *gs = &gw->store;

	if (gs->st == NULL)
		return;
	if (sg_hs_secrets_gen(gw->hs.secrets) != gs->secrets_gen)
		gw_store_secrets(gw);
	if (gs->group_writes > 0 &&
	    (now_ns - gs->group_ns >= gs->commit_ns || gs->group_writes >= STORE_GROUP_MAX))
		store_commit(gw);
}

void gw_store_close(struct sg_gateway *gw)
{
	struct gw_store *gs = &gw->store;

	/*
	 * What was written is each session's real state when written: durable
	 * now, the next start decides between exact (the clean marker) and the
	 * crash path.
	 */
	if (gs->st != NULL && gs->group_writes > 0)
		store_commit(gw);
	sg_store_close(gs->st);
	gs->st = NULL;
	if (gs->sa != NULL) {
		sg_rec_sa_wipe(gs->sa, gs->window);
		free(gs->sa);
		gs->sa = NULL;
	}
	sg_wipe(gs->cid_key, sizeof(gs->cid_key));
	free(gs->policy);
	gs->policy = NULL;
}

/* Every session with its exact state (the workers stopped). Returns how many were put. */
static uint64_t save_sessions(struct sg_gateway *gw, uint64_t *failed)
{
	struct gw_store *gs = &gw->store;
	struct sg_sess_info in;
	uint64_t cursor = 0, n = 0;

	*failed = 0;
	while (sg_sess_next(gw->ports.sessions, &cursor, &in) == 0) {
		int rc = store_put(gw, in.id, "save");

		n += rc == 0;
		*failed += rc != 0 && rc != -ENODATA;
		if (gs->group_writes >= STORE_GROUP_MAX && store_commit(gw) != 0)
			(*failed)++;
	}
	return n;
}

int sg_gateway_save(struct sg_gateway *gw)
{
	struct gw_store *gs = &gw->store;
	uint64_t t0 = sg_mono_ns(), failed = 0, n;
	uint8_t mark[8];
	int rc = 0;

	if (gs->st == NULL || gs->save_done)
		return 0;
	n = save_sessions(gw, &failed);
	/* The marker says the floors are exact: only when every session was written. */
	sg_store_be64(mark, (uint64_t)time(NULL));
	if (failed == 0)
		rc = sg_store_meta_put(gs->st, "clean", mark, sizeof(mark));
	if (rc == 0)
		rc = store_commit(gw);
	/* The workers are stopped: this thread may wait for the writer's last commit. */
	if (rc == 0) {
		rc = sg_store_flush(gs->st, STORE_SAVE_FLUSH_MS);
		if (rc != 0)
			gw_store_error(gw, "save's commit", 0, rc);
	}
	gs->saved = n;
	gs->save_ms = (sg_mono_ns() - t0) / 1000000;
	gs->save_done = true;
	if (failed != 0 || rc != 0) {
		SG_LOG(MAIN, ERR,
		       "session store: saved %" PRIu64 " sessions, %" PRIu64
		       " failed%s%s: the next "
		       "start takes the crash path",
		       n, failed, rc ? ": " : "", rc ? strerror(-rc) : "");
		return rc ? rc : -EIO;
	}
	SG_LOG(MAIN, NOTICE, "saved %" PRIu64 " sessions in %.3f s", n,
	       (double)(sg_mono_ns() - t0) / 1e9);
	return 0;
}

/* ---- management's seam ---- */

void sg_gateway_store_info(struct sg_gateway *gw, struct sg_gw_store_info *out)
{
	const struct gw_store *gs = &gw->store;
	struct sg_store_stats s;

	memset(out, 0, sizeof(*out));
	if (gs->st == NULL)
		return;
	sg_store_stats(gs->st, &s);
	out->enabled = 1;
	snprintf(out->backend, sizeof(out->backend), "%s", sg_store_backend(gs->st));
	snprintf(out->path, sizeof(out->path), "%s", gs->path);
	out->records = s.be.records;
	out->pending = s.be.pending;
	out->dropped = s.be.dropped;
	out->lag_ms = s.lag_ms;
	/* the writes lost: refused by the gateway or the queue (errors), lost with a commit */
	out->failed = gs->errors + (s.be.dropped - s.queue_dropped);
	out->commits = s.be.commits;
	out->last_commit_ms = s.be.last_commit;
	out->size_bytes = s.be.size;
	out->puts = gs->puts;
	out->dels = gs->dels;
	out->floors = gs->floors;
	out->restored = gs->restore.restored;
	out->restore_expired = gs->restore.expired;
	out->restore_revoked = gs->restore.revoked;
	out->restore_refused = gs->restore.refused;
	out->restore_ms = gs->restore.ns / 1000000;
	out->saved = gs->saved;
	out->save_ms = gs->save_ms;
	out->save_done = gs->save_done;
	out->commit_interval_ms = gw->cfg.store.commit_interval;
}

int sg_gateway_store_policy(struct sg_gateway *gw, const char *text, size_t len)
{
	struct gw_store *gs = &gw->store;
	char *copy;
	int rc;

	if (gs->st == NULL)
		return -ENOTSUP;
	if (len > STORE_POLICY_MAX)
		return -EMSGSIZE;
	copy = malloc(len + 1);
	if (copy == NULL)
		return -ENOMEM;
	memcpy(copy, text, len);
	copy[len] = '\0';
	rc = len ? sg_store_meta_put(gs->st, "policy", (const uint8_t *)text, len)
	         : sg_store_meta_del(gs->st, "policy");
	if (rc == -ENOENT)
		rc = 0;
	if (rc == 0)
		rc = store_commit(gw); /* a policy change is rare and should survive a crash now */
	else
		gw_store_error(gw, "policy overrides", 0, rc);
	if (rc != 0) {
		free(copy);
		return rc;
	}
	free(gs->policy);
	gs->policy = copy;
	gs->policy_len = len;
	return 0;
}

int sg_gateway_policy_overrides(struct sg_gateway *gw, char *buf, size_t cap)
{
	const struct gw_store *gs = &gw->store;

	if (cap < gs->policy_len + 1)
		return -ENOBUFS;
	if (gs->policy_len > 0)
		memcpy(buf, gs->policy, gs->policy_len);
	buf[gs->policy_len] = '\0';
	return (int)gs->policy_len;
}
