/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The client's ClientKeyExchange (RFC 4279 §2, RFC 5489 §2): the share
 * checked, the PSK and policy of the identity it names, then the key
 * schedule (hs_keys.c). See hs_kx.h. Calls hs_keys, hs_output (a failure),
 * hs_linger (a prefetch) and hs_slots only (hs_priv.h lists the stack).
 * The engine's thread only. Touches the slot of the datagram's peer and
 * calls ops.psk_lookup.
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
 * RFC 4279 §2 (PSK) and RFC 5489 §2 (ECDHE-PSK): the share, the identity's
 * PSK, the premaster and master secrets, the keys; then the client's
 * Finished is expected. Secrets (PSK, ECDH output, premaster) are wiped on
 * every path.
 */
void sg_hs_on_client_kx(struct sg_hs_engine *e, struct hs_rx *x, struct hs_slot *s,
                        const uint8_t *body, size_t len)
{
	uint8_t pms[HS_PMS_MAX], other[SG_HS_ECDH_SECRET_LEN];
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
	n = sg_hs_premaster(pms, ec ? other : NULL, &cred);
	sg_wipe(&cred, sizeof(cred));
	sg_wipe(other, sizeof(other));
	rc = sg_hs_master_secret(e, s, pms, n);
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
