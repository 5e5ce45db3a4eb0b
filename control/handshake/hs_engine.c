/* SPDX-License-Identifier: Apache-2.0 */
/*
 * DTLS 1.2 handshake server engine, its dispatcher and life cycle: each
 * datagram's records to the step that handles them (sg_hs_input), the
 * timers (sg_hs_tick), creation and destruction, counters, revocation and
 * the policy a running engine takes. The top of the engine's stack of parts
 * (hs_priv.h lists it): it calls the steps (hs_hello.c, hs_kx.c,
 * hs_finish.c), hs_flights.c for a retransmission, and hs_output.c,
 * hs_linger.c, hs_slots.c and the leaves; no part calls it. See
 * include/stormgate/handshake.h for the contract and docs/handshake.md for
 * the design. The engine's thread only; owns everything in struct
 * sg_hs_engine, and calls every callback of struct sg_hs_ops through the
 * steps. An ECDHE-ECDSA handshake's client messages go to hs_certpeer.c
 * (docs/certificates.md has its flights).
 *
 * Flow of a full handshake (RFC 6347 §4.2.4, figure 1; RFC 4279 §2):
 *
 *   ClientHello            ->                           (stateless cookie check)
 *                          <- HelloVerifyRequest        (only when cookies apply)
 *   ClientHello + cookie   ->                           (slot taken here)
 *                          <- ServerHello [ServerKeyExchange] ServerHelloDone
 *   ClientKeyExchange ChangeCipherSpec Finished ->      (PSK lookup, keys, verify)
 *                          <- [NewSessionTicket] ChangeCipherSpec Finished
 *                                                       (installed; slot freed;
 *                                                        flight kept in linger)
 * and of an abbreviated one (RFC 5077 §3.1):
 *
 *   ClientHello + ticket   ->
 *                          <- ServerHello ChangeCipherSpec Finished
 *   ChangeCipherSpec Finished ->                        (installed; slot freed)
 *
 * Everything runs on the engine's one thread.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "hs_batch.h"
#include "hs_bigmsg.h"
#include "hs_certflight.h"
#include "hs_certpeer.h"
#include "hs_finish.h"
#include "hs_flights.h"
#include "hs_hello.h"
#include "hs_kx.h"
#include "hs_linger.h"
#include "hs_output.h"
#include "hs_priv.h"
#include "hs_slots.h"

/*
 * One complete handshake message from the client while a slot exists. Only
 * a ClientKeyExchange is expected (RFC 5246 §7.4); anything else is
 * unauthenticated noise, dropped without ending the handshake (RFC 6347
 * §4.1.2.7).
 */
static void on_message(struct sg_hs_engine *e, struct hs_rx *x, struct hs_slot *s,
                       const struct sg_hs_msg_hdr *mh, const uint8_t *body)
{
	/* ECDHE-ECDSA: Certificate, ClientKeyExchange, CertificateVerify (hs_certpeer.h). */
	if (s->state == HS_WAIT_CKE && hs_suite_cert(hs_slot_suite(s))) {
		sg_hs_cert_on_message(e, x, s, mh, body);
		return;
	}
	if (s->state == HS_WAIT_CKE && mh->type == SG_TLS_HT_CLIENT_KEY_EXCHANGE) {
		sg_hs_on_client_kx(e, x, s, body, mh->length);
		return;
	}
	hs_rx_drop(x, SG_HS_C_DROP_UNEXPECTED);
}

/*
 * A fragment of the client's next message into the slot's reassembly (RFC
 * 6347 §4.2.3); the message is handled once whole. Returns false when the
 * slot was freed.
 */
static bool on_fragment(struct sg_hs_engine *e, struct hs_rx *x, struct hs_slot *s,
                        const struct sg_hs_msg_hdr *mh, const uint8_t *frag)
{
	struct sg_hs_msg_hdr whole = *mh;
	int rc;

	/* A certificate handshake's messages come together in the engine's large buffers. */
	if (hs_suite_cert(hs_slot_suite(s)))
		return sg_hs_cert_on_fragment(e, x, s, mh, frag);
	rc = sg_hs_reasm_add(&s->reasm, mh, frag);

	if (rc == -EBADMSG) {
		/*
		 * It disagrees with the fragments gathered so far (their bytes,
		 * type or length, RFC 6347 §4.2.3): one side is forged and
		 * nothing says which. Start over from the newest: a whole
		 * message then always stands, and a forger costs the client at
		 * most a retransmission.
		 */
		sg_hs_reasm_reset(&s->reasm);
		rc = sg_hs_reasm_add(&s->reasm, mh, frag);
	}
	if (rc < 0) {
		/* Longer than any ClientKeyExchange (REASM_CAP): not the client's. */
		hs_rx_drop(x, SG_HS_C_DROP_MALFORMED);
		return true;
	}
	x->handled = 1;
	hs_advanced(x, s);
	if (rc != 1)
		return true;
	whole.frag_off = 0;
	whole.frag_len = mh->length;
	/* Done with the bookkeeping; the bytes are read (and then reused for
	 * the identity) by the handler. */
	sg_hs_reasm_forget(&s->reasm);
	on_message(e, x, s, &whole, s->reasm.buf);
	return e->cur == s;
}

