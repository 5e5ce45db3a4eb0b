/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Our flights (internal to sg_handshake, RFC 6347 §4.2.4): flight 4 of a
 * full handshake, the abbreviated handshake's, the final flight, and their
 * retransmission. A flight is made again from the slot each time, byte for
 * byte the same, so none is stored.
 *
 * Above hs_keys (our Finished), hs_output (every record goes out there) and
 * hs_slots; below the steps that send a flight: hs_hello (the first one),
 * hs_finish (the final one) and hs_engine (retransmission on the timer)
 * (hs_priv.h lists the stack). The engine's thread only. These functions
 * read the slot (and add to its transcript on a first send), seal tickets
 * with the ticket keys and count the tickets issued.
 */
#ifndef STORMGATE_CONTROL_HS_FLIGHTS_H
#define STORMGATE_CONTROL_HS_FLIGHTS_H

#include <stdbool.h>
#include <stdint.h>

#include "hs_codec.h"
#include "hs_output.h"

struct sg_hs_engine;
struct hs_slot;

/* The ServerHello of slot s (resumed: an abbreviated handshake's). */
void sg_hs_server_hello_of(const struct hs_slot *s, bool resumed, struct sg_hs_server_hello *sh);

/*
 * Flight 4 of a full handshake: ServerHello, ServerKeyExchange (ECDHE-PSK,
 * or PSK with a configured hint, RFC 4279 §2), ServerHelloDone. The same
 * bytes each time; the transcript takes them on the first send only.
 */
int sg_hs_flight_full(struct sg_hs_engine *e, struct hs_slot *s, bool first);

/* Abbreviated handshake flight: ServerHello, ChangeCipherSpec, Finished (epoch 1). */
int sg_hs_flight_resumed(struct sg_hs_engine *e, struct hs_slot *s);

/*
 * Our last flight again (RFC 6347 §4.2.4). Returns true if any of it went
 * out (the amplification limit may hold it back), which uses the
 * retransmission period's one resend (SF_RESENT).
 */
bool sg_hs_retransmit(struct sg_hs_engine *e, struct hs_slot *s);

/*
 * Build the final flight of slot s (its client's Finished verified): into
 * nst the NewSessionTicket when one was promised, sealed under the ticket
 * key (empty when policy or sealing says no; nst stays empty when none was
 * promised), into fin our Finished (RFC 5246 §7.4.9); both go into the
 * transcript. nst holds MSG_MAX bytes. 0 or -errno.
 */
int sg_hs_final_build(struct sg_hs_engine *e, struct hs_slot *s, uint64_t now_unix,
                      struct sg_hs_wbuf *nst, struct sg_hs_wbuf *fin);

/* Put the final flight into t: [NewSessionTicket] ChangeCipherSpec Finished (epoch 1). */
void sg_hs_final_send(struct hs_tx *t, const struct sg_hs_wbuf *nst, const struct sg_hs_wbuf *fin);

#endif /* STORMGATE_CONTROL_HS_FLIGHTS_H */
