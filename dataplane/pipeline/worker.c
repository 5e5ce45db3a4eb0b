/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The worker's burst pipeline. One burst, in fixed stages over arrays sized
 * by SG_BURST_MAX (DPDK lib/ipsec esp_inb.c and VPP esp_decrypt.c style):
 *
 *   1. classify: L2-L4 (sg_net_parse), then DTLS framing (sg_rec_parse) for
 *      datagrams to our DTLS port, or the backend mapping for replies;
 *   2. bulk session lookup by CID, 4-tuple or session id;
 *   3. hand packets of sessions owned by another worker to that worker;
 *   4. one sg_rec_open_burst() for every uplink record, one
 *      sg_rec_seal_burst() for every downlink datagram;
 *   5. forward / punt / drop, then one TX burst per port.
 *
 * Every received packet ends in exactly one counter (dataplane.h). Nothing
 * here allocates (except mbufs), locks, logs or makes a system call.
 */
#include <errno.h>
#include <string.h>

#include <rte_cycles.h>
#include <rte_branch_prediction.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>
#include <rte_prefetch.h>
#include <rte_ring.h>

#include <stormgate/dtls.h>
#include <stormgate/proxy_v2.h>

#include "dp_priv.h"

enum dp_act {
	ACT_DROP = 0,
	ACT_PUNT,
	ACT_UP,      /* uplink: look the session up, open the records */
	ACT_DOWN,    /* downlink: look the session up, seal the payload */
	ACT_HANDOFF, /* another worker owns the session */
	ACT_DONE,    /* consumed (forwarded, punted or dropped and counted) */
};

/* What the burst knows of one packet. */
struct pkt_st {
	struct sg_pkt pkt;
	struct sg_sess_ref ref;
	uint64_t sess_id;                /* downlink by id */
	uint8_t token[SG_PP2_TOKEN_LEN]; /* downlink, proxy mode: the token the reply carries */
	const uint8_t *cid;              /* uplink by CID */
	uint64_t rx_top0;                /* uplink: the current SA's rx_top before the burst */
	uint32_t dl_off;                 /* downlink: plaintext offset in the frame */
	uint32_t dl_len;
	uint16_t rec0;  /* first record in the burst's header array */
	uint8_t n_rec;  /* records parsed (the last may be malformed) */
	uint8_t act;    /* enum dp_act */
	uint8_t reason; /* ACT_DROP: enum sg_drop; ACT_PUNT: enum sg_dp_punt */
	uint8_t port;   /* index of the port it came in on */
	uint8_t key;    /* lookup kind: KEY_* */
};

enum { KEY_TUPLE = 0, KEY_CID, KEY_ID };

struct burst {
	unsigned n;
	struct rte_mbuf *m[SG_BURST_MAX];
	struct pkt_st st[SG_BURST_MAX];
	struct sg_rec_hdr hdr[DP_OPS_MAX + SG_BURST_MAX];
	unsigned n_hdr;
	/* lookups */
	struct sg_sess_tuple keys[SG_BURST_MAX];
	const uint8_t *cids[SG_BURST_MAX];
	uint64_t ids[SG_BURST_MAX];
	struct sg_sess_ref refs[SG_BURST_MAX];
	uint8_t who[SG_BURST_MAX];
	/* open op -> packet */
	uint8_t op_pkt[DP_OPS_MAX];
	uint16_t op_hdr[DP_OPS_MAX];
	/* open op -> its copy in w->keep + 1 (0: none), for sessions keeping a previous SA */
	uint32_t op_keep[DP_OPS_MAX];
	unsigned keep_used;
	uint8_t seal_pkt[SG_BURST_MAX];
	struct rte_mbuf *punt[DP_OPS_MAX + SG_BURST_MAX];
	bool punt_outcome[DP_OPS_MAX + SG_BURST_MAX];
	/* each punt's reason, ours to read after the mbuf went to the control thread */
	uint8_t punt_why[DP_OPS_MAX + SG_BURST_MAX];
	/* its handshake queue + 1 (sg_dp_hs_queue_of()); 0: the punt ring */
	uint8_t punt_q[DP_OPS_MAX + SG_BURST_MAX];
	unsigned n_punt;
	/* RFC 9853 messages to seal and send once the burst's records are done:
	 * at most one per record (answers) and one per datagram (a challenge) */
	struct rrc_out {
		struct sg_sess_tuple to; /* where it goes: our address and the peer's */
		uint8_t msg[SG_RRC_MSG_LEN];
		uint8_t pkt; /* the datagram whose session seals it */
	} rrc[DP_OPS_MAX + SG_BURST_MAX];
	unsigned n_rrc;
};

static inline void drop(struct dp_worker *w, struct rte_mbuf *m, enum sg_drop reason)
{
	dp_count(&w->c.drop[reason], 1);
	rte_pktmbuf_free(m);
}

static void tx_enqueue(struct dp_worker *w, unsigned port, struct rte_mbuf *m, enum dp_outcome out)
{
	struct dp_tx *tx = &w->tx[port];

	if (unlikely(tx->n == DP_TX_MAX)) {
		if (out != DP_OUT_NONE)
			dp_count(&w->c.drop[SG_DROP_TX_FULL], 1);
		rte_pktmbuf_free(m);
		return;
	}
	tx->m[tx->n] = m;
	tx->outcome[tx->n++] = (uint8_t)out;
}

static void tx_flush(struct dp_worker *w)
{
	const struct sg_dp *dp = w->dp;

	for (unsigned p = 0; p < dp->conf.n_ports; p++) {
		struct dp_tx *tx = &w->tx[p];
		uint16_t sent = 0;

		if (tx->n == 0)
			continue;
		while (sent < tx->n) {
			uint16_t k = rte_eth_tx_burst(dp->conf.ports[p].port_id, (uint16_t)w->idx,
			                              tx->m + sent, (uint16_t)(tx->n - sent));
			if (k == 0)
				break;
			sent = (uint16_t)(sent + k);
		}
		for (uint16_t i = 0; i < tx->n; i++) {
			if (i < sent) {
				if (tx->outcome[i] == DP_OUT_UP)
					dp_count(&w->c.forwarded_up, 1);
				else if (tx->outcome[i] == DP_OUT_DOWN)
					dp_count(&w->c.forwarded_down, 1);
				continue;
			}
			if (tx->outcome[i] != DP_OUT_NONE)
				dp_count(&w->c.drop[SG_DROP_TX_FULL], 1);
			rte_pktmbuf_free(tx->m[i]);
		}
		dp_count(&w->c.tx, sent);
		tx->n = 0;
	}
}

/*
 * Queue m for the punt ring, or for handshake queue q - 1 (q 0: the punt
 * ring); outcome: it carries its datagram's outcome (not an extra).
 */
static void punt(struct dp_worker *w, struct burst *b, struct rte_mbuf *m, unsigned port,
                 enum sg_dp_punt why, uint64_t session, bool outcome, unsigned q)
{
	struct sg_dp_meta *meta = dp_meta(w->dp, m);

	meta->punt = (uint8_t)why;
	meta->port = (uint8_t)port;
	meta->worker = (uint8_t)w->idx;
	meta->session = session;
	b->punt_outcome[b->n_punt] = outcome;
	b->punt_why[b->n_punt] = (uint8_t)why;
	b->punt_q[b->n_punt] = (uint8_t)q;
	b->punt[b->n_punt++] = m;
}

/* Count punt i of the burst as taken (the ring or queue has it: no longer ours to read). */
static void punt_taken(struct dp_worker *w, const struct burst *b, unsigned i)
{
	dp_count(&w->c.punt_by[b->punt_why[i]], 1);
	if (b->punt_outcome[i])
		dp_count(&w->c.punted, 1);
}