/*
 * Handshake messages in one epoch-0 record (RFC 6347 §4.2.2: a record may
 * hold several, and a message may span records). Of a slot's client only
 * the next message is taken: an earlier one is a retransmission of its
 * flight, a later one (or a fragment of one) comes too soon. Returns false
 * when the slot was freed.
 */
static bool on_handshake_record(struct sg_hs_engine *e, struct hs_rx *x,
                                const struct sg_rec_hdr *rh, const uint8_t *frag)
{
	size_t off = 0;

	while (off < rh->frag_len) {
		struct hs_slot *s = e->cur;
		struct sg_hs_msg_hdr mh;
		const uint8_t *p = frag + off;
		int n = sg_hs_msg_hdr_parse(p, rh->frag_len - off, &mh);

		if (n < 0) {
			hs_rx_drop(x, SG_HS_C_DROP_MALFORMED);
			return s != NULL;
		}
		off += (size_t)n;
		if (mh.type == SG_TLS_HT_CLIENT_HELLO) {
			sg_hs_on_client_hello(e, x, rh, &mh, p + SG_DTLS_HS_HDR_LEN);
			continue;
		}
		if (s == NULL) {
			hs_rx_drop(x, SG_HS_C_DROP_NO_STATE);
			return false;
		}
		if (mh.seq != s->rx_seq || s->state != HS_WAIT_CKE) {
			hs_rx_drop(x, SG_HS_C_DROP_UNEXPECTED);
			continue;
		}
		if (mh.frag_off == 0 && mh.frag_len == mh.length && !s->reasm.active) {
			on_message(e, x, s, &mh, p + SG_DTLS_HS_HDR_LEN);
			if (e->cur != s)
				return false;
		} else if (!on_fragment(e, x, s, &mh, p + SG_DTLS_HS_HDR_LEN)) {
			return false;
		}
	}
	return e->cur != NULL;
}

/*
 * RFC 5246 §7.1: ChangeCipherSpec is one byte, 1. Another is dropped, not
 * fatal: it is not authenticated (RFC 6347 §4.1.2.7).
 */
static void on_ccs(struct hs_rx *x, const struct sg_rec_hdr *rh, const uint8_t *frag)
{
	if (rh->frag_len != 1 || frag[0] != SG_TLS_CCS_VALUE) {
		hs_rx_drop(x, SG_HS_C_DROP_MALFORMED);
		return;
	}
	/* Its order against the Finished is not checked: the epoch in each
	 * record says which keys apply, and a reordered or lost CCS then costs
	 * no retransmission. */
	x->handled = 1;
}

/* An epoch-0 record that starts with a ClientHello (frag: its fragment). */
static bool is_client_hello(const struct sg_rec_hdr *rh, const uint8_t *frag)
{
	return rh->type == SG_DTLS_CT_HANDSHAKE && rh->epoch == 0 &&
	       rh->frag_len >= SG_DTLS_HS_HDR_LEN && frag[0] == SG_TLS_HT_CLIENT_HELLO;
}

/* A datagram from a peer without a slot: a hello, a late retransmission, or noise. */
static void input_stateless(struct sg_hs_engine *e, struct hs_rx *x, const uint8_t *dgram,
                            const struct sg_rec_hdr *recs, unsigned n)
{
	const struct sg_rec_hdr *rh = &recs[0];
	struct hs_linger *l;

	if (is_client_hello(rh, dgram + rh->off + rh->hdr_len)) {
		/* Only the first record: a hello travels alone. */
		on_handshake_record(e, x, rh, dgram + rh->off + rh->hdr_len);
		return;
	}
	l = sg_hs_linger_find(e, x->peer, x->hash);
	if (l == NULL) {
		hs_rx_drop(x, SG_HS_C_DROP_NO_STATE);
		return;
	}
	sg_hs_linger_input(e, x, l, dgram, recs, n);
}

/* A Finished kept while the key exchange was missing: tried once, now that the keys exist. */
static void retry_pending(struct sg_hs_engine *e, struct hs_rx *x)
{
	struct hs_slot *s = e->cur;
	uint8_t rec[PENDING_MAX];
	size_t rl;

	if (s == NULL || s->pending_len == 0 || s->state != HS_WAIT_FINISHED)
		return;
	rl = s->pending_len;
	memcpy(rec, s->pending, rl);
	s->pending_len = 0;
	sg_hs_on_epoch1(e, x, s, rec, rl, x->kx_here && x->pending_here);
}

/* An epoch-0 record of the slot's peer, by content type. */
static void input_epoch0(struct sg_hs_engine *e, struct hs_rx *x, const struct sg_rec_hdr *rh,
                         const uint8_t *frag)
{
	switch (rh->type) {
	case SG_DTLS_CT_HANDSHAKE:
		on_handshake_record(e, x, rh, frag);
		break;
	case SG_DTLS_CT_CHANGE_CIPHER_SPEC:
		on_ccs(x, rh, frag);
		break;
	case SG_DTLS_CT_ALERT:
		/*
		 * Not authenticated: anyone who knows the client's address
		 * could send it, so it ends nothing (RFC 6347 §4.1.2.7). A
		 * client that really gave up stops answering (the slot times
		 * out) or says hello again.
		 */
		hs_rx_drop(x, SG_HS_C_DROP_UNAUTHENTICATED);
		break;
	default:
		/* Application data before the handshake ends; heartbeat. */
		hs_rx_drop(x, SG_HS_C_DROP_UNEXPECTED);
		break;
	}
	retry_pending(e, x);
}

