/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The fleet client's key exchange and final flight: ClientKeyExchange, the
 * premaster and master secrets, the key block into the device's SA (also for
 * a resumed session's master), the Finished verify_data, and the flight
 * that carries them. Calls our messages (fc_msg_out.c), records out
 * (fc_record_out.c) and the key schedule (fleet_keys.c). Owner thread of the
 * device; secrets wiped before return.
 */
#include <errno.h>
#include <string.h>

#include <openssl/crypto.h>

#include <stormgate/bytes.h>

#include "fc_priv.h"
#include "fleet_keys.h"

/*
 * ClientKeyExchange (RFC 4279 §2: psk_identity; RFC 5489 §2: then our
 * ECDHE share) and the premaster secret, into pms; returns its length or -errno.
 */
static int build_key_exchange(struct sg_fc_hs *hs, uint8_t *pms)
{
	const struct sg_fc_conf *c = hs->conf;
	size_t id_len = strlen(c->identity), n, pub_len = 0, z_len = 0;
	uint8_t *b = sg_fc_msg_body(hs), pub[SG_FC_ECDHE_PUB], z[32];
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
	if (sg_fc_msg_end(hs, SG_TLS_HT_CLIENT_KEY_EXCHANGE, n))
		return -EMSGSIZE;
	return rc;
}

/*
 * The key block (RFC 5246 §6.3) from hs->master into the SA. AEAD suites
 * have no MAC keys: client key, server key, client IV, server IV; we
 * transmit with the client's keys and receive with the server's. With CIDs
 * (RFC 9146) the records to us carry ours and ours carry the server's, each
 * only when not empty.
 */
int sg_fc_install_keys(struct sg_fc_dev *dev, struct sg_fc_hs *hs)
{
	const struct sg_suite *s = hs->suite;
	enum sg_aead aead = (enum sg_aead)s->aead;
	unsigned kl = sg_aead_key_len(aead), il = sg_aead_iv_len(aead);
	uint8_t kb[2 * 32 + 2 * SG_DTLS_AEAD_NONCE_LEN];
	struct sg_rec_sa_params p = { .aead = aead, .epoch = 1 };
	int rc;

	if (dev->cid)
		p.flags = (uint8_t)((hs->conf->cid_len ? SG_SA_F_RX_CID : 0) |
		                    (dev->peer_cid_len ? SG_SA_F_TX_CID : 0));
	rc = sg_fc_prf(s, hs->master, sizeof(hs->master), SG_TLS_LABEL_KEY_EXPANSION,
	               hs->server_random, SG_TLS_RANDOM_LEN, hs->client_random, SG_TLS_RANDOM_LEN,
	               kb, 2 * kl + 2 * il);
	if (rc == 0) {
		p.tx_key = kb;
		p.rx_key = kb + kl;
		p.tx_iv = kb + 2 * kl;
		p.rx_iv = kb + 2 * kl + il;
		rc = sg_rec_sa_init(dev->sa, sg_rec_ctx_window_bits(hs->conf->rec), &p);
	}
	OPENSSL_cleanse(kb, sizeof(kb));
	return rc;
}

/*
 * The master secret (RFC 7627 §4 when the server echoed the extension: the
 * PRF over the session hash of every message up to ClientKeyExchange; else
 * RFC 5246 §8.1 over the randoms), then the keys.
 */
static int derive_keys(struct sg_fc_dev *dev, struct sg_fc_hs *hs, const uint8_t *pms,
                       size_t pms_len)
{
	const struct sg_suite *s = hs->suite;
	uint8_t h[FC_HASH_MAX];
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
	OPENSSL_cleanse(h, sizeof(h));
	return rc ? rc : sg_fc_install_keys(dev, hs);
}

/* verify_data = PRF(master, label, Hash(transcript))[0..11] (RFC 5246 §7.4.9). */
int sg_fc_finished_mac(struct sg_fc_hs *hs, const char *label, uint8_t *out)
{
	uint8_t h[FC_HASH_MAX];
	int rc = sg_fc_hash(hs->suite, hs->transcript, hs->transcript_len, h);

	if (rc == 0)
		rc = sg_fc_prf(hs->suite, hs->master, sizeof(hs->master), label, h,
		               sg_fc_hash_len(hs->suite), NULL, 0, out, SG_TLS_VERIFY_DATA_LEN);
	return rc;
}

/* After ServerHelloDone: ClientKeyExchange, the keys, ChangeCipherSpec and Finished. */
int sg_fc_final_flight(struct sg_fc_dev *dev, struct sg_fc_hs *hs, uint8_t *out, size_t cap,
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
	hs->flight_ccs = 1;
	rc = sg_fc_finished_mac(hs, SG_TLS_LABEL_CLIENT_FINISHED, sg_fc_msg_body(hs));
	if (rc == 0)
		rc = sg_fc_msg_end(hs, SG_TLS_HT_FINISHED, SG_TLS_VERIFY_DATA_LEN);
	if (rc == 0) {
		dev->state = SG_FC_WAIT_FINISHED;
		rc = sg_fc_emit_flight(dev, hs, out, cap, out_len);
	}
	return rc;
}
