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

#include <stormgate/dtls.h>
#include <stormgate/handshake.h>

#include "hs_crypto.h"
#include "hs_ecdh.h"

struct sg_hs_engine;
struct hs_slot;

/* The longest premaster secret: uint16 length, other_secret, uint16 length, PSK. */
#define HS_PMS_MAX (2 + SG_TLS_PSK_MAX + 2 + SG_TLS_PSK_MAX)

_Static_assert(SG_HS_ECDH_SECRET_LEN <= SG_TLS_PSK_MAX, "premaster buffer");

/*
 * The premaster secret into pms (RFC 4279 §2): uint16 length, other_secret,
 * uint16 length, PSK; other_secret is the ECDH output (ecdh, RFC 5489 §2)
 * or, for plain PSK (ecdh NULL), as many zero bytes as the PSK. Its length.
 * The caller wipes pms.
 */
size_t sg_hs_premaster(uint8_t pms[HS_PMS_MAX], const uint8_t *ecdh, const struct sg_hs_cred *cred);

/*
 * The slot's master secret from the premaster (pms, n bytes): RFC 7627 §4
 * with EMS (session_hash = Hash(ClientHello .. ClientKeyExchange), so the
 * transcript must hold the key exchange), else RFC 5246 §8.1. 0 or -errno.
 */
int sg_hs_master_secret(struct sg_hs_engine *e, struct hs_slot *s, const uint8_t *pms, size_t n);

/* Key block (RFC 5246 §6.3) → the slot's epoch-1 SA. 0 or -errno. */
int sg_hs_derive_keys(struct sg_hs_engine *e, struct hs_slot *s);

/*
 * verify_data = PRF(master_secret, label, Hash(handshake_messages))[0..11]
 * (RFC 5246 §7.4.9), over the slot's transcript so far. 0 or -errno.
 */
int sg_hs_finished_of(struct sg_hs_engine *e, struct hs_slot *s, const char *label,
                      uint8_t out[SG_TLS_VERIFY_DATA_LEN]);

#endif /* STORMGATE_CONTROL_HS_KEYS_H */
