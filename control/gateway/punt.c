/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The punt service: what the workers hand the control plane on the punt
 * ring (dataplane.h, enum sg_dp_punt). ARP and neighbour discovery go to the
 * data plane's neighbour table; a session's authenticated alert may end it;
 * its authenticated repeated Finished gets our final flight again (from the
 * engine of its handshake queue); a notice that its key reached its forgery
 * limit ends it. Handshake records and records of no session are not here:
 * they go to the handshake queues (control/hsplane). Gateway thread. Writes
 * struct gw_punt; frees or hands on every mbuf.
 */
#include <inttypes.h>
#include <stdbool.h>
#include <string.h>

#include <rte_mbuf.h>

#include <stormgate/dtls.h>

#include "gw_priv.h"
#include "sg_log.h"

/* Bursts taken per poll: the control socket and the status line get their turn. */
#define PUNT_ROUNDS 8

/* An alert from a device (decrypted by its worker): close_notify or fatal ends the session. */
static void session_alert(struct sg_gateway *gw, struct rte_mbuf *m)
{
	const struct sg_dp_meta *meta = sg_dp_meta(gw->ports.dp, m);
	const uint8_t *a = rte_pktmbuf_mtod(m, const uint8_t *);

	/* RFC 5246 §7.2: level 2 is fatal; close_notify (0) ends the connection too. */
	if (m->data_len >= 2 && (a[0] == 2 || a[1] == 0) &&
	    gw_sess_end(gw, meta->session, GW_END_DEVICE, NULL) == 0)
		SG_LOG(DP, DEBUG, "session %" PRIx64 " ended by the device (alert %u/%u)",
		       meta->session, a[0], a[1]);
}

/*
 * A device's Finished again, authenticated by its worker under the session's
 * keys (a tls12_cid record the handshake server cannot open itself): our
 * final flight was lost, the handshake server sends it again (RFC 6347
 * §4.2.4). The flight was kept for the address the handshake came from.
 */
static void session_finished(struct sg_gateway *gw, uint64_t id)
{
	struct sg_sess_info in;
	struct sg_hs_peer peer;

	if (sg_sess_get(gw->ports.sessions, id, &in) != 0)
		return;
	memcpy(peer.laddr, in.tuple.laddr, sizeof(peer.laddr));
	memcpy(peer.paddr, in.tuple.paddr, sizeof(peer.paddr));
	peer.lport = in.tuple.lport;
	peer.pport = in.tuple.pport;
	gw_hs_finished_again(gw, &peer);
}

/* A worker's burst of sequence floors (n x struct sg_dp_floor): to the session store. */
static void store_floors(struct sg_gateway *gw, const struct rte_mbuf *m)
{
	struct sg_dp_floor f[SG_BURST_MAX];
	unsigned n = RTE_MIN(m->data_len / (unsigned)sizeof(f[0]), (unsigned)RTE_DIM(f));

	/* The mbuf's data need not be aligned for the struct: copied out. */
	memcpy(f, rte_pktmbuf_mtod(m, const void *), n * sizeof(f[0]));
	gw_store_floors(gw, f, n);
}

/*
 * A punted handshake datagram, or a record of no session, on the punt ring:
 * only a data plane without handshake queues puts them there, and the
 * gateway's has them (the engines take them from their queues). Counted.
 */
static bool hs_punt(struct sg_gateway *gw, struct rte_mbuf *m)
{
	(void)m;
	gw->punt.unserved++;
	return false;
}

/* One punted packet; true when it was handed on (not to be freed here). */
static bool punt_one(struct sg_gateway *gw, struct rte_mbuf *m)
{
	const struct sg_dp_meta *meta = sg_dp_meta(gw->ports.dp, m);
	unsigned why = meta->punt < SG_DP_PUNT_MAX ? meta->punt : SG_DP_PUNT_UNKNOWN;

	gw->punt.taken[why]++;
	switch (why) {
	case SG_DP_PUNT_ARP:
	case SG_DP_PUNT_NDISC:
		sg_dp_ctl_neighbour(gw->ports.dp, m);
		return true;
	case SG_DP_PUNT_ALERT:
		session_alert(gw, m);
		return false;
	case SG_DP_PUNT_KEY_EXHAUSTED:
		gw_sweep_forgery_limit(gw, meta->session);
		return false;
	case SG_DP_PUNT_FINISHED:
		session_finished(gw, meta->session);
		return false;
	case SG_DP_PUNT_FLOORS:
		store_floors(gw, m);
		return false;
	default:
		return hs_punt(gw, m);
	}
}

void gw_punt_poll(struct sg_gateway *gw)
{
	struct rte_mbuf *m[SG_BURST_MAX];
	unsigned n;

	for (unsigned round = 0; round < PUNT_ROUNDS; round++) {
		n = sg_dp_punt_dequeue(gw->ports.dp, m, SG_BURST_MAX);
		for (unsigned i = 0; i < n; i++)
			if (!punt_one(gw, m[i]))
				rte_pktmbuf_free(m[i]);
		if (n < SG_BURST_MAX)
			break;
	}
}
