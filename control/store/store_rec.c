/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The sealed session record (sg_store_rec.h): the body's codec, the
 * refusal table and the credential tag; the envelope is store_seal.c.
 * Control plane; a sealer belongs to one thread.
 */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <string.h>

#include <openssl/evp.h>

#include <stormgate/bytes.h>
#include <stormgate/common.h>
#include <stormgate/handshake.h>
#include <stormgate/record.h>

#include "sg_store_rec.h"
#include "store_seal.h"

#define BODY_FIXED SG_STORE_REC_BODY_FIXED
#define SEQ_LIMIT  (UINT64_C(1) << 48)

static const struct {
	const char *name;
	int err;
} bad_table[SG_STORE_BAD_MAX] = {
	[SG_STORE_BAD_TRUNCATED] = { "truncated", -ENODATA },
	[SG_STORE_BAD_TRAILING] = { "trailing", -EMSGSIZE },
	[SG_STORE_BAD_VERSION] = { "version", -EPROTONOSUPPORT },
	[SG_STORE_BAD_KEY_ID] = { "key_id", -EKEYREJECTED },
	[SG_STORE_BAD_SEAL] = { "seal", -EBADMSG },
	[SG_STORE_BAD_BODY] = { "body", -EUCLEAN },
};

const char *sg_store_bad_name(enum sg_store_bad bad)
{
	return (unsigned)bad < SG_STORE_BAD_MAX ? bad_table[bad].name : "unknown";
}

enum sg_store_bad sg_store_bad_of(int err)
{
	for (unsigned i = 0; i < SG_STORE_BAD_MAX; i++)
		if (bad_table[i].err == err)
			return (enum sg_store_bad)i;
	return SG_STORE_BAD_MAX;
}

static const uint8_t v4_mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

static bool tuple_is_v4(const struct sg_sess_tuple *t)
{
	return memcmp(t->laddr, v4_mapped, 12) == 0 && memcmp(t->paddr, v4_mapped, 12) == 0;
}

/*
 * The lowest version that says all of r: 3 for a session not made with a
 * PSK (its auth kind), else 2 for a CBC session (its MAC keys, EtM), else 1.
 */
static unsigned rec_version(const struct sg_store_rec *r)
{
	if (r->auth != SG_HS_AUTH_PSK)
		return SG_STORE_REC_V3;
	return sg_aead_wide(r->aead) || (r->flags & SG_STORE_F_ETM) ? SG_STORE_REC_V2
	                                                            : SG_STORE_REC_V1;
}

/*
 * The auth kind against the identity and tag (sg_store_rec.auth): what the
 * gateway keeps of each kind. A PSK session's identity and tag are not
 * checked here (records of version 1 have always been read as they are).
 */
static bool auth_valid(const struct sg_store_rec *r)
{
	static const uint8_t none[SG_STORE_CRED_TAG_LEN];
	bool tag = memcmp(r->cred_tag, none, sizeof(none)) != 0;

	switch (r->auth) {
	case SG_HS_AUTH_PSK:
		return true;
	case SG_HS_AUTH_X509:
		return r->identity_len > 0 && !tag; /* a policy by name, no key to change */
	case SG_HS_AUTH_RPK:
		return r->identity_len > 0 && tag; /* the key's hash, its entry's identity */
	case SG_HS_AUTH_NONE:
		return r->identity_len == 0 && !tag; /* anonymous: nothing */
	default:
		return false;
	}
}

static bool rec_valid(const struct sg_store_rec *r)
{
	/* encrypt_then_mac is a CBC session's (RFC 7366 §2: not with AEAD suites) */
	return r->aead < SG_AEAD_MAX && (r->flags & ~SG_STORE_F_ALL) == 0 && auth_valid(r) &&
	       (!(r->flags & SG_STORE_F_ETM) || sg_aead_wide(r->aead)) &&
	       (r->cid_len == 0 ||
	        (r->cid_len >= SG_SESS_CID_LEN_MIN && r->cid_len <= SG_SESS_CID_LEN_MAX)) &&
	       r->identity_len <= SG_STORE_IDENTITY_MAX && r->tx_seq < SEQ_LIMIT &&
	       r->rx_top < SEQ_LIMIT;
}

/* Append n bytes; the caller sized the body, so this never overflows. */
static uint8_t *put(uint8_t *p, const void *src, size_t n)
{
	memcpy(p, src, n);
	return p + n;
}

/* Encode rec's body at p (SG_STORE_REC_BODY_MAX bytes), of version rec_version(r);
 * returns its length. */
