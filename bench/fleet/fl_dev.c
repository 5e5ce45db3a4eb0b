/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A fleet device's life (fl_priv.h, enum sg_fl_dev_state): its arrival, its
 * handshakes with their RFC 6347 §4.2.4.1 timers (initial timeout, doubled
 * up to the maximum, each drawn with the configured jitter) and give-up,
 * its CoAP confirmable requests with the RFC 7252 §4.2 / §4.8 timers
 * (ACK_TIMEOUT x random(1, ACK_RANDOM_FACTOR), doubled, MAX_RETRANSMIT),
 * the answers it checks (its own token: else misdelivered) and times, the
 * nonce checks of both directions, and a new handshake when the gateway
 * ends the session (close_notify, fatal alert) or stops answering.
 * Thread: the lcore that owns the core.
 */
#include <errno.h>
#include <string.h>

#include <stormgate/bytes.h>
#include <stormgate/dtls.h>

#include "fl_coap.h"
#include "fl_priv.h"
#include "fl_rand.h"

#define BACKOFF_FACTOR  2  /* a failed handshake is retried after rto x random(1, 2) */
#define NO_BUF_RETRY_MS 10 /* a handshake that found no buffer to start with */

static uint32_t min_u32(uint32_t a, uint32_t b)
{
	return a < b ? a : b;
}

static uint8_t *payload_room(struct sg_fl_buf *b, size_t *cap)
{
	*cap = b->cap - SG_FL_HDR_ROOM;
	return b->data + SG_FL_HDR_ROOM;
}

/* Give the handshake slot of device i back (wiped). */
static void hs_release(struct sg_fl *fl, struct sg_fl_dev *d)
{
	struct sg_fl_hs *h = &fl->hs[d->hs];

	sg_fc_hs_wipe(&h->fc);
	sg_wipe(h->psk, sizeof(h->psk));
	h->next = fl->hs_free;
	fl->hs_free = d->hs;
	fl->hs_used--;
	d->hs = SG_FL_NONE;
}

static void queue_push(struct sg_fl *fl, uint32_t i)
{
	fl->dev[i].state = SG_FL_D_QUEUED;
	fl->dev[i].tl.next = SG_FL_NONE;
	if (fl->queue_tail == SG_FL_NONE)
		fl->queue_head = i;
	else
		fl->dev[fl->queue_tail].tl.next = i;
	fl->queue_tail = i;
}

/* The handshake failed or was given up: counted, retried after a back-off. */
static void hs_failed(struct sg_fl *fl, uint32_t i)
{
	struct sg_fl_dev *d = &fl->dev[i];
	uint32_t rto = fl->conf->rto_ms;

	fl->c.handshakes_failed++;
	hs_release(fl, d);
	sg_rec_sa_wipe(&d->sa, SG_FL_WINDOW);
	d->state = SG_FL_D_BACKOFF;
	sg_fl_wheel_set(&fl->wheel, i,
	                fl->now + sg_fl_rand_range(&fl->rng, rto, BACKOFF_FACTOR * rto));
}

/* The retransmission timer: the current timeout (h->rto) drawn within the jitter. */
static void hs_arm(struct sg_fl *fl, uint32_t i, struct sg_fl_hs *h)
{
	h->rto_due = fl->now + sg_fl_jitter(&fl->rng, h->rto, fl->conf->rto_jitter_pct);
	sg_fl_wheel_set(&fl->wheel, i, min_u32(h->rto_due, h->give_up));
}