/* One record of a datagram from the peer of a slot (which an earlier record may have freed). */
static void input_record(struct sg_hs_engine *e, struct hs_rx *x, const uint8_t *dgram,
                         const struct sg_rec_hdr *rh)
{
	const uint8_t *frag = dgram + rh->off + rh->hdr_len;
	struct hs_slot *s = e->cur;

	if (s == NULL) {
		/* Freed by an earlier record (failure or completion). */
		if (is_client_hello(rh, frag))
			on_handshake_record(e, x, rh, frag);
		return;
	}
	if ((rh->version >> 8) != 0xfe) {
		hs_rx_drop(x, SG_HS_C_DROP_MALFORMED);
		return;
	}
	if (rh->epoch == 1 && (rh->type == SG_DTLS_CT_HANDSHAKE ||
	                       rh->type == SG_DTLS_CT_TLS12_CID || rh->type == SG_DTLS_CT_ALERT)) {
		sg_hs_on_epoch1(e, x, s, dgram + rh->off, rh->len, x->kx_here);
		return;
	}
	if (rh->epoch != 0) {
		hs_rx_drop(x, SG_HS_C_DROP_UNEXPECTED);
		return;
	}
	input_epoch0(e, x, rh, frag);
}

/* One datagram, as sg_hs_input(); pre: its key exchange as the burst prepared it, or NULL. */
static int input_one(struct sg_hs_engine *e, struct sg_hs_time now, const struct sg_hs_peer *peer,
                     const uint8_t *dgram, size_t len, uint64_t tag, struct hs_kx_pre *pre)
{
	struct sg_rec_hdr recs[RECS_PER_DGRAM];
	struct hs_rx x = {
		.now = now, .peer = peer, .tag = tag, .len = len, .drop = -1, .pre = pre
	};
	unsigned n;

	/*
	 * No handshake datagram is longer (handshake.h), and the cookie MAC
	 * input and the records being opened are copied into the fixed scratch.
	 */
	if (len > SG_HS_DGRAM_MAX) {
		hs_count(e, SG_HS_C_DROP_MALFORMED);
		return -EMSGSIZE;
	}
	n = sg_rec_parse(dgram, len, e->conf.cid_len, recs, RECS_PER_DGRAM);
	if (n == 0 || recs[0].status != SG_REC_OK) {
		hs_count(e, SG_HS_C_DROP_MALFORMED);
		return 0;
	}
	if (recs[n - 1].status != SG_REC_OK)
		n--; /* process what framed before the break; it is counted if nothing else */
	hs_secrets_sync(e); /* another thread may have rotated the shared keys */
	x.hash = sg_hs_peer_hash(e->seed, peer);
	e->cur = sg_hs_slot_find(e, peer, x.hash);
	if (e->cur == NULL) {
		input_stateless(e, &x, dgram, recs, n);
	} else {
		/* Whatever it holds, it came from (or in the name of) this address. */
		e->cur->bytes_in = hs_add_sat32(e->cur->bytes_in, len);
		for (unsigned i = 0; i < n; i++)
			input_record(e, &x, dgram, &recs[i]);
	}
	if (x.handled)
		hs_count(e, SG_HS_C_DGRAM_HANDLED);
	else
		hs_count(e, x.drop >= 0 ? (enum sg_hs_counter)x.drop : SG_HS_C_DROP_UNEXPECTED);
	/* Finished records, alerts and tickets leave schedules of their keys behind. */
	sg_rec_ctx_wipe_used(e->rec);
	return 0;
}

int sg_hs_input(struct sg_hs_engine *e, struct sg_hs_time now, const struct sg_hs_peer *peer,
                const uint8_t *dgram, size_t len, uint64_t tag)
{
	if (e == NULL || peer == NULL || (dgram == NULL && len > 0))
		return -EINVAL;
	return input_one(e, now, peer, dgram, len, tag, NULL);
}

/* ---- bursts (docs/handshake.md, "Batched key derivation") -------------------------------- */

/*
 * The ClientKeyExchange that datagram d would hand to its slot's key
 * exchange step first, if that is all it can be: the slot waits for it
 * (no reassembly under way), and the datagram's first record is an epoch-0
 * handshake record whose first message is the whole key exchange with the
 * expected message_seq (the client's flight 5, RFC 6347 §4.2.4). Anything
 * else (fragments, a hello, odd order) is left to the datagram's turn.
 * Returns the slot, or NULL; *body, *len, *seq: the message.
 */
