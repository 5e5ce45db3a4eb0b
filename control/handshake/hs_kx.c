/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The client's ClientKeyExchange (RFC 4279 §2, RFC 5489 §2): the share
 * checked, the PSK and policy of the identity it names, then the key
 * schedule (hs_keys.c), alone or prepared by a burst. See hs_kx.h. Calls
 * hs_keys, hs_output (a failure), hs_linger (a prefetch) and hs_slots only
 * (hs_priv.h lists the stack). The engine's thread only. Touches the slot
 * of the datagram's peer and calls ops.psk_lookup.
 */
#include <errno.h>
#include <string.h>

#include "hs_keys.h"
#include "hs_kx.h"
#include "hs_linger.h"
#include "hs_output.h"
#include "hs_priv.h"
#include "hs_slots.h"

/*
 * Parse the key exchange and, for ECDHE-PSK, derive the shared secret into
 * other (SG_HS_ECDH_SECRET_LEN bytes); nothing else changes. 0, -EBADMSG
 * (it does not parse, or the share is off the curve or of low order, RFC
 * 8422 §5.11, RFC 7748 §6.1) or -EIO.
 */
static int kx_parse_share(struct sg_hs_engine *e, const struct hs_slot *s, const uint8_t *body,
                          size_t len, struct sg_hs_client_kx *kx,
                          uint8_t other[SG_HS_ECDH_SECRET_LEN])
{
	bool ec = hs_suite_ecdhe(hs_slot_suite(s));
	int rc;

	if (sg_hs_client_kx_parse(body, len, ec, kx) < 0)
		return -EBADMSG;
	if (!ec)
		return 0;
	rc = sg_hs_ecdh_derive(&e->ecdh, &s->eph, kx->point, kx->point_len, other);
	if (rc == -EINVAL)
		return -EBADMSG;
	return rc < 0 ? -EIO : 0;
}

/*
 * The share, as the step alone takes it. The message is not authenticated:
 * anyone who knows the client's address and port can send one. One that
 * does not parse, or whose share is bad, is discarded before anything in
 * the slot changes, our ephemeral key included, and the slot keeps waiting
 * for the client's own (RFC 6347 §4.1.2.7); the share is checked before
 * the credential store is asked. 0, or -1: the record was dropped or the
 * handshake failed.
 */
static int kx_share(struct sg_hs_engine *e, struct hs_rx *x, struct hs_slot *s, const uint8_t *body,
                    size_t len, struct sg_hs_client_kx *kx, uint8_t other[SG_HS_ECDH_SECRET_LEN])
{
	int rc = kx_parse_share(e, s, body, len, kx, other);

	if (rc == -EBADMSG) {
		hs_rx_drop(x, SG_HS_C_DROP_MALFORMED);
		return -1;
	}
	if (rc < 0) {
		x->handled = 1;
		sg_hs_fail(e, s, SG_HS_C_FAIL_INTERNAL, SG_TLS_ALERT_INTERNAL_ERROR);
		return -1;
	}
	return 0;
}

/*
 * The PSK and policy of the identity the client names (RFC 4279 §2), into
 * cred. An unknown or refused identity continues with a random PSK and
 * fails at Finished, like a wrong key (RFC 4279 §2 allows it; no oracle):
 * *id_flag says which (SF_UNKNOWN_ID, SF_POLICY), for the slot to take.
 * 0, or -errno: the credential store failed.
 */
