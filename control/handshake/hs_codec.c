/* SPDX-License-Identifier: Apache-2.0 */
/*
 * DTLS 1.2 handshake message codec: strict, bounded parsers for what a
 * server receives and writers for what it sends. See hs_codec.h.
 */
#include <errno.h>
#include <string.h>

#include <stormgate/bytes.h>
#include <stormgate/common.h>
#include <stormgate/dtls.h>

#include "hs_codec.h"

/* ---- bounded reader ------------------------------------------------------ */

struct rd {
	const uint8_t *p;
	size_t len;
	size_t off;
};

static size_t rd_left(const struct rd *r)
{
	return r->len - r->off;
}

static int rd_u8(struct rd *r, uint8_t *v)
{
	if (rd_left(r) < 1)
		return -EBADMSG;
	*v = r->p[r->off++];
	return 0;
}

static int rd_u16(struct rd *r, uint16_t *v)
{
	if (rd_left(r) < 2)
		return -EBADMSG;
	*v = sg_load_be16(r->p + r->off);
	r->off += 2;
	return 0;
}

static int rd_bytes(struct rd *r, size_t n, const uint8_t **out)
{
	if (rd_left(r) < n)
		return -EBADMSG;
	*out = r->p + r->off;
	r->off += n;
	return 0;
}

/* opaque x<0..2^8-1> */
static int rd_vec8(struct rd *r, const uint8_t **out, uint8_t *n)
{
	if (rd_u8(r, n) < 0)
		return -EBADMSG;
	return rd_bytes(r, *n, out);
}

/* opaque x<0..2^16-1> */
static int rd_vec16(struct rd *r, const uint8_t **out, uint16_t *n)
{
	if (rd_u16(r, n) < 0)
		return -EBADMSG;
	return rd_bytes(r, *n, out);
}

/* ---- handshake header ------------------------------------------------------ */

int sg_hs_msg_hdr_parse(const uint8_t *p, size_t len, struct sg_hs_msg_hdr *h)
{
	if (len < SG_DTLS_HS_HDR_LEN)
		return -EBADMSG;
	h->type = p[0];
	h->length = sg_load_be24(p + 1);
	h->seq = sg_load_be16(p + 4);
	h->frag_off = sg_load_be24(p + 6);
	h->frag_len = sg_load_be24(p + 9);
	/* RFC 6347 §4.2.3: a fragment lies inside its message. */
	if (h->frag_off > h->length || h->frag_len > h->length - h->frag_off)
		return -EBADMSG;
	if (h->frag_len > len - SG_DTLS_HS_HDR_LEN)
		return -EBADMSG;
	return (int)(SG_DTLS_HS_HDR_LEN + h->frag_len);
}

void sg_hs_msg_hdr_write(uint8_t *p, uint8_t type, uint32_t body_len, uint16_t seq)
{
	struct sg_hs_msg_hdr h = {
		.type = type, .length = body_len, .seq = seq, .frag_off = 0, .frag_len = body_len
	};

	sg_hs_frag_hdr_write(p, &h);
}

void sg_hs_frag_hdr_write(uint8_t *p, const struct sg_hs_msg_hdr *h)
{
	p[0] = h->type;
	sg_store_be24(p + 1, h->length);
	sg_store_be16(p + 4, h->seq);
	sg_store_be24(p + 6, h->frag_off);
	sg_store_be24(p + 9, h->frag_len);
}

/* ---- ClientHello ----------------------------------------------------------- */

/* Bits for extensions we interpret, so a repeated one is refused (RFC 5246 §7.4.1.4). */
enum ext_bit {
	EXT_SNI = 0,
	EXT_MFL,
	EXT_GROUPS,
	EXT_POINTS,
	EXT_EMS,
	EXT_RSL,
	EXT_TICKET,
	EXT_RENEG,
	EXT_CID,
	EXT_RRC,
	EXT_ETM,
};

