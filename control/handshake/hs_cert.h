/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Certificates and raw public keys for the ECDHE-ECDSA suites (a leaf of the
 * handshake engine, like hs_ecdh.c): the loaded set of the public struct
 * sg_hs_certs (handshake.h) — our chain or raw public key and its private
 * key, the client CA bundle and CRLs — and what the engine does with it:
 * sign a ServerKeyExchange (with a precomputed nonce when the pool has one),
 * verify a client's chain (a cache of chains already verified skips the
 * work on a device's next handshake) or parse its raw public key, and
 * verify a CertificateVerify. X.509, ECDSA and hashes: OpenSSL libcrypto.
 *
 * A set is immutable once loaded and counted: a handshake holds the set it
 * started with (sg_hs_certs_acquire) until its slot is freed, so a reload
 * never changes what a handshake in flight sends or checks.
 *
 * Any engine thread, concurrently (the pool and the cache are shared).
 */
#ifndef STORMGATE_CONTROL_HS_CERT_H
#define STORMGATE_CONTROL_HS_CERT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <stormgate/dtls.h>
#include <stormgate/handshake.h>

/* A client's public key, as CertificateVerify checks it: an uncompressed EC point. */
#define HS_CERT_POINT_MAX 97  /* P-384: 1 + 2 x 48 */
#define HS_CERT_SIG_MAX   104 /* DER ECDSA-Sig-Value for P-384: 2 x (2 + 49) + 2 */

struct hs_peer_key {
	uint16_t curve; /* SG_TLS_GROUP_SECP256R1 or SG_TLS_GROUP_SECP384R1 */
	uint8_t point_len;
	uint8_t point[HS_CERT_POINT_MAX];
};

/* One loaded set (opaque): what sg_hs_certs_reload() swaps. */
struct hs_cert_set;

/* The current set with a reference, or NULL when c is NULL. Release it once. */
const struct hs_cert_set *sg_hs_certs_acquire(struct sg_hs_certs *c);
void sg_hs_certs_release(const struct hs_cert_set *s);

/* What we can present: an X.509 chain, a raw public key (RFC 7250), or both. */
bool hs_cert_has_x509(const struct hs_cert_set *s);
bool hs_cert_has_rpk(const struct hs_cert_set *s);
/* What we accept from clients, and whether we ask (enum sg_hs_client_auth). */
bool hs_cert_accepts_x509(const struct hs_cert_set *s);
bool hs_cert_accepts_rpk(const struct hs_cert_set *s);
uint8_t hs_cert_client_auth(const struct hs_cert_set *s);
bool hs_cert_require_policy(const struct hs_cert_set *s);
uint8_t hs_cert_identity_from(const struct hs_cert_set *s);

/*
 * Our Certificate message body (RFC 5246 §7.4.2): the certificate_list with
 * its 3-byte length, X.509 (leaf first) or, rpk true, the one
 * SubjectPublicKeyInfo of RFC 7250 §3. Shared, never copied per handshake.
 */
const uint8_t *hs_cert_body(const struct hs_cert_set *s, bool rpk, size_t *len);

/* Our key's curve (SG_TLS_GROUP_SECP256R1 or _SECP384R1) and the SignatureScheme we sign
 * with for it (SG_TLS_SIGSCHEME_ECDSA_SHA256 / _SHA384). */
uint16_t hs_cert_curve(const struct hs_cert_set *s);
uint16_t hs_cert_scheme(const struct hs_cert_set *s);

/*
 * Sign digest (the hash of client_random ‖ server_random ‖ ServerECDHParams,
 * RFC 8422 §5.4, under hs_cert_scheme()'s hash) with our key: DER
 * ECDSA-Sig-Value into sig (HS_CERT_SIG_MAX), its length in *sig_len. Takes a
 * precomputed nonce from c's pool if one is ready (*precomputed true), else
 * computes one. 0 or -errno.
 */
int hs_cert_sign(struct sg_hs_certs *c, const struct hs_cert_set *s, const uint8_t *digest,
                 size_t digest_len, uint8_t *sig, size_t *sig_len, bool *precomputed);

/*
 * A client's X.509 certificate_list (the Certificate body after its 3-byte
 * length, leaf first): verify the chain against the CA bundle and CRLs at
 * now_unix (or find it in the cache of chains verified under this set), then
 * take the leaf's EC key and its identity (subject CN or SAN URI, as
 * configured; at most SG_TLS_PSK_IDENTITY_MAX bytes). Returns 0, or the
 * counter of the failure (SG_HS_C_FAIL_BAD_CERT, _CERT_EXPIRED,
 * _CERT_REVOKED, _UNKNOWN_CA, _UNSUPPORTED_CERT), whose alert the engine
 * sends.
 */
int hs_cert_verify_x509(struct sg_hs_certs *c, const struct hs_cert_set *s, const uint8_t *list,
                        size_t len, int64_t now_unix, struct hs_peer_key *key, uint8_t *identity,
                        uint16_t *identity_len);

/*
 * A client's raw public key (one SubjectPublicKeyInfo DER, RFC 7250 §3):
 * its EC key and the SHA-256 of the DER, which ops.cert_lookup finds it by.
 * 0 or SG_HS_C_FAIL_BAD_CERT / SG_HS_C_FAIL_UNSUPPORTED_CERT.
 */
int hs_cert_parse_rpk(const uint8_t *spki, size_t len, struct hs_peer_key *key,
                      uint8_t hash[SG_HS_SPKI_HASH_LEN]);

/*
 * Verify a CertificateVerify signature (DER ECDSA-Sig-Value) by key over
 * digest, the hash of the handshake messages so far under the scheme's hash
 * (RFC 5246 §7.4.8). 0 or -EBADMSG.
 */
int hs_cert_verify_sig(const struct hs_peer_key *key, uint16_t scheme, const uint8_t *digest,
                       size_t digest_len, const uint8_t *sig, size_t sig_len);

#endif /* STORMGATE_CONTROL_HS_CERT_H */
