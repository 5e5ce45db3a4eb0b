/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Our flights (RFC 6347 §4.2.4): flight 4 of a full handshake (ServerHello,
 * ServerKeyExchange, ServerHelloDone), the abbreviated handshake's
 * (ServerHello, ChangeCipherSpec, Finished), the NewSessionTicket of the
 * final flight, and their retransmission. Flights are made again from the
 * slot each time, byte for byte the same. See hs_flights.h. Calls hs_keys
 * (our Finished), hs_certflight (the certificate messages of an ECDHE-ECDSA
 * flight 4), hs_output (every record) and hs_slots only (hs_priv.h lists
 * the stack). The engine's thread only. Reads the slot (and adds to
 * its transcript on a first send), seals tickets with the ticket keys.
 */
#include <string.h>

#include "hs_certflight.h"
#include "hs_flights.h"
#include "hs_keys.h"
#include "hs_output.h"
#include "hs_priv.h"
#include "hs_slots.h"

/* Flight 4: a ServerHello (within MSG_MAX), a ServerKeyExchange with the
 * longest identity hint and a P-256 point (RFC 4279 §2, RFC 5489 §2), the
 * ServerHelloDone. */
#define FLIGHT4_MAX                                                                                \
	(MSG_MAX + SG_DTLS_HS_HDR_LEN + 2 + SG_HS_HINT_MAX + 4 + SG_HS_ECDH_PUB_MAX +              \
	 SG_DTLS_HS_HDR_LEN)

void sg_hs_server_hello_of(const struct hs_slot *s, bool resumed, struct sg_hs_server_hello *sh)
{
	memset(sh, 0, sizeof(*sh));
	sh->version = SG_DTLS_VERSION_1_2;
	sh->random = s->server_random;
	sh->session_id = s->session_id;
	sh->session_id_len = s->session_id_len;
	sh->suite = hs_slot_suite(s)->id;
	if (s->flags & SF_SECURE_RENEG)
		sh->flags |= SG_HS_CH_F_RENEG_INFO;
	if (s->flags & SF_EMS)
		sh->flags |= SG_HS_CH_F_EMS;
	if (s->flags & SF_POINTS)
		sh->flags |= SG_HS_CH_F_POINT_FORMATS;
	if (s->flags & SF_TICKET)
		sh->flags |= SG_HS_CH_F_TICKET;
	if (s->flags & SF_CID) {
		sh->flags |= SG_HS_CH_F_CID;
		sh->cid = s->cid;
		sh->cid_len = s->cid_len;
	}
	/* RFC 6066 §3: an empty server_name in a full handshake only. */
	if ((s->flags & SF_SNI) && !resumed)
		sh->flags |= SG_HS_CH_F_SNI;
	if (s->mfl) {
		sh->flags |= SG_HS_CH_F_MFL;
		sh->mfl = s->mfl;
	}
	if (s->rsl) {
		sh->flags |= SG_HS_CH_F_RSL;
		sh->rsl = s->rsl;
	}
	if (s->flags & SF_RRC)
		sh->flags |= SG_HS_CH_F_RRC;
	/* RFC 7366 §3: only with the CBC suite it applies to (hs_hello.c). */
	if (s->flags & SF_ETM)
		sh->flags |= SG_HS_CH_F_ETM;
	sg_hs_cert_server_hello(s, sh);
}

int sg_hs_flight_full(struct sg_hs_engine *e, struct hs_slot *s, bool first)
{
	uint8_t stack[FLIGHT4_MAX];
	/* A certificate flight carries our chain: the engine's buffer (hs_certflight.h). */
	const bool cert = hs_suite_cert(hs_slot_suite(s));
	uint8_t *buf = cert ? e->flight : stack;
	struct sg_hs_wbuf w = { .p = buf, .cap = cert ? e->flight_cap : sizeof(stack) };
	struct sg_hs_server_hello sh;
	struct hs_tx t = sg_hs_tx_for_slot(e, s);
	uint16_t seq = s->ch_seq;
	int rc;

	sg_hs_server_hello_of(s, false, &sh);
	rc = sg_hs_write_server_hello(&w, seq++, &sh);
	if (rc == 0 && cert) {
		rc = sg_hs_cert_flight_msgs(e, s, &w, &seq);
	} else if (rc == 0 && (hs_suite_ecdhe(hs_slot_suite(s)) || e->conf.psk_hint_len)) {
		const bool ec = hs_suite_ecdhe(hs_slot_suite(s));
		uint16_t group = s->eph.group == SG_HS_GROUP_X25519 ? SG_TLS_GROUP_X25519
		                                                    : SG_TLS_GROUP_SECP256R1;

		rc = sg_hs_write_server_kx(&w, seq++, e->conf.psk_hint, e->conf.psk_hint_len, group,
		                           ec ? s->eph.pub : NULL, s->eph.pub_len);
	}
	if (rc == 0)
		rc = sg_hs_write_server_hello_done(&w, seq);
	if (rc < 0)
		return rc;
	if (first)
		sg_hs_transcript_add(&s->transcript, buf, w.len);
	/* Each message is sent as its own handshake record(s). */
	for (size_t off = 0; off < w.len;) {
		struct sg_hs_msg_hdr h;
		int n = sg_hs_msg_hdr_parse(buf + off, w.len - off, &h);

		sg_hs_tx_handshake(&t, buf + off, (size_t)n, 0);
		off += (size_t)n;
	}
	sg_hs_tx_flush(&t);
	return t.err;
}