/*
 * Hand the burst's punts to the control plane: handshake datagrams to their
 * handshake queue one by one, the rest to the punt ring in one burst. An
 * mbuf a ring took is its consumer's from that moment (it may already have
 * freed or reused it), so the counting below reads only the burst's own
 * arrays, never the mbufs that went. A full ring or queue is a counted drop.
 */
static void punt_flush(struct dp_worker *w, struct burst *b)
{
	struct rte_mbuf *ring[DP_OPS_MAX + SG_BURST_MAX];
	uint16_t idx[DP_OPS_MAX + SG_BURST_MAX];
	unsigned k, n = 0;

	if (b->n_punt == 0)
		return;
	for (unsigned i = 0; i < b->n_punt; i++) {
		unsigned q = b->punt_q[i];

		if (q == 0) {
			idx[n] = (uint16_t)i;
			ring[n++] = b->punt[i];
		} else if (rte_ring_enqueue(w->dp->hsq[q - 1], b->punt[i]) == 0) {
			punt_taken(w, b, i);
		} else {
			dp_count(&w->hsq_full[q - 1], 1);
			drop(w, b->punt[i], SG_DROP_HS_QUEUE_FULL);
		}
	}
	k = n ? rte_ring_mp_enqueue_burst(w->dp->punt, (void *const *)ring, n, NULL) : 0;
	for (unsigned j = 0; j < n; j++) {
		unsigned i = idx[j];

		if (j < k)
			punt_taken(w, b, i);
		else if (b->punt_outcome[i])
			drop(w, b->punt[i], SG_DROP_PUNT_RING_FULL);
		else
			rte_pktmbuf_free(b->punt[i]);
	}
	b->n_punt = 0;
}

/* A received datagram's 4-tuple as the session table keys it (we are the local end). */
static void pkt_tuple(const struct sg_pkt *p, struct sg_sess_tuple *k)
{
	if (p->family == 4) {
		uint32_t l, a;

		memcpy(&l, p->dst, 4);
		memcpy(&a, p->src, 4);
		sg_sess_tuple_v4(k, l, rte_cpu_to_be_16(p->dport), a, rte_cpu_to_be_16(p->sport));
	} else {
		sg_sess_tuple_v6(k, p->dst, rte_cpu_to_be_16(p->dport), p->src,
		                 rte_cpu_to_be_16(p->sport));
	}
}

/*
 * The handshake queue (+ 1) of a datagram punted as a handshake or a record
 * of no session: its client's, so all its datagrams reach one engine; 0 for
 * every other punt, and when there are no handshake queues. The client as
 * the session table keys it (pkt_tuple()), so the owner finds the same queue.
 */
static unsigned punt_queue(const struct sg_dp *dp, const struct pkt_st *st)
{
	struct sg_sess_tuple k;

	if (dp->n_hsq == 0 ||
	    (st->reason != SG_DP_PUNT_HANDSHAKE && st->reason != SG_DP_PUNT_UNKNOWN))
		return 0;
	pkt_tuple(&st->pkt, &k);
	return dp_hs_queue(dp, k.paddr, k.pport) + 1;
}

static enum sg_drop rec_drop_reason(enum sg_rec_status s)
{
	switch (s) {
	case SG_REC_RUNT:
	case SG_REC_TRUNCATED:
		return SG_DROP_DTLS_MALFORMED;
	case SG_REC_BAD_TYPE:
		return SG_DROP_DTLS_TYPE;
	case SG_REC_BAD_VERSION:
		return SG_DROP_DTLS_VERSION;
	case SG_REC_BAD_EPOCH:
		return SG_DROP_DTLS_EPOCH;
	case SG_REC_OVERSIZED:
		return SG_DROP_DTLS_OVERSIZED;
	case SG_REC_KEY_EXHAUSTED:
		return SG_DROP_KEY_EXHAUSTED;
	case SG_REC_TOO_OLD:
		return SG_DROP_TOO_OLD;
	case SG_REC_REPLAYED:
		return SG_DROP_REPLAYED;
	case SG_REC_AUTH_FAILED:
	case SG_REC_AUTH_LIMIT:
		return SG_DROP_AUTH_FAILED;
	case SG_REC_BAD_INNER_PLAINTEXT:
		return SG_DROP_INNER_PLAINTEXT;
	case SG_REC_SEQ_EXHAUSTED:
		return SG_DROP_SEQ_EXHAUSTED;
	case SG_REC_NO_ROOM:
		return SG_DROP_TOO_BIG;
	case SG_REC_RECORD_LIMIT:
		return SG_DROP_RECORD_LIMIT;
	default:
		return SG_DROP_BAD_SA;
	}
}

static bool addr_eq(uint8_t family, const uint8_t *a, const uint8_t *b)
{
	return memcmp(a, b, family == 4 ? 4 : 16) == 0;
}

/* ---- stage 1: classify ---- */

static void classify_uplink(struct dp_worker *w, struct burst *b, unsigned i)
{
	const struct sg_dp *dp = w->dp;
	struct pkt_st *st = &b->st[i];
	const uint8_t *pl = rte_pktmbuf_mtod(b->m[i], const uint8_t *) + st->pkt.payload_off;
	unsigned max = dp->conf.max_records_per_dgram;
	const struct sg_rec_hdr *h0;
	unsigned n;

	n = sg_rec_parse(pl, st->pkt.payload_len, dp->cid_len, &b->hdr[b->n_hdr], max + 1);
	h0 = &b->hdr[b->n_hdr];
	if (n == 0 || h0->status != SG_REC_OK) {
		st->act = ACT_DROP;
		st->reason = n == 0 ? SG_DROP_DTLS_MALFORMED : rec_drop_reason(h0->status);
		return;
	}
	/*
	 * Epoch 0 is the handshake (RFC 6347 §4.1): ClientHello, flights,
	 * plaintext alerts. A handshake record of a later epoch belongs to the
	 * handshake server too, never to a session's keys: the Finished of a new
	 * handshake from a live session's address and port (RFC 6347 §4.2.8:
	 * the old association stays until that Finished verifies; GnuTLS sends
	 * it in a datagram of its own), or a Finished the client repeats because
	 * our last flight was lost (§4.2.4). Opened with the live session's keys
	 * it would be dropped as replayed or forged, and the device's handshake
	 * could never complete.
	 */
	if (h0->epoch == 0 || h0->type == SG_DTLS_CT_HANDSHAKE) {
		st->act = ACT_PUNT;
		st->reason = SG_DP_PUNT_HANDSHAKE;
		return;
	}
	if (n > max) {
		st->act = ACT_DROP;
		st->reason = SG_DROP_TOO_MANY_RECORDS;
		return;
	}
	st->rec0 = (uint16_t)b->n_hdr;
	st->n_rec = (uint8_t)n;
	b->n_hdr += n;
	st->act = ACT_UP;
	if (h0->type == SG_DTLS_CT_TLS12_CID) {
		st->key = KEY_CID;
		st->cid = pl + h0->off + SG_DTLS_HDR_OFF_CID;
	} else {
		st->key = KEY_TUPLE;
	}
}

