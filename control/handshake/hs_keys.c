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

#include "hs_batch.h"
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

_Static_assert(HS_KEY_BLOCK_MAX >= 2 * 32 + 2 * SG_DTLS_AEAD_NONCE_LEN,
               "the key block holds ChaCha20-Poly1305's too");

/* The key block's length (RFC 5246 §6.3): MAC keys (CBC only), write keys, write IVs
 * (AEAD only). */
static unsigned key_block_len(const struct sg_suite *su)
{
	enum sg_aead aead = (enum sg_aead)su->aead;

	return 2 * sg_aead_mac_key_len(aead) + 2 * sg_aead_key_len(aead) + 2 * sg_aead_iv_len(aead);
}

/*
 * Key block (RFC 5246 §6.3) → the slot's epoch-1 SA: client_write_MAC_key,
 * server_write_MAC_key, client_write_key, server_write_key,
 * client_write_IV, server_write_IV. AEAD suites have no MAC keys; their IVs
 * are 4-byte salts for GCM/CCM, 12 bytes for ChaCha20-Poly1305 (RFC 7905
 * §2). CBC-SHA256 has MAC keys and no IVs (TLS 1.1+: an explicit IV per
 * record); its MAC keys go to the SA's MAC line, which follows the slot's SA.
 * CBC never has CIDs (the hello declined them, hs_hello.c), and EtM only
 * with CBC (RFC 7366 §3).
 */
static int sa_from_key_block(struct hs_slot *s, const uint8_t *kb)
{
	const struct sg_suite *su = hs_slot_suite(s);
	enum sg_aead aead = (enum sg_aead)su->aead;
	unsigned ml = sg_aead_mac_key_len(aead), kl = sg_aead_key_len(aead),
	         il = sg_aead_iv_len(aead);
	const uint8_t *keys = kb + 2 * ml;
	struct sg_rec_sa_params p = {
		.aead = aead,
		.epoch = 1,
		.flags = (uint8_t)(((s->flags & SF_CID) && s->cid_len ? SG_SA_F_RX_CID : 0) |
		                   ((s->flags & SF_CID) && s->peer_cid_len ? SG_SA_F_TX_CID : 0) |
		                   ((s->flags & SF_ETM) ? SG_SA_F_ETM : 0)),
		.rx_key = keys,
		.tx_key = keys + kl,
		.rx_iv = il ? keys + 2 * kl : NULL,
		.tx_iv = il ? keys + 2 * kl + il : NULL,
		.rx_mac = ml ? kb : NULL,
		.tx_mac = ml ? kb + ml : NULL,
		.tx_seq = 0,
		.rx_seq = 0,
	};

	return sg_rec_sa_init(&s->sa, HS_SA_WINDOW, &p);
}

