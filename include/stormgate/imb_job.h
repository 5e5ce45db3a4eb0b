/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The one way Stormgate fills an Intel IPsec-MB job of each kind it runs
 * outside the record layer's bursts, and waits for a job submitted alone:
 *
 *  - AES-128 cipher only (no hash): ECB for the session table's CID blocks,
 *    CBC (the CBC-MAC) and counter mode for the record layer's composed
 *    CCM, ECB again as the benchmarks' raw baseline;
 *  - HMAC from a key's prepared ipad/opad states: the handshake's TLS 1.2
 *    PRF, a chain of dependent HMACs, one job at a time.
 *
 * The caller submits the job (checked or unchecked, its choice); when it is
 * the only one in flight, sg_imb_job_done() finishes it.
 *
 * Inline, no state: whichever thread owns mgr may call it.
 */
#ifndef STORMGATE_IMB_JOB_H
#define STORMGATE_IMB_JOB_H

#include <errno.h>
#include <stdint.h>

#include <intel-ipsec-mb.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * mgr's next job, filled to encrypt len bytes of src into dst (in place when
 * they are the same) under the expanded AES-128 key schedule keys, in cipher
 * mode (IMB_CIPHER_ECB, IMB_CIPHER_CBC, IMB_CIPHER_CNTR), with the IV iv of
 * iv_len bytes (NULL and 0 for ECB; CTR: the whole 16-byte counter block).
 */
static inline IMB_JOB *sg_imb_aes128_job(IMB_MGR *mgr, IMB_CIPHER_MODE mode, const void *keys,
                                         const uint8_t *src, uint8_t *dst, uint64_t len,
                                         const uint8_t *iv, uint64_t iv_len)
{
	IMB_JOB *job = IMB_GET_NEXT_JOB(mgr);

	job->cipher_mode = mode;
	job->cipher_direction = IMB_DIR_ENCRYPT;
	job->chain_order = IMB_ORDER_CIPHER_HASH;
	job->hash_alg = IMB_AUTH_NULL;
	job->enc_keys = keys;
	job->dec_keys = keys;
	job->key_len_in_bytes = IMB_KEY_128_BYTES;
	job->src = src;
	job->dst = dst;
	job->cipher_start_src_offset_in_bytes = 0;
	job->msg_len_to_cipher_in_bytes = len;
	job->iv = iv;
	job->iv_len_in_bytes = iv_len;
	job->user_data = NULL;
	return job;
}

/*
 * mgr's next job, filled to compute the HMAC alg (IMB_AUTH_HMAC_SHA_256,
 * IMB_AUTH_HMAC_SHA_384, ...) of len bytes of msg (len > 0: IPsec-MB refuses
 * an empty message) with the key's hash states after key ^ ipad and key ^
 * opad (RFC 2104 §2, as IPsec-MB wants them); the first tag_len bytes of
 * the tag go to tag.
 */
static inline IMB_JOB *sg_imb_hmac_job(IMB_MGR *mgr, IMB_HASH_ALG alg, const uint8_t *ipad,
                                       const uint8_t *opad, const uint8_t *msg, uint64_t len,
                                       uint8_t *tag, uint64_t tag_len)
{
	IMB_JOB *job = IMB_GET_NEXT_JOB(mgr);

	job->chain_order = IMB_ORDER_HASH_CIPHER;
	job->cipher_mode = IMB_CIPHER_NULL;
	job->cipher_direction = IMB_DIR_ENCRYPT;
	job->hash_alg = alg;
	job->src = msg;
	job->hash_start_src_offset_in_bytes = 0;
	job->msg_len_to_hash_in_bytes = len;
	job->auth_tag_output = tag;
	job->auth_tag_output_len_in_bytes = tag_len;
	job->u.HMAC._hashed_auth_key_xor_ipad = ipad;
	job->u.HMAC._hashed_auth_key_xor_opad = opad;
	job->user_data = NULL;
	return job;
}

/*
 * Finish the one job in flight on mgr, just submitted (submitted: what the
 * submit returned): flushed if the submit did not hand it back, which the
 * multi-buffer managers may not before more jobs come. 0 when it
 * completed, -EIO otherwise.
 */
static inline int sg_imb_job_done(IMB_MGR *mgr, IMB_JOB *submitted)
{
	IMB_JOB *job = submitted != NULL ? submitted : IMB_FLUSH_JOB(mgr);

	return job != NULL && job->status == IMB_STATUS_COMPLETED ? 0 : -EIO;
}

#ifdef __cplusplus
}
#endif

#endif /* STORMGATE_IMB_JOB_H */
