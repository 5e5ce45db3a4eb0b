/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Datagram output of the handshake engine (internal to sg_handshake): records
 * packed into datagrams of at most the MTU, handshake messages fragmented to
 * fit them and the client's limits (RFC 6347 §4.2.3), epoch-1 records sealed
 * with the slot's keys, the amplification limit, alerts and failure.
 *
 * Above hs_linger (a flight's datagrams are kept there as they go out) and
 * hs_slots (a failure frees the slot); every protocol step sends through it
 * (hs_priv.h lists the stack). The engine's thread only. These functions
 * touch the engine's datagram buffer (tx), scratch and record context, the
 * slot they send for (its byte counts), the linger entry a flight is kept
 * in, ops.send and the counters.
 */
#ifndef STORMGATE_CONTROL_HS_OUTPUT_H
#define STORMGATE_CONTROL_HS_OUTPUT_H

#include <stddef.h>
#include <stdint.h>

#include <stormgate/handshake.h>

struct sg_hs_engine;
struct hs_slot;
struct hs_linger;

/*
 * Until an address has proven it receives what we send it (a valid cookie,
 * or a record under the new keys, which only the holder of our flight can
 * make), we send it at most AMP_FACTOR times the bytes it sent us, so a
 * spoofed source cannot turn us into an amplifier (RFC 9147 §5.1; the factor
 * is QUIC's, RFC 9000 §8). Stateless replies obey it per datagram answered.
 */
#define AMP_FACTOR 3

/* A datagram being built for one peer. */
struct hs_tx {
	struct sg_hs_engine *e;
	const struct sg_hs_peer *peer;
	struct hs_slot *s;    /* NULL: a stateless reply */
	uint64_t *ep0_seq;    /* epoch-0 record sequence numbers */
	uint16_t version;     /* record version (0xfeff for HelloVerifyRequest) */
	size_t max_frag;      /* handshake fragment bytes per record */
	struct hs_linger *ln; /* also keep the datagrams here */
	size_t answers;       /* stateless reply: bytes of the datagram it answers */
	int err;
};

/* A fresh datagram for slot s (its peer, record sequence and fragment limit). */
struct hs_tx sg_hs_tx_for_slot(struct sg_hs_engine *e, struct hs_slot *s);

/*
 * Send a handshake message (msg: 12-byte header + body, as the writers make
 * it) in epoch 0 or sealed in epoch 1, in as many fragments as the MTU and
 * the client's limits require (RFC 6347 §4.2.3). A sealing failure is left
 * in t->err.
 */
void sg_hs_tx_handshake(struct hs_tx *t, const uint8_t *msg, size_t msg_len, int epoch);

/* A ChangeCipherSpec record (RFC 5246 §7.1). */
void sg_hs_tx_ccs(struct hs_tx *t);

/* Send the datagram built so far (held back by the amplification limit, counted). */
void sg_hs_tx_flush(struct hs_tx *t);

/*
 * Fatal alert to a peer we hold no state for, in the record sequence of its
 * hello; answers: the length of the datagram it answers (AMP_FACTOR).
 */
void sg_hs_alert_stateless(struct sg_hs_engine *e, const struct sg_hs_peer *peer, size_t answers,
                           uint64_t seq, uint16_t version, uint8_t desc);

/*
 * Fail a handshake: count why, send the fatal alert (in epoch 1 once we have
 * sent our ChangeCipherSpec, RFC 5246 §7.2), free the slot.
 */
void sg_hs_fail(struct sg_hs_engine *e, struct hs_slot *s, enum sg_hs_counter why, uint8_t desc);

#endif /* STORMGATE_CONTROL_HS_OUTPUT_H */