static size_t body_encode(const struct sg_store_rec *r, uint8_t *p)
{
	uint8_t *start = p;
	unsigned klen = sg_aead_key_len((enum sg_aead)r->aead);
	unsigned ivlen = sg_aead_iv_len((enum sg_aead)r->aead);
	unsigned maclen = sg_aead_mac_key_len((enum sg_aead)r->aead);
	bool v4 = tuple_is_v4(&r->tuple);
	unsigned alen = v4 ? 4 : 16;

	sg_store_be32(p, r->backend);
	sg_store_be32(p + 4, r->gen);
	sg_store_be32(p + 8, r->expires);
	sg_store_be32(p + 12, r->last_rx);
	sg_store_be48(p + 16, r->tx_seq);
	sg_store_be48(p + 22, r->rx_top);
	sg_store_be16(p + 28, r->suite);
	sg_store_be16(p + 30, r->epoch);
	sg_store_be16(p + 32, r->max_plaintext);
	p[34] = r->aead;
	p[35] = (uint8_t)(r->flags | (v4 ? SG_STORE_F_V4 : 0));
	memcpy(p + 36, r->cred_tag, SG_STORE_CRED_TAG_LEN);
	memcpy(p + 44, r->token, SG_PP2_TOKEN_LEN);
	p += BODY_FIXED;
	*p++ = r->identity_len;
	p = put(p, r->identity, r->identity_len);
	*p++ = r->cid_len;
	p = put(p, r->cid, r->cid_len);
	*p++ = r->peer_cid_len;
	p = put(p, r->peer_cid, r->peer_cid_len);
	p = put(p, r->tuple.laddr + 16 - alen, alen);
	p = put(p, r->tuple.paddr + 16 - alen, alen);
	/* ports stay in network byte order, as in struct sg_sess_tuple */
	p = put(p, &r->tuple.lport, 2);
	p = put(p, &r->tuple.pport, 2);
	p = put(p, r->rx_key, klen);
	p = put(p, r->tx_key, klen);
	p = put(p, r->rx_iv, ivlen);
	p = put(p, r->tx_iv, ivlen);
	/* version 2: the MAC keys (none for an AEAD) */
	p = put(p, r->rx_mac, maclen);
	p = put(p, r->tx_mac, maclen);
	/* version 3: the auth kind, last, so a body of another version never reads as this one */
	if (rec_version(r) == SG_STORE_REC_V3)
		*p++ = r->auth;
	return (size_t)(p - start);
}

/* Take n bytes from [*p, end) into dst; false when fewer remain. */
static bool take(const uint8_t **p, const uint8_t *end, void *dst, size_t n)
{
	if ((size_t)(end - *p) < n)
		return false;
	memcpy(dst, *p, n);
	*p += n;
	return true;
}

/* Decode an authentic body of this version into r (zeroed by the caller). 0 or -EUCLEAN. */
static int body_decode(const uint8_t *p, size_t len, unsigned version, struct sg_store_rec *r)
{
	const uint8_t *end = p + len;
	unsigned klen, ivlen, maclen, alen;

	if (len < BODY_FIXED)
		return -EUCLEAN;
	r->backend = sg_load_be32(p);
	r->gen = sg_load_be32(p + 4);
	r->expires = sg_load_be32(p + 8);
	r->last_rx = sg_load_be32(p + 12);
	r->tx_seq = sg_load_be48(p + 16);
	r->rx_top = sg_load_be48(p + 22);
	r->suite = sg_load_be16(p + 28);
	r->epoch = sg_load_be16(p + 30);
	r->max_plaintext = sg_load_be16(p + 32);
	r->aead = p[34];
	r->flags = p[35] & (uint8_t)~SG_STORE_F_V4;
	alen = (p[35] & SG_STORE_F_V4) ? 4 : 16;
	memcpy(r->cred_tag, p + 36, SG_STORE_CRED_TAG_LEN);
	memcpy(r->token, p + 44, SG_PP2_TOKEN_LEN);
	p += BODY_FIXED;
	/*
	 * A version 1 body cannot hold a CBC session: it has no room for the
	 * MAC keys. The auth kind is read last (version 3); until then r is a
	 * PSK session's, whose fields rec_valid() can check already.
	 */
	if (!rec_valid(r) || (version == SG_STORE_REC_V1 && rec_version(r) != SG_STORE_REC_V1))
		return -EUCLEAN;
	klen = sg_aead_key_len((enum sg_aead)r->aead);
	ivlen = sg_aead_iv_len((enum sg_aead)r->aead);
	maclen = sg_aead_mac_key_len((enum sg_aead)r->aead);
	if (!take(&p, end, &r->identity_len, 1) || r->identity_len > SG_STORE_IDENTITY_MAX ||
	    !take(&p, end, r->identity, r->identity_len) || !take(&p, end, &r->cid_len, 1) ||
	    r->cid_len > SG_SESS_CID_LEN_MAX || !take(&p, end, r->cid, r->cid_len) ||
	    !take(&p, end, &r->peer_cid_len, 1) || !take(&p, end, r->peer_cid, r->peer_cid_len) ||
	    !take(&p, end, r->tuple.laddr + 16 - alen, alen) ||
	    !take(&p, end, r->tuple.paddr + 16 - alen, alen) ||
	    !take(&p, end, &r->tuple.lport, 2) || !take(&p, end, &r->tuple.pport, 2) ||
	    !take(&p, end, r->rx_key, klen) || !take(&p, end, r->tx_key, klen) ||
	    !take(&p, end, r->rx_iv, ivlen) || !take(&p, end, r->tx_iv, ivlen) ||
	    !take(&p, end, r->rx_mac, maclen) || !take(&p, end, r->tx_mac, maclen) ||
	    (version == SG_STORE_REC_V3 && !take(&p, end, &r->auth, 1)) || p != end)
		return -EUCLEAN;
	/* Version 3 is for what a lower one cannot say: a PSK session there was never written. */
	if (version == SG_STORE_REC_V3 && r->auth == SG_HS_AUTH_PSK)
		return -EUCLEAN;
	if (alen == 4) {
		memcpy(r->tuple.laddr, v4_mapped, 12);
		memcpy(r->tuple.paddr, v4_mapped, 12);
	}
	/* cid_len and auth were read from the body after the first check: recheck them */
	return rec_valid(r) ? 0 : -EUCLEAN;
}

