/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Session tickets sealed with AES-256-GCM under rotating keys (RFC 5077 §4).
 * See hs_ticket.h for the format.
 */
#include <errno.h>
#include <string.h>

#include <openssl/evp.h>

#include <stormgate/bytes.h>
#include <stormgate/common.h>
#include <stormgate/handshake.h>

#include "hs_ticket.h"

#define EXPORT_MAGIC   "SGTK"
#define EXPORT_VERSION 1
#define EXPORT_KEY_LEN (1 + 8 + SG_HS_TICKET_NAME_LEN + 32)
#define EXPORT_LEN     (4 + 1 + 2 * EXPORT_KEY_LEN)

_Static_assert(EXPORT_LEN <= 128, "fits SG_HS_TICKET_KEYS_LEN");

static int prepare(struct sg_hs_crypto *c, struct sg_hs_ticket_key *tk)
{
	return sg_hs_hmac_key_set(c, SG_HS_SHA256, tk->key, sizeof(tk->key), &tk->mac);
}

static int new_key(struct sg_hs_crypto *c, struct sg_hs_ticket_key *tk, uint64_t now_unix)
{
	int rc = sg_hs_random(tk->key, sizeof(tk->key));

	if (rc == 0)
		rc = sg_hs_random(tk->name, sizeof(tk->name));
	if (rc == 0)
		rc = prepare(c, tk);
	if (rc < 0) {
		sg_wipe(tk, sizeof(*tk));
		return rc;
	}
	tk->created = now_unix;
	tk->live = 1;
	return 0;
}

int sg_hs_ticket_keys_init(struct sg_hs_crypto *c, struct sg_hs_ticket_keys *k, uint64_t now_unix)
{
	memset(k, 0, sizeof(*k));
	return new_key(c, &k->k[0], now_unix);
}

int sg_hs_ticket_rotate(struct sg_hs_crypto *c, struct sg_hs_ticket_keys *k, uint64_t now_unix,
                        uint64_t period_s)
{
	struct sg_hs_ticket_key fresh;
	int rc;

	if (k->k[0].live && now_unix - k->k[0].created < period_s)
		return 0;
	rc = new_key(c, &fresh, now_unix);
	if (rc < 0)
		return rc;
	k->k[1] = k->k[0];
	k->k[0] = fresh;
	sg_wipe(&fresh, sizeof(fresh));
	return 1;
}

int sg_hs_ticket_psk_digest(struct sg_hs_crypto *c, const uint8_t *psk, size_t psk_len,
                            uint8_t out[SG_HS_TICKET_PSK_DIGEST_LEN])
{
	static const char label[] = "stormgate ticket psk v1";
	struct sg_hs_hmac_key k;
	uint8_t mac[SG_HS_HASH_MAX_LEN];
	int rc;

	if (psk_len == 0)
		return -EINVAL;
	rc = sg_hs_hmac_key_set(c, SG_HS_SHA256, psk, psk_len, &k);
	if (rc == 0)
		rc = sg_hs_hmac(c, &k, (const uint8_t *)label, sizeof(label) - 1, mac);
	if (rc == 0)
		memcpy(out, mac, SG_HS_TICKET_PSK_DIGEST_LEN);
	sg_wipe(&k, sizeof(k));
	sg_wipe(mac, sizeof(mac));
	return rc;
}

void sg_hs_ticket_sni_hash(const uint8_t *sni, size_t len, uint8_t out[SG_HS_TICKET_SNI_HASH_LEN])
{
	uint8_t h[32];
	unsigned n;

	memset(out, 0, SG_HS_TICKET_SNI_HASH_LEN);
	if (len == 0)
		return;
	if (EVP_Digest(sni, len, h, &n, EVP_sha256(), NULL) == 1)
		memcpy(out, h, SG_HS_TICKET_SNI_HASH_LEN);
}

/* state <-> bytes */
static size_t encode_state(const struct sg_hs_ticket_state *st, uint8_t *p)
{
	size_t n = 0;

	p[n++] = SG_HS_TICKET_STATE_VERSION;
	sg_store_be16(p + n, st->suite);
	n += 2;
	p[n++] = st->ems;
	memcpy(p + n, st->master, SG_TLS_MASTER_SECRET_LEN);
	n += SG_TLS_MASTER_SECRET_LEN;
	sg_store_be64(p + n, st->issued);
	n += 8;
	sg_store_be32(p + n, st->lifetime);
	n += 4;
	memcpy(p + n, st->sni_hash, sizeof(st->sni_hash));
	n += sizeof(st->sni_hash);
	memcpy(p + n, st->psk_digest, sizeof(st->psk_digest));
	n += sizeof(st->psk_digest);
	p[n++] = st->identity_len;
	memcpy(p + n, st->identity, st->identity_len);
	n += st->identity_len;
	p[n++] = st->auth;
	memcpy(p + n, st->key, sizeof(st->key));
	return n + sizeof(st->key);
}