static struct hs_slot *kx_candidate(struct sg_hs_engine *e, const struct sg_hs_dgram *d,
                                    const uint8_t **body, size_t *len, uint16_t *seq)
{
	struct sg_rec_hdr rh;
	struct sg_hs_msg_hdr mh;
	struct hs_slot *s;
	const uint8_t *frag;

	if (d->data == NULL || d->len > SG_HS_DGRAM_MAX ||
	    sg_rec_parse(d->data, d->len, e->conf.cid_len, &rh, 1) == 0 || rh.status != SG_REC_OK)
		return NULL;
	if ((rh.version >> 8) != 0xfe || rh.epoch != 0 || rh.type != SG_DTLS_CT_HANDSHAKE)
		return NULL;
	s = sg_hs_slot_find(e, &d->peer, sg_hs_peer_hash(e->seed, &d->peer));
	if (s == NULL || s->state != HS_WAIT_CKE || s->reasm.active)
		return NULL;
	frag = d->data + rh.off + rh.hdr_len;
	if (sg_hs_msg_hdr_parse(frag, rh.frag_len, &mh) < 0 ||
	    mh.type != SG_TLS_HT_CLIENT_KEY_EXCHANGE || mh.seq != s->rx_seq || mh.frag_off != 0 ||
	    mh.frag_len != mh.length)
		return NULL;
	*body = frag + SG_DTLS_HS_HDR_LEN;
	*len = mh.length;
	*seq = mh.seq;
	return s;
}

int sg_hs_input_burst(struct sg_hs_engine *e, struct sg_hs_time now, const struct sg_hs_dgram *d,
                      unsigned n)
{
	struct hs_kx_pre *of[SG_HS_BURST_MAX] = { NULL };
	unsigned m = 0;

	if (e == NULL || (d == NULL && n > 0) || n > SG_HS_BURST_MAX)
		return -EINVAL;
	/*
	 * Phase A: the key exchanges of the burst, prepared without changing
	 * any slot (one per slot: a repeated flight takes its turn alone), then
	 * their key schedules as one batch.
	 */
	for (unsigned i = 0; i < n && n > 1; i++) {
		const uint8_t *body;
		size_t len;
		uint16_t seq;
		struct hs_slot *s = kx_candidate(e, &d[i], &body, &len, &seq);
		bool seen = false;

		for (unsigned j = 0; s != NULL && j < m; j++)
			seen |= e->pre[j].s == s;
		if (s == NULL || seen || !sg_hs_kx_prepare(e, s, body, len, seq, &e->pre[m]))
			continue;
		of[i] = &e->pre[m++];
	}
	if (m > 0)
		sg_hs_kx_prepared_run(e, e->pre, m);
	/* Phase B: each datagram in order, as sg_hs_input(); the key exchanges find their keys. */
	for (unsigned i = 0; i < n; i++) {
		if (d[i].data == NULL && d[i].len > 0)
			continue; /* as sg_hs_input(): refused, nothing counted */
		input_one(e, now, &d[i].peer, d[i].data, d[i].len, d[i].tag, of[i]);
	}
	/* What a turn did not take (its slot went first) holds secrets still. */
	sg_wipe(e->pre, m * sizeof(e->pre[0]));
	return 0;
}

/* ---- time -------------------------------------------------------------------------------- */

/* The engine's own cookie secret and ticket key, when due. Returns the rotations done. */
static unsigned rotate_own(struct sg_hs_engine *e, struct sg_hs_time now)
{
	unsigned done = 0;

	if (sg_hs_cookie_rotate(&e->crypto, &e->cookies, now.mono_ms, e->conf.cookie_rotate_ms) >
	    0) {
		done++;
		e->secrets_gen++;
	}
	if (e->conf.tickets &&
	    sg_hs_ticket_rotate(&e->crypto, &e->tickets, now.unix_s, e->conf.ticket_rotate_s) > 0) {
		done++;
		e->secrets_gen++;
	}
	return done;
}

/* Slot s's timer is due at now_ms: it fails, times out, or resends its flight. */
static void slot_timer(struct sg_hs_engine *e, struct hs_slot *s, uint64_t now_ms)
{
	if (now_ms >= s->expires && s->state == HS_WAIT_FINISHED && (s->flags & SF_AUTH_FAILED)) {
		/*
		 * Keys from the client's key exchange, and records that did not
		 * open under them: most likely a wrong PSK or an unknown identity
		 * whose Finished came in a datagram of its own (sg_hs_on_epoch1
		 * stays silent then). Say it now, the same way for both, and
		 * count it as what it likely was.
		 */
		sg_hs_fail(e, s, sg_hs_finished_failure(s), SG_TLS_ALERT_DECRYPT_ERROR);
		return;
	}
	if (now_ms >= s->expires) {
		hs_count(e, SG_HS_C_TIMEOUT);
		sg_hs_slot_free(e, s);
		return;
	}
	/*
	 * RFC 6347 §4.2.4.1: resend, double the timer up to the cap. A new
	 * period starts, and this is its one resend: a hello the client
	 * repeats before the next expiry gets nothing more.
	 */
	hs_count(e, SG_HS_C_RETRANSMIT_TIMER);
	s->flags &= (uint16_t)~SF_RESENT;
	sg_hs_retransmit(e, s);
	s->rto = s->rto * 2 > e->conf.rto_max_ms ? e->conf.rto_max_ms : s->rto * 2;
	sg_hs_timer_set(e, hs_slot_idx(e, s), now_ms + s->rto);
}

