/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The client's side of an ECDHE-ECDSA handshake (internal to sg_handshake;
 * RFC 5246 §7.4.6-7.4.8, RFC 8422 §5.6-5.8, RFC 7250; docs/certificates.md):
 * its Certificate (an X.509 chain verified with hs_cert_verify_x509, or a
 * raw public key parsed and found through ops.cert_lookup), its policy
 * (ops.cert_lookup), its ECDHE ClientKeyExchange (the key schedule), its
 * CertificateVerify (the signature over the transcript so far), then its
 * Finished is expected (hs_finish.h). Large messages (a chain) come
 * together in the engine's pool (hs_bigmsg.h), never in the slot. Also the
 * policy of a certificate session resumed from a ticket.
 *
 * Above hs_keys, hs_output, hs_linger, hs_slots and the leaves; called by
 * hs_hello (a ticket) and hs_engine (messages) (hs_priv.h lists the stack).
 * The engine's thread only. Touches the slot of the datagram's peer
 * (identity, credential fields, keys, state), the large-message pool, and
 * calls ops.cert_lookup.
 */
#ifndef STORMGATE_CONTROL_HS_CERTPEER_H
#define STORMGATE_CONTROL_HS_CERTPEER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hs_codec.h"
#include "hs_ticket.h"

struct sg_hs_engine;
struct hs_rx;
struct hs_slot;

/*
 * One whole message of the client's flight of certificate slot s (in
 * HS_WAIT_CKE, its message_seq the expected one): Certificate,
 * ClientKeyExchange or CertificateVerify, in that order as asked. A failure
 * sends its alert and frees the slot (docs/certificates.md, "Failures").
 */
void sg_hs_cert_on_message(struct sg_hs_engine *e, struct hs_rx *x, struct hs_slot *s,
                           const struct sg_hs_msg_hdr *mh, const uint8_t *body);

/*
 * A fragment of such a message, reassembled in the engine's pool (RFC 6347
 * §4.2.3); handled once whole. No buffer free: dropped (drop_pool_full),
 * the client retransmits. Returns false when the slot was freed.
 */
bool sg_hs_cert_on_fragment(struct sg_hs_engine *e, struct hs_rx *x, struct hs_slot *s,
                            const struct sg_hs_msg_hdr *mh, const uint8_t *frag);

/*
 * A ticket of a certificate session (st->auth not PSK) for slot s, whose
 * hello is ch: the policy looked up again as in a full handshake, by
 * identity (X.509) or by key (raw public key: st->identity becomes the
 * store's name for it now); an anonymous session resumes only while
 * client_auth is not require. Fills the slot's credential fields. 0, or -1
 * (a full handshake instead).
 */
int sg_hs_cert_resume_policy(struct sg_hs_engine *e, struct hs_slot *s,
                             const struct sg_hs_client_hello *ch, struct sg_hs_ticket_state *st);

#endif /* STORMGATE_CONTROL_HS_CERTPEER_H */
