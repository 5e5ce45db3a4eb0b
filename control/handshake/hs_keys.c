/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Key exchange and Finished: the ClientKeyExchange (RFC 4279 §2, RFC 5489
 * §2: PSK lookup, premaster and master secret, RFC 7627 with EMS), the key
 * schedule (RFC 5246 §6.3, §7.4.9), the client's Finished in epoch 1, and
 * completion: our final flight sealed, the session installed, the flight
 * kept in the linger table. The engine's thread only. Touches the slot of
 * the datagram's peer, the engine's cached master-secret key, record
 * context, scratch and result SA, and calls ops.psk_lookup and ops.install.
 */
#include <errno.h>
#include <string.h>

#include <stormgate/bytes.h>

#include "hs_engine_priv.h"

/* The slot's master secret as a prepared HMAC key (cached for the slot). */
static const struct sg_hs_hmac_key *master_key(struct sg_hs_engine *e, struct hs_slot *s)
{
	uint32_t idx = hs_slot_idx(e, s);

	if (e->mkey_slot != idx) {
		if (sg_hs_hmac_key_set(&e->crypto, hs_suite_hash(hs_slot_suite(s)), s->master,
		                       sizeof(s->master), &e->mkey) < 0)
			return NULL;
		e->mkey_slot = idx;
	}
	return &e->mkey;
}

/*
 * Key block (RFC 5246 §6.3) → the slot's epoch-1 SA. AEAD suites have no
 * MAC keys: client_write_key, server_write_key, client_write_IV,
 * server_write_IV (4-byte salts for GCM/CCM, 12 bytes for ChaCha20-Poly1305,
 * RFC 7905 §2).
 */
int sg_hs_derive_keys(struct sg_hs_engine *e, struct hs_slot *s)
{
	const struct sg_suite *su = hs_slot_suite(s);
	enum sg_aead aead = (enum sg_aead)su->aead;
	unsigned kl = sg_aead_key_len(aead), il = sg_aead_iv_len(aead);
	uint8_t kb[2 * 32 + 2 * 12];
	struct sg_rec_sa_params p;
	int rc;

	const struct sg_hs_hmac_key *mk = master_key(e, s);

	if (mk == NULL)
		return -EIO;
	rc = sg_hs_prf(&e->crypto, hs_suite_hash(su), mk, NULL, 0, SG_TLS_LABEL_KEY_EXPANSION,
	               s->server_random, SG_TLS_RANDOM_LEN, s->client_random, SG_TLS_RANDOM_LEN, kb,
	               2 * kl + 2 * il);
	if (rc < 0)
		goto out;
	p = (struct sg_rec_sa_params){
		.aead = aead,
		.epoch = 1,
		.flags = (uint8_t)(((s->flags & SF_CID) && s->cid_len ? SG_SA_F_RX_CID : 0) |
		                   ((s->flags & SF_CID) && s->peer_cid_len ? SG_SA_F_TX_CID : 0)),
		.rx_key = kb,
		.tx_key = kb + kl,
		.rx_iv = kb + 2 * kl,
		.tx_iv = kb + 2 * kl + il,
		.tx_seq = 0,
		.rx_seq = 0,
	};
	rc = sg_rec_sa_init(&s->sa, HS_SA_WINDOW, &p);
out:
	sg_wipe(kb, sizeof(kb));
	return rc;
}

int sg_hs_finished_of(struct sg_hs_engine *e, struct hs_slot *s, const char *label,
                      uint8_t out[SG_TLS_VERIFY_DATA_LEN])
{
	enum sg_hs_hash h = hs_suite_hash(hs_slot_suite(s));
	const struct sg_hs_hmac_key *mk = master_key(e, s);
	uint8_t hash[SG_HS_HASH_MAX_LEN];
	int rc = mk ? 0 : -EIO;

	sg_hs_transcript_peek(&s->transcript, hash);
	if (rc == 0)
		rc = sg_hs_prf(&e->crypto, h, mk, NULL, 0, label, hash, sg_hs_hash_len(h), NULL, 0,
		               out, SG_TLS_VERIFY_DATA_LEN);
	return rc;
}