unsigned sg_hs_tick(struct sg_hs_engine *e, struct sg_hs_time now)
{
	struct hs_slot *s;
	unsigned done = 0;

	/* Shared secrets are rotated by their owner (sg_hs_secrets_tick), never here. */
	if (e->conf.secrets == NULL)
		done += rotate_own(e, now);
	while ((s = sg_hs_timer_first(e)) != NULL && s->deadline <= now.mono_ms) {
		done++;
		slot_timer(e, s, now.mono_ms);
	}
	done += sg_hs_linger_expire(e, now.mono_ms);
	/* A reused ECDHE key lives no longer than its window (hs_ecdh.h). */
	done += sg_hs_ecdh_expire(&e->ecdh, now.mono_ms);
	/* A retransmitted abbreviated flight sealed its Finished again. */
	sg_rec_ctx_wipe_used(e->rec);
	return done;
}

uint64_t sg_hs_next_deadline(const struct sg_hs_engine *e)
{
	uint64_t t = e->conf.secrets == NULL ? e->cookies.rotated_ms + e->conf.cookie_rotate_ms
	                                     : UINT64_MAX;
	const struct hs_slot *s = sg_hs_timer_first(e);

	if (s != NULL && s->deadline < t)
		t = s->deadline;
	if (sg_hs_linger_next_expiry(e) < t)
		t = sg_hs_linger_next_expiry(e);
	if (sg_hs_ecdh_next_expiry(&e->ecdh) < t)
		t = sg_hs_ecdh_next_expiry(&e->ecdh);
	return t;
}

/* ---- life cycle -------------------------------------------------------------------------- */

static int apply_defaults(struct sg_hs_config *c)
{
	if (c->max_handshakes == 0 || c->max_handshakes > (1u << 24) || c->ops.psk_lookup == NULL ||
	    c->ops.send == NULL || c->ops.install == NULL || c->cid_len > SG_HS_CID_MAX ||
	    c->cookie_policy > SG_HS_COOKIE_NEVER || c->psk_hint_len > SG_HS_HINT_MAX ||
	    c->dummy_psk_len > SG_TLS_PSK_MAX || (c->cid_len && c->ops.cid_alloc == NULL) ||
	    c->ecdhe_reuse_ms > SG_HS_ECDH_REUSE_MAX)
		return -EINVAL;
	if (c->linger_entries == 0)
		c->linger_entries = c->max_handshakes;
	if (c->cookie_threshold == 0)
		c->cookie_threshold = c->max_handshakes / 4 ? c->max_handshakes / 4 : 1;
	if (c->cookie_rotate_ms == 0)
		c->cookie_rotate_ms = 30000;
	if (c->ticket_lifetime_s == 0)
		c->ticket_lifetime_s = 86400;
	if (c->ticket_rotate_s == 0)
		c->ticket_rotate_s = 43200;
	if (c->session_lifetime_s == 0)
		c->session_lifetime_s = 86400;
	if (c->mtu == 0)
		c->mtu = 1280;
	if (c->mtu < MTU_MIN || c->mtu > MTU_MAX)
		return -EINVAL;
	if (c->record_size_limit == 0 || c->record_size_limit > SG_DTLS_MAX_PLAINTEXT)
		c->record_size_limit = SG_DTLS_MAX_PLAINTEXT;
	if (c->record_size_limit < SG_TLS_RECORD_SIZE_LIMIT_MIN)
		return -EINVAL;
	if (c->replay_window == 0)
		c->replay_window = SG_REPLAY_WINDOW_DEFAULT;
	if (c->replay_window < SG_REPLAY_WINDOW_MIN || c->replay_window > SG_REPLAY_WINDOW_MAX ||
	    (c->replay_window & (c->replay_window - 1)))
		return -EINVAL;
	if (c->dummy_psk_len == 0)
		c->dummy_psk_len = 16;
	if (c->rto_initial_ms == 0)
		c->rto_initial_ms = SG_DTLS_RTO_INITIAL_MS;
	if (c->rto_max_ms == 0)
		c->rto_max_ms = SG_DTLS_RTO_MAX_MS;
	if (c->handshake_timeout_ms == 0)
		c->handshake_timeout_ms = 60000;
	if (c->handshake_timeout_ms > HS_TIMEOUT_MAX_MS)
		return -EINVAL;
	if (c->linger_ms == 0)
		c->linger_ms = 30000;
	return 0;
}

/*
 * A preference list from suites, 0-terminated IANA values; all 0: the
 * registry's default order. 0, or -EINVAL for a suite the engine does not
 * negotiate (prefs then half written).
 */
static int prefs_from(const uint16_t suites[SG_HS_SUITES_MAX],
                      const struct sg_suite *prefs[SG_HS_SUITES_MAX], unsigned *n_prefs)
{
	unsigned n = 0;

	for (unsigned i = 0; i < SG_HS_SUITES_MAX && suites[i]; i++) {
		prefs[n] = hs_suite_negotiable(suites[i]);
		if (prefs[n] == NULL)
			return -EINVAL;
		n++;
	}
	if (n == 0) {
		for (unsigned i = 0; i < SG_SUITES_RANKED; i++)
			prefs[i] = &sg_suites[i];
		n = SG_SUITES_RANKED;
	}
	*n_prefs = n;
	return 0;
}

/*
 * The engine's record context. Handshake keys are used for one or two
 * records, one at a time: no GCM key cache, and the single-buffer manager.
 * No forgery limit on them: a record that does not authenticate is dropped
 * and the handshake goes on (RFC 6347 §4.1.2.7), so CCM_8's RFC 9147
 * §4.5.3 limit of 2^7 would let 128 forged records lock the client's
 * Finished out. These keys open two records or so and live one handshake
 * plus linger_ms; the installed session's SA counts from zero under the
 * data plane's limit.
 */
