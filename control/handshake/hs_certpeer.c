/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The client's side of an ECDHE-ECDSA handshake: its Certificate, policy,
 * ClientKeyExchange and CertificateVerify, and the policy of a resumed
 * certificate session. See hs_certpeer.h. Calls hs_keys, hs_output (a
 * failure), hs_linger (a prefetch), hs_slots and the leaves (hs_cert,
 * hs_certcodec, hs_bigmsg, hs_ecdh) only (hs_priv.h lists the stack). The
 * engine's thread only.
 */
#include <errno.h>
#include <string.h>

#include "hs_bigmsg.h"
#include "hs_cert.h"
#include "hs_certcodec.h"
#include "hs_certpeer.h"
#include "hs_keys.h"
#include "hs_linger.h"
#include "hs_output.h"
#include "hs_priv.h"
#include "hs_slots.h"

/* The alert of each failure of a certificate handshake (RFC 5246 §7.2.2, handshake.h). */
static uint8_t alert_of(enum sg_hs_counter why)
{
	switch (why) {
	case SG_HS_C_FAIL_BAD_CERT:
		return SG_TLS_ALERT_BAD_CERTIFICATE;
	case SG_HS_C_FAIL_CERT_EXPIRED:
		return SG_TLS_ALERT_CERTIFICATE_EXPIRED;
	case SG_HS_C_FAIL_CERT_REVOKED:
		return SG_TLS_ALERT_CERTIFICATE_REVOKED;
	case SG_HS_C_FAIL_UNKNOWN_CA:
		return SG_TLS_ALERT_UNKNOWN_CA;
	case SG_HS_C_FAIL_CERT_POLICY:
		return SG_TLS_ALERT_ACCESS_DENIED;
	case SG_HS_C_FAIL_CERT_VERIFY:
		return SG_TLS_ALERT_DECRYPT_ERROR;
	case SG_HS_C_FAIL_UNSUPPORTED_CERT:
		return SG_TLS_ALERT_UNSUPPORTED_CERTIFICATE;
	case SG_HS_C_FAIL_NO_CERT:
		return SG_TLS_ALERT_HANDSHAKE_FAILURE;
	case SG_HS_C_FAIL_DECODE:
		return SG_TLS_ALERT_DECODE_ERROR;
	case SG_HS_C_FAIL_ILLEGAL_PARAMETER:
		return SG_TLS_ALERT_ILLEGAL_PARAMETER;
	case SG_HS_C_FAIL_UNEXPECTED_MESSAGE:
		return SG_TLS_ALERT_UNEXPECTED_MESSAGE;
	default:
		return SG_TLS_ALERT_INTERNAL_ERROR;
	}
}

static void cert_fail(struct sg_hs_engine *e, struct hs_rx *x, struct hs_slot *s,
                      enum sg_hs_counter why)
{
	x->handled = 1;
	sg_hs_fail(e, s, why, alert_of(why));
}

/*
 * ops.cert_lookup for kind and key (the X.509 identity, or the SPKI hash of
 * a raw public key; handshake.h), under set's policy: the credential into
 * the slot, the store's name of a raw public key into id (*id_len). 0, or
 * the failure's counter: an unknown raw public key is a bad certificate;
 * an X.509 identity without an entry takes the defaults (keeping what the
 * callback put in cred.user) unless require_policy; -EACCES or a policy
 * flag the session cannot meet is access_denied; a store that failed,
 * internal_error.
 */
