/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The server's handshake messages, each whole (reassembled): checked in the
 * order of a PSK handshake, full or abbreviated, added to the transcript and
 * acted on. Calls tickets and resumption (fc_ticket.c), the key exchange
 * (fc_kx.c), our messages (fc_msg_out.c) and records out (fc_record_out.c).
 * Owner thread of the device; touches the device and hs.
 */
#include <errno.h>
#include <string.h>

#include <openssl/crypto.h>

#include <stormgate/bytes.h>

#include "fc_priv.h"

/*
 * connection_id in the ServerHello (RFC 9146 §3): cid<0..2^8-1>, the CID
 * the server wants in our records (empty: none). Only when we offered one;
 * a CID longer than we keep per device is refused.
 */
static int server_cid(struct sg_fc_dev *dev, const uint8_t *d, size_t len)
{
	if (len < 1 || d[0] != len - 1 || d[0] > SG_FC_PEER_CID_MAX)
		return -EPROTO;
	dev->cid = 1;
	dev->peer_cid_len = d[0];
	memcpy(dev->peer_cid, d + 1, d[0]);
	return 0;
}

/*
 * One ServerHello extension (RFC 5246 §7.4.1.4: only ones we offered):
 * extended_master_secret empty (RFC 7627 §5.1), renegotiation_info empty
 * (RFC 5746 §3.4, we sent the SCSV), ec_point_formats naming uncompressed
 * (RFC 8422 §5.2) for an ECDHE suite, session_ticket empty (RFC 5077 §3.2:
 * a NewSessionTicket follows), connection_id (RFC 9146 §3). Its bit, or 0:
 * refused.
 */
static unsigned server_extension(struct sg_fc_dev *dev, struct sg_fc_hs *hs, uint16_t type,
                                 const uint8_t *d, uint16_t len)
{
	const struct sg_fc_conf *c = hs->conf;

	if (type == SG_TLS_EXT_EXTENDED_MASTER_SECRET && len == 0)
		return 1;
	if (type == SG_TLS_EXT_RENEGOTIATION_INFO && len == 1 && d[0] == 0)
		return 2;
	if (type == SG_TLS_EXT_EC_POINT_FORMATS && hs->suite->kx == SG_KX_ECDHE_PSK && len >= 2 &&
	    d[0] == len - 1 && memchr(d + 1, SG_TLS_EC_POINT_UNCOMPRESSED, d[0]) != NULL)
		return 4;
	if (type == SG_TLS_EXT_SESSION_TICKET && c->ticket && len == 0)
		return 8;
	if (type == SG_TLS_EXT_CONNECTION_ID && c->use_cid && server_cid(dev, d, len) == 0)
		return 16;
	return 0;
}

/* ServerHello extensions, each at most once. */
static int server_extensions(struct sg_fc_dev *dev, struct sg_fc_hs *hs, const uint8_t *p, size_t n)
{
	unsigned seen = 0;

	while (n) {
		uint16_t len;
		unsigned bit;

		if (n < 4 || (size_t)4 + sg_load_be16(p + 2) > n)
			return -EPROTO;
		len = sg_load_be16(p + 2);
		bit = server_extension(dev, hs, sg_load_be16(p), p + 4, len);
		if (bit == 0 || (seen & bit))
			return -EPROTO;
		seen |= bit;
		p += 4 + len;
		n -= 4 + (size_t)len;
	}
	hs->ems = (seen & 1) != 0;
	hs->nst_expected = (seen & 8) != 0;
	return 0;
}

/*
 * ServerHello (RFC 5246 §7.4.1.3): DTLS 1.2, a suite we offered, null
 * compression. Our session_id echoed (we send one only with a ticket)
 * means the server resumes the ticket's session (RFC 5077 §3.4).
 */
