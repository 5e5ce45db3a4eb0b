/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The certificate messages of an ECDHE-ECDSA handshake and the hello
 * extensions of certificates: strict, bounded parsers and writers. See
 * hs_certcodec.h (messages) and hs_codec.h (extensions). A leaf: it calls
 * nothing of the engine, nor hs_codec.c. Any thread; no state.
 */
#include <errno.h>
#include <string.h>

#include <stormgate/bytes.h>
#include <stormgate/dtls.h>

#include "hs_certcodec.h"
#include "hs_codec.h"

/* ---- ClientHello and ServerHello extensions ---------------------------------------- */

/*
 * RFC 5246 §7.4.1.4.1: supported_signature_algorithms<2..2^16-2>, pairs of
 * (hash, signature); only the ECDSA schemes we can verify matter.
 */
static int parse_sig_algs(const uint8_t *d, uint16_t n, struct sg_hs_ch_cert *c)
{
	uint16_t list_len;

	if (n < 2)
		return -EBADMSG;
	list_len = sg_load_be16(d);
	if (list_len != n - 2 || list_len < 2 || list_len % 2 != 0)
		return -EBADMSG;
	for (uint16_t i = 0; i < list_len; i += 2) {
		uint16_t s = sg_load_be16(d + 2 + i);

		if (s == SG_TLS_SIGSCHEME_ECDSA_SHA256)
			c->schemes |= SG_HS_SCHEME_BIT_ECDSA_SHA256;
		else if (s == SG_TLS_SIGSCHEME_ECDSA_SHA384)
			c->schemes |= SG_HS_SCHEME_BIT_ECDSA_SHA384;
	}
	c->flags |= SG_HS_CHC_F_SIG_ALGS;
	return 0;
}

/*
 * RFC 7250 §3: CertificateType client_certificate_types<1..2^8-1> (and the
 * server's): the two types we know as bits, and whether RPK comes first.
 */
static int parse_cert_types(const uint8_t *d, uint16_t n, uint8_t *bits, uint8_t *rpk_first)
{
	if (n < 2 || d[0] != n - 1)
		return -EBADMSG;
	for (uint16_t i = 1; i < n; i++) {
		uint8_t b = d[i] == SG_TLS_CERT_TYPE_X509  ? SG_HS_CT_BIT_X509
		            : d[i] == SG_TLS_CERT_TYPE_RPK ? SG_HS_CT_BIT_RPK
		                                           : 0;

		if (b != 0 && *bits == 0)
			*rpk_first = b == SG_HS_CT_BIT_RPK;
		*bits |= b;
	}
	return 0;
}

int sg_hs_cert_ext_parse(uint16_t type, const uint8_t *d, uint16_t n, struct sg_hs_client_hello *ch)
{
	struct sg_hs_ch_cert *c = &ch->cert;

	/* RFC 5246 §7.4.1.4: no two extensions of the same type. */
	switch (type) {
	case SG_TLS_EXT_SIGNATURE_ALGORITHMS:
		return (c->flags & SG_HS_CHC_F_SIG_ALGS) ? -EBADMSG : parse_sig_algs(d, n, c);
	case SG_TLS_EXT_CLIENT_CERTIFICATE_TYPE:
		if (c->flags & SG_HS_CHC_F_CLIENT_CT)
			return -EBADMSG;
		c->flags |= SG_HS_CHC_F_CLIENT_CT;
		return parse_cert_types(d, n, &c->client_ct, &c->client_rpk_first);
	case SG_TLS_EXT_SERVER_CERTIFICATE_TYPE:
		if (c->flags & SG_HS_CHC_F_SERVER_CT)
			return -EBADMSG;
		c->flags |= SG_HS_CHC_F_SERVER_CT;
		return parse_cert_types(d, n, &c->server_ct, &c->server_rpk_first);
	default:
		return 0;
	}
}

size_t sg_hs_cert_sh_ext_len(const struct sg_hs_server_hello *sh)
{
	return (sh->server_ct ? 5u : 0u) + (sh->client_ct ? 5u : 0u);
}

/* RFC 7250 §3: in the ServerHello, one CertificateType each. */
uint8_t *sg_hs_cert_sh_ext_put(uint8_t *p, const struct sg_hs_server_hello *sh)
{
	if (sh->client_ct) {
		sg_store_be16(p, SG_TLS_EXT_CLIENT_CERTIFICATE_TYPE);
		sg_store_be16(p + 2, 1);
		p[4] = (uint8_t)(sh->client_ct - 1);
		p += 5;
	}
	if (sh->server_ct) {
		sg_store_be16(p, SG_TLS_EXT_SERVER_CERTIFICATE_TYPE);
		sg_store_be16(p + 2, 1);
		p[4] = (uint8_t)(sh->server_ct - 1);
		p += 5;
	}
	return p;
}

/* ---- writers ------------------------------------------------------------------------ */