static int cert_policy(struct sg_hs_engine *e, struct hs_slot *s, const struct hs_cert_set *set,
                       enum sg_hs_auth kind, const uint8_t *key, size_t key_len, uint8_t *id,
                       uint16_t *id_len)
{
	struct sg_hs_cred cred;
	int rc = -ENOENT;

	memset(&cred, 0, sizeof(cred));
	*id_len = 0;
	if (e->conf.ops.cert_lookup != NULL)
		rc = e->conf.ops.cert_lookup(e->conf.ops.ctx, kind, key, key_len,
		                             (s->flags & SF_SNI) ? s->sni : NULL, s->sni_len, &cred,
		                             id, id_len);
	if (kind == SG_HS_AUTH_RPK && rc == -ENOENT)
		return (int)SG_HS_C_FAIL_BAD_CERT;
	if (kind == SG_HS_AUTH_RPK && rc == 0 &&
	    (*id_len == 0 || *id_len > SG_TLS_PSK_IDENTITY_MAX))
		rc = -EIO;
	if (rc == -ENOENT && !hs_cert_require_policy(set)) {
		/* The defaults; the caller's word (cred.user) is still its own. */
		uint64_t user = cred.user;

		memset(&cred, 0, sizeof(cred));
		cred.user = user;
		rc = 0;
	} else if (rc == -ENOENT ||
	           (rc == 0 && (cred.flags & SG_HS_CRED_F_REQUIRE_EMS) && !(s->flags & SF_EMS))) {
		rc = -EACCES;
	}
	if (rc == 0) {
		s->cred_ref = cred.cred_ref;
		s->backend = cred.backend;
		s->user = cred.user;
		s->lifetime = cred.lifetime_s ? cred.lifetime_s : e->conf.session_lifetime_s;
		if (cred.flags & SG_HS_CRED_F_NO_TICKET)
			s->flags |= SF_NO_TICKET; /* RFC 5077 §3.3: an empty ticket then */
	}
	sg_wipe(&cred, sizeof(cred));
	if (rc == -EACCES)
		return (int)SG_HS_C_FAIL_CERT_POLICY;
	return rc < 0 ? (int)SG_HS_C_FAIL_CRED_STORE : 0;
}

/* An X.509 chain (RFC 5246 §7.4.6): verified, its key and identity kept, its policy. */
static int peer_x509(struct sg_hs_engine *e, const struct hs_rx *x, struct hs_slot *s,
                     const uint8_t *list, size_t n)
{
	uint8_t id[SG_TLS_PSK_IDENTITY_MAX], name[SG_TLS_PSK_IDENTITY_MAX];
	uint16_t id_len = 0, name_len;
	int why;

	why = hs_cert_verify_x509(e->conf.certs, s->cset, list, n, (int64_t)x->now.unix_s,
	                          &s->peer_key, id, &id_len);
	if (why != 0)
		return why;
	if (id_len > SG_TLS_PSK_IDENTITY_MAX)
		return (int)SG_HS_C_FAIL_BAD_CERT;
	s->auth = SG_HS_AUTH_X509;
	s->identity_len = (uint8_t)id_len;
	memcpy(s->u.identity, id, id_len);
	/* The store's name is asked for raw public keys only: the certificate names itself. */
	return cert_policy(e, s, s->cset, SG_HS_AUTH_X509, id, id_len, name, &name_len);
}

/* A raw public key (RFC 7250 §3): parsed, found in the credential store by its hash. */
static int peer_rpk(struct sg_hs_engine *e, struct hs_slot *s, const uint8_t *spki, size_t n)
{
	uint8_t id[SG_TLS_PSK_IDENTITY_MAX];
	uint16_t id_len = 0;
	int why = hs_cert_parse_rpk(spki, n, &s->peer_key, s->key_hash);

	if (why == 0)
		why = cert_policy(e, s, s->cset, SG_HS_AUTH_RPK, s->key_hash, sizeof(s->key_hash),
		                  id, &id_len);
	if (why != 0)
		return why;
	s->auth = SG_HS_AUTH_RPK;
	s->identity_len = (uint8_t)id_len;
	memcpy(s->u.identity, id, id_len);
	return 0;
}

/*
 * RFC 5246 §7.4.6: the client's Certificate, sent only when asked, once;
 * an empty one is allowed unless client_auth is require (RFC 7250 §3 for
 * a raw public key).
 */
