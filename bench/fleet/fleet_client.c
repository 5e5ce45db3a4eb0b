/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The fleet's DTLS 1.2 client handshake: flights out, server datagrams in,
 * one device at a time (see fleet_client.h). Built from the RFCs, not from
 * the server engine: nothing of control/handshake/ is called or copied.
 * Owner thread of the device; no allocation except OpenSSL's inside ECDH.
 */
#include "fleet_client.h"

#include <errno.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include <stormgate/bytes.h>

#include "fleet_keys.h"

#define FC_RECS_MAX   32  /* records looked at per datagram */
#define FC_EPOCH1_MAX 256 /* largest epoch-1 record opened during the handshake */

/* ---- our messages ---------------------------------------------------------- */

/* Where the next message's body goes in the flight (after its 12-byte header). */
static uint8_t *msg_body(struct sg_fc_hs *hs)
{
	return hs->flight + hs->flight_len + SG_DTLS_HS_HDR_LEN;
}

/*
 * Close the message whose body msg_body() gave: its DTLS handshake header
 * (RFC 6347 §4.2.2, unfragmented: offset 0, fragment length = length), then
 * into the transcript, which hashes messages as if unfragmented (§4.2.6).
 */
static int msg_end(struct sg_fc_hs *hs, uint8_t type, size_t body_len)
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

static int offers_ecdhe(const struct sg_fc_conf *c)
{
	for (unsigned i = 0; i < c->n_suites; i++)
		if (sg_suite_find(c->suites[i])->kx == SG_KX_ECDHE_PSK)
			return 1;
	return 0;
}

/*
 * ClientHello (RFC 5246 §7.4.1.2 with RFC 6347 §4.2.1's cookie): DTLS 1.2,
 * our random, no session id, the cookie (empty at first), our suites and
 * the renegotiation SCSV (RFC 5746 §3.3), null compression, and the
 * extensions: extended_master_secret (RFC 7627 §5.1); with ECDHE-PSK suites
 * supported_groups (x25519, secp256r1) and ec_point_formats (RFC 8422 §5.1).
 */
static int build_client_hello(struct sg_fc_hs *hs)
{
	const struct sg_fc_conf *c = hs->conf;
	uint8_t *b = msg_body(hs), *ext;
	size_t n = 0;

	sg_store_be16(b, SG_DTLS_VERSION_1_2);
	memcpy(b + 2, hs->client_random, SG_TLS_RANDOM_LEN);
	n = 2 + SG_TLS_RANDOM_LEN;
	b[n++] = 0; /* session_id */
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
	sg_store_be16(b + n, SG_TLS_EXT_EXTENDED_MASTER_SECRET);
	sg_store_be16(b + n + 2, 0);
	n += 4;
	if (offers_ecdhe(c)) {
		static const uint8_t groups[] = { 0, 4,
			                          0, SG_TLS_GROUP_X25519,
			                          0, SG_TLS_GROUP_SECP256R1 };
		static const uint8_t formats[] = { 1, SG_TLS_EC_POINT_UNCOMPRESSED };

		sg_store_be16(b + n, SG_TLS_EXT_SUPPORTED_GROUPS);
		sg_store_be16(b + n + 2, sizeof(groups));
		memcpy(b + n + 4, groups, sizeof(groups));
		n += 4 + sizeof(groups);
		sg_store_be16(b + n, SG_TLS_EXT_EC_POINT_FORMATS);
		sg_store_be16(b + n + 2, sizeof(formats));
		memcpy(b + n + 4, formats, sizeof(formats));
		n += 4 + sizeof(formats);
	}
	sg_store_be16(ext, (uint16_t)(b + n - ext - 2));
	/*
	 * The server answers a hello with the hello's message_seq (RFC 6347
	 * §4.2.2: 0 for the first, 1 after a HelloVerifyRequest, which OpenSSL
	 * and a stateless server alike follow); a repeated older request is ignored.
	 */
	hs->rx_msg_seq = hs->tx_msg_seq;
	return msg_end(hs, SG_TLS_HT_CLIENT_HELLO, n);
}

