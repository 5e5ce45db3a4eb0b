/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A scripted DTLS 1.2 PSK / ECDHE-PSK client for the engine's tests: every
 * message is built explicitly so a test can drop, repeat, reorder, split,
 * corrupt or replace any of them. It shares the engine's PRF and record
 * layer, so it proves nothing about key derivation on its own: the OpenSSL
 * and GnuTLS interop tests do that. It exists for what those clients
 * cannot do: connection IDs (RFC 9146), the RFC 8442 ECDHE-PSK AES suites,
 * the negative table, and CBC-SHA256 with what no client offers beside it
 * (connection IDs, rrc).
 */
#ifndef STORMGATE_TESTS_HS_CLIENT_H
#define STORMGATE_TESTS_HS_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

#include <stormgate/record.h>

#include "hs_crypto.h"
#include "hs_ecdh.h"
#include "hs_harness.h"

#define HC_REC_MAX 1024

struct hc_opts {
	uint16_t suites[8]; /* offered; 0-terminated */
	uint16_t version;   /* client_version; 0: DTLS 1.2 */
	bool no_ems;
	bool fallback_scsv; /* RFC 7507 */
	bool no_groups;     /* omit supported_groups */
	uint16_t group;     /* NamedGroup offered (0: x25519 and secp256r1) */
	int reneg_len;      /* renegotiation_info length; -1: extension absent */
	const char *sni;
	bool cid;        /* offer connection_id */
	uint8_t cid_len; /* our (client) CID length when cid */
	bool rrc;        /* offer rrc (RFC 9853 §3) */
	bool etm;        /* offer encrypt_then_mac (RFC 7366) */
	uint8_t mfl;
	uint16_t rsl;
	bool ticket_ext; /* offer session_ticket (with ticket[] if set) */
	const uint8_t *ticket;
	uint16_t ticket_len;
	const uint8_t *resume_master; /* with ticket: the session's master secret */
	const char *identity;
	const uint8_t *psk;
	uint8_t psk_len;
};

struct hc {
	struct hc_opts o;
	struct sg_hs_crypto crypto;
	struct sg_hs_ecdh ecdh;
	struct sg_hs_transcript transcript;
	struct sg_rec_ctx *rec;
	uint8_t random[32];
	uint8_t server_random[32];
	uint8_t cookie[255];
	uint8_t cookie_len;
	uint8_t session_id[32];
	uint8_t session_id_len;
	uint16_t msg_seq; /* our next message_seq */
	uint16_t srv_seq; /* server's next message_seq expected */
	uint64_t rec_seq; /* our next epoch-0 record sequence number */
	uint16_t suite;
	bool ecdhe;
	bool ems;
	bool resumed;
	uint8_t hash; /* enum sg_hs_hash */
	uint16_t ske_group;
	uint8_t ske_point[65];
	uint8_t ske_point_len;
	uint8_t server_cid[16]; /* what we must put in our epoch-1 records */
	uint8_t server_cid_len;
	bool cid_ok;
	bool rrc_ok; /* the server echoed rrc */
	bool etm_ok; /* the server echoed encrypt_then_mac (RFC 7366 §2) */
	uint8_t master[48];
	uint8_t sa_buf[256] __attribute__((aligned(64))); /* client view: rx = server write */
	uint8_t ticket[512];                              /* NewSessionTicket received */
	uint16_t ticket_len;
	uint8_t last_alert; /* description of the last alert received, 0: none */
	bool server_finished_ok;
	uint8_t finished[24]; /* our last Finished message, as sent (hc_rec_finished_again) */
};

void hc_init(struct hc *c, const struct hc_opts *o);
void hc_free(struct hc *c);

/* The ClientHello datagram (with the cookie if we have one). Returns its length. */
size_t hc_client_hello(struct hc *c, uint8_t *out, size_t cap);

/*
 * Read a datagram from the server. Returns what it held: 'V' a
 * HelloVerifyRequest (cookie kept), 'H' ServerHello..ServerHelloDone (full),
 * 'R' ServerHello..Finished (abbreviated, Finished verified), 'F' the final
 * flight (NewSessionTicket, Finished verified), 'A' an alert (last_alert),
 * or 0 for anything else.
 */
int hc_on_datagram(struct hc *c, const uint8_t *d, size_t len);

/*
 * The client's second flight as separate records (each a datagram of its
 * own if sent alone): ClientKeyExchange, ChangeCipherSpec, Finished. Keys
 * are derived here. bad_finished flips a bit of verify_data.
 */
size_t hc_rec_cke(struct hc *c, uint8_t *out, size_t cap);
size_t hc_rec_ccs(struct hc *c, uint8_t *out, size_t cap);
size_t hc_rec_finished(struct hc *c, uint8_t *out, size_t cap, bool bad_finished);

/* An epoch-1 application-data record (uses the CID when negotiated). */
size_t hc_rec_app(struct hc *c, const uint8_t *pt, size_t len, uint8_t *out, size_t cap);

/* An epoch-1 record of any content type (a handshake message, an alert). */
size_t hc_rec_sealed(struct hc *c, uint8_t type, const uint8_t *pt, size_t len, uint8_t *out,
                     size_t cap);

/*
 * Our last Finished again, sealed under the next record sequence number, as
 * a client retransmitting its final flight does (RFC 6347 §4.2.4).
 */
size_t hc_rec_finished_again(struct hc *c, uint8_t *out, size_t cap);

/* Open an epoch-1 record from the server; plaintext length or -1. */
int hc_open(struct hc *c, const uint8_t *rec, size_t len, uint8_t *pt, size_t cap);

/* Run a whole handshake against the harness (capture mode). Returns 0 or -1. */
int hc_handshake(struct hc *c, struct harness *h);

/* Feed every captured engine datagram to the client; returns the last hc_on_datagram(). */
int hc_drain(struct hc *c, struct harness *h);

/*
 * Application data both ways with the keys the engine installed: a record
 * from the client opened with h's session, one sealed with it opened by the
 * client. Fails the test otherwise.
 */
void hc_data_both_ways(struct hc *c, struct harness *h);

/* Options for a PSK client offering one suite with the harness's first identity. */
struct hc_opts hc_psk_opts(uint16_t suite);

/* ClientHello (and the cookie round) until the server's flight 4; what came back. */
int hc_to_flight4(struct hc *c, struct harness *h);

/* ClientKeyExchange + ChangeCipherSpec + Finished in one datagram. */
size_t hc_flight5(struct hc *c, uint8_t *d, size_t cap, bool bad_finished);

/*
 * A ClientHello datagram of exactly len bytes: one record holding the whole
 * message, offering TLS_PSK_WITH_AES_128_CCM_8, grown to len by a padding
 * extension (RFC 7685) of zeros. No cookie, fixed random. For the engine's
 * input bound and the fuzz seeds. Returns len.
 */
size_t hc_padded_hello(uint8_t *out, size_t len);

#endif /* STORMGATE_TESTS_HS_CLIENT_H */