static void classify_downlink(struct dp_worker *w, struct burst *b, unsigned i)
{
	const struct sg_dp *dp = w->dp;
	const struct sg_dp_conf *cf = &dp->conf;
	struct pkt_st *st = &b->st[i];
	const uint8_t *frame = rte_pktmbuf_mtod(b->m[i], const uint8_t *);

	st->act = ACT_DROP;
	st->reason = SG_DROP_UDP_PORT;
	if (cf->backend_mode == SG_DP_BACKEND_UDP) {
		/* By arithmetic from address and port (dp_priv.h): no per-port lookup table. */
		enum sg_drop why = dp_bport_session(dp, st->pkt.dst, st->pkt.dport, &st->sess_id);

		if (why != SG_DROP_MAX) {
			st->reason = (uint8_t)why;
			return;
		}
		st->key = KEY_ID;
		st->dl_off = st->pkt.payload_off;
		st->dl_len = st->pkt.payload_len;
	} else {
		struct sg_pp2_info info;
		int hl;

		if (!addr_eq(st->pkt.family, st->pkt.dst, cf->local_addr[0]) ||
		    st->pkt.dport != cf->port_base)
			return;
		hl = sg_pp2_decode(frame + st->pkt.payload_off, st->pkt.payload_len, &info);
		if (hl < 0) {
			st->reason = SG_DROP_PROXY_HEADER;
			return;
		}
		/*
		 * Only our UNIQUE_ID (session handle and token) names a session. A header
		 * naming the device by its address alone, or a handle without a token, is
		 * no proof that the sender ever saw the session: anyone who can write the
		 * server's source address could write it.
		 */
		if (!info.has_session) {
			st->reason = SG_DROP_BACKEND_FORGED;
			return;
		}
		st->dl_off = st->pkt.payload_off + (uint32_t)hl;
		st->dl_len = st->pkt.payload_len - (uint32_t)hl;
		st->sess_id = info.session;
		memcpy(st->token, info.token, SG_PP2_TOKEN_LEN);
		st->key = KEY_ID;
		/* The token check reads the slot's identity block: fetch its pointer now. */
		if ((uint32_t)info.session < dp->capacity)
			rte_prefetch0(&dp->slot_ident[(uint32_t)info.session]);
	}
	st->act = ACT_DOWN;
}

/* The backend server's address and UDP port as the source: it claims to be a reply. */
static bool from_backend(const struct sg_dp_conf *cf, const struct sg_pkt *p)
{
	return cf->backend_port != 0 && p->family == cf->backend_family &&
	       p->sport == cf->backend_port && addr_eq(p->family, p->src, cf->backend_addr);
}

static void classify(struct dp_worker *w, struct burst *b, const uint8_t *ports)
{
	const struct sg_dp *dp = w->dp;
	const struct sg_dp_conf *cf = &dp->conf;

	b->n_hdr = 0;
	for (unsigned i = 0; i < b->n; i++) {
		struct rte_mbuf *m = b->m[i];
		struct pkt_st *st = &b->st[i];
		const struct sg_dp_port_conf *pc = &cf->ports[ports[i]];
		enum sg_net_kind kind;

		if (i + 1 < b->n)
			rte_prefetch0(rte_pktmbuf_mtod(b->m[i + 1], void *));
		st->port = ports[i];
		st->act = ACT_DROP;
		if (unlikely(m->nb_segs != 1)) {
			st->reason = SG_DROP_MULTI_SEG;
			continue;
		}
		kind = sg_net_parse(&pc->ifc, rte_pktmbuf_mtod(m, const uint8_t *), m->data_len,
		                    &st->pkt);
		switch (kind) {
		case SG_NET_UDP:
			break;
		case SG_NET_ARP:
			st->act = ACT_PUNT;
			st->reason = SG_DP_PUNT_ARP;
			continue;
		case SG_NET_NDISC:
			st->act = ACT_PUNT;
			st->reason = SG_DP_PUNT_NDISC;
			continue;
		default:
			st->reason = (uint8_t)st->pkt.drop;
			continue;
		}
		if ((pc->role & SG_DP_ROLE_DEVICE) && st->pkt.dport == cf->dtls_port) {
			classify_uplink(w, b, i);
		} else if (from_backend(cf, &st->pkt)) {
			/*
			 * A reply only where the backend is. On a port without the backend
			 * role, anyone on the device network may have written the server's
			 * source (no BCP 38 upstream of us): never sealed to a device
			 * (docs/architecture.md, "Trust model").
			 */
			if (pc->role & SG_DP_ROLE_BACKEND)
				classify_downlink(w, b, i);
			else
				st->reason = SG_DROP_BACKEND_FORGED;
		} else {
			st->reason = SG_DROP_UDP_PORT;
		}
	}
}

/* ---- stage 2: lookups ---- */

/*
 * proxy mode: a reply must carry its session's token, 64 random bits the
 * server saw only in that session's own datagrams. Compared in constant time,
 * so its bytes cannot be found one at a time from how fast a guess is refused.
 */
static bool token_ok(const struct sg_dp *dp, const struct pkt_st *st)
{
	const struct dp_ident *id =
	        __atomic_load_n(&dp->slot_ident[st->ref.slot], __ATOMIC_ACQUIRE);

	return id != NULL && sg_ct_memcmp(id->token, st->token, SG_PP2_TOKEN_LEN) == 0;
}

static void lookup(struct dp_worker *w, struct burst *b)
{
	const struct sg_dp *dp = w->dp;
	unsigned n = 0;

	/* 4-tuples: uplink without CID. */
	for (unsigned i = 0; i < b->n; i++) {
		struct pkt_st *st = &b->st[i];

		if (st->act != ACT_UP || st->key != KEY_TUPLE)
			continue;
		pkt_tuple(&st->pkt, &b->keys[n]);
		b->who[n++] = (uint8_t)i;
	}
	if (n) {
		sg_sess_lookup_tuple_bulk(w->sw, b->keys, n, b->refs);
		for (unsigned j = 0; j < n; j++)
			b->st[b->who[j]].ref = b->refs[j];
	}

	n = 0;
	for (unsigned i = 0; i < b->n; i++)
		if (b->st[i].act == ACT_UP && b->st[i].key == KEY_CID) {
			b->cids[n] = b->st[i].cid;
			b->who[n++] = (uint8_t)i;
		}
	if (n) {
		sg_sess_lookup_cid_bulk(w->sw, b->cids, n, b->refs);
		for (unsigned j = 0; j < n; j++)
			b->st[b->who[j]].ref = b->refs[j];
	}

	n = 0;
	for (unsigned i = 0; i < b->n; i++)
		if (b->st[i].act == ACT_DOWN && b->st[i].key == KEY_ID) {
			uint32_t slot = (uint32_t)b->st[i].sess_id;

			b->ids[n] = b->st[i].sess_id;
			b->who[n++] = (uint8_t)i;
			/*
			 * proxy mode: the identity block with the token (its pointer was
			 * fetched in classify), in flight while the sessions are looked up.
			 */
			if (dp->slot_ident != NULL && slot < dp->capacity)
				rte_prefetch0(
				        __atomic_load_n(&dp->slot_ident[slot], __ATOMIC_RELAXED));
		}
	if (n) {
		sg_sess_lookup_id_bulk(w->sw, b->ids, n, b->refs);
		for (unsigned j = 0; j < n; j++)
			b->st[b->who[j]].ref = b->refs[j];
	}

	/* Misses and ownership. */
	for (unsigned i = 0; i < b->n; i++) {
		struct pkt_st *st = &b->st[i];

		if (st->act != ACT_UP && st->act != ACT_DOWN)
			continue;
		if (st->ref.sess == NULL) {
			if (st->act == ACT_DOWN) {
				st->act = ACT_DROP;
				st->reason = SG_DROP_BACKEND_UNKNOWN;
				continue;
			}
			switch (st->ref.miss) {
			case SG_SESS_MISS_CID_RANGE:
			case SG_SESS_MISS_CID_TAG:
				st->act = ACT_DROP;
				st->reason = SG_DROP_CID_FORGED;
				break;
			case SG_SESS_MISS_CID_NODE:
				st->act = ACT_DROP;
				st->reason = SG_DROP_CID_OTHER_NODE;
				break;
			default:
				/* No session: the control plane decides (RFC 6347 §4.2.8 restarts).
				 */
				st->act = ACT_PUNT;
				st->reason = SG_DP_PUNT_UNKNOWN;
				break;
			}
			continue;
		}
		/* Before a hand-off: a forgery must not take room in another worker's ring. */
		if (st->act == ACT_DOWN && dp->slot_ident != NULL && !token_ok(dp, st)) {
			st->act = ACT_DROP;
			st->reason = SG_DROP_BACKEND_FORGED;
			continue;
		}
		if (st->ref.sess->owner != w->idx) {
			st->act = ACT_HANDOFF;
			continue;
		}
		/*
		 * One stage ahead of their use: the SA (open/seal read it first) and the
		 * session's backend slot (up_route() reads it after the open).
		 */
		if (st->act != ACT_UP) {
			sg_sess_prefetch_sa(&st->ref);
			continue;
		}
		sg_sess_prefetch_sa_rx(&st->ref);
		if (dp->conf.backend_mode == SG_DP_BACKEND_UDP)
			rte_prefetch0(dp->direct ? (const void *)&dp->slot_btag[st->ref.slot]
			                         : (const void *)&dp->slot_bport[st->ref.slot]);
		else
			rte_prefetch0(&dp->slot_ident[st->ref.slot]);
	}
}

