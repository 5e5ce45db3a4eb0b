/* SPDX-License-Identifier: Apache-2.0 */
/*
 * How a session ends, whatever ends it (sessions.kill, key lifetime and
 * idle sweeps, a forgery limit, the device's alert, a new handshake from
 * its address, a revoked credential, a failed install): gw_sess_end(), one
 * order, one set of counters. And the retire path, which finishes each poll
 * what ends and re-keys started and the workers may still see: the
 * close_notify of an ended session, sealed under its last keys once no
 * worker holds them (the table's grace period, checked without waiting), a
 * replaced session's previous keys after policy.rekey_grace, and the table's
 * and the data plane's deferred frees.
 *
 * Why the close_notify waits: the alert must carry the next write sequence
 * number, and the session's owning worker may be sealing records under the
 * same keys until it reports a quiescent state; a sequence number used twice
 * under one key breaks AEAD nonces (RFC 5116 §3.1). So ending takes the
 * session out of every lookup at once and the alert follows a poll or two
 * later: ending 100,000 sessions costs 100,000 deletes and one grace period,
 * not 100,000 grace periods.
 *
 * Gateway thread. Writes struct gw_end and the identity index.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include <rte_byteorder.h>
#include <rte_common.h>
#include <rte_log.h>

#include <stormgate/dtls.h>

#include "gw_priv.h"
#include "sg_alert.h"
#include "sg_log.h"

/* Alerts sealed per poll at most: well inside the data plane's control TX ring (1024). */
#define CLOSING_PER_POLL 256
#define CLOSING_CAP0     1024

/* What each reason does: counted always; logged (level, text) when text is set. */
static const struct {
	bool alert; /* the device gets a close_notify */
	uint32_t level;
	const char *text;
} why_end[GW_END_MAX] = {
	[GW_END_KILLED] = { true, RTE_LOG_INFO, "killed on the control socket" },
	[GW_END_EXPIRED] = { true, RTE_LOG_DEBUG, "key lifetime over" },
	[GW_END_IDLE] = { true, RTE_LOG_DEBUG, "idle" },
	[GW_END_FORGED] = { true, RTE_LOG_NOTICE, "its key reached the forgery limit" },
	[GW_END_DEVICE] = { false, 0, NULL },      /* punt.c logs it with the alert */
	[GW_END_REPLACED] = { false, 0, NULL },    /* counted with the handshakes */
	[GW_END_UNINSTALLED] = { false, 0, NULL }, /* counted as install_failed */
};

int gw_end_create(struct sg_gateway *gw)
{
	struct gw_end *e = &gw->end;
	uint32_t cap = sg_sess_capacity(gw->ports.sessions);
	struct sg_rec_ctx_conf rc = { .window_bits = sg_sess_replay_window(gw->ports.sessions),
		                      .gcm_cache_entries = 4,
		                      .flags = SG_REC_CTX_F_NO_GCM_CACHE | SG_REC_CTX_F_LATENCY };

	e->reg = sg_sessreg_create(cap);
	e->rec = sg_rec_ctx_create(&rc);
	/* any suite's SA: sg_sess_take_held() copies a CBC SA's MAC line too */
	e->last_sa = aligned_alloc(SG_CACHE_LINE, sg_rec_sa_size_max(rc.window_bits));
	e->closing_cap = CLOSING_CAP0;
	e->closing = calloc(e->closing_cap, sizeof(*e->closing));
	/* Half the table's spare SAs may wait out rekey_grace (ports.c). */
	e->retire_cap = gw->ports.sa_reserve / 2;
	e->retire = calloc(RTE_MAX(e->retire_cap, 1u), sizeof(*e->retire));
	if (e->reg == NULL || e->rec == NULL || e->last_sa == NULL || e->closing == NULL ||
	    e->retire == NULL) {
		SG_LOG(MAIN, ERR, "management state for %u sessions: out of memory", cap);
		return -ENOMEM;
	}
	return 0;
}

void gw_end_destroy(struct sg_gateway *gw)
{
	struct gw_end *e = &gw->end;

	/* The workers are gone: every hold is due; the devices are told nothing now. */
	for (; e->closing_len > 0; e->closing_len--) {
		sg_sess_take_held(gw->ports.sessions, &e->closing[e->closing_head].held, NULL);
		e->closing_head = (e->closing_head + 1) % e->closing_cap;
	}
	free(e->closing);
	free(e->retire);
	sg_sessreg_destroy(e->reg);
	sg_rec_ctx_free(e->rec);
	if (e->last_sa != NULL)
		sg_rec_sa_wipe(e->last_sa, sg_sess_replay_window(gw->ports.sessions));
	free(e->last_sa);
	memset(e, 0, sizeof(*e));
}