static void on_certificate(struct sg_hs_engine *e, struct hs_rx *x, struct hs_slot *s,
                           const uint8_t *body, size_t len)
{
	const bool rpk = (s->cflags & CF_RPK_PEER) != 0;
	const uint8_t *list;
	size_t n;
	int why;

	if (!(s->cflags & CF_REQUEST) || (s->cflags & CF_GOT_CERT)) {
		cert_fail(e, x, s, SG_HS_C_FAIL_UNEXPECTED_MESSAGE);
		return;
	}
	if (sg_hs_certificate_parse(body, len, rpk, &list, &n) < 0) {
		cert_fail(e, x, s, SG_HS_C_FAIL_DECODE);
		return;
	}
	x->handled = 1;
	hs_advanced(x, s);
	if (n == 0)
		why = hs_cert_client_auth(s->cset) == SG_HS_CLIENT_AUTH_REQUIRE
		              ? (int)SG_HS_C_FAIL_NO_CERT
		              : 0;
	else
		why = rpk ? peer_rpk(e, s, list, n) : peer_x509(e, x, s, list, n);
	if (why != 0) {
		cert_fail(e, x, s, (enum sg_hs_counter)why);
		return;
	}
	sg_hs_transcript_add_msg(&s->transcript, SG_TLS_HT_CERTIFICATE, s->rx_seq, body, len);
	s->rx_seq++;
	s->cflags |= CF_GOT_CERT | (n ? CF_PEER_KEY : 0);
}

/*
 * The key schedule at the client's ECDHE share (RFC 8422 §5.10: the
 * premaster is the ECDH output; RFC 7627 §4: the session hash ends with the
 * ClientKeyExchange). With a CertificateVerify to come, the client's
 * Finished covers it, so neither Finished is derived now (the Finished
 * numbers come after it). 0 or -errno.
 */
static int derive(struct sg_hs_engine *e, struct hs_rx *x, struct hs_slot *s,
                  const uint8_t other[SG_HS_ECDH_SECRET_LEN], bool cv)
{
	struct hs_derive d, *dp = &d;
	int rc;

	sg_hs_derive_prepare(s, &s->transcript, other, SG_HS_ECDH_SECRET_LEN,
	                     (uint16_t)(s->rx_seq + (cv ? 2 : 1)), &d);
	if (cv)
		d.server_fin = 0;
	sg_hs_derive_run(e, &dp, 1);
	rc = sg_hs_derive_apply(e, s, &d);
	if (rc == 0 && !cv)
		memcpy(x->client_verify, d.client_verify, sizeof(x->client_verify));
	sg_hs_derive_wipe(&d);
	return rc;
}

/* The client's Finished is next: what the step that derived its verify_data leaves. */
static void expect_finished(struct sg_hs_engine *e, struct hs_rx *x, struct hs_slot *s)
{
	s->state = HS_WAIT_FINISHED;
	x->kx_here = true;
	sg_hs_linger_prefetch(e, x->hash);
}

/*
 * RFC 8422 §5.7: the client's ECDHE share. Unauthenticated as in an
 * ECDHE-PSK handshake (hs_kx.c): one that does not parse or is off the
 * curve is dropped and the slot keeps waiting. A client asked for a
 * certificate must have sent its Certificate first (RFC 5246 §7.4.6).
 */