int sg_hs_flight_resumed(struct sg_hs_engine *e, struct hs_slot *s)
{
	uint8_t sh_buf[MSG_MAX], fin[SG_DTLS_HS_HDR_LEN + SG_TLS_VERIFY_DATA_LEN];
	struct sg_hs_wbuf w = { .p = sh_buf, .cap = sizeof(sh_buf) };
	struct sg_hs_wbuf wf = { .p = fin, .cap = sizeof(fin) };
	struct sg_hs_server_hello sh;
	struct hs_tx t = sg_hs_tx_for_slot(e, s);
	int rc;

	sg_hs_server_hello_of(s, true, &sh);
	rc = sg_hs_write_server_hello(&w, s->ch_seq, &sh);
	if (rc == 0)
		rc = sg_hs_write_finished(&wf, (uint16_t)(s->ch_seq + 1), s->server_verify);
	if (rc < 0)
		return rc;
	sg_hs_tx_handshake(&t, sh_buf, w.len, 0);
	sg_hs_tx_ccs(&t);
	sg_hs_tx_handshake(&t, fin, wf.len, 1);
	sg_hs_tx_flush(&t);
	return t.err;
}

bool sg_hs_retransmit(struct sg_hs_engine *e, struct hs_slot *s)
{
	uint32_t before = s->bytes_out;

	switch (s->state) {
	case HS_WAIT_CKE:
	case HS_WAIT_FINISHED:
		sg_hs_flight_full(e, s, false);
		break;
	case HS_WAIT_RESUMED:
		sg_hs_flight_resumed(e, s);
		break;
	default:
		break;
	}
	if (s->bytes_out == before)
		return false;
	s->flags |= SF_RESENT;
	return true;
}

/* The NewSessionTicket of a full handshake (RFC 5077 §3.3), into w. */
static int write_ticket(struct sg_hs_engine *e, struct hs_slot *s, uint64_t now_unix,
                        struct sg_hs_wbuf *w, uint16_t seq)
{
	struct sg_hs_ticket_state st = {
		.suite = hs_slot_suite(s)->id,
		.ems = !!(s->flags & SF_EMS),
		.issued = now_unix,
		.lifetime = e->conf.ticket_lifetime_s,
		.identity_len = s->identity_len,
	};
	uint8_t ticket[SG_HS_TICKET_MAX];
	int len = 0, rc;

	memcpy(st.master, s->master, sizeof(st.master));
	/* A certificate session is looked up again by identity or key (docs/certificates.md). */
	st.auth = s->auth;
	if (s->auth == SG_HS_AUTH_PSK)
		memcpy(st.psk_digest, s->psk_digest, sizeof(st.psk_digest));
	else if (s->auth == SG_HS_AUTH_RPK)
		memcpy(st.key, s->key_hash, sizeof(st.key));
	memcpy(st.identity, s->u.identity, s->identity_len);
	sg_hs_ticket_sni_hash(s->sni, (s->flags & SF_SNI) ? s->sni_len : 0, st.sni_hash);
	/* An unknown identity never gets this far (its Finished fails). */
	if (!(s->flags & SF_NO_TICKET)) {
		len = sg_hs_ticket_seal(&e->crypto, e->rec, &e->tickets, &st, ticket,
		                        sizeof(ticket));
		if (len < 0)
			len = 0; /* RFC 5077 §3.3: an empty ticket is allowed */
		else
			hs_count(e, SG_HS_C_TICKET_ISSUED);
	}
	sg_wipe(&st, sizeof(st));
	rc = sg_hs_write_new_session_ticket(w, seq, len ? e->conf.ticket_lifetime_s : 0, ticket,
	                                    (uint16_t)len);
	return rc;
}

/*
 * Messages of flight 4 between ServerHello and ServerHelloDone: a
 * certificate flight's (hs_certflight.h), or the ServerKeyExchange of
 * ECDHE-PSK or of PSK with a hint.
 */
static unsigned flight4_middle(const struct sg_hs_engine *e, const struct hs_slot *s)
{
	if (hs_suite_cert(hs_slot_suite(s)))
		return sg_hs_cert_flight_msgs_n(s);
	return (hs_suite_ecdhe(hs_slot_suite(s)) || e->conf.psk_hint_len) ? 1 : 0;
}

int sg_hs_final_build(struct sg_hs_engine *e, struct hs_slot *s, uint64_t now_unix,
                      struct sg_hs_wbuf *nst, struct sg_hs_wbuf *fin)
{
	/* Our next message_seq: ServerHello (= CH seq), the middle of flight 4, ServerHelloDone. */
	uint16_t seq = (uint16_t)(s->ch_seq + 2 + flight4_middle(e, s));
	int rc = 0;

	if (s->flags & SF_TICKET) {
		rc = write_ticket(e, s, now_unix, nst, seq++);
		if (rc == 0)
			sg_hs_transcript_add(&s->transcript, nst->p, nst->len);
	}
	/* Without a ticket between the Finished messages it came with the keys (hs_keys.h). */
	if (rc == 0 && !(s->flags & SF_SERVER_FIN))
		rc = sg_hs_finished_of(e, s, SG_TLS_LABEL_SERVER_FINISHED, s->server_verify);
	if (rc == 0)
		rc = sg_hs_write_finished(fin, seq, s->server_verify);
	return rc;
}

void sg_hs_final_send(struct hs_tx *t, const struct sg_hs_wbuf *nst, const struct sg_hs_wbuf *fin)
{
	if (nst->len)
		sg_hs_tx_handshake(t, nst->p, nst->len, 0);
	sg_hs_tx_ccs(t);
	sg_hs_tx_handshake(t, fin->p, fin->len, 1);
}
