/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The fleet client's own handshake messages: each is built in place in the
 * flight buffer, closed with its DTLS handshake header and added to the
 * transcript; the ClientHello lives here. The bottom of the client's stack:
 * calls nothing of the other fc_ files. Owner thread of the device; touches
 * only the struct sg_fc_hs it is given.
 */
#include <errno.h>
#include <string.h>

#include <stormgate/bytes.h>

#include "fc_priv.h"

/*
 * The longest ClientHello we build, which must fit the flight buffer: its
 * header, version, random, session_id, cookie, suites and the SCSV,
 * compression, and the extensions (list length; extended_master_secret,
 * supported_groups, ec_point_formats, session_ticket, connection_id).
 */
#define FC_CLIENT_HELLO_MAX                                                                        \
	(SG_DTLS_HS_HDR_LEN + 2 + SG_TLS_RANDOM_LEN + 1 + SG_FC_SESSION_ID + 1 +                   \
	 SG_DTLS_COOKIE_MAX + 2 + 2 * (SG_FC_SUITES_MAX + 1) + 2 + 2 + 4 + 10 + 6 + 4 +            \
	 SG_FC_TICKET_MAX + 5 + SG_FC_CID_MAX)
_Static_assert(FC_CLIENT_HELLO_MAX <= SG_FC_FLIGHT_MAX, "a ClientHello fits the flight buffer");

/* Where the next message's body goes in the flight (after its 12-byte header). */
uint8_t *sg_fc_msg_body(struct sg_fc_hs *hs)
{
	return hs->flight + hs->flight_len + SG_DTLS_HS_HDR_LEN;
}

/*
 * Close the message whose body sg_fc_msg_body() gave: its DTLS handshake header
 * (RFC 6347 §4.2.2, unfragmented: offset 0, fragment length = length), then
 * into the transcript, which hashes messages as if unfragmented (§4.2.6).
 */
int sg_fc_msg_end(struct sg_fc_hs *hs, uint8_t type, size_t body_len)
{
	uint8_t *h = hs->flight + hs->flight_len;
	size_t n = SG_DTLS_HS_HDR_LEN + body_len;

	h[0] = type;
	sg_store_be24(h + 1, (uint32_t)body_len);
	sg_store_be16(h + 4, hs->tx_msg_seq++);
	sg_store_be24(h + 6, 0);
	sg_store_be24(h + 9, (uint32_t)body_len);
	if (hs->transcript_len + n > sizeof(hs->transcript))
		return -EMSGSIZE;
	memcpy(hs->transcript + hs->transcript_len, h, n);
	hs->transcript_len += (uint16_t)n;
	hs->flight_len += (uint16_t)n;
	return 0;
}

int sg_fc_offered(const struct sg_fc_conf *c, uint16_t id)
{
	for (unsigned i = 0; i < c->n_suites; i++)
		if (c->suites[i] == id)
			return 1;
	return 0;
}

static int offers_ecdhe(const struct sg_fc_conf *c)
{
	for (unsigned i = 0; i < c->n_suites; i++)
		if (sg_suite_find(c->suites[i])->kx == SG_KX_ECDHE_PSK)
			return 1;
	return 0;
}

/* One extension (RFC 5246 §7.4.1.4) at b: type, length, len bytes of data; its size. */
static size_t put_ext(uint8_t *b, uint16_t type, const uint8_t *data, size_t len)
{
	sg_store_be16(b, type);
	sg_store_be16(b + 2, (uint16_t)len);
	if (len)
		memcpy(b + 4, data, len);
	return 4 + len;
}

/*
 * The extensions that come with tickets and CIDs: session_ticket, empty
 * (RFC 5077 §3.2: "I take one") or our ticket; connection_id with our CID
 * (RFC 9146 §3: cid<0..2^8-1>). Their size.
 */
