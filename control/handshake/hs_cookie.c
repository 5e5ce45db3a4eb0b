/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Stateless cookies under a rotating secret (RFC 6347 §4.2.1). See hs_cookie.h.
 */
#include <errno.h>
#include <string.h>

#include <stormgate/common.h>
#include <stormgate/handshake.h>

#include "hs_cookie.h"

/* Export blob: magic, version, then per secret live ‖ generation ‖ secret. */
#define EXPORT_MAGIC   "SGCK"
#define EXPORT_VERSION 1
#define EXPORT_KEY_LEN (2 + SG_HS_COOKIE_SECRET_LEN)
#define EXPORT_LEN     (4 + 1 + 2 * EXPORT_KEY_LEN)

_Static_assert(EXPORT_LEN <= SG_HS_COOKIE_SECRETS_LEN, "fits SG_HS_COOKIE_SECRETS_LEN");

static int new_secret(struct sg_hs_crypto *c, struct sg_hs_hmac_key *key,
                      uint8_t secret[SG_HS_COOKIE_SECRET_LEN])
{
	int rc = sg_hs_random(secret, SG_HS_COOKIE_SECRET_LEN);

	if (rc == 0)
		rc = sg_hs_hmac_key_set(c, SG_HS_SHA256, secret, SG_HS_COOKIE_SECRET_LEN, key);
	if (rc < 0)
		sg_wipe(secret, SG_HS_COOKIE_SECRET_LEN);
	return rc;
}

int sg_hs_cookie_init(struct sg_hs_crypto *c, struct sg_hs_cookie_keys *k, uint64_t now_ms)
{
	uint8_t g;
	int rc;

	memset(k, 0, sizeof(*k));
	rc = sg_hs_random(&g, 1);
	if (rc == 0)
		rc = new_secret(c, &k->key[0], k->secret[0]);
	if (rc < 0)
		return rc;
	k->gen[0] = g;
	k->live[0] = 1;
	k->rotated_ms = now_ms;
	return 0;
}

int sg_hs_cookie_rotate(struct sg_hs_crypto *c, struct sg_hs_cookie_keys *k, uint64_t now_ms,
                        uint64_t period_ms)
{
	struct sg_hs_hmac_key fresh;
	uint8_t secret[SG_HS_COOKIE_SECRET_LEN];
	int rc;

	if (k->rebase) {
		k->rebase = 0;
		k->rotated_ms = now_ms;
		return 0;
	}
	if (now_ms - k->rotated_ms < period_ms)
		return 0;
	rc = new_secret(c, &fresh, secret);
	if (rc < 0)
		return rc;
	/* Two rotations without traffic in between retire everything older. */
	k->key[1] = k->key[0];
	memcpy(k->secret[1], k->secret[0], SG_HS_COOKIE_SECRET_LEN);
	k->gen[1] = k->gen[0];
	k->live[1] = now_ms - k->rotated_ms < 2 * period_ms;
	k->key[0] = fresh;
	memcpy(k->secret[0], secret, SG_HS_COOKIE_SECRET_LEN);
	k->gen[0] = (uint8_t)(k->gen[1] + 1);
	k->live[0] = 1;
	k->rotated_ms = now_ms;
	sg_wipe(&fresh, sizeof(fresh));
	sg_wipe(secret, sizeof(secret));
	return 1;
}

static int mac(struct sg_hs_crypto *c, const struct sg_hs_hmac_key *key, const uint8_t peer[36],
               const uint8_t *ch, size_t ch_len, size_t cookie_off, uint8_t *scratch,
               uint8_t out[SG_HS_HASH_MAX_LEN])
{
	size_t skip, n = 0;

	/* The cookie vector (length byte + bytes) is left out: the first and
	 * the second ClientHello must give the same MAC (RFC 6347 §4.2.1). */
	if (cookie_off >= ch_len)
		return -EINVAL;
	skip = 1 + (size_t)ch[cookie_off];
	if (skip > ch_len - cookie_off)
		return -EINVAL;
	memcpy(scratch, peer, 36);
	n = 36;
	memcpy(scratch + n, ch, cookie_off);
	n += cookie_off;
	memcpy(scratch + n, ch + cookie_off + skip, ch_len - cookie_off - skip);
	n += ch_len - cookie_off - skip;
	return sg_hs_hmac(c, key, scratch, n, out);
}