/* Start a handshake for device i in a free slot: its first ClientHello (RFC 6347 §4.2.1). */
static void hs_start(struct sg_fl *fl, uint32_t i)
{
	struct sg_fl_dev *d = &fl->dev[i];
	uint32_t k = fl->hs_free;
	struct sg_fl_hs *h = &fl->hs[k];
	struct sg_fl_buf *b = sg_fl_buf_get(fl);
	size_t cap, len = 0;
	uint8_t *out;
	int rc;

	if (b == NULL) { /* the pool is empty (counted): try again shortly, no slot taken */
		d->state = SG_FL_D_BACKOFF;
		sg_fl_wheel_set(&fl->wheel, i, fl->now + NO_BUF_RETRY_MS);
		return;
	}
	fl->hs_free = h->next;
	fl->hs_used++;
	d->hs = k;
	d->state = SG_FL_D_HS;
	h->dev = i;
	sg_fl_identity(fl->first + i, h->identity);
	sg_store_be32(h->cid, fl->first + i); /* --cid: the device's number */
	h->conf =
	        (struct sg_fc_conf){ .rec = fl->rec_hs,
		                     .suites = fl->conf->suites,
		                     .n_suites = fl->conf->n_suites,
		                     .identity = h->identity,
		                     .psk = h->psk,
		                     .psk_len = SG_FL_PSK_LEN,
		                     .ticket = fl->tickets ? &fl->tickets[i] : NULL,
		                     .use_cid = fl->cid_len != 0,
		                     .cid_len = (uint8_t)fl->cid_len,
		                     .cid = h->cid,
		                     .group = fl->conf->kx == SG_FL_KX_P256 ? SG_TLS_GROUP_SECP256R1
		                              : fl->conf->kx == SG_FL_KX_X25519
		                                      ? SG_TLS_GROUP_X25519
		                                      : 0 };
	h->rto = fl->conf->rto_ms;
	h->give_up = fl->now + fl->conf->hs_timeout_s * 1000u;
	fl->c.handshakes_started++;
	out = payload_room(b, &cap);
	rc = sg_fl_psk(fl->conf->seed, h->identity, h->psk);
	if (rc == 0)
		rc = sg_fc_start(&d->fc, &h->fc, &h->conf, out, cap, &len);
	if (rc != 0) {
		sg_fl_buf_put(fl, b);
		hs_failed(fl, i);
		return;
	}
	if (fl->conf->announce) /* ahead of the hello, on the same delay line */
		sg_fl_dev_announce(fl, i);
	sg_fl_dev_send(fl, i, b, (uint16_t)len);
	hs_arm(fl, i, h);
}

/* Device i wants a handshake: a slot now, or a place in the queue. */
static void hs_begin(struct sg_fl *fl, uint32_t i)
{
	sg_fl_wheel_cancel(&fl->wheel, i);
	if (fl->hs_free == SG_FL_NONE || fl->queue_head != SG_FL_NONE)
		queue_push(fl, i);
	else
		hs_start(fl, i);
}

void sg_fl_dev_drain_queue(struct sg_fl *fl)
{
	while (fl->hs_free != SG_FL_NONE && fl->queue_head != SG_FL_NONE) {
		uint32_t i = fl->queue_head;

		fl->queue_head = fl->dev[i].tl.next;
		if (fl->queue_head == SG_FL_NONE)
			fl->queue_tail = SG_FL_NONE;
		fl->dev[i].tl.next = 0;
		hs_start(fl, i);
	}
}

void sg_fl_dev_arrive_all(struct sg_fl *fl)
{
	const struct sg_fl_conf *c = fl->conf;

	for (uint32_t i = 0; i < fl->count; i++) {
		uint64_t n = fl->first + (uint64_t)i, at;

		if (c->arrival_rate > 0)
			at = (uint64_t)((double)n * 1000.0 / c->arrival_rate);
		else
			at = n * c->ramp_s * 1000u / c->devices;
		if (at > SG_FL_DURATION_MAX * 1000ull) /* after the run: never */
			continue;
		sg_fl_wheel_set(&fl->wheel, i, fl->now + (uint32_t)at);
	}
}