static int decode_state(const uint8_t *p, size_t len, struct sg_hs_ticket_state *st)
{
	/* Version 2 ends at the identity: a PSK session's. */
	const size_t tail = 1 + SG_HS_TICKET_KEY_LEN;
	const size_t fixed = SG_HS_TICKET_STATE_MAX - SG_TLS_PSK_IDENTITY_MAX - tail;
	size_t n = 1;

	if (len < fixed || (p[0] != SG_HS_TICKET_STATE_VERSION && p[0] != 2))
		return -EBADMSG;
	st->suite = sg_load_be16(p + n);
	n += 2;
	st->ems = p[n++];
	memcpy(st->master, p + n, SG_TLS_MASTER_SECRET_LEN);
	n += SG_TLS_MASTER_SECRET_LEN;
	st->issued = sg_load_be64(p + n);
	n += 8;
	st->lifetime = sg_load_be32(p + n);
	n += 4;
	memcpy(st->sni_hash, p + n, sizeof(st->sni_hash));
	n += sizeof(st->sni_hash);
	memcpy(st->psk_digest, p + n, sizeof(st->psk_digest));
	n += sizeof(st->psk_digest);
	st->identity_len = p[n++];
	if (st->identity_len > SG_TLS_PSK_IDENTITY_MAX ||
	    len != n + st->identity_len + (p[0] == 2 ? 0 : tail))
		return -EBADMSG;
	memcpy(st->identity, p + n, st->identity_len);
	n += st->identity_len;
	st->auth = SG_HS_AUTH_PSK;
	if (p[0] == 2)
		return 0;
	st->auth = p[n++];
	if (st->auth > SG_HS_AUTH_NONE)
		return -EBADMSG;
	memcpy(st->key, p + n, sizeof(st->key));
	return 0;
}

/* AES-256-GCM with a key of its own per ticket: nonce 0 is used once per key. */
static int gcm(struct sg_hs_crypto *c, struct sg_rec_ctx *rc, const struct sg_hs_ticket_key *tk,
               const uint8_t *salt, uint8_t dir, const uint8_t *in, uint8_t *out, size_t len,
               uint8_t *tag)
{
	static const uint8_t nonce[SG_DTLS_AEAD_NONCE_LEN];
	uint8_t key[SG_HS_HASH_MAX_LEN];
	struct sg_aead_op op;
	int r = sg_hs_hmac(c, &tk->mac, salt, SG_HS_TICKET_SALT_LEN, key);

	if (r < 0)
		goto out;
	op = (struct sg_aead_op){
		.aead = SG_AEAD_AES_256_GCM,
		.dir = dir,
		.key = key,
		.nonce = nonce,
		.aad = tk->name,
		.aad_len = SG_HS_TICKET_NAME_LEN,
		.in = in,
		.out = out,
		.len = (uint32_t)len,
		.tag = tag,
	};
	if (sg_aead_burst(rc, &op, 1) != 1)
		r = op.status == SG_REC_AUTH_FAILED ? -EBADMSG : -EIO;
out:
	sg_wipe(key, sizeof(key));
	return r;
}

int sg_hs_ticket_seal(struct sg_hs_crypto *c, struct sg_rec_ctx *rc,
                      const struct sg_hs_ticket_keys *k, const struct sg_hs_ticket_state *st,
                      uint8_t *out, size_t cap)
{
	const struct sg_hs_ticket_key *tk = &k->k[0];
	uint8_t pt[SG_HS_TICKET_STATE_MAX];
	size_t n = encode_state(st, pt);
	size_t total = SG_HS_TICKET_NAME_LEN + SG_HS_TICKET_SALT_LEN + n + SG_HS_TICKET_TAG_LEN;
	uint8_t *salt = out + SG_HS_TICKET_NAME_LEN, *ct = salt + SG_HS_TICKET_SALT_LEN;
	int r;

	if (total > cap) {
		r = -ENOSPC;
		goto out;
	}
	if (!tk->live) {
		r = -EIO;
		goto out;
	}
	memcpy(out, tk->name, SG_HS_TICKET_NAME_LEN);
	r = sg_hs_crypto_random(c, salt, SG_HS_TICKET_SALT_LEN);
	if (r == 0)
		r = gcm(c, rc, tk, salt, SG_AEAD_DIR_SEAL, pt, ct, n, ct + n);
	if (r == 0)
		r = (int)total;
out:
	sg_wipe(pt, sizeof(pt));
	return r;
}

