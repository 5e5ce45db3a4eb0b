/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Session tickets (RFC 5077), internal to sg_handshake.
 *
 * ticket = key_name(16) ‖ salt(16) ‖ AES-256-GCM(k_t, nonce 0, aad key_name,
 *          state) ‖ tag(16),  with k_t = HMAC-SHA256(ticket key, salt)
 *
 * RFC 5077 §4 recommends key_name ‖ IV ‖ encrypted_state ‖ MAC; we derive a
 * key per ticket from a random 128-bit salt instead of using a random
 * 96-bit GCM nonce under one key, so the number of tickets a key may seal is
 * not bounded by GCM's random-nonce limit (NIST SP 800-38D §8.3, 2^32).
 * Two keys are live (current seals, previous still opens); they are created
 * from the wall clock so they can be exported and survive a restart.
 *
 * The state names the PSK the session was made with (psk_digest), so a
 * ticket stops resuming once the credential store holds another key for
 * the identity (credentials add --replace), or none.
 *
 * Control thread only.
 */
#ifndef STORMGATE_CONTROL_HS_TICKET_H
#define STORMGATE_CONTROL_HS_TICKET_H

#include <stddef.h>
#include <stdint.h>

#include <stormgate/dtls.h>
#include <stormgate/record.h>

#include "hs_crypto.h"

#ifdef __cplusplus
extern "C" {
#endif

#define SG_HS_TICKET_NAME_LEN       16
#define SG_HS_TICKET_SALT_LEN       16
#define SG_HS_TICKET_TAG_LEN        16
#define SG_HS_TICKET_PSK_DIGEST_LEN 16
#define SG_HS_TICKET_SNI_HASH_LEN   16
/* 1: without psk_digest (no longer opened); 2: PSK sessions only (still opened, as PSK);
 * 3: the peer's kind of authentication and key after the identity */
#define SG_HS_TICKET_STATE_VERSION 3
#define SG_HS_TICKET_KEY_LEN       32 /* a raw public key's SPKI SHA-256 (SG_HS_SPKI_HASH_LEN) */
#define SG_HS_TICKET_STATE_MAX                                                                     \
	(1 + 2 + 1 + SG_TLS_MASTER_SECRET_LEN + 8 + 4 + SG_HS_TICKET_SNI_HASH_LEN +                \
	 SG_HS_TICKET_PSK_DIGEST_LEN + 1 + SG_TLS_PSK_IDENTITY_MAX + 1 + SG_HS_TICKET_KEY_LEN)
#define SG_HS_TICKET_MAX                                                                           \
	(SG_HS_TICKET_NAME_LEN + SG_HS_TICKET_SALT_LEN + SG_HS_TICKET_STATE_MAX +                  \
	 SG_HS_TICKET_TAG_LEN)

struct sg_hs_ticket_key {
	struct sg_hs_hmac_key mac; /* HMAC key prepared from key */
	uint8_t key[32];
	uint8_t name[SG_HS_TICKET_NAME_LEN];
	uint64_t created; /* Unix seconds */
	uint8_t live;
};

struct sg_hs_ticket_keys {
	struct sg_hs_ticket_key k[2]; /* [0] current, [1] previous */
};

/* What a ticket carries: enough to resume (RFC 5077 §4) and re-check policy. */
struct sg_hs_ticket_state {
	uint16_t suite;
	uint8_t ems; /* RFC 7627 §5.3: must match on resumption */
	uint8_t master[SG_TLS_MASTER_SECRET_LEN];
	uint64_t issued;                                 /* Unix seconds */
	uint32_t lifetime;                               /* seconds */
	uint8_t sni_hash[SG_HS_TICKET_SNI_HASH_LEN];     /* sg_hs_ticket_sni_hash() */
	uint8_t psk_digest[SG_HS_TICKET_PSK_DIGEST_LEN]; /* sg_hs_ticket_psk_digest() */
	uint8_t identity_len;
	uint8_t identity[SG_TLS_PSK_IDENTITY_MAX];
	/*
	 * How the client authenticated (enum sg_hs_auth; docs/certificates.md,
	 * "Resumption"): PSK sessions are bound to their PSK by psk_digest;
	 * certificate sessions are looked up again by identity (X.509) or by
	 * key, the SHA-256 of the raw public key (RPK), and have no psk_digest.
	 */
	uint8_t auth;
	uint8_t key[SG_HS_TICKET_KEY_LEN];
};

/*
 * The digest of the PSK a ticket is bound to: HMAC-SHA256(psk, "stormgate
 * ticket psk v1") truncated to SG_HS_TICKET_PSK_DIGEST_LEN bytes. Keyed by
 * the PSK itself, so the bytes say nothing of the key but whether a
 * candidate matches; they travel only inside the sealed state. Compare two
 * with sg_ct_memcmp(). 0, -EINVAL (empty PSK) or -EIO.
 */
int sg_hs_ticket_psk_digest(struct sg_hs_crypto *c, const uint8_t *psk, size_t psk_len,
                            uint8_t out[SG_HS_TICKET_PSK_DIGEST_LEN]);

/*
 * The server name a ticket is bound to (RFC 6066 §3: resumption only under
 * the same name): the first SG_HS_TICKET_SNI_HASH_LEN bytes of
 * SHA-256(sni); zeros for no name (len 0) or when the digest fails.
 */
void sg_hs_ticket_sni_hash(const uint8_t *sni, size_t len, uint8_t out[SG_HS_TICKET_SNI_HASH_LEN]);

/* Fresh current key. 0 or -EIO. */
int sg_hs_ticket_keys_init(struct sg_hs_crypto *c, struct sg_hs_ticket_keys *k, uint64_t now_unix);

/* Rotate if period_s passed since the current key was created: 1, 0 or -EIO. */
int sg_hs_ticket_rotate(struct sg_hs_crypto *c, struct sg_hs_ticket_keys *k, uint64_t now_unix,
                        uint64_t period_s);

/* Seal st with the current key into out; returns the ticket length or -ENOSPC / -EIO. */
int sg_hs_ticket_seal(struct sg_hs_crypto *c, struct sg_rec_ctx *rc,
                      const struct sg_hs_ticket_keys *k, const struct sg_hs_ticket_state *st,
                      uint8_t *out, size_t cap);

/*
 * Open a ticket: 0 with st filled; -ENOENT (no live key of that name),
 * -EBADMSG (malformed or forged, or sealed in another state format, e.g. a
 * version-1 ticket of an earlier build), -EKEYEXPIRED (past its lifetime at
 * now_unix, or issued in the future), -EIO. st is wiped on failure.
 */
int sg_hs_ticket_open(struct sg_hs_crypto *c, struct sg_rec_ctx *rc,
                      const struct sg_hs_ticket_keys *k, const uint8_t *in, size_t len,
                      uint64_t now_unix, struct sg_hs_ticket_state *st);

/* Export / import the raw keys (see SG_HS_TICKET_KEYS_LEN in handshake.h). */
int sg_hs_ticket_keys_export_raw(const struct sg_hs_ticket_keys *k, uint8_t *buf, size_t cap);
int sg_hs_ticket_keys_import_raw(struct sg_hs_crypto *c, struct sg_hs_ticket_keys *k,
                                 const uint8_t *buf, size_t len);

void sg_hs_ticket_keys_wipe(struct sg_hs_ticket_keys *k);

#ifdef __cplusplus
}
#endif

#endif /* STORMGATE_CONTROL_HS_TICKET_H */
