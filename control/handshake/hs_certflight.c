/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Our side of an ECDHE-ECDSA handshake: the choice a ClientHello allows,
 * the ServerHello's echoes, and the certificate messages of flight 4. See
 * hs_certflight.h. Calls the certificate leaf (hs_cert.h), the codec and
 * the crypto leaf only. The engine's thread only.
 */
#include <errno.h>
#include <string.h>

#include "hs_cert.h"
#include "hs_certcodec.h"
#include "hs_certflight.h"
#include "hs_priv.h"
#include "hs_slots.h"

/* Of two certificate types both sides have (SG_HS_CT_BIT_*), the one the client lists first. */
static bool pick_rpk(uint8_t common, uint8_t rpk_first)
{
	if (common == (SG_HS_CT_BIT_X509 | SG_HS_CT_BIT_RPK))
		return rpk_first != 0;
	return common == SG_HS_CT_BIT_RPK;
}

/*
 * RFC 8422 §5.1: the client's groups bound our key's curve too (RFC 4492
 * §5.1.1 for TLS 1.2); without the extension any curve will do.
 */
static bool curve_ok(const struct hs_cert_set *set, const struct sg_hs_client_hello *ch)
{
	if (!(ch->flags & SG_HS_CH_F_GROUPS))
		return true;
	if (hs_cert_curve(set) == SG_TLS_GROUP_SECP384R1)
		return (ch->cert.flags & SG_HS_CHC_F_P384) != 0;
	return (ch->groups & SG_HS_GROUP_BIT_P256) != 0;
}

/*
 * RFC 7250 §4.2 client side: what the client can send (X.509 without the
 * extension) against what we accept; none in common: no CertificateRequest
 * (client_auth optional) or no certificate suite (require).
 */
static int choose_client_type(const struct hs_cert_set *set, const struct sg_hs_ch_cert *c,
                              bool rpk_lookup, uint8_t *f)
{
	uint8_t offer = (c->flags & SG_HS_CHC_F_CLIENT_CT) ? c->client_ct : SG_HS_CT_BIT_X509;
	uint8_t accept = (hs_cert_accepts_x509(set) ? SG_HS_CT_BIT_X509 : 0) |
	                 (hs_cert_accepts_rpk(set) && rpk_lookup ? SG_HS_CT_BIT_RPK : 0);
	uint8_t common = offer & accept;

	if (hs_cert_client_auth(set) == SG_HS_CLIENT_AUTH_NONE)
		return 0;
	if (common == 0)
		return hs_cert_client_auth(set) == SG_HS_CLIENT_AUTH_REQUIRE
		               ? (int)SG_HS_C_FAIL_UNSUPPORTED_CERT
		               : 0;
	*f |= CF_REQUEST;
	if (pick_rpk(common, c->client_rpk_first))
		*f |= CF_RPK_PEER;
	if (c->flags & SG_HS_CHC_F_CLIENT_CT)
		*f |= CF_CT_ECHO;
	return 0;
}

int sg_hs_cert_choose(const struct hs_cert_set *set, const struct sg_hs_client_hello *ch,
                      bool rpk_lookup, uint8_t *cflags)
{
	const struct sg_hs_ch_cert *c = &ch->cert;
	uint8_t sbit = hs_cert_scheme(set) == SG_TLS_SIGSCHEME_ECDSA_SHA384
	                       ? SG_HS_SCHEME_BIT_ECDSA_SHA384
	                       : SG_HS_SCHEME_BIT_ECDSA_SHA256;
	uint8_t ours = (hs_cert_has_x509(set) ? SG_HS_CT_BIT_X509 : 0) |
	               (hs_cert_has_rpk(set) ? SG_HS_CT_BIT_RPK : 0);
	uint8_t take = (c->flags & SG_HS_CHC_F_SERVER_CT) ? c->server_ct : SG_HS_CT_BIT_X509;
	uint8_t f = 0;

	/*
	 * RFC 5246 §7.4.1.4.1: without signature_algorithms the client takes
	 * SHA-1 signatures, which we do not make; with it, our key's scheme
	 * must be there.
	 */
	if (!(c->flags & SG_HS_CHC_F_SIG_ALGS) || !(c->schemes & sbit) || !curve_ok(set, ch) ||
	    (ours & take) == 0)
		return (int)SG_HS_C_FAIL_UNSUPPORTED_CERT;
	/* RFC 7250 §4.2: one of the types the client listed, in its order. */
	if (pick_rpk(ours & take, c->server_rpk_first))
		f |= CF_RPK_OURS;
	if (c->flags & SG_HS_CHC_F_SERVER_CT)
		f |= CF_SCT_ECHO;
	if (choose_client_type(set, c, rpk_lookup, &f) != 0)
		return (int)SG_HS_C_FAIL_UNSUPPORTED_CERT;
	*cflags = f;
	return 0;
}