int sg_hs_cookie_make(struct sg_hs_crypto *c, const struct sg_hs_cookie_keys *k,
                      const uint8_t peer[36], const uint8_t *ch, size_t ch_len, size_t cookie_off,
                      uint8_t *scratch, uint8_t out[SG_HS_COOKIE_LEN])
{
	uint8_t m[SG_HS_HASH_MAX_LEN];
	int rc = mac(c, &k->key[0], peer, ch, ch_len, cookie_off, scratch, m);

	if (rc < 0)
		return rc;
	out[0] = k->gen[0];
	memcpy(out + 1, m, SG_HS_COOKIE_MAC_LEN);
	return 0;
}

int sg_hs_cookie_check(struct sg_hs_crypto *c, const struct sg_hs_cookie_keys *k,
                       const uint8_t peer[36], const uint8_t *ch, size_t ch_len, size_t cookie_off,
                       uint8_t *scratch)
{
	uint8_t m[SG_HS_HASH_MAX_LEN];
	const uint8_t *cookie = ch + cookie_off + 1;
	int which, rc;

	if (cookie_off >= ch_len || ch[cookie_off] != SG_HS_COOKIE_LEN ||
	    ch_len - cookie_off - 1 < SG_HS_COOKIE_LEN)
		return -EBADMSG;
	if (k->live[0] && cookie[0] == k->gen[0])
		which = 0;
	else if (k->live[1] && cookie[0] == k->gen[1])
		which = 1;
	else
		return -EKEYEXPIRED;
	rc = mac(c, &k->key[which], peer, ch, ch_len, cookie_off, scratch, m);
	if (rc < 0)
		return rc;
	return sg_ct_memcmp(m, cookie + 1, SG_HS_COOKIE_MAC_LEN) == 0 ? 0 : -EBADMSG;
}

int sg_hs_cookie_export(const struct sg_hs_cookie_keys *k, uint8_t *buf, size_t cap)
{
	uint8_t *p = buf + 5;

	if (cap < EXPORT_LEN)
		return -ENOSPC;
	memcpy(buf, EXPORT_MAGIC, 4);
	buf[4] = EXPORT_VERSION;
	for (int i = 0; i < 2; i++, p += EXPORT_KEY_LEN) {
		/* A retired secret is all zeros: nothing of it outlives it, and an
		 * import then exports the same bytes again. */
		p[0] = k->live[i];
		p[1] = k->live[i] ? k->gen[i] : 0;
		if (k->live[i])
			memcpy(p + 2, k->secret[i], SG_HS_COOKIE_SECRET_LEN);
		else
			memset(p + 2, 0, SG_HS_COOKIE_SECRET_LEN);
	}
	return EXPORT_LEN;
}

int sg_hs_cookie_import(struct sg_hs_crypto *c, struct sg_hs_cookie_keys *k, const uint8_t *buf,
                        size_t len)
{
	struct sg_hs_cookie_keys in;
	const uint8_t *p = buf + 5;
	int rc = 0;

	/* The current secret must be live; two live ones must differ in generation. */
	if (len != EXPORT_LEN || memcmp(buf, EXPORT_MAGIC, 4) != 0 || buf[4] != EXPORT_VERSION ||
	    p[0] != 1 || p[EXPORT_KEY_LEN] > 1 ||
	    (p[EXPORT_KEY_LEN] == 1 && p[1] == p[EXPORT_KEY_LEN + 1]))
		return -EINVAL;
	memset(&in, 0, sizeof(in));
	for (int i = 0; i < 2 && rc == 0; i++, p += EXPORT_KEY_LEN) {
		if (!p[0])
			continue;
		in.live[i] = 1;
		in.gen[i] = p[1];
		memcpy(in.secret[i], p + 2, SG_HS_COOKIE_SECRET_LEN);
		rc = sg_hs_hmac_key_set(c, SG_HS_SHA256, in.secret[i], SG_HS_COOKIE_SECRET_LEN,
		                        &in.key[i]);
	}
	if (rc == 0) {
		in.rebase = 1;
		sg_wipe(k, sizeof(*k));
		*k = in;
	}
	sg_wipe(&in, sizeof(in));
	return rc;
}

void sg_hs_cookie_wipe(struct sg_hs_cookie_keys *k)
{
	sg_wipe(k, sizeof(*k));
}