void gw_sess_track(struct sg_gateway *gw, uint64_t id, const uint8_t *identity, size_t len,
                   const uint8_t *tag, uint8_t store_flags)
{
	struct gw_end *e = &gw->end;

	if (sg_sessreg_add(e->reg, id, identity, len) != 0 ||
	    (tag != NULL && sg_sessreg_set_tag(e->reg, id, tag) != 0) ||
	    sg_sessreg_set_store_flags(e->reg, id, store_flags) != 0)
		SG_LOG(CTL, WARNING, "session %" PRIx64 ": not indexed by identity (out of memory)",
		       id);
}

void gw_sess_forget(struct sg_gateway *gw, uint64_t id)
{
	sg_sessreg_del(gw->end.reg, id);
}

/* Room for one more closing session: the FIFO doubles when full. 0 or -ENOMEM. */
static int closing_room(struct gw_end *e)
{
	uint32_t cap = e->closing_cap * 2;
	struct gw_closing *c;

	if (e->closing_len < e->closing_cap)
		return 0;
	c = malloc(sizeof(*c) * cap);
	if (c == NULL)
		return -ENOMEM;
	for (uint32_t i = 0; i < e->closing_len; i++)
		c[i] = e->closing[(e->closing_head + i) % e->closing_cap];
	free(e->closing);
	e->closing = c;
	e->closing_cap = cap;
	e->closing_head = 0;
	return 0;
}

/*
 * Take id out of the table, its current SA held for the alert when held is
 * set. Never waits: when the workers lag, the table's deferred frees grow
 * (SG_SESS_P_DEFER_GROW, counted in reclaim_deferred); only out of memory
 * refuses (-EAGAIN) and then nothing changed: the session lives on and the
 * sweeps, or the operator, end it later.
 */
static int table_delete(struct sg_gateway *gw, uint64_t id, struct sg_sess_held *held)
{
	struct sg_sess_table *t = gw->ports.sessions;

	return held ? sg_sess_delete_hold(t, id, held) : sg_sess_delete(t, id);
}

int gw_sess_end(struct sg_gateway *gw, uint64_t id, enum gw_end_why why, bool *alert)
{
	struct gw_end *e = &gw->end;
	struct gw_closing *c = NULL;
	struct sg_sess_info in;
	int rc;

	if (why_end[why].alert) {
		if (sg_sess_get(gw->ports.sessions, id, &in) != 0)
			return -ENOENT;
		if (closing_room(e) == 0)
			c = &e->closing[(e->closing_head + e->closing_len) % e->closing_cap];
		else
			SG_LOG(CTL, ERR, "session %016" PRIx64 ": out of memory for its alert", id);
	}
	/*
	 * Out of the table first: if the table refuses, nothing has changed;
	 * lookups stop at once and records already looked up finish with the
	 * backend side they found, which is freed after the same grace period.
	 */
	rc = table_delete(gw, id, c != NULL ? &c->held : NULL);
	if (rc != 0)
		return rc;
	rc = sg_dp_session_detach(gw->ports.dp, id);
	if (rc != 0 && rc != -ENOENT)
		SG_LOG(CTL, WARNING,
		       "session %016" PRIx64 ": backend side kept until its slot's next use: %s",
		       id, strerror(-rc));
	sg_sessreg_del(e->reg, id);
	gw_store_del(gw, id);
	e->ended[why]++;
	if (c != NULL) {
		c->id = id;
		c->tuple = in.tuple;
		c->peer_cid_len = in.peer_cid_len;
		memcpy(c->peer_cid, in.peer_cid, in.peer_cid_len);
		e->closing_len++;
	}
	if (alert != NULL)
		*alert = c != NULL;
	if (why_end[why].text != NULL)
		SG_LOG_AT(CTL, why_end[why].level, "session %016" PRIx64 ": %s", id,
		          why_end[why].text);
	return 0;
}

size_t gw_sess_end_identity(struct sg_gateway *gw, const uint8_t *identity, size_t len, size_t max,
                            enum gw_end_why why, struct sg_gw_ended *out, unsigned *alerts,
                            size_t *left)
{
	uint64_t ids[256];
	size_t done = 0, n;
	bool alert;

	while (done < max) {
		size_t want = RTE_MIN(max - done, RTE_DIM(ids));

		n = sg_sessreg_find(gw->end.reg, identity, len, ids, want);
		if (n == 0)
			break;
		for (size_t i = 0; i < n && i < want; i++) {
			/* Ended or replaced since (not out of the index yet): forget it. */
			if (gw_sess_end(gw, ids[i], why, &alert) != 0) {
				sg_sessreg_del(gw->end.reg, ids[i]);
				continue;
			}
			if (out != NULL)
				out[done] = (struct sg_gw_ended){ .id = ids[i], .alert = alert };
			if (alerts != NULL)
				*alerts += alert;
			done++;
		}
	}
	*left = sg_sessreg_find(gw->end.reg, identity, len, NULL, 0);
	return done;
}

