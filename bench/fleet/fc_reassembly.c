/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The fleet client's fragments and records in: a server datagram's records
 * by epoch and type, handshake fragments reassembled into whole messages
 * (RFC 6347 §4.2.3), alerts, the epoch-1 Finished opened by the record layer.
 * Calls the server's messages (fc_msg_in.c). Owner thread of the device.
 */
#include <errno.h>
#include <string.h>

#include <openssl/crypto.h>

#include <stormgate/bytes.h>

#include "fc_priv.h"

#define FC_EPOCH1_MAX 256 /* largest epoch-1 record opened during the handshake */

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
	if (f->seq > hs->rx_msg_seq)
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
	return sg_fc_on_message(dev, hs, out, cap, out_len);
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
		/* the message we wait for, too long to reassemble: it would never complete */
		if (f.seq == hs->rx_msg_seq && f.len > SG_FC_MSG_MAX)
			return -EMSGSIZE;
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

/*
 * One record of a server datagram (RFC 6347 §4.1): by epoch and content
 * type; epoch 1 (tls12_cid with our CID when we have one) once our keys are
 * in the SA.
 */
int sg_fc_on_record(struct sg_fc_dev *dev, struct sg_fc_hs *hs, const uint8_t *in,
                    const struct sg_rec_hdr *r, uint8_t *out, size_t cap, size_t *out_len,
                    int *resend)
{
	const uint8_t *frag = in + r->off + r->hdr_len;
	const struct sg_fc_conf *c = hs->conf;

	if (r->status != SG_REC_OK ||
	    (r->version != SG_DTLS_VERSION_1_2 && r->version != SG_DTLS_VERSION_1_0))
		return 0;
	if (r->epoch == 1 && dev->state == SG_FC_WAIT_FINISHED) {
		/* RFC 9146 §4: a tls12_cid record must carry our CID (the SA wants the type) */
		if (r->type == SG_DTLS_CT_TLS12_CID &&
		    (!c->use_cid || c->cid_len == 0 ||
		     memcmp(in + r->off + SG_DTLS_HDR_OFF_CID, c->cid, c->cid_len) != 0))
			return 0;
		return on_epoch1(dev, hs, in + r->off, r->len, out, cap, out_len, resend);
	}
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
