/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Stateless cookies (RFC 6347 §4.2.1), internal to sg_handshake.
 *
 * cookie = generation (1 byte) ‖ HMAC-SHA256(secret[generation],
 *            peer 4-tuple ‖ ClientHello body without its cookie)[0..15]
 *
 * Two secrets are live: the current one makes cookies, the previous one is
 * still accepted, so a cookie is good for one to two rotation periods. The
 * generation byte names the secret: a cookie naming neither is expired,
 * one whose MAC does not match is bad. Nothing is stored per client.
 *
 * Control thread only.
 */
#ifndef STORMGATE_CONTROL_HS_COOKIE_H
#define STORMGATE_CONTROL_HS_COOKIE_H

#include <stddef.h>
#include <stdint.h>

#include "hs_crypto.h"

#ifdef __cplusplus
extern "C" {
#endif

#define SG_HS_COOKIE_MAC_LEN 16
#define SG_HS_COOKIE_LEN     (1 + SG_HS_COOKIE_MAC_LEN)

#define SG_HS_COOKIE_SECRET_LEN 32

struct sg_hs_cookie_keys {
	struct sg_hs_hmac_key key[2];               /* [0] current, [1] previous */
	uint8_t secret[2][SG_HS_COOKIE_SECRET_LEN]; /* what key[] was made from, for export */
	uint8_t gen[2];
	uint8_t live[2];
	uint8_t rebase;      /* imported: the next rotate call restarts the period instead */
	uint64_t rotated_ms; /* when [0] became current */
};

/* Fresh current secret, no previous one. 0 or -EIO. */
int sg_hs_cookie_init(struct sg_hs_crypto *c, struct sg_hs_cookie_keys *k, uint64_t now_ms);

/* Rotate when period_ms has passed since the last rotation (current becomes
 * previous). Returns 1 if rotated, 0 if not due, -EIO. */
int sg_hs_cookie_rotate(struct sg_hs_crypto *c, struct sg_hs_cookie_keys *k, uint64_t now_ms,
                        uint64_t period_ms);

/*
 * Compute the cookie for a ClientHello body ch[0..ch_len) whose cookie
 * vector starts at cookie_off (the length byte; the vector is skipped), from
 * peer (36 bytes as struct sg_hs_peer). scratch must hold 36 + ch_len bytes.
 * Writes SG_HS_COOKIE_LEN bytes. 0 or -EIO.
 */
int sg_hs_cookie_make(struct sg_hs_crypto *c, const struct sg_hs_cookie_keys *k,
                      const uint8_t peer[36], const uint8_t *ch, size_t ch_len, size_t cookie_off,
                      uint8_t *scratch, uint8_t out[SG_HS_COOKIE_LEN]);

/*
 * Check the cookie the ClientHello carries (same arguments as make).
 * Returns 0 if valid, -EKEYEXPIRED if it names a secret that is not live
 * (retired), -EBADMSG if its length or MAC is wrong, -EIO. The MAC is
 * compared in constant time.
 */
int sg_hs_cookie_check(struct sg_hs_crypto *c, const struct sg_hs_cookie_keys *k,
                       const uint8_t peer[36], const uint8_t *ch, size_t ch_len, size_t cookie_off,
                       uint8_t *scratch);

/*
 * Export / import both secrets with their generation bytes and liveness
 * (see SG_HS_COOKIE_SECRETS_LEN in handshake.h). The monotonic clock of
 * another run means nothing here, so an import restarts the rotation
 * period at the next sg_hs_cookie_rotate() call: the imported current
 * secret makes cookies for one more full period. Export returns the bytes
 * written or -ENOSPC; import 0, -EINVAL (malformed; k unchanged) or -EIO.
 */
int sg_hs_cookie_export(const struct sg_hs_cookie_keys *k, uint8_t *buf, size_t cap);
int sg_hs_cookie_import(struct sg_hs_crypto *c, struct sg_hs_cookie_keys *k, const uint8_t *buf,
                        size_t len);

/* Wipe both secrets. */
void sg_hs_cookie_wipe(struct sg_hs_cookie_keys *k);

#ifdef __cplusplus
}
#endif

#endif /* STORMGATE_CONTROL_HS_COOKIE_H */
