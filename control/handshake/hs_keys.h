/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The key schedule of the handshake engine (internal to sg_handshake): the
 * premaster secret (RFC 4279 §2, RFC 5489 §2), the master secret (RFC 5246
 * §8.1, RFC 7627 §4), the key block (RFC 5246 §6.3) and Finished
 * verify_data (RFC 5246 §7.4.9). Computation only: no message is parsed,
 * written or sent here.
 *
 * Above hs_slots (the slot holds the randoms, the transcript and the
 * secrets), below every part that handles or makes a message: hs_flights,
 * hs_hello, hs_kx, hs_finish (hs_priv.h lists the stack). The engine's
 * thread only. These functions touch the slot they are given (master
 * secret, epoch-1 SA) and the engine's cached master-secret key.
 */
#ifndef STORMGATE_CONTROL_HS_KEYS_H
#define STORMGATE_CONTROL_HS_KEYS_H

#include <stddef.h>
#include <stdint.h>

#include <stormgate/common.h>
#include <stormgate/dtls.h>
#include <stormgate/handshake.h>

#include "hs_crypto.h"
#include "hs_ecdh.h"

struct sg_hs_engine;
struct hs_slot;

/* The longest premaster secret: uint16 length, other_secret, uint16 length, PSK. */
#define HS_PMS_MAX (2 + SG_TLS_PSK_MAX + 2 + SG_TLS_PSK_MAX)

/*
 * The longest key block (RFC 5246 §6.3): two 32-byte MAC keys and two AES-128
 * keys for CBC-SHA256 (96 B), or two 32-byte keys and two 12-byte IVs for
 * ChaCha20-Poly1305 (88 B).
 */
#define HS_KEY_BLOCK_MAX (2 * SG_DTLS_CBC_MAC_KEY_LEN + 2 * 16)

_Static_assert(SG_HS_ECDH_SECRET_LEN <= SG_TLS_PSK_MAX, "premaster buffer");

/*
 * The premaster secret into pms (RFC 4279 §2): uint16 length, other_secret,
 * uint16 length, PSK; other_secret is the ECDH output (ecdh, RFC 5489 §2)
 * or, for plain PSK (ecdh NULL), as many zero bytes as the PSK. Its length.
 * The caller wipes pms.
 */
size_t sg_hs_premaster(uint8_t pms[HS_PMS_MAX], const uint8_t *ecdh, const struct sg_hs_cred *cred);

/* Key block (RFC 5246 §6.3) → the slot's epoch-1 SA (an abbreviated handshake). 0 or -errno. */
int sg_hs_derive_keys(struct sg_hs_engine *e, struct hs_slot *s);

/*
 * verify_data = PRF(master_secret, label, Hash(handshake_messages))[0..11]
 * (RFC 5246 §7.4.9), over the slot's transcript so far. 0 or -errno.
 */
int sg_hs_finished_of(struct sg_hs_engine *e, struct hs_slot *s, const char *label,
                      uint8_t out[SG_TLS_VERIFY_DATA_LEN]);

/* ---- the key schedule of a full handshake at its key exchange, batched ------------ */

/*
 * Everything a full handshake derives once its ClientKeyExchange is in,
 * computed apart from the slot: the master secret, the key block, the
 * client's verify_data (its Finished covers the messages up to the key
 * exchange, RFC 5246 §7.4.9) and, when our Finished follows the client's
 * at once (no NewSessionTicket between them), ours, over the transcript
 * with the client's Finished as it must be. A burst derives many at once
 * (docs/handshake.md, "Batched key derivation"); one handshake alone takes
 * the same path, its independent PRFs as lanes of one batch. The caller
 * wipes it (sg_hs_derive_wipe).
 */
struct hs_derive {
	/* in: sg_hs_derive_prepare() */
	struct sg_hs_transcript t; /* ClientHello .. ClientKeyExchange */
	uint8_t pms[HS_PMS_MAX];
	uint16_t pms_len;
	uint16_t fin_seq; /* message_seq of the client's Finished */
	uint8_t hash;     /* enum sg_hs_hash */
	uint8_t ems;
	uint8_t kb_len;
	uint8_t server_fin; /* derive our Finished too */
	uint8_t client_random[SG_TLS_RANDOM_LEN];
	uint8_t server_random[SG_TLS_RANDOM_LEN];
	int rc;
	/* out: sg_hs_derive_run() */
	struct sg_hs_hmac_key key; /* the premaster's, then the master secret's */
	uint8_t session_hash[SG_HS_HASH_MAX_LEN];
	uint8_t master[SG_TLS_MASTER_SECRET_LEN];
	uint8_t kb[HS_KEY_BLOCK_MAX];
	uint8_t client_verify[SG_TLS_VERIFY_DATA_LEN];
	uint8_t server_verify[SG_TLS_VERIFY_DATA_LEN];
};

/*
 * Fill d for slot s: t is its transcript with the ClientKeyExchange added
 * (copied), pms the premaster (n bytes, copied), fin_seq the message_seq
 * the client's Finished will carry. Reads the slot only.
 */
void sg_hs_derive_prepare(const struct hs_slot *s, const struct sg_hs_transcript *t,
                          const uint8_t *pms, size_t n, uint16_t fin_seq, struct hs_derive *d);

/*
 * Derive d[0..n) (n <= SG_HS_BURST_MAX) together, in two runs of the
 * engine's batch: the master secrets; then the key blocks and the client's
 * verify_data, ours joining the rounds as soon as the client's is out.
 * Each d->rc: 0 or -errno.
 */
void sg_hs_derive_run(struct sg_hs_engine *e, struct hs_derive *const *d, unsigned n);

/*
 * Slot s takes what d derived: its master secret, epoch-1 SA and, when
 * derived, our Finished (SF_SERVER_FIN); the master secret's prepared key
 * becomes the engine's cached one. 0 or d->rc. The client's verify_data
 * stays in d (the datagram's context keeps it, hs_priv.h).
 */
int sg_hs_derive_apply(struct sg_hs_engine *e, struct hs_slot *s, const struct hs_derive *d);

static inline void sg_hs_derive_wipe(struct hs_derive *d)
{
	sg_wipe(d, sizeof(*d));
}

#endif /* STORMGATE_CONTROL_HS_KEYS_H */
