/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The linger table: finished flights kept after completion to answer a
 * client whose copy was lost (RFC 6347 §4.2.4). See hs_linger.h. Calls
 * hs_slots (the peer hash) only, never the output: a resend goes straight
 * to ops.send (hs_priv.h lists the stack). The engine's thread only.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <stormgate/bytes.h>

#include "hs_codec.h"
#include "hs_linger.h"
#include "hs_priv.h"
#include "hs_slots.h"

_Static_assert(__builtin_offsetof(struct hs_linger, sa_mac) ==
                       __builtin_offsetof(struct hs_linger, sa) + sizeof(struct sg_rec_sa),
               "the entry's SA is followed by its MAC line (sg_rec_sa_mac)");
_Static_assert(SG_HS_PEER_CID_MAX <= sizeof(struct sg_rec_sa_mac), "a CID fits the MAC line");

/* The peer of the datagram being handled is hashed once (sg_hs_input()). */
static uint32_t lbucket_of(const struct sg_hs_engine *e, uint32_t hash)
{
	return (hash ^ hash >> 16) & e->lbucket_mask;
}

struct hs_linger *sg_hs_linger_find(struct sg_hs_engine *e, const struct sg_hs_peer *peer,
                                    uint32_t hash)
{
	uint32_t i;

	if (e->n_linger == 0)
		return NULL;
	for (i = e->lbuckets[lbucket_of(e, hash)]; i != HS_NONE; i = e->linger[i].hnext)
		if (e->linger[i].live && hs_peer_eq(&e->linger[i].peer, peer))
			return &e->linger[i];
	return NULL;
}

/*
 * An entry that will answer nothing more: its key is wiped now (the sealed
 * flight is ciphertext and stays until the ring reuses the entry).
 */
void sg_hs_linger_kill(struct hs_linger *l)
{
	l->live = 0;
	l->n_dgrams = 0;
	sg_rec_sa_wipe(&l->sa, HS_SA_WINDOW);
}

static void linger_drop_oldest(struct sg_hs_engine *e)
{
	uint32_t idx = e->linger_oldest;
	struct hs_linger *l = &e->linger[idx];
	uint32_t *pp = &e->lbuckets[l->bucket];

	while (*pp != idx)
		pp = &e->linger[*pp].hnext;
	*pp = l->hnext;
	sg_hs_linger_kill(l);
	e->linger_oldest = (e->linger_oldest + 1) % e->n_linger;
	e->linger_count--;
}

/*
 * A new entry for peer (the oldest is overwritten when the ring is full).
 * It goes to the head of its chain, so it shadows an older entry of the
 * same peer, which expires first anyway (the ring is in time order).
 */
struct hs_linger *sg_hs_linger_new(struct sg_hs_engine *e, const struct sg_hs_peer *peer,
                                   uint32_t hash, uint64_t expires)
{
	struct hs_linger *l;
	uint32_t idx;

	if (e->n_linger == 0)
		return NULL;
	if (e->linger_count == e->n_linger)
		linger_drop_oldest(e);
	idx = (e->linger_oldest + e->linger_count) % e->n_linger;
	l = &e->linger[idx];
	l->peer = *peer;
	l->live = 1;
	l->n_dgrams = 0;
	l->expires = expires;
	l->next_resend = 0;
	l->bucket = lbucket_of(e, hash);
	l->hnext = e->lbuckets[l->bucket];
	e->lbuckets[l->bucket] = idx;
	e->linger_count++;
	return l;
}

/*
 * The lines linger_new() will touch, fetched while the key schedule and the
 * Finished checks run: under a storm the ring is cold and full.
 */
void sg_hs_linger_prefetch(const struct sg_hs_engine *e, uint32_t hash)
{
	if (e->n_linger == 0)
		return;
	__builtin_prefetch(&e->linger[e->linger_oldest], 1);
	__builtin_prefetch(&e->linger[(e->linger_oldest + e->linger_count) % e->n_linger], 1);
	__builtin_prefetch(&e->lbuckets[lbucket_of(e, hash)], 1);
}

static size_t linger_used(const struct hs_linger *l)
{
	size_t n = 0;

	for (unsigned i = 0; i < l->n_dgrams; i++)
		n += l->dgram_len[i];
	return n;
}

void sg_hs_linger_arm(struct hs_linger *l, const struct hs_slot *s, const uint8_t *fin)
{
	/* The SA and, for CBC, its MAC line: sg_rec_sa_size_for() bytes; then the CID of an
	 * AEAD session (a CBC one has none: peer_cid_len 0, the MAC line stays). */
	memcpy(&l->sa, &s->sa, sg_rec_sa_size_for(HS_SA_WINDOW, s->sa.aead));
	l->fin_left = LINGER_RESENDS;
	l->ep0_seq = s->ep0_seq;
	l->peer_cid_len = s->peer_cid_len;
	memcpy(l->peer_cid, s->peer_cid, s->peer_cid_len);
	memcpy(l->fin_msg, fin, sizeof(l->fin_msg));
}

