/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The sessions' backend side: udp mode's map between session slots and our
 * backend source addresses and ports, proxy mode's identities and tokens.
 * Made and freed with the data plane (main lcore); attach, detach and the
 * queries run on the control thread. Workers read the maps through the
 * inlines of dp_priv.h: a slot's entry is written before its session is
 * published and cleared before the session is deleted.
 *
 * Two udp-mode maps (docs/dataplane.md "Backend source pool"):
 *   - FIFO: a backend port index per attached slot, handed out from a FIFO
 *     of free ones (the longest-unused first), with the session of each
 *     index; for the listed addresses, and for a pool smaller than the table.
 *   - direct: a pool with a port for every slot. The index is the slot and
 *     the low bits of how often the slot was attached, so nothing is stored
 *     per port, a reply's session is found by arithmetic, and a slot's next
 *     session (or identity) answers on another port: a late reply to the one
 *     before is refused, and the servers see another peer.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <rte_rcu_qsbr.h>

#include <stormgate/proxy_v2.h>

#include "dp_priv.h"

/* Attaches of a slot before it takes a port again (direct map): 2^8. */
#define DP_BTAG_SHIFT_MAX 8
/* Identities waiting for a grace period the queue holds before it grows. */
#define DP_IDENT_DEFER 65536

/* A session's proxy-mode identity and token, wiped before it goes back to the heap. */
static void ident_free(struct dp_ident *id)
{
	if (id == NULL)
		return;
	sg_wipe(id, sizeof(*id) + id->len);
	free(id);
}

/*
 * udp mode: the direct map when the pool has a port for every slot, with as
 * many attach-count bits as the ports allow (up to DP_BTAG_SHIFT_MAX, the
 * index within 32 bits); else the FIFO map (the listed addresses, or a pool
 * smaller than the table).
 */
static int udp_maps(struct sg_dp *dp)
{
	const struct sg_dp_conf *cf = &dp->conf;
	uint64_t ports;

	dp->n_baddr = cf->pool_len ? 1ull << ((cf->backend_family == 4 ? 32 : 128) - cf->pool_len)
	                           : cf->n_local;
	ports = dp->n_baddr * cf->ports_per_addr;
	if (cf->pool_len != 0 && ports >= dp->capacity) {
		dp->direct = true;
		while (dp->btag_shift < DP_BTAG_SHIFT_MAX &&
		       ((uint64_t)dp->capacity << (dp->btag_shift + 1)) <= ports &&
		       ((uint64_t)dp->capacity << (dp->btag_shift + 1)) <= UINT32_MAX + 1ull)
			dp->btag_shift++;
		dp->slot_btag = calloc(dp->capacity, sizeof(*dp->slot_btag));
		return dp->slot_btag ? 0 : -ENOMEM;
	}
	dp->slot_bport = calloc(dp->capacity, sizeof(*dp->slot_bport));
	if (dp->slot_bport == NULL)
		return -ENOMEM;
	dp->n_bports = (uint32_t)ports;
	dp->bport_session = calloc(dp->n_bports, sizeof(*dp->bport_session));
	dp->bport_fifo = malloc((size_t)dp->n_bports * sizeof(*dp->bport_fifo));
	if (!dp->bport_session || !dp->bport_fifo)
		return -ENOMEM;
	for (uint32_t i = 0; i < dp->n_bports; i++)
		dp->bport_fifo[i] = i;
	dp->fifo_len = dp->n_bports;
	return 0;
}

int dp_backend_maps(struct sg_dp *dp)
{
	if (dp->conf.backend_mode == SG_DP_BACKEND_UDP)
		return udp_maps(dp);
	dp->slot_ident = calloc(dp->capacity, sizeof(*dp->slot_ident));
	dp->dq_cap = DP_IDENT_DEFER;
	/*
	 * An identity waits after its session ended or re-keyed to another
	 * identity. While one grace period is pending a slot ends at most twice
	 * (it is reused only after its delete's grace period, which comes
	 * before its detach's), and each re-key to another identity holds a
	 * spare SA of the table (the gateway's are capacity / 64, at least 256)
	 * in the same wait: 4 per slot is more than can wait at once.
	 */
	dp->dq_max = 4ull * dp->capacity < DP_IDENT_DEFER   ? DP_IDENT_DEFER
	             : 4ull * dp->capacity > UINT32_MAX / 2 ? UINT32_MAX / 2
	                                                    : 4 * dp->capacity;
	dp->ident_dq = calloc(dp->dq_cap, sizeof(*dp->ident_dq));
	return dp->slot_ident && dp->ident_dq ? 0 : -ENOMEM;
}

