/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Datagram output of the handshake engine: records into datagrams of at
 * most the MTU, handshake messages into fragments, epoch-1 records sealed,
 * the amplification limit, alerts and failure. See hs_output.h. Calls
 * hs_linger (a flight's datagrams kept) and hs_slots (a failure frees the
 * slot) only (hs_priv.h lists the stack). The engine's thread only.
 */
#include <errno.h>
#include <string.h>

#include <stormgate/bytes.h>

#include "hs_linger.h"
#include "hs_output.h"
#include "hs_priv.h"
#include "hs_slots.h"

/* The stateless replies fit the limit for the smallest datagram that earns them: a
 * HelloVerifyRequest answers a ClientHello that parsed (version, random, two empty
 * vectors at least), an alert any handshake record (RFC 6347 §4.2.1). */
_Static_assert(SG_DTLS_HDR_LEN + SG_DTLS_HS_HDR_LEN + 3 + SG_HS_COOKIE_LEN <=
                       AMP_FACTOR * (SG_DTLS_HDR_LEN + SG_DTLS_HS_HDR_LEN + 2 + 32 + 1 + 1),
               "a HelloVerifyRequest within the amplification limit");
_Static_assert(SG_DTLS_HDR_LEN + 2 <= AMP_FACTOR * (SG_DTLS_HDR_LEN + SG_DTLS_HS_HDR_LEN),
               "a stateless alert within the amplification limit");

/*
 * May a datagram of len bytes go to t's peer (AMP_FACTOR)? A slot whose
 * address is not proven keeps the running totals; a stateless reply is
 * held to the datagram it answers.
 */
static bool tx_allowed(const struct hs_tx *t, size_t len)
{
	const struct hs_slot *s = t->s;

	if (s == NULL)
		return len <= AMP_FACTOR * t->answers;
	return (s->flags & SF_PROVEN) || s->bytes_out + len <= (uint64_t)AMP_FACTOR * s->bytes_in;
}

void sg_hs_tx_flush(struct hs_tx *t)
{
	struct sg_hs_engine *e = t->e;

	if (e->tx_len == 0)
		return;
	if (!tx_allowed(t, e->tx_len)) {
		hs_count(e, SG_HS_C_AMPLIFICATION_HELD);
		e->tx_len = 0;
		return;
	}
	if (t->ln && sg_hs_linger_keep(t->ln, e->tx, e->tx_len) < 0)
		t->ln = NULL;
	if (t->s)
		t->s->bytes_out = hs_add_sat32(t->s->bytes_out, e->tx_len);
	if (e->conf.ops.send(e->conf.ops.ctx, t->peer, e->tx, e->tx_len) < 0)
		hs_count(e, SG_HS_C_SEND_FAILED);
	e->tx_len = 0;
}

/* Make room for need bytes in the current datagram. */
static void tx_room(struct hs_tx *t, size_t need)
{
	if (t->e->tx_len + need > t->e->conf.mtu)
		sg_hs_tx_flush(t);
}

static void tx_record_hdr(uint8_t *p, uint8_t type, uint16_t version, uint16_t epoch, uint64_t seq,
                          size_t len)
{
	p[0] = type;
	sg_store_be16(p + 1, version);
	sg_store_be16(p + 3, epoch);
	sg_store_be48(p + 5, seq);
	sg_store_be16(p + 11, (uint16_t)len);
}

/* One epoch-0 record holding parts a (and b) as its fragment. */
static void tx_plain(struct hs_tx *t, uint8_t type, const uint8_t *a, size_t alen, const uint8_t *b,
                     size_t blen)
{
	struct sg_hs_engine *e = t->e;
	uint8_t *p;

	tx_room(t, SG_DTLS_HDR_LEN + alen + blen);
	p = e->tx + e->tx_len;
	tx_record_hdr(p, type, t->version, 0, (*t->ep0_seq)++, alen + blen);
	memcpy(p + SG_DTLS_HDR_LEN, a, alen);
	if (blen)
		memcpy(p + SG_DTLS_HDR_LEN + alen, b, blen);
	e->tx_len += SG_DTLS_HDR_LEN + alen + blen;
}

/* One epoch-1 record sealed with the slot's SA (RFC 5246 §6.2.3.3, RFC 9146 §5). */
static void tx_sealed(struct hs_tx *t, uint8_t type, const uint8_t *a, size_t alen,
                      const uint8_t *b, size_t blen)
{
	struct sg_hs_engine *e = t->e;
	struct hs_slot *s = t->s;
	bool cid = s->sa.flags & SG_SA_F_TX_CID;
	unsigned head = sg_rec_seal_headroom((enum sg_aead)s->sa.aead, cid, s->peer_cid_len);
	unsigned tail = sg_rec_seal_tailroom((enum sg_aead)s->sa.aead, cid, 0);
	struct sg_rec_seal_op op = {
		.buf = e->scratch,
		.buf_len = (uint32_t)(head + alen + blen + tail),
		.pt_off = head,
		.pt_len = (uint32_t)(alen + blen),
		.sa = &s->sa,
		.cid = s->peer_cid,
		.cid_len = s->peer_cid_len,
		.type = type,
	};

	memcpy(e->scratch + head, a, alen);
	if (blen)
		memcpy(e->scratch + head + alen, b, blen);
	if (sg_rec_seal_burst(e->rec, &op, 1) != 1) {
		t->err = -EIO;
		return;
	}
	tx_room(t, op.rec_len);
	memcpy(e->tx + e->tx_len, e->scratch + op.rec_off, op.rec_len);
	e->tx_len += op.rec_len;
}