/* ---- stage 4/5 uplink: open and forward ---- */

/*
 * A session re-keyed moments ago (RFC 6347 §4.2.8) still has its previous SA,
 * and records the device sealed under it may still be on the way (RFC 6347
 * §4.1 lets a receiver keep old keys for reordering). The open is in place and
 * wipes what fails, so for those sessions alone keep a copy of each record:
 * if the current keys refuse it as unauthenticated, retry_prev() restores it
 * and opens it with the previous SA. Returns the copy's offset + 1, 0 for none.
 */
static uint32_t keep_record(struct dp_worker *w, struct burst *b, const struct sg_sess_ref *ref,
                            const struct sg_rec_open_op *op)
{
	uint32_t at = b->keep_used;

	if (likely(ref->prev == NULL))
		return 0;
	if (at + op->rec_len > w->keep_cap)
		return 0; /* cannot happen: w->keep holds a whole burst of full mbufs */
	memcpy(w->keep + at, op->rec, op->rec_len);
	b->keep_used = at + op->rec_len;
	return at + 1;
}

/* Records refused by the current SA of a session that keeps its previous one: try that. */
static void retry_prev(struct dp_worker *w, struct burst *b, unsigned n_ops)
{
	unsigned n = 0;

	if (likely(b->keep_used == 0))
		return;
	for (unsigned o = 0; o < n_ops; o++) {
		struct sg_rec_open_op *op = &w->open[o];

		if (b->op_keep[o] == 0 ||
		    (op->status != SG_REC_AUTH_FAILED && op->status != SG_REC_AUTH_LIMIT))
			continue;
		memcpy(op->rec, w->keep + b->op_keep[o] - 1, op->rec_len);
		w->retry[n] = *op;
		w->retry[n].sa = b->st[b->op_pkt[o]].ref.prev;
		w->retry_op[n++] = (uint16_t)o;
	}
	if (n == 0)
		return;
	sg_rec_open_burst(w->rec, w->retry, n);
	for (unsigned k = 0; k < n; k++) {
		struct sg_rec_open_op *op = &w->open[w->retry_op[k]];

		if (w->retry[k].status != SG_REC_OK) {
			/* Neither key: the in-place area holds wiped bytes, as after one try. */
			continue;
		}
		/* A record of the old keys is no forgery against the new ones. */
		if (op->sa->auth_failures > 0)
			op->sa->auth_failures--;
		*op = w->retry[k];
		dp_count(&w->c.records_opened_prev, 1);
	}
}

static unsigned build_open_ops(struct dp_worker *w, struct burst *b)
{
	unsigned n = 0;

	b->keep_used = 0;
	for (unsigned i = 0; i < b->n; i++) {
		struct pkt_st *st = &b->st[i];
		uint8_t *pl;

		if (st->act != ACT_UP)
			continue;
		/* proxy mode: the identity the PROXY header will carry, prefetched through its
		 * slot. */
		if (w->dp->slot_ident != NULL) {
			const struct dp_ident *id =
			        __atomic_load_n(&w->dp->slot_ident[st->ref.slot], __ATOMIC_ACQUIRE);

			if (id != NULL)
				rte_prefetch0(id);
		}
		/* For the floors: the line the open reads first anyway; used after the burst. */
		st->rx_top0 = st->ref.sa->rx_top;
		pl = rte_pktmbuf_mtod(b->m[i], uint8_t *) + st->pkt.payload_off;
		for (unsigned r = 0; r < st->n_rec; r++) {
			const struct sg_rec_hdr *h = &b->hdr[st->rec0 + r];
			struct sg_rec_open_op *op = &w->open[n];

			if (h->status != SG_REC_OK)
				continue; /* malformed tail: counted with the datagram */
			op->rec = pl + h->off;
			op->rec_len = h->len;
			op->sa = st->ref.sa;
			op->dst = NULL;
			b->op_keep[n] = keep_record(w, b, &st->ref, op);
			/* Every record of a CID datagram must carry the same CID. */
			if (r > 0 && st->key == KEY_CID && h->type == SG_DTLS_CT_TLS12_CID &&
			    memcmp(pl + h->off + SG_DTLS_HDR_OFF_CID, st->cid, w->dp->cid_len) != 0)
				op->sa = NULL; /* refused by the record layer as SG_REC_BAD_SA */
			b->op_pkt[n] = (uint8_t)i;
			b->op_hdr[n] = (uint16_t)(st->rec0 + r);
			n++;
		}
	}
	return n;
}

/* Where the backend datagram of a session comes from and goes to. */
struct up_route {
	uint8_t family;
	const uint8_t *src;
	uint8_t src_buf[16]; /* udp mode: src points here */
	uint16_t sport;
	uint8_t dmac[6];
	uint8_t pp2[SG_PP2_MAX_LEN];
	unsigned pp2_len;
};

static enum sg_drop up_route(struct dp_worker *w, const struct pkt_st *st, struct up_route *r)
{
	const struct sg_dp *dp = w->dp;
	const struct sg_dp_conf *cf = &dp->conf;
	const struct sg_dp_port_conf *bp = &cf->ports[dp->backend_port];
	uint32_t slot = st->ref.slot;

	if (cf->backend_port == 0)
		return SG_DROP_BACKEND_UNKNOWN; /* no server configured */
	r->family = cf->backend_family;
	r->pp2_len = 0;
	if (cf->backend_mode == SG_DP_BACKEND_UDP) {
		uint32_t bpi;

		if (!dp_slot_bport(dp, slot, &bpi))
			return SG_DROP_BACKEND_UNKNOWN;
		dp_baddr(dp, bpi / cf->ports_per_addr, r->src_buf);
		r->src = r->src_buf;
		r->sport = (uint16_t)(cf->port_base + bpi % cf->ports_per_addr);
	} else {
		const struct dp_ident *id =
		        __atomic_load_n(&dp->slot_ident[slot], __ATOMIC_ACQUIRE);
		struct sg_pp2_info info = {
			.family = st->pkt.family,
			.sport = st->pkt.sport,
			.dport = st->pkt.dport,
			.has_session = true,
			.session = sg_sess_ref_id(&st->ref),
		};
		int len;

		/* Not attached (yet): the server could not answer it, as in udp mode. */
		if (id == NULL)
			return SG_DROP_BACKEND_UNKNOWN;
		memcpy(info.src, st->pkt.src, st->pkt.family == 4 ? 4 : 16);
		memcpy(info.dst, st->pkt.dst, st->pkt.family == 4 ? 4 : 16);
		memcpy(info.token, id->token, SG_PP2_TOKEN_LEN);
		info.identity = id->bytes;
		info.identity_len = id->len;
		info.auth = id->auth;
		len = sg_pp2_encode(r->pp2, sizeof(r->pp2), &info);
		if (len < 0)
			return SG_DROP_PROXY_HEADER;
		r->pp2_len = (unsigned)len;
		r->src = cf->local_addr[0];
		r->sport = cf->port_base;
	}
	if (dp_neigh_lookup(dp->neigh[dp->backend_port], r->family,
	                    dp_next_hop(bp, r->family, cf->backend_addr), r->dmac) != 0)
		return SG_DROP_NO_NEIGHBOUR;
	return SG_DROP_MAX;
}