int sg_hs_derive_keys(struct sg_hs_engine *e, struct hs_slot *s)
{
	const struct sg_suite *su = hs_slot_suite(s);
	const struct sg_hs_hmac_key *mk = master_key(e, s);
	uint8_t kb[HS_KEY_BLOCK_MAX];
	int rc;

	if (mk == NULL)
		return -EIO;
	rc = sg_hs_prf(&e->crypto, hs_suite_hash(su), mk, NULL, 0, SG_TLS_LABEL_KEY_EXPANSION,
	               s->server_random, SG_TLS_RANDOM_LEN, s->client_random, SG_TLS_RANDOM_LEN, kb,
	               key_block_len(su));
	if (rc == 0)
		rc = sa_from_key_block(s, kb);
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

/* ---- the key schedule of a full handshake at its key exchange, batched ------------ */

void sg_hs_derive_prepare(const struct hs_slot *s, const struct sg_hs_transcript *t,
                          const uint8_t *pms, size_t n, uint16_t fin_seq, struct hs_derive *d)
{
	const struct sg_suite *su = hs_slot_suite(s);

	d->t = *t;
	memcpy(d->pms, pms, n);
	d->pms_len = (uint16_t)n;
	d->fin_seq = fin_seq;
	d->hash = (uint8_t)hs_suite_hash(su);
	d->ems = !!(s->flags & SF_EMS);
	d->kb_len = (uint8_t)key_block_len(su);
	/* A NewSessionTicket (even an empty one) goes into the transcript before our Finished. */
	d->server_fin = !(s->flags & SF_TICKET);
	memcpy(d->client_random, s->client_random, SG_TLS_RANDOM_LEN);
	memcpy(d->server_random, s->server_random, SG_TLS_RANDOM_LEN);
	d->rc = 0;
}

/* Stage 1: master_secret (RFC 7627 §4 with EMS, else RFC 5246 §8.1). */
static int queue_master(struct sg_hs_engine *e, struct hs_derive *d)
{
	enum sg_hs_hash h = (enum sg_hs_hash)d->hash;
	int rc = sg_hs_hmac_key_set(&e->crypto, h, d->pms, d->pms_len, &d->key);

	sg_wipe(d->pms, sizeof(d->pms));
	/* Hash(ClientHello .. ClientKeyExchange): EMS's session_hash and the client's Finished. */
	sg_hs_transcript_peek(&d->t, d->session_hash);
	if (rc < 0)
		return rc;
	if (d->ems)
		return sg_hs_batch_prf(e->batch, &d->key, SG_TLS_LABEL_EXTENDED_MASTER_SECRET,
		                       d->session_hash, sg_hs_hash_len(h), NULL, 0, d->master,
		                       sizeof(d->master));
	return sg_hs_batch_prf(e->batch, &d->key, SG_TLS_LABEL_MASTER_SECRET, d->client_random,
	                       SG_TLS_RANDOM_LEN, d->server_random, SG_TLS_RANDOM_LEN, d->master,
	                       sizeof(d->master));
}

/*
 * Our verify_data over the transcript with the client's Finished as it must
 * be (RFC 5246 §7.4.9: our Finished covers theirs), queued as soon as the
 * client's verify_data is out, in the same run. A client whose Finished
 * differs fails before ours is used.
 */
static void queue_server_fin(struct sg_hs_batch *b, void *arg)
{
	struct hs_derive *d = arg;
	enum sg_hs_hash h = (enum sg_hs_hash)d->hash;
	uint8_t hash[SG_HS_HASH_MAX_LEN];

	sg_hs_transcript_add_msg(&d->t, SG_TLS_HT_FINISHED, d->fin_seq, d->client_verify,
	                         sizeof(d->client_verify));
	sg_hs_transcript_peek(&d->t, hash);
	if (d->rc == 0)
		d->rc = sg_hs_batch_prf(b, &d->key, SG_TLS_LABEL_SERVER_FINISHED, hash,
		                        sg_hs_hash_len(h), NULL, 0, d->server_verify,
		                        sizeof(d->server_verify));
	sg_wipe(hash, sizeof(hash));
}

/*
 * Stage 2: the key block (RFC 5246 §6.3) and the client's verify_data
 * (§7.4.9), then ours (above) in the rounds the key block still needs.
 */
static int queue_keys(struct sg_hs_engine *e, struct hs_derive *d)
{
	enum sg_hs_hash h = (enum sg_hs_hash)d->hash;
	int rc = sg_hs_hmac_key_set(&e->crypto, h, d->master, sizeof(d->master), &d->key);

	if (rc == 0)
		rc = sg_hs_batch_prf(e->batch, &d->key, SG_TLS_LABEL_KEY_EXPANSION,
		                     d->server_random, SG_TLS_RANDOM_LEN, d->client_random,
		                     SG_TLS_RANDOM_LEN, d->kb, d->kb_len);
	if (rc == 0)
		rc = sg_hs_batch_prf_then(e->batch, &d->key, SG_TLS_LABEL_CLIENT_FINISHED,
		                          d->session_hash, sg_hs_hash_len(h), NULL, 0,
		                          d->client_verify, sizeof(d->client_verify),
		                          d->server_fin ? queue_server_fin : NULL, d);
	return rc;
}

/* One stage over every d still good: queue, run the batch. */
static void derive_stage(struct sg_hs_engine *e, struct hs_derive *const *d, unsigned n,
                         int (*queue)(struct sg_hs_engine *, struct hs_derive *))
{
	int rc;

	for (unsigned i = 0; i < n; i++)
		if (d[i]->rc == 0)
			d[i]->rc = queue(e, d[i]);
	if (sg_hs_batch_count(e->batch) == 0)
		return;
	rc = sg_hs_batch_run(e->batch);
	for (unsigned i = 0; rc < 0 && i < n; i++)
		d[i]->rc = rc;
}

void sg_hs_derive_run(struct sg_hs_engine *e, struct hs_derive *const *d, unsigned n)
{
	derive_stage(e, d, n, queue_master);
	derive_stage(e, d, n, queue_keys);
}

int sg_hs_derive_apply(struct sg_hs_engine *e, struct hs_slot *s, const struct hs_derive *d)
{
	int rc = d->rc;

	if (rc == 0)
		rc = sa_from_key_block(s, d->kb);
	if (rc < 0)
		return rc;
	memcpy(s->master, d->master, sizeof(s->master));
	if (d->server_fin) {
		memcpy(s->server_verify, d->server_verify, sizeof(s->server_verify));
		s->flags |= SF_SERVER_FIN;
	}
	/* The master secret's key, prepared already: a ticket's Finished may use it. */
	e->mkey = d->key;
	e->mkey_slot = hs_slot_idx(e, s);
	return 0;
}