void dp_backend_free(struct sg_dp *dp)
{
	if (dp->slot_ident != NULL)
		for (uint32_t s = 0; s < dp->capacity; s++)
			ident_free(dp->slot_ident[s]);
	for (uint32_t i = 0; i < dp->dq_len; i++)
		ident_free(dp->ident_dq[(dp->dq_head + i) % dp->dq_cap].id);
	free(dp->ident_dq);
	free(dp->slot_ident);
	free(dp->slot_bport);
	free(dp->slot_btag);
	free(dp->bport_session);
	free(dp->bport_fifo);
}

/* udp mode: bind slot's session a backend port. 0, -EEXIST, -ENOSPC or -EINVAL. */
static int udp_attach(struct sg_dp *dp, uint32_t slot, uint64_t session)
{
	uint32_t bpi;

	if (dp->fifo_stale)
		sg_dp_restore_done(dp);

	if (dp->direct) {
		uint64_t t = dp->slot_btag[slot];

		if ((t >> 32) != 0)
			return -EEXIST;
		if ((session >> 32) == 0) /* session ids never have generation 0 */
			return -EINVAL;
		/* The next port of the slot's cycle (the attach count lives on while free). */
		t = (session & ~(uint64_t)UINT32_MAX) | (uint32_t)(t + 1);
		__atomic_store_n(&dp->slot_btag[slot], t, __ATOMIC_RELEASE);
		return 0;
	}
	if (dp->slot_bport[slot] != 0)
		return -EEXIST;
	if (dp->fifo_len == 0)
		return -ENOSPC;
	bpi = dp->bport_fifo[dp->fifo_head];
	dp->fifo_head = (dp->fifo_head + 1) % dp->n_bports;
	dp->fifo_len--;
	__atomic_store_n(&dp->bport_session[bpi], session + 1, __ATOMIC_RELEASE);
	__atomic_store_n(&dp->slot_bport[slot], bpi + 1, __ATOMIC_RELEASE);
	return 0;
}

/* proxy mode: keep the session's identity and token for its datagrams. */
static int proxy_attach(struct sg_dp *dp, uint64_t session, uint8_t auth, const uint8_t *identity,
                        uint8_t identity_len, const uint8_t *token)
{
	uint32_t slot = (uint32_t)session;
	struct dp_ident *id;

	/* Without a token every reply of the session would be refused as forged. */
	if (identity_len > SG_PP2_IDENTITY_MAX || token == NULL || auth >= SG_PP2_AUTH_MAX)
		return -EINVAL;
	id = malloc(sizeof(*id) + identity_len);
	if (id == NULL)
		return -ENOMEM;
	memcpy(id->token, token, SG_PP2_TOKEN_LEN);
	id->len = identity_len;
	id->auth = auth;
	if (identity_len != 0)
		memcpy(id->bytes, identity, identity_len);
	if (dp->slot_ident[slot] != NULL) {
		int rc = sg_dp_session_detach(dp, session);

		if (rc != 0) {
			ident_free(id); /* the earlier identity stays until a detach can queue it */
			return rc;
		}
	}
	__atomic_store_n(&dp->slot_ident[slot], id, __ATOMIC_RELEASE);
	return 0;
}

int sg_dp_session_attach_as(struct sg_dp *dp, uint64_t session, uint8_t auth,
                            const uint8_t *identity, uint8_t identity_len, const uint8_t *token)
{
	uint32_t slot = (uint32_t)session;

	if (slot >= dp->capacity)
		return -EINVAL;
	if (dp->conf.backend_mode == SG_DP_BACKEND_UDP)
		return udp_attach(dp, slot, session);
	return proxy_attach(dp, session, auth, identity, identity_len, token);
}

int sg_dp_session_attach(struct sg_dp *dp, uint64_t session, const uint8_t *identity,
                         uint8_t identity_len, const uint8_t *token)
{
	return sg_dp_session_attach_as(dp, session, SG_PP2_AUTH_PSK, identity, identity_len, token);
}

/* udp mode: free slot's backend port. 0 or -ENOENT. */
static int udp_detach(struct sg_dp *dp, uint32_t slot)
{
	uint32_t bpi;

	if (!dp_slot_bport(dp, slot, &bpi))
		return -ENOENT;
	if (dp->direct) {
		/* No session, the attach count kept for the slot's next one. */
		__atomic_store_n(&dp->slot_btag[slot], (uint32_t)dp->slot_btag[slot],
		                 __ATOMIC_RELEASE);
		return 0;
	}
	__atomic_store_n(&dp->slot_bport[slot], 0, __ATOMIC_RELEASE);
	__atomic_store_n(&dp->bport_session[bpi], 0, __ATOMIC_RELEASE);
	/* Back at the tail: reused last, so a late reply rarely meets a new device. */
	dp->bport_fifo[(dp->fifo_head + dp->fifo_len) % dp->n_bports] = bpi;
	dp->fifo_len++;
	return 0;
}