/* Device i's next request tick after now, at its rate (RFC 7252 §4.7 NSTART 1: one at a time). */
static void next_request(struct sg_fl *fl, struct sg_fl_dev *d, bool first)
{
	double iv = fl->req_interval_ms;

	if (iv <= 0)
		return;
	if (first) /* a random phase, so a fleet that connected together does not ask together */
		d->next_req = fl->now + sg_fl_rand_range(&fl->rng, 0, (uint32_t)iv);
	else if (d->next_req + (uint32_t)iv > fl->now)
		d->next_req += (uint32_t)(iv < 1 ? 1 : iv);
	else
		d->next_req = fl->now + (uint32_t)(iv < 1 ? 1 : iv);
}

/* A connected device's timer: its request's, and the release of an hs kept after resuming. */
static void arm_up(struct sg_fl *fl, uint32_t i)
{
	struct sg_fl_dev *d = &fl->dev[i];
	uint32_t due = UINT32_MAX;

	if (d->req_out)
		due = d->req_due;
	else if (fl->req_interval_ms > 0)
		due = d->next_req;
	if (d->hs != SG_FL_NONE)
		due = min_u32(due, fl->hs[d->hs].rto_due);
	if (due == UINT32_MAX)
		sg_fl_wheel_cancel(&fl->wheel, i);
	else
		sg_fl_wheel_set(&fl->wheel, i, due);
}

/*
 * The handshake completed (the server's Finished verified): a session, fresh
 * nonce checks. After a resumption the hs stays a while (docs/fleet.md).
 */
static void hs_done(struct sg_fl *fl, uint32_t i)
{
	struct sg_fl_dev *d = &fl->dev[i];

	if (d->fc.resumed) {
		/* our Finished went last: keep the hs one timeout, or until the gateway's
		 * first data record shows it got it, to answer its flight repeated */
		struct sg_fl_hs *h = &fl->hs[d->hs];

		h->rto_due = fl->now + sg_fl_jitter(&fl->rng, h->rto, fl->conf->rto_jitter_pct);
		fl->c.handshakes_resumed++;
	} else {
		hs_release(fl, d);
	}
	fl->c.handshakes_completed++;
	fl->c.handshakes_cid += d->fc.cid;
	d->state = SG_FL_D_UP;
	d->tx = (struct sg_fl_nonce){ 0 };
	d->rx = (struct sg_fl_nonce){ 0 };
	d->req_out = 0;
	if (++fl->connected == fl->count && fl->all_connected_ms < 0)
		fl->all_connected_ms = fl->now;
	next_request(fl, d, true);
	arm_up(fl, i);
}

/* The session is over (ended by the gateway, or silent): a new handshake (a new key). */
static void session_end(struct sg_fl *fl, uint32_t i)
{
	struct sg_fl_dev *d = &fl->dev[i];

	if (d->req_out)
		fl->c.requests_lost++;
	d->req_out = 0;
	fl->connected--;
	fl->c.rehandshakes++;
	if (d->hs != SG_FL_NONE)
		hs_release(fl, d);
	sg_rec_sa_wipe(&d->sa, SG_FL_WINDOW);
	hs_begin(fl, i);
}

/* Queue device i's current request (new or again) for sealing in the next burst. */
static void request_queue(struct sg_fl *fl, uint32_t i)
{
	struct sg_fl_dev *d = &fl->dev[i];
	struct sg_fl_buf *b;
	struct sg_rec_seal_op *op;
	int tx_cid = (d->sa.flags & SG_SA_F_TX_CID) != 0;
	unsigned head = sg_rec_seal_headroom(d->sa.aead, tx_cid, d->fc.peer_cid_len);
	int len;

	if (fl->n_out == SG_BURST_MAX)
		sg_fl_dev_flush(fl);
	b = sg_fl_buf_get(fl);
	if (b == NULL)
		return; /* the retransmission timer tries again */
	len = sg_fl_coap_request(b->data + SG_FL_HDR_ROOM + head,
	                         b->cap - SG_FL_HDR_ROOM - head - 1 - SG_DTLS_AEAD_TAG_LEN, d->mid,
	                         fl->first + i, d->req);
	op = &fl->out[fl->n_out];
	*op = (struct sg_rec_seal_op){ .buf = b->data,
		                       .buf_len = b->cap,
		                       .pt_off = SG_FL_HDR_ROOM + head,
		                       .pt_len = (uint32_t)len,
		                       .sa = &d->sa,
		                       .cid = tx_cid ? d->fc.peer_cid : NULL,
		                       .cid_len = tx_cid ? d->fc.peer_cid_len : 0,
		                       .type = SG_DTLS_CT_APPLICATION_DATA };
	if (len < 0) {
		sg_fl_buf_put(fl, b);
		fl->c.drops[SG_FL_DROP_SEAL_FAILED]++;
		return;
	}
	fl->out_buf[fl->n_out] = b;
	fl->out_dev[fl->n_out++] = i;
}