/* ---- records out ------------------------------------------------------------ */

/* One epoch-0 record (RFC 6347 §4.1) of len plaintext bytes at out + pos. */
static int put_plain(struct sg_fc_hs *hs, uint8_t type, const uint8_t *p, size_t len, uint8_t *out,
                     size_t cap, size_t *pos)
{
	uint8_t *r = out + *pos;

	if (cap - *pos < SG_DTLS_HDR_LEN + len)
		return -EMSGSIZE;
	r[SG_DTLS_HDR_OFF_TYPE] = type;
	sg_store_be16(r + SG_DTLS_HDR_OFF_VER, SG_DTLS_VERSION_1_2);
	sg_store_be16(r + SG_DTLS_HDR_OFF_EPOCH, 0);
	sg_store_be48(r + SG_DTLS_HDR_OFF_SEQ, hs->tx_seq0++);
	sg_store_be16(r + SG_DTLS_HDR_LEN - 2, (uint16_t)len);
	memcpy(r + SG_DTLS_HDR_LEN, p, len);
	*pos += SG_DTLS_HDR_LEN + len;
	return 0;
}

/* One epoch-1 handshake record sealed with the device's SA by the record layer. */
static int put_sealed(struct sg_fc_dev *dev, struct sg_fc_hs *hs, const uint8_t *p, size_t len,
                      uint8_t *out, size_t cap, size_t *pos)
{
	enum sg_aead aead = (enum sg_aead)hs->suite->aead;
	unsigned head = sg_rec_seal_headroom(aead, 0, 0), tail = sg_rec_seal_tailroom(aead, 0, 0);
	struct sg_rec_seal_op op = { 0 };

	if (cap - *pos < head + len + tail)
		return -EMSGSIZE;
	memcpy(out + *pos + head, p, len);
	op.buf = out + *pos;
	op.buf_len = (uint32_t)(cap - *pos);
	op.pt_off = head;
	op.pt_len = (uint32_t)len;
	op.sa = dev->sa;
	op.type = SG_DTLS_CT_HANDSHAKE;
	if (sg_rec_seal_burst(hs->conf->rec, &op, 1) != 1 || op.rec_off != 0)
		return -EIO;
	*pos += op.rec_len;
	return 0;
}

/*
 * Our last flight as one datagram: each epoch-0 message in a record of its
 * own, then (final flight) ChangeCipherSpec (RFC 5246 §7.1) and the
 * Finished under epoch 1. Every record gets a fresh sequence number, so a
 * retransmission is new records carrying the same messages (RFC 6347 §4.2.4).
 */
static int emit_flight(struct sg_fc_dev *dev, struct sg_fc_hs *hs, uint8_t *out, size_t cap,
                       size_t *out_len)
{
	static const uint8_t ccs = SG_TLS_CCS_VALUE;
	size_t end0 = hs->flight_epoch1 ? hs->flight_epoch1 : hs->flight_len, off = 0, pos = 0;
	int rc;

	while (off < end0) {
		size_t n = SG_DTLS_HS_HDR_LEN + sg_load_be24(hs->flight + off + 1);

		rc = put_plain(hs, SG_DTLS_CT_HANDSHAKE, hs->flight + off, n, out, cap, &pos);
		if (rc)
			return rc;
		off += n;
	}
	if (hs->flight_epoch1) {
		rc = put_plain(hs, SG_DTLS_CT_CHANGE_CIPHER_SPEC, &ccs, 1, out, cap, &pos);
		if (rc == 0)
			rc = put_sealed(dev, hs, hs->flight + end0, hs->flight_len - end0, out, cap,
			                &pos);
		if (rc)
			return rc;
	}
	*out_len = pos;
	return 0;
}

/* ---- the key exchange and our final flight -------------------------------- */

/*
 * ClientKeyExchange (RFC 4279 §2: psk_identity; RFC 5489 §2: then our
 * ECDHE share) and the premaster secret, into pms; returns its length or -errno.
 */
