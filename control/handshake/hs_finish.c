/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The end of a handshake: the client's epoch-1 records (its Finished or an
 * alert; one kept when it overtook the key exchange), the Finished verified
 * (RFC 5246 §7.4.9), our final flight sealed, kept in the linger table and
 * sent, the session installed. See hs_finish.h. Calls hs_flights, hs_keys,
 * hs_output, hs_linger and hs_slots only (hs_priv.h lists the stack). The
 * engine's thread only. Touches the slot of the datagram's peer, the
 * engine's record context, scratch and result SA, and calls ops.install.
 */
#include <errno.h>
#include <string.h>

#include "hs_finish.h"
#include "hs_flights.h"
#include "hs_keys.h"
#include "hs_linger.h"
#include "hs_output.h"
#include "hs_priv.h"
#include "hs_slots.h"

/* reserved: write sequence numbers kept for the linger table, past our Finished. */
static void fill_result(struct sg_hs_engine *e, struct hs_slot *s, uint64_t fin_seq,
                        unsigned reserved, uint64_t now_unix, struct sg_hs_result *r)
{
	const struct sg_suite *su = hs_slot_suite(s);
	bool wide = sg_aead_wide(s->sa.aead); /* CBC: the MAC keys, EtM (hs_keys.c) */
	struct sg_rec_sa_params p = {
		.aead = (enum sg_aead)s->sa.aead,
		.epoch = 1,
		.flags = (uint8_t)((s->sa.flags & (SG_SA_F_RX_CID | SG_SA_F_TX_CID | SG_SA_F_ETM)) |
		                   ((s->flags & SF_RRC) ? SG_SA_F_RRC : 0)),
		.rx_key = s->sa.rx_key,
		.tx_key = s->sa.tx_key,
		.rx_iv = s->sa.rx_iv,
		.tx_iv = s->sa.tx_iv,
		.rx_mac = wide ? s->sa_mac.rx_mac : NULL,
		.tx_mac = wide ? s->sa_mac.tx_mac : NULL,
		.tx_seq = sg_rec_sa_tx_seq(&s->sa) + reserved,
		.rx_seq = fin_seq + 1, /* the client's Finished used the numbers up to it */
		/* RFC 8449 §4 / RFC 6066 §4: every record sealed for the session obeys it. */
		.max_plaintext = s->max_pt,
	};

	memset(r, 0, sizeof(*r));
	sg_rec_sa_init(e->result_sa, e->conf.replay_window, &p);
	r->sa = e->result_sa;
	r->peer = s->peer;
	r->suite = su->id;
	r->resumed = s->state == HS_WAIT_RESUMED;
	if (s->group)
		r->group = s->group - 1 == SG_HS_GROUP_X25519 ? SG_TLS_GROUP_X25519
		                                              : SG_TLS_GROUP_SECP256R1;
	r->ems = !!(s->flags & SF_EMS);
	if (s->flags & SF_CID) {
		r->cid_len = s->cid_len;
		memcpy(r->cid, s->cid, s->cid_len);
		r->peer_cid_len = s->peer_cid_len;
		memcpy(r->peer_cid, s->peer_cid, s->peer_cid_len);
	}
	r->max_plaintext = s->max_pt;
	r->rrc = !!(s->flags & SF_RRC);
	r->auth = s->auth; /* enum sg_hs_auth: PSK 0, or the certificate kind (hs_certpeer.c) */
	r->identity_len = s->identity_len;
	memcpy(r->identity, s->u.identity, s->identity_len);
	if (s->flags & SF_SNI) {
		r->sni_len = s->sni_len;
		memcpy(r->sni, s->sni, s->sni_len);
	}
	r->cred_ref = s->cred_ref;
	r->backend = s->backend;
	r->expires = now_unix + s->lifetime;
	r->tag = s->tag;
	r->user = s->user;
}

/*
 * Hand the session over, its write sequence past the reserved numbers;
 * on refusal, fail the handshake. Returns 0 if installed.
 */
static int install(struct sg_hs_engine *e, struct hs_slot *s, uint64_t fin_seq, unsigned reserved,
                   uint64_t now_unix)
{
	struct sg_hs_result r;
	int rc;

	fill_result(e, s, fin_seq, reserved, now_unix, &r);
	rc = e->conf.ops.install(e->conf.ops.ctx, &r);
	sg_rec_sa_wipe(e->result_sa, e->conf.replay_window);
	sg_wipe(&r, sizeof(r));
	return rc;
}

/*
 * Full handshake: the client's Finished verified. Our final flight is sealed
 * before the session is installed; it is kept in the linger table with the
 * client's write key and ours, then sent. The installed tx_seq is past our
 * Finished and the LINGER_RESENDS numbers after it, which only the linger
 * entry seals (a resent Finished in a new record, RFC 6347 §4.2.4): the
 * session's worker and the engine never seal under the same number.
 */