static int server_hello(struct sg_fc_dev *dev, struct sg_fc_hs *hs, const uint8_t *b, size_t n)
{
	size_t sid, off;
	uint16_t id;
	int rc;

	if (n < 2 + SG_TLS_RANDOM_LEN + 1 || sg_load_be16(b) != SG_DTLS_VERSION_1_2)
		return -EPROTO;
	sid = b[2 + SG_TLS_RANDOM_LEN];
	off = 3 + SG_TLS_RANDOM_LEN + sid;
	if (sid > SG_TLS_SESSION_ID_MAX || n < off + 3)
		return -EPROTO;
	id = sg_load_be16(b + off);
	if (!sg_fc_offered(hs->conf, id) || b[off + 2] != SG_TLS_COMPRESSION_NULL)
		return -EPROTO;
	hs->suite = sg_suite_find(id);
	memcpy(hs->server_random, b + 2, SG_TLS_RANDOM_LEN);
	hs->abbrev = hs->ticket_offered && sid == SG_FC_SESSION_ID &&
	             memcmp(b + 3 + SG_TLS_RANDOM_LEN, hs->session_id, sid) == 0;
	off += 3;
	if (off == n)
		rc = server_extensions(dev, hs, b + off, 0);
	else if (n - off < 2 || sg_load_be16(b + off) != n - off - 2)
		rc = -EPROTO;
	else
		rc = server_extensions(dev, hs, b + off + 2, n - off - 2);
	if (rc == 0 && hs->abbrev)
		rc = sg_fc_resume(dev, hs);
	return rc;
}

/*
 * ServerKeyExchange: psk_identity_hint (RFC 4279 §2, ignored: the device has
 * one identity), then for ECDHE-PSK the ServerECDHParams (RFC 5489 §2,
 * RFC 8422 §5.4): named_curve, one of ours, and its share (X25519: 32
 * bytes; secp256r1: an uncompressed point, 65). Nothing may follow.
 */
static int server_key_exchange(struct sg_fc_hs *hs, const uint8_t *b, size_t n)
{
	size_t off, plen;
	uint16_t group;

	if (n < 2 || (size_t)2 + sg_load_be16(b) > n)
		return -EPROTO;
	off = 2 + (size_t)sg_load_be16(b);
	if (hs->suite->kx != SG_KX_ECDHE_PSK)
		return off == n ? 0 : -EPROTO;
	if (n - off < 4 || b[off] != SG_TLS_EC_CURVE_NAMED)
		return -EPROTO;
	group = sg_load_be16(b + off + 1);
	plen = b[off + 3];
	if (off + 4 + plen != n || (hs->conf->group != 0 && group != hs->conf->group) ||
	    !((group == SG_TLS_GROUP_X25519 && plen == 32) ||
	      (group == SG_TLS_GROUP_SECP256R1 && plen == 65 && b[off + 4] == 4)))
		return -EPROTO;
	hs->group = (uint8_t)group;
	hs->peer_pub_len = (uint8_t)plen;
	memcpy(hs->peer_pub, b + off + 4, plen);
	return 0;
}

/* A server message b[0..n) of type into the transcript, as if unfragmented (RFC 6347 §4.2.6). */
static int transcript_add(struct sg_fc_hs *hs, uint8_t type, const uint8_t *b, size_t n)
{
	size_t t = hs->transcript_len;

	if (t + SG_DTLS_HS_HDR_LEN + n > sizeof(hs->transcript))
		return -EMSGSIZE;
	hs->transcript[t] = type;
	sg_store_be24(hs->transcript + t + 1, (uint32_t)n);
	sg_store_be16(hs->transcript + t + 4, (uint16_t)(hs->rx_msg_seq - 1)); /* its own */
	sg_store_be24(hs->transcript + t + 6, 0);
	sg_store_be24(hs->transcript + t + 9, (uint32_t)n);
	memcpy(hs->transcript + t + SG_DTLS_HS_HDR_LEN, b, n);
	hs->transcript_len = (uint16_t)(t + SG_DTLS_HS_HDR_LEN + n);
	return 0;
}

/*
 * The server's Finished: its verify_data over every message before it
 * (RFC 5246 §7.4.9), after the NewSessionTicket the ServerHello promised
 * (RFC 5077 §3.3). Full handshake: done. Abbreviated: it joins the
 * transcript and our CCS and Finished go last.
 */
