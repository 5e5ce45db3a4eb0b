/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The one way Stormgate fills an AES-128 cipher-only job (no hash) on an
 * Intel IPsec-MB manager: ECB for the session table's CID blocks, CBC (the
 * CBC-MAC) and counter mode for the record layer's composed CCM, ECB again
 * as the benchmarks' raw baseline. The caller submits the job and checks its
 * status.
 *
 * Inline, no state: whichever thread owns mgr may call it.
 */
#ifndef STORMGATE_IMB_JOB_H
#define STORMGATE_IMB_JOB_H

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

#ifdef __cplusplus
}
#endif

#endif /* STORMGATE_IMB_JOB_H */