static void on_client_kx(struct sg_hs_engine *e, struct hs_rx *x, struct hs_slot *s,
                         const uint8_t *body, size_t len)
{
	uint8_t other[SG_HS_ECDH_SECRET_LEN];
	const bool cv = (s->cflags & CF_PEER_KEY) != 0;
	const uint8_t *point;
	uint8_t point_len;
	int rc = 0;

	if ((s->cflags & (CF_REQUEST | CF_GOT_CERT)) == CF_REQUEST) {
		cert_fail(e, x, s,
		          hs_cert_client_auth(s->cset) == SG_HS_CLIENT_AUTH_REQUIRE
		                  ? SG_HS_C_FAIL_NO_CERT
		                  : SG_HS_C_FAIL_UNEXPECTED_MESSAGE);
		return;
	}
	if (sg_hs_client_kx_ecdhe_parse(body, len, &point, &point_len) < 0 ||
	    (rc = sg_hs_ecdh_derive(&e->ecdh, &s->eph, point, point_len, other)) == -EINVAL) {
		hs_rx_drop(x, SG_HS_C_DROP_MALFORMED);
		return;
	}
	x->handled = 1;
	hs_advanced(x, s);
	sg_hs_ecdh_clear(&s->eph);
	sg_hs_transcript_add_msg(&s->transcript, SG_TLS_HT_CLIENT_KEY_EXCHANGE, s->rx_seq, body,
	                         len);
	if (rc == 0)
		rc = derive(e, x, s, other, cv);
	sg_wipe(other, sizeof(other));
	if (rc < 0) {
		cert_fail(e, x, s, SG_HS_C_FAIL_INTERNAL);
		return;
	}
	s->rx_seq++;
	if (cv) {
		s->cflags |= CF_GOT_KX;
		return;
	}
	/* No client key: client_auth none, or optional and an empty Certificate. */
	s->auth = SG_HS_AUTH_NONE;
	s->lifetime = e->conf.session_lifetime_s;
	expect_finished(e, x, s);
}

/*
 * RFC 5246 §7.4.8: the signature, by the key of the client's Certificate,
 * over the hash of every handshake message up to this one, under the one
 * scheme our CertificateRequest allowed (the suite's hash, so the running
 * transcript is that hash). Then the client's Finished covers this
 * message too.
 */
static void on_cert_verify(struct sg_hs_engine *e, struct hs_rx *x, struct hs_slot *s,
                           const uint8_t *body, size_t len)
{
	const enum sg_hs_hash h = hs_suite_hash(hs_slot_suite(s));
	const uint16_t want =
	        h == SG_HS_SHA384 ? SG_TLS_SIGSCHEME_ECDSA_SHA384 : SG_TLS_SIGSCHEME_ECDSA_SHA256;
	uint8_t digest[SG_HS_HASH_MAX_LEN];
	const uint8_t *sig;
	uint16_t scheme, sig_len;

	if (!(s->cflags & CF_GOT_KX)) {
		cert_fail(e, x, s, SG_HS_C_FAIL_UNEXPECTED_MESSAGE);
		return;
	}
	if (sg_hs_cert_verify_parse(body, len, &scheme, &sig, &sig_len) < 0) {
		cert_fail(e, x, s, SG_HS_C_FAIL_DECODE);
		return;
	}
	if (scheme != want) {
		cert_fail(e, x, s, SG_HS_C_FAIL_ILLEGAL_PARAMETER);
		return;
	}
	sg_hs_transcript_peek(&s->transcript, digest);
	if (hs_cert_verify_sig(&s->peer_key, scheme, digest, sg_hs_hash_len(h), sig, sig_len) !=
	    0) {
		cert_fail(e, x, s, SG_HS_C_FAIL_CERT_VERIFY);
		return;
	}
	x->handled = 1;
	hs_advanced(x, s);
	sg_hs_transcript_add_msg(&s->transcript, SG_TLS_HT_CERTIFICATE_VERIFY, s->rx_seq, body,
	                         len);
	s->rx_seq++;
	memset(&s->peer_key, 0, sizeof(s->peer_key));
	s->cflags = (uint8_t)(s->cflags & ~CF_PEER_KEY);
	s->flags &= (uint16_t)~SF_SERVER_FIN;
	if (sg_hs_finished_of(e, s, SG_TLS_LABEL_CLIENT_FINISHED, x->client_verify) < 0) {
		cert_fail(e, x, s, SG_HS_C_FAIL_INTERNAL);
		return;
	}
	expect_finished(e, x, s);
}