/*
 * Double the identity defer queue, up to dq_max, oldest first. The control
 * thread allocates; nobody waits. 0, -ENOSPC (at dq_max) or -ENOMEM.
 */
static int ident_dq_grow(struct sg_dp *dp)
{
	uint32_t cap = dp->dq_cap > dp->dq_max / 2 ? dp->dq_max : dp->dq_cap * 2;
	struct dp_ident_defer *q;

	if (cap <= dp->dq_cap)
		return -ENOSPC;
	q = calloc(cap, sizeof(*q));
	if (q == NULL)
		return -ENOMEM;
	for (uint32_t i = 0; i < dp->dq_len; i++)
		q[i] = dp->ident_dq[(dp->dq_head + i) % dp->dq_cap];
	free(dp->ident_dq);
	dp->ident_dq = q;
	dp->dq_cap = cap;
	dp->dq_head = 0;
	return 0;
}

/*
 * proxy mode: the identity goes after a grace period (sg_dp_ctl_reclaim()).
 * Never waits for the workers: a full queue first frees what is due (a
 * check, no wait), then grows. Only at its bound (or out of memory) is the
 * detach refused, before anything changed: the identity stays attached (the
 * session is gone from the table, so no worker reaches it by a lookup) and a
 * later detach or attach of the slot frees it: nothing is lost or leaked.
 */
static int proxy_detach(struct sg_dp *dp, uint32_t slot)
{
	struct dp_ident *id = dp->slot_ident[slot];
	struct rte_rcu_qsbr *q = sg_sess_table_qsbr(dp->conf.sessions);

	if (id == NULL)
		return -ENOENT;
	if (dp->dq_len == dp->dq_cap)
		sg_dp_ctl_reclaim(dp);
	if (dp->dq_len == dp->dq_cap) {
		int rc = ident_dq_grow(dp);

		if (rc != 0)
			return rc;
	}
	/* Beyond the nominal queue: a detach that once waited for the workers. */
	if (dp->dq_len >= DP_IDENT_DEFER)
		dp->detach_deferred++;
	__atomic_store_n(&dp->slot_ident[slot], NULL, __ATOMIC_RELEASE);
	dp->ident_dq[(dp->dq_head + dp->dq_len) % dp->dq_cap] =
	        (struct dp_ident_defer){ .grace = rte_rcu_qsbr_start(q), .id = id };
	dp->dq_len++;
	return 0;
}

int sg_dp_session_detach(struct sg_dp *dp, uint64_t session)
{
	uint32_t slot = (uint32_t)session;

	if (slot >= dp->capacity)
		return -EINVAL;
	if (dp->conf.backend_mode == SG_DP_BACKEND_UDP)
		return udp_detach(dp, slot);
	return proxy_detach(dp, slot);
}

int sg_dp_session_bport(const struct sg_dp *dp, uint64_t session, uint8_t *family, uint8_t addr[16],
                        uint16_t *port)
{
	uint32_t slot = (uint32_t)session, bpi;

	if (dp->conf.backend_mode != SG_DP_BACKEND_UDP)
		return -ENOTSUP;
	if (slot >= dp->capacity || !dp_slot_bport(dp, slot, &bpi))
		return -ENOENT;
	if (dp->direct ? (dp->slot_btag[slot] >> 32) != (session >> 32)
	               : dp->bport_session[bpi] != session + 1)
		return -ENOENT;
	*family = dp->conf.backend_family;
	dp_baddr(dp, bpi / dp->conf.ports_per_addr, addr);
	*port = (uint16_t)(dp->conf.port_base + bpi % dp->conf.ports_per_addr);
	return 0;
}

unsigned sg_dp_ctl_reclaim(struct sg_dp *dp)
{
	struct rte_rcu_qsbr *q;
	unsigned n = 0;

	if (dp->ident_dq == NULL)
		return 0;
	q = sg_sess_table_qsbr(dp->conf.sessions);
	while (dp->dq_len) {
		struct dp_ident_defer *d = &dp->ident_dq[dp->dq_head];

		if (rte_rcu_qsbr_check(q, d->grace, false) != 1)
			break;
		ident_free(d->id);
		dp->dq_head = (dp->dq_head + 1) % dp->dq_cap;
		dp->dq_len--;
		n++;
	}
	return n;
}

