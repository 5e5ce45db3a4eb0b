/* SPDX-License-Identifier: Apache-2.0 */
/*
 * EC public keys as SubjectPublicKeyInfo DER, the part the handshake engine
 * (a client's raw public key, RFC 7250) and the credential store (keys
 * imported for raw-public-key devices) share: the curves' groups, made once
 * per process, and the fast reading of the one canonical encoding.
 *
 * A leaf of its own (sg_spki, libcrypto only) so that the credential store
 * does not link the engine. Any thread.
 */
#ifndef STORMGATE_CONTROL_SG_SPKI_H
#define STORMGATE_CONTROL_SG_SPKI_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/types.h>

/*
 * The group of a curve (SG_TLS_GROUP_SECP256R1 or _SECP384R1), made once per
 * process and only read after (EC_GROUP_new_by_curve_name() costs ~8 us);
 * NULL for another curve. Never freed: a process-lifetime constant.
 */
const EC_GROUP *sg_spki_group(uint16_t curve);

/*
 * RFC 5480 §2 fixes one DER encoding of an id-ecPublicKey key on a
 * namedCurve with an uncompressed point (§2.2): a fixed header, then the
 * point. A key in exactly that form is read by comparing the header and
 * checking the point is on its curve (EC_POINT_oct2point), ~1 us, where
 * OpenSSL 3.0's generic decoder (d2i_PUBKEY) takes ~100 us.
 *
 * Returns 1 when der is that form for P-256 or P-384 and its point is on
 * the curve (*curve and *point_off set: the point is der + *point_off to
 * the end), 0 when it is not that form (ask d2i_PUBKEY), -1 when it is that
 * form but the point is off the curve.
 */
int sg_spki_canonical(const uint8_t *der, size_t len, uint16_t *curve, size_t *point_off);

#endif /* STORMGATE_CONTROL_SG_SPKI_H */