void sg_hs_cert_on_message(struct sg_hs_engine *e, struct hs_rx *x, struct hs_slot *s,
                           const struct sg_hs_msg_hdr *mh, const uint8_t *body)
{
	uint32_t idx = hs_slot_idx(e, s);

	switch (mh->type) {
	case SG_TLS_HT_CERTIFICATE:
		on_certificate(e, x, s, body, mh->length);
		break;
	case SG_TLS_HT_CLIENT_KEY_EXCHANGE:
		on_client_kx(e, x, s, body, mh->length);
		break;
	case SG_TLS_HT_CERTIFICATE_VERIFY:
		on_cert_verify(e, x, s, body, mh->length);
		break;
	default:
		hs_rx_drop(x, SG_HS_C_DROP_UNEXPECTED);
		return;
	}
	/* A message taken whole: a buffer lent for it (or a stale one) goes back. */
	if (e->cur == s)
		sg_hs_bigmsg_release(e->bigmsg, idx);
}

bool sg_hs_cert_on_fragment(struct sg_hs_engine *e, struct hs_rx *x, struct hs_slot *s,
                            const struct sg_hs_msg_hdr *mh, const uint8_t *frag)
{
	struct sg_hs_msg_hdr whole = *mh;
	const uint8_t *body = NULL;
	int rc = e->bigmsg == NULL ? -ENOBUFS
	                           : sg_hs_bigmsg_add(e->bigmsg, hs_slot_idx(e, s), x->now.mono_ms,
	                                              mh, frag, &body);

	if (rc == -ENOBUFS) {
		/* Every large buffer busy: the client's retransmission tries again. */
		hs_rx_drop(x, SG_HS_C_DROP_POOL_FULL);
		return true;
	}
	if (rc < 0) {
		/* Longer than any chain we take (SG_TLS_CERT_CHAIN_MAX): not the client's. */
		hs_rx_drop(x, SG_HS_C_DROP_MALFORMED);
		return true;
	}
	x->handled = 1;
	hs_advanced(x, s);
	if (rc != 1)
		return true;
	whole.frag_off = 0;
	whole.frag_len = mh->length;
	sg_hs_cert_on_message(e, x, s, &whole, body);
	return e->cur == s;
}

int sg_hs_cert_resume_policy(struct sg_hs_engine *e, struct hs_slot *s,
                             const struct sg_hs_client_hello *ch, struct sg_hs_ticket_state *st)
{
	const struct sg_suite *su = sg_suite_find(st->suite);
	const struct hs_cert_set *set;
	uint8_t id[SG_TLS_PSK_IDENTITY_MAX];
	uint16_t id_len = 0;
	int why = 0;

	(void)ch; /* the server name is the slot's (hello_extensions) */
	if (e->conf.certs == NULL || su == NULL || !hs_suite_cert(su))
		return -1;
	set = sg_hs_certs_acquire(e->conf.certs);
	if (set == NULL)
		return -1;
	if (st->auth == SG_HS_AUTH_NONE) {
		if (hs_cert_client_auth(set) == SG_HS_CLIENT_AUTH_REQUIRE)
			why = (int)SG_HS_C_FAIL_NO_CERT;
		s->lifetime = e->conf.session_lifetime_s;
	} else if (st->auth == SG_HS_AUTH_X509) {
		why = cert_policy(e, s, set, SG_HS_AUTH_X509, st->identity, st->identity_len, id,
		                  &id_len);
	} else {
		why = cert_policy(e, s, set, SG_HS_AUTH_RPK, st->key, sizeof(st->key), id, &id_len);
		if (why == 0) {
			st->identity_len = (uint8_t)id_len;
			memcpy(st->identity, id, id_len);
		}
	}
	sg_hs_certs_release(set);
	/* As a PSK ticket: a policy that now says no ticket says no resumption either. */
	if (why != 0 || (s->flags & SF_NO_TICKET))
		return -1;
	if (st->auth == SG_HS_AUTH_RPK)
		memcpy(s->key_hash, st->key, sizeof(s->key_hash));
	return 0;
}