static int build_key_exchange(struct sg_fc_hs *hs, uint8_t *pms)
{
	const struct sg_fc_conf *c = hs->conf;
	size_t id_len = strlen(c->identity), n, pub_len = 0, z_len = 0;
	uint8_t *b = msg_body(hs), pub[SG_FC_ECDHE_PUB], z[32];
	int rc;

	sg_store_be16(b, (uint16_t)id_len);
	memcpy(b + 2, c->identity, id_len);
	n = 2 + id_len;
	if (hs->suite->kx == SG_KX_ECDHE_PSK) {
		rc = sg_fc_ecdh(hs->group, hs->peer_pub, hs->peer_pub_len, pub, &pub_len, z,
		                &z_len);
		if (rc)
			return rc;
		b[n++] = (uint8_t)pub_len;
		memcpy(b + n, pub, pub_len);
		n += pub_len;
		rc = (int)sg_fc_premaster(z, z_len, c->psk, c->psk_len, pms);
		OPENSSL_cleanse(z, sizeof(z));
	} else {
		rc = (int)sg_fc_premaster(NULL, 0, c->psk, c->psk_len, pms);
	}
	if (msg_end(hs, SG_TLS_HT_CLIENT_KEY_EXCHANGE, n))
		return -EMSGSIZE;
	return rc;
}

/*
 * The master secret (RFC 7627 §4 when the server echoed the extension: the
 * PRF over the session hash of every message up to ClientKeyExchange; else
 * RFC 5246 §8.1 over the randoms), then the key block (§6.3; AEAD suites have
 * no MAC keys: client key, server key, client IV, server IV) into the SA:
 * we transmit with the client's keys and receive with the server's.
 */
static int derive_keys(struct sg_fc_dev *dev, struct sg_fc_hs *hs, const uint8_t *pms,
                       size_t pms_len)
{
	const struct sg_suite *s = hs->suite;
	enum sg_aead aead = (enum sg_aead)s->aead;
	unsigned kl = sg_aead_key_len(aead), il = sg_aead_iv_len(aead);
	uint8_t h[FC_HASH_MAX], kb[2 * 32 + 2 * SG_DTLS_AEAD_NONCE_LEN];
	struct sg_rec_sa_params p = { .aead = aead, .epoch = 1 };
	int rc;

	if (hs->ems) {
		rc = sg_fc_hash(s, hs->transcript, hs->transcript_len, h);
		if (rc == 0)
			rc = sg_fc_prf(s, pms, pms_len, SG_TLS_LABEL_EXTENDED_MASTER_SECRET, h,
			               sg_fc_hash_len(s), NULL, 0, hs->master, sizeof(hs->master));
	} else {
		rc = sg_fc_prf(s, pms, pms_len, SG_TLS_LABEL_MASTER_SECRET, hs->client_random,
		               SG_TLS_RANDOM_LEN, hs->server_random, SG_TLS_RANDOM_LEN, hs->master,
		               sizeof(hs->master));
	}
	if (rc == 0)
		rc = sg_fc_prf(s, hs->master, sizeof(hs->master), SG_TLS_LABEL_KEY_EXPANSION,
		               hs->server_random, SG_TLS_RANDOM_LEN, hs->client_random,
		               SG_TLS_RANDOM_LEN, kb, 2 * kl + 2 * il);
	if (rc == 0) {
		p.tx_key = kb;
		p.rx_key = kb + kl;
		p.tx_iv = kb + 2 * kl;
		p.rx_iv = kb + 2 * kl + il;
		rc = sg_rec_sa_init(dev->sa, sg_rec_ctx_window_bits(hs->conf->rec), &p);
	}
	OPENSSL_cleanse(kb, sizeof(kb));
	OPENSSL_cleanse(h, sizeof(h));
	return rc;
}