uint64_t sg_dp_ctl_detach_deferred(const struct sg_dp *dp)
{
	return dp->detach_deferred;
}

/* ---- checkpoint and restore (issue 15, docs/restart.md) ---- */

int sg_dp_session_backend(const struct sg_dp *dp, uint64_t session, uint32_t *backend,
                          uint8_t token[SG_PP2_TOKEN_LEN])
{
	uint32_t slot = (uint32_t)session, bpi;
	const struct dp_ident *id;

	if (slot >= dp->capacity || backend == NULL)
		return -ENOENT;
	if (dp->conf.backend_mode == SG_DP_BACKEND_UDP) {
		uint8_t fam, a[16];
		uint16_t port;

		/* Attached, and to this session, not to an earlier one of the slot. */
		if (sg_dp_session_bport(dp, session, &fam, a, &port) != 0 ||
		    !dp_slot_bport(dp, slot, &bpi))
			return -ENOENT;
		*backend = bpi;
		if (token != NULL)
			memset(token, 0, SG_PP2_TOKEN_LEN);
		return 0;
	}
	id = dp->slot_ident[slot];
	if (id == NULL)
		return -ENOENT;
	*backend = 0;
	if (token != NULL)
		memcpy(token, id->token, SG_PP2_TOKEN_LEN);
	return 0;
}

/*
 * udp mode: bind slot's session exactly the backend port index bpi it had.
 * Direct map: bpi must be one of the slot's ports; the slot's attach count
 * resumes at the cycle bpi names. FIFO map: bpi must be free (the FIFO is
 * rebuilt once, sg_dp_restore_done()). 0, -EEXIST or -EINVAL.
 */
static int udp_restore(struct sg_dp *dp, uint32_t slot, uint64_t session, uint32_t bpi)
{
	if ((session >> 32) == 0) /* session ids never have generation 0 */
		return -EINVAL;
	if (dp->direct) {
		uint32_t mask = (1u << dp->btag_shift) - 1;

		if ((bpi >> dp->btag_shift) != slot)
			return -EINVAL;
		if ((dp->slot_btag[slot] >> 32) != 0)
			return -EEXIST;
		__atomic_store_n(&dp->slot_btag[slot],
		                 (session & ~(uint64_t)UINT32_MAX) | (bpi & mask),
		                 __ATOMIC_RELEASE);
		return 0;
	}
	if (bpi >= dp->n_bports)
		return -EINVAL;
	if (dp->slot_bport[slot] != 0 || dp->bport_session[bpi] != 0)
		return -EEXIST;
	__atomic_store_n(&dp->bport_session[bpi], session + 1, __ATOMIC_RELEASE);
	__atomic_store_n(&dp->slot_bport[slot], bpi + 1, __ATOMIC_RELEASE);
	dp->fifo_stale = true;
	return 0;
}

int sg_dp_session_restore(struct sg_dp *dp, uint64_t session, const uint8_t *identity,
                          uint8_t identity_len, const uint8_t *token, uint32_t backend)
{
	return sg_dp_session_restore_as(dp, session, SG_PP2_AUTH_PSK, identity, identity_len, token,
	                                backend);
}

int sg_dp_session_restore_as(struct sg_dp *dp, uint64_t session, uint8_t auth,
                             const uint8_t *identity, uint8_t identity_len, const uint8_t *token,
                             uint32_t backend)
{
	uint32_t slot = (uint32_t)session;

	if (slot >= dp->capacity)
		return -EINVAL;
	if (dp->conf.backend_mode == SG_DP_BACKEND_UDP)
		return udp_restore(dp, slot, session, backend);
	/* proxy mode: the same token, so the server's replies still match; nothing replaced. */
	if (identity == NULL && identity_len != 0)
		return -EINVAL;
	if (dp->slot_ident[slot] != NULL)
		return -EEXIST;
	return proxy_attach(dp, session, auth, identity, identity_len, token);
}

void sg_dp_restore_done(struct sg_dp *dp)
{
	uint32_t n = 0;

	if (dp->conf.backend_mode != SG_DP_BACKEND_UDP || dp->direct || !dp->fifo_stale)
		return;
	/*
	 * The free indexes in ascending order. How long each was unused before
	 * the restart is not known; the quarantine order starts again from here.
	 */
	for (uint32_t i = 0; i < dp->n_bports; i++)
		if (dp->bport_session[i] == 0)
			dp->bport_fifo[n++] = i;
	dp->fifo_head = 0;
	dp->fifo_len = n;
	dp->fifo_stale = false;
}