static size_t session_extensions(const struct sg_fc_hs *hs, uint8_t *b)
{
	const struct sg_fc_conf *c = hs->conf;
	size_t n = 0;

	if (c->ticket)
		n += put_ext(b, SG_TLS_EXT_SESSION_TICKET, c->ticket->ticket,
		             hs->ticket_offered ? c->ticket->len : 0);
	if (c->use_cid) {
		uint8_t cid[1 + SG_FC_CID_MAX];

		cid[0] = c->cid_len;
		if (c->cid_len)
			memcpy(cid + 1, c->cid, c->cid_len);
		n += put_ext(b + n, SG_TLS_EXT_CONNECTION_ID, cid, 1u + c->cid_len);
	}
	return n;
}

/*
 * ClientHello (RFC 5246 §7.4.1.2 with RFC 6347 §4.2.1's cookie): DTLS 1.2,
 * our random, a session id only with a ticket (RFC 5077 §3.4), the cookie
 * (empty at first), our suites and the renegotiation SCSV (RFC 5746 §3.3),
 * null compression, and the extensions: extended_master_secret (RFC 7627
 * §5.1, also when resuming: §5.3); with ECDHE-PSK suites supported_groups
 * (x25519, secp256r1) and ec_point_formats (RFC 8422 §5.1); session_ticket
 * and connection_id when the conf asks.
 */
int sg_fc_client_hello(struct sg_fc_hs *hs)
{
	const struct sg_fc_conf *c = hs->conf;
	uint8_t *b = sg_fc_msg_body(hs), *ext;
	size_t n = 0;

	sg_store_be16(b, SG_DTLS_VERSION_1_2);
	memcpy(b + 2, hs->client_random, SG_TLS_RANDOM_LEN);
	n = 2 + SG_TLS_RANDOM_LEN;
	b[n++] = hs->ticket_offered ? SG_FC_SESSION_ID : 0;
	if (hs->ticket_offered) {
		memcpy(b + n, hs->session_id, SG_FC_SESSION_ID);
		n += SG_FC_SESSION_ID;
	}
	b[n++] = hs->cookie_len;
	memcpy(b + n, hs->cookie, hs->cookie_len);
	n += hs->cookie_len;
	sg_store_be16(b + n, (uint16_t)(2 * (c->n_suites + 1)));
	n += 2;
	for (unsigned i = 0; i < c->n_suites; i++, n += 2)
		sg_store_be16(b + n, c->suites[i]);
	sg_store_be16(b + n, SG_TLS_EMPTY_RENEGOTIATION_INFO_SCSV);
	n += 2;
	b[n++] = 1;
	b[n++] = SG_TLS_COMPRESSION_NULL;
	ext = b + n;
	n += 2;
	n += put_ext(b + n, SG_TLS_EXT_EXTENDED_MASTER_SECRET, NULL, 0);
	if (offers_ecdhe(c)) {
		static const uint8_t both[] = { 0, 4,
			                        0, SG_TLS_GROUP_X25519,
			                        0, SG_TLS_GROUP_SECP256R1 };
		static const uint8_t formats[] = { 1, SG_TLS_EC_POINT_UNCOMPRESSED };
		uint8_t one[4] = { 0, 2 };

		sg_store_be16(one + 2, c->group);
		if (c->group != 0)
			n += put_ext(b + n, SG_TLS_EXT_SUPPORTED_GROUPS, one, sizeof(one));
		else
			n += put_ext(b + n, SG_TLS_EXT_SUPPORTED_GROUPS, both, sizeof(both));
		n += put_ext(b + n, SG_TLS_EXT_EC_POINT_FORMATS, formats, sizeof(formats));
	}
	n += session_extensions(hs, b + n);
	sg_store_be16(ext, (uint16_t)(b + n - ext - 2));
	/*
	 * The server answers a hello with the hello's message_seq (RFC 6347
	 * §4.2.2: 0 for the first, 1 after a HelloVerifyRequest, which OpenSSL
	 * and a stateless server alike follow); a repeated older request is ignored.
	 */
	hs->rx_msg_seq = hs->tx_msg_seq;
	return sg_fc_msg_end(hs, SG_TLS_HT_CLIENT_HELLO, n);
}