/*
 * Parse the key exchange and, for ECDHE-PSK, derive the shared secret into
 * other (SG_HS_ECDH_SECRET_LEN bytes). The message is not authenticated:
 * anyone who knows the client's address and port can send one. One that
 * does not parse, or whose share is off the curve or of low order (RFC 8422
 * §5.11, RFC 7748 §6.1), is discarded before anything in the slot changes,
 * our ephemeral key included, and the slot keeps waiting for the client's
 * own (RFC 6347 §4.1.2.7); the share is checked before the credential store
 * is asked. 0, or -1: the record was dropped or the handshake failed.
 */
static int kx_share(struct sg_hs_engine *e, struct hs_rx *x, struct hs_slot *s, const uint8_t *body,
                    size_t len, struct sg_hs_client_kx *kx, uint8_t other[SG_HS_ECDH_SECRET_LEN])
{
	bool ec = hs_suite_ecdhe(hs_slot_suite(s));
	int rc;

	if (sg_hs_client_kx_parse(body, len, ec, kx) < 0) {
		hs_rx_drop(x, SG_HS_C_DROP_MALFORMED);
		return -1;
	}
	if (!ec)
		return 0;
	rc = sg_hs_ecdh_derive(&e->crypto, &s->eph, kx->point, kx->point_len, other);
	if (rc == -EINVAL) {
		hs_rx_drop(x, SG_HS_C_DROP_MALFORMED);
		return -1;
	}
	if (rc < 0) {
		x->handled = 1;
		sg_hs_fail(e, s, SG_HS_C_FAIL_INTERNAL, SG_TLS_ALERT_INTERNAL_ERROR);
		return -1;
	}
	sg_hs_ecdh_clear(&s->eph);
	return 0;
}

/*
 * The PSK and policy of the identity the client names (RFC 4279 §2), into
 * cred. An unknown or refused identity continues with a random PSK and
 * fails at Finished, like a wrong key (RFC 4279 §2 allows it; no oracle).
 * 0, or -errno: the credential store failed.
 */
static int kx_credential(struct sg_hs_engine *e, struct hs_slot *s,
                         const struct sg_hs_client_kx *kx, struct sg_hs_cred *cred)
{
	int rc;

	memset(cred, 0, sizeof(*cred));
	if (kx->identity_len > SG_TLS_PSK_IDENTITY_MAX)
		rc = -ENOENT;
	else
		rc = e->conf.ops.psk_lookup(e->conf.ops.ctx, kx->identity, kx->identity_len,
		                            (s->flags & SF_SNI) ? s->sni : NULL, s->sni_len, cred);
	if (rc == 0 && (cred->psk_len == 0 || cred->psk_len > SG_TLS_PSK_MAX))
		rc = -EIO;
	if (rc == 0 &&
	    (((cred->flags & SG_HS_CRED_F_REQUIRE_EMS) && !(s->flags & SF_EMS)) ||
	     ((cred->flags & SG_HS_CRED_F_REQUIRE_ECDHE) && !hs_suite_ecdhe(hs_slot_suite(s)))))
		rc = -EACCES;
	if (rc == -ENOENT || rc == -EACCES) {
		/* Same work, same step, same alert as a wrong key. */
		s->flags |= rc == -ENOENT ? SF_UNKNOWN_ID : SF_POLICY;
		memset(cred, 0, sizeof(*cred));
		cred->psk_len = e->conf.dummy_psk_len;
		rc = sg_hs_crypto_random(&e->crypto, cred->psk, cred->psk_len);
	}
	return rc;
}

/* What the session keeps of the credential, and whether it gets a ticket. */
static void kx_keep_credential(struct sg_hs_engine *e, struct hs_slot *s,
                               const struct sg_hs_cred *cred)
{
	s->cred_ref = cred->cred_ref;
	s->backend = cred->backend;
	s->lifetime = cred->lifetime_s ? cred->lifetime_s : e->conf.session_lifetime_s;
	if (cred->flags & SG_HS_CRED_F_NO_TICKET)
		s->flags |= SF_NO_TICKET; /* RFC 5077 §3.3: an empty ticket then */
	/*
	 * The ticket will name the PSK (ticket_policy() checks it on resumption);
	 * the dummy PSK of an unknown identity gets the same work. Without a
	 * digest, no ticket: an empty one (RFC 5077 §3.3).
	 */
	if ((s->flags & (SF_TICKET | SF_NO_TICKET)) == SF_TICKET &&
	    sg_hs_ticket_psk_digest(&e->crypto, cred->psk, cred->psk_len, s->psk_digest) < 0)
		s->flags |= SF_NO_TICKET;
}