/*
 * Turn the plaintext at pt (len bytes, inside m's buffer) into a backend
 * datagram in m: headers written right in front of it.
 */
static void up_frame(struct dp_worker *w, struct rte_mbuf *m, uint8_t *pt, uint32_t len,
                     const struct up_route *r)
{
	const struct sg_dp *dp = w->dp;
	const struct sg_dp_conf *cf = &dp->conf;
	const struct sg_dp_port_conf *bp = &cf->ports[dp->backend_port];
	unsigned l2l4 = dp_hdr_len(bp, r->family);
	uint8_t *start = pt - r->pp2_len - l2l4;

	memcpy(pt - r->pp2_len, r->pp2, r->pp2_len);
	dp_build_udp(bp, start, r->dmac, r->family, r->src, r->sport, cf->backend_addr,
	             cf->backend_port, (uint16_t)(r->pp2_len + len));
	m->data_off = (uint16_t)(start - (uint8_t *)m->buf_addr);
	m->data_len = (uint16_t)(l2l4 + r->pp2_len + len);
	m->pkt_len = m->data_len;
	m->ol_flags = 0;
}

/* A new mbuf holding a copy of the plaintext with room in front for headers. */
static struct rte_mbuf *copy_plaintext(struct dp_worker *w, const uint8_t *pt, uint32_t len,
                                       uint8_t **new_pt)
{
	struct rte_mbuf *c = rte_pktmbuf_alloc(w->dp->conf.pool);

	if (c == NULL)
		return NULL;
	if (rte_pktmbuf_headroom(c) + rte_pktmbuf_tailroom(c) < len + SG_PP2_MAX_LEN + 128u) {
		rte_pktmbuf_free(c);
		return NULL;
	}
	/* Leave every byte of headroom and the PROXY header space in front. */
	*new_pt = (uint8_t *)c->buf_addr + c->data_off + SG_PP2_MAX_LEN;
	memcpy(*new_pt, pt, len);
	return c;
}

/*
 * Punt a copy of an authenticated record's plaintext with its session (an
 * alert, a repeated Finished): the control plane acts on it. outcome: it
 * carries its datagram's outcome. Returns false when no mbuf was free.
 */
static bool punt_plaintext(struct dp_worker *w, struct burst *b, const struct pkt_st *st,
                           const uint8_t *pt, uint32_t len, enum sg_dp_punt why, bool outcome)
{
	uint8_t *cp;
	struct rte_mbuf *c = copy_plaintext(w, pt, len, &cp);

	if (c == NULL)
		return false;
	c->data_off = (uint16_t)(cp - (uint8_t *)c->buf_addr);
	c->data_len = (uint16_t)len;
	c->pkt_len = len;
	punt(w, b, c, st->port, why, sg_sess_ref_id(&st->ref), outcome, 0);
	return true;
}

/* A whole, unfragmented Finished message (RFC 5246 §7.4.9, RFC 6347 §4.2.2). */
static bool is_finished(const uint8_t *pt, uint32_t len)
{
	static const uint8_t hdr[4] = { SG_TLS_HT_FINISHED, 0, 0, SG_TLS_VERIFY_DATA_LEN };

	return len == SG_DTLS_HS_HDR_LEN + SG_TLS_VERIFY_DATA_LEN && memcmp(pt, hdr, 4) == 0 &&
	       memcmp(pt + 6, "\0\0\0\0\0", 5) == 0 && pt[11] == SG_TLS_VERIFY_DATA_LEN;
}

/*
 * A session's receive key reached its forgery limit (RFC 9147 §4.5.3): tell
 * the control plane, which ends the session so the device handshakes again.
 * An empty mbuf naming the session, not an outcome of the datagram (that is
 * its drop); no mbuf or a full ring loses only the notice, and the next
 * record for the exhausted key sends another.
 */
static void notify_exhausted(struct dp_worker *w, struct burst *b, const struct pkt_st *st)
{
	struct rte_mbuf *n = rte_pktmbuf_alloc(w->dp->conf.pool);

	if (n != NULL)
		punt(w, b, n, st->port, SG_DP_PUNT_KEY_EXHAUSTED, sg_sess_ref_id(&st->ref), false,
		     0);
}

/*
 * Ethernet, IP and UDP headers in front of the record op sealed in m's
 * buffer, from our address at t to the device's (t in the session table's
 * convention); m then holds the frame. Returns 0, or -EHOSTUNREACH when the
 * next hop is not resolved (m untouched).
 */
static int device_frame(const struct sg_dp *dp, struct rte_mbuf *m, const struct sg_rec_seal_op *op,
                        const struct sg_sess_tuple *t)
{
	const struct sg_dp_port_conf *dev = &dp->conf.ports[dp->dev_port];
	uint8_t fam = sg_ip6_is_v4_mapped(t->paddr) ? 4 : 6;
	const uint8_t *src = fam == 4 ? t->laddr + 12 : t->laddr;
	const uint8_t *dst = fam == 4 ? t->paddr + 12 : t->paddr;
	unsigned l2l4 = dp_hdr_len(dev, fam);
	uint8_t dmac[6], *start;

	if (dp_neigh_lookup(dp->neigh[dp->dev_port], fam, dp_next_hop(dev, fam, dst), dmac) != 0)
		return -EHOSTUNREACH;
	start = op->buf + op->rec_off - l2l4;
	dp_build_udp(dev, start, dmac, fam, src, rte_be_to_cpu_16(t->lport), dst,
	             rte_be_to_cpu_16(t->pport), (uint16_t)op->rec_len);
	m->data_off = (uint16_t)(start - (uint8_t *)m->buf_addr);
	m->data_len = (uint16_t)(l2l4 + op->rec_len);
	m->pkt_len = m->data_len;
	m->ol_flags = 0;
	return 0;
}

/* ---- CID peers that move (RFC 9146 §6) and return routability (RFC 9853) ---- */

/* Queue an RFC 9853 message for packet i's session, to to (sealed by rrc_flush()). */
static void rrc_queue(struct burst *b, unsigned i, uint8_t type, const uint8_t *cookie,
                      const struct sg_sess_tuple *to)
{
	struct rrc_out *o = &b->rrc[b->n_rrc++];

	o->to = *to;
	o->msg[0] = type;
	memcpy(o->msg + 1, cookie, SG_RRC_COOKIE_LEN);
	o->pkt = (uint8_t)i;
}

/*
 * RFC 9146 §6: a CID session's peer may move (NAT rebinding, a new network),
 * but the receiver must not follow an authenticated datagram carrying the
 * session's newest record to another address or port unless it makes sure
 * the new address can receive: an on-path relay could otherwise send a fresh
 * record on first and divert every reply. So the session stays where it is
 * and keeps its replies there, and:
 *   - with rrc negotiated, the worker starts a return routability check
 *     (RFC 9853 §5.1, basic): a path_challenge with a fresh cookie to the
 *     new address; the session moves only when the path_response with that
 *     cookie comes back from there (rrc_input());
 *   - without it, the session stays, unless peer_move is "unverified"
 *     (trusted paths), where it moves at once as before.
 * Only CID sessions outside the 4-tuple index move; their owner, this worker,
 * is the only data-plane reader and writer of the address (it seals every
 * downlink datagram of the session).
 */