int sg_hs_ticket_open(struct sg_hs_crypto *c, struct sg_rec_ctx *rc,
                      const struct sg_hs_ticket_keys *k, const uint8_t *in, size_t len,
                      uint64_t now_unix, struct sg_hs_ticket_state *st)
{
	const size_t overhead =
	        SG_HS_TICKET_NAME_LEN + SG_HS_TICKET_SALT_LEN + SG_HS_TICKET_TAG_LEN;
	const struct sg_hs_ticket_key *tk = NULL;
	uint8_t pt[SG_HS_TICKET_STATE_MAX], tag[SG_HS_TICKET_TAG_LEN];
	size_t n;
	int r;

	memset(st, 0, sizeof(*st));
	if (len < overhead || len - overhead > SG_HS_TICKET_STATE_MAX)
		return -EBADMSG;
	for (int i = 0; i < 2; i++)
		if (k->k[i].live && memcmp(in, k->k[i].name, SG_HS_TICKET_NAME_LEN) == 0)
			tk = &k->k[i];
	if (tk == NULL)
		return -ENOENT;
	n = len - overhead;
	memcpy(tag, in + len - SG_HS_TICKET_TAG_LEN, sizeof(tag));
	r = gcm(c, rc, tk, in + SG_HS_TICKET_NAME_LEN, SG_AEAD_DIR_OPEN,
	        in + SG_HS_TICKET_NAME_LEN + SG_HS_TICKET_SALT_LEN, pt, n, tag);
	if (r == 0)
		r = decode_state(pt, n, st);
	/* Lifetime (RFC 5077 §3.3: the hint is advisory; the server decides). */
	if (r == 0 && (st->issued > now_unix || now_unix - st->issued >= st->lifetime))
		r = -EKEYEXPIRED;
	sg_wipe(pt, sizeof(pt));
	if (r < 0)
		sg_wipe(st, sizeof(*st));
	return r;
}

int sg_hs_ticket_keys_export_raw(const struct sg_hs_ticket_keys *k, uint8_t *buf, size_t cap)
{
	uint8_t *p = buf;

	if (cap < EXPORT_LEN)
		return -ENOSPC;
	memcpy(p, EXPORT_MAGIC, 4);
	p[4] = EXPORT_VERSION;
	p += 5;
	for (int i = 0; i < 2; i++, p += EXPORT_KEY_LEN) {
		p[0] = k->k[i].live;
		sg_store_be64(p + 1, k->k[i].created);
		memcpy(p + 9, k->k[i].name, SG_HS_TICKET_NAME_LEN);
		memcpy(p + 9 + SG_HS_TICKET_NAME_LEN, k->k[i].key, 32);
	}
	return EXPORT_LEN;
}

int sg_hs_ticket_keys_import_raw(struct sg_hs_crypto *c, struct sg_hs_ticket_keys *k,
                                 const uint8_t *buf, size_t len)
{
	struct sg_hs_ticket_keys in;
	const uint8_t *p = buf + 5;
	int rc = 0;

	if (len != EXPORT_LEN || memcmp(buf, EXPORT_MAGIC, 4) != 0 || buf[4] != EXPORT_VERSION ||
	    buf[5] != 1 /* the current key must be live */)
		return -EINVAL;
	memset(&in, 0, sizeof(in));
	for (int i = 0; i < 2 && rc == 0; i++, p += EXPORT_KEY_LEN) {
		if (p[0] > 1) {
			rc = -EINVAL;
			break;
		}
		if (!p[0])
			continue;
		in.k[i].live = 1;
		in.k[i].created = sg_load_be64(p + 1);
		memcpy(in.k[i].name, p + 9, SG_HS_TICKET_NAME_LEN);
		memcpy(in.k[i].key, p + 9 + SG_HS_TICKET_NAME_LEN, 32);
		rc = prepare(c, &in.k[i]);
	}
	if (rc == 0) {
		sg_wipe(k, sizeof(*k));
		*k = in;
	}
	sg_wipe(&in, sizeof(in));
	return rc;
}

void sg_hs_ticket_keys_wipe(struct sg_hs_ticket_keys *k)
{
	sg_wipe(k, sizeof(*k));
}