/* verify_data = PRF(master, label, Hash(transcript))[0..11] (RFC 5246 §7.4.9). */
static int finished_mac(struct sg_fc_hs *hs, const char *label, uint8_t *out)
{
	uint8_t h[FC_HASH_MAX];
	int rc = sg_fc_hash(hs->suite, hs->transcript, hs->transcript_len, h);

	if (rc == 0)
		rc = sg_fc_prf(hs->suite, hs->master, sizeof(hs->master), label, h,
		               sg_fc_hash_len(hs->suite), NULL, 0, out, SG_TLS_VERIFY_DATA_LEN);
	return rc;
}

/* After ServerHelloDone: ClientKeyExchange, the keys, ChangeCipherSpec and Finished. */
static int final_flight(struct sg_fc_dev *dev, struct sg_fc_hs *hs, uint8_t *out, size_t cap,
                        size_t *out_len)
{
	uint8_t pms[FC_PMS_MAX];
	int rc;

	hs->flight_len = 0;
	rc = build_key_exchange(hs, pms);
	if (rc > 0) {
		rc = derive_keys(dev, hs, pms, (size_t)rc);
		OPENSSL_cleanse(pms, sizeof(pms));
	}
	if (rc < 0)
		return rc;
	hs->flight_epoch1 = hs->flight_len;
	rc = finished_mac(hs, SG_TLS_LABEL_CLIENT_FINISHED, msg_body(hs));
	if (rc == 0)
		rc = msg_end(hs, SG_TLS_HT_FINISHED, SG_TLS_VERIFY_DATA_LEN);
	if (rc == 0) {
		dev->state = SG_FC_WAIT_FINISHED;
		rc = emit_flight(dev, hs, out, cap, out_len);
	}
	return rc;
}

/* ---- the server's messages ---------------------------------------------------- */

static int offered(const struct sg_fc_conf *c, uint16_t id)
{
	for (unsigned i = 0; i < c->n_suites; i++)
		if (c->suites[i] == id)
			return 1;
	return 0;
}

/*
 * ServerHello extensions (RFC 5246 §7.4.1.4: only ones we offered, each
 * once): extended_master_secret empty (RFC 7627 §5.1), renegotiation_info
 * empty (RFC 5746 §3.4, we sent the SCSV), ec_point_formats naming
 * uncompressed (RFC 8422 §5.2) for an ECDHE suite.
 */
static int server_extensions(struct sg_fc_hs *hs, const uint8_t *p, size_t n)
{
	unsigned seen = 0;

	while (n) {
		uint16_t type, len;
		unsigned bit;

		if (n < 4 || (size_t)4 + sg_load_be16(p + 2) > n)
			return -EPROTO;
		type = sg_load_be16(p);
		len = sg_load_be16(p + 2);
		if (type == SG_TLS_EXT_EXTENDED_MASTER_SECRET && len == 0)
			bit = 1;
		else if (type == SG_TLS_EXT_RENEGOTIATION_INFO && len == 1 && p[4] == 0)
			bit = 2;
		else if (type == SG_TLS_EXT_EC_POINT_FORMATS && hs->suite->kx == SG_KX_ECDHE_PSK &&
		         len >= 2 && p[4] == len - 1 &&
		         memchr(p + 5, SG_TLS_EC_POINT_UNCOMPRESSED, p[4]) != NULL)
			bit = 4;
		else
			return -EPROTO;
		if (seen & bit)
			return -EPROTO;
		seen |= bit;
		p += 4 + len;
		n -= 4 + (size_t)len;
	}
	hs->ems = (seen & 1) != 0;
	return 0;
}