static struct sg_rec_ctx *rec_ctx_create(unsigned cid_len)
{
	struct sg_rec_ctx_conf rconf = { .window_bits = HS_SA_WINDOW,
		                         .cid_len = cid_len,
		                         .gcm_cache_entries = 4,
		                         .flags =
		                                 SG_REC_CTX_F_NO_GCM_CACHE | SG_REC_CTX_F_LATENCY };

	for (unsigned i = 0; i < SG_AEAD_MAX; i++)
		rconf.auth_fail_limit[i] = UINT32_MAX;
	return sg_rec_ctx_create(&rconf);
}

/* The tables (slots, linger) and buffers (result SA, datagram, scratch). 0 or -ENOMEM. */
static int engine_alloc(struct sg_hs_engine *e)
{
	if (sg_hs_slots_alloc(e) < 0 || sg_hs_linger_alloc(e) < 0)
		return -ENOMEM;
	e->batch = sg_hs_batch_create(SG_HS_BATCH_BEST);
	e->pre = calloc(SG_HS_BURST_MAX, sizeof(e->pre[0]));
	if (e->batch == NULL || e->pre == NULL)
		return -ENOMEM;
	/* any suite's SA: a CBC one carries its MAC line */
	e->result_sa_size = sg_rec_sa_size_max(e->conf.replay_window);
	e->result_sa = aligned_alloc(SG_CACHE_LINE, e->result_sa_size);
	e->tx = malloc(e->conf.mtu);
	e->scratch_len = SCRATCH_LEN;
	e->scratch = malloc(e->scratch_len);
	if (e->conf.certs != NULL) {
		/* A client's chain with its 3-byte length (docs/certificates.md, "Memory"). */
		e->bigmsg = sg_hs_bigmsg_create(HS_BIGMSG_BUFFERS, SG_TLS_CERT_CHAIN_MAX + 3);
		e->flight_cap = HS_CERT_FLIGHT_MAX;
		e->flight = malloc(e->flight_cap);
		if (e->bigmsg == NULL || e->flight == NULL)
			return -ENOMEM;
	}
	return e->result_sa && e->tx && e->scratch ? 0 : -ENOMEM;
}

/*
 * The cookie and ticket keys: a copy of the shared ones (conf.secrets), or
 * the engine's own, fresh (created at time 0: the first sg_hs_tick()
 * rotates them). 0 or -EIO.
 */
static int own_secrets_init(struct sg_hs_engine *e)
{
	if (e->conf.secrets != NULL) {
		e->secrets_gen = sg_hs_secrets_copy(e->conf.secrets, &e->cookies, &e->tickets);
		return 0;
	}
	if (sg_hs_cookie_init(&e->crypto, &e->cookies, 0) < 0 ||
	    sg_hs_ticket_keys_init(&e->crypto, &e->tickets, 0) < 0)
		return -EIO;
	return 0;
}

struct sg_hs_engine *sg_hs_engine_create(const struct sg_hs_config *conf)
{
	struct sg_hs_engine *e;
	int err = ENOMEM;

	if (conf == NULL) {
		errno = EINVAL;
		return NULL;
	}
	e = calloc(1, sizeof(*e));
	if (e == NULL)
		goto fail;
	e->conf = *conf;
	if (apply_defaults(&e->conf) < 0 || prefs_from(e->conf.suites, e->prefs, &e->n_prefs) < 0) {
		err = EINVAL;
		goto fail_engine;
	}
	if (sg_hs_crypto_init(&e->crypto) < 0)
		goto fail_engine;
	if (sg_hs_ecdh_init(&e->ecdh, e->conf.ecdhe_reuse_ms) < 0)
		goto fail_crypto;
	e->rec = rec_ctx_create(e->conf.cid_len);
	if (e->rec == NULL)
		goto fail_ecdh;
	if (sg_hs_random((uint8_t *)&e->seed, sizeof(e->seed)) < 0 || own_secrets_init(e) < 0)
		goto fail_rec;
	e->mkey_slot = HS_NONE;
	if (engine_alloc(e) < 0) {
		sg_hs_engine_free(e); /* wipes the keys made above */
		errno = ENOMEM;
		return NULL;
	}
	return e;

fail_rec:
	sg_rec_ctx_free(e->rec);
fail_ecdh:
	sg_hs_ecdh_fini(&e->ecdh);
fail_crypto:
	sg_hs_crypto_fini(&e->crypto);
fail_engine:
	sg_wipe(e, sizeof(*e));
	free(e);
fail:
	errno = err;
	return NULL;
}