void sg_fl_dev_flush(struct sg_fl *fl)
{
	unsigned n = fl->n_out;

	if (n == 0)
		return;
	sg_rec_seal_burst(fl->rec, fl->out, n);
	for (unsigned k = 0; k < n; k++) {
		struct sg_rec_seal_op *op = &fl->out[k];
		struct sg_fl_dev *d = &fl->dev[fl->out_dev[k]];

		if (op->status != SG_REC_OK || op->rec_off != SG_FL_HDR_ROOM) {
			fl->c.drops[SG_FL_DROP_SEAL_FAILED]++;
			sg_fl_buf_put(fl, fl->out_buf[k]);
			continue;
		}
		/* our own records: a sequence the key already sealed is a repeated nonce */
		if (!sg_fl_nonce_use(&d->tx, op->seq))
			fl->c.nonce_reuse++;
		sg_fl_dev_send(fl, fl->out_dev[k], fl->out_buf[k], (uint16_t)op->rec_len);
	}
	fl->n_out = 0;
}

/* A connected device's timer: its request's retransmission or end, or its next request. */
static void up_timer(struct sg_fl *fl, uint32_t i)
{
	struct sg_fl_dev *d = &fl->dev[i];

	if (d->hs != SG_FL_NONE && fl->now >= fl->hs[d->hs].rto_due)
		hs_release(fl, d); /* kept after resuming: no repeated flight came */
	if (d->req_out && fl->now >= d->req_due) {
		if (d->req_retx >= SG_COAP_MAX_RETRANSMIT) {
			/* RFC 7252 §4.2: the exchange failed; an LwM2M client handshakes again */
			session_end(fl, i);
			return;
		}
		d->req_retx++;
		d->req_to *= 2;
		d->req_due = fl->now + d->req_to;
		fl->c.request_retransmissions++;
		request_queue(fl, i);
	} else if (!d->req_out && fl->req_interval_ms > 0 && fl->now >= d->next_req) {
		d->req++;
		d->mid++;
		d->req_out = 1;
		d->req_retx = 0;
		d->req_sent_us = (uint32_t)fl->now_us;
		d->req_to = sg_fl_rand_range(&fl->rng, fl->conf->req_timeout_ms,
		                             fl->conf->req_timeout_ms *
		                                     (100u + SG_COAP_ACK_RANDOM_PCT) / 100u);
		d->req_due = fl->now + d->req_to;
		fl->c.requests_sent++;
		next_request(fl, d, false);
		request_queue(fl, i);
	}
	arm_up(fl, i);
}

/* A handshaking device's timer: give up, or send the last flight again (RFC 6347 §4.2.4). */
static void hs_timer(struct sg_fl *fl, uint32_t i)
{
	struct sg_fl_dev *d = &fl->dev[i];
	struct sg_fl_hs *h = &fl->hs[d->hs];
	struct sg_fl_buf *b;
	size_t cap, len = 0;

	if (fl->now >= h->give_up) {
		hs_failed(fl, i);
		return;
	}
	if (fl->now >= h->rto_due) {
		h->rto = min_u32(h->rto * 2, fl->conf->rto_max_ms); /* §4.2.4.1: double */
		b = sg_fl_buf_get(fl);
		if (b != NULL) {
			uint8_t *out = payload_room(b, &cap);

			if (sg_fc_resend(&d->fc, &h->fc, out, cap, &len) == 0 && len != 0) {
				fl->c.retransmissions++;
				sg_fl_dev_send(fl, i, b, (uint16_t)len);
			} else {
				sg_fl_buf_put(fl, b);
			}
		}
	}
	hs_arm(fl, i, h);
}