int sg_store_rec_seal(struct sg_store_sealer *s, uint32_t slot, const struct sg_store_rec *rec,
                      uint8_t *out, size_t cap)
{
	uint8_t body[SG_STORE_REC_BODY_MAX];
	uint8_t bind[4];
	size_t body_len;
	int rc;

	if (!rec_valid(rec))
		return -EINVAL;
	body_len = body_encode(rec, body);
	sg_store_be32(bind, slot);
	rc = sg_store_seal(s, rec_version(rec), bind, sizeof(bind), body, body_len, out, cap);
	sg_wipe(body, sizeof(body));
	return rc;
}

int sg_store_rec_unseal(struct sg_store_sealer *s, uint32_t slot, const uint8_t *in, size_t len,
                        struct sg_store_rec *rec)
{
	uint8_t body[SG_STORE_REC_BODY_MAX];
	uint8_t bind[4];
	unsigned version = 0;
	int rc;

	memset(rec, 0, sizeof(*rec));
	sg_store_be32(bind, slot);
	rc = sg_store_unseal(s, SG_STORE_REC_VERSION, bind, sizeof(bind), in, len, body,
	                     sizeof(body), &version);
	if (rc == -ENOBUFS)
		rc = -EUCLEAN; /* cannot be authentic: we never seal a body this long */
	if (rc >= 0)
		rc = body_decode(body, (size_t)rc, version, rec);
	if (rc != 0)
		sg_store_rec_wipe(rec);
	sg_wipe(body, sizeof(body));
	return rc;
}

int sg_store_rec_open(const struct sg_store_key *key, uint32_t slot, const uint8_t *in, size_t len,
                      struct sg_store_rec *rec)
{
	struct sg_store_sealer s = { .key = *key };
	int rc = sg_store_rec_unseal(&s, slot, in, len, rec);

	sg_store_sealer_wipe(&s);
	return rc;
}

void sg_store_rec_wipe(struct sg_store_rec *rec)
{
	sg_wipe(rec, sizeof(*rec));
}

static const char cred_tag_label[] = "stormgate cred tag";
static EVP_MD *sha256;
static pthread_once_t sha256_once = PTHREAD_ONCE_INIT;

/* Fetch SHA-256 once: EVP_sha256() would look the provider up at every digest. */
static void sha256_fetch(void)
{
	sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
}

void sg_store_cred_tag(const uint8_t *psk, size_t len, uint8_t tag[SG_STORE_CRED_TAG_LEN])
{
	uint8_t md[EVP_MAX_MD_SIZE];
	unsigned md_len = 0;
	EVP_MD_CTX *ctx;

	pthread_once(&sha256_once, sha256_fetch);
	ctx = sha256 != NULL ? EVP_MD_CTX_new() : NULL;
	if (ctx != NULL && EVP_DigestInit_ex(ctx, sha256, NULL) == 1 &&
	    EVP_DigestUpdate(ctx, cred_tag_label, sizeof(cred_tag_label) - 1) == 1 &&
	    EVP_DigestUpdate(ctx, psk, len) == 1 && EVP_DigestFinal_ex(ctx, md, &md_len) == 1 &&
	    md_len >= SG_STORE_CRED_TAG_LEN)
		memcpy(tag, md, SG_STORE_CRED_TAG_LEN);
	else
		memset(tag, 0xff, SG_STORE_CRED_TAG_LEN);
	EVP_MD_CTX_free(ctx);
	sg_wipe(md, sizeof(md));
}
