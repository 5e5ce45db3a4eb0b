/* SPDX-License-Identifier: Apache-2.0 */
/*
 * OpenSSL libssl's DTLS 1.2 client in process, on the client end of the
 * harness's datagram socketpair: the BIO, the PSK callback and the data
 * exchange after a handshake, shared by the interop test (test_hs_openssl)
 * and the off-path test (test_hs_offpath). Test thread only.
 */
#ifndef STORMGATE_TESTS_HS_OSSL_H
#define STORMGATE_TESTS_HS_OSSL_H

#include <stdbool.h>
#include <stdint.h>

#include <openssl/ssl.h>

#include "hs_harness.h"

/* What the client's PSK callback answers; SSL_set_app_data(ssl, this). */
struct ho_psk {
	const char *identity;
	const uint8_t *key;
	unsigned key_len;
	char hint_seen[64]; /* the server's identity hint, if it sent one */
};

/* The client's PSK callback's answer for one of the harness's PSKs. */
struct ho_psk ho_psk_of(const struct h_psk *p);

/* What the client offers. */
struct ho_opts {
	const char *cipher; /* an OpenSSL cipher list */
	const char *groups; /* an OpenSSL groups list; NULL: OpenSSL's default */
	bool no_ems;        /* no extended master secret (RFC 7627) */
	bool no_etm;        /* no encrypt_then_mac (RFC 7366; OpenSSL offers it by default) */
	uint8_t mfl;        /* max_fragment_length code to ask for (RFC 6066 §4); 0: none */
	SSL_SESSION *sess;  /* a session to resume; NULL: a full handshake */
};

/*
 * OpenSSL's DTLS 1.2 client, PSK from cc (which it keeps a pointer to), on
 * the client end of h's socketpair with a 1400-byte link MTU, in connect
 * state. Fails the test on an option OpenSSL refuses.
 */
SSL *ho_client_new(struct harness *h, const struct ho_opts *o, struct ho_psk *cc);

/*
 * One step of the client's handshake: 1 once it is done, 0 while it waits
 * for the engine; fails the test on anything else.
 */
int ho_step(SSL *ssl);

/*
 * A datagram BIO over one end of the socketpair (BIO_s_datagram wants a peer
 * address for sendto(), which an AF_UNIX socketpair has none of), answering
 * OpenSSL as the handshake benchmark's does (bench/dgram_bio.h). The fd is
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
