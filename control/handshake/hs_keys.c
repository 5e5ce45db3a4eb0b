/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The key schedule: premaster secret (RFC 4279 §2, RFC 5489 §2), master
 * secret (RFC 5246 §8.1, RFC 7627 §4), key block (RFC 5246 §6.3), Finished
 * verify_data (RFC 5246 §7.4.9). See hs_keys.h. Computation only, over the
 * slot and the crypto leaf; calls no other part of the engine (hs_priv.h
 * lists the stack). The engine's thread only. Touches the slot it is given
 * and the engine's cached master-secret key.
 */
#include <errno.h>
#include <string.h>

#include <stormgate/bytes.h>

#include "hs_keys.h"
#include "hs_priv.h"
#include "hs_slots.h"

/* The slot's master secret as a prepared HMAC key (cached for the slot). */
static const struct sg_hs_hmac_key *master_key(struct sg_hs_engine *e, struct hs_slot *s)
{
	uint32_t idx = hs_slot_idx(e, s);

	if (e->mkey_slot != idx) {
		if (sg_hs_hmac_key_set(&e->crypto, hs_suite_hash(hs_slot_suite(s)), s->master,
		                       sizeof(s->master), &e->mkey) < 0)
			return NULL;
		e->mkey_slot = idx;
	}
	return &e->mkey;
}

size_t sg_hs_premaster(uint8_t pms[HS_PMS_MAX], const uint8_t *ecdh, const struct sg_hs_cred *cred)
{
	size_t other_len = ecdh ? SG_HS_ECDH_SECRET_LEN : cred->psk_len, n = 0;

	sg_store_be16(pms + n, (uint16_t)other_len);
	n += 2;
	if (ecdh)
		memcpy(pms + n, ecdh, other_len);
	else
		memset(pms + n, 0, other_len);
	n += other_len;
	sg_store_be16(pms + n, cred->psk_len);
	n += 2;
	memcpy(pms + n, cred->psk, cred->psk_len);
	return n + cred->psk_len;
}

int sg_hs_master_secret(struct sg_hs_engine *e, struct hs_slot *s, const uint8_t *pms, size_t n)
{
	enum sg_hs_hash h = hs_suite_hash(hs_slot_suite(s));
	uint8_t hash[SG_HS_HASH_MAX_LEN];

	if (s->flags & SF_EMS) {
		sg_hs_transcript_peek(&s->transcript, hash);
		return sg_hs_prf(&e->crypto, h, NULL, pms, n, SG_TLS_LABEL_EXTENDED_MASTER_SECRET,
		                 hash, sg_hs_hash_len(h), NULL, 0, s->master, sizeof(s->master));
	}
	return sg_hs_prf(&e->crypto, h, NULL, pms, n, SG_TLS_LABEL_MASTER_SECRET, s->client_random,
	                 SG_TLS_RANDOM_LEN, s->server_random, SG_TLS_RANDOM_LEN, s->master,
	                 sizeof(s->master));
}

/*
 * Key block (RFC 5246 §6.3) → the slot's epoch-1 SA. AEAD suites have no
 * MAC keys: client_write_key, server_write_key, client_write_IV,
 * server_write_IV (4-byte salts for GCM/CCM, 12 bytes for ChaCha20-Poly1305,
 * RFC 7905 §2).
 */
int sg_hs_derive_keys(struct sg_hs_engine *e, struct hs_slot *s)
{
	const struct sg_suite *su = hs_slot_suite(s);
	enum sg_aead aead = (enum sg_aead)su->aead;
	unsigned kl = sg_aead_key_len(aead), il = sg_aead_iv_len(aead);
	uint8_t kb[2 * 32 + 2 * 12];
	struct sg_rec_sa_params p;
	int rc;

	const struct sg_hs_hmac_key *mk = master_key(e, s);

	if (mk == NULL)
		return -EIO;
	rc = sg_hs_prf(&e->crypto, hs_suite_hash(su), mk, NULL, 0, SG_TLS_LABEL_KEY_EXPANSION,
	               s->server_random, SG_TLS_RANDOM_LEN, s->client_random, SG_TLS_RANDOM_LEN, kb,
	               2 * kl + 2 * il);
	if (rc < 0)
		goto out;
	p = (struct sg_rec_sa_params){
		.aead = aead,
		.epoch = 1,
		.flags = (uint8_t)(((s->flags & SF_CID) && s->cid_len ? SG_SA_F_RX_CID : 0) |
		                   ((s->flags & SF_CID) && s->peer_cid_len ? SG_SA_F_TX_CID : 0)),
		.rx_key = kb,
		.tx_key = kb + kl,
		.rx_iv = kb + 2 * kl,
		.tx_iv = kb + 2 * kl + il,
		.tx_seq = 0,
		.rx_seq = 0,
	};
	rc = sg_rec_sa_init(&s->sa, HS_SA_WINDOW, &p);
out:
	sg_wipe(kb, sizeof(kb));
	return rc;
}

int sg_hs_finished_of(struct sg_hs_engine *e, struct hs_slot *s, const char *label,
                      uint8_t out[SG_TLS_VERIFY_DATA_LEN])
{
	enum sg_hs_hash h = hs_suite_hash(hs_slot_suite(s));
	const struct sg_hs_hmac_key *mk = master_key(e, s);
	uint8_t hash[SG_HS_HASH_MAX_LEN];
	int rc = mk ? 0 : -EIO;

	sg_hs_transcript_peek(&s->transcript, hash);
	if (rc == 0)
		rc = sg_hs_prf(&e->crypto, h, mk, NULL, 0, label, hash, sg_hs_hash_len(h), NULL, 0,
		               out, SG_TLS_VERIFY_DATA_LEN);
	return rc;
}