int sg_hs_linger_keep(struct hs_linger *l, const uint8_t *dgram, size_t len)
{
	if (l->n_dgrams < LINGER_DGRAMS && linger_used(l) + len <= LINGER_FLIGHT_MAX) {
		memcpy(l->flight + linger_used(l), dgram, len);
		l->dgram_len[l->n_dgrams++] = (uint16_t)len;
		return 0;
	}
	sg_hs_linger_kill(l); /* cannot keep it whole: keep none */
	return -ENOSPC;
}

/*
 * Our Finished in a new record under the entry's next reserved sequence
 * number, over its old record at the end of the last datagram d (len
 * bytes). 0, -ENOSPC (no number left) or -EIO.
 */
static int linger_reseal(struct sg_hs_engine *e, struct hs_linger *l, uint8_t *d, size_t len)
{
	enum sg_aead aead = (enum sg_aead)l->sa.aead;
	bool cid = l->sa.flags & SG_SA_F_TX_CID;
	unsigned head = sg_rec_seal_headroom(aead, cid, l->peer_cid_len);
	struct sg_rec_seal_op op = {
		.buf = e->scratch,
		.buf_len = (uint32_t)(head + LINGER_FIN_LEN + sg_rec_seal_tailroom(aead, cid, 0)),
		.pt_off = head,
		.pt_len = LINGER_FIN_LEN,
		.sa = &l->sa,
		.cid = l->peer_cid,
		.cid_len = l->peer_cid_len,
		.type = SG_DTLS_CT_HANDSHAKE,
	};

	if (l->fin_left == 0)
		return -ENOSPC;
	memcpy(e->scratch + head, l->fin_msg, LINGER_FIN_LEN);
	if (sg_rec_seal_burst(e->rec, &op, 1) != 1 || op.rec_len > len)
		return -EIO;
	l->fin_left--;
	memcpy(d + len - op.rec_len, e->scratch + op.rec_off, op.rec_len);
	return 0;
}

/* New numbers for the epoch-0 records at the start of a kept datagram (p, len). */
static void linger_renumber(struct hs_linger *l, uint8_t *p, size_t len)
{
	size_t off = 0;

	while (off + SG_DTLS_HDR_LEN <= len && sg_load_be16(p + off + 3) == 0) {
		sg_store_be48(p + off + 5, l->ep0_seq++);
		off += SG_DTLS_HDR_LEN + sg_load_be16(p + off + 11);
	}
}

/*
 * Resend a finished flight (RFC 6347 §4.2.4) in new records: the epoch-0
 * ones renumbered, our Finished sealed anew (hs_linger.h). The address is
 * proven: the Finished that asked for it authenticated. 0, or -ENOSPC when
 * the reserved numbers are spent (counted linger_spent; nothing sent).
 */
static int linger_resend(struct sg_hs_engine *e, struct hs_rx *x, struct hs_linger *l)
{
	size_t off = 0, last = 0;

	for (unsigned i = 0; i + 1 < l->n_dgrams; i++)
		last += l->dgram_len[i];
	if (l->n_dgrams == 0 ||
	    linger_reseal(e, l, l->flight + last, l->dgram_len[l->n_dgrams - 1]) < 0) {
		hs_count(e, SG_HS_C_LINGER_SPENT);
		return -ENOSPC;
	}
	for (unsigned i = 0; i < l->n_dgrams; i++) {
		linger_renumber(l, l->flight + off, l->dgram_len[i]);
		if (e->conf.ops.send(e->conf.ops.ctx, x->peer, l->flight + off, l->dgram_len[i]) <
		    0)
			hs_count(e, SG_HS_C_SEND_FAILED);
		off += l->dgram_len[i];
	}
	hs_count(e, SG_HS_C_LINGER_RESENT);
	x->handled = 1;
	return 0;
}

/*
 * A datagram from the peer of a finished full handshake: when our last
 * flight was lost, the client repeats its own (ClientKeyExchange, CCS,
 * Finished; RFC 6347 §4.2.4). If the datagram holds an epoch-1 record, it
 * alone decides: the first one (a tls12_cid one with CIDs) must open under
 * the client's write key, be fresh in the replay window and hold a
 * Finished; then the flight goes again, at most once per rto_initial_ms.
 * Epoch-0 records alone get nothing, the client's own ClientKeyExchange
 * included: anyone can send one (a made-up one, or a copy of the client's),
 * and answering it would amplify a spoofed one tenfold. A client that sends
 * its Finished in a datagram of its own still gets here: the data plane
 * punts a datagram that starts with a handshake record in any epoch, and a
 * Finished under a session's CID reaches sg_hs_finished_again().
 */
