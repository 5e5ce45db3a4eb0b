/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ClientHello handling: version checks, the stateless cookie exchange
 * (RFC 6347 §4.2.1), storm admission, a repeated hello, resumption from a
 * session ticket (RFC 5077), the choice of suite and group, and the start of
 * a new handshake with its first flight. See hs_hello.h. Calls hs_flights,
 * hs_certflight (can this hello have an ECDHE-ECDSA suite), hs_certpeer (a
 * certificate session's ticket), hs_keys (an abbreviated handshake's keys),
 * hs_output, hs_slots and the certificate leaf only (hs_priv.h lists the
 * stack). The engine's thread only. Touches the peer's slot (taken,
 * replaced, set up, the certificate set it holds), the cookie and ticket
 * keys, and calls ops.admit, ops.cid_alloc, ops.psk_lookup and
 * ops.cert_lookup (a ticket's identity).
 */
#include <errno.h>
#include <string.h>

#include "hs_certflight.h"
#include "hs_certpeer.h"
#include "hs_flights.h"
#include "hs_hello.h"
#include "hs_keys.h"
#include "hs_output.h"
#include "hs_priv.h"
#include "hs_slots.h"

static int pick_group(const struct sg_hs_client_hello *ch)
{
	/* RFC 8422 §5.1.1: without the extension any group may be used; take
	 * the one every ECC implementation has (secp256r1). */
	if (!(ch->flags & SG_HS_CH_F_GROUPS))
		return SG_HS_GROUP_P256;
	if (ch->groups & SG_HS_GROUP_BIT_X25519)
		return SG_HS_GROUP_X25519;
	if (ch->groups & SG_HS_GROUP_BIT_P256)
		return SG_HS_GROUP_P256;
	return -1;
}

/*
 * An ECDHE-ECDSA suite needs certificates (conf.certs) and a hello they
 * suit (hs_certflight.h): the set is taken (a reference the slot holds
 * until it is freed) and the certificate types chosen into the slot.
 */
static bool cert_suite_ok(struct sg_hs_engine *e, struct hs_slot *s,
                          const struct sg_hs_client_hello *ch)
{
	if (e->conf.certs == NULL)
		return false;
	if (s->cset == NULL)
		s->cset = sg_hs_certs_acquire(e->conf.certs);
	return s->cset != NULL &&
	       sg_hs_cert_choose(s->cset, ch, e->conf.ops.cert_lookup != NULL, &s->cflags) == 0;
}

/* Server preference order over what the client offers; -1 and why if none. */
static int pick_suite(struct sg_hs_engine *e, struct hs_slot *s,
                      const struct sg_hs_client_hello *ch, enum sg_hs_counter *why)
{
	bool ec_offered = false, cert_offered = false;

	for (unsigned i = 0; i < e->n_prefs; i++) {
		const struct sg_suite *su = e->prefs[i];

		if (!sg_hs_client_hello_has_suite(ch, su->id))
			continue;
		if ((hs_suite_ecdhe(su) || hs_suite_cert(su)) && pick_group(ch) < 0) {
			ec_offered = true;
			continue;
		}
		if (hs_suite_cert(su) && !cert_suite_ok(e, s, ch)) {
			cert_offered |= e->conf.certs != NULL;
			continue;
		}
		return (int)(su - sg_suites);
	}
	*why = cert_offered ? SG_HS_C_FAIL_UNSUPPORTED_CERT
	       : ec_offered ? SG_HS_C_FAIL_NO_GROUP
	                    : SG_HS_C_FAIL_NO_SUITE;
	return -1;
}

/* A suite other than ECDHE-ECDSA was chosen: the slot holds no certificate set. */
static void cert_drop(struct hs_slot *s)
{
	if (s->cset != NULL)
		sg_hs_certs_release(s->cset);
	s->cset = NULL;
	s->cflags = 0;
}

/*
 * A ticket names an identity and the PSK it had when the ticket was issued;
 * ask the credential store again so a revoked or re-keyed device, or one
 * whose policy changed, cannot resume (it falls back to a full handshake,
 * where it fails the usual way). RFC 5077 §4 leaves what the state holds
 * and when it is still good to the server: a session made under a key the
 * store no longer has for the identity (credentials add --replace) must
 * not outlive that key. Fills the slot's credential fields; 0 or -1.
 */
static int ticket_policy(struct sg_hs_engine *e, struct hs_slot *s,
                         const struct sg_hs_client_hello *ch, struct sg_hs_ticket_state *st)
{
	uint8_t digest[SG_HS_TICKET_PSK_DIGEST_LEN];
	struct sg_hs_cred cred;
	int rc;

	if (st->auth != SG_HS_AUTH_PSK)
		return sg_hs_cert_resume_policy(e, s, ch, st);
	memset(&cred, 0, sizeof(cred));
	rc = e->conf.ops.psk_lookup(e->conf.ops.ctx, st->identity, st->identity_len,
	                            (ch->flags & SG_HS_CH_F_SNI) ? ch->sni : NULL,
	                            (ch->flags & SG_HS_CH_F_SNI) ? ch->sni_len : 0, &cred);
	if (rc == 0 && (cred.psk_len == 0 || cred.psk_len > SG_TLS_PSK_MAX))
		rc = -EIO;
	if (rc == 0)
		rc = sg_hs_ticket_psk_digest(&e->crypto, cred.psk, cred.psk_len, digest);
	if (rc == 0 && sg_ct_memcmp(digest, st->psk_digest, sizeof(digest)) != 0)
		rc = -EKEYREJECTED;
	if (rc == 0 && ((cred.flags & SG_HS_CRED_F_NO_TICKET) ||
	                ((cred.flags & SG_HS_CRED_F_REQUIRE_EMS) && !st->ems) ||
	                ((cred.flags & SG_HS_CRED_F_REQUIRE_ECDHE) &&
	                 !hs_suite_ecdhe(sg_suite_find(st->suite)))))
		rc = -EACCES;
	if (rc == 0) {
		s->cred_ref = cred.cred_ref;
		s->backend = cred.backend;
		s->user = cred.user;
		s->lifetime = cred.lifetime_s ? cred.lifetime_s : e->conf.session_lifetime_s;
	}
	sg_wipe(&cred, sizeof(cred));
	sg_wipe(digest, sizeof(digest));
	return rc == 0 ? 0 : -1;
}

/*
 * Try the client's ticket (RFC 5077 §3.1). Returns 1 when the handshake is
 * resumed (master secret in the slot), 0 for a full handshake, or a
 * negative counter id to fail with (RFC 7627 §5.3).
 */
static int try_ticket(struct sg_hs_engine *e, struct hs_slot *s,
                      const struct sg_hs_client_hello *ch, uint64_t now_unix)
{
	struct sg_hs_ticket_state st;
	uint8_t sh[SG_HS_TICKET_SNI_HASH_LEN];
	const struct sg_suite *su;
	int rc;

	rc = sg_hs_ticket_open(&e->crypto, e->rec, &e->tickets, ch->ticket, ch->ticket_len,
	                       now_unix, &st);
	if (rc < 0) {
		hs_count(e, SG_HS_C_TICKET_REJECTED);
		return 0;
	}
	su = hs_suite_negotiable(st.suite);
	sg_hs_ticket_sni_hash(ch->sni, (ch->flags & SG_HS_CH_F_SNI) ? ch->sni_len : 0, sh);
	rc = 0;
	/* RFC 7627 §5.3: an EMS session resumed without EMS must be aborted. */
	if (st.ems && !(ch->flags & SG_HS_CH_F_EMS)) {
		rc = -(int)SG_HS_C_FAIL_EMS_REQUIRED;
	} else if (su == NULL || !sg_hs_client_hello_has_suite(ch, su->id) ||
	           (!st.ems && (ch->flags & SG_HS_CH_F_EMS)) ||
	           memcmp(sh, st.sni_hash, sizeof(sh)) != 0) {
		/* RFC 7627 §5.3 (non-EMS session, EMS hello), RFC 5246 §7.4.1.3
		 * (same suite), RFC 6066 §3 (same name): a full handshake instead. */
		hs_count(e, SG_HS_C_TICKET_REJECTED);
	} else if (ticket_policy(e, s, ch, &st) == 0) {
		s->suite = (uint8_t)(su - sg_suites);
		memcpy(s->master, st.master, sizeof(s->master));
		s->identity_len = st.identity_len;
		memcpy(s->u.identity, st.identity, st.identity_len);
		s->auth = st.auth;
		if (st.ems)
			s->flags |= SF_EMS;
		rc = 1;
	} else {
		hs_count(e, SG_HS_C_TICKET_REJECTED);
	}
	sg_wipe(&st, sizeof(st));
	return rc;
}

/* The ClientHello being handled: its record, its message header and body, and what they say. */
struct hello {
	const struct sg_rec_hdr *rh;
	const struct sg_hs_msg_hdr *mh;
	const uint8_t *body;
	struct sg_hs_client_hello ch;
};

/*
 * A slot for the hello's peer, replacing the handshake in progress (the
 * client restarted), set up from the hello; proven: it carried a valid
 * cookie, so its address receives what we send (no amplification limit).
 * NULL when the pool is full (dropped).
 */
static struct hs_slot *hello_slot(struct sg_hs_engine *e, struct hs_rx *x, const struct hello *h,
                                  bool proven)
{
	struct hs_slot *s = e->cur;

	if (s) {
		hs_count(e, SG_HS_C_REPLACED);
		sg_hs_slot_free(e, s);
	}
	s = sg_hs_slot_alloc(e, x->peer, x->hash, x->now);
	e->cur = s;
	if (s == NULL) {
		hs_rx_drop(x, SG_HS_C_DROP_POOL_FULL);
		return NULL;
	}
	x->handled = 1;
	hs_advanced(x, s);
	s->bytes_in = (uint32_t)x->len;
	if (proven)
		s->flags |= SF_PROVEN;
	s->ch_seq = h->mh->seq;
	s->rx_seq = (uint16_t)(h->mh->seq + 1);
	s->ep0_seq = h->rh->seq; /* RFC 6347 §4.2.1: reply in the hello's record sequence */
	memcpy(s->client_random, h->ch.random, SG_TLS_RANDOM_LEN);
	return s;
}

/* RFC 8449 §5: record_size_limit wins over max_fragment_length. */
static void hello_limits(const struct sg_hs_engine *e, struct hs_slot *s,
                         const struct sg_hs_client_hello *ch)
{
	s->max_pt = SG_DTLS_MAX_PLAINTEXT;
	if (ch->flags & SG_HS_CH_F_RSL) {
		s->rsl = e->conf.record_size_limit;
		if (ch->rsl < s->max_pt)
			s->max_pt = ch->rsl;
	} else if (ch->flags & SG_HS_CH_F_MFL) {
		s->mfl = ch->mfl;
		s->max_pt = (uint16_t)(1u << (8 + ch->mfl));
	}
}

/*
 * RFC 9146 §3: our CID goes in the ServerHello; theirs we use when sending.
 * RFC 9853 §3: rrc is echoed only with a connection_id; it is of use to us
 * only when the client's records carry our CID, so only when we give it one
 * (the data plane then checks a moved peer before following it). Decided
 * once the suite is known: a CBC suite gets no CID (RFC 9146 §5's MAC input
 * for block ciphers is not implemented, and the record layer refuses a CBC
 * SA with CIDs), hence no rrc either; the client then sends and takes
 * records without CIDs, as RFC 9146 §3 has it for a hello left unanswered.
 */
static void hello_cids(struct sg_hs_engine *e, struct hs_slot *s,
                       const struct sg_hs_client_hello *ch, const struct sg_hs_peer *peer)
{
	if (sg_aead_wide(hs_slot_suite(s)->aead))
		return;
	if ((ch->flags & SG_HS_CH_F_CID) && e->conf.cid_len && e->conf.ops.cid_alloc &&
	    ch->cid_len <= SG_HS_PEER_CID_MAX &&
	    e->conf.ops.cid_alloc(e->conf.ops.ctx, peer, s->cid) == 0) {
		s->flags |= SF_CID | SF_CID_HELD;
		s->cid_len = e->conf.cid_len;
		s->peer_cid_len = ch->cid_len;
		memcpy(s->peer_cid, ch->cid, ch->cid_len);
	}
	if ((ch->flags & SG_HS_CH_F_RRC) && (s->flags & SF_CID))
		s->flags |= SF_RRC;
}

/*
 * What the hello's extensions ask of the slot before the suite is chosen,
 * in this order: secure renegotiation (RFC 5746 §3.6: an initial hello
 * carries an empty renegotiation_info), extended master secret (RFC 7627),
 * server_name, record limits. 0, or the negated counter to fail with.
 */
static int hello_extensions(struct sg_hs_engine *e, struct hs_slot *s,
                            const struct sg_hs_client_hello *ch)
{
	if ((ch->flags & SG_HS_CH_F_RENEG_INFO) && ch->reneg_len != 0)
		return -(int)SG_HS_C_FAIL_RENEGOTIATION;
	if (ch->flags & (SG_HS_CH_F_RENEG_INFO | SG_HS_CH_F_RENEG_SCSV))
		s->flags |= SF_SECURE_RENEG;
	if (ch->flags & SG_HS_CH_F_EMS)
		s->flags |= SF_EMS;
	else if (e->conf.require_ems)
		return -(int)SG_HS_C_FAIL_EMS_REQUIRED;
	if (ch->flags & SG_HS_CH_F_SNI) {
		s->flags |= SF_SNI;
		s->sni_len = ch->sni_len;
		memcpy(s->sni, ch->sni, ch->sni_len);
	}
	hello_limits(e, s, ch);
	return 0;
}

/*
 * What depends on the suite, once it is chosen (full or resumed): CIDs and
 * rrc (above), encrypt_then_mac (RFC 7366 §3: echoed only with a CBC suite;
 * with an AEAD the client's offer is ignored), point formats (ECDHE).
 */
static void hello_suite_extensions(struct sg_hs_engine *e, struct hs_slot *s,
                                   const struct sg_hs_client_hello *ch,
                                   const struct sg_hs_peer *peer)
{
	const struct sg_suite *su = hs_slot_suite(s);

	hello_cids(e, s, ch, peer);
	if ((ch->flags & SG_HS_CH_F_ETM) && sg_aead_wide(su->aead))
		s->flags |= SF_ETM;
	if ((hs_suite_ecdhe(su) || hs_suite_cert(su)) && (ch->flags & SG_HS_CH_F_POINT_FORMATS))
		s->flags |= SF_POINTS;
}

/*
 * Resume from the client's ticket (RFC 5077 §3.1) or choose the suite of a
 * full handshake. 1: resumed, 0: full, or the negated counter to fail with.
 */
static int hello_session(struct sg_hs_engine *e, struct hs_slot *s,
                         const struct sg_hs_client_hello *ch, uint64_t now_unix)
{
	enum sg_hs_counter why = SG_HS_C_FAIL_NO_SUITE;
	int suite, rc;

	if (e->conf.tickets && (ch->flags & SG_HS_CH_F_TICKET) && ch->ticket_len) {
		rc = try_ticket(e, s, ch, now_unix);
		if (rc != 0) {
			if (rc == 1) {
				/* RFC 5077 §3.4: echo the client's session ID to signal resumption.
				 */
				s->session_id_len = ch->session_id_len;
				memcpy(s->session_id, ch->session_id, ch->session_id_len);
			}
			return rc;
		}
	}
	s->flags &= (uint16_t)~SF_EMS;
	if (ch->flags & SG_HS_CH_F_EMS)
		s->flags |= SF_EMS;
	suite = pick_suite(e, s, ch, &why);
	if (suite >= 0 && !hs_suite_cert(&sg_suites[suite]))
		cert_drop(s);
	if (suite < 0)
		return -(int)why;
	s->suite = (uint8_t)suite;
	if (e->conf.tickets && (ch->flags & SG_HS_CH_F_TICKET))
		s->flags |= SF_TICKET;
	return 0;
}

/*
 * The abbreviated handshake's keys and Finished: RFC 5246 §7.4.9 with the
 * abbreviated order, our Finished covers ClientHello and ServerHello; then
 * our flight.
 */
static int start_resumed(struct sg_hs_engine *e, struct hs_slot *s)
{
	uint8_t sh_buf[MSG_MAX], fin[SG_DTLS_HS_HDR_LEN + SG_TLS_VERIFY_DATA_LEN];
	struct sg_hs_wbuf w = { .p = sh_buf, .cap = sizeof(sh_buf) };
	struct sg_hs_wbuf wf = { .p = fin, .cap = sizeof(fin) };
	struct sg_hs_server_hello sh;
	int rc;

	sg_hs_server_hello_of(s, true, &sh);
	rc = sg_hs_write_server_hello(&w, s->ch_seq, &sh);
	if (rc == 0)
		sg_hs_transcript_add(&s->transcript, sh_buf, w.len);
	if (rc == 0)
		rc = sg_hs_derive_keys(e, s);
	if (rc == 0)
		rc = sg_hs_finished_of(e, s, SG_TLS_LABEL_SERVER_FINISHED, s->server_verify);
	if (rc == 0)
		rc = sg_hs_write_finished(&wf, (uint16_t)(s->ch_seq + 1), s->server_verify);
	if (rc == 0)
		sg_hs_transcript_add(&s->transcript, fin, wf.len);
	if (rc < 0)
		return rc;
	s->state = HS_WAIT_RESUMED;
	return sg_hs_flight_resumed(e, s);
}

/* A full handshake: our ECDHE key (RFC 5489 §2) for an ECDHE-PSK suite, then flight 4. */
static int start_full(struct sg_hs_engine *e, struct hs_slot *s,
                      const struct sg_hs_client_hello *ch, uint64_t now_ms)
{
	if (hs_suite_ecdhe(hs_slot_suite(s)) || hs_suite_cert(hs_slot_suite(s))) {
		enum sg_hs_group g = (enum sg_hs_group)pick_group(ch);

		/* Fresh, or the pair of the current reuse window (hs_ecdh.h). */
		if (sg_hs_ecdh_keygen(&e->ecdh, &e->crypto, g, now_ms, &s->eph) < 0)
			return -EIO;
		s->group = (uint8_t)(g + 1);
	}
	s->state = HS_WAIT_CKE;
	return sg_hs_flight_full(e, s, true);
}

/*
 * A new handshake from a ClientHello that passed the cookie check (or needed
 * none): a slot, the extensions, resumption or a suite, then our first
 * flight and its timer. A failure sends its alert and frees the slot.
 */
static void start_handshake(struct sg_hs_engine *e, struct hs_rx *x, const struct hello *h,
                            bool proven)
{
	const struct sg_hs_client_hello *ch = &h->ch;
	struct hs_slot *s = hello_slot(e, x, h, proven);
	bool resumed;
	int rc;

	if (s == NULL)
		return;
	rc = hello_extensions(e, s, ch);
	if (rc == 0)
		rc = hello_session(e, s, ch, x->now.unix_s);
	if (rc < 0) {
		sg_hs_fail(e, s, (enum sg_hs_counter) - rc, SG_TLS_ALERT_HANDSHAKE_FAILURE);
		return;
	}
	resumed = rc == 1;
	hello_suite_extensions(e, s, ch, x->peer);
	rc = sg_hs_crypto_random(&e->crypto, s->server_random, SG_TLS_RANDOM_LEN);
	if (rc == 0) {
		sg_hs_transcript_start(&s->transcript, hs_suite_hash(hs_slot_suite(s)));
		sg_hs_transcript_add_msg(&s->transcript, SG_TLS_HT_CLIENT_HELLO, h->mh->seq,
		                         h->body, h->mh->length);
		rc = resumed ? start_resumed(e, s) : start_full(e, s, ch, x->now.mono_ms);
	}
	if (rc < 0) {
		sg_hs_fail(e, s, SG_HS_C_FAIL_INTERNAL, SG_TLS_ALERT_INTERNAL_ERROR);
		return;
	}
	sg_hs_timer_set(e, hs_slot_idx(e, s), x->now.mono_ms + s->rto);
}

static bool cookies_needed(const struct sg_hs_engine *e)
{
	switch (e->conf.cookie_policy) {
	case SG_HS_COOKIE_ALWAYS:
		return true;
	case SG_HS_COOKIE_UNDER_LOAD:
		return e->in_flight >= e->conf.cookie_threshold;
	default:
		return false;
	}
}

static void send_hvr(struct sg_hs_engine *e, struct hs_rx *x, const struct hello *h)
{
	uint8_t cookie[SG_HS_COOKIE_LEN], msg[SG_DTLS_HS_HDR_LEN + 3 + SG_HS_COOKIE_LEN];
	struct sg_hs_wbuf w = { .p = msg, .cap = sizeof(msg) };
	uint64_t seq = h->rh->seq;
	struct hs_tx t = {
		.e = e,
		.peer = x->peer,
		.ep0_seq = &seq,
		.version = SG_DTLS_VERSION_1_0,
		.max_frag = SG_DTLS_MAX_PLAINTEXT,
		.answers = x->len,
	};

	if (sg_hs_cookie_make(&e->crypto, &e->cookies, (const uint8_t *)x->peer, h->body,
	                      h->mh->length, h->ch.cookie_off, e->scratch, cookie) < 0)
		return;
	/*
	 * RFC 6347 §4.2.1: version 1.0 in the HelloVerifyRequest. Its message_seq
	 * is the hello's, as the ServerHello's (§4.2.2): 0 for a first hello, and
	 * for a hello whose cookie expired (or came from another engine's
	 * secrets) the next one the client expects; OpenSSL's client ignores a
	 * second HelloVerifyRequest numbered 0 as a retransmission and would
	 * resend the stale cookie until it gives up.
	 */
	sg_hs_write_hello_verify_request(&w, h->mh->seq, SG_DTLS_VERSION_1_0, cookie,
	                                 sizeof(cookie));
	e->tx_len = 0;
	sg_hs_tx_handshake(&t, msg, w.len, 0);
	sg_hs_tx_flush(&t);
	x->handled = 1;
	hs_count(e, SG_HS_C_HVR_SENT);
}

/*
 * The same hello again: our flight was lost (RFC 6347 §4.2.4). One resend
 * per retransmission period, whoever asks: a replayed hello must not make
 * us send more often than our own timer does. False: not a repeat.
 */
static bool hello_repeated(struct sg_hs_engine *e, struct hs_rx *x, struct hs_slot *s,
                           const struct hello *h)
{
	if (s == NULL || s->ch_seq != h->mh->seq ||
	    memcmp(s->client_random, h->ch.random, SG_TLS_RANDOM_LEN) != 0)
		return false;
	if ((s->state != HS_WAIT_CKE && s->state != HS_WAIT_RESUMED) || (s->flags & SF_RESENT)) {
		hs_rx_drop(x, SG_HS_C_DROP_DUPLICATE);
		return true;
	}
	x->handled = 1;
	hs_count(e, SG_HS_C_RETRANSMIT_PEER);
	sg_hs_retransmit(e, s);
	return true;
}

/*
 * RFC 6347 §4.1: DTLS versions count down; 0xfeff is 1.0. RFC 7507 §3
 * first. False: refused (alert sent).
 */
static bool hello_version_ok(struct sg_hs_engine *e, struct hs_rx *x, const struct hello *h)
{
	uint16_t v = h->ch.version;
	bool fallback;

	if ((v >> 8) == 0xfe && v <= SG_DTLS_VERSION_1_2)
		return true;
	fallback = (h->ch.flags & SG_HS_CH_F_FALLBACK_SCSV) && (v >> 8) == 0xfe;
	x->handled = 1;
	hs_count(e, fallback ? SG_HS_C_FAIL_FALLBACK : SG_HS_C_FAIL_PROTOCOL_VERSION);
	sg_hs_alert_stateless(e, x->peer, x->len, h->rh->seq, SG_DTLS_VERSION_1_0,
	                      fallback ? SG_TLS_ALERT_INAPPROPRIATE_FALLBACK
	                               : SG_TLS_ALERT_PROTOCOL_VERSION);
	return false;
}

/*
 * A flight with our chain is several times the hello (RFC 9147 §5.1 advises
 * a cookie first): until a cookie proves the address, the amplification
 * limit (hs_output.h) would hold most of it back. So a hello that may get
 * an ECDHE-ECDSA suite needs a cookie under any policy but never.
 */
static bool cert_flight_possible(const struct sg_hs_engine *e, const struct sg_hs_client_hello *ch)
{
	if (e->conf.certs == NULL || e->conf.cookie_policy == SG_HS_COOKIE_NEVER)
		return false;
	for (unsigned i = 0; i < e->n_prefs; i++)
		if (hs_suite_cert(e->prefs[i]) && sg_hs_client_hello_has_suite(ch, e->prefs[i]->id))
			return true;
	return false;
}

/*
 * The cookie exchange (RFC 6347 §4.2.1). A valid cookie proves the address
 * under any policy. UNDER_LOAD also wants one before a hello may replace a
 * handshake in progress: without it, anyone who knows a device's address
 * and port could end its handshake with one spoofed hello (the client
 * restarting pays one round trip). 1: go on, the address proven; 0: go on;
 * -1: a HelloVerifyRequest went instead (a bad cookie is counted as the
 * datagram's drop).
 */
static int hello_cookie(struct sg_hs_engine *e, struct hs_rx *x, const struct hello *h)
{
	bool need = cookies_needed(e) ||
	            (e->cur != NULL && e->conf.cookie_policy == SG_HS_COOKIE_UNDER_LOAD) ||
	            cert_flight_possible(e, &h->ch);
	int rc;

	if (h->ch.cookie_len == 0) {
		if (!need)
			return 0;
		send_hvr(e, x, h);
		return -1;
	}
	rc = sg_hs_cookie_check(&e->crypto, &e->cookies, (const uint8_t *)x->peer, h->body,
	                        h->mh->length, h->ch.cookie_off, e->scratch);
	if (rc < 0 && need) {
		/* Treated as a hello without a cookie. */
		hs_rx_drop(x, rc == -EKEYEXPIRED ? SG_HS_C_DROP_COOKIE_EXPIRED
		                                 : SG_HS_C_DROP_COOKIE_BAD);
		send_hvr(e, x, h);
		x->handled = 0;
		return -1;
	}
	return rc == 0 ? 1 : 0;
}

void sg_hs_on_client_hello(struct sg_hs_engine *e, struct hs_rx *x, const struct sg_rec_hdr *rh,
                           const struct sg_hs_msg_hdr *mh, const uint8_t *body)
{
	struct hello h = { .rh = rh, .mh = mh, .body = body };
	int rc;

	/* Without state a fragmented hello cannot be checked; as OpenSSL's
	 * DTLSv1_listen, we require it whole. */
	if (mh->frag_off != 0 || mh->frag_len != mh->length) {
		hs_rx_drop(x, SG_HS_C_DROP_FRAGMENTED_CH);
		return;
	}
	rc = sg_hs_client_hello_parse(body, mh->length, &h.ch);
	if (rc < 0) {
		x->handled = 1;
		hs_count(e, rc == -EINVAL ? SG_HS_C_FAIL_ILLEGAL_PARAMETER : SG_HS_C_FAIL_DECODE);
		sg_hs_alert_stateless(e, x->peer, x->len, rh->seq, rh->version,
		                      rc == -EINVAL ? SG_TLS_ALERT_ILLEGAL_PARAMETER
		                                    : SG_TLS_ALERT_DECODE_ERROR);
		return;
	}
	if (hello_repeated(e, x, e->cur, &h) || !hello_version_ok(e, x, &h))
		return;
	rc = hello_cookie(e, x, &h);
	if (rc < 0)
		return;
	/*
	 * Storm admission is charged here, once the cookie proved the address
	 * (a forged cookie never reaches this point) and right before a slot
	 * would be taken.
	 */
	if (e->conf.ops.admit != NULL && e->conf.ops.admit(e->conf.ops.ctx, x->peer) != 0) {
		hs_rx_drop(x, SG_HS_C_DROP_ADMISSION);
		return;
	}
	start_handshake(e, x, &h, rc == 1);
}
