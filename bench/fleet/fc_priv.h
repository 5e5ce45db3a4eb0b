/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What the fleet client's files share, inside sg_fleet_client only (not for
 * callers: they use fleet_client.h). The files form a stack; each calls only
 * files below it:
 *
 *   fleet_client.c     the API: start, input, resend, wipe
 *   fc_reassembly.c    fragments and records in
 *   fc_msg_in.c        the server's messages
 *   fc_ticket.c        tickets and the abbreviated handshake
 *   fc_kx.c            the key exchange and our final flight
 *   fc_record_out.c    records out          fc_msg_out.c   our messages
 *
 * Every function runs on the device's owner thread and touches only the
 * device, the hs and the buffers it is given; int functions return 0 or -errno.
 */
#ifndef STORMGATE_FC_PRIV_H
#define STORMGATE_FC_PRIV_H

#include <stddef.h>
#include <stdint.h>

#include <stormgate/record.h>

#include "fleet_client.h"

/* ---- fc_msg_out.c ---- */

/* Whether suite id is one conf offers. */
int sg_fc_offered(const struct sg_fc_conf *c, uint16_t id);

/* Where the next message's body goes in hs->flight (after its 12-byte header). */
uint8_t *sg_fc_msg_body(struct sg_fc_hs *hs);

/* Close the message at sg_fc_msg_body(): its header, then into the transcript. */
int sg_fc_msg_end(struct sg_fc_hs *hs, uint8_t type, size_t body_len);

/* Our ClientHello (with hs->cookie) appended to hs->flight; sets hs->rx_msg_seq. */
int sg_fc_client_hello(struct sg_fc_hs *hs);

/* ---- fc_record_out.c ---- */

/* hs->flight as one datagram of fresh records into out[0..cap); *out_len its length. */
int sg_fc_emit_flight(struct sg_fc_dev *dev, struct sg_fc_hs *hs, uint8_t *out, size_t cap,
                      size_t *out_len);

/* ---- fc_kx.c ---- */

/* The key block from hs->master into dev->sa, with the CIDs dev negotiated. */
int sg_fc_install_keys(struct sg_fc_dev *dev, struct sg_fc_hs *hs);

/* verify_data (SG_TLS_VERIFY_DATA_LEN bytes) over hs->transcript with label into out. */
int sg_fc_finished_mac(struct sg_fc_hs *hs, const char *label, uint8_t *out);

/* After ServerHelloDone: keys into dev->sa and our final flight into out. */
int sg_fc_final_flight(struct sg_fc_dev *dev, struct sg_fc_hs *hs, uint8_t *out, size_t cap,
                       size_t *out_len);

/* ---- fc_ticket.c ---- */

/* NewSessionTicket body b[0..n): kept in hs until the server's Finished verifies. */
int sg_fc_new_session_ticket(struct sg_fc_hs *hs, const uint8_t *b, size_t n);

/* The ServerHello took our ticket: the session's checks, its master secret, the keys. */
int sg_fc_resume(struct sg_fc_dev *dev, struct sg_fc_hs *hs);

/* Abbreviated handshake, after the server's Finished: our CCS and Finished into out. */
int sg_fc_abbreviated_flight(struct sg_fc_dev *dev, struct sg_fc_hs *hs, uint8_t *out, size_t cap,
                             size_t *out_len);

/* Done: the server's new ticket into conf->ticket, or the slot emptied, or kept. */
void sg_fc_ticket_keep(struct sg_fc_hs *hs);

/* ---- fc_msg_in.c ---- */

/* The whole server message in hs->msg: checked, into the transcript, acted on. */
int sg_fc_on_message(struct sg_fc_dev *dev, struct sg_fc_hs *hs, uint8_t *out, size_t cap,
                     size_t *out_len);

/* ---- fc_reassembly.c ---- */

/* One parsed record r of datagram in; *resend set when the server repeated its flight. */
int sg_fc_on_record(struct sg_fc_dev *dev, struct sg_fc_hs *hs, const uint8_t *in,
                    const struct sg_rec_hdr *r, uint8_t *out, size_t cap, size_t *out_len,
                    int *resend);

#endif /* STORMGATE_FC_PRIV_H */