void sg_hs_linger_input(struct sg_hs_engine *e, struct hs_rx *x, struct hs_linger *l,
                        const uint8_t *dgram, const struct sg_rec_hdr *recs, unsigned n)
{
	const struct sg_rec_hdr *rh = NULL;
	struct sg_rec_open_op op;
	struct sg_hs_msg_hdr mh;
	int m;

	/* One open per datagram, whatever else it holds. */
	for (unsigned i = 0; i < n && rh == NULL; i++)
		if (recs[i].epoch == 1 &&
		    (recs[i].type == SG_DTLS_CT_HANDSHAKE || recs[i].type == SG_DTLS_CT_TLS12_CID))
			rh = &recs[i];
	if (rh == NULL) {
		hs_rx_drop(x, SG_HS_C_DROP_UNAUTHENTICATED);
		return;
	}
	if (rh->len > e->scratch_len) {
		hs_rx_drop(x, SG_HS_C_DROP_UNAUTHENTICATED);
		return;
	}
	memcpy(e->scratch, dgram + rh->off, rh->len);
	op = (struct sg_rec_open_op){ .rec = e->scratch, .rec_len = rh->len, .sa = &l->sa };
	if (sg_rec_open_burst(e->rec, &op, 1) != 1) {
		hs_rx_drop(x, hs_open_drop(op.status));
		return;
	}
	m = op.type == SG_DTLS_CT_HANDSHAKE
	            ? sg_hs_msg_hdr_parse(e->scratch + op.pt_off, op.pt_len, &mh)
	            : -EBADMSG;
	if (m < 0 || (size_t)m != op.pt_len || mh.type != SG_TLS_HT_FINISHED ||
	    mh.length != SG_TLS_VERIFY_DATA_LEN || mh.frag_off != 0 || mh.frag_len != mh.length) {
		/* The client's, but no Finished: a renegotiating ClientHello (refused). */
		hs_rx_drop(x, SG_HS_C_DROP_NO_STATE);
		return;
	}
	if (x->now.mono_ms < l->next_resend) {
		hs_rx_drop(x, SG_HS_C_DROP_DUPLICATE);
		return;
	}
	l->next_resend = x->now.mono_ms + e->conf.rto_initial_ms;
	if (linger_resend(e, x, l) < 0)
		hs_rx_drop(x, SG_HS_C_DROP_DUPLICATE); /* answered as often as it will be */
}

int sg_hs_finished_again(struct sg_hs_engine *e, struct sg_hs_time now,
                         const struct sg_hs_peer *peer)
{
	struct hs_rx x = { .now = now, .peer = peer, .drop = -1 };
	struct hs_linger *l;

	if (e == NULL || peer == NULL)
		return -EINVAL;
	x.hash = sg_hs_peer_hash(e->seed, peer);
	l = sg_hs_linger_find(e, peer, x.hash);
	if (l == NULL)
		return -ENOENT;
	if (now.mono_ms < l->next_resend)
		return -EAGAIN;
	l->next_resend = now.mono_ms + e->conf.rto_initial_ms;
	return linger_resend(e, &x, l);
}

int sg_hs_finished_forget(struct sg_hs_engine *e, const struct sg_hs_peer *peer)
{
	struct hs_linger *l;

	if (e == NULL || peer == NULL)
		return -EINVAL;
	l = sg_hs_linger_find(e, peer, sg_hs_peer_hash(e->seed, peer));
	if (l == NULL)
		return -ENOENT;
	sg_hs_linger_kill(l);
	return 0;
}

unsigned sg_hs_linger_expire(struct sg_hs_engine *e, uint64_t now_ms)
{
	unsigned n = 0;

	while (e->linger_count > 0 && e->linger[e->linger_oldest].expires <= now_ms) {
		linger_drop_oldest(e);
		n++;
	}
	return n;
}

uint64_t sg_hs_linger_next_expiry(const struct sg_hs_engine *e)
{
	return e->linger_count > 0 ? e->linger[e->linger_oldest].expires : UINT64_MAX;
}

int sg_hs_linger_alloc(struct sg_hs_engine *e)
{
	e->n_linger = e->conf.linger_entries;
	e->linger = aligned_alloc(SG_CACHE_LINE, sizeof(*e->linger) * e->n_linger);
	e->lbucket_mask = hs_pow2_at_least(2 * e->n_linger) - 1;
	e->lbuckets = malloc(sizeof(uint32_t) * (e->lbucket_mask + 1));
	if (e->linger == NULL || e->lbuckets == NULL) {
		free(e->linger);
		free(e->lbuckets);
		e->linger = NULL;
		e->lbuckets = NULL;
		return -ENOMEM;
	}
	memset(e->linger, 0, sizeof(*e->linger) * e->n_linger);
	memset(e->lbuckets, 0xff, sizeof(uint32_t) * (e->lbucket_mask + 1));
	return 0;
}

void sg_hs_linger_free(struct sg_hs_engine *e)
{
	if (e->linger)
		sg_wipe(e->linger, sizeof(*e->linger) * e->n_linger);
	free(e->linger);
	free(e->lbuckets);
	e->linger = NULL;
	e->lbuckets = NULL;
}