static int ext_bit(uint16_t type)
{
	switch (type) {
	case SG_TLS_EXT_SERVER_NAME:
		return EXT_SNI;
	case SG_TLS_EXT_MAX_FRAGMENT_LENGTH:
		return EXT_MFL;
	case SG_TLS_EXT_SUPPORTED_GROUPS:
		return EXT_GROUPS;
	case SG_TLS_EXT_EC_POINT_FORMATS:
		return EXT_POINTS;
	case SG_TLS_EXT_EXTENDED_MASTER_SECRET:
		return EXT_EMS;
	case SG_TLS_EXT_RECORD_SIZE_LIMIT:
		return EXT_RSL;
	case SG_TLS_EXT_SESSION_TICKET:
		return EXT_TICKET;
	case SG_TLS_EXT_RENEGOTIATION_INFO:
		return EXT_RENEG;
	case SG_TLS_EXT_CONNECTION_ID:
		return EXT_CID;
	case SG_TLS_EXT_RRC:
		return EXT_RRC;
	case SG_TLS_EXT_ENCRYPT_THEN_MAC:
		return EXT_ETM;
	default:
		return -1;
	}
}

/* RFC 6066 §3: ServerNameList server_name_list<1..2^16-1>; one host_name. */
static int parse_sni(const uint8_t *d, uint16_t n, struct sg_hs_client_hello *ch)
{
	struct rd r = { .p = d, .len = n };
	const uint8_t *list;
	uint16_t list_len;
	bool have_host = false;

	if (rd_vec16(&r, &list, &list_len) < 0 || rd_left(&r) != 0 || list_len == 0)
		return -EBADMSG;
	r = (struct rd){ .p = list, .len = list_len };
	while (rd_left(&r) > 0) {
		const uint8_t *name;
		uint16_t name_len;
		uint8_t type;

		if (rd_u8(&r, &type) < 0 || rd_vec16(&r, &name, &name_len) < 0)
			return -EBADMSG;
		if (type != SG_TLS_SNI_HOST_NAME)
			continue; /* other name types: none are defined; skip */
		/* RFC 6066 §3: "MUST NOT contain more than one name of the same name_type". */
		if (have_host)
			return -EINVAL;
		if (name_len == 0)
			return -EBADMSG;
		if (name_len > SG_HS_SNI_MAX)
			return -EINVAL;
		have_host = true;
		ch->sni = name;
		ch->sni_len = name_len;
	}
	if (have_host)
		ch->flags |= SG_HS_CH_F_SNI;
	return 0;
}

/* RFC 8422 §5.1.1: NamedGroupList named_group_list<2..2^16-1>. */
static int parse_groups(const uint8_t *d, uint16_t n, struct sg_hs_client_hello *ch)
{
	struct rd r = { .p = d, .len = n };
	const uint8_t *list;
	uint16_t list_len;

	if (rd_vec16(&r, &list, &list_len) < 0 || rd_left(&r) != 0 || list_len < 2 ||
	    list_len % 2 != 0)
		return -EBADMSG;
	for (uint16_t i = 0; i < list_len; i += 2) {
		uint16_t g = sg_load_be16(list + i);

		if (g == SG_TLS_GROUP_X25519)
			ch->groups |= SG_HS_GROUP_BIT_X25519;
		else if (g == SG_TLS_GROUP_SECP256R1)
			ch->groups |= SG_HS_GROUP_BIT_P256;
		else if (g == SG_TLS_GROUP_SECP384R1)
			ch->cert.flags |= SG_HS_CHC_F_P384;
	}
	ch->flags |= SG_HS_CH_F_GROUPS;
	return 0;
}

/* RFC 8422 §5.1.2: ec_point_format_list<1..2^8-1> must include uncompressed. */
static int parse_point_formats(const uint8_t *d, uint16_t n, struct sg_hs_client_hello *ch)
{
	struct rd r = { .p = d, .len = n };
	const uint8_t *list;
	uint8_t list_len;

	if (rd_vec8(&r, &list, &list_len) < 0 || rd_left(&r) != 0 || list_len == 0)
		return -EBADMSG;
	if (memchr(list, SG_TLS_EC_POINT_UNCOMPRESSED, list_len) == NULL)
		return -EINVAL;
	ch->flags |= SG_HS_CH_F_POINT_FORMATS;
	return 0;
}

