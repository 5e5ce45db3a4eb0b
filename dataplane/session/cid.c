/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The connection IDs we issue (RFC 9146 §3: the receiver of records chooses
 * the CID they carry). A CID of L bytes (8..16) is
 *
 *     nonce (n = min(L-4, 8) bytes, random, never 0)
 *     sealed slot word (4 bytes) = (node_id << slot_bits | slot) XOR K[0..3]
 *     keyed check (L-4-n bytes, only when L > 12) = K[4..]
 *
 * where K = AES-128_k(nonce || 0.. || L) under the table's secret CID key.
 * This is AES in counter-like use with a random nonce (the nonce is the
 * counter block), not a cipher of our own. The slot's hot line stores the
 * nonce as its check value: a CID names a live session only if its nonce
 * equals the check of the slot it decodes to. Why this design (and not
 * slot + check in clear, or a 16-byte single AES block): docs/session-table.md.
 */
#include <errno.h>

#include <stormgate/imb_job.h>

#include "session_priv.h"

int sg_sess_ecb(IMB_MGR *mgr, const uint8_t *ek, uint8_t *buf, unsigned n)
{
	/* ECB is position independent: one job covers the whole burst. */
	sg_imb_aes128_job(mgr, IMB_CIPHER_ECB, ek, buf, buf, (uint64_t)n * 16, NULL, 0);
	return sg_imb_job_done(mgr, IMB_SUBMIT_JOB(mgr));
}

int sg_sess_cid_make(struct sg_sess_table *t, uint32_t slot, uint64_t nonce, uint8_t *cid)
{
	uint64_t word = (uint64_t)t->node_id << t->slot_bits | slot;
	uint8_t ks[16];
	int rc;

	for (unsigned i = 0; i < t->nonce_len; i++)
		cid[i] = (uint8_t)(nonce >> (8 * i));
	sess_cid_block(t, cid, ks);
	rc = sg_sess_ecb(t->mgr, t->cid_ek, ks, 1);
	if (rc == 0) {
		sess_put_le32(cid + t->nonce_len, (uint32_t)word ^ sess_le32(ks));
		memcpy(cid + t->nonce_len + 4, ks + 4, t->tag_len);
	}
	sg_wipe(ks, sizeof(ks));
	return rc;
}

int sg_sess_cid_decode(struct sg_sess_table *t, const uint8_t *cid, uint32_t *slot, uint64_t *nonce)
{
	uint8_t ks[16];
	int rc;

	sess_cid_block(t, cid, ks);
	rc = sg_sess_ecb(t->mgr, t->cid_ek, ks, 1);
	if (rc == 0)
		rc = (int)sess_cid_open(t, cid, ks, slot);
	*nonce = sess_nonce(cid, t->nonce_len);
	sg_wipe(ks, sizeof(ks));
	return rc;
}