static void complete_full(struct sg_hs_engine *e, struct hs_rx *x, struct hs_slot *s,
                          uint64_t fin_seq)
{
	uint8_t nst[MSG_MAX], fin[SG_DTLS_HS_HDR_LEN + SG_TLS_VERIFY_DATA_LEN];
	struct sg_hs_wbuf wn = { .p = nst, .cap = sizeof(nst) };
	struct sg_hs_wbuf wf = { .p = fin, .cap = sizeof(fin) };
	enum sg_hs_counter why = SG_HS_C_MAX;
	struct hs_tx t;

	if (sg_hs_final_build(e, s, x->now.unix_s, &wn, &wf) < 0) {
		sg_hs_fail(e, s, SG_HS_C_FAIL_INTERNAL, SG_TLS_ALERT_INTERNAL_ERROR);
		return;
	}
	t = sg_hs_tx_for_slot(e, s);
	t.ln = sg_hs_linger_new(e, &s->peer, x->hash, x->now.mono_ms + e->conf.linger_ms);
	sg_hs_final_send(&t, &wn, &wf);
	if (t.err < 0)
		why = SG_HS_C_FAIL_INTERNAL;
	else if (install(e, s, fin_seq, t.ln ? LINGER_RESENDS : 0, x->now.unix_s) < 0)
		why = SG_HS_C_FAIL_INSTALL;
	if (why != SG_HS_C_MAX) {
		e->tx_len = 0; /* the flight is not sent, nor kept */
		if (t.ln)
			sg_hs_linger_kill(t.ln);
		sg_hs_fail(e, s, why, SG_TLS_ALERT_INTERNAL_ERROR);
		return;
	}
	if (t.ln)
		sg_hs_linger_arm(t.ln, s, wf.p);
	sg_hs_tx_flush(&t);
	s->flags &= (uint16_t)~SF_CID_HELD; /* the session owns the CID now */
	hs_count(e, SG_HS_C_COMPLETED_FULL);
	if (hs_suite_cert(hs_slot_suite(s)))
		hs_count(e, SG_HS_C_COMPLETED_CERT);
	sg_hs_slot_done(e, s, x->now);
	sg_hs_slot_free(e, s);
}

enum sg_hs_counter sg_hs_finished_failure(const struct hs_slot *s)
{
	if (s->flags & SF_UNKNOWN_ID)
		return SG_HS_C_FAIL_UNKNOWN_IDENTITY;
	if (s->flags & SF_POLICY)
		return SG_HS_C_FAIL_POLICY;
	return SG_HS_C_FAIL_BAD_FINISHED;
}

/*
 * An epoch-1 record that arrived before the key exchange (reordered): keep
 * one (RFC 6347 §4.1.2.6), the newest, so that a forger must slip in
 * between the client's Finished and its ClientKeyExchange to displace it;
 * what is kept is tried once when the keys exist.
 */
static void keep_pending(struct hs_rx *x, struct hs_slot *s, const uint8_t *raw, size_t rec_len)
{
	if (rec_len > PENDING_MAX) {
		hs_rx_drop(x, SG_HS_C_DROP_UNEXPECTED);
		return;
	}
	memcpy(s->pending, raw, rec_len);
	s->pending_len = (uint8_t)rec_len;
	x->pending_here = true;
	x->handled = 1;
	hs_advanced(x, s);
}

/*
 * Open an epoch-1 record under the slot's keys, in the scratch. A record
 * that does not authenticate is dropped, except in the key exchange's own
 * datagram (kx_here), where it fails the handshake (see sg_hs_on_epoch1).
 * False: dropped or failed.
 */
static bool open_epoch1(struct sg_hs_engine *e, struct hs_rx *x, struct hs_slot *s,
                        const uint8_t *raw, size_t rec_len, bool kx_here, struct sg_rec_open_op *op)
{
	memcpy(e->scratch, raw, rec_len);
	*op = (struct sg_rec_open_op){ .rec = e->scratch,
		                       .rec_len = (uint32_t)rec_len,
		                       .sa = &s->sa };
	if (sg_rec_open_burst(e->rec, op, 1) == 1)
		return true;
	if (op->status == SG_REC_AUTH_FAILED && kx_here) {
		x->handled = 1;
		sg_hs_fail(e, s, sg_hs_finished_failure(s), SG_TLS_ALERT_DECRYPT_ERROR);
		return false;
	}
	if (op->status == SG_REC_AUTH_FAILED && s->state == HS_WAIT_FINISHED)
		s->flags |= SF_AUTH_FAILED; /* said at the timeout (sg_hs_tick) */
	hs_rx_drop(x, hs_open_drop(op->status));
	return false;
}