/* ServerHello (RFC 5246 §7.4.1.3): DTLS 1.2, a suite we offered, null compression. */
static int server_hello(struct sg_fc_hs *hs, const uint8_t *b, size_t n)
{
	size_t sid, off;
	uint16_t id;

	if (n < 2 + SG_TLS_RANDOM_LEN + 1 || sg_load_be16(b) != SG_DTLS_VERSION_1_2)
		return -EPROTO;
	sid = b[2 + SG_TLS_RANDOM_LEN];
	off = 3 + SG_TLS_RANDOM_LEN + sid;
	if (sid > SG_TLS_SESSION_ID_MAX || n < off + 3)
		return -EPROTO;
	id = sg_load_be16(b + off);
	if (!offered(hs->conf, id) || b[off + 2] != SG_TLS_COMPRESSION_NULL)
		return -EPROTO;
	hs->suite = sg_suite_find(id);
	memcpy(hs->server_random, b + 2, SG_TLS_RANDOM_LEN);
	off += 3;
	if (off == n)
		return server_extensions(hs, b + off, 0);
	if (n - off < 2 || sg_load_be16(b + off) != n - off - 2)
		return -EPROTO;
	return server_extensions(hs, b + off + 2, n - off - 2);
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
	if (off + 4 + plen != n ||
	    !((group == SG_TLS_GROUP_X25519 && plen == 32) ||
	      (group == SG_TLS_GROUP_SECP256R1 && plen == 65 && b[off + 4] == 4)))
		return -EPROTO;
	hs->group = (uint8_t)group;
	hs->peer_pub_len = (uint8_t)plen;
	memcpy(hs->peer_pub, b + off + 4, plen);
	return 0;
}

