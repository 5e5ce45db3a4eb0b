/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The linger table of the handshake engine (internal to sg_handshake): the
 * final flight of each completed full handshake, kept for linger_ms to
 * answer a client whose copy was lost and who repeats its Finished
 * (RFC 6347 §4.2.4). A ring in time order with a keyed peer index; each
 * entry holds the client's write key, so only a fresh Finished that
 * authenticates earns the flight again.
 *
 * A retransmission goes in new records with new sequence numbers (RFC 6347
 * §4.1, §4.2.4): the epoch-0 records are renumbered, and the Finished is
 * sealed anew under one of LINGER_RESENDS epoch-1 sequence numbers the
 * handshake reserved before it installed the session (the session's write
 * sequence starts past them). So the engine seals only numbers no worker
 * will ever use, and never touches the installed SA: one sealer per
 * (key, nonce). docs/handshake.md, "Linger".
 *
 * Above hs_slots (the peer hash, the handshake SA's window), below
 * hs_output: the output keeps a flight's datagrams here as they go out, and
 * a resend goes straight to ops.send, so the table never calls the output
 * (hs_priv.h lists the stack). The engine's thread only. These functions
 * touch the ring and its index in struct sg_hs_engine (hs_priv.h), the
 * engine's record context and scratch (to open a Finished), ops.send and
 * the counters.
 */
#ifndef STORMGATE_CONTROL_HS_LINGER_H
#define STORMGATE_CONTROL_HS_LINGER_H

#include <stddef.h>
#include <stdint.h>

#include <stormgate/dtls.h>
#include <stormgate/handshake.h>
#include <stormgate/record.h>

struct sg_hs_engine;
struct hs_rx;
struct hs_slot;

#define LINGER_FLIGHT_MAX 512 /* NewSessionTicket + ChangeCipherSpec + Finished */
#define LINGER_DGRAMS     4
/*
 * Epoch-1 sequence numbers reserved after our Finished for new copies of it:
 * a client's timer doubles from 1 s (RFC 6347 §4.2.4.1), so it retransmits
 * about five times within the default linger_ms of 30 s, and we answer at
 * most once per rto_initial_ms. A Finished past them gets nothing
 * (linger_spent).
 */
#define LINGER_RESENDS 8
/* Our Finished message: its header and verify_data (RFC 5246 §7.4.9). */
#define LINGER_FIN_LEN (SG_DTLS_HS_HDR_LEN + SG_TLS_VERIFY_DATA_LEN)

/*
 * A finished flight kept to answer a retransmitted client Finished (RFC 6347
 * §4.2.4), with the client's write key and replay window so that only a
 * fresh Finished that authenticates earns it, and our write key with the
 * reserved sequence numbers to seal our Finished anew. Holds secrets: wiped
 * when it expires, is overwritten or gives up (sg_hs_linger_kill).
 */
struct hs_linger {
	/* client_write key, IV, window (HS_SA_WINDOW); server_write key, IV and
	 * tx_word at the next reserved number */
	struct sg_rec_sa sa;
	/*
	 * Never both, so they share the line that follows the SA (the entry
	 * stays 832 B): a CBC suite's MAC keys (the SA's MAC line,
	 * sg_rec_sa_mac()), or the client's CID our records carry
	 * (SG_SA_F_TX_CID), which only an AEAD session has (hs_hello.c).
	 */
	union {
		struct sg_rec_sa_mac sa_mac;
		uint8_t peer_cid[SG_HS_PEER_CID_MAX];
	};
	struct sg_hs_peer peer;
	uint32_t hnext;
	uint32_t bucket;
	uint8_t live;
	uint8_t n_dgrams;
	uint8_t fin_left;     /* reserved numbers left (LINGER_RESENDS at first) */
	uint8_t peer_cid_len; /* the client's CID our records carry (SG_SA_F_TX_CID) */
	uint16_t dgram_len[LINGER_DGRAMS];
	uint64_t expires;
	uint64_t next_resend; /* monotonic ms before which a Finished earns nothing */
	uint64_t ep0_seq;     /* next epoch-0 record number of the renumbered flight */
	uint8_t fin_msg[LINGER_FIN_LEN];
	/* the datagrams as sent; our Finished's record ends the last one */
	uint8_t flight[LINGER_FLIGHT_MAX];
};

/*
 * Allocate conf.linger_entries entries and their peer index, touched now.
 * 0 or -ENOMEM (nothing left allocated). At creation.
 */
int sg_hs_linger_alloc(struct sg_hs_engine *e);

/* Wipe every entry (keys and flights) and free the table. */
void sg_hs_linger_free(struct sg_hs_engine *e);

/* Drop the entries expired at now_ms (the ring is in time order); how many. */
unsigned sg_hs_linger_expire(struct sg_hs_engine *e, uint64_t now_ms);

/* When the oldest entry expires (monotonic ms), UINT64_MAX when none is kept. */
uint64_t sg_hs_linger_next_expiry(const struct sg_hs_engine *e);

/* The live entry of peer (hash: sg_hs_peer_hash() of it), or NULL. */
struct hs_linger *sg_hs_linger_find(struct sg_hs_engine *e, const struct sg_hs_peer *peer,
                                    uint32_t hash);

/*
 * A new entry for peer (the oldest is overwritten when the ring is full), or
 * NULL when the table has no entries. It shadows an older entry of the same
 * peer, which expires first anyway.
 */
struct hs_linger *sg_hs_linger_new(struct sg_hs_engine *e, const struct sg_hs_peer *peer,
                                   uint32_t hash, uint64_t expires);

/* Keep one more datagram of the flight; -ENOSPC (and the entry killed) when it does not fit. */
int sg_hs_linger_keep(struct hs_linger *l, const uint8_t *dgram, size_t len);

/*
 * Give entry l slot s's epoch-1 SA (its client Finished marked: only a fresh
 * Finished under that key earns the flight again; our Finished sealed: the
 * next LINGER_RESENDS write numbers are the entry's, and the session must
 * be installed past them), its epoch-0 record number and peer CID, and our
 * Finished message fin (LINGER_FIN_LEN bytes, one fragment) to seal anew.
 */
void sg_hs_linger_arm(struct hs_linger *l, const struct hs_slot *s, const uint8_t *fin);

/* An entry that will answer nothing more: its key is wiped now. */
void sg_hs_linger_kill(struct hs_linger *l);

/* Fetch the lines sg_hs_linger_new() will touch (the ring is cold under a storm). */
void sg_hs_linger_prefetch(const struct sg_hs_engine *e, uint32_t hash);

/*
 * A datagram (its n records framed in recs) from the peer of entry l:
 * resend the flight (in new records) if its first epoch-1 record is a
 * fresh Finished that opens under the client's key, at most once per
 * rto_initial_ms and LINGER_RESENDS times; otherwise record the drop in x.
 */
void sg_hs_linger_input(struct sg_hs_engine *e, struct hs_rx *x, struct hs_linger *l,
                        const uint8_t *dgram, const struct sg_rec_hdr *recs, unsigned n);

#endif /* STORMGATE_CONTROL_HS_LINGER_H */