void sg_fl_dev_timer(struct sg_fl *fl, uint32_t i)
{
	switch (fl->dev[i].state) {
	case SG_FL_D_IDLE:
	case SG_FL_D_BACKOFF:
		hs_begin(fl, i);
		break;
	case SG_FL_D_HS:
		hs_timer(fl, i);
		break;
	case SG_FL_D_UP:
		up_timer(fl, i);
		break;
	default:
		break;
	}
}

/*
 * The handshake completed on datagram in: remember the server's Finished record
 * (its last epoch-1 record there), whose sequence the data records start after,
 * so that a copy of it coming again is told from a second use of its nonce.
 */
static void note_finished(const struct sg_fl *fl, struct sg_fl_dev *d, const uint8_t *in,
                          size_t len)
{
	struct sg_rec_hdr h[8];
	unsigned n = sg_rec_parse(in, len, fl->cid_len, h, 8);

	d->fin_seq1 = 0;
	for (unsigned r = 0; r < n; r++) {
		if (h[r].status == SG_REC_OK && h[r].epoch == d->sa.epoch &&
		    h[r].seq < UINT16_MAX) {
			d->fin_seq1 = (uint16_t)(h[r].seq + 1);
			d->fin_fp = sg_fl_fingerprint(in + h[r].off, h[r].len);
		}
	}
}

/* A server datagram for a handshaking device: the client's next flight, or its end. */
static void hs_input(struct sg_fl *fl, uint32_t i, const uint8_t *in, size_t len)
{
	struct sg_fl_dev *d = &fl->dev[i];
	struct sg_fl_hs *h = &fl->hs[d->hs];
	struct sg_fl_buf *b = sg_fl_buf_get(fl);
	size_t cap, out_len = 0;
	uint8_t *out;
	int rc;

	if (b == NULL)
		return; /* the server's retransmission brings it again */
	out = payload_room(b, &cap);
	rc = sg_fc_input(&d->fc, &h->fc, in, len, out, cap, &out_len);
	if (rc != 0) {
		sg_fl_buf_put(fl, b);
		if (rc == -ECONNREFUSED)
			fl->c.alerts_received++;
		hs_failed(fl, i);
		return;
	}
	if (out_len != 0) {
		sg_fl_dev_send(fl, i, b, (uint16_t)out_len);
		h->rto = fl->conf->rto_ms; /* a new flight: the initial timeout again */
		hs_arm(fl, i, h);
	} else {
		sg_fl_buf_put(fl, b);
	}
	if (d->fc.state == SG_FC_DONE) {
		note_finished(fl, d, in, len);
		hs_done(fl, i);
	}
}

/* A server datagram for a connected device that kept its hs (resumed): our Finished again. */
static void linger_input(struct sg_fl *fl, uint32_t i, const uint8_t *in, size_t len)
{
	struct sg_fl_dev *d = &fl->dev[i];
	struct sg_fl_buf *b = sg_fl_buf_get(fl);
	size_t cap, out_len = 0;
	uint8_t *out;

	if (b == NULL)
		return;
	out = payload_room(b, &cap);
	if (sg_fc_input(&d->fc, &fl->hs[d->hs].fc, in, len, out, cap, &out_len) == 0 &&
	    out_len != 0) {
		fl->c.retransmissions++;
		sg_fl_dev_send(fl, i, b, (uint16_t)out_len);
	} else {
		sg_fl_buf_put(fl, b);
	}
}