/*
 * The premaster secret into pms (RFC 4279 §2): uint16 length, other_secret,
 * uint16 length, PSK; other_secret is the ECDH output (ecdh, RFC 5489 §2)
 * or, for plain PSK (ecdh NULL), as many zero bytes as the PSK. Its length.
 */
static size_t kx_premaster(uint8_t pms[2 + SG_TLS_PSK_MAX + 2 + SG_TLS_PSK_MAX],
                           const uint8_t *ecdh, const struct sg_hs_cred *cred)
{
	size_t other_len = ecdh ? SG_HS_ECDH_SECRET_LEN : cred->psk_len, n = 0;

	_Static_assert(SG_HS_ECDH_SECRET_LEN <= SG_TLS_PSK_MAX, "premaster buffer");
	sg_store_be16(pms + n, (uint16_t)other_len);
	n += 2;
	if (ecdh)
		memcpy(pms + n, ecdh, other_len);
	else
		memset(pms + n, 0, other_len);
	n += other_len;
	sg_store_be16(pms + n, cred->psk_len);
	n += 2;
	memcpy(pms + n, cred->psk, cred->psk_len);
	return n + cred->psk_len;
}

/*
 * The master secret from the premaster: RFC 7627 §4 with EMS (session_hash
 * = Hash(ClientHello .. ClientKeyExchange)), else RFC 5246 §8.1.
 */
static int kx_master(struct sg_hs_engine *e, struct hs_slot *s, const uint8_t *pms, size_t n)
{
	enum sg_hs_hash h = hs_suite_hash(hs_slot_suite(s));
	uint8_t hash[SG_HS_HASH_MAX_LEN];

	if (s->flags & SF_EMS) {
		sg_hs_transcript_peek(&s->transcript, hash);
		return sg_hs_prf(&e->crypto, h, NULL, pms, n, SG_TLS_LABEL_EXTENDED_MASTER_SECRET,
		                 hash, sg_hs_hash_len(h), NULL, 0, s->master, sizeof(s->master));
	}
	return sg_hs_prf(&e->crypto, h, NULL, pms, n, SG_TLS_LABEL_MASTER_SECRET, s->client_random,
	                 SG_TLS_RANDOM_LEN, s->server_random, SG_TLS_RANDOM_LEN, s->master,
	                 sizeof(s->master));
}

/*
 * RFC 4279 §2 (PSK) and RFC 5489 §2 (ECDHE-PSK): the share, the identity's
 * PSK, the premaster and master secrets, the keys; then the client's
 * Finished is expected. Secrets (PSK, ECDH output, premaster) are wiped on
 * every path.
 */