void sg_hs_cert_server_hello(const struct hs_slot *s, struct sg_hs_server_hello *sh)
{
	if (s->cflags & CF_SCT_ECHO)
		sh->server_ct = (uint8_t)(1 + ((s->cflags & CF_RPK_OURS) ? SG_TLS_CERT_TYPE_RPK
		                                                         : SG_TLS_CERT_TYPE_X509));
	if (s->cflags & CF_CT_ECHO)
		sh->client_ct = (uint8_t)(1 + ((s->cflags & CF_RPK_PEER) ? SG_TLS_CERT_TYPE_RPK
		                                                         : SG_TLS_CERT_TYPE_X509));
}

unsigned sg_hs_cert_flight_msgs_n(const struct hs_slot *s)
{
	return (s->cflags & CF_REQUEST) ? 3 : 2;
}

/*
 * RFC 8422 §5.4: signed_params = Hash(client_random ‖ server_random ‖
 * ServerECDHParams), under our key's scheme (hs_cert_scheme), signed once
 * (a nonce from the pool when one is ready) and kept in the slot.
 */
static int sign_params(struct sg_hs_engine *e, struct hs_slot *s, const uint8_t *params,
                       size_t params_len)
{
	enum sg_hs_hash h = hs_cert_scheme(s->cset) == SG_TLS_SIGSCHEME_ECDSA_SHA384 ? SG_HS_SHA384
	                                                                             : SG_HS_SHA256;
	uint8_t digest[SG_HS_HASH_MAX_LEN];
	struct sg_hs_transcript t;
	size_t sig_len = sizeof(s->sig);
	bool precomputed = false;
	int rc;

	sg_hs_transcript_start(&t, h);
	sg_hs_transcript_add(&t, s->client_random, SG_TLS_RANDOM_LEN);
	sg_hs_transcript_add(&t, s->server_random, SG_TLS_RANDOM_LEN);
	sg_hs_transcript_add(&t, params, params_len);
	sg_hs_transcript_peek(&t, digest);
	rc = hs_cert_sign(e->conf.certs, s->cset, digest, sg_hs_hash_len(h), s->sig, &sig_len,
	                  &precomputed);
	if (rc < 0 || sig_len == 0 || sig_len > sizeof(s->sig))
		return -EIO;
	s->sig_len = (uint8_t)sig_len;
	hs_count(e, precomputed ? SG_HS_C_SIGN_PRECOMPUTED : SG_HS_C_SIGN_INLINE);
	return 0;
}

int sg_hs_cert_flight_msgs(struct sg_hs_engine *e, struct hs_slot *s, struct sg_hs_wbuf *w,
                           uint16_t *seq)
{
	uint16_t group =
	        s->eph.group == SG_HS_GROUP_X25519 ? SG_TLS_GROUP_X25519 : SG_TLS_GROUP_SECP256R1;
	/* RFC 5246 §7.4.4: the client signs with the suite's hash (docs/certificates.md). */
	uint16_t req = hs_suite_hash(hs_slot_suite(s)) == SG_HS_SHA384
	                       ? SG_TLS_SIGSCHEME_ECDSA_SHA384
	                       : SG_TLS_SIGSCHEME_ECDSA_SHA256;
	uint8_t params[SG_HS_ECDH_PARAMS_MAX];
	const uint8_t *body;
	size_t body_len, params_len;
	int rc;

	if (s->eph.pub_len == 0)
		return -ESTALE;
	body = hs_cert_body(s->cset, (s->cflags & CF_RPK_OURS) != 0, &body_len);
	if (body == NULL || body_len == 0)
		return -EIO;
	params_len = sg_hs_ecdh_params_put(params, group, s->eph.pub, s->eph.pub_len);
	if (s->sig_len == 0 && sign_params(e, s, params, params_len) < 0)
		return -EIO;
	rc = sg_hs_write_certificate(w, (*seq)++, body, body_len);
	if (rc == 0)
		rc = sg_hs_write_server_kx_signed(w, (*seq)++, params, params_len,
		                                  hs_cert_scheme(s->cset), s->sig, s->sig_len);
	if (rc == 0 && (s->cflags & CF_REQUEST))
		rc = sg_hs_write_certificate_request(w, (*seq)++, req);
	return rc;
}