/* RFC 6066 §4: one code; any other value than 1..4 is an illegal_parameter. */
static int parse_mfl(const uint8_t *d, uint16_t n, struct sg_hs_client_hello *ch)
{
	if (n != 1)
		return -EBADMSG;
	if (d[0] < SG_TLS_MFL_MIN || d[0] > SG_TLS_MFL_MAX)
		return -EINVAL;
	ch->mfl = d[0];
	ch->flags |= SG_HS_CH_F_MFL;
	return 0;
}

/* RFC 8449 §4: uint16 RecordSizeLimit; below 64 is an illegal_parameter. */
static int parse_rsl(const uint8_t *d, uint16_t n, struct sg_hs_client_hello *ch)
{
	struct rd r = { .p = d, .len = n };

	if (rd_u16(&r, &ch->rsl) < 0 || rd_left(&r) != 0)
		return -EBADMSG;
	if (ch->rsl < SG_TLS_RECORD_SIZE_LIMIT_MIN)
		return -EINVAL;
	ch->flags |= SG_HS_CH_F_RSL;
	return 0;
}

/* RFC 5746 §3.2: renegotiated_connection<0..255>. */
static int parse_reneg_info(const uint8_t *d, uint16_t n, struct sg_hs_client_hello *ch)
{
	struct rd r = { .p = d, .len = n };
	const uint8_t *rc;

	if (rd_vec8(&r, &rc, &ch->reneg_len) < 0 || rd_left(&r) != 0)
		return -EBADMSG;
	ch->flags |= SG_HS_CH_F_RENEG_INFO;
	return 0;
}

/* RFC 9146 §3: opaque cid<0..2^8-1>. */
static int parse_cid(const uint8_t *d, uint16_t n, struct sg_hs_client_hello *ch)
{
	struct rd r = { .p = d, .len = n };

	if (rd_vec8(&r, &ch->cid, &ch->cid_len) < 0 || rd_left(&r) != 0)
		return -EBADMSG;
	ch->flags |= SG_HS_CH_F_CID;
	return 0;
}

/* An extension whose extension_data is empty (RFC 7627 §5.1, RFC 9853 §3, RFC 7366 §2):
 * its flag. */
static int parse_empty(uint16_t n, uint16_t flag, struct sg_hs_client_hello *ch)
{
	if (n != 0)
		return -EBADMSG;
	ch->flags |= flag;
	return 0;
}

static int parse_extension(uint16_t type, const uint8_t *d, uint16_t n,
                           struct sg_hs_client_hello *ch)
{
	switch (type) {
	case SG_TLS_EXT_SERVER_NAME:
		/* RFC 6066 §3: the server's echo is empty; a client's never is. */
		return parse_sni(d, n, ch);
	case SG_TLS_EXT_MAX_FRAGMENT_LENGTH:
		return parse_mfl(d, n, ch);
	case SG_TLS_EXT_SUPPORTED_GROUPS:
		return parse_groups(d, n, ch);
	case SG_TLS_EXT_EC_POINT_FORMATS:
		return parse_point_formats(d, n, ch);
	case SG_TLS_EXT_EXTENDED_MASTER_SECRET:
		return parse_empty(n, SG_HS_CH_F_EMS, ch);
	case SG_TLS_EXT_RECORD_SIZE_LIMIT:
		return parse_rsl(d, n, ch);
	case SG_TLS_EXT_SESSION_TICKET:
		/* RFC 5077 §3.2: the extension data is the ticket, possibly empty. */
		ch->ticket = d;
		ch->ticket_len = n;
		ch->flags |= SG_HS_CH_F_TICKET;
		return 0;
	case SG_TLS_EXT_RENEGOTIATION_INFO:
		return parse_reneg_info(d, n, ch);
	case SG_TLS_EXT_CONNECTION_ID:
		return parse_cid(d, n, ch);
	case SG_TLS_EXT_RRC:
		return parse_empty(n, SG_HS_CH_F_RRC, ch);
	case SG_TLS_EXT_ENCRYPT_THEN_MAC:
		/* Offered whatever suites the client lists: meaningful for CBC only. */
		return parse_empty(n, SG_HS_CH_F_ETM, ch);
	default:
		/* Certificates' (hs_certcodec.c); RFC 5246 §7.4.1.4: ignore the rest. */
		return sg_hs_cert_ext_parse(type, d, n, ch);
	}
}