void sg_hs_on_client_kx(struct sg_hs_engine *e, struct hs_rx *x, struct hs_slot *s,
                        const uint8_t *body, size_t len)
{
	uint8_t pms[2 + SG_TLS_PSK_MAX + 2 + SG_TLS_PSK_MAX], other[SG_HS_ECDH_SECRET_LEN];
	bool ec = hs_suite_ecdhe(hs_slot_suite(s));
	struct sg_hs_client_kx kx;
	struct sg_hs_cred cred;
	size_t n;
	int rc;

	if (kx_share(e, x, s, body, len, &kx, other) < 0) {
		sg_wipe(other, sizeof(other));
		return;
	}
	x->handled = 1;
	hs_advanced(x, s);
	rc = kx_credential(e, s, &kx, &cred);
	if (rc < 0) {
		sg_wipe(&cred, sizeof(cred));
		sg_wipe(other, sizeof(other));
		sg_hs_fail(e, s, SG_HS_C_FAIL_CRED_STORE, SG_TLS_ALERT_INTERNAL_ERROR);
		return;
	}
	kx_keep_credential(e, s, &cred);
	/* Last use of the message bytes: the identity may overwrite the
	 * reassembly buffer they sit in (hence memmove, after the hash). */
	sg_hs_transcript_add_msg(&s->transcript, SG_TLS_HT_CLIENT_KEY_EXCHANGE, s->rx_seq, body,
	                         len);
	s->identity_len =
	        (uint8_t)(kx.identity_len > SG_TLS_PSK_IDENTITY_MAX ? 0 : kx.identity_len);
	memmove(s->u.identity, kx.identity, s->identity_len);
	n = kx_premaster(pms, ec ? other : NULL, &cred);
	sg_wipe(&cred, sizeof(cred));
	sg_wipe(other, sizeof(other));
	rc = kx_master(e, s, pms, n);
	sg_wipe(pms, sizeof(pms));
	if (rc == 0)
		rc = sg_hs_derive_keys(e, s);
	if (rc < 0) {
		sg_hs_fail(e, s, SG_HS_C_FAIL_INTERNAL, SG_TLS_ALERT_INTERNAL_ERROR);
		return;
	}
	s->rx_seq++;
	s->state = HS_WAIT_FINISHED;
	x->kx_here = true;
	sg_hs_linger_prefetch(e, x->hash);
}

static void fill_result(struct sg_hs_engine *e, struct hs_slot *s, uint64_t fin_seq,
                        uint64_t now_unix, struct sg_hs_result *r)
{
	const struct sg_suite *su = hs_slot_suite(s);
	struct sg_rec_sa_params p = {
		.aead = (enum sg_aead)s->sa.aead,
		.epoch = 1,
		.flags = (uint8_t)((s->sa.flags & (SG_SA_F_RX_CID | SG_SA_F_TX_CID)) |
		                   ((s->flags & SF_RRC) ? SG_SA_F_RRC : 0)),
		.rx_key = s->sa.rx_key,
		.tx_key = s->sa.tx_key,
		.rx_iv = s->sa.rx_iv,
		.tx_iv = s->sa.tx_iv,
		.tx_seq = sg_rec_sa_tx_seq(&s->sa),
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
}

/* Hand the session over; on refusal, fail the handshake. Returns 0 if installed. */
static int install(struct sg_hs_engine *e, struct hs_slot *s, uint64_t fin_seq, uint64_t now_unix)
{
	struct sg_hs_result r;
	int rc;

	fill_result(e, s, fin_seq, now_unix, &r);
	rc = e->conf.ops.install(e->conf.ops.ctx, &r);
	sg_rec_sa_wipe(e->result_sa, e->conf.replay_window);
	sg_wipe(&r, sizeof(r));
	return rc;
}

/*
 * Full handshake: the client's Finished verified. Our final flight is sealed
 * before the session is installed, so the installed tx_seq is past our
 * Finished; it is kept in the linger table with the client's write key,
 * then sent.
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
	else if (install(e, s, fin_seq, x->now.unix_s) < 0)
		why = SG_HS_C_FAIL_INSTALL;
	if (why != SG_HS_C_MAX) {
		e->tx_len = 0; /* the flight is not sent, nor kept */
		if (t.ln)
			sg_hs_linger_kill(t.ln);
		sg_hs_fail(e, s, why, SG_TLS_ALERT_INTERNAL_ERROR);
		return;
	}
	if (t.ln)
		sg_hs_linger_arm(t.ln, &s->sa);
	sg_hs_tx_flush(&t);
	s->flags &= (uint16_t)~SF_CID_HELD; /* the session owns the CID now */
	hs_count(e, SG_HS_C_COMPLETED_FULL);
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
	if (sg_hs_finished_of(e, s, SG_TLS_LABEL_CLIENT_FINISHED, expect) < 0) {
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
		if (install(e, s, op->seq, x->now.unix_s) < 0) {
			sg_hs_fail(e, s, SG_HS_C_FAIL_INSTALL, SG_TLS_ALERT_INTERNAL_ERROR);
			return;
		}
		s->flags &= (uint16_t)~SF_CID_HELD;
		hs_count(e, SG_HS_C_COMPLETED_RESUMED);
		sg_hs_slot_free(e, s);
		return;
	}
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
