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
 * bytes), and for a device that resumes a struct sg_fc_ticket (the ticket
 * slot, conf->ticket); a struct sg_fc_hs holds the transient state of one
 * handshake and can be pooled: it is needed from sg_fc_start() until the
 * device is done or failed (after an abbreviated handshake, a little longer
 * to answer a repeated server flight), and sg_fc_hs_wipe() clears it for the
 * next device.
 *
 * Does: PSK (RFC 4279) and ECDHE-PSK (RFC 5489, X25519 and secp256r1) with the
 * AEAD suites the registry ranks (sg_fc_suite_spoken()), cookies (HelloVerifyRequest, also
 * repeated), extended master secret (RFC 7627, offered always, used when the server agrees),
 * reassembly of fragmented server messages (RFC 6347 §4.2.3), answering a retransmitted server
 * flight with ours (§4.2.4), session tickets and the abbreviated handshake (RFC 5077, when
 * conf->ticket is set; EMS on resumption per RFC 7627 §5.3), connection IDs (RFC 9146, when
 * conf->use_cid is set).
 * Does not yet: fragmenting its own flights (a flight must fit in one
 * datagram of the caller's buffer), buffering server messages that arrive
 * ahead of the next expected one (dropped, §4.2.2 allows it; the server's
 * retransmission brings them again), renegotiation, certificates.
 *
 * Threads: a device and its hs belong to one thread at a time; conf->rec is
 * used by that thread only while a call runs.
 */
#ifndef STORMGATE_FLEET_CLIENT_H
#define STORMGATE_FLEET_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <stormgate/dtls.h>
#include <stormgate/record.h>
#include <stormgate/suite.h>

#ifdef __cplusplus
extern "C" {
#endif

#define SG_FC_SUITES_MAX   SG_SUITES_RANKED
#define SG_FC_MSG_MAX      1024 /* largest server handshake message reassembled */
#define SG_FC_TRANSCRIPT   3072 /* handshake messages hashed for Finished and EMS */
#define SG_FC_FLIGHT_MAX   1024 /* our last flight's handshake messages */
#define SG_FC_ECDHE_PUB    65   /* secp256r1 uncompressed point; X25519 is 32 */
#define SG_FC_HVR_MAX      4    /* HelloVerifyRequests answered per handshake */
#define SG_FC_TICKET_MAX   400  /* longest ticket kept (the gateway's are <= 273 B) */
#define SG_FC_CID_MAX      32   /* our CID (conf->cid_len) */
#define SG_FC_PEER_CID_MAX 16   /* the server's CID we keep (the gateway issues 8..16 B) */
#define SG_FC_SESSION_ID   32   /* the session_id sent with a ticket (RFC 5077 §3.4) */

/*
 * The suites the fleet speaks: the PSK and ECDHE-PSK AEAD rows the registry
 * ranks. Not the CBC-SHA256 ones (a device's SA is sg_rec_sa_size() bytes,
 * without the MAC line of a wide SA) nor ECDHE-ECDSA (no certificates).
 * Any thread.
 */
static inline bool sg_fc_suite_spoken(const struct sg_suite *su)
{
	return su != NULL && su->rank != 0 && (su->kx == SG_KX_PSK || su->kx == SG_KX_ECDHE_PSK) &&
	       !sg_aead_wide(su->aead);
}

/* Where a device is. */
enum sg_fc_state {
	SG_FC_IDLE = 0,      /* no handshake */
	SG_FC_WAIT_HELLO,    /* ClientHello sent: HelloVerifyRequest or ServerHello next */
	SG_FC_WAIT_DONE,     /* ServerHello seen: ServerKeyExchange, ServerHelloDone next */
	SG_FC_WAIT_FINISHED, /* full: our Finished sent; resumed: the ServerHello took our
	                      * ticket; either way [NewSessionTicket], CCS, Finished next */
	SG_FC_DONE,          /* keys verified; dev->sa seals and opens application data */
	SG_FC_FAILED,        /* dev->sa wiped; see dev->error */
};

/*
 * What a session resumes from (RFC 5077 §3.1): the server's ticket and the
 * session state the ticket stands for, which the server does not send back.
 * Caller's memory, one per device that resumes (sizeof: 460 bytes, most of
 * it the ticket), e.g. in a side pool; it holds a master secret, so wipe it
 * with sg_fc_ticket_wipe() before freeing or reusing it for another device.
 * Written by a handshake that got a ticket, read by the next one; len 0: none.
 */
struct sg_fc_ticket {
	uint16_t len;      /* ticket bytes; 0: no ticket (the next handshake is full) */
	uint16_t suite;    /* the session's suite (IANA id): the server must resume it */
	uint8_t ems;       /* 1: the session's master secret is RFC 7627's (§5.3) */
	uint32_t lifetime; /* ticket_lifetime_hint, seconds (RFC 5077 §3.3; 0: unspecified) */
	uint8_t master[SG_TLS_MASTER_SECRET_LEN];
	uint8_t ticket[SG_FC_TICKET_MAX];
};

/* What a device offers and proves. Read during the calls; the caller keeps it alive. */
struct sg_fc_conf {
	struct sg_rec_ctx *rec; /* seals/opens the Finished records; its window is the SA's */
	const uint16_t *suites; /* IANA ids offered, in order (sg_fc_suite_spoken() rows) */
	unsigned n_suites;      /* 1..SG_FC_SUITES_MAX */
	const char *identity;   /* PSK identity, 1..SG_TLS_PSK_IDENTITY_MAX bytes */
	const uint8_t *psk;     /* the key */
	unsigned psk_len;       /* 1..SG_TLS_PSK_MAX */
	/*
	 * NULL: no tickets. Else the device's ticket slot: the session_ticket
	 * extension is offered, empty when the slot holds no ticket whose suite
	 * is offered, else with that ticket and a session_id (RFC 5077 §3.4);
	 * a ticket the server issues is stored into it when the handshake
	 * completes, a rejected one is dropped (len 0), and a failed handshake
	 * that offered one wipes it (RFC 5246 §7.2.2).
	 */
	struct sg_fc_ticket *ticket;
	/*
	 * 1: offer connection_id (RFC 9146 §3) with our CID, cid[0..cid_len):
	 * 0..SG_FC_CID_MAX bytes, 0 meaning "send me yours, I want none"; a
	 * non-empty CID must be as long as the record context's
	 * (sg_rec_ctx_cid_len(rec)), which frames the records carrying it.
	 */
	uint8_t use_cid;
	uint8_t cid_len;
	const uint8_t *cid;
	/*
	 * ECDHE-PSK: 0 offers X25519, then secp256r1 (the server picks); else the
	 * one group offered (SG_TLS_GROUP_X25519 or SG_TLS_GROUP_SECP256R1), and a
	 * ServerKeyExchange naming another fails the handshake.
	 */
	uint16_t group;
};

/*
 * What a device keeps between handshakes (the fleet holds one per device):
 * 40 bytes, plus the SA (sg_rec_sa_size(window), 128 bytes for windows up
 * to 128), plus a struct sg_fc_ticket for a device that resumes.
 */
struct sg_fc_dev {
	struct sg_rec_sa *sa; /* caller's memory, sg_rec_sa_size(window) bytes: live when DONE */
	uint16_t suite;       /* negotiated IANA id (DONE) */
	uint8_t state;        /* enum sg_fc_state */
	uint8_t ems;          /* 1: the master secret is RFC 7627's */
	int error;            /* FAILED: the -errno that ended it */
	uint8_t alert;        /* FAILED by a server alert: its description */
	uint8_t resumed;      /* DONE by an abbreviated handshake (RFC 5077 §3.1) */
	/*
	 * 1: connection IDs negotiated (RFC 9146): the SA opens tls12_cid
	 * records carrying our CID when ours is not empty (SG_SA_F_RX_CID), and
	 * seals with the server's, peer_cid[0..peer_cid_len), when that is not
	 * empty (SG_SA_F_TX_CID: pass it as sg_rec_seal_op.cid / .cid_len).
	 */
	uint8_t cid;
	uint8_t peer_cid_len;
	uint8_t peer_cid[SG_FC_PEER_CID_MAX];
};

/* The transient state of one handshake (about 6.1 KB): poolable. */
struct sg_fc_hs {
	const struct sg_fc_conf *conf;
	const struct sg_suite *suite;
	uint64_t tx_seq0;       /* next epoch-0 record sequence number */
	uint16_t tx_msg_seq;    /* message_seq of our next message (§4.2.2) */
	uint16_t rx_msg_seq;    /* message_seq of the server's next message */
	uint8_t hvr_count;      /* HelloVerifyRequests seen */
	uint8_t ems;            /* the server echoed extended_master_secret */
	uint8_t peer_ccs;       /* the server's ChangeCipherSpec seen */
	uint8_t ske_seen;       /* a ServerKeyExchange was processed */
	uint8_t group;          /* ECDHE: SG_TLS_GROUP_* the server chose (low byte) */
	uint8_t ticket_offered; /* our ClientHello carries conf->ticket and session_id */
	uint8_t abbrev;         /* the server echoed session_id: abbreviated (RFC 5077 §3.4) */
	uint8_t nst_expected;   /* the ServerHello had session_ticket: NewSessionTicket next */
	uint8_t nst_seen;       /* it came; nst_len bytes of nst to keep once Finished verifies */
	uint8_t session_id[SG_FC_SESSION_ID];
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
	/* the server's NewSessionTicket (RFC 5077 §3.3), kept once its Finished verifies */
	uint32_t nst_lifetime;
	uint16_t nst_len; /* 0: an empty ticket, or one over SG_FC_TICKET_MAX (not kept) */
	uint8_t nst[SG_FC_TICKET_MAX];
	/* our last flight: handshake messages with their DTLS headers */
	uint16_t flight_len;
	uint16_t flight_epoch1; /* flight_ccs: offset of the first message sent under epoch 1 */
	uint8_t flight_ccs;     /* the flight ends with ChangeCipherSpec and our Finished */
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
 * ServerHelloDone; ChangeCipherSpec + Finished after the server's Finished
 * in an abbreviated handshake; our last flight again when the server
 * repeated its own), else *out_len = 0. Returns 0 while the handshake goes
 * on or once it is DONE (the server Finished verified; dev->sa holds the
 * epoch-1 keys, the Finished records' sequence numbers spent; a ticket the
 * server issued is in conf->ticket), and -errno when it failed:
 * -ECONNREFUSED (fatal alert, dev->alert), -EPROTO (a message we must not
 * accept: wrong suite, version, extension, a resumption that changes the
 * suite or EMS, a server CID over SG_FC_PEER_CID_MAX, a bad Finished),
 * -EMSGSIZE (cap, or the next server message over SG_FC_MSG_MAX), -EIO
 * (crypto). A record that cannot be framed, an
 * unknown epoch, a record failing authentication or a malformed fragment is
 * dropped and the call returns 0 (RFC 6347 §4.1.2.7: invalid records are
 * silently discarded). After FAILED, and after DONE by a full handshake,
 * the call does nothing. After DONE by an abbreviated one our Finished went
 * last, so the server repeats its flight if ours was lost (RFC 6347 §4.2.4):
 * as long as the caller keeps hs (unwiped), such a repeat is answered with
 * our final flight again; application records are left to the caller.
 * Owner thread.
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

/*
 * Wipe t (master secret and ticket): len 0, nothing to resume. For a slot
 * freed or given to another device, or a session the caller gave up on.
 * The thread owning the device.
 */
void sg_fc_ticket_wipe(struct sg_fc_ticket *t);

/* Stable label of a state ("wait_hello"), or "unknown". Any thread. */
const char *sg_fc_state_name(enum sg_fc_state state);

#ifdef __cplusplus
}
#endif

#endif /* STORMGATE_FLEET_CLIENT_H */