void sg_hs_engine_free(struct sg_hs_engine *e)
{
	if (e == NULL)
		return;
	sg_hs_slots_free(e);
	sg_hs_linger_free(e);
	sg_hs_batch_free(e->batch);
	if (e->pre)
		sg_wipe(e->pre, SG_HS_BURST_MAX * sizeof(e->pre[0]));
	free(e->pre);
	if (e->result_sa)
		sg_wipe(e->result_sa, e->result_sa_size);
	free(e->result_sa);
	free(e->tx);
	if (e->scratch)
		sg_wipe(e->scratch, e->scratch_len);
	free(e->scratch);
	sg_hs_bigmsg_free(e->bigmsg);
	free(e->flight); /* public bytes only: our chain, signatures, points */
	sg_hs_cookie_wipe(&e->cookies);
	sg_hs_ticket_keys_wipe(&e->tickets);
	sg_rec_ctx_free(e->rec);
	sg_hs_ecdh_fini(&e->ecdh);
	sg_hs_crypto_fini(&e->crypto);
	sg_wipe(e, sizeof(*e));
	free(e);
}

/*
 * The engine-level export, import and generation work on the keys the
 * engine uses: its own, or the shared object's (then on the owner's
 * thread, as sg_hs_secrets_*(); the engine's copy follows at its next
 * datagram).
 */
int sg_hs_ticket_keys_export(const struct sg_hs_engine *e, uint8_t *buf, size_t cap)
{
	if (e->conf.secrets != NULL)
		return sg_hs_secrets_ticket_export(e->conf.secrets, buf, cap);
	return sg_hs_ticket_keys_export_raw(&e->tickets, buf, cap);
}

int sg_hs_ticket_keys_import(struct sg_hs_engine *e, const uint8_t *buf, size_t len)
{
	int rc;

	if (e->conf.secrets != NULL)
		return sg_hs_secrets_ticket_import(e->conf.secrets, buf, len);
	rc = sg_hs_ticket_keys_import_raw(&e->crypto, &e->tickets, buf, len);
	if (rc == 0)
		e->secrets_gen++;
	return rc;
}

int sg_hs_cookie_secrets_export(const struct sg_hs_engine *e, uint8_t *buf, size_t cap)
{
	if (e->conf.secrets != NULL)
		return sg_hs_secrets_cookie_export(e->conf.secrets, buf, cap);
	return sg_hs_cookie_export(&e->cookies, buf, cap);
}

int sg_hs_cookie_secrets_import(struct sg_hs_engine *e, const uint8_t *buf, size_t len)
{
	int rc;

	if (e->conf.secrets != NULL)
		return sg_hs_secrets_cookie_import(e->conf.secrets, buf, len);
	rc = sg_hs_cookie_import(&e->crypto, &e->cookies, buf, len);
	if (rc == 0)
		e->secrets_gen++;
	return rc;
}

uint64_t sg_hs_secrets_generation(const struct sg_hs_engine *e)
{
	if (e->conf.secrets != NULL)
		return sg_hs_secrets_gen(e->conf.secrets);
	return e->secrets_gen;
}

const struct sg_rec_ctx *sg_hs_engine_rec_ctx(const struct sg_hs_engine *e)
{
	return e->rec;
}

void sg_hs_stats_get(const struct sg_hs_engine *e, struct sg_hs_stats *st)
{
	memcpy(st->c, e->counters, sizeof(st->c));
	st->in_flight = e->in_flight;
	st->lingering = e->linger_count;
	st->max_handshakes = e->n_slots;
	memcpy(st->latency, e->latency, sizeof(st->latency));
}

