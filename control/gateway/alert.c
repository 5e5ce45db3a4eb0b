/* SPDX-License-Identifier: Apache-2.0 */
/* A closing alert sealed under a session's keys (RFC 5246 §7.2, RFC 6347 §4.1). */
#include <errno.h>
#include <string.h>

#include <stormgate/dtls.h>

#include "sg_alert.h"

int sg_alert_seal(struct sg_rec_ctx *ctx, struct sg_rec_sa *sa, const uint8_t *peer_cid,
                  uint8_t peer_cid_len, uint8_t level, uint8_t description, uint8_t *buf,
                  size_t cap, uint32_t *off, uint32_t *len)
{
	struct sg_rec_seal_op op;
	int tx_cid;
	unsigned head;

	if (ctx == NULL || sa == NULL || buf == NULL || cap < SG_ALERT_BUF_LEN ||
	    sa->aead >= SG_AEAD_MAX || (peer_cid_len > 0 && peer_cid == NULL))
		return -EINVAL;
	tx_cid = (sa->flags & SG_SA_F_TX_CID) != 0;
	head = sg_rec_seal_headroom((enum sg_aead)sa->aead, tx_cid, peer_cid_len);
	memset(&op, 0, sizeof(op));
	op.buf = buf;
	op.buf_len = (uint32_t)cap;
	op.pt_off = head;
	op.pt_len = 2;
	buf[head] = level;
	buf[head + 1] = description;
	op.sa = sa;
	op.cid = tx_cid ? peer_cid : NULL;
	op.cid_len = tx_cid ? peer_cid_len : 0;
	op.type = SG_DTLS_CT_ALERT;
	sg_rec_seal_burst(ctx, &op, 1);
	/* The one slot this seal used: the sweep may end many sessions in a row. */
	sg_rec_ctx_wipe_used(ctx);
	if (op.status != SG_REC_OK)
		return -EIO;
	*off = op.rec_off;
	*len = op.rec_len;
	return 0;
}
