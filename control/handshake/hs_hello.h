/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A ClientHello (internal to sg_handshake): version checks, the stateless
 * cookie exchange (RFC 6347 §4.2.1), storm admission, a repeated hello,
 * resumption from a session ticket (RFC 5077), the choice of suite and
 * group, and a new handshake with its first flight.
 *
 * Above hs_flights, hs_keys, hs_output and hs_slots; called by hs_engine
 * only (hs_priv.h lists the stack). The engine's thread only. Touches the
 * peer's slot (taken, replaced, set up), the cookie and ticket keys, and
 * calls ops.admit, ops.cid_alloc and ops.psk_lookup (a ticket's identity).
 */
#ifndef STORMGATE_CONTROL_HS_HELLO_H
#define STORMGATE_CONTROL_HS_HELLO_H

#include <stdint.h>

#include <stormgate/record.h>

#include "hs_codec.h"

struct sg_hs_engine;
struct hs_rx;

/*
 * A ClientHello (mh, body) in record rh: version checks, the cookie exchange
 * (stateless), a repeated hello (our flight again), or a new handshake.
 */
void sg_hs_on_client_hello(struct sg_hs_engine *e, struct hs_rx *x, const struct sg_rec_hdr *rh,
                           const struct sg_hs_msg_hdr *mh, const uint8_t *body);

#endif /* STORMGATE_CONTROL_HS_HELLO_H */
