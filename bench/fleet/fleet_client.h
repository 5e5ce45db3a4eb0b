/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The fleet's DTLS 1.2 client handshake (issue 14): one sans-I/O state
 * machine per device, written apart from the server engine (control/handshake/)
 * so that a bug there is not mirrored here. It reads the suite registry
 * (suite.h), seals and opens its epoch-1 records with the record layer
 * (sg_record) and takes its primitives from OpenSSL libcrypto (HMAC, SHA-2,
 * X25519, P-256, RAND).
 *
 *   sg_fc_start()   the first ClientHello                     (RFC 6347 §4.2.1)
 *   sg_fc_input()   one server datagram in, the next flight out (if any)
 *   sg_fc_resend()  the last flight again, for the caller's timer (§4.2.4)
 *
 * The caller owns every buffer and every timer. Per device it keeps a small
 * struct sg_fc_dev and the SA the handshake fills (sg_rec_sa_size(window)
 * bytes); a struct sg_fc_hs holds the transient state of one handshake and can
 * be pooled: it is needed from sg_fc_start() until the device is done or
 * failed, and sg_fc_hs_wipe() clears it for the next device.
 *
 * Does: PSK (RFC 4279) and ECDHE-PSK (RFC 5489, X25519 and secp256r1) with the
 * AEAD suites the registry ranks, cookies (HelloVerifyRequest, also repeated),
 * extended master secret (RFC 7627, offered always, used when the server
 * agrees), reassembly of fragmented server messages (RFC 6347 §4.2.3),
 * answering a retransmitted server flight with ours (§4.2.4).
 * Does not yet: session tickets / resumption, connection IDs, fragmenting its
 * own flights (a flight must fit in one datagram of the caller's buffer),
 * buffering server messages that arrive ahead of the next expected one
 * (dropped, §4.2.2 allows it; the server's retransmission brings them again),
 * renegotiation, certificates.
 *
 * Threads: a device and its hs belong to one thread at a time; conf->rec is
 * used by that thread only while a call runs.
 */
#ifndef STORMGATE_FLEET_CLIENT_H
#define STORMGATE_FLEET_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#include <stormgate/dtls.h>
#include <stormgate/record.h>

#ifdef __cplusplus
extern "C" {
#endif

#define SG_FC_SUITES_MAX SG_SUITES_RANKED
#define SG_FC_MSG_MAX    1024 /* largest server handshake message reassembled */
#define SG_FC_TRANSCRIPT 2048 /* handshake messages hashed for Finished and EMS */
#define SG_FC_FLIGHT_MAX 512  /* our last flight's handshake messages */
#define SG_FC_ECDHE_PUB  65   /* secp256r1 uncompressed point; X25519 is 32 */
#define SG_FC_HVR_MAX    4    /* HelloVerifyRequests answered per handshake */

/* Where a device is. */
enum sg_fc_state {
	SG_FC_IDLE = 0,      /* no handshake */
	SG_FC_WAIT_HELLO,    /* ClientHello sent: HelloVerifyRequest or ServerHello next */
	SG_FC_WAIT_DONE,     /* ServerHello seen: ServerKeyExchange, ServerHelloDone next */
	SG_FC_WAIT_FINISHED, /* our Finished sent: the server's CCS and Finished next */
	SG_FC_DONE,          /* keys verified; dev->sa seals and opens application data */
	SG_FC_FAILED,        /* dev->sa wiped; see dev->error */
};

/* What a device offers and proves. Read during the calls; the caller keeps it alive. */
struct sg_fc_conf {
	struct sg_rec_ctx *rec; /* seals/opens the Finished records; its window is the SA's */
	const uint16_t *suites; /* IANA ids offered, in order (ranked PSK / ECDHE-PSK rows) */
	unsigned n_suites;      /* 1..SG_FC_SUITES_MAX */
	const char *identity;   /* PSK identity, 1..SG_TLS_PSK_IDENTITY_MAX bytes */
	const uint8_t *psk;     /* the key */
	unsigned psk_len;       /* 1..SG_TLS_PSK_MAX */
};

/* What a device keeps between handshakes (the fleet holds one per device). */
struct sg_fc_dev {
	struct sg_rec_sa *sa; /* caller's memory, sg_rec_sa_size(window) bytes: live when DONE */
	uint16_t suite;       /* negotiated IANA id (DONE) */
	uint8_t state;        /* enum sg_fc_state */
	uint8_t ems;          /* 1: the master secret is RFC 7627's */
	int error;            /* FAILED: the -errno that ended it */
	uint8_t alert;        /* FAILED by a server alert: its description */
};

/* The transient state of one handshake (about 4.2 KB): poolable. */
struct sg_fc_hs {
	const struct sg_fc_conf *conf;
	const struct sg_suite *suite;
	uint64_t tx_seq0;    /* next epoch-0 record sequence number */
	uint16_t tx_msg_seq; /* message_seq of our next message (§4.2.2) */
	uint16_t rx_msg_seq; /* message_seq of the server's next message */
	uint8_t hvr_count;   /* HelloVerifyRequests seen */
	uint8_t ems;         /* the server echoed extended_master_secret */
	uint8_t peer_ccs;    /* the server's ChangeCipherSpec seen */
	uint8_t ske_seen;    /* a ServerKeyExchange was processed */
	uint8_t group;       /* ECDHE: SG_TLS_GROUP_* the server chose (low byte) */
	uint8_t cookie_len;
	uint8_t cookie[SG_DTLS_COOKIE_MAX];
	uint8_t client_random[SG_TLS_RANDOM_LEN];
	uint8_t server_random[SG_TLS_RANDOM_LEN];
	uint8_t master[SG_TLS_MASTER_SECRET_LEN];
	uint8_t peer_pub_len;
	uint8_t peer_pub[SG_FC_ECDHE_PUB]; /* the server's ECDHE share */
	/* reassembly of the server's next message (RFC 6347 §4.2.3) */
	uint8_t msg_active; /* a fragment of message rx_msg_seq arrived */
	uint8_t msg_type;
	uint32_t msg_len;
	uint32_t msg_have;                  /* bytes covered so far */
	uint8_t msg_map[SG_FC_MSG_MAX / 8]; /* one bit per byte received */
	uint8_t msg[SG_FC_MSG_MAX];
	/* our last flight: handshake messages with their DTLS headers */
	uint16_t flight_len;
	uint16_t flight_epoch1; /* offset of the first message sent under epoch 1 (0: none) */
	uint8_t flight[SG_FC_FLIGHT_MAX];
	/* every handshake message of the transcript (RFC 5246 §7.4.9, RFC 6347 §4.2.6) */
	uint16_t transcript_len;
	uint8_t transcript[SG_FC_TRANSCRIPT];
};

/*
 * Begin a handshake for dev with hs (any contents; it is reset) and conf:
 * writes the first ClientHello datagram (epoch 0) into out (cap bytes) and
 * its length into *out_len; dev->state becomes WAIT_HELLO. Returns 0,
 * -EINVAL (bad conf: unknown or unranked suite, lengths), -EMSGSIZE (cap too
 * small) or -EIO (no randomness). Owner thread of dev and hs.
 */
int sg_fc_start(struct sg_fc_dev *dev, struct sg_fc_hs *hs, const struct sg_fc_conf *conf,
                uint8_t *out, size_t cap, size_t *out_len);

/*
 * Consume one server datagram (in, len; read only). Writes the next flight
 * into out when one is due (ClientHello with the cookie after a
 * HelloVerifyRequest; ClientKeyExchange + ChangeCipherSpec + Finished after
 * ServerHelloDone; our last flight again when the server repeated its own),
 * else *out_len = 0. Returns 0 while the handshake goes on or once it is
 * DONE (the server Finished verified; dev->sa holds the epoch-1 keys, the
 * Finished records' sequence numbers spent), and -errno when it failed:
 * -ECONNREFUSED (fatal alert, dev->alert), -EPROTO (a message we must not
 * accept: wrong suite, version, extension, a bad Finished), -EMSGSIZE (cap),
 * -EIO (crypto). A record that cannot be framed, an unknown epoch, a
 * record failing authentication or a malformed fragment is dropped and the
 * call returns 0 (RFC 6347 §4.1.2.7: invalid records are silently
 * discarded). After DONE or FAILED the call does nothing. Owner thread.
 */
int sg_fc_input(struct sg_fc_dev *dev, struct sg_fc_hs *hs, const uint8_t *in, size_t len,
                uint8_t *out, size_t cap, size_t *out_len);

/*
 * Our last flight again, with fresh record sequence numbers (RFC 6347 §4.1:
 * a retransmitted record is a new record), for the caller's retransmission
 * timer (§4.2.4). *out_len = 0 when nothing is outstanding. Returns 0,
 * -EMSGSIZE or -EIO. Owner thread.
 */
int sg_fc_resend(struct sg_fc_dev *dev, struct sg_fc_hs *hs, uint8_t *out, size_t cap,
                 size_t *out_len);

/* Wipe hs (master secret, transcript, cookie) for reuse or release. Any thread owning hs. */
void sg_fc_hs_wipe(struct sg_fc_hs *hs);

/* Stable label of a state ("wait_hello"), or "unknown". Any thread. */
const char *sg_fc_state_name(enum sg_fc_state state);

#ifdef __cplusplus
}
#endif

#endif /* STORMGATE_FLEET_CLIENT_H */
