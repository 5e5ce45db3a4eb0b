/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The fleet client's records out: our last flight as one datagram, epoch-0
 * records in plaintext and the Finished sealed under epoch 1 by the record
 * layer. Calls nothing of the other fc_ files. Owner thread of the device;
 * touches the hs, the device's SA (sealing) and the caller's output buffer.
 */
#include <errno.h>
#include <string.h>

#include <stormgate/bytes.h>

#include "fc_priv.h"

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

/*
 * One epoch-1 handshake record sealed with the device's SA by the record
 * layer: a tls12_cid record with the server's CID when it gave one (RFC 9146
 * §3: CIDs are used once encryption is on, so from our Finished).
 */
static int put_sealed(struct sg_fc_dev *dev, struct sg_fc_hs *hs, const uint8_t *p, size_t len,
                      uint8_t *out, size_t cap, size_t *pos)
{
	enum sg_aead aead = (enum sg_aead)hs->suite->aead;
	int tx_cid = (dev->sa->flags & SG_SA_F_TX_CID) != 0;
	unsigned head = sg_rec_seal_headroom(aead, tx_cid, dev->peer_cid_len);
	unsigned tail = sg_rec_seal_tailroom(aead, tx_cid, 0);
	struct sg_rec_seal_op op = { .cid = dev->peer_cid, .cid_len = dev->peer_cid_len };

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
 * own, then (final flight, full or abbreviated) ChangeCipherSpec (RFC 5246
 * §7.1) and the Finished under epoch 1. Every record gets a fresh sequence
 * number, so a retransmission is new records carrying the same messages
 * (RFC 6347 §4.2.4).
 */
int sg_fc_emit_flight(struct sg_fc_dev *dev, struct sg_fc_hs *hs, uint8_t *out, size_t cap,
                      size_t *out_len)
{
	static const uint8_t ccs = SG_TLS_CCS_VALUE;
	size_t end0 = hs->flight_ccs ? hs->flight_epoch1 : hs->flight_len, off = 0, pos = 0;
	int rc;

	while (off < end0) {
		size_t n = SG_DTLS_HS_HDR_LEN + sg_load_be24(hs->flight + off + 1);

		rc = put_plain(hs, SG_DTLS_CT_HANDSHAKE, hs->flight + off, n, out, cap, &pos);
		if (rc)
			return rc;
		off += n;
	}
	if (hs->flight_ccs) {
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