static void peer_moved(struct dp_worker *w, struct burst *b, unsigned i,
                       const struct sg_sess_tuple *from)
{
	const struct pkt_st *st = &b->st[i];
	struct sg_sess *s = st->ref.sess;
	uint8_t cookie[SG_RRC_COOKIE_LEN];
	int rc;

	/* The control thread may be ending the session: its flags are stored atomically. */
	if (__atomic_load_n(&s->flags, __ATOMIC_RELAXED) & SG_SESS_F_TUPLE)
		return;
	if (memcmp(from, &s->tuple, sizeof(*from)) == 0)
		return;
	if (!(st->ref.sa->flags & SG_SA_F_RRC)) {
		if (w->dp->conf.peer_move == SG_DP_PEER_MOVE_UNVERIFIED) {
			s->tuple = *from;
			dp_count(&w->c.peer_moves, 1);
		} else {
			dp_count(&w->c.peer_moves_held, 1);
		}
		return;
	}
	dp_count(&w->c.peer_moves_held, 1);
	rc = dp_rrc_start(w, sg_sess_ref_id(&st->ref), from, cookie);
	if (rc == -EIO)
		dp_count(&w->c.rrc_send_failed, 1);
	if (rc != 0)
		return; /* a check is under way (or no cookie): nothing more to send */
	/* RFC 9853 §5.1 steps 1-2: the challenge goes to the observed new address. */
	rrc_queue(b, i, SG_RRC_PATH_CHALLENGE, cookie, from);
	sg_wipe(cookie, sizeof(cookie));
}

/*
 * An authenticated return_routability_check record (RFC 9853 §4) of packet
 * i's session, from `from`. Returns SG_DROP_MAX when the worker acted on it
 * (the datagram is consumed), else the reason it was refused.
 */
static enum sg_drop rrc_input(struct dp_worker *w, struct burst *b, unsigned i, const uint8_t *msg,
                              uint32_t len, const struct sg_sess_tuple *from)
{
	struct pkt_st *st = &b->st[i];

	if (len == 0) {
		dp_count(&w->c.rrc_ignored, 1);
		return SG_DROP_RRC_REFUSED;
	}
	switch (msg[0]) {
	case SG_RRC_PATH_CHALLENGE:
		if (len != SG_RRC_MSG_LEN)
			break;
		/*
		 * RFC 9853 §5.4: answer each valid challenge once (the replay window
		 * already refused copies), at once, to the address it came from.
		 */
		rrc_queue(b, i, SG_RRC_PATH_RESPONSE, msg + 1, from);
		return SG_DROP_MAX;
	case SG_RRC_PATH_RESPONSE:
		if (len == SG_RRC_MSG_LEN &&
		    dp_rrc_answer(w, sg_sess_ref_id(&st->ref), msg + 1, from)) {
			/* RFC 9853 §5.1 step 4: the new address is proven; move. */
			st->ref.sess->tuple = *from;
			dp_count(&w->c.rrc_responses_ok, 1);
			dp_count(&w->c.peer_moves, 1);
			return SG_DROP_MAX;
		}
		/* RFC 9853 §5.4: an invalid path_response is silently discarded. */
		dp_count(&w->c.rrc_responses_refused, 1);
		return SG_DROP_RRC_REFUSED;
	default:
		/*
		 * path_drop answers the enhanced check (§5.2), which we never start;
		 * unknown types are parsed and ignored (§4).
		 */
		break;
	}
	dp_count(&w->c.rrc_ignored, 1);
	return SG_DROP_RRC_REFUSED;
}

/*
 * Seal and send what rrc_input() and peer_moved() queued, each under its
 * session's current keys (RFC 9853 §4) in a frame of its own; not an outcome
 * of any received packet. After downlink_finish(): it reuses w->seal.
 */
static void rrc_flush(struct dp_worker *w, struct burst *b)
{
	const struct sg_dp *dp = w->dp;
	const struct sg_dp_port_conf *dev = &dp->conf.ports[dp->dev_port];
	struct rte_mbuf *m[SG_BURST_MAX];
	uint16_t which[SG_BURST_MAX];

	for (unsigned done = 0; done < b->n_rrc;) {
		unsigned n = 0, k;

		for (k = done; k < b->n_rrc && n < SG_BURST_MAX; k++) {
			const struct rrc_out *o = &b->rrc[k];
			const struct sg_sess_ref *ref = &b->st[o->pkt].ref;
			const struct sg_sess *s = ref->sess;
			struct sg_rec_seal_op *op = &w->seal[n];
			uint8_t fam = sg_ip6_is_v4_mapped(o->to.paddr) ? 4 : 6;
			enum sg_aead aead = (enum sg_aead)ref->sa->aead;
			int tx_cid = (ref->sa->flags & SG_SA_F_TX_CID) != 0;
			unsigned head = dp_hdr_len(dev, fam) +
			                sg_rec_seal_headroom(aead, tx_cid, s->peer_cid_len);
			struct rte_mbuf *c = rte_pktmbuf_alloc(dp->conf.pool);

			if (c == NULL) {
				dp_count(&w->c.rrc_send_failed, 1);
				continue;
			}
			op->buf = c->buf_addr;
			op->buf_len = c->buf_len;
			op->pt_off = head;
			op->pt_len = SG_RRC_MSG_LEN;
			op->sa = ref->sa;
			op->cid = tx_cid ? sg_sess_peer_cid(dp->conf.sessions, s) : NULL;
			op->cid_len = tx_cid ? s->peer_cid_len : 0;
			op->type = SG_DTLS_CT_RRC;
			op->pad_len = 0;
			memcpy(op->buf + head, o->msg, SG_RRC_MSG_LEN);
			m[n] = c;
			which[n++] = (uint16_t)k;
		}
		done = k;
		if (n == 0)
			continue;
		sg_rec_seal_burst(w->rec, w->seal, n);
		for (unsigned j = 0; j < n; j++) {
			const struct sg_rec_seal_op *op = &w->seal[j];
			const struct rrc_out *o = &b->rrc[which[j]];

			if (op->status != SG_REC_OK || device_frame(dp, m[j], op, &o->to) != 0) {
				dp_count(&w->c.rrc_send_failed, 1);
				rte_pktmbuf_free(m[j]);
				continue;
			}
			dp_count(&w->c.records_sealed, 1);
			if (unlikely(((op->seq + 1) & w->floor_mask) == 0))
				dp_floor_mark(w, &b->st[o->pkt].ref);
			dp_count(o->msg[0] == SG_RRC_PATH_CHALLENGE ? &w->c.rrc_challenges
			                                            : &w->c.rrc_answered,
			         1);
			tx_enqueue(w, (unsigned)dp->dev_port, m[j], DP_OUT_NONE);
		}
	}
	b->n_rrc = 0;
}

/*
 * After the open burst: forward each application record, punt authenticated
 * alerts, count the rest. Of everything one datagram produces, the first
 * output carries its outcome (forwarded or punted); when it produces none,
 * its first failure is its drop reason.
 */