/* An answer for device i (plaintext pt, len bytes): its own, to its current request? */
static void answer_input(struct sg_fl *fl, uint32_t i, const uint8_t *pt, uint32_t len)
{
	struct sg_fl_dev *d = &fl->dev[i];
	uint32_t n = fl->first + i;
	struct sg_fl_coap m;

	if (sg_fl_coap_parse(pt, len, &m) != 0 || m.type != SG_COAP_TYPE_ACK ||
	    m.code != SG_COAP_CODE_CONTENT) {
		fl->c.drops[SG_FL_DROP_BAD_COAP]++;
		return;
	}
	if (m.dev != n || m.pl_dev != n) {
		fl->c.misdelivered++;
		return;
	}
	if (!d->req_out || m.req != d->req || m.pl_req != d->req || m.mid != d->mid) {
		fl->c.drops[SG_FL_DROP_DUP_ANSWER]++;
		return;
	}
	d->req_out = 0;
	fl->c.requests_answered++;
	sg_fl_hist_add(&fl->rtt, (uint32_t)fl->now_us - d->req_sent_us);
	arm_up(fl, i);
}

/* An opened record of a connected device: data, an alert, or a late handshake record. */
static void record_opened(struct sg_fl *fl, uint32_t i, const struct sg_rec_open_op *op)
{
	const uint8_t *pt = op->rec + op->pt_off;

	if (op->type == SG_DTLS_CT_APPLICATION_DATA) {
		answer_input(fl, i, pt, op->pt_len);
	} else if (op->type == SG_DTLS_CT_ALERT && op->pt_len == 2) {
		fl->c.alerts_received++;
		/* RFC 5246 §7.2: close_notify or a fatal alert ends the session */
		if (pt[1] == SG_TLS_ALERT_CLOSE_NOTIFY || pt[0] == SG_TLS_ALERT_FATAL)
			session_end(fl, i);
	} else {
		fl->c.drops[SG_FL_DROP_STALE]++; /* e.g. the server's Finished again */
	}
}

#define RECS_PER_DGRAM 8

/*
 * The records of a connected device's datagram into ops (up to room): those
 * of its key's epoch whose sequence is fresh; a repeated one is a repeated
 * nonce of the gateway's (counted, not opened). Returns how many it added.
 */
static unsigned gather(struct sg_fl *fl, uint32_t i, uint8_t *dg, uint32_t len,
                       struct sg_rec_open_op *ops, unsigned room)
{
	struct sg_rec_hdr h[RECS_PER_DGRAM];
	struct sg_fl_dev *d = &fl->dev[i];
	unsigned nrec = sg_rec_parse(dg, len, fl->cid_len, h, RECS_PER_DGRAM), n = 0;

	if (nrec == 0)
		fl->c.drops[SG_FL_DROP_BAD_RECORD]++;
	for (unsigned r = 0; r < nrec && n < room; r++) {
		if (h[r].status != SG_REC_OK || h[r].epoch != d->sa.epoch) {
			/* a stray epoch-0 record (a late hello flight), or one that does not frame
			 */
			fl->c.drops[h[r].status != SG_REC_OK ? SG_FL_DROP_BAD_RECORD
			                                     : SG_FL_DROP_STALE]++;
			continue;
		}
		if (h[r].seq < d->fin_seq1) {
			/*
			 * Below the first record of the session: the only sequence of
			 * this key the device saw there is its accepted Finished's. A
			 * copy of that Finished (the gateway resending its stored
			 * flight) is no second use of the nonce, another record under
			 * it is. A sequence below it was never seen: a Finished sealed
			 * earlier that arrived after a resent one (the engine resends
			 * under the next reserved sequence), stale, not a reuse.
			 */
			if (h[r].seq + 1 != d->fin_seq1)
				fl->c.drops[SG_FL_DROP_STALE]++;
			else if (sg_fl_fingerprint(dg + h[r].off, h[r].len) == d->fin_fp)
				fl->c.record_copies++;
			else
				fl->c.nonce_reuse++;
			continue;
		}
		if (!sg_fl_nonce_fresh(&d->rx, h[r].seq)) {
			fl->c.nonce_reuse++;
			continue;
		}
		ops[n++] = (struct sg_rec_open_op){ .rec = dg + h[r].off,
			                            .rec_len = h[r].len,
			                            .sa = &d->sa };
	}
	return n;
}