/* Reserve header + body_len bytes for one unfragmented message; NULL if they do not fit. */
static uint8_t *msg_reserve(struct sg_hs_wbuf *w, uint8_t type, uint16_t seq, size_t body_len)
{
	uint8_t *p;

	if (body_len > 0xffffff || w->cap - w->len < SG_DTLS_HS_HDR_LEN + body_len)
		return NULL;
	p = w->p + w->len;
	/* RFC 6347 §4.2.2: type, length, message_seq, fragment_offset 0, fragment_length. */
	p[0] = type;
	sg_store_be24(p + 1, (uint32_t)body_len);
	sg_store_be16(p + 4, seq);
	sg_store_be24(p + 6, 0);
	sg_store_be24(p + 9, (uint32_t)body_len);
	w->len += SG_DTLS_HS_HDR_LEN + body_len;
	return p + SG_DTLS_HS_HDR_LEN;
}

size_t sg_hs_ecdh_params_put(uint8_t *p, uint16_t group, const uint8_t *point, uint8_t point_len)
{
	p[0] = SG_TLS_EC_CURVE_NAMED;
	sg_store_be16(p + 1, group);
	p[3] = point_len;
	memcpy(p + 4, point, point_len);
	return 4u + point_len;
}

int sg_hs_write_certificate(struct sg_hs_wbuf *w, uint16_t seq, const uint8_t *body, size_t len)
{
	uint8_t *p = msg_reserve(w, SG_TLS_HT_CERTIFICATE, seq, len);

	if (p == NULL)
		return -ENOSPC;
	memcpy(p, body, len);
	return 0;
}

int sg_hs_write_server_kx_signed(struct sg_hs_wbuf *w, uint16_t seq, const uint8_t *params,
                                 size_t params_len, uint16_t scheme, const uint8_t *sig,
                                 size_t sig_len)
{
	uint8_t *p;

	if (sig_len > 0xffff)
		return -ENOSPC;
	p = msg_reserve(w, SG_TLS_HT_SERVER_KEY_EXCHANGE, seq, params_len + 4 + sig_len);
	if (p == NULL)
		return -ENOSPC;
	memcpy(p, params, params_len);
	p += params_len;
	sg_store_be16(p, scheme);
	sg_store_be16(p + 2, (uint16_t)sig_len);
	memcpy(p + 4, sig, sig_len);
	return 0;
}

int sg_hs_write_certificate_request(struct sg_hs_wbuf *w, uint16_t seq, uint16_t scheme)
{
	uint8_t *p = msg_reserve(w, SG_TLS_HT_CERTIFICATE_REQUEST, seq, 8);

	if (p == NULL)
		return -ENOSPC;
	p[0] = 1; /* certificate_types<1..2^8-1> */
	p[1] = SG_TLS_CLIENT_CERT_ECDSA_SIGN;
	sg_store_be16(p + 2, 2); /* supported_signature_algorithms<2..2^16-2> */
	sg_store_be16(p + 4, scheme);
	sg_store_be16(p + 6, 0); /* certificate_authorities<0..2^16-1>: any */
	return 0;
}

/* ---- parsers ------------------------------------------------------------------------ */

int sg_hs_certificate_parse(const uint8_t *body, size_t len, bool rpk, const uint8_t **list,
                            size_t *list_len)
{
	size_t n;

	if (len < 3 || sg_load_be24(body) != len - 3)
		return -EBADMSG;
	*list = body + 3;
	*list_len = n = len - 3;
	/* RFC 7250 §3: the SubjectPublicKeyInfo itself; its DER is the leaf's to check. */
	if (rpk || n == 0)
		return 0;
	/* RFC 5246 §7.4.2: ASN.1Cert certificate_list<0..2^24-1>, each <1..2^24-1>. */
	for (size_t off = 0; off < n;) {
		size_t c;

		if (n - off < 3)
			return -EBADMSG;
		c = sg_load_be24(*list + off);
		if (c == 0 || c > n - off - 3)
			return -EBADMSG;
		off += 3 + c;
	}
	return 0;
}

int sg_hs_client_kx_ecdhe_parse(const uint8_t *body, size_t len, const uint8_t **point,
                                uint8_t *point_len)
{
	if (len < 2 || body[0] == 0 || (size_t)body[0] != len - 1)
		return -EBADMSG;
	*point = body + 1;
	*point_len = body[0];
	return 0;
}

int sg_hs_cert_verify_parse(const uint8_t *body, size_t len, uint16_t *scheme, const uint8_t **sig,
                            uint16_t *sig_len)
{
	if (len < 5)
		return -EBADMSG;
	*scheme = sg_load_be16(body);
	*sig_len = sg_load_be16(body + 2);
	if (*sig_len == 0 || (size_t)*sig_len != len - 4)
		return -EBADMSG;
	*sig = body + 4;
	return 0;
}