static const char *const counter_names[SG_HS_C_MAX] = {
	[SG_HS_C_DGRAM_HANDLED] = "dgram_handled",
	[SG_HS_C_DROP_MALFORMED] = "drop_malformed",
	[SG_HS_C_DROP_NO_STATE] = "drop_no_state",
	[SG_HS_C_DROP_UNEXPECTED] = "drop_unexpected",
	[SG_HS_C_DROP_FRAGMENTED_CH] = "drop_fragmented_client_hello",
	[SG_HS_C_DROP_POOL_FULL] = "drop_pool_full",
	[SG_HS_C_DROP_COOKIE_BAD] = "drop_cookie_bad",
	[SG_HS_C_DROP_COOKIE_EXPIRED] = "drop_cookie_expired",
	[SG_HS_C_DROP_ADMISSION] = "drop_admission",
	[SG_HS_C_DROP_UNAUTHENTICATED] = "drop_unauthenticated",
	[SG_HS_C_DROP_DUPLICATE] = "drop_duplicate",
	[SG_HS_C_HVR_SENT] = "hello_verify_sent",
	[SG_HS_C_STARTED] = "started",
	[SG_HS_C_COMPLETED_FULL] = "completed_full",
	[SG_HS_C_COMPLETED_RESUMED] = "completed_resumed",
	[SG_HS_C_TICKET_ISSUED] = "ticket_issued",
	[SG_HS_C_TICKET_REJECTED] = "ticket_rejected",
	[SG_HS_C_RETRANSMIT_TIMER] = "retransmit_timer",
	[SG_HS_C_RETRANSMIT_PEER] = "retransmit_peer",
	[SG_HS_C_LINGER_RESENT] = "linger_resent",
	[SG_HS_C_LINGER_SPENT] = "linger_spent",
	[SG_HS_C_TIMEOUT] = "timeout",
	[SG_HS_C_REPLACED] = "replaced",
	[SG_HS_C_PEER_ALERT] = "peer_alert",
	[SG_HS_C_SEND_FAILED] = "send_failed",
	[SG_HS_C_AMPLIFICATION_HELD] = "amplification_held",
	[SG_HS_C_FAIL_PROTOCOL_VERSION] = "fail_protocol_version",
	[SG_HS_C_FAIL_FALLBACK] = "fail_inappropriate_fallback",
	[SG_HS_C_FAIL_NO_SUITE] = "fail_no_shared_suite",
	[SG_HS_C_FAIL_NO_GROUP] = "fail_no_shared_group",
	[SG_HS_C_FAIL_EMS_REQUIRED] = "fail_ems_required",
	[SG_HS_C_FAIL_RENEGOTIATION] = "fail_renegotiation",
	[SG_HS_C_FAIL_DECODE] = "fail_decode_error",
	[SG_HS_C_FAIL_ILLEGAL_PARAMETER] = "fail_illegal_parameter",
	[SG_HS_C_FAIL_UNEXPECTED_MESSAGE] = "fail_unexpected_message",
	[SG_HS_C_FAIL_UNKNOWN_IDENTITY] = "fail_unknown_identity",
	[SG_HS_C_FAIL_POLICY] = "fail_policy",
	[SG_HS_C_FAIL_BAD_FINISHED] = "fail_bad_finished",
	[SG_HS_C_FAIL_CRED_STORE] = "fail_credential_store",
	[SG_HS_C_FAIL_INSTALL] = "fail_install",
	[SG_HS_C_FAIL_REVOKED] = "fail_credential_revoked",
	[SG_HS_C_FAIL_INTERNAL] = "fail_internal",
	[SG_HS_C_FAIL_NO_CERT] = "fail_no_cert",
	[SG_HS_C_FAIL_BAD_CERT] = "fail_bad_cert",
	[SG_HS_C_FAIL_CERT_EXPIRED] = "fail_cert_expired",
	[SG_HS_C_FAIL_CERT_REVOKED] = "fail_cert_revoked",
	[SG_HS_C_FAIL_UNKNOWN_CA] = "fail_unknown_ca",
	[SG_HS_C_FAIL_CERT_POLICY] = "fail_cert_policy",
	[SG_HS_C_FAIL_CERT_VERIFY] = "fail_cert_verify",
	[SG_HS_C_FAIL_UNSUPPORTED_CERT] = "fail_unsupported_cert",
	[SG_HS_C_COMPLETED_CERT] = "completed_cert",
	[SG_HS_C_SIGN_PRECOMPUTED] = "sign_precomputed",
	[SG_HS_C_SIGN_INLINE] = "sign_inline",
};

const char *sg_hs_counter_name(enum sg_hs_counter c)
{
	if ((unsigned)c >= SG_HS_C_MAX || counter_names[c] == NULL)
		return "unknown";
	return counter_names[c];
}

unsigned sg_hs_revoke(struct sg_hs_engine *e,
                      bool (*match)(void *ctx, const uint8_t *identity, size_t len), void *ctx)
{
	unsigned n = 0;

	if (e == NULL || match == NULL)
		return 0;
	for (uint32_t i = 0; i < e->n_slots; i++) {
		struct hs_slot *s = &e->slots[i];

		/*
		 * The identity is in the slot once the key exchange (full) or the
		 * ticket (abbreviated) named it; before, the union holds reassembly
		 * bytes and the lookup is still to come.
		 */
		if (s->state != HS_WAIT_FINISHED && s->state != HS_WAIT_RESUMED)
			continue;
		/* match() knows PSK identities: a certificate or raw public key
		 * handshake is checked by the owner's guard at install instead. */
		if (s->auth != SG_HS_AUTH_PSK || !match(ctx, s->u.identity, s->identity_len))
			continue;
		sg_hs_fail(e, s, SG_HS_C_FAIL_REVOKED, SG_TLS_ALERT_DECRYPT_ERROR);
		n++;
	}
	sg_rec_ctx_wipe_used(e->rec); /* a resumed handshake's alert was sealed */
	return n;
}

int sg_hs_policy_set(struct sg_hs_engine *e, const struct sg_hs_policy *p)
{
	const struct sg_suite *prefs[SG_HS_SUITES_MAX];
	unsigned n;

	if (e == NULL || p == NULL || p->cookie_policy > SG_HS_COOKIE_NEVER ||
	    prefs_from(p->suites, prefs, &n) < 0)
		return -EINVAL;
	memcpy(e->prefs, prefs, n * sizeof(prefs[0]));
	e->n_prefs = n;
	memcpy(e->conf.suites, p->suites, sizeof(e->conf.suites));
	e->conf.cookie_policy = p->cookie_policy;
	e->conf.cookie_threshold = p->cookie_threshold;
	if (e->conf.cookie_threshold == 0) /* as apply_defaults() */
		e->conf.cookie_threshold = e->conf.max_handshakes / 4;
	if (e->conf.cookie_threshold == 0)
		e->conf.cookie_threshold = 1;
	e->conf.session_lifetime_s = p->session_lifetime_s ? p->session_lifetime_s : 86400;
	return 0;
}

int sg_hs_ecdhe_reuse_set(struct sg_hs_engine *e, uint32_t ms)
{
	int rc;

	if (e == NULL)
		return -EINVAL;
	rc = sg_hs_ecdh_reuse_set(&e->ecdh, ms);
	if (rc == 0)
		e->conf.ecdhe_reuse_ms = ms;
	return rc;
}