static void uplink_finish(struct dp_worker *w, struct burst *b, unsigned n_ops)
{
	const struct sg_dp *dp = w->dp;
	const struct sg_dp_port_conf *bp = &dp->conf.ports[dp->backend_port];
	unsigned o = 0;

	for (unsigned i = 0; i < b->n; i++) {
		struct pkt_st *st = &b->st[i];
		struct rte_mbuf *m = b->m[i];
		enum sg_drop first = SG_DROP_MAX, rr = SG_DROP_MAX;
		bool counted = false, in_place_used = false, routed = false, exhausted = false;
		bool newest = false, new_window = false;
		struct up_route route;
		struct sg_sess_tuple from;

		if (st->act != ACT_UP)
			continue;
		st->act = ACT_DONE;
		/* The sender, read before anything is forwarded in place over the frame. */
		if (st->key == KEY_CID) {
			pkt_tuple(&st->pkt, &from);
			for (unsigned k = o; k < n_ops && b->op_pkt[k] == i; k++) {
				const struct sg_rec_open_op *op = &w->open[k];

				/* The session's newest record so far, under its current keys. */
				if (op->status == SG_REC_OK && op->sa == st->ref.sa &&
				    op->seq + 1 == op->sa->rx_top) {
					newest = true;
					break;
				}
			}
		}
		for (; o < n_ops && b->op_pkt[o] == i; o++) {
			struct sg_rec_open_op *op = &w->open[o];
			uint8_t *pt = op->rec + op->pt_off, *cp;
			enum sg_dp_punt to_ctl;
			struct rte_mbuf *c;

			if (op->status != SG_REC_OK) {
				exhausted |= op->status == SG_REC_AUTH_LIMIT ||
				             op->status == SG_REC_KEY_EXHAUSTED;
				if (first == SG_DROP_MAX)
					first = rec_drop_reason((enum sg_rec_status)op->status);
				continue;
			}
			dp_count(&w->c.records_opened, 1);
			/* Alive (policy.idle_timeout); the line is ours and in cache. */
			if (st->ref.sess->last_rx != w->now_s) {
				/* Its first record in a new seq_interval_s window: a floor. */
				new_window |= st->ref.sess->last_rx < w->win_start;
				__atomic_store_n(&st->ref.sess->last_rx, w->now_s,
				                 __ATOMIC_RELAXED);
			}
			/*
			 * For the control plane, with the session: close_notify or a
			 * fatal alert (it ends the session); or the device's Finished
			 * again under the session's keys, which are its handshake's
			 * epoch-1 keys: our final flight was lost (RFC 6347 §4.2.4) and
			 * the handshake server resends it. A tls12_cid record (RFC 9146)
			 * comes this way: its type shows only once opened.
			 */
			to_ctl = op->type == SG_DTLS_CT_ALERT ? SG_DP_PUNT_ALERT
			         : op->type == SG_DTLS_CT_HANDSHAKE && is_finished(pt, op->pt_len)
			                 ? SG_DP_PUNT_FINISHED
			                 : SG_DP_PUNT_MAX;
			if (to_ctl != SG_DP_PUNT_MAX) {
				if (!punt_plaintext(w, b, st, pt, op->pt_len, to_ctl, !counted)) {
					if (first == SG_DROP_MAX)
						first = SG_DROP_NO_MBUF;
					continue;
				}
				counted = true;
				continue;
			}
			if (op->type == SG_DTLS_CT_RRC) {
				/* Opened only where rrc was negotiated (SG_SA_F_RRC). */
				enum sg_drop why = rrc_input(
				        w, b, i, pt, op->pt_len,
				        st->key == KEY_CID ? &from : &st->ref.sess->tuple);

				if (why != SG_DROP_MAX) {
					if (first == SG_DROP_MAX)
						first = why;
				} else if (!counted) {
					dp_count(&w->c.consumed, 1);
					counted = true;
				}
				continue;
			}
			if (op->type != SG_DTLS_CT_APPLICATION_DATA) {
				/* Any other handshake message is renegotiation: refused. */
				if (first == SG_DROP_MAX)
					first = op->type == SG_DTLS_CT_HANDSHAKE
					                ? SG_DROP_RENEGOTIATION
					                : SG_DROP_DTLS_TYPE;
				continue;
			}
			if (!routed) {
				rr = up_route(w, st, &route);
				routed = true;
			}
			if (rr != SG_DROP_MAX) {
				if (first == SG_DROP_MAX)
					first = rr;
				continue;
			}
			if (!in_place_used &&
			    (size_t)(pt - (uint8_t *)m->buf_addr) >=
			            route.pp2_len + dp_hdr_len(bp, route.family)) {
				c = m;
				cp = pt;
				in_place_used = true;
			} else {
				c = copy_plaintext(w, pt, op->pt_len, &cp);
				if (c == NULL) {
					if (first == SG_DROP_MAX)
						first = SG_DROP_NO_MBUF;
					continue;
				}
			}
			up_frame(w, c, cp, op->pt_len, &route);
			tx_enqueue(w, (unsigned)dp->backend_port, c,
			           counted ? DP_OUT_NONE : DP_OUT_UP);
			counted = true;
		}
		if (unlikely(exhausted))
			notify_exhausted(w, b, st);
		/* The receive top crossed a multiple of the floor step (mask: the bits below it).
		 */
		if (unlikely((st->ref.sa->rx_top ^ st->rx_top0) > w->floor_mask || new_window))
			dp_floor_mark(w, &st->ref);
		/* After its records: a path_response in this datagram may have moved it. */
		if (newest)
			peer_moved(w, b, i, &from);

		if (in_place_used)
			continue;
		if (counted) {
			rte_pktmbuf_free(m);
			continue;
		}
		/* A malformed record at the end of the datagram, if nothing else failed. */
		if (first == SG_DROP_MAX && b->hdr[st->rec0 + st->n_rec - 1].status != SG_REC_OK)
			first = rec_drop_reason(b->hdr[st->rec0 + st->n_rec - 1].status);
		drop(w, m, first == SG_DROP_MAX ? SG_DROP_DTLS_TYPE : first);
	}
}

/* ---- stage 4/5 downlink: seal and send ---- */

static unsigned build_seal_ops(struct dp_worker *w, struct burst *b)
{
	const struct sg_dp *dp = w->dp;
	const struct sg_dp_port_conf *dev = &dp->conf.ports[dp->dev_port];
	unsigned n = 0;

	for (unsigned i = 0; i < b->n; i++) {
		struct pkt_st *st = &b->st[i];
		struct rte_mbuf *m = b->m[i];
		struct sg_rec_seal_op *op;
		const struct sg_sess *s;
		const struct sg_rec_sa *sa;
		uint8_t *buf = m->buf_addr, *pt, fam;
		uint32_t head, tail, have_head, have_tail;
		int tx_cid;

		if (st->act != ACT_DOWN)
			continue;
		s = st->ref.sess;
		sa = st->ref.sa;
		tx_cid = (sa->flags & SG_SA_F_TX_CID) != 0;
		fam = sg_ip6_is_v4_mapped(s->tuple.paddr) ? 4 : 6;
		head = dp_hdr_len(dev, fam) +
		       sg_rec_seal_headroom((enum sg_aead)sa->aead, tx_cid, s->peer_cid_len);
		tail = sg_rec_seal_tailroom((enum sg_aead)sa->aead, tx_cid, 0);
		pt = rte_pktmbuf_mtod(m, uint8_t *) + st->dl_off;
		have_head = (uint32_t)(pt - buf);
		have_tail = (uint32_t)(buf + m->buf_len - (pt + st->dl_len));
		if (have_head < head) {
			/* A long peer CID: slide the plaintext back if the buffer allows. */
			uint32_t need = head - have_head;

			if (have_tail < tail + need) {
				st->act = ACT_DROP;
				st->reason = SG_DROP_TOO_BIG;
				continue;
			}
			memmove(pt + need, pt, st->dl_len);
			pt += need;
		} else if (have_tail < tail) {
			st->act = ACT_DROP;
			st->reason = SG_DROP_TOO_BIG;
			continue;
		}
		op = &w->seal[n];
		op->buf = buf;
		op->buf_len = m->buf_len;
		op->pt_off = (uint32_t)(pt - buf);
		op->pt_len = st->dl_len;
		op->sa = st->ref.sa;
		op->cid = tx_cid ? sg_sess_peer_cid(dp->conf.sessions, s) : NULL;
		op->cid_len = tx_cid ? s->peer_cid_len : 0;
		op->type = SG_DTLS_CT_APPLICATION_DATA;
		op->pad_len = 0;
		b->seal_pkt[n++] = (uint8_t)i;
	}
	return n;
}