/* The server's Finished: its verify_data over every message up to ours (RFC 5246 §7.4.9). */
static int server_finished(struct sg_fc_dev *dev, struct sg_fc_hs *hs, const uint8_t *b, size_t n)
{
	uint8_t want[SG_TLS_VERIFY_DATA_LEN];
	int rc;

	if (n != SG_TLS_VERIFY_DATA_LEN || !hs->peer_ccs)
		return -EPROTO;
	rc = finished_mac(hs, SG_TLS_LABEL_SERVER_FINISHED, want);
	if (rc == 0 && CRYPTO_memcmp(want, b, sizeof(want)) != 0)
		rc = -EPROTO;
	OPENSSL_cleanse(want, sizeof(want));
	if (rc == 0) {
		dev->state = SG_FC_DONE;
		dev->suite = hs->suite->id;
		dev->ems = hs->ems;
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
	rc = build_client_hello(hs);
	return rc ? rc : emit_flight(dev, hs, out, cap, out_len);
}

/*
 * One whole server message, in the order RFC 5246 §7.3 gives a PSK
 * handshake: every other message at any point is unexpected_message.
 * Messages other than HelloVerifyRequest join the transcript before they are
 * acted on, except Finished, which is verified over the messages before it.
 */
static int on_message(struct sg_fc_dev *dev, struct sg_fc_hs *hs, uint8_t *out, size_t cap,
                      size_t *out_len)
{
	size_t n = hs->msg_len, t = hs->transcript_len;
	const uint8_t *b = hs->msg;
	uint8_t type = hs->msg_type;

	if (dev->state == SG_FC_WAIT_HELLO && type == SG_TLS_HT_HELLO_VERIFY_REQUEST)
		return hello_verify(dev, hs, b, n, out, cap, out_len);
	if (dev->state == SG_FC_WAIT_FINISHED && type == SG_TLS_HT_FINISHED)
		return server_finished(dev, hs, b, n);
	if (t + SG_DTLS_HS_HDR_LEN + n > sizeof(hs->transcript))
		return -EMSGSIZE;
	hs->transcript[t] = type;
	sg_store_be24(hs->transcript + t + 1, (uint32_t)n);
	sg_store_be16(hs->transcript + t + 4, (uint16_t)(hs->rx_msg_seq - 1)); /* its own */
	sg_store_be24(hs->transcript + t + 6, 0);
	sg_store_be24(hs->transcript + t + 9, (uint32_t)n);
	memcpy(hs->transcript + t + SG_DTLS_HS_HDR_LEN, b, n);
	hs->transcript_len = (uint16_t)(t + SG_DTLS_HS_HDR_LEN + n);
	if (dev->state == SG_FC_WAIT_HELLO && type == SG_TLS_HT_SERVER_HELLO) {
		dev->state = SG_FC_WAIT_DONE;
		return server_hello(hs, b, n);
	}
	if (dev->state == SG_FC_WAIT_DONE && type == SG_TLS_HT_SERVER_KEY_EXCHANGE &&
	    !hs->ske_seen) {
		hs->ske_seen = 1;
		return server_key_exchange(hs, b, n);
	}
	if (dev->state == SG_FC_WAIT_DONE && type == SG_TLS_HT_SERVER_HELLO_DONE && n == 0) {
		if (hs->suite->kx == SG_KX_ECDHE_PSK && !hs->ske_seen)
			return -EPROTO; /* RFC 5489 §2: ServerKeyExchange is mandatory */
		return final_flight(dev, hs, out, cap, out_len);
	}
	return -EPROTO;
}

/* ---- fragments and records in ------------------------------------------------ */

/* One fragment's header fields (RFC 6347 §4.2.2). */
struct frag {
	uint8_t type;
	uint32_t len;  /* the whole message */
	uint16_t seq;  /* message_seq */
	uint32_t off;  /* fragment_offset */
	uint32_t flen; /* fragment_length */
	const uint8_t *body;
};

/*
 * Whether fragment f belongs to the message we reassemble now: an older
 * message means the server resent its last flight (*resend), a later one is
 * dropped (§4.2.2: "MAY discard");
 * Finished only under epoch 1 and after the ChangeCipherSpec, everything
 * else only under epoch 0.
 */
static int frag_wanted(struct sg_fc_dev *dev, struct sg_fc_hs *hs, const struct frag *f,
                       unsigned epoch, int *resend)
{
	if (f->seq < hs->rx_msg_seq) {
		*resend |= dev->state == SG_FC_WAIT_FINISHED;
		return 0;
	}
	if (f->seq > hs->rx_msg_seq || f->len > SG_FC_MSG_MAX)
		return 0;
	if ((f->type == SG_TLS_HT_FINISHED) != (epoch == 1))
		return 0;
	/* a Finished overtaking the server's CCS waits for its retransmission (§4.1) */
	if (f->type == SG_TLS_HT_FINISHED && !hs->peer_ccs)
		return 0;
	if (hs->msg_active && (f->type != hs->msg_type || f->len != hs->msg_len))
		return 0;
	return 1;
}

/*
 * Add fragment f to the message (§4.2.3: any order, overlaps allowed). A
 * whole one is handled with rx_msg_seq already past it (a HelloVerifyRequest
 * sets it anew for our next hello).
 */
static int on_fragment(struct sg_fc_dev *dev, struct sg_fc_hs *hs, const struct frag *f,
                       uint8_t *out, size_t cap, size_t *out_len)
{
	if (!hs->msg_active) {
		hs->msg_active = 1;
		hs->msg_type = f->type;
		hs->msg_len = f->len;
		hs->msg_have = 0;
		memset(hs->msg_map, 0, (f->len + 7) / 8);
	}
	for (uint32_t i = f->off; i < f->off + f->flen; i++) {
		if (hs->msg_map[i / 8] & (1u << (i % 8)))
			continue;
		hs->msg_map[i / 8] |= (uint8_t)(1u << (i % 8));
		hs->msg[i] = f->body[i - f->off];
		hs->msg_have++;
	}
	if (hs->msg_have < hs->msg_len)
		return 0;
	hs->msg_active = 0;
	hs->rx_msg_seq++;
	return on_message(dev, hs, out, cap, out_len);
}

/* Every fragment of one handshake record; a malformed one ends the record (dropped). */
static int on_handshake(struct sg_fc_dev *dev, struct sg_fc_hs *hs, const uint8_t *p, size_t n,
                        unsigned epoch, uint8_t *out, size_t cap, size_t *out_len, int *resend)
{
	while (n >= SG_DTLS_HS_HDR_LEN && dev->state != SG_FC_DONE) {
		struct frag f = { .type = p[0],
			          .len = sg_load_be24(p + 1),
			          .seq = sg_load_be16(p + 4),
			          .off = sg_load_be24(p + 6),
			          .flen = sg_load_be24(p + 9),
			          .body = p + SG_DTLS_HS_HDR_LEN };
		int rc;

		if (f.flen > n - SG_DTLS_HS_HDR_LEN || f.off > f.len || f.flen > f.len - f.off)
			return 0;
		if (frag_wanted(dev, hs, &f, epoch, resend)) {
			rc = on_fragment(dev, hs, &f, out, cap, out_len);
			if (rc)
				return rc;
		}
		p += SG_DTLS_HS_HDR_LEN + f.flen;
		n -= SG_DTLS_HS_HDR_LEN + f.flen;
	}
	return 0;
}

/* An alert (RFC 5246 §7.2): fatal ones and close_notify end the handshake. */
static int on_alert(struct sg_fc_dev *dev, const uint8_t *p, size_t n)
{
	if (n != 2)
		return 0;
	if (p[0] != SG_TLS_ALERT_FATAL && p[1] != SG_TLS_ALERT_CLOSE_NOTIFY)
		return 0;
	dev->alert = p[1];
	return -ECONNREFUSED;
}

/* An epoch-1 record, opened with the device's SA: the server's Finished or an alert. */
static int on_epoch1(struct sg_fc_dev *dev, struct sg_fc_hs *hs, const uint8_t *rec, size_t n,
                     uint8_t *out, size_t cap, size_t *out_len, int *resend)
{
	uint8_t buf[FC_EPOCH1_MAX];
	struct sg_rec_open_op op = { .rec = buf, .rec_len = (uint32_t)n, .sa = dev->sa };
	int rc = 0;

	if (n > sizeof(buf))
		return 0;
	memcpy(buf, rec, n);
	if (sg_rec_open_burst(hs->conf->rec, &op, 1) == 1) {
		if (op.type == SG_DTLS_CT_HANDSHAKE)
			rc = on_handshake(dev, hs, buf + op.pt_off, op.pt_len, 1, out, cap, out_len,
			                  resend);
		else if (op.type == SG_DTLS_CT_ALERT)
			rc = on_alert(dev, buf + op.pt_off, op.pt_len);
	}
	OPENSSL_cleanse(buf, sizeof(buf));
	return rc;
}

/* One record of a server datagram (RFC 6347 §4.1): by epoch and content type. */
static int on_record(struct sg_fc_dev *dev, struct sg_fc_hs *hs, const uint8_t *in,
                     const struct sg_rec_hdr *r, uint8_t *out, size_t cap, size_t *out_len,
                     int *resend)
{
	const uint8_t *frag = in + r->off + r->hdr_len;

	if (r->status != SG_REC_OK ||
	    (r->version != SG_DTLS_VERSION_1_2 && r->version != SG_DTLS_VERSION_1_0))
		return 0;
	if (r->epoch == 1 && dev->state == SG_FC_WAIT_FINISHED)
		return on_epoch1(dev, hs, in + r->off, r->len, out, cap, out_len, resend);
	if (r->epoch != 0)
		return 0;
	switch (r->type) {
	case SG_DTLS_CT_HANDSHAKE:
		return on_handshake(dev, hs, frag, r->frag_len, 0, out, cap, out_len, resend);
	case SG_DTLS_CT_CHANGE_CIPHER_SPEC:
		if (dev->state == SG_FC_WAIT_FINISHED && r->frag_len == 1 &&
		    frag[0] == SG_TLS_CCS_VALUE)
			hs->peer_ccs = 1;
		return 0;
	case SG_DTLS_CT_ALERT:
		return on_alert(dev, frag, r->frag_len);
	default:
		return 0;
	}
}

/* ---- the API -------------------------------------------------------------------- */

/* The handshake failed with rc: the SA and the secrets go (the caller wipes hs on release). */
static int fail(struct sg_fc_dev *dev, struct sg_fc_hs *hs, int rc)
{
	dev->state = SG_FC_FAILED;
	dev->error = rc;
	sg_rec_sa_wipe(dev->sa, sg_rec_ctx_window_bits(hs->conf->rec));
	OPENSSL_cleanse(hs->master, sizeof(hs->master));
	return rc;
}

static int conf_ok(const struct sg_fc_conf *c)
{
	size_t id_len;

	if (c == NULL || c->rec == NULL || c->suites == NULL || c->n_suites == 0 ||
	    c->n_suites > SG_FC_SUITES_MAX || c->identity == NULL || c->psk == NULL ||
	    c->psk_len == 0 || c->psk_len > SG_TLS_PSK_MAX)
		return 0;
	id_len = strlen(c->identity);
	if (id_len == 0 || id_len > SG_TLS_PSK_IDENTITY_MAX)
		return 0;
	for (unsigned i = 0; i < c->n_suites; i++) {
		const struct sg_suite *s = sg_suite_find(c->suites[i]);

		if (s == NULL || s->rank == 0 || (s->kx != SG_KX_PSK && s->kx != SG_KX_ECDHE_PSK))
			return 0;
	}
	return 1;
}

int sg_fc_start(struct sg_fc_dev *dev, struct sg_fc_hs *hs, const struct sg_fc_conf *conf,
                uint8_t *out, size_t cap, size_t *out_len)
{
	int rc;

	*out_len = 0;
	if (dev == NULL || dev->sa == NULL || hs == NULL || !conf_ok(conf))
		return -EINVAL;
	memset(hs, 0, sizeof(*hs));
	hs->conf = conf;
	dev->suite = 0;
	dev->ems = 0;
	dev->error = 0;
	dev->alert = 0;
	/* RFC 5246 §7.4.1.2: 32 random bytes (no clock in the first four, as is usual now) */
	if (RAND_bytes(hs->client_random, SG_TLS_RANDOM_LEN) != 1)
		return -EIO;
	rc = build_client_hello(hs);
	if (rc == 0)
		rc = emit_flight(dev, hs, out, cap, out_len);
	dev->state = rc ? SG_FC_IDLE : SG_FC_WAIT_HELLO;
	return rc;
}

int sg_fc_input(struct sg_fc_dev *dev, struct sg_fc_hs *hs, const uint8_t *in, size_t len,
                uint8_t *out, size_t cap, size_t *out_len)
{
	struct sg_rec_hdr recs[FC_RECS_MAX];
	unsigned n;
	int rc = 0, resend = 0;

	*out_len = 0;
	if (dev->state < SG_FC_WAIT_HELLO || dev->state > SG_FC_WAIT_FINISHED)
		return 0;
	n = sg_rec_parse(in, len, 0, recs, FC_RECS_MAX);
	for (unsigned i = 0; i < n && rc == 0 && dev->state != SG_FC_DONE; i++)
		rc = on_record(dev, hs, in, &recs[i], out, cap, out_len, &resend);
	if (rc)
		return fail(dev, hs, rc);
	/* RFC 6347 §4.2.4: the server repeated its flight, so ours was lost */
	if (resend && *out_len == 0 && dev->state == SG_FC_WAIT_FINISHED) {
		rc = emit_flight(dev, hs, out, cap, out_len);
		if (rc)
			return fail(dev, hs, rc);
	}
	return 0;
}

int sg_fc_resend(struct sg_fc_dev *dev, struct sg_fc_hs *hs, uint8_t *out, size_t cap,
                 size_t *out_len)
{
	*out_len = 0;
	if (dev->state < SG_FC_WAIT_HELLO || dev->state > SG_FC_WAIT_FINISHED)
		return 0;
	return emit_flight(dev, hs, out, cap, out_len);
}

void sg_fc_hs_wipe(struct sg_fc_hs *hs)
{
	OPENSSL_cleanse(hs, sizeof(*hs));
}

const char *sg_fc_state_name(enum sg_fc_state state)
{
	static const char *const names[] = {
		[SG_FC_IDLE] = "idle",           [SG_FC_WAIT_HELLO] = "wait_hello",
		[SG_FC_WAIT_DONE] = "wait_done", [SG_FC_WAIT_FINISHED] = "wait_finished",
		[SG_FC_DONE] = "done",           [SG_FC_FAILED] = "failed",
	};

	if ((unsigned)state >= sizeof(names) / sizeof(names[0]))
		return "unknown";
	return names[state];
}
