/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The restore at start (docs/restart.md), before the workers: every stored
 * session back in its old slot with its old CID (sg_store_restore()), but
 * only while its credential still holds as the install guard would judge it
 * (gw_cred_holds(): a PSK's or raw public key's key still there, enabled
 * and the same, a certificate identity's policy not disabled, anonymous
 * clients still allowed; a revocation while the daemon was down stays a
 * revocation); each restored session's backend binding (udp: its source
 * port, so the application's state for the device survives; proxy: its
 * token and auth kind) and identity index with its auth kind; then
 * the meta the next start needs: the CID key, this run's floors, the clean
 * marker gone, the handshake engine's ticket keys and cookie secrets.
 *
 * Gateway thread (the main lcore, in sg_gateway_start()). Writes the
 * restore fields of struct gw_store; inserts through the store's restore
 * driver; reads the credential store.
 */
#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <string.h>
#include <time.h>

#include <rte_common.h>

#include <stormgate/bytes.h>
#include <stormgate/common.h>

#include "gw_priv.h"
#include "sg_cred.h"
#include "sg_log.h"
#include "sg_rss.h"

#define PROGRESS_NS (UINT64_C(1000000000)) /* a progress line at most once a second */
#define DAMAGED_LOG 16                     /* damaged records logged one by one, at most */
#define SECRETS_MAX SG_HS_TICKET_KEYS_LEN  /* the larger of the engine's two exports */

static_assert(SG_HS_COOKIE_SECRETS_LEN <= SECRETS_MAX, "one buffer holds either export");

struct restore_ctx {
	struct sg_gateway *gw;
	uint64_t t0_ns; /* the restore began */
	uint64_t next_log_ns;
	uint64_t damaged; /* records damaged() was told of */
	/* check()'s lookups in one read transaction (NULL: one sg_cred_get() each) */
	struct sg_cred_reader *creds;
	struct sg_gw_rss rss; /* the device port's RSS, when owner() uses it */
};

/*
 * check(): the record's credential as it is now, by the rule the install
 * guard applies (gw_cred_holds()): gone, disabled, another key, or a kind
 * of client no longer allowed: not restored (counted revoked, deleted).
 */
static int restore_check(void *arg, const struct sg_store_rec *rec)
{
	struct restore_ctx *c = arg;

	return gw_cred_holds(c->gw, c->creds, rec->auth, rec->identity, rec->identity_len,
	                     rec->cred_tag);
}

/* restored(): session id is in the table; its backend side and identity index follow. */
static int restore_attach(void *arg, uint64_t id, const struct sg_store_rec *rec)
{
	struct restore_ctx *c = arg;
	struct sg_gateway *gw = c->gw;
	bool proxy = gw->cfg.backend.mode == SG_BACKEND_PROXY;
	const uint8_t *token = proxy ? rec->token : NULL;
	bool tagged = rec->auth == SG_HS_AUTH_PSK || rec->auth == SG_HS_AUTH_RPK;
	/* the kind goes on in the PROXY v2 TLV (enum sg_hs_auth and sg_pp2_auth agree) */
	int rc = sg_dp_session_restore_as(gw->ports.dp, id, rec->auth, rec->identity,
	                                  rec->identity_len, token, rec->backend);

	/* The backend configuration changed across the restart: a fresh binding. */
	if (rc == -EINVAL)
		rc = sg_dp_session_attach_as(gw->ports.dp, id, rec->auth, rec->identity,
		                             rec->identity_len, token);
	if (rc != 0)
		return rc;
	rc = sg_sessreg_add(gw->end.reg, id, rec->identity, rec->identity_len);
	if (rc == 0 && tagged)
		rc = sg_sessreg_set_tag(gw->end.reg, id, rec->cred_tag);
	if (rc == 0)
		rc = sg_sessreg_set_store_flags(gw->end.reg, id, rec->flags & SG_STORE_F_EMS);
	if (rc == 0) /* `stormctl sessions` says how it authenticated */
		rc = sg_sessreg_set_auth(gw->end.reg, id, rec->auth);
	if (rc != 0) {
		sg_sessreg_del(gw->end.reg, id);
		sg_dp_session_detach(gw->ports.dp, id);
	}
	return rc;
}

static void restore_progress(void *arg, uint64_t seen, uint64_t restored)
{
	struct restore_ctx *c = arg;
	uint64_t now = sg_mono_ns();

	if (now < c->next_log_ns)
		return;
	c->next_log_ns = now + PROGRESS_NS;
	SG_LOG(MAIN, NOTICE, "restoring sessions: %" PRIu64 " records read, %" PRIu64 " back", seen,
	       restored);
	gw_status_restore(c->gw, seen, restored, now - c->t0_ns, false);
}

/* damaged(): a record that will never verify, logged with its slot before it is deleted. */
static void restore_damaged(void *arg, uint32_t slot, int err)
{
	struct restore_ctx *c = arg;

	if (c->damaged++ < DAMAGED_LOG)
		SG_LOG(MAIN, WARNING,
		       "session store: slot %" PRIu32 ": record refused (%s): deleted", slot,
		       sg_store_bad_name(sg_store_bad_of(err)));
}

/* owner(): the worker polling the RX queue the device port's RSS gives the session. */
static uint16_t restore_owner(void *arg, const struct sg_sess_tuple *tu)
{
	const struct restore_ctx *c = arg;

	return sg_gw_rss_queue(&c->rss, tu); /* worker w polls queue w */
}

/*
 * The device port's RSS into c->rss when a restored session's owner can be
 * the queue the NIC picks: several workers, one device port, RSS on it.
 */