static int kx_credential(struct sg_hs_engine *e, const struct hs_slot *s,
                         const struct sg_hs_client_kx *kx, struct sg_hs_cred *cred,
                         uint16_t *id_flag)
{
	int rc;

	memset(cred, 0, sizeof(*cred));
	*id_flag = 0;
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
		*id_flag = rc == -ENOENT ? SF_UNKNOWN_ID : SF_POLICY;
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
	s->user = cred->user;
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
 * The step once the share is good (p: the parsed message and the
 * credential): the slot takes the credential, the message goes into the
 * transcript, the identity is kept, the keys are derived now (other: the
 * ECDH output, NULL for PSK) or were by the burst (prepared), and the
 * client's Finished is expected.
 */
static void kx_complete(struct sg_hs_engine *e, struct hs_rx *x, struct hs_slot *s,
                        const uint8_t *body, size_t len, struct hs_kx_pre *p, const uint8_t *other,
                        bool prepared)
{
	struct hs_derive *d = &p->d;
	uint8_t pms[HS_PMS_MAX];
	int rc;

	if (p->cred_rc < 0) {
		sg_hs_fail(e, s, SG_HS_C_FAIL_CRED_STORE, SG_TLS_ALERT_INTERNAL_ERROR);
		return;
	}
	s->flags |= p->id_flag;
	kx_keep_credential(e, s, &p->cred);
	/* Last use of the message bytes: the identity may overwrite the
	 * reassembly buffer they sit in (hence memmove, after the hash). */
	sg_hs_transcript_add_msg(&s->transcript, SG_TLS_HT_CLIENT_KEY_EXCHANGE, s->rx_seq, body,
	                         len);
	s->identity_len =
	        (uint8_t)(p->kx.identity_len > SG_TLS_PSK_IDENTITY_MAX ? 0 : p->kx.identity_len);
	memmove(s->u.identity, p->kx.identity, s->identity_len);
	if (!prepared) {
		size_t n = sg_hs_premaster(pms, other, &p->cred);

		sg_hs_derive_prepare(s, &s->transcript, pms, n, (uint16_t)(s->rx_seq + 1), d);
		sg_wipe(pms, sizeof(pms));
		sg_hs_derive_run(e, &d, 1);
	}
	rc = sg_hs_derive_apply(e, s, d);
	if (rc < 0) {
		sg_hs_fail(e, s, SG_HS_C_FAIL_INTERNAL, SG_TLS_ALERT_INTERNAL_ERROR);
		return;
	}
	s->rx_seq++;
	s->state = HS_WAIT_FINISHED;
	x->kx_here = true;
	memcpy(x->client_verify, d->client_verify, sizeof(x->client_verify));
	sg_hs_linger_prefetch(e, x->hash);
}

/* The burst's preparation of this very message of this handshake, or NULL. */
static struct hs_kx_pre *kx_prepared(const struct hs_rx *x, const struct hs_slot *s,
                                     const uint8_t *body, size_t len)
{
	struct hs_kx_pre *p = x->pre;

	if (p == NULL || p->s != s || p->body != body || p->len != len || p->seq != s->rx_seq ||
	    memcmp(p->server_random, s->server_random, SG_TLS_RANDOM_LEN) != 0)
		return NULL;
	return p;
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
	uint8_t other[SG_HS_ECDH_SECRET_LEN];
	bool ec = hs_suite_ecdhe(hs_slot_suite(s));
	struct hs_kx_pre *p = kx_prepared(x, s, body, len), local;

	if (p != NULL) {
		/* The burst checked the share and derived the keys: the same step, now. */
		x->handled = 1;
		hs_advanced(x, s);
		if (ec)
			sg_hs_ecdh_clear(&s->eph);
		kx_complete(e, x, s, body, len, p, NULL, true);
		sg_wipe(p, sizeof(*p));
		return;
	}
	if (kx_share(e, x, s, body, len, &local.kx, other) < 0) {
		sg_wipe(other, sizeof(other));
		return;
	}
	if (ec)
		sg_hs_ecdh_clear(&s->eph);
	x->handled = 1;
	hs_advanced(x, s);
	local.cred_rc = kx_credential(e, s, &local.kx, &local.cred, &local.id_flag);
	kx_complete(e, x, s, body, len, &local, ec ? other : NULL, false);
	sg_wipe(other, sizeof(other));
	sg_wipe(&local, sizeof(local));
}

bool sg_hs_kx_prepare(struct sg_hs_engine *e, const struct hs_slot *s, const uint8_t *body,
                      size_t len, uint16_t seq, struct hs_kx_pre *p)
{
	uint8_t other[SG_HS_ECDH_SECRET_LEN], pms[HS_PMS_MAX];
	bool ec = hs_suite_ecdhe(hs_slot_suite(s));
	struct sg_hs_transcript t;
	size_t n;

	/* ECDHE-ECDSA: its own step in its datagram's turn (hs_certpeer.h), not batched. */
	if (hs_suite_cert(hs_slot_suite(s)))
		return false;
	if (kx_parse_share(e, s, body, len, &p->kx, other) < 0) {
		sg_wipe(other, sizeof(other));
		return false;
	}
	p->s = s;
	p->body = body;
	p->len = len;
	p->seq = seq;
	memcpy(p->server_random, s->server_random, SG_TLS_RANDOM_LEN);
	p->cred_rc = kx_credential(e, s, &p->kx, &p->cred, &p->id_flag);
	if (p->cred_rc < 0) {
		/* Nothing to derive: the datagram's turn fails the handshake. */
		p->d.rc = p->cred_rc;
		sg_wipe(other, sizeof(other));
		return true;
	}
	/* The slot's transcript stays as it is until the datagram's turn. */
	t = s->transcript;
	sg_hs_transcript_add_msg(&t, SG_TLS_HT_CLIENT_KEY_EXCHANGE, seq, body, len);
	n = sg_hs_premaster(pms, ec ? other : NULL, &p->cred);
	sg_hs_derive_prepare(s, &t, pms, n, (uint16_t)(seq + 1), &p->d);
	sg_wipe(pms, sizeof(pms));
	sg_wipe(other, sizeof(other));
	sg_wipe(&t, sizeof(t));
	return true;
}

void sg_hs_kx_prepared_run(struct sg_hs_engine *e, struct hs_kx_pre *p, unsigned n)
{
	struct hs_derive *d[SG_HS_BURST_MAX];
	unsigned m = 0;

	for (unsigned i = 0; i < n && i < SG_HS_BURST_MAX; i++)
		if (p[i].cred_rc == 0)
			d[m++] = &p[i].d;
	sg_hs_derive_run(e, d, m);
}
