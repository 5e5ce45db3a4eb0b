/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The fleet client's key schedule, computation only: the TLS 1.2 PRF
 * (RFC 5246 §5), the PSK premaster secrets (RFC 4279 §2, RFC 5489 §2), the
 * master secret with or without RFC 7627, the key block (§6.3) and the
 * transcript hash, over OpenSSL libcrypto (HMAC, SHA-256/384, X25519, P-256).
 * Written for the fleet client alone; nothing of control/handshake/ is used.
 * Any thread; no state.
 */
#ifndef STORMGATE_FLEET_KEYS_H
#define STORMGATE_FLEET_KEYS_H

#include <stddef.h>
#include <stdint.h>

#include <stormgate/suite.h>

#define FC_HASH_MAX 48 /* SHA-384 */
/* premaster: 2 + Z (at most 32: X25519, the P-256 x coordinate) + 2 + psk, or 2 + N + 2 + N */
#define FC_PMS_MAX (2 + 64 + 2 + 64)

/* Digest bytes of a suite's PRF hash: 32 or 48. */
unsigned sg_fc_hash_len(const struct sg_suite *s);

/* Hash of len bytes into out (sg_fc_hash_len() bytes). 0 or -EIO. */
int sg_fc_hash(const struct sg_suite *s, const uint8_t *in, size_t len, uint8_t *out);

/*
 * PRF(secret, label, seed1 ‖ seed2) into out[0..out_len) (RFC 5246 §5,
 * P_SHA256 or P_SHA384 by the suite). 0 or -EIO; out wiped on failure.
 */
int sg_fc_prf(const struct sg_suite *s, const uint8_t *secret, size_t secret_len, const char *label,
              const uint8_t *seed1, size_t seed1_len, const uint8_t *seed2, size_t seed2_len,
              uint8_t *out, size_t out_len);

/*
 * Premaster secret into pms (FC_PMS_MAX bytes), length returned:
 * other ‖ psk with other = N zeros for plain PSK (RFC 4279 §2, z NULL) or
 * the ECDH shared secret z (RFC 5489 §2).
 */
size_t sg_fc_premaster(const uint8_t *z, size_t z_len, const uint8_t *psk, size_t psk_len,
                       uint8_t *pms);

/*
 * Ephemeral ECDH for group (SG_TLS_GROUP_X25519 or _SECP256R1) against the
 * server's share peer: our public share into pub (*pub_len; 32 or 65
 * bytes, room for 65) and the shared secret into z (*z_len; 32 bytes: the
 * X25519 output or the P-256 x coordinate, RFC 8422 §5.10). 0, -EPROTO (a
 * share OpenSSL refuses: off the curve, wrong length, all-zero X25519
 * output, RFC 7748 §6.1) or -EIO. The private key never leaves OpenSSL.
 */
int sg_fc_ecdh(unsigned group, const uint8_t *peer, size_t peer_len, uint8_t *pub, size_t *pub_len,
               uint8_t *z, size_t *z_len);

#endif /* STORMGATE_FLEET_KEYS_H */