static bool rss_owner(struct sg_gateway *gw, struct restore_ctx *c)
{
	const struct gw_port *dev = NULL;
	int rc;

	if (gw->ports.n_workers < 2)
		return false;
	for (unsigned i = 0; i < gw->ports.n_ports; i++) {
		if (gw->ports.port[i].cfg->role != SG_PORT_DEVICE)
			continue;
		if (dev != NULL)
			return false; /* which port a device reaches: not known here */
		dev = &gw->ports.port[i];
	}
	if (dev == NULL || dev->nb_rxq < 2)
		return false;
	rc = sg_gw_rss_load(dev->port_id, &c->rss);
	if (rc != 0)
		SG_LOG(MAIN, INFO,
		       "port %s: RSS not readable (%s): restored sessions' owners by a hash, "
		       "handed off until they handshake again",
		       dev->cfg->name, strerror(-rc));
	return rc == 0;
}

/* Every stored session back into the table; the result in gw->store.restore. */
static void restore_sessions(struct sg_gateway *gw)
{
	struct gw_store *gs = &gw->store;
	struct restore_ctx c = { .gw = gw, .t0_ns = sg_mono_ns() };
	struct sg_store_restore_params p = {
		.now = (uint64_t)time(NULL),
		.seq_step = gs->prev_step,
		.seq_margin = gs->prev_margin,
		.exact = gs->clean,
		.strict = gw->cfg.store.replay_strict,
		.n_workers = gw->ports.n_workers,
		.check = restore_check,
		.restored = restore_attach,
		.progress = restore_progress,
		.damaged = restore_damaged,
		.arg = &c,
	};
	struct sg_store_restore_result *r = &gs->restore;
	int rc;

	c.next_log_ns = c.t0_ns + PROGRESS_NS;
	if (rss_owner(gw, &c))
		p.owner = restore_owner;
	/* Nothing imports while the restore runs (management starts after it). */
	if (gw->cred != NULL)
		c.creds = sg_cred_reader_begin(gw->cred, 0);
	rc = sg_store_restore(gs->st, gw->ports.sessions, &p, r);
	sg_cred_reader_end(c.creds);
	if (rc != 0)
		gw_store_error(gw, "restore", 0, rc);
	gw_status_restore(gw, r->seen, r->restored, r->ns, true);
	if (c.damaged > DAMAGED_LOG)
		SG_LOG(MAIN, WARNING, "session store: %" PRIu64 " more damaged records deleted",
		       c.damaged - DAMAGED_LOG);
	if (r->deleted > 0 || r->kept > 0)
		SG_LOG(MAIN, NOTICE,
		       "session store: %" PRIu64 " records not restored deleted, %" PRIu64
		       " kept (another store key or a newer version)",
		       r->deleted, r->kept);
	SG_LOG(MAIN, NOTICE,
	       "restored %" PRIu64 " sessions in %.3f s (%" PRIu64 " expired, %" PRIu64
	       " revoked, %" PRIu64 " damaged%s%.0" PRIu64 "%s)%s",
	       r->restored, (double)r->ns / 1e9, r->expired, r->revoked, r->refused,
	       r->failed ? ", " : "", r->failed, r->failed ? " failed" : "",
	       r->restored == 0              ? ""
	       : gs->clean                   ? ": exact state of a clean stop"
	       : gw->cfg.store.replay_strict ? ": after a crash, strict replay floors"
	                                     : ": after a crash, write sequences leapt");
}

/* The engines' shared ticket keys and cookie secrets from the store; new ones stay when absent. */
static void secrets_load(struct sg_gateway *gw)
{
	uint8_t b[SECRETS_MAX];
	int n = sg_store_meta_get(gw->store.st, "ticket_keys", b, sizeof(b));

	if (n > 0 && sg_hs_secrets_ticket_import(gw->hs.secrets, b, (size_t)n) != 0)
		n = -EINVAL;
	if (n < 0 && n != -ENOENT)
		SG_LOG(MAIN, WARNING, "session store: stored ticket keys refused (%s): new ones",
		       strerror(-n));
	n = sg_store_meta_get(gw->store.st, "cookie_secrets", b, sizeof(b));
	if (n > 0 && sg_hs_secrets_cookie_import(gw->hs.secrets, b, (size_t)n) != 0)
		n = -EINVAL;
	if (n < 0 && n != -ENOENT)
		SG_LOG(MAIN, WARNING, "session store: stored cookie secrets refused (%s): new ones",
		       strerror(-n));
	sg_wipe(b, sizeof(b));
	gw_store_secrets(gw);
}

int gw_store_restore(struct sg_gateway *gw)
{
	struct gw_store *gs = &gw->store;
	int rc = 0;

	if (gs->st == NULL)
		return 0;
	restore_sessions(gw);
	sg_dp_restore_done(gw->ports.dp);
	if (gs->restore.restored > 0)
		gw_ports_resolve_peers(gw);
	if (!gs->have_cid_key) {
		/* The table made a CID key: kept, so CID devices find their slot after a restart.
		 */
		sg_sess_cid_key(gw->ports.sessions, gs->cid_key);
		rc = sg_store_meta_put(gs->st, "cid_key", gs->cid_key, sizeof(gs->cid_key));
		if (rc != 0)
			gw_store_error(gw, "CID key", 0, rc);
	}
	sg_wipe(gs->cid_key, sizeof(gs->cid_key));
	secrets_load(gw);
	rc = sg_store_commit(gs->st);
	if (rc != 0)
		gw_store_error(gw, "start-up commit", 0, rc);
	gs->group_writes = 0;
	gs->group_ns = 0;
	return 0;
}