/* Open the gathered records in one burst and act on each. */
static void open_all(struct sg_fl *fl, struct sg_rec_open_op *ops, const uint32_t *op_dev,
                     unsigned n)
{
	sg_rec_open_burst(fl->rec, ops, n);
	for (unsigned k = 0; k < n; k++) {
		struct sg_fl_dev *d = &fl->dev[op_dev[k]];

		if (ops[k].status == SG_REC_REPLAYED || ops[k].status == SG_REC_TOO_OLD) {
			/* the SA's window marks authenticated records only: one of the
			 * gateway's records had this sequence (two in one burst) */
			fl->c.nonce_reuse++;
		} else if (ops[k].status != SG_REC_OK) {
			fl->c.drops[SG_FL_DROP_AUTH_FAILED]++;
		} else if (d->state != SG_FL_D_UP) {
			fl->c.drops[SG_FL_DROP_STALE]++; /* an earlier record ended the session */
		} else {
			sg_fl_nonce_mark(&d->rx, ops[k].seq);
			if (d->hs != SG_FL_NONE && ops[k].type == SG_DTLS_CT_APPLICATION_DATA)
				hs_release(fl, d); /* the gateway has our Finished (resumed) */
			record_opened(fl, op_dev[k], &ops[k]);
		}
	}
}

void sg_fl_dev_input(struct sg_fl *fl, struct sg_fl_buf **bufs, unsigned n)
{
	struct sg_rec_open_op ops[SG_BURST_MAX];
	uint32_t op_dev[SG_BURST_MAX] = { 0 };
	unsigned nops = 0;

	for (unsigned k = 0; k < n; k++) {
		struct sg_fl_buf *b = bufs[k];
		uint8_t *dg = b->data + b->off + b->l4_off;
		uint32_t i = b->dev;
		unsigned got;

		if (fl->dev[i].state == SG_FL_D_HS) {
			hs_input(fl, i, dg, b->l4_len);
		} else if (fl->dev[i].state == SG_FL_D_UP && fl->dev[i].hs != SG_FL_NONE &&
		           b->l4_len != 0 && dg[0] == SG_DTLS_CT_HANDSHAKE) {
			/* the gateway repeats its flight after a resumption: ours again */
			linger_input(fl, i, dg, b->l4_len);
		} else if (fl->dev[i].state == SG_FL_D_UP) {
			if (nops + RECS_PER_DGRAM > SG_BURST_MAX) {
				open_all(fl, ops, op_dev, nops);
				nops = 0;
			}
			got = gather(fl, i, dg, b->l4_len, ops + nops, RECS_PER_DGRAM);
			for (unsigned r = 0; r < got; r++)
				op_dev[nops + r] = i;
			nops += got;
		} else {
			fl->c.drops[SG_FL_DROP_STALE]++;
		}
	}
	open_all(fl, ops, op_dev, nops);
	for (unsigned k = 0; k < n; k++)
		sg_fl_buf_put(fl, bufs[k]);
}

void sg_fl_dev_release_all(struct sg_fl *fl)
{
	for (uint32_t i = 0; i < fl->count; i++) {
		struct sg_fl_dev *d = &fl->dev[i];

		if (d->hs != SG_FL_NONE)
			hs_release(fl, d);
		sg_rec_sa_wipe(&d->sa, SG_FL_WINDOW);
		if (fl->tickets != NULL)
			sg_fc_ticket_wipe(&fl->tickets[i]);
	}
}
