/* SPDX-License-Identifier: Apache-2.0 */
/*
 * OpenSSL libssl's DTLS 1.2 client in process, on the client end of the
 * harness's datagram socketpair: the BIO, the PSK callback and the data
 * exchange after a handshake, shared by the interop test (test_hs_openssl)
 * and the off-path test (test_hs_offpath). Test thread only.
 */
#ifndef STORMGATE_TESTS_HS_OSSL_H
#define STORMGATE_TESTS_HS_OSSL_H

#include <openssl/ssl.h>

#include "hs_harness.h"

/* What the client's PSK callback answers; SSL_set_app_data(ssl, this). */
struct ho_psk {
	const char *identity;
	const uint8_t *key;
	unsigned key_len;
	char hint_seen[64]; /* the server's identity hint, if it sent one */
};

/*
 * A datagram BIO over one end of the socketpair (BIO_s_datagram wants a peer
 * address for sendto(), which an AF_UNIX socketpair has none of). The fd is
 * not closed with the BIO.
 */
BIO *ho_pair_bio(int fd);

/* SSL_set_psk_client_callback() callback answering from the struct ho_psk in app data. */
unsigned int ho_psk_cb(SSL *ssl, const char *hint, char *identity, unsigned int max_id,
                       unsigned char *psk, unsigned int max_psk);

/*
 * Application data both ways after a handshake: the client's record opened
 * with the keys the engine installed, one sealed with them read by the
 * client. Fails the test otherwise.
 */
void ho_exchange_data(struct harness *h, SSL *ssl);

#endif /* STORMGATE_TESTS_HS_OSSL_H */