static int server_finished(struct sg_fc_dev *dev, struct sg_fc_hs *hs, const uint8_t *b, size_t n,
                           uint8_t *out, size_t cap, size_t *out_len)
{
	uint8_t want[SG_TLS_VERIFY_DATA_LEN];
	int rc;

	if (n != SG_TLS_VERIFY_DATA_LEN || !hs->peer_ccs || hs->nst_expected != hs->nst_seen)
		return -EPROTO;
	rc = sg_fc_finished_mac(hs, SG_TLS_LABEL_SERVER_FINISHED, want);
	if (rc == 0 && CRYPTO_memcmp(want, b, sizeof(want)) != 0)
		rc = -EPROTO;
	OPENSSL_cleanse(want, sizeof(want));
	if (rc == 0 && hs->abbrev) {
		rc = transcript_add(hs, SG_TLS_HT_FINISHED, b, n);
		if (rc == 0)
			rc = sg_fc_abbreviated_flight(dev, hs, out, cap, out_len);
	}
	if (rc == 0) {
		dev->state = SG_FC_DONE;
		dev->suite = hs->suite->id;
		dev->ems = hs->ems;
		dev->resumed = hs->abbrev;
		sg_fc_ticket_keep(hs);
	}
	return rc;
}

/*
 * HelloVerifyRequest (RFC 6347 §4.2.1): its cookie into the next
 * ClientHello, which keeps our random; the first ClientHello and the
 * request leave the transcript (§4.2.6), the server numbers its next message
 * from our new hello. The version may be DTLS 1.0 (§4.2.1).
 */
static int hello_verify(struct sg_fc_dev *dev, struct sg_fc_hs *hs, const uint8_t *b, size_t n,
                        uint8_t *out, size_t cap, size_t *out_len)
{
	int rc;

	if (n < 3 || b[2] != n - 3 || ++hs->hvr_count > SG_FC_HVR_MAX ||
	    (sg_load_be16(b) != SG_DTLS_VERSION_1_2 && sg_load_be16(b) != SG_DTLS_VERSION_1_0))
		return -EPROTO;
	hs->cookie_len = b[2];
	memcpy(hs->cookie, b + 3, hs->cookie_len);
	hs->transcript_len = 0;
	hs->flight_len = 0;
	rc = sg_fc_client_hello(hs);
	return rc ? rc : sg_fc_emit_flight(dev, hs, out, cap, out_len);
}

/*
 * One whole server message, in the order RFC 5246 §7.3 gives a PSK
 * handshake, full or abbreviated (figure 2: ServerHello, then
 * [NewSessionTicket], CCS, Finished): every other message at any point is
 * unexpected_message. Messages other than HelloVerifyRequest join the
 * transcript before they are acted on, except Finished, which is verified
 * over the messages before it.
 */
int sg_fc_on_message(struct sg_fc_dev *dev, struct sg_fc_hs *hs, uint8_t *out, size_t cap,
                     size_t *out_len)
{
	size_t n = hs->msg_len;
	const uint8_t *b = hs->msg;
	uint8_t type = hs->msg_type;
	int rc;

	if (dev->state == SG_FC_WAIT_HELLO && type == SG_TLS_HT_HELLO_VERIFY_REQUEST)
		return hello_verify(dev, hs, b, n, out, cap, out_len);
	if (dev->state == SG_FC_WAIT_FINISHED && type == SG_TLS_HT_FINISHED)
		return server_finished(dev, hs, b, n, out, cap, out_len);
	rc = transcript_add(hs, type, b, n);
	if (rc)
		return rc;
	if (dev->state == SG_FC_WAIT_HELLO && type == SG_TLS_HT_SERVER_HELLO) {
		rc = server_hello(dev, hs, b, n);
		dev->state = hs->abbrev ? SG_FC_WAIT_FINISHED : SG_FC_WAIT_DONE;
		return rc;
	}
	if (dev->state == SG_FC_WAIT_DONE && type == SG_TLS_HT_SERVER_KEY_EXCHANGE &&
	    !hs->ske_seen) {
		hs->ske_seen = 1;
		return server_key_exchange(hs, b, n);
	}
	if (dev->state == SG_FC_WAIT_DONE && type == SG_TLS_HT_SERVER_HELLO_DONE && n == 0) {
		if (hs->suite->kx == SG_KX_ECDHE_PSK && !hs->ske_seen)
			return -EPROTO; /* RFC 5489 §2: ServerKeyExchange is mandatory */
		return sg_fc_final_flight(dev, hs, out, cap, out_len);
	}
	if (dev->state == SG_FC_WAIT_FINISHED && type == SG_TLS_HT_NEW_SESSION_TICKET &&
	    hs->nst_expected && !hs->nst_seen)
		return sg_fc_new_session_ticket(hs, b, n);
	return -EPROTO;
}