static void downlink_finish(struct dp_worker *w, struct burst *b, unsigned n_ops)
{
	const struct sg_dp *dp = w->dp;

	for (unsigned o = 0; o < n_ops; o++) {
		const struct sg_rec_seal_op *op = &w->seal[o];
		unsigned i = b->seal_pkt[o];
		struct pkt_st *st = &b->st[i];
		struct rte_mbuf *m = b->m[i];

		st->act = ACT_DONE;
		if (op->status != SG_REC_OK) {
			drop(w, m, rec_drop_reason((enum sg_rec_status)op->status));
			continue;
		}
		dp_count(&w->c.records_sealed, 1);
		/* The next write sequence reached a multiple of the floor step. */
		if (unlikely(((op->seq + 1) & w->floor_mask) == 0))
			dp_floor_mark(w, &st->ref);
		if (device_frame(dp, m, op, &st->ref.sess->tuple) != 0) {
			drop(w, m, SG_DROP_NO_NEIGHBOUR);
			continue;
		}
		tx_enqueue(w, (unsigned)dp->dev_port, m, DP_OUT_DOWN);
	}
}

/* ---- the burst ---- */

static void handoff(struct dp_worker *w, struct rte_mbuf *m, unsigned port, uint16_t owner)
{
	struct sg_dp *dp = w->dp;
	struct sg_dp_meta *meta = dp_meta(dp, m);

	if (owner >= dp->conf.n_workers) {
		drop(w, m, SG_DROP_BAD_SA);
		return;
	}
	meta->port = (uint8_t)port;
	meta->worker = (uint8_t)w->idx;
	if (rte_ring_mp_enqueue(dp->w[owner]->handoff, m) != 0) {
		drop(w, m, SG_DROP_HANDOFF_RING_FULL);
		return;
	}
	dp_count(&w->c.handed_off, 1);
}

static void process(struct dp_worker *w, struct burst *b, const uint8_t *ports)
{
	unsigned n_open, n_seal;

	classify(w, b, ports);
	lookup(w, b);

	n_open = build_open_ops(w, b);
	if (n_open) {
		sg_rec_open_burst(w->rec, w->open, n_open);
		retry_prev(w, b, n_open);
	}
	n_seal = build_seal_ops(w, b);
	if (n_seal)
		sg_rec_seal_burst(w->rec, w->seal, n_seal);

	b->n_rrc = 0;
	uplink_finish(w, b, n_open);
	downlink_finish(w, b, n_seal);
	if (unlikely(b->n_rrc != 0))
		rrc_flush(w, b);

	for (unsigned i = 0; i < b->n; i++) {
		struct pkt_st *st = &b->st[i];

		switch (st->act) {
		case ACT_DROP:
			drop(w, b->m[i], (enum sg_drop)st->reason);
			break;
		case ACT_PUNT:
			punt(w, b, b->m[i], st->port, (enum sg_dp_punt)st->reason, 0, true,
			     punt_queue(w->dp, st));
			break;
		case ACT_HANDOFF:
			handoff(w, b->m[i], st->port, st->ref.sess->owner);
			break;
		default:
			break;
		}
	}
	if (unlikely(w->n_floor != 0))
		dp_floor_flush(w);
	punt_flush(w, b);
	tx_flush(w);
}

/*
 * Worker 0: send the control plane's frames, a few bursts a poll (a storm's
 * flights come in thousands); an empty ring costs one dequeue.
 */
static void ctl_tx_drain(struct dp_worker *w)
{
	const struct sg_dp *dp = w->dp;

	for (unsigned r = 0; r < DP_CTL_TX_ROUNDS; r++) {
		struct rte_mbuf *c[SG_BURST_MAX];
		unsigned k = rte_ring_dequeue_burst(dp->ctl_txr, (void **)c, SG_BURST_MAX, NULL);

		for (unsigned i = 0; i < k; i++)
			tx_enqueue(w, dp_meta(dp, c[i])->port, c[i], DP_OUT_NONE);
		if (k)
			tx_flush(w);
		if (k < SG_BURST_MAX)
			break;
	}
}

unsigned sg_dp_worker_poll(struct sg_dp *dp, unsigned worker)
{
	struct dp_worker *w = dp->w[worker];
	static __thread struct burst b;
	uint8_t ports[SG_BURST_MAX];
	unsigned total = 0;
	uint64_t tsc = rte_rdtsc();

	w->now_tsc = tsc;

	/* The wall clock for last_rx, a division only when a second has passed. */
	if (unlikely(tsc >= w->next_s_tsc)) {
		uint64_t s = (tsc - dp->tsc0) / dp->tsc_hz;

		w->now_s = (uint32_t)(dp->unix0 + s);
		w->next_s_tsc = dp->tsc0 + (s + 1) * dp->tsc_hz;
		if (dp->conf.seq_interval_s != 0 && dp->conf.seq_step != 0)
			w->win_start = w->now_s - w->now_s % dp->conf.seq_interval_s;
	}

	for (unsigned p = 0; p < dp->conf.n_ports; p++) {
		uint16_t n;

		if (worker >= dp->nb_rxq[p])
			continue;
		n = rte_eth_rx_burst(dp->conf.ports[p].port_id, (uint16_t)worker, b.m,
		                     (uint16_t)dp->conf.burst);
		if (n == 0)
			continue;
		dp_count(&w->c.rx, n);
		for (uint16_t i = 0; i < n; i++) {
			dp_count(&w->c.rx_bytes, b.m[i]->pkt_len);
			ports[i] = (uint8_t)p;
		}
		b.n = n;
		b.n_punt = 0;
		process(w, &b, ports);
		total += n;
	}

	/* Packets other workers received for our sessions (their rx counted them). */
	b.n = rte_ring_sc_dequeue_burst(w->handoff, (void **)b.m, dp->conf.burst, NULL);
	if (b.n) {
		for (unsigned i = 0; i < b.n; i++)
			ports[i] = dp_meta(dp, b.m[i])->port;
		b.n_punt = 0;
		process(w, &b, ports);
		total += b.n;
	}

	/* Worker 0 also sends what the control plane queued (ARP/ND answers, handshake flights). */
	if (worker == 0)
		ctl_tx_drain(w);

	/* Return routability checks that got no answer in time (RFC 9853 §5.5). */
	if (unlikely(w->rrc.pending != 0 && tsc >= w->rrc.sweep_at))
		dp_rrc_sweep(w, tsc);

	/* Keys of ended sessions must not outlive them in our scratch for long. */
	if (unlikely(tsc >= w->scrub_at)) {
		sg_rec_ctx_wipe_keys(w->rec);
		w->scrub_at = tsc + dp->scrub_tsc;
		dp_count(&w->c.key_scrubs, 1);
	}
	sg_sess_quiescent(w->sw);
	dp_count(&w->c.polls, 1);
	if (total == 0)
		dp_count(&w->c.idle_polls, 1);
	return total;
}

int sg_dp_worker_main(void *arg)
{
	struct dp_worker *w = arg;
	struct sg_dp *dp = w->dp;

	sg_sess_worker_online(w->sw);
	while (!__atomic_load_n(&dp->stop, __ATOMIC_RELAXED)) {
		if (sg_dp_worker_poll(dp, w->idx) == 0)
			rte_pause();
	}
	sg_sess_worker_offline(w->sw);
	return 0;
}