static int parse_extensions(const uint8_t *d, uint16_t n, struct sg_hs_client_hello *ch)
{
	struct rd r = { .p = d, .len = n };
	uint32_t seen = 0;

	while (rd_left(&r) > 0) {
		const uint8_t *data;
		uint16_t type, len;
		int bit, rc;

		if (rd_u16(&r, &type) < 0 || rd_vec16(&r, &data, &len) < 0)
			return -EBADMSG;
		bit = ext_bit(type);
		if (bit >= 0) {
			/* RFC 5246 §7.4.1.4: no two extensions of the same type. */
			if (seen & (1u << bit))
				return -EBADMSG;
			seen |= 1u << bit;
		}
		rc = parse_extension(type, data, len, ch);
		if (rc < 0)
			return rc;
	}
	return 0;
}

int sg_hs_client_hello_parse(const uint8_t *body, size_t len, struct sg_hs_client_hello *ch)
{
	struct rd r = { .p = body, .len = len };
	const uint8_t *comp, *ext;
	uint8_t comp_len;
	uint16_t ext_len;
	int rc;

	memset(ch, 0, sizeof(*ch));
	if (rd_u16(&r, &ch->version) < 0 || rd_bytes(&r, SG_TLS_RANDOM_LEN, &ch->random) < 0 ||
	    rd_vec8(&r, &ch->session_id, &ch->session_id_len) < 0)
		return -EBADMSG;
	if (ch->session_id_len > SG_TLS_SESSION_ID_MAX)
		return -EBADMSG;
	ch->cookie_off = (uint32_t)r.off;
	if (rd_vec8(&r, &ch->cookie, &ch->cookie_len) < 0)
		return -EBADMSG;
	/* cipher_suites<2..2^16-2>: whole 2-byte values. */
	if (rd_vec16(&r, &ch->suites, &ch->suites_len) < 0 || ch->suites_len < 2 ||
	    ch->suites_len % 2 != 0)
		return -EBADMSG;
	if (rd_vec8(&r, &comp, &comp_len) < 0 || comp_len == 0)
		return -EBADMSG;
	/* RFC 5246 §7.4.1.2: the list MUST contain null. */
	if (memchr(comp, SG_TLS_COMPRESSION_NULL, comp_len) == NULL)
		return -EINVAL;
	for (uint16_t i = 0; i < ch->suites_len; i += 2) {
		uint16_t s = sg_load_be16(ch->suites + i);

		if (s == SG_TLS_EMPTY_RENEGOTIATION_INFO_SCSV)
			ch->flags |= SG_HS_CH_F_RENEG_SCSV;
		else if (s == SG_TLS_FALLBACK_SCSV)
			ch->flags |= SG_HS_CH_F_FALLBACK_SCSV;
	}
	/* RFC 5246 §7.4.1.2: extensions are optional; if present they fill the rest. */
	if (rd_left(&r) == 0)
		return 0;
	if (rd_vec16(&r, &ext, &ext_len) < 0 || rd_left(&r) != 0)
		return -EBADMSG;
	ch->flags |= SG_HS_CH_F_EXTENSIONS;
	rc = parse_extensions(ext, ext_len, ch);
	return rc;
}

bool sg_hs_client_hello_has_suite(const struct sg_hs_client_hello *ch, uint16_t suite)
{
	for (uint16_t i = 0; i + 1 < ch->suites_len; i += 2)
		if (sg_load_be16(ch->suites + i) == suite)
			return true;
	return false;
}