/* The close_notify of c, sealed under its last SA (in e->last_sa), out through port 0. */
static int send_close(struct sg_gateway *gw, const struct gw_closing *c)
{
	uint8_t buf[SG_ALERT_BUF_LEN];
	const struct sg_sess_tuple *t = &c->tuple;
	uint32_t off, len;
	int rc;

	rc = sg_alert_seal(gw->end.rec, gw->end.last_sa, c->peer_cid, c->peer_cid_len,
	                   SG_TLS_ALERT_WARNING, SG_TLS_ALERT_CLOSE_NOTIFY, buf, sizeof(buf), &off,
	                   &len);
	if (rc == 0)
		rc = sg_dp_ctl_send_mapped(gw->ports.dp, NULL, 0, t->laddr, t->lport, t->paddr,
		                           t->pport, buf + off, (uint16_t)len);
	return rc;
}

/*
 * The close_notify of ended sessions whose grace period has passed, oldest
 * first (their holds come due in that order), at most CLOSING_PER_POLL.
 */
static void closing_poll(struct sg_gateway *gw)
{
	struct gw_end *e = &gw->end;
	unsigned window = sg_sess_replay_window(gw->ports.sessions);

	for (unsigned n = 0; e->closing_len > 0 && n < CLOSING_PER_POLL; n++) {
		const struct gw_closing *c = &e->closing[e->closing_head];
		int rc = sg_sess_take_held(gw->ports.sessions, &c->held, e->last_sa);

		if (rc == -EAGAIN || rc == -EBUSY)
			break; /* a worker may still use its keys: next poll */
		if (rc == 0) {
			rc = send_close(gw, c);
			sg_rec_sa_wipe(e->last_sa, window);
		}
		if (rc == 0)
			e->alerts_sent++;
		else
			SG_LOG(CTL, NOTICE,
			       "session %016" PRIx64 " ended; its close_notify not sent: %s", c->id,
			       strerror(-rc));
		e->closing_head = (e->closing_head + 1) % e->closing_cap;
		e->closing_len--;
	}
}

void gw_retire_later(struct sg_gateway *gw, uint64_t id)
{
	struct gw_end *e = &gw->end;
	uint64_t grace_ns = gw->cfg.policy.rekey_grace * SG_NS_PER_SEC;
	struct gw_retire *r;

	if (grace_ns == 0 || e->retire_cap == 0) {
		sg_sess_retire_prev(gw->ports.sessions, id);
		return;
	}
	if (e->retire_len == e->retire_cap) {
		/* A storm of re-handshakes: the oldest gets a shorter grace. */
		r = &e->retire[e->retire_head];
		sg_sess_retire_prev(gw->ports.sessions, r->id);
		e->retire_head = (e->retire_head + 1) % e->retire_cap;
		e->retire_len--;
		e->retired_early++;
	}
	r = &e->retire[(e->retire_head + e->retire_len) % e->retire_cap];
	r->id = id;
	r->at_ns = sg_mono_ns() + grace_ns;
	e->retire_len++;
}

/* Previous SAs whose rekey_grace is over stop being accepted. */
static void retire_due(struct sg_gateway *gw, uint64_t now)
{
	struct gw_end *e = &gw->end;

	while (e->retire_len > 0) {
		const struct gw_retire *r = &e->retire[e->retire_head];
		int rc;

		if (r->at_ns > now)
			break;
		rc = sg_sess_retire_prev(gw->ports.sessions, r->id);
		if (rc == -EAGAIN || rc == -EBUSY)
			break; /* the table is busy: next poll */
		e->retire_head = (e->retire_head + 1) % e->retire_cap;
		e->retire_len--;
	}
}

void gw_retire_poll(struct sg_gateway *gw, uint64_t now_ns)
{
	closing_poll(gw);
	retire_due(gw, now_ns);
	sg_sess_reclaim(gw->ports.sessions, 0);
	sg_dp_ctl_reclaim(gw->ports.dp);
}

int sg_gateway_end_session(struct sg_gateway *gw, uint64_t id, bool *alert)
{
	return gw_sess_end(gw, id, GW_END_KILLED, alert);
}

size_t sg_gateway_end_identity(struct sg_gateway *gw, const uint8_t *identity, size_t len,
                               size_t max, struct sg_gw_ended *out, size_t *left)
{
	return gw_sess_end_identity(gw, identity, len, max, GW_END_KILLED, out, NULL, left);
}
