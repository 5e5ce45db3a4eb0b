/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Test harness for the handshake engine: an engine wired to a datagram
 * socketpair (the client side is what OpenSSL's or GnuTLS's DTLS client
 * uses), a PSK table as credential store, the installed sessions captured,
 * and application data exchanged through the record layer with the
 * installed keys. Shared by the interop and negative tests.
 */
#ifndef STORMGATE_TESTS_HS_HARNESS_H
#define STORMGATE_TESTS_HS_HARNESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <stormgate/handshake.h>
#include <stormgate/record.h>

#define H_PSK_IDENTITY "urn:dev:imei:490154203237518"
#define H_OUT_MAX      64

struct h_psk {
	const char *identity;
	uint8_t key[32];
	uint8_t key_len;
	uint32_t flags;
};

extern const struct h_psk h_psks[];
extern const unsigned h_n_psks;

struct h_session {
	struct sg_hs_result res; /* sa points to sa_buf */
	uint8_t sa_buf[1024] __attribute__((aligned(64)));
};

struct harness {
	struct sg_hs_engine *e;
	struct sg_hs_config conf;
	struct sg_hs_time now;
	struct sg_hs_peer peer;
	int fd[2];    /* [0] client end, [1] our end */
	bool capture; /* engine output to out[] instead of the socket */
	uint8_t out[H_OUT_MAX][2048];
	size_t out_len[H_OUT_MAX];
	unsigned n_out;
	unsigned n_installed;
	uint64_t tag;   /* passed to sg_hs_input() with each datagram h_input() feeds */
	int install_rc; /* what ops.install returns */
	struct h_session sess;
	unsigned n_lookups;
	bool revoked; /* the credential store forgets every identity */
	uint32_t next_cid;
	unsigned cids_held;
	struct sg_rec_ctx *rec; /* for data after the handshake */
	uint64_t seq_seen;
	uint64_t in_dgrams, in_bytes;   /* fed to sg_hs_input() by h_input() */
	uint64_t out_dgrams, out_bytes; /* the engine's through ops.send, captured or sent */
};

/* Fill conf with test defaults (callbacks to h). */
void h_config(struct harness *h, struct sg_hs_config *conf);

/*
 * A harness with the test defaults (h_config), cookie_policy and 8-byte
 * CIDs, everything else zero; h->conf may be changed before h_start().
 */
void h_prepare(struct harness *h, uint8_t cookie_policy);

/* Create the engine from h->conf and the socketpair. 0 or fails the test. */
void h_start(struct harness *h);

/* h_prepare(), h_start() and capture mode. */
void h_start_capture(struct harness *h, uint8_t cookie_policy);
void h_stop(struct harness *h);

/* Feed every datagram waiting on our end to the engine; returns how many. */
unsigned h_pump(struct harness *h);

/* Read one datagram from our end (nonblocking): its length, or 0. */
size_t h_recv(struct harness *h, uint8_t *buf, size_t cap);

/* Feed one datagram (counted in in_dgrams, in_bytes). */
void h_input(struct harness *h, const uint8_t *d, size_t len);

/* Advance the clocks and run the engine's timers. */
void h_advance(struct harness *h, uint64_t ms);

/* Counter value. */
uint64_t h_count(struct harness *h, enum sg_hs_counter c);

/*
 * Open a record the client sent with the installed SA: its plaintext into
 * pt; returns the length, or -1 if it did not open.
 */
int h_open(struct harness *h, const uint8_t *rec, size_t len, uint8_t *pt, size_t cap);

/*
 * pt sealed as one record of type under sa in rec's context (with cid when
 * sa sends one, RFC 9146), into out: the record's length. Fails the test
 * when it does not fit in cap.
 */
size_t h_seal_record(struct sg_rec_ctx *rec, struct sg_rec_sa *sa, const uint8_t *cid,
                     uint8_t cid_len, uint8_t type, const uint8_t *pt, size_t len, uint8_t *out,
                     size_t cap);

/* Seal pt as application data with the installed SA and send it to the client. */
void h_seal_send(struct harness *h, const uint8_t *pt, size_t len);

/*
 * A client's side of application data, on the client end of the
 * socketpair: send seals len bytes of pt as one record and sends it
 * (returns len, or less on failure); recv reads one record the engine's end
 * sent and opens it into buf (the plaintext's length, or < 0).
 */
struct h_client {
	void *ctx;
	long (*send)(void *ctx, const void *pt, size_t len);
	long (*recv)(void *ctx, void *buf, size_t cap);
};

/*
 * Application data both ways after a handshake: up (a string, sent with its
 * NUL) from client c, opened with the keys the engine installed; down sealed
 * with them and read by c. Fails the test otherwise.
 */
void h_data_both_ways(struct harness *h, const struct h_client *c, const char *up,
                      const char *down);

/* Datagrams fed that ended in an outcome counter (handshake.h: exactly one each). */
uint64_t h_dgram_outcomes(struct harness *h);

/* Heap bytes in use now (the sanitizer's allocator's count under ASan, else mallinfo2). */
size_t h_heap_used(void);

#endif /* STORMGATE_TESTS_HS_HARNESS_H */