/*
 * What protection adds to an epoch-1 record's plaintext at most: an AEAD's
 * explicit nonce and tag, or CBC's explicit IV, MAC and padding of up to a
 * block (RFC 5246 §6.2.3.2).
 */
static size_t sealed_over(const struct hs_slot *s)
{
	if (sg_aead_wide(s->sa.aead))
		return SG_DTLS_CBC_IV_LEN + SG_DTLS_CBC_MAC_LEN + SG_DTLS_CBC_BLOCK;
	return SG_DTLS_AEAD_EXPLICIT_LEN + SG_DTLS_AEAD_TAG_LEN;
}

/* Largest handshake fragment that fits one record in one datagram. */
static size_t frag_room(const struct hs_tx *t, int epoch)
{
	size_t over = SG_DTLS_HDR_LEN + SG_DTLS_HS_HDR_LEN, room;

	if (epoch && t->s)
		over += t->s->peer_cid_len + 1 + sealed_over(t->s);
	room = t->e->conf.mtu - over;
	return room < t->max_frag ? room : t->max_frag;
}

/*
 * Send a handshake message (msg: 12-byte header + body, as the writers make
 * it) in as many fragments as the MTU and the client's limits require
 * (RFC 6347 §4.2.3).
 */
void sg_hs_tx_handshake(struct hs_tx *t, const uint8_t *msg, size_t msg_len, int epoch)
{
	struct sg_hs_msg_hdr h;
	size_t body = msg_len - SG_DTLS_HS_HDR_LEN, off = 0;
	uint8_t hdr[SG_DTLS_HS_HDR_LEN];

	sg_hs_msg_hdr_parse(msg, msg_len, &h);
	do {
		size_t n = body - off, room = frag_room(t, epoch);

		if (n > room)
			n = room;
		h.frag_off = (uint32_t)off;
		h.frag_len = (uint32_t)n;
		sg_hs_frag_hdr_write(hdr, &h);
		if (epoch)
			tx_sealed(t, SG_DTLS_CT_HANDSHAKE, hdr, sizeof(hdr),
			          msg + SG_DTLS_HS_HDR_LEN + off, n);
		else
			tx_plain(t, SG_DTLS_CT_HANDSHAKE, hdr, sizeof(hdr),
			         msg + SG_DTLS_HS_HDR_LEN + off, n);
		off += n;
	} while (off < body);
}

void sg_hs_tx_ccs(struct hs_tx *t)
{
	static const uint8_t ccs = SG_TLS_CCS_VALUE;

	tx_plain(t, SG_DTLS_CT_CHANGE_CIPHER_SPEC, &ccs, 1, NULL, 0);
}

struct hs_tx sg_hs_tx_for_slot(struct sg_hs_engine *e, struct hs_slot *s)
{
	struct hs_tx t = {
		.e = e,
		.peer = &s->peer,
		.s = s,
		.ep0_seq = &s->ep0_seq,
		.version = SG_DTLS_VERSION_1_2,
		.max_frag = s->mfl ? (1u << (8 + s->mfl)) : SG_DTLS_MAX_PLAINTEXT,
	};

	e->tx_len = 0;
	return t;
}

void sg_hs_alert_stateless(struct sg_hs_engine *e, const struct sg_hs_peer *peer, size_t answers,
                           uint64_t seq, uint16_t version, uint8_t desc)
{
	uint8_t a[2] = { SG_TLS_ALERT_FATAL, desc };
	struct hs_tx t = {
		.e = e, .peer = peer, .ep0_seq = &seq, .version = version, .answers = answers
	};

	e->tx_len = 0;
	tx_plain(&t, SG_DTLS_CT_ALERT, a, 2, NULL, 0);
	sg_hs_tx_flush(&t);
}

void sg_hs_fail(struct sg_hs_engine *e, struct hs_slot *s, enum sg_hs_counter why, uint8_t desc)
{
	uint8_t a[2] = { SG_TLS_ALERT_FATAL, desc };
	struct hs_tx t = sg_hs_tx_for_slot(e, s);

	hs_count(e, why);
	if (s->state == HS_WAIT_RESUMED)
		tx_sealed(&t, SG_DTLS_CT_ALERT, a, 2, NULL, 0);
	else
		tx_plain(&t, SG_DTLS_CT_ALERT, a, 2, NULL, 0);
	sg_hs_tx_flush(&t);
	sg_hs_slot_free(e, s);
}