/* ---- ClientKeyExchange, Finished ----------------------------------------- */

int sg_hs_client_kx_parse(const uint8_t *body, size_t len, bool ecdhe, struct sg_hs_client_kx *kx)
{
	struct rd r = { .p = body, .len = len };

	memset(kx, 0, sizeof(*kx));
	/* RFC 4279 §2: opaque psk_identity<0..2^16-1>. */
	if (rd_vec16(&r, &kx->identity, &kx->identity_len) < 0)
		return -EBADMSG;
	if (ecdhe) {
		/* RFC 5489 §2 + RFC 8422 §5.7: opaque point <1..2^8-1>. */
		if (rd_vec8(&r, &kx->point, &kx->point_len) < 0 || kx->point_len == 0)
			return -EBADMSG;
	}
	if (rd_left(&r) != 0)
		return -EBADMSG;
	return 0;
}

int sg_hs_finished_parse(const uint8_t *body, size_t len, const uint8_t **verify_data)
{
	if (len != SG_TLS_VERIFY_DATA_LEN)
		return -EBADMSG;
	*verify_data = body;
	return 0;
}

/* ---- writers ------------------------------------------------------------- */

/* Reserve header + body_len bytes; NULL if they do not fit. */
static uint8_t *wbuf_msg(struct sg_hs_wbuf *w, uint8_t type, uint16_t seq, size_t body_len)
{
	uint8_t *p;

	if (w->cap - w->len < SG_DTLS_HS_HDR_LEN + body_len)
		return NULL;
	p = w->p + w->len;
	sg_hs_msg_hdr_write(p, type, (uint32_t)body_len, seq);
	w->len += SG_DTLS_HS_HDR_LEN + body_len;
	return p + SG_DTLS_HS_HDR_LEN;
}

int sg_hs_write_hello_verify_request(struct sg_hs_wbuf *w, uint16_t seq, uint16_t version,
                                     const uint8_t *cookie, uint8_t cookie_len)
{
	uint8_t *p = wbuf_msg(w, SG_TLS_HT_HELLO_VERIFY_REQUEST, seq, 3u + cookie_len);

	if (p == NULL)
		return -ENOSPC;
	sg_store_be16(p, version);
	p[2] = cookie_len;
	if (cookie_len)
		memcpy(p + 3, cookie, cookie_len);
	return 0;
}

/* Bytes of ServerHello extensions for sh. */
static size_t sh_ext_len(const struct sg_hs_server_hello *sh)
{
	size_t n = 0;

	if (sh->flags & SG_HS_CH_F_RENEG_INFO)
		n += 5; /* RFC 5746 §3.6: empty renegotiated_connection */
	if (sh->flags & SG_HS_CH_F_EMS)
		n += 4;
	if (sh->flags & SG_HS_CH_F_POINT_FORMATS)
		n += 6; /* RFC 8422 §5.2: uncompressed only */
	if (sh->flags & SG_HS_CH_F_TICKET)
		n += 4; /* RFC 5077 §3.2: empty, a ticket will follow */
	if (sh->flags & SG_HS_CH_F_CID)
		n += 5u + sh->cid_len;
	if (sh->flags & SG_HS_CH_F_SNI)
		n += 4; /* RFC 6066 §3: empty, the name was used */
	if (sh->flags & SG_HS_CH_F_MFL)
		n += 5;
	if (sh->flags & SG_HS_CH_F_RSL)
		n += 6;
	if (sh->flags & SG_HS_CH_F_RRC)
		n += 4; /* RFC 9853 §3: empty */
	if (sh->flags & SG_HS_CH_F_ETM)
		n += 4; /* RFC 7366 §2: empty */
	return n + sg_hs_cert_sh_ext_len(sh);
}

static uint8_t *put_ext_hdr(uint8_t *p, uint16_t type, uint16_t len)
{
	sg_store_be16(p, type);
	sg_store_be16(p + 2, len);
	return p + 4;
}

