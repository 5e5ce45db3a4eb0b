/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Sessions that end without anyone asking at that moment: their key lifetime
 * is over or they went idle (a sweep over a slice of the table each poll),
 * their receive key reached its forgery limit (a worker's notice), or their
 * credential was replaced or removed (a queue of identities, a bounded number
 * of sessions ended per poll). Each ends through gw_sess_end(). Gateway
 * thread. Writes struct gw_sweep.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <rte_common.h>

#include "gw_priv.h"
#include "sg_log.h"

/*
 * CM13: a session key lives as long as policy (key_lifetime, shortened by
 * jitter per session) says; policy.idle_timeout also ends sessions that had
 * no authenticated record for that long (devices gone without a goodbye).
 * Each poll looks at EXPIRE_SLOTS slots of the table and ends those, so a
 * table of capacity C is swept every C / EXPIRE_SLOTS polls (10M slots: ~20 s
 * at one poll a millisecond) at a bounded cost per poll.
 */
#define EXPIRE_SLOTS 512
#define EXPIRE_MAX   32

/* Sessions of revoked credentials ended per poll: a bounded share of each poll. */
#define REVOKE_PER_POLL 64

static void sweep_lifetimes(struct sg_gateway *gw, uint64_t now_unix)
{
	struct sg_sess_table *t = gw->ports.sessions;
	uint64_t ids[EXPIRE_MAX];
	unsigned n;

	n = sg_sess_expired(t, &gw->sweep.cursor, EXPIRE_SLOTS,
	                    (uint32_t)RTE_MIN(now_unix, (uint64_t)UINT32_MAX),
	                    (uint32_t)RTE_MIN(gw->cfg.policy.idle_timeout, (uint64_t)UINT32_MAX),
	                    ids, EXPIRE_MAX);
	for (unsigned i = 0; i < n; i++) {
		struct sg_sess_info in;

		if (sg_sess_get(t, ids[i], &in) != 0)
			continue;
		/* Its key lifetime ran out, else it was idle. */
		gw_sess_end(gw, ids[i],
		            in.expires != 0 && in.expires <= (uint64_t)time(NULL) ? GW_END_EXPIRED
		                                                                  : GW_END_IDLE,
		            NULL);
	}
}

/* RFC 9147 §4.5.3: a key past its forgery limit opens nothing more; the device re-keys. */
void gw_sweep_forgery_limit(struct sg_gateway *gw, uint64_t id)
{
	gw_sess_end(gw, id, GW_END_FORGED, NULL); /* -ENOENT: an earlier notice ended it */
}

/* Queue identity: its sessions end a few per poll. 0 or -ENOMEM. */
static int revoked_push(struct gw_sweep *s, const uint8_t *identity, size_t len)
{
	if (len == 0 || len > SG_SESSREG_IDENTITY_MAX)
		return 0;
	if (s->revoked_n == s->revoked_cap) {
		uint32_t c = s->revoked_cap ? s->revoked_cap * 2 : 64;
		struct gw_ident *a = realloc(s->revoked, sizeof(*a) * c);

		if (a == NULL)
			return -ENOMEM;
		s->revoked = a;
		s->revoked_cap = c;
	}
	s->revoked[s->revoked_n].len = (uint8_t)len;
	memcpy(s->revoked[s->revoked_n].bytes, identity, len);
	s->revoked_n++;
	return 0;
}

/* End sessions of revoked credentials: at most REVOKE_PER_POLL per call. */
static void sweep_revoked(struct sg_gateway *gw)
{
	struct gw_sweep *s = &gw->sweep;
	size_t budget = REVOKE_PER_POLL;

	while (s->revoked_head < s->revoked_n && budget > 0) {
		const struct gw_ident *e = &s->revoked[s->revoked_head];
		size_t left = 0, n;

		n = gw_sess_end_identity(gw, e->bytes, e->len, budget, GW_END_KILLED, NULL, NULL,
		                         &left);
		s->revoked_ended += n;
		budget -= RTE_MIN(n, budget);
		if (left > 0 && n > 0)
			continue; /* the same identity again, within what is left of the budget */
		s->revoked_head++;
	}
	if (s->revoked_head == s->revoked_n)
		s->revoked_head = s->revoked_n = 0; /* all done: the array starts over */
}

void gw_sweep_poll(struct sg_gateway *gw, uint64_t now_unix)
{
	sweep_lifetimes(gw, now_unix);
	sweep_revoked(gw);
}

void gw_sweep_destroy(struct sg_gateway *gw)
{
	free(gw->sweep.revoked);
	memset(&gw->sweep, 0, sizeof(gw->sweep));
}

size_t sg_gateway_revoke_sessions(struct sg_gateway *gw, const uint8_t *identity, size_t len,
                                  size_t now_max, unsigned *alerts, size_t *left)
{
	size_t n = 0;

	if (now_max > 0) {
		n = gw_sess_end_identity(gw, identity, len, now_max, GW_END_KILLED, NULL, alerts,
		                         left);
		gw->sweep.revoked_ended += n;
	} else {
		*left = sg_sessreg_find(gw->end.reg, identity, len, NULL, 0);
	}
	/* What is left ends in the background (an import's identities: all of it). */
	if (*left > 0 && revoked_push(&gw->sweep, identity, len) != 0)
		SG_LOG(CRED, ERR,
		       "out of memory: the sessions of a replaced credential are not ended");
	return n;
}

void sg_gateway_revoke_handshakes(struct sg_gateway *gw)
{
	/* The engines are on their own threads: the install guard and the engines do it. */
	sg_hsplane_cred_revoked(gw->hs.plane);
}