/*
 * The client's Finished, opened (op, plaintext in the scratch): verify it
 * (RFC 5246 §7.4.9), then install (abbreviated) or send our final flight
 * (full). A wrong key, an unknown or a refused identity all end here with
 * the same decrypt_error.
 */
static void on_finished(struct sg_hs_engine *e, struct hs_rx *x, struct hs_slot *s,
                        const struct sg_rec_open_op *op)
{
	const uint8_t *pt = e->scratch + op->pt_off;
	uint8_t expect[SG_TLS_VERIFY_DATA_LEN];
	struct sg_hs_msg_hdr mh;
	int n;

	n = op->type == SG_DTLS_CT_HANDSHAKE ? sg_hs_msg_hdr_parse(pt, op->pt_len, &mh) : -EBADMSG;
	if (n < 0 || (size_t)n != op->pt_len || mh.type != SG_TLS_HT_FINISHED ||
	    mh.seq != s->rx_seq || mh.frag_off != 0 || mh.frag_len != mh.length ||
	    mh.length != SG_TLS_VERIFY_DATA_LEN) {
		sg_hs_fail(e, s, SG_HS_C_FAIL_UNEXPECTED_MESSAGE, SG_TLS_ALERT_UNEXPECTED_MESSAGE);
		return;
	}
	/* Derived with the keys when they came in this datagram (hs_keys.h, sg_hs_derive_run). */
	if (s->state == HS_WAIT_FINISHED && x->kx_here)
		memcpy(expect, x->client_verify, sizeof(expect));
	else if (sg_hs_finished_of(e, s, SG_TLS_LABEL_CLIENT_FINISHED, expect) < 0) {
		sg_hs_fail(e, s, SG_HS_C_FAIL_INTERNAL, SG_TLS_ALERT_INTERNAL_ERROR);
		return;
	}
	if (sg_ct_memcmp(expect, pt + SG_DTLS_HS_HDR_LEN, SG_TLS_VERIFY_DATA_LEN) != 0 ||
	    (s->flags & (SF_UNKNOWN_ID | SF_POLICY))) {
		sg_hs_fail(e, s, sg_hs_finished_failure(s), SG_TLS_ALERT_DECRYPT_ERROR);
		return;
	}
	hs_advanced(x, s); /* this datagram completes it: its tag goes to the install */
	if (s->state == HS_WAIT_RESUMED) {
		if (install(e, s, op->seq, 0, x->now.unix_s) < 0) {
			sg_hs_fail(e, s, SG_HS_C_FAIL_INSTALL, SG_TLS_ALERT_INTERNAL_ERROR);
			return;
		}
		s->flags &= (uint16_t)~SF_CID_HELD;
		hs_count(e, SG_HS_C_COMPLETED_RESUMED);
		sg_hs_slot_done(e, s, x->now);
		sg_hs_slot_free(e, s);
		return;
	}
	/* Our Finished needs the transcript with theirs, unless it was derived with the keys. */
	if (!(s->flags & SF_SERVER_FIN))
		sg_hs_transcript_add_msg(&s->transcript, SG_TLS_HT_FINISHED, mh.seq,
		                         pt + SG_DTLS_HS_HDR_LEN, SG_TLS_VERIFY_DATA_LEN);
	complete_full(e, x, s, op->seq);
}

/*
 * RFC 6347 §4.1.2.7: a record that does not authenticate is discarded and
 * the handshake goes on, since anyone who knows the client's address can
 * send one. Except in the key exchange's own datagram: a client with the
 * wrong PSK (or an unknown identity, which gets a random one) sends its
 * Finished there, and must learn at that step that the keys differ
 * (decrypt_error, RFC 5246 §7.4.9), the same way in both cases (RFC 4279
 * §2: no identity oracle). What authenticates came from the client: an
 * alert or a wrong message then ends the handshake.
 */
void sg_hs_on_epoch1(struct sg_hs_engine *e, struct hs_rx *x, struct hs_slot *s, const uint8_t *raw,
                     size_t rec_len, bool kx_here)
{
	struct sg_rec_open_op op;

	if (s->state == HS_WAIT_CKE) {
		keep_pending(x, s, raw, rec_len);
		return;
	}
	if ((s->state != HS_WAIT_FINISHED && s->state != HS_WAIT_RESUMED) ||
	    rec_len > e->scratch_len) {
		hs_rx_drop(x, SG_HS_C_DROP_UNEXPECTED);
		return;
	}
	if (!open_epoch1(e, x, s, raw, rec_len, kx_here, &op))
		return;
	/* Only the holder of our flight can make these keys: the address is proven. */
	s->flags |= SF_PROVEN;
	x->handled = 1;
	if (op.type == SG_DTLS_CT_ALERT) {
		hs_count(e, SG_HS_C_PEER_ALERT);
		sg_hs_slot_free(e, s);
		return;
	}
	on_finished(e, x, s, &op);
}