/* The ServerHello's extensions at p (sh_ext_len(sh) bytes), in a fixed order. */
static void put_sh_extensions(uint8_t *p, const struct sg_hs_server_hello *sh)
{
	if (sh->flags & SG_HS_CH_F_RENEG_INFO) {
		p = put_ext_hdr(p, SG_TLS_EXT_RENEGOTIATION_INFO, 1);
		*p++ = 0;
	}
	if (sh->flags & SG_HS_CH_F_EMS)
		p = put_ext_hdr(p, SG_TLS_EXT_EXTENDED_MASTER_SECRET, 0);
	if (sh->flags & SG_HS_CH_F_POINT_FORMATS) {
		p = put_ext_hdr(p, SG_TLS_EXT_EC_POINT_FORMATS, 2);
		*p++ = 1;
		*p++ = SG_TLS_EC_POINT_UNCOMPRESSED;
	}
	if (sh->flags & SG_HS_CH_F_TICKET)
		p = put_ext_hdr(p, SG_TLS_EXT_SESSION_TICKET, 0);
	if (sh->flags & SG_HS_CH_F_CID) {
		p = put_ext_hdr(p, SG_TLS_EXT_CONNECTION_ID, (uint16_t)(1 + sh->cid_len));
		*p++ = sh->cid_len;
		if (sh->cid_len)
			memcpy(p, sh->cid, sh->cid_len);
		p += sh->cid_len;
	}
	if (sh->flags & SG_HS_CH_F_SNI)
		p = put_ext_hdr(p, SG_TLS_EXT_SERVER_NAME, 0);
	if (sh->flags & SG_HS_CH_F_MFL) {
		p = put_ext_hdr(p, SG_TLS_EXT_MAX_FRAGMENT_LENGTH, 1);
		*p++ = sh->mfl;
	}
	if (sh->flags & SG_HS_CH_F_RSL) {
		p = put_ext_hdr(p, SG_TLS_EXT_RECORD_SIZE_LIMIT, 2);
		sg_store_be16(p, sh->rsl);
		p += 2;
	}
	if (sh->flags & SG_HS_CH_F_RRC)
		p = put_ext_hdr(p, SG_TLS_EXT_RRC, 0);
	if (sh->flags & SG_HS_CH_F_ETM)
		p = put_ext_hdr(p, SG_TLS_EXT_ENCRYPT_THEN_MAC, 0);
	sg_hs_cert_sh_ext_put(p, sh);
}

int sg_hs_write_server_hello(struct sg_hs_wbuf *w, uint16_t seq,
                             const struct sg_hs_server_hello *sh)
{
	size_t ext = sh_ext_len(sh);
	size_t body = 2 + SG_TLS_RANDOM_LEN + 1 + sh->session_id_len + 2 + 1 + (ext ? 2 + ext : 0);
	uint8_t *p;

	if (sh->session_id_len > SG_TLS_SESSION_ID_MAX)
		return -EINVAL;
	p = wbuf_msg(w, SG_TLS_HT_SERVER_HELLO, seq, body);
	if (p == NULL)
		return -ENOSPC;
	sg_store_be16(p, sh->version);
	p += 2;
	memcpy(p, sh->random, SG_TLS_RANDOM_LEN);
	p += SG_TLS_RANDOM_LEN;
	*p++ = sh->session_id_len;
	if (sh->session_id_len)
		memcpy(p, sh->session_id, sh->session_id_len);
	p += sh->session_id_len;
	sg_store_be16(p, sh->suite);
	p += 2;
	*p++ = SG_TLS_COMPRESSION_NULL;
	if (ext == 0)
		return 0;
	sg_store_be16(p, (uint16_t)ext);
	put_sh_extensions(p + 2, sh);
	return 0;
}

