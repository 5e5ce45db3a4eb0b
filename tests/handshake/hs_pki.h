/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The test PKI of the certificate tests (test_hs_ecdsa, its threads test):
 * a CA and another CA, the gateway's P-256 certificates (two, for reloads)
 * and key, client certificates (good, expired, revoked by the CA's CRL,
 * from the other CA) on one client key, and another key; made at test time
 * with OpenSSL's API (hs_pki_setup, a cmocka group setup) and written as
 * PEM files (P.file) in a temporary directory that hs_pki_teardown removes.
 * The test thread makes and frees it; other threads only read it.
 */
#ifndef STORMGATE_TESTS_HS_PKI_H
#define STORMGATE_TESTS_HS_PKI_H

#include <stdint.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include <stormgate/handshake.h>

#define CLIENT_CN "urn:dev:ops:ecdsa-client-1" /* every client certificate's subject CN */

/* The files: the gateway's chain (leaf, CA), its key, the CA bundle, the CRL, another chain. */
enum { F_SRV, F_KEY, F_CA, F_CRL, F_SRV2, F_N };

struct hs_pki {
	char dir[64];
	char file[F_N][96];
	EVP_PKEY *ca_key, *other_key, *srv_key, *cli_key, *wrong_key;
	X509 *ca, *other, *srv, *srv2, *cli, *cli_expired, *cli_revoked, *cli_other;
};

extern struct hs_pki P;

int hs_pki_setup(void **state);
int hs_pki_teardown(void **state);

/* SHA-256 of key's SubjectPublicKeyInfo DER: what the store finds a raw public key by. */
void hs_pki_spki_hash(EVP_PKEY *key, uint8_t out[SG_HS_SPKI_HASH_LEN]);

#endif /* STORMGATE_TESTS_HS_PKI_H */