int sg_hs_write_server_kx(struct sg_hs_wbuf *w, uint16_t seq, const uint8_t *hint,
                          uint16_t hint_len, uint16_t group, const uint8_t *point,
                          uint8_t point_len)
{
	size_t body = 2u + hint_len + (point ? 4u + point_len : 0);
	uint8_t *p = wbuf_msg(w, SG_TLS_HT_SERVER_KEY_EXCHANGE, seq, body);

	if (p == NULL)
		return -ENOSPC;
	sg_store_be16(p, hint_len);
	if (hint_len)
		memcpy(p + 2, hint, hint_len);
	p += 2 + hint_len;
	if (point) {
		/* RFC 8422 §5.4: ECParameters { named_curve, NamedGroup } then ECPoint. */
		p[0] = SG_TLS_EC_CURVE_NAMED;
		sg_store_be16(p + 1, group);
		p[3] = point_len;
		memcpy(p + 4, point, point_len);
	}
	return 0;
}

int sg_hs_write_server_hello_done(struct sg_hs_wbuf *w, uint16_t seq)
{
	return wbuf_msg(w, SG_TLS_HT_SERVER_HELLO_DONE, seq, 0) ? 0 : -ENOSPC;
}

int sg_hs_write_finished(struct sg_hs_wbuf *w, uint16_t seq,
                         const uint8_t verify_data[SG_TLS_VERIFY_DATA_LEN])
{
	uint8_t *p = wbuf_msg(w, SG_TLS_HT_FINISHED, seq, SG_TLS_VERIFY_DATA_LEN);

	if (p == NULL)
		return -ENOSPC;
	memcpy(p, verify_data, SG_TLS_VERIFY_DATA_LEN);
	return 0;
}

int sg_hs_write_new_session_ticket(struct sg_hs_wbuf *w, uint16_t seq, uint32_t lifetime_hint,
                                   const uint8_t *ticket, uint16_t ticket_len)
{
	uint8_t *p = wbuf_msg(w, SG_TLS_HT_NEW_SESSION_TICKET, seq, 6u + ticket_len);

	if (p == NULL)
		return -ENOSPC;
	sg_store_be32(p, lifetime_hint);
	sg_store_be16(p + 4, ticket_len);
	if (ticket_len)
		memcpy(p + 6, ticket, ticket_len);
	return 0;
}

/* ---- reassembly ------------------------------------------------------------ */

void sg_hs_reasm_init(struct sg_hs_reasm *r, uint8_t *buf, uint16_t cap)
{
	memset(r, 0, sizeof(*r));
	r->buf = buf;
	r->cap = cap > SG_HS_REASM_MAX ? SG_HS_REASM_MAX : cap;
}

void sg_hs_reasm_reset(struct sg_hs_reasm *r)
{
	sg_wipe(r->buf, r->cap);
	sg_hs_reasm_forget(r);
}

void sg_hs_reasm_forget(struct sg_hs_reasm *r)
{
	memset(r->bitmap, 0, sizeof(r->bitmap));
	r->have = 0;
	r->length = 0;
	r->seq = 0;
	r->type = 0;
	r->active = 0;
}

int sg_hs_reasm_add(struct sg_hs_reasm *r, const struct sg_hs_msg_hdr *h, const uint8_t *frag)
{
	if (!r->active) {
		if (h->length > r->cap)
			return -EMSGSIZE;
		r->active = 1;
		r->type = h->type;
		r->length = h->length;
		r->seq = h->seq;
		r->have = 0;
	} else if (h->type != r->type || h->length != r->length || h->seq != r->seq) {
		/* RFC 6347 §4.2.3: all fragments of a message share type and length. */
		return -EBADMSG;
	}
	if (h->frag_off > r->length || h->frag_len > r->length - h->frag_off)
		return -EBADMSG;
	for (uint32_t i = 0; i < h->frag_len; i++) {
		uint32_t at = h->frag_off + i;
		uint8_t bit = (uint8_t)(1u << (at & 7));

		if (r->bitmap[at >> 3] & bit) {
			/* Overlap: a retransmitted fragment must carry the same bytes. */
			if (r->buf[at] != frag[i])
				return -EBADMSG;
			continue;
		}
		r->bitmap[at >> 3] |= bit;
		r->buf[at] = frag[i];
		r->have++;
	}
	return r->have == r->length ? 1 : 0;
}
